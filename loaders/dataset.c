/*
 * dataset.c — one preprocessed split (dataset.h): a pass over its CSV that
 * encodes every field with the fitted prep and decodes every photo (a pool
 * of threads; libjpeg/libpng do the work) into 8-bit S×S squares, kept
 * column by column; then the cache file (cache.h), or, on a later open, the
 * checked cache mapped instead of the pass.
 *
 * Photo paths are relative to data.images and never leave it: a path with a
 * `..` component, or an absolute path outside the root, is a bad photo
 * (symbolic links inside the root are followed: whoever can place them can
 * place the photos too). Rows keep at most MAX_ROW_PHOTOS photos; the
 * batcher picks max_images of them.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "dataset_internal.h"
#include "image.h"
#include "rows.h"
#include "text.h"

#define CHUNK_ROWS     128  /* rows read before their photos are decoded */
#define CHUNK_JOBS     512  /* ... or photos */
#define MAX_ROW_PHOTOS 1000 /* schema's max_images is at most this too */

/* ---- growing arrays ----------------------------------------------------------------- */

struct gbuf {
    uint8_t *p;
    size_t len, cap;
};

/* n more bytes at the end (uninitialised), or NULL (overflow, memory). */
static void *gbuf_add(struct gbuf *b, size_t n)
{
    static uint8_t empty[1];
    if (n == 0) return b->p ? b->p + b->len : empty;
    size_t need;
    if (!loom_add_size(b->len, n, &need)) return NULL;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need)
            if (!loom_mul_size(cap, 2, &cap)) return NULL;
        uint8_t *q = realloc(b->p, cap);
        if (!q) return NULL;
        b->p = q;
        b->cap = cap;
    }
    void *at = b->p + b->len;
    b->len = need;
    return at;
}

static bool gbuf_put(struct gbuf *b, const void *src, size_t n)
{
    void *at = gbuf_add(b, n);
    if (at && n) memcpy(at, src, n);
    return at != NULL;
}

/* ---- the build pass ------------------------------------------------------------------ */

struct bcol {
    struct loom_prep_column_info info;
    struct gbuf x, present, ids, lengths, offsets, pixels;
    int64_t count;
    float *sx; /* one row's encoded value (scratch) */
    int32_t *sids;
    float spresent;
    int32_t slength;
    /* images */
    int size;
    enum loom_image_fit fit;
    size_t photo_bytes;
    int64_t cursor; /* flush: chunk rows whose offsets are written */
};

struct job {
    int col;
    int64_t row; /* in the chunk */
    char *path;  /* resolved, malloc'd */
    size_t dst;  /* offset in the chunk's pixel scratch */
    struct loom_image_opts opts;
    enum loom_status st;
    struct loom_error e;
};

struct builder {
    const struct loom_schema *s;
    const struct loom_prep *p;
    struct loom_rows r;
    struct loom_data_report *rep;
    struct bcol *c;
    int idcol;
    struct gbuf lines, idoff, idpool;
    int64_t n;
    /* the chunk being read */
    struct job *jobs;
    size_t njobs, cap_jobs;
    int64_t chunk_rows;
    int64_t chunk_line[CHUNK_ROWS];
    bool chunk_bad[CHUNK_ROWS]; /* the row lost a photo */
    struct gbuf scratch;        /* decoded photos of the chunk */
    int threads;
    size_t next_job; /* decode pool: the next job to take */
    pthread_mutex_t lock;
    char *root; /* data.images without trailing slashes */
    struct loom_error first_photo;
    bool have_first_photo;
    struct gbuf bad; /* the dropped photos' records (dataset_internal.h) */
    bool bad_nomem;
};

static enum loom_status nomem(struct loom_error *err)
{
    return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory building the dataset");
}

/* Is rel[0..n) a path inside the root? Writes the full path to *out. */
static bool photo_path(const char *root, const char *rel, size_t n, char **out)
{
    for (size_t i = 0; i < n;) { /* no ".." component anywhere */
        size_t j = i;
        while (j < n && rel[j] != '/') j++;
        if (j - i == 2 && rel[i] == '.' && rel[i + 1] == '.') return false;
        i = j + 1;
    }
    if (rel[0] == '/') {
        size_t rl = strlen(root);
        if (!(n > rl && strncmp(rel, root, rl) == 0 &&
              (rel[rl] == '/' || rl == 0 || root[rl - 1] == '/')))
            return false;
        *out = strndup(rel, n);
    } else {
        *out = NULL;
        if (asprintf(out, "%s/%.*s", root, (int)n, rel) < 0) *out = NULL;
    }
    return true;
}

/* Append p[0..n) with tabs, line breaks and NULs made spaces: a field of a
 * dropped photo's record. */
static bool put_clean(struct gbuf *g, const char *p, size_t n)
{
    char *q = gbuf_add(g, n);
    if (!q) return false;
    for (size_t i = 0; i < n; i++)
        q[i] = p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || p[i] == 0 ? ' ' : p[i];
    return true;
}

