/*
 * model.c — building a model from a schema, its forward pass and its losses
 * (model.h). Predictions in user units are in predict.c, files in
 * model_io.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/ops.h"
#include "model.h"

#define BN_MOMENTUM 0.1f
#define BN_EPS      1e-5f
#define MAE_DELTA   1e-4f   /* mae = huber(δ)/δ: |e| − δ/2 outside ±δ, smooth inside */
#define CW_MAX      1000.0f /* cap of auto class weights */

/* ---- building ---- */

static const struct loom_encoder_class *class_of(const struct loom_model *m,
                                                 enum loom_encoder_kind k)
{
    return m->opts.encoder_class ? m->opts.encoder_class(k) : loom_encoder_class_of(k);
}

static enum loom_status init_encoder(struct loom_model *m, int b, struct loom_error *err)
{
    struct loom_encoder *e = &m->enc[b];
    const struct loom_schema_branch *br = &m->schema.branches[b];
    const struct loom_encoder_class *cls = class_of(m, br->encoder);
    if (!cls)
        return loom_error_set(err, LOOM_ERR_UNSUPPORTED, "branch '%s': no encoder '%s'", br->name,
                              loom_encoder_name(br->encoder));
    if (!m->opts.encoder_class) return loom_encoder_init(e, &m->schema, b, m->prep, &m->store, err);
    memset(e, 0, sizeof *e);
    e->cls = cls;
    e->schema = &m->schema;
    e->branch = b;
    e->group = loom_store_group(&m->store, br->name);
    if (e->group < 0)
        return loom_error_set(err, LOOM_ERR_LIMIT, "branch '%s': too many param groups", br->name);
    enum loom_status st = cls->init(e, &m->schema, b, m->prep, &m->store, err);
    if (st) e->cls = NULL; /* nothing to free */
    return st;
}

static struct loom_tensor *add_param(struct loom_model *m, const char *name, int64_t d0, int64_t d1,
                                     enum loom_init init, float arg, int group,
                                     struct loom_error *err)
{
    int64_t shape[2] = {d0, d1};
    return loom_store_add(&m->store, name, d1 ? 2 : 1, shape, init, arg, group, err);
}

static struct loom_tensor *add_buffer(struct loom_model *m, const char *name, int64_t d0,
                                      enum loom_init init, struct loom_error *err)
{
    return loom_store_add_buffer(&m->store, name, 1, (int64_t[]){d0}, init, 0, err);
}

static enum loom_status fusion_params(struct loom_model *m, struct loom_error *err)
{
    const struct loom_schema_fusion *fu = &m->schema.fusion;
    int g = loom_store_group(&m->store, "fusion");
    if (g < 0) return loom_error_set(err, LOOM_ERR_LIMIT, "fusion: too many param groups");
    char name[96];
    for (int b = 0; b < m->nbranches && m->modality_dropout > 0; b++) {
        snprintf(name, sizeof name, "missing.%s", m->schema.branches[b].name);
        if (!(m->missing[b] = add_param(m, name, m->enc[b].width, 0, LOOM_INIT_ZEROS, 0, g, err)))
            return err->code;
    }
    int in = m->fused_in;
    for (int i = 0; i < m->nlayers; i++) {
        struct loom_fusion_layer *l = &m->layers[i];
        int out = fu->layers.v[i];
        snprintf(name, sizeof name, "fusion.%d.w", i);
        if (!(l->w = add_param(m, name, out, in, LOOM_INIT_FAN_IN, (float)in, g, err)))
            return err->code;
        snprintf(name, sizeof name, "fusion.%d.b", i);
        if (!(l->b = add_param(m, name, out, 0, LOOM_INIT_FAN_IN, (float)in, g, err)))
            return err->code;
        if (fu->batch_norm) {
            snprintf(name, sizeof name, "fusion.%d.bn.gamma", i);
            if (!(l->gamma = add_param(m, name, out, 0, LOOM_INIT_ONES, 0, g, err)))
                return err->code;
            snprintf(name, sizeof name, "fusion.%d.bn.beta", i);
            if (!(l->beta = add_param(m, name, out, 0, LOOM_INIT_ZEROS, 0, g, err)))
                return err->code;
            snprintf(name, sizeof name, "fusion.%d.bn.mean", i);
            if (!(l->rmean = add_buffer(m, name, out, LOOM_INIT_ZEROS, err))) return err->code;
            snprintf(name, sizeof name, "fusion.%d.bn.var", i);
            if (!(l->rvar = add_buffer(m, name, out, LOOM_INIT_ONES, err))) return err->code;
        }
        in = out;
    }
    m->width = in;
    return LOOM_OK;
}

