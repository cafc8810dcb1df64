/*
 * test_abuse.c — every kind of bad request gets its 4xx with a JSON body
 * naming the problem and the field, the server keeps answering after each
 * (GET /health), and /metrics counts exactly those errors. The server runs
 * with small limits (64 KiB bodies, 5 rows, 3 photos) and an image root
 * holding a photo, a symlink that leads out of it and a FIFO.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"

struct bad {
    const char *name;
    const char *method, *path, *ctype; /* ctype NULL: none */
    const char *body;                  /* NULL: none */
    size_t len;                        /* 0: strlen(body) */
    int status;
    const char *field;
};

#define JSON   "application/json"
#define ROW(x) "{\"rows\": [" x "]}"

static const struct bad cases[] = {
    {"empty body", "POST", "/predict", JSON, "", 0, 400, "body"},
    {"bad JSON", "POST", "/predict", JSON, "{\"rows\": [", 0, 400, "body"},
    {"trailing garbage", "POST", "/predict", JSON, "{\"rows\": []} x", 0, 400, "body"},
    {"top level array", "POST", "/predict", JSON, "[{\"title\": \"a\"}]", 0, 400, "body"},
    {"top level string", "POST", "/embed", JSON, "\"rows\"", 0, 400, "body"},
    {"missing rows", "POST", "/predict", JSON, "{}", 0, 400, "rows"},
    {"unknown top key", "POST", "/predict", JSON, "{\"rows\": [], \"extra\": 1}", 0, 400, "extra"},
    {"rows not a list", "POST", "/predict", JSON, "{\"rows\": {\"title\": \"a\"}}", 0, 400, "rows"},
    {"row not an object", "POST", "/predict", JSON, ROW("{}, [1, 2]"), 0, 400, "rows[1]"},
    {"unknown column", "POST", "/predict", JSON, ROW("{\"colour\": \"red\"}"), 0, 400,
     "rows[0].colour"},
    {"output column", "POST", "/predict", JSON, ROW("{}, {}, {\"price\": 10}"), 0, 400,
     "rows[2].price"},
    {"boolean for a number", "POST", "/predict", JSON, ROW("{\"year\": true}"), 0, 400,
     "rows[0].year"},
    {"abc for a number", "POST", "/predict", JSON, ROW("{\"year\": \"abc\"}"), 0, 400,
     "rows[0].year"},
    {"number for text", "POST", "/predict", JSON, ROW("{\"title\": 12}"), 0, 400, "rows[0].title"},
    {"object for a category", "POST", "/predict", JSON, ROW("{\"condition\": {}}"), 0, 400,
     "rows[0].condition"},
    {"bad date", "POST", "/predict", JSON, ROW("{\"posted\": \"2021-13-45\"}"), 0, 400,
     "rows[0].posted"},
    {"set element not a string", "POST", "/predict", JSON, ROW("{\"tags\": [\"local\", 3]}"), 0,
     400, "rows[0].tags[1]"},
    {"photos not an array", "POST", "/predict", JSON, ROW("{\"photos\": \"aGVsbG8=\"}"), 0, 400,
     "rows[0].photos"},
    {"base64 garbage", "POST", "/predict", JSON, ROW("{\"photos\": [\"aGVsbG8=\", \"%%%%\"]}"), 0,
     400, "rows[0].photos[1]"},
    {"base64 bad padding", "POST", "/predict", JSON, ROW("{\"photos\": [\"aGVsbG8==\"]}"), 0, 400,
     "rows[0].photos[0]"},
    {"photo a number", "POST", "/predict", JSON, ROW("{\"photos\": [12]}"), 0, 400,
     "rows[0].photos[0]"},
    {"photo object without path", "POST", "/predict", JSON, ROW("{\"photos\": [{\"url\": \"x\"}]}"),
     0, 400, "rows[0].photos[0]"},
    {"path with ..", "POST", "/predict", JSON,
     ROW("{\"photos\": [{\"path\": \"../../etc/passwd\"}]}"), 0, 400, "rows[0].photos[0]"},
    {"absolute path", "POST", "/predict", JSON, ROW("{\"photos\": [{\"path\": \"/etc/passwd\"}]}"),
     0, 400, "rows[0].photos[0]"},
    {"symlink out of the root", "POST", "/predict", JSON,
     ROW("{\"photos\": [{\"path\": \"ok.jpg\"}, {\"path\": \"escape.jpg\"}]}"), 0, 400,
     "rows[0].photos[1]"},
    {"too many rows", "POST", "/predict", JSON, ROW("{}, {}, {}, {}, {}, {}"), 0, 413, "rows"},
    {"too many photos", "POST", "/predict", JSON,
     ROW("{\"photos\": [\"aGVsbG8=\", \"aGVsbG8=\", \"aGVsbG8=\", \"aGVsbG8=\"]}"), 0, 413,
     "rows[0].photos"},
    {"wrong method on predict", "GET", "/predict", NULL, NULL, 0, 405, "method"},
    {"wrong method on health", "POST", "/health", JSON, "{}", 0, 405, "method"},
    {"unknown path", "GET", "/admin", NULL, NULL, 0, 404, "path"},
    {"wrong content type", "POST", "/predict", "text/plain", ROW(""), 0, 415, "Content-Type"},
    {"no content type", "POST", "/embed", NULL, ROW(""), 0, 415, "Content-Type"},
    {"unknown query parameter", "POST", "/predict?debug=1", JSON, ROW(""), 0, 400, "?debug"},
    {"duplicate keys", "POST", "/predict", JSON, ROW("{\"title\": \"a\", \"title\": \"b\"}"), 0,
     400, "body"},
    {"escaped NUL in a string", "POST", "/predict", JSON, ROW("{\"title\": \"a\\u0000b\"}"), 0, 400,
     "body"},
    {"raw NUL byte", "POST", "/predict", JSON, "{\"rows\": [{\"title\": \"a\0b\"}]}", 28, 400,
     "body"},
    {"invalid UTF-8", "POST", "/predict", JSON, ROW("{\"title\": \"caf\xe9\"}"), 0, 400, "body"},
    {"number overflow", "POST", "/predict", JSON, ROW("{\"year\": 1e999}"), 0, 400, "body"},
};

