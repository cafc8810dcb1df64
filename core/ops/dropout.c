/*
 * dropout.c — inverted dropout: in training, each element is kept with
 * probability 1 - p and scaled by 1 / (1 - p), so evaluation is the
 * identity. Backward: dx += dy * keep / (1 - p), with the forward's mask.
 *
 * The mask comes from the context's counter-based stream (rng.h): one draw
 * from c->rng per call gives a block counter base, then element i uses
 * output i % 4 of loom_philox(seed, stream, base + i / 4). Element i's bit is
 * a pure function of (seed, stream, base, i): the same whatever the number of
 * threads, and the same again when the stream is replayed (gradient checks,
 * a resumed run). Ranges of two calls overlap only if two random 64-bit
 * bases fall within a tensor's length of each other.
 * The mask is kept as bytes (1 = kept): a quarter of a float mask's traffic.
 * As in PyTorch, a dropped NaN or Inf gives NaN (x * 0), so divergence shows.
 * Cost: Philox dominates, about 4 ns per element on one core here.
 */
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "check.h"

#define PAR_BLOCKS 2048 /* 4-element blocks: Philox costs ~10 multiplies each */
#define PAR_MIN    32768

static inline uint8_t keep_bit(uint32_t u, float p)
{
    return loom_u32_to_unit(u) >= p; /* exact: 24 bits fit a float */
}

/* x (n) -> y (n), keep (n). */
static void dropout_fwd(float *restrict y, uint8_t *restrict keep, const float *restrict x,
                        int64_t n, float p, uint64_t seed, uint64_t stream, uint64_t base)
{
    const float scale = 1.0f / (1.0f - p);
    int64_t nblk = (n + 3) / 4;
#pragma omp parallel for if (nblk > PAR_BLOCKS)
    for (int64_t b = 0; b < nblk; b++) {
        uint32_t u[4];
        loom_philox(seed, stream, base + (uint64_t)b, u);
        int64_t i0 = 4 * b, m = LOOM_MIN(4, n - i0);
        for (int64_t j = 0; j < m; j++) {
            uint8_t k = keep_bit(u[j], p);
            keep[i0 + j] = k;
            /* No branch: a kept bit is a coin flip, a branch on it would
             * mispredict half the time (measured 2x slower). */
            y[i0 + j] = x[i0 + j] * (scale * (float)k);
        }
    }
}

static void dropout_fwd_ref(float *y, uint8_t *keep, const float *x, int64_t n, float p,
                            uint64_t seed, uint64_t stream, uint64_t base)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t u[4];
        loom_philox(seed, stream, base + (uint64_t)(i / 4), u);
        keep[i] = loom_u32_to_unit(u[i % 4]) >= p;
        y[i] = keep[i] ? x[i] * (1.0f / (1.0f - p)) : 0.0f;
    }
}

/* dx (n) += dy * keep * scale */
static void dropout_bwd(float *restrict dx, const float *restrict dy, const uint8_t *restrict keep,
                        int64_t n, float scale)
{
#pragma omp parallel for simd if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (scale * (float)keep[i]);
}

static void dropout_bwd_ref(float *dx, const float *dy, const uint8_t *keep, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        if (keep[i]) dx[i] += dy[i] * scale;
}

struct dropout_saved {
    struct loom_tensor *x, *y;
    const uint8_t *keep;
    float scale;
};

static void dropout_backward(struct loom_ctx *c, void *p)
{
    struct dropout_saved *s = p;
    if (!s->y->grad) return;
    float *dx = loom_grad(c, s->x);
    if (!dx) return;
    dropout_bwd(dx, s->y->grad, s->keep, s->x->size, s->scale);
}

