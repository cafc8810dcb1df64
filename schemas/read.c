/*
 * read.c — the table-driven reader of schema maps (read.h): value checks,
 * defaults, unknown keys with suggestions, path resolution and file checks.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "read.h"

#define FIELD(obj, off, type) ((type *)((char *)(obj) + (off)))
#define MAX_LIST              64 /* items of a size list */

void loom_read_error(struct loom_reader *r, enum loom_status code, struct loom_schema_pos at,
                     const char *fmt, ...)
{
    char msg[sizeof((struct loom_error *)0)->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    loom_diag_add(r->diag, code, r->file, at.line, at.column, "%s", msg);
    if (r->status == LOOM_OK) r->status = code;
}

/* ---- suggestions ---- */

static int osa_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    size_t n = strlen(a), m = strlen(b);
    if (n >= MAXLEN || m >= MAXLEN) return 99;
    int d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = LOOM_MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);
            v = LOOM_MIN(v, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 &&
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]))
                v = LOOM_MIN(v, d[i - 2][j - 2] + 1);
            d[i][j] = v;
        }
    }
    return d[n][m];
}

const char *loom_suggest(const char *word, const char *const *candidates, int n)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < n; i++) {
        if (!candidates[i]) continue;
        int dist = osa_distance(word, candidates[i]);
        if (dist < best_d && (size_t)dist < strlen(word)) {
            best = candidates[i];
            best_d = dist;
        }
    }
    return best;
}

/* ---- scalars ---- */

const char *loom_node_name(const struct loom_ynode *n)
{
    if (!n || n->kind != LOOM_YNODE_SCALAR || n->len == 0 || strlen(n->text) != n->len ||
        loom_ynode_is_null(n))
        return NULL;
    return n->text;
}

static bool parse_int(const struct loom_ynode *v, long long *out)
{
    if (!v || v->kind != LOOM_YNODE_SCALAR || v->len == 0 || v->len > 24) return false;
    const char *s = v->text;
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (i == v->len) return false;
    for (size_t k = i; k < v->len; k++)
        if (!isdigit((unsigned char)s[k])) return false;
    errno = 0;
    long long x = strtoll(s, NULL, 10);
    if (errno == ERANGE) return false;
    *out = x;
    return true;
}

static bool parse_float(const struct loom_ynode *v, double *out)
{
    if (!v || v->kind != LOOM_YNODE_SCALAR || v->len == 0 || v->len > 64) return false;
    /* Decimal notation only: strtod would also take hex, "inf" and "nan". */
    for (size_t k = 0; k < v->len; k++)
        if (!strchr("0123456789+-.eE", v->text[k])) return false;
    char *end;
    errno = 0;
    double x = strtod(v->text, &end);
    if (end != v->text + v->len || !isfinite(x) || errno == ERANGE) return false;
    *out = x;
    return true;
}

static int parse_bool(const struct loom_ynode *v)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};
    if (!v || v->kind != LOOM_YNODE_SCALAR || strlen(v->text) != v->len) return -1;
    for (size_t i = 0; i < LOOM_ARRAY_LEN(yes); i++) {
        if (strcmp(v->text, yes[i]) == 0) return 1;
        if (strcmp(v->text, no[i]) == 0) return 0;
    }
    return -1;
}

/* ---- what a key expects, in words ---- */

static void range_words(const struct loom_key *k, bool integer, char *buf, size_t n)
{
    bool lo = isfinite(k->lo), hi = isfinite(k->hi) && k->hi < 1e18;
    bool lo_open = k->flags & LOOM_KF_LO_OPEN, hi_open = k->flags & LOOM_KF_HI_OPEN;
    if (lo && hi && integer)
        snprintf(buf, n, " from %.15g to %.15g", k->lo, k->hi);
    else if (lo && hi)
        snprintf(buf, n, " in %c%.15g, %.15g%c", lo_open ? '(' : '[', k->lo, k->hi,
                 hi_open ? ')' : ']');
    else if (lo)
        snprintf(buf, n, " %s %.15g", lo_open ? ">" : ">=", k->lo);
    else if (hi)
        snprintf(buf, n, " %s %.15g", hi_open ? "<" : "<=", k->hi);
    else
        buf[0] = '\0';
}