/* The image root: ok.jpg (a real photo), escape.jpg -> a photo outside
 * it, fifo.jpg (a FIFO: must not block a worker). */
static void make_root(char *root)
{
    assert_non_null(mkdtemp(root));
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cp %s/photos/n1_0.jpg %s/ok.jpg && ln -s %s/photos/n1_1.jpg %s/escape.jpg && "
             "mkfifo %s/fifo.jpg",
             sv_model_dir(), root, sv_model_dir(), root, root);
    assert_int_equal(system(cmd), 0);
}

static void health(int port)
{
    struct sv_reply r;
    sv_request(port, "GET", "/health", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    sv_reply_done(&r);
}

static void check(const char *name, const struct sv_reply *r, int status, const char *field)
{
    if (r->status != status)
        fail_msg("%s: status %d, not %d (%.300s)", name, r->status, status, r->body);
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    if (!j) fail_msg("%s: not JSON: %.300s", name, r->body);
    const char *f = json_string_value(json_object_get(j, "field"));
    const char *e = json_string_value(json_object_get(j, "error"));
    if (!f || !e || strcmp(f, field) != 0 || !*e)
        fail_msg("%s: field '%s', not '%s' (%.300s)", name, f ? f : "(none)", field, r->body);
    printf("  %-28s %d %-20s %s\n", name, status, field, e);
    json_decref(j);
}

LOOM_TEST(serve_bad_requests_get_4xx_and_the_server_goes_on)
{
    char root[] = "/tmp/loom-serve-root-XXXXXX", args[256];
    make_root(root);
    snprintf(args, sizeof args,
             "--max-body 64K --max-rows 5 --max-photos 3 --timeout 5 --image-root %s", root);
    struct sv_server sv;
    sv_start(&sv, args);
    int errors[600] = {0}, healths = 0;
    size_t ncases = sizeof cases / sizeof *cases;
    for (size_t k = 0; k < ncases; k++) {
        const struct bad *c = &cases[k];
        struct sv_reply r;
        sv_request(sv.port, c->method, c->path, c->ctype, c->body,
                   c->len    ? c->len
                   : c->body ? strlen(c->body)
                             : 0,
                   &r);
        check(c->name, &r, c->status, c->field);
        if (c->status == 405) {
            const char *allow = strstr(r.head, "Allow: ");
            assert_non_null(allow);
            assert_true(!strncmp(allow + 7, strcmp(c->path, "/health") ? "POST" : "GET, HEAD", 4));
        }
        sv_reply_done(&r);
        errors[c->status]++;
        health(sv.port), healths++;
    }

    /* a body over 64 KiB: declared (refused before it is read) ... */
    size_t big = 100000;
    char *body = malloc(big + 64);
    memset(body, ' ', big);
    memcpy(body, "{\"rows\": [", 10);
    memcpy(body + big - 2, "]}", 2);
    struct sv_reply r;
    sv_request(sv.port, "POST", "/predict", JSON, body, big, &r);
    check("body over the limit", &r, 413, "body");
    sv_reply_done(&r);
    /* ... and chunked (counted as it streams, discarded past the limit) */
    int fd = sv_connect(sv.port);
    static const char head[] = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               "application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_true(sv_send(fd, head, sizeof head - 1));
    for (int k = 0; k < 5; k++) {
        char size[16];
        int n = snprintf(size, sizeof size, "%x\r\n", (unsigned)(big / 5));
        sv_send(fd, size, (size_t)n);
        sv_send(fd, body + k * (big / 5), big / 5);
        sv_send(fd, "\r\n", 2);
    }
    sv_send(fd, "0\r\n\r\n", 5);
    sv_read_reply(fd, &r);
    close(fd);
    check("chunked body over the limit", &r, 413, "body");
    sv_reply_done(&r);
    errors[413] += 2;
    health(sv.port), healths += 1;

    /* nesting bomb: 30,000 '[' (under the body limit) */
    memset(body, '[', 30000);
    sv_request(sv.port, "POST", "/predict", JSON, body, 30000, &r);
    check("nesting bomb", &r, 400, "body");
    sv_reply_done(&r);
    /* many tiny values in one row: more than 5 rows could hold */
    size_t n = (size_t)sprintf(body, "{\"rows\": [{\"tags\": [\"a\"");
    while (n < 60000) n += (size_t)sprintf(body + n, ",\"a\"");
    n += (size_t)sprintf(body + n, "]}]}");
    sv_request(sv.port, "POST", "/predict", JSON, body, n, &r);
    check("value bomb", &r, 413, "rows");
    sv_reply_done(&r);
    errors[400]++, errors[413]++;
    free(body);
    health(sv.port), healths++;

    /* a FIFO under the root is a dropped photo, not a hung worker; a good
     * request still scores */
    int status = 0;
    json_t *j = sv_post(sv.port, "/predict",
                        ROW("{\"title\": \"lamp\", \"photos\": [{\"path\": \"fifo.jpg\"}, "
                            "{\"path\": \"ok.jpg\"}, {\"path\": \"none.jpg\"}]}"),
                        &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_array_size(json_object_get(j, "warnings")), 2);
    json_decref(j);

    /* what /metrics counted: exactly these */
    sv_request(sv.port, "GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    int kinds = 0;
    for (int code = 400; code < 600; code++) {
        if (!errors[code]) continue;
        char want[96];
        snprintf(want, sizeof want, "loom_http_errors_total{code=\"%d\"} %d\n", code, errors[code]);
        if (!strstr(r.body, want)) fail_msg("no '%s' in\n%s", want, r.body);
        kinds += errors[code];
    }
    char want[96];
    snprintf(want, sizeof want, "loom_http_requests_total{endpoint=\"/health\",code=\"200\"} %d\n",
             healths);
    assert_non_null(strstr(r.body, want));
    assert_null(strstr(r.body, "code=\"500\"} 1"));
    sv_reply_done(&r);
    printf("%d bad requests of %d kinds, each answered 4xx\n", kinds, kinds);
    assert_true(kinds >= 20);

    /* photos by path without --image-root: refused */
    struct sv_server plain;
    sv_start(&plain, "--quiet");
    sv_request(plain.port, "POST", "/predict", JSON, ROW("{\"photos\": [{\"path\": \"a.jpg\"}]}"),
               strlen(ROW("{\"photos\": [{\"path\": \"a.jpg\"}]}")), &r);
    check("path without --image-root", &r, 400, "rows[0].photos[0]");
    sv_reply_done(&r);
    assert_int_equal(sv_stop(&plain), 0);

    assert_int_equal(sv_stop(&sv), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}
