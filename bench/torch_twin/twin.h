/*
 * twin.h — what the PyTorch twin's two C programs share (export.c and
 * loom_train.c): a schema loaded, its preprocessing fitted on the training
 * split, the model built from it with a given seed, and the training and
 * validation datasets opened with that model's schema and prep. Bench code:
 * it prints its errors.
 */
#ifndef LOOM_BENCH_TWIN_H
#define LOOM_BENCH_TWIN_H

#include "fusion/model.h"
#include "loaders/dataset.h"

struct twin {
    struct loom_model *m; /* owns the schema and the prep */
    struct loom_dataset *train, *valid;
};

/* Load schema_path, set training.seed to seed (the model's initialisation
 * and, in loom_train, the step stream), fit the prep, build the model and
 * open both splits with `threads` decoding threads. false after printing
 * the reason to stderr. */
bool twin_open(struct twin *t, const char *schema_path, uint64_t seed, int threads);
void twin_close(struct twin *t);

/* The normalisation of number column col after its transform: the value y
 * the model sees is (T(v) - mean) / std. */
void twin_number_stats(const struct loom_model *m, int col, double *mean, double *std);

#endif
