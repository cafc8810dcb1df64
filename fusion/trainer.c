/*
 * trainer.c — the training loop of trainer.h: steps, epochs, evaluation,
 * early stopping, checkpoints at the right moments, metrics.jsonl and the
 * progress line. The train state's file format is checkpoint.c's; the
 * learning-rate finder is lr_find.c.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/onednn.h"
#include "trainer_impl.h"

/* ---- early stopping ---- */

void loom_early_stop_init(struct loom_early_stop *es, int patience, bool maximize)
{
    *es = (struct loom_early_stop){.patience = patience, .maximize = maximize, .best = NAN};
}

bool loom_early_stop_update(struct loom_early_stop *es, int epoch, double value)
{
    es->improved = isfinite(value) &&
                   (isnan(es->best) || (es->maximize ? value > es->best : value < es->best));
    if (es->improved) {
        es->best = value;
        es->best_epoch = epoch;
        es->bad_epochs = 0;
    } else {
        es->bad_epochs++;
    }
    return es->patience > 0 && es->bad_epochs >= es->patience;
}

/* ---- one step ---- */

enum loom_status loom_trainer_optim(struct loom_model *m, struct loom_optim *o,
                                    struct loom_error *err)
{
    const struct loom_schema_training *tr = &m->schema.training;
    for (int g = 0; g < m->store.ngroups; g++)
        m->store.groups[g].weight_decay = (float)tr->optimizer.weight_decay;
    loom_store_apply_frozen(&m->store);
    if (tr->optimizer.type == LOOM_OPTIMIZER_SGD)
        return loom_optim_init_sgd(o, tr->optimizer.nesterov, err);
    return loom_optim_init_adamw(o, (float)tr->optimizer.beta2, (float)tr->optimizer.eps, err);
}

enum loom_status loom_trainer_step(struct loom_ctx *c, struct loom_model *m, struct loom_optim *opt,
                                   const struct loom_batch *b, float lr, float mom, float clip,
                                   struct loom_forward *f, double *loss, const char **why,
                                   struct loom_error *err)
{
    *why = NULL;
    loom_ctx_reset(c);
    c->grad_enabled = c->training = true;
    /* training.precision: the ops that have a bf16 path use it where the CPU
     * has it (they check); master weights and moments stay f32 */
    c->bf16 = m->schema.training.precision == LOOM_PRECISION_BF16;
    enum loom_status st = loom_model_forward(c, m, b, f);
    if (!st) st = loom_model_loss(c, m, b, f);
    if (st) {
        *err = c->err;
        return st;
    }
    *loss = f->loss->data[0];
    if (!isfinite(*loss)) {
        *why = isnan(*loss) ? "the loss is NaN" : "the loss is infinite";
        return LOOM_OK;
    }
    loom_store_zero_grad(&m->store);
    if ((st = loom_backward(c, f->loss, NULL))) {
        *err = c->err;
        return st;
    }
    /* With clip = FLT_MAX nothing is scaled, but the norm still says whether
     * every gradient is finite. */
    double norm;
    st = loom_clip_grad_norm(&m->store, clip, &norm);
    if (st == LOOM_ERR_NUMERIC) {
        *why = "a gradient is NaN or infinite";
        return LOOM_OK;
    }
    if (!st) st = loom_optim_step(opt, &m->store, lr, mom);
    if (st) return loom_error_set(err, st, "optimizer step failed (rate %g)", (double)lr);
    return LOOM_OK;
}

/* ---- evaluation ---- */

enum loom_status loom_evaluate(struct loom_model *m, struct loom_source *src,
                               struct loom_metrics *mt, struct loom_error *err)
{
    loom_metrics_reset(mt);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 0);
    enum loom_status st = src->seek(src->self, 0, 0, err);
    for (;;) {
        const struct loom_batch *b = NULL;
        if (st || (st = src->next(src->self, &b, err)) || !b) break;
        if (b->n == 0) continue;
        loom_ctx_reset(&c);
        struct loom_forward f;
        st = loom_model_forward(&c, m, b, &f);
        if (!st) st = loom_model_loss(&c, m, b, &f);
        if (st) {
            *err = c.err;
            break;
        }
        st = loom_metrics_add(mt, m, b, &f, err);
    }
    loom_ctx_done(&c);
    return st;
}

