/*
 * cnn_trunk_pass.c — see cnn_trunk_pass.h. Each pass runs over the N G
 * planes of H W B values, on OpenMP threads above PAR elements. The kernels
 * are f32 (target clones for AVX-512, AVX2 and the baseline). On the bf16
 * path z, the pooled output, dz and da are bf16 (half the memory traffic of
 * the passes, which are bound by it): each plane goes through the f32 kernel
 * in blocks of two rows (one row of pool windows) converted into a thread's
 * tile (L1-sized: 16 KB at the reference's shapes) and, for dz, back.
 * (Kernels that mix 2-byte and 4-byte elements are not vectorised by GCC 12;
 * the conversions alone are.) Where the CPU has AVX512-BF16 and the channel
 * groups are multiples of 16, the bf16 path's planes go through the
 * kernels of cnn_trunk_bf16.c instead, which read and write bf16 directly
 * (same arithmetic, same bits).
 */
#include <omp.h>
#include <string.h>

#include "cnn_trunk_pass.h"

TRUNK_CLONES static void to_f32(float *restrict out, const uint16_t *restrict in, int64_t n)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = ld(in, i, true);
}

TRUNK_CLONES static void to_bf16_n(uint16_t *restrict out, const float *restrict in, int64_t n)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = to_bf16(in[i]);
}

/* Floats of a thread's tile for the bf16 path: two rows, a pooled row, and
 * three sums per channel. */
int64_t trunk_tile_len(const struct act *a)
{
    return (2 * a->W + a->W / 2 + 3) * a->B;
}

/* This thread's tile. The passes are not called inside another parallel
 * region (the thread number indexes the tiles). */
static float *my_tile(float *t, const struct act *a)
{
    return t + omp_get_thread_num() * trunk_tile_len(a);
}

/* Rows h0.. of plane ng as an act of `rows` rows (N = G = 1). */
static struct act rows_of(const struct act *a, int64_t rows)
{
    return (struct act){1, a->B, rows, a->W, 1, a->B};
}

static void add_to(float *restrict acc, const float *restrict v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) acc[i] += v[i];
}

/* Which of a window's four values is its first extreme by sign sg (+1: the
 * maximum, -1: the minimum, 0: the first value), as a float 0..3 (float
 * selects keep the loop vectorised); its value in *zk. Under bn(z) = sc z +
 * sh with sc of sign sg, that value's bn is the window's maximum (bn is
 * monotone; rounding keeps it non-decreasing), so the pool's output is
 * relu(bn(zk)) and its gradient goes to that value. */
TRUNK_INLINE float window_ext(float z0, float z1, float z2, float z3, float sg, float *zk)
{
    float m = sg * z0, v, k = 0.0f, e = z0;
    v = sg * z1, k = v > m ? 1.0f : k, e = v > m ? z1 : e, m = v > m ? v : m;
    v = sg * z2, k = v > m ? 2.0f : k, e = v > m ? z2 : e, m = v > m ? v : m;
    v = sg * z3, k = v > m ? 3.0f : k, e = v > m ? z3 : e;
    *zk = e;
    return k;
}

/* s1, s2 (B) = sums over the plane's pixels of z - k and (z - k)^2 (k a
 * shift per channel against cancellation in E[z^2] - E[z]^2); with e, also
 * e (H/2, W/2, B) = each 2x2 window's extreme by sign sg (window_ext). A
 * last odd row or column is outside every window. */
