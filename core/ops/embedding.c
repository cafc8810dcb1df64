/*
 * embedding.c — a table lookup: w (V,E), ids[n] in [0,V) -> y (n,E), row i
 * of y a copy of row ids[i] of w. Backward scatter-adds: dw[ids[i]] += dy[i],
 * touching only the rows used (a repeated id sums its rows' gradients).
 *
 * The backward is parallel over columns, not rows: each thread owns a slice
 * of E for every id, so a repeated id never has two writers, and each
 * element's sum runs in id order whatever the thread count (deterministic).
 */
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "../threads.h"
#include "check.h"

#define PAR_MIN 32768 /* elements of y */
#define COL_BLK 16    /* columns per task in backward: one 64-byte line */

/* w (V,E), ids (n) checked in range -> y (n,E), rows [i0, i1) */
static void embedding_rows(float *restrict y, const float *restrict w, const int32_t *ids,
                           int64_t E, int64_t i0, int64_t i1)
{
    for (int64_t i = i0; i < i1; i++)
        memcpy(y + i * E, w + (int64_t)ids[i] * E, (size_t)E * sizeof *y);
}

static void embedding_fwd(float *restrict y, const float *restrict w, const int32_t *ids, int64_t n,
                          int64_t E)
{
    LOOM_OMP_SPLIT(loom_omp_fork(n * E, PAR_MIN) && n > 1, n, i0, i1,
                   embedding_rows(y, w, ids, E, i0, i1));
}

static void embedding_fwd_ref(float *y, const float *w, const int32_t *ids, int64_t n, int64_t E)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t e = 0; e < E; e++) y[i * E + e] = w[ids[i] * E + e];
}

/* dw (V,E) += scatter of dy (n,E) by ids */
static void embedding_bwd(float *restrict dw, const float *restrict dy, const int32_t *ids,
                          int64_t n, int64_t E)
{
    int64_t nblk = (E + COL_BLK - 1) / COL_BLK;
    if (!loom_omp_fork(n * E, PAR_MIN) || nblk < 2) { /* serial: rows in order */
        for (int64_t i = 0; i < n; i++) {
            float *restrict d = dw + (int64_t)ids[i] * E;
            const float *restrict g = dy + i * E;
            for (int64_t e = 0; e < E; e++) d[e] += g[e];
        }
        return;
    }
#pragma omp parallel for
    for (int64_t b = 0; b < nblk; b++) {
        int64_t e0 = b * COL_BLK, e1 = LOOM_MIN(E, e0 + COL_BLK);
        for (int64_t i = 0; i < n; i++) {
            float *restrict d = dw + (int64_t)ids[i] * E;
            const float *restrict g = dy + i * E;
            for (int64_t e = e0; e < e1; e++) d[e] += g[e];
        }
    }
}

static void embedding_bwd_ref(float *dw, const float *dy, const int32_t *ids, int64_t n, int64_t E)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t e = 0; e < E; e++) dw[ids[i] * E + e] += dy[i * E + e];
}

struct embedding_saved {
    struct loom_tensor *w, *y;
    const int32_t *ids; /* caller memory, alive until backward (ops.h) */
    int64_t n, E;
};

static void embedding_backward(struct loom_ctx *c, void *p)
{
    struct embedding_saved *s = p;
    if (!s->y->grad) return;
    float *dw = loom_grad(c, s->w);
    if (!dw) return;
    embedding_bwd(dw, s->y->grad, s->ids, s->n, s->E);
}

