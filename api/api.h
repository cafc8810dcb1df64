/*
 * api.h — the insides of the public handles of include/loom.h (private to
 * api/). The public loom_model is fusion's struct loom_model itself: an
 * opened model is immutable (fusion/model.h, thread safety), so the API
 * adds nothing to it; what a caller builds (rows) and what a thread scores
 * with (session, result) are defined here.
 *
 * Rows hold each column already encoded in batch.h's layout (so a bad value
 * is reported when it is set, naming its row and column), and each photo
 * decoded to the model's S×S 8-bit RGB square. loom_predict points a batch
 * at those arrays, converts the photos to normalised CHW floats in the
 * session's arena in row order, runs the forward pass and decodes the heads
 * into the arena: the result lives there until the next call.
 */
#ifndef LOOM_API_API_H
#define LOOM_API_API_H

#include "core/tensor.h"
#include "fusion/model.h"
#include "loaders/image.h"

/* One column of the model (every schema column has one; only inputs hold
 * values). */
struct rcol {
    enum loom_col_type type;
    bool input;
    int width; /* x or ids values per row (batch.h) */
    float *x;  /* (cap, width) when the type uses x */
    float *present;
    int32_t *ids; /* (cap, width) for category and text */
    int32_t *lengths;
    /* the encoding of a missing value, copied into every new row */
    float *miss_x;
    float miss_present;
    int32_t *miss_ids;
    int32_t miss_length;
    /* images */
    int img;        /* index among the images columns, or -1 */
    int size;       /* S */
    int max_images; /* good photos kept per row (INT32_MAX: all) */
    struct loom_image_opts opts;
    float mean[3], std[3];
    char separator;
};

/* A photo as added: decoded into slot (S*S*3 bytes at pix + slot_off) or
 * dropped. */
struct rphoto {
    int64_t row;
    int col;         /* schema column */
    int index;       /* among the photos added to (row, col), from 0 */
    int kept;        /* position among the kept photos of (row, col), or -1 */
    size_t slot_off; /* in rows->pix when kept */
};

struct rwarning {
    int64_t row;
    int col, photo;
    enum loom_status code;
    size_t msg_off; /* in rows->msgs */
};

struct loom_rowset {
    const struct loom_model *m;
    int ncols, nimg;
    struct rcol *cols; /* (ncols) */
    int64_t n, cap;
    int64_t *ids;   /* (cap): 0, 1, ... (the batch's rows[]) */
    int32_t *added; /* (cap, nimg): photos added per row and images column */
    int32_t *kept;  /* (cap, nimg): of which kept */
    uint64_t limit[LOOM_LIMIT_COUNT];
    struct rphoto *photos;
    int64_t nphotos, cap_photos;
    uint8_t *pix;
    size_t pix_len, pix_cap;
    struct rwarning *warn;
    int64_t nwarn, cap_warn;
    char *msgs;
    size_t msgs_len, msgs_cap;
};

/* Per images column: the weights of the photos as added, row by row. */
struct rattention {
    float *w;     /* (photos added to the column) */
    int64_t *off; /* (n + 1) */
};

struct loom_result {
    int64_t n;
    int nout;        /* 0 after loom_embed */
    int *width;      /* (nheads) */
    double **values; /* (nheads): (n, width) */
    int32_t **label; /* (nheads): (n) for category and binary, else NULL */
    const float *embedding;
    int F;
    struct rattention *att; /* (ncols): w NULL where none */
    const struct loom_model *m;
};

struct loom_session {
    const struct loom_model *m;
    struct loom_ctx c;
    struct loom_batch b;
    struct loom_batch_col *cols; /* (ncols) */
    struct loom_result r;
    const struct loom_rowset *rows; /* of the call in progress */
    int threads;
};

/* The column named name (NUL-terminated) or -1. */
int loom_api_column(const struct loom_model *m, const char *name);

#endif
