/* args.c — the command line: the table of commands (usage, which flags each
 * takes, help text), argv → CmdArgs, and the generated --help. */
#include "cmd/cmd.h"
#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum {
    F_SET = 1 << 0, F_RESUME = 1 << 1, F_CHECKPOINT = 1 << 2, F_MOST_CONFUSED = 1 << 3, F_MIN = 1 << 4,
    F_CONFUSION = 1 << 5, F_TOP_LOSSES = 1 << 6, F_THRESHOLDS = 1 << 7, F_SIMILAR = 1 << 8,
    F_MODEL = 1 << 9, F_ALL = 1 << 10, F_UNKNOWN = 1 << 11, F_N = 1 << 12, F_OUT = 1 << 13,
    F_MAX_BATCHES = 1 << 14, F_PAUSE_AFTER = 1 << 15,
};

/* How many positionals a command takes. */
enum { POS_CONFIG, POS_PREDICT, POS_GET };

typedef struct CmdInfo {
    const char *name;
    CmdFn fn;
    unsigned flags;
    int pos;
    const char *usage;
    const char *summary;
} CmdInfo;

static const CmdInfo commands[] = {
    {"train", cmd_train, F_SET | F_RESUME | F_MAX_BATCHES | F_PAUSE_AFTER, POS_CONFIG, "CONFIG [--set SECTION.KEY=VALUE]... [--resume]",
     "Train as the config says; writes config.ini, metrics.csv, model.safetensors, losses.png\n"
     "into [output] dir. --resume continues an interrupted run where it stopped."},
    {"lr_find", cmd_lr_find, F_SET | F_CHECKPOINT | F_MAX_BATCHES, POS_CONFIG, "CONFIG [--set ...] [--checkpoint FILE]",
     "fastai's learning-rate finder: loss against an exponentially growing lr ([lr_find] keys);\n"
     "prints the suggest_funcs' suggestions, writes lr_find.csv and lr_find.png. The model is left\n"
     "untouched. --checkpoint starts from a trained model of the config (trained whole)."},
    {"interpret", cmd_interpret,
     F_SET | F_CHECKPOINT | F_MOST_CONFUSED | F_MIN | F_CONFUSION | F_TOP_LOSSES | F_THRESHOLDS | F_SIMILAR,
     POS_CONFIG,
     "CONFIG [--checkpoint FILE] [--most-confused [--min N]] [--confusion]\n"
     "                   [--top-losses K] [--thresholds] [--similar ITEM]",
     "Interpret a trained model on the validation set: confusion matrix, most confused pairs,\n"
     "top losses, per-label thresholds (multi-label), similar items (collab)."},
    {"predict", cmd_predict, F_SET | F_MODEL | F_ALL | F_UNKNOWN, POS_PREDICT,
     "(CONFIG | --model FILE) INPUT... [--all] [--unknown bias]",
     "Predict image files or folders (- reads a list from stdin), or USER,ITEM pairs for collab;\n"
     "CSV on stdout. --all prints every class probability."},
    {"show_batch", cmd_show_batch, F_SET | F_N | F_OUT, POS_CONFIG, "CONFIG [--n N] [--out FILE.png]",
     "Draw N items of a training batch, after transforms, with their labels, into a PNG."},
    {"summary", cmd_summary, F_SET, POS_CONFIG, "CONFIG",
     "Data: counts per split, vocab, one batch's shapes, the first training item;\n"
     "model: layers, parameters, FLOPs."},
    {"validate", cmd_validate, F_SET, POS_CONFIG, "CONFIG [--set ...]",
     "Parse and check everything and print the resolved config (every default written out).\n"
     "Absent data paths are reported as notes (exit 0); any config mistake exits 2."},
    {"get", cmd_get, F_N, POS_GET, "DATASET [DIR] [--n N]",
     "Materialise a known dataset into DIR (default data/DATASET; see data/README.md):\n"
     "fashion_mnist (from Debian's dataset-fashion-mnist), shapes (--n images, default 2000),\n"
     "shapes_single (one shape per image: the pretraining set of bench/accuracy_shapes.sh)."},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

typedef struct FlagInfo {
    const char *name;
    unsigned bit;    /* 0: every command takes it */
    const char *arg; /* NULL for a switch */
    const char *help;  /* NULL: a hidden test flag, left out of --help */
} FlagInfo;

static const FlagInfo flags[] = {
    {"--set", F_SET, "SECTION.KEY=VALUE", "override a config key (repeatable; wins over the file)"},
    {"--resume", F_RESUME, NULL, "continue the run in [output] dir from where it stopped"},
    {"--checkpoint", F_CHECKPOINT, "FILE", "weights to start from (interpret default: the run's model.safetensors)"},
    {"--most-confused", F_MOST_CONFUSED, NULL, "list the most confused (actual, predicted) pairs"},
    {"--min", F_MIN, "N", "with --most-confused: pairs seen at least N times (default 1; 0 lists every pair)"},
    {"--confusion", F_CONFUSION, NULL, "confusion matrix (confusion.csv, confusion.png)"},
    {"--top-losses", F_TOP_LOSSES, "K", "the K validation items with the highest loss"},
    {"--thresholds", F_THRESHOLDS, NULL, "multi-label: accuracy against threshold (thresholds.csv, thresholds.png)"},
    {"--similar", F_SIMILAR, "ITEM", "collab: items closest to ITEM (an id or exact title) in factor space"},
    {"--model", F_MODEL, "FILE", "predict from a saved model without its config"},
    {"--all", F_ALL, NULL, "print every class probability"},
    {"--unknown", F_UNKNOWN, "POLICY", "collab: what to do with unknown users/items (bias)"},
    {"--n", F_N, "N", "show_batch: items to show (default 9); get shapes[_single]: images (default 2000)"},
    {"--out", F_OUT, "FILE", "where to write the picture (default: <output dir>/show_batch.png)"},
    {"--max-batches", F_MAX_BATCHES, "N", NULL},
    {"--pause-after", F_PAUSE_AFTER, "N", NULL},
    {"--threads", 0, "N", "threads for BLAS, kernels and the loader (default: all cores)"},
    {"--quiet", 0, NULL, "no progress output"},
    {"--json", 0, NULL, "results as JSON on stdout (errors as a JSON object on stderr)"},
    {"--help", 0, NULL, "this text"},
};
#define N_FLAGS ((int)(sizeof flags / sizeof flags[0]))

static const CmdInfo *find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

CmdFn cmd_lookup(const char *command)
{
    const CmdInfo *c = find_command(command);
    return c ? c->fn : NULL;
}

/* Edit distance for suggestions (small strings only). */
static int distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 40 || lb > 40) return 99;
    int d[41][41];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

