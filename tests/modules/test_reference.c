/*
 * test_reference.c — the registry, and the reference model
 * (../shared/bench/ref_model.py) written as a schema: its three branches
 * must have exactly the PyTorch model's parameter counts and widths.
 *
 * PyTorch is not installed here, so the counts are worked out by hand from
 * ref_model.py (their sum with the head, 1,121,735, is the total the script
 * prints):
 *   image: conv 3*32*9 = 864, BN 2*32 = 64; conv 32*64*9 = 18,432, BN 128;
 *          conv 64*128*9 = 73,728, BN 256; V, U 128*64 + 64 = 8,256 each;
 *          w 64; no_image 128                                    = 110,176
 *   text:  embedding 8000*64 = 512,000; BiLSTM per direction
 *          4*128*64 + 4*128*128 + 2*4*128 = 99,328, two       = 710,656
 *   tab:   embeddings 10*6 + 50*14 + 200*31 + 5*4 + 30*11 + 1000*77
 *          = 84,310; BatchNorm1d(8) 16; Linear(151, 128) 19,456 = 103,782
 *   head:  768*256 + 256 + 256 + 1                             = 197,121
 */
#include <string.h>

#include "fixtures.h"

LOOM_TEST(registry_has_every_kind)
{
    for (int k = 0; k < LOOM_ENC_COUNT; k++) {
        const struct loom_encoder_class *cls = loom_encoder_class_of((enum loom_encoder_kind)k);
        assert_non_null(cls);
        assert_int_equal(cls->kind, k);
        assert_string_equal(cls->name, loom_encoder_name((enum loom_encoder_kind)k));
        assert_non_null(cls->init);
        assert_non_null(cls->forward);
        assert_non_null(cls->free);
    }
    assert_null(loom_encoder_class_of(LOOM_ENC_COUNT));
    assert_null(loom_encoder_class_of((enum loom_encoder_kind) - 1));
}

static const char ref_yaml[] =
    "columns:\n"
    "  photos: {type: images, max_images: 8}\n"
    "  title: {type: text, max_tokens: 47}\n"
    "  c0: {type: category}\n"
    "  c1: {type: category}\n"
    "  c2: {type: category}\n"
    "  c3: {type: category}\n"
    "  c4: {type: category}\n"
    "  c5: {type: category}\n"
    "  n0: {type: number, missing: drop}\n"
    "  n1: {type: number, missing: drop}\n"
    "  n2: {type: number, missing: drop}\n"
    "  n3: {type: number, missing: drop}\n"
    "  n4: {type: number, missing: drop}\n"
    "  n5: {type: number, missing: drop}\n"
    "  n6: {type: number, missing: drop}\n"
    "  n7: {type: number, missing: drop}\n"
    "  price: {type: number}\n"
    "branches:\n"
    "  image: {encoder: cnn, columns: [photos], image_size: 64, channels: [32, 64, 128],\n"
    "          pool: gated_attention, attention: 64}\n"
    "  text: {encoder: rnn, columns: [title], embed: 64, hidden: 128, bidirectional: true,\n"
    "         cell: lstm, layers: 1, pool: mean_max}\n"
    "  tab: {encoder: mlp, columns: [c0, c1, c2, c3, c4, c5, n0, n1, n2, n3, n4, n5, n6, n7],\n"
    "        layers: [128], dropout: 0, batch_norm: true}\n"
    "outputs: {price: {range: [0, 6]}}\n";

LOOM_TEST(reference_param_counts)
{
    struct loom_prep_column_info info[17] = {{.image_size = 64},
                                             {.width = 48, .cardinality = 8000}};
    const int32_t cards[6] = {10, 50, 200, 5, 30, 1000};
    for (int i = 0; i < 6; i++)
        info[2 + i] = (struct loom_prep_column_info){.width = 1, .cardinality = cards[i]};
    for (int i = 8; i < 17; i++) info[i].width = 1;
    struct loom_schema s;
    mt_schema(&s, ref_yaml);
    struct loom_prep *p = mt_prep(&s, info);
    struct loom_store st;
    loom_store_init(&st);
    struct loom_encoder e[3];
    struct loom_error err = {0};
    for (int b = 0; b < 3; b++)
        assert_int_equal(loom_encoder_init(&e[b], &s, b, p, &st, &err), LOOM_OK);
    assert_int_equal(loom_store_finalize(&st, 1, &err), LOOM_OK);
    assert_int_equal(mt_count(&st, "image."), 110176);
    assert_int_equal(mt_count(&st, "text."), 710656);
    assert_int_equal(mt_count(&st, "tab."), 103782);
    assert_int_equal(loom_store_count(&st), 110176 + 710656 + 103782);
    assert_int_equal(e[0].width, 128);
    assert_int_equal(e[1].width, 512);
    assert_int_equal(e[2].width, 128);
    /* every branch in its own param group */
    assert_true(e[0].group != e[1].group && e[1].group != e[2].group && e[0].group != 0);

    /* one training step's forward and backward through all three */
    struct loom_rng r;
    loom_rng_init(&r, 9, 0);
    struct mt_batch mb;
    mt_batch_init(&mb, &s, 3);
    const int64_t counts[3] = {2, 0, 3};
    int32_t len[3] = {48, 0, 9};
    mt_photos(&mb, "photos", 64, counts, &r);
    mt_tokens(&mb, "title", 48, 8000, len, &r);
    for (int i = 0; i < 6; i++) {
        char name[4] = {'c', (char)('0' + i), 0};
        mt_codes(&mb, name, cards[i], &r);
    }
    for (int i = 0; i < 8; i++) {
        char name[4] = {'n', (char)('0' + i), 0};
        mt_values(&mb, name, 1, &r);
    }
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    c.training = c.grad_enabled = true;
    struct loom_tensor *z[3];
    for (int b = 0; b < 3; b++) z[b] = loom_encoder_forward(&c, &e[b], &mb.b, NULL);
    struct loom_tensor *fused = loom_concat(&c, 3, z);
    if (!fused) fail_msg("%s", c.err.message);
    assert_int_equal(fused->shape[1], 768);
    loom_store_zero_grad(&st);
    assert_int_equal(loom_backward(&c, fused, NULL), LOOM_OK);
    loom_ctx_done(&c);
    mt_batch_done(&mb);
    for (int b = 0; b < 3; b++) loom_encoder_done(&e[b]);
    loom_store_done(&st);
    loom_prep_free(&p);
    loom_schema_free(&s);
}
