/*
 * photo.c — renders listing photos in plain C (see photo.h for what they
 * show). Every pixel is computed once per layer: background, object (its
 * part ids kept in a mask), then wear and damage drawn only where the mask
 * says object, then the camera (exposure and sensor noise). Per-pixel noise
 * comes from an integer hash of the position, so rendering is cheap and a
 * pure function of the rng's draws.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "listing.h"
#include "photo.h"

/* Mask values: what the pixel shows. */
enum { PART_NONE, PART_BODY, PART_ACCENT, PART_GLASS };

struct canvas {
    uint8_t *rgb, *mask;
    int w, h;
    uint32_t seed;
    float grain; /* 0 for clean (PNG) photos */
};

struct pose {
    float cx, cy, scale; /* centre in pixels, half-size of the object */
    float cs, sn;        /* rotation */
    float mirror;        /* +1 or -1 */
};

static inline uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* Uniform in [-1, 1) for pixel (x, y) of layer salt. */
static inline float noise(const struct canvas *cv, int x, int y, uint32_t salt)
{
    uint32_t h = hash32(cv->seed ^ (uint32_t)(y * cv->w + x) * 0x9E3779B1u ^ salt);
    return (float)(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

static inline float hyp(float a, float b)
{
    return sqrtf(a * a + b * b);
}

static inline uint8_t clamp8(float v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f);
}

static float unif(struct loom_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * loom_rng_uniform(r);
}

static void hsv(float h, float s, float v, float out[3])
{
    h = (h - floorf(h)) * 6;
    int i = (int)h;
    float f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    float rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    for (int c = 0; c < 3; c++) out[c] = 255 * rgb[i % 6][c];
}

static void random_colour(struct loom_rng *r, float smax, float vlo, float vhi, float out[3])
{
    hsv(loom_rng_uniform(r), unif(r, 0, smax), unif(r, vlo, vhi), out);
}

static inline void put(struct canvas *cv, int x, int y, const float c[3])
{
    uint8_t *p = cv->rgb + ((size_t)y * cv->w + x) * 3;
    p[0] = clamp8(c[0]), p[1] = clamp8(c[1]), p[2] = clamp8(c[2]);
}

static inline void blend(struct canvas *cv, int x, int y, const float c[3], float a)
{
    uint8_t *p = cv->rgb + ((size_t)y * cv->w + x) * 3;
    for (int k = 0; k < 3; k++) p[k] = clamp8(p[k] + a * (c[k] - p[k]));
}

/* ---- backgrounds: gradient, wood, tiles, cloth ---- */

static void background(struct canvas *cv, struct loom_rng *r, float grain)
{
    float c0[3], c1[3];
    random_colour(r, 0.35f, 0.45f, 0.95f, c0);
    random_colour(r, 0.35f, 0.45f, 0.95f, c1);
    int type = (int)loom_rng_below(r, 4), period = 12 + (int)loom_rng_below(r, 20);
    float ang = unif(r, 0, 6.2831853f), dx = cosf(ang), dy = sinf(ang);
    float fy = unif(r, 0.15f, 0.4f), ph = unif(r, 0, 6.28f);
    float diag = sqrtf((float)(cv->w * cv->w + cv->h * cv->h));
    if (type == 1) { /* wood: browns */
        hsv(unif(r, 0.05f, 0.1f), unif(r, 0.4f, 0.7f), unif(r, 0.35f, 0.5f), c0);
        hsv(unif(r, 0.06f, 0.11f), unif(r, 0.3f, 0.6f), unif(r, 0.6f, 0.8f), c1);
    }
    for (int y = 0; y < cv->h; y++) {
        for (int x = 0; x < cv->w; x++) {
            float t, c[3];
            switch (type) {
            case 0:
                t = ((x - cv->w * 0.5f) * dx + (y - cv->h * 0.5f) * dy) / diag + 0.5f;
                break;
            case 1:
                t = 0.5f + 0.5f * sinf(y * fy + 2.5f * sinf(x * 0.03f + ph));
                break;
            case 2:
                t = (float)(((x / period) + (y / period)) & 1) * 0.3f;
                if (x % period < 2 || y % period < 2) t = 1;
                break;
            default:
                t = 0.5f + 0.35f * cv->grain * noise(cv, x, y, 7);
                break;
            }
            float n = grain * noise(cv, x, y, 1);
            for (int k = 0; k < 3; k++) c[k] = c0[k] + t * (c1[k] - c0[k]) + n;
            put(cv, x, y, c);
        }
    }
}

/* ---- objects ---- */

static float seg_dist2(float px, float py, float ax, float ay, float bx, float by)
{
    float vx = bx - ax, vy = by - ay, wx = px - ax, wy = py - ay;
    float t = (vx * wx + vy * wy) / (vx * vx + vy * vy);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float ex = wx - t * vx, ey = wy - t * vy;
    return ex * ex + ey * ey;
}

/* The part of the object at (u, v) in object units (v down, about [-1, 1]). */
static int shape_part(enum market_shape s, float u, float v)
{
    float au = fabsf(u), r;
    switch (s) {
    case SHAPE_PHONE: {
        if (au > 0.5f || fabsf(v) > 0.95f) return PART_NONE;
        float cu = au - 0.35f, cv = fabsf(v) - 0.8f;
        if (cu > 0 && cv > 0 && cu * cu + cv * cv > 0.0225f) return PART_NONE;
        return au < 0.42f && fabsf(v) < 0.78f ? PART_ACCENT : PART_BODY;
    }
    case SHAPE_LAPTOP:
        if (v >= -0.85f && v <= 0.05f && au <= 0.8f)
            return au < 0.7f && v > -0.77f && v < -0.03f ? PART_ACCENT : PART_BODY;
        return v > 0.05f && v <= 0.3f && au <= 0.8f + (v - 0.05f) * 0.6f ? PART_BODY : PART_NONE;
    case SHAPE_CAMERA:
        r = hyp(u, v - 0.08f);
        if (r < 0.22f) return PART_GLASS;
        if (r < 0.42f) return PART_ACCENT;
        if (au <= 0.9f && v >= -0.45f && v <= 0.6f) return PART_BODY;
        return u >= -0.6f && u <= -0.15f && v >= -0.65f && v < -0.45f ? PART_BODY : PART_NONE;
    case SHAPE_HEADPHONES:
        if (hyp(au - 0.68f, v - 0.3f) < 0.3f) return PART_ACCENT;
        r = hyp(u, v - 0.3f);
        return v < 0.35f && r > 0.58f && r < 0.8f ? PART_BODY : PART_NONE;
    case SHAPE_WATCH:
        r = hyp(u, v);
        if (r < 0.42f) return PART_ACCENT;
        if (r < 0.58f) return PART_BODY;
        return au < 0.3f && fabsf(v) < 1.0f ? PART_BODY : PART_NONE;
    case SHAPE_SNEAKER: {
        if (v >= 0.3f && v <= 0.48f && au <= 0.95f) return PART_ACCENT;
        if (v < -0.5f || v >= 0.3f) return PART_NONE;
        float t = (v + 0.5f) / 0.8f;
        return u >= -0.95f + 0.25f * (1 - t) && u <= -0.3f + 1.25f * t ? PART_BODY : PART_NONE;
    }
    case SHAPE_HANDBAG:
        if (v >= -0.2f && v <= 0.8f && au <= 0.55f + 0.3f * (v + 0.2f)) return PART_BODY;
        r = hyp(u, v + 0.2f);
        return v < -0.2f && r > 0.3f && r < 0.44f ? PART_ACCENT : PART_NONE;
    case SHAPE_BICYCLE: {
        r = hyp(au - 0.55f, v - 0.3f);
        if (r > 0.3f && r < 0.4f) return PART_ACCENT;
        static const float seg[8][4] = {
            {-0.55f, 0.3f, 0.0f, 0.3f},     {0.0f, 0.3f, 0.35f, -0.3f},
            {-0.3f, -0.3f, 0.35f, -0.3f},   {-0.55f, 0.3f, -0.3f, -0.3f},
            {0.35f, -0.3f, 0.55f, 0.3f},    {-0.3f, -0.3f, 0.0f, 0.3f},
            {-0.4f, -0.45f, -0.2f, -0.45f}, {0.3f, -0.45f, 0.48f, -0.45f},
        };
        for (int i = 0; i < 8; i++)
            if (seg_dist2(u, v, seg[i][0], seg[i][1], seg[i][2], seg[i][3]) < 0.0036f)
                return PART_BODY;
        return PART_NONE;
    }
    case SHAPE_CHAIR:
        if (au <= 0.55f && v >= -0.9f && v <= -0.05f) return PART_BODY;
        if (au <= 0.65f && v > -0.05f && v <= 0.15f) return PART_BODY;
        return v > 0.15f && v <= 0.95f && fabsf(au - 0.55f) < 0.07f ? PART_ACCENT : PART_NONE;
    case SHAPE_GUITAR:
        if (hyp(u, v - 0.35f) < 0.12f) return PART_GLASS;
        if (hyp(u, v - 0.45f) < 0.45f || hyp(u, v + 0.05f) < 0.32f) return PART_BODY;
        if (au < 0.07f && v >= -0.95f && v < -0.3f) return PART_ACCENT;
        return au < 0.12f && v >= -1.1f && v < -0.95f ? PART_ACCENT : PART_NONE;
    }
    return PART_NONE;
}

/* Pixel (x, y) -> object units. */
static inline void to_object(const struct pose *o, float x, float y, float *u, float *v)
{
    float dx = x - o->cx, dy = y - o->cy;
    *u = o->mirror * (dx * o->cs + dy * o->sn) / o->scale;
    *v = (-dx * o->sn + dy * o->cs) / o->scale;
}

static inline void to_pixel(const struct pose *o, float u, float v, float *x, float *y)
{
    u *= o->mirror * o->scale, v *= o->scale;
    *x = o->cx + u * o->cs - v * o->sn;
    *y = o->cy + u * o->sn + v * o->cs;
}

static void draw_object(struct canvas *cv, const struct market_photo *p, const struct pose *o,
                        struct loom_rng *r)
{
    const struct market_category *c = &market_categories[p->cat];
    float wear = (float)p->cond;
    float colour[4][3] = {{0}};
    hsv((float)market_brands[p->brand].hue + unif(r, -0.02f, 0.02f), 0.78f * (1 - 0.16f * wear),
        0.88f * (1 - 0.05f * wear), colour[PART_BODY]);
    for (int k = 0; k < 3; k++) colour[PART_ACCENT][k] = c->accent[k] * (1 - 0.04f * wear);
    const float glass[3] = {32, 38, 62};
    memcpy(colour[PART_GLASS], glass, sizeof glass);
    float gloss = unif(r, -0.4f, 0.4f), freq = 2 * 3.14159265f * unif(r, 4.5f, 5.5f);
    float reach = 1.25f * 1.42f * o->scale;
    int x0 = (int)fmaxf(0, o->cx - reach), x1 = (int)fminf((float)cv->w, o->cx + reach + 1);
    int y0 = (int)fmaxf(0, o->cy - reach), y1 = (int)fminf((float)cv->h, o->cy + reach + 1);
    for (int y = y0; y < y1; y++) {
        for (int x = x0; x < x1; x++) {
            float u, v;
            to_object(o, x + 0.5f, y + 0.5f, &u, &v);
            int part = shape_part(c->shape, u, v);
            if (!part) continue;
            float shade = 1 + 0.16f * (-0.6f * u - 0.8f * v), px[3];
            float add = cv->grain * 3 * noise(cv, x, y, 3);
            if (part == PART_BODY && p->premium) {
                /* Brushed metal: fine diagonal stripes and a gloss band. */
                shade *= 1 + 0.24f * sinf(freq * 0.7071f * (u + v));
                float g = 0.8f * u - 0.6f * v - gloss;
                add += 110 * expf(-g * g * 60);
            } else if (part == PART_GLASS) {
                float g = u + v + 0.1f;
                add += 80 * expf(-g * g * 400);
            }
            for (int k = 0; k < 3; k++) px[k] = colour[part][k] * shade + add;
            put(cv, x, y, px);
            cv->mask[(size_t)y * cv->w + x] = (uint8_t)part;
        }
    }
}

/* A random pixel of the object, false when none was found. */
static bool object_pixel(const struct canvas *cv, const struct pose *o, struct loom_rng *r,
                         float *x, float *y)
{
    for (int tries = 0; tries < 40; tries++) {
        float px = o->cx + unif(r, -1.1f, 1.1f) * o->scale;
        float py = o->cy + unif(r, -1.1f, 1.1f) * o->scale;
        if (px < 0 || py < 0 || px >= cv->w || py >= cv->h) continue;
        if (cv->mask[(size_t)py * cv->w + (size_t)px]) {
            *x = px, *y = py;
            return true;
        }
    }
    return false;
}

/* A segment of half-width hw in colour c (or, when c is NULL, light on
 * dark surfaces and dark on light ones), blended at a, on the object only. */
static void stroke(struct canvas *cv, float ax, float ay, float bx, float by, float hw,
                   const float *c, float a)
{
    int x0 = (int)fmaxf(0, fminf(ax, bx) - hw - 1), x1 = (int)fminf(cv->w, fmaxf(ax, bx) + hw + 2);
    int y0 = (int)fmaxf(0, fminf(ay, by) - hw - 1), y1 = (int)fminf(cv->h, fmaxf(ay, by) + hw + 2);
    static const float dark[3] = {18, 16, 16}, light[3] = {225, 225, 230};
    for (int y = y0; y < y1; y++) {
        for (int x = x0; x < x1; x++) {
            if (!cv->mask[(size_t)y * cv->w + x]) continue;
            if (seg_dist2(x + 0.5f, y + 0.5f, ax, ay, bx, by) > hw * hw) continue;
            const float *col = c;
            if (!col) {
                const uint8_t *px = cv->rgb + ((size_t)y * cv->w + x) * 3;
                col = px[0] + px[1] + px[2] < 3 * 90 ? light : dark;
            }
            blend(cv, x, y, col, a);
        }
    }
}

static void blob(struct canvas *cv, float cx, float cy, float radius, const float c[3], float a,
                 struct loom_rng *r, bool object_only)
{
    float a3 = unif(r, 0, 6.28f), a5 = unif(r, 0, 6.28f);
    int x0 = (int)fmaxf(0, cx - 1.5f * radius), x1 = (int)fminf(cv->w, cx + 1.5f * radius + 1);
    int y0 = (int)fmaxf(0, cy - 1.5f * radius), y1 = (int)fminf(cv->h, cy + 1.5f * radius + 1);
    for (int y = y0; y < y1; y++) {
        for (int x = x0; x < x1; x++) {
            if (object_only && !cv->mask[(size_t)y * cv->w + x]) continue;
            float dx = x + 0.5f - cx, dy = y + 0.5f - cy, phi = atan2f(dy, dx);
            float edge = radius * (1 + 0.22f * sinf(3 * phi + a3) + 0.12f * sinf(5 * phi + a5));
            if (dx * dx + dy * dy < edge * edge) blend(cv, x, y, c, a);
        }
    }
}

/* Wear: scratches grow as cond^2, dark spots from "fair" on. */
static void draw_wear(struct canvas *cv, const struct market_photo *p, const struct pose *o,
                      struct loom_rng *r)
{
    static const int scratches[MARKET_CONDITIONS] = {0, 1, 3, 7, 12};
    static const float light[3] = {235, 235, 235}, spot[3] = {60, 45, 30};
    float x, y;
    for (int i = 0; i < scratches[p->cond]; i++) {
        if (!object_pixel(cv, o, r, &x, &y)) return;
        float ang = unif(r, 0, 6.28f), len = unif(r, 0.2f, 0.6f) * o->scale;
        stroke(cv, x, y, x + len * cosf(ang), y + len * sinf(ang), 0.6f, light, 0.6f);
    }
    for (int i = 0; p->cond >= 3 && i < 3 * p->cond; i++) {
        if (!object_pixel(cv, o, r, &x, &y)) return;
        blob(cv, x, y, unif(r, 1.0f, 2.2f), spot, 0.7f, r, true);
    }
}

/* The defect: a jagged crack across the body, or a large stain. */
static void draw_damage(struct canvas *cv, const struct market_photo *p, const struct pose *o,
                        struct loom_rng *r)
{
    if (market_categories[p->cat].look == LOOK_STAIN) {
        static const float stain[3] = {95, 58, 22};
        float x, y;
        if (object_pixel(cv, o, r, &x, &y))
            blob(cv, x, y, unif(r, 0.3f, 0.45f) * o->scale, stain, 0.8f, r, true);
        return;
    }
    float hw = fmaxf(1.2f, 0.05f * o->scale);
    float u = -0.95f, v = unif(r, -0.5f, 0.5f), px, py, qx, qy;
    to_pixel(o, u, v, &px, &py);
    for (int i = 0; i < 7; i++) {
        u += unif(r, 0.2f, 0.35f);
        v += unif(r, -0.25f, 0.25f);
        to_pixel(o, u, v, &qx, &qy);
        stroke(cv, px, py, qx, qy, hw, NULL, 0.9f);
        if (loom_rng_uniform(r) < 0.3f) { /* a side branch */
            float bx, by;
            to_pixel(o, u + unif(r, -0.2f, 0.2f), v + unif(r, -0.35f, 0.35f), &bx, &by);
            stroke(cv, qx, qy, bx, by, hw * 0.7f, NULL, 0.9f);
        }
        px = qx, py = qy;
    }
}

/* ---- distractors ---- */

static void draw_label(struct canvas *cv, struct loom_rng *r)
{
    int cw = (int)(cv->w * unif(r, 0.5f, 0.85f)), ch = (int)(cv->h * unif(r, 0.5f, 0.85f));
    int x0 = (cv->w - cw) / 2 + (int)(unif(r, -0.05f, 0.05f) * cv->w), y0 = (cv->h - ch) / 2;
    float paper[3], ink[3];
    hsv(unif(r, 0.1f, 0.2f), unif(r, 0, 0.08f), unif(r, 0.9f, 1.0f), paper);
    hsv(loom_rng_uniform(r), unif(r, 0, 0.3f), unif(r, 0.05f, 0.3f), ink);
    for (int y = y0; y < y0 + ch; y++)
        for (int x = x0; x < x0 + cw; x++) put(cv, x, y, paper);
    int line = 7 + (int)loom_rng_below(r, 5), bottom = y0 + ch - 4;
    bool barcode = loom_rng_uniform(r) < 0.5f;
    if (barcode) bottom = y0 + ch * 2 / 3;
    for (int y = y0 + 4; y + 3 < bottom; y += line) {
        for (int x = x0 + 4; x < x0 + cw - 6;) {
            int len = 4 + (int)loom_rng_below(r, 20);
            for (int yy = y; yy < y + 3; yy++)
                for (int xx = x; xx < x + len && xx < x0 + cw - 4; xx++) put(cv, xx, yy, ink);
            x += len + 3 + (int)loom_rng_below(r, 4);
        }
    }
    if (!barcode) return;
    for (int x = x0 + 6; x < x0 + cw - 6;) {
        int bar = 1 + (int)loom_rng_below(r, 3);
        if (loom_rng_uniform(r) < 0.55f)
            for (int y = bottom + 2; y < y0 + ch - 4; y++)
                for (int xx = x; xx < x + bar && xx < x0 + cw - 6; xx++) put(cv, xx, y, ink);
        x += bar;
    }
}

static void draw_blur(struct canvas *cv, struct loom_rng *r)
{
    int n = 3 + (int)loom_rng_below(r, 4);
    float *gx = malloc(sizeof(float) * (size_t)(cv->w + cv->h)), *gy = gx + cv->w;
    if (!gx) return; /* an empty blurred photo is still a distractor */
    for (int i = 0; i < n; i++) {
        float c[3], cx = unif(r, 0, (float)cv->w), cy = unif(r, 0, (float)cv->h);
        float s = unif(r, 0.15f, 0.4f) * (float)(cv->w + cv->h);
        random_colour(r, 0.6f, 0.3f, 1.0f, c);
        /* A Gaussian blob is separable: exp(-dx^2/s^2) exp(-dy^2/s^2). */
        for (int x = 0; x < cv->w; x++) gx[x] = expf(-(x - cx) * (x - cx) / (s * s));
        for (int y = 0; y < cv->h; y++) gy[y] = 0.8f * expf(-(y - cy) * (y - cy) / (s * s));
        for (int y = 0; y < cv->h; y++)
            for (int x = 0; x < cv->w; x++) blend(cv, x, y, c, gx[x] * gy[y]);
    }
    free(gx);
}

static void draw_room(struct canvas *cv, struct loom_rng *r)
{
    int n = 2 + (int)loom_rng_below(r, 4);
    for (int i = 0; i < n; i++) {
        float c[3];
        random_colour(r, 0.1f, 0.25f, 0.8f, c);
        float cx = unif(r, 0, (float)cv->w), cy = unif(r, 0, (float)cv->h);
        float hw = unif(r, 0.1f, 0.35f) * cv->w, hh = unif(r, 0.1f, 0.35f) * cv->h;
        bool round = loom_rng_uniform(r) < 0.4f;
        for (int y = (int)fmaxf(0, cy - hh); y < (int)fminf(cv->h, cy + hh); y++) {
            for (int x = (int)fmaxf(0, cx - hw); x < (int)fminf(cv->w, cx + hw); x++) {
                float dx = (x - cx) / hw, dy = (y - cy) / hh;
                if (!round || dx * dx + dy * dy < 1) put(cv, x, y, c);
            }
        }
    }
}

/* ---- the whole photo ---- */

void market_photo_plan(struct market_photo *p, int max_side, struct loom_rng *r)
{
    int hmax = max_side * 4 / 5 < 64 ? 64 : max_side * 4 / 5;
    /* Sizes skewed towards the small end (u^2): most photos are thumbnails. */
    float u = loom_rng_uniform(r), v = loom_rng_uniform(r);
    p->width = 64 + (int)(u * u * (float)(max_side - 63));
    p->height = 64 + (int)(v * v * (float)(hmax - 63));
    if (p->width > 2.2 * p->height) p->width = (int)(2.2 * p->height);
    if (p->height > 2.2 * p->width) p->height = (int)(2.2 * p->width);
    p->png = loom_rng_uniform(r) < 0.15f;
    p->alpha = p->png && p->kind <= PHOTO_CLOSE && loom_rng_uniform(r) < 0.4f;
    p->progressive = !p->png && loom_rng_uniform(r) < 0.1f;
    p->quality = 72 + (int)loom_rng_below(r, 21);
}

void market_photo_render(const struct market_photo *p, uint8_t *rgb, uint8_t *alpha,
                         struct loom_rng *r)
{
    struct canvas cv = {rgb, alpha, p->width, p->height, loom_rng_u32(r), p->png ? 0.0f : 1.0f};
    memset(alpha, 0, (size_t)p->width * p->height);
    /* PNGs are clean exports: no grain (noise would also make them huge). */
    float grain = unif(r, 3, 10);
    background(&cv, r, p->kind == PHOTO_BLUR || p->png ? 0 : grain);
    if (p->kind == PHOTO_LABEL) {
        draw_label(&cv, r);
    } else if (p->kind == PHOTO_BLUR) {
        draw_blur(&cv, r);
    } else if (p->kind == PHOTO_ROOM) {
        draw_room(&cv, r);
    } else {
        float side = (float)(p->width < p->height ? p->width : p->height);
        bool close = p->kind == PHOTO_CLOSE;
        float ang = unif(r, -0.3f, 0.3f);
        struct pose o = {
            .cx = p->width * (0.5f + unif(r, -0.08f, 0.08f) * (close ? 2 : 1)),
            .cy = p->height * (0.5f + unif(r, -0.08f, 0.08f) * (close ? 2 : 1)),
            .scale = side * (close ? unif(r, 0.6f, 0.95f) : unif(r, 0.36f, 0.46f)),
            .cs = cosf(ang),
            .sn = sinf(ang),
            .mirror = loom_rng_uniform(r) < 0.5f ? -1.0f : 1.0f,
        };
        draw_object(&cv, p, &o, r);
        draw_wear(&cv, p, &o, r);
        if (p->damage) draw_damage(&cv, p, &o, r);
    }
    /* The camera: exposure and sensor noise. */
    float gain = unif(r, 0.85f, 1.15f), sensor = p->png ? 0 : unif(r, 1, 4);
    for (int y = 0; y < p->height; y++) {
        uint8_t *px = rgb + (size_t)y * p->width * 3, *a = alpha + (size_t)y * p->width;
        for (int x = 0; x < p->width; x++, px += 3) {
            float e = sensor * noise(&cv, x, y, 11);
            px[0] = clamp8(px[0] * gain + e);
            px[1] = clamp8(px[1] * gain + e);
            px[2] = clamp8(px[2] * gain + e);
            a[x] = a[x] ? 255 : 0;
        }
    }
}
