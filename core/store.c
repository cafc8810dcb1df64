/* store.c — the parameter store (see store.h). */
#include <math.h>
#include <string.h>

#include "store.h"

void loom_store_init(struct loom_store *s)
{
    memset(s, 0, sizeof *s);
    loom_store_group(s, "default");
}

void loom_store_done(struct loom_store *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        free(s->params[i]->name);
        free(s->params[i]);
    }
    free(s->params);
    free(s->data);
    free(s->grad);
    free(s->m);
    free(s->v);
    memset(s, 0, sizeof *s);
}

int loom_store_group(struct loom_store *s, const char *name)
{
    for (int i = 0; i < s->ngroups; i++)
        if (strcmp(s->groups[i].name, name) == 0) return i;
    if (s->ngroups == LOOM_MAX_GROUPS) return -1;
    struct loom_param_group *g = &s->groups[s->ngroups];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->lr_mult = 1.0f;
    return s->ngroups++;
}

struct loom_param *loom_store_find(const struct loom_store *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->params[i]->name, name) == 0) return s->params[i];
    return NULL;
}

struct loom_param *loom_store_param_of(const struct loom_store *s, const struct loom_tensor *t)
{
    for (int i = 0; i < s->n; i++)
        if (&s->params[i]->t == t) return s->params[i];
    return NULL;
}

static struct loom_tensor *add(struct loom_store *s, const char *name, int ndim,
                               const int64_t *shape, enum loom_init init, float arg, int group,
                               bool buffer, struct loom_error *err)
{
    if (s->finalized) {
        loom_error_set(err, LOOM_ERR_INVALID, "param %s: store already finalized", name);
        return NULL;
    }
    if (group < 0 || group >= s->ngroups) {
        loom_error_set(err, LOOM_ERR_INVALID, "param %s: no group %d", name, group);
        return NULL;
    }
    if (loom_store_find(s, name)) {
        loom_error_set(err, LOOM_ERR_INVALID, "param %s: name used twice", name);
        return NULL;
    }
    struct loom_param *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(name))) {
        free(p);
        loom_error_set(err, LOOM_ERR_NOMEM, "param %s: out of memory", name);
        return NULL;
    }
    if (!loom_tensor_set_shape(&p->t, ndim, shape)) {
        loom_error_set(err, LOOM_ERR_SHAPE, "param %s: invalid shape", name);
        goto fail;
    }
    size_t need = loom_align_up((size_t)p->t.size, 16), total;
    if (!loom_add_size(s->total, need, &total)) {
        loom_error_set(err, LOOM_ERR_LIMIT, "param %s: store too large", name);
        goto fail;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        struct loom_param **np = realloc(s->params, (size_t)cap * sizeof *np);
        if (!np) {
            loom_error_set(err, LOOM_ERR_NOMEM, "param %s: out of memory", name);
            goto fail;
        }
        s->params = np;
        s->cap = cap;
    }
    p->t.name = p->name;
    p->t.flags = LOOM_T_PARAM | (buffer ? 0 : LOOM_T_REQUIRES_GRAD);
    p->group = group;
    p->buffer = buffer;
    p->init = init;
    p->init_arg = arg;
    p->offset = s->total;
    s->total = total;
    s->params[s->n++] = p;
    return &p->t;
fail:
    free(p->name);
    free(p);
    return NULL;
}

struct loom_tensor *loom_store_add(struct loom_store *s, const char *name, int ndim,
                                   const int64_t *shape, enum loom_init init, float init_arg,
                                   int group, struct loom_error *err)
{
    return add(s, name, ndim, shape, init, init_arg, group, false, err);
}

struct loom_tensor *loom_store_add_buffer(struct loom_store *s, const char *name, int ndim,
                                          const int64_t *shape, enum loom_init init, float init_arg,
                                          struct loom_error *err)
{
    return add(s, name, ndim, shape, init, init_arg, 0, true, err);
}

static void init_values(struct loom_param *p, uint64_t seed, int index)
{
    float *x = p->t.data;
    size_t n = (size_t)p->t.size;
    struct loom_rng r;
    loom_rng_init(&r, seed, 0x5eed0000ull + (uint64_t)index);
    float a = p->init_arg;
    switch (p->init) {
    case LOOM_INIT_ZEROS:
        memset(x, 0, n * sizeof *x);
        break;
    case LOOM_INIT_ONES:
        a = 1.0f; /* fall through */
    case LOOM_INIT_CONST:
        for (size_t i = 0; i < n; i++) x[i] = a;
        break;
    case LOOM_INIT_UNIFORM:
        loom_rng_fill_uniform(&r, x, n, -a, a);
        break;
    case LOOM_INIT_NORMAL:
        loom_rng_fill_normal(&r, x, n, 0.0f, a);
        break;
    case LOOM_INIT_FAN_IN: {
        float k = 1.0f / sqrtf(a > 0 ? a : 1.0f);
        loom_rng_fill_uniform(&r, x, n, -k, k);
        break;
    }
    case LOOM_INIT_KAIMING:
        loom_rng_fill_normal(&r, x, n, 0.0f, sqrtf(2.0f / (a > 0 ? a : 1.0f)));
        break;
    }
}

enum loom_status loom_store_finalize(struct loom_store *s, uint64_t seed, struct loom_error *err)
{
    if (s->finalized) return loom_error_set(err, LOOM_ERR_INVALID, "store already finalized");
    size_t bytes;
    if (!loom_mul_size(s->total ? s->total : 16, sizeof(float), &bytes))
        return loom_error_set(err, LOOM_ERR_LIMIT, "parameter store too large");
    s->data = loom_aligned_alloc(bytes);
    s->grad = loom_aligned_alloc(bytes);
    s->m = loom_aligned_alloc(bytes);
    s->v = loom_aligned_alloc(bytes);
    if (!s->data || !s->grad || !s->m || !s->v) {
        free(s->data), free(s->grad), free(s->m), free(s->v);
        s->data = s->grad = s->m = s->v = NULL;
        return loom_error_set(err, LOOM_ERR_NOMEM, "parameter store: out of memory (%zu bytes)",
                              4 * bytes);
    }
    memset(s->data, 0, bytes);
    memset(s->grad, 0, bytes);
    memset(s->m, 0, bytes);
    memset(s->v, 0, bytes);
    for (int i = 0; i < s->n; i++) {
        struct loom_param *p = s->params[i];
        p->t.data = s->data + p->offset;
        p->t.grad = p->buffer ? NULL : s->grad + p->offset;
        init_values(p, seed, i);
    }
    s->finalized = true;
    loom_store_apply_frozen(s);
    return LOOM_OK;
}

void loom_store_zero_grad(struct loom_store *s)
{
    if (s->grad) memset(s->grad, 0, s->total * sizeof(float));
}

void loom_store_apply_frozen(struct loom_store *s)
{
    for (int i = 0; i < s->n; i++) {
        struct loom_param *p = s->params[i];
        if (p->buffer) continue;
        if (s->groups[p->group].frozen)
            p->t.flags &= ~(unsigned)LOOM_T_REQUIRES_GRAD;
        else
            p->t.flags |= LOOM_T_REQUIRES_GRAD;
    }
}

size_t loom_store_count(const struct loom_store *s)
{
    size_t n = 0;
    for (int i = 0; i < s->n; i++)
        if (!s->params[i]->buffer) n += (size_t)s->params[i]->t.size;
    return n;
}
