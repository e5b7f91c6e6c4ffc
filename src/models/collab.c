/* collab.c — DotProduct, DotProductBias (fastai EmbeddingDotBias) and
 * EmbeddingNN; see collab.h.
 *
 * The dot-product models use one fused kernel: a batch forward/backward is
 * O(bs·n_factors) and touches only the rows in the batch.  EmbeddingNN runs
 * its Linear layers through cblas_sgemm, with BatchNorm1d and ReLU in plain
 * loops next to their backward passes.  Everything is allocated in
 * collab_model_new() for max_bs items; forward/backward never allocate.
 */
#include "models/collab.h"

#include "core/rng.h"
#include "models/modelsum.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RNG_STREAM_INIT = 0x434f4c4cULL };
static const float BN_EPS = 1e-5f, BN_MOM = 0.1f;

typedef struct NNLayer {
    int in, out;
    float *W, *gW;          /* [out, in] */
    float *gamma, *beta, *ggamma, *gbeta;   /* [out] (hidden layers) */
    float *rmean, *rvar, *nbt;              /* [out], [out], [1] */
    float *b, *gb;          /* [1] (final layer) */
    /* activations for backward */
    float *x;               /* [max_bs, in] input of this layer */
    float *z;               /* [max_bs, out] pre-ReLU (hidden) */
    float *xhat;            /* [max_bs, out] normalised (hidden) */
    float *invstd;          /* [out] */
} NNLayer;

typedef struct Collab {
    CollabSpec s;
    float *warena, *garena;
    size_t n_w, n_g;
    /* dot models */
    float *Wu, *Wi, *bu, *bi;     /* [n_users, nf], [n_items, nf], [n_users], [n_items] */
    float *gWu, *gWi, *gbu, *gbi;
    /* EmbeddingNN */
    int du, di, n_lin;          /* embedding sizes; n_lin = n_layers + 1 */
    NNLayer lin[COLLAB_MAX_LAYERS + 1];
    float *dx, *dx2;            /* [max_bs, widest] backward scratch */
    float *stat;                /* [widest] scratch */
    /* last forward */
    int n;
    ModelMode mode;
    int32_t *user, *item;       /* [max_bs] */
    float *raw;                 /* [max_bs] value before SigmoidRange */
    float *out;                 /* [max_bs] */
    /* embedding rows whose gradients the backward passes since the last
     * zero_grad touched: the rows of one batch, or "all" after a second one */
    int32_t *dirty_user, *dirty_item;   /* [max_bs] */
    int n_dirty;
    int dirty_all;
} Collab;

int collab_emb_sz_rule(int n_cat)
{
    int v = (int)lround(1.6 * pow((double)n_cat, 0.56));
    return v < 600 ? v : 600;
}

/* ---- parameters -------------------------------------------------------------- */

