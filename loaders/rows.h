/*
 * rows.h — the rows of one split, read from its CSV against a schema: the
 * header mapped to the declared columns, the held-out rows of `split:`
 * filtered, bad records reported, and the bad-row policy of the schema
 * (csv.on_bad_row, csv.max_bad_rows) applied in one place. loom_prep_fit and
 * loom_dataset_open both read through it, so that they agree on which rows
 * are training rows and which rows are bad. Private to loaders/.
 */
#ifndef LOOM_LOADERS_ROWS_H
#define LOOM_LOADERS_ROWS_H

#include "csv.h"
#include "dataset.h"

struct loom_field {
    const char *p; /* not NUL-terminated in general; NULL when len == 0 is allowed */
    size_t len;
};

struct loom_rows {
    const struct loom_schema *s;
    const char *path; /* the CSV read (owned by the schema) */
    struct loom_csv_reader *csv;
    int *map;               /* (ncolumns): schema column -> CSV field */
    struct loom_field *f;   /* (ncolumns): the current row's fields */
    bool filter, keep_held; /* filter by the split; keep the held-out rows (valid) or the rest */
    bool targets_optional;  /* output columns may be absent (map -1: read as missing) */
    int64_t index;          /* records of the file seen so far (bad ones included) */
    int64_t line;           /* the current row's CSV line */
};

/* The CSV path of a split (train for a `split:` valid split), or NULL when
 * the schema has none (test without `test:`). */
const char *loom_split_path(const struct loom_schema *s, enum loom_split split);
/* Whether record `index` (0-based, bad records counted) of the train file is
 * held out for validation: a pure function of (index, split seed). */
bool loom_split_held_out(const struct loom_schema *s, int64_t index);

/* Open the split's CSV, read its header and map every declared column
 * (a declared column missing from the header is LOOM_ERR_SCHEMA naming it;
 * extra CSV columns are ignored). */
LOOM_WUR enum loom_status loom_rows_open(struct loom_rows *r, const struct loom_schema *s,
                                         enum loom_split split, struct loom_error *err);
/* The same for any CSV at path (every row, no split filter). With
 * targets_optional, an output column missing from the header is read as
 * missing in every row, and a missing output never drops a row. */
LOOM_WUR enum loom_status loom_rows_open_file(struct loom_rows *r, const struct loom_schema *s,
                                              const char *path, bool targets_optional,
                                              struct loom_error *err);
void loom_rows_close(struct loom_rows *r);

/* The next row of the split into r->f / r->line. Returns LOOM_OK with
 * *end = true at the end; a bad record: rep->rows_read counted, then
 * loom_rows_bad applied (so LOOM_OK means skipped: call again). Fatal
 * errors (I/O, memory, on_bad_row: stop) are returned. Every good row
 * returned is counted in rep->rows_read; the caller counts it ok, bad
 * (loom_rows_bad) or dropped. */
LOOM_WUR enum loom_status loom_rows_next(struct loom_rows *r, bool *end,
                                         struct loom_data_report *rep, struct loom_error *err);

/* Whether the current row misses a number whose schema says `missing:
 * drop` (the caller counts it in rep->rows_dropped and skips it); not an
 * output's when targets are optional. */
bool loom_rows_dropped(const struct loom_rows *r);

/* Count a bad row (why: the error, with "line N: ..." and the file), keep it
 * as an example; LOOM_OK to skip it, or the error when csv.on_bad_row is
 * stop. */
LOOM_WUR enum loom_status loom_rows_bad(const struct loom_rows *r, struct loom_data_report *rep,
                                        const struct loom_error *why, struct loom_error *err);
/* A bad value of column col in the current row: the message is prefixed
 * with the line and the column's name, then as loom_rows_bad. */
LOOM_WUR enum loom_status loom_rows_bad_value(const struct loom_rows *r, int col,
                                              struct loom_data_report *rep,
                                              const struct loom_error *why, struct loom_error *err);

/* At the end of a pass: more than csv.max_bad_rows of the rows bad is
 * LOOM_ERR_LIMIT, saying so and naming the first bad row. */
LOOM_WUR enum loom_status loom_rows_check_share(const struct loom_schema *s, const char *path,
                                                const struct loom_data_report *rep,
                                                struct loom_error *err);

/* Keep e among the report's first examples (while there is room). */
void loom_report_example(struct loom_data_report *rep, const struct loom_error *e);

#endif
