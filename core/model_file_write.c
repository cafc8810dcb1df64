/*
 * model_file_write.c — writing a model file (see model_file.h): plan the
 * layout and the canonical header, then stream the bytes to a temporary file
 * that is renamed over the target (or to memory). Reading is model_file.c.
 *
 * Layout: tensors grouped by element size (8, 4, 2, then 1 byte; the store's
 * params, then the moments, then the extras, each in their given order within
 * a group), so every tensor is aligned to its element size in the mapped
 * file. The header is the canonical JSON of loom_mf_header_json.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model_file_impl.h"

struct plan {
    struct loom_mf_tensor *t;      /* n entries, in the order given */
    struct loom_mf_tensor **order; /* n entries, in data order */
    char **owned;                  /* names made here (moments) */
    size_t n, nowned;
    struct loom_mf_meta *meta; /* sorted by key, the writer's keys included */
    size_t nmeta;
    char *extra_list;
    char crc[9];
    char *json; /* canonical header without padding (not NUL-terminated) */
    size_t json_len, pad, data_bytes;
};

static void plan_done(struct plan *p)
{
    for (size_t i = 0; i < p->nowned; i++) free(p->owned[i]);
    free(p->owned);
    free(p->t);
    free(p->order);
    free(p->meta);
    free(p->extra_list);
    free(p->json);
    memset(p, 0, sizeof *p);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const struct loom_mf_tensor *const *)a)->name,
                  (*(const struct loom_mf_tensor *const *)b)->name);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct loom_mf_meta *)a)->key, ((const struct loom_mf_meta *)b)->key);
}

static enum loom_status add_param(struct plan *p, const char *prefix, const struct loom_param *q,
                                  const float *data, struct loom_error *err)
{
    struct loom_mf_tensor *t = &p->t[p->n++];
    t->name = q->name;
    if (prefix) {
        size_t len = strlen(prefix) + strlen(q->name) + 1;
        char *s = malloc(len);
        if (!s) return loom_error_set(err, LOOM_ERR_NOMEM, "model file: out of memory");
        snprintf(s, len, "%s%s", prefix, q->name);
        t->name = p->owned[p->nowned++] = s;
    }
    t->dtype = LOOM_DTYPE_F32;
    t->ndim = q->t.ndim;
    memcpy(t->shape, q->t.shape, (size_t)q->t.ndim * sizeof *t->shape);
    t->data = data;
    if (!loom_mf_tensor_bytes(t->dtype, t->ndim, t->shape, &t->bytes))
        return loom_error_set(err, LOOM_ERR_INVALID, "model file: param %s: bad shape", q->name);
    return LOOM_OK;
}

