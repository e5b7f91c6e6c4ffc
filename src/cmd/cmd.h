/* cmd.h — the subcommands.  main.c parses argv into CmdArgs and calls one of
 * these; each wires the shared pieces (config → data → model → learner) and
 * does its one thing.  They return 0 or an exit status with err filled; they
 * never print errors themselves (main.c does). */
#ifndef FASTC_CMD_H
#define FASTC_CMD_H

#include "core/ctx.h"
#include "core/err.h"

#include <stdio.h>

#define FASTC_VERSION "0.1.0"

typedef struct CmdArgs {
    const char *command;       /* "train", "lr_find", ... */
    const char *config_path;   /* CONFIG, or NULL (predict --model) */
    const char **sets;         /* --set section.key=value, in order */
    int n_sets;
    const char **inputs;       /* remaining positionals: predict inputs; get DATASET [DIR] */
    int n_inputs;
    int resume;                /* train --resume */
    const char *checkpoint;    /* interpret --checkpoint FILE */
    const char *model_path;    /* predict --model FILE */
    int most_confused;         /* interpret --most-confused */
    int min_count;             /* interpret --min N (default 1) */
    int confusion;             /* interpret --confusion */
    int top_losses;            /* interpret --top-losses K (0 = off) */
    int thresholds;            /* interpret --thresholds */
    const char *similar;       /* interpret --similar ITEM */
    int all;                   /* predict --all */
    const char *unknown;       /* predict --unknown bias */
    int n;                     /* show_batch --n N */
    const char *out;           /* show_batch --out FILE */
    Ctx ctx;                   /* --threads, --quiet, --json, seed once the config is read */
} CmdArgs;

/* What main() should do after cmd_parse(). */
enum { CMD_RUN, CMD_HELP, CMD_VERSION };

/* Parse argv into a (argv[0] is the program).  Returns 0 and sets *action; on a
 * usage error returns ERR_USAGE with a one-line message naming the flag or
 * argument.  For CMD_HELP, a->command is the topic (NULL = overview, a command
 * name, or "config").  a->ctx.threads is 0 unless --threads was given.
 * cmd_args_free releases what cmd_parse allocated. */
int  cmd_parse(int argc, char **argv, CmdArgs *a, int *action, Err *err);
/* Whether --json is among the options (before any `--`), also when argv does
 * not parse: main.c prints the parse error as JSON then. */
int  cmd_argv_json(int argc, char **argv);
void cmd_args_free(CmdArgs *a);
/* --help text: the overview (NULL), one command, or "config" (every key). */
void cmd_print_help(const char *topic, FILE *out);
/* The manual page fastc(1), troff, made from the same tables as --help: each
 * command's --help text verbatim, the overview, `--help config`. */
void cmd_print_man(FILE *out);
/* A bash completion script: commands, each command's flags, `--set
 * SECTION.KEY=` from the config schema, config files and folders. */
void cmd_print_bash_completion(FILE *out);
/* The function behind a command name (NULL if unknown). */
typedef int (*CmdFn)(const CmdArgs *a, Err *err);
CmdFn cmd_lookup(const char *command);

int cmd_train(const CmdArgs *a, Err *err);
int cmd_lr_find(const CmdArgs *a, Err *err);
int cmd_interpret(const CmdArgs *a, Err *err);
int cmd_predict(const CmdArgs *a, Err *err);
int cmd_show_batch(const CmdArgs *a, Err *err);
int cmd_summary(const CmdArgs *a, Err *err);
int cmd_validate(const CmdArgs *a, Err *err);
int cmd_get(const CmdArgs *a, Err *err);

#endif
