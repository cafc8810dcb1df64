/*
 * rows.c — the row builder of include/loom.h. Values are encoded with the
 * model's fitted preprocessing the moment they are set (loom_prep_encode:
 * the same function the training data went through), so a bad value is
 * reported with its row and column at once, and loom_predict only points a
 * batch at the arrays. Photos are decoded to the model's S×S 8-bit square
 * as they are added; a photo that cannot be used is dropped from its bag
 * with a warning, as a bad photo is in training.
 *
 * Memory grows by doubling and is kept by loom_rows_clear, so a rows object
 * reused for batches of the same size stops allocating (libjpeg and libpng
 * still allocate their decoders per photo).
 */
#include <math.h>
#include <string.h>

#include "api.h"
#include "loaders/text.h"

static const uint64_t limit_default[LOOM_LIMIT_COUNT] = {
    [LOOM_LIMIT_ROWS] = 1000000,         [LOOM_LIMIT_PHOTOS] = 1000,
    [LOOM_LIMIT_VALUE_BYTES] = 1u << 20, [LOOM_LIMIT_IMAGE_BYTES] = 64u << 20,
    [LOOM_LIMIT_IMAGE_SIDE] = 16384,     [LOOM_LIMIT_IMAGE_PIXELS] = 64u << 20,
};

static bool uses_x(enum loom_col_type t)
{
    return t == LOOM_COL_NUMBER || t == LOOM_COL_BINARY || t == LOOM_COL_DATE ||
           t == LOOM_COL_SET || t == LOOM_COL_VECTOR;
}

static bool uses_ids(enum loom_col_type t)
{
    return t == LOOM_COL_CATEGORY || t == LOOM_COL_TEXT;
}

/* Resize *p to n elements of size bytes; false (p untouched) on failure. */
static bool resize(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (!loom_mul_size(n ? n : 1, size, &bytes)) return false;
    void *q = realloc(*(void **)p, bytes);
    if (!q) return false;
    *(void **)p = q;
    return true;
}

/* Room for `more` elements past *len in an array of capacity *cap. */
static bool reserve(void *p, size_t size, int64_t len, int64_t more, int64_t *cap)
{
    if (len + more <= *cap) return true;
    int64_t c = *cap ? *cap : 16;
    while (c < len + more) c *= 2;
    if (!resize(p, (size_t)c, size)) return false;
    *cap = c;
    return true;
}

static void free_cols(struct loom_rowset *r)
{
    for (int i = 0; r->cols && i < r->ncols; i++) {
        struct rcol *c = &r->cols[i];
        free(c->x), free(c->present), free(c->ids), free(c->lengths);
        free(c->miss_x), free(c->miss_ids);
    }
    free(r->cols);
}

void loom_rows_free(loom_rows **rows)
{
    if (!rows || !*rows) return;
    struct loom_rowset *r = *rows;
    free_cols(r);
    free(r->ids), free(r->added), free(r->kept);
    free(r->photos), free(r->pix), free(r->warn), free(r->msgs);
    free(r);
    *rows = NULL;
}

/* Column c's width and its encoding of a missing value. */
static enum loom_status init_col(struct loom_rowset *r, int c, struct loom_error *err)
{
    const struct loom_model *m = r->m;
    const struct loom_schema_column *sc = &m->schema.columns[c];
    struct rcol *col = &r->cols[c];
    col->type = sc->type;
    col->img = -1;
    col->input = sc->branch >= 0 && sc->type != LOOM_COL_ID;
    if (!col->input) return LOOM_OK;
    struct loom_prep_column_info info;
    enum loom_status st = loom_prep_column(m->prep, c, &info, err);
    if (st) return st;
    col->width = info.width;
    if (sc->type == LOOM_COL_IMAGES) {
        col->img = r->nimg++;
        col->size = m->schema.branches[sc->branch].cnn.image_size;
        col->max_images = sc->images.max_images > 0 ? sc->images.max_images : INT32_MAX;
        col->opts = loom_image_opts_default();
        col->opts.size = col->size;
        if (!loom_prep_image(m->prep, c, NULL, &col->opts.fit, col->mean, col->std))
            return loom_error_set(err, LOOM_ERR_INTERNAL, "column '%s': no image settings",
                                  sc->name);
        return LOOM_OK;
    }
    if (col->width < 1)
        return loom_error_set(err, LOOM_ERR_INTERNAL, "column '%s': width %d", sc->name,
                              col->width);
    if (uses_x(sc->type) && !(col->miss_x = calloc((size_t)col->width, sizeof(float))))
        return loom_error_set(err, LOOM_ERR_NOMEM, "rows: out of memory");
    if (uses_ids(sc->type) && !(col->miss_ids = calloc((size_t)col->width, sizeof(int32_t))))
        return loom_error_set(err, LOOM_ERR_NOMEM, "rows: out of memory");
    return loom_prep_encode(m->prep, c, "", 0, col->miss_x, &col->miss_present, col->miss_ids,
                            &col->miss_length, err);
}