/* The affine map y -> a + b y of the prep's number decoding, after the
 * transform: decode(y) = inv_transform(a + b y). Read off decode(0) and
 * decode(1), so prep.h needs no encode function. */
static bool number_affine(const struct loom_model *m, int col, double *a, double *b)
{
    double d0 = loom_prep_decode_number(m->prep, col, 0.0);
    double d1 = loom_prep_decode_number(m->prep, col, 1.0);
    if (m->schema.columns[col].number.transform == LOOM_TRANSFORM_LOG1P) {
        if (!(d0 > -1.0) || !(d1 > -1.0)) return false;
        d0 = log1p(d0), d1 = log1p(d1);
    }
    *a = d0, *b = d1 - d0;
    return isfinite(*a) && isfinite(*b) && *b > 0;
}

bool loom_model_encode_number(const struct loom_model *m, int col, double v, double *out)
{
    double a, b;
    if (!number_affine(m, col, &a, &b)) return false;
    if (m->schema.columns[col].number.transform == LOOM_TRANSFORM_LOG1P) {
        if (!(v > -1.0)) return false;
        v = log1p(v);
    }
    double y = (v - a) / b;
    if (!isfinite(y)) return false;
    *out = y;
    return true;
}

static enum loom_status head_range(struct loom_model *m, struct loom_head *h,
                                   const struct loom_schema_output *o, struct loom_error *err)
{
    const char *name = m->schema.columns[h->column].name;
    double lo, hi;
    if (!loom_model_encode_number(m, h->column, o->range[0], &lo) ||
        !loom_model_encode_number(m, h->column, o->range[1], &hi) || !(lo < hi))
        return loom_error_set_at(err, LOOM_ERR_SCHEMA, m->schema.source, o->at.line, o->at.column,
                                 "output '%s': range [%g, %g] cannot be mapped through the "
                                 "column's transform and normalisation",
                                 name, o->range[0], o->range[1]);
    double w = o->margin * (hi - lo);
    h->has_range = true;
    h->range_mode = o->range_mode;
    h->lo = (float)lo, h->hi = (float)hi;
    h->sig_lo = (float)(lo - w), h->sig_hi = (float)(hi + w);
    return LOOM_OK;
}

