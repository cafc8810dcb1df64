/*
 * rnn_common.c — the recurrence machinery the LSTM and the GRU share (see
 * rnn_common.h for the layout): plan, forward, backward through time, the
 * op with its tape entry, the batch-level reference, and the checks.
 */
#include <cblas.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <math.h>
#include <omp.h>
#include <string.h>

#include "check.h"
#include "rnn_common.h"

/* A step's gate loop over fewer floats than this runs on one thread.
 * Measured at N=64, H=128 (32768 floats a step), directions one after the
 * other: splitting the loop over 2 threads took a bidirectional LSTM's
 * forward+backward from 37.7 to 30.2 ms. */
#define RNN_OMP_MIN 4096

/* n*m floats from the arena; NULL on overflow or out of memory. */
static float *falloc(struct loom_arena *a, int64_t n, int64_t m)
{
    size_t k, bytes;
    if (!loom_mul_size((size_t)n, (size_t)m, &k) || !loom_mul_size(k, sizeof(float), &bytes))
        return NULL;
    return loom_arena_alloc(a, bytes);
}

/* Whether x's valid steps are not all of its rows (then packed: pack_x). */
static bool padded(const struct rnn_run *r)
{
    return r->P != r->N * r->T && r->nin > 0;
}

bool rnn_run_init(struct rnn_run *r, struct loom_arena *a, const struct rnn_cell *cell, int64_t N,
                  int64_t T, int64_t nin, int64_t H, int ndir, const int32_t *len, bool save)
{
    memset(r, 0, sizeof *r);
    *r = (struct rnn_run){
        .cell = cell, .N = N, .T = T, .nin = nin, .H = H, .ndir = ndir, .len = len};
    int64_t *cnt = loom_arena_calloc(a, (size_t)T + 2, sizeof *cnt);
    r->perm = loom_arena_alloc(a, (size_t)(N ? N : 1) * sizeof *r->perm);
    if (!cnt || !r->perm) return false;
    for (int64_t n = 0; n < N; n++) {
        cnt[len[n]]++;
        r->maxlen = LOOM_MAX(r->maxlen, len[n]);
    }
    /* Stable counting sort by decreasing length; act[s] = #{n: len[n] > s}. */
    r->act = loom_arena_alloc(a, (size_t)(r->maxlen + 1) * sizeof *r->act);
    r->off = loom_arena_alloc(a, (size_t)(r->maxlen + 1) * sizeof *r->off);
    if (!r->act || !r->off) return false;
    int64_t above = 0; /* rows longer than L */
    for (int64_t L = T; L >= 0; L--) {
        int64_t here = cnt[L];
        cnt[L] = above; /* first slot of the rows of length L */
        if (L < r->maxlen) r->act[L] = above;
        above += here;
    }
    for (int64_t n = 0; n < N; n++) r->perm[cnt[len[n]]++] = (int32_t)n;
    r->off[0] = 0;
    for (int64_t s = 0; s < r->maxlen; s++) r->off[s + 1] = r->off[s] + r->act[s];
    r->P = r->off[r->maxlen];
    r->start = loom_arena_alloc(a, (size_t)(N + 1) * sizeof *r->start);
    if (!r->start) return false;
    r->start[0] = 0;
    for (int64_t n = 0; n < N; n++) r->start[n + 1] = r->start[n] + len[n];
    int64_t G = cell->G, S = cell->S;
    for (int d = 0; save && d < ndir; d++) {
        r->hs[d] = falloc(a, r->P, H);
        r->save[d] = falloc(a, r->P, S * H);
        if (!r->hs[d] || !r->save[d]) return false;
    }
    if (save && padded(r) && !(r->xk = falloc(a, r->P ? r->P : 1, nin))) return false;
    r->zero = loom_arena_calloc(a, (size_t)(LOOM_MAX(G, S) * H), sizeof(float));
    return r->zero != NULL;
}

/* The time step of packed row k of step s in direction d. */
static inline int64_t step_time(const struct rnn_run *r, int d, int64_t k, int64_t s)
{
    return d ? r->len[r->perm[k]] - 1 - s : s;
}

/* The row of xp and dxp of packed row k's time t. */
static inline int64_t in_row(const struct rnn_run *r, int64_t k, int64_t t)
{
    return r->start[r->perm[k]] + t;
}

/* x's valid steps as P rows (start's order): x itself when nothing is
 * padded, else a packed copy, into r->xk (kept for the backward) or from
 * a; NULL when out of memory. */
static const float *pack_x(const struct rnn_run *r, struct loom_arena *a, const float *x)
{
    if (!padded(r)) return x;
    float *p = r->xk ? r->xk : falloc(a, r->P ? r->P : 1, r->nin);
    for (int64_t n = 0; p && n < r->N; n++)
        memcpy(p + r->start[n] * r->nin, x + n * r->T * r->nin,
               (size_t)(r->len[n] * r->nin) * sizeof *p);
    return p;
}

