/*
 * model.c — the model half of include/loom.h: open, close, and what a
 * caller (or `loom serve`'s GET /schema) may ask of it: its inputs, outputs,
 * label names and embedding width.
 */
#include <string.h>

#include "api.h"

_Static_assert((int)LOOM_TYPE_ID == (int)LOOM_COL_ID && (int)LOOM_TYPE_NUMBER == LOOM_COL_NUMBER &&
                   (int)LOOM_TYPE_BINARY == LOOM_COL_BINARY &&
                   (int)LOOM_TYPE_CATEGORY == LOOM_COL_CATEGORY &&
                   (int)LOOM_TYPE_DATE == LOOM_COL_DATE && (int)LOOM_TYPE_TEXT == LOOM_COL_TEXT &&
                   (int)LOOM_TYPE_IMAGES == LOOM_COL_IMAGES && (int)LOOM_TYPE_SET == LOOM_COL_SET &&
                   (int)LOOM_TYPE_VECTOR == LOOM_COL_VECTOR &&
                   (int)LOOM_TYPE_COUNT == LOOM_COL_TYPE_COUNT,
               "the public types are the schema's column types");

const char *loom_type_name(enum loom_type type)
{
    if ((unsigned)type >= LOOM_TYPE_COUNT) return "unknown";
    return loom_col_type_name((enum loom_col_type)type);
}

enum loom_status loom_model_open(const char *path, loom_model **out, struct loom_error *err)
{
    if (!path || !out)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_model_open: NULL argument");
    return loom_model_open_with(path, NULL, out, err);
}

void loom_model_close(loom_model **model)
{
    loom_model_free(model);
}

int loom_api_column(const struct loom_model *m, const char *name)
{
    return name ? loom_schema_find_column(&m->schema, name) : -1;
}

static bool is_input(const struct loom_schema_column *c)
{
    return c->branch >= 0 && c->type != LOOM_COL_ID;
}

int loom_model_input_count(const loom_model *m)
{
    int n = 0;
    for (int i = 0; m && i < m->schema.ncolumns; i++) n += is_input(&m->schema.columns[i]);
    return n;
}

enum loom_status loom_model_input(const loom_model *m, int i, struct loom_input_info *out)
{
    if (!m || !out || i < 0) return LOOM_ERR_INVALID;
    for (int c = 0; c < m->schema.ncolumns; c++) {
        const struct loom_schema_column *sc = &m->schema.columns[c];
        if (!is_input(sc) || i-- > 0) continue;
        struct loom_prep_column_info info;
        if (loom_prep_column(m->prep, c, &info, NULL)) return LOOM_ERR_INTERNAL;
        struct loom_input_info r = {.name = sc->name, .type = (enum loom_type)sc->type, .width = 1};
        switch (sc->type) {
        case LOOM_COL_TEXT:
        case LOOM_COL_VECTOR:
            r.width = info.width;
            break;
        case LOOM_COL_SET:
            r.width = info.cardinality;
            break;
        case LOOM_COL_IMAGES:
            r.width = m->schema.branches[sc->branch].cnn.image_size;
            r.max_photos = sc->images.max_images;
            r.separator = sc->images.separator;
            break;
        default:
            break;
        }
        if (sc->type == LOOM_COL_SET) r.separator = sc->set.separator;
        if (sc->type == LOOM_COL_VECTOR) r.separator = sc->vector.separator;
        *out = r;
        return LOOM_OK;
    }
    return LOOM_ERR_INVALID;
}

int loom_model_output_count(const loom_model *m)
{
    return m ? m->nheads : 0;
}

enum loom_status loom_model_output(const loom_model *m, int j, struct loom_output_info *out)
{
    if (!m || !out || j < 0 || j >= m->nheads) return LOOM_ERR_INVALID;
    const struct loom_head *h = &m->heads[j];
    *out = (struct loom_output_info){
        .name = m->schema.columns[h->column].name,
        .type = (enum loom_type)h->type,
        .width = h->type == LOOM_COL_CATEGORY ? h->width - 2 : h->width,
    };
    return LOOM_OK;
}

const char *loom_model_output_label(const loom_model *m, int j, int k, size_t *len)
{
    size_t n = 0;
    const char *s = m ? loom_model_label(m, j, k, &n) : NULL;
    if (s && len) *len = n;
    return s;
}

int loom_model_embedding_width(const loom_model *m)
{
    return m ? m->width : 0;
}
