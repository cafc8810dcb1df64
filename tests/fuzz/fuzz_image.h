/*
 * fuzz_image.h — the body of the two image harnesses (fuzz_png.c and
 * fuzz_jpeg.c): loom_image_decode of bytes that start with the format's
 * magic, to a small square (side and fit picked from the input's length)
 * under tight limits (sides <= 2048, 1 megapixel, 30 progressive scans), so
 * that a bomb is a limit error and never a big allocation. A decoded square
 * then goes through the augmentations and the CHW conversion.
 */
#ifndef LOOM_TESTS_FUZZ_IMAGE_H
#define LOOM_TESTS_FUZZ_IMAGE_H

#include <string.h>

#include "fuzz_util.h"
#include "loaders/image.h"

static int fuzz_image(const uint8_t *data, size_t size, const char *magic, size_t magic_len,
                      enum loom_image_format format)
{
    if (size < magic_len || memcmp(data, magic, magic_len) != 0) return 0;
    struct loom_image_opts o = loom_image_opts_default();
    o.size = 1 + (int)(size % 23);
    o.fit = (size / 23) % 2 ? LOOM_FIT_PAD : LOOM_FIT_CROP;
    o.pad[0] = 255;
    o.max_side = 2048;
    o.max_pixels = 1 << 20;
    o.max_scans = 30;
    size_t n = (size_t)o.size * (size_t)o.size * 3;
    uint8_t *rgb = malloc(n), *crop = malloc(n);
    float *chw = malloc(n * sizeof *chw);
    FUZZ_CHECK(rgb && crop && chw);
    struct loom_image_info info = {0};
    struct loom_error err = {0};
    enum loom_status st = loom_image_decode(data, size, &o, rgb, &info, &err);
    if (st == LOOM_OK) {
        FUZZ_CHECK(info.format == format);
        FUZZ_CHECK(info.width >= 1 && info.height >= 1 && info.width <= o.max_side &&
                   info.height <= o.max_side);
        FUZZ_CHECK((uint64_t)info.width * (uint64_t)info.height <= o.max_pixels);
        FUZZ_CHECK(info.decoded_width >= 1 && info.decoded_width <= info.width);
        FUZZ_CHECK(info.decoded_height >= 1 && info.decoded_height <= info.height);
        struct loom_rng r;
        loom_rng_init(&r, size, 1);
        FUZZ_CHECK(loom_image_random_crop(rgb, o.size, 0.5f, true, &r, crop, &err) == LOOM_OK);
        loom_image_flip_h(crop, o.size);
        static const float mean[3] = {0.5f, 0.5f, 0.5f}, sd[3] = {0.25f, 0.25f, 0.25f};
        loom_image_to_chw(crop, o.size, mean, sd, chw);
    } else {
        FUZZ_CHECK(err.code == st && err.message[0]);
        FUZZ_CHECK(st == LOOM_ERR_FORMAT || st == LOOM_ERR_LIMIT || st == LOOM_ERR_UNSUPPORTED ||
                   st == LOOM_ERR_NOMEM);
    }
    free(rgb);
    free(crop);
    free(chw);
    return 0;
}

#endif
