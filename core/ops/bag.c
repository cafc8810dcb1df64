/*
 * bag.c — ops over bags of a variable number of items (the photos of a row):
 * a softmax within each bag, the weighted sum of each bag's items (the two
 * halves of attention pooling), and the plain mean and max over each bag.
 * Bag i owns items offsets[i] .. offsets[i+1]-1 (ops.h); offsets are checked
 * on every call (offsets[0] = 0, non-decreasing, offsets[nbags] = n items).
 * An empty bag gives the learned `empty` vector when one is given, zeros
 * otherwise; `empty`'s gradient is the sum of the empty bags' output grads.
 *
 * Kernels run over bags, OpenMP across bags when the bag tensors are large;
 * each has a plain double-precision *_ref twin. Bags own disjoint items, so
 * the parallel backward writes never collide; only `empty`'s gradient, shared
 * by all empty bags, is accumulated after the parallel loop.
 *
 * Not here: the gated attention scores s = w^T (tanh(V h) * sigmoid(U h)) are
 * built by the pooling module from linear, tanh, sigmoid and mul.
 */
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "../threads.h"
#include "check.h"

#define BAG_PAR 32768 /* floats touched: below this, one thread */

/* ---- offsets ---- */

/* True when offsets describe nbags bags over n items; else the failure (with
 * the bad index) is recorded in c. */
static bool offsets_ok(struct loom_ctx *c, const char *op, const int64_t *off, int64_t nbags,
                       int64_t n)
{
    if (nbags < 0) {
        loom_fail(c, LOOM_ERR_INVALID, "%s: %lld bags", op, (long long)nbags);
        return false;
    }
    if (!off) {
        loom_fail(c, LOOM_ERR_INVALID, "%s: no offsets", op);
        return false;
    }
    if (off[0] != 0) {
        loom_fail(c, LOOM_ERR_INVALID, "%s: offsets[0] = %lld, must be 0", op, (long long)off[0]);
        return false;
    }
    for (int64_t i = 1; i <= nbags; i++)
        if (off[i] < off[i - 1]) {
            loom_fail(c, LOOM_ERR_INVALID, "%s: offsets[%lld] = %lld is below offsets[%lld] = %lld",
                      op, (long long)i, (long long)off[i], (long long)(i - 1),
                      (long long)off[i - 1]);
            return false;
        }
    if (off[nbags] != n) {
        loom_fail(c, LOOM_ERR_INVALID, "%s: offsets[%lld] = %lld, but there are %lld items", op,
                  (long long)nbags, (long long)off[nbags], (long long)n);
        return false;
    }
    return true;
}

/* ---- softmax within each bag ----
 * a_k = exp(s_k - m) / sum_j exp(s_j - m), m the bag's max (no overflow).
 * Backward: ds_k += a_k (da_k - sum_j a_j da_j). */

/* s (n), off (nbags+1) -> a (n). */
static void softmax_fwd(float *a, const float *s, const int64_t *off, int64_t nbags)
{
    LOOM_OMP_FOR(loom_omp_fork(off[nbags], BAG_PAR), i, nbags, {
        int64_t k0 = off[i], k1 = off[i + 1];
        if (k0 == k1) continue;
        float m = s[k0], z = 0;
        for (int64_t k = k0 + 1; k < k1; k++) m = s[k] > m ? s[k] : m;
        for (int64_t k = k0; k < k1; k++) z += a[k] = expf(s[k] - m);
        float inv = 1.0f / z;
        for (int64_t k = k0; k < k1; k++) a[k] *= inv;
    });
}

static void softmax_fwd_ref(float *a, const float *s, const int64_t *off, int64_t nbags)
{
    for (int64_t i = 0; i < nbags; i++) {
        double m = -INFINITY, z = 0;
        for (int64_t k = off[i]; k < off[i + 1]; k++) m = fmax(m, s[k]);
        for (int64_t k = off[i]; k < off[i + 1]; k++) z += exp(s[k] - m);
        for (int64_t k = off[i]; k < off[i + 1]; k++) a[k] = (float)(exp(s[k] - m) / z);
    }
}

