/* fixtures.c — schemas, the fake encoder, rows in memory and their source,
 * temporary directories for the fusion tests (fixtures.h). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/ops.h"
#include "fixtures.h"

void fx_schema(struct loom_schema *s, const char *yaml)
{
    char text[8192];
    int k = snprintf(text, sizeof text, "data: {train: t.csv}\n%s", yaml);
    assert_true(k > 0 && (size_t)k < sizeof text);
    struct loom_schema_options opt = {.skip_file_checks = true};
    struct loom_diag d = {0};
    memset(s, 0, sizeof *s);
    enum loom_status st = loom_schema_load_mem(text, strlen(text), NULL, "t.yaml", &opt, s, &d);
    if (st) loom_diag_print(&d, stderr);
    loom_diag_done(&d);
    assert_int_equal(st, LOOM_OK);
}

/* ---- the fake encoder ---- */

#define FAKE_WIDTH 16

struct fake {
    int in;
    int ncols;
    int cols[32];
    int width[32]; /* x width, or the cardinality of a category */
    struct loom_tensor *w, *b;
};

static enum loom_status fake_init(struct loom_encoder *e, const struct loom_schema *s, int branch,
                                  const struct loom_prep *p, struct loom_store *store,
                                  struct loom_error *err)
{
    const struct loom_schema_branch *br = &s->branches[branch];
    struct fake *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_true(br->ncolumns <= 32);
    for (int i = 0; i < br->ncolumns; i++) {
        struct loom_prep_column_info info;
        assert_int_equal(loom_prep_column(p, br->columns[i], &info, err), LOOM_OK);
        f->cols[i] = br->columns[i];
        f->width[i] = info.type == LOOM_COL_CATEGORY ? info.cardinality : info.width;
        f->in += f->width[i];
    }
    f->ncols = br->ncolumns;
    char name[96];
    snprintf(name, sizeof name, "%s.w", br->name);
    f->w = loom_store_add(store, name, LOOM_SHAPE(FAKE_WIDTH, f->in), LOOM_INIT_FAN_IN,
                          (float)f->in, e->group, err);
    snprintf(name, sizeof name, "%s.b", br->name);
    f->b = loom_store_add(store, name, LOOM_SHAPE(FAKE_WIDTH), LOOM_INIT_FAN_IN, (float)f->in,
                          e->group, err);
    if (!f->w || !f->b) {
        free(f);
        return err->code;
    }
    e->state = f;
    e->width = FAKE_WIDTH;
    return LOOM_OK;
}

static struct loom_tensor *fake_forward(struct loom_ctx *c, const struct loom_encoder *e,
                                        const struct loom_batch *b, const float **attention)
{
    struct fake *f = e->state;
    struct loom_tensor *x = loom_tensor_zeros(c, LOOM_SHAPE(b->n, f->in));
    if (!x) return NULL;
    int off = 0;
    for (int k = 0; k < f->ncols; k++) {
        const struct loom_batch_col *col = &b->cols[f->cols[k]];
        for (int64_t i = 0; i < b->n; i++) {
            float *row = x->data + i * f->in + off;
            if (col->type == LOOM_COL_CATEGORY) {
                int32_t code = col->ids[i];
                if (code >= 0 && code < f->width[k]) row[code] = 1;
            } else {
                for (int d = 0; d < f->width[k]; d++) row[d] = col->x[i * f->width[k] + d];
            }
        }
        off += f->width[k];
    }
    return loom_tanh(c, loom_linear(c, x, f->w, f->b));
}

static void fake_free(struct loom_encoder *e)
{
    free(e->state);
    e->state = NULL;
}

static const struct loom_encoder_class fake_class = {.name = "fake",
                                                     .kind = LOOM_ENC_MLP,
                                                     .init = fake_init,
                                                     .forward = fake_forward,
                                                     .free = fake_free};

const struct loom_encoder_class *fx_encoder_class(enum loom_encoder_kind kind)
{
    (void)kind;
    return &fake_class;
}

const struct loom_model_opts fx_opts = {.encoder_class = fx_encoder_class};

/* ---- rows in memory ---- */

void fx_data_init(struct fx_data *d, const struct loom_schema *s, const struct loom_prep *p,
                  int64_t n)
{
    memset(d, 0, sizeof *d);
    d->s = s;
    d->n = n;
    int nc = s->ncolumns;
    d->width = calloc((size_t)nc, sizeof *d->width);
    d->x = calloc((size_t)nc, sizeof *d->x);
    d->ids = calloc((size_t)nc, sizeof *d->ids);
    d->present = calloc((size_t)nc, sizeof *d->present);
    assert_true(d->width && d->x && d->ids && d->present);
    for (int i = 0; i < nc; i++) {
        struct loom_prep_column_info info;
        assert_int_equal(loom_prep_column(p, i, &info, NULL), LOOM_OK);
        d->width[i] = info.width ? info.width : 1;
        if (info.type == LOOM_COL_CATEGORY) {
            d->ids[i] = malloc((size_t)n * sizeof(int32_t));
            assert_non_null(d->ids[i]);
            for (int64_t r = 0; r < n; r++) d->ids[i][r] = 2;
        } else {
            d->x[i] = calloc((size_t)(n * d->width[i]), sizeof(float));
            d->present[i] = malloc((size_t)n * sizeof(float));
            assert_true(d->x[i] && d->present[i]);
            for (int64_t r = 0; r < n; r++) d->present[i][r] = 1;
        }
    }
}

void fx_data_done(struct fx_data *d)
{
    for (int i = 0; d->s && i < d->s->ncolumns; i++)
        free(d->x[i]), free(d->ids[i]), free(d->present[i]);
    free(d->width), free(d->x), free(d->ids), free(d->present);
    memset(d, 0, sizeof *d);
}

