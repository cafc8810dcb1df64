/* twin.c — schema, prep, model and datasets for the twin's programs (twin.h). */
#include <math.h>
#include <string.h>

#include "twin.h"

static bool report(const char *what, const struct loom_error *err)
{
    fprintf(stderr, "%s: %s\n", what, err->message[0] ? err->message : loom_strerror(err->code));
    return false;
}

static void print_data_report(const char *split, const struct loom_data_report *r)
{
    fprintf(stderr, "%s: %lld rows (%lld bad, %lld dropped), %lld photos (%lld bad)%s\n", split,
            (long long)r->rows_ok, (long long)r->rows_bad, (long long)r->rows_dropped,
            (long long)r->images_ok, (long long)r->images_bad, r->from_cache ? ", from cache" : "");
}

bool twin_open(struct twin *t, const char *schema_path, uint64_t seed, int threads)
{
    memset(t, 0, sizeof *t);
    struct loom_schema s;
    struct loom_diag d = {0};
    if (loom_schema_load(schema_path, NULL, &s, &d)) {
        loom_diag_print(&d, stderr);
        loom_diag_done(&d);
        return false;
    }
    loom_diag_done(&d);
    s.training.seed = (int64_t)seed;
    struct loom_dataset_opts o;
    loom_dataset_opts_default(&o);
    o.threads = threads;
    struct loom_prep *p = NULL;
    struct loom_data_report rep;
    struct loom_error err = {0};
    if (loom_prep_fit(&s, &o, &p, &rep, &err)) {
        loom_schema_free(&s);
        return report("prep", &err);
    }
    if (loom_model_new(&s, &p, seed, NULL, &t->m, &err)) {
        loom_prep_free(&p);
        loom_schema_free(&s);
        return report("model", &err);
    }
    if (loom_dataset_open(&t->m->schema, t->m->prep, LOOM_SPLIT_TRAIN, &o, &t->train, &rep, &err)) {
        twin_close(t);
        return report("train split", &err);
    }
    print_data_report("train", &rep);
    if (loom_dataset_open(&t->m->schema, t->m->prep, LOOM_SPLIT_VALID, &o, &t->valid, &rep, &err)) {
        twin_close(t);
        return report("valid split", &err);
    }
    print_data_report("valid", &rep);
    return true;
}

void twin_close(struct twin *t)
{
    loom_dataset_close(&t->train);
    loom_dataset_close(&t->valid);
    loom_model_free(&t->m);
}

void twin_number_stats(const struct loom_model *m, int col, double *mean, double *std)
{
    double d0 = loom_prep_decode_number(m->prep, col, 0.0);
    double d1 = loom_prep_decode_number(m->prep, col, 1.0);
    if (m->schema.columns[col].number.transform == LOOM_TRANSFORM_LOG1P)
        d0 = log1p(d0), d1 = log1p(d1);
    *mean = d0;
    *std = d1 - d0;
}
