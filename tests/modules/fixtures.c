/* fixtures.c — schemas, batches, gradient checks for the modules tests. */
#include <stdio.h>
#include <string.h>

#include "core/optim.h"
#include "core/schedule.h"
#include "fixtures.h"

void mt_schema(struct loom_schema *s, const char *yaml)
{
    char text[8192];
    int k = snprintf(text, sizeof text, "data: {train: t.csv}\n%s", yaml);
    assert_true(k > 0 && (size_t)k < sizeof text);
    struct loom_schema_options opt = {.skip_file_checks = true};
    struct loom_diag d = {0};
    memset(s, 0, sizeof *s);
    enum loom_status st = loom_schema_load_mem(text, strlen(text), NULL, "t.yaml", &opt, s, &d);
    if (st) loom_diag_print(&d, stderr);
    loom_diag_done(&d);
    assert_int_equal(st, LOOM_OK);
}

void mt_batch_init(struct mt_batch *mb, const struct loom_schema *s, int64_t n)
{
    memset(mb, 0, sizeof *mb);
    mb->s = s;
    mb->b.n = n;
    mb->b.ncols = s->ncolumns;
    mb->b.cols = mt_alloc(mb, (size_t)s->ncolumns * sizeof *mb->b.cols);
    mb->b.rows = mt_alloc(mb, (size_t)n * sizeof *mb->b.rows);
    for (int i = 0; i < s->ncolumns; i++) mb->b.cols[i].type = s->columns[i].type;
    for (int64_t r = 0; r < n; r++) mb->b.rows[r] = r;
}

void mt_batch_done(struct mt_batch *mb)
{
    for (int i = 0; i < mb->nmem; i++) free(mb->mem[i]);
    memset(mb, 0, sizeof *mb);
}

void *mt_alloc(struct mt_batch *mb, size_t bytes)
{
    assert_true(mb->nmem < (int)LOOM_ARRAY_LEN(mb->mem));
    void *p = calloc(1, bytes ? bytes : 1);
    assert_non_null(p);
    return mb->mem[mb->nmem++] = p;
}

static struct loom_batch_col *col_of(struct mt_batch *mb, const char *name)
{
    int col = loom_schema_find_column(mb->s, name);
    assert_true(col >= 0);
    return &mb->b.cols[col];
}

struct loom_batch_col *mt_values(struct mt_batch *mb, const char *col, int width,
                                 struct loom_rng *r)
{
    struct loom_batch_col *bc = col_of(mb, col);
    int64_t n = mb->b.n;
    bc->width = width;
    bc->x = mt_alloc(mb, (size_t)(n * width) * sizeof(float));
    bc->present = mt_alloc(mb, (size_t)n * sizeof(float));
    loom_rng_fill_normal(r, bc->x, (size_t)(n * width), 0, 1);
    for (int64_t i = 0; i < n; i++) bc->present[i] = 1;
    return bc;
}

struct loom_batch_col *mt_codes(struct mt_batch *mb, const char *col, int32_t card,
                                struct loom_rng *r)
{
    struct loom_batch_col *bc = col_of(mb, col);
    bc->width = 1;
    bc->ids = mt_alloc(mb, (size_t)mb->b.n * sizeof(int32_t));
    for (int64_t i = 0; i < mb->b.n; i++) bc->ids[i] = (int32_t)loom_rng_below(r, (uint32_t)card);
    return bc;
}

