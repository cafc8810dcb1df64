/*
 * gru.c — the GRU cell, PyTorch's equations and gate order (r,z,n):
 *   r = sig(W_ir x + b_ir + W_hr h + b_hr),  z = sig(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h' = (1 - z) n + z h
 * The recurrence, directions, padding and the tape are rnn_common.c's; this
 * file holds the per-row step, its backward and the plain reference.
 * Backward, with hn = W_hn h + b_hn:
 *   dn = dh (1 - z);  dz = dh (h - n);  dh_prev = dh z (+ through W_hh);
 *   dn' = dn (1 - n^2);  dr' = dn' hn r (1 - r);  dz' = dz z (1 - z);
 *   the input side sees (dr', dz', dn'), the recurrent side (dr', dz', dn' r).
 */
#include <math.h>
#include <string.h>

#include "rnn_common.h"

/* Saved per hidden unit and step: r, z, n, hn. */
enum { GRU_S = 4 };

/* Unit j of a step: r, z, hn and n; the one body of gru_fwd and
 * gru_fwd_inf, so that both give the same bits. */
#define GRU_UNIT(j)                                                                                \
    float r = rnn_sigmoid(xp[j] + bih[j] + hp[j] + bhh[j]);                                        \
    float z = rnn_sigmoid(xp[H + j] + bih[H + j] + hp[H + j] + bhh[H + j]);                        \
    float hn = hp[2 * H + j] + bhh[2 * H + j];                                                     \
    float n = rnn_tanh(xp[2 * H + j] + bih[2 * H + j] + r * hn)

LOOM_TARGET_CLONES
static void gru_fwd(float *restrict h, float *restrict sv, const float *restrict xp,
                    const float *restrict hp, const float *restrict bih, const float *restrict bhh,
                    const float *restrict hprev, const float *restrict svp, int64_t H)
{
    (void)svp;
#pragma omp simd /* the S*H-strided blocks do not overlap */
    for (int64_t j = 0; j < H; j++) {
        GRU_UNIT(j);
        sv[j] = r, sv[H + j] = z, sv[2 * H + j] = n, sv[3 * H + j] = hn;
        h[j] = (1.0f - z) * n + z * hprev[j];
    }
}

/* Inference: h holds h_prev on entry; the GRU carries no other state. */
LOOM_TARGET_CLONES
static void gru_fwd_inf(float *restrict h, float *restrict st, const float *restrict xp,
                        const float *restrict hp, const float *restrict bih,
                        const float *restrict bhh, int64_t H)
{
    (void)st;
#pragma omp simd
    for (int64_t j = 0; j < H; j++) {
        GRU_UNIT(j);
        h[j] = (1.0f - z) * n + z * h[j];
    }
}

LOOM_TARGET_CLONES
static void gru_bwd(float *restrict dgi, float *restrict dgh, float *restrict dh,
                    float *restrict dc, const float *restrict sv, const float *restrict svp,
                    const float *restrict hprev, int64_t H)
{
    (void)dc, (void)svp;
#pragma omp simd /* the S*H-strided blocks do not overlap */
    for (int64_t j = 0; j < H; j++) {
        float r = sv[j], z = sv[H + j], n = sv[2 * H + j], hn = sv[3 * H + j];
        float dn = dh[j] * (1.0f - z) * (1.0f - n * n);
        float dr = dn * hn * r * (1.0f - r);
        float dz = dh[j] * (hprev[j] - n) * z * (1.0f - z);
        dgi[j] = dgh[j] = dr;
        dgi[H + j] = dgh[H + j] = dz;
        dgi[2 * H + j] = dn;
        dgh[2 * H + j] = dn * r;
        dh[j] *= z;
    }
}

/* ---- reference: one sequence, double precision, straight from the equations ---- */

