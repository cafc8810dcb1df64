/*
 * prep_stub.c — a stand-in for the fitted preprocessing (loaders/prep.h),
 * for the modules tests only: the encoders need just the column infos, so
 * the tests make them by hand instead of fitting a prep on data. The tests
 * link no loaders code, so these definitions stand alone.
 */
#include <string.h>

#include "fixtures.h"

struct loom_prep {
    int ncols;
    struct loom_prep_column_info *cols;
};

struct loom_prep *mt_prep(const struct loom_schema *s, const struct loom_prep_column_info *info)
{
    struct loom_prep *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->ncols = s->ncolumns;
    p->cols = calloc((size_t)s->ncolumns, sizeof *p->cols);
    assert_non_null(p->cols);
    for (int i = 0; i < s->ncolumns; i++) {
        p->cols[i] = info[i];
        p->cols[i].type = s->columns[i].type;
    }
    return p;
}

enum loom_status loom_prep_column(const struct loom_prep *p, int col,
                                  struct loom_prep_column_info *out, struct loom_error *err)
{
    if (col < 0 || col >= p->ncols)
        return loom_error_set(err, LOOM_ERR_INVALID, "prep: no column %d", col);
    *out = p->cols[col];
    return LOOM_OK;
}

int loom_prep_ncols(const struct loom_prep *p)
{
    return p->ncols;
}

void loom_prep_free(struct loom_prep **p)
{
    if (!p || !*p) return;
    free((*p)->cols);
    free(*p);
    *p = NULL;
}
