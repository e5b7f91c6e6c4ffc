/* setup.h — the one layer that reads a config.  setup_load() loads and
 * checks a config (config/config.h) and turns it, whole, into the plain spec
 * structs the modules take: DbSpec (data/datablock.h), ImageLoaderOpts
 * (data/image_loader.h), RatingsSpec (data/ratings.h), the model's sizes and
 * a CollabSpec (models/collab.h), the loss, LearnerOpts (learn/learner.h), a
 * Schedule (learn/sched.h), the lr_find settings, the multi-label threshold
 * and the output folder.  data/, learn/, models/, nn/, interp/ never see a
 * Config; cmd/ sees the Setup.
 *
 * Every component a config names (Resize, RandomSplitter, accuracy_multi,
 * fit_one_cycle, ...) is built by its constructor in the registry
 * (setup/registry.h) from the resolved call the config module gives: the
 * arguments are already checked against the schema, named, and filled with
 * their defaults, so a constructor reads them by name and knows no default
 * of its own.
 *
 * setup_load() touches no data (no file but the config is opened), so
 * `fastc validate` runs it whole and refuses what `train` would refuse
 * before reading any data: errors name "file:line: [section] key" or the
 * --set argument that gave the value, and are ERR_USAGE.
 */
#ifndef FASTC_SETUP_H
#define FASTC_SETUP_H

#include "config/config.h"
#include "core/ctx.h"
#include "core/err.h"
#include "data/batch.h"
#include "data/datablock.h"
#include "data/image_loader.h"
#include "data/ratings.h"
#include "learn/learner.h"
#include "learn/sched.h"
#include "models/collab.h"
#include "nn/loss.h"

#include <stddef.h>

/* [model]: what the model builders need besides the data's sizes. */
typedef struct SetupModel {
    char arch[32];               /* resnet18/34/50, DotProduct, DotProductBias, EmbeddingNN */
    int n_in;                    /* input channels */
    float ps;                    /* head dropout */
    int has_y_range;             /* [model] y_range */
    double y_lo, y_hi;
    int torchvision_head;        /* head = 'torchvision' */
    int bf16;                    /* precision = 'bf16' */
    const char *pretrained;      /* resolved path of the weights to start from, or NULL */
    int pretrained_torchvision;  /* pretrained = True: torchvision's ImageNet file in its cache */
    CollabSpec collab;           /* collab models: arch, factors, layers, y_range (sizes: from the data) */
} SetupModel;

/* [lr_find]; suggest: the suggest_funcs asked for, as SUGGEST_* bits */
enum { SUGGEST_VALLEY = 1, SUGGEST_MINIMUM = 2, SUGGEST_STEEP = 4, SUGGEST_SLIDE = 8 };
typedef struct SetupLrFind {
    double start_lr, end_lr;
    int num_it, stop_div;
    int suggest;
} SetupLrFind;

/* The config's paths, resolved (NULL when unset), for notes about absent data. */
typedef struct SetupPaths {
    const char *data, *csv, *item_names, *pretrained;
} SetupPaths;

typedef struct SetupStore SetupStore;

typedef struct Setup {
    Config *cfg;                 /* owned: written as config.ini, printed by validate */
    const char *file;            /* the config file, for messages */
    Ctx ctx;                     /* the command's, seed = [learner] seed, threads >= 1 */
    int is_collab;               /* blocks = CollabBlock */
    TargetKind kind;             /* the targets: category, multi, points, rating */
    const char *task;            /* model-file task: single_label, multi_label, points, collab */
    /* [data] */
    DbSpec db;                   /* image tasks */
    RatingsSpec ratings;         /* collab */
    ImageLoaderOpts loader;      /* image tasks: every field; collab: bs, val_bs, seed */
    const char *item_tfms_text;  /* the resolved item_tfms / batch_tfms in fastai syntax, for a */
    const char *batch_tfms_text; /* model file's metadata; NULL when unset */
    /* [model] */
    SetupModel model;
    int norm_added;              /* pretrained without a Normalize: fastai's vision_learner adds */
    float norm_mean[3], norm_std[3];   /* Normalize.from_stats(imagenet_stats) (in loader.batch too) */
    LossKind loss;               /* [learner] loss_func, or the target's default */
    double loss_eps;             /* LabelSmoothingCrossEntropy(eps) */
    /* [learner] */
    LearnerOpts learn;           /* opt_func, lr, wd, train_bn, metrics, cbs, seed */
    const char *opt_text;        /* opt_func and loss_func (NULL: unset) in fastai syntax, as */
    const char *loss_text;       /* `fastc summary` shows them */
    int wd_bn_bias;
    double threshold;            /* multi-label threshold (metrics_multi_thresh) */
    /* [train], [lr_find], [output] */
    Schedule schedule;
    SetupLrFind lr_find;
    char out_dir[4096];
    SetupPaths paths;
    SetupStore *store;           /* strings the specs point to */
} Setup;

/* Load path with n_sets "--set" overrides and build every spec (see the top).
 * ctx: the command's threads (< 1: 1) and flags.  On error s is freed. */
int  setup_load(Setup *s, const char *path, const char *const *sets, int n_sets, const Ctx *ctx, Err *err);
void setup_free(Setup *s);   /* zeroed or loaded Setup; idempotent */

/* The transforms a model file's metadata holds (item_tfms, batch_tfms: the
 * resolved values in fastai syntax), rebuilt through the config's own parser
 * (cfg_value_parse_key) and the same constructors as a config's.  NULL or
 * empty text: no transform.  Errors (ERR_USAGE) start "file: [data] key". */
int setup_meta_item_tfms(const char *file, const char *text, ItemTfms *items, Err *err);
int setup_meta_batch_tfms(const char *file, const char *text, BatchTfm *batch, Err *err);

#endif
