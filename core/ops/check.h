/*
 * check.h — small helpers for the fast-vs-reference comparisons that each op
 * file keeps next to its kernels (registry.h, check_ref). Buffers are
 * guarded: a sentinel after the end catches kernels that write past it.
 */
#ifndef LOOM_CORE_OPS_CHECK_H
#define LOOM_CORE_OPS_CHECK_H

#include "../base.h"
#include "../rng.h"

struct loom_check_buf {
    float *p;
    int64_t n;
};

/* Uniform in [-1, 1). */
void loom_check_rand(struct loom_check_buf *b, struct loom_rng *r, int64_t n);
void loom_check_zeros(struct loom_check_buf *b, int64_t n);
void loom_check_copy(struct loom_check_buf *dst, const struct loom_check_buf *src);
/* LOOM_OK when every |a - b| <= tol * (1 + |b|) and both sentinels are
 * intact; else LOOM_ERR_INTERNAL with the first bad index in err. */
enum loom_status loom_check_close(struct loom_error *err, const char *what,
                                  const struct loom_check_buf *a, const struct loom_check_buf *b,
                                  double tol);
/* Free n buffers (struct loom_check_buf *...). */
void loom_check_free(int n, ...);

#endif