enum loom_status loom_rows_new(const loom_model *model, loom_rows **out, struct loom_error *err)
{
    if (!model || !out)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_rows_new: NULL argument");
    struct loom_rowset *r = calloc(1, sizeof *r);
    if (!r) return loom_error_set(err, LOOM_ERR_NOMEM, "rows: out of memory");
    r->m = model;
    r->ncols = model->schema.ncolumns;
    memcpy(r->limit, limit_default, sizeof r->limit);
    enum loom_status st = LOOM_OK;
    if (!(r->cols = calloc((size_t)r->ncols, sizeof *r->cols)))
        st = loom_error_set(err, LOOM_ERR_NOMEM, "rows: out of memory");
    for (int c = 0; c < r->ncols && !st; c++) st = init_col(r, c, err);
    if (st) {
        loom_rows_free(&r);
        return st;
    }
    *out = r;
    return LOOM_OK;
}

void loom_rows_clear(loom_rows *r)
{
    if (!r) return;
    r->n = r->nphotos = r->nwarn = 0;
    r->pix_len = r->msgs_len = 0;
}

int64_t loom_rows_count(const loom_rows *r)
{
    return r ? r->n : 0;
}

enum loom_status loom_rows_set_limit(loom_rows *r, enum loom_limit which, uint64_t value,
                                     struct loom_error *err)
{
    if (!r || (unsigned)which >= LOOM_LIMIT_COUNT || value < 1)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_rows_set_limit: bad limit %d or value",
                              (int)which);
    r->limit[which] = value;
    if (which == LOOM_LIMIT_IMAGE_SIDE && value > INT32_MAX) r->limit[which] = INT32_MAX;
    return LOOM_OK;
}

/* Room for row n in every array. */
static bool grow_rows(struct loom_rowset *r)
{
    if (r->n < r->cap) return true;
    int64_t cap = r->cap ? 2 * r->cap : 16;
    for (int i = 0; i < r->ncols; i++) {
        struct rcol *c = &r->cols[i];
        if (!c->input || c->img >= 0) continue;
        size_t cells;
        if (!loom_mul_size((size_t)cap, (size_t)c->width, &cells)) return false;
        if (uses_x(c->type) && (!resize(&c->x, cells, sizeof(float)) ||
                                !resize(&c->present, (size_t)cap, sizeof(float))))
            return false;
        if (uses_ids(c->type) && !resize(&c->ids, cells, sizeof(int32_t))) return false;
        if (c->type == LOOM_COL_TEXT && !resize(&c->lengths, (size_t)cap, sizeof(int32_t)))
            return false;
    }
    size_t nimg = (size_t)(r->nimg ? r->nimg : 1);
    if (!resize(&r->ids, (size_t)cap, sizeof(int64_t)) ||
        !resize(&r->added, (size_t)cap * nimg, sizeof(int32_t)) ||
        !resize(&r->kept, (size_t)cap * nimg, sizeof(int32_t)))
        return false;
    r->cap = cap;
    return true;
}

enum loom_status loom_rows_add(loom_rows *r, int64_t *index, struct loom_error *err)
{
    if (!r) return loom_error_set(err, LOOM_ERR_INVALID, "loom_rows_add: NULL rows");
    if ((uint64_t)r->n >= r->limit[LOOM_LIMIT_ROWS])
        return loom_error_set(err, LOOM_ERR_LIMIT, "more than %llu rows",
                              (unsigned long long)r->limit[LOOM_LIMIT_ROWS]);
    if (!grow_rows(r)) return loom_error_set(err, LOOM_ERR_NOMEM, "rows: out of memory");
    int64_t i = r->n;
    for (int k = 0; k < r->ncols; k++) {
        struct rcol *c = &r->cols[k];
        if (!c->input || c->img >= 0) continue;
        size_t w = (size_t)c->width;
        if (c->x) {
            memcpy(c->x + (size_t)i * w, c->miss_x, w * sizeof(float));
            c->present[i] = c->miss_present;
        }
        if (c->ids) memcpy(c->ids + (size_t)i * w, c->miss_ids, w * sizeof(int32_t));
        if (c->lengths) c->lengths[i] = c->miss_length;
    }
    r->ids[i] = i;
    for (int k = 0; k < r->nimg; k++) r->added[i * r->nimg + k] = r->kept[i * r->nimg + k] = 0;
    r->n++;
    if (index) *index = i;
    return LOOM_OK;
}

