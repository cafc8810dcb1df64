/* test_batch_norm.c — batch norm's running statistics after a training step
 * (momentum 0.1, unbiased variance, as PyTorch), evaluation with them, and
 * the one-value-per-channel refusal; values worked out by hand. */
#include <math.h>
#include <string.h>

#include "core/ops.h"
#include "tests/testlib.h"

struct bn_params {
    struct loom_tensor *g, *b, *rm, *rv;
};

static struct bn_params params(struct loom_ctx *c, int64_t C)
{
    struct bn_params p = {loom_tensor_new(c, LOOM_SHAPE(C)), loom_tensor_new(c, LOOM_SHAPE(C)),
                          loom_tensor_new(c, LOOM_SHAPE(C)), loom_tensor_new(c, LOOM_SHAPE(C))};
    for (int64_t i = 0; i < C; i++) {
        p.g->data[i] = 1, p.b->data[i] = 0; /* y = xhat */
        p.rm->data[i] = 0, p.rv->data[i] = 1;
    }
    return p;
}

/* (N,C) = (4,2): channel 0 holds 1,2,3,4 (mean 2.5, biased var 1.25,
 * unbiased 5/3); channel 1 holds 0,0,2,2 (mean 1, biased 1, unbiased 4/3). */
LOOM_TEST(batch_norm_rows_running_stats)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    c.training = true;
    struct bn_params p = params(&c, 2);
    struct loom_tensor *x = loom_tensor_new(&c, LOOM_SHAPE(4, 2));
    const float v[] = {1, 0, 2, 0, 3, 2, 4, 2};
    memcpy(x->data, v, sizeof v);
    struct loom_tensor *y = loom_batch_norm(&c, x, p.g, p.b, p.rm, p.rv, 0.1f, 1e-5f);
    assert_non_null(y);
    assert_near(p.rm->data[0], 0.9 * 0 + 0.1 * 2.5, 1e-6);
    assert_near(p.rm->data[1], 0.1 * 1.0, 1e-6);
    assert_near(p.rv->data[0], 0.9 * 1 + 0.1 * 5.0 / 3.0, 1e-6);
    assert_near(p.rv->data[1], 0.9 * 1 + 0.1 * 4.0 / 3.0, 1e-6);
    /* Normalised with the biased batch variance. */
    assert_near(y->data[0], (1 - 2.5) / sqrt(1.25 + 1e-5), 1e-5);
    assert_near(y->data[7], (2 - 1.0) / sqrt(1.0 + 1e-5), 1e-5);
    /* Evaluation uses the running statistics and leaves them alone. */
    c.training = false;
    y = loom_batch_norm(&c, x, p.g, p.b, p.rm, p.rv, 0.1f, 1e-5f);
    assert_non_null(y);
    assert_near(y->data[0], (1 - 0.25) / sqrt(0.9 + 0.5 / 3 + 1e-5), 1e-5);
    assert_near(p.rm->data[0], 0.25, 1e-6);
    loom_ctx_done(&c);
}

/* (N,C,H,W) = (2,1,2,2) holding 1..8: mean 4.5, biased var 5.25, unbiased 6;
 * two steps compound the momentum. */
LOOM_TEST(batch_norm_images_running_stats)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    c.training = true;
    struct bn_params p = params(&c, 1);
    struct loom_tensor *x = loom_tensor_new(&c, LOOM_SHAPE(2, 1, 2, 2));
    for (int i = 0; i < 8; i++) x->data[i] = (float)(i + 1);
    struct loom_tensor *y = loom_batch_norm(&c, x, p.g, p.b, p.rm, p.rv, 0.1f, 1e-5f);
    assert_non_null(y);
    assert_near(p.rm->data[0], 0.45, 1e-6);
    assert_near(p.rv->data[0], 0.9 + 0.6, 1e-6);
    assert_near(y->data[7], 3.5 / sqrt(5.25 + 1e-5), 1e-5);
    y = loom_batch_norm(&c, x, p.g, p.b, p.rm, p.rv, 0.1f, 1e-5f);
    assert_non_null(y);
    assert_near(p.rm->data[0], 0.9 * 0.45 + 0.1 * 4.5, 1e-6);
    assert_near(p.rv->data[0], 0.9 * 1.5 + 0.1 * 6, 1e-6);
    loom_ctx_done(&c);
}

/* Training needs two values per channel (the unbiased variance divides by
 * M - 1); an empty batch is fine in evaluation. */
LOOM_TEST(batch_norm_refuses_one_value_per_channel)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    c.training = true;
    struct bn_params p = params(&c, 3);
    struct loom_tensor *x = loom_tensor_zeros(&c, LOOM_SHAPE(1, 3, 1, 1));
    assert_null(loom_batch_norm(&c, x, p.g, p.b, p.rm, p.rv, 0.1f, 1e-5f));
    assert_int_equal(c.status, LOOM_ERR_SHAPE);
    assert_near(p.rm->data[0], 0, 0);
    loom_ctx_reset(&c);
    p = params(&c, 3);
    c.training = false;
    struct loom_tensor *y = loom_batch_norm(&c, loom_tensor_zeros(&c, LOOM_SHAPE(0, 3, 2, 2)), p.g,
                                            p.b, p.rm, p.rv, 0.1f, 1e-5f);
    assert_non_null(y);
    assert_int_equal(y->size, 0);
    loom_ctx_done(&c);
}
