/* test_rnn_infer.c — the text branch's ops in inference (nothing requires
 * grad: embedding -> bidirectional LSTM / GRU -> time mean and max ->
 * concat) call no allocator at all once warm, in any library, at batch 1
 * and 64 on 1 and 2 threads: the arena holds every buffer, no OpenMP region
 * runs on one thread (libgomp would malloc a team), and no threaded OpenBLAS
 * sgemm runs (it mallocs its job list). The counter is tests/api's. */
#include <string.h>

#include "core/ops.h"
#include "core/threads.h"
#include "tests/api/fixtures.h"
#include "tests/testlib.h"

enum { V = 50, E = 16, T = 48, H = 24, NMAX = 64 };

struct text_params {
    struct loom_tensor *embed;
    struct loom_rnn_weights w[2];
};

static struct loom_tensor *param(struct loom_ctx *c, struct loom_rng *r, int64_t rows, int64_t cols)
{
    /* loom_tensor_wrap would do; the long-lived buffers only need to
     * outlive the calls. */
    float *p = loom_aligned_alloc((size_t)(rows * cols) * sizeof *p);
    assert_non_null(p);
    loom_rng_fill_uniform(r, p, (size_t)(rows * cols), -0.3f, 0.3f);
    return loom_tensor_wrap(c, p, cols > 1 ? 2 : 1, (const int64_t[]){rows, cols});
}

static struct loom_tensor *encode(struct loom_ctx *c, const struct text_params *p, bool gru,
                                  const int32_t *ids, const int32_t *len, int64_t N)
{
    loom_ctx_reset(c);
    c->training = c->grad_enabled = false;
    struct loom_tensor *x =
        loom_reshape(c, loom_embedding(c, p->embed, ids, N * T), LOOM_SHAPE(N, T, E));
    struct loom_tensor *y =
        gru ? loom_gru(c, x, len, &p->w[0], &p->w[1]) : loom_lstm(c, x, len, &p->w[0], &p->w[1]);
    return loom_concat(
        c, 2, (struct loom_tensor *[]){loom_time_mean(c, y, len), loom_time_max(c, y, len)});
}

static void steady_state(bool gru)
{
    if (!ax_malloc_count_start()) {
        ax_malloc_count_stop();
        skip(); /* a sanitizer build: malloc is the sanitizer's */
    }
    ax_malloc_count_stop();
    int G = gru ? 3 : 4, before = loom_threads_get();
    struct loom_rng r;
    loom_rng_init(&r, 5, 0);
    struct loom_ctx pc, c;
    loom_ctx_init(&pc, 0, 1); /* the weights' tensors */
    loom_ctx_init(&c, 0, 1);
    struct text_params p = {.embed = param(&pc, &r, V, E)};
    float *bufs[8];
    for (int d = 0; d < 2; d++) {
        p.w[d] = (struct loom_rnn_weights){param(&pc, &r, G * H, E), param(&pc, &r, G * H, H),
                                           param(&pc, &r, G * H, 1), param(&pc, &r, G * H, 1)};
        bufs[4 * d] = p.w[d].w_ih->data, bufs[4 * d + 1] = p.w[d].w_hh->data;
        bufs[4 * d + 2] = p.w[d].b_ih->data, bufs[4 * d + 3] = p.w[d].b_hh->data;
    }
    int32_t ids[NMAX * T], len[NMAX];
    for (int i = 0; i < NMAX * T; i++) ids[i] = 1 + (int32_t)loom_rng_below(&r, V - 1);
    for (int n = 0; n < NMAX; n++) len[n] = (int32_t)loom_rng_below(&r, T + 1);
    len[0] = T;
    static const int64_t batch[] = {1, NMAX};
    for (int threads = 1; threads <= 2; threads++)
        for (size_t b = 0; b < LOOM_ARRAY_LEN(batch); b++) {
            loom_threads_set(threads);
            for (int warm = 0; warm < 2; warm++)
                assert_non_null(encode(&c, &p, gru, ids, len, batch[b]));
            ax_malloc_count_start();
            bool ok = true;
            for (int k = 0; k < 5; k++) ok = ok && encode(&c, &p, gru, ids, len, batch[b]);
            long calls = ax_malloc_count_stop();
            const char *lib[4];
            long by[4];
            ax_malloc_count_by(4, lib, by);
            if (calls)
                printf("    %s N=%lld, %d threads: %ld allocator calls, the first by %s\n",
                       gru ? "gru" : "lstm", (long long)batch[b], threads, calls,
                       lib[0] ? lib[0] : "?");
            assert_true(ok);
            assert_int_equal(calls, 0);
        }
    loom_threads_set(before);
    free(p.embed->data);
    for (int i = 0; i < 8; i++) free(bufs[i]);
    loom_ctx_done(&c);
    loom_ctx_done(&pc);
}

LOOM_TEST(lstm_inference_steady_state_allocates_nothing)
{
    steady_state(false);
}

LOOM_TEST(gru_inference_steady_state_allocates_nothing)
{
    steady_state(true);
}
