/*
 * cnn_trunk_eval.c — the CNN trunk (cnn_trunk.c) evaluated without
 * gradients. Per stage one primitive: the convolution with batch norm folded
 * into its weights (w' = w a, a = gamma / sqrt(var + eps) per output
 * channel) and a bias (beta - a mean), and a ReLU post-op; then the 2x2 max
 * of values that are already >= 0, or on the last stage their mean. Stages
 * whose channels are multiples of 16 in nChw16c use oneDNN's Winograd
 * F(4,3) where it has one (inference only; its own weights format), else
 * direct.
 * When the context's parameters are frozen (c->frozen: a scoring session of
 * an immutable model), the folded weights, already in the primitive's
 * format, and the bias are made once with the primitive and cached with it,
 * keyed by the parameters' addresses; otherwise (the trainer's validation,
 * whose weights change between calls) each call folds them into the arena.
 * No OpenMP region for small work (loom_omp_fork).
 */
#include <math.h>
#include <string.h>

#include "../threads.h"
#include "cnn_trunk_impl.h"

#define EVAL_KIND LOOM_CNN_KIND('T', 'R', 'N', 'E')

struct eval_stage {
    struct loom_cnn_prim fwd;
    struct loom_cnn_reorder w;    /* plain folded weights -> the primitive's format */
    struct loom_cnn_reorder x_in; /* the first stage's x -> nhwc (none for nChw16c) */
    void *wf;                     /* frozen: the folded weights in the primitive's format */
    float *bias;                  /* frozen: (O) */
    bool nt;                      /* oneDNN's F(4,3) Winograd (see out_of) */
    dnnl_stream_t stream;         /* a lane's own stream (lane > 0, first stage), else NULL */
};

static void eval_stage_free(void *p)
{
    struct eval_stage *e = p;
    loom_cnn_prim_done(&e->fwd);
    loom_cnn_reorder_done(&e->w);
    loom_cnn_reorder_done(&e->x_in);
    if (e->stream) dnnl_stream_destroy(e->stream);
    free(e->wf), free(e->bias), free(e);
}

/* Whether oneDNN has a convolution for desc d (probed without an error). */
static bool conv_has_impl(struct loom_ctx *c, const dnnl_convolution_desc_t *d)
{
    dnnl_engine_t eng = loom_dnnl_engine(c);
    dnnl_primitive_desc_t pd = NULL;
    if (!eng || dnnl_primitive_desc_create(&pd, d, NULL, eng, NULL) != dnnl_success) return false;
    dnnl_primitive_desc_destroy(pd);
    return true;
}

/* w' and bias of stage g into wf (O C 9, plain) and bias (O). */
static void fold_into(const struct loom_cnn_stage *g, float eps, float *wf, float *bias)
{
    int64_t O = g->w->shape[0], K = g->w->size / O;
    for (int64_t o = 0; o < O; o++) {
        float a = g->gamma->data[o] / sqrtf(g->var->data[o] + eps);
        bias[o] = g->beta->data[o] - a * g->mean->data[o];
        for (int64_t j = 0; j < K; j++) wf[o * K + j] = g->w->data[o * K + j] * a;
    }
}

/* The evaluation primitive p of desc d (Winograd when wino) for a run on
 * one thread (single: a lane, or a call at one thread) or on all. oneDNN picks
 * a Winograd kernel and its blocking for the threads it may use when the
 * primitive is made: for two threads and a few photos it takes F(2,3)
 * (jit_fp32_wino_2x3), a kernel made to split small batches across threads,
 * slower than F(4,3) on one thread; and F(4,3) made for two threads ran
 * 10-20% faster than F(4,3) made for trunk_one, even on one thread (its
 * blocking). So a Winograd primitive that runs on one thread is made for
 * (at least) two, then again for one if that gave F(2,3) on 2 or more
 * photos. Measured on the reference's stages, a loaded machine
 * (indicative): two lanes of 2 photos at once, 32->64 at 32x32 0.30-0.33 ->
 * 0.24 ms, 64->128 at 16x16 0.23-0.28 -> 0.19-0.20 ms; a row of 4 photos in
 * a process at one thread 1.95-2.05 -> see the session note. */
