/*
 * session.c — scoring (include/loom.h): a session is a thread's context
 * (step arena, oneDNN primitive cache) plus its last result. loom_predict
 * resets the arena, points a batch at the rows' encoded arrays, lays the
 * kept photos out in row order as normalised CHW floats, runs the model's
 * evaluation forward and decodes each head into the arena. From the second
 * call at a batch shape on, the arena and the primitive cache hold all it
 * needs: no allocation (tests/api checks it).
 */
#include <omp.h>
#include <string.h>

#include "api.h"
#include "core/threads.h"

enum loom_status loom_session_new(const loom_model *model, loom_session **out,
                                  struct loom_error *err)
{
    if (!model || !out)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_session_new: NULL argument");
    struct loom_session *s = calloc(1, sizeof *s);
    if (!s) return loom_error_set(err, LOOM_ERR_NOMEM, "session: out of memory");
    s->cols = calloc((size_t)model->schema.ncolumns, sizeof *s->cols);
    s->r.width = calloc((size_t)model->nheads, sizeof *s->r.width);
    if (!s->cols || !s->r.width) {
        free(s->cols), free(s->r.width), free(s);
        return loom_error_set(err, LOOM_ERR_NOMEM, "session: out of memory");
    }
    s->m = model;
    loom_ctx_init(&s->c, 0, model->seed);
    s->c.frozen = true; /* a model is immutable */
    *out = s;
    return LOOM_OK;
}

void loom_session_free(loom_session **s)
{
    if (!s || !*s) return;
    loom_ctx_done(&(*s)->c);
    free((*s)->cols);
    free((*s)->r.width);
    free(*s);
    *s = NULL;
}

void loom_session_set_threads(loom_session *s, int n)
{
    if (s && n >= 0) s->threads = n;
}

static void *arena(struct loom_ctx *c, size_t n, size_t size)
{
    size_t bytes;
    if (!loom_mul_size(n ? n : 1, size, &bytes)) return NULL;
    return loom_arena_alloc(&c->arena, bytes);
}

/* Images column k of the batch: offsets from the kept counts, the kept
 * photos in row order, normalised as in training. */
static bool batch_photos(struct loom_session *s, const struct loom_rowset *r, int k,
                         struct loom_batch_col *bc)
{
    const struct rcol *col = &r->cols[k];
    int64_t n = r->n;
    bc->size = col->size;
    bc->offsets = arena(&s->c, (size_t)n + 1, sizeof *bc->offsets);
    if (!bc->offsets) return false;
    bc->offsets[0] = 0;
    for (int64_t i = 0; i < n; i++)
        bc->offsets[i + 1] = bc->offsets[i] + r->kept[i * r->nimg + col->img];
    bc->count = bc->offsets[n];
    size_t plane = (size_t)3 * (size_t)col->size * (size_t)col->size;
    bc->pixels = arena(&s->c, (size_t)bc->count * plane, sizeof(float));
    if (!bc->pixels) return false;
    /* one thread a share of the photos from 2 on (~10 us each at 64x64): in
     * order, so that each lane of the CNN (core/ops/cnn_trunk.c) finds its
     * photos in its own core's cache */
    LOOM_OMP_FOR(bc->count >= 2 && loom_omp_fork(r->nphotos, 1), p, r->nphotos, {
        const struct rphoto *ph = &r->photos[p];
        if (ph->col == k)
            loom_image_to_chw(r->pix + ph->slot_off, col->size, col->mean, col->std,
                              bc->pixels + (size_t)(bc->offsets[ph->row] + ph->kept) * plane);
    });
    return true;
}

static bool build_batch(struct loom_session *s, const struct loom_rowset *r)
{
    struct loom_batch *b = &s->b;
    *b = (struct loom_batch){.n = r->n, .rows = r->ids, .ncols = r->ncols, .cols = s->cols};
    for (int k = 0; k < r->ncols; k++) {
        const struct rcol *col = &r->cols[k];
        struct loom_batch_col *bc = &s->cols[k];
        *bc = (struct loom_batch_col){.type = col->type};
        if (!col->input) continue;
        if (col->img >= 0) {
            if (!batch_photos(s, r, k, bc)) return false;
            continue;
        }
        bc->width = col->width;
        bc->x = col->x, bc->present = col->present;
        bc->ids = col->ids, bc->lengths = col->lengths;
    }
    return true;
}

