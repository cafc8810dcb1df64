/*
 * csv.c — the streaming RFC 4180 reader (see csv.h for what it accepts).
 *
 * A state machine over a window of the input (buf[pos..end)): the window is
 * the fixed read buffer for a file and a slice of the caller's bytes for
 * memory, refilled when used up, so quotes, CRLF and multi-byte characters
 * may straddle two windows. Runs of ordinary bytes are copied in one go; the
 * special bytes (delimiter, quote, CR, LF, NUL) go one at a time.
 *
 * A record is assembled in `data`: its fields back to back, each followed by
 * a NUL, with `spans` giving offset and length (offsets, since data may
 * move while it grows). After the first error of a record the machine keeps
 * running to the record's end but stores nothing ("bad"): that is how the
 * reader resynchronises at the next line break outside quotes, with memory
 * bounded however long the bad record is.
 *
 * Lines: each LF or CR ends a physical line, except an LF right after a CR
 * (one CRLF). Columns count bytes from the start of the line, from 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "loaders/csv.h"
#include "loaders/text.h"

/* Bytes that end a run of ordinary bytes, per state (see cls below). */
enum { STOP_UNQUOTED = 1, STOP_QUOTED = 2 };

enum csv_state {
    ST_FIELD_START, /* before the first byte of a field */
    ST_UNQUOTED,    /* inside an unquoted field */
    ST_QUOTED,      /* inside a quoted field */
    ST_AFTER_QUOTE, /* a quote inside a quoted field: doubled, or the closing one */
};

struct span {
    size_t off, len;
    bool quoted;
};

struct loom_csv_reader {
    /* Source: a file descriptor and its buffer, or the caller's memory. */
    int fd; /* -1 for memory */
    unsigned char *own;
    const unsigned char *mem;
    size_t mem_len, mem_used;
    const unsigned char *buf; /* the window: buf[pos..end) not yet parsed */
    size_t pos, end, chunk;
    uint64_t buf_offset; /* offset in the input of buf[0] */
    bool eof;
    char *name; /* for errors' file */

    unsigned char delim;
    unsigned char cls[256]; /* STOP_* bits per byte */
    size_t max_field, max_record, max_fields, expected;

    int64_t line;        /* current physical line, 1-based */
    uint64_t line_start; /* input offset where it starts */
    bool prev_cr;        /* the last byte consumed was a CR */

    /* The record being read. */
    enum csv_state st;
    bool in_record, bad, field_quoted;
    int64_t rec_line, field_line;
    int field_col;
    size_t field_off, content; /* start of the current field in data; bytes of fields */
    size_t nfields;            /* fields seen, stored or not */
    char *data;
    size_t len, cap;
    struct span *spans;
    size_t nspans, spans_cap;
    struct loom_csv_field *fields;
    size_t fields_cap;
    enum loom_status rec_status;
    struct loom_error rec_err;

    bool started;
    enum loom_status fatal;
    struct loom_error fatal_err;
    struct loom_csv_counts counts;
};

static int clamp_int(int64_t v)
{
    return v > INT_MAX ? INT_MAX : (int)v;
}

static int column_here(const struct loom_csv_reader *r)
{
    return clamp_int((int64_t)(r->buf_offset + r->pos - r->line_start + 1));
}

/* The first error of the current record wins; later ones are consequences.
 * The error's line is the record's; column (0: none) is kept only when it
 * is on that line (col_line). */
__attribute__((format(printf, 5, 6))) static void record_fail(struct loom_csv_reader *r,
                                                              enum loom_status code,
                                                              int64_t col_line, int column,
                                                              const char *fmt, ...)
{
    if (r->bad) return;
    int64_t line = r->rec_line;
    if (col_line != line) column = 0;
    r->bad = true;
    r->rec_status = code;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    loom_error_set_at(&r->rec_err, code, r->name, clamp_int(line), column, "line %lld: %s",
                      (long long)line, msg);
}

/* I/O and memory failures (and a bad header) end the reading for good. */
__attribute__((format(printf, 4, 5))) static enum loom_status
reader_fatal(struct loom_csv_reader *r, enum loom_status code, int64_t line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->fatal = code;
    return loom_error_set_at(&r->fatal_err, code, r->name, clamp_int(line), 0, "%s", msg);
}

/* ---- the input window ---- */

