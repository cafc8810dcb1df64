/* tensor.c — tensors, the engine context, the tape and backward (tensor.h). */
#include <stdarg.h>
#include <string.h>

#include "onednn.h"
#include "tensor.h"

void loom_ctx_init(struct loom_ctx *c, size_t initial_bytes, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    loom_arena_init(&c->arena, initial_bytes);
    loom_rng_init(&c->rng, seed, 0);
}

void loom_ctx_done(struct loom_ctx *c)
{
    if (!c) return;
    loom_arena_done(&c->arena);
    loom_dnnl_free(c->dnnl);
    c->dnnl = NULL;
    c->tape = NULL;
}

void loom_ctx_reset(struct loom_ctx *c)
{
    loom_arena_reset(&c->arena);
    c->tape = NULL;
    c->status = LOOM_OK;
    memset(&c->err, 0, sizeof c->err);
}

void *loom_fail(struct loom_ctx *c, enum loom_status code, const char *fmt, ...)
{
    if (c->status != LOOM_OK) return NULL;
    c->status = code;
    c->err.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err.message, sizeof c->err.message, fmt, ap);
    va_end(ap);
    return NULL;
}

bool loom_tensor_set_shape(struct loom_tensor *t, int ndim, const int64_t *shape)
{
    if (ndim < 1 || ndim > LOOM_MAX_DIMS) return false;
    size_t size = 1;
    for (int i = 0; i < LOOM_MAX_DIMS; i++) {
        int64_t d = i < ndim ? shape[i] : 1;
        if (d < 0 || !loom_mul_size(size, (size_t)d, &size)) return false;
        t->shape[i] = d;
    }
    if (size > (size_t)INT64_MAX / sizeof(float)) return false;
    t->ndim = ndim;
    t->size = (int64_t)size;
    return true;
}

bool loom_tensor_same_shape(const struct loom_tensor *a, const struct loom_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *loom_shape_str(const struct loom_tensor *t, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < t->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? "x%lld" : "%lld", (long long)t->shape[i]);
    return buf;
}

static struct loom_tensor *header(struct loom_ctx *c, int ndim, const int64_t *shape)
{
    if (c->status != LOOM_OK) return NULL;
    struct loom_tensor *t = loom_arena_alloc(&c->arena, sizeof *t);
    if (!t) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory");
    memset(t, 0, sizeof *t);
    if (!loom_tensor_set_shape(t, ndim, shape))
        return loom_fail(c, LOOM_ERR_SHAPE, "invalid tensor shape (ndim %d)", ndim);
    return t;
}

struct loom_tensor *loom_tensor_new(struct loom_ctx *c, int ndim, const int64_t *shape)
{
    struct loom_tensor *t = header(c, ndim, shape);
    if (!t) return NULL;
    t->data = loom_arena_alloc(&c->arena, (size_t)t->size * sizeof(float));
    if (!t->data) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory");
    return t;
}

struct loom_tensor *loom_tensor_zeros(struct loom_ctx *c, int ndim, const int64_t *shape)
{
    struct loom_tensor *t = loom_tensor_new(c, ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->size * sizeof(float));
    return t;
}

struct loom_tensor *loom_tensor_like(struct loom_ctx *c, const struct loom_tensor *x)
{
    return loom_tensor_new(c, x->ndim, x->shape);
}

struct loom_tensor *loom_tensor_wrap(struct loom_ctx *c, float *data, int ndim,
                                     const int64_t *shape)
{
    struct loom_tensor *t = header(c, ndim, shape);
    if (t) t->data = data;
    return t;
}

/* ---- reshape: a new header over the same data; its gradient is added back
 * into the source's gradient in backward. ---- */

struct reshape_saved {
    struct loom_tensor *x, *y;
};

static void reshape_backward(struct loom_ctx *c, void *p)
{
    struct reshape_saved *s = p;
    if (!s->y->grad) return;
    float *dx = loom_grad(c, s->x);
    if (!dx) return;
    for (int64_t i = 0; i < s->x->size; i++) dx[i] += s->y->grad[i];
}

struct loom_tensor *loom_reshape(struct loom_ctx *c, struct loom_tensor *x, int ndim,
                                 const int64_t *shape)
{
    if (!x) return NULL;
    struct loom_tensor *y = header(c, ndim, shape);
    if (!y) return NULL;
    if (y->size != x->size) {
        char a[64];
        return loom_fail(c, LOOM_ERR_SHAPE, "reshape: %s has %lld elements, new shape has %lld",
                         loom_shape_str(x, a, sizeof a), (long long)x->size, (long long)y->size);
    }
    y->data = x->data;
    y->name = x->name;
    if (loom_needs_grad(c, x)) {
        struct reshape_saved *s = loom_tape_record(c, reshape_backward, sizeof *s, y);
        if (!s) return NULL;
        s->x = x;
        s->y = y;
    }
    return y;
}

/* ---- tape ---- */

bool loom_needs_grad_any(const struct loom_ctx *c, int n, struct loom_tensor *const *ts)
{
    if (!c->grad_enabled) return false;
    for (int i = 0; i < n; i++)
        if (ts[i] && (ts[i]->flags & LOOM_T_REQUIRES_GRAD)) return true;
    return false;
}

void *loom_tape_record(struct loom_ctx *c, loom_backward_fn fn, size_t saved_size,
                       struct loom_tensor *out)
{
    size_t head = loom_align_up(sizeof(struct loom_tape_entry), LOOM_ALIGN), bytes;
    if (!loom_add_size(head, saved_size, &bytes)) return loom_fail(c, LOOM_ERR_NOMEM, "tape");
    unsigned char *p = loom_arena_alloc(&c->arena, bytes);
    if (!p) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory (tape)");
    struct loom_tape_entry *e = (struct loom_tape_entry *)p;
    e->prev = c->tape;
    e->fn = fn;
    c->tape = e;
    if (out) out->flags |= LOOM_T_REQUIRES_GRAD;
    return p + head;
}

float *loom_grad(struct loom_ctx *c, struct loom_tensor *t)
{
    if (!t->grad) {
        t->grad = loom_arena_calloc(&c->arena, (size_t)t->size, sizeof(float));
        if (!t->grad) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory (grad)");
    }
    return t->grad;
}

enum loom_status loom_backward(struct loom_ctx *c, struct loom_tensor *out, const float *dout)
{
    if (c->status != LOOM_OK) return c->status;
    if (!out) return loom_error_set(&c->err, c->status = LOOM_ERR_INVALID, "backward: no output");
    float *g = loom_grad(c, out);
    if (!g) return c->status;
    for (int64_t i = 0; i < out->size; i++) g[i] += dout ? dout[i] : 1.0f;
    size_t head = loom_align_up(sizeof(struct loom_tape_entry), LOOM_ALIGN);
    for (struct loom_tape_entry *e = c->tape; e && c->status == LOOM_OK; e = e->prev)
        e->fn(c, (unsigned char *)e + head);
    c->tape = NULL;
    return c->status;
}
