/*
 * loom_train.c — loom's side of the twin comparison: train a schema's model
 * with fusion's trainer (the same calls `loom train` makes) and print one
 * line per epoch and a final JSON line with the validation metrics, in the
 * form train.py prints them.
 *
 *   torch-twin-loom-train SCHEMA [--seed S] [--threads N] [--epochs E] [--eval]
 *
 * --eval only evaluates the freshly initialised model (no training): with
 * train.py --init --eval, a check that both sides compute the same
 * function (evaluation mode) from the same weights.
 * The seed initialises the model, orders the training rows and drives
 * dropout. Training batches: the schema's batch size, shuffled, the last
 * partial batch dropped only when it would be one row (as `loom train`);
 * evaluation batches in order. No checkpoints.
 * Metrics of the first number output: the validation loss (MSE in the
 * normalised space) and its root, the RMSE of log1p(price) ("rmsle") and of
 * the price in the column's units.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/threads.h"
#include "fusion/trainer.h"
#include "twin.h"

struct run {
    double t0;
    double rmse_norm, rmsle, rmse, train_loss;
    int epochs;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_epoch(const struct loom_epoch_info *e, void *user)
{
    struct run *r = user;
    const struct loom_macc *a = &e->valid->acc[0];
    r->train_loss = loom_metrics_loss(e->train);
    r->rmse_norm = sqrt(loom_metrics_loss(e->valid));
    r->rmsle = loom_macc_get(a, "rmsle");
    r->rmse = loom_macc_get(a, "rmse");
    r->epochs = e->epoch;
    printf("epoch %d/%d train_loss %.5f valid_rmse_norm %.5f valid_rmse_log %.5f "
           "valid_rmse %.3f (%.0f s)\n",
           e->epoch, e->epochs, r->train_loss, r->rmse_norm, r->rmsle, r->rmse, now() - r->t0);
    fflush(stdout);
}

/* The validation metrics of the model as it is, in r. */
static enum loom_status evaluate_only(struct loom_model *m, struct loom_source *vs, struct run *r,
                                      struct loom_error *err)
{
    struct loom_metrics vm = {0};
    enum loom_status st = loom_metrics_init(&vm, m, err);
    if (!st) st = loom_evaluate(m, vs, &vm, err);
    if (!st) {
        struct loom_metrics tm = vm;
        struct loom_epoch_info e = {.epoch = 0, .epochs = 0, .train = &tm, .valid = &vm};
        on_epoch(&e, r);
    }
    loom_metrics_done(&vm);
    return st;
}

static int usage(void)
{
    fprintf(stderr, "usage: torch-twin-loom-train SCHEMA [--seed S] [--threads N] [--epochs E] "
                    "[--eval]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    const char *schema = argv[1];
    int threads = 2, epochs = 0;
    uint64_t seed = 1;
    bool eval_only = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--eval"))
            eval_only = true;
        else
            return usage();
    }
    loom_threads_set(threads);
    struct twin t;
    if (!twin_open(&t, schema, seed, threads)) return 1;
    const struct loom_schema_training *tr = &t.m->schema.training;
    if (t.m->nheads < 1 || t.m->heads[0].type != LOOM_COL_NUMBER) {
        fprintf(stderr, "the first output must be a number\n");
        twin_close(&t);
        return 1;
    }
    struct loom_batcher_opts to = {.batch_size = tr->batch_size,
                                   .shuffle = true,
                                   .training = true,
                                   .drop_last = loom_dataset_rows(t.train) % tr->batch_size == 1,
                                   .seed = seed,
                                   .threads = 1};
    struct loom_batcher_opts vo = {.batch_size = tr->batch_size, .threads = 1};
    struct loom_batcher *tb = NULL, *vb = NULL;
    struct loom_error err = {0};
    struct run r = {.t0 = now()};
    enum loom_status st = loom_batcher_new(t.train, &to, &tb, &err);
    if (!st) st = loom_batcher_new(t.valid, &vo, &vb, &err);
    if (!st) {
        struct loom_source ts, vs;
        loom_source_batcher(&ts, tb);
        loom_source_batcher(&vs, vb);
        struct loom_train_opts o = {.checkpoint_dir = "",
                                    .run_dir = "",
                                    .epochs = epochs,
                                    .data_seed = seed,
                                    .progress = stderr,
                                    .on_epoch = on_epoch,
                                    .user = &r};
        int64_t params = 0;
        for (int i = 0; i < t.m->store.n; i++)
            if (!t.m->store.params[i]->buffer) params += t.m->store.params[i]->t.size;
        printf("loom: %lld params, %lld training rows, %lld validation rows, seed %llu, "
               "%d threads\n",
               (long long)params, (long long)loom_dataset_rows(t.train),
               (long long)loom_dataset_rows(t.valid), (unsigned long long)seed, loom_threads_get());
        fflush(stdout);
        if (eval_only)
            st = evaluate_only(t.m, &vs, &r, &err);
        else
            st = loom_train(t.m, &ts, &vs, &o, NULL, &err);
    }
    if (st)
        fprintf(stderr, "train: %s\n", err.message[0] ? err.message : loom_strerror(st));
    else
        printf("{\"side\": \"loom\", \"seed\": %llu, \"epochs\": %d, \"seconds\": %.1f, "
               "\"train_loss\": %.6f, \"valid_rmse_norm\": %.6f, \"valid_rmse_log\": %.6f, "
               "\"valid_rmse\": %.4f}\n",
               (unsigned long long)seed, r.epochs, now() - r.t0, r.train_loss, r.rmse_norm, r.rmsle,
               r.rmse);
    loom_batcher_free(&tb);
    loom_batcher_free(&vb);
    twin_close(&t);
    return st ? 1 : 0;
}
