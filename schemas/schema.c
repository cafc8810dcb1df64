/*
 * schema.c — loading a schema: the sections in order (data, columns,
 * outputs, branches, fusion, training), then the checks that span sections
 * (every column used, encoders fit their columns, early stopping names an
 * output). Every error is collected; nothing is returned until all are known.
 */
#include <limits.h>
#include <string.h>

#include "read.h"

/* Column types each encoder takes. */
static const unsigned encoder_takes[LOOM_ENC_COUNT] = {
    [LOOM_ENC_MLP] = 1u << LOOM_COL_NUMBER | 1u << LOOM_COL_BINARY | 1u << LOOM_COL_CATEGORY |
                     1u << LOOM_COL_DATE | 1u << LOOM_COL_SET,
    [LOOM_ENC_RNN] = 1u << LOOM_COL_TEXT,
    [LOOM_ENC_CNN] = 1u << LOOM_COL_IMAGES,
};
static const char *const encoder_takes_words[LOOM_ENC_COUNT] = {
    [LOOM_ENC_MLP] = "number, binary, category, date and set columns",
    [LOOM_ENC_RNN] = "text columns",
    [LOOM_ENC_CNN] = "images columns",
};

const char *loom_col_type_name(enum loom_col_type t)
{
    return (unsigned)t < LOOM_COL_TYPE_COUNT ? loom_col_type_names[t] : "?";
}
const char *loom_encoder_name(enum loom_encoder_kind e)
{
    return (unsigned)e < LOOM_ENC_COUNT ? loom_encoder_names[e] : "?";
}
const char *loom_loss_name(enum loom_loss l)
{
    return (unsigned)l <= LOOM_LOSS_COSINE ? loom_loss_names[l] : "?";
}
const char *loom_metric_name(enum loom_metric m)
{
    return (unsigned)m <= LOOM_METRIC_COSINE ? loom_metric_names[m] : "?";
}

int loom_schema_find_column(const struct loom_schema *s, const char *name)
{
    for (int i = 0; i < s->ncolumns; i++)
        if (strcmp(s->columns[i].name, name) == 0) return i;
    return -1;
}

int loom_schema_find_branch(const struct loom_schema *s, const char *name)
{
    for (int i = 0; i < s->nbranches; i++)
        if (strcmp(s->branches[i].name, name) == 0) return i;
    return -1;
}

void loom_schema_free(struct loom_schema *s)
{
    if (!s) return;
    loom_free_spec(&loom_spec_data, &s->data);
    for (int i = 0; i < s->ncolumns; i++) {
        free(s->columns[i].name);
        loom_free_typed(&loom_typed_column, &s->columns[i]);
    }
    for (int i = 0; i < s->nbranches; i++) {
        free(s->branches[i].name);
        free(s->branches[i].columns);
        loom_free_typed(&loom_typed_branch, &s->branches[i]);
    }
    loom_free_spec(&loom_spec_fusion, &s->fusion);
    loom_free_spec(&loom_spec_training, &s->training);
    free(s->columns);
    free(s->branches);
    free(s->outputs);
    free(s->source);
    free(s->base_dir);
    memset(s, 0, sizeof *s);
}

/* ---- the column names a list or message refers to ---- */

static const char *column_suggestion(const struct loom_schema *s, const char *name)
{
    const char *cand[256];
    int n = LOOM_MIN(s->ncolumns, 256);
    for (int i = 0; i < n; i++) cand[i] = s->columns[i].name;
    return loom_suggest(name, cand, n);
}

static void no_such_column(struct loom_reader *r, const struct loom_schema *s,
                           const struct loom_ynode *at, const char *what, const char *name)
{
    const char *sug = column_suggestion(s, name);
    loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(at),
                    "%s names column '%s', which is not declared in columns%s%s%s", what, name,
                    sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
}

/* A named section that must be a non-empty map. */
static const struct loom_ynode *section_map(struct loom_reader *r, const struct loom_ynode *root,
                                            const char *name, const char *what)
{
    const struct loom_ynode *m = loom_ynode_get(root, name);
    char got[80];
    if (!m || loom_ynode_is_null(m) || (m->kind == LOOM_YNODE_MAP && m->n == 0)) {
        loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(m ? m : root),
                        "no %s: declare at least one under '%s'", what, name);
        return NULL;
    }
    if (m->kind != LOOM_YNODE_MAP) {
        loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(m),
                        "%s must be a map of names to settings, got %s", name,
                        loom_ynode_describe(m, got, sizeof got));
        return NULL;
    }
    return m;
}

/* ---- sections ---- */

