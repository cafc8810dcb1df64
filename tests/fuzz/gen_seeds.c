/*
 * gen_seeds.c — writes the generated seeds of tests/fuzz/corpus once (they
 * are committed; run it again only when a format changes):
 *
 *   ninja -C build-fuzz tests/fuzz/fuzz_gen_seeds
 *   build-fuzz/tests/fuzz/fuzz_gen_seeds tests/fuzz/corpus
 *
 * model_file/: small model files written by loom_model_file_save (a store
 *   with and without moments, extras of several dtypes, escaped metadata);
 * checkpoint/: a real training run on the rows of fuzz_data.c (the fixed
 *   schema, a prep fitted on them, the registry's encoders): its last and
 *   best checkpoints and the final model (also copied to model_file/);
 * prep/: that prep's blob (and one fitted on fewer rows);
 * cache/: the dataset caches of the train and valid splits, and one of the
 *   train split whose photo is cut short (its dropped-photo section);
 * jpeg/: JPEGs of libjpeg's variants (grey, 4:2:0, CMYK, progressive,
 *   arithmetic, restart markers, optimised Huffman tables);
 * csv/: CSV edge cases, each behind the harness's option byte;
 * schema/: the fixed schema.
 * The PNG seeds are copied from the PngSuite (../shared/data/pngsuite).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model_file.h"
#include "fusion/model.h"
#include "fusion/trainer.h"
#include "fuzz_data.h"
#include "loaders/dataset.h"
#include "loaders/prep.h"

static const char *out_root;

static void die(const char *what, const struct loom_error *err)
{
    fprintf(stderr, "gen_seeds: %s: %s\n", what, err ? err->message : strerror(errno));
    exit(1);
}

static void put(const char *target, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path, NULL);
    snprintf(path, sizeof path, "%s/%s/%s", out_root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) die(path, NULL);
}

static void copy(const char *from, const char *target, const char *name)
{
    FILE *f = fopen(from, "rb");
    if (!f) die(from, NULL);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    put(target, name, buf, len);
    free(buf);
}

/* ---- model_file ---- */

static void model_files(void)
{
    struct loom_error err = {0};
    struct loom_store s;
    loom_store_init(&s);
    int g = loom_store_group(&s, "all");
    const int64_t w[2] = {3, 2}, b[1] = {2}, mean[1] = {2};
    if (!loom_store_add(&s, "layer.w", 2, w, LOOM_INIT_UNIFORM, 1, g, &err) ||
        !loom_store_add(&s, "layer.b", 1, b, LOOM_INIT_NORMAL, 1, g, &err) ||
        !loom_store_add_buffer(&s, "bn.mean", 1, mean, LOOM_INIT_ONES, 0, &err) ||
        loom_store_finalize(&s, 7, &err))
        die("store", &err);
    for (size_t i = 0; i < s.total; i++) s.m[i] = 0.25f * (float)i, s.v[i] = 0.5f;
    static const int64_t ids[3] = {1, -2, INT64_MAX};
    static const uint8_t mask[4] = {1, 0, 1, 1}, bytes[5] = {0, 1, 2, 254, 255};
    static const uint16_t half[2] = {0x3c00, 0xc000};
    static const double dbl[2] = {1e300, -0.0};
    struct loom_mf_tensor extra[] = {
        {.name = "ids", .dtype = LOOM_DTYPE_I64, .ndim = 1, .shape = {3}, .data = ids},
        {.name = "mask", .dtype = LOOM_DTYPE_BOOL, .ndim = 2, .shape = {2, 2}, .data = mask},
        {.name = "half", .dtype = LOOM_DTYPE_F16, .ndim = 1, .shape = {2}, .data = half},
        {.name = "dbl", .dtype = LOOM_DTYPE_F64, .ndim = 0, .data = dbl},
        {.name = "bytes \"q\" é", .dtype = LOOM_DTYPE_U8, .ndim = 1, .shape = {5}, .data = bytes},
        {.name = "empty", .dtype = LOOM_DTYPE_F32, .ndim = 2, .shape = {0, 4}, .data = NULL},
    };
    struct loom_mf_meta meta[] = {
        {"note", "line 1\nline 2\t\"quoted\" \\ back\x01slash é ✓"},
        {"schema_source", "seed.yaml"},
    };
    struct loom_mf_save all = {.store = &s,
                               .with_optim = true,
                               .extra = extra,
                               .nextra = LOOM_ARRAY_LEN(extra),
                               .meta = meta,
                               .nmeta = LOOM_ARRAY_LEN(meta)};
    struct loom_mf_save plain = {.store = &s};
    struct loom_mf_save extras_only = {.extra = extra, .nextra = 3};
    struct loom_mf_save nothing = {0};
    const struct {
        const char *name;
        const struct loom_mf_save *w;
    } files[] = {{"all.loom", &all},
                 {"plain.loom", &plain},
                 {"extras.loom", &extras_only},
                 {"nothing.loom", &nothing}};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(files); i++) {
        void *p = NULL;
        size_t n = 0;
        if (loom_model_file_to_memory(files[i].w, &p, &n, &err)) die(files[i].name, &err);
        put("model_file", files[i].name, p, n);
        free(p);
    }
    loom_store_done(&s);
}

