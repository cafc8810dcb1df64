/*
 * serve_json.c — the JSON side of `loom serve`: a request body becomes
 * loom_rows through the public API, and results, the schema and errors
 * become JSON. Nothing here knows about HTTP, threads or sockets, so that
 * tests/fuzz/fuzz_http_body.c can throw any bytes at serve_parse_rows.
 *
 * A body is read in three steps: a linear scan (nesting depth, and a count
 * of JSON values bounded by what max_rows rows could hold, so that a 16 MiB
 * body of "[0,0,0,..." cannot make jansson allocate gigabytes), jansson
 * (duplicate keys, \u0000 and bad UTF-8 refused), and the walk that checks
 * every value against its column's type before the library encodes it.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve.h"

int serve_fail_set(struct serve_fail *f, int status, const char *field, const char *fmt, ...)
{
    f->status = status;
    f->line = f->column = 0;
    snprintf(f->field, sizeof f->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->error, sizeof f->error, fmt, ap);
    va_end(ap);
    return status;
}

/* Text for JSON: invalid UTF-8 (a truncated message, a label from odd
 * data) becomes '?' rather than a NULL json string. */
static json_t *text(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j) return j;
    char *t = malloc(n + 1);
    if (!t) return NULL;
    for (size_t i = 0; i < n; i++) t[i] = (unsigned char)s[i] < 0x80 && s[i] ? s[i] : '?';
    j = json_stringn(t, n);
    free(t);
    return j;
}

json_t *serve_fail_json(const struct serve_fail *f)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "error", text(f->error, strlen(f->error)));
    json_object_set_new(o, "field", text(f->field, strlen(f->field)));
    if (f->line) {
        json_object_set_new(o, "line", json_integer(f->line));
        json_object_set_new(o, "column", json_integer(f->column));
    }
    return o;
}

/* ---- the model ---------------------------------------------------------------------- */

enum loom_status serve_model_init(struct serve_model *sm, const loom_model *m,
                                  const struct serve_limits *lim, struct loom_error *err)
{
    memset(sm, 0, sizeof *sm);
    sm->m = m;
    sm->ninputs = loom_model_input_count(m);
    sm->noutputs = loom_model_output_count(m);
    sm->embedding_width = loom_model_embedding_width(m);
    sm->in = calloc((size_t)sm->ninputs + 1, sizeof *sm->in);
    sm->out = calloc((size_t)sm->noutputs + 1, sizeof *sm->out);
    if (!sm->in || !sm->out) {
        serve_model_done(sm);
        snprintf(err->message, sizeof err->message, "out of memory");
        return err->code = LOOM_ERR_NOMEM;
    }
    enum loom_status st = LOOM_OK;
    for (int i = 0; i < sm->ninputs && !st; i++) st = loom_model_input(m, i, &sm->in[i]);
    for (int j = 0; j < sm->noutputs && !st; j++) st = loom_model_output(m, j, &sm->out[j]);
    if (st) {
        serve_model_done(sm);
        snprintf(err->message, sizeof err->message, "cannot read the model's columns");
        return err->code = st;
    }
    /* what scan() counts: key, ':', value, ',' per column; two per set or
     * vector element; five per photo ({"path": "..."},); twice over for
     * slack (an id column, spaces do not count but keys of nothing do) */
    int64_t v = 4;
    for (int i = 0; i < sm->ninputs; i++) {
        const struct loom_input_info *in = &sm->in[i];
        v += 4;
        if (in->type == LOOM_TYPE_SET || in->type == LOOM_TYPE_VECTOR) v += 2 * (int64_t)in->width;
        if (in->type == LOOM_TYPE_IMAGES) v += 5 * (int64_t)lim->max_photos;
    }
    sm->values_per_row = 2 * v;
    return LOOM_OK;
}

void serve_model_done(struct serve_model *sm)
{
    free(sm->in), free(sm->out);
    sm->in = NULL, sm->out = NULL;
}

void serve_scratch_done(struct serve_scratch *s)
{
    free(s->buf);
    s->buf = NULL, s->cap = 0;
}

