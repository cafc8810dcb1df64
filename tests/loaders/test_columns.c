/* test_columns.c — category codes, number normalisation with fill and flag,
 * log1p, binary spellings, label sets and vectors, and their saved forms. */
#include <string.h>

#include "loaders/blob.h"
#include "loaders/columns.h"
#include "tests/testlib.h"

#define S(text) (text), strlen(text)

/* Every byte flip and truncation of a saved buffer must be rejected. */
static void assert_damage_rejected(uint8_t *buf, size_t len,
                                   enum loom_status (*load)(const void *, size_t, void **,
                                                            struct loom_error *))
{
    for (size_t i = 0; i < len; i++) {
        void *x = NULL;
        buf[i] ^= 0x01;
        assert_int_equal(load(buf, len, &x, NULL), LOOM_ERR_FORMAT);
        assert_null(x);
        buf[i] ^= 0x01;
        assert_int_equal(load(buf, i, &x, NULL), LOOM_ERR_FORMAT);
    }
}

#define LOADER(type)                                                                               \
    static enum loom_status load_##type(const void *b, size_t n, void **out,                       \
                                        struct loom_error *err)                                    \
    {                                                                                              \
        return loom_##type##_load(b, n, (struct loom_##type **)out, err);                          \
    }
LOADER(category)
LOADER(number)
LOADER(set)
LOADER(vector)

static struct loom_category *fit_category(const char *const *values, size_t n, int64_t min_count,
                                          size_t max)
{
    struct loom_category *c;
    assert_int_equal(loom_category_new(min_count, max, &c, NULL), LOOM_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(loom_category_fit(c, S(values[i]), NULL), LOOM_OK);
    assert_int_equal(loom_category_finish(c, NULL), LOOM_OK);
    return c;
}

LOOM_TEST(category_codes_missing_unknown_rare)
{
    static const char *const v[] = {"red", "blue", "red", "", "green", "red", "blue", "pink"};
    struct loom_category *c = fit_category(v, LOOM_ARRAY_LEN(v), 2, 0);
    assert_int_equal(loom_category_count(c), 4);
    static const struct {
        const char *value;
        int32_t code;
    } want[] = {{"red", 2},  {"blue", 3},   {"", 0},   {"green", 1},
                {"pink", 1}, {"purple", 1}, {"Red", 1}};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(want); i++)
        assert_int_equal(loom_category_encode(c, S(want[i].value)), want[i].code);
    assert_int_equal(loom_category_encode(c, NULL, 0), LOOM_CATEGORY_MISSING);
    size_t len;
    assert_memory_equal(loom_category_name(c, 3, &len), "blue", 4);
    assert_null(loom_category_name(c, 1, &len));
    assert_null(loom_category_name(c, 4, &len));
    loom_category_free(&c);
    /* max_categories keeps the most frequent; ties in byte order. */
    static const char *const t[] = {"b", "a", "c", "b", "a", "c", "d"};
    c = fit_category(t, LOOM_ARRAY_LEN(t), 1, 2);
    assert_int_equal(loom_category_count(c), 4);
    assert_int_equal(loom_category_encode(c, S("a")), 2);
    assert_int_equal(loom_category_encode(c, S("b")), 3);
    assert_int_equal(loom_category_encode(c, S("c")), 1);
    loom_category_free(&c);
    /* A tie between a value and its prefix: the shorter sorts first. */
    static const char *const p[] = {"ab", "a", "ab", "a"};
    c = fit_category(p, LOOM_ARRAY_LEN(p), 1, 0);
    assert_int_equal(loom_category_encode(c, S("a")), 2);
    assert_int_equal(loom_category_encode(c, S("ab")), 3);
    loom_category_free(&c);
    /* Values too long to save are refused while fitting. */
    assert_int_equal(loom_category_new(1, 0, &c, NULL), LOOM_OK);
    size_t big = (1u << 20) + 1;
    char *huge = calloc(big, 1);
    assert_int_equal(loom_category_fit(c, huge, big, NULL), LOOM_ERR_LIMIT);
    free(huge);
    loom_category_free(&c);
    assert_int_equal(loom_category_new(0, 0, &c, NULL), LOOM_ERR_INVALID);
}

