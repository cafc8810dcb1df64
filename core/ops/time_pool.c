/*
 * time_pool.c — pooling a padded sequence batch over time: x (N,T,D) with
 * lengths[N] -> (N,D), the mean or the max over each row's first len steps.
 * A row of length 0 gives zeros and passes no gradient back.
 * Backward: mean spreads dy/len over the valid steps; max sends dy to the
 * step that won (first one on ties), remembered in forward.
 *
 * No check_ref: each kernel is already the plain loop (one pass over x,
 * vectorised over D); there is no separate fast path to compare.
 */
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "../threads.h"

/* Rows run in parallel when a pass is this big (and only then is an
 * OpenMP region entered: threads.h). */
#define POOL_OMP_MIN       32768
#define POOL_FORK(N, T, D) loom_omp_fork((N) * (T) * (D), POOL_OMP_MIN)

static bool check_args(struct loom_ctx *c, const char *op, const struct loom_tensor *x,
                       const int32_t *lengths)
{
    char a[64];
    if (x->ndim != 3)
        return loom_fail(c, LOOM_ERR_SHAPE, "%s: input %s is not (N,T,D)", op,
                         loom_shape_str(x, a, sizeof a)),
               false;
    if (x->shape[0] && !lengths) return loom_fail(c, LOOM_ERR_INVALID, "%s: no lengths", op), false;
    for (int64_t n = 0; n < x->shape[0]; n++)
        if (lengths[n] < 0 || lengths[n] > x->shape[1])
            return loom_fail(c, LOOM_ERR_INVALID, "%s: lengths[%lld] = %d is outside [0, %lld]", op,
                             (long long)n, lengths[n], (long long)x->shape[1]),
                   false;
    return true;
}

struct pool_saved {
    struct loom_tensor *x, *y;
    const int32_t *len;
    int32_t *arg; /* (N,D) winning step (max only) */
};

/* ---- mean ---- */

/* x (N,T,D) -> y (N,D), rows [n0, n1) */
static void time_mean_rows(float *y, const float *x, const int32_t *len, int64_t T, int64_t D,
                           int64_t n0, int64_t n1)
{
    for (int64_t n = n0; n < n1; n++) {
        float *yn = y + n * D;
        memset(yn, 0, (size_t)D * sizeof *yn);
        for (int64_t t = 0; t < len[n]; t++)
            for (int64_t j = 0; j < D; j++) yn[j] += x[(n * T + t) * D + j];
        float inv = len[n] ? 1.0f / (float)len[n] : 0.0f;
        for (int64_t j = 0; j < D; j++) yn[j] *= inv;
    }
}

static void time_mean_fwd(float *y, const float *x, const int32_t *len, int64_t N, int64_t T,
                          int64_t D)
{
    LOOM_OMP_SPLIT(POOL_FORK(N, T, D), N, n0, n1, time_mean_rows(y, x, len, T, D, n0, n1));
}

/* dx (N,T,D) += dy (N,D) / len over the valid steps, rows [n0, n1) */
static void time_mean_bwd_rows(float *dx, const float *dy, const int32_t *len, int64_t T, int64_t D,
                               int64_t n0, int64_t n1)
{
    for (int64_t n = n0; n < n1; n++) {
        float inv = len[n] ? 1.0f / (float)len[n] : 0.0f;
        for (int64_t t = 0; t < len[n]; t++)
            for (int64_t j = 0; j < D; j++) dx[(n * T + t) * D + j] += dy[n * D + j] * inv;
    }
}

static void time_mean_backward(struct loom_ctx *c, void *p)
{
    struct pool_saved *s = p;
    if (!s->y->grad) return;
    float *dx = loom_grad(c, s->x);
    if (!dx) return;
    int64_t N = s->x->shape[0], T = s->x->shape[1], D = s->x->shape[2];
    const float *dy = s->y->grad;
    LOOM_OMP_SPLIT(POOL_FORK(N, T, D), N, n0, n1, time_mean_bwd_rows(dx, dy, s->len, T, D, n0, n1));
}

struct loom_tensor *loom_time_mean(struct loom_ctx *c, struct loom_tensor *x,
                                   const int32_t *lengths)
{
    if (!x) return NULL;
    if (!check_args(c, "time_mean", x, lengths)) return NULL;
    int64_t N = x->shape[0], T = x->shape[1], D = x->shape[2];
    struct loom_tensor *y = loom_tensor_new(c, LOOM_SHAPE(N, D));
    if (!y) return NULL;
    time_mean_fwd(y->data, x->data, lengths, N, T, D);
    if (loom_needs_grad(c, x)) {
        struct pool_saved *s = loom_tape_record(c, time_mean_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct pool_saved){x, y, lengths, NULL};
    }
    return y;
}

