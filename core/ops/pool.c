/*
 * pool.c — max pooling (window k, stride s, no padding) and global average
 * pooling over H and W, through oneDNN's pooling primitives, with their
 * backward. Max pooling keeps oneDNN's workspace (where each maximum was)
 * in the step arena for its backward: dx[argmax of window] += dy. Global
 * average: dx[n,c,h,w] += dy[n,c] / (H W). Its output (N,C) leaves the
 * CNN trunk, so it is always plain (LOOM_CNN_FLAT).
 * An empty batch (N = 0) gives an empty output without calling oneDNN.
 */
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "check.h"
#include "cnn.h"

/* (N,C,H,W) -> (N,C,Ho,Wo); global: k = H x W, so Ho = Wo = 1. */
struct pool_shape {
    int64_t N, C, H, W, kh, kw, s, Ho, Wo;
    bool global; /* average over all of H, W (else max) */
};

struct pool_prims {
    struct loom_cnn_prim fwd, bwd;
};

static void pool_prims_free(void *p)
{
    struct pool_prims *e = p;
    loom_cnn_prim_done(&e->fwd);
    loom_cnn_prim_done(&e->bwd);
    free(e);
}

static bool pool_mds(struct loom_ctx *c, const struct pool_shape *p, dnnl_memory_desc_t *x,
                     dnnl_memory_desc_t *y)
{
    return loom_cnn_md(c, x, LOOM_CNN_ACT, 4, (int64_t[]){p->N, p->C, p->H, p->W}) &&
           loom_cnn_md(c, y, p->global ? LOOM_CNN_FLAT : LOOM_CNN_ACT, 4,
                       (int64_t[]){p->N, p->C, p->Ho, p->Wo});
}

static dnnl_alg_kind_t pool_alg(const struct pool_shape *p)
{
    return p->global ? dnnl_pooling_avg_exclude_padding : dnnl_pooling_max;
}

/* fwd is forward_training (with a workspace for max) when a backward follows. */
static struct pool_prims *pool_get(struct loom_ctx *c, const struct pool_shape *p, bool training)
{
    struct loom_dnnl_key key = {
        {p->global ? LOOM_CNN_KIND('g', 'a', 'v', 'p') : LOOM_CNN_KIND('m', 'x', 'p', 'l'),
         training, p->N, p->C, p->H, p->W, p->kh, p->kw, p->s}};
    struct pool_prims *e = loom_dnnl_cache_get(c, &key);
    if (e) return e;
    dnnl_memory_desc_t x, y;
    dnnl_pooling_desc_t d;
    const dnnl_dims_t st = {p->s, p->s}, k = {p->kh, p->kw}, pad = {0, 0};
    if (!pool_mds(c, p, &x, &y) ||
        !loom_dnnl_ok(c,
                      dnnl_pooling_forward_desc_init(
                          &d, training ? dnnl_forward_training : dnnl_forward_inference,
                          pool_alg(p), &x, &y, st, k, pad, pad),
                      "pooling_forward_desc_init"))
        return NULL;
    e = calloc(1, sizeof *e);
    if (!e) return loom_fail(c, LOOM_ERR_NOMEM, "pool: out of memory");
    static const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE};
    if (!loom_cnn_prim_init(c, &e->fwd, &d, NULL, 3, ids, "pooling forward")) {
        pool_prims_free(e);
        return NULL;
    }
    return loom_dnnl_cache_put(c, &key, e, pool_prims_free) ? e : NULL;
}

/* y = pool(x). training: ready the backward and fill *ws with the workspace
 * it needs (arena; NULL when none). */
static bool pool_fwd(struct loom_ctx *c, float *y, void **ws, const float *x,
                     const struct pool_shape *p, bool training)
{
    *ws = NULL;
    if (p->N == 0) return true;
    struct pool_prims *e = pool_get(c, p, training);
    if (!e) return false;
    size_t wsb = loom_cnn_prim_arg_bytes(&e->fwd, DNNL_ARG_WORKSPACE);
    if (wsb && !(*ws = loom_arena_alloc(&c->arena, wsb)))
        return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory (pool workspace)");
    return loom_cnn_prim_run(c, &e->fwd, (void *[]){(void *)x, y, *ws}, "pooling forward");
}

