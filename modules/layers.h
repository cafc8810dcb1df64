/*
 * layers.h — what the encoders share (private to modules/): declaring a
 * branch's params under "<branch>.<name>" in its store group, and the small
 * layers they are built from (linear, batch norm) with PyTorch's default
 * initialisation, so that a schema written like a PyTorch model starts from
 * the same distributions and counts the same parameters.
 */
#ifndef LOOM_MODULES_LAYERS_H
#define LOOM_MODULES_LAYERS_H

#include "encoder.h"

/* Where init declares params: the store, the branch's group and name, and
 * the error of the first failure. */
struct loom_mod_decl {
    struct loom_store *store;
    int group;
    const char *branch;
    struct loom_error *err;
};

/* Add "<branch>.<name>" (name formatted like printf). NULL on failure, with
 * err filled. buffer: non-trainable state (no group, no grad). */
struct loom_tensor *loom_mod_param(struct loom_mod_decl *d, bool buffer, enum loom_init init,
                                   float arg, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* y = x w^T + b: w (out, in) and b (out) U(-k, k), k = 1/sqrt(in), as
 * PyTorch's nn.Linear; b NULL when !bias. Names "<name>.weight", ".bias". */
struct loom_mod_linear {
    struct loom_tensor *w, *b;
};
bool loom_mod_linear_init(struct loom_mod_decl *d, struct loom_mod_linear *l, int64_t in,
                          int64_t out, bool bias, const char *name);
struct loom_tensor *loom_mod_linear(struct loom_ctx *c, const struct loom_mod_linear *l,
                                    struct loom_tensor *x);

/* Batch norm over C channels: gamma ones, beta zeros, running mean zeros and
 * variance ones (buffers), momentum 0.1 and eps 1e-5 — nn.BatchNorm1d/2d.
 * Names "<name>.weight", ".bias", ".running_mean", ".running_var". */
struct loom_mod_bn {
    struct loom_tensor *gamma, *beta, *mean, *var;
};
#define LOOM_MOD_BN_MOMENTUM 0.1f
#define LOOM_MOD_BN_EPS      1e-5f
bool loom_mod_bn_init(struct loom_mod_decl *d, struct loom_mod_bn *bn, int64_t C, const char *name);
struct loom_tensor *loom_mod_bn(struct loom_ctx *c, const struct loom_mod_bn *bn,
                                struct loom_tensor *x);

/* The batch column col of the branch's column j, checked against the type
 * the encoder expects and the batch's size; NULL (failure in c) otherwise. */
const struct loom_batch_col *loom_mod_col(struct loom_ctx *c, const struct loom_encoder *e,
                                          const struct loom_batch *b, int j,
                                          enum loom_col_type type);

#endif
