/*
 * dataset.h — from a schema and the files it names to preprocessed rows,
 * and from rows to batches.
 *
 * 1. loom_prep_fit reads the training split once (streamed) and fits every
 *    column's preprocessing (prep.h) on it alone.
 * 2. loom_dataset_open reads one split (train, valid or test; a split of the
 *    train file when the schema says `split:`), preprocesses every row with a
 *    fitted prep, decodes and resizes every photo to 8-bit S×S, and keeps the
 *    result column by column. The first time it also writes a cache file
 *    beside the data, keyed by a hash of the schema's preprocessing part, the
 *    prep and the input files (size, mtime); later runs memory-map it. A
 *    stale or damaged cache is detected and rebuilt, never trusted.
 * 3. A batcher hands out batches (batch.h): a seeded shuffle per epoch,
 *    training-time augmentation (random crop, flip; a random subset when a
 *    row has more photos than max_images), prepared by loader threads ahead
 *    of the compute thread. It can start at any (epoch, batch) so that a
 *    resumed run sees exactly the batches an uninterrupted one would.
 *
 * Bad input never stops the pass silently and never crashes it: a bad row is
 * skipped and counted, or stops the pass, as the schema's csv.on_bad_row says
 * (the report names the first few with their CSV line); a missing or damaged
 * photo is dropped from its bag and counted (with the path and reason); when
 * the share of bad rows or bad photos passes the schema's limit, the pass
 * stops with an error that says so.
 */
#ifndef LOOM_LOADERS_DATASET_H
#define LOOM_LOADERS_DATASET_H

#include "batch.h"
#include "prep.h"

enum loom_split { LOOM_SPLIT_TRAIN, LOOM_SPLIT_VALID, LOOM_SPLIT_TEST };

/* What a pass over a split met. */
struct loom_data_report {
    /* rows_read == rows_ok + rows_bad + rows_dropped; dropped rows miss a
     * number whose schema says `missing: drop` */
    int64_t rows_read, rows_ok, rows_bad, rows_dropped;
    int64_t images_ok, images_bad;
    int64_t rows_bad_images; /* rows that lost at least one photo (data.max_bad_images) */
    int nexamples;
    struct loom_error examples[8]; /* the first bad rows / photos, with file and line */
    bool from_cache;
};

/* A photo dropped from its row's bag: the CSV line, the images column, the
 * photo's path (as the pass opened it: under data.images, or as written in
 * the CSV when it was refused before opening) and why. Tabs and line breaks
 * in path and reason read as spaces. */
struct loom_bad_photo {
    int64_t line;
    const char *column, *path, *reason;
};

struct loom_dataset_opts {
    bool use_cache;        /* default true */
    const char *cache_dir; /* NULL: beside the training file */
    int threads;           /* decoding threads; 0: all cores */
    bool targets_optional; /* loom_dataset_open_file: output columns may be absent
                              from the file (prediction): they read as missing,
                              and a missing output drops no row; default false */
    /* Called for every dropped photo, in the CSV's order, on the opening
     * thread, before the share of rows with a bad photo is checked (so also
     * when that check stops the open); from the cache too, which keeps the
     * list. NULL: not called. */
    void (*on_bad_photo)(const struct loom_bad_photo *b, void *user);
    void *user;
};
void loom_dataset_opts_default(struct loom_dataset_opts *o);

/* Fit the preprocessing of every column on the training rows of s. */
LOOM_WUR enum loom_status loom_prep_fit(const struct loom_schema *s,
                                        const struct loom_dataset_opts *o, struct loom_prep **out,
                                        struct loom_data_report *rep, struct loom_error *err);

struct loom_dataset;

/* s and p must outlive the dataset (and its batchers). rep (may be NULL)
 * gets the pass's counts; from a cache, those of the pass that built it.
 * Thread-safe on distinct datasets; an open dataset is immutable and may be
 * read by any number of batchers. */
LOOM_WUR enum loom_status loom_dataset_open(const struct loom_schema *s, const struct loom_prep *p,
                                            enum loom_split split,
                                            const struct loom_dataset_opts *o,
                                            struct loom_dataset **out, struct loom_data_report *rep,
                                            struct loom_error *err);
/* The same for any CSV at path with the schema's columns (extra columns
 * ignored), read whole (no split), with the schema's bad-row and bad-photo
 * policies; never cached (o->use_cache is ignored). Prediction opens its
 * input this way with o->targets_optional set. A declared column missing
 * from the header is LOOM_ERR_SCHEMA naming it. */
LOOM_WUR enum loom_status
loom_dataset_open_file(const struct loom_schema *s, const struct loom_prep *p, const char *path,
                       const struct loom_dataset_opts *o, struct loom_dataset **out,
                       struct loom_data_report *rep, struct loom_error *err);
int64_t loom_dataset_rows(const struct loom_dataset *d);
/* The id column's text of row i, *len bytes, not NUL-terminated (NULL when
 * the schema has no id column). */
const char *loom_dataset_row_id(const struct loom_dataset *d, int64_t i, size_t *len);
/* The CSV line row i came from (for messages). */
int64_t loom_dataset_row_line(const struct loom_dataset *d, int64_t i);
/* The cache file this dataset was read from or written to; NULL when the
 * cache is off or could not be written. */
const char *loom_dataset_cache_path(const struct loom_dataset *d);
void loom_dataset_close(struct loom_dataset **d);

struct loom_batcher_opts {
    int batch_size;
    bool shuffle;   /* a seeded permutation per epoch */
    bool training;  /* augmentation and random photo subsets */
    bool drop_last; /* skip a final partial batch */
    uint64_t seed;
    int threads;  /* loader threads preparing batches ahead; 0: 1 */
    int prefetch; /* batches prepared ahead; 0: 2 */
};

struct loom_batcher;

LOOM_WUR enum loom_status loom_batcher_new(const struct loom_dataset *d,
                                           const struct loom_batcher_opts *o,
                                           struct loom_batcher **out, struct loom_error *err);
/* Batches per epoch. */
int64_t loom_batcher_count(const struct loom_batcher *b);
/* Position the batcher before batch `index` of epoch `epoch` (0-based). */
LOOM_WUR enum loom_status loom_batcher_seek(struct loom_batcher *b, int64_t epoch, int64_t index,
                                            struct loom_error *err);
/* The next batch of the current epoch, valid until the next call; *out = NULL
 * at the end of the epoch (the next call starts the next epoch). */
LOOM_WUR enum loom_status loom_batcher_next(struct loom_batcher *b, const struct loom_batch **out,
                                            struct loom_error *err);
void loom_batcher_free(struct loom_batcher **b);

#endif
