/*
 * metrics.c — the accumulators of metrics.h. Sums are in double; AUC keeps
 * every (score, truth) pair of the pass and sorts them at the end (exact,
 * with ties), so memory grows by 9 bytes per row and label.
 */
#include <math.h>
#include <string.h>

#include "metrics.h"

#define P_CLIP 1e-15

void loom_macc_init(struct loom_macc *a, enum loom_col_type type, int k, bool log1p)
{
    memset(a, 0, sizeof *a);
    a->type = type;
    a->k = k < 1 ? 1 : k;
    a->log1p = log1p;
    if (type == LOOM_COL_BINARY || type == LOOM_COL_CATEGORY || type == LOOM_COL_SET) {
        a->tp = calloc((size_t)a->k, sizeof *a->tp);
        a->fp = calloc((size_t)a->k, sizeof *a->fp);
        a->fn = calloc((size_t)a->k, sizeof *a->fn);
        a->nomem = !a->tp || !a->fp || !a->fn;
    }
}

void loom_macc_done(struct loom_macc *a)
{
    if (!a) return;
    free(a->tp), free(a->fp), free(a->fn), free(a->score), free(a->truth);
    memset(a, 0, sizeof *a);
}

void loom_macc_reset(struct loom_macc *a)
{
    struct loom_macc keep = *a;
    a->n = 0;
    a->se = a->ae = a->sle = a->mean = a->m2 = a->ll = a->cos = 0;
    a->correct = a->top3 = 0;
    if (keep.tp) {
        memset(a->tp, 0, (size_t)a->k * sizeof *a->tp);
        memset(a->fp, 0, (size_t)a->k * sizeof *a->fp);
        memset(a->fn, 0, (size_t)a->k * sizeof *a->fn);
    }
    a->nomem =
        a->k > 0 &&
        (a->type == LOOM_COL_BINARY || a->type == LOOM_COL_CATEGORY || a->type == LOOM_COL_SET) &&
        !a->tp;
}

static double clip(double p)
{
    return fmin(fmax(p, P_CLIP), 1.0 - P_CLIP);
}

/* Room for n more rows of k scores. */
static bool grow(struct loom_macc *a, int64_t n, int k)
{
    size_t need = (size_t)a->n + (size_t)n;
    if (a->nomem) return false;
    if (need <= a->cap) return true;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < need) cap *= 2;
    size_t cells;
    if (!loom_mul_size(cap, (size_t)k, &cells) || cells > SIZE_MAX / sizeof(double)) {
        a->nomem = true;
        return false;
    }
    double *s = realloc(a->score, cells * sizeof *s);
    if (s) a->score = s;
    uint8_t *t = realloc(a->truth, cells);
    if (t) a->truth = t;
    if (!s || !t) {
        a->nomem = true;
        return false;
    }
    a->cap = cap;
    return true;
}

void loom_macc_add_number(struct loom_macc *a, const double *pred, const double *target, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double e = pred[i] - target[i];
        a->se += e * e;
        a->ae += fabs(e);
        if (a->log1p) {
            double le = log1p(fmax(pred[i], -1 + 1e-12)) - log1p(fmax(target[i], -1 + 1e-12));
            a->sle += le * le;
        }
        a->n++;
        double d = target[i] - a->mean; /* Welford */
        a->mean += d / (double)a->n;
        a->m2 += d * (target[i] - a->mean);
    }
}

/* One decision of class/label k: predicted p, true t. */
static void count(struct loom_macc *a, int k, bool p, bool t)
{
    if (p && t) a->tp[k]++;
    if (p && !t) a->fp[k]++;
    if (!p && t) a->fn[k]++;
}

void loom_macc_add_binary(struct loom_macc *a, const double *prob, const uint8_t *target, int64_t n)
{
    bool keep = grow(a, n, 1);
    for (int64_t i = 0; i < n; i++) {
        bool p = prob[i] > 0.5, t = target[i] != 0;
        if (keep) {
            a->score[a->n] = prob[i];
            a->truth[a->n] = t;
        }
        if (a->tp) count(a, 0, p, t);
        a->correct += p == t;
        a->ll -= t ? log(clip(prob[i])) : log(1 - clip(prob[i]));
        a->n++;
    }
}

void loom_macc_add_category(struct loom_macc *a, const double *probs, const int32_t *target,
                            int64_t n)
{
    int K = a->k;
    for (int64_t i = 0; i < n; i++) {
        const double *p = probs + i * K;
        int t = target[i], best = 0, above = 0;
        for (int k = 1; k < K; k++)
            if (p[k] > p[best]) best = k;
        for (int k = 0; k < K; k++) above += p[k] > p[t] || (k != t && p[k] == p[t]);
        a->correct += best == t;
        a->top3 += above < 3;
        a->ll -= log(clip(p[t]));
        if (a->tp) {
            if (best == t) {
                a->tp[t]++;
            } else {
                a->fp[best]++;
                a->fn[t]++;
            }
        }
        a->n++;
    }
}

