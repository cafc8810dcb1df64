/*
 * fuzz_prep.c — the saved preprocessing (loaders/prep.h: loom_prep_load)
 * on arbitrary bytes, against the fixed schema of fuzz_data.c (a column
 * of every type), with the nested blobs' lengths and checksums fixed up
 * (fuzz_util.h) so that mutations reach the values. A blob that loads is used: every column's info,
 * every label, a few values encoded per column, numbers decoded; then saved, and the save must load
 * and save again to the same bytes.
 */
#include <string.h>

#include "fuzz_data.h"
#include "fuzz_util.h"
#include "loaders/prep.h"

static struct loom_schema schema;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_fixed_schema(&schema, NULL);
    return 0;
}

static void use(const struct loom_prep *p)
{
    static const char *const probes[] = {"",    "1.5",          "-3",       "abc Def GHI",
                                         "0;1", "2024-02-29",   "1;2.5;-3", "yes",
                                         "c1",  "1e308;1e-308", "nan"};
    FUZZ_CHECK(loom_prep_ncols(p) == schema.ncolumns);
    for (int col = 0; col < schema.ncolumns; col++) {
        struct loom_prep_column_info info;
        struct loom_error err = {0};
        FUZZ_CHECK(loom_prep_column(p, col, &info, &err) == LOOM_OK);
        FUZZ_CHECK(info.type == schema.columns[col].type && info.width >= 0);
        for (int32_t code = -1; code <= info.cardinality + 1 && code < 64; code++) {
            size_t len = 0;
            const char *l = loom_prep_label(p, col, code, &len);
            unsigned sum = 0; /* labels are counted, not NUL-terminated */
            for (size_t i = 0; l && i < len; i++) sum += (unsigned char)l[i];
            (void)sum;
        }
        (void)loom_prep_decode_number(p, col, 0.5);
        int size;
        enum loom_image_fit fit;
        float mean[3], sd[3];
        if (loom_prep_image(p, col, &size, &fit, mean, sd)) FUZZ_CHECK(size > 0 && sd[0] > 0);
        if (info.width > 4096) continue;
        size_t w = info.width > 0 ? (size_t)info.width : 1;
        float *x = calloc(w, sizeof *x);
        int32_t *ids = calloc(w, sizeof *ids);
        FUZZ_CHECK(x && ids);
        for (size_t k = 0; k < LOOM_ARRAY_LEN(probes); k++) {
            float present = 0;
            int32_t length = 0;
            enum loom_status st = loom_prep_encode(p, col, probes[k], strlen(probes[k]), x,
                                                   &present, ids, &length, &err);
            if (st == LOOM_OK && info.type == LOOM_COL_TEXT)
                FUZZ_CHECK(length >= 0 && length <= info.width);
            for (size_t i = 0; st == LOOM_OK && i < w && info.cardinality > 0; i++)
                FUZZ_CHECK(ids[i] >= 0 && ids[i] < info.cardinality);
        }
        free(x);
        free(ids);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct loom_prep *p = NULL, *q = NULL;
    struct loom_error err = {0};
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy);
    memcpy(copy, data, size);
    /* an odd first byte leaves the checksums as they are */
    if (size && !(copy[0] & 1)) fuzz_blob_fix(copy, size);
    enum loom_status st = loom_prep_load(&schema, copy, size, &p, &err);
    free(copy);
    if (st != LOOM_OK) {
        FUZZ_CHECK(p == NULL && err.message[0]);
        return 0;
    }
    use(p);
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    FUZZ_CHECK(loom_prep_save(p, &b1, &n1, &err) == LOOM_OK);
    FUZZ_CHECK(loom_prep_load(&schema, b1, n1, &q, &err) == LOOM_OK);
    FUZZ_CHECK(loom_prep_save(q, &b2, &n2, &err) == LOOM_OK);
    FUZZ_CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
    free(b1);
    free(b2);
    loom_prep_free(&q);
    loom_prep_free(&p);
    return 0;
}
