/*
 * cnn_trunk_check.c — the checks of the CNN trunk (cnn_trunk.c,
 * cnn_trunk_eval.c): its gradient check cases and the comparison, value by
 * value, with the chain of separate ops in every mode, layout and
 * precision, and the op's registry entry.
 */
#include <math.h>
#include <string.h>

#include "../registry.h"
#include "../threads.h"
#include "check.h"
#include "cnn_trunk_impl.h"

/* Gradient checks. ReLU and max are piecewise linear, and a convolution's
 * weight moves every value of its channel, so that finite differences
 * across many windows would cross a kink: beta keeps most values of bn(z)
 * above ReLU's, the cases have few pool windows (chosen so that none
 * switches within the step), and the step is small (as max_pool2d's; atol
 * covers its float noise). With training, a last stage of 1x1 values would
 * make batch norm over N values too curved for the step: three stages are
 * checked in evaluation. Pools and ReLUs at work everywhere, odd sizes and
 * every mode are compared value by value with the chain of separate ops
 * (check_ref), each of which has its own gradient check. */
static struct loom_tensor *gc_case(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    /* N, C0, H, W, stages, their channels, training, x checked */
    static const int cases[][10] = {
        {2, 3, 5, 5, 1, 4, 0, 0, 1, 1},  /* one stage, odd size, gradient of x */
        {1, 3, 5, 4, 1, 3, 0, 0, 1, 1},  /* batch of 1 */
        {2, 2, 4, 4, 2, 3, 17, 0, 1, 0}, /* two stages (4x4, 2x2), 17 channels */
        {2, 3, 4, 4, 3, 2, 3, 4, 0, 1},  /* three stages (4x4, 2x2, 1x1), evaluation */
        {2, 1, 4, 4, 2, 16, 3, 0, 1, 1}, /* a block of 16 channels */
        {5, 2, 4, 4, 2, 3, 4, 0, 1, 0},  /* the first stage in chunks of 2, 2, 1 */
    };
    const int *d = cases[k];
    c->training = d[8];
    struct loom_tensor *x = d[9] ? loom_gc_input(gc, LOOM_SHAPE(d[0], d[1], d[2], d[3]), -1, 1)
                                 : loom_gc_const(gc, LOOM_SHAPE(d[0], d[1], d[2], d[3]), -1, 1);
    struct loom_cnn_stage st[3];
    int64_t in = d[1];
    for (int i = 0; i < d[4]; i++) {
        int64_t o = d[5 + i];
        st[i].w = loom_gc_input(gc, LOOM_SHAPE(o, in, 3, 3), -0.5f, 0.5f);
        st[i].gamma = loom_gc_input(gc, LOOM_SHAPE(o), 0.5f, 1.0f);
        st[i].beta = loom_gc_input(gc, LOOM_SHAPE(o), 2.0f, 3.0f);
        st[i].mean = loom_gc_const(gc, LOOM_SHAPE(o), -0.2f, 0.2f);
        st[i].var = loom_gc_const(gc, LOOM_SHAPE(o), 0.5f, 1.5f);
        in = o;
    }
    if (k == 5) return trunk_op(c, x, d[4], st, 0.1f, 1e-5f, false, false, false, 2, 0);
    return loom_cnn_trunk(c, x, d[4], st, 0.1f, 1e-5f);
}

/* The composition of the separate ops that loom_cnn_trunk replaces. */
static struct loom_tensor *trunk_chain(struct loom_ctx *c, struct loom_tensor *x, int n,
                                       const struct loom_cnn_stage *st, float momentum, float eps)
{
    for (int i = 0; i < n; i++) {
        x = loom_conv2d(c, x, st[i].w, NULL, 1, 1);
        x = loom_relu(c, loom_batch_norm(c, x, st[i].gamma, st[i].beta, st[i].mean, st[i].var,
                                         momentum, eps));
        if (i + 1 < n) x = loom_max_pool2d(c, x, 2, 2);
    }
    return loom_global_avg_pool(c, x);
}

struct ref_case {
    int64_t N, C[4], H, W;
    int n;
    enum trunk_mode mode;
    bool xgrad, bf16, nhwc;
    int64_t chunk, wsplit; /* trunk_shape's */
};

/* Everything one run produces, in one buffer: h, then per stage running
 * mean, running var, dw, dgamma, dbeta, then dx. */
