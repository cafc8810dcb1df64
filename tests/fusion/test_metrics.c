/* test_metrics.c — every metric against values computed by hand (the
 * arithmetic is in the comments), and early stopping on scripted metric
 * sequences. */
#include <math.h>

#include "fixtures.h"

LOOM_TEST(metrics_number)
{
    struct loom_macc a;
    loom_macc_init(&a, LOOM_COL_NUMBER, 1, true);
    /* errors 0, -1, 1, -1: SE 3, AE 3; targets mean 2.75, SS_tot 8.75 */
    double p[] = {1, 2, 3, 4}, t[] = {1, 3, 2, 5};
    loom_macc_add_number(&a, p, t, 2);
    loom_macc_add_number(&a, p + 2, t + 2, 2); /* over two batches */
    assert_near(loom_macc_get(&a, "rmse"), sqrt(3.0 / 4), 1e-12);
    assert_near(loom_macc_get(&a, "mae"), 0.75, 1e-12);
    assert_near(loom_macc_get(&a, "r2"), 1 - 3 / 8.75, 1e-12);
    double sle = 0;
    for (int i = 0; i < 4; i++) sle += pow(log1p(p[i]) - log1p(t[i]), 2);
    assert_near(loom_macc_get(&a, "rmsle"), sqrt(sle / 4), 1e-12);
    assert_near(loom_macc_metric(&a, LOOM_METRIC_RMSE), sqrt(0.75), 1e-12);
    assert_true(isnan(loom_macc_get(&a, "auc")));
    loom_macc_reset(&a);
    assert_true(isnan(loom_macc_get(&a, "rmse")));
    loom_macc_done(&a);
}

LOOM_TEST(metrics_binary)
{
    struct loom_macc a;
    loom_macc_init(&a, LOOM_COL_BINARY, 1, false);
    /* predicted 1 1 1 0 0 1 against 1 1 0 1 0 0: TP 2, FP 2, FN 1, TN 1.
     * AUC: positives .9 .8 .3 vs negatives .8 .2 .6: 3 + 2.5 (a tie) + 1 = 6.5 of 9. */
    double p[] = {0.9, 0.8, 0.8, 0.3, 0.2, 0.6};
    uint8_t t[] = {1, 1, 0, 1, 0, 0};
    loom_macc_add_binary(&a, p, t, 6);
    assert_near(loom_macc_get(&a, "accuracy"), 0.5, 1e-12);
    assert_near(loom_macc_get(&a, "f1"), 4.0 / 7, 1e-12);
    assert_near(loom_macc_get(&a, "auc"), 6.5 / 9, 1e-12);
    double ll = -(log(.9) + log(.8) + log(.2) + log(.3) + log(.8) + log(.4)) / 6;
    assert_near(loom_macc_get(&a, "logloss"), ll, 1e-12);
    assert_near(loom_macc_metric(&a, LOOM_METRIC_AUC), 6.5 / 9, 1e-12);
    loom_macc_done(&a);
    /* one class only: AUC undefined */
    loom_macc_init(&a, LOOM_COL_BINARY, 1, false);
    loom_macc_add_binary(&a, p, (uint8_t[]){1, 1, 1, 1, 1, 1}, 6);
    assert_true(isnan(loom_macc_get(&a, "auc")));
    loom_macc_done(&a);
}

LOOM_TEST(metrics_category)
{
    struct loom_macc a;
    loom_macc_init(&a, LOOM_COL_CATEGORY, 4, false);
    /* predictions 0 1 0 1 2 against targets 0 2 3 1 0. Row 2's target is
     * 4th (not in the top 3); row 4's target ties 2nd with label 1 (the tie
     * counts against: 2 above, still top 3). F1 per class: 0: TP1 FP1 FN1
     * = 1/2; 1: TP1 FP1 = 2/3; 2: FP1 FN1 = 0; 3: FN1 = 0. */
    double p[] = {0.6, 0.2, 0.1, 0.1, 0.1, 0.5, 0.3,  0.1,  0.4, 0.3,
                  0.2, 0.1, 0.1, 0.6, 0.2, 0.1, 0.25, 0.25, 0.4, 0.1};
    int32_t t[] = {0, 2, 3, 1, 0};
    loom_macc_add_category(&a, p, t, 5);
    assert_near(loom_macc_get(&a, "accuracy"), 0.4, 1e-12);
    assert_near(loom_macc_get(&a, "top3"), 0.8, 1e-12);
    assert_near(loom_macc_get(&a, "f1"), (0.5 + 2.0 / 3) / 4, 1e-12);
    double ll = -(log(.6) + log(.3) + log(.1) + log(.6) + log(.25)) / 5;
    assert_near(loom_macc_get(&a, "logloss"), ll, 1e-12);
    loom_macc_done(&a);
}

