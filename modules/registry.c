/* registry.c — the encoder classes by kind (encoder.h), and the calls every
 * encoder goes through. One line per class in the table below. */
#include <string.h>

#include "encoder.h"

extern const struct loom_encoder_class loom_encoder_mlp, loom_encoder_rnn, loom_encoder_cnn;

/* Indexed by enum loom_encoder_kind. */
static const struct loom_encoder_class *const classes[] = {
    &loom_encoder_mlp,
    &loom_encoder_rnn,
    &loom_encoder_cnn,
};
_Static_assert(LOOM_ARRAY_LEN(classes) == LOOM_ENC_COUNT, "an encoder class per kind");

const struct loom_encoder_class *loom_encoder_class_of(enum loom_encoder_kind kind)
{
    if ((int)kind < 0 || kind >= LOOM_ENC_COUNT) return NULL;
    LOOM_ASSERT(classes[kind]->kind == kind); /* the table is in the enum's order */
    return classes[kind];
}

enum loom_status loom_encoder_init(struct loom_encoder *e, const struct loom_schema *s, int branch,
                                   const struct loom_prep *p, struct loom_store *store,
                                   struct loom_error *err)
{
    if (!e || !s || !p || !store || branch < 0 || branch >= s->nbranches)
        return loom_error_set(err, LOOM_ERR_INVALID, "encoder: bad arguments (branch %d)", branch);
    memset(e, 0, sizeof *e);
    const struct loom_schema_branch *br = &s->branches[branch];
    const struct loom_encoder_class *cls = loom_encoder_class_of(br->encoder);
    if (!cls)
        return loom_error_set(err, LOOM_ERR_UNSUPPORTED, "branch '%s': no encoder of kind %d",
                              br->name, (int)br->encoder);
    if (loom_prep_ncols(p) != s->ncolumns)
        return loom_error_set(err, LOOM_ERR_INVALID,
                              "branch '%s': the preprocessing has %d columns, the schema %d",
                              br->name, loom_prep_ncols(p), s->ncolumns);
    int group = loom_store_group(store, br->name);
    if (group < 0)
        return loom_error_set(err, LOOM_ERR_LIMIT, "branch '%s': more than %d param groups",
                              br->name, LOOM_MAX_GROUPS);
    *e = (struct loom_encoder){.cls = cls, .schema = s, .branch = branch, .group = group};
    enum loom_status st = cls->init(e, s, branch, p, store, err);
    if (st) memset(e, 0, sizeof *e); /* init freed its own state */
    return st;
}

struct loom_tensor *loom_encoder_forward(struct loom_ctx *c, const struct loom_encoder *e,
                                         const struct loom_batch *b, const float **attention)
{
    const float *att = NULL;
    if (attention) *attention = NULL;
    if (c->status) return NULL;
    if (!e || !e->cls || !b) return loom_fail(c, LOOM_ERR_INVALID, "encoder: not initialised");
    struct loom_tensor *y = e->cls->forward(c, e, b, &att);
    if (y && attention) *attention = att;
    return y;
}

void loom_encoder_done(struct loom_encoder *e)
{
    if (!e) return;
    if (e->cls && e->cls->free) e->cls->free(e);
    memset(e, 0, sizeof *e);
}
