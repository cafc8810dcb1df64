/*
 * image_jpeg.c — JPEG to 8-bit RGB through libjpeg-turbo.
 *
 * The header is read and the limits checked before jpeg_start_decompress
 * allocates anything image-sized; the DCT scale M/8 is the smallest whose
 * output still covers the target, so a 4000x3000 photo for a 224 square is
 * decoded at 1/8 (500x375) and only then area-resized. libjpeg reports
 * errors by calling error_exit, which must not return: ours longjmps, and
 * the one setjmp lives in jpeg_run. Warnings (premature end of data,
 * corrupt data) take the same path: a damaged file is an error. A progress
 * monitor caps the number of progressive scans (each full-image scan costs
 * a pass over the coefficients; thousands of them are a denial of service).
 * Not handled: EXIF orientation, ICC profiles, 12-bit JPEG.
 */
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "loaders/image_internal.h"

struct jerr {
    struct jpeg_error_mgr pub; /* first: libjpeg sees only this */
    jmp_buf jmp;
    enum loom_status code;
    char msg[JMSG_LENGTH_MAX + 64];
};

struct jprog {
    struct jpeg_progress_mgr pub; /* first */
    int max_scans;
};

/* Everything jpeg_run touches after its setjmp lives here, in the caller's
 * frame, so it keeps its value across the longjmp. */
struct jjob {
    struct jpeg_decompress_struct cinfo;
    struct jerr err;
    struct jprog prog;
    bool created;
    uint8_t *px;  /* the RGB output, w*h*3 */
    uint8_t *row; /* one CMYK row */
    int w, h;
};

static _Noreturn void jerr_exit(j_common_ptr cinfo)
{
    struct jerr *e = (struct jerr *)cinfo->err;
    if (e->code == LOOM_OK) {
        char m[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, m);
        snprintf(e->msg, sizeof e->msg, "damaged JPEG: %s", m);
        e->code = cinfo->err->msg_code == JERR_OUT_OF_MEMORY ? LOOM_ERR_NOMEM : LOOM_ERR_FORMAT;
    }
    longjmp(e->jmp, 1);
}

/* level -1 is a warning (e.g. "Premature end of JPEG file"): an error here.
 * Levels >= 0 are trace messages: dropped. */
static void jerr_emit(j_common_ptr cinfo, int level)
{
    if (level < 0) jerr_exit(cinfo);
}

static void jerr_output(j_common_ptr cinfo)
{
    (void)cinfo; /* the library never prints */
}

static void jprog_monitor(j_common_ptr cinfo)
{
    struct jprog *p = (struct jprog *)cinfo->progress;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (!cinfo->is_decompressor || d->input_scan_number <= p->max_scans) return;
    struct jerr *e = (struct jerr *)cinfo->err;
    e->code = LOOM_ERR_LIMIT;
    snprintf(e->msg, sizeof e->msg, "progressive JPEG has more than %d scans", p->max_scans);
    longjmp(e->jmp, 1);
}

/* Smallest M in 1..8 whose M/8 output is >= size on the side that decides
 * (short side to crop, long side to pad); 8 if the picture is smaller. */
static void choose_scale(j_decompress_ptr cinfo, const struct loom_image_opts *opts)
{
    for (unsigned m = 1; m <= 8; m++) {
        cinfo->scale_num = m;
        cinfo->scale_denom = 8;
        jpeg_calc_output_dimensions(cinfo);
        JDIMENSION w = cinfo->output_width, h = cinfo->output_height;
        JDIMENSION side = opts->fit == LOOM_FIT_CROP ? LOOM_MIN(w, h) : LOOM_MAX(w, h);
        if (side >= (JDIMENSION)opts->size) return;
    }
}

