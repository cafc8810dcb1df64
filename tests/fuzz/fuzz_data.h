/*
 * fuzz_data.h — what the harnesses that need a setting share with the seed
 * generator: a small schema with a column of every type (the prep harness
 * loads blobs against it; the cache harness and the generator's checkpoint
 * use its data), the training rows it reads (a CSV and one photo written
 * into a directory), and a JPEG writer with libjpeg's options.
 */
#ifndef LOOM_TESTS_FUZZ_DATA_H
#define LOOM_TESTS_FUZZ_DATA_H

#include <stdbool.h>

#include "schemas/schema.h"

extern const char fuzz_fixed_schema_yaml[];

/* Load fuzz_fixed_schema_yaml; base_dir (may be NULL) resolves data.train
 * and file checks are made only when it is given. Aborts on failure. */
void fuzz_fixed_schema(struct loom_schema *s, const char *base_dir);

/* Write train.csv (40 rows) and its photo p.jpg into dir. Aborts on failure. */
void fuzz_fixed_data(const char *dir);

/* A JPEG of a w x h gradient with libjpeg's options (malloc'd, *n bytes):
 * components 1 (grey), 3 (YCbCr) or 4 (CMYK, with Adobe's marker);
 * h_samp 1 or 2 (chroma subsampling); restart interval in MCU rows (0: none). */
struct fuzz_jpeg_opts {
    int w, h, components, quality, h_samp, v_samp, restart_rows;
    bool progressive, arithmetic, optimize;
};
unsigned char *fuzz_jpeg(const struct fuzz_jpeg_opts *o, unsigned long *n);

#endif
