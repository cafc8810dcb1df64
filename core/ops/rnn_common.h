/*
 * rnn_common.h — what the LSTM and the GRU share (private to core/ops/):
 * argument checks, the input projection, direction handling, the masking of
 * padded steps, backward through time and the tape entry. A cell (lstm.c,
 * gru.c) only gives its per-row step, forward and backward, and its plain C
 * reference over one sequence.
 *
 * How a run is laid out (fast path):
 * - Rows are put in order of decreasing length (perm, a stable counting
 *   sort), so at step s the rows still running are the prefix k < act[s] in
 *   both directions: the forward direction is at time s, the reverse one at
 *   time len-1-s. Finished rows cost nothing and need no mask.
 * - The input projection of every valid step (P = sum(len) of them: padded
 *   steps are left out, 40% of N*T for texts of 8-48 tokens in 48) and both
 *   directions is one sgemm into xp (P, ndir*G*H), row n's step t at row
 *   start[n] + t; each step then does one recurrent sgemm over its act[s]
 *   running rows and one fused loop of gate nonlinearities.
 * - States are "packed" as PyTorch's PackedSequence: step s owns rows
 *   off[s] .. off[s]+act[s]-1 of hs (P,H) and save (P,S*H), P = sum(len), so
 *   the previous step's h is a contiguous matrix for the next sgemm.
 * - Backward through time: per step, the recurrent part (dW_hh with one
 *   sgemm, dh_prev = dgh W_hh); the input part is gathered in dxp (N*T,
 *   ndir*G*H), packed as xp) and becomes dx and dW_ih in one sgemm each at
 *   the end.
 * - Inference (nothing requires grad) keeps no packed states: each direction
 *   carries h and the cell's state (N,H) in place, row k of the packed order
 *   in row k, and the step is the cell's fwd_inf, the same arithmetic as fwd
 *   without the saves, so its outputs are the training forward's bit for bit
 *   (rnn_check_ref checks it).
 */
#ifndef LOOM_CORE_OPS_RNN_COMMON_H
#define LOOM_CORE_OPS_RNN_COMMON_H

#include <math.h>

#include "../ops.h"
#include "../registry.h"
#include "../threads.h"

/* One direction's weights as raw buffers, PyTorch's layout:
 * w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H) or NULL. */
struct rnn_dir {
    const float *w_ih, *w_hh, *b_ih, *b_hh;
};
/* Their gradients; NULL where not wanted. Accumulated into. */
struct rnn_dir_grad {
    float *w_ih, *w_hh, *b_ih, *b_hh;
};

struct rnn_cell {
    const char *name;
    int G; /* gate blocks of H in w_ih's rows: 4 (LSTM), 3 (GRU) */
    int S; /* floats per hidden unit a step saves for backward */
    /* One row of one step. xp (G*H): x w_ih^T; hp (G*H): h_prev w_hh^T
     * (biases not added: the cell adds bih, bhh (G*H), saving a pass over
     * xp); hprev (H); save_prev (S*H): the previous step's save. At the
     * first step hp, hprev, save_prev are zeros. Writes h (H), save (S*H). */
    void (*fwd)(float *restrict h, float *restrict save, const float *restrict xp,
                const float *restrict hp, const float *restrict bih, const float *restrict bhh,
                const float *restrict hprev, const float *restrict save_prev, int64_t H);
    /* The same step for inference: h (H) holds h_prev on entry (zeros at the
     * first step, as hp) and h after; st (H) the state the cell carries
     * besides h (LSTM: c; unused by the GRU), updated in place. */
    void (*fwd_inf)(float *restrict h, float *restrict st, const float *restrict xp,
                    const float *restrict hp, const float *restrict bih, const float *restrict bhh,
                    int64_t H);
    /* Its backward. dh (H): dL/dh of this step, replaced by the part of
     * dL/dh_prev that bypasses w_hh; dc (H): the cell's own carried state
     * gradient (LSTM), updated in place the same way. Writes dgi (G*H), the
     * gradient of xp (and b_ih), and dgh (G*H), the gradient of hp (and
     * b_hh). */
    void (*bwd)(float *restrict dgi, float *restrict dgh, float *restrict dh, float *restrict dc,
                const float *restrict save, const float *restrict save_prev,
                const float *restrict hprev, int64_t H);
    /* Plain C reference over one sequence in its own order: x (L,I) -> h
     * (L,H), and the backward that adds into dx (L,I) and g from dh (L,H). */
    void (*seq_ref)(float *h, const float *x, int64_t L, const struct rnn_dir *w, int64_t nin,
                    int64_t H);
    void (*seq_bwd_ref)(float *dx, const struct rnn_dir_grad *g, const float *dh, const float *x,
                        int64_t L, const struct rnn_dir *w, int64_t nin, int64_t H);
};

/* A run: the packed order and everything forward keeps for backward
 * (arena memory). */