static void add_param(Model *m, const char *name, ParamKind kind, int ndim, int64_t d0, int64_t d1,
                      int no_wd, int is_norm)
{
    Param *p = &m->params[m->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->layout = LAYOUT_PLAIN;
    p->ndim = ndim;
    p->shape[0] = d0;
    p->shape[1] = ndim > 1 ? d1 : 0;
    p->n = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
    p->no_wd = no_wd;
    p->is_norm = is_norm;
}

/* Lay the params out in the two arenas (weights, then buffers, in state_dict
 * order), 16-float aligned each so kernels may sweep them with full vectors. */
static void place_params(Model *m, Collab *c)
{
    size_t nw = 0, ng = 0;
    for (int i = 0; i < m->n_params; i++) {
        nw += (m->params[i].n + 15) & ~(size_t)15;
        if (m->params[i].kind == PARAM_WEIGHT) ng += (m->params[i].n + 15) & ~(size_t)15;
    }
    c->n_w = nw, c->n_g = ng;
    c->warena = aligned_alloc(64, (nw ? nw : 16) * sizeof(float));
    c->garena = aligned_alloc(64, (ng ? ng : 16) * sizeof(float));
    memset(c->warena, 0, (nw ? nw : 16) * sizeof(float));
    memset(c->garena, 0, (ng ? ng : 16) * sizeof(float));
    size_t ow = 0, og = 0;
    for (int i = 0; i < m->n_params; i++) {
        Param *p = &m->params[i];
        p->w = c->warena + ow;
        ow += (p->n + 15) & ~(size_t)15;
        if (p->kind == PARAM_WEIGHT) {
            p->g = c->garena + og;
            og += (p->n + 15) & ~(size_t)15;
        }
    }
}

/* fastai Embedding init: normal(0,1).fmod(2)·0.01 */
static void init_trunc_normal(float *w, size_t n, Rng *r)
{
    for (size_t k = 0; k < n; k++) w[k] = (float)(fmod(rng_normal(r), 2.0) * 0.01);
}

static void init_uniform(float *w, size_t n, float bound, Rng *r)
{
    for (size_t k = 0; k < n; k++) w[k] = (2.0f * rng_uniformf(r) - 1.0f) * bound;
}

/* ---- dot-product models -------------------------------------------------------
 *
 * forward:  r_b = Σ_f U[u_b,f]·I[i_b,f] (+ bu[u_b] + bi[i_b])
 *           out_b = sigmoid(r_b)·(hi−lo) + lo          (y_range), else r_b
 * backward: dr_b = dout_b · (out_b − lo)·(hi − out_b)/(hi − lo)
 *                  (= dout·(hi−lo)·s·(1−s) with s = sigmoid(r_b))
 *           gU[u_b] += dr_b·I[i_b];  gI[i_b] += dr_b·U[u_b]
 *           gbu[u_b] += dr_b;        gbi[i_b] += dr_b
 * Rows repeat within a batch, so the scatter runs in batch order (one thread):
 * it is bs·n_factors work, negligible next to the optimizer's sweep. */

static void dot_forward(Collab *c, int n)
{
    const int nf = c->s.n_factors;
    const int bias = c->s.arch == COLLAB_DOT_BIAS;
    for (int b = 0; b < n; b++) {
        const float *u = c->Wu + (size_t)c->user[b] * nf, *it = c->Wi + (size_t)c->item[b] * nf;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int f = 0; f < nf; f++) s += u[f] * it[f];
        if (bias) s = s + c->bu[c->user[b]] + c->bi[c->item[b]];
        c->raw[b] = s;
    }
}

static void dot_backward(Collab *c, const float *dr)
{
    const int nf = c->s.n_factors;
    const int bias = c->s.arch == COLLAB_DOT_BIAS;
    for (int b = 0; b < c->n; b++) {
        const int32_t ui = c->user[b], ii = c->item[b];
        const float d = dr[b];
        const float *u = c->Wu + (size_t)ui * nf, *it = c->Wi + (size_t)ii * nf;
        float *gu = c->gWu + (size_t)ui * nf, *gi = c->gWi + (size_t)ii * nf;
#pragma omp simd
        for (int f = 0; f < nf; f++) {
            gu[f] += d * it[f];
            gi[f] += d * u[f];
        }
        if (bias) {
            c->gbu[ui] += d;
            c->gbi[ii] += d;
        }
    }
}

/* ---- EmbeddingNN --------------------------------------------------------------
 *
 * hidden layer k:  z = x·Wᵀ  [n, out];  a = relu(z);  y = γ·(a − μ)/sqrt(σ² + eps) + β
 *   train: μ, σ² of the batch (biased σ² normalises; the running variance is
 *   updated with the unbiased one, momentum 0.1); eval: running statistics.
 * final: o = x·Wᵀ + b  [n, 1]
 *
 * backward of BatchNorm (train): with x̂ = (a − μ)·invstd, g = dy·γ
 *   dγ += Σ_b dy·x̂;  dβ += Σ_b dy
 *   da = invstd/n · (n·g − Σ_b g − x̂·Σ_b g·x̂)
 * ReLU: dz = da·[not z <= 0] (a NaN passes, as in PyTorch);  Linear: dW += dzᵀ·x;  dx = dz·W. */

