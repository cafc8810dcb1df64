/*
 * test_serve.c — `loom serve` as a backend calls it: the same numbers as
 * the library (and as `loom predict`) for the same rows, photos by path
 * and by base64 alike; dropped photos reported; GET /health, /schema,
 * /metrics; the deadline; SIGTERM drains. The bad requests are in
 * test_abuse.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fixtures.h"
#include "tests/api/fixtures.h"

/* Row r of the listings CSV as a JSON row: year as a number, empty fields
 * as null, tags as a string or an array, photos by path or as base64. */
static json_t *row_json(const struct ax_csv *t, int64_t r, bool base64, bool tag_array)
{
    json_t *o = json_object();
    static const char *const text[] = {"title", "condition", "posted"};
    for (int k = 0; k < 3; k++) {
        const char *v = t->rows[r][ax_csv_col(t, text[k])];
        json_object_set_new(o, text[k], *v ? json_string(v) : json_null());
    }
    const char *year = t->rows[r][ax_csv_col(t, "year")];
    json_object_set_new(o, "year", *year ? json_real(strtod(year, NULL)) : json_null());
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", t->rows[r][ax_csv_col(t, "tags")]);
    if (tag_array) {
        json_t *a = json_array();
        char *save = NULL;
        for (char *p = strtok_r(buf, "|", &save); p; p = strtok_r(NULL, "|", &save))
            json_array_append_new(a, json_string(p));
        json_object_set_new(o, "tags", a);
    } else {
        json_object_set_new(o, "tags", json_string(buf));
    }
    json_t *ph = json_array();
    snprintf(buf, sizeof buf, "%s", t->rows[r][ax_csv_col(t, "photos")]);
    char *save = NULL;
    for (char *p = strtok_r(buf, "|", &save); p; p = strtok_r(NULL, "|", &save)) {
        if (base64) {
            char path[4096];
            snprintf(path, sizeof path, "%s/photos/%s", sv_model_dir(), p);
            char *b = sv_base64_file(path);
            json_array_append_new(ph, json_string(b));
            free(b);
        } else {
            json_array_append_new(ph, json_pack("{s:s}", "path", p));
        }
    }
    json_object_set_new(o, "photos", ph);
    return o;
}

static json_t *post_rows(int port, const char *path, json_t *rows, int *status)
{
    json_t *body = json_pack("{s:o}", "rows", rows);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *j = sv_post(port, path, text, status);
    free(text);
    return j;
}

/* The server's row against the library's result row i: every output. */
static void same_outputs(loom_model *m, const loom_result *res, int64_t i, const json_t *row)
{
    for (int j = 0; j < loom_model_output_count(m); j++) {
        struct loom_output_info out;
        assert_int_equal(loom_model_output(m, j, &out), LOOM_OK);
        int w = 0;
        const double *v = loom_result_values(res, j, &w) + i * w;
        const json_t *o = json_object_get(row, out.name);
        assert_non_null(o);
        if (out.type == LOOM_TYPE_NUMBER) {
            if (json_real_value(o) != v[0])
                fail_msg("row %lld, %s: server %.17g, library %.17g", (long long)i, out.name,
                         json_real_value(o), v[0]);
        } else if (out.type == LOOM_TYPE_BINARY) {
            assert_true(json_real_value(json_object_get(o, "probability")) == v[0]);
            assert_int_equal(json_integer_value(json_object_get(o, "label")),
                             loom_result_label(res, j, i));
        } else if (out.type == LOOM_TYPE_CATEGORY || out.type == LOOM_TYPE_SET) {
            const json_t *p = json_object_get(o, "probabilities");
            assert_int_equal(json_object_size(p), w);
            for (int k = 0; k < w; k++) {
                const char *label = loom_model_output_label(m, j, k, NULL);
                assert_true(json_real_value(json_object_get(p, label)) == v[k]);
            }
            if (out.type == LOOM_TYPE_CATEGORY)
                assert_string_equal(
                    json_string_value(json_object_get(o, "label")),
                    loom_model_output_label(m, j, loom_result_label(res, j, i), NULL));
        } else {
            assert_int_equal(json_array_size(o), w);
            for (int k = 0; k < w; k++) assert_true(json_real_value(json_array_get(o, k)) == v[k]);
        }
    }
}

