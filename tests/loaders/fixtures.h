/*
 * fixtures.h — images made by the tests themselves: JPEGs written with
 * libjpeg's compressor, PNGs with libpng's writer, a PNG header with a valid
 * CRC, and file helpers.
 */
#ifndef LOOM_TESTS_LOADERS_FIXTURES_H
#define LOOM_TESTS_LOADERS_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The four quadrant colours of the test pattern (TL, TR, BL, BR). */
extern const uint8_t fx_quad[4][3];
/* Grey levels of the grey pattern, same order. */
extern const uint8_t fx_quad_grey[4];

enum fx_jpeg_kind { FX_JPEG_RGB, FX_JPEG_GREY, FX_JPEG_CMYK };

/* A w x h JPEG of the quadrant pattern (malloc'd, *n bytes). */
uint8_t *fx_jpeg(int w, int h, enum fx_jpeg_kind kind, bool progressive, size_t *n);

/* A w x h PNG of 16-bit RGB samples rgb16 (w*h*3) when depth 16, or 8-bit
 * rgb8 when depth 8 (malloc'd). */
uint8_t *fx_png_rgb(int w, int h, int depth, const void *samples, size_t *n);

/* Signature + IHDR (w, h, 8-bit RGB) with a valid CRC, then an empty IEND:
 * 45 bytes into out. */
void fx_png_header(uint8_t out[45], uint32_t w, uint32_t h);

/* The whole file (malloc'd) or NULL. */
uint8_t *fx_read(const char *path, size_t *n);
/* Write bytes to a new temporary file; its path goes to path (>= 64). */
void fx_write_temp(const void *bytes, size_t n, char *path);

/* Mean of channel c over the square [x0,x1) x [y0,y1) of an RGB image. */
double fx_mean(const uint8_t *rgb, int size, int c, int x0, int y0, int x1, int y1);

#endif
