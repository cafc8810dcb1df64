/*
 * test_predict.c — scoring through the public API agrees with fusion's own
 * forward pass on the same rows; many threads sharing one model agree
 * exactly with one thread; steady-state predict allocates nothing;
 * attention weights and embeddings are what they should be.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include "api/api.h"
#include "fixtures.h"
#include "fusion/model.h"
#include "loaders/dataset.h"

static loom_model *open_model(void)
{
    loom_model *m = NULL;
    struct loom_error err = {0};
    enum loom_status st = loom_model_open(ax_model_path(), &m, &err);
    if (st) fail_msg("%s", err.message);
    return m;
}

static const loom_result *predict(loom_session *s, const loom_rows *rows)
{
    const loom_result *r = NULL;
    struct loom_error err = {0};
    if (loom_predict(s, rows, &r, &err)) fail_msg("%s", err.message);
    return r;
}

/* The training rows, batch by batch through the loaders' dataset and
 * fusion's forward + loom_model_predict, against the same rows built from
 * the CSV text through the API: identical numbers. */
LOOM_TEST(api_matches_fusion_forward)
{
    loom_model *m = open_model();
    struct loom_dataset_opts o;
    loom_dataset_opts_default(&o);
    o.use_cache = false;
    o.threads = 1;
    struct loom_error err = {0};
    struct loom_dataset *d = NULL;
    struct loom_batcher *bt = NULL;
    struct loom_batcher_opts bo = {.batch_size = 37};
    if (loom_dataset_open(&m->schema, m->prep, LOOM_SPLIT_TRAIN, &o, &d, NULL, &err) ||
        loom_batcher_new(d, &bo, &bt, &err))
        fail_msg("%s", err.message);
    struct ax_csv t;
    ax_csv_read(&t, "train.csv");
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    assert_int_equal(loom_session_new(m, &s, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &rows, &err), LOOM_OK);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 0);
    const struct loom_batch *b;
    int64_t seen = 0, photos = 0;
    while (loom_batcher_next(bt, &b, &err) == LOOM_OK && b) {
        loom_rows_clear(rows);
        for (int64_t i = 0; i < b->n; i++) {
            size_t len;
            const char *id = loom_dataset_row_id(d, b->rows[i], &len);
            char line[32]; /* "L<line>", not NUL-terminated */
            assert_true(id && len > 1 && len < sizeof line);
            memcpy(line, id + 1, len - 1);
            line[len - 1] = 0;
            ax_add_row(rows, &t, atoll(line));
        }
        const loom_result *r = predict(s, rows);
        assert_int_equal(loom_result_rows(r), b->n);
        loom_ctx_reset(&c);
        struct loom_forward f;
        assert_int_equal(loom_model_forward(&c, m, b, &f), LOOM_OK);
        for (int j = 0; j < m->nheads; j++) {
            struct loom_prediction p;
            assert_int_equal(loom_model_predict(m, &f, j, &p, &err), LOOM_OK);
            int width;
            const double *v = loom_result_values(r, j, &width);
            assert_int_equal(width, p.k);
            assert_memory_equal(v, p.value, (size_t)(b->n * p.k) * sizeof(double));
            for (int64_t i = 0; p.code && i < b->n; i++)
                assert_int_equal(loom_result_label(r, j, i),
                                 p.code[i] - (p.type == LOOM_COL_CATEGORY ? 2 : 0));
            loom_prediction_done(&p);
        }
        int F;
        const float *e = loom_result_embedding(r, &F);
        assert_int_equal(F, m->width);
        assert_memory_equal(e, f.embedding->data, (size_t)(b->n * F) * sizeof(float));
        seen += b->n;
        photos += b->cols[loom_schema_find_column(&m->schema, "photos")].count;
    }
    printf("    %lld rows (%lld photos) identical\n", (long long)seen, (long long)photos);
    assert_true(seen > 500 && photos > 500);
    loom_ctx_done(&c);
    loom_rows_free(&rows);
    loom_session_free(&s);
    ax_csv_done(&t);
    loom_batcher_free(&bt);
    loom_dataset_close(&d);
    loom_model_close(&m);
    assert_null(m);
}

/* ---- threads ---- */

#define NTHREADS 8
#define PER      1000
#define BATCH    50

struct job {
    const loom_model *m;
    const struct ax_csv *t;
    double *out; /* (PER, values per row) */
    float *emb;  /* (PER, F) */
    int ok;
};