static bool eval_prim(struct loom_ctx *c, struct loom_cnn_prim *p, const dnnl_convolution_desc_t *d,
                      const int *ids, bool wino, bool single, int64_t N)
{
    int nt = omp_get_max_threads();
    bool two = wino && single && nt == 1;
    if (two) omp_set_num_threads(2);
    bool ok = loom_cnn_prim_init_relu(c, p, d, NULL, true, 4, ids, "cnn_trunk evaluation");
    if (two) omp_set_num_threads(nt);
    if (!ok || !wino || !single || N < 2 || !loom_cnn_prim_impl_has(p, "wino_2x3")) return ok;
    loom_cnn_prim_done(p);
    omp_set_num_threads(1);
    ok = loom_cnn_prim_init_relu(c, p, d, NULL, true, 4, ids, "cnn_trunk evaluation");
    omp_set_num_threads(nt);
    return ok;
}

static bool eval_init(struct loom_ctx *c, struct eval_stage *e, const struct trunk_shape *s, int i,
                      const struct loom_cnn_stage *g, int lane)
{
    struct stage_mds m;
    dnnl_memory_desc_t b;
    dnnl_convolution_desc_t d;
    const dnnl_dims_t bd = {s->C[i + 1]};
    static const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
    if (!trunk_stage_mds(c, s, i, &m) ||
        !loom_dnnl_ok(c, dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_x),
                      "memory_desc_init_by_tag"))
        return false;
    bool wino = !s->nhwc && s->C[i] % 16 == 0 && s->C[i + 1] % 16 == 0 &&
                dnnl_convolution_forward_desc_init(
                    &d, dnnl_forward_inference, dnnl_convolution_winograd, &m.src, &m.w, &b, &m.z,
                    trunk_one, trunk_one, trunk_one) == dnnl_success &&
                conv_has_impl(c, &d);
    if (!wino && !loom_dnnl_ok(c,
                               dnnl_convolution_forward_desc_init(
                                   &d, dnnl_forward_inference, dnnl_convolution_direct, &m.src,
                                   &m.w, &b, &m.z, trunk_one, trunk_one, trunk_one),
                               "convolution_forward_desc_init"))
        return false;
    if (!eval_prim(c, &e->fwd, &d, ids, wino, lane >= 0 || omp_get_max_threads() == 1, s->N))
        return false;
    e->nt = loom_cnn_prim_impl_has(&e->fwd, "wino_4x3");
    if (!loom_cnn_reorder_init(c, &e->w, &m.pw, trunk_arg_md(&e->fwd, DNNL_ARG_WEIGHTS), false) ||
        (i == 0 &&
         !loom_cnn_reorder_init(c, &e->x_in, &m.px, trunk_arg_md(&e->fwd, DNNL_ARG_SRC), false)))
        return false;
    if (lane > 0 && i == 0 &&
        !loom_dnnl_ok(
            c, dnnl_stream_create(&e->stream, loom_dnnl_engine(c), dnnl_stream_default_flags),
            "stream_create (cnn_trunk lane)"))
        return false;
    if (!c->frozen) return true;
    /* frozen: fold once, into the primitive's format */
    int64_t O = s->C[i + 1];
    size_t plain = (size_t)(g->w->size) * sizeof(float);
    float *wf = malloc(plain);
    e->bias = malloc((size_t)O * sizeof *e->bias);
    if (!wf || !e->bias) {
        free(wf);
        return loom_fail(c, LOOM_ERR_NOMEM, "cnn_trunk: out of memory (folded weights)");
    }
    fold_into(g, s->eps, wf, e->bias);
    if (!e->w.prim) {
        e->wf = wf;
        return true;
    }
    e->wf = malloc(e->w.bytes);
    bool ok = e->wf ? loom_cnn_reorder_run(c, &e->w, wf, e->wf)
                    : !loom_fail(c, LOOM_ERR_NOMEM, "cnn_trunk: out of memory (folded weights)");
    free(wf);
    return ok;
}

/* Stage i's evaluation primitive (and, frozen, its folded weights): cached.
 * lane: which thread of a split call runs it (trunk_lanes; -1 otherwise): a
 * primitive's memory objects are set per run, so each lane has its own, and
 * a lane's runs on one thread (eval_prim). */
