/*
 * make_model.c — the small trained model the API tests, the Python binding's
 * test and examples/backend score: synthetic listings (a title, a condition,
 * a year, a date, tags and 0-3 JPEG photos whose colour tells the kind)
 * written as CSV + photos, then fitted and trained through the loaders and
 * fusion exactly as `loom train` would, and saved.
 *
 *   make_model DIR [ROWS]
 *
 * writes DIR/schema.yaml, DIR/train.csv, DIR/photos/ (JPEGs), DIR/model.loom and
 * DIR/listings.csv (new rows without targets, for scoring). Outputs: price
 * (number, log1p), kind (category), fraud (binary), extras (set), style
 * (vector of 2). Deterministic.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>
#include <string.h>
#include <sys/stat.h>

#include "fusion/trainer.h"
#include "loaders/dataset.h"

static const char *const kinds[] = {"bike", "phone", "sofa", "lamp"};
static const uint8_t colours[4][3] = {{200, 40, 40}, {40, 60, 210}, {40, 170, 60}, {220, 200, 40}};
static const char *const conds[] = {"new", "used", "broken"};
static const char *const words[] = {"great", "vintage", "cheap", "boxed", "shiny", "old", "fast"};

static uint64_t state = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
    state = state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(state >> 33);
}
static double unif(void)
{
    return rnd() / 2147483648.0;
}

static int write_jpeg(const char *path, const uint8_t rgb[3], int noise)
{
    enum { W = 24, H = 20 };
    uint8_t px[W * H * 3];
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) {
            int v = rgb[c] + (int)(rnd() % (2 * noise + 1)) - noise;
            px[i * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = W, ci.image_height = H, ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    jpeg_start_compress(&ci, TRUE);
    for (int y = 0; y < H; y++) {
        JSAMPROW row = px + y * W * 3;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return fclose(f);
}

/* One listing; targets written when train. */
static int listing(FILE *f, const char *dir, int64_t i, bool train)
{
    int kind = (int)(rnd() % 4), cond = (int)(rnd() % 3), year = 2005 + (int)(rnd() % 18);
    int w1 = (int)(rnd() % 7), w2 = (int)(rnd() % 7);
    int nph = (int)(rnd() % 4);
    bool named = unif() < 0.8; /* else only the photos tell the kind */
    char title[128];
    snprintf(title, sizeof title, "%s %s %s", words[w1], named ? kinds[kind] : "item", words[w2]);
    char photos[256] = "";
    for (int p = 0; p < nph; p++) {
        char name[64], path[1024];
        snprintf(name, sizeof name, "%s%lld_%d.jpg", train ? "t" : "n", (long long)i, p);
        snprintf(path, sizeof path, "%s/photos/%s", dir, name);
        if (write_jpeg(path, colours[kind], 20)) return -1;
        if (p) strcat(photos, "|");
        strcat(photos, name);
    }
    char tags[64] = "";
    if (rnd() % 2) strcat(tags, "local");
    if (rnd() % 2) strcat(tags, tags[0] ? "|pickup" : "pickup");
    fprintf(f, "L%lld,%s,%s,%d,%d-%02d-15,%s,%s", (long long)i, title, conds[cond], year,
            2020 + (int)(rnd() % 4), 1 + (int)(rnd() % 12), tags, photos);
    if (train) {
        static const double base[] = {300, 500, 800, 60};
        double price = base[kind] * (1.0 - 0.3 * cond) * (1 + 0.03 * (year - 2005)) *
                       (w1 == 1 || w2 == 1 ? 1.5 : 1.0) * exp(0.1 * (unif() - 0.5));
        bool cheap = w1 == 2 || w2 == 2;
        int fraud = cheap && nph == 0 ? unif() < 0.9 : unif() < 0.05;
        char extras[64] = "";
        if (year > 2015) strcat(extras, "ship");
        if (cond == 0) strcat(extras, extras[0] ? "|warranty" : "warranty");
        if (w1 == 3 || w2 == 3) strcat(extras, extras[0] ? "|boxed" : "boxed");
        fprintf(f, ",%.2f,%s,%d,%s,%.3f|%.3f", price, kinds[kind], fraud, extras, kind / 3.0,
                cond / 2.0);
    }
    return fprintf(f, "\n") < 0 ? -1 : 0;
}