struct ref_out {
    float *v;
    int64_t n, off[3 + 5 * MAXS];
};

static int64_t ref_layout(const struct ref_case *t, int64_t *off)
{
    int64_t at = 0, k = 0;
    off[k++] = at, at += t->N * t->C[t->n];
    for (int i = 0; i < t->n; i++) {
        int64_t O = t->C[i + 1];
        off[k++] = at, at += O;
        off[k++] = at, at += O;
        off[k++] = at, at += O * t->C[i] * 9;
        off[k++] = at, at += O;
        off[k++] = at, at += O;
    }
    off[k++] = at, at += t->N * t->C[0] * t->H * t->W;
    off[k] = at;
    return at;
}

enum ref_variant {
    REF_CHAIN, /* the separate ops */
    REF_FUSED, /* the op as the case says */
    REF_ROUND, /* bf16 cases: the f32 nhwc path rounded where bf16 rounds */
};

/* One run on the case's data (params in p: x, then per stage w, gamma, beta,
 * running mean, running var) into out. */
static bool ref_run(struct loom_ctx *c, const struct ref_case *t, float *const *p, const float *dh,
                    enum ref_variant v, struct ref_out *out)
{
    bool grad = t->mode != TRUNK_FOLD;
    c->training = t->mode == TRUNK_TRAIN;
    c->grad_enabled = grad;
    struct loom_tensor *x = loom_tensor_wrap(c, p[0], LOOM_SHAPE(t->N, t->C[0], t->H, t->W));
    struct loom_cnn_stage st[MAXS];
    struct loom_tensor *all[1 + 5 * MAXS] = {x};
    for (int i = 0; i < t->n; i++) {
        int64_t O = t->C[i + 1];
        const float *const *q = (const float *const *)p + 1 + 5 * i;
        st[i].w = loom_tensor_wrap(c, (float *)q[0], LOOM_SHAPE(O, t->C[i], 3, 3));
        st[i].gamma = loom_tensor_wrap(c, (float *)q[1], LOOM_SHAPE(O));
        st[i].beta = loom_tensor_wrap(c, (float *)q[2], LOOM_SHAPE(O));
        st[i].mean = loom_tensor_new(c, LOOM_SHAPE(O));
        st[i].var = loom_tensor_new(c, LOOM_SHAPE(O));
        if (!st[i].w || !st[i].gamma || !st[i].beta || !st[i].mean || !st[i].var) return false;
        memcpy(st[i].mean->data, q[3], (size_t)O * sizeof(float));
        memcpy(st[i].var->data, q[4], (size_t)O * sizeof(float));
        all[1 + 5 * i] = st[i].w, all[2 + 5 * i] = st[i].gamma, all[3 + 5 * i] = st[i].beta;
        all[4 + 5 * i] = st[i].mean, all[5 + 5 * i] = st[i].var;
        for (int j = 0; grad && j < 3; j++) all[1 + 5 * i + j]->flags |= LOOM_T_REQUIRES_GRAD;
    }
    if (x && grad && t->xgrad) x->flags |= LOOM_T_REQUIRES_GRAD;
    struct loom_tensor *h = v == REF_CHAIN
                                ? trunk_chain(c, x, t->n, st, 0.1f, 1e-5f)
                                : trunk_op(c, x, t->n, st, 0.1f, 1e-5f, v == REF_FUSED && t->bf16,
                                           t->nhwc, v == REF_ROUND, t->chunk, t->wsplit);
    if (!h || (grad && loom_backward(c, h, dh))) return false;
    memset(out->v, 0, (size_t)out->n * sizeof(float));
    memcpy(out->v, h->data, (size_t)h->size * sizeof(float));
    for (int i = 0; i < t->n; i++)
        for (int j = 0; j < 5; j++) {
            /* running mean, running var, w, gamma, beta: their data or grad */
            struct loom_tensor *tv = all[1 + 5 * i + (j + 3) % 5];
            const float *src = j < 2 ? tv->data : tv->grad;
            if (src)
                memcpy(out->v + out->off[1 + 5 * i + j], src, (size_t)tv->size * sizeof(float));
        }
    if (x->grad) memcpy(out->v + out->off[1 + 5 * t->n], x->grad, (size_t)x->size * sizeof(float));
    return true;
}

/* Each section of a against b: elementwise within tol (1 + |b|), or (norm)
 * ||a - b|| <= tol (||b|| + 1) for bf16 (a few pixels change sides of a
 * ReLU or of a max with bf16 inputs). */
