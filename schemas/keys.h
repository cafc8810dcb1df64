/*
 * keys.h — the table of every schema key (private to schemas/): its kind,
 * where its value goes in the resolved structs, its range and its DEFAULT.
 * keys.c is the one place defaults are written; the reader (read.c) fills
 * them, the writer (dump.c) walks the same table, and docs/schema.md
 * mirrors it. A default is YAML text, parsed like the user's own value.
 */
#ifndef LOOM_SCHEMAS_KEYS_H
#define LOOM_SCHEMAS_KEYS_H

#include <math.h>

#include "schema.h"

enum loom_key_kind {
    LOOM_KEY_INT,      /* int in [lo, hi] */
    LOOM_KEY_I64,      /* int64_t in [lo, hi] */
    LOOM_KEY_INT_AUTO, /* int in [lo, hi] (lo >= 1), or `auto` stored as 0 */
    LOOM_KEY_FLOAT,    /* finite double in [lo, hi] (ends open by flags) */
    LOOM_KEY_BOOL,     /* bool */
    LOOM_KEY_ENUM,     /* int: index into names, limited to the allowed mask */
    LOOM_KEY_STRING,   /* char *, malloc'd */
    LOOM_KEY_PATH,     /* char *, resolved against the base directory */
    LOOM_KEY_FILE,     /* a PATH that must be a readable regular file */
    LOOM_KEY_DIR,      /* a PATH that must be a directory */
    LOOM_KEY_CHAR,     /* char: one byte, not NUL, a quote or a newline */
    LOOM_KEY_INT_LIST, /* struct loom_int_list, each in [lo, hi] */
    LOOM_KEY_RANGE,    /* bool at off, double[2] at off2: [low, high], low < high */
    LOOM_KEY_MAP,      /* a nested map with keys sub, into the same struct */
    LOOM_KEY_OPT_MAP,  /* a nested map or null; bool `enabled` at off */
    LOOM_KEY_TYPED,    /* a map whose keys depend on its type (typed), or just the type name */
    LOOM_KEY_CUSTOM,   /* a known key read by the section's own code */
};

enum {
    LOOM_KF_LO_OPEN = 1,  /* value > lo rather than >= lo */
    LOOM_KF_HI_OPEN = 2,  /* value < hi rather than <= hi */
    LOOM_KF_NULLABLE = 4, /* null allowed (and the default when dflt is NULL) */
    LOOM_KF_NONEMPTY = 8, /* INT_LIST: at least one item */
};

struct loom_spec;
struct loom_typed;

struct loom_key {
    const char *name;
    enum loom_key_kind kind;
    size_t off, off2;
    const char *dflt; /* the default as YAML text; NULL: required (unless NULLABLE) */
    double lo, hi;
    unsigned flags;
    const char *const *names; /* ENUM: names indexed by value, NULL-terminated */
    unsigned allowed;         /* ENUM: mask of the values allowed here; 0: all */
    const struct loom_spec *sub;
    const struct loom_typed *typed;
};

struct loom_spec {
    const char *what; /* "training", "number column", ... for messages */
    const struct loom_key *keys;
    int n;
};

/* A map whose valid keys depend on its type: `type: number` in a column,
 * `encoder: rnn` in a branch, `type: sgd` in an optimizer. */
struct loom_typed {
    const char *key;                         /* the key naming the type */
    size_t off;                              /* where the type (an enum) goes */
    const char *const *names;                /* type names, NULL-terminated */
    const struct loom_spec *common;          /* keys of every type (may be NULL) */
    const struct loom_spec *const *per_type; /* keys of each type; NULL: not allowed here */
    bool shorthand;                          /* `schedule: one_cycle` means {type: one_cycle} */
};

/* The sections and maps of a schema. */
extern const struct loom_spec loom_spec_data;
extern const struct loom_typed loom_typed_column;
extern const struct loom_typed loom_typed_branch;
extern const struct loom_typed loom_typed_output; /* per column type; type from the column */
extern const struct loom_spec loom_spec_fusion;
extern const struct loom_spec loom_spec_training;
extern const struct loom_spec loom_spec_top; /* the top-level keys (all CUSTOM) */

/* Names of enums, NULL-terminated, indexed by value. */
extern const char *const loom_col_type_names[];
extern const char *const loom_encoder_names[];
extern const char *const loom_loss_names[];
extern const char *const loom_metric_names[];

#endif
