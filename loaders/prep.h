/*
 * prep.h — the fitted preprocessing of every column of a schema: category
 * codes, number statistics, text vocabularies, set labels, vector sizes,
 * date-part statistics and the image normalisation. Fitted on the training
 * split only; saved inside the model file; applied the same way in training,
 * evaluation and serving.
 *
 * A fitted prep is immutable and may be shared by any number of threads.
 */
#ifndef LOOM_LOADERS_PREP_H
#define LOOM_LOADERS_PREP_H

#include "batch.h"

struct loom_prep;

/* What an encoder or a head needs to size itself for column col. */
struct loom_prep_column_info {
    enum loom_col_type type;
    int width;           /* as in batch.h (text: max tokens + 1 for xxbos) */
    int32_t cardinality; /* category: codes incl. missing (0) and unknown (1);
                            text: vocabulary size; set: labels; else 0 */
    int image_size;      /* images: S */
};

LOOM_WUR enum loom_status loom_prep_column(const struct loom_prep *p, int col,
                                           struct loom_prep_column_info *out,
                                           struct loom_error *err);

/* Number of columns (equals the schema's). */
int loom_prep_ncols(const struct loom_prep *p);

/* Turn a model's number prediction back into the column's units (undo the
 * normalisation and log1p). Other types: y unchanged. */
double loom_prep_decode_number(const struct loom_prep *p, int col, double y);

/* The name of category code `code` (or set label `code`) of column col;
 * NULL when out of range. *len gets its length. The reserved category
 * codes have names too: "<missing>" (0) and "<unknown>" (1). */
const char *loom_prep_label(const struct loom_prep *p, int col, int32_t code, size_t *len);

/* Encode one field text[0..len) of column col (len == 0: missing) into one
 * row of batch.h's layout: x (width floats) and *present for number,
 * binary, date, set and vector; ids (width) for category and text, and
 * *length for text (xxbos + tokens; the rest of ids is 0 = pad). Pointers a
 * type does not use may be NULL. A value the column cannot take (a number
 * that does not parse, a bad date, a vector of another dimension, log1p of a
 * negative number) is LOOM_ERR_PARSE, _NUMERIC, _SHAPE or _INVALID with the
 * value in the message (the caller adds the column and the row); nothing is
 * written then. id and images columns are LOOM_ERR_INVALID (the dataset
 * handles them). Thread-safe. */
LOOM_WUR enum loom_status loom_prep_encode(const struct loom_prep *p, int col, const char *text,
                                           size_t len, float *x, float *present, int32_t *ids,
                                           int32_t *length, struct loom_error *err);

/* An images column's photo size S, square fit, and per-channel mean/std in
 * [0,1] units (loom_image_to_chw's). Returns false (nothing written) for any
 * other column. */
bool loom_prep_image(const struct loom_prep *p, int col, int *size, enum loom_image_fit *fit,
                     float mean[3], float std[3]);

/* Serialise (to a byte buffer the caller frees) / load with full
 * validation against the schema (a damaged buffer is an error, never
 * trusted). */
LOOM_WUR enum loom_status loom_prep_save(const struct loom_prep *p, uint8_t **out, size_t *len,
                                         struct loom_error *err);
LOOM_WUR enum loom_status loom_prep_load(const struct loom_schema *s, const void *buf, size_t len,
                                         struct loom_prep **out, struct loom_error *err);
void loom_prep_free(struct loom_prep **p);

#endif
