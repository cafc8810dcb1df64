/*
 * dump.c — the resolved schema written back as YAML, every default explicit
 * (what `loom check` prints). It walks the same key table as the reader, so
 * that loading the dump gives the same schema: strings are double-quoted
 * with escapes, numbers printed with the fewest digits that read back
 * exactly, unset optional values written as null.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "read.h"

#define FIELD(obj, off, type) ((const type *)((const char *)(obj) + (off)))

static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* A name written plain when it cannot be misread (not a number, bool, null
 * or YAML syntax), else quoted. */
static void put_name(FILE *f, const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on",
                                        "off",  "null",  "y",   "n",  "auto"};
    bool plain = isalpha((unsigned char)s[0]) || s[0] == '_';
    for (const char *p = s; plain && *p; p++)
        plain = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
    for (size_t i = 0; plain && i < LOOM_ARRAY_LEN(words); i++)
        plain = strcasecmp(s, words[i]) != 0;
    if (plain)
        fputs(s, f);
    else
        put_quoted(f, s);
}

/* The shortest decimal that reads back as exactly x. */
static void put_double(FILE *f, double x)
{
    char buf[40];
    if (x == floor(x) && fabs(x) < 1e15) {
        fprintf(f, "%.0f", x); /* 10000, not 1e+04 */
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x) break;
    }
    fputs(buf, f);
}

static void indent(FILE *f, int depth)
{
    for (int i = 0; i < depth; i++) fputs("  ", f);
}

static void dump_keys(FILE *f, const struct loom_spec *spec, const void *obj, int depth);

static void dump_typed(FILE *f, const struct loom_typed *t, const void *obj, int depth,
                       bool with_type)
{
    int type = *FIELD(obj, t->off, int);
    if (with_type) {
        indent(f, depth);
        fprintf(f, "%s: %s\n", t->key, t->names[type]);
    }
    dump_keys(f, t->common, obj, depth);
    dump_keys(f, t->per_type[type], obj, depth);
}

static void dump_value(FILE *f, const struct loom_key *k, const void *obj, int depth)
{
    switch (k->kind) {
    case LOOM_KEY_INT:
        fprintf(f, " %d\n", *FIELD(obj, k->off, int));
        return;
    case LOOM_KEY_I64:
        fprintf(f, " %" PRId64 "\n", *FIELD(obj, k->off, int64_t));
        return;
    case LOOM_KEY_INT_AUTO: {
        int v = *FIELD(obj, k->off, int);
        if (v == 0)
            fputs(" auto\n", f);
        else
            fprintf(f, " %d\n", v);
        return;
    }
    case LOOM_KEY_FLOAT:
        fputc(' ', f);
        put_double(f, *FIELD(obj, k->off, double));
        fputc('\n', f);
        return;
    case LOOM_KEY_BOOL:
        fprintf(f, " %s\n", *FIELD(obj, k->off, bool) ? "true" : "false");
        return;
    case LOOM_KEY_ENUM:
        fprintf(f, " %s\n", k->names[*FIELD(obj, k->off, int)]);
        return;
    case LOOM_KEY_STRING:
    case LOOM_KEY_PATH:
    case LOOM_KEY_FILE:
    case LOOM_KEY_DIR: {
        const char *s = *FIELD(obj, k->off, char *);
        fputc(' ', f);
        if (s)
            put_quoted(f, s);
        else
            fputs("null", f);
        fputc('\n', f);
        return;
    }
    case LOOM_KEY_CHAR: {
        char s[2] = {*FIELD(obj, k->off, char), '\0'};
        fputc(' ', f);
        put_quoted(f, s);
        fputc('\n', f);
        return;
    }
    case LOOM_KEY_INT_LIST: {
        const struct loom_int_list *l = FIELD(obj, k->off, struct loom_int_list);
        fputs(" [", f);
        for (int i = 0; i < l->n; i++) fprintf(f, "%s%d", i ? ", " : "", l->v[i]);
        fputs("]\n", f);
        return;
    }
    case LOOM_KEY_RANGE:
        if (!*FIELD(obj, k->off, bool)) {
            fputs(" null\n", f);
        } else {
            const double *r = FIELD(obj, k->off2, double);
            fputs(" [", f);
            put_double(f, r[0]);
            fputs(", ", f);
            put_double(f, r[1]);
            fputs("]\n", f);
        }
        return;
    case LOOM_KEY_OPT_MAP:
        if (!*FIELD(obj, k->off, bool)) {
            fputs(" null\n", f);
            return;
        }
        /* fall through */
    case LOOM_KEY_MAP:
        fputc('\n', f);
        dump_keys(f, k->sub, obj, depth + 1);
        return;
    case LOOM_KEY_TYPED:
        fputc('\n', f);
        dump_typed(f, k->typed, obj, depth + 1, true);
        return;
    case LOOM_KEY_CUSTOM:
        LOOM_ASSERT(!"custom keys are written by their section");
        return;
    }
}

static void dump_keys(FILE *f, const struct loom_spec *spec, const void *obj, int depth)
{
    for (int i = 0; spec && i < spec->n; i++) {
        const struct loom_key *k = &spec->keys[i];
        if (k->kind == LOOM_KEY_CUSTOM) continue;
        indent(f, depth);
        fprintf(f, "%s:", k->name);
        dump_value(f, k, obj, depth);
    }
}

enum loom_status loom_schema_dump(const struct loom_schema *s, FILE *f)
{
    fprintf(f, "# %s, resolved by loom %s: every default is explicit\n",
            s->source ? s->source : "schema", loom_version());
    fputs("data:\n", f);
    dump_keys(f, &loom_spec_data, &s->data, 1);

    fputs("columns:\n", f);
    for (int i = 0; i < s->ncolumns; i++) {
        indent(f, 1);
        put_name(f, s->columns[i].name);
        fputs(":\n", f);
        dump_typed(f, &loom_typed_column, &s->columns[i], 2, true);
    }

    fputs("branches:\n", f);
    for (int i = 0; i < s->nbranches; i++) {
        const struct loom_schema_branch *b = &s->branches[i];
        indent(f, 1);
        put_name(f, b->name);
        fputs(":\n", f);
        indent(f, 2);
        fprintf(f, "encoder: %s\n", loom_encoder_name(b->encoder));
        indent(f, 2);
        fputs("columns: [", f);
        for (int j = 0; j < b->ncolumns; j++) {
            if (j) fputs(", ", f);
            put_name(f, s->columns[b->columns[j]].name);
        }
        fputs("]\n", f);
        dump_typed(f, &loom_typed_branch, b, 2, false);
    }

    fputs("fusion:\n", f);
    dump_keys(f, &loom_spec_fusion, &s->fusion, 1);

    fputs("outputs:\n", f);
    for (int i = 0; i < s->noutputs; i++) {
        const struct loom_schema_output *o = &s->outputs[i];
        indent(f, 1);
        put_name(f, s->columns[o->column].name);
        fputs(":\n", f);
        indent(f, 2);
        fprintf(f, "type: %s\n", loom_col_type_name(o->type));
        dump_typed(f, &loom_typed_output, o, 2, false);
    }

    fputs("training:\n", f);
    dump_keys(f, &loom_spec_training, &s->training, 1);
    fflush(f);
    return ferror(f) ? LOOM_ERR_IO : LOOM_OK;
}