/* What a step's rows share: the run, the direction, the step, the buffers. */
struct rnn_step {
    const struct rnn_run *r;
    int d;
    int64_t s;
    float *y;
    const float *xp, *hp, *bih, *bhh;
    float *h, *st; /* inference: the carried states (N,H) */
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RNN_GEMV 1
/* hp (GH) = w_hh (GH, H) h (H), for GH a multiple of 8 and H of 16: eight
 * rows at a time, each a dot product over H in one AVX-512 accumulator.
 * The step of a single running row (batch 1, and the longest row's tail at
 * any batch): OpenBLAS's sgemm with M = 1 took 3.2 us for GH = 512, H = 128
 * on the reference machine, this 2.5 us (96 steps a bidirectional row of 48
 * tokens). Its sums run in another order than sgemm's; the training and the
 * inference forward both use it, so they agree bit for bit. */
__attribute__((target("avx512f"))) static void gemv_avx512(float *restrict hp,
                                                           const float *restrict w,
                                                           const float *restrict h, int64_t GH,
                                                           int64_t H)
{
    for (int64_t r = 0; r < GH; r += 8) {
        const float *wr = w + r * H;
        __m512 a[8];
        for (int q = 0; q < 8; q++) a[q] = _mm512_setzero_ps();
        for (int64_t k = 0; k < H; k += 16) {
            __m512 hv = _mm512_loadu_ps(h + k);
            for (int q = 0; q < 8; q++)
                a[q] = _mm512_fmadd_ps(_mm512_loadu_ps(wr + q * H + k), hv, a[q]);
        }
        for (int q = 0; q < 8; q++) hp[r + q] = _mm512_reduce_add_ps(a[q]);
    }
}

static bool gemv_fits(int64_t GH, int64_t H)
{
    static int avx512 = -1; /* a benign race: every thread computes the same */
    if (avx512 < 0) {
        __builtin_cpu_init();
        avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return avx512 && H > 0 && H % 16 == 0 && GH % 8 == 0;
}
#endif

/* hp (na, G*H) = h (na, H) w_hh^T: the recurrent part of step s > 0. */
static void recurrent(float *hp, const float *h, int64_t na, int64_t GH, int64_t H,
                      const float *w_hh)
{
    if (!na || !H) return;
#ifdef RNN_GEMV
    if (na == 1 && gemv_fits(GH, H)) {
        gemv_avx512(hp, w_hh, h, GH, H);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)GH, (int)H, 1.0f, h, (int)H,
                w_hh, (int)H, 0.0f, hp, (int)GH);
}

/* Packed rows [k0, k1) of a training step: the cell's step, h into y. */
static void fwd_rows(const struct rnn_step *p, int64_t k0, int64_t k1)
{
    const struct rnn_run *r = p->r;
    const struct rnn_cell *cell = r->cell;
    int64_t s = p->s, H = r->H, GH = cell->G * H, SH = cell->S * H;
    int64_t XW = r->ndir * GH, OW = r->ndir * H, o = r->off[s], op = s ? r->off[s - 1] : 0;
    float *hs = r->hs[p->d], *sv = r->save[p->d];
    const float *hprev = hs + op * H;
    for (int64_t k = k0; k < k1; k++) {
        int64_t tk = step_time(r, p->d, k, s), row = r->perm[k] * r->T + tk;
        float *h = hs + (o + k) * H;
        cell->fwd(h, sv + (o + k) * SH, p->xp + in_row(r, k, tk) * XW + p->d * GH,
                  s ? p->hp + k * GH : r->zero, p->bih, p->bhh, s ? hprev + k * H : r->zero,
                  s ? sv + (op + k) * SH : r->zero, H);
        memcpy(p->y + row * OW + p->d * H, h, (size_t)H * sizeof *p->y);
    }
}

/* The same for inference: h and the state carried in place. */
static void infer_rows(const struct rnn_step *p, int64_t k0, int64_t k1)
{
    const struct rnn_run *r = p->r;
    const struct rnn_cell *cell = r->cell;
    int64_t s = p->s, H = r->H, GH = cell->G * H, XW = r->ndir * GH, OW = r->ndir * H;
    for (int64_t k = k0; k < k1; k++) {
        int64_t tk = step_time(r, p->d, k, s), row = r->perm[k] * r->T + tk;
        float *h = p->h + k * H;
        cell->fwd_inf(h, p->st + k * H, p->xp + in_row(r, k, tk) * XW + p->d * GH,
                      s ? p->hp + k * GH : r->zero, p->bih, p->bhh, H);
        memcpy(p->y + row * OW + p->d * H, h, (size_t)H * sizeof *p->y);
    }
}

/* One direction's recurrence (rnn_common.h). xp (P, ndir*G*H) the input
 * projection; hp (N, G*H) scratch; h, st (N,H) the carried states when
 * inferring (NULL when training). A step's rows fork only when there are
 * many of them and the directions do not already run on a thread each. */
static void forward_dir(const struct rnn_run *r, int d, float *y, const float *xp, float *hp,
                        float *h, float *st, const struct rnn_dir *w)
{
    int64_t H = r->H, GH = r->cell->G * H;
    struct rnn_step p = {.r = r,
                         .d = d,
                         .y = y,
                         .xp = xp,
                         .hp = hp,
                         .bih = w->b_ih ? w->b_ih : r->zero,
                         .bhh = w->b_hh ? w->b_hh : r->zero,
                         .h = h,
                         .st = st};
    if (h) {
        int64_t n0 = r->maxlen ? r->act[0] : 0;
        memset(h, 0, (size_t)(n0 * H) * sizeof *h);
        memset(st, 0, (size_t)(n0 * H) * sizeof *st);
    }
    for (int64_t s = 0; s < r->maxlen; s++) {
        int64_t na = r->act[s];
        p.s = s;
        if (s) recurrent(hp, h ? h : r->hs[d] + r->off[s - 1] * H, na, GH, H, w->w_hh);
        bool fork = loom_omp_fork(na * GH, RNN_OMP_MIN) && na > 1;
        if (h)
            LOOM_OMP_SPLIT(fork, na, k0, k1, infer_rows(&p, k0, k1));
        else
            LOOM_OMP_SPLIT(fork, na, k0, k1, fwd_rows(&p, k0, k1));
    }
}

/* Two directions run side by side, one per thread: each step's sgemm is
 * then single-threaded (OpenBLAS does not fork inside a parallel region),
 * which removes the fork/join of every step's sgemm and gate loop. Measured
 * (bench/rnn_bench.c, bidirectional LSTM N=64 T=48 I=64 H=128, 2 cores):
 * forward+backward 30 ms -> 25 ms per batch. */
static bool dirs_in_parallel(const struct rnn_run *r)
{
    return r->ndir == 2 && loom_omp_fork(2, 1);
}

/* Direction d's columns of xp (P, ndir*G*H) = xk w_ih^T for every valid
 * step (xk: pack_x's):
 * one sgemm, run by the direction's own thread when the directions run side
 * by side (no copy of both w_ih side by side: at batch 1 that copy cost as
 * much as the product; and a threaded OpenBLAS sgemm mallocs its job list). */
static void project(const struct rnn_run *r, int d, float *xp, const float *xk, const float *w_ih)
{
    int64_t P = r->P, nin = r->nin, GH = r->cell->G * r->H, XW = r->ndir * GH;
    if (P == 0 || GH == 0) return;
    if (nin)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)GH, (int)nin, 1.0f, xk,
                    (int)nin, w_ih, (int)nin, 0.0f, xp + d * GH, (int)XW);
    else
        for (int64_t i = 0; i < P; i++) memset(xp + i * XW + d * GH, 0, (size_t)GH * sizeof *xp);
}

