/*
 * train.c — loom-market-ref-train: loom's training figures for
 * bench/market_ref (run.sh), measured as ../shared/bench/ref_model.py
 * measures PyTorch's, through fusion's public trainer (fusion/trainer.h:
 * the loop `loom train` runs).
 *
 *   loom-market-ref-train SCHEMA [--epochs E] [--warmup W] [--threads N]
 *                         [--split-batches K] [--batches B] [--save MODEL] [--json OUT]
 *
 * 1. Fits the preprocessing, opens the training split (its photos decoded
 *    to 8-bit S×S once, from the dataset cache when it is warm: no JPEG
 *    decoding is timed) and builds the model; prints its parameter count.
 * 2. Trains W warm-up epochs (default 1) then E timed epochs (default 3)
 *    with the schema's settings, no validation pass and no checkpoint. Per
 *    epoch: the end-to-end time (what ref_model.py's epoch time is: every
 *    batch's loading + step); the loader's share (time inside the batcher's
 *    next(): waiting for the loader thread, which turns the cached 8-bit
 *    photos into normalised floats and gathers the columns); and the step
 *    alone (from a batch's arrival to the next request: forward, loss,
 *    backward, clipping check, AdamW update, the running metrics).
 *    ref_model.py's epoch times its collate (index_select of in-memory
 *    float tensors) + step; its step_ms the same per batch.
 * 3. Peak resident memory of this process after training (getrusage
 *    ru_maxrss), which holds the dataset (8-bit photos) besides the model.
 * 4. The time split per batch (ref_model.py's "split" phase): each
 *    branch's encoder alone and the whole model, forward in evaluation mode
 *    and forward+backward (of the sum of the outputs; the full model's of
 *    the loss) in training mode, medians over K batches after one warm-up,
 *    with each part's FLOPs and achieved GFLOP/s.
 * --batches B trains only the first B batches of each epoch (a smoke run).
 * --save writes the trained model (for the inference and server figures).
 * --json writes every figure. Bench code: prints its errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../timing.h"
#include "core/threads.h"
#include "fusion/trainer.h"
#include "loaders/dataset.h"
#include "schemas/diag.h"

#define MAX_EPOCHS 64
#define MAX_PARTS  8

/* ---- a source that times the batcher and the steps between its calls ---- */

struct timed {
    struct loom_source inner;
    double t_ret;          /* when the last batch was handed out; 0 before one */
    double load_s, step_s; /* this epoch's */
    int64_t rows, batches; /* this epoch's */
    double *step_ms;       /* every step's (all epochs), ms */
    int64_t nsteps, cap;
    int64_t limit, pos; /* --batches: batches per epoch (0: all); this epoch's so far */
};

static int64_t timed_count(void *self)
{
    struct timed *t = self;
    int64_t n = t->inner.count(t->inner.self);
    return t->limit > 0 && t->limit < n ? t->limit : n;
}

static enum loom_status timed_seek(void *self, int64_t epoch, int64_t index, struct loom_error *err)
{
    struct timed *t = self;
    t->t_ret = 0;
    t->pos = index;
    return t->inner.seek(t->inner.self, epoch, index, err);
}

static enum loom_status timed_next(void *self, const struct loom_batch **out,
                                   struct loom_error *err)
{
    struct timed *t = self;
    double t0 = bench_now();
    if (t->t_ret > 0) {
        double s = t0 - t->t_ret;
        t->step_s += s;
        if (t->nsteps < t->cap) t->step_ms[t->nsteps++] = s * 1e3;
    }
    enum loom_status st = LOOM_OK;
    if (t->limit > 0 && t->pos >= t->limit)
        *out = NULL;
    else
        st = t->inner.next(t->inner.self, out, err);
    double t1 = bench_now();
    t->pos++;
    t->load_s += t1 - t0;
    t->t_ret = !st && *out ? t1 : 0;
    if (!st && *out) t->rows += (*out)->n, t->batches++;
    return st;
}

struct epochs {
    struct timed *src;
    int n;
    double seconds[MAX_EPOCHS], load_s[MAX_EPOCHS], step_s[MAX_EPOCHS], loss[MAX_EPOCHS];
    int64_t rows[MAX_EPOCHS];
    int64_t first_step[MAX_EPOCHS + 1]; /* index into src->step_ms */
};

