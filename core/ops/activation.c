/*
 * activation.c — the unary activations: relu, leaky_relu, gelu (exact erf
 * form), tanh, sigmoid and sigmoid_range. One op structure serves them all:
 * a table row per activation holds its fast forward/backward kernels and
 * their double-precision *_ref twins; one forward, one backward and one
 * check function walk the table.
 *
 * Derivatives (v the input, o the output, s = sigmoid(v)):
 *   relu     1[v > 0]               leaky_relu  1 or slope
 *   gelu     Phi(v) + v phi(v)      tanh        1 - o^2 (from the saved output)
 *   sigmoid  o (1 - o)              sigmoid_range  (hi - lo) s (1 - s), with
 *   s (1 - s) = t / (1 + t)^2, t = exp(-|v|), computed from v: recovering s
 *   from o = lo + (hi - lo) s would lose digits when |lo| >> hi - lo.
 * Sigmoid is evaluated as 1/(1+t) or t/(1+t) by the sign of v, so no exp
 * overflows for large |v|.
 */
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "../threads.h"
#include "check.h"

/* Elements past which a kernel runs on threads: the cheap ones are bound by
 * memory bandwidth, the ones calling exp/erf by arithmetic. */
#define PAR_CHEAP 32768
#define PAR_MATH  4096

struct act_params {
    float slope;  /* leaky_relu */
    float lo, hi; /* sigmoid_range */
};

typedef void (*act_fwd_fn)(float *restrict y, const float *restrict x, int64_t n,
                           struct act_params p);
/* dx += dy * f'(x); x and y (the forward's output) both given. */
typedef void (*act_bwd_fn)(float *restrict dx, const float *restrict dy, const float *restrict x,
                           const float *restrict y, int64_t n, struct act_params p);

static inline float sigmoid_stable(float v)
{
    float t = expf(-fabsf(v)); /* in (0, 1]: never overflows */
    float s = 1.0f / (1.0f + t);
    return v >= 0 ? s : t * s;
}

/* s (1 - s) from v, without cancellation for large |v|. */
static inline float sigmoid_slope(float v)
{
    float t = expf(-fabsf(v)), u = 1.0f + t;
    return t / (u * u);
}

/* c ? a : b by bit masks. GCC 12 sinks the multiply of v * (c ? a : b) into
 * the branch and, floating-point ops being allowed to trap, then refuses to
 * vectorise the loop; a blend of bits has no branch to sink into. */
