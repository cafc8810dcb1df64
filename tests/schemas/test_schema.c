/* test_schema.c — loading schemas: one test per kind of error (message,
 * line and column checked), every error reported at once, defaults, the
 * dump that reloads to the same schema, and the example of issue 3. */
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schemas/schema.h"
#include "tests/testlib.h"

#ifndef LOOM_SOURCE_ROOT
#define LOOM_SOURCE_ROOT "."
#endif
#define LISTING LOOM_SOURCE_ROOT "/examples/schemas/listing.yaml"

static const struct loom_schema_options no_files = {.skip_file_checks = true};

static enum loom_status load(const char *text, struct loom_schema *s, struct loom_diag *d)
{
    return loom_schema_load_mem(text, strlen(text), NULL, "s.yaml", &no_files, s, d);
}

static void print_diag(const struct loom_diag *d)
{
    loom_diag_print(d, stderr);
}

/* The schema must fail with exactly one error, at line:column (column 0:
 * not checked), whose message contains want. */
#define expect_one_error(text, want, line, column)                                                 \
    expect_one_error_at(text, want, line, column, __FILE__, __LINE__)
static void expect_one_error_at(const char *text, const char *want, int line, int column,
                                const char *file, int at)
{
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    enum loom_status st = load(text, &s, &d);
    if (st == LOOM_OK || d.count != 1 || !strstr(d.items[0].message, want) ||
        d.items[0].line != line || (column && d.items[0].column != column)) {
        fprintf(stderr, "%s:%d: expected one error at %d:%d containing \"%s\", got:\n", file, at,
                line, column, want);
        print_diag(&d);
        _fail(file, at);
    }
    assert_string_equal(d.items[0].file, "s.yaml");
    assert_null(s.columns); /* *out untouched on failure */
    loom_diag_done(&d);
}

static const char *minimal = "data:\n"
                             "  train: train.csv\n"
                             "columns:\n"
                             "  sku: {type: id}\n"
                             "  x: {type: number}\n"
                             "  y: {type: number}\n"
                             "branches:\n"
                             "  tab: {encoder: mlp, columns: [x]}\n"
                             "outputs:\n"
                             "  y: {}\n";

/* minimal with text appended (a later top-level section). */
static char *with(const char *head, const char *tail)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s%s", head, tail);
    return buf;
}

LOOM_TEST(schema_error_unknown_key_with_suggestion)
{
    expect_one_error(with(minimal, "training:\n  epochz: 3\n"),
                     "unknown key 'epochz' in training; did you mean 'epochs'?", 12, 3);
    /* Nested, and a swap of neighbours counts as one edit. */
    expect_one_error(with(minimal, "training:\n  optimizer: {type: sgd, nestreov: true}\n"),
                     "unknown key 'nestreov' in training.optimizer; did you mean 'nesterov'?", 12,
                     26);
    /* A key of another column type is named as such. */
    expect_one_error("data: {train: t.csv}\n"
                     "columns:\n"
                     "  x: {type: number, max_tokens: 5}\n"
                     "  y: {type: number}\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n"
                     "outputs: {y: {}}\n",
                     "key 'max_tokens' does not apply to column 'x' (number type); it is a key of "
                     "a text column",
                     3, 21);
    /* Far from every key: the valid keys are listed instead. */
    expect_one_error(with(minimal, "fusion: {zzzzzzzz: 1}\n"),
                     "unknown key 'zzzzzzzz' in fusion (valid keys: layers, dropout, batch_norm, "
                     "modality_dropout)",
                     11, 10);
    expect_one_error(with(minimal, "trainig: {}\n"), "did you mean 'training'?", 11, 1);
    /* A misspelt type key, and a misspelt encoder (its columns raise nothing more). */
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {x: {typ: number}, y: {type: number}}\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n"
                     "outputs: {y: {}}\n",
                     "unknown key 'typ' in column 'x'; did you mean 'type'? (one of id, number,", 2,
                     15);
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {x: {type: number}, y: {type: number}}\n"
                     "branches: {b: {encoder: mpl, columns: [x]}}\n"
                     "outputs: {y: {}}\n",
                     "encoder must be one of mlp, rnn, cnn, got 'mpl'; did you mean 'mlp'?", 3, 25);
}

