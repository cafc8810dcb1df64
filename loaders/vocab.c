/* vocab.c — token counting, the fitted vocabulary, text encoding (vocab.h). */
#include <string.h>

#include "blob.h"
#include "strtab.h"
#include "vocab.h"

#define VOCAB_TAG     "LVOC"
#define VOCAB_VERSION 1

static const char *const special_names[LOOM_VOCAB_NSPECIAL] = {
    [LOOM_VOCAB_PAD] = "xxpad", [LOOM_VOCAB_UNK] = "xxunk", [LOOM_VOCAB_BOS] = "xxbos",
    [LOOM_VOCAB_EOS] = "xxeos", [LOOM_VOCAB_MAJ] = "xxmaj", [LOOM_VOCAB_UP] = "xxup",
};

struct loom_vocab_counter {
    struct loom_strtab tab;
};

struct loom_vocab {
    struct loom_strtab tab; /* entry index == id */
};

enum loom_status loom_vocab_counter_new(struct loom_vocab_counter **out, struct loom_error *err)
{
    struct loom_vocab_counter *c = malloc(sizeof *c);
    if (!c) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a token counter");
    loom_strtab_init(&c->tab);
    *out = c;
    return LOOM_OK;
}

void loom_vocab_counter_free(struct loom_vocab_counter **c)
{
    if (!c || !*c) return;
    loom_strtab_done(&(*c)->tab);
    free(*c);
    *c = NULL;
}

static enum loom_status count(struct loom_vocab_counter *c, const char *tok, size_t len,
                              struct loom_error *err)
{
    int32_t k;
    bool added;
    enum loom_status st = loom_strtab_intern(&c->tab, tok, len, &k, &added, err);
    if (st == LOOM_OK) c->tab.e[k].count++;
    return st;
}

enum loom_status loom_vocab_count_token(struct loom_vocab_counter *c, const char *tok, size_t len,
                                        struct loom_error *err)
{
    if (!c || !tok || len == 0 || len > LOOM_TOKEN_MAX_BYTES || !loom_utf8_is_valid(tok, len))
        return loom_error_set(err, LOOM_ERR_INVALID, "a token must be 1..%d bytes of valid UTF-8",
                              LOOM_TOKEN_MAX_BYTES);
    return count(c, tok, len, err);
}

struct count_ctx {
    struct loom_vocab_counter *c;
    struct loom_error *err;
};

static enum loom_status count_cb(void *user, const struct loom_token *t)
{
    struct count_ctx *x = user;
    if (t->kind != LOOM_TOKEN_TEXT) return LOOM_OK;
    return count(x->c, t->text, t->len, x->err);
}

enum loom_status loom_vocab_count_text(struct loom_vocab_counter *c,
                                       const struct loom_tokenize_opts *o, const char *text,
                                       size_t len, size_t max_tokens, struct loom_error *err)
{
    if (!c || (!text && len))
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_vocab_count_text: NULL argument");
    struct count_ctx x = {c, err};
    return loom_tokenize(o, text, len, max_tokens, count_cb, &x);
}

static enum loom_status vocab_with_specials(struct loom_vocab **out, struct loom_error *err)
{
    struct loom_vocab *v = malloc(sizeof *v);
    if (!v) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a vocabulary");
    loom_strtab_init(&v->tab);
    for (int i = 0; i < LOOM_VOCAB_NSPECIAL; i++) {
        int32_t k;
        bool added;
        enum loom_status st = loom_strtab_intern(&v->tab, special_names[i],
                                                 strlen(special_names[i]), &k, &added, err);
        if (st != LOOM_OK) {
            loom_vocab_free(&v);
            return st;
        }
        LOOM_ASSERT(k == i && added);
    }
    *out = v;
    return LOOM_OK;
}

enum loom_status loom_vocab_fit(const struct loom_vocab_counter *c, int64_t min_count,
                                size_t max_size, struct loom_vocab **out, struct loom_error *err)
{
    if (!c || !out || min_count < 1)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_vocab_fit: min_count must be >= 1");
    struct loom_vocab *v = NULL;
    enum loom_status st = vocab_with_specials(&v, err);
    if (st != LOOM_OK) return st;
    /* Specials are in v already: rank skips a counted "xxunk" and the like. */
    if ((st = loom_strtab_rank(&c->tab, min_count, max_size, &v->tab, err)) != LOOM_OK) {
        loom_vocab_free(&v);
        return st;
    }
    *out = v;
    return LOOM_OK;
}

void loom_vocab_free(struct loom_vocab **v)
{
    if (!v || !*v) return;
    loom_strtab_done(&(*v)->tab);
    free(*v);
    *v = NULL;
}

int32_t loom_vocab_size(const struct loom_vocab *v)
{
    return v->tab.n;
}

