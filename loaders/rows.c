/* rows.c — a split's rows from its CSV, with the bad-row policy (rows.h). */
#include <string.h>

#include "core/rng.h"
#include "rows.h"

#define SPLIT_STREAM 0x73706c6974ULL /* "split": the Philox stream of the held-out draw */

const char *loom_split_path(const struct loom_schema *s, enum loom_split split)
{
    switch (split) {
    case LOOM_SPLIT_TRAIN:
        return s->data.train;
    case LOOM_SPLIT_VALID:
        return s->data.split.enabled ? s->data.train : s->data.valid;
    case LOOM_SPLIT_TEST:
        return s->data.test;
    }
    return NULL;
}

bool loom_split_held_out(const struct loom_schema *s, int64_t index)
{
    if (!s->data.split.enabled) return false;
    uint32_t u[4];
    loom_philox((uint64_t)s->data.split.seed, SPLIT_STREAM, (uint64_t)index, u);
    /* 53 random bits: exact enough that a share of 0.1 holds out 10%. */
    double x = (double)(((uint64_t)u[0] << 21) ^ (u[1] >> 11)) * 0x1p-53;
    return x < s->data.split.valid;
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t') return false;
    return true;
}

bool loom_rows_dropped(const struct loom_rows *r)
{
    for (int c = 0; c < r->s->ncolumns; c++)
        if (r->s->columns[c].type == LOOM_COL_NUMBER &&
            !(r->targets_optional && r->s->columns[c].output >= 0) &&
            r->s->columns[c].number.missing == LOOM_MISSING_DROP && blank(r->f[c].p, r->f[c].len))
            return true;
    return false;
}

void loom_report_example(struct loom_data_report *rep, const struct loom_error *e)
{
    if (rep->nexamples < (int)LOOM_ARRAY_LEN(rep->examples)) rep->examples[rep->nexamples++] = *e;
}

/* Open path and map the schema's columns to its header. */
static enum loom_status rows_open(struct loom_rows *r, const struct loom_schema *s,
                                  const char *path, struct loom_error *err)
{
    struct loom_csv_options co = {.delimiter = s->data.csv.delimiter};
    enum loom_status st = loom_csv_open(path, &co, &r->csv, err);
    if (st != LOOM_OK) return st;
    struct loom_csv_row hdr;
    st = loom_csv_read_header(r->csv, &hdr, err);
    if (st != LOOM_OK) goto fail;
    r->map = malloc(sizeof *r->map * (size_t)LOOM_MAX(s->ncolumns, 1));
    r->f = calloc((size_t)LOOM_MAX(s->ncolumns, 1), sizeof *r->f);
    if (!r->map || !r->f) {
        st = loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for the CSV header");
        goto fail;
    }
    for (int c = 0; c < s->ncolumns; c++) {
        const char *name = s->columns[c].name;
        size_t n = strlen(name);
        r->map[c] = -1;
        for (size_t i = 0; i < hdr.count; i++)
            if (hdr.fields[i].len == n && memcmp(hdr.fields[i].data, name, n) == 0)
                r->map[c] = (int)i;
        if (r->map[c] < 0 && !(r->targets_optional && s->columns[c].output >= 0)) {
            st = loom_error_set_at(err, LOOM_ERR_SCHEMA, path, 1, 0,
                                   "column '%s' (declared in %s at line %d) is not in the header "
                                   "of %s",
                                   name, s->source ? s->source : "the schema",
                                   s->columns[c].at.line, path);
            goto fail;
        }
    }
    return LOOM_OK;
fail:
    loom_rows_close(r);
    return st;
}

enum loom_status loom_rows_open(struct loom_rows *r, const struct loom_schema *s,
                                enum loom_split split, struct loom_error *err)
{
    *r = (struct loom_rows){.s = s};
    r->path = loom_split_path(s, split);
    if (!r->path) return loom_error_set(err, LOOM_ERR_INVALID, "the schema names no test file");
    r->filter = s->data.split.enabled && split != LOOM_SPLIT_TEST;
    r->keep_held = split == LOOM_SPLIT_VALID;
    return rows_open(r, s, r->path, err);
}

