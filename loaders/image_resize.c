/*
 * image_resize.c — resampling an 8-bit RGB rectangle to another size.
 *
 * Separable: per output row, a weighted sum of source rows (vertical taps)
 * into one float row, then per output pixel a weighted sum along that row
 * (horizontal taps). The vertical pass goes first so the scratch is a single
 * row, whatever the source height. Taps per axis:
 *  - shrinking: output pixel i covers the source interval
 *    [x0 + i*s/d, x0 + (i+1)*s/d); each source pixel weighs the length of
 *    its overlap with it (area averaging, exact for fractional ratios);
 *  - growing: bilinear between the two source pixels around the output
 *    pixel's centre x0 + (i+0.5)*s/d - 0.5, edges replicated.
 * It is not a general filter bank: no Lanczos, no gamma-correct blending.
 */
#include <math.h>
#include <string.h>

#include "loaders/image_internal.h"

struct taps {
    int *first; /* (d) first source index */
    int *count; /* (d) number of taps */
    float *w;   /* (d, maxn) weights summing to 1 */
    int maxn;
    int lo, hi; /* source indices used: [lo, hi) */
};

static void taps_free(struct taps *t)
{
    free(t->first);
    free(t->count);
    free(t->w);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The taps of d outputs over source [x0, x0+s) of an axis of n pixels. */
static enum loom_status taps_make(struct taps *t, double x0, double s, int d, int n)
{
    double scale = s / d;
    bool shrink = scale > 1.0;
    t->maxn = shrink ? (int)ceil(scale) + 2 : 2;
    t->first = malloc((size_t)d * sizeof *t->first);
    t->count = malloc((size_t)d * sizeof *t->count);
    t->w = malloc((size_t)d * (size_t)t->maxn * sizeof *t->w);
    if (!t->first || !t->count || !t->w) return LOOM_ERR_NOMEM;
    t->lo = n;
    t->hi = 0;
    for (int i = 0; i < d; i++) {
        float *w = t->w + (size_t)i * (size_t)t->maxn;
        int first, cnt = 0;
        if (shrink) {
            double a = x0 + i * scale, b = a + scale;
            int k0 = clampi((int)floor(a), 0, n - 1), k1 = clampi((int)ceil(b), k0 + 1, n);
            double sum = 0;
            first = k0;
            for (int k = k0; k < k1 && cnt < t->maxn; k++) {
                double ov = fmin(b, k + 1.0) - fmax(a, (double)k);
                w[cnt++] = (float)(ov > 0 ? ov : 0);
                sum += ov > 0 ? ov : 0;
            }
            if (sum <= 0) { /* rounding at the border: take the nearest pixel */
                w[0] = 1;
                cnt = 1;
            } else {
                for (int k = 0; k < cnt; k++) w[k] = (float)(w[k] / sum);
            }
        } else {
            double c = x0 + (i + 0.5) * scale - 0.5;
            int k0 = (int)floor(c);
            float f = (float)(c - k0);
            int a = clampi(k0, 0, n - 1), b = clampi(k0 + 1, 0, n - 1);
            first = a;
            w[0] = 1 - f;
            w[1] = b > a ? f : 0;
            if (b == a) w[0] = 1;
            cnt = b > a ? 2 : 1;
        }
        t->first[i] = first;
        t->count[i] = cnt;
        t->lo = LOOM_MIN(t->lo, first);
        t->hi = LOOM_MAX(t->hi, first + cnt);
    }
    return LOOM_OK;
}

static uint8_t to_u8(float v)
{
    v += 0.5f;
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
}

enum loom_status loom_rgb_resample(const struct loom_rgb *src, double x0, double y0, double sw,
                                   double sh, uint8_t *dst, int dw, int dh, size_t dst_stride)
{
    LOOM_ASSERT(src->w > 0 && src->h > 0 && dw > 0 && dh > 0 && sw > 0 && sh > 0);
    LOOM_ASSERT(x0 >= 0 && y0 >= 0 && x0 + sw <= src->w + 1e-6 && y0 + sh <= src->h + 1e-6);
    struct taps tx = {0}, ty = {0};
    float *row = NULL;
    enum loom_status st = taps_make(&tx, x0, sw, dw, src->w);
    if (st == LOOM_OK) st = taps_make(&ty, y0, sh, dh, src->h);
    if (st != LOOM_OK) goto fail;
    int span = tx.hi - tx.lo; /* source columns read */
    row = malloc((size_t)span * 3 * sizeof *row);
    if (!row) {
        st = LOOM_ERR_NOMEM;
        goto fail;
    }
    size_t src_stride = (size_t)src->w * 3;
    for (int i = 0; i < dh; i++) {
        /* Vertical: row = sum_k wy[k] * src[first+k][lo..hi). */
        const float *wy = ty.w + (size_t)i * (size_t)ty.maxn;
        memset(row, 0, (size_t)span * 3 * sizeof *row);
        for (int k = 0; k < ty.count[i]; k++) {
            const uint8_t *s = src->px + (size_t)(ty.first[i] + k) * src_stride + (size_t)tx.lo * 3;
            float wk = wy[k];
            for (int x = 0; x < span * 3; x++) row[x] += wk * s[x];
        }
        /* Horizontal. */
        uint8_t *d = dst + (size_t)i * dst_stride;
        for (int j = 0; j < dw; j++) {
            const float *wx = tx.w + (size_t)j * (size_t)tx.maxn;
            const float *r = row + (size_t)(tx.first[j] - tx.lo) * 3;
            float a0 = 0, a1 = 0, a2 = 0;
            for (int k = 0; k < tx.count[j]; k++) {
                a0 += wx[k] * r[3 * k];
                a1 += wx[k] * r[3 * k + 1];
                a2 += wx[k] * r[3 * k + 2];
            }
            d[3 * j] = to_u8(a0);
            d[3 * j + 1] = to_u8(a1);
            d[3 * j + 2] = to_u8(a2);
        }
    }
fail:
    free(row);
    taps_free(&tx);
    taps_free(&ty);
    return st;
}
