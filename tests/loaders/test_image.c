/* test_image.c — the loader's plumbing: the resampler's weights, crop and
 * pad, CHW normalisation, seeded augmentation, loading files under the size
 * limit, and damaged inputs (every PNG truncation, random garbage, random
 * byte flips) that must fail cleanly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loaders/image_internal.h"
#include "tests/loaders/fixtures.h"
#include "tests/testlib.h"

/* A w x h image whose red channel is r(x, y), green = 2x, blue = 3y (wrapped). */
static uint8_t *ramp(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    assert_non_null(p);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)((x * 37 + y * 11) & 255);
            q[1] = (uint8_t)(2 * x);
            q[2] = (uint8_t)(3 * y);
        }
    return p;
}

LOOM_TEST(resample_identity_and_area_weights)
{
    /* Same size: exact copy. */
    struct loom_rgb src = {.px = ramp(7, 5), .w = 7, .h = 5};
    uint8_t out[7 * 5 * 3];
    assert_int_equal(loom_rgb_resample(&src, 0, 0, 7, 5, out, 7, 5, 7 * 3), LOOM_OK);
    assert_memory_equal(out, src.px, sizeof out);
    /* 6x4 -> 3x2: each output is the mean of a 2x2 block. */
    uint8_t small[3 * 2 * 3];
    struct loom_rgb s2 = {.px = ramp(6, 4), .w = 6, .h = 4};
    assert_int_equal(loom_rgb_resample(&s2, 0, 0, 6, 4, small, 3, 2, 3 * 3), LOOM_OK);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            for (int c = 0; c < 3; c++) {
                double m = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        m += s2.px[((size_t)(2 * y + dy) * 6 + (size_t)(2 * x + dx)) * 3 + c];
                assert_near(small[(y * 3 + x) * 3 + c], m / 4, 0.5);
            }
    /* 3 -> 2 columns: fractional coverage, out0 = (p0 + p1/2) / 1.5. */
    uint8_t row3[9] = {90, 0, 0, 30, 0, 0, 60, 0, 0}, row2[6];
    struct loom_rgb s3 = {.px = row3, .w = 3, .h = 1};
    assert_int_equal(loom_rgb_resample(&s3, 0, 0, 3, 1, row2, 2, 1, 6), LOOM_OK);
    assert_int_equal(row2[0], 70); /* (90 + 15) / 1.5 */
    assert_int_equal(row2[3], 50); /* (15 + 60) / 1.5 */
    /* Area averaging keeps the mean of a large random picture. */
    int W = 1001, H = 677;
    uint8_t *big = malloc((size_t)W * H * 3);
    struct loom_rng r;
    loom_rng_init(&r, 7, 0);
    for (size_t i = 0; i < (size_t)W * H * 3; i++) big[i] = (uint8_t)loom_rng_below(&r, 256);
    struct loom_rgb sb = {.px = big, .w = W, .h = H};
    uint8_t *o = malloc(37 * 23 * 3);
    assert_int_equal(loom_rgb_resample(&sb, 0, 0, W, H, o, 37, 23, 37 * 3), LOOM_OK);
    for (int c = 0; c < 3; c++) {
        assert_near(fx_mean(o, 37, c, 0, 0, 37, 23), 127.5, 1.0);
        for (int i = 0; i < 37 * 23; i++) assert_true(abs(o[3 * i + c] - 128) < 20);
    }
    free(o);
    free(big);
    free(src.px);
    free(s2.px);
}

LOOM_TEST(resample_bilinear_upscale)
{
    /* 2 -> 4 columns of 0 and 200: centres at -0.25, 0.25, 0.75, 1.25. */
    uint8_t row[6] = {0, 0, 0, 200, 0, 0}, out[12];
    struct loom_rgb s = {.px = row, .w = 2, .h = 1};
    assert_int_equal(loom_rgb_resample(&s, 0, 0, 2, 1, out, 4, 1, 12), LOOM_OK);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[3], 50);
    assert_int_equal(out[6], 150);
    assert_int_equal(out[9], 200);
}

