/*
 * rnn_onednn.c — the measurement behind loom's own LSTM (issue 2: "oneDNN RNN
 * primitives or your own gemm-based cells — measure and choose"): oneDNN 2.6's
 * LSTM primitive (C API) next to loom_lstm on the same shape and weights.
 *
 * Shapes: N=64, T=48, I=64, H=128, unidirectional and bidirectional (concat,
 * output 2H), forward and forward+backward; N=1 forward only (inference
 * latency). oneDNN has no per-row lengths, so both run every row at length T;
 * loom also runs with lengths uniform in [8,48], the realistic padded batch
 * (oneDNN cannot: its reverse direction would start in the padding).
 *
 * What is timed, per batch:
 * - loom: loom_lstm (+ loom_backward with dx and every weight gradient).
 * - oneDNN "step": the primitive plus what a training step must add around
 *   it when weights live in oneDNN's ldigo layout: reorders into the format
 *   the primitive picked (backward wants ldgoi), zeroing the gradients
 *   (oneDNN accumulates into them) and reordering them back to ldigo.
 *   For inference the reorders are done once (weights do not change).
 * - oneDNN "prim": the primitive executions alone.
 * Also printed once per shape: the time to create its primitives (a new
 * sequence length is a new shape: at N=1 every distinct T needs its own) and,
 * for inference, the one-time weight reorder.
 * Not timed: PyTorch layout -> ldigo (a store could keep ldigo natively).
 *
 * Before timing, each training shape checks oneDNN's y, dx, dW_ih, dW_hh, db
 * against loom's on the same weights (gate order i,f,g,o is oneDNN's i,f,c,o).
 *
 * Usage: rnn_onednn [reps (20)] [threads (2)] [shape index 0..5 (all)]. Prints the median, min and
 * max of reps runs after 3 warm-up runs.
 */
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ops.h"
#include "core/threads.h"

enum { T = 48, IN = 64, H = 128, G = 4, WARM = 3, MAX_REPS = 200 };

static void dn_ok(dnnl_status_t s, const char *what, int line)
{
    if (s == dnnl_success) return;
    fprintf(stderr, "rnn_onednn.c:%d: %s: oneDNN status %d\n", line, what, (int)s);
    exit(1);
}
#define DN(call) dn_ok((call), #call, __LINE__)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static float *falloc(size_t n)
{
    float *p = loom_aligned_alloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memset(p, 0, n * sizeof *p);
    return p;
}

static float *rand_buf(struct loom_rng *r, size_t n, float s)
{
    float *p = falloc(n);
    loom_rng_fill_uniform(r, p, n, -s, s);
    return p;
}

/* ---- the problem: inputs and weights in both layouts ---- */

/* One direction in PyTorch's layout: w_ih (4H,I), w_hh (4H,H), b_ih, b_hh (4H). */
struct dir_w {
    float *w_ih, *w_hh, *b_ih, *b_hh;
};

struct problem {
    int64_t N;
    int ndir;
    float *x, *dy; /* (N,T,I), (N,T,ndir*H) */
    struct dir_w w[2];
    /* oneDNN's: wl (1,ndir,I,4,H) and wi (1,ndir,H,4,H) ldigo, bias (1,ndir,4,H) ldgo */
    float *wl, *wi, *bias;
};

/* What a run produces, in loom's layouts, to compare the two. */
struct result {
    float *y, *dx, *dw_ih[2], *dw_hh[2], *db[2];
};

/* PyTorch (4H, K) -> ldigo slice of direction d: out[d][k][g][o] = w[g*H+o][k]. */
static void to_ldigo(float *out, const float *w, int d, int64_t K)
{
    for (int64_t k = 0; k < K; k++)
        for (int64_t go = 0; go < G * H; go++) out[(d * K + k) * G * H + go] = w[go * K + k];
}

static void from_ldigo(float *w, const float *in, int d, int64_t K)
{
    for (int64_t k = 0; k < K; k++)
        for (int64_t go = 0; go < G * H; go++) w[go * K + k] = in[(d * K + k) * G * H + go];
}

