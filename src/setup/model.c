/* model.c — [model] and [learner] loss_func → SetupModel and the loss; the
 * constructors of architectures and losses, and the checks that need the
 * model and the data settings together (a batch BatchNorm can train on, an
 * input size the network takes, pretrained weights it can load). */
#include "setup/internal.h"

#include "models/resnet.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- architectures ------------------------------------------------------------------ */

static int build_resnet(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupModel *m = out;
    snprintf(m->arch, sizeof m->arch, "%s", call->str);
    return 0;
}

static void collab_y_range(const CfgValue *call, CollabSpec *c)
{
    const CfgValue *v = cfg_arg(call, "y_range");
    if (!v) return;
    c->has_y_range = 1;
    c->y_lo = (float)v->items[0]->num, c->y_hi = (float)v->items[1]->num;
}

/* tag: the CollabArch */
static int build_dot_product(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupModel *m = out;
    snprintf(m->arch, sizeof m->arch, "%s", call->str);
    m->collab.arch = (CollabArch)tag;
    m->collab.n_factors = (int)cfg_arg_num(call, "n_factors");
    collab_y_range(call, &m->collab);
    return 0;
}

static int build_embedding_nn(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupModel *m = out;
    CollabSpec *c = &m->collab;
    snprintf(m->arch, sizeof m->arch, "%s", call->str);
    c->arch = COLLAB_NN;
    collab_y_range(call, c);
    const CfgValue *v = cfg_arg(call, "layers");   /* fastai's collab_learner: [n_factors] = [50] */
    int n = cfg_list_len(v);
    if (n > COLLAB_MAX_LAYERS)
        return err_set(err, ERR_USAGE, "%s: EmbeddingNN layers: %d sizes, at most %d", where, n, COLLAB_MAX_LAYERS);
    c->n_layers = n;
    for (int k = 0; k < n; k++) c->layers[k] = (int)cfg_list_at(v, k)->num;
    if ((v = cfg_arg(call, "emb_szs"))) {
        /* ((n_users, du), (n_items, di)) as fastai, or (du, di) */
        if (cfg_list_len(v) != 2)
            return err_set(err, ERR_USAGE, "%s: EmbeddingNN emb_szs: expected two sizes (user, item)", where);
        int sz[2];
        for (int k = 0; k < 2; k++) {
            const CfgValue *x = cfg_list_at(v, k);
            if (x->kind == CV_TUPLE && x->n == 2 && x->items[1]->kind == CV_NUM) x = x->items[1];
            if (x->kind != CV_NUM || x->num < 1 || x->num > 1e6 || x->num != floor(x->num))
                return err_set(err, ERR_USAGE, "%s: EmbeddingNN emb_szs: expected positive sizes", where);
            sz[k] = (int)x->num;
        }
        c->emb_user = sz[0], c->emb_item = sz[1];
    }
    return 0;
}

/* ---- losses ----------------------------------------------------------------------- */

/* tag: the LossKind */
static int build_loss(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    SetupLoss *l = out;
    l->kind = (LossKind)tag;
    if (l->kind == LOSS_LABEL_SMOOTHING) l->eps = cfg_arg_num(call, "eps");
    if (l->kind == LOSS_BCE_LOGITS) l->thresh = cfg_arg_num(call, "thresh");
    return 0;
}

/* ---- [model] ------------------------------------------------------------------------ */

/* The model's input size when the transforms fix it (else the data's own). */
static int input_size(const Setup *s, int *h, int *w, const char **key)
{
    const ImageLoaderOpts *o = &s->loader;
    *key = "batch_tfms";
    if (o->batch.aug && o->batch.size_w > 0) {
        *h = o->batch.size_h, *w = o->batch.size_w;
        return 1;
    }
    *key = "item_tfms";
    if (o->item.n > 0) {
        *h = o->item.t[o->item.n - 1].h, *w = o->item.t[o->item.n - 1].w;
        return 1;
    }
    return 0;
}

static int image_model(Setup *s, Err *err)
{
    SetupModel *m = &s->model;
    char w[SETUP_WHERE];
    m->ps = (float)cfg_num(s->cfg, "model", "ps");
    /* head = 'torchvision': the network torchvision trains on ImageNet (avgpool + fc,
     * torchvision's parameter names), so that its saved file is a body another
     * config loads with `pretrained =` (the fc is skipped, a fastai head is new). */
    m->torchvision_head = cfg_choice(s->cfg, "model", "head") == 1;   /* fastai|torchvision */
    if (m->torchvision_head && (m->has_y_range || m->pretrained || m->pretrained_torchvision)) {
        setup_where(s, "model", "head", 0, w, sizeof w);
        return err_set(err, ERR_USAGE, "%s = 'torchvision' takes no %s (it is for training a body from scratch; use "
                       "the default fastai head)", w, m->has_y_range ? "y_range" : "pretrained weights");
    }
    /* fastai's head trains BatchNorm1d, which needs 2 items (PyTorch refuses 1) */
    if (!m->torchvision_head && s->loader.bs < 2) {
        setup_where(s, "data", "bs", 0, w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found %d, expected at least 2: %s's head trains BatchNorm1d, which needs "
                       "2 items in a training batch", w, s->loader.bs, m->arch);
    }
    /* vision_learner(normalize=True, pretrained=True): Normalize.from_stats(*imagenet_stats)
     * when the batch transforms have none (the stats: the schema's) */
    if ((m->pretrained || m->pretrained_torchvision) && !s->loader.batch.normalize) {
        CfgValue *v = cfg_value_parse_key("data", "batch_tfms", "Normalize.from_stats(imagenet_stats)", NULL, 0, err);
        if (!v) return err->code;
        BatchTfm *b = &s->loader.batch;
        int rc = setup_build(SLOT_BATCH_TFM, b, cfg_list_at(v, 0), "imagenet_stats", err);
        cfg_value_free(v);
        if (rc) return rc;
        memcpy(s->norm_mean, b->mean, sizeof s->norm_mean);
        memcpy(s->norm_std, b->std, sizeof s->norm_std);
        s->norm_added = 1;
    }
    int h, wd;
    const char *key;
    if (input_size(s, &h, &wd, &key) && (h > RESNET_MAX_SIDE || wd > RESNET_MAX_SIDE)) {
        setup_where(s, "data", key, 0, w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: gives %dx%d images, expected at most %d pixels a side for %s", w, h, wd,
                       RESNET_MAX_SIDE, m->arch);
    }
    return 0;
}

