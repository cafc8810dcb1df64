/*
 * cmd_train.c — `loom train SCHEMA`: load and check the schema (every error
 * printed, as `loom check` does), fit the preprocessing on the training
 * rows, open the training and validation rows (with the dataset cache) and
 * report what they held, build the model, train it (fusion/trainer.h:
 * progress on stderr, metrics.jsonl and checkpoints in the run directory,
 * every dropped photo in its bad_images.tsv),
 * then save the best model (or the final one when no epoch improved) with a
 * checksum of the data it was trained on, and print its validation
 * metrics. Exit 0 when trained (or stopped by --stop-after), 1 on failure,
 * 2 on usage.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/model_file.h"
#include "core/threads.h"
#include "fusion/trainer.h"
#include "loaders/cache.h"

static const char *const CMD = "train";

struct opts {
    const char *schema, *out, *run_dir, *branches;
    bool resume, no_cache, quiet;
    long long epochs, seed, threads, stop_after, checkpoint_every;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: loom train [OPTIONS] SCHEMA.yaml\n\n"
               "Fit the preprocessing, train the model the schema describes, save it and\n"
               "print its validation metrics.\n"
               "  --out MODEL      the model file (default: RUN_DIR/model.loom)\n"
               "  --run-dir DIR    checkpoints (last.loom, previous.loom, best.loom),\n"
               "                   metrics.jsonl and bad_images.tsv\n"
               "                   (default: the schema's training.checkpoint_dir; with\n"
               "                   --branches, its subdirectory branches-A+B)\n"
               "  --resume         continue from the newest valid checkpoint in RUN_DIR\n"
               "  --epochs N       instead of training.epochs\n"
               "  --seed S         instead of training.seed\n"
               "  --threads N      compute threads (default: training.threads; 0: all cores)\n"
               "  --branches A,B   keep only these branches (an ablation: the others'\n"
               "                   columns are not used; the outputs are the same)\n"
               "  --stop-after N   stop after N steps in all, leaving a checkpoint that\n"
               "                   --resume continues from\n"
               "  --checkpoint-every N\n"
               "                   also write last.loom every N steps (default: at the end\n"
               "                   of each epoch only)\n"
               "  --no-cache       neither read nor write the dataset cache\n"
               "  --quiet          no progress and no data report\n");
}

/* -1 to go on, else the exit code (0 after --help). */
static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.epochs = -1, .seed = -1, .threads = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (loom_cli_is_help(a)) {
            usage(stdout);
            return LOOM_EXIT_OK;
        } else if (!strcmp(a, "--out") && has) {
            o->out = argv[++i];
        } else if (!strcmp(a, "--run-dir") && has) {
            o->run_dir = argv[++i];
        } else if (!strcmp(a, "--branches") && has) {
            o->branches = argv[++i];
        } else if (!strcmp(a, "--epochs") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 1, 1000000, &o->epochs)) return LOOM_EXIT_USAGE;
        } else if (!strcmp(a, "--seed") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 0, INT64_MAX, &o->seed)) return LOOM_EXIT_USAGE;
        } else if (!strcmp(a, "--threads") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 0, 1024, &o->threads)) return LOOM_EXIT_USAGE;
        } else if (!strcmp(a, "--stop-after") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 1, INT64_MAX, &o->stop_after))
                return LOOM_EXIT_USAGE;
        } else if (!strcmp(a, "--checkpoint-every") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 1, INT64_MAX, &o->checkpoint_every))
                return LOOM_EXIT_USAGE;
        } else if (!strcmp(a, "--resume")) {
            o->resume = true;
        } else if (!strcmp(a, "--no-cache")) {
            o->no_cache = true;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = true;
        } else if (a[0] == '-' || o->schema) {
            usage(stderr);
            return LOOM_EXIT_USAGE;
        } else {
            o->schema = a;
        }
    }
    if (!o->schema) {
        usage(stderr);
        return LOOM_EXIT_USAGE;
    }
    return -1;
}

