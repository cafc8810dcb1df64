/*
 * conv1d.c — 1-D convolution over time with "same" length, for text in
 * front of an RNN: x (N,T,C), w (O,C,K) with K odd, b (O) or NULL ->
 * y (N,T,O), y[n,t,o] = b[o] + sum_{c,k} w[o,c,k] x[n, t+k-K/2, c], where a
 * step outside [0, len[n]) reads as zero and steps at or past len[n] give
 * zeros. Not a strided or dilated convolution, and no oneDNN: with K*C of a
 * few hundred, im2col + one sgemm is as fast and keeps the masking simple.
 *
 * col (N*T, C*K) holds each output step's receptive field in w's own (C,K)
 * order, so y = col w^T, dw += dy^T col and dcol = dy w with no weight copy.
 * Backward: col is rebuilt from x (cheaper than keeping it); padded output
 * steps have all-zero col rows, so they add nothing to dw, and they are
 * skipped when dcol is scattered back (col2im) and when summing db.
 */
#include <cblas.h>
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "check.h"

/* Rows run in parallel when a pass is this big. */
#define CONV1D_OMP_MIN 32768

/* x (N,T,C) -> col (N*T, C*K), zero outside each row's valid steps. */
static void im2col(float *col, const float *x, const int32_t *len, int64_t N, int64_t T, int64_t C,
                   int64_t K)
{
    int64_t p = K / 2;
#pragma omp parallel for if (N * T * C * K > CONV1D_OMP_MIN)
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < T; t++) {
            float *cr = col + (n * T + t) * C * K;
            for (int64_t k = 0; k < K; k++) {
                int64_t ts = t + k - p;
                if (t < len[n] && ts >= 0 && ts < len[n]) {
                    const float *xs = x + (n * T + ts) * C;
                    for (int64_t c = 0; c < C; c++) cr[c * K + k] = xs[c];
                } else {
                    for (int64_t c = 0; c < C; c++) cr[c * K + k] = 0.0f;
                }
            }
        }
}

/* y (N,T,O); col scratch (N*T, C*K). */
static void conv1d_fwd(float *y, float *col, const float *x, const float *w, const float *b,
                       const int32_t *len, int64_t N, int64_t T, int64_t C, int64_t O, int64_t K)
{
    if (N * T == 0 || O == 0) return;
    im2col(col, x, len, N, T, C, K);
    if (C)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(N * T), (int)O, (int)(C * K),
                    1.0f, col, (int)(C * K), w, (int)(C * K), 0.0f, y, (int)O);
    else
        memset(y, 0, (size_t)(N * T * O) * sizeof *y);
    for (int64_t n = 0; n < N; n++) {
        if (b)
            for (int64_t t = 0; t < len[n]; t++)
                for (int64_t o = 0; o < O; o++) y[(n * T + t) * O + o] += b[o];
        memset(y + (n * T + len[n]) * O, 0, (size_t)((T - len[n]) * O) * sizeof *y);
    }
}

static void conv1d_fwd_ref(float *y, const float *x, const float *w, const float *b,
                           const int32_t *len, int64_t N, int64_t T, int64_t C, int64_t O,
                           int64_t K)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t o = 0; o < O; o++) {
                double s = b ? b[o] : 0.0;
                for (int64_t c = 0; c < C; c++)
                    for (int64_t k = 0; k < K; k++) {
                        int64_t ts = t + k - K / 2;
                        if (ts >= 0 && ts < len[n])
                            s += (double)w[(o * C + c) * K + k] * x[(n * T + ts) * C + c];
                    }
                y[(n * T + t) * O + o] = t < len[n] ? (float)s : 0.0f;
            }
}

/* Accumulates into dx, dw, db where not NULL; col, dcol scratch (N*T, C*K). */
static void conv1d_bwd(float *dx, float *dw, float *db, float *col, float *dcol, const float *dy,
                       const float *x, const float *w, const int32_t *len, int64_t N, int64_t T,
                       int64_t C, int64_t O, int64_t K)
{
    if (N * T == 0 || O == 0) return;
    int64_t CK = C * K, p = K / 2;
    if (db)
        for (int64_t n = 0; n < N; n++)
            for (int64_t t = 0; t < len[n]; t++)
                for (int64_t o = 0; o < O; o++) db[o] += dy[(n * T + t) * O + o];
    if (C == 0) return;
    if (dw) {
        im2col(col, x, len, N, T, C, K);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)CK, (int)(N * T), 1.0f,
                    dy, (int)O, col, (int)CK, 1.0f, dw, (int)CK);
    }
    if (!dx) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(N * T), (int)CK, (int)O, 1.0f, dy,
                (int)O, w, (int)CK, 0.0f, dcol, (int)CK);
    /* col2im: a row's steps only receive from its own valid outputs. */