static void problem_init(struct problem *p, int64_t N, int ndir, uint64_t seed)
{
    struct loom_rng r;
    loom_rng_init(&r, seed, 0);
    float s = 1.0f / sqrtf((float)H); /* PyTorch's initialisation */
    *p = (struct problem){.N = N, .ndir = ndir};
    p->x = rand_buf(&r, (size_t)(N * T * IN), 1.0f);
    p->dy = rand_buf(&r, (size_t)(N * T * ndir * H), 1.0f);
    p->wl = falloc((size_t)(ndir * IN * G * H));
    p->wi = falloc((size_t)(ndir * H * G * H));
    p->bias = falloc((size_t)(ndir * G * H));
    for (int d = 0; d < ndir; d++) {
        struct dir_w *w = &p->w[d];
        w->w_ih = rand_buf(&r, G * H * IN, s);
        w->w_hh = rand_buf(&r, G * H * H, s);
        w->b_ih = rand_buf(&r, G * H, s);
        w->b_hh = rand_buf(&r, G * H, s);
        to_ldigo(p->wl, w->w_ih, d, IN);
        to_ldigo(p->wi, w->w_hh, d, H);
        for (int64_t j = 0; j < G * H; j++) p->bias[d * G * H + j] = w->b_ih[j] + w->b_hh[j];
    }
}

static void problem_done(struct problem *p)
{
    free(p->x), free(p->dy), free(p->wl), free(p->wi), free(p->bias);
    for (int d = 0; d < p->ndir; d++)
        free(p->w[d].w_ih), free(p->w[d].w_hh), free(p->w[d].b_ih), free(p->w[d].b_hh);
}

static void result_init(struct result *res, const struct problem *p)
{
    memset(res, 0, sizeof *res);
    res->y = falloc((size_t)(p->N * T * p->ndir * H));
    res->dx = falloc((size_t)(p->N * T * IN));
    for (int d = 0; d < p->ndir; d++) {
        res->dw_ih[d] = falloc(G * H * IN);
        res->dw_hh[d] = falloc(G * H * H);
        res->db[d] = falloc(G * H);
    }
}

static void result_done(struct result *res)
{
    free(res->y), free(res->dx);
    for (int d = 0; d < 2; d++) free(res->dw_ih[d]), free(res->dw_hh[d]), free(res->db[d]);
}

/* ---- loom ---- */

/* One loom_lstm (+ backward when train); copies the outputs into res if given. */
static double loom_run(struct loom_ctx *c, const struct problem *p, const int32_t *len, bool train,
                       struct result *res)
{
    loom_ctx_reset(c);
    c->grad_enabled = train;
    struct loom_tensor *x = loom_tensor_wrap(c, p->x, 3, (const int64_t[]){p->N, T, IN});
    x->flags |= LOOM_T_REQUIRES_GRAD; /* an encoder's input (embeddings) wants dx */
    struct loom_rnn_weights w[2] = {{0}};
    struct loom_tensor *t[2][4];
    for (int d = 0; d < p->ndir; d++) {
        float *bufs[4] = {p->w[d].w_ih, p->w[d].w_hh, p->w[d].b_ih, p->w[d].b_hh};
        const int64_t shapes[4][2] = {{G * H, IN}, {G * H, H}, {G * H, 1}, {G * H, 1}};
        for (int i = 0; i < 4; i++) {
            t[d][i] = loom_tensor_wrap(c, bufs[i], i < 2 ? 2 : 1, shapes[i]);
            t[d][i]->flags |= LOOM_T_REQUIRES_GRAD;
        }
        w[d] = (struct loom_rnn_weights){t[d][0], t[d][1], t[d][2], t[d][3]};
    }
    double t0 = now_ms();
    struct loom_tensor *y = loom_lstm(c, x, len, &w[0], p->ndir == 2 ? &w[1] : NULL);
    if (!y || (train && loom_backward(c, y, p->dy) != LOOM_OK)) {
        fprintf(stderr, "loom_lstm failed: %s\n", c->err.message);
        exit(1);
    }
    double ms = now_ms() - t0;
    if (res) {
        memcpy(res->y, y->data, (size_t)y->size * sizeof(float));
        if (train) {
            memcpy(res->dx, x->grad, (size_t)x->size * sizeof(float));
            for (int d = 0; d < p->ndir; d++) {
                memcpy(res->dw_ih[d], t[d][0]->grad, G * H * IN * sizeof(float));
                memcpy(res->dw_hh[d], t[d][1]->grad, G * H * H * sizeof(float));
                memcpy(res->db[d], t[d][2]->grad, G * H * sizeof(float));
            }
        }
    }
    return ms;
}

