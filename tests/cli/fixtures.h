/*
 * fixtures.h — the cli suite's shared helpers (fixtures.c).
 */
#ifndef LOOM_TESTS_CLI_FIXTURES_H
#define LOOM_TESTS_CLI_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "tests/testlib.h"

/* The suite's temp directory (/tmp/loom-cli-XXXXXX, made by setup_dir). */
extern char dir[];

/* Make dir (once) with photos/ and an empty photos/a.jpg in it. */
void setup_dir(void);
/* Write text to dir/name. */
void put(const char *name, const char *text);
/* A w x w PNG of one colour at dir/name. */
void put_png(const char *name, int w, const uint8_t rgb[3]);
/* The whole of dir/name (malloc'd, NUL-terminated), or NULL; its size in *n. */
char *slurp(const char *name, size_t *n);
int count_lines(const char *s);
/* Run `loom ARGS` in dir; returns the exit code, output in out (stdout+stderr). */
int run(const char *args, char *out, size_t n);
/* The same with `wrapper loom ARGS` (valgrind and its options). */
int run_under(const char *wrapper, const char *args, char *out, size_t n);
/* dir with tiny.csv, tiny.yaml (4 epochs of 8 batches of 16 rows), photos
 * r.png and g.png, ask.csv (rows to predict: line 4 bad, line 5 with a
 * missing photo); earlier runs, models and caches removed. */
void make_tiny_set(void);
/* dir/name := n bytes of b */
void put_bytes(const char *name, const char *b, size_t n);
/* The tiny set with three broken photos (cut.png truncated, crc.png with a
 * CRC error, junk.png not an image) in three more rows (lines 162-164) and
 * data.max_bad_images set to share (NULL: the default, 1%). */
void tiny_with_bad_photos(const char *share);

#endif
