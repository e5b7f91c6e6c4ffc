/* data.c — [data] (and [model] n_in, [learner] seed) → DbSpec for image
 * tasks, RatingsSpec for collab, ImageLoaderOpts; the constructors of
 * blocks, get_items, getters, splitters and item and batch transforms.
 *
 * Defaults where the config is silent, as fastai's ImageDataLoaders do:
 * with csv, get_x = the first column and get_y = the second (from_df);
 * without, get_y = parent_label (from_folder).  RandomSplitter(seed=None)
 * takes [learner] seed, so every run is reproducible.
 */
#include "setup/internal.h"

#include "data/augment.h"
#include "data/labels.h"
#include "data/transform.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

/* A list of names (ST_NAMES: a list of strings, or None) into out. */
static int names_of(const CfgValue *v, const char **out, const char *where, int *n, Err *err)
{
    *n = 0;
    if (!v || v->kind == CV_NONE) return 0;
    int k = cfg_list_len(v);
    if (k > SETUP_MAX_NAMES) return err_set(err, ERR_USAGE, "%s: more than %d names", where, SETUP_MAX_NAMES);
    for (int i = 0; i < k; i++) out[i] = cfg_list_at(v, i)->str;
    *n = k;
    return 0;
}

/* A ColReader/ColSplitter column (ST_COLS): a name or an index. */
static int column_of(const CfgValue *v, const char *where, const char **name, int *idx, Err *err)
{
    *name = NULL, *idx = 0;
    if (!v || v->kind == CV_NONE) return 0;
    if (v->kind == CV_LIST || v->kind == CV_TUPLE) {
        if (cfg_list_len(v) != 1)
            return err_set(err, ERR_USAGE, "%s: found %d columns, expected one column", where, cfg_list_len(v));
        v = cfg_list_at(v, 0);
    }
    if (v->kind == CV_NUM) *idx = (int)v->num;
    else *name = v->str;
    return 0;
}

static void join(char *buf, size_t cap, const char *dir, const char *rel)
{
    if (rel[0] == '/') snprintf(buf, cap, "%s", rel);
    else snprintf(buf, cap, "%s/%s", dir, rel);
}

static int flag(const CfgValue *call, const char *name) { return cfg_arg_num(call, name) != 0; }

/* ---- blocks --------------------------------------------------------------------- */

static int build_image_block(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupBlock *b = out;
    b->image = 1;
    b->gray = cfg_arg_choice(call, "cls") == 1;   /* PILImage|PILImageBW */
    return 0;
}

/* tag: the TargetKind */
static int build_target_block(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupBlock *b = out;
    b->kind = (TargetKind)tag;
    if (b->kind == TARGET_POINTS) return 0;
    b->vocab = cfg_arg(call, "vocab");
    b->add_na = flag(call, "add_na");
    /* fastai: CategoryBlock(vocab=...) sorts a given vocab too (sort=True);
     * MultiCategoryBlock keeps a given vocab's order */
    if (b->kind == TARGET_CATEGORY) b->vocab_unsorted = !flag(call, "sort");
    else if (b->vocab) b->vocab_unsorted = 1;
    return 0;
}

static int build_regression_block(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    return err_set(err, ERR_USAGE, "%s: found RegressionBlock, expected CategoryBlock, MultiCategoryBlock or "
                   "PointBlock after ImageBlock (regression of image targets is not implemented)", where);
}

static int build_collab_block(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupBlock *b = out;
    b->collab = 1;
    b->kind = TARGET_RATING;
    b->user = cfg_arg_str(call, "user");
    b->item = cfg_arg_str(call, "item");
    b->rating = cfg_arg_str(call, "rating");
    return 0;
}

/* ---- items, getters, splitters ----------------------------------------------------- */

static int build_get_image_files(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    (void)out, (void)call;   /* read by setup_data(), which owns the name storage */
    return 0;
}

