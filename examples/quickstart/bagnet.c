/* bagnet.c — the quickstart's data, model and training loop (bagnet.h). */
#include <math.h>
#include <string.h>

#include "bagnet.h"
#include "core/ops.h"

#define S   BAGNET_SIDE
#define IMG (3 * S * S)

/* ---- data ---- */

/* Draw one photo: noise background and one object, a cross (positive) or a
 * distractor of similar size and brightness (hollow square, filled 3x3). */
static void draw(float *img, struct loom_rng *r, bool cross)
{
    for (int i = 0; i < IMG; i++) img[i] = 0.45f * loom_rng_uniform(r);
    float col[3];
    for (int ch = 0; ch < 3; ch++) col[ch] = 0.55f + 0.45f * loom_rng_uniform(r);
    int cy = 2 + (int)loom_rng_below(r, S - 4), cx = 2 + (int)loom_rng_below(r, S - 4);
    int kind = cross ? 0 : 1 + (int)loom_rng_below(r, 2);
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++) {
            bool on = kind == 0   ? (dx == 0 || dy == 0)
                      : kind == 1 ? (abs(dx) == 2 || abs(dy) == 2)
                                  : (abs(dx) <= 1 && abs(dy) <= 1);
            if (!on) continue;
            for (int ch = 0; ch < 3; ch++) img[(ch * S + cy + dy) * S + cx + dx] = col[ch];
        }
}

bool bagnet_data_make(struct bagnet_data *d, int64_t nbags, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    struct loom_rng r;
    loom_rng_init(&r, seed, 1);
    d->nbags = nbags;
    d->offsets = malloc((size_t)(nbags + 1) * sizeof *d->offsets);
    d->labels = malloc((size_t)nbags * sizeof *d->labels);
    if (!d->offsets || !d->labels) goto fail;
    d->offsets[0] = 0;
    for (int64_t i = 0; i < nbags; i++)
        d->offsets[i + 1] = d->offsets[i] + loom_rng_below(&r, BAGNET_MAX_BAG + 1);
    d->nimages = d->offsets[nbags];
    d->images = malloc((size_t)(d->nimages ? d->nimages : 1) * IMG * sizeof(float));
    d->has_cross = malloc((size_t)(d->nimages ? d->nimages : 1));
    if (!d->images || !d->has_cross) goto fail;
    for (int64_t i = 0; i < nbags; i++) {
        bool pos = false;
        for (int64_t k = d->offsets[i]; k < d->offsets[i + 1]; k++) {
            d->has_cross[k] = loom_rng_uniform(&r) < 0.2f;
            pos |= d->has_cross[k];
            draw(d->images + k * IMG, &r, d->has_cross[k]);
        }
        d->labels[i] = pos ? 1.0f : 0.0f;
    }
    return true;
fail:
    bagnet_data_done(d);
    return false;
}

void bagnet_data_done(struct bagnet_data *d)
{
    free(d->images), free(d->offsets), free(d->labels), free(d->has_cross);
    memset(d, 0, sizeof *d);
}

/* ---- model ---- */

enum loom_status bagnet_init(struct bagnet *m, uint64_t seed, struct loom_error *err)
{
    memset(m, 0, sizeof *m);
    struct loom_store *s = &m->store;
    loom_store_init(s);
#define P(name, init, arg, ...) loom_store_add(s, #name, LOOM_SHAPE(__VA_ARGS__), init, arg, 0, err)
#define BUF(name, init, ...)    loom_store_add_buffer(s, #name, LOOM_SHAPE(__VA_ARGS__), init, 0, err)
    if (!(m->conv1 = P(conv1, LOOM_INIT_FAN_IN, 27, 8, 3, 3, 3)) ||
        !(m->bn1_g = P(bn1_g, LOOM_INIT_ONES, 0, 8)) ||
        !(m->bn1_b = P(bn1_b, LOOM_INIT_ZEROS, 0, 8)) ||
        !(m->bn1_m = BUF(bn1_m, LOOM_INIT_ZEROS, 8)) ||
        !(m->bn1_v = BUF(bn1_v, LOOM_INIT_ONES, 8)) ||
        !(m->conv2 = P(conv2, LOOM_INIT_FAN_IN, 72, 16, 8, 3, 3)) ||
        !(m->bn2_g = P(bn2_g, LOOM_INIT_ONES, 0, 16)) ||
        !(m->bn2_b = P(bn2_b, LOOM_INIT_ZEROS, 0, 16)) ||
        !(m->bn2_m = BUF(bn2_m, LOOM_INIT_ZEROS, 16)) ||
        !(m->bn2_v = BUF(bn2_v, LOOM_INIT_ONES, 16)) ||
        !(m->att_v = P(att_v, LOOM_INIT_FAN_IN, 16, 8, 16)) ||
        !(m->att_vb = P(att_vb, LOOM_INIT_FAN_IN, 16, 8)) ||
        !(m->att_u = P(att_u, LOOM_INIT_FAN_IN, 16, 8, 16)) ||
        !(m->att_ub = P(att_ub, LOOM_INIT_FAN_IN, 16, 8)) ||
        !(m->att_w = P(att_w, LOOM_INIT_FAN_IN, 8, 1, 8)) ||
        !(m->empty = P(empty, LOOM_INIT_ZEROS, 0, 16)) ||
        !(m->head_w = P(head_w, LOOM_INIT_FAN_IN, 16, 1, 16)) ||
        !(m->head_b = P(head_b, LOOM_INIT_ZEROS, 0, 1))) {
        loom_store_done(s);
        return err ? err->code : LOOM_ERR_NOMEM;
    }
#undef P
#undef BUF
    s->groups[0].weight_decay = 1e-4f;
    enum loom_status st = loom_store_finalize(s, seed, err);
    if (st) loom_store_done(s);
    return st;
}

