/* collab.h — collaborative-filtering models behind the Model contract
 * (models/model.h): fastai's DotProduct (the book's), EmbeddingDotBias
 * ("DotProductBias") and EmbeddingNN (TabularModel with no continuous inputs).
 *
 *   DotProduct(n_factors, y_range):     out = sr(Σ_f U[u,f]·I[i,f])
 *   DotProductBias(n_factors, y_range): out = sr(Σ_f U[u,f]·I[i,f] + bu[u] + bi[i])
 *       sr(x) = sigmoid(x)·(hi−lo)+lo when y_range is given, else x.
 *       Params (fastai state_dict names): u_weight.weight [n_users, nf],
 *       i_weight.weight [n_items, nf], u_bias.weight [n_users, 1],
 *       i_bias.weight [n_items, 1] (DotProduct: the first two only).
 *       Init: fastai Embedding, normal(0,1).fmod(2)·0.01 (truncated normal).
 *   EmbeddingNN(layers, emb_szs):  concat(Eu[u], Ei[i]) → per hidden size h:
 *       Linear(no bias) → ReLU → BatchNorm1d(h) → finally Linear(last, 1) with
 *       bias → SigmoidRange(y_range).  Embedding sizes default to fastai's
 *       emb_sz_rule(n) = min(600, round(1.6·n^0.56)) with n counting '#na#'.
 *       Params: embeds.0.weight, embeds.1.weight, layers.K.0.weight,
 *       layers.K.2.{weight,bias,running_mean,running_var,num_batches_tracked},
 *       layers.L.0.{weight,bias}.  (fastai's TabularModel also holds an empty
 *       bn_cont = BatchNorm1d(0); its zero-element tensors are left out.)
 *       Init: embeddings as above, Linear as PyTorch (U(±1/sqrt(fan_in)) for
 *       weight and bias), BatchNorm weight 1, bias 1e-3 (fastai's BatchNorm).
 *
 * One parameter group.  Weight decay as fastai's wd_bn_bias=False decides it
 * (norm_bias_params: every parameter of a BatchNorm, plus every module's
 * `.bias` attribute): the Linear bias and BatchNorm params get no_wd; the
 * embedding bias tables u_bias.weight / i_bias.weight are Embedding weights,
 * not `.bias` attributes, so they DO get weight decay, exactly as in fastai.
 *
 * Weights live in one contiguous block and gradients in another (state_dict
 * order), so an optimizer may sweep them as single arrays.
 */
#ifndef FASTC_COLLAB_H
#define FASTC_COLLAB_H

#include "core/ctx.h"
#include "core/err.h"
#include "models/model.h"

#include <stdint.h>

typedef enum CollabArch { COLLAB_DOT, COLLAB_DOT_BIAS, COLLAB_NN } CollabArch;

enum { COLLAB_MAX_LAYERS = 8 };

typedef struct CollabSpec {
    CollabArch arch;
    int n_users, n_items;        /* vocab sizes including '#na#' */
    int n_factors;               /* DotProduct(Bias) */
    int has_y_range;
    float y_lo, y_hi;
    int n_layers;                /* EmbeddingNN hidden sizes */
    int layers[COLLAB_MAX_LAYERS];
    int emb_user, emb_item;      /* EmbeddingNN embedding sizes; 0 → emb_sz_rule */
    int max_bs;
    uint64_t seed;               /* weight init */
} CollabSpec;

/* fastai's emb_sz_rule: min(600, round(1.6 * n^0.56)). */
int collab_emb_sz_rule(int n_cat);

int collab_model_new(Model **out, const CollabSpec *spec, Err *err);

/* Whether m is one of these models, and its spec. */
const CollabSpec *collab_spec(const Model *m);

/* Forward in eval mode for n (user, item) index pairs, outside a training
 * step (interpretation, predict): writes out[n].  Chunks of max_bs. */
int collab_predict(Model *m, const int32_t *user, const int32_t *item, int n, float *out, Err *err);

#endif
