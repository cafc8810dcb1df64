/*
 * batcher.c — batches from a dataset (dataset.h, batch.h), prepared ahead
 * by loader threads.
 *
 * Every batch is a pure function of (seed, epoch, index): its rows are
 * slice `index` of the epoch's permutation (Philox keyed by (seed, epoch)),
 * and its augmentation draws come from a Philox stream keyed by (epoch,
 * index). So the batches do not depend on how many loader threads there
 * are or which thread prepared which batch, and seek can start anywhere.
 *
 * Threads: a ring of prefetch + 1 slots, each owning its memory (allocated
 * once; the photo buffer grows to the largest batch seen and is then
 * reused). Batch g (counted over epochs) lives in slot g % ring. A loader
 * thread takes the next batch when its slot is free and it is less than
 * `prefetch` ahead of the consumer; the consumer waits for its batch to be
 * ready and hands the slot back on its next call. One mutex, two condition
 * variables.
 *
 * Augmentation (training only, per the branch's cnn.augment): a random
 * square crop of 80..100% of the side, resized back, and a horizontal flip
 * with probability 1/2; a row with more photos than max_images gets a random
 * subset of them (in their original order), otherwise the first ones.
 */
#include <pthread.h>
#include <string.h>

#include "core/rng.h"
#include "dataset_internal.h"
#include "image.h"

#define PERM_KEY       0x7065726d75746531ULL /* "permute1" */
#define AUG_KEY        0x6175676d656e7431ULL /* "augment1" */
#define CROP_MIN_SCALE 0.8f

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY };

struct slot {
    enum slot_state state;
    int64_t g; /* the batch it holds */
    enum loom_status st;
    struct loom_error err;
    struct loom_batch batch;
    float **pixels_owned; /* per column: the photo buffer and its capacity (floats) */
    size_t *pixels_cap;
    uint8_t *crop;  /* augmentation scratch: one photo */
    uint32_t *pick; /* photo subset scratch */
    size_t pick_cap;
};

struct loom_batcher {
    const struct loom_dataset *d;
    struct loom_batcher_opts o;
    int64_t nb; /* batches per epoch */
    int ring;
    struct slot *slots;
    uint32_t *perm[2]; /* the permutations of two consecutive epochs, by parity */
    int64_t perm_epoch[2];
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    pthread_t *tid;
    int nthreads;
    bool stop;
    int64_t epoch, k; /* the consumer: next batch k of epoch (k == nb: the end marker) */
    int held;         /* the slot handed out, or -1 */
    int64_t next_assign;
    int busy;
};

int64_t loom_batcher_count(const struct loom_batcher *b)
{
    return b ? b->nb : 0;
}

static bool uses_x(enum loom_col_type t)
{
    return t == LOOM_COL_NUMBER || t == LOOM_COL_BINARY || t == LOOM_COL_DATE ||
           t == LOOM_COL_SET || t == LOOM_COL_VECTOR;
}

static int64_t head(const struct loom_batcher *b)
{
    return b->epoch * b->nb + b->k;
}

static void make_perm(struct loom_batcher *b, int64_t e)
{
    uint32_t *p = b->perm[e & 1];
    int64_t n = b->d->n;
    for (int64_t i = 0; i < n; i++) p[i] = (uint32_t)i;
    struct loom_rng r;
    loom_rng_init(&r, b->o.seed ^ PERM_KEY, (uint64_t)e);
    loom_rng_shuffle(&r, p, (size_t)n);
    b->perm_epoch[e & 1] = e;
}

/* ---- filling one batch ---------------------------------------------------------------- */

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t bytes;
    if (!loom_mul_size(need, elem, &bytes)) return false;
    void *q = loom_aligned_alloc(bytes);
    if (!q) return false;
    free(*p);
    *p = q;
    *cap = need;
    return true;
}

/* The photos of row `row` to use: their indices into the row's bag, in
 * pick[0..*take). */
static bool choose(struct slot *sl, int64_t m, int max_images, bool training, struct loom_rng *rng,
                   int64_t *take)
{
    *take = LOOM_MIN(m, (int64_t)max_images);
    if (!training || m <= *take) return true;
    if (!grow((void **)&sl->pick, &sl->pick_cap, (size_t)m, sizeof *sl->pick)) return false;
    for (int64_t i = 0; i < m; i++) sl->pick[i] = (uint32_t)i;
    for (int64_t i = 0; i < *take; i++) { /* partial Fisher-Yates */
        int64_t j = i + (int64_t)loom_rng_below(rng, (uint32_t)(m - i));
        uint32_t t = sl->pick[i];
        sl->pick[i] = sl->pick[j];
        sl->pick[j] = t;
    }
    for (int64_t i = 1; i < *take; i++) /* original order */
        for (int64_t j = i; j > 0 && sl->pick[j - 1] > sl->pick[j]; j--) {
            uint32_t t = sl->pick[j];
            sl->pick[j] = sl->pick[j - 1];
            sl->pick[j - 1] = t;
        }
    return true;
}