LOOM_TEST(category_save_load)
{
    static const char *const v[] = {"x", "y", "x", "z\xC3\xA9", "z\xC3\xA9", "z\xC3\xA9"};
    struct loom_category *c = fit_category(v, LOOM_ARRAY_LEN(v), 1, 0), *d = NULL;
    uint8_t *buf;
    size_t len;
    assert_int_equal(loom_category_save(c, &buf, &len, NULL), LOOM_OK);
    assert_int_equal(loom_category_load(buf, len, &d, NULL), LOOM_OK);
    assert_int_equal(loom_category_count(d), loom_category_count(c));
    for (size_t i = 0; i < LOOM_ARRAY_LEN(v); i++)
        assert_int_equal(loom_category_encode(d, S(v[i])), loom_category_encode(c, S(v[i])));
    assert_damage_rejected(buf, len, load_category);
    free(buf);
    /* A well-framed buffer with a repeated category. */
    struct loom_blob_writer w;
    loom_blob_write_begin(&w, "LCAT", 1);
    loom_blob_put_u64(&w, 1);
    loom_blob_put_u64(&w, 0);
    loom_blob_put_u32(&w, 2);
    loom_blob_put_str(&w, "a", 1);
    loom_blob_put_str(&w, "a", 1);
    assert_int_equal(loom_blob_write_end(&w, &buf, &len, NULL), LOOM_OK);
    struct loom_category *e = NULL;
    struct loom_error err;
    assert_int_equal(loom_category_load(buf, len, &e, &err), LOOM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "repeats"));
    /* The right bytes under another object's tag. */
    assert_int_equal(loom_number_load(buf, len, (struct loom_number **)&e, &err), LOOM_ERR_FORMAT);
    assert_null(e);
    free(buf);
    loom_category_free(&c);
    loom_category_free(&d);
}

