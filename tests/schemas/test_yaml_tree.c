/* test_yaml_tree.c — the YAML tree: places, order, and the hardening of
 * issue 7 (depth, aliases, size, duplicate keys, libyaml's syntax errors). */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "schemas/yaml_tree.h"
#include "tests/testlib.h"

static enum loom_status parse(const char *text, struct loom_ynode **root, struct loom_diag *d)
{
    return loom_yaml_parse(text, strlen(text), "t.yaml", root, d);
}

LOOM_TEST(yaml_tree_keeps_order_and_places)
{
    const char *text = "b: 1\n"
                       "a:\n"
                       "  - x\n"
                       "  - {k: 'null', j: ~}\n";
    struct loom_ynode *root;
    struct loom_diag d = {0};
    assert_int_equal(parse(text, &root, &d), LOOM_OK);
    assert_int_equal(d.count, 0);
    assert_int_equal(root->kind, LOOM_YNODE_MAP);
    assert_int_equal(root->n, 2);
    assert_string_equal(root->items[0]->text, "b");
    assert_string_equal(root->items[2]->text, "a");
    const struct loom_ynode *a = loom_ynode_get(root, "a");
    assert_int_equal(a->kind, LOOM_YNODE_SEQ);
    assert_int_equal(a->line, 3);
    assert_int_equal(a->column, 3);
    const struct loom_ynode *m = a->items[1];
    assert_int_equal(m->line, 4);
    assert_int_equal(m->column, 5);
    assert_false(loom_ynode_is_null(loom_ynode_get(m, "k"))); /* quoted: a string */
    assert_true(loom_ynode_is_null(loom_ynode_get(m, "j")));
    assert_int_equal(loom_ynode_get(m, "j")->column, 20);
    loom_ynode_free(root);
    loom_diag_done(&d);
}

LOOM_TEST(yaml_tree_duplicate_key_names_both_lines)
{
    const char *text = "training:\n"
                       "  epochs: 3\n"
                       "  seed: 1\n"
                       "  epochs: 4\n";
    struct loom_ynode *root;
    struct loom_diag d = {0};
    assert_int_equal(parse(text, &root, &d), LOOM_ERR_PARSE);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].line, 4);
    assert_int_equal(d.items[0].column, 3);
    assert_non_null(strstr(d.items[0].message, "duplicate key 'epochs'"));
    assert_non_null(strstr(d.items[0].message, "line 2"));
    /* The tree is kept, without the later pair, so more can be checked. */
    assert_non_null(root);
    const struct loom_ynode *t = loom_ynode_get(root, "training");
    assert_int_equal(t->n, 2);
    assert_string_equal(loom_ynode_get(t, "epochs")->text, "3");
    loom_ynode_free(root);
    loom_diag_done(&d);
}

LOOM_TEST(yaml_tree_rejects_aliases_and_anchors)
{
    const char *anchor = "a: &x {k: 1}\nb: 2\n";
    const char *alias = "a: 1\nb:\n  c: *x\n";
    struct loom_ynode *root;
    struct loom_diag d = {0};
    assert_int_equal(parse(anchor, &root, &d), LOOM_ERR_PARSE);
    assert_null(root);
    assert_int_equal(d.items[0].line, 1);
    assert_string_equal(d.items[0].message, "YAML aliases/anchors are not allowed in a schema");
    loom_diag_done(&d);
    /* An alias to an undefined anchor: libyaml reports it as an event; either
     * way line 3 is named. */
    assert_int_equal(parse(alias, &root, &d), LOOM_ERR_PARSE);
    assert_null(root);
    assert_int_equal(d.items[0].line, 3);
    assert_int_equal(d.items[0].column, 6);
    assert_non_null(strstr(d.items[0].message, "aliases/anchors"));
    loom_diag_done(&d);
}