/* 5x5: the scalar tail alone; 37x37: the vector loop and a tail. */
LOOM_TEST(to_chw_normalises)
{
    static const int sizes[] = {5, 37};
    for (int k = 0; k < 2; k++) {
        int S = sizes[k], n = S * S;
        uint8_t *rgb = ramp(S, S);
        float *out = malloc((size_t)(3 * n) * sizeof *out);
        assert_non_null(out);
        const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        loom_image_to_chw(rgb, S, mean, std, out);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < n; i++)
                assert_near(out[c * n + i], (rgb[3 * i + c] / 255.0 - mean[c]) / std[c], 1e-5);
        free(out), free(rgb);
    }
}

LOOM_TEST(augment_is_seeded_and_bounded)
{
    int S = 33;
    uint8_t *in = ramp(S, S), *a = malloc((size_t)S * S * 3), *b = malloc((size_t)S * S * 3);
    struct loom_error err;
    struct loom_rng r1, r2;
    /* min_scale 1 without flip: the identity. */
    loom_rng_init(&r1, 1, 0);
    assert_int_equal(loom_image_random_crop(in, S, 1.0f, false, &r1, a, &err), LOOM_OK);
    assert_memory_equal(a, in, (size_t)S * S * 3);
    /* Same seed, same crops; different seed, some differ. */
    int differ = 0, flipped = 0;
    loom_rng_init(&r1, 42, 3);
    loom_rng_init(&r2, 42, 3);
    struct loom_rng r3;
    loom_rng_init(&r3, 43, 3);
    for (int t = 0; t < 20; t++) {
        assert_int_equal(loom_image_random_crop(in, S, 0.5f, true, &r1, a, &err), LOOM_OK);
        assert_int_equal(loom_image_random_crop(in, S, 0.5f, true, &r2, b, &err), LOOM_OK);
        assert_memory_equal(a, b, (size_t)S * S * 3);
        assert_int_equal(loom_image_random_crop(in, S, 0.5f, true, &r3, b, &err), LOOM_OK);
        differ += memcmp(a, b, (size_t)S * S * 3) != 0;
        /* Green is 2x of the source: it decreases left to right when mirrored. */
        flipped += a[1] > a[(S - 1) * 3 + 1];
    }
    assert_true(differ > 10);
    assert_true(flipped > 3 && flipped < 17);
    /* Flip twice = identity. */
    memcpy(a, in, (size_t)S * S * 3);
    loom_image_flip_h(a, S);
    assert_int_equal(a[0], in[(S - 1) * 3]);
    loom_image_flip_h(a, S);
    assert_memory_equal(a, in, (size_t)S * S * 3);
    free(in);
    free(a);
    free(b);
}

LOOM_TEST(load_checks_file_and_options)
{
    size_t n;
    uint8_t *jpg = fx_jpeg(64, 48, FX_JPEG_RGB, false, &n);
    char path[64];
    fx_write_temp(jpg, n, path);
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 16;
    uint8_t out[16 * 16 * 3];
    struct loom_image_info info = {0};
    struct loom_error err = {0};
    assert_int_equal(loom_image_load(path, &o, out, &info, &err), LOOM_OK);
    assert_int_equal(info.width, 64);
    o.max_file_bytes = n - 1; /* refused by fstat, unread */
    assert_int_equal(loom_image_load(path, &o, out, &info, &err), LOOM_ERR_LIMIT);
    assert_string_equal(err.file, path);
    o = loom_image_opts_default();
    o.size = 0;
    assert_int_equal(loom_image_load(path, &o, out, &info, &err), LOOM_ERR_INVALID);
    o.size = 16;
    o.fit = (enum loom_image_fit)7;
    assert_int_equal(loom_image_load(path, &o, out, &info, &err), LOOM_ERR_INVALID);
    unlink(path);
    o.fit = LOOM_FIT_CROP;
    assert_int_equal(loom_image_load(path, &o, out, &info, &err), LOOM_ERR_IO); /* missing */
    assert_int_equal(loom_image_load("/tmp", &o, out, &info, &err), LOOM_ERR_IO);
    /* Empty file, other formats, garbage. */
    static const struct {
        const char *bytes;
        size_t n;
        enum loom_status want;
    } files[] = {
        {"", 0, LOOM_ERR_FORMAT},
        {"GIF89a\x01\x00\x01\x00", 10, LOOM_ERR_UNSUPPORTED},
        {"RIFF\x10\0\0\0WEBPVP8 ", 16, LOOM_ERR_UNSUPPORTED},
        {"hello, world", 12, LOOM_ERR_FORMAT},
        {"\xff\xd8\xff\xe0garbage", 11, LOOM_ERR_FORMAT},
        {"\x89PNG\r\n\x1a\ngarbage", 15, LOOM_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        fx_write_temp(files[i].bytes, files[i].n, path);
        memset(&info, 0x5a, sizeof info);
        assert_int_equal(loom_image_load(path, &o, out, &info, &err), files[i].want);
        assert_int_equal(info.width, 0x5a5a5a5a); /* untouched on failure */
        unlink(path);
    }
    free(jpg);
}

/* Every strict prefix of PNGs (interlaced 16-bit colour, palette with tRNS,
 * grey+alpha) is an error. */
LOOM_TEST(png_every_truncation_is_an_error)
{
    static const char *const names[] = {"basi2c16.png", "tbbn3p08.png", "basn4a08.png"};
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 8;
    uint8_t out[8 * 8 * 3];
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/data/pngsuite/%s", loom_test_shared_dir(), names[f]);
        size_t n;
        uint8_t *png = fx_read(path, &n);
        assert_non_null(png);
        struct loom_error err = {0};
        assert_int_equal(loom_image_decode(png, n, &o, out, NULL, &err), LOOM_OK);
        for (size_t len = 0; len < n; len++) {
            uint8_t *cut = malloc(len ? len : 1);
            memcpy(cut, png, len);
            enum loom_status st = loom_image_decode(cut, len, &o, out, NULL, &err);
            if (st != LOOM_ERR_FORMAT)
                fail_msg("%s: prefix %zu/%zu gave %d (%s)", names[f], len, n, st, err.message);
            free(cut);
        }
        free(png);
    }
}

