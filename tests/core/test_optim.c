/* test_optim.c — SGD and AdamW against updates worked out by hand (the
 * arithmetic is in the comments), groups (lr_mult, decay, frozen), buffers,
 * exact resume, gradient clipping, the schedules, and AdamW + one-cycle
 * actually minimising a quadratic. */
#include <math.h>
#include <string.h>

#include "core/optim.h"
#include "core/schedule.h"
#include "tests/testlib.h"

#define TOL 1e-5

/* A finalized store holding one param "w" of n values in the default group. */
static struct loom_tensor *one_param(struct loom_store *s, int64_t n, const float *values)
{
    struct loom_error err;
    loom_store_init(s);
    struct loom_tensor *w = loom_store_add(s, "w", LOOM_SHAPE(n), LOOM_INIT_ZEROS, 0, 0, &err);
    assert_non_null(w);
    assert_int_equal(loom_store_finalize(s, 1, &err), LOOM_OK);
    memcpy(w->data, values, (size_t)n * sizeof(float));
    return w;
}

static void set_grad(struct loom_tensor *w, const float *g)
{
    memcpy(w->grad, g, (size_t)w->size * sizeof(float));
}

static void assert_values(const float *x, const double *want, int n)
{
    for (int i = 0; i < n; i++) assert_near(x[i], want[i], TOL);
}

LOOM_TEST(optim_sgd_plain)
{
    struct loom_store s;
    struct loom_optim o;
    struct loom_tensor *w = one_param(&s, 3, (float[]){1, 2, -1});
    assert_int_equal(loom_optim_init_sgd(&o, false, NULL), LOOM_OK);
    /* lr 0.1, g = (0.5, -1, 2): p = (1 - 0.05, 2 + 0.1, -1 - 0.2) */
    set_grad(w, (float[]){0.5f, -1, 2});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.0f), LOOM_OK);
    assert_values(w->data, (double[]){0.95, 2.1, -1.2}, 3);
    /* g = (1, 0, -1): p = (0.95 - 0.1, 2.1, -1.2 + 0.1) */
    set_grad(w, (float[]){1, 0, -1});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.0f), LOOM_OK);
    assert_values(w->data, (double[]){0.85, 2.1, -1.1}, 3);
    assert_int_equal(o.step, 2);
    loom_store_done(&s);
}

LOOM_TEST(optim_sgd_momentum)
{
    struct loom_store s;
    struct loom_optim o;
    struct loom_tensor *w = one_param(&s, 2, (float[]){1, 2});
    assert_int_equal(loom_optim_init_sgd(&o, false, NULL), LOOM_OK);
    /* lr 0.1, μ 0.9. Step 1, g = (1, -2): b = g = (1, -2);
     * p = (1 - 0.1, 2 + 0.2) = (0.9, 2.2) */
    set_grad(w, (float[]){1, -2});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){0.9, 2.2}, 2);
    assert_values(s.m, (double[]){1, -2}, 2);
    /* Step 2, g = (1, 0): b = 0.9 (1, -2) + (1, 0) = (1.9, -1.8);
     * p = (0.9 - 0.19, 2.2 + 0.18) = (0.71, 2.38) */
    set_grad(w, (float[]){1, 0});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){0.71, 2.38}, 2);
    /* Step 3, g = 0: b = 0.9 (1.9, -1.8) = (1.71, -1.62);
     * p = (0.71 - 0.171, 2.38 + 0.162) = (0.539, 2.542) */
    set_grad(w, (float[]){0, 0});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){0.539, 2.542}, 2);
    loom_store_done(&s);
}

