/*
 * loss_class.c — classification losses on logits: binary cross-entropy
 * (binary and multi-label outputs) and softmax cross-entropy (multi-class,
 * and next-token prediction over (N,T,V) logits). Both work on logits, never
 * on probabilities, so that ±100 stays finite. Each gives a scalar (1).
 * Regression losses are in loss_regression.c.
 *
 * The fast kernels are OpenMP loops over rows in float with double totals;
 * each has a plain double-precision *_ref twin.
 */
#include <math.h>
#include <string.h>

#include "../registry.h"
#include "check.h"
#include "loss.h"

/* ---- binary cross-entropy on logits (PyTorch's BCEWithLogitsLoss) ----
 * With L = 1 + (pw_d - 1) t (L = 1 without pos_weight) and
 * sp(-x) = log(1 + e^-x) = max(-x, 0) + log1p(e^-|x|) (no overflow):
 *   l = (1 - t) x + L sp(-x)   (= max(x,0) - x t + log1p(e^-|x|) when L = 1)
 *   dl/dx = (1 - t) - L sigmoid(-x)   (= sigmoid(x) - t when L = 1)
 *   dl/dt = -x + (pw_d - 1) sp(-x). */

static inline float softplus_neg(float x)
{
    return fmaxf(-x, 0.0f) + log1pf(expf(-fabsf(x)));
}

/* x, t (N,D), pw (D) or NULL, w (N) or NULL -> sum_i w_i sum_d l_id. */
static double bce_fwd(const float *x, const float *t, const float *pw, const float *w, int64_t N,
                      int64_t D)
{
    double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (N * D > LOSS_PAR)
    for (int64_t i = 0; i < N; i++) {
        float wi = w ? w[i] : 1.0f, r = 0;
        if (wi == 0) continue;
        const float *xi = x + i * D, *ti = t + i * D;
        for (int64_t d = 0; d < D; d++) {
            float L = pw ? 1.0f + (pw[d] - 1.0f) * ti[d] : 1.0f;
            r += (1.0f - ti[d]) * xi[d] + L * softplus_neg(xi[d]);
        }
        s += (double)wi * r;
    }
    return s;
}

static double bce_fwd_ref(const float *x, const float *t, const float *pw, const float *w,
                          int64_t N, int64_t D)
{
    double s = 0;
    for (int64_t i = 0; i < N; i++) {
        double wi = w ? w[i] : 1.0;
        for (int64_t d = 0; d < D && wi != 0; d++) {
            double xv = x[i * D + d], tv = t[i * D + d], p = pw ? pw[d] : 1.0;
            /* -[p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], the logs
             * of sigmoid written as -softplus to stay finite */
            double log_sig = -(fmax(-xv, 0) + log1p(exp(-fabs(xv))));
            double log_1msig = -(fmax(xv, 0) + log1p(exp(-fabs(xv))));
            s += wi * -(p * tv * log_sig + (1 - tv) * log_1msig);
        }
    }
    return s;
}

/* dx, dt (either may be NULL) += k w_i dl/dx, k w_i dl/dt. */
static void bce_bwd(float *dx, float *dt, float k, const float *x, const float *t, const float *pw,
                    const float *w, int64_t N, int64_t D)
{
#pragma omp parallel for schedule(static) if (N * D > LOSS_PAR)
    for (int64_t i = 0; i < N; i++) {
        float c = k * (w ? w[i] : 1.0f);
        if (c == 0) continue;
        for (int64_t d = 0; d < D; d++) {
            int64_t j = i * D + d;
            float p = pw ? pw[d] : 1.0f, L = 1.0f + (p - 1.0f) * t[j];
            /* sigmoid(-x) = 1 / (1 + e^x): e^x = inf gives 0, not NaN */
            if (dx) dx[j] += c * ((1.0f - t[j]) - L / (1.0f + expf(x[j])));
            if (dt) dt[j] += c * (-x[j] + (p - 1.0f) * softplus_neg(x[j]));
        }
    }
}