#pragma omp parallel for if (N * T * CK > CONV1D_OMP_MIN)
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < len[n]; t++) {
            const float *dr = dcol + (n * T + t) * CK;
            for (int64_t k = 0; k < K; k++) {
                int64_t ts = t + k - p;
                if (ts < 0 || ts >= len[n]) continue;
                float *dxs = dx + (n * T + ts) * C;
                for (int64_t c = 0; c < C; c++) dxs[c] += dr[c * K + k];
            }
        }
}

static void conv1d_bwd_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, const int32_t *len, int64_t N, int64_t T, int64_t C,
                           int64_t O, int64_t K)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < len[n]; t++)
            for (int64_t o = 0; o < O; o++) {
                float g = dy[(n * T + t) * O + o];
                if (db) db[o] += g;
                for (int64_t c = 0; c < C; c++)
                    for (int64_t k = 0; k < K; k++) {
                        int64_t ts = t + k - K / 2;
                        if (ts < 0 || ts >= len[n]) continue;
                        if (dw) dw[(o * C + c) * K + k] += g * x[(n * T + ts) * C + c];
                        if (dx) dx[(n * T + ts) * C + c] += g * w[(o * C + c) * K + k];
                    }
            }
}

struct conv1d_saved {
    struct loom_tensor *x, *w, *b, *y;
    const int32_t *len;
};

/* n*m floats of scratch; NULL on overflow or out of memory. */
static float *scratch(struct loom_ctx *c, int64_t n, int64_t m)
{
    size_t k, bytes;
    if (!loom_mul_size((size_t)n, (size_t)m, &k) || !loom_mul_size(k, sizeof(float), &bytes))
        return loom_fail(c, LOOM_ERR_NOMEM, "conv1d: scratch size overflows");
    float *p = loom_arena_alloc(&c->arena, bytes);
    if (!p) return loom_fail(c, LOOM_ERR_NOMEM, "conv1d: step arena out of memory");
    return p;
}

static void conv1d_backward(struct loom_ctx *c, void *p)
{
    struct conv1d_saved *s = p;
    if (!s->y->grad) return;
    float *dx = loom_needs_grad(c, s->x) ? loom_grad(c, s->x) : NULL;
    float *dw = loom_needs_grad(c, s->w) ? loom_grad(c, s->w) : NULL;
    float *db = loom_needs_grad(c, s->b) ? loom_grad(c, s->b) : NULL;
    int64_t N = s->x->shape[0], T = s->x->shape[1], C = s->x->shape[2];
    int64_t O = s->w->shape[0], K = s->w->shape[2];
    struct loom_arena_mark m = loom_arena_mark(&c->arena);
    float *col = dw ? scratch(c, N * T, C * K) : NULL, *dcol = dx ? scratch(c, N * T, C * K) : NULL;
    if (c->status) return;
    conv1d_bwd(dx, dw, db, col, dcol, s->y->grad, s->x->data, s->w->data, s->len, N, T, C, O, K);
    loom_arena_release(&c->arena, m);
}

struct loom_tensor *loom_conv1d(struct loom_ctx *c, struct loom_tensor *x, struct loom_tensor *w,
                                struct loom_tensor *b, const int32_t *lengths)
{
    if (!x || !w) return NULL;
    char a[64], bb[64];
    if (x->ndim != 3 || w->ndim != 3 || w->shape[1] != x->shape[2] || w->shape[2] % 2 == 0)
        return loom_fail(c, LOOM_ERR_SHAPE,
                         "conv1d: input %s (N,T,C) does not fit weight %s "
                         "(O,C,K) with K odd",
                         loom_shape_str(x, a, sizeof a), loom_shape_str(w, bb, sizeof bb));
    int64_t N = x->shape[0], T = x->shape[1], C = x->shape[2], O = w->shape[0], K = w->shape[2];
    if (b && b->size != O)
        return loom_fail(c, LOOM_ERR_SHAPE, "conv1d: bias %s for %lld outputs",
                         loom_shape_str(b, a, sizeof a), (long long)O);
    if (N && !lengths) return loom_fail(c, LOOM_ERR_INVALID, "conv1d: no lengths");
    for (int64_t n = 0; n < N; n++)
        if (lengths[n] < 0 || lengths[n] > T)
            return loom_fail(c, LOOM_ERR_INVALID, "conv1d: lengths[%lld] = %d is outside [0, %lld]",
                             (long long)n, lengths[n], (long long)T);
    struct loom_tensor *y = loom_tensor_new(c, LOOM_SHAPE(N, T, O));
    if (!y) return NULL;
    struct loom_arena_mark m = loom_arena_mark(&c->arena);
    float *col = scratch(c, N * T, C * K);
    if (!col) return NULL;
    conv1d_fwd(y->data, col, x->data, w->data, b ? b->data : NULL, lengths, N, T, C, O, K);
    loom_arena_release(&c->arena, m);
    struct loom_tensor *in[3] = {x, w, b};
    if (loom_needs_grad_any(c, 3, in)) {
        struct conv1d_saved *s = loom_tape_record(c, conv1d_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct conv1d_saved){x, w, b, y, lengths};
    }
    return y;
}