static inline float pick(bool c, float a, float b)
{
    uint32_t ua, ub, m = -(uint32_t)c;
    memcpy(&ua, &a, sizeof ua), memcpy(&ub, &b, sizeof ub);
    uint32_t r = (ua & m) | (ub & ~m);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

#define INV_SQRT2      0.70710678118654752440f
#define INV_SQRT_2PI   0.39894228040143267794f
#define INV_SQRT2_D    0.70710678118654752440
#define INV_SQRT_2PI_D 0.39894228040143267794

/* The fast kernels: FWD is y[i] from v = x[i]; BWD is dy/dx from v = x[i]
 * and o = y[i]; both may use slope, lo and hi (copied out of p before the
 * loop, so that no load in a branch stops the vectoriser). Plain loops over
 * [i0, i1), threaded past par_min elements (threads.h: below it no OpenMP
 * region is entered at all). */
#define ACT_KERNELS(name, par_min, FWD, BWD)                                                       \
    static void name##_fwd_range(float *restrict y, const float *restrict x, int64_t i0,           \
                                 int64_t i1, struct act_params p)                                  \
    {                                                                                              \
        const float slope = p.slope, lo = p.lo, hi = p.hi;                                         \
        (void)slope, (void)lo, (void)hi;                                                           \
        _Pragma("omp simd") for (int64_t i = i0; i < i1; i++)                                      \
        {                                                                                          \
            float v = x[i];                                                                        \
            y[i] = (FWD);                                                                          \
        }                                                                                          \
    }                                                                                              \
    static void name##_bwd_range(float *restrict dx, const float *restrict dy,                     \
                                 const float *restrict x, const float *restrict y, int64_t i0,     \
                                 int64_t i1, struct act_params p)                                  \
    {                                                                                              \
        const float slope = p.slope, lo = p.lo, hi = p.hi;                                         \
        (void)slope, (void)lo, (void)hi, (void)x, (void)y;                                         \
        _Pragma("omp simd") for (int64_t i = i0; i < i1; i++)                                      \
        {                                                                                          \
            float v = x[i], o = y[i];                                                              \
            (void)v, (void)o;                                                                      \
            dx[i] += dy[i] * (BWD);                                                                \
        }                                                                                          \
    }                                                                                              \
    static void name##_fwd(float *restrict y, const float *restrict x, int64_t n,                  \
                           struct act_params p)                                                    \
    {                                                                                              \
        LOOM_OMP_SPLIT(loom_omp_fork(n, (par_min)), n, i0, i1, name##_fwd_range(y, x, i0, i1, p)); \
    }                                                                                              \
    static void name##_bwd(float *restrict dx, const float *restrict dy, const float *restrict x,  \
                           const float *restrict y, int64_t n, struct act_params p)                \
    {                                                                                              \
        LOOM_OMP_SPLIT(loom_omp_fork(n, (par_min)), n, i0, i1,                                     \
                       name##_bwd_range(dx, dy, x, y, i0, i1, p));                                 \
    }

/* v < 0 ? 0 : v lets a NaN through, as it should (a diverged step shows). */
ACT_KERNELS(relu, PAR_CHEAP, (v < 0.0f ? 0.0f : v), (v > 0.0f ? 1.0f : 0.0f))
ACT_KERNELS(leaky_relu, PAR_CHEAP, pick(v < 0.0f, slope, 1.0f) * v, (v > 0.0f ? 1.0f : slope))
ACT_KERNELS(gelu, PAR_MATH, 0.5f * v * erfcf(-v * INV_SQRT2),
            0.5f * erfcf(-v * INV_SQRT2) + v * INV_SQRT_2PI * expf(-0.5f * v * v))
ACT_KERNELS(tanh, PAR_MATH, tanhf(v), 1.0f - o * o)
ACT_KERNELS(sigmoid, PAR_MATH, sigmoid_stable(v), (1.0f - o) * o)
ACT_KERNELS(sigmoid_range, PAR_MATH, lo + (hi - lo) * sigmoid_stable(v),
            (hi - lo) * sigmoid_slope(v))

/* The reference twins: the textbook formula in double, the derivative
 * always from x (never from the saved output). */
static double act_ref(int kind, double v, struct act_params p, double *deriv);

#define ACT_REF(name, KIND)                                                                        \
    static void name##_fwd_ref(float *restrict y, const float *restrict x, int64_t n,              \
                               struct act_params p)                                                \
    {                                                                                              \
        double d;                                                                                  \
        for (int64_t i = 0; i < n; i++) y[i] = (float)act_ref(KIND, x[i], p, &d);                  \
    }                                                                                              \
    static void name##_bwd_ref(float *restrict dx, const float *restrict dy,                       \
                               const float *restrict x, const float *restrict y, int64_t n,        \
                               struct act_params p)                                                \
    {                                                                                              \
        (void)y;                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                          \
            double d;                                                                              \
            act_ref(KIND, x[i], p, &d);                                                            \
            dx[i] = (float)(dx[i] + dy[i] * d);                                                    \
        }                                                                                          \
    }

enum act_kind { ACT_RELU, ACT_LEAKY_RELU, ACT_GELU, ACT_TANH, ACT_SIGMOID, ACT_SIGMOID_RANGE };

static double act_ref(int kind, double v, struct act_params p, double *deriv)
{
    double s = 1.0 / (1.0 + exp(-v));
    switch (kind) {
    case ACT_RELU:
        *deriv = v > 0 ? 1 : 0;
        return v > 0 ? v : 0;
    case ACT_LEAKY_RELU:
        *deriv = v > 0 ? 1 : p.slope;
        return v > 0 ? v : p.slope * v;
    case ACT_GELU: {
        double cdf = 0.5 * (1.0 + erf(v * INV_SQRT2_D));
        *deriv = cdf + v * INV_SQRT_2PI_D * exp(-0.5 * v * v);
        return v * cdf;
    }
    case ACT_TANH:
        *deriv = 1.0 - tanh(v) * tanh(v);
        return tanh(v);
    case ACT_SIGMOID:
        *deriv = s * (1.0 - s);
        return s;
    default:
        *deriv = ((double)p.hi - p.lo) * s * (1.0 - s);
        return p.lo + ((double)p.hi - p.lo) * s;
    }
}

