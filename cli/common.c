/*
 * common.c — what several subcommands share: option values parsed with a
 * message naming the option, the schema loaded with every error printed,
 * the data report, the metrics table, mkdir -p, and the input of eval,
 * predict and embed (a model, and a CSV or one of its schema's splits
 * through the model's own prep, batched in file order).
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/threads.h"

bool loom_cli_int(const char *cmd, const char *opt, const char *arg, long long lo, long long hi,
                  long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (!*arg || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "loom %s: %s wants an integer in [%lld, %lld], got '%s'\n", cmd, opt, lo,
                hi, arg);
        return false;
    }
    *out = v;
    return true;
}

bool loom_cli_real(const char *cmd, const char *opt, const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (!*arg || *end || errno || !isfinite(v) || v <= 0) {
        fprintf(stderr, "loom %s: %s wants a positive number, got '%s'\n", cmd, opt, arg);
        return false;
    }
    *out = v;
    return true;
}

bool loom_cli_schema_load(const char *cmd, const char *path, struct loom_schema *s)
{
    struct loom_diag d = {0};
    if (loom_schema_load(path, NULL, s, &d) == LOOM_OK) {
        loom_diag_done(&d);
        return true;
    }
    loom_diag_print(&d, stderr);
    int n = d.count + d.dropped;
    fprintf(stderr, "loom %s: %s: %d error%s\n", cmd, path, n, n == 1 ? "" : "s");
    loom_diag_done(&d);
    return false;
}

bool loom_cli_keep_branches(const char *cmd, struct loom_schema *s, const char *list)
{
    char *copy = strdup(list);
    const char *names[256];
    int n = 0;
    for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t && n < 256;
         t = strtok_r(NULL, ",", &save))
        names[n++] = t;
    struct loom_error err = {0};
    bool ok = copy && loom_schema_keep_branches(s, names, n, &err) == LOOM_OK;
    if (!ok)
        fprintf(stderr, "loom %s: --branches %s: %s\n", cmd, list,
                copy ? err.message : "out of memory");
    free(copy);
    return ok;
}

void loom_cli_report(const char *cmd, const char *what, const struct loom_data_report *r)
{
    fprintf(stderr,
            "loom %s: %s: %lld rows: %lld ok, %lld bad, %lld dropped; photos %lld ok, %lld bad%s\n",
            cmd, what, (long long)r->rows_read, (long long)r->rows_ok, (long long)r->rows_bad,
            (long long)r->rows_dropped, (long long)r->images_ok, (long long)r->images_bad,
            r->from_cache ? " (from the cache)" : "");
    for (int i = 0; i < r->nexamples; i++) {
        const struct loom_error *e = &r->examples[i];
        if (e->line && strncmp(e->message, "line ", 5) != 0)
            fprintf(stderr, "  %s:%d: %s\n", e->file, e->line, e->message);
        else
            fprintf(stderr, "  %s%s%s\n", e->file, e->file[0] ? ": " : "", e->message);
    }
    int64_t more = r->rows_bad + r->images_bad - r->nexamples;
    if (more > 0) fprintf(stderr, "  ... and %lld more\n", (long long)more);
}

void loom_cli_metrics_table(FILE *f, const struct loom_metrics *mt, const char *title)
{
    fprintf(f, "%-16s %-10s %14s\n", "output", "metric", title);
    for (int j = 0; j < mt->nheads; j++) {
        json_t *o = loom_macc_json(&mt->acc[j]);
        const char *key;
        json_t *v;
        bool first = true;
        json_object_foreach(o, key, v)
        {
            const char *name = first ? mt->names[j] : "";
            if (json_is_integer(v))
                fprintf(f, "%-16s %-10s %14lld\n", name, key, (long long)json_integer_value(v));
            else if (json_is_real(v))
                fprintf(f, "%-16s %-10s %14.6g\n", name, key, json_real_value(v));
            else
                fprintf(f, "%-16s %-10s %14s\n", name, key, "-");
            first = false;
        }
        json_decref(o);
    }
    fprintf(f, "%-16s %-10s %14.6g\n", "(all)", "loss", loom_metrics_loss(mt));
}

bool loom_cli_mkdirs(const char *cmd, const char *path)
{
    char *buf = strdup(path);
    if (!buf) return false;
    bool ok = true;
    for (size_t i = 1; ok; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "loom %s: %s: cannot create: %s\n", cmd, buf, strerror(errno));
            ok = false;
        }
        buf[i] = c;
        if (!c) break;
    }
    free(buf);
    struct stat st;
    if (ok && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "loom %s: %s: not a directory\n", cmd, path);
        ok = false;
    }
    return ok;
}

const char *loom_cli_split_path(const struct loom_schema *s, enum loom_split split)
{
    if (split == LOOM_SPLIT_TRAIN) return s->data.train;
    if (split == LOOM_SPLIT_VALID) return s->data.split.enabled ? s->data.train : s->data.valid;
    return s->data.test;
}

/* ---- the input of eval, predict and embed ---- */