static int parse_count(const char *flag, const char *text, int lo, int hi, int *out, Err *err)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi)
        return err_set(err, ERR_USAGE, "fastc: %s: found '%s', expected an integer in [%d, %d]", flag, text, lo, hi);
    *out = (int)v;
    return 0;
}

int cmd_argv_json(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--json")) return 1;
    return 0;
}

void cmd_args_free(CmdArgs *a)
{
    free(a->sets);
    free(a->inputs);
    a->sets = a->inputs = NULL;
}

/* Long because it is one pass over argv with a short branch per kind of
 * argument (flags with and without a value, --set, positionals per command);
 * which command takes which flag is the tables above. */
int cmd_parse(int argc, char **argv, CmdArgs *a, int *action, Err *err)
{
    memset(a, 0, sizeof *a);
    a->min_count = 1;
    a->n = 9;
    int min_given = 0;   /* --min given (its value may be the default) */
    *action = CMD_RUN;
    if (argc < 2) {
        *action = CMD_HELP;
        return 0;
    }
    /* --json may come before the command too (`fastc --json --version`), as a
     * global option: the error of a command line that does not parse is JSON
     * then as well (cmd_argv_json scans the whole line) */
    int c = 1;
    while (c < argc - 1 && !strcmp(argv[c], "--json")) c++, a->ctx.json = 1;
    const char *first = argv[c];
    if (!strcmp(first, "--version") || !strcmp(first, "-V")) {
        *action = CMD_VERSION;   /* other flags after it are ignored; --json is read by cmd_argv_json */
        a->ctx.json = cmd_argv_json(argc, argv);
        return 0;
    }
    if (!strcmp(first, "--help") || !strcmp(first, "-h") || !strcmp(first, "help")) {
        *action = CMD_HELP;
        if (argc > c + 1) {
            if (strcmp(argv[c + 1], "config") && !find_command(argv[c + 1]))
                return err_set(err, ERR_USAGE, "fastc --help: found '%s', expected a command or 'config'", argv[c + 1]);
            a->command = argv[c + 1];
        }
        return 0;
    }
    const CmdInfo *cmd = find_command(first);
    if (!cmd) {
        const char *near = NULL;
        int bd = 3;
        for (int i = 0; i < N_COMMANDS; i++) {
            int d = distance(first, commands[i].name);
            if (d < bd) bd = d, near = commands[i].name;
        }
        if (first[0] == '-')
            return err_set(err, ERR_USAGE, "fastc: found option %s before a command, expected a command first "
                           "(fastc COMMAND ...; see fastc --help)", first);
        if (near)
            return err_set(err, ERR_USAGE, "fastc: found unknown command '%s', expected a command (did you mean %s?)",
                           first, near);
        return err_set(err, ERR_USAGE, "fastc: found unknown command '%s', expected one of train, lr_find, "
                       "interpret, predict, show_batch, summary, validate, get", first);
    }
    a->command = cmd->name;
    if (cmd->pos == POS_GET) a->n = 0;  /* get: 0 = the dataset's own size */
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    a->inputs = calloc((size_t)argc, sizeof *a->inputs);
    if (!a->sets || !a->inputs) return err_set(err, ERR_RUNTIME, "fastc: out of memory");
    const char **pos = a->inputs; /* positionals collect here, then shift */
    int n_pos = 0, only_pos = 0;
    for (int i = c + 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || !strcmp(arg, "-")) {
            pos[n_pos++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(arg, "-h")) arg = "--help";
        /* --flag=value or --flag value */
        char name[64];
        const char *val = NULL, *eq = strchr(arg, '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - arg : (long)strlen(arg)), arg);
        const FlagInfo *f = NULL;
        for (int k = 0; k < N_FLAGS; k++)
            if (!strcmp(flags[k].name, name)) f = &flags[k];
        if (!f) {
            const char *near = NULL;
            int bd = 3;
            for (int k = 0; k < N_FLAGS; k++) {
                int d = distance(name, flags[k].name);
                if (d < bd && flags[k].help && (!flags[k].bit || (cmd->flags & flags[k].bit))) bd = d, near = flags[k].name;
            }
            if (near)
                return err_set(err, ERR_USAGE, "fastc %s: found unknown option %s, expected an option of %s "
                               "(did you mean %s?)", cmd->name, name, cmd->name, near);
            return err_set(err, ERR_USAGE, "fastc %s: found unknown option %s, expected one of fastc %s --help",
                           cmd->name, name, cmd->name);
        }
        if (f->bit && !(cmd->flags & f->bit))
            return err_set(err, ERR_USAGE, "fastc %s: found option %s, expected options of %s only (see fastc %s "
                           "--help)", cmd->name, f->name, cmd->name, cmd->name);
        if (f->arg) {
            if (eq) val = eq + 1;
            else if (i + 1 < argc) val = argv[++i];
            else return err_set(err, ERR_USAGE, "fastc %s: found %s at the end, expected %s %s", cmd->name, f->name,
                                f->name, f->arg);
        } else if (eq) {
            return err_set(err, ERR_USAGE, "fastc %s: found %s, expected %s without a value", cmd->name, arg, name);
        }
        int rc = 0;
        if (!strcmp(name, "--help")) {
            *action = CMD_HELP;
            return 0;
        } else if (!strcmp(name, "--set")) {
            if (!strchr(val, '='))
                return err_set(err, ERR_USAGE, "fastc %s: --set %s: found no '=', expected SECTION.KEY=VALUE",
                               cmd->name, val);
            a->sets[a->n_sets++] = val;
        } else if (!strcmp(name, "--resume")) a->resume = 1;
        else if (!strcmp(name, "--checkpoint")) a->checkpoint = val;
        else if (!strcmp(name, "--most-confused")) a->most_confused = 1;
        else if (!strcmp(name, "--min")) {
            /* 0 is allowed, as fastai's most_confused(min_val=0): zero cells are listed too */
            rc = parse_count(name, val, 0, INT_MAX, &a->min_count, err);
            min_given = 1;
        }
        else if (!strcmp(name, "--confusion")) a->confusion = 1;
        else if (!strcmp(name, "--top-losses")) rc = parse_count(name, val, 1, INT_MAX, &a->top_losses, err);
        else if (!strcmp(name, "--thresholds")) a->thresholds = 1;
        else if (!strcmp(name, "--similar")) a->similar = val;
        else if (!strcmp(name, "--model")) a->model_path = val;
        else if (!strcmp(name, "--all")) a->all = 1;
        else if (!strcmp(name, "--unknown")) a->unknown = val;
        else if (!strcmp(name, "--n"))
            rc = parse_count(name, val, 1, cmd->pos == POS_GET ? 10000000 : 1024, &a->n, err);
        else if (!strcmp(name, "--out")) a->out = val;
        else if (!strcmp(name, "--max-batches")) rc = parse_count(name, val, 1, INT_MAX, &a->max_batches, err);
        else if (!strcmp(name, "--pause-after")) {
            int k;
            rc = parse_count(name, val, 1, INT_MAX, &k, err);
            a->pause_after = k;
        }
        else if (!strcmp(name, "--threads")) rc = parse_count(name, val, 1, 4096, &a->ctx.threads, err);
        else if (!strcmp(name, "--quiet")) a->ctx.quiet = 1;
        else if (!strcmp(name, "--json")) a->ctx.json = 1;
        if (rc) return rc;
        if (f->arg && !*val)
            return err_set(err, ERR_USAGE, "fastc %s: found an empty value for %s, expected %s", cmd->name, name,
                           f->arg);
    }
    if (min_given && !a->most_confused)
        return err_set(err, ERR_USAGE, "fastc %s: found --min without --most-confused, expected both", cmd->name);
    switch (cmd->pos) {
    case POS_CONFIG:
        if (n_pos != 1)
            return err_set(err, ERR_USAGE, "fastc %s: found %d arguments, expected one CONFIG file (fastc %s %s)",
                           cmd->name, n_pos, cmd->name, cmd->usage);
        a->config_path = pos[0];
        pos[0] = NULL;
        break;
    case POS_PREDICT: {
        int k = 0;
        if (a->model_path && n_pos > 0 && strlen(pos[0]) > 4 && !strcmp(pos[0] + strlen(pos[0]) - 4, ".ini"))
            return err_set(err, ERR_USAGE, "fastc predict: found both %s and --model, expected one of them", pos[0]);
        if (!a->model_path) {
            if (n_pos < 1)
                return err_set(err, ERR_USAGE, "fastc predict: found no arguments, expected CONFIG (or --model "
                               "FILE) and INPUT...");
            a->config_path = pos[k++];
        }
        if (n_pos - k < 1)
            return err_set(err, ERR_USAGE, "fastc predict: found no INPUT, expected image files, folders, - or "
                           "USER,ITEM pairs");
        memmove(pos, pos + k, sizeof *pos * (size_t)(n_pos - k));
        a->n_inputs = n_pos - k;
        pos[a->n_inputs] = NULL;
        break;
    }
    case POS_GET:
        if (n_pos < 1 || n_pos > 2)
            return err_set(err, ERR_USAGE, "fastc get: found %d arguments, expected DATASET [DIR]", n_pos);
        a->n_inputs = n_pos;
        break;
    }
    return 0;
}

void cmd_print_help(const char *topic, FILE *out)
{
    if (topic && !strcmp(topic, "config")) {
        fprintf(out, "fastc config files: INI sections with key = value; values in fastai's call syntax\n"
                     "(numbers, 'strings', names, Name(a, k=v), (tuples), [lists], slice(lo, hi), and\n"
                     "comma-separated lists).  Precedence: defaults < file < --set.  Relative paths resolve\n"
                     "against the config file's folder.  `;` or `#` starts a comment line; ` ;` an inline one.\n\n");
        config_print_help(out);
        return;
    }
    const CmdInfo *cmd = topic ? find_command(topic) : NULL;
    if (!cmd) {
        fprintf(out, "fastc — the fastai workflow as one native command, driven by INI files.\n\nUsage:\n");
        for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "  fastc %-10s %s\n", commands[i].name, commands[i].usage);
        fprintf(out, "  fastc --help [COMMAND | config] | fastc COMMAND --help | fastc --version\n\n"
                     "Every command takes --threads N (default: all cores), --quiet, --json.\n"
                     "Exit status: 0 success, 2 usage or config error, 1 run-time failure.\n"
                     "fastc --help config lists every config key and component.\n");
        return;
    }
    fprintf(out, "Usage: fastc %s %s\n\n%s\n\nOptions:\n", cmd->name, cmd->usage, cmd->summary);
    for (int k = 0; k < N_FLAGS; k++) {
        if ((flags[k].bit && !(cmd->flags & flags[k].bit)) || !flags[k].help) continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", flags[k].name, flags[k].arg ? " " : "", flags[k].arg ? flags[k].arg : "");
        fprintf(out, "  %-28s %s\n", left, flags[k].help);
    }
    if (!strcmp(cmd->name, "validate")) {
        fprintf(out, "\n");
        config_print_help(out);
    }
}