/* ---- oneDNN ---- */

/* A tensor in the layout a primitive wants, fed from the user's memory (or,
 * to_user, drained into it): a reorder when the two layouts differ. */
struct conv {
    dnnl_memory_t user, prim;
    dnnl_primitive_t reorder; /* NULL: prim is user */
    bool to_user;
};

static dnnl_memory_t mem_new(dnnl_engine_t e, const dnnl_memory_desc_t *md, void *data)
{
    dnnl_memory_t m;
    DN(dnnl_memory_create(&m, md, e, data ? data : DNNL_MEMORY_ALLOCATE));
    return m;
}

static const dnnl_memory_desc_t *arg_md(const_dnnl_primitive_desc_t pd, int arg)
{
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

static void conv_init(struct conv *cv, dnnl_engine_t e, dnnl_memory_t user,
                      const dnnl_memory_desc_t *want, bool to_user)
{
    const dnnl_memory_desc_t *have;
    DN(dnnl_memory_get_memory_desc(user, &have));
    *cv = (struct conv){.user = user, .prim = user, .to_user = to_user};
    if (dnnl_memory_desc_equal(have, want)) return;
    cv->prim = mem_new(e, want, NULL);
    dnnl_primitive_desc_t pd;
    if (to_user)
        DN(dnnl_reorder_primitive_desc_create(&pd, want, e, have, e, NULL));
    else
        DN(dnnl_reorder_primitive_desc_create(&pd, have, e, want, e, NULL));
    DN(dnnl_primitive_create(&cv->reorder, pd));
    DN(dnnl_primitive_desc_destroy(pd));
}

static void conv_run(const struct conv *cv, dnnl_stream_t s)
{
    if (!cv->reorder) return;
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, cv->to_user ? cv->prim : cv->user},
                            {DNNL_ARG_TO, cv->to_user ? cv->user : cv->prim}};
    DN(dnnl_primitive_execute(cv->reorder, s, 2, a));
}

static void conv_done(struct conv *cv)
{
    if (!cv->reorder) return;
    DN(dnnl_primitive_destroy(cv->reorder));
    DN(dnnl_memory_destroy(cv->prim));
}

static void mem_zero(dnnl_memory_t m)
{
    const dnnl_memory_desc_t *md;
    void *p;
    DN(dnnl_memory_get_memory_desc(m, &md));
    DN(dnnl_memory_get_data_handle(m, &p));
    memset(p, 0, dnnl_memory_desc_get_size(md));
}

/* One shape's primitives and memories: forward (training or inference) and,
 * for training, backward. User memories wrap the problem's and result's
 * buffers; y, dx and dW come out in ldigo, converted to loom's layout by
 * dn_result. */
struct dn_lstm {
    bool train;
    dnnl_primitive_t fwd, bwd;
    dnnl_memory_t src, dst, ws, dsrc, ddst;
    dnnl_memory_t wl, wi, bias, dwl, dwi, dbias; /* user: ldigo, ldgo */
    struct conv wl_f, wi_f, bias_f, wl_b, wi_b, bias_b, dwl_b, dwi_b, dbias_b;
    float *dwl_buf, *dwi_buf, *dbias_buf;
    const char *impl_fwd, *impl_bwd;
};

static void md_tag(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag)
{
    DN(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag));
}