int loom_cli_input_open(const char *cmd, const struct loom_cli_input_opts *o,
                        struct loom_cli_input *in)
{
    memset(in, 0, sizeof *in);
    struct loom_error err = {0};
    if (loom_model_open_with(o->model, NULL, &in->m, &err) != LOOM_OK) {
        if (!err.file[0]) snprintf(err.file, sizeof err.file, "%s", o->model);
        loom_cli_error(cmd, &err);
        return LOOM_EXIT_FAIL;
    }
    struct loom_schema *s = &in->m->schema;
    loom_threads_set(o->threads >= 0 ? o->threads : s->training.threads);
    if (o->images) {
        char *root = strdup(o->images);
        if (!root) goto nomem;
        free(s->data.images);
        s->data.images = root;
    }
    if (o->lenient) { /* predict every row that can be: bad rows and photos skipped */
        s->data.csv.max_bad_rows = 1;
        s->data.max_bad_images = 1;
    }
    s->data.csv.on_bad_row = o->strict ? LOOM_BAD_ROW_STOP : s->data.csv.on_bad_row;
    struct loom_dataset_opts dopt;
    loom_dataset_opts_default(&dopt);
    dopt.use_cache = o->use_cache;
    dopt.targets_optional = o->targets_optional;
    enum loom_status st;
    if (o->data) {
        in->path = o->data;
        st = loom_dataset_open_file(s, in->m->prep, o->data, &dopt, &in->d, &in->rep, &err);
    } else {
        in->path = loom_cli_split_path(s, o->split);
        if (!in->path) {
            fprintf(stderr, "loom %s: %s: the model's schema names no %s file; give --data CSV\n",
                    cmd, o->model, o->split == LOOM_SPLIT_TEST ? "test" : "validation");
            return LOOM_EXIT_FAIL;
        }
        st = loom_dataset_open(s, in->m->prep, o->split, &dopt, &in->d, &in->rep, &err);
    }
    if (st != LOOM_OK) {
        if (in->rep.rows_bad || in->rep.images_bad) loom_cli_report(cmd, in->path, &in->rep);
        loom_cli_error(cmd, &err);
        return LOOM_EXIT_FAIL;
    }
    if (!o->quiet) loom_cli_report(cmd, in->path, &in->rep);
    if (loom_dataset_rows(in->d) == 0) {
        fprintf(stderr, "loom %s: %s: no row to read\n", cmd, in->path);
        return LOOM_EXIT_FAIL;
    }
    int bs = o->batch > 0 ? o->batch : s->training.batch_size;
    struct loom_batcher_opts bo = {.batch_size = bs, .threads = 1};
    if (loom_batcher_new(in->d, &bo, &in->b, &err) != LOOM_OK) {
        loom_cli_error(cmd, &err);
        return LOOM_EXIT_FAIL;
    }
    loom_source_batcher(&in->src, in->b);
    return LOOM_EXIT_OK;
nomem:
    fprintf(stderr, "loom %s: out of memory\n", cmd);
    return LOOM_EXIT_FAIL;
}

void loom_cli_input_close(struct loom_cli_input *in)
{
    loom_batcher_free(&in->b);
    loom_dataset_close(&in->d);
    loom_model_free(&in->m);
}