struct loom_batch_col *mt_tokens(struct mt_batch *mb, const char *col, int T, int32_t V,
                                 const int32_t *lengths, struct loom_rng *r)
{
    struct loom_batch_col *bc = col_of(mb, col);
    int64_t n = mb->b.n;
    bc->width = T;
    bc->ids = mt_alloc(mb, (size_t)(n * T) * sizeof(int32_t));
    bc->lengths = mt_alloc(mb, (size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) {
        bc->lengths[i] = lengths ? lengths[i] : (int32_t)loom_rng_below(r, (uint32_t)T + 1);
        for (int t = 0; t < bc->lengths[i]; t++)
            bc->ids[i * T + t] = 2 + (int32_t)loom_rng_below(r, (uint32_t)(V - 2));
    }
    return bc;
}

struct loom_batch_col *mt_photos(struct mt_batch *mb, const char *col, int S, const int64_t *counts,
                                 struct loom_rng *r)
{
    struct loom_batch_col *bc = col_of(mb, col);
    int64_t n = mb->b.n;
    bc->size = S;
    bc->offsets = mt_alloc(mb, (size_t)(n + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) bc->offsets[i + 1] = bc->offsets[i] + counts[i];
    bc->count = bc->offsets[n];
    size_t len = (size_t)bc->count * 3 * (size_t)S * (size_t)S;
    bc->pixels = mt_alloc(mb, len * sizeof(float));
    loom_rng_fill_uniform(r, bc->pixels, len, -1, 1);
    return bc;
}

void mt_model_init(struct mt_model *m, const char *yaml, const struct loom_prep_column_info *info,
                   int head)
{
    memset(m, 0, sizeof *m);
    mt_schema(&m->s, yaml);
    m->prep = mt_prep(&m->s, info);
    loom_store_init(&m->store);
    struct loom_error err = {0};
    enum loom_status st = loom_encoder_init(&m->e, &m->s, 0, m->prep, &m->store, &err);
    if (st) fprintf(stderr, "encoder init: %s\n", err.message);
    assert_int_equal(st, LOOM_OK);
    if (head > 0) {
        m->head_w = loom_store_add(&m->store, "head.weight", LOOM_SHAPE(head, m->e.width),
                                   LOOM_INIT_FAN_IN, (float)m->e.width, 0, &err);
        m->head_b =
            loom_store_add(&m->store, "head.bias", LOOM_SHAPE(head), LOOM_INIT_ZEROS, 0, 0, &err);
        assert_non_null(m->head_b);
    }
    assert_int_equal(loom_store_finalize(&m->store, 5, &err), LOOM_OK);
}

double mt_fit(struct mt_model *m, const struct loom_batch *b, const float *y, bool bce, int steps,
              float lr)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    struct loom_optim o;
    struct loom_schedule sch;
    loom_schedule_init(&sch, LOOM_SCHEDULE_ONE_CYCLE, lr, steps);
    assert_int_equal(loom_optim_init_adamw(&o, 0.999f, 1e-8f, NULL), LOOM_OK);
    double last = 0;
    for (int t = 0; t < steps; t++) {
        loom_ctx_reset(&c);
        c.grad_enabled = c.training = true;
        c.bf16 = m->bf16;
        struct loom_tensor *z = loom_encoder_forward(&c, &m->e, b, NULL);
        z = loom_reshape(&c, loom_linear(&c, z, m->head_w, m->head_b), LOOM_SHAPE(b->n));
        struct loom_tensor *target = loom_tensor_wrap(&c, (float *)y, LOOM_SHAPE(b->n));
        struct loom_tensor *l = bce ? loom_bce_logits_loss(&c, z, target, NULL, NULL)
                                    : loom_mse_loss(&c, z, target, NULL);
        if (!l) fprintf(stderr, "fit: %s\n", c.err.message);
        assert_non_null(l);
        loom_store_zero_grad(&m->store);
        assert_int_equal(loom_backward(&c, l, NULL), LOOM_OK);
        float rate, beta1;
        loom_schedule_at(&sch, t, &rate, &beta1);
        assert_int_equal(loom_optim_step(&o, &m->store, rate, beta1), LOOM_OK);
        last = l->data[0];
    }
    loom_ctx_done(&c);
    return last;
}

float *mt_predict(struct mt_model *m, const struct loom_batch *b)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    struct loom_tensor *z =
        loom_linear(&c, loom_encoder_forward(&c, &m->e, b, NULL), m->head_w, m->head_b);
    if (!z) fprintf(stderr, "predict: %s\n", c.err.message);
    assert_non_null(z);
    float *out = malloc((size_t)b->n * sizeof *out);
    assert_non_null(out);
    memcpy(out, z->data, (size_t)b->n * sizeof *out);
    loom_ctx_done(&c);
    return out;
}

void mt_model_done(struct mt_model *m)
{
    loom_encoder_done(&m->e);
    loom_store_done(&m->store);
    loom_prep_free(&m->prep);
    loom_schema_free(&m->s);
}

