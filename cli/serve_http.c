/*
 * serve_http.c — the HTTP side of `loom serve` on libmicrohttpd.
 *
 * Threads: a pool of --threads workers (MHD_OPTION_THREAD_POOL_SIZE), each
 * running its own event loop over its share of the connections, rather
 * than a thread per connection: scoring is CPU-bound, so more threads than
 * cores only add memory (a session's arena and primitive cache each) and
 * contention, and a fixed pool keeps the memory flat however many clients
 * connect. A worker makes its loom_session (one thread) and loom_rows on
 * its first request and keeps them; requests never share them.
 *
 * A request: the request line starts the clock (the URI log callback);
 * the first handler call routes it and checks method, Content-Type and a
 * declared Content-Length; body bytes are appended (never more than
 * --max-body, and past it discarded) and the last call answers. A
 * response cannot be queued while a body is still arriving
 * (libmicrohttpd 0.9.75), so a body that runs over a limit or past the
 * deadline is read to its end and discarded, and then answered 413 or
 * 408; one still arriving at twice the deadline is cut off (connection
 * closed). A silent connection is closed by the idle timeout.
 *
 * Draining: serve_stop quiesces the daemon (no new connections), answers
 * what is in flight with "Connection: close", and stops the daemon when
 * nothing is left in flight.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve.h"

enum endpoint { EP_PREDICT, EP_EMBED, EP_HEALTH, EP_SCHEMA, EP_METRICS, EP_OTHER, EP_COUNT };
static const char *const ep_path[EP_COUNT] = {"/predict", "/embed",   "/health",
                                              "/schema",  "/metrics", "other"};
static const int codes[] = {200, 400, 404, 405, 408, 413, 415, 500, 503};
enum { NCODES = sizeof codes / sizeof codes[0] };
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
enum { NBUCKETS = sizeof buckets / sizeof buckets[0] };

struct metrics {
    atomic_ullong requests[EP_COUNT][NCODES + 1]; /* last: any other code */
    atomic_ullong latency[EP_COUNT][NBUCKETS + 1];
    atomic_ullong latency_us[EP_COUNT];
    atomic_ullong rows, photos_dropped, cut_off;
};

struct worker {
    loom_session *s;
    loom_rows *rows;
    struct serve_scratch scratch;
    struct worker *next;
};

struct serve_daemon {
    struct MHD_Daemon *mhd;
    struct serve_model sm;
    struct serve_opts o;
    char root[PATH_MAX];
    pthread_mutex_t lock; /* the workers list */
    struct worker *workers;
    atomic_int inflight;
    atomic_bool draining;
    atomic_ullong body_bytes; /* bodies held by all connections */
    uint64_t body_budget;
    struct metrics mx;
};

