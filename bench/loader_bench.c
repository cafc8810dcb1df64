/*
 * loader_bench.c — the loaders' speed (issue 3's benchmark).
 *
 *  1. N JPEG photos of 640x480 (a smooth pattern with some texture, quality
 *     85, written with libjpeg's compressor), then images per second of
 *     loom_image_load -> 64x64 (DCT-scaled decode + area resize + crop) with
 *     1 and 2 threads, next to a plain full-size libjpeg-turbo decode of the
 *     same files (no DCT scaling, to RGB) in the same run.
 *  2. A dataset of R rows with 4 photos each (small source photos: only the
 *     cache matters here): the first open (decode + cache write), the second
 *     open (mmap + full checksum + checks), then rows per second of batches
 *     read back from the cache: evaluation batches and training batches
 *     (random crop + flip), with 1 and 2 loader threads.
 * Usage: loader_bench [photos=200] [rows=5000]. Run it with nice.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>

#include "loaders/dataset.h"
#include "loaders/image.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_jpeg(const char *path, int w, int h, int seed)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 85, TRUE);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)w * 3);
    uint32_t s = (uint32_t)seed * 2654435761u + 1;
    while (ci.next_scanline < ci.image_height) {
        int y = (int)ci.next_scanline;
        for (int x = 0; x < w; x++) {
            /* Texture at several scales and a little noise, so that the files
             * weigh what product photos do at quality 85 (about 1.5 bits
             * per pixel); a flat pattern would flatter every decoder. */
            s = s * 1664525u + 1013904223u;
            int n = (int)(s >> 30) - 2 + ((x / 3 + y / 5) % 7) + ((x * y / 64) % 13);
            row[3 * x] = (uint8_t)((x * 255 / w + seed * 17 + n) & 255);
            row[3 * x + 1] = (uint8_t)((y * 255 / h + n) & 255);
            row[3 * x + 2] = (uint8_t)(((x + y) / 4 + seed * 5) & 255);
        }
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    fclose(f);
}

/* A full-size decode to RGB with plain libjpeg-turbo (the baseline). */
static int decode_full(const char *path, uint8_t *buf)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    size_t stride = (size_t)ci.output_width * 3;
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW r = buf + (size_t)ci.output_scanline * stride;
        jpeg_read_scanlines(&ci, &r, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    fclose(f);
    return 0;
}

struct work {
    char (*paths)[512];
    int from, to;
    bool full;
    int failed;
};

static void *run(void *arg)
{
    struct work *w = arg;
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 64;
    uint8_t *buf = malloc(w->full ? 640 * 480 * 3 : 64 * 64 * 3);
    for (int i = w->from; i < w->to; i++) {
        if (w->full)
            w->failed += decode_full(w->paths[i], buf) != 0;
        else
            w->failed += loom_image_load(w->paths[i], &o, buf, NULL, NULL) != LOOM_OK;
    }
    free(buf);
    return NULL;
}