static enum loom_status ref_compare(struct loom_error *err, const struct ref_case *t,
                                    const struct ref_out *a, const struct ref_out *b, double tol,
                                    bool norm)
{
    static const char *const names[] = {"running mean", "running var", "dw", "dgamma", "dbeta"};
    int nsec = 2 + 5 * t->n;
    for (int k = 0; k < nsec; k++) {
        int64_t lo = a->off[k], hi = a->off[k + 1];
        char what[64];
        if (k == 0)
            snprintf(what, sizeof what, "h");
        else if (k == nsec - 1)
            snprintf(what, sizeof what, "dx");
        else
            snprintf(what, sizeof what, "stage %d %s", (k - 1) / 5, names[(k - 1) % 5]);
        double d2 = 0, b2 = 0;
        for (int64_t i = lo; i < hi; i++) {
            double d = fabs((double)a->v[i] - b->v[i]);
            d2 += d * d, b2 += (double)b->v[i] * b->v[i];
            if (!norm && !(d <= tol * (1.0 + fabs((double)b->v[i]))))
                return loom_error_set(err, LOOM_ERR_INTERNAL,
                                      "cnn_trunk %s (N %lld, %dx%d, %d stages, mode %d): index "
                                      "%lld: fused %.7g, chain %.7g",
                                      what, (long long)t->N, (int)t->H, (int)t->W, t->n,
                                      (int)t->mode, (long long)(i - lo), a->v[i], b->v[i]);
        }
        if (norm && !(sqrt(d2) <= tol * (sqrt(b2) + 1.0)))
            return loom_error_set(err, LOOM_ERR_INTERNAL,
                                  "cnn_trunk bf16 %s: |fused - fp32 chain| %.4g, |chain| %.4g",
                                  what, sqrt(d2), sqrt(b2));
    }
    return LOOM_OK;
}

/* Evaluation in a frozen context (the folded weights made once, cached with
 * the primitives and keyed by the parameters' addresses) against the chain's
 * output b, twice: the second run reads the cache. A context of its own,
 * ended here, so that no later case reuses a cached address. */
static enum loom_status frozen_compare(const struct ref_case *t, float *const *p, const float *dh,
                                       struct ref_out *a, const struct ref_out *b,
                                       struct loom_error *err)
{
    struct loom_ctx fc;
    loom_ctx_init(&fc, 0, 1);
    fc.frozen = true;
    enum loom_status st = LOOM_OK;
    for (int k = 0; k < 2 && !st; k++) {
        if (!ref_run(&fc, t, p, dh, REF_FUSED, a))
            st = loom_error_set(err, fc.status, "cnn_trunk frozen: %s", fc.err.message);
        if (!st) st = ref_compare(err, t, a, b, 1e-4, false);
        loom_ctx_reset(&fc);
    }
    loom_ctx_done(&fc);
    return st;
}

