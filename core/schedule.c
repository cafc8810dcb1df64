/* schedule.c — constant, warm-up and one-cycle schedules (see schedule.h).
 * Computed in double from the step number alone, so resuming at step t
 * gives the same rates as an unbroken run. */
#include <math.h>

#include "schedule.h"

void loom_schedule_init(struct loom_schedule *s, enum loom_schedule_type type, float lr,
                        int64_t total)
{
    *s = (struct loom_schedule){
        .type = type,
        .lr = lr,
        .total = total,
        .momentum = 0.9f,
        .warmup = 0,
        .start_factor = 0.1f,
        .pct_start = 0.25f,
        .div_factor = 25.0f,
        .final_div_factor = 1e4f,
        .mom_max = 0.95f,
        .mom_min = 0.85f,
    };
}

static bool is_momentum(float m)
{
    return m >= 0.0f && m < 1.0f;
}

static bool is_positive(float x)
{
    return x > 0.0f && isfinite(x);
}

enum loom_status loom_schedule_check(const struct loom_schedule *s, struct loom_error *err)
{
    if (!is_positive(s->lr))
        return loom_error_set(err, LOOM_ERR_INVALID, "schedule: lr %g must be finite and > 0",
                              (double)s->lr);
    switch (s->type) {
    case LOOM_SCHEDULE_WARMUP:
        if (s->warmup < 0)
            return loom_error_set(err, LOOM_ERR_INVALID, "schedule: warmup %lld is negative",
                                  (long long)s->warmup);
        if (!(s->start_factor >= 0.0f && s->start_factor <= 1.0f))
            return loom_error_set(err, LOOM_ERR_INVALID,
                                  "schedule: start_factor %g is not in [0, 1]",
                                  (double)s->start_factor);
        /* fall through */
    case LOOM_SCHEDULE_CONSTANT:
        if (!is_momentum(s->momentum))
            return loom_error_set(err, LOOM_ERR_INVALID, "schedule: momentum %g is not in [0, 1)",
                                  (double)s->momentum);
        return LOOM_OK;
    case LOOM_SCHEDULE_ONE_CYCLE:
        if (s->total < 1)
            return loom_error_set(err, LOOM_ERR_INVALID, "schedule: one-cycle needs total >= 1");
        if (!(s->pct_start > 0.0f && s->pct_start < 1.0f))
            return loom_error_set(err, LOOM_ERR_INVALID, "schedule: pct_start %g is not in (0, 1)",
                                  (double)s->pct_start);
        if (!is_positive(s->div_factor) || !is_positive(s->final_div_factor))
            return loom_error_set(err, LOOM_ERR_INVALID,
                                  "schedule: div_factor %g and final_div_factor %g must be "
                                  "finite and > 0",
                                  (double)s->div_factor, (double)s->final_div_factor);
        if (!is_momentum(s->mom_max) || !is_momentum(s->mom_min))
            return loom_error_set(err, LOOM_ERR_INVALID,
                                  "schedule: momenta %g and %g must be in [0, 1)",
                                  (double)s->mom_max, (double)s->mom_min);
        return LOOM_OK;
    }
    return loom_error_set(err, LOOM_ERR_INVALID, "schedule: unknown type %d", (int)s->type);
}

/* From a at pct 0 to b at pct 1 along half a cosine. */
static double anneal_cos(double a, double b, double pct)
{
    return b + (a - b) / 2.0 * (cos(M_PI * pct) + 1.0);
}

/* PyTorch's OneCycleLR, two phases: phase 1 ends at step pct_start·total - 1
 * (a real number), phase 2 at total - 1, each phase's fraction measured
 * from the previous end. A phase of no length (a run of a handful of steps)
 * counts as finished instead of dividing by zero. */
static void one_cycle(const struct loom_schedule *s, double t, double *lr, double *mom)
{
    double peak = s->lr, first = peak / s->div_factor, last = first / s->final_div_factor;
    double end1 = (double)s->pct_start * (double)s->total - 1.0, end2 = (double)s->total - 1.0;
    if (t <= end1) {
        double pct = end1 > 0.0 ? t / end1 : 1.0;
        *lr = anneal_cos(first, peak, pct);
        *mom = anneal_cos(s->mom_max, s->mom_min, pct);
    } else {
        double pct = end2 > end1 ? (t - end1) / (end2 - end1) : 1.0;
        *lr = anneal_cos(peak, last, pct);
        *mom = anneal_cos(s->mom_min, s->mom_max, pct);
    }
}

void loom_schedule_at(const struct loom_schedule *s, int64_t t, float *lr, float *momentum)
{
    if (t < 0) t = 0;
    double r = s->lr, m = s->momentum;
    switch (s->type) {
    case LOOM_SCHEDULE_CONSTANT:
        break;
    case LOOM_SCHEDULE_WARMUP:
        if (t < s->warmup) {
            double f = s->start_factor + (1.0 - s->start_factor) * (double)t / (double)s->warmup;
            r = s->lr * f;
        }
        break;
    case LOOM_SCHEDULE_ONE_CYCLE:
        one_cycle(s, (double)LOOM_MIN(t, s->total - 1), &r, &m);
        break;
    }
    *lr = (float)r;
    *momentum = (float)m;
}
