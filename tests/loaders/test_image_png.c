/* test_image_png.c — PNG through the whole loader: every valid PngSuite file
 * decodes with its size (from its name), pixel values match an independent decoder,
 * interlaced files equal their non-interlaced twins, 16 bits scale to 8 within
 * 1, every corrupt x*.png is refused, and dimension bombs are refused before
 * any pixel buffer exists. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaders/image.h"
#include "tests/loaders/fixtures.h"
#include "tests/testlib.h"

#define SUITE_SIZE 32 /* PngSuite files are at most 40x40 */

static void suite_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/data/pngsuite/%s", loom_test_shared_dir(), name);
}

/* Decode a PngSuite file at its own size (crop of a square: no resampling
 * when the file is 32x32). */
static enum loom_status load_suite(const char *name, int size, uint8_t *out,
                                   struct loom_image_info *info, struct loom_error *err)
{
    char path[512];
    suite_path(path, sizeof path, name);
    struct loom_image_opts o = loom_image_opts_default();
    o.size = size;
    return loom_image_load(path, &o, out, info, err);
}

/* s01..s40 are 1x1..40x40; the pHYs tests cdfn, cdhn, cdsn are 8x32, 32x8
 * and 8x8; every other file is 32x32. */
static void expected_dims(const char *name, int *w, int *h)
{
    static const struct {
        const char *prefix;
        int w, h;
    } odd[] = {{"cdfn", 8, 32}, {"cdhn", 32, 8}, {"cdsn", 8, 8}};
    *w = *h = 32;
    if (name[0] == 's' && name[1] >= '0' && name[1] <= '9') *w = *h = atoi(name + 1);
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        if (strncmp(name, odd[i].prefix, 4) == 0) *w = odd[i].w, *h = odd[i].h;
}

static int expected_side(const char *name)
{
    int w, h;
    expected_dims(name, &w, &h);
    return LOOM_MAX(w, h);
}

LOOM_TEST(png_suite_all_valid_files_decode)
{
    char dir[512];
    suite_path(dir, sizeof dir, "");
    DIR *d = opendir(dir);
    assert_non_null(d);
    int valid = 0, corrupt = 0;
    struct dirent *e;
    uint8_t out[40 * 40 * 3];
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".png") != 0) continue;
        int side = expected_side(e->d_name);
        struct loom_image_info info = {0};
        struct loom_error err = {0};
        enum loom_status st = load_suite(e->d_name, side, out, &info, &err);
        if (e->d_name[0] == 'x') {
            if (st == LOOM_OK) fail_msg("%s: corrupt file accepted", e->d_name);
            assert_int_equal(st, err.code);
            assert_true(strlen(err.message) > 0);
            assert_non_null(strstr(err.file, e->d_name));
            corrupt++;
            continue;
        }
        if (st != LOOM_OK) fail_msg("%s: %s", e->d_name, err.message);
        assert_int_equal(info.format, LOOM_IMAGE_PNG);
        int w, h;
        expected_dims(e->d_name, &w, &h);
        assert_int_equal(info.width, w);
        assert_int_equal(info.height, h);
        valid++;
    }
    closedir(d);
    assert_int_equal(valid, 161);
    assert_int_equal(corrupt, 14);
}

/* Pixel values from an independent decoder (zlib + unfiltering written
 * separately in Python): palette and grey expanded, 16 bits rounded to 8,
 * alpha and tRNS composited over white, gamma ignored. */
