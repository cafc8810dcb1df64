/*
 * cnn_trunk.c — the image encoder's CNN as one op: per stage a 3x3
 * convolution (stride 1, pad 1, no bias), batch norm 2-D, ReLU and a 2x2 max
 * pool (none after the last stage), then global average pooling:
 * x (N,C0,H,W) plain -> h (N,C) plain. The same function as the chain
 * conv2d -> batch_norm -> relu -> max_pool2d ... -> global_avg_pool, which
 * stays the reference its checks compare with, without its costs: the
 * activations stay in one oneDNN layout from the first convolution to the
 * last (no reorder per op), and batch norm, ReLU and the pool are one pass
 * over memory each way, written for that layout in cnn_trunk_pass.c.
 *
 * Layouts (struct act): channels innermost in groups of B, element (n,c,h,w)
 * at ((n G + c/B) H W + h W + w) B + c%B. fp32: nChw16c (B = 16, G =
 * ceil(C/16), padded channels hold zeros), where oneDNN runs direct
 * jit:avx512_core convolutions (nhwc measured ~5% slower), when every
 * stage's channels are multiples of 16; else nhwc (G = 1, B = C: oneDNN
 * 2.6 has only its reference convolution for nChw16c with, say, 8
 * channels). bf16 (c->bf16 on a CPU with AVX512-BF16 or AMX): nhwc, the only
 * layout of oneDNN 2.6's AMX kernels; activations and weights enter the
 * convolutions in bf16, which also write z and read dz in bf16 (stored at
 * half the size: the passes over them are bound by memory traffic); the
 * passes compute in f32, and the statistics, the gradients of the stage
 * inputs and of every weight are f32. The first convolution reads x as it is (nChw16c: oneDNN
 * takes nchw for a few input channels) or one reorder of it (nhwc).
 *
 * Training, per stage: z = conv(a, w); one read of z for its statistics
 * and, on a pooled stage, each 2x2 window's value that the pool will pick
 * (ext, a quarter of z: the window's maximum of z where gamma > 0, its
 * minimum where gamma < 0; bn is monotone, cnn_trunk_pass.h); then a' =
 * relu(bn(ext)), the pool's output, from ext alone; on the last stage h =
 * the mean over H, W of relu(bn(z)) (a second read). Backward keeps z, ext,
 * each stage's input and the statistics; its first pass (the sums of batch
 * norm's backward) reads ext and the pool's gradient, a quarter of z's size
 * each, and only the second (dz) reads z, recomputing the ReLU's mask and
 * the window's choice from it. With more than one stage the first z is not
 * kept (trunk_saved.recompute): the backward runs the first convolution
 * again into its place in the arena. Training convolutions are Winograd
 * where stage_alg and conv_implemented allow.
 * Backward, per stage from the last: with r = relu(bn(z)) and g the
 * gradient of the pool's output given to each window's ext (the last stage:
 * dh / (H W) everywhere), dr = g 1[bn(z) > 0]; one pass for sum dr and sum
 * dr (z - mean) (over ext on a pooled stage), one writing dz = k (dr - sum dr / M - (z -
 * mean) inv^2 sum dr (z - mean) / M) with k = gamma inv, inv = 1 / sqrt(var
 * + eps) (batch_norm.c's derivation; evaluation: dz = k dr), in place of z;
 * then oneDNN's backward weights and backward data.
 * Evaluation without gradients (cnn_trunk_eval.c): batch norm folded into
 * the convolution (w' = w gamma inv per output channel, bias beta - gamma
 * inv mean) with a ReLU post-op, one primitive per stage, then the pool.
 */
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "../threads.h"
#include "cnn.h"
#include "cnn_trunk_impl.h"

#define TRUNK_KIND LOOM_CNN_KIND('T', 'R', 'N', 'K')

/* v rounded to bf16 precision, in f32. */
static float bf16_round(float v)
{
    uint32_t u = (uint32_t)to_bf16(v) << 16;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* ---- shapes and primitives ---- */

/* One stage's primitives (forward, and the backward ones once wanted) and
 * the reorders around them: weights in (fwd, bwd), the weights' gradient out
 * (added), x in (bf16, first stage), x's gradient out (added, first stage). */
struct stage_prims {
    struct loom_cnn_prim fwd, bwd_data, bwd_weights;
    struct loom_cnn_reorder w_fwd, w_bwd, dw, x_in, dx;
};

static void stage_prims_free(void *p)
{
    struct stage_prims *e = p;
    loom_cnn_prim_done(&e->fwd);
    loom_cnn_prim_done(&e->bwd_data);
    loom_cnn_prim_done(&e->bwd_weights);
    struct loom_cnn_reorder *r[] = {&e->w_fwd, &e->w_bwd, &e->dw, &e->x_in, &e->dx};
    for (size_t i = 0; i < LOOM_ARRAY_LEN(r); i++) loom_cnn_reorder_done(r[i]);
    free(e);
}

static bool md4(struct loom_ctx *c, dnnl_memory_desc_t *md, int64_t a, int64_t b, int64_t h,
                int64_t w, dnnl_data_type_t dt, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {a, b, h, w};
    return loom_dnnl_ok(c, dnnl_memory_desc_init_by_tag(md, 4, d, dt, tag),
                        "memory_desc_init_by_tag");
}

bool trunk_stage_mds(struct loom_ctx *c, const struct trunk_shape *s, int i, struct stage_mds *m)
{
    bool bf = s->bf16, first = i == 0;
    dnnl_data_type_t at = bf ? dnnl_bf16 : dnnl_f32;
    dnnl_format_tag_t blk = s->nhwc ? dnnl_nhwc : dnnl_nChw16c;
    int64_t N = s->N, C = s->C[i], O = s->C[i + 1], H = s->H[i], W = s->W[i];
    return md4(c, &m->src, N, C, H, W, at, first && !s->nhwc ? dnnl_nchw : blk) &&
           md4(c, &m->z, N, O, H, W, at, blk) &&
           md4(c, &m->dsrc, N, C, H, W, first ? dnnl_f32 : at,
               first && !s->nhwc ? dnnl_nchw : blk) &&
           md4(c, &m->dz, N, O, H, W, at, blk) &&
           md4(c, &m->w, O, C, 3, 3, at, dnnl_format_tag_any) &&
           md4(c, &m->pw, O, C, 3, 3, dnnl_f32, dnnl_oihw) &&
           md4(c, &m->px, N, C, H, W, dnnl_f32, dnnl_nchw);
}

const dnnl_memory_desc_t *trunk_arg_md(const struct loom_cnn_prim *p, int id)
{
    return dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, id);
}

