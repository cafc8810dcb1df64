/* test_ablate.c — loom_schema_keep_branches: the branches left out and their
 * columns go, every index is renumbered, the result dumps and reloads to
 * itself, and an unknown branch is an error that names it and changes
 * nothing. */
#include <string.h>

#include "schemas/schema.h"
#include "tests/testlib.h"

static const char *text = "data: {train: t.csv}\n"
                          "columns:\n"
                          "  id: {type: id}\n"
                          "  a: {type: number}\n"
                          "  words: {type: text}\n"
                          "  b: {type: category}\n"
                          "  pics: {type: images}\n"
                          "  y: {type: number}\n"
                          "  k: {type: category}\n"
                          "branches:\n"
                          "  tab: {encoder: mlp, columns: [b, a], layers: [16, 8]}\n"
                          "  txt: {encoder: rnn, columns: [words]}\n"
                          "  img: {encoder: cnn, columns: [pics], channels: [4, 8]}\n"
                          "outputs: {y: {}, k: {}}\n"
                          "training: {early_stopping: {metric: k.accuracy}}\n";

static void load(struct loom_schema *s)
{
    static const struct loom_schema_options o = {.skip_file_checks = true};
    struct loom_diag d = {0};
    enum loom_status st = loom_schema_load_mem(text, strlen(text), NULL, "s.yaml", &o, s, &d);
    if (st) loom_diag_print(&d, stderr);
    assert_int_equal(st, LOOM_OK);
    loom_diag_done(&d);
}

static char *dump(const struct loom_schema *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(loom_schema_dump(s, f), LOOM_OK);
    fclose(f);
    return buf;
}

LOOM_TEST(schema_keep_branches_renumbers_and_reloads)
{
    struct loom_schema s;
    load(&s);
    const char *keep[] = {"img", "tab"};
    struct loom_error e = {0};
    assert_int_equal(loom_schema_keep_branches(&s, keep, 2, &e), LOOM_OK);
    assert_int_equal(s.nbranches, 2);
    assert_int_equal(s.ncolumns, 6); /* words went */
    assert_int_equal(loom_schema_find_column(&s, "words"), -1);
    int tab = loom_schema_find_branch(&s, "tab"), img = loom_schema_find_branch(&s, "img");
    assert_int_equal(tab, 0);
    assert_int_equal(img, 1);
    assert_int_equal(s.branches[tab].columns[0], loom_schema_find_column(&s, "b"));
    assert_int_equal(s.branches[tab].columns[1], loom_schema_find_column(&s, "a"));
    assert_int_equal(s.branches[tab].mlp.layers.n, 2);
    assert_int_equal(s.branches[img].columns[0], loom_schema_find_column(&s, "pics"));
    assert_int_equal(s.branches[img].cnn.channels.v[1], 8);
    assert_int_equal(s.columns[loom_schema_find_column(&s, "pics")].branch, img);
    assert_int_equal(s.columns[loom_schema_find_column(&s, "a")].branch, tab);
    assert_int_equal(s.noutputs, 2);
    assert_string_equal(s.columns[s.outputs[0].column].name, "y");
    assert_string_equal(s.columns[s.outputs[1].column].name, "k");
    assert_int_equal(s.columns[s.outputs[1].column].output, 1);
    assert_int_equal(s.training.early_stopping.output, 1);

    /* an ordinary schema: its dump loads to the same */
    char *one = dump(&s);
    assert_null(strstr(one, "words"));
    struct loom_schema s2 = {0};
    struct loom_diag d = {0};
    static const struct loom_schema_options o = {.skip_file_checks = true};
    enum loom_status st = loom_schema_load_mem(one, strlen(one), NULL, "s.yaml", &o, &s2, &d);
    if (st) loom_diag_print(&d, stderr), fputs(one, stderr);
    assert_int_equal(st, LOOM_OK);
    char *two = dump(&s2);
    assert_string_equal(one, two);
    free(one), free(two);
    loom_schema_free(&s2);

    /* down to one branch */
    const char *only[] = {"img"};
    assert_int_equal(loom_schema_keep_branches(&s, only, 1, &e), LOOM_OK);
    assert_int_equal(s.nbranches, 1);
    assert_int_equal(s.ncolumns, 4); /* id, pics, y, k */
    assert_int_equal(s.branches[0].columns[0], loom_schema_find_column(&s, "pics"));
    loom_schema_free(&s);
}

LOOM_TEST(schema_keep_branches_unknown_name_changes_nothing)
{
    struct loom_schema s;
    load(&s);
    const char *keep[] = {"tab", "imgs"};
    struct loom_error e = {0};
    assert_int_equal(loom_schema_keep_branches(&s, keep, 2, &e), LOOM_ERR_SCHEMA);
    assert_non_null(strstr(e.message, "no branch 'imgs'"));
    assert_non_null(strstr(e.message, "did you mean 'img'"));
    assert_non_null(strstr(e.message, "tab, txt, img"));
    assert_int_equal(s.nbranches, 3);
    assert_int_equal(s.ncolumns, 7);
    assert_int_equal(loom_schema_keep_branches(&s, keep, 0, &e), LOOM_ERR_INVALID);
    loom_schema_free(&s);
}
