/* fixtures.c — the trained model's files and rows built from them
 * (fixtures.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

const char *ax_dir(void)
{
    const char *d = getenv("LOOM_API_MODEL");
    if (!d) fail_msg("LOOM_API_MODEL is not set (run through meson test)");
    return d ? d : ".";
}

const char *ax_model_path(void)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/model.loom", ax_dir());
    return path;
}

void *ax_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    buf[len] = 0;
    *n = (size_t)len;
    return buf;
}

/* Split line at ',' in place into at most max fields. */
static int split(char *line, char **out, int max)
{
    int n = 0;
    out[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') *p = 0, out[n++] = p + 1;
    return n;
}

void ax_csv_read(struct ax_csv *t, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ax_dir(), name);
    size_t len;
    char *text = ax_read_file(path, &len);
    memset(t, 0, sizeof *t);
    int64_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    t->rows = calloc((size_t)lines, sizeof *t->rows);
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    assert_non_null(line);
    char *f[64];
    t->ncols = split(line, f, 64);
    t->names = calloc((size_t)t->ncols, sizeof *t->names);
    for (int c = 0; c < t->ncols; c++) t->names[c] = strdup(f[c]);
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *copy = strdup(line);
        char **row = calloc((size_t)t->ncols, sizeof *row);
        int k = split(copy, f, 64);
        assert_int_equal(k, t->ncols);
        for (int c = 0; c < t->ncols; c++) row[c] = strdup(f[c]);
        free(copy);
        t->rows[t->n++] = row;
    }
    free(text);
}

void ax_csv_done(struct ax_csv *t)
{
    for (int64_t r = 0; r < t->n; r++) {
        for (int c = 0; c < t->ncols; c++) free(t->rows[r][c]);
        free(t->rows[r]);
    }
    for (int c = 0; c < t->ncols; c++) free(t->names[c]);
    free(t->rows), free(t->names);
    memset(t, 0, sizeof *t);
}

int ax_csv_col(const struct ax_csv *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->names[c], name) == 0) return c;
    return -1;
}

void ax_add_row(loom_rows *rows, const struct ax_csv *t, int64_t r)
{
    struct loom_error err = {0};
    int64_t i;
    assert_int_equal(loom_rows_add(rows, &i, &err), LOOM_OK);
    static const char *const inputs[] = {"title", "condition", "year", "posted", "tags"};
    for (size_t k = 0; k < sizeof inputs / sizeof *inputs; k++) {
        const char *v = t->rows[r][ax_csv_col(t, inputs[k])];
        enum loom_status st = loom_rows_set_string(rows, i, inputs[k], v, strlen(v), &err);
        if (st) fail_msg("%s", err.message);
    }
    char photos[1024];
    snprintf(photos, sizeof photos, "%s", t->rows[r][ax_csv_col(t, "photos")]);
    char *save = NULL;
    for (char *p = strtok_r(photos, "|", &save); p; p = strtok_r(NULL, "|", &save)) {
        char path[4096];
        snprintf(path, sizeof path, "%s/photos/%s", ax_dir(), p);
        assert_int_equal(loom_rows_add_image_path(rows, i, "photos", path, &err), LOOM_OK);
    }
}
