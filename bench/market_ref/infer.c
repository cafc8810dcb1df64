/*
 * infer.c — loom-market-ref-infer: loom's inference figures for
 * bench/market_ref (run.sh) through the public C API only (include/loom.h,
 * the shared libloom), measured as ../shared/bench/ref_model.py measures
 * PyTorch's.
 *
 *   loom-market-ref-infer MODEL --data CSV --images DIR [--threads N]
 *                         [--epochs E] [--lat-iters K] [--json OUT]
 *
 * The CSV's rows (loom-market-ref-gen's format: no quoted fields) and the
 * bytes of every photo are read into memory first; nothing below touches
 * the disk. Then, with one session of N threads (default 2):
 *  - batch 64: E passes (default 2) over the rows in batches of 64 (the
 *    last partial batch dropped, as ref_model.py does), after 2 warm-up
 *    batches. Per batch: building the rows (values set from strings,
 *    photos added as encoded JPEG bytes: decoded and resized there) and
 *    loom_predict. Reported: rows/s end to end (build + predict) and
 *    model-only (loom_predict alone: ref_model.py's figure, whose rows are
 *    float tensors in memory).
 *  - batch 1: K rows (default 300, after 10 warm-ups) drawn at random like
 *    ref_model.py's (bags of 0..8), and K rows with exactly 4 photos (the
 *    issue's target), at N threads and at 1 thread; each: latency p50/p99
 *    of loom_predict alone (model-only) and of building + predicting
 *    (from encoded bytes).
 * Also the peak resident memory of this process. Bench code: prints its
 * errors.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../timing.h"
#include "loom.h"

struct photo {
    unsigned char *bytes;
    size_t len;
};

struct row {
    char **field; /* (ninputs): the CSV's text of each input (images: unused) */
    struct photo *photos;
    int nphotos;
};

struct data {
    const loom_model *m;
    int ninputs, image_input; /* the images input's index (one: the reference's) */
    struct loom_input_info in[64];
    struct row *rows;
    int64_t n;
};

static bool read_file(const char *path, struct photo *p)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    bool ok = fseek(f, 0, SEEK_END) == 0;
    long len = ok ? ftell(f) : -1;
    ok = ok && len >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
         (p->bytes = malloc((size_t)len + 1)) != NULL &&
         fread(p->bytes, 1, (size_t)len, f) == (size_t)len;
    p->len = (size_t)len;
    fclose(f);
    return ok;
}

/* Split line (modified in place) at sep into at most max fields. */
static int split(char *line, char sep, char **out, int max)
{
    int n = 0;
    for (char *s = line;; s++) {
        if (n < max) out[n] = s;
        n++;
        s = strchr(s, sep);
        if (!s) break;
        *s = 0;
    }
    return n;
}

static bool load(struct data *d, const char *csv, const char *images)
{
    d->ninputs = loom_model_input_count(d->m);
    d->image_input = -1;
    if (d->ninputs > 64) return false;
    for (int i = 0; i < d->ninputs; i++) {
        if (loom_model_input(d->m, i, &d->in[i])) return false;
        if (d->in[i].type == LOOM_TYPE_IMAGES) d->image_input = i;
    }
    FILE *f = fopen(csv, "r");
    if (!f) {
        fprintf(stderr, "loom-market-ref-infer: %s: %s\n", csv, strerror(errno));
        return false;
    }
    static char line[1 << 20];
    char *hdr[256], *fld[256];
    int col_of[64], nh = 0;
    bool ok = fgets(line, sizeof line, f) != NULL;
    if (ok) {
        line[strcspn(line, "\r\n")] = 0;
        nh = split(line, ',', hdr, 256);
        for (int i = 0; i < d->ninputs; i++) {
            col_of[i] = -1;
            for (int k = 0; k < nh && k < 256; k++)
                if (!strcmp(hdr[k], d->in[i].name)) col_of[i] = k;
            if (col_of[i] < 0) {
                fprintf(stderr, "loom-market-ref-infer: %s: no column %s\n", csv, d->in[i].name);
                ok = false;
            }
        }
    }
    int64_t cap = 0;
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (split(line, ',', fld, 256) != nh) continue;
        if (d->n == cap) {
            cap = cap ? 2 * cap : 1024;
            struct row *r = realloc(d->rows, (size_t)cap * sizeof *r);
            if (!r) return fclose(f), false;
            d->rows = r;
        }
        struct row *r = &d->rows[d->n++];
        *r = (struct row){.field = calloc((size_t)d->ninputs, sizeof(char *))};
        ok = r->field != NULL;
        for (int i = 0; ok && i < d->ninputs; i++) {
            const char *v = fld[col_of[i]];
            if (i != d->image_input) {
                ok = (r->field[i] = strdup(v)) != NULL;
                continue;
            }
            char *paths = strdup(v), *p[1024];
            int np = *v ? split(paths, d->in[i].separator, p, 1024) : 0;
            r->photos = calloc((size_t)(np ? np : 1), sizeof *r->photos);
            ok = paths && r->photos;
            for (int k = 0; ok && k < np; k++) {
                char path[4200];
                snprintf(path, sizeof path, "%s/%s", images, p[k]);
                if (!(ok = read_file(path, &r->photos[k])))
                    fprintf(stderr, "loom-market-ref-infer: %s: cannot read\n", path);
                r->nphotos = k + 1;
            }
            free(paths);
        }
    }
    fclose(f);
    if (ok && d->n < 1) fprintf(stderr, "loom-market-ref-infer: %s: no row\n", csv);
    return ok && d->n > 0;
}

