/* config.h — the typed, validated configuration every command starts from.
 *
 * A config is an INI file (read with inih) whose values use fastai's call
 * syntax:  numbers (1e-3), quoted strings with escapes ('a\tb', "x"), bare
 * identifiers (imagenet_stats, True), tuples ((0, 5.5)), slice(lo, hi), calls
 * Name(a, b, k=v) (dotted names allowed: Normalize.from_stats(...)), and
 * comma-separated lists at the top level (metrics = error_rate, accuracy).
 *
 * Every section and key, and every component (Resize, RandomSplitter, ...) with
 * its arguments, lives in ONE table (schema.c).  From it come validation,
 * `--help`, `fastc validate` and the resolved config.ini a run writes.
 * Precedence: schema defaults < file < --set overrides.
 *
 * After config_load() succeeds, every schema key has a value (its default if
 * the file did not give one; optional keys with no default are NULL), and
 * every call's arguments are resolved by name: positional arguments are named,
 * missing ones filled with their defaults, so consumers ask by name only.
 *
 * Resolved representation (what consumers see):
 *  - A component is always a CV_CALL, also when written bare: `resnet18`,
 *    `error_rate`, `parent_label`, `freeze` are CV_CALL with str = the name and
 *    every argument of the schema present and named (n = schema arg count, 0 for
 *    argument-less ones).  Bare is allowed when every argument has a default.
 *  - Keys that take components (blocks, item_tfms, batch_tfms, metrics, cbs,
 *    schedule, suggest_funcs) are a CV_LIST of CV_CALLs, even with one item;
 *    single-component keys (get_items, get_x, get_y, splitter, arch, loss_func,
 *    opt_func) are one CV_CALL.  Iterate with cfg_list_len / cfg_list_at.
 *  - None, explicit or by default, reads as NULL from cfg_get and cfg_arg.
 *  - Strings and names are CV_STR (a bare name given where a string is expected
 *    becomes its text); choices are CV_STR with the schema's spelling
 *    (method=ResizeMethod.Squish and 'squish' both give "squish").
 *  - Sizes are a CV_NUM or a CV_TUPLE (h, w); learning rates a CV_NUM or a
 *    CV_SLICE; name lists (csv_names, vocab, folders) a CV_LIST of CV_STR.
 *  - Normalize.from_stats(imagenet_stats) is resolved to mean=(...), std=(...)
 *    tuples (mnist_stats gives one channel).
 *  - [output] dir defaults to <current folder>/runs/<config stem> (absolute).
 *  - data.csv and data.item_names are relative to data.path when it is set
 *    (fastai reads path/'train.csv'), else to the config's folder; cfg_path
 *    does this.
 */
#ifndef FASTC_CONFIG_H
#define FASTC_CONFIG_H

#include "core/err.h"

#include <stddef.h>
#include <stdio.h>

typedef enum CfgKind {
    CV_NUM,    /* number: num */
    CV_STR,    /* quoted string: str (escapes decoded) */
    CV_IDENT,  /* bare identifier: str (True/False/None are CV_BOOL/CV_NONE) */
    CV_BOOL,   /* True/False/true/false: num = 1 or 0 */
    CV_NONE,   /* None */
    CV_TUPLE,  /* (a, b, ...): items */
    CV_LIST,   /* top-level comma list or [a, b]: items */
    CV_SLICE,  /* slice(lo, hi) / slice(hi): items[0] = lo (CV_NONE if absent), items[1] = hi */
    CV_CALL    /* Name(args): str = name, items = args, names[i] = keyword (all named once resolved) */
} CfgKind;

typedef struct CfgValue CfgValue;
struct CfgValue {
    CfgKind kind;
    double num;
    char *str;
    int n;              /* number of items / args */
    CfgValue **items;
    char **names;       /* CV_CALL only: argument names, parallel to items */
    int line;           /* line in the config file (0 for defaults and --set) */
};

typedef struct Config Config;

/* What a component is: which keys take it (schema.c's slots). */
typedef enum CfgSlot {
    SLOT_NONE, SLOT_BLOCK, SLOT_ITEMS, SLOT_GETTER, SLOT_SPLITTER, SLOT_ITEM_TFM,
    SLOT_BATCH_TFM, SLOT_ARCH, SLOT_METRIC, SLOT_CB, SLOT_LOSS, SLOT_OPT, SLOT_SCHEDULE,
    SLOT_SUGGEST, SLOT_COUNT
} CfgSlot;

/* Parse `path`, apply `n_sets` overrides of the form "section.key=value", check
 * everything against the schema.  On error returns NULL with err set (code
 * ERR_USAGE, one line "file:line: [section] key: found X, expected Y"). */
Config *config_load(const char *path, const char *const *sets, int n_sets, Err *err);
void    config_free(Config *cfg);

