/*
 * fixtures.h — what the api tests share: the model make_model trained (its
 * directory from $LOOM_API_MODEL, set by meson), its CSV files read into
 * memory, rows built from them through the public API, and a malloc counter
 * (malloc_count.c) for the "steady state allocates nothing" test.
 */
#ifndef LOOM_TESTS_API_FIXTURES_H
#define LOOM_TESTS_API_FIXTURES_H

#include <stdbool.h>

#include "loom.h"
#include "tests/testlib.h"

/* The model's directory and file. */
const char *ax_dir(void);
const char *ax_model_path(void);

/* A CSV of make_model's (no quoted fields): header names and rows of
 * fields, each a NUL-terminated string. */
struct ax_csv {
    int ncols;
    char **names;
    int64_t n;
    char ***rows; /* (n, ncols) */
};
void ax_csv_read(struct ax_csv *t, const char *name); /* in ax_dir() */
void ax_csv_done(struct ax_csv *t);
int ax_csv_col(const struct ax_csv *t, const char *name);

/* Append row r of t to rows: every input column of the model that t has,
 * photos by path (under ax_dir()/photos, separated by '|'). */
void ax_add_row(loom_rows *rows, const struct ax_csv *t, int64_t r);

/* The malloc counter: calls of malloc, calloc, realloc and the aligned
 * allocators between start and stop, all threads. false when the build
 * cannot count (a sanitizer owns malloc). */
bool ax_malloc_count_start(void);
long ax_malloc_count_stop(void);
/* After stop: the calls of the last count made from this executable (the
 * loom code linked into it) as the result, and up to max libraries the
 * callers were in (lib[i] its path, n[i] its calls; lib NULL-padded). */
long ax_malloc_count_by(int max, const char **lib, long *n);

/* Reads a whole file (malloc'd). */
void *ax_read_file(const char *path, size_t *n);

#endif