void bagnet_done(struct bagnet *m)
{
    loom_store_done(&m->store);
}

/* The batch of bags idx[0..count): its photos copied together, its offsets
 * and its labels. */
struct batch {
    struct loom_tensor *images, *labels;
    int64_t *offsets;
};

static bool gather(struct loom_ctx *c, const struct bagnet_data *d, const uint32_t *idx,
                   int64_t count, struct batch *b)
{
    b->offsets = loom_arena_alloc(&c->arena, (size_t)(count + 1) * sizeof *b->offsets);
    b->labels = loom_tensor_new(c, LOOM_SHAPE(count));
    if (!b->offsets || !b->labels) return false;
    b->offsets[0] = 0;
    for (int64_t i = 0; i < count; i++) {
        b->offsets[i + 1] = b->offsets[i] + d->offsets[idx[i] + 1] - d->offsets[idx[i]];
        b->labels->data[i] = d->labels[idx[i]];
    }
    b->images = loom_tensor_new(c, LOOM_SHAPE(b->offsets[count], 3, S, S));
    if (!b->images) return false;
    for (int64_t i = 0; i < count; i++) {
        int64_t n = b->offsets[i + 1] - b->offsets[i];
        memcpy(b->images->data + b->offsets[i] * IMG, d->images + d->offsets[idx[i]] * IMG,
               (size_t)(n * IMG) * sizeof(float));
    }
    return true;
}

/* One photo -> 16 features: two conv + batch norm + ReLU + max-pool stages,
 * then global average pooling. */
static struct loom_tensor *encode(struct loom_ctx *c, struct bagnet *m, struct loom_tensor *x)
{
    x = loom_conv2d(c, x, m->conv1, NULL, 1, 1);
    x = loom_relu(c, loom_batch_norm(c, x, m->bn1_g, m->bn1_b, m->bn1_m, m->bn1_v, 0.1f, 1e-5f));
    x = loom_max_pool2d(c, x, 2, 2);
    x = loom_conv2d(c, x, m->conv2, NULL, 1, 1);
    x = loom_relu(c, loom_batch_norm(c, x, m->bn2_g, m->bn2_b, m->bn2_m, m->bn2_v, 0.1f, 1e-5f));
    x = loom_max_pool2d(c, x, 2, 2);
    return loom_global_avg_pool(c, x);
}

static struct loom_tensor *forward_batch(struct loom_ctx *c, struct bagnet *m,
                                         const struct batch *b, int64_t count, float *attention)
{
    int64_t n = b->offsets[count];
    struct loom_tensor *h, *a;
    if (n > 0) {
        h = encode(c, m, b->images);
        /* Gated attention: s = w^T (tanh(V h) * sigmoid(U h)), softmax per bag. */
        struct loom_tensor *g = loom_mul(c, loom_tanh(c, loom_linear(c, h, m->att_v, m->att_vb)),
                                         loom_sigmoid(c, loom_linear(c, h, m->att_u, m->att_ub)));
        struct loom_tensor *s = loom_linear(c, g, m->att_w, NULL);
        a = loom_bag_softmax(c, s, b->offsets, count);
    } else { /* no photo in the whole batch: every bag takes the learned vector */
        h = loom_tensor_new(c, LOOM_SHAPE(0, 16));
        a = loom_tensor_new(c, LOOM_SHAPE(0));
    }
    if (a && attention) memcpy(attention, a->data, (size_t)n * sizeof(float));
    struct loom_tensor *z = loom_bag_weighted_sum(c, h, a, b->offsets, count, m->empty);
    struct loom_tensor *y = loom_linear(c, z, m->head_w, m->head_b);
    return loom_reshape(c, y, LOOM_SHAPE(count));
}