/* FNV-1a 64 over the bytes of the training and validation CSVs (not the
 * photos): "fnv1a64:<16 hex digits>". */
static bool data_checksum(const struct loom_schema *s, char out[32])
{
    const char *files[2] = {s->data.train, s->data.valid};
    uint64_t h = LOOM_FNV_SEED;
    static char buf[1 << 16];
    for (int i = 0; i < 2; i++) {
        if (!files[i]) continue;
        FILE *f = fopen(files[i], "rb");
        if (!f) return false;
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = loom_fnv1a(h, buf, n);
        bool bad = ferror(f);
        fclose(f);
        if (bad) return false;
    }
    snprintf(out, 32, "fnv1a64:%016llx", (unsigned long long)h);
    return true;
}

/* The step a checkpoint's train state has reached, or -1 (with why) when
 * the file is not a usable checkpoint. */
static long long checkpoint_step(const char *path, char *why, size_t n)
{
    if (access(path, F_OK) != 0) {
        snprintf(why, n, "%s: not there", path);
        return -1;
    }
    struct loom_model_file *mf = NULL;
    struct loom_error err = {0};
    if (loom_model_file_open(path, NULL, &mf, &err) != LOOM_OK) {
        snprintf(why, n, "%s: %s", path, err.message);
        return -1;
    }
    const char *state = loom_model_file_meta(mf, "train_state");
    json_t *o = state ? json_loads(state, 0, NULL) : NULL;
    json_t *step = json_object_get(o, "step");
    long long v = json_is_integer(step) ? (long long)json_integer_value(step) : -1;
    if (v < 0) snprintf(why, n, "%s: no train state", path);
    json_decref(o);
    loom_model_file_close(&mf);
    return v;
}

/* The checkpoints a run directory may hold (trainer.h). */
static const char *const checkpoints[3] = {"last.loom", "previous.loom", "best.loom"};

/* The newest checkpoint of dir that opens (header, sizes, checksum) into
 * path, or false (printed why). A damaged one is reported and passed over:
 * the resume takes an older one. */
static bool newest_checkpoint(const char *dir, char *path, size_t n, long long *step)
{
    char why[3][4800], cand[4096];
    long long best = -1, steps[3];
    bool there[3];
    for (int i = 0; i < 3; i++) {
        snprintf(cand, sizeof cand, "%s/%s", dir, checkpoints[i]);
        there[i] = access(cand, F_OK) == 0;
        steps[i] = checkpoint_step(cand, why[i], sizeof why[i]);
        if (steps[i] > best) {
            best = steps[i];
            snprintf(path, n, "%s", cand);
        }
    }
    if (best < 0) {
        fprintf(stderr, "loom %s: --resume: no valid checkpoint in %s\n  %s\n  %s\n  %s\n", CMD,
                dir, why[0], why[1], why[2]);
        return false;
    }
    for (int i = 0; i < 3; i++) /* even with --quiet */
        if (steps[i] < 0 && there[i])
            fprintf(stderr, "loom %s: --resume: passing over %s\n", CMD, why[i]);
    *step = best;
    return true;
}

/* Temporary files of saves a kill interrupted (".last.loom.tmp-XXXXXX",
 * ".model.loom.tmp-XXXXXX": core/model_file.h; ".previous.loom.tmp-link")
 * and of metrics.jsonl's rewrite: never complete, removed. */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char path[4400];
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, "metrics.jsonl.tmp") &&
            !(e->d_name[0] == '.' && strstr(e->d_name, ".loom.tmp-")))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* A fresh run starts with no checkpoint or metrics of an earlier one. */
static bool clear_run(const char *dir)
{
    static const char *const names[4] = {"last.loom", "previous.loom", "best.loom",
                                         "metrics.jsonl"};
    char path[4096];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            fprintf(stderr, "loom %s: %s: cannot remove: %s\n", CMD, path, strerror(errno));
            return false;
        }
    }
    return true;
}

