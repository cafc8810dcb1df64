/*
 * loom.h — the public C API of libloom: open a trained model, build rows
 * from column values and photos, and score them (predictions with class
 * probabilities, embeddings, per-photo attention weights).
 *
 * Conventions (the whole header follows them):
 *  - Every fallible function returns enum loom_status (LOOM_OK == 0) and, on
 *    failure only, fills the caller-owned struct loom_error passed last (which
 *    may be NULL when the caller does not want the detail).
 *  - Output parameters are written only on success.
 *  - The library never exits, never prints and frees all it allocates.
 *    Passing a NULL handle or a bad index to a function that returns a status
 *    gives LOOM_ERR_INVALID, never a crash.
 *  - Strings going in are bytes with an explicit length (UTF-8 for text) or,
 *    where no length is taken, NUL-terminated. Strings coming out are owned by
 *    the object they came from and stay valid as long as it does (each
 *    function says how long).
 *
 * Objects and threads:
 *
 *   loom_model    a trained model, opened from its file. Immutable: any number
 *                 of threads may share one and call every function taking a
 *                 const loom_model * at once. It must outlive everything made
 *                 from it (sessions, rows).
 *   loom_session  a thread's scratch memory for scoring: one per thread (or
 *                 per in-flight request); not thread-safe. After the first
 *                 calls at a given batch shape, loom_predict and loom_embed
 *                 allocate nothing: the memory of the last call is reused.
 *   loom_rows     a batch of rows under construction for one model: values
 *                 are checked and encoded, and photos decoded, as they are
 *                 set. One thread writes it at a time; loom_predict only
 *                 reads it, so several sessions may score the same rows at
 *                 once once it is built.
 *   loom_result   what a loom_predict or loom_embed call returned. Owned by
 *                 the session: valid until the next loom_predict, loom_embed
 *                 or loom_session_free on that session. Copy what you keep.
 *
 * A typical backend:
 *
 *     loom_model *m;                       // once, at start
 *     if (loom_model_open("price.loom", &m, &err)) ...
 *     loom_session *s;                     // once per worker thread
 *     loom_rows *rows;
 *     if (loom_session_new(m, &s, &err) || loom_rows_new(m, &rows, &err)) ...
 *     for (each request) {
 *         loom_rows_clear(rows);
 *         int64_t i;
 *         if (loom_rows_add(rows, &i, &err) ||
 *             loom_rows_set_string(rows, i, "title", title, strlen(title), &err) ||
 *             loom_rows_set_number(rows, i, "year", 2021, &err) ||
 *             loom_rows_add_image(rows, i, "photos", jpeg, jpeg_len, &err)) ...
 *         const loom_result *r;
 *         if (loom_predict(s, rows, &r, &err)) ...
 *         int width;
 *         const double *price = loom_result_values(r, 0, &width);  // (rows, width)
 *     }
 *     loom_rows_free(&rows); loom_session_free(&s); loom_model_close(&m);
 */
#ifndef LOOM_H
#define LOOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_VERSION_MAJOR  0
#define LOOM_VERSION_MINOR  1
#define LOOM_VERSION_PATCH  0
#define LOOM_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */
#define LOOM_VERSION_NUMBER                                                                        \
    (LOOM_VERSION_MAJOR * 10000 + LOOM_VERSION_MINOR * 100 + LOOM_VERSION_PATCH)

#if defined(__GNUC__)
#define LOOM_API __attribute__((visibility("default")))
#define LOOM_WUR __attribute__((warn_unused_result))
#else
#define LOOM_API
#define LOOM_WUR
#endif

/* One status enum for the whole library. Keep loom_strerror in step. */
enum loom_status {
    LOOM_OK = 0,
    LOOM_ERR_INVALID,     /* a bad argument from the caller */
    LOOM_ERR_NOMEM,       /* an allocation failed */
    LOOM_ERR_IO,          /* a file could not be read or written (errno in message) */
    LOOM_ERR_PARSE,       /* malformed text input (YAML, CSV, JSON): line and column set */
    LOOM_ERR_SCHEMA,      /* a well-formed schema that says something invalid */
    LOOM_ERR_FORMAT,      /* a damaged or unsupported binary file (model, image, cache) */
    LOOM_ERR_SHAPE,       /* tensor shapes that do not fit together */
    LOOM_ERR_UNSUPPORTED, /* valid, but not something loom can do */
    LOOM_ERR_LIMIT,       /* a configured limit was exceeded (size, count, pixels) */
    LOOM_ERR_NUMERIC,     /* NaN or Inf where a finite number is required */
    LOOM_ERR_BACKEND,     /* oneDNN, OpenBLAS or another library failed */
    LOOM_ERR_INTERNAL,    /* a bug in loom */
    LOOM_STATUS_COUNT
};