static enum loom_status ref_case_run(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err,
                                     const struct ref_case *t)
{
    struct loom_check_buf buf[1 + 5 * MAXS], dh;
    float *p[1 + 5 * MAXS];
    int np = 1 + 5 * t->n;
    loom_check_rand(&buf[0], r, t->N * t->C[0] * t->H * t->W);
    for (int i = 0; i < t->n; i++) {
        int64_t O = t->C[i + 1];
        struct loom_check_buf *q = buf + 1 + 5 * i;
        loom_check_rand(&q[0], r, O * t->C[i] * 9);
        for (int j = 1; j < 5; j++) loom_check_rand(&q[j], r, O);
        for (int64_t o = 0; o < O; o++) {
            /* gamma around 1, around -1 (the pools pick each window's
             * minimum of z) or 0 (its first value) */
            float g = 1.0f + 0.5f * q[1].p[o];
            q[1].p[o] = o % 3 == 1 ? -g : o % 7 == 5 ? 0.0f : g;
            q[4].p[o] = 1.0f + 0.5f * q[4].p[o]; /* a variance */
        }
    }
    for (int j = 0; j < np; j++) p[j] = buf[j].p;
    loom_check_rand(&dh, r, t->N * t->C[t->n]);
    /* bf16: against the same roundings in f32 (what differs is only the
     * order of the sums), and the output against the fp32 chain */
    struct ref_out a = {0}, b = {0};
    a.n = b.n = ref_layout(t, a.off);
    memcpy(b.off, a.off, sizeof a.off);
    a.v = malloc((size_t)a.n * sizeof(float)), b.v = malloc((size_t)b.n * sizeof(float));
    LOOM_ASSERT(a.v && b.v);
    enum loom_status st = LOOM_OK;
    if (!ref_run(c, t, p, dh.p, REF_FUSED, &a) ||
        !ref_run(c, t, p, dh.p, t->bf16 ? REF_ROUND : REF_CHAIN, &b))
        st = loom_error_set(err, c->status, "cnn_trunk: %s", c->err.message);
    if (!st) st = ref_compare(err, t, &a, &b, t->bf16 ? 1e-3 : 1e-4, t->bf16);
    if (!st && t->mode == TRUNK_FOLD) st = frozen_compare(t, p, dh.p, &a, &b, err);
    if (!st && t->bf16) {
        if (!ref_run(c, t, p, dh.p, REF_CHAIN, &b))
            st = loom_error_set(err, c->status, "cnn_trunk: %s", c->err.message);
        double d2 = 0, b2 = 0;
        for (int64_t i = 0; i < a.off[1]; i++)
            d2 += (double)(a.v[i] - b.v[i]) * (a.v[i] - b.v[i]), b2 += (double)b.v[i] * b.v[i];
        if (!st && !(sqrt(d2) <= 1e-2 * sqrt(b2)))
            st = loom_error_set(err, LOOM_ERR_INTERNAL,
                                "cnn_trunk bf16 output: |bf16 - fp32| %.4g, |fp32| %.4g", sqrt(d2),
                                sqrt(b2));
    }
    /* the bf16 passes' AVX-512 kernels against the portable tiles (the
     * same arithmetic in the same order: the same bits) */
    if (!st && t->bf16) {
        trunk_bf16_off = true;
        bool ok = ref_run(c, t, p, dh.p, REF_FUSED, &b);
        trunk_bf16_off = false;
        if (!ok) st = loom_error_set(err, c->status, "cnn_trunk: %s", c->err.message);
        for (int64_t i = 0; !st && i < a.n; i++)
            if (memcmp(&a.v[i], &b.v[i], sizeof *a.v))
                st = loom_error_set(err, LOOM_ERR_INTERNAL,
                                    "cnn_trunk bf16: output/gradient value %lld: AVX-512 passes "
                                    "%.9g, portable %.9g",
                                    (long long)i, a.v[i], b.v[i]);
    }
    free(a.v), free(b.v);
    for (int j = 0; j < np; j++) free(buf[j].p);
    free(dh.p);
    loom_ctx_reset(c);
    return st;
}

/* The fused op against the chain of separate ops on random small shapes
 * (channels across a block of 16, odd sizes), in the three modes; then bf16
 * against the fp32 chain when the CPU has it. */
