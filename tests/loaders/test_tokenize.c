/* test_tokenize.c — the tokenizer: non-ASCII text, case markers, punctuation,
 * numbers, whitespace kinds, invalid UTF-8, truncation, random bytes. */
#include <string.h>

#include "loaders/tokenize.h"
#include "tests/testlib.h"

/* Tokens joined by '|' into a fixed buffer. */
struct joined {
    char s[4096];
    size_t len;
    int n;
};

static enum loom_status join_cb(void *user, const struct loom_token *t)
{
    struct joined *j = user;
    assert_true(t->len >= 1 && t->len <= LOOM_TOKEN_MAX_BYTES);
    assert_true(loom_utf8_is_valid(t->text, t->len));
    assert_true(j->len + t->len + 2 < sizeof j->s);
    if (j->n++) j->s[j->len++] = '|';
    memcpy(j->s + j->len, t->text, t->len);
    j->len += t->len;
    j->s[j->len] = '\0';
    return LOOM_OK;
}

static const char *tokens(const struct loom_tokenize_opts *o, const char *text, size_t max,
                          struct joined *j)
{
    memset(j, 0, sizeof *j);
    assert_int_equal(loom_tokenize(o, text, strlen(text), max, join_cb, j), LOOM_OK);
    return j->s;
}

static const struct {
    const char *text, *want;
} cases[] = {
    {"Hello world", "xxmaj|hello|world"},
    {"HELLO World", "xxup|hello|xxmaj|world"},
    {"I am A person", "xxmaj|i|am|xxmaj|a|person"}, /* one capital letter: xxmaj */
    {"MP3 A1 iPhone McDonald's", "xxup|mp3|xxup|a1|iphone|xxmaj|mcdonald's"},
    {"Hi, there!", "xxmaj|hi|,|there|!"},
    {"e-mail $5 50% (ok)", "e|-|mail|$|5|50|%|(|ok|)"},
    {"'quoted' end.", "'|quoted|'|end|."},
    {"don't don\xE2\x80\x99t", "don't|don't"},
    /* Numbers: '.' and ',' between digits join. */
    {"Price: 12.5 or 1,000 units.", "xxmaj|price|:|12.5|or|1,000|units|."},
    {"1, 2 3.14.15 v1.2 -7", "1|,|2|3.14.15|v1.2|-|7"},
    /* French, German, Greek (final sigma), Cyrillic. */
    {"L'\xC3\x89t\xC3\xA9 \xC3\xA0 Paris, c'est tr\xC3\xA8s beau",
     "xxmaj|l'\xC3\xA9t\xC3\xA9|\xC3\xA0|xxmaj|paris|,|c'est|tr\xC3\xA8s|beau"},
    {"Stra\xC3\x9F"
     "e GRO\xE1\xBA\x9E \xC3\x9C"
     "BER",
     "xxmaj|stra\xC3\x9F"
     "e|xxup|gro\xC3\x9F|xxup|\xC3\xBC"
     "ber"},
    {"\xCE\x9A\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xAD\xCF\x81\xCE\xB1 "
     "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 "
     "\xCE\xA3",
     "xxmaj|\xCE\xBA\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xAD\xCF\x81\xCE\xB1|xxup|"
     "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82|xxmaj|\xCF\x83"},
    {"\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\x9C\xD0\x98\xD0\xA0 "
     "\xD0\x81\xD0\xBB\xD0\xBA\xD0\xB0",
     "xxmaj|\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82|xxup|\xD0\xBC\xD0\xB8\xD1\x80|xxmaj|"
     "\xD1\x91\xD0\xBB\xD0\xBA\xD0\xB0"},
    {"\xC4\xB0stanbul \xC5\x81\xC3\xB3"
     "d\xC5\xBA", /* İ -> i, Ł -> ł */
     "xxmaj|istanbul|xxmaj|\xC5\x82\xC3\xB3"
     "d\xC5\xBA"},
    /* Emoji with variation selector, repeated, skin tone, ZWJ family, flag. */
    {"I \xE2\x9D\xA4\xEF\xB8\x8F pizza\xF0\x9F\x8D\x95\xF0\x9F\x8D\x95 "
     "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD "
     "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 "
     "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7",
     "xxmaj|i|\xE2\x9D\xA4\xEF\xB8\x8F|pizza|\xF0\x9F\x8D\x95|\xF0\x9F\x8D\x95|"
     "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD|"
     "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7|"
     "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"},
    /* CJK ideographs and kana one per token; CJK punctuation split. */
    {"\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x82\xBF\xE3\x83\xAF\xE3\x83\xBC is "
     "\xE6\x97\xA5\xE6\x9C\xAC\xE3\x80\x82",
     "\xE6\x9D\xB1|\xE4\xBA\xAC|\xE3\x82\xBF|\xE3\x83\xAF|\xE3\x83\xBC|is|\xE6\x97\xA5|"
     "\xE6\x9C\xAC|"
     "\xE3\x80\x82"},
    /* Whitespace of every kind: NBSP, thin space, ideographic, narrow NBSP,
     * zero-width space, BOM, tabs, CRLF; controls dropped. */
    {"a\xC2\xA0"
     "b\xE2\x80\x89"
     "c\xE3\x80\x80"
     "d\xE2\x80\xAF"
     "e\xE2\x80\x8B"
     "f\xEF\xBB\xBFg\th\r\ni\x01j",
     "a|b|c|d|e|f|g|h|i|j"},
    /* Invalid UTF-8: one U+FFFD per maximal invalid subpart, kept in words. */
    {"caf\xE9 ok", "caf\xEF\xBF\xBD|ok"},
    {"\xF0\x9F\x98 x", "\xEF\xBF\xBD|x"},
    {"a\xC0\xAF"
     "b",
     "a\xEF\xBF\xBD\xEF\xBF\xBD"
     "b"},
    {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},                 /* a surrogate */
    {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* > U+10FFFF */
    {"x\xE2\x82", "x\xEF\xBF\xBD"},                                           /* cut at the end */
    {"", ""},
    {" \t\r\n ", ""},
};

LOOM_TEST(tokenize_table)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        struct joined j;
        const char *got = tokens(NULL, cases[i].text, SIZE_MAX, &j);
        if (strcmp(got, cases[i].want) != 0) {
            fprintf(stderr, "case %zu: got \"%s\", want \"%s\"\n", i, got, cases[i].want);
            fail();
        }
    }
}