static void softmax_bwd(float *ds, const float *da, const float *a, const int64_t *off,
                        int64_t nbags)
{
    LOOM_OMP_FOR(loom_omp_fork(off[nbags], BAG_PAR), i, nbags, {
        float dot = 0;
        for (int64_t k = off[i]; k < off[i + 1]; k++) dot += a[k] * da[k];
        for (int64_t k = off[i]; k < off[i + 1]; k++) ds[k] += a[k] * (da[k] - dot);
    });
}

static void softmax_bwd_ref(float *ds, const float *da, const float *a, const int64_t *off,
                            int64_t nbags)
{
    for (int64_t i = 0; i < nbags; i++) {
        double dot = 0;
        for (int64_t k = off[i]; k < off[i + 1]; k++) dot += (double)a[k] * da[k];
        for (int64_t k = off[i]; k < off[i + 1]; k++) ds[k] += (float)(a[k] * (da[k] - dot));
    }
}

struct softmax_saved {
    struct loom_tensor *s, *a;
    const int64_t *off;
    int64_t nbags;
};

static void softmax_backward(struct loom_ctx *c, void *p)
{
    struct softmax_saved *sv = p;
    if (!sv->a->grad) return;
    float *ds = loom_grad(c, sv->s);
    if (!ds) return;
    softmax_bwd(ds, sv->a->grad, sv->a->data, sv->off, sv->nbags);
}

/* A (n) or (n,1) tensor: its n, or -1. */
static int64_t vec_len(const struct loom_tensor *t)
{
    if (t->ndim == 1 || (t->ndim == 2 && t->shape[1] == 1)) return t->shape[0];
    return -1;
}

struct loom_tensor *loom_bag_softmax(struct loom_ctx *c, struct loom_tensor *scores,
                                     const int64_t *offsets, int64_t nbags)
{
    if (!scores) return NULL;
    char b[64];
    int64_t n = vec_len(scores);
    if (n < 0)
        return loom_fail(c, LOOM_ERR_SHAPE, "bag_softmax: scores %s, expected (n) or (n,1)",
                         loom_shape_str(scores, b, sizeof b));
    if (!offsets_ok(c, "bag_softmax", offsets, nbags, n)) return NULL;
    struct loom_tensor *a = loom_tensor_new(c, LOOM_SHAPE(n));
    if (!a) return NULL;
    softmax_fwd(a->data, scores->data, offsets, nbags);
    if (loom_needs_grad(c, scores)) {
        struct softmax_saved *s = loom_tape_record(c, softmax_backward, sizeof *s, a);
        if (!s) return NULL;
        *s = (struct softmax_saved){scores, a, offsets, nbags};
    }
    return a;
}

/* ---- weighted sum: z_i = sum_{k in bag i} a_k h_k ----
 * Backward: dh_k += a_k dz_i; da_k += <h_k, dz_i>; dempty += dz_i for each
 * empty bag i. */

/* h (n,D), a (n), empty (D) or NULL -> z (nbags,D). */
static void wsum_fwd(float *z, const float *h, const float *a, const float *empty,
                     const int64_t *off, int64_t nbags, int64_t D)
{
    LOOM_OMP_FOR(loom_omp_fork(off[nbags] * D, BAG_PAR), i, nbags, {
        float *zi = z + i * D;
        if (off[i] == off[i + 1] && empty) {
            memcpy(zi, empty, (size_t)D * sizeof *zi);
            continue;
        }
        memset(zi, 0, (size_t)D * sizeof *zi);
        for (int64_t k = off[i]; k < off[i + 1]; k++) {
            const float *hk = h + k * D;
            float ak = a[k];
            for (int64_t d = 0; d < D; d++) zi[d] += ak * hk[d];
        }
    });
}

static void wsum_fwd_ref(float *z, const float *h, const float *a, const float *empty,
                         const int64_t *off, int64_t nbags, int64_t D)
{
    for (int64_t i = 0; i < nbags; i++)
        for (int64_t d = 0; d < D; d++) {
            double s = 0;
            for (int64_t k = off[i]; k < off[i + 1]; k++) s += (double)a[k] * h[k * D + d];
            z[i * D + d] = off[i] == off[i + 1] && empty ? empty[d] : (float)s;
        }
}

