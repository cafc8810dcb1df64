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
 * them readably (PyTorch's names where there is one: "text.rnn.weight_ih_l0",
 * "image.cnn.0.bn.running_mean"), initialised as PyTorch's layers are.
 * Batch-norm running statistics are store buffers.
 *
 * An encoder is immutable after init except for its batch-norm running
 * statistics (updated by a training forward): forward takes it const, and
 * whatever a call produces besides the vectors (the attention weights) goes
 * to the caller, in the context's arena. So any number of threads may run
 * evaluation forwards (c->training false) of one encoder at once, each with
 * its own context; training is one thread.
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
     * of max_images photos, from c->rng). Batch norm in training needs more
     * than one value per channel: an mlp with batch_norm fails
     * (LOOM_ERR_SHAPE) on a training batch of one row, as PyTorch does.
     * *attention (never NULL; already NULL on entry): see
     * loom_encoder_forward. */
    struct loom_tensor *(*forward)(struct loom_ctx *c, const struct loom_encoder *e,
                                   const struct loom_batch *b, const float **attention);
    void (*free)(struct loom_encoder *e);
};

struct loom_encoder {
    const struct loom_encoder_class *cls;
    const struct loom_schema *schema;
    int branch;
    int width;   /* the output vector's width */
    int group;   /* the store's param group of this branch */
    void *state; /* the class's */
};

/* The class of an encoder kind; NULL if none. */
const struct loom_encoder_class *loom_encoder_class_of(enum loom_encoder_kind kind);

/* Make the encoder of one branch: declares its params in store (in the group
 * named after the branch). On failure e is zeroed (the params it had
 * declared stay in the store: discard the store) and err says why:
 * LOOM_ERR_SCHEMA for options the encoder cannot build (an even conv1d
 * kernel, more CNN stages than the image size allows), LOOM_ERR_INVALID for
 * a prep that does not fit the schema. */
LOOM_WUR enum loom_status loom_encoder_init(struct loom_encoder *e, const struct loom_schema *s,
                                            int branch, const struct loom_prep *p,
                                            struct loom_store *store, struct loom_error *err);
/* The branch's vectors (b->n, e->width) for batch b, recorded on c's tape
 * when c->grad_enabled; NULL with the reason in c (a batch column of the
 * wrong type or width, codes or lengths out of range, bad bag offsets:
 * LOOM_ERR_INVALID). The arrays themselves must be as long as batch.h says.
 * attention (may be NULL) gets, for a cnn with attention pooling, each
 * photo's weight in its row's bag, in c's arena (valid until the context is
 * reset): the photos of the branch's image columns in column order, then in
 * batch order (the sum of the columns' count floats); 0 for a photo left
 * out by max_images. NULL for every other encoder, and on failure. */
struct loom_tensor *loom_encoder_forward(struct loom_ctx *c, const struct loom_encoder *e,
                                         const struct loom_batch *b, const float **attention);
/* Free the class's state and zero e. Accepts NULL and a zeroed encoder. */
void loom_encoder_done(struct loom_encoder *e);

#endif
