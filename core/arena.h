/*
 * arena.h — the step arena: a bump allocator for everything a training or
 * inference step creates (activations, temporaries, the tape). Reset after
 * the optimizer step. It grows by chained chunks when a step needs more than
 * it has; a reset then merges them into one chunk of the high-water size and
 * an eighth, so from the second step on a step of the same shape (or up to
 * an eighth larger) never calls malloc.
 * Not thread-safe: one arena per context (per thread).
 */
#ifndef LOOM_CORE_ARENA_H
#define LOOM_CORE_ARENA_H

#include "base.h"

struct loom_arena_chunk;

struct loom_arena {
    struct loom_arena_chunk *head; /* current chunk; older chunks follow ->next */
    size_t used_total;             /* bytes handed out since the last reset */
    size_t high_water;             /* largest used_total seen */
    size_t limit;                  /* 0 = unlimited; else refuse to grow past this */
};

void loom_arena_init(struct loom_arena *a, size_t initial_bytes);
void loom_arena_done(struct loom_arena *a);

/* 64-byte aligned, uninitialised; NULL if out of memory, a size overflow, or
 * past the limit. */
void *loom_arena_alloc(struct loom_arena *a, size_t bytes);
/* Same, zero-filled. */
void *loom_arena_calloc(struct loom_arena *a, size_t n, size_t size);

/* Forget every allocation; keep (and merge) the memory. */
void loom_arena_reset(struct loom_arena *a);

/* Chunks held and their total capacity in bytes (diagnostics, tests). */
int loom_arena_chunks(const struct loom_arena *a);
size_t loom_arena_capacity(const struct loom_arena *a);

/* A position to roll back to (for scratch inside one op). */
struct loom_arena_mark {
    struct loom_arena_chunk *chunk;
    size_t off;
    size_t used_total;
};
struct loom_arena_mark loom_arena_mark(const struct loom_arena *a);
void loom_arena_release(struct loom_arena *a, struct loom_arena_mark m);

#endif
