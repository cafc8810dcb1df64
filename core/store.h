/*
 * store.h — the parameter store: every trainable parameter of a model, and
 * its non-trainable state (batch-norm running statistics), laid out in one
 * aligned block; gradients and the two optimizer moments in one block each,
 * at the same offsets. The optimizer is then one loop per parameter group.
 *
 * Two phases: modules add parameters (shape, initialiser, group), then
 * loom_store_finalize allocates the blocks and initialises the values from a
 * seed. Tensors returned by loom_store_add stay valid until loom_store_done;
 * their data pointers are set by finalize.
 */
#ifndef LOOM_CORE_STORE_H
#define LOOM_CORE_STORE_H

#include "tensor.h"

#define LOOM_MAX_GROUPS 16

enum loom_init {
    LOOM_INIT_ZEROS,
    LOOM_INIT_ONES,
    LOOM_INIT_CONST,   /* every value = a */
    LOOM_INIT_UNIFORM, /* U(-a, a) */
    LOOM_INIT_NORMAL,  /* N(0, a^2) */
    LOOM_INIT_FAN_IN,  /* U(-k, k), k = 1/sqrt(fan_in) (PyTorch's Linear/Conv default); a
                          = fan_in */
    LOOM_INIT_KAIMING, /* N(0, 2/fan_in), a = fan_in (ReLU networks) */
};

/* A named set of parameters with its own learning-rate multiplier, weight
 * decay and frozen flag (discriminative rates, gradual unfreezing). */
struct loom_param_group {
    char name[32];
    float lr_mult;      /* the schedule's rate is multiplied by this (default 1) */
    float weight_decay; /* decoupled (AdamW) or L2 (SGD); default 0 */
    bool frozen;        /* no update, and its grads are not computed */
};

struct loom_param {
    struct loom_tensor t; /* data/grad point into the store's blocks */
    char *name;
    int group;
    bool buffer; /* non-trainable state: saved, never updated by the optimizer */
    enum loom_init init;
    float init_arg;
    size_t offset; /* in floats, a multiple of 16 */
};

struct loom_store {
    struct loom_param **params;
    int n, cap;
    size_t total;               /* floats in each block */
    float *data, *grad, *m, *v; /* one 64-byte-aligned block each */
    struct loom_param_group groups[LOOM_MAX_GROUPS];
    int ngroups;
    bool finalized;
};

void loom_store_init(struct loom_store *s);
void loom_store_done(struct loom_store *s);

/* The index of the group called name, created (lr_mult 1, no decay) if new;
 * -1 when LOOM_MAX_GROUPS groups exist already. Group 0 is "default". */
int loom_store_group(struct loom_store *s, const char *name);

/* Add a trainable parameter (NULL on out of memory, bad shape, duplicate
 * name, or after finalize; detail in err). */
struct loom_tensor *loom_store_add(struct loom_store *s, const char *name, int ndim,
                                   const int64_t *shape, enum loom_init init, float init_arg,
                                   int group, struct loom_error *err);
/* Add non-trainable state (same rules; no gradient). */
struct loom_tensor *loom_store_add_buffer(struct loom_store *s, const char *name, int ndim,
                                          const int64_t *shape, enum loom_init init, float init_arg,
                                          struct loom_error *err);

/* Allocate the blocks and initialise every value from seed. */
LOOM_WUR enum loom_status loom_store_finalize(struct loom_store *s, uint64_t seed,
                                              struct loom_error *err);

void loom_store_zero_grad(struct loom_store *s);
/* Apply the groups' frozen flags to the params' REQUIRES_GRAD flags. */
void loom_store_apply_frozen(struct loom_store *s);
struct loom_param *loom_store_find(const struct loom_store *s, const char *name);
/* The param whose tensor is t, or NULL. */
struct loom_param *loom_store_param_of(const struct loom_store *s, const struct loom_tensor *t);
/* Number of trainable scalars. */
size_t loom_store_count(const struct loom_store *s);

#endif