static void on_epoch(const struct loom_epoch_info *e, void *user)
{
    struct epochs *ep = user;
    struct timed *t = ep->src;
    int i = ep->n++;
    if (i >= MAX_EPOCHS) return;
    ep->seconds[i] = e->seconds, ep->load_s[i] = t->load_s, ep->step_s[i] = t->step_s;
    ep->rows[i] = t->rows;
    ep->loss[i] = loom_metrics_loss(e->train);
    ep->first_step[i + 1] = t->nsteps;
    fprintf(stderr,
            "loom-market-ref-train: epoch %d/%d: %lld rows in %.2f s (%.1f rows/s), loader "
            "%.2f s, steps %.2f s, train loss %.4f\n",
            e->epoch, e->epochs, (long long)t->rows, e->seconds, (double)t->rows / e->seconds,
            t->load_s, t->step_s, ep->loss[i]);
    t->load_s = t->step_s = 0, t->rows = t->batches = 0;
}

/* ---- FLOPs per batch (multiply-adds count 2) ---- */

/* A cnn branch: forward and forward+backward FLOPs of its convolutions
 * for `photos` photos (3x3, stride 1, max pool 2 between stages). The
 * first convolution needs no gradient of its input (the photos), so its
 * backward is the weights' only. Batch norm, ReLU, pooling and the
 * attention are left out (memory-bound, or tiny). */
static void cnn_flops(const struct loom_schema_branch *br, int64_t photos, double *fwd,
                      double *fwdbwd)
{
    double f = 0, fb = 0;
    int side = br->cnn.image_size, cin = 3;
    for (int i = 0; i < br->cnn.channels.n; i++) {
        int cout = br->cnn.channels.v[i];
        double x = 2.0 * side * side * cout * cin * 9;
        f += x, fb += i ? 3 * x : 2 * x;
        cin = cout, side /= 2;
    }
    *fwd = f * (double)photos, *fwdbwd = fb * (double)photos;
}

/* An rnn branch (LSTM or GRU): every step of every row, the input
 * projection and the recurrent product, per direction and layer; the
 * backward is twice the forward (input and weight gradients). Counts all T
 * steps, as the reference (no packing) computes them. */
static void rnn_flops(const struct loom_schema_branch *br, int T, int64_t n, double *fwd,
                      double *fwdbwd)
{
    int gates = br->rnn.cell == LOOM_CELL_GRU ? 3 : 4, H = br->rnn.hidden;
    int dirs = br->rnn.bidirectional ? 2 : 1;
    double f = 0;
    for (int l = 0, in = br->rnn.embed; l < br->rnn.layers; l++, in = dirs * H)
        f += (double)dirs * T * 2.0 * gates * H * (in + H);
    *fwd = f * (double)n, *fwdbwd = 3 * f * (double)n;
}

/* An mlp branch: its linear layers (the 2-D params of its group that are
 * not embedding tables). */
static void mlp_flops(const struct loom_model *m, int group, int64_t n, double *fwd, double *fwdbwd)
{
    double f = 0;
    for (int i = 0; i < m->store.n; i++) {
        const struct loom_param *p = m->store.params[i];
        if (p->group == group && !p->buffer && p->t.ndim == 2 && !strstr(p->name, ".embed."))
            f += 2.0 * (double)p->t.size;
    }
    *fwd = f * (double)n, *fwdbwd = 3 * f * (double)n;
}

/* ---- the time split ---- */

struct part {
    char name[48];
    double fwd_ms, fwdbwd_ms, flop_fwd, flop_fwdbwd; /* per batch (medians; FLOPs mean) */
};

/* One timed run of part k (k < nbranches: that encoder; else the whole
 * model) on b; false on failure (printed). */
static bool run_part(struct loom_ctx *c, struct loom_model *m, int k, const struct loom_batch *b,
                     bool backward, double *ms)
{
    loom_ctx_reset(c);
    c->grad_enabled = c->training = backward;
    double t0 = bench_now();
    enum loom_status st = LOOM_OK;
    if (k < m->nbranches) {
        struct loom_tensor *y = loom_encoder_forward(c, &m->enc[k], b, NULL);
        if (!y)
            st = c->status;
        else if (backward)
            st = loom_backward(c, y, NULL);
    } else {
        struct loom_forward f;
        st = loom_model_forward(c, m, b, &f);
        if (!st && backward) st = loom_model_loss(c, m, b, &f);
        if (!st && backward) st = loom_backward(c, f.loss, NULL);
    }
    *ms = (bench_now() - t0) * 1e3;
    if (st) fprintf(stderr, "loom-market-ref-train: split: %s\n", c->err.message);
    return !st;
}