ACT_REF(relu, ACT_RELU)
ACT_REF(leaky_relu, ACT_LEAKY_RELU)
ACT_REF(gelu, ACT_GELU)
ACT_REF(tanh, ACT_TANH)
ACT_REF(sigmoid, ACT_SIGMOID)
ACT_REF(sigmoid_range, ACT_SIGMOID_RANGE)

static const struct act_info {
    const char *name;
    act_fwd_fn fwd, fwd_ref;
    act_bwd_fn bwd, bwd_ref;
    float lo, hi; /* range of the gradient-check inputs */
} acts[] = {
#define ROW(name, lo, hi)                                                                          \
    {                                                                                              \
#name, name##_fwd, name##_fwd_ref, name##_bwd, name##_bwd_ref, lo, hi                      \
    }
    [ACT_RELU] = ROW(relu, -2, 2),       [ACT_LEAKY_RELU] = ROW(leaky_relu, -2, 2),
    [ACT_GELU] = ROW(gelu, -3, 3),       [ACT_TANH] = ROW(tanh, -3, 3),
    [ACT_SIGMOID] = ROW(sigmoid, -5, 5), [ACT_SIGMOID_RANGE] = ROW(sigmoid_range, -4, 4),
#undef ROW
};
_Static_assert(LOOM_ARRAY_LEN(acts) == ACT_SIGMOID_RANGE + 1, "one row per activation");

/* ---- the op ---- */

struct act_saved {
    struct loom_tensor *x, *y;
    enum act_kind kind;
    struct act_params p;
};

static void act_backward(struct loom_ctx *c, void *p)
{
    struct act_saved *s = p;
    if (!s->y->grad) return;
    float *dx = loom_grad(c, s->x);
    if (!dx) return;
    acts[s->kind].bwd(dx, s->y->grad, s->x->data, s->y->data, s->x->size, s->p);
}

static struct loom_tensor *act(struct loom_ctx *c, struct loom_tensor *x, enum act_kind kind,
                               struct act_params p)
{
    if (!x) return NULL;
    struct loom_tensor *y = loom_tensor_like(c, x);
    if (!y) return NULL;
    acts[kind].fwd(y->data, x->data, x->size, p);
    if (loom_needs_grad(c, x)) {
        struct act_saved *s = loom_tape_record(c, act_backward, sizeof *s, y);
        if (!s) return NULL;
        *s = (struct act_saved){x, y, kind, p};
    }
    return y;
}

struct loom_tensor *loom_relu(struct loom_ctx *c, struct loom_tensor *x)
{
    return act(c, x, ACT_RELU, (struct act_params){0});
}

struct loom_tensor *loom_leaky_relu(struct loom_ctx *c, struct loom_tensor *x, float slope)
{
    if (x && !isfinite(slope))
        return loom_fail(c, LOOM_ERR_INVALID, "leaky_relu: slope %g is not finite", slope);
    return act(c, x, ACT_LEAKY_RELU, (struct act_params){.slope = slope});
}

struct loom_tensor *loom_gelu(struct loom_ctx *c, struct loom_tensor *x)
{
    return act(c, x, ACT_GELU, (struct act_params){0});
}

struct loom_tensor *loom_tanh(struct loom_ctx *c, struct loom_tensor *x)
{
    return act(c, x, ACT_TANH, (struct act_params){0});
}

struct loom_tensor *loom_sigmoid(struct loom_ctx *c, struct loom_tensor *x)
{
    return act(c, x, ACT_SIGMOID, (struct act_params){0});
}

struct loom_tensor *loom_sigmoid_range(struct loom_ctx *c, struct loom_tensor *x, float lo,
                                       float hi)
{
    if (x && !(isfinite(lo) && isfinite(hi) && lo < hi))
        return loom_fail(c, LOOM_ERR_INVALID, "sigmoid_range: need finite lo < hi, got [%g, %g]",
                         lo, hi);
    return act(c, x, ACT_SIGMOID_RANGE, (struct act_params){.lo = lo, .hi = hi});
}

/* ---- checks ---- */