LOOM_TEST(optim_sgd_nesterov)
{
    struct loom_store s;
    struct loom_optim o;
    struct loom_tensor *w = one_param(&s, 2, (float[]){1, 2});
    assert_int_equal(loom_optim_init_sgd(&o, true, NULL), LOOM_OK);
    /* lr 0.1, μ 0.9, d = g + μ b. Step 1, g = (1, -2): b = (1, -2);
     * d = (1 + 0.9, -2 - 1.8) = (1.9, -3.8); p = (1 - 0.19, 2 + 0.38) */
    set_grad(w, (float[]){1, -2});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){0.81, 2.38}, 2);
    /* Step 2, g = (3, 1): b = 0.9 (1, -2) + (3, 1) = (3.9, -0.8);
     * d = (3 + 3.51, 1 - 0.72) = (6.51, 0.28); p = (0.81 - 0.651, 2.38 - 0.028) */
    set_grad(w, (float[]){3, 1});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){0.159, 2.352}, 2);
    /* Step 3 with λ 0.1, g = 0: g' = λ p = (0.0159, 0.2352);
     * b = 0.9 (3.9, -0.8) + g' = (3.5259, -0.4848);
     * d = g' + 0.9 b = (0.0159 + 3.17331, 0.2352 - 0.43632) = (3.18921, -0.20112);
     * p = (0.159 - 0.318921, 2.352 + 0.020112) */
    s.groups[0].weight_decay = 0.1f;
    set_grad(w, (float[]){0, 0});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){-0.159921, 2.372112}, 2);
    loom_store_done(&s);
}

LOOM_TEST(optim_sgd_weight_decay)
{
    struct loom_store s;
    struct loom_optim o;
    struct loom_tensor *w = one_param(&s, 2, (float[]){2, -4});
    s.groups[0].weight_decay = 0.1f;
    assert_int_equal(loom_optim_init_sgd(&o, false, NULL), LOOM_OK);
    /* lr 0.5, μ 0.9, λ 0.1, d = g + λ p. Step 1, g = (0, 1):
     * d = (0.2, 1 - 0.4) = (0.2, 0.6); b = d; p = (2 - 0.1, -4 - 0.3) */
    set_grad(w, (float[]){0, 1});
    assert_int_equal(loom_optim_step(&o, &s, 0.5f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){1.9, -4.3}, 2);
    /* The L2 term is not written back into the gradient. */
    assert_values(w->grad, (double[]){0, 1}, 2);
    /* Step 2, g = 0: d = (0.19, -0.43); b = 0.9 (0.2, 0.6) + d = (0.37, 0.11);
     * p = (1.9 - 0.185, -4.3 - 0.055) */
    set_grad(w, (float[]){0, 0});
    assert_int_equal(loom_optim_step(&o, &s, 0.5f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){1.715, -4.355}, 2);
    loom_store_done(&s);
}

/* Step 1 of both AdamW tests: lr 0.1, β1 0.9, β2 0.999, g = (0.5, -3, 0).
 *   m = 0.1 g = (0.05, -0.3, 0);  v = 0.001 g² = (0.00025, 0.009, 0)
 *   m̂ = m / 0.1 = (0.5, -3, 0);  v̂ = v / 0.001 = (0.25, 9, 0)
 *   m̂ / (sqrt(v̂) + 1e-8) = (1, -1, 0) (to 1e-8): the step is ±lr.
 * Step 2, g = (0.5, 1, 2):
 *   m = 0.9 m + 0.1 g = (0.045 + 0.05, -0.27 + 0.1, 0.2) = (0.095, -0.17, 0.2)
 *   v = 0.999 v + 0.001 g² = (0.00049975, 0.008991 + 0.001, 0.004)
 *   1 - β1² = 0.19, 1 - β2² = 0.001999
 *   m̂ = (0.5, -0.894737, 1.052632);  v̂ = (0.25, 4.997999, 2.001001)
 *   sqrt(v̂) = (0.5, 2.235620, 1.414567)
 *   m̂ / sqrt(v̂) = (1, -0.400218, 0.744137) */
LOOM_TEST(optim_adamw)
{
    struct loom_store s;
    struct loom_optim o;
    struct loom_tensor *w = one_param(&s, 3, (float[]){1, -2, 0.5f});
    assert_int_equal(loom_optim_init_adamw(&o, 0.999f, 1e-8f, NULL), LOOM_OK);
    set_grad(w, (float[]){0.5f, -3, 0});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    /* p = (1 - 0.1, -2 + 0.1, 0.5) */
    assert_values(w->data, (double[]){0.9, -1.9, 0.5}, 3);
    assert_values(s.m, (double[]){0.05, -0.3, 0}, 3);
    assert_values(s.v, (double[]){0.00025, 0.009, 0}, 3);
    set_grad(w, (float[]){0.5f, 1, 2});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    /* p = (0.9 - 0.1, -1.9 + 0.0400218, 0.5 - 0.0744137) */
    assert_values(w->data, (double[]){0.8, -1.859978, 0.425586}, 3);
    loom_store_done(&s);
}

