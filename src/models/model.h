/* model.h — what the learner sees of any model (resnet + head, collab models).
 *
 * A model owns its parameters, gradients, buffers and activation workspace,
 * all allocated once for a maximum batch size; forward/backward never allocate.
 * The learner drives it:
 *     model_zero_grad(m);
 *     m->ops->forward(m, batch, MODE_TRAIN, step_key, &out, err);   // out: [n, n_out]
 *     loss_... (out, batch) -> dout
 *     m->ops->backward(m, dout);                                   // grads += ...
 *     optimizer step over m->params
 */
#ifndef FASTC_MODEL_H
#define FASTC_MODEL_H

#include "core/err.h"
#include "data/batch.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ParamKind {
    PARAM_WEIGHT,     /* trainable tensor with a gradient */
    PARAM_BUFFER,     /* float buffer saved with the model (BN running mean/var) */
    PARAM_COUNTER     /* int64 buffer in PyTorch (num_batches_tracked), kept as a float here */
} ParamKind;

typedef enum ParamLayout {
    LAYOUT_PLAIN,     /* same memory order as PyTorch */
    LAYOUT_OHWI       /* conv weight stored [out][kh][kw][in]; PyTorch's is [out][in][kh][kw] */
} ParamLayout;

typedef struct Param {
    char name[96];         /* PyTorch state_dict name, e.g. "0.4.1.conv2.weight" */
    ParamKind kind;
    ParamLayout layout;
    int ndim;
    int64_t shape[4];      /* PyTorch shape */
    size_t n;              /* number of elements */
    float *w;              /* value */
    float *g;              /* gradient (PARAM_WEIGHT only, else NULL) */
    int group;             /* parameter group, 0 .. n_groups-1 (fastai splitter order) */
    int is_norm;           /* BatchNorm weight/bias: stays trainable when frozen (train_bn) */
    int no_wd;             /* no weight decay: norm params and every bias (wd_bn_bias=False) */
    int frozen;            /* set by the learner (freeze_to); frozen weights get no update */
    int64_t row_len;       /* > 0: an embedding table of n / row_len rows: a batch reads, and its
                              gradient touches, only the rows Model.batch_rows names */
} Param;

typedef enum ModelMode { MODE_TRAIN, MODE_EVAL } ModelMode;

typedef struct Model Model;
typedef struct ModelSum ModelSum;

typedef struct ModelOps {
    /* Forward a batch.  MODE_TRAIN uses batch statistics, updates BN running
     * statistics and applies dropout keyed by `step_key` (deterministic).  *out
     * points at [b->n, n_out] floats owned by the model, valid until the next
     * forward.  Fails only on a batch the model cannot take (wrong shape). */
    int (*forward)(Model *m, const Batch *b, ModelMode mode, uint64_t step_key,
                   const float **out, Err *err);
    /* Backward from dL/dout [n, n_out] of the last MODE_TRAIN forward; gradients
     * are accumulated (+=) into Param.g. */
    void (*backward)(Model *m, const float *dout);
    /* The layer table of one item of h x w (images; collab ignores them):
     * shapes, params with the current freeze flags, FLOPs (models/modelsum.h). */
    void (*summary)(const Model *m, int h, int w, ModelSum *sum);
    void (*free)(Model *m);
} ModelOps;

typedef struct ModelInfo {
    char arch[32];         /* "resnet18", "resnet34", "resnet50", "DotProductBias", ... */
    int n_in;              /* input channels (images) */
    int n_out;             /* outputs per item */
    int n_groups;          /* parameter groups (3 for resnets, 1 for collab) */
    int max_bs;            /* largest batch forward accepts */
} ModelInfo;

struct Model {
    const ModelOps *ops;
    ModelInfo info;
    Param *params;         /* weights first in state_dict order, buffers included */
    int n_params;
    void *impl;            /* the concrete model */
    /* Optional (NULL: model_zero_grad memsets every gradient).  Clears every
     * Param.g; a model whose gradients are sparse (embedding rows) may clear
     * only what its backward passes touched since the last zero_grad (so
     * gradients must be written only by backward). */
    void (*zero_grad)(Model *m);
    /* Optional (NULL: no param has row_len > 0).  For a param with row_len > 0:
     * the rows a MODE_TRAIN forward over b reads and its backward writes
     * gradients into (repeats allowed); every other row's gradient stays zero.
     * Returns their count and points *rows at them (valid while b is), or -1
     * when it cannot tell.  The optimizer uses it to update untouched rows
     * lazily (learn/optim.h). */
    int (*batch_rows)(const Model *m, const Batch *b, int param, const int32_t **rows);
    /* Optional hook, set by whoever drives the model (NULL: none): backward
     * calls grads_ready(grads_ctx, first) when the gradients of params
     * first..n_params-1 are final (params are in forward order, so a backward
     * can say so after each block).  Data-parallel training starts sending
     * those gradients while the backward goes on (dist/dist.h). */
    void (*grads_ready)(void *ctx, int first);
    void *grads_ctx;
};

/* The backward's call of the hook above. */
static inline void model_grads_ready(Model *m, int first)
{
    if (m->grads_ready) m->grads_ready(m->grads_ctx, first);
}

void model_zero_grad(Model *m);
void model_free(Model *m);   /* NULL-safe; calls ops->free */
/* Find a parameter by PyTorch name, or NULL. */
Param *model_param(Model *m, const char *name);

#endif