/* Direction d: its input projection, then its recurrence, in its share of
 * the buffers of forward(). */
static void run_dir(const struct rnn_run *r, int d, float *y, float *xp, const float *xk, float *hp,
                    float *h, float *st, const struct rnn_dir *w)
{
    int64_t N = r->N, H = r->H, GH = r->cell->G * H;
    project(r, d, xp, xk, w[d].w_ih);
    forward_dir(r, d, y, xp, hp + d * N * GH, h ? h + d * N * H : NULL, st ? st + d * N * H : NULL,
                &w[d]);
}

static bool forward(const struct rnn_run *r, struct loom_arena *a, float *y, const float *x,
                    const struct rnn_dir *w, bool infer)
{
    int64_t N = r->N, T = r->T, H = r->H, GH = r->cell->G * H, OW = r->ndir * H;
    struct loom_arena_mark m = loom_arena_mark(a);
    float *xp = falloc(a, r->P ? r->P : 1, r->ndir * GH), *hp = falloc(a, r->ndir * N, GH);
    float *h = infer ? falloc(a, r->ndir * N, H) : NULL;
    float *st = infer ? falloc(a, r->ndir * N, H) : NULL;
    const float *xk = pack_x(r, a, x);
    if (!xp || !hp || !xk || (infer && (!h || !st))) return false;
    if (dirs_in_parallel(r)) {
#pragma omp parallel for num_threads(2)
        for (int d = 0; d < 2; d++) run_dir(r, d, y, xp, xk, hp, h, st, w);
    } else {
        for (int d = 0; d < r->ndir; d++) run_dir(r, d, y, xp, xk, hp, h, st, w);
    }
    /* Steps at or past a row's length give zeros. */
    for (int64_t n = 0; n < N; n++)
        memset(y + (n * T + r->len[n]) * OW, 0, (size_t)((T - r->len[n]) * OW) * sizeof *y);
    loom_arena_release(a, m);
    return true;
}

bool rnn_forward(struct rnn_run *r, struct loom_arena *a, float *y, const float *x,
                 const struct rnn_dir *w)
{
    LOOM_ASSERT(r->ndir == 0 || r->hs[0]); /* a run made with save */
    return forward(r, a, y, x, w, false);
}

bool rnn_forward_infer(const struct rnn_run *r, struct loom_arena *a, float *y, const float *x,
                       const struct rnn_dir *w)
{
    return forward(r, a, y, x, w, true);
}

