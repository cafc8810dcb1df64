/*
 * test_api.c — the public API's contract: versions, schema introspection,
 * rows that are odd but valid (empty bag, no text, unseen category, all
 * missing), photos that are bad (dropped with a warning, never a failure),
 * values that are bad and arguments that are bad (errors naming the row and
 * column, never a crash), limits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

static loom_model *open_model(void)
{
    loom_model *m = NULL;
    struct loom_error err = {0};
    enum loom_status st = loom_model_open(ax_model_path(), &m, &err);
    if (st) fail_msg("%s", err.message);
    return m;
}

LOOM_TEST(api_version)
{
    assert_string_equal(loom_version(), LOOM_VERSION_STRING);
    assert_int_equal(LOOM_VERSION_NUMBER, 100);
    assert_string_equal(loom_strerror(LOOM_ERR_INVALID), "invalid argument");
    assert_string_equal(loom_strerror((enum loom_status)999), "unknown status");
    assert_string_equal(loom_type_name(LOOM_TYPE_IMAGES), "images");
}

LOOM_TEST(api_schema_introspection)
{
    loom_model *m = open_model();
    assert_int_equal(loom_model_input_count(m), 6);
    static const struct {
        const char *name;
        enum loom_type type;
        int width;
    } in[] = {{"title", LOOM_TYPE_TEXT, 9},  {"condition", LOOM_TYPE_CATEGORY, 1},
              {"year", LOOM_TYPE_NUMBER, 1}, {"posted", LOOM_TYPE_DATE, 1},
              {"tags", LOOM_TYPE_SET, 2},    {"photos", LOOM_TYPE_IMAGES, 16}};
    for (int i = 0; i < 6; i++) {
        struct loom_input_info info;
        assert_int_equal(loom_model_input(m, i, &info), LOOM_OK);
        assert_string_equal(info.name, in[i].name);
        assert_int_equal(info.type, in[i].type);
        assert_int_equal(info.width, in[i].width);
    }
    struct loom_input_info ph;
    assert_int_equal(loom_model_input(m, 5, &ph), LOOM_OK);
    assert_int_equal(ph.max_photos, 2);
    assert_int_equal(ph.separator, '|');
    assert_int_equal(loom_model_input(m, 6, &ph), LOOM_ERR_INVALID);
    assert_int_equal(loom_model_input(m, -1, &ph), LOOM_ERR_INVALID);
    assert_int_equal(loom_model_input(NULL, 0, &ph), LOOM_ERR_INVALID);
    assert_int_equal(loom_model_output_count(m), 5);
    static const struct {
        const char *name;
        enum loom_type type;
        int width;
    } out[] = {{"price", LOOM_TYPE_NUMBER, 1},
               {"kind", LOOM_TYPE_CATEGORY, 4},
               {"fraud", LOOM_TYPE_BINARY, 1},
               {"extras", LOOM_TYPE_SET, 3},
               {"style", LOOM_TYPE_VECTOR, 2}};
    for (int j = 0; j < 5; j++) {
        struct loom_output_info info;
        assert_int_equal(loom_model_output(m, j, &info), LOOM_OK);
        assert_string_equal(info.name, out[j].name);
        assert_int_equal(info.type, out[j].type);
        assert_int_equal(info.width, out[j].width);
    }
    struct loom_output_info oi;
    assert_int_equal(loom_model_output(m, 5, &oi), LOOM_ERR_INVALID);
    /* kind's labels: the four kinds, NUL-terminated */
    int found = 0;
    for (int k = 0; k < 4; k++) {
        size_t len = 0;
        const char *l = loom_model_output_label(m, 1, k, &len);
        assert_non_null(l);
        assert_int_equal(strlen(l), len);
        found += !strcmp(l, "bike") + !strcmp(l, "phone") + !strcmp(l, "sofa") + !strcmp(l, "lamp");
    }
    assert_int_equal(found, 4);
    assert_null(loom_model_output_label(m, 1, 4, NULL));
    assert_null(loom_model_output_label(m, 0, 0, NULL)); /* a number */
    assert_non_null(loom_model_output_label(m, 3, 0, NULL));
    assert_int_equal(loom_model_embedding_width(m), 16);
    assert_int_equal(loom_model_embedding_width(NULL), 0);
    loom_model_close(&m);
    loom_model_close(&m); /* NULL: fine */
    loom_model_close(NULL);
}

