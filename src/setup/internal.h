/* internal.h — private to src/setup: the parts of setup_load() (one per
 * concern: data.c, model.c, learn.c), the constructors the registry table
 * (registry.c) points to, and the storage the specs' strings live in. */
#ifndef FASTC_SETUP_INTERNAL_H
#define FASTC_SETUP_INTERNAL_H

#include "setup/registry.h"
#include "setup/setup.h"

enum { SETUP_MAX_NAMES = 4096, SETUP_WHERE = 1400 };

struct SetupStore {
    char path[4096], data_path[4096], csv[4096], points[4096], item_names[4096], pretrained[4096];
    const char *csv_names[SETUP_MAX_NAMES];
    const char *folders[SETUP_MAX_NAMES];
    const char *vocab[SETUP_MAX_NAMES];
    char item_tfms[4096], batch_tfms[4096], opt[512], loss[512];
};

/* "file:line: [section] key" of a key (line: of one of its items, or 0). */
void setup_where(const Setup *s, const char *section, const char *key, int line, char *buf, size_t cap);

/* The parts, in the order setup_load() runs them. */
int setup_data(Setup *s, Err *err);    /* [data] → DbSpec / RatingsSpec, ImageLoaderOpts */
int setup_model(Setup *s, Err *err);   /* [model], loss_func → SetupModel, loss */
int setup_learn(Setup *s, Err *err);   /* [learner], [train], [lr_find] → LearnerOpts, Schedule */

/* Build every call of a component-list value (or the one call) of slot into
 * consecutive elements of out (elem bytes each); *n gets the count, at most max
 * ("at most %d" error naming the key beyond that). */
int setup_build_list(const Setup *s, const char *section, const char *key, CfgSlot slot, void *out, size_t elem,
                     int max, int *n, Err *err);

/* Constructors (registry.c lists them with their names and slots). */
int build_image_block(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_target_block(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_regression_block(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_collab_block(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_get_image_files(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_col_reader(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_parent_label(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_regex_labeller(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_points_from_csv(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_random_splitter(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_grandparent_splitter(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_col_splitter(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_func_splitter(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_resize(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_random_resized_crop(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_aug_transforms(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_normalize(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_resnet(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_dot_product(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_embedding_nn(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_metric(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_save_model_cb(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_early_stopping_cb(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_loss(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_adam(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_sgd(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_fit(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_fit_one_cycle(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_fine_tune(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_freeze_to(void *out, const CfgValue *call, int tag, const char *where, Err *err);
int build_suggest(void *out, const CfgValue *call, int tag, const char *where, Err *err);

#endif
