/*
 * test_train.c — the trainer end to end on synthetic tasks: each output type
 * learns to a stated threshold on held-out rows, several outputs at once,
 * exact resume (bit-identical weights and moments), NaN stop and skip,
 * checkpoints and metrics.jsonl, lr-find.
 *
 * Inputs: a, b ~ N(0,1) (numbers, already normalised) and k, a category of
 * codes 2..4; branches left = [a, k], right = [b]. Targets are functions of
 * them, named in each test.
 */
#include <math.h>
#include <string.h>

#include "fixtures.h"

#define NTRAIN 512
#define NVALID 256

static const char *head_yaml = "columns:\n"
                               "  a: {type: number}\n"
                               "  b: {type: number}\n"
                               "  k: {type: category}\n";

static const char *fusion_yaml; /* NULL: the default below */

/* A schema of head_yaml + cols + branches + outputs + fusion/training. */
static void task_schema(struct loom_schema *s, const char *cols, const char *outputs,
                        const char *training)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "%s%s"
             "branches:\n"
             "  left: {encoder: mlp, columns: [a, k]}\n"
             "  right: {encoder: mlp, columns: [b]}\n"
             "fusion: %s\n"
             "outputs:\n%s"
             "training: %s\n",
             head_yaml, cols, fusion_yaml ? fusion_yaml : "{layers: [32], dropout: 0.05}", outputs,
             training ? training : "{epochs: 12, batch_size: 32, optimizer: {lr: 0.01}, seed: 3}");
    fx_schema(s, yaml);
}

typedef void (*fill_fn)(struct fx_data *d, struct loom_rng *r);

static void fill_inputs(struct fx_data *d, struct loom_rng *r)
{
    for (int64_t i = 0; i < d->n; i++) {
        d->x[0][i] = loom_rng_normal(r);
        d->x[1][i] = loom_rng_normal(r);
        d->ids[2][i] = 2 + (int32_t)loom_rng_below(r, 3);
    }
}

struct task {
    struct loom_model *m;
    struct fx_data train, valid;
    struct fx_source ts, vs;
    struct loom_metrics vm;
};

/* Build the model, make NTRAIN + NVALID rows with fill, sources over them. */
static void task_init(struct task *t, const char *cols, const char *outputs, const char *training,
                      const struct loom_prep_column_info *extra, const double *mean,
                      const double *std, fill_fn fill)
{
    memset(t, 0, sizeof *t);
    struct loom_schema s;
    task_schema(&s, cols, outputs, training);
    struct loom_prep_column_info info[8] = {
        {.width = 1}, {.width = 1}, {.width = 1, .cardinality = 5}};
    for (int i = 3; i < s.ncolumns; i++) info[i] = extra[i - 3];
    struct loom_prep *p = fx_prep(&s, info, mean, std);
    struct loom_error err = {0};
    enum loom_status st = loom_model_new(&s, &p, (uint64_t)s.training.seed, &fx_opts, &t->m, &err);
    if (st) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, LOOM_OK);
    struct loom_rng r;
    loom_rng_init(&r, 99, 1);
    fx_data_init(&t->train, &t->m->schema, t->m->prep, NTRAIN);
    fx_data_init(&t->valid, &t->m->schema, t->m->prep, NVALID);
    fill_inputs(&t->train, &r), fill(&t->train, &r);
    fill_inputs(&t->valid, &r), fill(&t->valid, &r);
    fx_source_init(&t->ts, &t->train, t->m->schema.training.batch_size, true, 17);
    fx_source_init(&t->vs, &t->valid, 64, false, 0);
    assert_int_equal(loom_metrics_init(&t->vm, t->m, NULL), LOOM_OK);
}

static void task_train(struct task *t, struct loom_train_result *r)
{
    struct loom_train_opts o = {.checkpoint_dir = "", .data_seed = 17};
    struct loom_error err = {0};
    enum loom_status st = loom_train(t->m, &t->ts.src, &t->vs.src, &o, r, &err);
    if (st) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, LOOM_OK);
    assert_int_equal(loom_evaluate(t->m, &t->vs.src, &t->vm, &err), LOOM_OK);
}

