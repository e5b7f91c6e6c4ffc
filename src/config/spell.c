/* spell.c — what fastai notebooks write, in fastc's words.  A config is
 * copied from a notebook, so the Python spellings a notebook uses for the
 * same component are accepted and rewritten here, before the schema checks
 * them (the resolved config shows fastc's spelling):
 *
 *   partial(accuracy_multi, thresh=0.2)       accuracy_multi(thresh=0.2)
 *   using_attr(RegexLabeller(pat), 'name')    RegexLabeller(pat): it matches the file name
 *   get_image_files(path[, recurse, folders]) fastai's positional order; `path` is [data] path
 *   SuggestionMethod.Minimum                  minimum (fastai >= 2.7.10's enum)
 *
 * (A tuple where a list of components goes and `*imagenet_stats` / `*aug_transforms(...)`
 * need no rewriting: check.c takes tuples as lists and the value parser reads `*x` as x.)
 *
 * What cannot be written in a config gets one line saying so and which
 * component does the job: a lambda (FuncSplitter(lambda o: ...)), a function
 * of the notebook's own (get_y = get_ctr), and the arguments of fastai's
 * factory methods written as keys (item_name = 'title' is
 * CollabDataLoaders.from_df's; here CollabBlock(item='title') says it). */
#include "config/schema.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CfgValue *fail(Err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static CfgValue *fail(Err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[sizeof err->msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(err, ERR_USAGE, "%s", msg);
    return NULL;
}

static CfgValue *nomem(Err *err, const char *where)
{
    err_set(err, ERR_RUNTIME, "%s: out of memory", where);
    return NULL;
}

/* What does the job of a function, per kind of component. */
static const char *job_of(SchemaSlot slot)
{
    switch (slot) {
    case SLOT_GETTER:
        return "get_x/get_y take parent_label (the folder's name), RegexLabeller(pat) (a regex on the file name), "
               "ColReader(col) (a column of [data] csv) or PointsFromCSV('file.csv') (points)";
    case SLOT_SPLITTER:
        return "a splitter is RandomSplitter(valid_pct, seed), GrandparentSplitter(train_name, valid_name), "
               "ColSplitter(col) or FuncSplitter(parent_name='13') (the items in folders named 13 validate)";
    case SLOT_ITEMS:
        return "get_items is get_image_files(folders=[...], recurse=...), or the rows of [data] csv";
    default: return NULL;
    }
}

static void slot_names(SchemaSlot slot, char *buf, size_t cap)
{
    size_t len = 0;
    int k = 0;
    buf[0] = 0;
    for (int i = 0; i < schema_n_comps && len < cap; i++)
        if (schema_comps[i].slot == slot)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", k++ ? ", " : "", schema_comps[i].name);
}

void spell_function_hint(SchemaSlot slot, char *buf, size_t cap)
{
    const char *job = job_of(slot);
    char names[768];
    if (!job) {
        slot_names(slot, names, sizeof names);
        snprintf(buf, cap, "a function cannot be written in a config; %s %s is one of %s",
                 schema_article(schema_slot_names[slot]), schema_slot_names[slot], names);
        return;
    }
    snprintf(buf, cap, "a function cannot be written in a config; %s", job);
}

/* Whether v or anything inside it is a lambda (the value parser reads a
 * lambda expression as the name `lambda`, a keyword Python allows nowhere else). */
static int has_lambda(const CfgValue *v)
{
    if (!v) return 0;
    if (v->kind == CV_IDENT && !strcmp(v->str, "lambda")) return 1;
    for (int i = 0; i < v->n; i++)
        if (has_lambda(v->items[i])) return 1;
    return 0;
}

static int is_name(const CfgValue *v, const char *name) { return v && v->kind == CV_IDENT && !strcmp(v->str, name); }

/* partial(f, *args, **kw) → f(f's args, args, kw) */
static CfgValue *from_partial(const CfgValue *v, Err *err, const char *where)
{
    const CfgValue *f = v->n > 0 && !v->names[0] ? v->items[0] : NULL;
    if (!f || (f->kind != CV_IDENT && f->kind != CV_CALL))
        return fail(err, "%s: found %s(...) without a component first, expected partial(component, arg=value, ...) "
                    "(fastai's partial(accuracy_multi, thresh=0.2))", where, v->str);
    CfgValue *o = cv_new(CV_CALL, v->line);
    if (!o || !(o->str = strdup(f->str))) {
        cfg_value_free(o);
        return nomem(err, where);
    }
    for (int pass = 0; pass < 2; pass++) {
        const CfgValue *src = pass ? v : f;
        for (int i = pass; src->kind == CV_CALL && i < src->n; i++) {
            CfgValue *it = cv_clone(src->items[i]);
            char *nm = src->names[i] ? strdup(src->names[i]) : NULL;
            if (!it || (src->names[i] && !nm) || cv_push(o, it, nm) != 0) {
                cfg_value_free(it);
                free(nm);
                cfg_value_free(o);
                return nomem(err, where);
            }
        }
    }
    return o;
}

/* using_attr(RegexLabeller(pat), 'name') → RegexLabeller(pat) */
static CfgValue *from_using_attr(const CfgValue *v, Err *err, const char *where)
{
    const CfgValue *f = v->n == 2 ? v->items[0] : NULL, *attr = v->n == 2 ? v->items[1] : NULL;
    int name_attr = attr && (attr->kind == CV_STR || attr->kind == CV_IDENT) && !strcmp(attr->str, "name");
    if (!f || !name_attr || !(f->kind == CV_CALL || f->kind == CV_IDENT) || strcmp(f->str, "RegexLabeller"))
        return fail(err, "%s: found using_attr(...), expected using_attr(RegexLabeller(pat), 'name') (fastc's "
                    "RegexLabeller matches the file name already; a pattern with a '/' matches the whole path)",
                    where);
    CfgValue *o = cv_clone(f);
    return o ? o : nomem(err, where);
}

