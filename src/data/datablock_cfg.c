/* datablock_cfg.c — datablock_build(): the [data] section read into a DbSpec
 * (datablock.h), then built.  Only reading and checking the config lives
 * here; the data work is in datablock.c.
 *
 * Defaults where the config is silent, as fastai's ImageDataLoaders do:
 * with csv, get_x = the first column and get_y = the second (from_df);
 * without, get_y = parent_label (from_folder).  RandomSplitter(seed=None)
 * takes [learner] seed, so every run is reproducible.
 */
#include "data/datablock.h"

#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAMES 4096

typedef struct SpecStore {
    char path[4096], csv[4096], points[4096];
    const char *csv_names[MAX_NAMES];
    const char *folders[MAX_NAMES];
    const char *vocab[MAX_NAMES];
} SpecStore;

/* A ST_NAMES value (list of strings, or None) into out; returns the count. */
static int names_of(const CfgValue *v, const char **out, const char *what, int *n, Err *err)
{
    *n = 0;
    if (!v || v->kind == CV_NONE) return 0;
    int k = cfg_list_len(v);
    if (k > MAX_NAMES) return err_set(err, ERR_USAGE, "[data] %s: more than %d names", what, MAX_NAMES);
    for (int i = 0; i < k; i++) out[i] = cfg_list_at(v, i)->str;
    *n = k;
    return 0;
}

/* A ColReader/ColSplitter column: a name or an index. */
static int column_of(const CfgValue *v, const char *what, const char **name, int *idx, Err *err)
{
    *name = NULL, *idx = 0;
    if (!v || v->kind == CV_NONE) return 0;
    if (v->kind == CV_LIST || v->kind == CV_TUPLE) {
        if (cfg_list_len(v) != 1)
            return err_set(err, ERR_USAGE, "[data] %s: found %d columns, expected one column", what, cfg_list_len(v));
        v = cfg_list_at(v, 0);
    }
    if (v->kind == CV_NUM) *idx = (int)v->num;
    else *name = v->str;
    return 0;
}

static const char *opt_str(const CfgValue *v) { return v && v->kind != CV_NONE ? v->str : NULL; }

static void join(char *buf, size_t cap, const char *dir, const char *rel)
{
    if (rel[0] == '/') snprintf(buf, cap, "%s", rel);
    else snprintf(buf, cap, "%s/%s", dir, rel);
}

