/* gradcheck.c — central-difference gradient checks of ops (gradcheck.h). */
#include <math.h>
#include <string.h>

#include "registry.h"

enum slot_kind { SLOT_INPUT, SLOT_CONST, SLOT_I32, SLOT_I64 };

struct gc_slot {
    enum slot_kind kind;
    int ndim;
    int64_t shape[LOOM_MAX_DIMS];
    size_t n;
    void *vals;            /* float, int32_t or int64_t [n] */
    struct loom_tensor *t; /* the tensor of the latest run (inputs) */
};

struct loom_gc {
    struct loom_ctx *c;
    struct gc_slot *slots;
    int n, cap, cursor;
    bool first_run;
    bool failed;
    struct loom_rng rng; /* values of new slots */
};

static struct gc_slot *slot(struct loom_gc *gc, enum slot_kind kind, size_t n, size_t elem)
{
    if (gc->failed) return NULL;
    if (!gc->first_run) {
        /* The case must ask for the same slots in the same order every run. */
        LOOM_ASSERT(gc->cursor < gc->n);
        struct gc_slot *s = &gc->slots[gc->cursor++];
        LOOM_ASSERT(s->kind == kind && s->n == n);
        return s;
    }
    if (gc->n == gc->cap) {
        int cap = gc->cap ? 2 * gc->cap : 16;
        struct gc_slot *ns = realloc(gc->slots, (size_t)cap * sizeof *ns);
        if (!ns) goto oom;
        gc->slots = ns;
        gc->cap = cap;
    }
    struct gc_slot *s = &gc->slots[gc->n];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->n = n;
    s->vals = calloc(n ? n : 1, elem);
    if (!s->vals) goto oom;
    gc->n++;
    gc->cursor++;
    return s;
oom:
    gc->failed = true;
    loom_fail(gc->c, LOOM_ERR_NOMEM, "gradcheck: out of memory");
    return NULL;
}

static struct loom_tensor *float_slot(struct loom_gc *gc, enum slot_kind kind, int ndim,
                                      const int64_t *shape, float lo, float hi, float away)
{
    struct loom_tensor tmp;
    if (!loom_tensor_set_shape(&tmp, ndim, shape)) {
        gc->failed = true;
        return loom_fail(gc->c, LOOM_ERR_SHAPE, "gradcheck: bad input shape");
    }
    bool fresh = gc->first_run;
    struct gc_slot *s = slot(gc, kind, (size_t)tmp.size, sizeof(float));
    if (!s) return NULL;
    float *v = s->vals;
    if (fresh) {
        s->ndim = ndim;
        memcpy(s->shape, tmp.shape, sizeof s->shape);
        for (size_t i = 0; i < s->n; i++) {
            float x;
            do x = lo + (hi - lo) * loom_rng_uniform(&gc->rng);
            while (away > 0 && fabsf(x) < away);
            v[i] = x;
        }
    }
    struct loom_tensor *t = loom_tensor_new(gc->c, s->ndim, s->shape);
    if (!t) return NULL;
    memcpy(t->data, v, s->n * sizeof(float));
    if (kind == SLOT_INPUT) t->flags |= LOOM_T_REQUIRES_GRAD;
    s->t = t;
    return t;
}

struct loom_tensor *loom_gc_input(struct loom_gc *gc, int ndim, const int64_t *shape, float lo,
                                  float hi)
{
    return float_slot(gc, SLOT_INPUT, ndim, shape, lo, hi, 0.0f);
}

struct loom_tensor *loom_gc_input_away(struct loom_gc *gc, int ndim, const int64_t *shape, float lo,
                                       float hi, float away)
{
    return float_slot(gc, SLOT_INPUT, ndim, shape, lo, hi, away);
}

struct loom_tensor *loom_gc_const(struct loom_gc *gc, int ndim, const int64_t *shape, float lo,
                                  float hi)
{
    return float_slot(gc, SLOT_CONST, ndim, shape, lo, hi, 0.0f);
}

int32_t *loom_gc_ints(struct loom_gc *gc, size_t n, int32_t lo, int32_t hi)
{
    bool fresh = gc->first_run;
    struct gc_slot *s = slot(gc, SLOT_I32, n, sizeof(int32_t));
    if (!s) return NULL;
    int32_t *v = s->vals;
    if (fresh)
        for (size_t i = 0; i < n; i++)
            v[i] = lo + (int32_t)loom_rng_below(&gc->rng, (uint32_t)(hi - lo + 1));
    return v;
}

const int32_t *loom_gc_i32(struct loom_gc *gc, size_t n, const int32_t *values)
{
    bool fresh = gc->first_run;
    struct gc_slot *s = slot(gc, SLOT_I32, n, sizeof(int32_t));
    if (!s) return NULL;
    if (fresh && n) memcpy(s->vals, values, n * sizeof(int32_t));
    return s->vals;
}