static bool reserve(struct serve_scratch *s, size_t n)
{
    if (n <= s->cap) return true;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < n) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    uint8_t *b = realloc(s->buf, cap);
    if (!b) return false;
    s->buf = b, s->cap = cap;
    return true;
}

enum loom_status serve_rows_limits(loom_rows *rows, const struct serve_limits *lim,
                                   struct loom_error *err)
{
    enum loom_status st = loom_rows_set_limit(rows, LOOM_LIMIT_ROWS, (uint64_t)lim->max_rows, err);
    if (!st) st = loom_rows_set_limit(rows, LOOM_LIMIT_PHOTOS, (uint64_t)lim->max_photos, err);
    if (!st) st = loom_rows_set_limit(rows, LOOM_LIMIT_IMAGE_PIXELS, lim->max_pixels, err);
    if (!st) st = loom_rows_set_limit(rows, LOOM_LIMIT_IMAGE_BYTES, lim->max_body, err);
    return st;
}

/* ---- the scan ----------------------------------------------------------------------- */

/* Depth and value count of body, strings skipped (escapes included). Bad
 * JSON passes: jansson says where it is wrong. */
static int scan(const char *b, size_t n, int64_t max_values, int64_t max_rows, struct serve_fail *f)
{
    int depth = 0, line = 1;
    size_t line_start = 0;
    int64_t values = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        if (ch == '"') {
            for (i++; i < n && b[i] != '"'; i++)
                if (b[i] == '\\') i++;
            values++;
        } else if (ch == '{' || ch == '[') {
            values++;
            if (++depth > SERVE_MAX_DEPTH) {
                serve_fail_set(f, 400, "body", "JSON nested deeper than %d levels",
                               SERVE_MAX_DEPTH);
                f->line = line, f->column = (int)(i - line_start) + 1;
                return f->status;
            }
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',' || ch == ':') {
            values++;
        } else if (ch == '\n') {
            line++, line_start = i + 1;
        }
        if (values > max_values)
            return serve_fail_set(f, 413, "rows",
                                  "the body holds more JSON values than %lld rows could",
                                  (long long)max_rows);
    }
    return 0;
}

/* ---- values ------------------------------------------------------------------------- */

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* The error of a library call on a value: 400 (413 past a size limit). */
static int lib_fail(struct serve_fail *f, const char *field, const struct loom_error *e)
{
    int status = e->code == LOOM_ERR_LIMIT ? 413 : e->code == LOOM_ERR_NOMEM ? 500 : 400;
    return serve_fail_set(f, status, field, "%s", e->message);
}

static int set_number(loom_rows *rows, int64_t i, const char *col, const json_t *v,
                      const char *field, struct serve_fail *f)
{
    struct loom_error e;
    if (loom_rows_set_number(rows, i, col, json_number_value(v), &e)) return lib_fail(f, field, &e);
    return 0;
}

static int set_text(loom_rows *rows, int64_t i, const char *col, const char *s, size_t n,
                    const char *field, struct serve_fail *f)
{
    struct loom_error e;
    if (loom_rows_set_string(rows, i, col, s, n, &e)) return lib_fail(f, field, &e);
    return 0;
}

/* A set as an array of labels or a vector as an array of numbers: joined
 * with the column's separator into one string, as in the training CSV. */
static int set_list(loom_rows *rows, int64_t i, const struct loom_input_info *in, const json_t *v,
                    struct serve_scratch *s, const char *field, struct serve_fail *f)
{
    size_t len = 0, k;
    const json_t *e;
    char sub[sizeof f->field + 32];
    json_array_foreach(v, k, e)
    {
        snprintf(sub, sizeof sub, "%s[%zu]", field, k);
        char num[40];
        const char *p = num;
        size_t n;
        if (in->type == LOOM_TYPE_VECTOR) {
            if (!json_is_number(e))
                return serve_fail_set(f, 400, sub, "'%s' is a vector: numbers expected, not %s",
                                      in->name, type_of(e));
            n = (size_t)snprintf(num, sizeof num, "%.17g", json_number_value(e));
        } else {
            if (!json_is_string(e))
                return serve_fail_set(f, 400, sub, "'%s' is a set: labels expected, not %s",
                                      in->name, type_of(e));
            p = json_string_value(e), n = json_string_length(e);
            if (memchr(p, in->separator, n))
                return serve_fail_set(f, 400, sub, "a label of '%s' holds its separator '%c'",
                                      in->name, in->separator);
        }
        if (!reserve(s, len + n + 2)) return serve_fail_set(f, 500, sub, "out of memory");
        if (k) s->buf[len++] = (uint8_t)in->separator;
        memcpy(s->buf + len, p, n);
        len += n;
    }
    return set_text(rows, i, in->name, (const char *)s->buf, len, field, f);
}