static struct eval_stage *eval_get(struct loom_ctx *c, const struct trunk_shape *s, int i,
                                   const struct loom_cnn_stage *g, int lane)
{
    uint32_t eps;
    memcpy(&eps, &s->eps, sizeof eps);
    struct loom_dnnl_key k = {
        {EVAL_KIND, c->frozen, s->nhwc, i == 0, s->N, s->C[i], s->C[i + 1], s->H[i], s->W[i], eps}};
    if (c->frozen) {
        const struct loom_tensor *const t[] = {g->w, g->gamma, g->beta, g->mean, g->var};
        for (int j = 0; j < 5; j++) k.v[10 + j] = (int64_t)(intptr_t)t[j]->data;
    }
    k.v[15] = lane + 1;
    struct eval_stage *e = loom_dnnl_cache_get(c, &k);
    if (e) return e;
    if (!(e = calloc(1, sizeof *e)))
        return loom_fail(c, LOOM_ERR_NOMEM, "cnn_trunk: out of memory (primitives)");
    if (!eval_init(c, e, s, i, g, lane)) {
        eval_stage_free(e);
        return NULL;
    }
    return loom_dnnl_cache_put(c, &k, e, eval_stage_free) ? e : NULL;
}

/* Where stage e writes its output in the scratch r (allocated with
 * OUT_SKEW floats to spare). oneDNN 2.6's F(4,3) Winograd forward writes
 * its output with non-temporal stores whenever the destination is 64-byte
 * aligned (its output transform tests the address: the stores bypass the
 * cache), so the max pool or the mean that reads the output back read it
 * from DRAM; 16 bytes off it stores through the cache, and they read L2.
 * Measured (the reference model, 2 threads, four alternating runs of
 * loom-market-ref-infer): the lanes' pool and mean after the Winograd
 * stages 106 -> 48 and 53 -> 23 ms per lane over a run; batch 64 median
 * 1,381 -> 1,438 rows/s, a row of 4 photos p50 0.89 -> 0.82 ms (one
 * thread 1.22 -> 1.14). The first stage's direct convolution stores
 * through the cache already (skewing it too measured no change). */
#define OUT_SKEW 4
static float *out_of(const struct eval_stage *e, float *r)
{
    return e->nt ? r + OUT_SKEW : r;
}

/* One plane: out (Ho,Wo,B) = the 2x2 max pool of r >= 0. */
TRUNK_CLONES static void max4_plane(float *restrict out, const float *restrict r,
                                    const struct act *a)
{
    int64_t W = a->W, B = a->B, Ho = a->H / 2, Wo = a->W / 2;
    for (int64_t i = 0; i < Ho; i++)
        for (int64_t j = 0; j < Wo; j++) {
            const float *p0 = r + (2 * i * W + 2 * j) * B, *p1 = p0 + B, *p2 = p0 + W * B,
                        *p3 = p2 + B;
            float *o = out + (i * Wo + j) * B;
#pragma omp simd
            for (int64_t b = 0; b < B; b++) {
                float m0 = p0[b] > p1[b] ? p0[b] : p1[b], m1 = p2[b] > p3[b] ? p2[b] : p3[b];
                o[b] = m0 > m1 ? m0 : m1;
            }
        }
}

/* acc (B) = the sums over the plane's H W pixels. */
TRUNK_CLONES static void sum_plane(float *restrict acc, const float *restrict r, int64_t HW,
                                   int64_t B)
{
    for (int64_t b = 0; b < B; b++) acc[b] = 0;
    for (int64_t i = 0; i < HW; i++) {
#pragma omp simd
        for (int64_t b = 0; b < B; b++) acc[b] += r[i * B + b];
    }
}

/* Photos per run of the primitives at most: the trunk runs chunk by chunk,
 * each chunk through every stage, so that its scratch (the first stage's z:
 * 512 KB a photo in the reference) stays bounded at any batch size. Smaller
 * chunks that stay in L2 from one stage to the next (1-4 photos a thread)
 * measured no faster at one thread (oneDNN's direct convolution is less
 * efficient at N = 1) and slower at two (more OpenMP barriers per call). */

/* Per stage: the weights as the primitives of each chunk size read them,
 * and the bias (not frozen: folded once per call). */
struct eval_weights {
    float *plain[MAXS], *bias[MAXS];
    void *w[2][MAXS];
};

/* One thread's share of a split call (trunk_lanes): its stages for each
 * of its chunk sizes (frozen, plain x), its own stream and scratchpad; st:
 * the first failure. */
struct eval_lane {
    struct trunk_shape s[2]; /* a full chunk, the last partial one (N 0: none) */
    struct eval_stage *e[2][MAXS];
    struct trunk_shape s0[2]; /* the first stage's runs within each (eval_first) */
    struct eval_stage *e0[2];
    int64_t n0, n;
    float *r, *out[2];
    void *scratch;
    dnnl_stream_t stream;
    dnnl_status_t st;
};

/* p run with bufs (loom_cnn_prim_run's order) on lane ln: touches no
 * context, so that lanes run at once. */
