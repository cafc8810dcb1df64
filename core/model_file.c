/*
 * model_file.c — reading a model file (see model_file.h): map it, validate
 * every byte before trusting any, give access to tensors and metadata, copy
 * into a parameter store. Writing is model_file_write.c.
 *
 * Order of checks (each failure names the field, or the checksum): the header
 * length against the limit and the file size (before any allocation), the
 * space padding, the JSON's nesting and size (a pre-scan, so a hostile header
 * cannot make jansson's tree many times larger than itself), the JSON itself,
 * "format" and "format_version" (before anything a newer version might
 * change), every entry, the offsets, the extra tensor list, the canonical form
 * of the header, the checksum.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_file_impl.h"

struct loom_model_file {
    const unsigned char *base; /* the whole file */
    size_t size;
    void *map; /* base, when mapped here */
    json_t *root;
    struct loom_mf_tensor *t; /* n, in offset order; names point into root */
    size_t n;
    const struct loom_mf_tensor **by_name;
    struct loom_mf_meta *meta; /* sorted by key */
    size_t nmeta;
};

/* Where messages come from: a path, or "model file" for memory. */
struct src {
    const char *path; /* NULL for memory */
    struct loom_mf_limits lim;
    struct loom_error *err;
};

__attribute__((format(printf, 3, 4))) static enum loom_status
bad(const struct src *s, enum loom_status code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return loom_error_set_at(s->err, code, s->path ? s->path : "", 0, 0, "%s: %s",
                             s->path ? s->path : "model file", msg);
}

static uint64_t read_le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

/* The header length N, checked against the limit and the file size. */
static enum loom_status header_len(const struct src *s, const unsigned char *first8, size_t size,
                                   size_t *out)
{
    if (size < 8)
        return bad(s, LOOM_ERR_FORMAT, "file of %zu bytes has no 8-byte header length", size);
    uint64_t n = read_le64(first8);
    if (n > s->lim.max_header)
        return bad(s, LOOM_ERR_LIMIT, "header length %llu exceeds the limit of %zu bytes",
                   (unsigned long long)n, s->lim.max_header);
    if (n > size - 8)
        return bad(s, LOOM_ERR_FORMAT, "header length %llu is larger than the file (%zu bytes)",
                   (unsigned long long)n, size);
    if (n < 2 || n % 8 != 0)
        return bad(s, LOOM_ERR_FORMAT, "header length %llu is not a positive multiple of 8",
                   (unsigned long long)n);
    *out = (size_t)n;
    return LOOM_OK;
}

/* Before jansson: at most 3 levels (root, entry, shape) and a bounded number
 * of values. Malformed JSON is left to jansson, which gives line and column. */
static enum loom_status prescan(const struct src *s, const char *h, size_t n)
{
    size_t max_tokens = 16 * (s->lim.max_tensors + s->lim.max_metadata) + 16, tokens = 0;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        switch (h[i]) {
        case '"':
            for (i++; i < n && h[i] != '"'; i++) i += h[i] == '\\';
            break;
        case '{':
        case '[':
            if (++depth > 3)
                return bad(s, LOOM_ERR_FORMAT, "header nested deeper than 3 levels (byte %zu)",
                           8 + i);
            break;
        case '}':
        case ']':
            depth--;
            break;
        case ',':
        case ':':
            if (++tokens > max_tokens)
                return bad(s, LOOM_ERR_LIMIT, "header has more than %zu values", max_tokens);
            break;
        }
    }
    return LOOM_OK;
}