/* ---- checks ---- */

/* {N, T, C, O, K, bias} and lengths: K = 1 and 3, a row of length 0 and of
 * length 1, a batch of 1 with T = 1. */
static const struct {
    int64_t N, T, C, O, K;
    bool bias;
    int32_t len[3];
} cases[] = {
    {2, 4, 3, 2, 1, true, {4, 2}},
    {3, 5, 2, 3, 3, true, {5, 1, 0}},
    {1, 1, 3, 2, 3, false, {1}},
    {2, 6, 2, 3, 5, true, {6, 3}},
};

static struct loom_tensor *gc_case(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    const int32_t *len = loom_gc_i32(gc, (size_t)cases[k].N, cases[k].len);
    struct loom_tensor *x =
        loom_gc_input(gc, LOOM_SHAPE(cases[k].N, cases[k].T, cases[k].C), -1, 1);
    struct loom_tensor *w =
        loom_gc_input(gc, LOOM_SHAPE(cases[k].O, cases[k].C, cases[k].K), -1, 1);
    struct loom_tensor *b = cases[k].bias ? loom_gc_input(gc, LOOM_SHAPE(cases[k].O), -1, 1) : NULL;
    return loom_conv1d(c, x, w, b, len);
}

static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    for (int trial = 0; trial < 12; trial++) {
        int64_t N = 1 + loom_rng_below(r, 5), T = 1 + loom_rng_below(r, 23);
        int64_t C = 1 + loom_rng_below(r, 37), O = 1 + loom_rng_below(r, 29);
        int64_t K = 1 + 2 * loom_rng_below(r, 4);
        bool bias = trial % 3 != 0;
        int32_t len[8];
        for (int64_t n = 0; n < N; n++) len[n] = (int32_t)loom_rng_below(r, (uint32_t)T + 1);
        if (trial % 4 == 0) len[0] = 0;
        if (N > 1) len[1] = 1, len[N - 1] = (int32_t)T;
        struct loom_check_buf x, w, b, y, y0, dy, dx, dw, db, dx0, dw0, db0;
        loom_check_rand(&x, r, N * T * C), loom_check_rand(&w, r, O * C * K);
        loom_check_rand(&b, r, O), loom_check_rand(&dy, r, N * T * O);
        loom_check_zeros(&y, N * T * O), loom_check_zeros(&y0, N * T * O);
        loom_check_rand(&dx, r, N * T * C), loom_check_rand(&dw, r, O * C * K);
        loom_check_rand(&db, r, O);
        loom_check_copy(&dx0, &dx), loom_check_copy(&dw0, &dw), loom_check_copy(&db0, &db);
        struct loom_arena_mark m = loom_arena_mark(&c->arena);
        float *col = scratch(c, N * T, C * K), *dcol = scratch(c, N * T, C * K);
        if (!col || !dcol) return loom_error_set(err, LOOM_ERR_NOMEM, "conv1d: out of memory");
        conv1d_fwd(y.p, col, x.p, w.p, bias ? b.p : NULL, len, N, T, C, O, K);
        conv1d_fwd_ref(y0.p, x.p, w.p, bias ? b.p : NULL, len, N, T, C, O, K);
        conv1d_bwd(dx.p, dw.p, bias ? db.p : NULL, col, dcol, dy.p, x.p, w.p, len, N, T, C, O, K);
        conv1d_bwd_ref(dx0.p, dw0.p, bias ? db0.p : NULL, dy.p, x.p, w.p, len, N, T, C, O, K);
        loom_arena_release(&c->arena, m);
        enum loom_status st = LOOM_OK;
        if (!st) st = loom_check_close(err, "conv1d fwd", &y, &y0, 1e-4);
        if (!st) st = loom_check_close(err, "conv1d dx", &dx, &dx0, 1e-4);
        if (!st) st = loom_check_close(err, "conv1d dw", &dw, &dw0, 1e-4);
        if (!st) st = loom_check_close(err, "conv1d db", &db, &db0, 1e-4);
        loom_check_free(12, &x, &w, &b, &y, &y0, &dy, &dx, &dw, &db, &dx0, &dw0, &db0);
        if (st) return st;
    }
    return LOOM_OK;
}

const struct loom_op_info loom_op_conv1d = {.name = "conv1d",
                                            .ncases = (int)LOOM_ARRAY_LEN(cases),
                                            .gc_case = gc_case,
                                            .check_ref = check_ref};
