/* testlib.c — the registry of self-registering cmocka tests and main(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static struct CMUnitTest *tests;
static int ntests, cap;

void loom_test_register(const char *name, void (*fn)(void **state))
{
    loom_test_register_state(name, fn, NULL);
}

void loom_test_register_state(const char *name, void (*fn)(void **state), void *initial_state)
{
    if (ntests == cap) {
        cap = cap ? 2 * cap : 64;
        tests = realloc(tests, (size_t)cap * sizeof *tests);
        if (!tests) abort();
    }
    tests[ntests++] =
        (struct CMUnitTest){.name = name, .test_func = fn, .initial_state = initial_state};
}

void loom_assert_near(double a, double b, double tol, const char *file, int line)
{
    if (!(fabs(a - b) <= tol)) {
        fprintf(stderr, "%s:%d: %.9g and %.9g differ by more than %g\n", file, line, a, b, tol);
        _fail(file, line);
    }
}

const char *loom_test_shared_dir(void)
{
    const char *s = getenv("LOOM_SHARED");
    return s && *s ? s : "../shared";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct CMUnitTest *)a)->name, ((const struct CMUnitTest *)b)->name);
}

int main(int argc, char **argv)
{
    /* Optional filter: run only tests whose name contains argv[1]. */
    if (argc > 1) {
        int k = 0;
        for (int i = 0; i < ntests; i++)
            if (strstr(tests[i].name, argv[1])) tests[k++] = tests[i];
        ntests = k;
    }
    qsort(tests, (size_t)ntests, sizeof *tests, by_name);
    const char *suite = strrchr(argv[0], '/');
    int failed =
        _cmocka_run_group_tests(suite ? suite + 1 : argv[0], tests, (size_t)ntests, NULL, NULL);
    free(tests);
    return failed ? 1 : 0;
}