/* ---- a training run: checkpoint, prep, cache ---- */

static void training(const char *tmp)
{
    struct loom_error err = {0};
    struct loom_schema s;
    fuzz_fixed_data(tmp);
    fuzz_fixed_schema(&s, tmp);
    struct loom_dataset_opts dopt = {.use_cache = true, .cache_dir = tmp, .threads = 1};
    struct loom_prep *p = NULL;
    if (loom_prep_fit(&s, &dopt, &p, NULL, &err)) die("prep fit", &err);
    uint8_t *blob = NULL;
    size_t n = 0;
    if (loom_prep_save(p, &blob, &n, &err)) die("prep save", &err);
    put("prep", "fitted.prep", blob, n);
    free(blob);

    /* the model takes the schema and the prep: the datasets use its copies */
    struct loom_model *m = NULL;
    if (loom_model_new(&s, &p, 3, NULL, &m, &err)) die("model", &err);
    struct loom_dataset *train = NULL, *valid = NULL;
    if (loom_dataset_open(&m->schema, m->prep, LOOM_SPLIT_TRAIN, &dopt, &train, NULL, &err) ||
        loom_dataset_open(&m->schema, m->prep, LOOM_SPLIT_VALID, &dopt, &valid, NULL, &err))
        die("dataset", &err);
    if (!loom_dataset_cache_path(train) || !loom_dataset_cache_path(valid))
        die("dataset cache", NULL);
    copy(loom_dataset_cache_path(train), "cache", "train.loomcache");
    copy(loom_dataset_cache_path(valid), "cache", "valid.loomcache");

    struct loom_batcher_opts bo = {
        .batch_size = 8, .shuffle = true, .training = true, .drop_last = true, .seed = 17};
    struct loom_batcher *bt = NULL;
    if (loom_batcher_new(train, &bo, &bt, &err)) die("batcher", &err);
    struct loom_source src;
    loom_source_batcher(&src, bt);
    char ck[4200];
    snprintf(ck, sizeof ck, "%s/ck", tmp);
    struct loom_train_opts to = {.checkpoint_dir = ck, .data_seed = 17};
    struct loom_train_result res;
    if (loom_train(m, &src, NULL, &to, &res, &err)) die("train", &err);
    copy(res.last, "checkpoint", "last.loom");
    if (res.best_path[0]) copy(res.best_path, "checkpoint", "best.loom");
    /* a checkpoint in the middle of an epoch */
    to.stop_after = 1;
    to.checkpoint_dir = ck;
    struct loom_model *m2 = NULL;
    if (loom_model_open_with(res.last, NULL, &m2, &err)) die("model open", &err);
    if (loom_batcher_seek(bt, 0, 0, &err)) die("seek", &err);
    if (loom_train(m2, &src, NULL, &to, &res, &err)) die("train 2", &err);
    copy(res.last, "checkpoint", "mid.loom");
    char final[4300];
    snprintf(final, sizeof final, "%s/final.loom", tmp);
    if (loom_model_save(m, final, NULL, &err)) die("model save", &err);
    copy(final, "checkpoint", "model.loom");
    copy(final, "model_file", "model.loom");
    copy(res.last, "model_file", "checkpoint.loom");
    loom_model_free(&m2);
    loom_model_free(&m);
    loom_batcher_free(&bt);
    loom_dataset_close(&train);
    loom_dataset_close(&valid);
    put("schema", "fixed.yaml", fuzz_fixed_schema_yaml, strlen(fuzz_fixed_schema_yaml));
}

/* The train split's cache when its photo is a JPEG cut in half: every
 * row's photos dropped and listed in the cache's dropped-photo section. */
static void dropped_cache(const char *tmp)
{
    struct loom_error err = {0};
    struct loom_schema s;
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/dropped", tmp);
    if (mkdir(dir, 0700) != 0) die("mkdir dropped", NULL);
    fuzz_fixed_data(dir);
    struct fuzz_jpeg_opts o = {.w = 12, .h = 10, .components = 3, .quality = 80};
    unsigned long n = 0;
    unsigned char *jpg = fuzz_jpeg(&o, &n);
    snprintf(path, sizeof path, "%s/p.jpg", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(jpg, 1, n / 2, f) != n / 2 || fclose(f) != 0) die("write p.jpg", NULL);
    free(jpg);
    fuzz_fixed_schema(&s, dir);
    s.data.max_bad_images = 1;
    struct loom_dataset_opts dopt = {.use_cache = true, .cache_dir = dir, .threads = 1};
    struct loom_prep *p = NULL;
    struct loom_dataset *train = NULL;
    if (loom_prep_fit(&s, &dopt, &p, NULL, &err)) die("prep fit (dropped)", &err);
    if (loom_dataset_open(&s, p, LOOM_SPLIT_TRAIN, &dopt, &train, NULL, &err))
        die("dataset (dropped)", &err);
    if (!loom_dataset_cache_path(train)) die("dataset cache (dropped)", NULL);
    copy(loom_dataset_cache_path(train), "cache", "dropped.loomcache");
    loom_dataset_close(&train);
    loom_prep_free(&p);
    loom_schema_free(&s);
}