enum loom_status loom_rows_open_file(struct loom_rows *r, const struct loom_schema *s,
                                     const char *path, bool targets_optional,
                                     struct loom_error *err)
{
    *r = (struct loom_rows){.s = s, .path = path, .targets_optional = targets_optional};
    return rows_open(r, s, path, err);
}

void loom_rows_close(struct loom_rows *r)
{
    loom_csv_close(&r->csv);
    free(r->map);
    free(r->f);
    r->map = NULL;
    r->f = NULL;
}

enum loom_status loom_rows_next(struct loom_rows *r, bool *end, struct loom_data_report *rep,
                                struct loom_error *err)
{
    for (;;) {
        struct loom_csv_row row;
        struct loom_error why;
        enum loom_status st = loom_csv_next(r->csv, &row, &why);
        if (st != LOOM_OK && st != LOOM_ERR_PARSE && st != LOOM_ERR_LIMIT) { /* final */
            if (err) *err = why;
            return st;
        }
        if (st == LOOM_OK && row.count == 0) {
            *end = true;
            return LOOM_OK;
        }
        int64_t index = r->index++;
        if (r->filter && loom_split_held_out(r->s, index) != r->keep_held) continue;
        rep->rows_read++;
        if (st != LOOM_OK) {
            r->line = why.line;
            if (!why.file[0]) snprintf(why.file, sizeof why.file, "%s", r->path);
            st = loom_rows_bad(r, rep, &why, err);
            if (st != LOOM_OK) return st;
            continue;
        }
        r->line = row.line;
        for (int c = 0; c < r->s->ncolumns; c++) {
            if (r->map[c] < 0) { /* an optional target the file does not have */
                r->f[c] = (struct loom_field){NULL, 0};
                continue;
            }
            const struct loom_csv_field *fd = &row.fields[r->map[c]];
            r->f[c] = (struct loom_field){fd->data, fd->len};
        }
        *end = false;
        return LOOM_OK;
    }
}

enum loom_status loom_rows_bad(const struct loom_rows *r, struct loom_data_report *rep,
                               const struct loom_error *why, struct loom_error *err)
{
    rep->rows_bad++;
    loom_report_example(rep, why);
    if (r->s->data.csv.on_bad_row != LOOM_BAD_ROW_STOP) return LOOM_OK;
    return loom_error_set_at(err, why->code, why->file, why->line, why->column,
                             "%s (csv.on_bad_row is stop)", why->message);
}

enum loom_status loom_rows_bad_value(const struct loom_rows *r, int col,
                                     struct loom_data_report *rep, const struct loom_error *why,
                                     struct loom_error *err)
{
    struct loom_error e;
    loom_error_set_at(&e, why->code, r->path, (int)LOOM_MIN(r->line, INT32_MAX), 0,
                      "line %lld: column '%s': %s", (long long)r->line, r->s->columns[col].name,
                      why->message);
    return loom_rows_bad(r, rep, &e, err);
}

enum loom_status loom_rows_check_share(const struct loom_schema *s, const char *path,
                                       const struct loom_data_report *rep, struct loom_error *err)
{
    if (rep->rows_read == 0 || rep->rows_bad == 0) return LOOM_OK;
    double share = (double)rep->rows_bad / (double)rep->rows_read;
    if (share <= s->data.csv.max_bad_rows) return LOOM_OK;
    const struct loom_error *first = rep->nexamples ? &rep->examples[0] : NULL;
    return loom_error_set_at(err, LOOM_ERR_LIMIT, path, 0, 0,
                             "%lld of %lld rows of %s are bad (%.2f%%), more than "
                             "csv.max_bad_rows = %g%s%s",
                             (long long)rep->rows_bad, (long long)rep->rows_read, path, 100 * share,
                             s->data.csv.max_bad_rows, first ? "; the first: " : "",
                             first ? first->message : "");
}
