/* schema.c — THE table: every section and key of a config, and every
 * component (fastai name, which keys take it, its arguments with types and
 * defaults, a help line).  Validation, `--help config`, `fastc validate` and
 * the resolved config.ini a run writes all come from here; adding a key or an
 * argument is one line.  Names and defaults are fastai 2.7's. */
#include "config/schema.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG 1e15

/* Spec constructors (designated initialisers: unnamed fields are zero). */
#define S_INT(d, l, h) {.type = ST_INT, .def = (d), .lo = (l), .hi = (h)}
#define S_INT_OPT(l, h) {.type = ST_INT, .optional = 1, .lo = (l), .hi = (h)}
#define S_NUM(d, l, h) {.type = ST_NUM, .def = (d), .lo = (l), .hi = (h)}
#define S_POS(d) {.type = ST_NUM, .def = (d), .lo = 0, .hi = BIG, .lo_open = 1}
#define S_NONNEG(d) {.type = ST_NUM, .def = (d), .lo = 0, .hi = BIG}
#define S_FRAC(d) {.type = ST_NUM, .def = (d), .lo = 0, .hi = 1}
#define S_PCT(d) {.type = ST_NUM, .def = (d), .lo = 0, .hi = 1, .hi_open = 1}   /* one-cycle warm-up share */
#define S_BOOL(d) {.type = ST_BOOL, .def = (d)}
#define S_STR(d) {.type = ST_STR, .def = (d)}
#define S_STR_OPT {.type = ST_STR, .optional = 1}
#define S_PATH_OPT {.type = ST_PATH, .optional = 1}
#define S_CHOICE(d, c) {.type = ST_CHOICE, .def = (d), .choices = (c)}
#define S_TYPE(t, d) {.type = (t), .def = (d)}
#define S_OPT(t) {.type = (t), .optional = 1}
#define S_NUMS(d, n) {.type = ST_NUMS, .def = (d), .count = (n)}
#define S_COMP(s, d) {.type = ST_COMP, .slot = (s), .def = (d)}
#define S_COMP_OPT(s) {.type = ST_COMP, .slot = (s), .optional = 1}
#define S_COMP_REQ(s) {.type = ST_COMP, .slot = (s)}
#define S_LIST(s, d) {.type = ST_COMP_LIST, .slot = (s), .def = (d)}
#define S_LIST_OPT(s) {.type = ST_COMP_LIST, .slot = (s), .optional = 1}
#define S_LIST_REQ(s) {.type = ST_COMP_LIST, .slot = (s)}
#define EPOCHS {.type = ST_INT, .lo = 1, .hi = 1e6}

const char *const schema_sections[] = {"data", "model", "learner", "train", "lr_find", "output"};
const int schema_n_sections = (int)(sizeof schema_sections / sizeof schema_sections[0]);

const char *const schema_slot_names[SLOT_COUNT] = {
    [SLOT_NONE] = "-",
    [SLOT_BLOCK] = "block",
    [SLOT_ITEMS] = "get_items function",
    [SLOT_GETTER] = "getter (get_x/get_y)",
    [SLOT_SPLITTER] = "splitter",
    [SLOT_ITEM_TFM] = "item transform (item_tfms)",
    [SLOT_BATCH_TFM] = "batch transform (batch_tfms)",
    [SLOT_ARCH] = "architecture",
    [SLOT_METRIC] = "metric",
    [SLOT_CB] = "callback",
    [SLOT_LOSS] = "loss function",
    [SLOT_OPT] = "optimizer",
    [SLOT_SCHEDULE] = "schedule step",
    [SLOT_SUGGEST] = "lr_find suggestion",
};

const char *schema_article(const char *noun)
{
    return strchr("aeiouAEIOU", noun[0]) ? "an" : "a";
}