size_t mt_count(const struct loom_store *s, const char *prefix)
{
    size_t n = 0;
    for (int i = 0; i < s->n; i++)
        if (!s->params[i]->buffer && strncmp(s->params[i]->name, prefix, strlen(prefix)) == 0)
            n += (size_t)s->params[i]->t.size;
    return n;
}

/* L = sum(y R) in double for the current params. */
static double loss_at(struct loom_ctx *c, struct loom_encoder *e, const struct loom_batch *b,
                      bool training, const float *R, int64_t n)
{
    loom_ctx_reset(c);
    c->training = training;
    c->grad_enabled = false;
    struct loom_tensor *y = loom_encoder_forward(c, e, b, NULL);
    if (!y) fprintf(stderr, "forward: %s\n", c->err.message);
    assert_non_null(y);
    assert_int_equal(y->size, n);
    double L = 0;
    for (int64_t i = 0; i < n; i++) L += (double)y->data[i] * R[i];
    return L;
}

void mt_gradcheck(struct loom_encoder *e, struct loom_store *st, const struct loom_batch *b,
                  bool training, int per_param)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 3);
    c.training = training;
    c.grad_enabled = true;
    struct loom_tensor *y = loom_encoder_forward(&c, e, b, NULL);
    if (!y) fprintf(stderr, "forward: %s\n", c.err.message);
    assert_non_null(y);
    int64_t n = y->size;
    float *R = malloc((size_t)n * sizeof *R);
    assert_non_null(R);
    struct loom_rng r;
    loom_rng_init(&r, 11, 0);
    loom_rng_fill_uniform(&r, R, (size_t)n, -1, 1);
    loom_store_zero_grad(st);
    assert_int_equal(loom_backward(&c, y, R), LOOM_OK);
    float *grad = malloc(st->total * sizeof *grad);
    assert_non_null(grad);
    memcpy(grad, st->grad, st->total * sizeof *grad);
    /* Numeric derivatives with steps h and h/10: where they disagree, the
     * longer step crossed a kink (ReLU, max pool, max over time) and the
     * shorter one is compared, with a looser tolerance (float rounding);
     * elements where both cross are skipped, at most a quarter of them. */
    const float h = 1e-2f;
    int checked = 0, bad = 0, kinks = 0;
    for (int i = 0; i < st->n; i++) {
        struct loom_param *p = st->params[i];
        if (p->buffer || p->group != e->group) continue;
        for (int k = 0; k < per_param; k++) {
            int64_t at = k == 0 ? 0 : (int64_t)loom_rng_below(&r, (uint32_t)p->t.size);
            float *v = &p->t.data[at], keep = *v;
            double num[2];
            for (int s = 0; s < 2; s++) {
                float step = s ? h / 10 : h;
                *v = keep + step;
                double lp = loss_at(&c, e, b, training, R, n);
                *v = keep - step;
                double lm = loss_at(&c, e, b, training, R, n);
                *v = keep;
                num[s] = (lp - lm) / ((double)(keep + step) - (double)(keep - step));
            }
            double ana = grad[p->offset + (size_t)at];
            checked++;
            if (fabs(num[0] - num[1]) > 5e-4 + 3e-3 * fabs(num[0])) {
                /* the longer step crossed a kink: the shorter one must agree */
                if (fabs(num[1] - ana) > 1e-3 + 1e-2 * fabs(num[1])) kinks++;
                continue;
            }
            if (fabs(num[0] - ana) > 5e-4 + 3e-3 * fmax(fabs(num[0]), fabs(ana))) {
                fprintf(stderr, "gradcheck %s[%lld]: analytic %.6g numeric %.6g\n", p->name,
                        (long long)at, ana, num[0]);
                bad++;
            }
        }
    }
    if (kinks) fprintf(stderr, "gradcheck: %d of %d elements skipped at kinks\n", kinks, checked);
    free(grad);
    free(R);
    loom_ctx_done(&c);
    assert_true(checked > 0);
    assert_true(4 * kinks <= checked);
    assert_int_equal(bad, 0);
}
