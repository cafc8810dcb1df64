/* test_image.c — the cnn encoder: widths and params per pool, empty bags and
 * batches without photos, several image columns, max_images, attention
 * weights, gradients, learning a bag task. */
#include <string.h>

#include "core/onednn.h"
#include "fixtures.h"

enum { S = 8 };

static const struct loom_prep_column_info img_info[] = {
    {.image_size = S}, {.image_size = S}, {.width = 1}};

static void img_model(struct mt_model *m, const char *col_opts, const char *opts)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "columns: {photos: {type: images%s}, extra: {type: images}, y: {type: number}}\n"
             "branches:\n"
             "  img: {encoder: cnn, columns: [photos], image_size: %d, channels: [4, 6],\n"
             "        attention: 5%s}\n"
             "  more: {encoder: cnn, columns: [extra], image_size: %d}\n"
             "outputs: {y: {}}\n",
             col_opts, S, opts, S);
    mt_model_init(m, yaml, img_info, 0);
}

static struct loom_tensor *param(struct mt_model *m, const char *name)
{
    struct loom_param *p = loom_store_find(&m->store, name);
    if (!p) fail_msg("no param %s", name);
    return &p->t;
}

/* The learned "no photo" vector set to recognisable values. */
static const float *set_empty(struct mt_model *m)
{
    struct loom_tensor *e = param(m, "img.empty");
    for (int64_t i = 0; i < e->size; i++) e->data[i] = 0.5f + (float)i;
    return e->data;
}

/* Each non-empty bag's weights sum to 1; each is in (0, 1]. */
static void check_attention(const float *a, const int64_t *off, int64_t n)
{
    assert_non_null(a);
    for (int64_t r = 0; r < n; r++) {
        if (off[r] == off[r + 1]) continue;
        double sum = 0;
        for (int64_t k = off[r]; k < off[r + 1]; k++) {
            assert_true(a[k] > 0 && a[k] <= 1);
            sum += a[k];
        }
        assert_near(sum, 1.0, 1e-5);
    }
}

static void check_pool(const char *pool, size_t params, bool attention)
{
    char opts[64];
    snprintf(opts, sizeof opts, ", pool: %s", pool);
    struct mt_model m;
    img_model(&m, "", opts);
    assert_int_equal(m.e.width, 6);
    assert_int_equal(mt_count(&m.store, "img."), params);
    const float *empty = set_empty(&m);
    struct loom_rng r;
    loom_rng_init(&r, 1, 0);
    struct mt_batch mb;
    mt_batch_init(&mb, &m.s, 5);
    const int64_t counts[5] = {2, 0, 1, 3, 0};
    const struct loom_batch_col *bc = mt_photos(&mb, "photos", S, counts, &r);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    for (int training = 0; training < 2; training++) {
        loom_ctx_reset(&c);
        c.training = c.grad_enabled = training;
        const float *att = NULL;
        struct loom_tensor *y = loom_encoder_forward(&c, &m.e, &mb.b, &att);
        if (!y) fail_msg("%s: %s", pool, c.err.message);
        assert_int_equal(y->shape[0], 5);
        assert_int_equal(y->shape[1], 6);
        for (int k = 0; k < 6; k++) {
            assert_true(y->data[1 * 6 + k] == empty[k]);
            assert_true(y->data[4 * 6 + k] == empty[k]);
        }
        if (attention)
            check_attention(att, bc->offsets, 5);
        else
            assert_null(att);
        if (training) assert_int_equal(loom_backward(&c, loom_scale(&c, y, 1.0f), NULL), LOOM_OK);
    }
    loom_ctx_done(&c);
    mt_batch_done(&mb);
    mt_model_done(&m);
}

LOOM_TEST(image_widths_per_pool)
{
    /* conv 3*4*9 + bn 2*4 + conv 4*6*9 + bn 2*6 + empty 6 = 350; attention
     * V 6*5+5, w 5; gated also U 6*5+5 */
    check_pool("gated_attention", 350 + 35 + 35 + 5, true);
    check_pool("attention", 350 + 35 + 5, true);
    check_pool("mean", 350, false);
    check_pool("max", 350, false);
}

