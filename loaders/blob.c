/* blob.c — the framed byte form of fitted preprocessing state (see blob.h). */
#include <string.h>

#include "blob.h"
#include "tokenize.h"

#define HEADER_BYTES 16 /* tag[4], version u32, payload length u64 */

static void reserve(struct loom_blob_writer *w, size_t more)
{
    if (w->failed) return;
    size_t need;
    if (!loom_add_size(w->len, more, &need)) {
        w->failed = true;
        return;
    }
    if (need <= w->cap) return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need) {
        if (!loom_mul_size(cap, 2, &cap)) {
            w->failed = true;
            return;
        }
    }
    uint8_t *d = realloc(w->data, cap);
    if (!d) {
        w->failed = true;
        return;
    }
    w->data = d;
    w->cap = cap;
}

static void put(struct loom_blob_writer *w, const void *src, size_t n)
{
    reserve(w, n);
    if (w->failed) return;
    if (n) memcpy(w->data + w->len, src, n);
    w->len += n;
}

static void store_le(uint8_t *dst, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) dst[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t load_le(const uint8_t *src, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)src[i] << (8 * i);
    return v;
}

void loom_blob_write_begin(struct loom_blob_writer *w, const char tag[4], uint32_t version)
{
    *w = (struct loom_blob_writer){0};
    put(w, tag, 4);
    loom_blob_put_u32(w, version);
    loom_blob_put_u64(w, 0); /* the payload length, patched by write_end */
}

void loom_blob_put_u8(struct loom_blob_writer *w, uint8_t v)
{
    put(w, &v, 1);
}

void loom_blob_put_u32(struct loom_blob_writer *w, uint32_t v)
{
    uint8_t b[4];
    store_le(b, v, 4);
    put(w, b, 4);
}

void loom_blob_put_u64(struct loom_blob_writer *w, uint64_t v)
{
    uint8_t b[8];
    store_le(b, v, 8);
    put(w, b, 8);
}

void loom_blob_put_f64(struct loom_blob_writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    loom_blob_put_u64(w, bits);
}

void loom_blob_put_str(struct loom_blob_writer *w, const char *s, size_t len)
{
    LOOM_ASSERT(len <= UINT32_MAX);
    loom_blob_put_u32(w, (uint32_t)len);
    put(w, s, len);
}

enum loom_status loom_blob_write_end(struct loom_blob_writer *w, uint8_t **out, size_t *out_len,
                                     struct loom_error *err)
{
    reserve(w, 4);
    if (w->failed) {
        free(w->data);
        *w = (struct loom_blob_writer){0};
        return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory saving preprocessing state");
    }
    store_le(w->data + 8, w->len - HEADER_BYTES, 8);
    loom_blob_put_u32(w, loom_crc32(0, w->data, w->len));
    *out = w->data;
    *out_len = w->len;
    *w = (struct loom_blob_writer){0};
    return LOOM_OK;
}

enum loom_status loom_blob_read_begin(struct loom_blob_reader *r, const void *buf, size_t len,
                                      const char tag[4], uint32_t version, const char *what,
                                      struct loom_error *err)
{
    const uint8_t *b = buf;
    if (!b || len < HEADER_BYTES + 4)
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: %zu bytes is too short", what, len);
    if (memcmp(b, tag, 4) != 0)
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: wrong tag (not a %s)", what, what);
    uint32_t ver = (uint32_t)load_le(b + 4, 4);
    if (ver != version)
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: version %u, expected %u", what, ver,
                              version);
    uint64_t payload = load_le(b + 8, 8);
    if (payload != len - HEADER_BYTES - 4)
        return loom_error_set(err, LOOM_ERR_FORMAT,
                              "saved %s: payload length %llu does not match the %zu bytes given",
                              what, (unsigned long long)payload, len);
    uint32_t crc = (uint32_t)load_le(b + len - 4, 4);
    if (crc != loom_crc32(0, b, len - 4))
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: checksum mismatch (damaged)", what);
    *r = (struct loom_blob_reader){.p = b, .pos = HEADER_BYTES, .end = len - 4};
    return LOOM_OK;
}

static const uint8_t *take(struct loom_blob_reader *r, size_t n)
{
    if (r->bad || n > r->end - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *s = r->p + r->pos;
    r->pos += n;
    return s;
}

uint8_t loom_blob_get_u8(struct loom_blob_reader *r)
{
    const uint8_t *s = take(r, 1);
    return s ? s[0] : 0;
}

uint32_t loom_blob_get_u32(struct loom_blob_reader *r)
{
    const uint8_t *s = take(r, 4);
    return s ? (uint32_t)load_le(s, 4) : 0;
}

uint64_t loom_blob_get_u64(struct loom_blob_reader *r)
{
    const uint8_t *s = take(r, 8);
    return s ? load_le(s, 8) : 0;
}

double loom_blob_get_f64(struct loom_blob_reader *r)
{
    uint64_t bits = loom_blob_get_u64(r);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

const char *loom_blob_get_str(struct loom_blob_reader *r, size_t max_len, size_t *len)
{
    uint32_t n = loom_blob_get_u32(r);
    if (r->bad || n > max_len) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *s = take(r, n);
    if (!s) return NULL;
    *len = n;
    return (const char *)s;
}

enum loom_status loom_blob_read_end(const struct loom_blob_reader *r, const char *what,
                                    struct loom_error *err)
{
    if (r->bad)
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: a value runs past the end", what);
    if (r->pos != r->end)
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: %zu unexpected trailing bytes", what,
                              r->end - r->pos);
    return LOOM_OK;
}

uint32_t loom_crc32(uint32_t crc, const void *buf, size_t len)
{
    /* Bitwise, reflected polynomial 0xEDB88320: blobs are small and saved or
     * loaded once per model, so a table buys nothing. */
    const uint8_t *b = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

const char *loom_quote_text(char *out, size_t size, const char *text, size_t len)
{
    LOOM_ASSERT(size >= 8);
    size_t room = size - 4, o = 0, i = 0; /* keep room for "..." and the NUL */
    while (i < len) {
        uint32_t cp;
        size_t n = loom_utf8_decode(text + i, len - i, &cp);
        bool valid = loom_utf8_is_valid(text + i, n);
        size_t w = valid ? n : 1;
        if (o + w > room) break;
        if (!valid || cp < 0x20 || cp == 0x7f)
            out[o] = '?';
        else
            memcpy(out + o, text + i, n);
        o += w;
        i += n;
    }
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}