LOOM_TEST(schema_error_wrong_type)
{
    expect_one_error(with(minimal, "training:\n"
                                   "  epochs: 3\n"
                                   "  batch_size:      sixty\n"),
                     "batch_size must be an integer from 1 to 65536, got 'sixty'", 13, 20);
    expect_one_error(with(minimal, "fusion: {batch_norm: maybe}\n"),
                     "batch_norm must be true or false, got 'maybe'", 11, 22);
    expect_one_error(with(minimal, "fusion: {layers: 128}\n"),
                     "layers must be a list of integers from 1 to 65536, got '128'", 11, 18);
    expect_one_error(with(minimal, "training: [1, 2]\n"), "training must be a map, got a list", 11,
                     11);
    expect_one_error(with(minimal, "training: {schedule: {type: one_cycel}}\n"),
                     "type must be one of constant, warmup, one_cycle, got 'one_cycel'; did you "
                     "mean 'one_cycle'?",
                     11, 29);
}

LOOM_TEST(schema_error_out_of_range)
{
    expect_one_error(with(minimal, "fusion:\n  dropout: 1.5\n"),
                     "dropout must be a number in [0, 1), got '1.5'", 12, 12);
    expect_one_error(with(minimal, "training: {optimizer: {lr: 0}}\n"),
                     "lr must be a number in (0, 10], got '0'", 11, 28);
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {x: {type: number}, y: {type: number}}\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n"
                     "outputs: {y: {range: [9, 0]}}\n",
                     "range must be null or a list [low, high] of two numbers, low < high, got a "
                     "list",
                     4, 22);
    expect_one_error(with(minimal, "fusion: {layers: [64, 0]}\n"),
                     "layers must be a list of integers from 1 to 65536, got a list", 11, 23);
}

LOOM_TEST(schema_error_column_in_two_branches)
{
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {a: {type: number}, y: {type: number}}\n"
                     "branches:\n"
                     "  one: {encoder: mlp, columns: [a]}\n"
                     "  two: {encoder: mlp, columns: [a]}\n"
                     "outputs: {y: {}}\n",
                     "column 'a' is in two branches: 'one' (line 4) and 'two'", 5, 33);
}

LOOM_TEST(schema_error_column_in_no_branch)
{
    expect_one_error("data: {train: t.csv}\n"
                     "columns:\n"
                     "  sku: {type: id}\n"
                     "  a: {type: number}\n"
                     "  lonely: {type: category}\n"
                     "  y: {type: number}\n"
                     "branches: {one: {encoder: mlp, columns: [a]}}\n"
                     "outputs: {y: {}}\n",
                     "column 'lonely' feeds no branch and is not an output", 5, 3);
}

LOOM_TEST(schema_error_undeclared_column_in_branch)
{
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {title: {type: text}, y: {type: number}}\n"
                     "branches:\n"
                     "  text:\n"
                     "    encoder: rnn\n"
                     "    columns: [title, titel]\n"
                     "outputs: {y: {}}\n",
                     "branch 'text' names column 'titel', which is not declared in columns; did "
                     "you mean 'title'?",
                     6, 22);
}

LOOM_TEST(schema_error_encoder_cannot_take_type)
{
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {title: {type: text}, y: {type: number}}\n"
                     "branches: {b: {encoder: mlp, columns: [title]}}\n"
                     "outputs: {y: {}}\n",
                     "encoder mlp of branch 'b' cannot take column 'title' of type text (mlp "
                     "takes number, binary, category, date and set columns)",
                     3, 40);
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {p: {type: images}, x: {type: number}, y: {type: number}}\n"
                     "branches:\n"
                     "  a: {encoder: cnn, columns: [p, x]}\n"
                     "outputs: {y: {}}\n",
                     "cannot take column 'x' of type number (cnn takes images columns)", 4, 34);
}

LOOM_TEST(schema_error_output_used_as_input)
{
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {x: {type: number}, y: {type: number}}\n"
                     "branches: {b: {encoder: mlp, columns: [x, y]}}\n"
                     "outputs: {y: {}}\n",
                     "column 'y' is an output; it cannot also be an input of branch 'b'", 3, 43);
}

