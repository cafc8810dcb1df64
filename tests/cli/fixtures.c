/*
 * fixtures.c — what the cli suite's tests share: the temp directory they
 * work in, files written into it, `loom` run there ($LOOM_BIN, set by meson),
 * and the tiny data set (160 rows: a category, a number, a short text, 0-2
 * PNG photos, a price made from all of them) with its schema tiny.yaml.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <png.h>

#include "fixtures.h"

char dir[] = "/tmp/loom-cli-XXXXXX";

void put(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

int run(const char *args, char *out, size_t n)
{
    return run_under("", args, out, n);
}

int run_under(const char *wrapper, const char *args, char *out, size_t n)
{
    const char *bin = getenv("LOOM_BIN");
    if (!bin) fail_msg("LOOM_BIN is not set (meson test sets it to build/cli/loom)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s %s 2>&1", dir, wrapper, bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The directory goes when the test program ends: nothing is left in /tmp. */
static void remove_dir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

void setup_dir(void)
{
    static bool made; /* not dir's last letter: mkdtemp's may be an 'X' too */
    if (!made) {
        assert_non_null(mkdtemp(dir));
        atexit(remove_dir);
        made = true;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/photos && touch %s/photos/a.jpg", dir, dir);
    assert_int_equal(system(cmd), 0);
}

/* A w x w PNG of one colour, written with libpng. */
void put_png(const char *name, int w, const uint8_t rgb[3])
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_true(png && info);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng failed writing %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)w, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    uint8_t row[64 * 3];
    for (int x = 0; x < w; x++) memcpy(row + 3 * x, rgb, 3);
    for (int y = 0; y < w; y++) png_write_row(png, row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

/* The whole of dir/name (malloc'd, NUL-terminated), or NULL. */
char *slurp(const char *name, size_t *n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = 0;
    fclose(f);
    if (n) *n = (size_t)len;
    return buf;
}

int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* price = 2·[colour] + size + 1.5·[text says good] + a bit for a red photo. */
static const char *colours[3] = {"red", "green", "blue"};
static const char *notes[4] = {"it is good", "quite bad", "good as new", "old and worn"};

void make_tiny_set(void)
{
    setup_dir();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s/run* %s/*.loom %s/.*.loomcache", dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    static const uint8_t red[3] = {220, 30, 30}, grey[3] = {128, 128, 128};
    put_png("photos/r.png", 12, red);
    put_png("photos/g.png", 10, grey);
    char path[512];
    snprintf(path, sizeof path, "%s/tiny.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "id,colour,size,note,pics,price\n");
    uint32_t x = 12345;
    for (int i = 0; i < 160; i++) {
        x = x * 1664525u + 1013904223u;
        int c = (int)(x >> 29) % 3, t = (int)(x >> 24) % 4, p = (int)(x >> 20) % 3;
        double size = (double)((x >> 8) % 1000) / 100.0;
        double price = 2.0 * c + size + (t == 0 || t == 2 ? 1.5 : 0) + (p == 1 ? 0.5 : 0);
        fprintf(f, "t%03d,%s,%.2f,\"%s\",%s,%.3f\n", i, colours[c], size, notes[t],
                p == 0   ? ""
                : p == 1 ? "r.png"
                         : "g.png;r.png",
                price);
    }
    fclose(f);
    put("tiny.yaml", "data: {train: tiny.csv, split: {valid: 0.25, seed: 2}, images: photos}\n"
                     "columns:\n"
                     "  id:     {type: id}\n"
                     "  colour: {type: category}\n"
                     "  size:   {type: number}\n"
                     "  note:   {type: text, max_tokens: 6, min_count: 1}\n"
                     "  pics:   {type: images}\n"
                     "  price:  {type: number}\n"
                     "branches:\n"
                     "  tab: {encoder: mlp, columns: [colour, size], layers: [16]}\n"
                     "  txt: {encoder: rnn, columns: [note], embed: 8, hidden: 8}\n"
                     "  img: {encoder: cnn, columns: [pics], image_size: 8, channels: [4],"
                     " attention: 4}\n"
                     "fusion: {layers: [12], dropout: 0}\n"
                     "outputs:\n"
                     "  price: {}\n"
                     "training: {epochs: 4, batch_size: 16, optimizer: {lr: 0.01}, seed: 5}\n");
    /* rows to predict: no price column; line 4 is bad, line 5 has a missing photo */
    put("ask.csv", "id,colour,size,note,pics\n"
                   "q1,red,1.5,\"it is good\",r.png\n"
                   "q2,blue,7,\"old and worn\",\n"
                   "q3,green,lots,\"good\",\n"
                   "q4,green,3.25,\"quite bad\",missing.png;g.png\n"
                   "q5,purple,2,\"never seen words\",g.png\n");
}

/* dir/name := n bytes of b */
void put_bytes(const char *name, const char *b, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* The tiny set with three broken photos in three more rows (lines 162-164)
 * and data.max_bad_images set to share (NULL: the default, 1%). */
void tiny_with_bad_photos(const char *share)
{
    make_tiny_set();
    size_t n;
    char *png = slurp("photos/r.png", &n);
    assert_non_null(png);
    put_bytes("photos/cut.png", png, n / 2); /* truncated */
    png[n - 20] ^= 0x55;                     /* a CRC error near the end */
    put_bytes("photos/crc.png", png, n);
    put_bytes("photos/junk.png", "this is not a picture", 21);
    free(png);
    char path[600];
    snprintf(path, sizeof path, "%s/tiny.csv", dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("b1,red,1.00,\"it is good\",cut.png;r.png,3.5\n"
          "b2,blue,2.00,\"quite bad\",crc.png,6\n"
          "b3,green,3.00,\"good as new\",g.png;junk.png,7.5\n",
          f);
    fclose(f);
    char *yaml = slurp("tiny.yaml", NULL);
    char *at = strstr(yaml, "images: photos}");
    assert_non_null(at);
    char text[4096];
    snprintf(text, sizeof text, "%.*simages: photos%s%s}%s", (int)(at - yaml), yaml,
             share ? ", max_bad_images: " : "", share ? share : "", at + strlen("images: photos}"));
    put("tiny.yaml", text);
    free(yaml);
}