static void enum_words(const struct loom_key *k, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; k->names[i]; i++) {
        if (k->allowed && !(k->allowed & (1u << i))) continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", k->names[i]);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
}

static void expect_words(const struct loom_key *k, char *buf, size_t n)
{
    char r[96];
    switch (k->kind) {
    case LOOM_KEY_INT:
    case LOOM_KEY_I64:
        range_words(k, true, r, sizeof r);
        snprintf(buf, n, "an integer%s", r);
        break;
    case LOOM_KEY_INT_AUTO:
        range_words(k, true, r, sizeof r);
        snprintf(buf, n, "auto or an integer%s", r);
        break;
    case LOOM_KEY_FLOAT:
        range_words(k, false, r, sizeof r);
        snprintf(buf, n, "a number%s", r);
        break;
    case LOOM_KEY_BOOL:
        snprintf(buf, n, "true or false");
        break;
    case LOOM_KEY_ENUM: {
        char e[200];
        enum_words(k, e, sizeof e);
        snprintf(buf, n, "one of %s", e);
        break;
    }
    case LOOM_KEY_STRING:
        snprintf(buf, n, "a non-empty string");
        break;
    case LOOM_KEY_PATH:
    case LOOM_KEY_FILE:
    case LOOM_KEY_DIR:
        snprintf(buf, n, "a path%s", k->flags & LOOM_KF_NULLABLE ? " or null" : "");
        break;
    case LOOM_KEY_CHAR:
        snprintf(buf, n, "a single character (not a quote or a line break)");
        break;
    case LOOM_KEY_INT_LIST:
        range_words(k, true, r, sizeof r);
        snprintf(buf, n, "a list of %sintegers%s",
                 k->flags & LOOM_KF_NONEMPTY ? "one or more " : "", r);
        break;
    case LOOM_KEY_RANGE:
        snprintf(buf, n, "null or a list [low, high] of two numbers, low < high");
        break;
    case LOOM_KEY_MAP:
        snprintf(buf, n, "a map");
        break;
    case LOOM_KEY_OPT_MAP:
        snprintf(buf, n, "a map or null");
        break;
    case LOOM_KEY_TYPED:
        snprintf(buf, n, "a map");
        break;
    case LOOM_KEY_CUSTOM:
        snprintf(buf, n, "a value");
        break;
    }
}

static void bad_value(struct loom_reader *r, const struct loom_key *k, const struct loom_ynode *v,
                      struct loom_schema_pos at)
{
    char want[300], got[80];
    expect_words(k, want, sizeof want);
    loom_ynode_describe(v, got, sizeof got);
    loom_read_error(r, LOOM_ERR_SCHEMA, at, "%s must be %s, got %s", k->name, want, got);
}

/* ---- paths ---- */

static char *resolve_path(const struct loom_reader *r, const char *p)
{
    if (!r->base_dir || p[0] == '/') return strdup(p);
    if (strcmp(p, ".") == 0 || strcmp(p, "./") == 0) return strdup(r->base_dir);
    while (p[0] == '.' && p[1] == '/') p += 2;
    size_t a = strlen(r->base_dir), b = strlen(p);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, r->base_dir, a);
    size_t k = a;
    if (k == 0 || s[k - 1] != '/') s[k++] = '/';
    memcpy(s + k, p, b + 1);
    return s;
}

static void check_path(struct loom_reader *r, const struct loom_key *k, const char *written,
                       const char *resolved, struct loom_schema_pos at)
{
    if (!r->check_files || k->kind == LOOM_KEY_PATH) return;
    struct stat st;
    bool want_dir = k->kind == LOOM_KEY_DIR;
    const char *what = want_dir ? "directory" : "file";
    if (stat(resolved, &st) != 0) {
        loom_read_error(r, LOOM_ERR_SCHEMA, at, "%s %s '%s' not found (looked for %s): %s", k->name,
                        what, written, resolved, strerror(errno));
    } else if (want_dir && !S_ISDIR(st.st_mode)) {
        loom_read_error(r, LOOM_ERR_SCHEMA, at, "%s '%s' is not a directory (%s)", k->name, written,
                        resolved);
    } else if (!want_dir && !S_ISREG(st.st_mode)) {
        loom_read_error(r, LOOM_ERR_SCHEMA, at, "%s '%s' is not a regular file (%s)", k->name,
                        written, resolved);
    } else if (access(resolved, want_dir ? (R_OK | X_OK) : R_OK) != 0) {
        loom_read_error(r, LOOM_ERR_SCHEMA, at, "%s %s '%s' cannot be read (%s): %s", k->name, what,
                        written, resolved, strerror(errno));
    }
}

