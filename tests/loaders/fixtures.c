/* fixtures.c — see fixtures.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h> /* after stdio.h */
#include <png.h>
#include <zlib.h>

#include "tests/loaders/fixtures.h"
#include "tests/testlib.h"

const uint8_t fx_quad[4][3] = {{200, 30, 30}, {30, 200, 30}, {30, 30, 200}, {220, 220, 60}};
const uint8_t fx_quad_grey[4] = {40, 100, 160, 220};

static int quadrant(int x, int y, int w, int h)
{
    return (y >= h / 2) * 2 + (x >= w / 2);
}

uint8_t *fx_jpeg(int w, int h, enum fx_jpeg_kind kind, bool progressive, size_t *n)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned char *buf = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&ci, &buf, &len);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = kind == FX_JPEG_GREY ? 1 : kind == FX_JPEG_CMYK ? 4 : 3;
    ci.in_color_space = kind == FX_JPEG_GREY   ? JCS_GRAYSCALE
                        : kind == FX_JPEG_CMYK ? JCS_CMYK
                                               : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    if (progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)w * 4);
    assert_non_null(row);
    while (ci.next_scanline < ci.image_height) {
        int y = (int)ci.next_scanline;
        for (int x = 0; x < w; x++) {
            int q = quadrant(x, y, w, h);
            if (kind == FX_JPEG_GREY) {
                row[x] = fx_quad_grey[q];
            } else if (kind == FX_JPEG_RGB) {
                memcpy(row + 3 * x, fx_quad[q], 3);
            } else { /* Adobe inverted CMYK, no black ink: C,M,Y stored = R,G,B */
                memcpy(row + 4 * x, fx_quad[q], 3);
                row[4 * x + 3] = 255;
            }
        }
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    *n = len;
    return buf;
}

struct membuf {
    uint8_t *p;
    size_t n, cap;
};

static void png_write_mem(png_structp png, png_bytep data, size_t len)
{
    struct membuf *m = png_get_io_ptr(png);
    if (m->n + len > m->cap) {
        m->cap = 2 * (m->n + len);
        m->p = realloc(m->p, m->cap);
        assert_non_null(m->p);
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
}

static void png_flush_mem(png_structp png)
{
    (void)png;
}

uint8_t *fx_png_rgb(int w, int h, int depth, const void *samples, size_t *n)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    struct membuf m = {0};
    png_set_write_fn(png, &m, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t rowbytes = (size_t)w * 3 * (size_t)(depth / 8);
    uint8_t *row = malloc(rowbytes);
    assert_non_null(row);
    for (int y = 0; y < h; y++) {
        if (depth == 8) {
            memcpy(row, (const uint8_t *)samples + (size_t)y * rowbytes, rowbytes);
        } else {
            const uint16_t *s = (const uint16_t *)samples + (size_t)y * (size_t)w * 3;
            for (int i = 0; i < w * 3; i++) { /* PNG is big-endian */
                row[2 * i] = (uint8_t)(s[i] >> 8);
                row[2 * i + 1] = (uint8_t)s[i];
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    *n = m.n;
    return m.p;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void fx_png_header(uint8_t out[45], uint32_t w, uint32_t h)
{
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    put32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    put32(out + 16, w);
    put32(out + 20, h);
    memcpy(out + 24, "\x08\x02\x00\x00\x00", 5); /* 8-bit RGB, deflate, no interlace */
    put32(out + 29, (uint32_t)crc32(0, out + 12, 17));
    put32(out + 33, 0);
    memcpy(out + 37, "IEND", 4);
    put32(out + 41, (uint32_t)crc32(0, out + 37, 4));
}

uint8_t *fx_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(len > 0 ? (size_t)len : 1);
    assert_non_null(p);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

void fx_write_temp(const void *bytes, size_t n, char *path)
{
    strcpy(path, "/tmp/loom_image_test_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, n), (ssize_t)n);
    close(fd);
}

double fx_mean(const uint8_t *rgb, int size, int c, int x0, int y0, int x1, int y1)
{
    double s = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            s += rgb[((size_t)y * (size_t)size + (size_t)x) * 3 + (size_t)c];
    return s / ((double)(x1 - x0) * (y1 - y0));
}