static void photo_bad(struct builder *b, int col, int64_t line, const char *path, size_t n,
                      const struct loom_error *why, bool *row_bad)
{
    struct loom_error e;
    loom_error_set_at(&e, why->code, b->r.path, (int)LOOM_MIN(line, INT32_MAX), 0,
                      "line %lld: column '%s': photo '%.*s' dropped: %s", (long long)line,
                      b->s->columns[col].name, (int)LOOM_MIN(n, 200), path, why->message);
    b->rep->images_bad++;
    loom_report_example(b->rep, &e);
    char head[32];
    int k = snprintf(head, sizeof head, "%lld\t", (long long)line);
    const char *name = b->s->columns[col].name;
    if (!(gbuf_put(&b->bad, head, (size_t)k) && put_clean(&b->bad, name, strlen(name)) &&
          gbuf_put(&b->bad, "\t", 1) && put_clean(&b->bad, path, n) && gbuf_put(&b->bad, "\t", 1) &&
          put_clean(&b->bad, why->message, strlen(why->message)) && gbuf_put(&b->bad, "\n", 1)))
        b->bad_nomem = true;
    if (!b->have_first_photo) b->first_photo = e;
    b->have_first_photo = true;
    *row_bad = true;
}

static void *decode_worker(void *arg)
{
    struct builder *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        size_t i = b->next_job++;
        pthread_mutex_unlock(&b->lock);
        if (i >= b->njobs) return NULL;
        struct job *j = &b->jobs[i];
        j->st = loom_image_load(j->path, &j->opts, b->scratch.p + j->dst, NULL, &j->e);
    }
}

static void decode_all(struct builder *b)
{
    b->next_job = 0;
    int t = (int)LOOM_MIN((size_t)b->threads, b->njobs);
    pthread_t tid[64];
    int started = 0;
    for (int i = 1; i < t && started < (int)LOOM_ARRAY_LEN(tid); i++)
        if (pthread_create(&tid[started], NULL, decode_worker, b) == 0) started++;
    decode_worker(b); /* this thread works too */
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
}

/* Close the offsets of column bc's chunk rows before row `upto`. */
static bool close_rows(struct bcol *bc, int64_t upto)
{
    for (; bc->cursor < upto; bc->cursor++)
        if (!gbuf_put(&bc->offsets, &bc->count, sizeof bc->count)) return false;
    return true;
}

/* Decode the chunk's photos, then append them (and the offsets) in row
 * order: the jobs were queued row by row. */
static enum loom_status flush_chunk(struct builder *b, struct loom_error *err)
{
    enum loom_status st = LOOM_OK;
    decode_all(b);
    for (int c = 0; c < b->s->ncolumns; c++) b->c[c].cursor = 0;
    for (size_t k = 0; k < b->njobs && st == LOOM_OK; k++) {
        struct job *j = &b->jobs[k];
        struct bcol *bc = &b->c[j->col];
        if (!close_rows(bc, j->row)) {
            st = nomem(err);
        } else if (j->st == LOOM_OK) {
            if (!gbuf_put(&bc->pixels, b->scratch.p + j->dst, bc->photo_bytes)) st = nomem(err);
            bc->count++;
            b->rep->images_ok++;
        } else if (j->st == LOOM_ERR_NOMEM) {
            st = loom_error_set(err, LOOM_ERR_NOMEM, "%s", j->e.message);
        } else {
            photo_bad(b, j->col, b->chunk_line[j->row], j->path, strlen(j->path), &j->e,
                      &b->chunk_bad[j->row]);
        }
    }
    for (int c = 0; c < b->s->ncolumns && st == LOOM_OK; c++)
        if (b->c[c].info.type == LOOM_COL_IMAGES && !close_rows(&b->c[c], b->chunk_rows))
            st = nomem(err);
    for (int64_t r = 0; r < b->chunk_rows; r++) b->rep->rows_bad_images += b->chunk_bad[r];
    for (size_t k = 0; k < b->njobs; k++) free(b->jobs[k].path);
    b->njobs = 0;
    b->chunk_rows = 0;
    b->scratch.len = 0;
    return st;
}

/* Queue the photos of one accepted row (chunk row r); bad paths are dropped
 * at once. */
static enum loom_status queue_photos(struct builder *b, int c, const struct loom_field *f,
                                     int64_t line, bool *row_bad, struct loom_error *err)
{
    struct bcol *bc = &b->c[c];
    char sep = b->s->columns[c].images.separator;
    int taken = 0;
    for (size_t i = 0; i < f->len && taken < MAX_ROW_PHOTOS;) {
        size_t j = i;
        while (j < f->len && f->p[j] != sep) j++;
        size_t a = i, z = j;
        i = j + 1;
        while (a < z && (f->p[a] == ' ' || f->p[a] == '\t')) a++;
        while (z > a && (f->p[z - 1] == ' ' || f->p[z - 1] == '\t')) z--;
        if (a == z) continue;
        char *path = NULL;
        if (!photo_path(b->root, f->p + a, z - a, &path)) {
            struct loom_error why;
            loom_error_set(&why, LOOM_ERR_INVALID, "the path leaves the image root %s", b->root);
            photo_bad(b, c, line, f->p + a, z - a, &why, row_bad);
            continue;
        }
        if (!path) return nomem(err);
        if (b->njobs == b->cap_jobs) {
            size_t cap = b->cap_jobs ? 2 * b->cap_jobs : 256;
            struct job *q = realloc(b->jobs, cap * sizeof *q);
            if (!q) {
                free(path);
                return nomem(err);
            }
            b->jobs = q;
            b->cap_jobs = cap;
        }
        struct job *jb = &b->jobs[b->njobs];
        *jb = (struct job){.col = c, .row = b->chunk_rows, .path = path, .dst = b->scratch.len};
        jb->opts = loom_image_opts_default();
        jb->opts.size = bc->size;
        jb->opts.fit = bc->fit;
        if (!gbuf_add(&b->scratch, bc->photo_bytes)) {
            free(path);
            return nomem(err);
        }
        b->njobs++;
        taken++;
    }
    return LOOM_OK;
}

