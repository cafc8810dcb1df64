/* test_learn.c — small models built from ops actually learn: XOR (the four
 * points, and a noisy continuous version checked on held-out points). */
#include <stdio.h>
#include <string.h>

#include "core/ops.h"
#include "core/optim.h"
#include "core/schedule.h"
#include "tests/testlib.h"

struct mlp {
    struct loom_store s;
    struct loom_tensor *w1, *b1, *w2, *b2, *w3, *b3;
};

static void mlp_init(struct mlp *m, uint64_t seed)
{
    struct loom_error err;
    loom_store_init(&m->s);
    m->w1 = loom_store_add(&m->s, "w1", LOOM_SHAPE(16, 2), LOOM_INIT_KAIMING, 2, 0, &err);
    m->b1 = loom_store_add(&m->s, "b1", LOOM_SHAPE(16), LOOM_INIT_ZEROS, 0, 0, &err);
    m->w2 = loom_store_add(&m->s, "w2", LOOM_SHAPE(16, 16), LOOM_INIT_KAIMING, 16, 0, &err);
    m->b2 = loom_store_add(&m->s, "b2", LOOM_SHAPE(16), LOOM_INIT_ZEROS, 0, 0, &err);
    m->w3 = loom_store_add(&m->s, "w3", LOOM_SHAPE(2, 16), LOOM_INIT_FAN_IN, 16, 0, &err);
    m->b3 = loom_store_add(&m->s, "b3", LOOM_SHAPE(2), LOOM_INIT_ZEROS, 0, 0, &err);
    assert_int_equal(loom_store_finalize(&m->s, seed, &err), LOOM_OK);
}

static struct loom_tensor *mlp_forward(struct loom_ctx *c, struct mlp *m, float *x, int64_t n)
{
    struct loom_tensor *h = loom_tensor_wrap(c, x, LOOM_SHAPE(n, 2));
    h = loom_relu(c, loom_linear(c, h, m->w1, m->b1));
    h = loom_relu(c, loom_linear(c, h, m->w2, m->b2));
    return loom_linear(c, h, m->w3, m->b3);
}

/* Full-batch AdamW steps on (x, y); returns the last loss. */
static double fit(struct mlp *m, float *x, int32_t *y, int64_t n, int steps, float lr)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    struct loom_optim o;
    struct loom_schedule sch;
    loom_schedule_init(&sch, LOOM_SCHEDULE_ONE_CYCLE, lr, steps);
    assert_int_equal(loom_optim_init_adamw(&o, 0.999f, 1e-8f, NULL), LOOM_OK);
    double last = 0;
    for (int t = 0; t < steps; t++) {
        loom_ctx_reset(&c);
        c.grad_enabled = c.training = true;
        struct loom_tensor *l = loom_softmax_ce_loss(&c, mlp_forward(&c, m, x, n), y, NULL, -1);
        assert_non_null(l);
        loom_store_zero_grad(&m->s);
        assert_int_equal(loom_backward(&c, l, NULL), LOOM_OK);
        float rate, beta1;
        loom_schedule_at(&sch, t, &rate, &beta1);
        assert_int_equal(loom_optim_step(&o, &m->s, rate, beta1), LOOM_OK);
        last = l->data[0];
    }
    loom_ctx_done(&c);
    return last;
}

static double accuracy(struct mlp *m, float *x, int32_t *y, int64_t n)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    struct loom_tensor *z = mlp_forward(&c, m, x, n);
    assert_non_null(z);
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) ok += (z->data[2 * i + 1] > z->data[2 * i]) == (y[i] == 1);
    loom_ctx_done(&c);
    return (double)ok / (double)n;
}

LOOM_TEST(mlp_learns_xor)
{
    float x[] = {0, 0, 0, 1, 1, 0, 1, 1};
    int32_t y[] = {0, 1, 1, 0};
    struct mlp m;
    mlp_init(&m, 7);
    double before = accuracy(&m, x, y, 4);
    double loss = fit(&m, x, y, 4, 300, 0.05f);
    printf("xor: loss %.5f, accuracy %.2f -> %.2f\n", loss, before, accuracy(&m, x, y, 4));
    assert_true(loss < 0.01);
    assert_near(accuracy(&m, x, y, 4), 1.0, 0);
    loom_store_done(&m.s);
}

LOOM_TEST(mlp_learns_noisy_xor_on_held_out_points)
{
    enum { NTRAIN = 400, NTEST = 1000 };
    static float xtr[2 * NTRAIN], xte[2 * NTEST];
    static int32_t ytr[NTRAIN], yte[NTEST];
    struct loom_rng r;
    loom_rng_init(&r, 3, 0);
    for (int i = 0; i < NTRAIN + NTEST; i++) {
        float *x = i < NTRAIN ? xtr + 2 * i : xte + 2 * (i - NTRAIN);
        int32_t *y = i < NTRAIN ? ytr + i : yte + (i - NTRAIN);
        x[0] = 2 * loom_rng_uniform(&r) - 1;
        x[1] = 2 * loom_rng_uniform(&r) - 1;
        *y = (x[0] > 0) != (x[1] > 0);
    }
    struct mlp m;
    mlp_init(&m, 9);
    fit(&m, xtr, ytr, NTRAIN, 600, 0.03f);
    double acc = accuracy(&m, xte, yte, NTEST);
    printf("noisy xor: held-out accuracy %.3f\n", acc);
    assert_true(acc >= 0.95);
    loom_store_done(&m.s);
}
