/* date.c — ISO 8601 parsing and calendar features (date.h). */
#include <string.h>

#include "blob.h"
#include "date.h"

static const char *const feature_names[LOOM_DATE_NFEATURES] = {
    [LOOM_DATE_YEAR] = "year",
    [LOOM_DATE_MONTH] = "month",
    [LOOM_DATE_WEEK] = "week",
    [LOOM_DATE_DAY] = "day",
    [LOOM_DATE_DAYOFWEEK] = "dayofweek",
    [LOOM_DATE_DAYOFYEAR] = "dayofyear",
    [LOOM_DATE_IS_MONTH_END] = "is_month_end",
    [LOOM_DATE_IS_MONTH_START] = "is_month_start",
    [LOOM_DATE_IS_QUARTER_END] = "is_quarter_end",
    [LOOM_DATE_IS_QUARTER_START] = "is_quarter_start",
    [LOOM_DATE_IS_YEAR_END] = "is_year_end",
    [LOOM_DATE_IS_YEAR_START] = "is_year_start",
    [LOOM_DATE_ELAPSED] = "elapsed",
};

const char *loom_date_feature_name(enum loom_date_feature f)
{
    return (unsigned)f < LOOM_DATE_NFEATURES ? feature_names[f] : NULL;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

int64_t loom_days_from_civil(int y, int m, int d)
{
    /* Howard Hinnant's days_from_civil: years counted from March, so the
     * leap day is the last day of its year; eras of 400 years. */
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;                                 /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* Monday 0 .. Sunday 6; 1970-01-01 was a Thursday (3). */
static int day_of_week(int64_t days)
{
    int64_t r = (days + 3) % 7;
    return (int)(r < 0 ? r + 7 : r);
}

static int day_of_year(int y, int m, int d)
{
    return (int)(loom_days_from_civil(y, m, d) - loom_days_from_civil(y, 1, 1)) + 1;
}

/* ISO years have 53 weeks when they start on a Thursday, or on a Wednesday
 * in a leap year. */
static int iso_weeks_in_year(int y)
{
    int jan1 = day_of_week(loom_days_from_civil(y, 1, 1));
    return jan1 == 3 || (jan1 == 2 && is_leap(y)) ? 53 : 52;
}

static int iso_week(int y, int m, int d)
{
    int wd = day_of_week(loom_days_from_civil(y, m, d)) + 1; /* Monday 1 .. Sunday 7 */
    int week = (day_of_year(y, m, d) - wd + 10) / 7;
    if (week < 1) return iso_weeks_in_year(y - 1);
    if (week > iso_weeks_in_year(y)) return 1;
    return week;
}

void loom_datetime_features(const struct loom_datetime *t, double out[LOOM_DATE_NFEATURES])
{
    int y = t->year, m = t->month, d = t->day;
    int64_t days = loom_days_from_civil(y, m, d);
    bool month_end = d == days_in_month(y, m), quarter_month_end = m % 3 == 0;
    out[LOOM_DATE_YEAR] = y;
    out[LOOM_DATE_MONTH] = m;
    out[LOOM_DATE_WEEK] = iso_week(y, m, d);
    out[LOOM_DATE_DAY] = d;
    out[LOOM_DATE_DAYOFWEEK] = day_of_week(days);
    out[LOOM_DATE_DAYOFYEAR] = day_of_year(y, m, d);
    out[LOOM_DATE_IS_MONTH_END] = month_end;
    out[LOOM_DATE_IS_MONTH_START] = d == 1;
    out[LOOM_DATE_IS_QUARTER_END] = month_end && quarter_month_end;
    out[LOOM_DATE_IS_QUARTER_START] = d == 1 && m % 3 == 1;
    out[LOOM_DATE_IS_YEAR_END] = m == 12 && d == 31;
    out[LOOM_DATE_IS_YEAR_START] = m == 1 && d == 1;
    double secs = t->hour * 3600.0 + t->minute * 60.0 + t->second - t->offset_minutes * 60.0;
    out[LOOM_DATE_ELAPSED] = (double)days + secs / 86400.0;
}

/* A cursor over the text, for the fixed-width fields of ISO 8601. */
struct cursor {
    const char *s;
    size_t len, pos;
};

static bool digits(struct cursor *c, int n, int *out)
{
    if (c->len - c->pos < (size_t)n) return false;
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = c->s[c->pos + i];
        if (ch < '0' || ch > '9') return false;
        v = v * 10 + (ch - '0');
    }
    c->pos += (size_t)n;
    *out = v;
    return true;
}

static bool accept(struct cursor *c, char ch)
{
    if (c->pos < c->len && c->s[c->pos] == ch) {
        c->pos++;
        return true;
    }
    return false;
}

/* Optional fraction of a second after ':ss'. */
static bool fraction(struct cursor *c, double *sec)
{
    if (!accept(c, '.') && !accept(c, ',')) return true; /* ISO allows either mark */
    double scale = 0.1;
    size_t start = c->pos;
    while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
        if (c->pos - start < 9) *sec += (c->s[c->pos] - '0') * scale, scale /= 10;
        c->pos++;
    }
    return c->pos > start;
}