static void nn_forward(Collab *c, int n, ModelMode mode)
{
    /* gather embeddings into the first layer's input */
    NNLayer *L0 = &c->lin[0];
    const int du = c->du, di = c->di, d0 = du + di;
    for (int b = 0; b < n; b++) {
        memcpy(L0->x + (size_t)b * d0, c->Wu + (size_t)c->user[b] * du, sizeof(float) * (size_t)du);
        memcpy(L0->x + (size_t)b * d0 + du, c->Wi + (size_t)c->item[b] * di, sizeof(float) * (size_t)di);
    }
    for (int k = 0; k < c->n_lin; k++) {
        NNLayer *l = &c->lin[k];
        const int last = k == c->n_lin - 1;
        float *dst = last ? c->raw : l->z;
        if (last) {
            for (int b = 0; b < n; b++) dst[b] = l->b[0];
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, l->in, 1.0f, l->x, l->in, l->W, 1, 1.0f, dst, 1);
            break;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, l->out, l->in, 1.0f, l->x, l->in,
                    l->W, l->in, 0.0f, dst, l->out);
        float *y = c->lin[k + 1].x;   /* BN output is the next layer's input */
        const int o = l->out;
        if (mode == MODE_TRAIN) {
            for (int j = 0; j < o; j++) {
                double s = 0, s2 = 0;
                for (int b = 0; b < n; b++) {
                    float a = l->z[(size_t)b * o + j];
                    a = a <= 0 ? 0 : a;
                    s += a;
                }
                double mu = s / n;
                for (int b = 0; b < n; b++) {
                    float a = l->z[(size_t)b * o + j];
                    a = a <= 0 ? 0 : a;
                    s2 += (a - mu) * (a - mu);
                }
                double var = s2 / n;
                float inv = (float)(1.0 / sqrt(var + BN_EPS));
                l->invstd[j] = inv;
                for (int b = 0; b < n; b++) {
                    float a = l->z[(size_t)b * o + j];
                    a = a <= 0 ? 0 : a;
                    float xh = (float)(a - mu) * inv;
                    l->xhat[(size_t)b * o + j] = xh;
                    y[(size_t)b * o + j] = xh * l->gamma[j] + l->beta[j];
                }
                l->rmean[j] = (1 - BN_MOM) * l->rmean[j] + BN_MOM * (float)mu;
                l->rvar[j] = (1 - BN_MOM) * l->rvar[j] + BN_MOM * (float)(n > 1 ? s2 / (n - 1) : var);
            }
            l->nbt[0] += 1;
        } else {
            for (int j = 0; j < o; j++) {
                float inv = 1.0f / sqrtf(l->rvar[j] + BN_EPS), mu = l->rmean[j];
                for (int b = 0; b < n; b++) {
                    float a = l->z[(size_t)b * o + j];
                    a = a <= 0 ? 0 : a;
                    y[(size_t)b * o + j] = (a - mu) * inv * l->gamma[j] + l->beta[j];
                }
            }
        }
    }
}