/* ---- one value ---- */

static int type_index(const struct loom_typed *t, const char *name)
{
    for (int i = 0; name && t->names[i]; i++)
        if (t->per_type[i] && strcmp(t->names[i], name) == 0) return i;
    return -1;
}

static void read_keys(struct loom_reader *r, const struct loom_ynode *map,
                      const struct loom_spec *const *specs, int nspecs, const struct loom_typed *t,
                      int type, void *obj, const char *where, struct loom_schema_pos at);

static void read_value(struct loom_reader *r, const struct loom_key *k, const struct loom_ynode *v,
                       void *obj, const char *where, struct loom_schema_pos at)
{
    long long i;
    double x;
    bool null = loom_ynode_is_null(v);
    if (null && (k->flags & LOOM_KF_NULLABLE)) {
        switch (k->kind) {
        case LOOM_KEY_PATH:
        case LOOM_KEY_FILE:
        case LOOM_KEY_DIR:
            free(*FIELD(obj, k->off, char *));
            *FIELD(obj, k->off, char *) = NULL;
            return;
        case LOOM_KEY_OPT_MAP:
        case LOOM_KEY_RANGE:
            *FIELD(obj, k->off, bool) = false;
            return;
        default:
            LOOM_ASSERT(!"nullable kind");
        }
    }
    switch (k->kind) {
    case LOOM_KEY_INT:
    case LOOM_KEY_I64:
    case LOOM_KEY_INT_AUTO:
        if (k->kind == LOOM_KEY_INT_AUTO && v && v->kind == LOOM_YNODE_SCALAR &&
            strcmp(v->text, "auto") == 0) {
            *FIELD(obj, k->off, int) = 0;
            return;
        }
        if (!parse_int(v, &i) || (double)i < k->lo || (double)i > k->hi) break;
        if (k->kind == LOOM_KEY_I64)
            *FIELD(obj, k->off, int64_t) = i;
        else
            *FIELD(obj, k->off, int) = (int)i;
        return;
    case LOOM_KEY_FLOAT:
        if (!parse_float(v, &x) || x < k->lo || x > k->hi) break;
        if ((k->flags & LOOM_KF_LO_OPEN) && x == k->lo) break;
        if ((k->flags & LOOM_KF_HI_OPEN) && x == k->hi) break;
        *FIELD(obj, k->off, double) = x;
        return;
    case LOOM_KEY_BOOL: {
        int b = parse_bool(v);
        if (b < 0) break;
        *FIELD(obj, k->off, bool) = b;
        return;
    }
    case LOOM_KEY_ENUM: {
        const char *s = loom_node_name(v);
        if (!s) break;
        int n = 0;
        for (; k->names[n]; n++) {
            if (strcmp(s, k->names[n]) != 0) continue;
            if (k->allowed && !(k->allowed & (1u << n))) break;
            *FIELD(obj, k->off, int) = n;
            return;
        }
        /* Not allowed here: name the choices, and the closest one. */
        char want[300], got[80];
        expect_words(k, want, sizeof want);
        const char *cand[32];
        int nc = 0;
        for (int j = 0; k->names[j] && nc < 32; j++)
            if (!k->allowed || (k->allowed & (1u << j))) cand[nc++] = k->names[j];
        const char *sug = loom_suggest(s, cand, nc);
        loom_read_error(r, LOOM_ERR_SCHEMA, at, "%s must be %s, got %s%s%s%s", k->name, want,
                        loom_ynode_describe(v, got, sizeof got), sug ? "; did you mean '" : "",
                        sug ? sug : "", sug ? "'?" : "");
        return;
    }
    case LOOM_KEY_STRING: {
        const char *s = loom_node_name(v);
        if (!s) break;
        char *c = strdup(s);
        if (!c) goto nomem;
        free(*FIELD(obj, k->off, char *));
        *FIELD(obj, k->off, char *) = c;
        return;
    }
    case LOOM_KEY_PATH:
    case LOOM_KEY_FILE:
    case LOOM_KEY_DIR: {
        const char *s = loom_node_name(v);
        if (!s) break;
        char *c = resolve_path(r, s);
        if (!c) goto nomem;
        free(*FIELD(obj, k->off, char *));
        *FIELD(obj, k->off, char *) = c;
        check_path(r, k, s, c, at);
        return;
    }
    case LOOM_KEY_CHAR:
        if (!v || v->kind != LOOM_YNODE_SCALAR || v->len != 1 || strchr("\"\n\r", v->text[0]) ||
            v->text[0] == '\0' || (v->plain && v->text[0] == '~'))
            break;
        *FIELD(obj, k->off, char) = v->text[0];
        return;
    case LOOM_KEY_INT_LIST: {
        if (!v || v->kind != LOOM_YNODE_SEQ || v->n > MAX_LIST) break;
        if ((k->flags & LOOM_KF_NONEMPTY) && v->n == 0) break;
        for (size_t j = 0; j < v->n; j++)
            if (!parse_int(v->items[j], &i) || (double)i < k->lo || (double)i > k->hi) {
                bad_value(r, k, v, loom_node_pos(v->items[j]));
                return;
            }
        struct loom_int_list *l = FIELD(obj, k->off, struct loom_int_list);
        int *p = malloc((v->n ? v->n : 1) * sizeof *p);
        if (!p) goto nomem;
        for (size_t j = 0; j < v->n; j++) {
            parse_int(v->items[j], &i);
            p[j] = (int)i;
        }
        free(l->v);
        l->v = p;
        l->n = (int)v->n;
        return;
    }
    case LOOM_KEY_RANGE: {
        double lo, hi;
        if (!v || v->kind != LOOM_YNODE_SEQ || v->n != 2 || !parse_float(v->items[0], &lo) ||
            !parse_float(v->items[1], &hi) || !(lo < hi))
            break;
        *FIELD(obj, k->off, bool) = true;
        FIELD(obj, k->off2, double)[0] = lo;
        FIELD(obj, k->off2, double)[1] = hi;
        return;
    }
    case LOOM_KEY_MAP:
    case LOOM_KEY_OPT_MAP: {
        if (!v || v->kind != LOOM_YNODE_MAP) break;
        if (k->kind == LOOM_KEY_OPT_MAP) *FIELD(obj, k->off, bool) = true;
        char w[160];
        snprintf(w, sizeof w, "%s%s%s", where, where[0] ? "." : "", k->name);
        const struct loom_spec *specs[1] = {k->sub};
        read_keys(r, v, specs, 1, NULL, -1, obj, w, at);
        return;
    }
    case LOOM_KEY_TYPED: {
        char w[160];
        snprintf(w, sizeof w, "%s%s%s", where, where[0] ? "." : "", k->name);
        /* A map without its type key has the default type (optimizer: {lr: 0.1}). */
        int type = -1;
        if (v && v->kind == LOOM_YNODE_MAP && !loom_ynode_get(v, k->typed->key) && k->dflt)
            type = type_index(k->typed, k->dflt);
        loom_read_typed(r, v, k->typed, type, obj, w, at);
        return;
    }
    case LOOM_KEY_CUSTOM:
        return;
    }
    bad_value(r, k, v, at);
    return;
nomem:
    loom_read_error(r, LOOM_ERR_NOMEM, at, "out of memory reading the schema");
}

