/*
 * listing.c — draws one listing and writes its text. The price formula
 * (README.md has it with the reasoning behind it):
 *
 *   log price = log base[c] + log tier[b]                      tabular
 *             - slope[c] * q                                    column (70%), photos, text
 *             + D * log defect[c]                               photos and/or text only
 *             + P * log premium[c]                              photos only
 *             + S * log 1.15                                    text only ("sealed")
 *             + sum_i A_i * log acc[c][i]                       text only, value per category
 *             + M * log missing[c]                              text only
 *             + amp[c] * cos(2 pi (doy - peak[c]) / 365.25)     tabular (date x category)
 *             + 0.05 * day / 365.25                             tabular (trend)
 *             + 0.06 * (1 + [tier[b] >= 1.5]) * (rating - 4.3)  tabular (missing: -0.05)
 *             - 0.015 * (ship - ship_mean[c])                   tabular (missing: 0)
 *             + eps,  eps ~ N(0, 0.10^2)
 *
 * c category, b brand, q true condition 0..4, D defect (P = 0.26 when q >= 1),
 * P premium finish (0.22), S sealed (0.35 of new items), A_i accessory i
 * (0.28 each), M essential part missing (0.15).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "listing.h"

#define NOISE_SIGMA   0.10
#define SEALED_FACTOR 1.15
#define TREND_PER_YR  0.05

/* ---- strings ---- */

void market_buf_put(struct market_buf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void market_buf_puts(struct market_buf *b, const char *s)
{
    market_buf_put(b, s, strlen(s));
}

void market_buf_printf(struct market_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = true;
        return;
    }
    market_buf_put(b, tmp, (size_t)n);
}

void market_buf_free(struct market_buf *b)
{
    free(b->p);
    *b = (struct market_buf){0};
}

/* ---- draws ---- */

static bool chance(struct loom_rng *r, double p)
{
    return loom_rng_uniform(r) < p;
}

static int pick(struct loom_rng *r, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++) total += w[i];
    double u = loom_rng_uniform(r) * total;
    for (int i = 0; i < n - 1; i++) {
        if (u < w[i]) return i;
        u -= w[i];
    }
    return n - 1;
}

static const char *any(struct loom_rng *r, const char *const *list, int n)
{
    return list[loom_rng_below(r, (uint32_t)n)];
}

void market_date(int day, char out[11], int *day_of_year)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = 2024, d = day;
    for (;;) {
        int len = (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 366 : 365;
        if (d < len) break;
        d -= len;
        year++;
    }
    *day_of_year = d;
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    int month = 0;
    for (;; month++) {
        int len = mdays[month] + (month == 1 && leap);
        if (d < len) break;
        d -= len;
    }
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", year % 10000, month + 1, d + 1);
    memcpy(out, tmp, 11);
}

static void draw_photos(struct market_listing *l, int max_photos, struct loom_rng *r)
{
    static const double count_w[MARKET_MAX_PHOTOS + 1] = {12, 16, 16, 14, 12, 10, 8, 7, 5};
    int n = pick(r, count_w, MARKET_MAX_PHOTOS + 1);
    l->nphotos = n < max_photos ? n : max_photos;
    l->nobject = 0;
    for (int k = 0; k < l->nphotos; k++) {
        double u = loom_rng_uniform(r);
        int kind;
        if (k == 0)
            kind = u < 0.9 ? PHOTO_MAIN : PHOTO_LABEL + (int)loom_rng_below(r, 3);
        else if (u < 0.36)
            kind = PHOTO_MAIN;
        else if (u < 0.70)
            kind = PHOTO_CLOSE;
        else
            kind = PHOTO_LABEL + (int)loom_rng_below(r, 3);
        l->photo_kind[k] = (uint8_t)kind;
        l->photo_damage[k] = false;
        l->nobject += kind == PHOTO_MAIN || kind == PHOTO_CLOSE;
    }
}

/* Which object photos show the defect: each with probability 1/2, at
 * least one, so that attention has to find it in the bag. */
static void place_damage(struct market_listing *l, struct loom_rng *r)
{
    int shown = 0, objects[MARKET_MAX_PHOTOS], n = 0;
    for (int k = 0; k < l->nphotos; k++) {
        if (l->photo_kind[k] > PHOTO_CLOSE) continue;
        objects[n++] = k;
        if (chance(r, 0.5)) l->photo_damage[k] = true, shown++;
    }
    if (!shown && n) l->photo_damage[objects[loom_rng_below(r, (uint32_t)n)]] = true;
}

