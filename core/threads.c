/* threads.c — thread settings for OpenMP, OpenBLAS and oneDNN (threads.h). */
#include "threads.h"

/* OpenBLAS's own controls (cblas.h declares them, but only in some builds). */
void openblas_set_num_threads(int n);
char *openblas_get_config(void);

int loom_threads_set(int n)
{
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    /* With the OpenMP build this follows omp_set_num_threads already; set it
     * anyway so a pthreads OpenBLAS (if a user's system has that one) agrees. */
    openblas_set_num_threads(n);
    return n;
}

int loom_threads_get(void)
{
    return omp_get_max_threads();
}

const char *loom_threads_blas_config(void)
{
    return openblas_get_config();
}

void loom_omp_share(int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t q = n / nt, r = n % nt;
    *lo = t * q + (t < r ? t : r);
    *hi = *lo + q + (t < r);
}