/* ---- class weights from the training targets ---- */

static bool wants_class_weights(const struct loom_model *m)
{
    for (int j = 0; j < m->nheads; j++)
        if (m->heads[j].cw) return true;
    return false;
}

static void count_batch(const struct loom_model *m, const struct loom_batch *b, int64_t **counts,
                        int64_t *totals)
{
    for (int j = 0; j < m->nheads; j++) {
        const struct loom_head *h = &m->heads[j];
        const struct loom_batch_col *col = &b->cols[h->column];
        if (!h->cw) continue;
        for (int64_t i = 0; i < b->n; i++) {
            if (h->type == LOOM_COL_CATEGORY) {
                int32_t code = col->ids ? col->ids[i] : 0;
                if (code >= 2 && code < h->width) counts[j][code]++, totals[j]++;
                continue;
            }
            if (!col->x || (col->present && col->present[i] == 0)) continue;
            totals[j]++;
            for (int k = 0; k < h->width; k++) counts[j][k] += col->x[i * h->width + k] > 0.5f;
        }
    }
}

/* One pass over epoch 0 of the training source. */
static enum loom_status fit_class_weights(struct loom_model *m, struct loom_source *src,
                                          struct loom_error *err)
{
    int64_t **counts = calloc((size_t)m->nheads, sizeof *counts);
    int64_t *totals = calloc((size_t)m->nheads, sizeof *totals);
    enum loom_status st = LOOM_OK;
    if (!counts || !totals) st = LOOM_ERR_NOMEM;
    for (int j = 0; !st && j < m->nheads; j++)
        if (m->heads[j].cw && !(counts[j] = calloc((size_t)m->heads[j].width, sizeof **counts)))
            st = LOOM_ERR_NOMEM;
    if (st) {
        loom_error_set(err, st, "class weights: out of memory");
    } else {
        st = src->seek(src->self, 0, 0, err);
        for (;;) {
            const struct loom_batch *b = NULL;
            if (st || (st = src->next(src->self, &b, err)) || !b) break;
            count_batch(m, b, counts, totals);
        }
        if (!st) loom_model_set_class_weights(m, (const int64_t *const *)counts, totals);
    }
    for (int j = 0; counts && j < m->nheads; j++) free(counts[j]);
    free(counts), free(totals);
    return st;
}

/* ---- progress ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_time(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

struct progress {
    FILE *f;
    bool tty;
    double t0;      /* the epoch's start */
    int64_t rows;   /* seen this epoch */
    int64_t every;  /* plain lines: one per this many batches */
    bool line_open; /* a bar is on screen */
};

static void progress_step(struct progress *p, const struct trainer *t, double loss)
{
    if (!p->f) return;
    double dt = now() - p->t0, rate = dt > 0 ? (double)p->rows / dt : 0;
    double per_batch = t->batch > 0 ? dt / (double)t->batch : 0;
    char eta[32];
    fmt_time(eta, sizeof eta, per_batch * (double)(t->per_epoch - t->batch));
    if (p->tty) {
        int width = 20, done = (int)(width * t->batch / (t->per_epoch ? t->per_epoch : 1));
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '=' : i == done ? '>' : ' ';
        bar[width] = 0;
        fprintf(p->f, "\r\033[Kepoch %lld/%d [%s] %lld/%lld step %lld loss %.4f %.0f rows/s ETA %s",
                (long long)t->epoch + 1, t->epochs, bar, (long long)t->batch,
                (long long)t->per_epoch, (long long)t->step, loss, rate, eta);
        p->line_open = true;
    } else if (t->batch % p->every == 0 || t->batch == t->per_epoch) {
        fprintf(p->f, "epoch %lld/%d batch %lld/%lld step %lld loss %.4f %.0f rows/s ETA %s\n",
                (long long)t->epoch + 1, t->epochs, (long long)t->batch, (long long)t->per_epoch,
                (long long)t->step, loss, rate, eta);
    }
    fflush(p->f);
}