/* Encode the current row into the columns' scratch; LOOM_OK or the bad
 * column in *bad_col with why. */
static enum loom_status encode_row(struct builder *b, int *bad_col, struct loom_error *why)
{
    for (int c = 0; c < b->s->ncolumns; c++) {
        struct bcol *bc = &b->c[c];
        enum loom_col_type t = bc->info.type;
        if (t == LOOM_COL_ID || t == LOOM_COL_IMAGES) continue;
        const struct loom_field *f = &b->r.f[c];
        *bad_col = c;
        enum loom_status st = loom_prep_encode(b->p, c, f->p, f->len, bc->sx, &bc->spresent,
                                               bc->sids, &bc->slength, why);
        if (st != LOOM_OK) return st;
    }
    return LOOM_OK;
}

static bool uses_x(enum loom_col_type t)
{
    return t == LOOM_COL_NUMBER || t == LOOM_COL_BINARY || t == LOOM_COL_DATE ||
           t == LOOM_COL_SET || t == LOOM_COL_VECTOR;
}

static enum loom_status append_row(struct builder *b, struct loom_error *err)
{
    bool ok = gbuf_put(&b->lines, &b->r.line, sizeof b->r.line);
    if (b->idcol >= 0) {
        const struct loom_field *f = &b->r.f[b->idcol];
        ok = ok && gbuf_put(&b->idpool, f->p, f->len);
        int64_t end = (int64_t)b->idpool.len;
        ok = ok && gbuf_put(&b->idoff, &end, sizeof end);
    }
    for (int c = 0; c < b->s->ncolumns && ok; c++) {
        struct bcol *bc = &b->c[c];
        size_t w = (size_t)bc->info.width;
        if (uses_x(bc->info.type)) {
            ok = gbuf_put(&bc->x, bc->sx, w * sizeof(float)) &&
                 gbuf_put(&bc->present, &bc->spresent, sizeof(float));
        } else if (bc->info.type == LOOM_COL_CATEGORY || bc->info.type == LOOM_COL_TEXT) {
            ok = gbuf_put(&bc->ids, bc->sids, w * sizeof(int32_t));
            if (bc->info.type == LOOM_COL_TEXT)
                ok = ok && gbuf_put(&bc->lengths, &bc->slength, sizeof(int32_t));
        }
    }
    b->n++;
    return ok ? LOOM_OK : nomem(err);
}

static enum loom_status builder_init(struct builder *b, const struct loom_schema *s,
                                     const struct loom_prep *p, const struct loom_dataset_opts *o,
                                     struct loom_data_report *rep, struct loom_error *err)
{
    *b = (struct builder){.s = s, .p = p, .rep = rep, .idcol = -1};
    pthread_mutex_init(&b->lock, NULL);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    b->threads = o->threads > 0 ? o->threads : (int)LOOM_MAX(ncpu, 1);
    b->threads = LOOM_MIN(b->threads, 64);
    const char *root = s->data.images ? s->data.images : ".";
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/') rl--;
    b->root = strndup(root, rl);
    b->c = calloc((size_t)LOOM_MAX(s->ncolumns, 1), sizeof *b->c);
    if (!b->root || !b->c) return nomem(err);
    int64_t zero = 0;
    if (!gbuf_put(&b->idoff, &zero, sizeof zero)) return nomem(err);
    for (int c = 0; c < s->ncolumns; c++) {
        struct bcol *bc = &b->c[c];
        enum loom_status st = loom_prep_column(p, c, &bc->info, err);
        if (st != LOOM_OK) return st;
        if (bc->info.type == LOOM_COL_ID && b->idcol < 0) b->idcol = c;
        size_t w = (size_t)LOOM_MAX(bc->info.width, 1);
        bc->sx = calloc(w, sizeof *bc->sx);
        bc->sids = calloc(w, sizeof *bc->sids);
        if (!bc->sx || !bc->sids) return nomem(err);
        if (bc->info.type == LOOM_COL_IMAGES) {
            float mean[3], std[3];
            loom_prep_image(p, c, &bc->size, &bc->fit, mean, std);
            bc->photo_bytes = (size_t)bc->size * (size_t)bc->size * 3;
            if (!gbuf_put(&bc->offsets, &zero, sizeof zero)) return nomem(err);
        }
    }
    if (b->idcol < 0) b->idoff.len = 0;
    return LOOM_OK;
}

