/*
 * optim.c — SGD, AdamW and gradient clipping over a parameter store (see
 * optim.h). Each update is a plain loop over one parameter's contiguous
 * range, vectorised (omp simd) and spread over threads when the range is
 * large. The loops follow PyTorch's single-tensor implementations term by
 * term, so results agree with torch.optim to float rounding.
 */
#include <math.h>
#include <string.h>

#include "optim.h"

/* Elements below which a loop stays on one thread: the fork costs more. */
#define OPTIM_PAR 32768

enum loom_status loom_optim_init_sgd(struct loom_optim *o, bool nesterov, struct loom_error *err)
{
    (void)err;
    memset(o, 0, sizeof *o);
    o->type = LOOM_OPTIM_SGD;
    o->nesterov = nesterov;
    return LOOM_OK;
}

enum loom_status loom_optim_init_adamw(struct loom_optim *o, float beta2, float eps,
                                       struct loom_error *err)
{
    if (!(beta2 >= 0.0f && beta2 < 1.0f))
        return loom_error_set(err, LOOM_ERR_INVALID, "AdamW: beta2 %g is not in [0, 1)",
                              (double)beta2);
    if (!(eps > 0.0f && isfinite(eps)))
        return loom_error_set(err, LOOM_ERR_INVALID, "AdamW: eps %g must be finite and > 0",
                              (double)eps);
    memset(o, 0, sizeof *o);
    o->type = LOOM_OPTIM_ADAMW;
    o->beta2 = beta2;
    o->eps = eps;
    return LOOM_OK;
}

/* p, g, b (n): b is the momentum buffer. PyTorch's SGD with dampening 0:
 * the weight decay term joins the gradient (not stored back into g). */
static void sgd_update(float *restrict p, const float *restrict g, float *restrict b, int64_t n,
                       float lr, float mom, float wd, bool nesterov)
{
#pragma omp parallel for simd if (n > OPTIM_PAR)
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        float bi = mom * b[i] + d;
        b[i] = bi;
        p[i] -= lr * (nesterov ? d + mom * bi : bi);
    }
}

/* p, g, m, v (n). decay = 1 - lr λ; step_size = lr / (1 - β1^t);
 * bc2_sqrt = sqrt(1 - β2^t). */
static void adamw_update(float *restrict p, const float *restrict g, float *restrict m,
                         float *restrict v, int64_t n, float decay, float beta1, float beta2,
                         float step_size, float bc2_sqrt, float eps)
{
#pragma omp parallel for simd if (n > OPTIM_PAR)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

/* A param the optimizer and the clipper see: trainable, in a live group. */
static bool trainable(const struct loom_store *s, const struct loom_param *p)
{
    return !p->buffer && !s->groups[p->group].frozen;
}

enum loom_status loom_optim_step(struct loom_optim *o, struct loom_store *s, float lr,
                                 float beta1_or_momentum)
{
    float mom = beta1_or_momentum;
    if (!s->finalized || !(isfinite(lr) && lr >= 0.0f) || !(mom >= 0.0f && mom < 1.0f))
        return LOOM_ERR_INVALID;
    /* Per group: the rate, and AdamW's bias corrections for the group's own
     * step count (in double: β2^t for t in the millions needs it). */
    float glr[LOOM_MAX_GROUPS], step_size[LOOM_MAX_GROUPS], bc2_sqrt[LOOM_MAX_GROUPS];
    for (int k = 0; k < s->ngroups; k++) {
        glr[k] = lr * s->groups[k].lr_mult;
        double t = (double)(o->group_step[k] + 1);
        step_size[k] = (float)(glr[k] / (1.0 - pow(mom, t)));
        bc2_sqrt[k] = (float)sqrt(1.0 - pow(o->beta2, t));
    }
    for (int i = 0; i < s->n; i++) {
        struct loom_param *p = s->params[i];
        if (!trainable(s, p)) continue;
        const struct loom_param_group *grp = &s->groups[p->group];
        int k = p->group;
        size_t off = p->offset;
        float *data = s->data + off, *g = s->grad + off, *m = s->m + off, *v = s->v + off;
        if (o->type == LOOM_OPTIM_SGD)
            sgd_update(data, g, m, p->t.size, glr[k], mom, grp->weight_decay, o->nesterov);
        else
            adamw_update(data, g, m, v, p->t.size, 1.0f - glr[k] * grp->weight_decay, mom, o->beta2,
                         step_size[k], bc2_sqrt[k], o->eps);
    }
    for (int k = 0; k < s->ngroups; k++)
        if (!s->groups[k].frozen) o->group_step[k]++;
    o->step++;
    return LOOM_OK;
}

/* Σ g² of g (n) in double, in a fixed number of blocks summed in a fixed
 * order, so the result does not depend on the thread count. */
#define NORM_BLOCKS 64
static double sum_squares(const float *g, int64_t n)
{
    double part[NORM_BLOCKS];
    int64_t bs = (n + NORM_BLOCKS - 1) / NORM_BLOCKS;
#pragma omp parallel for if (n > OPTIM_PAR)
    for (int b = 0; b < NORM_BLOCKS; b++) {
        int64_t lo = b * bs, hi = LOOM_MIN(n, lo + bs);
        double acc = 0.0;
#pragma omp simd reduction(+ : acc)
        for (int64_t i = lo; i < hi; i++) acc += (double)g[i] * (double)g[i];
        part[b] = acc;
    }
    double sum = 0.0;
    for (int b = 0; b < NORM_BLOCKS; b++) sum += part[b];
    return sum;
}

static void scale(float *g, int64_t n, float k)
{
#pragma omp parallel for simd if (n > OPTIM_PAR)
    for (int64_t i = 0; i < n; i++) g[i] *= k;
}

enum loom_status loom_clip_grad_norm(struct loom_store *s, float max_norm, double *norm_before)
{
    if (!s->finalized || !(max_norm > 0.0f && isfinite(max_norm))) return LOOM_ERR_INVALID;
    double sum = 0.0;
    for (int i = 0; i < s->n; i++) {
        const struct loom_param *p = s->params[i];
        if (trainable(s, p)) sum += sum_squares(s->grad + p->offset, p->t.size);
    }
    /* A float squared cannot overflow a double: a non-finite sum means a
     * NaN or Inf gradient. */
    double norm = sqrt(sum);
    if (!isfinite(norm)) return LOOM_ERR_NUMERIC;
    /* Exactly max_norm after scaling (PyTorch adds 1e-6 to the norm and so
     * lands just below it). */
    if (norm > max_norm) {
        float k = (float)(max_norm / norm);
        for (int i = 0; i < s->n; i++) {
            const struct loom_param *p = s->params[i];
            if (trainable(s, p)) scale(s->grad + p->offset, p->t.size, k);
        }
    }
    if (norm_before) *norm_before = norm;
    return LOOM_OK;
}
