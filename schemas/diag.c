/* diag.c — the error list of a checker (diag.h). */
#include <stdarg.h>
#include <string.h>

#include "diag.h"

enum loom_status loom_diag_add(struct loom_diag *d, enum loom_status code, const char *file,
                               int line, int column, const char *fmt, ...)
{
    if (!d) return code;
    if (d->count >= LOOM_DIAG_MAX) {
        d->dropped++;
        return code;
    }
    if (d->count == d->cap) {
        int cap = d->cap ? 2 * d->cap : 16;
        struct loom_error *p = realloc(d->items, (size_t)cap * sizeof *p);
        if (!p) {
            d->nomem = true;
            return code;
        }
        d->items = p;
        d->cap = cap;
    }
    struct loom_error *e = &d->items[d->count++];
    memset(e, 0, sizeof *e);
    e->code = code;
    e->line = line;
    e->column = column;
    snprintf(e->file, sizeof e->file, "%s", file ? file : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

void loom_diag_sort(struct loom_diag *d)
{
    /* Insertion sort: stable, and lists are short (<= LOOM_DIAG_MAX). */
    for (int i = 1; i < d->count; i++) {
        struct loom_error e = d->items[i];
        int j = i;
        while (j > 0 && (d->items[j - 1].line > e.line ||
                         (d->items[j - 1].line == e.line && d->items[j - 1].column > e.column))) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = e;
    }
}

void loom_diag_move(struct loom_diag *dst, struct loom_diag *src)
{
    for (int i = 0; i < src->count; i++) {
        const struct loom_error *e = &src->items[i];
        loom_diag_add(dst, e->code, e->file, e->line, e->column, "%s", e->message);
    }
    dst->dropped += src->dropped;
    dst->nomem |= src->nomem;
    loom_diag_done(src);
}

void loom_diag_print(const struct loom_diag *d, FILE *f)
{
    for (int i = 0; i < d->count; i++) {
        const struct loom_error *e = &d->items[i];
        if (e->file[0]) fprintf(f, "%s:", e->file);
        if (e->line > 0) fprintf(f, "%d:", e->line);
        if (e->line > 0 && e->column > 0) fprintf(f, "%d:", e->column);
        fprintf(f, "%s%s\n", e->file[0] || e->line > 0 ? " " : "", e->message);
    }
    if (d->dropped) fprintf(f, "(%d more errors not shown)\n", d->dropped);
    if (d->nomem) fprintf(f, "(out of memory: some errors were lost)\n");
}

void loom_diag_done(struct loom_diag *d)
{
    if (!d) return;
    free(d->items);
    memset(d, 0, sizeof *d);
}
