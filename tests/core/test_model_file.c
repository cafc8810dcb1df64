/*
 * test_model_file.c — the model file (core/model_file.h): round trips,
 * byte-identical re-saves, every single-bit flip and every truncation of a
 * small file rejected, crafted hostile headers, a full disk during a save,
 * and an independent Python reader of the safetensors layout.
 *
 * The bit-flip test tries every bit of the file. LOOM_BITFLIP_STRIDE=k (env)
 * tries every bit of the 8-byte length and the header but only every k-th
 * bit of the tensor data, for slow (sanitizer, valgrind) builds; the default
 * is 1 (every bit): about 3 s here in the release build, 10 s in the ASan one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/model_file.h"
#include "tests/testlib.h"

/* ---- fixtures ---- */

static const char schema_yaml[] = "name: listings\n"
                                  "branches:\n"
                                  "  images: {column: photos, width: 64}\n"
                                  "  text: {columns: [title], rnn: gru}\t# tab\n"
                                  "outputs: [{column: price, type: number}]  # prix en €\n";
static const char prep_json[] = "{\"price\":{\"mean\":12.5,\"std\":3.25},\"vocab\":\"title\"}";
static const char train_json[] = "{\"epoch\":3,\"step\":117,\"best\":0.4375}";

static int32_t vocab_ids[9] = {0, 1, 2, 3, 5, 8, 13, 21, -34};
static uint8_t flags_u8[13] = {1, 0, 255, 7, 9, 0, 0, 1, 2, 3, 4, 5, 250};
static int64_t counts_i64[3] = {1ll << 40, -7, 123456789};
static float scale_f32[2] = {0.5f, -1.25f};

/* A store of params and a buffer; optimizer moments filled with values. */
static void make_store(struct loom_store *s, uint64_t seed, bool bigger)
{
    struct loom_error err;
    loom_store_init(s);
    assert_non_null(
        loom_store_add(s, "enc.w", LOOM_SHAPE(5, bigger ? 8 : 7), LOOM_INIT_FAN_IN, 7, 0, &err));
    assert_non_null(loom_store_add(s, "enc.b", LOOM_SHAPE(7), LOOM_INIT_UNIFORM, 0.5f, 0, &err));
    assert_non_null(loom_store_add_buffer(s, "bn.mean", LOOM_SHAPE(7), LOOM_INIT_NORMAL, 1, &err));
    assert_non_null(
        loom_store_add(s, "head.w", LOOM_SHAPE(3, 7, 1, 2), LOOM_INIT_NORMAL, 0.1f, 0, &err));
    if (bigger)
        assert_non_null(
            loom_store_add(s, "big", LOOM_SHAPE(4096), LOOM_INIT_NORMAL, 0.1f, 0, &err));
    assert_int_equal(loom_store_finalize(s, seed, &err), LOOM_OK);
    for (size_t i = 0; i < s->total; i++) {
        s->m[i] = (float)(seed % 7) * 0.01f + (float)i * 0.001f;
        s->v[i] = (float)(seed % 5) * 0.02f + (float)i * 1e-4f;
    }
}

static void make_extras(struct loom_mf_tensor x[4])
{
    memset(x, 0, 4 * sizeof *x);
    x[0] = (struct loom_mf_tensor){.name = "prep.vocab_ids",
                                   .dtype = LOOM_DTYPE_I32,
                                   .ndim = 1,
                                   .shape = {9},
                                   .data = vocab_ids};
    x[1] = (struct loom_mf_tensor){.name = "prep.flags",
                                   .dtype = LOOM_DTYPE_U8,
                                   .ndim = 2,
                                   .shape = {1, 13},
                                   .data = flags_u8};
    x[2] = (struct loom_mf_tensor){.name = "prep.counts",
                                   .dtype = LOOM_DTYPE_I64,
                                   .ndim = 1,
                                   .shape = {3},
                                   .data = counts_i64};
    x[3] = (struct loom_mf_tensor){
        .name = "prep.scale", .dtype = LOOM_DTYPE_F32, .ndim = 1, .shape = {2}, .data = scale_f32};
}

static const struct loom_mf_meta test_meta[] = {
    {"schema", schema_yaml},
    {"preprocessing", prep_json},
    {"training", train_json},
};

static struct loom_mf_save make_save(const struct loom_store *s, const struct loom_mf_tensor *x)
{
    return (struct loom_mf_save){.store = s,
                                 .with_optim = true,
                                 .extra = x,
                                 .nextra = 4,
                                 .meta = test_meta,
                                 .nmeta = LOOM_ARRAY_LEN(test_meta)};
}