static void nn_backward(Collab *c, const float *dr)
{
    const int n = c->n;
    NNLayer *fl = &c->lin[c->n_lin - 1];
    /* final Linear: dW += drᵀ·x; db += Σ dr; dx = dr ⊗ W */
    cblas_sgemv(CblasRowMajor, CblasTrans, n, fl->in, 1.0f, fl->x, fl->in, dr, 1, 1.0f, fl->gW, 1);
    float sb = 0;
    for (int b = 0; b < n; b++) sb += dr[b];
    fl->gb[0] += sb;
    float *dy = c->dx, *dz = c->dx2;
    for (int b = 0; b < n; b++)
        for (int j = 0; j < fl->in; j++) dy[(size_t)b * fl->in + j] = dr[b] * fl->W[j];
    for (int k = c->n_lin - 2; k >= 0; k--) {
        NNLayer *l = &c->lin[k];
        const int o = l->out;
        for (int j = 0; j < o; j++) {
            float sg = 0, sgx = 0, sdy = 0, sdyx = 0;
            const float gam = l->gamma[j];
            for (int b = 0; b < n; b++) {
                float d = dy[(size_t)b * o + j], xh = l->xhat[(size_t)b * o + j];
                sdy += d, sdyx += d * xh;
            }
            sg = sdy * gam, sgx = sdyx * gam;
            l->gbeta[j] += sdy;
            l->ggamma[j] += sdyx;
            const float inv = l->invstd[j], rn = 1.0f / (float)n;
            for (int b = 0; b < n; b++) {
                size_t q = (size_t)b * o + j;
                float g = dy[q] * gam;
                float da = inv * (g - rn * sg - l->xhat[q] * rn * sgx);
                dz[q] = l->z[q] <= 0 ? 0.0f : da;
            }
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o, l->in, n, 1.0f, dz, o, l->x, l->in,
                    1.0f, l->gW, l->in);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, l->in, o, 1.0f, dz, o, l->W, l->in,
                    0.0f, dy, l->in);
    }
    /* scatter into the embedding tables (batch order: rows repeat) */
    const int du = c->du, di = c->di, d0 = du + di;
    for (int b = 0; b < n; b++) {
        float *gu = c->gWu + (size_t)c->user[b] * du, *gi = c->gWi + (size_t)c->item[b] * di;
        const float *src = dy + (size_t)b * d0;
        for (int j = 0; j < du; j++) gu[j] += src[j];
        for (int j = 0; j < di; j++) gi[j] += src[du + j];
    }
}

/* ---- ModelOps -------------------------------------------------------------------- */

static int collab_forward(Model *m, const Batch *bt, ModelMode mode, uint64_t step_key,
                          const float **out, Err *err)
{
    Collab *c = m->impl;
    const int n = bt->n;
    if (!bt->user || !bt->item)
        return err_set(err, ERR_RUNTIME, "%s: the batch has no (user, item) inputs", m->info.arch);
    if (n < 1 || n > c->s.max_bs)
        return err_set(err, ERR_RUNTIME, "%s: batch of %d items: expected 1..%d", m->info.arch, n,
                       c->s.max_bs);
    if (c->s.arch == COLLAB_NN && mode == MODE_TRAIN && n < 2)
        return err_set(err, ERR_RUNTIME,
                       "%s: BatchNorm1d needs more than 1 item per batch in training (bs=1)",
                       m->info.arch);
    for (int b = 0; b < n; b++) {
        int32_t u = bt->user[b], i = bt->item[b];
        if (u < 0 || u >= c->s.n_users || i < 0 || i >= c->s.n_items)
            return err_set(err, ERR_RUNTIME, "%s: item %d of the batch: user %d / item %d outside "
                           "the embeddings (%d users, %d items)",
                           m->info.arch, b, u, i, c->s.n_users, c->s.n_items);
        c->user[b] = u, c->item[b] = i;
    }
    c->n = n;
    c->mode = mode;
    if (c->s.arch == COLLAB_NN) nn_forward(c, n, mode);
    else dot_forward(c, n);
    if (c->s.has_y_range) {
        const float lo = c->s.y_lo, span = c->s.y_hi - c->s.y_lo;
        for (int b = 0; b < n; b++) c->out[b] = 1.0f / (1.0f + expf(-c->raw[b])) * span + lo;
    } else {
        memcpy(c->out, c->raw, sizeof(float) * (size_t)n);
    }
    *out = c->out;
    return 0;
}