static void bce_bwd_ref(float *dx, float *dt, float k, const float *x, const float *t,
                        const float *pw, const float *w, int64_t N, int64_t D)
{
    for (int64_t i = 0; i < N; i++) {
        double wi = w ? w[i] : 1.0;
        for (int64_t d = 0; d < D && wi != 0; d++) {
            double xv = x[i * D + d], tv = t[i * D + d], p = pw ? pw[d] : 1.0;
            double sig = xv >= 0 ? 1 / (1 + exp(-xv)) : exp(xv) / (1 + exp(xv));
            double log_sig = -(fmax(-xv, 0) + log1p(exp(-fabs(xv))));
            double log_1msig = -(fmax(xv, 0) + log1p(exp(-fabs(xv))));
            /* d/dx of -[p t log sig + (1-t) log(1-sig)] */
            if (dx) dx[i * D + d] += (float)(k * wi * -(p * tv * (1 - sig) - (1 - tv) * sig));
            if (dt) dt[i * D + d] += (float)(k * wi * -(p * log_sig - log_1msig));
        }
    }
}

struct bce_saved {
    struct loom_tensor *x, *t, *y;
    const float *pw, *w;
    double wsum;
    int64_t N, D;
};

static void bce_backward(struct loom_ctx *c, void *p)
{
    struct bce_saved *s = p;
    if (!s->y->grad) return;
    float *dx = loom_needs_grad(c, s->x) ? loom_grad(c, s->x) : NULL;
    float *dt = loom_needs_grad(c, s->t) ? loom_grad(c, s->t) : NULL;
    if (c->status) return;
    float k = loss_scale(s->y->grad[0], s->wsum, s->D);
    bce_bwd(dx, dt, k, s->x->data, s->t->data, s->pw, s->w, s->N, s->D);
}

struct loom_tensor *loom_bce_logits_loss(struct loom_ctx *c, struct loom_tensor *logits,
                                         struct loom_tensor *target, const float *pos_weight,
                                         const float *weight)
{
    if (!logits || !target) return NULL;
    const char *op = "bce_logits_loss";
    int64_t N, D;
    if (!loss_pair_ok(c, op, logits, target, &N, &D) ||
        !loss_weights_ok(c, op, "weight", weight, N) ||
        !loss_weights_ok(c, op, "pos_weight", pos_weight, D))
        return NULL;
    struct loom_tensor *y = loom_tensor_new(c, LOOM_SHAPE(1));
    if (!y) return NULL;
    double wsum = loss_weight_sum(weight, N), den = wsum * (double)D;
    y->data[0] = den > 0
                     ? (float)(bce_fwd(logits->data, target->data, pos_weight, weight, N, D) / den)
                     : 0.0f;
    struct loom_tensor *in[2] = {logits, target};
    if (loom_needs_grad_any(c, 2, in)) {
        struct bce_saved *s = loom_tape_record(c, bce_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct bce_saved){logits, target, y, pos_weight, weight, wsum, N, D};
    }
    return y;
}

/* ---- softmax cross-entropy ----
 * Row i with label y, weight c_y (1 without class weights):
 *   l_i = lse(x_i) - x_iy, lse(x) = m + log sum_k e^(x_k - m), m = max x;
 *   loss = sum c_y l_i / sum c_y over rows not ignored (0 if that sum is 0);
 *   dx_ik = g c_y / sum c_y (softmax(x_i)_k - [k = y]).
 * The forward keeps lse per row for the backward. */

/* x (R,K) -> sum c_y l_i (returned) and *wsum = sum c_y; lse (R) filled for
 * the rows that count. */
static double ce_fwd(float *lse, double *wsum, const float *x, const int32_t *lab, const float *cw,
                     int32_t ignore, int64_t R, int64_t K)
{
    double s = 0, ws = 0;
#pragma omp parallel for reduction(+ : s, ws) schedule(static) if (R * K > LOSS_PAR)
    for (int64_t i = 0; i < R; i++) {
        if (lab[i] == ignore) continue;
        float wy = cw ? cw[lab[i]] : 1.0f;
        if (wy == 0) continue;
        const float *xi = x + i * K;
        float m = xi[0], z = 0;
        for (int64_t k = 1; k < K; k++) m = xi[k] > m ? xi[k] : m;
        for (int64_t k = 0; k < K; k++) z += expf(xi[k] - m);
        lse[i] = m + logf(z);
        s += (double)wy * (lse[i] - xi[lab[i]]);
        ws += wy;
    }
    *wsum = ws;
    return s;
}

static double ce_fwd_ref(double *wsum, const float *x, const int32_t *lab, const float *cw,
                         int32_t ignore, int64_t R, int64_t K)
{
    double s = 0;
    *wsum = 0;
    for (int64_t i = 0; i < R; i++) {
        if (lab[i] == ignore) continue;
        double m = -INFINITY, z = 0, wy = cw ? cw[lab[i]] : 1.0;
        for (int64_t k = 0; k < K; k++) m = fmax(m, x[i * K + k]);
        for (int64_t k = 0; k < K; k++) z += exp(x[i * K + k] - m);
        /* -log softmax(x)_y */
        s += wy * -(x[i * K + lab[i]] - m - log(z));
        *wsum += wy;
    }
    return s;
}

