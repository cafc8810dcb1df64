/*
 * conv2d.c — 2-D convolution (+ bias) through oneDNN, with its backward.
 * x (N,C,H,W), w (O,C,K,K) as in PyTorch, b (O) or NULL, one stride and one
 * symmetric zero padding for both spatial dims -> y (N,O,H',W').
 * Forward, backward data and backward weights (+ bias) are three oneDNN
 * primitives created once per shape (direct algorithm: Winograd rounds
 * differently and is not what the gradient checks and reference compare).
 * Backward: dx = conv_transpose(dy, w); dw[o,c,i,j] = sum_{n,p,q} dy[n,o,p,q]
 * x[n,c,p*S-P+i,q*S-P+j]; db[o] = sum_{n,p,q} dy[n,o,p,q].
 * An empty batch (N = 0) gives an empty output without calling oneDNN.
 */
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "check.h"
#include "cnn.h"

struct conv_shape {
    int64_t N, C, H, W, O, K, S, P, Ho, Wo;
    bool bias;
};

/* The primitives of one shape, in the formats oneDNN prefers (format "any"),
 * with reorders from and to the plain formats of loom's tensors. fwd is
 * forward_training when the backward ones are wanted (they take it as their
 * hint); those are made on first use. Outputs of the backward reorder with a
 * sum, so that gradients accumulate. */
struct conv_prims {
    struct loom_cnn_prim fwd, bwd_data, bwd_weights;
    struct loom_cnn_reorder f_x, f_w, f_y;   /* forward: x, w in; y out */
    struct loom_cnn_reorder d_dy, d_w, d_dx; /* backward data: dy, w in; dx out */
    struct loom_cnn_reorder w_x, w_dy, w_dw; /* backward weights: x, dy in; dw out */
};

static void conv_prims_free(void *p)
{
    struct conv_prims *e = p;
    loom_cnn_prim_done(&e->fwd);
    loom_cnn_prim_done(&e->bwd_data);
    loom_cnn_prim_done(&e->bwd_weights);
    struct loom_cnn_reorder *r[] = {&e->f_x,  &e->f_w, &e->f_y,  &e->d_dy, &e->d_w,
                                    &e->d_dx, &e->w_x, &e->w_dy, &e->w_dw};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(r); i++) loom_cnn_reorder_done(r[i]);
    free(e);
}

/* mds of x, w, b (undef when no bias) and y: plain, or "any" for a primitive
 * to choose (the bias stays plain). */
static bool conv_mds(struct loom_ctx *c, const struct conv_shape *s, bool any,
                     dnnl_memory_desc_t *x, dnnl_memory_desc_t *w, dnnl_memory_desc_t *b,
                     dnnl_memory_desc_t *y)
{
    memset(b, 0, sizeof *b);
    enum loom_cnn_role act = any ? LOOM_CNN_ANY : LOOM_CNN_ACT;
    return loom_cnn_md(c, x, act, 4, (int64_t[]){s->N, s->C, s->H, s->W}) &&
           loom_cnn_md(c, w, any ? LOOM_CNN_ANY : LOOM_CNN_WEIGHTS, 4,
                       (int64_t[]){s->O, s->C, s->K, s->K}) &&
           (!s->bias || loom_cnn_md(c, b, LOOM_CNN_VEC, 1, (int64_t[]){s->O})) &&
           loom_cnn_md(c, y, act, 4, (int64_t[]){s->N, s->O, s->Ho, s->Wo});
}

/* Reorder between plain md and the format p chose for argument id:
 * in: plain -> chosen; else chosen -> plain (accumulating when acc). */
static bool conv_reorder(struct loom_ctx *c, struct loom_cnn_reorder *r,
                         const struct loom_cnn_prim *p, int id, const dnnl_memory_desc_t *plain,
                         bool in, bool acc)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, id);
    return in ? loom_cnn_reorder_init(c, r, plain, md, false)
              : loom_cnn_reorder_init(c, r, md, plain, acc);
}

