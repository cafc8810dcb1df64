/*
 * cmd_inspect.c — `loom inspect MODEL`: validate a model file completely
 * and list its tensors (name, dtype, shape, elements) and its metadata
 * (long values shortened unless --full, or one key with --meta KEY).
 */
#include <string.h>

#include "cli.h"
#include "core/model_file.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: loom inspect [--full] [--meta KEY] MODEL\n\n"
               "Validate MODEL and list its tensors and metadata.\n"
               "  --full       print metadata values whole\n"
               "  --meta KEY   print only the value of metadata KEY\n");
}

static void print_value(const char *v, bool full)
{
    size_t n = strcspn(v, "\n");
    if (full || (n == strlen(v) && n <= 60)) {
        printf("%s\n", v);
        return;
    }
    size_t lines = 1;
    for (const char *p = v; *p; p++) lines += *p == '\n';
    printf("%.*s ... (%zu bytes, %zu lines)\n", (int)(n < 60 ? n : 60), v, strlen(v), lines);
}

int loom_cmd_inspect(int argc, char **argv)
{
    const char *path = NULL, *key = NULL;
    bool full = false;
    for (int i = 1; i < argc; i++) {
        if (loom_cli_is_help(argv[i])) {
            usage(stdout);
            return LOOM_EXIT_OK;
        } else if (!strcmp(argv[i], "--full")) {
            full = true;
        } else if (!strcmp(argv[i], "--meta") && i + 1 < argc) {
            key = argv[++i];
        } else if (argv[i][0] == '-' || path) {
            usage(stderr);
            return LOOM_EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return LOOM_EXIT_USAGE;
    }
    struct loom_model_file *mf = NULL;
    struct loom_error err = {0};
    if (loom_model_file_open(path, NULL, &mf, &err) != LOOM_OK) {
        if (!err.file[0]) snprintf(err.file, sizeof err.file, "%s", path);
        loom_cli_error("inspect", &err);
        return LOOM_EXIT_FAIL;
    }
    if (key) {
        const char *v = loom_model_file_meta(mf, key);
        if (v)
            printf("%s\n", v);
        else
            fprintf(stderr, "loom inspect: %s: no metadata key '%s'\n", path, key);
        loom_model_file_close(&mf);
        return v ? LOOM_EXIT_OK : LOOM_EXIT_FAIL;
    }
    size_t n = loom_model_file_count(mf), total = 0;
    printf("%s: %zu tensors\n", path, n);
    for (size_t i = 0; i < n; i++) {
        const struct loom_mf_tensor *t = loom_model_file_tensor(mf, i);
        char shape[128];
        size_t off = 0, elems = 1;
        shape[0] = 0;
        for (int d = 0; d < t->ndim && off < sizeof shape; d++) {
            off += (size_t)snprintf(shape + off, sizeof shape - off, d ? "x%lld" : "%lld",
                                    (long long)t->shape[d]);
            elems *= (size_t)t->shape[d];
        }
        total += t->bytes;
        printf("  %-40s %-5s %-16s %10zu\n", t->name, loom_dtype_name(t->dtype),
               t->ndim ? shape : "scalar", elems);
    }
    printf("data: %zu bytes\nmetadata:\n", total);
    for (size_t i = 0; i < loom_model_file_meta_count(mf); i++) {
        const struct loom_mf_meta *m = loom_model_file_meta_at(mf, i);
        printf("  %s: ", m->key);
        print_value(m->value, full);
    }
    loom_model_file_close(&mf);
    return LOOM_EXIT_OK;
}
