/* schema.h — private to src/config: the shape of the one table (schema.c) of
 * sections, keys and components, and the value parser's internal entry point.
 * Nothing outside src/config includes this; the module's interface is config.h. */
#ifndef FASTC_CONFIG_SCHEMA_H
#define FASTC_CONFIG_SCHEMA_H

#include "config/config.h"

#include <stdio.h>

/* What a key or a component argument accepts. */
typedef enum SchemaType {
    ST_INT,       /* integer number, in [lo, hi] */
    ST_NUM,       /* number, in [lo, hi] */
    ST_BOOL,      /* True / False */
    ST_STR,       /* quoted string (a bare identifier is taken as its text) */
    ST_PATH,      /* file or folder; unquoted text is taken verbatim */
    ST_PATH_BOOL, /* a path as ST_PATH, or True / False (model.pretrained) */
    ST_CHOICE,    /* one of `choices` ("a|b|c"), quoted or bare; stored as CV_STR */
    ST_NAMES,     /* list of names (quoted or bare): csv_names, vocab */
    ST_NUMS,      /* tuple/list of numbers; `count` items when count > 0 */
    ST_INTS,      /* tuple/list of integers (layer sizes) */
    ST_SIZE,      /* integer, or a (height, width) tuple of integers */
    ST_LR,        /* number or slice(lo, hi) / slice(hi) */
    ST_STATS,     /* imagenet_stats | mnist_stats | cifar_stats, or a tuple of numbers */
    ST_COLS,      /* column: name or index, or a list of them */
    ST_INT_BOOL,  /* False/True or an integer (SaveModelCallback every_epoch) */
    ST_ANY,       /* any value (checked by the module that uses it) */
    ST_COMP,      /* one component of `slot` */
    ST_COMP_LIST  /* one or more components of `slot` */
} SchemaType;

/* Which keys accept a component (config.h: public, for the setup layer). */
typedef CfgSlot SchemaSlot;

/* A value's type, default and limits: shared by keys and component arguments. */
typedef struct SchemaSpec {
    SchemaType type;
    SchemaSlot slot;      /* ST_COMP / ST_COMP_LIST */
    const char *def;      /* default in config syntax; NULL = required (or unset when optional) */
    int optional;         /* no default: may stay unset */
    double lo, hi;        /* numeric range (when lo < hi) */
    int lo_open, hi_open; /* exclude the bound itself */
    const char *choices;  /* ST_CHOICE: "a|b|c" */
    int count;            /* ST_NUMS: exact number of items (0 = any) */
} SchemaSpec;

typedef struct SchemaKey {
    const char *section;
    const char *name;
    SchemaSpec spec;
    const char *rel_to;   /* ST_PATH: "section.key" of a folder it is relative to when that
                             key is set (data.csv lives under data.path), else the config dir */
    const char *help;
} SchemaKey;

typedef struct SchemaArg {
    const char *name;
    SchemaSpec spec;
} SchemaArg;

#define SCHEMA_MAX_ARGS 16

/* Targets, as bits: a target block's own bit, the targets a metric or a loss fits. */
enum { FIT_CATEGORY = 1, FIT_MULTI = 2, FIT_POINTS = 4, FIT_REGRESSION = 8, FIT_COLLAB = 16 };
#define FIT_NUMBERS (FIT_POINTS | FIT_REGRESSION | FIT_COLLAB)

typedef struct SchemaComp {
    const char *name;
    SchemaSlot slot;
    SchemaArg args[SCHEMA_MAX_ARGS]; /* ends at the first NULL name */
    const char *help;
    unsigned fits;                   /* FIT_*: blocks, metrics and losses */
} SchemaComp;

extern const SchemaKey schema_keys[];
extern const int schema_n_keys;
extern const SchemaComp schema_comps[];
extern const int schema_n_comps;
extern const char *const schema_sections[];
extern const int schema_n_sections;
extern const char *const schema_slot_names[SLOT_COUNT]; /* "block", "splitter", ... */
const char *schema_article(const char *noun); /* "a" or "an" */

const SchemaKey *schema_key(const char *section, const char *name);
const SchemaComp *schema_comp(const char *name, SchemaSlot slot); /* slot SLOT_NONE = any */
int schema_comp_n_args(const SchemaComp *c);
/* The names of slot's components that fit any target of `fit`, in table
 * order: "error_rate, accuracy". */
void schema_fitting(SchemaSlot slot, unsigned fit, char *buf, size_t cap);

/* Index of s in choices ("a|b|c"), or -1. */
int schema_choice_index(const char *choices, const char *s);

/* Standard statistics by name: returns 1 and fills mean/std (n channels) when known. */
int schema_stats(const char *name, double mean[3], double std[3], int *n);

/* Value parser with an error prefix ("file:line: [section] key"). */
CfgValue *cv_parse(const char *text, const char *where, int line, Err *err);
/* Replace control characters in err->msg by '?': messages stay one line. */
void cv_one_line(Err *err);
CfgValue *cv_new(CfgKind kind, int line);
int cv_push(CfgValue *v, CfgValue *item, char *name); /* 0 ok, -1 out of memory */
CfgValue *cv_clone(const CfgValue *v);
/* Short description of a value for "found X" ("'abc'", "Resize(...)", "a number 3"). */
void cv_describe(const CfgValue *v, char *buf, size_t cap);

/* Edit distance (optimal string alignment, case-insensitive). */
int schema_edit_distance(const char *a, const char *b);
/* Whether `typo` is close enough to `cand` to suggest it. */
int schema_is_near(const char *typo, const char *cand);

/* Describe what a spec expects ("an integer in [1, 65536]", "one of fail, skip"). */
void schema_expected(const SchemaSpec *s, char *buf, size_t cap);
/* "Resize(size, method='crop', pad_mode='reflection')" */
void schema_signature(const SchemaComp *c, char *buf, size_t cap);

/* spell.c: fastai's spellings of a component (partial(f, k=v), using_attr(f,
 * 'name'), get_image_files(path, ...), SuggestionMethod.X) → a fresh value in
 * fastc's, with *done set; a lambda anywhere in it → NULL with err set and
 * *done set; anything else → NULL, *done 0 (v stands as written). */
CfgValue *spell_component(const CfgValue *v, SchemaSlot slot, Err *err, const char *where, int *done);
/* "a function cannot be written in a config; <what does the job in slot>" */
void spell_function_hint(SchemaSlot slot, char *buf, size_t cap);
/* Advice for a key that is an argument of a fastai factory method
 * (item_name, valid_pct, label_func, ...), or NULL. */
const char *spell_foreign_key(const char *key);

/* check.c: a value as written → a fresh resolved value, or NULL with err set
 * to "<where>: found X, expected Y". */
CfgValue *check_value(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where);
/* What a spec expects, listing component names for component keys. */
void check_expected(const SchemaSpec *s, char *buf, size_t cap);
void check_slot_names(SchemaSlot slot, char *buf, size_t cap);

#endif