LOOM_TEST(schema_error_no_outputs)
{
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {x: {type: number}}\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n",
                     "no outputs: declare at least one under 'outputs'", 1, 1);
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {x: {type: number}}\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n"
                     "outputs: {}\n",
                     "no outputs", 4, 10);
    /* An output that is not a column, or of a type that cannot be one. */
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {x: {type: number}, t: {type: text}}\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n"
                     "outputs: {t: {}}\n",
                     "column 't' is a text column; an output must be a number, binary, category, "
                     "set or vector column",
                     4, 11);
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {x: {type: number}, y: {type: category}}\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n"
                     "outputs: {y: {type: number}}\n",
                     "output 'y' has type 'number', but column 'y' is declared category (line 2)",
                     4, 21);
    expect_one_error("data: {train: t.csv}\n"
                     "columns: {x: {type: number}, y: {type: category}}\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n"
                     "outputs: {y: {loss: mse}}\n",
                     "loss must be one of ce, got 'mse'", 4, 21);
}

/* A temporary directory with train.csv and photos/, removed at the end. */
static char tmpdir[64];
static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/loom_schema_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char p[128];
    snprintf(p, sizeof p, "%s/train.csv", tmpdir);
    FILE *f = fopen(p, "w");
    fputs("x,y\n1,2\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/photos", tmpdir);
    assert_int_equal(mkdir(p, 0700), 0);
}
static void remove_tmpdir(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/train.csv", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/photos", tmpdir);
    rmdir(p);
    rmdir(tmpdir);
}

static void expect_file_error(const char *text, const char *want, int line, int column)
{
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    enum loom_status st = loom_schema_load_mem(text, strlen(text), tmpdir, "s.yaml", NULL, &s, &d);
    if (st == LOOM_OK || d.count != 1 || !strstr(d.items[0].message, want) ||
        d.items[0].line != line || d.items[0].column != column) {
        print_diag(&d);
        fail_msg("expected one error at %d:%d containing \"%s\"", line, column, want);
    }
    loom_diag_done(&d);
}

LOOM_TEST(schema_error_missing_train_file)
{
    make_tmpdir();
    const char *body = "columns: {x: {type: number}, y: {type: number}}\n"
                       "branches: {b: {encoder: mlp, columns: [x]}}\n"
                       "outputs: {y: {}}\n";
    char text[512];
    snprintf(text, sizeof text, "data:\n  train: data/train.csv\n%s", body);
    char want[256];
    snprintf(want, sizeof want,
             "train file 'data/train.csv' not found (looked for %s/data/train.csv)", tmpdir);
    expect_file_error(text, want, 2, 10);
    /* The file that exists passes; a directory is not a file. */
    snprintf(text, sizeof text, "data:\n  train: train.csv\n%s", body);
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    assert_int_equal(loom_schema_load_mem(text, strlen(text), tmpdir, "s.yaml", NULL, &s, &d),
                     LOOM_OK);
    char p[128];
    snprintf(p, sizeof p, "%s/train.csv", tmpdir);
    assert_string_equal(s.data.train, p);
    assert_string_equal(s.data.images, tmpdir); /* default root: the schema's directory */
    loom_schema_free(&s);
    snprintf(text, sizeof text, "data:\n  train: photos\n%s", body);
    expect_file_error(text, "train 'photos' is not a regular file", 2, 10);
    snprintf(text, sizeof text, "data:\n  train: train.csv\n  valid: v.csv\n%s", body);
    expect_file_error(text, "valid file 'v.csv' not found", 3, 10);
    remove_tmpdir();
}

LOOM_TEST(schema_error_missing_image_root)
{
    make_tmpdir();
    const char *body = "columns: {p: {type: images}, y: {type: number}}\n"
                       "branches: {b: {encoder: cnn, columns: [p]}}\n"
                       "outputs: {y: {}}\n";
    char text[512];
    snprintf(text, sizeof text, "data:\n  train: train.csv\n  images: fotos/\n%s", body);
    expect_file_error(text, "images directory 'fotos/' not found", 3, 11);
    snprintf(text, sizeof text, "data:\n  train: train.csv\n  images: train.csv\n%s", body);
    expect_file_error(text, "images 'train.csv' is not a directory", 3, 11);
    snprintf(text, sizeof text, "data:\n  train: train.csv\n  images: photos/\n%s", body);
    struct loom_schema s = {0};
    assert_int_equal(loom_schema_load_mem(text, strlen(text), tmpdir, "s.yaml", NULL, &s, NULL),
                     LOOM_OK);
    loom_schema_free(&s);
    remove_tmpdir();
}

