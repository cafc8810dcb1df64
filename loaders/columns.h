/*
 * columns.h — fitted encoders for tabular columns: category codes, number
 * normalisation with missing-value fill, binary flags, label sets (multi-hot)
 * and fixed-size number vectors.
 *
 * Life of an encoder: _new with its options; _fit once per training value
 * (streaming, in any order); _finish, which freezes the fitted state; then
 * _encode, any number of times, from any number of threads (a finished
 * encoder is immutable). _save writes the fitted state to a byte buffer
 * (blob.h), _load rebuilds a finished encoder from one, validating it all.
 * _free releases and NULLs the handle (NULL accepted).
 *
 * Values are field text (not NUL-terminated). A missing value is an empty
 * field: len == 0 (text may then be NULL); for numbers, binaries and vectors
 * a field of only spaces and tabs is missing too. Turning "NA" or "null"
 * into missing is the caller's business (a schema option), not guessed here.
 * Every per-value error names the value in the message; the caller adds the
 * column and the row.
 */
#ifndef LOOM_LOADERS_COLUMNS_H
#define LOOM_LOADERS_COLUMNS_H

#include "core/base.h"

/* ---- categories -> codes -------------------------------------------------- */

enum {
    LOOM_CATEGORY_MISSING = 0,   /* an empty field */
    LOOM_CATEGORY_UNKNOWN = 1,   /* unseen in training, or rarer than min_count */
    LOOM_CATEGORY_NRESERVED = 2, /* learned categories take codes 2.. by frequency */
};

struct loom_category;

/* min_count >= 1; max_categories: how many learned categories to keep at most
 * (0: all), besides the two reserved codes. */
LOOM_WUR enum loom_status loom_category_new(int64_t min_count, size_t max_categories,
                                            struct loom_category **out, struct loom_error *err);
/* LOOM_ERR_LIMIT for a value over 1 MiB (so that every fitted value can be
 * saved and loaded back). */
LOOM_WUR enum loom_status loom_category_fit(struct loom_category *c, const char *value, size_t len,
                                            struct loom_error *err);
/* Codes: most frequent first, ties in byte order (independent of row order). */
LOOM_WUR enum loom_status loom_category_finish(struct loom_category *c, struct loom_error *err);
/* The code of a value (0 missing, 1 unknown, 2.. learned). Finished only. */
int32_t loom_category_encode(const struct loom_category *c, const char *value, size_t len);
/* K, the number of codes, reserved ones included. Finished only. */
int32_t loom_category_count(const struct loom_category *c);
/* The text of a learned code (>= 2), or NULL. */
const char *loom_category_name(const struct loom_category *c, int32_t code, size_t *len);
LOOM_WUR enum loom_status loom_category_save(const struct loom_category *c, uint8_t **out,
                                             size_t *out_len, struct loom_error *err);
LOOM_WUR enum loom_status loom_category_load(const void *buf, size_t len,
                                             struct loom_category **out, struct loom_error *err);
void loom_category_free(struct loom_category **c);

/* ---- numbers -> (x - mean) / std, plus a "was missing" flag ------------------ */

enum loom_fill {
    LOOM_FILL_MEDIAN, /* the training median (of the transformed values) */
    LOOM_FILL_MEAN,   /* the training mean: 0 after normalisation */
    LOOM_FILL_ZERO,   /* the value 0 (log1p(0) = 0 too) */
};

struct loom_number_opts {
    bool log1p;          /* x -> log1p(x) before everything; negative x is an error */
    enum loom_fill fill; /* default LOOM_FILL_MEDIAN */
};

/* The fitted statistics, in the transformed space. std is the population
 * standard deviation, replaced by 1 when it is 0 (a constant column). */
struct loom_number_stats {
    double mean, std, fill;
    int64_t count;   /* training values seen */
    int64_t missing; /* training values missing */
};

struct loom_number;

LOOM_WUR enum loom_status loom_number_new(const struct loom_number_opts *o,
                                          struct loom_number **out, struct loom_error *err);
/* Parse (plain decimal: sign, digits, '.', exponent; no locale, no "nan",
 * no thousands separators) and count one training value. */
LOOM_WUR enum loom_status loom_number_fit(struct loom_number *n, const char *text, size_t len,
                                          struct loom_error *err);
/* The same for a value already parsed; NaN means missing. */
LOOM_WUR enum loom_status loom_number_fit_value(struct loom_number *n, double x,
                                                struct loom_error *err);
/* Mean, std and the fill value. The median is exact: the transformed
 * training values are kept (8 bytes per row) until finish, which sorts them
 * and frees them. A column with no value at all fits mean 0, std 1, fill 0. */
LOOM_WUR enum loom_status loom_number_finish(struct loom_number *n, struct loom_error *err);
/* out[0] = (t(x) - mean) / std, with x the fill when missing; out[1] = 1 when
 * missing, else 0. out is written only on success. Finished only. */
