/*
 * cnn_trunk_impl.h — what the CNN trunk's files share (private to
 * core/ops): the trunk's shapes, the memory descriptors of a stage, the
 * arena and reorder helpers (cnn_trunk.c), and the evaluation without
 * gradients (cnn_trunk_eval.c). The passes over memory are in
 * cnn_trunk_pass.h.
 */
#ifndef LOOM_OPS_CNN_TRUNK_IMPL_H
#define LOOM_OPS_CNN_TRUNK_IMPL_H

#include "../ops.h"
#include "cnn.h"
#include "cnn_trunk_pass.h"

#define MAXS LOOM_CNN_TRUNK_MAX_STAGES

enum trunk_mode {
    TRUNK_TRAIN,  /* batch statistics, running ones updated */
    TRUNK_AFFINE, /* running statistics, with gradients */
    TRUNK_FOLD,   /* running statistics folded into the convolutions, no gradients */
};

/* Stage i maps C[i] channels to C[i+1] at H[i] x W[i]. */
struct trunk_shape {
    int n;
    int64_t N, C[MAXS + 1], H[MAXS], W[MAXS];
    enum trunk_mode mode;
    bool bf16;      /* convolution inputs in bf16 */
    bool nhwc;      /* the layout: nhwc (always with bf16), else nChw16c */
    bool round;     /* checks only: f32, rounded to bf16 where the bf16 path converts */
    int64_t chunk;  /* checks only: photos per chunk of the first stage (0: CHUNK_L2's) */
    int64_t wsplit; /* checks only: backward weights split after this many photos (0: stage_weights
                       decides) */
    float momentum, eps;
};

/* The mds of stage i: its input (src), its output z and z's gradient dz (in
 * `at`: bf16 on the bf16 path, else f32), the input's gradient dsrc (`at`
 * too, but f32 for the first stage, whose x is f32),
 * weights of the primitives' choice in `at` and plain (OIHW f32). */
struct stage_mds {
    dnnl_memory_desc_t src, z, dsrc, dz, w, pw, px;
};

/* Stride and padding 1, 1 of every convolution. */
static const dnnl_dims_t trunk_one = {1, 1};

bool trunk_stage_mds(struct loom_ctx *c, const struct trunk_shape *s, int i, struct stage_mds *m);
/* The md of argument id of p. */
const dnnl_memory_desc_t *trunk_arg_md(const struct loom_cnn_prim *p, int id);
/* bytes of the context's arena (NULL with the error in c). */
void *trunk_arena(struct loom_ctx *c, size_t bytes);
/* The data a primitive reads for plain data at src: src itself, or its
 * reordered copy (arena). */
void *trunk_reorder_in(struct loom_ctx *c, struct loom_cnn_reorder *r, const void *src);

/* The op with its precision and layout given (bf16 implies nhwc), and the
 * checks' knobs (round, chunk, wsplit: trunk_shape's). */
struct loom_tensor *trunk_op(struct loom_ctx *c, struct loom_tensor *x, int nstages,
                             const struct loom_cnn_stage *st, float momentum, float eps, bool bf16,
                             bool nhwc, bool round, int64_t chunk, int64_t wsplit);

/* Photos per run of the evaluation's primitives at most (cnn_trunk_eval.c). */
#define EVAL_CHUNK 64

/* Evaluation without gradients (s->mode TRUNK_FOLD): x (N,C0,H,W) plain ->
 * h (N,C) with the stages st; false with the error in c. */
bool trunk_eval(struct loom_ctx *c, const struct trunk_shape *s, const float *x,
                const struct loom_cnn_stage *st, float *h);

#endif
