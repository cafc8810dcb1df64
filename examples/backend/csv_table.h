/*
 * csv_table.h — a small RFC 4180 reader (quoted fields, doubled quotes,
 * CRLF, a UTF-8 BOM) that loads a whole CSV file into a table of strings.
 * Header-only, for the example programs and benchmarks that score CSV rows
 * through include/loom.h alone (examples/backend/scorer.c,
 * bench/infer_latency.c); loom itself reads CSV with loaders/csv.c.
 */
#ifndef LOOM_EXAMPLES_CSV_TABLE_H
#define LOOM_EXAMPLES_CSV_TABLE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct table {
    char *text; /* the file; every field points into it */
    int ncols;
    char **names;
    int64_t n;
    char ***rows; /* (n, ncols) */
};

/* ---- a small RFC 4180 reader ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, k;
    do {
        if (n + 65536 + 1 > cap) {
            cap = 2 * cap + 65536 + 1;
            char *b = realloc(buf, cap);
            if (!b) break;
            buf = b;
        }
        k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
    } while (k > 0);
    fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

/* The next field of the record at *p (unquoting in place); *end set at the
 * end of the record. */
static char *field(char **p, int *end)
{
    char *s = *p, *out = s, *start = s;
    if (*s == '"') {
        for (s++;; s++) {
            if (!*s) break;
            if (*s == '"') {
                if (s[1] != '"') {
                    s++;
                    break;
                }
                s++;
            }
            *out++ = *s;
        }
    } else {
        while (*s && *s != ',' && *s != '\n' && *s != '\r') *out++ = *s++;
    }
    *end = *s != ',';
    if (*s == '\r') s++;
    if (*s) s++;
    *out = 0;
    *p = s;
    return start;
}

static int read_csv(const char *path, struct table *t)
{
    size_t len;
    char *text = read_file(path, &len), *p = text;
    if (!text) return -1;
    memset(t, 0, sizeof *t);
    t->text = text;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3; /* BOM */
    int end = 0;
    while (!end) {
        t->names = realloc(t->names, (size_t)(t->ncols + 1) * sizeof *t->names);
        t->names[t->ncols++] = field(&p, &end);
    }
    int64_t cap = 0;
    while (*p) {
        char **row = calloc((size_t)t->ncols, sizeof *row);
        int c = 0;
        for (end = 0; !end;) {
            char *f = field(&p, &end);
            if (c < t->ncols) row[c++] = f;
        }
        while (c < t->ncols) row[c++] = "";
        if (t->n == cap) {
            cap = cap ? 2 * cap : 256;
            t->rows = realloc(t->rows, (size_t)cap * sizeof *t->rows);
        }
        t->rows[t->n++] = row;
    }
    return 0;
}

#endif