static double metric(const struct task *t, int head, const char *name)
{
    double v = loom_macc_get(&t->vm.acc[head], name);
    printf("    %s.%s = %.4f\n", t->vm.names[head], name, v);
    return v;
}

static void task_done(struct task *t)
{
    loom_metrics_done(&t->vm);
    fx_source_done(&t->ts), fx_source_done(&t->vs);
    fx_data_done(&t->train), fx_data_done(&t->valid);
    loom_model_free(&t->m);
}

/* ---- one output type each ---- */

/* y = 10 + 3·(0.8 a − 0.5 b + 0.4·[k = 3]) in user units, range [0, 20]. */
static void fill_number(struct fx_data *d, struct loom_rng *r)
{
    for (int64_t i = 0; i < d->n; i++)
        d->x[3][i] = 0.8f * d->x[0][i] - 0.5f * d->x[1][i] + 0.4f * (d->ids[2][i] == 3) +
                     0.05f * loom_rng_normal(r);
}

LOOM_TEST(learn_number_with_range)
{
    struct task t;
    const struct loom_prep_column_info extra[] = {{.width = 1}};
    double mean[] = {0, 0, 0, 10}, std[] = {1, 1, 1, 3};
    task_init(&t, "  y: {type: number}\n", "  y: {range: [0, 20], loss: huber}\n", NULL, extra,
              mean, std, fill_number);
    struct loom_train_result r;
    task_train(&t, &r);
    assert_int_equal(r.epochs, 12);
    /* the target's sd is 3·0.95 ≈ 2.9 in user units; noise 0.15 */
    assert_true(metric(&t, 0, "r2") > 0.95);
    assert_true(metric(&t, 0, "rmse") < 0.6);
    task_done(&t);
}

/* z = [a + 0.5 b > 0.8]: about 24 % positives; class_weights auto. */
static void fill_binary(struct fx_data *d, struct loom_rng *r)
{
    (void)r;
    for (int64_t i = 0; i < d->n; i++) d->x[3][i] = d->x[0][i] + 0.5f * d->x[1][i] > 0.8f;
}

LOOM_TEST(learn_binary_class_weights)
{
    struct task t;
    const struct loom_prep_column_info extra[] = {{.width = 1}};
    task_init(&t, "  z: {type: binary}\n", "  z: {class_weights: auto}\n", NULL, extra, NULL, NULL,
              fill_binary);
    struct loom_train_result r;
    task_train(&t, &r);
    int64_t pos = 0;
    for (int64_t i = 0; i < NTRAIN; i++) pos += t.train.x[3][i] > 0.5f;
    /* pos_weight = negatives / positives of the training rows */
    assert_near(t.m->heads[0].cw->data[0], (double)(NTRAIN - pos) / (double)pos, 1e-5);
    assert_true(metric(&t, 0, "accuracy") > 0.9);
    assert_true(metric(&t, 0, "auc") > 0.97);
    assert_true(metric(&t, 0, "f1") > 0.8);
    task_done(&t);
}

/* c = 2 + [a > 0] + 2·[b > 0.5]: codes 2..5, one in ten rows missing
 * (code 0: no target) and a rare code 5 made rarer; class_weights auto. */
static void fill_category(struct fx_data *d, struct loom_rng *r)
{
    for (int64_t i = 0; i < d->n; i++) {
        int32_t c = 2 + (d->x[0][i] > 0) + 2 * (d->x[1][i] > 0.5f);
        if (loom_rng_uniform(r) < 0.1f) c = 0;
        d->ids[3][i] = c;
    }
}