const SchemaKey schema_keys[] = {
    /* [data] ------------------------------------------------------------------------ */
    {"data", "path", S_PATH_OPT, NULL, "folder of the dataset; items are found under it"},
    {"data", "csv", S_PATH_OPT, "data.path", "table of items/labels (relative to path when set)"},
    {"data", "csv_sep", S_STR("','"), NULL, "field separator of csv, e.g. '\\t'"},
    {"data", "csv_names", S_OPT(ST_NAMES), NULL,
     "column names when csv has no header row (e.g. user, item, rating, timestamp)"},
    {"data", "item_names", S_PATH_OPT, "data.path", "collab: id -> title table, for output"},
    {"data", "blocks", S_LIST_REQ(SLOT_BLOCK), NULL,
     "input block then target block, e.g. ImageBlock, CategoryBlock"},
    {"data", "get_items", S_COMP(SLOT_ITEMS, "get_image_files"), NULL, "how to list the items"},
    {"data", "get_x", S_COMP_OPT(SLOT_GETTER), NULL, "item -> input (default: the item itself)"},
    {"data", "get_y", S_COMP_OPT(SLOT_GETTER), NULL, "item -> target"},
    {"data", "splitter", S_COMP(SLOT_SPLITTER, "RandomSplitter(valid_pct=0.2, seed=42)"), NULL,
     "training/validation split"},
    {"data", "item_tfms", S_LIST_OPT(SLOT_ITEM_TFM), NULL, "per-item transforms (sizing)"},
    {"data", "batch_tfms", S_LIST_OPT(SLOT_BATCH_TFM), NULL,
     "per-batch transforms (augmentation, normalisation)"},
    {"data", "bs", S_INT("64", 1, 65536), NULL, "batch size"},
    {"data", "val_bs", S_INT_OPT(1, 65536), NULL, "validation batch size (default: bs)"},
    {"data", "num_workers", S_INT("0", 0, 1024), NULL, "loader threads (0 = all cores)"},
    {"data", "cache_mb", S_INT("2048", 0, 1 << 24), NULL,
     "memory for decoded items kept between epochs (0 = no cache)"},
    {"data", "on_bad_item", S_CHOICE("'fail'", "fail|skip"), NULL,
     "an unreadable item stops the run (fail) or is reported and left out (skip)"},

    /* [model] ----------------------------------------------------------------------- */
    {"model", "arch", S_COMP_REQ(SLOT_ARCH), NULL, "architecture: resnet18/34/50 or a collab model"},
    {"model", "pretrained", {.type = ST_PATH_BOOL, .optional = 1}, NULL,
     "weights to start from: a .safetensors or PyTorch .pth file (torchvision or fastai names), or True: "
     "torchvision's ImageNet file in its cache"},
    {"model", "precision", S_CHOICE("'fp32'", "fp32|bf16"), NULL,
     "fp32, or bf16 (the CPU counterpart of to_fp16())"},
    {"model", "n_in", S_INT("3", 1, 64), NULL, "input channels"},
    {"model", "y_range", {.type = ST_NUMS, .optional = 1, .count = 2}, NULL, "(lo, hi): sigmoid range of the output"},
    {"model", "ps", {.type = ST_NUM, .def = "0.5", .lo = 0, .hi = 1, .hi_open = 1}, NULL,
     "dropout of the head"},
    {"model", "head", S_CHOICE("'fastai'", "fastai|torchvision"), NULL,
     "fastai's create_head, or torchvision's avgpool + fc (pretraining a body for `pretrained =`)"},

    /* [learner] --------------------------------------------------------------------- */
    {"learner", "metrics", S_LIST_OPT(SLOT_METRIC), NULL, "reported each epoch"},
    {"learner", "cbs", S_LIST_OPT(SLOT_CB), NULL, "callbacks"},
    {"learner", "seed", S_INT("42", 0, 9007199254740991.0), NULL,
     "weights init, shuffling, augmentation, dropout"},
    {"learner", "loss_func", S_COMP_OPT(SLOT_LOSS), NULL, "default: from the target block"},
    {"learner", "opt_func", S_COMP(SLOT_OPT, "Adam()"), NULL, "optimizer"},
    {"learner", "lr", S_POS("1e-3"), NULL, "learning rate when a schedule step gives none"},
    {"learner", "wd", {.type = ST_NUM, .optional = 1, .lo = 0, .hi = BIG}, NULL,
     "weight decay (default: the optimizer's)"},
    {"learner", "wd_bn_bias", S_BOOL("False"), NULL, "weight decay on norm layers and biases too"},
    {"learner", "train_bn", S_BOOL("True"), NULL, "norm layers train even when frozen"},
    {"learner", "moms", S_NUMS("(0.95, 0.85, 0.95)", 3), NULL, "momentums of fit_one_cycle"},

    /* [train] ----------------------------------------------------------------------- */
    {"train", "schedule", S_LIST_REQ(SLOT_SCHEDULE), NULL,
     "steps run in order, e.g. fit_one_cycle(3, 3e-3), unfreeze(), fit_one_cycle(2)"},

    /* [lr_find] --------------------------------------------------------------------- */
    {"lr_find", "start_lr", S_POS("1e-7"), NULL, "first learning rate tried"},
    {"lr_find", "end_lr", S_POS("10"), NULL, "last learning rate tried"},
    {"lr_find", "num_it", S_INT("100", 2, 1e6), NULL, "batches (at most)"},
    {"lr_find", "stop_div", S_BOOL("True"), NULL, "stop when the loss diverges (4x the best)"},
    {"lr_find", "suggest_funcs", S_LIST(SLOT_SUGGEST, "valley"), NULL, "suggestions to report"},

    /* [output] ---------------------------------------------------------------------- */
    {"output", "dir", S_PATH_OPT, NULL,
     "where a run writes (default: runs/<config name> in the current folder)"},
};
const int schema_n_keys = (int)(sizeof schema_keys / sizeof schema_keys[0]);

