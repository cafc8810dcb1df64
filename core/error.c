/* error.c — status strings, error filling, assertion failure. */
#include <stdarg.h>
#include <string.h>

#include "base.h"

static const char *const status_text[] = {
    [LOOM_OK] = "ok",
    [LOOM_ERR_INVALID] = "invalid argument",
    [LOOM_ERR_NOMEM] = "out of memory",
    [LOOM_ERR_IO] = "input/output error",
    [LOOM_ERR_PARSE] = "parse error",
    [LOOM_ERR_SCHEMA] = "invalid schema",
    [LOOM_ERR_FORMAT] = "damaged or unsupported file",
    [LOOM_ERR_SHAPE] = "shape mismatch",
    [LOOM_ERR_UNSUPPORTED] = "unsupported",
    [LOOM_ERR_LIMIT] = "limit exceeded",
    [LOOM_ERR_NUMERIC] = "non-finite number",
    [LOOM_ERR_BACKEND] = "backend library failure",
    [LOOM_ERR_INTERNAL] = "internal error",
};
_Static_assert(LOOM_ARRAY_LEN(status_text) == LOOM_STATUS_COUNT, "a text per status");

const char *loom_strerror(enum loom_status status)
{
    if ((unsigned)status >= LOOM_STATUS_COUNT) return "unknown status";
    return status_text[status];
}

const char *loom_version(void)
{
#define LOOM_STR2(x) #x
#define LOOM_STR(x)  LOOM_STR2(x)
    return LOOM_STR(LOOM_VERSION_MAJOR) "." LOOM_STR(LOOM_VERSION_MINOR) "." LOOM_STR(
        LOOM_VERSION_PATCH);
}

static enum loom_status vset(struct loom_error *err, enum loom_status code, const char *file,
                             int line, int column, const char *fmt, va_list ap)
{
    if (!err) return code;
    err->code = code;
    err->line = line;
    err->column = column;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return code;
}

enum loom_status loom_error_set(struct loom_error *err, enum loom_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, NULL, 0, 0, fmt, ap);
    va_end(ap);
    return code;
}

enum loom_status loom_error_set_at(struct loom_error *err, enum loom_status code, const char *file,
                                   int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, file, line, column, fmt, ap);
    va_end(ap);
    return code;
}

_Noreturn void loom_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "loom: internal assertion failed: %s (%s:%d)\n", what, file, line);
    abort();
}

void *loom_aligned_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = LOOM_ALIGN;
    if (posix_memalign(&p, LOOM_ALIGN, loom_align_up(bytes, LOOM_ALIGN)) != 0) return NULL;
    return p;
}
