/* check.c — guarded buffers for fast-vs-reference comparisons (check.h). */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "check.h"

#define GUARD 16
static const float sentinel = -12345.678f;

static void alloc(struct loom_check_buf *b, int64_t n)
{
    b->n = n;
    b->p = loom_aligned_alloc((size_t)(n + GUARD) * sizeof(float));
    LOOM_ASSERT(b->p);
    for (int i = 0; i < GUARD; i++) b->p[n + i] = sentinel;
}

void loom_check_rand(struct loom_check_buf *b, struct loom_rng *r, int64_t n)
{
    alloc(b, n);
    loom_rng_fill_uniform(r, b->p, (size_t)n, -1.0f, 1.0f);
}

void loom_check_zeros(struct loom_check_buf *b, int64_t n)
{
    alloc(b, n);
    memset(b->p, 0, (size_t)n * sizeof(float));
}

void loom_check_copy(struct loom_check_buf *dst, const struct loom_check_buf *src)
{
    alloc(dst, src->n);
    memcpy(dst->p, src->p, (size_t)src->n * sizeof(float));
}

enum loom_status loom_check_close(struct loom_error *err, const char *what,
                                  const struct loom_check_buf *a, const struct loom_check_buf *b,
                                  double tol)
{
    for (int i = 0; i < GUARD; i++)
        if (a->p[a->n + i] != sentinel || b->p[b->n + i] != sentinel)
            return loom_error_set(err, LOOM_ERR_INTERNAL, "%s: wrote past the end", what);
    if (a->n != b->n)
        return loom_error_set(err, LOOM_ERR_INTERNAL, "%s: sizes %lld and %lld", what,
                              (long long)a->n, (long long)b->n);
    for (int64_t i = 0; i < a->n; i++) {
        double d = fabs((double)a->p[i] - b->p[i]);
        if (!(d <= tol * (1.0 + fabs((double)b->p[i]))))
            return loom_error_set(err, LOOM_ERR_INTERNAL, "%s: index %lld: fast %.7g, ref %.7g",
                                  what, (long long)i, a->p[i], b->p[i]);
    }
    return LOOM_OK;
}

void loom_check_free(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        struct loom_check_buf *b = va_arg(ap, struct loom_check_buf *);
        free(b->p);
        b->p = NULL;
    }
    va_end(ap);
}
