/* cnn.c — memory formats and cached primitives of the CNN ops (cnn.h). */
#include <string.h>

#include "cnn.h"

bool loom_cnn_md(struct loom_ctx *c, dnnl_memory_desc_t *md, enum loom_cnn_role role, int ndims,
                 const int64_t *dims)
{
    dnnl_format_tag_t tag = dnnl_format_tag_undef;
    switch (role) {
    case LOOM_CNN_ACT:
        tag = ndims == 4 ? dnnl_nchw : dnnl_nc;
        break;
    case LOOM_CNN_WEIGHTS:
        tag = dnnl_oihw;
        break;
    case LOOM_CNN_VEC:
        tag = dnnl_x;
        break;
    case LOOM_CNN_FLAT:
        tag = dnnl_nchw;
        break;
    case LOOM_CNN_ANY:
        tag = dnnl_format_tag_any;
        break;
    }
    LOOM_ASSERT(ndims >= 1 && ndims <= 4 && tag != dnnl_format_tag_undef);
    dnnl_dims_t d;
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
    return loom_dnnl_ok(c, dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, tag),
                        "memory_desc_init_by_tag");
}

bool loom_cnn_prim_init(struct loom_ctx *c, struct loom_cnn_prim *p, const_dnnl_op_desc_t op_desc,
                        const_dnnl_primitive_desc_t hint, int nargs, const int *ids,
                        const char *what)
{
    return loom_cnn_prim_init_relu(c, p, op_desc, hint, false, nargs, ids, what);
}

bool loom_cnn_prim_init_relu(struct loom_ctx *c, struct loom_cnn_prim *p,
                             const_dnnl_op_desc_t op_desc, const_dnnl_primitive_desc_t hint,
                             bool relu, int nargs, const int *ids, const char *what)
{
    LOOM_ASSERT(nargs <= LOOM_CNN_MAX_ARGS);
    memset(p, 0, sizeof *p);
    dnnl_engine_t eng = loom_dnnl_engine(c);
    if (!eng) return false;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    bool ok =
        loom_dnnl_ok(c, dnnl_primitive_attr_create(&attr), "primitive_attr_create") &&
        loom_dnnl_ok(c, dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user),
                     "set_scratchpad_mode");
    if (ok && relu)
        ok = loom_dnnl_ok(c, dnnl_post_ops_create(&po), "post_ops_create") &&
             loom_dnnl_ok(c, dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0),
                          "post_ops_append_eltwise") &&
             loom_dnnl_ok(c, dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
    ok = ok && loom_dnnl_ok(c, dnnl_primitive_desc_create(&p->pd, op_desc, attr, eng, hint), what);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    ok = ok && loom_dnnl_ok(c, dnnl_primitive_create(&p->prim, p->pd), what);
    p->nargs = nargs;
    for (int i = 0; ok && i < nargs; i++) {
        p->ids[i] = ids[i];
        const dnnl_memory_desc_t *md =
            dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, ids[i]);
        if (md && md->ndims > 0)
            ok = loom_dnnl_ok(c, dnnl_memory_create(&p->mem[i], md, eng, DNNL_MEMORY_NONE),
                              "memory_create");
    }
    const dnnl_memory_desc_t *smd =
        ok ? dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0) : NULL;
    if (smd && smd->ndims > 0 && dnnl_memory_desc_get_size(smd) > 0) {
        p->scratch_bytes = dnnl_memory_desc_get_size(smd);
        ok = loom_dnnl_ok(c, dnnl_memory_create(&p->scratch_mem, smd, eng, DNNL_MEMORY_NONE),
                          "memory_create (scratchpad)");
    }
    if (!ok) loom_cnn_prim_done(p);
    return ok;
}

size_t loom_cnn_prim_arg_bytes(const struct loom_cnn_prim *p, int id)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, id);
    return md && md->ndims > 0 ? dnnl_memory_desc_get_size(md) : 0;
}

bool loom_cnn_prim_impl_has(const struct loom_cnn_prim *p, const char *part)
{
    const char *impl = NULL;
    return p->pd &&
           dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
           impl && strstr(impl, part);
}

