/*
 * test_cli.c — the `loom` command as a user runs it: exit codes, and that
 * every problem is reported with its place. The binary comes from
 * $LOOM_BIN (set by meson); data sets are written to a temp directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testlib.h"

static char dir[] = "/tmp/loom-cli-XXXXXX";

static void put(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Run `loom ARGS` in dir; returns the exit code, output in out (stdout+stderr). */
static int run(const char *args, char *out, size_t n)
{
    const char *bin = getenv("LOOM_BIN");
    if (!bin) fail_msg("LOOM_BIN is not set (meson test sets it to build/cli/loom)");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s 2>&1", dir, bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *schema =
    "data: {train: train.csv, split: {valid: 0.2, seed: 1}, images: photos}\n"
    "columns:\n"
    "  id:     {type: id}\n"
    "  brand:  {type: category}\n"
    "  weight: {type: number}\n"
    "  sold:   {type: date}\n"
    "  photos: {type: images, separator: ';'}\n"
    "  price:  {type: number, transform: log1p}\n"
    "branches:\n"
    "  tab: {encoder: mlp, columns: [brand, weight, sold]}\n"
    "  img: {encoder: cnn, columns: [photos]}\n"
    "outputs:\n"
    "  price: {type: number}\n";

static void setup_dir(void)
{
    if (dir[strlen(dir) - 1] == 'X') assert_non_null(mkdtemp(dir));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/photos && touch %s/photos/a.jpg", dir, dir);
    assert_int_equal(system(cmd), 0);
}

LOOM_TEST(cli_usage_and_unknown_command)
{
    setup_dir();
    char out[8192];
    assert_int_equal(run("", out, sizeof out), 2);
    assert_int_equal(run("frobnicate", out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown command"));
    assert_int_equal(run("--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "check"));
    assert_int_equal(run("check --help", out, sizeof out), 0);
    assert_int_equal(run("check", out, sizeof out), 2);
}

LOOM_TEST(cli_check_accepts_good_data_and_prints_resolved_schema)
{
    setup_dir();
    put("s.yaml", schema);
    put("train.csv", "id,brand,weight,sold,photos,price\n"
                     "1,acme,2.5,2024-01-03,a.jpg,10\n"
                     "2,\"bolt, inc\",,2024-02-29,,12.5\n");
    char out[65536];
    assert_int_equal(run("check s.yaml", out, sizeof out), 0);
    assert_non_null(strstr(out, "transform: log1p"));
    assert_non_null(strstr(out, "batch_size:")); /* defaults made explicit */
    assert_non_null(strstr(out, "2 rows checked"));
}

LOOM_TEST(cli_check_reports_every_data_problem_with_its_line)
{
    setup_dir();
    put("s.yaml", schema);
    put("train.csv", "id,brand,sold,photos,price\n"            /* no weight column */
                     "1,acme,2024-13-03,a.jpg;../s.yaml,ten\n" /* bad date, escape, text */
                     "2,x,2024-01-01,missing.jpg,3\n"          /* photo not found */
                     "3,\"open,2024-01-01,,4\n");              /* unterminated quote */
    char out[65536];
    assert_int_equal(run("check --quiet s.yaml", out, sizeof out), 1);
    assert_non_null(strstr(out, "s.yaml:5:")); /* weight declared at line 5 */
    assert_non_null(strstr(out, "'weight' is not in the header"));
    assert_non_null(strstr(out, "train.csv:2:"));
    assert_non_null(strstr(out, "'ten' is not a number"));
    assert_non_null(strstr(out, "2024-13-03"));
    assert_non_null(strstr(out, "outside the image root"));
    assert_non_null(strstr(out, "train.csv:3:"));
    assert_non_null(strstr(out, "missing.jpg"));
    assert_non_null(strstr(out, "train.csv:4:"));
}

LOOM_TEST(cli_check_reports_every_schema_error)
{
    setup_dir();
    put("bad.yaml", "data: {train: nowhere.csv}\n"
                    "columns:\n"
                    "  a: {type: nubmer}\n"
                    "branches:\n"
                    "  t: {encoder: mlp, columns: [a, b]}\n"
                    "outputs: {}\n");
    char out[65536];
    assert_int_equal(run("check bad.yaml", out, sizeof out), 1);
    assert_non_null(strstr(out, "bad.yaml:1:"));
    assert_non_null(strstr(out, "bad.yaml:3:"));
    assert_non_null(strstr(out, "did you mean 'number'"));
    assert_non_null(strstr(out, "bad.yaml:5:"));
}

LOOM_TEST(cli_inspect_rejects_a_damaged_file)
{
    setup_dir();
    put("junk.loom", "this is not a model file at all, not even close........");
    char out[8192];
    assert_int_equal(run("inspect junk.loom", out, sizeof out), 1);
    assert_non_null(strstr(out, "junk.loom"));
}