TRUNK_CLONES static void stats_plane(float *restrict s1, float *restrict e,
                                     const float *restrict zp, const float *restrict k,
                                     const float *restrict sg, const struct act *a)
{
    int64_t H = a->H, W = a->W, B = a->B, Ho = e ? H / 2 : 0, Wo = e ? W / 2 : 0;
    float *restrict s2 = s1 + B;
    for (int64_t b = 0; b < B; b++) s1[b] = s2[b] = 0;
    for (int64_t i = 0; i < Ho; i++)
        for (int64_t j = 0; j < Wo; j++) {
            const float *p0 = zp + (2 * i * W + 2 * j) * B, *p1 = p0 + B, *p2 = p0 + W * B,
                        *p3 = p2 + B;
            float *o = e + (i * Wo + j) * B;
#pragma omp simd
            for (int64_t b = 0; b < B; b++) {
                float z0 = p0[b], z1 = p1[b], z2 = p2[b], z3 = p3[b];
                float d0 = z0 - k[b], d1 = z1 - k[b], d2 = z2 - k[b], d3 = z3 - k[b];
                s1[b] += (d0 + d1) + (d2 + d3);
                s2[b] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
                window_ext(z0, z1, z2, z3, sg[b], &o[b]);
            }
        }
    for (int64_t h = 0; h < H; h++) /* what no window covers (all without e) */
        for (int64_t w = h < 2 * Ho ? 2 * Wo : 0; w < W; w++) {
#pragma omp simd
            for (int64_t b = 0; b < B; b++) {
                float d = zp[(h * W + w) * B + b] - k[b];
                s1[b] += d;
                s2[b] += d * d;
            }
        }
}

void trunk_pass_stats(float *part, void *ext, float *tl, bool bf, const void *z, const float *k,
                      const float *sg, const struct act *a)
{
    int64_t NG = a->N * a->G, H = a->H, W = a->W, B = a->B, Ho = H / 2, Wo = W / 2;
    bool simd = bf && trunk_bf16_simd(a);
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        float *s1 = part + ng * 2 * B;
        const float *kg = k + ng % a->G * B, *sgg = sg ? sg + ng % a->G * B : NULL;
        if (simd) {
            trunk_bf16_stats(s1, ext ? trunk_elt(ext, ng * Ho * Wo * B, true) : NULL,
                             trunk_elt(z, ng * H * W * B, true), kg, sgg, a);
            continue;
        }
        if (!bf) {
            stats_plane(s1, ext ? (float *)ext + ng * Ho * Wo * B : NULL,
                        (const float *)z + ng * H * W * B, kg, sgg, a);
            continue;
        }
        float *t = my_tile(tl, a), *to = t + 2 * W * B, *acc = t + trunk_tile_len(a) - 2 * B;
        memset(s1, 0, (size_t)(2 * B) * sizeof *s1);
        for (int64_t h0 = 0; h0 < H; h0 += 2) {
            int64_t rows = H - h0 < 2 ? H - h0 : 2;
            struct act r = rows_of(a, rows);
            to_f32(t, trunk_elt(z, (ng * H + h0) * W * B, true), rows * W * B);
            bool win = ext && rows == 2;
            stats_plane(acc, win ? to : NULL, t, kg, sgg, &r);
            if (win) to_bf16_n(trunk_elt(ext, (ng * Ho + h0 / 2) * Wo * B, true), to, Wo * B);
            add_to(s1, acc, 2 * B);
        }
    }
}

/* s1, s2 (C) = the sums of part over n, in double. */
void trunk_reduce_part(double *s1, double *s2, const float *part, const struct act *a)
{
    for (int64_t ch = 0; ch < a->C; ch++) s1[ch] = s2[ch] = 0;
    for (int64_t n = 0; n < a->N; n++)
        for (int64_t ch = 0; ch < a->C; ch++) {
            const float *p = part + (n * a->G + ch / a->B) * 2 * a->B + ch % a->B;
            s1[ch] += p[0];
            s2[ch] += p[a->B];
        }
}

/* out (n pixels, B) = relu(s in + t). */
TRUNK_CLONES static void bn_relu_plane(float *restrict out, const float *restrict in,
                                       const float *restrict s, const float *restrict t, int64_t n,
                                       int64_t B)
{
    for (int64_t i = 0; i < n; i++) {
#pragma omp simd
        for (int64_t b = 0; b < B; b++) out[i * B + b] = relu(s[b] * in[i * B + b] + t[b]);
    }
}

