/*
 * gen.c — loom-market-ref-gen: data of the reference model's shapes
 * (../shared/bench/ref_model.py) as files loom reads, for bench/market_ref.
 *
 *   loom-market-ref-gen --out DIR [--rows N] [--valid N] [--seed S] [--quiet]
 *
 * Writes DIR/train.csv (N rows, default 1024 like ref_model.py), DIR/valid.csv
 * (default 256 rows) and the photos, DIR/photos/<id>_<k>.jpg. Columns:
 *   id          row id
 *   c0..c5      categories with 8, 48, 198, 3, 28 and 998 labels: loom adds a
 *               "missing" and an "unknown" code, so its embedding tables have
 *               the reference's cardinalities [10, 50, 200, 5, 30, 1000]
 *   n0..n7      numbers ~ N(0, 1)
 *   text        7..47 words (uniform) of a vocabulary of 7994 words: with
 *               loom's xxbos in front, lengths 8..48 of 48 steps, and a
 *               vocabulary of 7994 + 6 special tokens = 8000 ids
 *   photos      0..8 (uniform) 64x64 JPEGs, ";"-separated
 *   y           3 + 0.6 n0 - 0.4 n1 + 0.3 (c0 mod 3) + 0.2 noise, clamped to
 *               [0.05, 5.95] (ref_model.py's target)
 * In train.csv every category label appears at least once and every word at
 * least twice (when there are enough rows: >= 998, and >= 16,000 words in
 * all, about 600 rows), so that the fitted vocabulary and category tables
 * reach the reference's sizes and the model its 1,121,735 parameters.
 * Photos are the marketplace demo's renderer (examples/marketplace/photo.h)
 * at 64x64: an object in the category's shape on a background, with grain.
 * The output is a pure function of (rows, valid, seed). Not thread-safe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "listing.h"
#include "photo.h"

#define NCAT     6
#define NNUM     8
#define NWORDS   7994
#define MAXBAG   8
#define SIDE     64
#define MINWORDS 7
#define MAXWORDS 47

static const int labels[NCAT] = {8, 48, 198, 3, 28, 998};

/* Word k: two consonant-vowel syllables, or three for k >= 10000 (never
 * reached): letters only, so loom's tokenizer keeps each as one token. */
static void word(int k, char out[8])
{
    static const char cons[] = "bdfghjklmnprstvwxyzc", vow[] = "aeiou";
    int a = k % 100, b = k / 100 % 100;
    out[0] = cons[a / 5], out[1] = vow[a % 5], out[2] = cons[b / 5], out[3] = vow[b % 5];
    out[4] = 0;
}

struct split {
    const char *name;
    int64_t rows, first_id;
    bool cover; /* every label once and every word twice */
};

/* Uniform values in [0, n) for `count` slots; with cover, the first `times`
 * x n slots hold each value `times` times, then everything is shuffled. */
static uint32_t *deal(struct loom_rng *r, int64_t count, uint32_t n, int times, bool cover)
{
    uint32_t *v = malloc((size_t)(count ? count : 1) * sizeof *v);
    if (!v) return NULL;
    for (int64_t i = 0; i < count; i++)
        v[i] = cover && i < (int64_t)n * times ? (uint32_t)(i % n) : loom_rng_below(r, n);
    loom_rng_shuffle(r, v, (size_t)count);
    return v;
}

static bool write_photo(const char *dir, const char *rel, int cat, struct loom_rng *r, uint8_t *rgb,
                        uint8_t *alpha)
{
    struct market_photo p = {.kind = loom_rng_uniform(r) < 0.8f ? PHOTO_MAIN : PHOTO_CLOSE,
                             .cat = cat % MARKET_CATEGORIES,
                             .brand = (int)loom_rng_below(r, MARKET_BRANDS),
                             .cond = (int)loom_rng_below(r, MARKET_CONDITIONS),
                             .width = SIDE,
                             .height = SIDE,
                             .quality = 90};
    market_photo_render(&p, rgb, alpha, r);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    size_t bytes;
    struct loom_error err = {0};
    if (market_photo_write(path, &p, rgb, alpha, &bytes, &err) != LOOM_OK) {
        fprintf(stderr, "loom-market-ref-gen: %s: %s\n", path, err.message);
        return false;
    }
    return true;
}