/* ---- photos ------------------------------------------------------------------------- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Base64 (standard or URL-safe alphabet, padding optional, no blanks; a
 * "data:...;base64," prefix skipped) into s->buf; bytes in *out_len.
 * Returns the offset of the first bad character, or SIZE_MAX when good. */
static size_t b64_decode(const char *p, size_t n, struct serve_scratch *s, size_t *out_len,
                         bool *nomem)
{
    size_t skip = 0;
    if (n > 5 && !memcmp(p, "data:", 5)) {
        const char *comma = memchr(p, ',', n < 256 ? n : 256);
        if (!comma || comma - p < 12 || memcmp(comma - 7, ";base64", 7)) return 0;
        skip = (size_t)(comma - p) + 1;
    }
    const char *q = p + skip;
    size_t m = n - skip;
    while (m > 0 && q[m - 1] == '=' && n - skip - m < 2) m--;
    if (m != n - skip && (n - skip) % 4) return skip + m; /* padding that does not fit */
    if (m % 4 == 1) return skip + m - 1;
    if (!reserve(s, m / 4 * 3 + 3)) {
        *nomem = true;
        return 0;
    }
    size_t o = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < m; i++) {
        int v = b64_value((unsigned char)q[i]);
        if (v < 0) return skip + i;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            s->buf[o++] = (uint8_t)(acc >> 16), s->buf[o++] = (uint8_t)(acc >> 8);
            s->buf[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (m % 4 == 2) s->buf[o++] = (uint8_t)(acc >> 4);
    if (m % 4 == 3) s->buf[o++] = (uint8_t)(acc >> 10), s->buf[o++] = (uint8_t)(acc >> 2);
    *out_len = o;
    return SIZE_MAX;
}

static bool warn(json_t *warnings, const char *field, const char *msg)
{
    json_t *w = json_object();
    if (!w) return false;
    json_object_set_new(w, "field", text(field, strlen(field)));
    json_object_set_new(w, "error", text(msg, strlen(msg)));
    return json_array_append_new(warnings, w) == 0;
}

/* A path under the image root: refused (400) when absolute, with a ".."
 * part, or resolving (symlinks followed) outside the root; a missing or
 * non-regular file is a dropped photo. On success *resolved holds the
 * real path (to open) or "" for a dropped one with its warning in *why. */
static int root_path(const struct serve_limits *lim, const char *rel, size_t n,
                     char resolved[PATH_MAX], char *why, size_t why_len, const char *field,
                     struct serve_fail *f)
{
    resolved[0] = 0;
    if (!lim->image_root)
        return serve_fail_set(f, 400, field,
                              "photos by path need the server's --image-root; send base64");
    if (n == 0 || n >= PATH_MAX / 2) return serve_fail_set(f, 400, field, "a path of %zu bytes", n);
    if (rel[0] == '/') return serve_fail_set(f, 400, field, "an absolute path is outside the root");
    for (const char *p = rel; p < rel + n;) {
        const char *end = memchr(p, '/', (size_t)(rel + n - p));
        if (!end) end = rel + n;
        if (end - p == 2 && p[0] == '.' && p[1] == '.')
            return serve_fail_set(f, 400, field, "a path with '..' is outside the image root");
        p = end + 1;
    }
    char joined[PATH_MAX];
    snprintf(joined, sizeof joined, "%s/%.*s", lim->image_root, (int)n, rel);
    if (!realpath(joined, resolved)) {
        snprintf(why, why_len, "'%.*s': %s", (int)(n < 200 ? n : 200), rel, strerror(errno));
        resolved[0] = 0;
        return 0;
    }
    size_t rl = strlen(lim->image_root);
    if (strncmp(resolved, lim->image_root, rl) != 0 || (resolved[rl] != '/' && rl > 1)) {
        resolved[0] = 0;
        return serve_fail_set(f, 400, field, "the path leads outside the image root");
    }
    struct stat st;
    if (stat(resolved, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "'%.*s': not a regular file", (int)(n < 200 ? n : 200), rel);
        resolved[0] = 0;
    }
    return 0;
}

/* One photo of row i: added to rows (a photo we refuse to read is added as
 * zero bytes, so that the library's photo indices stay the JSON ones); a
 * dropped photo becomes a warning. */
static int add_photo(loom_rows *rows, int64_t i, const struct loom_input_info *in,
                     const struct serve_limits *lim, struct serve_scratch *s, const json_t *ph,
                     const char *field, json_t *warnings, struct serve_fail *f)
{
    char why[400] = "", resolved[PATH_MAX] = "";
    const void *bytes = NULL;
    size_t len = 0;
    if (json_is_string(ph)) {
        bool nomem = false;
        size_t bad = b64_decode(json_string_value(ph), json_string_length(ph), s, &len, &nomem);
        if (nomem) return serve_fail_set(f, 500, field, "out of memory");
        if (bad != SIZE_MAX)
            return serve_fail_set(f, 400, field, "not base64 (character %zu)", bad);
        bytes = s->buf;
    } else if (json_is_object(ph)) {
        const json_t *p = json_object_get(ph, "path");
        if (!json_is_string(p) || json_object_size(ph) != 1)
            return serve_fail_set(f, 400, field, "a photo object is {\"path\": \"...\"}");
        int st = root_path(lim, json_string_value(p), json_string_length(p), resolved, why,
                           sizeof why, field, f);
        if (st) return st;
    } else {
        return serve_fail_set(f, 400, field,
                              "a photo is a base64 string or {\"path\": ...}, not %s", type_of(ph));
    }
    int64_t before = loom_rows_warning_count(rows);
    struct loom_error e;
    enum loom_status st = resolved[0] ? loom_rows_add_image_path(rows, i, in->name, resolved, &e)
                                      : loom_rows_add_image(rows, i, in->name, bytes, len, &e);
    if (st) return lib_fail(f, field, &e);
    if (why[0]) return warn(warnings, field, why) ? 0 : serve_fail_set(f, 500, field, "no memory");
    for (int64_t k = before; k < loom_rows_warning_count(rows); k++) {
        struct loom_warning w;
        if (loom_rows_warning(rows, k, &w) == LOOM_OK && !warn(warnings, field, w.message))
            return serve_fail_set(f, 500, field, "out of memory");
    }
    return 0;
}

static int set_photos(loom_rows *rows, int64_t i, const struct loom_input_info *in,
                      const struct serve_limits *lim, struct serve_scratch *s, const json_t *v,
                      const char *field, json_t *warnings, struct serve_fail *f)
{
    if (!json_is_array(v))
        return serve_fail_set(f, 400, field, "'%s' takes an array of photos, not %s", in->name,
                              type_of(v));
    if (json_array_size(v) > (size_t)lim->max_photos)
        return serve_fail_set(f, 413, field, "%zu photos, over the limit of %d", json_array_size(v),
                              lim->max_photos);
    size_t k;
    const json_t *ph;
    char sub[sizeof f->field + 32];
    json_array_foreach(v, k, ph)
    {
        snprintf(sub, sizeof sub, "%s[%zu]", field, k);
        int st = add_photo(rows, i, in, lim, s, ph, sub, warnings, f);
        if (st) return st;
    }
    return 0;
}

/* ---- rows --------------------------------------------------------------------------- */

/* A key as it may appear in a message: printable ASCII, its first 24 bytes. */
static void show_key(char *out, size_t n, const char *key)
{
    size_t o = 0;
    for (const char *p = key; *p && o + 5 < n && p - key < 24; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
    }
    out[o] = 0;
}

static int set_value(const struct serve_model *sm, const struct serve_limits *lim, loom_rows *rows,
                     int64_t i, const char *key, const json_t *v, struct serve_scratch *s,
                     json_t *warnings, struct serve_fail *f)
{
    char shown[100], field[sizeof f->field];
    show_key(shown, sizeof shown, key);
    snprintf(field, sizeof field, "rows[%lld].%s", (long long)i, shown);
    const struct loom_input_info *in = NULL;
    for (int c = 0; c < sm->ninputs && !in; c++)
        if (!strcmp(sm->in[c].name, key)) in = &sm->in[c];
    if (!in) {
        for (int j = 0; j < sm->noutputs; j++)
            if (!strcmp(sm->out[j].name, key))
                return serve_fail_set(f, 400, field, "'%s' is an output of the model, not an input",
                                      shown);
        struct loom_error e;
        if (loom_rows_set_string(rows, i, key, "", 0, &e) != LOOM_OK)
            return serve_fail_set(f, 400, field, "unknown column '%s' (GET /schema lists them)",
                                  shown);
        if (json_is_object(v) || json_is_array(v))
            return serve_fail_set(f, 400, field, "an id is a string or a number, not %s",
                                  type_of(v));
        return 0; /* the id column: accepted, not a feature */
    }
    if (json_is_null(v)) return 0; /* missing: the row already says so */
    enum loom_type t = in->type;
    if (t == LOOM_TYPE_IMAGES) return set_photos(rows, i, in, lim, s, v, field, warnings, f);
    if (json_is_string(v))
        return set_text(rows, i, key, json_string_value(v), json_string_length(v), field, f);
    if (json_is_boolean(v) && t == LOOM_TYPE_BINARY)
        return set_text(rows, i, key, json_is_true(v) ? "1" : "0", 1, field, f);
    if (json_is_number(v) &&
        (t == LOOM_TYPE_NUMBER || t == LOOM_TYPE_BINARY || t == LOOM_TYPE_CATEGORY))
        return set_number(rows, i, key, v, field, f);
    if (json_is_array(v) && (t == LOOM_TYPE_SET || t == LOOM_TYPE_VECTOR))
        return set_list(rows, i, in, v, s, field, f);
    static const char *const expects[LOOM_TYPE_COUNT] = {
        [LOOM_TYPE_NUMBER] = "a number (or a numeric string)",
        [LOOM_TYPE_BINARY] = "true/false, 0/1 or a string",
        [LOOM_TYPE_CATEGORY] = "a string or a number",
        [LOOM_TYPE_DATE] = "a string (ISO 8601 date)",
        [LOOM_TYPE_TEXT] = "a string",
        [LOOM_TYPE_SET] = "an array of labels or a string",
        [LOOM_TYPE_VECTOR] = "an array of numbers or a string",
    };
    const char *want = (unsigned)t < LOOM_TYPE_COUNT && expects[t] ? expects[t] : "a string";
    return serve_fail_set(f, 400, field, "'%s' is a %s column: it takes %s, not %s", shown,
                          loom_type_name(t), want, type_of(v));
}

static int parse_json(const struct serve_model *sm, const struct serve_limits *lim,
                      const char *body, size_t len, json_t **out, struct serve_fail *f)
{
    if (len == 0) return serve_fail_set(f, 400, "body", "an empty body (send {\"rows\": [...]})");
    int64_t max_values = 16 + lim->max_rows * sm->values_per_row;
    int st = scan(body, len, max_values, lim->max_rows, f);
    if (st) return st;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        serve_fail_set(f, 400, "body", "not JSON: line %d, column %d: %s", je.line, je.column,
                       je.text);
        f->line = je.line > 0 ? je.line : 1, f->column = je.column > 0 ? je.column : 1;
        return 400;
    }
    *out = root;
    return 0;
}

