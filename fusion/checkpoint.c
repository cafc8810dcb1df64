/*
 * checkpoint.c — the trainer's checkpoints (trainer.h): a model file with
 * the optimizer moments and metadata "train_state", a JSON object:
 *
 *   {"version": 1, "epoch": E, "batch": B, "step": S, "epochs": N,
 *    "batches_per_epoch": P, "data_seed": "…",
 *    "optimizer": {"type": "adamw", "step": S, "group_step": [...]},
 *    "rng": {"step": {"seed": "…", "stream": "…", "counter": "…",
 *                     "buf": [4 × u32], "avail": a}},
 *    "schedule": {"type": "one_cycle", "total": T, "position": S},
 *    "best": {"metric": "loss", "value": x | null, "epoch": e, "bad_epochs": k},
 *    "bad_steps": n, "train_loss_sum": x, "train_rows": r}
 *
 * The next batch is batch B of epoch E (0-based). 64-bit unsigned values are
 * strings (JSON numbers lose them past 2^53 in most readers); doubles are
 * written with 17 digits, so they read back exactly. A resume checks that
 * the checkpoint's schema text is the model's and that the run's shape
 * (epochs, batches per epoch, data seed) is the same.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "model_io.h"
#include "trainer_impl.h"

enum loom_status loom_mkdirs(const char *path, struct loom_error *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return loom_error_set(err, LOOM_ERR_INVALID, "checkpoint directory '%s': bad path", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return loom_error_set(err, LOOM_ERR_IO, "%s: cannot create: %s", buf, strerror(errno));
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return loom_error_set(err, LOOM_ERR_IO, "%s: not a directory", path);
    return LOOM_OK;
}

static json_t *u64(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, v);
    return json_string(s);
}

static const char *const sched_names[] = {
    [LOOM_SCHEDULE_CONSTANT] = "constant",
    [LOOM_SCHEDULE_WARMUP] = "warmup",
    [LOOM_SCHEDULE_ONE_CYCLE] = "one_cycle",
};

static char *state_json(const struct trainer *t)
{
    const struct loom_rng *r = &t->c.rng;
    json_t *gs = json_array();
    for (int g = 0; gs && g < LOOM_MAX_GROUPS; g++)
        json_array_append_new(gs, json_integer(t->opt.group_step[g]));
    json_t *buf = json_pack("[I, I, I, I]", (json_int_t)r->buf[0], (json_int_t)r->buf[1],
                            (json_int_t)r->buf[2], (json_int_t)r->buf[3]);
    json_t *o = json_pack(
        "{s:i, s:I, s:I, s:I, s:i, s:I, s:o,"
        " s:{s:s, s:I, s:o},"
        " s:{s:{s:o, s:o, s:o, s:o, s:i}},"
        " s:{s:s, s:I, s:I},"
        " s:{s:s, s:o, s:i, s:i},"
        " s:I, s:f, s:I}",
        "version", 1, "epoch", (json_int_t)t->epoch, "batch", (json_int_t)t->batch, "step",
        (json_int_t)t->step, "epochs", t->epochs, "batches_per_epoch", (json_int_t)t->per_epoch,
        "data_seed", u64(t->data_seed), "optimizer", "type",
        t->opt.type == LOOM_OPTIM_SGD ? "sgd" : "adamw", "step", (json_int_t)t->opt.step,
        "group_step", gs, "rng", "step", "seed", u64(r->seed), "stream", u64(r->stream), "counter",
        u64(r->counter), "buf", buf, "avail", r->avail, "schedule", "type",
        sched_names[t->sched.type], "total", (json_int_t)t->sched.total, "position",
        (json_int_t)t->step, "best", "metric", t->metric, "value",
        isfinite(t->es.best) ? json_real(t->es.best) : json_null(), "epoch", t->es.best_epoch,
        "bad_epochs", t->es.bad_epochs, "bad_steps", (json_int_t)t->bad_steps, "train_loss_sum",
        t->loss_sum, "train_rows", (json_int_t)t->loss_rows);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    return s;
}

enum loom_status loom_trainer_save(struct trainer *t, const char *path, struct loom_error *err)
{
    char *state = state_json(t);
    if (!state) return loom_error_set(err, LOOM_ERR_NOMEM, "train state: out of memory");
    struct loom_model_save_opts so = {.with_optim = true, .train_state = state};
    enum loom_status st = loom_model_save(t->m, path, &so, err);
    free(state);
    return st;
}

/* ---- resume ---- */

static bool get_u64(json_t *o, const char *key, uint64_t *v)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || errno) return false;
    *v = x;
    return true;
}

static bool get_i64(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *v)
{
    json_t *x = json_object_get(o, key);
    if (!json_is_integer(x)) return false;
    json_int_t i = json_integer_value(x);
    if (i < lo || i > hi) return false;
    *v = i;
    return true;
}

