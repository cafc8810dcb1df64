/*
 * prep.c — the fitted preprocessing of a schema's columns (prep.h): the
 * column settings taken from the schema, encoding one field, and the saved
 * form.
 *
 * Choices, written once:
 *  - Photos are normalised with fixed ImageNet statistics (mean 0.485,
 *    0.456, 0.406; std 0.229, 0.224, 0.225), not with statistics fitted on
 *    the training photos: fitting would decode photos during the fit pass
 *    (which is otherwise one fast CSV read), and on product photos the fitted
 *    values land close to these anyway; the CNN's first batch norm absorbs
 *    the difference. They are saved with the prep all the same, so a later
 *    version may fit them without changing the format.
 *  - Date parts are standardised with the training mean and std of each of
 *    the 13 parts (a flag that never varies gets std 1); a missing date is
 *    all zeros (the training mean) with present = 0.
 *  - A binary needs nothing fitted; missing is x = 0 with present = 0.
 *  - Text columns of an rnn branch with `share: true` share one vocabulary
 *    (fitted on all of them): the first text column of the branch owns it.
 * Fitting is in prep_fit.c.
 */
#include <math.h>
#include <string.h>

#include "blob.h"
#include "prep_internal.h"
#include "text.h"

#define PREP_TAG     "PREP"
#define PREP_VERSION 1
#define NO_SHARE     LOOM_PREP_NO_SHARE

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

_Static_assert(LOOM_DATE_NFEAT == LOOM_DATE_NFEATURES, "batch.h and date.h disagree");

/* The text column whose vocabulary column c uses (NO_SHARE: its own). */
static int text_share(const struct loom_schema *s, int c)
{
    int b = s->columns[c].branch;
    if (b < 0 || s->branches[b].encoder != LOOM_ENC_RNN || !s->branches[b].rnn.share)
        return NO_SHARE;
    const struct loom_schema_branch *br = &s->branches[b];
    for (int i = 0; i < br->ncolumns; i++) {
        int k = br->columns[i];
        if (s->columns[k].type == LOOM_COL_TEXT) return k == c ? NO_SHARE : k;
    }
    return NO_SHARE;
}

static void image_config(const struct loom_schema *s, int c, int *size, enum loom_image_fit *fit)
{
    int b = s->columns[c].branch;
    bool cnn = b >= 0 && s->branches[b].encoder == LOOM_ENC_CNN;
    *size = cnn ? s->branches[b].cnn.image_size : 64;
    *fit = cnn ? s->branches[b].cnn.fit : LOOM_FIT_CROP;
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t') return false;
    return true;
}

struct loom_prep *loom_prep_alloc(const struct loom_schema *s)
{
    struct loom_prep *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->c = calloc((size_t)LOOM_MAX(s->ncolumns, 1), sizeof *p->c);
    if (!p->c) {
        free(p);
        return NULL;
    }
    p->ncols = s->ncolumns;
    for (int i = 0; i < s->ncolumns; i++) {
        const struct loom_schema_column *sc = &s->columns[i];
        struct prep_col *pc = &p->c[i];
        pc->type = sc->type;
        pc->share = NO_SHARE;
        if (sc->type == LOOM_COL_TEXT) {
            pc->share = text_share(s, i);
            pc->max_tokens = sc->text.max_tokens;
            pc->tok = loom_tokenize_opts_default();
            pc->tok.lowercase = sc->text.lowercase;
            pc->tok.case_markers = sc->text.lowercase;
            pc->width = sc->text.max_tokens + 1;
        } else if (sc->type == LOOM_COL_IMAGES) {
            image_config(s, i, &pc->image_size, &pc->fit);
            memcpy(pc->imean, imagenet_mean, sizeof pc->imean);
            memcpy(pc->istd, imagenet_std, sizeof pc->istd);
        } else if (sc->type == LOOM_COL_DATE) {
            pc->width = LOOM_DATE_NFEAT;
        } else if (sc->type == LOOM_COL_NUMBER || sc->type == LOOM_COL_BINARY ||
                   sc->type == LOOM_COL_CATEGORY) {
            pc->width = 1;
        }
    }
    return p;
}

void loom_prep_free(struct loom_prep **pp)
{
    if (!pp || !*pp) return;
    struct loom_prep *p = *pp;
    for (int i = 0; i < p->ncols; i++) {
        struct prep_col *c = &p->c[i];
        loom_number_free(&c->num);
        loom_category_free(&c->cat);
        loom_set_free(&c->set);
        loom_vector_free(&c->vec);
        if (c->share == NO_SHARE) loom_vocab_free(&c->vocab);
    }
    free(p->c);
    free(p);
    *pp = NULL;
}

