/*
 * loom.h — the public C API of libloom.
 *
 * Conventions (the whole header follows them):
 *  - Every fallible function returns enum loom_status (LOOM_OK == 0) and, on
 *    failure only, fills the caller-owned struct loom_error passed last (which
 *    may be NULL when the caller does not want the detail).
 *  - Output parameters are written only on success.
 *  - The library never exits and never prints.
 */
#ifndef LOOM_H
#define LOOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_VERSION_MAJOR 0
#define LOOM_VERSION_MINOR 1
#define LOOM_VERSION_PATCH 0

#if defined(__GNUC__)
#define LOOM_API __attribute__((visibility("default")))
#define LOOM_WUR __attribute__((warn_unused_result))
#else
#define LOOM_API
#define LOOM_WUR
#endif

/* One status enum for the whole library. Keep loom_strerror in step. */
enum loom_status {
    LOOM_OK = 0,
    LOOM_ERR_INVALID,     /* a bad argument from the caller */
    LOOM_ERR_NOMEM,       /* an allocation failed */
    LOOM_ERR_IO,          /* a file could not be read or written (errno in message) */
    LOOM_ERR_PARSE,       /* malformed text input (YAML, CSV, JSON): line and column set */
    LOOM_ERR_SCHEMA,      /* a well-formed schema that says something invalid */
    LOOM_ERR_FORMAT,      /* a damaged or unsupported binary file (model, image, cache) */
    LOOM_ERR_SHAPE,       /* tensor shapes that do not fit together */
    LOOM_ERR_UNSUPPORTED, /* valid, but not something loom can do */
    LOOM_ERR_LIMIT,       /* a configured limit was exceeded (size, count, pixels) */
    LOOM_ERR_NUMERIC,     /* NaN or Inf where a finite number is required */
    LOOM_ERR_BACKEND,     /* oneDNN, OpenBLAS or another library failed */
    LOOM_ERR_INTERNAL,    /* a bug in loom */
    LOOM_STATUS_COUNT
};

/* Detail of a failure. file/line/column name the place in the user's input
 * (schema, CSV, ...) when there is one: line and column are 1-based, 0 when
 * unknown; file is "" when unknown. */
struct loom_error {
    enum loom_status code;
    int line;
    int column;
    char file[256];
    char message[512];
};

/* A short constant English description of a status; never NULL. Thread-safe. */
LOOM_API const char *loom_strerror(enum loom_status status);

/* The runtime version as "MAJOR.MINOR.PATCH"; a static string. Thread-safe. */
LOOM_API const char *loom_version(void);

#ifdef __cplusplus
}
#endif
#endif
