/*
 * cmd_lr_find.c — `loom lr-find SCHEMA`: fit the preprocessing, open the
 * training rows, build the model and sweep the learning rate exponentially
 * over a few hundred steps (fusion/trainer.h's loom_lr_find), then print
 * the curve (rate, raw and smoothed loss) as a table, a small plot of the
 * smoothed loss against log rate, and the suggested rate. Nothing is
 * saved. Exit 0 ok, 1 failure, 2 usage.
 */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "core/threads.h"
#include "fusion/trainer.h"

static const char *const CMD = "lr-find";

static void usage(FILE *f)
{
    fprintf(f, "usage: loom lr-find [OPTIONS] SCHEMA.yaml\n\n"
               "Sweep the learning rate over training steps and suggest one.\n"
               "  --steps N       at most N steps (default 200)\n"
               "  --min LR        the first rate (default 1e-7)\n"
               "  --max LR        the last rate (default 10)\n"
               "  --branches A,B  keep only these branches\n"
               "  --seed S        instead of training.seed\n"
               "  --threads N     compute threads (default: training.threads; 0: all cores)\n"
               "  --no-cache      neither read nor write the dataset cache\n"
               "  --quiet         no data report\n");
}

#define PLOT_W 64
#define PLOT_H 16

/* The smoothed loss against log10 rate, clipped to [min, min + 2·(first − min)]
 * so that the blow-up at the end does not flatten the interesting part. */
static void plot(const struct loom_lr_curve *c)
{
    double lo = INFINITY, first = c->smooth[0];
    for (int i = 0; i < c->n; i++) lo = fmin(lo, c->smooth[i]);
    double hi = lo + 2 * fmax(first - lo, 1e-12 + fabs(lo) * 1e-3);
    double x0 = log10(c->lr[0]), x1 = log10(c->lr[c->n - 1]);
    if (!(x1 > x0)) x1 = x0 + 1;
    char grid[PLOT_H][PLOT_W + 1];
    for (int y = 0; y < PLOT_H; y++) memset(grid[y], ' ', PLOT_W), grid[y][PLOT_W] = 0;
    for (int i = 0; i < c->n; i++) {
        int x = (int)lround((log10(c->lr[i]) - x0) / (x1 - x0) * (PLOT_W - 1));
        double v = fmin(c->smooth[i], hi);
        int y = (int)lround((hi - v) / (hi - lo) * (PLOT_H - 1));
        grid[LOOM_MAX(0, LOOM_MIN(y, PLOT_H - 1))][LOOM_MAX(0, LOOM_MIN(x, PLOT_W - 1))] = '*';
    }
    if (isfinite(c->suggested)) {
        int x = (int)lround((log10(c->suggested) - x0) / (x1 - x0) * (PLOT_W - 1));
        for (int y = 0; x >= 0 && x < PLOT_W && y < PLOT_H; y++)
            if (grid[y][x] == ' ') grid[y][x] = '|';
    }
    printf("\nsmoothed loss (| the suggested rate)\n");
    for (int y = 0; y < PLOT_H; y++) {
        double v = hi - (hi - lo) * y / (PLOT_H - 1);
        printf("%10.4g %s\n", v, grid[y]);
    }
    printf("%10s +", "");
    for (int x = 1; x < PLOT_W; x++) putchar('-');
    printf("\n%10s %-*.1e%*.1e  (rate, log scale)\n", "", PLOT_W / 2, c->lr[0], PLOT_W / 2,
           c->lr[c->n - 1]);
}

static void table(const struct loom_lr_curve *c)
{
    printf("%12s %12s %12s\n", "lr", "loss", "smoothed");
    int every = LOOM_MAX(1, c->n / 40); /* about 40 lines */
    for (int i = 0; i < c->n; i++)
        if (i % every == 0 || i == c->n - 1)
            printf("%12.4e %12.5g %12.5g\n", c->lr[i], c->loss[i], c->smooth[i]);
}

struct find {
    struct loom_model *m;
    struct loom_dataset *d;
    struct loom_batcher *b;
    struct loom_source src;
};