int serve_parse_rows(const struct serve_model *sm, const struct serve_limits *lim, loom_rows *rows,
                     struct serve_scratch *scratch, const char *body, size_t len, json_t **warnings,
                     struct serve_fail *f)
{
    loom_rows_clear(rows);
    json_t *root = NULL, *warn_list = NULL;
    int st = parse_json(sm, lim, body, len, &root, f);
    if (st) return st;
    const json_t *list = json_object_get(root, "rows");
    const char *key;
    const json_t *v;
    if (!json_is_object(root)) {
        st =
            serve_fail_set(f, 400, "body", "the body is %s: send {\"rows\": [...]}", type_of(root));
        goto fail;
    }
    json_object_foreach((json_t *)root, key, v)
    {
        if (strcmp(key, "rows") != 0) {
            char shown[100];
            show_key(shown, sizeof shown, key);
            st = serve_fail_set(f, 400, shown[0] ? shown : "\"\"",
                                "unknown key '%s': the body is {\"rows\": [...]}", shown);
            goto fail;
        }
    }
    if (!list) {
        st = serve_fail_set(f, 400, "rows", "no \"rows\": send {\"rows\": [...]}");
        goto fail;
    }
    if (!json_is_array(list)) {
        st = serve_fail_set(f, 400, "rows", "\"rows\" is %s, not an array of objects",
                            type_of(list));
        goto fail;
    }
    if (json_array_size(list) > (size_t)lim->max_rows) {
        st = serve_fail_set(f, 413, "rows", "%zu rows, over the limit of %lld",
                            json_array_size(list), (long long)lim->max_rows);
        goto fail;
    }
    if (!(warn_list = json_array())) {
        st = serve_fail_set(f, 500, "body", "out of memory");
        goto fail;
    }
    size_t i;
    const json_t *row;
    json_array_foreach(list, i, row)
    {
        char field[64];
        snprintf(field, sizeof field, "rows[%zu]", i);
        if (!json_is_object(row)) {
            st = serve_fail_set(f, 400, field, "a row is an object of columns, not %s",
                                type_of(row));
            goto fail;
        }
        int64_t r;
        struct loom_error e;
        if (loom_rows_add(rows, &r, &e)) {
            st = lib_fail(f, field, &e);
            goto fail;
        }
        json_object_foreach((json_t *)row, key, v)
        {
            if ((st = set_value(sm, lim, rows, r, key, v, scratch, warn_list, f))) goto fail;
        }
    }
    json_decref(root);
    *warnings = warn_list;
    return 0;
fail:
    json_decref(root);
    json_decref(warn_list);
    loom_rows_clear(rows);
    return st;
}