static void data_free(struct data *d)
{
    for (int64_t i = 0; i < d->n; i++) {
        for (int k = 0; k < d->ninputs; k++) free(d->rows[i].field[k]);
        for (int k = 0; k < d->rows[i].nphotos; k++) free(d->rows[i].photos[k].bytes);
        free(d->rows[i].field);
        free(d->rows[i].photos);
    }
    free(d->rows);
}

/* Append row r of d to rows: values from strings, photos from bytes. */
static enum loom_status fill(const struct data *d, loom_rows *rows, const struct row *r,
                             struct loom_error *err)
{
    int64_t at;
    enum loom_status st = loom_rows_add(rows, &at, err);
    for (int i = 0; !st && i < d->ninputs; i++) {
        const char *name = d->in[i].name;
        if (i == d->image_input)
            for (int k = 0; !st && k < r->nphotos; k++)
                st = loom_rows_add_image(rows, at, name, r->photos[k].bytes, r->photos[k].len, err);
        else
            st = loom_rows_set_string(rows, at, name, r->field[i], strlen(r->field[i]), err);
    }
    return st;
}

struct b64 {
    double model_rows_s, e2e_rows_s; /* medians over the passes */
};

static bool batch64(const struct data *d, loom_session *s, loom_rows *rows, int epochs,
                    struct b64 *out)
{
    const int B = 64;
    int64_t nb = d->n / B;
    double model[16], e2e[16];
    struct loom_error err = {0};
    const loom_result *res;
    if (nb < 1 || epochs > 16) return false;
    for (int e = -1; e < epochs; e++) { /* e = -1: two warm-up batches */
        double tm = 0, t0 = bench_now();
        int64_t rows_done = 0;
        for (int64_t b = 0; b < (e < 0 ? (nb < 2 ? nb : 2) : nb); b++) {
            loom_rows_clear(rows);
            for (int64_t i = b * B; i < (b + 1) * B; i++)
                if (fill(d, rows, &d->rows[i], &err)) goto fail;
            double t1 = bench_now();
            if (loom_predict(s, rows, &res, &err)) goto fail;
            tm += bench_now() - t1;
            rows_done += B;
        }
        if (e >= 0)
            model[e] = (double)rows_done / tm, e2e[e] = (double)rows_done / (bench_now() - t0);
    }
    out->model_rows_s = bench_pct(model, epochs, 50), out->e2e_rows_s = bench_pct(e2e, epochs, 50);
    return true;
fail:
    fprintf(stderr, "loom-market-ref-infer: batch 64: %s\n", err.message);
    return false;
}

struct lat {
    double model_p50, model_p99, e2e_p50, e2e_p99, model_mean;
};

/* Batch-1 latency over `iters` rows (after 10 warm-ups): rows with exactly
 * `photos` photos, or any row when photos < 0; drawn at random (seeded). */