static const char schema[] =
    "data: {train: train.csv, images: photos, split: {valid: 0.1, seed: 3}}\n"
    "columns:\n"
    "  id:        {type: id}\n"
    "  title:     {type: text, max_tokens: 8}\n"
    "  condition: {type: category}\n"
    "  year:      {type: number}\n"
    "  posted:    {type: date}\n"
    "  tags:      {type: set, separator: \"|\"}\n"
    "  photos:    {type: images, separator: \"|\", max_images: 2}\n"
    "  price:     {type: number, transform: log1p}\n"
    "  kind:      {type: category}\n"
    "  fraud:     {type: binary}\n"
    "  extras:    {type: set, separator: \"|\"}\n"
    "  style:     {type: vector, separator: \"|\", dim: 2}\n"
    "branches:\n"
    "  tab:    {encoder: mlp, columns: [condition, year, posted, tags], layers: [16]}\n"
    "  text:   {encoder: rnn, columns: [title], embed: 8, hidden: 8}\n"
    "  photos: {encoder: cnn, columns: [photos], image_size: 16, channels: [4, 8],\n"
    "           pool: gated_attention, attention: 8}\n"
    "fusion: {layers: [16], dropout: 0.0}\n"
    "outputs:\n"
    "  price:  {}\n"
    "  kind:   {}\n"
    "  fraud:  {}\n"
    "  extras: {}\n"
    "  style:  {}\n"
    "training: {epochs: 6, batch_size: 32, optimizer: {lr: 0.01}, seed: 5, threads: 1}\n";

static const char header[] = "id,title,condition,year,posted,tags,photos";

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0) return -1;
    return fclose(f);
}

static int write_rows(const char *dir, const char *name, int64_t n, bool train)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "%s%s\n", header, train ? ",price,kind,fraud,extras,style" : "");
    for (int64_t i = 0; i < n; i++)
        if (listing(f, dir, i, train)) return -1;
    return fclose(f);
}

static int fail(const char *what, const struct loom_error *err)
{
    fprintf(stderr, "make_model: %s: %s\n", what, err->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: make_model DIR [ROWS]\n");
        return 2;
    }
    const char *dir = argv[1];
    int64_t n = argc > 2 ? atoll(argv[2]) : 600;
    char path[1024];
    snprintf(path, sizeof path, "%s/photos", dir);
    if ((mkdir(dir, 0755) && errno != EEXIST) || (mkdir(path, 0755) && errno != EEXIST)) {
        perror(dir);
        return 1;
    }
    if (write_file(dir, "schema.yaml", schema) || write_rows(dir, "train.csv", n, true) ||
        write_rows(dir, "listings.csv", 200, false)) {
        perror("make_model: writing the data");
        return 1;
    }
    struct loom_error err = {0};
    struct loom_schema s;
    struct loom_diag d = {0};
    snprintf(path, sizeof path, "%s/schema.yaml", dir);
    if (loom_schema_load(path, NULL, &s, &d)) {
        loom_diag_print(&d, stderr);
        return 1;
    }
    loom_diag_done(&d);
    struct loom_dataset_opts o;
    loom_dataset_opts_default(&o);
    o.use_cache = false;
    o.threads = 1;
    struct loom_prep *p = NULL;
    struct loom_model *m = NULL;
    if (loom_prep_fit(&s, &o, &p, NULL, &err)) return fail("fit", &err);
    if (loom_model_new(&s, &p, 5, NULL, &m, &err)) return fail("model", &err);
    struct loom_dataset *train = NULL, *valid = NULL;
    struct loom_batcher *bt = NULL, *bv = NULL;
    struct loom_batcher_opts bo = {
        .batch_size = 32, .shuffle = true, .training = true, .drop_last = true, .seed = 9};
    struct loom_batcher_opts vo = {.batch_size = 64};
    if (loom_dataset_open(&m->schema, m->prep, LOOM_SPLIT_TRAIN, &o, &train, NULL, &err) ||
        loom_dataset_open(&m->schema, m->prep, LOOM_SPLIT_VALID, &o, &valid, NULL, &err) ||
        loom_batcher_new(train, &bo, &bt, &err) || loom_batcher_new(valid, &vo, &bv, &err))
        return fail("data", &err);
    struct loom_source st, sv;
    loom_source_batcher(&st, bt);
    loom_source_batcher(&sv, bv);
    struct loom_train_opts to = {.checkpoint_dir = "", .run_dir = "", .data_seed = 9};
    struct loom_train_result tr;
    if (loom_train(m, &st, &sv, &to, &tr, &err)) return fail("train", &err);
    struct loom_metrics mt;
    if (loom_metrics_init(&mt, m, &err) || loom_evaluate(m, &sv, &mt, &err))
        return fail("evaluate", &err);
    printf("make_model: %lld rows, %d epochs, valid loss %.3f, kind accuracy %.2f, "
           "price rmse %.1f\n",
           (long long)n, tr.epochs, loom_metrics_loss(&mt), loom_macc_get(&mt.acc[1], "accuracy"),
           loom_macc_get(&mt.acc[0], "rmse"));
    loom_metrics_done(&mt);
    snprintf(path, sizeof path, "%s/model.loom", dir);
    if (loom_model_save(m, path, NULL, &err)) return fail("save", &err);
    loom_batcher_free(&bt), loom_batcher_free(&bv);
    loom_dataset_close(&train), loom_dataset_close(&valid);
    loom_model_free(&m);
    return 0;
}
