/* pipeline.h — the one way every command goes from a config to a trained or
 * trainable thing: config → dataset → loaders → model (+ pretrained weights)
 * → learner options.  Commands stop it where they need (summary after the
 * model, lr_find after the learner) and drive it differently; none rebuilds a
 * piece by itself.
 *
 * The config is read once, whole, by the setup layer (setup/setup.h), which
 * gives every spec; the pipeline only builds from them.  Image tasks:
 * datablock_build_spec (data/datablock.h) + image loaders (data/image_loader.h)
 * + resnet (models/resnet.h).  Collaborative filtering ([data] blocks =
 * CollabBlock(...)): ratings_loaders_new (data/ratings.h) + collab_model_new
 * (models/collab.h).
 *
 * fastai's vision_learner choices applied here: with `pretrained =` the body
 * weights are loaded, Normalize.from_stats(imagenet_stats) is added when the
 * config has no Normalize (the setup does), and the model starts frozen
 * (freeze()); without pretrained weights nothing is added and nothing frozen.
 *
 * Output dir: [output] dir resolved against the config's folder like every
 * path; when unset, runs/<config file name> in the current folder.
 */
#ifndef FASTC_CMD_PIPELINE_H
#define FASTC_CMD_PIPELINE_H

#include "cmd/cmd.h"
#include "core/ctx.h"
#include "core/err.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "learn/learner.h"
#include "models/model.h"
#include "nn/loss.h"
#include "setup/setup.h"

typedef struct RatingsData RatingsData;
typedef struct StMeta StMeta;

typedef enum PipeStop { PIPE_CONFIG, PIPE_DATA, PIPE_MODEL } PipeStop;

typedef struct Pipeline {
    Setup setup;              /* the config, read: every spec */
    Ctx ctx;
    int is_collab;
    Dataset ds;               /* image tasks */
    RatingsData *ratings;     /* collab (borrowed from the loaders) */
    Loaders *dls;
    Model *model;
    int in_h, in_w, in_c;     /* image batch shape */
    int pretrained;           /* weights loaded from [model] pretrained */
    int torchvision_head;     /* [model] head = 'torchvision': avgpool + fc, torchvision names */
    int norm_added;           /* imagenet_stats normalisation added (pretrained) */
    float norm_mean[3], norm_std[3];
    LossKind loss;
    double loss_eps;          /* LabelSmoothingCrossEntropy(eps) */
    char out_dir[4096];
    char note[512];           /* what loading pretrained weights skipped/adapted */
} Pipeline;

/* Load the config (with --set overrides) and build up to `stop`. */
int  pipeline_open(Pipeline *p, const CmdArgs *a, PipeStop stop, Err *err);
void pipeline_close(Pipeline *p);   /* NULL-safe, idempotent */

/* Learner options of the setup ([learner] opt_func, lr, wd, wd_bn_bias,
 * train_bn, metrics, cbs, seed) for this pipeline's model/loss; also applies
 * wd_bn_bias to the model's params.  Checkpoint hooks save model files with
 * the metadata predict needs. */
int  pipeline_learner_opts(Pipeline *p, LearnerOpts *o, Err *err);

/* A copy of the setup's schedule ([train] schedule, with [learner] moms as
 * fit_one_cycle's default); the caller frees it (schedule_free). */
int  pipeline_schedule(Pipeline *p, Schedule *s, Err *err);

/* Save the model with metadata: arch, n_in, n_out, task, vocab, size,
 * item_tfms/batch_tfms (config text), norm_mean/std, y_range, threshold;
 * collab: user_ids, item_ids (and item_titles). */
int  pipeline_save_model(Pipeline *p, const Model *m, const char *path, double threshold, Err *err);

/* The loss function for the learner (ctx = the Pipeline). */
float pipeline_loss(void *ctx, float *dout, float *per_item, const float *out, int c, const Batch *b);

/* Create the output dir (mkdir -p). */
int  pipeline_mkdir_out(Pipeline *p, Err *err);

#endif
