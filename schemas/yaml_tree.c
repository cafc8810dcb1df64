/*
 * yaml_tree.c — libyaml events to a tree of nodes (yaml_tree.h), with the
 * limits that make it safe on hostile input. This file is the one boundary
 * where libyaml's errors become loom's.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "yaml_tree.h"

struct frame {
    struct loom_ynode *node;
    size_t used, cap; /* entries of node->items */
};

struct builder {
    const char *file;
    struct loom_diag *diag;
    struct frame stack[LOOM_YAML_MAX_DEPTH];
    int depth;
    struct loom_ynode *root;
    size_t nodes;
    int documents;
    enum loom_status status; /* first error; hard errors stop the parse */
    bool stop;
};

static enum loom_status fail(struct builder *b, enum loom_status code, int line, int column,
                             const char *msg)
{
    loom_diag_add(b->diag, code, b->file, line, column, "%s", msg);
    if (b->status == LOOM_OK) b->status = code;
    b->stop = true;
    return code;
}

void loom_ynode_free(struct loom_ynode *node)
{
    if (!node) return;
    size_t n = node->kind == LOOM_YNODE_MAP ? 2 * node->n : node->n;
    /* Depth is bounded by LOOM_YAML_MAX_DEPTH, so recursion is safe. */
    for (size_t i = 0; i < n; i++) loom_ynode_free(node->items[i]);
    free(node->items);
    free(node->text);
    free(node);
}

static bool push_item(struct frame *f, struct loom_ynode *child)
{
    if (f->used == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        struct loom_ynode **p = realloc(f->node->items, cap * sizeof *p);
        if (!p) return false;
        f->node->items = p;
        f->cap = cap;
    }
    f->node->items[f->used++] = child;
    if (f->node->kind == LOOM_YNODE_MAP)
        f->node->n = f->used / 2;
    else
        f->node->n = f->used;
    return true;
}

/* A new node at mark, attached to the open collection (or made the root). */
static struct loom_ynode *add_node(struct builder *b, enum loom_ynode_kind kind,
                                   const yaml_mark_t *mark)
{
    int line = (int)mark->line + 1, column = (int)mark->column + 1;
    if (++b->nodes > LOOM_YAML_MAX_NODES) {
        fail(b, LOOM_ERR_LIMIT, line, column, "more than 100000 YAML nodes in a schema");
        return NULL;
    }
    if (b->depth > 0) {
        struct frame *f = &b->stack[b->depth - 1];
        if (f->node->kind == LOOM_YNODE_MAP && f->used % 2 == 0 && kind != LOOM_YNODE_SCALAR) {
            fail(b, LOOM_ERR_PARSE, line, column,
                 "a map key must be a plain value, not a map or list");
            return NULL;
        }
    } else if (b->root) {
        fail(b, LOOM_ERR_PARSE, line, column, "a schema is a single YAML document");
        return NULL;
    }
    struct loom_ynode *n = calloc(1, sizeof *n);
    if (!n) {
        fail(b, LOOM_ERR_NOMEM, line, column, "out of memory reading the schema");
        return NULL;
    }
    n->kind = kind;
    n->line = line;
    n->column = column;
    if (b->depth == 0) {
        b->root = n;
    } else if (!push_item(&b->stack[b->depth - 1], n)) {
        free(n);
        fail(b, LOOM_ERR_NOMEM, line, column, "out of memory reading the schema");
        return NULL;
    }
    return n;
}

static void open_collection(struct builder *b, enum loom_ynode_kind kind, const yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1, column = (int)ev->start_mark.column + 1;
    if (b->depth == LOOM_YAML_MAX_DEPTH) {
        char msg[96];
        snprintf(msg, sizeof msg, "maps and lists nested deeper than %d levels",
                 LOOM_YAML_MAX_DEPTH);
        fail(b, LOOM_ERR_LIMIT, line, column, msg);
        return;
    }
    struct loom_ynode *n = add_node(b, kind, &ev->start_mark);
    if (!n) return;
    b->stack[b->depth++] = (struct frame){.node = n};
}