void loom_macc_add_set(struct loom_macc *a, const double *probs, const uint8_t *target, int64_t n)
{
    int L = a->k;
    bool keep = grow(a, n, L);
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < L; k++) {
            double p = probs[i * L + k];
            bool t = target[i * L + k] != 0;
            if (keep) {
                a->score[(size_t)a->n * L + k] = p;
                a->truth[(size_t)a->n * L + k] = t;
            }
            if (a->tp) count(a, k, p > 0.5, t);
            a->ll -= t ? log(clip(p)) : log(1 - clip(p));
        }
        a->n++;
    }
}

void loom_macc_add_vector(struct loom_macc *a, const double *pred, const float *target, int64_t n)
{
    int D = a->k;
    for (int64_t i = 0; i < n; i++) {
        double dot = 0, pp = 0, tt = 0;
        for (int d = 0; d < D; d++) {
            double p = pred[i * D + d], t = target[i * D + d];
            a->se += (p - t) * (p - t);
            dot += p * t, pp += p * p, tt += t * t;
        }
        a->cos += pp > 0 && tt > 0 ? dot / (sqrt(pp) * sqrt(tt)) : 0.0;
        a->n++;
    }
}

/* ---- results ---- */

struct pair {
    double s;
    uint8_t t;
};

static int pair_cmp(const void *x, const void *y)
{
    double a = ((const struct pair *)x)->s, b = ((const struct pair *)y)->s;
    return (a > b) - (a < b);
}

/* AUC of column k of the (n, stride) score/truth arrays: Mann–Whitney U
 * with average ranks for ties. */
static double auc(const struct loom_macc *a, int k, int stride)
{
    if (a->nomem || a->n == 0) return NAN;
    struct pair *v = malloc((size_t)a->n * sizeof *v);
    if (!v) return NAN;
    int64_t pos = 0;
    for (int64_t i = 0; i < a->n; i++) {
        v[i].s = a->score[(size_t)i * stride + k];
        v[i].t = a->truth[(size_t)i * stride + k];
        pos += v[i].t;
    }
    int64_t neg = a->n - pos;
    double r = NAN;
    if (pos > 0 && neg > 0) {
        qsort(v, (size_t)a->n, sizeof *v, pair_cmp);
        double rank_sum = 0;
        for (int64_t i = 0; i < a->n;) {
            int64_t j = i, npos = 0;
            while (j < a->n && v[j].s == v[i].s) npos += v[j++].t;
            rank_sum += (double)npos * (double)(i + 1 + j) / 2.0; /* ranks i+1..j */
            i = j;
        }
        r = (rank_sum - (double)pos * (double)(pos + 1) / 2.0) / ((double)pos * (double)neg);
    }
    free(v);
    return r;
}

static double f1_of(int64_t tp, int64_t fp, int64_t fn)
{
    int64_t d = 2 * tp + fp + fn;
    return d ? 2.0 * (double)tp / (double)d : NAN;
}

static double macro_f1(const struct loom_macc *a)
{
    if (!a->tp) return NAN;
    double s = 0;
    int m = 0;
    for (int k = 0; k < a->k; k++) {
        double f = f1_of(a->tp[k], a->fp[k], a->fn[k]);
        if (!isnan(f)) s += f, m++;
    }
    return m ? s / m : NAN;
}

static double micro_f1(const struct loom_macc *a)
{
    if (!a->tp) return NAN;
    int64_t tp = 0, fp = 0, fn = 0;
    for (int k = 0; k < a->k; k++) tp += a->tp[k], fp += a->fp[k], fn += a->fn[k];
    return f1_of(tp, fp, fn);
}

static double macro_auc(const struct loom_macc *a)
{
    double s = 0;
    int m = 0;
    for (int k = 0; k < a->k; k++) {
        double v = auc(a, k, a->k);
        if (!isnan(v)) s += v, m++;
    }
    return m ? s / m : NAN;
}

