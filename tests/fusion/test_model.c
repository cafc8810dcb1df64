/* test_model.c — model assembly (params, range mapping), modality dropout,
 * the loss sum, predictions in user units, save -> open. */
#include <math.h>
#include <string.h>

#include "core/ops.h"
#include "fixtures.h"

static const char *yaml_two = "columns:\n"
                              "  a: {type: number}\n"
                              "  b: {type: number}\n"
                              "  k: {type: category}\n"
                              "  y: {type: number, transform: log1p}\n"
                              "  z: {type: binary}\n"
                              "branches:\n"
                              "  left: {encoder: mlp, columns: [a, k]}\n"
                              "  right: {encoder: mlp, columns: [b]}\n"
                              "fusion: {layers: [32, 16], dropout: 0.1, modality_dropout: 0.25}\n"
                              "outputs:\n"
                              "  y: {range: [0, 1000], weight: 2}\n"
                              "  z: {}\n";

static const struct loom_prep_column_info info_two[] = {
    {.width = 1}, {.width = 1}, {.width = 1, .cardinality = 5}, {.width = 1}, {.width = 1}};
static const double mean_two[] = {0, 0, 0, 5, 0}, std_two[] = {1, 1, 1, 2, 1};

static struct loom_model *make(const char *yaml, const struct loom_prep_column_info *info,
                               const double *mean, const double *std, uint64_t seed)
{
    struct loom_schema s;
    fx_schema(&s, yaml);
    struct loom_prep *p = fx_prep(&s, info, mean, std);
    struct loom_model *m = NULL;
    struct loom_error err = {0};
    enum loom_status st = loom_model_new(&s, &p, seed, &fx_opts, &m, &err);
    if (st) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, LOOM_OK);
    assert_null(p);
    return m;
}

/* Random inputs for the model of yaml_two. */
static void fill_two(struct fx_data *d, uint64_t seed)
{
    struct loom_rng r;
    loom_rng_init(&r, seed, 7);
    for (int64_t i = 0; i < d->n; i++) {
        d->x[0][i] = loom_rng_normal(&r);
        d->x[1][i] = loom_rng_normal(&r);
        d->ids[2][i] = 2 + (int32_t)loom_rng_below(&r, 3);
        d->x[3][i] = loom_rng_normal(&r);
        d->x[4][i] = (float)loom_rng_below(&r, 2);
    }
}

LOOM_TEST(model_builds_params)
{
    struct loom_model *m = make(yaml_two, info_two, mean_two, std_two, 1);
    assert_int_equal(m->nbranches, 2);
    assert_int_equal(m->fused_in, 32);
    assert_int_equal(m->width, 16);
    struct loom_param *p = loom_store_find(&m->store, "fusion.0.w");
    assert_non_null(p);
    assert_int_equal(p->t.shape[0], 32);
    assert_int_equal(p->t.shape[1], 32);
    assert_non_null(loom_store_find(&m->store, "fusion.1.bn.mean"));
    assert_true(loom_store_find(&m->store, "fusion.1.bn.var")->buffer);
    assert_non_null(loom_store_find(&m->store, "missing.left"));
    assert_non_null(loom_store_find(&m->store, "missing.right"));
    p = loom_store_find(&m->store, "head.y.w");
    assert_int_equal(p->t.shape[0], 1);
    assert_int_equal(p->t.shape[1], 16);
    assert_int_equal(m->heads[0].weight, 2);
    loom_model_free(&m);
    assert_null(m);
    loom_model_free(&m); /* NULL is fine */
}

LOOM_TEST(model_range_in_normalised_space)
{
    struct loom_model *m = make(yaml_two, info_two, mean_two, std_two, 1);
    const struct loom_head *h = &m->heads[0];
    /* T(v) = (log1p(v) - 5) / 2; the margin (0.05) widens [T(0), T(1000)] */
    double lo = (log1p(0.0) - 5) / 2, hi = (log1p(1000.0) - 5) / 2, w = 0.05 * (hi - lo);
    assert_true(h->has_range);
    assert_near(h->lo, lo, 1e-6);
    assert_near(h->hi, hi, 1e-6);
    assert_near(h->sig_lo, lo - w, 1e-6);
    assert_near(h->sig_hi, hi + w, 1e-6);
    double y;
    assert_true(loom_model_encode_number(m, 3, 1000, &y));
    assert_near(y, hi, 1e-12);
    assert_false(loom_model_encode_number(m, 3, -1, &y)); /* log1p(-1) */
    loom_model_free(&m);

    /* a range log1p cannot take: an error, and the caller keeps its inputs */
    struct loom_schema s;
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s", yaml_two);
    memcpy(strstr(yaml, "[0, 1000]"), "[-2, 100]", 9);
    fx_schema(&s, yaml);
    struct loom_prep *p = fx_prep(&s, info_two, mean_two, std_two);
    struct loom_error err = {0};
    assert_int_equal(loom_model_new(&s, &p, 1, &fx_opts, &m, &err), LOOM_ERR_SCHEMA);
    assert_non_null(strstr(err.message, "range"));
    assert_non_null(p);
    assert_non_null(s.columns);
    loom_prep_free(&p);
    loom_schema_free(&s);
}