struct timing {
    double seconds;
    int epochs;
};

static void on_epoch(const struct loom_epoch_info *e, void *user)
{
    struct timing *t = user;
    t->seconds += e->seconds;
    t->epochs++;
}

struct run {
    struct loom_model *m;
    struct loom_dataset *train, *valid;
    struct loom_batcher *tb, *vb;
    struct loom_source ts, vs;
    char *run_dir, *out;
};

static void run_done(struct run *r)
{
    loom_batcher_free(&r->tb);
    loom_batcher_free(&r->vb);
    loom_dataset_close(&r->train);
    loom_dataset_close(&r->valid);
    loom_model_free(&r->m);
    free(r->run_dir);
    free(r->out);
}

/* The run directory and the model's path; false when out of memory. */
static bool run_paths(const struct opts *o, const struct loom_schema *s, struct run *r)
{
    const char *dir = o->run_dir ? o->run_dir : s->training.checkpoint_dir;
    size_t len = strlen(dir) + 16;
    for (int b = 0; b < s->nbranches; b++) len += strlen(s->branches[b].name) + 1;
    if (!(r->run_dir = malloc(len))) return false;
    size_t at = (size_t)snprintf(r->run_dir, len, "%s", dir);
    if (o->branches && !o->run_dir) /* an ablation's own directory: branches-A+B */
        for (int b = 0; b < s->nbranches; b++)
            at += (size_t)snprintf(r->run_dir + at, len - at, "%s%s", b ? "+" : "/branches-",
                                   s->branches[b].name);
    if (o->out)
        r->out = strdup(o->out);
    else if (asprintf(&r->out, "%s/model.loom", r->run_dir) < 0)
        r->out = NULL;
    return r->out != NULL;
}

/* RUN_DIR/bad_images.tsv: every photo the data passes dropped. */
struct bad_log {
    FILE *f;
    const char *split;
    int64_t n;
};

static void on_bad_photo(const struct loom_bad_photo *b, void *user)
{
    struct bad_log *l = user;
    l->n++;
    if (l->f)
        fprintf(l->f, "%s\t%lld\t%s\t%s\t%s\n", l->split, (long long)b->line, b->column, b->path,
                b->reason);
}

/* Close the log; false (printed) when it could not be written. */
static bool bad_log_close(struct bad_log *l, const char *path, bool quiet)
{
    bool ok = l->f && !ferror(l->f);
    if (l->f && fclose(l->f) != 0) ok = false;
    l->f = NULL;
    if (!ok)
        fprintf(stderr, "loom %s: %s: cannot write: %s\n", CMD, path, strerror(errno));
    else if (l->n && !quiet)
        fprintf(stderr, "loom %s: %lld dropped photo%s listed in %s\n", CMD, (long long)l->n,
                l->n == 1 ? "" : "s", path);
    return ok;
}

/* The training and validation rows; false after printing why. */
static bool open_data(const struct opts *o, struct run *r, struct loom_dataset_opts *dopt)
{
    const struct loom_schema *ms = &r->m->schema;
    enum loom_split splits[2] = {LOOM_SPLIT_TRAIN, LOOM_SPLIT_VALID};
    struct loom_dataset **ds[2] = {&r->train, &r->valid};
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/bad_images.tsv", r->run_dir);
    struct bad_log log = {.f = fopen(log_path, "w")};
    if (log.f) fputs("split\tline\tcolumn\tpath\treason\n", log.f);
    dopt->on_bad_photo = on_bad_photo;
    dopt->user = &log;
    bool ok = true;
    for (int i = 0; i < 2 && ok; i++) {
        const char *path = loom_cli_split_path(ms, splits[i]);
        char what[4200];
        snprintf(what, sizeof what, "%s (%s)", path, i ? "valid" : "train");
        struct loom_data_report rep = {0};
        struct loom_error err = {0};
        log.split = i ? "valid" : "train";
        if (loom_dataset_open(ms, r->m->prep, splits[i], dopt, ds[i], &rep, &err) != LOOM_OK) {
            if (rep.rows_bad || rep.images_bad) loom_cli_report(CMD, what, &rep);
            loom_cli_error(CMD, &err);
            ok = false;
        } else {
            if (!o->quiet) loom_cli_report(CMD, what, &rep);
            if (loom_dataset_rows(*ds[i]) == 0) {
                fprintf(stderr, "loom %s: %s: no usable row\n", CMD, what);
                ok = false;
            }
        }
    }
    dopt->on_bad_photo = NULL;
    return bad_log_close(&log, log_path, o->quiet && ok) && ok;
}

