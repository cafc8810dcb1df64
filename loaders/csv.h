/*
 * csv.h — a streaming CSV reader (RFC 4180), one record at a time.
 *
 * What it reads: fields separated by a delimiter (',' by default), records
 * ended by CRLF, LF or a lone CR; a field may be quoted ("...") and then hold
 * the delimiter, line breaks and doubled quotes (""). A UTF-8 byte-order mark
 * at the start is skipped; the last record may lack its line break; blank
 * lines are skipped. Every field must be valid UTF-8 and hold no NUL byte.
 * A quote inside an unquoted field (5'10") is kept as text, as Python's csv
 * and pandas do; text after a closing quote ("ab"c) is an error.
 *
 * What it is not: a type guesser or a schema. Fields come back as bytes;
 * loaders/text.h turns them into numbers.
 *
 * Memory: the input passes through one fixed read buffer (256 KiB unless
 * told otherwise), so a file larger than memory is never read whole. The
 * current record is assembled in a buffer that grows as needed, up to
 * max_record; a field past max_field or a record past max_record is an
 * error of that record, never an allocation of its size.
 *
 * Errors: a bad record (unterminated quote, text after a closing quote, a
 * NUL byte, invalid UTF-8, a field count that differs from the header's, a
 * limit exceeded) is returned as an error whose message starts with
 * "line N: " — N the physical line where the record starts — with line (and
 * column, in bytes from the start of the line, when it means something) in
 * the struct loom_error. The next call goes on with the next record: the
 * reader resynchronises at the next line break outside quotes. The caller
 * thus chooses skip-and-count or stop. Counts: read == ok + bad, always
 * (blank lines and the header are not records). I/O and memory failures are
 * not record errors: they stick, and every later call returns them again.
 *
 * An unterminated quote runs to the end of the input (RFC 4180 gives no way
 * to tell where it should have closed): the rest of the file is then one bad
 * record, reported with the line and column where the quote opened.
 *
 * Thread-safety: a reader is used by one thread at a time; distinct readers
 * are independent.
 */
#ifndef LOOM_LOADERS_CSV_H
#define LOOM_LOADERS_CSV_H

#include "core/base.h"

#define LOOM_CSV_DEFAULT_MAX_FIELD  ((size_t)16 << 20) /* bytes */
#define LOOM_CSV_DEFAULT_MAX_RECORD ((size_t)64 << 20) /* bytes of all fields of a record */
#define LOOM_CSV_DEFAULT_MAX_FIELDS ((size_t)1 << 16)  /* fields per record */
#define LOOM_CSV_DEFAULT_BUFFER     ((size_t)256 << 10)
#define LOOM_CSV_MIN_BUFFER         4 /* bytes: room to see a byte-order mark */

/* Zero-initialise, then set what differs from the default. NULL options
 * mean all defaults. */
struct loom_csv_options {
    char delimiter;         /* 0 means ','; any ASCII byte but '"', CR, LF and NUL */
    size_t expected_fields; /* 0: the header, else the first good record, fixes it */
    size_t max_field;       /* bytes; 0 means LOOM_CSV_DEFAULT_MAX_FIELD */
    size_t max_record;      /* bytes of a record's fields; 0 means the default */
    size_t max_fields;      /* fields per record; 0 means the default */
    size_t buffer_size;     /* read buffer; 0 means the default, at least MIN_BUFFER */
};

/* One field: its bytes (NUL-terminated, the NUL not counted in len) and
 * whether it was quoted. An empty field (len == 0) is a missing value;
 * quoted tells "" (an empty string, for text columns that want it) from
 * nothing at all. */
struct loom_csv_field {
    const char *data;
    size_t len;
    bool quoted;
};

/* One record. fields and their bytes belong to the reader and stay valid
 * until the next call on it. count == 0 only at the end of the input. */
struct loom_csv_row {
    const struct loom_csv_field *fields;
    size_t count;
    int64_t line; /* physical line where the record starts, 1-based */
};

struct loom_csv_counts {
    int64_t read; /* records returned, good or bad */
    int64_t ok;
    int64_t bad;
};

struct loom_csv_reader;

/* Opens the file at path for reading. *out is written only on success;
 * close it with loom_csv_close. LOOM_ERR_IO (with errno's text) when the
 * file cannot be opened, LOOM_ERR_INVALID for bad options. */
LOOM_WUR enum loom_status loom_csv_open(const char *path, const struct loom_csv_options *opts,
                                        struct loom_csv_reader **out, struct loom_error *err);

/* Same over len bytes in memory, which the caller keeps alive and unchanged
 * until the reader is closed. name (may be NULL) goes into errors' file. */
LOOM_WUR enum loom_status loom_csv_open_mem(const void *data, size_t len, const char *name,
                                            const struct loom_csv_options *opts,
                                            struct loom_csv_reader **out, struct loom_error *err);

/* Reads the first record as column names: each must be non-empty and
 * distinct. Call it first, or not at all. On success the header fixes the
 * field count of every later record (unless the options fixed it: then a
 * header of another width is an error). The header is not counted as a
 * record. An empty input is an error here. A failed header sticks: later
 * calls return the same error. */
LOOM_WUR enum loom_status loom_csv_read_header(struct loom_csv_reader *r, struct loom_csv_row *row,
                                               struct loom_error *err);

/* Reads the next record into *row (written only on success; count == 0 at
 * the end of the input, and again on every later call). A bad record
 * returns LOOM_ERR_PARSE or LOOM_ERR_LIMIT with err filled; the next call
 * goes on after it. LOOM_ERR_IO and LOOM_ERR_NOMEM are final. */
LOOM_WUR enum loom_status loom_csv_next(struct loom_csv_reader *r, struct loom_csv_row *row,
                                        struct loom_error *err);

/* Records so far (the header excluded). read == ok + bad. */
struct loom_csv_counts loom_csv_counts(const struct loom_csv_reader *r);

/* Closes the file, frees the reader and sets *r to NULL. Accepts NULL and
 * a pointer to NULL. */
void loom_csv_close(struct loom_csv_reader **r);

#endif
