/*
 * image_internal.h — what the image loader's files share: the decoded
 * picture, the two decoders and the resampler. Not for callers (image.h is).
 */
#ifndef LOOM_LOADERS_IMAGE_INTERNAL_H
#define LOOM_LOADERS_IMAGE_INTERNAL_H

#include "loaders/image.h"

/* An 8-bit RGB picture: h rows of w*3 bytes. A decoder's output is freed
 * with free(px). */
struct loom_rgb {
    uint8_t *px;
    int w, h;
};

/* Decoders: check opts' limits on the header, decode to 8-bit RGB, fill
 * *img, info->width/height/decoded_*. On failure *img is untouched. */
enum loom_status loom_jpeg_decode(const uint8_t *bytes, size_t n,
                                  const struct loom_image_opts *opts, struct loom_rgb *img,
                                  struct loom_image_info *info, struct loom_error *err);
enum loom_status loom_png_decode(const uint8_t *bytes, size_t n, const struct loom_image_opts *opts,
                                 struct loom_rgb *img, struct loom_image_info *info,
                                 struct loom_error *err);

/* Checks width/height against opts' side and pixel limits (LOOM_ERR_LIMIT). */
enum loom_status loom_image_check_dims(uint64_t width, uint64_t height,
                                       const struct loom_image_opts *opts, const char *what,
                                       struct loom_error *err);

/* Resample the rectangle [x0, x0+sw) x [y0, y0+sh) of src (in pixels; may be
 * fractional, must lie inside src) into a dw x dh block at dst, whose rows
 * are dst_stride bytes apart: area averaging (box filter with fractional
 * coverage) on an axis that shrinks, bilinear (pixel centres aligned) on an
 * axis that grows. LOOM_ERR_NOMEM when its scratch cannot be allocated. */
enum loom_status loom_rgb_resample(const struct loom_rgb *src, double x0, double y0, double sw,
                                   double sh, uint8_t *dst, int dw, int dh, size_t dst_stride);

#endif
