/* test_rng.c — Philox known answers, reproducibility, distributions. */
#include <string.h>

#include "core/rng.h"
#include "tests/testlib.h"

/* Known-answer vectors of Philox-4x32-10 (Random123's kat_vectors). */
LOOM_TEST(philox_known_answers)
{
    uint32_t out[4];
    loom_philox(0, 0, 0, out);
    assert_int_equal(out[0], 0x6627e8d5u);
    assert_int_equal(out[1], 0xe169c58du);
    assert_int_equal(out[2], 0xbc57ac4cu);
    assert_int_equal(out[3], 0x9b00dbd8u);
    /* counter = all ones, key = all ones */
    loom_philox(UINT64_MAX, UINT64_MAX, UINT64_MAX, out);
    assert_int_equal(out[0], 0x408f276du);
    assert_int_equal(out[1], 0x41c83b0eu);
    assert_int_equal(out[2], 0xa20bc7c6u);
    assert_int_equal(out[3], 0x6d5451fdu);
}

LOOM_TEST(rng_streams_reproduce_and_differ)
{
    struct loom_rng a, b, c;
    loom_rng_init(&a, 7, 3);
    loom_rng_init(&b, 7, 3);
    loom_rng_init(&c, 7, 4);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = loom_rng_u32(&a);
        assert_int_equal(x, loom_rng_u32(&b));
        same_c += x == loom_rng_u32(&c);
    }
    assert_true(same_c < 3);
    /* Resuming from a saved counter continues the same sequence. */
    struct loom_rng d;
    loom_rng_init(&d, 7, 3);
    d.counter = a.counter;
    assert_int_equal(loom_rng_u32(&a), loom_rng_u32(&d));
}

LOOM_TEST(rng_distributions)
{
    struct loom_rng r;
    loom_rng_init(&r, 1, 0);
    double s = 0, s2 = 0;
    int n = 200000, counts[7] = {0};
    for (int i = 0; i < n; i++) {
        float z = loom_rng_normal(&r);
        s += z, s2 += (double)z * z;
        float u = loom_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        counts[loom_rng_below(&r, 7)]++;
    }
    assert_near(s / n, 0.0, 0.01);
    assert_near(s2 / n, 1.0, 0.02);
    for (int k = 0; k < 7; k++) assert_near(counts[k] / (double)n, 1.0 / 7, 0.005);
    uint32_t idx[50], seen[50] = {0};
    for (uint32_t i = 0; i < 50; i++) idx[i] = i;
    loom_rng_shuffle(&r, idx, 50);
    for (int i = 0; i < 50; i++) seen[idx[i]]++;
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);
}