int32_t loom_vocab_lookup(const struct loom_vocab *v, const char *tok, size_t len)
{
    int32_t k = loom_strtab_find(&v->tab, tok, len);
    return k < 0 ? LOOM_VOCAB_UNK : k;
}

const char *loom_vocab_token(const struct loom_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || id >= v->tab.n) return NULL;
    return loom_strtab_str(&v->tab, id, len);
}

struct encode_ctx {
    const struct loom_vocab *v;
    int32_t *ids;
    int32_t n;
};

static enum loom_status encode_cb(void *user, const struct loom_token *t)
{
    struct encode_ctx *x = user;
    int32_t id = t->kind == LOOM_TOKEN_MAJ  ? LOOM_VOCAB_MAJ
                 : t->kind == LOOM_TOKEN_UP ? LOOM_VOCAB_UP
                                            : loom_vocab_lookup(x->v, t->text, t->len);
    x->ids[x->n++] = id;
    return LOOM_OK;
}

enum loom_status loom_text_encode(const struct loom_vocab *v, const struct loom_tokenize_opts *o,
                                  const char *text, size_t len, size_t max_tokens, int32_t *ids,
                                  int32_t *n, struct loom_error *err)
{
    if (!v || !n || (!ids && max_tokens) || (!text && len))
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_text_encode: NULL argument");
    if (max_tokens > INT32_MAX)
        return loom_error_set(err, LOOM_ERR_LIMIT, "max_tokens %zu is too large", max_tokens);
    if (max_tokens == 0) {
        *n = 0;
        return LOOM_OK;
    }
    struct encode_ctx x = {v, ids, 0};
    ids[x.n++] = LOOM_VOCAB_BOS;
    enum loom_status st = loom_tokenize(o, text, len, max_tokens - 1, encode_cb, &x);
    if (st != LOOM_OK) return st; /* unreachable: encode_cb never fails */
    *n = x.n;
    return LOOM_OK;
}

enum loom_status loom_vocab_save(const struct loom_vocab *v, uint8_t **out, size_t *out_len,
                                 struct loom_error *err)
{
    if (!v || !out || !out_len)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_vocab_save: NULL argument");
    struct loom_blob_writer w;
    loom_blob_write_begin(&w, VOCAB_TAG, VOCAB_VERSION);
    loom_blob_put_u32(&w, (uint32_t)v->tab.n);
    for (int32_t i = 0; i < v->tab.n; i++) {
        size_t len;
        const char *s = loom_strtab_str(&v->tab, i, &len);
        loom_blob_put_str(&w, s, len);
    }
    return loom_blob_write_end(&w, out, out_len, err);
}

enum loom_status loom_vocab_load(const void *buf, size_t len, struct loom_vocab **out,
                                 struct loom_error *err)
{
    if (!out) return loom_error_set(err, LOOM_ERR_INVALID, "loom_vocab_load: NULL argument");
    struct loom_blob_reader r;
    enum loom_status st =
        loom_blob_read_begin(&r, buf, len, VOCAB_TAG, VOCAB_VERSION, "vocabulary", err);
    if (st != LOOM_OK) return st;
    uint32_t n = loom_blob_get_u32(&r);
    if (n < LOOM_VOCAB_NSPECIAL || n > LOOM_STRTAB_MAX_ENTRIES)
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved vocabulary: %u entries", n);
    struct loom_vocab *v = malloc(sizeof *v);
    if (!v) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a vocabulary");
    loom_strtab_init(&v->tab);
    for (uint32_t i = 0; i < n; i++) {
        size_t tlen;
        const char *s = loom_blob_get_str(&r, LOOM_TOKEN_MAX_BYTES, &tlen);
        if (!s) break; /* read_end reports it */
        if (tlen == 0 || !loom_utf8_is_valid(s, tlen)) {
            st = loom_error_set(err, LOOM_ERR_FORMAT,
                                "saved vocabulary: id %u is empty or not UTF-8", i);
            goto fail;
        }
        if (i < LOOM_VOCAB_NSPECIAL &&
            (tlen != strlen(special_names[i]) || memcmp(s, special_names[i], tlen) != 0)) {
            st = loom_error_set(err, LOOM_ERR_FORMAT, "saved vocabulary: id %u is not %s", i,
                                special_names[i]);
            goto fail;
        }
        int32_t k;
        bool added;
        if ((st = loom_strtab_intern(&v->tab, s, tlen, &k, &added, err)) != LOOM_OK) goto fail;
        if (!added) {
            st =
                loom_error_set(err, LOOM_ERR_FORMAT, "saved vocabulary: id %u repeats id %d", i, k);
            goto fail;
        }
    }
    if ((st = loom_blob_read_end(&r, "vocabulary", err)) != LOOM_OK) goto fail;
    *out = v;
    return LOOM_OK;
fail:
    loom_vocab_free(&v);
    return st;
}
