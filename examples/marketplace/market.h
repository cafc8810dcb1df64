/*
 * market.h — the marketplace data set generator behind loom-market-gen:
 * writes train.csv, valid.csv, test.csv and photos/ to a directory.
 *
 * The output is a pure function of (rows, seed, photo_size, max_photos,
 * valid, test): listing i draws everything from Philox stream i + 1, so
 * rows are generated in parallel and the files are byte-identical whatever
 * the thread count. What the columns mean and how the price is made:
 * README.md beside this file.
 */
#ifndef MARKET_MARKET_H
#define MARKET_MARKET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base.h"

struct market_opts {
    const char *out; /* directory, created when absent */
    int64_t rows;    /* 1 .. 10,000,000 */
    uint64_t seed;
    int photo_size;    /* widest photo in pixels, 64..1024; heights up to 4/5 of it */
    int max_photos;    /* per listing, 0..8 */
    double valid_frac; /* shares of the rows in valid.csv and test.csv */
    double test_frac;
    bool truth; /* also write truth.csv: the hidden state and price terms */
};

/* What each branch can know, as the RMSE in log price of the best
 * prediction from that branch's information alone (every term it sees
 * exactly, the rest by its conditional mean). */
enum { SIGNAL_FUSED, SIGNAL_TABULAR, SIGNAL_TEXT, SIGNAL_PHOTOS, SIGNAL_NONE, SIGNAL_COUNT };

struct market_signal {
    double corr_base; /* corr(log price, log base(category x brand)) */
    double oracle_rmse[SIGNAL_COUNT];
};

struct market_stats {
    int64_t rows[3]; /* train, valid, test */
    int64_t photos, png, distractors, damaged, rows_without_photos;
    uint64_t bytes; /* of every file written */
    double price_min, price_median, price_max;
    struct market_signal signal;
};

extern const char *const market_signal_names[SIGNAL_COUNT];

/* Defaults: 6000 rows, seed 1, "marketplace-data", photos up to 200 px,
 * up to 8 per listing, 15% valid, 15% test. */
void market_opts_default(struct market_opts *o);

/* Generates the data set. stats (may be NULL) is written on success. */
LOOM_WUR enum loom_status market_generate(const struct market_opts *o, struct market_stats *stats,
                                          struct loom_error *err);

/* The signal check over n listings (stats.c). */
struct market_listing;
void market_signal_compute(const struct market_listing *ls, int64_t n, struct market_signal *s);

#endif