/* No photo in the whole batch: the CNN is skipped, every row is `empty`,
 * and backward reaches `empty` (one gradient per row). */
LOOM_TEST(image_batch_without_photos)
{
    const char *pools[] = {"gated_attention", "attention", "mean", "max"};
    for (int pi = 0; pi < 4; pi++) {
        char opts[64];
        snprintf(opts, sizeof opts, ", pool: %s", pools[pi]);
        struct mt_model m;
        img_model(&m, "", opts);
        const float *empty = set_empty(&m);
        struct mt_batch mb;
        mt_batch_init(&mb, &m.s, 3);
        const int64_t counts[3] = {0, 0, 0};
        struct loom_rng r;
        loom_rng_init(&r, 1, 0);
        mt_photos(&mb, "photos", S, counts, &r);
        struct loom_ctx c;
        loom_ctx_init(&c, 0, 1);
        for (int training = 0; training < 2; training++) {
            loom_ctx_reset(&c);
            c.training = c.grad_enabled = training;
            struct loom_tensor *y = loom_encoder_forward(&c, &m.e, &mb.b, NULL);
            if (!y) fail_msg("%s: %s", pools[pi], c.err.message);
            for (int64_t i = 0; i < y->size; i++) assert_true(y->data[i] == empty[i % 6]);
            if (!training) continue;
            loom_store_zero_grad(&m.store);
            assert_int_equal(loom_backward(&c, y, NULL), LOOM_OK);
            const struct loom_tensor *e = param(&m, "img.empty");
            for (int k = 0; k < 6; k++) assert_true(e->grad[k] == 3.0f);
        }
        loom_ctx_done(&c);
        mt_batch_done(&mb);
        mt_model_done(&m);
    }
}

/* Two image columns in one branch: one CNN, pooled per column, concatenated
 * in column order; attention over both columns' photos in that order. */
LOOM_TEST(image_two_columns)
{
    struct mt_model m;
    mt_model_init(&m,
                  "columns: {a: {type: images}, b: {type: images}, y: {type: number}}\n"
                  "branches: {img: {encoder: cnn, columns: [a, b], image_size: 8,\n"
                  "                 channels: [4, 6], attention: 5}}\n"
                  "outputs: {y: {}}\n",
                  img_info, 0);
    assert_int_equal(m.e.width, 12);
    const float *empty = set_empty(&m);
    struct loom_rng r;
    loom_rng_init(&r, 4, 0);
    struct mt_batch mb;
    mt_batch_init(&mb, &m.s, 3);
    const int64_t ca[3] = {0, 2, 1}, cb[3] = {3, 0, 1};
    const struct loom_batch_col *a = mt_photos(&mb, "a", S, ca, &r);
    const struct loom_batch_col *b = mt_photos(&mb, "b", S, cb, &r);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    for (int training = 0; training < 2; training++) {
        loom_ctx_reset(&c);
        c.training = c.grad_enabled = training;
        const float *att = NULL;
        struct loom_tensor *y = loom_encoder_forward(&c, &m.e, &mb.b, &att);
        if (!y) fail_msg("%s", c.err.message);
        assert_int_equal(y->shape[1], 12);
        for (int k = 0; k < 6; k++) {
            assert_true(y->data[0 * 12 + k] == empty[k]);     /* row 0: no a */
            assert_true(y->data[1 * 12 + 6 + k] == empty[k]); /* row 1: no b */
            assert_true(y->data[0 * 12 + 6 + k] != empty[k]);
        }
        check_attention(att, a->offsets, 3);
        check_attention(att + a->count, b->offsets, 3);
    }
    /* in evaluation, each column alone gives the same pooled vectors (one
     * CNN call or two: the running statistics make no difference) */
    loom_ctx_reset(&c);
    c.training = c.grad_enabled = false;
    struct loom_tensor *both = loom_encoder_forward(&c, &m.e, &mb.b, NULL);
    struct mt_batch one;
    mt_batch_init(&one, &m.s, 3);
    one.b.cols[0] = mb.b.cols[0];
    one.b.cols[1] = mb.b.cols[0]; /* column a in both places */
    struct loom_tensor *aa = loom_encoder_forward(&c, &m.e, &one.b, NULL);
    assert_non_null(aa);
    for (int64_t row = 0; row < 3; row++)
        for (int k = 0; k < 6; k++)
            assert_near(aa->data[row * 12 + k], both->data[row * 12 + k], 1e-5);
    loom_ctx_done(&c);
    mt_batch_done(&one);
    mt_batch_done(&mb);
    mt_model_done(&m);
}