static void read_data(struct loom_reader *r, const struct loom_ynode *root, struct loom_schema *s)
{
    const struct loom_ynode *node = loom_ynode_get(root, "data");
    if (!node) {
        loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(root),
                        "missing section 'data' (the train file at least)");
        return;
    }
    loom_read_spec(r, node, &loom_spec_data, &s->data, "data", loom_node_pos(node));
    const struct loom_ynode *split = loom_ynode_get(node, "split");
    if (s->data.valid && s->data.split.enabled) {
        loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(split),
                        "data has both valid and split: give one of them");
    } else if (!s->data.valid && !s->data.split.enabled) {
        /* No validation file: hold out rows of train, with split's defaults. */
        static const char text[] = "{}";
        struct loom_ynode *empty = NULL;
        if (loom_yaml_parse(text, 2, "<default>", &empty, NULL) != LOOM_OK) {
            loom_read_error(r, LOOM_ERR_NOMEM, loom_node_pos(node), "out of memory");
            return;
        }
        for (int i = 0; i < loom_spec_data.n; i++) {
            const struct loom_key *k = &loom_spec_data.keys[i];
            if (strcmp(k->name, "split") != 0) continue;
            s->data.split.enabled = true;
            loom_read_spec(r, empty, k->sub, &s->data, "data.split", loom_node_pos(node));
        }
        loom_ynode_free(empty);
    }
}

static void read_columns(struct loom_reader *r, const struct loom_ynode *root,
                         struct loom_schema *s)
{
    const struct loom_ynode *m = section_map(r, root, "columns", "columns");
    if (!m) return;
    s->columns = calloc(m->n, sizeof *s->columns);
    if (!s->columns) {
        loom_read_error(r, LOOM_ERR_NOMEM, loom_node_pos(m), "out of memory");
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct loom_ynode *key = m->items[2 * i], *val = m->items[2 * i + 1];
        const char *name = loom_node_name(key);
        if (!name) {
            loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(key),
                            "a column name must be a non-empty string");
            continue;
        }
        struct loom_schema_column *c = &s->columns[s->ncolumns];
        c->name = strdup(name);
        if (!c->name) {
            loom_read_error(r, LOOM_ERR_NOMEM, loom_node_pos(key), "out of memory");
            return;
        }
        c->at = loom_node_pos(key);
        c->branch = c->output = -1;
        s->ncolumns++;
        char where[300];
        snprintf(where, sizeof where, "column '%s'", name);
        if (loom_read_typed(r, val, &loom_typed_column, -1, c, where, c->at) < 0)
            c->type = LOOM_COL_TYPE_COUNT; /* unknown: later checks skip it */
    }
}

static void read_outputs(struct loom_reader *r, const struct loom_ynode *root,
                         struct loom_schema *s, bool *named)
{
    const struct loom_ynode *m = section_map(r, root, "outputs", "outputs");
    if (!m) return;
    s->outputs = calloc(m->n, sizeof *s->outputs);
    if (!s->outputs) {
        loom_read_error(r, LOOM_ERR_NOMEM, loom_node_pos(m), "out of memory");
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct loom_ynode *key = m->items[2 * i], *val = m->items[2 * i + 1];
        const char *name = loom_node_name(key);
        char got[80];
        if (!name) {
            loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(key),
                            "an output name must be a non-empty string");
            continue;
        }
        int c = loom_schema_find_column(s, name);
        if (c < 0) {
            no_such_column(r, s, key, "outputs", name);
            continue;
        }
        struct loom_schema_column *col = &s->columns[c];
        named[c] = true;
        if (col->type == LOOM_COL_TYPE_COUNT) continue; /* its own error is reported */
        if (!loom_typed_output.per_type[col->type]) {
            loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(key),
                            "column '%s' is %s %s column; an output must be a number, binary, "
                            "category, set or vector column",
                            name,
                            col->type == LOOM_COL_ID || col->type == LOOM_COL_IMAGES ? "an" : "a",
                            loom_col_type_name(col->type));
            continue;
        }
        const struct loom_ynode *tnode = loom_ynode_get(val, "type");
        if (tnode &&
            (!loom_node_name(tnode) || strcmp(tnode->text, loom_col_type_name(col->type)) != 0)) {
            loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(tnode),
                            "output '%s' has type %s, but column '%s' is declared %s (line %d); "
                            "an output takes its column's type",
                            name, loom_ynode_describe(tnode, got, sizeof got), name,
                            loom_col_type_name(col->type), col->at.line);
        }
        struct loom_schema_output *o = &s->outputs[s->noutputs];
        o->column = c;
        o->at = loom_node_pos(key);
        char where[300];
        snprintf(where, sizeof where, "output '%s'", name);
        loom_read_typed(r, val, &loom_typed_output, (int)col->type, o, where, o->at);
        col->output = s->noutputs++;
    }
}

