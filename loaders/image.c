/*
 * image.c — the image loader's entry points: options, format sniffing,
 * reading a file under its size limit, fitting the decoded picture into the
 * square (crop or pad), normalisation to CHW floats and the seeded
 * augmentations. The decoders are image_jpeg.c and image_png.c, the
 * resampler image_resize.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/threads.h"
#include "loaders/image_internal.h"

#define MAX_OUTPUT_SIZE 4096

struct loom_image_opts loom_image_opts_default(void)
{
    return (struct loom_image_opts){
        .size = 224,
        .fit = LOOM_FIT_CROP,
        .pad = {0, 0, 0},
        .max_file_bytes = 64u << 20,
        .max_side = 16384,
        .max_pixels = 64000000,
        .max_scans = 100,
    };
}

enum loom_status loom_image_check_dims(uint64_t width, uint64_t height,
                                       const struct loom_image_opts *opts, const char *what,
                                       struct loom_error *err)
{
    if (width == 0 || height == 0)
        return loom_error_set(err, LOOM_ERR_FORMAT, "damaged %s: empty %llux%llu image", what,
                              (unsigned long long)width, (unsigned long long)height);
    if (width > (uint64_t)opts->max_side || height > (uint64_t)opts->max_side)
        return loom_error_set(err, LOOM_ERR_LIMIT, "%s of %llux%llu: a side exceeds the limit %d",
                              what, (unsigned long long)width, (unsigned long long)height,
                              opts->max_side);
    if (width * height > opts->max_pixels) /* both <= INT_MAX: no overflow */
        return loom_error_set(
            err, LOOM_ERR_LIMIT, "%s of %llux%llu: %llu pixels exceed the limit %llu", what,
            (unsigned long long)width, (unsigned long long)height,
            (unsigned long long)(width * height), (unsigned long long)opts->max_pixels);
    return LOOM_OK;
}

static enum loom_status check_opts(const struct loom_image_opts *o, struct loom_error *err)
{
    if (!o) return loom_error_set(err, LOOM_ERR_INVALID, "image options are NULL");
    if (o->size < 1 || o->size > MAX_OUTPUT_SIZE)
        return loom_error_set(err, LOOM_ERR_INVALID, "image size %d is not in 1..%d", o->size,
                              MAX_OUTPUT_SIZE);
    if (o->fit != LOOM_FIT_CROP && o->fit != LOOM_FIT_PAD)
        return loom_error_set(err, LOOM_ERR_INVALID, "image fit %d is neither crop nor pad",
                              (int)o->fit);
    if (o->max_side < 1 || o->max_pixels < 1 || o->max_scans < 1)
        return loom_error_set(err, LOOM_ERR_INVALID, "image limits must be positive");
    return LOOM_OK;
}

/* Which decoder, from the magic bytes. Other well-known formats get a clear
 * "unsupported"; anything else is a damaged file. */
static enum loom_image_format sniff(const uint8_t *b, size_t n, struct loom_error *err,
                                    enum loom_status *st)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *name;
    } other[] = {
        {"GIF8", 4, "GIF"},          {"BM", 2, "BMP"}, {"II*\0", 4, "TIFF"}, {"MM\0*", 4, "TIFF"},
        {"RIFF", 4, "RIFF (WebP?)"},
    };
    if (n >= 2 && b[0] == 0xff && b[1] == 0xd8) return LOOM_IMAGE_JPEG;
    /* Only "\x89PNG": libpng checks the rest and names what is wrong. */
    if (n >= 4 && memcmp(b, "\x89PNG", 4) == 0) return LOOM_IMAGE_PNG;
    for (size_t i = 0; i < LOOM_ARRAY_LEN(other); i++) {
        if (n >= other[i].len && memcmp(b, other[i].magic, other[i].len) == 0) {
            *st = loom_error_set(err, LOOM_ERR_UNSUPPORTED,
                                 "%s images are not supported (JPEG "
                                 "and PNG are)",
                                 other[i].name);
            return LOOM_IMAGE_UNKNOWN;
        }
    }
    *st = loom_error_set(err, LOOM_ERR_FORMAT,
                         n == 0 ? "empty image file" : "not a JPEG or PNG file (magic bytes)");
    return LOOM_IMAGE_UNKNOWN;
}