bool loom_cnn_prim_run(struct loom_ctx *c, struct loom_cnn_prim *p, void *const *bufs,
                       const char *what)
{
    dnnl_exec_arg_t args[LOOM_CNN_MAX_ARGS + 1];
    int n = 0;
    for (int i = 0; i < p->nargs; i++) {
        if (!p->mem[i]) continue;
        LOOM_ASSERT(bufs[i]);
        if (!loom_dnnl_ok(c, dnnl_memory_set_data_handle(p->mem[i], bufs[i]), "set_data_handle"))
            return false;
        args[n++] = (dnnl_exec_arg_t){p->ids[i], p->mem[i]};
    }
    if (p->scratch_mem) {
        void *s = loom_dnnl_scratch(c, p->scratch_bytes);
        if (!s || !loom_dnnl_ok(c, dnnl_memory_set_data_handle(p->scratch_mem, s),
                                "set_data_handle (scratchpad)"))
            return false;
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch_mem};
    }
    dnnl_stream_t st = loom_dnnl_stream(c);
    return st && loom_dnnl_ok(c, dnnl_primitive_execute(p->prim, st, n, args), what) &&
           loom_dnnl_ok(c, dnnl_stream_wait(st), "stream_wait");
}

void loom_cnn_prim_done(struct loom_cnn_prim *p)
{
    for (int i = 0; i < LOOM_CNN_MAX_ARGS; i++)
        if (p->mem[i]) dnnl_memory_destroy(p->mem[i]);
    if (p->scratch_mem) dnnl_memory_destroy(p->scratch_mem);
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
    memset(p, 0, sizeof *p);
}

bool loom_cnn_reorder_init(struct loom_ctx *c, struct loom_cnn_reorder *r,
                           const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                           bool accumulate)
{
    memset(r, 0, sizeof *r);
    bool same = dnnl_memory_desc_equal(from, to);
    size_t bf = dnnl_memory_desc_get_size(from), bt = dnnl_memory_desc_get_size(to);
    r->bytes = bf > bt ? bf : bt;
    r->same = same;
    if (same && !accumulate) return true;
    dnnl_engine_t eng = loom_dnnl_engine(c);
    if (!eng) return false;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    bool ok = loom_dnnl_ok(c, dnnl_primitive_attr_create(&attr), "primitive_attr_create");
    if (ok && accumulate)
        ok = loom_dnnl_ok(c, dnnl_post_ops_create(&po), "post_ops_create") &&
             loom_dnnl_ok(c, dnnl_post_ops_append_sum(po, 1.0f), "post_ops_append_sum") &&
             loom_dnnl_ok(c, dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
    ok = ok && loom_dnnl_ok(c, dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, attr),
                            "reorder_primitive_desc_create");
    ok = ok && loom_dnnl_ok(c, dnnl_primitive_create(&r->prim, pd), "reorder primitive_create");
    ok = ok &&
         loom_dnnl_ok(c, dnnl_memory_create(&r->from, from, eng, DNNL_MEMORY_NONE),
                      "memory_create") &&
         loom_dnnl_ok(c, dnnl_memory_create(&r->to, to, eng, DNNL_MEMORY_NONE), "memory_create");
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) loom_cnn_reorder_done(r);
    return ok;
}

bool loom_cnn_reorder_run(struct loom_ctx *c, struct loom_cnn_reorder *r, const void *from,
                          void *to)
{
    LOOM_ASSERT(r->prim && from && to);
    dnnl_stream_t st = loom_dnnl_stream(c);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, r->from}, {DNNL_ARG_TO, r->to}};
    return st &&
           loom_dnnl_ok(c, dnnl_memory_set_data_handle(r->from, (void *)from), "set_data_handle") &&
           loom_dnnl_ok(c, dnnl_memory_set_data_handle(r->to, to), "set_data_handle") &&
           loom_dnnl_ok(c, dnnl_primitive_execute(r->prim, st, 2, args), "reorder") &&
           loom_dnnl_ok(c, dnnl_stream_wait(st), "stream_wait");
}

void loom_cnn_reorder_done(struct loom_cnn_reorder *r)
{
    if (r->from) dnnl_memory_destroy(r->from);
    if (r->to) dnnl_memory_destroy(r->to);
    if (r->prim) dnnl_primitive_destroy(r->prim);
    memset(r, 0, sizeof *r);
}

float *loom_cnn_out(struct loom_ctx *c, float *dst, bool dst_is_zero, int64_t n)
{
    if (dst_is_zero) return dst;
    float *p = loom_arena_alloc(&c->arena, (size_t)n * sizeof *p);
    if (!p) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory (gradient scratch)");
    return p;
}

void loom_cnn_acc(float *dst, const float *out, int64_t n)
{
    if (dst == out) return;
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i++) dst[i] += out[i];
}

float *loom_cnn_grad(struct loom_ctx *c, struct loom_tensor *t, bool *zero)
{
    *zero = false;
    if (!loom_needs_grad(c, t)) return NULL;
    *zero = !t->grad;
    return loom_grad(c, t);
}
