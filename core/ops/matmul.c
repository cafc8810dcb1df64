/*
 * matmul.c — c = op(a) op(b) through OpenBLAS sgemm, op(m) = m or m^T, with
 * its backward. Only 2-D operands: a batch of products is a loop of calls or
 * a reshape into one product (linear.c handles rows of a 3-D input).
 *
 * Backward, with A = op(a) (M,K), B = op(b) (K,N), dC (M,N):
 *   dA = dC B^T  -> da += dC B^T, or da += B dC^T when a is stored transposed
 *   dB = A^T dC  -> db += A^T dC, or db += dC^T A when b is stored transposed
 */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "check.h"

struct mm_dims {
    int64_t M, N, K;
    bool ta, tb; /* a is (K,M), b is (N,K) */
};

/* Leading dimensions of a and b as stored. */
static int lda_of(const struct mm_dims *d)
{
    return (int)(d->ta ? d->M : d->K);
}
static int ldb_of(const struct mm_dims *d)
{
    return (int)(d->tb ? d->K : d->N);
}

static CBLAS_TRANSPOSE tr(bool t)
{
    return t ? CblasTrans : CblasNoTrans;
}

/* a, b as stored -> y (M,N). */
static void matmul_fwd(float *y, const float *a, const float *b, const struct mm_dims *d)
{
    if (d->M == 0 || d->N == 0) return;
    if (d->K == 0) {
        memset(y, 0, (size_t)(d->M * d->N) * sizeof *y);
        return;
    }
    cblas_sgemm(CblasRowMajor, tr(d->ta), tr(d->tb), (int)d->M, (int)d->N, (int)d->K, 1.0f, a,
                lda_of(d), b, ldb_of(d), 0.0f, y, (int)d->N);
}

/* Accumulates into da and/or db (either may be NULL). */
static void matmul_bwd(float *da, float *db, const float *dy, const float *a, const float *b,
                       const struct mm_dims *d)
{
    int M = (int)d->M, N = (int)d->N, K = (int)d->K;
    if (M == 0 || N == 0 || K == 0) return; /* nothing flows */
    if (da && !d->ta)                       /* (M,K) += dC (M,N) B^T (N,K) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tr(!d->tb), M, K, N, 1.0f, dy, N, b, ldb_of(d),
                    1.0f, da, K);
    if (da && d->ta) /* (K,M) += B (K,N) dC^T (N,M) */
        cblas_sgemm(CblasRowMajor, tr(d->tb), CblasTrans, K, M, N, 1.0f, b, ldb_of(d), dy, N, 1.0f,
                    da, M);
    if (db && !d->tb) /* (K,N) += A^T (K,M) dC (M,N) */
        cblas_sgemm(CblasRowMajor, tr(!d->ta), CblasNoTrans, K, N, M, 1.0f, a, lda_of(d), dy, N,
                    1.0f, db, N);
    if (db && d->tb) /* (N,K) += dC^T (N,M) A (M,K) */
        cblas_sgemm(CblasRowMajor, CblasTrans, tr(d->ta), N, K, M, 1.0f, dy, N, a, lda_of(d), 1.0f,
                    db, K);
}

/* ---- reference: the definition, element by element, in double ---- */

static float at_a(const float *a, const struct mm_dims *d, int64_t m, int64_t k)
{
    return d->ta ? a[k * d->M + m] : a[m * d->K + k];
}
static float at_b(const float *b, const struct mm_dims *d, int64_t k, int64_t n)
{
    return d->tb ? b[n * d->K + k] : b[k * d->N + n];
}

static void matmul_fwd_ref(float *y, const float *a, const float *b, const struct mm_dims *d)
{
    for (int64_t m = 0; m < d->M; m++)
        for (int64_t n = 0; n < d->N; n++) {
            double s = 0;
            for (int64_t k = 0; k < d->K; k++) s += (double)at_a(a, d, m, k) * at_b(b, d, k, n);
            y[m * d->N + n] = (float)s;
        }
}

static void matmul_bwd_ref(float *da, float *db, const float *dy, const float *a, const float *b,
                           const struct mm_dims *d)
{
    for (int64_t m = 0; m < d->M; m++)
        for (int64_t k = 0; k < d->K; k++) {
            double s = 0; /* dA[m,k] = sum_n dC[m,n] B[k,n] */
            for (int64_t n = 0; n < d->N; n++) s += (double)dy[m * d->N + n] * at_b(b, d, k, n);
            da[d->ta ? k * d->M + m : m * d->K + k] += (float)s;
        }
    for (int64_t k = 0; k < d->K; k++)
        for (int64_t n = 0; n < d->N; n++) {
            double s = 0; /* dB[k,n] = sum_m A[m,k] dC[m,n] */
            for (int64_t m = 0; m < d->M; m++) s += (double)at_a(a, d, m, k) * dy[m * d->N + n];
            db[d->tb ? n * d->K + k : k * d->N + n] += (float)s;
        }
}

/* ---- the op ---- */

struct matmul_saved {
    struct loom_tensor *a, *b, *y;
    struct mm_dims d;
};