/* Through the public functions, so their argument handling is covered too. */
static struct loom_tensor *gc_act(enum act_kind kind, struct loom_ctx *c, struct loom_gc *gc, int k)
{
    static const int64_t shapes[][3] = {{3, 5, 1}, {1, 7, 1}, {2, 3, 4}};
    const struct act_info *a = &acts[kind];
    int ndim = k == 2 ? 3 : 2;
    /* Inputs keep 0.05 away from the kink of relu and leaky_relu, more than
     * the finite-difference step (0.01). */
    float away = kind == ACT_RELU || kind == ACT_LEAKY_RELU ? 0.05f : 0.0f;
    struct loom_tensor *x = loom_gc_input_away(gc, ndim, shapes[k], a->lo, a->hi, away);
    switch (kind) {
    case ACT_RELU:
        return loom_relu(c, x);
    case ACT_LEAKY_RELU:
        return loom_leaky_relu(c, x, k == 1 ? -0.3f : 0.1f);
    case ACT_GELU:
        return loom_gelu(c, x);
    case ACT_TANH:
        return loom_tanh(c, x);
    case ACT_SIGMOID:
        return loom_sigmoid(c, x);
    default:
        return loom_sigmoid_range(c, x, k == 1 ? 1.0f : -1.0f, 5.0f);
    }
}

/* Inputs over a wide range plus the values where kernels break: 0, the
 * saturated tails, |x| past where exp overflows in float. */
static void check_fill(struct loom_check_buf *x, struct loom_rng *r, int64_t n, float range)
{
    static const float edge[] = {0.0f,   -0.0f,   1e-7f, -1e-7f, 20.0f, -20.0f, 88.8f, -88.8f,
                                 104.0f, -104.0f, 1e4f,  -1e4f,  -8.0f, 8.0f,   15.0f, -15.0f};
    loom_check_rand(x, r, n);
    for (int64_t i = 0; i < n; i++) x->p[i] *= range;
    for (int64_t i = 0; i < n && i < (int64_t)LOOM_ARRAY_LEN(edge); i++)
        x->p[loom_rng_below(r, (uint32_t)n)] = edge[i];
}

static enum loom_status check_act(enum act_kind kind, struct loom_rng *r, struct loom_error *err)
{
    const struct act_info *a = &acts[kind];
    static const int64_t big[] = {40001, 5003};
    struct act_params p = {.slope = 0.07f, .lo = -2.0f, .hi = 7.0f};
    char what[64];
    for (int t = 0; t < 12 + (int)LOOM_ARRAY_LEN(big); t++) {
        int64_t n = t < 12 ? 1 + loom_rng_below(r, 300) : big[t - 12];
        struct loom_check_buf x, y, y0, dy, dx, dx0;
        check_fill(&x, r, n, 12.0f);
        loom_check_zeros(&y, n), loom_check_zeros(&y0, n);
        loom_check_rand(&dy, r, n), loom_check_rand(&dx, r, n), loom_check_copy(&dx0, &dx);
        a->fwd(y.p, x.p, n, p);
        a->fwd_ref(y0.p, x.p, n, p);
        a->bwd(dx.p, dy.p, x.p, y.p, n, p);
        a->bwd_ref(dx0.p, dy.p, x.p, y0.p, n, p);
        snprintf(what, sizeof what, "%s fwd", a->name);
        enum loom_status st = loom_check_close(err, what, &y, &y0, 1e-5);
        snprintf(what, sizeof what, "%s dx", a->name);
        if (!st) st = loom_check_close(err, what, &dx, &dx0, 1e-5);
        loom_check_free(6, &x, &y, &y0, &dy, &dx, &dx0);
        if (st) return st;
    }
    return LOOM_OK;
}

#define ACT_OP(op, KIND)                                                                           \
    static struct loom_tensor *gc_##op(struct loom_ctx *c, struct loom_gc *gc, int k)              \
    {                                                                                              \
        return gc_act(KIND, c, gc, k);                                                             \
    }                                                                                              \
    static enum loom_status check_##op(struct loom_ctx *c, struct loom_rng *r,                     \
                                       struct loom_error *err)                                     \
    {                                                                                              \
        (void)c;                                                                                   \
        return check_act(KIND, r, err);                                                            \
    }                                                                                              \
    const struct loom_op_info loom_op_##op = {                                                     \
        .name = #op, .ncases = 3, .gc_case = gc_##op, .check_ref = check_##op};

ACT_OP(relu, ACT_RELU)
ACT_OP(leaky_relu, ACT_LEAKY_RELU)
ACT_OP(gelu, ACT_GELU)
ACT_OP(tanh, ACT_TANH)
ACT_OP(sigmoid, ACT_SIGMOID)
ACT_OP(sigmoid_range, ACT_SIGMOID_RANGE)