LOOM_TEST(yaml_tree_depth_64_ok_65_rejected_fast)
{
    enum { DEEP = 100000 };
    static char text[DEEP + 1];
    struct loom_ynode *root;
    struct loom_diag d = {0};
    /* 64 levels: accepted. */
    memset(text, '[', 64);
    memset(text + 64, ']', 64);
    assert_int_equal(loom_yaml_parse(text, 128, "t", &root, &d), LOOM_OK);
    loom_ynode_free(root);
    /* 65 levels: rejected at the 65th '['. */
    memset(text, '[', 65);
    memset(text + 65, ']', 65);
    assert_int_equal(loom_yaml_parse(text, 130, "t", &root, &d), LOOM_ERR_LIMIT);
    assert_null(root);
    assert_int_equal(d.items[0].line, 1);
    assert_int_equal(d.items[0].column, 65);
    assert_non_null(strstr(d.items[0].message, "deeper than 64"));
    loom_diag_done(&d);
    /* 100k nested '[' (52 s in plain libyaml): stopped at once. */
    memset(text, '[', DEEP);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(loom_yaml_parse(text, DEEP, "t", &root, &d), LOOM_ERR_LIMIT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    assert_true(secs < 0.25);
    assert_null(root);
    assert_int_equal(d.count, 1);
    /* The same in block style: a map in a map in a map ... */
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        for (int k = 0; k < i; k++) text[n++] = ' ';
        memcpy(text + n, "k:\n", 3);
        n += 3;
    }
    loom_diag_done(&d);
    assert_int_equal(loom_yaml_parse(text, n, "t", &root, &d), LOOM_ERR_LIMIT);
    assert_int_equal(d.items[0].line, 65);
    loom_diag_done(&d);
}

LOOM_TEST(yaml_tree_translates_syntax_errors)
{
    const char *text = "data:\n"
                       "  train: a.csv\n"
                       "columns: {a: [1, 2}\n";
    struct loom_ynode *root;
    struct loom_diag d = {0};
    assert_int_equal(parse(text, &root, &d), LOOM_ERR_PARSE);
    assert_null(root);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].line, 3);
    assert_int_equal(d.items[0].column, 19);
    assert_non_null(strstr(d.items[0].message, "YAML syntax error"));
    assert_non_null(strstr(d.items[0].message, "line 3, column 14"));
    loom_diag_done(&d);
    /* A tab for indentation, a bad indent: named on their line. */
    const char *bad_indent = "a:\n  b: 1\n c: 2\n";
    assert_int_equal(parse(bad_indent, &root, &d), LOOM_ERR_PARSE);
    assert_int_equal(d.items[0].line, 3);
    loom_diag_done(&d);
    /* Invalid UTF-8: a reader error with only an offset, still placed. */
    const char *bad_utf8 = "a: 1\nb: \xff\xfe\n";
    assert_int_equal(parse(bad_utf8, &root, &d), LOOM_ERR_PARSE);
    assert_int_equal(d.items[0].line, 2);
    assert_non_null(strstr(d.items[0].message, "invalid input"));
    loom_diag_done(&d);
}

LOOM_TEST(yaml_tree_file_size_capped_before_reading)
{
    char path[] = "/tmp/loom_yaml_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 70000; i++) fputs("# a comment line\n", f); /* 1.19 MB */
    fclose(f);
    char *buf = NULL;
    size_t len = 0;
    struct loom_error err = {0};
    assert_int_equal(loom_yaml_read_file(path, 0, &buf, &len, &err), LOOM_ERR_LIMIT);
    assert_null(buf);
    assert_non_null(strstr(err.message, "over the limit of 1048576 bytes"));
    assert_int_equal(loom_yaml_read_file(path, 2 << 20, &buf, &len, &err), LOOM_OK);
    assert_int_equal(len, 70000 * 17);
    free(buf);
    unlink(path);
    assert_int_equal(loom_yaml_read_file("/nonexistent/x.yaml", 0, &buf, &len, &err), LOOM_ERR_IO);
}

LOOM_TEST(yaml_tree_caps_node_count_and_documents)
{
    /* 150k tiny scalars in one flow list: over the node cap, no blow-up. */
    size_t n = 150000;
    char *text = malloc(2 * n + 3);
    text[0] = '[';
    for (size_t i = 0; i < n; i++) {
        text[1 + 2 * i] = '1';
        text[2 + 2 * i] = ',';
    }
    text[2 * n] = ']';
    struct loom_ynode *root;
    struct loom_diag d = {0};
    assert_int_equal(loom_yaml_parse(text, 2 * n + 1, "t", &root, &d), LOOM_ERR_LIMIT);
    assert_null(root);
    loom_diag_done(&d);
    free(text);
    assert_int_equal(parse("a: 1\n---\nb: 2\n", &root, &d), LOOM_ERR_PARSE);
    assert_int_equal(d.items[0].line, 2);
    assert_non_null(strstr(d.items[0].message, "single YAML document"));
    loom_diag_done(&d);
    assert_int_equal(parse("[1, 2]: x\n", &root, &d), LOOM_ERR_PARSE);
    loom_diag_done(&d);
    assert_int_equal(parse("", &root, &d), LOOM_OK);
    assert_null(root);
}
