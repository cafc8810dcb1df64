/* test_image_jpeg.c — JPEG through the whole loader, on files written here
 * with libjpeg's compressor: colour, grey, progressive and CMYK decode to
 * the pattern; the DCT scale is the smallest that covers the target; the
 * scan cap, SOF bombs and truncations are errors. */
#include <stdlib.h>
#include <string.h>

#include "loaders/image.h"
#include "tests/loaders/fixtures.h"
#include "tests/testlib.h"

/* Each quadrant of the 64x64 result, away from the seams, has the colour
 * of the pattern's quadrant within tol. */
static void check_quadrants(const uint8_t *rgb, int size, bool grey, double tol)
{
    int h = size / 2, m = size / 8;
    for (int q = 0; q < 4; q++) {
        int x0 = (q & 1) * h + m, y0 = (q >> 1) * h + m;
        for (int c = 0; c < 3; c++) {
            double want = grey ? fx_quad_grey[q] : fx_quad[q][c];
            assert_near(fx_mean(rgb, size, c, x0, y0, x0 + h - 2 * m, y0 + h - 2 * m), want, tol);
        }
    }
}

static const struct {
    const char *name;
    enum fx_jpeg_kind kind;
    bool progressive;
} kinds[] = {
    {"rgb", FX_JPEG_RGB, false},   {"rgb progressive", FX_JPEG_RGB, true},
    {"grey", FX_JPEG_GREY, false}, {"grey progressive", FX_JPEG_GREY, true},
    {"cmyk", FX_JPEG_CMYK, false}, {"cmyk progressive", FX_JPEG_CMYK, true},
};

LOOM_TEST(jpeg_kinds_decode_to_the_pattern)
{
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t n;
        uint8_t *jpg = fx_jpeg(640, 480, kinds[k].kind, kinds[k].progressive, &n);
        struct loom_image_opts o = loom_image_opts_default();
        o.size = 64;
        uint8_t out[64 * 64 * 3];
        struct loom_image_info info = {0};
        struct loom_error err = {0};
        enum loom_status st = loom_image_decode(jpg, n, &o, out, &info, &err);
        if (st != LOOM_OK) fail_msg("%s: %s", kinds[k].name, err.message);
        assert_int_equal(info.format, LOOM_IMAGE_JPEG);
        assert_int_equal(info.width, 640);
        assert_int_equal(info.height, 480);
        /* 480 * 1/8 = 60 < 64 <= 480 * 2/8 = 120 */
        assert_int_equal(info.decoded_width, 160);
        assert_int_equal(info.decoded_height, 120);
        check_quadrants(out, 64, kinds[k].kind == FX_JPEG_GREY, 6);
        free(jpg);
    }
}

/* Crop keeps the centre square of 640x480: the quadrants stay quadrants.
 * Pad keeps everything: a 64x48 picture between two 8-row bands. */
LOOM_TEST(jpeg_fit_pad_and_scales)
{
    size_t n;
    uint8_t *jpg = fx_jpeg(640, 480, FX_JPEG_RGB, false, &n);
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 64;
    o.fit = LOOM_FIT_PAD;
    o.pad[0] = 1, o.pad[1] = 2, o.pad[2] = 3;
    uint8_t out[64 * 64 * 3];
    struct loom_image_info info;
    struct loom_error err;
    assert_int_equal(loom_image_decode(jpg, n, &o, out, &info, &err), LOOM_OK);
    assert_int_equal(info.decoded_width, 80); /* long side: 640/8 = 80 >= 64 */
    assert_int_equal(info.decoded_height, 60);
    for (int y = 0; y < 64; y++) {
        bool band = y < 8 || y >= 56;
        for (int x = 0; x < 64; x += 9) {
            const uint8_t *p = out + ((size_t)y * 64 + (size_t)x) * 3;
            if (band) {
                assert_int_equal(p[0], 1);
                assert_int_equal(p[1], 2);
                assert_int_equal(p[2], 3);
            }
        }
    }
    for (int q = 0; q < 4; q++)
        for (int c = 0; c < 3; c++) {
            int x0 = (q & 1) * 32 + 4, y0 = 8 + (q >> 1) * 24 + 4;
            assert_near(fx_mean(out, 64, c, x0, y0, x0 + 24, y0 + 16), fx_quad[q][c], 6);
        }
    /* Larger targets pick larger scales: 480 * 5/8 = 300 >= 256 > 480 * 4/8. */
    o.fit = LOOM_FIT_CROP;
    o.size = 256;
    uint8_t *big = malloc(256 * 256 * 3);
    assert_int_equal(loom_image_decode(jpg, n, &o, big, &info, &err), LOOM_OK);
    assert_int_equal(info.decoded_width, 400);
    assert_int_equal(info.decoded_height, 300);
    check_quadrants(big, 256, false, 6);
    /* Larger than the picture: full scale, then bilinear up. */
    free(big);
    o.size = 600;
    big = malloc(600 * 600 * 3);
    assert_int_equal(loom_image_decode(jpg, n, &o, big, &info, &err), LOOM_OK);
    assert_int_equal(info.decoded_width, 640);
    check_quadrants(big, 600, false, 6);
    free(big);
    free(jpg);
}