/* dx += k c_y (softmax - onehot), k = g / sum c_y. */
static void ce_bwd(float *dx, float k, const float *lse, const float *x, const int32_t *lab,
                   const float *cw, int32_t ignore, int64_t R, int64_t K)
{
#pragma omp parallel for schedule(static) if (R * K > LOSS_PAR)
    for (int64_t i = 0; i < R; i++) {
        if (lab[i] == ignore) continue;
        float c = k * (cw ? cw[lab[i]] : 1.0f);
        if (c == 0) continue;
        const float *xi = x + i * K;
        float *dxi = dx + i * K;
        for (int64_t j = 0; j < K; j++) dxi[j] += c * expf(xi[j] - lse[i]);
        dxi[lab[i]] -= c;
    }
}

static void ce_bwd_ref(float *dx, float k, const float *x, const int32_t *lab, const float *cw,
                       int32_t ignore, int64_t R, int64_t K)
{
    for (int64_t i = 0; i < R; i++) {
        if (lab[i] == ignore) continue;
        double m = -INFINITY, z = 0, wy = cw ? cw[lab[i]] : 1.0;
        for (int64_t j = 0; j < K; j++) m = fmax(m, x[i * K + j]);
        for (int64_t j = 0; j < K; j++) z += exp(x[i * K + j] - m);
        for (int64_t j = 0; j < K; j++) {
            double p = exp(x[i * K + j] - m) / z;
            dx[i * K + j] += (float)(k * wy * (p - (j == lab[i])));
        }
    }
}

struct ce_saved {
    struct loom_tensor *x, *y;
    const int32_t *lab;
    const float *cw, *lse;
    double wsum;
    int32_t ignore;
    int64_t R, K;
};

static void ce_backward(struct loom_ctx *c, void *p)
{
    struct ce_saved *s = p;
    if (!s->y->grad || !(s->wsum > 0)) return;
    float *dx = loom_grad(c, s->x);
    if (!dx) return;
    float k = (float)(s->y->grad[0] / s->wsum);
    ce_bwd(dx, k, s->lse, s->x->data, s->lab, s->cw, s->ignore, s->R, s->K);
}

struct loom_tensor *loom_softmax_ce_loss(struct loom_ctx *c, struct loom_tensor *logits,
                                         const int32_t *labels, const float *class_weight,
                                         int32_t ignore_index)
{
    if (!logits) return NULL;
    const char *op = "softmax_ce_loss";
    char b[64];
    if (logits->ndim < 2)
        return loom_fail(c, LOOM_ERR_SHAPE, "%s: logits %s, expected (N,K)", op,
                         loom_shape_str(logits, b, sizeof b));
    /* rows: every dim but the last ((N,T,V) for next-token prediction) */
    int64_t K = logits->shape[logits->ndim - 1], R = 1;
    for (int i = 0; i < logits->ndim - 1; i++) R *= logits->shape[i];
    if (R && !labels) return loom_fail(c, LOOM_ERR_INVALID, "%s: no labels", op);
    for (int64_t i = 0; i < R; i++)
        if (labels[i] != ignore_index && (labels[i] < 0 || labels[i] >= K))
            return loom_fail(c, LOOM_ERR_INVALID,
                             "%s: labels[%lld] = %d, expected 0..%lld or the ignore index %d", op,
                             (long long)i, labels[i], (long long)K - 1, ignore_index);
    if (!loss_weights_ok(c, op, "class_weight", class_weight, K)) return NULL;
    struct loom_tensor *y = loom_tensor_new(c, LOOM_SHAPE(1));
    float *lse = loom_arena_alloc(&c->arena, (size_t)R * sizeof *lse);
    if (!y) return NULL;
    if (!lse) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory");
    double wsum, s = ce_fwd(lse, &wsum, logits->data, labels, class_weight, ignore_index, R, K);
    y->data[0] = wsum > 0 ? (float)(s / wsum) : 0.0f;
    if (loom_needs_grad(c, logits)) {
        struct ce_saved *sv = loom_tape_record(c, ce_backward, sizeof *sv, y);
        if (!sv) return NULL;
        *sv = (struct ce_saved){logits, y, labels, class_weight, lse, wsum, ignore_index, R, K};
    }
    return y;
}

