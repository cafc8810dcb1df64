/*
 * model_file_common.c — the parts of the model file both the reader and the
 * writer use: dtypes, the one size helper, names, the checksum.
 */
#include <string.h>
#include <zlib.h>

#include "model_file_impl.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [LOOM_DTYPE_BOOL] = {"BOOL", 1}, [LOOM_DTYPE_U8] = {"U8", 1},   [LOOM_DTYPE_I8] = {"I8", 1},
    [LOOM_DTYPE_U16] = {"U16", 2},   [LOOM_DTYPE_I16] = {"I16", 2}, [LOOM_DTYPE_F16] = {"F16", 2},
    [LOOM_DTYPE_BF16] = {"BF16", 2}, [LOOM_DTYPE_U32] = {"U32", 4}, [LOOM_DTYPE_I32] = {"I32", 4},
    [LOOM_DTYPE_F32] = {"F32", 4},   [LOOM_DTYPE_U64] = {"U64", 8}, [LOOM_DTYPE_I64] = {"I64", 8},
    [LOOM_DTYPE_F64] = {"F64", 8},
};
_Static_assert(LOOM_ARRAY_LEN(dtypes) == LOOM_DTYPE_COUNT, "a row per dtype");

const char *loom_dtype_name(enum loom_dtype dt)
{
    return (unsigned)dt < LOOM_DTYPE_COUNT ? dtypes[dt].name : "?";
}

size_t loom_dtype_size(enum loom_dtype dt)
{
    return (unsigned)dt < LOOM_DTYPE_COUNT ? dtypes[dt].size : 0;
}

bool loom_mf_dtype_parse(const char *s, enum loom_dtype *out)
{
    for (int i = 0; i < LOOM_DTYPE_COUNT; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (enum loom_dtype)i;
            return true;
        }
    return false;
}

bool loom_mf_tensor_bytes(enum loom_dtype dt, int ndim, const int64_t *shape, size_t *bytes)
{
    if ((unsigned)dt >= LOOM_DTYPE_COUNT || ndim < 0 || ndim > LOOM_MF_MAX_DIMS) return false;
    size_t n = dtypes[dt].size;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX) return false;
        if (!loom_mul_size(n, (size_t)shape[i], &n)) return false;
    }
    *bytes = n;
    return true;
}

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
bool loom_mf_utf8_ok(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len = c < 0x80                 ? 1
                     : c >= 0xc2 && c <= 0xdf ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        if (len == 0 || len > n - i) return false;
        uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

bool loom_mf_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || strcmp(s, LOOM_MF_METADATA) == 0) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return loom_mf_utf8_ok(s, n);
}

bool loom_mf_meta_reserved(const char *key)
{
    return strcmp(key, LOOM_MF_KEY_FORMAT) == 0 || strcmp(key, LOOM_MF_KEY_VERSION) == 0 ||
           strncmp(key, "loom.", 5) == 0;
}

int loom_mf_cmp_offset(const void *a, const void *b)
{
    const struct loom_mf_tensor *x = *(const struct loom_mf_tensor *const *)a;
    const struct loom_mf_tensor *y = *(const struct loom_mf_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static uLong put_bytes(uLong crc, const void *p, size_t n)
{
    /* crc32_z(crc, NULL, 0) would return the initial value: skip empty data */
    return n ? crc32_z(crc, (const Bytef *)p, n) : crc;
}

static uLong put_u64(uLong crc, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    return put_bytes(crc, b, sizeof b);
}

static uLong put_str(uLong crc, const char *s)
{
    size_t n = strlen(s);
    return put_bytes(put_u64(crc, n), s, n);
}

uint32_t loom_mf_checksum(const struct loom_mf_tensor *const *t, size_t n,
                          const struct loom_mf_meta *meta, size_t nmeta)
{
    uLong crc = put_str(crc32_z(0, NULL, 0), "loom model file 1");
    crc = put_u64(crc, n);
    for (size_t i = 0; i < n; i++) {
        crc = put_str(crc, t[i]->name);
        crc = put_str(crc, loom_dtype_name(t[i]->dtype));
        crc = put_u64(crc, (uint64_t)t[i]->ndim);
        for (int d = 0; d < t[i]->ndim; d++) crc = put_u64(crc, (uint64_t)t[i]->shape[d]);
        crc = put_u64(crc, t[i]->offset);
        crc = put_u64(crc, t[i]->offset + t[i]->bytes);
    }
    size_t counted = 0;
    for (size_t i = 0; i < nmeta; i++) counted += strcmp(meta[i].key, LOOM_MF_KEY_CRC) != 0;
    crc = put_u64(crc, counted);
    for (size_t i = 0; i < nmeta; i++) {
        if (strcmp(meta[i].key, LOOM_MF_KEY_CRC) == 0) continue;
        crc = put_str(put_str(crc, meta[i].key), meta[i].value);
    }
    for (size_t i = 0; i < n; i++) crc = put_bytes(crc, t[i]->data, t[i]->bytes);
    return (uint32_t)crc;
}