/* Every value of every output of rows [k*BATCH, (k+1)*BATCH) into out. */
static int run_rows(struct job *j)
{
    struct loom_error err = {0};
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    if (loom_session_new(j->m, &s, &err) || loom_rows_new(j->m, &rows, &err)) return 0;
    int nout = loom_model_output_count(j->m), F = loom_model_embedding_width(j->m);
    size_t at = 0;
    for (int k = 0; k < PER / BATCH; k++) {
        loom_rows_clear(rows);
        for (int i = 0; i < BATCH; i++) ax_add_row(rows, j->t, (k * BATCH + i) % j->t->n);
        const loom_result *r;
        if (loom_predict(s, rows, &r, &err)) return 0;
        for (int q = 0; q < nout; q++) {
            int w;
            const double *v = loom_result_values(r, q, &w);
            memcpy(j->out + at, v, (size_t)(BATCH * w) * sizeof(double));
            at += (size_t)(BATCH * w);
        }
        memcpy(j->emb + (size_t)k * BATCH * F, loom_result_embedding(r, NULL),
               (size_t)(BATCH * F) * sizeof(float));
    }
    loom_rows_free(&rows);
    loom_session_free(&s);
    return 1;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    j->ok = run_rows(j);
    return NULL;
}

LOOM_TEST(api_threads_share_one_model)
{
    loom_model *m = open_model();
    struct ax_csv t;
    ax_csv_read(&t, "listings.csv");
    int vals = 0, F = loom_model_embedding_width(m);
    for (int q = 0; q < loom_model_output_count(m); q++) {
        struct loom_output_info info;
        assert_int_equal(loom_model_output(m, q, &info), LOOM_OK);
        vals += info.width;
    }
    struct job ref = {m, &t, calloc((size_t)PER * vals, sizeof(double)),
                      calloc((size_t)PER * F, sizeof(float)), 0};
    assert_true(run_rows(&ref));
    struct job jobs[NTHREADS];
    pthread_t tid[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = (struct job){m, &t, calloc((size_t)PER * vals, sizeof(double)),
                               calloc((size_t)PER * F, sizeof(float)), 0};
        assert_int_equal(pthread_create(&tid[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(tid[i], NULL);
        assert_true(jobs[i].ok);
        assert_memory_equal(jobs[i].out, ref.out, (size_t)PER * vals * sizeof(double));
        assert_memory_equal(jobs[i].emb, ref.emb, (size_t)PER * F * sizeof(float));
        free(jobs[i].out), free(jobs[i].emb);
    }
    free(ref.out), free(ref.emb);
    ax_csv_done(&t);
    loom_model_close(&m);
}

/* After warm-up, predict and embed on rows of the same shape call no
 * allocator at all (any thread). */
LOOM_TEST(api_steady_state_allocates_nothing)
{
    if (!ax_malloc_count_start()) {
        ax_malloc_count_stop();
        skip(); /* a sanitizer build: malloc is the sanitizer's */
    }
    ax_malloc_count_stop();
    loom_model *m = open_model();
    struct ax_csv t;
    ax_csv_read(&t, "listings.csv");
    struct loom_error err = {0};
    loom_session *s = NULL;
    loom_rows *one = NULL, *many = NULL;
    assert_int_equal(loom_session_new(m, &s, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &one, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &many, &err), LOOM_OK);
    ax_add_row(one, &t, 0);
    for (int i = 0; i < 64; i++) ax_add_row(many, &t, i);
    const loom_result *r;
    for (int warm = 0; warm < 3; warm++) {
        assert_int_equal(loom_predict(s, one, &r, &err), LOOM_OK);
        assert_int_equal(loom_predict(s, many, &r, &err), LOOM_OK);
        assert_int_equal(loom_embed(s, many, &r, &err), LOOM_OK);
    }
    /* the session's arena is one chunk of the high-water size by now */
    size_t cap = loom_arena_capacity(&s->c.arena), high = s->c.arena.high_water;
    assert_int_equal(loom_arena_chunks(&s->c.arena), 1);
    ax_malloc_count_start();
    for (int k = 0; k < 10; k++) {
        enum loom_status a = loom_predict(s, one, &r, &err);
        enum loom_status b = loom_predict(s, many, &r, &err);
        enum loom_status c = loom_embed(s, many, &r, &err);
        if (a || b || c) break;
    }
    long calls = ax_malloc_count_stop();
    assert_int_equal(loom_arena_chunks(&s->c.arena), 1);
    assert_int_equal(loom_arena_capacity(&s->c.arena), cap);
    assert_int_equal(s->c.arena.high_water, high);
    const char *lib[8];
    long by[8];
    long mine = ax_malloc_count_by(8, lib, by);
    printf("    allocator calls in 30 warm predict/embed calls: %ld (%ld from loom), by caller:\n",
           calls, mine);
    for (int k = 0; k < 8 && lib[k]; k++) printf("      %6ld %s\n", by[k], lib[k]);
    /* loom's own code allocates nothing; libgomp allocates a team for each
     * parallel region that runs on one thread and oneDNN an argument map
     * per primitive execution (its C API): outside loom's hands */
    assert_int_equal(mine, 0);
    for (int k = 0; k < 8 && lib[k]; k++)
        assert_true(strstr(lib[k], "libgomp") || strstr(lib[k], "libdnnl") ||
                    strstr(lib[k], "libstdc++"));

    /* a reused rows object stops allocating too (photos from memory: the
     * JPEG decoder's own allocations aside, which happen per photo) */
    ax_malloc_count_start();
    for (int k = 0; k < 5; k++) {
        loom_rows_clear(many);
        for (int i = 0; i < 64; i++) {
            int64_t row;
            if (loom_rows_add(many, &row, &err) ||
                loom_rows_set_string(many, row, "condition", "used", 4, &err) ||
                loom_rows_set_number(many, row, "year", 2012, &err))
                break;
        }
    }
    calls = ax_malloc_count_stop();
    assert_int_equal(calls, 0);
    loom_rows_free(&one), loom_rows_free(&many);
    loom_session_free(&s);
    ax_csv_done(&t);
    loom_model_close(&m);
}

/* Attention: the kept photos of a row weigh 1 in all, a photo past
 * max_photos (2) and a dropped one weigh 0; embed gives predict's
 * embeddings and no outputs. */
LOOM_TEST(api_attention_and_embed)
{
    loom_model *m = open_model();
    struct loom_error err = {0};
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    assert_int_equal(loom_session_new(m, &s, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &rows, &err), LOOM_OK);
    char path[4096];
    int64_t i;
    assert_int_equal(loom_rows_add(rows, &i, &err), LOOM_OK); /* row 0: no photo */
    assert_int_equal(loom_rows_add(rows, &i, &err), LOOM_OK); /* row 1: 4 photos */
    struct ax_csv t;
    ax_csv_read(&t, "train.csv");
    char names[4][256] = {"", "(missing).jpg", "", ""};
    for (int64_t q = 0, k = 0; q < t.n && k < 3; q++) { /* three photos of the data */
        const char *ph = t.rows[q][ax_csv_col(&t, "photos")];
        if (*ph) snprintf(names[k ? k + 1 : 0], 256, "%.*s", (int)strcspn(ph, "|"), ph), k++;
    }
    ax_csv_done(&t);
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/photos/%s", ax_dir(), names[k]);
        assert_int_equal(loom_rows_add_image_path(rows, i, "photos", path, &err), LOOM_OK);
    }
    assert_int_equal(loom_rows_warning_count(rows), 1);
    struct loom_warning w;
    assert_int_equal(loom_rows_warning(rows, 0, &w), LOOM_OK);
    assert_int_equal(w.row, 1);
    assert_int_equal(w.photo, 1);
    assert_int_equal(w.code, LOOM_ERR_IO);
    assert_string_equal(w.column, "photos");
    const loom_result *r = predict(s, rows);
    int n = -1;
    assert_null(loom_result_attention(r, 0, "photos", &n));
    assert_int_equal(n, 0);
    const float *a = loom_result_attention(r, 1, "photos", &n);
    assert_non_null(a);
    assert_int_equal(n, 4);
    assert_true(a[0] > 0 && a[2] > 0);
    assert_true(a[1] == 0 && a[3] == 0);
    assert_near(a[0] + a[2], 1.0, 1e-5);
    assert_null(loom_result_attention(r, 1, "title", &n));
    assert_null(loom_result_attention(r, 2, "photos", &n));
    int F;
    float emb[2 * 64];
    const float *e = loom_result_embedding(r, &F);
    assert_true(F <= 64);
    memcpy(emb, e, (size_t)(2 * F) * sizeof(float));
    assert_int_equal(loom_embed(s, rows, &r, &err), LOOM_OK);
    assert_int_equal(loom_result_output_count(r), 0);
    assert_null(loom_result_values(r, 0, NULL));
    assert_memory_equal(loom_result_embedding(r, NULL), emb, (size_t)(2 * F) * sizeof(float));
    loom_rows_free(&rows);
    loom_session_free(&s);
    loom_model_close(&m);
}
