/* test_loss.c — loss values against numbers computed by hand on tiny inputs
 * (the gradient checks in test_ops.c only test consistency with the
 * forward), extreme logits, weights that drop rows, and argument errors. */
#include <string.h>

#include "core/ops.h"
#include "tests/testlib.h"

#define LN2 0.69314718055994531
#define LN3 1.09861228866810969

/* A (n,d) tensor (d == 0: 1-D (n)) holding vals, requiring grad. */
static struct loom_tensor *mk(struct loom_ctx *c, int64_t n, int64_t d, const float *vals)
{
    struct loom_tensor *t =
        d ? loom_tensor_new(c, LOOM_SHAPE(n, d)) : loom_tensor_new(c, LOOM_SHAPE(n));
    assert_non_null(t);
    memcpy(t->data, vals, (size_t)t->size * sizeof(float));
    t->flags |= LOOM_T_REQUIRES_GRAD;
    return t;
}

static struct loom_ctx *ctx_new(void)
{
    static struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    c.grad_enabled = true;
    return &c;
}

/* Backward from the scalar loss; the loss value must be finite. */
static void back(struct loom_ctx *c, struct loom_tensor *y)
{
    assert_non_null(y);
    assert_int_equal(y->ndim, 1);
    assert_int_equal(y->size, 1);
    assert_true(isfinite(y->data[0]));
    assert_int_equal(loom_backward(c, y, NULL), LOOM_OK);
}

LOOM_TEST(softmax_ce_values)
{
    struct loom_ctx *c = ctx_new();
    /* logits [0, ln 3]: softmax [1/4, 3/4]. Label 1: -ln(3/4) = ln(4/3);
     * label 0: -ln(1/4) = ln 4. */
    float x1[] = {0, (float)LN3};
    int32_t l1[] = {1};
    struct loom_tensor *x = mk(c, 1, 2, x1);
    struct loom_tensor *y = loom_softmax_ce_loss(c, x, l1, NULL, -100);
    back(c, y);
    assert_near(y->data[0], log(4.0 / 3.0), 1e-6);
    /* d/dx = softmax - onehot = [1/4, 3/4 - 1] */
    assert_near(x->grad[0], 0.25, 1e-6);
    assert_near(x->grad[1], -0.25, 1e-6);

    /* Class weights [1, 2] and an ignored row (whose huge logits must not
     * matter): rows ([0, ln 3], label 1, w 2) and ([0, 0], label 0, w 1):
     * (2 ln(4/3) + ln 2) / 3 = 0.42283711. The mean is over the weights of
     * the rows kept, as PyTorch. Gradients: row 0: (2/3)[1/4, -1/4];
     * row 1: (1/3)[1/2 - 1, 1/2]; row 2: 0. */
    loom_ctx_reset(c);
    float x2[] = {0, (float)LN3, 0, 0, 1e30f, -1e30f};
    int32_t l2[] = {1, 0, -100};
    float cw[] = {1, 2};
    x = mk(c, 3, 2, x2);
    y = loom_softmax_ce_loss(c, x, l2, cw, -100);
    back(c, y);
    assert_near(y->data[0], (2 * log(4.0 / 3.0) + LN2) / 3, 1e-6);
    assert_near(x->grad[0], 2.0 / 3 * 0.25, 1e-6);
    assert_near(x->grad[1], -2.0 / 3 * 0.25, 1e-6);
    assert_near(x->grad[2], -1.0 / 6, 1e-6);
    assert_near(x->grad[3], 1.0 / 6, 1e-6);
    assert_near(x->grad[4], 0, 0);
    assert_near(x->grad[5], 0, 0);
    loom_ctx_done(c);
}