/* Accumulates into whichever of dh, da, dempty is not NULL. */
static void wsum_bwd(float *dh, float *da, float *dempty, const float *dz, const float *h,
                     const float *a, const int64_t *off, int64_t nbags, int64_t D)
{
    LOOM_OMP_FOR(loom_omp_fork(off[nbags] * D, BAG_PAR), i, nbags, {
        const float *dzi = dz + i * D;
        for (int64_t k = off[i]; k < off[i + 1]; k++) {
            const float *hk = h + k * D;
            if (dh) {
                float ak = a[k], *dhk = dh + k * D;
                for (int64_t d = 0; d < D; d++) dhk[d] += ak * dzi[d];
            }
            if (da) {
                float s = 0;
                for (int64_t d = 0; d < D; d++) s += hk[d] * dzi[d];
                da[k] += s;
            }
        }
    });
    if (dempty)
        for (int64_t i = 0; i < nbags; i++)
            if (off[i] == off[i + 1])
                for (int64_t d = 0; d < D; d++) dempty[d] += dz[i * D + d];
}

static void wsum_bwd_ref(float *dh, float *da, float *dempty, const float *dz, const float *h,
                         const float *a, const int64_t *off, int64_t nbags, int64_t D)
{
    for (int64_t i = 0; i < nbags; i++) {
        for (int64_t k = off[i]; k < off[i + 1]; k++) {
            double s = 0;
            for (int64_t d = 0; d < D; d++) {
                if (dh) dh[k * D + d] += (float)((double)a[k] * dz[i * D + d]);
                s += (double)h[k * D + d] * dz[i * D + d];
            }
            if (da) da[k] += (float)s;
        }
        for (int64_t d = 0; d < D && dempty && off[i] == off[i + 1]; d++)
            dempty[d] += dz[i * D + d];
    }
}

struct wsum_saved {
    struct loom_tensor *h, *a, *empty, *z;
    const int64_t *off;
    int64_t nbags, D;
};

static void wsum_backward(struct loom_ctx *c, void *p)
{
    struct wsum_saved *s = p;
    if (!s->z->grad) return;
    float *dh = loom_needs_grad(c, s->h) ? loom_grad(c, s->h) : NULL;
    float *da = loom_needs_grad(c, s->a) ? loom_grad(c, s->a) : NULL;
    float *de = loom_needs_grad(c, s->empty) ? loom_grad(c, s->empty) : NULL;
    if (c->status) return;
    wsum_bwd(dh, da, de, s->z->grad, s->h->data, s->a->data, s->off, s->nbags, s->D);
}

/* Shape checks shared by the pooling ops: h (n,D), empty (D) or NULL.
 * Returns D, or -1 after recording the failure. */
static int64_t pool_check(struct loom_ctx *c, const char *op, const struct loom_tensor *h,
                          const struct loom_tensor *empty, const int64_t *off, int64_t nbags)
{
    char b[64];
    if (h->ndim != 2) {
        loom_fail(c, LOOM_ERR_SHAPE, "%s: items %s, expected (n,D)", op,
                  loom_shape_str(h, b, sizeof b));
        return -1;
    }
    int64_t D = h->shape[1];
    if (empty && empty->size != D) {
        loom_fail(c, LOOM_ERR_SHAPE, "%s: empty-bag vector %s for items of width %lld", op,
                  loom_shape_str(empty, b, sizeof b), (long long)D);
        return -1;
    }
    return offsets_ok(c, op, off, nbags, h->shape[0]) ? D : -1;
}

struct loom_tensor *loom_bag_weighted_sum(struct loom_ctx *c, struct loom_tensor *h,
                                          struct loom_tensor *a, const int64_t *offsets,
                                          int64_t nbags, struct loom_tensor *empty)
{
    if (!h || !a) return NULL;
    int64_t D = pool_check(c, "bag_weighted_sum", h, empty, offsets, nbags);
    if (D < 0) return NULL;
    if (vec_len(a) != h->shape[0]) {
        char b1[64], b2[64];
        return loom_fail(c, LOOM_ERR_SHAPE, "bag_weighted_sum: weights %s for items %s",
                         loom_shape_str(a, b1, sizeof b1), loom_shape_str(h, b2, sizeof b2));
    }
    struct loom_tensor *z = loom_tensor_new(c, LOOM_SHAPE(nbags, D));
    if (!z) return NULL;
    wsum_fwd(z->data, h->data, a->data, empty ? empty->data : NULL, offsets, nbags, D);
    struct loom_tensor *in[3] = {h, a, empty};
    if (loom_needs_grad_any(c, 3, in)) {
        struct wsum_saved *s = loom_tape_record(c, wsum_backward, sizeof *s, z);
        if (!s) return NULL;
        *s = (struct wsum_saved){h, a, empty, z, offsets, nbags, D};
    }
    return z;
}