static loom_model *open_model(void)
{
    loom_model *m = NULL;
    struct loom_error err = {0};
    if (loom_model_open(ax_model_path(), &m, &err)) fail_msg("%s", err.message);
    return m;
}

/* `loom predict` on the same CSV, when the CLI has it: its price (9
 * digits) and kind for each row. */
static bool cli_predict(int64_t n, double *price, char (*kind)[16])
{
    char cmd[8192], out[256];
    snprintf(out, sizeof out, "/tmp/loom-serve-cli-%d.csv", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s predict --help >/dev/null 2>&1", sv_bin());
    if (system(cmd) != 0) {
        printf("(no `loom predict` in this CLI: compared with the library only)\n");
        return false;
    }
    snprintf(cmd, sizeof cmd,
             "%s predict %s/model.loom --data %s/listings.csv --images %s/photos --quiet "
             "--out %s",
             sv_bin(), sv_model_dir(), sv_model_dir(), sv_model_dir(), out);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, f));
    assert_true(strncmp(line, "id,price,kind,", 14) == 0);
    for (int64_t i = 0; i < n; i++) {
        assert_non_null(fgets(line, sizeof line, f));
        char *p = strchr(line, ',');
        assert_non_null(p);
        price[i] = strtod(p + 1, &p);
        assert_true(sscanf(p, ",%15[^,]", kind[i]) == 1);
    }
    fclose(f);
    unlink(out);
    return true;
}

