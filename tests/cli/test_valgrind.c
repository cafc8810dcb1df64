/*
 * test_valgrind.c — `loom train` and `loom predict` under valgrind's
 * memcheck (meson test cli-valgrind, suites cli and valgrind: `meson test
 * --no-suite valgrind` leaves it out): no error, no definite or indirect
 * leak. The tiny set with three broken photos; train builds the dataset
 * cache, writes checkpoints and stops, a second train resumes from the
 * cache and the checkpoint and saves the model, predict reads rows with a
 * bad value and a missing photo. $VALGRIND is valgrind's path (meson).
 * One compute thread: OpenMP's pool is then not started.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

static void memcheck(const char *args, int want)
{
    const char *vg = getenv("VALGRIND");
    if (!vg) fail_msg("VALGRIND is not set (meson test sets it)");
    char wrap[600];
    snprintf(wrap, sizeof wrap,
             "%s --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect "
             "--show-leak-kinds=definite,indirect --num-callers=24",
             vg);
    static char out[1 << 20];
    int rc = run_under(wrap, args, out, sizeof out);
    if (rc != want || !strstr(out, "ERROR SUMMARY: 0 errors"))
        fail_msg("valgrind loom %s: exit %d (expected %d):\n%s", args, rc, want, out);
    printf("    loom %s: %s", args, strstr(out, "ERROR SUMMARY"));
}

LOOM_TEST(valgrind_train_resume_predict)
{
    tiny_with_bad_photos("0.05");
    memcheck("train tiny.yaml --quiet --threads 1 --epochs 2 --run-dir vg --stop-after 5 "
             "--checkpoint-every 2",
             0);
    memcheck("train tiny.yaml --threads 1 --epochs 2 --run-dir vg --resume", 0);
    memcheck("predict vg/model.loom --data ask.csv --threads 1 --out p.csv", 0);
    char *p = slurp("p.csv", NULL);
    assert_non_null(p);
    assert_int_equal(count_lines(p), 5);
    free(p);
}