static bool same_key(const struct loom_ynode *a, const struct loom_ynode *b)
{
    return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* Keys by text, then by the place written (so the first of equal keys leads). */
static int key_order(const void *pa, const void *pb)
{
    const struct loom_ynode *a = **(struct loom_ynode * *const *)pa;
    const struct loom_ynode *b = **(struct loom_ynode * *const *)pb;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    int c = memcmp(a->text, b->text, a->len);
    if (c) return c;
    return *(struct loom_ynode * *const *)pa < *(struct loom_ynode * *const *)pb ? -1 : 1;
}

/* Report every key written twice in a finished map and drop the later pairs.
 * Sorting pointers to the keys keeps this O(n log n) on a hostile map. */
static void check_duplicates(struct builder *b, struct loom_ynode *map)
{
    if (map->n < 2) return;
    struct loom_ynode ***keys = malloc(map->n * sizeof *keys);
    bool *drop = calloc(map->n, sizeof *drop);
    if (!keys || !drop) {
        free(keys);
        free(drop);
        fail(b, LOOM_ERR_NOMEM, map->line, map->column, "out of memory reading the schema");
        return;
    }
    for (size_t i = 0; i < map->n; i++) keys[i] = &map->items[2 * i];
    qsort(keys, map->n, sizeof *keys, key_order);
    bool any = false;
    const struct loom_ynode *first = *keys[0];
    for (size_t i = 1; i < map->n; i++) {
        const struct loom_ynode *k = *keys[i];
        if (!same_key(first, k)) {
            first = k;
            continue;
        }
        char desc[80];
        loom_diag_add(b->diag, LOOM_ERR_PARSE, b->file, k->line, k->column,
                      "duplicate key %s (first written at line %d)",
                      loom_ynode_describe(k, desc, sizeof desc), first->line);
        if (b->status == LOOM_OK) b->status = LOOM_ERR_PARSE;
        drop[(size_t)(keys[i] - map->items) / 2] = true;
        any = true;
    }
    free(keys);
    if (any) {
        size_t n = 0;
        for (size_t i = 0; i < map->n; i++) {
            if (drop[i]) {
                loom_ynode_free(map->items[2 * i]);
                loom_ynode_free(map->items[2 * i + 1]);
                continue;
            }
            map->items[2 * n] = map->items[2 * i];
            map->items[2 * n + 1] = map->items[2 * i + 1];
            n++;
        }
        map->n = n;
    }
    free(drop);
}

static void close_collection(struct builder *b)
{
    LOOM_ASSERT(b->depth > 0);
    struct frame *f = &b->stack[--b->depth];
    if (f->node->kind == LOOM_YNODE_MAP) check_duplicates(b, f->node);
}

static void add_scalar(struct builder *b, const yaml_event_t *ev)
{
    struct loom_ynode *n = add_node(b, LOOM_YNODE_SCALAR, &ev->start_mark);
    if (!n) return;
    size_t len = ev->data.scalar.length;
    n->text = malloc(len + 1);
    if (!n->text) {
        fail(b, LOOM_ERR_NOMEM, n->line, n->column, "out of memory reading the schema");
        return;
    }
    memcpy(n->text, ev->data.scalar.value, len);
    n->text[len] = '\0';
    n->len = len;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* libyaml's error, translated: 0-based marks become 1-based places. A reader
 * error (bad UTF-8, a control character) has only a byte offset. */
static void parser_error(struct builder *b, const yaml_parser_t *p, const char *buf, size_t len)
{
    char msg[400];
    int line, column;
    if (p->error == YAML_MEMORY_ERROR) {
        fail(b, LOOM_ERR_NOMEM, 0, 0, "out of memory reading the schema");
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        line = 1;
        column = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (buf[i] == '\n') {
                line++;
                column = 1;
            } else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
                column++;
            }
        }
        snprintf(msg, sizeof msg, "invalid input: %s", p->problem ? p->problem : "unreadable");
    } else {
        line = (int)p->problem_mark.line + 1;
        column = (int)p->problem_mark.column + 1;
        if (p->context)
            snprintf(msg, sizeof msg, "YAML syntax error: %s (%s started at line %d, column %d)",
                     p->problem ? p->problem : "invalid YAML", p->context,
                     (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
        else
            snprintf(msg, sizeof msg, "YAML syntax error: %s",
                     p->problem ? p->problem : "invalid YAML");
    }
    fail(b, LOOM_ERR_PARSE, line, column, msg);
}

static bool has_anchor(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return ev->data.scalar.anchor != NULL;
    case YAML_SEQUENCE_START_EVENT:
        return ev->data.sequence_start.anchor != NULL;
    case YAML_MAPPING_START_EVENT:
        return ev->data.mapping_start.anchor != NULL;
    default:
        return false;
    }
}

enum loom_status loom_yaml_parse(const char *buf, size_t len, const char *file,
                                 struct loom_ynode **root, struct loom_diag *diag)
{
    LOOM_ASSERT(root && (buf || len == 0));
    *root = NULL;
    struct builder b = {.file = file, .diag = diag};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return loom_diag_add(diag, LOOM_ERR_NOMEM, file, 0, 0, "out of memory reading the schema");
    yaml_parser_set_input_string(&p, (const unsigned char *)(buf ? buf : ""), len);
    bool done = false;
    while (!done && !b.stop) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            parser_error(&b, &p, buf, len);
            break;
        }
        if (has_anchor(&ev) || ev.type == YAML_ALIAS_EVENT) {
            fail(&b, LOOM_ERR_PARSE, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                 "YAML aliases/anchors are not allowed in a schema");
            yaml_event_delete(&ev);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++b.documents > 1)
                fail(&b, LOOM_ERR_PARSE, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                     "a schema is a single YAML document");
            break;
        case YAML_SCALAR_EVENT:
            add_scalar(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            open_collection(&b, LOOM_YNODE_SEQ, &ev);
            break;
        case YAML_MAPPING_START_EVENT:
            open_collection(&b, LOOM_YNODE_MAP, &ev);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            close_collection(&b);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (b.stop) {
        /* An open map may hold a key whose value never came: n counts
         * whole pairs only, so free that key here. */
        for (int i = 0; i < b.depth; i++) {
            struct frame *f = &b.stack[i];
            if (f->node->kind == LOOM_YNODE_MAP && f->used % 2)
                loom_ynode_free(f->node->items[f->used - 1]);
        }
        loom_ynode_free(b.root);
        return b.status;
    }
    *root = b.root;
    return b.status;
}

enum loom_status loom_yaml_read_file(const char *path, size_t max_bytes, char **buf, size_t *len,
                                     struct loom_error *err)
{
    if (max_bytes == 0) max_bytes = LOOM_YAML_MAX_BYTES;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return loom_error_set_at(err, LOOM_ERR_IO, path, 0, 0, "cannot open %s: %s", path,
                                 strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
        close(fd);
        return loom_error_set_at(err, LOOM_ERR_IO, path, 0, 0, "cannot read %s: %s", path,
                                 strerror(e));
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        return loom_error_set_at(err, LOOM_ERR_LIMIT, path, 0, 0,
                                 "schema file is %lld bytes, over the limit of %zu bytes",
                                 (long long)st.st_size, max_bytes);
    }
    char *p = malloc(max_bytes + 1);
    if (!p) {
        close(fd);
        return loom_error_set_at(err, LOOM_ERR_NOMEM, path, 0, 0, "out of memory");
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, p + n, max_bytes + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(p);
            close(fd);
            return loom_error_set_at(err, LOOM_ERR_IO, path, 0, 0, "cannot read %s: %s", path,
                                     strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n > max_bytes) { /* grew since fstat, or not a regular file */
            free(p);
            close(fd);
            return loom_error_set_at(err, LOOM_ERR_LIMIT, path, 0, 0,
                                     "schema file is over the limit of %zu bytes", max_bytes);
        }
    }
    close(fd);
    p[n] = '\0';
    *buf = p;
    *len = n;
    return LOOM_OK;
}

const struct loom_ynode *loom_ynode_get(const struct loom_ynode *map, const char *key)
{
    if (!map || map->kind != LOOM_YNODE_MAP) return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->n; i++) {
        const struct loom_ynode *k = map->items[2 * i];
        if (k->len == klen && memcmp(k->text, key, klen) == 0) return map->items[2 * i + 1];
    }
    return NULL;
}