static struct conv_prims *conv_get(struct loom_ctx *c, const struct conv_shape *s, bool training)
{
    struct loom_dnnl_key key = {{LOOM_CNN_KIND('c', 'o', 'n', 'v'), training, s->N, s->C, s->H,
                                 s->W, s->O, s->K, s->S, s->P, s->bias}};
    struct conv_prims *e = loom_dnnl_cache_get(c, &key);
    if (e) return e;
    dnnl_memory_desc_t x, w, b, y, px, pw, pb, py;
    dnnl_convolution_desc_t d;
    const dnnl_dims_t st = {s->S, s->S}, pad = {s->P, s->P};
    if (!conv_mds(c, s, true, &x, &w, &b, &y) || !conv_mds(c, s, false, &px, &pw, &pb, &py) ||
        !loom_dnnl_ok(c,
                      dnnl_convolution_forward_desc_init(
                          &d, training ? dnnl_forward_training : dnnl_forward_inference,
                          dnnl_convolution_direct, &x, &w, s->bias ? &b : NULL, &y, st, pad, pad),
                      "convolution_forward_desc_init"))
        return NULL;
    e = calloc(1, sizeof *e);
    if (!e) return loom_fail(c, LOOM_ERR_NOMEM, "conv2d: out of memory");
    static const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
    if (!loom_cnn_prim_init(c, &e->fwd, &d, NULL, 4, ids, "conv2d forward") ||
        !conv_reorder(c, &e->f_x, &e->fwd, DNNL_ARG_SRC, &px, true, false) ||
        !conv_reorder(c, &e->f_w, &e->fwd, DNNL_ARG_WEIGHTS, &pw, true, false) ||
        !conv_reorder(c, &e->f_y, &e->fwd, DNNL_ARG_DST, &py, false, false)) {
        conv_prims_free(e);
        return NULL;
    }
    return loom_dnnl_cache_put(c, &key, e, conv_prims_free) ? e : NULL;
}

static bool conv_bwd_data_init(struct loom_ctx *c, struct conv_prims *e, const struct conv_shape *s)
{
    if (e->bwd_data.prim) return true;
    dnnl_memory_desc_t x, w, b, y, px, pw, pb, py;
    dnnl_convolution_desc_t d;
    const dnnl_dims_t st = {s->S, s->S}, pad = {s->P, s->P};
    static const int ids[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    return conv_mds(c, s, true, &x, &w, &b, &y) && conv_mds(c, s, false, &px, &pw, &pb, &py) &&
           loom_dnnl_ok(c,
                        dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &x,
                                                                 &w, &y, st, pad, pad),
                        "convolution_backward_data_desc_init") &&
           loom_cnn_prim_init(c, &e->bwd_data, &d, e->fwd.pd, 3, ids, "conv2d backward data") &&
           conv_reorder(c, &e->d_dy, &e->bwd_data, DNNL_ARG_DIFF_DST, &py, true, false) &&
           conv_reorder(c, &e->d_w, &e->bwd_data, DNNL_ARG_WEIGHTS, &pw, true, false) &&
           conv_reorder(c, &e->d_dx, &e->bwd_data, DNNL_ARG_DIFF_SRC, &px, false, true);
}

static bool conv_bwd_weights_init(struct loom_ctx *c, struct conv_prims *e,
                                  const struct conv_shape *s)
{
    if (e->bwd_weights.prim) return true;
    dnnl_memory_desc_t x, w, b, y, px, pw, pb, py;
    dnnl_convolution_desc_t d;
    const dnnl_dims_t st = {s->S, s->S}, pad = {s->P, s->P};
    static const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
                              DNNL_ARG_DIFF_BIAS};
    return conv_mds(c, s, true, &x, &w, &b, &y) && conv_mds(c, s, false, &px, &pw, &pb, &py) &&
           loom_dnnl_ok(c,
                        dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &x,
                                                                    &w, s->bias ? &b : NULL, &y, st,
                                                                    pad, pad),
                        "convolution_backward_weights_desc_init") &&
           loom_cnn_prim_init(c, &e->bwd_weights, &d, e->fwd.pd, 4, ids,
                              "conv2d backward weights") &&
           conv_reorder(c, &e->w_x, &e->bwd_weights, DNNL_ARG_SRC, &px, true, false) &&
           conv_reorder(c, &e->w_dy, &e->bwd_weights, DNNL_ARG_DIFF_DST, &py, true, false) &&
           conv_reorder(c, &e->w_dw, &e->bwd_weights, DNNL_ARG_DIFF_WEIGHTS, &pw, false, true);
}