static bool parse_time(struct cursor *c, struct loom_datetime *t, const char **why)
{
    *why = "a time hh:mm[:ss]";
    if (!digits(c, 2, &t->hour) || !accept(c, ':') || !digits(c, 2, &t->minute)) return false;
    int sec = 0;
    if (accept(c, ':') && (!digits(c, 2, &sec) || !fraction(c, &t->second))) return false;
    t->second += sec;
    *why = "an hour 00..23, minutes and seconds 00..59";
    if (t->hour > 23 || t->minute > 59 || sec > 59) return false;
    t->has_time = true;
    if (accept(c, 'Z') || accept(c, 'z')) {
        t->has_offset = true;
        return true;
    }
    int sign = accept(c, '+') ? 1 : accept(c, '-') ? -1 : 0;
    if (!sign) return true;
    int oh, om = 0;
    *why = "an offset +hh:mm, +hhmm or +hh";
    if (!digits(c, 2, &oh)) return false;
    if (accept(c, ':')) {
        if (!digits(c, 2, &om)) return false;
    } else if (c->pos < c->len) {
        if (!digits(c, 2, &om)) return false;
    }
    if (oh > 23 || om > 59) return false;
    t->offset_minutes = sign * (oh * 60 + om);
    t->has_offset = true;
    return true;
}

enum loom_status loom_date_parse(const char *text, size_t len, struct loom_datetime *out,
                                 struct loom_error *err)
{
    const char *s = text;
    while (len && (s[0] == ' ' || s[0] == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    struct cursor c = {s, len, 0};
    struct loom_datetime t = {0};
    const char *why = "a date YYYY-MM-DD";
    if (!digits(&c, 4, &t.year) || !accept(&c, '-') || !digits(&c, 2, &t.month) ||
        !accept(&c, '-') || !digits(&c, 2, &t.day))
        goto bad;
    why = "a real calendar day";
    if (t.year < 1 || t.month < 1 || t.month > 12 || t.day < 1 ||
        t.day > days_in_month(t.year, t.month))
        goto bad;
    if (c.pos < c.len) {
        why = "'T' or a space before the time";
        if (!accept(&c, 'T') && !accept(&c, 't') && !accept(&c, ' ')) goto bad;
        if (!parse_time(&c, &t, &why)) goto bad;
        why = "nothing after the time";
        if (c.pos != c.len) goto bad;
    }
    *out = t;
    return LOOM_OK;
bad:;
    char q[64];
    return loom_error_set(err, LOOM_ERR_PARSE, "date \"%s\": expected %s",
                          loom_quote_text(q, sizeof q, s, len), why);
}

enum loom_status loom_date_features(const char *text, size_t len, double out[LOOM_DATE_NFEATURES],
                                    struct loom_error *err)
{
    struct loom_datetime t;
    enum loom_status st = loom_date_parse(text, len, &t, err);
    if (st == LOOM_OK) loom_datetime_features(&t, out);
    return st;
}
