/*
 * bagnet.h — the quickstart task: bags of 0–6 small photos; a bag is
 * positive when any of its photos shows a cross, negative when they show
 * only hollow squares (or when it has no photo). A shared CNN encodes every
 * photo of a batch in one call, gated attention (Ilse et al. 2018) pools each
 * bag, a linear head gives a logit, binary cross-entropy trains it all.
 * It exercises the engine end to end: conv2d, batch norm, pooling, the bag
 * ops, losses, the tape, AdamW and one-cycle.
 *
 * Used by examples/quickstart/main.c (the README's main job) and by
 * tests/examples (which checks that it learns).
 */
#ifndef LOOM_EXAMPLES_BAGNET_H
#define LOOM_EXAMPLES_BAGNET_H

#include "core/optim.h"
#include "core/schedule.h"
#include "core/store.h"

#define BAGNET_SIDE    16 /* photos are 3 x 16 x 16 */
#define BAGNET_MAX_BAG 6

struct bagnet_data {
    int64_t nbags, nimages;
    float *images;      /* (nimages, 3, SIDE, SIDE) */
    int64_t *offsets;   /* (nbags + 1): bag i owns images offsets[i]..offsets[i+1]-1 */
    float *labels;      /* (nbags): 1 positive, 0 negative */
    uint8_t *has_cross; /* (nimages): the photo shows a cross */
};

/* Generate nbags bags from seed. false on out of memory. */
bool bagnet_data_make(struct bagnet_data *d, int64_t nbags, uint64_t seed);
void bagnet_data_done(struct bagnet_data *d);

struct bagnet {
    struct loom_store store;
    struct loom_tensor *conv1, *bn1_g, *bn1_b, *bn1_m, *bn1_v;
    struct loom_tensor *conv2, *bn2_g, *bn2_b, *bn2_m, *bn2_v;
    struct loom_tensor *att_v, *att_vb, *att_u, *att_ub, *att_w, *empty;
    struct loom_tensor *head_w, *head_b;
};

LOOM_WUR enum loom_status bagnet_init(struct bagnet *m, uint64_t seed, struct loom_error *err);
void bagnet_done(struct bagnet *m);

/* Logits (count) of bags idx[0..count); when attention is not NULL it
 * receives each photo's pooling weight (photos of those bags, in order). */
struct loom_tensor *bagnet_forward(struct loom_ctx *c, struct bagnet *m,
                                   const struct bagnet_data *d, const uint32_t *idx, int64_t count,
                                   float *attention);

struct bagnet_train_opts {
    int epochs, batch;
    float lr;
    uint64_t seed;
    /* Called after each epoch (may be NULL). */
    void (*on_epoch)(int epoch, double train_loss, double valid_loss, double valid_acc, void *user);
    void *user;
};

/* Train on train, evaluating on valid after each epoch. */
LOOM_WUR enum loom_status bagnet_train(struct bagnet *m, const struct bagnet_data *train,
                                       const struct bagnet_data *valid,
                                       const struct bagnet_train_opts *o, struct loom_error *err);

/* Mean loss and accuracy over d in evaluation mode. */
LOOM_WUR enum loom_status bagnet_evaluate(struct bagnet *m, const struct bagnet_data *d,
                                          double *loss, double *accuracy, struct loom_error *err);

#endif
