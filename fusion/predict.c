/*
 * predict.c — a forward pass's head outputs in the user's units (model.h):
 * numbers decoded through the prep (normalisation and log1p undone, a clamp
 * range applied), probabilities for binary, category and set outputs,
 * vectors as they are. Also the names of the labels.
 */
#include <math.h>
#include <string.h>

#include "model.h"

void loom_prediction_done(struct loom_prediction *p)
{
    if (!p) return;
    free(p->value), free(p->code), free(p->chosen);
    memset(p, 0, sizeof *p);
}

static double sigmoid(double x)
{
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

/* Category row: softmax over codes 2..K-1 (codes 0 and 1 are never
 * targets); probs (K-2), returns the most probable code. */
static int32_t softmax_labels(const float *logit, int K, double *probs)
{
    double mx = -INFINITY, sum = 0;
    int32_t best = 2;
    for (int k = 2; k < K; k++)
        if (logit[k] > mx) mx = logit[k], best = (int32_t)k;
    for (int k = 2; k < K; k++) sum += probs[k - 2] = exp((double)logit[k] - mx);
    for (int k = 2; k < K; k++) probs[k - 2] /= sum;
    return best;
}

int loom_model_decode(const struct loom_model *m, const struct loom_forward *f, int j,
                      double *value, int32_t *code, uint8_t *chosen)
{
    if (!m || !f || !value || j < 0 || j >= m->nheads || !f->out || !f->out[j]) return -1;
    const struct loom_head *h = &m->heads[j];
    const float *y = f->out[j]->data;
    int K = h->width, k = h->type == LOOM_COL_CATEGORY ? K - 2 : K;
    for (int64_t i = 0; i < f->n; i++) {
        const float *yi = y + i * K;
        double *vi = value + i * k;
        switch (h->type) {
        case LOOM_COL_NUMBER: {
            double v = yi[0];
            if (h->has_range && h->range_mode == LOOM_RANGE_CLAMP) v = fmin(fmax(v, h->lo), h->hi);
            vi[0] = loom_prep_decode_number(m->prep, h->column, v);
            break;
        }
        case LOOM_COL_BINARY:
            vi[0] = sigmoid(yi[0]);
            if (code) code[i] = yi[0] > 0;
            break;
        case LOOM_COL_CATEGORY: {
            int32_t best = softmax_labels(yi, K, vi);
            if (code) code[i] = best;
            break;
        }
        case LOOM_COL_SET:
            for (int q = 0; q < K; q++) {
                vi[q] = sigmoid(yi[q]);
                if (chosen) chosen[i * K + q] = vi[q] > 0.5;
            }
            break;
        default:
            for (int q = 0; q < K; q++) vi[q] = yi[q];
            break;
        }
    }
    return k;
}

enum loom_status loom_model_predict(const struct loom_model *m, const struct loom_forward *f, int j,
                                    struct loom_prediction *out, struct loom_error *err)
{
    if (!m || !f || !out || j < 0 || j >= m->nheads || !f->out || !f->out[j])
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_model_predict: bad argument");
    const struct loom_head *h = &m->heads[j];
    int64_t n = f->n;
    int K = h->width;
    struct loom_prediction p = {
        .type = h->type, .n = n, .k = h->type == LOOM_COL_CATEGORY ? K - 2 : K};
    size_t cells;
    if (!loom_mul_size((size_t)n, (size_t)p.k, &cells) || cells > SIZE_MAX / sizeof(double))
        return loom_error_set(err, LOOM_ERR_LIMIT, "prediction too large");
    p.value = malloc((cells ? cells : 1) * sizeof *p.value);
    if (h->type == LOOM_COL_CATEGORY || h->type == LOOM_COL_BINARY)
        p.code = malloc((size_t)(n ? n : 1) * sizeof *p.code);
    if (h->type == LOOM_COL_SET) p.chosen = malloc(cells ? cells : 1);
    if (!p.value || ((h->type == LOOM_COL_CATEGORY || h->type == LOOM_COL_BINARY) && !p.code) ||
        (h->type == LOOM_COL_SET && !p.chosen)) {
        loom_prediction_done(&p);
        return loom_error_set(err, LOOM_ERR_NOMEM, "prediction: out of memory");
    }
    loom_model_decode(m, f, j, p.value, p.code, p.chosen);
    *out = p;
    return LOOM_OK;
}

const char *loom_model_label(const struct loom_model *m, int j, int k, size_t *len)
{
    if (!m || j < 0 || j >= m->nheads || k < 0) return NULL;
    const struct loom_head *h = &m->heads[j];
    if (h->type == LOOM_COL_CATEGORY && k < h->width - 2)
        return loom_prep_label(m->prep, h->column, k + 2, len);
    if (h->type == LOOM_COL_SET && k < h->width) return loom_prep_label(m->prep, h->column, k, len);
    return NULL;
}
