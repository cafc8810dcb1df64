/*
 * fuzz_data.c — see fuzz_data.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "fuzz_data.h"

const char fuzz_fixed_schema_yaml[] =
    "data: {train: train.csv, split: {valid: 0.25, seed: 1}}\n"
    "columns:\n"
    "  id: {type: id}\n"
    "  n: {type: number}\n"
    "  m: {type: number, transform: log1p, missing: mean}\n"
    "  b: {type: binary}\n"
    "  c: {type: category}\n"
    "  d: {type: date}\n"
    "  s: {type: set, separator: \";\"}\n"
    "  t: {type: text, max_tokens: 6, min_count: 1}\n"
    "  u: {type: text, max_tokens: 6, min_count: 1}\n"
    "  p: {type: images, max_images: 3}\n"
    "  y: {type: number}\n"
    "  k: {type: category}\n"
    "  v: {type: vector, separator: \";\"}\n"
    "branches:\n"
    "  tab: {encoder: mlp, columns: [n, m, b, c, d, s], layers: [4]}\n"
    "  txt: {encoder: rnn, columns: [t, u], embed: 3, hidden: 3}\n"
    "  img: {encoder: cnn, columns: [p], image_size: 8, channels: [2], attention: 2}\n"
    "fusion: {layers: [4]}\n"
    "outputs:\n"
    "  y: {}\n"
    "  k: {}\n"
    "  v: {}\n"
    "training: {epochs: 2, batch_size: 8, seed: 5}\n";

void fuzz_fixed_schema(struct loom_schema *s, const char *base_dir)
{
    struct loom_schema_options so = {.skip_file_checks = base_dir == NULL};
    struct loom_diag d = {0};
    *s = (struct loom_schema){0};
    if (loom_schema_load_mem(fuzz_fixed_schema_yaml, strlen(fuzz_fixed_schema_yaml), base_dir,
                             "fixed.yaml", &so, s, &d) != LOOM_OK) {
        loom_diag_print(&d, stderr);
        abort();
    }
    loom_diag_done(&d);
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        abort();
    }
}

void fuzz_fixed_data(const char *dir)
{
    static const char *const colours[] = {"red", "green", "blue", "\"grey, dark\""};
    static const char *const words[] = {"the", "Quick", "BROWN", "fox", "jumps", "over"};
    char *csv = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&csv, &len);
    if (!f) abort();
    fprintf(f, "id,n,m,b,c,d,s,t,u,p,y,k,v\n");
    for (int i = 0; i < 40; i++) {
        fprintf(f, "r%d,", i);
        if (i % 9 != 4) fprintf(f, "%g", i * 0.5 - 3);
        fprintf(f, ",");
        if (i % 11 != 3) fprintf(f, "%d", i % 7);
        fprintf(f, ",%s,%s,2024-%02d-%02d,%s,", i % 2 ? "yes" : "no", colours[i % 4], 1 + i % 12,
                1 + i % 28,
                i % 3 == 0   ? "a;b"
                : i % 3 == 1 ? "b"
                             : "");
        fprintf(f, "\"%s %s \"\"%s\"\"\",%s %s,", words[i % 6], words[(i + 1) % 6],
                words[(i + 2) % 6], words[(i * 5) % 6], words[(i + 3) % 6]);
        fprintf(f, "%s,%g,x%d,%d;%d;%d\r\n",
                i % 5 == 0   ? "p.jpg;p.jpg"
                : i % 3 == 0 ? "p.jpg"
                             : "",
                i * 1.25, i % 3, i % 4, -(i % 3), i % 2);
    }
    if (fclose(f) != 0) abort();
    write_file(dir, "train.csv", csv, len);
    free(csv);
    struct fuzz_jpeg_opts o = {.w = 12, .h = 10, .components = 3, .quality = 80};
    unsigned long n = 0;
    unsigned char *jpg = fuzz_jpeg(&o, &n);
    write_file(dir, "p.jpg", jpg, n);
    free(jpg);
}

unsigned char *fuzz_jpeg(const struct fuzz_jpeg_opts *o, unsigned long *n)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned char *buf = NULL;
    *n = 0;
    jpeg_mem_dest(&ci, &buf, n);
    ci.image_width = (JDIMENSION)o->w;
    ci.image_height = (JDIMENSION)o->h;
    ci.input_components = o->components;
    ci.in_color_space = o->components == 1   ? JCS_GRAYSCALE
                        : o->components == 4 ? JCS_CMYK
                                             : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, o->quality, TRUE);
    if (o->components == 3) {
        ci.comp_info[0].h_samp_factor = o->h_samp ? o->h_samp : 1;
        ci.comp_info[0].v_samp_factor = o->v_samp ? o->v_samp : 1;
    }
    ci.restart_in_rows = o->restart_rows;
    ci.arith_code = o->arithmetic;
    ci.optimize_coding = o->optimize;
    if (o->progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    size_t stride = (size_t)o->w * (size_t)o->components;
    unsigned char *row = malloc(stride);
    if (!row) abort();
    while (ci.next_scanline < ci.image_height) {
        unsigned y = ci.next_scanline;
        for (int x = 0; x < o->w; x++)
            for (int c = 0; c < o->components; c++)
                row[(size_t)x * (size_t)o->components + (size_t)c] =
                    (unsigned char)((x * 255 / (o->w > 1 ? o->w - 1 : 1) + (int)y * 40 + c * 85) &
                                    0xff);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&ci, &rp, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    return buf;
}