/* ---- using a fitted prep ----------------------------------------------------------- */

int loom_prep_ncols(const struct loom_prep *p)
{
    return p ? p->ncols : 0;
}

enum loom_status loom_prep_column(const struct loom_prep *p, int col,
                                  struct loom_prep_column_info *out, struct loom_error *err)
{
    if (!p || !out || col < 0 || col >= p->ncols)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_prep_column: no column %d", col);
    const struct prep_col *c = &p->c[col];
    struct loom_prep_column_info i = {.type = c->type, .width = c->width};
    if (c->type == LOOM_COL_CATEGORY) i.cardinality = loom_category_count(c->cat);
    if (c->type == LOOM_COL_TEXT) i.cardinality = loom_vocab_size(c->vocab);
    if (c->type == LOOM_COL_SET) i.cardinality = loom_set_size(c->set);
    if (c->type == LOOM_COL_IMAGES) i.image_size = c->image_size;
    *out = i;
    return LOOM_OK;
}

bool loom_prep_image(const struct loom_prep *p, int col, int *size, enum loom_image_fit *fit,
                     float mean[3], float std[3])
{
    if (!p || col < 0 || col >= p->ncols || p->c[col].type != LOOM_COL_IMAGES) return false;
    const struct prep_col *c = &p->c[col];
    if (size) *size = c->image_size;
    if (fit) *fit = c->fit;
    if (mean) memcpy(mean, c->imean, sizeof c->imean);
    if (std) memcpy(std, c->istd, sizeof c->istd);
    return true;
}

double loom_prep_decode_number(const struct loom_prep *p, int col, double y)
{
    if (!p || col < 0 || col >= p->ncols || p->c[col].type != LOOM_COL_NUMBER) return y;
    return loom_number_decode(p->c[col].num, y);
}

const char *loom_prep_label(const struct loom_prep *p, int col, int32_t code, size_t *len)
{
    if (!p || col < 0 || col >= p->ncols || code < 0) return NULL;
    const struct prep_col *c = &p->c[col];
    const char *name = NULL;
    size_t n = 0;
    if (c->type == LOOM_COL_CATEGORY) {
        if (code == LOOM_CATEGORY_MISSING || code == LOOM_CATEGORY_UNKNOWN) {
            name = code == LOOM_CATEGORY_MISSING ? "<missing>" : "<unknown>";
            n = strlen(name);
        } else {
            name = loom_category_name(c->cat, code, &n);
        }
    } else if (c->type == LOOM_COL_SET && code < loom_set_size(c->set)) {
        name = loom_set_label(c->set, code, &n);
    }
    if (name && len) *len = n;
    return name;
}

enum loom_status loom_prep_encode(const struct loom_prep *p, int col, const char *text, size_t len,
                                  float *x, float *present, int32_t *ids, int32_t *length,
                                  struct loom_error *err)
{
    if (!p || col < 0 || col >= p->ncols)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_prep_encode: no column %d", col);
    const struct prep_col *c = &p->c[col];
    bool missing = blank(text, len);
    enum loom_status st = LOOM_OK;
    switch (c->type) {
    case LOOM_COL_NUMBER: {
        float v[2];
        st = loom_number_encode(c->num, text, len, v, err);
        if (st != LOOM_OK) return st;
        x[0] = v[0];
        *present = 1.0f - v[1];
        return LOOM_OK;
    }
    case LOOM_COL_BINARY: {
        int b;
        st = loom_binary_parse(text, len, &b, err);
        if (st != LOOM_OK) return st;
        x[0] = b == 1 ? 1.0f : 0.0f;
        *present = b < 0 ? 0.0f : 1.0f;
        return LOOM_OK;
    }
    case LOOM_COL_DATE: {
        double fe[LOOM_DATE_NFEAT];
        if (!missing) st = loom_date_features(text, len, fe, err);
        if (st != LOOM_OK) return st;
        for (int j = 0; j < LOOM_DATE_NFEAT; j++)
            x[j] = missing ? 0.0f : (float)((fe[j] - c->dmean[j]) / c->dstd[j]);
        *present = missing ? 0.0f : 1.0f;
        return LOOM_OK;
    }
    case LOOM_COL_SET:
        st = loom_set_encode(c->set, text, len, x, NULL, err);
        if (st == LOOM_OK) *present = missing ? 0.0f : 1.0f;
        return st;
    case LOOM_COL_VECTOR:
        st = loom_vector_encode(c->vec, text, len, x, err);
        if (st == LOOM_OK) *present = missing ? 0.0f : 1.0f;
        return st;
    case LOOM_COL_CATEGORY:
        ids[0] = loom_category_encode(c->cat, text, len);
        return LOOM_OK;
    case LOOM_COL_TEXT: {
        int32_t n = 0;
        st = loom_text_encode(c->vocab, &c->tok, text, len, (size_t)c->width, ids, &n, err);
        if (st != LOOM_OK) return st;
        for (int j = n; j < c->width; j++) ids[j] = LOOM_VOCAB_PAD;
        *length = n;
        return LOOM_OK;
    }
    default:
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_prep_encode: column %d is an %s column",
                              col, loom_col_type_name(c->type));
    }
}

