/* internal.h — private to src/setup: the parts of setup_load() (one per
 * concern: data.c, model.c, learn.c), each with the registry rows of its
 * constructors, and the storage the specs' strings live in. */
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
    char item_tfms[4096], batch_tfms[4096], opt[512], loss[512], splitter[1024];
    char bs_at[SETUP_WHERE];
};

/* The parts, in the order setup_load() runs them. */
int setup_data(Setup *s, Err *err);    /* [data] → DbSpec / RatingsSpec, ImageLoaderOpts */
int setup_model(Setup *s, Err *err);   /* [model], loss_func → SetupModel, loss */
int setup_learn(Setup *s, Err *err);   /* [learner], [train], [lr_find] → LearnerOpts, Schedule */

/* Build every call of a component-list value (or the one call) of slot into
 * consecutive elements of out (elem bytes each); *n gets the count, at most max
 * ("at most %d" error naming the key beyond that). */
int setup_build_list(const Setup *s, const char *section, const char *key, CfgSlot slot, void *out, size_t elem,
                     int max, int *n, Err *err);

/* The registry rows, each table beside its constructors (static there). */
extern const SetupComp setup_data_comps[], setup_model_comps[], setup_learn_comps[];
extern const int setup_n_data_comps, setup_n_model_comps, setup_n_learn_comps;

#endif