static int build_col_reader(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupGetter *g = out;
    g->kind = DB_Y_COL;
    g->cols = cfg_arg(call, "cols");
    g->pref = cfg_arg_str(call, "pref");
    g->suffix = cfg_arg_str(call, "suffix");
    g->label_delim = cfg_arg_str(call, "label_delim");
    if (g->label_delim && !*g->label_delim) g->label_delim = NULL;
    return 0;
}

static int build_parent_label(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    ((SetupGetter *)out)->kind = DB_Y_PARENT;
    return 0;
}

static int build_regex_labeller(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupGetter *g = out;
    g->kind = DB_Y_REGEX;
    g->pat = cfg_arg_str(call, "pat");
    g->match = flag(call, "match");
    /* the pattern compiles now, so `validate` refuses what the data block would */
    RegexLabeller re;
    if (regex_labeller_init(&re, g->pat, g->match, err)) return err_prefix(err, "%s: ", where);
    regex_labeller_free(&re);
    return 0;
}

static int build_points_from_csv(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupGetter *g = out;
    g->kind = DB_Y_POINTS;
    g->fname = cfg_arg_str(call, "fname");
    return 0;
}

static int build_random_splitter(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupSplit *sp = out;
    sp->db->split = DB_SPLIT_RANDOM;
    sp->db->valid_pct = cfg_arg_num(call, "valid_pct");
    const CfgValue *seed = cfg_arg(call, "seed");
    sp->has_seed = seed != NULL;
    if (seed) sp->db->seed = (uint64_t)seed->num;
    return 0;
}

static int build_grandparent_splitter(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    DbSpec *db = ((SetupSplit *)out)->db;
    db->split = DB_SPLIT_GRANDPARENT;
    db->train_name = cfg_arg_str(call, "train_name");
    db->valid_name = cfg_arg_str(call, "valid_name");
    return 0;
}

static int build_col_splitter(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    DbSpec *db = ((SetupSplit *)out)->db;
    db->split = DB_SPLIT_COL;
    return column_of(cfg_arg(call, "col"), where, &db->split_col, &db->split_col_idx, err);
}

static int build_func_splitter(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    DbSpec *db = ((SetupSplit *)out)->db;
    db->split = DB_SPLIT_PARENT;
    db->parent_name = cfg_arg_str(call, "parent_name");
    return 0;
}

/* ---- item transforms -------------------------------------------------------------- */

/* size (ST_SIZE): an integer, or a (height, width) tuple */
static void size_of(const CfgValue *v, int *h, int *w)
{
    if (v->kind == CV_NUM) {
        *h = *w = (int)v->num;
    } else {
        *h = (int)v->items[0]->num;
        *w = (int)v->items[1]->num;
    }
}

static int build_resize(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    ItemTfm *t = out;
    memset(t, 0, sizeof *t);
    t->kind = ITFM_RESIZE;
    size_of(cfg_arg(call, "size"), &t->h, &t->w);
    t->method = (ResizeMethod)cfg_arg_choice(call, "method");   /* crop|pad|squish */
    t->pad_mode = (PadMode)cfg_arg_choice(call, "pad_mode");    /* reflection|zeros|border */
    return 0;
}

static int build_random_resized_crop(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    ItemTfm *t = out;
    memset(t, 0, sizeof *t);
    t->kind = ITFM_RRC;
    size_of(cfg_arg(call, "size"), &t->h, &t->w);
    t->min_scale = cfg_arg_num(call, "min_scale");
    t->max_scale = cfg_arg_num(call, "max_scale");
    t->val_xtra = cfg_arg_num(call, "val_xtra");
    const CfgValue *r = cfg_arg(call, "ratio");
    t->ratio_lo = r->items[0]->num, t->ratio_hi = r->items[1]->num;
    if (!(t->min_scale > 0 && t->min_scale <= t->max_scale && t->ratio_lo > 0 && t->ratio_lo <= t->ratio_hi))
        return err_set(err, ERR_USAGE, "%s: RandomResizedCrop: expected 0 < min_scale <= max_scale <= 1 and "
                       "0 < ratio[0] <= ratio[1]", where);
    return 0;
}