/* ---- the manual page and shell completion (make install) ------------------------ */

/* text as troff: backslashes escaped, '-' as \- (a hyphen-minus, copyable),
 * a line starting with '.' or '\'' guarded with \& */
static void troff_text(FILE *out, const char *text)
{
    int bol = 1;
    for (const char *p = text; *p; p++) {
        if (bol && (*p == '.' || *p == '\'')) fputs("\\&", out);
        if (*p == '\\') fputs("\\e", out);
        else if (*p == '-') fputs("\\-", out);
        else fputc(*p, out);
        bol = *p == '\n';
    }
    if (!bol) fputc('\n', out);
}

/* What --help prints for topic, as troff in a no-fill block. */
static void man_help_block(FILE *out, const char *topic)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m) return;
    cmd_print_help(topic, m);
    fclose(m);
    fputs(".nf\n", out);
    troff_text(out, buf);
    fputs(".fi\n", out);
    free(buf);
}

void cmd_print_man(FILE *out)
{
    fputs(".\\\" fastc(1), generated from the command and config tables (src/cmd/args.c, src/config/schema.c)\n"
          ".TH FASTC 1 \"\" \"fastc\" \"User Commands\"\n"
          ".SH NAME\nfastc \\- the fastai workflow as one native command, driven by INI files\n"
          ".SH SYNOPSIS\n", out);
    man_help_block(out, NULL);
    fputs(".SH DESCRIPTION\n"
          "fastc trains and uses image classifiers, multi\\-label and point models (torchvision resnets with\n"
          "fastai's head) and collaborative\\-filtering models as fastai does, from a config file written in\n"
          "fastai's names.  Every command builds the same pipeline from the config (data, model, learner) and\n"
          "does one thing with it.\n"
          ".SH COMMANDS\n", out);
    for (int i = 0; i < N_COMMANDS; i++) {
        fprintf(out, ".SS %s\n", commands[i].name);
        man_help_block(out, commands[i].name);
    }
    fputs(".SH CONFIGURATION\n", out);
    man_help_block(out, "config");
    fputs(".SH EXIT STATUS\n0 success, 2 usage or config error, 1 run\\-time failure.  Every error is one line on\n"
          "standard error naming the file (and line, key or item) and what was expected.\n"
          ".SH ENVIRONMENT\n.TP\n.B TORCH_HOME\nwhere \\fBpretrained = True\\fR looks for torchvision's weights: "
          "$TORCH_HOME/hub/checkpoints (default $XDG_CACHE_HOME/torch, then ~/.cache/torch).\n"
          ".SH SEE ALSO\nThe README of the fastc sources; fastai's documentation.\n", out);
}