static int collab_model(Setup *s, Err *err)
{
    SetupModel *m = &s->model;
    char w[SETUP_WHERE];
    if (m->pretrained || m->pretrained_torchvision) {
        setup_where(s, "model", "pretrained", 0, w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found %s, expected no pretrained weights for a collab model (%s starts "
                       "from its own initialisation)", w, m->pretrained ? m->pretrained : "True", m->arch);
    }
    if (m->collab.arch == COLLAB_NN && s->loader.bs < 2) {
        setup_where(s, "data", "bs", 0, w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found %d, expected at least 2: EmbeddingNN trains BatchNorm1d, which "
                       "needs 2 items in a training batch", w, s->loader.bs);
    }
    return 0;
}

int setup_model(Setup *s, Err *err)
{
    SetupModel *m = &s->model;
    char w[SETUP_WHERE];
    const CfgValue *arch = cfg_get(s->cfg, "model", "arch");
    setup_where(s, "model", "arch", arch->line, w, sizeof w);
    if (setup_build(SLOT_ARCH, m, arch, w, err)) return err->code;
    m->n_in = cfg_int(s->cfg, "model", "n_in");
    m->bf16 = cfg_choice(s->cfg, "model", "precision") == 1;   /* fp32|bf16 */
    m->pretrained = s->paths.pretrained;
    const CfgValue *pv = cfg_get(s->cfg, "model", "pretrained");   /* a path, True or False */
    m->pretrained_torchvision = pv && pv->kind == CV_BOOL && pv->num != 0;
    const CfgValue *yr = cfg_get(s->cfg, "model", "y_range");
    if (yr) m->has_y_range = 1, m->y_lo = yr->items[0]->num, m->y_hi = yr->items[1]->num;
    if ((m->has_y_range && !(m->y_hi > m->y_lo)) || (m->collab.has_y_range && !(m->collab.y_hi > m->collab.y_lo))) {
        setup_where(s, "model", m->has_y_range ? "y_range" : "arch", m->has_y_range ? 0 : arch->line, w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: y_range: expected (lo, hi) with lo < hi", w);
    }
    /* the loss: [learner] loss_func, else the target's (fastai's defaults); the
     * config module checked that an explicit one fits the targets */
    const CfgValue *lf = cfg_get(s->cfg, "learner", "loss_func");
    SetupLoss loss = {.kind = s->kind == TARGET_CATEGORY ? LOSS_CROSS_ENTROPY
                              : s->kind == TARGET_MULTI  ? LOSS_BCE_LOGITS
                                                         : LOSS_MSE,
                      .eps = 0, .thresh = 0.5};
    if (lf) {
        setup_where(s, "learner", "loss_func", lf->line, w, sizeof w);
        if (setup_build(SLOT_LOSS, &loss, lf, w, err)) return err->code;
        cfg_value_format(lf, s->store->loss, sizeof s->store->loss);
        s->loss_text = s->store->loss;
    }
    s->loss = loss.kind, s->loss_eps = loss.eps;
    s->threshold = loss.thresh;   /* setup_learn() lets accuracy_multi's thresh win */
    return s->is_collab ? collab_model(s, err) : image_model(s, err);
}

/* ---- the registry rows of these constructors (registry.h) ---- */

const SetupComp setup_model_comps[] = {
    /* architectures (tag: the CollabArch) */
    {"resnet18", SLOT_ARCH, build_resnet, 0},
    {"resnet34", SLOT_ARCH, build_resnet, 0},
    {"resnet50", SLOT_ARCH, build_resnet, 0},
    {"resnet101", SLOT_ARCH, build_resnet, 0},
    {"resnet152", SLOT_ARCH, build_resnet, 0},
    {"DotProduct", SLOT_ARCH, build_dot_product, COLLAB_DOT},
    {"DotProductBias", SLOT_ARCH, build_dot_product, COLLAB_DOT_BIAS},
    {"EmbeddingNN", SLOT_ARCH, build_embedding_nn, COLLAB_NN},
    /* losses (tag: the LossKind) */
    {"CrossEntropyLossFlat", SLOT_LOSS, build_loss, LOSS_CROSS_ENTROPY},
    {"LabelSmoothingCrossEntropy", SLOT_LOSS, build_loss, LOSS_LABEL_SMOOTHING},
    {"LabelSmoothingCrossEntropyFlat", SLOT_LOSS, build_loss, LOSS_LABEL_SMOOTHING},
    {"BCEWithLogitsLossFlat", SLOT_LOSS, build_loss, LOSS_BCE_LOGITS},
    {"MSELossFlat", SLOT_LOSS, build_loss, LOSS_MSE},
    {"L1LossFlat", SLOT_LOSS, build_loss, LOSS_L1},
};
const int setup_n_model_comps = (int)(sizeof setup_model_comps / sizeof setup_model_comps[0]);
