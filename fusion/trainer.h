/*
 * trainer.h — training a model (model.h) from batch sources (source.h) as its
 * schema's `training:` section says: epochs, AdamW or SGD, a schedule
 * (core/schedule.h: constant, warm-up, one-cycle), weight decay, gradient
 * clipping, metrics per epoch on the training and validation rows
 * (metrics.h), early stopping on the schema's metric, checkpoints, exact
 * resume, and a learning-rate finder.
 *
 * Checkpoints are model files (loom_model_save with the optimizer moments)
 * written atomically (temporary file, fsync, rename, fsync of the
 * directory) as <checkpoint_dir>/last.loom after every epoch (and every
 * checkpoint_every steps; the one before it is kept as previous.loom) and
 * <checkpoint_dir>/best.loom when the watched metric improves. All open as
 * ordinary models. At an epoch's end its metrics.jsonl line is written
 * first, then best.loom, then last.loom, so a kill anywhere leaves a
 * resumable run: a resume trims metrics.jsonl back to the checkpoint's
 * epochs. Their metadata
 * "train_state" (JSON) holds all a resume needs beyond the weights and
 * moments: epoch and batch position, step, the optimizer's step counts, the
 * state of the step random stream, the schedule and its position, the best
 * metric so far and the epochs since, the data-order seed and the bad steps
 * skipped.
 *
 * Exact resume: a run resumed from a checkpoint ends with weights
 * bit-identical to an uninterrupted run with the same seed, data and thread
 * count. That holds because everything a step reads is either restored
 * (weights, moments, batch-norm statistics, optimizer counts, the random
 * stream) or a pure function of the step (the schedule) or of (epoch, batch)
 * (the source's order), and because evaluation never touches training state.
 * The training metrics of the epoch in which a run resumed cover the rows
 * seen after the resume (its mean loss covers the whole epoch).
 *
 * NaN or Inf: a step whose loss or gradient norm is not finite updates
 * nothing. By default training stops with LOOM_ERR_NUMERIC and a message
 * naming the step, the epoch and batch, the batch's rows and the last good
 * checkpoint (none is written after the failure, so that file stays as it
 * was); with max_bad_steps > 0 such steps are skipped, up to that many.
 *
 * Single-row training batches are skipped (batch norm needs two rows); a
 * training source should drop its last partial batch when it could be 1.
 * Not thread-safe: one trainer per model.
 */
#ifndef LOOM_FUSION_TRAINER_H
#define LOOM_FUSION_TRAINER_H

#include "metrics.h"
#include "source.h"

/* Early stopping: the best value so far and the epochs since. */
struct loom_early_stop {
    int patience;  /* 0: never stop */
    bool maximize; /* the metric's direction */
    double best;   /* NaN before the first finite value */
    int best_epoch;
    int bad_epochs; /* epochs since the best */
    bool improved;  /* the last update was a new best */
};

void loom_early_stop_init(struct loom_early_stop *es, int patience, bool maximize);
/* Record the metric of epoch (1-based). A NaN never improves. Returns true
 * when training should stop: patience > 0 and patience epochs in a row
 * without improvement. */
bool loom_early_stop_update(struct loom_early_stop *es, int epoch, double value);

/* What the trainer reports after each epoch. */
struct loom_epoch_info {
    int epoch; /* 1-based */
    int epochs;
    int64_t step;
    double seconds;
    const struct loom_metrics *train;
    const struct loom_metrics *valid; /* NULL without a validation source */
    const char *metric;               /* the watched metric ("loss", "price.rmse") */
    double value;                     /* its value this epoch */
    bool improved;
};

struct loom_train_opts {
    const char *checkpoint_dir; /* NULL: the schema's; "": no checkpoints */
    const char *run_dir;        /* metrics.jsonl; NULL: checkpoint_dir; "": none */
    const char *resume;         /* a checkpoint to continue from, or NULL */
    int epochs;                 /* 0: the schema's */
    int64_t stop_after;         /* > 0: stop after this many steps in all (a last
                                   checkpoint written); the run can be resumed */
    int64_t checkpoint_every;   /* steps between last.loom writes; 0: epoch ends */
    int max_bad_steps;          /* 0: a NaN/Inf step stops training */
    uint64_t data_seed;         /* the training source's shuffle seed: recorded in
                                   checkpoints and checked on resume */
    FILE *progress;             /* NULL: silent; a terminal gets a bar */
    void (*on_epoch)(const struct loom_epoch_info *e, void *user);
    void *user;
};

struct loom_train_result {
    int epochs;    /* completed */
    int64_t steps; /* taken in all (incl. before a resume) */
    int best_epoch;
    double best;                 /* the watched metric's best value */
    bool early_stopped, stopped; /* by patience / by stop_after */
    int64_t bad_steps;
    char last[4096], best_path[4096]; /* checkpoints written ("" when none) */
};

/* Train m on train (and evaluate on valid, which may be NULL: then the
 * watched metric comes from the training rows). o may be NULL (defaults);
 * r may be NULL. */
LOOM_WUR enum loom_status loom_train(struct loom_model *m, struct loom_source *train,
                                     struct loom_source *valid, const struct loom_train_opts *o,
                                     struct loom_train_result *r, struct loom_error *err);

/* One evaluation pass over src into mt (reset first). */
LOOM_WUR enum loom_status loom_evaluate(struct loom_model *m, struct loom_source *src,
                                        struct loom_metrics *mt, struct loom_error *err);

/* ---- learning-rate finder ---- */

struct loom_lr_find_opts {
    double lr_min, lr_max; /* the sweep (1e-7, 10) */
    int steps;             /* at most (200) */
    double beta;           /* smoothing of the loss (0.98) */
    double diverge;        /* stop once the smoothed loss passes diverge × its minimum (4) */
};
void loom_lr_find_opts_default(struct loom_lr_find_opts *o);

struct loom_lr_curve {
    int n;
    double *lr, *loss, *smooth; /* (n): the rate, the raw and the smoothed loss */
    /* The suggestion: rate_at_min / 10, where rate_at_min is the rate of the
     * lowest smoothed loss (fastai v1's rule: a tenth of the rate at the
     * minimum sits on the descending part of the curve, safely before the
     * blow-up). steepest is the rate where the smoothed loss falls fastest
     * per unit of log rate before the minimum (reported for comparison; it
     * is noisier). NaN when the curve is too short (< 5 points). */
    double suggested, at_min, steepest;
};
void loom_lr_curve_done(struct loom_lr_curve *c);

/* Sweep the rate exponentially from lr_min to lr_max over up to steps
 * training steps of m on train (with the schema's optimizer, momentum and
 * weight decay, no schedule), recording the loss, and stop when it
 * explodes. m should be freshly built; its params, buffers and moments are
 * put back as they were afterwards. o may be NULL. */
LOOM_WUR enum loom_status loom_lr_find(struct loom_model *m, struct loom_source *train,
                                       const struct loom_lr_find_opts *o, struct loom_lr_curve *out,
                                       struct loom_error *err);

#endif
