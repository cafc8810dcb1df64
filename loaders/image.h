/*
 * image.h — one image file in, one size x size 8-bit RGB square out.
 *
 * JPEG goes through libjpeg-turbo, decoded straight to the smallest DCT
 * scale (1/8 .. 8/8) that is still at least the target; PNG through libpng,
 * every colour type and bit depth turned into 8-bit RGB. The decoded picture
 * is then resized (area averaging when shrinking, bilinear when enlarging)
 * and either centre-cropped or padded to the square. Limits (file bytes,
 * side, pixels, progressive scans) are checked before any pixel buffer is
 * allocated; a missing, truncated or corrupt file is an error, never a crash.
 *
 * Choices, written once:
 *  - Alpha (PNG alpha channel or tRNS) is composited over WHITE: product
 *    shots with a transparent background look as they were meant to.
 *  - CMYK and YCCK JPEGs are converted to RGB naively (no ICC profile):
 *    R = (1-C)(1-K) etc., with Adobe's inverted storage when the file has an
 *    Adobe APP14 marker (what Photoshop and libjpeg write).
 *  - Gamma, ICC profiles and EXIF orientation are ignored: stored values are
 *    used as they are (as most training pipelines do).
 *  - LOOM_FIT_CROP scales the short side to size and keeps the centre;
 *    LOOM_FIT_PAD scales the long side to size and centres the picture on a
 *    background of opts.pad (black by default).
 *  - JPEG warnings (premature end of data, corrupt data) are errors, and so
 *    are PNG CRC errors in any chunk and libpng's "benign" errors.
 *
 * Nothing here is global state: every function is thread-safe on distinct
 * outputs. The library never prints.
 */
#ifndef LOOM_LOADERS_IMAGE_H
#define LOOM_LOADERS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/base.h"
#include "core/rng.h"
#include "schemas/schema.h"

/* enum loom_image_fit comes from the schema (one definition, so that a file
 * may include both headers): LOOM_FIT_CROP scales the short side to size and
 * keeps the centre square; LOOM_FIT_PAD scales the long side to size and
 * centres the picture on opts.pad. */

enum loom_image_format {
    LOOM_IMAGE_UNKNOWN = 0,
    LOOM_IMAGE_JPEG,
    LOOM_IMAGE_PNG,
};

struct loom_image_opts {
    int size; /* output side in pixels, 1..4096 */
    enum loom_image_fit fit;
    uint8_t pad[3];          /* background of LOOM_FIT_PAD (RGB) */
    uint64_t max_file_bytes; /* loom_image_load: larger files are refused unread */
    int max_side;            /* width and height each <= this */
    uint64_t max_pixels;     /* width * height <= this */
    int max_scans;           /* progressive JPEG scans */
};

/* What the file held, before resizing. */
struct loom_image_info {
    enum loom_image_format format;
    int width, height;                 /* as stored in the file */
    int decoded_width, decoded_height; /* after JPEG DCT scaling (= width/height for PNG) */
};

/* Defaults: size 224, crop, pad black, 64 MiB files, side <= 16384,
 * <= 64 megapixels, <= 100 scans. */
struct loom_image_opts loom_image_opts_default(void);

/* Decode bytes[0..n) (format sniffed from the magic bytes) into out_rgb,
 * size*size*3 bytes, row-major RGB. info (may be NULL) and out_rgb are
 * written only on success. Errors: LOOM_ERR_INVALID (bad opts),
 * LOOM_ERR_UNSUPPORTED (not a JPEG or PNG), LOOM_ERR_LIMIT, LOOM_ERR_FORMAT
 * (truncated or corrupt), LOOM_ERR_NOMEM. The caller owns every buffer. */
LOOM_WUR enum loom_status loom_image_decode(const uint8_t *bytes, size_t n,
                                            const struct loom_image_opts *opts, uint8_t *out_rgb,
                                            struct loom_image_info *info, struct loom_error *err);

/* The same for a file: opened once, its size checked with fstat against
 * opts->max_file_bytes before anything is read. err->file names the path.
 * Adds LOOM_ERR_IO (errno in the message). */
LOOM_WUR enum loom_status loom_image_load(const char *path, const struct loom_image_opts *opts,
                                          uint8_t *out_rgb, struct loom_image_info *info,
                                          struct loom_error *err);

/* ---- after decoding: on the size x size RGB square ---- */

/* rgb (H=size, W=size, 3) 8-bit -> out (C=3, H, W) float:
 * (v/255 - mean[c]) / std[c]. mean and std are in [0,1] units (the
 * torchvision convention); std[c] > 0. */
void loom_image_to_chw(const uint8_t *rgb, int size, const float mean[3], const float std[3],
                       float *out);

/* Mirror left-right in place. */
void loom_image_flip_h(uint8_t *rgb, int size);

/* Random crop for augmentation, taken from the decoded square (what the
 * dataset cache stores, so augmentation never decodes again): a square of
 * side s = round(size * u), u uniform in [min_scale, 1], at a uniform random
 * position, resized back to size x size (bilinear) into out (distinct from
 * in); then, when flip, mirrored with probability 1/2. The draws come from
 * rng, so a (seed, stream, counter) reproduces them. 0 < min_scale <= 1.
 * Fails only with LOOM_ERR_NOMEM (a row of scratch). */
LOOM_WUR enum loom_status loom_image_random_crop(const uint8_t *in, int size, float min_scale,
                                                 bool flip, struct loom_rng *rng, uint8_t *out,
                                                 struct loom_error *err);

#endif
