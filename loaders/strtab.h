/*
 * strtab.h — a string table: interned byte strings with a count each, found
 * through an open-addressing hash table (linear probing, power-of-two size,
 * load factor <= 1/2). The vocabulary, category codes and set labels are all
 * one of these: entry index == id. Strings live in one growing pool.
 * Not thread-safe while being written; const lookups may run concurrently.
 * Private to loaders/.
 */
#ifndef LOOM_LOADERS_STRTAB_H
#define LOOM_LOADERS_STRTAB_H

#include "core/base.h"

#define LOOM_STRTAB_MAX_ENTRIES (1 << 28)

struct loom_strtab_entry {
    size_t off;    /* in the pool */
    uint32_t len;  /* bytes */
    uint32_t hash; /* low bits index the slots; all of it screens memcmp */
    int64_t count; /* free for the user: occurrences while fitting */
};

struct loom_strtab {
    char *pool;
    size_t pool_len, pool_cap;
    struct loom_strtab_entry *e;
    int32_t n, cap;
    int32_t *slots; /* entry index, or -1 for empty */
    size_t nslots;  /* 0 or a power of two */
};

void loom_strtab_init(struct loom_strtab *t);
/* Frees everything; t is left initialised and empty. Accepts a NULL t. */
void loom_strtab_done(struct loom_strtab *t);

/* The index of s[0..len) or -1. */
int32_t loom_strtab_find(const struct loom_strtab *t, const char *s, size_t len);

/* The index of s[0..len), added (count 0) when absent; *added says which.
 * LOOM_ERR_LIMIT past LOOM_STRTAB_MAX_ENTRIES or for a string over 4 GiB,
 * LOOM_ERR_NOMEM. *idx and *added are written only on success. */
LOOM_WUR enum loom_status loom_strtab_intern(struct loom_strtab *t, const char *s, size_t len,
                                             int32_t *idx, bool *added, struct loom_error *err);

/* Entry i's bytes, *len of them, followed by a NUL (so a string without an
 * inner NUL is also a C string). */
static inline const char *loom_strtab_str(const struct loom_strtab *t, int32_t i, size_t *len)
{
    *len = t->e[i].len;
    return t->pool + t->e[i].off;
}

/* Append to dst the entries of src counted at least min_count times, most
 * frequent first, ties in byte order (so the result does not depend on the
 * order the values were seen in), at most max_keep of them (0: all);
 * entries already in dst are skipped. Copied counts are kept. */
LOOM_WUR enum loom_status loom_strtab_rank(const struct loom_strtab *src, int64_t min_count,
                                           size_t max_keep, struct loom_strtab *dst,
                                           struct loom_error *err);

#endif