/* Result attention of images column k (in branch br) from the branch's
 * weights att, laid out as the encoder gives them (encoder.h). */
static bool map_attention(struct loom_session *s, const struct loom_rowset *r, int k,
                          const float *att, struct rattention *out)
{
    const struct loom_schema *sch = &s->m->schema;
    const struct loom_schema_branch *br = &sch->branches[sch->columns[k].branch];
    int64_t base = 0; /* the branch's photos of the columns before k */
    for (int j = 0; j < br->ncolumns && br->columns[j] != k; j++)
        base += s->cols[br->columns[j]].count;
    int64_t n = r->n, img = r->cols[k].img;
    out->off = arena(&s->c, (size_t)n + 1, sizeof *out->off);
    if (!out->off) return false;
    out->off[0] = 0;
    for (int64_t i = 0; i < n; i++) out->off[i + 1] = out->off[i] + r->added[i * r->nimg + img];
    out->w = arena(&s->c, (size_t)out->off[n], sizeof *out->w);
    if (!out->w) return false;
    memset(out->w, 0, (size_t)out->off[n] * sizeof *out->w);
    const int64_t *boff = s->cols[k].offsets;
    for (int64_t p = 0; p < r->nphotos; p++) {
        const struct rphoto *ph = &r->photos[p];
        if (ph->col == k)
            out->w[out->off[ph->row] + ph->index] = att[base + boff[ph->row] + ph->kept];
    }
    return true;
}

static bool decode(struct loom_session *s, const struct loom_forward *f, bool outputs)
{
    const struct loom_model *m = s->m;
    struct loom_result *res = &s->r;
    int64_t n = res->n;
    res->att = arena(&s->c, (size_t)m->schema.ncolumns, sizeof *res->att);
    res->values = arena(&s->c, (size_t)m->nheads, sizeof *res->values);
    res->label = arena(&s->c, (size_t)m->nheads, sizeof *res->label);
    if (!res->att || !res->values || !res->label) return false;
    memset(res->att, 0, (size_t)m->schema.ncolumns * sizeof *res->att);
    for (int j = 0; outputs && j < m->nheads; j++) {
        const struct loom_head *h = &m->heads[j];
        int k = h->type == LOOM_COL_CATEGORY ? h->width - 2 : h->width;
        bool labels = h->type == LOOM_COL_CATEGORY || h->type == LOOM_COL_BINARY;
        res->width[j] = k;
        res->values[j] = arena(&s->c, (size_t)n * (size_t)k, sizeof(double));
        res->label[j] = labels ? arena(&s->c, (size_t)n, sizeof(int32_t)) : NULL;
        if (!res->values[j] || (labels && !res->label[j])) return false;
        if (n && loom_model_decode(m, f, j, res->values[j], res->label[j], NULL) != k) return false;
        if (h->type == LOOM_COL_CATEGORY)
            for (int64_t i = 0; i < n; i++) res->label[j][i] -= 2; /* code -> label index */
    }
    res->nout = outputs ? m->nheads : 0;
    if (!n) return true;
    res->embedding = f->embedding->data;
    for (int k = 0; k < m->schema.ncolumns; k++) {
        int br = m->schema.columns[k].branch;
        if (s->cols[k].type == LOOM_COL_IMAGES && br >= 0 && f->attention[br] &&
            !map_attention(s, s->rows, k, f->attention[br], &res->att[k]))
            return false;
    }
    return true;
}

/* Rows without photos up to which a call runs on one thread. */
#define SMALL_ROWS 4