/* An arena buffer of at least bytes, reused across the chunks of one call. */
struct conv_buf {
    void *p;
    size_t bytes;
};

static void *conv_buf(struct loom_ctx *c, struct conv_buf *b, size_t bytes)
{
    if (bytes > b->bytes) {
        b->p = loom_arena_alloc(&c->arena, bytes);
        if (!b->p) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory (conv2d)");
        b->bytes = bytes;
    }
    return b->p;
}

/* The buffer a primitive reads for the plain data at src: src itself, or its
 * reordered copy in buf. NULL on failure. */
static void *conv_in(struct loom_ctx *c, struct loom_cnn_reorder *r, const void *src,
                     struct conv_buf *buf)
{
    if (!r->prim) return (void *)src;
    void *p = conv_buf(c, buf, r->bytes);
    return p && loom_cnn_reorder_run(c, r, src, p) ? p : NULL;
}

/* y = conv(x, w) + b. training: also ready the primitives for backward, and
 * set *xb to x in the format of the forward primitive (an arena copy; NULL
 * when it reads x as it is), for backward weights to reuse. */
static bool conv2d_fwd(struct loom_ctx *c, float *y, const float *x, const float *w, const float *b,
                       const struct conv_shape *s, bool training, void **xb)
{
    if (xb) *xb = NULL;
    if (s->N == 0) return true;
    struct conv_buf bx = {0}, bw = {0}, by = {0};
    struct conv_prims *e = conv_get(c, s, training);
    if (!e) return false;
    void *xi = conv_in(c, &e->f_x, x, &bx);
    void *wi = conv_in(c, &e->f_w, w, &bw);
    void *yo = e->f_y.prim ? conv_buf(c, &by, e->f_y.bytes) : y;
    if (!xi || !wi || !yo ||
        !loom_cnn_prim_run(c, &e->fwd, (void *[]){xi, wi, (void *)b, yo}, "conv2d forward") ||
        (e->f_y.prim && !loom_cnn_reorder_run(c, &e->f_y, yo, y)))
        return false;
    if (xb && e->f_x.prim) *xb = xi;
    return true;
}

/* Where a primitive writes a gradient to be added to the plain buffer dst:
 * dst itself when it holds zeros and r would only copy, else buf (then
 * loom_cnn_reorder_run(r) adds it into dst; *direct says which). */
static void *conv_out(struct loom_ctx *c, const struct loom_cnn_reorder *r, float *dst, bool zero,
                      struct conv_buf *buf, bool *direct)
{
    *direct = zero && r->same;
    return *direct ? dst : conv_buf(c, buf, r->bytes);
}

/* Adds into whichever of dx, dw, db is not NULL; *_zero says that buffer
 * holds zeros, so the primitive may write it directly. xb: x in the forward
 * primitive's format, or NULL. */