/* ---- saved form -------------------------------------------------------------------- */

/* A blob of an encoder, framed inside the prep's blob (u32 length + bytes). */
static enum loom_status put_sub(struct loom_blob_writer *w, enum loom_status st, uint8_t *b,
                                size_t n, struct loom_error *err)
{
    if (st == LOOM_OK && n > UINT32_MAX)
        st = loom_error_set(err, LOOM_ERR_LIMIT, "a fitted column of %zu bytes is too large", n);
    if (st == LOOM_OK) loom_blob_put_str(w, (const char *)b, n);
    free(b);
    return st;
}

enum loom_status loom_prep_save(const struct loom_prep *p, uint8_t **out, size_t *len,
                                struct loom_error *err)
{
    if (!p || !out || !len) return loom_error_set(err, LOOM_ERR_INVALID, "loom_prep_save: NULL");
    struct loom_blob_writer w;
    loom_blob_write_begin(&w, PREP_TAG, PREP_VERSION);
    loom_blob_put_u32(&w, (uint32_t)p->ncols);
    enum loom_status st = LOOM_OK;
    for (int i = 0; i < p->ncols && st == LOOM_OK; i++) {
        const struct prep_col *c = &p->c[i];
        uint8_t *b = NULL;
        size_t n = 0;
        loom_blob_put_u8(&w, (uint8_t)c->type);
        switch (c->type) {
        case LOOM_COL_NUMBER:
            st = loom_number_save(c->num, &b, &n, err);
            st = put_sub(&w, st, b, n, err);
            break;
        case LOOM_COL_CATEGORY:
            st = loom_category_save(c->cat, &b, &n, err);
            st = put_sub(&w, st, b, n, err);
            break;
        case LOOM_COL_SET:
            st = loom_set_save(c->set, &b, &n, err);
            st = put_sub(&w, st, b, n, err);
            break;
        case LOOM_COL_VECTOR:
            st = loom_vector_save(c->vec, &b, &n, err);
            st = put_sub(&w, st, b, n, err);
            break;
        case LOOM_COL_TEXT:
            loom_blob_put_u8(&w, c->share == NO_SHARE);
            if (c->share == NO_SHARE) {
                st = loom_vocab_save(c->vocab, &b, &n, err);
                st = put_sub(&w, st, b, n, err);
            }
            loom_blob_put_u32(&w, (uint32_t)c->max_tokens);
            loom_blob_put_u8(&w, c->tok.lowercase);
            break;
        case LOOM_COL_DATE:
            for (int j = 0; j < LOOM_DATE_NFEAT; j++) {
                loom_blob_put_f64(&w, c->dmean[j]);
                loom_blob_put_f64(&w, c->dstd[j]);
            }
            break;
        case LOOM_COL_IMAGES:
            loom_blob_put_u32(&w, (uint32_t)c->image_size);
            loom_blob_put_u8(&w, (uint8_t)c->fit);
            for (int j = 0; j < 3; j++) loom_blob_put_f64(&w, c->imean[j]);
            for (int j = 0; j < 3; j++) loom_blob_put_f64(&w, c->istd[j]);
            break;
        default:
            break;
        }
    }
    if (st != LOOM_OK) {
        free(w.data);
        return st;
    }
    return loom_blob_write_end(&w, out, len, err);
}

static enum loom_status bad_saved(struct loom_error *err, const struct loom_schema *s, int col,
                                  const char *what)
{
    return loom_error_set(err, LOOM_ERR_FORMAT, "saved preprocessing, column '%s': %s",
                          s->columns[col].name, what);
}

/* The next encoder blob of r, or NULL (r marked bad). */
static const void *get_sub(struct loom_blob_reader *r, size_t *n)
{
    return loom_blob_get_str(r, SIZE_MAX, n);
}

