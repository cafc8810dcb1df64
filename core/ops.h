/*
 * ops.h — every differentiable op of the engine. Each op computes its forward
 * at once and, when an input requires grad and the context records, pushes
 * its backward on the tape (tensor.h). Each lives in one file under core/ops/
 * with its backward, shape checks, plain C reference kernel (*_ref) and its
 * gradient-check cases (registry.def lists them).
 *
 * Shapes use the project's letters (base.h). "Rows" are the first dimension.
 * Integer side inputs (ids, labels, lengths, bag offsets) are caller memory
 * that must stay alive until backward has run (normally: the step's batch).
 * All ops return NULL on failure with the reason in c->err (tensor.h).
 */
#ifndef LOOM_CORE_OPS_H
#define LOOM_CORE_OPS_H

#include "tensor.h"

/* ---- dense ---- */

/* x (N,I), w (O,I), b (O) or NULL -> y (N,O) = x w^T + b. x may have more
 * than 2 dims: all but the last are rows ((N,T,I) -> (N,T,O)). */
struct loom_tensor *loom_linear(struct loom_ctx *c, struct loom_tensor *x, struct loom_tensor *w,
                                struct loom_tensor *b);
/* a (M,K) (or (K,M) if trans_a), b (K,N) (or (N,K) if trans_b) -> (M,N). */
struct loom_tensor *loom_matmul(struct loom_ctx *c, struct loom_tensor *a, struct loom_tensor *b,
                                bool trans_a, bool trans_b);

/* ---- elementwise ---- */

/* a + b. Same shape, or b a row vector of a's last-dim width (broadcast). */
struct loom_tensor *loom_add(struct loom_ctx *c, struct loom_tensor *a, struct loom_tensor *b);
/* a * b, same shapes. */
struct loom_tensor *loom_mul(struct loom_ctx *c, struct loom_tensor *a, struct loom_tensor *b);
/* s * x. */
struct loom_tensor *loom_scale(struct loom_ctx *c, struct loom_tensor *x, float s);
struct loom_tensor *loom_relu(struct loom_ctx *c, struct loom_tensor *x);
struct loom_tensor *loom_leaky_relu(struct loom_ctx *c, struct loom_tensor *x, float slope);
/* x * Phi(x) with the exact normal CDF (erf). */
struct loom_tensor *loom_gelu(struct loom_ctx *c, struct loom_tensor *x);
struct loom_tensor *loom_tanh(struct loom_ctx *c, struct loom_tensor *x);
struct loom_tensor *loom_sigmoid(struct loom_ctx *c, struct loom_tensor *x);
/* lo + (hi - lo) * sigmoid(x): outputs with a known range. */
struct loom_tensor *loom_sigmoid_range(struct loom_ctx *c, struct loom_tensor *x, float lo,
                                       float hi);
/* Inverted dropout with probability p, only when c->training; the mask comes
 * from c->rng (reproducible). Identity (same tensor) otherwise or if p == 0. */
struct loom_tensor *loom_dropout(struct loom_ctx *c, struct loom_tensor *x, float p);

/* ---- shape ---- */

/* Concatenate along the last dim: xs[i] (N,C_i) -> (N, sum C_i). Every input
 * has the same leading dims. */
struct loom_tensor *loom_concat(struct loom_ctx *c, int n, struct loom_tensor *const *xs);
/* The inverse: x (N, sum sizes) -> outs[i] (N, sizes[i]). Returns false on failure. */
bool loom_split(struct loom_ctx *c, struct loom_tensor *x, int n, const int64_t *sizes,
                struct loom_tensor **outs);

/* ---- embeddings ---- */

/* w (V,E), ids[n] in [0,V) -> (n,E). Backward adds into the used rows of
 * w's grad only. An id out of range is an error (c->err names it). */
struct loom_tensor *loom_embedding(struct loom_ctx *c, struct loom_tensor *w, const int32_t *ids,
                                   int64_t n);