struct request {
    struct serve_daemon *d;
    double t0;
    enum endpoint ep;
    bool started, attention;
    char *body;
    size_t len, cap;
    struct serve_fail fail; /* status != 0: answered with it once the body is in */
    char method[8];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- metrics ------------------------------------------------------------------------ */

static void count(struct serve_daemon *d, struct request *r, int status)
{
    int k = NCODES;
    for (int i = 0; i < NCODES; i++)
        if (codes[i] == status) k = i;
    atomic_fetch_add(&d->mx.requests[r->ep][k], 1);
    double dt = now() - r->t0;
    int b = 0;
    while (b < NBUCKETS && dt > buckets[b]) b++;
    atomic_fetch_add(&d->mx.latency[r->ep][b], 1);
    atomic_fetch_add(&d->mx.latency_us[r->ep], (unsigned long long)(dt * 1e6));
}

static char *metrics_text(struct serve_daemon *d, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    struct metrics *m = &d->mx;
    fprintf(f, "# HELP loom_http_requests_total Requests answered, by endpoint and status code.\n"
               "# TYPE loom_http_requests_total counter\n");
    unsigned long long errors[NCODES + 1] = {0};
    for (int e = 0; e < EP_COUNT; e++)
        for (int k = 0; k <= NCODES; k++) {
            unsigned long long n = atomic_load(&m->requests[e][k]);
            if (k < NCODES && codes[k] >= 400) errors[k] += n;
            if (k == NCODES) errors[k] += n;
            if (n || (k == 0 && e < EP_OTHER))
                fprintf(f, "loom_http_requests_total{endpoint=\"%s\",code=\"%s%d\"} %llu\n",
                        ep_path[e], k < NCODES ? "" : "other", k < NCODES ? codes[k] : 0, n);
        }
    fprintf(f, "# HELP loom_http_errors_total Requests answered with a 4xx or 5xx, by code.\n"
               "# TYPE loom_http_errors_total counter\n");
    for (int k = 0; k < NCODES; k++)
        if (codes[k] >= 400)
            fprintf(f, "loom_http_errors_total{code=\"%d\"} %llu\n", codes[k], errors[k]);
    fprintf(f, "# HELP loom_http_request_duration_seconds From the request line to the answer.\n"
               "# TYPE loom_http_request_duration_seconds histogram\n");
    for (int e = 0; e < EP_COUNT; e++) {
        unsigned long long cum = 0;
        for (int b = 0; b <= NBUCKETS; b++) {
            cum += atomic_load(&m->latency[e][b]);
            if (b < NBUCKETS)
                fprintf(f,
                        "loom_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} "
                        "%llu\n",
                        ep_path[e], buckets[b], cum);
            else
                fprintf(f,
                        "loom_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} "
                        "%llu\n",
                        ep_path[e], cum);
        }
        fprintf(f, "loom_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", ep_path[e],
                1e-6 * (double)atomic_load(&m->latency_us[e]));
        fprintf(f, "loom_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", ep_path[e],
                cum);
    }
    fprintf(f,
            "# HELP loom_rows_scored_total Rows scored by /predict and /embed.\n"
            "# TYPE loom_rows_scored_total counter\nloom_rows_scored_total %llu\n"
            "# HELP loom_photos_dropped_total Photos dropped (corrupt, too large, missing).\n"
            "# TYPE loom_photos_dropped_total counter\nloom_photos_dropped_total %llu\n"
            "# HELP loom_http_cut_off_total Connections closed for a body still arriving at "
            "twice the deadline.\n"
            "# TYPE loom_http_cut_off_total counter\nloom_http_cut_off_total %llu\n"
            "# HELP loom_http_in_flight Requests being read or answered.\n"
            "# TYPE loom_http_in_flight gauge\nloom_http_in_flight %d\n",
            atomic_load(&m->rows), atomic_load(&m->photos_dropped), atomic_load(&m->cut_off),
            atomic_load(&d->inflight));
    return fclose(f) == 0 ? buf : (free(buf), NULL);
}

/* ---- answers ------------------------------------------------------------------------ */

static enum MHD_Result send_bytes(struct MHD_Connection *c, struct request *r, int status,
                                  char *bytes, size_t len, const char *type, const char *allow)
{
    struct serve_daemon *d = r->d;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, bytes, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(bytes);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (atomic_load(&d->draining)) MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    count(d, r, status);
    if (!d->o.quiet) {
        double ms = 1e3 * (now() - r->t0);
        if (status >= 400 && r->fail.status)
            fprintf(stderr, "%s %s %d %.2f ms %s: %s\n", r->method, ep_path[r->ep], status, ms,
                    r->fail.field, r->fail.error);
        else
            fprintf(stderr, "%s %s %d %.2f ms\n", r->method, ep_path[r->ep], status, ms);
    }
    return ret;
}

/* JSON body j (consumed), one line. */
static enum MHD_Result send_json(struct MHD_Connection *c, struct request *r, int status, json_t *j,
                                 size_t flags, const char *allow)
{
    size_t n = j ? json_dumpb(j, NULL, 0, flags) : 0;
    char *text = n ? malloc(n + 1) : NULL;
    if (text && json_dumpb(j, text, n, flags) == n) {
        text[n] = '\n';
    } else {
        free(text);
        static const char oom[] = "{\"error\":\"out of memory\",\"field\":\"\"}\n";
        text = strdup(oom), n = sizeof oom - 2, status = 500;
        if (!text) {
            json_decref(j);
            return MHD_NO;
        }
    }
    json_decref(j);
    return send_bytes(c, r, status, text, n + 1, "application/json", allow);
}

static enum MHD_Result send_fail(struct MHD_Connection *c, struct request *r, const char *allow)
{
    return send_json(c, r, r->fail.status, serve_fail_json(&r->fail), JSON_COMPACT, allow);
}

/* The Allow header of a 405. */
static const char *allow_of(const struct request *r)
{
    if (r->fail.status != 405) return NULL;
    return r->ep == EP_PREDICT || r->ep == EP_EMBED ? "POST" : "GET, HEAD";
}

static enum MHD_Result fail_now(struct MHD_Connection *c, struct request *r, int status,
                                const char *field, const char *msg, const char *allow)
{
    serve_fail_set(&r->fail, status, field, "%s", msg);
    return send_fail(c, r, allow);
}

/* ---- workers ------------------------------------------------------------------------ */

static _Thread_local struct worker *this_worker;

static struct worker *worker(struct serve_daemon *d, struct serve_fail *f)
{
    if (this_worker) return this_worker;
    struct worker *w = calloc(1, sizeof *w);
    struct loom_error e = {0};
    if (!w || loom_session_new(d->sm.m, &w->s, &e) || loom_rows_new(d->sm.m, &w->rows, &e) ||
        serve_rows_limits(w->rows, &d->o.lim, &e)) {
        if (w) loom_rows_free(&w->rows), loom_session_free(&w->s);
        free(w);
        serve_fail_set(f, 500, "", "cannot make a session: %s", e.message);
        return NULL;
    }
    loom_session_set_threads(w->s, 1);
    pthread_mutex_lock(&d->lock);
    w->next = d->workers, d->workers = w;
    pthread_mutex_unlock(&d->lock);
    return this_worker = w;
}

/* ---- requests ----------------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct serve_daemon *d = cls;
    struct request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->d = d;
    r->t0 = now();
    r->ep = EP_OTHER;
    atomic_fetch_add(&d->inflight, 1);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    struct serve_daemon *d = cls;
    struct request *r = *con_cls;
    if (!r) return;
    if (r->body) atomic_fetch_sub(&d->body_bytes, r->cap);
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&d->inflight, 1);
}

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct request *r = cls;
    if (r->fail.status) return MHD_NO;
    if (!strcmp(key, "attention")) {
        if (!value || !strcmp(value, "1") || !strcmp(value, "true"))
            r->attention = true;
        else if (!strcmp(value, "0") || !strcmp(value, "false"))
            r->attention = false;
        else
            serve_fail_set(&r->fail, 400, "?attention", "attention is 1, true, 0 or false");
        return MHD_YES;
    }
    char shown[64];
    snprintf(shown, sizeof shown, "?%.40s", key);
    serve_fail_set(&r->fail, 400, shown, "unknown query parameter '%.40s' (only attention)", key);
    return MHD_NO;
}

/* application/json, any case, parameters (charset) allowed. */
static bool is_json(const char *type)
{
    if (!type) return false;
    while (*type == ' ') type++;
    size_t n = strlen("application/json");
    return !strncasecmp(type, "application/json", n) &&
           (type[n] == 0 || type[n] == ';' || type[n] == ' ');
}

static enum MHD_Result answer_get(struct MHD_Connection *c, struct request *r)
{
    struct serve_daemon *d = r->d;
    if (r->ep == EP_HEALTH)
        return send_json(c, r, 200, json_pack("{s:s}", "status", "ok"), JSON_COMPACT, NULL);
    if (r->ep == EP_SCHEMA)
        return send_json(c, r, 200, serve_schema_json(&d->sm, &d->o.lim), JSON_INDENT(2), NULL);
    size_t n = 0;
    char *text = metrics_text(d, &n);
    if (!text) return fail_now(c, r, 500, "", "out of memory", NULL);
    return send_bytes(c, r, 200, text, n, "text/plain; version=0.0.4; charset=utf-8", NULL);
}

/* Route the request and check what its headers say; a failure goes to
 * r->fail. */
static void check_headers(struct MHD_Connection *c, struct request *r, const char *url,
                          const char *method, unsigned long long length)
{
    struct serve_daemon *d = r->d;
    for (int e = 0; e < EP_OTHER; e++)
        if (!strcmp(url, ep_path[e])) r->ep = (enum endpoint)e;
    if (r->ep == EP_OTHER) {
        serve_fail_set(&r->fail, 404, "path",
                       "no such endpoint (/predict, /embed, /health, /schema, /metrics)");
        return;
    }
    bool post = r->ep == EP_PREDICT || r->ep == EP_EMBED;
    if (post ? strcmp(method, "POST") != 0 : strcmp(method, "GET") && strcmp(method, "HEAD")) {
        serve_fail_set(&r->fail, 405, "method", "%s takes %s, not %.10s", ep_path[r->ep],
                       post ? "POST" : "GET", method);
        return;
    }
    if (now() - r->t0 > d->o.lim.timeout) {
        serve_fail_set(&r->fail, 408, "body", "the request took longer than the timeout");
        return;
    }
    if (!post) return;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_arg, r);
    if (r->fail.status) return;
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!is_json(type))
        serve_fail_set(&r->fail, 415, "Content-Type",
                       type ? "send Content-Type: application/json"
                            : "no Content-Type: send Content-Type: application/json");
    else if (length > d->o.lim.max_body)
        serve_fail_set(&r->fail, 413, "body", "a body of %llu bytes, over the limit of %llu",
                       length, (unsigned long long)d->o.lim.max_body);
}