static enum loom_status head_params(struct loom_model *m, int j, struct loom_error *err)
{
    const struct loom_schema_output *o = &m->schema.outputs[j];
    struct loom_head *h = &m->heads[j];
    const char *cname = m->schema.columns[o->column].name;
    struct loom_prep_column_info info;
    enum loom_status st = loom_prep_column(m->prep, o->column, &info, err);
    if (st) return st;
    *h = (struct loom_head){.output = j, .column = o->column, .type = o->type, .loss = o->loss};
    h->huber_delta = (float)o->huber_delta;
    h->weight = (float)o->weight;
    switch (o->type) {
    case LOOM_COL_NUMBER:
    case LOOM_COL_BINARY:
        h->width = 1;
        break;
    case LOOM_COL_CATEGORY:
        h->width = info.cardinality;
        if (h->width < 3)
            return loom_error_set(err, LOOM_ERR_INVALID,
                                  "output '%s': no label seen in training (%d codes)", cname,
                                  h->width);
        break;
    case LOOM_COL_SET:
        h->width = info.cardinality;
        break;
    case LOOM_COL_VECTOR:
        h->width = info.width;
        break;
    default:
        return loom_error_set(err, LOOM_ERR_SCHEMA, "output '%s': type %s cannot be predicted",
                              cname, loom_col_type_name(o->type));
    }
    if (h->width < 1)
        return loom_error_set(err, LOOM_ERR_INVALID, "output '%s': width %d", cname, h->width);
    if (o->type == LOOM_COL_NUMBER && o->has_range && (st = head_range(m, h, o, err))) return st;
    int g = loom_store_group(&m->store, "heads");
    if (g < 0) return loom_error_set(err, LOOM_ERR_LIMIT, "heads: too many param groups");
    char name[300];
    snprintf(name, sizeof name, "head.%s.w", cname);
    if (!(h->w = add_param(m, name, h->width, m->width, LOOM_INIT_FAN_IN, (float)m->width, g, err)))
        return err->code;
    snprintf(name, sizeof name, "head.%s.b", cname);
    if (!(h->b = add_param(m, name, h->width, 0, LOOM_INIT_FAN_IN, (float)m->width, g, err)))
        return err->code;
    if (o->class_weights == LOOM_CLASS_WEIGHTS_AUTO &&
        (o->type == LOOM_COL_BINARY || o->type == LOOM_COL_CATEGORY || o->type == LOOM_COL_SET)) {
        snprintf(name, sizeof name, "head.%s.class_weight", cname);
        if (!(h->cw = add_buffer(m, name, h->width, LOOM_INIT_ONES, err))) return err->code;
    }
    return LOOM_OK;
}

static enum loom_status build(struct loom_model *m, struct loom_error *err)
{
    struct loom_schema *s = &m->schema;
    if (loom_prep_ncols(m->prep) != s->ncolumns)
        return loom_error_set(err, LOOM_ERR_INVALID,
                              "model: the prep has %d columns, the schema %d",
                              loom_prep_ncols(m->prep), s->ncolumns);
    if (s->nbranches < 1 || s->noutputs < 1)
        return loom_error_set(err, LOOM_ERR_SCHEMA, "model: no branch or no output");
    m->nbranches = s->nbranches;
    m->nlayers = s->fusion.layers.n;
    m->nheads = s->noutputs;
    m->modality_dropout = (float)s->fusion.modality_dropout;
    m->enc = calloc((size_t)m->nbranches, sizeof *m->enc);
    m->missing = calloc((size_t)m->nbranches, sizeof *m->missing);
    m->layers = calloc((size_t)(m->nlayers ? m->nlayers : 1), sizeof *m->layers);
    m->heads = calloc((size_t)m->nheads, sizeof *m->heads);
    if (!m->enc || !m->missing || !m->layers || !m->heads)
        return loom_error_set(err, LOOM_ERR_NOMEM, "model: out of memory");
    enum loom_status st;
    for (int b = 0; b < m->nbranches; b++) {
        if ((st = init_encoder(m, b, err))) return st;
        if (m->enc[b].width < 1 || m->fused_in > (1 << 24) - m->enc[b].width)
            return loom_error_set(err, LOOM_ERR_INVALID, "branch '%s': encoder width %d",
                                  s->branches[b].name, m->enc[b].width);
        m->fused_in += m->enc[b].width;
    }
    if ((st = fusion_params(m, err))) return st;
    for (int j = 0; j < m->nheads; j++)
        if ((st = head_params(m, j, err))) return st;
    return loom_store_finalize(&m->store, m->seed, err);
}

/* Free what build made; the schema and prep only when owned. */
static void teardown(struct loom_model *m, bool owns_inputs)
{
    for (int b = 0; m->enc && b < m->nbranches; b++) {
        struct loom_encoder *e = &m->enc[b];
        if (!e->cls) continue;
        if (m->opts.encoder_class) {
            if (e->cls->free) e->cls->free(e);
        } else {
            loom_encoder_done(e);
        }
    }
    free(m->enc), free(m->missing), free(m->layers), free(m->heads);
    loom_store_done(&m->store);
    if (owns_inputs) {
        loom_schema_free(&m->schema);
        loom_prep_free(&m->prep);
    }
    free(m);
}