/* Every value of a result is finite; probabilities in [0, 1]. */
static void check_sane(const loom_model *m, const loom_result *r)
{
    for (int j = 0; j < loom_result_output_count(r); j++) {
        struct loom_output_info info;
        assert_int_equal(loom_model_output(m, j, &info), LOOM_OK);
        int w;
        const double *v = loom_result_values(r, j, &w);
        assert_non_null(v);
        for (int64_t i = 0; i < loom_result_rows(r); i++) {
            double sum = 0;
            for (int k = 0; k < w; k++) {
                double x = v[i * w + k];
                assert_true(isfinite(x));
                if (info.type != LOOM_TYPE_NUMBER && info.type != LOOM_TYPE_VECTOR)
                    assert_true(x >= 0 && x <= 1);
                sum += x;
            }
            if (info.type == LOOM_TYPE_CATEGORY) {
                assert_near(sum, 1.0, 1e-9);
                int32_t l = loom_result_label(r, j, i);
                assert_true(l >= 0 && l < w);
                for (int k = 0; k < w; k++) assert_true(v[i * w + k] <= v[i * w + l]);
            }
            if (info.type == LOOM_TYPE_BINARY)
                assert_int_equal(loom_result_label(r, j, i), v[i] > 0.5);
            if (info.type == LOOM_TYPE_NUMBER) assert_true(v[i] > 0); /* log1p price */
        }
    }
}

static void set(loom_rows *rows, int64_t i, const char *col, const char *v)
{
    struct loom_error err = {0};
    if (loom_rows_set_string(rows, i, col, v, strlen(v), &err)) fail_msg("%s", err.message);
}

/* Odd but valid rows all predict: an empty bag, no text, a category never
 * seen, every input missing, a date with a time, blanks. */
LOOM_TEST(api_odd_rows_predict)
{
    loom_model *m = open_model();
    struct loom_error err = {0};
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    assert_int_equal(loom_session_new(m, &s, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &rows, &err), LOOM_OK);
    int64_t i;
    assert_int_equal(loom_rows_add(rows, &i, &err), LOOM_OK); /* 0: all missing */
    assert_int_equal(i, 0);
    assert_int_equal(loom_rows_add(rows, &i, &err), LOOM_OK); /* 1: no text, no photo */
    set(rows, i, "condition", "used");
    assert_int_equal(loom_rows_set_number(rows, i, "year", 2015, &err), LOOM_OK);
    set(rows, i, "title", "");
    assert_int_equal(loom_rows_add(rows, &i, &err), LOOM_OK); /* 2: unseen everything */
    set(rows, i, "condition", "refurbished");
    set(rows, i, "title", "zzz qqq unheard-of words ünïcödé 🚲");
    set(rows, i, "tags", "never|seen");
    set(rows, i, "posted", "2031-02-03T10:11:12");
    set(rows, i, "year", "  1999 ");
    assert_int_equal(loom_rows_add(rows, &i, &err), LOOM_OK); /* 3: blanks = missing */
    set(rows, i, "year", "   ");
    set(rows, i, "posted", "");
    set(rows, i, "id", "anything"); /* an id column: accepted, ignored */
    assert_int_equal(loom_rows_count(rows), 4);
    const loom_result *r = NULL;
    assert_int_equal(loom_predict(s, rows, &r, &err), LOOM_OK);
    assert_int_equal(loom_result_rows(r), 4);
    assert_int_equal(loom_result_output_count(r), 5);
    check_sane(m, r);
    /* all-missing rows are the same row: 0 and 3 agree */
    for (int j = 0; j < 5; j++) {
        int w;
        const double *v = loom_result_values(r, j, &w);
        assert_memory_equal(v, v + 3 * w, (size_t)w * sizeof(double));
    }
    /* an empty batch */
    loom_rows_clear(rows);
    assert_int_equal(loom_rows_count(rows), 0);
    assert_int_equal(loom_predict(s, rows, &r, &err), LOOM_OK);
    assert_int_equal(loom_result_rows(r), 0);
    assert_null(loom_result_embedding(r, NULL));
    assert_int_equal(loom_result_label(r, 1, 0), -1);
    loom_rows_free(&rows);
    loom_rows_free(&rows);
    loom_session_free(&s);
    loom_session_free(&s);
    loom_model_close(&m);
}

