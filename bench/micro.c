/*
 * micro.c — engine micro-benchmark (not a test): GFLOP/s of linear and
 * conv2d forward+backward next to plain cblas_sgemm calls of the same
 * arithmetic, BiLSTM forward+backward time per sequence, and the whole CNN
 * trunk (256 photos of 3x64x64, channels 32, 64, 128) forward+backward as
 * the chain of separate ops, as loom_cnn_trunk in fp32 and in bf16, at the
 * shapes of the reference model (../shared/bench/ref_model.py). Medians of
 * repeats (5 for the trunk).
 *
 *   build/bench/loom-micro [--threads N] [--reps R] [--trunk [chain|fp32|bf16]]
 *   (--trunk: only the trunk, all three or the one named)
 *   build/bench/loom-micro --limits [--images P] [--json OUT] [--threads N] [--reps R]
 *
 * --limits measures the machine's limits for bench/market_ref instead:
 * oneDNN's own convolutions (forward, backward data, backward weights; every
 * tensor in the layout oneDNN prefers, primitives created before the clock)
 * at the reference CNN's three shapes for P photos (default 256: a batch of
 * 64 rows with 4 photos each), fp32 direct, fp32 Winograd and bf16 where
 * the CPU and oneDNN offer them; cblas_sgemm at the LSTM's and the MLPs'
 * shapes (the same arithmetic as their forward + backward) and at
 * 2048x2048x2048 (the fp32 peak). Written as JSON for run.sh.
 */
#include <cblas.h>
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/onednn.h"
#include "core/ops.h"
#include "core/threads.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static struct loom_tensor *param(struct loom_ctx *c, struct loom_rng *r, int ndim,
                                 const int64_t *shape)
{
    struct loom_tensor *t = loom_tensor_new(c, ndim, shape);
    loom_rng_fill_uniform(r, t->data, (size_t)t->size, -0.1f, 0.1f);
    t->flags |= LOOM_T_REQUIRES_GRAD;
    return t;
}

/* Median seconds of fwd+bwd of the graph that build() makes. Inputs are
 * made in the arena each repeat; the clock starts after them. */
typedef struct loom_tensor *(*build_fn)(struct loom_ctx *c, struct loom_rng *r, const int *dims,
                                        double *t0);

static double time_graph(build_fn build, const int *dims, int reps)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    double *t = calloc((size_t)reps, sizeof *t);
    for (int i = -2; i < reps; i++) { /* two warm-up runs create primitives, size the arena */
        struct loom_rng r;
        loom_rng_init(&r, 5, 0);
        loom_ctx_reset(&c);
        c.grad_enabled = c.training = true;
        double t0 = 0;
        struct loom_tensor *y = build(&c, &r, dims, &t0); /* sets t0 once its inputs exist */
        if (!y || loom_backward(&c, y, NULL) != LOOM_OK) {
            fprintf(stderr, "bench failed: %s\n", c.err.message);
            exit(1);
        }
        if (i >= 0) t[i] = now() - t0;
    }
    double m = median(t, reps);
    free(t);
    loom_ctx_done(&c);
    return m;
}

/* dims: rows, in, out */
static struct loom_tensor *build_linear(struct loom_ctx *c, struct loom_rng *r, const int *d,
                                        double *t0)
{
    struct loom_tensor *x = param(c, r, LOOM_SHAPE(d[0], d[1]));
    struct loom_tensor *w = param(c, r, LOOM_SHAPE(d[2], d[1]));
    struct loom_tensor *b = param(c, r, LOOM_SHAPE(d[2]));
    *t0 = now();
    return loom_linear(c, x, w, b);
}

/* dims: N, C, H, W, O, K */
static struct loom_tensor *build_conv(struct loom_ctx *c, struct loom_rng *r, const int *d,
                                      double *t0)
{
    struct loom_tensor *x = param(c, r, LOOM_SHAPE(d[0], d[1], d[2], d[3]));
    struct loom_tensor *w = param(c, r, LOOM_SHAPE(d[4], d[1], d[5], d[5]));
    *t0 = now();
    return loom_conv2d(c, x, w, NULL, 1, d[5] / 2);
}

