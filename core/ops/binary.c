/*
 * binary.c — elementwise a + b (same shape, or b a row broadcast over a's
 * rows), a * b and s * x, with their backward. Plain loops the compiler
 * vectorises, split over threads past PAR_MIN elements; each kernel keeps a
 * plain *_ref twin that check_ref compares it with.
 * Not here: general broadcasting (only the row case that biases need).
 *
 * Backward (dy the output's gradient):
 *   add:  da += dy;  db += dy, or db[j] += sum over rows of dy[:, j] (row case)
 *   mul:  da += dy * b;  db += dy * a
 *   scale: dx += s * dy
 * The two gradients of add/mul are accumulated in separate passes so that
 * add(x, x) and mul(x, x) (da and db the same buffer) stay correct.
 */
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "../threads.h"
#include "check.h"

#define PAR_MIN 32768 /* elements: below this, threads cost more than they gain */

/* ---- kernels: y (n) or (R,C), every buffer distinct unless said ----
 * Each is a plain loop over a range [i0, i1), run on the threads past
 * PAR_MIN elements (threads.h: below it no OpenMP region is entered). */

#define ELEM_FORK(n) loom_omp_fork((n), PAR_MIN)

static void add_range(float *restrict y, const float *restrict a, const float *restrict b,
                      int64_t i0, int64_t i1)
{
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) y[i] = a[i] + b[i];
}

static void add_fwd(float *restrict y, const float *restrict a, const float *restrict b, int64_t n)
{
    LOOM_OMP_SPLIT(ELEM_FORK(n), n, i0, i1, add_range(y, a, b, i0, i1));
}

/* a (R,C), b (C) -> y (R,C), rows [r0, r1) */
static void add_row_range(float *restrict y, const float *restrict a, const float *restrict b,
                          int64_t C, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        float *restrict yr = y + r * C;
        const float *restrict ar = a + r * C;
        for (int64_t j = 0; j < C; j++) yr[j] = ar[j] + b[j];
    }
}

static void add_row_fwd(float *restrict y, const float *restrict a, const float *restrict b,
                        int64_t R, int64_t C)
{
    LOOM_OMP_SPLIT(ELEM_FORK(R * C), R, r0, r1, add_row_range(y, a, b, C, r0, r1));
}

static void mul_range(float *restrict y, const float *restrict a, const float *restrict b,
                      int64_t i0, int64_t i1)
{
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) y[i] = a[i] * b[i];
}

static void mul_fwd(float *restrict y, const float *restrict a, const float *restrict b, int64_t n)
{
    LOOM_OMP_SPLIT(ELEM_FORK(n), n, i0, i1, mul_range(y, a, b, i0, i1));
}

static void scale_range(float *restrict y, const float *restrict x, float s, int64_t i0, int64_t i1)
{
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) y[i] = s * x[i];
}

static void scale_fwd(float *restrict y, const float *restrict x, float s, int64_t n)
{
    LOOM_OMP_SPLIT(ELEM_FORK(n), n, i0, i1, scale_range(y, x, s, i0, i1));
}

/* d += s * g */
static void axpy_range(float *restrict d, const float *restrict g, float s, int64_t i0, int64_t i1)
{
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) d[i] += s * g[i];
}

static void axpy_bwd(float *restrict d, const float *restrict g, float s, int64_t n)
{
    LOOM_OMP_SPLIT(ELEM_FORK(n), n, i0, i1, axpy_range(d, g, s, i0, i1));
}

/* d += g * o */
static void mul_bwd_range(float *restrict d, const float *restrict g, const float *restrict o,
                          int64_t i0, int64_t i1)
{
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) d[i] += g[i] * o[i];
}

static void mul_bwd(float *restrict d, const float *restrict g, const float *restrict o, int64_t n)
{
    LOOM_OMP_SPLIT(ELEM_FORK(n), n, i0, i1, mul_bwd_range(d, g, o, i0, i1));
}

/* db (C) += column sums of g (R,C), column blocks [k0, k1) of 64. Threads
 * split the columns, so each db[j] has one writer and the sum order does
 * not depend on the thread count. */
static void rowsum_range(float *restrict db, const float *restrict g, int64_t R, int64_t C,
                         int64_t k0, int64_t k1)
{
    for (int64_t k = k0; k < k1; k++) {
        int64_t j0 = k * 64, j1 = LOOM_MIN(C, j0 + 64);
        for (int64_t r = 0; r < R; r++) {
            const float *restrict gr = g + r * C;
            for (int64_t j = j0; j < j1; j++) db[j] += gr[j];
        }
    }
}

