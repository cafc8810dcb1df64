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

#include "fixtures.h"

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

/* ---- train, eval, predict, embed, lr-find on a tiny data set ---- */

static void train_tiny(const char *extra)
{
    char args[512], out[65536];
    snprintf(args, sizeof args, "train tiny.yaml --quiet --threads 1 %s", extra);
    int rc = run(args, out, sizeof out);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "rmse"));
}

LOOM_TEST(cli_train_eval_predict_embed)
{
    make_tiny_set();
    char out[65536];
    train_tiny("--run-dir run");
    assert_int_equal(run("inspect run/model.loom", out, sizeof out), 0);
    assert_non_null(strstr(out, "data_checksum: fnv1a64:"));
    assert_non_null(strstr(out, "img."));
    assert_null(strstr(out, "train_state")); /* a model, not a checkpoint */
    size_t n;
    char *jsonl = slurp("run/metrics.jsonl", &n);
    assert_non_null(jsonl);
    assert_int_equal(count_lines(jsonl), 4); /* one line an epoch */
    free(jsonl);

    assert_int_equal(run("eval run/model.loom", out, sizeof out), 0);
    assert_non_null(strstr(out, "rmse"));
    assert_non_null(strstr(out, "r2"));
    assert_int_equal(run("eval run/model.loom --json", out, sizeof out), 0);
    assert_non_null(strstr(out, "\"rmse\":"));
    /* eval needs the targets */
    assert_int_equal(run("eval run/model.loom --data ask.csv", out, sizeof out), 1);
    assert_non_null(strstr(out, "column 'price'"));

    /* predict: one row per good input row, the bad one reported with its line */
    assert_int_equal(run("predict run/model.loom --data ask.csv --out p1.csv", out, sizeof out), 0);
    assert_non_null(strstr(out, "line 4"));
    assert_non_null(strstr(out, "lots"));
    assert_non_null(strstr(out, "missing.png"));
    char *p1 = slurp("p1.csv", NULL);
    assert_non_null(p1);
    assert_int_equal(count_lines(p1), 5); /* header + q1, q2, q4, q5 */
    assert_true(strncmp(p1, "id,price\nq1,", 12) == 0);
    assert_non_null(strstr(p1, "\nq4,"));
    assert_non_null(strstr(p1, "\nq5,"));
    assert_null(strstr(p1, "q3"));
    /* deterministic (and another batch size changes nothing in evaluation) */
    assert_int_equal(run("predict run/model.loom --data ask.csv --out p2.csv --batch 3 --quiet",
                         out, sizeof out),
                     0);
    char *p2 = slurp("p2.csv", NULL);
    assert_string_equal(p1, p2);
    free(p1), free(p2);
    /* --strict stops at the bad row */
    assert_int_equal(
        run("predict run/model.loom --data ask.csv --strict --out p3.csv", out, sizeof out), 1);
    assert_non_null(strstr(out, "ask.csv:4:"));

    /* embed: a (4, 12) float32 matrix and the ids */
    assert_int_equal(run("embed run/model.loom --data ask.csv --out e.npy", out, sizeof out), 0);
    char *npy = slurp("e.npy", &n);
    assert_non_null(npy);
    assert_memory_equal(npy, "\x93NUMPY\x01\x00", 8);
    size_t hlen = (uint8_t)npy[8] | (size_t)(uint8_t)npy[9] << 8;
    assert_int_equal((10 + hlen) % 64, 0);
    assert_int_equal(npy[10 + hlen - 1], '\n');
    assert_non_null(strstr(npy + 10, "'descr': '<f4'"));
    assert_non_null(strstr(npy + 10, "'shape': (4, 12)"));
    assert_int_equal(n, 10 + hlen + 4 * 12 * sizeof(float));
    free(npy);
    char *ids = slurp("e.ids.txt", NULL);
    assert_string_equal(ids, "q1\nq2\nq4\nq5\n");
    free(ids);
    if (access("/usr/bin/python3", X_OK) == 0 &&
        system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import numpy; a = numpy.load('%s/e.npy'); "
                 "assert a.shape == (4, 12) and a.dtype == numpy.float32 and "
                 "numpy.isfinite(a).all(), (a.shape, a.dtype)\"",
                 dir);
        assert_int_equal(system(cmd), 0);
    } else {
        printf("    (numpy not found: the .npy file was checked by its bytes only)\n");
    }
}

LOOM_TEST(cli_train_resume_continues_exactly)
{
    make_tiny_set();
    char out[65536];
    train_tiny("--run-dir run_a");
    assert_int_equal(
        run("train tiny.yaml --quiet --threads 1 --run-dir run_b --stop-after 11", out, sizeof out),
        0);
    assert_non_null(strstr(out, "stopped after 11 steps"));
    assert_null(slurp("run_b/model.loom", NULL)); /* stopped: no model yet */
    train_tiny("--run-dir run_b --resume");
    size_t na, nb;
    char *a = slurp("run_a/model.loom", &na), *b = slurp("run_b/model.loom", &nb);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na); /* bit-identical weights */
    free(a), free(b);
    /* nothing to resume from */
    assert_int_equal(run("train tiny.yaml --quiet --run-dir run_c --resume", out, sizeof out), 1);
    assert_non_null(strstr(out, "no valid checkpoint"));
}

