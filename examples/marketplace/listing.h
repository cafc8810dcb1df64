/*
 * listing.h — one marketplace listing: its hidden state (true condition,
 * defect, premium finish, accessories, which channel reveals what), its
 * price (the generative formula, see listing.c and README.md), and its
 * title and description. Everything is drawn from the caller's rng, so a
 * listing is a pure function of (seed, row).
 */
#ifndef MARKET_LISTING_H
#define MARKET_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

#define MARKET_MAX_PHOTOS 8
#define MARKET_DAYS       731 /* listing dates: 2024-01-01 .. 2025-12-31 */

/* The log-price terms, summed to log(price). */
enum market_term {
    TERM_BASE,    /* category x brand tier (tabular) */
    TERM_COND,    /* true condition (column for most rows, photos, text) */
    TERM_DEFECT,  /* hidden defect (photos and/or text) */
    TERM_PREMIUM, /* premium finish (photos only) */
    TERM_SEALED,  /* brand new sealed (text only) */
    TERM_ACC,     /* accessories included (text only, value per category) */
    TERM_MISSING, /* an essential part missing (text only) */
    TERM_SEASON,  /* month x category (tabular) */
    TERM_TREND,   /* prices rise over the two years (tabular) */
    TERM_SELLER,  /* seller rating x brand tier (tabular) */
    TERM_SHIP,    /* shipping days (tabular) */
    TERM_NOISE,   /* log-normal noise */
    TERM_COUNT
};

enum market_photo_kind {
    PHOTO_MAIN,  /* the whole object */
    PHOTO_CLOSE, /* a close-up: the object larger, partly cut off */
    PHOTO_LABEL, /* distractor: a label or receipt */
    PHOTO_BLUR,  /* distractor: an out-of-focus background */
    PHOTO_ROOM,  /* distractor: grey furniture of the room */
};

enum market_brand_mention { BRAND_EXACT, BRAND_ASCII, BRAND_TYPO, BRAND_NONE };

struct market_listing {
    int64_t id;
    int cat, brand; /* brand: index into market_brands */
    int cond;       /* true condition, 0 new .. 4 poor */
    bool cond_stated;
    bool cond_in_text;
    bool rating_missing, ship_missing;
    float rating; /* 1.0 .. 5.0, one decimal */
    int ship;     /* days */
    int day;      /* days since 2024-01-01 */
    bool premium, sealed, defect, defect_in_photo, defect_in_text, missing;
    int defect_phrase;
    unsigned acc; /* bit i: accessory i included (and said in the text) */
    enum market_brand_mention brand_mention;
    int nphotos, nobject;
    uint8_t photo_kind[MARKET_MAX_PHOTOS];
    bool photo_damage[MARKET_MAX_PHOTOS]; /* this photo shows the defect */
    double term[TERM_COUNT];
    double log_price;
    double price; /* rounded to cents, as written */
};

/* A growing string; failed sticks after an allocation failure. */
struct market_buf {
    char *p;
    size_t len, cap;
    bool failed;
};

void market_buf_put(struct market_buf *b, const char *s, size_t n);
void market_buf_puts(struct market_buf *b, const char *s);
void market_buf_printf(struct market_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void market_buf_free(struct market_buf *b);

/* Draws every hidden attribute and the price of listing id (photos capped
 * at max_photos, 0..8). */
void market_listing_draw(struct market_listing *l, int64_t id, int max_photos, struct loom_rng *r);

/* Appends the title / the description (UTF-8, may hold commas, quotes and
 * line breaks) to b. */
void market_listing_title(const struct market_listing *l, struct loom_rng *r, struct market_buf *b);
void market_listing_description(const struct market_listing *l, struct loom_rng *r,
                                struct market_buf *b);

/* days since 2024-01-01 -> "YYYY-MM-DD" (11 bytes with the NUL) and the
 * day of the year (0-based). */
void market_date(int day, char out[11], int *day_of_year);

#endif