/* Predictions of head 0 for d (evaluation mode). */
static double *predict_all(struct loom_model *m, const struct fx_data *d, int head, int *k)
{
    struct loom_batch b;
    struct loom_batch_col cols[8];
    int64_t rows[512];
    assert_true(d->n <= 512);
    fx_batch_all(&b, cols, rows, d);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 0);
    struct loom_forward f;
    assert_int_equal(loom_model_forward(&c, m, &b, &f), LOOM_OK);
    assert_null(f.dropped);
    struct loom_prediction p;
    assert_int_equal(loom_model_predict(m, &f, head, &p, NULL), LOOM_OK);
    double *v = malloc((size_t)(d->n * p.k) * sizeof *v);
    memcpy(v, p.value, (size_t)(d->n * p.k) * sizeof *v);
    *k = p.k;
    loom_prediction_done(&p);
    loom_ctx_done(&c);
    return v;
}

LOOM_TEST(model_predictions_in_user_units)
{
    struct loom_model *m = make(yaml_two, info_two, mean_two, std_two, 3);
    struct loom_schema s = m->schema; /* borrowed for the data */
    struct fx_data d;
    fx_data_init(&d, &s, m->prep, 64);
    fill_two(&d, 1);
    /* a large head weight drives the sigmoid to its ends: the prediction
     * stays inside the widened range, decoded through expm1 */
    const struct loom_head *h = &m->heads[0];
    for (int64_t i = 0; i < h->w->size; i++) h->w->data[i] = 50;
    int k;
    double *v = predict_all(m, &d, 0, &k);
    double ulo = expm1(5 + 2 * (double)h->sig_lo), uhi = expm1(5 + 2 * (double)h->sig_hi);
    bool near_hi = false;
    for (int64_t i = 0; i < d.n; i++) {
        assert_true(v[i] >= ulo * (1 + 1e-5) - 1e-5 && v[i] <= uhi * (1 + 1e-5));
        near_hi |= v[i] > 1000;
    }
    assert_true(near_hi); /* past the range's end: the margin makes it reachable */
    free(v);
    v = predict_all(m, &d, 1, &k); /* binary: probabilities */
    assert_int_equal(k, 1);
    for (int64_t i = 0; i < d.n; i++) assert_true(v[i] >= 0 && v[i] <= 1);
    free(v);
    fx_data_done(&d);
    loom_model_free(&m);

    /* clamp: predictions never leave [0, 1000] */
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s", yaml_two);
    char *r = strstr(yaml, "weight: 2}");
    memcpy(r, "range_mode: clamp}\n  z: {}\n", 28);
    m = make(yaml, info_two, mean_two, std_two, 3);
    assert_int_equal(m->heads[0].range_mode, LOOM_RANGE_CLAMP);
    s = m->schema;
    fx_data_init(&d, &s, m->prep, 64);
    fill_two(&d, 1);
    for (int64_t i = 0; i < m->heads[0].w->size; i++) m->heads[0].w->data[i] = 50;
    v = predict_all(m, &d, 0, &k);
    int at_end = 0;
    for (int64_t i = 0; i < d.n; i++) {
        assert_true(v[i] >= -1e-9 && v[i] <= 1000 * (1 + 1e-6));
        at_end += fabs(v[i]) < 1e-6 || fabs(v[i] - 1000) < 1e-3;
    }
    assert_true(at_end > 0);
    free(v);
    fx_data_done(&d);
    loom_model_free(&m);
}

LOOM_TEST(model_loss_is_weighted_sum)
{
    struct loom_model *m = make(yaml_two, info_two, mean_two, std_two, 5);
    struct fx_data d;
    fx_data_init(&d, &m->schema, m->prep, 40);
    fill_two(&d, 2);
    for (int64_t i = 0; i < d.n; i += 3) d.present[3][i] = 0; /* missing targets */
    d.x[3][0] = NAN;                                          /* ...which may hold anything */
    struct loom_batch b;
    struct loom_batch_col cols[8];
    int64_t rows[64];
    fx_batch_all(&b, cols, rows, &d);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    c.training = c.grad_enabled = true;
    struct loom_forward f;
    assert_int_equal(loom_model_forward(&c, m, &b, &f), LOOM_OK);
    assert_int_equal(loom_model_loss(&c, m, &b, &f), LOOM_OK);
    assert_true(isfinite(f.loss->data[0]));
    assert_near(f.loss->data[0], 2 * f.losses[0] + f.losses[1], 1e-5);
    /* the number loss by hand: mse over present rows */
    double se = 0;
    int n = 0;
    for (int64_t i = 0; i < d.n; i++)
        if (d.present[3][i] != 0) se += pow(f.out[0]->data[i] - d.x[3][i], 2), n++;
    assert_near(f.losses[0], se / n, 1e-5);
    assert_int_equal(loom_backward(&c, f.loss, NULL), LOOM_OK);
    loom_ctx_done(&c);
    fx_data_done(&d);
    loom_model_free(&m);
}