static void progress_epoch(struct progress *p, const struct loom_epoch_info *e)
{
    if (!p->f) return;
    if (p->line_open) fputc('\n', p->f);
    p->line_open = false;
    fprintf(p->f, "epoch %d/%d: train loss %.5g", e->epoch, e->epochs, loom_metrics_loss(e->train));
    if (e->valid) fprintf(p->f, ", valid loss %.5g", loom_metrics_loss(e->valid));
    fprintf(p->f, ", %s %.5g%s (%.1f s)\n", e->metric, e->value, e->improved ? " (best)" : "",
            e->seconds);
    fflush(p->f);
}

/* ---- the loop ---- */

static double watched(const struct loom_model *m, const struct loom_metrics *mt)
{
    const struct loom_schema_training *tr = &m->schema.training;
    int j = tr->early_stopping.output;
    if (j < 0) return loom_metrics_loss(mt);
    for (int h = 0; h < m->nheads; h++)
        if (m->heads[h].output == j) return loom_macc_metric(&mt->acc[h], tr->early_stopping.which);
    return NAN;
}

static enum loom_status append_jsonl(const char *dir, const struct loom_epoch_info *e,
                                     struct loom_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    json_t *o = json_pack("{s:i, s:I, s:f, s:s, s:o, s:b}", "epoch", e->epoch, "step",
                          (json_int_t)e->step, "seconds", e->seconds, "metric", e->metric, "train",
                          loom_metrics_json(e->train), "best", e->improved);
    if (o && e->valid) json_object_set_new(o, "valid", loom_metrics_json(e->valid));
    if (o) json_object_set_new(o, "value", isfinite(e->value) ? json_real(e->value) : json_null());
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!line) return loom_error_set(err, LOOM_ERR_NOMEM, "metrics.jsonl: out of memory");
    FILE *f = fopen(path, "a");
    bool ok = f && fprintf(f, "%s\n", line) > 0;
    if (f && fclose(f) != 0) ok = false;
    free(line);
    if (!ok) return loom_error_set(err, LOOM_ERR_IO, "%s: cannot append", path);
    return LOOM_OK;
}

/* A resumed run's metrics.jsonl keeps the lines of the epochs its
 * checkpoint completed (epoch <= done) and loses the rest: the lines of
 * epochs a killed run finished after that checkpoint, which the resumed run
 * writes again, and a line cut short by the kill. Rewritten atomically. */
static enum loom_status trim_jsonl(const char *dir, int64_t done, struct loom_error *err)
{
    char path[4200], tmp[4220];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *in = fopen(path, "r");
    if (!in) return LOOM_OK; /* none yet */
    FILE *out = fopen(tmp, "w");
    bool ok = out != NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (ok && (n = getline(&line, &cap, in)) > 0) {
        json_t *o = line[n - 1] == '\n' ? json_loads(line, 0, NULL) : NULL;
        json_t *e = json_object_get(o, "epoch");
        if (json_is_integer(e) && json_integer_value(e) <= done) ok = fputs(line, out) >= 0;
        json_decref(o);
    }
    free(line);
    ok = ok && !ferror(in);
    fclose(in);
    if (out && (fflush(out) != 0 || fsync(fileno(out)) != 0)) ok = false;
    if (out && fclose(out) != 0) ok = false;
    if (ok && rename(tmp, path) == 0) return LOOM_OK;
    unlink(tmp);
    return loom_error_set(err, LOOM_ERR_IO, "%s: cannot rewrite for the resumed run", path);
}