LOOM_TEST(optim_adamw_decoupled_decay)
{
    struct loom_store s;
    struct loom_optim o;
    struct loom_tensor *w = one_param(&s, 3, (float[]){1, -2, 0.5f});
    s.groups[0].weight_decay = 0.1f;
    assert_int_equal(loom_optim_init_adamw(&o, 0.999f, 1e-8f, NULL), LOOM_OK);
    /* λ 0.1: p *= 1 - lr λ = 0.99 first, then the same Adam steps as above
     * (the decay does not enter m or v). Step 1:
     * p = (0.99 - 0.1, -1.98 + 0.1, 0.495 - 0) */
    set_grad(w, (float[]){0.5f, -3, 0});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){0.89, -1.88, 0.495}, 3);
    /* Step 2: 0.99 p = (0.8811, -1.8612, 0.49005);
     * p = (0.8811 - 0.1, -1.8612 + 0.0400218, 0.49005 - 0.0744137) */
    set_grad(w, (float[]){0.5f, 1, 2});
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_OK);
    assert_values(w->data, (double[]){0.7811, -1.821178, 0.415636}, 3);
    loom_store_done(&s);
}

/* Params "a" (default group), "f" (group "frozen"), buffer "rm". */
struct three {
    struct loom_store s;
    struct loom_tensor *a, *f, *rm;
    int fg;
};

static void three_init(struct three *x)
{
    struct loom_error err;
    loom_store_init(&x->s);
    x->fg = loom_store_group(&x->s, "frozen");
    x->a = loom_store_add(&x->s, "a", LOOM_SHAPE(2), LOOM_INIT_ONES, 0, 0, &err);
    x->f = loom_store_add(&x->s, "f", LOOM_SHAPE(3), LOOM_INIT_ONES, 0, x->fg, &err);
    x->rm = loom_store_add_buffer(&x->s, "rm", LOOM_SHAPE(2), LOOM_INIT_ONES, 0, &err);
    assert_true(x->a && x->f && x->rm);
    x->s.groups[x->fg].frozen = true;
    x->s.groups[x->fg].weight_decay = 0.5f;
    assert_int_equal(loom_store_finalize(&x->s, 1, &err), LOOM_OK);
    /* Every gradient slot, the buffer's included, is non-zero, so an update
     * that should not happen would show. */
    for (size_t i = 0; i < x->s.total; i++) x->s.grad[i] = 1.0f;
}

LOOM_TEST(optim_skips_frozen_groups_and_buffers)
{
    for (int type = 0; type < 2; type++) {
        struct three x;
        struct loom_optim o;
        three_init(&x);
        struct loom_param *rm = loom_store_find(&x.s, "rm");
        if (type == 0)
            assert_int_equal(loom_optim_init_sgd(&o, false, NULL), LOOM_OK);
        else
            assert_int_equal(loom_optim_init_adamw(&o, 0.999f, 1e-8f, NULL), LOOM_OK);
        for (int step = 0; step < 2; step++)
            assert_int_equal(loom_optim_step(&o, &x.s, 0.1f, 0.9f), LOOM_OK);
        assert_true(x.a->data[0] < 1.0f); /* the live param moved */
        struct loom_param *f = loom_store_find(&x.s, "f");
        for (int i = 0; i < 3; i++) {
            assert_near(x.f->data[i], 1.0, 0);
            assert_near(x.f->grad[i], 1.0, 0);
            assert_near(x.s.m[f->offset + (size_t)i], 0.0, 0);
            assert_near(x.s.v[f->offset + (size_t)i], 0.0, 0);
        }
        for (int i = 0; i < 2; i++) {
            assert_near(x.rm->data[i], 1.0, 0);
            assert_near(x.s.m[rm->offset + (size_t)i], 0.0, 0);
        }
        assert_int_equal(o.group_step[0], 2);
        assert_int_equal(o.group_step[x.fg], 0);
        if (type == 1) {
            /* Unfrozen late, the group's first AdamW step is bias-corrected
             * by its own count (t = 1): m̂/sqrt(v̂) = g/|g| = 1, so p moves
             * by exactly lr, after the decay: 1 * (1 - 0.1 * 0.5) - 0.1. */
            x.s.groups[x.fg].frozen = false;
            assert_int_equal(loom_optim_step(&o, &x.s, 0.1f, 0.9f), LOOM_OK);
            for (int i = 0; i < 3; i++) assert_near(x.f->data[i], 0.85, TOL);
        }
        loom_store_done(&x.s);
    }
}

