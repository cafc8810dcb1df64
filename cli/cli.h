/*
 * cli.h — the `loom` command: one file per subcommand (cmd_<name>.c), each
 * `int loom_cmd_<name>(int argc, char **argv)` returning the exit code:
 * 0 success, 1 failure, 2 usage error. argv[0] is the subcommand's name.
 * The table of subcommands is in main.c.
 */
#ifndef LOOM_CLI_H
#define LOOM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "fusion/metrics.h"
#include "fusion/source.h"
#include "include/loom.h"
#include "loaders/dataset.h"

enum { LOOM_EXIT_OK = 0, LOOM_EXIT_FAIL = 1, LOOM_EXIT_USAGE = 2 };

/* The subcommands (one file each). */
int loom_cmd_check(int argc, char **argv);
int loom_cmd_inspect(int argc, char **argv);
int loom_cmd_train(int argc, char **argv);
int loom_cmd_eval(int argc, char **argv);
int loom_cmd_predict(int argc, char **argv);
int loom_cmd_embed(int argc, char **argv);
int loom_cmd_lr_find(int argc, char **argv);
int loom_cmd_serve(int argc, char **argv);

/* Print "loom <cmd>: <status text>: <message>" (with file:line:column when
 * known) to stderr. */
void loom_cli_error(const char *cmd, const struct loom_error *err);

/* True when argv[i] is -h or --help. */
bool loom_cli_is_help(const char *arg);

/* ---- common.c ---- */

/* Parse an option's value; on a bad one print "loom CMD: OPT wants ..." and
 * return false. loom_cli_real takes positive finite numbers. */
bool loom_cli_int(const char *cmd, const char *opt, const char *arg, long long lo, long long hi,
                  long long *out);
bool loom_cli_real(const char *cmd, const char *opt, const char *arg, double *out);

/* loom_schema_load; on failure every error is printed (as `loom check`
 * does) with their count, and false returned. */
bool loom_cli_schema_load(const char *cmd, const char *path, struct loom_schema *s);

/* --branches A,B: loom_schema_keep_branches, or false after printing why. */
bool loom_cli_keep_branches(const char *cmd, struct loom_schema *s, const char *list);

/* A pass's counts and its first bad rows and photos (with file and line),
 * to stderr. */
void loom_cli_report(const char *cmd, const char *what, const struct loom_data_report *r);

/* Every metric of every output, and the mean loss, as a small table with
 * column title `title`. */
void loom_cli_metrics_table(FILE *f, const struct loom_metrics *mt, const char *title);

/* The CSV a split is read from (train for a `split:` validation), or NULL. */
const char *loom_cli_split_path(const struct loom_schema *s, enum loom_split split);

/* mkdir -p; prints why on failure. */
bool loom_cli_mkdirs(const char *cmd, const char *path);

/* The input of eval, predict and embed. */
struct loom_cli_input_opts {
    const char *model;
    const char *data; /* a CSV, or NULL: the split of the model's schema */
    enum loom_split split;
    const char *images;    /* the photo root instead of the schema's; NULL: keep */
    bool targets_optional; /* output columns may be absent (predict, embed) */
    bool lenient;          /* bad rows and photos are skipped whatever their share */
    bool strict;           /* a bad row stops */
    bool use_cache;        /* splits only */
    bool quiet;            /* no data report (bad rows are still reported on failure) */
    int batch;             /* 0: the schema's batch size */
    int threads;           /* < 0: the schema's */
};

struct loom_cli_input {
    struct loom_model *m;
    struct loom_dataset *d;
    struct loom_batcher *b; /* file order, no augmentation */
    struct loom_source src;
    struct loom_data_report rep;
    const char *path; /* the CSV read */
};

/* Open the model and its input; prints what went wrong and returns the exit
 * code. Close *in in every case. */
int loom_cli_input_open(const char *cmd, const struct loom_cli_input_opts *o,
                        struct loom_cli_input *in);
void loom_cli_input_close(struct loom_cli_input *in);

#endif