static dnnl_status_t lane_exec(struct eval_lane *ln, struct loom_cnn_prim *p, void *const *bufs)
{
    dnnl_exec_arg_t args[LOOM_CNN_MAX_ARGS + 1];
    dnnl_status_t r = dnnl_success;
    int n = 0;
    for (int i = 0; i < p->nargs && r == dnnl_success; i++) {
        if (!p->mem[i]) continue;
        r = dnnl_memory_set_data_handle(p->mem[i], bufs[i]);
        args[n++] = (dnnl_exec_arg_t){p->ids[i], p->mem[i]};
    }
    if (r == dnnl_success && p->scratch_mem) {
        r = dnnl_memory_set_data_handle(p->scratch_mem, ln->scratch);
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch_mem};
    }
    if (r == dnnl_success) r = dnnl_primitive_execute(p->prim, ln->stream, n, args);
    return r == dnnl_success ? dnnl_stream_wait(ln->stream) : r;
}

/* The first stage's output of one photo (z, before its pool), in bytes. */
static int64_t first_bytes(const struct trunk_shape *s)
{
    struct act a = act_make(1, s->C[1], s->H[0], s->W[0], s->nhwc);
    return act_len(&a) * (int64_t)sizeof(float);
}

/* The first stage's z of a lane at most, in bytes: the first stage runs on
 * the photos of a chunk a few at a time (eval_first) so that its z (512 KB
 * a photo in the reference) stays in L2 for the max pool that reads it
 * back, and leaves room for the next stages' weights. Measured (the
 * reference model, 2 threads, the lanes' region alone, a machine shared
 * with another program's training, indicative): batch 64 (chunks of 4, in
 * runs of 1) 100-102 -> 94-99 ms p50 over three alternating runs; batch 1
 * (lanes of 2 photos, runs of 1) unchanged within the noise. */
#define FIRST_BYTES (512 << 10)

/* Photos per run of the first stage within a chunk of n: the largest
 * divisor of n whose z fits in FIRST_BYTES (at least 1). */
static int64_t first_run(const struct trunk_shape *s, int64_t n)
{
    int64_t d = n, b = first_bytes(s);
    while (d > 1 && (n % d || d * b > FIRST_BYTES)) d--;
    return d;
}

/* A lane's first stage on a chunk in runs of s0->N photos (e0): x (N,C0,H,W)
 * plain -> its 2x2 max pool into o. The first stage is not the last. */
static bool eval_first(const struct trunk_shape *s, const struct trunk_shape *s0,
                       struct eval_stage *e0, const float *x, float *r, float *o,
                       struct eval_lane *ln)
{
    struct act a = act_make(s0->N, s0->C[1], s0->H[0], s0->W[0], s0->nhwc);
    int64_t x1 = s->C[0] * s->H[0] * s->W[0], HWB = a.H * a.W * a.B;
    int64_t HWBo = (a.H / 2) * (a.W / 2) * a.B, o1 = a.G * HWBo; /* o1: a photo's pooled output */
    for (int64_t n = 0; n < s->N; n += s0->N) {
        float *z = out_of(e0, r);
        void *const bufs[] = {(void *)(x + n * x1), e0->wf, e0->bias, z};
        if ((ln->st = lane_exec(ln, &e0->fwd, bufs)) != dnnl_success) return false;
        for (int64_t ng = 0; ng < a.N * a.G; ng++)
            max4_plane(o + n * o1 + ng * HWBo, z + ng * HWB, &a);
    }
    return true;
}

/* One chunk of s->N photos: x (N,C0,H,W) plain -> h (N,C). v: which chunk
 * size (weights); r, out: scratch for z and the pooled output; xb: for x in
 * nhwc. ln: a lane of a split call (its stages, stream and scratchpad; the
 * context untouched), else NULL. */
