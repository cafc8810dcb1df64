/*
 * prep_internal.h — the fitted prep's representation, shared by prep.c
 * (use, save, load) and prep_fit.c (fitting). Private to loaders/.
 */
#ifndef LOOM_LOADERS_PREP_INTERNAL_H
#define LOOM_LOADERS_PREP_INTERNAL_H

#include "columns.h"
#include "date.h"
#include "prep.h"
#include "vocab.h"

#define LOOM_PREP_NO_SHARE (-1)

struct prep_col {
    enum loom_col_type type;
    int width;
    struct loom_number *num;
    struct loom_category *cat;
    struct loom_set *set;
    struct loom_vector *vec;
    struct loom_vocab *vocab; /* owned when share == LOOM_PREP_NO_SHARE */
    int share;                /* text: the column whose vocabulary this one uses */
    int max_tokens;
    struct loom_tokenize_opts tok;
    double dmean[LOOM_DATE_NFEAT], dstd[LOOM_DATE_NFEAT];
    int image_size;
    enum loom_image_fit fit;
    float imean[3], istd[3];
};

struct loom_prep {
    int ncols;
    struct prep_col *c;
};

/* A prep with every column's type, width and fixed settings from s, and no
 * fitted encoder yet; NULL when out of memory. */
struct loom_prep *loom_prep_alloc(const struct loom_schema *s);

#endif
