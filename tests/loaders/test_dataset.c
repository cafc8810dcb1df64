/* test_dataset.c — from a schema and files on disk to batches: fitting on
 * the training rows only, every column type in a batch, photos decoded,
 * resized and normalised, bad rows and bad photos counted (or stopping the
 * pass), paths that leave the image root, the split, the cache (reuse,
 * invalidation, damage), and the batcher's determinism and seek. */
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "loaders/dataset.h"
#include "loaders/prep_internal.h"
#include "loaders/rows.h"
#include "tests/loaders/fixtures.h"
#include "tests/testlib.h"

static const uint8_t solid[3] = {50, 100, 150}; /* b.png */

static const char *train_csv =
    "id,num,cat,flag,when,title,photos,tags,emb,price,extra\n"
    "r1,1.0,red,yes,2024-01-15,\"Hello, World\",a.jpg;b.png,x;y,1;2,10,zzz\n"
    "r2,2.0,blue,no,2024-02-01,\"Big \"\"quoted\"\"\nnew line\",,y,3;4,20,\n"
    "r3,,red,,2023-12-31,plain text,c.jpg,,5;6,30,\n"
    "r4,4.0,green,1,,More words here,a.jpg;bad.jpg,x,7;8,40,\n"
    "r5,notanumber,red,0,2024-03-03,bad row,a.jpg,,1;1,50,\n"
    "r6,6.0,red,true,2024-04-04,t6,../outside.jpg;b.png,,2;2,60,\n"
    "r7,4.0,blue,no,2024-05-05,seven,a.jpg;b.png;c.jpg,y,1;0,70,\n";

static const char *valid_csv = "id,num,cat,flag,when,title,photos,tags,emb,price,extra\n"
                               "v1,100,purple,no,2024-01-01,Hello there,b.png,x,0;1,5,\n"
                               "v2,,,,,,,,,,\n";

/* The schema; %s: extra keys of data (one line, indented), %s: on_bad_row. */
static const char *schema_fmt = "data:\n"
                                "  train: train.csv\n"
                                "  images: photos\n"
                                "%s"
                                "  csv: {on_bad_row: %s, max_bad_rows: %s}\n"
                                "columns:\n"
                                "  id: {type: id}\n"
                                "  num: {type: number}\n"
                                "  cat: {type: category}\n"
                                "  flag: {type: binary}\n"
                                "  when: {type: date}\n"
                                "  title: {type: text, max_tokens: 6, min_count: 1}\n"
                                "  photos: {type: images, max_images: 2}\n"
                                "  tags: {type: set}\n"
                                "  emb: {type: vector}\n"
                                "  price: {type: number, transform: log1p}\n"
                                "%s"
                                "branches:\n"
                                "  tab: {encoder: mlp, columns: [num, cat, flag, when, tags%s]}\n"
                                "  txt: {encoder: rnn, columns: [title]}\n"
                                "  img: {encoder: cnn, columns: [photos], image_size: 16}\n"
                                "outputs:\n"
                                "  price: {}\n"
                                "  emb: {}\n";

enum { C_ID, C_NUM, C_CAT, C_FLAG, C_WHEN, C_TITLE, C_PHOTOS, C_TAGS, C_EMB, C_PRICE };

struct fx {
    char dir[64];
    struct loom_schema s;
};