/* dims: N, T, I, H */
static struct loom_tensor *build_lstm(struct loom_ctx *c, struct loom_rng *r, const int *d,
                                      double *t0)
{
    struct loom_tensor *x = param(c, r, LOOM_SHAPE(d[0], d[1], d[2]));
    struct loom_rnn_weights dir[2];
    for (int k = 0; k < 2; k++) {
        dir[k].w_ih = param(c, r, LOOM_SHAPE(4 * d[3], d[2]));
        dir[k].w_hh = param(c, r, LOOM_SHAPE(4 * d[3], d[3]));
        dir[k].b_ih = param(c, r, LOOM_SHAPE(4 * d[3]));
        dir[k].b_hh = param(c, r, LOOM_SHAPE(4 * d[3]));
    }
    int32_t *len = loom_arena_alloc(&c->arena, (size_t)d[0] * sizeof *len);
    for (int i = 0; i < d[0]; i++) len[i] = 8 + (int32_t)loom_rng_below(r, (uint32_t)d[1] - 7);
    *t0 = now();
    return loom_lstm(c, x, len, &dir[0], &dir[1]);
}

/* dims: N, S, stages, their channels; variant 0 the chain of ops, 1 the
 * fused op, 2 the fused op in bf16 */
static struct loom_tensor *build_trunk(struct loom_ctx *c, struct loom_rng *r, const int *d,
                                       double *t0)
{
    struct loom_tensor *x = loom_tensor_new(c, LOOM_SHAPE(d[0], 3, d[1], d[1]));
    loom_rng_fill_uniform(r, x->data, (size_t)x->size, -1.0f, 1.0f);
    struct loom_cnn_stage st[LOOM_CNN_TRUNK_MAX_STAGES];
    int64_t in = 3;
    for (int i = 0; i < d[2]; i++) {
        int64_t o = d[3 + i];
        st[i].w = param(c, r, LOOM_SHAPE(o, in, 3, 3));
        st[i].gamma = param(c, r, LOOM_SHAPE(o));
        st[i].beta = param(c, r, LOOM_SHAPE(o));
        st[i].mean = loom_tensor_zeros(c, LOOM_SHAPE(o));
        st[i].var = loom_tensor_zeros(c, LOOM_SHAPE(o));
        for (int64_t k = 0; k < o; k++) st[i].gamma->data[k] = 1, st[i].var->data[k] = 1;
        in = o;
    }
    int variant = d[3 + d[2]];
    c->bf16 = variant == 2;
    *t0 = now();
    if (variant) return loom_cnn_trunk(c, x, d[2], st, 0.1f, 1e-5f);
    for (int i = 0; i < d[2]; i++) {
        x = loom_conv2d(c, x, st[i].w, NULL, 1, 1);
        x = loom_relu(
            c, loom_batch_norm(c, x, st[i].gamma, st[i].beta, st[i].mean, st[i].var, 0.1f, 1e-5f));
        if (i + 1 < d[2]) x = loom_max_pool2d(c, x, 2, 2);
    }
    return loom_global_avg_pool(c, x);
}

/* The trunk of the reference model: 256 photos (a batch of 64 rows with 4
 * each on average). */
static void bench_trunk(int only)
{
    int d[8] = {256, 64, 3, 32, 64, 128, 0};
    double flop = 0;
    for (int i = 0, in = 3, S = d[1]; i < d[2]; in = d[3 + i], S /= 2, i++)
        flop += 3.0 * 2.0 * d[0] * S * S * d[3 + i] * in * 9;
    static const char *const names[] = {"chain of ops", "cnn_trunk fp32", "cnn_trunk bf16"};
    for (int v = 0; v < 3; v++) {
        if (only >= 0 && v != only) continue;
        if (v == 2 && !loom_dnnl_bf16()) {
            printf("trunk %-38s (no AVX512-BF16/AMX on this CPU)\n", names[v]);
            continue;
        }
        d[3 + d[2]] = v;
        double t = time_graph(build_trunk, d, 5);
        printf("trunk %dx3x%dx%d 32,64,128 %-14s %10.3f %10.1f %12s %8s\n", d[0], d[1], d[1],
               names[v], t * 1e3, flop / t * 1e-9, "", "");
    }
}

