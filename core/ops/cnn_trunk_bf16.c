/*
 * cnn_trunk_bf16.c — the bf16 path's passes (cnn_trunk_pass.c) on one plane
 * in AVX-512 with AVX512-BF16, for channel groups in multiples of 16: z, dz,
 * ext, da and the pooled output are read as bf16 and widened in registers,
 * and written back through the CPU's own conversion (VCVTNEPS2BF16), where
 * the portable path converts blocks of rows into an f32 tile, runs the f32
 * kernel on it and converts back. Measured on one plane loop (2 threads,
 * market_ref's shapes): the backward's dz pass 0.232 -> 0.100 ms for the
 * first stage's chunk of 8 photos (in L2), 4.5 -> 2.3 ms for the 32x32x64
 * stage's 256 photos (from memory).
 *
 * The arithmetic is the f32 kernels', operation for operation and in the
 * same order (no fused multiply-add: the f32 kernels are compiled without
 * contraction), so the results are the portable path's bit for bit except
 * where the conversion differs: VCVTNEPS2BF16 rounds to nearest even like
 * to_bf16 but flushes denormals to zero and quiets NaNs.
 * trunk_bf16_simd says when these run; the portable path serves the rest
 * (another CPU, channel groups that are not multiples of 16).
 */
#include <immintrin.h>

#include "cnn_trunk_pass.h"

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define BF16_INLINE BF16_TARGET static inline __attribute__((always_inline))

bool trunk_bf16_off;

bool trunk_bf16_simd(const struct act *a)
{
    static int has = -1; /* a benign race: every thread computes the same */
    if (has < 0) has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
    return has && !trunk_bf16_off && a->B % 16 == 0;
}

BF16_INLINE __m512 ld16(const uint16_t *p)
{
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

BF16_INLINE void st16(uint16_t *p, __m512 v)
{
    _mm256_storeu_si256((__m256i *)p, (__m256i)_mm512_cvtneps_pbh(v));
}

BF16_INLINE __m512 ldf(const float *p)
{
    return _mm512_loadu_ps(p);
}

/* p (16 floats) += v */
BF16_INLINE void add16(float *p, __m512 v)
{
    _mm512_storeu_ps(p, _mm512_add_ps(ldf(p), v));
}

/* relu(v) = v < 0 ? 0 : v (NaN stays) */
BF16_INLINE __m512 relu16(__m512 v)
{
    return _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ),
                              _mm512_setzero_ps());
}

/* window_ext (cnn_trunk_pass.c): the window's value by sign g; q[0..2]:
 * where z1, z2, z3 took over. */
BF16_INLINE __m512 window_ext16(__m512 z0, __m512 z1, __m512 z2, __m512 z3, __m512 g, __mmask16 *q)
{
    __m512 m = _mm512_mul_ps(g, z0), e = z0, v;
    v = _mm512_mul_ps(g, z1), q[0] = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ);
    e = _mm512_mask_mov_ps(e, q[0], z1), m = _mm512_mask_mov_ps(m, q[0], v);
    v = _mm512_mul_ps(g, z2), q[1] = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ);
    e = _mm512_mask_mov_ps(e, q[1], z2), m = _mm512_mask_mov_ps(m, q[1], v);
    v = _mm512_mul_ps(g, z3), q[2] = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ);
    return _mm512_mask_mov_ps(e, q[2], z3);
}

/* acc (s1 at +0, s2 at +B) += the sums of d = z - k and d^2 over n pixels
 * at p (stride B). */
BF16_INLINE void sums_px(__m512 *a1, __m512 *a2, const uint16_t *p, int64_t n, int64_t B, __m512 k)
{
    for (int64_t i = 0; i < n; i++) {
        __m512 d = _mm512_sub_ps(ld16(p + i * B), k);
        *a1 = _mm512_add_ps(*a1, d);
        *a2 = _mm512_add_ps(*a2, _mm512_mul_ps(d, d));
    }
}