enum loom_status loom_model_new(struct loom_schema *s, struct loom_prep **p, uint64_t seed,
                                const struct loom_model_opts *opts, struct loom_model **out,
                                struct loom_error *err)
{
    if (!s || !p || !*p || !out)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_model_new: NULL argument");
    struct loom_model *m = calloc(1, sizeof *m);
    if (!m) return loom_error_set(err, LOOM_ERR_NOMEM, "model: out of memory");
    m->schema = *s;
    m->prep = *p;
    m->seed = seed;
    if (opts) m->opts = *opts;
    loom_store_init(&m->store);
    struct loom_error local;
    if (!err) err = &local;
    enum loom_status st = build(m, err);
    if (st) {
        teardown(m, false);
        return st;
    }
    memset(s, 0, sizeof *s);
    *p = NULL;
    *out = m;
    return LOOM_OK;
}

void loom_model_free(struct loom_model **m)
{
    if (!m || !*m) return;
    teardown(*m, true);
    *m = NULL;
}

void loom_model_set_class_weights(struct loom_model *m, const int64_t *const *counts,
                                  const int64_t *totals)
{
    for (int j = 0; j < m->nheads; j++) {
        struct loom_head *h = &m->heads[j];
        if (!h->cw || !counts[j]) continue;
        float *w = h->cw->data;
        double n = (double)totals[j];
        if (h->type == LOOM_COL_CATEGORY) {
            /* sklearn's "balanced": N / (K' n_k) over the K' labels seen */
            int seen = 0;
            for (int k = 2; k < h->width; k++) seen += counts[j][k] > 0;
            for (int k = 0; k < h->width; k++) {
                double c = (double)counts[j][k];
                w[k] = k >= 2 && c > 0 ? (float)fmin(n / (seen * c), CW_MAX) : 1.0f;
            }
        } else { /* binary, set: pos_weight = negatives / positives */
            for (int k = 0; k < h->width; k++) {
                double pos = (double)counts[j][k];
                w[k] = pos > 0 && n > pos ? (float)fmin((n - pos) / pos, CW_MAX) : 1.0f;
            }
        }
    }
}

/* ---- forward ---- */

