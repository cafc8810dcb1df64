/*
 * market.c — the generator's driver: directories, one listing per row in
 * parallel (its photos rendered and written, its CSV line composed), the
 * split into train/valid/test, the CSV files (written to a temporary name,
 * then renamed, photos first and CSVs last, so a present train.csv means a
 * complete data set), and the statistics.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "listing.h"
#include "market.h"
#include "photo.h"

#define ROWS_PER_DIR 1000

static const char *const split_names[3] = {"train.csv", "valid.csv", "test.csv"};
static const char header[] = "id,category,brand,condition,seller_rating,shipping_days,listed_at,"
                             "title,description,photos,price\r\n";

void market_opts_default(struct market_opts *o)
{
    *o = (struct market_opts){
        .out = "marketplace-data",
        .rows = 6000,
        .seed = 1,
        .photo_size = 200,
        .max_photos = MARKET_MAX_PHOTOS,
        .valid_frac = 0.15,
        .test_frac = 0.15,
    };
}

/* What one row produced besides its listing. */
struct row_out {
    char *line;     /* CSV record, CRLF-terminated */
    uint64_t bytes; /* of its photos */
    int png, distractors, damaged;
};

static enum loom_status make_dir(const char *path, struct loom_error *err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return LOOM_OK;
    return loom_error_set(err, LOOM_ERR_IO, "cannot create %s: %s", path, strerror(errno));
}

/* mkdir -p */
static enum loom_status make_dirs(const char *path, struct loom_error *err)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return loom_error_set(err, LOOM_ERR_INVALID, "bad directory");
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (tmp[i] != '/') continue;
        tmp[i] = 0;
        enum loom_status st = make_dir(tmp, err);
        tmp[i] = '/';
        if (st != LOOM_OK) return st;
    }
    return make_dir(tmp, err);
}

/* A CSV field: quoted (quotes doubled) when forced or when it must be. */
static void put_field(struct market_buf *b, const char *s, bool quote)
{
    quote = quote || strpbrk(s, ",\"\r\n");
    if (!quote) {
        market_buf_puts(b, s);
        return;
    }
    market_buf_puts(b, "\"");
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        market_buf_put(b, s, (size_t)(q - s) + 1);
        market_buf_puts(b, "\"");
    }
    market_buf_puts(b, s);
    market_buf_puts(b, "\"");
}

static enum loom_status write_photos(const struct market_opts *o, struct market_listing *l,
                                     struct loom_rng *r, struct market_buf *line,
                                     struct row_out *ro, struct loom_error *err)
{
    size_t cap = (size_t)o->photo_size * (size_t)o->photo_size;
    uint8_t *rgb = malloc(cap * 3), *alpha = malloc(cap);
    enum loom_status st = LOOM_OK;
    if (!rgb || !alpha) {
        st = loom_error_set(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < l->nphotos; k++) {
        struct market_photo p = {
            .kind = l->photo_kind[k],
            .cat = l->cat,
            .brand = l->brand,
            .cond = l->cond,
            .premium = l->premium,
            .damage = l->photo_damage[k],
        };
        market_photo_plan(&p, o->photo_size, r);
        market_photo_render(&p, rgb, alpha, r);
        char rel[64], path[4200];
        snprintf(rel, sizeof rel, "%03lld/L%06lld_%d.%s", (long long)((l->id - 1) / ROWS_PER_DIR),
                 (long long)l->id, k, p.png ? "png" : "jpg");
        snprintf(path, sizeof path, "%s/photos/%s", o->out, rel);
        size_t bytes = 0;
        st = market_photo_write(path, &p, rgb, alpha, &bytes, err);
        if (st != LOOM_OK) goto done;
        ro->bytes += bytes;
        ro->png += p.png;
        ro->distractors += p.kind > PHOTO_CLOSE;
        ro->damaged += p.damage;
        if (k) market_buf_puts(line, ";");
        market_buf_puts(line, rel);
    }
done:
    free(rgb);
    free(alpha);
    return st;
}

/* Listing i (0-based): drawn from stream i + 1, photos written, CSV line. */
static enum loom_status make_row(const struct market_opts *o, int64_t i, struct market_listing *l,
                                 struct row_out *ro, struct loom_error *err)
{
    struct loom_rng r;
    loom_rng_init(&r, o->seed, (uint64_t)i + 1);
    market_listing_draw(l, i + 1, o->max_photos, &r);
    struct market_buf title = {0}, desc = {0}, line = {0};
    market_listing_title(l, &r, &title);
    market_listing_description(l, &r, &desc);

