/*
 * columns.c — the fitted column encoders of columns.h: categories, numbers,
 * binaries, label sets and vectors, and their saved forms (blob.h).
 * Not here: dates (date.c), text (tokenize.c, vocab.c), the choice of which
 * encoder a column gets (the schema's plan).
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "blob.h"
#include "columns.h"
#include "strtab.h"

#define CATEGORY_TAG "LCAT"
#define NUMBER_TAG   "LNUM"
#define SET_TAG      "LSET"
#define VECTOR_TAG   "LVEC"
#define FORMAT_V1    1
#define VALUE_MAX    (1u << 20) /* bytes of a saved category or label */
#define NUMBER_MAX   256        /* bytes of a number's text, blanks trimmed */

/* ---- shared helpers ------------------------------------------------------------ */

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static void trim(const char **s, size_t *len)
{
    while (*len && is_blank((*s)[0])) (*s)++, (*len)--;
    while (*len && is_blank((*s)[*len - 1])) (*len)--;
}

/* Quote a value for an error message. */
#define QUOTE(buf, s, len) loom_quote_text(buf, sizeof buf, s, len)

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* A plain decimal number (already trimmed): [+-] digits [. digits] [e [+-]
 * digits], at least one digit in the mantissa. The syntax is checked here;
 * strtod_l in the "C" locale does the correctly rounded conversion. */
static enum loom_status parse_number(const char *s, size_t len, double *out, struct loom_error *err)
{
    char q[48];
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++, digits++;
    }
    if (digits && i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1, exp_digits = 0;
        if (j < len && (s[j] == '+' || s[j] == '-')) j++;
        while (j < len && s[j] >= '0' && s[j] <= '9') j++, exp_digits++;
        if (exp_digits) i = j;
    }
    if (digits == 0 || i != len || len > NUMBER_MAX)
        return loom_error_set(err, LOOM_ERR_PARSE, "\"%s\" is not a number", QUOTE(q, s, len));
    pthread_once(&c_locale_once, c_locale_init);
    if (!c_locale) return loom_error_set(err, LOOM_ERR_NOMEM, "cannot create the C locale");
    char copy[NUMBER_MAX + 1];
    memcpy(copy, s, len);
    copy[len] = '\0';
    double v = strtod_l(copy, NULL, c_locale);
    if (!isfinite(v))
        return loom_error_set(err, LOOM_ERR_NUMERIC, "\"%s\" is too large", QUOTE(q, s, len));
    *out = v;
    return LOOM_OK;
}

static enum loom_status check_separator(const char *sep, struct loom_error *err)
{
    size_t n = sep ? strlen(sep) : 0;
    if (n == 0 || n > LOOM_SEPARATOR_MAX)
        return loom_error_set(err, LOOM_ERR_INVALID, "a separator must be 1..%d bytes",
                              LOOM_SEPARATOR_MAX);
    return LOOM_OK;
}

/* Splits a field on a separator; each piece comes out trimmed. */
struct splitter {
    const char *s, *sep;
    size_t len, seplen, pos;
    bool done;
};

static struct splitter split(const char *s, size_t len, const char *sep)
{
    return (struct splitter){s, sep, len, strlen(sep), 0, len == 0};
}

static bool next_piece(struct splitter *sp, const char **piece, size_t *plen)
{
    if (sp->done) return false;
    const char *start = sp->s + sp->pos;
    size_t rest = sp->len - sp->pos;
    const char *hit = memmem(start, rest, sp->sep, sp->seplen);
    size_t n = hit ? (size_t)(hit - start) : rest;
    if (hit)
        sp->pos += n + sp->seplen;
    else
        sp->done = true;
    *piece = start;
    *plen = n;
    trim(piece, plen);
    return true;
}

static bool all_blank(const char *s)
{
    for (; *s; s++)
        if (!is_blank(*s)) return false;
    return true;
}

/* Fitted strings saved as: u32 count, then each string. */
static void put_strings(struct loom_blob_writer *w, const struct loom_strtab *t, int32_t from)
{
    loom_blob_put_u32(w, (uint32_t)(t->n - from));
    for (int32_t i = from; i < t->n; i++) {
        size_t len;
        const char *s = loom_strtab_str(t, i, &len);
        loom_blob_put_str(w, s, len);
    }
}

