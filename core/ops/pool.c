/*
 * pool.c — max pooling (window k, stride s, no padding) and global average
 * pooling over H and W, with their backward, as plain loops over (H,W)
 * planes (OpenMP over planes): memory-bound passes where oneDNN on plain
 * layouts gains nothing and costs a primitive per shape. Max pooling keeps
 * no workspace: its backward finds each window's first maximum again in x,
 * dx[argmax of window] += dy. Global average: dx[n,c,h,w] += dy[n,c] / (H W).
 */
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "check.h"

/* (N,C,H,W) -> (N,C,Ho,Wo); global: k = H x W, so Ho = Wo = 1. */
struct pool_shape {
    int64_t N, C, H, W, kh, kw, s, Ho, Wo;
    bool global; /* average over all of H, W (else max) */
};

/* Max pooling of one (H,W) plane; windows inside it, no padding. */
static void max_plane(float *y, const float *x, const struct pool_shape *p)
{
    for (int64_t i = 0; i < p->Ho; i++)
        for (int64_t j = 0; j < p->Wo; j++) {
            const float *w = x + i * p->s * p->W + j * p->s;
            float m = w[0];
            for (int64_t a = 0; a < p->kh; a++)
                for (int64_t b = 0; b < p->kw; b++) m = w[a * p->W + b] > m ? w[a * p->W + b] : m;
            y[i * p->Wo + j] = m;
        }
}

/* 2x2 windows with stride 2: the CNN trunk's case. */
static void max_plane_2x2(float *y, const float *x, const struct pool_shape *p)
{
    for (int64_t i = 0; i < p->Ho; i++) {
        const float *r0 = x + 2 * i * p->W, *r1 = r0 + p->W;
        float *q = y + i * p->Wo;
        for (int64_t j = 0; j < p->Wo; j++) {
            float a = r0[2 * j] > r0[2 * j + 1] ? r0[2 * j] : r0[2 * j + 1];
            float b = r1[2 * j] > r1[2 * j + 1] ? r1[2 * j] : r1[2 * j + 1];
            q[j] = a > b ? a : b;
        }
    }
}

/* y = pool(x), one plane of (n,c) after the other, OpenMP over planes. */
static void pool_fwd(float *y, const float *x, const struct pool_shape *p)
{
    int64_t NC = p->N * p->C, HW = p->H * p->W, HWo = p->Ho * p->Wo;
    bool two = p->kh == 2 && p->kw == 2 && p->s == 2;
#pragma omp parallel for schedule(static) if (NC * HW > 32768)
    for (int64_t nc = 0; nc < NC; nc++) {
        const float *xp = x + nc * HW;
        if (p->global) {
            float acc = 0;
#pragma omp simd reduction(+ : acc)
            for (int64_t i = 0; i < HW; i++) acc += xp[i];
            y[nc] = acc / (float)HW;
        } else if (two) {
            max_plane_2x2(y + nc * HWo, xp, p);
        } else {
            max_plane(y + nc * HWo, xp, p);
        }
    }
}

/* dx += pool'(dy). Max: the gradient of a window goes to its first maximum,
 * found again in x (no workspace kept). */
static void pool_bwd(float *dx, const float *dy, const float *x, const struct pool_shape *p)
{
    int64_t NC = p->N * p->C, HW = p->H * p->W, HWo = p->Ho * p->Wo;
#pragma omp parallel for schedule(static) if (NC * HW > 32768)
    for (int64_t nc = 0; nc < NC; nc++) {
        float *d = dx + nc * HW;
        if (p->global) {
            float g = dy[nc] / (float)HW;
#pragma omp simd
            for (int64_t i = 0; i < HW; i++) d[i] += g;
            continue;
        }
        const float *xp = x + nc * HW, *g = dy + nc * HWo;
        for (int64_t i = 0; i < p->Ho; i++)
            for (int64_t j = 0; j < p->Wo; j++) {
                int64_t base = i * p->s * p->W + j * p->s, best = base;
                for (int64_t a = 0; a < p->kh; a++)
                    for (int64_t b = 0; b < p->kw; b++) {
                        int64_t at = base + a * p->W + b;
                        if (xp[at] > xp[best]) best = at;
                    }
                d[best] += g[i * p->Wo + j];
            }
    }
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
    struct pool_shape p;
};

static void pool_backward(struct loom_ctx *c, void *saved)
{
    struct pool_saved *sv = saved;
    if (!sv->y->grad) return;
    if (!loom_needs_grad(c, sv->x)) return;
    float *dx = loom_grad(c, sv->x);
    if (!dx) return;
    pool_bwd(dx, sv->y->grad, sv->x->data, &sv->p);
}

static struct loom_tensor *pool(struct loom_ctx *c, struct loom_tensor *x,
                                const struct pool_shape *p, int ndim, const int64_t *shape)
{
    struct loom_tensor *y = loom_tensor_new(c, ndim, shape);
    if (!y) return NULL;
    bool grad = loom_needs_grad(c, x);
    pool_fwd(y->data, x->data, p);
    if (grad) {
        struct pool_saved *sv = loom_tape_record(c, pool_backward, sizeof *sv, y);
        if (!sv) return NULL;
        *sv = (struct pool_saved){x, y, *p};
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
        if (t == 15) p.H = p.W = 40; /* large enough for OpenMP */
        if (global) {
            p.kh = p.H, p.kw = p.W, p.s = 1, p.Ho = p.Wo = 1;
        } else {
            p.kh = p.kw = t == 15 ? 2 : 1 + loom_rng_below(r, 3);
            p.s = t == 15 ? 2 : 1 + loom_rng_below(r, 3);
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
        pool_fwd(y.p, x.p, &p);
        pool_bwd(dx.p, dy.p, x.p, &p);
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