LOOM_TEST(cli_train_branches_and_errors)
{
    make_tiny_set();
    char out[65536];
    /* an ablation: only the text branch, in its own run directory */
    train_tiny("--branches txt");
    assert_int_equal(run("inspect checkpoints/branches-txt/model.loom", out, sizeof out), 0);
    assert_non_null(strstr(out, "txt."));
    assert_null(strstr(out, "img."));
    assert_int_equal(run("train tiny.yaml --branches tab,imgs", out, sizeof out), 1);
    assert_non_null(strstr(out, "no branch 'imgs'"));
    assert_non_null(strstr(out, "did you mean 'img'"));
    /* a schema with an error: every error with its place, exit 1 */
    put("bad.yaml", "data: {train: tiny.csv}\n"
                    "columns:\n"
                    "  size: {type: number}\n"
                    "  price: {type: numbr}\n"
                    "branches: {tab: {encoder: mlp, columns: [size]}}\n"
                    "outputs: {price: {}}\n");
    assert_int_equal(run("train bad.yaml", out, sizeof out), 1);
    assert_non_null(strstr(out, "bad.yaml:4:"));
    /* usage errors */
    assert_int_equal(run("train", out, sizeof out), 2);
    assert_int_equal(run("train tiny.yaml --epochs many", out, sizeof out), 2);
    assert_non_null(strstr(out, "--epochs wants an integer"));
    assert_int_equal(run("predict x.loom", out, sizeof out), 2);
    assert_int_equal(run("eval x.loom --split train", out, sizeof out), 2);
    static const char *cmds[] = {"train", "eval", "predict", "embed", "lr-find", "inspect"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[64];
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        assert_int_equal(run(args, out, sizeof out), 0);
        assert_non_null(strstr(out, "usage: loom"));
    }
    assert_int_equal(run("eval nothere.loom", out, sizeof out), 1);
    assert_non_null(strstr(out, "nothere.loom"));
}

LOOM_TEST(cli_lr_find_prints_a_curve_and_a_rate)
{
    make_tiny_set();
    char out[65536];
    int rc = run("lr-find tiny.yaml --steps 40 --threads 1 --quiet", out, sizeof out);
    if (rc) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "smoothed"));
    assert_non_null(strstr(out, "suggested rate: "));
    assert_non_null(strstr(out, "(rate, log scale)"));
}

/* bad_images.tsv holds the header and exactly the three broken photos. */
static void check_bad_log(const char *name)
{
    char *log = slurp(name, NULL);
    assert_non_null(log);
    assert_int_equal(strncmp(log, "split\tline\tcolumn\tpath\treason\n", 30), 0);
    assert_int_equal(count_lines(log), 4);
    static const char *const want[3][2] = {{"\t162\tpics\t", "cut.png\t"},
                                           {"\t163\tpics\t", "crc.png\t"},
                                           {"\t164\tpics\t", "junk.png\t"}};
    for (int i = 0; i < 3; i++) {
        char *line = strstr(log, want[i][0]);
        assert_non_null(line);
        char *end = strchr(line, '\n'), *path = strstr(line, want[i][1]);
        assert_true(path && path < end);
        assert_true(end - (path + strlen(want[i][1])) > 5); /* a reason */
    }
    assert_null(strstr(log, "r.png\t"));
    assert_null(strstr(log, "g.png\t"));
    free(log);
}

LOOM_TEST(cli_train_logs_every_dropped_photo)
{
    tiny_with_bad_photos("0.05");
    char out[65536];
    train_tiny("--run-dir run");
    check_bad_log("run/bad_images.tsv");
    /* again, from the dataset cache: the same list */
    int rc = run("train tiny.yaml --threads 1 --epochs 1 --run-dir run2", out, sizeof out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "(from the cache)"));
    assert_non_null(strstr(out, "3 dropped photos listed in"));
    check_bad_log("run2/bad_images.tsv");
    /* the same rows over the default share (1%): training stops, saying why */
    tiny_with_bad_photos(NULL);
    rc = run("train tiny.yaml --quiet --threads 1 --run-dir run3", out, sizeof out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "max_bad_images"));
    assert_non_null(strstr(out, "bad_images.tsv"));
    assert_null(slurp("run3/model.loom", NULL));
    char *log = slurp("run3/bad_images.tsv", NULL);
    assert_non_null(log);
    assert_true(count_lines(log) >= 2);
    free(log);
}
