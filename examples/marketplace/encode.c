/*
 * encode.c — writes a rendered photo: JPEG through libjpeg-turbo's
 * compressor (baseline or progressive, 4:2:0), PNG through libpng (RGB, or
 * RGBA with a transparent background). Both libraries' longjmp errors are
 * contained here; the encoded bytes go to memory, then to the file in one
 * write, so a failure never leaves half a file behind silently.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "listing.h"
#include "photo.h"

struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
};

static void jpeg_fail_exit(j_common_ptr cinfo)
{
    longjmp(((struct jpeg_fail *)cinfo->err)->jump, 1);
}

static enum loom_status encode_jpeg(const struct market_photo *p, const uint8_t *rgb,
                                    struct market_buf *out, struct loom_error *err)
{
    struct jpeg_compress_struct ci;
    struct jpeg_fail jf;
    unsigned char *volatile mem = NULL;
    unsigned long size = 0;
    ci.err = jpeg_std_error(&jf.mgr);
    jf.mgr.error_exit = jpeg_fail_exit;
    if (setjmp(jf.jump)) {
        jpeg_destroy_compress(&ci);
        free(mem);
        return loom_error_set(err, LOOM_ERR_BACKEND, "libjpeg could not encode a photo");
    }
    jpeg_create_compress(&ci);
    unsigned char *m = NULL;
    jpeg_mem_dest(&ci, &m, &size);
    ci.image_width = (JDIMENSION)p->width;
    ci.image_height = (JDIMENSION)p->height;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, p->quality, TRUE);
    if (p->progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)ci.next_scanline * p->width * 3);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    mem = m;
    jpeg_destroy_compress(&ci);
    market_buf_put(out, (const char *)mem, size);
    free(mem);
    return out->failed ? loom_error_set(err, LOOM_ERR_NOMEM, "out of memory") : LOOM_OK;
}

static void png_to_buf(png_structp png, png_bytep data, png_size_t n)
{
    market_buf_put(png_get_io_ptr(png), (const char *)data, n);
}

static void png_flush_none(png_structp png)
{
    (void)png;
}

static enum loom_status encode_png(const struct market_photo *p, const uint8_t *rgb,
                                   const uint8_t *alpha, struct market_buf *out,
                                   struct loom_error *err)
{
    int channels = p->alpha ? 4 : 3;
    uint8_t *volatile row = malloc((size_t)p->width * channels);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!row || !png || !info) {
        png_destroy_write_struct(&png, &info);
        free(row);
        return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(row);
        return loom_error_set(err, LOOM_ERR_BACKEND, "libpng could not encode a photo");
    }
    png_set_write_fn(png, out, png_to_buf, png_flush_none);
    png_set_IHDR(png, info, (png_uint_32)p->width, (png_uint_32)p->height, 8,
                 p->alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 3);
    png_write_info(png, info);
    for (int y = 0; y < p->height; y++) {
        const uint8_t *src = rgb + (size_t)y * p->width * 3;
        uint8_t *dst = row;
        for (int x = 0; x < p->width; x++) {
            memcpy(dst, src + x * 3, 3);
            if (p->alpha) dst[3] = alpha[(size_t)y * p->width + x];
            dst += channels;
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return out->failed ? loom_error_set(err, LOOM_ERR_NOMEM, "out of memory") : LOOM_OK;
}

enum loom_status market_photo_write(const char *path, const struct market_photo *p,
                                    const uint8_t *rgb, const uint8_t *alpha, size_t *bytes,
                                    struct loom_error *err)
{
    struct market_buf b = {0};
    enum loom_status st =
        p->png ? encode_png(p, rgb, alpha, &b, err) : encode_jpeg(p, rgb, &b, err);
    if (st != LOOM_OK) goto done;
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(b.p, 1, b.len, f) == b.len;
    if (f && fclose(f) != 0) ok = false;
    if (!ok) {
        st = loom_error_set(err, LOOM_ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    *bytes = b.len;
done:
    market_buf_free(&b);
    return st;
}