LOOM_WUR enum loom_status loom_number_encode(const struct loom_number *n, const char *text,
                                             size_t len, float out[2], struct loom_error *err);
LOOM_WUR enum loom_status loom_number_encode_value(const struct loom_number *n, double x,
                                                   float out[2], struct loom_error *err);
/* The inverse for predictions: y * std + mean, then expm1 when log1p. */
double loom_number_decode(const struct loom_number *n, double y);
struct loom_number_stats loom_number_stats(const struct loom_number *n);
LOOM_WUR enum loom_status loom_number_save(const struct loom_number *n, uint8_t **out,
                                           size_t *out_len, struct loom_error *err);
LOOM_WUR enum loom_status loom_number_load(const void *buf, size_t len, struct loom_number **out,
                                           struct loom_error *err);
void loom_number_free(struct loom_number **n);

/* ---- binary ----------------------------------------------------------------- */

/* 1 for 1/true/yes/y/t, 0 for 0/false/no/n/f (any case, blanks around
 * ignored), -1 for a missing value; LOOM_ERR_PARSE naming anything else.
 * Nothing to fit. *out is written only on success. */
LOOM_WUR enum loom_status loom_binary_parse(const char *text, size_t len, int *out,
                                            struct loom_error *err);

/* ---- label sets -> multi-hot ------------------------------------------------- */

#define LOOM_SEPARATOR_MAX 8 /* bytes */

struct loom_set;

/* sep: 1..LOOM_SEPARATOR_MAX bytes. Labels are trimmed of spaces and tabs;
 * empty labels are skipped; a missing field is the empty set. min_count >= 1
 * (counted in occurrences); max_labels: how many labels to keep at most (0: all). */
LOOM_WUR enum loom_status loom_set_new(const char *sep, int64_t min_count, size_t max_labels,
                                       struct loom_set **out, struct loom_error *err);
LOOM_WUR enum loom_status loom_set_fit(struct loom_set *s, const char *text, size_t len,
                                       struct loom_error *err);
/* Labels: most frequent first, ties in byte order. */
LOOM_WUR enum loom_status loom_set_finish(struct loom_set *s, struct loom_error *err);
/* K, the number of labels (the multi-hot width). Finished only. */
int32_t loom_set_size(const struct loom_set *s);
const char *loom_set_label(const struct loom_set *s, int32_t i, size_t *len);
/* out[0..K) = 1 for each label present, else 0; labels not in the fitted set
 * are ignored and counted in *unknown (may be NULL). Never fails on content. */
LOOM_WUR enum loom_status loom_set_encode(const struct loom_set *s, const char *text, size_t len,
                                          float *out, int32_t *unknown, struct loom_error *err);
LOOM_WUR enum loom_status loom_set_save(const struct loom_set *s, uint8_t **out, size_t *out_len,
                                        struct loom_error *err);
LOOM_WUR enum loom_status loom_set_load(const void *buf, size_t len, struct loom_set **out,
                                        struct loom_error *err);
void loom_set_free(struct loom_set **s);

/* ---- number vectors ------------------------------------------------------------ */

#define LOOM_VECTOR_MAX_DIM 65536

struct loom_vector;

/* sep: 1..LOOM_SEPARATOR_MAX bytes. Elements are trimmed of spaces and tabs;
 * one pair of brackets around the whole ("[1, 2]") is accepted; when sep is
 * all blanks, runs of it count as one ("0.1  0.2"). */
LOOM_WUR enum loom_status loom_vector_new(const char *sep, struct loom_vector **out,
                                          struct loom_error *err);
/* The first non-missing value fixes the dimension; a later one of another
 * dimension is LOOM_ERR_SHAPE naming both. Missing values are skipped. */
LOOM_WUR enum loom_status loom_vector_fit(struct loom_vector *v, const char *text, size_t len,
                                          struct loom_error *err);
/* LOOM_ERR_INVALID when no value was seen. */
LOOM_WUR enum loom_status loom_vector_finish(struct loom_vector *v, struct loom_error *err);
int32_t loom_vector_dim(const struct loom_vector *v);
/* out[0..dim): the numbers; all 0 when missing. LOOM_ERR_SHAPE for another
 * dimension, LOOM_ERR_PARSE for an element that is not a number. out is
 * written only on success. */
LOOM_WUR enum loom_status loom_vector_encode(const struct loom_vector *v, const char *text,
                                             size_t len, float *out, struct loom_error *err);
LOOM_WUR enum loom_status loom_vector_save(const struct loom_vector *v, uint8_t **out,
                                           size_t *out_len, struct loom_error *err);
LOOM_WUR enum loom_status loom_vector_load(const void *buf, size_t len, struct loom_vector **out,
                                           struct loom_error *err);
void loom_vector_free(struct loom_vector **v);

#endif