struct loom_tensor *loom_dropout(struct loom_ctx *c, struct loom_tensor *x, float p)
{
    if (!x) return NULL;
    if (!(p >= 0.0f && p < 1.0f))
        return loom_fail(c, LOOM_ERR_INVALID, "dropout: p = %g, must be in [0, 1)", p);
    if (!c->training || p == 0.0f) return x;
    struct loom_tensor *y = loom_tensor_like(c, x);
    if (!y) return NULL;
    uint8_t *keep = loom_arena_alloc(&c->arena, (size_t)x->size);
    if (!keep) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory (dropout mask)");
    uint64_t base = loom_rng_u64(&c->rng);
    dropout_fwd(y->data, keep, x->data, x->size, p, c->rng.seed, c->rng.stream, base);
    if (loom_needs_grad(c, x)) {
        struct dropout_saved *s = loom_tape_record(c, dropout_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct dropout_saved){x, y, keep, 1.0f / (1.0f - p)};
    }
    return y;
}

/* ---- checks ---- */

static struct loom_tensor *gc_case(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    switch (k) {
    case 0:
        return loom_dropout(c, loom_gc_input(gc, LOOM_SHAPE(4, 7), -1, 1), 0.3f);
    case 1:
        return loom_dropout(c, loom_gc_input(gc, LOOM_SHAPE(1, 5), -1, 1), 0.6f);
    case 2: /* p = 0: the identity, x itself */
        return loom_dropout(c, loom_gc_input(gc, LOOM_SHAPE(3, 3), -1, 1), 0.0f);
    default: /* two masks in one graph, each replayed with its own base */
        return loom_dropout(c, loom_dropout(c, loom_gc_input(gc, LOOM_SHAPE(2, 3, 5), -1, 1), 0.2f),
                            0.5f);
    }
}

static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    enum { GUARD = 16 };
    (void)c;
    static const int64_t big[] = {40003, 4 * PAR_BLOCKS + 5};
    for (int t = 0; t < 12 + (int)LOOM_ARRAY_LEN(big); t++) {
        int64_t n = t < 12 ? 1 + loom_rng_below(r, 300) : big[t - 12];
        float p = 0.95f * loom_rng_uniform(r);
        uint64_t seed = loom_rng_u64(r), stream = loom_rng_u32(r), base = loom_rng_u64(r);
        struct loom_check_buf x, y, y0, dy, dx, dx0;
        loom_check_rand(&x, r, n), loom_check_rand(&dy, r, n);
        loom_check_zeros(&y, n), loom_check_zeros(&y0, n);
        loom_check_rand(&dx, r, n), loom_check_copy(&dx0, &dx);
        /* Byte masks with a guard of 0xa5 past the end. */
        uint8_t *k = malloc((size_t)n + GUARD), *k0 = malloc((size_t)n + GUARD);
        LOOM_ASSERT(k && k0);
        memset(k + n, 0xa5, GUARD), memset(k0 + n, 0xa5, GUARD);
        dropout_fwd(y.p, k, x.p, n, p, seed, stream, base);
        dropout_fwd_ref(y0.p, k0, x.p, n, p, seed, stream, base);
        dropout_bwd(dx.p, dy.p, k, n, 1.0f / (1.0f - p));
        dropout_bwd_ref(dx0.p, dy.p, k0, n, 1.0f / (1.0f - p));
        enum loom_status st = LOOM_OK;
        for (int64_t i = 0; i < n + GUARD && !st; i++)
            if (k[i] != k0[i] || (i >= n && k[i] != 0xa5))
                st = loom_error_set(err, LOOM_ERR_INTERNAL, "dropout mask: index %lld: %d, ref %d",
                                    (long long)i, k[i], k0[i]);
        if (!st) st = loom_check_close(err, "dropout fwd", &y, &y0, 1e-6);
        if (!st) st = loom_check_close(err, "dropout dx", &dx, &dx0, 1e-6);
        loom_check_free(6, &x, &y, &y0, &dy, &dx, &dx0);
        free(k), free(k0);
        if (st) return st;
    }
    return LOOM_OK;
}

const struct loom_op_info loom_op_dropout = {
    .name = "dropout", .ncases = 4, .gc_case = gc_case, .check_ref = check_ref};