/* ---- responses ---------------------------------------------------------------------- */

static json_t *label_json(const struct serve_model *sm, int j, int k)
{
    size_t n = 0;
    const char *s = loom_model_output_label(sm->m, j, k, &n);
    return s ? text(s, n) : json_null();
}

/* Probabilities of a category or set output keyed by label. */
static json_t *probabilities(const struct serve_model *sm, int j, const double *p, int w)
{
    json_t *o = json_object();
    for (int k = 0; o && k < w; k++) {
        json_t *key = label_json(sm, j, k);
        if (json_is_string(key)) json_object_set_new(o, json_string_value(key), json_real(p[k]));
        json_decref(key);
    }
    return o;
}

static json_t *output_json(const struct serve_model *sm, const loom_result *r, int j, int64_t i)
{
    int w = 0;
    const double *v = loom_result_values(r, j, &w);
    if (!v) return json_null();
    const double *p = v + i * w;
    json_t *o;
    switch (sm->out[j].type) {
    case LOOM_TYPE_NUMBER:
        return json_real(p[0]);
    case LOOM_TYPE_BINARY:
        o = json_object();
        json_object_set_new(o, "label", json_integer(loom_result_label(r, j, i)));
        json_object_set_new(o, "probability", json_real(p[0]));
        return o;
    case LOOM_TYPE_CATEGORY:
        o = json_object();
        json_object_set_new(o, "label", label_json(sm, j, loom_result_label(r, j, i)));
        json_object_set_new(o, "probabilities", probabilities(sm, j, p, w));
        return o;
    case LOOM_TYPE_SET: {
        o = json_object();
        json_t *chosen = json_array();
        for (int k = 0; k < w; k++)
            if (p[k] > 0.5) json_array_append_new(chosen, label_json(sm, j, k));
        json_object_set_new(o, "labels", chosen);
        json_object_set_new(o, "probabilities", probabilities(sm, j, p, w));
        return o;
    }
    default:
        o = json_array();
        for (int k = 0; k < w; k++) json_array_append_new(o, json_real(p[k]));
        return o;
    }
}