/* ---- mean: z_i = (1/|bag i|) sum h_k; backward dh_k += dz_i / |bag i| ---- */

static void mean_fwd(float *z, const float *h, const float *empty, const int64_t *off,
                     int64_t nbags, int64_t D)
{
    LOOM_OMP_FOR(loom_omp_fork(off[nbags] * D, BAG_PAR), i, nbags, {
        float *zi = z + i * D;
        int64_t len = off[i + 1] - off[i];
        if (len == 0 && empty) {
            memcpy(zi, empty, (size_t)D * sizeof *zi);
            continue;
        }
        memset(zi, 0, (size_t)D * sizeof *zi);
        for (int64_t k = off[i]; k < off[i + 1]; k++)
            for (int64_t d = 0; d < D; d++) zi[d] += h[k * D + d];
        float inv = len ? 1.0f / (float)len : 0.0f;
        for (int64_t d = 0; d < D; d++) zi[d] *= inv;
    });
}

static void mean_fwd_ref(float *z, const float *h, const float *empty, const int64_t *off,
                         int64_t nbags, int64_t D)
{
    for (int64_t i = 0; i < nbags; i++)
        for (int64_t d = 0; d < D; d++) {
            double s = 0;
            int64_t len = off[i + 1] - off[i];
            for (int64_t k = off[i]; k < off[i + 1]; k++) s += h[k * D + d];
            z[i * D + d] = len ? (float)(s / (double)len) : empty ? empty[d] : 0.0f;
        }
}

static void mean_bwd(float *dh, float *dempty, const float *dz, const int64_t *off, int64_t nbags,
                     int64_t D)
{
    if (dh) {
        LOOM_OMP_FOR(loom_omp_fork(off[nbags] * D, BAG_PAR), i, nbags, {
            int64_t len = off[i + 1] - off[i];
            float inv = len ? 1.0f / (float)len : 0.0f;
            const float *dzi = dz + i * D;
            for (int64_t k = off[i]; k < off[i + 1]; k++)
                for (int64_t d = 0; d < D; d++) dh[k * D + d] += inv * dzi[d];
        });
    }
    if (dempty)
        for (int64_t i = 0; i < nbags; i++)
            if (off[i] == off[i + 1])
                for (int64_t d = 0; d < D; d++) dempty[d] += dz[i * D + d];
}

static void mean_bwd_ref(float *dh, float *dempty, const float *dz, const int64_t *off,
                         int64_t nbags, int64_t D)
{
    for (int64_t i = 0; i < nbags; i++) {
        int64_t len = off[i + 1] - off[i];
        for (int64_t d = 0; d < D; d++) {
            for (int64_t k = off[i]; dh && k < off[i + 1]; k++)
                dh[k * D + d] += (float)(dz[i * D + d] / (double)len);
            if (dempty && len == 0) dempty[d] += dz[i * D + d];
        }
    }
}

/* ---- max: z_i[d] = max_k h_k[d]; arg[i,d] = the first k reaching it (so
 * on ties the first max gets the gradient), -1 for an empty bag.
 * Backward: dh[arg[i,d], d] += dz[i,d]. ---- */