void trunk_pass_bn_relu(void *out, float *tl, bool bf, const void *in, const float *sc,
                        const float *sh, const struct act *p)
{
    int64_t NG = p->N * p->G, H = p->H, W = p->W, B = p->B;
    bool simd = bf && trunk_bf16_simd(p);
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        const float *s = sc + ng % p->G * B, *t = sh + ng % p->G * B;
        if (simd) {
            trunk_bf16_bn_relu(trunk_elt(out, ng * H * W * B, true),
                               trunk_elt(in, ng * H * W * B, true), s, t, H * W, B);
            continue;
        }
        if (!bf) {
            bn_relu_plane((float *)out + ng * H * W * B, (const float *)in + ng * H * W * B, s, t,
                          H * W, B);
            continue;
        }
        float *ti = my_tile(tl, p), *to = ti + W * B;
        for (int64_t h = 0; h < H; h++) {
            to_f32(ti, trunk_elt(in, (ng * H + h) * W * B, true), W * B);
            bn_relu_plane(to, ti, s, t, W, B);
            to_bf16_n(trunk_elt(out, (ng * H + h) * W * B, true), to, W * B);
        }
    }
}

/* acc (3 B) = the sums over HW pixels of relu(bn(z)), of 1 and of z - m
 * where bn(z) = s z + t > 0. */
TRUNK_CLONES static void gap_plane(float *restrict acc, const float *restrict zp,
                                   const float *restrict s, const float *restrict t,
                                   const float *restrict m, int64_t HW, int64_t B)
{
    float *restrict n1 = acc + B, *restrict zm = acc + 2 * B;
    for (int64_t b = 0; b < B; b++) acc[b] = n1[b] = zm[b] = 0;
    for (int64_t i = 0; i < HW; i++) {
#pragma omp simd
        for (int64_t b = 0; b < B; b++) {
            float z = zp[i * B + b], v = s[b] * z + t[b];
            acc[b] += relu(v);
            n1[b] += v > 0.0f ? 1.0f : 0.0f;
            zm[b] += v > 0.0f ? z - m[b] : 0.0f;
        }
    }
}

void trunk_pass_gap(float *h, float *part, float *tl, bool bf, const void *z, const float *sc,
                    const float *sh, const float *mu, const struct act *a)
{
    int64_t NG = a->N * a->G, H = a->H, W = a->W, B = a->B, HW = H * W;
    bool simd = bf && trunk_bf16_simd(a);
#pragma omp parallel for schedule(static) if (NG * HW * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        int64_t cg = ng % a->G * B;
        const float *s = sc + cg, *t = sh + cg, *m = mu + cg;
        float *pg = part + ng * 3 * B;
        if (simd) {
            trunk_bf16_gap(pg, trunk_elt(z, ng * HW * B, true), s, t, m, a);
            continue;
        }
        if (!bf) {
            gap_plane(pg, (const float *)z + ng * HW * B, s, t, m, HW, B);
            continue;
        }
        float *tz = my_tile(tl, a), *acc = tz + trunk_tile_len(a) - 3 * B;
        memset(pg, 0, (size_t)(3 * B) * sizeof *pg);
        for (int64_t h0 = 0; h0 < H; h0 += 2) {
            int64_t rows = H - h0 < 2 ? H - h0 : 2;
            to_f32(tz, trunk_elt(z, (ng * H + h0) * W * B, true), rows * W * B);
            gap_plane(acc, tz, s, t, m, rows * W, B);
            add_to(pg, acc, 3 * B);
        }
    }
    for (int64_t n = 0; n < a->N; n++)
        for (int64_t ch = 0; ch < a->C; ch++)
            h[n * a->C + ch] = part[(n * a->G + ch / a->B) * 3 * a->B + ch % a->B] / (float)HW;
}

void trunk_gap_sums(float *part, const float *gs, const float *gap, const struct act *a)
{
    int64_t NG = a->N * a->G, B = a->B;
    for (int64_t ng = 0; ng < NG; ng++)
        for (int64_t b = 0; b < B; b++) {
            const float *q = gap + ng * 3 * B + b;
            float g = gs[ng * B + b];
            part[ng * 2 * B + b] = g * q[B];
            part[ng * 2 * B + B + b] = g * q[2 * B];
        }
}

/* f with every array advanced to channel group cg. */
static struct bwd_coef coef_at(const struct bwd_coef *f, int64_t cg)
{
    return (struct bwd_coef){f->sc + cg,
                             f->sh + cg,
                             f->mu + cg,
                             f->k + cg,
                             f->c1 + cg,
                             f->c2 + cg,
                             f->sg ? f->sg + cg : NULL};
}