#define STATS_ID "imagenet_stats, mnist_stats, cifar_stats"
#define RESIZE_METHOD "crop|pad|squish"
#define PAD_MODE "reflection|zeros|border"

/* A row names its `fits` only where it matters (target blocks, metrics, losses). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
const SchemaComp schema_comps[] = {
    /* blocks */
    {"ImageBlock", SLOT_BLOCK, {{"cls", S_CHOICE("'PILImage'", "PILImage|PILImageBW")}},
     "images (PILImageBW: one channel)"},
    {"CategoryBlock", SLOT_BLOCK,
     {{"vocab", S_TYPE(ST_NAMES, "None")}, {"sort", S_BOOL("True")}, {"add_na", S_BOOL("False")}},
     "one label per item", FIT_CATEGORY},
    {"MultiCategoryBlock", SLOT_BLOCK, {{"vocab", S_TYPE(ST_NAMES, "None")}, {"add_na", S_BOOL("False")}},
     "several labels per item", FIT_MULTI},
    {"PointBlock", SLOT_BLOCK, {{0}}, "points (x, y) in pixels, scaled to [-1, 1]", FIT_POINTS},
    {"RegressionBlock", SLOT_BLOCK, {{"n_out", {.type = ST_INT, .def = "None", .lo = 1, .hi = 1e6}}},
     "continuous targets", FIT_REGRESSION},
    {"CollabBlock", SLOT_BLOCK,
     {{"user", S_TYPE(ST_STR, "None")}, {"item", S_TYPE(ST_STR, "None")}, {"rating", S_TYPE(ST_STR, "None")}},
     "collaborative filtering: column names of user, item and rating (None: columns 0, 1, 2)", FIT_COLLAB},

    /* get_items */
    {"get_image_files", SLOT_ITEMS, {{"folders", S_TYPE(ST_NAMES, "None")}, {"recurse", S_BOOL("True")}},
     "image files under data.path (only in these sub-folders when folders is set)"},

    /* get_x / get_y */
    {"ColReader", SLOT_GETTER,
     {{"cols", {.type = ST_COLS}}, {"pref", S_STR("''")}, {"suffix", S_STR("''")},
      {"label_delim", S_TYPE(ST_STR, "None")}},
     "value of csv column(s); pref/suffix added; label_delim splits labels"},
    {"parent_label", SLOT_GETTER, {{0}}, "name of the item's folder"},
    {"RegexLabeller", SLOT_GETTER, {{"pat", {.type = ST_STR}}, {"match", S_BOOL("False")}},
     "first group of a regex on the file name"},
    {"PointsFromCSV", SLOT_GETTER, {{"fname", {.type = ST_STR}}},
     "points from a table of file,x,y (relative to data.path)"},

    /* splitters */
    {"RandomSplitter", SLOT_SPLITTER,
     {{"valid_pct", S_FRAC("0.2")}, {"seed", {.type = ST_INT, .def = "None", .lo = 0, .hi = 9007199254740991.0}}},
     "random valid_pct of the items to validation"},
    {"GrandparentSplitter", SLOT_SPLITTER,
     {{"train_name", S_STR("'train'")}, {"valid_name", S_STR("'valid'")}},
     "split by the name of the grandparent folder"},
    {"ColSplitter", SLOT_SPLITTER, {{"col", S_TYPE(ST_COLS, "'is_valid'")}},
     "csv column that is true for validation items"},
    {"FuncSplitter", SLOT_SPLITTER, {{"parent_name", {.type = ST_STR}}},
     "items whose folder has this name go to validation"},

    /* item_tfms */
    {"Resize", SLOT_ITEM_TFM,
     {{"size", {.type = ST_SIZE}}, {"method", S_CHOICE("'crop'", RESIZE_METHOD)},
      {"pad_mode", S_CHOICE("'reflection'", PAD_MODE)}},
     "to size (int or (h, w)); random crop in training, centre crop in validation"},
    {"RandomResizedCrop", SLOT_ITEM_TFM,
     {{"size", {.type = ST_SIZE}}, {"min_scale", S_FRAC("0.08")}, {"ratio", S_NUMS("(0.75, 1.3333333)", 2)},
      {"max_scale", S_FRAC("1.0")}, {"val_xtra", S_FRAC("0.14")}},
     "random area and aspect crop resized to size"},

    /* batch_tfms */
    {"aug_transforms", SLOT_BATCH_TFM,
     {{"mult", S_NONNEG("1.0")}, {"do_flip", S_BOOL("True")}, {"flip_vert", S_BOOL("False")},
      {"max_rotate", S_NONNEG("10.0")}, {"min_zoom", S_POS("1.0")}, {"max_zoom", S_POS("1.1")},
      {"max_lighting", S_FRAC("0.2")}, {"max_warp", S_FRAC("0.2")}, {"p_affine", S_FRAC("0.75")},
      {"p_lighting", S_FRAC("0.75")}, {"size", S_TYPE(ST_SIZE, "None")},
      {"mode", S_CHOICE("'bilinear'", "bilinear|nearest")}, {"pad_mode", S_CHOICE("'reflection'", PAD_MODE)},
      {"align_corners", S_BOOL("True")}, {"min_scale", S_FRAC("1.0")}},
     "flip, rotate, zoom, warp, lighting on the batch"},
    {"Normalize.from_stats", SLOT_BATCH_TFM,
     {{"mean", {.type = ST_STATS}}, {"std", S_TYPE(ST_NUMS, "None")}},
     "normalise with " STATS_ID " or (mean...), (std...)"},
    {"Normalize", SLOT_BATCH_TFM, {{"mean", S_TYPE(ST_NUMS, "None")}, {"std", S_TYPE(ST_NUMS, "None")}},
     "normalise with given stats, or stats of one training batch"},

    /* arch */
    {"resnet18", SLOT_ARCH, {{0}}, "ResNet-18 (torchvision layout) + fastai head"},
    {"resnet34", SLOT_ARCH, {{0}}, "ResNet-34 (torchvision layout) + fastai head"},
    {"resnet50", SLOT_ARCH, {{0}}, "ResNet-50 (torchvision layout) + fastai head"},
    {"resnet101", SLOT_ARCH, {{0}}, "ResNet-101 (torchvision layout) + fastai head"},
    {"resnet152", SLOT_ARCH, {{0}}, "ResNet-152 (torchvision layout) + fastai head"},
    {"DotProduct", SLOT_ARCH, {{"n_factors", S_INT("50", 1, 1e6)}, {"y_range", S_NUMS("None", 2)}},
     "collab: user . item factors"},
    {"DotProductBias", SLOT_ARCH, {{"n_factors", S_INT("50", 1, 1e6)}, {"y_range", S_NUMS("None", 2)}},
     "collab: user . item factors + user and item biases"},
    {"EmbeddingNN", SLOT_ARCH,
     {{"layers", S_TYPE(ST_INTS, "[50]")}, {"emb_szs", S_TYPE(ST_ANY, "None")}, {"y_range", S_NUMS("None", 2)}},
     "collab: embeddings + MLP (fastai collab_learner(use_nn=True): layers [n_factors] = [50])"},

    /* metrics */
    {"error_rate", SLOT_METRIC, {{0}}, "1 - accuracy", FIT_CATEGORY},
    {"accuracy", SLOT_METRIC, {{0}}, "fraction of correct single-label predictions", FIT_CATEGORY},
    {"accuracy_multi", SLOT_METRIC, {{"thresh", S_FRAC("0.5")}, {"sigmoid", S_BOOL("True")}},
     "multi-label accuracy at a threshold", FIT_MULTI},
    {"mse", SLOT_METRIC, {{0}}, "mean squared error", FIT_NUMBERS},
    {"rmse", SLOT_METRIC, {{0}}, "root mean squared error", FIT_NUMBERS},
    {"mae", SLOT_METRIC, {{0}}, "mean absolute error", FIT_NUMBERS},

    /* callbacks */
    {"SaveModelCallback", SLOT_CB,
     {{"monitor", S_STR("'valid_loss'")}, {"min_delta", S_NONNEG("0.0")}, {"fname", S_STR("'best'")},
      {"every_epoch", S_TYPE(ST_INT_BOOL, "False")}, {"at_end", S_BOOL("False")}, {"with_opt", S_BOOL("False")}},
     "save the best model (by monitor) as <fname>.safetensors"},
    {"EarlyStoppingCallback", SLOT_CB,
     {{"monitor", S_STR("'valid_loss'")}, {"min_delta", S_NONNEG("0.0")}, {"patience", S_INT("1", 1, 1e6)}},
     "stop after patience epochs without improvement"},

    /* loss_func */
    {"CrossEntropyLossFlat", SLOT_LOSS, {{0}}, "single-label classification", FIT_CATEGORY},
    {"LabelSmoothingCrossEntropy", SLOT_LOSS, {{"eps", S_FRAC("0.1")}},
     "single-label classification against (1-eps)*onehot + eps/n_classes", FIT_CATEGORY},
    {"LabelSmoothingCrossEntropyFlat", SLOT_LOSS, {{"eps", S_FRAC("0.1")}},
     "the same as LabelSmoothingCrossEntropy (fastai's Flat twin)", FIT_CATEGORY},
    {"BCEWithLogitsLossFlat", SLOT_LOSS, {{"thresh", S_FRAC("0.5")}}, "multi-label classification", FIT_MULTI},
    {"MSELossFlat", SLOT_LOSS, {{0}}, "regression, squared error", FIT_NUMBERS},
    {"L1LossFlat", SLOT_LOSS, {{0}}, "regression, absolute error", FIT_NUMBERS},

    /* opt_func */
    {"Adam", SLOT_OPT,
     {{"mom", S_FRAC("0.9")}, {"sqr_mom", S_FRAC("0.99")}, {"eps", S_POS("1e-5")}, {"wd", S_NONNEG("0.01")}},
     "fastai Adam with decoupled weight decay"},
    {"SGD", SLOT_OPT, {{"mom", S_FRAC("0.9")}, {"wd", S_NONNEG("0.0")}}, "SGD with momentum"},

    /* schedule */
    {"fit", SLOT_SCHEDULE,
     {{"n_epoch", EPOCHS}, {"lr", S_TYPE(ST_LR, "None")}, {"wd", {.type = ST_NUM, .def = "None", .lo = 0, .hi = BIG}}},
     "n_epoch epochs at a constant lr (default [learner] lr)"},
    {"fit_one_cycle", SLOT_SCHEDULE,
     {{"n_epoch", EPOCHS}, {"lr_max", S_TYPE(ST_LR, "None")}, {"div", S_POS("25.0")},
      {"div_final", S_POS("1e5")}, {"pct_start", S_PCT("0.25")},
      {"wd", {.type = ST_NUM, .def = "None", .lo = 0, .hi = BIG}}, {"moms", S_NUMS("None", 3)}},
     "one-cycle policy: warm up to lr_max, anneal down"},
    {"fine_tune", SLOT_SCHEDULE,
     {{"epochs", EPOCHS}, {"base_lr", S_POS("2e-3")}, {"freeze_epochs", S_INT("1", 0, 1e6)},
      {"lr_mult", S_POS("100")}, {"pct_start", S_PCT("0.3")}, {"div", S_POS("5.0")},
      {"wd", {.type = ST_NUM, .def = "None", .lo = 0, .hi = BIG}}},
     "frozen one-cycle, then unfrozen with discriminative rates"},
    {"freeze", SLOT_SCHEDULE, {{0}}, "train only the head"},
    {"unfreeze", SLOT_SCHEDULE, {{0}}, "train every layer group"},
    {"freeze_to", SLOT_SCHEDULE, {{"n", {.type = ST_INT, .lo = -1000, .hi = 1000}}},
     "freeze layer groups before group n"},

    /* lr_find suggestions */
    {"valley", SLOT_SUGGEST, {{0}}, "middle of the longest valley (fastai's default)"},
    {"minimum", SLOT_SUGGEST, {{0}}, "a tenth of the lr at the minimum loss"},
    {"steep", SLOT_SUGGEST, {{0}}, "lr at the steepest descent"},
    {"slide", SLOT_SUGGEST,
     {{"lr_diff", S_INT("15", 1, 1e6)}, {"thresh", S_POS("0.005")}, {"adjust_value", S_POS("1.0")}},
     "slide rule"},
};
#pragma GCC diagnostic pop
const int schema_n_comps = (int)(sizeof schema_comps / sizeof schema_comps[0]);

