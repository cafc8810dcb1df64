/*
 * linear.c — y = x w^T + b through OpenBLAS sgemm, with its backward.
 * w is (nout,nin) as in PyTorch, so weights can be compared one to one.
 * Backward: dx += dy w; dw += dy^T x; db += sum over rows of dy.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "check.h"

/* x (R,nin), w (nout,nin), b (nout) or NULL -> y (R,nout). */
static void linear_fwd(float *y, const float *x, const float *w, const float *b, int64_t R,
                       int64_t nin, int64_t nout)
{
    if (R == 0 || nout == 0) return;
    if (b) {
        for (int64_t r = 0; r < R; r++) memcpy(y + r * nout, b, (size_t)nout * sizeof *y);
    }
    if (nin == 0) {
        if (!b) memset(y, 0, (size_t)(R * nout) * sizeof *y);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)nout, (int)nin, 1.0f, x,
                (int)nin, w, (int)nin, b ? 1.0f : 0.0f, y, (int)nout);
}

static void linear_fwd_ref(float *y, const float *x, const float *w, const float *b, int64_t R,
                           int64_t nin, int64_t nout)
{
    for (int64_t r = 0; r < R; r++)
        for (int64_t o = 0; o < nout; o++) {
            double s = b ? b[o] : 0.0;
            for (int64_t i = 0; i < nin; i++) s += (double)x[r * nin + i] * w[o * nin + i];
            y[r * nout + o] = (float)s;
        }
}

/* Accumulates into whichever of dx, dw, db is not NULL. */
static void linear_bwd(float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, int64_t R, int64_t nin, int64_t nout)
{
    if (R == 0 || nout == 0) return;
    if (dx && nin)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)nin, (int)nout, 1.0f,
                    dy, (int)nout, w, (int)nin, 1.0f, dx, (int)nin);
    if (dw && nin)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nout, (int)nin, (int)R, 1.0f, dy,
                    (int)nout, x, (int)nin, 1.0f, dw, (int)nin);
    if (db)
        for (int64_t r = 0; r < R; r++)
            for (int64_t o = 0; o < nout; o++) db[o] += dy[r * nout + o];
}

static void linear_bwd_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, int64_t R, int64_t nin, int64_t nout)
{
    for (int64_t r = 0; r < R; r++)
        for (int64_t o = 0; o < nout; o++) {
            float g = dy[r * nout + o];
            if (db) db[o] += g;
            for (int64_t i = 0; i < nin; i++) {
                if (dx) dx[r * nin + i] += g * w[o * nin + i];
                if (dw) dw[o * nin + i] += g * x[r * nin + i];
            }
        }
}

struct linear_saved {
    struct loom_tensor *x, *w, *b, *y;
    int64_t R, nin, nout;
};

static void linear_backward(struct loom_ctx *c, void *p)
{
    struct linear_saved *s = p;
    if (!s->y->grad) return;
    float *dx = loom_needs_grad(c, s->x) ? loom_grad(c, s->x) : NULL;
    float *dw = loom_needs_grad(c, s->w) ? loom_grad(c, s->w) : NULL;
    float *db = loom_needs_grad(c, s->b) ? loom_grad(c, s->b) : NULL;
    if (c->status) return;
    linear_bwd(dx, dw, db, s->y->grad, s->x->data, s->w->data, s->R, s->nin, s->nout);
}