static char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return b;
}

static void write_all_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *make_tmpdir(void)
{
    char *d = strdup("/tmp/loom-mf-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

/* Remove the directory's files and the directory; the number of files. */
static int remove_tmpdir(char *d)
{
    DIR *dir = opendir(d);
    assert_non_null(dir);
    int n = 0;
    struct dirent *e;
    char p[512];
    while ((e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", d, e->d_name);
            unlink(p);
            n++;
        }
    closedir(dir);
    assert_int_equal(rmdir(d), 0);
    free(d);
    return n;
}

/* Save store + extras + meta of a loaded file again, as a caller would. */
static void resave(const char *path, const struct loom_model_file *mf, const struct loom_store *s)
{
    struct loom_mf_meta m[8];
    size_t nx = 0, nm = 0;
    for (size_t i = 0; i < loom_model_file_count(mf); i++)
        nx += loom_model_file_tensor(mf, i)->kind == LOOM_MF_EXTRA;
    for (size_t i = 0; i < loom_model_file_meta_count(mf); i++) {
        const struct loom_mf_meta *e = loom_model_file_meta_at(mf, i);
        if (!loom_mf_meta_reserved(e->key)) m[nm++] = *e;
    }
    /* the extras in the order they were given (the "loom.extra_tensors" list) */
    struct loom_mf_tensor given[4];
    make_extras(given);
    for (int i = 0; i < 4; i++) {
        const struct loom_mf_tensor *t = loom_model_file_find(mf, given[i].name);
        assert_non_null(t);
        given[i].data = t->data;
    }
    assert_int_equal(nx, 4);
    struct loom_mf_save w = {
        .store = s, .with_optim = true, .extra = given, .nextra = 4, .meta = m, .nmeta = nm};
    struct loom_error err;
    enum loom_status st = loom_model_file_save(path, &w, &err);
    if (st) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, LOOM_OK);
}

/* ---- round trip ---- */

LOOM_TEST(model_file_round_trip)
{
    char *dir = make_tmpdir(), p1[256], p2[256];
    snprintf(p1, sizeof p1, "%s/model.loom", dir);
    snprintf(p2, sizeof p2, "%s/again.loom", dir);
    struct loom_store s, s2;
    struct loom_mf_tensor x[4];
    make_store(&s, 11, false);
    make_extras(x);
    struct loom_mf_save w = make_save(&s, x);
    struct loom_error err;
    assert_int_equal(loom_model_file_save(p1, &w, &err), LOOM_OK);

    struct loom_model_file *mf = NULL;
    enum loom_status st = loom_model_file_open(p1, NULL, &mf, &err);
    if (st) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, LOOM_OK);
    /* 4 params/buffers + 2x3 moments (not of the buffer) + 4 extras */
    assert_int_equal(loom_model_file_count(mf), 4 + 6 + 4);
    const struct loom_mf_tensor *t = loom_model_file_find(mf, "head.w");
    assert_non_null(t);
    assert_int_equal(t->dtype, LOOM_DTYPE_F32);
    assert_int_equal(t->ndim, 4);
    assert_int_equal(t->shape[1], 7);
    assert_int_equal(t->kind, LOOM_MF_PARAM);
    assert_int_equal((uintptr_t)t->data % 4, 0);
    assert_memory_equal(t->data, loom_store_find(&s, "head.w")->t.data, 42 * sizeof(float));
    assert_null(loom_model_file_find(mf, "optim.m.bn.mean"));
    t = loom_model_file_find(mf, "optim.v.enc.b");
    assert_non_null(t);
    assert_int_equal(t->kind, LOOM_MF_MOMENT);
    assert_memory_equal(t->data, s.v + loom_store_find(&s, "enc.b")->offset, 7 * sizeof(float));
    for (int i = 0; i < 4; i++) {
        t = loom_model_file_find(mf, x[i].name);
        assert_non_null(t);
        assert_int_equal(t->kind, LOOM_MF_EXTRA);
        assert_int_equal(t->dtype, x[i].dtype);
        assert_int_equal((uintptr_t)t->data % loom_dtype_size(t->dtype), 0);
        size_t bytes;
        assert_true(loom_mf_tensor_bytes(x[i].dtype, x[i].ndim, x[i].shape, &bytes));
        assert_int_equal(t->bytes, bytes);
        assert_memory_equal(t->data, x[i].data, bytes);
    }
    assert_string_equal(loom_model_file_meta(mf, "schema"), schema_yaml);
    assert_string_equal(loom_model_file_meta(mf, "preprocessing"), prep_json);
    assert_string_equal(loom_model_file_meta(mf, "format"), "loom");
    assert_string_equal(loom_model_file_meta(mf, "format_version"), "1");
    assert_null(loom_model_file_meta(mf, "nothing"));

    /* Into a store built the same way from another seed: values and moments. */
    make_store(&s2, 99, false);
    assert_int_equal(loom_model_file_load_store(mf, &s2, true, &err), LOOM_OK);
    assert_memory_equal(s2.data, s.data, s.total * sizeof(float));
    for (int i = 0; i < s.n; i++) { /* moments of trainable params only */
        const struct loom_param *q = s.params[i];
        size_t bytes = (size_t)q->t.size * sizeof(float);
        if (q->buffer) {
            assert_true(s2.m[q->offset] != s.m[q->offset]); /* left alone */
            continue;
        }
        assert_memory_equal(s2.m + q->offset, s.m + q->offset, bytes);
        assert_memory_equal(s2.v + q->offset, s.v + q->offset, bytes);
    }

    /* save -> load -> save: the same bytes; and to_memory gives them too. */
    resave(p2, mf, &s2);
    size_t n1, n2, n3;
    char *b1 = read_all(p1, &n1), *b2 = read_all(p2, &n2);
    void *b3;
    assert_int_equal(loom_model_file_to_memory(&w, &b3, &n3, &err), LOOM_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    assert_int_equal(n1, n3);
    assert_memory_equal(b1, b3, n1);
    assert_int_equal((unsigned char)b1[0] % 8, 0); /* the data start 8-byte aligned */
    free(b1), free(b2), free(b3);

    loom_model_file_close(&mf);
    assert_null(mf);
    loom_model_file_close(&mf);
    loom_model_file_close(NULL);
    loom_store_done(&s);
    loom_store_done(&s2);
    assert_int_equal(remove_tmpdir(dir), 2);
}

LOOM_TEST(model_file_load_store_mismatch)
{
    struct loom_store s, other;
    struct loom_mf_tensor x[4];
    make_store(&s, 3, false);
    make_extras(x);
    struct loom_mf_save w = make_save(&s, x);
    w.with_optim = false;
    void *buf;
    size_t n;
    struct loom_error err;
    assert_int_equal(loom_model_file_to_memory(&w, &buf, &n, &err), LOOM_OK);
    struct loom_model_file *mf;
    assert_int_equal(loom_model_file_open_memory(buf, n, NULL, &mf, &err), LOOM_OK);

    /* no moments in the file */
    make_store(&other, 4, false);
    float before = other.data[0];
    assert_int_equal(loom_model_file_load_store(mf, &other, true, &err), LOOM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "optim.m.enc.w"));
    assert_true(other.data[0] == before); /* untouched */
    assert_int_equal(loom_model_file_load_store(mf, &other, false, &err), LOOM_OK);
    loom_store_done(&other);

    /* a shape that differs */
    make_store(&other, 4, true);
    assert_int_equal(loom_model_file_load_store(mf, &other, false, &err), LOOM_ERR_SHAPE);
    assert_non_null(strstr(err.message, "enc.w"));
    assert_non_null(strstr(err.message, "[5,7]"));
    loom_store_done(&other);

    /* a param the file lacks, and a tensor of the file the model lacks */
    loom_store_init(&other);
    assert_non_null(loom_store_add(&other, "enc.w", LOOM_SHAPE(5, 7), LOOM_INIT_ZEROS, 0, 0, &err));
    assert_non_null(loom_store_add(&other, "new", LOOM_SHAPE(2), LOOM_INIT_ZEROS, 0, 0, &err));
    assert_int_equal(loom_store_finalize(&other, 1, &err), LOOM_OK);
    assert_int_equal(loom_model_file_load_store(mf, &other, false, &err), LOOM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "new"));
    loom_store_done(&other);
    loom_store_init(&other);
    assert_non_null(loom_store_add(&other, "enc.w", LOOM_SHAPE(5, 7), LOOM_INIT_ZEROS, 0, 0, &err));
    assert_int_equal(loom_store_finalize(&other, 1, &err), LOOM_OK);
    assert_int_equal(loom_model_file_load_store(mf, &other, false, &err), LOOM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "enc.b"));
    loom_store_done(&other);

    loom_model_file_close(&mf);
    free(buf);
    loom_store_done(&s);
}

