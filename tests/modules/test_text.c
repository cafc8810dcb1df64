/* test_text.c — the rnn encoder: widths and params per option, rows without
 * text, the pools against the recurrent ops run directly, gradients,
 * learning whether a keyword appears. */
#include <string.h>

#include "fixtures.h"

enum { V = 20, T1 = 7, T2 = 9, E = 5, H = 4 };

static const struct loom_prep_column_info text_info[] = {
    {.width = T1, .cardinality = V}, {.width = T2, .cardinality = V}, {.width = 1}};

static void text_model(struct mt_model *m, const char *opts)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "columns: {title: {type: text}, body: {type: text}, y: {type: number}}\n"
             "branches:\n"
             "  txt: {encoder: rnn, columns: [title, body], embed: %d, hidden: %d%s}\n"
             "outputs: {y: {}}\n",
             E, H, opts);
    mt_model_init(m, yaml, text_info, 0);
}

/* Rows 0..n-1; row 1 has no title, row 2 no body. */
static void text_batch(struct mt_batch *mb, const struct loom_schema *s, int64_t n, uint64_t seed)
{
    struct loom_rng r;
    loom_rng_init(&r, seed, 0);
    mt_batch_init(mb, s, n);
    int32_t l1[16], l2[16];
    for (int64_t i = 0; i < n; i++) {
        l1[i] = 1 + (int32_t)loom_rng_below(&r, T1);
        l2[i] = 1 + (int32_t)loom_rng_below(&r, T2);
    }
    l1[1] = 0;
    l2[2] = 0;
    mt_tokens(mb, "title", T1, V, l1, &r);
    mt_tokens(mb, "body", T2, V, l2, &r);
}

static const int64_t *shape_of(struct mt_model *m, const char *name)
{
    struct loom_param *p = loom_store_find(&m->store, name);
    if (!p) fail_msg("no param %s", name);
    return p->t.shape;
}

/* Builds the encoder with opts; checks its width and (n, width) outputs in
 * both modes, and zeros for the rows without text when the pools are time
 * pools (no dropout). */
static void check_text(const char *opts, int width, size_t params)
{
    struct mt_model m;
    text_model(&m, opts);
    assert_int_equal(m.e.width, width);
    if (params) assert_int_equal(mt_count(&m.store, "txt."), params);
    struct mt_batch mb;
    text_batch(&mb, &m.s, 5, 1);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    for (int training = 0; training < 2; training++) {
        loom_ctx_reset(&c);
        c.training = c.grad_enabled = training;
        struct loom_tensor *y = loom_encoder_forward(&c, &m.e, &mb.b, NULL);
        if (!y) fail_msg("%s: %s", opts, c.err.message);
        assert_int_equal(y->ndim, 2);
        assert_int_equal(y->shape[0], 5);
        assert_int_equal(y->shape[1], width);
        for (int64_t i = 0; i < y->size; i++) assert_true(isfinite(y->data[i]));
        int half = width / 2; /* title's part, then body's */
        for (int k = 0; k < half; k++) {
            assert_true(y->data[1 * width + k] == 0.0f);
            assert_true(y->data[2 * width + half + k] == 0.0f);
        }
    }
    loom_ctx_done(&c);
    mt_batch_done(&mb);
    mt_model_done(&m);
}

