/*
 * tabular.c — the mlp encoder: the columns of a row (categories, numbers,
 * binaries, dates, sets) into one vector.
 *
 *   category c      -> embedding (cardinality, E_c), E_c = mlp.embed or
 *                      min(600, round(1.6 n^0.56)) (fastai's rule), n the
 *                      codes incl. missing (0) and unknown (1)
 *   number          -> its value and a "was missing" flag 1 - present (no
 *                      flag with `missing: drop`: no row lacks it)
 *   binary          -> its value
 *   date            -> its LOOM_DATE_NFEAT parts and a "was missing" flag
 *   set             -> its multi-hot labels
 *
 * The numeric inputs are gathered into one (N, D_num) matrix, batch-
 * normalised when the branch says batch_norm (nn.BatchNorm1d), and put after
 * the embeddings (the reference model's order); then each hidden layer is
 * linear + ReLU + dropout. Width: the last layer's, or the concatenation's.
 * Not here: normalising the numbers (the loaders did it with the training
 * statistics; batch norm only learns a scale on top).
 */
#include <math.h>
#include <string.h>

#include "core/ops.h"
#include "layers.h"

struct tab_col {
    enum loom_col_type type;
    int width;                 /* numeric inputs it gives (flag excluded) */
    bool flag;                 /* + a "was missing" input */
    struct loom_tensor *embed; /* category: (cardinality, E) */
};

struct tabular {
    int ncols;
    struct tab_col *cols; /* the branch's columns, in order */
    int nnum;             /* numeric input width incl. flags */
    bool bn_on;
    struct loom_mod_bn bn;
    int nlayers;
    struct loom_mod_linear *layers;
    float dropout;
};

/* fastai's embedding width for n codes (Python's round: half to even). */
static int embed_width(int32_t n)
{
    double w = nearbyint(1.6 * pow((double)n, 0.56));
    return (int)LOOM_MIN(600.0, LOOM_MAX(1.0, w));
}

static void tab_free(struct loom_encoder *e)
{
    struct tabular *t = e->state;
    if (!t) return;
    free(t->cols);
    free(t->layers);
    free(t);
    e->state = NULL;
}

/* One column's part of the inputs; false with err filled. */
static bool col_init(struct loom_mod_decl *d, struct tab_col *tc, const struct loom_schema *s,
                     const struct loom_schema_branch *br, int col, const struct loom_prep *p)
{
    const struct loom_schema_column *sc = &s->columns[col];
    struct loom_prep_column_info info;
    if (loom_prep_column(p, col, &info, d->err)) return false;
    if (info.type != sc->type) {
        loom_error_set(d->err, LOOM_ERR_INVALID, "branch '%s': column '%s' is %s in the prep",
                       br->name, sc->name, loom_col_type_name(info.type));
        return false;
    }
    tc->type = sc->type;
    switch (sc->type) {
    case LOOM_COL_CATEGORY: {
        if (info.cardinality < 1) break;
        int E = br->mlp.embed > 0 ? br->mlp.embed : embed_width(info.cardinality);
        /* N(0, 1), as nn.Embedding */
        tc->embed = loom_mod_param(d, false, LOOM_INIT_NORMAL, 1.0f,
                                   LOOM_SHAPE(info.cardinality, E), "%s.embed.weight", sc->name);
        return tc->embed != NULL;
    }
    case LOOM_COL_NUMBER:
        tc->width = 1;
        tc->flag = sc->number.missing != LOOM_MISSING_DROP;
        return true;
    case LOOM_COL_BINARY:
        tc->width = 1;
        return true;
    case LOOM_COL_DATE:
        tc->width = info.width;
        tc->flag = true;
        if (info.width >= 1) return true;
        break;
    case LOOM_COL_SET:
        tc->width = info.width;
        if (info.width >= 1) return true;
        break;
    default:
        loom_error_set(d->err, LOOM_ERR_SCHEMA, "branch '%s': mlp cannot take %s column '%s'",
                       br->name, loom_col_type_name(sc->type), sc->name);
        return false;
    }
    loom_error_set(d->err, LOOM_ERR_INVALID, "branch '%s': column '%s' has width %d, %d codes",
                   br->name, sc->name, info.width, (int)info.cardinality);
    return false;
}