/* The same arithmetic as fwd + bwd-data + bwd-weights, as three sgemms:
 * (M,K)x(K,Nn), (M,Nn)x(Nn,K), (K,M)x(M,Nn). */
static double time_sgemm3(int M, int Nn, int K, int reps)
{
    float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)K * Nn, 4);
    float *y = calloc((size_t)M * Nn, 4), *da = calloc((size_t)M * K, 4),
          *db = calloc((size_t)K * Nn, 4);
    double *t = calloc((size_t)reps, sizeof *t);
    for (int i = -2; i < reps; i++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, Nn, K, 1, a, K, b, Nn, 0, y, Nn);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, Nn, 1, y, Nn, b, Nn, 0, da, K);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, Nn, M, 1, a, K, y, Nn, 0, db, Nn);
        if (i >= 0) t[i] = now() - t0;
    }
    double m = median(t, reps);
    free(a), free(b), free(y), free(da), free(db), free(t);
    return m;
}

/* ---- --limits: oneDNN convolutions and sgemm at the reference's shapes ---- */

enum conv_pass { CONV_FWD, CONV_BWD_DATA, CONV_BWD_WEIGHTS, CONV_NPASS };

struct conv_run {
    double ms[CONV_NPASS]; /* median per pass; NAN when oneDNN has no implementation */
    char impl[CONV_NPASS][64];
};

static dnnl_memory_t new_mem(const dnnl_memory_desc_t *md, dnnl_engine_t eng)
{
    dnnl_memory_t m = NULL;
    if (dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE) != dnnl_success) return NULL;
    void *p = NULL;
    /* ~0.0115 in fp32 and in bf16: no denormals, no NaN */
    if (dnnl_memory_get_data_handle(m, &p) == dnnl_success && p)
        memset(p, 0x3c, dnnl_memory_desc_get_size(md));
    return m;
}

/* Median ms of `reps` runs of one primitive (after 2 warm-ups); NAN when
 * oneDNN cannot make it. args: which of src/weights/dst/diff_* to bind. */
static double time_conv_pass(dnnl_engine_t eng, dnnl_stream_t st, const dnnl_convolution_desc_t *d,
                             const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd_out,
                             const int (*args)[2], int nargs, int reps, char *impl, size_t n)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_exec_arg_t ea[4];
    double m = NAN;
    snprintf(impl, n, "none");
    if (dnnl_primitive_desc_create(&pd, d, NULL, eng, hint) != dnnl_success) return NAN;
    const char *name = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name)
        snprintf(impl, n, "%s", name);
    bool ok = dnnl_primitive_create(&prim, pd) == dnnl_success;
    for (int i = 0; ok && i < nargs; i++) {
        ea[i].arg = args[i][0];
        ea[i].memory = new_mem(dnnl_primitive_desc_query_md(pd, (dnnl_query_t)args[i][1], 0), eng);
        ok = ea[i].memory != NULL;
        if (!ok) nargs = i;
    }
    double *t = calloc((size_t)reps, sizeof *t);
    for (int r = -2; ok && t && r < reps; r++) {
        double t0 = now();
        ok = dnnl_primitive_execute(prim, st, nargs, ea) == dnnl_success &&
             dnnl_stream_wait(st) == dnnl_success;
        if (r >= 0) t[r] = (now() - t0) * 1e3;
    }
    if (ok && t) m = median(t, reps);
    free(t);
    for (int i = 0; i < nargs; i++) dnnl_memory_destroy(ea[i].memory);
    dnnl_primitive_destroy(prim);
    if (pd_out)
        *pd_out = pd;
    else
        dnnl_primitive_desc_destroy(pd);
    return m;
}