LOOM_TEST(schema_error_duplicate_key)
{
    expect_one_error("data: {train: t.csv}\n"
                     "columns:\n"
                     "  x: {type: number}\n"
                     "  y: {type: number}\n"
                     "  x: {type: category}\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n"
                     "outputs: {y: {}}\n",
                     "duplicate key 'x' (first written at line 3)", 5, 3);
}

LOOM_TEST(schema_error_alias_rejected)
{
    expect_one_error("data: {train: t.csv}\n"
                     "columns:\n"
                     "  x: &num {type: number}\n"
                     "  y: *num\n"
                     "branches: {b: {encoder: mlp, columns: [x]}}\n"
                     "outputs: {y: {}}\n",
                     "YAML aliases/anchors are not allowed in a schema", 3, 6);
}

LOOM_TEST(schema_error_depth_65_rejected)
{
    char text[1024];
    size_t n = (size_t)snprintf(text, sizeof text, "data: {train: t.csv}\nfusion: {layers: ");
    for (int i = 0; i < 70; i++) text[n++] = '[';
    text[n] = '\0';
    /* fusion map (2) + the list (3): the 63rd '[' is the 65th level. */
    expect_one_error(text, "maps and lists nested deeper than 64 levels", 2, 18 + 62);
}

LOOM_TEST(schema_error_oversize_file)
{
    char path[] = "/tmp/loom_schema_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fopen(path, "w");
    fputs(minimal, f);
    for (int i = 0; i < 40000; i++) fputs("# padding to go over the limit\n", f);
    fclose(f);
    close(fd);
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    assert_int_equal(loom_schema_load(path, &no_files, &s, &d), LOOM_ERR_LIMIT);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].message, "over the limit of 1048576 bytes"));
    assert_string_equal(d.items[0].file, path);
    loom_diag_done(&d);
    /* A larger limit lets it through. */
    struct loom_schema_options big = {.max_bytes = 4u << 20, .skip_file_checks = true};
    assert_int_equal(loom_schema_load(path, &big, &s, &d), LOOM_OK);
    loom_schema_free(&s);
    unlink(path);
    /* In memory too. */
    struct loom_schema_options small = {.max_bytes = 16, .skip_file_checks = true};
    assert_int_equal(loom_schema_load_mem(minimal, strlen(minimal), NULL, "m", &small, &s, &d),
                     LOOM_ERR_LIMIT);
    loom_diag_done(&d);
}

LOOM_TEST(schema_error_yaml_syntax)
{
    expect_one_error("data: {train: t.csv}\n"
                     "columns:\n"
                     "  x: {type: number\n"
                     "  y: {type: number}\n",
                     "YAML syntax error: did not find expected ',' or '}' (while parsing a flow "
                     "mapping started at line 3, column 6)",
                     4, 4);
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    assert_int_equal(load("", &s, &d), LOOM_ERR_SCHEMA);
    assert_string_equal(d.items[0].message, "the schema is empty");
    loom_diag_done(&d);
    expect_one_error("- a\n- b\n", "a schema is a map", 1, 1);
}