/* Backward pass 1 over n pixels of v: s1, s2 (B) = sums of dr and of dr (v -
 * mu), dr = g where bn(v) > 0, else 0. */
TRUNK_CLONES static void sums_plane(float *restrict s1, const float *restrict g,
                                    const float *restrict v, const struct bwd_coef *f, int64_t n,
                                    int64_t B)
{
    float *restrict s2 = s1 + B;
    const float *s = f->sc, *t = f->sh, *m = f->mu;
    for (int64_t b = 0; b < B; b++) s1[b] = s2[b] = 0;
    for (int64_t i = 0; i < n; i++) {
#pragma omp simd
        for (int64_t b = 0; b < B; b++) {
            float x = v[i * B + b], dr = s[b] * x + t[b] > 0.0f ? g[i * B + b] : 0.0f;
            s1[b] += dr;
            s2[b] += dr * (x - m[b]);
        }
    }
}

void trunk_pass_pool_sums(float *part, float *tl, const void *da, bool bf, const void *ext,
                          const struct bwd_coef *f, const struct act *p)
{
    int64_t NG = p->N * p->G, H = p->H, W = p->W, B = p->B;
    bool simd = bf && trunk_bf16_simd(p);
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        struct bwd_coef fg = coef_at(f, ng % p->G * B);
        float *s1 = part + ng * 2 * B;
        if (simd) {
            trunk_bf16_sums(s1, trunk_elt(da, ng * H * W * B, true),
                            trunk_elt(ext, ng * H * W * B, true), &fg, p);
            continue;
        }
        if (!bf) {
            sums_plane(s1, (const float *)da + ng * H * W * B, (const float *)ext + ng * H * W * B,
                       &fg, H * W, B);
            continue;
        }
        float *tv = my_tile(tl, p), *tg = tv + W * B, *acc = tv + trunk_tile_len(p) - 2 * B;
        memset(s1, 0, (size_t)(2 * B) * sizeof *s1);
        for (int64_t h = 0; h < H; h++) {
            to_f32(tv, trunk_elt(ext, (ng * H + h) * W * B, true), W * B);
            to_f32(tg, trunk_elt(da, (ng * H + h) * W * B, true), W * B);
            sums_plane(acc, tg, tv, &fg, W, B);
            add_to(s1, acc, 2 * B);
        }
    }
}

/* Pass 2: dz = k (dr - c1 - (z - mu) c2) at every pixel, in place of z
 * (each element is read before it is written). */
TRUNK_CLONES static void pool_dz_plane(float *zp, const float *g, const struct bwd_coef *f,
                                       const struct act *a)
{
    int64_t H = a->H, W = a->W, B = a->B, Ho = H / 2, Wo = W / 2;
    const float *s = f->sc, *t = f->sh, *m = f->mu, *k = f->k, *c1 = f->c1, *c2 = f->c2;
    const float *sg = f->sg;
    for (int64_t i = 0; i < Ho; i++)
        for (int64_t j = 0; j < Wo; j++) {
            int64_t o0 = (2 * i * W + 2 * j) * B, o1 = o0 + B, o2 = o0 + W * B, o3 = o2 + B;
            const float *gw = g + (i * Wo + j) * B;
#pragma omp simd
            for (int64_t b = 0; b < B; b++) {
                float z0 = zp[o0 + b], z1 = zp[o1 + b], z2 = zp[o2 + b], z3 = zp[o3 + b], zk;
                float q = window_ext(z0, z1, z2, z3, sg[b], &zk);
                float dr = s[b] * zk + t[b] > 0.0f ? gw[b] : 0.0f;
                zp[o0 + b] = k[b] * ((q == 0.0f ? dr : 0.0f) - c1[b] - (z0 - m[b]) * c2[b]);
                zp[o1 + b] = k[b] * ((q == 1.0f ? dr : 0.0f) - c1[b] - (z1 - m[b]) * c2[b]);
                zp[o2 + b] = k[b] * ((q == 2.0f ? dr : 0.0f) - c1[b] - (z2 - m[b]) * c2[b]);
                zp[o3 + b] = k[b] * ((q == 3.0f ? dr : 0.0f) - c1[b] - (z3 - m[b]) * c2[b]);
            }
        }
    /* The last row and column when H or W is odd: outside every window. */
    for (int64_t h = 0; h < H; h++)
        for (int64_t w = h < 2 * Ho ? 2 * Wo : 0; w < W; w++) {
            int64_t o = (h * W + w) * B;
#pragma omp simd
            for (int64_t b = 0; b < B; b++)
                zp[o + b] = -k[b] * (c1[b] + (zp[o + b] - m[b]) * c2[b]);
        }
}