/* Flags of a command, space-separated (every command's common ones included;
 * the hidden test flags left out). */
static void flags_of(const CmdInfo *cmd, FILE *out)
{
    for (int k = 0; k < N_FLAGS; k++)
        if (flags[k].help && (!flags[k].bit || (cmd->flags & flags[k].bit)))
            fprintf(out, "%s%s", k ? " " : "", flags[k].name);
}

void cmd_print_bash_completion(FILE *out)
{
    fputs("# bash completion for fastc, generated from its command and config tables\n"
          "_fastc() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    local commands=\"", out);
    for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "%s%s", i ? " " : "", commands[i].name);
    fputs("\"\n    local keys=\"", out);
    char key[128];
    for (int i = 0; config_key_at(i, key, sizeof key); i++) fprintf(out, "%s%s=", i ? " " : "", key);
    fputs("\"\n"
          "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
          "        COMPREPLY=($(compgen -W \"$commands --help --version\" -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    case \"$prev\" in\n"
          "        --set) COMPREPLY=($(compgen -W \"$keys\" -- \"$cur\")); compopt -o nospace 2>/dev/null; return ;;\n"
          "        --checkpoint|--model|--out) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", out);
    fputs("        ", out);
    int first = 1;
    for (int k = 0; k < N_FLAGS; k++)
        if (flags[k].arg && flags[k].help && strcmp(flags[k].name, "--set") && strcmp(flags[k].name, "--checkpoint") &&
            strcmp(flags[k].name, "--model") && strcmp(flags[k].name, "--out"))
            fprintf(out, "%s%s", first ? "" : "|", flags[k].name), first = 0;
    fputs(") return ;;\n    esac\n    local opts\n    case \"${COMP_WORDS[1]}\" in\n", out);
    for (int i = 0; i < N_COMMANDS; i++) {
        fprintf(out, "        %s) opts=\"", commands[i].name);
        flags_of(&commands[i], out);
        fputs("\" ;;\n", out);
    }
    fputs("        --help|-h|help) COMPREPLY=($(compgen -W \"$commands config\" -- \"$cur\")); return ;;\n"
          "        *) return ;;\n"
          "    esac\n"
          "    if [[ $cur == -* ]]; then\n"
          "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "    else\n"
          "        COMPREPLY=($(compgen -f -X '!*.ini' -- \"$cur\") $(compgen -d -- \"$cur\"))\n"
          "    fi\n"
          "}\n"
          "complete -F _fastc fastc\n", out);
}