/* ---- max ---- */

/* x (N,T,D) -> y (N,D), arg (N,D), rows [n0, n1). Built per ISA: the
 * compare-and-select vectorises with AVX2/AVX-512 masks, not with SSE2. */
LOOM_TARGET_CLONES
static void time_max_rows(float *y, int32_t *arg, const float *x, const int32_t *len, int64_t T,
                          int64_t D, int64_t n0, int64_t n1)
{
    for (int64_t n = n0; n < n1; n++) {
        float *yn = y + n * D;
        int32_t *an = arg + n * D;
        if (len[n] == 0) {
            memset(yn, 0, (size_t)D * sizeof *yn);
            continue;
        }
        memcpy(yn, x + n * T * D, (size_t)D * sizeof *yn);
        memset(an, 0, (size_t)D * sizeof *an);
        for (int32_t t = 1; t < len[n]; t++) {
            const float *xt = x + (n * T + t) * D;
            for (int64_t j = 0; j < D; j++)
                if (xt[j] > yn[j]) yn[j] = xt[j], an[j] = t;
        }
    }
}

static void time_max_fwd(float *y, int32_t *arg, const float *x, const int32_t *len, int64_t N,
                         int64_t T, int64_t D)
{
    LOOM_OMP_SPLIT(POOL_FORK(N, T, D), N, n0, n1, time_max_rows(y, arg, x, len, T, D, n0, n1));
}

static void time_max_backward(struct loom_ctx *c, void *p)
{
    struct pool_saved *s = p;
    if (!s->y->grad) return;
    float *dx = loom_grad(c, s->x);
    if (!dx) return;
    int64_t N = s->x->shape[0], T = s->x->shape[1], D = s->x->shape[2];
    const float *dy = s->y->grad;
    for (int64_t n = 0; n < N; n++) {
        if (s->len[n] == 0) continue;
        for (int64_t j = 0; j < D; j++) dx[(n * T + s->arg[n * D + j]) * D + j] += dy[n * D + j];
    }
}

struct loom_tensor *loom_time_max(struct loom_ctx *c, struct loom_tensor *x, const int32_t *lengths)
{
    if (!x) return NULL;
    if (!check_args(c, "time_max", x, lengths)) return NULL;
    int64_t N = x->shape[0], T = x->shape[1], D = x->shape[2];
    struct loom_tensor *y = loom_tensor_new(c, LOOM_SHAPE(N, D));
    if (!y) return NULL;
    /* The winners are kept only for backward, but computing them costs
     * nothing extra, so one kernel serves both modes. */
    int32_t *arg = loom_arena_alloc(&c->arena, (size_t)(N * D) * sizeof *arg);
    if (!arg) return loom_fail(c, LOOM_ERR_NOMEM, "time_max: step arena out of memory");
    time_max_fwd(y->data, arg, x->data, lengths, N, T, D);
    if (loom_needs_grad(c, x)) {
        struct pool_saved *s = loom_tape_record(c, time_max_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct pool_saved){x, y, lengths, arg};
    }
    return y;
}

/* ---- checks ---- */

/* {N, T, D} and lengths: a row of length 0 (zeros, no gradient), rows of
 * length 1 and T, a batch of 1 with T = 1. */
static const struct {
    int64_t N, T, D;
    int32_t len[3];
} cases[] = {{3, 4, 3, {4, 0, 1}}, {1, 1, 2, {1}}, {2, 5, 1, {2, 5}}};

static struct loom_tensor *gc_case_pool(struct loom_ctx *c, struct loom_gc *gc, int k, bool max)
{
    const int32_t *len = loom_gc_i32(gc, (size_t)cases[k].N, cases[k].len);
    /* A wide range keeps the max's candidates far apart compared with the
     * finite-difference step, so no perturbation changes the winner. */
    struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(cases[k].N, cases[k].T, cases[k].D),
                                          max ? -4.0f : -1.0f, max ? 4.0f : 1.0f);
    return max ? loom_time_max(c, x, len) : loom_time_mean(c, x, len);
}

static struct loom_tensor *gc_case_mean(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    return gc_case_pool(c, gc, k, false);
}

static struct loom_tensor *gc_case_max(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    return gc_case_pool(c, gc, k, true);
}

const struct loom_op_info loom_op_time_mean = {
    .name = "time_mean", .ncases = (int)LOOM_ARRAY_LEN(cases), .gc_case = gc_case_mean};
/* max is piecewise linear: a smaller step has no truncation error and keeps
 * each perturbation on the same side of every tie. */
const struct loom_op_info loom_op_time_max = {.name = "time_max",
                                              .ncases = (int)LOOM_ARRAY_LEN(cases),
                                              .gc_case = gc_case_max,
                                              .step = 1e-3f};
