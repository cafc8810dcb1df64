/*
 * text.c — the rnn encoder: each text column of a row into one vector.
 *
 *   ids (N,T) -> embedding (V,E) -> [conv1d (E->C, kernel K, "same") + ReLU]
 *   -> `layers` stacked LSTM/GRU layers (hidden H per direction, both
 *   directions when bidirectional; dropout between layers) -> (N,T,D),
 *   D = H or 2H -> pooled over each row's valid steps -> dropout
 *
 * Pools (rnn.pool): mean, max, last, mean_max = [mean, max] (the reference
 * model's, the default) and last_mean_max = [last, mean, max]. "last" is the
 * forward direction's output at step len-1 and the backward direction's at
 * step 0 (where each has read the whole text). A row with no tokens (len 0)
 * pools to zeros: the recurrent ops give zeros past a row's length and the
 * time pools give zeros for it.
 *
 * With rnn.share (the default) one embedding, convolution and RNN serve
 * every text column of the branch (they share one vocabulary); otherwise
 * each column has its own. Either way each column is pooled on its own and
 * the branch's vector is the concatenation over columns.
 *
 * Params follow PyTorch's names and initialisation: "<branch>[.<column>]"
 * then ".embed.weight" (N(0,1); row 0, padding, is never read: padded steps
 * are past the row's length), ".conv.weight/.bias" (U(±1/sqrt(E K))),
 * ".rnn.weight_ih_l0[_reverse]", "weight_hh", "bias_ih", "bias_hh"
 * (U(±1/sqrt(H))).
 */
#include <string.h>

#include "core/ops.h"
#include "layers.h"

struct text_unit {
    struct loom_tensor *embed;           /* (V,E) */
    struct loom_tensor *conv_w, *conv_b; /* (C,E,K), (C); NULL without conv1d */
    struct loom_rnn_weights (*rnn)[2];   /* [layer][direction] */
};

struct text {
    int ncols, nunits;
    struct text_unit *units;
    int *unit_of; /* (ncols): column j's unit */
    enum loom_rnn_cell cell;
    enum loom_seq_pool pool;
    int nlayers, ndir, H;
    float dropout;
};

/* Pooled vectors per step vector: how many of D each pool gives. */
static int pool_parts(enum loom_seq_pool p)
{
    return p == LOOM_SEQ_POOL_MEAN_MAX ? 2 : p == LOOM_SEQ_POOL_LAST_MEAN_MAX ? 3 : 1;
}

static void text_free(struct loom_encoder *e)
{
    struct text *t = e->state;
    if (!t) return;
    for (int u = 0; t->units && u < t->nunits; u++) free(t->units[u].rnn);
    free(t->units);
    free(t->unit_of);
    free(t);
    e->state = NULL;
}

/* Declare unit u's params under prefix ("" when shared, "<column>." else). */
static bool unit_init(struct loom_mod_decl *d, struct text *t, struct text_unit *u,
                      const struct loom_schema_branch *br, int32_t V, const char *prefix)
{
    int64_t E = br->rnn.embed, H = t->H;
    u->rnn = calloc((size_t)t->nlayers, sizeof *u->rnn);
    if (!u->rnn) {
        loom_error_set(d->err, LOOM_ERR_NOMEM, "branch '%s': out of memory", br->name);
        return false;
    }
    if (!(u->embed = loom_mod_param(d, false, LOOM_INIT_NORMAL, 1.0f, LOOM_SHAPE(V, E),
                                    "%sembed.weight", prefix)))
        return false;
    int64_t in = E;
    if (br->rnn.conv1d.enabled) {
        int64_t C = br->rnn.conv1d.channels, K = br->rnn.conv1d.kernel;
        if (K % 2 == 0) {
            loom_error_set(d->err, LOOM_ERR_SCHEMA,
                           "branch '%s': conv1d.kernel %d must be odd (a \"same\" convolution)",
                           br->name, (int)K);
            return false;
        }
        if (!(u->conv_w = loom_mod_param(d, false, LOOM_INIT_FAN_IN, (float)(E * K),
                                         LOOM_SHAPE(C, E, K), "%sconv.weight", prefix)) ||
            !(u->conv_b = loom_mod_param(d, false, LOOM_INIT_FAN_IN, (float)(E * K), LOOM_SHAPE(C),
                                         "%sconv.bias", prefix)))
            return false;
        in = C;
    }
    int64_t G = t->cell == LOOM_CELL_LSTM ? 4 : 3;
    for (int l = 0; l < t->nlayers; l++) {
        for (int dir = 0; dir < t->ndir; dir++) {
            struct loom_rnn_weights *w = &u->rnn[l][dir];
            const char *rev = dir ? "_reverse" : "";
            float k = (float)H; /* U(-1/sqrt(H), 1/sqrt(H)) for every tensor, as nn.LSTM */
            if (!(w->w_ih = loom_mod_param(d, false, LOOM_INIT_FAN_IN, k, LOOM_SHAPE(G * H, in),
                                           "%srnn.weight_ih_l%d%s", prefix, l, rev)) ||
                !(w->w_hh = loom_mod_param(d, false, LOOM_INIT_FAN_IN, k, LOOM_SHAPE(G * H, H),
                                           "%srnn.weight_hh_l%d%s", prefix, l, rev)) ||
                !(w->b_ih = loom_mod_param(d, false, LOOM_INIT_FAN_IN, k, LOOM_SHAPE(G * H),
                                           "%srnn.bias_ih_l%d%s", prefix, l, rev)) ||
                !(w->b_hh = loom_mod_param(d, false, LOOM_INIT_FAN_IN, k, LOOM_SHAPE(G * H),
                                           "%srnn.bias_hh_l%d%s", prefix, l, rev)))
                return false;
        }
        in = t->ndir * H;
    }
    return true;
}

