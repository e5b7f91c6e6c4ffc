/* registry.h — every component a config can name: name → slot →
 * constructor (as Caffe's layer registry or ggml's op tables), one row per
 * component beside its constructor (setup/data.c, model.c, learn.c).  The
 * schema table (config/schema.c) says what a component accepts: its
 * arguments, their order, types, ranges and defaults; this table says what
 * it builds.  tests/test_setup.c checks that the two name the same
 * components in the same slots, so a component cannot be accepted by the
 * config and then ignored.
 *
 * A constructor gets the resolved call (config.h: every argument named,
 * defaults filled) and fills the spec its slot builds:
 *
 *   slot              out                what it fills
 *   SLOT_BLOCK        SetupBlock         the input or target block
 *   SLOT_ITEMS        DbSpec             get_image_files(folders, recurse)
 *   SLOT_GETTER       SetupGetter        get_x / get_y
 *   SLOT_SPLITTER     SetupSplit         the split (DbSpec fields, collab too)
 *   SLOT_ITEM_TFM     ItemTfm            one item transform
 *   SLOT_BATCH_TFM    BatchTfm           adds to the batch transforms
 *   SLOT_ARCH         SetupModel         arch (+ collab sizes)
 *   SLOT_METRIC       Metric             one metric
 *   SLOT_CB           LearnerOpts        a callback's tracker
 *   SLOT_LOSS         SetupLoss          the loss
 *   SLOT_OPT          LearnerOpts        the optimizer and its hypers
 *   SLOT_SCHEDULE     SetupSchedule      appends stages
 *   SLOT_SUGGEST      SetupLrFind        marks a suggestion
 *
 * `where` starts every message: "file:line: [section] key" or the --set
 * argument (config.h cfg_where).  Errors are ERR_USAGE.
 */
#ifndef FASTC_SETUP_REGISTRY_H
#define FASTC_SETUP_REGISTRY_H

#include "config/config.h"
#include "core/err.h"
#include "data/batch.h"
#include "data/datablock.h"
#include "learn/sched.h"
#include "nn/loss.h"

/* tag: the row's own number, for constructors shared by several rows (the
 * TargetKind of a block, the MetricKind of a metric, ...). */
typedef int (*SetupBuild)(void *out, const CfgValue *call, int tag, const char *where, Err *err);

typedef struct SetupComp {
    const char *name;
    CfgSlot slot;
    SetupBuild build;
    int tag;
} SetupComp;

/* Every row, in a fixed order: i in [0, setup_comp_count()). */
int setup_comp_count(void);
const SetupComp *setup_comp_at(int i);
/* The entry of name in slot, or NULL. */
const SetupComp *setup_comp(const char *name, CfgSlot slot);
/* Build one resolved call of `slot` into out (the config module checked the
 * name, so an unknown one is a programmer error). */
int setup_build(CfgSlot slot, void *out, const CfgValue *call, const char *where, Err *err);

/* ---- what the constructors fill (besides the modules' own specs) ---- */

/* A block of [data] blocks. */
typedef struct SetupBlock {
    int image;                    /* ImageBlock: the input */
    int gray;                     /* ImageBlock(cls=PILImageBW) */
    int collab;                   /* CollabBlock */
    const char *user, *item, *rating;   /* CollabBlock columns (NULL: 0, 1, 2) */
    TargetKind kind;              /* target blocks */
    const CfgValue *vocab;        /* CategoryBlock / MultiCategoryBlock vocab (NULL: from the data) */
    int vocab_unsorted, add_na;
} SetupBlock;

/* get_x / get_y. */
typedef struct SetupGetter {
    DbYKind kind;                 /* DB_Y_COL for ColReader */
    const CfgValue *cols;         /* ColReader */
    const char *pref, *suffix, *label_delim;
    const char *pat;              /* RegexLabeller */
    int match;
    const char *fname;            /* PointsFromCSV (relative to data.path) */
} SetupGetter;

/* The splitter: DbSpec's split fields, and whether a seed was given. */
typedef struct SetupSplit {
    DbSpec *db;
    int has_seed;
} SetupSplit;

typedef struct SetupLoss {
    LossKind kind;
    double eps;                   /* LabelSmoothingCrossEntropy */
    double thresh;                /* BCEWithLogitsLossFlat */
} SetupLoss;

typedef struct SetupSchedule {
    Schedule *s;
    int cap;
} SetupSchedule;

#endif