static bool time_split(struct loom_model *m, const struct loom_dataset *d, int nb,
                       struct part *parts, int *nparts)
{
    struct loom_batcher_opts o = {.batch_size = m->schema.training.batch_size, .threads = 1};
    struct loom_batcher *bt = NULL;
    struct loom_error err = {0};
    if (loom_batcher_new(d, &o, &bt, &err)) {
        fprintf(stderr, "loom-market-ref-train: split: %s\n", err.message);
        return false;
    }
    int np = m->nbranches + 1;
    double *t = calloc((size_t)np * 2 * (size_t)nb, sizeof *t);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 7);
    c.bf16 = m->schema.training.precision == LOOM_PRECISION_BF16; /* as the trainer's */
    bool ok = t != NULL;
    for (int k = 0; k < np; k++) {
        parts[k] = (struct part){0};
        snprintf(parts[k].name, sizeof parts[k].name, "%s: %s",
                 k < m->nbranches ? m->schema.branches[k].name : "full model",
                 k < m->nbranches ? m->enc[k].cls->name : "loss+backward");
    }
    int got = 0;
    for (int i = 0; ok && got < nb; i++) {
        const struct loom_batch *b = NULL;
        if (loom_batcher_next(bt, &b, &err)) {
            fprintf(stderr, "loom-market-ref-train: split: %s\n", err.message);
            ok = false;
        }
        if (!ok || !b) break; /* an error, or the epoch's end */
        for (int k = 0; ok && k < np; k++) {
            double f, fb;
            ok = run_part(&c, m, k, b, false, &f) && run_part(&c, m, k, b, true, &fb);
            if (!ok || i == 0) continue; /* the first batch is a warm-up */
            t[(k * 2) * nb + got] = f, t[(k * 2 + 1) * nb + got] = fb;
            double x = 0, xb = 0;
            if (k < m->nbranches) {
                const struct loom_schema_branch *br = &m->schema.branches[k];
                if (br->encoder == LOOM_ENC_CNN) {
                    int64_t photos = 0;
                    for (int j = 0; j < br->ncolumns; j++) photos += b->cols[br->columns[j]].count;
                    cnn_flops(br, photos, &x, &xb);
                } else if (br->encoder == LOOM_ENC_RNN) {
                    rnn_flops(br, b->cols[br->columns[0]].width * br->ncolumns, b->n, &x, &xb);
                } else {
                    mlp_flops(m, m->enc[k].group, b->n, &x, &xb);
                }
            }
            parts[k].flop_fwd += x, parts[k].flop_fwdbwd += xb;
        }
        if (i > 0) got++;
        loom_store_zero_grad(&m->store);
    }
    for (int k = 0; ok && k < np; k++) {
        parts[k].fwd_ms = bench_pct(t + (k * 2) * nb, got, 50);
        parts[k].fwdbwd_ms = bench_pct(t + (k * 2 + 1) * nb, got, 50);
        parts[k].flop_fwd /= got, parts[k].flop_fwdbwd /= got;
    }
    *nparts = np;
    loom_ctx_done(&c);
    loom_batcher_free(&bt);
    free(t);
    return ok && got > 0;
}

/* ---- setup ---- */

