/*
 * loss.h — what the loss ops share (loss_regression.c, loss_class.c):
 * checking per-row weights, the weighted-mean convention of ops.h and the
 * scalar output.
 *
 * Convention: loss = sum_i w_i l_i / sum_i w_i, l_i the row's mean over its
 * D columns; w_i = 1 when no weights are given; 0 when the weights sum to 0.
 * A row of weight 0 is skipped, not multiplied by 0, so a missing target
 * stored as NaN in a dropped row cannot poison the loss or the gradients.
 */
#ifndef LOOM_CORE_OPS_LOSS_H
#define LOOM_CORE_OPS_LOSS_H

#include <math.h>

#include "../ops.h"

#define LOSS_PAR 32768 /* elements: below this, one thread */

/* Every w[i] finite and >= 0; else the failure (with the index) is recorded. */
static inline bool loss_weights_ok(struct loom_ctx *c, const char *op, const char *what,
                                   const float *w, int64_t n)
{
    for (int64_t i = 0; w && i < n; i++)
        if (!(w[i] >= 0.0f) || !isfinite(w[i])) {
            loom_fail(c, LOOM_ERR_INVALID, "%s: %s[%lld] = %g, expected a finite value >= 0", op,
                      what, (long long)i, (double)w[i]);
            return false;
        }
    return true;
}

static inline double loss_weight_sum(const float *w, int64_t n)
{
    if (!w) return (double)n;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += w[i];
    return s;
}

/* pred and target of the elementwise losses: the same number of rows and of
 * elements, so a head's (N,1) output meets an (N) target (no broadcasting:
 * PyTorch's (N,1) - (N) silently gives (N,N)). Sets *N, *D. */
static inline bool loss_pair_ok(struct loom_ctx *c, const char *op, const struct loom_tensor *p,
                                const struct loom_tensor *t, int64_t *N, int64_t *D)
{
    if (p->shape[0] != t->shape[0] || p->size != t->size) {
        char a[64], b[64];
        loom_fail(c, LOOM_ERR_SHAPE, "%s: prediction %s and target %s differ", op,
                  loom_shape_str(p, a, sizeof a), loom_shape_str(t, b, sizeof b));
        return false;
    }
    *N = p->shape[0];
    *D = *N ? p->size / *N : 0;
    return true;
}

/* The scale of the gradient of a weighted mean: g / (sum w * D), 0 when the
 * weights sum to 0 (the loss is the constant 0 then). */
static inline float loss_scale(float g, double wsum, int64_t D)
{
    double den = wsum * (double)D;
    return den > 0 ? (float)(g / den) : 0.0f;
}

#endif
