/*
 * image.c — the cnn encoder: the bags of photos of a row into one vector.
 *
 * One CNN for every photo of the batch at once (all image columns of the
 * branch together): per stage i, conv3x3 (no bias, pad 1) + batch norm 2-D +
 * ReLU, a 2x2 max pool between stages (none after the last), then global
 * average pooling: (n,3,S,S) -> (n,C), C the last stage's channels.
 *
 * Then each row's bag (per column) is pooled (cnn.pool):
 *   gated_attention  a_k = softmax_k(w^T (tanh(V h_k) * sigmoid(U h_k)))
 *                    (Ilse et al. 2018), z = sum_k a_k h_k
 *   attention        a_k = softmax_k(w^T tanh(V h_k)), z = sum_k a_k h_k
 *   mean, max        over the bag
 * V, U: (attention, C) with bias; w: (1, attention) without. A row with no
 * photo gets the learned "no photo" vector `empty` (C), zeros at first, one
 * per branch. Several image columns: the pooled vectors are concatenated in
 * column order, width = ncolumns * C. A batch without any photo skips the
 * CNN (batch norm never sees an empty batch).
 *
 * max_images (of each column) caps a bag: its first photos at evaluation, a
 * random subset (the step's stream c->rng, in the photos' order) in
 * training. Not here: flips and crops (cnn.augment) — the batcher's job,
 * where the source image is.
 *
 * Params: "<branch>.cnn.<i>.conv.weight" (U(±1/sqrt(9 C_in)), as nn.Conv2d),
 * "<branch>.cnn.<i>.bn.*", "<branch>.attention.{V,U,w}.*", "<branch>.empty".
 */
#include <string.h>

#include "core/ops.h"
#include "layers.h"

struct image {
    int nstages;
    struct loom_tensor **conv;     /* (nstages): (C_i, C_{i-1}, 3, 3) */
    struct loom_mod_bn *bn;        /* (nstages) */
    struct loom_cnn_stage *stages; /* (nstages): conv[i] and bn[i], as loom_cnn_trunk takes them */
    enum loom_bag_pool pool;
    struct loom_mod_linear V, U, w; /* attention pools only (U: gated only) */
    struct loom_tensor *empty;      /* (C) */
    int C, S, ncols;
    int *max_images; /* (ncols) */
};

static void image_free(struct loom_encoder *e)
{
    struct image *m = e->state;
    if (!m) return;
    free(m->conv);
    free(m->bn);
    free(m->stages);
    free(m->max_images);
    free(m);
    e->state = NULL;
}

static bool is_attention(enum loom_bag_pool p)
{
    return p == LOOM_BAG_POOL_GATED_ATTENTION || p == LOOM_BAG_POOL_ATTENTION;
}