LOOM_TEST(serve_predictions_match_library_and_cli)
{
    struct ax_csv t;
    ax_csv_read(&t, "listings.csv");
    loom_model *m = open_model();
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    struct loom_error err = {0};
    assert_int_equal(loom_session_new(m, &s, &err), LOOM_OK);
    assert_int_equal(loom_rows_new(m, &rows, &err), LOOM_OK);
    loom_session_set_threads(s, 1); /* as the server's: the same sums in the same order */
    for (int64_t r = 0; r < t.n; r++) ax_add_row(rows, &t, r);
    const loom_result *res = NULL;
    assert_int_equal(loom_predict(s, rows, &res, &err), LOOM_OK);

    struct sv_server sv;
    char args[4200];
    snprintf(args, sizeof args, "--quiet --image-root %s/photos", sv_model_dir());
    sv_start(&sv, args);
    /* every row in one request, photos by path */
    json_t *list = json_array();
    for (int64_t r = 0; r < t.n; r++) json_array_append_new(list, row_json(&t, r, false, r % 2));
    int status = 0;
    json_t *got = post_rows(sv.port, "/predict", list, &status);
    assert_int_equal(status, 200);
    const json_t *out = json_object_get(got, "rows");
    assert_int_equal(json_array_size(out), t.n);
    assert_null(json_object_get(got, "warnings"));
    for (int64_t r = 0; r < t.n; r++) same_outputs(m, res, r, json_array_get(out, (size_t)r));
    /* the first rows in requests of 7, photos as base64: the same as the
     * library's for the same 7 (the last bits of a row's numbers depend on
     * the batch's size: GEMM blocking) */
    loom_rows *seven = NULL;
    assert_int_equal(loom_rows_new(m, &seven, &err), LOOM_OK);
    loom_session *s7 = NULL;
    assert_int_equal(loom_session_new(m, &s7, &err), LOOM_OK);
    for (int64_t r0 = 0; r0 < 42; r0 += 7) {
        list = json_array();
        loom_rows_clear(seven);
        for (int64_t r = r0; r < r0 + 7; r++) {
            json_array_append_new(list, row_json(&t, r, true, 0));
            ax_add_row(seven, &t, r);
        }
        const loom_result *res7 = NULL;
        assert_int_equal(loom_predict(s7, seven, &res7, &err), LOOM_OK);
        json_t *part = post_rows(sv.port, "/predict", list, &status);
        assert_int_equal(status, 200);
        for (int64_t r = 0; r < 7; r++)
            same_outputs(m, res7, r, json_array_get(json_object_get(part, "rows"), (size_t)r));
        json_decref(part);
    }
    loom_rows_free(&seven);
    loom_session_free(&s7);
    /* the CLI: 9 digits, and batches of its own */
    double price[200];
    char kind[200][16];
    int64_t n = t.n < 200 ? t.n : 200;
    if (cli_predict(n, price, kind)) {
        for (int64_t r = 0; r < n; r++) {
            const json_t *row = json_array_get(out, (size_t)r);
            double p = json_real_value(json_object_get(row, "price"));
            assert_near(price[r], p, 1e-6 * fabs(p));
            assert_string_equal(
                kind[r], json_string_value(json_object_get(json_object_get(row, "kind"), "label")));
        }
    }
    json_decref(got);

    /* /embed with attention, the same batch: the library's floats (9
     * digits are enough) */
    list = json_array();
    for (int64_t r = 0; r < t.n; r++) json_array_append_new(list, row_json(&t, r, false, 0));
    got = post_rows(sv.port, "/embed?attention=1", list, &status);
    assert_int_equal(status, 200);
    assert_int_equal(loom_embed(s, rows, &res, &err), LOOM_OK);
    int w = 0;
    const float *e = loom_result_embedding(res, &w);
    const json_t *emb = json_object_get(got, "embeddings"),
                 *att = json_object_get(got, "attention");
    assert_int_equal(json_array_size(emb), t.n);
    for (size_t r = 0; r < (size_t)t.n; r++) {
        const json_t *v = json_array_get(emb, r);
        assert_int_equal(json_array_size(v), w);
        for (int k = 0; k < w; k++)
            assert_true((float)json_real_value(json_array_get(v, (size_t)k)) ==
                        e[r * (size_t)w + k]);
        int na = 0;
        const float *a = loom_result_attention(res, (int64_t)r, "photos", &na);
        const json_t *ja = json_object_get(json_array_get(att, r), "photos");
        assert_int_equal(json_array_size(ja), na);
        for (int k = 0; k < na; k++)
            assert_true((float)json_real_value(json_array_get(ja, (size_t)k)) == a[k]);
    }
    json_decref(got);
    assert_int_equal(sv_stop(&sv), 0);
    loom_rows_free(&rows);
    loom_session_free(&s);
    loom_model_close(&m);
    ax_csv_done(&t);
}

/* A PNG whose header claims w x h pixels (and no pixel data). */
static size_t png_bomb(uint8_t *b, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(b, sig, 8);
    uint8_t ihdr[17] = {'I',
                        'H',
                        'D',
                        'R',
                        (uint8_t)(w >> 24),
                        (uint8_t)(w >> 16),
                        (uint8_t)(w >> 8),
                        (uint8_t)w,
                        (uint8_t)(h >> 24),
                        (uint8_t)(h >> 16),
                        (uint8_t)(h >> 8),
                        (uint8_t)h,
                        8,
                        2,
                        0,
                        0,
                        0};
    uint8_t *p = b + 8;
    *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 13;
    memcpy(p, ihdr, 17);
    p += 17;
    uint32_t crc = (uint32_t)crc32(0, ihdr, 17);
    *p++ = (uint8_t)(crc >> 24), *p++ = (uint8_t)(crc >> 16), *p++ = (uint8_t)(crc >> 8);
    *p++ = (uint8_t)crc;
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    memcpy(p, iend, 12);
    return (size_t)(p + 12 - b);
}

static char *base64(const uint8_t *b, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/loom-serve-b64-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(b, 1, n, f);
    fclose(f);
    char *s = sv_base64_file(path);
    unlink(path);
    return s;
}

/* Bad photos in a good row: dropped (as in training) and reported with
 * their field; the row scores as if it had only its good photo. */