/* Schema, prep, model, data and batchers; false after printing why. */
static bool prepare(const struct opts *o, struct run *r)
{
    struct loom_schema s;
    if (!loom_cli_schema_load(CMD, o->schema, &s)) return false;
    struct loom_prep *prep = NULL;
    struct loom_error err = {0};
    bool ok = !o->branches || loom_cli_keep_branches(CMD, &s, o->branches);
    if (ok && o->epochs > 0) s.training.epochs = (int)o->epochs;
    if (ok && o->seed >= 0) s.training.seed = o->seed;
    if (ok && !(ok = run_paths(o, &s, r))) fprintf(stderr, "loom %s: out of memory\n", CMD);
    ok = ok && loom_cli_mkdirs(CMD, r->run_dir);
    loom_threads_set(o->threads >= 0 ? (int)o->threads : s.training.threads);
    struct loom_dataset_opts dopt;
    loom_dataset_opts_default(&dopt);
    dopt.use_cache = !o->no_cache;
    struct loom_data_report rep = {0};
    if (ok && loom_prep_fit(&s, &dopt, &prep, &rep, &err) != LOOM_OK) {
        if (rep.rows_bad) loom_cli_report(CMD, s.data.train, &rep);
        loom_cli_error(CMD, &err);
        ok = false;
    }
    if (ok && loom_model_new(&s, &prep, (uint64_t)s.training.seed, NULL, &r->m, &err) != LOOM_OK) {
        loom_cli_error(CMD, &err);
        ok = false;
    }
    loom_schema_free(&s); /* zeroed when the model took it */
    loom_prep_free(&prep);
    if (!ok) return false;
    if (!open_data(o, r, &dopt)) return false;
    const struct loom_schema *ms = &r->m->schema;
    int bs = ms->training.batch_size;
    int64_t n = loom_dataset_rows(r->train);
    /* a last batch of one row cannot train (batch norm): drop it then */
    struct loom_batcher_opts tbo = {.batch_size = bs,
                                    .shuffle = true,
                                    .training = true,
                                    .drop_last = n % bs == 1,
                                    .seed = (uint64_t)ms->training.seed,
                                    .threads = 1};
    struct loom_batcher_opts vbo = {.batch_size = bs, .threads = 1};
    if (loom_batcher_new(r->train, &tbo, &r->tb, &err) != LOOM_OK ||
        loom_batcher_new(r->valid, &vbo, &r->vb, &err) != LOOM_OK) {
        loom_cli_error(CMD, &err);
        return false;
    }
    loom_source_batcher(&r->ts, r->tb);
    loom_source_batcher(&r->vs, r->vb);
    return true;
}

/* The best checkpoint's weights into the model, when there is one. */
static bool take_best(struct run *r, bool *from_best)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/best.loom", r->run_dir);
    *from_best = access(path, F_OK) == 0;
    if (!*from_best) return true;
    struct loom_model_file *mf = NULL;
    struct loom_error err = {0};
    enum loom_status st = loom_model_file_open(path, NULL, &mf, &err);
    if (!st) st = loom_model_file_load_store(mf, &r->m->store, false, &err);
    loom_model_file_close(&mf);
    if (st) {
        if (!err.file[0]) snprintf(err.file, sizeof err.file, "%.255s", path);
        loom_cli_error(CMD, &err);
    }
    return !st;
}