struct rnn_run {
    const struct rnn_cell *cell;
    int64_t N, T, nin, H;
    int ndir;
    const int32_t *len; /* caller's */
    int32_t *perm;      /* (N) rows by decreasing length */
    int64_t *act;       /* (maxlen) rows running at step s */
    int64_t *off;       /* (maxlen + 1) packed offset of step s; off[maxlen] = P */
    int64_t *start;     /* (N + 1): row n's steps are rows start[n] + t of xp, dxp */
    float *xk;          /* (P, nin): x's valid steps, packed by the forward for the
                           backward (a run with save whose steps are padded), else NULL */
    int64_t P, maxlen;
    float *hs[2], *save[2], *zero; /* packed (P,H), (P,S*H) (NULL without save);
                                      zero (max(G,S)*H) */
};

/* Allocate and fill the plan, and the saved buffers when `save` (training;
 * rnn_forward_infer needs none). false on out of memory or a size overflow. */
bool rnn_run_init(struct rnn_run *r, struct loom_arena *a, const struct rnn_cell *cell, int64_t N,
                  int64_t T, int64_t nin, int64_t H, int ndir, const int32_t *len, bool save);
/* x (N,T,I) -> y (N,T,ndir*H), saving for rnn_backward. Scratch from a,
 * released before return. */
bool rnn_forward(struct rnn_run *r, struct loom_arena *a, float *y, const float *x,
                 const struct rnn_dir *w);
/* The same y, saving nothing (a run made with save false or true). */
bool rnn_forward_infer(const struct rnn_run *r, struct loom_arena *a, float *y, const float *x,
                       const struct rnn_dir *w);
/* Accumulates into dx (N,T,I) (or NULL) and g[d] from dy (N,T,ndir*H). */
bool rnn_backward(const struct rnn_run *r, struct loom_arena *a, float *dx,
                  const struct rnn_dir_grad *g, const float *dy, const float *x,
                  const struct rnn_dir *w);

/* The reference over a padded batch: each row and direction through the
 * cell's seq_ref (reverse: the row's first len steps reversed). */
void rnn_ref(const struct rnn_cell *cell, float *y, const float *x, const int32_t *len, int64_t N,
             int64_t T, int64_t nin, int64_t H, int ndir, const struct rnn_dir *w);
void rnn_bwd_ref(const struct rnn_cell *cell, float *dx, const struct rnn_dir_grad *g,
                 const float *dy, const float *x, const int32_t *len, int64_t N, int64_t T,
                 int64_t nin, int64_t H, int ndir, const struct rnn_dir *w);

/* The op: checks, forward, tape entry. */
struct loom_tensor *rnn_op(struct loom_ctx *c, const struct rnn_cell *cell, struct loom_tensor *x,
                           const int32_t *lengths, const struct loom_rnn_weights *fwd,
                           const struct loom_rnn_weights *bwd);

/* Shared checks: gradient-check case k of an RNN op (ncases RNN_GC_CASES),
 * and the fast kernels against the reference on random shapes. */
#define RNN_GC_CASES 6
struct loom_tensor *rnn_gc_case(struct loom_ctx *c, struct loom_gc *gc, int k,
                                const struct rnn_cell *cell);
enum loom_status rnn_check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err,
                               const struct rnn_cell *cell);

/* What the cells share: exp, sigmoid and tanh written so that the
 * compiler vectorises the gate loops (glibc's expf and tanhf are scalar
 * calls; tanhf alone was 20% of a bidirectional LSTM's forward+backward).
 * exp: |x| clamped to 87 on its bits (an integer compare: a float compare
 * keeps gcc from vectorising under the default -ftrapping-math; NaN passes
 * through), then 2^n e^r with |r| <= ln2/2, n rounded by the 1.5*2^23 trick
 * and a degree-6 polynomial (Cephes' expf coefficients): within 1.4 ulp of
 * exp on [-87, 87], saturating outside, which sigmoid and tanh absorb. */
static inline float rnn_expf(float x)
{
    union {
        float f;
        int32_t i;
        uint32_t u;
    } v = {x}, n, e;
    int32_t ax = v.i & 0x7FFFFFFF;
    ax = ax > 0x42AE0000 && ax <= 0x7F800000 ? 0x42AE0000 : ax; /* 87.0f; inf too */
    v.i = (v.i & INT32_MIN) | ax;
    x = v.f;
    float k = x * 1.44269504f + 12582912.0f; /* round(x / ln2) in the low bits */
    n.f = k;
    k -= 12582912.0f;
    float r = x - k * 0.693359375f + k * 2.12194440e-4f; /* ln2 in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    e.u = (n.u - 0x4B400000u + 127u) << 23; /* 2^n */
    return p * e.f;
}
static inline float rnn_sigmoid(float x)
{
    return 1.0f / (1.0f + rnn_expf(-x));
}
/* 1 - 2 / (1 + e^2x): an absolute error of a few 1e-8 near 0, where the
 * relative error of this form grows; the gates only need the absolute. */
static inline float rnn_tanh(float x)
{
    return 1.0f - 2.0f / (1.0f + rnn_expf(2.0f * x));
}

/* For the references: a zeroed double buffer (asserts on out of memory:
 * test code) and the sigmoid in double. */
double *rnn_ref_alloc(int64_t n);
static inline double rnn_ref_sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

#endif