static void dn_init(struct dn_lstm *m, dnnl_engine_t e, const struct problem *p, struct result *res,
                    bool train)
{
    memset(m, 0, sizeof *m);
    m->train = train;
    int64_t N = p->N, nd = p->ndir;
    dnnl_memory_desc_t src_md, dst_md, wl_md, wi_md, b_md, wl_any, wi_any;
    /* Data are (T,N,C) logically; ntc is loom's (N,T,C) in memory: no copies. */
    md_tag(&src_md, 3, (dnnl_dims_t){T, N, IN}, dnnl_ntc);
    md_tag(&dst_md, 3, (dnnl_dims_t){T, N, nd * H}, dnnl_ntc);
    md_tag(&wl_md, 5, (dnnl_dims_t){1, nd, IN, G, H}, dnnl_ldigo);
    md_tag(&wi_md, 5, (dnnl_dims_t){1, nd, H, G, H}, dnnl_ldigo);
    md_tag(&b_md, 4, (dnnl_dims_t){1, nd, G, H}, dnnl_ldgo);
    md_tag(&wl_any, 5, (dnnl_dims_t){1, nd, IN, G, H}, dnnl_format_tag_any);
    md_tag(&wi_any, 5, (dnnl_dims_t){1, nd, H, G, H}, dnnl_format_tag_any);
    dnnl_rnn_direction_t dir = nd == 2 ? dnnl_bidirectional_concat : dnnl_unidirectional_left2right;

    dnnl_rnn_desc_t fd;
    DN(dnnl_lstm_forward_desc_init(&fd, train ? dnnl_forward_training : dnnl_forward_inference, dir,
                                   &src_md, NULL, NULL, &wl_any, &wi_any, &b_md, &dst_md, NULL,
                                   NULL, 0));
    dnnl_primitive_desc_t fpd;
    DN(dnnl_primitive_desc_create(&fpd, &fd, NULL, e, NULL));
    DN(dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &m->impl_fwd));
    m->src = mem_new(e, &src_md, p->x);
    m->dst = mem_new(e, &dst_md, res->y);
    m->wl = mem_new(e, &wl_md, p->wl);
    m->wi = mem_new(e, &wi_md, p->wi);
    m->bias = mem_new(e, &b_md, p->bias);
    conv_init(&m->wl_f, e, m->wl, arg_md(fpd, DNNL_ARG_WEIGHTS_LAYER), false);
    conv_init(&m->wi_f, e, m->wi, arg_md(fpd, DNNL_ARG_WEIGHTS_ITER), false);
    conv_init(&m->bias_f, e, m->bias, arg_md(fpd, DNNL_ARG_BIAS), false);
    if (train) m->ws = mem_new(e, arg_md(fpd, DNNL_ARG_WORKSPACE), NULL);
    DN(dnnl_primitive_create(&m->fwd, fpd));
    if (!train) {
        DN(dnnl_primitive_desc_destroy(fpd));
        return;
    }

    dnnl_rnn_desc_t bd;
    DN(dnnl_lstm_backward_desc_init(&bd, dnnl_backward, dir, &src_md, NULL, NULL, &wl_any, &wi_any,
                                    &b_md, &dst_md, NULL, NULL, &src_md, NULL, NULL, &wl_any,
                                    &wi_any, &b_md, &dst_md, NULL, NULL, 0));
    dnnl_primitive_desc_t bpd;
    DN(dnnl_primitive_desc_create(&bpd, &bd, NULL, e, fpd));
    DN(dnnl_primitive_desc_query(bpd, dnnl_query_impl_info_str, 0, &m->impl_bwd));
    m->dsrc = mem_new(e, &src_md, res->dx);
    m->ddst = mem_new(e, &dst_md, p->dy);
    m->dwl_buf = falloc((size_t)(nd * IN * G * H));
    m->dwi_buf = falloc((size_t)(nd * H * G * H));
    m->dbias_buf = falloc((size_t)(nd * G * H));
    m->dwl = mem_new(e, &wl_md, m->dwl_buf);
    m->dwi = mem_new(e, &wi_md, m->dwi_buf);
    m->dbias = mem_new(e, &b_md, m->dbias_buf);
    conv_init(&m->wl_b, e, m->wl, arg_md(bpd, DNNL_ARG_WEIGHTS_LAYER), false);
    conv_init(&m->wi_b, e, m->wi, arg_md(bpd, DNNL_ARG_WEIGHTS_ITER), false);
    conv_init(&m->bias_b, e, m->bias, arg_md(bpd, DNNL_ARG_BIAS), false);
    conv_init(&m->dwl_b, e, m->dwl, arg_md(bpd, DNNL_ARG_DIFF_WEIGHTS_LAYER), true);
    conv_init(&m->dwi_b, e, m->dwi, arg_md(bpd, DNNL_ARG_DIFF_WEIGHTS_ITER), true);
    conv_init(&m->dbias_b, e, m->dbias, arg_md(bpd, DNNL_ARG_DIFF_BIAS), true);
    DN(dnnl_primitive_create(&m->bwd, bpd));
    DN(dnnl_primitive_desc_destroy(bpd));
    DN(dnnl_primitive_desc_destroy(fpd));
}

