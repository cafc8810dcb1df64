/*
 * schedule.h — learning-rate (and momentum) schedules: the rate and the
 * momentum/β1 that loom_optim_step (optim.h) should use at step t of a run
 * of total steps. A schedule is a pure function of t, so a resumed run only
 * needs its step count.
 *
 *  - constant: lr and momentum throughout.
 *  - warm-up: the rate rises linearly from lr·start_factor at t = 0 to lr at
 *    t = warmup, then stays (PyTorch's LinearLR); momentum constant.
 *  - one-cycle (Smith 2018; fastai's fit_one_cycle, PyTorch's OneCycleLR with
 *    cosine annealing, two phases): the rate rises from lr/div_factor at
 *    t = 0 to lr at t = pct_start·total - 1, then falls to
 *    lr/(div_factor·final_div_factor) at t = total - 1; the momentum moves
 *    the other way, from mom_max down to mom_min at the peak and back.
 */
#ifndef LOOM_CORE_SCHEDULE_H
#define LOOM_CORE_SCHEDULE_H

#include "base.h"

enum loom_schedule_type {
    LOOM_SCHEDULE_CONSTANT,
    LOOM_SCHEDULE_WARMUP,
    LOOM_SCHEDULE_ONE_CYCLE,
};

struct loom_schedule {
    enum loom_schedule_type type;
    float lr;               /* the base rate; one-cycle: the peak rate */
    int64_t total;          /* one-cycle: steps in the run */
    float momentum;         /* constant and warm-up: momentum or β1 (0.9) */
    int64_t warmup;         /* warm-up: steps to reach lr (0: constant) */
    float start_factor;     /* warm-up: the first rate is lr·start_factor (0.1) */
    float pct_start;        /* one-cycle: fraction of the run spent rising (0.25) */
    float div_factor;       /* one-cycle: first rate = lr/div_factor (25) */
    float final_div_factor; /* one-cycle: last rate = first rate/final_div_factor (1e4) */
    float mom_max, mom_min; /* one-cycle: momentum range (0.95, 0.85) */
};

/* Fill s with type, lr, total and the defaults above for every other field
 * (fastai's and PyTorch's). Check it after changing fields. */
void loom_schedule_init(struct loom_schedule *s, enum loom_schedule_type type, float lr,
                        int64_t total);

/* LOOM_OK if every field the type uses is sound (finite rate > 0, momenta
 * in [0, 1), warmup >= 0, start_factor in [0, 1], pct_start in (0, 1),
 * finite div factors > 0, total >= 1); else LOOM_ERR_INVALID naming the
 * field in err. */
LOOM_WUR enum loom_status loom_schedule_check(const struct loom_schedule *s,
                                              struct loom_error *err);

/* The rate and momentum of step t (0-based) of a checked schedule. A t
 * below 0 counts as 0; one-cycle clamps t to total - 1 (a run that goes on
 * stays at the final rate). Both outputs are required. */
void loom_schedule_at(const struct loom_schedule *s, int64_t t, float *lr, float *momentum);

#endif