/* z = dz in place. */
void trunk_pass_pool_dz(void *z, float *tl, bool bf, const void *da, const struct bwd_coef *f,
                        const struct act *a)
{
    int64_t NG = a->N * a->G, H = a->H, W = a->W, B = a->B, Ho = H / 2, Wo = W / 2;
    bool simd = bf && trunk_bf16_simd(a);
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        struct bwd_coef fg = coef_at(f, ng % a->G * B);
        if (simd) {
            trunk_bf16_pool_dz(trunk_elt(z, ng * H * W * B, true),
                               trunk_elt(da, ng * Ho * Wo * B, true), &fg, a);
            continue;
        }
        if (!bf) {
            pool_dz_plane((float *)z + ng * H * W * B, (const float *)da + ng * Ho * Wo * B, &fg,
                          a);
            continue;
        }
        float *tz = my_tile(tl, a), *tg = tz + 2 * W * B;
        for (int64_t h0 = 0; h0 < H; h0 += 2) {
            int64_t rows = H - h0 < 2 ? H - h0 : 2;
            struct act r = rows_of(a, rows);
            uint16_t *zp = trunk_elt(z, (ng * H + h0) * W * B, true);
            to_f32(tz, zp, rows * W * B);
            if (rows == 2) to_f32(tg, trunk_elt(da, (ng * Ho + h0 / 2) * Wo * B, true), Wo * B);
            pool_dz_plane(tz, tg, &fg, &r);
            to_bf16_n(zp, tz, rows * W * B);
        }
    }
}

/* Pass 2: dz in place of z. */
TRUNK_CLONES static void gap_dz_plane(float *zp, const float *g, const struct bwd_coef *f,
                                      int64_t HW, int64_t B)
{
    const float *s = f->sc, *t = f->sh, *m = f->mu, *k = f->k, *c1 = f->c1, *c2 = f->c2;
    for (int64_t i = 0; i < HW; i++) {
#pragma omp simd
        for (int64_t b = 0; b < B; b++) {
            float v = zp[i * B + b], dr = s[b] * v + t[b] > 0.0f ? g[b] : 0.0f;
            zp[i * B + b] = k[b] * (dr - c1[b] - (v - m[b]) * c2[b]);
        }
    }
}

void trunk_pass_gap_dz(void *z, float *tl, bool bf, const float *gs, const struct bwd_coef *f,
                       const struct act *a)
{
    int64_t NG = a->N * a->G, H = a->H, W = a->W, B = a->B;
    bool simd = bf && trunk_bf16_simd(a);
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        struct bwd_coef fg = coef_at(f, ng % a->G * B);
        if (simd) {
            trunk_bf16_gap_dz(trunk_elt(z, ng * H * W * B, true), gs + ng * B, &fg, H * W, B);
            continue;
        }
        if (!bf) {
            gap_dz_plane((float *)z + ng * H * W * B, gs + ng * B, &fg, H * W, B);
            continue;
        }
        float *tz = my_tile(tl, a);
        for (int64_t h0 = 0; h0 < H; h0 += 2) {
            int64_t rows = H - h0 < 2 ? H - h0 : 2;
            uint16_t *zp = trunk_elt(z, (ng * H + h0) * W * B, true);
            to_f32(tz, zp, rows * W * B);
            gap_dz_plane(tz, gs + ng * B, &fg, rows * W, B);
            to_bf16_n(zp, tz, rows * W * B);
        }
    }
}