static void collab_backward(Model *m, const float *dout)
{
    Collab *c = m->impl;
    float *dr = c->raw;   /* overwritten in place: raw is not needed any more */
    if (c->s.has_y_range) {
        /* SigmoidRange: d out/d r = span·s·(1−s), s recomputed from r */
        const float span = c->s.y_hi - c->s.y_lo;
        for (int b = 0; b < c->n; b++) {
            float s = 1.0f / (1.0f + expf(-c->raw[b]));
            dr[b] = dout[b] * span * s * (1.0f - s);
        }
    } else {
        for (int b = 0; b < c->n; b++) dr[b] = dout[b];
    }
    if (c->n_dirty > 0) c->dirty_all = 1;
    memcpy(c->dirty_user, c->user, sizeof(int32_t) * (size_t)c->n);
    memcpy(c->dirty_item, c->item, sizeof(int32_t) * (size_t)c->n);
    c->n_dirty = c->n;
    if (c->s.arch == COLLAB_NN) nn_backward(c, dr);
    else dot_backward(c, dr);
}

/* Gradients are zero except in the embedding rows of the batches backward saw
 * (and in EmbeddingNN's small dense layers): clear just those, O(bs·width)
 * instead of a pass over every table. */
static void collab_zero_grad(Model *m)
{
    Collab *c = m->impl;
    if (c->dirty_all) {
        memset(c->garena, 0, c->n_g * sizeof(float));
    } else if (c->n_dirty > 0) {
        const int wu = c->s.arch == COLLAB_NN ? c->du : c->s.n_factors;
        const int wi = c->s.arch == COLLAB_NN ? c->di : c->s.n_factors;
        for (int b = 0; b < c->n_dirty; b++) {
            memset(c->gWu + (size_t)c->dirty_user[b] * wu, 0, sizeof(float) * (size_t)wu);
            memset(c->gWi + (size_t)c->dirty_item[b] * wi, 0, sizeof(float) * (size_t)wi);
            if (c->gbu) c->gbu[c->dirty_user[b]] = 0, c->gbi[c->dirty_item[b]] = 0;
        }
        for (int i = 2; i < m->n_params; i++)   /* everything after the embedding tables */
            if (m->params[i].g && m->params[i].g != c->gbu && m->params[i].g != c->gbi)
                memset(m->params[i].g, 0, m->params[i].n * sizeof(float));
    }
    c->n_dirty = 0;
    c->dirty_all = 0;
}

/* fastai's modules in forward order; the dot product of DotProduct(Bias) is no
 * module, so it gets a row of its own for its FLOPs (2·n_factors). */
static void collab_summary(const Model *m, int h, int w, ModelSum *sum)
{
    const Collab *c = m->impl;
    const CollabSpec *s = &c->s;
    const Param *p = m->params;
    int64_t one[1] = {1};
    if (s->arch != COLLAB_NN) {
        int64_t nf[1] = {s->n_factors};
        modelsum_add(sum, "u_weight", "Embedding", 1, nf, &p[0], 1, 0);
        modelsum_add(sum, "i_weight", "Embedding", 1, nf, &p[1], 1, 0);
        if (s->arch == COLLAB_DOT_BIAS) {
            modelsum_add(sum, "u_bias", "Embedding", 1, one, &p[2], 1, 0);
            modelsum_add(sum, "i_bias", "Embedding", 1, one, &p[3], 1, 0);
        }
        modelsum_add(sum, "(u_weight * i_weight).sum(1)", "dot product", 1, one, NULL, 0, 2.0 * s->n_factors);
    } else {
        int64_t du[1] = {c->du}, di[1] = {c->di}, cat[1] = {c->du + c->di};
        modelsum_add(sum, "embeds.0", "Embedding", 1, du, &p[0], 1, 0);
        modelsum_add(sum, "embeds.1", "Embedding", 1, di, &p[1], 1, 0);
        modelsum_add(sum, "emb_drop", "Dropout", 1, cat, NULL, 0, 0);
        int pi = 2;
        for (int k = 0; k < c->n_lin; k++) {
            const NNLayer *l = &c->lin[k];
            int64_t o[1] = {l->out};
            char name[64];
            int last = k == c->n_lin - 1;
            snprintf(name, sizeof name, "layers.%d.0", k);
            modelsum_add(sum, name, "Linear", 1, o, &p[pi], last ? 2 : 1, 2.0 * l->in * l->out);
            pi += last ? 2 : 1;
            if (!last) {
                snprintf(name, sizeof name, "layers.%d.1", k);
                modelsum_add(sum, name, "ReLU", 1, o, NULL, 0, 0);
                snprintf(name, sizeof name, "layers.%d.2", k);
                modelsum_add(sum, name, "BatchNorm1d", 1, o, &p[pi], 5, 0);
                pi += 5;
            }
        }
    }
    if (s->has_y_range) {
        char name[64] = "(sigmoid_range)";
        if (s->arch == COLLAB_NN) snprintf(name, sizeof name, "layers.%d", c->n_lin);
        modelsum_add(sum, name, "SigmoidRange", 1, one, NULL, 0, 0);
    }
}