static void dn_done(struct dn_lstm *m)
{
    struct conv *cv[] = {&m->wl_f,   &m->wi_f,  &m->bias_f, &m->wl_b,   &m->wi_b,
                         &m->bias_b, &m->dwl_b, &m->dwi_b,  &m->dbias_b};
    for (size_t i = 0; i < sizeof cv / sizeof *cv; i++)
        if (m->train || i < 3) conv_done(cv[i]);
    dnnl_memory_t mems[] = {m->src, m->dst,  m->ws,  m->dsrc, m->ddst, m->wl,
                            m->wi,  m->bias, m->dwl, m->dwi,  m->dbias};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i]) DN(dnnl_memory_destroy(mems[i]));
    DN(dnnl_primitive_destroy(m->fwd));
    if (m->bwd) DN(dnnl_primitive_destroy(m->bwd));
    free(m->dwl_buf), free(m->dwi_buf), free(m->dbias_buf);
}

/* The weight reorders forward needs; per step in training, once in inference. */
static void dn_prepare_fwd(const struct dn_lstm *m, dnnl_stream_t s)
{
    conv_run(&m->wl_f, s), conv_run(&m->wi_f, s), conv_run(&m->bias_f, s);
}

/* One step; returns its time, and the primitives' alone in *prim_ms. */
static double dn_run(const struct dn_lstm *m, dnnl_stream_t s, double *prim_ms)
{
    double t0 = now_ms(), prim = 0;
    if (m->train) dn_prepare_fwd(m, s);
    dnnl_exec_arg_t fa[] = {
        {DNNL_ARG_SRC_LAYER, m->src},          {DNNL_ARG_WEIGHTS_LAYER, m->wl_f.prim},
        {DNNL_ARG_WEIGHTS_ITER, m->wi_f.prim}, {DNNL_ARG_BIAS, m->bias_f.prim},
        {DNNL_ARG_DST_LAYER, m->dst},          {DNNL_ARG_WORKSPACE, m->ws}};
    DN(dnnl_stream_wait(s));
    double t1 = now_ms();
    DN(dnnl_primitive_execute(m->fwd, s, m->train ? 6 : 5, fa));
    DN(dnnl_stream_wait(s));
    prim += now_ms() - t1;
    if (m->train) {
        conv_run(&m->wl_b, s), conv_run(&m->wi_b, s), conv_run(&m->bias_b, s);
        mem_zero(m->dwl_b.prim), mem_zero(m->dwi_b.prim), mem_zero(m->dbias_b.prim);
        dnnl_exec_arg_t ba[] = {{DNNL_ARG_SRC_LAYER, m->src},
                                {DNNL_ARG_WEIGHTS_LAYER, m->wl_b.prim},
                                {DNNL_ARG_WEIGHTS_ITER, m->wi_b.prim},
                                {DNNL_ARG_BIAS, m->bias_b.prim},
                                {DNNL_ARG_DST_LAYER, m->dst},
                                {DNNL_ARG_DIFF_SRC_LAYER, m->dsrc},
                                {DNNL_ARG_DIFF_WEIGHTS_LAYER, m->dwl_b.prim},
                                {DNNL_ARG_DIFF_WEIGHTS_ITER, m->dwi_b.prim},
                                {DNNL_ARG_DIFF_BIAS, m->dbias_b.prim},
                                {DNNL_ARG_DIFF_DST_LAYER, m->ddst},
                                {DNNL_ARG_WORKSPACE, m->ws}};
        DN(dnnl_stream_wait(s));
        t1 = now_ms();
        DN(dnnl_primitive_execute(m->bwd, s, (int)(sizeof ba / sizeof *ba), ba));
        DN(dnnl_stream_wait(s));
        prim += now_ms() - t1;
        conv_run(&m->dwl_b, s), conv_run(&m->dwi_b, s), conv_run(&m->dbias_b, s);
    }
    DN(dnnl_stream_wait(s));
    *prim_ms = prim;
    return now_ms() - t0;
}