static bool conv2d_bwd(struct loom_ctx *c, float *dx, bool dx_zero, float *dw, bool dw_zero,
                       float *db, const float *dy, const float *x, const void *xb, const float *w,
                       const struct conv_shape *s)
{
    if (s->N == 0 || (!dx && !dw && !db)) return true;
    struct conv_buf bdy = {0}, bdyw = {0}, bx = {0}, bw = {0}, bdx = {0}, bdw = {0}, bdb = {0};
    struct conv_prims *e = conv_get(c, s, true);
    if (!e) return false;
    void *dyd = NULL; /* dy as backward data read it */
    bool direct = false;
    if (dx) {
        void *wi, *o;
        if (!conv_bwd_data_init(c, e, s) || !(dyd = conv_in(c, &e->d_dy, dy, &bdy)) ||
            !(wi = conv_in(c, &e->d_w, w, &bw)) ||
            !(o = conv_out(c, &e->d_dx, dx, dx_zero, &bdx, &direct)) ||
            !loom_cnn_prim_run(c, &e->bwd_data, (void *[]){dyd, wi, o}, "conv2d backward data") ||
            (!direct && !loom_cnn_reorder_run(c, &e->d_dx, o, dx)))
            return false;
    }
    if (!dw && !db) return true;
    if (!conv_bwd_weights_init(c, e, s)) return false;
    /* Backward data and weights mostly want dy in the same format, and
     * backward weights x in the forward's. */
    const dnnl_memory_desc_t *md_w =
        dnnl_primitive_desc_query_md(e->bwd_weights.pd, dnnl_query_exec_arg_md, DNNL_ARG_DIFF_DST);
    void *dyw = dyd && dnnl_memory_desc_equal(
                           md_w, dnnl_primitive_desc_query_md(
                                     e->bwd_data.pd, dnnl_query_exec_arg_md, DNNL_ARG_DIFF_DST))
                    ? dyd
                    : conv_in(c, &e->w_dy, dy, &bdyw);
    const dnnl_memory_desc_t *mx_w =
        dnnl_primitive_desc_query_md(e->bwd_weights.pd, dnnl_query_exec_arg_md, DNNL_ARG_SRC);
    void *xi =
        xb && dnnl_memory_desc_equal(mx_w, dnnl_primitive_desc_query_md(
                                               e->fwd.pd, dnnl_query_exec_arg_md, DNNL_ARG_SRC))
            ? (void *)xb
            : conv_in(c, &e->w_x, x, &bx);
    void *ow =
        dw ? conv_out(c, &e->w_dw, dw, dw_zero, &bdw, &direct) : conv_buf(c, &bdw, e->w_dw.bytes);
    float *ob = s->bias ? conv_buf(c, &bdb, (size_t)s->O * sizeof(float)) : NULL;
    if (!dyw || !xi || !ow || (s->bias && !ob) ||
        !loom_cnn_prim_run(c, &e->bwd_weights, (void *[]){xi, dyw, ow, ob},
                           "conv2d backward weights") ||
        (dw && !direct && !loom_cnn_reorder_run(c, &e->w_dw, ow, dw)))
        return false;
    if (db)
        for (int64_t o = 0; o < s->O; o++) db[o] += ob[o];
    return true;
}

/* ---- plain C reference ---- */

static void conv2d_fwd_ref(float *y, const float *x, const float *w, const float *b,
                           const struct conv_shape *s)
{
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t o = 0; o < s->O; o++)
            for (int64_t p = 0; p < s->Ho; p++)
                for (int64_t q = 0; q < s->Wo; q++) {
                    double acc = b ? b[o] : 0.0;
                    for (int64_t ci = 0; ci < s->C; ci++)
                        for (int64_t i = 0; i < s->K; i++)
                            for (int64_t j = 0; j < s->K; j++) {
                                int64_t h = p * s->S - s->P + i, v = q * s->S - s->P + j;
                                if (h < 0 || h >= s->H || v < 0 || v >= s->W) continue;
                                acc += (double)x[((n * s->C + ci) * s->H + h) * s->W + v] *
                                       w[((o * s->C + ci) * s->K + i) * s->K + j];
                            }
                    y[((n * s->O + o) * s->Ho + p) * s->Wo + q] = (float)acc;
                }
}

static void conv2d_bwd_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, const struct conv_shape *s)
{
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t o = 0; o < s->O; o++)
            for (int64_t p = 0; p < s->Ho; p++)
                for (int64_t q = 0; q < s->Wo; q++) {
                    float g = dy[((n * s->O + o) * s->Ho + p) * s->Wo + q];
                    if (db) db[o] += g;
                    for (int64_t ci = 0; ci < s->C; ci++)
                        for (int64_t i = 0; i < s->K; i++)
                            for (int64_t j = 0; j < s->K; j++) {
                                int64_t h = p * s->S - s->P + i, v = q * s->S - s->P + j;
                                if (h < 0 || h >= s->H || v < 0 || v >= s->W) continue;
                                int64_t xi = ((n * s->C + ci) * s->H + h) * s->W + v;
                                int64_t wi = ((o * s->C + ci) * s->K + i) * s->K + j;
                                if (dx) dx[xi] += g * w[wi];
                                if (dw) dw[wi] += g * x[xi];
                            }
                }
}