/* Column sums of m (rows, cols) added into acc. */
static void add_colsum(float *acc, const float *m, int64_t rows, int64_t cols, int64_t ld)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) acc[j] += m[i * ld + j];
}

/* What a backward step's rows share. */
struct rnn_bstep {
    const struct rnn_run *r;
    int d;
    int64_t s;
    float *dxp, *dgh, *dh, *dc;
    const float *dy;
};

/* Packed rows [k0, k1) of backward step s: dy added to the carried dh,
 * then the cell's backward. */
static void bwd_rows(const struct rnn_bstep *p, int64_t k0, int64_t k1)
{
    const struct rnn_run *r = p->r;
    const struct rnn_cell *cell = r->cell;
    int64_t s = p->s, d = p->d, H = r->H, GH = cell->G * H, SH = cell->S * H;
    int64_t XW = r->ndir * GH, OW = r->ndir * H, o = r->off[s], op = s ? r->off[s - 1] : 0;
    const float *sv = r->save[d], *hprev = r->hs[d] + op * H;
    for (int64_t k = k0; k < k1; k++) {
        int64_t tk = step_time(r, p->d, k, s), row = r->perm[k] * r->T + tk;
        float *dhk = p->dh + k * H;
        const float *dyk = p->dy + row * OW + d * H;
        for (int64_t j = 0; j < H; j++) dhk[j] += dyk[j];
        cell->bwd(p->dxp + in_row(r, k, tk) * XW + d * GH, p->dgh + k * GH, dhk, p->dc + k * H,
                  sv + (o + k) * SH, s ? sv + (op + k) * SH : r->zero, s ? hprev + k * H : r->zero,
                  H);
    }
}

/* One direction's backward through time: the recurrent side (dW_hh, db_hh,
 * dh_prev) per step; the input side's gradient goes to dxp. Scratch: dgh
 * (N, G*H), dh and dc (N, H). */
static void backward_dir(const struct rnn_run *r, int d, float *dxp, float *dgh, float *dh,
                         float *dc, const float *dy, const struct rnn_dir *w,
                         const struct rnn_dir_grad *g)
{
    int64_t N = r->N, H = r->H, GH = r->cell->G * H;
    const float *hs = r->hs[d];
    struct rnn_bstep p = {.r = r, .d = d, .dxp = dxp, .dgh = dgh, .dh = dh, .dc = dc, .dy = dy};
    /* Rows that end before step s+1 enter step s with no carried gradient:
     * zero them all once; a step only writes rows < act[s]. */
    memset(dh, 0, (size_t)(N * H) * sizeof *dh);
    memset(dc, 0, (size_t)(N * H) * sizeof *dc);
    for (int64_t s = r->maxlen - 1; s >= 0; s--) {
        int64_t na = r->act[s], op = s ? r->off[s - 1] : 0;
        const float *hprev = hs + op * H;
        p.s = s;
        LOOM_OMP_SPLIT(loom_omp_fork(na * GH, RNN_OMP_MIN) && na > 1, na, k0, k1,
                       bwd_rows(&p, k0, k1));
        if (g->b_hh) add_colsum(g->b_hh, dgh, na, GH, GH);
        if (s == 0 || H == 0) continue;
        if (g->w_hh)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)GH, (int)H, (int)na, 1.0f,
                        dgh, (int)GH, hprev, (int)H, 1.0f, g->w_hh, (int)H);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)na, (int)H, (int)GH, 1.0f, dgh,
                    (int)GH, w->w_hh, (int)H, 1.0f, dh, (int)H);
    }
}

bool rnn_backward(const struct rnn_run *r, struct loom_arena *a, float *dx,
                  const struct rnn_dir_grad *g, const float *dy, const float *x,
                  const struct rnn_dir *w)
{
    const struct rnn_cell *cell = r->cell;
    int64_t N = r->N, T = r->T, nin = r->nin, H = r->H, GH = cell->G * H;
    int64_t XW = r->ndir * GH, ND = r->ndir * N;
    struct loom_arena_mark m = loom_arena_mark(a);
    /* every row of dxp (a valid step: padded ones have no gradient) is
     * written below */
    int64_t P = r->P;
    float *dxp = falloc(a, P ? P : 1, XW), *dgh = falloc(a, ND, GH);
    float *dh = falloc(a, ND, H), *dc = falloc(a, ND, H);
    if (!dxp || !dgh || !dh || !dc) return false;
    if (dirs_in_parallel(r)) {
#pragma omp parallel for num_threads(2)
        for (int d = 0; d < 2; d++)
            backward_dir(r, d, dxp, dgh + d * N * GH, dh + d * N * H, dc + d * N * H, dy, &w[d],
                         &g[d]);
    } else {
        for (int d = 0; d < r->ndir; d++)
            backward_dir(r, d, dxp, dgh + d * N * GH, dh + d * N * H, dc + d * N * H, dy, &w[d],
                         &g[d]);
    }
    /* The input side of every valid step at once, per direction; dx through
     * a packed copy (added into its valid rows) when steps are padded. */
    const float *xk = padded(r) ? r->xk : x; /* packed by the forward */
    bool packed = P != N * T;
    float *dxk = dx && packed && P > 0 && nin ? falloc(a, P, nin) : dx;
    if (dx && !dxk) return false;
    for (int d = 0; d < r->ndir && P > 0; d++) {
        if (g[d].b_ih) add_colsum(g[d].b_ih, dxp + d * GH, P, GH, XW);
        if (g[d].w_ih && nin)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)GH, (int)nin, (int)P, 1.0f,
                        dxp + d * GH, (int)XW, xk, (int)nin, 1.0f, g[d].w_ih, (int)nin);
        if (dx && nin && GH)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)nin, (int)GH, 1.0f,
                        dxp + d * GH, (int)XW, w[d].w_ih, (int)nin, packed && d == 0 ? 0.0f : 1.0f,
                        dxk, (int)nin);
    }
    if (dx && packed && P > 0 && nin) {
        if (!GH) memset(dxk, 0, (size_t)(P * nin) * sizeof *dxk);
        for (int64_t n = 0; n < N; n++) {
            float *o = dx + n * T * nin;
            const float *q = dxk + r->start[n] * nin;
            for (int64_t i = 0; i < r->len[n] * nin; i++) o[i] += q[i];
        }
    }
    loom_arena_release(a, m);
    return true;
}