static const struct {
    const char *name;
    int x, y;
    uint8_t rgb[3];
} pixels[] = {
    {"basn0g01", 0, 0, {255, 255, 255}},  {"basn0g01", 31, 31, {0, 0, 0}},
    {"basn0g01", 13, 7, {0, 0, 0}},       {"basn0g01", 20, 16, {0, 0, 0}},
    {"basn0g02", 0, 0, {0, 0, 0}},        {"basn0g02", 31, 31, {170, 170, 170}},
    {"basn0g02", 13, 7, {0, 0, 0}},       {"basn0g02", 20, 16, {85, 85, 85}},
    {"basn0g04", 0, 0, {0, 0, 0}},        {"basn0g04", 31, 31, {238, 238, 238}},
    {"basn0g04", 13, 7, {68, 68, 68}},    {"basn0g04", 20, 16, {153, 153, 153}},
    {"basn0g08", 0, 0, {0, 0, 0}},        {"basn0g08", 31, 31, {3, 3, 3}},
    {"basn0g08", 13, 7, {237, 237, 237}}, {"basn0g08", 20, 16, {22, 22, 22}},
    {"basn0g16", 0, 0, {0, 0, 0}},        {"basn0g16", 31, 31, {1, 1, 1}},
    {"basn0g16", 13, 7, {130, 130, 130}}, {"basn0g16", 20, 16, {211, 211, 211}},
    {"basn2c08", 0, 0, {255, 255, 255}},  {"basn2c08", 31, 31, {0, 0, 0}},
    {"basn2c08", 13, 7, {255, 255, 18}},  {"basn2c08", 20, 16, {235, 255, 255}},
    {"basn2c16", 0, 0, {255, 255, 0}},    {"basn2c16", 31, 31, {0, 0, 255}},
    {"basn2c16", 13, 7, {148, 197, 0}},   {"basn2c16", 20, 16, {90, 123, 41}},
    {"basn3p01", 0, 0, {238, 255, 34}},   {"basn3p01", 31, 31, {238, 255, 34}},
    {"basn3p01", 13, 7, {238, 255, 34}},  {"basn3p01", 20, 16, {34, 102, 255}},
    {"basn3p02", 0, 0, {0, 0, 255}},      {"basn3p02", 31, 31, {0, 0, 255}},
    {"basn3p02", 13, 7, {255, 255, 0}},   {"basn3p02", 20, 16, {255, 0, 0}},
    {"basn3p04", 0, 0, {255, 0, 0}},      {"basn3p04", 31, 31, {255, 0, 187}},
    {"basn3p04", 13, 7, {119, 255, 0}},   {"basn3p04", 20, 16, {0, 153, 255}},
    {"basn3p08", 0, 0, {1, 0, 0}},        {"basn3p08", 31, 31, {255, 254, 255}},
    {"basn3p08", 13, 7, {58, 119, 0}},    {"basn3p08", 20, 16, {1, 255, 255}},
    {"basn4a08", 0, 0, {255, 255, 255}},  {"basn4a08", 31, 31, {0, 0, 0}},
    {"basn4a08", 13, 7, {231, 231, 231}}, {"basn4a08", 20, 16, {170, 170, 170}},
    {"basn4a16", 0, 0, {255, 255, 255}},  {"basn4a16", 31, 31, {255, 255, 255}},
    {"basn4a16", 13, 7, {221, 221, 221}}, {"basn4a16", 20, 16, {235, 235, 235}},
    {"basn6a08", 0, 0, {255, 255, 255}},  {"basn6a08", 31, 31, {0, 32, 255}},
    {"basn6a08", 13, 7, {255, 242, 152}}, {"basn6a08", 20, 16, {94, 255, 91}},
    {"basn6a16", 0, 0, {255, 255, 255}},  {"basn6a16", 31, 31, {255, 255, 255}},
    {"basn6a16", 13, 7, {214, 255, 140}}, {"basn6a16", 20, 16, {74, 154, 175}},
    {"tbbn0g04", 0, 0, {255, 255, 255}},  {"tbbn0g04", 31, 31, {255, 255, 255}},
    {"tbbn0g04", 13, 7, {102, 102, 102}}, {"tbbn0g04", 20, 16, {34, 34, 34}},
    {"tbbn2c16", 0, 0, {255, 255, 255}},  {"tbbn2c16", 31, 31, {255, 255, 255}},
    {"tbbn2c16", 13, 7, {146, 80, 80}},   {"tbbn2c16", 20, 16, {0, 0, 255}},
    {"tbbn3p08", 0, 0, {255, 255, 255}},  {"tbbn3p08", 31, 31, {255, 255, 255}},
    {"tbbn3p08", 13, 7, {143, 79, 79}},   {"tbbn3p08", 20, 16, {0, 0, 255}},
    {"tbrn2c08", 0, 0, {255, 255, 255}},  {"tbrn2c08", 31, 31, {255, 255, 255}},
    {"tbrn2c08", 13, 7, {146, 80, 80}},   {"tbrn2c08", 20, 16, {0, 0, 255}},
    {"tbwn0g16", 0, 0, {255, 255, 255}},  {"tbwn0g16", 31, 31, {255, 255, 255}},
    {"tbwn0g16", 13, 7, {100, 100, 100}}, {"tbwn0g16", 20, 16, {29, 29, 29}},
    {"tp1n3p08", 0, 0, {255, 255, 255}},  {"tp1n3p08", 31, 31, {255, 255, 255}},
    {"tp1n3p08", 13, 7, {143, 79, 79}},   {"tp1n3p08", 20, 16, {0, 0, 255}},
    {"tm3n3p02", 0, 0, {255, 255, 255}},  {"tm3n3p02", 31, 31, {0, 0, 255}},
    {"tm3n3p02", 13, 7, {255, 255, 255}}, {"tm3n3p02", 20, 16, {0, 0, 255}},
    {"g25n2c08", 0, 0, {255, 0, 0}},      {"g25n2c08", 31, 31, {0, 0, 0}},
    {"g25n2c08", 13, 7, {6, 6, 255}},     {"g25n2c08", 20, 16, {0, 45, 0}},
    {"f99n0g04", 0, 0, {0, 0, 0}},        {"f99n0g04", 31, 31, {0, 0, 0}},
    {"f99n0g04", 13, 7, {204, 204, 204}}, {"f99n0g04", 20, 16, {238, 238, 238}},
};