LOOM_TEST(schema_reports_every_error)
{
    const char *text = "data:\n"                                      /* 1 */
                       "  train: t.csv\n"                             /* 2 */
                       "columns:\n"                                   /* 3 */
                       "  x: {type: number, transfrom: log1p}\n"      /* 4: unknown key */
                       "  t: {type: text}\n"                          /* 5 */
                       "  lost: {type: date}\n"                       /* 6: in no branch */
                       "  y: {type: number}\n"                        /* 7 */
                       "branches:\n"                                  /* 8 */
                       "  b: {encoder: mlp, columns: [x, t, nope]}\n" /* 9: encoder, undeclared */
                       "outputs: {y: {}}\n"                           /* 10 */
                       "training: {epochs: 0}\n";                     /* 11: range */
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    assert_int_equal(load(text, &s, &d), LOOM_ERR_SCHEMA);
    if (d.count != 5) print_diag(&d);
    assert_int_equal(d.count, 5);
    /* Sorted by place. */
    static const struct {
        int line, column;
        const char *want;
    } expect[] = {
        {4, 21, "unknown key 'transfrom' in column 'x'; did you mean 'transform'?"},
        {6, 3, "column 'lost' feeds no branch"},
        {9, 34, "cannot take column 't' of type text"},
        {9, 37, "names column 'nope', which is not declared"},
        {11, 20, "epochs must be an integer from 1 to 1000000, got '0'"},
    };
    for (int i = 0; i < 5; i++) {
        assert_int_equal(d.items[i].line, expect[i].line);
        assert_int_equal(d.items[i].column, expect[i].column);
        assert_non_null(strstr(d.items[i].message, expect[i].want));
    }
    loom_diag_done(&d);
}

LOOM_TEST(schema_defaults_filled)
{
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    assert_int_equal(load(minimal, &s, &d), LOOM_OK);
    assert_int_equal(d.count, 0);
    assert_string_equal(s.data.train, "train.csv"); /* no base dir: as written */
    assert_null(s.data.valid);
    assert_null(s.data.test);
    assert_true(s.data.split.enabled);
    assert_near(s.data.split.valid, 0.1, 0);
    assert_int_equal(s.data.split.seed, 1);
    assert_string_equal(s.data.images, ".");
    assert_int_equal(s.data.csv.delimiter, ',');
    assert_int_equal(s.data.csv.on_bad_row, LOOM_BAD_ROW_SKIP);
    assert_near(s.data.csv.max_bad_rows, 0.01, 0);
    assert_int_equal(s.ncolumns, 3);
    assert_int_equal(s.columns[0].type, LOOM_COL_ID);
    assert_int_equal(s.columns[0].branch, -1);
    assert_int_equal(s.columns[1].number.transform, LOOM_TRANSFORM_NONE);
    assert_int_equal(s.columns[1].number.missing, LOOM_MISSING_MEDIAN);
    assert_int_equal(s.columns[1].branch, 0);
    assert_int_equal(s.columns[2].output, 0);
    assert_int_equal(s.columns[1].at.line, 5);
    assert_int_equal(s.nbranches, 1);
    const struct loom_schema_branch *b = &s.branches[0];
    assert_int_equal(b->encoder, LOOM_ENC_MLP);
    assert_int_equal(b->ncolumns, 1);
    assert_int_equal(b->columns[0], 1);
    assert_int_equal(b->mlp.layers.n, 1);
    assert_int_equal(b->mlp.layers.v[0], 128);
    assert_near(b->mlp.dropout, 0.1, 0);
    assert_true(b->mlp.batch_norm);
    assert_int_equal(b->mlp.embed, 0);
    assert_int_equal(s.fusion.layers.n, 1);
    assert_int_equal(s.fusion.layers.v[0], 256);
    assert_int_equal(s.noutputs, 1);
    const struct loom_schema_output *o = &s.outputs[0];
    assert_int_equal(o->column, 2);
    assert_int_equal(o->type, LOOM_COL_NUMBER);
    assert_int_equal(o->loss, LOOM_LOSS_MSE);
    assert_false(o->has_range);
    assert_int_equal(o->range_mode, LOOM_RANGE_SIGMOID);
    assert_near(o->weight, 1, 0);
    assert_int_equal(o->metric, LOOM_METRIC_RMSE);
    const struct loom_schema_training *t = &s.training;
    assert_int_equal(t->epochs, 10);
    assert_int_equal(t->batch_size, 64);
    assert_int_equal(t->optimizer.type, LOOM_OPTIMIZER_ADAMW);
    assert_near(t->optimizer.lr, 1e-3, 0);
    assert_near(t->optimizer.weight_decay, 0.01, 0);
    assert_near(t->optimizer.momentum, 0.9, 0);
    assert_near(t->optimizer.beta2, 0.999, 0);
    assert_near(t->optimizer.eps, 1e-8, 0);
    assert_int_equal(t->schedule.type, LOOM_SCHEDULE_KIND_ONE_CYCLE);
    assert_near(t->schedule.pct_start, 0.25, 0);
    assert_near(t->schedule.div_factor, 25, 0);
    assert_near(t->schedule.final_div_factor, 1e4, 0);
    assert_near(t->schedule.mom_max, 0.95, 0);
    assert_near(t->schedule.mom_min, 0.85, 0);
    assert_near(t->clip_norm, 0, 0);
    assert_string_equal(t->early_stopping.metric, "loss");
    assert_int_equal(t->early_stopping.output, -1);
    assert_int_equal(t->early_stopping.patience, 0);
    assert_int_equal(t->seed, 1);
    assert_int_equal(t->threads, 0);
    assert_int_equal(t->precision, LOOM_PRECISION_FP32);
    assert_string_equal(t->checkpoint_dir, "checkpoints");
    loom_schema_free(&s);
    loom_schema_free(&s); /* twice is fine: it was zeroed */
    loom_schema_free(NULL);
}