BF16_TARGET void trunk_bf16_stats(float *s1, uint16_t *e, const uint16_t *zp, const float *k,
                                  const float *sg, const struct act *a)
{
    int64_t H = a->H, W = a->W, B = a->B, Wo = W / 2;
    memset(s1, 0, (size_t)(2 * B) * sizeof *s1);
    for (int64_t h0 = 0; h0 < H; h0 += 2) { /* the portable path's blocks of two rows */
        int64_t rows = H - h0 < 2 ? H - h0 : 2;
        for (int64_t b = 0; b < B; b += 16) {
            __m512 kk = ldf(k + b), a1 = _mm512_setzero_ps(), a2 = a1;
            const uint16_t *r0 = zp + h0 * W * B + b;
            if (rows == 2 && e) {
                __m512 g = ldf(sg + b);
                for (int64_t j = 0; j < Wo; j++) {
                    const uint16_t *p0 = r0 + 2 * j * B;
                    __m512 z0 = ld16(p0), z1 = ld16(p0 + B), z2 = ld16(p0 + W * B),
                           z3 = ld16(p0 + W * B + B);
                    __m512 d0 = _mm512_sub_ps(z0, kk), d1 = _mm512_sub_ps(z1, kk);
                    __m512 d2 = _mm512_sub_ps(z2, kk), d3 = _mm512_sub_ps(z3, kk);
                    a1 = _mm512_add_ps(a1,
                                       _mm512_add_ps(_mm512_add_ps(d0, d1), _mm512_add_ps(d2, d3)));
                    __m512 q01 = _mm512_add_ps(_mm512_mul_ps(d0, d0), _mm512_mul_ps(d1, d1));
                    __m512 q23 = _mm512_add_ps(_mm512_mul_ps(d2, d2), _mm512_mul_ps(d3, d3));
                    a2 = _mm512_add_ps(a2, _mm512_add_ps(q01, q23));
                    __mmask16 q[3];
                    st16(e + ((h0 / 2) * Wo + j) * B + b, window_ext16(z0, z1, z2, z3, g, q));
                }
                /* an odd last column, row by row */
                for (int64_t h = 0; h < 2; h++)
                    sums_px(&a1, &a2, r0 + (h * W + 2 * Wo) * B, W - 2 * Wo, B, kk);
            } else {
                sums_px(&a1, &a2, r0, rows * W, B, kk);
            }
            add16(s1 + b, a1);
            add16(s1 + B + b, a2);
        }
    }
}

BF16_TARGET void trunk_bf16_bn_relu(uint16_t *out, const uint16_t *in, const float *s,
                                    const float *t, int64_t n, int64_t B)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t b = 0; b < B; b += 16)
            st16(
                out + i * B + b,
                relu16(_mm512_add_ps(_mm512_mul_ps(ldf(s + b), ld16(in + i * B + b)), ldf(t + b))));
}

BF16_TARGET void trunk_bf16_gap(float *sum, const uint16_t *zp, const float *s, const float *t,
                                const float *m, const struct act *a)
{
    int64_t H = a->H, W = a->W, B = a->B;
    __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    memset(sum, 0, (size_t)(3 * B) * sizeof *sum);
    for (int64_t h0 = 0; h0 < H; h0 += 2) {
        int64_t n = (H - h0 < 2 ? H - h0 : 2) * W;
        for (int64_t b = 0; b < B; b += 16) {
            __m512 sb = ldf(s + b), tb = ldf(t + b), mb = ldf(m + b);
            __m512 acc = zero, n1 = zero, zm = zero;
            const uint16_t *p = zp + h0 * W * B + b;
            for (int64_t i = 0; i < n; i++) {
                __m512 z = ld16(p + i * B), v = _mm512_add_ps(_mm512_mul_ps(sb, z), tb);
                __mmask16 on = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ);
                acc = _mm512_add_ps(acc, relu16(v));
                n1 = _mm512_add_ps(n1, _mm512_maskz_mov_ps(on, one));
                zm = _mm512_add_ps(zm, _mm512_maskz_mov_ps(on, _mm512_sub_ps(z, mb)));
            }
            add16(sum + b, acc);
            add16(sum + B + b, n1);
            add16(sum + 2 * B + b, zm);
        }
    }
}

/* The coefficients of a backward pass for channels b.. b + 15. */
struct coef16 {
    __m512 s, t, m, k, c1, c2, g, neg; /* neg: -k */
};

BF16_INLINE struct coef16 coef16_at(const struct bwd_coef *f, int64_t b)
{
    struct coef16 q;
    q.s = ldf(f->sc + b), q.t = ldf(f->sh + b), q.m = ldf(f->mu + b), q.k = ldf(f->k + b);
    q.c1 = ldf(f->c1 + b), q.c2 = ldf(f->c2 + b);
    q.g = f->sg ? ldf(f->sg + b) : _mm512_setzero_ps();
    q.neg = _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(q.k), _mm512_set1_epi32(INT32_MIN)));
    return q;
}

BF16_TARGET void trunk_bf16_sums(float *s1, const uint16_t *g, const uint16_t *v,
                                 const struct bwd_coef *f, const struct act *a)
{
    int64_t H = a->H, W = a->W, B = a->B;
    memset(s1, 0, (size_t)(2 * B) * sizeof *s1);
    for (int64_t h = 0; h < H; h++) /* the portable path's rows */
        for (int64_t b = 0; b < B; b += 16) {
            struct coef16 q = coef16_at(f, b);
            __m512 a1 = _mm512_setzero_ps(), a2 = a1;
            for (int64_t j = 0; j < W; j++) {
                int64_t o = (h * W + j) * B + b;
                __m512 x = ld16(v + o);
                __mmask16 on = _mm512_cmp_ps_mask(_mm512_add_ps(_mm512_mul_ps(q.s, x), q.t),
                                                  _mm512_setzero_ps(), _CMP_GT_OQ);
                __m512 dr = _mm512_maskz_mov_ps(on, ld16(g + o));
                a1 = _mm512_add_ps(a1, dr);
                a2 = _mm512_add_ps(a2, _mm512_mul_ps(dr, _mm512_sub_ps(x, q.m)));
            }
            add16(s1 + b, a1);
            add16(s1 + B + b, a2);
        }
}

