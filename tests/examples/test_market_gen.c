/* test_market_gen.c — the marketplace generator: every CSV record parses
 * with loom's reader, every photo decodes with loom's image loader, the
 * files are a pure function of the seed (not of the thread count), and the
 * price carries the signal the demo is built on. */
#include <ftw.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loaders/csv.h"
#include "loaders/image.h"
#include "loaders/text.h"
#include "market.h"
#include "tests/testlib.h"

enum { F_ID, F_CAT, F_BRAND, F_COND, F_RATING, F_SHIP, F_DATE, F_TITLE, F_DESC, F_PHOTOS, F_PRICE };
#define NFIELDS 11

static const char *const split_files[3] = {"train.csv", "valid.csv", "test.csv"};

static void temp_dir(char out[64])
{
    snprintf(out, 64, "/tmp/loom-market-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir)
{
    assert_int_equal(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void generate(const char *dir, int64_t rows, uint64_t seed, int photo_size,
                     struct market_stats *st)
{
    struct market_opts o;
    market_opts_default(&o);
    o.out = dir;
    o.rows = rows;
    o.seed = seed;
    o.photo_size = photo_size;
    struct loom_error err = {0};
    struct market_stats s;
    if (market_generate(&o, st ? st : &s, &err) != LOOM_OK) fail_msg("%s", err.message);
}

static double number(const struct loom_csv_field *f)
{
    double v = NAN;
    if (loom_parse_number(f->data, f->len, &v) != LOOM_OK) fail_msg("not a number: %s", f->data);
    return v;
}

/* Per split: rows, and the log prices with their category x brand key. */
struct table {
    int64_t rows, photos, multiline, quotes, non_ascii, missing_rating, missing_cond;
    double log_price[4096];
    char key[4096][48];
};

static void read_split(const char *dir, int s, struct table *t)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, split_files[s]);
    struct loom_csv_reader *r = NULL;
    struct loom_error err = {0};
    struct loom_csv_row row;
    assert_int_equal(loom_csv_open(path, NULL, &r, &err), LOOM_OK);
    assert_int_equal(loom_csv_read_header(r, &row, &err), LOOM_OK);
    assert_int_equal(row.count, NFIELDS);
    assert_string_equal(row.fields[F_ID].data, "id");
    assert_string_equal(row.fields[F_PRICE].data, "price");
    struct loom_image_opts io = loom_image_opts_default();
    io.size = 64;
    uint8_t *rgb = malloc(64 * 64 * 3);
    assert_non_null(rgb);
    for (;;) {
        enum loom_status st = loom_csv_next(r, &row, &err);
        if (st != LOOM_OK) fail_msg("%s: %s", path, err.message);
        if (row.count == 0) break;
        assert_int_equal(row.count, NFIELDS);
        const struct loom_csv_field *f = row.fields;
        assert_true(f[F_ID].len == 7 && f[F_ID].data[0] == 'L');
        assert_true(f[F_CAT].len > 0 && f[F_BRAND].len > 0 && f[F_TITLE].len > 0);
        assert_int_equal(f[F_DATE].len, 10);
        assert_true(!strncmp(f[F_DATE].data, "2024-", 5) || !strncmp(f[F_DATE].data, "2025-", 5));
        if (f[F_RATING].len) {
            double v = number(&f[F_RATING]);
            assert_true(v >= 1 && v <= 5);
        }
        if (f[F_SHIP].len) assert_true(number(&f[F_SHIP]) >= 1);
        t->missing_rating += f[F_RATING].len == 0;
        t->missing_cond += f[F_COND].len == 0;
        t->multiline += strchr(f[F_DESC].data, '\n') != NULL;
        t->quotes += strchr(f[F_DESC].data, '"') || strchr(f[F_TITLE].data, '"');
        for (size_t i = 0; i < f[F_TITLE].len; i++)
            if ((unsigned char)f[F_TITLE].data[i] >= 0x80) {
                t->non_ascii++;
                break;
            }
        double price = number(&f[F_PRICE]);
        assert_true(isfinite(price) && price > 0);
        assert_true(t->rows < 4096);
        t->log_price[t->rows] = log(price);
        snprintf(t->key[t->rows], sizeof t->key[0], "%s/%s", f[F_CAT].data, f[F_BRAND].data);
        t->rows++;
        /* Every photo path exists and decodes. */
        char *list = strdup(f[F_PHOTOS].data), *save = NULL;
        assert_non_null(list);
        for (char *p = strtok_r(list, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
            char img[512];
            snprintf(img, sizeof img, "%s/photos/%s", dir, p);
            struct loom_image_info info;
            if (loom_image_load(img, &io, rgb, &info, &err) != LOOM_OK)
                fail_msg("%s: %s", img, err.message);
            assert_true(info.width >= 64 && info.height >= 64);
            t->photos++;
        }
        free(list);
    }
    struct loom_csv_counts c = loom_csv_counts(r);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.ok, t->rows);
    loom_csv_close(&r);
    free(rgb);
}

LOOM_TEST(market_gen_every_row_parses_and_every_photo_decodes)
{
    char dir[64];
    temp_dir(dir);
    struct market_stats st;
    generate(dir, 200, 3, 160, &st);
    static struct table t[3];
    memset(t, 0, sizeof t);
    int64_t rows = 0, photos = 0, multiline = 0, quotes = 0, non_ascii = 0;
    double lo = INFINITY, hi = 0;
    for (int s = 0; s < 3; s++) {
        read_split(dir, s, &t[s]);
        assert_int_equal(t[s].rows, st.rows[s]);
        rows += t[s].rows, photos += t[s].photos, multiline += t[s].multiline;
        quotes += t[s].quotes, non_ascii += t[s].non_ascii;
        for (int64_t i = 0; i < t[s].rows; i++) {
            lo = fmin(lo, t[s].log_price[i]);
            hi = fmax(hi, t[s].log_price[i]);
        }
    }
    printf("200 rows: %lld photos, %lld multi-line descriptions, %lld with quotes, %lld "
           "non-ASCII titles, price %.2f .. %.2f\n",
           (long long)photos, (long long)multiline, (long long)quotes, (long long)non_ascii,
           exp(lo), exp(hi));
    assert_int_equal(rows, 200);
    assert_int_equal(photos, st.photos);
    assert_true(photos > 300);
    assert_true(multiline > 0 && quotes > 0 && non_ascii > 0);
    assert_true(t[0].missing_rating > 0 && t[0].missing_cond > 0);
    assert_true(hi - lo > log(10.0)); /* more than one order of magnitude */
    remove_tree(dir);
}

/* Every regular file of a has a byte-identical twin in b. */
static const char *cmp_root_a, *cmp_root_b;
static int cmp_files, cmp_diff;

static int compare_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F) return 0;
    char other[512];
    snprintf(other, sizeof other, "%s%s", cmp_root_b, path + strlen(cmp_root_a));
    FILE *fa = fopen(path, "rb"), *fb = fopen(other, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    cmp_files++;
    cmp_diff += !same;
    (void)sb;
    return 0;
}

static int compare_trees(const char *a, const char *b)
{
    cmp_root_a = a, cmp_root_b = b, cmp_files = 0, cmp_diff = 0;
    assert_int_equal(nftw(a, compare_entry, 16, FTW_PHYS), 0);
    return cmp_diff;
}

LOOM_TEST(market_gen_same_seed_same_bytes_whatever_the_threads)
{
    char a[64], b[64], c[64];
    temp_dir(a), temp_dir(b), temp_dir(c);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    generate(a, 120, 7, 120, NULL);
    omp_set_num_threads(3);
    generate(b, 120, 7, 120, NULL);
    omp_set_num_threads(threads);
    generate(c, 120, 8, 120, NULL);
    assert_int_equal(compare_trees(a, b), 0);
    assert_true(cmp_files > 100);
    assert_int_equal(compare_trees(b, a), 0); /* and nothing extra in b */
    char pa[128], pc[128];
    snprintf(pa, sizeof pa, "%s/train.csv", a);
    snprintf(pc, sizeof pc, "%s/train.csv", c);
    cmp_root_a = a, cmp_root_b = c, cmp_diff = 0;
    compare_entry(pa, NULL, FTW_F, NULL);
    assert_int_equal(cmp_diff, 1); /* another seed, another data set */
    remove_tree(a), remove_tree(b), remove_tree(c);
}

/* The signal: (1) straight from the CSVs, the category x brand means of
 * log price on train explain much of valid; (2) from the generator's own
 * accounting, the best model of any single branch is far from the fused
 * one. Numbers printed for the README. */
LOOM_TEST(market_gen_price_depends_on_every_branch)
{
    char dir[64];
    temp_dir(dir);
    struct market_stats st;
    generate(dir, 3000, 5, 64, &st);
    static struct table t[3];
    memset(t, 0, sizeof t);
    for (int s = 0; s < 2; s++) read_split(dir, s, &t[s]);
    /* Tabular baseline: mean log price per category x brand on train. */
    double se = 0, ss = 0, mean = 0;
    for (int64_t i = 0; i < t[1].rows; i++) mean += t[1].log_price[i] / t[1].rows;
    for (int64_t i = 0; i < t[1].rows; i++) {
        double sum = 0, all = 0;
        int n = 0;
        for (int64_t j = 0; j < t[0].rows; j++) {
            all += t[0].log_price[j];
            if (!strcmp(t[0].key[j], t[1].key[i])) sum += t[0].log_price[j], n++;
        }
        double pred = n ? sum / n : all / t[0].rows, e = t[1].log_price[i] - pred;
        se += e * e;
        ss += (t[1].log_price[i] - mean) * (t[1].log_price[i] - mean);
    }
    double r2 = 1 - se / ss;
    printf("category x brand means (train -> valid): RMSE %.3f, R^2 %.3f of log price\n",
           sqrt(se / t[1].rows), r2);
    printf("corr(log price, log base) = %.3f; best RMSE from:", st.signal.corr_base);
    for (int b = 0; b < SIGNAL_COUNT; b++)
        printf(" %s %.3f%s", market_signal_names[b], st.signal.oracle_rmse[b],
               b + 1 < SIGNAL_COUNT ? "," : "\n");
    assert_true(r2 > 0.6 && r2 < 0.9);
    assert_true(st.signal.corr_base > 0.8);
    double fused = st.signal.oracle_rmse[SIGNAL_FUSED];
    assert_true(fused < 0.15);
    for (int b = SIGNAL_TABULAR; b <= SIGNAL_PHOTOS; b++)
        assert_true(st.signal.oracle_rmse[b] > 2 * fused);
    remove_tree(dir);
}