static enum loom_status image_init(struct loom_encoder *e, const struct loom_schema *s, int branch,
                                   const struct loom_prep *p, struct loom_store *store,
                                   struct loom_error *err)
{
    const struct loom_schema_branch *br = &s->branches[branch];
    struct loom_mod_decl d = {store, e->group, br->name, err};
    struct image *m = calloc(1, sizeof *m);
    if (!m) return loom_error_set(err, LOOM_ERR_NOMEM, "branch '%s': out of memory", br->name);
    e->state = m;
    m->nstages = br->cnn.channels.n;
    m->pool = br->cnn.pool;
    m->S = br->cnn.image_size;
    m->ncols = br->ncolumns;
    m->conv = calloc((size_t)LOOM_MAX(1, m->nstages), sizeof *m->conv);
    m->bn = calloc((size_t)LOOM_MAX(1, m->nstages), sizeof *m->bn);
    m->stages = calloc((size_t)LOOM_MAX(1, m->nstages), sizeof *m->stages);
    m->max_images = calloc((size_t)LOOM_MAX(1, m->ncols), sizeof *m->max_images);
    if (!m->conv || !m->bn || !m->stages || !m->max_images) {
        loom_error_set(err, LOOM_ERR_NOMEM, "branch '%s': out of memory", br->name);
        goto fail;
    }
    /* Every max pool needs at least 2x2: S >> (stages - 1) >= 1. */
    if (m->nstages < 1 || m->nstages > LOOM_CNN_TRUNK_MAX_STAGES ||
        (m->S >> (m->nstages - 1)) < 1) {
        loom_error_set(err, LOOM_ERR_SCHEMA,
                       "branch '%s': %d stages halve %dx%d photos below one pixel", br->name,
                       m->nstages, m->S, m->S);
        goto fail;
    }
    for (int j = 0; j < m->ncols; j++) {
        const struct loom_schema_column *sc = &s->columns[br->columns[j]];
        struct loom_prep_column_info info;
        if (loom_prep_column(p, br->columns[j], &info, err)) goto fail;
        if (sc->type != LOOM_COL_IMAGES || info.type != LOOM_COL_IMAGES) {
            loom_error_set(err, LOOM_ERR_SCHEMA, "branch '%s': cnn cannot take %s column '%s'",
                           br->name, loom_col_type_name(sc->type), sc->name);
            goto fail;
        }
        if (info.image_size && info.image_size != m->S) {
            loom_error_set(err, LOOM_ERR_INVALID,
                           "branch '%s': column '%s' is prepared at %d pixels, the CNN takes %d",
                           br->name, sc->name, info.image_size, m->S);
            goto fail;
        }
        m->max_images[j] = sc->images.max_images > 0 ? sc->images.max_images : INT32_MAX;
    }
    int64_t in = 3;
    for (int i = 0; i < m->nstages; i++) {
        int64_t out = br->cnn.channels.v[i];
        char name[32];
        snprintf(name, sizeof name, "cnn.%d.bn", i);
        if (!(m->conv[i] = loom_mod_param(&d, false, LOOM_INIT_FAN_IN, (float)(in * 9),
                                          LOOM_SHAPE(out, in, 3, 3), "cnn.%d.conv.weight", i)) ||
            !loom_mod_bn_init(&d, &m->bn[i], out, name))
            goto fail;
        m->stages[i] = (struct loom_cnn_stage){m->conv[i], m->bn[i].gamma, m->bn[i].beta,
                                               m->bn[i].mean, m->bn[i].var};
        in = out;
    }
    m->C = (int)in;
    int64_t A = br->cnn.attention;
    if (is_attention(m->pool) &&
        (!loom_mod_linear_init(&d, &m->V, m->C, A, true, "attention.V") ||
         (m->pool == LOOM_BAG_POOL_GATED_ATTENTION &&
          !loom_mod_linear_init(&d, &m->U, m->C, A, true, "attention.U")) ||
         !loom_mod_linear_init(&d, &m->w, A, 1, false, "attention.w")))
        goto fail;
    if (!(m->empty = loom_mod_param(&d, false, LOOM_INIT_ZEROS, 0, LOOM_SHAPE(m->C), "empty")))
        goto fail;
    e->width = m->ncols * m->C;
    return LOOM_OK;
fail:
    image_free(e);
    return err ? err->code : LOOM_ERR_NOMEM;
}

/* The photos of the batch, as the CNN and the bag ops take them: bag
 * r*ncols + j holds row r's photos of column j (capped); item i comes from
 * photo src[i] of the branch's photos counted over columns in order
 * (column j's photo k is base[j] + k). */
struct photos {
    float *pixels;   /* (n,3,S,S) */
    int64_t n;       /* items */
    int64_t *off;    /* (N*ncols + 1) */
    int64_t *src;    /* (n), NULL when items are the column's photos as they are */
    int64_t nphotos; /* photos in the batch, all columns */
};

/* Checks column bc's bag layout (offsets[0] = 0, non-decreasing, ending at
 * count) and pixel size. */
static bool bags_ok(struct loom_ctx *c, const struct loom_batch_col *bc, int64_t N, int S,
                    const char *name)
{
    if (bc->count < 0 || !bc->offsets || (bc->count && !bc->pixels) || (bc->count && bc->size != S))
        return loom_fail(c, LOOM_ERR_INVALID,
                         "column '%s': %lld photos of %d pixels in the batch (expected %d)", name,
                         (long long)bc->count, bc->size, S),
               false;
    bool ok = bc->offsets[0] == 0 && bc->offsets[N] == bc->count;
    for (int64_t r = 0; ok && r < N; r++) ok = bc->offsets[r + 1] >= bc->offsets[r];
    if (!ok) loom_fail(c, LOOM_ERR_INVALID, "column '%s': bad photo offsets in the batch", name);
    return ok;
}