/* Corrupt, truncated, foreign and oversized photos are dropped with a
 * warning; the row scores as if they were not there. */
LOOM_TEST(api_bad_photos_are_dropped)
{
    loom_model *m = open_model();
    struct ax_csv t;
    ax_csv_read(&t, "train.csv");
    int64_t src = 0;
    while (!*t.rows[src][ax_csv_col(&t, "photos")]) src++;
    char path[4096];
    snprintf(path, sizeof path, "%s/photos/%.*s", ax_dir(),
             (int)strcspn(t.rows[src][ax_csv_col(&t, "photos")], "|"),
             t.rows[src][ax_csv_col(&t, "photos")]);
    size_t n;
    uint8_t *jpeg = ax_read_file(path, &n);
    struct loom_error err = {0};
    loom_session *s = NULL;
    loom_rows *good = NULL, *bad = NULL;
    assert_int_equal(loom_session_new(m, &s, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &good, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &bad, &err), LOOM_OK);
    int64_t i;
    assert_int_equal(loom_rows_add(good, &i, &err), LOOM_OK);
    set(good, i, "title", "red bike");
    assert_int_equal(loom_rows_add_image(good, i, "photos", jpeg, n, &err), LOOM_OK);
    /* the same row with junk around its one good photo */
    assert_int_equal(loom_rows_add(bad, &i, &err), LOOM_OK);
    set(bad, i, "title", "red bike");
    const char junk[] = "this is not an image";
    uint8_t png_bomb[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0,
                          13,   'I', 'H', 'D', 'R',  0,    1,    0,    0, 0, 1,
                          0,    0,   8,   2,   0,    0,    0,    0,    0, 0, 0};
    assert_int_equal(loom_rows_add_image(bad, i, "photos", junk, sizeof junk, &err), LOOM_OK);
    assert_int_equal(loom_rows_add_image(bad, i, "photos", jpeg, n / 2, &err), LOOM_OK);
    assert_int_equal(loom_rows_add_image(bad, i, "photos", NULL, 0, &err), LOOM_OK);
    assert_int_equal(loom_rows_add_image(bad, i, "photos", png_bomb, sizeof png_bomb, &err),
                     LOOM_OK);
    assert_int_equal(loom_rows_add_image(bad, i, "photos", jpeg, n, &err), LOOM_OK);
    assert_int_equal(loom_rows_add_image_path(bad, i, "photos", "/nonexistent/x.jpg", &err),
                     LOOM_OK);
    assert_int_equal(loom_rows_add_image_path(bad, i, "photos", ax_dir(), &err), LOOM_OK);
    assert_int_equal(loom_rows_warning_count(bad), 6);
    for (int k = 0; k < 6; k++) {
        struct loom_warning w;
        assert_int_equal(loom_rows_warning(bad, k, &w), LOOM_OK);
        printf("    photo %d: %s: %s\n", w.photo, loom_strerror(w.code), w.message);
        assert_int_equal(w.row, 0);
        assert_string_equal(w.column, "photos");
        assert_int_equal(w.photo, k < 4 ? k : k + 1);
        assert_true(w.code != LOOM_OK && strlen(w.message) > 0);
    }
    struct loom_warning w;
    assert_int_equal(loom_rows_warning(bad, 6, &w), LOOM_ERR_INVALID);
    const loom_result *r;
    assert_int_equal(loom_predict(s, good, &r, &err), LOOM_OK);
    double want[5][4];
    for (int j = 0; j < 5; j++) {
        int wd;
        const double *v = loom_result_values(r, j, &wd);
        memcpy(want[j], v, (size_t)wd * sizeof(double));
    }
    assert_int_equal(loom_predict(s, bad, &r, &err), LOOM_OK);
    for (int j = 0; j < 5; j++) {
        int wd;
        const double *v = loom_result_values(r, j, &wd);
        assert_memory_equal(v, want[j], (size_t)wd * sizeof(double));
    }
    int cnt;
    const float *a = loom_result_attention(r, 0, "photos", &cnt);
    assert_int_equal(cnt, 7);
    for (int k = 0; k < 7; k++) assert_true(k == 4 ? a[k] == 1.0f : a[k] == 0.0f);
    /* a pixel limit turns a good photo into a dropped one */
    loom_rows_clear(bad);
    assert_int_equal(loom_rows_warning_count(bad), 0);
    assert_int_equal(loom_rows_set_limit(bad, LOOM_LIMIT_IMAGE_PIXELS, 100, &err), LOOM_OK);
    assert_int_equal(loom_rows_set_limit(bad, LOOM_LIMIT_IMAGE_BYTES, n, &err), LOOM_OK);
    assert_int_equal(loom_rows_add(bad, &i, &err), LOOM_OK);
    assert_int_equal(loom_rows_add_image(bad, i, "photos", jpeg, n, &err), LOOM_OK);
    assert_int_equal(loom_rows_warning(bad, 0, &w), LOOM_OK);
    assert_int_equal(w.code, LOOM_ERR_LIMIT);
    assert_int_equal(loom_rows_set_limit(bad, LOOM_LIMIT_IMAGE_PIXELS, 1 << 20, &err), LOOM_OK);
    assert_int_equal(loom_rows_set_limit(bad, LOOM_LIMIT_IMAGE_BYTES, n - 1, &err), LOOM_OK);
    assert_int_equal(loom_rows_add_image(bad, i, "photos", jpeg, n, &err), LOOM_OK);
    assert_int_equal(loom_rows_warning(bad, 1, &w), LOOM_OK);
    assert_int_equal(w.code, LOOM_ERR_LIMIT);
    assert_int_equal(w.photo, 1);
    /* too many photos in a row is the caller's error */
    assert_int_equal(loom_rows_set_limit(bad, LOOM_LIMIT_PHOTOS, 2, &err), LOOM_OK);
    assert_int_equal(loom_rows_add_image(bad, i, "photos", jpeg, n, &err), LOOM_ERR_LIMIT);
    assert_non_null(strstr(err.message, "row 0"));
    free(jpeg);
    ax_csv_done(&t);
    loom_rows_free(&good), loom_rows_free(&bad);
    loom_session_free(&s);
    loom_model_close(&m);
}

