/*
 * optim.h — the optimizers (SGD with momentum, AdamW) and gradient clipping,
 * over a parameter store (store.h). An update is one loop over each
 * parameter's contiguous range of the store's blocks: params, grads, and the
 * moments m (SGD's momentum buffer, Adam's first moment) and v (Adam's second
 * moment) at the same offsets.
 *
 * The update rules are PyTorch's (torch.optim.SGD with dampening 0, and
 * torch.optim.AdamW), so a run can be compared with the reference in
 * ../shared/bench. The learning rate and momentum/β1 of each step come from
 * the caller (a schedule, schedule.h), so one-cycle can cycle the momentum.
 * Each param group (store.h) multiplies the rate by its lr_mult and has its
 * own weight decay; frozen groups and buffers are never touched.
 *
 * State for exact resume: this struct (plain values, save it field by field)
 * plus the store's m and v blocks. Not thread-safe: one optimizer per store;
 * the loops themselves run on OpenMP threads.
 */
#ifndef LOOM_CORE_OPTIM_H
#define LOOM_CORE_OPTIM_H

#include "store.h"

enum loom_optim_type {
    LOOM_OPTIM_SGD,
    LOOM_OPTIM_ADAMW,
};

struct loom_optim {
    enum loom_optim_type type;
    bool nesterov; /* SGD: Nesterov momentum */
    float beta2;   /* AdamW: decay of the second moment (0.999) */
    float eps;     /* AdamW: added to sqrt(v) (1e-8) */
    int64_t step;  /* steps taken */
    /* Steps in which each group was updated: AdamW's bias correction counts
     * a group's own steps, as PyTorch's per-parameter state does, so a group
     * unfrozen late starts with a fully corrected first step. */
    int64_t group_step[LOOM_MAX_GROUPS];
};

/* SGD: with momentum μ and group weight decay λ (L2, added to the gradient),
 *     g = grad + λ p;  b = μ b + g;  d = nesterov ? g + μ b : b;  p -= lr d.
 * The momentum buffer b starts at zero, so its first value is g, as in
 * PyTorch. Always succeeds; err is unused. */
LOOM_WUR enum loom_status loom_optim_init_sgd(struct loom_optim *o, bool nesterov,
                                              struct loom_error *err);

/* AdamW with decoupled weight decay λ (Loshchilov & Hutter), at step t:
 *     p *= 1 - lr λ;  m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
 *     p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps).
 * LOOM_ERR_INVALID unless 0 <= beta2 < 1 and eps > 0 (finite). */
LOOM_WUR enum loom_status loom_optim_init_adamw(struct loom_optim *o, float beta2, float eps,
                                                struct loom_error *err);

/* One update of every trainable, non-frozen param of s from its gradient,
 * with rate lr (times the group's lr_mult) and momentum (SGD) or β1 (AdamW).
 * LOOM_ERR_INVALID (nothing changed) unless s is finalized, lr is finite and
 * >= 0, and 0 <= beta1_or_momentum < 1. */
LOOM_WUR enum loom_status loom_optim_step(struct loom_optim *o, struct loom_store *s, float lr,
                                          float beta1_or_momentum);

/* Scale the gradients of the trainable, non-frozen params so that their
 * global L2 norm (computed in double) is at most max_norm; gradients already
 * within it are left alone. *norm_before (may be NULL) gets the norm before
 * clipping. LOOM_ERR_INVALID unless max_norm is finite and > 0;
 * LOOM_ERR_NUMERIC when the norm is not finite (a NaN or Inf gradient): then
 * the gradients are untouched and *norm_before is not written, and the
 * caller should skip the step. */
LOOM_WUR enum loom_status loom_clip_grad_norm(struct loom_store *s, float max_norm,
                                              double *norm_before);

#endif