static enum loom_status check_version(const struct src *s, json_t *meta)
{
    const char *f = json_string_value(json_object_get(meta, LOOM_MF_KEY_FORMAT));
    if (!f || strcmp(f, "loom") != 0)
        return bad(s, LOOM_ERR_FORMAT, "not a loom model file (metadata \"format\" is %s%s%s)",
                   f ? "\"" : "", f ? f : "missing", f ? "\"" : "");
    const char *v = json_string_value(json_object_get(meta, LOOM_MF_KEY_VERSION));
    size_t len = v ? strlen(v) : 0;
    bool digits = len > 0 && len <= 9 && v[0] != '0';
    for (size_t i = 0; digits && i < len; i++) digits = v[i] >= '0' && v[i] <= '9';
    if (!digits) return bad(s, LOOM_ERR_FORMAT, "metadata \"format_version\" is not a version");
    long version = strtol(v, NULL, 10);
    if (version > LOOM_MF_FORMAT_VERSION)
        return bad(s, LOOM_ERR_UNSUPPORTED, "unsupported format version %ld (this loom reads %d)",
                   version, LOOM_MF_FORMAT_VERSION);
    return LOOM_OK;
}

static enum loom_status read_meta(const struct src *s, struct loom_model_file *mf, json_t *meta)
{
    if (!json_is_object(meta))
        return bad(s, LOOM_ERR_FORMAT, "no \"__metadata__\" object: not a loom model file");
    size_t n = json_object_size(meta);
    if (n > s->lim.max_metadata)
        return bad(s, LOOM_ERR_LIMIT, "%zu metadata entries (limit %zu)", n, s->lim.max_metadata);
    const char *key;
    json_t *v;
    json_object_foreach(meta, key, v) if (!json_is_string(v)) return bad(
        s, LOOM_ERR_FORMAT, "metadata %s is not a string", key);
    enum loom_status st = check_version(s, meta);
    if (st) return st;
    mf->meta = calloc(n ? n : 1, sizeof *mf->meta);
    if (!mf->meta) return bad(s, LOOM_ERR_NOMEM, "out of memory");
    json_object_foreach(meta, key, v) mf->meta[mf->nmeta++] =
        (struct loom_mf_meta){key, json_string_value(v)};
    return LOOM_OK;
}

static bool int_ok(json_t *j)
{
    return json_is_integer(j) && json_integer_value(j) >= 0;
}

/* One tensor entry: exactly dtype, shape and data_offsets, consistent with
 * each other and inside the data region of data_len bytes. */
static enum loom_status read_entry(const struct src *s, const char *name, json_t *e,
                                   size_t data_len, struct loom_mf_tensor *t)
{
    if (!loom_mf_name_ok(name))
        return bad(s, LOOM_ERR_FORMAT, "a tensor name is empty or has control characters");
    json_t *dtype = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape");
    json_t *offs = json_object_get(e, "data_offsets");
    if (!json_is_object(e) || json_object_size(e) != 3 || !dtype || !shape || !offs)
        return bad(s, LOOM_ERR_FORMAT,
                   "tensor %s: not an object of exactly dtype, shape and data_offsets", name);
    t->name = name;
    if (!json_is_string(dtype) || !loom_mf_dtype_parse(json_string_value(dtype), &t->dtype))
        return bad(s, LOOM_ERR_FORMAT, "tensor %s: unknown dtype", name);
    if (!json_is_array(shape) || json_array_size(shape) > LOOM_MF_MAX_DIMS)
        return bad(s, LOOM_ERR_FORMAT, "tensor %s: shape is not an array of at most %d dims", name,
                   LOOM_MF_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    for (int d = 0; d < t->ndim; d++) {
        json_t *j = json_array_get(shape, (size_t)d);
        if (!int_ok(j))
            return bad(s, LOOM_ERR_FORMAT, "tensor %s: dim %d is not a non-negative integer", name,
                       d);
        t->shape[d] = json_integer_value(j);
    }
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !int_ok(json_array_get(offs, 0)) ||
        !int_ok(json_array_get(offs, 1)))
        return bad(s, LOOM_ERR_FORMAT, "tensor %s: data_offsets is not [begin, end]", name);
    uint64_t b = (uint64_t)json_integer_value(json_array_get(offs, 0));
    uint64_t e_ = (uint64_t)json_integer_value(json_array_get(offs, 1));
    if (b > e_ || e_ > data_len)
        return bad(s, LOOM_ERR_FORMAT,
                   "tensor %s: data_offsets [%llu, %llu] outside the data (%zu bytes)", name,
                   (unsigned long long)b, (unsigned long long)e_, data_len);
    if (!loom_mf_tensor_bytes(t->dtype, t->ndim, t->shape, &t->bytes))
        return bad(s, LOOM_ERR_FORMAT, "tensor %s: shape too large (its size overflows)", name);
    if (t->bytes != e_ - b)
        return bad(s, LOOM_ERR_FORMAT, "tensor %s: shape needs %zu bytes, data_offsets span %llu",
                   name, t->bytes, (unsigned long long)(e_ - b));
    t->offset = (size_t)b;
    bool moment = strncmp(name, LOOM_MF_OPTIM_M, strlen(LOOM_MF_OPTIM_M)) == 0 ||
                  strncmp(name, LOOM_MF_OPTIM_V, strlen(LOOM_MF_OPTIM_V)) == 0;
    t->kind = moment ? LOOM_MF_MOMENT : LOOM_MF_PARAM;
    return LOOM_OK;
}

