/*
 * ablate.c — keeping a subset of a resolved schema's branches (schema.h):
 * the ablations of `loom train --branches`. The branches left out and the
 * columns only they read are removed and every index renumbered, so the
 * result is an ordinary schema (its dump loads to it) whose model simply
 * never sees those columns. Outputs, id columns, data and training stay.
 */
#include <string.h>

#include "read.h"
#include "schema.h"

static enum loom_status unknown_branch(const struct loom_schema *s, const char *name,
                                       struct loom_error *err)
{
    const char *cand[256];
    int n = LOOM_MIN(s->nbranches, 256);
    char list[400];
    size_t off = 0;
    list[0] = 0;
    for (int b = 0; b < n; b++) {
        cand[b] = s->branches[b].name;
        int w = snprintf(list + off, sizeof list - off, "%s%s", b ? ", " : "", cand[b]);
        if (w < 0 || (size_t)w >= sizeof list - off) break;
        off += (size_t)w;
    }
    const char *sug = loom_suggest(name, cand, n);
    return loom_error_set(err, LOOM_ERR_SCHEMA,
                          "no branch '%s' in the schema%s%s%s (its branches: %s)", name,
                          sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "", list);
}

enum loom_status loom_schema_keep_branches(struct loom_schema *s, const char *const *names, int n,
                                           struct loom_error *err)
{
    if (!s || (n > 0 && !names) || n < 0)
        return loom_error_set(err, LOOM_ERR_INVALID, "loom_schema_keep_branches: bad argument");
    if (n == 0) return loom_error_set(err, LOOM_ERR_INVALID, "no branch to keep");
    for (int i = 0; i < n; i++)
        if (!names[i] || loom_schema_find_branch(s, names[i]) < 0)
            return unknown_branch(s, names[i] ? names[i] : "", err);
    int *colmap = malloc((size_t)LOOM_MAX(s->ncolumns, 1) * sizeof *colmap);
    int *brmap = malloc((size_t)LOOM_MAX(s->nbranches, 1) * sizeof *brmap);
    if (!colmap || !brmap) {
        free(colmap), free(brmap);
        return loom_error_set(err, LOOM_ERR_NOMEM, "out of memory");
    }
    /* the new index of each branch and column, or -1 when it goes */
    int nb = 0, nc = 0;
    for (int b = 0; b < s->nbranches; b++) {
        brmap[b] = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(names[i], s->branches[b].name)) brmap[b] = nb++;
    }
    for (int c = 0; c < s->ncolumns; c++) {
        int b = s->columns[c].branch;
        colmap[c] = b < 0 || brmap[b] >= 0 ? nc++ : -1;
    }
    /* compact in place; nothing can fail from here on */
    for (int c = 0; c < s->ncolumns; c++) {
        struct loom_schema_column *col = &s->columns[c];
        if (colmap[c] < 0) {
            free(col->name);
            loom_free_typed(&loom_typed_column, col);
            continue;
        }
        if (col->branch >= 0) col->branch = brmap[col->branch];
        s->columns[colmap[c]] = *col;
    }
    for (int b = 0; b < s->nbranches; b++) {
        struct loom_schema_branch *br = &s->branches[b];
        if (brmap[b] < 0) {
            free(br->name);
            free(br->columns);
            loom_free_typed(&loom_typed_branch, br);
            continue;
        }
        for (int i = 0; i < br->ncolumns; i++) br->columns[i] = colmap[br->columns[i]];
        s->branches[brmap[b]] = *br;
    }
    for (int o = 0; o < s->noutputs; o++) s->outputs[o].column = colmap[s->outputs[o].column];
    s->ncolumns = nc;
    s->nbranches = nb;
    free(colmap), free(brmap);
    return LOOM_OK;
}