/* dx += pool'(dy); dx_zero: dx holds zeros and may be overwritten. */
static bool pool_bwd(struct loom_ctx *c, float *dx, bool dx_zero, const float *dy, void *ws,
                     const struct pool_shape *p)
{
    if (p->N == 0 || !dx) return true;
    struct pool_prims *e = pool_get(c, p, true);
    if (!e) return false;
    if (!e->bwd.prim) {
        dnnl_memory_desc_t x, y;
        dnnl_pooling_desc_t d;
        const dnnl_dims_t st = {p->s, p->s}, k = {p->kh, p->kw}, pad = {0, 0};
        static const int ids[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WORKSPACE, DNNL_ARG_DIFF_SRC};
        if (!pool_mds(c, p, &x, &y) ||
            !loom_dnnl_ok(c,
                          dnnl_pooling_backward_desc_init(&d, pool_alg(p), &x, &y, st, k, pad, pad),
                          "pooling_backward_desc_init") ||
            !loom_cnn_prim_init(c, &e->bwd, &d, e->fwd.pd, 3, ids, "pooling backward"))
            return false;
    }
    int64_t n = p->N * p->C * p->H * p->W;
    float *o = loom_cnn_out(c, dx, dx_zero, n);
    if (!o || !loom_cnn_prim_run(c, &e->bwd, (void *[]){(void *)dy, ws, o}, "pooling backward"))
        return false;
    loom_cnn_acc(dx, o, n);
    return true;
}

/* ---- plain C reference ---- */

static void pool_fwd_ref(float *y, const float *x, const struct pool_shape *p)
{
    for (int64_t nc = 0; nc < p->N * p->C; nc++)
        for (int64_t i = 0; i < p->Ho; i++)
            for (int64_t j = 0; j < p->Wo; j++) {
                const float *w = x + (nc * p->H + i * p->s) * p->W + j * p->s;
                double acc = p->global ? 0.0 : w[0];
                for (int64_t a = 0; a < p->kh; a++)
                    for (int64_t b = 0; b < p->kw; b++) {
                        float v = w[a * p->W + b];
                        acc = p->global ? acc + v : (v > acc ? v : acc);
                    }
                y[(nc * p->Ho + i) * p->Wo + j] =
                    (float)(p->global ? acc / (double)(p->kh * p->kw) : acc);
            }
}

/* Max: the gradient goes to the first maximum of each window. */
static void pool_bwd_ref(float *dx, const float *dy, const float *x, const struct pool_shape *p)
{
    for (int64_t nc = 0; nc < p->N * p->C; nc++)
        for (int64_t i = 0; i < p->Ho; i++)
            for (int64_t j = 0; j < p->Wo; j++) {
                int64_t base = (nc * p->H + i * p->s) * p->W + j * p->s, best = base;
                float g = dy[(nc * p->Ho + i) * p->Wo + j];
                for (int64_t a = 0; a < p->kh; a++)
                    for (int64_t b = 0; b < p->kw; b++) {
                        int64_t at = base + a * p->W + b;
                        if (p->global)
                            dx[at] += (float)(g / (double)(p->kh * p->kw));
                        else if (x[at] > x[best])
                            best = at;
                    }
                if (!p->global) dx[best] += g;
            }
}

/* ---- the ops ---- */

struct pool_saved {
    struct loom_tensor *x, *y;
    void *ws;
    struct pool_shape p;
};

static void pool_backward(struct loom_ctx *c, void *saved)
{
    struct pool_saved *sv = saved;
    if (!sv->y->grad) return;
    bool zero;
    float *dx = loom_cnn_grad(c, sv->x, &zero);
    if (c->status) return;
    pool_bwd(c, dx, zero, sv->y->grad, sv->ws, &sv->p);
}

static struct loom_tensor *pool(struct loom_ctx *c, struct loom_tensor *x,
                                const struct pool_shape *p, int ndim, const int64_t *shape)
{
    struct loom_tensor *y = loom_tensor_new(c, ndim, shape);
    if (!y) return NULL;
    bool grad = loom_needs_grad(c, x);
    void *ws;
    if (!pool_fwd(c, y->data, &ws, x->data, p, grad)) return NULL;
    if (grad) {
        struct pool_saved *sv = loom_tape_record(c, pool_backward, sizeof *sv, y);
        if (!sv) return NULL;
        *sv = (struct pool_saved){x, y, ws, *p};
    }
    return y;
}

struct loom_tensor *loom_max_pool2d(struct loom_ctx *c, struct loom_tensor *x, int k, int s)
{
    if (!x) return NULL;
    char a[64];
    if (x->ndim != 4 || k < 1 || s < 1 || x->shape[2] < k || x->shape[3] < k || x->shape[1] < 1)
        return loom_fail(c, LOOM_ERR_SHAPE, "max_pool2d: input %s, window %d, stride %d",
                         loom_shape_str(x, a, sizeof a), k, s);
    struct pool_shape p = {.N = x->shape[0],
                           .C = x->shape[1],
                           .H = x->shape[2],
                           .W = x->shape[3],
                           .kh = k,
                           .kw = k,
                           .s = s};
    p.Ho = (p.H - k) / s + 1;
    p.Wo = (p.W - k) / s + 1;
    return pool(c, x, &p, LOOM_SHAPE(p.N, p.C, p.Ho, p.Wo));
}