/* The column of a value: an existing column, row in range; NULL with err
 * set otherwise. */
static struct rcol *target(struct loom_rowset *r, int64_t row, const char *column, int *col,
                           enum loom_status *st, struct loom_error *err)
{
    if (!r || !column) {
        *st = loom_error_set(err, LOOM_ERR_INVALID, "NULL rows or column");
        return NULL;
    }
    int c = loom_api_column(r->m, column);
    if (c < 0) {
        *st = loom_error_set(err, LOOM_ERR_INVALID, "row %lld: the model has no column '%s'",
                             (long long)row, column);
        return NULL;
    }
    if (row < 0 || row >= r->n) {
        *st =
            loom_error_set(err, LOOM_ERR_INVALID, "row %lld, column '%s': no such row (%lld rows)",
                           (long long)row, column, (long long)r->n);
        return NULL;
    }
    *col = c;
    return &r->cols[c];
}

enum loom_status loom_rows_set_string(loom_rows *r, int64_t row, const char *column,
                                      const char *value, size_t len, struct loom_error *err)
{
    enum loom_status st = LOOM_ERR_INVALID;
    int c = -1;
    struct rcol *col = target(r, row, column, &c, &st, err);
    if (!col) return st;
    const struct loom_schema_column *sc = &r->m->schema.columns[c];
    if (!value && len)
        return loom_error_set(err, LOOM_ERR_INVALID, "row %lld, column '%s': NULL value",
                              (long long)row, column);
    if (sc->type == LOOM_COL_ID) return LOOM_OK;
    if (!col->input)
        return loom_error_set(err, LOOM_ERR_INVALID,
                              "row %lld, column '%s': an output of the model, not an input",
                              (long long)row, column);
    if (col->img >= 0)
        return loom_error_set(err, LOOM_ERR_INVALID,
                              "row %lld, column '%s': an images column takes photos, not a string",
                              (long long)row, column);
    if (len > r->limit[LOOM_LIMIT_VALUE_BYTES])
        return loom_error_set(err, LOOM_ERR_LIMIT, "row %lld, column '%s': %zu bytes, over %llu",
                              (long long)row, column, len,
                              (unsigned long long)r->limit[LOOM_LIMIT_VALUE_BYTES]);
    size_t bad = loom_utf8_check(value, len);
    if (bad < len)
        return loom_error_set(err, LOOM_ERR_INVALID, "row %lld, column '%s': not UTF-8 (byte %zu)",
                              (long long)row, column, bad);
    size_t w = (size_t)col->width, i = (size_t)row;
    struct loom_error why;
    st =
        loom_prep_encode(r->m->prep, c, value ? value : "", len, col->x ? col->x + i * w : NULL,
                         col->present ? col->present + i : NULL, col->ids ? col->ids + i * w : NULL,
                         col->lengths ? col->lengths + i : NULL, &why);
    if (st == LOOM_OK) return LOOM_OK;
    if (st != LOOM_ERR_NOMEM && st != LOOM_ERR_LIMIT) st = LOOM_ERR_INVALID;
    return loom_error_set(err, st, "row %lld, column '%s': %s", (long long)row, column,
                          why.message);
}

enum loom_status loom_rows_set_number(loom_rows *r, int64_t row, const char *column, double value,
                                      struct loom_error *err)
{
    if (!isfinite(value))
        return loom_error_set(err, LOOM_ERR_INVALID, "row %lld, column '%s': %g is not finite",
                              (long long)row, column ? column : "(null)", value);
    char buf[40];
    int n = snprintf(buf, sizeof buf, "%.17g", value);
    return loom_rows_set_string(r, row, column, buf, (size_t)n, err);
}

/* ---- photos ------------------------------------------------------------------------- */

static enum loom_status warn(struct loom_rowset *r, int64_t row, int c, int photo,
                             const struct loom_error *why, struct loom_error *err)
{
    size_t n = strlen(why->message) + 1, need;
    if (!loom_add_size(r->msgs_len, n, &need) ||
        !reserve(&r->warn, sizeof *r->warn, r->nwarn, 1, &r->cap_warn))
        return loom_error_set(err, LOOM_ERR_NOMEM, "rows: out of memory");
    if (need > r->msgs_cap) {
        size_t cap = r->msgs_cap ? r->msgs_cap : 1024;
        while (cap < need) cap *= 2;
        if (!resize(&r->msgs, cap, 1))
            return loom_error_set(err, LOOM_ERR_NOMEM, "rows: out of memory");
        r->msgs_cap = cap;
    }
    memcpy(r->msgs + r->msgs_len, why->message, n);
    r->warn[r->nwarn++] = (struct rwarning){row, c, photo, why->code, r->msgs_len};
    r->msgs_len += n;
    return LOOM_OK;
}

