/*
 * cmd_predict.c — `loom predict MODEL --data CSV`: a prediction for every
 * good row of the CSV, written as CSV in the input's order. The output
 * columns of the schema may be absent from the input (they are what is
 * predicted); every other declared column must be there. Columns:
 *
 *   the id column (when the schema has one), then per output
 *   number    <out>                       the value in the column's units
 *   binary    <out>, <out>.p              the label (0/1) and P(1)
 *   category  <out>, <out>.p.<label>...   the most probable label, and the
 *                                         probability of each label
 *   set       <out>, <out>.p.<label>...   the labels with P > 0.5 joined by
 *                                         the set's separator, and each P
 *   vector    <out>                       the components joined by the
 *                                         vector's separator
 *
 * A bad row (a value its column cannot take, a malformed record) is
 * reported with its line and skipped, or stops the run with --strict; a
 * missing or broken photo is dropped from its bag and reported, and the
 * row is still predicted. Exit 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"

static const char *const CMD = "predict";

static void usage(FILE *f)
{
    fprintf(f, "usage: loom predict [OPTIONS] MODEL --data CSV\n\n"
               "Predict every row of CSV and write the predictions as CSV.\n"
               "  --data CSV      the rows (the outputs' columns may be absent)\n"
               "  --out FILE      where the CSV goes (default: standard output)\n"
               "  --batch N       rows per forward pass (default: the schema's batch size)\n"
               "  --images DIR    root of relative photo paths (default: the schema's)\n"
               "  --strict        a bad row stops the run (default: reported and skipped)\n"
               "  --threads N     compute threads (0: all cores)\n"
               "  --quiet         no data report (bad rows and photos are still reported)\n");
}

/* A CSV field, quoted when it holds the delimiter, a quote or a line break. */
static void put_field(FILE *f, const char *p, size_t n, char delim)
{
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == delim || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (!quote) {
        fwrite(p, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"') fputc('"', f);
        fputc(p[i], f);
    }
    fputc('"', f);
}

static void put_str(FILE *f, const char *s, char delim)
{
    put_field(f, s, strlen(s), delim);
}

static int id_column(const struct loom_schema *s)
{
    for (int c = 0; c < s->ncolumns; c++)
        if (s->columns[c].type == LOOM_COL_ID) return c;
    return -1;
}

static void header(FILE *f, const struct loom_model *m)
{
    const struct loom_schema *s = &m->schema;
    char d = s->data.csv.delimiter, name[1024];
    int id = id_column(s);
    bool first = id < 0;
    if (id >= 0) put_str(f, s->columns[id].name, d);
    for (int j = 0; j < m->nheads; j++) {
        const struct loom_head *h = &m->heads[j];
        const char *out = s->columns[h->column].name;
        if (!first) fputc(d, f);
        first = false;
        put_str(f, out, d);
        if (h->type == LOOM_COL_BINARY) {
            snprintf(name, sizeof name, "%s.p", out);
            fputc(d, f), put_str(f, name, d);
        }
        if (h->type != LOOM_COL_CATEGORY && h->type != LOOM_COL_SET) continue;
        int k = h->type == LOOM_COL_CATEGORY ? h->width - 2 : h->width;
        for (int l = 0; l < k; l++) {
            size_t len = 0;
            const char *label = loom_model_label(m, j, l, &len);
            snprintf(name, sizeof name, "%s.p.%.*s", out, (int)LOOM_MIN(len, 900),
                     label ? label : "");
            fputc(d, f), put_str(f, name, d);
        }
    }
    fputc('\n', f);
}

/* Row i of head j's prediction. */
static void put_prediction(FILE *f, const struct loom_model *m, int j,
                           const struct loom_prediction *p, int64_t i)
{
    const struct loom_schema *s = &m->schema;
    const struct loom_schema_column *col = &s->columns[m->heads[j].column];
    char d = s->data.csv.delimiter;
    const double *v = p->value + i * p->k;
    size_t len;
    switch (p->type) {
    case LOOM_COL_NUMBER:
        fprintf(f, "%.9g", v[0]);
        break;
    case LOOM_COL_BINARY:
        fprintf(f, "%d%c%.6g", p->code[i], d, v[0]);
        break;
    case LOOM_COL_CATEGORY: {
        const char *label = loom_model_label(m, j, p->code[i] - 2, &len);
        put_field(f, label ? label : "", label ? len : 0, d);
        for (int k = 0; k < p->k; k++) fprintf(f, "%c%.6g", d, v[k]);
        break;
    }
    case LOOM_COL_SET: {
        /* the chosen labels, joined (a label holding the delimiter is quoted
         * with the whole field) */
        char *buf = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&buf, &n);
        bool any = false;
        for (int k = 0; mem && k < p->k; k++) {
            if (!p->chosen[i * p->k + k]) continue;
            const char *label = loom_model_label(m, j, k, &len);
            if (any) fputc(col->set.separator, mem);
            fwrite(label ? label : "", 1, label ? len : 0, mem);
            any = true;
        }
        if (mem) fclose(mem);
        put_field(f, buf ? buf : "", buf ? n : 0, d);
        free(buf);
        for (int k = 0; k < p->k; k++) fprintf(f, "%c%.6g", d, v[k]);
        break;
    }
    default: { /* vector */
        char *buf = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&buf, &n);
        for (int k = 0; mem && k < p->k; k++) {
            if (k) fputc(col->vector.separator, mem);
            fprintf(mem, "%.7g", v[k]);
        }
        if (mem) fclose(mem);
        put_field(f, buf ? buf : "", buf ? n : 0, d);
        free(buf);
        break;
    }
    }
}