/* Parse and check state into t; nothing of t changes unless all is right. */
static enum loom_status apply_state(struct trainer *t, json_t *o, const char *path,
                                    struct loom_error *err)
{
    struct trainer n = *t;
    int64_t version, epochs, per, avail, gsv, best_epoch, bad_epochs;
    json_t *opt = json_object_get(o, "optimizer"),
           *rng = json_object_get(json_object_get(o, "rng"), "step");
    json_t *best = json_object_get(o, "best"), *gs = json_object_get(opt, "group_step");
    json_t *buf = json_object_get(rng, "buf"), *bv = json_object_get(best, "value");
    json_t *ls = json_object_get(o, "train_loss_sum");
    uint64_t seed;
    const char *what = NULL;
    if (!get_i64(o, "version", 1, 1, &version))
        what = "version";
    else if (!get_i64(o, "epochs", 1, INT32_MAX, &epochs))
        what = "epochs";
    else if (!get_i64(o, "batches_per_epoch", 1, INT64_MAX, &per))
        what = "batches_per_epoch";
    else if (!get_i64(o, "epoch", 0, epochs, &n.epoch))
        what = "epoch";
    else if (!get_i64(o, "batch", 0, per, &n.batch))
        what = "batch";
    else if (!get_i64(o, "step", 0, INT64_MAX, &n.step))
        what = "step";
    else if (!get_u64(o, "data_seed", &seed))
        what = "data_seed";
    else if (!get_i64(opt, "step", 0, INT64_MAX, &n.opt.step))
        what = "optimizer.step";
    else if (!json_is_array(gs) || json_array_size(gs) != LOOM_MAX_GROUPS)
        what = "group_step";
    else if (!get_u64(rng, "seed", &n.c.rng.seed) || !get_u64(rng, "stream", &n.c.rng.stream) ||
             !get_u64(rng, "counter", &n.c.rng.counter) || !get_i64(rng, "avail", 0, 4, &avail) ||
             !json_is_array(buf) || json_array_size(buf) != 4)
        what = "rng";
    else if (!get_i64(best, "epoch", 0, INT32_MAX, &best_epoch) ||
             !get_i64(best, "bad_epochs", 0, INT32_MAX, &bad_epochs) ||
             !(json_is_null(bv) || json_is_number(bv)))
        what = "best";
    else if (!get_i64(o, "bad_steps", 0, INT64_MAX, &n.bad_steps) || !json_is_number(ls) ||
             !get_i64(o, "train_rows", 0, INT64_MAX, &n.loss_rows))
        what = "counters";
    for (int g = 0; !what && g < LOOM_MAX_GROUPS; g++) {
        json_t *x = json_array_get(gs, (size_t)g);
        if (!json_is_integer(x) || (gsv = json_integer_value(x)) < 0)
            what = "group_step";
        else
            n.opt.group_step[g] = gsv;
    }
    for (int k = 0; !what && k < 4; k++) {
        json_t *x = json_array_get(buf, (size_t)k);
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > UINT32_MAX)
            what = "rng";
        else
            n.c.rng.buf[k] = (uint32_t)json_integer_value(x);
    }
    if (what)
        return loom_error_set(err, LOOM_ERR_FORMAT, "%s: train_state: bad or missing '%s'", path,
                              what);
    if (epochs != t->epochs || per != t->per_epoch || seed != t->data_seed)
        return loom_error_set(err, LOOM_ERR_INVALID,
                              "%s: the checkpoint's run (%lld epochs of %lld batches, data seed "
                              "%" PRIu64 ") is not this one (%d of %lld, %" PRIu64 ")",
                              path, (long long)epochs, (long long)per, seed, t->epochs,
                              (long long)t->per_epoch, t->data_seed);
    if (n.epoch == epochs && n.batch != 0)
        return loom_error_set(err, LOOM_ERR_FORMAT, "%s: train_state: batch past the end", path);
    n.c.rng.avail = (int)avail;
    n.es.best = json_is_null(bv) ? NAN : json_number_value(bv);
    n.es.best_epoch = (int)best_epoch;
    n.es.bad_epochs = (int)bad_epochs;
    n.loss_sum = json_number_value(ls);
    *t = n;
    return LOOM_OK;
}

enum loom_status loom_trainer_resume(struct trainer *t, const char *path, struct loom_error *err)
{
    struct loom_model_file *mf = NULL;
    enum loom_status st = loom_model_file_open(path, NULL, &mf, err);
    if (st) return st;
    char *mine = NULL;
    size_t len = 0;
    const char *theirs = loom_model_file_meta(mf, "schema");
    const char *state = loom_model_file_meta(mf, "train_state");
    json_t *o = NULL;
    if (!state || !theirs) {
        st = loom_error_set(err, LOOM_ERR_FORMAT, "%s: not a checkpoint (no %s)", path,
                            state ? "schema" : "train_state");
        goto done;
    }
    if ((st = loom_model_schema_text(t->m, &mine, &len, err))) goto done;
    if (strlen(theirs) != len || memcmp(theirs, mine, len) != 0) {
        st = loom_error_set(err, LOOM_ERR_INVALID,
                            "%s: the checkpoint was made with another schema", path);
        goto done;
    }
    json_error_t je;
    if (!(o = json_loads(state, JSON_REJECT_DUPLICATES, &je))) {
        st = loom_error_set_at(err, LOOM_ERR_PARSE, path, je.line, je.column, "train_state: %s",
                               je.text);
        goto done;
    }
    struct trainer n = *t;
    if ((st = apply_state(&n, o, path, err))) goto done;
    /* Weights, buffers and moments last: nothing changes unless all fits. */
    if ((st = loom_model_file_load_store(mf, &t->m->store, true, err))) goto done;
    *t = n;
    snprintf(t->last_good, sizeof t->last_good, "%s", path);
    t->last_good_step = t->step;
done:
    json_decref(o);
    free(mine);
    loom_model_file_close(&mf);
    return st;
}