/* Detail of a failure. file/line/column name the place in the user's input
 * (schema, CSV, ...) when there is one: line and column are 1-based, 0 when
 * unknown; file is "" when unknown. */
struct loom_error {
    enum loom_status code;
    int line;
    int column;
    char file[256];
    char message[512];
};

/* A short constant English description of a status; never NULL. Thread-safe. */
LOOM_API const char *loom_strerror(enum loom_status status);

/* The runtime version as "MAJOR.MINOR.PATCH" (LOOM_VERSION_STRING of the
 * library actually loaded); a static string. Thread-safe. */
LOOM_API const char *loom_version(void);

/* ---- handles ----------------------------------------------------------------------- */

typedef struct loom_model loom_model;
typedef struct loom_session loom_session;
typedef struct loom_rowset loom_rows;
typedef struct loom_result loom_result;

/* The type of a column, as its schema declares it. */
enum loom_type {
    LOOM_TYPE_ID,       /* identifies a row; never a feature */
    LOOM_TYPE_NUMBER,   /* a real number */
    LOOM_TYPE_BINARY,   /* 0/1, true/false, yes/no */
    LOOM_TYPE_CATEGORY, /* one label among many */
    LOOM_TYPE_DATE,     /* ISO 8601 date, with or without time */
    LOOM_TYPE_TEXT,     /* free text */
    LOOM_TYPE_IMAGES,   /* a bag of photos */
    LOOM_TYPE_SET,      /* labels separated by a separator */
    LOOM_TYPE_VECTOR,   /* numbers separated by a separator */
    LOOM_TYPE_COUNT
};

/* The schema's name of a type ("number", "images", ...); never NULL. */
LOOM_API const char *loom_type_name(enum loom_type type);

/* ---- the model ---------------------------------------------------------------------- */

/* Open the model file at path. The whole file is validated before anything
 * is trusted (every offset, shape and size, the checksum, the schema and the
 * fitted preprocessing): a damaged or foreign file is LOOM_ERR_FORMAT (or
 * _IO, _NOMEM, _SCHEMA), never a crash. On success *out owns the model;
 * close it with loom_model_close. Thread-safe (distinct outputs). */
LOOM_API LOOM_WUR enum loom_status loom_model_open(const char *path, loom_model **out,
                                                   struct loom_error *err);

/* Free the model and set *model to NULL. Accepts NULL and *model == NULL.
 * Every session and rows made from it must be freed first. */
LOOM_API void loom_model_close(loom_model **model);

/* An input of the model: a column the caller gives values for. Strings are
 * owned by the model. */
struct loom_input_info {
    const char *name;    /* the column's name */
    enum loom_type type; /* never ID or an output */
    int width;           /* text: tokens kept (+1); set: labels known; vector:
                            its dimension; images: the photo side in pixels;
                            else 1 */
    int max_photos;      /* images: photos per row the model looks at (the first
                            ones that decode); 0 for other types */
    char separator;      /* images, set, vector: the separator of the training
                            CSV's field (set and vector strings given to
                            loom_rows_set_string use it too); else 0 */
};

/* An output of the model: what loom_predict returns for it. */
struct loom_output_info {
    const char *name;    /* the target column's name (owned by the model) */
    enum loom_type type; /* NUMBER, BINARY, CATEGORY, SET or VECTOR */
    int width;           /* values per row in loom_result_values: number 1,
                            binary 1, category and set the number of labels,
                            vector its dimension */
};

/* Inputs, in the schema's column order (id and output columns left out). */
LOOM_API int loom_model_input_count(const loom_model *model);
/* Input i (0 <= i < count) into *out; LOOM_ERR_INVALID for a bad index or
 * NULL argument. Thread-safe. */
LOOM_API LOOM_WUR enum loom_status loom_model_input(const loom_model *model, int i,
                                                    struct loom_input_info *out);
/* Outputs, in the schema's order: the j of loom_result_values. */
LOOM_API int loom_model_output_count(const loom_model *model);
LOOM_API LOOM_WUR enum loom_status loom_model_output(const loom_model *model, int j,
                                                     struct loom_output_info *out);
/* The name of label k (0 <= k < width) of category or set output j, as
 * seen in the training data: NUL-terminated, its length in bytes in *len
 * (may be NULL; a label with an inner NUL byte is only whole with it). NULL
 * for another type or a bad index. Owned by the model. Thread-safe. */
LOOM_API const char *loom_model_output_label(const loom_model *model, int j, int k, size_t *len);
/* F: the width of the embedding loom_embed returns (0 for NULL). */
LOOM_API int loom_model_embedding_width(const loom_model *model);

/* ---- rows --------------------------------------------------------------------------- */

