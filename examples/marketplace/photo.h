/*
 * photo.h — renders a listing's photo in plain C and writes it as JPEG
 * (libjpeg-turbo) or PNG (libpng).
 *
 * An object photo shows the category's shape in the brand's colour on a
 * random background; wear (dull colours, scratches, spots) grows with the
 * true condition; a premium finish is brushed metal with a gloss band; a
 * defect is a crack or a stain on the body. Distractor photos (a label, a
 * blurred background, grey furniture) carry no signal.
 */
#ifndef MARKET_PHOTO_H
#define MARKET_PHOTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base.h"
#include "core/rng.h"

struct market_photo {
    int kind; /* enum market_photo_kind */
    int cat, brand, cond;
    bool premium, damage;
    int width, height;
    bool png, alpha; /* PNG; with alpha: transparent background */
    bool progressive;
    int quality; /* JPEG */
};

/* Draws the photo's size and encoding: width in [64, max_side], height in
 * [64, 0.8 max_side], aspect ratio at most 2.2. */
void market_photo_plan(struct market_photo *p, int max_side, struct loom_rng *r);

/* Renders into rgb (width*height*3) and alpha (width*height, 255 on the
 * object, 0 elsewhere; only meaningful when p->alpha). */
void market_photo_render(const struct market_photo *p, uint8_t *rgb, uint8_t *alpha,
                         struct loom_rng *r);

/* Encodes and writes the file; *bytes gets its size. */
LOOM_WUR enum loom_status market_photo_write(const char *path, const struct market_photo *p,
                                             const uint8_t *rgb, const uint8_t *alpha,
                                             size_t *bytes, struct loom_error *err);

#endif
