/*
 * cnn.h — what the oneDNN-backed CNN ops (conv2d.c, cnn_trunk.c; batch_norm.c
 * and pool.c are plain loops now) share: the memory format of tensors at their
 * boundary, chosen here and only here, and a primitive wrapper that is
 * created once per shape (kept in the context's cache, onednn.h) and run on
 * caller buffers with the scratchpad in user mode (loom_dnnl_scratch).
 *
 * Not a public API: private to core/ops. Not thread-safe (neither is a
 * context): a cached primitive's memory objects get new data handles on
 * every run.
 */
#ifndef LOOM_CORE_OPS_CNN_H
#define LOOM_CORE_OPS_CNN_H

#include "../onednn.h"

/* Op kinds for key.v[0]: four letters, so that they cannot clash with other
 * files' small numbers. */
#define LOOM_CNN_KIND(a, b, c, d) ((int64_t)(a) << 24 | (int64_t)(b) << 16 | (c) << 8 | (d))

/* What a tensor is to a primitive; its memory format is chosen from this. */
enum loom_cnn_role {
    LOOM_CNN_ACT,     /* activations (N,C,H,W) or (N,C) */
    LOOM_CNN_WEIGHTS, /* convolution weights (O,C,K,K) */
    LOOM_CNN_VEC,     /* per-channel vectors (C): bias, scale, shift, statistics */
    LOOM_CNN_FLAT,    /* (N,C,1,1) that is an (N,C) tensor leaving the trunk: always plain */
    LOOM_CNN_ANY,     /* inside a primitive: the format it prefers (reordered at the boundary) */
};

/* md for a float tensor of the given role and dims. Plain row-major (NCHW,
 * OIHW) at the ops' boundary for now: loom tensors are plain. Keeping
 * activations in blocked layouts (DESIGN.md) changes this one function. */
bool loom_cnn_md(struct loom_ctx *c, dnnl_memory_desc_t *md, enum loom_cnn_role role, int ndims,
                 const int64_t *dims);

#define LOOM_CNN_MAX_ARGS 10

/* A primitive with its descriptor and one memory object (without a buffer)
 * per execution argument. */
struct loom_cnn_prim {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    int nargs;
    int ids[LOOM_CNN_MAX_ARGS];           /* DNNL_ARG_* in the caller's order */
    dnnl_memory_t mem[LOOM_CNN_MAX_ARGS]; /* NULL: the primitive does not use it */
    dnnl_memory_t scratch_mem;            /* NULL when no scratchpad is needed */
    size_t scratch_bytes;
};

/* Create p for op_desc (hint: the forward primitive descriptor of a backward
 * primitive, else NULL) with arguments ids[0..nargs). Arguments the
 * primitive does not take (a zero md) are skipped when run. false on failure
 * (recorded in c; p is then empty and safe to loom_cnn_prim_done). */
bool loom_cnn_prim_init(struct loom_ctx *c, struct loom_cnn_prim *p, const_dnnl_op_desc_t op_desc,
                        const_dnnl_primitive_desc_t hint, int nargs, const int *ids,
                        const char *what);
/* The same, with a ReLU applied to the primitive's output (an eltwise
 * post-op) when relu. */
bool loom_cnn_prim_init_relu(struct loom_ctx *c, struct loom_cnn_prim *p,
                             const_dnnl_op_desc_t op_desc, const_dnnl_primitive_desc_t hint,
                             bool relu, int nargs, const int *ids, const char *what);
/* Bytes of argument id (0 when unused): workspaces, statistics. */
size_t loom_cnn_prim_arg_bytes(const struct loom_cnn_prim *p, int id);
/* Whether the implementation oneDNN chose for p has `part` in its name
 * ("wino" for its Winograd convolutions, "wino_4x3", "wino_2x3"). */
bool loom_cnn_prim_impl_has(const struct loom_cnn_prim *p, const char *part);
/* Run p with bufs[i] the buffer of argument ids[i] (NULL for unused ones). */
bool loom_cnn_prim_run(struct loom_ctx *c, struct loom_cnn_prim *p, void *const *bufs,
                       const char *what);
void loom_cnn_prim_done(struct loom_cnn_prim *p);

/* A reorder from one memory format to another (the op's plain one and the
 * format its primitive chose), or nothing (prim NULL) when they are the same
 * and no accumulation is asked for. accumulate: to += from (a sum post-op)
 * instead of to = from. bytes: the larger size of the two (a blocked layout
 * pads channels), for the arena buffer of the side that is not plain. */
struct loom_cnn_reorder {
    dnnl_primitive_t prim;
    dnnl_memory_t from, to;
    size_t bytes;
    bool same; /* from and to are the same format: a copy (or an add) */
};

bool loom_cnn_reorder_init(struct loom_ctx *c, struct loom_cnn_reorder *r,
                           const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                           bool accumulate);
bool loom_cnn_reorder_run(struct loom_ctx *c, struct loom_cnn_reorder *r, const void *from,
                          void *to);
void loom_cnn_reorder_done(struct loom_cnn_reorder *r);

/* Where a backward writes the gradient of t that it must ADD to dst: dst
 * itself when it is known to hold zeros (a primitive overwrites its outputs),
 * else a scratch buffer of n floats from the arena that loom_cnn_acc adds into
 * dst afterwards. NULL on out of memory (recorded in c). */
float *loom_cnn_out(struct loom_ctx *c, float *dst, bool dst_is_zero, int64_t n);
void loom_cnn_acc(float *dst, const float *out, int64_t n);

/* The gradient of t for a backward, and whether it holds only zeros (freshly
 * allocated by loom_grad): the op's primitive may then write it directly.
 * NULL when t needs no grad or on out of memory (then c->status is set). */
float *loom_cnn_grad(struct loom_ctx *c, struct loom_tensor *t, bool *zero);

#endif