json_t *serve_predict_json(const struct serve_model *sm, const loom_result *r)
{
    json_t *root = json_object(), *list = json_array();
    if (!root || !list || json_object_set_new(root, "rows", list)) {
        json_decref(root);
        return NULL;
    }
    for (int64_t i = 0; i < loom_result_rows(r); i++) {
        json_t *row = json_object();
        if (!row || json_array_append_new(list, row)) break;
        for (int j = 0; j < sm->noutputs; j++)
            json_object_set_new(row, sm->out[j].name, output_json(sm, r, j, i));
    }
    return root;
}

json_t *serve_embed_json(const struct serve_model *sm, const loom_result *r, bool attention)
{
    json_t *root = json_object(), *list = json_array(), *att = attention ? json_array() : NULL;
    if (!root || !list || json_object_set_new(root, "embeddings", list) ||
        (attention && (!att || json_object_set_new(root, "attention", att)))) {
        json_decref(root);
        return NULL;
    }
    int w = 0;
    const float *e = loom_result_embedding(r, &w);
    for (int64_t i = 0; i < loom_result_rows(r); i++) {
        json_t *row = json_array();
        json_array_append_new(list, row);
        for (int k = 0; e && k < w; k++) json_array_append_new(row, json_real(e[i * w + k]));
        if (!att) continue;
        json_t *cols = json_object();
        json_array_append_new(att, cols);
        for (int c = 0; c < sm->ninputs; c++) {
            if (sm->in[c].type != LOOM_TYPE_IMAGES) continue;
            int n = 0;
            const float *a = loom_result_attention(r, i, sm->in[c].name, &n);
            json_t *ws = json_array();
            for (int k = 0; a && k < n; k++) json_array_append_new(ws, json_real(a[k]));
            json_object_set_new(cols, sm->in[c].name, ws);
        }
    }
    return root;
}

