/*
 * prep_fit.c — fitting every column's preprocessing on the training rows
 * (loom_prep_fit, dataset.h). A whole row is checked before any of it is
 * counted, so that a bad row (skipped) leaves no trace in the statistics.
 */
#include <math.h>
#include <string.h>

#include "blob.h"
#include "prep_internal.h"
#include "rows.h"
#include "text.h"

#define VALUE_MAX (1u << 20) /* columns.c's limit of a category value */
#define NO_SHARE  LOOM_PREP_NO_SHARE

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t') return false;
    return true;
}

/* ---- fitting ----------------------------------------------------------------- */

struct date_acc {
    int64_t n;
    double mean[LOOM_DATE_NFEAT], m2[LOOM_DATE_NFEAT];
};

struct fitter {
    struct loom_prep *p;
    struct loom_vocab_counter **counters; /* (ncols): text owners only */
    struct date_acc *dates;               /* (ncols) */
    double *num;                          /* (ncols): this row's parsed numbers */
    double (*feat)[LOOM_DATE_NFEAT];      /* (ncols): this row's date parts */
    bool *has;                            /* (ncols): this row's date is present */
};

static enum loom_status fitter_init(struct fitter *f, const struct loom_schema *s,
                                    struct loom_error *err)
{
    *f = (struct fitter){0};
    size_t n = (size_t)LOOM_MAX(s->ncolumns, 1);
    f->p = loom_prep_alloc(s);
    f->counters = calloc(n, sizeof *f->counters);
    f->dates = calloc(n, sizeof *f->dates);
    f->num = calloc(n, sizeof *f->num);
    f->feat = calloc(n, sizeof *f->feat);
    f->has = calloc(n, sizeof *f->has);
    if (!f->p || !f->counters || !f->dates || !f->num || !f->feat || !f->has)
        return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for fitting");
    for (int i = 0; i < s->ncolumns; i++) {
        const struct loom_schema_column *sc = &s->columns[i];
        struct prep_col *pc = &f->p->c[i];
        enum loom_status st = LOOM_OK;
        switch (sc->type) {
        case LOOM_COL_NUMBER: {
            struct loom_number_opts o = {.log1p = sc->number.transform == LOOM_TRANSFORM_LOG1P};
            o.fill = sc->number.missing == LOOM_MISSING_MEAN   ? LOOM_FILL_MEAN
                     : sc->number.missing == LOOM_MISSING_ZERO ? LOOM_FILL_ZERO
                                                               : LOOM_FILL_MEDIAN;
            st = loom_number_new(&o, &pc->num, err);
            break;
        }
        case LOOM_COL_CATEGORY:
            st = loom_category_new(sc->category.min_count, (size_t)sc->category.max_categories,
                                   &pc->cat, err);
            break;
        case LOOM_COL_SET: {
            char sep[2] = {sc->set.separator, 0};
            st = loom_set_new(sep, sc->set.min_count, 0, &pc->set, err);
            break;
        }
        case LOOM_COL_VECTOR: {
            char sep[2] = {sc->vector.separator, 0};
            st = loom_vector_new(sep, &pc->vec, err);
            break;
        }
        case LOOM_COL_TEXT:
            if (pc->share == NO_SHARE) st = loom_vocab_counter_new(&f->counters[i], err);
            break;
        default:
            break;
        }
        if (st != LOOM_OK) return st;
    }
    return LOOM_OK;
}

static void fitter_done(struct fitter *f, int ncols)
{
    if (f->counters)
        for (int i = 0; i < ncols; i++) loom_vocab_counter_free(&f->counters[i]);
    free(f->counters);
    free(f->dates);
    free(f->num);
    free(f->feat);
    free(f->has);
    loom_prep_free(&f->p);
}

/* Checks of the current row that change nothing: the column that fails goes
 * to *bad_col. */