static enum loom_status setup(struct trainer *t, struct loom_model *m, struct loom_source *train,
                              const struct loom_train_opts *o, struct loom_error *err)
{
    const struct loom_schema_training *tr = &m->schema.training;
    t->m = m;
    t->tr = tr;
    t->epochs = o->epochs > 0 ? o->epochs : tr->epochs;
    t->per_epoch = train->count(train->self);
    t->clip = tr->clip_norm > 0 ? (float)tr->clip_norm : FLT_MAX;
    t->data_seed = o->data_seed;
    t->metric = tr->early_stopping.metric ? tr->early_stopping.metric : "loss";
    const char *dir = o->checkpoint_dir ? o->checkpoint_dir : tr->checkpoint_dir;
    if (dir && strlen(dir) >= sizeof t->dir)
        return loom_error_set(err, LOOM_ERR_LIMIT, "checkpoint directory: path too long");
    snprintf(t->dir, sizeof t->dir, "%s", dir ? dir : "");
    if (t->per_epoch < 1)
        return loom_error_set(err, LOOM_ERR_INVALID, "train: the training source has no batch");
    int64_t total;
    if (__builtin_mul_overflow(t->per_epoch, (int64_t)t->epochs, &total))
        return loom_error_set(err, LOOM_ERR_LIMIT, "train: too many steps");
    static const enum loom_schedule_type kinds[] = {
        [LOOM_SCHEDULE_KIND_CONSTANT] = LOOM_SCHEDULE_CONSTANT,
        [LOOM_SCHEDULE_KIND_WARMUP] = LOOM_SCHEDULE_WARMUP,
        [LOOM_SCHEDULE_KIND_ONE_CYCLE] = LOOM_SCHEDULE_ONE_CYCLE,
    };
    struct loom_schedule *s = &t->sched;
    loom_schedule_init(s, kinds[tr->schedule.type], (float)tr->optimizer.lr, total);
    s->momentum = (float)tr->optimizer.momentum;
    s->warmup = tr->schedule.warmup_steps;
    s->start_factor = (float)tr->schedule.start_factor;
    s->pct_start = (float)tr->schedule.pct_start;
    s->div_factor = (float)tr->schedule.div_factor;
    s->final_div_factor = (float)tr->schedule.final_div_factor;
    s->mom_max = (float)tr->schedule.mom_max;
    s->mom_min = (float)tr->schedule.mom_min;
    enum loom_status st = loom_schedule_check(s, err);
    if (st) return st;
    bool maximize =
        tr->early_stopping.output >= 0 && loom_metric_maximize(tr->early_stopping.which);
    loom_early_stop_init(&t->es, tr->early_stopping.patience, maximize);
    if ((st = loom_trainer_optim(m, &t->opt, err))) return st;
    loom_ctx_init(&t->c, 0, (uint64_t)tr->seed);
    loom_rng_init(&t->c.rng, (uint64_t)tr->seed, LOOM_STEP_STREAM);
    if (tr->precision == LOOM_PRECISION_BF16 && !loom_dnnl_bf16() && o->progress)
        fprintf(o->progress, "training.precision bf16: this CPU has neither AVX512-BF16 nor "
                             "AMX, training in fp32\n");
    if (t->dir[0] && (st = loom_mkdirs(t->dir, err))) return st;
    return LOOM_OK;
}

/* "rows 128..191 of the epoch's order (dataset rows 3..997)" */
static void describe_rows(char *buf, size_t n, const struct trainer *t, const struct loom_batch *b,
                          int64_t first)
{
    int64_t lo = INT64_MAX, hi = -1;
    for (int64_t i = 0; b->rows && i < b->n; i++)
        lo = LOOM_MIN(lo, b->rows[i]), hi = LOOM_MAX(hi, b->rows[i]);
    int k = snprintf(buf, n, "rows %lld..%lld of the epoch's order", (long long)first,
                     (long long)(first + b->n - 1));
    if (hi >= 0 && k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, " (dataset rows %lld..%lld)", (long long)lo,
                 (long long)hi);
    (void)t;
}