/* Read what put_strings wrote into t, rejecting empty and repeated strings
 * and (when sep is given) strings that hold sep or have blanks around. */
static enum loom_status get_strings(struct loom_blob_reader *r, struct loom_strtab *t,
                                    const char *sep, const char *what, struct loom_error *err)
{
    uint32_t n = loom_blob_get_u32(r);
    if (n > LOOM_STRTAB_MAX_ENTRIES)
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: %u values", what, n);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        size_t len;
        const char *s = loom_blob_get_str(r, VALUE_MAX, &len);
        if (!s) break; /* the caller's read_end reports it */
        const char *tr = s;
        size_t trlen = len;
        trim(&tr, &trlen);
        if (len == 0 || (sep && (trlen != len || memmem(s, len, sep, strlen(sep)))))
            return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: value %u is malformed", what, i);
        int32_t k;
        bool added;
        enum loom_status st = loom_strtab_intern(t, s, len, &k, &added, err);
        if (st != LOOM_OK) return st;
        if (!added)
            return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: value %u repeats value %d", what,
                                  i, k);
    }
    return LOOM_OK;
}

/* ---- label tables: category codes and set labels ------------------------------- */

/* What a table is called in messages. */
struct labels_kind {
    const char *what;  /* "category", "set" */
    const char *max;   /* its option: "max_categories", "max_labels" */
    const char *item;  /* "value", "label" */
    const char *saved; /* "category codes", "set labels" */
};

/* The values a column has seen, ranked into the kept ones (loom_strtab_rank:
 * those seen at least min_count times, the max most frequent; 0 no cap). */
struct labels {
    const struct labels_kind *k;
    int64_t min_count;
    size_t max;
    bool finished;
    struct loom_strtab seen; /* while fitting: every value with its count */
    struct loom_strtab kept; /* finished: entry i is code i + 2 / position i */
};

static enum loom_status labels_init(struct labels *l, const struct labels_kind *k,
                                    int64_t min_count, size_t max, struct loom_error *err)
{
    if (min_count < 1)
        return loom_error_set(err, LOOM_ERR_INVALID, "%s: min_count must be >= 1", k->what);
    if (max > LOOM_STRTAB_MAX_ENTRIES)
        return loom_error_set(err, LOOM_ERR_LIMIT, "%s: %s %zu is too large", k->what, k->max, max);
    *l = (struct labels){.k = k, .min_count = min_count, .max = max};
    loom_strtab_init(&l->seen);
    loom_strtab_init(&l->kept);
    return LOOM_OK;
}

static enum loom_status labels_add(struct labels *l, const char *v, size_t len,
                                   struct loom_error *err)
{
    if (len > VALUE_MAX)
        return loom_error_set(err, LOOM_ERR_LIMIT, "%s: a %s of %zu bytes (at most %u)", l->k->what,
                              l->k->item, len, VALUE_MAX);
    int32_t k;
    bool added;
    enum loom_status st = loom_strtab_intern(&l->seen, v, len, &k, &added, err);
    if (st == LOOM_OK) l->seen.e[k].count++;
    return st;
}

static enum loom_status labels_finish(struct labels *l, struct loom_error *err)
{
    LOOM_ASSERT(!l->finished);
    enum loom_status st = loom_strtab_rank(&l->seen, l->min_count, l->max, &l->kept, err);
    if (st != LOOM_OK) return st;
    loom_strtab_done(&l->seen);
    l->finished = true;
    return LOOM_OK;
}

static void labels_done(struct labels *l)
{
    loom_strtab_done(&l->seen);
    loom_strtab_done(&l->kept);
}

/* Saved as: u64 min_count, u64 max, the kept strings (put_strings). */
static void labels_save(struct loom_blob_writer *w, const struct labels *l)
{
    loom_blob_put_u64(w, (uint64_t)l->min_count);
    loom_blob_put_u64(w, l->max);
    put_strings(w, &l->kept, 0);
}

/* Read what labels_save wrote, up to the blob's end, into l (finished).
 * sep: as get_strings. */