LOOM_TEST(optim_applies_lr_mult_and_group_decay)
{
    struct loom_store s;
    struct loom_error err;
    struct loom_optim o;
    loom_store_init(&s);
    int slow = loom_store_group(&s, "slow");
    s.groups[slow].lr_mult = 0.25f;
    s.groups[slow].weight_decay = 0.2f;
    struct loom_tensor *a = loom_store_add(&s, "a", LOOM_SHAPE(1), LOOM_INIT_ONES, 0, 0, &err);
    struct loom_tensor *b = loom_store_add(&s, "b", LOOM_SHAPE(1), LOOM_INIT_ONES, 0, slow, &err);
    assert_int_equal(loom_store_finalize(&s, 1, &err), LOOM_OK);
    a->grad[0] = 2.0f;
    b->grad[0] = 2.0f;
    /* SGD lr 0.4: a = 1 - 0.4 * 2 = 0.2; b: lr 0.1, d = 2 + 0.2 * 1 = 2.2,
     * b = 1 - 0.22 = 0.78 */
    assert_int_equal(loom_optim_init_sgd(&o, false, NULL), LOOM_OK);
    assert_int_equal(loom_optim_step(&o, &s, 0.4f, 0.0f), LOOM_OK);
    assert_near(a->data[0], 0.2, TOL);
    assert_near(b->data[0], 0.78, TOL);
    /* AdamW lr 0.4 from a fresh state, first step moves by ±lr:
     * a = 0.2 - 0.4 = -0.2; b = 0.78 (1 - 0.1 * 0.2) - 0.1 = 0.6644 */
    memset(s.m, 0, s.total * sizeof(float));
    assert_int_equal(loom_optim_init_adamw(&o, 0.999f, 1e-8f, NULL), LOOM_OK);
    assert_int_equal(loom_optim_step(&o, &s, 0.4f, 0.9f), LOOM_OK);
    assert_near(a->data[0], -0.2, TOL);
    assert_near(b->data[0], 0.6644, TOL);
    loom_store_done(&s);
}

LOOM_TEST(optim_resumes_exactly)
{
    /* Six steps in one run equal three steps, a copy of the state (struct,
     * params, m, v) into a fresh store, and three more: bit for bit. */
    float init[5] = {0.3f, -1.2f, 2.5f, 0.0f, 7.0f};
    struct loom_store s1, s2;
    struct loom_optim o1, o2;
    struct loom_schedule sch;
    loom_schedule_init(&sch, LOOM_SCHEDULE_ONE_CYCLE, 0.05f, 6);
    assert_int_equal(loom_schedule_check(&sch, NULL), LOOM_OK);
    struct loom_tensor *w1 = one_param(&s1, 5, init);
    struct loom_tensor *w2 = one_param(&s2, 5, init);
    assert_int_equal(loom_optim_init_adamw(&o1, 0.99f, 1e-8f, NULL), LOOM_OK);
    s1.groups[0].weight_decay = s2.groups[0].weight_decay = 0.01f;
    for (int t = 0; t < 6; t++) {
        if (t == 3) {
            o2 = o1;
            memcpy(s2.data, s1.data, s1.total * sizeof(float));
            memcpy(s2.m, s1.m, s1.total * sizeof(float));
            memcpy(s2.v, s1.v, s1.total * sizeof(float));
        }
        float lr, mom;
        loom_schedule_at(&sch, t, &lr, &mom);
        for (int i = 0; i < 5; i++) w1->grad[i] = w2->grad[i] = sinf((float)(t * 5 + i));
        assert_int_equal(loom_optim_step(&o1, &s1, lr, mom), LOOM_OK);
        if (t >= 3) assert_int_equal(loom_optim_step(&o2, &s2, lr, mom), LOOM_OK);
    }
    assert_memory_equal(w1->data, w2->data, 5 * sizeof(float));
    assert_int_equal(o2.step, 6);
    loom_store_done(&s1);
    loom_store_done(&s2);
}