/* dims: N, C, H, W, O (3x3, stride 1, padding 1) */
static void time_conv_onednn(dnnl_engine_t eng, dnnl_stream_t st, const int *d, dnnl_alg_kind_t alg,
                             dnnl_data_type_t dt, int reps, struct conv_run *out)
{
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t ds = {d[0], d[1], d[2], d[3]}, dw = {d[4], d[1], 3, 3},
                dd = {d[0], d[4], d[2], d[3]};
    dnnl_dims_t strides = {1, 1}, pad = {1, 1};
    dnnl_memory_desc_init_by_tag(&src, 4, ds, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&wei, 4, dw, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst, 4, dd, dt, dnnl_format_tag_any);
    dnnl_convolution_desc_t fd, bd, wd;
    for (int p = 0; p < CONV_NPASS; p++) out->ms[p] = NAN, snprintf(out->impl[p], 64, "none");
    if (dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, alg, &src, &wei, NULL, &dst,
                                           strides, pad, pad) != dnnl_success)
        return;
    static const int fa[3][2] = {{DNNL_ARG_SRC, dnnl_query_src_md},
                                 {DNNL_ARG_WEIGHTS, dnnl_query_weights_md},
                                 {DNNL_ARG_DST, dnnl_query_dst_md}};
    static const int ba[3][2] = {{DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md},
                                 {DNNL_ARG_WEIGHTS, dnnl_query_weights_md},
                                 {DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md}};
    static const int wa[3][2] = {{DNNL_ARG_SRC, dnnl_query_src_md},
                                 {DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md},
                                 {DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md}};
    dnnl_primitive_desc_t fpd = NULL;
    out->ms[CONV_FWD] =
        time_conv_pass(eng, st, &fd, NULL, &fpd, fa, 3, reps, out->impl[CONV_FWD], 64);
    if (!fpd) return;
    if (dnnl_convolution_backward_data_desc_init(&bd, alg, &src, &wei, &dst, strides, pad, pad) ==
        dnnl_success)
        out->ms[CONV_BWD_DATA] =
            time_conv_pass(eng, st, &bd, fpd, NULL, ba, 3, reps, out->impl[CONV_BWD_DATA], 64);
    if (dnnl_convolution_backward_weights_desc_init(&wd, alg, &src, &wei, NULL, &dst, strides, pad,
                                                    pad) == dnnl_success)
        out->ms[CONV_BWD_WEIGHTS] =
            time_conv_pass(eng, st, &wd, fpd, NULL, wa, 3, reps, out->impl[CONV_BWD_WEIGHTS], 64);
    dnnl_primitive_desc_destroy(fpd);
}

/* One sgemm (M,K)x(K,N), median ms. */
static double time_sgemm1(int M, int Nn, int K, int reps)
{
    float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)K * Nn, 4),
          *y = calloc((size_t)M * Nn, 4);
    double *t = calloc((size_t)reps, sizeof *t);
    for (int i = -2; i < reps; i++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, Nn, K, 1, a, K, b, Nn, 0, y, Nn);
        if (i >= 0) t[i] = now() - t0;
    }
    double m = median(t, reps) * 1e3;
    free(a), free(b), free(y), free(t);
    return m;
}