static enum loom_status labels_load(struct loom_blob_reader *r, struct labels *l,
                                    const struct labels_kind *k, const char *sep,
                                    struct loom_error *err)
{
    uint64_t min_count = loom_blob_get_u64(r), max = loom_blob_get_u64(r);
    if (min_count < 1 || min_count > INT64_MAX || max > LOOM_STRTAB_MAX_ENTRIES)
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: bad options", k->saved);
    enum loom_status st = labels_init(l, k, (int64_t)min_count, max, err);
    if (st == LOOM_OK) st = get_strings(r, &l->kept, sep, k->saved, err);
    if (st == LOOM_OK) st = loom_blob_read_end(r, k->saved, err);
    if (st == LOOM_OK && max && (size_t)l->kept.n > max)
        st = loom_error_set(err, LOOM_ERR_FORMAT, "saved %s: more than %llu", k->saved,
                            (unsigned long long)max);
    l->finished = st == LOOM_OK;
    return st;
}

/* ---- categories ------------------------------------------------------------------ */

static const struct labels_kind category_kind = {"category", "max_categories", "value",
                                                 "category codes"};

struct loom_category {
    int64_t missing; /* while fitting */
    struct labels l; /* finished: entry i has code i + 2 */
};

enum loom_status loom_category_new(int64_t min_count, size_t max_categories,
                                   struct loom_category **out, struct loom_error *err)
{
    if (!out) return loom_error_set(err, LOOM_ERR_INVALID, "category: NULL argument");
    struct labels l;
    enum loom_status st = labels_init(&l, &category_kind, min_count, max_categories, err);
    if (st != LOOM_OK) return st;
    struct loom_category *c = calloc(1, sizeof *c);
    if (!c) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a category encoder");
    c->l = l;
    *out = c;
    return LOOM_OK;
}

enum loom_status loom_category_fit(struct loom_category *c, const char *value, size_t len,
                                   struct loom_error *err)
{
    LOOM_ASSERT(c && !c->l.finished);
    if (len == 0) {
        c->missing++;
        return LOOM_OK;
    }
    return labels_add(&c->l, value, len, err);
}

enum loom_status loom_category_finish(struct loom_category *c, struct loom_error *err)
{
    LOOM_ASSERT(c);
    return labels_finish(&c->l, err);
}

int32_t loom_category_encode(const struct loom_category *c, const char *value, size_t len)
{
    LOOM_ASSERT(c && c->l.finished);
    if (len == 0) return LOOM_CATEGORY_MISSING;
    int32_t k = loom_strtab_find(&c->l.kept, value, len);
    return k < 0 ? LOOM_CATEGORY_UNKNOWN : k + LOOM_CATEGORY_NRESERVED;
}

int32_t loom_category_count(const struct loom_category *c)
{
    LOOM_ASSERT(c && c->l.finished);
    return c->l.kept.n + LOOM_CATEGORY_NRESERVED;
}

const char *loom_category_name(const struct loom_category *c, int32_t code, size_t *len)
{
    if (!c || !c->l.finished || code < LOOM_CATEGORY_NRESERVED ||
        code - LOOM_CATEGORY_NRESERVED >= c->l.kept.n)
        return NULL;
    return loom_strtab_str(&c->l.kept, code - LOOM_CATEGORY_NRESERVED, len);
}

enum loom_status loom_category_save(const struct loom_category *c, uint8_t **out, size_t *out_len,
                                    struct loom_error *err)
{
    if (!c || !c->l.finished || !out || !out_len)
        return loom_error_set(err, LOOM_ERR_INVALID, "category: save needs a finished encoder");
    struct loom_blob_writer w;
    loom_blob_write_begin(&w, CATEGORY_TAG, FORMAT_V1);
    labels_save(&w, &c->l);
    return loom_blob_write_end(&w, out, out_len, err);
}

enum loom_status loom_category_load(const void *buf, size_t len, struct loom_category **out,
                                    struct loom_error *err)
{
    if (!out) return loom_error_set(err, LOOM_ERR_INVALID, "category: NULL argument");
    struct loom_blob_reader r;
    enum loom_status st =
        loom_blob_read_begin(&r, buf, len, CATEGORY_TAG, FORMAT_V1, "category codes", err);
    if (st != LOOM_OK) return st;
    struct loom_category *c = calloc(1, sizeof *c);
    if (!c) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a category encoder");
    if ((st = labels_load(&r, &c->l, &category_kind, NULL, err)) != LOOM_OK) {
        loom_category_free(&c);
        return st;
    }
    *out = c;
    return LOOM_OK;
}

void loom_category_free(struct loom_category **c)
{
    if (!c || !*c) return;
    labels_done(&(*c)->l);
    free(*c);
    *c = NULL;
}