static void write_file(const char *dir, const char *name, const void *bytes, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

static void make_files(struct fx *f)
{
    strcpy(f->dir, "/tmp/loom_ds_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/photos", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_file(f->dir, "train.csv", train_csv, strlen(train_csv));
    write_file(f->dir, "valid.csv", valid_csv, strlen(valid_csv));
    size_t n;
    uint8_t *a = fx_jpeg(64, 48, FX_JPEG_RGB, false, &n);
    write_file(f->dir, "photos/a.jpg", a, n);
    free(a);
    uint8_t *c = fx_jpeg(40, 40, FX_JPEG_GREY, true, &n);
    write_file(f->dir, "photos/c.jpg", c, n);
    write_file(f->dir, "outside.jpg", c, n); /* valid, but outside the root */
    free(c);
    uint8_t px[32 * 32 * 3];
    for (int i = 0; i < 32 * 32; i++) memcpy(px + 3 * i, solid, 3);
    uint8_t *b = fx_png_rgb(32, 32, 8, px, &n);
    write_file(f->dir, "photos/b.png", b, n);
    free(b);
    write_file(f->dir, "photos/bad.jpg", "\xff\xd8\xff garbage", 12);
}

/* Load the schema; data_extra defaults to a valid file and permissive
 * photo threshold. */
static void load_schema_ex(struct fx *f, const char *data_extra, const char *on_bad,
                           const char *max_bad, const char *more_cols, const char *more_tab)
{
    char text[4096];
    snprintf(text, sizeof text, schema_fmt,
             data_extra ? data_extra : "  valid: valid.csv\n  max_bad_images: 0.9\n", on_bad,
             max_bad, more_cols, more_tab);
    struct loom_diag d = {0};
    enum loom_status st =
        loom_schema_load_mem(text, strlen(text), f->dir, "t.yaml", NULL, &f->s, &d);
    if (st != LOOM_OK) loom_diag_print(&d, stderr);
    assert_int_equal(st, LOOM_OK);
    loom_diag_done(&d);
}

/* The default schema with the CSV's `extra` column as a second text column
 * of the rnn branch (which shares one vocabulary by default). */
static void load_schema_shared_text(struct fx *f)
{
    char text[4096], *at;
    snprintf(text, sizeof text, schema_fmt, "  valid: valid.csv\n  max_bad_images: 0.9\n", "skip",
             "0.5", "  extra: {type: text, max_tokens: 3, min_count: 1}\n", "");
    at = strstr(text, "columns: [title]");
    assert_non_null(at);
    char tail[2048];
    snprintf(tail, sizeof tail, "columns: [title, extra]%s", at + strlen("columns: [title]"));
    strcpy(at, tail);
    struct loom_diag d = {0};
    assert_int_equal(loom_schema_load_mem(text, strlen(text), f->dir, "t.yaml", NULL, &f->s, &d),
                     LOOM_OK);
}

static void load_schema(struct fx *f, const char *data_extra, const char *on_bad)
{
    load_schema_ex(f, data_extra, on_bad, "0.5", "", "");
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void cleanup(struct fx *f)
{
    loom_schema_free(&f->s);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool report_has(const struct loom_data_report *r, const char *what)
{
    for (int i = 0; i < r->nexamples; i++)
        if (strstr(r->examples[i].message, what)) return true;
    return false;
}

static struct loom_dataset *open_split(struct fx *f, const struct loom_prep *p, enum loom_split sp,
                                       bool cache, struct loom_data_report *rep)
{
    struct loom_dataset_opts o;
    loom_dataset_opts_default(&o);
    o.use_cache = cache;
    o.threads = 2;
    struct loom_dataset *d = NULL;
    struct loom_error e = {0};
    enum loom_status st = loom_dataset_open(&f->s, p, sp, &o, &d, rep, &e);
    if (st != LOOM_OK) fprintf(stderr, "dataset: %s\n", e.message);
    assert_int_equal(st, LOOM_OK);
    return d;
}

static struct loom_prep *fit(struct fx *f, struct loom_data_report *rep)
{
    struct loom_prep *p = NULL;
    struct loom_error e = {0};
    enum loom_status st = loom_prep_fit(&f->s, NULL, &p, rep, &e);
    if (st != LOOM_OK) fprintf(stderr, "fit: %s\n", e.message);
    assert_int_equal(st, LOOM_OK);
    return p;
}

/* All rows in order, as one batch. */
static struct loom_batcher *whole(const struct loom_dataset *d)
{
    struct loom_batcher_opts bo = {.batch_size = 64, .seed = 1};
    struct loom_batcher *b = NULL;
    assert_int_equal(loom_batcher_new(d, &bo, &b, NULL), LOOM_OK);
    return b;
}

/* The 8-bit value back from a normalised pixel. */
static double unnorm(float v, int c)
{
    static const double m[3] = {0.485, 0.456, 0.406}, s[3] = {0.229, 0.224, 0.225};
    return (v * s[c] + m[c]) * 255.0;
}

static int32_t tok(const struct loom_prep *p, const char *t)
{
    int32_t id = loom_vocab_lookup(p->c[C_TITLE].vocab, t, strlen(t));
    assert_true(id >= LOOM_VOCAB_NSPECIAL);
    return id;
}

LOOM_TEST(dataset_train_columns_and_photos)
{
    struct fx f;
    make_files(&f);
    load_schema(&f, NULL, "skip");
    struct loom_data_report fr;
    struct loom_prep *p = fit(&f, &fr);
    assert_int_equal(fr.rows_read, 7);
    assert_int_equal(fr.rows_ok, 6);
    assert_int_equal(fr.rows_bad, 1);
    assert_true(report_has(&fr, "notanumber") && report_has(&fr, "'num'"));
    assert_int_equal(fr.examples[0].line, 7);

    struct loom_data_report rep;
    struct loom_dataset *d = open_split(&f, p, LOOM_SPLIT_TRAIN, false, &rep);
    assert_false(rep.from_cache);
    assert_int_equal(loom_dataset_rows(d), 6);
    assert_int_equal(rep.rows_read, 7);
    assert_int_equal(rep.rows_ok + rep.rows_bad + rep.rows_dropped, rep.rows_read);
    assert_int_equal(rep.images_ok, 8);
    assert_int_equal(rep.images_bad, 2);
    assert_int_equal(rep.rows_bad_images, 2);
    assert_true(report_has(&rep, "bad.jpg"));
    assert_true(report_has(&rep, "outside.jpg") && report_has(&rep, "leaves the image root"));
    size_t len;
    const char *id = loom_dataset_row_id(d, 4, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(id, "r6", 2);
    assert_int_equal(loom_dataset_row_line(d, 1), 3); /* r2: its quoted newline */
    assert_int_equal(loom_dataset_row_line(d, 4), 8);

    struct loom_batcher *b = whole(d);
    const struct loom_batch *bt;
    assert_int_equal(loom_batcher_next(b, &bt, NULL), LOOM_OK);
    assert_int_equal(bt->n, 6);
    for (int i = 0; i < 6; i++) assert_int_equal(bt->rows[i], i);
    /* number: mean/std of 1, 2, 4, 6, 4 (the bad row's left out); median 4 fills r3. */
    const struct loom_batch_col *num = &bt->cols[C_NUM];
    double sd = sqrt(3.04);
    assert_near(num->x[0], (1 - 3.4) / sd, 1e-5);
    assert_near(num->x[2], (4 - 3.4) / sd, 1e-5);
    assert_near(num->present[2], 0, 0);
    assert_near(num->present[0], 1, 0);
    /* category: red (3 rows) 2, blue (2) 3, green 4 */
    const int32_t want_cat[6] = {2, 3, 2, 4, 2, 3};
    for (int i = 0; i < 6; i++) assert_int_equal(bt->cols[C_CAT].ids[i], want_cat[i]);
    /* binary */
    assert_near(bt->cols[C_FLAG].x[0], 1, 0);
    assert_near(bt->cols[C_FLAG].x[1], 0, 0);
    assert_near(bt->cols[C_FLAG].present[2], 0, 0);
    /* date: r4 missing; the parts of the others standardised (mean 0 over them) */
    const struct loom_batch_col *dt = &bt->cols[C_WHEN];
    assert_int_equal(dt->width, LOOM_DATE_NFEAT);
    assert_near(dt->present[3], 0, 0);
    for (int j = 0; j < LOOM_DATE_NFEAT; j++) {
        assert_near(dt->x[3 * LOOM_DATE_NFEAT + j], 0, 0);
        double m = 0;
        for (int i = 0; i < 6; i++)
            if (i != 3) m += dt->x[i * LOOM_DATE_NFEAT + j];
        assert_near(m / 5, 0, 1e-5);
    }
    /* text: xxbos xxmaj hello , xxmaj world (T = 7) */
    const struct loom_batch_col *tx = &bt->cols[C_TITLE];
    assert_int_equal(tx->width, 7);
    int32_t want_t[7] = {LOOM_VOCAB_BOS, LOOM_VOCAB_MAJ,  tok(p, "hello"), tok(p, ","),
                         LOOM_VOCAB_MAJ, tok(p, "world"), LOOM_VOCAB_PAD};
    assert_memory_equal(tx->ids, want_t, sizeof want_t);
    assert_int_equal(tx->lengths[0], 6);
    assert_int_equal(tx->ids[1 * 7 + 2], tok(p, "big")); /* bos, maj, big, ", ... */
    /* set: y (3 rows) label 0, x (2) label 1 */
    const struct loom_batch_col *tg = &bt->cols[C_TAGS];
    assert_int_equal(tg->width, 2);
    assert_near(tg->x[0], 1, 0);
    assert_near(tg->x[1], 1, 0);
    assert_near(tg->x[2], 1, 0);
    assert_near(tg->x[3], 0, 0);
    assert_near(tg->present[2], 0, 0);
    /* vector and the log1p output */
    assert_near(bt->cols[C_EMB].x[2], 3, 0);
    assert_near(loom_prep_decode_number(p, C_PRICE, bt->cols[C_PRICE].x[0]), 10, 1e-3);
    /* photos: r1 a,b; r2 none; r3 c; r4 a (bad.jpg dropped); r6 b; r7 the first 2 of 3 */
    const struct loom_batch_col *ph = &bt->cols[C_PHOTOS];
    assert_int_equal(ph->size, 16);
    const int64_t want_off[7] = {0, 2, 2, 3, 4, 5, 7};
    assert_memory_equal(ph->offsets, want_off, sizeof want_off);
    assert_int_equal(ph->count, 7);
    size_t plane = 16 * 16;
    const float *pa = ph->pixels, *pb = ph->pixels + 3 * plane;
    for (int c = 0; c < 3; c++) {
        assert_near(unnorm(pb[c * plane + 7 * 16 + 7], c), solid[c], 0.01);
        assert_near(unnorm(pa[c * plane + 1 * 16 + 1], c), fx_quad[0][c], 12);
        assert_near(unnorm(pa[c * plane + 14 * 16 + 14], c), fx_quad[3][c], 12);
    }
    assert_int_equal(loom_batcher_next(b, &bt, NULL), LOOM_OK);
    assert_null(bt); /* end of the epoch */
    loom_batcher_free(&b);
    loom_dataset_close(&d);

    /* The validation rows: train statistics, unknown and missing codes. */
    d = open_split(&f, p, LOOM_SPLIT_VALID, false, &rep);
    assert_int_equal(loom_dataset_rows(d), 2);
    b = whole(d);
    assert_int_equal(loom_batcher_next(b, &bt, NULL), LOOM_OK);
    assert_near(bt->cols[C_NUM].x[0], (100 - 3.4) / sd, 1e-4);
    assert_int_equal(bt->cols[C_CAT].ids[0], LOOM_CATEGORY_UNKNOWN);
    assert_int_equal(bt->cols[C_CAT].ids[1], LOOM_CATEGORY_MISSING);
    assert_int_equal(bt->cols[C_TITLE].lengths[1], 1); /* xxbos only */
    assert_near(bt->cols[C_PRICE].present[1], 0, 0);   /* masked target */
    assert_near(bt->cols[C_EMB].present[1], 0, 0);
    assert_int_equal(bt->cols[C_PHOTOS].offsets[2], 1);
    loom_batcher_free(&b);
    loom_dataset_close(&d);
    loom_prep_free(&p);
    cleanup(&f);
}

LOOM_TEST(dataset_prep_save_load)
{
    struct fx f;
    make_files(&f);
    load_schema(&f, NULL, "skip");
    struct loom_prep *p = fit(&f, NULL), *q = NULL;
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t n = 0, n2 = 0;
    assert_int_equal(loom_prep_save(p, &buf, &n, NULL), LOOM_OK);
    struct loom_error le = {0};
    enum loom_status lst = loom_prep_load(&f.s, buf, n, &q, &le);
    if (lst) fprintf(stderr, "load: %s\n", le.message);
    assert_int_equal(lst, LOOM_OK);
    assert_int_equal(loom_prep_save(q, &buf2, &n2, NULL), LOOM_OK);
    assert_int_equal(n, n2);
    assert_memory_equal(buf, buf2, n);
    struct loom_prep_column_info info;
    assert_int_equal(loom_prep_column(q, C_CAT, &info, NULL), LOOM_OK);
    assert_int_equal(info.cardinality, 5);
    assert_int_equal(loom_prep_column(q, C_PHOTOS, &info, NULL), LOOM_OK);
    assert_int_equal(info.image_size, 16);
    size_t len;
    assert_memory_equal(loom_prep_label(q, C_CAT, 2, &len), "red", 3);
    /* Every single-byte change and truncation is refused, never trusted. */
    for (size_t i = 0; i < n; i += 7) {
        struct loom_prep *r = NULL;
        buf[i] ^= 0x20;
        assert_int_not_equal(loom_prep_load(&f.s, buf, n, &r, NULL), LOOM_OK);
        buf[i] ^= 0x20;
        assert_int_not_equal(loom_prep_load(&f.s, buf, i, &r, NULL), LOOM_OK);
        assert_null(r);
    }
    /* Another schema (an extra column) is refused. */
    struct fx g = f;
    memset(&g.s, 0, sizeof g.s);
    load_schema_ex(&g, NULL, "skip", "0.5", "  extra: {type: number}\n", ", extra");
    struct loom_error e;
    assert_int_equal(loom_prep_load(&g.s, buf, n, &q, &e), LOOM_ERR_FORMAT);
    assert_non_null(strstr(e.message, "columns"));
    loom_schema_free(&g.s);
    /* Two text columns of one rnn branch share a vocabulary, saved once. */
    load_schema_shared_text(&g);
    struct loom_prep *sh = fit(&g, NULL), *sh2 = NULL;
    int extra = loom_schema_find_column(&g.s, "extra");
    assert_ptr_equal(sh->c[extra].vocab, sh->c[C_TITLE].vocab);
    assert_true(loom_vocab_lookup(sh->c[C_TITLE].vocab, "zzz", 3) >= LOOM_VOCAB_NSPECIAL);
    uint8_t *sb = NULL;
    size_t sn = 0;
    assert_int_equal(loom_prep_save(sh, &sb, &sn, NULL), LOOM_OK);
    assert_int_equal(loom_prep_load(&g.s, sb, sn, &sh2, NULL), LOOM_OK);
    assert_ptr_equal(sh2->c[extra].vocab, sh2->c[C_TITLE].vocab);
    assert_int_equal(loom_vocab_lookup(sh2->c[extra].vocab, "zzz", 3),
                     loom_vocab_lookup(sh->c[extra].vocab, "zzz", 3));
    /* ... and a prep of the unshared schema does not load into it */
    assert_int_equal(loom_prep_load(&g.s, buf, n, &q, &e), LOOM_ERR_FORMAT);
    free(sb);
    loom_prep_free(&sh);
    loom_prep_free(&sh2);
    loom_schema_free(&g.s);
    free(buf);
    free(buf2);
    loom_prep_free(&q);
    loom_prep_free(&p);
    cleanup(&f);
}

LOOM_TEST(dataset_bad_rows_stop_and_limits)
{
    struct fx f;
    make_files(&f);
    /* on_bad_row: stop names the line and the column. */
    load_schema(&f, NULL, "stop");
    struct loom_prep *p = NULL;
    struct loom_error e = {0};
    assert_int_equal(loom_prep_fit(&f.s, NULL, &p, NULL, &e), LOOM_ERR_PARSE);
    assert_int_equal(e.line, 7);
    assert_non_null(strstr(e.message, "'num'"));
    assert_non_null(strstr(e.message, "stop"));
    assert_null(p);
    loom_schema_free(&f.s);
    /* More bad rows than allowed. */
    load_schema_ex(&f, NULL, "skip", "0.1", "", "");
    assert_int_equal(loom_prep_fit(&f.s, NULL, &p, NULL, &e), LOOM_ERR_LIMIT);
    assert_non_null(strstr(e.message, "max_bad_rows"));
    loom_schema_free(&f.s);
    /* More rows with bad photos than allowed (2 of 6). */
    load_schema(&f, "  valid: valid.csv\n  max_bad_images: 0.2\n", "skip");
    p = fit(&f, NULL);
    struct loom_dataset *d = NULL;
    struct loom_dataset_opts o;
    loom_dataset_opts_default(&o);
    o.use_cache = false;
    assert_int_equal(loom_dataset_open(&f.s, p, LOOM_SPLIT_TRAIN, &o, &d, NULL, &e),
                     LOOM_ERR_LIMIT);
    assert_non_null(strstr(e.message, "max_bad_images"));
    assert_null(d);
    loom_prep_free(&p);
    loom_schema_free(&f.s);
    /* A declared column missing from the file is named. */
    load_schema_ex(&f, NULL, "skip", "0.5", "  nope: {type: number}\n", ", nope");
    assert_int_equal(loom_prep_fit(&f.s, NULL, &p, NULL, &e), LOOM_ERR_SCHEMA);
    assert_non_null(strstr(e.message, "'nope'"));
    cleanup(&f);
}

LOOM_TEST(dataset_image_root_escape)
{
    struct fx f;
    make_files(&f);
    char abs_in[256], csv[2048];
    snprintf(abs_in, sizeof abs_in, "%s/photos/b.png", f.dir);
    snprintf(csv, sizeof csv,
             "id,num,cat,flag,when,title,photos,tags,emb,price\n"
             "a,1,x,1,2024-01-01,t,%s;/etc/passwd;photos/../../outside.jpg;../photos/b.png,,1,1\n"
             "b,2,y,0,2024-01-02,t,%s/../outside.jpg; b.png ;..,,1,2\n",
             abs_in, f.dir);
    write_file(f.dir, "train.csv", csv, strlen(csv));
    load_schema(&f, "  valid: valid.csv\n  max_bad_images: 1\n", "skip");
    struct loom_prep *p = fit(&f, NULL);
    struct loom_data_report rep;
    struct loom_dataset *d = open_split(&f, p, LOOM_SPLIT_TRAIN, false, &rep);
    assert_int_equal(rep.images_ok, 2); /* the absolute path inside the root, and " b.png " */
    assert_int_equal(rep.images_bad, 5);
    assert_true(report_has(&rep, "/etc/passwd"));
    loom_dataset_close(&d);
    loom_prep_free(&p);
    cleanup(&f);
}

/* A larger training file of simple rows for the split. */
static void many_rows(struct fx *f, int n)
{
    size_t cap = (size_t)n * 80 + 100, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv, cap, "id,num,cat,flag,when,title,photos,tags,emb,price\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(csv + len, cap - len, "k%d,%d,c%d,1,2024-01-01,w%d,,t,1;2,%d\n", i,
                                i, i % 5, i % 7, i);
    write_file(f->dir, "train.csv", csv, len);
    free(csv);
}

/* The number k of row i's id "k<k>" (ids are not NUL-terminated: they sit
 * end to end in one pool). */
static int id_number(const struct loom_dataset *d, int64_t i)
{
    size_t len;
    const char *id = loom_dataset_row_id(d, i, &len);
    char buf[32];
    assert_true(len > 1 && len < sizeof buf);
    memcpy(buf, id, len);
    buf[len] = 0;
    return atoi(buf + 1);
}

static int64_t ids_to_set(const struct loom_dataset *d, uint8_t *seen, int n)
{
    int64_t rows = loom_dataset_rows(d);
    for (int64_t i = 0; i < rows; i++) {
        int k = id_number(d, i);
        assert_true(k >= 0 && k < n);
        seen[k]++;
    }
    return rows;
}

LOOM_TEST(dataset_split_deterministic)
{
    struct fx f;
    make_files(&f);
    int n = 400;
    many_rows(&f, n);
    load_schema(&f, "  split: {valid: 0.25, seed: 5}\n  max_bad_images: 0.9\n", "skip");
    struct loom_data_report fr;
    struct loom_prep *p = fit(&f, &fr);
    struct loom_dataset *tr = open_split(&f, p, LOOM_SPLIT_TRAIN, false, NULL);
    struct loom_dataset *va = open_split(&f, p, LOOM_SPLIT_VALID, false, NULL);
    uint8_t *seen = calloc((size_t)n, 1);
    int64_t ntr = ids_to_set(tr, seen, n), nva = ids_to_set(va, seen, n);
    assert_int_equal(ntr + nva, n);
    assert_int_equal(fr.rows_read, ntr); /* fit saw exactly the training rows */
    assert_true(nva > 60 && nva < 140);
    for (int i = 0; i < n; i++) assert_int_equal(seen[i], 1);
    /* Row k is held out exactly when the split function says so. */
    for (int64_t i = 0; i < nva; i++) {
        assert_true(loom_split_held_out(&f.s, id_number(va, i)));
    }
    /* Another seed, another split. */
    int differ = 0;
    struct loom_schema s2 = f.s;
    s2.data.split.seed = 6;
    for (int k = 0; k < n; k++)
        differ += loom_split_held_out(&f.s, k) != loom_split_held_out(&s2, k);
    assert_true(differ > 20);
    free(seen);
    loom_dataset_close(&tr);
    loom_dataset_close(&va);
    loom_prep_free(&p);
    cleanup(&f);
}

static void assert_batches_equal(const struct loom_batch *a, const struct loom_batch *b)
{
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->rows, b->rows, (size_t)a->n * sizeof *a->rows);
    for (int c = 0; c < a->ncols; c++) {
        const struct loom_batch_col *x = &a->cols[c], *y = &b->cols[c];
        size_t nw = (size_t)a->n * (size_t)x->width;
        assert_int_equal(x->type, y->type);
        if (x->x) assert_memory_equal(x->x, y->x, nw * sizeof(float));
        if (x->present) assert_memory_equal(x->present, y->present, (size_t)a->n * sizeof(float));
        if (x->ids) assert_memory_equal(x->ids, y->ids, nw * sizeof(int32_t));
        if (x->lengths) assert_memory_equal(x->lengths, y->lengths, (size_t)a->n * sizeof(int32_t));
        if (x->type == LOOM_COL_IMAGES) {
            assert_int_equal(x->count, y->count);
            assert_memory_equal(x->offsets, y->offsets, (size_t)(a->n + 1) * sizeof(int64_t));
            assert_memory_equal(x->pixels, y->pixels,
                                (size_t)x->count * 3 * (size_t)x->size * (size_t)x->size *
                                    sizeof(float));
        }
    }
}

static struct loom_batcher *batcher(const struct loom_dataset *d, int threads, int bs)
{
    struct loom_batcher_opts bo = {
        .batch_size = bs, .shuffle = true, .training = true, .seed = 11, .threads = threads};
    struct loom_batcher *b = NULL;
    assert_int_equal(loom_batcher_new(d, &bo, &b, NULL), LOOM_OK);
    return b;
}

/* Both batchers give the same batches for `epochs` epochs, the first
 * starting at batch k0. */
static void assert_same_stream(struct loom_batcher *x, struct loom_batcher *y, int epochs,
                               int64_t k0)
{
    for (int e = 0; e < epochs; e++) {
        int64_t k = e ? 0 : k0;
        for (;; k++) {
            const struct loom_batch *a, *b;
            assert_int_equal(loom_batcher_next(x, &a, NULL), LOOM_OK);
            assert_int_equal(loom_batcher_next(y, &b, NULL), LOOM_OK);
            assert_true((a == NULL) == (b == NULL));
            if (!a) break;
            assert_batches_equal(a, b);
        }
        assert_int_equal(k, loom_batcher_count(x));
    }
}

LOOM_TEST(dataset_cache_reuse_invalidate_damage)
{
    struct fx f;
    make_files(&f);
    load_schema(&f, NULL, "skip");
    struct loom_prep *p = fit(&f, NULL);
    struct loom_data_report r1, r2;
    struct loom_dataset *d1 = open_split(&f, p, LOOM_SPLIT_TRAIN, true, &r1);
    assert_false(r1.from_cache);
    const char *cp = loom_dataset_cache_path(d1);
    assert_non_null(cp);
    char path[512];
    snprintf(path, sizeof path, "%s", cp);
    assert_int_equal(strncmp(path, f.dir, strlen(f.dir)), 0); /* beside the data */
    assert_int_equal(access(path, R_OK), 0);
    struct loom_dataset *d2 = open_split(&f, p, LOOM_SPLIT_TRAIN, true, &r2);
    assert_true(r2.from_cache);
    assert_int_equal(r2.rows_bad, r1.rows_bad);
    assert_int_equal(r2.images_bad, r1.images_bad);
    assert_int_equal(r2.nexamples, r1.nexamples);
    assert_string_equal(r2.examples[0].message, r1.examples[0].message);
    assert_int_equal(loom_dataset_row_line(d2, 4), 8);
    struct loom_batcher *b1 = batcher(d1, 1, 4), *b2 = batcher(d2, 1, 4);
    assert_same_stream(b1, b2, 2, 0);
    loom_batcher_free(&b1);
    loom_batcher_free(&b2);
    loom_dataset_close(&d2);

    /* Damage: flipped bytes (header, table, contents), then a truncation. */
    size_t n;
    uint8_t *orig = fx_read(path, &n);
    assert_non_null(orig);
    size_t at[4] = {20, 70, n / 2, n - 1};
    for (int i = 0; i < 5; i++) {
        uint8_t *bad = malloc(n);
        memcpy(bad, orig, n);
        size_t len = n;
        if (i < 4)
            bad[at[i]] ^= 0x01;
        else
            len = n - 100;
        write_file("/", path + 1, bad, len);
        free(bad);
        struct loom_data_report r;
        d2 = open_split(&f, p, LOOM_SPLIT_TRAIN, true, &r);
        assert_false(r.from_cache);
        assert_int_equal(r.rows_ok, 6);
        loom_dataset_close(&d2);
        d2 = open_split(&f, p, LOOM_SPLIT_TRAIN, true, &r); /* rebuilt: good again */
        assert_true(r.from_cache);
        loom_dataset_close(&d2);
    }
    free(orig);

    /* Touching the data file (another mtime) invalidates the cache. */
    struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    char csv[256];
    snprintf(csv, sizeof csv, "%s/train.csv", f.dir);
    assert_int_equal(utimensat(AT_FDCWD, csv, ts, 0), 0);
    struct loom_data_report r3;
    d2 = open_split(&f, p, LOOM_SPLIT_TRAIN, true, &r3);
    assert_false(r3.from_cache);
    assert_int_not_equal(strcmp(loom_dataset_cache_path(d2), path), 0);
    assert_int_not_equal(access(path, F_OK), 0); /* the stale one is gone */
    loom_dataset_close(&d2);
    loom_dataset_close(&d1);
    loom_prep_free(&p);
    cleanup(&f);
}

/* Found by tests/fuzz/fuzz_cache: a cache whose checksums are right but
 * whose id texts hold a NUL byte (or invalid UTF-8), which no CSV pass can
 * produce, was trusted. Now it is refused and the split rebuilt. */
static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

LOOM_TEST(dataset_cache_refuses_bad_id_text)
{
    struct fx f;
    make_files(&f);
    load_schema(&f, NULL, "skip");
    struct loom_prep *p = fit(&f, NULL);
    struct loom_data_report r;
    struct loom_dataset *d = open_split(&f, p, LOOM_SPLIT_TRAIN, true, &r);
    char path[512];
    snprintf(path, sizeof path, "%s", loom_dataset_cache_path(d));
    loom_dataset_close(&d);
    size_t n;
    uint8_t *orig = fx_read(path, &n);
    assert_non_null(orig);
    /* the id pool: section kind 3 of the table after the 64-byte header */
    uint32_t nsec = orig[12] | orig[13] << 8 | orig[14] << 16 | (uint32_t)orig[15] << 24;
    uint64_t off = 0;
    for (uint32_t i = 0; i < nsec; i++) {
        const uint8_t *e = orig + 64 + 32 * (size_t)i;
        if (e[0] != 3) continue;
        for (int k = 7; k >= 0; k--) off = off << 8 | e[8 + k];
    }
    assert_true(off > 0 && off < n);
    static const uint8_t bad_bytes[2] = {0x00, 0xff}; /* NUL; not UTF-8 */
    for (int i = 0; i < 2; i++) {
        uint8_t *bad = malloc(n);
        memcpy(bad, orig, n);
        bad[off] = bad_bytes[i]; /* the first byte of the first id, "r1" */
        put_le32(bad + 40, (uint32_t)crc32_z(0L, bad + 64, n - 64));
        put_le32(bad + 48, (uint32_t)crc32(0L, bad, 48));
        write_file("/", path + 1, bad, n);
        free(bad);
        d = open_split(&f, p, LOOM_SPLIT_TRAIN, true, &r);
        assert_false(r.from_cache);
        size_t len = 0;
        const char *id = loom_dataset_row_id(d, 0, &len);
        assert_int_equal(len, 2);
        assert_memory_equal(id, "r1", 2);
        loom_dataset_close(&d);
    }
    free(orig);
    loom_prep_free(&p);
    cleanup(&f);
}

LOOM_TEST(dataset_batcher_threads_seek)
{
    struct fx f;
    make_files(&f);
    int n = 50;
    many_rows(&f, n);
    /* Give every row the photos of the fixture: a with b, c alone, or all three. */
    const char *bags[3] = {"a.jpg;b.png", "c.jpg", "a.jpg;b.png;c.jpg"};
    size_t cap = 8192, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv, cap, "id,num,cat,flag,when,title,photos,tags,emb,price\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(csv + len, cap - len, "k%d,%d,c%d,1,2024-01-01,w%d,%s,t,1;2,%d\n",
                                i, i, i % 5, i % 7, bags[i % 3], i);
    write_file(f.dir, "train.csv", csv, len);
    free(csv);
    load_schema(&f, NULL, "skip");
    struct loom_prep *p = fit(&f, NULL);
    struct loom_data_report rep;
    struct loom_dataset *d = open_split(&f, p, LOOM_SPLIT_TRAIN, false, &rep);
    assert_int_equal(rep.rows_ok, n);
    /* 1 and 2 loader threads: the same batches, augmentation included. */
    struct loom_batcher *b1 = batcher(d, 1, 7), *b2 = batcher(d, 2, 7);
    assert_int_equal(loom_batcher_count(b1), 8);
    assert_same_stream(b1, b2, 3, 0);
    /* Every row once per epoch; at most max_images photos per row. */
    uint8_t seen[50] = {0};
    const struct loom_batch *bt;
    for (;;) {
        assert_int_equal(loom_batcher_next(b1, &bt, NULL), LOOM_OK);
        if (!bt) break;
        for (int64_t i = 0; i < bt->n; i++) seen[bt->rows[i]]++;
        const struct loom_batch_col *ph = &bt->cols[C_PHOTOS];
        for (int64_t i = 0; i < bt->n; i++) assert_true(ph->offsets[i + 1] - ph->offsets[i] <= 2);
    }
    for (int i = 0; i < n; i++) assert_int_equal(seen[i], 1);
    /* seek(epoch, k) gives the batch that iterating to it gives. */
    struct loom_batcher *b3 = batcher(d, 2, 7);
    const struct loom_batch *want = NULL;
    for (int e = 0; e <= 2; e++)
        for (int k = 0; k <= 8; k++) {
            assert_int_equal(loom_batcher_next(b3, &want, NULL), LOOM_OK);
            if (e == 2 && k == 5) goto found;
        }
found:
    assert_non_null(want);
    assert_int_equal(loom_batcher_seek(b2, 2, 5, NULL), LOOM_OK);
    assert_int_equal(loom_batcher_next(b2, &bt, NULL), LOOM_OK);
    assert_batches_equal(bt, want);
    /* and the rest of the run goes on in step */
    assert_same_stream(b2, b3, 2, 6);
    assert_int_not_equal(loom_batcher_seek(b2, 0, 9, NULL), LOOM_OK);
    loom_batcher_free(&b1);
    loom_batcher_free(&b2);
    loom_batcher_free(&b3);
    loom_dataset_close(&d);
    loom_prep_free(&p);
    cleanup(&f);
}

/* Any CSV through a fitted prep (prediction): output columns may be absent
 * with targets_optional (read as missing), every row is read whatever the
 * split, and without the option a missing output column is an error naming
 * it. */
LOOM_TEST(dataset_open_file_targets_optional)
{
    struct fx f;
    make_files(&f);
    load_schema(&f, "  split: {valid: 0.5, seed: 3}\n  max_bad_images: 0.9\n", "skip");
    struct loom_prep *p = fit(&f, NULL);
    const char *csv = "num,id,cat,flag,when,title,photos,tags\n" /* no price, no emb */
                      "3.0,p1,blue,yes,2024-01-02,hello,b.png,x\n"
                      "oops,p2,red,no,,,,\n"
                      "4.0,p3,red,no,,,a.jpg;bad.jpg,\n"
                      "5.0,p4,pink,no,,world,,y\n";
    write_file(f.dir, "predict.csv", csv, strlen(csv));
    char path[256];
    snprintf(path, sizeof path, "%s/predict.csv", f.dir);
    struct loom_dataset_opts o;
    loom_dataset_opts_default(&o);
    struct loom_dataset *d = NULL;
    struct loom_data_report rep;
    struct loom_error e = {0};
    assert_int_equal(loom_dataset_open_file(&f.s, p, path, &o, &d, &rep, &e), LOOM_ERR_SCHEMA);
    assert_non_null(strstr(e.message, "column 'emb'")); /* the first missing */
    assert_null(d);

    o.targets_optional = true;
    o.use_cache = true; /* ignored: a file is never cached */
    enum loom_status st = loom_dataset_open_file(&f.s, p, path, &o, &d, &rep, &e);
    if (st) fprintf(stderr, "%s\n", e.message);
    assert_int_equal(st, LOOM_OK);
    assert_null(loom_dataset_cache_path(d));
    assert_int_equal(rep.rows_read, 4);
    assert_int_equal(rep.rows_ok, 3);
    assert_int_equal(rep.rows_bad, 1);
    assert_true(report_has(&rep, "line 3") && report_has(&rep, "oops"));
    assert_int_equal(rep.images_bad, 1);
    assert_int_equal(loom_dataset_rows(d), 3);
    size_t len;
    assert_memory_equal(loom_dataset_row_id(d, 2, &len), "p4", 2);
    assert_int_equal(loom_dataset_row_line(d, 2), 5);
    struct loom_batcher *b = whole(d);
    const struct loom_batch *bt;
    assert_int_equal(loom_batcher_next(b, &bt, NULL), LOOM_OK);
    assert_int_equal(bt->n, 3);
    for (int i = 0; i < 3; i++) {
        assert_near(bt->cols[C_PRICE].present[i], 0, 0); /* absent: missing */
        assert_near(bt->cols[C_EMB].present[i], 0, 0);
    }
    assert_int_equal(bt->cols[C_CAT].ids[2], LOOM_CATEGORY_UNKNOWN); /* pink */
    const int64_t want_off[4] = {0, 1, 2, 2};
    assert_memory_equal(bt->cols[C_PHOTOS].offsets, want_off, sizeof want_off);
    loom_batcher_free(&b);
    loom_dataset_close(&d);

    /* the training file through it: every row, the split ignored */
    o.targets_optional = false;
    snprintf(path, sizeof path, "%s/train.csv", f.dir);
    assert_int_equal(loom_dataset_open_file(&f.s, p, path, &o, &d, &rep, &e), LOOM_OK);
    assert_int_equal(rep.rows_read, 7);
    assert_int_equal(loom_dataset_rows(d), 6);
    loom_dataset_close(&d);
    loom_prep_free(&p);
    cleanup(&f);
}
