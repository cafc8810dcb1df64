/* cache.c — the dataset cache file: key, atomic write, checked mapping (cache.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cache.h"
#include "rows.h"

#define MAGIC        "LOOMCACH"
#define VERSION      1u
#define BOM          0x01020304u
#define HEADER_BYTES 64
#define ENTRY_BYTES  32
#define MAX_SECTIONS 4096

uint64_t loom_fnv1a(uint64_t h, const void *buf, size_t n)
{
    const uint8_t *b = buf;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t h64(uint64_t h, uint64_t v)
{
    return loom_fnv1a(h, &v, sizeof v);
}

static uint64_t hstr(uint64_t h, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    h = h64(h, s ? n : UINT64_MAX);
    return loom_fnv1a(h, s, n);
}

static uint64_t hdbl(uint64_t h, double d)
{
    return loom_fnv1a(h, &d, sizeof d);
}

/* The schema's settings that change a preprocessed split (besides the prep,
 * hashed whole). Thresholds are not here: they are checked again on every
 * open against the counts the cache keeps. */
static uint64_t hash_schema(uint64_t h, const struct loom_schema *s, enum loom_split split)
{
    h = h64(h, (uint64_t)split);
    h = hstr(h, s->data.images);
    h = h64(h, (uint64_t)(uint8_t)s->data.csv.delimiter);
    h = h64(h, (uint64_t)s->data.split.enabled);
    if (s->data.split.enabled) {
        h = hdbl(h, s->data.split.valid);
        h = h64(h, (uint64_t)s->data.split.seed);
    }
    h = h64(h, (uint64_t)s->ncolumns);
    for (int i = 0; i < s->ncolumns; i++) {
        const struct loom_schema_column *c = &s->columns[i];
        h = hstr(h, c->name);
        h = h64(h, (uint64_t)c->type);
        switch (c->type) {
        case LOOM_COL_NUMBER:
            h = h64(h, (uint64_t)c->number.transform);
            h = h64(h, (uint64_t)c->number.missing);
            break;
        case LOOM_COL_IMAGES:
            h = h64(h, (uint64_t)(uint8_t)c->images.separator);
            break;
        case LOOM_COL_SET:
            h = h64(h, (uint64_t)(uint8_t)c->set.separator);
            break;
        case LOOM_COL_VECTOR:
            h = h64(h, (uint64_t)(uint8_t)c->vector.separator);
            break;
        default: /* the rest is in the prep (codes, vocabularies, sizes) */
            break;
        }
    }
    return h;
}

enum loom_status loom_cache_key(const struct loom_schema *s, const struct loom_prep *p,
                                enum loom_split split, uint64_t *key, struct loom_error *err)
{
    uint64_t h = h64(LOOM_FNV_SEED, VERSION);
    h = hash_schema(h, s, split);
    uint8_t *blob = NULL;
    size_t n = 0;
    enum loom_status st = loom_prep_save(p, &blob, &n, err);
    if (st != LOOM_OK) return st;
    h = h64(h, n);
    h = loom_fnv1a(h, blob, n);
    free(blob);
    /* The data files: the split's, and the training file the prep came
     * from (already in the prep's contents, but cheap). */
    const char *files[2] = {loom_split_path(s, split), s->data.train};
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        if (!files[i] || stat(files[i], &sb) != 0)
            return loom_error_set_at(err, LOOM_ERR_IO, files[i] ? files[i] : "", 0, 0,
                                     "cannot stat %s: %s", files[i] ? files[i] : "(none)",
                                     strerror(errno));
        h = hstr(h, files[i]);
        h = h64(h, (uint64_t)sb.st_size);
        h = h64(h, (uint64_t)sb.st_mtim.tv_sec);
        h = h64(h, (uint64_t)sb.st_mtim.tv_nsec);
        h = h64(h, (uint64_t)sb.st_ino);
    }
    *key = h ^ (h >> 29); /* fold the weak low bits of FNV's last multiply */
    return LOOM_OK;
}

static const char *split_name(enum loom_split split)
{
    return split == LOOM_SPLIT_TRAIN ? "train" : split == LOOM_SPLIT_VALID ? "valid" : "test";
}