/* ---- reference: each row and direction as one sequence, in its order ---- */

static float *ref_alloc(int64_t n)
{
    float *p = calloc((size_t)(n ? n : 1), sizeof *p);
    LOOM_ASSERT(p);
    return p;
}

double *rnn_ref_alloc(int64_t n)
{
    double *p = calloc((size_t)(n ? n : 1), sizeof *p);
    LOOM_ASSERT(p);
    return p;
}

/* Time step of position j of row n's sequence in direction d. */
static int64_t ref_time(int d, int64_t L, int64_t j)
{
    return d ? L - 1 - j : j;
}

void rnn_ref(const struct rnn_cell *cell, float *y, const float *x, const int32_t *len, int64_t N,
             int64_t T, int64_t nin, int64_t H, int ndir, const struct rnn_dir *w)
{
    int64_t OW = ndir * H;
    float *xs = ref_alloc(T * nin), *hs = ref_alloc(T * H);
    memset(y, 0, (size_t)(N * T * OW) * sizeof *y);
    for (int64_t n = 0; n < N; n++)
        for (int d = 0; d < ndir; d++) {
            int64_t L = len[n];
            for (int64_t j = 0; j < L; j++)
                memcpy(xs + j * nin, x + (n * T + ref_time(d, L, j)) * nin,
                       (size_t)nin * sizeof *xs);
            cell->seq_ref(hs, xs, L, &w[d], nin, H);
            for (int64_t j = 0; j < L; j++)
                memcpy(y + (n * T + ref_time(d, L, j)) * OW + d * H, hs + j * H,
                       (size_t)H * sizeof *y);
        }
    free(xs);
    free(hs);
}

void rnn_bwd_ref(const struct rnn_cell *cell, float *dx, const struct rnn_dir_grad *g,
                 const float *dy, const float *x, const int32_t *len, int64_t N, int64_t T,
                 int64_t nin, int64_t H, int ndir, const struct rnn_dir *w)
{
    int64_t OW = ndir * H;
    float *xs = ref_alloc(T * nin), *dhs = ref_alloc(T * H), *dxs = ref_alloc(T * nin);
    for (int64_t n = 0; n < N; n++)
        for (int d = 0; d < ndir; d++) {
            int64_t L = len[n];
            for (int64_t j = 0; j < L; j++) {
                int64_t t = ref_time(d, L, j);
                memcpy(xs + j * nin, x + (n * T + t) * nin, (size_t)nin * sizeof *xs);
                memcpy(dhs + j * H, dy + (n * T + t) * OW + d * H, (size_t)H * sizeof *dhs);
            }
            memset(dxs, 0, (size_t)(T * nin) * sizeof *dxs);
            cell->seq_bwd_ref(dxs, &g[d], dhs, xs, L, &w[d], nin, H);
            if (dx)
                for (int64_t j = 0; j < L; j++)
                    for (int64_t i = 0; i < nin; i++)
                        dx[(n * T + ref_time(d, L, j)) * nin + i] += dxs[j * nin + i];
        }
    free(xs);
    free(dhs);
    free(dxs);
}

/* ---- the op ---- */

struct rnn_saved {
    struct rnn_run run;
    struct loom_tensor *x, *y;
    struct loom_rnn_weights w[2];
};

static void rnn_dirs(struct rnn_dir *out, const struct loom_rnn_weights *w, int ndir)
{
    for (int d = 0; d < ndir; d++)
        out[d] =
            (struct rnn_dir){w[d].w_ih->data, w[d].w_hh->data, w[d].b_ih ? w[d].b_ih->data : NULL,
                             w[d].b_hh ? w[d].b_hh->data : NULL};
}

static float *grad_of(struct loom_ctx *c, struct loom_tensor *t)
{
    return loom_needs_grad(c, t) ? loom_grad(c, t) : NULL;
}