/* Every tensor of the file, checked, named, sized and placed. */
static enum loom_status plan_tensors(struct plan *p, const struct loom_mf_save *w,
                                     struct loom_error *err)
{
    const struct loom_store *s = w->store;
    size_t nparams = s ? (size_t)s->n : 0, n = w->nextra;
    if (s && !s->finalized)
        return loom_error_set(err, LOOM_ERR_INVALID, "model file: store not finalized");
    if (w->nextra && !w->extra)
        return loom_error_set(err, LOOM_ERR_INVALID, "model file: extra tensors missing");
    n += nparams * (w->with_optim ? 3 : 1);
    if (n > LOOM_MF_DEFAULT_MAX_TENSORS)
        return loom_error_set(err, LOOM_ERR_LIMIT, "model file: %zu tensors (at most %zu)", n,
                              LOOM_MF_DEFAULT_MAX_TENSORS);
    p->t = calloc(n ? n : 1, sizeof *p->t);
    p->order = calloc(n ? n : 1, sizeof *p->order);
    p->owned = calloc(2 * nparams + 1, sizeof *p->owned);
    if (!p->t || !p->order || !p->owned)
        return loom_error_set(err, LOOM_ERR_NOMEM, "model file: out of memory");
    enum loom_status st = LOOM_OK;
    for (size_t i = 0; i < nparams && !st; i++) {
        const struct loom_param *q = s->params[i];
        if (!loom_mf_name_ok(q->name) || strncmp(q->name, "optim.", 6) == 0)
            return loom_error_set(err, LOOM_ERR_INVALID, "model file: bad param name \"%s\"",
                                  q->name);
        st = add_param(p, NULL, q, s->data + q->offset, err);
    }
    for (int k = 0; k < 2 && w->with_optim; k++)
        for (size_t i = 0; i < nparams && !st; i++)
            if (!s->params[i]->buffer)
                st = add_param(p, k ? LOOM_MF_OPTIM_V : LOOM_MF_OPTIM_M, s->params[i],
                               (k ? s->v : s->m) + s->params[i]->offset, err);
    if (st) return st;
    for (size_t i = 0; i < w->nextra; i++) {
        struct loom_mf_tensor *t = &p->t[p->n++];
        *t = w->extra[i];
        if (!t->name || !loom_mf_name_ok(t->name) || strncmp(t->name, "optim.", 6) == 0)
            return loom_error_set(err, LOOM_ERR_INVALID, "model file: bad extra tensor name");
        if (!loom_mf_tensor_bytes(t->dtype, t->ndim, t->shape, &t->bytes))
            return loom_error_set(err, LOOM_ERR_INVALID, "model file: extra %s: bad dtype or shape",
                                  t->name);
        if (t->bytes && !t->data)
            return loom_error_set(err, LOOM_ERR_INVALID, "model file: extra %s: no data", t->name);
    }
    for (size_t i = 0; i < p->n; i++) p->order[i] = &p->t[i];
    qsort(p->order, p->n, sizeof *p->order, cmp_name);
    for (size_t i = 1; i < p->n; i++)
        if (strcmp(p->order[i - 1]->name, p->order[i]->name) == 0)
            return loom_error_set(err, LOOM_ERR_INVALID, "model file: tensor %s given twice",
                                  p->order[i]->name);
    /* Place: 8-byte elements first, then 4, 2, 1, keeping every tensor aligned. */
    size_t pos = 0;
    for (size_t esize = 8; esize >= 1; esize /= 2)
        for (size_t i = 0; i < p->n; i++) {
            if (loom_dtype_size(p->t[i].dtype) != esize) continue;
            p->t[i].offset = pos;
            if (!loom_add_size(pos, p->t[i].bytes, &pos))
                return loom_error_set(err, LOOM_ERR_LIMIT, "model file: data too large");
        }
    p->data_bytes = pos;
    qsort(p->order, p->n, sizeof *p->order, loom_mf_cmp_offset);
    return LOOM_OK;
}

/* The metadata, sorted: the caller's, then "format", "format_version" and
 * "loom.extra_tensors" (the crc is added by plan_header). */
static enum loom_status plan_meta(struct plan *p, const struct loom_mf_save *w,
                                  struct loom_error *err)
{
    if (w->nmeta && !w->meta)
        return loom_error_set(err, LOOM_ERR_INVALID, "model file: metadata missing");
    if (w->nmeta > LOOM_MF_DEFAULT_MAX_METADATA - 4)
        return loom_error_set(err, LOOM_ERR_LIMIT, "model file: %zu metadata entries", w->nmeta);
    p->meta = calloc(w->nmeta + 4, sizeof *p->meta);
    size_t len = 1;
    for (size_t i = 0; i < w->nextra; i++) len += strlen(w->extra[i].name) + 1;
    p->extra_list = malloc(len);
    if (!p->meta || !p->extra_list)
        return loom_error_set(err, LOOM_ERR_NOMEM, "model file: out of memory");
    char *e = p->extra_list;
    for (size_t i = 0; i < w->nextra; i++) {
        size_t k = strlen(w->extra[i].name);
        if (i) *e++ = '\n';
        memcpy(e, w->extra[i].name, k);
        e += k;
    }
    *e = '\0';
    for (size_t i = 0; i < w->nmeta; i++) {
        const struct loom_mf_meta *m = &w->meta[i];
        if (!m->key || !m->value || !*m->key)
            return loom_error_set(err, LOOM_ERR_INVALID, "model file: metadata %zu incomplete", i);
        if (loom_mf_meta_reserved(m->key))
            return loom_error_set(err, LOOM_ERR_INVALID,
                                  "model file: metadata key %s is reserved for the writer", m->key);
        if (!loom_mf_utf8_ok(m->key, strlen(m->key)) ||
            !loom_mf_utf8_ok(m->value, strlen(m->value)))
            return loom_error_set(err, LOOM_ERR_INVALID, "model file: metadata %s: not UTF-8",
                                  m->key);
        p->meta[p->nmeta++] = *m;
    }
    p->meta[p->nmeta++] = (struct loom_mf_meta){LOOM_MF_KEY_FORMAT, "loom"};
    p->meta[p->nmeta++] = (struct loom_mf_meta){LOOM_MF_KEY_VERSION, "1"};
    _Static_assert(LOOM_MF_FORMAT_VERSION == 1, "keep the version string in step");
    p->meta[p->nmeta++] = (struct loom_mf_meta){LOOM_MF_KEY_EXTRA, p->extra_list};
    qsort(p->meta, p->nmeta, sizeof *p->meta, cmp_key);
    for (size_t i = 1; i < p->nmeta; i++)
        if (strcmp(p->meta[i - 1].key, p->meta[i].key) == 0)
            return loom_error_set(err, LOOM_ERR_INVALID, "model file: metadata key %s given twice",
                                  p->meta[i].key);
    return LOOM_OK;
}