static void read_branch_columns(struct loom_reader *r, struct loom_schema *s, int bi,
                                const struct loom_ynode *list, struct loom_schema_pos *listed_at,
                                bool *named)
{
    struct loom_schema_branch *b = &s->branches[bi];
    char got[80];
    if (!list || list->kind != LOOM_YNODE_SEQ || list->n == 0) {
        loom_read_error(r, LOOM_ERR_SCHEMA, list ? loom_node_pos(list) : b->at,
                        "branch '%s' needs columns: a list of one or more column names, got %s",
                        b->name, loom_ynode_describe(list, got, sizeof got));
        return;
    }
    b->columns = malloc(list->n * sizeof *b->columns);
    if (!b->columns) {
        loom_read_error(r, LOOM_ERR_NOMEM, b->at, "out of memory");
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct loom_ynode *item = list->items[i];
        struct loom_schema_pos at = loom_node_pos(item);
        const char *name = loom_node_name(item);
        if (!name) {
            loom_read_error(r, LOOM_ERR_SCHEMA, at, "a column name must be a string, got %s",
                            loom_ynode_describe(item, got, sizeof got));
            continue;
        }
        char what[300];
        snprintf(what, sizeof what, "branch '%s'", b->name);
        int c = loom_schema_find_column(s, name);
        if (c < 0) {
            no_such_column(r, s, item, what, name);
            continue;
        }
        struct loom_schema_column *col = &s->columns[c];
        named[c] = true;
        if (col->type == LOOM_COL_TYPE_COUNT) continue; /* its own error is reported */
        if (col->output >= 0) {
            loom_read_error(r, LOOM_ERR_SCHEMA, at,
                            "column '%s' is an output; it cannot also be an input of branch '%s'",
                            name, b->name);
            continue;
        }
        if (col->type == LOOM_COL_ID) {
            loom_read_error(r, LOOM_ERR_SCHEMA, at,
                            "column '%s' is an id; an id is carried to the predictions, never "
                            "fed to a branch",
                            name);
            continue;
        }
        if (!(encoder_takes[b->encoder] & (1u << col->type))) {
            loom_read_error(r, LOOM_ERR_SCHEMA, at,
                            "encoder %s of branch '%s' cannot take column '%s' of type %s (%s "
                            "takes %s)",
                            loom_encoder_name(b->encoder), b->name, name,
                            loom_col_type_name(col->type), loom_encoder_name(b->encoder),
                            encoder_takes_words[b->encoder]);
            continue;
        }
        if (col->branch == bi) {
            loom_read_error(r, LOOM_ERR_SCHEMA, at,
                            "column '%s' is listed twice in branch '%s' (first at line %d)", name,
                            b->name, listed_at[c].line);
            continue;
        }
        if (col->branch >= 0) {
            loom_read_error(r, LOOM_ERR_SCHEMA, at,
                            "column '%s' is in two branches: '%s' (line %d) and '%s'; a column "
                            "feeds one branch",
                            name, s->branches[col->branch].name, listed_at[c].line, b->name);
            continue;
        }
        col->branch = bi;
        listed_at[c] = at;
        b->columns[b->ncolumns++] = c;
    }
}

static void read_branches(struct loom_reader *r, const struct loom_ynode *root,
                          struct loom_schema *s, bool *named)
{
    const struct loom_ynode *m = section_map(r, root, "branches", "branches");
    if (!m) return;
    s->branches = calloc(m->n, sizeof *s->branches);
    struct loom_schema_pos *listed_at = calloc((size_t)s->ncolumns + 1, sizeof *listed_at);
    if (!s->branches || !listed_at) {
        free(listed_at);
        loom_read_error(r, LOOM_ERR_NOMEM, loom_node_pos(m), "out of memory");
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct loom_ynode *key = m->items[2 * i], *val = m->items[2 * i + 1];
        const char *name = loom_node_name(key);
        if (!name) {
            loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(key),
                            "a branch name must be a non-empty string");
            continue;
        }
        int bi = s->nbranches;
        struct loom_schema_branch *b = &s->branches[bi];
        b->name = strdup(name);
        if (!b->name) {
            loom_read_error(r, LOOM_ERR_NOMEM, loom_node_pos(key), "out of memory");
            break;
        }
        b->at = loom_node_pos(key);
        s->nbranches++;
        char where[300];
        snprintf(where, sizeof where, "branch '%s'", name);
        if (loom_read_typed(r, val, &loom_typed_branch, -1, b, where, b->at) < 0) {
            /* No encoder: its columns are still named (no "feeds no branch"). */
            const struct loom_ynode *list = loom_ynode_get(val, "columns");
            for (size_t j = 0; list && list->kind == LOOM_YNODE_SEQ && j < list->n; j++) {
                const char *cname = loom_node_name(list->items[j]);
                int c = cname ? loom_schema_find_column(s, cname) : -1;
                if (c >= 0) named[c] = true;
            }
            continue;
        }
        read_branch_columns(r, s, bi, loom_ynode_get(val, "columns"), listed_at, named);
    }
    free(listed_at);
}