/* A new, empty batch of rows for model (which must outlive it). Free with
 * loom_rows_free. */
LOOM_API LOOM_WUR enum loom_status loom_rows_new(const loom_model *model, loom_rows **out,
                                                 struct loom_error *err);
/* Free everything and set *rows to NULL. Accepts NULL and *rows == NULL. */
LOOM_API void loom_rows_free(loom_rows **rows);
/* Remove every row, photo and warning; the memory is kept for the next batch
 * (so a reused rows object stops allocating once it has seen its largest
 * batch). Accepts NULL. */
LOOM_API void loom_rows_clear(loom_rows *rows);
/* Rows added so far (0 for NULL). */
LOOM_API int64_t loom_rows_count(const loom_rows *rows);

/* Limits on what a rows object accepts; loom_rows_set_limit changes one. */
enum loom_limit {
    LOOM_LIMIT_ROWS,         /* rows (default 1,000,000): loom_rows_add fails past it */
    LOOM_LIMIT_PHOTOS,       /* photos added per row and column (default 1000):
                                loom_rows_add_image* fails past it */
    LOOM_LIMIT_VALUE_BYTES,  /* bytes of one string value (default 1 MiB) */
    LOOM_LIMIT_IMAGE_BYTES,  /* encoded bytes of one photo (default 64 MiB) */
    LOOM_LIMIT_IMAGE_SIDE,   /* width and height of one photo, each (default 16384) */
    LOOM_LIMIT_IMAGE_PIXELS, /* width x height of one photo (default 64 M): checked
                                from the header, before any pixel is decoded */
    LOOM_LIMIT_COUNT
};
/* Set limit `which` to value (>= 1); it applies to what is added from then
 * on. LOOM_ERR_INVALID for an unknown limit or 0. */
LOOM_API LOOM_WUR enum loom_status loom_rows_set_limit(loom_rows *rows, enum loom_limit which,
                                                       uint64_t value, struct loom_error *err);

/* Append a row whose every input is missing (what a training row with empty
 * fields would be: fill values, "missing" flags, no text, no photo); its
 * index goes to *index (may be NULL). LOOM_ERR_LIMIT past LOOM_LIMIT_ROWS. */
LOOM_API LOOM_WUR enum loom_status loom_rows_add(loom_rows *rows, int64_t *index,
                                                 struct loom_error *err);

/* Set input `column` (its name, NUL-terminated) of row `row` from the text
 * value[0..len): parsed as the training CSV's field would be (len 0 or only
 * blanks: missing). Works for number, binary, category, date, text, set and
 * vector inputs; a category label never seen in training is fine (the
 * "unknown" code). A value of an id column is accepted and ignored.
 * Errors, all LOOM_ERR_INVALID with the row and column in the message unless
 * said otherwise: no such column, an output column, an images column (add
 * photos instead), a row index out of range, text that is not UTF-8, a value
 * the column cannot take ("abc" for a number, a bad date, a vector of
 * another dimension); LOOM_ERR_LIMIT past LOOM_LIMIT_VALUE_BYTES. On failure
 * the row keeps its previous value. */
LOOM_API LOOM_WUR enum loom_status loom_rows_set_string(loom_rows *rows, int64_t row,
                                                        const char *column, const char *value,
                                                        size_t len, struct loom_error *err);
/* The same from a number (formatted exactly, then read as above): numbers,
 * binary 0/1, numeric category labels. NaN and infinities are
 * LOOM_ERR_INVALID; to say "missing", set the empty string. */
LOOM_API LOOM_WUR enum loom_status loom_rows_set_number(loom_rows *rows, int64_t row,
                                                        const char *column, double value,
                                                        struct loom_error *err);

/* Add a photo, given as the encoded bytes of a JPEG or PNG file, to images
 * input `column` of row `row`. It is decoded and resized at once with the
 * model's image settings and the rows' limits; the caller keeps its bytes.
 * A photo that cannot be used (corrupt, truncated, not JPEG/PNG, over a
 * pixel or byte limit) does not fail: it is dropped from the row's bag, as
 * in training, and a warning records it (loom_rows_warning) — the call
 * returns LOOM_OK. Photos past the model's max_photos good ones are not
 * decoded (the model would not look at them). Errors: LOOM_ERR_INVALID (no
 * such images column, bad row, NULL bytes with len > 0), LOOM_ERR_LIMIT
 * (more than LOOM_LIMIT_PHOTOS photos in the row's column), _NOMEM. */
LOOM_API LOOM_WUR enum loom_status loom_rows_add_image(loom_rows *rows, int64_t row,
                                                       const char *column, const void *bytes,
                                                       size_t len, struct loom_error *err);
