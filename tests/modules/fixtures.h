/*
 * fixtures.h — what the modules tests share: a schema from YAML text, a
 * stand-in fitted prep (prep_stub.c: hand-made column infos, until the real
 * loaders/prep.c is there), batches built by hand, a finite-difference check
 * of an encoder's gradients and a small training loop.
 */
#ifndef LOOM_TESTS_MODULES_FIXTURES_H
#define LOOM_TESTS_MODULES_FIXTURES_H

#include "core/ops.h"
#include "modules/encoder.h"
#include "tests/testlib.h"

/* Load "data: {train: t.csv}\n" + yaml (no file checks); asserts success. */
void mt_schema(struct loom_schema *s, const char *yaml);

/* A prep whose column i has info[i] (type taken from the schema). */
struct loom_prep *mt_prep(const struct loom_schema *s, const struct loom_prep_column_info *info);

/* A batch of n rows with a column per schema column (types set, no data). */
struct mt_batch {
    struct loom_batch b;
    const struct loom_schema *s;
    void *mem[64];
    int nmem;
};
void mt_batch_init(struct mt_batch *mb, const struct loom_schema *s, int64_t n);
void mt_batch_done(struct mt_batch *mb);
/* Zeroed memory owned by the batch. */
void *mt_alloc(struct mt_batch *mb, size_t bytes);
/* Fill column col (by name) with random data: values N(0,1) of `width`, all
 * present; codes in [0, card); tokens in [2, V) with the given lengths
 * (NULL: random in [0, T]); photos (counts per row) of S pixels, U(-1,1). */
struct loom_batch_col *mt_values(struct mt_batch *mb, const char *col, int width,
                                 struct loom_rng *r);
struct loom_batch_col *mt_codes(struct mt_batch *mb, const char *col, int32_t card,
                                struct loom_rng *r);
struct loom_batch_col *mt_tokens(struct mt_batch *mb, const char *col, int T, int32_t V,
                                 const int32_t *lengths, struct loom_rng *r);
struct loom_batch_col *mt_photos(struct mt_batch *mb, const char *col, int S, const int64_t *counts,
                                 struct loom_rng *r);

/* A schema, prep, store and the encoder of branch 0, finalized; with
 * head > 0 also a linear head (head, width) on the encoder's vector. */
struct mt_model {
    struct loom_schema s;
    struct loom_prep *prep;
    struct loom_store store;
    struct loom_encoder e;
    struct loom_tensor *head_w, *head_b;
    bool bf16; /* mt_fit trains with c->bf16 (training.precision: bf16) */
};
void mt_model_init(struct mt_model *m, const char *yaml, const struct loom_prep_column_info *info,
                   int head);
/* Full-batch AdamW on (b, y): one-cycle over `steps` at peak rate lr; loss
 * MSE on the head's output, or BCE on its logit. Returns the last loss. */
double mt_fit(struct mt_model *m, const struct loom_batch *b, const float *y, bool bce, int steps,
              float lr);
/* The head's outputs in evaluation mode (b->n floats, caller frees). */
float *mt_predict(struct mt_model *m, const struct loom_batch *b);
void mt_model_done(struct mt_model *m);
/* Trainable scalars of the params named "<prefix>..." */
size_t mt_count(const struct loom_store *s, const char *prefix);

/* Central differences of L = sum(y R) w.r.t. up to per_param elements of
 * every trainable param of the encoder, against backward's gradient, with
 * c->training = training and dropout off. Fails the test on a mismatch. */
void mt_gradcheck(struct loom_encoder *e, struct loom_store *st, const struct loom_batch *b,
                  bool training, int per_param);

#endif
