/*
 * testlib.h — cmocka tests that register themselves: a test file writes
 *     LOOM_TEST(name) { ... }
 * and the suite's main (testlib.c) runs every registered test. Assertions of
 * our own forward the caller's file and line.
 */
#ifndef LOOM_TESTLIB_H
#define LOOM_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

void loom_test_register(const char *name, void (*fn)(void **state));
/* A test run with *state == initial_state (table-driven tests). */
void loom_test_register_state(const char *name, void (*fn)(void **state), void *initial_state);

#define LOOM_TEST(name)                                                                            \
    static void name(void **state);                                                                \
    __attribute__((constructor)) static void loom_reg_##name(void)                                 \
    {                                                                                              \
        loom_test_register(#name, name);                                                           \
    }                                                                                              \
    static void name(void **state)

/* |a - b| <= tol, with both values in the message. */
#define assert_near(a, b, tol) loom_assert_near((double)(a), (double)(b), (tol), __FILE__, __LINE__)
void loom_assert_near(double a, double b, double tol, const char *file, int line);

/* The shared test corpora (../shared/data), from $LOOM_SHARED or relative. */
const char *loom_test_shared_dir(void);

#endif