static void max_fwd(float *z, int64_t *arg, const float *h, const float *empty, const int64_t *off,
                    int64_t nbags, int64_t D)
{
    LOOM_OMP_FOR(loom_omp_fork(off[nbags] * D, BAG_PAR), i, nbags, {
        float *zi = z + i * D;
        int64_t *ai = arg + i * D, k0 = off[i];
        if (k0 == off[i + 1]) {
            for (int64_t d = 0; d < D; d++) zi[d] = empty ? empty[d] : 0.0f, ai[d] = -1;
            continue;
        }
        for (int64_t d = 0; d < D; d++) zi[d] = h[k0 * D + d], ai[d] = k0;
        for (int64_t k = k0 + 1; k < off[i + 1]; k++) {
            const float *hk = h + k * D;
            for (int64_t d = 0; d < D; d++)
                if (hk[d] > zi[d]) zi[d] = hk[d], ai[d] = k;
        }
    });
}

static void max_fwd_ref(float *z, int64_t *arg, const float *h, const float *empty,
                        const int64_t *off, int64_t nbags, int64_t D)
{
    for (int64_t i = 0; i < nbags; i++)
        for (int64_t d = 0; d < D; d++) {
            int64_t best = -1;
            for (int64_t k = off[i]; k < off[i + 1]; k++)
                if (best < 0 || h[k * D + d] > h[best * D + d]) best = k;
            arg[i * D + d] = best;
            z[i * D + d] = best >= 0 ? h[best * D + d] : empty ? empty[d] : 0.0f;
        }
}

static void max_bwd(float *dh, float *dempty, const float *dz, const int64_t *arg,
                    const int64_t *off, int64_t nbags, int64_t D)
{
    if (dh) {
        LOOM_OMP_FOR(loom_omp_fork(nbags * D, BAG_PAR), i, nbags, {
            for (int64_t d = 0; d < D; d++) {
                int64_t k = arg[i * D + d];
                if (k >= 0) dh[k * D + d] += dz[i * D + d];
            }
        });
    }
    if (dempty)
        for (int64_t i = 0; i < nbags; i++)
            if (off[i] == off[i + 1])
                for (int64_t d = 0; d < D; d++) dempty[d] += dz[i * D + d];
}

/* Independent of the forward's arg: finds each first max again. */
static void max_bwd_ref(float *dh, float *dempty, const float *dz, const float *h,
                        const int64_t *off, int64_t nbags, int64_t D)
{
    for (int64_t i = 0; i < nbags; i++)
        for (int64_t d = 0; d < D; d++) {
            int64_t best = -1;
            for (int64_t k = off[i]; k < off[i + 1]; k++)
                if (best < 0 || h[k * D + d] > h[best * D + d]) best = k;
            if (best >= 0 && dh) dh[best * D + d] += dz[i * D + d];
            if (best < 0 && dempty) dempty[d] += dz[i * D + d];
        }
}

struct pool_saved {
    struct loom_tensor *h, *empty, *z;
    int64_t *arg; /* max only: (nbags,D) in the arena */
    const int64_t *off;
    int64_t nbags, D;
};

static void mean_backward(struct loom_ctx *c, void *p)
{
    struct pool_saved *s = p;
    if (!s->z->grad) return;
    float *dh = loom_needs_grad(c, s->h) ? loom_grad(c, s->h) : NULL;
    float *de = loom_needs_grad(c, s->empty) ? loom_grad(c, s->empty) : NULL;
    if (c->status) return;
    mean_bwd(dh, de, s->z->grad, s->off, s->nbags, s->D);
}

static void max_backward(struct loom_ctx *c, void *p)
{
    struct pool_saved *s = p;
    if (!s->z->grad) return;
    float *dh = loom_needs_grad(c, s->h) ? loom_grad(c, s->h) : NULL;
    float *de = loom_needs_grad(c, s->empty) ? loom_grad(c, s->empty) : NULL;
    if (c->status) return;
    max_bwd(dh, de, s->z->grad, s->arg, s->off, s->nbags, s->D);
}