/* Threads for one call: the session's setting (0: the process's), except
 * one for a small batch without photos. Measured on the reference model
 * (bench/infer_latency, 2 shared cores, indicative): a row without photos
 * takes 0.35 ms on one thread and 4-12 ms on two (p50; a parallel region
 * per LSTM and batch norm call, each waiting for the other thread to wake);
 * from one photo on, the convolutions split well (p50 0.55 against 0.82 ms
 * with one photo, min 0.9 against 1.8 ms with four). */
static int call_threads(const struct loom_session *s, const loom_rows *r)
{
    int nt = omp_get_max_threads(); /* the session's, set by run() */
    int64_t photos = 0;
    for (int k = 0; k < r->ncols; k++)
        if (r->cols[k].img >= 0) photos += s->cols[k].count;
    return photos == 0 && r->n <= SMALL_ROWS ? 1 : nt;
}

static enum loom_status run(struct loom_session *s, const loom_rows *r, bool outputs,
                            const loom_result **out, struct loom_error *err)
{
    if (!s || !r || !out) return loom_error_set(err, LOOM_ERR_INVALID, "NULL session or rows");
    if (r->m != s->m)
        return loom_error_set(err, LOOM_ERR_INVALID, "the rows were made for another model");
    const struct loom_model *m = s->m;
    struct loom_ctx *c = &s->c;
    loom_ctx_reset(c);
    c->training = c->grad_enabled = false;
    struct loom_result *res = &s->r;
    int *width = res->width;
    *res = (struct loom_result){.n = r->n, .width = width, .F = m->width, .m = m};
    s->rows = r;
    struct loom_forward f = {0};
    if (r->n > 0) {
        int before = omp_get_max_threads(), nt = s->threads > 0 ? s->threads : before;
        if (nt != before) omp_set_num_threads(nt);
        bool ok = build_batch(s, r);
        if (ok) {
            int call = call_threads(s, r);
            if (call != nt) omp_set_num_threads(nt = call);
        }
        enum loom_status st = ok ? loom_model_forward(c, m, &s->b, &f) : LOOM_ERR_NOMEM;
        if (nt != before) omp_set_num_threads(before);
        if (!ok) return loom_error_set(err, st, "session: out of memory for the batch");
        if (st) return loom_error_set(err, st, "%s", c->err.message);
    }
    if (!decode(s, &f, outputs))
        return loom_error_set(err, c->status ? c->status : LOOM_ERR_NOMEM,
                              "session: out of memory for the result");
    *out = res;
    return LOOM_OK;
}

enum loom_status loom_predict(loom_session *s, const loom_rows *rows, const loom_result **out,
                              struct loom_error *err)
{
    return run(s, rows, true, out, err);
}

enum loom_status loom_embed(loom_session *s, const loom_rows *rows, const loom_result **out,
                            struct loom_error *err)
{
    return run(s, rows, false, out, err);
}

/* ---- results ------------------------------------------------------------------------ */

int64_t loom_result_rows(const loom_result *r)
{
    return r ? r->n : 0;
}

int loom_result_output_count(const loom_result *r)
{
    return r ? r->nout : 0;
}

const double *loom_result_values(const loom_result *r, int j, int *width)
{
    if (!r || j < 0 || j >= r->nout) return NULL;
    if (width) *width = r->width[j];
    return r->values[j];
}

int32_t loom_result_label(const loom_result *r, int j, int64_t row)
{
    if (!r || j < 0 || j >= r->nout || row < 0 || row >= r->n || !r->label[j]) return -1;
    return r->label[j][row];
}

const float *loom_result_embedding(const loom_result *r, int *width)
{
    if (!r || !r->embedding) return NULL;
    if (width) *width = r->F;
    return r->embedding;
}

const float *loom_result_attention(const loom_result *r, int64_t row, const char *column,
                                   int *count)
{
    if (count) *count = 0;
    if (!r || row < 0 || row >= r->n || !r->att) return NULL;
    int k = loom_api_column(r->m, column);
    if (k < 0 || !r->att[k].w) return NULL;
    int64_t a = r->att[k].off[row], z = r->att[k].off[row + 1];
    if (a == z) return NULL;
    if (count) *count = (int)(z - a);
    return r->att[k].w + a;
}
