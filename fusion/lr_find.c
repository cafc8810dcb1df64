/*
 * lr_find.c — the learning-rate finder (Smith 2015; fastai's lr_find): train
 * for a few hundred steps while the rate grows exponentially, watch the
 * smoothed loss, stop when it explodes, and suggest a rate (trainer.h
 * gives the rule). The model is put back as it was.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "trainer_impl.h"

void loom_lr_find_opts_default(struct loom_lr_find_opts *o)
{
    *o = (struct loom_lr_find_opts){
        .lr_min = 1e-7, .lr_max = 10, .steps = 200, .beta = 0.98, .diverge = 4};
}

void loom_lr_curve_done(struct loom_lr_curve *c)
{
    if (!c) return;
    free(c->lr), free(c->loss), free(c->smooth);
    memset(c, 0, sizeof *c);
}

static void suggest(struct loom_lr_curve *c)
{
    c->suggested = c->at_min = c->steepest = NAN;
    if (c->n < 5) return;
    int best = 0;
    for (int i = 1; i < c->n; i++)
        if (c->smooth[i] < c->smooth[best]) best = i;
    c->at_min = c->lr[best];
    c->suggested = c->at_min / 10;
    /* steepest fall per unit of log rate, central differences before the
     * minimum, past the first tenth (where the debiased average still
     * swings) */
    double slope = INFINITY;
    for (int i = LOOM_MAX(1, c->n / 10); i < best; i++) {
        double d = (c->smooth[i + 1] - c->smooth[i - 1]) / (log(c->lr[i + 1]) - log(c->lr[i - 1]));
        if (d < slope) slope = d, c->steepest = c->lr[i];
    }
}

enum loom_status loom_lr_find(struct loom_model *m, struct loom_source *train,
                              const struct loom_lr_find_opts *o, struct loom_lr_curve *out,
                              struct loom_error *err)
{
    struct loom_lr_find_opts d;
    if (!o) loom_lr_find_opts_default(&d), o = &d;
    if (!m || !train || !out || !(o->lr_min > 0) || !(o->lr_max > o->lr_min) || o->steps < 2 ||
        !(o->beta >= 0 && o->beta < 1) || !(o->diverge > 1))
        return loom_error_set(err, LOOM_ERR_INVALID, "lr_find: bad argument");
    struct loom_store *s = &m->store;
    size_t bytes = s->total * sizeof(float);
    struct loom_lr_curve c = {0};
    float *saved = malloc(bytes ? bytes : 1);
    c.lr = malloc((size_t)o->steps * sizeof *c.lr);
    c.loss = malloc((size_t)o->steps * sizeof *c.loss);
    c.smooth = malloc((size_t)o->steps * sizeof *c.smooth);
    if (!saved || !c.lr || !c.loss || !c.smooth) {
        free(saved);
        loom_lr_curve_done(&c);
        return loom_error_set(err, LOOM_ERR_NOMEM, "lr_find: out of memory");
    }
    memcpy(saved, s->data, bytes);
    struct loom_optim opt;
    struct loom_ctx ctx;
    const struct loom_schema_training *tr = &m->schema.training;
    float clip = tr->clip_norm > 0 ? (float)tr->clip_norm : FLT_MAX;
    float mom = (float)tr->optimizer.momentum;
    loom_ctx_init(&ctx, 0, (uint64_t)tr->seed);
    loom_rng_init(&ctx.rng, (uint64_t)tr->seed, LOOM_STEP_STREAM);
    memset(s->m, 0, bytes), memset(s->v, 0, bytes);
    enum loom_status st = loom_trainer_optim(m, &opt, err);
    int64_t epoch = 0;
    if (!st) st = train->seek(train->self, 0, 0, err);
    double avg = 0, best = INFINITY;
    for (int i = 0; !st && i < o->steps;) {
        const struct loom_batch *b = NULL;
        if ((st = train->next(train->self, &b, err))) break;
        if (!b) { /* the end of an epoch: go on with the next */
            if (++epoch > o->steps) break;
            st = train->seek(train->self, epoch, 0, err);
            continue;
        }
        if (b->n < 2) continue;
        double lr = o->lr_min * pow(o->lr_max / o->lr_min, (double)i / (o->steps - 1)), loss;
        const char *why;
        struct loom_forward f;
        st = loom_trainer_step(&ctx, m, &opt, b, (float)lr, mom, clip, &f, &loss, &why, err);
        if (st || why) break; /* a non-finite loss ends the sweep */
        avg = o->beta * avg + (1 - o->beta) * loss;
        double sm = avg / (1 - pow(o->beta, i + 1));
        c.lr[i] = lr, c.loss[i] = loss, c.smooth[i] = sm;
        c.n = ++i;
        if (sm < best) best = sm;
        if (i > 1 && (!isfinite(sm) || sm > o->diverge * best)) break;
    }
    memcpy(s->data, saved, bytes);
    memset(s->m, 0, bytes), memset(s->v, 0, bytes);
    free(saved);
    loom_ctx_done(&ctx);
    if (st) {
        loom_lr_curve_done(&c);
        return st;
    }
    suggest(&c);
    *out = c;
    return LOOM_OK;
}
