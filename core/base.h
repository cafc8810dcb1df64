/*
 * base.h — what every file of loom's core uses: assertions, overflow-checked
 * size arithmetic, alignment, and setting a struct loom_error.
 * Dimension letters used project-wide in shape comments:
 *   N batch, B bag size, C channels, H height, W width, T time steps,
 *   E embedding width, F fused width, V vocabulary, K classes/outputs.
 */
#ifndef LOOM_CORE_BASE_H
#define LOOM_CORE_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "loom.h"

#define LOOM_ALIGN 64 /* bytes: every buffer a kernel touches */

#define LOOM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LOOM_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define LOOM_MAX(a, b)    ((a) > (b) ? (a) : (b))

/* Misuse inside the library (never reachable from user input): abort with
 * the place. Public entry points check their arguments and return errors. */
#define LOOM_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) loom_assert_fail(#cond, __FILE__, __LINE__);                                  \
    } while (0)

_Noreturn void loom_assert_fail(const char *what, const char *file, int line);

/* *out = a * b; false (and *out untouched) on overflow. */
static inline bool loom_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}

static inline bool loom_add_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}

static inline size_t loom_align_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* Fill err (when not NULL) and return code. Formats like printf. */
enum loom_status loom_error_set(struct loom_error *err, enum loom_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same, with the place in a user's file (line/column 1-based, 0 = unknown). */
enum loom_status loom_error_set_at(struct loom_error *err, enum loom_status code, const char *file,
                                   int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Aligned heap memory for long-lived buffers (64 bytes). Free with free(). */
void *loom_aligned_alloc(size_t bytes);

#endif