static bool batch1(const struct data *d, loom_session *s, loom_rows *rows, int iters, int photos,
                   struct lat *out)
{
    int64_t *pick = malloc((size_t)d->n * sizeof *pick), np = 0;
    double *tm = malloc((size_t)iters * sizeof *tm), *te = malloc((size_t)iters * sizeof *te);
    bool ok = pick && tm && te;
    for (int64_t i = 0; ok && i < d->n; i++)
        if (photos < 0 || d->rows[i].nphotos == photos) pick[np++] = i;
    if (ok && np == 0) {
        fprintf(stderr, "loom-market-ref-infer: no row with %d photos\n", photos);
        ok = false;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull;
    struct loom_error err = {0};
    const loom_result *res;
    double sum = 0;
    for (int it = -10; ok && it < iters; it++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const struct row *r = &d->rows[pick[x % (uint64_t)np]];
        double t0 = bench_now();
        loom_rows_clear(rows);
        enum loom_status st = fill(d, rows, r, &err);
        double t1 = bench_now();
        if (!st) st = loom_predict(s, rows, &res, &err);
        double t2 = bench_now();
        if (st) {
            fprintf(stderr, "loom-market-ref-infer: batch 1: %s\n", err.message);
            ok = false;
        } else if (it >= 0) {
            tm[it] = (t2 - t1) * 1e3, te[it] = (t2 - t0) * 1e3, sum += tm[it];
        }
    }
    if (ok) {
        out->model_mean = sum / iters;
        out->model_p50 = bench_pct(tm, iters, 50), out->model_p99 = bench_pct(tm, iters, 99);
        out->e2e_p50 = bench_pct(te, iters, 50), out->e2e_p99 = bench_pct(te, iters, 99);
    }
    free(pick), free(tm), free(te);
    return ok;
}

static void print_lat(FILE *f, const char *name, const struct lat *l, bool comma)
{
    fprintf(f,
            "  \"%s\": {\"model_ms_p50\": %.4f, \"model_ms_p99\": %.4f, \"model_ms_mean\": %.4f, "
            "\"e2e_ms_p50\": %.4f, \"e2e_ms_p99\": %.4f}%s\n",
            name, l->model_p50, l->model_p99, l->model_mean, l->e2e_p50, l->e2e_p99,
            comma ? "," : "");
}

static int usage(void)
{
    fprintf(stderr, "usage: loom-market-ref-infer MODEL --data CSV --images DIR [--threads N]\n"
                    "       [--epochs E] [--lat-iters K] [--json OUT]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *csv = NULL, *images = ".", *json = NULL;
    int threads = 2, epochs = 2, iters = 300;
    for (int i = 1; i < argc; i++) {
        bool has = i + 1 < argc;
        if (!strcmp(argv[i], "--data") && has)
            csv = argv[++i];
        else if (!strcmp(argv[i], "--images") && has)
            images = argv[++i];
        else if (!strcmp(argv[i], "--threads") && has)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && has)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lat-iters") && has)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && has)
            json = argv[++i];
        else if (argv[i][0] == '-' || model)
            return usage();
        else
            model = argv[i];
    }
    if (!model || !csv || threads < 1 || epochs < 1 || epochs > 16 || iters < 1) return usage();
    loom_model *m = NULL;
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    struct loom_error err = {0};
    struct data d = {0};
    int rc = 1;
    if (loom_model_open(model, &m, &err) || loom_session_new(m, &s, &err) ||
        loom_rows_new(m, &rows, &err)) {
        fprintf(stderr, "loom-market-ref-infer: %s: %s\n", model, err.message);
        goto done;
    }
    d.m = m;
    double t0 = bench_now();
    if (!load(&d, csv, images)) goto done;
    fprintf(stderr, "loom-market-ref-infer: %lld rows read in %.1f s; loom %s\n", (long long)d.n,
            bench_now() - t0, loom_version());
    struct b64 b = {0};
    struct lat rnd = {0}, four = {0}, rnd1 = {0}, four1 = {0};
    loom_session_set_threads(s, threads);
    if (!batch64(&d, s, rows, epochs, &b) || !batch1(&d, s, rows, iters, -1, &rnd) ||
        !batch1(&d, s, rows, iters, 4, &four))
        goto done;
    loom_session_set_threads(s, 1);
    if (!batch1(&d, s, rows, iters, -1, &rnd1) || !batch1(&d, s, rows, iters, 4, &four1)) goto done;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr,
            "loom-market-ref-infer: batch 64: %.1f rows/s model-only, %.1f end to end; batch 1 "
            "(4 photos): %.2f / %.2f ms p50/p99 model-only, %.2f / %.2f ms from bytes\n",
            b.model_rows_s, b.e2e_rows_s, four.model_p50, four.model_p99, four.e2e_p50,
            four.e2e_p99);
    FILE *f = json ? fopen(json, "w") : stdout;
    if (!f) {
        perror(json);
        goto done;
    }
    fprintf(f, "{\"threads\": %d, \"rows\": %lld, \"lat_iters\": %d, \"maxrss_kb\": %ld,\n",
            threads, (long long)d.n, iters, ru.ru_maxrss);
    fprintf(f, "  \"b64_model_rows_per_s\": %.3f, \"b64_e2e_rows_per_s\": %.3f,\n", b.model_rows_s,
            b.e2e_rows_s);
    print_lat(f, "b1_random", &rnd, true);
    print_lat(f, "b1_4photos", &four, true);
    print_lat(f, "b1_random_1thread", &rnd1, true);
    print_lat(f, "b1_4photos_1thread", &four1, false);
    fprintf(f, "}\n");
    rc = f == stdout || fclose(f) == 0 ? 0 : 1;
done:
    data_free(&d);
    loom_rows_free(&rows);
    loom_session_free(&s);
    loom_model_close(&m);
    return rc;
}
