/* main.c — `loom`: dispatch to a subcommand. */
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"check", loom_cmd_check, "check a schema and the first rows of its data"},
    {"train", loom_cmd_train, "train the model a schema describes"},
    {"eval", loom_cmd_eval, "a model's metrics on labelled rows"},
    {"predict", loom_cmd_predict, "predictions for the rows of a CSV, as CSV"},
    {"embed", loom_cmd_embed, "the fused embedding of each row, as .npy"},
    {"lr-find", loom_cmd_lr_find, "sweep the learning rate and suggest one"},
    {"inspect", loom_cmd_inspect, "list a model file's tensors and metadata"},
    {"serve", loom_cmd_serve, "answer predictions and embeddings over HTTP"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: loom COMMAND [ARGS...]   (loom COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nloom %s\n", loom_version());
}

void loom_cli_error(const char *cmd, const struct loom_error *err)
{
    fprintf(stderr, "loom %s: ", cmd);
    if (err->file[0]) {
        fprintf(stderr, "%s:", err->file);
        if (err->line) fprintf(stderr, "%d:", err->line);
        if (err->line && err->column) fprintf(stderr, "%d:", err->column);
        fprintf(stderr, " ");
    }
    fprintf(stderr, "%s: %s\n", loom_strerror(err->code), err->message);
}

bool loom_cli_is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return LOOM_EXIT_USAGE;
    }
    if (loom_cli_is_help(argv[1])) {
        usage(stdout);
        return LOOM_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("loom %s\n", loom_version());
        return LOOM_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "loom: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return LOOM_EXIT_USAGE;
}
