/*
 * source.h — where the trainer gets its batches: anything that can count
 * its batches per epoch, start at any (epoch, batch) and hand out the next
 * batch. loom_source_batcher wraps a loaders batcher (dataset.h); tests use
 * sources over rows held in memory. A source must give the same batches for
 * the same (epoch, index) every time: exact resume depends on it.
 */
#ifndef LOOM_FUSION_SOURCE_H
#define LOOM_FUSION_SOURCE_H

#include "loaders/batch.h"

struct loom_batcher;

struct loom_source {
    void *self;
    /* batches per epoch */
    int64_t (*count)(void *self);
    /* position before batch index of epoch (0-based) */
    LOOM_WUR enum loom_status (*seek)(void *self, int64_t epoch, int64_t index,
                                      struct loom_error *err);
    /* the next batch of the epoch (valid until the next call), or *out = NULL
     * at its end */
    LOOM_WUR enum loom_status (*next)(void *self, const struct loom_batch **out,
                                      struct loom_error *err);
};

/* A source over batcher b (not owned; it must outlive the source). */
void loom_source_batcher(struct loom_source *s, struct loom_batcher *b);

#endif