static void collab_free(Model *m)
{
    if (!m) return;
    Collab *c = m->impl;
    if (c) {
        free(c->warena), free(c->garena);
        for (int k = 0; k < c->n_lin; k++) {
            free(c->lin[k].x), free(c->lin[k].z), free(c->lin[k].xhat), free(c->lin[k].invstd);
        }
        free(c->dx), free(c->dx2), free(c->stat);
        free(c->user), free(c->item), free(c->raw), free(c->out);
        free(c->dirty_user), free(c->dirty_item);
        free(c);
    }
    free(m->params);
    free(m);
}

static const ModelOps COLLAB_OPS = {collab_forward, collab_backward, collab_summary, collab_free};

/* The embedding tables (params 0..3: user/item factors, then user/item biases
 * for DotProductBias) are read and written at the batch's user and item rows
 * only. */
static int collab_batch_rows(const Model *m, const Batch *b, int param, const int32_t **rows)
{
    if (param < 0 || param >= m->n_params || m->params[param].row_len <= 0) return -1;
    *rows = param % 2 == 0 ? b->user : b->item;
    return b->n;
}

const CollabSpec *collab_spec(const Model *m)
{
    if (!m || m->ops != &COLLAB_OPS) return NULL;
    return &((const Collab *)m->impl)->s;
}

/* Long because it checks the spec, then lays out every parameter of the three
 * architectures in state_dict order in one block, then initialises them as
 * fastai does; the layout is easiest to check against fastai read top to
 * bottom. */