/* The same for a photo file. The path is opened as given: the caller vouches
 * for it (a server must confine request paths to a root itself). A missing
 * or unreadable file is a dropped photo with a warning, like a corrupt one. */
LOOM_API LOOM_WUR enum loom_status loom_rows_add_image_path(loom_rows *rows, int64_t row,
                                                            const char *column, const char *path,
                                                            struct loom_error *err);

/* A photo that was dropped. */
struct loom_warning {
    int64_t row;
    const char *column;    /* the images column (owned by the model) */
    int photo;             /* the photo's index in that row's column, counting every
                              photo added to it (kept or not) from 0 */
    enum loom_status code; /* why: LOOM_ERR_FORMAT, _UNSUPPORTED, _LIMIT, _IO, ... */
    const char *message;   /* owned by rows: valid until rows is next changed */
};
/* Warnings recorded since the last clear, in the order they happened. */
LOOM_API int64_t loom_rows_warning_count(const loom_rows *rows);
/* Warning k (0 <= k < count) into *out; LOOM_ERR_INVALID for a bad index. */
LOOM_API LOOM_WUR enum loom_status loom_rows_warning(const loom_rows *rows, int64_t k,
                                                     struct loom_warning *out);

/* ---- sessions and scoring ----------------------------------------------------------- */

/* A new session for model (which must outlive it). Free with
 * loom_session_free. Thread-safe (distinct outputs). */
LOOM_API LOOM_WUR enum loom_status loom_session_new(const loom_model *model, loom_session **out,
                                                    struct loom_error *err);
/* Free the session (and its last result) and set *s to NULL. Accepts NULL
 * and *s == NULL. */
LOOM_API void loom_session_free(loom_session **s);
/* Threads the session's calls may use for one batch (OpenMP, OpenBLAS,
 * oneDNN): n >= 1, or 0 (the default) for the process's setting
 * (OMP_NUM_THREADS, else every core). A server that scores requests on
 * several threads at once wants 1 here. Whatever the setting, a call on at
 * most 4 rows without any photo runs on one thread (measured faster: its
 * work is too small to split). */
LOOM_API void loom_session_set_threads(loom_session *s, int n);

/* Score every row of rows (made for the session's model): the model's
 * outputs, the embedding, and per-photo attention weights where the model
 * pools photos by attention. On success *out points at the result, owned by
 * the session (see loom_result above). Rows are only read. A batch of 0
 * rows gives an empty result. Errors: LOOM_ERR_INVALID (NULL arguments,
 * rows of another model), _NOMEM, _BACKEND. */
LOOM_API LOOM_WUR enum loom_status loom_predict(loom_session *s, const loom_rows *rows,
                                                const loom_result **out, struct loom_error *err);
/* The same without decoding the outputs: embeddings (and attention) only;
 * loom_result_output_count is then 0. */
LOOM_API LOOM_WUR enum loom_status loom_embed(loom_session *s, const loom_rows *rows,
                                              const loom_result **out, struct loom_error *err);

/* ---- results (all pointers owned by the session; see loom_result) ------------------- */

/* Rows scored (0 for NULL). */
LOOM_API int64_t loom_result_rows(const loom_result *r);
/* The model's outputs after loom_predict; 0 after loom_embed. */
LOOM_API int loom_result_output_count(const loom_result *r);
/* The values of output j: rows x width doubles, row-major, width in *width
 * (may be NULL):
 *   number    the predicted value, in the column's own units
 *   binary    P(1)
 *   category  the probability of each label (loom_model_output_label names
 *             label k), summing to 1
 *   set       P(label) for each label, independently (chosen: P > 0.5)
 *   vector    the predicted vector
 * NULL for a bad j (and after loom_embed). */
LOOM_API const double *loom_result_values(const loom_result *r, int j, int *width);
/* The predicted label of row `row` for output j: category the index k of the
 * most probable label; binary 1 when P(1) > 0.5, else 0. -1 for other types
 * and bad indices. */
LOOM_API int32_t loom_result_label(const loom_result *r, int j, int64_t row);
/* The embeddings: rows x F floats, row-major (F in *width, may be NULL):
 * the fusion network's last layer, the vector to compare listings with. */
LOOM_API const float *loom_result_embedding(const loom_result *r, int *width);
/* The attention weights of row `row`'s photos in images input `column`: one
 * float per photo added to it, in the order added (*count gets how many);
 * the kept photos' weights sum to 1; a dropped photo, or one past
 * max_photos, has 0. NULL (and *count 0) when the column is not pooled by
 * attention, for a bad row or column, and when the row has no photo there. */
LOOM_API const float *loom_result_attention(const loom_result *r, int64_t row, const char *column,
                                            int *count);

#ifdef __cplusplus
}
#endif
#endif
