/*
 * threads.h — the one place that sets how many threads loom uses. OpenBLAS
 * (Debian's OpenMP build), oneDNN (OpenMP runtime) and loom's own loops all
 * run on libgomp's single pool, so one setting covers them all and no two
 * pools fight for the cores.
 *
 * Also when a loop should fork at all (loom_omp_fork, LOOM_OMP_SPLIT) and
 * the CPU-dispatched builds of the hot elementwise kernels
 * (LOOM_TARGET_CLONES).
 */
#ifndef LOOM_CORE_THREADS_H
#define LOOM_CORE_THREADS_H

#include <omp.h>
#include <stdbool.h>
#include <stdint.h>

/* n <= 0: use every available core. Returns the count in force. */
int loom_threads_set(int n);
int loom_threads_get(void);
/* OpenBLAS's build description (e.g. "... OpenMP ..."), for diagnostics. */
const char *loom_threads_blas_config(void);

/* Whether a loop of `work` units should run as a parallel region: work >
 * min, more than one thread allowed, and not already inside a region. The
 * test matters because a region that runs on one thread is not free:
 * libgomp mallocs and frees a team for every region of one thread (an
 * if(0) region, a nested one, or any region under omp_set_num_threads(1));
 * only teams of several threads at the outer level are reused. Measured:
 * 110-120 such regions per batch-1 predict before this test existed. */
static inline bool loom_omp_fork(int64_t work, int64_t min)
{
    return work > min && omp_get_level() == 0 && omp_get_max_threads() > 1;
}

/* This thread's static share [*lo, *hi) of [0, n) inside a parallel region
 * (the first n % threads threads get one more). */
void loom_omp_share(int64_t n, int64_t *lo, int64_t *hi);

/* Runs `stmt` with int64_t `lo`, `hi` bound to each thread's share of [0,
 * n) in a parallel region when `fork` holds, else once with [0, n) and no
 * region entered. stmt is usually a call of a range kernel. */
#define LOOM_OMP_SPLIT(fork, n, lo, hi, stmt)                                                      \
    do {                                                                                           \
        if (fork) {                                                                                \
            _Pragma("omp parallel")                                                                \
            {                                                                                      \
                int64_t lo, hi;                                                                    \
                loom_omp_share((n), &lo, &hi);                                                     \
                stmt;                                                                              \
            }                                                                                      \
        } else {                                                                                   \
            int64_t lo = 0, hi = (n);                                                              \
            stmt;                                                                                  \
        }                                                                                          \
    } while (0)

/* for (int64_t i = 0; i < n; i++) body, as a static parallel for when
 * `fork` holds, else as a plain loop with no region entered. The body is
 * the trailing argument(s), a braced block. */
#define LOOM_OMP_FOR(fork, i, n, ...)                                                              \
    do {                                                                                           \
        if (fork) {                                                                                \
            _Pragma("omp parallel for schedule(static)") for (int64_t i = 0; i < (n); i++)         \
                __VA_ARGS__                                                                        \
        } else {                                                                                   \
            for (int64_t i = 0; i < (n); i++) __VA_ARGS__                                          \
        }                                                                                          \
    } while (0)

/* Hot elementwise kernels built for several instruction sets, the best one
 * picked at load time (GCC/clang function multiversioning through an ifunc):
 * the default build targets baseline x86-64 (SSE2) unless -Dnative=true.
 * Only where the kernel's results do not depend on the vector width (no
 * reassociated sums; ISO C mode keeps a*b+c unfused), so every clone gives
 * the same bits. Off under the sanitizers (their runtime starts after
 * ifunc resolution) and off x86-64. */
#if defined(__x86_64__) && defined(__has_attribute) && !defined(__SANITIZE_ADDRESS__) &&           \
    !defined(__SANITIZE_THREAD__)
#if __has_attribute(target_clones)
#define LOOM_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#if defined(__has_feature) && defined(LOOM_TARGET_CLONES)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) ||                         \
    __has_feature(undefined_behavior_sanitizer)
#undef LOOM_TARGET_CLONES
#endif
#endif
#ifndef LOOM_TARGET_CLONES
#define LOOM_TARGET_CLONES
#endif

#endif