struct loom_tensor *bagnet_forward(struct loom_ctx *c, struct bagnet *m,
                                   const struct bagnet_data *d, const uint32_t *idx, int64_t count,
                                   float *attention)
{
    struct batch b;
    if (!gather(c, d, idx, count, &b)) return loom_fail(c, LOOM_ERR_NOMEM, "bagnet: batch");
    return forward_batch(c, m, &b, count, attention);
}

enum loom_status bagnet_evaluate(struct bagnet *m, const struct bagnet_data *d, double *loss,
                                 double *accuracy, struct loom_error *err)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 0);
    double sum = 0;
    int64_t correct = 0;
    uint32_t idx[64];
    for (int64_t first = 0; first < d->nbags; first += 64) {
        int64_t count = LOOM_MIN(64, d->nbags - first);
        for (int64_t i = 0; i < count; i++) idx[i] = (uint32_t)(first + i);
        loom_ctx_reset(&c);
        struct batch b;
        if (!gather(&c, d, idx, count, &b)) loom_fail(&c, LOOM_ERR_NOMEM, "bagnet: batch");
        struct loom_tensor *y = c.status ? NULL : forward_batch(&c, m, &b, count, NULL);
        struct loom_tensor *l = loom_bce_logits_loss(&c, y, b.labels, NULL, NULL);
        if (!l) break;
        sum += l->data[0] * (double)count;
        for (int64_t i = 0; i < count; i++)
            correct += (y->data[i] > 0) == (b.labels->data[i] > 0.5f);
    }
    enum loom_status st = c.status;
    if (st)
        *err = c.err;
    else {
        *loss = sum / (double)d->nbags;
        *accuracy = (double)correct / (double)d->nbags;
    }
    loom_ctx_done(&c);
    return st;
}

enum loom_status bagnet_train(struct bagnet *m, const struct bagnet_data *train,
                              const struct bagnet_data *valid, const struct bagnet_train_opts *o,
                              struct loom_error *err)
{
    enum loom_status st;
    int64_t steps_per_epoch = (train->nbags + o->batch - 1) / o->batch;
    struct loom_schedule sched;
    loom_schedule_init(&sched, LOOM_SCHEDULE_ONE_CYCLE, o->lr, steps_per_epoch * o->epochs);
    struct loom_optim opt;
    if ((st = loom_schedule_check(&sched, err)) ||
        (st = loom_optim_init_adamw(&opt, 0.999f, 1e-8f, err)))
        return st;
    uint32_t *perm = malloc((size_t)train->nbags * sizeof *perm);
    if (!perm) return loom_error_set(err, LOOM_ERR_NOMEM, "bagnet: out of memory");
    for (int64_t i = 0; i < train->nbags; i++) perm[i] = (uint32_t)i;
    struct loom_rng order;
    loom_rng_init(&order, o->seed, 2);
    struct loom_ctx c;
    loom_ctx_init(&c, 0, o->seed);
    int64_t step = 0;
    for (int epoch = 1; epoch <= o->epochs && !st; epoch++) {
        loom_rng_shuffle(&order, perm, (size_t)train->nbags);
        double sum = 0;
        for (int64_t first = 0; first < train->nbags && !st; first += o->batch, step++) {
            int64_t count = LOOM_MIN(o->batch, train->nbags - first);
            loom_ctx_reset(&c);
            c.grad_enabled = c.training = true;
            struct batch b;
            if (!gather(&c, train, perm + first, count, &b))
                loom_fail(&c, LOOM_ERR_NOMEM, "bagnet: batch");
            struct loom_tensor *y = c.status ? NULL : forward_batch(&c, m, &b, count, NULL);
            struct loom_tensor *l = loom_bce_logits_loss(&c, y, b.labels, NULL, NULL);
            loom_store_zero_grad(&m->store);
            if (l && loom_backward(&c, l, NULL) == LOOM_OK) {
                float lr, beta1;
                loom_schedule_at(&sched, step, &lr, &beta1);
                st = loom_clip_grad_norm(&m->store, 5.0f, NULL);
                if (!st) st = loom_optim_step(&opt, &m->store, lr, beta1);
                if (st)
                    loom_error_set(err, st, "bagnet: optimizer step %lld failed", (long long)step);
                sum += l->data[0] * (double)count;
            } else {
                *err = c.err;
                st = c.status;
            }
        }
        double vloss = 0, vacc = 0;
        if (!st) st = bagnet_evaluate(m, valid, &vloss, &vacc, err);
        if (!st && o->on_epoch)
            o->on_epoch(epoch, sum / (double)train->nbags, vloss, vacc, o->user);
    }
    loom_ctx_done(&c);
    free(perm);
    return st;
}
