/*
 * test_parse.c — serve_parse_rows (cli/serve_json.c) in-process, without
 * HTTP: the ways a value may be written give the same rows as the library
 * fed directly, base64 in its variants, and the fuzz target's seed corpus
 * (tests/fuzz/corpus/http_body) answered with 0, 400 or 413 and nothing
 * else.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/serve.h"
#include "fixtures.h"
#include "tests/api/fixtures.h"

struct px {
    loom_model *m;
    loom_session *s;
    loom_rows *rows;
    struct serve_model sm;
    struct serve_limits lim;
    struct serve_scratch scratch;
};

static void px_open(struct px *p)
{
    memset(p, 0, sizeof *p);
    struct loom_error err = {0};
    if (loom_model_open(ax_model_path(), &p->m, &err)) fail_msg("%s", err.message);
    p->lim = (struct serve_limits){
        .max_body = 1 << 20, .max_rows = 50, .max_photos = 4, .max_pixels = 1 << 20, .timeout = 5};
    assert_int_equal(serve_model_init(&p->sm, p->m, &p->lim, &err), LOOM_OK);
    assert_int_equal(loom_session_new(p->m, &p->s, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(p->m, &p->rows, &err), LOOM_OK);
    assert_int_equal(serve_rows_limits(p->rows, &p->lim, &err), LOOM_OK);
}

static void px_close(struct px *p)
{
    serve_scratch_done(&p->scratch);
    serve_model_done(&p->sm);
    loom_rows_free(&p->rows);
    loom_session_free(&p->s);
    loom_model_close(&p->m);
}

/* Parse body; its status, and the predicted price of row 0 in *price. */
static int px_parse(struct px *p, const char *body, double *price, size_t *warnings)
{
    json_t *w = NULL;
    struct serve_fail f = {0};
    int st = serve_parse_rows(&p->sm, &p->lim, p->rows, &p->scratch, body, strlen(body), &w, &f);
    if (st) return st;
    *warnings = json_array_size(w);
    json_decref(w);
    const loom_result *r;
    struct loom_error err = {0};
    assert_int_equal(loom_predict(p->s, p->rows, &r, &err), LOOM_OK);
    *price = loom_result_values(r, 0, NULL)[0];
    return 0;
}

LOOM_TEST(serve_parse_value_spellings_agree)
{
    struct px p;
    px_open(&p);
    double ref = 0, got = 0;
    size_t w = 0;
    assert_int_equal(px_parse(&p,
                              "{\"rows\": [{\"title\": \"vintage lamp\", \"year\": \"2014\", "
                              "\"tags\": \"local|pickup\", \"condition\": \"used\"}]}",
                              &ref, &w),
                     0);
    static const char *const same[] = {
        "{\"rows\": [{\"title\": \"vintage lamp\", \"year\": 2014, \"tags\": [\"local\", "
        "\"pickup\"], \"condition\": \"used\"}]}",
        "{\"rows\": [{\"condition\": \"used\", \"tags\": [\"local\", \"pickup\"], \"year\": "
        "2014.0, \"title\": \"vintage lamp\", \"posted\": null, \"id\": \"L7\"}]}",
        "{\"rows\": [{\"title\": \"vintage lamp\", \"year\": 2.014e3, \"tags\": \"local|pickup\", "
        "\"condition\": \"used\", \"photos\": []}]}",
    };
    for (size_t k = 0; k < sizeof same / sizeof *same; k++) {
        assert_int_equal(px_parse(&p, same[k], &got, &w), 0);
        assert_true(got == ref);
    }
    px_close(&p);
}

LOOM_TEST(serve_parse_base64_variants)
{
    struct px p;
    px_open(&p);
    char path[4096];
    snprintf(path, sizeof path, "%s/photos/n1_0.jpg", sv_model_dir());
    char *b = sv_base64_file(path);
    size_t n = strlen(b), w = 9;
    char *body = malloc(n + 256), *u = strdup(b);
    if (!body || !u) abort();
    double ref = 0, got = 0;
    sprintf(body, "{\"rows\": [{\"title\": \"x\", \"photos\": [\"%s\"]}]}", b);
    assert_int_equal(px_parse(&p, body, &ref, &w), 0);
    assert_int_equal(w, 0);
    /* no padding; URL-safe alphabet; a data: URI */
    while (u[strlen(u) - 1] == '=') u[strlen(u) - 1] = 0;
    for (char *c = u; *c; c++) *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    sprintf(body, "{\"rows\": [{\"title\": \"x\", \"photos\": [\"%s\"]}]}", u);
    assert_int_equal(px_parse(&p, body, &got, &w), 0);
    assert_true(got == ref && w == 0);
    sprintf(body, "{\"rows\": [{\"title\": \"x\", \"photos\": [\"data:image/jpeg;base64,%s\"]}]}",
            b);
    assert_int_equal(px_parse(&p, body, &got, &w), 0);
    assert_true(got == ref && w == 0);
    /* a blank, a bad padding, a lone character at the end: refused */
    static const char *const bad[] = {"aGVs bG8=", "aGVsbG8===", "aGVsbG8=a",
                                      "aGVsb",     "=",          "data:image/png,aGVsbG8="};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        sprintf(body, "{\"rows\": [{\"photos\": [\"%s\"]}]}", bad[k]);
        assert_int_equal(px_parse(&p, body, &got, &w), 400);
    }
    /* empty: a dropped photo */
    assert_int_equal(px_parse(&p, "{\"rows\": [{\"photos\": [\"\"]}]}", &got, &w), 0);
    assert_int_equal(w, 1);
    free(body), free(b), free(u);
    px_close(&p);
}

/* The fuzz target's seeds: no crash, and only the statuses a body can
 * earn (500 would be a bug: nothing here runs out of memory). */
LOOM_TEST(serve_parse_fuzz_corpus)
{
    const char *dir = getenv("LOOM_FUZZ_CORPUS");
    assert_non_null(dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct px p;
    px_open(&p);
    int files = 0, ok = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n = 0;
        char *body = ax_read_file(path, &n);
        json_t *w = NULL;
        struct serve_fail f = {0};
        int st = serve_parse_rows(&p.sm, &p.lim, p.rows, &p.scratch, body, n, &w, &f);
        if (st != 0 && st != 400 && st != 413) fail_msg("%s: status %d", e->d_name, st);
        if (st) assert_true(f.field[0] && f.error[0]);
        ok += st == 0;
        json_decref(w);
        free(body);
        files++;
    }
    closedir(d);
    printf("%d seeds: %d parsed, %d refused\n", files, ok, files - ok);
    assert_true(files >= 10 && ok >= 2);
    px_close(&p);
}
