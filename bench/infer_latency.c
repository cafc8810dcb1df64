/*
 * infer_latency.c — inference latency through the public API (include/loom.h),
 * as a backend sees it: one row with P photos (encoded bytes in memory) and
 * a text of at least K tokens, scored again and again by one session.
 *
 *   infer_latency MODEL CSV [--image-root DIR] [--iters N] [--threads 1,2]
 *                 [--photos P] [--tokens K] [--batch B]
 *
 * For each thread count it prints
 * - predict:       loom_predict on rows built once (the model's forward and
 *                  the decoding of its outputs), p50/p99/mean over N calls;
 * - rows+predict:  clearing the rows, setting the values, decoding and
 *                  resizing the P photos from memory, then loom_predict;
 * - batch B:       rows/s of loom_predict on B rows of the CSV (their own
 *                  photos, built once), and with the rows rebuilt each call;
 * - the allocator calls per warm call (this program counts every malloc of
 *   the process, any thread, any library, by the library that called it;
 *   with INFER_LATENCY_WHERE set in the environment, by calling function).
 * The row is the CSV's first with at least P photos; its text columns are
 * its own words repeated up to K tokens (the reference model reads 48).
 * Figures on a shared machine are indicative only.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <loom.h>
#include "../examples/backend/csv_table.h" /* the backend example's CSV reader */

/* ---- a malloc counter (glibc allows replacing malloc: "Replacing malloc") ---- */

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *memalign(size_t align, size_t n);

static atomic_bool counting;
static atomic_long ncalls;
#define NWHERE 4096
static void *where[NWHERE];

#define COUNT()                                                                                    \
    do {                                                                                           \
        if (atomic_load_explicit(&counting, memory_order_relaxed)) {                               \
            long k_ = atomic_fetch_add_explicit(&ncalls, 1, memory_order_relaxed);                 \
            if (k_ < NWHERE) where[k_] = __builtin_return_address(0);                              \
        }                                                                                          \
    } while (0)

void *malloc(size_t n)
{
    COUNT();
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size)
{
    COUNT();
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n)
{
    COUNT();
    return __libc_realloc(p, n);
}
int posix_memalign(void **out, size_t align, size_t n)
{
    COUNT();
    if (align < sizeof(void *) || (align & (align - 1))) return 22;
    void *p = __libc_memalign(align, n);
    if (!p) return 12;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t align, size_t n)
{
    COUNT();
    return __libc_memalign(align, n);
}
void *memalign(size_t align, size_t n)
{
    COUNT();
    return __libc_memalign(align, n);
}

/* Prints the calls counted since the last reset, per calling library. */
static void count_report(long per)
{
    long total = atomic_load(&ncalls);
    const char *lib[8] = {0};
    long n[8] = {0};
    for (long k = 0; k < total && k < NWHERE; k++) {
        Dl_info di;
        const char *name = dladdr(where[k], &di) && di.dli_fname ? di.dli_fname : "?";
        const char *base = strrchr(name, '/');
        name = base ? base + 1 : name;
        int q = 0;
        while (q < 8 && lib[q] && strcmp(lib[q], name)) q++;
        if (q < 8 && !lib[q]) lib[q] = name;
        if (q < 8) n[q]++;
    }
    printf("  allocator calls per warm call: %.2f", (double)total / (double)per);
    for (int q = 0; q < 8 && lib[q]; q++)
        printf("%s %s %.2f", q ? "," : " (", lib[q], (double)n[q] / (double)per);
    printf("%s\n", lib[0] ? ")" : "");
    if (!getenv("INFER_LATENCY_WHERE")) return;
    /* Each distinct caller (nearest exported symbol) with its count. */
    for (long k = 0; k < total && k < NWHERE; k++) {
        if (!where[k]) continue;
        long c = 0;
        void *w = where[k];
        for (long q = k; q < total && q < NWHERE; q++)
            if (where[q] == w) c++, where[q] = NULL;
        Dl_info di;
        int ok = dladdr(w, &di);
        printf(
            "    %5ld x %s %s+%#lx\n", c, ok && di.dli_fname ? di.dli_fname : "?",
            ok && di.dli_sname ? di.dli_sname : "?",
            ok ? (unsigned long)((char *)w - (char *)(di.dli_saddr ? di.dli_saddr : di.dli_fbase))
               : 0ul);
    }
}

/* ---- rows ---- */

struct photo {
    void *bytes;
    size_t len;
};

/* A row's values: per CSV column, the string (text repeated to K tokens)
 * or the photos read into memory. */
struct row {
    char **value;
    struct photo **photos; /* per column, NULL-terminated by len 0 */
    int *nphotos;
};

struct bench {
    const loom_model *m;
    struct table t;
    const char *root;
    int *in_of; /* CSV column -> model input, or -1 */
    struct loom_input_info *in;
};