static void rowsum_bwd(float *restrict db, const float *restrict g, int64_t R, int64_t C)
{
    int64_t nblk = (C + 63) / 64;
    LOOM_OMP_SPLIT(ELEM_FORK(R * C) && nblk > 1, nblk, k0, k1, rowsum_range(db, g, R, C, k0, k1));
}

/* ---- reference twins ---- */

static void add_fwd_ref(float *y, const float *a, const float *b, int64_t R, int64_t C, bool row)
{
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < C; j++) y[r * C + j] = a[r * C + j] + b[row ? j : r * C + j];
}

static void add_bwd_ref(float *da, float *db, const float *g, int64_t R, int64_t C, bool row)
{
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < C; j++) {
            da[r * C + j] += g[r * C + j];
            db[row ? j : r * C + j] += g[r * C + j];
        }
}

static void mul_fwd_ref(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

static void mul_bwd_ref(float *da, float *db, const float *g, const float *a, const float *b,
                        int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        da[i] += g[i] * b[i];
        db[i] += g[i] * a[i];
    }
}

/* y = s x and dx += s g together. */
static void scale_ref(float *y, float *dx, const float *x, const float *g, float s, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        y[i] = s * x[i];
        dx[i] += s * g[i];
    }
}

/* ---- ops ---- */

struct binary_saved {
    struct loom_tensor *a, *b, *y;
    float s;      /* scale */
    int64_t R, C; /* add: rows and width; row = b broadcast over rows */
    bool row;
};

static void add_backward(struct loom_ctx *c, void *p)
{
    struct binary_saved *s = p;
    if (!s->y->grad) return;
    const float *g = s->y->grad;
    if (loom_needs_grad(c, s->a)) {
        float *da = loom_grad(c, s->a);
        if (!da) return;
        axpy_bwd(da, g, 1.0f, s->y->size);
    }
    if (loom_needs_grad(c, s->b)) {
        float *db = loom_grad(c, s->b);
        if (!db) return;
        if (s->row)
            rowsum_bwd(db, g, s->R, s->C);
        else
            axpy_bwd(db, g, 1.0f, s->y->size);
    }
}

struct loom_tensor *loom_add(struct loom_ctx *c, struct loom_tensor *a, struct loom_tensor *b)
{
    if (!a || !b) return NULL;
    int64_t C = a->shape[a->ndim - 1], R = C ? a->size / C : 0;
    bool row = !loom_tensor_same_shape(a, b);
    if (row && (b->size != C || b->shape[b->ndim - 1] != C)) {
        char sa[64], sb[64];
        return loom_fail(
            c, LOOM_ERR_SHAPE, "add: %s and %s: b must have a's shape or be a row of width %lld",
            loom_shape_str(a, sa, sizeof sa), loom_shape_str(b, sb, sizeof sb), (long long)C);
    }
    struct loom_tensor *y = loom_tensor_like(c, a);
    if (!y) return NULL;
    if (row)
        add_row_fwd(y->data, a->data, b->data, R, C);
    else
        add_fwd(y->data, a->data, b->data, a->size);
    struct loom_tensor *in[2] = {a, b};
    if (loom_needs_grad_any(c, 2, in)) {
        struct binary_saved *s = loom_tape_record(c, add_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct binary_saved){.a = a, .b = b, .y = y, .R = R, .C = C, .row = row};
    }
    return y;
}

static void mul_backward(struct loom_ctx *c, void *p)
{
    struct binary_saved *s = p;
    if (!s->y->grad) return;
    if (loom_needs_grad(c, s->a)) {
        float *da = loom_grad(c, s->a);
        if (!da) return;
        mul_bwd(da, s->y->grad, s->b->data, s->y->size);
    }
    if (loom_needs_grad(c, s->b)) {
        float *db = loom_grad(c, s->b);
        if (!db) return;
        mul_bwd(db, s->y->grad, s->a->data, s->y->size);
    }
}

struct loom_tensor *loom_mul(struct loom_ctx *c, struct loom_tensor *a, struct loom_tensor *b)
{
    if (!a || !b) return NULL;
    if (!loom_tensor_same_shape(a, b)) {
        char sa[64], sb[64];
        return loom_fail(c, LOOM_ERR_SHAPE, "mul: shapes %s and %s differ",
                         loom_shape_str(a, sa, sizeof sa), loom_shape_str(b, sb, sizeof sb));
    }
    struct loom_tensor *y = loom_tensor_like(c, a);
    if (!y) return NULL;
    mul_fwd(y->data, a->data, b->data, a->size);
    struct loom_tensor *in[2] = {a, b};
    if (loom_needs_grad_any(c, 2, in)) {
        struct binary_saved *s = loom_tape_record(c, mul_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct binary_saved){.a = a, .b = b, .y = y};
    }
    return y;
}