static void draw_seller(struct market_listing *l, const struct market_category *c,
                        struct loom_rng *r)
{
    l->rating_missing = chance(r, 0.10);
    double rating =
        chance(r, 0.06) ? 1.0 + 2.0 * loom_rng_uniform(r) : 4.4 + 0.45 * loom_rng_normal(r);
    rating = fmin(5.0, fmax(1.0, rating));
    l->rating = (float)(round(rating * 10) / 10);
    l->ship_missing = chance(r, 0.08);
    int ship = (int)lround(c->ship_mean * exp(0.35 * loom_rng_normal(r)));
    l->ship = ship < 1 ? 1 : ship > 30 ? 30 : ship;
}

static void compute_price(struct market_listing *l, const struct market_category *c,
                          const struct market_brand *b, struct loom_rng *r)
{
    double *t = l->term;
    t[TERM_BASE] = log(c->base) + log(b->mult);
    t[TERM_COND] = -c->cond_slope * l->cond;
    t[TERM_DEFECT] = l->defect ? log(c->defect_factor) : 0;
    t[TERM_PREMIUM] = l->premium ? log(c->premium_factor) : 0;
    t[TERM_SEALED] = l->sealed ? log(SEALED_FACTOR) : 0;
    t[TERM_ACC] = 0;
    for (int i = 0; i < MARKET_ACCESSORIES; i++)
        if (l->acc & (1u << i)) t[TERM_ACC] += log(c->acc[i].factor);
    t[TERM_MISSING] = l->missing ? log(c->missing_factor) : 0;
    char date[11];
    int doy;
    market_date(l->day, date, &doy);
    t[TERM_SEASON] = c->season_amp * cos(2 * M_PI * (doy - c->season_peak) / 365.25);
    t[TERM_TREND] = TREND_PER_YR * l->day / 365.25;
    t[TERM_SELLER] = l->rating_missing ? -0.05 : 0.06 * (1 + (b->mult >= 1.5)) * (l->rating - 4.3);
    t[TERM_SHIP] = l->ship_missing ? 0 : -0.015 * (l->ship - c->ship_mean);
    t[TERM_NOISE] = NOISE_SIGMA * loom_rng_normal(r);
    double s = 0;
    for (int i = 0; i < TERM_COUNT; i++) s += t[i];
    l->price = fmax(1.0, round(exp(s) * 100) / 100);
    l->log_price = log(l->price);
}

void market_listing_draw(struct market_listing *l, int64_t id, int max_photos, struct loom_rng *r)
{
    memset(l, 0, sizeof *l);
    l->id = id;
    double cw[MARKET_CATEGORIES], bw[MARKET_BRANDS_PER];
    for (int i = 0; i < MARKET_CATEGORIES; i++) cw[i] = market_categories[i].weight;
    l->cat = pick(r, cw, MARKET_CATEGORIES);
    for (int i = 0; i < MARKET_BRANDS_PER; i++)
        bw[i] = market_brands[l->cat * MARKET_BRANDS_PER + i].weight;
    l->brand = l->cat * MARKET_BRANDS_PER + pick(r, bw, MARKET_BRANDS_PER);
    const struct market_category *c = &market_categories[l->cat];
    const struct market_brand *b = &market_brands[l->brand];

    static const double cond_w[MARKET_CONDITIONS] = {0.14, 0.24, 0.30, 0.19, 0.13};
    l->cond = pick(r, cond_w, MARKET_CONDITIONS);
    l->cond_stated = chance(r, 0.70);
    l->day = (int)loom_rng_below(r, MARKET_DAYS);
    draw_seller(l, c, r);
    draw_photos(l, max_photos, r);

    l->sealed = l->cond == 0 && chance(r, 0.35);
    l->cond_in_text = l->sealed || chance(r, l->cond_stated ? 0.30 : 0.50);
    l->premium = chance(r, 0.22);
    l->defect = l->cond >= 1 && chance(r, 0.26);
    if (l->defect) {
        l->defect_phrase = (int)loom_rng_below(r, MARKET_DEFECT_PHRASES);
        double u = loom_rng_uniform(r);
        l->defect_in_photo = l->nobject > 0 && (u < 0.45 || u >= 0.80);
        l->defect_in_text = l->nobject == 0 || u >= 0.45;
        if (l->defect_in_photo) place_damage(l, r);
    }
    l->missing = chance(r, 0.15);
    for (int i = 0; i < MARKET_ACCESSORIES; i++)
        if (!(l->missing && i == c->missing_acc) && chance(r, 0.28)) l->acc |= 1u << i;

    double u = loom_rng_uniform(r);
    l->brand_mention = u < 0.72   ? (b->ascii && chance(r, 0.4) ? BRAND_ASCII : BRAND_EXACT)
                       : u < 0.80 ? BRAND_TYPO
                                  : BRAND_NONE;
    compute_price(l, c, b, r);
}