bool loom_ynode_is_null(const struct loom_ynode *node)
{
    if (!node || node->kind != LOOM_YNODE_SCALAR || !node->plain) return false;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(nulls); i++)
        if (strcmp(node->text, nulls[i]) == 0 && strlen(nulls[i]) == node->len) return true;
    return false;
}

const char *loom_ynode_describe(const struct loom_ynode *node, char *buf, size_t n)
{
    LOOM_ASSERT(n >= 16);
    if (!node) {
        snprintf(buf, n, "nothing");
    } else if (node->kind == LOOM_YNODE_MAP) {
        snprintf(buf, n, "a map");
    } else if (node->kind == LOOM_YNODE_SEQ) {
        snprintf(buf, n, "a list");
    } else if (loom_ynode_is_null(node)) {
        snprintf(buf, n, "nothing");
    } else {
        /* Quote the text, shortened, with control bytes and NULs shown as '?'. */
        size_t k = 0, room = n - 6, i = 0; /* room for "...'" and the NUL */
        buf[k++] = '\'';
        for (; i < node->len && k < room; i++) {
            unsigned char c = (unsigned char)node->text[i];
            buf[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        if (i < node->len) {
            /* do not cut a UTF-8 character in half */
            while (k > 1 && ((unsigned char)buf[k - 1] & 0xc0) == 0x80) k--;
            if (k > 1 && (unsigned char)buf[k - 1] >= 0xc0) k--;
            memcpy(buf + k, "...", 3);
            k += 3;
        }
        buf[k++] = '\'';
        buf[k] = '\0';
    }
    return buf;
}