LOOM_TEST(model_file_save_rejects_bad_input)
{
    struct loom_store s;
    struct loom_mf_tensor x[4];
    make_store(&s, 3, false);
    make_extras(x);
    struct loom_mf_save w = make_save(&s, x);
    void *buf = NULL;
    size_t n;
    struct loom_error err;
    struct loom_mf_meta bad_meta[] = {{"format", "other"}};
    w.meta = bad_meta, w.nmeta = 1;
    assert_int_equal(loom_model_file_to_memory(&w, &buf, &n, &err), LOOM_ERR_INVALID);
    bad_meta[0].key = "loom.anything";
    assert_int_equal(loom_model_file_to_memory(&w, &buf, &n, &err), LOOM_ERR_INVALID);
    w = make_save(&s, x);
    x[1].name = "enc.w"; /* collides with a param */
    assert_int_equal(loom_model_file_to_memory(&w, &buf, &n, &err), LOOM_ERR_INVALID);
    assert_non_null(strstr(err.message, "enc.w"));
    x[1].name = "bad\nname";
    assert_int_equal(loom_model_file_to_memory(&w, &buf, &n, &err), LOOM_ERR_INVALID);
    x[1].name = "optim.m.x";
    assert_int_equal(loom_model_file_to_memory(&w, &buf, &n, &err), LOOM_ERR_INVALID);
    x[1].name = "prep.flags";
    x[1].shape[0] = -1;
    assert_int_equal(loom_model_file_to_memory(&w, &buf, &n, &err), LOOM_ERR_INVALID);
    assert_null(buf);
    struct loom_model_file *mf = NULL;
    assert_int_equal(loom_model_file_open("/nonexistent/dir/m.loom", NULL, &mf, &err), LOOM_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/dir/m.loom"));
    assert_int_equal(loom_model_file_open("/tmp", NULL, &mf, &err), LOOM_ERR_IO);
    assert_null(mf);
    assert_int_equal(loom_model_file_save("/nonexistent/dir/m.loom", &w, &err), LOOM_ERR_INVALID);
    x[1].shape[0] = 1;
    assert_int_equal(loom_model_file_save("/nonexistent/dir/m.loom", &w, &err), LOOM_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/dir/m.loom"));
    loom_store_done(&s);
}

/* ---- every bit flip, every truncation ---- */

LOOM_TEST(model_file_bitflip_and_truncation)
{
    struct loom_store s;
    struct loom_mf_tensor x[5];
    make_store(&s, 7, false);
    make_extras(x);
    /* and 4 KiB more of data: a table of 1024 floats */
    float table[1024];
    for (int i = 0; i < 1024; i++) table[i] = sinf((float)i);
    x[4] = (struct loom_mf_tensor){
        .name = "prep.table", .dtype = LOOM_DTYPE_F32, .ndim = 2, .shape = {32, 32}, .data = table};
    struct loom_mf_save w = make_save(&s, x);
    w.nextra = 5;
    unsigned char *buf;
    size_t n;
    struct loom_error err;
    assert_int_equal(loom_model_file_to_memory(&w, (void **)&buf, &n, &err), LOOM_OK);
    assert_true(n <= 64 * 1024);
    size_t data_start = 8;
    for (int i = 0; i < 8; i++) data_start += (size_t)buf[i] << (8 * i);
    const char *e = getenv("LOOM_BITFLIP_STRIDE");
    size_t stride = e && atoi(e) > 0 ? (size_t)atoi(e) : 1;

    struct loom_model_file *mf = NULL;
    assert_int_equal(loom_model_file_open_memory(buf, n, NULL, &mf, &err), LOOM_OK);
    loom_model_file_close(&mf);
    size_t flips = 0, accepted = 0, by_status[LOOM_STATUS_COUNT] = {0};
    for (size_t bit = 0; bit < 8 * n; bit++) {
        if (bit / 8 >= data_start && bit % stride != 0) continue;
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        memset(&err, 0, sizeof err);
        enum loom_status st = loom_model_file_open_memory(buf, n, NULL, &mf, &err);
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        flips++;
        if (st == LOOM_OK || !err.message[0]) {
            fprintf(stderr, "bit %zu (byte %zu) flipped: accepted\n", bit, bit / 8);
            accepted++;
            loom_model_file_close(&mf);
            continue;
        }
        assert_null(mf);
        by_status[st]++;
    }
    size_t truncs = 0, truncs_ok = 0;
    for (size_t len = 0; len < n; len++) {
        /* a copy of exactly len bytes, so that ASan sees any read past it */
        unsigned char *cut = malloc(len ? len : 1);
        memcpy(cut, buf, len);
        enum loom_status st = loom_model_file_open_memory(cut, len, NULL, &mf, &err);
        truncs++;
        if (st == LOOM_OK) {
            truncs_ok++;
            loom_model_file_close(&mf);
        }
        free(cut);
    }
    printf("bitflip: %zu-byte file (data at byte %zu), %zu flips (data stride %zu), %zu "
           "accepted; %zu truncations, %zu accepted\n",
           n, data_start, flips, stride, accepted, truncs, truncs_ok);
    printf("bitflip: rejections by status: format %zu, parse %zu, unsupported %zu, limit %zu\n",
           by_status[LOOM_ERR_FORMAT], by_status[LOOM_ERR_PARSE], by_status[LOOM_ERR_UNSUPPORTED],
           by_status[LOOM_ERR_LIMIT]);
    assert_int_equal(accepted, 0);
    assert_int_equal(truncs_ok, 0);
    assert_int_equal(flips, by_status[LOOM_ERR_FORMAT] + by_status[LOOM_ERR_PARSE] +
                                by_status[LOOM_ERR_UNSUPPORTED] + by_status[LOOM_ERR_LIMIT]);

    /* A few truncations through real files too (the mapped path). */
    char *dir = make_tmpdir(), path[256];
    snprintf(path, sizeof path, "%s/cut.loom", dir);
    size_t lens[] = {0, 1, 7, 8, 9, data_start - 1, data_start, n - 1};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(lens); i++) {
        write_all_file(path, buf, lens[i]);
        assert_int_not_equal(loom_model_file_open(path, NULL, &mf, &err), LOOM_OK);
        assert_null(mf);
        assert_string_equal(err.file, path);
    }
    write_all_file(path, buf, n);
    assert_int_equal(loom_model_file_open(path, NULL, &mf, &err), LOOM_OK);
    loom_model_file_close(&mf);
    remove_tmpdir(dir);
    free(buf);
    loom_store_done(&s);
}

/* ---- crafted headers ---- */

#define META "\"__metadata__\":{\"format\":\"loom\",\"format_version\":\"1\"}"

struct crafted {
    const char *what;
    const char *json;
    size_t data_bytes;
    long long header_len; /* -1: the JSON's padded length */
    enum loom_status want;
    const char *message; /* a substring of the error */
};

static const struct crafted crafted_cases[] = {
    {"2^62 elements of F32",
     "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
     "\"data_offsets\":[0,16]}}",
     16, -1, LOOM_ERR_FORMAT, "overflows"},
    {"2^62 bytes of U8",
     "{" META ",\"a\":{\"dtype\":\"U8\",\"shape\":[4611686018427387904],"
     "\"data_offsets\":[0,4611686018427387904]}}",
     16, -1, LOOM_ERR_FORMAT, "outside the data"},
    {"2^62 elements in 2 dims",
     "{" META ",\"a\":{\"dtype\":\"U8\",\"shape\":[2147483648,2147483648],"
     "\"data_offsets\":[0,16]}}",
     16, -1, LOOM_ERR_FORMAT, "needs 4611686018427387904 bytes"},
    {"negative dim", "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}",
     16, -1, LOOM_ERR_FORMAT, "dim 0 is not a non-negative integer"},
    {"fractional dim",
     "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[4.0],\"data_offsets\":[0,16]}}", 16, -1,
     LOOM_ERR_FORMAT, "dim 0"},
    {"overlap",
     "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, -1, LOOM_ERR_FORMAT, "overlap"},
    {"hole",
     "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
     12, -1, LOOM_ERR_FORMAT, "hole of 4 bytes before tensor b"},
    {"hole at the end", "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     16, -1, LOOM_ERR_FORMAT, "8 bytes at the end"},
    {"offsets past the data",
     "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
     "\"data_offsets\":[0,16]}}",
     8, -1, LOOM_ERR_FORMAT, "outside the data"},
    {"end before begin",
     "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, -1,
     LOOM_ERR_FORMAT, "outside the data"},
    {"wrong dtype", "{" META ",\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
     -1, LOOM_ERR_FORMAT, "unknown dtype"},
    {"dtype not a string", "{" META ",\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
     -1, LOOM_ERR_FORMAT, "unknown dtype"},
    {"extra field",
     "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],"
     "\"x\":1}}",
     8, -1, LOOM_ERR_FORMAT, "exactly dtype, shape and data_offsets"},
    {"missing field", "{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"offsets\":[0,8]}}", 8, -1,
     LOOM_ERR_FORMAT, "exactly"},
    {"entry not an object", "{" META ",\"a\":[1,2]}", 0, -1, LOOM_ERR_FORMAT, "exactly"},
    {"9 dims",
     "{" META ",\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
     "\"data_offsets\":[0,1]}}",
     1, -1, LOOM_ERR_FORMAT, "at most 8 dims"},
    {"3 offsets", "{" META ",\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,1]}}", 1,
     -1, LOOM_ERR_FORMAT, "data_offsets"},
    {"header longer than the file", "{" META "}", 0, 1 << 20, LOOM_ERR_FORMAT,
     "larger than the file"},
    {"header length 2^62", "{" META "}", 0, 1ll << 62, LOOM_ERR_LIMIT, "exceeds the limit"},
    {"header length not aligned", "{" META "}", 0, 9, LOOM_ERR_FORMAT, "multiple of 8"},
    {"duplicate keys",
     "{" META ",\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
     "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
     2, -1, LOOM_ERR_PARSE, "duplicate"},
    {"duplicate metadata keys", "{\"__metadata__\":{\"format\":\"loom\",\"format\":\"loom\"}}", 0,
     -1, LOOM_ERR_PARSE, "duplicate"},
    {"non-string metadata",
     "{\"__metadata__\":{\"format\":\"loom\",\"format_version\":\"1\","
     "\"epoch\":3}}",
     0, -1, LOOM_ERR_FORMAT, "metadata epoch is not a string"},
    {"format_version 2", "{\"__metadata__\":{\"format\":\"loom\",\"format_version\":\"2\"}}", 0, -1,
     LOOM_ERR_UNSUPPORTED, "unsupported format version 2"},
    {"format_version 02", "{\"__metadata__\":{\"format\":\"loom\",\"format_version\":\"02\"}}", 0,
     -1, LOOM_ERR_FORMAT, "format_version"},
    {"no format", "{\"__metadata__\":{\"format_version\":\"1\"}}", 0, -1, LOOM_ERR_FORMAT,
     "not a loom model file"},
    {"other format", "{\"__metadata__\":{\"format\":\"pt\"}}", 0, -1, LOOM_ERR_FORMAT,
     "\"format\" is \"pt\""},
    {"no metadata", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, -1,
     LOOM_ERR_FORMAT, "__metadata__"},
    {"not an object", "[1,2,3,{}]", 0, -1, LOOM_ERR_FORMAT, "not a JSON object"},
    {"bad JSON", "{" META ",\n\"a\":{\"dtype\":F32}}", 0, -1, LOOM_ERR_PARSE, "line 2"},
    {"nesting", "{" META ",\"a\":{\"dtype\":\"U8\",\"shape\":[[[1]]],\"data_offsets\":[0,1]}}", 1,
     -1, LOOM_ERR_FORMAT, "nested deeper than 3"},
    {"no extra list", "{" META ",\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
     -1, LOOM_ERR_FORMAT, "loom.extra_tensors"},
    {"no checksum",
     "{\"__metadata__\":{\"format\":\"loom\",\"format_version\":\"1\","
     "\"loom.extra_tensors\":\"\"}}",
     0, -1, LOOM_ERR_FORMAT, "loom.crc32"},
    {"wrong checksum",
     "{\"__metadata__\":{\"format\":\"loom\",\"format_version\":\"1\","
     "\"loom.crc32\":\"01234567\",\"loom.extra_tensors\":\"\"}}",
     0, -1, LOOM_ERR_FORMAT, "checksum mismatch"},
    {"not canonical",
     "{\"__metadata__\": {\"format\":\"loom\",\"format_version\":\"1\","
     "\"loom.crc32\":\"01234567\",\"loom.extra_tensors\":\"\"}}",
     0, -1, LOOM_ERR_FORMAT, "canonical"},
};

/* 8-byte length, the JSON padded with spaces to 8-byte alignment, data. */
static unsigned char *craft(const struct crafted *c, size_t *size)
{
    size_t len = strlen(c->json), pad = (8 - len % 8) % 8;
    *size = 8 + len + pad + c->data_bytes;
    unsigned char *b = calloc(1, *size);
    assert_non_null(b);
    uint64_t hl = c->header_len >= 0 ? (uint64_t)c->header_len : len + pad;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hl >> (8 * i));
    memcpy(b + 8, c->json, len);
    memset(b + 8 + len, ' ', pad);
    for (size_t i = 0; i < c->data_bytes; i++) b[8 + len + pad + i] = (unsigned char)i;
    return b;
}

static void crafted_case(void **state)
{
    const struct crafted *c = *state;
    size_t n;
    unsigned char *b = craft(c, &n);
    struct loom_model_file *mf = NULL;
    struct loom_error err;
    memset(&err, 0, sizeof err);
    enum loom_status st = loom_model_file_open_memory(b, n, NULL, &mf, &err);
    if (st != c->want || !strstr(err.message, c->message))
        fprintf(stderr, "%s: got %s \"%s\", want %s \"%s\"\n", c->what, loom_strerror(st),
                err.message, loom_strerror(c->want), c->message);
    assert_int_equal(st, c->want);
    assert_non_null(strstr(err.message, c->message));
    assert_null(mf);
    if (st == LOOM_ERR_PARSE) assert_true(err.line > 0 && err.column > 0);
    free(b);
}

__attribute__((constructor)) static void register_crafted(void)
{
    static char names[LOOM_ARRAY_LEN(crafted_cases)][96];
    for (size_t i = 0; i < LOOM_ARRAY_LEN(crafted_cases); i++) {
        snprintf(names[i], sizeof names[i], "model_file_crafted: %s", crafted_cases[i].what);
        loom_test_register_state(names[i], crafted_case, (void *)&crafted_cases[i]);
    }
}

/* Peak memory while rejecting a header claiming 2^62 elements, measured in a
 * child process (its peak starts at its size at fork). */
LOOM_TEST(model_file_huge_claims_use_little_memory)
{
    char *dir = make_tmpdir(), path[256];
    snprintf(path, sizeof path, "%s/huge.loom", dir);
    for (int k = 0; k < 3; k++) {
        size_t n;
        unsigned char *b = craft(&crafted_cases[k], &n);
        write_all_file(path, b, n);
        free(b);
        fflush(stdout);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct rusage r0, r1;
            getrusage(RUSAGE_SELF, &r0);
            struct loom_model_file *mf = NULL;
            struct loom_error err;
            enum loom_status st = loom_model_file_open(path, NULL, &mf, &err);
            getrusage(RUSAGE_SELF, &r1);
            long grew_kb = r1.ru_maxrss - r0.ru_maxrss;
            printf("huge claim (%s): rejected with \"%s\", peak memory grew %ld KiB\n",
                   crafted_cases[k].what, err.message, grew_kb);
            fflush(stdout);
            _exit(st == crafted_cases[k].want && !mf && grew_kb < 16 * 1024 ? 0 : 1);
        }
        int ws;
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_true(WIFEXITED(ws));
        assert_int_equal(WEXITSTATUS(ws), 0);
    }
    remove_tmpdir(dir);
}

/* ---- a full disk during a save ---- */

LOOM_TEST(model_file_full_disk_keeps_previous_file)
{
    char *dir = make_tmpdir(), path[256];
    snprintf(path, sizeof path, "%s/ckpt.loom", dir);
    struct loom_store s, big;
    struct loom_mf_tensor x[4];
    make_store(&s, 1, false);
    make_extras(x);
    struct loom_mf_save w = make_save(&s, x);
    struct loom_error err;
    assert_int_equal(loom_model_file_save(path, &w, &err), LOOM_OK);
    size_t n0, n1;
    char *before = read_all(path, &n0);

    /* The bigger model does not fit under the file size limit. */
    make_store(&big, 2, true);
    w.store = &big;
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 8192;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    enum loom_status st = loom_model_file_save(path, &w, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    printf("full disk: %s\n", err.message);
    assert_int_equal(st, LOOM_ERR_IO);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, strerror(EFBIG)));

    char *after = read_all(path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before), free(after);
    struct loom_model_file *mf;
    assert_int_equal(loom_model_file_open(path, NULL, &mf, &err), LOOM_OK);
    loom_model_file_close(&mf);
    /* Without the limit the same save works. */
    assert_int_equal(loom_model_file_save(path, &w, &err), LOOM_OK);
    assert_int_equal(remove_tmpdir(dir), 1); /* no temporary file left */
    loom_store_done(&s);
    loom_store_done(&big);
}