/* ---- batch transforms ------------------------------------------------------------- */

static int build_aug_transforms(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    BatchTfm *t = out;
    t->aug = 1;
    double mult = cfg_arg_num(call, "mult");
    t->do_flip = flag(call, "do_flip");
    t->flip_vert = flag(call, "flip_vert");
    t->max_rotate = cfg_arg_num(call, "max_rotate") * mult;
    t->min_zoom = cfg_arg_num(call, "min_zoom");
    t->max_zoom = cfg_arg_num(call, "max_zoom");
    t->max_lighting = cfg_arg_num(call, "max_lighting") * mult;
    t->max_warp = cfg_arg_num(call, "max_warp") * mult;
    t->p_affine = cfg_arg_num(call, "p_affine");
    t->p_lighting = cfg_arg_num(call, "p_lighting");
    t->min_scale = cfg_arg_num(call, "min_scale");
    const CfgValue *sz = cfg_arg(call, "size");
    if (sz) size_of(sz, &t->size_h, &t->size_w);
    t->pad_mode = cfg_arg_choice(call, "pad_mode");   /* PadMode: reflection|zeros|border */
    /* the resample is bilinear with align_corners=True (augment.h) */
    if (cfg_arg_choice(call, "mode") != 0 || !flag(call, "align_corners"))
        return err_set(err, ERR_USAGE, "%s: aug_transforms: only mode='bilinear' with align_corners=True is "
                       "implemented", where);
    if (t->max_lighting >= 1 || t->max_lighting < 0 || t->min_zoom <= 0 || t->max_zoom < t->min_zoom ||
        t->min_scale <= 0 || t->min_scale > 1)
        return err_set(err, ERR_USAGE, "%s: aug_transforms: expected 0 <= max_lighting < 1, "
                       "0 < min_zoom <= max_zoom and 0 < min_scale <= 1", where);
    if (t->min_scale < 1 && t->size_w <= 0)
        return err_set(err, ERR_USAGE, "%s: aug_transforms: min_scale < 1 needs size=", where);
    return 0;
}

/* (m0, m1, m2) or (m,) into dst[3]: one value serves every channel */
static int stats_of(const CfgValue *t, float dst[3])
{
    if (!((t->kind == CV_TUPLE || t->kind == CV_LIST) && (t->n == 3 || t->n == 1))) return 0;
    for (int k = 0; k < 3; k++) dst[k] = (float)t->items[t->n == 3 ? k : 0]->num;
    return 1;
}

/* Normalize.from_stats(stats) (the config resolves named stats to tuples) and
 * Normalize(mean, std); Normalize() takes the stats of one training batch. */
static int build_normalize(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    BatchTfm *t = out;
    t->normalize = 1;
    const CfgValue *mean = cfg_arg(call, "mean"), *std = cfg_arg(call, "std");
    if (!mean) {
        t->normalize_from_batch = 1;   /* fastai: stats of one training batch */
        return 0;
    }
    if (!stats_of(mean, t->mean) || !stats_of(std, t->std) || !(t->std[0] > 0 && t->std[1] > 0 && t->std[2] > 0))
        return err_set(err, ERR_USAGE, "%s: %s: expected imagenet_stats, cifar_stats, mnist_stats or (mean, std)",
                       where, call->str);
    return 0;
}

/* ---- [data] -------------------------------------------------------------------- */

static int target_spec(Setup *s, const SetupBlock *b, Err *err)
{
    DbSpec *db = &s->db;
    char w[SETUP_WHERE];
    db->kind = b->kind;
    db->add_na = b->add_na;
    db->vocab_unsorted = b->vocab_unsorted;
    setup_where(s, "data", "blocks", 0, w, sizeof w);
    if (names_of(b->vocab, s->store->vocab, w, &db->n_vocab, err)) return err->code;
    db->vocab = db->n_vocab ? s->store->vocab : NULL;
    return 0;
}