static void builder_done(struct builder *b)
{
    loom_rows_close(&b->r);
    if (b->c)
        for (int c = 0; c < b->s->ncolumns; c++) {
            struct bcol *bc = &b->c[c];
            free(bc->x.p);
            free(bc->present.p);
            free(bc->ids.p);
            free(bc->lengths.p);
            free(bc->offsets.p);
            free(bc->pixels.p);
            free(bc->sx);
            free(bc->sids);
        }
    for (size_t k = 0; k < b->njobs; k++) free(b->jobs[k].path);
    free(b->jobs);
    free(b->c);
    free(b->scratch.p);
    free(b->lines.p);
    free(b->idoff.p);
    free(b->idpool.p);
    free(b->bad.p);
    free(b->root);
    pthread_mutex_destroy(&b->lock);
}

static enum loom_status check_photo_share(const struct loom_schema *s,
                                          const struct loom_data_report *rep,
                                          const struct loom_error *first, const char *path,
                                          struct loom_error *err)
{
    if (rep->rows_bad_images == 0 || rep->rows_ok == 0) return LOOM_OK;
    double share = (double)rep->rows_bad_images / (double)rep->rows_ok;
    if (share <= s->data.max_bad_images) return LOOM_OK;
    return loom_error_set_at(err, LOOM_ERR_LIMIT, path, 0, 0,
                             "%lld of %lld rows of %s had a missing or broken photo (%.2f%%), "
                             "more than data.max_bad_images = %g%s%s",
                             (long long)rep->rows_bad_images, (long long)rep->rows_ok, path,
                             100 * share, s->data.max_bad_images, first ? "; the first: " : "",
                             first ? first->message : "");
}

/* The pass over the split, or over the file at path when path is set. */
static enum loom_status build(struct builder *b, enum loom_split split, const char *path,
                              bool targets_optional, struct loom_error *err)
{
    enum loom_status st = path ? loom_rows_open_file(&b->r, b->s, path, targets_optional, err)
                               : loom_rows_open(&b->r, b->s, split, err);
    if (st != LOOM_OK) return st;
    for (;;) {
        bool end;
        st = loom_rows_next(&b->r, &end, b->rep, err);
        if (st != LOOM_OK) return st;
        if (end) break;
        if (loom_rows_dropped(&b->r)) {
            b->rep->rows_dropped++;
            continue;
        }
        struct loom_error why;
        int col = 0;
        st = encode_row(b, &col, &why);
        if (st == LOOM_ERR_NOMEM) return loom_error_set(err, st, "%s", why.message);
        if (st != LOOM_OK) {
            st = loom_rows_bad_value(&b->r, col, b->rep, &why, err);
            if (st != LOOM_OK) return st;
            continue;
        }
        st = append_row(b, err);
        if (st != LOOM_OK) return st;
        b->rep->rows_ok++;
        int64_t r = b->chunk_rows;
        b->chunk_line[r] = b->r.line;
        b->chunk_bad[r] = false;
        for (int c = 0; c < b->s->ncolumns && st == LOOM_OK; c++)
            if (b->c[c].info.type == LOOM_COL_IMAGES)
                st = queue_photos(b, c, &b->r.f[c], b->r.line, &b->chunk_bad[r], err);
        if (st != LOOM_OK) return st;
        b->chunk_rows++;
        if (b->chunk_rows == CHUNK_ROWS || b->njobs >= CHUNK_JOBS) {
            st = flush_chunk(b, err);
            if (st != LOOM_OK) return st;
        }
    }
    st = flush_chunk(b, err);
    if (st != LOOM_OK) return st;
    st = loom_rows_check_share(b->s, b->r.path, b->rep, err);
    if (st != LOOM_OK) return st;
    return check_photo_share(b->s, b->rep, b->have_first_photo ? &b->first_photo : NULL, b->r.path,
                             err);
}

/* ---- the report, as kept in the cache -------------------------------------------------- */

#define REPORT_COUNTS   7
#define EXAMPLE_BYTES   (12 + 256 + 512)
#define REPORT_BYTES(n) (REPORT_COUNTS * 8 + 4 + (size_t)(n)*EXAMPLE_BYTES)

static void report_pack(const struct loom_data_report *r, uint8_t *out)
{
    int64_t v[REPORT_COUNTS] = {r->rows_read, r->rows_ok,    r->rows_bad,       r->rows_dropped,
                                r->images_ok, r->images_bad, r->rows_bad_images};
    memcpy(out, v, sizeof v);
    uint32_t n = (uint32_t)r->nexamples;
    memcpy(out + sizeof v, &n, 4);
    uint8_t *e = out + sizeof v + 4;
    for (int i = 0; i < r->nexamples; i++, e += EXAMPLE_BYTES) {
        int32_t h[3] = {(int32_t)r->examples[i].code, r->examples[i].line, r->examples[i].column};
        memcpy(e, h, 12);
        /* the strings and zeros after them: no uninitialised byte in the file */
        memset(e + 12, 0, 256 + 512);
        memcpy(e + 12, r->examples[i].file, strnlen(r->examples[i].file, 255));
        memcpy(e + 12 + 256, r->examples[i].message, strnlen(r->examples[i].message, 511));
    }
}