LOOM_TEST(learn_category_class_weights)
{
    struct task t;
    const struct loom_prep_column_info extra[] = {{.width = 1, .cardinality = 6}};
    task_init(&t, "  c: {type: category}\n", "  c: {class_weights: auto}\n",
              "{epochs: 15, batch_size: 32, optimizer: {lr: 0.01}, seed: 3}", extra, NULL, NULL,
              fill_category);
    struct loom_train_result r;
    task_train(&t, &r);
    /* balanced weights: N / (K' n_k), codes 0 and 1 left at 1 */
    int64_t n[6] = {0}, tot = 0;
    for (int64_t i = 0; i < NTRAIN; i++) n[t.train.ids[3][i]]++;
    for (int k = 2; k < 6; k++) tot += n[k];
    for (int k = 2; k < 6; k++)
        assert_near(t.m->heads[0].cw->data[k], (double)tot / (4.0 * (double)n[k]), 1e-4);
    assert_near(t.m->heads[0].cw->data[0], 1, 0);
    int64_t missing = 0;
    for (int64_t i = 0; i < NVALID; i++) missing += t.valid.ids[3][i] == 0;
    assert_int_equal(t.vm.acc[0].n, NVALID - missing); /* missing targets not counted */
    assert_true(metric(&t, 0, "accuracy") > 0.85);
    assert_true(metric(&t, 0, "top3") > 0.97);
    assert_true(metric(&t, 0, "f1") > 0.8);
    task_done(&t);
}

/* labels: [a > 0], [b > 0], [a + b > 1] */
static void fill_set(struct fx_data *d, struct loom_rng *r)
{
    (void)r;
    for (int64_t i = 0; i < d->n; i++) {
        float a = d->x[0][i], b = d->x[1][i];
        d->x[3][i * 3 + 0] = a > 0;
        d->x[3][i * 3 + 1] = b > 0;
        d->x[3][i * 3 + 2] = a + b > 1;
    }
}

LOOM_TEST(learn_set)
{
    struct task t;
    const struct loom_prep_column_info extra[] = {{.width = 3, .cardinality = 3}};
    task_init(&t, "  tags: {type: set}\n", "  tags: {}\n", NULL, extra, NULL, NULL, fill_set);
    struct loom_train_result r;
    task_train(&t, &r);
    assert_true(metric(&t, 0, "f1") > 0.9);
    assert_true(metric(&t, 0, "macro_f1") > 0.85);
    assert_true(metric(&t, 0, "auc") > 0.97);
    task_done(&t);
}

/* v = 2·(a, b, a − b)/|…|: the direction matters, not the length (cosine) */
static void fill_vector(struct fx_data *d, struct loom_rng *r)
{
    (void)r;
    for (int64_t i = 0; i < d->n; i++) {
        float a = d->x[0][i], b = d->x[1][i], v[3] = {a, b, a - b};
        float nrm = sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) + 1e-6f;
        for (int k = 0; k < 3; k++) d->x[3][i * 3 + k] = 2 * v[k] / nrm;
    }
}

LOOM_TEST(learn_vector_cosine)
{
    struct task t;
    const struct loom_prep_column_info extra[] = {{.width = 3}};
    task_init(&t, "  emb: {type: vector, dim: 3}\n", "  emb: {loss: cosine}\n", NULL, extra, NULL,
              NULL, fill_vector);
    struct loom_train_result r;
    task_train(&t, &r);
    assert_true(metric(&t, 0, "cosine") > 0.95);
    task_done(&t);
}

/* number and binary at once, weighted */
static void fill_multi(struct fx_data *d, struct loom_rng *r)
{
    for (int64_t i = 0; i < d->n; i++) {
        d->x[3][i] = 0.8f * d->x[0][i] - 0.5f * d->x[1][i] + 0.05f * loom_rng_normal(r);
        d->x[4][i] = d->x[0][i] * d->x[1][i] > 0; /* an interaction of both branches */
    }
}

LOOM_TEST(learn_several_outputs)
{
    struct task t;
    const struct loom_prep_column_info extra[] = {{.width = 1}, {.width = 1}};
    task_init(&t, "  y: {type: number}\n  z: {type: binary}\n",
              "  y: {weight: 0.5}\n  z: {weight: 2, metric: accuracy}\n",
              "{epochs: 15, batch_size: 32, optimizer: {lr: 0.01}, seed: 3}", extra, NULL, NULL,
              fill_multi);
    struct loom_train_result r;
    task_train(&t, &r);
    assert_true(metric(&t, 0, "r2") > 0.9);
    assert_true(metric(&t, 1, "accuracy") > 0.85);
    task_done(&t);
}

/* ---- checkpoints, resume, NaN ---- */

static const char *resume_training =
    "{epochs: 3, batch_size: 16, optimizer: {lr: 0.01}, seed: 5, clip_norm: 1.0}";