/* Chooses k of the cnt photos of a bag into pick (sorted): the first k, or
 * in training a uniform random k-subset. idx: scratch of cnt. */
static void choose(struct loom_ctx *c, int64_t *pick, uint32_t *idx, int64_t cnt, int64_t k)
{
    for (int64_t i = 0; i < cnt; i++) idx[i] = (uint32_t)i;
    if (c->training)
        for (int64_t i = 0; i < k; i++) { /* partial Fisher-Yates */
            int64_t r = i + loom_rng_below(&c->rng, (uint32_t)(cnt - i));
            uint32_t tmp = idx[i];
            idx[i] = idx[r], idx[r] = tmp;
        }
    for (int64_t i = 0; i < k; i++) { /* insertion sort: keep the photos' order */
        int64_t v = idx[i], q = i;
        for (; q > 0 && pick[q - 1] > v; q--) pick[q] = pick[q - 1];
        pick[q] = v;
    }
}

static bool gather(struct loom_ctx *c, const struct image *m, const struct loom_encoder *e,
                   const struct loom_batch *b, struct photos *ph)
{
    const struct loom_schema_branch *br = &e->schema->branches[e->branch];
    int64_t N = b->n, nb = N * m->ncols, maxcnt = 0;
    const struct loom_batch_col **cols =
        loom_arena_alloc(&c->arena, (size_t)m->ncols * sizeof *cols);
    ph->off = loom_arena_alloc(&c->arena, (size_t)(nb + 1) * sizeof *ph->off);
    if (!cols || !ph->off) return loom_fail(c, LOOM_ERR_NOMEM, "cnn: out of memory"), false;
    bool direct = m->ncols == 1;
    ph->nphotos = 0;
    ph->off[0] = 0;
    for (int j = 0; j < m->ncols; j++) {
        if (!(cols[j] = loom_mod_col(c, e, b, j, LOOM_COL_IMAGES)) ||
            !bags_ok(c, cols[j], N, m->S, e->schema->columns[br->columns[j]].name))
            return false;
        ph->nphotos += cols[j]->count;
    }
    for (int64_t r = 0; r < N; r++)
        for (int j = 0; j < m->ncols; j++) {
            int64_t cnt = cols[j]->offsets[r + 1] - cols[j]->offsets[r];
            maxcnt = LOOM_MAX(maxcnt, cnt);
            if (cnt > m->max_images[j]) cnt = m->max_images[j], direct = false;
            ph->off[r * m->ncols + j + 1] = ph->off[r * m->ncols + j] + cnt;
        }
    ph->n = ph->off[nb];
    ph->src = NULL;
    if (direct) {
        ph->pixels = cols[0]->pixels;
        ph->off = cols[0]->offsets;
        return true;
    }
    size_t img = (size_t)3 * (size_t)m->S * (size_t)m->S;
    ph->pixels = loom_arena_alloc(&c->arena, (size_t)ph->n * img * sizeof(float));
    ph->src = loom_arena_alloc(&c->arena, (size_t)ph->n * sizeof *ph->src);
    uint32_t *idx = loom_arena_alloc(&c->arena, (size_t)(maxcnt + 1) * sizeof *idx);
    if ((ph->n && (!ph->pixels || !ph->src)) || !idx)
        return loom_fail(c, LOOM_ERR_NOMEM, "cnn: out of memory for %lld photos", (long long)ph->n),
               false;
    for (int64_t r = 0; r < N; r++) {
        int64_t base = 0;
        for (int j = 0; j < m->ncols; base += cols[j]->count, j++) {
            int64_t first = cols[j]->offsets[r], cnt = cols[j]->offsets[r + 1] - first;
            int64_t i0 = ph->off[r * m->ncols + j], k = ph->off[r * m->ncols + j + 1] - i0;
            int64_t *pick = ph->src + i0;
            if (k < cnt)
                choose(c, pick, idx, cnt, k);
            else
                for (int64_t q = 0; q < k; q++) pick[q] = q;
            for (int64_t q = 0; q < k; q++) {
                memcpy(ph->pixels + (size_t)(i0 + q) * img,
                       cols[j]->pixels + (size_t)(first + pick[q]) * img, img * sizeof(float));
                pick[q] += base + first;
            }
        }
    }
    return true;
}

