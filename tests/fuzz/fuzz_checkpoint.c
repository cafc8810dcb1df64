/*
 * fuzz_checkpoint.c — opening a model or a checkpoint (fusion/model_io.c,
 * fusion/checkpoint.c) from arbitrary bytes: the model file reader (with the
 * checksum fix-ups of fuzz_util.h, so that mutations of the stored schema
 * text, the prep tensor, the weights and the train state reach their
 * parsers), then loom_model_from_file (the schema reloaded from its text,
 * the prep blob loaded, the model rebuilt, its weights loaded), then, when
 * the file carries a "train_state", a resume: the trainer's JSON parser and
 * the moments' load, through loom_trainer_resume on a memory file (it only
 * takes a path). The trainer is set up as loom_train's setup would for the
 * run the state names (epochs, batches per epoch, data seed), so that the
 * parser is reached past that check; nothing is trained.
 */
#include <jansson.h>
#include <string.h>

#include "fusion/model_io.h"
#include "fusion/trainer_impl.h"
#include "fuzz_util.h"

/* The run a train state names, or false. */
static bool run_of(const char *state, int *epochs, int64_t *per, uint64_t *seed)
{
    json_t *o = json_loads(state, 0, NULL);
    json_t *e = json_object_get(o, "epochs"), *p = json_object_get(o, "batches_per_epoch");
    const char *s = json_string_value(json_object_get(o, "data_seed"));
    bool ok = json_is_integer(e) && json_is_integer(p) && s;
    if (ok) {
        *epochs = (int)json_integer_value(e);
        *per = json_integer_value(p);
        *seed = strtoull(s, NULL, 10);
    }
    json_decref(o);
    return ok;
}

static void resume(struct loom_model *m, const char *state, const char *bytes, size_t n)
{
    struct trainer t = {.m = m, .tr = &m->schema.training, .epochs = 1, .per_epoch = 1};
    run_of(state, &t.epochs, &t.per_epoch, &t.data_seed);
    char path[64];
    if (!fuzz_memfile(bytes, n, path, sizeof path)) return;
    struct loom_error err = {0};
    enum loom_status st = loom_trainer_resume(&t, path, &err);
    FUZZ_CHECK(st == LOOM_OK ? strcmp(t.last_good, path) == 0 : err.message[0] != 0);
    FUZZ_CHECK(st != LOOM_OK || (t.epoch <= t.epochs && t.batch <= t.per_epoch));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy);
    memcpy(copy, data, size);
    struct loom_model_file *mf = NULL;
    struct loom_error err = {0};
    if (fuzz_mf_open_fixed(copy, size, &mf, &err) != LOOM_OK) {
        free(copy);
        return 0;
    }
    /* seal the prep blob's nested checksums too, then the file's again */
    const struct loom_mf_tensor *pt = loom_model_file_find(mf, "prep");
    if (pt && pt->bytes >= 20) {
        size_t off = (size_t)((const char *)pt->data - copy), n = pt->bytes;
        loom_model_file_close(&mf);
        fuzz_blob_fix((uint8_t *)copy + off, n);
        if (fuzz_mf_open_fixed(copy, size, &mf, &err) != LOOM_OK) {
            free(copy);
            return 0;
        }
    }
    struct loom_model *m = NULL;
    enum loom_status st = loom_model_from_file(mf, "fuzz.loom", NULL, &m, &err);
    FUZZ_CHECK(st == LOOM_OK ? m != NULL : m == NULL && err.message[0] != 0);
    const char *state = loom_model_file_meta(mf, "train_state");
    if (m && state) resume(m, state, copy, size);
    loom_model_free(&m);
    loom_model_file_close(&mf);
    free(copy);
    return 0;
}
