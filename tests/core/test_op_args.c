/* test_op_args.c — what the elementwise, shape and lookup ops say about bad
 * arguments (the shapes or the id in the message, nothing written on
 * failure), and their values at the numeric extremes. */
#include <string.h>

#include "core/ops.h"
#include "tests/testlib.h"

static struct loom_ctx *ctx_new(void)
{
    struct loom_ctx *c = malloc(sizeof *c);
    assert_non_null(c);
    loom_ctx_init(c, 0, 1);
    return c;
}

static void ctx_free(struct loom_ctx *c)
{
    loom_ctx_done(c);
    free(c);
}

/* The op failed with code and a message containing each of the words. */
#define assert_failed(c, code, ...)                                                                \
    do {                                                                                           \
        assert_int_equal((c)->status, (code));                                                     \
        const char *words_[] = {__VA_ARGS__};                                                      \
        for (size_t w_ = 0; w_ < LOOM_ARRAY_LEN(words_); w_++)                                     \
            if (!strstr((c)->err.message, words_[w_]))                                             \
                fail_msg("'%s' not in: %s", words_[w_], (c)->err.message);                         \
        loom_ctx_reset(c);                                                                         \
    } while (0)

LOOM_TEST(elementwise_ops_reject_mismatched_shapes)
{
    struct loom_ctx *c = ctx_new();
    struct loom_tensor *a = loom_tensor_zeros(c, LOOM_SHAPE(3, 4));
    assert_null(loom_add(c, a, loom_tensor_zeros(c, LOOM_SHAPE(5))));
    assert_failed(c, LOOM_ERR_SHAPE, "add", "3x4", "5");
    a = loom_tensor_zeros(c, LOOM_SHAPE(3, 4));
    assert_null(loom_add(c, a, loom_tensor_zeros(c, LOOM_SHAPE(2, 4)))); /* not a row */
    assert_failed(c, LOOM_ERR_SHAPE, "2x4");
    a = loom_tensor_zeros(c, LOOM_SHAPE(3, 4));
    assert_non_null(loom_add(c, a, loom_tensor_zeros(c, LOOM_SHAPE(1, 4))));
    assert_null(loom_mul(c, a, loom_tensor_zeros(c, LOOM_SHAPE(4, 3))));
    assert_failed(c, LOOM_ERR_SHAPE, "mul", "3x4", "4x3");
    a = loom_tensor_zeros(c, LOOM_SHAPE(3, 4));
    assert_null(loom_sigmoid_range(c, a, 2.0f, 2.0f));
    assert_failed(c, LOOM_ERR_INVALID, "sigmoid_range");
    a = loom_tensor_zeros(c, LOOM_SHAPE(3, 4));
    assert_null(loom_leaky_relu(c, a, NAN));
    assert_failed(c, LOOM_ERR_INVALID, "leaky_relu");
    assert_null(loom_relu(c, NULL));
    assert_null(loom_add(c, NULL, NULL));
    assert_int_equal(c->status, LOOM_OK);
    ctx_free(c);
}

LOOM_TEST(matmul_names_the_inner_sizes)
{
    struct loom_ctx *c = ctx_new();
    struct loom_tensor *a = loom_tensor_zeros(c, LOOM_SHAPE(3, 4));
    struct loom_tensor *b = loom_tensor_zeros(c, LOOM_SHAPE(5, 6));
    assert_null(loom_matmul(c, a, b, false, false));
    assert_failed(c, LOOM_ERR_SHAPE, "matmul", "3x4", "5x6");
    a = loom_tensor_zeros(c, LOOM_SHAPE(5, 4));
    b = loom_tensor_zeros(c, LOOM_SHAPE(5, 6));
    struct loom_tensor *y = loom_matmul(c, a, b, true, false); /* (4,5)(5,6) */
    assert_non_null(y);
    assert_true(y->shape[0] == 4 && y->shape[1] == 6);
    assert_null(loom_matmul(c, a, loom_tensor_zeros(c, LOOM_SHAPE(2, 5, 6)), true, false));
    assert_failed(c, LOOM_ERR_SHAPE, "2-D");
    ctx_free(c);
}