/* Give k its default. A default is YAML text, read like a user's value. */
static void read_default(struct loom_reader *r, const struct loom_key *k, void *obj,
                         const char *where, struct loom_schema_pos at)
{
    if (k->kind == LOOM_KEY_CUSTOM) return;
    if (!k->dflt) {
        if (k->flags & LOOM_KF_NULLABLE) return; /* null: fields stay zero */
        loom_read_error(r, LOOM_ERR_SCHEMA, at, "missing key '%s' in %s (expected %s)", k->name,
                        where, k->kind == LOOM_KEY_FILE ? "a file path" : "a value");
        return;
    }
    struct loom_ynode *v = NULL;
    enum loom_status st = loom_yaml_parse(k->dflt, strlen(k->dflt), "<default>", &v, NULL);
    LOOM_ASSERT(st == LOOM_OK || st == LOOM_ERR_NOMEM);
    if (st != LOOM_OK) {
        loom_read_error(r, st, at, "out of memory reading the schema");
        return;
    }
    read_value(r, k, v, obj, where, at);
    loom_ynode_free(v);
}

/* ---- maps ---- */

static const struct loom_key *find_key(const struct loom_spec *const *specs, int nspecs,
                                       const char *name)
{
    for (int s = 0; s < nspecs; s++)
        for (int i = 0; specs[s] && i < specs[s]->n; i++)
            if (strcmp(specs[s]->keys[i].name, name) == 0) return &specs[s]->keys[i];
    return NULL;
}