static enum loom_status text_init(struct loom_encoder *e, const struct loom_schema *s, int branch,
                                  const struct loom_prep *p, struct loom_store *store,
                                  struct loom_error *err)
{
    const struct loom_schema_branch *br = &s->branches[branch];
    struct loom_mod_decl d = {store, e->group, br->name, err};
    struct text *t = calloc(1, sizeof *t);
    if (!t) return loom_error_set(err, LOOM_ERR_NOMEM, "branch '%s': out of memory", br->name);
    e->state = t;
    *t = (struct text){.ncols = br->ncolumns,
                       .nunits = br->rnn.share ? 1 : br->ncolumns,
                       .cell = br->rnn.cell,
                       .pool = br->rnn.pool,
                       .nlayers = br->rnn.layers,
                       .ndir = br->rnn.bidirectional ? 2 : 1,
                       .H = br->rnn.hidden,
                       .dropout = (float)br->rnn.dropout};
    t->units = calloc((size_t)LOOM_MAX(1, t->nunits), sizeof *t->units);
    t->unit_of = calloc((size_t)LOOM_MAX(1, t->ncols), sizeof *t->unit_of);
    if (!t->units || !t->unit_of) {
        loom_error_set(err, LOOM_ERR_NOMEM, "branch '%s': out of memory", br->name);
        goto fail;
    }
    /* Vocabulary sizes: per column, or the largest when shared (the columns
     * then share one vocabulary and the sizes agree). */
    int32_t V = 0;
    for (int j = 0; j < t->ncols; j++) {
        const struct loom_schema_column *sc = &s->columns[br->columns[j]];
        struct loom_prep_column_info info;
        if (loom_prep_column(p, br->columns[j], &info, err)) goto fail;
        if (sc->type != LOOM_COL_TEXT || info.type != LOOM_COL_TEXT || info.cardinality < 1) {
            loom_error_set(err, LOOM_ERR_SCHEMA, "branch '%s': rnn cannot take %s column '%s'",
                           br->name, loom_col_type_name(sc->type), sc->name);
            goto fail;
        }
        t->unit_of[j] = br->rnn.share ? 0 : j;
        if (!br->rnn.share) {
            char prefix[256];
            if ((size_t)snprintf(prefix, sizeof prefix, "%s.", sc->name) >= sizeof prefix) {
                loom_error_set(err, LOOM_ERR_LIMIT, "branch '%s': column name too long", br->name);
                goto fail;
            }
            if (!unit_init(&d, t, &t->units[j], br, info.cardinality, prefix)) goto fail;
        }
        V = LOOM_MAX(V, info.cardinality);
    }
    if (br->rnn.share && !unit_init(&d, t, &t->units[0], br, V, "")) goto fail;
    e->width = t->ncols * pool_parts(t->pool) * t->ndir * t->H;
    return LOOM_OK;
fail:
    text_free(e);
    return err ? err->code : LOOM_ERR_NOMEM;
}

/* x (N*T, D) -> (N, D): row r's step `len-1` (last) or 0 (first); zeros for
 * a row of length 0. A bag weighted sum with one-hot weights, bags of T steps. */
static struct loom_tensor *time_pick(struct loom_ctx *c, struct loom_tensor *x, const int32_t *len,
                                     int64_t N, int64_t T, bool last)
{
    struct loom_tensor *a = loom_tensor_zeros(c, LOOM_SHAPE(N * T));
    int64_t *off = loom_arena_alloc(&c->arena, (size_t)(N + 1) * sizeof *off);
    if (!a || !off) return loom_fail(c, LOOM_ERR_NOMEM, "rnn: out of memory");
    for (int64_t r = 0; r <= N; r++) off[r] = r * T;
    for (int64_t r = 0; r < N; r++)
        if (len[r] > 0) a->data[r * T + (last ? len[r] - 1 : 0)] = 1.0f;
    return loom_bag_weighted_sum(c, x, a, off, N, NULL);
}