LOOM_TEST(concat_and_split_check_their_dims)
{
    struct loom_ctx *c = ctx_new();
    struct loom_tensor *xs[3] = {loom_tensor_zeros(c, LOOM_SHAPE(2, 3)),
                                 loom_tensor_zeros(c, LOOM_SHAPE(2, 5)),
                                 loom_tensor_zeros(c, LOOM_SHAPE(3, 5))};
    assert_null(loom_concat(c, 3, xs));
    assert_failed(c, LOOM_ERR_SHAPE, "concat", "input 2", "3x5", "2x3");
    xs[0] = loom_tensor_zeros(c, LOOM_SHAPE(2, 3, 1));
    xs[1] = loom_tensor_zeros(c, LOOM_SHAPE(2, 3));
    assert_null(loom_concat(c, 2, xs)); /* ranks differ */
    assert_failed(c, LOOM_ERR_SHAPE, "input 1");
    assert_null(loom_concat(c, 0, xs));
    assert_failed(c, LOOM_ERR_INVALID, "concat");

    struct loom_tensor *x = loom_tensor_zeros(c, LOOM_SHAPE(2, 7));
    struct loom_tensor *outs[2] = {NULL, NULL};
    assert_false(loom_split(c, x, 2, (const int64_t[]){3, 3}, outs));
    assert_failed(c, LOOM_ERR_SHAPE, "split", "6", "2x7");
    assert_null(outs[0]); /* written only on success */
    x = loom_tensor_zeros(c, LOOM_SHAPE(2, 7));
    assert_false(loom_split(c, x, 2, (const int64_t[]){-1, 8}, outs));
    assert_failed(c, LOOM_ERR_SHAPE, "sizes[0]");
    assert_null(outs[0]);
    x = loom_tensor_new(c, LOOM_SHAPE(2, 7));
    for (int i = 0; i < 14; i++) x->data[i] = (float)i;
    assert_true(loom_split(c, x, 2, (const int64_t[]){3, 4}, outs));
    assert_true(outs[0]->shape[1] == 3 && outs[1]->shape[1] == 4);
    assert_true(outs[1]->data[0] == 3.0f && outs[1]->data[4] == 10.0f);
    ctx_free(c);
}

LOOM_TEST(embedding_names_a_bad_id_and_its_position)
{
    struct loom_ctx *c = ctx_new();
    struct loom_tensor *w = loom_tensor_zeros(c, LOOM_SHAPE(5, 3));
    w->name = "brand";
    assert_null(loom_embedding(c, w, (const int32_t[]){0, 4, 9, 1}, 4));
    assert_failed(c, LOOM_ERR_INVALID, "brand", "id 9", "position 2", "[0, 5)");
    w = loom_tensor_zeros(c, LOOM_SHAPE(5, 3));
    assert_null(loom_embedding(c, w, (const int32_t[]){-1}, 1));
    assert_failed(c, LOOM_ERR_INVALID, "id -1", "position 0");
    w = loom_tensor_zeros(c, LOOM_SHAPE(5));
    assert_null(loom_embedding(c, w, (const int32_t[]){0}, 1));
    assert_failed(c, LOOM_ERR_SHAPE, "(V,E)");
    ctx_free(c);
}

/* Saturated inputs give finite values and finite, tiny gradients. */
LOOM_TEST(activations_stay_finite_at_the_extremes)
{
    struct loom_ctx *c = ctx_new();
    c->grad_enabled = true;
    static const float xs[] = {-1e30f, -1e4f, -104.0f, -88.8f, -20.0f, 0.0f,
                               20.0f,  88.8f, 104.0f,  1e4f,   1e30f};
    enum { N = LOOM_ARRAY_LEN(xs) };
    for (int op = 0; op < 4; op++) {
        struct loom_tensor *x = loom_tensor_new(c, LOOM_SHAPE(N));
        memcpy(x->data, xs, sizeof xs);
        x->flags |= LOOM_T_REQUIRES_GRAD;
        struct loom_tensor *y = op == 0   ? loom_sigmoid(c, x)
                                : op == 1 ? loom_sigmoid_range(c, x, -1.0f, 4.0f)
                                : op == 2 ? loom_tanh(c, x)
                                          : loom_gelu(c, x);
        assert_int_equal(loom_backward(c, y, NULL), LOOM_OK);
        for (int i = 0; i < N; i++) {
            assert_true(isfinite(y->data[i]));
            assert_true(isfinite(x->grad[i]));
            if (fabsf(xs[i]) >= 88.0f && op < 3) assert_true(fabsf(x->grad[i]) < 1e-30f);
        }
        if (op == 0) assert_true(y->data[0] == 0.0f && y->data[N - 1] == 1.0f);
        if (op == 1) assert_true(y->data[0] == -1.0f && y->data[N - 1] == 4.0f);
        loom_ctx_reset(c);
    }
    ctx_free(c);
}