/* Decode one photo (bytes, or the file at path when bytes is NULL) into the
 * next slot; a photo that fails to decode is a warning, not an error. */
static enum loom_status add_photo(struct loom_rowset *r, int64_t row, const char *column,
                                  const void *bytes, size_t len, const char *path,
                                  struct loom_error *err)
{
    enum loom_status st = LOOM_ERR_INVALID;
    int c = -1;
    struct rcol *col = target(r, row, column, &c, &st, err);
    if (!col) return st;
    if (col->img < 0)
        return loom_error_set(err, LOOM_ERR_INVALID, "row %lld, column '%s': not an images input",
                              (long long)row, column);
    int32_t *added = &r->added[row * r->nimg + col->img],
            *kept = &r->kept[row * r->nimg + col->img];
    if ((uint64_t)*added >= r->limit[LOOM_LIMIT_PHOTOS])
        return loom_error_set(err, LOOM_ERR_LIMIT, "row %lld, column '%s': more than %llu photos",
                              (long long)row, column,
                              (unsigned long long)r->limit[LOOM_LIMIT_PHOTOS]);
    int index = *added;
    if (*kept >= col->max_images) { /* the model would not look at it */
        (*added)++;
        return LOOM_OK;
    }
    size_t bytes_per = (size_t)col->size * (size_t)col->size * 3, need;
    if (!loom_add_size(r->pix_len, bytes_per, &need) ||
        !reserve(&r->photos, sizeof *r->photos, r->nphotos, 1, &r->cap_photos))
        return loom_error_set(err, LOOM_ERR_NOMEM, "rows: out of memory");
    if (need > r->pix_cap) {
        size_t cap = r->pix_cap ? r->pix_cap : bytes_per * 4;
        while (cap < need) cap *= 2;
        if (!resize(&r->pix, cap, 1))
            return loom_error_set(err, LOOM_ERR_NOMEM, "rows: out of memory for photos");
        r->pix_cap = cap;
    }
    struct loom_image_opts o = col->opts;
    o.max_file_bytes = r->limit[LOOM_LIMIT_IMAGE_BYTES];
    o.max_side = (int)r->limit[LOOM_LIMIT_IMAGE_SIDE];
    o.max_pixels = r->limit[LOOM_LIMIT_IMAGE_PIXELS];
    struct loom_error why = {0};
    uint8_t *dst = r->pix + r->pix_len;
    if (path)
        st = loom_image_load(path, &o, dst, NULL, &why);
    else if (len > o.max_file_bytes)
        st = loom_error_set(&why, LOOM_ERR_LIMIT, "%zu bytes, over the limit of %llu", len,
                            (unsigned long long)o.max_file_bytes);
    else
        st = loom_image_decode(bytes, len, &o, dst, NULL, &why);
    (*added)++;
    if (st == LOOM_ERR_NOMEM)
        return loom_error_set(err, st, "row %lld, column '%s', photo %d: %s", (long long)row,
                              column, index, why.message);
    if (st) return warn(r, row, c, index, &why, err);
    r->photos[r->nphotos++] = (struct rphoto){row, c, index, *kept, r->pix_len};
    r->pix_len += bytes_per;
    (*kept)++;
    return LOOM_OK;
}

enum loom_status loom_rows_add_image(loom_rows *r, int64_t row, const char *column,
                                     const void *bytes, size_t len, struct loom_error *err)
{
    if (!bytes && len)
        return loom_error_set(err, LOOM_ERR_INVALID, "row %lld, column '%s': NULL photo bytes",
                              (long long)row, column ? column : "(null)");
    static const uint8_t none[1];
    return add_photo(r, row, column, bytes ? bytes : none, len, NULL, err);
}

enum loom_status loom_rows_add_image_path(loom_rows *r, int64_t row, const char *column,
                                          const char *path, struct loom_error *err)
{
    if (!path)
        return loom_error_set(err, LOOM_ERR_INVALID, "row %lld, column '%s': NULL path",
                              (long long)row, column ? column : "(null)");
    return add_photo(r, row, column, NULL, 0, path, err);
}

int64_t loom_rows_warning_count(const loom_rows *r)
{
    return r ? r->nwarn : 0;
}

enum loom_status loom_rows_warning(const loom_rows *r, int64_t k, struct loom_warning *out)
{
    if (!r || !out || k < 0 || k >= r->nwarn) return LOOM_ERR_INVALID;
    const struct rwarning *w = &r->warn[k];
    *out = (struct loom_warning){.row = w->row,
                                 .column = r->m->schema.columns[w->col].name,
                                 .photo = w->photo,
                                 .code = w->code,
                                 .message = r->msgs + w->msg_off};
    return LOOM_OK;
}