static void matmul_backward(struct loom_ctx *c, void *p)
{
    struct matmul_saved *s = p;
    if (!s->y->grad) return;
    float *da = loom_needs_grad(c, s->a) ? loom_grad(c, s->a) : NULL;
    float *db = loom_needs_grad(c, s->b) ? loom_grad(c, s->b) : NULL;
    if (c->status) return;
    /* matmul(x, x, ...): one gradient buffer, two sgemm calls that add into
     * it one after the other, which is what the sum of both paths needs. */
    matmul_bwd(da, db, s->y->grad, s->a->data, s->b->data, &s->d);
}

struct loom_tensor *loom_matmul(struct loom_ctx *c, struct loom_tensor *a, struct loom_tensor *b,
                                bool trans_a, bool trans_b)
{
    if (!a || !b) return NULL;
    char sa[64], sb[64];
    if (a->ndim != 2 || b->ndim != 2)
        return loom_fail(c, LOOM_ERR_SHAPE, "matmul: needs 2-D operands, got %s and %s",
                         loom_shape_str(a, sa, sizeof sa), loom_shape_str(b, sb, sizeof sb));
    struct mm_dims d = {.ta = trans_a, .tb = trans_b};
    d.M = a->shape[trans_a ? 1 : 0], d.K = a->shape[trans_a ? 0 : 1];
    d.N = b->shape[trans_b ? 0 : 1];
    int64_t kb = b->shape[trans_b ? 1 : 0];
    if (kb != d.K)
        return loom_fail(c, LOOM_ERR_SHAPE, "matmul: %s%s times %s%s: inner sizes %lld and %lld",
                         loom_shape_str(a, sa, sizeof sa), trans_a ? "^T" : "",
                         loom_shape_str(b, sb, sizeof sb), trans_b ? "^T" : "", (long long)d.K,
                         (long long)kb);
    if (d.M > INT_MAX || d.N > INT_MAX || d.K > INT_MAX)
        return loom_fail(c, LOOM_ERR_LIMIT, "matmul: a side past %d (BLAS int)", INT_MAX);
    struct loom_tensor *y = loom_tensor_new(c, LOOM_SHAPE(d.M, d.N));
    if (!y) return NULL;
    matmul_fwd(y->data, a->data, b->data, &d);
    struct loom_tensor *in[2] = {a, b};
    if (loom_needs_grad_any(c, 2, in)) {
        struct matmul_saved *s = loom_tape_record(c, matmul_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct matmul_saved){a, b, y, d};
    }
    return y;
}

/* ---- checks ---- */

/* Cases 0-3: the four transpose combinations of (M,K,N) = (3,4,5);
 * 4: 1x1 result; 5: a^T a with the same tensor on both sides. */
static struct loom_tensor *gc_case(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    if (k == 5) {
        struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(4, 3), -1, 1);
        return loom_matmul(c, x, x, true, false);
    }
    int64_t M = 3, K = 4, N = 5;
    if (k == 4) M = 1, K = 7, N = 1;
    bool ta = k & 1, tb = k & 2;
    struct loom_tensor *a = ta ? loom_gc_input(gc, LOOM_SHAPE(K, M), -1, 1)
                               : loom_gc_input(gc, LOOM_SHAPE(M, K), -1, 1);
    struct loom_tensor *b = tb ? loom_gc_input(gc, LOOM_SHAPE(N, K), -1, 1)
                               : loom_gc_input(gc, LOOM_SHAPE(K, N), -1, 1);
    return loom_matmul(c, a, b, ta, tb);
}

static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    (void)c;
    for (int t = 0; t < 16; t++) {
        struct mm_dims d = {.M = 1 + loom_rng_below(r, 37),
                            .N = 1 + loom_rng_below(r, 41),
                            .K = 1 + loom_rng_below(r, 67),
                            .ta = t & 1,
                            .tb = t & 2};
        if (t == 15) d.K = 0; /* an empty inner dimension gives zeros */
        struct loom_check_buf a, b, y, y0, dy, da, db, da0, db0;
        loom_check_rand(&a, r, d.M * d.K), loom_check_rand(&b, r, d.K * d.N);
        loom_check_rand(&dy, r, d.M * d.N);
        loom_check_rand(&y, r, d.M * d.N), loom_check_zeros(&y0, d.M * d.N);
        loom_check_rand(&da, r, d.M * d.K), loom_check_rand(&db, r, d.K * d.N);
        loom_check_copy(&da0, &da), loom_check_copy(&db0, &db);
        matmul_fwd(y.p, a.p, b.p, &d);
        matmul_fwd_ref(y0.p, a.p, b.p, &d);
        matmul_bwd(da.p, db.p, dy.p, a.p, b.p, &d);
        matmul_bwd_ref(da0.p, db0.p, dy.p, a.p, b.p, &d);
        enum loom_status st = loom_check_close(err, "matmul fwd", &y, &y0, 1e-4);
        if (!st) st = loom_check_close(err, "matmul da", &da, &da0, 1e-4);
        if (!st) st = loom_check_close(err, "matmul db", &db, &db0, 1e-4);
        loom_check_free(9, &a, &b, &y, &y0, &dy, &da, &db, &da0, &db0);
        if (st) {
            char where[32];
            snprintf(where, sizeof where, " (ta %d, tb %d)", d.ta, d.tb);
            strncat(err->message, where, sizeof err->message - strlen(err->message) - 1);
            return st;
        }
    }
    return LOOM_OK;
}

const struct loom_op_info loom_op_matmul = {
    .name = "matmul", .ncases = 6, .gc_case = gc_case, .check_ref = check_ref};