LOOM_TEST(jpeg_progressive_scans_capped)
{
    size_t n;
    uint8_t *jpg = fx_jpeg(64, 48, FX_JPEG_RGB, true, &n); /* simple progression: 10 scans */
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 16;
    uint8_t out[16 * 16 * 3];
    struct loom_error err = {0};
    assert_int_equal(loom_image_decode(jpg, n, &o, out, NULL, &err), LOOM_OK);
    o.max_scans = 10;
    assert_int_equal(loom_image_decode(jpg, n, &o, out, NULL, &err), LOOM_OK);
    o.max_scans = 3;
    assert_int_equal(loom_image_decode(jpg, n, &o, out, NULL, &err), LOOM_ERR_LIMIT);
    assert_non_null(strstr(err.message, "scans"));
    free(jpg);
}

/* Patch the SOF of a small valid JPEG to claim huge sizes: the header reads
 * fine, the limits refuse it before jpeg_start_decompress allocates. */
LOOM_TEST(jpeg_sof_bombs_rejected)
{
    size_t n;
    uint8_t *jpg = fx_jpeg(16, 16, FX_JPEG_GREY, false, &n);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < n && !sof; i++)
        if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) sof = i;
    assert_true(sof > 0);
    static const struct {
        unsigned w, h;
        enum loom_status want;
    } cases[] = {
        {60000, 60000, LOOM_ERR_LIMIT},
        {16000, 16000, LOOM_ERR_LIMIT},
        {65500, 1, LOOM_ERR_LIMIT},
        {16, 16, LOOM_OK},
    };
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 8;
    uint8_t out[8 * 8 * 3];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* SOF: FF C0, length (2), precision (1), height (2), width (2) */
        jpg[sof + 5] = (uint8_t)(cases[i].h >> 8);
        jpg[sof + 6] = (uint8_t)cases[i].h;
        jpg[sof + 7] = (uint8_t)(cases[i].w >> 8);
        jpg[sof + 8] = (uint8_t)cases[i].w;
        struct loom_error err = {0};
        enum loom_status st = loom_image_decode(jpg, n, &o, out, NULL, &err);
        if (st != cases[i].want)
            fail_msg("%ux%u: status %d (%s), expected %d", cases[i].w, cases[i].h, st, err.message,
                     cases[i].want);
    }
    free(jpg);
}

/* Every strict prefix of a valid JPEG is an error (libjpeg's "premature
 * end" warning included), never a crash. */
LOOM_TEST(jpeg_every_truncation_is_an_error)
{
    for (int prog = 0; prog < 2; prog++) {
        size_t n;
        uint8_t *jpg = fx_jpeg(40, 24, FX_JPEG_RGB, prog, &n);
        struct loom_image_opts o = loom_image_opts_default();
        o.size = 8;
        uint8_t out[8 * 8 * 3];
        struct loom_error err = {0};
        assert_int_equal(loom_image_decode(jpg, n, &o, out, NULL, &err), LOOM_OK);
        for (size_t len = 0; len < n; len++) {
            uint8_t *cut = malloc(len ? len : 1); /* exact size: ASan sees overreads */
            memcpy(cut, jpg, len);
            enum loom_status st = loom_image_decode(cut, len, &o, out, NULL, &err);
            if (st == LOOM_OK) fail_msg("prefix of %zu/%zu bytes accepted", len, n);
            assert_true(st == LOOM_ERR_FORMAT);
            free(cut);
        }
        free(jpg);
    }
}

/* libjpeg only warns about stray bytes between markers ("Corrupt JPEG data:
 * 2 extraneous bytes before marker"); the loader refuses the file. */
LOOM_TEST(jpeg_warnings_are_errors)
{
    size_t n;
    uint8_t *jpg = fx_jpeg(16, 16, FX_JPEG_RGB, false, &n);
    size_t sof = 0;
    for (size_t i = 2; i + 1 < n && !sof; i++)
        if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) sof = i;
    assert_true(sof > 0);
    uint8_t *bad = malloc(n + 2);
    memcpy(bad, jpg, sof);
    bad[sof] = 0x12, bad[sof + 1] = 0x34;
    memcpy(bad + sof + 2, jpg + sof, n - sof);
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 8;
    uint8_t out[8 * 8 * 3];
    struct loom_error err = {0};
    assert_int_equal(loom_image_decode(jpg, n, &o, out, NULL, &err), LOOM_OK);
    assert_int_equal(loom_image_decode(bad, n + 2, &o, out, NULL, &err), LOOM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "extraneous"));
    free(bad);
    free(jpg);
}