static void fill_resume(struct fx_data *d, struct loom_rng *r)
{
    fill_number(d, r);
}

/* A task for the checkpoint tests: dropout, modality dropout and batch norm,
 * so that the random stream and the running statistics matter. */
static void resume_task(struct task *t)
{
    const struct loom_prep_column_info extra[] = {{.width = 1}};
    double mean[] = {0, 0, 0, 10}, std[] = {1, 1, 1, 3};
    fusion_yaml = "{layers: [32], dropout: 0.2, modality_dropout: 0.3}";
    task_init(t, "  y: {type: number}\n", "  y: {range: [0, 20]}\n", resume_training, extra, mean,
              std, fill_resume);
    fusion_yaml = NULL;
}

static enum loom_status train_to(struct task *t, const char *dir, const char *resume,
                                 int64_t stop_after, int max_bad, struct loom_train_result *r,
                                 struct loom_error *err)
{
    struct loom_train_opts o = {.checkpoint_dir = dir,
                                .resume = resume,
                                .stop_after = stop_after,
                                .max_bad_steps = max_bad,
                                .data_seed = 17};
    return loom_train(t->m, &t->ts.src, &t->vs.src, &o, r, err);
}

LOOM_TEST(resume_is_exact)
{
    char da[512], db[512], last[600];
    fx_tmpdir(da, sizeof da), fx_tmpdir(db, sizeof db);
    struct loom_error err = {0};
    struct loom_train_result r;
    /* uninterrupted */
    struct task a;
    resume_task(&a);
    assert_int_equal(a.ts.src.count(&a.ts), NTRAIN / 16);
    assert_int_equal(train_to(&a, da, NULL, 0, 0, &r, &err), LOOM_OK);
    assert_int_equal(r.steps, 3 * NTRAIN / 16);
    /* stopped mid-epoch 2, then resumed by a fresh process-like model */
    struct task b;
    resume_task(&b);
    int64_t k = NTRAIN / 16 + 13;
    assert_int_equal(train_to(&b, db, NULL, k, 0, &r, &err), LOOM_OK);
    assert_true(r.stopped);
    assert_int_equal(r.steps, k);
    task_done(&b);
    resume_task(&b);
    snprintf(last, sizeof last, "%s/last.loom", db);
    enum loom_status st = train_to(&b, db, last, 0, 0, &r, &err);
    if (st) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, LOOM_OK);
    assert_int_equal(r.steps, 3 * NTRAIN / 16);
    assert_int_equal(r.epochs, 3);
    size_t bytes = a.m->store.total * sizeof(float);
    assert_memory_equal(a.m->store.data, b.m->store.data, bytes);
    assert_memory_equal(a.m->store.m, b.m->store.m, bytes);
    assert_memory_equal(a.m->store.v, b.m->store.v, bytes);
    /* and the run differs from an unrelated one (the test can fail) */
    bool differs = false;
    for (size_t i = 0; i < a.m->store.total && !differs; i++)
        differs = a.m->store.data[i] != 0 && a.m->store.data[i] != a.m->store.data[0];
    assert_true(differs);
    /* metrics.jsonl: a line per epoch in each run directory */
    char path[600], line[1 << 15];
    snprintf(path, sizeof path, "%s/metrics.jsonl", da);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        assert_int_equal(json_integer_value(json_object_get(o, "epoch")), ++lines);
        assert_non_null(
            json_object_get(json_object_get(json_object_get(o, "valid"), "outputs"), "y"));
        json_decref(o);
    }
    fclose(f);
    assert_int_equal(lines, 3);
    /* best.loom is an ordinary model */
    snprintf(path, sizeof path, "%s/best.loom", da);
    struct loom_model *best = NULL;
    assert_int_equal(loom_model_open_with(path, &fx_opts, &best, &err), LOOM_OK);
    loom_model_free(&best);
    task_done(&a), task_done(&b);
    fx_rmdir(da), fx_rmdir(db);
}

