/*
 * micro.c — engine micro-benchmark (not a test): GFLOP/s of linear and
 * conv2d forward+backward next to plain cblas_sgemm calls of the same
 * arithmetic, BiLSTM forward+backward time per sequence, and the whole CNN
 * trunk (256 photos of 3x64x64, channels 32, 64, 128) forward+backward as
 * the chain of separate ops, as loom_cnn_trunk in fp32 and in bf16, at the
 * shapes of the reference model (../shared/bench/ref_model.py). Medians of
 * repeats (5 for the trunk).
 *
 *   build/bench/loom-micro [--threads N] [--reps R] [--trunk]   (--trunk: only the trunk)
 */
#include <cblas.h>
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
static void bench_trunk(void)
{
    int d[8] = {256, 64, 3, 32, 64, 128, 0};
    double flop = 0;
    for (int i = 0, in = 3, S = d[1]; i < d[2]; in = d[3 + i], S /= 2, i++)
        flop += 3.0 * 2.0 * d[0] * S * S * d[3 + i] * in * 9;
    static const char *const names[] = {"chain of ops", "cnn_trunk fp32", "cnn_trunk bf16"};
    for (int v = 0; v < 3; v++) {
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

int main(int argc, char **argv)
{
    int threads = 2, reps = 20;
    bool trunk_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--trunk"))
            trunk_only = true;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R] [--trunk]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    loom_threads_set(threads);
    printf("loom micro-benchmark: %d threads, median of %d; OpenBLAS: %s\n", threads, reps,
           loom_threads_blas_config());
    printf("%-44s %10s %10s %12s %8s\n", "fwd+bwd", "ms", "GFLOP/s", "sgemm GF/s", "ratio");
    if (trunk_only) {
        bench_trunk();
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
    bench_trunk();
    static const int lstm[4] = {64, 48, 64, 128};
    double t = time_graph(build_lstm, lstm, reps);
    printf("BiLSTM N=%d T=%d I=%d H=%d: %.3f ms per batch, %.1f us per sequence (fwd+bwd)\n",
           lstm[0], lstm[1], lstm[2], lstm[3], t * 1e3, t / lstm[0] * 1e6);
    return 0;
}
