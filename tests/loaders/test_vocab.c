/* test_vocab.c — vocabulary fitting (min_count, max_size, ties, order
 * independence), lookups, encoding with xxbos and truncation, save/load and
 * the rejection of damaged or inconsistent saved vocabularies. */
#include <string.h>

#include "loaders/blob.h"
#include "loaders/vocab.h"
#include "tests/testlib.h"

static struct loom_vocab *fit_texts(const char *const *texts, size_t n, int64_t min_count,
                                    size_t max_size)
{
    struct loom_vocab_counter *c = NULL;
    struct loom_vocab *v = NULL;
    assert_int_equal(loom_vocab_counter_new(&c, NULL), LOOM_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(loom_vocab_count_text(c, NULL, texts[i], strlen(texts[i]), SIZE_MAX, NULL),
                         LOOM_OK);
    assert_int_equal(loom_vocab_fit(c, min_count, max_size, &v, NULL), LOOM_OK);
    loom_vocab_counter_free(&c);
    assert_null(c);
    return v;
}

static int32_t id_of(const struct loom_vocab *v, const char *tok)
{
    return loom_vocab_lookup(v, tok, strlen(tok));
}

LOOM_TEST(vocab_specials_min_count_and_unknown)
{
    static const char *const texts[] = {"the cat", "the dog", "The cat sat", "xxunk"};
    struct loom_vocab *v = fit_texts(texts, 4, 2, 0);
    /* the: 3, cat: 2; dog, sat: 1 (dropped); a literal "xxunk" keeps id 1. */
    assert_int_equal(loom_vocab_size(v), 8);
    static const char *const specials[] = {"xxpad", "xxunk", "xxbos", "xxeos", "xxmaj", "xxup"};
    for (int i = 0; i < 6; i++) assert_int_equal(id_of(v, specials[i]), i);
    assert_int_equal(id_of(v, "the"), 6);
    assert_int_equal(id_of(v, "cat"), 7);
    assert_int_equal(id_of(v, "dog"), LOOM_VOCAB_UNK);
    assert_int_equal(id_of(v, "zebra"), LOOM_VOCAB_UNK);
    size_t len;
    const char *s = loom_vocab_token(v, 7, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "cat", 3);
    assert_null(loom_vocab_token(v, 8, &len));
    assert_null(loom_vocab_token(v, -1, &len));
    loom_vocab_free(&v);
    assert_null(v);
    loom_vocab_free(&v); /* NULL is fine */
}

LOOM_TEST(vocab_max_size_ties_and_order_independence)
{
    static const char *const fwd[] = {"c b a", "a b c d", "c a b", "e e"};
    static const char *const rev[] = {"e e", "c a b", "a b c d", "c b a"};
    struct loom_vocab *v1 = fit_texts(fwd, 4, 1, 3), *v2 = fit_texts(rev, 4, 1, 3);
    /* a, b, c: 3 each (ties in byte order); e: 2; d: 1. max_size 3 keeps a b c. */
    assert_int_equal(loom_vocab_size(v1), 9);
    assert_int_equal(id_of(v1, "a"), 6);
    assert_int_equal(id_of(v1, "b"), 7);
    assert_int_equal(id_of(v1, "c"), 8);
    assert_int_equal(id_of(v1, "e"), LOOM_VOCAB_UNK);
    for (int32_t i = 0; i < loom_vocab_size(v1); i++) {
        size_t l1, l2;
        const char *s1 = loom_vocab_token(v1, i, &l1), *s2 = loom_vocab_token(v2, i, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(s1, s2, l1);
    }
    loom_vocab_free(&v1);
    loom_vocab_free(&v2);
    v1 = fit_texts(fwd, 4, 1, 0);
    assert_int_equal(loom_vocab_size(v1), 11);
    assert_int_equal(id_of(v1, "e"), 9);
    assert_int_equal(id_of(v1, "d"), 10);
    loom_vocab_free(&v1);
}

LOOM_TEST(vocab_encode_adds_bos_and_truncates)
{
    static const char *const texts[] = {"the dog", "the DOG", "the dog"};
    struct loom_vocab *v = fit_texts(texts, 3, 1, 0);
    int32_t ids[8], n = -1;
    const char *t = "The DOG saw a cat";
    assert_int_equal(loom_text_encode(v, NULL, t, strlen(t), 8, ids, &n, NULL), LOOM_OK);
    int32_t the = id_of(v, "the"), dog = id_of(v, "dog");
    const int32_t want[] = {LOOM_VOCAB_BOS, LOOM_VOCAB_MAJ, the,           LOOM_VOCAB_UP, dog,
                            LOOM_VOCAB_UNK, LOOM_VOCAB_UNK, LOOM_VOCAB_UNK};
    assert_int_equal(n, 8);
    assert_memory_equal(ids, want, sizeof want);
    /* Room for xxbos and one token: the marker of "The" would need two. */
    assert_int_equal(loom_text_encode(v, NULL, t, strlen(t), 2, ids, &n, NULL), LOOM_OK);
    assert_int_equal(n, 1);
    assert_int_equal(loom_text_encode(v, NULL, t, strlen(t), 4, ids, &n, NULL), LOOM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(loom_text_encode(v, NULL, t, strlen(t), 0, NULL, &n, NULL), LOOM_OK);
    assert_int_equal(n, 0);
    assert_int_equal(loom_text_encode(v, NULL, NULL, 0, 8, ids, &n, NULL), LOOM_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], LOOM_VOCAB_BOS);
    loom_vocab_free(&v);
}

LOOM_TEST(vocab_count_token_checks_its_input)
{
    struct loom_vocab_counter *c;
    struct loom_error err;
    assert_int_equal(loom_vocab_counter_new(&c, NULL), LOOM_OK);
    char big[LOOM_TOKEN_MAX_BYTES + 1];
    memset(big, 'a', sizeof big);
    assert_int_equal(loom_vocab_count_token(c, "", 0, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_vocab_count_token(c, big, sizeof big, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_vocab_count_token(c, "\xFF", 1, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_vocab_count_token(c, big, sizeof big - 1, &err), LOOM_OK);
    struct loom_vocab *v;
    assert_int_equal(loom_vocab_fit(c, 0, 0, &v, &err), LOOM_ERR_INVALID);
    loom_vocab_counter_free(&c);
}

LOOM_TEST(vocab_save_load_round_trip)
{
    static const char *const texts[] = {"Été à Paris 🍕 日本 1,000", "été paris"};
    struct loom_vocab *v = fit_texts(texts, 2, 1, 0), *w = NULL;
    uint8_t *buf;
    size_t len;
    assert_int_equal(loom_vocab_save(v, &buf, &len, NULL), LOOM_OK);
    assert_int_equal(loom_vocab_load(buf, len, &w, NULL), LOOM_OK);
    assert_int_equal(loom_vocab_size(w), loom_vocab_size(v));
    for (int32_t i = 0; i < loom_vocab_size(v); i++) {
        size_t l;
        const char *s = loom_vocab_token(v, i, &l);
        assert_int_equal(loom_vocab_lookup(w, s, l), i);
    }
    /* Every single-byte change and every truncation is rejected. */
    struct loom_error err;
    for (size_t i = 0; i < len; i++) {
        struct loom_vocab *x = NULL;
        buf[i] ^= 0x20;
        assert_int_equal(loom_vocab_load(buf, len, &x, &err), LOOM_ERR_FORMAT);
        assert_null(x);
        buf[i] ^= 0x20;
        assert_int_equal(loom_vocab_load(buf, i, &x, &err), LOOM_ERR_FORMAT);
    }
    assert_non_null(strstr(err.message, "vocabulary"));
    free(buf);
    loom_vocab_free(&v);
    loom_vocab_free(&w);
}

/* A well-framed blob (valid checksum) holding the given tokens. */
static void blob_of(const char *const *toks, int n, uint8_t **buf, size_t *len)
{
    struct loom_blob_writer w;
    loom_blob_write_begin(&w, "LVOC", 1);
    loom_blob_put_u32(&w, (uint32_t)n);
    for (int i = 0; i < n; i++) loom_blob_put_str(&w, toks[i], strlen(toks[i]));
    assert_int_equal(loom_blob_write_end(&w, buf, len, NULL), LOOM_OK);
}

LOOM_TEST(vocab_load_rejects_inconsistent_content)
{
    static const struct {
        const char *toks[8];
        int n;
        const char *msg;
    } bad[] = {
        {{"xxpad", "xxunk", "xxbos", "xxeos", "xxmaj", "xxup", "a", "a"}, 8, "repeats"},
        {{"xxpad", "xxunk", "xxbos", "xxeos", "xxup", "xxmaj", "a"}, 7, "is not xxmaj"},
        {{"xxpad", "xxunk", "xxbos", "xxeos", "xxmaj", "xxup", ""}, 7, "empty"},
        {{"xxpad", "xxunk", "xxbos", "xxeos", "xxmaj", "xxup", "\xC3"}, 7, "UTF-8"},
        {{"xxpad", "xxunk", "xxbos"}, 3, "entries"},
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        uint8_t *buf;
        size_t len;
        struct loom_vocab *v = NULL;
        struct loom_error err;
        blob_of(bad[i].toks, bad[i].n, &buf, &len);
        assert_int_equal(loom_vocab_load(buf, len, &v, &err), LOOM_ERR_FORMAT);
        assert_null(v);
        if (!strstr(err.message, bad[i].msg)) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.message, bad[i].msg);
            fail();
        }
        free(buf);
    }
    /* A count larger than the tokens present. */
    uint8_t *buf;
    size_t len;
    struct loom_vocab *v = NULL;
    struct loom_blob_writer w;
    loom_blob_write_begin(&w, "LVOC", 1);
    loom_blob_put_u32(&w, 1000);
    assert_int_equal(loom_blob_write_end(&w, &buf, &len, NULL), LOOM_OK);
    assert_int_equal(loom_vocab_load(buf, len, &v, NULL), LOOM_ERR_FORMAT);
    free(buf);
    assert_int_equal(loom_vocab_load(NULL, 0, &v, NULL), LOOM_ERR_FORMAT);
}