/* ---- the op ---- */

struct conv_saved {
    struct loom_tensor *x, *w, *b, *y;
    void *xb; /* x in the forward primitive's format (arena), or NULL */
    struct conv_shape s;
};

static void conv2d_backward(struct loom_ctx *c, void *p)
{
    struct conv_saved *sv = p;
    if (!sv->y->grad) return;
    bool zx, zw, zb;
    float *dx = loom_cnn_grad(c, sv->x, &zx);
    float *dw = loom_cnn_grad(c, sv->w, &zw);
    float *db = loom_cnn_grad(c, sv->b, &zb);
    if (c->status) return;
    (void)zb; /* the bias gradient (O floats) is always added */
    conv2d_bwd(c, dx, zx, dw, zw, db, sv->y->grad, sv->x->data, sv->xb, sv->w->data, &sv->s);
}

struct loom_tensor *loom_conv2d(struct loom_ctx *c, struct loom_tensor *x, struct loom_tensor *w,
                                struct loom_tensor *b, int stride, int pad)
{
    if (!x || !w) return NULL;
    char a[64], bb[64];
    if (x->ndim != 4 || w->ndim != 4 || w->shape[1] != x->shape[1] || x->shape[1] < 1 ||
        w->shape[0] < 1 || w->shape[2] != w->shape[3] || (w->shape[2] != 1 && w->shape[2] != 3))
        return loom_fail(c, LOOM_ERR_SHAPE, "conv2d: input %s does not fit weight %s",
                         loom_shape_str(x, a, sizeof a), loom_shape_str(w, bb, sizeof bb));
    struct conv_shape s = {.N = x->shape[0],
                           .C = x->shape[1],
                           .H = x->shape[2],
                           .W = x->shape[3],
                           .O = w->shape[0],
                           .K = w->shape[2],
                           .S = stride,
                           .P = pad,
                           .bias = b != NULL};
    if (stride < 1 || pad < 0 || s.H + 2 * s.P < s.K || s.W + 2 * s.P < s.K)
        return loom_fail(c, LOOM_ERR_SHAPE, "conv2d: input %s, kernel %lld, stride %d, pad %d",
                         loom_shape_str(x, a, sizeof a), (long long)s.K, stride, pad);
    if (b && (b->ndim != 1 || b->size != s.O))
        return loom_fail(c, LOOM_ERR_SHAPE, "conv2d: bias %s for %lld outputs",
                         loom_shape_str(b, a, sizeof a), (long long)s.O);
    s.Ho = (s.H + 2 * s.P - s.K) / s.S + 1;
    s.Wo = (s.W + 2 * s.P - s.K) / s.S + 1;
    struct loom_tensor *y = loom_tensor_new(c, LOOM_SHAPE(s.N, s.O, s.Ho, s.Wo));
    if (!y) return NULL;
    struct loom_tensor *in[3] = {x, w, b};
    bool grad = loom_needs_grad_any(c, 3, in);
    void *xb;
    if (!conv2d_fwd(c, y->data, x->data, w->data, b ? b->data : NULL, &s, grad, &xb)) return NULL;
    if (grad) {
        struct conv_saved *sv = loom_tape_record(c, conv2d_backward, sizeof *sv, y);
        if (!sv) return NULL;
        *sv = (struct conv_saved){x, w, b, y, xb, s};
    }
    return y;
}

/* ---- checks ---- */

static struct loom_tensor *gc_case(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    /* N, C, H, W, O, K, stride, pad, bias */
    static const int cases[][9] = {
        {2, 3, 5, 4, 2, 3, 1, 1, 1}, /* 3x3 "same" */
        {1, 2, 7, 5, 3, 3, 2, 0, 0}, /* batch of 1, stride 2, no pad, no bias */
        {2, 3, 4, 5, 2, 1, 1, 0, 1}, /* 1x1 */
        {1, 2, 6, 7, 2, 3, 2, 1, 1}, /* stride 2 with pad: even and odd sizes */
        {2, 2, 3, 3, 3, 1, 2, 1, 1}, /* 1x1 with stride 2 and pad */
        {0, 2, 5, 5, 2, 3, 1, 1, 1}, /* empty batch: zero-size output */
    };
    const int *d = cases[k];
    struct loom_tensor *x = loom_gc_input(gc, LOOM_SHAPE(d[0], d[1], d[2], d[3]), -1, 1);
    struct loom_tensor *w = loom_gc_input(gc, LOOM_SHAPE(d[4], d[1], d[5], d[5]), -1, 1);
    struct loom_tensor *b = d[8] ? loom_gc_input(gc, LOOM_SHAPE(d[4]), -1, 1) : NULL;
    return loom_conv2d(c, x, w, b, d[6], d[7]);
}