double loom_macc_get(const struct loom_macc *a, const char *name)
{
    double n = (double)a->n;
    if (a->n == 0) return NAN;
    switch (a->type) {
    case LOOM_COL_NUMBER:
        if (!strcmp(name, "rmse")) return sqrt(a->se / n);
        if (!strcmp(name, "mae")) return a->ae / n;
        if (!strcmp(name, "rmsle")) return a->log1p ? sqrt(a->sle / n) : NAN;
        if (!strcmp(name, "r2")) return a->n > 1 && a->m2 > 0 ? 1.0 - a->se / a->m2 : NAN;
        break;
    case LOOM_COL_BINARY:
        if (!strcmp(name, "accuracy")) return (double)a->correct / n;
        if (!strcmp(name, "auc")) return auc(a, 0, 1);
        if (!strcmp(name, "f1")) {
            if (!a->tp) return NAN;
            double f = f1_of(a->tp[0], a->fp[0], a->fn[0]);
            return isnan(f) ? 0.0 : f;
        }
        if (!strcmp(name, "logloss")) return a->ll / n;
        break;
    case LOOM_COL_CATEGORY:
        if (!strcmp(name, "accuracy")) return (double)a->correct / n;
        if (!strcmp(name, "top3")) return (double)a->top3 / n;
        if (!strcmp(name, "f1")) return macro_f1(a);
        if (!strcmp(name, "logloss")) return a->ll / n;
        break;
    case LOOM_COL_SET:
        if (!strcmp(name, "f1")) {
            double f = micro_f1(a);
            return isnan(f) && a->tp ? 0.0 : f;
        }
        if (!strcmp(name, "macro_f1")) return macro_f1(a);
        if (!strcmp(name, "auc")) return macro_auc(a);
        if (!strcmp(name, "logloss")) return a->ll / (n * a->k);
        break;
    case LOOM_COL_VECTOR:
        if (!strcmp(name, "rmse")) return sqrt(a->se / (n * a->k));
        if (!strcmp(name, "cosine")) return a->cos / n;
        break;
    default:
        break;
    }
    return NAN;
}

double loom_macc_metric(const struct loom_macc *a, enum loom_metric which)
{
    static const char *const names[] = {
        [LOOM_METRIC_RMSE] = "rmse",
        [LOOM_METRIC_MAE] = "mae",
        [LOOM_METRIC_R2] = "r2",
        [LOOM_METRIC_AUC] = "auc",
        [LOOM_METRIC_ACCURACY] = "accuracy",
        [LOOM_METRIC_LOGLOSS] = "logloss",
        [LOOM_METRIC_F1] = "f1",
        [LOOM_METRIC_COSINE] = "cosine",
    };
    _Static_assert(LOOM_ARRAY_LEN(names) == LOOM_METRIC_COSINE + 1, "a name per metric");
    if ((unsigned)which >= LOOM_ARRAY_LEN(names)) return NAN;
    return loom_macc_get(a, names[which]);
}

bool loom_metric_maximize(enum loom_metric which)
{
    return which == LOOM_METRIC_R2 || which == LOOM_METRIC_AUC || which == LOOM_METRIC_ACCURACY ||
           which == LOOM_METRIC_F1 || which == LOOM_METRIC_COSINE;
}

static int set_num(json_t *o, const char *k, double v)
{
    return json_object_set_new(o, k, isfinite(v) ? json_real(v) : json_null());
}