const char *config_file(const Config *cfg);   /* path as given */
const char *config_dir(const Config *cfg);    /* folder relative paths resolve against */
const char *config_stem(const Config *cfg);   /* file name without .ini: default run dir name */

/* The value of section.key: never NULL for keys with a default; NULL for an
 * optional key the file does not set.  Asking for a key not in the schema is a
 * programmer error (asserts). */
const CfgValue *cfg_get(const Config *cfg, const char *section, const char *key);
double      cfg_num(const Config *cfg, const char *section, const char *key);
int         cfg_int(const Config *cfg, const char *section, const char *key);
const char *cfg_str(const Config *cfg, const char *section, const char *key); /* STR or IDENT */
/* Longest path a config may give, once resolved, plus its NUL: longer is a
 * config error naming the key (so no path is ever cut short), and files
 * inside such a folder still fit the system's PATH_MAX (4096). */
#define CFG_PATH_MAX 3072
/* A path value resolved against config_dir() (or the key it is relative to)
 * and tidied ("." and "dir/.." dropped); written into buf, which holds
 * CFG_PATH_MAX bytes or more.  Returns buf, or NULL when the key is unset. */
const char *cfg_path(const Config *cfg, const char *section, const char *key, char *buf, size_t cap);
/* Resolve any relative path against config_dir() into buf; NULL when the
 * result does not fit in cap bytes. */
const char *cfg_resolve(const Config *cfg, const char *rel, char *buf, size_t cap);
/* Whether the key was given in the file or by --set (not a default). */
int         cfg_is_set(const Config *cfg, const char *section, const char *key);
/* Where section.key comes from, as the start of a message: "file:LINE:
 * [section] key" (LINE: `line` when > 0, e.g. the line of one item of a
 * value, else the key's line, else its section's), or "--set ARG: [section]
 * key" when a --set argument gave the value. */
void        cfg_where(const Config *cfg, const char *section, const char *key, int line, char *buf, size_t cap);

/* Arguments of a resolved call, by name (defaults filled by the schema). NULL
 * only for an optional argument with no default that was not given. */
const CfgValue *cfg_arg(const CfgValue *call, const char *name);
double      cfg_arg_num(const CfgValue *call, const char *name);
const char *cfg_arg_str(const CfgValue *call, const char *name);
/* A choice argument (the schema's "a|b|c") as its index in the schema's list:
 * callers map it straight to their enum, whose order the schema follows. */
int         cfg_arg_choice(const CfgValue *call, const char *name);
/* The same for a key of the config. */
int         cfg_choice(const Config *cfg, const char *section, const char *key);
/* The items of a list or tuple value; any other value is a list of one; NULL
 * (unset) is an empty list. */
int         cfg_list_len(const CfgValue *v);
const CfgValue *cfg_list_at(const CfgValue *v, int i);

/* Write the resolved config (every key, defaults included) as INI text, paths
 * made absolute so it loads from anywhere; atomically (temp file + rename). */
int config_write(const Config *cfg, const char *path, Err *err);
/* The same text to a stream (fastc validate), and as one JSON object
 * {"section": {"key": value}}: numbers, strings (paths absolute), true/false,
 * null (unset), arrays (tuples, lists; component keys are always lists),
 * {"slice": [lo, hi]} and {"call": "Name", "args": {"arg": value, ...}}.
 * 0 or -1 on a write error. */
int config_print(const Config *cfg, FILE *out);
int config_print_json(const Config *cfg, FILE *out);
/* The components of the schema table, in table order: name and slot (for the
 * setup layer's registry check). */
int         cfg_comp_count(void);
const char *cfg_comp_at(int i, CfgSlot *slot);

/* The table of every section, key and component (fastc --help config). */
void config_print_help(FILE *out);
/* Key i of the schema as "section.key" in buf (shell completion of --set);
 * NULL when i is past the last key. */
const char *config_key_at(int i, char *buf, size_t cap);
/* Format one value back into fastai syntax. */
void cfg_value_format(const CfgValue *v, char *buf, size_t cap);

/* Parse one value string (exposed for tests and the fuzzer). Returns NULL and
 * sets err on a syntax error. */
CfgValue *cfg_value_parse(const char *text, const char *file, int line, Err *err);
void      cfg_value_free(CfgValue *v);
/* Parse text as the value of section.key and resolve it exactly as
 * config_load() does (components checked, arguments named, defaults filled):
 * for values kept elsewhere, e.g. item_tfms saved in a model's metadata.
 * None gives a CV_NONE value; NULL means an error (err set, ERR_USAGE) that
 * starts "file:line: [section] key" ("file: [section] key" when line is 0). */
CfgValue *cfg_value_parse_key(const char *section, const char *key, const char *text, const char *file, int line,
                              Err *err);

#endif