static enum loom_status check_row(struct fitter *f, const struct loom_schema *s,
                                  const struct loom_field *fd, int *bad_col, struct loom_error *why)
{
    for (int c = 0; c < s->ncolumns; c++) {
        const struct loom_schema_column *sc = &s->columns[c];
        enum loom_status st = LOOM_OK;
        *bad_col = c;
        switch (sc->type) {
        case LOOM_COL_NUMBER:
            f->num[c] = NAN;
            if (blank(fd[c].p, fd[c].len)) break;
            st = loom_parse_number(fd[c].p, fd[c].len, &f->num[c]);
            if (st != LOOM_OK) {
                char q[48];
                return loom_error_set(why, st, "\"%s\" is not a number",
                                      loom_quote_text(q, sizeof q, fd[c].p, fd[c].len));
            }
            if (sc->number.transform == LOOM_TRANSFORM_LOG1P && f->num[c] < 0)
                return loom_error_set(why, LOOM_ERR_INVALID, "log1p of the negative value %g",
                                      f->num[c]);
            break;
        case LOOM_COL_BINARY: {
            int b;
            st = loom_binary_parse(fd[c].p, fd[c].len, &b, why);
            break;
        }
        case LOOM_COL_DATE:
            f->has[c] = !blank(fd[c].p, fd[c].len);
            if (f->has[c]) st = loom_date_features(fd[c].p, fd[c].len, f->feat[c], why);
            break;
        case LOOM_COL_CATEGORY:
            if (fd[c].len > VALUE_MAX)
                st = loom_error_set(why, LOOM_ERR_LIMIT, "a value of %zu bytes (at most %u)",
                                    fd[c].len, VALUE_MAX);
            break;
        case LOOM_COL_VECTOR:
            /* Only fixes the dimension on the first value: harmless to a row
             * found bad later. */
            st = loom_vector_fit(f->p->c[c].vec, fd[c].p, fd[c].len, why);
            break;
        default:
            break;
        }
        if (st != LOOM_OK) return st;
    }
    return LOOM_OK;
}

static enum loom_status fit_row(struct fitter *f, const struct loom_schema *s,
                                const struct loom_field *fd, int *bad_col, struct loom_error *why)
{
    for (int c = 0; c < s->ncolumns; c++) {
        struct prep_col *pc = &f->p->c[c];
        enum loom_status st = LOOM_OK;
        *bad_col = c;
        switch (pc->type) {
        case LOOM_COL_NUMBER:
            st = loom_number_fit_value(pc->num, f->num[c], why);
            break;
        case LOOM_COL_CATEGORY:
            st = loom_category_fit(pc->cat, fd[c].p, fd[c].len, why);
            break;
        case LOOM_COL_SET:
            st = loom_set_fit(pc->set, fd[c].p, fd[c].len, why);
            break;
        case LOOM_COL_TEXT: {
            int owner = pc->share == NO_SHARE ? c : pc->share;
            st = loom_vocab_count_text(f->counters[owner], &pc->tok, fd[c].p, fd[c].len,
                                       (size_t)pc->max_tokens, why);
            break;
        }
        case LOOM_COL_DATE:
            if (f->has[c]) { /* Welford, per part */
                struct date_acc *a = &f->dates[c];
                a->n++;
                for (int j = 0; j < LOOM_DATE_NFEAT; j++) {
                    double d = f->feat[c][j] - a->mean[j];
                    a->mean[j] += d / (double)a->n;
                    a->m2[j] += d * (f->feat[c][j] - a->mean[j]);
                }
            }
            break;
        default:
            break;
        }
        if (st != LOOM_OK) return st;
    }
    return LOOM_OK;
}