static char *repeat_words(const char *v, int tokens)
{
    size_t n = strlen(v), cap = (n + 1) * (size_t)(tokens + 1) + 1;
    char *out = calloc(cap, 1);
    int words = 0;
    for (const char *p = v; *p; p++) words += (p == v || p[-1] == ' ') && *p != ' ';
    if (words == 0) return strcpy(out, v);
    for (int have = 0; have < tokens; have += words) {
        if (*out) strcat(out, " ");
        strcat(out, v);
    }
    return out;
}

static int load_row(struct bench *b, struct row *r, int64_t i, int tokens, int maxp)
{
    int nc = b->t.ncols;
    r->value = calloc((size_t)nc, sizeof *r->value);
    r->photos = calloc((size_t)nc, sizeof *r->photos);
    r->nphotos = calloc((size_t)nc, sizeof *r->nphotos);
    for (int c = 0; c < nc; c++) {
        if (b->in_of[c] < 0) continue;
        const struct loom_input_info *in = &b->in[b->in_of[c]];
        const char *v = b->t.rows[i][c];
        if (in->type == LOOM_TYPE_TEXT) {
            r->value[c] = tokens > 0 ? repeat_words(v, tokens) : strdup(v);
            continue;
        }
        if (in->type != LOOM_TYPE_IMAGES) {
            r->value[c] = strdup(v);
            continue;
        }
        r->photos[c] = calloc(64, sizeof **r->photos);
        while (*v && r->nphotos[c] < (maxp < 64 ? maxp : 64)) {
            size_t k = strcspn(v, (char[]){in->separator, 0});
            char path[4096];
            snprintf(path, sizeof path, "%s/%.*s", b->root, (int)k, v);
            struct photo *ph = &r->photos[c][r->nphotos[c]];
            if (k && (ph->bytes = read_file(path, &ph->len))) r->nphotos[c]++;
            v += k + (v[k] != 0);
        }
    }
    return 0;
}

static int add_row(struct bench *b, loom_rows *rows, const struct row *r, struct loom_error *err)
{
    int64_t i;
    if (loom_rows_add(rows, &i, err)) return -1;
    for (int c = 0; c < b->t.ncols; c++) {
        if (b->in_of[c] < 0) continue;
        const char *name = b->in[b->in_of[c]].name;
        if (r->value[c] &&
            loom_rows_set_string(rows, i, name, r->value[c], strlen(r->value[c]), err))
            return -1;
        for (int k = 0; k < r->nphotos[c]; k++)
            if (loom_rows_add_image(rows, i, name, r->photos[c][k].bytes, r->photos[c][k].len, err))
                return -1;
    }
    return 0;
}

static int build(struct bench *b, loom_rows *rows, const struct row *r, int n,
                 struct loom_error *err)
{
    loom_rows_clear(rows);
    for (int k = 0; k < n; k++)
        if (add_row(b, rows, &r[k], err)) return -1;
    return 0;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void stats(const char *what, double *t, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) sum += t[i];
    qsort(t, (size_t)n, sizeof *t, by_value);
    printf("  %-14s p50 %7.3f ms  p99 %7.3f ms  mean %7.3f ms  min %7.3f ms  (%d calls)\n", what,
           1e3 * t[n / 2], 1e3 * t[(n * 99) / 100], 1e3 * sum / n, 1e3 * t[0], n);
}