static enum loom_status bad_step(struct trainer *t, const struct loom_batch *b, int64_t first,
                                 const char *why, int max_bad, struct loom_error *err)
{
    t->bad_steps++;
    if (max_bad > 0 && t->bad_steps <= max_bad) return LOOM_OK;
    char rows[160];
    describe_rows(rows, sizeof rows, t, b, first);
    char last[4200];
    if (t->last_good[0])
        snprintf(last, sizeof last, "the last good checkpoint is %s (step %lld)", t->last_good,
                 (long long)t->last_good_step);
    else
        snprintf(last, sizeof last, "no checkpoint was written yet");
    return loom_error_set(err, LOOM_ERR_NUMERIC,
                          "step %lld (epoch %lld, batch %lld, %s): %s; training stopped%s; %s",
                          (long long)t->step, (long long)t->epoch + 1, (long long)t->batch, rows,
                          why, max_bad > 0 ? " after too many bad steps" : "", last);
}

/* Keep the checkpoint at path as previous.loom: a second name for the same
 * file (a hard link, renamed into place), so that path stays what it was
 * until the new file replaces it by rename. Where hard links do not exist,
 * path is renamed (a kill before the new file is in leaves previous.loom). */
static enum loom_status keep_previous(const char *dir, const char *path, struct loom_error *err)
{
    char prev[4096], tmp[4096];
    snprintf(prev, sizeof prev, "%s/previous.loom", dir);
    snprintf(tmp, sizeof tmp, "%s/.previous.loom.tmp-link", dir);
    unlink(tmp);
    if (link(path, tmp) == 0 ? rename(tmp, prev) == 0 : errno == ENOENT || rename(path, prev) == 0)
        return LOOM_OK;
    return loom_error_set(err, LOOM_ERR_IO, "%s: cannot keep it as previous.loom: %s", path,
                          strerror(errno));
}

/* last.loom, its predecessor kept as previous.loom. A kill cannot damage
 * either (each is replaced by a rename), but should last.loom be damaged
 * afterwards, --resume still finds a good checkpoint close by. Only the
 * checkpoint this run wrote or resumed from is kept: a damaged last.loom
 * that a resume passed over never replaces a good previous.loom. */
static enum loom_status save_last(struct trainer *t, struct loom_train_result *r,
                                  struct loom_error *err)
{
    if (!t->dir[0]) return LOOM_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/last.loom", t->dir);
    enum loom_status st = LOOM_OK;
    if (!strcmp(t->last_good, path) && (st = keep_previous(t->dir, path, err))) return st;
    st = loom_trainer_save(t, path, err);
    if (st) return st;
    snprintf(t->last_good, sizeof t->last_good, "%s", path);
    t->last_good_step = t->step;
    snprintf(r->last, sizeof r->last, "%s", path);
    return LOOM_OK;
}

/* The batches of the current epoch from t->batch on. *stop set by stop_after. */
static enum loom_status run_epoch(struct trainer *t, struct loom_source *train,
                                  struct loom_metrics *tm, const struct loom_train_opts *o,
                                  struct progress *pg, struct loom_train_result *r, bool *stop,
                                  struct loom_error *err)
{
    enum loom_status st = train->seek(train->self, t->epoch, t->batch, err);
    /* the batch's first row in the epoch's order, for messages (sources
     * make batches of the schema's batch size) */
    int64_t first = t->batch * t->tr->batch_size;
    while (!st) {
        const struct loom_batch *b = NULL;
        if ((st = train->next(train->self, &b, err)) || !b) break;
        float lr, mom;
        loom_schedule_at(&t->sched, t->step, &lr, &mom);
        double loss = 0;
        const char *why = NULL;
        if (b->n >= 2) {
            struct loom_forward f;
            st = loom_trainer_step(&t->c, t->m, &t->opt, b, lr, mom, t->clip, &f, &loss, &why, err);
            if (!st && why) st = bad_step(t, b, first, why, o->max_bad_steps, err);
            if (!st && !why) {
                t->loss_sum += loss * (double)b->n;
                t->loss_rows += b->n;
                /* the step's outputs stay in the arena until the next step */
                st = loom_metrics_add(tm, t->m, b, &f, err);
            }
            if (st) break;
        }
        first += b->n;
        pg->rows += b->n;
        t->step++;
        t->batch++;
        progress_step(pg, t, loss);
        bool at_stop = o->stop_after > 0 && t->step >= o->stop_after;
        bool periodic = o->checkpoint_every > 0 && t->step % o->checkpoint_every == 0;
        if ((at_stop || periodic) && (st = save_last(t, r, err))) break;
        if (at_stop) {
            *stop = true;
            break;
        }
    }
    return st;
}

