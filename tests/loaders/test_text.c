/* test_text.c — UTF-8 validation and strict number parsing, table-driven. */
#include <locale.h>
#include <string.h>

#include "loaders/text.h"
#include "tests/testlib.h"

struct utf8_case {
    const char *s;
    size_t len, bad; /* bad == len: valid */
};

#define U(s, bad)                                                                                  \
    {                                                                                              \
        s, sizeof(s) - 1, bad                                                                      \
    }

LOOM_TEST(utf8_check_cases)
{
    static const struct utf8_case cases[] = {
        U("", 0),
        U("plain ascii, long enough for the 8-byte path", 44),
        U("\xC3\xA9", 2),              /* é */
        U("\xE2\x82\xAC", 3),          /* € */
        U("\xF0\x9F\x98\x80", 4),      /* U+1F600 */
        U("\xF4\x8F\xBF\xBF", 4),      /* U+10FFFF, the last */
        U("\xED\x9F\xBF", 3),          /* U+D7FF, just below the surrogates */
        U("\xEE\x80\x80", 3),          /* U+E000, just above */
        U("abc\x80", 3),               /* stray continuation */
        U("\xC0\x80", 0),              /* overlong NUL */
        U("\xC1\xBF", 0),              /* overlong */
        U("\xE0\x9F\xBF", 0),          /* overlong 3-byte */
        U("\xF0\x8F\xBF\xBF", 0),      /* overlong 4-byte */
        U("\xED\xA0\x80", 0),          /* U+D800 */
        U("\xED\xBF\xBF", 0),          /* U+DFFF */
        U("\xF4\x90\x80\x80", 0),      /* U+110000 */
        U("\xF5\x80\x80\x80", 0),      /* lead byte past F4 */
        U("\xFF", 0),                  /* never in UTF-8 */
        U("x\xE2\x82", 1),             /* cut short by the end */
        U("xy\xF0\x9F\x98", 2),        /* cut short by the end */
        U("\xE2\x28\xA1", 0),          /* bad second byte */
        U("\xF0\x9F\x28\x80", 0),      /* bad third byte */
        U("12345678\xC3\xA9\xC3", 10), /* after the 8-byte path */
        U("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9z\xC3", 11),
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        size_t got = loom_utf8_check(cases[i].s, cases[i].len);
        if (got != cases[i].bad) fail_msg("case %zu: %zu, want %zu", i, got, cases[i].bad);
    }
}

struct num_case {
    const char *s;
    enum loom_status status;
    double value;
};

LOOM_TEST(parse_number_cases)
{
    static const struct num_case cases[] = {
        {"0", LOOM_OK, 0},
        {"42", LOOM_OK, 42},
        {"-7", LOOM_OK, -7},
        {"+3.25", LOOM_OK, 3.25},
        {"1.", LOOM_OK, 1},
        {".5", LOOM_OK, 0.5},
        {"-.5e-1", LOOM_OK, -0.05},
        {"1e3", LOOM_OK, 1000},
        {"1E+3", LOOM_OK, 1000},
        {"  12.5\t", LOOM_OK, 12.5},
        {"007", LOOM_OK, 7},
        {"0.1", LOOM_OK, 0.1},
        {"1e-400", LOOM_OK, 0}, /* underflow is a (tiny) number */
        {"123456789012345678901234567890", LOOM_OK, 1.2345678901234568e29},
        {"", LOOM_ERR_PARSE, 0},
        {"   ", LOOM_ERR_PARSE, 0},
        {".", LOOM_ERR_PARSE, 0},
        {"-", LOOM_ERR_PARSE, 0},
        {"+.", LOOM_ERR_PARSE, 0},
        {"e5", LOOM_ERR_PARSE, 0},
        {"1e", LOOM_ERR_PARSE, 0},
        {"1e+", LOOM_ERR_PARSE, 0},
        {"1.2.3", LOOM_ERR_PARSE, 0},
        {"12abc", LOOM_ERR_PARSE, 0},
        {"1 2", LOOM_ERR_PARSE, 0},
        {"0x10", LOOM_ERR_PARSE, 0},
        {"nan", LOOM_ERR_PARSE, 0},
        {"NaN", LOOM_ERR_PARSE, 0},
        {"inf", LOOM_ERR_PARSE, 0},
        {"-Infinity", LOOM_ERR_PARSE, 0},
        {"1,5", LOOM_ERR_PARSE, 0},
        {"1_000", LOOM_ERR_PARSE, 0},
        {"--1", LOOM_ERR_PARSE, 0},
        {"\xE2\x88\x92"
         "1",
         LOOM_ERR_PARSE, 0}, /* U+2212 minus */
        {"1e999", LOOM_ERR_NUMERIC, 0},
        {"-1e309", LOOM_ERR_NUMERIC, 0},
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        double v = -12345;
        enum loom_status st = loom_parse_number(cases[i].s, strlen(cases[i].s), &v);
        if (st != cases[i].status)
            fail_msg("'%s': status %d, want %d", cases[i].s, st, cases[i].status);
        if (st == LOOM_OK)
            assert_near(v, cases[i].value, 1e-12 * fabs(cases[i].value));
        else
            assert_near(v, -12345, 0); /* untouched on failure */
    }
}

LOOM_TEST(parse_number_reads_only_len_bytes)
{
    double v = 0;
    assert_int_equal(loom_parse_number("12345", 2, &v), LOOM_OK);
    assert_near(v, 12, 0);
    assert_int_equal(loom_parse_number("1.5x", 3, &v), LOOM_OK);
    assert_near(v, 1.5, 0);
    /* Long numbers (past the 128-byte stack copy). */
    char big[300]; /* .000…05 = 5e-299 */
    memset(big, '0', sizeof big);
    big[0] = '.';
    big[sizeof big - 1] = '5';
    assert_int_equal(loom_parse_number(big, sizeof big, &v), LOOM_OK);
    assert_true(v > 4e-299 && v < 6e-299);
}

/* A locale with a decimal comma must not change what '.' means. */
LOOM_TEST(parse_number_ignores_locale)
{
    static const char *const names[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "C.UTF-8"};
    const char *set = NULL;
    for (size_t i = 0; i < LOOM_ARRAY_LEN(names) && !set; i++)
        set = setlocale(LC_NUMERIC, names[i]);
    double v = 0;
    assert_int_equal(loom_parse_number("2.5", 3, &v), LOOM_OK);
    assert_near(v, 2.5, 0);
    assert_int_equal(loom_parse_number("2,5", 3, &v), LOOM_ERR_PARSE);
    setlocale(LC_NUMERIC, "C");
}
