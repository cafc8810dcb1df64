/*
 * rnn_bench.c — time of loom_lstm / loom_gru forward and forward+backward on
 * a text-encoder sized batch: N=64, T=48, I=64, H=128, bidirectional.
 * Usage: rnn_bench [lstm|gru] [iterations] [N]. Prints ms per batch and us per
 * sequence (the best of the iterations; N=1 is batch-1 inference's case), with every row of length
 * T and with lengths uniform in [1,T] (the latter shows what skipping finished rows saves).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/ops.h"

enum { NMAX = 64, T = 48, IN = 64, H = 128 };

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static float *rand_buf(struct loom_rng *r, size_t n, float s)
{
    float *p = loom_aligned_alloc(n * sizeof *p);
    loom_rng_fill_uniform(r, p, n, -s, s);
    return p;
}

int main(int argc, char **argv)
{
    bool gru = argc > 1 && strcmp(argv[1], "gru") == 0;
    int iters = argc > 2 ? atoi(argv[2]) : 10, G = gru ? 3 : 4;
    int N = argc > 3 ? atoi(argv[3]) : NMAX;
    if (N < 1 || N > NMAX || iters < 1) {
        fprintf(stderr, "usage: rnn_bench [lstm|gru] [iterations] [N <= %d]\n", NMAX);
        return 2;
    }
    struct loom_rng r;
    loom_rng_init(&r, 1, 0);
    float *x = rand_buf(&r, (size_t)NMAX * T * IN, 1.0f),
          *dy = rand_buf(&r, (size_t)NMAX * T * 2 * H, 1.0f);
    float *wb[2][4];
    for (int d = 0; d < 2; d++) {
        wb[d][0] = rand_buf(&r, (size_t)G * H * IN, 0.1f);
        wb[d][1] = rand_buf(&r, (size_t)G * H * H, 0.1f);
        wb[d][2] = rand_buf(&r, (size_t)G * H, 0.1f);
        wb[d][3] = rand_buf(&r, (size_t)G * H, 0.1f);
    }
    int32_t full[NMAX], mixed[NMAX];
    for (int n = 0; n < NMAX; n++) full[n] = T, mixed[n] = 1 + (int32_t)loom_rng_below(&r, T);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    for (int mode = 0; mode < 4; mode++) {
        const int32_t *len = mode % 2 ? mixed : full;
        bool train = mode >= 2;
        double best = 1e30;
        for (int it = 0; it < iters + 1; it++) {
            loom_ctx_reset(&c);
            c.grad_enabled = train;
            struct loom_tensor *xt = loom_tensor_wrap(&c, x, 3, (const int64_t[]){N, T, IN});
            struct loom_rnn_weights w[2];
            for (int d = 0; d < 2; d++) {
                struct loom_tensor *t[4];
                const int64_t shapes[4][2] = {{G * H, IN}, {G * H, H}, {G * H, 1}, {G * H, 1}};
                for (int i = 0; i < 4; i++) {
                    t[i] = loom_tensor_wrap(&c, wb[d][i], i < 2 ? 2 : 1, shapes[i]);
                    t[i]->flags |= LOOM_T_REQUIRES_GRAD;
                }
                w[d] = (struct loom_rnn_weights){t[0], t[1], t[2], t[3]};
            }
            double t0 = now_ms();
            struct loom_tensor *y =
                gru ? loom_gru(&c, xt, len, &w[0], &w[1]) : loom_lstm(&c, xt, len, &w[0], &w[1]);
            if (!y || (train && loom_backward(&c, y, dy) != LOOM_OK)) {
                fprintf(stderr, "failed: %s\n", c.err.message);
                return 1;
            }
            double ms = now_ms() - t0;
            if (it > 0 && ms < best) best = ms; /* the first run warms the arena */
        }
        printf("%s N=%d T=%d I=%d H=%d bidirectional, %-8s %-18s %7.2f ms/batch %7.1f us/seq\n",
               gru ? "gru" : "lstm", N, T, IN, H, train ? "fwd+bwd" : "fwd",
               mode % 2 ? "lengths in [1,T]" : "all lengths T", best, best * 1e3 / N);
    }
    loom_ctx_done(&c);
    free(x), free(dy);
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 4; i++) free(wb[d][i]);
    return 0;
}
