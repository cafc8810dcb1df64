/*
 * export.c — the PyTorch twin's input (bench/torch_twin/train.py): every
 * array loom's encoders and heads see, preprocessed by loom itself, written
 * as .npy files, so that both sides train on the same numbers.
 *
 *   torch-twin-export SCHEMA OUTDIR [--threads N] [--seed S] [--init] [--order E]
 *
 * The prep is fitted on the training split, the train and valid splits are
 * opened (loaders/dataset.h) and read through a batcher in evaluation mode
 * (no shuffle, no augmentation), and per split and column it writes
 *
 *   number, binary, date, set, vector  <split>.<col>.x.npy (n,width) float32
 *                                      <split>.<col>.present.npy (n) float32
 *   category                           <split>.<col>.codes.npy (n) int32
 *   text                               <split>.<col>.ids.npy (n,T) int32
 *                                      <split>.<col>.lengths.npy (n) int32
 *   images                             <split>.<col>.pixels.npy (count,S,S,3) uint8
 *                                      <split>.<col>.offsets.npy (n+1) int64
 *
 * and for each images column <col>.lut.npy (3,256) float32: the value loom
 * feeds the CNN for each byte of each channel (loom_image_to_chw's own
 * output), so the twin maps bytes to floats bit for bit. The bytes are
 * recovered from the batch's floats and checked against that table.
 *
 * meta.json holds what the twin needs to build the same model: each
 * column's type, width, codes and embedding width; each branch's settings;
 * the fusion and the heads (a number head's sigmoid range in the normalised
 * space, the target's mean and std after its transform, so predictions map
 * back to user units); the training settings; and the name and shape of
 * every loom parameter and buffer (the twin checks its count against it).
 * --init also writes the model's initial params (seed S) as init/<name>.npy,
 * and --order E the rows of loom's training batches (seed S: the order
 * torch-twin-loom-train --seed S trains in) for E epochs as
 * train.order.npy (E, rows an epoch) int64; with both, train.py
 * --init --loom-order starts from loom's weights and takes loom's batches.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "core/threads.h"
#include "loaders/image.h"
#include "twin.h"

#define CHUNK 256 /* rows per batch read */

/* ---- .npy v1.0 ---- */

/* Write data (prod(shape) elements of `elem` bytes) as a .npy file. */
static bool npy_write(const char *path, const char *descr, int ndim, const int64_t *shape,
                      const void *data, size_t elem)
{
    char dict[256], dims[160] = "";
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        size_t k = strlen(dims);
        snprintf(dims + k, sizeof dims - k, "%lld,%s", (long long)shape[i],
                 i + 1 < ndim ? " " : "");
        count *= (size_t)shape[i];
    }
    if (ndim > 1) dims[strlen(dims) - 1] = 0; /* "(n, m)" but "(n,)" */
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    /* magic (6) + version (2) + header length (2) + dict + padding + '\n' */
    size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return false;
    }
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (size_t i = (size_t)len; ok && i + 1 < hlen; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && (count == 0 || fwrite(data, elem, count, f) == count);
    if (fclose(f) != 0) ok = false;
    if (!ok) fprintf(stderr, "%s: write failed\n", path);
    return ok;
}

/* ---- growable arrays ---- */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static bool buf_add(struct buf *b, const void *src, size_t bytes)
{
    if (b->len + bytes > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + bytes) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            fprintf(stderr, "out of memory\n");
            return false;
        }
        b->p = q, b->cap = cap;
    }
    if (bytes) memcpy(b->p + b->len, src, bytes);
    b->len += bytes;
    return true;
}

/* One column of one split: up to two arrays (x/ids/pixels and
 * present/lengths/offsets). */
struct colbuf {
    struct buf a, b;
    int64_t photos;
};

static bool uses_x(enum loom_col_type t)
{
    return t == LOOM_COL_NUMBER || t == LOOM_COL_BINARY || t == LOOM_COL_DATE ||
           t == LOOM_COL_SET || t == LOOM_COL_VECTOR;
}