struct grow {
    char *buf;
    size_t len, cap;
};

static bool grow_put(void *ctx, const void *p, size_t n)
{
    struct grow *g = ctx;
    if (n > g->cap - g->len) {
        size_t cap = g->cap ? g->cap : 4096;
        while (cap - g->len < n)
            if (!loom_mul_size(cap, 2, &cap)) return false;
        char *nb = realloc(g->buf, cap);
        if (!nb) return false;
        g->buf = nb, g->cap = cap;
    }
    memcpy(g->buf + g->len, p, n);
    g->len += n;
    return true;
}

/* The checksum, then the canonical JSON and its padding. */
static enum loom_status plan_header(struct plan *p, struct loom_error *err)
{
    const struct loom_mf_tensor *const *order = (const struct loom_mf_tensor *const *)p->order;
    uint32_t crc = loom_mf_checksum(order, p->n, p->meta, p->nmeta);
    snprintf(p->crc, sizeof p->crc, "%08x", (unsigned)crc);
    p->meta[p->nmeta++] = (struct loom_mf_meta){LOOM_MF_KEY_CRC, p->crc};
    qsort(p->meta, p->nmeta, sizeof *p->meta, cmp_key);
    struct grow g = {0};
    if (!loom_mf_header_json(order, p->n, p->meta, p->nmeta, grow_put, &g)) {
        free(g.buf);
        return loom_error_set(err, LOOM_ERR_NOMEM, "model file: out of memory (header)");
    }
    p->json = g.buf;
    p->json_len = g.len;
    p->pad = (8 - p->json_len % 8) % 8; /* the data start 8-byte aligned */
    if (p->json_len + p->pad > LOOM_MF_DEFAULT_MAX_HEADER)
        return loom_error_set(err, LOOM_ERR_LIMIT, "model file: header of %zu bytes (at most %zu)",
                              p->json_len, LOOM_MF_DEFAULT_MAX_HEADER);
    return LOOM_OK;
}

static enum loom_status plan_make(struct plan *p, const struct loom_mf_save *w,
                                  struct loom_error *err)
{
    memset(p, 0, sizeof *p);
    if (!w) return loom_error_set(err, LOOM_ERR_INVALID, "model file: nothing to save");
    enum loom_status st = plan_tensors(p, w, err);
    if (!st) st = plan_meta(p, w, err);
    if (!st) st = plan_header(p, err);
    if (st) plan_done(p);
    return st;
}

/* ---- output: a buffered file descriptor, or memory ---- */

struct sink {
    int fd; /* -1: memory */
    unsigned char *buf;
    size_t len, cap;
    int errnum;
};

static bool write_all(int fd, const unsigned char *p, size_t n, int *errnum)
{
    while (n) {
        ssize_t k = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            *errnum = k < 0 ? errno : EIO;
            return false;
        }
        p += k, n -= (size_t)k;
    }
    return true;
}

static bool sink_flush(struct sink *k)
{
    bool ok = k->fd < 0 || k->errnum || write_all(k->fd, k->buf, k->len, &k->errnum);
    if (k->fd >= 0) k->len = 0;
    return ok && !k->errnum;
}

static bool sink_put(struct sink *k, const void *p, size_t n)
{
    if (k->errnum) return false;
    if (n == 0) return true;
    if (k->fd >= 0 && n > k->cap - k->len) {
        if (!sink_flush(k)) return false;
        if (n >= k->cap) return write_all(k->fd, p, n, &k->errnum);
    }
    LOOM_ASSERT(n <= k->cap - k->len);
    memcpy(k->buf + k->len, p, n);
    k->len += n;
    return true;
}

/* The crash-safety test's hook (tests/cli/test_crash.c): with
 * LOOM_TEST_SAVE_PAUSE_MS=N in the environment, a save to a file sleeps N ms
 * with half of the tensors written to the temporary file, and N ms more
 * between its fsync and the rename, so that a SIGKILL can be aimed at a
 * checkpoint being written. Nothing else reads it; unset, it costs a getenv
 * per save. */
