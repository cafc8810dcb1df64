/*
 * stub_prep.c — a stand-in for the fitted preprocessing (loaders/prep.h)
 * for the fusion tests: hand-made column infos and number statistics,
 * decoding, label names and a small checked save/load. The tests link no
 * loaders/prep.c (these definitions stand in for it; with the real one
 * merged the linker takes these first, as no symbol pulls prep.o in).
 */
#include <math.h>
#include <string.h>

#include "fixtures.h"

struct loom_prep {
    int ncols;
    struct loom_prep_column_info *info;
    double *mean, *std;
    bool *log1p;
    char ***labels; /* per column: cardinality names, or NULL */
};

struct loom_prep *fx_prep(const struct loom_schema *s, const struct loom_prep_column_info *info,
                          const double *mean, const double *std)
{
    struct loom_prep *p = calloc(1, sizeof *p);
    assert_non_null(p);
    int n = p->ncols = s->ncolumns;
    p->info = calloc((size_t)n, sizeof *p->info);
    p->mean = calloc((size_t)n, sizeof *p->mean);
    p->std = calloc((size_t)n, sizeof *p->std);
    p->log1p = calloc((size_t)n, sizeof *p->log1p);
    p->labels = calloc((size_t)n, sizeof *p->labels);
    assert_true(p->info && p->mean && p->std && p->log1p && p->labels);
    for (int i = 0; i < n; i++) {
        p->info[i] = info[i];
        p->info[i].type = s->columns[i].type;
        p->mean[i] = mean ? mean[i] : 0;
        p->std[i] = std ? std[i] : 1;
        p->log1p[i] = s->columns[i].type == LOOM_COL_NUMBER &&
                      s->columns[i].number.transform == LOOM_TRANSFORM_LOG1P;
        int card = p->info[i].cardinality;
        if ((p->info[i].type == LOOM_COL_CATEGORY || p->info[i].type == LOOM_COL_SET) && card > 0) {
            p->labels[i] = calloc((size_t)card, sizeof **p->labels);
            assert_non_null(p->labels[i]);
            for (int k = 0; k < card; k++) {
                char name[32];
                snprintf(name, sizeof name, "%s%d",
                         p->info[i].type == LOOM_COL_CATEGORY ? "c" : "l", k);
                assert_non_null(p->labels[i][k] = strdup(name));
            }
        }
    }
    return p;
}

enum loom_status loom_prep_column(const struct loom_prep *p, int col,
                                  struct loom_prep_column_info *out, struct loom_error *err)
{
    if (col < 0 || col >= p->ncols)
        return loom_error_set(err, LOOM_ERR_INVALID, "prep: no column %d", col);
    *out = p->info[col];
    return LOOM_OK;
}

int loom_prep_ncols(const struct loom_prep *p)
{
    return p->ncols;
}

double loom_prep_decode_number(const struct loom_prep *p, int col, double y)
{
    if (col < 0 || col >= p->ncols || p->info[col].type != LOOM_COL_NUMBER) return y;
    double v = p->mean[col] + p->std[col] * y;
    return p->log1p[col] ? expm1(v) : v;
}

const char *loom_prep_label(const struct loom_prep *p, int col, int32_t code, size_t *len)
{
    if (col < 0 || col >= p->ncols || !p->labels[col] || code < 0 ||
        code >= p->info[col].cardinality)
        return NULL;
    if (len) *len = strlen(p->labels[col][code]);
    return p->labels[col][code];
}

/* "FXPR", ncols, then per column 4 int32 (type, width, cardinality,
 * image_size) and 2 doubles (mean, std). */
#define REC (4 * sizeof(int32_t) + 2 * sizeof(double))

enum loom_status loom_prep_save(const struct loom_prep *p, uint8_t **out, size_t *len,
                                struct loom_error *err)
{
    size_t n = 8 + (size_t)p->ncols * REC;
    uint8_t *b = malloc(n);
    if (!b) return loom_error_set(err, LOOM_ERR_NOMEM, "prep: out of memory");
    memcpy(b, "FXPR", 4);
    int32_t nc = p->ncols;
    memcpy(b + 4, &nc, 4);
    for (int i = 0; i < p->ncols; i++) {
        uint8_t *r = b + 8 + (size_t)i * REC;
        int32_t v[4] = {(int32_t)p->info[i].type, p->info[i].width, p->info[i].cardinality,
                        p->info[i].image_size};
        memcpy(r, v, sizeof v);
        memcpy(r + sizeof v, &p->mean[i], sizeof(double));
        memcpy(r + sizeof v + sizeof(double), &p->std[i], sizeof(double));
    }
    *out = b;
    *len = n;
    return LOOM_OK;
}

enum loom_status loom_prep_load(const struct loom_schema *s, const void *buf, size_t len,
                                struct loom_prep **out, struct loom_error *err)
{
    const uint8_t *b = buf;
    int32_t nc;
    if (len < 8 || memcmp(b, "FXPR", 4) != 0)
        return loom_error_set(err, LOOM_ERR_FORMAT, "prep: bad magic");
    memcpy(&nc, b + 4, 4);
    if (nc != s->ncolumns || len != 8 + (size_t)nc * REC)
        return loom_error_set(err, LOOM_ERR_FORMAT, "prep: size does not fit the schema");
    struct loom_prep_column_info *info = calloc((size_t)nc, sizeof *info);
    double *mean = calloc((size_t)nc, sizeof *mean), *std = calloc((size_t)nc, sizeof *std);
    assert_true(info && mean && std);
    for (int i = 0; i < nc; i++) {
        const uint8_t *r = b + 8 + (size_t)i * REC;
        int32_t v[4];
        memcpy(v, r, sizeof v);
        if (v[0] != (int32_t)s->columns[i].type) {
            free(info), free(mean), free(std);
            return loom_error_set(err, LOOM_ERR_FORMAT, "prep: column %d type", i);
        }
        info[i] = (struct loom_prep_column_info){(enum loom_col_type)v[0], v[1], v[2], v[3]};
        memcpy(&mean[i], r + sizeof v, sizeof(double));
        memcpy(&std[i], r + sizeof v + sizeof(double), sizeof(double));
    }
    *out = fx_prep(s, info, mean, std);
    free(info), free(mean), free(std);
    return LOOM_OK;
}

void loom_prep_free(struct loom_prep **p)
{
    if (!p || !*p) return;
    struct loom_prep *q = *p;
    for (int i = 0; i < q->ncols; i++) {
        for (int k = 0; q->labels[i] && k < q->info[i].cardinality; k++) free(q->labels[i][k]);
        free(q->labels[i]);
    }
    free(q->info), free(q->mean), free(q->std), free(q->log1p), free(q->labels);
    free(q);
    *p = NULL;
}