json_t *loom_macc_json(const struct loom_macc *a)
{
    static const char *const by_type[LOOM_COL_TYPE_COUNT][5] = {
        [LOOM_COL_NUMBER] = {"rmse", "mae", "r2", "rmsle"},
        [LOOM_COL_BINARY] = {"accuracy", "auc", "f1", "logloss"},
        [LOOM_COL_CATEGORY] = {"accuracy", "top3", "f1", "logloss"},
        [LOOM_COL_SET] = {"f1", "macro_f1", "auc", "logloss"},
        [LOOM_COL_VECTOR] = {"rmse", "cosine"},
    };
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = json_object_set_new(o, "rows", json_integer(a->n));
    for (int i = 0; i < 5 && by_type[a->type][i]; i++) {
        const char *k = by_type[a->type][i];
        if (!strcmp(k, "rmsle") && !a->log1p) continue;
        bad |= set_num(o, k, loom_macc_get(a, k));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- a model's metrics ---- */

enum loom_status loom_metrics_init(struct loom_metrics *mt, const struct loom_model *m,
                                   struct loom_error *err)
{
    memset(mt, 0, sizeof *mt);
    mt->acc = calloc((size_t)m->nheads, sizeof *mt->acc);
    mt->names = calloc((size_t)m->nheads, sizeof *mt->names);
    if (!mt->acc || !mt->names) {
        free(mt->acc), free(mt->names);
        return loom_error_set(err, LOOM_ERR_NOMEM, "metrics: out of memory");
    }
    mt->nheads = m->nheads;
    for (int j = 0; j < m->nheads; j++) {
        const struct loom_head *h = &m->heads[j];
        const struct loom_schema_column *col = &m->schema.columns[h->column];
        int k = h->type == LOOM_COL_CATEGORY ? h->width - 2 : h->width;
        loom_macc_init(&mt->acc[j], h->type, k,
                       h->type == LOOM_COL_NUMBER && col->number.transform == LOOM_TRANSFORM_LOG1P);
        mt->names[j] = strdup(col->name);
        if (!mt->names[j] || mt->acc[j].nomem) {
            loom_metrics_done(mt);
            return loom_error_set(err, LOOM_ERR_NOMEM, "metrics: out of memory");
        }
    }
    return LOOM_OK;
}

void loom_metrics_done(struct loom_metrics *mt)
{
    if (!mt) return;
    for (int j = 0; j < mt->nheads; j++) {
        if (mt->acc) loom_macc_done(&mt->acc[j]);
        if (mt->names) free(mt->names[j]);
    }
    free(mt->acc), free(mt->names);
    memset(mt, 0, sizeof *mt);
}

void loom_metrics_reset(struct loom_metrics *mt)
{
    for (int j = 0; j < mt->nheads; j++) loom_macc_reset(&mt->acc[j]);
    mt->loss_sum = 0;
    mt->rows = 0;
}

/* The rows of head j with a target, predictions and targets gathered. */
static enum loom_status add_head(struct loom_macc *a, const struct loom_model *m,
                                 const struct loom_head *h, const struct loom_batch *b,
                                 const struct loom_prediction *p)
{
    const struct loom_batch_col *col = &b->cols[h->column];
    int k = p->k;
    size_t cells = (size_t)(b->n ? b->n : 1) * (size_t)k;
    double *pv = malloc(cells * sizeof *pv), *tv = malloc(cells * sizeof *tv);
    float *tf = malloc(cells * sizeof *tf);
    uint8_t *tb = malloc(cells);
    int32_t *tl = malloc((size_t)(b->n ? b->n : 1) * sizeof *tl);
    enum loom_status st = LOOM_ERR_NOMEM;
    if (!pv || !tv || !tf || !tb || !tl) goto done;
    int64_t n = 0;
    for (int64_t i = 0; i < b->n; i++) {
        if (h->type == LOOM_COL_CATEGORY) {
            int32_t code = col->ids ? col->ids[i] : 0;
            if (code < 2 || code >= h->width) continue;
            tl[n] = code - 2;
        } else {
            if (!col->x || (col->present && col->present[i] == 0)) continue;
            for (int d = 0; d < k; d++) {
                float x = col->x[i * k + d];
                tf[n * k + d] = x;
                tb[n * k + d] = x > 0.5f;
            }
            if (h->type == LOOM_COL_NUMBER)
                tv[n] = loom_prep_decode_number(m->prep, h->column, col->x[i]);
        }
        memcpy(pv + n * k, p->value + i * k, (size_t)k * sizeof *pv);
        n++;
    }
    switch (h->type) {
    case LOOM_COL_NUMBER:
        loom_macc_add_number(a, pv, tv, n);
        break;
    case LOOM_COL_BINARY:
        loom_macc_add_binary(a, pv, tb, n);
        break;
    case LOOM_COL_CATEGORY:
        loom_macc_add_category(a, pv, tl, n);
        break;
    case LOOM_COL_SET:
        loom_macc_add_set(a, pv, tb, n);
        break;
    default:
        loom_macc_add_vector(a, pv, tf, n);
        break;
    }
    st = LOOM_OK;
done:
    free(pv), free(tv), free(tf), free(tb), free(tl);
    return st;
}

enum loom_status loom_metrics_add(struct loom_metrics *mt, const struct loom_model *m,
                                  const struct loom_batch *b, const struct loom_forward *f,
                                  struct loom_error *err)
{
    if (f->loss) {
        mt->loss_sum += (double)f->loss->data[0] * (double)b->n;
        mt->rows += b->n;
    }
    for (int j = 0; j < mt->nheads; j++) {
        struct loom_prediction p;
        enum loom_status st = loom_model_predict(m, f, j, &p, err);
        if (st) return st;
        st = add_head(&mt->acc[j], m, &m->heads[j], b, &p);
        loom_prediction_done(&p);
        if (st) return loom_error_set(err, st, "metrics: out of memory");
    }
    return LOOM_OK;
}

double loom_metrics_loss(const struct loom_metrics *mt)
{
    return mt->rows ? mt->loss_sum / (double)mt->rows : NAN;
}

json_t *loom_metrics_json(const struct loom_metrics *mt)
{
    json_t *o = json_object(), *outs = json_object();
    if (!o || !outs || set_num(o, "loss", loom_metrics_loss(mt)) ||
        json_object_set(o, "outputs", outs))
        goto fail;
    for (int j = 0; j < mt->nheads; j++) {
        json_t *h = loom_macc_json(&mt->acc[j]);
        if (!h || json_object_set_new(outs, mt->names[j], h)) goto fail;
    }
    json_decref(outs);
    return o;
fail:
    json_decref(outs);
    json_decref(o);
    return NULL;
}
