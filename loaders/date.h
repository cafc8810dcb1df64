/*
 * date.h — ISO 8601 dates and date-times expanded into model features
 * (fastai's add_datepart set).
 *
 * Accepted: YYYY-MM-DD, optionally followed by 'T' or one space and
 * hh:mm[:ss[.fraction]], optionally followed by 'Z' or an offset +hh:mm,
 * +hhmm or +hh (or '-'). Spaces and tabs around are ignored. Years
 * 0001..9999, real calendar days only (2023-02-29 is an error), hours
 * 00..23, minutes and seconds 00..59 (no leap second).
 *
 * The calendar features are those of the date as written (its local date);
 * the elapsed time is in UTC (the offset subtracted). Arithmetic is pure
 * integer proleptic-Gregorian calendar math: no mktime, no time zone data,
 * no locale. Pure functions, thread-safe.
 */
#ifndef LOOM_LOADERS_DATE_H
#define LOOM_LOADERS_DATE_H

#include "core/base.h"

enum loom_date_feature {
    LOOM_DATE_YEAR,
    LOOM_DATE_MONTH,        /* 1..12 */
    LOOM_DATE_WEEK,         /* ISO 8601 week 1..53 (2024-12-30 is week 1 of 2025) */
    LOOM_DATE_DAY,          /* 1..31 */
    LOOM_DATE_DAYOFWEEK,    /* Monday 0 .. Sunday 6 (pandas) */
    LOOM_DATE_DAYOFYEAR,    /* 1..366 */
    LOOM_DATE_IS_MONTH_END, /* the flags are 0 or 1 */
    LOOM_DATE_IS_MONTH_START,
    LOOM_DATE_IS_QUARTER_END,
    LOOM_DATE_IS_QUARTER_START,
    LOOM_DATE_IS_YEAR_END,
    LOOM_DATE_IS_YEAR_START,
    LOOM_DATE_ELAPSED, /* days since 1970-01-01T00:00Z, fractional with a time */
    LOOM_DATE_NFEATURES
};

/* "year", "month", "week", "day", "dayofweek", "dayofyear", "is_month_end",
 * ..., "elapsed"; NULL for a value out of range. */
const char *loom_date_feature_name(enum loom_date_feature f);

struct loom_datetime {
    int year, month, day; /* local date as written */
    int hour, minute;     /* 0 when no time */
    double second;        /* with its fraction */
    int offset_minutes;   /* east of UTC; 0 for 'Z' or no offset */
    bool has_time, has_offset;
};

/* Parse text[0..len). LOOM_ERR_PARSE naming the text (and what is wrong)
 * for anything else, an empty value included. *out is written only on
 * success. */
LOOM_WUR enum loom_status loom_date_parse(const char *text, size_t len, struct loom_datetime *out,
                                          struct loom_error *err);

/* The features of a parsed date. */
void loom_datetime_features(const struct loom_datetime *d, double out[LOOM_DATE_NFEATURES]);

/* Parse and expand in one call; out is written only on success. */
LOOM_WUR enum loom_status loom_date_features(const char *text, size_t len,
                                             double out[LOOM_DATE_NFEATURES],
                                             struct loom_error *err);

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (any
 * valid date; negative before 1970). */
int64_t loom_days_from_civil(int y, int m, int d);

#endif
