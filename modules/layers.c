/* layers.c — params, linear and batch-norm layers of the encoders (layers.h). */
#include <math.h>
#include <stdarg.h>

#include "core/ops.h"
#include "layers.h"

struct loom_tensor *loom_mod_param(struct loom_mod_decl *d, bool buffer, enum loom_init init,
                                   float arg, int ndim, const int64_t *shape, const char *fmt, ...)
{
    char suffix[256], name[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(suffix, sizeof suffix, fmt, ap);
    va_end(ap);
    int m = k < 0 ? -1 : snprintf(name, sizeof name, "%s.%s", d->branch, suffix);
    if (k < 0 || (size_t)k >= sizeof suffix || m < 0 || (size_t)m >= sizeof name) {
        loom_error_set(d->err, LOOM_ERR_LIMIT, "branch '%s': a parameter name is too long",
                       d->branch);
        return NULL;
    }
    if (buffer) return loom_store_add_buffer(d->store, name, ndim, shape, init, arg, d->err);
    return loom_store_add(d->store, name, ndim, shape, init, arg, d->group, d->err);
}

bool loom_mod_linear_init(struct loom_mod_decl *d, struct loom_mod_linear *l, int64_t in,
                          int64_t out, bool bias, const char *name)
{
    l->w = loom_mod_param(d, false, LOOM_INIT_FAN_IN, (float)in, LOOM_SHAPE(out, in), "%s.weight",
                          name);
    l->b = NULL;
    if (l->w && bias)
        l->b =
            loom_mod_param(d, false, LOOM_INIT_FAN_IN, (float)in, LOOM_SHAPE(out), "%s.bias", name);
    return l->w && (l->b || !bias);
}

struct loom_tensor *loom_mod_linear(struct loom_ctx *c, const struct loom_mod_linear *l,
                                    struct loom_tensor *x)
{
    return loom_linear(c, x, l->w, l->b);
}

bool loom_mod_bn_init(struct loom_mod_decl *d, struct loom_mod_bn *bn, int64_t C, const char *name)
{
    return (bn->gamma =
                loom_mod_param(d, false, LOOM_INIT_ONES, 0, LOOM_SHAPE(C), "%s.weight", name)) &&
           (bn->beta =
                loom_mod_param(d, false, LOOM_INIT_ZEROS, 0, LOOM_SHAPE(C), "%s.bias", name)) &&
           (bn->mean = loom_mod_param(d, true, LOOM_INIT_ZEROS, 0, LOOM_SHAPE(C), "%s.running_mean",
                                      name)) &&
           (bn->var =
                loom_mod_param(d, true, LOOM_INIT_ONES, 0, LOOM_SHAPE(C), "%s.running_var", name));
}

struct loom_tensor *loom_mod_bn(struct loom_ctx *c, const struct loom_mod_bn *bn,
                                struct loom_tensor *x)
{
    return loom_batch_norm(c, x, bn->gamma, bn->beta, bn->mean, bn->var, LOOM_MOD_BN_MOMENTUM,
                           LOOM_MOD_BN_EPS);
}

const struct loom_batch_col *loom_mod_col(struct loom_ctx *c, const struct loom_encoder *e,
                                          const struct loom_batch *b, int j,
                                          enum loom_col_type type)
{
    const struct loom_schema_branch *br = &e->schema->branches[e->branch];
    int col = br->columns[j];
    const char *name = e->schema->columns[col].name;
    if (!b || col >= b->ncols || !b->cols)
        return loom_fail(c, LOOM_ERR_INVALID, "branch '%s': the batch has no column '%s'", br->name,
                         name);
    const struct loom_batch_col *bc = &b->cols[col];
    if (bc->type != type)
        return loom_fail(c, LOOM_ERR_INVALID, "branch '%s': column '%s' is %s in the batch, not %s",
                         br->name, name, loom_col_type_name(bc->type), loom_col_type_name(type));
    return bc;
}