/* ---- gradient-check cases ---- */

static const float w4[] = {1.0f, 0.0f, 3.0f, 0.5f}, w_zero[] = {0.0f, 0.0f, 0.0f},
                   pw2[] = {2.0f, 0.5f}, pw1[] = {3.0f};

static struct loom_tensor *gc_bce(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    switch (k) {
    case 0: /* plain: no weights, no pos_weight */
        return loom_bce_logits_loss(c, loom_gc_input(gc, LOOM_SHAPE(5, 3), -4, 4),
                                    loom_gc_const(gc, LOOM_SHAPE(5, 3), 0, 1), NULL, NULL);
    case 1: /* pos_weight per column, row weights with a dropped row, target grad */
        return loom_bce_logits_loss(c, loom_gc_input(gc, LOOM_SHAPE(4, 2), -4, 4),
                                    loom_gc_input(gc, LOOM_SHAPE(4, 2), 0.1f, 0.9f), pw2, w4);
    case 2: /* N = 1, 1-D, pos_weight of one column */
        return loom_bce_logits_loss(c, loom_gc_input(gc, LOOM_SHAPE(1), -4, 4),
                                    loom_gc_const(gc, LOOM_SHAPE(1), 0, 1), pw1, NULL);
    default: /* every weight 0: loss 0 */
        return loom_bce_logits_loss(c, loom_gc_input(gc, LOOM_SHAPE(3, 2), -4, 4),
                                    loom_gc_const(gc, LOOM_SHAPE(3, 2), 0, 1), NULL, w_zero);
    }
}

static struct loom_tensor *gc_ce(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    static const int32_t l0[] = {0, 3, 1, 2, 3}, l1[] = {2, -100, 0, 1, 1, 0}, l2[] = {4},
                         l3[] = {-1, -1, -1}, l4[] = {0, 3, 3, 1, 2, 0};
    static const float cw3[] = {0.5f, 2.0f, 1.0f};
    switch (k) {
    case 0: /* plain */
        return loom_softmax_ce_loss(c, loom_gc_input(gc, LOOM_SHAPE(5, 4), -3, 3),
                                    loom_gc_i32(gc, 5, l0), NULL, -100);
    case 1: /* class weights and an ignored row */
        return loom_softmax_ce_loss(c, loom_gc_input(gc, LOOM_SHAPE(6, 3), -3, 3),
                                    loom_gc_i32(gc, 6, l1), cw3, -100);
    case 2: /* N = 1 */
        return loom_softmax_ce_loss(c, loom_gc_input(gc, LOOM_SHAPE(1, 5), -3, 3),
                                    loom_gc_i32(gc, 1, l2), NULL, -100);
    case 3: /* every row ignored: loss 0, no NaN */
        return loom_softmax_ce_loss(c, loom_gc_input(gc, LOOM_SHAPE(3, 4), -3, 3),
                                    loom_gc_i32(gc, 3, l3), NULL, -1);
    default: /* (N,T,K) logits, as in next-token prediction */
        return loom_softmax_ce_loss(c, loom_gc_input(gc, LOOM_SHAPE(2, 3, 4), -3, 3),
                                    loom_gc_i32(gc, 6, l4), NULL, -100);
    }
}

/* ---- fast vs reference ---- */

static enum loom_status check_bce_one(struct loom_rng *r, struct loom_error *err, int64_t N,
                                      int64_t D, bool weighted)
{
    struct loom_check_buf x, t, w, pw, y, y0, dx, dx0, dt, dt0;
    loom_check_rand(&x, r, N * D), loom_check_rand(&t, r, N * D);
    loom_check_rand(&w, r, N), loom_check_rand(&pw, r, D);
    for (int64_t j = 0; j < N * D; j++) x.p[j] *= 8, t.p[j] = 0.5f + 0.5f * t.p[j];
    for (int64_t i = 0; i < N; i++) w.p[i] = i % 4 == 2 ? 0.0f : 1.0f + w.p[i];
    for (int64_t d = 0; d < D; d++) pw.p[d] = 1.5f + pw.p[d];
    x.p[0] = 100.0f, x.p[N * D - 1] = -100.0f; /* extremes */
    loom_check_zeros(&y, 1), loom_check_zeros(&y0, 1);
    loom_check_rand(&dx, r, N * D), loom_check_copy(&dx0, &dx);
    loom_check_rand(&dt, r, N * D), loom_check_copy(&dt0, &dt);
    const float *wp = weighted ? w.p : NULL, *pwp = weighted ? pw.p : NULL;
    y.p[0] = (float)bce_fwd(x.p, t.p, pwp, wp, N, D);
    y0.p[0] = (float)bce_fwd_ref(x.p, t.p, pwp, wp, N, D);
    bce_bwd(dx.p, dt.p, 0.37f, x.p, t.p, pwp, wp, N, D);
    bce_bwd_ref(dx0.p, dt0.p, 0.37f, x.p, t.p, pwp, wp, N, D);
    enum loom_status st = loom_check_close(err, "bce_logits_loss fwd", &y, &y0, 1e-5);
    if (!st) st = loom_check_close(err, "bce_logits_loss d(logits)", &dx, &dx0, 1e-5);
    if (!st) st = loom_check_close(err, "bce_logits_loss d(target)", &dt, &dt0, 1e-5);
    loom_check_free(10, &x, &t, &w, &pw, &y, &y0, &dx, &dx0, &dt, &dt0);
    return st;
}