static void scale_backward(struct loom_ctx *c, void *p)
{
    struct binary_saved *s = p;
    if (!s->y->grad) return;
    float *dx = loom_grad(c, s->a);
    if (!dx) return;
    axpy_bwd(dx, s->y->grad, s->s, s->y->size);
}

struct loom_tensor *loom_scale(struct loom_ctx *c, struct loom_tensor *x, float s)
{
    if (!x) return NULL;
    struct loom_tensor *y = loom_tensor_like(c, x);
    if (!y) return NULL;
    scale_fwd(y->data, x->data, s, x->size);
    if (loom_needs_grad(c, x)) {
        struct binary_saved *sv = loom_tape_record(c, scale_backward, sizeof *sv, y);
        if (!sv) return NULL;
        *sv = (struct binary_saved){.a = x, .y = y, .s = s};
    }
    return y;
}

/* ---- checks ---- */

static struct loom_tensor *gc_add(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    switch (k) {
    case 0: /* same shape */
        return loom_add(c, loom_gc_input(gc, LOOM_SHAPE(3, 5), -1, 1),
                        loom_gc_input(gc, LOOM_SHAPE(3, 5), -1, 1));
    case 1: /* row broadcast over 3-D rows */
        return loom_add(c, loom_gc_input(gc, LOOM_SHAPE(2, 3, 4), -1, 1),
                        loom_gc_input(gc, LOOM_SHAPE(4), -1, 1));
    case 2: /* a batch of one, b a row */
        return loom_add(c, loom_gc_input(gc, LOOM_SHAPE(1, 7), -1, 1),
                        loom_gc_input(gc, LOOM_SHAPE(7), -1, 1));
    case 3: /* b (1,C) broadcast */
        return loom_add(c, loom_gc_input(gc, LOOM_SHAPE(5, 3), -1, 1),
                        loom_gc_input(gc, LOOM_SHAPE(1, 3), -1, 1));
    default: { /* the same tensor twice: both gradients into one buffer */
        struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(3, 2), -1, 1);
        return loom_add(c, x, x);
    }
    }
}

static struct loom_tensor *gc_mul(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    if (k == 2) { /* x * x */
        struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(3, 5), -1, 1);
        return loom_mul(c, x, x);
    }
    if (k == 1) /* only one side checked: b is a constant */
        return loom_mul(c, loom_gc_input(gc, LOOM_SHAPE(1, 7), -2, 2),
                        loom_gc_const(gc, LOOM_SHAPE(1, 7), -2, 2));
    return loom_mul(c, loom_gc_input(gc, LOOM_SHAPE(2, 3, 5), -2, 2),
                    loom_gc_input(gc, LOOM_SHAPE(2, 3, 5), -2, 2));
}

static struct loom_tensor *gc_scale(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    static const float s[] = {-1.7f, 0.0f, 3.0f};
    return loom_scale(c, loom_gc_input(gc, LOOM_SHAPE(k == 2 ? 1 : 3, 5), -1, 1), s[k]);
}

/* Each kernel against its twin on one random case. */
static enum loom_status check_add(struct loom_rng *r, struct loom_error *err, int64_t R, int64_t C,
                                  bool row)
{
    int64_t n = R * C, nb = row ? C : n;
    struct loom_check_buf a, b, g, y, y0, da, db, da0, db0;
    loom_check_rand(&a, r, n), loom_check_rand(&b, r, nb), loom_check_rand(&g, r, n);
    loom_check_zeros(&y, n), loom_check_zeros(&y0, n);
    loom_check_rand(&da, r, n), loom_check_rand(&db, r, nb);
    loom_check_copy(&da0, &da), loom_check_copy(&db0, &db);
    if (row) {
        add_row_fwd(y.p, a.p, b.p, R, C);
        rowsum_bwd(db.p, g.p, R, C);
    } else {
        add_fwd(y.p, a.p, b.p, n);
        axpy_bwd(db.p, g.p, 1.0f, n);
    }
    axpy_bwd(da.p, g.p, 1.0f, n);
    add_fwd_ref(y0.p, a.p, b.p, R, C, row);
    add_bwd_ref(da0.p, db0.p, g.p, R, C, row);
    enum loom_status st = loom_check_close(err, "add fwd", &y, &y0, 1e-6);
    if (!st) st = loom_check_close(err, "add da", &da, &da0, 1e-6);
    if (!st) st = loom_check_close(err, row ? "add db (row)" : "add db", &db, &db0, 1e-4);
    loom_check_free(9, &a, &b, &g, &y, &y0, &da, &db, &da0, &db0);
    return st;
}