static void unknown_key(struct loom_reader *r, const struct loom_ynode *key,
                        const struct loom_spec *const *specs, int nspecs,
                        const struct loom_typed *t, int type, const char *where)
{
    char got[80];
    loom_ynode_describe(key, got, sizeof got);
    const char *name = loom_node_name(key);
    /* A key of another type of this map (max_tokens on a number column)? */
    if (t && name) {
        for (int ty = 0; t->names[ty]; ty++) {
            if (ty == type || !t->per_type[ty]) continue;
            const struct loom_spec *one[1] = {t->per_type[ty]};
            if (find_key(one, 1, name)) {
                loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(key),
                                "key %s does not apply to %s (%s %s); it is a key of a %s", got,
                                where, t->names[type], t->key, t->per_type[ty]->what);
                return;
            }
        }
    }
    const char *cand[64];
    int nc = 0;
    if (t && t->key && find_key(specs, nspecs, t->key) == NULL) cand[nc++] = t->key;
    for (int s = 0; s < nspecs; s++)
        for (int i = 0; specs[s] && i < specs[s]->n && nc < 64; i++)
            cand[nc++] = specs[s]->keys[i].name;
    const char *sug = name ? loom_suggest(name, cand, nc) : NULL;
    if (sug) {
        loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(key),
                        "unknown key %s in %s; did you mean '%s'?", got, where, sug);
    } else {
        char list[400];
        size_t used = 0;
        list[0] = '\0';
        for (int i = 0; i < nc; i++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", cand[i]);
            if (w < 0 || (size_t)w >= sizeof list - used) break;
            used += (size_t)w;
        }
        loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(key),
                        "unknown key %s in %s (valid keys: %s)", got, where, list);
    }
}

static void read_keys(struct loom_reader *r, const struct loom_ynode *map,
                      const struct loom_spec *const *specs, int nspecs, const struct loom_typed *t,
                      int type, void *obj, const char *where, struct loom_schema_pos at)
{
    if (map && loom_ynode_is_null(map)) map = NULL;
    if (map && map->kind != LOOM_YNODE_MAP) {
        char got[80];
        loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(map), "%s must be a map, got %s", where,
                        loom_ynode_describe(map, got, sizeof got));
        map = NULL; /* go on with the defaults, to find more errors */
    }
    if (map) at = loom_node_pos(map);
    for (size_t i = 0; map && i < map->n; i++) {
        const struct loom_ynode *key = map->items[2 * i], *val = map->items[2 * i + 1];
        const char *name = loom_node_name(key);
        if (name && t && strcmp(name, t->key) == 0) continue; /* the type: read by the caller */
        const struct loom_key *k = name ? find_key(specs, nspecs, name) : NULL;
        if (!k) {
            unknown_key(r, key, specs, nspecs, t, type, where);
            continue;
        }
        read_value(r, k, val, obj, where, loom_node_pos(val));
    }
    for (int s = 0; s < nspecs; s++) {
        for (int i = 0; specs[s] && i < specs[s]->n; i++) {
            const struct loom_key *k = &specs[s]->keys[i];
            if (!loom_ynode_get(map, k->name)) read_default(r, k, obj, where, at);
        }
    }
}

void loom_read_spec(struct loom_reader *r, const struct loom_ynode *map,
                    const struct loom_spec *spec, void *obj, const char *where,
                    struct loom_schema_pos at)
{
    const struct loom_spec *specs[1] = {spec};
    read_keys(r, map, specs, 1, NULL, -1, obj, where, at);
}

