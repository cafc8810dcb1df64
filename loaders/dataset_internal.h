/*
 * dataset_internal.h — a preprocessed split in memory, column by column, as
 * the batcher reads it. The arrays are either the dataset's own (built by a
 * pass over the CSV) or point into the mapped cache file. Private to
 * loaders/.
 */
#ifndef LOOM_LOADERS_DATASET_INTERNAL_H
#define LOOM_LOADERS_DATASET_INTERNAL_H

#include "cache.h"
#include "dataset.h"

/* One column of n rows (which arrays a type uses: batch.h). */
struct loom_ds_col {
    enum loom_col_type type;
    int width;
    const float *x;         /* (n, width) */
    const float *present;   /* (n) */
    const int32_t *ids;     /* (n, width) */
    const int32_t *lengths; /* (n) */
    const int64_t *offsets; /* images (n + 1): row r's photos offsets[r] .. offsets[r+1]-1 */
    const uint8_t *pixels;  /* images (count, size, size, 3) */
    int64_t count;
    int size;
};

struct loom_dataset {
    const struct loom_schema *s;
    const struct loom_prep *p;
    int64_t n;
    int ncols;
    struct loom_ds_col *c; /* (ncols) */
    const int64_t *lines;  /* (n) */
    const int64_t *idoff;  /* (n + 1), NULL without an id column */
    const char *idpool;
    /* the dropped photos: "LINE\tCOLUMN\tPATH\tREASON\n" each, in CSV order
     * (report.images_bad of them) */
    const char *bad;
    size_t bad_len;
    void **owned; /* heap arrays to free (built in this process) */
    int nowned;
    struct loom_cache_map map; /* or the mapped cache */
    char *cache_path;
};

#endif