/* max_images 2: evaluation pools the first 2 photos of a bag of 5 (as if
 * the others were not there), training a random 2; the photos left out
 * get weight 0. */
LOOM_TEST(image_max_images)
{
    struct mt_model m;
    img_model(&m, ", max_images: 2", "");
    struct loom_rng r;
    loom_rng_init(&r, 5, 0);
    struct mt_batch big, small;
    mt_batch_init(&big, &m.s, 3);
    mt_batch_init(&small, &m.s, 3);
    const int64_t cbig[3] = {5, 1, 0}, csmall[3] = {2, 1, 0};
    struct loom_batch_col *pb = mt_photos(&big, "photos", S, cbig, &r);
    struct loom_batch_col *ps = mt_photos(&small, "photos", S, csmall, &r);
    size_t img = 3 * S * S * sizeof(float);
    memcpy(ps->pixels, pb->pixels, 2 * img);
    memcpy(ps->pixels + 2 * 3 * S * S, pb->pixels + 5 * 3 * S * S, img);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    const float *att = NULL;
    struct loom_tensor *yb = loom_encoder_forward(&c, &m.e, &big.b, &att);
    assert_non_null(yb);
    float ab[6];
    memcpy(ab, att, sizeof ab);
    struct loom_tensor *ys = loom_encoder_forward(&c, &m.e, &small.b, &att);
    assert_non_null(ys);
    for (int64_t i = 0; i < ys->size; i++) assert_near(yb->data[i], ys->data[i], 1e-6);
    assert_near(ab[0], att[0], 1e-6);
    assert_near(ab[1], att[1], 1e-6);
    assert_true(ab[2] == 0 && ab[3] == 0 && ab[4] == 0 && ab[5] == 1.0f);
    /* training: 2 of the 5, different subsets over steps */
    unsigned seen = 0;
    for (int step = 0; step < 20; step++) {
        loom_ctx_reset(&c);
        c.training = c.grad_enabled = true;
        const float *a = NULL;
        assert_non_null(loom_encoder_forward(&c, &m.e, &big.b, &a));
        unsigned mask = 0;
        double sum = 0;
        for (int k = 0; k < 5; k++)
            if (a[k] > 0) mask |= 1u << k, sum += a[k];
        assert_int_equal(__builtin_popcount(mask), 2);
        assert_near(sum, 1.0, 1e-5);
        assert_true(a[5] == 1.0f);
        seen |= mask;
    }
    assert_int_equal(seen, 31); /* every photo was picked at some step */
    loom_ctx_done(&c);
    mt_batch_done(&big);
    mt_batch_done(&small);
    mt_model_done(&m);
}

LOOM_TEST(image_gradcheck)
{
    const char *opts[] = {", pool: gated_attention", ", pool: attention", ", pool: max",
                          ", pool: mean"};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(opts); i++) {
        struct mt_model m;
        img_model(&m, "", opts[i]);
        set_empty(&m);
        struct loom_rng r;
        loom_rng_init(&r, 6, 0);
        struct mt_batch mb;
        mt_batch_init(&mb, &m.s, 4);
        const int64_t counts[4] = {2, 0, 1, 3};
        mt_photos(&mb, "photos", S, counts, &r);
        mt_gradcheck(&m.e, &m.store, &mb.b, true, 3);
        if (i == 0) mt_gradcheck(&m.e, &m.store, &mb.b, false, 3);
        mt_batch_done(&mb);
        mt_model_done(&m);
    }
}