enum loom_status loom_train(struct loom_model *m, struct loom_source *train,
                            struct loom_source *valid, const struct loom_train_opts *o,
                            struct loom_train_result *r, struct loom_error *err)
{
    static const struct loom_train_opts defaults = {0};
    struct loom_train_result local;
    if (!o) o = &defaults;
    if (!r) r = &local;
    memset(r, 0, sizeof *r);
    if (!m || !train) return loom_error_set(err, LOOM_ERR_INVALID, "loom_train: NULL argument");
    struct trainer t = {0};
    struct loom_metrics tm = {0}, vm = {0};
    enum loom_status st = setup(&t, m, train, o, err);
    if (!st) st = loom_metrics_init(&tm, m, err);
    if (!st && valid) st = loom_metrics_init(&vm, m, err);
    const char *run_dir = o->run_dir ? o->run_dir : t.dir;
    if (!st && o->resume) {
        st = loom_trainer_resume(&t, o->resume, err);
        if (!st && run_dir[0]) st = trim_jsonl(run_dir, t.epoch, err);
    } else if (!st && wants_class_weights(m))
        st = fit_class_weights(m, train, err);
    struct progress pg = {.f = o->progress, .tty = o->progress && isatty(fileno(o->progress))};
    pg.every = LOOM_MAX(1, (t.per_epoch + 9) / 10); /* about ten lines an epoch */
    bool stop = false;
    while (!st && !stop && t.epoch < t.epochs) {
        if (t.batch == 0) t.loss_sum = 0, t.loss_rows = 0;
        double t0 = now();
        pg.t0 = t0, pg.rows = 0;
        loom_metrics_reset(&tm);
        if ((st = run_epoch(&t, train, &tm, o, &pg, r, &stop, err)) || stop) break;
        /* train metrics: an evaluation-mode pass would cost another epoch;
         * the mean training loss is the running one */
        tm.loss_sum = t.loss_sum, tm.rows = t.loss_rows;
        if (valid && (st = loom_evaluate(m, valid, &vm, err))) break;
        struct loom_epoch_info e = {.epoch = (int)t.epoch + 1,
                                    .epochs = t.epochs,
                                    .step = t.step,
                                    .train = &tm,
                                    .valid = valid ? &vm : NULL,
                                    .metric = t.metric};
        e.value = watched(m, valid ? &vm : &tm);
        bool early = loom_early_stop_update(&t.es, e.epoch, e.value);
        e.improved = t.es.improved;
        t.epoch++, t.batch = 0;
        r->epochs = (int)t.epoch;
        /* In this order, so that a kill anywhere leaves a consistent run:
         * the epoch's line (trimmed again when the resume comes from an
         * earlier checkpoint), best.loom (a checkpoint of the same state:
         * --resume takes it when last.loom is older), last.loom. */
        e.seconds = now() - t0;
        if (run_dir[0] && (st = append_jsonl(run_dir, &e, err))) break;
        if (e.improved && t.dir[0]) {
            snprintf(r->best_path, sizeof r->best_path, "%s/best.loom", t.dir);
            if ((st = loom_trainer_save(&t, r->best_path, err))) break;
        }
        if ((st = save_last(&t, r, err))) break;
        progress_epoch(&pg, &e);
        if (o->on_epoch) o->on_epoch(&e, o->user);
        if (early) {
            r->early_stopped = true;
            break;
        }
    }
    r->stopped = stop;
    r->steps = t.step;
    r->bad_steps = t.bad_steps;
    r->best = t.es.best;
    r->best_epoch = t.es.best_epoch;
    loom_metrics_done(&tm);
    loom_metrics_done(&vm);
    loom_ctx_done(&t.c);
    return st;
}
