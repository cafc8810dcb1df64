/*
 * blob.h — the compact byte form of fitted preprocessing state (vocabulary,
 * category codes, number statistics, ...), saved inside the model file.
 *
 * A blob is: a 4-byte tag naming the object, a u32 format version, a u64
 * payload length, the payload, and a CRC-32 of everything before it; all
 * integers little-endian, doubles as their IEEE-754 bits. The model file keeps
 * each blob as a U8 tensor (or base64 in its JSON header): bytes, not text,
 * so that nothing is lost to float printing.
 *
 * Reading never trusts the bytes: the tag, version, length and checksum are
 * checked first, every read is bounds-checked (a failed read marks the reader
 * bad and returns 0), and loom_blob_read_end rejects a bad reader or trailing
 * bytes. Each object's _load then validates the values themselves.
 * Private to loaders/.
 */
#ifndef LOOM_LOADERS_BLOB_H
#define LOOM_LOADERS_BLOB_H

#include "core/base.h"

struct loom_blob_writer {
    uint8_t *data;
    size_t len, cap;
    bool failed; /* an allocation failed: finish reports LOOM_ERR_NOMEM */
};

/* Start a blob with its tag (4 characters) and version. */
void loom_blob_write_begin(struct loom_blob_writer *w, const char tag[4], uint32_t version);
void loom_blob_put_u8(struct loom_blob_writer *w, uint8_t v);
void loom_blob_put_u32(struct loom_blob_writer *w, uint32_t v);
void loom_blob_put_u64(struct loom_blob_writer *w, uint64_t v);
void loom_blob_put_f64(struct loom_blob_writer *w, double v);
/* A u32 length, then the bytes (len must fit in a u32: asserted). */
void loom_blob_put_str(struct loom_blob_writer *w, const char *s, size_t len);

/* Seal the blob (length, checksum) and hand its malloc'd bytes to the caller
 * (*out, *out_len written only on success; free() them). On failure the
 * writer's memory is released. */
LOOM_WUR enum loom_status loom_blob_write_end(struct loom_blob_writer *w, uint8_t **out,
                                              size_t *out_len, struct loom_error *err);

struct loom_blob_reader {
    const uint8_t *p;
    size_t pos, end; /* the payload is p[pos..end) */
    bool bad;        /* a read ran past the end */
};

/* Check the frame of buf[0..len): tag, version, length, checksum. On success
 * r reads the payload. `what` names the object in messages. */
LOOM_WUR enum loom_status loom_blob_read_begin(struct loom_blob_reader *r, const void *buf,
                                               size_t len, const char tag[4], uint32_t version,
                                               const char *what, struct loom_error *err);
uint8_t loom_blob_get_u8(struct loom_blob_reader *r);
uint32_t loom_blob_get_u32(struct loom_blob_reader *r);
uint64_t loom_blob_get_u64(struct loom_blob_reader *r);
double loom_blob_get_f64(struct loom_blob_reader *r);
/* A string written by loom_blob_put_str: a pointer into the buffer (not
 * NUL-terminated) and its length; NULL (reader marked bad) when it runs past
 * the end or is longer than max_len. */
const char *loom_blob_get_str(struct loom_blob_reader *r, size_t max_len, size_t *len);
/* LOOM_OK when every read stayed in bounds and the payload was read whole. */
LOOM_WUR enum loom_status loom_blob_read_end(const struct loom_blob_reader *r, const char *what,
                                             struct loom_error *err);

/* CRC-32 (IEEE 802.3, the zlib one) of buf[0..len), continuing from crc
 * (start with 0). */
uint32_t loom_crc32(uint32_t crc, const void *buf, size_t len);

/* Copy text[0..len) into out (size >= 8) for an error message: at most
 * size-1 bytes, cut at a character boundary with "..." when longer, bytes
 * below 0x20 and 0x7f shown as '?'. Returns out. */
const char *loom_quote_text(char *out, size_t size, const char *text, size_t len);

#endif
