/*
 * read.h — the table-driven reader (private to schemas/): turns a YAML map
 * into fields of a struct by the key table of keys.c, checking each value's
 * type and range, filling the defaults of keys not written, and reporting
 * unknown keys with a "did you mean" suggestion. It keeps going after an
 * error, so that one load reports everything.
 */
#ifndef LOOM_SCHEMAS_READ_H
#define LOOM_SCHEMAS_READ_H

#include "keys.h"
#include "yaml_tree.h"

struct loom_reader {
    const char *file;     /* names the schema in errors */
    const char *base_dir; /* relative paths are resolved against it; NULL: kept */
    bool check_files;     /* FILE and DIR keys must exist */
    struct loom_diag *diag;
    enum loom_status status; /* the first error's code */
};

/* Report an error at a place (0, 0 when unknown). */
void loom_read_error(struct loom_reader *r, enum loom_status code, struct loom_schema_pos at,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static inline struct loom_schema_pos loom_node_pos(const struct loom_ynode *n)
{
    return n ? (struct loom_schema_pos){n->line, n->column} : (struct loom_schema_pos){0, 0};
}

/* Read the keys of map (a map node, or NULL/null for "nothing written")
 * into obj by spec; keys not written get their defaults. where names the
 * map in messages ("training", "column 'price'"); at is the map's place, for
 * errors about keys that are missing. */
void loom_read_spec(struct loom_reader *r, const struct loom_ynode *map,
                    const struct loom_spec *spec, void *obj, const char *where,
                    struct loom_schema_pos at);

/* Read a typed map (keys.h). type >= 0 imposes the type (an output takes
 * its column's); else it is read from the map's t->key. Returns the type,
 * or -1 after reporting why there is none (then the other keys are not read). */
int loom_read_typed(struct loom_reader *r, const struct loom_ynode *node,
                    const struct loom_typed *t, int type, void *obj, const char *where,
                    struct loom_schema_pos at);

/* Free the strings and lists the keys of spec (or of every type of t)
 * allocated in obj. */
void loom_free_spec(const struct loom_spec *spec, void *obj);
void loom_free_typed(const struct loom_typed *t, void *obj);

/* The candidate closest to word by optimal string alignment distance (edit
 * distance counting a swap of neighbours as one), if it is at most 2 and
 * less than word's length; else NULL. Case is ignored. */
const char *loom_suggest(const char *word, const char *const *candidates, int n);

/* A scalar's text if it is a usable name (a non-empty string without NUL
 * bytes), else NULL. */
const char *loom_node_name(const struct loom_ynode *n);

#endif