struct loom_tensor *loom_global_avg_pool(struct loom_ctx *c, struct loom_tensor *x)
{
    if (!x) return NULL;
    char a[64];
    if (x->ndim != 4 || x->shape[1] < 1 || x->shape[2] < 1 || x->shape[3] < 1)
        return loom_fail(c, LOOM_ERR_SHAPE, "global_avg_pool: input %s is not (N,C,H,W)",
                         loom_shape_str(x, a, sizeof a));
    struct pool_shape p = {.N = x->shape[0],
                           .C = x->shape[1],
                           .H = x->shape[2],
                           .W = x->shape[3],
                           .kh = x->shape[2],
                           .kw = x->shape[3],
                           .s = 1,
                           .Ho = 1,
                           .Wo = 1,
                           .global = true};
    return pool(c, x, &p, LOOM_SHAPE(p.N, p.C));
}

/* ---- checks ---- */

static struct loom_tensor *gc_max(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    /* N, C, H, W, window, stride */
    static const int cases[][6] = {
        {2, 2, 5, 5, 2, 2}, /* odd size: the last row and column are dropped */
        {1, 3, 5, 4, 3, 1}, /* batch of 1, overlapping windows */
        {2, 1, 7, 6, 3, 2}, /* overlapping, stride 2 */
        {1, 2, 3, 3, 3, 3}, /* one window covers the input */
        {0, 2, 4, 4, 2, 2}, /* empty batch */
    };
    const int *d = cases[k];
    /* Distinct random values: no ties, so the maxima are well defined. */
    struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(d[0], d[1], d[2], d[3]), -1, 1);
    return loom_max_pool2d(c, x, d[4], d[5]);
}

static struct loom_tensor *gc_avg(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    static const int cases[][4] = {{2, 3, 3, 4}, {1, 2, 1, 1}, {1, 1, 5, 3}, {0, 2, 3, 3}};
    const int *d = cases[k];
    struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(d[0], d[1], d[2], d[3]), -1, 1);
    return loom_global_avg_pool(c, x);
}

static enum loom_status check_pool(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err,
                                   bool global)
{
    for (int t = 0; t < 16; t++) {
        struct pool_shape p = {.N = t == 0 ? 1 : 1 + loom_rng_below(r, 3),
                               .C = 1 + loom_rng_below(r, 19),
                               .H = 1 + loom_rng_below(r, 13),
                               .W = 1 + loom_rng_below(r, 13),
                               .global = global};
        if (global) {
            p.kh = p.H, p.kw = p.W, p.s = 1, p.Ho = p.Wo = 1;
        } else {
            p.kh = p.kw = 1 + loom_rng_below(r, 3);
            p.s = 1 + loom_rng_below(r, 3);
            p.H = LOOM_MAX(p.H, p.kh), p.W = LOOM_MAX(p.W, p.kw);
            p.Ho = (p.H - p.kh) / p.s + 1, p.Wo = (p.W - p.kw) / p.s + 1;
        }
        int64_t nx = p.N * p.C * p.H * p.W, ny = p.N * p.C * p.Ho * p.Wo;
        bool acc = t & 1;
        struct loom_check_buf x, y, y0, dy, dx, dx0;
        loom_check_rand(&x, r, nx), loom_check_rand(&dy, r, ny);
        loom_check_zeros(&y, ny), loom_check_zeros(&y0, ny);
        if (acc)
            loom_check_rand(&dx, r, nx);
        else
            loom_check_zeros(&dx, nx);
        loom_check_copy(&dx0, &dx);
        enum loom_status st = LOOM_OK;
        void *ws;
        if (!pool_fwd(c, y.p, &ws, x.p, &p, true) || !pool_bwd(c, dx.p, !acc, dy.p, ws, &p))
            st = loom_error_set(err, c->status, "pool: %s", c->err.message);
        pool_fwd_ref(y0.p, x.p, &p);
        pool_bwd_ref(dx0.p, dy.p, x.p, &p);
        if (!st)
            st = loom_check_close(err, global ? "global_avg_pool fwd" : "max_pool2d fwd", &y, &y0,
                                  1e-5);
        if (!st)
            st = loom_check_close(err, global ? "global_avg_pool dx" : "max_pool2d dx", &dx, &dx0,
                                  1e-5);
        loom_check_free(6, &x, &y, &y0, &dy, &dx, &dx0);
        loom_ctx_reset(c);
        if (st) return st;
    }
    return LOOM_OK;
}

static enum loom_status check_max(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    return check_pool(c, r, err, false);
}

static enum loom_status check_avg(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    return check_pool(c, r, err, true);
}

/* Max pooling is piecewise linear: a step smaller than the gaps between the
 * values of a window (random values in [-1,1], a few per window, can be
 * closer than the default 1e-2) keeps every maximum in place, and the
 * difference quotient is then exact. */
const struct loom_op_info loom_op_max_pool2d = {
    .name = "max_pool2d", .ncases = 5, .gc_case = gc_max, .check_ref = check_max, .step = 1e-3f};
const struct loom_op_info loom_op_global_avg_pool = {
    .name = "global_avg_pool", .ncases = 4, .gc_case = gc_avg, .check_ref = check_avg};
