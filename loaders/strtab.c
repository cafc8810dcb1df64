/* strtab.c — interned strings with an open-addressing hash index (strtab.h). */
#include <string.h>

#include "strtab.h"

static uint32_t hash_bytes(const char *s, size_t len)
{
    /* FNV-1a, then a murmur3 finaliser so the low bits used as the slot
     * index depend on every byte. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (uint32_t)h;
}

void loom_strtab_init(struct loom_strtab *t)
{
    *t = (struct loom_strtab){0};
}

void loom_strtab_done(struct loom_strtab *t)
{
    if (!t) return;
    free(t->pool);
    free(t->e);
    free(t->slots);
    loom_strtab_init(t);
}

static int32_t probe(const struct loom_strtab *t, const char *s, size_t len, uint32_t h,
                     size_t *slot)
{
    size_t mask = t->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int32_t k = t->slots[i];
        if (k < 0) {
            *slot = i;
            return -1;
        }
        const struct loom_strtab_entry *e = &t->e[k];
        if (e->hash == h && e->len == len && (len == 0 || memcmp(t->pool + e->off, s, len) == 0)) {
            *slot = i;
            return k;
        }
    }
}

int32_t loom_strtab_find(const struct loom_strtab *t, const char *s, size_t len)
{
    if (t->nslots == 0 || len > UINT32_MAX) return -1;
    size_t slot;
    return probe(t, s, len, hash_bytes(s, len), &slot);
}

static bool grow_slots(struct loom_strtab *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 64, bytes;
    if (!loom_mul_size(n, sizeof(int32_t), &bytes)) return false;
    int32_t *slots = malloc(bytes);
    if (!slots) return false;
    memset(slots, 0xff, bytes); /* -1 */
    for (int32_t k = 0; k < t->n; k++) {
        size_t i = t->e[k].hash & (n - 1);
        while (slots[i] >= 0) i = (i + 1) & (n - 1);
        slots[i] = k;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return true;
}

static bool reserve_pool(struct loom_strtab *t, size_t more)
{
    size_t need;
    if (!loom_add_size(t->pool_len, more, &need)) return false;
    if (need <= t->pool_cap) return true;
    size_t cap = t->pool_cap ? t->pool_cap : 1024;
    while (cap < need)
        if (!loom_mul_size(cap, 2, &cap)) return false;
    char *p = realloc(t->pool, cap);
    if (!p) return false;
    t->pool = p;
    t->pool_cap = cap;
    return true;
}

enum loom_status loom_strtab_intern(struct loom_strtab *t, const char *s, size_t len, int32_t *idx,
                                    bool *added, struct loom_error *err)
{
    if (len > UINT32_MAX)
        return loom_error_set(err, LOOM_ERR_LIMIT, "a value of %zu bytes is too long", len);
    uint32_t h = hash_bytes(s, len);
    size_t slot = 0;
    int32_t k = t->nslots ? probe(t, s, len, h, &slot) : -1;
    if (k >= 0) {
        *idx = k;
        *added = false;
        return LOOM_OK;
    }
    if (t->n >= LOOM_STRTAB_MAX_ENTRIES)
        return loom_error_set(err, LOOM_ERR_LIMIT, "more than %d distinct values",
                              LOOM_STRTAB_MAX_ENTRIES);
    if ((size_t)(t->n + 1) * 2 > t->nslots) {
        if (!grow_slots(t)) goto nomem;
        probe(t, s, len, h, &slot);
    }
    if (t->n == t->cap) {
        int32_t cap = t->cap ? t->cap * 2 : 64;
        struct loom_strtab_entry *e = realloc(t->e, (size_t)cap * sizeof *e);
        if (!e) goto nomem;
        t->e = e;
        t->cap = cap;
    }
    if (!reserve_pool(t, len + 1)) goto nomem; /* len <= UINT32_MAX: checked above */
    if (len) memcpy(t->pool + t->pool_len, s, len);
    t->pool[t->pool_len + len] = '\0'; /* strings can be handed out as C strings */
    t->e[t->n] = (struct loom_strtab_entry){t->pool_len, (uint32_t)len, h, 0};
    t->pool_len += len + 1;
    t->slots[slot] = t->n;
    *idx = t->n++;
    *added = true;
    return LOOM_OK;
nomem:
    return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory interning a value");
}

/* Each element carries its string: C11's qsort passes no context. */
struct ranked {
    int64_t count;
    const char *s;
    uint32_t len;
};

static int by_rank(const void *pa, const void *pb)
{
    const struct ranked *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    uint32_t n = LOOM_MIN(a->len, b->len);
    int c = n ? memcmp(a->s, b->s, n) : 0;
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

enum loom_status loom_strtab_rank(const struct loom_strtab *src, int64_t min_count, size_t max_keep,
                                  struct loom_strtab *dst, struct loom_error *err)
{
    enum loom_status st = LOOM_OK;
    struct ranked *r = malloc(((size_t)src->n + 1) * sizeof *r);
    if (!r) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory ranking values");
    size_t m = 0;
    for (int32_t k = 0; k < src->n; k++) {
        const struct loom_strtab_entry *e = &src->e[k];
        if (e->count >= min_count) r[m++] = (struct ranked){e->count, src->pool + e->off, e->len};
    }
    qsort(r, m, sizeof *r, by_rank);
    size_t kept = 0;
    for (size_t i = 0; i < m && (max_keep == 0 || kept < max_keep); i++) {
        int32_t idx = -1;
        bool added = false;
        if ((st = loom_strtab_intern(dst, r[i].s, r[i].len, &idx, &added, err)) != LOOM_OK) break;
        if (!added) continue;
        dst->e[idx].count = r[i].count;
        kept++;
    }
    free(r);
    return st;
}
