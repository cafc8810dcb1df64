/*
 * encoder.h — a branch's encoder: turns the batch columns of its branch into
 * one vector per row. Encoders are found by the schema's encoder name in one
 * table (registry.c); each lives in its own file with its test:
 *
 *   mlp  (tabular.c)  category embeddings + numbers/flags/date parts through
 *                     batch norm, then an MLP with dropout
 *   rnn  (text.c)     token embedding, optional 1-D convolution, LSTM or GRU
 *                     (layers, bidirectional), pooled over the valid steps
 *   cnn  (image.c)    one CNN on every photo of the batch at once, then a bag
 *                     pooling per row (gated attention, attention, mean, max);
 *                     an empty bag gives a learned "no photo" vector
 *
 * Adding an encoder touches its file, one line in registry.c's table and one
 * meson line.
 *
 * Parameters live in the model's store (core/store.h), in a param group named
 * after the branch, with names "<branch>.<param>" so that a model file lists
 * them readably.
 */
#ifndef LOOM_MODULES_ENCODER_H
#define LOOM_MODULES_ENCODER_H

#include "core/store.h"
#include "loaders/prep.h"

struct loom_encoder;

struct loom_encoder_class {
    const char *name; /* as in the schema: "mlp", "rnn", "cnn" */
    enum loom_encoder_kind kind;
    /* Declare the params of branch `branch` of s in store (not yet
     * finalized) and set e->width. The class's own state goes in e->state. */
    LOOM_WUR enum loom_status (*init)(struct loom_encoder *e, const struct loom_schema *s,
                                      int branch, const struct loom_prep *p,
                                      struct loom_store *store, struct loom_error *err);
    /* (b->n, e->width), or NULL with the reason in c. c->training selects
     * dropout, batch statistics, and training-time choices (a random subset
     * of max_images photos). */
    struct loom_tensor *(*forward)(struct loom_ctx *c, struct loom_encoder *e,
                                   const struct loom_batch *b);
    void (*free)(struct loom_encoder *e);
};

struct loom_encoder {
    const struct loom_encoder_class *cls;
    const struct loom_schema *schema;
    int branch;
    int width;   /* the output vector's width */
    int group;   /* the store's param group of this branch */
    void *state; /* the class's */
    /* cnn with attention pooling: after forward, each photo's weight in its
     * row's bag, (count) floats in the step arena (valid until the context is
     * reset); NULL otherwise. */
    const float *attention;
};

/* The class of an encoder kind; NULL if none. */
const struct loom_encoder_class *loom_encoder_class_of(enum loom_encoder_kind kind);

/* Make the encoder of one branch (declares its params in store). */
LOOM_WUR enum loom_status loom_encoder_init(struct loom_encoder *e, const struct loom_schema *s,
                                            int branch, const struct loom_prep *p,
                                            struct loom_store *store, struct loom_error *err);
struct loom_tensor *loom_encoder_forward(struct loom_ctx *c, struct loom_encoder *e,
                                         const struct loom_batch *b);
void loom_encoder_done(struct loom_encoder *e);

#endif