    char tmp[64], date[11];
    int doy;
    snprintf(tmp, sizeof tmp, "L%06lld,", (long long)l->id);
    market_buf_puts(&line, tmp);
    market_buf_printf(&line, "%s,", market_categories[l->cat].name);
    put_field(&line, market_brands[l->brand].name, false);
    market_buf_printf(&line, ",%s,", l->cond_stated ? market_condition_names[l->cond] : "");
    if (!l->rating_missing) market_buf_printf(&line, "%.1f", l->rating);
    market_buf_puts(&line, ",");
    if (!l->ship_missing) market_buf_printf(&line, "%d", l->ship);
    market_date(l->day, date, &doy);
    market_buf_printf(&line, ",%s,", date);
    put_field(&line, title.p ? title.p : "", true);
    market_buf_puts(&line, ",");
    put_field(&line, desc.p ? desc.p : "", true);
    market_buf_puts(&line, ",");
    enum loom_status st = write_photos(o, l, &r, &line, ro, err);
    market_buf_printf(&line, ",%.2f\r\n", l->price);
    if (st == LOOM_OK && (line.failed || title.failed || desc.failed))
        st = loom_error_set(err, LOOM_ERR_NOMEM, "out of memory");
    market_buf_free(&title);
    market_buf_free(&desc);
    if (st == LOOM_OK) {
        ro->line = line.p;
    } else {
        market_buf_free(&line);
    }
    return st;
}

/* Writes the rows of split s (in id order) to DIR/name via a temporary. */
static enum loom_status write_csv(const char *dir, const char *name, const char *head,
                                  const uint8_t *split, int s, struct row_out *rows, int64_t n,
                                  const struct market_listing *ls, uint64_t *bytes,
                                  struct loom_error *err)
{
    char path[4200], tmp[4210];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return loom_error_set(err, LOOM_ERR_IO, "%s: %s", tmp, strerror(errno));
    bool ok = fputs(head, f) >= 0;
    for (int64_t i = 0; i < n && ok; i++) {
        if (split && split[i] != s) continue;
        if (rows) {
            ok = fputs(rows[i].line, f) >= 0;
            continue;
        }
        /* truth.csv: the hidden state and every log-price term. */
        const struct market_listing *l = &ls[i];
        ok = fprintf(f, "L%06lld,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%u,%d,%d", (long long)l->id, l->cond,
                     l->cond_stated, l->cond_in_text, l->premium, l->sealed, l->defect,
                     l->defect_in_photo, l->defect_in_text, l->missing, (int)l->brand_mention,
                     l->acc, l->nphotos, l->nobject) > 0;
        for (int t = 0; t < TERM_COUNT && ok; t++) ok = fprintf(f, ",%.5f", l->term[t]) > 0;
        ok = ok && fputs("\r\n", f) >= 0;
    }
    long size = ok ? ftell(f) : -1;
    if (fclose(f) != 0) ok = false;
    if (!ok || size < 0 || rename(tmp, path) != 0) {
        enum loom_status st = loom_error_set(err, LOOM_ERR_IO, "%s: %s", path, strerror(errno));
        remove(tmp);
        return st;
    }
    *bytes += (uint64_t)size;
    return LOOM_OK;
}

static enum loom_status check_opts(const struct market_opts *o, struct loom_error *err)
{
    if (!o || !o->out || !*o->out) return loom_error_set(err, LOOM_ERR_INVALID, "no directory");
    if (o->rows < 1 || o->rows > 10000000)
        return loom_error_set(err, LOOM_ERR_INVALID, "rows must be 1..10000000");
    if (o->photo_size < 64 || o->photo_size > 1024)
        return loom_error_set(err, LOOM_ERR_INVALID, "photo size must be 64..1024");
    if (o->max_photos < 0 || o->max_photos > MARKET_MAX_PHOTOS)
        return loom_error_set(err, LOOM_ERR_INVALID, "max photos must be 0..8");
    if (!(o->valid_frac >= 0 && o->test_frac >= 0 && o->valid_frac + o->test_frac < 1))
        return loom_error_set(err, LOOM_ERR_INVALID, "valid + test must be in [0, 1)");
    return LOOM_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fill_stats(const struct market_listing *ls, const struct row_out *rows,
                       const uint8_t *split, int64_t n, struct market_stats *st)
{
    double *prices = malloc((size_t)n * sizeof *prices);
    for (int64_t i = 0; i < n; i++) {
        st->rows[split[i]]++;
        st->photos += ls[i].nphotos;
        st->rows_without_photos += ls[i].nphotos == 0;
        st->png += rows[i].png;
        st->distractors += rows[i].distractors;
        st->damaged += rows[i].damaged;
        st->bytes += rows[i].bytes;
        if (prices) prices[i] = ls[i].price;
    }
    if (prices) {
        qsort(prices, (size_t)n, sizeof *prices, cmp_double);
        st->price_min = prices[0];
        st->price_median = prices[n / 2];
        st->price_max = prices[n - 1];
        free(prices);
    }
    market_signal_compute(ls, n, &st->signal);
}

enum loom_status market_generate(const struct market_opts *o, struct market_stats *stats,
                                 struct loom_error *err)
{
    enum loom_status st = check_opts(o, err);
    if (st != LOOM_OK) return st;
    int64_t n = o->rows;
    char path[4200];
    snprintf(path, sizeof path, "%s/photos", o->out);
    if ((st = make_dirs(path, err)) != LOOM_OK) return st;
    for (int64_t d = 0; d * ROWS_PER_DIR < n && o->max_photos > 0; d++) {
        snprintf(path, sizeof path, "%s/photos/%03lld", o->out, (long long)d);
        if ((st = make_dir(path, err)) != LOOM_OK) return st;
    }
    struct market_listing *ls = calloc((size_t)n, sizeof *ls);
    struct row_out *rows = calloc((size_t)n, sizeof *rows);
    uint8_t *split = calloc((size_t)n, 1);
    uint32_t *order = malloc((size_t)n * sizeof *order);
    struct market_stats s = {0};
    if (!ls || !rows || !split || !order) {
        st = loom_error_set(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }

    int failed = 0;
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < n; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        struct loom_error e = {0};
        if (make_row(o, i, &ls[i], &rows[i], &e) == LOOM_OK) continue;
#pragma omp critical(market_fail)
        {
            if (!failed) {
                if (err) *err = e;
                st = e.code;
            }
#pragma omp atomic write
            failed = 1;
        }
    }
    if (failed) goto done;