/* Fit the picture into out (size x size): crop keeps the centre square of
 * the source; pad resizes all of it into a centred block and paints the
 * rest. The resampler allocates before writing, so on failure out is
 * untouched. */
static enum loom_status fit(const struct loom_rgb *img, const struct loom_image_opts *o,
                            uint8_t *out)
{
    int size = o->size;
    size_t stride = (size_t)size * 3;
    if (o->fit == LOOM_FIT_CROP) {
        int side = LOOM_MIN(img->w, img->h);
        return loom_rgb_resample(img, (img->w - side) / 2, (img->h - side) / 2, side, side, out,
                                 size, size, stride);
    }
    int dw = size, dh = size;
    if (img->w >= img->h)
        dh = LOOM_MAX(1, (int)((double)size * img->h / img->w + 0.5));
    else
        dw = LOOM_MAX(1, (int)((double)size * img->w / img->h + 0.5));
    int ox = (size - dw) / 2, oy = (size - dh) / 2;
    enum loom_status st =
        loom_rgb_resample(img, 0, 0, img->w, img->h, out + oy * stride + ox * 3, dw, dh, stride);
    if (st != LOOM_OK) return st;
    for (int y = 0; y < size; y++) {
        uint8_t *r = out + y * stride;
        bool inside = y >= oy && y < oy + dh;
        for (int x = 0; x < size; x++) {
            if (inside && x >= ox && x < ox + dw) continue;
            memcpy(r + 3 * x, o->pad, 3);
        }
    }
    return LOOM_OK;
}

enum loom_status loom_image_decode(const uint8_t *bytes, size_t n,
                                   const struct loom_image_opts *opts, uint8_t *out_rgb,
                                   struct loom_image_info *info, struct loom_error *err)
{
    enum loom_status st = check_opts(opts, err);
    if (st != LOOM_OK) return st;
    if ((!bytes && n) || !out_rgb)
        return loom_error_set(err, LOOM_ERR_INVALID, "image bytes or output buffer is NULL");
    struct loom_image_info inf = {.format = sniff(bytes, n, err, &st)};
    struct loom_rgb img = {0};
    if (inf.format == LOOM_IMAGE_JPEG)
        st = loom_jpeg_decode(bytes, n, opts, &img, &inf, err);
    else if (inf.format == LOOM_IMAGE_PNG)
        st = loom_png_decode(bytes, n, opts, &img, &inf, err);
    if (st != LOOM_OK) return st;
    st = fit(&img, opts, out_rgb);
    free(img.px);
    if (st != LOOM_OK) return loom_error_set(err, st, "no memory to resize an image");
    if (info) *info = inf;
    return LOOM_OK;
}

/* Read all of fd (a regular file of `size` bytes) into a new buffer. */
static enum loom_status read_all(int fd, size_t size, uint8_t **out, struct loom_error *err)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return loom_error_set(err, LOOM_ERR_NOMEM, "no memory for %zu bytes", size);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            free(buf);
            return loom_error_set(err, LOOM_ERR_IO, "read: %s",
                                  e ? strerror(e) : "file shrank while being read");
        }
        got += (size_t)r;
    }
    *out = buf;
    return LOOM_OK;
}