/* Appends what the source gives to the file buffer (one read). */
static enum loom_status read_some(struct loom_csv_reader *r)
{
    ssize_t n;
    do {
        n = read(r->fd, r->own + r->end, r->chunk - r->end);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return reader_fatal(r, LOOM_ERR_IO, 0, "cannot read: %s", strerror(errno));
    if (n == 0) r->eof = true;
    r->end += (size_t)n;
    return LOOM_OK;
}

/* Called when the window is used up: the next one (empty at the end). */
static enum loom_status refill(struct loom_csv_reader *r)
{
    r->buf_offset += r->end;
    r->pos = r->end = 0;
    if (r->eof) return LOOM_OK;
    if (r->fd < 0) {
        size_t n = LOOM_MIN(r->chunk, r->mem_len - r->mem_used);
        r->buf = r->mem + r->mem_used;
        r->end = n;
        r->mem_used += n;
        r->eof = r->mem_used == r->mem_len;
        return LOOM_OK;
    }
    return read_some(r);
}

/* ---- assembling a record ---- */

static bool grow_data(struct loom_csv_reader *r, size_t need)
{
    if (need <= r->cap) return true;
    /* Never past what the limits allow: max_record bytes plus one NUL per field. */
    size_t most = r->max_record, cap = r->cap ? r->cap : 256;
    if (!loom_add_size(most, r->max_fields + 1, &most)) most = SIZE_MAX;
    while (cap < need) cap = cap > most / 2 ? LOOM_MAX(most, need) : 2 * cap;
    char *p = realloc(r->data, cap);
    if (!p) {
        reader_fatal(r, LOOM_ERR_NOMEM, 0, "out of memory for a record of %zu bytes", need);
        return false;
    }
    r->data = p;
    r->cap = cap;
    return true;
}

/* Adds bytes to the current field, unless the record is already bad. */
static bool append(struct loom_csv_reader *r, const unsigned char *p, size_t n)
{
    if (r->bad || n == 0) return true;
    size_t field_len = r->len - r->field_off;
    if (n > r->max_field - field_len) {
        record_fail(r, LOOM_ERR_LIMIT, r->field_line, r->field_col,
                    "field %zu (starting at line %lld, column %d) is longer than the limit of "
                    "%zu bytes",
                    r->nfields + 1, (long long)r->field_line, r->field_col, r->max_field);
        return true;
    }
    if (n > r->max_record - r->content) {
        record_fail(r, LOOM_ERR_LIMIT, r->rec_line, 0,
                    "record is longer than the limit of %zu bytes", r->max_record);
        return true;
    }
    if (!grow_data(r, r->len + n + 1)) return false; /* +1: the field's NUL */
    memcpy(r->data + r->len, p, n);
    r->len += n;
    r->content += n;
    return true;
}

static bool end_field(struct loom_csv_reader *r)
{
    size_t index = r->nfields++;
    if (!r->bad && index == r->max_fields)
        record_fail(r, LOOM_ERR_LIMIT, r->rec_line, 0, "more than %zu fields", r->max_fields);
    if (!r->bad) {
        /* data is still NULL when the very first field is empty */
        size_t len = r->len - r->field_off;
        size_t at = len ? loom_utf8_check(r->data + r->field_off, len) : 0;
        if (at < len)
            record_fail(r, LOOM_ERR_PARSE, r->field_line, r->field_col,
                        "field %zu (starting at line %lld, column %d) is not valid UTF-8 "
                        "(byte %zu of the field)",
                        index + 1, (long long)r->field_line, r->field_col, at + 1);
    }
    if (!r->bad) {
        if (r->nspans == r->spans_cap) {
            size_t cap = r->spans_cap ? 2 * r->spans_cap : 16;
            struct span *s = realloc(r->spans, cap * sizeof *s);
            if (!s) {
                reader_fatal(r, LOOM_ERR_NOMEM, 0, "out of memory for %zu fields", cap);
                return false;
            }
            r->spans = s;
            r->spans_cap = cap;
        }
        if (!grow_data(r, r->len + 1)) return false;
        r->spans[r->nspans++] = (struct span){r->field_off, r->len - r->field_off, r->field_quoted};
        r->data[r->len++] = '\0';
    }
    r->field_off = r->len;
    r->field_quoted = false;
    r->st = ST_FIELD_START;
    return true;
}

/* Counts the line break at buf[pos] (CR or LF) and steps over it. */
static void step_newline(struct loom_csv_reader *r, unsigned char c)
{
    if (c == '\r' || !r->prev_cr) r->line++;
    r->prev_cr = c == '\r';
    r->pos++;
    r->line_start = r->buf_offset + r->pos;
}

static void reset_record(struct loom_csv_reader *r)
{
    r->st = ST_FIELD_START;
    r->in_record = r->bad = r->field_quoted = false;
    r->len = r->field_off = r->content = 0;
    r->nfields = r->nspans = 0;
}

/* At the end of the input: ends the record in progress, if any. */
static bool at_eof(struct loom_csv_reader *r, bool *found)
{
    *found = r->in_record;
    if (!*found) return true;
    if (r->st == ST_QUOTED)
        record_fail(r, LOOM_ERR_PARSE, r->field_line, r->field_col,
                    "the quote opened at line %lld, column %d is never closed",
                    (long long)r->field_line, r->field_col);
    return end_field(r);
}

/* One step of the machine at buf[pos] = c. Sets *done at the record's end. */
static bool step(struct loom_csv_reader *r, unsigned char c, bool *done)
{
    const unsigned char *b = r->buf;
    switch (r->st) {
    case ST_FIELD_START:
        if (!r->in_record) {
            if (c == '\n' || c == '\r') { /* a blank line, or the LF of a CRLF */
                step_newline(r, c);
                return true;
            }
            r->in_record = true;
            r->rec_line = r->line;
        }
        r->field_line = r->line;
        r->field_col = column_here(r);
        if (c == '"') {
            r->field_quoted = true;
            r->st = ST_QUOTED;
            r->pos++;
        } else if (c == r->delim) {
            r->pos++;
            return end_field(r);
        } else if (c == '\n' || c == '\r') {
            step_newline(r, c);
            *done = true;
            return end_field(r);
        } else {
            r->st = ST_UNQUOTED;
        }
        return true;
    case ST_UNQUOTED: {
        size_t p = r->pos;
        while (p < r->end && !(r->cls[b[p]] & STOP_UNQUOTED)) p++;
        if (p > r->pos) {
            size_t from = r->pos;
            r->pos = p;
            return append(r, b + from, p - from);
        }
        if (c == r->delim) {
            r->pos++;
            return end_field(r);
        }
        if (c == '\n' || c == '\r') {
            step_newline(r, c);
            *done = true;
            return end_field(r);
        }
        record_fail(r, LOOM_ERR_PARSE, r->line, column_here(r), "NUL byte at line %lld, column %d",
                    (long long)r->line, column_here(r));
        r->pos++;
        return true;
    }
    case ST_QUOTED: {
        size_t p = r->pos;
        while (p < r->end && !(r->cls[b[p]] & STOP_QUOTED)) p++;
        if (p > r->pos) {
            size_t from = r->pos;
            r->pos = p;
            return append(r, b + from, p - from);
        }
        if (c == '"') {
            r->st = ST_AFTER_QUOTE;
            r->pos++;
            return true;
        }
        if (c == '\n' || c == '\r') {
            step_newline(r, c);
            return append(r, &c, 1);
        }
        record_fail(r, LOOM_ERR_PARSE, r->line, column_here(r), "NUL byte at line %lld, column %d",
                    (long long)r->line, column_here(r));
        r->pos++;
        return true;
    }
    case ST_AFTER_QUOTE:
        if (c == '"') { /* "" inside quotes: one quote */
            r->st = ST_QUOTED;
            r->pos++;
            return append(r, &c, 1);
        }
        if (c == r->delim) {
            r->pos++;
            return end_field(r);
        }
        if (c == '\n' || c == '\r') {
            step_newline(r, c);
            *done = true;
            return end_field(r);
        }
        record_fail(r, LOOM_ERR_PARSE, r->line, column_here(r),
                    "text after the closing quote at line %lld, column %d "
                    "(a quote inside a quoted field is written \"\")",
                    (long long)r->line, column_here(r));
        r->st = ST_UNQUOTED; /* the rest of the field is skipped as unquoted text */
        return true;
    }
    loom_assert_fail("unknown CSV state", __FILE__, __LINE__);
}

/* Reads the next record into spans (or marks it bad). *found is false at
 * the end of the input. Returns only fatal statuses. */
static enum loom_status parse_record(struct loom_csv_reader *r, bool *found)
{
    reset_record(r);
    for (;;) {
        if (r->pos == r->end) {
            if (refill(r) != LOOM_OK) return r->fatal;
            if (r->pos == r->end) {
                at_eof(r, found);
                return r->fatal; /* at_eof fails only on memory, which sets it */
            }
        }
        unsigned char c = r->buf[r->pos];
        if (c != '\n' && c != '\r') r->prev_cr = false;
        bool done = false;
        if (!step(r, c, &done)) return r->fatal;
        if (done) {
            *found = true;
            return LOOM_OK;
        }
    }
}

/* After parse_record found a record: the ragged-row check, then the row or
 * the error (loom_csv_next keeps the counts). */
static enum loom_status finish_record(struct loom_csv_reader *r, struct loom_csv_row *row,
                                      struct loom_error *err)
{
    if (!r->bad && r->expected && r->nspans != r->expected)
        record_fail(r, LOOM_ERR_PARSE, r->rec_line, 0, "%zu fields, expected %zu", r->nspans,
                    r->expected);
    if (r->bad) {
        if (err) *err = r->rec_err;
        return r->rec_status;
    }
    if (r->fields_cap < r->nspans) {
        struct loom_csv_field *f = realloc(r->fields, r->nspans * sizeof *f);
        if (!f) {
            reader_fatal(r, LOOM_ERR_NOMEM, 0, "out of memory for %zu fields", r->nspans);
            if (err) *err = r->fatal_err;
            return r->fatal;
        }
        r->fields = f;
        r->fields_cap = r->nspans;
    }
    for (size_t i = 0; i < r->nspans; i++)
        r->fields[i] =
            (struct loom_csv_field){r->data + r->spans[i].off, r->spans[i].len, r->spans[i].quoted};
    if (!r->expected) r->expected = r->nspans;
    *row = (struct loom_csv_row){r->fields, r->nspans, r->rec_line};
    return LOOM_OK;
}

enum loom_status loom_csv_next(struct loom_csv_reader *r, struct loom_csv_row *row,
                               struct loom_error *err)
{
    if (!r || !row) return loom_error_set(err, LOOM_ERR_INVALID, "loom_csv_next: NULL argument");
    r->started = true;
    bool found = false;
    if (!r->fatal) parse_record(r, &found);
    if (r->fatal) {
        if (err) *err = r->fatal_err;
        return r->fatal;
    }
    if (!found) {
        *row = (struct loom_csv_row){r->fields, 0, r->line};
        return LOOM_OK;
    }
    enum loom_status s = finish_record(r, row, err);
    if (r->fatal) return s; /* out of memory: not a record */
    r->counts.read++;
    if (s == LOOM_OK)
        r->counts.ok++;
    else
        r->counts.bad++;
    return s;
}

static int by_name(const void *a, const void *b)
{
    const struct loom_csv_field *x = *(const struct loom_csv_field *const *)a;
    const struct loom_csv_field *y = *(const struct loom_csv_field *const *)b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    int c = memcmp(x->data, y->data, x->len);
    return c ? c : (x < y ? -1 : x > y); /* equal names: in column order */
}

/* Empty or repeated column names: one error naming the columns. */
static enum loom_status check_names(struct loom_csv_reader *r, const struct loom_csv_row *row)
{
    const struct loom_csv_field *f = row->fields;
    for (size_t i = 0; i < row->count; i++)
        if (f[i].len == 0)
            return reader_fatal(r, LOOM_ERR_PARSE, row->line,
                                "line %lld: column %zu of the header is empty",
                                (long long)row->line, i + 1);
    const struct loom_csv_field **sorted = malloc(row->count * sizeof *sorted);
    if (!sorted) return reader_fatal(r, LOOM_ERR_NOMEM, 0, "out of memory for the header");
    for (size_t i = 0; i < row->count; i++) sorted[i] = &f[i];
    qsort(sorted, row->count, sizeof *sorted, by_name);
    enum loom_status s = LOOM_OK;
    for (size_t i = 1; i < row->count && !s; i++)
        if (sorted[i - 1]->len == sorted[i]->len &&
            !memcmp(sorted[i - 1]->data, sorted[i]->data, sorted[i]->len))
            s = reader_fatal(r, LOOM_ERR_PARSE, row->line,
                             "line %lld: column %zu repeats the name '%.80s' of column %zu",
                             (long long)row->line, (size_t)(sorted[i] - f) + 1, sorted[i]->data,
                             (size_t)(sorted[i - 1] - f) + 1);
    free(sorted);
    return s;
}

enum loom_status loom_csv_read_header(struct loom_csv_reader *r, struct loom_csv_row *row,
                                      struct loom_error *err)
{
    if (!r || !row)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_csv_read_header: NULL argument");
    if (r->started && !r->fatal)
        return loom_error_set(err, LOOM_ERR_INVALID,
                              "loom_csv_read_header: the header is the first record");
    r->started = true;
    bool found = false;
    struct loom_csv_row h;
    if (!r->fatal) parse_record(r, &found);
    if (!r->fatal) {
        if (!found) {
            reader_fatal(r, LOOM_ERR_PARSE, 1, "line 1: the input is empty, expected a header");
        } else if (finish_record(r, &h, NULL) != LOOM_OK) {
            if (!r->fatal) { /* a bad header record: every later call repeats it */
                r->fatal = r->rec_status;
                r->fatal_err = r->rec_err;
            }
        } else {
            check_names(r, &h);
        }
    }
    if (r->fatal) {
        if (err) *err = r->fatal_err;
        return r->fatal;
    }
    *row = h;
    return LOOM_OK;
}

struct loom_csv_counts loom_csv_counts(const struct loom_csv_reader *r)
{
    return r ? r->counts : (struct loom_csv_counts){0, 0, 0};
}

void loom_csv_close(struct loom_csv_reader **pr)
{
    if (!pr || !*pr) return;
    struct loom_csv_reader *r = *pr;
    if (r->fd >= 0) close(r->fd);
    free(r->own);
    free(r->name);
    free(r->data);
    free(r->spans);
    free(r->fields);
    free(r);
    *pr = NULL;
}

/* ---- opening ---- */

static enum loom_status new_reader(const struct loom_csv_options *opts, const char *name,
                                   struct loom_csv_reader **out, struct loom_error *err)
{
    struct loom_csv_options o = opts ? *opts : (struct loom_csv_options){0};
    unsigned char d = o.delimiter ? (unsigned char)o.delimiter : ',';
    if (d == '"' || d == '\r' || d == '\n' || d >= 0x80)
        return loom_error_set(err, LOOM_ERR_INVALID,
                              "CSV delimiter 0x%02x: must be ASCII, not a quote or line break", d);
    struct loom_csv_reader *r = calloc(1, sizeof *r);
    if (!r) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a CSV reader");
    r->fd = -1;
    r->name = strdup(name ? name : "");
    if (!r->name) {
        free(r);
        return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a CSV reader");
    }
    r->delim = d;
    r->cls[d] |= STOP_UNQUOTED;
    r->cls['"'] |= STOP_QUOTED;
    r->cls['\n'] |= STOP_UNQUOTED | STOP_QUOTED;
    r->cls['\r'] |= STOP_UNQUOTED | STOP_QUOTED;
    r->cls['\0'] |= STOP_UNQUOTED | STOP_QUOTED;
    r->max_field = o.max_field ? o.max_field : LOOM_CSV_DEFAULT_MAX_FIELD;
    r->max_record = o.max_record ? o.max_record : LOOM_CSV_DEFAULT_MAX_RECORD;
    r->max_fields = o.max_fields ? o.max_fields : LOOM_CSV_DEFAULT_MAX_FIELDS;
    r->expected = o.expected_fields;
    r->chunk = LOOM_MAX(o.buffer_size ? o.buffer_size : LOOM_CSV_DEFAULT_BUFFER,
                        (size_t)LOOM_CSV_MIN_BUFFER);
    r->line = 1;
    *out = r;
    return LOOM_OK;
}

/* A byte-order mark at the very start is not data. */
static void skip_bom(struct loom_csv_reader *r)
{
    if (r->end - r->pos >= 3 && !memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3)) {
        r->pos += 3;
        r->line_start = 3;
    }
}