LOOM_TEST(schema_per_type_defaults_and_options)
{
    const char *text = "data: {train: t.csv, csv: {delimiter: \"\\t\", on_bad_row: stop}}\n"
                       "columns:\n"
                       "  t: {type: text}\n"
                       "  p: {type: images}\n"
                       "  tags: {type: set, separator: '|'}\n"
                       "  c: {type: category}\n"
                       "  e: {type: vector, dim: 32}\n"
                       "  f: {type: binary}\n"
                       "  day: {type: date}\n"
                       "branches:\n"
                       "  txt: {encoder: rnn, columns: [t], conv1d: {kernel: 5}}\n"
                       "  img: {encoder: cnn, columns: [p], augment: {flip: false}}\n"
                       "  tab: {encoder: mlp, columns: [tags, day], embed: 16, layers: []}\n"
                       "outputs:\n"
                       "  c: {class_weights: auto}\n"
                       "  e: {loss: cosine}\n"
                       "  f: {weight: 0.5}\n"
                       "training:\n"
                       "  optimizer: sgd\n"
                       "  schedule: {type: warmup, warmup_steps: 500}\n"
                       "  early_stopping: {metric: c.logloss, patience: 3}\n";
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    assert_int_equal(load(text, &s, &d), LOOM_OK);
    if (d.count) print_diag(&d);
    assert_int_equal(s.data.csv.delimiter, '\t');
    assert_int_equal(s.data.csv.on_bad_row, LOOM_BAD_ROW_STOP);
    const struct loom_schema_column *c = s.columns;
    assert_int_equal(c[0].text.max_tokens, 128);
    assert_int_equal(c[0].text.min_count, 2);
    assert_int_equal(c[0].text.max_vocab, 30000);
    assert_true(c[0].text.lowercase);
    assert_int_equal(c[1].images.separator, ';');
    assert_int_equal(c[1].images.max_images, 30);
    assert_int_equal(c[2].set.separator, '|');
    assert_int_equal(c[3].category.min_count, 1);
    assert_int_equal(c[3].category.max_categories, 10000);
    assert_int_equal(c[4].vector.dim, 32);
    const struct loom_schema_branch *b = s.branches;
    assert_int_equal(b[0].rnn.cell, LOOM_CELL_LSTM);
    assert_false(b[0].rnn.bidirectional);
    assert_true(b[0].rnn.conv1d.enabled);
    assert_int_equal(b[0].rnn.conv1d.kernel, 5);
    assert_int_equal(b[0].rnn.conv1d.channels, 128);
    assert_int_equal(b[1].cnn.image_size, 64);
    assert_int_equal(b[1].cnn.channels.n, 3);
    assert_int_equal(b[1].cnn.pool, LOOM_BAG_POOL_GATED_ATTENTION);
    assert_int_equal(b[1].cnn.fit, LOOM_FIT_CROP);
    assert_false(b[1].cnn.augment.flip);
    assert_true(b[1].cnn.augment.crop);
    assert_int_equal(b[2].mlp.embed, 16);
    assert_int_equal(b[2].mlp.layers.n, 0);
    assert_int_equal(s.outputs[0].loss, LOOM_LOSS_CE);
    assert_int_equal(s.outputs[0].class_weights, LOOM_CLASS_WEIGHTS_AUTO);
    assert_int_equal(s.outputs[0].metric, LOOM_METRIC_ACCURACY);
    assert_int_equal(s.outputs[1].loss, LOOM_LOSS_COSINE);
    assert_int_equal(s.outputs[1].metric, LOOM_METRIC_COSINE);
    assert_int_equal(s.outputs[2].loss, LOOM_LOSS_BCE);
    assert_int_equal(s.outputs[2].metric, LOOM_METRIC_AUC);
    assert_near(s.outputs[2].weight, 0.5, 0);
    assert_int_equal(s.training.optimizer.type, LOOM_OPTIMIZER_SGD);
    assert_near(s.training.optimizer.weight_decay, 0, 0);
    assert_false(s.training.optimizer.nesterov);
    assert_int_equal(s.training.schedule.type, LOOM_SCHEDULE_KIND_WARMUP);
    assert_int_equal(s.training.schedule.warmup_steps, 500);
    assert_near(s.training.schedule.start_factor, 0.1, 0);
    assert_int_equal(s.training.early_stopping.output, 0);
    assert_int_equal(s.training.early_stopping.which, LOOM_METRIC_LOGLOSS);
    assert_int_equal(s.columns[6].type, LOOM_COL_DATE);
    assert_int_equal(s.columns[6].branch, 2);
    loom_schema_free(&s);
    assert_int_equal(load(with(minimal, "training: {schedule: constant}\n"), &s, &d), LOOM_OK);
    assert_int_equal(s.training.schedule.type, LOOM_SCHEDULE_KIND_CONSTANT);
    loom_schema_free(&s);
    expect_one_error(with(minimal, "training: {early_stopping: {metric: y.auc}}\n"),
                     "early_stopping metric 'y.auc': output 'y' (number) has no metric 'auc'", 11,
                     37);
}

