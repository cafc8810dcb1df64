/*
 * lstm.c — the LSTM cell, PyTorch's equations and gate order (i,f,g,o):
 *   i = sig(.), f = sig(.), g = tanh(.), o = sig(.)   of x W_ih^T + b_ih + h W_hh^T + b_hh
 *   c' = f c + i g,   h' = o tanh(c')
 * The recurrence, directions, padding and the tape are rnn_common.c's; this
 * file holds the per-row step, its backward and the plain reference.
 * Backward, with tc = tanh(c'):
 *   dc = dc_next + dh o (1 - tc^2);  do = dh tc;  di = dc g;  dg = dc i;
 *   df = dc c;  dc_prev = dc f;  then through each gate's derivative.
 */
#include <math.h>
#include <string.h>

#include "rnn_common.h"

/* Saved per hidden unit and step: i, f, g, o, c', tanh(c'). */
enum { LSTM_S = 6 };

/* Unit j of a step: the gates (i,f,g,o) and c' from the previous c; the
 * one body of lstm_fwd and lstm_fwd_inf, so that both give the same bits. */
#define LSTM_UNIT(j, cprev_j)                                                                      \
    float i = rnn_sigmoid(xp[j] + bih[j] + hp[j] + bhh[j]);                                        \
    float f = rnn_sigmoid(xp[H + j] + bih[H + j] + hp[H + j] + bhh[H + j]);                        \
    float g = rnn_tanh(xp[2 * H + j] + bih[2 * H + j] + hp[2 * H + j] + bhh[2 * H + j]);           \
    float o = rnn_sigmoid(xp[3 * H + j] + bih[3 * H + j] + hp[3 * H + j] + bhh[3 * H + j]);        \
    float c = f * (cprev_j) + i * g, tc = rnn_tanh(c)

LOOM_TARGET_CLONES
static void lstm_fwd(float *restrict h, float *restrict sv, const float *restrict xp,
                     const float *restrict hp, const float *restrict bih, const float *restrict bhh,
                     const float *restrict hprev, const float *restrict svp, int64_t H)
{
    (void)hprev;
    const float *cprev = svp + 4 * H;
#pragma omp simd /* the S*H-strided blocks do not overlap */
    for (int64_t j = 0; j < H; j++) {
        LSTM_UNIT(j, cprev[j]);
        sv[j] = i, sv[H + j] = f, sv[2 * H + j] = g, sv[3 * H + j] = o;
        sv[4 * H + j] = c, sv[5 * H + j] = tc;
        h[j] = o * tc;
    }
}

/* Inference: c carried in st, nothing saved. */
LOOM_TARGET_CLONES
static void lstm_fwd_inf(float *restrict h, float *restrict st, const float *restrict xp,
                         const float *restrict hp, const float *restrict bih,
                         const float *restrict bhh, int64_t H)
{
#pragma omp simd
    for (int64_t j = 0; j < H; j++) {
        LSTM_UNIT(j, st[j]);
        st[j] = c;
        h[j] = o * tc;
    }
}

LOOM_TARGET_CLONES
static void lstm_bwd(float *restrict dgi, float *restrict dgh, float *restrict dh,
                     float *restrict dc, const float *restrict sv, const float *restrict svp,
                     const float *restrict hprev, int64_t H)
{
    (void)hprev;
    const float *cprev = svp + 4 * H;
#pragma omp simd /* the S*H-strided blocks do not overlap */
    for (int64_t j = 0; j < H; j++) {
        float i = sv[j], f = sv[H + j], g = sv[2 * H + j], o = sv[3 * H + j], tc = sv[5 * H + j];
        float dcj = dc[j] + dh[j] * o * (1.0f - tc * tc);
        float di = dcj * g * i * (1.0f - i), df = dcj * cprev[j] * f * (1.0f - f);
        float dg = dcj * i * (1.0f - g * g), d_o = dh[j] * tc * o * (1.0f - o);
        dgi[j] = dgh[j] = di;
        dgi[H + j] = dgh[H + j] = df;
        dgi[2 * H + j] = dgh[2 * H + j] = dg;
        dgi[3 * H + j] = dgh[3 * H + j] = d_o;
        dc[j] = dcj * f;
        dh[j] = 0.0f; /* h_prev reaches h only through w_hh */
    }
}

/* ---- reference: one sequence, double precision, straight from the equations ---- */

/* x (L,I) -> gates a (L,4H) after their nonlinearity, c (L+1,H), h (L+1,H)
 * (row 0 is the zero initial state). */