LOOM_TEST(png_suite_pixel_values)
{
    uint8_t out[32 * 32 * 3];
    for (size_t i = 0; i < sizeof pixels / sizeof pixels[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.png", pixels[i].name);
        struct loom_error err = {0};
        assert_int_equal(load_suite(name, 32, out, NULL, &err), LOOM_OK);
        const uint8_t *p = out + ((size_t)pixels[i].y * 32 + (size_t)pixels[i].x) * 3;
        for (int c = 0; c < 3; c++) {
            if (abs(p[c] - pixels[i].rgb[c]) > 1)
                fail_msg("%s (%d,%d) channel %d: %d, expected %d", name, pixels[i].x, pixels[i].y,
                         c, p[c], pixels[i].rgb[c]);
        }
    }
}

/* Same picture, stored differently: the decodes must be identical. */
LOOM_TEST(png_suite_twins_are_identical)
{
    static const char *const twins[][2] = {
        {"basn0g01", "basi0g01"}, {"basn0g02", "basi0g02"}, {"basn0g04", "basi0g04"},
        {"basn0g08", "basi0g08"}, {"basn0g16", "basi0g16"}, {"basn2c08", "basi2c08"},
        {"basn2c16", "basi2c16"}, {"basn3p01", "basi3p01"}, {"basn3p02", "basi3p02"},
        {"basn3p04", "basi3p04"}, {"basn3p08", "basi3p08"}, {"basn4a08", "basi4a08"},
        {"basn4a16", "basi4a16"}, {"basn6a08", "basi6a08"}, {"basn6a16", "basi6a16"},
        {"basn0g16", "oi1n0g16"}, {"basn0g16", "oi2n0g16"}, {"basn0g16", "oi4n0g16"},
        {"basn0g16", "oi9n0g16"}, {"basn2c16", "oi1n2c16"}, {"basn2c16", "oi9n2c16"},
        {"z00n2c08", "z03n2c08"}, {"z00n2c08", "z06n2c08"}, {"z00n2c08", "z09n2c08"},
        {"s39n3p04", "s39i3p04"}, {"s40n3p04", "s40i3p04"}, {"s07n3p02", "s07i3p02"},
        {"s01n3p01", "s01i3p01"},
    };
    for (size_t i = 0; i < sizeof twins / sizeof twins[0]; i++) {
        uint8_t a[40 * 40 * 3], b[40 * 40 * 3];
        char na[32], nb[32];
        snprintf(na, sizeof na, "%s.png", twins[i][0]);
        snprintf(nb, sizeof nb, "%s.png", twins[i][1]);
        int side = expected_side(na);
        struct loom_error err = {0};
        assert_int_equal(load_suite(na, side, a, NULL, &err), LOOM_OK);
        assert_int_equal(load_suite(nb, side, b, NULL, &err), LOOM_OK);
        if (memcmp(a, b, (size_t)side * (size_t)side * 3) != 0)
            fail_msg("%s and %s decode differently", na, nb);
    }
}

/* A 16-bit file and its 8-bit twin (v8 = round(v16 / 257)), both written
 * by libpng here, agree within 1. */
LOOM_TEST(png_16_bit_matches_8_bit_twin)
{
    enum { W = 37, H = 23 };
    uint16_t *s16 = malloc(W * H * 3 * sizeof *s16);
    uint8_t *s8 = malloc(W * H * 3);
    assert_non_null(s16);
    assert_non_null(s8);
    for (int i = 0; i < W * H * 3; i++) {
        s16[i] = (uint16_t)((i * 7919u + (unsigned)i * i * 31u) & 0xffff);
        s8[i] = (uint8_t)((s16[i] + 128) / 257);
    }
    size_t n16, n8;
    uint8_t *p16 = fx_png_rgb(W, H, 16, s16, &n16), *p8 = fx_png_rgb(W, H, 8, s8, &n8);
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 16;
    o.fit = LOOM_FIT_PAD;
    uint8_t a[16 * 16 * 3], b[16 * 16 * 3];
    struct loom_image_info info;
    struct loom_error err;
    assert_int_equal(loom_image_decode(p16, n16, &o, a, &info, &err), LOOM_OK);
    assert_int_equal(info.width, W);
    assert_int_equal(info.height, H);
    assert_int_equal(loom_image_decode(p8, n8, &o, b, NULL, &err), LOOM_OK);
    for (int i = 0; i < 16 * 16 * 3; i++) assert_true(abs(a[i] - b[i]) <= 1);
    /* And at full size, no resampling: the scale itself. */
    o.size = W;
    uint8_t *fa = malloc(W * W * 3), *fb = malloc(W * W * 3);
    assert_int_equal(loom_image_decode(p16, n16, &o, fa, NULL, &err), LOOM_OK);
    assert_int_equal(loom_image_decode(p8, n8, &o, fb, NULL, &err), LOOM_OK);
    int maxd = 0;
    for (int i = 0; i < W * W * 3; i++) maxd = LOOM_MAX(maxd, abs(fa[i] - fb[i]));
    assert_true(maxd <= 1);
    free(fa);
    free(fb);
    free(p16);
    free(p8);
    free(s16);
    free(s8);
}

/* Headers that claim huge pictures, with valid CRCs: refused by the limits
 * (an allocation of 60000*60000*3 bytes would abort under ASan). */
LOOM_TEST(png_dimension_bombs_rejected)
{
    static const struct {
        uint32_t w, h;
        enum loom_status want;
    } cases[] = {
        {60000, 60000, LOOM_ERR_LIMIT}, {16000, 16000, LOOM_ERR_LIMIT},
        {16385, 1, LOOM_ERR_LIMIT},     {1, 0x7fffffff, LOOM_ERR_LIMIT},
        {0, 10, LOOM_ERR_FORMAT},       {8000, 8001, LOOM_ERR_LIMIT},
    };
    struct loom_image_opts o = loom_image_opts_default();
    uint8_t *out = malloc((size_t)o.size * o.size * 3);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t hdr[45];
        fx_png_header(hdr, cases[i].w, cases[i].h);
        struct loom_error err = {0};
        enum loom_status st = loom_image_decode(hdr, sizeof hdr, &o, out, NULL, &err);
        if (st != cases[i].want)
            fail_msg("%ux%u: status %d (%s), expected %d", cases[i].w, cases[i].h, st, err.message,
                     cases[i].want);
    }
    /* Within the limits the header passes and the missing IDAT is the error. */
    uint8_t hdr[45];
    fx_png_header(hdr, 100, 100);
    struct loom_error err = {0};
    assert_int_equal(loom_image_decode(hdr, sizeof hdr, &o, out, NULL, &err), LOOM_ERR_FORMAT);
    /* A stricter configured limit applies. */
    o.max_pixels = 100 * 99;
    assert_int_equal(loom_image_decode(hdr, sizeof hdr, &o, out, NULL, &err), LOOM_ERR_LIMIT);
    free(out);
}