const SchemaKey *schema_key(const char *section, const char *name)
{
    for (int i = 0; i < schema_n_keys; i++)
        if (!strcmp(schema_keys[i].section, section) && !strcmp(schema_keys[i].name, name))
            return &schema_keys[i];
    return NULL;
}

const SchemaComp *schema_comp(const char *name, SchemaSlot slot)
{
    for (int i = 0; i < schema_n_comps; i++)
        if (!strcmp(schema_comps[i].name, name) && (slot == SLOT_NONE || schema_comps[i].slot == slot))
            return &schema_comps[i];
    return NULL;
}

int schema_comp_n_args(const SchemaComp *c)
{
    int n = 0;
    while (n < SCHEMA_MAX_ARGS && c->args[n].name) n++;
    return n;
}

void schema_fitting(SchemaSlot slot, unsigned fit, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < schema_n_comps && len < cap; i++)
        if (schema_comps[i].slot == slot && (schema_comps[i].fits & fit))
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", schema_comps[i].name);
}

int schema_choice_index(const char *choices, const char *s)
{
    size_t n = strlen(s);
    int k = 0;
    for (const char *p = choices; *p; k++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, s, n)) return k;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

int schema_stats(const char *name, double mean[3], double std[3], int *n)
{
    /* fastai/data/transforms.py */
    static const struct {
        const char *name;
        int n;
        double mean[3], std[3];
    } stats[] = {
        {"imagenet_stats", 3, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}},
        {"cifar_stats", 3, {0.491, 0.482, 0.447}, {0.247, 0.243, 0.261}},
        {"mnist_stats", 1, {0.131}, {0.308}},
    };
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
        if (!strcmp(stats[i].name, name)) {
            *n = stats[i].n;
            for (int c = 0; c < 3; c++) mean[c] = stats[i].mean[c], std[c] = stats[i].std[c];
            return 1;
        }
    return 0;
}

