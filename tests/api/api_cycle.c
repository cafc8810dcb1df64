/*
 * api_cycle.c — one open / predict / embed / close cycle through the
 * shared libloom only (include/loom.h), for valgrind's memcheck (meson test
 * api-valgrind): every row kind, photos by bytes and by path, a bad photo,
 * a bad value; then everything freed.
 *
 *   api_cycle MODEL_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom.h"

static int check(enum loom_status st, const struct loom_error *err, const char *what)
{
    if (st) fprintf(stderr, "api_cycle: %s: %s\n", what, err->message);
    return st != LOOM_OK;
}

static void *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) free(buf), buf = NULL;
    fclose(f);
    *n = (size_t)len;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    char path[4096], photo[4096];
    snprintf(path, sizeof path, "%s/model.loom", argv[1]);
    struct loom_error err = {0};
    loom_model *m = NULL;
    loom_session *s = NULL;
    loom_rows *rows = NULL;
    int bad = check(loom_model_open(path, &m, &err), &err, "open");
    if (!bad) bad = check(loom_session_new(m, &s, &err), &err, "session");
    if (!bad) bad = check(loom_rows_new(m, &rows, &err), &err, "rows");
    if (bad) return 1;
    /* the first photo of the first listing that has one */
    snprintf(path, sizeof path, "%s/listings.csv", argv[1]);
    size_t n = 0;
    char *csv = slurp(path, &n);
    const char *jpg = csv ? strstr(csv, ".jpg") : NULL;
    if (!jpg) return 1;
    const char *start = jpg;
    while (start > csv && start[-1] != ',' && start[-1] != '|') start--;
    snprintf(photo, sizeof photo, "%s/photos/%.*s", argv[1], (int)(jpg + 4 - start), start);
    free(csv);
    uint8_t *bytes = slurp(photo, &n);
    if (!bytes) return 1;
    for (int round = 0; round < 2 && !bad; round++) {
        loom_rows_clear(rows);
        int64_t i;
        bad |= check(loom_rows_add(rows, &i, &err), &err, "add");
        bad |= check(loom_rows_set_string(rows, i, "title", "shiny red bike", 14, &err), &err,
                     "title");
        bad |= check(loom_rows_set_string(rows, i, "condition", "new", 3, &err), &err, "cond");
        bad |= check(loom_rows_set_number(rows, i, "year", 2019, &err), &err, "year");
        bad |= check(loom_rows_set_string(rows, i, "tags", "local|pickup", 12, &err), &err, "tags");
        bad |= check(loom_rows_add_image(rows, i, "photos", bytes, n, &err), &err, "photo");
        bad |= check(loom_rows_add_image(rows, i, "photos", bytes, n / 3, &err), &err, "cut");
        bad |= check(loom_rows_add_image_path(rows, i, "photos", photo, &err), &err, "path");
        bad |= check(loom_rows_add(rows, &i, &err), &err, "add"); /* all missing */
        bad |= check(loom_rows_add(rows, &i, &err), &err, "add");
        bad |= check(loom_rows_set_string(rows, i, "condition", "unseen", 6, &err), &err, "c");
        bad |= loom_rows_set_string(rows, i, "year", "abc", 3, &err) != LOOM_ERR_INVALID;
        bad |= loom_rows_warning_count(rows) != 1;
        const loom_result *r = NULL;
        bad |= check(loom_predict(s, rows, &r, &err), &err, "predict");
        if (bad) break;
        int w;
        const double *price = loom_result_values(r, 0, &w);
        int cnt;
        const float *att = loom_result_attention(r, 0, "photos", &cnt);
        printf("price %.2f %.2f %.2f, kind %d, attention %d: %.3f %.3f %.3f\n", price[0], price[1],
               price[2], loom_result_label(r, 1, 0), cnt, att[0], att[1], att[2]);
        bad |= check(loom_embed(s, rows, &r, &err), &err, "embed");
    }
    free(bytes);
    loom_rows_free(&rows);
    loom_session_free(&s);
    loom_model_close(&m);
    return bad;
}