/* oneDNN's gradients into loom's layouts (y and dx are already there). */
static void dn_result(const struct dn_lstm *m, const struct problem *p, struct result *res)
{
    for (int d = 0; d < p->ndir; d++) {
        from_ldigo(res->dw_ih[d], m->dwl_buf, d, IN);
        from_ldigo(res->dw_hh[d], m->dwi_buf, d, H);
        memcpy(res->db[d], m->dbias_buf + d * G * H, G * H * sizeof(float));
    }
}

/* ---- checks and timing ---- */

/* Max |a-b| over n; *scale gets max |b|. */
static double max_diff(const float *a, const float *b, size_t n, double *scale)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    *scale = s;
    return m;
}

struct pair {
    const float *a, *b;
    size_t n;
};

/* Compares oneDNN's run with loom's; false (and prints) past tolerance:
 * 1e-4 absolute on y, 1e-4 relative to the largest entry on gradients (sums
 * over N*T steps in a different order). */
static bool compare(const struct problem *p, const struct result *dn, const struct result *lm,
                    bool train)
{
    int64_t N = p->N;
    double scale, worst = 0;
    double dy = max_diff(dn->y, lm->y, (size_t)(N * T * p->ndir * H), &scale);
    bool ok = dy < 1e-4;
    printf("  check N=%lld %s %s: max|y diff| %.2e", (long long)N, p->ndir == 2 ? "bi" : "uni",
           train ? "train" : "infer", dy);
    if (train) {
        struct pair g[8];
        int ng = 0;
        g[ng++] = (struct pair){dn->dx, lm->dx, (size_t)(N * T * IN)};
        for (int d = 0; d < p->ndir; d++) {
            g[ng++] = (struct pair){dn->dw_ih[d], lm->dw_ih[d], G * H * IN};
            g[ng++] = (struct pair){dn->dw_hh[d], lm->dw_hh[d], G * H * H};
            g[ng++] = (struct pair){dn->db[d], lm->db[d], G * H};
        }
        for (int i = 0; i < ng; i++) {
            double diff = max_diff(g[i].a, g[i].b, g[i].n, &scale);
            worst = fmax(worst, diff / fmax(scale, 1e-30));
        }
        ok = ok && worst < 1e-4;
        printf(", max gradient diff / max|gradient| %.2e", worst);
    }
    printf(" %s\n", ok ? "ok" : "FAIL");
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_row(const char *impl, const char *what, const struct problem *p, bool train,
                      const char *lengths, double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    double med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    printf("%-6s %-5s N=%-2lld %-3s %-7s %-9s %8.3f ms  [%7.3f, %7.3f]  %8.1f us/seq\n", impl, what,
           (long long)p->N, p->ndir == 2 ? "bi" : "uni", train ? "fwd+bwd" : "fwd", lengths, med,
           t[0], t[n - 1], med * 1e3 / (double)p->N);
}

static bool bench_shape(struct loom_ctx *c, dnnl_engine_t e, dnnl_stream_t s, int64_t N, int ndir,
                        bool train, int reps)
{
    struct problem p;
    struct result lm, dn;
    problem_init(&p, N, ndir, 7 + (uint64_t)N + (uint64_t)ndir);
    result_init(&lm, &p), result_init(&dn, &p);
    int32_t full[64], mixed[64];
    struct loom_rng r;
    loom_rng_init(&r, 11, 0);
    for (int64_t n = 0; n < N; n++) full[n] = T, mixed[n] = 8 + (int32_t)loom_rng_below(&r, T - 7);
    struct dn_lstm m;
    double t0 = now_ms();
    dn_init(&m, e, &p, &dn, train); /* a new shape (T, N): JIT and all */
    double t_create = now_ms() - t0;
    t0 = now_ms();
    if (!train) dn_prepare_fwd(&m, s), DN(dnnl_stream_wait(s));
    double t_reorder = now_ms() - t0;

    /* Same work: same weights and outputs before any timing. */
    double prim[MAX_REPS], step[MAX_REPS], tl[MAX_REPS];
    loom_run(c, &p, full, train, &lm);
    dn_run(&m, s, &prim[0]);
    if (train) dn_result(&m, &p, &dn);
    bool ok = compare(&p, &dn, &lm, train);

    for (int i = 0; i < WARM + reps; i++) {
        double pm, sm = dn_run(&m, s, &pm);
        if (i >= WARM) step[i - WARM] = sm, prim[i - WARM] = pm;
    }
    print_row("oneDNN", "step", &p, train, "all T", step, reps);
    print_row("oneDNN", "prim", &p, train, "all T", prim, reps);
    for (int mode = 0; mode < (N > 1 ? 2 : 1); mode++) {
        for (int i = 0; i < WARM + reps; i++) {
            double ms = loom_run(c, &p, mode ? mixed : full, train, NULL);
            if (i >= WARM) tl[i - WARM] = ms;
        }
        print_row("loom", "", &p, train, mode ? "[8,48]" : "all T", tl, reps);
    }
    printf("  oneDNN implementation: %s%s%s; primitive creation %.2f ms", m.impl_fwd,
           train ? " / " : "", train ? m.impl_bwd : "", t_create);
    if (!train) printf("; weight reorder (once) %.3f ms", t_reorder);
    printf("\n");
    dn_done(&m);
    result_done(&lm), result_done(&dn);
    problem_done(&p);
    return ok;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    int threads = loom_threads_set(argc > 2 ? atoi(argv[2]) : 2);
    int only = argc > 3 ? atoi(argv[3]) : -1;
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: rnn_onednn [reps 1..%d] [threads] [shape index]\n", MAX_REPS);
        return 2;
    }
    const dnnl_version_t *v = dnnl_version();
    printf("LSTM T=%d I=%d H=%d, %d threads, oneDNN %d.%d.%d (%s), median of %d after %d warm-up "
           "[min, max]\n",
           T, IN, H, threads, v->major, v->minor, v->patch,
           v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other runtime", reps, WARM);
    dnnl_engine_t e;
    dnnl_stream_t s;
    DN(dnnl_engine_create(&e, dnnl_cpu, 0));
    DN(dnnl_stream_create(&s, e, dnnl_stream_default_flags));
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    static const struct {
        int64_t N;
        int ndir;
        bool train;
    } shapes[] = {{64, 1, false}, {64, 1, true}, {64, 2, false},
                  {64, 2, true},  {1, 1, false}, {1, 2, false}};
    bool ok = true;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (only < 0 || (size_t)only == i)
            ok &= bench_shape(&c, e, s, shapes[i].N, shapes[i].ndir, shapes[i].train, reps);
    loom_ctx_done(&c);
    DN(dnnl_stream_destroy(s));
    DN(dnnl_engine_destroy(e));
    return ok ? 0 : 1;
}