static enum loom_status fill_images(struct loom_batcher *b, struct slot *sl, int c,
                                    struct loom_rng *rng)
{
    const struct loom_dataset *d = b->d;
    const struct loom_ds_col *dc = &d->c[c];
    const struct loom_schema_column *sc = &d->s->columns[c];
    struct loom_batch_col *bc = &sl->batch.cols[c];
    const struct loom_schema_branch *br = sc->branch >= 0 ? &d->s->branches[sc->branch] : NULL;
    bool crop = b->o.training && br && br->encoder == LOOM_ENC_CNN && br->cnn.augment.crop;
    bool flip = b->o.training && br && br->encoder == LOOM_ENC_CNN && br->cnn.augment.flip;
    int S = dc->size;
    size_t plane = (size_t)S * (size_t)S * 3;
    float mean[3], std[3];
    loom_prep_image(d->p, c, NULL, NULL, mean, std);
    int64_t n = sl->batch.n, total = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t r = sl->batch.rows[i];
        total += LOOM_MIN(dc->offsets[r + 1] - dc->offsets[r], (int64_t)sc->images.max_images);
    }
    size_t need;
    if (!loom_mul_size((size_t)total, plane, &need) ||
        !grow((void **)&sl->pixels_owned[c], &sl->pixels_cap[c], LOOM_MAX(need, 1), sizeof(float)))
        return loom_error_set(&sl->err, LOOM_ERR_NOMEM, "out of memory for a batch's photos");
    bc->pixels = sl->pixels_owned[c];
    bc->size = S;
    bc->offsets[0] = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t r = sl->batch.rows[i], m = dc->offsets[r + 1] - dc->offsets[r], take;
        if (!choose(sl, m, sc->images.max_images, b->o.training, rng, &take))
            return loom_error_set(&sl->err, LOOM_ERR_NOMEM, "out of memory choosing photos");
        bool picked = b->o.training && m > take;
        for (int64_t j = 0; j < take; j++, at++) {
            int64_t src = dc->offsets[r] + (picked ? sl->pick[j] : j);
            const uint8_t *px = dc->pixels + (size_t)src * plane;
            if (crop) {
                enum loom_status st =
                    loom_image_random_crop(px, S, CROP_MIN_SCALE, flip, rng, sl->crop, &sl->err);
                if (st != LOOM_OK) return st;
                px = sl->crop;
            } else if (flip && (loom_rng_u32(rng) & 1)) {
                memcpy(sl->crop, px, plane);
                loom_image_flip_h(sl->crop, S);
                px = sl->crop;
            }
            loom_image_to_chw(px, S, mean, std, bc->pixels + (size_t)at * plane);
        }
        bc->offsets[i + 1] = at;
    }
    bc->count = at;
    return LOOM_OK;
}

static enum loom_status fill(struct loom_batcher *b, struct slot *sl, int64_t g)
{
    const struct loom_dataset *d = b->d;
    int64_t e = g / b->nb, k = g % b->nb, bs = b->o.batch_size;
    int64_t start = k * bs, n = LOOM_MIN(bs, d->n - start);
    const uint32_t *perm = b->o.shuffle ? b->perm[e & 1] : NULL;
    sl->batch.n = n;
    for (int64_t i = 0; i < n; i++) sl->batch.rows[i] = perm ? perm[start + i] : start + i;
    struct loom_rng rng;
    loom_rng_init(&rng, b->o.seed ^ AUG_KEY, ((uint64_t)e << 32) ^ (uint64_t)k);
    for (int c = 0; c < d->ncols; c++) {
        const struct loom_ds_col *dc = &d->c[c];
        struct loom_batch_col *bc = &sl->batch.cols[c];
        size_t w = (size_t)dc->width;
        for (int64_t i = 0; i < n && w > 0; i++) {
            int64_t r = sl->batch.rows[i];
            if (bc->x) memcpy(bc->x + (size_t)i * w, dc->x + (size_t)r * w, w * sizeof(float));
            if (bc->ids)
                memcpy(bc->ids + (size_t)i * w, dc->ids + (size_t)r * w, w * sizeof(int32_t));
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t r = sl->batch.rows[i];
            if (bc->present) bc->present[i] = dc->present[r];
            if (bc->lengths) bc->lengths[i] = dc->lengths[r];
        }
        if (dc->type == LOOM_COL_IMAGES) {
            enum loom_status st = fill_images(b, sl, c, &rng);
            if (st != LOOM_OK) return st;
        }
    }
    return LOOM_OK;
}