enum loom_status loom_csv_open(const char *path, const struct loom_csv_options *opts,
                               struct loom_csv_reader **out, struct loom_error *err)
{
    if (!path || !out) return loom_error_set(err, LOOM_ERR_INVALID, "loom_csv_open: NULL argument");
    struct loom_csv_reader *r = NULL;
    enum loom_status s = new_reader(opts, path, &r, err);
    if (s) return s;
    r->own = malloc(r->chunk);
    if (!r->own) {
        s = loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a %zu-byte read buffer",
                           r->chunk);
        goto fail;
    }
    r->buf = r->own;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        s = loom_error_set_at(err, LOOM_ERR_IO, path, 0, 0, "cannot open %s: %s", path,
                              strerror(errno));
        goto fail;
    }
    while (r->end < 3 && !r->eof) { /* reads may be short: enough to see a BOM */
        s = read_some(r);
        if (s) {
            if (err) *err = r->fatal_err;
            goto fail;
        }
    }
    skip_bom(r);
    *out = r;
    return LOOM_OK;
fail:
    loom_csv_close(&r);
    return s;
}

enum loom_status loom_csv_open_mem(const void *data, size_t len, const char *name,
                                   const struct loom_csv_options *opts,
                                   struct loom_csv_reader **out, struct loom_error *err)
{
    if ((!data && len) || !out)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_csv_open_mem: NULL argument");
    struct loom_csv_reader *r = NULL;
    enum loom_status s = new_reader(opts, name, &r, err);
    if (s) return s;
    r->mem = data;
    r->mem_len = len;
    r->buf = data;
    r->eof = len == 0;
    refill(r); /* the first window (memory cannot fail) */
    r->buf_offset = 0;
    skip_bom(r);
    *out = r;
    return LOOM_OK;
}
