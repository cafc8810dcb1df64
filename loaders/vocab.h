/*
 * vocab.h — the vocabulary of a text column: token counts gathered over the
 * training split, then a fitted, immutable token <-> id table, and the
 * encoding of a text into ids.
 *
 * Ids 0..5 are fixed: xxpad, xxunk, xxbos, xxeos, xxmaj, xxup. The learned
 * tokens follow, most frequent first, ties in byte order — so the ids do not
 * depend on the order rows were read in (threads may count in any order).
 * A fitted vocabulary is immutable: lookups and encoding are thread-safe.
 */
#ifndef LOOM_LOADERS_VOCAB_H
#define LOOM_LOADERS_VOCAB_H

#include "tokenize.h"

enum {
    LOOM_VOCAB_PAD = 0,
    LOOM_VOCAB_UNK = 1,
    LOOM_VOCAB_BOS = 2,
    LOOM_VOCAB_EOS = 3,
    LOOM_VOCAB_MAJ = 4,
    LOOM_VOCAB_UP = 5,
    LOOM_VOCAB_NSPECIAL = 6,
};

/* Token counts while fitting. Not thread-safe: one per thread, or a lock. */
struct loom_vocab_counter;

LOOM_WUR enum loom_status loom_vocab_counter_new(struct loom_vocab_counter **out,
                                                 struct loom_error *err);
/* Frees *c and sets it to NULL; accepts NULL and a NULL *c. */
void loom_vocab_counter_free(struct loom_vocab_counter **c);

/* Count one token: 1..LOOM_TOKEN_MAX_BYTES bytes of valid UTF-8, else
 * LOOM_ERR_INVALID. */
LOOM_WUR enum loom_status loom_vocab_count_token(struct loom_vocab_counter *c, const char *tok,
                                                 size_t len, struct loom_error *err);
/* Tokenize text (as loom_tokenize with o and max_tokens) and count its word
 * tokens; markers are not counted (their ids are fixed). */
LOOM_WUR enum loom_status loom_vocab_count_text(struct loom_vocab_counter *c,
                                                const struct loom_tokenize_opts *o,
                                                const char *text, size_t len, size_t max_tokens,
                                                struct loom_error *err);

struct loom_vocab;

/* Fit: keep the tokens counted at least min_count (>= 1) times, at most
 * max_size of them (0: no limit) besides the six special tokens; so the
 * vocabulary has at most max_size + 6 entries. *out (free with
 * loom_vocab_free) is written only on success. */
LOOM_WUR enum loom_status loom_vocab_fit(const struct loom_vocab_counter *c, int64_t min_count,
                                         size_t max_size, struct loom_vocab **out,
                                         struct loom_error *err);
void loom_vocab_free(struct loom_vocab **v);

/* The number of ids (V), specials included. */
int32_t loom_vocab_size(const struct loom_vocab *v);
/* The id of a token, or LOOM_VOCAB_UNK. */
int32_t loom_vocab_lookup(const struct loom_vocab *v, const char *tok, size_t len);
/* The text of an id (not NUL-terminated) and its length; NULL when out of range. */
const char *loom_vocab_token(const struct loom_vocab *v, int32_t id, size_t *len);

/* Encode text into ids[0..max_tokens): xxbos, then the ids of its tokens
 * (markers included), stopping when max_tokens ids are written; *n gets
 * the count (0 when max_tokens is 0). Never fails on text content. */
LOOM_WUR enum loom_status loom_text_encode(const struct loom_vocab *v,
                                           const struct loom_tokenize_opts *o, const char *text,
                                           size_t len, size_t max_tokens, int32_t *ids, int32_t *n,
                                           struct loom_error *err);

/* Serialise to a malloc'd byte buffer (free() it): see blob.h. */
LOOM_WUR enum loom_status loom_vocab_save(const struct loom_vocab *v, uint8_t **out,
                                          size_t *out_len, struct loom_error *err);
/* Rebuild from a saved buffer, validating everything: frame and checksum,
 * the six specials in place, every token non-empty, at most
 * LOOM_TOKEN_MAX_BYTES, valid UTF-8 and unique. LOOM_ERR_FORMAT otherwise. */
LOOM_WUR enum loom_status loom_vocab_load(const void *buf, size_t len, struct loom_vocab **out,
                                          struct loom_error *err);

#endif
