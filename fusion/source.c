/* source.c — a loaders batcher as a trainer source (source.h). Kept in its
 * own file so that programs that never use a batcher do not link one. */
#include "source.h"
#include "loaders/dataset.h"

static int64_t b_count(void *self)
{
    return loom_batcher_count(self);
}

static enum loom_status b_seek(void *self, int64_t epoch, int64_t index, struct loom_error *err)
{
    return loom_batcher_seek(self, epoch, index, err);
}

static enum loom_status b_next(void *self, const struct loom_batch **out, struct loom_error *err)
{
    return loom_batcher_next(self, out, err);
}

void loom_source_batcher(struct loom_source *s, struct loom_batcher *b)
{
    *s = (struct loom_source){.self = b, .count = b_count, .seek = b_seek, .next = b_next};
}
