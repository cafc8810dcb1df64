/*
 * tensor.h — dense float32 tensors (row-major, contiguous, up to 4-D) and the
 * engine context every op runs in: the step arena, the autograd tape, the
 * mode (training or not), the step's random stream and a sticky error.
 *
 * Tensors do not own memory: activations live in the context's arena, params
 * in a parameter store (store.h). A tensor's grad is NULL until backward first
 * accumulates into it (loom_grad), except for params, whose grads live in the
 * store's gradient block.
 *
 * Error model of ops: an op that fails (shape mismatch, out of memory) records
 * the first failure in the context and returns NULL; every op returns NULL at
 * once when given a NULL input. So a chain of ops needs one check at its end:
 *     y = loom_relu(c, loom_linear(c, x, w, b));
 *     if (!y) return c->status;   // detail in c->err
 */
#ifndef LOOM_CORE_TENSOR_H
#define LOOM_CORE_TENSOR_H

#include "arena.h"
#include "rng.h"

#define LOOM_MAX_DIMS 4

enum {
    LOOM_T_REQUIRES_GRAD = 1u << 0, /* gradients flow into this tensor */
    LOOM_T_PARAM = 1u << 1,         /* lives in a parameter store */
};

struct loom_tensor {
    float *data;
    float *grad;                  /* same shape as data, or NULL (see above) */
    int64_t shape[LOOM_MAX_DIMS]; /* unused trailing dims are 1 */
    int ndim;
    int64_t size; /* number of elements */
    unsigned flags;
    const char *name; /* optional, for messages; not owned */
};

struct loom_ctx;
struct loom_dnnl; /* oneDNN engine, stream and primitive cache (onednn.h) */

typedef void (*loom_backward_fn)(struct loom_ctx *c, void *saved);

struct loom_tape_entry {
    struct loom_tape_entry *prev;
    loom_backward_fn fn;
    /* the op's saved state follows, 64-byte aligned */
};

struct loom_ctx {
    struct loom_arena arena;
    struct loom_tape_entry *tape; /* newest entry; NULL when empty */
    bool grad_enabled;            /* record the tape (training step) */
    bool training;                /* dropout active, batch norm uses batch statistics */
    bool bf16;                    /* heavy ops in bfloat16 where the CPU has it (cnn_trunk) */
    /* The parameters the ops read never change in this context's life (a
     * scoring session of an immutable model): ops may keep values derived
     * from them (cnn_trunk's folded weights) keyed by their addresses. */
    bool frozen;
    struct loom_rng rng;     /* the step's stream: dropout, augmentation */
    enum loom_status status; /* first failure since the last reset, or LOOM_OK */
    struct loom_error err;
    struct loom_dnnl *dnnl; /* created on first use */
};

/* A context with an arena of initial_bytes (0: grow on demand). */
void loom_ctx_init(struct loom_ctx *c, size_t initial_bytes, uint64_t seed);
void loom_ctx_done(struct loom_ctx *c);
/* After a step: drop the tape and every arena allocation; clear the error. */
void loom_ctx_reset(struct loom_ctx *c);

/* Record the first failure (later ones are ignored); returns NULL so an op
 * can `return loom_fail(c, ...)`. */
void *loom_fail(struct loom_ctx *c, enum loom_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- tensors ---- */

/* New tensor in the arena, data uninitialised (or zeroed with _zeros).
 * ndim 1..4; every dim >= 0 (0 is allowed: an empty batch of images). */
struct loom_tensor *loom_tensor_new(struct loom_ctx *c, int ndim, const int64_t *shape);
struct loom_tensor *loom_tensor_zeros(struct loom_ctx *c, int ndim, const int64_t *shape);
/* Same shape as t. */
struct loom_tensor *loom_tensor_like(struct loom_ctx *c, const struct loom_tensor *t);
/* A tensor header over caller memory (no copy; caller keeps it alive). */
struct loom_tensor *loom_tensor_wrap(struct loom_ctx *c, float *data, int ndim,
                                     const int64_t *shape);
/* Shorthand: loom_tensor_new(c, LOOM_SHAPE(n, d)). */
#define LOOM_SHAPE(...)                                                                            \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[])                   \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

/* Fill a header in place (no allocation). false on a bad shape or overflow. */
bool loom_tensor_set_shape(struct loom_tensor *t, int ndim, const int64_t *shape);
bool loom_tensor_same_shape(const struct loom_tensor *a, const struct loom_tensor *b);
/* "3x64x64" into buf, for messages. */
const char *loom_shape_str(const struct loom_tensor *t, char *buf, size_t n);

/* Rows and row width when the tensor is seen as a matrix (first dim x rest).
 * (Not loom_rows: that is the public row builder of include/loom.h.) */
static inline int64_t loom_tensor_rows(const struct loom_tensor *t)
{
    return t->ndim ? t->shape[0] : 1;
}
static inline int64_t loom_tensor_cols(const struct loom_tensor *t)
{
    return t->shape[0] ? t->size / t->shape[0] : 0;
}

/* Same data, another shape of the same size (a header copy; grads shared
 * through the tape). */
struct loom_tensor *loom_reshape(struct loom_ctx *c, struct loom_tensor *x, int ndim,
                                 const int64_t *shape);

/* ---- autograd ---- */

/* True when an op given these inputs must record a backward entry. */
static inline bool loom_needs_grad(const struct loom_ctx *c, const struct loom_tensor *t)
{
    return c->grad_enabled && t && (t->flags & LOOM_T_REQUIRES_GRAD);
}
bool loom_needs_grad_any(const struct loom_ctx *c, int n, struct loom_tensor *const *ts);

/* Push a backward entry whose saved state has saved_size bytes; marks out as
 * requiring grad. Returns the (uninitialised) saved state, or NULL on out of
 * memory (the failure is recorded in c). */
void *loom_tape_record(struct loom_ctx *c, loom_backward_fn fn, size_t saved_size,
                       struct loom_tensor *out);

/* The gradient buffer of t, allocated zeroed on first use (arena). NULL on
 * out of memory (recorded in c). Backward functions accumulate into it. */
float *loom_grad(struct loom_ctx *c, struct loom_tensor *t);

/* Run the tape backwards from out, seeded with dout (same size as out; NULL
 * means all ones, the usual seed for a scalar loss). Clears the tape. */
enum loom_status loom_backward(struct loom_ctx *c, struct loom_tensor *out, const float *dout);

#endif