static int getters(Setup *s, Err *err)
{
    DbSpec *db = &s->db;
    char w[SETUP_WHERE];
    const CfgValue *gx = cfg_get(s->cfg, "data", "get_x"), *gy = cfg_get(s->cfg, "data", "get_y");
    if (gx) {
        SetupGetter g = {0};
        setup_where(s, "data", "get_x", gx->line, w, sizeof w);
        if (setup_build(SLOT_GETTER, &g, gx, w, err)) return err->code;
        if (g.kind != DB_Y_COL)
            return err_set(err, ERR_USAGE, "%s: found %s, expected ColReader('col', pref=...) (or no get_x)", w,
                           gx->str);
        if (!db->csv) return err_set(err, ERR_USAGE, "%s: ColReader(...) needs [data] csv, the table it reads", w);
        if (column_of(g.cols, w, &db->x_col, &db->x_col_idx, err)) return err->code;
        db->x_pref = g.pref, db->x_suffix = g.suffix;
    }
    if (!gy) {
        if (db->kind == TARGET_POINTS) {
            setup_where(s, "data", "get_y", 0, w, sizeof w);
            return err_set(err, ERR_USAGE, "%s: PointBlock needs get_y = PointsFromCSV('file.csv')", w);
        }
        if (db->csv) db->y = DB_Y_COL, db->y_col_idx = 1;
        else db->y = DB_Y_PARENT;
        return 0;
    }
    SetupGetter g = {0};
    setup_where(s, "data", "get_y", gy->line, w, sizeof w);
    if (setup_build(SLOT_GETTER, &g, gy, w, err)) return err->code;
    db->y = g.kind;
    if (g.kind == DB_Y_REGEX) db->y_pat = g.pat, db->y_match = g.match;
    if (g.kind == DB_Y_COL) {
        if (column_of(g.cols, w, &db->y_col, &db->y_col_idx, err)) return err->code;
        db->label_delim = g.label_delim;
    }
    if (g.kind == DB_Y_POINTS) {
        join(s->store->points, sizeof s->store->points, db->path, g.fname);
        db->points_csv = s->store->points;
    }
    return 0;
}

static int csv_sep(const Setup *s, char *sep, Err *err)
{
    const char *v = cfg_str(s->cfg, "data", "csv_sep");
    if (v && strlen(v) == 1) {
        *sep = v[0];
        return 0;
    }
    char w[SETUP_WHERE];
    setup_where(s, "data", "csv_sep", 0, w, sizeof w);
    return err_set(err, ERR_USAGE, "%s: found '%s', expected one character such as ',' or '\\t'", w, v ? v : "");
}

/* The transforms and loader settings (image tasks). */
static int loader_opts(Setup *s, Err *err)
{
    ImageLoaderOpts *o = &s->loader;
    int nw = cfg_int(s->cfg, "data", "num_workers");
    o->n_workers = nw > 0 ? nw : s->ctx.threads;
    double mb = cfg_num(s->cfg, "data", "cache_mb");
    o->cache_bytes = mb > 0 ? (size_t)(mb * 1024 * 1024) : 0;
    o->skip_bad = s->db.skip_bad;
    o->channels = cfg_int(s->cfg, "model", "n_in");
    if (setup_build_list(s, "data", "item_tfms", SLOT_ITEM_TFM, o->item.t, sizeof o->item.t[0], ITEM_TFMS_MAX,
                         &o->item.n, err))
        return err->code;
    batch_tfm_init(&o->batch);
    int n_batch;   /* every batch transform adds to the one BatchTfm: out does not advance (elem 0) */
    if (setup_build_list(s, "data", "batch_tfms", SLOT_BATCH_TFM, &o->batch, 0, INT_MAX, &n_batch, err))
        return err->code;
    /* the values as text, for the model file's metadata */
    const CfgValue *it = cfg_get(s->cfg, "data", "item_tfms"), *bt = cfg_get(s->cfg, "data", "batch_tfms");
    if (it) {
        cfg_value_format(it, s->store->item_tfms, sizeof s->store->item_tfms);
        s->item_tfms_text = s->store->item_tfms;
    }
    if (bt) {
        cfg_value_format(bt, s->store->batch_tfms, sizeof s->store->batch_tfms);
        s->batch_tfms_text = s->store->batch_tfms;
    }
    return 0;
}