static void rnn_backward_fn(struct loom_ctx *c, void *p)
{
    struct rnn_saved *s = p;
    if (!s->y->grad) return;
    struct rnn_dir w[2];
    struct rnn_dir_grad g[2] = {{0}};
    rnn_dirs(w, s->w, s->run.ndir);
    for (int d = 0; d < s->run.ndir; d++)
        g[d] = (struct rnn_dir_grad){grad_of(c, s->w[d].w_ih), grad_of(c, s->w[d].w_hh),
                                     grad_of(c, s->w[d].b_ih), grad_of(c, s->w[d].b_hh)};
    float *dx = grad_of(c, s->x);
    if (c->status) return;
    if (!rnn_backward(&s->run, &c->arena, dx, g, s->y->grad, s->x->data, w))
        loom_fail(c, LOOM_ERR_NOMEM, "%s backward: step arena out of memory", s->run.cell->name);
}

/* Checks one direction's weights against G, I; sets *H from w_hh. */
static bool check_weights(struct loom_ctx *c, const struct rnn_cell *cell,
                          const struct loom_rnn_weights *w, int64_t nin, int64_t *H)
{
    char a[64], b[64];
    const struct loom_tensor *wi = w->w_ih, *wh = w->w_hh;
    if (wh->ndim != 2 || wh->shape[0] != cell->G * wh->shape[1] || (*H >= 0 && wh->shape[1] != *H))
        return loom_fail(c, LOOM_ERR_SHAPE, "%s: w_hh %s is not (%d*H, H)%s", cell->name,
                         loom_shape_str(wh, a, sizeof a), cell->G,
                         *H >= 0 ? " with the forward direction's H" : ""),
               false;
    *H = wh->shape[1];
    if (wi->ndim != 2 || wi->shape[0] != wh->shape[0] || wi->shape[1] != nin)
        return loom_fail(c, LOOM_ERR_SHAPE, "%s: w_ih %s does not fit w_hh %s and input width %lld",
                         cell->name, loom_shape_str(wi, a, sizeof a),
                         loom_shape_str(wh, b, sizeof b), (long long)nin),
               false;
    const struct loom_tensor *bias[2] = {w->b_ih, w->b_hh};
    for (int i = 0; i < 2; i++)
        if (bias[i] && bias[i]->size != wh->shape[0])
            return loom_fail(c, LOOM_ERR_SHAPE, "%s: bias %s for %lld gate rows", cell->name,
                             loom_shape_str(bias[i], a, sizeof a), (long long)wh->shape[0]),
                   false;
    return true;
}

struct loom_tensor *rnn_op(struct loom_ctx *c, const struct rnn_cell *cell, struct loom_tensor *x,
                           const int32_t *lengths, const struct loom_rnn_weights *fwd,
                           const struct loom_rnn_weights *bwd)
{
    if (!x || !fwd || !fwd->w_ih || !fwd->w_hh || (bwd && (!bwd->w_ih || !bwd->w_hh))) return NULL;
    char a[64];
    if (x->ndim != 3)
        return loom_fail(c, LOOM_ERR_SHAPE, "%s: input %s is not (N,T,I)", cell->name,
                         loom_shape_str(x, a, sizeof a));
    int64_t N = x->shape[0], T = x->shape[1], nin = x->shape[2], H = -1;
    int ndir = bwd ? 2 : 1;
    struct loom_rnn_weights w[2] = {*fwd, bwd ? *bwd : *fwd};
    for (int d = 0; d < ndir; d++)
        if (!check_weights(c, cell, &w[d], nin, &H)) return NULL;
    if (N && !lengths) return loom_fail(c, LOOM_ERR_INVALID, "%s: no lengths", cell->name);
    for (int64_t n = 0; n < N; n++)
        if (lengths[n] < 0 || lengths[n] > T)
            return loom_fail(c, LOOM_ERR_INVALID, "%s: lengths[%lld] = %d is outside [0, %lld]",
                             cell->name, (long long)n, lengths[n], (long long)T);
    struct loom_tensor *y = loom_tensor_new(c, LOOM_SHAPE(N, T, ndir * H));
    if (!y) return NULL;
    struct loom_tensor *in[9] = {x,         w[0].w_ih, w[0].w_hh, w[0].b_ih, w[0].b_hh,
                                 w[1].w_ih, w[1].w_hh, w[1].b_ih, w[1].b_hh};
    bool grad = loom_needs_grad_any(c, ndir == 2 ? 9 : 5, in);
    struct loom_arena_mark m = loom_arena_mark(&c->arena);
    struct rnn_run run;
    struct rnn_dir dirs[2];
    rnn_dirs(dirs, w, ndir);
    if (!rnn_run_init(&run, &c->arena, cell, N, T, nin, H, ndir, lengths, grad) ||
        !(grad ? rnn_forward(&run, &c->arena, y->data, x->data, dirs)
               : rnn_forward_infer(&run, &c->arena, y->data, x->data, dirs)))
        return loom_fail(c, LOOM_ERR_NOMEM, "%s: step arena out of memory", cell->name);
    if (!grad) {
        loom_arena_release(&c->arena, m); /* inference keeps nothing */
        return y;
    }
    struct rnn_saved *s = loom_tape_record(c, rnn_backward_fn, sizeof *s, y);
    if (!s) return NULL;
    *s = (struct rnn_saved){.run = run, .x = x, .y = y, .w = {w[0], w[1]}};
    return y;
}