/* (n,3,S,S) -> (n,C): one op for the whole CNN (core/ops/cnn_trunk.c; the
 * same function as conv2d -> loom_mod_bn -> relu -> max_pool2d per stage and
 * global_avg_pool, with batch norm's momentum and eps). */
static struct loom_tensor *trunk(struct loom_ctx *c, const struct image *m, struct loom_tensor *x)
{
    return loom_cnn_trunk(c, x, m->nstages, m->stages, LOOM_MOD_BN_MOMENTUM, LOOM_MOD_BN_EPS);
}

/* Attention weights a (n) of h (n,C) within each bag. */
static struct loom_tensor *attend(struct loom_ctx *c, const struct image *m, struct loom_tensor *h,
                                  const int64_t *off, int64_t nb)
{
    struct loom_tensor *g = loom_tanh(c, loom_mod_linear(c, &m->V, h));
    if (m->pool == LOOM_BAG_POOL_GATED_ATTENTION)
        g = loom_mul(c, g, loom_sigmoid(c, loom_mod_linear(c, &m->U, h)));
    return loom_bag_softmax(c, loom_mod_linear(c, &m->w, g), off, nb);
}

/* Each photo's weight, in the batch's order over columns; 0 for the photos
 * a cap left out. NULL on out of memory (recorded in c). */
static const float *photo_attention(struct loom_ctx *c, const struct photos *ph,
                                    const struct loom_tensor *a)
{
    if (!ph->src) return a->data;
    float *att = loom_arena_alloc(&c->arena, (size_t)(ph->nphotos + 1) * sizeof *att);
    if (!att) return loom_fail(c, LOOM_ERR_NOMEM, "cnn: out of memory");
    memset(att, 0, (size_t)ph->nphotos * sizeof *att);
    for (int64_t i = 0; i < ph->n; i++) att[ph->src[i]] = a->data[i];
    return att;
}

static struct loom_tensor *image_forward(struct loom_ctx *c, const struct loom_encoder *e,
                                         const struct loom_batch *b, const float **attention)
{
    struct image *m = e->state;
    int64_t N = b->n, nb = N * m->ncols;
    struct photos ph;
    if (!gather(c, m, e, b, &ph)) return NULL;
    struct loom_tensor *h, *z, *a = NULL;
    if (ph.n > 0)
        h = trunk(c, m, loom_tensor_wrap(c, ph.pixels, LOOM_SHAPE(ph.n, 3, m->S, m->S)));
    else /* no photo at all: every bag takes `empty` */
        h = loom_tensor_new(c, LOOM_SHAPE(0, m->C));
    switch (m->pool) {
    case LOOM_BAG_POOL_GATED_ATTENTION:
    case LOOM_BAG_POOL_ATTENTION:
        a = ph.n > 0 ? attend(c, m, h, ph.off, nb) : loom_tensor_new(c, LOOM_SHAPE(0));
        z = loom_bag_weighted_sum(c, h, a, ph.off, nb, m->empty);
        break;
    case LOOM_BAG_POOL_MEAN:
        z = loom_bag_mean(c, h, ph.off, nb, m->empty);
        break;
    case LOOM_BAG_POOL_MAX:
        z = loom_bag_max(c, h, ph.off, nb, m->empty);
        break;
    default:
        return loom_fail(c, LOOM_ERR_INTERNAL, "cnn: pool %d", (int)m->pool);
    }
    if (!z) return NULL;
    if (a && !(*attention = photo_attention(c, &ph, a))) return NULL;
    return m->ncols == 1 ? z : loom_reshape(c, z, LOOM_SHAPE(N, (int64_t)m->ncols * m->C));
}

const struct loom_encoder_class loom_encoder_cnn = {
    .name = "cnn",
    .kind = LOOM_ENC_CNN,
    .init = image_init,
    .forward = image_forward,
    .free = image_free,
};
