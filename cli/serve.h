/*
 * serve.h — what the files of `loom serve` share. serve_json.c turns a JSON
 * request body into rows and results into JSON (no HTTP in it: the fuzz
 * target tests/fuzz/fuzz_http_body.c calls it directly); serve_http.c is
 * the libmicrohttpd side (routing, bodies, limits, metrics, draining);
 * cmd_serve.c parses the options and runs the daemon until a signal.
 */
#ifndef LOOM_CLI_SERVE_H
#define LOOM_CLI_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "include/loom.h"

/* Nesting of a request body past which it is refused before jansson sees
 * it: {"rows": [{"photos": [{"path": ...}]}]} needs 5. */
enum { SERVE_MAX_DEPTH = 8 };

struct serve_limits {
    uint64_t max_body;      /* bytes of a request body (413 past it) */
    int64_t max_rows;       /* rows per request (413) */
    int max_photos;         /* photos per row and images column (413) */
    uint64_t max_pixels;    /* decoded pixels of one photo (dropped past it) */
    double timeout;         /* seconds: connection idle timeout and request deadline */
    const char *image_root; /* realpath of --image-root; NULL: photos by path refused */
};

/* Why a request failed: its HTTP status, a message and the field it names
 * ("rows[3].photos[1]", "body", "Content-Type", ...); line and column
 * (1-based) for a body that is not JSON, else 0. */
struct serve_fail {
    int status;
    int line, column;
    char field[192];
    char error[512];
};

/* Fill f (status, field, printf-style message); returns status. */
int serve_fail_set(struct serve_fail *f, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* {"error": ..., "field": ...[, "line", "column"]}; NULL when out of memory. */
json_t *serve_fail_json(const struct serve_fail *f);

/* The model's inputs and outputs, read once through include/loom.h. */
struct serve_model {
    const loom_model *m;
    int ninputs, noutputs, embedding_width;
    struct loom_input_info *in;
    struct loom_output_info *out;
    int64_t values_per_row; /* JSON values one row may hold at most (serve_parse_rows) */
};
enum loom_status serve_model_init(struct serve_model *sm, const loom_model *m,
                                  const struct serve_limits *lim, struct loom_error *err);
void serve_model_done(struct serve_model *sm);

/* Memory one worker reuses from request to request (decoded photos,
 * joined set and vector values). */
struct serve_scratch {
    uint8_t *buf;
    size_t cap;
};
void serve_scratch_done(struct serve_scratch *s);

/* Set rows' limits (rows, photos, pixels) from lim. */
enum loom_status serve_rows_limits(loom_rows *rows, const struct serve_limits *lim,
                                   struct loom_error *err);

/* The request body body[0..len) (any bytes) into rows, which is cleared
 * first: 0 on success, *warnings then a new JSON array of the photos
 * dropped ({"field": "rows[i].col[j]", "error": ...}, the caller's to
 * json_decref). Otherwise the HTTP status (400, 413; 500 when memory ran
 * out) with f filled, *warnings untouched. */
int serve_parse_rows(const struct serve_model *sm, const struct serve_limits *lim, loom_rows *rows,
                     struct serve_scratch *scratch, const char *body, size_t len, json_t **warnings,
                     struct serve_fail *f);

/* Responses (NULL when out of memory). */
json_t *serve_predict_json(const struct serve_model *sm, const loom_result *r);
json_t *serve_embed_json(const struct serve_model *sm, const loom_result *r, bool attention);
json_t *serve_schema_json(const struct serve_model *sm, const struct serve_limits *lim);

/* ---- serve_http.c ------------------------------------------------------------------- */

struct serve_opts {
    const char *host; /* IPv4 or IPv6 address */
    int port;         /* 0: any free port */
    int threads;      /* worker threads (each its own session) */
    bool quiet;       /* no access log */
    struct serve_limits lim;
};

struct serve_daemon;
/* Start listening; the actual port in *port. Prints nothing. */
enum loom_status serve_start(const loom_model *m, const struct serve_opts *o,
                             struct serve_daemon **out, int *port, struct loom_error *err);
/* Stop accepting, wait for the requests in flight (at most grace seconds),
 * then stop and free everything. Returns the requests still in flight when
 * it gave up waiting (0 normally). */
int serve_stop(struct serve_daemon **d, double grace);

#endif