LOOM_TEST(metrics_set)
{
    struct loom_macc a;
    loom_macc_init(&a, LOOM_COL_SET, 2, false);
    /* label 0: chosen 1 1 0 1, truth 1 0 0 1: TP2 FP1 -> F1 4/5;
     * label 1: chosen 0 1 0 1, truth 1 1 0 0: TP1 FP1 FN1 -> 1/2;
     * micro: TP3 FP2 FN1 -> 6/9. AUC label 0: 1; label 1: .4>.1, .7>.1 of 4 -> 1/2. */
    double p[] = {0.9, 0.4, 0.6, 0.7, 0.2, 0.1, 0.8, 0.9};
    uint8_t t[] = {1, 1, 0, 1, 0, 0, 1, 0};
    loom_macc_add_set(&a, p, t, 4);
    assert_near(loom_macc_get(&a, "f1"), 6.0 / 9, 1e-12);
    assert_near(loom_macc_get(&a, "macro_f1"), (0.8 + 0.5) / 2, 1e-12);
    assert_near(loom_macc_get(&a, "auc"), 0.75, 1e-12);
    double ll = 0;
    for (int i = 0; i < 8; i++) ll -= t[i] ? log(p[i]) : log(1 - p[i]);
    assert_near(loom_macc_get(&a, "logloss"), ll / 8, 1e-12);
    assert_near(loom_macc_metric(&a, LOOM_METRIC_F1), 6.0 / 9, 1e-12);
    loom_macc_done(&a);
}

LOOM_TEST(metrics_vector)
{
    struct loom_macc a;
    loom_macc_init(&a, LOOM_COL_VECTOR, 2, false);
    /* SE 0+1+0+1 over 4 elements; cosines 1/sqrt(2) and 1 */
    double p[] = {1, 0, 0, 2, 0, 0};
    float t[] = {1, 1, 0, 1, 3, 4};
    loom_macc_add_vector(&a, p, t, 2);
    assert_near(loom_macc_get(&a, "rmse"), sqrt(0.5), 1e-12);
    assert_near(loom_macc_get(&a, "cosine"), (1 / sqrt(2.0) + 1) / 2, 1e-12);
    loom_macc_add_vector(&a, p + 4, t + 4, 1); /* a zero prediction: cosine 0, SE 25 */
    assert_near(loom_macc_get(&a, "cosine"), (1 / sqrt(2.0) + 1) / 3, 1e-12);
    assert_near(loom_macc_get(&a, "rmse"), sqrt(27.0 / 6), 1e-12);
    loom_macc_done(&a);
}

LOOM_TEST(metrics_json_and_direction)
{
    struct loom_macc a;
    loom_macc_init(&a, LOOM_COL_BINARY, 1, false);
    loom_macc_add_binary(&a, (double[]){0.7}, (uint8_t[]){1}, 1);
    json_t *o = loom_macc_json(&a);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "auc"))); /* undefined: null, not NaN */
    assert_near(json_real_value(json_object_get(o, "accuracy")), 1.0, 0);
    json_decref(o);
    loom_macc_done(&a);
    assert_true(loom_metric_maximize(LOOM_METRIC_AUC));
    assert_true(loom_metric_maximize(LOOM_METRIC_R2));
    assert_false(loom_metric_maximize(LOOM_METRIC_RMSE));
    assert_false(loom_metric_maximize(LOOM_METRIC_LOGLOSS));
}

/* Early stopping on a scripted sequence: the epoch it stops at. */
static int stop_epoch(const double *v, int n, int patience, bool maximize, int *best_epoch)
{
    struct loom_early_stop es;
    loom_early_stop_init(&es, patience, maximize);
    for (int e = 1; e <= n; e++)
        if (loom_early_stop_update(&es, e, v[e - 1])) {
            *best_epoch = es.best_epoch;
            return e;
        }
    *best_epoch = es.best_epoch;
    return 0;
}

LOOM_TEST(early_stopping_scripted)
{
    /* minimise: bests at 1, 2, 5; then 6, 7, 8 bad -> stop at 8 with patience 3 */
    double loss[] = {1.0, 0.8, 0.85, 0.9, 0.7, 0.75, 0.76, 0.77, 0.5};
    int best;
    assert_int_equal(stop_epoch(loss, 9, 3, false, &best), 8);
    assert_int_equal(best, 5);
    assert_int_equal(stop_epoch(loss, 9, 2, false, &best), 4);
    assert_int_equal(best, 2);
    assert_int_equal(stop_epoch(loss, 9, 0, false, &best), 0); /* never */
    assert_int_equal(best, 9);
    /* maximise (accuracy), with a NaN epoch that never improves */
    double acc[] = {0.5, 0.6, NAN, 0.6, 0.7, 0.65};
    assert_int_equal(stop_epoch(acc, 6, 2, true, &best), 4); /* 0.6 again is no gain */
    assert_int_equal(best, 2);
    assert_int_equal(stop_epoch(acc, 6, 3, true, &best), 0);
    assert_int_equal(best, 5);
}