/* ---- text ---- */

/* A typo in an ASCII word of 4+ letters: swap, drop or double a letter. */
static void put_word(struct market_buf *b, const char *w, size_t n, struct loom_rng *r, double p)
{
    bool ascii = n >= 4;
    for (size_t i = 0; i < n && ascii; i++) ascii = isalpha((unsigned char)w[i]);
    if (!ascii || !chance(r, p)) {
        market_buf_put(b, w, n);
        return;
    }
    char t[64];
    if (n + 1 >= sizeof t) {
        market_buf_put(b, w, n);
        return;
    }
    memcpy(t, w, n);
    size_t i = 1 + loom_rng_below(r, (uint32_t)(n - 2)); /* never the first letter */
    switch (loom_rng_below(r, 3)) {
    case 0: {
        char x = t[i];
        t[i] = t[i + 1], t[i + 1] = x;
        break;
    }
    case 1:
        memmove(t + i, t + i + 1, n - i - 1);
        n--;
        break;
    default:
        memmove(t + i + 1, t + i, n - i);
        n++;
        break;
    }
    market_buf_put(b, t, n);
}

/* Appends s with typos at rate p, word by word. */
static void put_text(struct market_buf *b, const char *s, struct loom_rng *r, double p)
{
    while (*s) {
        size_t n = 0;
        while (s[n] && isalpha((unsigned char)s[n])) n++;
        if (n) {
            put_word(b, s, n, r, p);
            s += n;
        } else {
            market_buf_put(b, s, 1);
            s++;
        }
    }
}

/* Upper case for ASCII and for Latin-1 letters (U+00E0..U+00FE but the
 * division sign, encoded C3 A0..C3 BE: the capital is 0x20 lower). */
static void put_upper(struct market_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s, next = (unsigned char)s[1];
        char out[2] = {(char)(ch < 0x80 ? toupper(ch) : ch), 0};
        size_t n = 1;
        if (ch == 0xC3 && next >= 0xA0 && next <= 0xBE && next != 0xB7) {
            out[1] = (char)(next - 0x20);
            n = 2;
            s++;
        }
        market_buf_put(b, out, n);
    }
}

/* A sentence: s with its first ASCII letter capitalised, then end. */
static void put_sentence(struct market_buf *b, const char *s, const char *end)
{
    if ((unsigned char)s[0] < 0x80) {
        char ch = (char)toupper((unsigned char)s[0]);
        market_buf_put(b, &ch, 1);
        s++;
    }
    market_buf_puts(b, s);
    market_buf_puts(b, end);
}

static void put_brand(struct market_buf *b, const struct market_listing *l, struct loom_rng *r,
                      bool upper)
{
    const struct market_brand *br = &market_brands[l->brand];
    const char *name = l->brand_mention == BRAND_ASCII ? br->ascii : br->name;
    if (upper) {
        put_upper(b, name);
    } else if (l->brand_mention == BRAND_TYPO) {
        put_text(b, br->ascii ? br->ascii : br->name, r, 1.0);
    } else {
        market_buf_puts(b, name);
    }
}