/* ---- numbers ----------------------------------------------------------------------- */

struct loom_number {
    struct loom_number_opts o;
    bool finished;
    struct loom_number_stats st;
    double m2;      /* while fitting: Welford's sum of squared deviations */
    double *values; /* while fitting, for the median */
    size_t nvalues, cap;
};

static bool valid_opts(const struct loom_number_opts *o)
{
    return o->fill == LOOM_FILL_MEDIAN || o->fill == LOOM_FILL_MEAN || o->fill == LOOM_FILL_ZERO;
}

enum loom_status loom_number_new(const struct loom_number_opts *o, struct loom_number **out,
                                 struct loom_error *err)
{
    if (!out || !o || !valid_opts(o))
        return loom_error_set(err, LOOM_ERR_INVALID, "number: bad options");
    struct loom_number *n = calloc(1, sizeof *n);
    if (!n) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a number encoder");
    n->o = *o;
    *out = n;
    return LOOM_OK;
}

/* The transform of x (log1p or identity); an error for log1p of x < 0. */
static enum loom_status transform(const struct loom_number *n, double x, double *out,
                                  struct loom_error *err)
{
    if (!isfinite(x)) return loom_error_set(err, LOOM_ERR_NUMERIC, "number: %g is not finite", x);
    if (n->o.log1p) {
        if (x < 0)
            return loom_error_set(err, LOOM_ERR_INVALID,
                                  "number: log1p of the negative value %.17g", x);
        x = log1p(x);
    }
    *out = x;
    return LOOM_OK;
}

enum loom_status loom_number_fit_value(struct loom_number *n, double x, struct loom_error *err)
{
    LOOM_ASSERT(n && !n->finished);
    if (isnan(x)) {
        n->st.missing++;
        return LOOM_OK;
    }
    double t = 0;
    enum loom_status st = transform(n, x, &t, err);
    if (st != LOOM_OK) return st;
    if (n->o.fill == LOOM_FILL_MEDIAN && n->nvalues == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 1024, bytes;
        double *v;
        if (!loom_mul_size(cap, sizeof *v, &bytes) || !(v = realloc(n->values, bytes)))
            return loom_error_set(err, LOOM_ERR_NOMEM, "number: out of memory for the median");
        n->values = v;
        n->cap = cap;
    }
    if (n->o.fill == LOOM_FILL_MEDIAN) n->values[n->nvalues++] = t;
    n->st.count++;
    double delta = t - n->st.mean;
    n->st.mean += delta / (double)n->st.count;
    n->m2 += delta * (t - n->st.mean);
    return LOOM_OK;
}