static bool prepare(const char *path, const char *branches, long long seed, long long threads,
                    bool no_cache, bool quiet, struct find *f)
{
    struct loom_schema s;
    if (!loom_cli_schema_load(CMD, path, &s)) return false;
    struct loom_error err = {0};
    bool ok = !branches || loom_cli_keep_branches(CMD, &s, branches);
    if (seed >= 0) s.training.seed = seed;
    loom_threads_set(threads >= 0 ? (int)threads : s.training.threads);
    struct loom_dataset_opts dopt;
    loom_dataset_opts_default(&dopt);
    dopt.use_cache = !no_cache;
    struct loom_prep *prep = NULL;
    struct loom_data_report rep = {0};
    if (ok &&
        (loom_prep_fit(&s, &dopt, &prep, &rep, &err) != LOOM_OK ||
         loom_model_new(&s, &prep, (uint64_t)s.training.seed, NULL, &f->m, &err) != LOOM_OK)) {
        if (rep.rows_bad) loom_cli_report(CMD, s.data.train, &rep);
        loom_cli_error(CMD, &err);
        ok = false;
    }
    loom_schema_free(&s);
    loom_prep_free(&prep);
    if (!ok) return false;
    const struct loom_schema *ms = &f->m->schema;
    if (loom_dataset_open(ms, f->m->prep, LOOM_SPLIT_TRAIN, &dopt, &f->d, &rep, &err) != LOOM_OK) {
        loom_cli_error(CMD, &err);
        return false;
    }
    if (!quiet) loom_cli_report(CMD, ms->data.train, &rep);
    int bs = ms->training.batch_size;
    struct loom_batcher_opts bo = {.batch_size = bs,
                                   .shuffle = true,
                                   .training = true,
                                   .drop_last = loom_dataset_rows(f->d) % bs == 1,
                                   .seed = (uint64_t)ms->training.seed,
                                   .threads = 1};
    if (loom_batcher_new(f->d, &bo, &f->b, &err) != LOOM_OK) {
        loom_cli_error(CMD, &err);
        return false;
    }
    loom_source_batcher(&f->src, f->b);
    return true;
}

int loom_cmd_lr_find(int argc, char **argv)
{
    const char *path = NULL, *branches = NULL;
    long long seed = -1, threads = -1, steps;
    bool no_cache = false, quiet = false;
    struct loom_lr_find_opts lo;
    loom_lr_find_opts_default(&lo);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (loom_cli_is_help(a)) {
            usage(stdout);
            return LOOM_EXIT_OK;
        } else if (!strcmp(a, "--steps") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 5, 100000, &steps)) return LOOM_EXIT_USAGE;
            lo.steps = (int)steps;
        } else if (!strcmp(a, "--min") && has) {
            if (!loom_cli_real(CMD, a, argv[++i], &lo.lr_min)) return LOOM_EXIT_USAGE;
        } else if (!strcmp(a, "--max") && has) {
            if (!loom_cli_real(CMD, a, argv[++i], &lo.lr_max)) return LOOM_EXIT_USAGE;
        } else if (!strcmp(a, "--branches") && has) {
            branches = argv[++i];
        } else if (!strcmp(a, "--seed") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 0, INT64_MAX, &seed)) return LOOM_EXIT_USAGE;
        } else if (!strcmp(a, "--threads") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 0, 1024, &threads)) return LOOM_EXIT_USAGE;
        } else if (!strcmp(a, "--no-cache")) {
            no_cache = true;
        } else if (!strcmp(a, "--quiet")) {
            quiet = true;
        } else if (a[0] == '-' || path) {
            usage(stderr);
            return LOOM_EXIT_USAGE;
        } else {
            path = a;
        }
    }
    if (!path) {
        usage(stderr);
        return LOOM_EXIT_USAGE;
    }
    if (!(lo.lr_max > lo.lr_min)) {
        fprintf(stderr, "loom %s: --max (%g) must be above --min (%g)\n", CMD, lo.lr_max,
                lo.lr_min);
        return LOOM_EXIT_USAGE;
    }
    struct find f = {0};
    int rc =
        prepare(path, branches, seed, threads, no_cache, quiet, &f) ? LOOM_EXIT_OK : LOOM_EXIT_FAIL;
    struct loom_lr_curve c = {0};
    struct loom_error err = {0};
    if (rc == LOOM_EXIT_OK && loom_lr_find(f.m, &f.src, &lo, &c, &err) != LOOM_OK) {
        loom_cli_error(CMD, &err);
        rc = LOOM_EXIT_FAIL;
    }
    if (rc == LOOM_EXIT_OK && c.n < 2) {
        fprintf(stderr, "loom %s: the loss was not finite from the first step on\n", CMD);
        rc = LOOM_EXIT_FAIL;
    }
    if (rc == LOOM_EXIT_OK) {
        table(&c);
        plot(&c);
        if (isfinite(c.suggested))
            printf("\nsuggested rate: %.3g (a tenth of %.3g, where the smoothed loss is lowest; "
                   "steepest descent at %.3g)\n",
                   c.suggested, c.at_min, c.steepest);
        else
            printf("\nno suggestion: the curve has only %d points (more --steps, or a lower "
                   "--min)\n",
                   c.n);
    }
    loom_lr_curve_done(&c);
    loom_batcher_free(&f.b);
    loom_dataset_close(&f.d);
    loom_model_free(&f.m);
    return rc;
}