const int64_t *loom_gc_i64(struct loom_gc *gc, size_t n, const int64_t *values)
{
    bool fresh = gc->first_run;
    struct gc_slot *s = slot(gc, SLOT_I64, n, sizeof(int64_t));
    if (!s) return NULL;
    if (fresh && n) memcpy(s->vals, values, n * sizeof(int64_t));
    return s->vals;
}

/* One run of the case; returns its output or NULL. */
static struct loom_tensor *run(struct loom_gc *gc, const struct loom_op_info *op, int k,
                               uint64_t seed, bool record)
{
    struct loom_ctx *c = gc->c;
    loom_ctx_reset(c);
    c->grad_enabled = record;
    c->training = true;
    loom_rng_init(&c->rng, seed, 77);
    gc->cursor = 0;
    struct loom_tensor *y = op->gc_case(c, gc, k);
    gc->first_run = false;
    return gc->failed ? NULL : y;
}

static double dot(const struct loom_tensor *y, const float *r)
{
    double s = 0;
    for (int64_t i = 0; i < y->size; i++) s += (double)y->data[i] * r[i];
    return s;
}

bool loom_gradcheck(const struct loom_op_info *op, int k, uint64_t seed, struct loom_gc_result *res)
{
    memset(res, 0, sizeof *res);
    struct loom_ctx ctx;
    loom_ctx_init(&ctx, 0, seed);
    struct loom_gc gc = {.c = &ctx, .first_run = true};
    loom_rng_init(&gc.rng, seed, 1234 + (uint64_t)k);
    double rtol = op->rtol > 0 ? op->rtol : LOOM_GC_RTOL;
    double atol = op->atol > 0 ? op->atol : LOOM_GC_ATOL;
    float h = op->step > 0 ? op->step : LOOM_GC_STEP;
    float *r = NULL, **analytic = NULL;
    bool built = false;

    struct loom_tensor *y = run(&gc, op, k, seed, true);
    if (!y) goto done;
    r = malloc((size_t)(y->size ? y->size : 1) * sizeof *r);
    analytic = calloc((size_t)(gc.n ? gc.n : 1), sizeof *analytic);
    if (!r || !analytic) goto done;
    struct loom_rng rr;
    loom_rng_init(&rr, seed, 999);
    loom_rng_fill_uniform(&rr, r, (size_t)y->size, -1.0f, 1.0f);
    if (loom_backward(&ctx, y, r) != LOOM_OK) goto done;
    for (int i = 0; i < gc.n; i++) {
        struct gc_slot *s = &gc.slots[i];
        if (s->kind != SLOT_INPUT) continue;
        analytic[i] = calloc(s->n ? s->n : 1, sizeof(float));
        if (!analytic[i]) goto done;
        if (s->t->grad) memcpy(analytic[i], s->t->grad, s->n * sizeof(float));
    }
    built = true;
    res->ok = true;
    for (int i = 0; i < gc.n && built; i++) {
        struct gc_slot *s = &gc.slots[i];
        if (s->kind != SLOT_INPUT) continue;
        float *v = s->vals;
        for (size_t j = 0; j < s->n; j++) {
            float x0 = v[j];
            v[j] = x0 + h;
            float xp = v[j];
            struct loom_tensor *yp = run(&gc, op, k, seed, false);
            double lp = yp ? dot(yp, r) : NAN;
            v[j] = x0 - h;
            float xm = v[j];
            struct loom_tensor *ym = run(&gc, op, k, seed, false);
            double lm = ym ? dot(ym, r) : NAN;
            v[j] = x0;
            if (!yp || !ym) {
                built = false;
                break;
            }
            double num = (lp - lm) / ((double)xp - (double)xm);
            double an = analytic[i][j];
            double err = fabs(an - num);
            double mag = fmax(fabs(an), fabs(num));
            res->checked++;
            if (err > res->max_abs_err) res->max_abs_err = err;
            if (fabs(an + num) > atol && err / fabs(an + num) > res->max_asym)
                res->max_asym = err / fabs(an + num);
            if (!(err <= atol + rtol * mag) && res->ok) {
                res->ok = false;
                snprintf(res->detail, sizeof res->detail,
                         "case %d, input %d, element %zu: analytic %.6g, numeric %.6g", k, i, j, an,
                         num);
            }
        }
    }
done:
    if (!built) {
        res->ok = false;
        snprintf(res->detail, sizeof res->detail, "case %d could not run: %s", k,
                 ctx.status ? ctx.err.message : "out of memory");
    }
    if (analytic)
        for (int i = 0; i < gc.n; i++) free(analytic[i]);
    free(analytic);
    free(r);
    for (int i = 0; i < gc.n; i++) free(gc.slots[i].vals);
    free(gc.slots);
    loom_ctx_done(&ctx);
    return built;
}