LOOM_TEST(text_widths_and_params)
{
    /* per direction and layer: 4H*(in + H) + 8H (LSTM), 3H*(in + H) + 6H (GRU) */
    size_t lstm = 16 * (E + H) + 32, gru = 12 * (E + H) + 24, emb = V * E;
    check_text("", 2 * 2 * H, emb + lstm); /* default pool: mean_max, shared */
    check_text(", cell: gru", 2 * 2 * H, emb + gru);
    check_text(", pool: mean", 2 * H, 0);
    check_text(", pool: max", 2 * H, 0);
    check_text(", pool: last", 2 * H, 0);
    check_text(", pool: last_mean_max", 2 * 3 * H, 0);
    check_text(", bidirectional: true", 2 * 2 * 2 * H, emb + 2 * lstm);
    check_text(", share: false", 2 * 2 * H, 2 * (emb + lstm));
    /* layer 2 reads the 2H outputs of layer 1 */
    check_text(", layers: 2, bidirectional: true, dropout: 0.5, pool: last", 2 * 2 * H,
               emb + 2 * lstm + 2 * (16 * (2 * H + H) + 32));
    check_text(", conv1d: {kernel: 3, channels: 6}, cell: gru", 2 * 2 * H,
               emb + 6 * E * 3 + 6 + 12 * (6 + H) + 24);
    check_text(", conv1d: {kernel: 1, channels: 2}, share: false, pool: last_mean_max", 2 * 3 * H,
               0);

    struct mt_model m;
    text_model(&m, ", bidirectional: true, layers: 2, share: false, cell: gru");
    assert_int_equal(shape_of(&m, "txt.title.embed.weight")[0], V);
    assert_int_equal(shape_of(&m, "txt.body.rnn.weight_ih_l0_reverse")[0], 3 * H);
    assert_int_equal(shape_of(&m, "txt.body.rnn.weight_ih_l1")[1], 2 * H);
    assert_int_equal(shape_of(&m, "txt.title.rnn.bias_hh_l1_reverse")[0], 3 * H);
    assert_null(loom_store_find(&m.store, "txt.embed.weight"));
    mt_model_done(&m);
}

LOOM_TEST(text_even_kernel_refused)
{
    struct loom_schema s;
    mt_schema(&s, "columns: {t: {type: text}, y: {type: number}}\n"
                  "branches: {b: {encoder: rnn, columns: [t], conv1d: {kernel: 4}}}\n"
                  "outputs: {y: {}}\n");
    struct loom_prep *p = mt_prep(&s, text_info + 1);
    struct loom_store st;
    loom_store_init(&st);
    struct loom_encoder e;
    struct loom_error err = {0};
    assert_int_equal(loom_encoder_init(&e, &s, 0, p, &st, &err), LOOM_ERR_SCHEMA);
    assert_non_null(strstr(err.message, "odd"));
    assert_null(e.cls);
    loom_encoder_done(&e); /* harmless after a failed init */
    loom_store_done(&st);
    loom_prep_free(&p);
    loom_schema_free(&s);
}

/* The pools against loom_lstm and the time pools run on the same params:
 * last = forward output at len-1 and backward output at step 0. */