int loom_read_typed(struct loom_reader *r, const struct loom_ynode *node,
                    const struct loom_typed *t, int type, void *obj, const char *where,
                    struct loom_schema_pos at)
{
    const struct loom_ynode *map = node, *tnode = NULL;
    if (node && loom_ynode_is_null(node)) map = NULL;
    if (type < 0) {
        if (map && map->kind == LOOM_YNODE_SCALAR && t->shorthand)
            tnode = map, map = NULL;
        else
            tnode = loom_ynode_get(map, t->key);
        if (map && map->kind != LOOM_YNODE_MAP) {
            char got[80];
            loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(map), "%s must be a map%s, got %s",
                            where, t->shorthand ? " or a type name" : "",
                            loom_ynode_describe(map, got, sizeof got));
            return -1;
        }
        if (!tnode && !map && !t->shorthand) {
            loom_read_error(r, LOOM_ERR_SCHEMA, node ? loom_node_pos(node) : at,
                            "%s must be a map with a '%s' key, got nothing", where, t->key);
            return -1;
        }
        char choices[200];
        size_t used = 0;
        choices[0] = '\0';
        const char *cand[32];
        int nc = 0;
        for (int i = 0; t->names[i]; i++) {
            if (!t->per_type[i]) continue;
            cand[nc++] = t->names[i];
            int w = snprintf(choices + used, sizeof choices - used, "%s%s", used ? ", " : "",
                             t->names[i]);
            if (w > 0 && (size_t)w < sizeof choices - used) used += (size_t)w;
        }
        if (!tnode) {
            /* A misspelt type key ({typ: number}) is the likely cause. */
            const struct loom_ynode *typo = NULL;
            for (size_t i = 0; map && i < map->n && !typo; i++) {
                const char *k = loom_node_name(map->items[2 * i]);
                if (k && loom_suggest(k, &t->key, 1)) typo = map->items[2 * i];
            }
            if (typo)
                loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(typo),
                                "unknown key '%s' in %s; did you mean '%s'? (one of %s)",
                                typo->text, where, t->key, choices);
            else
                loom_read_error(r, LOOM_ERR_SCHEMA, map ? loom_node_pos(map) : at,
                                "missing key '%s' in %s (one of %s)", t->key, where, choices);
            return -1;
        }
        type = type_index(t, loom_node_name(tnode));
        if (type < 0) {
            char got[80];
            const char *name = loom_node_name(tnode);
            const char *sug = name ? loom_suggest(name, cand, nc) : NULL;
            loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(tnode),
                            "%s must be one of %s, got %s%s%s%s", t->key, choices,
                            loom_ynode_describe(tnode, got, sizeof got),
                            sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
            return -1;
        }
    }
    LOOM_ASSERT(type >= 0 && t->per_type[type]);
    *FIELD(obj, t->off, int) = type;
    const struct loom_spec *specs[2] = {t->common, t->per_type[type]};
    read_keys(r, map, specs, 2, t, type, obj, where, map ? loom_node_pos(map) : at);
    return type;
}

/* ---- freeing ---- */

void loom_free_spec(const struct loom_spec *spec, void *obj)
{
    for (int i = 0; spec && i < spec->n; i++) {
        const struct loom_key *k = &spec->keys[i];
        switch (k->kind) {
        case LOOM_KEY_STRING:
        case LOOM_KEY_PATH:
        case LOOM_KEY_FILE:
        case LOOM_KEY_DIR:
            free(*FIELD(obj, k->off, char *));
            *FIELD(obj, k->off, char *) = NULL;
            break;
        case LOOM_KEY_INT_LIST: {
            struct loom_int_list *l = FIELD(obj, k->off, struct loom_int_list);
            free(l->v);
            l->v = NULL;
            l->n = 0;
            break;
        }
        case LOOM_KEY_MAP:
        case LOOM_KEY_OPT_MAP:
            loom_free_spec(k->sub, obj);
            break;
        case LOOM_KEY_TYPED:
            loom_free_typed(k->typed, obj);
            break;
        default:
            break;
        }
    }
}

void loom_free_typed(const struct loom_typed *t, void *obj)
{
    loom_free_spec(t->common, obj);
    for (int i = 0; t->names[i]; i++) loom_free_spec(t->per_type[i], obj);
}
