/* fixtures.c — a `loom serve` child process and a socket HTTP client
 * (fixtures.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"

const char *sv_model_dir(void)
{
    const char *d = getenv("LOOM_API_MODEL");
    if (!d) fail_msg("LOOM_API_MODEL is not set (run through meson test)");
    return d ? d : ".";
}

const char *sv_bin(void)
{
    const char *b = getenv("LOOM_BIN");
    if (!b) fail_msg("LOOM_BIN is not set (run through meson test)");
    return b ? b : "loom";
}

void sv_start(struct sv_server *s, const char *args)
{
    static int count;
    snprintf(s->log, sizeof s->log, "/tmp/loom-serve-test-%d-%d.log", (int)getpid(), count++);
    char model[4096], buf[1024];
    snprintf(model, sizeof model, "%s/model.loom", sv_model_dir());
    snprintf(buf, sizeof buf, "%s", args ? args : "");
    char *argv[48] = {(char *)sv_bin(), "serve", model, "--port", "0", "--threads", "2"};
    int argc = 7;
    char *save = NULL;
    for (char *a = strtok_r(buf, " ", &save); a && argc < 46; a = strtok_r(NULL, " ", &save))
        argv[argc++] = a;
    argv[argc] = NULL;
    int out[2];
    assert_int_equal(pipe(out), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int log = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out[1], 1);
        if (log >= 0) dup2(log, 2);
        close(out[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    /* "loom serve: MODEL on http://127.0.0.1:PORT (2 threads)" */
    char line[8192];
    size_t n = 0;
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    while (n < sizeof line - 1 && !memchr(line, '\n', n)) {
        if (poll(&p, 1, 60000) <= 0) break;
        ssize_t k = read(out[0], line + n, sizeof line - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    line[n] = 0;
    close(out[0]);
    const char *at = strstr(line, "http://127.0.0.1:");
    if (!at) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        fail_msg("loom serve did not start (stdout '%s', stderr in %s)", line, s->log);
    }
    s->port = atoi(at + strlen("http://127.0.0.1:"));
    assert_true(s->port > 0);
}

int sv_stop(struct sv_server *s)
{
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    int st = 0;
    assert_int_equal(waitpid(s->pid, &st, 0), s->pid);
    s->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void sv_reply_done(struct sv_reply *r)
{
    free(r->body);
    r->body = NULL;
}

int sv_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

bool sv_send(int fd, const void *buf, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t k = send(fd, (const char *)buf + off, n - off, MSG_NOSIGNAL);
        if (k <= 0) return false;
        off += (size_t)k;
    }
    return true;
}

void sv_read_reply(int fd, struct sv_reply *r)
{
    memset(r, 0, sizeof *r);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    char *end = NULL;
    long long want = -1;
    for (;;) {
        if (!end) {
            buf[n] = 0;
            if ((end = strstr(buf, "\r\n\r\n"))) {
                const char *cl = strcasestr(buf, "\r\nContent-Length:");
                if (cl && cl < end) want = atoll(cl + strlen("\r\nContent-Length:"));
            }
        }
        if (end && want >= 0 && n >= (size_t)(end + 4 - buf) + (size_t)want) break;
        if (n == cap) {
            cap *= 2;
            char *b = realloc(buf, cap + 1);
            assert_non_null(b);
            if (end) end = b + (end - buf);
            buf = b;
        }
        ssize_t k = recv(fd, buf + n, cap - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
    }
    buf[n] = 0;
    if (!end || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
        r->status = 0;
        r->body = buf;
        r->len = n;
        return;
    }
    size_t head = (size_t)(end - buf);
    snprintf(r->head, sizeof r->head, "%.*s", (int)(head < sizeof r->head ? head : 4000), buf);
    r->len = n - head - 4;
    memmove(buf, end + 4, r->len + 1);
    r->body = buf;
}

void sv_request(int port, const char *method, const char *path, const char *ctype, const void *body,
                size_t len, struct sv_reply *r)
{
    int fd = sv_connect(port);
    assert_true(fd >= 0);
    char head[1024];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path);
    if (ctype) n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (body) n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(head + n, sizeof head - (size_t)n, "Connection: close\r\n\r\n");
    assert_true(sv_send(fd, head, (size_t)n));
    if (body) sv_send(fd, body, len); /* the server may answer and close before all is sent */
    sv_read_reply(fd, r);
    close(fd);
}

json_t *sv_post(int port, const char *path, const char *body, int *status)
{
    struct sv_reply r;
    sv_request(port, "POST", path, "application/json", body, strlen(body), &r);
    *status = r.status;
    json_error_t je;
    json_t *j = json_loadb(r.body, r.len, 0, &je);
    sv_reply_done(&r);
    return j;
}

char *sv_base64_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(((size_t)n + 2) / 3 * 4 + 1), *o = out;
    assert_non_null(out);
    for (long i = 0; i < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16 | (i + 1 < n ? (unsigned)b[i + 1] << 8 : 0) |
                     (i + 2 < n ? b[i + 2] : 0);
        *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = 0;
    free(b);
    return out;
}