LOOM_TEST(optim_rejects_bad_arguments)
{
    struct loom_store s;
    struct loom_optim o;
    struct loom_error err = {0};
    assert_int_equal(loom_optim_init_adamw(&o, 1.0f, 1e-8f, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "beta2"));
    assert_int_equal(loom_optim_init_adamw(&o, 0.999f, 0.0f, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "eps"));
    loom_store_init(&s);
    assert_int_equal(loom_optim_init_sgd(&o, false, NULL), LOOM_OK);
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 0.9f), LOOM_ERR_INVALID); /* not finalized */
    loom_store_done(&s);
    struct loom_tensor *w = one_param(&s, 2, (float[]){1, 2});
    set_grad(w, (float[]){1, 1});
    assert_int_equal(loom_optim_step(&o, &s, NAN, 0.9f), LOOM_ERR_INVALID);
    assert_int_equal(loom_optim_step(&o, &s, -0.1f, 0.9f), LOOM_ERR_INVALID);
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, 1.0f), LOOM_ERR_INVALID);
    assert_int_equal(loom_optim_step(&o, &s, 0.1f, -0.5f), LOOM_ERR_INVALID);
    assert_values(w->data, (double[]){1, 2}, 2); /* nothing changed */
    assert_int_equal(o.step, 0);
    loom_store_done(&s);
}

LOOM_TEST(clip_scales_to_max_norm)
{
    struct three x;
    three_init(&x);
    x.s.groups[x.fg].frozen = true;
    /* Trainable grads (3, 4) in "a": norm 5. The frozen param's grads (1s)
     * and the buffer's slot (1s) do not count and are left alone. */
    x.a->grad[0] = 3.0f;
    x.a->grad[1] = 4.0f;
    double norm = 0;
    assert_int_equal(loom_clip_grad_norm(&x.s, 1.0f, &norm), LOOM_OK);
    assert_near(norm, 5.0, 1e-12);
    assert_near(x.a->grad[0], 0.6, 1e-7);
    assert_near(x.a->grad[1], 0.8, 1e-7);
    double after = sqrt((double)x.a->grad[0] * x.a->grad[0] + (double)x.a->grad[1] * x.a->grad[1]);
    assert_near(after, 1.0, 1e-7);
    for (int i = 0; i < 3; i++) assert_near(x.f->grad[i], 1.0, 0);
    struct loom_param *rm = loom_store_find(&x.s, "rm");
    assert_near(x.s.grad[rm->offset], 1.0, 0);
    /* A big param spread over threads: 100000 values of 0.01, norm sqrt(10). */
    loom_store_done(&x.s);
    struct loom_store s;
    struct loom_error err;
    loom_store_init(&s);
    struct loom_tensor *w =
        loom_store_add(&s, "w", LOOM_SHAPE(100000), LOOM_INIT_ZEROS, 0, 0, &err);
    assert_int_equal(loom_store_finalize(&s, 1, &err), LOOM_OK);
    for (int i = 0; i < 100000; i++) w->grad[i] = 0.01f;
    assert_int_equal(loom_clip_grad_norm(&s, 0.5f, &norm), LOOM_OK);
    assert_near(norm, sqrt(10.0), 1e-6);
    double sq = 0;
    for (int i = 0; i < 100000; i++) sq += (double)w->grad[i] * w->grad[i];
    assert_near(sqrt(sq), 0.5, 1e-6);
    loom_store_done(&s);
}

LOOM_TEST(clip_leaves_small_grads_alone)
{
    struct loom_store s;
    struct loom_tensor *w = one_param(&s, 2, (float[]){0, 0});
    set_grad(w, (float[]){0.3f, -0.4f});
    double norm = 0;
    assert_int_equal(loom_clip_grad_norm(&s, 1.0f, &norm), LOOM_OK);
    assert_near(norm, 0.5, 1e-7);
    assert_near(w->grad[0], 0.3f, 0);
    assert_near(w->grad[1], -0.4f, 0);
    assert_int_equal(loom_clip_grad_norm(&s, 1.0f, NULL), LOOM_OK);
    loom_store_done(&s);
}