/* A bad value fails with LOOM_ERR_INVALID naming the row and the column,
 * and leaves the row as it was. */
LOOM_TEST(api_bad_values)
{
    loom_model *m = open_model();
    struct loom_error err = {0};
    loom_rows *rows = NULL;
    assert_int_equal(loom_rows_new(m, &rows, &err), LOOM_OK);
    int64_t i;
    for (int k = 0; k < 3; k++) assert_int_equal(loom_rows_add(rows, &i, &err), LOOM_OK);
    static const struct {
        const char *col, *value;
    } bad[] = {
        {"year", "abc"},       {"year", "12,5"},         {"year", "nan"},
        {"year", "1e999"},     {"posted", "2023-13-45"}, {"posted", "yesterday"},
        {"title", "\xff\xfe"}, {"condition", "\xc3("},   {"price", "12"},
        {"kind", "bike"},      {"photos", "a.jpg"},      {"nosuchcolumn", "1"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        memset(&err, 0, sizeof err);
        enum loom_status st =
            loom_rows_set_string(rows, 2, bad[k].col, bad[k].value, strlen(bad[k].value), &err);
        printf("    %s = \"%s\": %s\n", bad[k].col, bad[k].value, err.message);
        assert_int_equal(st, LOOM_ERR_INVALID);
        assert_int_equal(err.code, LOOM_ERR_INVALID);
        assert_non_null(strstr(err.message, "row 2"));
        assert_non_null(strstr(err.message, bad[k].col));
    }
    assert_int_equal(loom_rows_set_number(rows, 1, "year", NAN, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_set_number(rows, 1, "year", INFINITY, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_set_number(rows, 1, "title", 3.5, &err), LOOM_OK); /* text "3.5" */
    /* rows out of range */
    assert_int_equal(loom_rows_set_string(rows, 3, "year", "1", 1, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "row 3"));
    assert_int_equal(loom_rows_set_string(rows, -1, "year", "1", 1, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_add_image(rows, 7, "photos", "x", 1, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_add_image(rows, 0, "title", "x", 1, &err), LOOM_ERR_INVALID);
    /* the value limit */
    assert_int_equal(loom_rows_set_limit(rows, LOOM_LIMIT_VALUE_BYTES, 4, &err), LOOM_OK);
    assert_int_equal(loom_rows_set_string(rows, 0, "title", "12345", 5, &err), LOOM_ERR_LIMIT);
    assert_int_equal(loom_rows_set_string(rows, 0, "title", "1234", 4, &err), LOOM_OK);
    /* the row limit */
    assert_int_equal(loom_rows_set_limit(rows, LOOM_LIMIT_ROWS, 3, &err), LOOM_OK);
    assert_int_equal(loom_rows_add(rows, &i, &err), LOOM_ERR_LIMIT);
    assert_int_equal(loom_rows_count(rows), 3);
    assert_int_equal(loom_rows_set_limit(rows, LOOM_LIMIT_ROWS, 0, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_set_limit(rows, LOOM_LIMIT_COUNT, 5, &err), LOOM_ERR_INVALID);
    /* a failed set left the row as it was: rows 0 and 2 (2 only saw failures)
     * differ only in the title set on row 0 */
    loom_session *s = NULL;
    assert_int_equal(loom_session_new(m, &s, &err), LOOM_OK);
    loom_rows *ref = NULL;
    assert_int_equal(loom_rows_new(m, &ref, &err), LOOM_OK);
    assert_int_equal(loom_rows_add(ref, &i, &err), LOOM_OK);
    const loom_result *r;
    assert_int_equal(loom_predict(s, ref, &r, &err), LOOM_OK);
    double want = loom_result_values(r, 0, NULL)[0];
    assert_int_equal(loom_predict(s, rows, &r, &err), LOOM_OK);
    assert_true(loom_result_values(r, 0, NULL)[2] == want);
    loom_rows_free(&ref);
    loom_rows_free(&rows);
    loom_session_free(&s);
    loom_model_close(&m);
}

/* Bad arguments are errors (or NULL / -1 / 0 from accessors), never a
 * crash. */
LOOM_TEST(api_bad_arguments)
{
    struct loom_error err = {0};
    loom_model *m = NULL, *m2 = NULL;
    assert_int_equal(loom_model_open(NULL, &m, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_model_open("x", NULL, NULL), LOOM_ERR_INVALID);
    assert_int_equal(loom_model_open("/nonexistent/model.loom", &m, &err), LOOM_ERR_IO);
    assert_null(m);
    char path[4096];
    snprintf(path, sizeof path, "%s/train.csv", ax_dir());
    enum loom_status st = loom_model_open(path, &m, &err);
    assert_true(st == LOOM_ERR_FORMAT || st == LOOM_ERR_LIMIT);
    assert_null(m);
    assert_int_equal(loom_model_open(ax_dir(), &m, &err) != LOOM_OK, 1);
    m = open_model();
    m2 = open_model();
    loom_session *s = NULL;
    loom_rows *rows = NULL, *other = NULL;
    assert_int_equal(loom_session_new(NULL, &s, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_session_new(m, NULL, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_new(NULL, &rows, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_new(m, NULL, NULL), LOOM_ERR_INVALID);
    assert_int_equal(loom_session_new(m, &s, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &rows, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m2, &other, &err), LOOM_OK);
    const loom_result *r = NULL;
    assert_int_equal(loom_predict(NULL, rows, &r, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_predict(s, NULL, &r, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_predict(s, rows, NULL, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_embed(NULL, NULL, NULL, NULL), LOOM_ERR_INVALID);
    assert_int_equal(loom_predict(s, other, &r, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "another model"));
    assert_null(r);
    int64_t i;
    assert_int_equal(loom_rows_add(NULL, &i, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_add(rows, NULL, NULL), LOOM_OK);
    assert_int_equal(loom_rows_set_string(NULL, 0, "year", "1", 1, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_set_string(rows, 0, NULL, "1", 1, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_set_string(rows, 0, "year", NULL, 1, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_set_string(rows, 0, "year", NULL, 0, &err), LOOM_OK); /* missing */
    assert_int_equal(loom_rows_set_number(NULL, 0, NULL, 1, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_add_image(rows, 0, "photos", NULL, 5, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_add_image(NULL, 0, NULL, NULL, 5, NULL), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_add_image_path(rows, 0, "photos", NULL, &err), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_add_image_path(NULL, 0, NULL, NULL, NULL), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_set_limit(NULL, LOOM_LIMIT_ROWS, 1, &err), LOOM_ERR_INVALID);
    struct loom_warning w;
    assert_int_equal(loom_rows_warning(NULL, 0, &w), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_warning(rows, 0, NULL), LOOM_ERR_INVALID);
    assert_int_equal(loom_rows_warning_count(NULL), 0);
    assert_int_equal(loom_rows_count(NULL), 0);
    loom_rows_clear(NULL);
    loom_session_set_threads(NULL, 1);
    loom_session_set_threads(s, -3); /* ignored */
    /* accessors */
    assert_int_equal(loom_result_rows(NULL), 0);
    assert_int_equal(loom_result_output_count(NULL), 0);
    assert_null(loom_result_values(NULL, 0, NULL));
    assert_int_equal(loom_result_label(NULL, 0, 0), -1);
    assert_null(loom_result_embedding(NULL, NULL));
    assert_null(loom_result_attention(NULL, 0, "photos", NULL));
    assert_int_equal(loom_predict(s, rows, &r, &err), LOOM_OK);
    assert_null(loom_result_values(r, -1, NULL));
    assert_null(loom_result_values(r, 5, NULL));
    assert_int_equal(loom_result_label(r, 0, 0), -1); /* a number output */
    assert_int_equal(loom_result_label(r, 1, 1), -1); /* row out of range */
    assert_int_equal(loom_result_label(r, 1, -1), -1);
    assert_null(loom_result_attention(r, 0, NULL, NULL));
    assert_null(loom_result_attention(r, 0, "nosuch", NULL));
    assert_int_equal(loom_model_input_count(NULL), 0);
    assert_int_equal(loom_model_output_count(NULL), 0);
    assert_null(loom_model_output_label(NULL, 0, 0, NULL));
    loom_rows_free(&rows), loom_rows_free(&other);
    loom_session_free(&s);
    loom_model_close(&m), loom_model_close(&m2);
}

/* Threads: a session with 1 thread gives the numbers of the default. */
LOOM_TEST(api_session_threads)
{
    loom_model *m = open_model();
    struct ax_csv t;
    ax_csv_read(&t, "listings.csv");
    struct loom_error err = {0};
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    assert_int_equal(loom_session_new(m, &s, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &rows, &err), LOOM_OK);
    for (int i = 0; i < 40; i++) ax_add_row(rows, &t, i);
    const loom_result *r;
    assert_int_equal(loom_predict(s, rows, &r, &err), LOOM_OK);
    check_sane(m, r);
    double want[40];
    memcpy(want, loom_result_values(r, 0, NULL), sizeof want);
    loom_session_set_threads(s, 1);
    assert_int_equal(loom_predict(s, rows, &r, &err), LOOM_OK);
    for (int i = 0; i < 40; i++) assert_near(loom_result_values(r, 0, NULL)[i], want[i], 1e-9);
    loom_rows_free(&rows);
    loom_session_free(&s);
    ax_csv_done(&t);
    loom_model_close(&m);
}
