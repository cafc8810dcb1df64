/*
 * image_png.c — PNG to 8-bit RGB through libpng.
 *
 * Width and height are read from the IHDR bytes and checked before libpng is
 * even created (and again by png_set_user_limits). Every colour type and bit
 * depth becomes 8-bit RGB(A): palette expanded, grey copied to RGB, low bit
 * depths expanded, 16 bits scaled (rounded) to 8, tRNS turned into alpha;
 * interlaced files are de-interlaced by libpng. Alpha is then composited
 * over white. libpng reports errors by longjmp to png_jmpbuf: the one setjmp
 * lives in png_run. CRC errors in any chunk and libpng's "benign" errors are
 * errors; the file must reach IEND. Ancillary chunks that do not change the
 * pixels we produce (gamma, colour profiles, text, ...) are skipped unparsed,
 * as libpng's own simplified API does; their CRC is still checked.
 */
#include <setjmp.h>
#include <string.h>

#include <png.h>

#include "loaders/image_internal.h"

/* Everything png_run touches after its setjmp lives here, in the caller's
 * frame, so it keeps its value across the longjmp. */
struct pjob {
    png_structp png;
    png_infop info;
    const uint8_t *bytes;
    size_t n, pos;
    uint8_t *px;     /* w*h*channels */
    png_bytep *rows; /* h row pointers into px */
    char msg[200];
    int w, h;
};

static void png_on_error(png_structp png, png_const_charp msg)
{
    struct pjob *j = png_get_error_ptr(png);
    snprintf(j->msg, sizeof j->msg, "damaged PNG: %s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* harmless (e.g. an unknown chunk): the library never prints */
    (void)msg;
}

static void png_read_mem(png_structp png, png_bytep out, size_t len)
{
    struct pjob *j = png_get_io_ptr(png);
    if (len > j->n - j->pos) png_error(png, "file is truncated");
    memcpy(out, j->bytes + j->pos, len);
    j->pos += len;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Ancillary chunks that change nothing in the 8-bit RGB we produce. */
static const png_byte skipped_chunks[] = "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0"
                                         "pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0sTER\0tEXt\0"
                                         "tIME\0zTXt\0";

/* RGBA -> RGB over white, in place (the RGB pixel i sits at or before the
 * RGBA pixel i, so a forward pass never overwrites what it still reads). */
static void composite_white(uint8_t *px, size_t npix)
{
    for (size_t i = 0; i < npix; i++) {
        unsigned a = px[4 * i + 3];
        for (int c = 0; c < 3; c++)
            px[3 * i + c] = (uint8_t)((px[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
    }
}

/* The one function with a setjmp: every libpng call is made from here. */
static enum loom_status png_run(struct pjob *j, const struct loom_image_opts *opts,
                                struct loom_image_info *info, struct loom_error *err)
{
    j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, png_on_error, png_on_warning);
    if (!j->png) return loom_error_set(err, LOOM_ERR_NOMEM, "no memory for a PNG decoder");
    j->info = png_create_info_struct(j->png);
    if (!j->info) return loom_error_set(err, LOOM_ERR_NOMEM, "no memory for a PNG decoder");
    if (setjmp(png_jmpbuf(j->png))) return loom_error_set(err, LOOM_ERR_FORMAT, "%s", j->msg);

    png_set_read_fn(j->png, j, png_read_mem);
    png_set_user_limits(j->png, (png_uint_32)opts->max_side, (png_uint_32)opts->max_side);
    png_set_chunk_cache_max(j->png, 256);
    png_set_chunk_malloc_max(j->png, 8u << 20);
    png_set_crc_action(j->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_benign_errors(j->png, 0);
    png_set_keep_unknown_chunks(j->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(j->png, PNG_HANDLE_CHUNK_NEVER, skipped_chunks,
                                (int)(sizeof skipped_chunks / 5));
    png_read_info(j->png, j->info);

    png_uint_32 w, h;
    int depth, type, interlace;
    png_get_IHDR(j->png, j->info, &w, &h, &depth, &type, &interlace, NULL, NULL);
    enum loom_status st = loom_image_check_dims(w, h, opts, "PNG", err);
    if (st != LOOM_OK) return st;
    png_set_expand(j->png); /* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
    if (depth == 16) png_set_scale_16(j->png);
    if (!(type & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(j->png);
    png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);

    int channels = png_get_channels(j->png, j->info);
    if (png_get_bit_depth(j->png, j->info) != 8 || (channels != 3 && channels != 4))
        return loom_error_set(err, LOOM_ERR_INTERNAL, "PNG transformed to %d channels of %d bits",
                              channels, png_get_bit_depth(j->png, j->info));
    size_t rowbytes = png_get_rowbytes(j->png, j->info), total;
    if (rowbytes != (size_t)w * (size_t)channels || !loom_mul_size(rowbytes, h, &total))
        return loom_error_set(err, LOOM_ERR_INTERNAL, "PNG row of %zu bytes", rowbytes);
    j->px = malloc(total);
    j->rows = malloc((size_t)h * sizeof *j->rows);
    if (!j->px || !j->rows)
        return loom_error_set(err, LOOM_ERR_NOMEM, "no memory for a %ux%u PNG", (unsigned)w,
                              (unsigned)h);
    for (png_uint_32 y = 0; y < h; y++) j->rows[y] = j->px + (size_t)y * rowbytes;
    png_read_image(j->png, j->rows);
    png_read_end(j->png, NULL); /* CRCs of the trailing chunks, up to IEND */

    if (channels == 4) composite_white(j->px, (size_t)w * h);
    j->w = (int)w;
    j->h = (int)h;
    info->width = info->decoded_width = (int)w;
    info->height = info->decoded_height = (int)h;
    return LOOM_OK;
}

enum loom_status loom_png_decode(const uint8_t *bytes, size_t n, const struct loom_image_opts *opts,
                                 struct loom_rgb *img, struct loom_image_info *info,
                                 struct loom_error *err)
{
    /* Bombs first: IHDR must be the first chunk (8-byte signature, length,
     * type), so its width and height sit at bytes 16..23. */
    if (n >= 24 && memcmp(bytes + 12, "IHDR", 4) == 0) {
        enum loom_status st =
            loom_image_check_dims(be32(bytes + 16), be32(bytes + 20), opts, "PNG", err);
        if (st != LOOM_OK) return st;
    }
    struct pjob *j = calloc(1, sizeof *j);
    if (!j) return loom_error_set(err, LOOM_ERR_NOMEM, "no memory for a PNG decoder");
    j->bytes = bytes;
    j->n = n;
    enum loom_status st = png_run(j, opts, info, err);
    png_destroy_read_struct(&j->png, j->info ? &j->info : NULL, NULL);
    free(j->rows);
    if (st == LOOM_OK) {
        *img = (struct loom_rgb){.px = j->px, .w = j->w, .h = j->h};
    } else {
        free(j->px);
    }
    free(j);
    return st;
}