/* The headers are in. A failure is answered with the last call like any
 * answer (a body is read and discarded: the connection stays open, and the
 * client is not reset while still sending), except a declared body over
 * the limit: answered at once, the body never read, the connection closed. */
static enum MHD_Result first_call(struct MHD_Connection *c, struct request *r, const char *url,
                                  const char *method)
{
    snprintf(r->method, sizeof r->method, "%s", method);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    bool body = cl && strcmp(cl, "0") != 0;
    check_headers(c, r, url, method, cl ? strtoull(cl, NULL, 10) : 0);
    if (r->fail.status == 413 && body) return send_fail(c, r, NULL);
    return MHD_YES;
}

/* Body bytes: kept up to the limit, else discarded with the failure noted.
 * MHD_NO (close the connection) for a body still arriving at twice the
 * deadline. */
static enum MHD_Result body_data(struct request *r, const char *data, size_t n)
{
    struct serve_daemon *d = r->d;
    double late = now() - r->t0 - d->o.lim.timeout;
    if (late > d->o.lim.timeout) {
        atomic_fetch_add(&d->mx.cut_off, 1);
        return MHD_NO;
    }
    if (r->fail.status) return MHD_YES;
    if (late > 0) {
        serve_fail_set(&r->fail, 408, "body", "the body took longer than the timeout (%g s)",
                       d->o.lim.timeout);
        return MHD_YES;
    }
    if (n > d->o.lim.max_body - r->len) {
        serve_fail_set(&r->fail, 413, "body", "a body over the limit of %llu bytes",
                       (unsigned long long)d->o.lim.max_body);
        return MHD_YES;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 16384;
        while (cap < r->len + n) cap *= 2;
        if (cap > d->o.lim.max_body) cap = d->o.lim.max_body;
        unsigned long long held = atomic_fetch_add(&d->body_bytes, cap - r->cap);
        char *b = held + cap - r->cap <= d->body_budget ? realloc(r->body, cap) : NULL;
        if (!b) {
            atomic_fetch_sub(&d->body_bytes, cap - r->cap);
            serve_fail_set(&r->fail, 503, "body", "the server holds too many bodies; retry");
            return MHD_YES;
        }
        r->body = b, r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return MHD_YES;
}

static enum MHD_Result answer_post(struct MHD_Connection *c, struct request *r)
{
    struct serve_daemon *d = r->d;
    if (now() - r->t0 > d->o.lim.timeout)
        return fail_now(c, r, 408, "body", "the request took longer than the timeout", NULL);
    struct worker *w = worker(d, &r->fail);
    if (!w) return send_fail(c, r, NULL);
    json_t *warnings = NULL;
    if (serve_parse_rows(&d->sm, &d->o.lim, w->rows, &w->scratch, r->body, r->len, &warnings,
                         &r->fail))
        return send_fail(c, r, NULL);
    const loom_result *res;
    struct loom_error e = {0};
    enum loom_status st = r->ep == EP_PREDICT ? loom_predict(w->s, w->rows, &res, &e)
                                              : loom_embed(w->s, w->rows, &res, &e);
    if (st) {
        json_decref(warnings);
        serve_fail_set(&r->fail, 500, "", "scoring failed: %s: %s", loom_strerror(st), e.message);
        return send_fail(c, r, NULL);
    }
    atomic_fetch_add(&d->mx.rows, (unsigned long long)loom_result_rows(res));
    atomic_fetch_add(&d->mx.photos_dropped, json_array_size(warnings));
    json_t *out = r->ep == EP_PREDICT ? serve_predict_json(&d->sm, res)
                                      : serve_embed_json(&d->sm, res, r->attention);
    if (out && json_array_size(warnings)) json_object_set(out, "warnings", warnings);
    json_decref(warnings);
    /* floats need 9 digits to come back the same; doubles 17 (the default) */
    return send_json(c, r, 200, out,
                     JSON_COMPACT | (r->ep == EP_EMBED ? JSON_REAL_PRECISION(9) : 0), NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct request *r = *con_cls;
    if (!r) return MHD_NO; /* out of memory at the request line */
    if (!r->started) {
        r->started = true;
        return first_call(c, r, url, method);
    }
    if (*upload_size) {
        enum MHD_Result ret = body_data(r, upload, *upload_size);
        *upload_size = 0;
        return ret;
    }
    if (r->fail.status) return send_fail(c, r, allow_of(r));
    if (r->ep == EP_PREDICT || r->ep == EP_EMBED) return answer_post(c, r);
    return answer_get(c, r);
}

/* ---- the daemon --------------------------------------------------------------------- */

static void free_daemon(struct serve_daemon *d)
{
    for (struct worker *w = d->workers, *next; w; w = next) {
        next = w->next;
        loom_rows_free(&w->rows);
        loom_session_free(&w->s);
        serve_scratch_done(&w->scratch);
        free(w);
    }
    serve_model_done(&d->sm);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

enum loom_status serve_start(const loom_model *m, const struct serve_opts *o,
                             struct serve_daemon **out, int *port, struct loom_error *err)
{
    struct serve_daemon *d = calloc(1, sizeof *d);
    if (!d) return err->code = LOOM_ERR_NOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->o = *o;
    if (o->lim.image_root) {
        if (!realpath(o->lim.image_root, d->root)) {
            snprintf(err->message, sizeof err->message, "--image-root %s: %m", o->lim.image_root);
            free_daemon(d);
            return err->code = LOOM_ERR_IO;
        }
        d->o.lim.image_root = d->root;
    }
    d->body_budget = d->o.lim.max_body * 8 > (64u << 20) ? d->o.lim.max_body * 8 : (64u << 20);
    enum loom_status st = serve_model_init(&d->sm, m, &d->o.lim, err);
    if (st) {
        free(d);
        return st;
    }
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)o->port)};
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    const struct sockaddr *addr = (const struct sockaddr *)&a4;
    if (inet_pton(AF_INET6, o->host, &a6.sin6_addr) == 1) {
        addr = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else if (inet_pton(AF_INET, o->host, &a4.sin_addr) != 1) {
        snprintf(err->message, sizeof err->message, "--host %s: not an IPv4 or IPv6 address",
                 o->host);
        free_daemon(d);
        return err->code = LOOM_ERR_INVALID;
    }
    unsigned timeout = (unsigned)ceil(o->lim.timeout);
    d->mhd = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_request, d, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 1 ? o->threads : 0),
        MHD_OPTION_CONNECTION_TIMEOUT, timeout ? timeout : 1u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 << 10), MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_URI_LOG_CALLBACK, on_uri,
        d, MHD_OPTION_NOTIFY_COMPLETED, on_completed, d, MHD_OPTION_END);
    if (!d->mhd) {
        snprintf(err->message, sizeof err->message,
                 "cannot listen on %s port %d (in use? a bad address?)", o->host, o->port);
        free_daemon(d);
        return err->code = LOOM_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : o->port;
    *out = d;
    return LOOM_OK;
}

int serve_stop(struct serve_daemon **dp, double grace)
{
    struct serve_daemon *d = *dp;
    if (!d) return 0;
    atomic_store(&d->draining, true);
    MHD_socket s = MHD_quiesce_daemon(d->mhd);
    if (s != MHD_INVALID_SOCKET) close(s);
    double t0 = now();
    while (atomic_load(&d->inflight) > 0 && now() - t0 < grace) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int left = atomic_load(&d->inflight);
    MHD_stop_daemon(d->mhd);
    free_daemon(d);
    *dp = NULL;
    return left;
}