/* ---- checks ---- */

/* Case k: {N, T, I, H, bidirectional, biases} and the lengths. */
static const struct {
    int64_t N, T, nin, H;
    int ndir;
    bool bias;
    int32_t len[4];
} gc_cases[RNN_GC_CASES] = {
    {3, 5, 3, 3, 1, true, {5, 1, 3}},     /* uni, lengths incl. 1 and T */
    {3, 5, 2, 3, 2, true, {2, 5, 1}},     /* bidirectional */
    {1, 4, 3, 2, 1, true, {4}},           /* batch of 1 */
    {1, 3, 2, 3, 2, true, {3}},           /* batch of 1, bidirectional */
    {2, 1, 3, 3, 2, true, {1, 1}},        /* sequence length T = 1 */
    {4, 3, 2, 3, 2, false, {0, 3, 1, 2}}, /* a row of length 0; no biases */
};

struct loom_tensor *rnn_gc_case(struct loom_ctx *c, struct loom_gc *gc, int k,
                                const struct rnn_cell *cell)
{
    (void)c;
    int64_t N = gc_cases[k].N, T = gc_cases[k].T, nin = gc_cases[k].nin, H = gc_cases[k].H;
    int64_t GH = cell->G * H;
    const int32_t *len = loom_gc_i32(gc, (size_t)N, gc_cases[k].len);
    struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(N, T, nin), -1, 1);
    struct loom_rnn_weights w[2] = {{0}};
    for (int d = 0; d < gc_cases[k].ndir; d++) {
        w[d].w_ih = loom_gc_input(gc, LOOM_SHAPE(GH, nin), -0.8f, 0.8f);
        w[d].w_hh = loom_gc_input(gc, LOOM_SHAPE(GH, H), -0.8f, 0.8f);
        if (gc_cases[k].bias) {
            w[d].b_ih = loom_gc_input(gc, LOOM_SHAPE(GH), -0.5f, 0.5f);
            w[d].b_hh = loom_gc_input(gc, LOOM_SHAPE(GH), -0.5f, 0.5f);
        }
    }
    return rnn_op(c, cell, x, len, &w[0], gc_cases[k].ndir == 2 ? &w[1] : NULL);
}

/* Buffers of one direction's weights: w_ih, w_hh, b_ih, b_hh. */
struct wbufs {
    struct loom_check_buf b[4];
};

static void wbufs_rand(struct wbufs *w, struct loom_rng *r, int64_t GH, int64_t nin, int64_t H)
{
    const int64_t n[4] = {GH * nin, GH * H, GH, GH};
    for (int i = 0; i < 4; i++) {
        loom_check_rand(&w->b[i], r, n[i]);
        /* Keep the gates away from saturation, where a test sees little. */
        float scale = i == 0 ? 1.5f / sqrtf((float)nin) : i == 1 ? 1.5f / sqrtf((float)H) : 0.5f;
        for (int64_t j = 0; j < n[i]; j++) w->b[i].p[j] *= scale;
    }
}

static void wbufs_copy(struct wbufs *dst, const struct wbufs *src)
{
    for (int i = 0; i < 4; i++) loom_check_copy(&dst->b[i], &src->b[i]);
}

static void wbufs_free(struct wbufs *w)
{
    for (int i = 0; i < 4; i++) loom_check_free(1, &w->b[i]);
}

static enum loom_status compare(struct loom_error *err, const struct rnn_cell *cell,
                                const char *what, const struct loom_check_buf *a,
                                const struct loom_check_buf *b)
{
    char name[64];
    snprintf(name, sizeof name, "%s %s", cell->name, what);
    return loom_check_close(err, name, a, b, 2e-4);
}