/* Naive CMYK -> RGB: R = (1-C)(1-K). Adobe files store the inks inverted
 * (255 = no ink), so there R = C*K. */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int w, bool inverted)
{
    for (int x = 0; x < w; x++) {
        unsigned c = cmyk[4 * x], m = cmyk[4 * x + 1], y = cmyk[4 * x + 2], k = cmyk[4 * x + 3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        rgb[3 * x] = (uint8_t)((c * k + 127) / 255);
        rgb[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
        rgb[3 * x + 2] = (uint8_t)((y * k + 127) / 255);
    }
}

/* The one function with a setjmp: every libjpeg call is made from here. */
static enum loom_status jpeg_run(struct jjob *j, const uint8_t *bytes, size_t n,
                                 const struct loom_image_opts *opts, struct loom_image_info *info,
                                 struct loom_error *err)
{
    j_decompress_ptr cinfo = &j->cinfo;
    cinfo->err = jpeg_std_error(&j->err.pub);
    j->err.pub.error_exit = jerr_exit;
    j->err.pub.emit_message = jerr_emit;
    j->err.pub.output_message = jerr_output;
    if (setjmp(j->err.jmp)) return loom_error_set(err, j->err.code, "%s", j->err.msg);

    j->created = true; /* destroying a half-created struct is safe */
    jpeg_create_decompress(cinfo);
    j->prog.pub.progress_monitor = jprog_monitor;
    j->prog.max_scans = opts->max_scans;
    cinfo->progress = &j->prog.pub;
    jpeg_mem_src(cinfo, bytes, (unsigned long)n);
    jpeg_read_header(cinfo, TRUE);

    enum loom_status st =
        loom_image_check_dims(cinfo->image_width, cinfo->image_height, opts, "JPEG", err);
    if (st != LOOM_OK) return st;
    bool cmyk = false;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_RGB:
    case JCS_YCbCr:
        cinfo->out_color_space = JCS_RGB; /* libjpeg-turbo expands grey itself */
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK; /* YCCK -> CMYK by libjpeg, then ours */
        cmyk = true;
        break;
    default:
        return loom_error_set(err, LOOM_ERR_UNSUPPORTED,
                              "JPEG with %d components in an unknown colour space",
                              cinfo->num_components);
    }
    choose_scale(cinfo, opts);
    /* The output is area-averaged down to a few dozen pixels next: plain
     * (replicating) chroma upsampling and the fast integer IDCT lose nothing
     * visible there and save a good part of the decode. */
    cinfo->do_fancy_upsampling = FALSE;
    cinfo->dct_method = JDCT_IFAST;
    jpeg_start_decompress(cinfo);

    int w = (int)cinfo->output_width, h = (int)cinfo->output_height;
    size_t bytes_out;
    if (!loom_mul_size((size_t)w * 3, (size_t)h, &bytes_out))
        return loom_error_set(err, LOOM_ERR_LIMIT, "JPEG output %dx%d too large", w, h);
    j->px = malloc(bytes_out);
    j->row = cmyk ? malloc((size_t)w * 4) : NULL;
    if (!j->px || (cmyk && !j->row))
        return loom_error_set(err, LOOM_ERR_NOMEM, "no memory for a %dx%d JPEG", w, h);
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *dst = j->px + (size_t)cinfo->output_scanline * (size_t)w * 3;
        JSAMPROW rowp = cmyk ? j->row : dst;
        if (jpeg_read_scanlines(cinfo, &rowp, 1) != 1)
            return loom_error_set(err, LOOM_ERR_FORMAT, "damaged JPEG: no scanline");
        if (cmyk) cmyk_to_rgb(j->row, dst, w, cinfo->saw_Adobe_marker);
    }
    jpeg_finish_decompress(cinfo);

    j->w = w;
    j->h = h;
    info->width = (int)cinfo->image_width;
    info->height = (int)cinfo->image_height;
    info->decoded_width = w;
    info->decoded_height = h;
    return LOOM_OK;
}

enum loom_status loom_jpeg_decode(const uint8_t *bytes, size_t n,
                                  const struct loom_image_opts *opts, struct loom_rgb *img,
                                  struct loom_image_info *info, struct loom_error *err)
{
    struct jjob *j = calloc(1, sizeof *j); /* ~1 KB of libjpeg state: off the stack */
    if (!j) return loom_error_set(err, LOOM_ERR_NOMEM, "no memory for a JPEG decoder");
    j->err.code = LOOM_OK;
    enum loom_status st = jpeg_run(j, bytes, n, opts, info, err);
    if (j->created) jpeg_destroy_decompress(&j->cinfo);
    free(j->row);
    if (st == LOOM_OK) {
        *img = (struct loom_rgb){.px = j->px, .w = j->w, .h = j->h};
    } else {
        free(j->px);
    }
    free(j);
    return st;
}