LOOM_TEST(serve_bad_photos_are_dropped_and_reported)
{
    char path[4096], args[4200];
    snprintf(path, sizeof path, "%s/photos/n1_0.jpg", sv_model_dir());
    char *good = sv_base64_file(path);
    size_t n = 0;
    uint8_t *jpeg = ax_read_file(path, &n);
    char *truncated = base64(jpeg, 150);
    uint8_t bomb[64];
    char *bomb64 = base64(bomb, png_bomb(bomb, 16000, 16000)); /* 256 M pixels */
    char *text = base64((const uint8_t *)"just some text, not a photo", 27);
    struct sv_server sv;
    snprintf(args, sizeof args, "--quiet --image-root %s/photos", sv_model_dir());
    sv_start(&sv, args);
    char *body = malloc(strlen(good) * 3 + 4096);
    sprintf(body,
            "{\"rows\": [{\"title\": \"vintage bike\", \"photos\": [\"%s\", \"%s\", \"%s\", "
            "\"%s\", {\"path\": \"missing.jpg\"}]},"
            "{\"title\": \"vintage bike\", \"photos\": [\"%s\"]}]}",
            good, truncated, bomb64, text, good);
    int status = 0;
    json_t *got = sv_post(sv.port, "/predict", body, &status);
    assert_int_equal(status, 200);
    const json_t *w = json_object_get(got, "warnings");
    assert_int_equal(json_array_size(w), 4);
    static const char *const fields[] = {"rows[0].photos[1]", "rows[0].photos[2]",
                                         "rows[0].photos[3]", "rows[0].photos[4]"};
    for (size_t k = 0; k < 4; k++) {
        const json_t *x = json_array_get(w, k);
        assert_string_equal(json_string_value(json_object_get(x, "field")), fields[k]);
        printf("  %s: %s\n", fields[k], json_string_value(json_object_get(x, "error")));
    }
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(w, 1), "error")), "pixels exceed"));
    const json_t *rows = json_object_get(got, "rows");
    assert_true(json_real_value(json_object_get(json_array_get(rows, 0), "price")) ==
                json_real_value(json_object_get(json_array_get(rows, 1), "price")));
    json_decref(got);
    /* the metrics count them */
    struct sv_reply r;
    sv_request(sv.port, "GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\nloom_photos_dropped_total 4\n"));
    assert_non_null(strstr(r.body, "\nloom_rows_scored_total 2\n"));
    sv_reply_done(&r);
    assert_int_equal(sv_stop(&sv), 0);
    free(body), free(good), free(jpeg), free(truncated), free(bomb64), free(text);
}