/* Random garbage behind each magic, and random byte flips of valid files:
 * any status, but never a crash or a sanitizer report; the output is
 * written only on success. */
LOOM_TEST(garbage_and_flips_never_crash)
{
    size_t njpg, nprog;
    uint8_t *jpg = fx_jpeg(48, 32, FX_JPEG_RGB, false, &njpg);
    uint8_t *prog = fx_jpeg(48, 32, FX_JPEG_RGB, true, &nprog);
    char path[512];
    snprintf(path, sizeof path, "%s/data/pngsuite/basn3p08.png", loom_test_shared_dir());
    size_t npng;
    uint8_t *png = fx_read(path, &npng);
    assert_non_null(png);
    const uint8_t *valid[] = {jpg, prog, png};
    size_t nvalid[] = {njpg, nprog, npng};
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 8;
    uint8_t out[8 * 8 * 3];
    struct loom_rng r;
    loom_rng_init(&r, 2024, 0);
    int ok = 0;
    for (int t = 0; t < 600; t++) {
        size_t n;
        uint8_t *buf;
        if (t < 300) { /* pure garbage, half of it behind a JPEG or PNG magic */
            n = loom_rng_below(&r, 400);
            buf = malloc(n + 1);
            for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)loom_rng_u32(&r);
            if (t % 3 == 1 && n >= 3) memcpy(buf, "\xff\xd8\xff", 3);
            if (t % 3 == 2 && n >= 45) fx_png_header(buf, 1 + loom_rng_below(&r, 50), 7);
            if (t % 3 == 2 && n >= 45) memset(buf + 33, 0, 4);
        } else { /* 1..4 random bytes of a valid file changed */
            int v = t % 3;
            n = nvalid[v];
            buf = malloc(n);
            memcpy(buf, valid[v], n);
            int flips = 1 + (int)loom_rng_below(&r, 4);
            for (int k = 0; k < flips; k++)
                buf[loom_rng_below(&r, (uint32_t)n)] ^= (uint8_t)(1 + loom_rng_below(&r, 255));
        }
        memset(out, 0xa5, sizeof out);
        struct loom_error err = {0};
        enum loom_status st = loom_image_decode(buf, n, &o, out, NULL, &err);
        if (st == LOOM_OK) {
            ok++;
        } else {
            assert_int_equal(err.code, st);
            assert_true(err.message[0] != 0);
            for (size_t i = 0; i < sizeof out; i++) assert_int_equal(out[i], 0xa5);
        }
        free(buf);
    }
    assert_true(ok < 300); /* most damage is noticed */
    free(jpg);
    free(prog);
    free(png);
}