LOOM_TEST(model_modality_dropout_rate)
{
    struct loom_model *m = make(yaml_two, info_two, mean_two, std_two, 7);
    /* recognisable missing vectors */
    for (int b = 0; b < 2; b++)
        for (int64_t e = 0; e < m->missing[b]->size; e++) m->missing[b]->data[e] = 7.0f + b;
    struct fx_data d;
    fx_data_init(&d, &m->schema, m->prep, 500);
    fill_two(&d, 3);
    struct loom_batch b;
    struct loom_batch_col cols[8];
    int64_t rows[512];
    fx_batch_all(&b, cols, rows, &d);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 11);
    int64_t dropped = 0, total = 0;
    for (int rep = 0; rep < 8; rep++) {
        loom_ctx_reset(&c);
        c.training = true;
        struct loom_forward f;
        assert_int_equal(loom_model_forward(&c, m, &b, &f), LOOM_OK);
        assert_non_null(f.dropped);
        for (int64_t i = 0; i < d.n; i++)
            for (int br = 0; br < 2; br++) {
                const float *v = f.branch[br]->data + i * 16;
                bool is_missing = true;
                for (int e = 0; e < 16; e++) is_missing &= v[e] == 7.0f + br;
                assert_int_equal(is_missing, f.dropped[i * 2 + br]); /* tanh never gives 7 */
                dropped += f.dropped[i * 2 + br];
                total++;
            }
    }
    /* 8000 draws of p = 0.25: sd 0.0048, so ±0.02 is > 4 sd */
    assert_near((double)dropped / (double)total, 0.25, 0.02);
    /* never in evaluation */
    loom_ctx_reset(&c);
    c.training = false;
    struct loom_forward f;
    assert_int_equal(loom_model_forward(&c, m, &b, &f), LOOM_OK);
    assert_null(f.dropped);
    for (int64_t i = 0; i < d.n * 16; i++) assert_true(fabsf(f.branch[0]->data[i]) < 1.0f);
    loom_ctx_done(&c);
    fx_data_done(&d);
    loom_model_free(&m);
}

LOOM_TEST(model_save_open_identical)
{
    char dir[512], path[600];
    fx_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.loom", dir);
    struct loom_model *m = make(yaml_two, info_two, mean_two, std_two, 9);
    /* make the batch-norm statistics and weights non-trivial */
    struct loom_rng r;
    loom_rng_init(&r, 4, 4);
    loom_rng_fill_normal(&r, m->store.data, m->store.total, 0, 0.3f);
    for (int i = 0; i < m->nlayers; i++)
        for (int64_t k = 0; k < m->layers[i].rvar->size; k++)
            m->layers[i].rvar->data[k] = 0.5f + fabsf(m->layers[i].rvar->data[k]);
    struct loom_error err = {0};
    assert_int_equal(loom_model_save(m, path, NULL, &err), LOOM_OK);
    struct loom_model *m2 = NULL;
    enum loom_status st = loom_model_open_with(path, &fx_opts, &m2, &err);
    if (st) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, LOOM_OK);
    assert_int_equal(m2->store.n, m->store.n);
    for (int i = 0; i < m->store.n; i++) /* every param and buffer (not the padding) */
        assert_memory_equal(m2->store.params[i]->t.data, m->store.params[i]->t.data,
                            (size_t)m->store.params[i]->t.size * sizeof(float));
    struct fx_data d;
    fx_data_init(&d, &m->schema, m->prep, 100);
    fill_two(&d, 5);
    for (int j = 0; j < 2; j++) {
        int k1, k2;
        double *a = predict_all(m, &d, j, &k1), *b = predict_all(m2, &d, j, &k2);
        assert_int_equal(k1, k2);
        assert_memory_equal(a, b, (size_t)(d.n * k1) * sizeof *a);
        free(a), free(b);
    }
    size_t len;
    assert_null(loom_model_label(m2, 0, 0, &len)); /* a number has no labels */
    /* save -> open -> save gives the same bytes */
    char path2[600];
    snprintf(path2, sizeof path2, "%s/m2.loom", dir);
    assert_int_equal(loom_model_save(m2, path2, NULL, &err), LOOM_OK);
    assert_true(fx_file_hash(path) == fx_file_hash(path2));
    /* a damaged file does not open */
    FILE *f = fopen(path2, "r+b");
    fseek(f, -3, SEEK_END);
    fputc(0x5a, f);
    fclose(f);
    struct loom_model *m3 = NULL;
    assert_int_not_equal(loom_model_open_with(path2, &fx_opts, &m3, &err), LOOM_OK);
    assert_null(m3);
    fx_data_done(&d);
    loom_model_free(&m);
    loom_model_free(&m2);
    fx_rmdir(dir);
}