struct loom_tensor *loom_linear(struct loom_ctx *c, struct loom_tensor *x, struct loom_tensor *w,
                                struct loom_tensor *b)
{
    if (!x || !w) return NULL;
    char a[64], bb[64];
    int64_t nin = x->shape[x->ndim - 1];
    if (w->ndim != 2 || w->shape[1] != nin || x->ndim < 1)
        return loom_fail(c, LOOM_ERR_SHAPE, "linear: input %s does not fit weight %s",
                         loom_shape_str(x, a, sizeof a), loom_shape_str(w, bb, sizeof bb));
    int64_t nout = w->shape[0], R = nin ? x->size / nin : 0;
    if (x->ndim == 1) R = 1;
    if (b && b->size != nout)
        return loom_fail(c, LOOM_ERR_SHAPE, "linear: bias %s for %lld outputs",
                         loom_shape_str(b, a, sizeof a), (long long)nout);
    int64_t shape[LOOM_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = nout;
    struct loom_tensor *y = loom_tensor_new(c, x->ndim, shape);
    if (!y) return NULL;
    linear_fwd(y->data, x->data, w->data, b ? b->data : NULL, R, nin, nout);
    struct loom_tensor *in[3] = {x, w, b};
    if (loom_needs_grad_any(c, 3, in)) {
        struct linear_saved *s = loom_tape_record(c, linear_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct linear_saved){x, w, b, y, R, nin, nout};
    }
    return y;
}

/* ---- checks ---- */

static struct loom_tensor *gc_case(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    static const int64_t dims[][3] = {{3, 5, 4}, {1, 3, 2}, {2, 1, 7}};
    if (k == 3) { /* 3-D input: rows are (N,T) */
        struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(2, 3, 4), -1, 1);
        struct loom_tensor *w = loom_gc_input(gc, LOOM_SHAPE(5, 4), -1, 1);
        return loom_linear(c, x, w, NULL);
    }
    const int64_t *d = dims[k];
    struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(d[0], d[1]), -1, 1);
    struct loom_tensor *w = loom_gc_input(gc, LOOM_SHAPE(d[2], d[1]), -1, 1);
    struct loom_tensor *b = loom_gc_input(gc, LOOM_SHAPE(d[2]), -1, 1);
    return loom_linear(c, x, w, b);
}

static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    (void)c;
    for (int t = 0; t < 12; t++) {
        int64_t R = 1 + loom_rng_below(r, 40), nin = 1 + loom_rng_below(r, 70),
                nout = 1 + loom_rng_below(r, 33);
        bool bias = t % 3 != 0;
        struct loom_check_buf x, w, b, y, y0, dy, dx, dw, db, dx0, dw0, db0;
        loom_check_rand(&x, r, R * nin), loom_check_rand(&w, r, nout * nin),
            loom_check_rand(&b, r, nout);
        loom_check_rand(&dy, r, R * nout);
        loom_check_zeros(&y, R * nout), loom_check_zeros(&y0, R * nout);
        loom_check_rand(&dx, r, R * nin), loom_check_rand(&dw, r, nout * nin),
            loom_check_rand(&db, r, nout);
        loom_check_copy(&dx0, &dx), loom_check_copy(&dw0, &dw), loom_check_copy(&db0, &db);
        linear_fwd(y.p, x.p, w.p, bias ? b.p : NULL, R, nin, nout);
        linear_fwd_ref(y0.p, x.p, w.p, bias ? b.p : NULL, R, nin, nout);
        linear_bwd(dx.p, dw.p, bias ? db.p : NULL, dy.p, x.p, w.p, R, nin, nout);
        linear_bwd_ref(dx0.p, dw0.p, bias ? db0.p : NULL, dy.p, x.p, w.p, R, nin, nout);
        enum loom_status st = LOOM_OK;
        if (!st) st = loom_check_close(err, "linear fwd", &y, &y0, 1e-4);
        if (!st) st = loom_check_close(err, "linear dx", &dx, &dx0, 1e-4);
        if (!st) st = loom_check_close(err, "linear dw", &dw, &dw0, 1e-4);
        if (!st) st = loom_check_close(err, "linear db", &db, &db0, 1e-4);
        loom_check_free(12, &x, &w, &b, &y, &y0, &dy, &dx, &dw, &db, &dx0, &dw0, &db0);
        if (st) return st;
    }
    return LOOM_OK;
}

const struct loom_op_info loom_op_linear = {
    .name = "linear", .ncases = 4, .gc_case = gc_case, .check_ref = check_ref};