static enum loom_status tab_init(struct loom_encoder *e, const struct loom_schema *s, int branch,
                                 const struct loom_prep *p, struct loom_store *store,
                                 struct loom_error *err)
{
    const struct loom_schema_branch *br = &s->branches[branch];
    struct loom_mod_decl d = {store, e->group, br->name, err};
    struct tabular *t = calloc(1, sizeof *t);
    if (!t) return loom_error_set(err, LOOM_ERR_NOMEM, "branch '%s': out of memory", br->name);
    e->state = t;
    t->ncols = br->ncolumns;
    t->nlayers = br->mlp.layers.n;
    t->dropout = (float)br->mlp.dropout;
    t->cols = calloc((size_t)LOOM_MAX(1, t->ncols), sizeof *t->cols);
    t->layers = calloc((size_t)LOOM_MAX(1, t->nlayers), sizeof *t->layers);
    if (!t->cols || !t->layers) {
        loom_error_set(err, LOOM_ERR_NOMEM, "branch '%s': out of memory", br->name);
        goto fail;
    }
    int64_t D = 0;
    for (int j = 0; j < t->ncols; j++) {
        struct tab_col *tc = &t->cols[j];
        if (!col_init(&d, tc, s, br, br->columns[j], p)) goto fail;
        t->nnum += tc->width + tc->flag;
        D += tc->embed ? tc->embed->shape[1] : 0;
    }
    D += t->nnum;
    t->bn_on = br->mlp.batch_norm && t->nnum > 0;
    if (t->bn_on && !loom_mod_bn_init(&d, &t->bn, t->nnum, "bn")) goto fail;
    for (int i = 0; i < t->nlayers; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer%d", i);
        if (!loom_mod_linear_init(&d, &t->layers[i], D, br->mlp.layers.v[i], true, name)) goto fail;
        D = br->mlp.layers.v[i];
    }
    e->width = (int)D;
    return LOOM_OK;
fail:
    tab_free(e);
    return err ? err->code : LOOM_ERR_NOMEM;
}

/* Copy column bc's values (and flag) into columns off.. of num (N, D). */
static bool put_numeric(struct loom_ctx *c, float *num, int64_t D, int off,
                        const struct tab_col *tc, const struct loom_batch_col *bc, int64_t N,
                        const char *name)
{
    if (!bc->x || bc->width != tc->width || (tc->flag && !bc->present))
        return loom_fail(c, LOOM_ERR_INVALID, "column '%s': batch width %d (expected %d)%s", name,
                         bc->width, tc->width, bc->x ? "" : ", no values"),
               false;
    for (int64_t r = 0; r < N; r++) {
        memcpy(num + r * D + off, bc->x + r * tc->width, (size_t)tc->width * sizeof(float));
        if (tc->flag) num[r * D + off + tc->width] = 1.0f - bc->present[r];
    }
    return true;
}

static struct loom_tensor *tab_forward(struct loom_ctx *c, const struct loom_encoder *e,
                                       const struct loom_batch *b, const float **attention)
{
    struct tabular *t = e->state;
    const struct loom_schema *s = e->schema;
    const struct loom_schema_branch *br = &s->branches[e->branch];
    int64_t N = b->n;
    struct loom_tensor **parts =
        loom_arena_alloc(&c->arena, (size_t)(t->ncols + 1) * sizeof *parts);
    struct loom_tensor *num = t->nnum ? loom_tensor_new(c, LOOM_SHAPE(N, t->nnum)) : NULL;
    if (!parts || (t->nnum && !num)) return loom_fail(c, LOOM_ERR_NOMEM, "mlp: out of memory");
    int np = 0, off = 0;
    for (int j = 0; j < t->ncols; j++) {
        const struct tab_col *tc = &t->cols[j];
        const char *name = s->columns[br->columns[j]].name;
        const struct loom_batch_col *bc = loom_mod_col(c, e, b, j, tc->type);
        if (!bc) return NULL;
        if (tc->embed) {
            if (!bc->ids || bc->width != 1)
                return loom_fail(c, LOOM_ERR_INVALID, "column '%s': no codes in the batch", name);
            if (!(parts[np++] = loom_embedding(c, tc->embed, bc->ids, N))) return NULL;
        } else {
            if (!put_numeric(c, num->data, t->nnum, off, tc, bc, N, name)) return NULL;
            off += tc->width + tc->flag;
        }
    }
    if (num) parts[np++] = t->bn_on ? loom_mod_bn(c, &t->bn, num) : num;
    struct loom_tensor *x = np == 1 ? parts[0] : loom_concat(c, np, parts);
    for (int i = 0; i < t->nlayers; i++)
        x = loom_dropout(c, loom_relu(c, loom_mod_linear(c, &t->layers[i], x)), t->dropout);
    return x;
}

const struct loom_encoder_class loom_encoder_mlp = {
    .name = "mlp",
    .kind = LOOM_ENC_MLP,
    .init = tab_init,
    .forward = tab_forward,
    .free = tab_free,
};