LOOM_TEST(tokenize_options)
{
    struct joined j;
    struct loom_tokenize_opts o = {.lowercase = true, .case_markers = false};
    assert_string_equal(tokens(&o, "HELLO World", SIZE_MAX, &j), "hello|world");
    o = (struct loom_tokenize_opts){.lowercase = false, .case_markers = true};
    assert_string_equal(tokens(&o, "HELLO World", SIZE_MAX, &j), "HELLO|World");
}

LOOM_TEST(tokenize_truncates_at_whole_tokens)
{
    struct joined j;
    /* Three-byte ideographs: two tokens, whole characters. */
    assert_string_equal(tokens(NULL, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 2, &j),
                        "\xE6\x97\xA5|\xE6\x9C\xAC");
    /* A marker is never left without its word. */
    assert_string_equal(tokens(NULL, "Hello World", 3, &j), "xxmaj|hello");
    assert_string_equal(tokens(NULL, "Hello World", 1, &j), "");
    assert_string_equal(tokens(NULL, "ab cd", 0, &j), "");
    assert_int_equal(j.n, 0);
}

LOOM_TEST(tokenize_cuts_long_words_at_a_character)
{
    char text[1024];
    struct joined j;
    /* 'a' + 300 x 'é' (2 bytes): 1 + 2k <= 128 gives 63 of them, 127 bytes. */
    size_t n = 0;
    text[n++] = 'a';
    for (int i = 0; i < 300; i++) text[n++] = (char)0xC3, text[n++] = (char)0xA9;
    memcpy(text + n, " next", 6);
    tokens(NULL, text, SIZE_MAX, &j);
    assert_int_equal(j.n, 2);
    assert_int_equal(strchr(j.s, '|') - j.s, 127);
    assert_string_equal(strchr(j.s, '|') + 1, "next");
    /* 100 x U+65E5 (3 bytes): 42 fit, 126 bytes. */
    n = 0;
    for (int i = 0; i < 100; i++)
        text[n++] = (char)0xE6, text[n++] = (char)0x97, text[n++] = (char)0xA5;
    text[n] = '\0';
    tokens(NULL, text, SIZE_MAX, &j); /* ideographs are one token each */
    assert_int_equal(j.n, 100);
    n = 0;
    text[n++] = 'x';
    for (int i = 0; i < 100; i++)
        text[n++] = (char)0xE1, text[n++] = (char)0xBA, text[n++] = (char)0xA1;
    text[n] = '\0';
    tokens(NULL, text, SIZE_MAX, &j); /* x + U+1EA1 (a letter): one word, 1 + 3*42 bytes */
    assert_int_equal(j.n, 1);
    assert_int_equal(j.len, 127);
}

