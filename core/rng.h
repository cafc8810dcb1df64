/*
 * rng.h — a counter-based random generator (Philox-4x32-10, Salmon et al.
 * 2011). The n-th number of stream s under seed k is a pure function of
 * (k, s, n): any stream can be reproduced or resumed from its counter, and
 * parallel loops can draw element i's number without shared state.
 */
#ifndef LOOM_CORE_RNG_H
#define LOOM_CORE_RNG_H

#include <stdint.h>
#include <stddef.h>

struct loom_rng {
    uint64_t seed;
    uint64_t stream;
    uint64_t counter; /* next 128-bit block */
    uint32_t buf[4];  /* unused outputs of the current block */
    int avail;
};

/* The raw function: four 32-bit outputs for (key, counter). */
void loom_philox(uint64_t key, uint64_t stream, uint64_t counter, uint32_t out[4]);

void loom_rng_init(struct loom_rng *r, uint64_t seed, uint64_t stream);
uint32_t loom_rng_u32(struct loom_rng *r);
uint64_t loom_rng_u64(struct loom_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float loom_rng_uniform(struct loom_rng *r);
/* Standard normal (Box-Muller). */
float loom_rng_normal(struct loom_rng *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint32_t loom_rng_below(struct loom_rng *r, uint32_t n);
void loom_rng_fill_uniform(struct loom_rng *r, float *x, size_t n, float lo, float hi);
void loom_rng_fill_normal(struct loom_rng *r, float *x, size_t n, float mean, float std);
/* Fisher-Yates shuffle of idx[0..n). */
void loom_rng_shuffle(struct loom_rng *r, uint32_t *idx, size_t n);
/* Uniform [0,1) from a raw 32-bit output. */
static inline float loom_u32_to_unit(uint32_t u)
{
    return (float)(u >> 8) * (1.0f / 16777216.0f);
}

#endif