static bool eval_chunk(struct loom_ctx *c, const struct trunk_shape *s, int v, const float *x,
                       const struct loom_cnn_stage *st, struct eval_weights *ew, float *r,
                       float *const *out, void *xb, float *h, struct eval_lane *ln,
                       struct eval_stage *const *le)
{
    const void *src = x;
    int i0 = 0;
    if (ln && ln->s0[v].N < s->N) { /* the first stage in runs of fewer photos */
        if (!eval_first(s, &ln->s0[v], ln->e0[v], x, r, out[0], ln)) return false;
        src = out[0], i0 = 1;
    }
    for (int i = i0; i < s->n; i++) {
        const struct loom_cnn_stage *g = &st[i];
        struct eval_stage *e = ln ? le[i] : eval_get(c, s, i, g, -1);
        if (!e || (i == 0 && e->x_in.prim && !loom_cnn_reorder_run(c, &e->x_in, src, xb)))
            return false;
        if (i == 0 && e->x_in.prim) src = xb;
        struct act a = act_make(s->N, s->C[i + 1], s->H[i], s->W[i], s->nhwc);
        void *w = e->wf;
        float *bias = e->bias;
        if (!w) { /* not frozen: fold once per call, reorder once per chunk size */
            if (!ew->plain[i]) {
                ew->plain[i] = trunk_arena(c, (size_t)g->w->size * sizeof(float));
                ew->bias[i] = trunk_arena(c, (size_t)a.C * sizeof(float));
                if (!ew->plain[i] || !ew->bias[i]) return false;
                fold_into(g, s->eps, ew->plain[i], ew->bias[i]);
            }
            if (!ew->w[v][i] && !(ew->w[v][i] = trunk_reorder_in(c, &e->w, ew->plain[i])))
                return false;
            w = ew->w[v][i], bias = ew->bias[i];
        }
        float *z = out_of(e, r);
        void *const bufs[] = {(void *)src, w, bias, z};
        if (ln ? (ln->st = lane_exec(ln, &e->fwd, bufs)) != dnnl_success
               : !loom_cnn_prim_run(c, &e->fwd, bufs, "cnn_trunk evaluation"))
            return false;
        int64_t NG = a.N * a.G, HWB = a.H * a.W * a.B;
        bool fork = loom_omp_fork(NG * HWB, PAR);
        if (i + 1 == s->n) {
            float *part = out[i % 2]; /* (N G B) */
            LOOM_OMP_FOR(fork, ng, NG,
                         { sum_plane(part + ng * a.B, z + ng * HWB, a.H * a.W, a.B); });
            for (int64_t n = 0; n < a.N; n++)
                for (int64_t ch = 0; ch < a.C; ch++)
                    h[n * a.C + ch] =
                        part[(n * a.G + ch / a.B) * a.B + ch % a.B] / (float)(a.H * a.W);
        } else {
            int64_t HWBo = (a.H / 2) * (a.W / 2) * a.B;
            float *o = out[i % 2];
            LOOM_OMP_FOR(fork, ng, NG, { max4_plane(o + ng * HWBo, z + ng * HWB, &a); });
            src = o;
        }
    }
    return true;
}

/* Scratch for a chunk of nc photos: z of the largest stage (*zmax floats),
 * and each of two pooled outputs (*omax: the last one also the mean's sums). */
static void chunk_scratch(const struct trunk_shape *s, int64_t nc, int64_t *zmax, int64_t *omax)
{
    *zmax = *omax = 0;
    for (int i = 0; i < s->n; i++) {
        struct act a = act_make(nc, s->C[i + 1], s->H[i], s->W[i], s->nhwc);
        int64_t o = i + 1 < s->n ? nc * a.G * (a.H / 2) * (a.W / 2) * a.B : nc * a.G * a.B;
        *zmax = act_len(&a) > *zmax ? act_len(&a) : *zmax;
        *omax = o > *omax ? o : *omax;
    }
}

/* A frozen call splits its photos across EVAL_LANES threads, each running
 * every stage on its share with one thread (oneDNN runs a primitive on the
 * calling thread alone inside a parallel region), in chunks of at most
 * LANE_CHUNK photos: at two threads always, at more up to LANE_MAX photos.
 * At batch 1 a primitive on 1-4 photos is too small for two threads (a fork
 * and join per stage, per pooling loop); at batch 64 a chunk's stage output
 * (the first: 2 MB) is pooled while in L2 instead of read back from DRAM,
 * and no barrier separates the stages. Measured (bench/infer_latency, the
 * reference model, 2 threads, a loaded machine, indicative): a row of 4
 * photos min 1.11 -> 0.91-1.04 ms; batch 64 about 200-330 -> 330-420
 * rows/s (chunks of 2, 4 and 8 photos within the noise of each other). */
#define LANE_MAX   8
#define LANE_CHUNK 4
#define EVAL_LANES 2

/* trunk_eval split across lanes (frozen weights, plain x); false with the
 * error recorded in c. */