void market_listing_title(const struct market_listing *l, struct loom_rng *r, struct market_buf *b)
{
    const struct market_category *c = &market_categories[l->cat];
    const char *noun = any(r, c->nouns, 4), *model = any(r, c->models, 6);
    const char *junk = any(r, market_title_junk, 14);
    bool brand = l->brand_mention != BRAND_NONE;
    struct market_buf nb = {0};
    put_text(&nb, noun, r, 0.08);
    const char *n = nb.p ? nb.p : noun;
    switch (loom_rng_below(r, 7)) {
    case 0:
        if (brand) put_brand(b, l, r, false), market_buf_puts(b, " ");
        market_buf_printf(b, "%s %s", n, model);
        break;
    case 1:
        if (brand) put_brand(b, l, r, false), market_buf_puts(b, " ");
        market_buf_printf(b, "%s %s", model, n);
        if (l->cond_in_text && !l->sealed)
            market_buf_printf(b, " - %s", market_condition_phrases[l->cond][0]);
        break;
    case 2:
        market_buf_printf(b, "%s ", n);
        if (brand) put_brand(b, l, r, false), market_buf_puts(b, " ");
        market_buf_printf(b, "%s %s", model, junk);
        break;
    case 3:
        put_sentence(b, any(r, market_title_adjectives, 8), " ");
        if (brand) put_brand(b, l, r, false), market_buf_puts(b, " ");
        market_buf_puts(b, n);
        break;
    case 4:
        if (brand) put_brand(b, l, r, true), market_buf_puts(b, " ");
        put_upper(b, n);
        market_buf_printf(b, "!!! %s", junk);
        break;
    case 5:
        put_sentence(b, n, " for sale");
        if (brand) market_buf_puts(b, ", "), put_brand(b, l, r, false);
        break;
    default:
        if (brand) put_brand(b, l, r, false), market_buf_puts(b, " ");
        market_buf_printf(b, "\"%s\" %s", model, n);
        break;
    }
    market_buf_free(&nb);
}

/* One informative sentence per fact the text reveals, then filler. */
void market_listing_description(const struct market_listing *l, struct loom_rng *r,
                                struct market_buf *b)
{
    const struct market_category *c = &market_categories[l->cat];
    struct market_buf s[6] = {{0}};
    int n = 0;
    if (l->sealed) {
        put_sentence(&s[n++], any(r, market_sealed_phrases, 3), ".");
    } else if (l->cond_in_text) {
        const char *p = market_condition_phrases[l->cond][loom_rng_below(r, 3)];
        static const char *const tmpl[3] = {"Condition: %s.", "Honestly %s.", "It is %s."};
        if (chance(r, 0.4))
            put_sentence(&s[n], p, ".");
        else
            market_buf_printf(&s[n], tmpl[loom_rng_below(r, 3)], p);
        n++;
    }
    if (l->defect_in_text) {
        const char *p = c->defects[l->defect_phrase];
        switch (loom_rng_below(r, 4)) {
        case 0:
            market_buf_printf(&s[n], "Heads up: %s.", p);
            break;
        case 1:
            put_sentence(&s[n], p, ", priced accordingly.");
            break;
        case 2:
            market_buf_printf(&s[n], "Sold as is - %s.", p);
            break;
        default:
            market_buf_printf(&s[n], "Please note %s.", p);
            break;
        }
        n++;
    } else if (!l->defect && l->cond <= 1 && chance(r, 0.15)) {
        market_buf_puts(&s[n++], any(r, market_no_damage, 4));
    }
    if (l->acc) {
        const char *items[MARKET_ACCESSORIES];
        int k = 0;
        for (int i = 0; i < MARKET_ACCESSORIES; i++)
            if (l->acc & (1u << i)) items[k++] = c->acc[i].phrase[loom_rng_below(r, 2)];
        static const char *const lead[3] = {"Comes with ", "Includes ", "You also get "};
        market_buf_puts(&s[n], lead[loom_rng_below(r, 3)]);
        for (int i = 0; i < k; i++) {
            if (i) market_buf_puts(&s[n], i == k - 1 ? " and " : ", ");
            market_buf_puts(&s[n], items[i]);
        }
        market_buf_puts(&s[n++], ".");
    }
    if (l->missing) {
        const char *p = c->missing[loom_rng_below(r, 2)];
        if (chance(r, 0.5))
            put_sentence(&s[n], p, ".");
        else
            market_buf_printf(&s[n], "Note: %s.", p);
        n++;
    }
    int total = n + (int)loom_rng_below(r, 3);
    total = total < 1 ? 1 : total > 4 ? (n > 4 ? n : 4) : total;
    while (n < total) market_buf_puts(&s[n++], any(r, market_filler, 16));
    /* Shuffle the sentences: order carries no signal. */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)loom_rng_below(r, (uint32_t)(i + 1));
        struct market_buf t = s[i];
        s[i] = s[j], s[j] = t;
    }
    const char *sep = chance(r, 0.2) ? (chance(r, 0.5) ? "\n" : "\r\n\r\n") : " ";
    for (int i = 0; i < n; i++) {
        if (i) market_buf_puts(b, sep);
        if (s[i].p) put_text(b, s[i].p, r, 0.02);
        if (s[i].failed) b->failed = true;
        market_buf_free(&s[i]);
    }
}