enum loom_status loom_image_load(const char *path, const struct loom_image_opts *opts,
                                 uint8_t *out_rgb, struct loom_image_info *info,
                                 struct loom_error *err)
{
    enum loom_status st = check_opts(opts, err);
    if (st != LOOM_OK) return st;
    if (!path || !out_rgb)
        return loom_error_set(err, LOOM_ERR_INVALID, "image path or output buffer is NULL");
    uint8_t *buf = NULL;
    /* O_NONBLOCK: a FIFO must not hang the loader; it is refused below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        st = loom_error_set(err, LOOM_ERR_IO, "cannot open: %s", strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = loom_error_set(err, LOOM_ERR_IO, "fstat: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = loom_error_set(err, LOOM_ERR_IO, "not a regular file");
        goto fail;
    }
    if ((uint64_t)sb.st_size > opts->max_file_bytes) {
        st = loom_error_set(err, LOOM_ERR_LIMIT, "file of %lld bytes exceeds the limit %llu",
                            (long long)sb.st_size, (unsigned long long)opts->max_file_bytes);
        goto fail;
    }
    st = read_all(fd, (size_t)sb.st_size, &buf, err);
    if (st != LOOM_OK) goto fail;
    st = loom_image_decode(buf, (size_t)sb.st_size, opts, out_rgb, info, err);
fail:
    if (fd >= 0) close(fd);
    free(buf);
    if (st != LOOM_OK && err) snprintf(err->file, sizeof err->file, "%s", path);
    return st;
}

/* One pass over the pixels writing the three planes, which GCC vectorises
 * (the three strided loads deinterleaved in registers); a pass per channel
 * was not: 7.6 -> 1.3 us a 64x64 photo (AVX-512), the same floats. It runs
 * for every photo of a training batch (the loader thread) and of a scoring
 * call (3% of a batch of 64 there). Static: the clones' resolver of an
 * extern function would leave the library's exports. */
LOOM_TARGET_CLONES
static void to_chw(const uint8_t *restrict rgb, size_t plane, const float *ab, float *restrict out)
{
    float a0 = ab[0], b0 = ab[1], a1 = ab[2], b1 = ab[3], a2 = ab[4], b2 = ab[5];
    float *restrict o0 = out, *restrict o1 = out + plane, *restrict o2 = out + 2 * plane;
    for (size_t i = 0; i < plane; i++) {
        o0[i] = (float)rgb[3 * i] * a0 + b0;
        o1[i] = (float)rgb[3 * i + 1] * a1 + b1;
        o2[i] = (float)rgb[3 * i + 2] * a2 + b2;
    }
}

void loom_image_to_chw(const uint8_t *rgb, int size, const float mean[3], const float std[3],
                       float *out)
{
    LOOM_ASSERT(size > 0 && std[0] > 0 && std[1] > 0 && std[2] > 0);
    float ab[6]; /* (v/255 - mean) / std = v * a + b, per channel */
    for (int c = 0; c < 3; c++)
        ab[2 * c] = 1.0f / (255.0f * std[c]), ab[2 * c + 1] = -mean[c] / std[c];
    to_chw(rgb, (size_t)size * (size_t)size, ab, out);
}

void loom_image_flip_h(uint8_t *rgb, int size)
{
    for (int y = 0; y < size; y++) {
        uint8_t *r = rgb + (size_t)y * (size_t)size * 3;
        for (int a = 0, b = size - 1; a < b; a++, b--) {
            for (int c = 0; c < 3; c++) {
                uint8_t t = r[3 * a + c];
                r[3 * a + c] = r[3 * b + c];
                r[3 * b + c] = t;
            }
        }
    }
}

enum loom_status loom_image_random_crop(const uint8_t *in, int size, float min_scale, bool flip,
                                        struct loom_rng *rng, uint8_t *out, struct loom_error *err)
{
    LOOM_ASSERT(size > 0 && min_scale > 0 && min_scale <= 1 && in != out);
    float u = min_scale + (1 - min_scale) * loom_rng_uniform(rng);
    int side = LOOM_MAX(1, LOOM_MIN(size, (int)(size * u + 0.5f)));
    int x = (int)loom_rng_below(rng, (uint32_t)(size - side + 1));
    int y = (int)loom_rng_below(rng, (uint32_t)(size - side + 1));
    bool mirror = flip && (loom_rng_u32(rng) & 1);
    struct loom_rgb src = {.px = (uint8_t *)in, .w = size, .h = size};
    enum loom_status st =
        loom_rgb_resample(&src, x, y, side, side, out, size, size, (size_t)size * 3);
    if (st != LOOM_OK) return loom_error_set(err, st, "no memory for a random crop");
    if (mirror) loom_image_flip_h(out, size);
    return LOOM_OK;
}