static int cmp_tensor(const void *a, const void *b)
{
    return loom_mf_cmp_offset(&a, &b);
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

/* Every entry, then the offsets: sorted they must tile the data exactly. */
static enum loom_status read_tensors(const struct src *s, struct loom_model_file *mf,
                                     const unsigned char *data, size_t data_len)
{
    size_t n = json_object_size(mf->root) - 1;
    if (n > s->lim.max_tensors)
        return bad(s, LOOM_ERR_LIMIT, "%zu tensors (limit %zu)", n, s->lim.max_tensors);
    mf->t = calloc(n ? n : 1, sizeof *mf->t);
    mf->by_name = calloc(n ? n : 1, sizeof *mf->by_name);
    if (!mf->t || !mf->by_name) return bad(s, LOOM_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(mf->root, key, v)
    {
        if (strcmp(key, LOOM_MF_METADATA) == 0) continue;
        enum loom_status st = read_entry(s, key, v, data_len, &mf->t[mf->n]);
        if (st) return st;
        mf->t[mf->n].data = data + mf->t[mf->n].offset;
        mf->n++;
    }
    qsort(mf->t, mf->n, sizeof *mf->t, cmp_tensor);
    size_t pos = 0;
    for (size_t i = 0; i < mf->n; i++) {
        const struct loom_mf_tensor *t = &mf->t[i];
        if (t->offset < pos)
            return bad(s, LOOM_ERR_FORMAT, "tensors %s and %s overlap", mf->t[i - 1].name, t->name);
        if (t->offset > pos)
            return bad(s, LOOM_ERR_FORMAT, "a hole of %zu bytes before tensor %s", t->offset - pos,
                       t->name);
        pos += t->bytes; /* <= data_len, checked by read_entry */
    }
    if (pos != data_len)
        return bad(s, LOOM_ERR_FORMAT, "%zu bytes at the end of the data belong to no tensor",
                   data_len - pos);
    for (size_t i = 0; i < mf->n; i++) mf->by_name[i] = &mf->t[i];
    qsort(mf->by_name, mf->n, sizeof *mf->by_name, cmp_name);
    return LOOM_OK;
}

/* "loom.extra_tensors": the caller's tensors, one name per line. */
static enum loom_status read_extras(const struct src *s, struct loom_model_file *mf)
{
    const char *list = loom_model_file_meta(mf, LOOM_MF_KEY_EXTRA);
    if (!list) return bad(s, LOOM_ERR_FORMAT, "metadata " LOOM_MF_KEY_EXTRA " missing");
    while (*list) {
        const char *nl = strchr(list, '\n');
        size_t len = nl ? (size_t)(nl - list) : strlen(list);
        char *name = strndup(list, len);
        if (!name) return bad(s, LOOM_ERR_NOMEM, "out of memory");
        struct loom_mf_tensor *t = (struct loom_mf_tensor *)loom_model_file_find(mf, name);
        free(name);
        if (!t || t->kind != LOOM_MF_PARAM)
            return bad(s, LOOM_ERR_FORMAT,
                       "metadata " LOOM_MF_KEY_EXTRA " names a tensor that "
                       "is absent, a moment, or listed twice");
        t->kind = LOOM_MF_EXTRA;
        list += len + (nl != NULL);
        if (nl && !*list) return bad(s, LOOM_ERR_FORMAT, LOOM_MF_KEY_EXTRA " ends with a newline");
    }
    return LOOM_OK;
}

struct canon {
    const char *h;
    size_t len, pos;
};

static int canon_cmp(const char *buf, size_t size, void *data)
{
    struct canon *c = data;
    if (size > c->len - c->pos || memcmp(buf, c->h + c->pos, size) != 0) return -1;
    c->pos += size;
    return 0;
}

static enum loom_status check_integrity(const struct src *s, struct loom_model_file *mf,
                                        const char *h, size_t json_len)
{
    struct canon c = {h, json_len, 0};
    if (json_dump_callback(mf->root, canon_cmp, &c, LOOM_MF_JSON_FLAGS) != 0 || c.pos != json_len)
        return bad(s, LOOM_ERR_FORMAT, "header is not in loom's canonical form (near byte %zu)",
                   8 + c.pos);
    const char *want = loom_model_file_meta(mf, LOOM_MF_KEY_CRC);
    bool hex = want && strlen(want) == 8;
    for (int i = 0; hex && i < 8; i++)
        hex = (want[i] >= '0' && want[i] <= '9') || (want[i] >= 'a' && want[i] <= 'f');
    if (!hex) return bad(s, LOOM_ERR_FORMAT, "metadata " LOOM_MF_KEY_CRC " is not 8 hex digits");
    const struct loom_mf_tensor **order = calloc(mf->n ? mf->n : 1, sizeof *order);
    if (!order) return bad(s, LOOM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < mf->n; i++) order[i] = &mf->t[i];
    uint32_t got = loom_mf_checksum(order, mf->n, mf->meta, mf->nmeta);
    free(order);
    char have[9];
    snprintf(have, sizeof have, "%08x", (unsigned)got);
    if (strcmp(have, want) != 0)
        return bad(s, LOOM_ERR_FORMAT, "checksum mismatch (the file says %s, its contents give %s)",
                   want, have);
    return LOOM_OK;
}

static enum loom_status parse(const struct src *s, struct loom_model_file *mf)
{
    size_t hlen = 0, json_len;
    enum loom_status st = header_len(s, mf->base, mf->size, &hlen);
    if (st) return st;
    const char *h = (const char *)mf->base + 8;
    for (json_len = hlen; json_len > 0 && h[json_len - 1] == ' ';) json_len--;
    if (hlen - json_len >= 8 || json_len == 0 || h[json_len - 1] != '}')
        return bad(s, LOOM_ERR_FORMAT, "the header is not a JSON object padded by 0-7 spaces");
    if ((st = prescan(s, h, json_len))) return st;
    json_error_t je;
    mf->root = json_loadb(h, json_len, JSON_REJECT_DUPLICATES, &je);
    if (!mf->root)
        return loom_error_set_at(s->err, LOOM_ERR_PARSE, s->path ? s->path : "", je.line, je.column,
                                 "%s: header JSON, line %d column %d (byte %d): %s",
                                 s->path ? s->path : "model file", je.line, je.column,
                                 8 + je.position, je.text);
    if (!json_is_object(mf->root)) return bad(s, LOOM_ERR_FORMAT, "the header is not an object");
    if ((st = read_meta(s, mf, json_object_get(mf->root, LOOM_MF_METADATA)))) return st;
    qsort(mf->meta, mf->nmeta, sizeof *mf->meta, cmp_key);
    if ((st = read_tensors(s, mf, mf->base + 8 + hlen, mf->size - 8 - hlen))) return st;
    if ((st = read_extras(s, mf))) return st;
    return check_integrity(s, mf, h, json_len);
}

static struct src make_src(const char *path, const struct loom_mf_limits *lim,
                           struct loom_error *err)
{
    struct src s = {.path = path, .err = err};
    if (lim) s.lim = *lim;
    if (!s.lim.max_header) s.lim.max_header = LOOM_MF_DEFAULT_MAX_HEADER;
    if (!s.lim.max_tensors) s.lim.max_tensors = LOOM_MF_DEFAULT_MAX_TENSORS;
    if (!s.lim.max_metadata) s.lim.max_metadata = LOOM_MF_DEFAULT_MAX_METADATA;
    return s;
}

static enum loom_status finish(const struct src *s, struct loom_model_file *mf,
                               struct loom_model_file **out)
{
    enum loom_status st = parse(s, mf);
    if (st)
        loom_model_file_close(&mf);
    else
        *out = mf;
    return st;
}

enum loom_status loom_model_file_open_memory(const void *data, size_t size,
                                             const struct loom_mf_limits *limits,
                                             struct loom_model_file **out, struct loom_error *err)
{
    struct src s = make_src(NULL, limits, err);
    if (!out || (!data && size)) return bad(&s, LOOM_ERR_INVALID, "no data or no output");
    struct loom_model_file *mf = calloc(1, sizeof *mf);
    if (!mf) return bad(&s, LOOM_ERR_NOMEM, "out of memory");
    mf->base = data;
    mf->size = size;
    return finish(&s, mf, out);
}

enum loom_status loom_model_file_open(const char *path, const struct loom_mf_limits *limits,
                                      struct loom_model_file **out, struct loom_error *err)
{
    if (!path || !out) return loom_error_set(err, LOOM_ERR_INVALID, "model file: no path");
    struct src s = make_src(path, limits, err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return bad(&s, LOOM_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat sb;
    unsigned char first8[8];
    size_t hlen = 0;
    enum loom_status st;
    if (fstat(fd, &sb) != 0) {
        st = bad(&s, LOOM_ERR_IO, "cannot stat: %s", strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = bad(&s, LOOM_ERR_IO, "not a regular file");
    } else if ((uint64_t)sb.st_size > SIZE_MAX) {
        st = bad(&s, LOOM_ERR_LIMIT, "file too large for this machine");
    } else if (sb.st_size >= 8 && pread(fd, first8, 8, 0) != 8) {
        st = bad(&s, LOOM_ERR_IO, "cannot read: %s", strerror(errno));
    } else {
        /* Lengths are checked against the file before anything is mapped. */
        st = header_len(&s, first8, (size_t)sb.st_size, &hlen);
    }
    struct loom_model_file *mf = NULL;
    if (!st && !(mf = calloc(1, sizeof *mf))) st = bad(&s, LOOM_ERR_NOMEM, "out of memory");
    if (!st) {
        void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            st = bad(&s, LOOM_ERR_IO, "cannot map: %s", strerror(errno));
            free(mf);
        } else {
            mf->map = map;
            mf->base = map;
            mf->size = (size_t)sb.st_size;
        }
    }
    close(fd);
    return st ? st : finish(&s, mf, out);
}

void loom_model_file_close(struct loom_model_file **pmf)
{
    if (!pmf || !*pmf) return;
    struct loom_model_file *mf = *pmf;
    if (mf->map) munmap(mf->map, mf->size);
    json_decref(mf->root);
    free(mf->t);
    free(mf->by_name);
    free(mf->meta);
    free(mf);
    *pmf = NULL;
}

size_t loom_model_file_count(const struct loom_model_file *mf)
{
    return mf->n;
}

const struct loom_mf_tensor *loom_model_file_tensor(const struct loom_model_file *mf, size_t i)
{
    return i < mf->n ? &mf->t[i] : NULL;
}

const struct loom_mf_tensor *loom_model_file_find(const struct loom_model_file *mf,
                                                  const char *name)
{
    size_t lo = 0, hi = mf->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, mf->by_name[mid]->name);
        if (c == 0) return mf->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t loom_model_file_meta_count(const struct loom_model_file *mf)
{
    return mf->nmeta;
}

const struct loom_mf_meta *loom_model_file_meta_at(const struct loom_model_file *mf, size_t i)
{
    return i < mf->nmeta ? &mf->meta[i] : NULL;
}

const char *loom_model_file_meta(const struct loom_model_file *mf, const char *key)
{
    for (size_t i = 0; i < mf->nmeta; i++)
        if (strcmp(mf->meta[i].key, key) == 0) return mf->meta[i].value;
    return NULL;
}

/* ---- into a parameter store ---- */

/* The file's tensor called prefix+name, checked against the store's param. */
static enum loom_status match(const struct loom_model_file *mf, const char *prefix,
                              const struct loom_param *p, const struct loom_mf_tensor **out,
                              struct loom_error *err)
{
    char name[1024];
    if ((size_t)snprintf(name, sizeof name, "%s%s", prefix, p->name) >= sizeof name)
        return loom_error_set(err, LOOM_ERR_INVALID, "param name too long: %s", p->name);
    const struct loom_mf_tensor *t = loom_model_file_find(mf, name);
    if (!t)
        return loom_error_set(err, LOOM_ERR_FORMAT, "tensor %s: in the model, not in the file",
                              name);
    bool same = t->dtype == LOOM_DTYPE_F32 && t->ndim == p->t.ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == p->t.shape[d];
    if (!same) {
        char fs[160] = "", ms[160] = "";
        for (int d = 0; d < t->ndim; d++)
            snprintf(fs + strlen(fs), sizeof fs - strlen(fs), "%s%lld", d ? "," : "",
                     (long long)t->shape[d]);
        for (int d = 0; d < p->t.ndim; d++)
            snprintf(ms + strlen(ms), sizeof ms - strlen(ms), "%s%lld", d ? "," : "",
                     (long long)p->t.shape[d]);
        return loom_error_set(err, LOOM_ERR_SHAPE,
                              "tensor %s: %s [%s] in the file, F32 [%s] in the model", name,
                              loom_dtype_name(t->dtype), fs, ms);
    }
    *out = t;
    return LOOM_OK;
}

enum loom_status loom_model_file_load_store(const struct loom_model_file *mf,
                                            struct loom_store *store, bool with_optim,
                                            struct loom_error *err)
{
    if (!mf || !store || !store->finalized)
        return loom_error_set(err, LOOM_ERR_INVALID, "load_store: no file or store not finalized");
    const struct loom_mf_tensor *t;
    enum loom_status st;
    /* First check everything, so that a mismatch leaves the store as it was. */
    for (int i = 0; i < store->n; i++) {
        const struct loom_param *p = store->params[i];
        if ((st = match(mf, "", p, &t, err))) return st;
        if (with_optim && !p->buffer &&
            ((st = match(mf, LOOM_MF_OPTIM_M, p, &t, err)) ||
             (st = match(mf, LOOM_MF_OPTIM_V, p, &t, err))))
            return st;
    }
    for (size_t i = 0; i < mf->n; i++) {
        t = &mf->t[i];
        const char *base = t->name + (t->kind == LOOM_MF_MOMENT ? strlen(LOOM_MF_OPTIM_M) : 0);
        const struct loom_param *p = loom_store_find(store, base);
        if (t->kind == LOOM_MF_EXTRA || (t->kind == LOOM_MF_MOMENT && !with_optim)) continue;
        if (!p || (t->kind == LOOM_MF_MOMENT && p->buffer))
            return loom_error_set(err, LOOM_ERR_FORMAT, "tensor %s: in the file, not %s the model",
                                  t->name,
                                  t->kind == LOOM_MF_MOMENT ? "a trainable param of" : "in");
    }
    for (int i = 0; i < store->n; i++) {
        const struct loom_param *p = store->params[i];
        size_t bytes = (size_t)p->t.size * sizeof(float);
        LOOM_ASSERT(!match(mf, "", p, &t, NULL));
        memcpy(store->data + p->offset, t->data, bytes);
        if (!with_optim || p->buffer) continue;
        LOOM_ASSERT(!match(mf, LOOM_MF_OPTIM_M, p, &t, NULL));
        memcpy(store->m + p->offset, t->data, bytes);
        LOOM_ASSERT(!match(mf, LOOM_MF_OPTIM_V, p, &t, NULL));
        memcpy(store->v + p->offset, t->data, bytes);
    }
    return LOOM_OK;
}