/* ---- threads ------------------------------------------------------------------------- */

static bool can_assign(const struct loom_batcher *b, int64_t g)
{
    if (b->nb == 0 || b->stop) return false;
    int64_t h = head(b);
    const struct slot *sl = &b->slots[g % b->ring];
    return g < h + b->o.prefetch && g / b->nb <= h / b->nb + 1 && sl->state == SLOT_FREE &&
           b->held != (int)(g % b->ring);
}

static void *worker(void *arg)
{
    struct loom_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        int64_t g = b->next_assign;
        if (!can_assign(b, g)) {
            pthread_cond_wait(&b->work, &b->mu);
            continue;
        }
        b->next_assign++;
        struct slot *sl = &b->slots[g % b->ring];
        sl->state = SLOT_FILLING;
        sl->g = g;
        int64_t e = g / b->nb;
        if (b->o.shuffle && b->perm_epoch[e & 1] != e) make_perm(b, e);
        b->busy++;
        pthread_mutex_unlock(&b->mu);
        enum loom_status st = fill(b, sl, g);
        pthread_mutex_lock(&b->mu);
        sl->st = st;
        b->busy--;
        sl->state = SLOT_READY;
        pthread_cond_broadcast(&b->ready);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- the public side ----------------------------------------------------------------- */

static bool slot_init(struct loom_batcher *b, struct slot *sl)
{
    const struct loom_dataset *d = b->d;
    size_t bs = (size_t)b->o.batch_size, nc = (size_t)LOOM_MAX(d->ncols, 1), crop = 1;
    sl->batch.cols = calloc(nc, sizeof *sl->batch.cols);
    sl->batch.rows = calloc(bs, sizeof *sl->batch.rows);
    sl->pixels_owned = calloc(nc, sizeof *sl->pixels_owned);
    sl->pixels_cap = calloc(nc, sizeof *sl->pixels_cap);
    if (!sl->batch.cols || !sl->batch.rows || !sl->pixels_owned || !sl->pixels_cap) return false;
    sl->batch.ncols = d->ncols;
    for (int c = 0; c < d->ncols; c++) {
        const struct loom_ds_col *dc = &d->c[c];
        struct loom_batch_col *bc = &sl->batch.cols[c];
        size_t w = (size_t)dc->width, nw;
        if (!loom_mul_size(bs, LOOM_MAX(w, 1), &nw)) return false;
        bc->type = dc->type;
        bc->width = dc->width;
        bool x = uses_x(dc->type), ids = dc->type == LOOM_COL_CATEGORY || dc->type == LOOM_COL_TEXT;
        if (x && !(bc->x = calloc(nw, sizeof(float)))) return false;
        if (x && !(bc->present = calloc(bs, sizeof(float)))) return false;
        if (ids && !(bc->ids = calloc(nw, sizeof(int32_t)))) return false;
        if (dc->type == LOOM_COL_TEXT && !(bc->lengths = calloc(bs, sizeof(int32_t)))) return false;
        if (dc->type == LOOM_COL_IMAGES) {
            if (!(bc->offsets = calloc(bs + 1, sizeof(int64_t)))) return false;
            bc->size = dc->size;
            crop = LOOM_MAX(crop, (size_t)dc->size * (size_t)dc->size * 3);
        }
    }
    return (sl->crop = malloc(crop)) != NULL;
}

static void slot_done(struct slot *sl, int ncols)
{
    if (sl->batch.cols)
        for (int c = 0; c < ncols; c++) {
            struct loom_batch_col *bc = &sl->batch.cols[c];
            free(bc->x);
            free(bc->present);
            free(bc->ids);
            free(bc->lengths);
            free(bc->offsets);
            if (sl->pixels_owned) free(sl->pixels_owned[c]);
        }
    free(sl->batch.cols);
    free(sl->batch.rows);
    free(sl->pixels_owned);
    free(sl->pixels_cap);
    free(sl->crop);
    free(sl->pick);
}

enum loom_status loom_batcher_new(const struct loom_dataset *d, const struct loom_batcher_opts *o,
                                  struct loom_batcher **out, struct loom_error *err)
{
    if (!d || !o || !out)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_batcher_new: NULL argument");
    if (o->batch_size < 1 || o->threads < 0 || o->prefetch < 0 || o->threads > 64 ||
        o->prefetch > 64)
        return loom_error_set(err, LOOM_ERR_INVALID,
                              "batcher: batch_size >= 1, threads and prefetch in 0..64");
    if (d->n > (int64_t)UINT32_MAX)
        return loom_error_set(err, LOOM_ERR_LIMIT, "batcher: %lld rows (at most 2^32-1)",
                              (long long)d->n);
    struct loom_batcher *b = calloc(1, sizeof *b);
    if (!b) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a batcher");
    b->d = d;
    b->o = *o;
    if (b->o.threads == 0) b->o.threads = 1;
    if (b->o.prefetch == 0) b->o.prefetch = 2;
    b->nb = o->drop_last ? d->n / o->batch_size : (d->n + o->batch_size - 1) / o->batch_size;
    b->ring = b->o.prefetch + 1;
    b->held = -1;
    b->perm_epoch[0] = b->perm_epoch[1] = -1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->work, NULL);
    pthread_cond_init(&b->ready, NULL);
    bool ok = (b->slots = calloc((size_t)b->ring, sizeof *b->slots)) != NULL;
    for (int i = 0; ok && i < b->ring; i++) ok = slot_init(b, &b->slots[i]);
    size_t pn = (size_t)LOOM_MAX(d->n, 1);
    ok = ok && (b->perm[0] = malloc(pn * sizeof(uint32_t))) &&
         (b->perm[1] = malloc(pn * sizeof(uint32_t))) &&
         (b->tid = calloc((size_t)b->o.threads, sizeof *b->tid));
    for (int i = 0; ok && i < b->o.threads; i++) {
        ok = pthread_create(&b->tid[i], NULL, worker, b) == 0;
        if (ok) b->nthreads++;
    }
    if (!ok) {
        loom_batcher_free(&b);
        return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory (or threads) for a batcher");
    }
    *out = b;
    return LOOM_OK;
}