enum loom_status loom_number_fit(struct loom_number *n, const char *text, size_t len,
                                 struct loom_error *err)
{
    LOOM_ASSERT(n && !n->finished);
    trim(&text, &len);
    if (len == 0) return loom_number_fit_value(n, NAN, err);
    double x;
    enum loom_status st = parse_number(text, len, &x, err);
    if (st != LOOM_OK) return st;
    if (n->o.log1p && x < 0) {
        char q[48];
        return loom_error_set(err, LOOM_ERR_INVALID, "number: log1p of the negative value \"%s\"",
                              QUOTE(q, text, len));
    }
    return loom_number_fit_value(n, x, err);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

enum loom_status loom_number_finish(struct loom_number *n, struct loom_error *err)
{
    LOOM_ASSERT(n && !n->finished);
    struct loom_number_stats *s = &n->st;
    if (s->count == 0) s->mean = 0;
    s->std = s->count ? sqrt(n->m2 / (double)s->count) : 1;
    if (!isfinite(s->mean) || !isfinite(s->std))
        return loom_error_set(err, LOOM_ERR_NUMERIC, "number: values too large to normalise");
    if (!(s->std > 0)) s->std = 1; /* a constant column: centre it, do not blow it up */
    switch (n->o.fill) {
    case LOOM_FILL_MEDIAN:
        /* Exact: sort the kept values (O(n log n) once per fit). The median
         * of an even count is the mean of the two middle values. */
        if (n->nvalues) {
            qsort(n->values, n->nvalues, sizeof *n->values, cmp_double);
            size_t h = n->nvalues / 2;
            s->fill = n->nvalues % 2 ? n->values[h] : 0.5 * (n->values[h - 1] + n->values[h]);
        }
        break;
    case LOOM_FILL_MEAN:
        s->fill = s->mean;
        break;
    case LOOM_FILL_ZERO:
        s->fill = 0;
        break;
    }
    free(n->values);
    n->values = NULL;
    n->nvalues = n->cap = 0;
    n->finished = true;
    return LOOM_OK;
}

static void normalise(const struct loom_number *n, double t, bool missing, float out[2])
{
    out[0] = (float)((t - n->st.mean) / n->st.std);
    out[1] = missing ? 1.0f : 0.0f;
}

enum loom_status loom_number_encode_value(const struct loom_number *n, double x, float out[2],
                                          struct loom_error *err)
{
    LOOM_ASSERT(n && n->finished);
    if (isnan(x)) {
        normalise(n, n->st.fill, true, out);
        return LOOM_OK;
    }
    double t = 0;
    enum loom_status st = transform(n, x, &t, err);
    if (st == LOOM_OK) normalise(n, t, false, out);
    return st;
}

enum loom_status loom_number_encode(const struct loom_number *n, const char *text, size_t len,
                                    float out[2], struct loom_error *err)
{
    LOOM_ASSERT(n && n->finished);
    trim(&text, &len);
    if (len == 0) return loom_number_encode_value(n, NAN, out, err);
    double x;
    enum loom_status st = parse_number(text, len, &x, err);
    if (st != LOOM_OK) return st;
    if (n->o.log1p && x < 0) {
        char q[48];
        return loom_error_set(err, LOOM_ERR_INVALID, "number: log1p of the negative value \"%s\"",
                              QUOTE(q, text, len));
    }
    return loom_number_encode_value(n, x, out, err);
}

double loom_number_decode(const struct loom_number *n, double y)
{
    LOOM_ASSERT(n && n->finished);
    double t = y * n->st.std + n->st.mean;
    return n->o.log1p ? expm1(t) : t;
}

struct loom_number_stats loom_number_stats(const struct loom_number *n)
{
    return n->st;
}

enum loom_status loom_number_save(const struct loom_number *n, uint8_t **out, size_t *out_len,
                                  struct loom_error *err)
{
    if (!n || !n->finished || !out || !out_len)
        return loom_error_set(err, LOOM_ERR_INVALID, "number: save needs a finished encoder");
    struct loom_blob_writer w;
    loom_blob_write_begin(&w, NUMBER_TAG, FORMAT_V1);
    loom_blob_put_u8(&w, n->o.log1p);
    loom_blob_put_u8(&w, (uint8_t)n->o.fill);
    loom_blob_put_f64(&w, n->st.mean);
    loom_blob_put_f64(&w, n->st.std);
    loom_blob_put_f64(&w, n->st.fill);
    loom_blob_put_u64(&w, (uint64_t)n->st.count);
    loom_blob_put_u64(&w, (uint64_t)n->st.missing);
    return loom_blob_write_end(&w, out, out_len, err);
}

enum loom_status loom_number_load(const void *buf, size_t len, struct loom_number **out,
                                  struct loom_error *err)
{
    if (!out) return loom_error_set(err, LOOM_ERR_INVALID, "number: NULL argument");
    struct loom_blob_reader r;
    enum loom_status st =
        loom_blob_read_begin(&r, buf, len, NUMBER_TAG, FORMAT_V1, "number statistics", err);
    if (st != LOOM_OK) return st;
    uint8_t log1p_flag = loom_blob_get_u8(&r), fill = loom_blob_get_u8(&r);
    struct loom_number_stats s;
    s.mean = loom_blob_get_f64(&r);
    s.std = loom_blob_get_f64(&r);
    s.fill = loom_blob_get_f64(&r);
    uint64_t count = loom_blob_get_u64(&r), missing = loom_blob_get_u64(&r);
    if ((st = loom_blob_read_end(&r, "number statistics", err)) != LOOM_OK) return st;
    struct loom_number_opts o = {.log1p = log1p_flag == 1, .fill = (enum loom_fill)fill};
    if (log1p_flag > 1 || !valid_opts(&o) || !isfinite(s.mean) || !isfinite(s.std) ||
        !(s.std > 0) || !isfinite(s.fill) || count > INT64_MAX || missing > INT64_MAX)
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved number statistics: bad values");
    s.count = (int64_t)count;
    s.missing = (int64_t)missing;
    struct loom_number *n = NULL;
    if ((st = loom_number_new(&o, &n, err)) != LOOM_OK) return st;
    n->st = s;
    n->finished = true;
    *out = n;
    return LOOM_OK;
}

void loom_number_free(struct loom_number **n)
{
    if (!n || !*n) return;
    free((*n)->values);
    free(*n);
    *n = NULL;
}

/* ---- binary ------------------------------------------------------------------------ */

enum loom_status loom_binary_parse(const char *text, size_t len, int *out, struct loom_error *err)
{
    static const char *const spellings[2][5] = {{"0", "false", "no", "n", "f"},
                                                {"1", "true", "yes", "y", "t"}};
    trim(&text, &len);
    if (len == 0) {
        *out = -1;
        return LOOM_OK;
    }
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < 5; i++)
            if (strlen(spellings[v][i]) == len && strncasecmp(text, spellings[v][i], len) == 0) {
                *out = v;
                return LOOM_OK;
            }
    char q[48];
    return loom_error_set(err, LOOM_ERR_PARSE,
                          "\"%s\" is not a binary value (0/1, true/false, yes/no, y/n, t/f)",
                          QUOTE(q, text, len));
}