/* Images per second over all paths with t threads. */
static double images_per_s(char (*paths)[512], int n, int t, bool full)
{
    pthread_t tid[2];
    struct work w[2];
    double t0 = now_s();
    for (int i = 0; i < t; i++) {
        w[i] = (struct work){paths, n * i / t, n * (i + 1) / t, full, 0};
        pthread_create(&tid[i], NULL, run, &w[i]);
    }
    int failed = 0;
    for (int i = 0; i < t; i++) {
        pthread_join(tid[i], NULL);
        failed += w[i].failed;
    }
    if (failed) fprintf(stderr, "%d decodes failed\n", failed);
    return n / (now_s() - t0);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static double batches_rows_per_s(const struct loom_dataset *d, bool training, int threads)
{
    struct loom_batcher_opts bo = {.batch_size = 64,
                                   .shuffle = true,
                                   .training = training,
                                   .seed = 1,
                                   .threads = threads,
                                   .prefetch = 4};
    struct loom_batcher *b = NULL;
    struct loom_error e;
    if (loom_batcher_new(d, &bo, &b, &e) != LOOM_OK) {
        fprintf(stderr, "batcher: %s\n", e.message);
        exit(1);
    }
    const struct loom_batch *bt;
    int64_t rows = 0;
    double t0 = now_s();
    for (;;) {
        if (loom_batcher_next(b, &bt, &e) != LOOM_OK) {
            fprintf(stderr, "next: %s\n", e.message);
            exit(1);
        }
        if (!bt) break;
        rows += bt->n;
    }
    double r = (double)rows / (now_s() - t0);
    loom_batcher_free(&b);
    return r;
}

int main(int argc, char **argv)
{
    int nphotos = argc > 1 ? atoi(argv[1]) : 200, nrows = argc > 2 ? atoi(argv[2]) : 5000;
    char dir[] = "/tmp/loom_loader_bench_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char(*paths)[512] = calloc((size_t)nphotos, sizeof *paths);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/photos", dir);
    mkdir(sub, 0755);
    for (int i = 0; i < nphotos; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/p%d.jpg", sub, i);
        write_jpeg(paths[i], 640, 480, i);
    }
    struct stat st0;
    stat(paths[0], &st0);
    printf("loader_bench: %d JPEG photos 640x480 (%.0f KB each), %d rows x 4 photos\n\n", nphotos,
           (double)st0.st_size / 1024, nrows);
    printf("%-44s %10s %10s\n", "decode (images/s)", "1 thread", "2 threads");
    images_per_s(paths, LOOM_MIN(nphotos, 20), 1, false); /* warm the page cache */
    double l1 = images_per_s(paths, nphotos, 1, false), l2 = images_per_s(paths, nphotos, 2, false);
    double f1 = images_per_s(paths, nphotos, 1, true), f2 = images_per_s(paths, nphotos, 2, true);
    printf("%-44s %10.0f %10.0f\n", "loom_image_load 640x480 -> 64x64", l1, l2);
    printf("%-44s %10.0f %10.0f\n", "libjpeg-turbo full-size decode 640x480", f1, f2);
    printf("%-44s %10.2f %10.2f\n\n", "  ratio", l1 / f1, l2 / f2);

    /* The dataset: 16 small photos shared by the rows. */
    for (int i = 0; i < 16; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/s%d.jpg", sub, i);
        write_jpeg(p, 128, 96, i);
    }
    char csv[700];
    snprintf(csv, sizeof csv, "%s/train.csv", dir);
    FILE *f = fopen(csv, "w");
    fprintf(f, "id,cat,title,photos,price\n");
    for (int i = 0; i < nrows; i++)
        fprintf(
            f,
            "r%d,c%d,\"listing number %d, in good condition\",s%d.jpg;s%d.jpg;s%d.jpg;s%d.jpg,%d\n",
            i, i % 13, i, i % 16, (i + 3) % 16, (i + 7) % 16, (i + 11) % 16, i % 100);
    fclose(f);
    const char *schema = "data: {train: train.csv, images: photos, split: {valid: 0.1, seed: 1}}\n"
                         "columns:\n"
                         "  id: {type: id}\n"
                         "  cat: {type: category}\n"
                         "  title: {type: text, max_tokens: 16}\n"
                         "  photos: {type: images, max_images: 4}\n"
                         "  price: {type: number}\n"
                         "branches:\n"
                         "  tab: {encoder: mlp, columns: [cat]}\n"
                         "  txt: {encoder: rnn, columns: [title]}\n"
                         "  img: {encoder: cnn, columns: [photos], image_size: 64}\n"
                         "outputs: {price: {}}\n";
    struct loom_schema s = {0};
    struct loom_diag dg = {0};
    if (loom_schema_load_mem(schema, strlen(schema), dir, "bench.yaml", NULL, &s, &dg) != LOOM_OK) {
        loom_diag_print(&dg, stderr);
        return 1;
    }
    struct loom_error e;
    struct loom_prep *p = NULL;
    struct loom_dataset_opts o;
    loom_dataset_opts_default(&o);
    o.threads = 2;
    double t0 = now_s();
    if (loom_prep_fit(&s, &o, &p, NULL, &e) != LOOM_OK) {
        fprintf(stderr, "fit: %s\n", e.message);
        return 1;
    }
    double t_fit = now_s() - t0;
    struct loom_dataset *d = NULL;
    struct loom_data_report rep;
    t0 = now_s();
    if (loom_dataset_open(&s, p, LOOM_SPLIT_TRAIN, &o, &d, &rep, &e) != LOOM_OK) {
        fprintf(stderr, "open: %s\n", e.message);
        return 1;
    }
    double t_build = now_s() - t0;
    loom_dataset_close(&d);
    t0 = now_s();
    if (loom_dataset_open(&s, p, LOOM_SPLIT_TRAIN, &o, &d, &rep, &e) != LOOM_OK ||
        !rep.from_cache) {
        fprintf(stderr, "reopen: %s\n", rep.from_cache ? e.message : "not from the cache");
        return 1;
    }
    double t_open = now_s() - t0;
    int64_t rows = loom_dataset_rows(d);
    struct stat sb;
    stat(loom_dataset_cache_path(d), &sb);
    printf("dataset: %lld training rows, %lld photos; cache %.1f MB\n", (long long)rows,
           (long long)rep.images_ok, (double)sb.st_size / 1e6);
    printf("%-44s %10.2f s (%.0f rows/s)\n", "fit (one CSV pass)", t_fit, rows / t_fit);
    printf("%-44s %10.2f s (%.0f photos/s, 2 threads)\n", "first open: decode + write cache",
           t_build, (double)rep.images_ok / t_build);
    printf("%-44s %10.2f s\n\n", "second open: mmap + checksum + checks", t_open);
    printf("%-44s %10s %10s\n", "batches of 64 from the cache (rows/s)", "1 thread", "2 threads");
    double e1 = batches_rows_per_s(d, false, 1), e2 = batches_rows_per_s(d, false, 2);
    double a1 = batches_rows_per_s(d, true, 1), a2 = batches_rows_per_s(d, true, 2);
    printf("%-44s %10.0f %10.0f\n", "evaluation (no augmentation)", e1, e2);
    printf("%-44s %10.0f %10.0f\n", "training (random crop + flip)", a1, a2);
    loom_dataset_close(&d);
    loom_prep_free(&p);
    loom_schema_free(&s);
    free(paths);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