/* Mean or max (is_max): checks, forward, tape. */
static struct loom_tensor *bag_pool(struct loom_ctx *c, const char *op, bool is_max,
                                    struct loom_tensor *h, const int64_t *offsets, int64_t nbags,
                                    struct loom_tensor *empty)
{
    if (!h) return NULL;
    int64_t D = pool_check(c, op, h, empty, offsets, nbags);
    if (D < 0) return NULL;
    struct loom_tensor *z = loom_tensor_new(c, LOOM_SHAPE(nbags, D));
    if (!z) return NULL;
    const float *e = empty ? empty->data : NULL;
    int64_t *arg = NULL;
    if (is_max) {
        /* nbags * D fits: z of that many floats was just allocated. */
        arg = loom_arena_alloc(&c->arena, (size_t)(nbags * D) * sizeof *arg);
        if (!arg) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory");
        max_fwd(z->data, arg, h->data, e, offsets, nbags, D);
    } else {
        mean_fwd(z->data, h->data, e, offsets, nbags, D);
    }
    struct loom_tensor *in[2] = {h, empty};
    if (loom_needs_grad_any(c, 2, in)) {
        struct pool_saved *s =
            loom_tape_record(c, is_max ? max_backward : mean_backward, sizeof *s, z);
        if (!s) return NULL;
        *s = (struct pool_saved){h, empty, z, arg, offsets, nbags, D};
    }
    return z;
}

struct loom_tensor *loom_bag_mean(struct loom_ctx *c, struct loom_tensor *h, const int64_t *offsets,
                                  int64_t nbags, struct loom_tensor *empty)
{
    return bag_pool(c, "bag_mean", false, h, offsets, nbags, empty);
}

struct loom_tensor *loom_bag_max(struct loom_ctx *c, struct loom_tensor *h, const int64_t *offsets,
                                 int64_t nbags, struct loom_tensor *empty)
{
    return bag_pool(c, "bag_max", true, h, offsets, nbags, empty);
}

/* ---- gradient-check cases ----
 * The same bag layouts for every op: an empty bag in the middle next to a
 * bag of one; one bag; every bag empty (no items at all); a layout without
 * the `empty` vector. */

struct layout {
    int64_t nbags, off[6];
};
static const struct layout layouts[] = {
    {4, {0, 3, 3, 4, 6}}, /* bags of 3, 0 (middle), 1, 2 */
    {1, {0, 4}},          /* nbags = 1 */
    {3, {0, 0, 0, 0}},    /* all empty: n = 0 */
    {3, {0, 1, 1, 3}},    /* bag of one first; no `empty` vector given */
};
enum { NLAYOUTS = (int)LOOM_ARRAY_LEN(layouts) };

static const int64_t *gc_offsets(struct loom_gc *gc, int k, int64_t *nbags, int64_t *n)
{
    const struct layout *l = &layouts[k % NLAYOUTS];
    *nbags = l->nbags;
    *n = l->off[l->nbags];
    return loom_gc_i64(gc, (size_t)l->nbags + 1, l->off);
}

static struct loom_tensor *gc_softmax(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    int64_t nbags, n;
    const int64_t *off = gc_offsets(gc, k, &nbags, &n);
    /* (n,1) scores in the layout without `empty`, (n) otherwise */
    struct loom_tensor *s = k == 3 ? loom_gc_input(gc, LOOM_SHAPE(n, 1), -2, 2)
                                   : loom_gc_input(gc, LOOM_SHAPE(n), -2, 2);
    return loom_bag_softmax(c, s, off, nbags);
}

/* Case 4 composes softmax and weighted sum (attention pooling without the
 * gated scores). */
static struct loom_tensor *gc_wsum(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    int64_t nbags, n, D = 3 + k % 3;
    const int64_t *off = gc_offsets(gc, k, &nbags, &n);
    struct loom_tensor *h = loom_gc_input(gc, LOOM_SHAPE(n, D), -1, 1);
    struct loom_tensor *a = k == 1 ? loom_gc_input(gc, LOOM_SHAPE(n, 1), -1, 1)
                                   : loom_gc_input(gc, LOOM_SHAPE(n), -1, 1);
    struct loom_tensor *e = k == 3 ? NULL : loom_gc_input(gc, LOOM_SHAPE(D), -1, 1);
    if (k == 4) a = loom_bag_softmax(c, a, off, nbags);
    return loom_bag_weighted_sum(c, h, a, off, nbags, e);
}

static struct loom_tensor *gc_mean(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    int64_t nbags, n, D = 2 + k % 3;
    const int64_t *off = gc_offsets(gc, k, &nbags, &n);
    struct loom_tensor *h = loom_gc_input(gc, LOOM_SHAPE(n, D), -1, 1);
    struct loom_tensor *e = k == 3 ? NULL : loom_gc_input(gc, LOOM_SHAPE(D), -1, 1);
    return loom_bag_mean(c, h, off, nbags, e);
}

