/*
 * main.c — loom's quickstart (the README's main job until the marketplace
 * demo lands): generate bags of photos, train the CNN + gated-attention
 * model of bagnet.h, print the loss falling and the accuracy on held-out
 * bags, then show which photo the attention picked in a few bags.
 *
 *   loom-quickstart [--epochs N] [--seed S] [--threads T]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bagnet.h"
#include "core/ops.h"
#include "core/threads.h"

static void on_epoch(int epoch, double train_loss, double valid_loss, double valid_acc, void *user)
{
    double *t0 = user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("epoch %2d   train loss %.4f   valid loss %.4f   valid accuracy %5.1f%%   (%.1f s)\n",
           epoch, train_loss, valid_loss, 100 * valid_acc, ts.tv_sec + ts.tv_nsec * 1e-9 - *t0);
    fflush(stdout);
}

/* For held-out positive bags: does the photo with the largest attention
 * weight show the cross? */
static int show_attention(struct bagnet *m, const struct bagnet_data *d)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 0);
    float att[BAGNET_MAX_BAG];
    int shown = 0, hits = 0, positives = 0;
    for (uint32_t i = 0; i < d->nbags; i++) {
        int64_t n = d->offsets[i + 1] - d->offsets[i];
        if (d->labels[i] < 0.5f || n < 2) continue;
        loom_ctx_reset(&c);
        struct loom_tensor *y = bagnet_forward(&c, m, d, &i, 1, att);
        if (!y) {
            fprintf(stderr, "loom-quickstart: %s\n", c.err.message);
            loom_ctx_done(&c);
            return 1;
        }
        int best = 0;
        for (int k = 1; k < n; k++)
            if (att[k] > att[best]) best = k;
        positives++;
        hits += d->has_cross[d->offsets[i] + best];
        if (shown < 3) {
            printf("  bag %4u: p(positive) = %.2f; attention", i, 1 / (1 + exp(-y->data[0])));
            for (int k = 0; k < n; k++)
                printf(" %s%.2f", d->has_cross[d->offsets[i] + k] ? "+" : " ", att[k]);
            printf("\n");
            shown++;
        }
    }
    printf("attention picked a photo with the cross in %d of %d positive bags (%.1f%%)\n", hits,
           positives, positives ? 100.0 * hits / positives : 0.0);
    loom_ctx_done(&c);
    return 0;
}

int main(int argc, char **argv)
{
    int epochs = 8, threads = 0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--epochs N] [--seed S] [--threads T]\n", argv[0]);
            return 2;
        }
    }
    if (epochs < 1 || epochs > 1000) {
        fprintf(stderr, "loom-quickstart: --epochs must be in 1..1000\n");
        return 2;
    }
    threads = loom_threads_set(threads);
    struct bagnet_data train, valid;
    if (!bagnet_data_make(&train, 3000, seed) || !bagnet_data_make(&valid, 600, seed + 1000)) {
        fprintf(stderr, "loom-quickstart: out of memory\n");
        return 1;
    }
    double pos = 0;
    for (int64_t i = 0; i < valid.nbags; i++) pos += valid.labels[i];
    printf("loom quickstart: bags of 0-%d photos (3x%dx%d); a bag is positive if a photo shows a "
           "cross\n%lld training bags (%lld photos), %lld held-out bags (%.0f%% positive), "
           "%d threads\n",
           BAGNET_MAX_BAG, BAGNET_SIDE, BAGNET_SIDE, (long long)train.nbags,
           (long long)train.nimages, (long long)valid.nbags, 100 * pos / valid.nbags, threads);
    struct loom_error err = {0};
    struct bagnet m;
    int rc = 1;
    if (bagnet_init(&m, seed, &err)) goto fail;
    printf("model: CNN (2 conv stages) -> gated attention over each bag -> logit; %zu "
           "parameters\n",
           loom_store_count(&m.store));
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = ts.tv_sec + ts.tv_nsec * 1e-9;
    struct bagnet_train_opts o = {.epochs = epochs,
                                  .batch = 32,
                                  .lr = 1e-2f,
                                  .seed = seed,
                                  .on_epoch = on_epoch,
                                  .user = &t0};
    if (bagnet_train(&m, &train, &valid, &o, &err)) {
        bagnet_done(&m);
        goto fail;
    }
    rc = show_attention(&m, &valid);
    bagnet_done(&m);
    bagnet_data_done(&train);
    bagnet_data_done(&valid);
    return rc;
fail:
    fprintf(stderr, "loom-quickstart: %s: %s\n", loom_strerror(err.code), err.message);
    bagnet_data_done(&train);
    bagnet_data_done(&valid);
    return 1;
}
