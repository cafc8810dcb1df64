/*
 * cmd_eval.c — `loom eval MODEL`: the model's metrics per output on
 * labelled rows: a CSV (--data; every declared column, targets included,
 * must be in its header), or a split of the model's schema (valid by
 * default, or test), read through the model's own prep. A table, or JSON
 * with --json. Exit 0 ok, 1 failure, 2 usage.
 */
#include <string.h>

#include "cli.h"
#include "fusion/trainer.h"

static const char *const CMD = "eval";

static void usage(FILE *f)
{
    fprintf(f, "usage: loom eval [OPTIONS] MODEL\n\n"
               "Evaluate MODEL on labelled rows and print its metrics per output.\n"
               "  --data CSV          the rows (default: the model's schema's split)\n"
               "  --split valid|test  which split of the model's schema (default: valid)\n"
               "  --images DIR        root of relative photo paths (default: the schema's)\n"
               "  --batch N           rows per forward pass (default: the schema's batch size)\n"
               "  --threads N         compute threads (0: all cores)\n"
               "  --no-cache          neither read nor write the dataset cache (splits)\n"
               "  --json              print the metrics as JSON\n");
}

int loom_cmd_eval(int argc, char **argv)
{
    struct loom_cli_input_opts o = {.split = LOOM_SPLIT_VALID, .use_cache = true, .threads = -1};
    bool json = false;
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (loom_cli_is_help(a)) {
            usage(stdout);
            return LOOM_EXIT_OK;
        } else if (!strcmp(a, "--data") && has) {
            o.data = argv[++i];
        } else if (!strcmp(a, "--split") && has) {
            const char *sp = argv[++i];
            if (!strcmp(sp, "valid")) {
                o.split = LOOM_SPLIT_VALID;
            } else if (!strcmp(sp, "test")) {
                o.split = LOOM_SPLIT_TEST;
            } else {
                fprintf(stderr, "loom %s: --split wants valid or test, got '%s'\n", CMD, sp);
                return LOOM_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--images") && has) {
            o.images = argv[++i];
        } else if (!strcmp(a, "--batch") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 1, 65536, &v)) return LOOM_EXIT_USAGE;
            o.batch = (int)v;
        } else if (!strcmp(a, "--threads") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 0, 1024, &v)) return LOOM_EXIT_USAGE;
            o.threads = (int)v;
        } else if (!strcmp(a, "--no-cache")) {
            o.use_cache = false;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (a[0] == '-' || o.model) {
            usage(stderr);
            return LOOM_EXIT_USAGE;
        } else {
            o.model = a;
        }
    }
    if (!o.model) {
        usage(stderr);
        return LOOM_EXIT_USAGE;
    }
    struct loom_cli_input in;
    int rc = loom_cli_input_open(CMD, &o, &in);
    struct loom_metrics mt = {0};
    struct loom_error err = {0};
    if (rc == LOOM_EXIT_OK && (loom_metrics_init(&mt, in.m, &err) != LOOM_OK ||
                               loom_evaluate(in.m, &in.src, &mt, &err) != LOOM_OK)) {
        loom_cli_error(CMD, &err);
        rc = LOOM_EXIT_FAIL;
    }
    if (rc == LOOM_EXIT_OK && json) {
        json_t *j = loom_metrics_json(&mt);
        if (j) {
            json_object_set_new(j, "data", json_string(in.path));
            json_object_set_new(j, "rows", json_integer(loom_dataset_rows(in.d)));
        }
        char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
        if (text)
            printf("%s\n", text);
        else
            fprintf(stderr, "loom %s: out of memory\n", CMD), rc = LOOM_EXIT_FAIL;
        free(text);
        json_decref(j);
    } else if (rc == LOOM_EXIT_OK) {
        printf("%s on %s: %lld rows\n", o.model, in.path, (long long)loom_dataset_rows(in.d));
        loom_cli_metrics_table(stdout, &mt, "value");
    }
    loom_metrics_done(&mt);
    loom_cli_input_close(&in);
    return rc;
}
