/* arena.c — the step arena (see arena.h). */
#include <string.h>

#include "arena.h"

struct loom_arena_chunk {
    struct loom_arena_chunk *next; /* older chunk */
    size_t cap;                    /* usable bytes in data[] */
    size_t off;                    /* bytes used */
    _Alignas(LOOM_ALIGN) unsigned char data[];
};

static struct loom_arena_chunk *chunk_new(size_t cap)
{
    size_t bytes;
    if (!loom_add_size(sizeof(struct loom_arena_chunk), cap, &bytes)) return NULL;
    struct loom_arena_chunk *ch = loom_aligned_alloc(bytes);
    if (!ch) return NULL;
    ch->next = NULL;
    ch->cap = cap;
    ch->off = 0;
    return ch;
}

void loom_arena_init(struct loom_arena *a, size_t initial_bytes)
{
    memset(a, 0, sizeof *a);
    if (initial_bytes) a->head = chunk_new(loom_align_up(initial_bytes, LOOM_ALIGN));
}

void loom_arena_done(struct loom_arena *a)
{
    if (!a) return;
    struct loom_arena_chunk *ch = a->head;
    while (ch) {
        struct loom_arena_chunk *next = ch->next;
        free(ch);
        ch = next;
    }
    memset(a, 0, sizeof *a);
}

void *loom_arena_alloc(struct loom_arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX / 2) return NULL;
    size_t need = loom_align_up(bytes ? bytes : 1, LOOM_ALIGN);
    struct loom_arena_chunk *ch = a->head;
    if (!ch || ch->cap - ch->off < need) {
        if (a->limit && a->used_total + need > a->limit) return NULL;
        /* Grow geometrically so a step needs few chunks even the first time. */
        size_t cap = ch ? ch->cap * 2 : ((size_t)1 << 20);
        /* a power-of-two multiple even for a large request, so what
         * follows it fits too (untouched pages cost no memory) */
        while (cap < need && cap <= SIZE_MAX / 4) cap *= 2;
        if (cap < need) cap = need;
        struct loom_arena_chunk *fresh = chunk_new(cap);
        if (!fresh) return NULL;
        fresh->next = ch;
        a->head = ch = fresh;
    }
    void *p = ch->data + ch->off;
    ch->off += need;
    a->used_total += need;
    if (a->used_total > a->high_water) a->high_water = a->used_total;
    return p;
}

void *loom_arena_calloc(struct loom_arena *a, size_t n, size_t size)
{
    size_t bytes;
    if (!loom_mul_size(n, size, &bytes)) return NULL;
    void *p = loom_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void loom_arena_reset(struct loom_arena *a)
{
    struct loom_arena_chunk *ch = a->head;
    if (ch && ch->next) {
        /* Several chunks were needed: replace them by one that holds the
         * high-water mark and an eighth more, so the next step of the same
         * shape fits, and so does one a little larger (a batch with a few
         * more photos): without the margin every such step maps a new
         * chunk, and the kernel zero-fills all its pages again. */
        size_t cap = loom_align_up(a->high_water + a->high_water / 8, LOOM_ALIGN);
        struct loom_arena_chunk *merged = chunk_new(cap);
        if (merged) {
            while (ch) {
                struct loom_arena_chunk *next = ch->next;
                free(ch);
                ch = next;
            }
            a->head = merged;
        } else {
            /* Keep the newest (largest) chunk; drop the older ones. */
            struct loom_arena_chunk *old = ch->next;
            ch->next = NULL;
            while (old) {
                struct loom_arena_chunk *next = old->next;
                free(old);
                old = next;
            }
        }
    }
    if (a->head) a->head->off = 0;
    a->used_total = 0;
}

struct loom_arena_mark loom_arena_mark(const struct loom_arena *a)
{
    struct loom_arena_mark m = {a->head, a->head ? a->head->off : 0, a->used_total};
    return m;
}

void loom_arena_release(struct loom_arena *a, struct loom_arena_mark m)
{
    /* Chunks added after the mark stay chained (freed at reset); only the
     * position moves back, which keeps release O(1) and safe. */
    if (a->head == m.chunk) {
        if (m.chunk) m.chunk->off = m.off;
        a->used_total = m.used_total;
    }
}

int loom_arena_chunks(const struct loom_arena *a)
{
    int n = 0;
    for (const struct loom_arena_chunk *ch = a->head; ch; ch = ch->next) n++;
    return n;
}

size_t loom_arena_capacity(const struct loom_arena *a)
{
    size_t n = 0;
    for (const struct loom_arena_chunk *ch = a->head; ch; ch = ch->next) n += ch->cap;
    return n;
}
