/*
 * model_io.c — a model to and from its file (model.h). The byte layout,
 * the checksum and the atomic write are core/model_file.c's; this file
 * decides what goes in: every param and buffer of the store under its own
 * name, the prep blob as the U8 tensor "prep", and metadata "schema" (the
 * resolved schema as YAML, every default explicit), "schema_source" (the
 * name it was first read under), "model_seed", and for checkpoints
 * "train_state" and the optimizer moments.
 */
#include <inttypes.h>
#include <string.h>

#include "core/model_file.h"
#include "model.h"
#include "model_io.h"

enum loom_status loom_model_schema_text(const struct loom_model *m, char **text, size_t *len,
                                        struct loom_error *err)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return loom_error_set(err, LOOM_ERR_NOMEM, "schema text: out of memory");
    enum loom_status st = loom_schema_dump(&m->schema, f);
    if (fclose(f) != 0 && !st) st = LOOM_ERR_NOMEM;
    if (st) {
        free(buf);
        return loom_error_set(err, st, "schema text: could not write the schema");
    }
    *text = buf;
    *len = n;
    return LOOM_OK;
}

enum loom_status loom_model_save(const struct loom_model *m, const char *path,
                                 const struct loom_model_save_opts *o, struct loom_error *err)
{
    if (!m || !path) return loom_error_set(err, LOOM_ERR_INVALID, "loom_model_save: NULL argument");
    char *schema = NULL;
    size_t slen = 0, plen = 0;
    uint8_t *prep = NULL;
    enum loom_status st = loom_model_schema_text(m, &schema, &slen, err);
    if (st) return st;
    if ((st = loom_prep_save(m->prep, &prep, &plen, err))) goto done;
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, m->seed);
    struct loom_mf_meta meta[5] = {{"model_seed", seed}, {"schema", schema}};
    size_t nmeta = 2;
    if (m->schema.source) meta[nmeta++] = (struct loom_mf_meta){"schema_source", m->schema.source};
    if (o && o->train_state) meta[nmeta++] = (struct loom_mf_meta){"train_state", o->train_state};
    if (o && o->data_checksum)
        meta[nmeta++] = (struct loom_mf_meta){"data_checksum", o->data_checksum};
    struct loom_mf_tensor extra = {
        .name = "prep", .dtype = LOOM_DTYPE_U8, .ndim = 1, .shape = {(int64_t)plen}, .data = prep};
    struct loom_mf_save what = {.store = &m->store,
                                .with_optim = o && o->with_optim,
                                .extra = &extra,
                                .nextra = 1,
                                .meta = meta,
                                .nmeta = nmeta};
    st = loom_model_file_save(path, &what, err);
done:
    free(schema);
    free(prep);
    return st;
}

/* The first error of a schema diagnostic list into err. */
static enum loom_status from_diag(struct loom_diag *d, enum loom_status st, const char *path,
                                  struct loom_error *err)
{
    if (d->count > 0)
        loom_error_set(err, st, "%s: stored schema: %s (line %d)", path, d->items[0].message,
                       d->items[0].line);
    else
        loom_error_set(err, st, "%s: stored schema does not load", path);
    loom_diag_done(d);
    return st;
}

enum loom_status loom_model_from_file(const struct loom_model_file *mf, const char *path,
                                      const struct loom_model_opts *opts, struct loom_model **out,
                                      struct loom_error *err)
{
    const char *text = loom_model_file_meta(mf, "schema");
    const char *seed_s = loom_model_file_meta(mf, "model_seed");
    const struct loom_mf_tensor *pt = loom_model_file_find(mf, "prep");
    if (!text || !seed_s || !pt)
        return loom_error_set(err, LOOM_ERR_FORMAT, "%s: not a loom model (no %s)", path,
                              !text     ? "schema"
                              : !seed_s ? "model_seed"
                                        : "prep tensor");
    if (pt->dtype != LOOM_DTYPE_U8 || pt->ndim != 1)
        return loom_error_set(err, LOOM_ERR_FORMAT, "%s: tensor 'prep' is not a U8 vector", path);
    char *end = NULL;
    uint64_t seed = strtoull(seed_s, &end, 10);
    if (!*seed_s || *end)
        return loom_error_set(err, LOOM_ERR_FORMAT, "%s: model_seed '%s' is not a number", path,
                              seed_s);
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    struct loom_schema_options so = {.skip_file_checks = true};
    /* named as the schema first was, so that its dump (whose first line
     * names it) and thus save -> open -> save stay byte-identical */
    const char *name = loom_model_file_meta(mf, "schema_source");
    enum loom_status st =
        loom_schema_load_mem(text, strlen(text), NULL, name ? name : path, &so, &s, &d);
    if (st) return from_diag(&d, st, path, err);
    loom_diag_done(&d);
    struct loom_prep *p = NULL;
    if ((st = loom_prep_load(&s, pt->data, pt->bytes, &p, err))) {
        loom_schema_free(&s);
        return st;
    }
    struct loom_model *m = NULL;
    if ((st = loom_model_new(&s, &p, seed, opts, &m, err))) {
        loom_schema_free(&s);
        loom_prep_free(&p);
        return st;
    }
    if ((st = loom_model_file_load_store(mf, &m->store, false, err))) {
        loom_model_free(&m);
        return st;
    }
    *out = m;
    return LOOM_OK;
}

enum loom_status loom_model_open_with(const char *path, const struct loom_model_opts *opts,
                                      struct loom_model **out, struct loom_error *err)
{
    if (!path || !out)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_model_open: NULL argument");
    struct loom_model_file *mf = NULL;
    enum loom_status st = loom_model_file_open(path, NULL, &mf, err);
    if (st) return st;
    st = loom_model_from_file(mf, path, opts, out, err);
    loom_model_file_close(&mf);
    return st;
}
