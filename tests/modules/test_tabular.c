/* test_tabular.c — the mlp encoder: widths per option, the inputs it sees
 * (unseen and missing codes, "was missing" flags), gradients, learning. */
#include <string.h>

#include "fixtures.h"

/* cat: 12 codes; num; flag; day: date parts; tags: 4 labels; y: the output. */
static const struct loom_prep_column_info tab_info[] = {
    {.cardinality = 12, .width = 1}, {.width = 1}, {.width = 1}, {.width = LOOM_DATE_NFEAT},
    {.width = 4, .cardinality = 4},  {.width = 1},
};

static void tab_yaml(char *buf, size_t n, const char *num_opts, const char *branch_opts)
{
    snprintf(buf, n,
             "columns:\n"
             "  cat: {type: category}\n"
             "  num: {type: number%s}\n"
             "  flag: {type: binary}\n"
             "  day: {type: date}\n"
             "  tags: {type: set}\n"
             "  y: {type: number}\n"
             "branches:\n"
             "  tab: {encoder: mlp, columns: [cat, num, flag, day, tags]%s}\n"
             "outputs: {y: {}}\n",
             num_opts, branch_opts);
}

static void tab_batch(struct mt_batch *mb, const struct loom_schema *s, int64_t n,
                      struct loom_rng *r)
{
    mt_batch_init(mb, s, n);
    mt_codes(mb, "cat", 12, r);
    mt_values(mb, "num", 1, r);
    mt_values(mb, "flag", 1, r);
    mt_values(mb, "day", LOOM_DATE_NFEAT, r);
    mt_values(mb, "tags", 4, r);
}

static struct loom_tensor *param(struct mt_model *m, const char *name)
{
    struct loom_param *p = loom_store_find(&m->store, name);
    return p ? &p->t : NULL;
}

/* Width and params for one option set; forward in both modes gives (n, width). */
static void check_tab(const char *num_opts, const char *branch_opts, int width, int embed, int nnum,
                      bool bn)
{
    char yaml[1024];
    tab_yaml(yaml, sizeof yaml, num_opts, branch_opts);
    struct mt_model m;
    mt_model_init(&m, yaml, tab_info, 0);
    assert_int_equal(m.e.width, width);
    struct loom_tensor *emb = param(&m, "tab.cat.embed.weight");
    assert_non_null(emb);
    assert_int_equal(emb->shape[0], 12);
    assert_int_equal(emb->shape[1], embed);
    struct loom_tensor *g = param(&m, "tab.bn.weight");
    assert_true(bn == (g != NULL));
    if (g) assert_int_equal(g->size, nnum);
    assert_true(bn == (loom_store_find(&m.store, "tab.bn.running_var") != NULL));
    struct loom_rng r;
    loom_rng_init(&r, 1, 0);
    struct mt_batch mb;
    tab_batch(&mb, &m.s, 7, &r);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    for (int training = 0; training < 2; training++) {
        loom_ctx_reset(&c);
        c.training = c.grad_enabled = training;
        const float *att = (const float *)&c; /* must come back NULL */
        struct loom_tensor *y = loom_encoder_forward(&c, &m.e, &mb.b, &att);
        assert_non_null(y);
        assert_null(att);
        assert_int_equal(y->ndim, 2);
        assert_int_equal(y->shape[0], 7);
        assert_int_equal(y->shape[1], width);
        for (int64_t i = 0; i < y->size; i++) assert_true(isfinite(y->data[i]));
    }
    loom_ctx_done(&c);
    mt_batch_done(&mb);
    mt_model_done(&m);
}

LOOM_TEST(tab_widths)
{
    /* cat: round(1.6 * 12^0.56) = 6; numeric: num + flag, binary, 13 date
     * parts + flag, 4 tags = 21 */
    check_tab("", ", layers: [8]", 8, 6, 21, true);
    check_tab("", ", layers: [8, 5], dropout: 0.3", 5, 6, 21, true);
    check_tab("", ", layers: []", 6 + 21, 6, 21, true);
    check_tab("", ", layers: [], batch_norm: false", 6 + 21, 6, 21, false);
    check_tab("", ", layers: [4], embed: 3", 4, 3, 21, true);
    check_tab(", missing: drop", ", layers: []", 6 + 20, 6, 20, true); /* no flag */
}

LOOM_TEST(tab_embed_rule)
{
    /* the reference model's widths for its cardinalities (the cap of 600
     * needs ~40,000 codes: a table too big for a unit test) */
    const int32_t card[] = {10, 50, 200, 5, 30, 1000, 2};
    const int want[] = {6, 14, 31, 4, 11, 77, 2};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(card); i++) {
        struct loom_prep_column_info info[2] = {{.cardinality = card[i], .width = 1}, {.width = 1}};
        struct mt_model m;
        mt_model_init(&m,
                      "columns: {c: {type: category}, y: {type: number}}\n"
                      "branches: {b: {encoder: mlp, columns: [c], layers: []}}\n"
                      "outputs: {y: {}}\n",
                      info, 0);
        assert_int_equal(m.e.width, want[i]);
        mt_model_done(&m);
    }
}