/* ---- normalisation ---- */

/* Batch norm over x (N,C) (1-D) or (N,C,H,W) (2-D), per channel C.
 * Training (c->training): batch statistics, and running_mean/var (C) updated
 * in place: r = (1-momentum) r + momentum * batch (unbiased variance, as
 * PyTorch). Evaluation: running statistics. gamma, beta (C). */
struct loom_tensor *loom_batch_norm(struct loom_ctx *c, struct loom_tensor *x,
                                    struct loom_tensor *gamma, struct loom_tensor *beta,
                                    struct loom_tensor *running_mean,
                                    struct loom_tensor *running_var, float momentum, float eps);

/* ---- convolution and pooling (oneDNN, primitives cached per shape) ---- */

/* x (N,C,H,W), w (O,C,K,K) with K in {1,3}, b (O) or NULL -> (N,O,H',W'),
 * H' = (H + 2 pad - K) / stride + 1. */
struct loom_tensor *loom_conv2d(struct loom_ctx *c, struct loom_tensor *x, struct loom_tensor *w,
                                struct loom_tensor *b, int stride, int pad);
/* One stage of loom_cnn_trunk: w (C_i, C_{i-1}, 3, 3) and batch norm's
 * gamma, beta, running mean and running var (C_i). */
struct loom_cnn_stage {
    struct loom_tensor *w, *gamma, *beta, *mean, *var;
};
#define LOOM_CNN_TRUNK_MAX_STAGES 16
/* The image CNN as one op: x (N,C,H,W) -> (N,C_last), the same function as
 * per stage i conv2d(w, stride 1, pad 1, no bias) -> batch_norm(momentum,
 * eps; training as c->training, running statistics updated alike) -> relu,
 * max_pool2d(2, 2) between stages, then global_avg_pool. Every stage but the
 * last needs H, W >= 2. In bfloat16 when c->bf16 and the CPU has it. */
struct loom_tensor *loom_cnn_trunk(struct loom_ctx *c, struct loom_tensor *x, int nstages,
                                   const struct loom_cnn_stage *stages, float momentum, float eps);
/* Max pool, window k, stride s, no padding: (N,C,H,W) -> (N,C,(H-k)/s+1,(W-k)/s+1). */
struct loom_tensor *loom_max_pool2d(struct loom_ctx *c, struct loom_tensor *x, int k, int s);
/* (N,C,H,W) -> (N,C): mean over H and W. */
struct loom_tensor *loom_global_avg_pool(struct loom_ctx *c, struct loom_tensor *x);

/* ---- bags of variable size (attention pooling) ----
 * Bag i owns rows offsets[i] .. offsets[i+1]-1 of the flat item tensors;
 * offsets has nbags+1 entries, offsets[0] = 0, non-decreasing. A bag may be
 * empty. */

/* scores (n) or (n,1) -> weights (n): softmax within each bag. */
struct loom_tensor *loom_bag_softmax(struct loom_ctx *c, struct loom_tensor *scores,
                                     const int64_t *offsets, int64_t nbags);
/* h (n,D), a (n) -> (nbags,D): z_i = sum_{k in bag i} a_k h_k. An empty bag
 * gives `empty` (D) when given (a learned "no item" vector), zeros otherwise. */
struct loom_tensor *loom_bag_weighted_sum(struct loom_ctx *c, struct loom_tensor *h,
                                          struct loom_tensor *a, const int64_t *offsets,
                                          int64_t nbags, struct loom_tensor *empty);
/* h (n,D) -> (nbags,D): mean / max over each bag; empty bags as above. */
struct loom_tensor *loom_bag_mean(struct loom_ctx *c, struct loom_tensor *h, const int64_t *offsets,
                                  int64_t nbags, struct loom_tensor *empty);