/* Values spread over [-10,10]; the case refuses inputs where two items of a
 * bag come within 0.05 (5 steps) of each other in a column (a tie the finite
 * difference step would cross), so a changed random stream fails loudly. */
static struct loom_tensor *gc_max(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    int64_t nbags, n, D = 2 + k % 2;
    const int64_t *off = gc_offsets(gc, k, &nbags, &n);
    struct loom_tensor *h = loom_gc_input(gc, LOOM_SHAPE(n, D), -10, 10);
    struct loom_tensor *e = k == 3 ? NULL : loom_gc_input(gc, LOOM_SHAPE(D), -1, 1);
    if (!h) return NULL;
    for (int64_t i = 0; i < nbags; i++)
        for (int64_t p = off[i]; p < off[i + 1]; p++)
            for (int64_t q = p + 1; q < off[i + 1]; q++)
                for (int64_t d = 0; d < D; d++)
                    if (fabsf(h->data[p * D + d] - h->data[q * D + d]) < 0.05f)
                        return loom_fail(c, LOOM_ERR_INTERNAL,
                                         "bag_max case %d: items %lld and %lld nearly tie", k,
                                         (long long)p, (long long)q);
    return loom_bag_max(c, h, off, nbags, e);
}

/* ---- fast vs reference ---- */

enum which { SOFTMAX, WSUM, MEAN, MAX };

/* Random offsets over nbags bags of 0..maxlen items, about a quarter empty. */
static int64_t rand_offsets(struct loom_rng *r, int64_t *off, int64_t nbags, uint32_t maxlen)
{
    off[0] = 0;
    for (int64_t i = 0; i < nbags; i++)
        off[i + 1] = off[i] + (loom_rng_below(r, 4) == 0 ? 0 : 1 + loom_rng_below(r, maxlen));
    return off[nbags];
}