static struct loom_number *fit_numbers(struct loom_number_opts o, const char *const *v, size_t n)
{
    struct loom_number *num;
    assert_int_equal(loom_number_new(&o, &num, NULL), LOOM_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal(loom_number_fit(num, S(v[i]), NULL), LOOM_OK);
    assert_int_equal(loom_number_finish(num, NULL), LOOM_OK);
    return num;
}

static void expect_encode(const struct loom_number *n, const char *text, double value,
                          float missing)
{
    float out[2];
    assert_int_equal(loom_number_encode(n, S(text), out, NULL), LOOM_OK);
    assert_near(out[0], value, 1e-6);
    assert_near(out[1], missing, 0);
}

LOOM_TEST(number_normalises_and_fills_with_median)
{
    static const char *const v[] = {"1", " 2 ", "3", "4", "", "\t"};
    struct loom_number *n = fit_numbers((struct loom_number_opts){0}, v, LOOM_ARRAY_LEN(v));
    struct loom_number_stats s = loom_number_stats(n);
    double sd = sqrt(1.25); /* population std of 1, 2, 3, 4 */
    assert_near(s.mean, 2.5, 1e-12);
    assert_near(s.std, sd, 1e-12);
    assert_near(s.fill, 2.5, 1e-12);
    assert_int_equal(s.count, 4);
    assert_int_equal(s.missing, 2);
    expect_encode(n, "4", 1.5 / sd, 0);
    expect_encode(n, "-1e1", -12.5 / sd, 0);
    expect_encode(n, "", 0, 1);
    assert_near(loom_number_decode(n, 1.5 / sd), 4, 1e-9);
    loom_number_free(&n);
    /* Odd count: the middle value, not the mean. */
    static const char *const w[] = {"10", "1", "2", ""};
    n = fit_numbers((struct loom_number_opts){0}, w, LOOM_ARRAY_LEN(w));
    s = loom_number_stats(n);
    assert_near(s.fill, 2, 0);
    expect_encode(n, "", (2 - 13.0 / 3) / s.std, 1);
    loom_number_free(&n);
    /* Mean and zero fills. */
    n = fit_numbers((struct loom_number_opts){.fill = LOOM_FILL_MEAN}, w, LOOM_ARRAY_LEN(w));
    expect_encode(n, "", 0, 1);
    loom_number_free(&n);
    n = fit_numbers((struct loom_number_opts){.fill = LOOM_FILL_ZERO}, w, LOOM_ARRAY_LEN(w));
    s = loom_number_stats(n);
    expect_encode(n, "", -s.mean / s.std, 1);
    loom_number_free(&n);
}

LOOM_TEST(number_constant_and_empty_columns)
{
    static const char *const v[] = {"5", "5", "5"};
    struct loom_number *n = fit_numbers((struct loom_number_opts){0}, v, 3);
    assert_near(loom_number_stats(n).std, 1, 0);
    expect_encode(n, "6", 1, 0);
    loom_number_free(&n);
    static const char *const e[] = {"", ""};
    n = fit_numbers((struct loom_number_opts){0}, e, 2);
    expect_encode(n, "", 0, 1);
    expect_encode(n, "3", 3, 0);
    loom_number_free(&n);
}

LOOM_TEST(number_log1p)
{
    static const char *const v[] = {"0", "1.718281828459045", "2.718281828459045"};
    struct loom_number *n = fit_numbers((struct loom_number_opts){.log1p = true}, v, 3);
    struct loom_number_stats s = loom_number_stats(n);
    assert_near(s.mean, (0 + 1 + log(3.718281828459045)) / 3, 1e-12);
    assert_near(s.fill, 1, 1e-12); /* the median of the transformed values */
    expect_encode(n, "3", (log(4) - s.mean) / s.std, 0);
    assert_near(loom_number_decode(n, (log(4) - s.mean) / s.std), 3, 1e-9);
    struct loom_error err;
    float out[2] = {42, 42};
    assert_int_equal(loom_number_encode(n, S("-0.5"), out, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "\"-0.5\""));
    assert_non_null(strstr(err.message, "log1p"));
    assert_near(out[0], 42, 0); /* not written on failure */
    loom_number_free(&n);
    struct loom_number_opts o = {.log1p = true};
    assert_int_equal(loom_number_new(&o, &n, NULL), LOOM_OK);
    assert_int_equal(loom_number_fit(n, S("-3"), &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "\"-3\""));
    assert_int_equal(loom_number_fit_value(n, -3, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_number_fit_value(n, INFINITY, &err), LOOM_ERR_NUMERIC);
    loom_number_free(&n);
}

LOOM_TEST(number_rejects_what_is_not_a_number)
{
    static const char *const v[] = {"1", "2"};
    struct loom_number *n = fit_numbers((struct loom_number_opts){0}, v, 2);
    static const struct {
        const char *text;
        enum loom_status st;
    } bad[] = {
        {"abc", LOOM_ERR_PARSE},     {"1,000", LOOM_ERR_PARSE}, {"nan", LOOM_ERR_PARSE},
        {"inf", LOOM_ERR_PARSE},     {"1e", LOOM_ERR_PARSE},    {".", LOOM_ERR_PARSE},
        {"0x10", LOOM_ERR_PARSE},    {"1 2", LOOM_ERR_PARSE},   {"--1", LOOM_ERR_PARSE},
        {"1e999", LOOM_ERR_NUMERIC},
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        struct loom_error err;
        float out[2];
        assert_int_equal(loom_number_encode(n, S(bad[i].text), out, &err), bad[i].st);
        assert_non_null(strstr(err.message, bad[i].text));
    }
    static const char *const good[] = {"+1", "-0", ".5", "5.", "1E3", "2.5e-3", " 7\t"};
    static const double gv[] = {1, 0, 0.5, 5, 1000, 2.5e-3, 7};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(good); i++) {
        struct loom_number_stats s = loom_number_stats(n);
        expect_encode(n, good[i], (gv[i] - s.mean) / s.std, 0);
    }
    loom_number_free(&n);
}

LOOM_TEST(number_save_load)
{
    static const char *const v[] = {"1", "", "7", "9.5"};
    struct loom_number *n =
        fit_numbers((struct loom_number_opts){.log1p = true}, v, LOOM_ARRAY_LEN(v));
    struct loom_number *m = NULL;
    uint8_t *buf;
    size_t len;
    assert_int_equal(loom_number_save(n, &buf, &len, NULL), LOOM_OK);
    assert_int_equal(loom_number_load(buf, len, &m, NULL), LOOM_OK);
    static const char *const probe[] = {"", "0", "3.25", "100"};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(probe); i++) {
        float a[2], b[2];
        assert_int_equal(loom_number_encode(n, S(probe[i]), a, NULL), LOOM_OK);
        assert_int_equal(loom_number_encode(m, S(probe[i]), b, NULL), LOOM_OK);
        assert_memory_equal(a, b, sizeof a);
    }
    assert_damage_rejected(buf, len, load_number);
    free(buf);
    /* Well framed but meaningless: std 0, a NaN mean, an unknown fill. */
    static const struct {
        uint8_t log1p, fill;
        double mean, std;
    } bad[] = {{0, 0, 0, 0}, {0, 0, NAN, 1}, {0, 7, 0, 1}, {2, 0, 0, 1}};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        struct loom_blob_writer w;
        loom_blob_write_begin(&w, "LNUM", 1);
        loom_blob_put_u8(&w, bad[i].log1p);
        loom_blob_put_u8(&w, bad[i].fill);
        loom_blob_put_f64(&w, bad[i].mean);
        loom_blob_put_f64(&w, bad[i].std);
        loom_blob_put_f64(&w, 0);
        loom_blob_put_u64(&w, 1);
        loom_blob_put_u64(&w, 0);
        assert_int_equal(loom_blob_write_end(&w, &buf, &len, NULL), LOOM_OK);
        struct loom_number *x = NULL;
        assert_int_equal(loom_number_load(buf, len, &x, NULL), LOOM_ERR_FORMAT);
        assert_null(x);
        free(buf);
    }
    loom_number_free(&n);
    loom_number_free(&m);
}