/* Without layers or batch norm the output is the inputs themselves: the
 * embedding rows of the codes (1 = unseen, 0 = missing), then the values
 * and the "was missing" flags. */
LOOM_TEST(tab_inputs_unseen_and_missing)
{
    char yaml[1024];
    tab_yaml(yaml, sizeof yaml, "", ", layers: [], batch_norm: false");
    struct mt_model m;
    mt_model_init(&m, yaml, tab_info, 0);
    struct loom_rng r;
    loom_rng_init(&r, 2, 0);
    struct mt_batch mb;
    tab_batch(&mb, &m.s, 4, &r);
    struct loom_batch_col *cat = &mb.b.cols[0], *num = &mb.b.cols[1], *day = &mb.b.cols[3];
    cat->ids[0] = 1; /* unseen in training */
    cat->ids[1] = 0; /* missing */
    cat->ids[2] = 11;
    num->present[2] = 0;
    day->present[3] = 0;
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    struct loom_tensor *y = loom_encoder_forward(&c, &m.e, &mb.b, NULL);
    assert_non_null(y);
    const struct loom_tensor *emb = param(&m, "tab.cat.embed.weight");
    int64_t D = y->shape[1];
    for (int64_t row = 0; row < 4; row++) {
        const float *yr = y->data + row * D;
        for (int k = 0; k < 6; k++) assert_true(yr[k] == emb->data[cat->ids[row] * 6 + k]);
        assert_true(yr[6] == num->x[row]);
        assert_true(yr[7] == (row == 2 ? 1.0f : 0.0f));                   /* num missing */
        assert_true(yr[9] == day->x[row * LOOM_DATE_NFEAT]);              /* first part */
        assert_true(yr[9 + LOOM_DATE_NFEAT] == (row == 3 ? 1.0f : 0.0f)); /* day missing */
    }
    /* a code past the table is an error, not a crash */
    loom_ctx_reset(&c);
    cat->ids[0] = 12;
    assert_null(loom_encoder_forward(&c, &m.e, &mb.b, NULL));
    assert_int_equal(c.status, LOOM_ERR_INVALID);
    /* so is a batch whose column has the wrong type */
    loom_ctx_reset(&c);
    cat->ids[0] = 1;
    mb.b.cols[1].type = LOOM_COL_TEXT;
    assert_null(loom_encoder_forward(&c, &m.e, &mb.b, NULL));
    assert_int_equal(c.status, LOOM_ERR_INVALID);
    loom_ctx_done(&c);
    mt_batch_done(&mb);
    mt_model_done(&m);
}

LOOM_TEST(tab_gradcheck)
{
    char yaml[1024];
    tab_yaml(yaml, sizeof yaml, "", ", layers: [6, 5], dropout: 0");
    struct mt_model m;
    mt_model_init(&m, yaml, tab_info, 0);
    struct loom_rng r;
    loom_rng_init(&r, 3, 0);
    struct mt_batch mb;
    tab_batch(&mb, &m.s, 9, &r);
    mt_gradcheck(&m.e, &m.store, &mb.b, true, 4);  /* batch statistics */
    mt_gradcheck(&m.e, &m.store, &mb.b, false, 4); /* running statistics */
    mt_batch_done(&mb);
    mt_model_done(&m);
}

/* y = x when cat is 2, -x when it is 3: no additive model gets below the
 * variance (1); the mlp must learn the interaction. */
static void interaction(struct mt_batch *mb, const struct loom_schema *s, float *y, int64_t n,
                        uint64_t seed)
{
    struct loom_rng r;
    loom_rng_init(&r, seed, 0);
    mt_batch_init(mb, s, n);
    struct loom_batch_col *cat = mt_codes(mb, "cat", 2, &r), *x = mt_values(mb, "x", 1, &r);
    for (int64_t i = 0; i < n; i++) {
        cat->ids[i] += 2;
        y[i] = cat->ids[i] == 2 ? x->x[i] : -x->x[i];
    }
}

LOOM_TEST(tab_learns_interaction)
{
    const struct loom_prep_column_info info[] = {
        {.cardinality = 4, .width = 1}, {.width = 1}, {.width = 1}};
    struct mt_model m;
    mt_model_init(&m,
                  "columns: {cat: {type: category}, x: {type: number}, y: {type: number}}\n"
                  "branches: {tab: {encoder: mlp, columns: [cat, x], layers: [32], dropout: 0}}\n"
                  "outputs: {y: {}}\n",
                  info, 1);
    enum { N = 256, NV = 200 };
    float y[N], yv[NV];
    struct mt_batch tr, va;
    interaction(&tr, &m.s, y, N, 1);
    interaction(&va, &m.s, yv, NV, 2);
    double loss = mt_fit(&m, &tr.b, y, false, 400, 2e-2f);
    float *p = mt_predict(&m, &va.b);
    double mse = 0;
    for (int i = 0; i < NV; i++) mse += (p[i] - yv[i]) * (double)(p[i] - yv[i]) / NV;
    printf("tab_learns_interaction: train loss %.4f, held-out MSE %.4f (variance ~1)\n", loss, mse);
    assert_true(mse < 0.05);
    free(p);
    mt_batch_done(&tr);
    mt_batch_done(&va);
    mt_model_done(&m);
}