LOOM_TEST(text_pools_match_ops)
{
    const char *pools[] = {"last", "mean_max", "last_mean_max"};
    for (int pi = 0; pi < 3; pi++) {
        char opts[128];
        snprintf(opts, sizeof opts, ", bidirectional: true, share: true, pool: %s", pools[pi]);
        struct mt_model m;
        text_model(&m, opts);
        struct mt_batch mb;
        text_batch(&mb, &m.s, 5, 2);
        struct loom_ctx c;
        loom_ctx_init(&c, 0, 1);
        struct loom_tensor *y = loom_encoder_forward(&c, &m.e, &mb.b, NULL);
        assert_non_null(y);
        /* title by hand */
        const struct loom_batch_col *bc = &mb.b.cols[0];
        struct loom_tensor *w[8];
        const char *names[8] = {"weight_ih_l0",         "weight_hh_l0",
                                "bias_ih_l0",           "bias_hh_l0",
                                "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                                "bias_ih_l0_reverse",   "bias_hh_l0_reverse"};
        for (int i = 0; i < 8; i++) {
            char name[64];
            snprintf(name, sizeof name, "txt.rnn.%s", names[i]);
            w[i] = &loom_store_find(&m.store, name)->t;
        }
        struct loom_rnn_weights fw = {w[0], w[1], w[2], w[3]}, bw = {w[4], w[5], w[6], w[7]};
        struct loom_tensor *x =
            loom_embedding(&c, &loom_store_find(&m.store, "txt.embed.weight")->t, bc->ids, 5 * T1);
        struct loom_tensor *h =
            loom_lstm(&c, loom_reshape(&c, x, LOOM_SHAPE(5, T1, E)), bc->lengths, &fw, &bw);
        struct loom_tensor *mean = loom_time_mean(&c, h, bc->lengths);
        struct loom_tensor *max = loom_time_max(&c, h, bc->lengths);
        assert_non_null(max);
        int64_t D = 2 * H, width = y->shape[1];
        for (int64_t r = 0; r < 5; r++) {
            const float *yr = y->data + r * width;
            int len = bc->lengths[r], k = 0;
            if (pi != 1) { /* last */
                for (int j = 0; j < H; j++, k++) {
                    float want = len ? h->data[(r * T1 + len - 1) * D + j] : 0;
                    assert_true(yr[k] == want);
                }
                for (int j = H; j < D; j++, k++) {
                    float want = len ? h->data[(r * T1) * D + j] : 0;
                    assert_true(yr[k] == want);
                }
            }
            if (pi != 0) {
                for (int j = 0; j < D; j++, k++) assert_near(yr[k], mean->data[r * D + j], 1e-6);
                for (int j = 0; j < D; j++, k++) assert_true(yr[k] == max->data[r * D + j]);
            }
        }
        loom_ctx_done(&c);
        mt_batch_done(&mb);
        mt_model_done(&m);
    }
}

LOOM_TEST(text_gradcheck)
{
    const char *opts[] = {
        ", bidirectional: true, layers: 2, pool: last_mean_max, share: false",
        ", cell: gru, conv1d: {kernel: 3, channels: 3}, pool: last",
        ", cell: gru, bidirectional: true, pool: mean",
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(opts); i++) {
        struct mt_model m;
        text_model(&m, opts[i]);
        struct mt_batch mb;
        text_batch(&mb, &m.s, 4, 3);
        mt_gradcheck(&m.e, &m.store, &mb.b, true, 3);
        mt_batch_done(&mb);
        mt_model_done(&m);
    }
}

/* Label 1 when token 7 appears anywhere in the text (about half the rows). */
static void keyword(struct mt_batch *mb, const struct loom_schema *s, float *y, int64_t n,
                    uint64_t seed)
{
    enum { T = 12, VK = 30 };
    struct loom_rng r;
    loom_rng_init(&r, seed, 0);
    mt_batch_init(mb, s, n);
    int32_t *len = malloc((size_t)n * sizeof *len);
    assert_non_null(len);
    for (int64_t i = 0; i < n; i++) len[i] = 1 + (int32_t)loom_rng_below(&r, T);
    struct loom_batch_col *bc = mt_tokens(mb, "t", T, VK, len, &r);
    for (int64_t i = 0; i < n; i++) {
        for (int t = 0; t < len[i]; t++)
            if (bc->ids[i * T + t] == 7) bc->ids[i * T + t] = 8;
        y[i] = loom_rng_uniform(&r) < 0.5f;
        if (y[i] > 0) bc->ids[i * T + loom_rng_below(&r, (uint32_t)len[i])] = 7;
    }
    free(len);
}

LOOM_TEST(text_learns_keyword)
{
    const struct loom_prep_column_info info[] = {{.width = 12, .cardinality = 30}, {.width = 1}};
    struct mt_model m;
    mt_model_init(&m,
                  "columns: {t: {type: text}, y: {type: binary}}\n"
                  "branches: {b: {encoder: rnn, columns: [t], embed: 8, hidden: 8}}\n"
                  "outputs: {y: {}}\n",
                  info, 1);
    enum { N = 512, NV = 400 };
    static float y[N], yv[NV];
    struct mt_batch tr, va;
    keyword(&tr, &m.s, y, N, 1);
    keyword(&va, &m.s, yv, NV, 2);
    double loss = mt_fit(&m, &tr.b, y, true, 200, 2e-2f);
    float *p = mt_predict(&m, &va.b);
    int right = 0;
    for (int i = 0; i < NV; i++) right += (p[i] > 0) == (yv[i] > 0.5f);
    printf("text_learns_keyword: train loss %.4f, held-out accuracy %.3f\n", loss,
           (double)right / NV);
    assert_true(right >= 0.95 * NV);
    free(p);
    mt_batch_done(&tr);
    mt_batch_done(&va);
    mt_model_done(&m);
}
