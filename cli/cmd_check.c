/*
 * cmd_check.c — `loom check SCHEMA`: load and validate the schema (every
 * error, with file:line:column), print the resolved schema with every
 * default explicit, then read each data file's header and first rows and
 * check them against the declared columns: a declared column missing from
 * the file, a number column holding text, a bad date or binary value, a
 * photo path that does not exist or leaves the image root, a malformed CSV
 * record. Exit 0 when all is well, 1 when anything is wrong, 2 on usage.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "loaders/columns.h"
#include "loaders/csv.h"
#include "loaders/date.h"
#include "loaders/text.h"
#include "schemas/schema.h"

struct check {
    const struct loom_schema *s;
    struct loom_diag *d;
    const char *file;
    int *field_of; /* schema column -> CSV field index, -1 if absent */
    int64_t rows;
};

/* Does the photo path exist inside the image root? */
static void check_photo(struct check *k, const char *path, size_t len, int64_t line,
                        const char *col)
{
    char rel[PATH_MAX], full[PATH_MAX], real[PATH_MAX];
    if (len == 0 || len >= sizeof rel) return;
    memcpy(rel, path, len);
    rel[len] = 0;
    const char *root = k->s->data.images;
    int w = rel[0] == '/' || !root ? snprintf(full, sizeof full, "%s", rel)
                                   : snprintf(full, sizeof full, "%s/%s", root, rel);
    if (w < 0 || (size_t)w >= sizeof full) {
        loom_diag_add(k->d, LOOM_ERR_LIMIT, k->file, (int)line, 0,
                      "column '%s': photo path '%s' is too long", col, rel);
        return;
    }
    struct stat st;
    if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
        loom_diag_add(k->d, LOOM_ERR_IO, k->file, (int)line, 0,
                      "column '%s': photo '%s' not found (looked for %s)", col, rel, full);
        return;
    }
    char rootreal[PATH_MAX];
    if (root && realpath(full, real) && realpath(root, rootreal)) {
        size_t n = strlen(rootreal);
        if (strncmp(real, rootreal, n) != 0 || (real[n] != '/' && real[n] != 0))
            loom_diag_add(k->d, LOOM_ERR_INVALID, k->file, (int)line, 0,
                          "column '%s': photo '%s' is outside the image root %s", col, rel,
                          rootreal);
    }
}

static void check_value(struct check *k, int c, const struct loom_csv_field *f, int64_t line)
{
    const struct loom_schema_column *col = &k->s->columns[c];
    struct loom_error e = {0};
    if (f->len == 0) return; /* missing: allowed for every type */
    switch (col->type) {
    case LOOM_COL_NUMBER: {
        double v;
        if (loom_parse_number(f->data, f->len, &v))
            loom_diag_add(k->d, LOOM_ERR_PARSE, k->file, (int)line, 0,
                          "column '%s': '%.40s' is not a number", col->name, f->data);
        else if (col->number.transform == LOOM_TRANSFORM_LOG1P && v <= -1)
            loom_diag_add(k->d, LOOM_ERR_PARSE, k->file, (int)line, 0,
                          "column '%s': %g is not > -1, so log1p cannot take it", col->name, v);
        break;
    }
    case LOOM_COL_BINARY: {
        int v;
        if (loom_binary_parse(f->data, f->len, &v, &e))
            loom_diag_add(k->d, e.code, k->file, (int)line, 0, "column '%s': %s", col->name,
                          e.message);
        break;
    }
    case LOOM_COL_DATE: {
        struct loom_datetime dt;
        if (loom_date_parse(f->data, f->len, &dt, &e))
            loom_diag_add(k->d, e.code, k->file, (int)line, 0, "column '%s': %s", col->name,
                          e.message);
        break;
    }
    case LOOM_COL_IMAGES: {
        const char *p = f->data, *end = f->data + f->len;
        while (p < end) {
            const char *q = memchr(p, col->images.separator, (size_t)(end - p));
            if (!q) q = end;
            while (p < q && (*p == ' ' || *p == '\t')) p++;
            size_t n = (size_t)(q - p);
            while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
            check_photo(k, p, n, line, col->name);
            p = q + 1;
        }
        break;
    }
    default:
        break; /* category, text, set, vector, id: any text */
    }
}

