/* test_bag.c — the bag ops' contracts that gradient checks do not see:
 * offsets validation (naming the bad index), the first max winning a tie,
 * softmax stability on large scores, and the empty-bag vector. */
#include <string.h>

#include "core/ops.h"
#include "tests/testlib.h"

static struct loom_tensor *mk(struct loom_ctx *c, int64_t n, int64_t d, const float *vals)
{
    struct loom_tensor *t =
        d ? loom_tensor_new(c, LOOM_SHAPE(n, d)) : loom_tensor_new(c, LOOM_SHAPE(n));
    assert_non_null(t);
    memcpy(t->data, vals, (size_t)t->size * sizeof(float));
    t->flags |= LOOM_T_REQUIRES_GRAD;
    return t;
}

LOOM_TEST(bag_offsets_are_validated)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    float v[6] = {0};
    static const struct {
        int64_t off[4], nbags;
        const char *says;
    } bad[] = {
        {{1, 2, 3}, 2, "offsets[0] = 1"},
        {{0, 2, 1, 3}, 3, "offsets[2] = 1"},
        {{0, 1, 2}, 2, "offsets[2] = 2, but there are 3 items"},
        {{0, 1, 4}, 2, "offsets[2] = 4"},
        {{0}, -1, "-1 bags"},
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        struct loom_tensor *s = mk(&c, 3, 0, v);
        assert_null(loom_bag_softmax(&c, s, bad[i].off, bad[i].nbags));
        assert_int_equal(c.status, LOOM_ERR_INVALID);
        assert_non_null(strstr(c.err.message, bad[i].says));
        loom_ctx_reset(&c);
        assert_null(loom_bag_max(&c, mk(&c, 3, 2, v), bad[i].off, bad[i].nbags, NULL));
        assert_non_null(strstr(c.err.message, bad[i].says));
        loom_ctx_reset(&c);
    }
    int64_t ok[] = {0, 3};
    assert_null(loom_bag_mean(&c, NULL, ok, 1, NULL));
    assert_int_equal(c.status, LOOM_OK); /* NULL in, NULL out, no new error */
    loom_ctx_done(&c);
}

LOOM_TEST(bag_max_tie_goes_to_first)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    c.grad_enabled = true;
    /* One bag of 3 items, D = 2: column 0 ties between items 0 and 1,
     * column 1 between items 1 and 2. */
    float v[] = {5, 1, 5, 2, 1, 2};
    int64_t off[] = {0, 3};
    struct loom_tensor *h = mk(&c, 3, 2, v);
    struct loom_tensor *z = loom_bag_max(&c, h, off, 1, NULL);
    assert_non_null(z);
    assert_near(z->data[0], 5, 0);
    assert_near(z->data[1], 2, 0);
    assert_int_equal(loom_backward(&c, z, NULL), LOOM_OK);
    float want[] = {1, 0, 0, 1, 0, 0};
    for (int i = 0; i < 6; i++) assert_near(h->grad[i], want[i], 0);
    loom_ctx_done(&c);
}

LOOM_TEST(bag_softmax_is_stable_and_per_bag)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    /* bags [1000, 1000, -1000], [], [88, 89], [7]: exp(1000) or exp(89)
     * would overflow float without the max subtracted. */
    float s[] = {1000, 1000, -1000, 88, 89, 7};
    int64_t off[] = {0, 3, 3, 5, 6};
    struct loom_tensor *a = loom_bag_softmax(&c, mk(&c, 6, 0, s), off, 4);
    assert_non_null(a);
    double e = exp(1.0);
    double want[] = {0.5, 0.5, 0, 1 / (1 + e), e / (1 + e), 1};
    for (int i = 0; i < 6; i++) assert_near(a->data[i], want[i], 1e-6);
    loom_ctx_done(&c);
}

LOOM_TEST(bag_empty_vector_fills_and_learns_only_from_empty_bags)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    c.grad_enabled = true;
    /* bags: {0,1}, {}, {2}; D = 2; mean pooling. */
    float hv[] = {1, 2, 3, 4, 5, 6}, ev[] = {-7, -8};
    int64_t off[] = {0, 2, 2, 3};
    struct loom_tensor *h = mk(&c, 3, 2, hv), *e = mk(&c, 2, 0, ev);
    struct loom_tensor *z = loom_bag_mean(&c, h, off, 3, e);
    assert_non_null(z);
    float want[] = {2, 3, -7, -8, 5, 6};
    for (int i = 0; i < 6; i++) assert_near(z->data[i], want[i], 1e-6);
    float dz[] = {1, 2, 10, 20, 100, 200};
    assert_int_equal(loom_backward(&c, z, dz), LOOM_OK);
    assert_near(e->grad[0], 10, 0);
    assert_near(e->grad[1], 20, 0);
    float dh[] = {0.5f, 1, 0.5f, 1, 100, 200};
    for (int i = 0; i < 6; i++) assert_near(h->grad[i], dh[i], 1e-6);

    /* Without `empty`, an empty bag gives zeros. */
    loom_ctx_reset(&c);
    h = mk(&c, 3, 2, hv);
    struct loom_tensor *a = mk(&c, 3, 0, (float[]){1, 1, 1});
    z = loom_bag_weighted_sum(&c, h, a, off, 3, NULL);
    assert_non_null(z);
    assert_near(z->data[2], 0, 0);
    assert_near(z->data[3], 0, 0);
    assert_near(z->data[0], 4, 0);
    loom_ctx_done(&c);
}