int collab_model_new(Model **out, const CollabSpec *spec, Err *err)
{
    *out = NULL;
    const CollabSpec *s = spec;
    if (s->n_users < 1 || s->n_items < 1)
        return err_set(err, ERR_RUNTIME, "collab model: %d users, %d items: expected at least 1 of each",
                       s->n_users, s->n_items);
    if (s->max_bs < 1) return err_set(err, ERR_USAGE, "collab model: max batch size %d: expected >= 1", s->max_bs);
    if (s->arch != COLLAB_NN && s->n_factors < 1)
        return err_set(err, ERR_USAGE, "[model] arch: n_factors=%d: expected >= 1", s->n_factors);
    if (s->has_y_range && !(s->y_hi > s->y_lo))
        return err_set(err, ERR_USAGE, "[model] arch: y_range=(%g, %g): expected lo < hi", s->y_lo, s->y_hi);
    if (s->arch == COLLAB_NN) {
        if (s->n_layers < 0 || s->n_layers > COLLAB_MAX_LAYERS)
            return err_set(err, ERR_USAGE, "[model] arch: EmbeddingNN layers: %d sizes: expected 0..%d",
                           s->n_layers, COLLAB_MAX_LAYERS);
        for (int k = 0; k < s->n_layers; k++)
            if (s->layers[k] < 1)
                return err_set(err, ERR_USAGE, "[model] arch: EmbeddingNN layers[%d]=%d: expected >= 1",
                               k, s->layers[k]);
        if (s->emb_user < 0 || s->emb_item < 0)
            return err_set(err, ERR_USAGE, "[model] arch: EmbeddingNN emb_szs: expected sizes >= 1");
    }
    Model *m = calloc(1, sizeof *m);
    Collab *c = calloc(1, sizeof *c);
    c->s = *s;
    m->ops = &COLLAB_OPS;
    m->impl = c;
    m->zero_grad = collab_zero_grad;
    m->batch_rows = collab_batch_rows;
    snprintf(m->info.arch, sizeof m->info.arch, "%s",
             s->arch == COLLAB_DOT ? "DotProduct" : s->arch == COLLAB_DOT_BIAS ? "DotProductBias" : "EmbeddingNN");
    m->info.n_in = 2;
    m->info.n_out = 1;
    m->info.n_groups = 1;
    m->info.max_bs = s->max_bs;
    m->params = calloc(4 + 2 + 6 * (COLLAB_MAX_LAYERS + 1), sizeof(Param));
    const int bs = s->max_bs;

    if (s->arch != COLLAB_NN) {
        const int nf = s->n_factors;
        add_param(m, "u_weight.weight", PARAM_WEIGHT, 2, s->n_users, nf, 0, 0);
        add_param(m, "i_weight.weight", PARAM_WEIGHT, 2, s->n_items, nf, 0, 0);
        if (s->arch == COLLAB_DOT_BIAS) {
            /* Embedding weights, not `.bias` attributes: weight decay applies (fastai) */
            add_param(m, "u_bias.weight", PARAM_WEIGHT, 2, s->n_users, 1, 0, 0);
            add_param(m, "i_bias.weight", PARAM_WEIGHT, 2, s->n_items, 1, 0, 0);
        }
        for (int i = 0; i < m->n_params; i++) m->params[i].row_len = m->params[i].shape[1];
        place_params(m, c);
        c->Wu = m->params[0].w, c->gWu = m->params[0].g;
        c->Wi = m->params[1].w, c->gWi = m->params[1].g;
        if (s->arch == COLLAB_DOT_BIAS) {
            c->bu = m->params[2].w, c->gbu = m->params[2].g;
            c->bi = m->params[3].w, c->gbi = m->params[3].g;
        }
    } else {
        c->du = s->emb_user ? s->emb_user : collab_emb_sz_rule(s->n_users);
        c->di = s->emb_item ? s->emb_item : collab_emb_sz_rule(s->n_items);
        c->s.emb_user = c->du, c->s.emb_item = c->di;
        add_param(m, "embeds.0.weight", PARAM_WEIGHT, 2, s->n_users, c->du, 0, 0);
        add_param(m, "embeds.1.weight", PARAM_WEIGHT, 2, s->n_items, c->di, 0, 0);
        m->params[0].row_len = c->du, m->params[1].row_len = c->di;
        c->n_lin = s->n_layers + 1;
        int in = c->du + c->di;
        char nm[96];
        for (int k = 0; k < c->n_lin; k++) {
            const int last = k == c->n_lin - 1, o = last ? 1 : s->layers[k];
            c->lin[k].in = in, c->lin[k].out = o;
            snprintf(nm, sizeof nm, "layers.%d.0.weight", k);
            add_param(m, nm, PARAM_WEIGHT, 2, o, in, 0, 0);
            if (last) {
                snprintf(nm, sizeof nm, "layers.%d.0.bias", k);
                add_param(m, nm, PARAM_WEIGHT, 1, 1, 0, 1, 0);
            } else {
                snprintf(nm, sizeof nm, "layers.%d.2.weight", k);
                add_param(m, nm, PARAM_WEIGHT, 1, o, 0, 1, 1);
                snprintf(nm, sizeof nm, "layers.%d.2.bias", k);
                add_param(m, nm, PARAM_WEIGHT, 1, o, 0, 1, 1);
                snprintf(nm, sizeof nm, "layers.%d.2.running_mean", k);
                add_param(m, nm, PARAM_BUFFER, 1, o, 0, 1, 1);
                snprintf(nm, sizeof nm, "layers.%d.2.running_var", k);
                add_param(m, nm, PARAM_BUFFER, 1, o, 0, 1, 1);
                snprintf(nm, sizeof nm, "layers.%d.2.num_batches_tracked", k);
                add_param(m, nm, PARAM_COUNTER, 0, 1, 0, 1, 1);
                m->params[m->n_params - 1].ndim = 0;
                m->params[m->n_params - 1].shape[0] = 0;
            }
            in = o;
        }
        place_params(m, c);
        c->Wu = m->params[0].w, c->gWu = m->params[0].g;
        c->Wi = m->params[1].w, c->gWi = m->params[1].g;
        int widest = c->du + c->di;
        int p = 2;
        for (int k = 0; k < c->n_lin; k++) {
            NNLayer *l = &c->lin[k];
            l->W = m->params[p].w, l->gW = m->params[p].g, p++;
            if (k == c->n_lin - 1) {
                l->b = m->params[p].w, l->gb = m->params[p].g, p++;
            } else {
                l->gamma = m->params[p].w, l->ggamma = m->params[p].g, p++;
                l->beta = m->params[p].w, l->gbeta = m->params[p].g, p++;
                l->rmean = m->params[p++].w;
                l->rvar = m->params[p++].w;
                l->nbt = m->params[p++].w;
                l->z = malloc(sizeof(float) * (size_t)bs * l->out);
                l->xhat = malloc(sizeof(float) * (size_t)bs * l->out);
                l->invstd = malloc(sizeof(float) * (size_t)l->out);
            }
            l->x = malloc(sizeof(float) * (size_t)bs * l->in);
            if (l->in > widest) widest = l->in;
            if (l->out > widest) widest = l->out;
        }
        c->dx = malloc(sizeof(float) * (size_t)bs * widest);
        c->dx2 = malloc(sizeof(float) * (size_t)bs * widest);
        c->stat = malloc(sizeof(float) * (size_t)widest);
    }
    c->user = malloc(sizeof(int32_t) * (size_t)bs);
    c->item = malloc(sizeof(int32_t) * (size_t)bs);
    c->raw = malloc(sizeof(float) * (size_t)bs);
    c->dirty_user = malloc(sizeof(int32_t) * (size_t)bs);
    c->dirty_item = malloc(sizeof(int32_t) * (size_t)bs);
    c->out = malloc(sizeof(float) * (size_t)bs);

    /* init, one RNG stream per parameter (state_dict position) */
    for (int i = 0; i < m->n_params; i++) {
        Param *p = &m->params[i];
        Rng r = rng_make(s->seed, RNG_STREAM_INIT + (uint64_t)i);
        const char *nm = p->name;
        if (i < 2 || strncmp(nm, "u_bias", 6) == 0 || strncmp(nm, "i_bias", 6) == 0) {
            init_trunc_normal(p->w, p->n, &r);                       /* embeddings */
        } else if (p->is_norm) {
            float v = strstr(nm, ".bias") ? 1e-3f : strstr(nm, "running_var") || strstr(nm, ".weight") ? 1.0f : 0.0f;
            for (size_t k = 0; k < p->n; k++) p->w[k] = v;          /* fastai BatchNorm */
        } else if (p->ndim == 2) {
            init_uniform(p->w, p->n, 1.0f / sqrtf((float)p->shape[1]), &r);     /* Linear weight */
        } else {
            init_uniform(p->w, p->n, 1.0f / sqrtf((float)m->params[i - 1].shape[1]), &r);  /* its bias */
        }
    }
    *out = m;
    return 0;
}

int collab_predict(Model *m, const int32_t *user, const int32_t *item, int n, float *out, Err *err)
{
    Collab *c = m->impl;
    int32_t *u = (int32_t *)user, *it = (int32_t *)item;
    for (int off = 0; off < n; off += c->s.max_bs) {
        int k = n - off < c->s.max_bs ? n - off : c->s.max_bs;
        Batch b = {0};
        b.n = k;
        b.user = u + off, b.item = it + off;
        const float *o = NULL;
        int rc = collab_forward(m, &b, MODE_EVAL, 0, &o, err);
        if (rc) return rc;
        memcpy(out + off, o, sizeof(float) * (size_t)k);
    }
    return 0;
}