LOOM_TEST(clip_refuses_non_finite_norm)
{
    struct loom_store s;
    struct loom_tensor *w = one_param(&s, 3, (float[]){0, 0, 0});
    float bad[2] = {INFINITY, NAN};
    for (int k = 0; k < 2; k++) {
        set_grad(w, (float[]){30, bad[k], 40});
        double norm = -1;
        assert_int_equal(loom_clip_grad_norm(&s, 1.0f, &norm), LOOM_ERR_NUMERIC);
        assert_near(norm, -1, 0); /* not written */
        assert_near(w->grad[0], 30, 0);
        assert_near(w->grad[2], 40, 0);
    }
    assert_int_equal(loom_clip_grad_norm(&s, 0.0f, NULL), LOOM_ERR_INVALID);
    assert_int_equal(loom_clip_grad_norm(&s, INFINITY, NULL), LOOM_ERR_INVALID);
    loom_store_done(&s);
}

LOOM_TEST(schedule_one_cycle)
{
    struct loom_schedule s;
    loom_schedule_init(&s, LOOM_SCHEDULE_ONE_CYCLE, 1.0f, 100);
    assert_int_equal(loom_schedule_check(&s, NULL), LOOM_OK);
    float lr, mom;
    /* Defaults: pct_start 0.25, div 25, final_div 1e4, momentum 0.95..0.85.
     * t = 0: lr = 1/25 = 0.04, momentum 0.95. */
    loom_schedule_at(&s, 0, &lr, &mom);
    assert_near(lr, 0.04, 1e-7);
    assert_near(mom, 0.95, 1e-7);
    /* Peak at t = 0.25 * 100 - 1 = 24: lr 1, momentum 0.85. */
    loom_schedule_at(&s, 24, &lr, &mom);
    assert_near(lr, 1.0, 1e-7);
    assert_near(mom, 0.85, 1e-7);
    /* Half-way up, t = 12, pct 0.5: cos(π/2) = 0, so
     * lr = 1 + (0.04 - 1)/2 = 0.52, momentum = 0.85 + 0.1/2 = 0.90. */
    loom_schedule_at(&s, 12, &lr, &mom);
    assert_near(lr, 0.52, 1e-6);
    assert_near(mom, 0.90, 1e-6);
    /* Half-way down, t = 24 + 75/2 = 61.5 is not a step; t = 99 is the end:
     * lr = 0.04 / 1e4 = 4e-6, momentum back at 0.95. */
    loom_schedule_at(&s, 99, &lr, &mom);
    assert_near(lr, 4e-6, 1e-12);
    assert_near(mom, 0.95, 1e-7);
    loom_schedule_at(&s, 500, &lr, &mom); /* past the end: the last rate */
    assert_near(lr, 4e-6, 1e-12);
    /* Up then down, momentum mirrored. */
    float prev_lr = 0, prev_mom = 1;
    for (int t = 0; t < 100; t++) {
        loom_schedule_at(&s, t, &lr, &mom);
        if (t <= 24) {
            assert_true(lr > prev_lr && mom < prev_mom);
        } else {
            assert_true(lr < prev_lr && mom > prev_mom);
        }
        prev_lr = lr, prev_mom = mom;
    }
    /* A run too short for a rising phase (pct_start * 3 - 1 < 0) still
     * gives finite rates that end at the final one. */
    loom_schedule_init(&s, LOOM_SCHEDULE_ONE_CYCLE, 1.0f, 3);
    assert_int_equal(loom_schedule_check(&s, NULL), LOOM_OK);
    for (int t = 0; t < 3; t++) {
        loom_schedule_at(&s, t, &lr, &mom);
        assert_true(isfinite(lr) && lr > 0 && lr <= 1.0f);
    }
    assert_near(lr, 4e-6, 1e-12);
}

