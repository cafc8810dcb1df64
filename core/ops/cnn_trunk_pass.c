/*
 * cnn_trunk_pass.c — see cnn_trunk_pass.h. Each pass runs over the N G
 * planes of H W B values, on OpenMP threads above PAR elements. The kernels
 * are f32 (target clones for AVX-512, AVX2 and the baseline). On the bf16
 * path z, the pooled output, dz and da are bf16 (half the memory traffic of
 * the passes, which are bound by it): each plane goes through the f32 kernel
 * in blocks of two rows (one row of pool windows) converted into a thread's
 * tile (L1-sized: 16 KB at the reference's shapes) and, for dz, back.
 * (Kernels that mix 2-byte and 4-byte elements are not vectorised by GCC 12;
 * the conversions alone are.)
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
 * two sums per channel. */
int64_t trunk_tile_len(const struct act *a)
{
    return (2 * a->W + a->W / 2 + 2) * a->B;
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

/* s1, s2 (B) = sums over HW pixels of z - k and (z - k)^2 (k a shift per
 * channel against cancellation in E[z^2] - E[z]^2). */
TRUNK_CLONES static void stats_plane(float *restrict s1, const float *restrict zp,
                                     const float *restrict k, int64_t HW, int64_t B)
{
    float *restrict s2 = s1 + B;
    for (int64_t b = 0; b < B; b++) s1[b] = s2[b] = 0;
    for (int64_t i = 0; i < HW; i++) {
#pragma omp simd
        for (int64_t b = 0; b < B; b++) {
            float d = zp[i * B + b] - k[b];
            s1[b] += d;
            s2[b] += d * d;
        }
    }
}

void trunk_pass_stats(float *part, float *tl, bool bf, const void *z, const float *k,
                      const struct act *a)
{
    int64_t NG = a->N * a->G, H = a->H, W = a->W, B = a->B;
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        float *s1 = part + ng * 2 * B;
        const float *kg = k + ng % a->G * B;
        if (!bf) {
            stats_plane(s1, (const float *)z + ng * H * W * B, kg, H * W, B);
            continue;
        }
        float *t = my_tile(tl, a), *acc = t + trunk_tile_len(a) - 2 * B;
        memset(s1, 0, (size_t)(2 * B) * sizeof *s1);
        for (int64_t h0 = 0; h0 < H; h0 += 2) {
            int64_t rows = H - h0 < 2 ? H - h0 : 2;
            to_f32(t, trunk_elt(z, (ng * H + h0) * W * B, true), rows * W * B);
            stats_plane(acc, t, kg, rows * W, B);
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

/* One plane: out (Ho,Wo,B) = the 2x2 max pool of relu(sc z + sh). */
TRUNK_CLONES static void pool_plane(float *restrict out, const float *restrict zp, const float *sc,
                                    const float *sh, const struct act *a)
{
    int64_t W = a->W, B = a->B, Ho = a->H / 2, Wo = a->W / 2;
    for (int64_t i = 0; i < Ho; i++)
        for (int64_t j = 0; j < Wo; j++) {
            const float *p0 = zp + (2 * i * W + 2 * j) * B, *p1 = p0 + B, *p2 = p0 + W * B,
                        *p3 = p2 + B;
            float *o = out + (i * Wo + j) * B;
#pragma omp simd
            for (int64_t b = 0; b < B; b++) {
                float m = relu(sc[b] * p0[b] + sh[b]), v;
                v = relu(sc[b] * p1[b] + sh[b]), m = v > m ? v : m;
                v = relu(sc[b] * p2[b] + sh[b]), m = v > m ? v : m;
                v = relu(sc[b] * p3[b] + sh[b]), m = v > m ? v : m;
                o[b] = m;
            }
        }
}

/* out (pooled layout of a, z's type) = pool(relu(sc z + sh)). */
void trunk_pass_pool(void *out, float *tl, bool bf, const void *z, const float *sc, const float *sh,
                     const struct act *a)
{
    int64_t NG = a->N * a->G, H = a->H, W = a->W, B = a->B, Ho = H / 2, Wo = W / 2;
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        const float *s = sc + ng % a->G * B, *t = sh + ng % a->G * B;
        if (!bf) {
            pool_plane((float *)out + ng * Ho * Wo * B, (const float *)z + ng * H * W * B, s, t, a);
            continue;
        }
        float *tz = my_tile(tl, a), *to = tz + 2 * W * B;
        struct act r = rows_of(a, 2);
        for (int64_t i = 0; i < Ho; i++) {
            to_f32(tz, trunk_elt(z, (ng * H + 2 * i) * W * B, true), 2 * W * B);
            pool_plane(to, tz, s, t, &r);
            to_bf16_n(trunk_elt(out, (ng * Ho + i) * Wo * B, true), to, Wo * B);
        }
    }
}

/* acc (B) = the sums over HW pixels of relu(s z + t). */
TRUNK_CLONES static void gap_plane(float *restrict acc, const float *restrict zp,
                                   const float *restrict s, const float *restrict t, int64_t HW,
                                   int64_t B)
{
    for (int64_t b = 0; b < B; b++) acc[b] = 0;
    for (int64_t i = 0; i < HW; i++) {
#pragma omp simd
        for (int64_t b = 0; b < B; b++) acc[b] += relu(s[b] * zp[i * B + b] + t[b]);
    }
}

/* h (N,C) = the mean over H, W of relu(sc z + sh). part: (N G, B). */
void trunk_pass_gap(float *h, float *part, float *tl, bool bf, const void *z, const float *sc,
                    const float *sh, const struct act *a)
{
    int64_t NG = a->N * a->G, H = a->H, W = a->W, B = a->B, HW = H * W;
#pragma omp parallel for schedule(static) if (NG * HW * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        const float *s = sc + ng % a->G * B, *t = sh + ng % a->G * B;
        if (!bf) {
            gap_plane(part + ng * B, (const float *)z + ng * HW * B, s, t, HW, B);
            continue;
        }
        float *tz = my_tile(tl, a), *acc = tz + trunk_tile_len(a) - 2 * B;
        memset(part + ng * B, 0, (size_t)B * sizeof *part);
        for (int64_t h0 = 0; h0 < H; h0 += 2) {
            int64_t rows = H - h0 < 2 ? H - h0 : 2;
            to_f32(tz, trunk_elt(z, (ng * H + h0) * W * B, true), rows * W * B);
            gap_plane(acc, tz, s, t, rows * W, B);
            add_to(part + ng * B, acc, B);
        }
    }
    for (int64_t n = 0; n < a->N; n++)
        for (int64_t ch = 0; ch < a->C; ch++)
            h[n * a->C + ch] = part[(n * a->G + ch / a->B) * a->B + ch % a->B] / (float)HW;
}

/* Which of a window's four values of relu(sc z + sh) is its first maximum
 * (as a float 0..3: float selects keep the loop vectorised), its z in *zk and
 * the maximum in *max. */
TRUNK_INLINE float window_arg(float z0, float z1, float z2, float z3, float s, float t, float *zk,
                              float *max)
{
    float m = relu(s * z0 + t), v, k = 0.0f, zm = z0;
    v = relu(s * z1 + t), k = v > m ? 1.0f : k, zm = v > m ? z1 : zm, m = v > m ? v : m;
    v = relu(s * z2 + t), k = v > m ? 2.0f : k, zm = v > m ? z2 : zm, m = v > m ? v : m;
    v = relu(s * z3 + t), k = v > m ? 3.0f : k, zm = v > m ? z3 : zm, m = v > m ? v : m;
    *zk = zm;
    *max = m;
    return k;
}

/* f with every array advanced to channel group cg. */
static struct bwd_coef coef_at(const struct bwd_coef *f, int64_t cg)
{
    return (struct bwd_coef){f->sc + cg, f->sh + cg, f->mu + cg, f->k + cg, f->c1 + cg, f->c2 + cg};
}

/* Backward of a pooled stage, pass 1: s1, s2 (B) = sums of dr and of dr (z
 * - mu) over the plane; g: the plane's pool output gradient (pooled layout,
 * f32). Only each window's maximum has dr != 0 (if bn(z) > 0 there). */
TRUNK_CLONES static void pool_sums_plane(float *restrict s1, const float *g, const float *zp,
                                         const struct bwd_coef *f, const struct act *a)
{
    int64_t B = a->B, W = a->W, Ho = a->H / 2, Wo = a->W / 2;
    float *restrict s2 = s1 + B;
    const float *s = f->sc, *t = f->sh, *m = f->mu;
    for (int64_t b = 0; b < B; b++) s1[b] = s2[b] = 0;
    for (int64_t i = 0; i < Ho; i++)
        for (int64_t j = 0; j < Wo; j++) {
            const float *p0 = zp + (2 * i * W + 2 * j) * B, *p1 = p0 + B, *p2 = p0 + W * B,
                        *p3 = p2 + B;
            const float *gw = g + (i * Wo + j) * B;
#pragma omp simd
            for (int64_t b = 0; b < B; b++) {
                float mx, zk;
                window_arg(p0[b], p1[b], p2[b], p3[b], s[b], t[b], &zk, &mx);
                float gv = gw[b], dr = mx > 0.0f ? gv : 0.0f;
                s1[b] += dr;
                s2[b] += dr * (zk - m[b]);
            }
        }
}

void trunk_pass_pool_sums(float *part, float *tl, const void *da, bool bf, const void *z,
                          const struct bwd_coef *f, const struct act *a)
{
    int64_t NG = a->N * a->G, H = a->H, W = a->W, B = a->B, Ho = H / 2, Wo = W / 2;
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        struct bwd_coef fg = coef_at(f, ng % a->G * B);
        float *s1 = part + ng * 2 * B;
        if (!bf) {
            pool_sums_plane(s1, (const float *)da + ng * Ho * Wo * B,
                            (const float *)z + ng * H * W * B, &fg, a);
            continue;
        }
        float *tz = my_tile(tl, a), *tg = tz + 2 * W * B, *acc = tz + trunk_tile_len(a) - 2 * B;
        struct act r = rows_of(a, 2);
        memset(s1, 0, (size_t)(2 * B) * sizeof *s1);
        for (int64_t i = 0; i < Ho; i++) { /* an odd last row has dr = 0 */
            to_f32(tz, trunk_elt(z, (ng * H + 2 * i) * W * B, true), 2 * W * B);
            to_f32(tg, trunk_elt(da, (ng * Ho + i) * Wo * B, true), Wo * B);
            pool_sums_plane(acc, tg, tz, &fg, &r);
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
    for (int64_t i = 0; i < Ho; i++)
        for (int64_t j = 0; j < Wo; j++) {
            int64_t o0 = (2 * i * W + 2 * j) * B, o1 = o0 + B, o2 = o0 + W * B, o3 = o2 + B;
            const float *gw = g + (i * Wo + j) * B;
#pragma omp simd
            for (int64_t b = 0; b < B; b++) {
                float z0 = zp[o0 + b], z1 = zp[o1 + b], z2 = zp[o2 + b], z3 = zp[o3 + b], mx, zk;
                float q = window_arg(z0, z1, z2, z3, s[b], t[b], &zk, &mx);
                float gv = gw[b], dr = mx > 0.0f ? gv : 0.0f;
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
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        struct bwd_coef fg = coef_at(f, ng % a->G * B);
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

/* The last stage, pass 1: dr = dh[n,c] / (H W) where bn(z) > 0. g: the
 * plane's (B) dh / (H W) in the layout's channel order (zeros in padding). */
TRUNK_CLONES static void gap_sums_plane(float *restrict s1, const float *restrict g,
                                        const float *restrict zp, const struct bwd_coef *f,
                                        int64_t HW, int64_t B)
{
    float *restrict s2 = s1 + B;
    const float *s = f->sc, *t = f->sh, *m = f->mu;
    for (int64_t b = 0; b < B; b++) s1[b] = s2[b] = 0;
    for (int64_t i = 0; i < HW; i++) {
#pragma omp simd
        for (int64_t b = 0; b < B; b++) {
            float v = zp[i * B + b], dr = s[b] * v + t[b] > 0.0f ? g[b] : 0.0f;
            s1[b] += dr;
            s2[b] += dr * (v - m[b]);
        }
    }
}

void trunk_pass_gap_sums(float *part, float *tl, const float *gs, bool bf, const void *z,
                         const struct bwd_coef *f, const struct act *a)
{
    int64_t NG = a->N * a->G, H = a->H, W = a->W, B = a->B;
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        struct bwd_coef fg = coef_at(f, ng % a->G * B);
        float *s1 = part + ng * 2 * B;
        if (!bf) {
            gap_sums_plane(s1, gs + ng * B, (const float *)z + ng * H * W * B, &fg, H * W, B);
            continue;
        }
        float *tz = my_tile(tl, a), *acc = tz + trunk_tile_len(a) - 2 * B;
        memset(s1, 0, (size_t)(2 * B) * sizeof *s1);
        for (int64_t h0 = 0; h0 < H; h0 += 2) {
            int64_t rows = H - h0 < 2 ? H - h0 : 2;
            to_f32(tz, trunk_elt(z, (ng * H + h0) * W * B, true), rows * W * B);
            gap_sums_plane(acc, gs + ng * B, tz, &fg, rows * W, B);
            add_to(s1, acc, 2 * B);
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
#pragma omp parallel for schedule(static) if (NG * H * W * B > PAR)
    for (int64_t ng = 0; ng < NG; ng++) {
        struct bwd_coef fg = coef_at(f, ng % a->G * B);
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