static void test_pause(void)
{
    const char *v = getenv("LOOM_TEST_SAVE_PAUSE_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms <= 0 || ms > 10000) return;
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool emit(struct sink *k, const struct plan *p)
{
    uint64_t hlen = p->json_len + p->pad;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hlen >> (8 * i));
    bool ok =
        sink_put(k, le, 8) && sink_put(k, p->json, p->json_len) && sink_put(k, "        ", p->pad);
    for (size_t i = 0; ok && i < p->n; i++) {
        if (k->fd >= 0 && i == p->n / 2 && (ok = sink_flush(k))) test_pause();
        ok = ok && sink_put(k, p->order[i]->data, p->order[i]->bytes);
    }
    return ok && sink_flush(k);
}

static size_t file_size(const struct plan *p)
{
    return 8 + p->json_len + p->pad + p->data_bytes; /* cannot overflow: data_bytes was checked
                                                        and the header is <= 64 MiB */
}

enum loom_status loom_model_file_to_memory(const struct loom_mf_save *what, void **data,
                                           size_t *size, struct loom_error *err)
{
    struct plan p;
    enum loom_status st = plan_make(&p, what, err);
    if (st) return st;
    if (p.data_bytes > SIZE_MAX - 8 - LOOM_MF_DEFAULT_MAX_HEADER) {
        plan_done(&p);
        return loom_error_set(err, LOOM_ERR_LIMIT, "model file: data too large");
    }
    struct sink k = {.fd = -1, .cap = file_size(&p)};
    k.buf = malloc(k.cap);
    if (!k.buf) {
        plan_done(&p);
        return loom_error_set(err, LOOM_ERR_NOMEM, "model file: out of memory (%zu bytes)", k.cap);
    }
    bool ok = emit(&k, &p);
    LOOM_ASSERT(ok && k.len == k.cap);
    *data = k.buf;
    *size = k.len;
    plan_done(&p);
    return LOOM_OK;
}

static enum loom_status io_fail(struct loom_error *err, const char *path, const char *what, int e)
{
    return loom_error_set_at(err, LOOM_ERR_IO, path, 0, 0, "%s: %s: %s", path, what, strerror(e));
}

/* fsync the directory holding path, so that the rename itself is durable. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e = 0;
    if (fd < 0 || fsync(fd) != 0) e = errno;
    if (fd >= 0) close(fd);
    free(dir);
    return e;
}

enum loom_status loom_model_file_save(const char *path, const struct loom_mf_save *what,
                                      struct loom_error *err)
{
    if (!path || !*path) return loom_error_set(err, LOOM_ERR_INVALID, "model file: no path");
    struct plan p;
    enum loom_status st = plan_make(&p, what, err);
    if (st) return st;
    /* "dir/.name.tmp-XXXXXX": same directory, so rename is atomic. */
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path + 1) : 0, len = strlen(path) + 16;
    char *tmp = malloc(len);
    struct sink k = {.fd = -1, .cap = (size_t)1 << 20};
    k.buf = malloc(k.cap);
    if (!tmp || !k.buf) {
        st = loom_error_set(err, LOOM_ERR_NOMEM, "model file: out of memory");
        goto done;
    }
    snprintf(tmp, len, "%.*s.%s.tmp-XXXXXX", (int)dlen, path, path + dlen);
    k.fd = mkostemp(tmp, O_CLOEXEC);
    if (k.fd < 0) {
        st = io_fail(err, path, "cannot create a temporary file", errno);
        goto done;
    }
    if (fchmod(k.fd, 0644) != 0 || !emit(&k, &p) || fsync(k.fd) != 0) {
        st = io_fail(err, path, "write", k.errnum ? k.errnum : errno);
        goto unlink;
    }
    int fd = k.fd;
    k.fd = -1;
    if (close(fd) != 0) {
        st = io_fail(err, path, "write", errno);
        goto unlink;
    }
    test_pause();
    if (rename(tmp, path) != 0) {
        st = io_fail(err, path, "rename", errno);
        goto unlink;
    }
    int e = sync_dir(path);
    if (e) st = io_fail(err, path, "fsync of its directory", e);
    goto done;
unlink:
    if (k.fd >= 0) close(k.fd);
    k.fd = -1;
    unlink(tmp);
done:
    free(tmp);
    free(k.buf);
    plan_done(&p);
    return st;
}