struct loom_tensor *loom_embedding(struct loom_ctx *c, struct loom_tensor *w, const int32_t *ids,
                                   int64_t n)
{
    if (!w) return NULL;
    char a[64];
    if (w->ndim != 2)
        return loom_fail(c, LOOM_ERR_SHAPE, "embedding: table %s is not (V,E)",
                         loom_shape_str(w, a, sizeof a));
    if (n < 0 || (n > 0 && !ids))
        return loom_fail(c, LOOM_ERR_INVALID, "embedding: %lld ids at %p", (long long)n,
                         (const void *)ids);
    int64_t V = w->shape[0], E = w->shape[1];
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return loom_fail(c, LOOM_ERR_INVALID,
                             "embedding%s%s: id %d at position %lld is outside [0, %lld)",
                             w->name ? " " : "", w->name ? w->name : "", (int)ids[i], (long long)i,
                             (long long)V);
    struct loom_tensor *y = loom_tensor_new(c, LOOM_SHAPE(n, E));
    if (!y) return NULL;
    embedding_fwd(y->data, w->data, ids, n, E);
    if (loom_needs_grad(c, w)) {
        struct embedding_saved *s = loom_tape_record(c, embedding_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct embedding_saved){w, y, ids, n, E};
    }
    return y;
}

/* ---- checks ---- */

static struct loom_tensor *gc_case(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    switch (k) {
    case 0: { /* repeated ids, an unused row */
        struct loom_tensor *w = loom_gc_input(gc, LOOM_SHAPE(5, 3), -1, 1);
        const int32_t *ids = loom_gc_i32(gc, 7, (const int32_t[]){2, 0, 2, 4, 2, 0, 3});
        return loom_embedding(c, w, ids, 7);
    }
    case 1: { /* one id */
        struct loom_tensor *w = loom_gc_input(gc, LOOM_SHAPE(4, 5), -1, 1);
        return loom_embedding(c, w, loom_gc_i32(gc, 1, (const int32_t[]){3}), 1);
    }
    case 2: { /* random ids over a wider table, one id repeated throughout */
        struct loom_tensor *w = loom_gc_input(gc, LOOM_SHAPE(6, 7), -1, 1);
        return loom_embedding(c, w, loom_gc_ints(gc, 9, 0, 5), 9);
    }
    default: { /* no ids: an empty (0,E) output; w's gradient stays zero */
        struct loom_tensor *w = loom_gc_input(gc, LOOM_SHAPE(3, 2), -1, 1);
        return loom_embedding(c, w, NULL, 0);
    }
    }
}

static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    (void)c;
    static const int64_t big[][3] = {{50, 3000, 37}, {7, 5000, 131}, {4000, 20000, 3}};
    for (int t = 0; t < 12 + (int)LOOM_ARRAY_LEN(big); t++) {
        int64_t V = 1 + loom_rng_below(r, 30), n = loom_rng_below(r, 60),
                E = 1 + loom_rng_below(r, 70);
        if (t >= 12) V = big[t - 12][0], n = big[t - 12][1], E = big[t - 12][2];
        int32_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
        LOOM_ASSERT(ids);
        /* Few distinct ids: many repeats, the case a racy scatter gets wrong. */
        for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)loom_rng_below(r, (uint32_t)V);
        struct loom_check_buf w, y, y0, dy, dw, dw0;
        loom_check_rand(&w, r, V * E), loom_check_rand(&dy, r, n * E);
        loom_check_zeros(&y, n * E), loom_check_zeros(&y0, n * E);
        loom_check_rand(&dw, r, V * E), loom_check_copy(&dw0, &dw);
        embedding_fwd(y.p, w.p, ids, n, E);
        embedding_fwd_ref(y0.p, w.p, ids, n, E);
        embedding_bwd(dw.p, dy.p, ids, n, E);
        embedding_bwd_ref(dw0.p, dy.p, ids, n, E);
        enum loom_status st = loom_check_close(err, "embedding fwd", &y, &y0, 0);
        /* Same order of additions per element: exact. */
        if (!st) st = loom_check_close(err, "embedding dw", &dw, &dw0, 0);
        loom_check_free(6, &w, &y, &y0, &dy, &dw, &dw0);
        free(ids);
        if (st) return st;
    }
    return LOOM_OK;
}

const struct loom_op_info loom_op_embedding = {
    .name = "embedding", .ncases = 4, .gc_case = gc_case, .check_ref = check_ref};
