/* resnet.h — torchvision resnet18/34/50/101/152 bodies with fastai's head, as a Model.
 *
 * The model is fastai's `nn.Sequential(body, head)`:
 *   body = torchvision resnet cut before avgpool/fc:
 *          0 conv1 (7x7/2, n_in → 64), 1 bn1, 2 relu, 3 maxpool(3,2,1), 4..7 layer1..4
 *          (BasicBlock for 18/34, Bottleneck with the stride on the 3x3 for 50/101/152)
 *   head = create_head(nf, n_out, ps):  0 AdaptiveConcatPool2d, 1 Flatten,
 *          2 BatchNorm1d(2nf), 3 Dropout(ps/2), 4 Linear(2nf, 512, bias=False), 5 ReLU,
 *          6 BatchNorm1d(512), 7 Dropout(ps), 8 Linear(512, n_out, bias=False),
 *          [9 SigmoidRange(y_lo, y_hi)]
 * Param names are that model's state_dict names ("0.4.0.conv1.weight",
 * "1.2.running_mean", ...), in state_dict order, buffers included; conv weights
 * are stored LAYOUT_OHWI.  Groups (fastai _resnet_split): 0 = conv1..layer2,
 * 1 = layer3..layer4, 2 = head.
 * With plain_fc the head is torchvision's avgpool + fc (Linear(nf, n_out) with
 * bias, named "fc.weight"/"fc.bias") — for parameter counts and comparisons.
 *
 * Init from `seed`: body as torchvision (conv kaiming_normal fan_out/relu, BN
 * weight 1 bias 0), head as fastai (kaiming_normal fan_in on linear weights, BN
 * weight 1 bias 1e-3).
 *
 * Memory: activations, gradients of activations and scratch are allocated once
 * in resnet_new for (max_bs, max_h, max_w); forward/backward never allocate.
 */
#ifndef FASTC_RESNET_H
#define FASTC_RESNET_H

#include "core/err.h"
#include "models/model.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The largest input side (height or width). */
enum { RESNET_MAX_SIDE = 4096 };

typedef struct ResnetSpec {
    const char *arch;      /* "resnet18", "resnet34", "resnet50", "resnet101", "resnet152" */
    int n_in;              /* input channels (3 for RGB) */
    int n_out;             /* outputs */
    int has_y_range;       /* append SigmoidRange(y_lo, y_hi) */
    float y_lo, y_hi;
    float ps;              /* head dropout (fastai default 0.5: 0.25 then 0.5) */
    int plain_fc;          /* torchvision avgpool+fc head instead of fastai's */
    int max_bs, max_h, max_w;
    uint64_t seed;         /* weight initialisation */
    int no_init;           /* the caller loads every weight next (predict, interpret):
                            * skip the random initialisation (~0.4 s for resnet18) */
    int eval_only;         /* only MODE_EVAL forwards (predict, interpret): no gradient
                            * memory (Param.g = NULL); backward must not be called */
    int threads;           /* informational; kernels use the OpenMP/BLAS settings of Ctx */
    int bf16;              /* precision = bf16: convolutions and linears multiply in bf16 with
                            * fp32 sums (nn/gemm_bf16.h); BatchNorm, pools, the loss and the
                            * weights (fp32 masters) stay fp32 */
    int bf16_fp32_inputs;  /* tests: bf16 with every convolution input and output gradient kept
                            * fp32 and rounded by the convolution, as before they were kept as
                            * bf16 (the same numbers: test_resnet) */
} ResnetSpec;

/* A spec with fastai defaults: n_in 3, ps 0.5, no y_range, seed 0, 1 thread. */
ResnetSpec resnet_spec_default(const char *arch, int n_out, int max_bs, int max_h, int max_w);

/* Whether arch names a supported resnet. */
int resnet_arch_known(const char *arch);
/* "resnet18, resnet34, resnet50, resnet101 or resnet152" (the arch table), for messages. */
void resnet_arch_list(char *buf, size_t cap);

/* Build the model (allocates everything).  Usage errors (unknown arch, bad
 * sizes) → ERR_USAGE; allocation failure → ERR_RUNTIME. */
int resnet_new(Model **out, const ResnetSpec *spec, Err *err);

/* Forward FLOPs (2·MACs of convs and linears) per image at h x w. */
double resnet_flops_per_image(const Model *m, int h, int w);

/* Trainable parameter count (PARAM_WEIGHT elements). */
int64_t resnet_param_count(const Model *m);


/* Bytes allocated for activations + scratch (not parameters). */
size_t resnet_workspace_bytes(const Model *m);

#endif
