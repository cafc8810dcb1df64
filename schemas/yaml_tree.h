/*
 * yaml_tree.h — a YAML document read with libyaml's event API into a small
 * tree: maps (keys in the order written), sequences and scalars, each node
 * with its 1-based line and column. It is what the schema reader walks; it
 * is not a general YAML library (no tags, no anchors, one document).
 *
 * Hardened for files from other people (issue 7): the input size is capped
 * before anything is read, the nesting depth is counted on the events and
 * stops at max_depth (libyaml itself has no limit: 100k nested '[' took 52 s),
 * the node count is capped, aliases and anchors are rejected, map keys must
 * be scalars and a key written twice in one map is an error naming both
 * lines. libyaml's own errors are translated at this one boundary, with its
 * 0-based marks turned into 1-based lines and columns.
 */
#ifndef LOOM_SCHEMAS_YAML_TREE_H
#define LOOM_SCHEMAS_YAML_TREE_H

#include "diag.h"

#define LOOM_YAML_MAX_BYTES (1u << 20) /* default cap on a schema file */
#define LOOM_YAML_MAX_DEPTH 64         /* nesting levels of maps and sequences */
#define LOOM_YAML_MAX_NODES 100000     /* a schema has a few hundred */

enum loom_ynode_kind {
    LOOM_YNODE_SCALAR,
    LOOM_YNODE_SEQ,
    LOOM_YNODE_MAP,
};

struct loom_ynode {
    enum loom_ynode_kind kind;
    int line, column; /* 1-based, where the node starts */
    bool plain;       /* scalar written without quotes (so `null` or `~` mean null) */
    char *text;       /* scalar: NUL-terminated; may hold NUL bytes before len */
    size_t len;       /* scalar: bytes of text */
    size_t n;         /* sequence: items; map: pairs */
    /* Sequence: items[0..n). Map: items[2i] is the key (a scalar), items[2i+1]
     * its value, in the order written. */
    struct loom_ynode **items;
};

/* Parse buf[0..len) (UTF-8, or UTF-16 with a BOM) into *root; file names the
 * input in errors. Every error goes to diag (which may be NULL). Returns
 * LOOM_OK, or the code of the first error:
 *  - a syntax error, an alias or anchor, too deep, too many nodes, no memory:
 *    the parse stops, *root is NULL (LOOM_ERR_PARSE, _LIMIT, _NOMEM);
 *  - duplicate keys only: every one is reported, the later pair of each is
 *    dropped, and *root holds the rest so that the caller can report more
 *    (LOOM_ERR_PARSE). The caller frees that tree too.
 * An empty document gives LOOM_OK with *root NULL. Free with loom_ynode_free.
 * Thread-safe (no shared state). */
LOOM_WUR enum loom_status loom_yaml_parse(const char *buf, size_t len, const char *file,
                                          struct loom_ynode **root, struct loom_diag *diag);

/* Read a whole file of at most max_bytes (0: LOOM_YAML_MAX_BYTES) into a
 * malloc'd NUL-terminated buffer. The size is checked with fstat before
 * reading and again while reading (a growing file or a pipe). Errors
 * (LOOM_ERR_IO, LOOM_ERR_LIMIT, LOOM_ERR_NOMEM) go to err. */
LOOM_WUR enum loom_status loom_yaml_read_file(const char *path, size_t max_bytes, char **buf,
                                              size_t *len, struct loom_error *err);

/* Free a tree (accepts NULL). */
void loom_ynode_free(struct loom_ynode *node);

/* The value of key in a map node, or NULL (also when map is not a map). */
const struct loom_ynode *loom_ynode_get(const struct loom_ynode *map, const char *key);

/* A plain scalar reading null, Null, NULL, ~ or nothing. */
bool loom_ynode_is_null(const struct loom_ynode *node);

/* "a map", "a list", or "'text'" (shortened), for error messages; buf has
 * room for n bytes. Returns buf. */
const char *loom_ynode_describe(const struct loom_ynode *node, char *buf, size_t n);

#endif