static int finish(const struct opts *o, struct run *r, const struct loom_train_result *res,
                  const struct timing *tm)
{
    if (res->stopped) {
        fprintf(stderr,
                "loom %s: stopped after %lld steps (--stop-after); the checkpoint %s\n"
                "  continues with: loom train --resume ...\n",
                CMD, (long long)res->steps, res->last);
        return LOOM_EXIT_OK;
    }
    if (tm->epochs > 0 && !o->quiet) {
        double per = tm->seconds / tm->epochs;
        fprintf(stderr, "loom %s: %d epoch%s in %.1f s: %.1f s an epoch, %.0f training rows/s\n",
                CMD, tm->epochs, tm->epochs == 1 ? "" : "s", tm->seconds, per,
                per > 0 ? (double)loom_dataset_rows(r->train) / per : 0);
    }
    bool from_best;
    if (!take_best(r, &from_best)) return LOOM_EXIT_FAIL;
    struct loom_metrics mt = {0};
    struct loom_error err = {0};
    char sum[32];
    if (!data_checksum(&r->m->schema, sum)) {
        fprintf(stderr, "loom %s: cannot read the data files for their checksum: %s\n", CMD,
                strerror(errno));
        return LOOM_EXIT_FAIL;
    }
    struct loom_model_save_opts so = {.data_checksum = sum};
    enum loom_status st = loom_metrics_init(&mt, r->m, &err);
    if (!st) st = loom_evaluate(r->m, &r->vs, &mt, &err);
    if (!st) st = loom_model_save(r->m, r->out, &so, &err);
    if (st) {
        loom_cli_error(CMD, &err);
        loom_metrics_done(&mt);
        return LOOM_EXIT_FAIL;
    }
    if (from_best)
        printf("model: %s (the best epoch, %d, by valid %s)\n", r->out, res->best_epoch,
               r->m->schema.training.early_stopping.metric);
    else
        printf("model: %s (the last epoch)\n", r->out);
    loom_cli_metrics_table(stdout, &mt, "valid");
    loom_metrics_done(&mt);
    return LOOM_EXIT_OK;
}

int loom_cmd_train(int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) return rc;
    struct run r = {0};
    if (!prepare(&o, &r)) {
        run_done(&r);
        return LOOM_EXIT_FAIL;
    }
    char resume[4200];
    long long step = 0;
    /* a fresh run starts clean, once everything it needs is there */
    remove_stale_temps(r.run_dir);
    if ((!o.resume && !clear_run(r.run_dir)) ||
        (o.resume && !newest_checkpoint(r.run_dir, resume, sizeof resume, &step))) {
        run_done(&r);
        return LOOM_EXIT_FAIL;
    }
    if (o.resume && !o.quiet)
        fprintf(stderr, "loom %s: resuming from %s (step %lld)\n", CMD, resume, step);
    struct timing tm = {0};
    struct loom_train_opts to = {.checkpoint_dir = r.run_dir,
                                 .run_dir = r.run_dir,
                                 .resume = o.resume ? resume : NULL,
                                 .stop_after = o.stop_after,
                                 .checkpoint_every = o.checkpoint_every,
                                 .data_seed = (uint64_t)r.m->schema.training.seed,
                                 .progress = o.quiet ? NULL : stderr,
                                 .on_epoch = on_epoch,
                                 .user = &tm};
    struct loom_train_result res;
    struct loom_error err = {0};
    if (loom_train(r.m, &r.ts, &r.vs, &to, &res, &err) != LOOM_OK) {
        loom_cli_error(CMD, &err);
        run_done(&r);
        return LOOM_EXIT_FAIL;
    }
    rc = finish(&o, &r, &res, &tm);
    run_done(&r);
    return rc;
}
