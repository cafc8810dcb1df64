/*
 * fuzz_csv.c — the CSV reader (loaders/csv.h) on arbitrary bytes. The first
 * byte picks the options (read-buffer size down to the 4-byte minimum, the
 * delimiter, tight field/record limits, a fixed field count, header or
 * not); the rest is the CSV. Three readers go through it in lockstep: from
 * memory with the default window, from memory with the small window and
 * from a file (memfd) with the small buffer. Every call must give the same
 * answer on all three (a record straddling windows reads the same), and
 * every promise of csv.h is checked: read == ok + bad, fields NUL-terminated
 * without NUL inside, the header's width on every good record, lines that
 * never go back, the end repeated once reached, errors "line N: ...".
 */
#include <string.h>

#include "fuzz_util.h"
#include "loaders/csv.h"

enum { NREADERS = 3 };

static void same_row(const struct loom_csv_row *a, const struct loom_csv_row *b)
{
    FUZZ_CHECK(a->count == b->count && a->line == b->line);
    for (size_t i = 0; i < a->count; i++) {
        const struct loom_csv_field *x = &a->fields[i], *y = &b->fields[i];
        FUZZ_CHECK(x->len == y->len && x->quoted == y->quoted);
        FUZZ_CHECK(memcmp(x->data, y->data, x->len) == 0);
    }
}

static void good_row(const struct loom_csv_row *row, size_t width, int64_t *last_line)
{
    FUZZ_CHECK(row->count == 0 || row->line >= *last_line);
    if (row->count) *last_line = row->line;
    FUZZ_CHECK(width == 0 || row->count == 0 || row->count == width);
    for (size_t i = 0; i < row->count; i++) {
        const struct loom_csv_field *f = &row->fields[i];
        FUZZ_CHECK(f->data && f->data[f->len] == 0 && !memchr(f->data, 0, f->len));
    }
}

static void same_error(const struct loom_error *a, const struct loom_error *b)
{
    FUZZ_CHECK(a->code == b->code && a->line == b->line && a->column == b->column);
    FUZZ_CHECK(strcmp(a->message, b->message) == 0);
}

static void record_error(const struct loom_error *e)
{
    char want[40];
    snprintf(want, sizeof want, "line %d: ", e->line);
    FUZZ_CHECK(e->line > 0 && strncmp(e->message, want, strlen(want)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const size_t bufs[8] = {4, 5, 6, 7, 8, 13, 64, 1024};
    static const char delims[4] = {',', ';', '\t', '|'};
    uint8_t o = data[0];
    const uint8_t *csv = data + 1;
    size_t n = size - 1;
    struct loom_csv_options opts = {.delimiter = delims[(o >> 3) & 3]};
    if (o & 0x20) opts.max_field = 32, opts.max_record = 96, opts.max_fields = 6;
    if (o & 0x40) opts.expected_fields = 3;
    bool header = !(o & 0x80);
    struct loom_csv_options small = opts;
    small.buffer_size = bufs[o & 7];

    char path[64];
    struct loom_csv_reader *r[NREADERS] = {0};
    struct loom_error err[NREADERS] = {0};
    if (loom_csv_open_mem(csv, n, "fuzz.csv", &opts, &r[0], &err[0]) != LOOM_OK ||
        loom_csv_open_mem(csv, n, "fuzz.csv", &small, &r[1], &err[1]) != LOOM_OK)
        FUZZ_CHECK(!"open_mem failed");
    if (!fuzz_memfile(csv, n, path, sizeof path)) {
        loom_csv_close(&r[0]), loom_csv_close(&r[1]);
        return 0;
    }
    FUZZ_CHECK(loom_csv_open(path, &small, &r[2], &err[2]) == LOOM_OK);

    struct loom_csv_row row[NREADERS];
    enum loom_status st[NREADERS];
    size_t width = opts.expected_fields;
    int64_t last_line = 0, ok = 0, bad = 0;
    bool done = false;
    if (header) {
        for (int k = 0; k < NREADERS; k++) st[k] = loom_csv_read_header(r[k], &row[k], &err[k]);
        for (int k = 1; k < NREADERS; k++) {
            FUZZ_CHECK(st[k] == st[0]);
            if (st[0] == LOOM_OK)
                same_row(&row[0], &row[k]);
            else
                same_error(&err[0], &err[k]);
        }
        if (st[0] == LOOM_OK) {
            good_row(&row[0], width, &last_line);
            width = row[0].count;
            FUZZ_CHECK(width > 0);
            for (size_t i = 0; i < width; i++) {
                FUZZ_CHECK(row[0].fields[i].len > 0);
                for (size_t j = 0; j < i; j++)
                    FUZZ_CHECK(row[0].fields[i].len != row[0].fields[j].len ||
                               memcmp(row[0].fields[i].data, row[0].fields[j].data,
                                      row[0].fields[i].len) != 0);
            }
        } else {
            /* a failed header sticks */
            enum loom_status again = loom_csv_next(r[0], &row[0], &err[0]);
            FUZZ_CHECK(again == st[0]);
            done = true;
        }
    }
    /* every call consumes at least a byte or ends the input */
    for (size_t calls = 0; !done; calls++) {
        FUZZ_CHECK(calls <= n + 1);
        for (int k = 0; k < NREADERS; k++) st[k] = loom_csv_next(r[k], &row[k], &err[k]);
        for (int k = 1; k < NREADERS; k++) {
            FUZZ_CHECK(st[k] == st[0]);
            if (st[0] == LOOM_OK)
                same_row(&row[0], &row[k]);
            else
                same_error(&err[0], &err[k]);
        }
        if (st[0] == LOOM_OK) {
            good_row(&row[0], width, &last_line);
            if (row[0].count == 0) break;
            if (width == 0) width = row[0].count;
            ok++;
        } else if (st[0] == LOOM_ERR_PARSE || st[0] == LOOM_ERR_LIMIT) {
            record_error(&err[0]);
            FUZZ_CHECK(err[0].line >= last_line);
            bad++;
        } else {
            done = true; /* final: I/O or memory */
        }
    }
    if (!done) {
        FUZZ_CHECK(loom_csv_next(r[0], &row[0], &err[0]) == LOOM_OK && row[0].count == 0);
    }
    for (int k = 0; k < NREADERS; k++) {
        struct loom_csv_counts c = loom_csv_counts(r[k]);
        FUZZ_CHECK(c.read == c.ok + c.bad && c.ok == ok && c.bad == bad);
        loom_csv_close(&r[k]);
        FUZZ_CHECK(r[k] == NULL);
    }
    return 0;
}
