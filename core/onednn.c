/* onednn.c — oneDNN engine, stream, primitive cache (see onednn.h). */
#include <string.h>

#include "onednn.h"

struct cache_entry {
    struct loom_dnnl_key key;
    void *value;
    void (*free_fn)(void *);
    uint64_t used; /* the clock at its last get or put */
};

struct loom_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    struct cache_entry *entries;
    int n, cap;
    uint64_t clock;
    void *scratch;
    size_t scratch_bytes;
};

bool loom_dnnl_ok(struct loom_ctx *c, dnnl_status_t s, const char *what)
{
    if (s == dnnl_success) return true;
    static const char *const names[] = {
        [dnnl_success] = "success",
        [dnnl_out_of_memory] = "out of memory",
        [dnnl_invalid_arguments] = "invalid arguments",
        [dnnl_unimplemented] = "unimplemented",
        [dnnl_iterator_ends] = "iterator ends",
        [dnnl_runtime_error] = "runtime error",
        [dnnl_not_required] = "not required",
    };
    const char *n = (unsigned)s < LOOM_ARRAY_LEN(names) && names[s] ? names[s] : "unknown";
    loom_fail(c, s == dnnl_out_of_memory ? LOOM_ERR_NOMEM : LOOM_ERR_BACKEND,
              "oneDNN: %s: %s (status %d)", what, n, (int)s);
    return false;
}

static struct loom_dnnl *get(struct loom_ctx *c)
{
    if (c->dnnl) return c->dnnl;
    struct loom_dnnl *d = calloc(1, sizeof *d);
    if (!d) return loom_fail(c, LOOM_ERR_NOMEM, "oneDNN context: out of memory");
    if (!loom_dnnl_ok(c, dnnl_engine_create(&d->engine, dnnl_cpu, 0), "engine_create") ||
        !loom_dnnl_ok(c, dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags),
                      "stream_create")) {
        loom_dnnl_free(d);
        return NULL;
    }
    c->dnnl = d;
    return d;
}

dnnl_engine_t loom_dnnl_engine(struct loom_ctx *c)
{
    struct loom_dnnl *d = get(c);
    return d ? d->engine : NULL;
}

dnnl_stream_t loom_dnnl_stream(struct loom_ctx *c)
{
    struct loom_dnnl *d = get(c);
    return d ? d->stream : NULL;
}

void *loom_dnnl_cache_get(struct loom_ctx *c, const struct loom_dnnl_key *key)
{
    struct loom_dnnl *d = c->dnnl;
    if (!d) return NULL;
    /* At most LOOM_DNNL_CACHE_MAX shapes: a linear scan beats hashing here. */
    for (int i = d->n - 1; i >= 0; i--)
        if (memcmp(&d->entries[i].key, key, sizeof *key) == 0) {
            d->entries[i].used = ++d->clock;
            return d->entries[i].value;
        }
    return NULL;
}

bool loom_dnnl_cache_put(struct loom_ctx *c, const struct loom_dnnl_key *key, void *value,
                         void (*free_fn)(void *value))
{
    struct loom_dnnl *d = get(c);
    if (d && d->n == LOOM_DNNL_CACHE_MAX) {
        /* Full: the least recently used entry goes (a server that sees many
         * batch sizes must not grow without bound). */
        int old = 0;
        for (int i = 1; i < d->n; i++)
            if (d->entries[i].used < d->entries[old].used) old = i;
        d->entries[old].free_fn(d->entries[old].value);
        d->entries[old] = d->entries[--d->n];
    }
    if (d && d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 32;
        struct cache_entry *e = realloc(d->entries, (size_t)cap * sizeof *e);
        if (e) {
            d->entries = e;
            d->cap = cap;
        }
    }
    if (!d || d->n == d->cap) {
        free_fn(value);
        loom_fail(c, LOOM_ERR_NOMEM, "oneDNN primitive cache: out of memory");
        return false;
    }
    d->entries[d->n++] = (struct cache_entry){*key, value, free_fn, ++d->clock};
    return true;
}

void *loom_dnnl_scratch(struct loom_ctx *c, size_t bytes)
{
    struct loom_dnnl *d = get(c);
    if (!d) return NULL;
    if (bytes > d->scratch_bytes) {
        void *p = loom_aligned_alloc(bytes);
        if (!p) return loom_fail(c, LOOM_ERR_NOMEM, "oneDNN scratchpad: out of memory");
        free(d->scratch);
        d->scratch = p;
        d->scratch_bytes = bytes;
    }
    return d->scratch;
}

bool loom_dnnl_bf16(void)
{
    /* The ISA values are nested bit masks: AMX includes AVX512-BF16. */
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

void loom_dnnl_free(struct loom_dnnl *d)
{
    if (!d) return;
    for (int i = 0; i < d->n; i++) d->entries[i].free_fn(d->entries[i].value);
    free(d->entries);
    free(d->scratch);
    if (d->stream) dnnl_stream_destroy(d->stream);
    if (d->engine) dnnl_engine_destroy(d->engine);
    free(d);
}