LOOM_TEST(binary_spellings)
{
    static const struct {
        const char *text;
        int value;
    } ok[] = {{"1", 1}, {"0", 0}, {"true", 1}, {"FALSE", 0}, {"Yes", 1},  {"no", 0}, {"Y", 1},
              {"n", 0}, {"T", 1}, {"f", 0},    {" yes ", 1}, {"tRuE", 1}, {"", -1},  {" \t", -1}};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(ok); i++) {
        int v = 42;
        assert_int_equal(loom_binary_parse(S(ok[i].text), &v, NULL), LOOM_OK);
        assert_int_equal(v, ok[i].value);
    }
    static const char *const bad[] = {"maybe", "2", "yess", "10", "on", "-1", "tru"};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        int v = 42;
        struct loom_error err;
        assert_int_equal(loom_binary_parse(S(bad[i]), &v, &err), LOOM_ERR_PARSE);
        assert_int_equal(v, 42);
        assert_non_null(strstr(err.message, bad[i]));
    }
}

LOOM_TEST(set_multi_hot)
{
    struct loom_set *s, *t = NULL;
    assert_int_equal(loom_set_new(";", 1, 0, &s, NULL), LOOM_OK);
    static const char *const rows[] = {"a;b", "b; c", "", "a;;a", " a "};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(rows); i++)
        assert_int_equal(loom_set_fit(s, S(rows[i]), NULL), LOOM_OK);
    assert_int_equal(loom_set_finish(s, NULL), LOOM_OK);
    /* a: 4, b: 2, c: 1 */
    assert_int_equal(loom_set_size(s), 3);
    size_t len;
    assert_memory_equal(loom_set_label(s, 0, &len), "a", 1);
    assert_memory_equal(loom_set_label(s, 2, &len), "c", 1);
    float out[3];
    int32_t unknown = -1;
    assert_int_equal(loom_set_encode(s, S("c; x ;a;a"), out, &unknown, NULL), LOOM_OK);
    const float want[3] = {1, 0, 1};
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(unknown, 1);
    assert_int_equal(loom_set_encode(s, S(""), out, &unknown, NULL), LOOM_OK);
    const float none[3] = {0, 0, 0};
    assert_memory_equal(out, none, sizeof none);
    assert_int_equal(unknown, 0);
    uint8_t *buf;
    assert_int_equal(loom_set_save(s, &buf, &len, NULL), LOOM_OK);
    assert_int_equal(loom_set_load(buf, len, &t, NULL), LOOM_OK);
    assert_int_equal(loom_set_size(t), 3);
    assert_int_equal(loom_set_encode(t, S("b|c;b"), out, &unknown, NULL), LOOM_OK);
    const float want2[3] = {0, 1, 0};
    assert_memory_equal(out, want2, sizeof want2);
    assert_int_equal(unknown, 1); /* "b|c" */
    assert_damage_rejected(buf, len, load_set);
    free(buf);
    loom_set_free(&s);
    loom_set_free(&t);
    /* min_count and max_labels; bad separators. */
    assert_int_equal(loom_set_new("|", 2, 1, &s, NULL), LOOM_OK);
    for (size_t i = 0; i < 3; i++) assert_int_equal(loom_set_fit(s, S("x|y|y|z"), NULL), LOOM_OK);
    assert_int_equal(loom_set_fit(s, S("q"), NULL), LOOM_OK);
    assert_int_equal(loom_set_finish(s, NULL), LOOM_OK);
    assert_int_equal(loom_set_size(s), 1);
    assert_memory_equal(loom_set_label(s, 0, &len), "y", 1);
    loom_set_free(&s);
    assert_int_equal(loom_set_new(" ", 1, 0, &s, NULL), LOOM_ERR_INVALID);
    assert_int_equal(loom_set_new("", 1, 0, &s, NULL), LOOM_ERR_INVALID);
    assert_int_equal(loom_set_new("123456789", 1, 0, &s, NULL), LOOM_ERR_INVALID);
}

