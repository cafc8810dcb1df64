/* test_arena.c — the step arena: alignment, growth, merge on reset, limits,
 * and the tape/grad plumbing of the context. */
#include <string.h>

#include "core/ops.h"
#include "tests/testlib.h"

LOOM_TEST(arena_aligns_grows_and_merges)
{
    struct loom_arena a;
    loom_arena_init(&a, 1000);
    for (int i = 0; i < 100; i++) {
        unsigned char *p = loom_arena_alloc(&a, (size_t)(i * 997 + 1));
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % LOOM_ALIGN, 0);
        memset(p, 0xab, (size_t)(i * 997 + 1)); /* ASan checks the bounds */
    }
    size_t hw = a.high_water;
    assert_true(hw >= 99 * 100 / 2 * 997);
    loom_arena_reset(&a);
    assert_int_equal(loom_arena_chunks(&a), 1); /* merged into one chunk */
    assert_true(loom_arena_capacity(&a) >= hw);
    /* The same allocations now fit without a new chunk. */
    void *first = a.head;
    for (int i = 0; i < 100; i++) assert_non_null(loom_arena_alloc(&a, (size_t)(i * 997 + 1)));
    assert_ptr_equal(a.head, first);
    loom_arena_done(&a);
}

LOOM_TEST(arena_refuses_overflow_and_limit)
{
    struct loom_arena a;
    loom_arena_init(&a, 0);
    assert_null(loom_arena_alloc(&a, SIZE_MAX - 10));
    assert_null(loom_arena_calloc(&a, SIZE_MAX / 2, 4));
    a.limit = 1 << 20;
    assert_non_null(loom_arena_alloc(&a, 1000));
    assert_null(loom_arena_alloc(&a, 2 << 20));
    struct loom_arena_mark m = loom_arena_mark(&a);
    void *p = loom_arena_alloc(&a, 64);
    loom_arena_release(&a, m);
    assert_ptr_equal(loom_arena_alloc(&a, 64), p);
    loom_arena_done(&a);
}

LOOM_TEST(ctx_errors_are_sticky_and_ops_propagate_null)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    struct loom_tensor *x = loom_tensor_zeros(&c, LOOM_SHAPE(2, 3));
    struct loom_tensor *w = loom_tensor_zeros(&c, LOOM_SHAPE(4, 5));
    assert_null(loom_linear(&c, x, w, NULL));
    assert_int_equal(c.status, LOOM_ERR_SHAPE);
    assert_non_null(strstr(c.err.message, "2x3"));
    assert_null(loom_linear(&c, NULL, w, NULL));
    assert_null(loom_tensor_new(&c, LOOM_SHAPE(1))); /* sticky until reset */
    loom_ctx_reset(&c);
    assert_int_equal(c.status, LOOM_OK);
    assert_null(loom_tensor_new(&c, LOOM_SHAPE(-1)));
    assert_int_equal(c.status, LOOM_ERR_SHAPE);
    loom_ctx_reset(&c);
    assert_null(loom_tensor_new(&c, LOOM_SHAPE(INT64_MAX / 2, 4)));
    loom_ctx_done(&c);
}

LOOM_TEST(reshape_shares_data_and_routes_grad)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    c.grad_enabled = true;
    struct loom_tensor *x = loom_tensor_new(&c, LOOM_SHAPE(2, 6));
    for (int i = 0; i < 12; i++) x->data[i] = (float)i;
    x->flags |= LOOM_T_REQUIRES_GRAD;
    struct loom_tensor *y = loom_reshape(&c, x, LOOM_SHAPE(3, 4));
    assert_ptr_equal(y->data, x->data);
    float seed[12];
    for (int i = 0; i < 12; i++) seed[i] = (float)(i * 2);
    assert_int_equal(loom_backward(&c, y, seed), LOOM_OK);
    for (int i = 0; i < 12; i++) assert_near(x->grad[i], i * 2, 0);
    assert_null(loom_reshape(&c, x, LOOM_SHAPE(5)));
    loom_ctx_done(&c);
}
