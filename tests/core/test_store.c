/* test_store.c — the parameter store: layout, initialisers, groups, frozen. */
#include <math.h>
#include <string.h>

#include "core/store.h"
#include "tests/testlib.h"

LOOM_TEST(store_lays_out_aligned_blocks)
{
    struct loom_store s;
    loom_store_init(&s);
    struct loom_error err;
    int g = loom_store_group(&s, "text");
    assert_int_equal(g, 1);
    assert_int_equal(loom_store_group(&s, "text"), 1);
    struct loom_tensor *w =
        loom_store_add(&s, "w", LOOM_SHAPE(33, 17), LOOM_INIT_FAN_IN, 17, 0, &err);
    struct loom_tensor *b = loom_store_add(&s, "b", LOOM_SHAPE(33), LOOM_INIT_ZEROS, 0, g, &err);
    struct loom_tensor *rm =
        loom_store_add_buffer(&s, "rm", LOOM_SHAPE(5), LOOM_INIT_ONES, 0, &err);
    assert_non_null(w), assert_non_null(b), assert_non_null(rm);
    assert_null(loom_store_add(&s, "w", LOOM_SHAPE(2), LOOM_INIT_ZEROS, 0, 0, &err));
    assert_int_equal(err.code, LOOM_ERR_INVALID);
    assert_int_equal(loom_store_finalize(&s, 5, &err), LOOM_OK);
    assert_int_equal((uintptr_t)w->data % 64, 0);
    assert_int_equal((uintptr_t)b->data % 64, 0);
    assert_int_equal(b->grad - w->grad, b->data - w->data);
    assert_null(rm->grad);
    assert_int_equal(loom_store_count(&s), 33 * 17 + 33);
    float k = 1.0f / sqrtf(17.0f), mx = 0;
    for (int i = 0; i < 33 * 17; i++) mx = fmaxf(mx, fabsf(w->data[i]));
    assert_true(mx <= k && mx > 0.8f * k);
    for (int i = 0; i < 5; i++) assert_near(rm->data[i], 1.0, 0);
    s.groups[g].frozen = true;
    loom_store_apply_frozen(&s);
    assert_false(b->flags & LOOM_T_REQUIRES_GRAD);
    assert_true(w->flags & LOOM_T_REQUIRES_GRAD);
    /* Same seed, same values. */
    struct loom_store s2;
    loom_store_init(&s2);
    struct loom_tensor *w2 =
        loom_store_add(&s2, "w", LOOM_SHAPE(33, 17), LOOM_INIT_FAN_IN, 17, 0, &err);
    assert_int_equal(loom_store_finalize(&s2, 5, &err), LOOM_OK);
    assert_memory_equal(w->data, w2->data, 33 * 17 * sizeof(float));
    loom_store_done(&s);
    loom_store_done(&s2);
}