LOOM_TEST(softmax_ce_extremes_and_all_ignored)
{
    struct loom_ctx *c = ctx_new();
    /* [100, -100] label 1: lse = 100 + log(1 + e^-200) = 100, loss 200;
     * label 0: log(1 + e^-200) ~ 1e-87, 0 in float. Mean 100. Gradient
     * (softmax - onehot) / 2: row 0 [0.5, -0.5], row 1 [0, 0]. */
    float xv[] = {100, -100, 100, -100};
    int32_t lab[] = {1, 0};
    struct loom_tensor *x = mk(c, 2, 2, xv);
    struct loom_tensor *y = loom_softmax_ce_loss(c, x, lab, NULL, -100);
    back(c, y);
    assert_near(y->data[0], 100, 1e-4);
    assert_near(x->grad[0], 0.5, 1e-6);
    assert_near(x->grad[1], -0.5, 1e-6);
    assert_near(x->grad[2], 0, 1e-6);
    assert_near(x->grad[3], 0, 1e-6);

    /* Every row ignored: loss 0 and zero gradient, no NaN from 0/0. */
    loom_ctx_reset(c);
    int32_t ign[] = {-1, -1};
    x = mk(c, 2, 2, xv);
    y = loom_softmax_ce_loss(c, x, ign, NULL, -1);
    back(c, y);
    assert_near(y->data[0], 0, 0);
    for (int i = 0; x->grad && i < 4; i++) assert_near(x->grad[i], 0, 0); /* NULL: none */
    loom_ctx_done(c);
}

LOOM_TEST(bce_values)
{
    struct loom_ctx *c = ctx_new();
    /* (x, t) = (0, 1): -ln sigmoid(0) = ln 2; (ln 3, 0): -ln(1 - 3/4) = ln 4.
     * Mean: 1.5 ln 2. d/dx = (sigmoid(x) - t) / 2: [-1/4, 3/8]. */
    float xv[] = {0, (float)LN3}, tv[] = {1, 0};
    struct loom_tensor *x = mk(c, 2, 0, xv), *t = mk(c, 2, 0, tv);
    t->flags &= ~LOOM_T_REQUIRES_GRAD;
    struct loom_tensor *y = loom_bce_logits_loss(c, x, t, NULL, NULL);
    back(c, y);
    assert_near(y->data[0], 1.5 * LN2, 1e-6);
    assert_near(x->grad[0], -0.25, 1e-6);
    assert_near(x->grad[1], 0.375, 1e-6);

    /* pos_weight 3 multiplies the positive term only: (3 ln 2 + ln 4) / 2
     * = 2.5 ln 2. Row weights [1, 0] then keep only row 0: 3 ln 2. */
    loom_ctx_reset(c);
    x = mk(c, 2, 1, xv), t = mk(c, 2, 1, tv);
    float pw[] = {3}, w[] = {1, 0};
    y = loom_bce_logits_loss(c, x, t, pw, NULL);
    assert_non_null(y);
    assert_near(y->data[0], 2.5 * LN2, 1e-6);
    y = loom_bce_logits_loss(c, x, t, pw, w);
    assert_non_null(y);
    assert_near(y->data[0], 3 * LN2, 1e-6);
    loom_ctx_done(c);
}

LOOM_TEST(bce_extreme_logits_stay_finite)
{
    struct loom_ctx *c = ctx_new();
    /* (100, 0) and (-100, 1) cost 100 each; (100, 1) and (-100, 0) cost
     * log(1 + e^-100) ~ 3.7e-44. Mean 50. d/dx = (sigmoid(x) - t) / 4:
     * [1/4, -1/4, 0, 0]. */
    float xv[] = {100, -100, 100, -100}, tv[] = {0, 1, 1, 0};
    struct loom_tensor *x = mk(c, 2, 2, xv), *t = mk(c, 2, 2, tv);
    struct loom_tensor *y = loom_bce_logits_loss(c, x, t, NULL, NULL);
    back(c, y);
    assert_near(y->data[0], 50, 1e-4);
    float want[] = {0.25f, -0.25f, 0, 0};
    for (int i = 0; i < 4; i++) {
        assert_near(x->grad[i], want[i], 1e-6);
        assert_true(isfinite(t->grad[i]));
    }
    loom_ctx_done(c);
}