/* Stage i's convolutions: Winograd (oneDNN's F(4x4, 3x3) for avx512_core,
 * f32 nChw16c with channels in multiples of 16) in training, where it
 * measured 35-50% faster than direct in each of forward, backward data and
 * backward weights at the reference trunk's 32x32 and 16x16 stages, with a
 * scratchpad of ~14 MB; direct elsewhere (bf16, nhwc, the first stage's 3
 * channels, evaluation without gradients, sizes below 8x8). */
static dnnl_alg_kind_t stage_alg(const struct trunk_shape *s, int i)
{
    bool wino = s->mode != TRUNK_FOLD && !s->nhwc && !s->bf16 && s->C[i] % 16 == 0 &&
                s->C[i + 1] % 16 == 0 && s->H[i] >= 8 && s->W[i] >= 8;
    return wino ? dnnl_convolution_winograd : dnnl_convolution_direct;
}

/* Whether oneDNN implements d (a Winograd one may not be, on this CPU) with
 * a scratchpad of at most 16 MiB or half of z's size for stage i (oneDNN 2.6's
 * Winograd backward weights picks, for some batch sizes, a schedule whose
 * scratchpad is 100-230 MB at the reference's shapes: more than z itself). */
static bool conv_implemented(struct loom_ctx *c, const dnnl_convolution_desc_t *d,
                             const_dnnl_primitive_desc_t hint, const struct trunk_shape *s, int i)
{
    dnnl_engine_t eng = loom_dnnl_engine(c);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    bool ok =
        eng && dnnl_primitive_attr_create(&attr) == dnnl_success &&
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, d, attr, eng, hint) == dnnl_success;
    if (ok) {
        const dnnl_memory_desc_t *smd =
            dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        size_t zb = (size_t)(s->N * s->C[i + 1] * s->H[i] * s->W[i]) * sizeof(float);
        size_t sb = smd && smd->ndims > 0 ? dnnl_memory_desc_get_size(smd) : 0;
        ok = sb <= zb / 2 || sb <= ((size_t)16 << 20);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ok;
}

static bool stage_fwd_init(struct loom_ctx *c, struct stage_prims *e, const struct trunk_shape *s,
                           int i)
{
    bool fold = s->mode == TRUNK_FOLD;
    struct stage_mds m;
    dnnl_memory_desc_t b;
    dnnl_convolution_desc_t d;
    const dnnl_dims_t bd = {s->C[i + 1]};
    static const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
    bool ok = trunk_stage_mds(c, s, i, &m) &&
              loom_dnnl_ok(c, dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_x),
                           "memory_desc_init_by_tag");
    for (dnnl_alg_kind_t alg = stage_alg(s, i); ok; alg = dnnl_convolution_direct) {
        ok =
            loom_dnnl_ok(c,
                         dnnl_convolution_forward_desc_init(
                             &d, fold ? dnnl_forward_inference : dnnl_forward_training, alg, &m.src,
                             &m.w, fold ? &b : NULL, &m.z, trunk_one, trunk_one, trunk_one),
                         "convolution_forward_desc_init");
        if (alg == dnnl_convolution_direct || conv_implemented(c, &d, NULL, s, i)) break;
    }
    ok = ok && loom_cnn_prim_init_relu(c, &e->fwd, &d, NULL, fold, 4, ids, "cnn_trunk forward") &&
         loom_cnn_reorder_init(c, &e->w_fwd, &m.pw, trunk_arg_md(&e->fwd, DNNL_ARG_WEIGHTS), false);
    if (ok && i == 0)
        ok = loom_cnn_reorder_init(c, &e->x_in, &m.px, trunk_arg_md(&e->fwd, DNNL_ARG_SRC), false);
    return ok;
}

