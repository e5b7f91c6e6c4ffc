/* modelsum.h — a model's layer table, the model half of `fastc summary`
 * (fastai's learn.summary()): for each layer its module name, PyTorch type,
 * output shape per item, parameter count (and how many of those the current
 * freeze flags leave trainable) and forward FLOPs per item.  A model fills it
 * (ModelOps.summary, models/model.h); modelsum_print writes it in fastai's
 * layout, with a FLOPs column and the module names added.
 *
 * Parameters count as fastai and torchvision count them: trainable tensors
 * only (PARAM_WEIGHT); BatchNorm running statistics are buffers, not params.
 * FLOPs are 2 x the multiply-adds of convolutions and linear layers (the
 * elementwise layers are left out, as torchvision's GFLOPS figures leave
 * them out; torchvision quotes multiply-adds, half of this count).
 */
#ifndef FASTC_MODELSUM_H
#define FASTC_MODELSUM_H

#include "io/json.h"
#include "models/model.h"

#include <stdint.h>
#include <stdio.h>

typedef struct ModelSumRow {
    char name[96];          /* module path in the state_dict, e.g. "0.4.0.conv1" */
    char type[32];          /* PyTorch module type: "Conv2d", "BatchNorm2d", ... */
    int ndim;
    int64_t shape[3];       /* output per item in PyTorch order: (C, H, W) or (features) */
    int64_t params;         /* elements of its trainable tensors (0: a layer without weights) */
    int64_t trainable;      /* of those, not frozen */
    double flops;           /* forward, per item */
} ModelSumRow;

typedef struct ModelSum {
    ModelSumRow *rows;
    int n, cap;
    int64_t params, trainable;   /* totals */
    double flops;
    int oom;                     /* a row could not be stored (totals are still right) */
} ModelSum;

void modelsum_init(ModelSum *s);
void modelsum_free(ModelSum *s);   /* NULL-safe */

/* Append a layer whose tensors are p[0..np) (buffers among them are skipped;
 * p may be NULL with np 0).  shape: ndim (1..3) sizes per item. */
void modelsum_add(ModelSum *s, const char *name, const char *type, int ndim, const int64_t *shape,
                  const Param *p, int np, double flops);

/* The table as fastai prints it: a title line with the input shape (bs
 * first), then rows grouped under each new output shape, then the totals:
 *   Total params: 21,813,056 / Total trainable params: ... / non-trainable
 * and the FLOPs per item. */
void modelsum_print(const ModelSum *s, FILE *out, const char *title, int bs, int in_ndim, const int64_t *in_shape);
/* The same as JSON members (no braces): "input_shape": [bs, ...], "layers":
 * [{"name", "type", "output_shape": [bs, ...], "params", "trainable_params", "flops"}],
 * "total_params", "trainable_params", "non_trainable_params", "flops_per_item". */
void modelsum_json(const ModelSum *s, JsonBuf *b, int bs, int in_ndim, const int64_t *in_shape);

#endif