static bool report_unpack(const uint8_t *in, size_t n, int64_t rows, struct loom_data_report *r)
{
    int64_t v[REPORT_COUNTS];
    uint32_t ne;
    if (n < REPORT_BYTES(0)) return false;
    memcpy(v, in, sizeof v);
    memcpy(&ne, in + sizeof v, 4);
    if (ne > LOOM_ARRAY_LEN(r->examples) || n != REPORT_BYTES(ne)) return false;
    for (int i = 0; i < REPORT_COUNTS; i++)
        if (v[i] < 0 || v[i] > INT64_MAX / 4) return false;
    if (v[0] != v[1] + v[2] + v[3] || v[1] != rows || v[6] > v[1]) return false;
    *r = (struct loom_data_report){.rows_read = v[0],
                                   .rows_ok = v[1],
                                   .rows_bad = v[2],
                                   .rows_dropped = v[3],
                                   .images_ok = v[4],
                                   .images_bad = v[5],
                                   .rows_bad_images = v[6],
                                   .nexamples = (int)ne};
    const uint8_t *e = in + sizeof v + 4;
    for (uint32_t i = 0; i < ne; i++, e += EXAMPLE_BYTES) {
        struct loom_error *x = &r->examples[i];
        int32_t h[3];
        memcpy(h, e, 12);
        memcpy(x->file, e + 12, 256);
        memcpy(x->message, e + 12 + 256, 512);
        if (h[0] <= 0 || h[0] >= LOOM_STATUS_COUNT || !memchr(x->file, 0, 256) ||
            !memchr(x->message, 0, 512))
            return false;
        x->code = (enum loom_status)h[0];
        x->line = h[1];
        x->column = h[2];
    }
    return true;
}

/* ---- the dataset from a built pass or from the cache ----------------------------------- */

static bool own(struct loom_dataset *d, void *p)
{
    if (!p) return true;
    void **q = realloc(d->owned, (size_t)(d->nowned + 1) * sizeof *q);
    if (!q) return false;
    d->owned = q;
    d->owned[d->nowned++] = p;
    return true;
}

/* Move the built arrays into d (the builder no longer frees them). */
static enum loom_status adopt(struct loom_dataset *d, struct builder *b, struct loom_error *err)
{
    d->n = b->n;
    bool ok = own(d, b->lines.p) && own(d, b->idoff.p) && own(d, b->idpool.p);
    d->lines = (const int64_t *)b->lines.p;
    d->idoff = b->idcol >= 0 ? (const int64_t *)b->idoff.p : NULL;
    d->idpool = b->idcol >= 0 ? (const char *)(b->idpool.p ? b->idpool.p : (uint8_t *)"") : NULL;
    ok = ok && own(d, b->bad.p);
    d->bad = (const char *)b->bad.p;
    d->bad_len = b->bad.len;
    b->lines = b->idoff = b->idpool = b->bad = (struct gbuf){0};
    for (int c = 0; c < d->ncols; c++) {
        struct bcol *bc = &b->c[c];
        struct loom_ds_col *dc = &d->c[c];
        *dc = (struct loom_ds_col){
            .type = bc->info.type, .width = bc->info.width, .size = bc->size, .count = bc->count};
        struct gbuf *g[6] = {&bc->x,       &bc->present, &bc->ids,
                             &bc->lengths, &bc->offsets, &bc->pixels};
        for (int i = 0; i < 6; i++) ok = ok && own(d, g[i]->p);
        dc->x = (const float *)bc->x.p;
        dc->present = (const float *)bc->present.p;
        dc->ids = (const int32_t *)bc->ids.p;
        dc->lengths = (const int32_t *)bc->lengths.p;
        dc->offsets = (const int64_t *)bc->offsets.p;
        dc->pixels = bc->pixels.p;
        for (int i = 0; i < 6; i++) *g[i] = (struct gbuf){0};
    }
    return ok ? LOOM_OK : nomem(err);
}

