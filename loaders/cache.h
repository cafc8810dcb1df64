/*
 * cache.h — the dataset cache file: one binary file per (data file, split)
 * holding a preprocessed split's arrays (codes, token ids, normalised
 * numbers, resized 8-bit photos), so that later epochs and later runs skip
 * parsing and decoding.
 *
 * Layout (native little-endian; a byte-order mark refuses anything else):
 *   header, 64 bytes: magic "LOOMCACH", u32 version, u32 nsections,
 *     u64 key, u64 file size, u64 rows, u32 CRC-32 of bytes [64, end),
 *     u32 byte-order mark, u32 CRC-32 of the header's first 48 bytes, zeros;
 *   section table: nsections x {u32 kind, u32 column, u64 offset, u64 bytes,
 *     u64 0}; then the sections, each at a 64-byte aligned offset.
 * The key is a 64-bit hash of everything the contents depend on: the
 * schema's preprocessing settings, the fitted prep, the split, and the data
 * file's path, size and modification time. A reader checks magic, version,
 * byte order, key, file size, both checksums and every section's bounds
 * (overflow-checked) before handing the sections out; the dataset then
 * checks each section's size and values against the schema. Anything wrong
 * means "rebuild", never "trust".
 *
 * Writing is atomic: a temporary file in the same directory, fsync, rename
 * over the final name, fsync of the directory. Private to loaders/.
 */
#ifndef LOOM_LOADERS_CACHE_H
#define LOOM_LOADERS_CACHE_H

#include "dataset.h"

enum loom_cache_kind {
    LOOM_CACHE_LINES = 1,  /* int64 (n): CSV line of each row */
    LOOM_CACHE_IDOFF = 2,  /* int64 (n+1): id text offsets into IDPOOL */
    LOOM_CACHE_IDPOOL = 3, /* bytes of the id texts */
    LOOM_CACHE_REPORT = 4, /* the build pass's counts and first examples */
    LOOM_CACHE_BAD = 5,    /* the dropped photos (dataset_internal.h); only when some were */
    LOOM_CACHE_X = 10,     /* float (n, width) */
    LOOM_CACHE_PRESENT = 11,
    LOOM_CACHE_IDS = 12,     /* int32 (n, width) */
    LOOM_CACHE_LENGTHS = 13, /* int32 (n) */
    LOOM_CACHE_OFFSETS = 14, /* int64 (n+1) */
    LOOM_CACHE_PIXELS = 15,  /* uint8 (count, S, S, 3) */
};

struct loom_cache_section {
    uint32_t kind, col;
    const void *data; /* writing: the bytes; reading: into the mapping */
    uint64_t bytes;
};

/* The key of a split's cache (FNV-1a 64 over the settings listed above).
 * LOOM_ERR_IO when the data file cannot be stat'ed. */
LOOM_WUR enum loom_status loom_cache_key(const struct loom_schema *s, const struct loom_prep *p,
                                         enum loom_split split, uint64_t *key,
                                         struct loom_error *err);

/* The cache file's path (malloc'd): `.<data file name>.<split>.<key>.loomcache`
 * in dir, or beside the data file when dir is NULL. */
char *loom_cache_path(const struct loom_schema *s, const char *dir, enum loom_split split,
                      uint64_t key);

/* Write the sections atomically to path, then remove older caches of the
 * same data file and split in that directory. */
LOOM_WUR enum loom_status loom_cache_write(const char *path, uint64_t key, int64_t rows,
                                           const struct loom_cache_section *sec, int nsec,
                                           struct loom_error *err);

/* A mapped, checked cache file. */
struct loom_cache_map {
    void *base;
    size_t len;
    int64_t rows;
    struct loom_cache_section *sec; /* (nsec) */
    int nsec;
};

/* Map path read-only and check it as above; LOOM_ERR_IO when it cannot be
 * opened, LOOM_ERR_FORMAT when it is stale or damaged (the message says
 * which check failed). */
LOOM_WUR enum loom_status loom_cache_open(const char *path, uint64_t key, struct loom_cache_map *m,
                                          struct loom_error *err);
/* The section (kind, col), or NULL. */
const struct loom_cache_section *loom_cache_find(const struct loom_cache_map *m, uint32_t kind,
                                                 uint32_t col);
void loom_cache_close(struct loom_cache_map *m);

/* FNV-1a 64 over buf, continuing from h (start with LOOM_FNV_SEED). */
#define LOOM_FNV_SEED 0xcbf29ce484222325ULL
uint64_t loom_fnv1a(uint64_t h, const void *buf, size_t n);

#endif