LOOM_TEST(resume_refuses_other_run)
{
    char d[512], last[600];
    fx_tmpdir(d, sizeof d);
    struct loom_error err = {0};
    struct loom_train_result r;
    struct task t;
    resume_task(&t);
    assert_int_equal(train_to(&t, d, NULL, 5, 0, &r, &err), LOOM_OK);
    snprintf(last, sizeof last, "%s/last.loom", d);
    struct loom_train_opts o = {.checkpoint_dir = d, .resume = last, .data_seed = 18};
    assert_int_equal(loom_train(t.m, &t.ts.src, &t.vs.src, &o, &r, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "data seed"));
    task_done(&t);
    fx_rmdir(d);
}

LOOM_TEST(nan_stops_and_keeps_checkpoint)
{
    char d[512], last[600];
    fx_tmpdir(d, sizeof d);
    snprintf(last, sizeof last, "%s/last.loom", d);
    struct loom_error err = {0};
    struct loom_train_result r;
    struct task t;
    resume_task(&t);
    int64_t per = NTRAIN / 16;
    /* stopped 2 batches into epoch 2: last.loom at step per + 2 */
    assert_int_equal(train_to(&t, d, NULL, per + 2, 0, &r, &err), LOOM_OK);
    uint64_t h = fx_file_hash(last);
    /* a NaN target in batch 4 of epoch 2 */
    t.ts.nan_col = 3, t.ts.nan_epoch = 1, t.ts.nan_batch = 4;
    assert_int_equal(train_to(&t, d, last, 0, 0, &r, &err), LOOM_ERR_NUMERIC);
    char want[64];
    snprintf(want, sizeof want, "step %lld ", (long long)(per + 4));
    printf("    %s\n", err.message);
    assert_non_null(strstr(err.message, want));
    assert_non_null(strstr(err.message, "epoch 2, batch 4"));
    assert_non_null(strstr(err.message, "rows 64..79"));
    assert_non_null(strstr(err.message, "NaN"));
    assert_non_null(strstr(err.message, last));
    snprintf(want, sizeof want, "(step %lld)", (long long)per + 2);
    assert_non_null(strstr(err.message, want));
    assert_true(fx_file_hash(last) == h); /* never overwritten */
    /* with skipping allowed the run goes on, and counts the step */
    task_done(&t);
    resume_task(&t);
    t.ts.nan_col = 3, t.ts.nan_epoch = 1, t.ts.nan_batch = 4;
    assert_int_equal(train_to(&t, d, last, 0, 3, &r, &err), LOOM_OK);
    assert_int_equal(r.bad_steps, 1);
    assert_int_equal(r.epochs, 3);
    for (size_t i = 0; i < t.m->store.total; i++) assert_true(isfinite(t.m->store.data[i]));
    task_done(&t);
    fx_rmdir(d);
}

LOOM_TEST(lr_find_suggests)
{
    struct task t;
    const struct loom_prep_column_info extra[] = {{.width = 1}};
    double mean[] = {0, 0, 0, 10}, std[] = {1, 1, 1, 3};
    task_init(&t, "  y: {type: number}\n", "  y: {}\n", NULL, extra, mean, std, fill_number);
    size_t bytes = t.m->store.total * sizeof(float);
    float *before = malloc(bytes);
    memcpy(before, t.m->store.data, bytes);
    struct loom_lr_curve c;
    struct loom_lr_find_opts o;
    loom_lr_find_opts_default(&o);
    o.steps = 150;
    struct loom_error err = {0};
    assert_int_equal(loom_lr_find(t.m, &t.ts.src, &o, &c, &err), LOOM_OK);
    printf("    lr-find: %d points, at min %.3g, suggested %.3g, steepest %.3g\n", c.n, c.at_min,
           c.suggested, c.steepest);
    assert_true(c.n >= 20);
    assert_true(isfinite(c.suggested) && c.suggested >= o.lr_min && c.suggested <= o.lr_max);
    assert_true(c.suggested > 1e-5 && c.suggested < 1); /* a sane rate for this task */
    for (int i = 1; i < c.n; i++) assert_true(c.lr[i] > c.lr[i - 1]);
    /* the loss fell before it rose */
    double lo = INFINITY;
    for (int i = 0; i < c.n; i++) lo = fmin(lo, c.smooth[i]);
    assert_true(lo < 0.5 * c.smooth[0]);
    assert_memory_equal(before, t.m->store.data, bytes); /* the model is put back */
    free(before);
    loom_lr_curve_done(&c);
    task_done(&t);
}