LOOM_TEST(mse_values_and_weights)
{
    struct loom_ctx *c = ctx_new();
    /* errors [0, 2, 3]: mean (0 + 4 + 9) / 3 = 13/3; d/dp = 2e/3. */
    float pv[] = {1, 2, 3}, tv[] = {1, 0, 0};
    struct loom_tensor *p = mk(c, 3, 0, pv), *t = mk(c, 3, 0, tv);
    struct loom_tensor *y = loom_mse_loss(c, p, t, NULL);
    back(c, y);
    assert_near(y->data[0], 13.0 / 3, 1e-6);
    assert_near(p->grad[1], 4.0 / 3, 1e-6);
    assert_near(t->grad[2], -2.0, 1e-6);

    /* Weights [1, 0, 1] drop row 1: (0 + 9) / 2 = 4.5. A NaN target in the
     * dropped row (a missing value) changes nothing and gets no gradient. */
    loom_ctx_reset(c);
    float tn[] = {1, NAN, 0}, w[] = {1, 0, 1};
    p = mk(c, 3, 0, pv), t = mk(c, 3, 0, tn);
    y = loom_mse_loss(c, p, t, w);
    back(c, y);
    assert_near(y->data[0], 4.5, 1e-6);
    assert_near(p->grad[1], 0, 0);
    assert_near(p->grad[2], 3, 1e-6);

    /* Rows of D = 2: row means [1, 0], weights [3, 1]: 3/4. Weights that
     * sum to 0: loss 0. */
    loom_ctx_reset(c);
    float p2[] = {1, -1, 0, 0}, t2[] = {0, 0, 0, 0}, w2[] = {3, 1}, w0[] = {0, 0};
    p = mk(c, 2, 2, p2), t = mk(c, 2, 2, t2);
    y = loom_mse_loss(c, p, t, w2);
    assert_non_null(y);
    assert_near(y->data[0], 0.75, 1e-6);
    y = loom_mse_loss(c, p, t, w0);
    back(c, y);
    assert_near(y->data[0], 0, 0);
    for (int i = 0; i < 4; i++) assert_near(p->grad[i], 0, 0);
    loom_ctx_done(c);
}

LOOM_TEST(huber_values)
{
    struct loom_ctx *c = ctx_new();
    /* delta 1, errors [0.5, 2, -3]: [0.5 * 0.25, 2 - 0.5, 3 - 0.5] =
     * [0.125, 1.5, 2.5], mean 1.375; d/dp = clamp(e, -1, 1) / 3. */
    float pv[] = {0.5f, 2, -3}, tv[] = {0, 0, 0};
    struct loom_tensor *p = mk(c, 3, 0, pv), *t = mk(c, 3, 0, tv);
    struct loom_tensor *y = loom_huber_loss(c, p, t, 1.0f, NULL);
    back(c, y);
    assert_near(y->data[0], 1.375, 1e-6);
    assert_near(p->grad[0], 0.5 / 3, 1e-6);
    assert_near(p->grad[1], 1.0 / 3, 1e-6);
    assert_near(p->grad[2], -1.0 / 3, 1e-6);
    loom_ctx_done(c);
}