enum loom_status loom_batcher_seek(struct loom_batcher *b, int64_t epoch, int64_t index,
                                   struct loom_error *err)
{
    if (!b || epoch < 0 || index < 0 || index > b->nb || epoch > INT64_MAX / (b->nb + 1) - 1)
        return loom_error_set(err, LOOM_ERR_INVALID, "batcher: no batch %lld of epoch %lld",
                              (long long)index, (long long)epoch);
    pthread_mutex_lock(&b->mu);
    b->held = -1;
    while (b->busy > 0) pthread_cond_wait(&b->ready, &b->mu);
    for (int i = 0; i < b->ring; i++) b->slots[i].state = SLOT_FREE;
    b->epoch = epoch;
    b->k = index;
    b->next_assign = head(b);
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    return LOOM_OK;
}

enum loom_status loom_batcher_next(struct loom_batcher *b, const struct loom_batch **out,
                                   struct loom_error *err)
{
    if (!b || !out) return loom_error_set(err, LOOM_ERR_INVALID, "loom_batcher_next: NULL");
    pthread_mutex_lock(&b->mu);
    if (b->held >= 0) {
        b->slots[b->held].state = SLOT_FREE;
        b->held = -1;
    }
    if (b->k >= b->nb) { /* the end of the epoch (or an empty one) */
        b->k = 0;
        b->epoch++;
        pthread_cond_broadcast(&b->work);
        pthread_mutex_unlock(&b->mu);
        *out = NULL;
        return LOOM_OK;
    }
    int64_t g = head(b);
    struct slot *sl = &b->slots[g % b->ring];
    pthread_cond_broadcast(&b->work);
    while (!(sl->state == SLOT_READY && sl->g == g)) pthread_cond_wait(&b->ready, &b->mu);
    b->k++;
    b->held = (int)(g % b->ring);
    pthread_cond_broadcast(&b->work);
    enum loom_status st = sl->st;
    if (st != LOOM_OK && err) *err = sl->err;
    pthread_mutex_unlock(&b->mu);
    if (st == LOOM_OK) *out = &sl->batch;
    return st;
}

void loom_batcher_free(struct loom_batcher **bp)
{
    if (!bp || !*bp) return;
    struct loom_batcher *b = *bp;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->nthreads; i++) pthread_join(b->tid[i], NULL);
    if (b->slots)
        for (int i = 0; i < b->ring; i++) slot_done(&b->slots[i], b->d->ncols);
    free(b->slots);
    free(b->perm[0]);
    free(b->perm[1]);
    free(b->tid);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->ready);
    free(b);
    *bp = NULL;
}