static int run(struct bench *b, int threads, int iters, const struct row *one,
               const struct row *many, int B)
{
    struct loom_error err = {0};
    loom_session *s = NULL;
    loom_rows *r1 = NULL, *rb = NULL;
    const loom_result *res;
    double *t = calloc((size_t)iters, sizeof *t), *cpu = calloc((size_t)iters, sizeof *cpu);
    if (loom_session_new(b->m, &s, &err) || loom_rows_new(b->m, &r1, &err) ||
        loom_rows_new(b->m, &rb, &err))
        goto fail;
    loom_session_set_threads(s, threads);
    printf("threads %d\n", threads);
    if (build(b, r1, one, 1, &err)) goto fail;
    for (int k = 0; k < 50; k++)
        if (loom_predict(s, r1, &res, &err)) goto fail;
    atomic_store(&ncalls, 0);
    atomic_store(&counting, true);
    for (int k = 0; k < 20; k++)
        if (loom_predict(s, r1, &res, &err)) goto fail;
    atomic_store(&counting, false);
    for (int k = 0; k < iters; k++) {
        double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (loom_predict(s, r1, &res, &err)) goto fail;
        t[k] = now() - t0;
        cpu[k] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    stats("predict", t, iters);
    /* CPU time of the whole process per call: on one thread the work itself,
     * little changed by other processes taking the cores (a busy machine
     * stretches wall time, not this); on several it includes spinning. */
    stats("  (cpu time)", cpu, iters);
    count_report(20);
    int nb = iters / 4 > 10 ? iters / 4 : 10;
    for (int k = 0; k < nb; k++) {
        double t0 = now();
        if (build(b, r1, one, 1, &err) || loom_predict(s, r1, &res, &err)) goto fail;
        t[k] = now() - t0;
    }
    stats("rows+predict", t, nb);
    if (B > 0) {
        if (build(b, rb, many, B, &err)) goto fail;
        for (int k = 0; k < 3; k++)
            if (loom_predict(s, rb, &res, &err)) goto fail;
        int nbat = 20;
        double t0 = now();
        for (int k = 0; k < nbat; k++)
            if (loom_predict(s, rb, &res, &err)) goto fail;
        double secs = now() - t0;
        printf("  batch %d       %7.1f rows/s (%.2f ms a batch)", B, nbat * B / secs,
               1e3 * secs / nbat);
        nbat = 5;
        t0 = now();
        for (int k = 0; k < nbat; k++)
            if (build(b, rb, many, B, &err) || loom_predict(s, rb, &res, &err)) goto fail;
        secs = now() - t0;
        printf("; rows+predict %7.1f rows/s\n", nbat * B / secs);
    }
    free(t), free(cpu);
    loom_rows_free(&r1), loom_rows_free(&rb);
    loom_session_free(&s);
    return 0;
fail:
    fprintf(stderr, "infer_latency: %s\n", err.message);
    free(t), free(cpu);
    loom_rows_free(&r1), loom_rows_free(&rb);
    loom_session_free(&s);
    return 1;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *csv = NULL, *root = NULL, *threads = "1,2";
    int iters = 2000, photos = 4, tokens = 48, B = 64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--image-root") && i + 1 < argc)
            root = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = argv[++i];
        else if (!strcmp(argv[i], "--photos") && i + 1 < argc)
            photos = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
            tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            B = atoi(argv[++i]);
        else if (!model_path)
            model_path = argv[i];
        else if (!csv)
            csv = argv[i];
    }
    if (!model_path || !csv || iters < 10 || photos < 0 || B < 0) {
        fprintf(stderr, "usage: infer_latency MODEL CSV [--image-root DIR] [--iters N] "
                        "[--threads 1,2] [--photos P] [--tokens K] [--batch B]\n");
        return 2;
    }
    struct bench b = {0};
    struct loom_error err = {0};
    loom_model *m = NULL;
    if (loom_model_open(model_path, &m, &err)) {
        fprintf(stderr, "infer_latency: %s: %s\n", model_path, err.message);
        return 1;
    }
    b.m = m;
    if (read_csv(csv, &b.t) || b.t.n == 0) {
        fprintf(stderr, "infer_latency: %s: cannot read rows\n", csv);
        return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", csv);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    b.root = root ? root : slash ? dir : ".";
    int nin = loom_model_input_count(m), img = -1;
    b.in = calloc((size_t)nin, sizeof *b.in);
    b.in_of = malloc((size_t)b.t.ncols * sizeof *b.in_of);
    for (int i = 0; i < nin; i++)
        if (loom_model_input(m, i, &b.in[i])) return 1;
    for (int c = 0; c < b.t.ncols; c++) {
        b.in_of[c] = -1;
        for (int i = 0; i < nin; i++)
            if (!strcmp(b.in[i].name, b.t.names[c])) b.in_of[c] = i;
        if (b.in_of[c] >= 0 && b.in[b.in_of[c]].type == LOOM_TYPE_IMAGES) img = c;
    }
    /* The first row with enough photos. */
    int64_t pick = 0;
    for (int64_t i = 0; img >= 0 && i < b.t.n; i++) {
        int k = 0;
        for (const char *v = b.t.rows[i][img]; *v; v++) k += *v == ';' || v == b.t.rows[i][img];
        if (k >= photos) {
            pick = i;
            break;
        }
    }
    struct row one, *many = calloc((size_t)(B ? B : 1), sizeof *many);
    load_row(&b, &one, pick, tokens, photos);
    for (int k = 0; k < B; k++) load_row(&b, &many[k], k % b.t.n, 0, 64);
    printf("loom %s; %s: row %lld of %s, %d photos, text of >= %d tokens; %d calls each\n",
           loom_version(), model_path, (long long)pick, csv, img >= 0 ? one.nphotos[img] : 0,
           tokens, iters);
    printf("(one row first decoded; figures on a shared machine are indicative)\n");
    int rc = 0;
    for (const char *p = threads; *p && !rc; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0))
        rc = run(&b, atoi(p), iters, &one, many, B);
    loom_model_close(&m);
    return rc;
}
