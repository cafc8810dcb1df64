/*
 * fixtures.h — what the serve tests share: `loom serve` started as a child
 * process on an ephemeral loopback port (the binary from $LOOM_BIN, the
 * model tests/api's make_model trained, from $LOOM_API_MODEL), and a plain
 * socket HTTP/1.1 client (no curl library).
 */
#ifndef LOOM_TESTS_SERVE_FIXTURES_H
#define LOOM_TESTS_SERVE_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "tests/testlib.h"

struct sv_server {
    pid_t pid;
    int port;
    char log[256]; /* its stderr */
};

/* Start `loom serve MODEL --port 0 --threads 2 ARGS` (ARGS split at
 * spaces) and wait for its "listening" line. */
void sv_start(struct sv_server *s, const char *args);
/* SIGTERM, wait; its exit code (-1 when killed by a signal). */
int sv_stop(struct sv_server *s);

struct sv_reply {
    int status;      /* 0: the connection closed without an answer */
    char head[4096]; /* the status line and headers */
    char *body;      /* NUL-terminated; free with sv_reply_done */
    size_t len;
};
void sv_reply_done(struct sv_reply *r);

/* A connected socket to 127.0.0.1:port with a 20 s receive timeout. */
int sv_connect(int port);
/* Write all of buf; false when the peer closed. */
bool sv_send(int fd, const void *buf, size_t n);
/* Read one answer (headers, then Content-Length bytes or to EOF). */
void sv_read_reply(int fd, struct sv_reply *r);

/* One request on a fresh connection (Connection: close). ctype NULL: no
 * Content-Type header; body NULL: no body and no Content-Length. */
void sv_request(int port, const char *method, const char *path, const char *ctype, const void *body,
                size_t len, struct sv_reply *r);
/* POST path with a JSON body; the answer parsed (NULL when not JSON). */
json_t *sv_post(int port, const char *path, const char *body, int *status);

/* The model's directory (tests/api's build dir) and the `loom` binary. */
const char *sv_model_dir(void);
const char *sv_bin(void);

/* Base64 of a file's bytes (malloc'd, NUL-terminated). */
char *sv_base64_file(const char *path);

#endif