/* y (N,T,ndir*H) -> (N, ndir*H): the forward direction's last valid step
 * and the backward direction's first. */
static struct loom_tensor *time_last(struct loom_ctx *c, struct loom_tensor *y, const int32_t *len,
                                     int ndir, int64_t H)
{
    int64_t N = y->shape[0], T = y->shape[1];
    struct loom_tensor *flat = loom_reshape(c, y, LOOM_SHAPE(N * T, ndir * H));
    struct loom_tensor *fwd = time_pick(c, flat, len, N, T, true);
    if (ndir == 1 || !fwd) return fwd;
    struct loom_tensor *bwd = time_pick(c, flat, len, N, T, false), *f[2], *b[2];
    const int64_t halves[2] = {H, H};
    if (!loom_split(c, fwd, 2, halves, f) || !loom_split(c, bwd, 2, halves, b)) return NULL;
    return loom_concat(c, 2, (struct loom_tensor *[]){f[0], b[1]});
}

static struct loom_tensor *pool(struct loom_ctx *c, const struct text *t, struct loom_tensor *y,
                                const int32_t *len)
{
    if (!y) return NULL;
    switch (t->pool) {
    case LOOM_SEQ_POOL_MEAN:
        return loom_time_mean(c, y, len);
    case LOOM_SEQ_POOL_MAX:
        return loom_time_max(c, y, len);
    case LOOM_SEQ_POOL_LAST:
        return time_last(c, y, len, t->ndir, t->H);
    case LOOM_SEQ_POOL_MEAN_MAX:
        return loom_concat(
            c, 2, (struct loom_tensor *[]){loom_time_mean(c, y, len), loom_time_max(c, y, len)});
    case LOOM_SEQ_POOL_LAST_MEAN_MAX:
        return loom_concat(c, 3,
                           (struct loom_tensor *[]){time_last(c, y, len, t->ndir, t->H),
                                                    loom_time_mean(c, y, len),
                                                    loom_time_max(c, y, len)});
    }
    return loom_fail(c, LOOM_ERR_INTERNAL, "rnn: pool %d", (int)t->pool);
}

/* One column (N,T ids) through its unit -> (N, pooled width). */
static struct loom_tensor *encode(struct loom_ctx *c, const struct text *t,
                                  const struct text_unit *u, const struct loom_batch_col *bc,
                                  int64_t N, const char *name)
{
    int64_t T = bc->width;
    if (!bc->ids || !bc->lengths || T < 1)
        return loom_fail(c, LOOM_ERR_INVALID, "column '%s': no tokens or lengths in the batch",
                         name);
    int64_t E = u->embed->shape[1];
    struct loom_tensor *x = loom_embedding(c, u->embed, bc->ids, N * T);
    x = loom_reshape(c, x, LOOM_SHAPE(N, T, E));
    if (u->conv_w) x = loom_relu(c, loom_conv1d(c, x, u->conv_w, u->conv_b, bc->lengths));
    for (int l = 0; l < t->nlayers; l++) {
        const struct loom_rnn_weights *bwd = t->ndir == 2 ? &u->rnn[l][1] : NULL;
        x = t->cell == LOOM_CELL_LSTM ? loom_lstm(c, x, bc->lengths, &u->rnn[l][0], bwd)
                                      : loom_gru(c, x, bc->lengths, &u->rnn[l][0], bwd);
        if (l + 1 < t->nlayers) x = loom_dropout(c, x, t->dropout);
    }
    return loom_dropout(c, pool(c, t, x, bc->lengths), t->dropout);
}

static struct loom_tensor *text_forward(struct loom_ctx *c, const struct loom_encoder *e,
                                        const struct loom_batch *b, const float **attention)
{
    struct text *t = e->state;
    const struct loom_schema_branch *br = &e->schema->branches[e->branch];
    struct loom_tensor **parts = loom_arena_alloc(&c->arena, (size_t)t->ncols * sizeof *parts);
    if (!parts) return loom_fail(c, LOOM_ERR_NOMEM, "rnn: out of memory");
    for (int j = 0; j < t->ncols; j++) {
        const struct loom_batch_col *bc = loom_mod_col(c, e, b, j, LOOM_COL_TEXT);
        if (!bc) return NULL;
        const char *name = e->schema->columns[br->columns[j]].name;
        if (!(parts[j] = encode(c, t, &t->units[t->unit_of[j]], bc, b->n, name))) return NULL;
    }
    return t->ncols == 1 ? parts[0] : loom_concat(c, t->ncols, parts);
}

const struct loom_encoder_class loom_encoder_rnn = {
    .name = "rnn",
    .kind = LOOM_ENC_RNN,
    .init = text_init,
    .forward = text_forward,
    .free = text_free,
};