LOOM_TEST(cosine_values)
{
    struct loom_ctx *c = ctx_new();
    /* rows: ([1,0],[0,1]) cos 0, y=+1: 1; ([1,1],[2,2]) cos 1, y=+1: 0;
     * ([1,0],[1,1]) cos 1/sqrt 2, y=-1, margin 0.5: 0.70710678 - 0.5.
     * Mean 0.40236893. With margin 0.8 the last row gives 0: mean 1/3. */
    float av[] = {1, 0, 1, 1, 1, 0}, bv[] = {0, 1, 2, 2, 1, 1};
    int8_t yv[] = {1, 1, -1};
    struct loom_tensor *a = mk(c, 3, 2, av), *b = mk(c, 3, 2, bv);
    struct loom_tensor *y = loom_cosine_loss(c, a, b, yv, 0.5f);
    assert_non_null(y);
    assert_near(y->data[0], (1 + (1 / sqrt(2.0) - 0.5)) / 3, 1e-6);
    y = loom_cosine_loss(c, a, b, yv, 0.8f);
    back(c, y);
    assert_near(y->data[0], 1.0 / 3, 1e-6);
    /* row 0: d(1 - cos)/da = -(b/(|a||b|) - cos a/|a|^2) / 3 = [0, -1/3];
     * row 2 is below the margin: no gradient. */
    assert_near(a->grad[0], 0, 1e-6);
    assert_near(a->grad[1], -1.0 / 3, 1e-6);
    assert_near(a->grad[4], 0, 0);
    assert_near(b->grad[5], 0, 0);

    /* A zero vector: cos 0 (eps), loss 1, finite gradients. */
    loom_ctx_reset(c);
    float z[] = {0, 0}, u[] = {1, 0};
    a = mk(c, 1, 2, z), b = mk(c, 1, 2, u);
    y = loom_cosine_loss(c, a, b, NULL, 0);
    back(c, y);
    assert_near(y->data[0], 1, 1e-6);
    for (int i = 0; i < 2; i++) assert_true(isfinite(a->grad[i]) && isfinite(b->grad[i]));
    loom_ctx_done(c);
}

/* N = 0 rows: every loss is 0 and backward is a no-op. */
LOOM_TEST(losses_of_no_rows_are_zero)
{
    struct loom_ctx *c = ctx_new();
    struct loom_tensor *p = loom_tensor_new(c, LOOM_SHAPE(0, 3));
    struct loom_tensor *t = loom_tensor_new(c, LOOM_SHAPE(0, 3));
    p->flags |= LOOM_T_REQUIRES_GRAD;
    struct loom_tensor *ys[] = {
        loom_mse_loss(c, p, t, NULL),
        loom_huber_loss(c, p, t, 1, NULL),
        loom_bce_logits_loss(c, p, t, NULL, NULL),
        loom_softmax_ce_loss(c, p, NULL, NULL, -100),
        loom_cosine_loss(c, p, t, NULL, 0),
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(ys); i++) {
        back(c, ys[i]);
        assert_near(ys[i]->data[0], 0, 0);
    }
    loom_ctx_done(c);
}

LOOM_TEST(loss_argument_errors)
{
    struct loom_ctx *c = ctx_new();
    float v[] = {0, 1, 2, 3, 4, 5};
    struct loom_tensor *x = mk(c, 2, 3, v), *t = mk(c, 3, 2, v);
    assert_null(loom_mse_loss(c, x, t, NULL)); /* (2,3) vs (3,2) */
    assert_int_equal(c->status, LOOM_ERR_SHAPE);
    loom_ctx_reset(c);
    x = mk(c, 2, 3, v), t = mk(c, 2, 3, v);
    float neg[] = {1, -1};
    assert_null(loom_mse_loss(c, x, t, neg));
    assert_non_null(strstr(c->err.message, "weight[1]"));
    loom_ctx_reset(c);
    x = mk(c, 2, 3, v), t = mk(c, 2, 3, v);
    assert_null(loom_huber_loss(c, x, t, 0.0f, NULL));
    assert_int_equal(c->status, LOOM_ERR_INVALID);
    loom_ctx_reset(c);
    x = mk(c, 2, 3, v);
    int32_t bad[] = {1, 3};
    assert_null(loom_softmax_ce_loss(c, x, bad, NULL, -100));
    assert_non_null(strstr(c->err.message, "labels[1] = 3"));
    loom_ctx_reset(c);
    x = mk(c, 2, 3, v), t = mk(c, 2, 3, v);
    int8_t y0[] = {1, 0};
    assert_null(loom_cosine_loss(c, x, t, y0, 0));
    assert_non_null(strstr(c->err.message, "y[1]"));
    assert_null(loom_mse_loss(c, NULL, t, NULL));
    loom_ctx_done(c);
}