static bool open_all(const char *path, struct loom_model **m, struct loom_dataset **d)
{
    struct loom_schema s;
    struct loom_diag dg = {0};
    if (loom_schema_load(path, NULL, &s, &dg)) {
        loom_diag_print(&dg, stderr);
        loom_diag_done(&dg);
        return false;
    }
    loom_diag_done(&dg);
    struct loom_dataset_opts o;
    loom_dataset_opts_default(&o);
    struct loom_prep *p = NULL;
    struct loom_data_report rep = {0};
    struct loom_error err = {0};
    double t0 = bench_now();
    enum loom_status st = loom_prep_fit(&s, &o, &p, &rep, &err);
    if (!st) st = loom_model_new(&s, &p, (uint64_t)s.training.seed, NULL, m, &err);
    loom_prep_free(&p);
    loom_schema_free(&s);
    if (!st) st = loom_dataset_open(&(*m)->schema, (*m)->prep, LOOM_SPLIT_TRAIN, &o, d, &rep, &err);
    if (st) {
        fprintf(stderr, "loom-market-ref-train: %s\n", err.message);
        return false;
    }
    fprintf(stderr,
            "loom-market-ref-train: %lld training rows, %lld photos (%lld bad)%s, ready in "
            "%.1f s\n",
            (long long)loom_dataset_rows(*d), (long long)rep.images_ok, (long long)rep.images_bad,
            rep.from_cache ? " from the dataset cache" : " decoded (cache written)",
            bench_now() - t0);
    return true;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: loom-market-ref-train SCHEMA [--epochs E] [--warmup W] [--threads N]\n"
            "       [--split-batches K] [--batches B] [--save MODEL] [--json OUT] [--bf16]\n");
    return 2;
}

static double median_of(const double *v, int n)
{
    double tmp[MAX_EPOCHS];
    memcpy(tmp, v, (size_t)n * sizeof *v);
    return bench_pct(tmp, n, 50);
}

static void write_json(FILE *f, const struct loom_model *m, int64_t params, const struct epochs *ep,
                       int warm, double step_p50, double step_p90, long maxrss_kb,
                       const struct part *parts, int np)
{
    int n = ep->n - warm;
    double e2e[MAX_EPOCHS], step[MAX_EPOCHS], load[MAX_EPOCHS];
    for (int i = 0; i < n; i++) {
        double r = (double)ep->rows[warm + i];
        e2e[i] = r / ep->seconds[warm + i];
        step[i] = r / ep->step_s[warm + i];
        load[i] = ep->load_s[warm + i] / ep->seconds[warm + i];
    }
    fprintf(f, "{\"params\": %lld, \"threads\": %d, \"batch\": %d,\n", (long long)params,
            loom_threads_get(), m->schema.training.batch_size);
    fprintf(f,
            " \"train\": {\"rows_per_epoch\": %lld, \"epochs_timed\": %d, \"warmup_epochs\": %d,\n",
            (long long)ep->rows[warm], n, warm);
    fprintf(f, "  \"e2e_rows_per_s_median\": %.3f, \"step_rows_per_s_median\": %.3f,\n",
            median_of(e2e, n), median_of(step, n));
    fprintf(f, "  \"loader_share_median\": %.4f, \"step_ms_p50\": %.3f, \"step_ms_p90\": %.3f,\n",
            median_of(load, n), step_p50, step_p90);
    fprintf(f, "  \"e2e_rows_per_s_all\": [");
    for (int i = 0; i < n; i++) fprintf(f, "%s%.3f", i ? ", " : "", e2e[i]);
    fprintf(f, "], \"loss_per_epoch\": [");
    for (int i = 0; i < ep->n; i++) fprintf(f, "%s%.5f", i ? ", " : "", ep->loss[i]);
    fprintf(f, "]},\n \"maxrss_kb\": %ld,\n \"split\": [", maxrss_kb);
    for (int k = 0; k < np; k++)
        fprintf(f,
                "%s\n  {\"part\": \"%s\", \"fwd_ms\": %.4f, \"fwd_bwd_ms\": %.4f, "
                "\"flop_fwd\": %.6g, \"flop_fwd_bwd\": %.6g}",
                k ? "," : "", parts[k].name, parts[k].fwd_ms, parts[k].fwdbwd_ms, parts[k].flop_fwd,
                parts[k].flop_fwdbwd);
    fprintf(f, "\n ]}\n");
}