/* ---- an independent reader ---- */

/* tests/core/read_safetensors.py: from $LOOM_SRC, else beside this source
 * file, else from the executable's place in a build directory. */
static bool find_reader(char *out, size_t size)
{
    char exe[512];
    const char *src = getenv("LOOM_SRC");
    if (src && *src) {
        snprintf(out, size, "%s/tests/core/read_safetensors.py", src);
        if (access(out, R_OK) == 0) return true;
    }
    snprintf(out, size, "%s", __FILE__);
    char *slash = strrchr(out, '/');
    if (slash) {
        snprintf(slash + 1, size - (size_t)(slash + 1 - out), "read_safetensors.py");
        if (access(out, R_OK) == 0) return true;
    }
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return false;
    exe[k] = '\0';
    for (int up = 0; up < 4 && (slash = strrchr(exe, '/')); up++) *slash = '\0';
    snprintf(out, size, "%s/tests/core/read_safetensors.py", exe); /* <src>/build/tests/core/x */
    return access(out, R_OK) == 0;
}

LOOM_TEST(model_file_python_reader_agrees)
{
    char script[600];
    if (access("/usr/bin/python3", X_OK) != 0 || !find_reader(script, sizeof script)) {
        printf("python reader: skipped (no /usr/bin/python3 or no read_safetensors.py)\n");
        return;
    }
    char *dir = make_tmpdir(), path[256];
    snprintf(path, sizeof path, "%s/m.loom", dir);
    struct loom_store s;
    struct loom_mf_tensor x[4];
    make_store(&s, 5, false);
    make_extras(x);
    struct loom_mf_save w = make_save(&s, x);
    struct loom_error err;
    assert_int_equal(loom_model_file_save(path, &w, &err), LOOM_OK);
    struct loom_model_file *mf;
    assert_int_equal(loom_model_file_open(path, NULL, &mf, &err), LOOM_OK);

    /* What the C side sees, in the reader's format. */
    size_t cap = 1 << 16, len = 0;
    char *want = calloc(1, cap);
    for (size_t i = 0; i < loom_model_file_count(mf); i++) {
        const struct loom_mf_tensor *t = loom_model_file_tensor(mf, i);
        char shape[128] = "", sum[64];
        for (int d = 0; d < t->ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? "," : "",
                     (long long)t->shape[d]);
        size_t count = t->bytes / loom_dtype_size(t->dtype);
        double fs = 0;
        long long is = 0;
        for (size_t k = 0; k < count; k++) {
            switch (t->dtype) {
            case LOOM_DTYPE_F32:
                fs += (double)((const float *)t->data)[k];
                break;
            case LOOM_DTYPE_I32:
                is += ((const int32_t *)t->data)[k];
                break;
            case LOOM_DTYPE_I64:
                is += ((const int64_t *)t->data)[k];
                break;
            case LOOM_DTYPE_U8:
                is += ((const uint8_t *)t->data)[k];
                break;
            default:
                fail_msg("unexpected dtype");
            }
        }
        if (t->dtype == LOOM_DTYPE_F32)
            snprintf(sum, sizeof sum, "%.17g", fs);
        else
            snprintf(sum, sizeof sum, "%lld", is);
        len += (size_t)snprintf(want + len, cap - len, "tensor %s %s %s %s\n", t->name,
                                loom_dtype_name(t->dtype), shape, sum);
    }
    for (size_t i = 0; i < loom_model_file_meta_count(mf); i++) {
        const struct loom_mf_meta *m = loom_model_file_meta_at(mf, i);
        len += (size_t)snprintf(want + len, cap - len, "meta %s %zu\n", m->key, strlen(m->value));
    }
    assert_true(len < cap);

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *got = calloc(1, cap);
    size_t glen = fread(got, 1, cap - 1, p);
    int rc = pclose(p);
    if (rc != 0 || strcmp(got, want) != 0)
        fprintf(stderr, "python reader (rc %d) said:\n%.*s\nC side:\n%s", rc, (int)glen, got, want);
    assert_int_equal(rc, 0);
    assert_string_equal(got, want);
    printf("python reader: %zu tensors and %zu metadata entries agree\n", loom_model_file_count(mf),
           loom_model_file_meta_count(mf));
    free(got), free(want);
    loom_model_file_close(&mf);
    loom_store_done(&s);
    remove_tmpdir(dir);
}