/* The directory (malloc'd) and base name of path. */
static char *split_dir(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *loom_cache_path(const struct loom_schema *s, const char *dir, enum loom_split split,
                      uint64_t key)
{
    const char *data = loom_split_path(s, split), *base;
    if (!data) return NULL;
    char *d = split_dir(data, &base);
    if (!d) return NULL;
    char *out = NULL;
    if (asprintf(&out, "%s/.%s.%s.%016llx.loomcache", dir ? dir : d, base, split_name(split),
                 (unsigned long long)key) < 0)
        out = NULL;
    free(d);
    return out;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Remove caches of the same data file and split other than keep. */
static void remove_stale(const char *keep)
{
    const char *base;
    char *dir = split_dir(keep, &base);
    if (!dir) return;
    /* ".<data>.<split>." is base without its "<key>.loomcache" tail. */
    size_t plen = strlen(base) - strlen("0123456789abcdef.loomcache");
    DIR *dh = opendir(dir);
    struct dirent *e;
    while (dh && (e = readdir(dh))) {
        size_t n = strlen(e->d_name);
        if (n != strlen(base) || strncmp(e->d_name, base, plen) != 0 ||
            strcmp(e->d_name, base) == 0 || strcmp(e->d_name + n - 10, ".loomcache") != 0)
            continue;
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, e->d_name) >= 0) {
            unlink(p);
            free(p);
        }
    }
    if (dh) closedir(dh);
    free(dir);
}

