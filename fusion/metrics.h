/*
 * metrics.h — evaluation metrics accumulated over the batches of a pass,
 * one accumulator per output, plus the mean loss. Rows whose target is
 * missing are not counted (present = 0, category codes 0 and 1).
 *
 * Units: number metrics are in the column's own units (what the CSV holds
 * and predictions report: the normalisation and log1p undone), so a price
 * RMSE reads in currency. For a log1p column the RMSE in log1p units is
 * reported too, as "rmsle" (the root mean squared log error — the space the
 * loss was trained in, up to the normalisation's scale).
 *
 *   number    rmse, mae, r2 (1 − SS_res/SS_tot; NaN with fewer than 2 rows or
 *             constant targets), rmsle (log1p columns only)
 *   binary    accuracy (P > 0.5), auc (exact: Mann–Whitney over the sorted
 *             scores, ties share their average rank; NaN without both
 *             classes), f1 (of class 1), logloss
 *   category  accuracy, top3 (the target among the 3 most probable labels;
 *             a tie at the boundary counts against), f1 (macro over the
 *             labels that occur as target or prediction), logloss
 *   set       f1 (micro: summed over labels), macro_f1 (over the labels that
 *             occur), auc (macro over labels with both classes), logloss
 *             (mean over rows and labels); a label is chosen when P > 0.5
 *   vector    rmse (over every element), cosine (mean over rows; a zero
 *             vector has cosine 0)
 *
 * F1 of a class that never occurs in targets nor predictions is left out of
 * macro means; F1 = 0 when the class occurs only on one side. Probabilities
 * are clipped to [1e-15, 1 − 1e-15] in log losses (as scikit-learn).
 * Not thread-safe: one accumulator per pass.
 */
#ifndef LOOM_FUSION_METRICS_H
#define LOOM_FUSION_METRICS_H

#include <jansson.h>

#include "model.h"

/* One output's accumulator; the fields are private to metrics.c. */
struct loom_macc {
    enum loom_col_type type;
    int k; /* category: labels K' (codes 2..); set: L; vector: D; else 1 */
    bool log1p;
    int64_t n;                    /* rows counted */
    double se, ae, sle, mean, m2; /* number: squared/abs/log errors; Welford of targets */
    double ll;                    /* log loss sum */
    int64_t correct, top3;
    int64_t *tp, *fp, *fn; /* (k) per class / label; binary: k = 1 */
    double *score;         /* binary: (n) P(1); set: (n,L) */
    uint8_t *truth;        /* the same shape: 0/1 */
    size_t cap;            /* rows of score/truth */
    double cos;            /* vector: Σ cosine */
    bool nomem;
};

void loom_macc_init(struct loom_macc *a, enum loom_col_type type, int k, bool log1p);
void loom_macc_done(struct loom_macc *a);
void loom_macc_reset(struct loom_macc *a);

/* Add n rows (every one counted: filter missing targets first). Values are
 * in user units / probabilities as loom_model_predict gives them. On out of
 * memory the accumulator is marked and its rank metrics become NaN. */
void loom_macc_add_number(struct loom_macc *a, const double *pred, const double *target, int64_t n);
void loom_macc_add_binary(struct loom_macc *a, const double *prob, const uint8_t *target,
                          int64_t n);
/* probs (n,K') over the labels; target label index in [0, K'). */
void loom_macc_add_category(struct loom_macc *a, const double *probs, const int32_t *target,
                            int64_t n);
void loom_macc_add_set(struct loom_macc *a, const double *probs, const uint8_t *target, int64_t n);
void loom_macc_add_vector(struct loom_macc *a, const double *pred, const float *target, int64_t n);

/* A metric by name ("rmse", "auc", "macro_f1", ...; see above); NaN when
 * undefined for this output type or data. */
double loom_macc_get(const struct loom_macc *a, const char *name);
/* The schema's metric kind for this output type (LOOM_METRIC_F1 is macro F1
 * for a category, micro F1 for a set). */
double loom_macc_metric(const struct loom_macc *a, enum loom_metric which);
/* Every metric of the output type as a JSON object (NaN as null); NULL on
 * out of memory. */
json_t *loom_macc_json(const struct loom_macc *a);

/* True when a larger value of the metric is better. */
bool loom_metric_maximize(enum loom_metric which);

/* ---- a model's metrics over a pass ---- */

struct loom_metrics {
    int nheads;
    struct loom_macc *acc; /* (nheads) */
    char **names;          /* (nheads): the output names */
    double loss_sum;       /* Σ loss·rows */
    int64_t rows;
};

LOOM_WUR enum loom_status loom_metrics_init(struct loom_metrics *mt, const struct loom_model *m,
                                            struct loom_error *err);
void loom_metrics_done(struct loom_metrics *mt);
void loom_metrics_reset(struct loom_metrics *mt);
/* Count a forward pass (after loom_model_loss when f->loss is to count) of
 * batch b. */
LOOM_WUR enum loom_status loom_metrics_add(struct loom_metrics *mt, const struct loom_model *m,
                                           const struct loom_batch *b, const struct loom_forward *f,
                                           struct loom_error *err);
double loom_metrics_loss(const struct loom_metrics *mt);
/* {"loss": x, "outputs": {"<output>": {...}, ...}}; NULL on out of memory. */
json_t *loom_metrics_json(const struct loom_metrics *mt);

#endif
