/*
 * trainer_impl.h — what trainer.c, checkpoint.c and lr_find.c share: the
 * trainer's state and one optimisation step.
 */
#ifndef LOOM_FUSION_TRAINER_IMPL_H
#define LOOM_FUSION_TRAINER_IMPL_H

#include "core/optim.h"
#include "core/schedule.h"
#include "trainer.h"

#define LOOM_STEP_STREAM 0x5354455055ull /* c->rng's stream in training ("STEP") */

struct trainer {
    struct loom_model *m;
    const struct loom_schema_training *tr;
    struct loom_optim opt;
    struct loom_schedule sched;
    struct loom_ctx c; /* the training steps' context; c.rng is the step stream */
    float clip;        /* clip_norm, or FLT_MAX (only the finiteness check) */
    int epochs;
    int64_t per_epoch; /* batches */
    /* position: the next batch is batch `batch` of epoch `epoch` (0-based) */
    int64_t epoch, batch, step;
    struct loom_early_stop es;
    int64_t bad_steps;
    double loss_sum; /* the current epoch's training loss Σ loss·rows */
    int64_t loss_rows;
    uint64_t data_seed;
    const char *metric; /* the watched metric's name */
    char dir[3968];     /* checkpoint directory; "" none (with room for a file name) */
    char last_good[4096];
    int64_t last_good_step;
};

/* One training step on batch b with rate lr and momentum/β1 mom: forward
 * (into *f, valid until c is reset: the next step), loss, backward, the
 * finiteness check (with clipping when clip < FLT_MAX), the update. *why is
 * NULL after a good step, or names what was not finite (nothing was
 * updated). Returns a failure that is not numeric. */
LOOM_WUR enum loom_status loom_trainer_step(struct loom_ctx *c, struct loom_model *m,
                                            struct loom_optim *opt, const struct loom_batch *b,
                                            float lr, float mom, float clip, struct loom_forward *f,
                                            double *loss, const char **why, struct loom_error *err);

/* The optimizer of the schema (weight decay put on every param group). */
LOOM_WUR enum loom_status loom_trainer_optim(struct loom_model *m, struct loom_optim *o,
                                             struct loom_error *err);

/* checkpoint.c */
LOOM_WUR enum loom_status loom_trainer_save(struct trainer *t, const char *path,
                                            struct loom_error *err);
LOOM_WUR enum loom_status loom_trainer_resume(struct trainer *t, const char *path,
                                              struct loom_error *err);
/* mkdir -p */
LOOM_WUR enum loom_status loom_mkdirs(const char *path, struct loom_error *err);

#endif
