/*
 * threads.h — the one place that sets how many threads loom uses. OpenBLAS
 * (Debian's OpenMP build), oneDNN (OpenMP runtime) and loom's own loops all
 * run on libgomp's single pool, so one setting covers them all and no two
 * pools fight for the cores.
 */
#ifndef LOOM_CORE_THREADS_H
#define LOOM_CORE_THREADS_H

/* n <= 0: use every available core. Returns the count in force. */
int loom_threads_set(int n);
int loom_threads_get(void);
/* OpenBLAS's build description (e.g. "... OpenMP ..."), for diagnostics. */
const char *loom_threads_blas_config(void);

#endif
