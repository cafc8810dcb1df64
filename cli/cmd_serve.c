/*
 * cmd_serve.c — `loom serve MODEL`: score rows over HTTP until SIGTERM or
 * SIGINT, then finish the requests in flight and exit 0. The endpoints,
 * status codes and limits are in docs/serve.md; serve_http.c and
 * serve_json.c do the work.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

static const char *const CMD = "serve";

static void usage(FILE *f)
{
    fprintf(f, "usage: loom serve MODEL [OPTIONS]\n\n"
               "Answer POST /predict, POST /embed, GET /health, GET /schema and GET /metrics\n"
               "over HTTP/1.1 until SIGTERM or SIGINT (then drain and exit 0).\n"
               "  --port N          TCP port (default 8080; 0: any free port, printed)\n"
               "  --host ADDR       address to listen on (default 127.0.0.1)\n"
               "  --threads N       worker threads, one session each (default: the cores)\n"
               "  --image-root DIR  allow photos as {\"path\": ...} under DIR (never outside)\n"
               "  --max-body BYTES  request body limit (default 16M; K, M, G suffixes)\n"
               "  --max-rows N      rows per request (default 1000)\n"
               "  --max-photos N    photos per row and column (default 16)\n"
               "  --max-pixels N    decoded pixels per photo; larger ones are dropped\n"
               "                    (default 64M, as in training)\n"
               "  --timeout S       idle timeout and per-request deadline (default 30)\n"
               "  --quiet           no access log on stderr\n");
}

/* A positive count with an optional K/M/G (powers of 1024) suffix. */
static bool count_arg(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return false;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10, end++;
    if (*end == 'M' || *end == 'm') shift = 20, end++;
    if (*end == 'G' || *end == 'g') shift = 30, end++;
    if (*end || v == 0 || v > (max >> shift)) return false;
    *out = (uint64_t)v << shift;
    return true;
}

static int bad_option(const char *opt, const char *value)
{
    fprintf(stderr, "loom %s: bad value for %s: '%s'\n", CMD, opt, value ? value : "");
    return LOOM_EXIT_USAGE;
}

static int parse(int argc, char **argv, const char **model, struct serve_opts *o)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (struct serve_opts){
        .host = "127.0.0.1",
        .port = 8080,
        .threads = cores > 0 ? (int)cores : 1,
        .lim = {.max_body = 16u << 20,
                .max_rows = 1000,
                .max_photos = 16,
                .max_pixels = 64u << 20,
                .timeout = 30},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (loom_cli_is_help(a)) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = true;
            continue;
        } else if (a[0] != '-') {
            if (*model) {
                usage(stderr);
                return LOOM_EXIT_USAGE;
            }
            *model = a;
            continue;
        } else if (!v) {
            fprintf(stderr, "loom %s: %s needs a value\n", CMD, a);
            return LOOM_EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--host")) {
            o->host = v;
        } else if (!strcmp(a, "--image-root")) {
            o->lim.image_root = v;
        } else if (!strcmp(a, "--port")) {
            if (!strcmp(v, "0"))
                o->port = 0;
            else if (count_arg(v, 65535, &n))
                o->port = (int)n;
            else
                return bad_option(a, v);
        } else if (!strcmp(a, "--threads")) {
            if (!count_arg(v, 256, &n)) return bad_option(a, v);
            o->threads = (int)n;
        } else if (!strcmp(a, "--max-body")) {
            if (!count_arg(v, 1ull << 31, &n)) return bad_option(a, v);
            o->lim.max_body = n;
        } else if (!strcmp(a, "--max-rows")) {
            if (!count_arg(v, 1000000, &n)) return bad_option(a, v);
            o->lim.max_rows = (int64_t)n;
        } else if (!strcmp(a, "--max-photos")) {
            if (!count_arg(v, 1000, &n)) return bad_option(a, v);
            o->lim.max_photos = (int)n;
        } else if (!strcmp(a, "--max-pixels")) {
            if (!count_arg(v, 1ull << 40, &n)) return bad_option(a, v);
            o->lim.max_pixels = n;
        } else if (!strcmp(a, "--timeout")) {
            char *end;
            double t = strtod(v, &end);
            if (*end || !(t >= 0.1 && t <= 3600)) return bad_option(a, v);
            o->lim.timeout = t;
        } else {
            fprintf(stderr, "loom %s: unknown option %s\n", CMD, a);
            usage(stderr);
            return LOOM_EXIT_USAGE;
        }
    }
    if (!*model) {
        usage(stderr);
        return LOOM_EXIT_USAGE;
    }
    return 0;
}

int loom_cmd_serve(int argc, char **argv)
{
    const char *path = NULL;
    struct serve_opts o;
    int rc = parse(argc, argv, &path, &o);
    if (rc) return rc < 0 ? LOOM_EXIT_OK : rc;
    /* Signals go to sigwait below: blocked before the daemon's threads
     * start, so that they inherit the mask and none of them takes one. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct loom_error err = {0};
    loom_model *m = NULL;
    if (loom_model_open(path, &m, &err)) {
        if (!err.file[0]) snprintf(err.file, sizeof err.file, "%s", path);
        loom_cli_error(CMD, &err);
        return LOOM_EXIT_FAIL;
    }
    struct serve_daemon *d = NULL;
    int port = 0;
    if (serve_start(m, &o, &d, &port, &err)) {
        loom_cli_error(CMD, &err);
        loom_model_close(&m);
        return LOOM_EXIT_FAIL;
    }
    bool v6 = strchr(o.host, ':') != NULL;
    printf("loom serve: %s on http://%s%s%s:%d (%d threads)\n", path, v6 ? "[" : "", o.host,
           v6 ? "]" : "", port, o.threads);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    if (!o.quiet) fprintf(stderr, "loom serve: %s, draining\n", strsignal(sig));
    int left = serve_stop(&d, 2 * o.lim.timeout + 1);
    loom_model_close(&m);
    if (left) {
        fprintf(stderr, "loom serve: %d requests still in flight after %g s; stopped\n", left,
                2 * o.lim.timeout + 1);
        return LOOM_EXIT_FAIL;
    }
    if (!o.quiet) fprintf(stderr, "loom serve: stopped\n");
    return LOOM_EXIT_OK;
}