static enum loom_status check_one(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err,
                                  const struct rnn_cell *cell, int trial)
{
    int64_t N = 1 + loom_rng_below(r, 7), T = 1 + loom_rng_below(r, 13);
    int64_t nin = 1 + loom_rng_below(r, 21), H = 1 + loom_rng_below(r, 19), GH = cell->G * H;
    /* Past vector widths, and enough rows a step (na G H > RNN_OMP_MIN) for
     * the steps of a unidirectional run to fork when threads allow. */
    if (trial == 0) N = 33, T = 21, nin = 35, H = 33, GH = cell->G * H;
    if (trial >= 10) /* batch 1; H a multiple of 16: the AVX-512 gemv's steps */
        N = 1, T = 1 + (trial - 10) * 5, H = 16 * (1 + trial % 2), GH = cell->G * H;
    int ndir = 1 + trial % 2;
    bool bias = trial % 4 != 3;
    int32_t len[64];
    for (int64_t n = 0; n < N; n++) len[n] = (int32_t)loom_rng_below(r, (uint32_t)T + 1);
    len[0] = trial % 3 == 0 ? 0 : len[0]; /* a row of length 0 */
    if (N > 1) len[1] = 1;
    if (N > 2) len[2] = (int32_t)T;
    if (trial == 10 || trial == 11) len[0] = 1;                 /* one step */
    if (trial == 12 || trial == 13) len[0] = (int32_t)T;        /* every step, N = 1 */
    if (trial == 14 || trial == 15) memset(len, 0, sizeof len); /* no step at all */
    int64_t OW = ndir * H;
    struct loom_check_buf x, y, y0, yi, dy, dx, dx0;
    struct wbufs w[2], g[2], g0[2];
    struct rnn_dir wd[2];
    struct rnn_dir_grad gd[2], gd0[2];
    loom_check_rand(&x, r, N * T * nin);
    loom_check_zeros(&y, N * T * OW), loom_check_zeros(&y0, N * T * OW);
    loom_check_rand(&yi, r, N * T * OW); /* every element must be written */
    loom_check_rand(&dy, r, N * T * OW);
    loom_check_rand(&dx, r, N * T * nin), loom_check_copy(&dx0, &dx);
    for (int d = 0; d < ndir; d++) {
        wbufs_rand(&w[d], r, GH, nin, H), wbufs_rand(&g[d], r, GH, nin, H);
        wbufs_copy(&g0[d], &g[d]);
        wd[d] = (struct rnn_dir){w[d].b[0].p, w[d].b[1].p, bias ? w[d].b[2].p : NULL,
                                 bias ? w[d].b[3].p : NULL};
        gd[d] = (struct rnn_dir_grad){g[d].b[0].p, g[d].b[1].p, bias ? g[d].b[2].p : NULL,
                                      bias ? g[d].b[3].p : NULL};
        gd0[d] = (struct rnn_dir_grad){g0[d].b[0].p, g0[d].b[1].p, bias ? g0[d].b[2].p : NULL,
                                       bias ? g0[d].b[3].p : NULL};
    }
    struct loom_arena_mark m = loom_arena_mark(&c->arena);
    struct rnn_run run, inf;
    bool ok = rnn_run_init(&run, &c->arena, cell, N, T, nin, H, ndir, len, true) &&
              rnn_forward(&run, &c->arena, y.p, x.p, wd) &&
              rnn_backward(&run, &c->arena, dx.p, gd, dy.p, x.p, wd) &&
              rnn_run_init(&inf, &c->arena, cell, N, T, nin, H, ndir, len, false) &&
              rnn_forward_infer(&inf, &c->arena, yi.p, x.p, wd);
    loom_arena_release(&c->arena, m);
    rnn_ref(cell, y0.p, x.p, len, N, T, nin, H, ndir, wd);
    rnn_bwd_ref(cell, dx0.p, gd0, dy.p, x.p, len, N, T, nin, H, ndir, wd);
    enum loom_status st = ok ? LOOM_OK : loom_error_set(err, LOOM_ERR_NOMEM, "out of memory");
    static const char *const names[2][4] = {
        {"dw_ih", "dw_hh", "db_ih", "db_hh"},
        {"dw_ih (reverse)", "dw_hh (reverse)", "db_ih (reverse)", "db_hh (reverse)"}};
    if (!st) st = compare(err, cell, "fwd", &y, &y0);
    /* Inference's forward is the training forward's, bit for bit. */
    for (int64_t k = 0; k < N * T * OW && !st; k++)
        if (memcmp(&yi.p[k], &y.p[k], sizeof(float)))
            st = loom_error_set(err, LOOM_ERR_INTERNAL,
                                "%s inference forward: y[%lld] = %.9g, the training forward's %.9g",
                                cell->name, (long long)k, yi.p[k], y.p[k]);
    if (!st) st = compare(err, cell, "dx", &dx, &dx0);
    for (int d = 0; d < ndir; d++)
        for (int i = 0; i < 4 && !st; i++)
            st = compare(err, cell, names[d][i], &g[d].b[i], &g0[d].b[i]);
    if (st) {
        char where[160];
        snprintf(where, sizeof where, " (N %lld, T %lld, I %lld, H %lld, %s, len[0] %d)",
                 (long long)N, (long long)T, (long long)nin, (long long)H,
                 ndir == 2 ? "bidirectional" : "unidirectional", len[0]);
        strncat(err->message, where, sizeof err->message - strlen(err->message) - 1);
    }
    loom_check_free(7, &x, &y, &y0, &yi, &dy, &dx, &dx0);
    for (int d = 0; d < ndir; d++) wbufs_free(&w[d]), wbufs_free(&g[d]), wbufs_free(&g0[d]);
    return st;
}

enum loom_status rnn_check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err,
                               const struct rnn_cell *cell)
{
    for (int trial = 0; trial < 16; trial++) {
        enum loom_status st = check_one(c, r, err, cell, trial);
        if (st) return st;
    }
    return LOOM_OK;
}