/* The sections of d, in a fixed order (dataset column order, then rows). */
static int sections(const struct loom_dataset *d, const uint8_t *report,
                    struct loom_cache_section *sec)
{
    int k = 0;
    uint64_t n = (uint64_t)d->n;
    sec[k++] = (struct loom_cache_section){LOOM_CACHE_LINES, 0, d->lines, n * 8};
    if (d->idoff) {
        sec[k++] = (struct loom_cache_section){LOOM_CACHE_IDOFF, 0, d->idoff, (n + 1) * 8};
        sec[k++] =
            (struct loom_cache_section){LOOM_CACHE_IDPOOL, 0, d->idpool, (uint64_t)d->idoff[d->n]};
    }
    uint32_t ne;
    memcpy(&ne, report + REPORT_COUNTS * 8, 4);
    sec[k++] = (struct loom_cache_section){LOOM_CACHE_REPORT, 0, report, REPORT_BYTES(ne)};
    if (d->bad_len) sec[k++] = (struct loom_cache_section){LOOM_CACHE_BAD, 0, d->bad, d->bad_len};
    for (int c = 0; c < d->ncols; c++) {
        const struct loom_ds_col *dc = &d->c[c];
        uint32_t u = (uint32_t)c;
        uint64_t w = (uint64_t)dc->width;
        if (uses_x(dc->type)) {
            sec[k++] = (struct loom_cache_section){LOOM_CACHE_X, u, dc->x, n * w * 4};
            sec[k++] = (struct loom_cache_section){LOOM_CACHE_PRESENT, u, dc->present, n * 4};
        } else if (dc->type == LOOM_COL_CATEGORY || dc->type == LOOM_COL_TEXT) {
            sec[k++] = (struct loom_cache_section){LOOM_CACHE_IDS, u, dc->ids, n * w * 4};
            if (dc->type == LOOM_COL_TEXT)
                sec[k++] = (struct loom_cache_section){LOOM_CACHE_LENGTHS, u, dc->lengths, n * 4};
        } else if (dc->type == LOOM_COL_IMAGES) {
            uint64_t px = (uint64_t)dc->count * (uint64_t)dc->size * (uint64_t)dc->size * 3;
            sec[k++] = (struct loom_cache_section){LOOM_CACHE_OFFSETS, u, dc->offsets, (n + 1) * 8};
            sec[k++] = (struct loom_cache_section){LOOM_CACHE_PIXELS, u, dc->pixels, px};
        }
    }
    return k;
}

/* The section (kind, col) of exactly `bytes` bytes, or NULL. */
static const void *want(const struct loom_cache_map *m, uint32_t kind, int col, uint64_t n,
                        uint64_t elem, uint64_t plus)
{
    uint64_t bytes;
    if (__builtin_mul_overflow(n + plus, elem, &bytes)) return NULL;
    const struct loom_cache_section *s = loom_cache_find(m, kind, (uint32_t)col);
    return s && s->bytes == bytes ? s->data : NULL;
}

