/*
 * tokenize.h — a word tokenizer for text columns, over UTF-8.
 *
 * What it does, in order, on one pass over the bytes:
 *  - decodes UTF-8; each maximal invalid subsequence becomes U+FFFD (the
 *    WHATWG/Unicode "maximal subpart" practice), so a character is never split;
 *  - splits on whitespace of every Unicode kind (U+0020, tabs and line breaks,
 *    U+00A0, U+1680, U+2000..200A, U+2028/2029, U+202F, U+205F, U+3000),
 *    on U+200B and U+FEFF, and drops control characters;
 *  - makes each punctuation mark or symbol its own token ("hi!" -> hi !);
 *  - keeps numbers whole: '.' or ',' between two digits joins ("12.5",
 *    "1,000"); an apostrophe (' or U+2019, written ') between two letters
 *    joins ("don't");
 *  - makes each CJK ideograph and each kana its own token, and each emoji
 *    its own token together with its modifiers (skin tone, variation
 *    selector, ZWJ sequences, flag pairs);
 *  - lower-cases with a fixed table (ASCII, Latin-1, Latin Extended-A and
 *    Additional, Greek, Cyrillic, fullwidth Latin; no locale), and puts a
 *    marker before a changed word (fastai's convention): "xxup" before an
 *    all-caps word of two or more characters, "xxmaj" before a word whose
 *    first character is upper case (so "I" and "A" get xxmaj).
 * A word longer than LOOM_TOKEN_MAX_BYTES is cut to that many bytes at a
 * character boundary (the rest of that word is dropped): such tokens are
 * all but certain to be rare, and this keeps the tokenizer allocation-free.
 *
 * Everything here is a pure function: thread-safe, no allocation, no locale.
 */
#ifndef LOOM_LOADERS_TOKENIZE_H
#define LOOM_LOADERS_TOKENIZE_H

#include "core/base.h"

#define LOOM_TOKEN_MAX_BYTES  128
#define LOOM_UTF8_REPLACEMENT 0xFFFDu

/* Decode one character of s[0..len) (len >= 1) into *cp; returns the bytes
 * it used (1..4). Invalid input gives U+FFFD and consumes the maximal
 * invalid subpart (at least one byte). */
size_t loom_utf8_decode(const char *s, size_t len, uint32_t *cp);
/* Encode cp (<= U+10FFFF, not a surrogate: asserted) into out; returns 1..4. */
size_t loom_utf8_encode(uint32_t cp, char out[4]);
/* True when s[0..len) is entirely valid UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF). */
bool loom_utf8_is_valid(const char *s, size_t len);
/* The simple lower-case mapping of cp from loom's table (cp if none). */
uint32_t loom_unicode_lower(uint32_t cp);

struct loom_tokenize_opts {
    bool lowercase;    /* default true */
    bool case_markers; /* xxmaj/xxup markers; only when lowercase; default true */
};
struct loom_tokenize_opts loom_tokenize_opts_default(void);

enum loom_token_kind {
    LOOM_TOKEN_TEXT, /* a word, number, punctuation mark, ideograph or emoji */
    LOOM_TOKEN_MAJ,  /* the marker xxmaj: the next word was capitalised */
    LOOM_TOKEN_UP,   /* the marker xxup: the next word was all caps */
};

struct loom_token {
    enum loom_token_kind kind;
    const char *text; /* valid UTF-8, not NUL-terminated; "xxmaj"/"xxup" for markers */
    size_t len;       /* 1..LOOM_TOKEN_MAX_BYTES */
};

/* Called once per token, in order. t and its text are valid only during the
 * call. A status other than LOOM_OK stops the tokenizer, which returns it. */
typedef enum loom_status (*loom_token_fn)(void *user, const struct loom_token *t);

/* Tokenize text[0..len) (any bytes; NULL allowed when len is 0), calling fn
 * for at most max_tokens tokens (SIZE_MAX for no limit). Markers count as
 * tokens; a marker is emitted only when its word fits too. Returns LOOM_OK
 * or the first non-OK status fn returned. o may be NULL for the defaults. */
LOOM_WUR enum loom_status loom_tokenize(const struct loom_tokenize_opts *o, const char *text,
                                        size_t len, size_t max_tokens, loom_token_fn fn,
                                        void *user);

#endif