static bool write_split(const char *out, const struct split *sp, struct loom_rng *r,
                        int64_t *photos)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.csv", out, sp->name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "loom-market-ref-gen: %s: %s\n", path, strerror(errno));
        return false;
    }
    int64_t n = sp->rows;
    int32_t *len = malloc((size_t)(n ? n : 1) * sizeof *len);
    uint32_t *cat[NCAT] = {0}, *words = NULL;
    int64_t nwords = 0;
    bool ok = len != NULL;
    for (int64_t i = 0; ok && i < n; i++) {
        len[i] = MINWORDS + (int32_t)loom_rng_below(r, MAXWORDS - MINWORDS + 1);
        nwords += len[i];
    }
    for (int k = 0; ok && k < NCAT; k++)
        ok = (cat[k] = deal(r, n, (uint32_t)labels[k], 1, sp->cover)) != NULL;
    ok = ok && (words = deal(r, nwords, NWORDS, 2, sp->cover)) != NULL;
    uint8_t rgb[SIDE * SIDE * 3], alpha[SIDE * SIDE];
    fprintf(f, "id,c0,c1,c2,c3,c4,c5,n0,n1,n2,n3,n4,n5,n6,n7,text,photos,y\n");
    int64_t w = 0;
    for (int64_t i = 0; ok && i < n; i++) {
        fprintf(f, "%lld", (long long)(sp->first_id + i));
        for (int k = 0; k < NCAT; k++) fprintf(f, ",%c%u", 'a' + k, cat[k][i]);
        float x[NNUM];
        for (int k = 0; k < NNUM; k++) {
            x[k] = loom_rng_normal(r);
            fprintf(f, ",%.6f", (double)x[k]);
        }
        fputc(',', f);
        for (int32_t t = 0; t < len[i]; t++, w++) {
            char wd[8];
            word((int)words[w], wd);
            fprintf(f, "%s%s", t ? " " : "", wd);
        }
        fputc(',', f);
        int bag = (int)loom_rng_below(r, MAXBAG + 1);
        for (int k = 0; ok && k < bag; k++) {
            char rel[64];
            snprintf(rel, sizeof rel, "photos/%lld_%d.jpg", (long long)(sp->first_id + i), k);
            ok = write_photo(out, rel, (int)cat[0][i], r, rgb, alpha);
            fprintf(f, "%s%s", k ? ";" : "", rel + 7);
        }
        *photos += bag;
        double y = 3.0 + 0.6 * x[0] - 0.4 * x[1] + 0.3 * (double)(cat[0][i] % 3) +
                   0.2 * (double)loom_rng_normal(r);
        y = y < 0.05 ? 0.05 : y > 5.95 ? 5.95 : y;
        fprintf(f, ",%.6f\n", y);
    }
    if (fclose(f) != 0) ok = false;
    free(len), free(words);
    for (int k = 0; k < NCAT; k++) free(cat[k]);
    if (!ok) fprintf(stderr, "loom-market-ref-gen: writing %s failed\n", path);
    return ok;
}

/* mkdir -p */
static bool mkdirs(const char *path)
{
    char p[4200];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/') continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0777) && errno != EEXIST) return false;
        if (!(*s = c)) return true;
    }
}

static int usage(void)
{
    fprintf(stderr,
            "usage: loom-market-ref-gen --out DIR [--rows N] [--valid N] [--seed S] [--quiet]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    long long rows = 1024, valid = 256, seed = 1;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        bool has = i + 1 < argc;
        if (!strcmp(argv[i], "--out") && has)
            out = argv[++i];
        else if (!strcmp(argv[i], "--rows") && has)
            rows = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--valid") && has)
            valid = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && has)
            seed = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--quiet"))
            quiet = true;
        else
            return usage();
    }
    if (!out || rows < 2 || rows > 10000000 || valid < 1 || valid > 10000000 || seed < 0)
        return usage();
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/photos", out);
    if (!mkdirs(dir)) {
        fprintf(stderr, "loom-market-ref-gen: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    struct loom_rng r;
    loom_rng_init(&r, (uint64_t)seed, 0x4d4b54524546ull);
    struct split sp[2] = {{"train", rows, 0, true}, {"valid", valid, rows, false}};
    int64_t photos = 0;
    for (int s = 0; s < 2; s++)
        if (!write_split(out, &sp[s], &r, &photos)) return 1;
    if (!quiet) {
        printf("loom-market-ref-gen: %lld training and %lld validation rows, %lld photos in %s\n",
               rows, valid, (long long)photos, out);
        if (rows < labels[NCAT - 1] || rows * (MINWORDS + MAXWORDS) / 2 < 2 * NWORDS)
            printf("loom-market-ref-gen: note: too few rows for every label and word: the "
                   "model will have fewer than the reference's 1,121,735 parameters\n");
    }
    return 0;
}