static enum loom_status check_bce(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    (void)c;
    enum loom_status st = LOOM_OK;
    for (int i = 0; i < 12 && !st; i++)
        st = check_bce_one(r, err, 1 + loom_rng_below(r, 40), 1 + loom_rng_below(r, 37), i % 2);
    if (!st) st = check_bce_one(r, err, 301, 157, true);
    return st;
}

static enum loom_status check_ce_one(struct loom_rng *r, struct loom_error *err, int64_t R,
                                     int64_t K, bool weighted)
{
    struct loom_check_buf x, cw, y, y0, dx, dx0;
    loom_check_rand(&x, r, R * K), loom_check_rand(&cw, r, K);
    for (int64_t j = 0; j < R * K; j++) x.p[j] *= 10;
    for (int64_t k = 0; k < K; k++) cw.p[k] = 1.0f + cw.p[k];
    x.p[0] = 100.0f, x.p[R * K - 1] = -100.0f; /* extremes */
    int32_t *lab = malloc((size_t)R * sizeof *lab);
    LOOM_ASSERT(lab);
    for (int64_t i = 0; i < R; i++) lab[i] = i % 7 == 3 ? -100 : (int32_t)loom_rng_below(r, K);
    loom_check_zeros(&y, 1), loom_check_zeros(&y0, 1);
    loom_check_rand(&dx, r, R * K), loom_check_copy(&dx0, &dx);
    float *lse = malloc((size_t)R * sizeof *lse);
    LOOM_ASSERT(lse);
    const float *cwp = weighted ? cw.p : NULL;
    double ws, ws0;
    y.p[0] = (float)ce_fwd(lse, &ws, x.p, lab, cwp, -100, R, K);
    y0.p[0] = (float)ce_fwd_ref(&ws0, x.p, lab, cwp, -100, R, K);
    float k = ws0 > 0 ? (float)(0.37 / ws0) : 0.0f;
    ce_bwd(dx.p, k, lse, x.p, lab, cwp, -100, R, K);
    ce_bwd_ref(dx0.p, k, x.p, lab, cwp, -100, R, K);
    enum loom_status st = loom_check_close(err, "softmax_ce_loss fwd", &y, &y0, 1e-5);
    if (!st && fabs(ws - ws0) > 1e-9 * (1 + ws0))
        st = loom_error_set(err, LOOM_ERR_INTERNAL, "softmax_ce_loss weight sum %g vs %g", ws, ws0);
    if (!st) st = loom_check_close(err, "softmax_ce_loss d(logits)", &dx, &dx0, 1e-5);
    loom_check_free(6, &x, &cw, &y, &y0, &dx, &dx0);
    free(lab), free(lse);
    return st;
}

static enum loom_status check_ce(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    (void)c;
    enum loom_status st = LOOM_OK;
    for (int i = 0; i < 12 && !st; i++)
        st = check_ce_one(r, err, 1 + loom_rng_below(r, 40), 1 + loom_rng_below(r, 37), i % 2);
    if (!st) st = check_ce_one(r, err, 301, 157, true);
    return st;
}

const struct loom_op_info loom_op_bce_logits_loss = {
    .name = "bce_logits_loss", .ncases = 4, .gc_case = gc_bce, .check_ref = check_bce};
const struct loom_op_info loom_op_softmax_ce_loss = {
    .name = "softmax_ce_loss", .ncases = 5, .gc_case = gc_ce, .check_ref = check_ce};