static int limits(int images, int reps, const char *json)
{
    dnnl_engine_t eng = NULL;
    dnnl_stream_t st = NULL;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&st, eng, dnnl_stream_default_flags) != dnnl_success) {
        fprintf(stderr, "loom-micro: no oneDNN CPU engine\n");
        return 1;
    }
    FILE *f = json ? fopen(json, "w") : NULL;
    if (json && !f) {
        perror(json);
        return 1;
    }
    printf("machine limits: %d threads, median of %d, %d photos per batch; OpenBLAS: %s\n",
           loom_threads_get(), reps, images, loom_threads_blas_config());
    double peak_ms = time_sgemm1(2048, 2048, 2048, reps < 5 ? reps : 5);
    double peak = 2.0 * 2048 * 2048 * 2048 / peak_ms * 1e-6;
    printf("sgemm 2048^3: %.1f GFLOP/s\n", peak);
    if (f)
        fprintf(f, "{\"threads\": %d, \"images\": %d, \"sgemm_peak_gflops\": %.2f,\n \"conv\": [",
                loom_threads_get(), images, peak);
    static const int conv[3][5] = {{0, 3, 64, 64, 32}, {0, 32, 32, 32, 64}, {0, 64, 16, 16, 128}};
    static const struct {
        const char *name;
        dnnl_alg_kind_t alg;
        dnnl_data_type_t dt;
    } var[3] = {{"fp32_direct", dnnl_convolution_direct, dnnl_f32},
                {"fp32_winograd", dnnl_convolution_winograd, dnnl_f32},
                {"bf16_direct", dnnl_convolution_direct, dnnl_bf16}};
    for (int i = 0; i < 3; i++) {
        int d[5];
        memcpy(d, conv[i], sizeof d);
        d[0] = images;
        double flop = 2.0 * d[0] * d[2] * d[3] * d[4] * d[1] * 9;
        if (f)
            fprintf(f, "%s\n  {\"shape\": [%d, %d, %d, %d, %d], \"flop_fwd\": %.6g", i ? "," : "",
                    d[0], d[1], d[2], d[3], d[4], flop);
        for (int v = 0; v < 3; v++) {
            struct conv_run r;
            time_conv_onednn(eng, st, d, var[v].alg, var[v].dt, reps, &r);
            printf("conv %dx%dx%dx%d -> %d %-13s fwd %7.2f ms (%6.1f GF/s, %s)  bwd-data %7.2f ms "
                   "(%s)  bwd-weights %7.2f ms (%s)\n",
                   d[0], d[1], d[2], d[3], d[4], var[v].name, r.ms[CONV_FWD],
                   flop / r.ms[CONV_FWD] * 1e-6, r.impl[CONV_FWD], r.ms[CONV_BWD_DATA],
                   r.impl[CONV_BWD_DATA], r.ms[CONV_BWD_WEIGHTS], r.impl[CONV_BWD_WEIGHTS]);
            if (!f) continue;
            fprintf(f, ",\n   \"%s\": {", var[v].name);
            static const char *const pn[CONV_NPASS] = {"fwd", "bwd_data", "bwd_weights"};
            for (int p = 0; p < CONV_NPASS; p++) {
                if (isnan(r.ms[p]))
                    fprintf(f, "%s\"%s_ms\": null", p ? ", " : "", pn[p]);
                else
                    fprintf(f, "%s\"%s_ms\": %.4f", p ? ", " : "", pn[p], r.ms[p]);
                fprintf(f, ", \"%s_impl\": \"%s\"", pn[p], r.impl[p]);
            }
            fprintf(f, "}");
        }
        if (f) fprintf(f, "}");
    }
    /* The BiLSTM (N 64, T 48, E 64, H 128, 2 directions) as sgemms: the input
     * projection of all steps at once and the recurrent product per step,
     * each forward + backward (three products); the MLPs likewise. Small
     * products: the faster of all threads and one. */
    int N = 64, T = 48, E = 64, H = 128, all = loom_threads_get();
    double lstm_ms = INFINITY, tab_ms = INFINITY, head_ms = INFINITY;
    for (int th = all; th >= 1; th = th > 1 ? 1 : 0) {
        loom_threads_set(th);
        double l = 2 * (time_sgemm3(N * T, 4 * H, E, reps) + T * time_sgemm3(N, 4 * H, H, reps));
        lstm_ms = fmin(lstm_ms, l * 1e3);
        tab_ms = fmin(tab_ms, time_sgemm3(N, 128, 151, reps) * 1e3);
        head_ms = fmin(head_ms, time_sgemm3(N, 256, 768, reps) * 1e3);
    }
    loom_threads_set(all);
    double lstm_flop = 2 * 3 * 2.0 * N * T * 4 * H * (E + H);
    double tab_flop = 3 * 2.0 * N * 128 * 151, head_flop = 3 * 2.0 * N * 256 * 768;
    printf("BiLSTM as sgemms (fwd+bwd): %.2f ms, %.1f GFLOP/s; tabular Linear 151->128: %.3f ms, "
           "%.1f GFLOP/s; head Linear 768->256: %.3f ms, %.1f GFLOP/s\n",
           lstm_ms, lstm_flop / lstm_ms * 1e-6, tab_ms, tab_flop / tab_ms * 1e-6, head_ms,
           head_flop / head_ms * 1e-6);
    if (f) {
        fprintf(f, "\n ],\n \"lstm_sgemm\": {\"ms\": %.4f, \"flop\": %.6g},\n", lstm_ms, lstm_flop);
        fprintf(f, " \"tabular_sgemm\": {\"ms\": %.4f, \"flop\": %.6g},\n", tab_ms, tab_flop);
        fprintf(f, " \"head_sgemm\": {\"ms\": %.4f, \"flop\": %.6g}}\n", head_ms, head_flop);
        fclose(f);
    }
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = 2, reps = 20, images = 256;
    bool lim = false, trunk_only = false;
    int variant = -1;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--images") && i + 1 < argc)
            images = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--limits"))
            lim = true;
        else if (!strcmp(argv[i], "--trunk")) {
            trunk_only = true;
            static const char *const v[] = {"chain", "fp32", "bf16"};
            for (int k = 0; k < 3 && i + 1 < argc; k++)
                if (!strcmp(argv[i + 1], v[k])) {
                    variant = k, i++;
                    break;
                }
        } else {
            fprintf(stderr,
                    "usage: %s [--threads N] [--reps R] [--trunk [chain|fp32|bf16]]\n"
                    "       %s --limits [--images P] [--json OUT] [--threads N] [--reps R]\n",
                    argv[0], argv[0]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (images < 1) images = 1;
    loom_threads_set(threads);
    if (lim) return limits(images, reps, json);
    printf("loom micro-benchmark: %d threads, median of %d; OpenBLAS: %s\n", threads, reps,
           loom_threads_blas_config());
    printf("%-44s %10s %10s %12s %8s\n", "fwd+bwd", "ms", "GFLOP/s", "sgemm GF/s", "ratio");
    if (trunk_only) {
        bench_trunk(variant);
        return 0;
    }

    static const int lin[][3] = {
        {3072, 64, 1024}, {64, 768, 256}, {64, 151, 128}, {1024, 1024, 1024}};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(lin); i++) {
        const int *d = lin[i];
        double flop = 3.0 * 2.0 * d[0] * d[1] * d[2];
        double t = time_graph(build_linear, d, reps), ts = time_sgemm3(d[0], d[2], d[1], reps);
        char name[64];
        snprintf(name, sizeof name, "linear %dx%d -> %d", d[0], d[1], d[2]);
        printf("%-44s %10.3f %10.1f %12.1f %8.2f\n", name, t * 1e3, flop / t * 1e-9,
               flop / ts * 1e-9, ts / t);
    }
    /* The reference CNN's three convolutions for a batch of 64 rows with 4
     * photos each on average (256 images). */
    static const int conv[][6] = {
        {256, 3, 64, 64, 32, 3}, {256, 32, 32, 32, 64, 3}, {256, 64, 16, 16, 128, 3}};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(conv); i++) {
        const int *d = conv[i];
        double M = (double)d[0] * d[2] * d[3], K = (double)d[1] * d[5] * d[5];
        double flop = 3.0 * 2.0 * M * d[4] * K;
        double t = time_graph(build_conv, d, reps);
        double ts = time_sgemm3((int)M, d[4], (int)K, reps);
        char name[64];
        snprintf(name, sizeof name, "conv2d %dx%dx%dx%d k%d -> %d", d[0], d[1], d[2], d[3], d[5],
                 d[4]);
        printf("%-44s %10.3f %10.1f %12.1f %8.2f\n", name, t * 1e3, flop / t * 1e-9,
               flop / ts * 1e-9, ts / t);
    }
    bench_trunk(-1);
    static const int lstm[4] = {64, 48, 64, 128};
    double t = time_graph(build_lstm, lstm, reps);
    printf("BiLSTM N=%d T=%d I=%d H=%d: %.3f ms per batch, %.1f us per sequence (fwd+bwd)\n",
           lstm[0], lstm[1], lstm[2], lstm[3], t * 1e3, t / lstm[0] * 1e6);
    return 0;
}