static enum loom_status finish(struct fitter *f, const struct loom_schema *s,
                               struct loom_error *err)
{
    for (int c = 0; c < s->ncolumns; c++) {
        const struct loom_schema_column *sc = &s->columns[c];
        struct prep_col *pc = &f->p->c[c];
        enum loom_status st = LOOM_OK;
        struct loom_error why;
        switch (pc->type) {
        case LOOM_COL_NUMBER:
            st = loom_number_finish(pc->num, &why);
            break;
        case LOOM_COL_CATEGORY:
            st = loom_category_finish(pc->cat, &why);
            break;
        case LOOM_COL_SET:
            st = loom_set_finish(pc->set, &why);
            if (st == LOOM_OK) pc->width = loom_set_size(pc->set);
            break;
        case LOOM_COL_VECTOR:
            st = loom_vector_finish(pc->vec, &why);
            if (st != LOOM_OK) break;
            pc->width = loom_vector_dim(pc->vec);
            if (sc->vector.dim > 0 && sc->vector.dim != pc->width)
                st = loom_error_set(&why, LOOM_ERR_SCHEMA,
                                    "the schema says dim %d, the training rows have %d",
                                    sc->vector.dim, pc->width);
            break;
        case LOOM_COL_TEXT:
            if (pc->share == NO_SHARE)
                st = loom_vocab_fit(f->counters[c], sc->text.min_count, (size_t)sc->text.max_vocab,
                                    &pc->vocab, &why);
            break;
        case LOOM_COL_DATE: {
            const struct date_acc *a = &f->dates[c];
            for (int j = 0; j < LOOM_DATE_NFEAT; j++) {
                double sd = a->n ? sqrt(a->m2[j] / (double)a->n) : 0;
                pc->dmean[j] = a->n ? a->mean[j] : 0;
                pc->dstd[j] = sd > 1e-12 && isfinite(sd) ? sd : 1;
            }
            break;
        }
        default:
            break;
        }
        if (st != LOOM_OK)
            return loom_error_set(err, st, "fitting column '%s': %s", sc->name, why.message);
    }
    for (int c = 0; c < s->ncolumns; c++) { /* sharers take their owner's vocabulary */
        struct prep_col *pc = &f->p->c[c];
        if (pc->type == LOOM_COL_TEXT && pc->share != NO_SHARE)
            pc->vocab = f->p->c[pc->share].vocab;
    }
    return LOOM_OK;
}

enum loom_status loom_prep_fit(const struct loom_schema *s, const struct loom_dataset_opts *o,
                               struct loom_prep **out, struct loom_data_report *rep,
                               struct loom_error *err)
{
    (void)o;
    if (!s || !out) return loom_error_set(err, LOOM_ERR_INVALID, "loom_prep_fit: NULL argument");
    struct loom_data_report local;
    if (!rep) rep = &local;
    *rep = (struct loom_data_report){0};
    struct fitter f;
    struct loom_rows r = {0};
    enum loom_status st = fitter_init(&f, s, err);
    if (st != LOOM_OK) goto done;
    st = loom_rows_open(&r, s, LOOM_SPLIT_TRAIN, err);
    if (st != LOOM_OK) goto done;
    for (;;) {
        bool end;
        st = loom_rows_next(&r, &end, rep, err);
        if (st != LOOM_OK || end) break;
        if (loom_rows_dropped(&r)) {
            rep->rows_dropped++;
            continue;
        }
        struct loom_error why;
        int col = 0;
        st = check_row(&f, s, r.f, &col, &why);
        if (st == LOOM_OK) st = fit_row(&f, s, r.f, &col, &why);
        if (st == LOOM_ERR_NOMEM) {
            if (err) *err = why;
            break;
        }
        if (st != LOOM_OK) {
            st = loom_rows_bad_value(&r, col, rep, &why, err);
            if (st != LOOM_OK) break;
            continue;
        }
        rep->rows_ok++;
    }
    if (st == LOOM_OK) st = loom_rows_check_share(s, r.path, rep, err);
    if (st == LOOM_OK && rep->rows_ok == 0)
        st = loom_error_set_at(err, LOOM_ERR_INVALID, r.path, 0, 0,
                               "%s holds no usable training row", r.path);
    if (st == LOOM_OK) st = finish(&f, s, err);
    if (st == LOOM_OK) {
        *out = f.p;
        f.p = NULL;
    }
done:
    loom_rows_close(&r);
    fitter_done(&f, s->ncolumns);
    return st;
}