struct loom_tensor *loom_bag_max(struct loom_ctx *c, struct loom_tensor *h, const int64_t *offsets,
                                 int64_t nbags, struct loom_tensor *empty);

/* ---- sequences: x (N,T,D) padded batches, lengths[N] in [0,T] ---- */

/* PyTorch's layout, gate order i,f,g,o (LSTM) and r,z,n (GRU):
 * w_ih (G*H, I), w_hh (G*H, H), b_ih (G*H), b_hh (G*H), G = 4 or 3. */
struct loom_rnn_weights {
    struct loom_tensor *w_ih, *w_hh, *b_ih, *b_hh;
};
/* x (N,T,I) -> (N,T,H) or (N,T,2H) when bwd is given (bidirectional: the
 * reverse direction starts at each row's last valid step). Steps at or past
 * a row's length give zeros and do not change its state. */
struct loom_tensor *loom_lstm(struct loom_ctx *c, struct loom_tensor *x, const int32_t *lengths,
                              const struct loom_rnn_weights *fwd,
                              const struct loom_rnn_weights *bwd);
struct loom_tensor *loom_gru(struct loom_ctx *c, struct loom_tensor *x, const int32_t *lengths,
                             const struct loom_rnn_weights *fwd,
                             const struct loom_rnn_weights *bwd);
/* x (N,T,D) -> (N,D): mean / max over the first lengths[i] steps; a row of
 * length 0 gives zeros. */
struct loom_tensor *loom_time_mean(struct loom_ctx *c, struct loom_tensor *x,
                                   const int32_t *lengths);
struct loom_tensor *loom_time_max(struct loom_ctx *c, struct loom_tensor *x,
                                  const int32_t *lengths);
/* 1-D convolution over time, "same" length: x (N,T,C), w (O,C,K) with K odd,
 * b (O) or NULL -> (N,T,O); steps past a row's length read as zeros and give
 * zeros. */
struct loom_tensor *loom_conv1d(struct loom_ctx *c, struct loom_tensor *x, struct loom_tensor *w,
                                struct loom_tensor *b, const int32_t *lengths);

/* ---- losses: each returns a scalar tensor (1) ----
 * weight (N) optional per-row weights (0 drops a row, e.g. a missing target);
 * the loss is sum(weight * per_row) / sum(weight), 0 when the sum is 0. */

/* pred, target (N) or (N,D): mean squared error (mean over D too). */
struct loom_tensor *loom_mse_loss(struct loom_ctx *c, struct loom_tensor *pred,
                                  struct loom_tensor *target, const float *weight);
/* Huber with threshold delta (quadratic within delta, linear outside). */
struct loom_tensor *loom_huber_loss(struct loom_ctx *c, struct loom_tensor *pred,
                                    struct loom_tensor *target, float delta, const float *weight);
/* Binary cross-entropy on logits, numerically stable; target in [0,1];
 * pos_weight (D) or NULL weights positive terms per column. */
struct loom_tensor *loom_bce_logits_loss(struct loom_ctx *c, struct loom_tensor *logits,
                                         struct loom_tensor *target, const float *pos_weight,
                                         const float *weight);
/* Softmax cross-entropy: logits (N,K), labels[N] in [0,K) or ignore_index
 * (skipped); class_weight (K) or NULL. Mean weighted as PyTorch:
 * sum(w_y * l) / sum(w_y) over the rows not ignored. */
struct loom_tensor *loom_softmax_ce_loss(struct loom_ctx *c, struct loom_tensor *logits,
                                         const int32_t *labels, const float *class_weight,
                                         int32_t ignore_index);
/* Cosine embedding loss over rows of a, b (N,D): y[i] = +1: 1 - cos;
 * y[i] = -1: max(0, cos - margin). y NULL means every y = +1. */
struct loom_tensor *loom_cosine_loss(struct loom_ctx *c, struct loom_tensor *a,
                                     struct loom_tensor *b, const int8_t *y, float margin);

#endif