static enum loom_status load_column(struct loom_prep *p, const struct loom_schema *s, int i,
                                    struct loom_blob_reader *r, struct loom_error *err)
{
    struct prep_col *c = &p->c[i];
    const void *b;
    size_t n = 0;
    enum loom_status st = LOOM_OK;
    if (loom_blob_get_u8(r) != (uint8_t)c->type || r->bad)
        return bad_saved(err, s, i, "its type differs from the schema's");
    switch (c->type) {
    case LOOM_COL_NUMBER:
        if (!(b = get_sub(r, &n))) break;
        return loom_number_load(b, n, &c->num, err);
    case LOOM_COL_CATEGORY:
        if (!(b = get_sub(r, &n))) break;
        return loom_category_load(b, n, &c->cat, err);
    case LOOM_COL_SET:
        if (!(b = get_sub(r, &n))) break;
        st = loom_set_load(b, n, &c->set, err);
        if (st == LOOM_OK) c->width = loom_set_size(c->set);
        return st;
    case LOOM_COL_VECTOR:
        if (!(b = get_sub(r, &n))) break;
        st = loom_vector_load(b, n, &c->vec, err);
        if (st != LOOM_OK) return st;
        c->width = loom_vector_dim(c->vec);
        if (s->columns[i].vector.dim > 0 && s->columns[i].vector.dim != c->width)
            return bad_saved(err, s, i, "its dimension differs from the schema's");
        return LOOM_OK;
    case LOOM_COL_TEXT: {
        bool owns = loom_blob_get_u8(r);
        if (owns != (c->share == NO_SHARE))
            return bad_saved(err, s, i, "its vocabulary sharing differs from the schema's");
        if (owns) {
            if (!(b = get_sub(r, &n))) break;
            st = loom_vocab_load(b, n, &c->vocab, err);
            if (st != LOOM_OK) return st;
        }
        uint32_t mt = loom_blob_get_u32(r);
        uint8_t lc = loom_blob_get_u8(r);
        if (!r->bad && (mt != (uint32_t)c->max_tokens || lc != c->tok.lowercase))
            return bad_saved(err, s, i, "max_tokens or lowercase differ from the schema's");
        return LOOM_OK;
    }
    case LOOM_COL_DATE:
        for (int j = 0; j < LOOM_DATE_NFEAT; j++) {
            c->dmean[j] = loom_blob_get_f64(r);
            c->dstd[j] = loom_blob_get_f64(r);
            if (!isfinite(c->dmean[j]) || !isfinite(c->dstd[j]) || !(c->dstd[j] > 0))
                return bad_saved(err, s, i, "bad date statistics");
        }
        return LOOM_OK;
    case LOOM_COL_IMAGES: {
        uint32_t size = loom_blob_get_u32(r);
        uint8_t fit = loom_blob_get_u8(r);
        if (!r->bad && (size != (uint32_t)c->image_size || fit != (uint8_t)c->fit))
            return bad_saved(err, s, i, "its image size or fit differs from the schema's");
        for (int j = 0; j < 3; j++) c->imean[j] = (float)loom_blob_get_f64(r);
        for (int j = 0; j < 3; j++) c->istd[j] = (float)loom_blob_get_f64(r);
        for (int j = 0; j < 3; j++)
            if (!isfinite(c->imean[j]) || !(c->istd[j] > 1e-6f) || !isfinite(c->istd[j]))
                return bad_saved(err, s, i, "bad image statistics");
        return LOOM_OK;
    }
    default:
        return LOOM_OK;
    }
    return bad_saved(err, s, i, "truncated");
}

enum loom_status loom_prep_load(const struct loom_schema *s, const void *buf, size_t len,
                                struct loom_prep **out, struct loom_error *err)
{
    if (!s || !buf || !out) return loom_error_set(err, LOOM_ERR_INVALID, "loom_prep_load: NULL");
    struct loom_blob_reader r;
    enum loom_status st =
        loom_blob_read_begin(&r, buf, len, PREP_TAG, PREP_VERSION, "preprocessing", err);
    if (st != LOOM_OK) return st;
    uint32_t ncols = loom_blob_get_u32(&r);
    if (r.bad || ncols != (uint32_t)s->ncolumns)
        return loom_error_set(err, LOOM_ERR_FORMAT,
                              "saved preprocessing has %u columns, the schema %d", ncols,
                              s->ncolumns);
    struct loom_prep *p = loom_prep_alloc(s);
    if (!p) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for the preprocessing");
    for (int i = 0; i < s->ncolumns && st == LOOM_OK; i++) st = load_column(p, s, i, &r, err);
    if (st == LOOM_OK) st = loom_blob_read_end(&r, "preprocessing", err);
    if (st != LOOM_OK) {
        loom_prep_free(&p);
        return st;
    }
    for (int i = 0; i < p->ncols; i++)
        if (p->c[i].type == LOOM_COL_TEXT && p->c[i].share != NO_SHARE)
            p->c[i].vocab = p->c[p->c[i].share].vocab;
    *out = p;
    return LOOM_OK;
}
