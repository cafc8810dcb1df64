/*
 * fuzz_cache.c — the dataset cache file (loaders/cache.h) and the dataset's
 * checks of its sections (loaders/dataset.c), on arbitrary bytes. The cache
 * reader takes only a path, so the setting is real: a temporary directory
 * (under /dev/shm when it exists) with the rows of fuzz_data.c, the fixed
 * schema and a prep fitted on them, and the path and key of the training
 * split's cache. Each input is written there as the cache file and read
 * twice: by loom_cache_open (every section walked) and by loom_dataset_open,
 * whose checks of the sections against the schema and prep decide; the
 * rows of a cache it accepts are read in full by a batcher. (Once the prep
 * is fitted the CSV is replaced by one without the columns, so that a
 * refused cache fails the rebuild at once instead of costing a CSV pass.)
 *
 * So that mutations get past the checksums, the harness writes the key, the
 * file size and both CRC-32s into the header, unless the header's last
 * (reserved) byte is non-zero: then the bytes go as they are.
 */
#include <dirent.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz_data.h"
#include "fuzz_util.h"
#include "loaders/cache.h"
#include "loaders/dataset.h"

static struct loom_schema schema;
static struct loom_prep *prep;
static char dir[256];
static char *path;
static uint64_t key;

static void cleanup(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(dir, sizeof dir, "%s/loom-fuzz-cache-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    FUZZ_CHECK(mkdtemp(dir));
    atexit(cleanup);
    fuzz_fixed_data(dir);
    fuzz_fixed_schema(&schema, dir);
    struct loom_dataset_opts o = {.use_cache = false, .threads = 1};
    struct loom_error err = {0};
    FUZZ_CHECK(loom_prep_fit(&schema, &o, &prep, NULL, &err) == LOOM_OK);
    /* Now make a rebuild fail at once (its header lacks the columns): an
     * input the dataset refuses costs no CSV pass, cache write or decoding.
     * The key covers the file's size, time and inode: taken after this. */
    char csv[512];
    snprintf(csv, sizeof csv, "%s/train.csv", dir);
    FILE *f = fopen(csv, "w");
    FUZZ_CHECK(f && fputs("unrelated\n", f) >= 0 && fclose(f) == 0);
    FUZZ_CHECK(loom_cache_key(&schema, prep, LOOM_SPLIT_TRAIN, &key, &err) == LOOM_OK);
    FUZZ_CHECK((path = loom_cache_path(&schema, dir, LOOM_SPLIT_TRAIN, key)));
    return 0;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void write_cache(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    FUZZ_CHECK(b);
    memcpy(b, data, size);
    if (size >= 64 && b[63] == 0) {
        put_le(b + 16, key, 8);
        put_le(b + 24, size, 8);
        put_le(b + 40, crc32_z(0L, b + 64, size - 64), 4);
        put_le(b + 48, crc32(0L, b, 48), 4);
    }
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(b, 1, size, f) == size && fclose(f) == 0);
    free(b);
}

static void read_all(const struct loom_dataset *d)
{
    int64_t n = loom_dataset_rows(d);
    for (int64_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *id = loom_dataset_row_id(d, i, &len);
        FUZZ_CHECK(id);
        FUZZ_CHECK(memchr(id, 0, len) == NULL);
        FUZZ_CHECK(loom_dataset_row_line(d, i) >= 1);
    }
    struct loom_batcher_opts bo = {.batch_size = 7, .training = true, .seed = 3, .threads = 1};
    struct loom_batcher *b = NULL;
    struct loom_error err = {0};
    FUZZ_CHECK(loom_batcher_new(d, &bo, &b, &err) == LOOM_OK);
    const struct loom_batch *batch = NULL;
    int64_t rows = 0;
    do {
        FUZZ_CHECK(loom_batcher_next(b, &batch, &err) == LOOM_OK);
        if (batch) rows += batch->n;
    } while (batch);
    FUZZ_CHECK(rows == n);
    loom_batcher_free(&b);
}

/* The dropped-photo list replayed from the cache: each field a string. */
static void on_bad(const struct loom_bad_photo *b, void *user)
{
    FUZZ_CHECK(b->line >= 1 && b->column && b->path && b->reason && !strchr(b->path, '\t'));
    ++*(int64_t *)user;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_cache(data, size);
    struct loom_cache_map m;
    struct loom_error err = {0};
    if (loom_cache_open(path, key, &m, &err) == LOOM_OK) {
        unsigned sum = 0;
        for (int i = 0; i < m.nsec; i++) {
            const struct loom_cache_section *s = &m.sec[i];
            const uint8_t *p = s->data;
            FUZZ_CHECK(p >= (const uint8_t *)m.base && s->bytes <= m.len &&
                       (size_t)(p - (const uint8_t *)m.base) <= m.len - s->bytes);
            if (s->bytes) sum += p[0] + p[s->bytes - 1];
            FUZZ_CHECK(loom_cache_find(&m, s->kind, s->col) != NULL);
        }
        (void)sum;
        loom_cache_close(&m);
    } else {
        FUZZ_CHECK(m.base == NULL && err.message[0]);
    }
    int64_t nbad = 0;
    struct loom_dataset_opts o = {
        .use_cache = true, .cache_dir = dir, .threads = 1, .on_bad_photo = on_bad, .user = &nbad};
    struct loom_data_report rep;
    struct loom_dataset *d = NULL;
    enum loom_status st = loom_dataset_open(&schema, prep, LOOM_SPLIT_TRAIN, &o, &d, &rep, &err);
    /* refused: the rebuild fails on the CSV's header; accepted: it reads
     * (or its report says too many rows were bad) */
    FUZZ_CHECK(st == LOOM_OK ? d && rep.from_cache : d == NULL && err.message[0]);
    if (d) read_all(d);
    /* a cache that is taken replays exactly its report's dropped photos */
    FUZZ_CHECK(st != LOOM_OK || nbad == rep.images_bad);
    loom_dataset_close(&d);
    return 0;
}