int schema_edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 64 || lb > 64) return 99;
    int d[65][65];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int cost = ca != cb;
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1; /* transposition */
            d[i][j] = v;
        }
    return d[la][lb];
}

int schema_is_near(const char *typo, const char *cand)
{
    int d = schema_edit_distance(typo, cand);
    int len = (int)strlen(cand);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    return d <= limit && d < len;
}

static void range_text(const SchemaSpec *s, char *buf, size_t cap)
{
    buf[0] = 0;
    if (!(s->lo < s->hi)) return;
    if (s->hi >= BIG && s->lo == 0 && s->lo_open)
        snprintf(buf, cap, " > 0");
    else if (s->hi >= BIG)
        snprintf(buf, cap, " >= %.15g", s->lo);
    else
        snprintf(buf, cap, " in %c%.15g, %.15g%c", s->lo_open ? '(' : '[', s->lo, s->hi, s->hi_open ? ')' : ']');
}

void schema_expected(const SchemaSpec *s, char *buf, size_t cap)
{
    char r[64];
    range_text(s, r, sizeof r);
    switch (s->type) {
    case ST_INT: snprintf(buf, cap, "an integer%s", r); break;
    case ST_NUM: snprintf(buf, cap, "a number%s", r); break;
    case ST_BOOL: snprintf(buf, cap, "True or False"); break;
    case ST_STR: snprintf(buf, cap, "a quoted string"); break;
    case ST_PATH: snprintf(buf, cap, "a path"); break;
    case ST_PATH_BOOL: snprintf(buf, cap, "True, False or a path"); break;
    case ST_CHOICE: {
        char c[256];
        snprintf(c, sizeof c, "%s", s->choices);
        for (char *p = c; *p; p++)
            if (*p == '|') *p = '/';
        snprintf(buf, cap, "one of %s", c);
        break;
    }
    case ST_NAMES: snprintf(buf, cap, "a list of names"); break;
    case ST_NUMS:
        if (s->count) snprintf(buf, cap, "a tuple of %d numbers", s->count);
        else snprintf(buf, cap, "a tuple of numbers");
        break;
    case ST_INTS: snprintf(buf, cap, "a list of integers"); break;
    case ST_SIZE: snprintf(buf, cap, "a size: an integer or (height, width)"); break;
    case ST_LR: snprintf(buf, cap, "a learning rate: a number or slice(lo, hi)"); break;
    case ST_STATS: snprintf(buf, cap, "%s or a tuple of numbers", STATS_ID); break;
    case ST_COLS: snprintf(buf, cap, "a column name or index"); break;
    case ST_INT_BOOL: snprintf(buf, cap, "False, True or an integer"); break;
    case ST_ANY: snprintf(buf, cap, "a value"); break;
    case ST_COMP:
        snprintf(buf, cap, "%s %s", schema_article(schema_slot_names[s->slot]), schema_slot_names[s->slot]);
        break;
    case ST_COMP_LIST: snprintf(buf, cap, "a list of: %s", schema_slot_names[s->slot]); break;
    }
}

void schema_signature(const SchemaComp *c, char *buf, size_t cap)
{
    size_t len = 0;
    int n = schema_comp_n_args(c);
    len += (size_t)snprintf(buf, cap, "%s", c->name);
    if (n == 0) return;
    for (int i = 0; i < n && len < cap; i++) {
        const SchemaArg *a = &c->args[i];
        len += (size_t)snprintf(buf + len, cap - len, "%s%s%s%s", i ? ", " : "(", a->name,
                                a->spec.def ? "=" : "", a->spec.def ? a->spec.def : "");
    }
    if (len < cap) snprintf(buf + len, cap - len, ")");
}
