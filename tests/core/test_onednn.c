/* test_onednn.c — the context's primitive cache: bounded, least recently
 * used out first, everything freed at the end. */
#include "core/onednn.h"
#include "tests/testlib.h"

static int freed[2 * LOOM_DNNL_CACHE_MAX]; /* the values are &freed[i] */

static void count_free(void *value)
{
    ++*(int *)value;
}

static struct loom_dnnl_key key_of(int i)
{
    return (struct loom_dnnl_key){{0x7465, i}};
}

LOOM_TEST(dnnl_cache_is_bounded_lru)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    int n = LOOM_DNNL_CACHE_MAX + 10;
    for (int i = 0; i < n; i++) {
        struct loom_dnnl_key k = key_of(i);
        assert_true(loom_dnnl_cache_put(&c, &k, &freed[i], count_free));
        /* Entry 0 is used all the time: it must stay. */
        struct loom_dnnl_key k0 = key_of(0);
        assert_ptr_equal(loom_dnnl_cache_get(&c, &k0), &freed[0]);
    }
    /* 1..10 were the least recently used: gone, freed once; the rest stay. */
    for (int i = 0; i < n; i++) {
        struct loom_dnnl_key k = key_of(i);
        bool gone = i >= 1 && i <= 10;
        assert_int_equal(freed[i], gone);
        if (gone)
            assert_null(loom_dnnl_cache_get(&c, &k));
        else
            assert_ptr_equal(loom_dnnl_cache_get(&c, &k), &freed[i]);
    }
    loom_ctx_done(&c);
    for (int i = 0; i < n; i++) assert_int_equal(freed[i], 1);
}