LOOM_TEST(schedule_warmup_and_constant)
{
    struct loom_schedule s;
    float lr, mom;
    /* lr 1, start_factor 0.1, 10 warm-up steps: 0.1 + 0.9 t/10 until t = 10. */
    loom_schedule_init(&s, LOOM_SCHEDULE_WARMUP, 1.0f, 100);
    s.warmup = 10;
    assert_int_equal(loom_schedule_check(&s, NULL), LOOM_OK);
    double want[] = {0.1, 0.19, 0.28, 0.37, 0.46, 0.55, 0.64, 0.73, 0.82, 0.91, 1, 1};
    for (int t = 0; t < 12; t++) {
        loom_schedule_at(&s, t, &lr, &mom);
        assert_near(lr, want[t], 1e-6);
        assert_near(mom, 0.9, 1e-7);
    }
    loom_schedule_at(&s, 1000, &lr, &mom);
    assert_near(lr, 1.0, 0);
    loom_schedule_init(&s, LOOM_SCHEDULE_CONSTANT, 0.003f, 0);
    s.momentum = 0.8f;
    assert_int_equal(loom_schedule_check(&s, NULL), LOOM_OK);
    loom_schedule_at(&s, 7, &lr, &mom);
    assert_near(lr, 0.003f, 0);
    assert_near(mom, 0.8f, 0);
}

LOOM_TEST(schedule_rejects_bad_parameters)
{
    struct loom_schedule s;
    struct loom_error err = {0};
    loom_schedule_init(&s, LOOM_SCHEDULE_CONSTANT, -1.0f, 10);
    assert_int_equal(loom_schedule_check(&s, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "lr"));
    loom_schedule_init(&s, LOOM_SCHEDULE_CONSTANT, NAN, 10);
    assert_int_equal(loom_schedule_check(&s, &err), LOOM_ERR_INVALID);
    loom_schedule_init(&s, LOOM_SCHEDULE_CONSTANT, 0.1f, 10);
    s.momentum = 1.0f;
    assert_int_equal(loom_schedule_check(&s, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "momentum"));
    loom_schedule_init(&s, LOOM_SCHEDULE_WARMUP, 0.1f, 10);
    s.warmup = -1;
    assert_int_equal(loom_schedule_check(&s, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "warmup"));
    loom_schedule_init(&s, LOOM_SCHEDULE_WARMUP, 0.1f, 10);
    s.start_factor = 1.5f;
    assert_int_equal(loom_schedule_check(&s, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "start_factor"));
    loom_schedule_init(&s, LOOM_SCHEDULE_ONE_CYCLE, 0.1f, 0);
    assert_int_equal(loom_schedule_check(&s, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "total"));
    loom_schedule_init(&s, LOOM_SCHEDULE_ONE_CYCLE, 0.1f, 10);
    s.pct_start = 1.0f;
    assert_int_equal(loom_schedule_check(&s, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "pct_start"));
    loom_schedule_init(&s, LOOM_SCHEDULE_ONE_CYCLE, 0.1f, 10);
    s.div_factor = 0.0f;
    assert_int_equal(loom_schedule_check(&s, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "div_factor"));
    loom_schedule_init(&s, LOOM_SCHEDULE_ONE_CYCLE, 0.1f, 10);
    s.mom_min = -0.1f;
    assert_int_equal(loom_schedule_check(&s, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "momenta"));
}

LOOM_TEST(optim_adamw_minimises_quadratic)
{
    /* L = Σ (p - target)², dL/dp = 2 (p - target), by hand; AdamW under
     * one-cycle (max lr 0.1, 400 steps) from 0. */
    enum { n = 7, steps = 400 };
    float target[n] = {1.5f, -2.0f, 0.25f, 3.0f, -0.7f, 0.0f, 1.0f}, zero[n] = {0};
    struct loom_store s;
    struct loom_optim o;
    struct loom_schedule sch;
    struct loom_tensor *w = one_param(&s, n, zero);
    assert_int_equal(loom_optim_init_adamw(&o, 0.999f, 1e-8f, NULL), LOOM_OK);
    loom_schedule_init(&sch, LOOM_SCHEDULE_ONE_CYCLE, 0.1f, steps);
    assert_int_equal(loom_schedule_check(&sch, NULL), LOOM_OK);
    double loss = 0;
    for (int t = 0; t < steps; t++) {
        loss = 0;
        for (int i = 0; i < n; i++) {
            double d = (double)w->data[i] - target[i];
            loss += d * d;
            w->grad[i] = (float)(2 * d);
        }
        float lr, mom;
        loom_schedule_at(&sch, t, &lr, &mom);
        assert_int_equal(loom_optim_step(&o, &s, lr, mom), LOOM_OK);
    }
    assert_true(loss < 1e-4);
    loom_store_done(&s);
}
