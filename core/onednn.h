/*
 * onednn.h — loom's one boundary with oneDNN (2.6, C API): the CPU engine and
 * stream of a context, a cache of primitives created once per shape, and the
 * translation of dnnl_status_t into loom's errors.
 *
 * A cached value is whatever an op needs for one shape (primitive descriptors,
 * primitives, memory descriptors, scratchpad size); the op defines its struct
 * and a function to free it. Keys are small arrays of int64 that the op fills
 * with its kind and every dimension that changes the primitive.
 */
#ifndef LOOM_CORE_ONEDNN_H
#define LOOM_CORE_ONEDNN_H

#include <dnnl.h>

#include "tensor.h"

#define LOOM_DNNL_KEY_LEN 24

struct loom_dnnl_key {
    int64_t v[LOOM_DNNL_KEY_LEN]; /* v[0]: a number unique to the op kind; unused = 0 */
};

/* The context's engine and stream, created on first use; NULL on failure
 * (recorded in c). */
dnnl_engine_t loom_dnnl_engine(struct loom_ctx *c);
dnnl_stream_t loom_dnnl_stream(struct loom_ctx *c);

/* Entries a context keeps at most; past it, putting one frees the least
 * recently used (a value got from the cache is valid until the next put). */
#define LOOM_DNNL_CACHE_MAX 64

/* The value cached under key, or NULL. */
void *loom_dnnl_cache_get(struct loom_ctx *c, const struct loom_dnnl_key *key);
/* Cache value under key; it is freed by free_fn when the context ends. On out
 * of memory frees value at once and returns false (recorded in c). */
bool loom_dnnl_cache_put(struct loom_ctx *c, const struct loom_dnnl_key *key, void *value,
                         void (*free_fn)(void *value));

/* Scratch memory for primitives (user scratchpad mode), grown as needed and
 * kept for the context's life. NULL on failure (recorded in c). */
void *loom_dnnl_scratch(struct loom_ctx *c, size_t bytes);

/* false (and c's error set with what and the oneDNN status) unless s ==
 * dnnl_success. */
bool loom_dnnl_ok(struct loom_ctx *c, dnnl_status_t s, const char *what);

/* true when oneDNN runs bfloat16 convolutions natively on this CPU
 * (AVX512-BF16 or AMX, as oneDNN detects it; DNNL_MAX_CPU_ISA can lower it).
 * Thread-safe. */
bool loom_dnnl_bf16(void);

void loom_dnnl_free(struct loom_dnnl *d);

#endif