/* ---- jpeg ---- */

static void jpegs(void)
{
    static const struct {
        const char *name;
        struct fuzz_jpeg_opts o;
    } j[] = {
        {"rgb.jpg", {.w = 16, .h = 12, .components = 3, .quality = 75}},
        {"grey.jpg", {.w = 9, .h = 7, .components = 1, .quality = 90}},
        {"420.jpg", {.w = 17, .h = 19, .components = 3, .quality = 60, .h_samp = 2, .v_samp = 2}},
        {"cmyk.jpg", {.w = 8, .h = 8, .components = 4, .quality = 80}},
        {"progressive.jpg",
         {.w = 24, .h = 17, .components = 3, .quality = 70, .progressive = true}},
        {"arith.jpg", {.w = 10, .h = 10, .components = 3, .quality = 50, .arithmetic = true}},
        {"restart.jpg",
         {.w = 16, .h = 40, .components = 3, .quality = 50, .restart_rows = 1, .optimize = true}},
        {"prog_grey.jpg",
         {.w = 5, .h = 33, .components = 1, .quality = 95, .progressive = true, .h_samp = 1}},
        {"one.jpg", {.w = 1, .h = 1, .components = 3, .quality = 100}},
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(j); i++) {
        unsigned long n = 0;
        unsigned char *p = fuzz_jpeg(&j[i].o, &n);
        put("jpeg", j[i].name, p, n);
        free(p);
    }
}

/* ---- csv: the harness's option byte, then the text ---- */

static void csvs(void)
{
    /* option byte: bits 0-2 read buffer (4 5 6 7 8 13 64 1024), bits 3-4
     * delimiter (, ; tab |), bit 5 tight limits, bit 6 three fields fixed,
     * bit 7 no header */
    static const struct {
        const char *name;
        unsigned char opt;
        const char *text;
        size_t len; /* 0: strlen */
    } c[] = {
        {"simple.csv", 0x00, "a,b,c\n1,2,3\n4,5,6\n", 0},
        {"crlf_bom.csv", 0x01, "\xef\xbb\xbfx,y\r\n1,2\r\n3,4\r\n", 0},
        {"quoted.csv", 0x02, "a,b\n\"x,1\",\"he said \"\"hi\"\"\"\n\"multi\nline\",2\n", 0},
        {"lone_cr.csv", 0x03, "a,b\r1,2\r3,4", 0},
        {"ragged.csv", 0x04, "a,b,c\n1,2\n1,2,3,4\n5,6,7\n", 0},
        {"unterminated.csv", 0x05, "a,b\n1,\"open\n2,3\n", 0},
        {"after_quote.csv", 0x06, "a,b\n\"ab\"c,1\n2,3\n", 0},
        {"nul.csv", 0x07, "a,b\n1,x\0y\n2,3\n", 14},
        {"utf8.csv", 0x00, "name,v\nk\xc3\xb6ln,1\nbad\xff,2\n\xe2\x9c\x93,3\n", 0},
        {"semicolon.csv", 0x08, "a;b\n1;\"2;3\"\n", 0},
        {"tab.csv", 0x10, "a\tb\n1\t2\n\t\n", 0},
        {"pipe_limits.csv", 0x38, "a|b\n0123456789012345678901234567890123456789|1\n2|3\n", 0},
        {"fixed3.csv", 0x40, "a,b,c\n1,2,3\n1,2\n", 0},
        {"noheader.csv", 0x80, "1,2\n3,4\n\n\n5,6", 0},
        {"blank_lines.csv", 0x01, "\n\na,b\n\n1,2\n\n", 0},
        {"dup_header.csv", 0x00, "a,a\n1,2\n", 0},
        {"empty_header.csv", 0x00, "a,,c\n1,2,3\n", 0},
        {"inch.csv", 0x02, "h,w\n5'10\",70\n", 0},
        {"empty_fields.csv", 0x00, "a,b,c\n,,\n\"\",\"\",\"\"\n", 0},
        {"many_fields.csv", 0xa0, "1,2,3,4,5,6,7,8,9\n", 0},
    };
    for (size_t i = 0; i < LOOM_ARRAY_LEN(c); i++) {
        size_t len = c[i].len ? c[i].len : strlen(c[i].text);
        unsigned char *b = malloc(len + 1);
        b[0] = c[i].opt;
        memcpy(b + 1, c[i].text, len);
        put("csv", c[i].name, b, len + 1);
        free(b);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    out_root = argv[1];
    char tmp[] = "/tmp/loom-gen-seeds-XXXXXX";
    if (!mkdtemp(tmp)) die("mkdtemp", NULL);
    model_files();
    jpegs();
    csvs();
    training(tmp);
    dropped_cache(tmp);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) die("rm", NULL);
    return 0;
}