/* The registry's encoders (opts NULL: the real mlp of modules/) behind the
 * model: it trains, and saves and opens to the same predictions. */
LOOM_TEST(real_encoders_train_save_open)
{
    struct loom_schema s;
    task_schema(&s, "  y: {type: number}\n", "  y: {}\n",
                "{epochs: 4, batch_size: 32, optimizer: {lr: 0.01}, seed: 3}");
    struct loom_prep_column_info info[] = {
        {.width = 1}, {.width = 1}, {.width = 1, .cardinality = 5}, {.width = 1}};
    struct loom_prep *p = fx_prep(&s, info, NULL, NULL);
    struct loom_model *m = NULL;
    struct loom_error err = {0};
    enum loom_status st = loom_model_new(&s, &p, 3, NULL, &m, &err);
    if (st) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, LOOM_OK);
    assert_string_equal(m->enc[0].cls->name, "mlp");
    struct loom_rng r;
    loom_rng_init(&r, 99, 1);
    struct fx_data d;
    fx_data_init(&d, &m->schema, m->prep, NTRAIN);
    fill_inputs(&d, &r), fill_number(&d, &r);
    struct fx_source src;
    fx_source_init(&src, &d, 32, true, 17);
    char dir[512], path[600];
    fx_tmpdir(dir, sizeof dir);
    struct loom_train_opts o = {.checkpoint_dir = dir, .data_seed = 17};
    struct loom_train_result res;
    st = loom_train(m, &src.src, NULL, &o, &res, &err);
    if (st) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, LOOM_OK);
    assert_true(res.best < 0.3); /* the training loss (no validation source) */
    snprintf(path, sizeof path, "%s/final.loom", dir);
    assert_int_equal(loom_model_save(m, path, NULL, &err), LOOM_OK);
    struct loom_model *m2 = NULL;
    assert_int_equal(loom_model_open_with(path, NULL, &m2, &err), LOOM_OK);
    struct loom_batch b;
    struct loom_batch_col cols[8];
    int64_t rows[NTRAIN];
    fx_batch_all(&b, cols, rows, &d);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 0);
    struct loom_forward f1, f2;
    assert_int_equal(loom_model_forward(&c, m, &b, &f1), LOOM_OK);
    assert_int_equal(loom_model_forward(&c, m2, &b, &f2), LOOM_OK);
    assert_memory_equal(f1.out[0]->data, f2.out[0]->data, (size_t)d.n * sizeof(float));
    assert_memory_equal(f1.embedding->data, f2.embedding->data,
                        (size_t)(d.n * m->width) * sizeof(float));
    loom_ctx_done(&c);
    fx_source_done(&src);
    fx_data_done(&d); /* before the model: it borrows the model's schema */
    loom_model_free(&m2);
    loom_model_free(&m);
    fx_rmdir(dir);
}

/* Progress on a stream that is not a terminal: plain lines. */
LOOM_TEST(progress_plain_lines)
{
    struct task t;
    const struct loom_prep_column_info extra[] = {{.width = 1}};
    task_init(&t, "  y: {type: number}\n", "  y: {}\n",
              "{epochs: 2, batch_size: 32, optimizer: {lr: 0.01}, seed: 3}", extra, NULL, NULL,
              fill_number);
    FILE *f = tmpfile();
    assert_non_null(f);
    struct loom_train_opts o = {.checkpoint_dir = "", .progress = f};
    struct loom_error err = {0};
    assert_int_equal(loom_train(t.m, &t.ts.src, &t.vs.src, &o, NULL, &err), LOOM_OK);
    rewind(f);
    char line[512];
    int steps = 0, epochs = 0;
    while (fgets(line, sizeof line, f)) {
        assert_null(strchr(line, '\r'));
        steps += strstr(line, "rows/s") && strstr(line, "ETA") && strstr(line, " loss ");
        epochs += strncmp(line, "epoch 1/2: train loss", 21) == 0 ||
                  strncmp(line, "epoch 2/2: train loss", 21) == 0;
    }
    fclose(f);
    assert_int_equal(steps, 2 * 8); /* 16 batches an epoch: a line every 2 */
    assert_int_equal(epochs, 2);
    task_done(&t);
}