/* x (L,I) -> a (L,4H): r, z, n, hn per step; h (L+1,H), row 0 zero. */
static void gru_states_ref(double *a, double *h, const float *x, int64_t L, const struct rnn_dir *w,
                           int64_t nin, int64_t H)
{
    double *gx = rnn_ref_alloc(3 * H), *gh = rnn_ref_alloc(3 * H);
    for (int64_t t = 0; t < L; t++) {
        for (int64_t r = 0; r < 3 * H; r++) {
            double sx = w->b_ih ? w->b_ih[r] : 0, sh = w->b_hh ? w->b_hh[r] : 0;
            for (int64_t i = 0; i < nin; i++) sx += (double)w->w_ih[r * nin + i] * x[t * nin + i];
            for (int64_t k = 0; k < H; k++) sh += (double)w->w_hh[r * H + k] * h[t * H + k];
            gx[r] = sx, gh[r] = sh;
        }
        double *g = a + t * 4 * H;
        for (int64_t k = 0; k < H; k++) {
            double r = rnn_ref_sigmoid(gx[k] + gh[k]), z = rnn_ref_sigmoid(gx[H + k] + gh[H + k]);
            double n = tanh(gx[2 * H + k] + r * gh[2 * H + k]);
            g[k] = r, g[H + k] = z, g[2 * H + k] = n, g[3 * H + k] = gh[2 * H + k];
            h[(t + 1) * H + k] = (1 - z) * n + z * h[t * H + k];
        }
    }
    free(gx), free(gh);
}

static void gru_seq_ref(float *h, const float *x, int64_t L, const struct rnn_dir *w, int64_t nin,
                        int64_t H)
{
    double *a = rnn_ref_alloc(L * 4 * H), *hh = rnn_ref_alloc((L + 1) * H);
    gru_states_ref(a, hh, x, L, w, nin, H);
    for (int64_t k = 0; k < L * H; k++) h[k] = (float)hh[H + k];
    free(a), free(hh);
}

static void gru_seq_bwd_ref(float *dx, const struct rnn_dir_grad *gr, const float *dh_out,
                            const float *x, int64_t L, const struct rnn_dir *w, int64_t nin,
                            int64_t H)
{
    double *a = rnn_ref_alloc(L * 4 * H), *h = rnn_ref_alloc((L + 1) * H), *dh = rnn_ref_alloc(H);
    double *pi = rnn_ref_alloc(3 * H), *ph = rnn_ref_alloc(3 * H);
    gru_states_ref(a, h, x, L, w, nin, H);
    for (int64_t t = L - 1; t >= 0; t--) {
        const double *g = a + t * 4 * H;
        for (int64_t k = 0; k < H; k++) {
            double d = dh[k] + dh_out[t * H + k];
            double r = g[k], z = g[H + k], n = g[2 * H + k], hn = g[3 * H + k];
            double dn = d * (1 - z) * (1 - n * n);
            pi[k] = ph[k] = dn * hn * r * (1 - r);
            pi[H + k] = ph[H + k] = d * (h[t * H + k] - n) * z * (1 - z);
            pi[2 * H + k] = dn;
            ph[2 * H + k] = dn * r;
            dh[k] = d * z;
        }
        for (int64_t r = 0; r < 3 * H; r++) {
            if (gr->b_ih) gr->b_ih[r] += (float)pi[r];
            if (gr->b_hh) gr->b_hh[r] += (float)ph[r];
            for (int64_t i = 0; i < nin; i++) {
                if (gr->w_ih) gr->w_ih[r * nin + i] += (float)(pi[r] * x[t * nin + i]);
                dx[t * nin + i] += (float)(pi[r] * w->w_ih[r * nin + i]);
            }
            for (int64_t k = 0; k < H; k++) {
                if (gr->w_hh) gr->w_hh[r * H + k] += (float)(ph[r] * h[t * H + k]);
                dh[k] += ph[r] * w->w_hh[r * H + k];
            }
        }
    }
    free(a), free(h), free(dh), free(pi), free(ph);
}

static const struct rnn_cell gru_cell = {
    .name = "gru",
    .G = 3,
    .S = GRU_S,
    .fwd = gru_fwd,
    .fwd_inf = gru_fwd_inf,
    .bwd = gru_bwd,
    .seq_ref = gru_seq_ref,
    .seq_bwd_ref = gru_seq_bwd_ref,
};

struct loom_tensor *loom_gru(struct loom_ctx *c, struct loom_tensor *x, const int32_t *lengths,
                             const struct loom_rnn_weights *fwd, const struct loom_rnn_weights *bwd)
{
    return rnn_op(c, &gru_cell, x, lengths, fwd, bwd);
}

static struct loom_tensor *gc_case(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    return rnn_gc_case(c, gc, k, &gru_cell);
}

static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    return rnn_check_ref(c, r, err, &gru_cell);
}

const struct loom_op_info loom_op_gru = {
    .name = "gru", .ncases = RNN_GC_CASES, .gc_case = gc_case, .check_ref = check_ref};
