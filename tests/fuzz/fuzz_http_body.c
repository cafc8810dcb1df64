/*
 * fuzz_http_body.c — the body of a POST /predict or /embed request
 * (cli/serve_json.c's serve_parse_rows: the scan, jansson, every value
 * through the public row builder, base64 and paths under an image root),
 * then for a body that parses, scoring and the answer's JSON, as
 * `loom serve` does minus the sockets. The model: the fixed schema of
 * fuzz_data.c (a column of every type) with freshly initialised weights,
 * saved and opened through include/loom.h once at start; its rows and
 * photo (p.jpg, also the image root's one file) in a temp directory.
 *
 * Checks: only 0, 400 and 413 come back (500 would mean memory ran out:
 * the limits are small here); a refusal names a field and a message; a
 * body that parses holds at most max_rows rows, scores, and gives JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/serve.h"
#include "fusion/model.h"
#include "fuzz_data.h"
#include "fuzz_util.h"
#include "loaders/dataset.h"

static struct serve_model sm;
static struct serve_limits lim;
static struct serve_scratch scratch;
static loom_rows *rows;
static loom_session *session;

static void die(const char *what, const struct loom_error *e)
{
    fprintf(stderr, "fuzz_http_body: %s: %s\n", what, e ? e->message : "");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char dir[] = "/tmp/loom-fuzz-http-XXXXXX", path[4096];
    if (!mkdtemp(dir)) die("mkdtemp", NULL);
    fuzz_fixed_data(dir);
    struct loom_schema s;
    fuzz_fixed_schema(&s, dir);
    struct loom_dataset_opts o = {.threads = 1};
    struct loom_prep *p = NULL;
    struct loom_model *m = NULL;
    struct loom_error err = {0};
    if (loom_prep_fit(&s, &o, &p, NULL, &err)) die("prep fit", &err);
    if (loom_model_new(&s, &p, 3, NULL, &m, &err)) die("model", &err);
    snprintf(path, sizeof path, "%s/model.loom", dir);
    if (loom_model_save(m, path, NULL, &err)) die("model save", &err);
    loom_model_free(&m);
    loom_model *pub = NULL; /* kept open for the whole run */
    if (loom_model_open(path, &pub, &err)) die("model open", &err);
    lim = (struct serve_limits){.max_body = 1 << 20,
                                .max_rows = 8,
                                .max_photos = 4,
                                .max_pixels = 1 << 16,
                                .timeout = 1,
                                .image_root = dir};
    if (serve_model_init(&sm, pub, &lim, &err) || loom_rows_new(pub, &rows, &err) ||
        serve_rows_limits(rows, &lim, &err) || loom_session_new(pub, &session, &err))
        die("rows", &err);
    loom_session_set_threads(session, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *warnings = NULL;
    struct serve_fail f = {0};
    int st = serve_parse_rows(&sm, &lim, rows, &scratch, (const char *)data, size, &warnings, &f);
    FUZZ_CHECK(st == 0 || st == 400 || st == 413);
    if (st) {
        FUZZ_CHECK(f.status == st && f.field[0] && f.error[0]);
        FUZZ_CHECK(warnings == NULL && loom_rows_count(rows) == 0);
        json_t *j = serve_fail_json(&f);
        char *text = json_dumps(j, JSON_COMPACT);
        FUZZ_CHECK(text);
        free(text);
        json_decref(j);
        return 0;
    }
    FUZZ_CHECK(json_is_array(warnings) && loom_rows_count(rows) <= lim.max_rows);
    const loom_result *r = NULL;
    struct loom_error err = {0};
    bool embed = size & 1;
    FUZZ_CHECK((embed ? loom_embed(session, rows, &r, &err)
                      : loom_predict(session, rows, &r, &err)) == LOOM_OK);
    FUZZ_CHECK(loom_result_rows(r) == loom_rows_count(rows));
    json_t *out = embed ? serve_embed_json(&sm, r, true) : serve_predict_json(&sm, r);
    FUZZ_CHECK(out);
    json_object_set(out, "warnings", warnings);
    char *text = json_dumps(out, JSON_COMPACT);
    FUZZ_CHECK(text);
    free(text);
    json_decref(out);
    json_decref(warnings);
    return 0;
}