/* early_stopping.metric: "loss" or "OUTPUT.METRIC" of a declared output. */
static void check_early_stopping(struct loom_reader *r, const struct loom_ynode *root,
                                 struct loom_schema *s)
{
    struct loom_schema_training *t = &s->training;
    t->early_stopping.output = -1;
    const char *m = t->early_stopping.metric;
    if (!m || strcmp(m, "loss") == 0) return;
    const struct loom_ynode *node = loom_ynode_get(
        loom_ynode_get(loom_ynode_get(root, "training"), "early_stopping"), "metric");
    struct loom_schema_pos at = loom_node_pos(node);
    const char *dot = strrchr(m, '.');
    if (!dot) {
        loom_read_error(r, LOOM_ERR_SCHEMA, at,
                        "early_stopping metric must be 'loss' or OUTPUT.METRIC (like price.rmse), "
                        "got '%s'",
                        m);
        return;
    }
    for (int i = 0; i < s->noutputs; i++) {
        const struct loom_schema_output *o = &s->outputs[i];
        const char *name = s->columns[o->column].name;
        if (strlen(name) != (size_t)(dot - m) || strncmp(name, m, (size_t)(dot - m)) != 0) continue;
        const struct loom_spec *spec = loom_typed_output.per_type[o->type];
        for (int k = 0; k < spec->n; k++) {
            const struct loom_key *key = &spec->keys[k];
            if (strcmp(key->name, "metric") != 0) continue;
            for (int j = 0; key->names[j]; j++) {
                if (!(key->allowed & (1u << j)) || strcmp(key->names[j], dot + 1) != 0) continue;
                t->early_stopping.output = i;
                t->early_stopping.which = (enum loom_metric)j;
                return;
            }
        }
        loom_read_error(r, LOOM_ERR_SCHEMA, at,
                        "early_stopping metric '%s': output '%s' (%s) has no metric '%s'", m, name,
                        loom_col_type_name(o->type), dot + 1);
        return;
    }
    loom_read_error(r, LOOM_ERR_SCHEMA, at,
                    "early_stopping metric '%s' names no output (expected 'loss' or "
                    "OUTPUT.METRIC)",
                    m);
}

/* A column named nowhere (named[i]: in a branch or outputs, even wrongly,
 * which has its own error). */
static void check_columns_used(struct loom_reader *r, const struct loom_schema *s,
                               const bool *named)
{
    for (int i = 0; i < s->ncolumns; i++) {
        const struct loom_schema_column *c = &s->columns[i];
        if (c->type == LOOM_COL_ID || c->type == LOOM_COL_TYPE_COUNT || named[i]) continue;
        if (c->branch < 0 && c->output < 0)
            loom_read_error(r, LOOM_ERR_SCHEMA, c->at,
                            "column '%s' feeds no branch and is not an output (list it in a "
                            "branch, declare it an output, or make it type id)",
                            c->name);
    }
}

static void check_top_keys(struct loom_reader *r, const struct loom_ynode *root)
{
    const char *cand[16];
    for (int i = 0; i < loom_spec_top.n; i++) cand[i] = loom_spec_top.keys[i].name;
    for (size_t i = 0; i < root->n; i++) {
        const struct loom_ynode *key = root->items[2 * i];
        const char *name = loom_node_name(key);
        bool known = false;
        for (int k = 0; name && k < loom_spec_top.n; k++) known |= strcmp(name, cand[k]) == 0;
        if (known) continue;
        char got[80];
        const char *sug = name ? loom_suggest(name, cand, loom_spec_top.n) : NULL;
        loom_read_error(r, LOOM_ERR_SCHEMA, loom_node_pos(key),
                        "unknown section %s%s%s%s (the sections are data, columns, branches, "
                        "fusion, outputs, training)",
                        loom_ynode_describe(key, got, sizeof got), sug ? "; did you mean '" : "",
                        sug ? sug : "", sug ? "'?" : "");
    }
}