/* ---- label sets -------------------------------------------------------------------- */

static const struct labels_kind set_kind = {"set", "max_labels", "label", "set labels"};

struct loom_set {
    char sep[LOOM_SEPARATOR_MAX + 1];
    struct labels l; /* finished: entry i is multi-hot position i */
};

enum loom_status loom_set_new(const char *sep, int64_t min_count, size_t max_labels,
                              struct loom_set **out, struct loom_error *err)
{
    enum loom_status st = check_separator(sep, err);
    if (st != LOOM_OK) return st;
    if (!out) return loom_error_set(err, LOOM_ERR_INVALID, "set: NULL argument");
    struct labels l;
    if ((st = labels_init(&l, &set_kind, min_count, max_labels, err)) != LOOM_OK) return st;
    if (all_blank(sep))
        return loom_error_set(err, LOOM_ERR_INVALID,
                              "set: a separator of blanks only would "
                              "be trimmed away; use another");
    struct loom_set *s = calloc(1, sizeof *s);
    if (!s) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a set encoder");
    memcpy(s->sep, sep, strlen(sep) + 1);
    s->l = l;
    *out = s;
    return LOOM_OK;
}

enum loom_status loom_set_fit(struct loom_set *s, const char *text, size_t len,
                              struct loom_error *err)
{
    LOOM_ASSERT(s && !s->l.finished);
    struct splitter sp = split(text, len, s->sep);
    const char *piece;
    size_t plen;
    while (next_piece(&sp, &piece, &plen)) {
        if (plen == 0) continue;
        enum loom_status st = labels_add(&s->l, piece, plen, err);
        if (st != LOOM_OK) return st;
    }
    return LOOM_OK;
}

enum loom_status loom_set_finish(struct loom_set *s, struct loom_error *err)
{
    LOOM_ASSERT(s);
    return labels_finish(&s->l, err);
}

int32_t loom_set_size(const struct loom_set *s)
{
    LOOM_ASSERT(s && s->l.finished);
    return s->l.kept.n;
}

const char *loom_set_label(const struct loom_set *s, int32_t i, size_t *len)
{
    if (!s || !s->l.finished || i < 0 || i >= s->l.kept.n) return NULL;
    return loom_strtab_str(&s->l.kept, i, len);
}

enum loom_status loom_set_encode(const struct loom_set *s, const char *text, size_t len, float *out,
                                 int32_t *unknown, struct loom_error *err)
{
    LOOM_ASSERT(s && s->l.finished);
    if (!out && s->l.kept.n) return loom_error_set(err, LOOM_ERR_INVALID, "set: NULL output");
    for (int32_t i = 0; i < s->l.kept.n; i++) out[i] = 0;
    int32_t unk = 0;
    struct splitter sp = split(text, len, s->sep);
    const char *piece;
    size_t plen;
    while (next_piece(&sp, &piece, &plen)) {
        if (plen == 0) continue;
        int32_t k = loom_strtab_find(&s->l.kept, piece, plen);
        if (k < 0)
            unk += unk < INT32_MAX;
        else
            out[k] = 1;
    }
    if (unknown) *unknown = unk;
    return LOOM_OK;
}