static enum loom_status stop_cb(void *user, const struct loom_token *t)
{
    (void)t;
    return ++*(int *)user == 2 ? LOOM_ERR_NOMEM : LOOM_OK;
}

LOOM_TEST(tokenize_stops_on_callback_error)
{
    int calls = 0;
    assert_int_equal(loom_tokenize(NULL, "a b c d", 7, SIZE_MAX, stop_cb, &calls), LOOM_ERR_NOMEM);
    assert_int_equal(calls, 2);
}

LOOM_TEST(tokenize_random_bytes_give_valid_tokens)
{
    /* Random bytes biased towards UTF-8 lead and continuation bytes: the
     * callback asserts every token is 1..128 bytes of valid UTF-8. */
    uint64_t s = 0x9E3779B97F4A7C15ull;
    char text[300];
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)(round % 300);
        for (size_t i = 0; i < len; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            uint8_t r = (uint8_t)(s >> 56);
            text[i] = (char)(r < 64 ? 0x80 | (r & 0x3f) : r < 96 ? 0xE0 | (r & 0x1f) : r);
        }
        struct joined j = {.len = 0};
        assert_int_equal(loom_tokenize(NULL, text, len, SIZE_MAX, join_cb, &j), LOOM_OK);
    }
}

LOOM_TEST(utf8_decode_and_case_table)
{
    uint32_t cp;
    assert_int_equal(loom_utf8_decode("\xE2\x82\xAC", 3, &cp), 3);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(loom_utf8_decode("\xC1\xBF", 2, &cp), 1); /* overlong lead */
    assert_int_equal(cp, LOOM_UTF8_REPLACEMENT);
    assert_int_equal(loom_utf8_decode("\xE0\x80\x80", 3, &cp), 1); /* overlong */
    assert_int_equal(loom_utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    assert_true(loom_utf8_is_valid("\xEF\xBF\xBD", 3));
    assert_false(loom_utf8_is_valid("\xF0\x9F\x98", 3));
    assert_false(loom_utf8_is_valid("\xF0\x9F\x98\x41", 4));
    static const uint32_t pairs[][2] = {
        {'A', 'a'},       {0xC0, 0xE0},     {0xDE, 0xFE},   {0xDF, 0xDF},   {0x100, 0x101},
        {0x101, 0x101},   {0x130, 'i'},     {0x139, 0x13A}, {0x178, 0xFF},  {0x17D, 0x17E},
        {0x386, 0x3AC},   {0x38F, 0x3CE},   {0x391, 0x3B1}, {0x3A3, 0x3C3}, {0x401, 0x451},
        {0x42F, 0x44F},   {0x490, 0x491},   {0x4C1, 0x4C2}, {0x1E9E, 0xDF}, {0x1EA0, 0x1EA1},
        {0xFF21, 0xFF41}, {0x4E00, 0x4E00}, {'1', '1'},
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(pairs); i++)
        assert_int_equal(loom_unicode_lower(pairs[i][0]), pairs[i][1]);
}