/* Predict every batch of in into f. */
static int predict_all(struct loom_cli_input *in, FILE *f)
{
    struct loom_model *m = in->m;
    const struct loom_schema *s = &m->schema;
    char d = s->data.csv.delimiter;
    int id = id_column(s);
    struct loom_prediction *p = calloc((size_t)LOOM_MAX(m->nheads, 1), sizeof *p);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 0);
    c.frozen = true; /* the loaded model does not change */
    struct loom_error err = {0};
    enum loom_status st = p ? LOOM_OK : loom_error_set(&err, LOOM_ERR_NOMEM, "out of memory");
    header(f, m);
    if (!st) st = in->src.seek(in->src.self, 0, 0, &err);
    while (!st) {
        const struct loom_batch *b = NULL;
        if ((st = in->src.next(in->src.self, &b, &err)) || !b) break;
        loom_ctx_reset(&c);
        struct loom_forward fw;
        if ((st = loom_model_forward(&c, m, b, &fw))) {
            err = c.err;
            break;
        }
        for (int j = 0; j < m->nheads && !st; j++) st = loom_model_predict(m, &fw, j, &p[j], &err);
        for (int64_t i = 0; i < b->n && !st; i++) {
            if (id >= 0) {
                size_t len = 0;
                const char *t = loom_dataset_row_id(in->d, b->rows[i], &len);
                put_field(f, t ? t : "", t ? len : 0, d);
            }
            for (int j = 0; j < m->nheads; j++) {
                if (id >= 0 || j > 0) fputc(d, f);
                put_prediction(f, m, j, &p[j], i);
            }
            fputc('\n', f);
        }
        for (int j = 0; j < m->nheads; j++) loom_prediction_done(&p[j]);
    }
    loom_ctx_done(&c);
    free(p);
    if (st) {
        loom_cli_error(CMD, &err);
        return LOOM_EXIT_FAIL;
    }
    return LOOM_EXIT_OK;
}

int loom_cmd_predict(int argc, char **argv)
{
    struct loom_cli_input_opts o = {
        .targets_optional = true, .lenient = true, .split = LOOM_SPLIT_TEST, .threads = -1};
    const char *out = NULL;
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (loom_cli_is_help(a)) {
            usage(stdout);
            return LOOM_EXIT_OK;
        } else if (!strcmp(a, "--data") && has) {
            o.data = argv[++i];
        } else if (!strcmp(a, "--out") && has) {
            out = argv[++i];
        } else if (!strcmp(a, "--images") && has) {
            o.images = argv[++i];
        } else if (!strcmp(a, "--batch") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 1, 65536, &v)) return LOOM_EXIT_USAGE;
            o.batch = (int)v;
        } else if (!strcmp(a, "--threads") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 0, 1024, &v)) return LOOM_EXIT_USAGE;
            o.threads = (int)v;
        } else if (!strcmp(a, "--strict")) {
            o.strict = true;
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = true;
        } else if (a[0] == '-' || o.model) {
            usage(stderr);
            return LOOM_EXIT_USAGE;
        } else {
            o.model = a;
        }
    }
    if (!o.model || !o.data) {
        if (o.model) fprintf(stderr, "loom %s: --data CSV is required\n", CMD);
        usage(stderr);
        return LOOM_EXIT_USAGE;
    }
    struct loom_cli_input in;
    int rc = loom_cli_input_open(CMD, &o, &in);
    if (rc == LOOM_EXIT_OK && o.quiet && (in.rep.rows_bad || in.rep.images_bad))
        loom_cli_report(CMD, in.path, &in.rep);
    FILE *f = stdout;
    if (rc == LOOM_EXIT_OK && out && !(f = fopen(out, "w"))) {
        fprintf(stderr, "loom %s: %s: cannot write: %s\n", CMD, out, strerror(errno));
        rc = LOOM_EXIT_FAIL;
    }
    if (rc == LOOM_EXIT_OK) rc = predict_all(&in, f);
    if (f && f != stdout && fclose(f) != 0 && rc == LOOM_EXIT_OK) {
        fprintf(stderr, "loom %s: %s: write failed: %s\n", CMD, out, strerror(errno));
        rc = LOOM_EXIT_FAIL;
    }
    if (f == stdout && fflush(stdout) != 0) rc = LOOM_EXIT_FAIL;
    loom_cli_input_close(&in);
    return rc;
}
