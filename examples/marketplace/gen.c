/*
 * gen.c — loom-market-gen: writes the marketplace demo data set.
 *
 *   loom-market-gen [--out DIR] [--rows N] [--seed S] [--photo-size PX]
 *                   [--max-photos K] [--valid F] [--test F] [--truth]
 *                   [--threads T] [--stats] [--quiet]
 *
 * The files depend only on the options that shape the data (rows, seed,
 * photo size, max photos, valid, test), never on the thread count.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "market.h"

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Writes train.csv, valid.csv, test.csv and photos/ of a synthetic marketplace.\n"
            "  --out DIR         output directory (default marketplace-data)\n"
            "  --rows N          listings (default 6000)\n"
            "  --seed S          random seed (default 1)\n"
            "  --photo-size PX   widest photo, 64..1024 (default 200; heights up to 4/5)\n"
            "  --max-photos K    photos per listing at most, 0..8 (default 8)\n"
            "  --valid F         share of rows in valid.csv (default 0.15)\n"
            "  --test F          share of rows in test.csv (default 0.15)\n"
            "  --truth           also write truth.csv (hidden state, price terms)\n"
            "  --threads T       worker threads (default: all cores)\n"
            "  --stats           print the signal check (best RMSE per branch)\n"
            "  --quiet           print nothing on success\n",
            argv0);
}

static bool parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == 0 || *end != 0 || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_frac(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == 0 || *end != 0 || !(v >= 0 && v < 1)) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    struct market_opts o;
    market_opts_default(&o);
    bool stats = false, quiet = false;
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0]);
            return 0;
        } else if (!strcmp(a, "--truth")) {
            o.truth = true;
            continue;
        } else if (!strcmp(a, "--stats")) {
            stats = true;
            continue;
        } else if (!strcmp(a, "--quiet")) {
            quiet = true;
            continue;
        } else if (!val) {
            ok = false;
        } else if (!strcmp(a, "--out")) {
            o.out = val;
        } else if (!strcmp(a, "--rows")) {
            ok = parse_int(val, 1, 10000000, &v), o.rows = v;
        } else if (!strcmp(a, "--seed")) {
            ok = parse_int(val, 0, 0x7fffffffffffffffLL, &v), o.seed = (uint64_t)v;
        } else if (!strcmp(a, "--photo-size")) {
            ok = parse_int(val, 64, 1024, &v), o.photo_size = (int)v;
        } else if (!strcmp(a, "--max-photos")) {
            ok = parse_int(val, 0, 8, &v), o.max_photos = (int)v;
        } else if (!strcmp(a, "--valid")) {
            ok = parse_frac(val, &o.valid_frac);
        } else if (!strcmp(a, "--test")) {
            ok = parse_frac(val, &o.test_frac);
        } else if (!strcmp(a, "--threads")) {
            ok = parse_int(val, 1, 1024, &v);
            if (ok) omp_set_num_threads((int)v);
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "%s: bad option or value: %s%s%s\n", argv[0], a, val ? " " : "",
                    val ? val : "");
            usage(stderr, argv[0]);
            return 2;
        }
        i++;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct market_stats s;
    struct loom_error err = {0};
    if (market_generate(&o, &s, &err) != LOOM_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (quiet) return 0;
    printf("%s: %lld rows (train %lld, valid %lld, test %lld), %lld photos (%lld PNG, %lld "
           "distractors, %lld showing a defect), %lld rows without photos, %.1f MB in %.1f s\n",
           o.out, (long long)o.rows, (long long)s.rows[0], (long long)s.rows[1],
           (long long)s.rows[2], (long long)s.photos, (long long)s.png, (long long)s.distractors,
           (long long)s.damaged, (long long)s.rows_without_photos, s.bytes / 1e6, secs);
    printf("price: min %.2f, median %.2f, max %.2f\n", s.price_min, s.price_median, s.price_max);
    if (stats) {
        printf("signal check (all rows, log price): corr(log price, log base category x brand) "
               "= %.3f\n",
               s.signal.corr_base);
        printf("best RMSE of log price from each branch's information alone:\n");
        for (int b = 0; b < SIGNAL_COUNT; b++)
            printf("  %-18s %.3f\n", market_signal_names[b], s.signal.oracle_rmse[b]);
    }
    return 0;
}