enum loom_status loom_set_save(const struct loom_set *s, uint8_t **out, size_t *out_len,
                               struct loom_error *err)
{
    if (!s || !s->l.finished || !out || !out_len)
        return loom_error_set(err, LOOM_ERR_INVALID, "set: save needs a finished encoder");
    struct loom_blob_writer w;
    loom_blob_write_begin(&w, SET_TAG, FORMAT_V1);
    loom_blob_put_str(&w, s->sep, strlen(s->sep));
    labels_save(&w, &s->l);
    return loom_blob_write_end(&w, out, out_len, err);
}

/* Read a separator saved with loom_blob_put_str into a NUL-terminated copy. */
static bool get_separator(struct loom_blob_reader *r, char sep[LOOM_SEPARATOR_MAX + 1])
{
    size_t n;
    const char *s = loom_blob_get_str(r, LOOM_SEPARATOR_MAX, &n);
    if (!s || n == 0 || memchr(s, '\0', n)) return false;
    memcpy(sep, s, n);
    sep[n] = '\0';
    return true;
}

enum loom_status loom_set_load(const void *buf, size_t len, struct loom_set **out,
                               struct loom_error *err)
{
    if (!out) return loom_error_set(err, LOOM_ERR_INVALID, "set: NULL argument");
    struct loom_blob_reader r;
    enum loom_status st = loom_blob_read_begin(&r, buf, len, SET_TAG, FORMAT_V1, "set labels", err);
    if (st != LOOM_OK) return st;
    char sep[LOOM_SEPARATOR_MAX + 1];
    if (!get_separator(&r, sep) || all_blank(sep))
        return loom_error_set(err, LOOM_ERR_FORMAT, "saved set labels: bad options");
    struct loom_set *s = calloc(1, sizeof *s);
    if (!s) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a set encoder");
    memcpy(s->sep, sep, sizeof sep);
    if ((st = labels_load(&r, &s->l, &set_kind, sep, err)) != LOOM_OK) {
        loom_set_free(&s);
        return st;
    }
    *out = s;
    return LOOM_OK;
}

void loom_set_free(struct loom_set **s)
{
    if (!s || !*s) return;
    labels_done(&(*s)->l);
    free(*s);
    *s = NULL;
}

/* ---- number vectors ------------------------------------------------------------------ */

struct loom_vector {
    char sep[LOOM_SEPARATOR_MAX + 1];
    bool blank_sep; /* runs of a blank separator count as one */
    bool finished;
    int32_t dim; /* 0 until the first value */
};

enum loom_status loom_vector_new(const char *sep, struct loom_vector **out, struct loom_error *err)
{
    enum loom_status st = check_separator(sep, err);
    if (st != LOOM_OK) return st;
    if (!out) return loom_error_set(err, LOOM_ERR_INVALID, "vector: NULL argument");
    struct loom_vector *v = calloc(1, sizeof *v);
    if (!v) return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory for a vector encoder");
    memcpy(v->sep, sep, strlen(sep) + 1);
    v->blank_sep = all_blank(sep);
    *out = v;
    return LOOM_OK;
}

/* Parse the elements of a (trimmed, non-empty) vector field: count them into
 * *dim and, when out is not NULL, store them (out has room for expect). */
static enum loom_status parse_vector(const struct loom_vector *v, const char *text, size_t len,
                                     float *out, int32_t expect, int32_t *dim,
                                     struct loom_error *err)
{
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++, len -= 2;
        trim(&text, &len);
    }
    struct splitter sp = split(text, len, v->sep);
    const char *piece;
    size_t plen;
    int32_t n = 0;
    while (next_piece(&sp, &piece, &plen)) {
        if (plen == 0 && v->blank_sep) continue;
        double x;
        enum loom_status st = parse_number(piece, plen, &x, err);
        if (st != LOOM_OK) {
            char q[48];
            return loom_error_set(err, st, "vector element %d: \"%s\" is not a number", n + 1,
                                  QUOTE(q, piece, plen));
        }
        if (fabs(x) > FLT_MAX)
            return loom_error_set(err, LOOM_ERR_NUMERIC, "vector element %d: %g overflows a float",
                                  n + 1, x);
        if (n >= LOOM_VECTOR_MAX_DIM)
            return loom_error_set(err, LOOM_ERR_LIMIT, "vector: more than %d elements",
                                  LOOM_VECTOR_MAX_DIM);
        if (out && n < expect) out[n] = (float)x;
        n++;
    }
    if (n == 0) return loom_error_set(err, LOOM_ERR_PARSE, "vector: no numbers in the value");
    *dim = n;
    return LOOM_OK;
}