/* get_image_files in fastai's positional order (path, recurse, folders):
 * `path` is the DataBlock's source, [data] path here, so it is dropped; the
 * others become keywords.  Anything else first would have been taken for
 * folders=[...] by the schema's order: refused with what to write. */
static CfgValue *from_get_image_files(const CfgValue *v, Err *err, const char *where, int *done)
{
    static const char *const fastai_order[] = {"path", "recurse", "folders"};
    int positional = 0, path_kw = 0;
    for (int i = 0; i < v->n; i++) {
        if (!v->names[i]) positional++;
        else if (!strcmp(v->names[i], "path")) path_kw = 1;
    }
    *done = positional > 0 || path_kw;
    if (!*done) return NULL;
    if (positional > 3)
        return fail(err, "%s: found %d positional arguments to get_image_files, expected at most 3 (path, recurse, "
                    "folders)", where, positional);
    CfgValue *o = cv_new(CV_CALL, v->line);
    if (!o || !(o->str = strdup("get_image_files"))) {
        cfg_value_free(o);
        return nomem(err, where);
    }
    for (int i = 0; i < v->n; i++) {
        const char *name = v->names[i] ? v->names[i] : fastai_order[i];
        if (!strcmp(name, "path")) {
            if (is_name(v->items[i], "path")) continue;   /* the data folder */
            char found[128];
            cfg_value_format(v->items[i], found, sizeof found);
            cfg_value_free(o);
            return fail(err, "%s: found get_image_files(%s), expected get_image_files(path) or no path: the files "
                        "are those under [data] path (a sub-folder of it: get_image_files(folders=['train']))", where,
                        found);
        }
        CfgValue *it = cv_clone(v->items[i]);
        char *nm = strdup(name);
        if (!it || !nm || cv_push(o, it, nm) != 0) {
            cfg_value_free(it);
            free(nm);
            cfg_value_free(o);
            return nomem(err, where);
        }
    }
    return o;
}

CfgValue *spell_component(const CfgValue *v, SchemaSlot slot, Err *err, const char *where, int *done)
{
    *done = 0;
    if (has_lambda(v)) {
        *done = 1;
        char hint[1024];
        if ((v->kind == CV_CALL || v->kind == CV_IDENT) && !strcmp(v->str, "FuncSplitter"))
            snprintf(hint, sizeof hint, "a function cannot be written in a config; FuncSplitter(parent_name='13') "
                     "validates the items whose folder is named 13");
        else
            spell_function_hint(slot, hint, sizeof hint);
        return fail(err, "%s: found a lambda, expected a component: %s", where, hint);
    }
    if (v->kind == CV_CALL && (!strcmp(v->str, "partial") || !strcmp(v->str, "functools.partial"))) {
        *done = 1;
        return from_partial(v, err, where);
    }
    if (v->kind == CV_CALL && !strcmp(v->str, "using_attr")) {
        *done = 1;
        return from_using_attr(v, err, where);
    }
    if (v->kind == CV_CALL && !strcmp(v->str, "get_image_files")) return from_get_image_files(v, err, where, done);
    if (v->kind == CV_IDENT && slot == SLOT_SUGGEST && !strncmp(v->str, "SuggestionMethod.", 17)) {
        *done = 1;
        CfgValue *o = cv_new(CV_IDENT, v->line);
        if (!o || !(o->str = strdup(v->str + 17))) {
            cfg_value_free(o);
            return nomem(err, where);
        }
        for (char *p = o->str; *p; p++) *p = (char)tolower((unsigned char)*p);
        return o;
    }
    return NULL;
}

/* ---- keys of fastai's factory methods -------------------------------------------- */

static const struct {
    const char *key, *advice;
} foreign_keys[] = {
    {"item_name", "CollabDataLoaders.from_df's item_name is blocks = CollabBlock(item='...') here"},
    {"user_name", "CollabDataLoaders.from_df's user_name is blocks = CollabBlock(user='...') here"},
    {"rating_name", "CollabDataLoaders.from_df's rating_name is blocks = CollabBlock(rating='...') here"},
    {"valid_pct", "valid_pct is the splitter's: splitter = RandomSplitter(valid_pct=0.2, seed=42)"},
    {"label_func", "a label function is get_y = parent_label or RegexLabeller(pat) here (a function cannot be "
                   "written in a config)"},
    {"fn_col", "ImageDataLoaders.from_df's fn_col is get_x = ColReader('fname') here"},
    {"label_col", "ImageDataLoaders.from_df's label_col is get_y = ColReader('labels') here"},
    {"valid_col", "ImageDataLoaders.from_df's valid_col is splitter = ColSplitter('is_valid') here"},
    {"label_delim", "label_delim is ColReader's: get_y = ColReader('labels', label_delim=' ')"},
    {"pat", "ImageDataLoaders.from_name_re's pat is get_y = RegexLabeller(pat='...') here"},
    {"epochs", "the epochs are the schedule's: [train] schedule = fit_one_cycle(4, 3e-3) or fine_tune(4)"},
};

const char *spell_foreign_key(const char *key)
{
    for (size_t i = 0; i < sizeof foreign_keys / sizeof foreign_keys[0]; i++)
        if (!strcmp(foreign_keys[i].key, key)) return foreign_keys[i].advice;
    return NULL;
}
