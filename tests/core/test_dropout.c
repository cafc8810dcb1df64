/* test_dropout.c — dropout's statistics and contract: the fraction dropped,
 * the scaling of kept values, reproducible masks (seed, thread count), the
 * identity in evaluation, and a backward that applies the forward's mask. */
#include <string.h>

#include "core/ops.h"
#include "core/threads.h"
#include "tests/testlib.h"

#define ROWS 1000
#define COLS 1001 /* odd: the last 4-element block is partial */

static struct loom_tensor *ones(struct loom_ctx *c)
{
    struct loom_tensor *x = loom_tensor_new(c, LOOM_SHAPE(ROWS, COLS));
    assert_non_null(x);
    for (int64_t i = 0; i < x->size; i++) x->data[i] = 1.0f;
    return x;
}

LOOM_TEST(dropout_drops_p_and_scales_the_rest)
{
    static const float ps[] = {0.1f, 0.3f, 0.5f, 0.9f};
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 7);
    c.training = true;
    for (size_t t = 0; t < LOOM_ARRAY_LEN(ps); t++) {
        float p = ps[t], scale = 1.0f / (1.0f - p);
        struct loom_tensor *y = loom_dropout(&c, ones(&c), p);
        assert_non_null(y);
        int64_t dropped = 0;
        for (int64_t i = 0; i < y->size; i++) {
            if (y->data[i] == 0.0f)
                dropped++;
            else
                assert_true(y->data[i] == scale);
        }
        /* Binomial: sd = sqrt(p (1-p) / n) <= 5e-4 here; 6 sd. */
        double frac = (double)dropped / (double)y->size;
        assert_near(frac, p, 6 * sqrt(p * (1 - p) / (double)y->size));
    }
    loom_ctx_done(&c);
}

/* The output of one dropout of a ones tensor under seed, with nthreads. */
static void mask(uint64_t seed, int nthreads, float *out, int calls)
{
    int before = loom_threads_get();
    loom_threads_set(nthreads);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, seed);
    c.training = true;
    struct loom_tensor *y = NULL;
    for (int i = 0; i < calls; i++) y = loom_dropout(&c, ones(&c), 0.5f);
    assert_non_null(y);
    memcpy(out, y->data, (size_t)y->size * sizeof *out);
    loom_ctx_done(&c);
    loom_threads_set(before);
}

LOOM_TEST(dropout_masks_follow_the_seed_not_the_threads)
{
    size_t n = (size_t)ROWS * COLS;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_true(a && b);
    mask(11, 1, a, 1);
    mask(11, 2, b, 1);
    assert_memory_equal(a, b, n * sizeof *a);
    mask(11, 3, b, 1); /* more threads than cores: still the same */
    assert_memory_equal(a, b, n * sizeof *a);
    mask(12, 2, b, 1); /* another seed: another mask */
    assert_memory_not_equal(a, b, n * sizeof *a);
    mask(11, 2, b, 2); /* the next call of the same stream: another mask */
    assert_memory_not_equal(a, b, n * sizeof *a);
    free(a);
    free(b);
}

LOOM_TEST(dropout_is_identity_in_eval_and_checks_p)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 3);
    struct loom_tensor *x = loom_tensor_zeros(&c, LOOM_SHAPE(4, 5));
    c.training = false;
    assert_ptr_equal(loom_dropout(&c, x, 0.5f), x);
    c.training = true;
    assert_ptr_equal(loom_dropout(&c, x, 0.0f), x);
    assert_null(loom_dropout(&c, NULL, 0.5f));
    assert_int_equal(c.status, LOOM_OK);
    static const float bad[] = {1.0f, -0.1f, 1.5f, NAN};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        c.training = i % 2 == 0; /* checked in evaluation too */
        assert_null(loom_dropout(&c, x, bad[i]));
        assert_int_equal(c.status, LOOM_ERR_INVALID);
        assert_non_null(strstr(c.err.message, "dropout"));
        loom_ctx_reset(&c);
    }
    loom_ctx_done(&c);
}

LOOM_TEST(dropout_backward_applies_the_same_mask)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 5);
    c.training = true;
    c.grad_enabled = true;
    const float p = 0.25f, scale = 1.0f / (1.0f - p);
    struct loom_tensor *x = loom_tensor_new(&c, LOOM_SHAPE(37, 29));
    for (int64_t i = 0; i < x->size; i++) x->data[i] = 0.5f + (float)(i % 7); /* never 0 */
    x->flags |= LOOM_T_REQUIRES_GRAD;
    struct loom_tensor *y = loom_dropout(&c, x, p);
    assert_non_null(y);
    float dout[37 * 29];
    for (int64_t i = 0; i < x->size; i++) dout[i] = (float)(i % 13) - 6.5f;
    assert_int_equal(loom_backward(&c, y, dout), LOOM_OK);
    int64_t kept = 0;
    for (int64_t i = 0; i < x->size; i++) {
        bool k = y->data[i] != 0.0f;
        kept += k;
        assert_true(x->grad[i] == (k ? dout[i] * scale : 0.0f));
        if (k) assert_true(y->data[i] == x->data[i] * scale);
    }
    assert_true(kept > 0 && kept < x->size);
    loom_ctx_done(&c);
}