LOOM_TEST(schema_split_or_valid_file)
{
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    const char *tail = "columns: {x: {type: number}, y: {type: number}}\n"
                       "branches: {b: {encoder: mlp, columns: [x]}}\n"
                       "outputs: {y: {}}\n";
    char text[512];
    snprintf(text, sizeof text, "data: {train: t.csv, split: {valid: 0.15, seed: 7}}\n%s", tail);
    assert_int_equal(load(text, &s, &d), LOOM_OK);
    assert_true(s.data.split.enabled);
    assert_near(s.data.split.valid, 0.15, 0);
    assert_int_equal(s.data.split.seed, 7);
    assert_null(s.data.valid);
    loom_schema_free(&s);
    snprintf(text, sizeof text, "data: {train: t.csv, valid: v.csv}\n%s", tail);
    assert_int_equal(load(text, &s, &d), LOOM_OK);
    assert_false(s.data.split.enabled);
    assert_string_equal(s.data.valid, "v.csv");
    loom_schema_free(&s);
    snprintf(text, sizeof text, "data: {train: t.csv, split: {}}\n%s", tail);
    assert_int_equal(load(text, &s, &d), LOOM_OK);
    assert_near(s.data.split.valid, 0.1, 0);
    loom_schema_free(&s);
    snprintf(text, sizeof text, "data: {train: t.csv, valid: v.csv, split: {valid: 0.2}}\n%s",
             tail);
    expect_one_error(text, "data has both valid and split: give one of them", 1, 43);
    snprintf(text, sizeof text, "data: {train: t.csv, split: {valid: 1}}\n%s", tail);
    expect_one_error(text, "valid must be a number in (0, 1), got '1'", 1, 37);
    snprintf(text, sizeof text, "data: {valid: v.csv}\n%s", tail);
    expect_one_error(text, "missing key 'train' in data", 1, 7);
    assert_int_equal(d.count, 0);
}

static char *dump_to_string(const struct loom_schema *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(loom_schema_dump(s, f), LOOM_OK);
    fclose(f);
    return buf;
}