/* k (dr - c1 - (z - mu) c2) as the f32 kernels compute it */
BF16_INLINE __m512 dz16(__m512 k, __m512 dr, __m512 c1, __m512 z, __m512 m, __m512 c2)
{
    return _mm512_mul_ps(
        k, _mm512_sub_ps(_mm512_sub_ps(dr, c1), _mm512_mul_ps(_mm512_sub_ps(z, m), c2)));
}

/* dz = -k (c1 + (z - mu) c2) of n pixels outside every pool window */
BF16_INLINE void dz_outside(uint16_t *p, int64_t n, int64_t B, const struct coef16 *q)
{
    for (int64_t i = 0; i < n; i++) {
        __m512 v = _mm512_add_ps(q->c1, _mm512_mul_ps(_mm512_sub_ps(ld16(p + i * B), q->m), q->c2));
        st16(p + i * B, _mm512_mul_ps(q->neg, v));
    }
}

/* Row pair by row pair, each channel block in turn: the pair (a few KB)
 * stays in L1 while its blocks are done. */
BF16_TARGET void trunk_bf16_pool_dz(uint16_t *zp, const uint16_t *da, const struct bwd_coef *f,
                                    const struct act *a)
{
    int64_t H = a->H, W = a->W, B = a->B, Ho = H / 2, Wo = W / 2;
    __m512 zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < Ho; i++)
        for (int64_t b = 0; b < B; b += 16) {
            struct coef16 q = coef16_at(f, b);
            for (int64_t j = 0; j < Wo; j++) {
                uint16_t *p0 = zp + (2 * i * W + 2 * j) * B + b, *p1 = p0 + B, *p2 = p0 + W * B,
                         *p3 = p2 + B;
                __m512 z0 = ld16(p0), z1 = ld16(p1), z2 = ld16(p2), z3 = ld16(p3);
                __mmask16 w[3];
                __m512 zk = window_ext16(z0, z1, z2, z3, q.g, w);
                __mmask16 on = _mm512_cmp_ps_mask(_mm512_add_ps(_mm512_mul_ps(q.s, zk), q.t), zero,
                                                  _CMP_GT_OQ);
                __m512 dr = _mm512_maskz_mov_ps(on, ld16(da + (i * Wo + j) * B + b));
                /* the window's pick: the last of z1..z3 that took over, else z0 */
                __mmask16 i3 = w[2], i2 = w[1] & ~w[2], i1 = w[0] & ~w[1] & ~w[2];
                __mmask16 i0 = ~(w[0] | w[1] | w[2]);
                st16(p0, dz16(q.k, _mm512_maskz_mov_ps(i0, dr), q.c1, z0, q.m, q.c2));
                st16(p1, dz16(q.k, _mm512_maskz_mov_ps(i1, dr), q.c1, z1, q.m, q.c2));
                st16(p2, dz16(q.k, _mm512_maskz_mov_ps(i2, dr), q.c1, z2, q.m, q.c2));
                st16(p3, dz16(q.k, _mm512_maskz_mov_ps(i3, dr), q.c1, z3, q.m, q.c2));
            }
            /* an odd last column */
            for (int64_t h = 2 * i; h < 2 * i + 2; h++)
                dz_outside(zp + (h * W + 2 * Wo) * B + b, W - 2 * Wo, B, &q);
        }
    if (H % 2) /* an odd last row */
        for (int64_t b = 0; b < B; b += 16) {
            struct coef16 q = coef16_at(f, b);
            dz_outside(zp + (H - 1) * W * B + b, W, B, &q);
        }
}

BF16_TARGET void trunk_bf16_gap_dz(uint16_t *zp, const float *g, const struct bwd_coef *f,
                                   int64_t n, int64_t B)
{
    __m512 zero = _mm512_setzero_ps();
    for (int64_t i0 = 0; i0 < n; i0 += 64) /* 64 pixels (L1) at a time */
        for (int64_t b = 0; b < B; b += 16) {
            struct coef16 q = coef16_at(f, b);
            __m512 gb = ldf(g + b);
            for (int64_t i = i0; i < n && i < i0 + 64; i++) {
                uint16_t *p = zp + i * B + b;
                __m512 v = ld16(p);
                __mmask16 on =
                    _mm512_cmp_ps_mask(_mm512_add_ps(_mm512_mul_ps(q.s, v), q.t), zero, _CMP_GT_OQ);
                st16(p, dz16(q.k, _mm512_maskz_mov_ps(on, gb), q.c1, v, q.m, q.c2));
            }
        }
}
