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
/* dir with tiny.csv, tiny.yaml (4 epochs of 8 batches of 16 rows), photos
 * r.png and g.png, ask.csv (rows to predict: line 4 bad, line 5 with a
 * missing photo); earlier runs, models and caches removed. */
void make_tiny_set(void);

#endif