/* The byte whose CHW float is v in channel ch (lut: 256 increasing values). */
static int byte_of(const float *lut, float v)
{
    int lo = 0, hi = 255;
    while (lo < hi) { /* first entry >= v */
        int mid = (lo + hi) / 2;
        if (lut[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lut[lo] == v ? lo : -1;
}

static bool add_images(struct colbuf *cb, const struct loom_batch_col *bc, int64_t n,
                       const float lut[3][256])
{
    int S = bc->size;
    size_t plane = (size_t)S * (size_t)S;
    unsigned char *hwc = malloc(plane * 3);
    if (!hwc) return false;
    for (int64_t i = 0; i < bc->count; i++) {
        const float *chw = bc->pixels + (size_t)i * plane * 3;
        for (int ch = 0; ch < 3; ch++)
            for (size_t k = 0; k < plane; k++) {
                int u = byte_of(lut[ch], chw[ch * plane + k]);
                if (u < 0) {
                    fprintf(stderr, "a pixel value %.9g is no byte of channel %d\n",
                            (double)chw[ch * plane + k], ch);
                    free(hwc);
                    return false;
                }
                hwc[k * 3 + ch] = (unsigned char)u;
            }
        if (!buf_add(&cb->a, hwc, plane * 3)) {
            free(hwc);
            return false;
        }
    }
    free(hwc);
    if (cb->b.len == 0) {
        int64_t zero = 0;
        if (!buf_add(&cb->b, &zero, sizeof zero)) return false;
    }
    for (int64_t r = 0; r < n; r++) {
        int64_t off = cb->photos + bc->offsets[r + 1];
        if (!buf_add(&cb->b, &off, sizeof off)) return false;
    }
    cb->photos += bc->count;
    return true;
}

static bool add_batch(struct colbuf *cbs, const struct loom_batch *b, float (*luts)[3][256])
{
    for (int c = 0; c < b->ncols; c++) {
        const struct loom_batch_col *bc = &b->cols[c];
        struct colbuf *cb = &cbs[c];
        size_t n = (size_t)b->n, w = (size_t)bc->width;
        bool ok = true;
        if (uses_x(bc->type))
            ok = buf_add(&cb->a, bc->x, n * w * sizeof(float)) &&
                 buf_add(&cb->b, bc->present, n * sizeof(float));
        else if (bc->type == LOOM_COL_CATEGORY)
            ok = buf_add(&cb->a, bc->ids, n * sizeof(int32_t));
        else if (bc->type == LOOM_COL_TEXT)
            ok = buf_add(&cb->a, bc->ids, n * w * sizeof(int32_t)) &&
                 buf_add(&cb->b, bc->lengths, n * sizeof(int32_t));
        else if (bc->type == LOOM_COL_IMAGES)
            ok = add_images(cb, bc, b->n, luts[c]);
        if (!ok) return false;
    }
    return true;
}

static bool write_col(const char *dir, const char *split, const struct loom_schema_column *sc,
                      const struct colbuf *cb, int64_t n, int width, int S)
{
    char p1[4200], p2[4200];
    const char *name = sc->name;
    switch (sc->type) {
    case LOOM_COL_NUMBER:
    case LOOM_COL_BINARY:
    case LOOM_COL_DATE:
    case LOOM_COL_SET:
    case LOOM_COL_VECTOR:
        snprintf(p1, sizeof p1, "%s/%s.%s.x.npy", dir, split, name);
        snprintf(p2, sizeof p2, "%s/%s.%s.present.npy", dir, split, name);
        return npy_write(p1, "<f4", 2, (int64_t[]){n, width}, cb->a.p, 4) &&
               npy_write(p2, "<f4", 1, &n, cb->b.p, 4);
    case LOOM_COL_CATEGORY:
        snprintf(p1, sizeof p1, "%s/%s.%s.codes.npy", dir, split, name);
        return npy_write(p1, "<i4", 1, &n, cb->a.p, 4);
    case LOOM_COL_TEXT:
        snprintf(p1, sizeof p1, "%s/%s.%s.ids.npy", dir, split, name);
        snprintf(p2, sizeof p2, "%s/%s.%s.lengths.npy", dir, split, name);
        return npy_write(p1, "<i4", 2, (int64_t[]){n, width}, cb->a.p, 4) &&
               npy_write(p2, "<i4", 1, &n, cb->b.p, 4);
    case LOOM_COL_IMAGES: {
        snprintf(p1, sizeof p1, "%s/%s.%s.pixels.npy", dir, split, name);
        snprintf(p2, sizeof p2, "%s/%s.%s.offsets.npy", dir, split, name);
        int64_t n1 = n + 1;
        return npy_write(p1, "|u1", 4, (int64_t[]){cb->photos, S, S, 3}, cb->a.p, 1) &&
               npy_write(p2, "<i8", 1, &n1, cb->b.p, 8);
    }
    default:
        return true;
    }
}

/* Read split d in order and write its arrays. */
static bool export_split(const char *dir, const char *split, const struct loom_model *m,
                         const struct loom_dataset *d, float (*luts)[3][256], int threads)
{
    const struct loom_schema *s = &m->schema;
    struct loom_batcher_opts bo = {.batch_size = CHUNK, .threads = threads, .prefetch = 2};
    struct loom_batcher *bat = NULL;
    struct loom_error err = {0};
    struct colbuf *cbs = calloc((size_t)s->ncolumns, sizeof *cbs);
    int *width = calloc((size_t)s->ncolumns, sizeof *width), S = 0;
    bool ok = cbs && width && !loom_batcher_new(d, &bo, &bat, &err);
    int64_t n = 0;
    while (ok) {
        const struct loom_batch *b = NULL;
        if (loom_batcher_next(bat, &b, &err)) ok = false;
        if (!ok || !b) break;
        for (int c = 0; c < s->ncolumns; c++) {
            width[c] = b->cols[c].width;
            if (b->cols[c].type == LOOM_COL_IMAGES) S = b->cols[c].size;
        }
        n += b->n;
        ok = add_batch(cbs, b, luts);
    }
    if (!ok && err.message[0]) fprintf(stderr, "%s: %s\n", split, err.message);
    for (int c = 0; ok && c < s->ncolumns; c++) {
        if (s->columns[c].type == LOOM_COL_IMAGES) {
            int sz = 0;
            loom_prep_image(m->prep, c, &sz, NULL, NULL, NULL);
            S = sz;
        }
        ok = write_col(dir, split, &s->columns[c], &cbs[c], n, width[c], S);
    }
    if (ok) fprintf(stderr, "%s: %lld rows written\n", split, (long long)n);
    for (int c = 0; cbs && c < s->ncolumns; c++) free(cbs[c].a.p), free(cbs[c].b.p);
    free(cbs);
    free(width);
    loom_batcher_free(&bat);
    return ok;
}

/* ---- meta.json ---- */

static const char *type_name(enum loom_col_type t)
{
    return loom_col_type_name(t);
}

static const struct loom_param *find_param(const struct loom_model *m, const char *name)
{
    for (int i = 0; i < m->store.n; i++)
        if (!strcmp(m->store.params[i]->name, name)) return m->store.params[i];
    return NULL;
}

static json_t *int_list(const struct loom_int_list *l)
{
    json_t *a = json_array();
    for (int i = 0; i < l->n; i++) json_array_append_new(a, json_integer(l->v[i]));
    return a;
}

static json_t *columns_json(const struct loom_model *m)
{
    const struct loom_schema *s = &m->schema;
    json_t *a = json_array();
    for (int c = 0; c < s->ncolumns; c++) {
        const struct loom_schema_column *sc = &s->columns[c];
        struct loom_prep_column_info info = {0};
        struct loom_error err;
        if (sc->type != LOOM_COL_ID && loom_prep_column(m->prep, c, &info, &err))
            memset(&info, 0, sizeof info);
        json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:i}", "name", sc->name, "type",
                              type_name(sc->type), "width", info.width, "cardinality",
                              (json_int_t)info.cardinality, "image_size", info.image_size);
        json_object_set_new(
            o, "branch", sc->branch >= 0 ? json_string(s->branches[sc->branch].name) : json_null());
        json_object_set_new(o, "output", json_boolean(sc->output >= 0));
        if (sc->type == LOOM_COL_NUMBER) {
            double mean, std;
            twin_number_stats(m, c, &mean, &std);
            json_object_set_new(o, "flag", json_boolean(sc->number.missing != LOOM_MISSING_DROP));
            json_object_set_new(o, "log1p",
                                json_boolean(sc->number.transform == LOOM_TRANSFORM_LOG1P));
            json_object_set_new(o, "mean", json_real(mean));
            json_object_set_new(o, "std", json_real(std));
        }
        if (sc->type == LOOM_COL_DATE) json_object_set_new(o, "flag", json_true());
        if (sc->type == LOOM_COL_CATEGORY && sc->branch >= 0) {
            char name[600];
            snprintf(name, sizeof name, "%s.%s.embed.weight", s->branches[sc->branch].name,
                     sc->name);
            const struct loom_param *p = find_param(m, name);
            json_object_set_new(o, "embed", json_integer(p ? p->t.shape[1] : 0));
        }
        if (sc->type == LOOM_COL_IMAGES) {
            float mean[3], std[3];
            loom_prep_image(m->prep, c, NULL, NULL, mean, std);
            json_object_set_new(o, "mean", json_pack("[f,f,f]", mean[0], mean[1], mean[2]));
            json_object_set_new(o, "std", json_pack("[f,f,f]", std[0], std[1], std[2]));
            json_object_set_new(o, "max_images", json_integer(sc->images.max_images));
        }
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *branch_json(const struct loom_schema *s, const struct loom_schema_branch *br)
{
    static const char *pools[] = {"mean", "max", "last", "mean_max", "last_mean_max"};
    static const char *bags[] = {"gated_attention", "attention", "mean", "max"};
    json_t *cols = json_array();
    for (int j = 0; j < br->ncolumns; j++)
        json_array_append_new(cols, json_string(s->columns[br->columns[j]].name));
    json_t *o = json_pack("{s:s, s:s, s:o}", "name", br->name, "encoder",
                          loom_encoder_name(br->encoder), "columns", cols);
    switch (br->encoder) {
    case LOOM_ENC_MLP:
        json_object_set_new(o, "layers", int_list(&br->mlp.layers));
        json_object_set_new(o, "dropout", json_real(br->mlp.dropout));
        json_object_set_new(o, "batch_norm", json_boolean(br->mlp.batch_norm));
        break;
    case LOOM_ENC_RNN:
        json_object_update_new(
            o, json_pack("{s:s, s:i, s:b, s:i, s:i, s:f, s:b, s:s, s:b}", "cell",
                         br->rnn.cell == LOOM_CELL_LSTM ? "lstm" : "gru", "layers", br->rnn.layers,
                         "bidirectional", br->rnn.bidirectional, "embed", br->rnn.embed, "hidden",
                         br->rnn.hidden, "dropout", br->rnn.dropout, "share", br->rnn.share, "pool",
                         pools[br->rnn.pool], "conv1d", br->rnn.conv1d.enabled));
        break;
    case LOOM_ENC_CNN:
        json_object_update_new(
            o, json_pack("{s:i, s:o, s:s, s:i, s:b, s:b}", "image_size", br->cnn.image_size,
                         "channels", int_list(&br->cnn.channels), "pool", bags[br->cnn.pool],
                         "attention", br->cnn.attention, "augment_flip", br->cnn.augment.flip,
                         "augment_crop", br->cnn.augment.crop));
        break;
    default:
        break;
    }
    return o;
}

static json_t *heads_json(const struct loom_model *m)
{
    static const char *losses[] = {"mse", "mae", "huber", "bce", "ce", "cosine"};
    json_t *a = json_array();
    for (int j = 0; j < m->nheads; j++) {
        const struct loom_head *h = &m->heads[j];
        json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:f, s:f, s:b}", "column",
                              m->schema.columns[h->column].name, "type", type_name(h->type), "loss",
                              losses[h->loss], "width", h->width, "weight", h->weight,
                              "huber_delta", h->huber_delta, "has_range", h->has_range);
        if (h->has_range)
            json_object_update_new(
                o, json_pack("{s:s, s:f, s:f, s:f, s:f}", "range_mode",
                             h->range_mode == LOOM_RANGE_SIGMOID ? "sigmoid" : "clamp", "lo", h->lo,
                             "hi", h->hi, "sig_lo", h->sig_lo, "sig_hi", h->sig_hi));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *training_json(const struct loom_schema_training *tr)
{
    return json_pack(
        "{s:i, s:i, s:f, s:{s:s, s:f, s:f, s:f, s:f, s:f}, s:{s:s, s:f, s:f, s:f, "
        "s:f, s:f}, s:I}",
        "epochs", tr->epochs, "batch_size", tr->batch_size, "clip_norm", tr->clip_norm, "optimizer",
        "type", tr->optimizer.type == LOOM_OPTIMIZER_SGD ? "sgd" : "adamw", "lr", tr->optimizer.lr,
        "weight_decay", tr->optimizer.weight_decay, "momentum", tr->optimizer.momentum, "beta2",
        tr->optimizer.beta2, "eps", tr->optimizer.eps, "schedule", "type",
        tr->schedule.type == LOOM_SCHEDULE_KIND_ONE_CYCLE ? "one_cycle"
        : tr->schedule.type == LOOM_SCHEDULE_KIND_WARMUP  ? "warmup"
                                                          : "constant",
        "pct_start", tr->schedule.pct_start, "div_factor", tr->schedule.div_factor,
        "final_div_factor", tr->schedule.final_div_factor, "mom_max", tr->schedule.mom_max,
        "mom_min", tr->schedule.mom_min, "seed", (json_int_t)tr->seed);
}

static json_t *params_json(const struct loom_model *m, int64_t *trainable)
{
    json_t *a = json_array();
    *trainable = 0;
    for (int i = 0; i < m->store.n; i++) {
        const struct loom_param *p = m->store.params[i];
        json_t *shape = json_array();
        for (int d = 0; d < p->t.ndim; d++)
            json_array_append_new(shape, json_integer(p->t.shape[d]));
        json_array_append_new(
            a, json_pack("{s:s, s:o, s:b}", "name", p->name, "shape", shape, "buffer", p->buffer));
        if (!p->buffer) *trainable += p->t.size;
    }
    return a;
}

static bool write_meta(const char *dir, const struct loom_model *m, const struct twin *t)
{
    const struct loom_schema *s = &m->schema;
    json_t *branches = json_array();
    for (int b = 0; b < s->nbranches; b++)
        json_array_append_new(branches, branch_json(s, &s->branches[b]));
    int64_t trainable;
    json_t *params = params_json(m, &trainable);
    json_t *o = json_pack(
        "{s:s, s:{s:I, s:I}, s:o, s:o, s:{s:o, s:f, s:b, s:f}, s:o, s:o, s:o, s:I}", "schema",
        s->source, "rows", "train", (json_int_t)loom_dataset_rows(t->train), "valid",
        (json_int_t)loom_dataset_rows(t->valid), "columns", columns_json(m), "branches", branches,
        "fusion", "layers", int_list(&s->fusion.layers), "dropout", s->fusion.dropout, "batch_norm",
        s->fusion.batch_norm, "modality_dropout", s->fusion.modality_dropout, "heads",
        heads_json(m), "training", training_json(&s->training), "params", params, "trainable",
        (json_int_t)trainable);
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    bool ok = o && json_dump_file(o, path, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) == 0;
    if (!ok) fprintf(stderr, "%s: cannot write\n", path);
    json_decref(o);
    return ok;
}

/* ---- the rest ---- */

/* luts[c]: loom_image_to_chw of every byte value, for images column c. */
static bool make_luts(const struct loom_model *m, const char *dir, float (*luts)[3][256])
{
    for (int c = 0; c < m->schema.ncolumns; c++) {
        float mean[3], std[3];
        int S;
        if (!loom_prep_image(m->prep, c, &S, NULL, mean, std)) continue;
        uint8_t rgb[16 * 16 * 3];
        for (int i = 0; i < 256; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)i;
        loom_image_to_chw(rgb, 16, mean, std, &luts[c][0][0]);
        for (int ch = 0; ch < 3; ch++)
            for (int i = 1; i < 256; i++)
                if (!(luts[c][ch][i] > luts[c][ch][i - 1])) {
                    fprintf(stderr, "image normalisation is not increasing\n");
                    return false;
                }
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.lut.npy", dir, m->schema.columns[c].name);
        if (!npy_write(path, "<f4", 2, (int64_t[]){3, 256}, luts[c], 4)) return false;
    }
    return true;
}

static bool write_init(const char *dir, const struct loom_model *m)
{
    char sub[4200], path[4800];
    snprintf(sub, sizeof sub, "%s/init", dir);
    if (mkdir(sub, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: %s\n", sub, strerror(errno));
        return false;
    }
    for (int i = 0; i < m->store.n; i++) {
        const struct loom_param *p = m->store.params[i];
        snprintf(path, sizeof path, "%s/%s.npy", sub, p->name);
        if (!npy_write(path, "<f4", p->t.ndim, p->t.shape, p->t.data, 4)) return false;
    }
    return true;
}

/* loom_train's training batches (seed) for `epochs` epochs: their rows. */
static bool write_order(const char *dir, const struct twin *t, uint64_t seed, int epochs)
{
    struct loom_batcher_opts bo = {
        .batch_size = t->m->schema.training.batch_size,
        .shuffle = true,
        .training = true,
        .drop_last = loom_dataset_rows(t->train) % t->m->schema.training.batch_size == 1,
        .seed = seed,
        .threads = 1};
    struct loom_batcher *bat = NULL;
    struct loom_error err = {0};
    struct buf rows = {0};
    bool ok = !loom_batcher_new(t->train, &bo, &bat, &err);
    int64_t per =
        ok ? LOOM_MIN(loom_dataset_rows(t->train), loom_batcher_count(bat) * bo.batch_size) : 0;
    for (int e = 0; ok && e < epochs; e++)
        for (;;) {
            const struct loom_batch *b = NULL;
            if (loom_batcher_next(bat, &b, &err)) ok = false;
            if (!ok || !b) break;
            ok = buf_add(&rows, b->rows, (size_t)b->n * sizeof *b->rows);
        }
    if (!ok && err.message[0]) fprintf(stderr, "order: %s\n", err.message);
    char path[4200];
    snprintf(path, sizeof path, "%s/train.order.npy", dir);
    ok = ok && rows.len == (size_t)(epochs * per) * sizeof(int64_t) &&
         npy_write(path, "<i8", 2, (int64_t[]){epochs, per}, rows.p, 8);
    free(rows.p);
    loom_batcher_free(&bat);
    return ok;
}

static int usage(void)
{
    fprintf(stderr, "usage: torch-twin-export SCHEMA OUTDIR [--threads N] [--seed S] [--init] "
                    "[--order E]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    const char *schema = argv[1], *dir = argv[2];
    int threads = 2;
    uint64_t seed = 1;
    bool init = false;
    int order = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--init"))
            init = true;
        else if (!strcmp(argv[i], "--order") && i + 1 < argc)
            order = atoi(argv[++i]);
        else
            return usage();
    }
    loom_threads_set(threads);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return 1;
    }
    struct twin t;
    if (!twin_open(&t, schema, seed, threads)) return 1;
    int nc = t.m->schema.ncolumns;
    float(*luts)[3][256] = calloc((size_t)nc, sizeof *luts);
    bool ok = luts && make_luts(t.m, dir, luts) &&
              export_split(dir, "train", t.m, t.train, luts, threads) &&
              export_split(dir, "valid", t.m, t.valid, luts, threads) && write_meta(dir, t.m, &t) &&
              (!init || write_init(dir, t.m)) && (order <= 0 || write_order(dir, &t, seed, order));
    free(luts);
    twin_close(&t);
    return ok ? 0 : 1;
}