static bool floats_ok(const float *x, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

static bool ints_ok(const int32_t *v, uint64_t n, int32_t lo, int32_t hi)
{
    for (uint64_t i = 0; i < n; i++)
        if (v[i] < lo || v[i] > hi) return false;
    return true;
}

static bool offsets_ok(const int64_t *o, int64_t n, int64_t max)
{
    if (o[0] != 0) return false;
    for (int64_t i = 0; i < n; i++)
        if (o[i + 1] < o[i]) return false;
    return o[n] <= max;
}

/* Check that p[0..n) is exactly `count` records "LINE\tCOLUMN\tPATH\tREASON\n"
 * (LINE digits, no NUL) and, with fn, call it for each. */
static bool bad_each(const char *p, size_t n, int64_t count,
                     void (*fn)(const struct loom_bad_photo *b, void *user), void *user)
{
    int64_t k = 0;
    for (size_t i = 0; i < n; k++) {
        const char *r = p + i, *nl = memchr(r, '\n', n - i);
        if (!nl || memchr(r, 0, (size_t)(nl - r))) return false;
        const char *tab[3];
        int tabs = 0;
        for (const char *q = r; q < nl; q++)
            if (*q == '\t' && tabs++ < 3) tab[tabs - 1] = q;
        if (tabs != 3 || r[0] < '0' || r[0] > '9') return false;
        char *end;
        errno = 0;
        long long line = strtoll(r, &end, 10);
        if (end != tab[0] || errno || line < 1) return false;
        i += (size_t)(nl - r) + 1;
        if (!fn) continue;
        char *rec = strndup(r, (size_t)(nl - r));
        if (!rec) continue; /* out of memory: the count and the report still say it */
        for (int t = 0; t < 3; t++) rec[tab[t] - r] = 0;
        struct loom_bad_photo b = {line, rec + (tab[0] - r) + 1, rec + (tab[1] - r) + 1,
                                   rec + (tab[2] - r) + 1};
        fn(&b, user);
        free(rec);
    }
    return k == count;
}

/* Point d's arrays into the mapped cache, checking every size and value. */
static bool from_map(struct loom_dataset *d, const struct loom_cache_map *m,
                     struct loom_data_report *rep)
{
    uint64_t n = (uint64_t)m->rows;
    d->n = m->rows;
    int expect = 2; /* lines, report */
    const struct loom_cache_section *rs = loom_cache_find(m, LOOM_CACHE_REPORT, 0);
    if (!rs || !report_unpack(rs->data, rs->bytes, m->rows, rep)) return false;
    if (!(d->lines = want(m, LOOM_CACHE_LINES, 0, n, 8, 0))) return false;
    /* the dropped photos' list: there when the report counts some */
    const struct loom_cache_section *bs = loom_cache_find(m, LOOM_CACHE_BAD, 0);
    if (!bs != (rep->images_bad == 0)) return false;
    if (bs) {
        if (!bad_each(bs->data, bs->bytes, rep->images_bad, NULL, NULL)) return false;
        d->bad = bs->data;
        d->bad_len = bs->bytes;
        expect++;
    }
    for (uint64_t i = 0; i < n; i++)
        if (d->lines[i] < 1) return false;
    bool has_id = false;
    for (int c = 0; c < d->ncols; c++) has_id |= d->s->columns[c].type == LOOM_COL_ID;
    if (has_id) {
        const struct loom_cache_section *pool = loom_cache_find(m, LOOM_CACHE_IDPOOL, 0);
        if (!(d->idoff = want(m, LOOM_CACHE_IDOFF, 0, n, 8, 1)) || !pool ||
            !offsets_ok(d->idoff, d->n, (int64_t)LOOM_MIN(pool->bytes, INT64_MAX)) ||
            (uint64_t)d->idoff[d->n] != pool->bytes)
            return false;
        d->idpool = pool->data;
        /* as a CSV pass leaves them: each id valid UTF-8 without NUL */
        for (int64_t i = 0; i < d->n; i++) {
            const char *id = d->idpool + d->idoff[i];
            size_t len = (size_t)(d->idoff[i + 1] - d->idoff[i]);
            if (memchr(id, 0, len) || loom_utf8_check(id, len) != len) return false;
        }
        expect += 2;
    }
    for (int c = 0; c < d->ncols; c++) {
        struct loom_ds_col *dc = &d->c[c];
        struct loom_prep_column_info info;
        if (loom_prep_column(d->p, c, &info, NULL) != LOOM_OK) return false;
        *dc = (struct loom_ds_col){.type = info.type, .width = info.width};
        uint64_t w = (uint64_t)info.width, nw;
        if (__builtin_mul_overflow(n, w, &nw)) return false;
        if (uses_x(info.type)) {
            if (!(dc->x = want(m, LOOM_CACHE_X, c, nw, 4, 0)) ||
                !(dc->present = want(m, LOOM_CACHE_PRESENT, c, n, 4, 0)) || !floats_ok(dc->x, nw))
                return false;
            for (uint64_t i = 0; i < n; i++)
                if (dc->present[i] != 0.0f && dc->present[i] != 1.0f) return false;
            expect += 2;
        } else if (info.type == LOOM_COL_CATEGORY) {
            if (!(dc->ids = want(m, LOOM_CACHE_IDS, c, nw, 4, 0)) ||
                !ints_ok(dc->ids, nw, 0, info.cardinality - 1))
                return false;
            expect += 1;
        } else if (info.type == LOOM_COL_TEXT) {
            if (!(dc->ids = want(m, LOOM_CACHE_IDS, c, nw, 4, 0)) ||
                !(dc->lengths = want(m, LOOM_CACHE_LENGTHS, c, n, 4, 0)) ||
                !ints_ok(dc->ids, nw, 0, info.cardinality - 1) ||
                !ints_ok(dc->lengths, n, 0, info.width))
                return false;
            expect += 2;
        } else if (info.type == LOOM_COL_IMAGES) {
            dc->size = info.image_size;
            const struct loom_cache_section *px =
                loom_cache_find(m, LOOM_CACHE_PIXELS, (uint32_t)c);
            uint64_t per = (uint64_t)dc->size * (uint64_t)dc->size * 3;
            if (!(dc->offsets = want(m, LOOM_CACHE_OFFSETS, c, n, 8, 1)) || !px ||
                !offsets_ok(dc->offsets, d->n, INT64_MAX / 2))
                return false;
            dc->count = dc->offsets[n];
            uint64_t bytes;
            if (__builtin_mul_overflow((uint64_t)dc->count, per, &bytes) || px->bytes != bytes)
                return false;
            dc->pixels = px->data;
            expect += 2;
        }
    }
    return expect == m->nsec;
}

void loom_dataset_opts_default(struct loom_dataset_opts *o)
{
    *o = (struct loom_dataset_opts){.use_cache = true};
}

/* A split (path NULL) or the file at path (no cache). */
static enum loom_status open_dataset(const struct loom_schema *s, const struct loom_prep *p,
                                     enum loom_split split, const char *path,
                                     const struct loom_dataset_opts *o, struct loom_dataset **out,
                                     struct loom_data_report *rep, struct loom_error *err)
{
    if (!s || !p || !out)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_dataset_open: NULL argument");
    if (loom_prep_ncols(p) != s->ncolumns)
        return loom_error_set(err, LOOM_ERR_INVALID, "the prep was not fitted for this schema");
    if (!path && !loom_split_path(s, split))
        return loom_error_set(err, LOOM_ERR_INVALID, "the schema names no file for this split");
    struct loom_dataset_opts defaults;
    if (!o) {
        loom_dataset_opts_default(&defaults);
        o = &defaults;
    }
    bool use_cache = o->use_cache && !path;
    struct loom_data_report local;
    if (!rep) rep = &local;
    *rep = (struct loom_data_report){0};
    struct loom_dataset *d = calloc(1, sizeof *d);
    if (!d) return nomem(err);
    d->s = s;
    d->p = p;
    d->ncols = s->ncolumns;
    d->c = calloc((size_t)LOOM_MAX(d->ncols, 1), sizeof *d->c);
    struct builder b;
    bool built = false;
    uint8_t *report = NULL;
    enum loom_status st = d->c ? LOOM_OK : nomem(err);
    uint64_t key = 0;
    if (st == LOOM_OK && use_cache) {
        st = loom_cache_key(s, p, split, &key, err);
        if (st == LOOM_OK && !(d->cache_path = loom_cache_path(s, o->cache_dir, split, key)))
            st = nomem(err);
        if (st == LOOM_OK && loom_cache_open(d->cache_path, key, &d->map, NULL) == LOOM_OK) {
            if (from_map(d, &d->map, rep)) {
                rep->from_cache = true;
                if (o->on_bad_photo)
                    bad_each(d->bad, d->bad_len, rep->images_bad, o->on_bad_photo, o->user);
                const char *data = loom_split_path(s, split);
                st = loom_rows_check_share(s, data, rep, err);
                if (st == LOOM_OK) st = check_photo_share(s, rep, NULL, data, err);
                goto done;
            }
            loom_cache_close(&d->map); /* damaged in a way only the contents show: rebuild */
            *rep = (struct loom_data_report){0};
            for (int c = 0; c < d->ncols; c++) d->c[c] = (struct loom_ds_col){0};
            d->lines = d->idoff = NULL;
            d->idpool = d->bad = NULL;
            d->bad_len = 0;
        }
    }
    if (st == LOOM_OK) {
        st = builder_init(&b, s, p, o, rep, err);
        built = true;
    }
    if (st == LOOM_OK) {
        st = build(&b, split, path, o->targets_optional, err);
        /* every dropped photo, also when their share stopped the pass */
        if (o->on_bad_photo)
            (void)bad_each((const char *)b.bad.p, b.bad.len, b.rep->images_bad, o->on_bad_photo,
                           o->user);
        if (st == LOOM_OK && b.bad_nomem) st = nomem(err);
    }
    if (st == LOOM_OK) st = adopt(d, &b, err);
    if (st == LOOM_OK && use_cache) {
        struct loom_cache_section sec[8 + 2 * 256];
        int ncache = 5; /* lines, idoff, idpool, report, bad */
        for (int c = 0; c < d->ncols; c++) ncache += 2;
        struct loom_cache_section *sp =
            ncache <= (int)LOOM_ARRAY_LEN(sec) ? sec : malloc((size_t)ncache * sizeof *sp);
        report = malloc(REPORT_BYTES(LOOM_ARRAY_LEN(rep->examples)));
        if (sp && report) {
            report_pack(rep, report);
            int k = sections(d, report, sp);
            if (loom_cache_write(d->cache_path, key, d->n, sp, k, NULL) != LOOM_OK) {
                free(d->cache_path); /* not fatal: the next run tries again */
                d->cache_path = NULL;
            }
        }
        if (sp != sec) free(sp);
    }
done:
    if (built) builder_done(&b);
    free(report);
    if (st != LOOM_OK) {
        loom_dataset_close(&d);
        return st;
    }
    *out = d;
    return LOOM_OK;
}

enum loom_status loom_dataset_open(const struct loom_schema *s, const struct loom_prep *p,
                                   enum loom_split split, const struct loom_dataset_opts *o,
                                   struct loom_dataset **out, struct loom_data_report *rep,
                                   struct loom_error *err)
{
    return open_dataset(s, p, split, NULL, o, out, rep, err);
}

enum loom_status loom_dataset_open_file(const struct loom_schema *s, const struct loom_prep *p,
                                        const char *path, const struct loom_dataset_opts *o,
                                        struct loom_dataset **out, struct loom_data_report *rep,
                                        struct loom_error *err)
{
    if (!path) return loom_error_set(err, LOOM_ERR_INVALID, "loom_dataset_open_file: NULL path");
    return open_dataset(s, p, LOOM_SPLIT_TEST, path, o, out, rep, err);
}

int64_t loom_dataset_rows(const struct loom_dataset *d)
{
    return d ? d->n : 0;
}

const char *loom_dataset_row_id(const struct loom_dataset *d, int64_t i, size_t *len)
{
    if (!d || !d->idoff || i < 0 || i >= d->n) return NULL;
    if (len) *len = (size_t)(d->idoff[i + 1] - d->idoff[i]);
    return d->idpool + d->idoff[i];
}

int64_t loom_dataset_row_line(const struct loom_dataset *d, int64_t i)
{
    return d && i >= 0 && i < d->n ? d->lines[i] : 0;
}

const char *loom_dataset_cache_path(const struct loom_dataset *d)
{
    return d ? d->cache_path : NULL;
}

void loom_dataset_close(struct loom_dataset **dp)
{
    if (!dp || !*dp) return;
    struct loom_dataset *d = *dp;
    for (int i = 0; i < d->nowned; i++) free(d->owned[i]);
    free(d->owned);
    loom_cache_close(&d->map);
    free(d->c);
    free(d->cache_path);
    free(d);
    *dp = NULL;
}
