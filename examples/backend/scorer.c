/*
 * scorer.c — how a listing site's backend embeds loom: load a model once,
 * give each worker thread its own session, and score new listings as they
 * come. Here the "requests" are the rows of a CSV file (RFC 4180: quoted
 * fields, CRLF), sent from several threads, and the program prints the
 * throughput, the p50/p99 latency of a request, and the first predictions.
 * It uses only include/loom.h and links the installed library (build.sh).
 *
 *   scorer MODEL CSV [-t THREADS] [-b ROWS_PER_REQUEST] [-r REPEAT]
 *          [--image-root DIR] [-q]
 *
 * CSV columns named like the model's inputs are used (others, such as an
 * id, are ignored); an images column holds file names separated by the
 * model's separator, relative to --image-root (default: the CSV's folder).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <loom.h>

#include "csv_table.h"

/* ---- the workers ---- */

struct shared {
    const loom_model *model;
    const struct table *t;
    const char *root;
    int *col_of; /* CSV column -> model input index, or -1 */
    int batch, nthreads;
    int64_t requests; /* in all */
    double *latency;  /* (requests) seconds */
};

struct worker {
    struct shared *sh;
    int id;
    int64_t done, bad_values, warnings;
    char error[600];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Row r of the CSV into rows: a bad value skips the value (and is counted),
 * as a backend would answer 400 for it. */
static int add_row(struct worker *w, loom_rows *rows, int64_t r, struct loom_error *err)
{
    const struct shared *sh = w->sh;
    int64_t i;
    if (loom_rows_add(rows, &i, err)) return -1;
    for (int c = 0; c < sh->t->ncols; c++) {
        if (sh->col_of[c] < 0) continue;
        struct loom_input_info in;
        if (loom_model_input(sh->model, sh->col_of[c], &in)) return -1;
        const char *v = sh->t->rows[r % sh->t->n][c];
        if (in.type != LOOM_TYPE_IMAGES) {
            if (loom_rows_set_string(rows, i, in.name, v, strlen(v), err)) w->bad_values++;
            continue;
        }
        while (*v) { /* file names separated by in.separator */
            size_t k = strcspn(v, (char[]){in.separator, 0});
            char path[4096];
            snprintf(path, sizeof path, "%s/%.*s", sh->root, (int)k, v);
            if (k && loom_rows_add_image_path(rows, i, in.name, path, err)) return -1;
            v += k + (v[k] != 0);
        }
    }
    return 0;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    struct loom_error err = {0};
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    if (loom_session_new(sh->model, &s, &err) || loom_rows_new(sh->model, &rows, &err)) {
        snprintf(w->error, sizeof w->error, "%s", err.message);
        return NULL;
    }
    loom_session_set_threads(s, 1); /* the threads are the requests */
    for (int64_t q = w->id; q < sh->requests; q += sh->nthreads) {
        double t0 = now();
        loom_rows_clear(rows);
        const loom_result *res;
        for (int k = 0; k < sh->batch; k++)
            if (add_row(w, rows, q * sh->batch + k, &err)) goto fail;
        if (loom_predict(s, rows, &res, &err)) goto fail;
        sh->latency[q] = now() - t0;
        w->done += loom_result_rows(res);
        w->warnings += loom_rows_warning_count(rows);
    }
    loom_rows_free(&rows);
    loom_session_free(&s);
    return NULL;
fail:
    snprintf(w->error, sizeof w->error, "%s", err.message);
    loom_rows_free(&rows);
    loom_session_free(&s);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The first rows' predictions, one line each. */
static int show(const loom_model *m, struct shared *sh, int64_t nrows)
{
    struct loom_error err = {0};
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    const loom_result *r = NULL;
    struct worker w = {.sh = sh};
    int rc = loom_session_new(m, &s, &err) || loom_rows_new(m, &rows, &err);
    for (int64_t i = 0; !rc && i < nrows; i++) rc = add_row(&w, rows, i, &err);
    if (!rc) rc = loom_predict(s, rows, &r, &err);
    int idcol = -1;
    for (int c = 0; c < sh->t->ncols; c++)
        if (!strcmp(sh->t->names[c], "id")) idcol = c;
    for (int64_t i = 0; !rc && i < nrows; i++) {
        printf("  %s:", idcol >= 0 ? sh->t->rows[i][idcol] : "row");
        for (int j = 0; j < loom_model_output_count(m); j++) {
            struct loom_output_info o;
            int width;
            if (loom_model_output(m, j, &o)) continue;
            const double *v = loom_result_values(r, j, &width) + i * width;
            int32_t label = loom_result_label(r, j, i);
            if (o.type == LOOM_TYPE_CATEGORY)
                printf(" %s=%s (%.2f)", o.name, loom_model_output_label(m, j, label, NULL),
                       v[label]);
            else if (o.type == LOOM_TYPE_SET) {
                printf(" %s={", o.name);
                for (int k = 0; k < width; k++)
                    printf("%s%s %.2f", k ? ", " : "", loom_model_output_label(m, j, k, NULL),
                           v[k]);
                printf("}");
            } else if (o.type == LOOM_TYPE_VECTOR) {
                printf(" %s=[", o.name);
                for (int k = 0; k < width; k++) printf("%s%.3g", k ? ", " : "", v[k]);
                printf("]");
            } else {
                printf(" %s=%.3g", o.name, v[0]);
            }
        }
        printf("\n");
    }
    if (rc) fprintf(stderr, "scorer: %s\n", err.message);
    loom_rows_free(&rows);
    loom_session_free(&s);
    return rc;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *csv = NULL, *root = NULL;
    int nthreads = 4, batch = 1, repeat = 1, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc)
            nthreads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-b") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--image-root") && i + 1 < argc)
            root = argv[++i];
        else if (!strcmp(argv[i], "-q"))
            quiet = 1;
        else if (!model_path)
            model_path = argv[i];
        else
            csv = argv[i];
    }
    if (!model_path || !csv || nthreads < 1 || batch < 1 || repeat < 1) {
        fprintf(stderr, "usage: scorer MODEL CSV [-t THREADS] [-b ROWS_PER_REQUEST] [-r REPEAT] "
                        "[--image-root DIR] [-q]\n");
        return 2;
    }
    struct loom_error err = {0};
    loom_model *m = NULL;
    if (loom_model_open(model_path, &m, &err)) {
        fprintf(stderr, "scorer: %s: %s\n", model_path, err.message);
        return 1;
    }
    struct table t;
    if (read_csv(csv, &t) || t.n == 0) {
        fprintf(stderr, "scorer: %s: cannot read rows\n", csv);
        return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", csv);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    struct shared sh = {.model = m,
                        .t = &t,
                        .root = root    ? root
                                : slash ? dir
                                        : ".",
                        .batch = batch,
                        .nthreads = nthreads};
    sh.col_of = malloc((size_t)t.ncols * sizeof *sh.col_of);
    int used = 0;
    for (int c = 0; c < t.ncols; c++) {
        sh.col_of[c] = -1;
        for (int i = 0; i < loom_model_input_count(m); i++) {
            struct loom_input_info in;
            if (!loom_model_input(m, i, &in) && !strcmp(in.name, t.names[c])) sh.col_of[c] = i;
        }
        used += sh.col_of[c] >= 0;
    }
    printf("loom %s; model %s: %d inputs (%d in the CSV), %d outputs, embedding %d\n",
           loom_version(), model_path, loom_model_input_count(m), used, loom_model_output_count(m),
           loom_model_embedding_width(m));
    if (!quiet && show(m, &sh, t.n < 3 ? t.n : 3)) return 1;
    sh.requests = (t.n * repeat + batch - 1) / batch;
    sh.latency = calloc((size_t)sh.requests, sizeof *sh.latency);
    struct worker *w = calloc((size_t)nthreads, sizeof *w);
    pthread_t *tid = calloc((size_t)nthreads, sizeof *tid);
    double t0 = now();
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.sh = &sh, .id = i};
        pthread_create(&tid[i], NULL, work, &w[i]);
    }
    int64_t done = 0, bad = 0, warned = 0;
    int rc = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(tid[i], NULL);
        done += w[i].done, bad += w[i].bad_values, warned += w[i].warnings;
        if (w[i].error[0]) fprintf(stderr, "scorer: thread %d: %s\n", i, w[i].error), rc = 1;
    }
    double secs = now() - t0;
    qsort(sh.latency, (size_t)sh.requests, sizeof *sh.latency, by_value);
    printf("scored %lld rows in %lld requests of %d on %d threads: %.0f rows/s; latency p50 %.3f "
           "ms, p99 %.3f ms (%lld bad values, %lld photos dropped)\n",
           (long long)done, (long long)sh.requests, batch, nthreads, (double)done / secs,
           1e3 * sh.latency[sh.requests / 2], 1e3 * sh.latency[(sh.requests * 99) / 100],
           (long long)bad, (long long)warned);
    free(tid), free(w), free(sh.latency), free(sh.col_of);
    free(t.text);
    for (int64_t i = 0; i < t.n; i++) free(t.rows[i]);
    free(t.rows), free(t.names);
    loom_model_close(&m);
    return rc;
}
