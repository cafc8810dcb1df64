/*
 * batch.h — one batch of rows, column by column, in the form the encoders
 * (modules/) and the output heads (fusion/) take it: plain arrays, already
 * preprocessed with the fitted state of prep.h. A batcher (batcher.h) fills
 * it from a dataset; the C API fills it from rows given by a caller. Nothing
 * here knows CSV, JPEG or YAML.
 *
 * cols is indexed like schema->columns. Which fields a column uses depends
 * on its type; the others are NULL / 0:
 *
 *   type      width            x (n,width)          ids (n,width)   other
 *   number    1                normalised value     -               present
 *   binary    1                0 or 1               -               present
 *   date      LOOM_DATE_NFEAT  normalised parts     -               present
 *   set       labels L         multi-hot 0/1        -               present
 *   vector    dimension D      the vector           -               present
 *   category  1                -                    code            -
 *   text      T (max tokens+1) -                    token ids, 0=pad lengths
 *   images    -                -                    -               size, count, pixels, offsets
 *   id        -                (not a feature: the batch's rows[] identify rows)
 *
 * present (n) is 1 where the value was there and 0 where it was missing: an
 * input's "was missing" signal, and an output's target mask (a row whose
 * target is missing does not count in that output's loss or metrics).
 * Missing inputs already hold their fill value in x (the training median,
 * say). Category code 0 means missing and 1 unknown (prep.h).
 */
#ifndef LOOM_LOADERS_BATCH_H
#define LOOM_LOADERS_BATCH_H

#include "core/base.h"
#include "date.h"
#include "schemas/schema.h"

#define LOOM_DATE_NFEAT LOOM_DATE_NFEATURES /* date.h: year, month, week, ..., elapsed days */

struct loom_batch_col {
    enum loom_col_type type;
    int width;
    float *x;
    int32_t *ids;
    int32_t *lengths;
    float *present;
    /* images: photo i of the batch is pixels + i*3*size*size, CHW, normalised
     * with the dataset's per-channel mean/std; row r owns photos
     * offsets[r] .. offsets[r+1]-1 (0 photos is fine). */
    int size;
    int64_t count;
    float *pixels;
    int64_t *offsets; /* (n + 1) */
};

struct loom_batch {
    int64_t n;     /* rows */
    int64_t *rows; /* (n): each row's index in its dataset (or in the caller's input) */
    int ncols;
    struct loom_batch_col *cols; /* (ncols), indexed like schema->columns */
};

#endif