LOOM_TEST(serve_health_schema_metrics)
{
    struct sv_server sv;
    sv_start(&sv, "--quiet --max-rows 7");
    struct sv_reply r;
    sv_request(sv.port, "GET", "/health", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}\n");
    sv_reply_done(&r);
    sv_request(sv.port, "HEAD", "/health", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    sv_reply_done(&r);

    sv_request(sv.port, "GET", "/schema", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *s = json_loadb(r.body, r.len, 0, NULL);
    assert_non_null(s);
    sv_reply_done(&r);
    loom_model *m = open_model();
    const json_t *in = json_object_get(s, "inputs"), *out = json_object_get(s, "outputs");
    assert_int_equal(json_array_size(in), loom_model_input_count(m));
    for (int i = 0; i < loom_model_input_count(m); i++) {
        struct loom_input_info info;
        assert_int_equal(loom_model_input(m, i, &info), LOOM_OK);
        const json_t *x = json_array_get(in, (size_t)i);
        assert_string_equal(json_string_value(json_object_get(x, "name")), info.name);
        assert_string_equal(json_string_value(json_object_get(x, "type")),
                            loom_type_name(info.type));
    }
    assert_int_equal(json_array_size(out), loom_model_output_count(m));
    const json_t *kind = json_array_get(out, 1);
    assert_string_equal(json_string_value(json_object_get(kind, "type")), "category");
    assert_int_equal(json_array_size(json_object_get(kind, "labels")), 4);
    assert_int_equal(json_integer_value(json_object_get(s, "embedding_width")),
                     loom_model_embedding_width(m));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "limits"), "max_rows")),
                     7);
    json_decref(s);
    loom_model_close(&m);

    int status = 0;
    json_decref(sv_post(sv.port, "/predict", "{\"rows\": [{\"title\": \"a\"}, {}]}", &status));
    assert_int_equal(status, 200);
    sv_request(sv.port, "GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "Content-Type: text/plain; version=0.0.4"));
    static const char *const want[] = {
        "# TYPE loom_http_requests_total counter\n",
        "loom_http_requests_total{endpoint=\"/health\",code=\"200\"} 2\n",
        "loom_http_requests_total{endpoint=\"/schema\",code=\"200\"} 1\n",
        "loom_http_requests_total{endpoint=\"/predict\",code=\"200\"} 1\n",
        "# TYPE loom_http_request_duration_seconds histogram\n",
        "loom_http_request_duration_seconds_bucket{endpoint=\"/predict\",le=\"+Inf\"} 1\n",
        "loom_http_request_duration_seconds_count{endpoint=\"/predict\"} 1\n",
        "loom_http_errors_total{code=\"400\"} 0\n",
        "loom_rows_scored_total 2\n",
        "loom_photos_dropped_total 0\n",
    };
    for (size_t k = 0; k < sizeof want / sizeof *want; k++)
        if (!strstr(r.body, want[k])) fail_msg("no '%s' in\n%s", want[k], r.body);
    sv_reply_done(&r);
    assert_int_equal(sv_stop(&sv), 0);
}

/* Keep-alive: several requests on one connection, answered in order. */
LOOM_TEST(serve_keep_alive)
{
    struct sv_server sv;
    sv_start(&sv, "--quiet");
    int fd = sv_connect(sv.port);
    assert_true(fd >= 0);
    static const char body[] = "{\"rows\": [{\"title\": \"vintage bike\"}]}";
    for (int k = 0; k < 5; k++) {
        char req[512];
        int n = k % 2 ? snprintf(req, sizeof req, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                      : snprintf(req, sizeof req,
                                 "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                 "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                                 sizeof body - 1, body);
        assert_true(sv_send(fd, req, (size_t)n));
        struct sv_reply r;
        sv_read_reply(fd, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, k % 2 ? "ok" : "\"price\""));
        sv_reply_done(&r);
    }
    close(fd);
    assert_int_equal(sv_stop(&sv), 0);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A body still arriving after the deadline gets 408 once it is in; one
 * still arriving at twice the deadline is cut off; a request whose
 * headers trickle past the deadline gets 408. The server goes on. */
LOOM_TEST(serve_deadline)
{
    struct sv_server sv;
    sv_start(&sv, "--timeout 1");
    static const char head[] = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               "application/json\r\nContent-Length: 12\r\n\r\n";
    int fd = sv_connect(sv.port);
    assert_true(sv_send(fd, head, sizeof head - 1));
    assert_true(sv_send(fd, "{\"ro", 4));
    sleep_ms(600);
    assert_true(sv_send(fd, "ws\"", 3));
    sleep_ms(600);
    assert_true(sv_send(fd, ": []}", 5));
    struct sv_reply r;
    sv_read_reply(fd, &r);
    assert_int_equal(r.status, 408);
    assert_non_null(strstr(r.body, "\"field\":\"body\""));
    sv_reply_done(&r);
    close(fd);

    fd = sv_connect(sv.port);
    assert_true(sv_send(fd, head, sizeof head - 1));
    bool closed = false;
    for (int k = 0; k < 11 && !closed; k++) { /* a byte every 0.3 s: past 2 s, cut off */
        sleep_ms(300);
        closed = !sv_send(fd, " ", 1);
    }
    sv_read_reply(fd, &r);
    assert_int_equal(r.status, 0);
    sv_reply_done(&r);
    close(fd);

    fd = sv_connect(sv.port);
    assert_true(sv_send(fd, "GET /health HTTP/1.1\r\n", 22));
    sleep_ms(700);
    assert_true(sv_send(fd, "Host: x\r\n", 9));
    sleep_ms(700);
    assert_true(sv_send(fd, "\r\n", 2));
    sv_read_reply(fd, &r);
    assert_int_equal(r.status, 408);
    sv_reply_done(&r);
    close(fd);

    sv_request(sv.port, "GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "loom_http_errors_total{code=\"408\"} 2\n"));
    assert_non_null(strstr(r.body, "loom_http_cut_off_total 1\n"));
    sv_reply_done(&r);
    assert_int_equal(sv_stop(&sv), 0);
}

/* SIGTERM: new connections are refused at once, the request in flight is
 * answered, then the server exits 0. */
LOOM_TEST(serve_sigterm_drains)
{
    struct sv_server sv;
    sv_start(&sv, "");
    static const char body[] = "{\"rows\": [{\"title\": \"vintage bike\", \"year\": 2015}]}";
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     sizeof body - 1);
    int fd = sv_connect(sv.port);
    assert_true(sv_send(fd, head, (size_t)n));
    assert_true(sv_send(fd, body, 10));
    sleep_ms(200);
    kill(sv.pid, SIGTERM);
    sleep_ms(300);
    int other = sv_connect(sv.port);
    assert_int_equal(other, -1); /* no longer listening */
    assert_true(sv_send(fd, body + 10, sizeof body - 11));
    struct sv_reply r;
    sv_read_reply(fd, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"price\""));
    assert_non_null(strstr(r.head, "Connection: close"));
    sv_reply_done(&r);
    close(fd);
    int st = 0;
    assert_int_equal(waitpid(sv.pid, &st, 0), sv.pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    sv.pid = 0;
}