static void read_all(struct loom_reader *r, const struct loom_ynode *root, struct loom_schema *s)
{
    check_top_keys(r, root);
    read_data(r, root, s);
    read_columns(r, root, s);
    bool *named = calloc((size_t)s->ncolumns + 1, sizeof *named);
    if (!named) {
        loom_read_error(r, LOOM_ERR_NOMEM, loom_node_pos(root), "out of memory");
        return;
    }
    read_outputs(r, root, s, named);
    read_branches(r, root, s, named);
    const struct loom_ynode *f = loom_ynode_get(root, "fusion");
    loom_read_spec(r, f, &loom_spec_fusion, &s->fusion, "fusion", loom_node_pos(f ? f : root));
    const struct loom_ynode *t = loom_ynode_get(root, "training");
    loom_read_spec(r, t, &loom_spec_training, &s->training, "training",
                   loom_node_pos(t ? t : root));
    check_early_stopping(r, root, s);
    check_columns_used(r, s, named);
    free(named);
}

enum loom_status loom_schema_load_mem(const char *buf, size_t len, const char *base_dir,
                                      const char *name, const struct loom_schema_options *opt,
                                      struct loom_schema *out, struct loom_diag *diag)
{
    struct loom_schema_options o = opt ? *opt : (struct loom_schema_options){0};
    if (!name) name = "<schema>";
    if (!out || (!buf && len))
        return loom_diag_add(diag, LOOM_ERR_INVALID, name, 0, 0, "no schema text or no output");
    size_t max = o.max_bytes ? o.max_bytes : LOOM_YAML_MAX_BYTES;
    if (len > max)
        return loom_diag_add(diag, LOOM_ERR_LIMIT, name, 0, 0,
                             "schema is %zu bytes, over the limit of %zu bytes", len, max);
    struct loom_diag local = {0};
    struct loom_reader r = {
        .file = name, .base_dir = base_dir, .check_files = !o.skip_file_checks, .diag = &local};
    struct loom_schema s = {0};
    struct loom_ynode *root = NULL;
    r.status = loom_yaml_parse(buf, len, name, &root, &local);
    if (root && root->kind != LOOM_YNODE_MAP) {
        loom_read_error(&r, LOOM_ERR_SCHEMA, loom_node_pos(root),
                        "a schema is a map with the sections data, columns, branches, fusion, "
                        "outputs and training");
    } else if (root) {
        read_all(&r, root, &s);
    } else if (r.status == LOOM_OK) {
        loom_read_error(&r, LOOM_ERR_SCHEMA, (struct loom_schema_pos){0, 0}, "the schema is empty");
    }
    loom_ynode_free(root);
    s.source = strdup(name);
    s.base_dir = base_dir ? strdup(base_dir) : NULL;
    if (!s.source || (base_dir && !s.base_dir))
        loom_read_error(&r, LOOM_ERR_NOMEM, (struct loom_schema_pos){0, 0}, "out of memory");
    if (local.nomem && r.status == LOOM_OK) r.status = LOOM_ERR_NOMEM;
    if (r.status != LOOM_OK || local.count > 0) {
        loom_schema_free(&s);
        loom_diag_sort(&local);
        enum loom_status st = r.status != LOOM_OK ? r.status : LOOM_ERR_SCHEMA;
        if (diag)
            loom_diag_move(diag, &local);
        else
            loom_diag_done(&local);
        return st;
    }
    *out = s;
    return LOOM_OK;
}

enum loom_status loom_schema_load(const char *path, const struct loom_schema_options *opt,
                                  struct loom_schema *out, struct loom_diag *diag)
{
    if (!path || !out)
        return loom_diag_add(diag, LOOM_ERR_INVALID, "", 0, 0, "no schema path or no output");
    struct loom_error err = {0};
    char *buf = NULL;
    size_t len = 0;
    enum loom_status st = loom_yaml_read_file(path, opt ? opt->max_bytes : 0, &buf, &len, &err);
    if (st != LOOM_OK) return loom_diag_add(diag, st, path, 0, 0, "%s", err.message);
    /* Relative paths in the schema are relative to its own directory, made
     * absolute so that a dump can be loaded from anywhere. */
    char *dir = realpath(path, NULL);
    if (!dir) {
        free(buf);
        return loom_diag_add(diag, LOOM_ERR_IO, path, 0, 0, "cannot resolve %s", path);
    }
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    st = loom_schema_load_mem(buf, len, dir, path, opt, out, diag);
    free(dir);
    free(buf);
    return st;
}