/* A CRC error is an error in any chunk, also in the ancillary chunks the
 * decoder skips (tEXt, gAMA, ...) and in those after IDAT. */
LOOM_TEST(png_crc_error_in_any_chunk_rejected)
{
    static const char *const files[] = {"ct1n0g04.png", "g25n2c08.png", "cm7n0g04.png",
                                        "tbbn3p08.png"};
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 8;
    uint8_t out[8 * 8 * 3];
    int damaged = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[512];
        suite_path(path, sizeof path, files[f]);
        size_t n;
        uint8_t *png = fx_read(path, &n);
        assert_non_null(png);
        /* Walk the chunks after IHDR (whose sizes the limits read first);
         * damage each non-empty one in turn (one data byte). */
        for (size_t pos = 33; pos + 12 <= n;) {
            uint32_t len = (uint32_t)png[pos] << 24 | (uint32_t)png[pos + 1] << 16 |
                           (uint32_t)png[pos + 2] << 8 | png[pos + 3];
            if (len > 0) {
                png[pos + 8] ^= 0x10;
                struct loom_error err = {0};
                enum loom_status st = loom_image_decode(png, n, &o, out, NULL, &err);
                if (st != LOOM_ERR_FORMAT)
                    fail_msg("%s: damaged %.4s chunk gave %d", files[f], (char *)png + pos + 4, st);
                png[pos + 8] ^= 0x10;
                damaged++;
            }
            pos += 12 + (size_t)len;
        }
        free(png);
    }
    assert_true(damaged >= 12);
}
