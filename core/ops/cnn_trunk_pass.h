/*
 * cnn_trunk_pass.h — the memory-bound passes of the CNN trunk (cnn_trunk.c):
 * batch norm's statistics, batch norm + ReLU + 2x2 max pool or global
 * average pool, and their backward, over a stage's convolution output in
 * oneDNN's layout. Private to core/ops.
 */
#ifndef LOOM_OPS_CNN_TRUNK_PASS_H
#define LOOM_OPS_CNN_TRUNK_PASS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define TRUNK_INLINE static inline __attribute__((always_inline))
/* The passes' kernels for AVX-512, AVX2 and the baseline (the default build
 * is not -march=native), chosen when the library loads. */
#define TRUNK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
/* Element counts above which a pass runs on OpenMP threads. */
#define PAR 32768

/* A stage's activations: channels innermost in groups of B, element
 * (n,c,h,w) at ((n G + c/B) H W + h W + w) B + c%B (nChw16c: B = 16; nhwc:
 * G = 1, B = C). */
struct act {
    int64_t N, C, H, W, G, B;
};

static inline struct act act_make(int64_t N, int64_t C, int64_t H, int64_t W, bool nhwc)
{
    return (struct act){N, C, H, W, nhwc ? 1 : (C + 15) / 16, nhwc ? C : 16};
}

static inline int64_t act_len(const struct act *a)
{
    return a->N * a->G * a->H * a->W * a->B;
}

TRUNK_INLINE uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

/* Element i of z, which is bf16 on the bf16 path, else f32. */
TRUNK_INLINE float ld(const void *p, int64_t i, bool bf)
{
    if (!bf) return ((const float *)p)[i];
    uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

TRUNK_INLINE float relu(float v)
{
    return v < 0.0f ? 0.0f : v;
}

/* Element i of an array of z's type. */
static inline void *trunk_elt(const void *p, int64_t i, bool bf)
{
    return (char *)p + (size_t)i * (bf ? 2 : 4);
}

/* The per-channel coefficients of a backward pass, (G B) each; sg: the sign
 * of sc (+1, -1 or 0) that picks each pool window's value (pooled stages). */
struct bwd_coef {
    const float *sc, *sh, *mu, *k, *c1, *c2, *sg;
};

/* The passes over a stage's convolution output z (the layout of a: bf16 on
 * the bf16 path, else f32); cnn_trunk_pass.c says how. sc, sh, mu, k, c1,
 * c2, sg: per channel (G B, zeros in padded channels), bn(z) = sc z + sh.
 * part: each plane's sums, (N G, 2 B). tl: the bf16 path's tiles,
 * trunk_tile_len floats for each OpenMP thread that may run a pass (unused
 * in f32). The passes are not called inside another parallel region.
 *
 * A pooled stage keeps, instead of reading z again, each 2x2 window's value
 * that the pool picks: ext (pooled layout, z's type) = the window's first
 * maximum of z where sc > 0, first minimum where sc < 0, first value where
 * sc = 0 (sg: the sign). bn is monotone in z, so relu(bn(ext)) is the
 * window's maximum of relu(bn(z)): the pool's output, and its gradient goes
 * to that value. (The training statistics do not change sc's sign: sc =
 * gamma / sqrt(var + eps).) */
int64_t trunk_tile_len(const struct act *a);
/* part = sums of z - k and (z - k)^2 per plane (k: a shift per channel);
 * with ext (and sg), also each window's value (a pooled stage). */
void trunk_pass_stats(float *part, void *ext, float *tl, bool bf, const void *z, const float *k,
                      const float *sg, const struct act *a);
/* s1, s2 (C) = the sums of part over n, in double. */
void trunk_reduce_part(double *s1, double *s2, const float *part, const struct act *a);
/* out = relu(sc in + sh) over p (a pooled stage's output from its ext). */
void trunk_pass_bn_relu(void *out, float *tl, bool bf, const void *in, const float *sc,
                        const float *sh, const struct act *p);
/* h (N,C) = the mean over H, W of relu(sc z + sh); part (N G, 3 B): per
 * plane the sums of relu(bn(z)), and of 1 and of z - mu where bn(z) > 0:
 * all the last stage's backward pass 1 needs (its dr is dh / (H W), one
 * value per plane, where bn(z) > 0), so that it does not read z. */
void trunk_pass_gap(float *h, float *part, float *tl, bool bf, const void *z, const float *sc,
                    const float *sh, const float *mu, const struct act *a);
/* The last stage's backward pass 1: part (N G, 2 B) = the sums of dr and dr
 * (z - mu) per plane from gs (N G B: dh / (H W)) and trunk_pass_gap's part. */
void trunk_gap_sums(float *part, const float *gs, const float *gap, const struct act *a);
/* Backward of a pooled stage, pass 1: part = sums of dr and dr (ext - mu)
 * over each plane of p, the pooled layout (dr = da where bn(ext) > 0); da:
 * the pool output's gradient (z's type). */
void trunk_pass_pool_sums(float *part, float *tl, const void *da, bool bf, const void *ext,
                          const struct bwd_coef *f, const struct act *p);
/* Pass 2: z = dz = k (dr - c1 - (z - mu) c2), in place. */
void trunk_pass_pool_dz(void *z, float *tl, bool bf, const void *da, const struct bwd_coef *f,
                        const struct act *a);
/* The last stage (global average pool), pass 2, in place; gs: (N, G B)
 * dh / (H W), f32. */
void trunk_pass_gap_dz(void *z, float *tl, bool bf, const float *gs, const struct bwd_coef *f,
                       const struct act *a);

/* The bf16 path's kernels for one plane (a's H, W, B) in AVX-512 with
 * AVX512-BF16 (cnn_trunk_bf16.c), which the passes run instead of their
 * portable tiles when trunk_bf16_simd(a): the CPU has them and B is a
 * multiple of 16 (and !trunk_bf16_off, which the checks set to compare the
 * two). Each does what its pass does to one plane. */
extern bool trunk_bf16_off;
bool trunk_bf16_simd(const struct act *a);
void trunk_bf16_stats(float *s1, uint16_t *e, const uint16_t *z, const float *k, const float *sg,
                      const struct act *a);
void trunk_bf16_bn_relu(uint16_t *out, const uint16_t *in, const float *s, const float *t,
                        int64_t n, int64_t B);
/* sum (3 B): trunk_pass_gap's part of the plane */
void trunk_bf16_gap(float *sum, const uint16_t *z, const float *s, const float *t, const float *m,
                    const struct act *a);
/* backward pass 1 of a pooled stage over ext (v) with the gradient g */
void trunk_bf16_sums(float *s1, const uint16_t *g, const uint16_t *v, const struct bwd_coef *f,
                     const struct act *a);
void trunk_bf16_pool_dz(uint16_t *z, const uint16_t *da, const struct bwd_coef *f,
                        const struct act *a);
void trunk_bf16_gap_dz(uint16_t *z, const float *g, const struct bwd_coef *f, int64_t n, int64_t B);

#endif