json_t *serve_schema_json(const struct serve_model *sm, const struct serve_limits *lim)
{
    json_t *root = json_object(), *ins = json_array(), *outs = json_array(), *l = json_object();
    json_object_set_new(root, "inputs", ins);
    json_object_set_new(root, "outputs", outs);
    json_object_set_new(root, "embedding_width", json_integer(sm->embedding_width));
    json_object_set_new(root, "limits", l);
    json_object_set_new(root, "loom_version", json_string(loom_version()));
    for (int i = 0; i < sm->ninputs; i++) {
        const struct loom_input_info *in = &sm->in[i];
        json_t *o = json_object();
        json_array_append_new(ins, o);
        json_object_set_new(o, "name", text(in->name, strlen(in->name)));
        json_object_set_new(o, "type", json_string(loom_type_name(in->type)));
        if (in->type == LOOM_TYPE_IMAGES)
            json_object_set_new(o, "max_photos", json_integer(in->max_photos));
        if (in->type == LOOM_TYPE_VECTOR) json_object_set_new(o, "dim", json_integer(in->width));
        if (in->separator) /* of the training CSV's field (a string set or vector uses it) */
            json_object_set_new(o, "separator", json_stringn(&in->separator, 1));
    }
    for (int j = 0; j < sm->noutputs; j++) {
        const struct loom_output_info *out = &sm->out[j];
        json_t *o = json_object();
        json_array_append_new(outs, o);
        json_object_set_new(o, "name", text(out->name, strlen(out->name)));
        json_object_set_new(o, "type", json_string(loom_type_name(out->type)));
        json_object_set_new(o, "width", json_integer(out->width));
        if (out->type != LOOM_TYPE_CATEGORY && out->type != LOOM_TYPE_SET) continue;
        json_t *labels = json_array();
        for (int k = 0; k < out->width; k++) json_array_append_new(labels, label_json(sm, j, k));
        json_object_set_new(o, "labels", labels);
    }
    json_object_set_new(l, "max_body", json_integer((json_int_t)lim->max_body));
    json_object_set_new(l, "max_rows", json_integer(lim->max_rows));
    json_object_set_new(l, "max_photos", json_integer(lim->max_photos));
    json_object_set_new(l, "max_pixels", json_integer((json_int_t)lim->max_pixels));
    json_object_set_new(l, "timeout", json_real(lim->timeout));
    json_object_set_new(l, "image_root", json_boolean(lim->image_root != NULL));
    return root;
}