/* Record a failure in c and return its status. */
__attribute__((format(printf, 3, 4))) static enum loom_status
fail(struct loom_ctx *c, enum loom_status code, const char *fmt, ...)
{
    char msg[sizeof c->err.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    loom_fail(c, code, "%s", msg);
    return c->status;
}

/* v (N,E) -> rows with dropped[i] = 1 replaced by missing (E): v·keep +
 * (0 + missing)·(1 − keep), with 0/1 masks that carry no gradient. */
static struct loom_tensor *replace_rows(struct loom_ctx *c, struct loom_tensor *v,
                                        struct loom_tensor *missing, const uint8_t *dropped,
                                        int stride)
{
    int64_t N = v->shape[0], E = v->shape[1];
    struct loom_tensor *keep = loom_tensor_new(c, LOOM_SHAPE(N, E));
    struct loom_tensor *drop = loom_tensor_new(c, LOOM_SHAPE(N, E));
    struct loom_tensor *zero = loom_tensor_zeros(c, LOOM_SHAPE(N, E));
    if (!keep || !drop || !zero) return NULL;
    for (int64_t i = 0; i < N; i++)
        for (int64_t e = 0; e < E; e++) {
            float d = dropped[i * stride] ? 1.0f : 0.0f;
            keep->data[i * E + e] = 1.0f - d;
            drop->data[i * E + e] = d;
        }
    return loom_add(c, loom_mul(c, v, keep), loom_mul(c, loom_add(c, zero, missing), drop));
}

/* Modality dropout: each (row, branch) independently with probability p,
 * drawn from c->rng in row-major order (so the same for any thread count). */
static bool modality_dropout(struct loom_ctx *c, const struct loom_model *m, struct loom_forward *f)
{
    int64_t N = f->n;
    int B = m->nbranches;
    if (!c->training || m->modality_dropout <= 0 || N == 0) return true;
    size_t bytes;
    if (!loom_mul_size((size_t)N, (size_t)B, &bytes)) {
        loom_fail(c, LOOM_ERR_LIMIT, "modality dropout: batch too large");
        return false;
    }
    f->dropped = loom_arena_alloc(&c->arena, bytes);
    if (!f->dropped) {
        loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory");
        return false;
    }
    for (size_t i = 0; i < bytes; i++)
        f->dropped[i] = loom_rng_uniform(&c->rng) < m->modality_dropout;
    for (int b = 0; b < B; b++) {
        bool any = false;
        for (int64_t i = 0; i < N && !any; i++) any = f->dropped[i * B + b];
        if (any) f->branch[b] = replace_rows(c, f->branch[b], m->missing[b], f->dropped + b, B);
        if (!f->branch[b]) return false;
    }
    return true;
}

static struct loom_tensor *head_forward(struct loom_ctx *c, const struct loom_head *h,
                                        struct loom_tensor *x)
{
    struct loom_tensor *y = loom_linear(c, x, h->w, h->b);
    if (h->has_range && h->range_mode == LOOM_RANGE_SIGMOID)
        y = loom_sigmoid_range(c, y, h->sig_lo, h->sig_hi);
    return y;
}

enum loom_status loom_model_forward(struct loom_ctx *c, const struct loom_model *m,
                                    const struct loom_batch *b, struct loom_forward *f)
{
    memset(f, 0, sizeof *f);
    if (c->status) return c->status;
    if (b->ncols != m->schema.ncolumns)
        return fail(c, LOOM_ERR_INVALID, "model: batch of %d columns, schema of %d", b->ncols,
                    m->schema.ncolumns);
    f->n = b->n;
    f->branch = loom_arena_alloc(&c->arena, (size_t)m->nbranches * sizeof *f->branch);
    f->out = loom_arena_alloc(&c->arena, (size_t)m->nheads * sizeof *f->out);
    f->attention = loom_arena_calloc(&c->arena, (size_t)m->nbranches, sizeof *f->attention);
    if (!f->branch || !f->out || !f->attention)
        return fail(c, LOOM_ERR_NOMEM, "step arena: out of memory");
    for (int i = 0; i < m->nbranches; i++) {
        const struct loom_encoder *e = &m->enc[i];
        struct loom_tensor *v = m->opts.encoder_class
                                    ? e->cls->forward(c, e, b, &f->attention[i])
                                    : loom_encoder_forward(c, e, b, &f->attention[i]);
        if (!v)
            return c->status ? c->status
                             : fail(c, LOOM_ERR_INTERNAL, "branch '%s': encoder gave no tensor",
                                    m->schema.branches[i].name);
        if (v->ndim != 2 || v->shape[0] != b->n || v->shape[1] != e->width) {
            char sh[64];
            return fail(c, LOOM_ERR_SHAPE, "branch '%s': encoder gave %s, expected %lldx%d",
                        m->schema.branches[i].name, loom_shape_str(v, sh, sizeof sh),
                        (long long)b->n, e->width);
        }
        f->branch[i] = v;
    }
    if (!modality_dropout(c, m, f)) return c->status;
    struct loom_tensor *x =
        m->nbranches == 1 ? f->branch[0] : loom_concat(c, m->nbranches, f->branch);
    float p = (float)m->schema.fusion.dropout;
    for (int i = 0; i < m->nlayers; i++) {
        const struct loom_fusion_layer *l = &m->layers[i];
        x = loom_linear(c, x, l->w, l->b);
        if (l->gamma)
            x = loom_batch_norm(c, x, l->gamma, l->beta, l->rmean, l->rvar, BN_MOMENTUM, BN_EPS);
        x = loom_relu(c, x);
        if (i == m->nlayers - 1) f->embedding = x;
        x = loom_dropout(c, x, p);
    }
    if (!m->nlayers) f->embedding = x;
    for (int j = 0; j < m->nheads; j++) f->out[j] = head_forward(c, &m->heads[j], x);
    return c->status;
}

/* ---- losses ---- */

/* The batch column of head h as a target tensor (N,K) (no copy). */
static struct loom_tensor *target_of(struct loom_ctx *c, const struct loom_head *h,
                                     const struct loom_batch *b)
{
    const struct loom_batch_col *col = &b->cols[h->column];
    if (!col->x || col->width != h->width)
        return loom_fail(c, LOOM_ERR_SHAPE, "output column %d: batch width %d, head width %d",
                         h->column, col->width, h->width);
    return loom_tensor_wrap(c, col->x, LOOM_SHAPE(b->n, h->width));
}

/* Cosine loss over the rows with a target: both gathered (embedding is the
 * gather op; its backward adds into the used rows). */
static struct loom_tensor *cosine_present(struct loom_ctx *c, struct loom_tensor *pred,
                                          struct loom_tensor *tgt, const float *present)
{
    int64_t N = pred->shape[0], n = 0;
    int32_t *idx = loom_arena_alloc(&c->arena, (size_t)(N ? N : 1) * sizeof *idx);
    if (!idx) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory");
    for (int64_t i = 0; i < N; i++)
        if (!present || present[i] != 0) idx[n++] = (int32_t)i;
    if (n == 0) return loom_tensor_zeros(c, LOOM_SHAPE(1));
    if (n == N) return loom_cosine_loss(c, pred, tgt, NULL, 0);
    return loom_cosine_loss(c, loom_embedding(c, pred, idx, n), loom_embedding(c, tgt, idx, n),
                            NULL, 0);
}

static struct loom_tensor *regression_loss(struct loom_ctx *c, const struct loom_head *h,
                                           struct loom_tensor *y, struct loom_tensor *t,
                                           const float *present)
{
    switch (h->loss) {
    case LOOM_LOSS_MAE:
        return loom_scale(c, loom_huber_loss(c, y, t, MAE_DELTA, present), 1.0f / MAE_DELTA);
    case LOOM_LOSS_HUBER:
        return loom_huber_loss(c, y, t, h->huber_delta, present);
    case LOOM_LOSS_COSINE:
        return cosine_present(c, y, t, present);
    default:
        return loom_mse_loss(c, y, t, present);
    }
}

static struct loom_tensor *head_loss(struct loom_ctx *c, const struct loom_head *h,
                                     struct loom_tensor *y, const struct loom_batch *b)
{
    const struct loom_batch_col *col = &b->cols[h->column];
    if (h->type == LOOM_COL_CATEGORY) {
        if (!col->ids) return loom_fail(c, LOOM_ERR_SHAPE, "category output: batch has no codes");
        int32_t *lab = loom_arena_alloc(&c->arena, (size_t)(b->n ? b->n : 1) * sizeof *lab);
        if (!lab) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory");
        for (int64_t i = 0; i < b->n; i++)
            lab[i] = col->ids[i] >= 2 && col->ids[i] < h->width ? col->ids[i] : LOOM_CE_IGNORE;
        return loom_softmax_ce_loss(c, y, lab, h->cw ? h->cw->data : NULL, LOOM_CE_IGNORE);
    }
    struct loom_tensor *t = target_of(c, h, b);
    if (h->type == LOOM_COL_BINARY || h->type == LOOM_COL_SET)
        return loom_bce_logits_loss(c, y, t, h->cw ? h->cw->data : NULL, col->present);
    return regression_loss(c, h, y, t, col->present);
}

enum loom_status loom_model_loss(struct loom_ctx *c, struct loom_model *m,
                                 const struct loom_batch *b, struct loom_forward *f)
{
    if (c->status) return c->status;
    f->losses = loom_arena_alloc(&c->arena, (size_t)m->nheads * sizeof *f->losses);
    if (!f->losses) return fail(c, LOOM_ERR_NOMEM, "step arena: out of memory");
    struct loom_tensor *total = NULL;
    for (int j = 0; j < m->nheads; j++) {
        const struct loom_head *h = &m->heads[j];
        struct loom_tensor *l = head_loss(c, h, f->out[j], b);
        if (!l) return c->status;
        f->losses[j] = l->data[0];
        if (h->weight != 1.0f) l = loom_scale(c, l, h->weight);
        total = total ? loom_add(c, total, l) : l;
    }
    f->loss = total;
    return c->status;
}