static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    int nbf = loom_dnnl_bf16() ? 4 : 0;
    for (int k = 0; k < 23 + nbf; k++) {
        /* nhwc in f32: the bf16 path's passes; 21, 22: Winograd stages */
        bool nhwc = k >= 15 && k != 21 && k != 22, bf = k >= 23;
        struct ref_case t = {.n = 1 + k % 3,
                             .mode = bf     ? TRUNK_TRAIN
                                     : nhwc ? (enum trunk_mode)(k / 2 % 3)
                                            : (enum trunk_mode)(k / 3 % 3),
                             .xgrad = k & 1,
                             .bf16 = bf,
                             .nhwc = nhwc};
        t.N = k == 0 ? 1 : 1 + loom_rng_below(r, 3);
        t.H = 5 + loom_rng_below(r, 5), t.W = 5 + loom_rng_below(r, 5);
        if (k == 14) t.N = 2, t.H = t.W = 24; /* OpenMP */
        if (t.bf16) t.N = 8, t.H = t.W = 16;  /* enough values for a relative error */
        t.C[0] = k % 4 == 3 ? 3 : 1 + loom_rng_below(r, 4);
        for (int i = 1; i <= t.n; i++)
            t.C[i] = k % 2 == 0 ? 16 * (1 + loom_rng_below(r, 2)) : 1 + loom_rng_below(r, 20);
        if (k == 21 || k == 22) { /* blocks of 16 at 8x8 and more: Winograd, with dx */
            t.mode = k == 21 ? TRUNK_TRAIN : TRUNK_AFFINE, t.xgrad = true, t.n = 2;
            t.N = 3, t.C[0] = 16, t.C[1] = 32, t.C[2] = 16;
            t.H = k == 21 ? 16 : 19, t.W = k == 21 ? 16 : 17;
        }
        /* Training: a last stage of 1x1 values over 2 photos is batch norm
         * over 2 values, whose output is +-1 whatever z: its true gradient is
         * 0 and the comparison would see rounding noise amplified by 1/std
         * (clang's build failed it once gamma could be negative): three
         * stages train from 8x8 up, a last stage of 2x2 or more. */
        if (t.mode == TRUNK_TRAIN && t.n == 3)
            t.H = t.H < 8 ? t.H + 4 : t.H, t.W = t.W < 8 ? t.W + 4 : t.W;
        if (t.mode == TRUNK_TRAIN && t.N < 2) t.N = 2; /* 1x1 last stage: M = N */
        enum loom_status st = ref_case_run(c, r, err, &t);
        if (st) return st;
    }
    /* evaluation where oneDNN takes Winograd (channels multiples of 16
     * after the first stage), and a batch of more than one chunk */
    struct ref_case t = {
        .n = 3, .N = 2, .C = {3, 16, 32, 16}, .H = 20, .W = 18, .mode = TRUNK_FOLD};
    enum loom_status st = ref_case_run(c, r, err, &t);
    /* the same split across two lanes (trunk_lanes) at two threads
     * (frozen_compare): 5 photos, 3 + 2 */
    int before = omp_get_max_threads();
    omp_set_num_threads(2);
    t.N = 5;
    st = st ? st : ref_case_run(c, r, err, &t);
    t.N = 11; /* 6 + 5: chunks of 4 + 2 and 4 + 1 */
    st = st ? st : ref_case_run(c, r, err, &t);
    /* the first stage's z above FIRST_BYTES a photo (32 x 63 x 61): it
     * runs photo by photo within the lanes' chunks (eval_first) */
    struct ref_case f = {.n = 2, .N = 11, .C = {3, 32, 16}, .H = 63, .W = 61, .mode = TRUNK_FOLD};
    st = st ? st : ref_case_run(c, r, err, &f);
    omp_set_num_threads(before);
    t.N = EVAL_CHUNK + 3, t.n = 2, t.H = t.W = 6;
    st = st ? st : ref_case_run(c, r, err, &t);
    /* the first stage in chunks (3, 3, 1 photos): nChw16c (Winograd after
     * the first stage), nhwc with odd sizes, running statistics; then bf16:
     * two stages, three (a pooled later stage, odd sizes), and with running
     * statistics and x's gradient (the first stage whole) */
    static const struct ref_case ch[] = {
        {7, {3, 16, 32}, 16, 16, 2, TRUNK_TRAIN, false, false, false, 3, 0},
        {7, {2, 5, 7, 3}, 9, 11, 3, TRUNK_TRAIN, false, false, true, 3, 0},
        {7, {3, 16, 16}, 8, 8, 2, TRUNK_AFFINE, false, false, false, 3, 0},
        {7, {3, 16, 32}, 16, 16, 2, TRUNK_TRAIN, false, true, true, 3, 0},
        {7, {3, 16, 32, 16}, 26, 22, 3, TRUNK_TRAIN, false, true, true, 3, 0},
        {7, {2, 16, 16, 32}, 13, 17, 3, TRUNK_AFFINE, true, true, true, 3, 0},
    };
    for (int k = 0; k < (nbf > 0 ? 6 : 3) && !st; k++) st = ref_case_run(c, r, err, &ch[k]);
    /* the backward weights in two parts (stage_weights), 3 + 2 photos:
     * Winograd stages with x's gradient, and nhwc with odd sizes */
    static const struct ref_case ws[] = {
        {5, {16, 32, 16}, 16, 16, 2, TRUNK_TRAIN, true, false, false, 0, 3},
        {5, {2, 5, 7}, 9, 11, 2, TRUNK_AFFINE, true, false, true, 0, 3},
    };
    for (int k = 0; k < 2 && !st; k++) st = ref_case_run(c, r, err, &ws[k]);
    return st;
}

const struct loom_op_info loom_op_cnn_trunk = {.name = "cnn_trunk",
                                               .ncases = 6,
                                               .gc_case = gc_case,
                                               .check_ref = check_ref,
                                               .step = 1e-3f,
                                               .atol = 1e-3};
