/*
 * fuzz_model_file.c — the model file reader (core/model_file.h) on
 * arbitrary bytes, opened from memory (with the checksum fix-up of
 * fuzz_util.h, so mutations get past the CRC). A file that opens is walked
 * (every tensor found by name, sized by the one size helper, inside the
 * input; metadata sorted and found by key), copied into a store built from
 * its own tensor list, and saved again: that save must open, and a second
 * round (open, load, save) must give the same bytes (save -> open -> save
 * is byte-identical).
 */
#include <string.h>

#include "fuzz_util.h"

static void walk(const struct loom_model_file *mf, const char *base, size_t size)
{
    size_t n = loom_model_file_count(mf);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        const struct loom_mf_tensor *t = loom_model_file_tensor(mf, i);
        FUZZ_CHECK(t && loom_model_file_find(mf, t->name) == t);
        size_t bytes = 0;
        FUZZ_CHECK(loom_mf_tensor_bytes(t->dtype, t->ndim, t->shape, &bytes) && bytes == t->bytes);
        if (!base) continue;
        const char *d = t->data;
        FUZZ_CHECK(bytes == 0 ||
                   (d >= base && (size_t)(d - base) <= size && bytes <= size - (size_t)(d - base)));
        for (size_t k = 0; k < bytes; k++) sum += (unsigned char)d[k];
    }
    FUZZ_CHECK(loom_model_file_tensor(mf, n) == NULL);
    size_t nm = loom_model_file_meta_count(mf);
    for (size_t i = 0; i < nm; i++) {
        const struct loom_mf_meta *m = loom_model_file_meta_at(mf, i);
        FUZZ_CHECK(m && loom_model_file_meta(mf, m->key) == m->value);
        if (i) FUZZ_CHECK(strcmp(loom_model_file_meta_at(mf, i - 1)->key, m->key) < 0);
    }
    (void)sum;
}

/* The file's params into a fresh store (trainable when it has moments), then
 * everything saved to memory. LOOM_OK with *out set, or the first failure. */
static enum loom_status resave(const struct loom_model_file *mf, void **out, size_t *out_len)
{
    struct loom_error err = {0};
    struct loom_store s;
    loom_store_init(&s);
    int g = loom_store_group(&s, "all");
    size_t n = loom_model_file_count(mf), nmeta = loom_model_file_meta_count(mf), nextra = 0, k = 0;
    struct loom_mf_tensor *extra = calloc(n + 1, sizeof *extra);
    struct loom_mf_meta *meta = calloc(nmeta + 1, sizeof *meta);
    enum loom_status st = extra && meta ? LOOM_OK : LOOM_ERR_NOMEM;
    bool optim = false;
    for (size_t i = 0; i < n && !st; i++) {
        const struct loom_mf_tensor *t = loom_model_file_tensor(mf, i);
        if (t->kind == LOOM_MF_EXTRA) extra[nextra++] = *t;
        if (t->kind == LOOM_MF_MOMENT) optim = true;
        if (t->kind != LOOM_MF_PARAM || t->dtype != LOOM_DTYPE_F32) continue;
        char mname[512];
        snprintf(mname, sizeof mname, "optim.m.%s", t->name);
        bool trainable = loom_model_file_find(mf, mname) != NULL;
        struct loom_tensor *x =
            trainable
                ? loom_store_add(&s, t->name, t->ndim, t->shape, LOOM_INIT_ZEROS, 0, g, &err)
                : loom_store_add_buffer(&s, t->name, t->ndim, t->shape, LOOM_INIT_ZEROS, 0, &err);
        if (!x) st = err.code ? err.code : LOOM_ERR_INVALID;
    }
    if (!st) st = loom_store_finalize(&s, 1, &err);
    if (!st) st = loom_model_file_load_store(mf, &s, optim, &err);
    for (size_t i = 0; i < nmeta && !st; i++) {
        const struct loom_mf_meta *m = loom_model_file_meta_at(mf, i);
        if (!loom_mf_meta_reserved(m->key)) meta[k++] = *m;
    }
    struct loom_mf_save w = {.store = &s,
                             .with_optim = optim,
                             .extra = extra,
                             .nextra = nextra,
                             .meta = meta,
                             .nmeta = k};
    if (!st) st = loom_model_file_to_memory(&w, out, out_len, &err);
    free(extra);
    free(meta);
    loom_store_done(&s);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy);
    memcpy(copy, data, size);
    struct loom_model_file *mf = NULL, *mf2 = NULL;
    struct loom_error err = {0};
    enum loom_status st = fuzz_mf_open_fixed(copy, size, &mf, &err);
    if (st != LOOM_OK) {
        FUZZ_CHECK(mf == NULL && err.code == st && err.message[0]);
        free(copy);
        return 0;
    }
    walk(mf, copy, size);
    void *s1 = NULL, *s2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (resave(mf, &s1, &n1) == LOOM_OK) {
        st = loom_model_file_open_memory(s1, n1, NULL, &mf2, &err);
        if (st) fprintf(stderr, "a resaved file does not open: %s\n", err.message);
        FUZZ_CHECK(st == LOOM_OK);
        walk(mf2, s1, n1);
        FUZZ_CHECK(loom_model_file_count(mf2) == loom_model_file_count(mf));
        FUZZ_CHECK(resave(mf2, &s2, &n2) == LOOM_OK);
        FUZZ_CHECK(n1 == n2 && memcmp(s1, s2, n1) == 0);
        loom_model_file_close(&mf2);
    }
    free(s1);
    free(s2);
    loom_model_file_close(&mf);
    FUZZ_CHECK(mf == NULL);
    free(copy);
    return 0;
}