LOOM_TEST(vector_dimension_and_errors)
{
    struct loom_vector *v, *w = NULL;
    struct loom_error err;
    assert_int_equal(loom_vector_new(",", &v, NULL), LOOM_OK);
    assert_int_equal(loom_vector_fit(v, S("1,2,3"), NULL), LOOM_OK);
    assert_int_equal(loom_vector_fit(v, S(""), NULL), LOOM_OK);
    assert_int_equal(loom_vector_fit(v, S("[4, 5.5, -6e-1]"), NULL), LOOM_OK);
    assert_int_equal(loom_vector_fit(v, S("1,2"), &err), LOOM_ERR_SHAPE);
    assert_non_null(strstr(err.message, "dimension 2"));
    assert_non_null(strstr(err.message, "dimension 3"));
    assert_int_equal(loom_vector_finish(v, NULL), LOOM_OK);
    assert_int_equal(loom_vector_dim(v), 3);
    float out[3] = {42, 42, 42};
    assert_int_equal(loom_vector_encode(v, S(" [7, 8 ,9] "), out, NULL), LOOM_OK);
    const float want[3] = {7, 8, 9};
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(loom_vector_encode(v, S(""), out, NULL), LOOM_OK);
    const float zero[3] = {0, 0, 0};
    assert_memory_equal(out, zero, sizeof zero);
    out[0] = 42;
    static const struct {
        const char *text, *msg;
        enum loom_status st;
    } bad[] = {
        {"1,x,3", "\"x\"", LOOM_ERR_PARSE},           {"1,,3", "element 2", LOOM_ERR_PARSE},
        {"1,2,3,4", "dimension 4", LOOM_ERR_SHAPE},   {"1,2,3,", "element 4", LOOM_ERR_PARSE},
        {"1,2,1e300", "overflows", LOOM_ERR_NUMERIC},
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        assert_int_equal(loom_vector_encode(v, S(bad[i].text), out, &err), bad[i].st);
        if (!strstr(err.message, bad[i].msg)) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.message, bad[i].msg);
            fail();
        }
        assert_near(out[0], 42, 0);
    }
    uint8_t *buf;
    size_t len;
    assert_int_equal(loom_vector_save(v, &buf, &len, NULL), LOOM_OK);
    assert_int_equal(loom_vector_load(buf, len, &w, NULL), LOOM_OK);
    assert_int_equal(loom_vector_dim(w), 3);
    assert_damage_rejected(buf, len, load_vector);
    free(buf);
    loom_vector_free(&v);
    loom_vector_free(&w);
    /* A blank separator: runs count as one. */
    assert_int_equal(loom_vector_new(" ", &v, NULL), LOOM_OK);
    assert_int_equal(loom_vector_fit(v, S("0.1  0.2 0.3"), NULL), LOOM_OK);
    assert_int_equal(loom_vector_finish(v, NULL), LOOM_OK);
    assert_int_equal(loom_vector_dim(v), 3);
    loom_vector_free(&v);
    /* No value at all in training. */
    assert_int_equal(loom_vector_new(";", &v, NULL), LOOM_OK);
    assert_int_equal(loom_vector_fit(v, S(""), NULL), LOOM_OK);
    assert_int_equal(loom_vector_finish(v, NULL), LOOM_ERR_INVALID);
    loom_vector_free(&v);
}