static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    for (int t = 0; t < 16; t++) {
        struct conv_shape s = {.N = t == 0 ? 1 : 1 + loom_rng_below(r, 3),
                               .C = 1 + loom_rng_below(r, 6),
                               .O = 1 + loom_rng_below(r, 7),
                               .K = loom_rng_below(r, 2) ? 3 : 1,
                               .S = 1 + (t & 1),
                               .P = (t >> 1) & 1,
                               .bias = t % 3 != 0};
        do {
            s.H = 1 + loom_rng_below(r, 13);
            s.W = 1 + loom_rng_below(r, 13);
        } while (s.H + 2 * s.P < s.K || s.W + 2 * s.P < s.K);
        s.Ho = (s.H + 2 * s.P - s.K) / s.S + 1;
        s.Wo = (s.W + 2 * s.P - s.K) / s.S + 1;
        int64_t nx = s.N * s.C * s.H * s.W, nw = s.O * s.C * s.K * s.K,
                ny = s.N * s.O * s.Ho * s.Wo;
        /* Odd t: gradients accumulate into random values; even t: into zeros
         * the primitives may overwrite. */
        bool acc = (t >> 2) & 1;
        struct loom_check_buf x, w, b, y, y0, dy, dx, dw, db, dx0, dw0, db0;
        loom_check_rand(&x, r, nx), loom_check_rand(&w, r, nw), loom_check_rand(&b, r, s.O);
        loom_check_rand(&dy, r, ny);
        loom_check_zeros(&y, ny), loom_check_zeros(&y0, ny);
        if (acc)
            loom_check_rand(&dx, r, nx), loom_check_rand(&dw, r, nw), loom_check_rand(&db, r, s.O);
        else
            loom_check_zeros(&dx, nx), loom_check_zeros(&dw, nw), loom_check_zeros(&db, s.O);
        loom_check_copy(&dx0, &dx), loom_check_copy(&dw0, &dw), loom_check_copy(&db0, &db);
        float *bp = s.bias ? b.p : NULL;
        enum loom_status st = LOOM_OK;
        void *xb;
        if (!conv2d_fwd(c, y.p, x.p, w.p, bp, &s, true, &xb) ||
            !conv2d_bwd(c, dx.p, !acc, dw.p, !acc, s.bias ? db.p : NULL, dy.p, x.p,
                        t % 4 == 3 ? NULL : xb, w.p, &s))
            st = loom_error_set(err, c->status, "conv2d: %s", c->err.message);
        conv2d_fwd_ref(y0.p, x.p, w.p, bp, &s);
        conv2d_bwd_ref(dx0.p, dw0.p, s.bias ? db0.p : NULL, dy.p, x.p, w.p, &s);
        if (!st) st = loom_check_close(err, "conv2d fwd", &y, &y0, 1e-4);
        if (!st) st = loom_check_close(err, "conv2d dx", &dx, &dx0, 1e-4);
        if (!st) st = loom_check_close(err, "conv2d dw", &dw, &dw0, 1e-4);
        if (!st) st = loom_check_close(err, "conv2d db", &db, &db0, 1e-4);
        loom_check_free(12, &x, &w, &b, &y, &y0, &dy, &dx, &dw, &db, &dx0, &dw0, &db0);
        loom_ctx_reset(c);
        if (st) return st;
    }
    return LOOM_OK;
}

const struct loom_op_info loom_op_conv2d = {
    .name = "conv2d", .ncases = 6, .gc_case = gc_case, .check_ref = check_ref};
