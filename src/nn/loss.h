/* loss.h — fastai's Flat losses, mean reduction, on [n, c] model outputs.
 *
 *   CrossEntropyLossFlat:  L_i = logsumexp(x_i) − x_i[y_i]          (c classes, yi[n])
 *                          dL/dx_i = (softmax(x_i) − onehot(y_i)) / n
 *   LabelSmoothingCrossEntropy(eps) (fastai's; its Flat twin is the same on [n, c]):
 *                          L_i = eps/c·Σ_j −log p_ij + (1 − eps)·(−log p_i[y_i])
 *                              = logsumexp(x_i) − eps·mean_j(x_ij) − (1 − eps)·x_i[y_i]
 *                          dL/dx_ij = (p_ij − eps/c − (1 − eps)·[j = y_i]) / n
 *                          (cross-entropy against the target (1 − eps)·onehot + eps/c)
 *   BCEWithLogitsLossFlat: l_ij = max(x,0) − x·y + log(1 + e^{−|x|})  (y[n,c] in {0,1} or soft)
 *                          dL/dx_ij = (σ(x_ij) − y_ij) / (n·c)
 *   MSELossFlat:           l_ij = (x − y)²,   dL/dx = 2(x − y)/(n·c)
 *   L1LossFlat:            l_ij = |x − y|,    dL/dx = sign(x − y)/(n·c)
 * Each returns the mean loss (over all n·c elements; over n items for CE),
 * accumulated in double.  dout [n,c] (NULL: not wanted) is overwritten with dL/dx.
 * per_item [n] (NULL: not wanted) gets each item's own loss: for CE the item's
 * cross-entropy, for the others the mean of its c element losses — what
 * interpretation's top losses rank by (their mean equals the returned loss).
 */
#ifndef FASTC_NN_LOSS_H
#define FASTC_NN_LOSS_H

#include <stdint.h>

typedef enum LossKind { LOSS_CROSS_ENTROPY, LOSS_BCE_LOGITS, LOSS_MSE, LOSS_L1, LOSS_LABEL_SMOOTHING } LossKind;

float loss_cross_entropy(float *dout, float *per_item, const float *x, const int32_t *y, int n, int c);
/* eps in [0, 1]: 0 is loss_cross_entropy (bit for bit), 1 a uniform target. */
float loss_label_smoothing(float *dout, float *per_item, const float *x, const int32_t *y, int n, int c,
                           double eps);
float loss_bce_logits(float *dout, float *per_item, const float *x, const float *y, int n, int c);
float loss_mse(float *dout, float *per_item, const float *x, const float *y, int n, int c);
float loss_l1(float *dout, float *per_item, const float *x, const float *y, int n, int c);

/* Dispatch on kind: CE and label smoothing read yi, the others y (n·c floats);
 * eps is label smoothing's (the other kinds ignore it). */
float loss_compute(LossKind kind, double eps, float *dout, float *per_item, const float *x,
                   const int32_t *yi, const float *y, int n, int c);
/* "CrossEntropyLossFlat", ..., "LabelSmoothingCrossEntropy" */
const char *loss_name(LossKind kind);

#endif