/* One random layout; the forward and backward of op `w`, fast vs ref. */
static enum loom_status check_one(enum which w, struct loom_rng *r, struct loom_error *err,
                                  int64_t nbags, uint32_t maxlen, int64_t D, bool with_empty)
{
    int64_t *off = malloc((size_t)(nbags + 1) * sizeof *off);
    int64_t *arg = malloc((size_t)(nbags * D + 1) * sizeof *arg);
    int64_t *arg0 = malloc((size_t)(nbags * D + 1) * sizeof *arg0);
    LOOM_ASSERT(off && arg && arg0);
    int64_t n = rand_offsets(r, off, nbags, maxlen);
    struct loom_check_buf h, e, a, dz, da, y, y0, dh, dh0, db, db0, de, de0;
    loom_check_rand(&h, r, n * D), loom_check_rand(&e, r, D), loom_check_rand(&a, r, n);
    loom_check_rand(&dz, r, nbags * D), loom_check_rand(&da, r, n);
    int64_t ny = w == SOFTMAX ? n : nbags * D;
    loom_check_zeros(&y, ny), loom_check_zeros(&y0, ny);
    loom_check_rand(&dh, r, n * D), loom_check_copy(&dh0, &dh);
    loom_check_rand(&db, r, n), loom_check_copy(&db0, &db);
    loom_check_rand(&de, r, D), loom_check_copy(&de0, &de);
    const float *ep = with_empty ? e.p : NULL;
    float *dep = with_empty ? de.p : NULL, *dep0 = with_empty ? de0.p : NULL;
    if (w == SOFTMAX) { /* real softmax weights as the saved output */
        softmax_fwd(y.p, a.p, off, nbags);
        softmax_fwd_ref(y0.p, a.p, off, nbags);
        softmax_bwd(db.p, da.p, y0.p, off, nbags);
        softmax_bwd_ref(db0.p, da.p, y0.p, off, nbags);
    } else if (w == WSUM) {
        wsum_fwd(y.p, h.p, a.p, ep, off, nbags, D);
        wsum_fwd_ref(y0.p, h.p, a.p, ep, off, nbags, D);
        wsum_bwd(dh.p, db.p, dep, dz.p, h.p, a.p, off, nbags, D);
        wsum_bwd_ref(dh0.p, db0.p, dep0, dz.p, h.p, a.p, off, nbags, D);
    } else if (w == MEAN) {
        mean_fwd(y.p, h.p, ep, off, nbags, D);
        mean_fwd_ref(y0.p, h.p, ep, off, nbags, D);
        mean_bwd(dh.p, dep, dz.p, off, nbags, D);
        mean_bwd_ref(dh0.p, dep0, dz.p, off, nbags, D);
    } else {
        if (n > 2) h.p[D] = h.p[0]; /* a tie: item 0 must win if 0 and 1 share a bag */
        max_fwd(y.p, arg, h.p, ep, off, nbags, D);
        max_fwd_ref(y0.p, arg0, h.p, ep, off, nbags, D);
        max_bwd(dh.p, dep, dz.p, arg, off, nbags, D);
        max_bwd_ref(dh0.p, dep0, dz.p, h.p, off, nbags, D);
    }
    static const char *names[] = {"bag_softmax", "bag_weighted_sum", "bag_mean", "bag_max"};
    char what[4][48];
    snprintf(what[0], sizeof what[0], "%s fwd", names[w]);
    snprintf(what[1], sizeof what[1], "%s d(items)", names[w]);
    snprintf(what[2], sizeof what[2], "%s d(scores or weights)", names[w]);
    snprintf(what[3], sizeof what[3], "%s d(empty)", names[w]);
    enum loom_status st = loom_check_close(err, what[0], &y, &y0, 1e-5);
    if (!st) st = loom_check_close(err, what[1], &dh, &dh0, 1e-5);
    if (!st) st = loom_check_close(err, what[2], &db, &db0, 1e-5);
    if (!st) st = loom_check_close(err, what[3], &de, &de0, 1e-5);
    for (int64_t i = 0; w == MAX && i < nbags * D && !st; i++)
        if (arg[i] != arg0[i])
            st = loom_error_set(err, LOOM_ERR_INTERNAL, "bag_max arg %lld: fast %lld, ref %lld",
                                (long long)i, (long long)arg[i], (long long)arg0[i]);
    loom_check_free(13, &h, &e, &a, &dz, &da, &y, &y0, &dh, &dh0, &db, &db0, &de, &de0);
    free(off), free(arg), free(arg0);
    return st;
}

/* Small odd layouts, then one large enough for the OpenMP paths. */
static enum loom_status check_op(enum which w, struct loom_rng *r, struct loom_error *err)
{
    enum loom_status st = LOOM_OK;
    for (int t = 0; t < 12 && !st; t++)
        st = check_one(w, r, err, 1 + loom_rng_below(r, 9), 1 + loom_rng_below(r, 7),
                       1 + loom_rng_below(r, 37), t % 3 != 0);
    if (!st) st = check_one(w, r, err, 700, 30, w == SOFTMAX ? 1 : 67, true);
    return st;
}

static enum loom_status check_softmax(struct loom_ctx *c, struct loom_rng *r,
                                      struct loom_error *err)
{
    (void)c;
    return check_op(SOFTMAX, r, err);
}

static enum loom_status check_wsum(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    (void)c;
    return check_op(WSUM, r, err);
}

static enum loom_status check_mean(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    (void)c;
    return check_op(MEAN, r, err);
}

static enum loom_status check_max(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    (void)c;
    return check_op(MAX, r, err);
}

const struct loom_op_info loom_op_bag_softmax = {
    .name = "bag_softmax", .ncases = NLAYOUTS, .gc_case = gc_softmax, .check_ref = check_softmax};
const struct loom_op_info loom_op_bag_weighted_sum = {.name = "bag_weighted_sum",
                                                      .ncases = NLAYOUTS + 1,
                                                      .gc_case = gc_wsum,
                                                      .check_ref = check_wsum};
const struct loom_op_info loom_op_bag_mean = {
    .name = "bag_mean", .ncases = NLAYOUTS, .gc_case = gc_mean, .check_ref = check_mean};
const struct loom_op_info loom_op_bag_max = {
    .name = "bag_max", .ncases = NLAYOUTS, .gc_case = gc_max, .check_ref = check_max};