static void check_file(const struct loom_schema *s, const char *path, int max_rows,
                       struct loom_diag *d, bool quiet)
{
    struct loom_csv_options o = {.delimiter = s->data.csv.delimiter};
    struct loom_csv_reader *r = NULL;
    struct loom_error e = {0};
    struct loom_csv_row row;
    int *field_of = NULL;
    if (loom_csv_open(path, &o, &r, &e) || loom_csv_read_header(r, &row, &e)) {
        loom_diag_add(d, e.code, path, e.line, e.column, "%s", e.message);
        goto done;
    }
    field_of = malloc((size_t)s->ncolumns * sizeof *field_of);
    if (!field_of) {
        loom_diag_add(d, LOOM_ERR_NOMEM, path, 0, 0, "out of memory");
        goto done;
    }
    for (int c = 0; c < s->ncolumns; c++) {
        field_of[c] = -1;
        for (size_t i = 0; i < row.count; i++)
            if (!strcmp(row.fields[i].data, s->columns[c].name)) field_of[c] = (int)i;
        if (field_of[c] < 0)
            loom_diag_add(d, LOOM_ERR_SCHEMA, s->source, s->columns[c].at.line,
                          s->columns[c].at.column, "column '%s' is not in the header of %s",
                          s->columns[c].name, path);
    }
    struct check k = {s, d, path, field_of, 0};
    for (int64_t n = 0; n < max_rows; n++) {
        enum loom_status st = loom_csv_next(r, &row, &e);
        if (st == LOOM_ERR_IO || st == LOOM_ERR_NOMEM) {
            loom_diag_add(d, st, path, 0, 0, "%s", e.message);
            break;
        }
        if (st) {
            loom_diag_add(d, st, path, e.line, e.column, "%s", e.message);
            continue;
        }
        if (row.count == 0) break;
        k.rows++;
        for (int c = 0; c < s->ncolumns; c++)
            if (field_of[c] >= 0) check_value(&k, c, &row.fields[field_of[c]], row.line);
    }
    if (!quiet) fprintf(stderr, "loom check: %s: %lld rows checked\n", path, (long long)k.rows);
done:
    free(field_of);
    loom_csv_close(&r);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: loom check [--rows N] [--quiet] SCHEMA.yaml\n\n"
               "Validate the schema and print it resolved (every default explicit), then\n"
               "check the header and the first N rows (default 200) of each data file.\n"
               "  --rows N   rows to check per file (0: only the headers)\n"
               "  --quiet    do not print the resolved schema\n");
}

int loom_cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    int rows = 200;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        if (loom_cli_is_help(argv[i])) {
            usage(stdout);
            return LOOM_EXIT_OK;
        } else if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > INT_MAX) {
                fprintf(stderr, "loom check: --rows wants a count, got '%s'\n", argv[i]);
                return LOOM_EXIT_USAGE;
            }
            rows = (int)v;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = true;
        } else if (argv[i][0] == '-' || path) {
            usage(stderr);
            return LOOM_EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return LOOM_EXIT_USAGE;
    }
    struct loom_schema s;
    struct loom_diag d = {0};
    if (loom_schema_load(path, NULL, &s, &d) != LOOM_OK) {
        loom_diag_print(&d, stderr);
        fprintf(stderr, "loom check: %s: %d error%s\n", path, d.count + d.dropped,
                d.count + d.dropped == 1 ? "" : "s");
        loom_diag_done(&d);
        return LOOM_EXIT_FAIL;
    }
    if (!quiet && loom_schema_dump(&s, stdout) != LOOM_OK)
        loom_diag_add(&d, LOOM_ERR_IO, "<stdout>", 0, 0, "could not write the schema");
    const char *files[3] = {s.data.train, s.data.valid, s.data.test};
    for (int i = 0; i < 3; i++)
        if (files[i]) check_file(&s, files[i], rows, &d, quiet);
    int errors = d.count + d.dropped;
    if (errors) {
        loom_diag_sort(&d);
        loom_diag_print(&d, stderr);
        fprintf(stderr, "loom check: %d error%s\n", errors, errors == 1 ? "" : "s");
    } else if (!quiet) {
        fprintf(stderr, "loom check: %s: ok\n", path);
    }
    loom_diag_done(&d);
    loom_schema_free(&s);
    return errors ? LOOM_EXIT_FAIL : LOOM_EXIT_OK;
}