enum loom_status loom_cache_write(const char *path, uint64_t key, int64_t rows,
                                  const struct loom_cache_section *sec, int nsec,
                                  struct loom_error *err)
{
    LOOM_ASSERT(nsec >= 0 && nsec <= MAX_SECTIONS);
    enum loom_status st = LOOM_OK;
    size_t tlen = (size_t)nsec * ENTRY_BYTES;
    uint8_t *table = calloc(1, tlen ? tlen : 1);
    char *tmp = NULL;
    int fd = -1;
    if (!table || asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
        tmp = NULL;
        st = loom_error_set(err, LOOM_ERR_NOMEM, "out of memory writing the cache");
        goto fail;
    }
    uint64_t off = loom_align_up(HEADER_BYTES + tlen, LOOM_ALIGN);
    for (int i = 0; i < nsec; i++) {
        uint8_t *e = table + (size_t)i * ENTRY_BYTES;
        put_le(e, sec[i].kind, 4);
        put_le(e + 4, sec[i].col, 4);
        put_le(e + 8, off, 8);
        put_le(e + 16, sec[i].bytes, 8);
        off = loom_align_up(off + sec[i].bytes, LOOM_ALIGN);
    }
    uint64_t size = off;
    fd = mkstemp(tmp);
    if (fd < 0) {
        st = loom_error_set_at(err, LOOM_ERR_IO, path, 0, 0, "cannot create %s: %s", tmp,
                               strerror(errno));
        free(tmp);
        tmp = NULL;
        goto fail;
    }
    static const uint8_t zeros[LOOM_ALIGN];
    uint8_t hdr[HEADER_BYTES] = {0};
    bool ok = write_all(fd, hdr, sizeof hdr) && write_all(fd, table, tlen);
    uLong crc = crc32(0L, table, (uInt)tlen);
    uint64_t pos = HEADER_BYTES + tlen;
    for (int i = 0; ok && i <= nsec; i++) {
        uint64_t at = i < nsec ? get_le(table + (size_t)i * ENTRY_BYTES + 8, 8) : size;
        size_t pad = (size_t)(at - pos);
        ok = write_all(fd, zeros, pad);
        crc = crc32(crc, zeros, (uInt)pad);
        pos = at;
        if (i == nsec || !ok) break;
        const uint8_t *p = sec[i].data;
        for (uint64_t left = sec[i].bytes; ok && left;) {
            size_t n = left > ((uint64_t)1 << 30) ? (size_t)1 << 30 : (size_t)left;
            ok = write_all(fd, p, n);
            crc = crc32(crc, p, (uInt)n);
            p += n;
            left -= n;
        }
        pos += sec[i].bytes;
    }
    memcpy(hdr, MAGIC, 8);
    put_le(hdr + 8, VERSION, 4);
    put_le(hdr + 12, (uint64_t)nsec, 4);
    put_le(hdr + 16, key, 8);
    put_le(hdr + 24, size, 8);
    put_le(hdr + 32, (uint64_t)rows, 8);
    put_le(hdr + 40, crc, 4);
    uint32_t bom = BOM;
    memcpy(hdr + 44, &bom, 4); /* native order: a reader of the other order refuses it */
    put_le(hdr + 48, crc32(0L, hdr, 48), 4);
    ok = ok && pwrite(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr && fsync(fd) == 0;
    if (close(fd) != 0) ok = false;
    fd = -1;
    if (!ok || rename(tmp, path) != 0) {
        st = loom_error_set_at(err, LOOM_ERR_IO, path, 0, 0, "cannot write the cache %s: %s", path,
                               strerror(errno));
        unlink(tmp);
        goto fail;
    }
    const char *base;
    char *dir = split_dir(path, &base);
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(dir);
    remove_stale(path);
fail:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    free(table);
    return st;
}

static enum loom_status damaged(struct loom_error *err, const char *path, const char *what)
{
    return loom_error_set_at(err, LOOM_ERR_FORMAT, path, 0, 0, "cache %s: %s", path, what);
}

enum loom_status loom_cache_open(const char *path, uint64_t key, struct loom_cache_map *m,
                                 struct loom_error *err)
{
    *m = (struct loom_cache_map){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return loom_error_set_at(err, LOOM_ERR_IO, path, 0, 0, "cannot open %s: %s", path,
                                 strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < HEADER_BYTES ||
        (uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return damaged(err, path, "not a regular file of at least a header's size");
    }
    size_t len = (size_t)sb.st_size;
    void *base = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return loom_error_set_at(err, LOOM_ERR_IO, path, 0, 0, "cannot map %s: %s", path,
                                 strerror(errno));
    m->base = base;
    m->len = len;
    const uint8_t *h = base;
    uint32_t bom;
    memcpy(&bom, h + 44, 4);
    enum loom_status st = LOOM_OK;
    uint64_t nsec = get_le(h + 12, 4), tlen = nsec * ENTRY_BYTES;
    if (memcmp(h, MAGIC, 8) != 0)
        st = damaged(err, path, "bad magic");
    else if (get_le(h + 48, 4) != crc32(0L, h, 48))
        st = damaged(err, path, "header checksum mismatch");
    else if (get_le(h + 8, 4) != VERSION || bom != BOM)
        st = damaged(err, path, "another format version or byte order");
    else if (get_le(h + 16, 8) != key)
        st = damaged(err, path, "stale (its key differs)");
    else if (get_le(h + 24, 8) != len)
        st = damaged(err, path, "its size differs from the header's (truncated?)");
    else if (get_le(h + 32, 8) > INT64_MAX / 2 || nsec > MAX_SECTIONS || HEADER_BYTES + tlen > len)
        st = damaged(err, path, "bad row or section count");
    else if (get_le(h + 40, 4) != crc32_z(0L, h + HEADER_BYTES, len - HEADER_BYTES))
        st = damaged(err, path, "contents checksum mismatch");
    if (st != LOOM_OK) goto fail;
    m->rows = (int64_t)get_le(h + 32, 8);
    m->nsec = (int)nsec;
    m->sec = calloc(nsec ? nsec : 1, sizeof *m->sec);
    if (!m->sec) {
        st = loom_error_set(err, LOOM_ERR_NOMEM, "out of memory reading the cache");
        goto fail;
    }
    for (uint64_t i = 0; i < nsec; i++) {
        const uint8_t *e = h + HEADER_BYTES + i * ENTRY_BYTES;
        uint64_t off = get_le(e + 8, 8), bytes = get_le(e + 16, 8), end;
        if (off % LOOM_ALIGN || off < HEADER_BYTES + tlen ||
            __builtin_add_overflow(off, bytes, &end) || end > len) {
            st = damaged(err, path, "a section lies outside the file");
            goto fail;
        }
        m->sec[i] = (struct loom_cache_section){(uint32_t)get_le(e, 4), (uint32_t)get_le(e + 4, 4),
                                                h + off, bytes};
    }
    return LOOM_OK;
fail:
    loom_cache_close(m);
    return st;
}

const struct loom_cache_section *loom_cache_find(const struct loom_cache_map *m, uint32_t kind,
                                                 uint32_t col)
{
    for (int i = 0; i < m->nsec; i++)
        if (m->sec[i].kind == kind && m->sec[i].col == col) return &m->sec[i];
    return NULL;
}

void loom_cache_close(struct loom_cache_map *m)
{
    if (m->base) munmap(m->base, m->len);
    free(m->sec);
    *m = (struct loom_cache_map){0};
}