static void lstm_states_ref(double *a, double *c, double *h, const float *x, int64_t L,
                            const struct rnn_dir *w, int64_t nin, int64_t H)
{
    for (int64_t t = 0; t < L; t++) {
        for (int64_t r = 0; r < 4 * H; r++) {
            double s = (w->b_ih ? w->b_ih[r] : 0) + (w->b_hh ? w->b_hh[r] : 0);
            for (int64_t i = 0; i < nin; i++) s += (double)w->w_ih[r * nin + i] * x[t * nin + i];
            for (int64_t k = 0; k < H; k++) s += (double)w->w_hh[r * H + k] * h[t * H + k];
            a[t * 4 * H + r] = r / H == 2 ? tanh(s) : rnn_ref_sigmoid(s);
        }
        const double *g = a + t * 4 * H;
        for (int64_t k = 0; k < H; k++) {
            c[(t + 1) * H + k] = g[H + k] * c[t * H + k] + g[k] * g[2 * H + k];
            h[(t + 1) * H + k] = g[3 * H + k] * tanh(c[(t + 1) * H + k]);
        }
    }
}

static void lstm_seq_ref(float *h, const float *x, int64_t L, const struct rnn_dir *w, int64_t nin,
                         int64_t H)
{
    double *a = rnn_ref_alloc(L * 4 * H), *c = rnn_ref_alloc((L + 1) * H),
           *hh = rnn_ref_alloc((L + 1) * H);
    lstm_states_ref(a, c, hh, x, L, w, nin, H);
    for (int64_t k = 0; k < L * H; k++) h[k] = (float)hh[H + k];
    free(a), free(c), free(hh);
}

static void lstm_seq_bwd_ref(float *dx, const struct rnn_dir_grad *gr, const float *dh_out,
                             const float *x, int64_t L, const struct rnn_dir *w, int64_t nin,
                             int64_t H)
{
    double *a = rnn_ref_alloc(L * 4 * H), *c = rnn_ref_alloc((L + 1) * H),
           *h = rnn_ref_alloc((L + 1) * H);
    double *dh = rnn_ref_alloc(H), *dc = rnn_ref_alloc(H), *pre = rnn_ref_alloc(4 * H);
    lstm_states_ref(a, c, h, x, L, w, nin, H);
    for (int64_t t = L - 1; t >= 0; t--) {
        const double *g = a + t * 4 * H;
        for (int64_t k = 0; k < H; k++) {
            double dhk = dh[k] + dh_out[t * H + k], tc = tanh(c[(t + 1) * H + k]);
            double i = g[k], f = g[H + k], gg = g[2 * H + k], o = g[3 * H + k];
            double dck = dc[k] + dhk * o * (1 - tc * tc);
            pre[k] = dck * gg * i * (1 - i);
            pre[H + k] = dck * c[t * H + k] * f * (1 - f);
            pre[2 * H + k] = dck * i * (1 - gg * gg);
            pre[3 * H + k] = dhk * tc * o * (1 - o);
            dc[k] = dck * f;
            dh[k] = 0;
        }
        for (int64_t r = 0; r < 4 * H; r++) {
            if (gr->b_ih) gr->b_ih[r] += (float)pre[r];
            if (gr->b_hh) gr->b_hh[r] += (float)pre[r];
            for (int64_t i = 0; i < nin; i++) {
                if (gr->w_ih) gr->w_ih[r * nin + i] += (float)(pre[r] * x[t * nin + i]);
                dx[t * nin + i] += (float)(pre[r] * w->w_ih[r * nin + i]);
            }
            for (int64_t k = 0; k < H; k++) {
                if (gr->w_hh) gr->w_hh[r * H + k] += (float)(pre[r] * h[t * H + k]);
                dh[k] += pre[r] * w->w_hh[r * H + k];
            }
        }
    }
    free(a), free(c), free(h), free(dh), free(dc), free(pre);
}

static const struct rnn_cell lstm_cell = {
    .name = "lstm",
    .G = 4,
    .S = LSTM_S,
    .fwd = lstm_fwd,
    .fwd_inf = lstm_fwd_inf,
    .bwd = lstm_bwd,
    .seq_ref = lstm_seq_ref,
    .seq_bwd_ref = lstm_seq_bwd_ref,
};

struct loom_tensor *loom_lstm(struct loom_ctx *c, struct loom_tensor *x, const int32_t *lengths,
                              const struct loom_rnn_weights *fwd,
                              const struct loom_rnn_weights *bwd)
{
    return rnn_op(c, &lstm_cell, x, lengths, fwd, bwd);
}

static struct loom_tensor *gc_case(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    return rnn_gc_case(c, gc, k, &lstm_cell);
}

static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    return rnn_check_ref(c, r, err, &lstm_cell);
}

const struct loom_op_info loom_op_lstm = {
    .name = "lstm", .ncases = RNN_GC_CASES, .gc_case = gc_case, .check_ref = check_ref};
