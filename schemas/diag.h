/*
 * diag.h — a list of errors (diagnostics) about one input file, so that a
 * checker can report every problem at once instead of stopping at the first.
 * Each entry is a struct loom_error with its file, line and column (1-based,
 * 0 = unknown). A zeroed struct loom_diag is an empty list; free it with
 * loom_diag_done. Not thread-safe (one list per reader).
 */
#ifndef LOOM_SCHEMAS_DIAG_H
#define LOOM_SCHEMAS_DIAG_H

#include "core/base.h"

#define LOOM_DIAG_MAX 100 /* entries kept; later ones are only counted */

struct loom_diag {
    struct loom_error *items; /* count entries, in the order added (see loom_diag_sort) */
    int count;
    int cap;
    int dropped; /* errors past LOOM_DIAG_MAX, counted but not kept */
    bool nomem;  /* an entry could not be stored */
};

/* Append an error at file:line:column (printf-style message). Returns code,
 * so that `return loom_diag_add(...)` reads well. Never fails: when memory
 * runs out the entry is lost and d->nomem is set. d may be NULL. */
enum loom_status loom_diag_add(struct loom_diag *d, enum loom_status code, const char *file,
                               int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Order the entries by line then column, keeping the order of equal places. */
void loom_diag_sort(struct loom_diag *d);

/* Move every entry of src to the end of dst; src is left empty. */
void loom_diag_move(struct loom_diag *dst, struct loom_diag *src);

/* Print each entry as "file:line:column: message" (parts that are unknown
 * are left out), then the count of dropped entries. */
void loom_diag_print(const struct loom_diag *d, FILE *f);

/* Free the entries; d is left empty and reusable. Accepts NULL. */
void loom_diag_done(struct loom_diag *d);

#endif