/* The README's curl example, run as written against a test server (the
 * address replaced by the server's). */
LOOM_TEST(serve_readme_curl_example)
{
    if (system("curl --version >/dev/null 2>&1") != 0) {
        printf("curl is not installed: the README example is not run\n");
        skip();
    }
    const char *readme = getenv("LOOM_README");
    assert_non_null(readme);
    size_t n = 0;
    char *text = ax_read_file(readme, &n);
    const char *start = strstr(text, "<!-- serve-example");
    assert_non_null(start);
    start = strstr(start, "```sh\n");
    assert_non_null(start);
    start += 6;
    const char *end = strstr(start, "```");
    assert_non_null(end);
    /* the commands, with http://127.0.0.1:8080 made the server's address */
    struct sv_server sv;
    sv_start(&sv, "--quiet");
    char dir[] = "/tmp/loom-serve-readme-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[64], *script = malloc((size_t)(end - start) * 2 + 4096), *o = script;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", sv.port);
    o += sprintf(o, "set -e\ncd %s\ncp %s/photos/n1_0.jpg bike.jpg\n", dir, sv_model_dir());
    for (const char *p = start; p < end;) {
        const char *at = strstr(p, "http://127.0.0.1:8080");
        if (!at || at > end) at = end;
        memcpy(o, p, (size_t)(at - p));
        o += at - p;
        if (at == end) break;
        o += sprintf(o, "%s", url);
        p = at + strlen("http://127.0.0.1:8080");
    }
    *o = 0;
    char path[128], cmd[256];
    snprintf(path, sizeof path, "%s/example.sh", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "sh %s > %s/out.txt", path, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/out.txt", dir);
    char *out = ax_read_file(path, &n);
    printf("%s", out);
    /* each answer is one line of JSON: the /predict one has a price */
    assert_non_null(strstr(out, "{\"status\":\"ok\"}"));
    assert_non_null(strstr(out, "{\"rows\":[{\"price\":"));
    assert_non_null(strstr(out, "\"embeddings\":[["));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sv_stop(&sv), 0);
    free(out), free(script), free(text);
}