    /* The split: a seeded shuffle on stream 0, then each file in id order. */
    struct loom_rng r;
    loom_rng_init(&r, o->seed, 0);
    for (int64_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    loom_rng_shuffle(&r, order, (size_t)n);
    int64_t nvalid = llround(n * o->valid_frac), ntest = llround(n * o->test_frac);
    for (int64_t k = 0; k < n; k++) split[order[k]] = k < nvalid ? 1 : k < nvalid + ntest ? 2 : 0;
    /* train.csv last: its presence means the data set is complete. */
    for (int sp = 2; sp >= 0; sp--) {
        st = write_csv(o->out, split_names[sp], header, split, sp, rows, n, ls, &s.bytes, err);
        if (st != LOOM_OK) goto done;
    }
    if (o->truth) {
        static const char truth_head[] =
            "id,cond,cond_stated,cond_in_text,premium,sealed,defect,defect_in_photo,"
            "defect_in_text,missing,brand_mention,accessories,photos,object_photos,t_base,"
            "t_cond,t_defect,t_premium,t_sealed,t_acc,t_missing,t_season,t_trend,t_seller,"
            "t_ship,t_noise\r\n";
        st = write_csv(o->out, "truth.csv", truth_head, NULL, 0, NULL, n, ls, &s.bytes, err);
        if (st != LOOM_OK) goto done;
    }
    fill_stats(ls, rows, split, n, &s);
    if (stats) *stats = s;
done:
    for (int64_t i = 0; rows && i < n; i++) free(rows[i].line);
    free(ls);
    free(rows);
    free(split);
    free(order);
    return st;
}