/* A bag is positive when one of its photos shows a cross; the others show
 * a filled square of the same brightness, or nothing. */
enum { LS = 12 };
static void draw(float *img, struct loom_rng *r, int kind)
{
    for (int i = 0; i < 3 * LS * LS; i++) img[i] = 0.3f * (loom_rng_uniform(r) - 0.5f);
    if (kind == 2) return;
    int cy = 2 + (int)loom_rng_below(r, LS - 4), cx = 2 + (int)loom_rng_below(r, LS - 4);
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            if (kind == 0 && dx && dy) continue;   /* a cross: 5 pixels */
            if (kind == 1 && !dx && !dy) continue; /* a ring: 8 pixels */
            for (int ch = 0; ch < 3; ch++) img[(ch * LS + cy + dy) * LS + cx + dx] = 1.0f;
        }
}

static void bags(struct mt_batch *mb, const struct loom_schema *s, float *y, int64_t n,
                 uint64_t seed)
{
    struct loom_rng r;
    loom_rng_init(&r, seed, 0);
    mt_batch_init(mb, s, n);
    int64_t *counts = malloc((size_t)n * sizeof *counts);
    assert_non_null(counts);
    for (int64_t i = 0; i < n; i++) counts[i] = loom_rng_below(&r, 5);
    struct loom_batch_col *bc = mt_photos(mb, "photos", LS, counts, &r);
    for (int64_t i = 0; i < n; i++) {
        y[i] = 0;
        for (int64_t k = bc->offsets[i]; k < bc->offsets[i + 1]; k++) {
            int kind = loom_rng_uniform(&r) < 0.25f ? 0 : 1 + (int)loom_rng_below(&r, 2);
            y[i] = kind == 0 ? 1.0f : y[i];
            draw(bc->pixels + k * 3 * LS * LS, &r, kind);
        }
    }
    free(counts);
}

/* Learns which bags hold a given kind of photo; with bf16 (when the CPU has
 * it) to the same threshold. */
static void learns_bags(bool bf16)
{
    const struct loom_prep_column_info info[] = {{.image_size = LS}, {.width = 1}};
    struct mt_model m;
    mt_model_init(&m,
                  "columns: {photos: {type: images}, y: {type: binary}}\n"
                  "branches: {img: {encoder: cnn, columns: [photos], image_size: 12,\n"
                  "                 channels: [8, 16], attention: 16}}\n"
                  "outputs: {y: {}}\n",
                  info, 1);
    m.bf16 = bf16;
    enum { N = 400, NV = 300 };
    static float y[N], yv[NV];
    struct mt_batch tr, va;
    bags(&tr, &m.s, y, N, 1);
    bags(&va, &m.s, yv, NV, 2);
    double loss = mt_fit(&m, &tr.b, y, true, 150, 1e-2f);
    float *p = mt_predict(&m, &va.b);
    int right = 0, pos = 0;
    for (int i = 0; i < NV; i++) right += (p[i] > 0) == (yv[i] > 0.5f), pos += yv[i] > 0.5f;
    printf("image_learns_bags%s: train loss %.6f, held-out accuracy %.3f (positives %.2f)\n",
           bf16 ? " (bf16)" : "", loss, (double)right / NV, (double)pos / NV);
    assert_true(right >= 0.9 * NV);
    free(p);
    mt_batch_done(&tr);
    mt_batch_done(&va);
    mt_model_done(&m);
}

LOOM_TEST(image_learns_bags)
{
    learns_bags(false);
}

LOOM_TEST(image_learns_bags_bf16)
{
    if (!loom_dnnl_bf16()) {
        printf("image_learns_bags_bf16: skipped (no AVX512-BF16/AMX on this CPU)\n");
        return;
    }
    learns_bags(true);
}