/* The backward primitives of stage i: weights always, data when wanted. */
static bool stage_bwd_init(struct loom_ctx *c, struct stage_prims *e, const struct trunk_shape *s,
                           int i, bool data)
{
    struct stage_mds m;
    dnnl_convolution_desc_t d;
    if ((e->bwd_weights.prim && (!data || e->bwd_data.prim)) || !trunk_stage_mds(c, s, i, &m))
        return !c->status;
    if (!e->bwd_weights.prim) {
        static const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
        dnnl_memory_desc_t dw;
        bool ok = md4(c, &dw, s->C[i + 1], s->C[i], 3, 3, dnnl_f32, dnnl_format_tag_any);
        for (dnnl_alg_kind_t alg = stage_alg(s, i); ok; alg = dnnl_convolution_direct) {
            ok = loom_dnnl_ok(c,
                              dnnl_convolution_backward_weights_desc_init(&d, alg, &m.src, &dw,
                                                                          NULL, &m.dz, trunk_one,
                                                                          trunk_one, trunk_one),
                              "convolution_backward_weights_desc_init");
            if (alg == dnnl_convolution_direct || conv_implemented(c, &d, e->fwd.pd, s, i)) break;
        }
        if (!ok ||
            !loom_cnn_prim_init(c, &e->bwd_weights, &d, e->fwd.pd, 3, ids,
                                "cnn_trunk backward weights") ||
            !loom_cnn_reorder_init(c, &e->dw, trunk_arg_md(&e->bwd_weights, DNNL_ARG_DIFF_WEIGHTS),
                                   &m.pw, true))
            return false;
    }
    if (!data || e->bwd_data.prim) return true;
    static const int ids[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    bool ok = true;
    for (dnnl_alg_kind_t alg = stage_alg(s, i); ok; alg = dnnl_convolution_direct) {
        ok = loom_dnnl_ok(c,
                          dnnl_convolution_backward_data_desc_init(&d, alg, &m.dsrc, &m.w, &m.dz,
                                                                   trunk_one, trunk_one, trunk_one),
                          "convolution_backward_data_desc_init");
        if (alg == dnnl_convolution_direct || conv_implemented(c, &d, e->fwd.pd, s, i)) break;
    }
    return ok &&
           loom_cnn_prim_init(c, &e->bwd_data, &d, e->fwd.pd, 3, ids, "cnn_trunk backward data") &&
           loom_cnn_reorder_init(c, &e->w_bwd, &m.pw, trunk_arg_md(&e->bwd_data, DNNL_ARG_WEIGHTS),
                                 false) &&
           (i > 0 || loom_cnn_reorder_init(c, &e->dx, trunk_arg_md(&e->bwd_data, DNNL_ARG_DIFF_SRC),
                                           &m.px, true));
}

/* Stage i's primitives, from the context's cache or made now. */
static struct stage_prims *stage_get(struct loom_ctx *c, const struct trunk_shape *s, int i)
{
    struct loom_dnnl_key k = {{TRUNK_KIND, s->mode == TRUNK_FOLD, s->bf16, s->nhwc, i == 0, s->N,
                               s->C[i], s->C[i + 1], s->H[i], s->W[i]}};
    struct stage_prims *e = loom_dnnl_cache_get(c, &k);
    if (e) return e;
    if (!(e = calloc(1, sizeof *e)))
        return loom_fail(c, LOOM_ERR_NOMEM, "cnn_trunk: out of memory (primitives)");
    if (!stage_fwd_init(c, e, s, i)) {
        stage_prims_free(e);
        return NULL;
    }
    return loom_dnnl_cache_put(c, &k, e, stage_prims_free) ? e : NULL;
}

void *trunk_arena(struct loom_ctx *c, size_t bytes)
{
    void *p = loom_arena_alloc(&c->arena, bytes ? bytes : 1);
    if (!p) return loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory (cnn_trunk)");
    return p;
}

/* s->round: p rounded as the bf16 path rounds it, a copy (arena) or in place. */
static const float *round_copy(struct loom_ctx *c, const struct trunk_shape *s, const float *p,
                               int64_t n)
{
    if (!s->round) return p;
    float *q = trunk_arena(c, (size_t)n * sizeof *q);
    for (int64_t i = 0; q && i < n; i++) q[i] = bf16_round(p[i]);
    return q;
}

static void round_in_place(const struct trunk_shape *s, float *p, int64_t n)
{
    for (int64_t i = 0; s->round && i < n; i++) p[i] = bf16_round(p[i]);
}

/* The data a primitive reads for plain data at src: src itself, or its
 * reordered copy (arena). */
void *trunk_reorder_in(struct loom_ctx *c, struct loom_cnn_reorder *r, const void *src)
{
    if (!r->prim) return (void *)src;
    void *p = trunk_arena(c, r->bytes);
    return p && loom_cnn_reorder_run(c, r, src, p) ? p : NULL;
}

/* The tiles of every thread that may run a pass (arena; NULL with the
 * error in c); f32 needs none (a non-NULL dummy). */
static float *tiles(struct loom_ctx *c, bool bf, const struct act *a)
{
    static float none;
    if (!bf) return c->status ? NULL : &none;
    return trunk_arena(c, (size_t)(omp_get_max_threads() * trunk_tile_len(a)) * sizeof(float));
}

/* ---- the op ---- */

struct trunk_saved {
    struct loom_tensor *x, *h;
    struct loom_cnn_stage st[MAXS];
    struct trunk_shape s;
    void *z[MAXS];                 /* each stage's convolution output (bf16 or f32) */
    void *ext[MAXS];               /* a pooled stage's window values (trunk_pass_stats) */
    float *sg[MAXS];               /* the signs that chose them (bn_signs, per channel) */
    float *gap;                    /* the last stage's sums per plane (trunk_pass_gap) */
    const void *src[MAXS];         /* each stage's input, as its convolution read it */
    float *mean[MAXS], *var[MAXS]; /* (C) the statistics used */
    /* The first stage's z is not kept when the trunk has more stages (the
     * largest array of the step: 32 channels at full size): the later
     * stages' forward reuses its place in the arena, which stays reserved
     * to the trunk, and the backward recomputes it there (one forward
     * convolution of the first stage, ~5% of the trunk's step) once the
     * later stages' saves are dead. w0: the first convolution's weights as
     * it read them. */
    bool recompute;
    const void *w0;
    struct loom_arena_mark zmark;
    size_t zbytes;
    int64_t nc; /* photos per chunk of the first stage (0: whole; see below) */
};

/* A per-channel array of the layout (G B: channel c at c, zeros in the
 * padding). */
static float *per_channel(struct loom_ctx *c, const struct act *a)
{
    float *v = trunk_arena(c, (size_t)(a->G * a->B) * sizeof *v);
    if (v) memset(v, 0, (size_t)(a->G * a->B) * sizeof *v);
    return v;
}

/* k (per channel) = the first photo's first pixel of z: the shift of the
 * statistics' sums. */
static void stats_shift(float *k, const void *z, bool bf, const struct act *a)
{
    for (int64_t ch = 0; ch < a->C; ch++)
        k[ch] = ld(z, ch / a->B * a->H * a->W * a->B + ch % a->B, bf);
}

/* Stage i's batch statistics into mean, var (C) from part (pass_stats' sums
 * of every plane with shift k), and the running ones updated as
 * batch_norm.c does. */
static bool stats_finish(struct loom_ctx *c, const struct trunk_saved *sv, int i, const float *part,
                         const float *k, const struct act *a, float *mean, float *var)
{
    double *s1 = trunk_arena(c, (size_t)a->C * 2 * sizeof *s1);
    if (!s1) return false;
    double *s2 = s1 + a->C, M = (double)(a->N * a->H * a->W);
    trunk_reduce_part(s1, s2, part, a);
    const struct loom_cnn_stage *g = &sv->st[i];
    float unbias = (float)M / (float)(M - 1), mom = sv->s.momentum;
    for (int64_t ch = 0; ch < a->C; ch++) {
        double m = s1[ch] / M, v = s2[ch] / M - m * m;
        mean[ch] = (float)(k[ch] + m);
        var[ch] = (float)(v > 0 ? v : 0);
        g->mean->data[ch] += mom * (mean[ch] - g->mean->data[ch]);
        g->var->data[ch] += mom * (unbias * var[ch] - g->var->data[ch]);
    }
    return true;
}

/* Evaluation without gradients: w' = w a, bias = beta - a mean (a = gamma
 * inv), sc = 1 and sh = 0 for the pool (the ReLU is the primitive's). */
static bool stage_fold(struct loom_ctx *c, const struct loom_cnn_stage *g,
                       const struct trunk_shape *s, int i, float **wf, float **bias)
{
    int64_t O = s->C[i + 1], K = s->C[i] * 9;
    *wf = trunk_arena(c, (size_t)(O * K) * sizeof **wf);
    *bias = trunk_arena(c, (size_t)O * sizeof **bias);
    if (!*wf || !*bias) return false;
    for (int64_t o = 0; o < O; o++) {
        float a = g->gamma->data[o] / sqrtf(g->var->data[o] + s->eps);
        (*bias)[o] = g->beta->data[o] - a * g->mean->data[o];
        for (int64_t j = 0; j < K; j++) (*wf)[o * K + j] = g->w->data[o * K + j] * a;
    }
    return true;
}

/* The map of batch norm, bn(z) = sc z + sh, from the statistics used
 * (evaluation with folded weights: the identity, the convolution has it). */
static void bn_map(const struct loom_cnn_stage *g, const struct trunk_shape *s, const float *mean,
                   const float *var, float *sc, float *sh)
{
    bool fold = s->mode == TRUNK_FOLD;
    for (int64_t ch = 0; ch < g->gamma->size; ch++) {
        float k = g->gamma->data[ch] / sqrtf(var[ch] + s->eps);
        sc[ch] = fold ? 1.0f : k;
        sh[ch] = fold ? 0.0f : g->beta->data[ch] - k * mean[ch];
    }
}

/* sg (G B) = the sign of bn's scale per channel: gamma's (the scale is
 * gamma / sqrt(var + eps)), 1 in evaluation with folded weights. */
static void bn_signs(const struct loom_cnn_stage *g, const struct trunk_shape *s, float *sg)
{
    for (int64_t ch = 0; ch < g->gamma->size; ch++) {
        float v = g->gamma->data[ch];
        sg[ch] = s->mode == TRUNK_FOLD || v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f;
    }
}

/* ---- the first stage in chunks ----
 * The first stage's z is the largest array of the step (32 channels at full
 * size: 63 MB in bf16 for the reference's 242 photos) and the cheapest to
 * compute (3 input channels). Instead of being written to memory whole and
 * read back by two passes (the forward's statistics and ext; the backward's
 * dz, which the backward weights then read), the stage runs in chunks of
 * photos whose z fits the cores' L2 (CHUNK_L2 a thread), the backward
 * recomputing each chunk's convolution: two forward convolutions of the
 * first stage instead of one, and z never leaves the caches. (Before ext,
 * the pool's output and the backward's sums each read z too: four forward
 * convolutions; ext made bf16 training 465 -> 522 rows/s and fp32 293 ->
 * 336, two alternating pairs.) In training (and with gradients)
 * with more than one stage, when x needs no gradient (its backward data
 * would need z whole). */
#define CHUNK_L2 ((int64_t)1 << 20)

/* Photos per chunk of the first stage, or 0: the stage runs whole. */
static int64_t chunk_photos(const struct loom_ctx *c, const struct trunk_saved *sv)
{
    const struct trunk_shape *s = &sv->s;
    if (s->n < 2 || s->mode == TRUNK_FOLD || loom_needs_grad(c, sv->x)) return 0;
    struct act a = act_make(1, s->C[1], s->H[0], s->W[0], s->nhwc);
    int64_t nc =
        s->chunk ? s->chunk : omp_get_max_threads() * CHUNK_L2 / (act_len(&a) * (s->bf16 ? 2 : 4));
    nc = nc < 1 ? 1 : nc;
    return nc < s->N ? nc : 0;
}

/* The chunk shapes (q[0]: nc photos, q[1]: the last chunk's, N = 0 when
 * every chunk is full), their first-stage primitives and the weights as
 * each reads them; x: the first stage's input as its convolution reads it
 * (whole), x1 the bytes of one photo of it; z: a chunk's z. */
struct chunks {
    int64_t N, nc;
    struct trunk_shape q[2];
    struct stage_prims *e[2];
    void *w[2];
    const char *x;
    size_t x1;
    void *z;
    float *tl;
};

/* Chunk shapes and primitives (with the backward weights ones when bwd), a
 * chunk's z and the tiles (arena). */
static bool chunks_init(struct loom_ctx *c, const struct trunk_saved *sv, bool bwd,
                        struct chunks *k)
{
    const struct trunk_shape *s = &sv->s;
    *k = (struct chunks){.N = s->N, .nc = sv->nc, .q = {*s, *s}};
    k->q[0].N = k->nc, k->q[1].N = s->N % k->nc;
    const float *w = round_copy(c, s, sv->st[0].w->data, sv->st[0].w->size);
    for (int v = 0; v < 2 && w; v++) {
        if (!k->q[v].N) continue;
        if (!(k->e[v] = stage_get(c, &k->q[v], 0)) ||
            (bwd && !stage_bwd_init(c, k->e[v], &k->q[v], 0, false)) ||
            !(k->w[v] = trunk_reorder_in(c, &k->e[v]->w_fwd, w)))
            return false;
    }
    struct act a = act_make(k->nc, s->C[1], s->H[0], s->W[0], s->nhwc);
    k->x1 = (size_t)(s->C[0] * s->H[0] * s->W[0]) * (s->bf16 ? 2 : 4);
    k->x = sv->src[0];
    k->z = trunk_arena(c, (size_t)act_len(&a) * (s->bf16 ? 2 : 4));
    k->tl = tiles(c, s->bf16, &a);
    return w && k->z && k->tl;
}

/* x as the first convolution reads it, whole: x (rounded in checks) or its
 * reorder, chunk by chunk (arena). */
static const void *chunks_x(struct loom_ctx *c, const struct trunk_saved *sv, struct chunks *k)
{
    const struct trunk_shape *s = &sv->s;
    const float *x = round_copy(c, s, sv->x->data, sv->x->size);
    if (!x || !k->e[0]->x_in.prim) return x;
    char *xs = trunk_arena(c, (size_t)s->N * k->x1);
    int64_t xn = s->C[0] * s->H[0] * s->W[0];
    for (int64_t n0 = 0; xs && n0 < s->N; n0 += k->nc) {
        int v = s->N - n0 < k->nc;
        if (!loom_cnn_reorder_run(c, &k->e[v]->x_in, x + n0 * xn, xs + (size_t)n0 * k->x1))
            return NULL;
    }
    return xs;
}

/* The chunk at photo n0: its shape (index into q) after running its
 * convolution into k->z; -1 on failure. *a: the chunk's z as an act. */
static int chunk_conv(struct loom_ctx *c, const struct trunk_saved *sv, struct chunks *k,
                      int64_t n0, struct act *a)
{
    const struct trunk_shape *s = &sv->s;
    int v = k->N - n0 < k->nc;
    *a = act_make(k->q[v].N, s->C[1], s->H[0], s->W[0], s->nhwc);
    void *src = (void *)(k->x + (size_t)n0 * k->x1);
    if (!loom_cnn_prim_run(c, &k->e[v]->fwd, (void *[]){src, k->w[v], NULL, k->z},
                           "cnn_trunk forward (first stage, a chunk)"))
        return -1;
    round_in_place(s, k->z, act_len(a));
    return v;
}

/* The first stage's forward in chunks: the statistics (training) into mean,
 * var and the windows' values into ext, then out = its pooled output from
 * ext; sc, sh, sg as trunk_forward's. */
static bool chunks_forward(struct loom_ctx *c, struct trunk_saved *sv, void *out, void *ext,
                           float *mean, float *var, float *sc, float *sh, const float *sg)
{
    const struct trunk_shape *s = &sv->s;
    struct chunks k;
    struct act a = act_make(s->N, s->C[1], s->H[0], s->W[0], s->nhwc), q;
    struct act p = act_make(s->N, s->C[1], s->H[1], s->W[1], s->nhwc);
    if (!chunks_init(c, sv, false, &k) || !(k.x = sv->src[0] = chunks_x(c, sv, &k))) return false;
    bool bf = s->bf16;
    float *sk = per_channel(c, &a), *part = trunk_arena(c, (size_t)(a.N * a.G * 2 * a.B) * 4);
    if (!sk || !part) return false;
    int64_t po = p.G * p.H * p.W * p.B; /* a photo's pooled output */
    for (int64_t n0 = 0; n0 < s->N; n0 += k.nc) {
        if (chunk_conv(c, sv, &k, n0, &q) < 0) return false;
        if (n0 == 0) stats_shift(sk, k.z, bf, &q);
        trunk_pass_stats(part + n0 * a.G * 2 * a.B, trunk_elt(ext, n0 * po, bf), k.tl, bf, k.z, sk,
                         sg, &q);
    }
    if (s->mode == TRUNK_TRAIN && !stats_finish(c, sv, 0, part, sk, &a, mean, var)) return false;
    bn_map(&sv->st[0], s, mean, var, sc, sh);
    trunk_pass_bn_relu(out, k.tl, bf, ext, sc, sh, &p);
    round_in_place(s, out, act_len(&p));
    return true;
}

/* The backward: each chunk's dz (its convolution run again), and its
 * backward weights added into gw. */
static bool chunks_dz(struct loom_ctx *c, const struct trunk_saved *sv, struct chunks *k,
                      const void *da, const struct bwd_coef *f, float *gw)
{
    const struct trunk_shape *s = &sv->s;
    struct act a = act_make(s->N, s->C[1], s->H[0], s->W[0], s->nhwc), q;
    int64_t po = a.G * s->H[1] * s->W[1] * a.B;
    for (int64_t n0 = 0; n0 < s->N; n0 += k->nc) {
        int v = chunk_conv(c, sv, k, n0, &q);
        if (v < 0) return false;
        trunk_pass_pool_dz(k->z, k->tl, s->bf16, trunk_elt(da, n0 * po, s->bf16), f, &q);
        round_in_place(s, k->z, act_len(&q));
        struct stage_prims *e = k->e[v];
        void *o = trunk_arena(c, e->dw.bytes), *src = (void *)(k->x + (size_t)n0 * k->x1);
        if (!o ||
            !loom_cnn_prim_run(c, &e->bwd_weights, (void *[]){src, k->z, o},
                               "cnn_trunk backward weights (first stage, a chunk)") ||
            !loom_cnn_reorder_run(c, &e->dw, o, gw))
            return false;
    }
    return true;
}

/* The forward of every stage into h (N, C_last); fills sv's saved state. */
static bool trunk_forward(struct loom_ctx *c, struct trunk_saved *sv, float *h)
{
    const struct trunk_shape *s = &sv->s;
    bool bf = s->bf16, fold = s->mode == TRUNK_FOLD;
    const void *src = sv->x->data;
    sv->nc = chunk_photos(c, sv);
    for (int i = 0; i < s->n; i++) {
        const struct loom_cnn_stage *g = &sv->st[i];
        struct act a = act_make(s->N, s->C[i + 1], s->H[i], s->W[i], s->nhwc);
        struct act p = act_make(s->N, a.C, s->H[i + 1], s->W[i + 1], s->nhwc);
        bool last = i + 1 == s->n, drop = i == 0 && !last && s->mode != TRUNK_FOLD;
        /* what outlives z when it is dropped comes first */
        float *stats = trunk_arena(c, (size_t)a.C * 2 * sizeof *stats);
        void *out = last ? NULL : trunk_arena(c, (size_t)act_len(&p) * (bf ? 2 : 4));
        void *ext = last ? NULL : trunk_arena(c, (size_t)act_len(&p) * (bf ? 2 : 4));
        float *sc = per_channel(c, &a), *sh = per_channel(c, &a), *sg = per_channel(c, &a);
        if (!stats || (!last && (!out || !ext)) || !sc || !sh || !sg) return false;
        bn_signs(g, s, sg);
        sv->ext[i] = ext, sv->sg[i] = sg;
        float *mean = stats, *var = stats + a.C;
        sv->mean[i] = mean, sv->var[i] = var;
        if (s->mode != TRUNK_TRAIN) {
            memcpy(mean, g->mean->data, (size_t)a.C * sizeof *mean);
            memcpy(var, g->var->data, (size_t)a.C * sizeof *var);
        }
        if (i == 0 && sv->nc) { /* chunk_photos: not the last stage */
            if (!chunks_forward(c, sv, out, ext, mean, var, sc, sh, sg)) return false;
            src = out;
            continue;
        }
        struct stage_prims *e = stage_get(c, s, i);
        if (i == 0) src = round_copy(c, s, src, sv->x->size);
        if (!e || !src || (i == 0 && !(src = trunk_reorder_in(c, &e->x_in, src)))) return false;
        const float *w = round_copy(c, s, g->w->data, g->w->size);
        float *wf = NULL, *bias = NULL;
        if (!w || (fold && !stage_fold(c, g, s, i, &wf, &bias))) return false;
        if (fold) w = wf;
        void *wi = trunk_reorder_in(c, &e->w_fwd, w);
        size_t zbytes = loom_align_up((size_t)act_len(&a) * (bf ? 2 : 4), LOOM_ALIGN);
        void *z = trunk_arena(c, zbytes);
        /* the arena's position just before z (the last allocation, in the
         * current chunk, possibly new) */
        struct loom_arena_mark at = loom_arena_mark(&c->arena);
        at.off -= zbytes, at.used_total -= zbytes;
        float *tl = tiles(c, bf, &a);
        if (!wi || !z || !tl ||
            !loom_cnn_prim_run(c, &e->fwd, (void *[]){(void *)src, wi, bias, z},
                               "cnn_trunk forward"))
            return false;
        round_in_place(s, z, act_len(&a));
        if (s->mode == TRUNK_TRAIN || !last) { /* the statistics and ext */
            float *sk = per_channel(c, &a),
                  *part = trunk_arena(c, (size_t)(a.N * a.G * 2 * a.B) * 4);
            if (!sk || !part) return false;
            stats_shift(sk, z, bf, &a);
            trunk_pass_stats(part, ext, tl, bf, z, sk, sg, &a);
            if (s->mode == TRUNK_TRAIN && !stats_finish(c, sv, i, part, sk, &a, mean, var))
                return false;
        }
        bn_map(g, s, mean, var, sc, sh);
        sv->z[i] = z, sv->src[i] = src;
        if (last) {
            float *gp = trunk_arena(c, (size_t)(a.N * a.G * 3 * a.B) * sizeof *gp);
            if (!gp) return false;
            trunk_pass_gap(h, gp, tl, bf, z, sc, sh, mean, &a);
            sv->gap = gp;
        } else {
            trunk_pass_bn_relu(out, tl, bf, ext, sc, sh, &p);
            round_in_place(s, out, act_len(&p));
            src = out;
        }
        if (drop && z) {
            loom_arena_release(&c->arena, at);
            sv->recompute = true, sv->w0 = wi, sv->zmark = at, sv->zbytes = zbytes;
        }
    }
    /* the place of the first z, reserved to the trunk up to its end */
    struct loom_arena_mark now = loom_arena_mark(&c->arena);
    if (sv->recompute && now.chunk == sv->zmark.chunk && now.off < sv->zmark.off + sv->zbytes &&
        !trunk_arena(c, sv->zmark.off + sv->zbytes - now.off))
        return false;
    return true;
}

/* Stage i's backward weights of the photos [n0, n0 + N) added into gw, by
 * e (made for N photos, its backward weights made). */
static bool weights_part(struct loom_ctx *c, const struct trunk_saved *sv, int i,
                         struct stage_prims *e, int64_t n0, int64_t N, const void *dz, float *gw)
{
    /* the photo is the outermost dimension of every layout here */
    size_t xb = loom_cnn_prim_arg_bytes(&e->bwd_weights, DNNL_ARG_SRC) / (size_t)N;
    size_t zb = loom_cnn_prim_arg_bytes(&e->bwd_weights, DNNL_ARG_DIFF_DST) / (size_t)N;
    void *o = trunk_arena(c, e->dw.bytes);
    return o &&
           loom_cnn_prim_run(
               c, &e->bwd_weights,
               (void *[]){(char *)sv->src[i] + (size_t)n0 * xb, (char *)dz + (size_t)n0 * zb, o},
               "cnn_trunk backward weights") &&
           loom_cnn_reorder_run(c, &e->dw, o, gw);
}

/* Stage i's primitives for N photos of s, with their backward weights. */
static struct stage_prims *part_prims(struct loom_ctx *c, const struct trunk_shape *s, int i,
                                      int64_t N)
{
    struct trunk_shape p = *s;
    p.N = N;
    struct stage_prims *e = stage_get(c, &p, i);
    return e && stage_bwd_init(c, e, &p, i, false) ? e : NULL;
}

/* Stage i's backward weights added into gw (e: the stage's primitives).
 * oneDNN 2.6's Winograd backward weights takes, for some batch sizes
 * (mostly primes and odd numbers: 215, 227, 239, 241, 249, 251, 254, 265,
 * 267 photos at the reference's 16x16 stage in one run), a schedule whose
 * scratchpad conv_implemented refuses, and the stage falls back to the
 * direct convolution: 23.7 ms a batch against 11.2 there. Such a batch runs
 * in two parts instead, the first N - N % 16 photos (N - 16 when N % 16 is
 * 0) and the rest, each through its own primitive (Winograd when oneDNN
 * takes it), the two gradients added. Measured (loom-market-ref-train, fp32,
 * 2 threads, three alternating pairs): 357 -> 374 rows/s median, step p90
 * 196 -> 183 ms. */
static bool stage_weights(struct loom_ctx *c, const struct trunk_saved *sv, int i,
                          struct stage_prims *e, const void *dz, float *gw)
{
    const struct trunk_shape *s = &sv->s;
    int64_t n1 = s->wsplit < s->N ? s->wsplit : 0; /* the checks' split, else: */
    if (!s->wsplit && s->N > 16 && stage_alg(s, i) == dnnl_convolution_winograd &&
        !loom_cnn_prim_impl_has(&e->bwd_weights, "wino")) {
        n1 = s->N % 16 ? s->N - s->N % 16 : s->N - 16;
        struct stage_prims *e1 = part_prims(c, s, i, n1);
        if (!e1) return false;
        if (!loom_cnn_prim_impl_has(&e1->bwd_weights, "wino")) n1 = 0; /* no better */
    }
    if (n1 == 0) return weights_part(c, sv, i, e, 0, s->N, dz, gw);
    struct stage_prims *e1 = part_prims(c, s, i, n1),
                       *e2 = e1 ? part_prims(c, s, i, s->N - n1) : NULL;
    return e2 && weights_part(c, sv, i, e1, 0, n1, dz, gw) &&
           weights_part(c, sv, i, e2, n1, s->N - n1, dz, gw);
}

/* Stage i's backward: dnext is the gradient of its output (dh (N,C) f32 for
 * the last stage, else of its pooled output, in the layout and z's type);
 * returns the gradient of its input (NULL for the first stage or on
 * failure). */
static void *stage_backward(struct loom_ctx *c, struct trunk_saved *sv, int i, const void *dnext)
{
    const struct trunk_shape *s = &sv->s;
    const struct loom_cnn_stage *g = &sv->st[i];
    bool bf = s->bf16, last = i + 1 == s->n, train = s->mode == TRUNK_TRAIN;
    bool data = i > 0 || loom_needs_grad(c, sv->x), dw = loom_needs_grad(c, g->w);
    float *dgamma = loom_needs_grad(c, g->gamma) ? loom_grad(c, g->gamma) : NULL;
    float *dbeta = loom_needs_grad(c, g->beta) ? loom_grad(c, g->beta) : NULL;
    bool chunked = i == 0 && sv->nc; /* then x needs no gradient: !data */
    struct chunks ck;
    struct stage_prims *e = chunked ? NULL : stage_get(c, s, i);
    if (c->status ||
        (chunked ? !chunks_init(c, sv, dw, &ck) : !e || !stage_bwd_init(c, e, s, i, data)))
        return NULL;
    struct act a = act_make(s->N, s->C[i + 1], s->H[i], s->W[i], s->nhwc);
    int64_t C = a.C, HW = a.H * a.W, NGB = a.N * a.G * a.B;
    double M = (double)(a.N * HW);
    float *sc = per_channel(c, &a), *sh = per_channel(c, &a), *mu = per_channel(c, &a);
    float *k = per_channel(c, &a), *c1 = per_channel(c, &a), *c2 = per_channel(c, &a);
    float *part = trunk_arena(c, (size_t)(2 * NGB) * sizeof *part), *gs = NULL;
    double *s1 = trunk_arena(c, (size_t)(2 * C) * sizeof *s1);
    float *tl = tiles(c, bf, &a);
    if (!sc || !sh || !mu || !k || !c1 || !c2 || !part || !s1 || !tl) return NULL;
    double *s2 = s1 + C;
    for (int64_t ch = 0; ch < C; ch++) {
        k[ch] = g->gamma->data[ch] * (1.0f / sqrtf(sv->var[i][ch] + s->eps));
        sc[ch] = g->gamma->data[ch] / sqrtf(sv->var[i][ch] + s->eps); /* as the forward */
        sh[ch] = g->beta->data[ch] - sc[ch] * sv->mean[i][ch];
        mu[ch] = sv->mean[i][ch];
    }
    void *z = sv->z[i];
    if (i == 0 && sv->recompute) {
        if (!loom_cnn_prim_run(c, &e->fwd, (void *[]){(void *)sv->src[0], (void *)sv->w0, NULL, z},
                               "cnn_trunk forward (recomputed)"))
            return NULL;
        round_in_place(s, z, act_len(&a));
    }
    struct bwd_coef f = {sc, sh, mu, k, c1, c2, sv->sg[i]};
    if (last) { /* dh / (H W) per (n, channel of the layout) */
        if (!(gs = trunk_arena(c, (size_t)NGB * sizeof *gs))) return NULL;
        memset(gs, 0, (size_t)NGB * sizeof *gs);
        for (int64_t n = 0; n < a.N; n++)
            for (int64_t ch = 0; ch < C; ch++)
                gs[(n * a.G + ch / a.B) * a.B + ch % a.B] =
                    ((const float *)dnext)[n * C + ch] / (float)HW;
        trunk_gap_sums(part, gs, sv->gap, &a);
    } else {
        struct act p = act_make(s->N, C, s->H[i + 1], s->W[i + 1], s->nhwc);
        trunk_pass_pool_sums(part, tl, dnext, bf, sv->ext[i], &f, &p);
    }
    trunk_reduce_part(s1, s2, part, &a);
    for (int64_t ch = 0; ch < C; ch++) {
        float inv = 1.0f / sqrtf(sv->var[i][ch] + s->eps);
        double sgx = s2[ch] * inv; /* sum dr xhat */
        if (dbeta) dbeta[ch] += (float)s1[ch];
        if (dgamma) dgamma[ch] += (float)sgx;
        c1[ch] = train ? (float)(s1[ch] / M) : 0.0f;
        c2[ch] = train ? (float)(sgx / M) * inv : 0.0f;
    }
    if (!data && !dw) return NULL;
    if (chunked) {
        float *gw = loom_grad(c, g->w);
        if (gw) chunks_dz(c, sv, &ck, dnext, &f, gw);
        return NULL;
    }
    /* dz in place of z, in z's type */
    void *dz = z;
    if (last)
        trunk_pass_gap_dz(dz, tl, bf, gs, &f, &a);
    else
        trunk_pass_pool_dz(dz, tl, bf, dnext, &f, &a);
    round_in_place(s, dz, act_len(&a));
    if (dw) {
        float *gw = loom_grad(c, g->w);
        if (!gw || !stage_weights(c, sv, i, e, dz, gw)) return NULL;
    }
    if (!data) return NULL;
    const float *w = round_copy(c, s, g->w->data, g->w->size);
    void *wb = w ? trunk_reorder_in(c, &e->w_bwd, w) : NULL;
    /* the gradient of a later stage's input (z's type) in place of that
     * input (its last reader, the backward weights, has run) */
    size_t dbytes = loom_cnn_prim_arg_bytes(&e->bwd_data, DNNL_ARG_DIFF_SRC);
    struct act in = act_make(s->N, s->C[i], s->H[i], s->W[i], s->nhwc);
    void *dsrc = i > 0 && dbytes <= (size_t)act_len(&in) * (bf ? 2 : 4) ? (void *)sv->src[i]
                                                                        : trunk_arena(c, dbytes);
    if (!wb || !dsrc ||
        !loom_cnn_prim_run(c, &e->bwd_data, (void *[]){dz, wb, dsrc}, "cnn_trunk backward data"))
        return NULL;
    if (i > 0) {
        round_in_place(s, dsrc, act_len(&in)); /* as the bf16 path stores it */
        return dsrc;
    }
    float *gx = loom_grad(c, sv->x);
    if (gx) loom_cnn_reorder_run(c, &e->dx, dsrc, gx);
    return NULL;
}

static void trunk_backward(struct loom_ctx *c, void *p)
{
    struct trunk_saved *sv = p;
    if (!sv->h->grad) return;
    const void *d = sv->h->grad;
    for (int i = sv->s.n - 1; i >= 0 && d; i--) d = stage_backward(c, sv, i, d);
}

/* trunk_op: cnn_trunk_impl.h. */
struct loom_tensor *trunk_op(struct loom_ctx *c, struct loom_tensor *x, int nstages,
                             const struct loom_cnn_stage *st, float momentum, float eps, bool bf16,
                             bool nhwc, bool round, int64_t chunk, int64_t wsplit)
{
    if (!x || !st || nstages < 1) return NULL;
    for (int i = 0; i < nstages && i < MAXS; i++)
        if (!st[i].w || !st[i].gamma || !st[i].beta || !st[i].mean || !st[i].var) return NULL;
    char a[64], b[64];
    if (nstages > MAXS || x->ndim != 4 || x->shape[1] < 1)
        return loom_fail(c, LOOM_ERR_SHAPE, "cnn_trunk: input %s, %d stages",
                         loom_shape_str(x, a, sizeof a), nstages);
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
        return loom_fail(c, LOOM_ERR_INVALID, "cnn_trunk: eps %g, momentum %g", eps, momentum);
    struct trunk_shape s = {.n = nstages, .N = x->shape[0], .momentum = momentum, .eps = eps};
    s.C[0] = x->shape[1], s.H[0] = x->shape[2], s.W[0] = x->shape[3];
    bool grad = loom_needs_grad(c, x);
    for (int i = 0; i < nstages; i++) {
        const struct loom_cnn_stage *g = &st[i];
        int64_t O = g->w->shape[0];
        if (g->w->ndim != 4 || g->w->shape[1] != s.C[i] || g->w->shape[2] != 3 ||
            g->w->shape[3] != 3 || O < 1)
            return loom_fail(c, LOOM_ERR_SHAPE, "cnn_trunk: stage %d: weight %s for %s", i,
                             loom_shape_str(g->w, a, sizeof a), loom_shape_str(x, b, sizeof b));
        struct loom_tensor *const v[4] = {g->gamma, g->beta, g->mean, g->var};
        for (int j = 0; j < 4; j++)
            if (v[j]->ndim != 1 || v[j]->size != O)
                return loom_fail(
                    c, LOOM_ERR_SHAPE, "cnn_trunk: stage %d: %s is %s for %lld channels", i,
                    (const char *[]){"gamma", "beta", "running mean", "running var"}[j],
                    loom_shape_str(v[j], a, sizeof a), (long long)O);
        if (s.H[i] < 1 || s.W[i] < 1 || (i + 1 < nstages && (s.H[i] < 2 || s.W[i] < 2)))
            return loom_fail(c, LOOM_ERR_SHAPE, "cnn_trunk: input %s is too small for %d stages",
                             loom_shape_str(x, a, sizeof a), nstages);
        if (c->training && s.N * s.H[i] * s.W[i] < 2)
            return loom_fail(c, LOOM_ERR_SHAPE,
                             "cnn_trunk: training needs more than one value per channel, input %s",
                             loom_shape_str(x, a, sizeof a));
        s.C[i + 1] = O;
        if (i + 1 < nstages) s.H[i + 1] = s.H[i] / 2, s.W[i + 1] = s.W[i] / 2;
        grad = grad || loom_needs_grad(c, g->w) || loom_needs_grad(c, g->gamma) ||
               loom_needs_grad(c, g->beta);
    }
    s.mode = c->training ? TRUNK_TRAIN : grad ? TRUNK_AFFINE : TRUNK_FOLD;
    s.bf16 = bf16 && s.mode != TRUNK_FOLD;
    /* nChw16c with channels that are not multiples of 16 gets oneDNN's
     * reference convolution (~1000x slower), nhwc gets brgconv */
    s.nhwc = nhwc || s.bf16;
    for (int i = 1; i <= nstages; i++) s.nhwc = s.nhwc || s.C[i] % 16 != 0;
    s.round = round && !s.bf16;
    s.chunk = chunk;
    s.wsplit = wsplit;
    struct loom_tensor *h = loom_tensor_new(c, LOOM_SHAPE(s.N, s.C[nstages]));
    if (!h || s.N == 0) return h;
    if (s.mode == TRUNK_FOLD && !s.round) return trunk_eval(c, &s, x->data, st, h->data) ? h : NULL;
    struct trunk_saved local, *sv = &local;
    if (grad && !(sv = loom_tape_record(c, trunk_backward, sizeof *sv, h))) return NULL;
    *sv = (struct trunk_saved){.x = x, .h = h, .s = s};
    memcpy(sv->st, st, (size_t)nstages * sizeof *st);
    return trunk_forward(c, sv, h->data) ? h : NULL;
}

struct loom_tensor *loom_cnn_trunk(struct loom_ctx *c, struct loom_tensor *x, int nstages,
                                   const struct loom_cnn_stage *st, float momentum, float eps)
{
    bool bf16 = c->bf16 && loom_dnnl_bf16();
    return trunk_op(c, x, nstages, st, momentum, eps, bf16, bf16, false, 0, 0);
}