static enum loom_status check_mul(struct loom_rng *r, struct loom_error *err, int64_t n)
{
    struct loom_check_buf a, b, g, y, y0, da, db, da0, db0;
    loom_check_rand(&a, r, n), loom_check_rand(&b, r, n), loom_check_rand(&g, r, n);
    loom_check_zeros(&y, n), loom_check_zeros(&y0, n);
    loom_check_rand(&da, r, n), loom_check_rand(&db, r, n);
    loom_check_copy(&da0, &da), loom_check_copy(&db0, &db);
    mul_fwd(y.p, a.p, b.p, n);
    mul_fwd_ref(y0.p, a.p, b.p, n);
    mul_bwd(da.p, g.p, b.p, n);
    mul_bwd(db.p, g.p, a.p, n);
    mul_bwd_ref(da0.p, db0.p, g.p, a.p, b.p, n);
    enum loom_status st = loom_check_close(err, "mul fwd", &y, &y0, 1e-6);
    if (!st) st = loom_check_close(err, "mul da", &da, &da0, 1e-6);
    if (!st) st = loom_check_close(err, "mul db", &db, &db0, 1e-6);
    loom_check_free(9, &a, &b, &g, &y, &y0, &da, &db, &da0, &db0);
    return st;
}

static enum loom_status check_scale(struct loom_rng *r, struct loom_error *err, int64_t n)
{
    float s = 4.0f * loom_rng_uniform(r) - 2.0f;
    struct loom_check_buf x, g, y, y0, dx, dx0;
    loom_check_rand(&x, r, n), loom_check_rand(&g, r, n);
    loom_check_zeros(&y, n), loom_check_zeros(&y0, n);
    loom_check_rand(&dx, r, n), loom_check_copy(&dx0, &dx);
    scale_fwd(y.p, x.p, s, n);
    axpy_bwd(dx.p, g.p, s, n);
    scale_ref(y0.p, dx0.p, x.p, g.p, s, n);
    enum loom_status st = loom_check_close(err, "scale fwd", &y, &y0, 1e-6);
    if (!st) st = loom_check_close(err, "scale dx", &dx, &dx0, 1e-6);
    loom_check_free(6, &x, &g, &y, &y0, &dx, &dx0);
    return st;
}

/* Random (R,C), then shapes past PAR_MIN so that the threaded path runs;
 * widths are mostly not multiples of 8 or 16. */
static void check_shape(struct loom_rng *r, int t, int64_t *R, int64_t *C)
{
    static const int64_t big[][2] = {{257, 131}, {3, 40001}, {40001, 3}};
    *R = 1 + loom_rng_below(r, 37), *C = 1 + loom_rng_below(r, 71);
    if (t >= 10) *R = big[t - 10][0], *C = big[t - 10][1];
}
#define CHECK_TRIALS 13

static enum loom_status check_ref_add(struct loom_ctx *c, struct loom_rng *r,
                                      struct loom_error *err)
{
    (void)c;
    for (int t = 0; t < CHECK_TRIALS; t++) {
        int64_t R, C;
        check_shape(r, t, &R, &C);
        enum loom_status st = check_add(r, err, R, C, false);
        if (!st) st = check_add(r, err, R, C, true);
        if (st) return st;
    }
    return LOOM_OK;
}

static enum loom_status check_ref_mul(struct loom_ctx *c, struct loom_rng *r,
                                      struct loom_error *err)
{
    (void)c;
    for (int t = 0; t < CHECK_TRIALS; t++) {
        int64_t R, C;
        check_shape(r, t, &R, &C);
        enum loom_status st = check_mul(r, err, R * C);
        if (st) return st;
    }
    return LOOM_OK;
}

static enum loom_status check_ref_scale(struct loom_ctx *c, struct loom_rng *r,
                                        struct loom_error *err)
{
    (void)c;
    for (int t = 0; t < CHECK_TRIALS; t++) {
        int64_t R, C;
        check_shape(r, t, &R, &C);
        enum loom_status st = check_scale(r, err, R * C);
        if (st) return st;
    }
    return LOOM_OK;
}

const struct loom_op_info loom_op_add = {
    .name = "add", .ncases = 5, .gc_case = gc_add, .check_ref = check_ref_add};
const struct loom_op_info loom_op_mul = {
    .name = "mul", .ncases = 3, .gc_case = gc_mul, .check_ref = check_ref_mul};
const struct loom_op_info loom_op_scale = {
    .name = "scale", .ncases = 3, .gc_case = gc_scale, .check_ref = check_ref_scale};
