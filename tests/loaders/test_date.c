/* test_date.c — ISO 8601 parsing and date features against hand-computed
 * values (checked with Python's datetime), and invalid dates. */
#include <string.h>

#include "loaders/date.h"
#include "tests/testlib.h"

static const struct {
    const char *text;
    /* year, month, week, day, dayofweek, dayofyear, month end/start,
     * quarter end/start, year end/start */
    int f[12];
    double elapsed;
} cases[] = {
    {"2024-12-30", {2024, 12, 1, 30, 0, 365, 0, 0, 0, 0, 0, 0}, 20087}, /* week 1 of 2025 */
    {"2024-02-29", {2024, 2, 9, 29, 3, 60, 1, 0, 0, 0, 0, 0}, 19782},
    {"2024-03-31", {2024, 3, 13, 31, 6, 91, 1, 0, 1, 0, 0, 0}, 19813},
    {"2024-04-01", {2024, 4, 14, 1, 0, 92, 0, 1, 0, 1, 0, 0}, 19814},
    {"2023-12-31", {2023, 12, 52, 31, 6, 365, 1, 0, 1, 0, 1, 0}, 19722},
    {"2021-01-01", {2021, 1, 53, 1, 4, 1, 0, 1, 0, 1, 0, 1}, 18628}, /* week 53 of 2020 */
    {"2000-02-29", {2000, 2, 9, 29, 1, 60, 1, 0, 0, 0, 0, 0}, 11016},
    {"2024-06-30", {2024, 6, 26, 30, 6, 182, 1, 0, 1, 0, 0, 0}, 19904},
    {"1969-12-31", {1969, 12, 1, 31, 2, 365, 1, 0, 1, 0, 1, 0}, -1},
    {"0001-01-01", {1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1}, -719162},
    {"9999-12-31", {9999, 12, 52, 31, 4, 365, 1, 0, 1, 0, 1, 0}, 2932896},
    /* Times and offsets: the calendar features are the local date's. */
    {"2024-03-05T14:30:00", {2024, 3, 10, 5, 1, 65, 0, 0, 0, 0, 0, 0}, 19787 + 14.5 / 24},
    {"2024-03-05 14:30", {2024, 3, 10, 5, 1, 65, 0, 0, 0, 0, 0, 0}, 19787 + 14.5 / 24},
    {"2024-03-05T14:30:00Z", {2024, 3, 10, 5, 1, 65, 0, 0, 0, 0, 0, 0}, 19787 + 14.5 / 24},
    {"2024-03-05T14:30:00+02:00", {2024, 3, 10, 5, 1, 65, 0, 0, 0, 0, 0, 0}, 19787 + 12.5 / 24},
    {"2024-03-05T01:00:00-0530", {2024, 3, 10, 5, 1, 65, 0, 0, 0, 0, 0, 0}, 19787 + 6.5 / 24},
    {"2024-03-05t00:00:30.5z", {2024, 3, 10, 5, 1, 65, 0, 0, 0, 0, 0, 0}, 19787 + 30.5 / 86400},
    {" 1970-01-02T12:00+00 ", {1970, 1, 1, 2, 4, 2, 0, 0, 0, 0, 0, 0}, 1.5},
};

LOOM_TEST(date_features_table)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        double out[LOOM_DATE_NFEATURES];
        struct loom_error err;
        enum loom_status st = loom_date_features(cases[i].text, strlen(cases[i].text), out, &err);
        if (st != LOOM_OK) {
            fprintf(stderr, "case %zu: %s\n", i, err.message);
            fail();
        }
        for (int f = 0; f < 12; f++) {
            if (out[f] != cases[i].f[f]) {
                fprintf(stderr, "case %zu (%s): %s = %g, want %d\n", i, cases[i].text,
                        loom_date_feature_name((enum loom_date_feature)f), out[f], cases[i].f[f]);
                fail();
            }
        }
        assert_near(out[LOOM_DATE_ELAPSED], cases[i].elapsed, 1e-9);
    }
}

LOOM_TEST(date_invalid_inputs_name_the_text)
{
    static const char *const bad[] = {
        "2023-02-29",
        "1900-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-04-31",
        "2024-01-32",
        "0000-01-01",
        "garbage",
        "",
        "2024-3-5",
        "2024/03/05",
        "20240305",
        "2024-03-05T25:00",
        "2024-03-05T12:60",
        "2024-03-05T12:00:60",
        "2024-03-05X",
        "2024-03-05T12",
        "2024-03-05T12:00+24:00",
        "2024-03-05T12:00+05:3",
        "2024-03-05T12:00:00.",
        "2024-03-05T12:00Z junk",
        "2024-03-05  12:00",
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        double out[LOOM_DATE_NFEATURES];
        out[0] = 42;
        struct loom_error err;
        enum loom_status st = loom_date_features(bad[i], strlen(bad[i]), out, &err);
        if (st != LOOM_ERR_PARSE || !strstr(err.message, bad[i])) {
            fprintf(stderr, "case %zu (%s): status %d, \"%s\"\n", i, bad[i], st,
                    st ? err.message : "");
            fail();
        }
        assert_near(out[0], 42, 0);
    }
}

LOOM_TEST(date_days_from_civil_round_numbers)
{
    assert_int_equal(loom_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(loom_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(loom_days_from_civil(1600, 1, 1), -135140);
    /* Consecutive days over four centuries: +1 each, weekdays cycle. */
    int64_t prev = loom_days_from_civil(1899, 12, 31);
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int y = 1900; y < 2300; y++)
        for (int m = 1; m <= 12; m++) {
            bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            int nd = mdays[m - 1] + (m == 2 && leap);
            for (int d = 1; d <= nd; d++) {
                int64_t k = loom_days_from_civil(y, m, d);
                assert_int_equal(k, prev + 1);
                prev = k;
            }
        }
    assert_string_equal(loom_date_feature_name(LOOM_DATE_ELAPSED), "elapsed");
    assert_null(loom_date_feature_name(LOOM_DATE_NFEATURES));
}