enum loom_status loom_vector_fit(struct loom_vector *v, const char *text, size_t len,
                                 struct loom_error *err)
{
    LOOM_ASSERT(v && !v->finished);
    trim(&text, &len);
    if (len == 0) return LOOM_OK;
    int32_t dim;
    enum loom_status st = parse_vector(v, text, len, NULL, 0, &dim, err);
    if (st != LOOM_OK) return st;
    if (v->dim == 0) v->dim = dim;
    if (dim != v->dim)
        return loom_error_set(err, LOOM_ERR_SHAPE,
                              "vector of dimension %d, but the first row has dimension %d", dim,
                              v->dim);
    return LOOM_OK;
}

enum loom_status loom_vector_finish(struct loom_vector *v, struct loom_error *err)
{
    LOOM_ASSERT(v && !v->finished);
    if (v->dim == 0)
        return loom_error_set(err, LOOM_ERR_INVALID, "vector: no value in the training rows");
    v->finished = true;
    return LOOM_OK;
}

int32_t loom_vector_dim(const struct loom_vector *v)
{
    LOOM_ASSERT(v && v->finished);
    return v->dim;
}

enum loom_status loom_vector_encode(const struct loom_vector *v, const char *text, size_t len,
                                    float *out, struct loom_error *err)
{
    LOOM_ASSERT(v && v->finished);
    if (!out) return loom_error_set(err, LOOM_ERR_INVALID, "vector: NULL output");
    trim(&text, &len);
    if (len == 0) {
        for (int32_t i = 0; i < v->dim; i++) out[i] = 0;
        return LOOM_OK;
    }
    /* Validate first, so that out is written only on success. */
    int32_t dim;
    enum loom_status st = parse_vector(v, text, len, NULL, 0, &dim, err);
    if (st != LOOM_OK) return st;
    if (dim != v->dim)
        return loom_error_set(err, LOOM_ERR_SHAPE, "vector of dimension %d, expected %d", dim,
                              v->dim);
    return parse_vector(v, text, len, out, v->dim, &dim, err);
}

enum loom_status loom_vector_save(const struct loom_vector *v, uint8_t **out, size_t *out_len,
                                  struct loom_error *err)
{
    if (!v || !v->finished || !out || !out_len)
        return loom_error_set(err, LOOM_ERR_INVALID, "vector: save needs a finished encoder");
    struct loom_blob_writer w;
    loom_blob_write_begin(&w, VECTOR_TAG, FORMAT_V1);
    loom_blob_put_str(&w, v->sep, strlen(v->sep));
    loom_blob_put_u32(&w, (uint32_t)v->dim);
    return loom_blob_write_end(&w, out, out_len, err);
}

enum loom_status loom_vector_load(const void *buf, size_t len, struct loom_vector **out,
                                  struct loom_error *err)
{
    if (!out) return loom_error_set(err, LOOM_ERR_INVALID, "vector: NULL argument");
    struct loom_blob_reader r;
    enum loom_status st =
        loom_blob_read_begin(&r, buf, len, VECTOR_TAG, FORMAT_V1, "vector shape", err);
    if (st != LOOM_OK) return st;
    char sep[LOOM_SEPARATOR_MAX + 1];
    bool sep_ok = get_separator(&r, sep);
    uint32_t dim = loom_blob_get_u32(&r);
    if ((st = loom_blob_read_end(&r, "vector shape", err)) != LOOM_OK) return st;
    if (!sep_ok || dim < 1 || dim > LOOM_VECTOR_MAX_DIM)
        return loom_error_set(err, LOOM_ERR_FORMAT,
                              "saved vector shape: bad separator or "
                              "dimension");
    struct loom_vector *v = NULL;
    if ((st = loom_vector_new(sep, &v, err)) != LOOM_OK) return st;
    v->dim = (int32_t)dim;
    v->finished = true;
    *out = v;
    return LOOM_OK;
}

void loom_vector_free(struct loom_vector **v)
{
    if (!v || !*v) return;
    free(*v);
    *v = NULL;
}