int fx_col(const struct fx_data *d, const char *name)
{
    int c = loom_schema_find_column(d->s, name);
    assert_true(c >= 0);
    return c;
}

void fx_batch_all(struct loom_batch *b, struct loom_batch_col *cols, int64_t *rows,
                  const struct fx_data *d)
{
    for (int i = 0; i < d->s->ncolumns; i++)
        cols[i] = (struct loom_batch_col){.type = d->s->columns[i].type,
                                          .width = d->width[i],
                                          .x = d->x[i],
                                          .ids = d->ids[i],
                                          .present = d->present[i]};
    for (int64_t r = 0; r < d->n; r++) rows[r] = r;
    *b = (struct loom_batch){.n = d->n, .rows = rows, .ncols = d->s->ncolumns, .cols = cols};
}

/* ---- the source ---- */

static int64_t src_count(void *self)
{
    struct fx_source *fs = self;
    int64_t n = fs->d->n, bs = fs->batch_size;
    return fs->drop_last ? n / bs : (n + bs - 1) / bs;
}

static enum loom_status src_seek(void *self, int64_t epoch, int64_t index, struct loom_error *err)
{
    struct fx_source *fs = self;
    for (int64_t i = 0; i < fs->d->n; i++) fs->perm[i] = (uint32_t)i;
    if (fs->shuffle) {
        struct loom_rng r;
        loom_rng_init(&r, fs->seed, 1000 + (uint64_t)epoch);
        loom_rng_shuffle(&r, fs->perm, (size_t)fs->d->n);
    }
    fs->epoch = epoch;
    fs->index = index;
    (void)err;
    return LOOM_OK;
}

static enum loom_status src_next(void *self, const struct loom_batch **out, struct loom_error *err)
{
    struct fx_source *fs = self;
    const struct fx_data *d = fs->d;
    if (fs->index >= src_count(fs)) {
        *out = NULL;
        fs->index = 0;
        return src_seek(fs, fs->epoch + 1, 0, err);
    }
    int64_t first = fs->index * fs->batch_size, n = LOOM_MIN(fs->batch_size, d->n - first);
    for (int c = 0; c < d->s->ncolumns; c++) {
        struct loom_batch_col *bc = &fs->cols[c];
        int w = d->width[c];
        for (int64_t i = 0; i < n; i++) {
            uint32_t r = fs->perm[first + i];
            if (d->ids[c]) bc->ids[i] = d->ids[c][r];
            if (d->x[c]) {
                memcpy(bc->x + i * w, d->x[c] + (int64_t)r * w, (size_t)w * sizeof(float));
                bc->present[i] = d->present[c][r];
            }
        }
    }
    for (int64_t i = 0; i < n; i++) fs->rows[i] = fs->perm[first + i];
    if (fs->epoch == fs->nan_epoch && fs->index == fs->nan_batch) fs->cols[fs->nan_col].x[0] = NAN;
    fs->b.n = n;
    fs->index++;
    fs->served++;
    *out = &fs->b;
    return LOOM_OK;
}

void fx_source_init(struct fx_source *fs, const struct fx_data *d, int batch_size, bool shuffle,
                    uint64_t seed)
{
    memset(fs, 0, sizeof *fs);
    fs->d = d;
    fs->batch_size = batch_size;
    fs->shuffle = shuffle;
    fs->drop_last = shuffle;
    fs->seed = seed;
    fs->nan_epoch = -1;
    fs->perm = malloc((size_t)d->n * sizeof *fs->perm);
    fs->rows = malloc((size_t)batch_size * sizeof *fs->rows);
    fs->cols = calloc((size_t)d->s->ncolumns, sizeof *fs->cols);
    assert_true(fs->perm && fs->rows && fs->cols);
    for (int c = 0; c < d->s->ncolumns; c++) {
        struct loom_batch_col *bc = &fs->cols[c];
        bc->type = d->s->columns[c].type;
        bc->width = d->width[c];
        if (d->ids[c]) assert_non_null(bc->ids = malloc((size_t)batch_size * sizeof(int32_t)));
        if (d->x[c]) {
            bc->x = malloc((size_t)batch_size * (size_t)d->width[c] * sizeof(float));
            bc->present = malloc((size_t)batch_size * sizeof(float));
            assert_true(bc->x && bc->present);
        }
    }
    fs->b = (struct loom_batch){.rows = fs->rows, .ncols = d->s->ncolumns, .cols = fs->cols};
    fs->src =
        (struct loom_source){.self = fs, .count = src_count, .seek = src_seek, .next = src_next};
    assert_int_equal(src_seek(fs, 0, 0, NULL), LOOM_OK);
}

void fx_source_done(struct fx_source *fs)
{
    for (int c = 0; fs->cols && c < fs->d->s->ncolumns; c++)
        free(fs->cols[c].ids), free(fs->cols[c].x), free(fs->cols[c].present);
    free(fs->cols), free(fs->perm), free(fs->rows);
    memset(fs, 0, sizeof *fs);
}

/* ---- files ---- */

void fx_tmpdir(char *buf, size_t n)
{
    const char *t = getenv("TMPDIR");
    int k = snprintf(buf, n, "%s/loom-fusion-XXXXXX", t && *t ? t : "/tmp");
    assert_true(k > 0 && (size_t)k < n);
    assert_non_null(mkdtemp(buf));
}

void fx_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

uint64_t fx_file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint64_t h = 1469598103934665603ull;
    int ch;
    while ((ch = fgetc(f)) != EOF) h = (h ^ (uint64_t)ch) * 1099511628211ull;
    fclose(f);
    return h;
}