int main(int argc, char **argv)
{
    const char *schema = NULL, *save = NULL, *json = NULL;
    int epochs = 3, warm = 1, threads = 2, split = 4, batches = 0;
    bool bf16 = false;
    for (int i = 1; i < argc; i++) {
        bool has = i + 1 < argc;
        if (!strcmp(argv[i], "--epochs") && has)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && has)
            warm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && has)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--split-batches") && has)
            split = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batches") && has)
            batches = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--save") && has)
            save = argv[++i];
        else if (!strcmp(argv[i], "--json") && has)
            json = argv[++i];
        else if (!strcmp(argv[i], "--bf16"))
            bf16 = true;
        else if (argv[i][0] == '-' || schema)
            return usage();
        else
            schema = argv[i];
    }
    if (!schema || epochs < 1 || warm < 0 || epochs + warm > MAX_EPOCHS || threads < 1 || split < 1)
        return usage();
    loom_threads_set(threads);
    struct loom_model *m = NULL;
    struct loom_dataset *d = NULL;
    if (!open_all(schema, &m, &d)) {
        loom_dataset_close(&d);
        loom_model_free(&m);
        return 1;
    }
    /* As `training.precision: bf16` in the schema (the trainer falls back to
     * fp32 with a notice where the CPU has no bf16). */
    if (bf16) m->schema.training.precision = LOOM_PRECISION_BF16;
    int64_t params = 0;
    for (int i = 0; i < m->store.n; i++)
        if (!m->store.params[i]->buffer) params += m->store.params[i]->t.size;
    fprintf(stderr, "loom-market-ref-train: %lld parameters, %d threads\n", (long long)params,
            loom_threads_get());
    const struct loom_schema_training *tr = &m->schema.training;
    int64_t n = loom_dataset_rows(d);
    struct loom_batcher_opts bo = {.batch_size = tr->batch_size,
                                   .shuffle = true,
                                   .training = true,
                                   .drop_last = n % tr->batch_size == 1,
                                   .seed = (uint64_t)tr->seed,
                                   .threads = 1};
    struct loom_batcher *bt = NULL;
    struct loom_error err = {0};
    struct timed src = {0};
    struct epochs ep = {.src = &src};
    int rc = 1;
    if (loom_batcher_new(d, &bo, &bt, &err)) goto fail;
    loom_source_batcher(&src.inner, bt);
    src.limit = batches;
    src.cap = (epochs + warm) * loom_batcher_count(bt) + 1;
    if (!(src.step_ms = calloc((size_t)src.cap, sizeof *src.step_ms))) goto fail;
    struct loom_source ts = {&src, timed_count, timed_seek, timed_next};
    struct loom_train_opts to = {.checkpoint_dir = "",
                                 .run_dir = "",
                                 .epochs = epochs + warm,
                                 .data_seed = (uint64_t)tr->seed,
                                 .on_epoch = on_epoch,
                                 .user = &ep};
    if (loom_train(m, &ts, NULL, &to, NULL, &err)) goto fail;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t s0 = ep.first_step[warm], ns = src.nsteps - s0;
    double p50 = bench_pct(src.step_ms + s0, ns, 50), p90 = bench_pct(src.step_ms + s0, ns, 90);
    fprintf(stderr, "loom-market-ref-train: peak RSS %.1f MiB; step p50 %.1f ms p90 %.1f ms\n",
            (double)ru.ru_maxrss / 1024, p50, p90);
    struct part parts[MAX_PARTS];
    int np = 0;
    if (m->nbranches + 1 > MAX_PARTS || !time_split(m, d, split, parts, &np)) {
        fprintf(stderr, "loom-market-ref-train: the time split failed\n");
        goto done;
    }
    for (int k = 0; k < np; k++)
        fprintf(stderr,
                "loom-market-ref-train: split %-24s fwd %8.2f ms  fwd+bwd %8.2f ms  "
                "%7.1f GFLOP/s fwd+bwd\n",
                parts[k].name, parts[k].fwd_ms, parts[k].fwdbwd_ms,
                parts[k].flop_fwdbwd / parts[k].fwdbwd_ms * 1e-6);
    if (save && loom_model_save(m, save, NULL, &err)) goto fail;
    FILE *f = json ? fopen(json, "w") : stdout;
    if (!f) {
        perror(json);
        goto done;
    }
    write_json(f, m, params, &ep, warm, p50, p90, ru.ru_maxrss, parts, np);
    rc = f == stdout || fclose(f) == 0 ? 0 : 1;
    goto done;
fail:
    fprintf(stderr, "loom-market-ref-train: %s\n", err.message[0] ? err.message : "out of memory");
done:
    free(src.step_ms);
    loom_batcher_free(&bt);
    loom_dataset_close(&d);
    loom_model_free(&m);
    return rc;
}
