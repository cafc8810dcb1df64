/*
 * cli.h — the `loom` command: one file per subcommand (cmd_<name>.c), each
 * `int loom_cmd_<name>(int argc, char **argv)` returning the exit code:
 * 0 success, 1 failure, 2 usage error. argv[0] is the subcommand's name.
 * The table of subcommands is in main.c.
 */
#ifndef LOOM_CLI_H
#define LOOM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "include/loom.h"

enum { LOOM_EXIT_OK = 0, LOOM_EXIT_FAIL = 1, LOOM_EXIT_USAGE = 2 };

/* The subcommands (one file each). */
int loom_cmd_check(int argc, char **argv);
int loom_cmd_inspect(int argc, char **argv);
int loom_cmd_serve(int argc, char **argv);

/* Print "loom <cmd>: <status text>: <message>" (with file:line:column when
 * known) to stderr. */
void loom_cli_error(const char *cmd, const struct loom_error *err);

/* True when argv[i] is -h or --help. */
bool loom_cli_is_help(const char *arg);

#endif