static int image_data(Setup *s, const SetupBlock *target, Err *err)
{
    DbSpec *db = &s->db;
    SetupStore *st = s->store;
    if (target_spec(s, target, err)) return err->code;
    /* where things are */
    if (s->paths.data) snprintf(st->path, sizeof st->path, "%s", s->paths.data);
    else snprintf(st->path, sizeof st->path, "%s", config_dir(s->cfg));
    db->path = st->path;
    db->csv = s->paths.csv;
    if (csv_sep(s, &db->csv_sep, err)) return err->code;
    char w[SETUP_WHERE];
    setup_where(s, "data", "csv_names", 0, w, sizeof w);
    if (names_of(cfg_get(s->cfg, "data", "csv_names"), st->csv_names, w, &db->n_csv_names, err)) return err->code;
    db->csv_names = db->n_csv_names ? st->csv_names : NULL;
    /* items */
    const CfgValue *gi = cfg_get(s->cfg, "data", "get_items");
    setup_where(s, "data", "get_items", gi->line, w, sizeof w);
    if (setup_build(SLOT_ITEMS, db, gi, w, err)) return err->code;
    if (names_of(cfg_arg(gi, "folders"), st->folders, w, &db->n_folders, err)) return err->code;
    db->folders = db->n_folders ? st->folders : NULL;
    db->recurse = flag(gi, "recurse");
    if (getters(s, err)) return err->code;
    /* splitter */
    const CfgValue *sp = cfg_get(s->cfg, "data", "splitter");
    SetupSplit split = {.db = db};
    setup_where(s, "data", "splitter", sp->line, w, sizeof w);
    if (setup_build(SLOT_SPLITTER, &split, sp, w, err)) return err->code;
    if (db->split == DB_SPLIT_RANDOM && !split.has_seed) db->seed = s->ctx.seed;
    db->skip_bad = cfg_choice(s->cfg, "data", "on_bad_item") == 1;   /* fail|skip */
    return loader_opts(s, err);
}

static int collab_data(Setup *s, const SetupBlock *b, Err *err)
{
    RatingsSpec *r = &s->ratings;
    SetupStore *st = s->store;
    char w[SETUP_WHERE];
    r->path = s->paths.csv;
    if (csv_sep(s, &r->sep, err)) return err->code;
    setup_where(s, "data", "csv_names", 0, w, sizeof w);
    if (names_of(cfg_get(s->cfg, "data", "csv_names"), st->csv_names, w, &r->n_names, err)) return err->code;
    r->names = r->n_names ? st->csv_names : NULL;
    r->user_col = b->user, r->item_col = b->item, r->rating_col = b->rating;
    r->item_names_path = s->paths.item_names;
    const CfgValue *sp = cfg_get(s->cfg, "data", "splitter");
    setup_where(s, "data", "splitter", sp->line, w, sizeof w);
    DbSpec db = {0};
    SetupSplit split = {.db = &db};
    if (setup_build(SLOT_SPLITTER, &split, sp, w, err)) return err->code;
    if (db.split != DB_SPLIT_RANDOM)   /* ratings have no folders or columns to split by */
        return err_set(err, ERR_USAGE, "%s: %s: a CollabBlock takes RandomSplitter(valid_pct, seed)", w, sp->str);
    r->valid_pct = db.valid_pct;
    r->split_seed = split.has_seed ? db.seed : s->ctx.seed;
    return 0;
}