LOOM_TEST(schema_example_loads_and_dump_reloads_identically)
{
    struct loom_schema s = {0}, s2 = {0};
    struct loom_diag d = {0};
    enum loom_status st = loom_schema_load(LISTING, &no_files, &s, &d);
    if (st != LOOM_OK) print_diag(&d);
    assert_int_equal(st, LOOM_OK);
    /* Paths are absolute, resolved against the schema's directory. */
    assert_true(s.data.train[0] == '/');
    assert_non_null(strstr(s.data.train, "examples/schemas/data/train.csv"));
    assert_non_null(strstr(s.data.images, "examples/schemas/data/photos/"));
    assert_false(s.data.split.enabled);
    assert_int_equal(s.ncolumns, 9);
    assert_int_equal(s.nbranches, 3);
    int rnn = loom_schema_find_branch(&s, "text");
    assert_int_equal(s.branches[rnn].encoder, LOOM_ENC_RNN);
    assert_true(s.branches[rnn].rnn.bidirectional);
    assert_int_equal(s.branches[rnn].ncolumns, 2);
    int price = loom_schema_find_column(&s, "price");
    assert_int_equal(s.columns[price].number.transform, LOOM_TRANSFORM_LOG1P);
    assert_int_equal(s.columns[loom_schema_find_column(&s, "brand")].category.min_count, 3);
    assert_true(s.outputs[0].has_range);
    assert_near(s.outputs[0].range[1], 10000, 0);
    assert_near(s.training.optimizer.lr, 3e-3, 0);
    assert_int_equal(s.training.seed, 42);

    char *one = dump_to_string(&s);
    /* Every default explicit. */
    assert_non_null(strstr(one, "    missing: median\n"));
    assert_non_null(strstr(one, "    embed: auto\n"));
    assert_non_null(strstr(one, "    conv1d: null\n"));
    assert_non_null(strstr(one, "    final_div_factor: 10000\n"));
    assert_non_null(strstr(one, "    range: [0, 10000]\n"));
    st = loom_schema_load_mem(one, strlen(one), NULL, "dump", &no_files, &s2, &d);
    if (st != LOOM_OK) {
        fputs(one, stderr);
        print_diag(&d);
    }
    assert_int_equal(st, LOOM_OK);
    char *two = dump_to_string(&s2);
    /* The same up to the first line, which names the source. */
    assert_string_equal(strchr(one, '\n'), strchr(two, '\n'));
    assert_near(s2.training.optimizer.lr, s.training.optimizer.lr, 0);
    assert_string_equal(s2.data.train, s.data.train);
    free(one);
    free(two);
    loom_schema_free(&s);
    loom_schema_free(&s2);
}

LOOM_TEST(schema_dump_quotes_odd_names_and_values)
{
    const char *text = "data: {train: \"dir with \\\"quotes\\\"/t.csv\", csv: {delimiter: ';'}}\n"
                       "columns:\n"
                       "  \"unit price (€)\": {type: number}\n"
                       "  'yes': {type: binary}\n"
                       "  \"123\": {type: vector}\n"
                       "branches: {b: {encoder: mlp, columns: [\"unit price (€)\"]}}\n"
                       "outputs: {'yes': null, \"123\": {}}\n"
                       "training: {optimizer: {lr: 0.1}, clip_norm: 1e-7}\n";
    struct loom_schema s = {0}, s2 = {0};
    struct loom_diag d = {0};
    enum loom_status st = load(text, &s, &d);
    if (st) print_diag(&d);
    assert_int_equal(st, LOOM_OK);
    char *one = dump_to_string(&s);
    st = load(one, &s2, &d);
    if (st) {
        fputs(one, stderr);
        print_diag(&d);
    }
    assert_int_equal(st, LOOM_OK);
    char *two = dump_to_string(&s2);
    assert_string_equal(one, two);
    assert_string_equal(s2.columns[0].name, "unit price (€)");
    assert_string_equal(s2.columns[1].name, "yes");
    assert_string_equal(s2.data.train, "dir with \"quotes\"/t.csv");
    assert_near(s2.training.optimizer.lr, 0.1, 0);
    assert_near(s2.training.clip_norm, 1e-7, 0);
    assert_non_null(strstr(one, "  lr: 0.1\n"));
    free(one);
    free(two);
    loom_schema_free(&s);
    loom_schema_free(&s2);
}