static int spec_from_config(const Config *cfg, DbSpec *s, SpecStore *st, Err *err)
{
    memset(s, 0, sizeof *s);
    int rc;
    /* blocks: ImageBlock, then the target */
    const CfgValue *blocks = cfg_get(cfg, "data", "blocks");
    int nb = cfg_list_len(blocks);
    const CfgValue *b0 = nb > 0 ? cfg_list_at(blocks, 0) : NULL, *b1 = nb > 1 ? cfg_list_at(blocks, 1) : NULL;
    if (!b0 || strcmp(b0->str, "ImageBlock") != 0)
        return err_set(err, ERR_USAGE, "[data] blocks: found %s first, expected ImageBlock (then a target block)",
                       b0 ? b0->str : "nothing");
    if (!b1 || nb != 2)
        return err_set(err, ERR_USAGE, "[data] blocks: found %d blocks, expected ImageBlock and one target block "
                       "(CategoryBlock, MultiCategoryBlock or PointBlock)", nb);
    if (!strcmp(b1->str, "CategoryBlock")) {
        s->kind = TARGET_CATEGORY;
        const CfgValue *sort = cfg_arg(b1, "sort");
        s->vocab_unsorted = sort && sort->kind == CV_BOOL && sort->num == 0;
    } else if (!strcmp(b1->str, "MultiCategoryBlock")) {
        s->kind = TARGET_MULTI;
    } else if (!strcmp(b1->str, "PointBlock")) {
        s->kind = TARGET_POINTS;
    } else {
        return err_set(err, ERR_USAGE, "[data] blocks: found %s, expected CategoryBlock, MultiCategoryBlock or "
                       "PointBlock after ImageBlock", b1->str);
    }
    if (s->kind != TARGET_POINTS) {
        if ((rc = names_of(cfg_arg(b1, "vocab"), st->vocab, "vocab", &s->n_vocab, err))) return rc;
        s->vocab = s->n_vocab ? st->vocab : NULL;
        const CfgValue *na = cfg_arg(b1, "add_na");
        s->add_na = na && na->kind == CV_BOOL && na->num != 0;
        /* fastai: CategoryBlock(vocab=...) sorts a given vocab too (sort=True);
         * MultiCategoryBlock keeps a given vocab's order */
        if (s->vocab && s->kind == TARGET_MULTI) s->vocab_unsorted = 1;
    }

    /* where things are */
    if (cfg_path(cfg, "data", "path", st->path, sizeof st->path) == NULL)
        snprintf(st->path, sizeof st->path, "%s", config_dir(cfg));
    s->path = st->path;
    if (cfg_path(cfg, "data", "csv", st->csv, sizeof st->csv)) s->csv = st->csv;
    const char *sep = cfg_str(cfg, "data", "csv_sep");
    if (!sep || strlen(sep) != 1)
        return err_set(err, ERR_USAGE, "%s: [data] csv_sep: found '%s', expected one character such as ',' or '\\t'",
                       config_file(cfg), sep ? sep : "");
    s->csv_sep = sep[0];
    if ((rc = names_of(cfg_get(cfg, "data", "csv_names"), st->csv_names, "csv_names", &s->n_csv_names, err))) return rc;
    s->csv_names = s->n_csv_names ? st->csv_names : NULL;

    /* items */
    const CfgValue *gi = cfg_get(cfg, "data", "get_items");
    if ((rc = names_of(cfg_arg(gi, "folders"), st->folders, "get_items folders", &s->n_folders, err))) return rc;
    s->folders = s->n_folders ? st->folders : NULL;
    const CfgValue *rec = cfg_arg(gi, "recurse");
    s->recurse = !(rec && rec->kind == CV_BOOL && rec->num == 0);

    /* get_x */
    const CfgValue *gx = cfg_get(cfg, "data", "get_x");
    if (gx) {
        if (strcmp(gx->str, "ColReader") != 0)
            return err_set(err, ERR_USAGE, "[data] get_x: found %s, expected ColReader('col', pref=...) (or no get_x)",
                           gx->str);
        if (!s->csv) return err_set(err, ERR_USAGE, "[data] get_x = ColReader(...) needs [data] csv, the table it reads");
        if ((rc = column_of(cfg_arg(gx, "cols"), "get_x", &s->x_col, &s->x_col_idx, err))) return rc;
        s->x_pref = opt_str(cfg_arg(gx, "pref"));
        s->x_suffix = opt_str(cfg_arg(gx, "suffix"));
    } else {
        s->x_col_idx = 0;
    }

    /* get_y */
    const CfgValue *gy = cfg_get(cfg, "data", "get_y");
    if (!gy) {
        if (s->kind == TARGET_POINTS)
            return err_set(err, ERR_USAGE, "[data] get_y: PointBlock needs get_y = PointsFromCSV('file.csv')");
        if (s->csv) s->y = DB_Y_COL, s->y_col_idx = 1;
        else s->y = DB_Y_PARENT;
    } else if (!strcmp(gy->str, "parent_label")) {
        s->y = DB_Y_PARENT;
    } else if (!strcmp(gy->str, "RegexLabeller")) {
        s->y = DB_Y_REGEX;
        s->y_pat = opt_str(cfg_arg(gy, "pat"));
        const CfgValue *m = cfg_arg(gy, "match");
        s->y_match = m && m->kind == CV_BOOL && m->num != 0;
    } else if (!strcmp(gy->str, "ColReader")) {
        s->y = DB_Y_COL;
        if ((rc = column_of(cfg_arg(gy, "cols"), "get_y", &s->y_col, &s->y_col_idx, err))) return rc;
        s->label_delim = opt_str(cfg_arg(gy, "label_delim"));
        if (s->label_delim && !*s->label_delim) s->label_delim = NULL;
    } else if (!strcmp(gy->str, "PointsFromCSV")) {
        s->y = DB_Y_POINTS;
        join(st->points, sizeof st->points, s->path, opt_str(cfg_arg(gy, "fname")));
        s->points_csv = st->points;
    } else {
        return err_set(err, ERR_USAGE, "[data] get_y: found %s, expected parent_label, RegexLabeller, ColReader or "
                       "PointsFromCSV", gy->str);
    }

    /* splitter */
    const CfgValue *sp = cfg_get(cfg, "data", "splitter");
    if (!strcmp(sp->str, "RandomSplitter")) {
        s->split = DB_SPLIT_RANDOM;
        s->valid_pct = cfg_arg_num(sp, "valid_pct");
        const CfgValue *seed = cfg_arg(sp, "seed");
        s->seed = seed && seed->kind == CV_NUM ? (uint64_t)seed->num : (uint64_t)cfg_num(cfg, "learner", "seed");
    } else if (!strcmp(sp->str, "GrandparentSplitter")) {
        s->split = DB_SPLIT_GRANDPARENT;
        s->train_name = cfg_arg_str(sp, "train_name");
        s->valid_name = cfg_arg_str(sp, "valid_name");
    } else if (!strcmp(sp->str, "ColSplitter")) {
        s->split = DB_SPLIT_COL;
        if ((rc = column_of(cfg_arg(sp, "col"), "splitter", &s->split_col, &s->split_col_idx, err))) return rc;
    } else if (!strcmp(sp->str, "FuncSplitter")) {
        s->split = DB_SPLIT_PARENT;
        s->parent_name = cfg_arg_str(sp, "parent_name");
    } else {
        return err_set(err, ERR_USAGE, "[data] splitter: found %s, expected RandomSplitter, GrandparentSplitter, "
                       "ColSplitter or FuncSplitter", sp->str);
    }
    const char *bad = cfg_str(cfg, "data", "on_bad_item");
    s->skip_bad = bad && !strcmp(bad, "skip");
    return 0;
}

int datablock_build(const Config *cfg, Dataset *ds, Err *err)
{
    memset(ds, 0, sizeof *ds);
    SpecStore *st = malloc(sizeof *st);
    if (!st) return err_set(err, ERR_RUNTIME, "out of memory");
    DbSpec s;
    int rc = spec_from_config(cfg, &s, st, err);
    if (!rc) rc = datablock_build_spec(&s, ds, err);
    free(st);
    return rc;
}
