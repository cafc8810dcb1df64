/* test_quickstart.c — the quickstart's CNN + gated-attention model learns
 * the bag task: held-out accuracy and attention that points at the cross. */
#include <stdio.h>

#include "bagnet.h"
#include "core/ops.h"
#include "tests/testlib.h"

LOOM_TEST(bag_attention_model_learns_held_out_bags)
{
    struct bagnet_data train, valid;
    assert_true(bagnet_data_make(&train, 1500, 11));
    assert_true(bagnet_data_make(&valid, 400, 12));
    struct bagnet m;
    struct loom_error err = {0};
    assert_int_equal(bagnet_init(&m, 3, &err), LOOM_OK);
    double loss0, acc0, loss, acc;
    assert_int_equal(bagnet_evaluate(&m, &valid, &loss0, &acc0, &err), LOOM_OK);
    struct bagnet_train_opts o = {.epochs = 6, .batch = 32, .lr = 1e-2f, .seed = 5};
    assert_int_equal(bagnet_train(&m, &train, &valid, &o, &err), LOOM_OK);
    assert_int_equal(bagnet_evaluate(&m, &valid, &loss, &acc, &err), LOOM_OK);
    printf("bag task: valid loss %.3f -> %.3f, accuracy %.1f%% -> %.1f%%\n", loss0, loss,
           100 * acc0, 100 * acc);
    assert_true(loss < 0.5 * loss0);
    assert_true(acc >= 0.90);

    /* In positive bags the largest attention weight is on a photo with the cross. */
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 0);
    float att[BAGNET_MAX_BAG];
    int hits = 0, total = 0;
    for (uint32_t i = 0; i < valid.nbags; i++) {
        int64_t n = valid.offsets[i + 1] - valid.offsets[i];
        if (valid.labels[i] < 0.5f || n < 2) continue;
        loom_ctx_reset(&c);
        assert_non_null(bagnet_forward(&c, &m, &valid, &i, 1, att));
        int best = 0;
        for (int k = 1; k < n; k++)
            if (att[k] > att[best]) best = k;
        hits += valid.has_cross[valid.offsets[i] + best];
        total++;
    }
    printf("attention on a cross in %d of %d positive bags\n", hits, total);
    assert_true(hits >= 0.85 * total);
    loom_ctx_done(&c);
    bagnet_done(&m);
    bagnet_data_done(&train);
    bagnet_data_done(&valid);
}
