/*
 * stats.c — the signal check: how well could a model that sees only one
 * branch's inputs predict log price? For each branch, the terms it observes
 * are added exactly; the rest (the hidden terms) is replaced by its mean
 * over the rows that look the same to that branch (same category, same
 * "was it revealed" flags). That is close to the Bayes-optimal prediction
 * from the branch's information, so its RMSE is a floor the trained
 * single-branch models can approach but not beat.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "listing.h"
#include "market.h"

#define MAX_KEYS 1024

const char *const market_signal_names[SIGNAL_COUNT] = {"fused (all three)", "tabular only",
                                                       "text only", "photos only", "nothing (std)"};

/* The observed part of log price and the group key, for one branch. */
static double observed(int branch, const struct market_listing *l, int *key)
{
    const double *t = l->term;
    bool brand_known = l->brand_mention == BRAND_EXACT || l->brand_mention == BRAND_ASCII;
    bool seen = l->nobject > 0;
    switch (branch) {
    case SIGNAL_FUSED: {
        bool cond_hidden = !l->cond_stated && !l->cond_in_text && !seen;
        *key = (l->cat * 2 + seen) * 2 + cond_hidden;
        double s = 0;
        for (int i = 0; i < TERM_NOISE; i++) s += t[i];
        if (!seen) s -= t[TERM_PREMIUM];
        if (cond_hidden) s -= t[TERM_COND];
        return s;
    }
    case SIGNAL_TABULAR:
        *key = l->cat * 6 + (l->cond_stated ? l->cond : 5);
        return t[TERM_BASE] + t[TERM_SEASON] + t[TERM_TREND] + t[TERM_SELLER] + t[TERM_SHIP] +
               (l->cond_stated ? t[TERM_COND] : 0);
    case SIGNAL_TEXT:
        *key = ((l->cat * 2 + brand_known) * 6 + (l->cond_in_text ? l->cond : 5)) * 2 +
               l->defect_in_text;
        return t[TERM_ACC] + t[TERM_MISSING] + t[TERM_SEALED] +
               (l->cond_in_text ? t[TERM_COND] : 0) + (l->defect_in_text ? t[TERM_DEFECT] : 0) +
               (brand_known ? t[TERM_BASE] : 0);
    case SIGNAL_PHOTOS:
        if (!seen) {
            *key = 0;
            return 0;
        }
        *key = 1 + (l->cat * 2 + l->defect_in_photo) * 2 + (l->cond == 0);
        return t[TERM_BASE] + t[TERM_COND] + t[TERM_PREMIUM] +
               (l->defect_in_photo ? t[TERM_DEFECT] : 0);
    default:
        *key = 0;
        return 0;
    }
}

void market_signal_compute(const struct market_listing *ls, int64_t n, struct market_signal *s)
{
    memset(s, 0, sizeof *s);
    if (n < 2) return;
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = ls[i].term[TERM_BASE], y = ls[i].log_price;
        sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
    }
    double cov = sxy / n - sx / n * sy / n;
    double vx = sxx / n - sx / n * sx / n, vy = syy / n - sy / n * sy / n;
    s->corr_base = cov / sqrt(vx * vy);

    double sum[MAX_KEYS];
    int64_t count[MAX_KEYS];
    for (int b = 0; b < SIGNAL_COUNT; b++) {
        memset(sum, 0, sizeof sum);
        memset(count, 0, sizeof count);
        int key;
        for (int64_t i = 0; i < n; i++) {
            double known = observed(b, &ls[i], &key);
            LOOM_ASSERT(key >= 0 && key < MAX_KEYS);
            sum[key] += ls[i].log_price - known;
            count[key]++;
        }
        double se = 0;
        for (int64_t i = 0; i < n; i++) {
            double pred = observed(b, &ls[i], &key);
            pred += sum[key] / count[key];
            se += (ls[i].log_price - pred) * (ls[i].log_price - pred);
        }
        s->oracle_rmse[b] = sqrt(se / n);
    }
}