static bool trunk_lanes(struct loom_ctx *c, const struct trunk_shape *s, const float *x,
                        const struct loom_cnn_stage *st, float *h)
{
    struct eval_lane ln[EVAL_LANES];
    int64_t x1 = s->C[0] * s->H[0] * s->W[0], C = s->C[s->n], n0 = 0;
    for (int l = 0; l < EVAL_LANES; l++) {
        struct eval_lane *e = &ln[l];
        *e = (struct eval_lane){.s = {*s, *s}, .n0 = n0, .st = dnnl_success};
        e->n = s->N / EVAL_LANES + (l < s->N % EVAL_LANES);
        n0 += e->n;
        int64_t nc = e->n < LANE_CHUNK ? e->n : LANE_CHUNK;
        e->s[0].N = nc, e->s[1].N = nc ? e->n % nc : 0;
        size_t sb = 0;
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < s->n && e->s[v].N; i++) {
                struct eval_stage *g = e->e[v][i] = eval_get(c, &e->s[v], i, &st[i], l);
                if (!g) return false;
                LOOM_ASSERT(!g->x_in.prim && g->wf);
                sb = g->fwd.scratch_bytes > sb ? g->fwd.scratch_bytes : sb;
            }
            e->s0[v] = e->s[v];
            if (s->n > 1 && e->s[v].N) e->s0[v].N = first_run(s, e->s[v].N);
            if (e->s0[v].N < e->s[v].N) {
                if (!(e->e0[v] = eval_get(c, &e->s0[v], 0, &st[0], l))) return false;
                sb = e->e0[v]->fwd.scratch_bytes > sb ? e->e0[v]->fwd.scratch_bytes : sb;
            }
        }
        int64_t zmax, omax;
        chunk_scratch(s, nc, &zmax, &omax);
        e->r = trunk_arena(c, (size_t)(zmax + OUT_SKEW) * sizeof(float));
        e->out[0] = trunk_arena(c, (size_t)(2 * omax + 1) * sizeof(float));
        e->scratch = sb ? trunk_arena(c, sb) : NULL;
        e->stream = l ? e->e[0][0]->stream : loom_dnnl_stream(c);
        if (!e->r || !e->out[0] || (sb && !e->scratch) || !e->stream) return false;
        e->out[1] = e->out[0] + omax;
    }
#pragma omp parallel num_threads(EVAL_LANES)
    for (int l = omp_get_thread_num(); l < EVAL_LANES; l += omp_get_num_threads()) {
        struct eval_lane *e = &ln[l];
        for (int64_t k = 0; k < e->n && e->st == dnnl_success; k += e->s[0].N) {
            int v = e->n - k < e->s[0].N, n = (int)(e->n0 + k);
            eval_chunk(c, &e->s[v], v, x + n * x1, st, NULL, e->r, e->out, NULL, h + n * C, e,
                       e->e[v]);
        }
    }
    for (int l = 0; l < EVAL_LANES; l++)
        if (!loom_dnnl_ok(c, ln[l].st, "cnn_trunk evaluation")) return false;
    return true;
}

bool trunk_eval(struct loom_ctx *c, const struct trunk_shape *s, const float *x,
                const struct loom_cnn_stage *st, float *h)
{
    if (c->frozen && !s->nhwc && s->N >= 2 && loom_omp_fork(2, 1) &&
        (s->N <= LANE_MAX || omp_get_max_threads() == EVAL_LANES))
        return trunk_lanes(c, s, x, st, h);
    int64_t nc = s->N < EVAL_CHUNK ? s->N : EVAL_CHUNK;
    struct trunk_shape q[2] = {*s, *s};
    q[0].N = nc, q[1].N = s->N % nc;
    int64_t zmax, omax, x1 = s->C[0] * s->H[0] * s->W[0];
    chunk_scratch(s, nc, &zmax, &omax);
    float *r = trunk_arena(c, (size_t)(zmax + OUT_SKEW) * sizeof *r),
          *o = trunk_arena(c, (size_t)(2 * omax) * sizeof *o);
    void *xb = s->nhwc ? trunk_arena(c, (size_t)(nc * x1) * sizeof(float)) : NULL;
    if (!r || !o || (s->nhwc && !xb)) return false;
    float *const out[2] = {o, o + omax};
    struct eval_weights ew = {0};
    int64_t C = s->C[s->n];
    for (int64_t n0 = 0; n0 < s->N; n0 += nc) {
        int v = s->N - n0 < nc;
        if (!eval_chunk(c, &q[v], v, x + n0 * x1, st, &ew, r, out, xb, h + n0 * C, NULL, NULL))
            return false;
    }
    return true;
}