int setup_data(Setup *s, Err *err)
{
    cfg_value_format(cfg_get(s->cfg, "data", "splitter"), s->store->splitter, sizeof s->store->splitter);
    s->splitter_text = s->store->splitter;
    /* the config module checked the blocks' shape: ImageBlock and one target, or CollabBlock alone */
    const CfgValue *blocks = cfg_get(s->cfg, "data", "blocks");
    SetupBlock b[2] = {{0}};
    char w[SETUP_WHERE];
    int nb = cfg_list_len(blocks);
    for (int i = 0; i < nb && i < 2; i++) {
        const CfgValue *c = cfg_list_at(blocks, i);
        setup_where(s, "data", "blocks", c->line, w, sizeof w);
        if (setup_build(SLOT_BLOCK, &b[i], c, w, err)) return err->code;
    }
    s->is_collab = b[0].collab;
    s->kind = s->is_collab ? TARGET_RATING : b[1].kind;
    static const char *const task[] = {
        [TARGET_CATEGORY] = "single_label", [TARGET_MULTI] = "multi_label", [TARGET_POINTS] = "points",
        [TARGET_RATING] = "collab"};
    s->task = task[s->kind];
    s->loader.bs = cfg_int(s->cfg, "data", "bs");
    const CfgValue *vb = cfg_get(s->cfg, "data", "val_bs");
    s->loader.val_bs = vb ? (int)vb->num : 0;
    s->loader.seed = s->ctx.seed;
    setup_where(s, "data", "bs", 0, s->store->bs_at, sizeof s->store->bs_at);
    s->loader.bs_at = s->ratings.bs_at = s->store->bs_at;
    if (s->is_collab) return collab_data(s, &b[0], err);
    int n_in = cfg_int(s->cfg, "model", "n_in");
    if ((b[0].gray && n_in != 1) || (n_in != 1 && n_in != 3)) {   /* the decoder makes gray or RGB */
        setup_where(s, "model", "n_in", 0, w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found %d, expected %s", w, n_in,
                       b[0].gray ? "1 for ImageBlock(cls=PILImageBW) (one channel)"
                                 : "1 (grayscale) or 3 (RGB) input channels for images");
    }
    return image_data(s, &b[1], err);
}

/* ---- the registry rows of these constructors (registry.h) ---- */

const SetupComp setup_data_comps[] = {
    /* blocks (tag: the TargetKind) */
    {"ImageBlock", SLOT_BLOCK, build_image_block, 0},
    {"CategoryBlock", SLOT_BLOCK, build_target_block, TARGET_CATEGORY},
    {"MultiCategoryBlock", SLOT_BLOCK, build_target_block, TARGET_MULTI},
    {"PointBlock", SLOT_BLOCK, build_target_block, TARGET_POINTS},
    {"RegressionBlock", SLOT_BLOCK, build_regression_block, 0},
    {"CollabBlock", SLOT_BLOCK, build_collab_block, TARGET_RATING},
    /* get_items, get_x / get_y, splitters */
    {"get_image_files", SLOT_ITEMS, build_get_image_files, 0},
    {"ColReader", SLOT_GETTER, build_col_reader, 0},
    {"parent_label", SLOT_GETTER, build_parent_label, 0},
    {"RegexLabeller", SLOT_GETTER, build_regex_labeller, 0},
    {"PointsFromCSV", SLOT_GETTER, build_points_from_csv, 0},
    {"RandomSplitter", SLOT_SPLITTER, build_random_splitter, 0},
    {"GrandparentSplitter", SLOT_SPLITTER, build_grandparent_splitter, 0},
    {"ColSplitter", SLOT_SPLITTER, build_col_splitter, 0},
    {"FuncSplitter", SLOT_SPLITTER, build_func_splitter, 0},
    /* transforms */
    {"Resize", SLOT_ITEM_TFM, build_resize, 0},
    {"RandomResizedCrop", SLOT_ITEM_TFM, build_random_resized_crop, 0},
    {"aug_transforms", SLOT_BATCH_TFM, build_aug_transforms, 0},
    {"Normalize.from_stats", SLOT_BATCH_TFM, build_normalize, 0},
    {"Normalize", SLOT_BATCH_TFM, build_normalize, 0},
};
const int setup_n_data_comps = (int)(sizeof setup_data_comps / sizeof setup_data_comps[0]);
