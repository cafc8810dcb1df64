/* timing.h — what the benchmark programs share: a monotonic clock and
 * percentiles (numpy's default, linear interpolation). Header-only: each
 * bench is one program. */
#ifndef LOOM_BENCH_TIMING_H
#define LOOM_BENCH_TIMING_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile p (0..100) of v[0..n) by linear interpolation (numpy's
 * default); sorts v. NAN when n < 1. */
static inline double bench_pct(double *v, int64_t n, double p)
{
    if (n < 1) return NAN;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    double k = p / 100.0 * (double)(n - 1);
    int64_t i = (int64_t)k;
    return i + 1 < n ? v[i] + (k - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

#endif
