/*
 * fixtures.h — what the fusion tests share: schemas from YAML text, a
 * stand-in fitted prep (stub_prep.c: hand-made column infos and number
 * statistics, with save/load), a small fake encoder injected through
 * loom_model_opts (so these tests do not depend on the real encoders'
 * details), synthetic rows held in memory and a batch source over them
 * (source.h) that shuffles per (seed, epoch) like the real batcher.
 */
#ifndef LOOM_TESTS_FUSION_FIXTURES_H
#define LOOM_TESTS_FUSION_FIXTURES_H

#include "fusion/trainer.h"
#include "tests/testlib.h"

/* Load "data: {train: t.csv}\n" + yaml (no file checks); asserts success. */
void fx_schema(struct loom_schema *s, const char *yaml);

/* Stand-in prep (stub_prep.c). Column i: info[i] (type from the schema);
 * numbers decode as inv_transform(mean[i] + std[i]·y) (log1p when the
 * schema says so); labels are named "c<code>" (category) or "l<k>" (set).
 * mean/std may be NULL (0 and 1). */
struct loom_prep *fx_prep(const struct loom_schema *s, const struct loom_prep_column_info *info,
                          const double *mean, const double *std);

/* Encoder classes for loom_model_opts: every kind gets the fake encoder:
 * the branch's x columns (number, binary, set, vector) and a one-hot of its
 * category codes, concatenated, through Linear(·, 16) and tanh. */
const struct loom_encoder_class *fx_encoder_class(enum loom_encoder_kind kind);
extern const struct loom_model_opts fx_opts;

/* Rows in memory: per column x (n·width), ids (n), present (n). */
struct fx_data {
    const struct loom_schema *s;
    int64_t n;
    int *width;
    float **x;
    int32_t **ids;
    float **present;
};
/* Columns sized from the prep's infos; x zero, present 1, ids 2. */
void fx_data_init(struct fx_data *d, const struct loom_schema *s, const struct loom_prep *p,
                  int64_t n);
void fx_data_done(struct fx_data *d);
int fx_col(const struct fx_data *d, const char *name);

/* A source over d: batches of batch_size rows, shuffled per (seed, epoch)
 * when shuffle, the last partial batch dropped when drop_last. With
 * nan_epoch >= 0 the first target value of column nan_col in batch
 * nan_batch of epoch nan_epoch is NaN (a forced bad step). */
struct fx_source {
    struct loom_source src;
    const struct fx_data *d;
    int batch_size;
    bool shuffle, drop_last;
    uint64_t seed;
    int64_t epoch, index;
    uint32_t *perm;
    struct loom_batch b;
    struct loom_batch_col *cols;
    int64_t *rows;
    int nan_col;
    int64_t nan_epoch, nan_batch;
    int64_t served; /* batches handed out (for tests) */
};
void fx_source_init(struct fx_source *fs, const struct fx_data *d, int batch_size, bool shuffle,
                    uint64_t seed);
void fx_source_done(struct fx_source *fs);

/* The whole of d as one batch (no copy). */
void fx_batch_all(struct loom_batch *b, struct loom_batch_col *cols, int64_t *rows,
                  const struct fx_data *d);

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); removed with
 * fx_rmdir (its files too). */
void fx_tmpdir(char *buf, size_t n);
void fx_rmdir(const char *dir);
/* FNV-1a of a file's bytes. */
uint64_t fx_file_hash(const char *path);

#endif
