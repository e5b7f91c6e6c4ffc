/* pipeline.c — config → dataset → loaders → model → learner options; see pipeline.h. */
#include "cmd/pipeline.h"

#include "config/config.h"
#include "data/augment.h"
#include "data/image_loader.h"
#include "data/ratings.h"
#include "interp/collab_interp.h"
#include "interp/modelfile.h"
#include "io/atomic.h"
#include "io/json.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "models/collab.h"
#include "models/resnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int blocks_have(const Config *cfg, const char *name)
{
    const CfgValue *v = cfg_get(cfg, "data", "blocks");
    for (int i = 0; v && i < cfg_list_len(v); i++) {
        const CfgValue *b = cfg_list_at(v, i);
        if (b->str && strcmp(b->str, name) == 0) return 1;
    }
    return 0;
}

static int pick_loss(Pipeline *p, TargetKind kind, Err *err)
{
    const CfgValue *v = cfg_get(p->cfg, "learner", "loss_func");
    if (!v || v->kind == CV_NONE) {
        p->loss = kind == TARGET_CATEGORY ? LOSS_CROSS_ENTROPY : kind == TARGET_MULTI ? LOSS_BCE_LOGITS : LOSS_MSE;
        return 0;
    }
    const char *n = v->str ? v->str : "";
    int ok;
    if (!strcmp(n, "CrossEntropyLossFlat")) p->loss = LOSS_CROSS_ENTROPY, ok = kind == TARGET_CATEGORY;
    else if (!strcmp(n, "LabelSmoothingCrossEntropy") || !strcmp(n, "LabelSmoothingCrossEntropyFlat")) {
        p->loss = LOSS_LABEL_SMOOTHING, ok = kind == TARGET_CATEGORY;
        p->loss_eps = v->kind == CV_CALL && cfg_arg(v, "eps") ? cfg_arg_num(v, "eps") : 0.1;
    }
    else if (!strcmp(n, "BCEWithLogitsLossFlat")) p->loss = LOSS_BCE_LOGITS, ok = kind == TARGET_MULTI;
    else if (!strcmp(n, "MSELossFlat")) p->loss = LOSS_MSE, ok = kind == TARGET_POINTS || kind == TARGET_RATING;
    else if (!strcmp(n, "L1LossFlat")) p->loss = LOSS_L1, ok = kind == TARGET_POINTS || kind == TARGET_RATING;
    else return err_set(err, ERR_USAGE, "%s:%d: [learner] loss_func: unknown '%s'", config_file(p->cfg), v->line, n);
    if (!ok)
        return err_set(err, ERR_USAGE, "%s:%d: [learner] loss_func: %s does not fit the targets of [data] blocks",
                       config_file(p->cfg), v->line, n);
    return 0;
}

int pipeline_threshold(const Config *cfg, double *thresh, Err *err)
{
    const CfgValue *v = cfg_get(cfg, "learner", "loss_func");
    double loss_thresh = 0.5;
    if (v && v->kind == CV_CALL && v->str && !strcmp(v->str, "BCEWithLogitsLossFlat") && cfg_arg(v, "thresh"))
        loss_thresh = cfg_arg_num(v, "thresh");
    Metrics ms = {0};
    if (metrics_parse(cfg_get(cfg, "learner", "metrics"), config_file(cfg), &ms, err)) return err->code;
    *thresh = metrics_multi_thresh(&ms, loss_thresh);
    return 0;
}

static int build_images(Pipeline *p, PipeStop stop, Err *err)
{
    Config *cfg = p->cfg;
    if (datablock_build(cfg, &p->ds, err)) return err->code;
    ImageLoaderOpts o;
    if (image_loader_opts_from_cfg(&o, cfg, &p->ctx, err)) return err->code;
    /* pretrained = False is fastai's pretrained=False; True, or a file, loads weights */
    const CfgValue *pv = cfg_get(cfg, "model", "pretrained");
    p->pretrained = pv && !(pv->kind == CV_BOOL && pv->num == 0);
    if (p->pretrained && !o.batch.normalize) {
        /* vision_learner(normalize=True, pretrained=True): Normalize.from_stats(*imagenet_stats) */
        aug_stats("imagenet_stats", p->norm_mean, p->norm_std);
        o.batch.normalize = 1;
        memcpy(o.batch.mean, p->norm_mean, sizeof p->norm_mean);
        memcpy(o.batch.std, p->norm_std, sizeof p->norm_std);
        if (o.channels == 1) o.batch.mean[0] = p->norm_mean[0], o.batch.std[0] = p->norm_std[0];
        p->norm_added = 1;
    }
    if (image_loaders_new_opts(&p->dls, &o, &p->ds, err)) return err->code;
    ImageLoaderStats st;
    image_loaders_stats(p->dls, &st);
    p->in_h = st.h, p->in_w = st.w, p->in_c = st.c;
    if (pick_loss(p, p->ds.kind, err)) return err->code;
    if (stop == PIPE_DATA) return 0;

    const CfgValue *arch = cfg_get(cfg, "model", "arch");
    const char *an = arch && arch->str ? arch->str : "";
    if (!resnet_arch_known(an)) {
        char archs[128];
        resnet_arch_list(archs, sizeof archs);
        return err_set(err, ERR_USAGE, "%s:%d: [model] arch: '%s' is not an image model (%s)", config_file(cfg),
                       arch ? arch->line : 0, an, archs);
    }
    ResnetSpec spec = resnet_spec_default(an, p->dls->n_out, p->dls->max_batch, p->in_h, p->in_w);
    spec.n_in = cfg_int(cfg, "model", "n_in");
    spec.ps = (float)cfg_num(cfg, "model", "ps");
    const CfgValue *yr = cfg_get(cfg, "model", "y_range");
    if (yr && yr->n == 2) spec.has_y_range = 1, spec.y_lo = (float)yr->items[0]->num, spec.y_hi = (float)yr->items[1]->num;
    /* head = 'torchvision': the network torchvision trains on ImageNet (avgpool + fc,
     * torchvision's parameter names), so that its saved file is a body another
     * config loads with `pretrained =` (the fc is skipped, a fastai head is new). */
    const char *head = cfg_str(cfg, "model", "head");
    p->torchvision_head = spec.plain_fc = head && !strcmp(head, "torchvision");
    if (spec.plain_fc && (spec.has_y_range || p->pretrained))
        return err_set(err, ERR_USAGE, "%s:%d: [model] head = 'torchvision' takes no %s (it is for training a body "
                       "from scratch; use the default fastai head)", config_file(cfg), cfg_get(cfg, "model", "head")->line,
                       spec.has_y_range ? "y_range" : "pretrained weights");
    spec.seed = p->ctx.seed;
    spec.threads = p->ctx.threads;
    if (resnet_new(&p->model, &spec, err)) return err->code;
    if (p->pretrained) {
        /* True: torchvision's ImageNet file in its cache, as fastai's pretrained=True
         * has torchvision fetch it; else a .safetensors or PyTorch .pth file */
        char path[4096];
        StFile *f = NULL;
        if (pv->kind == CV_BOOL) {
            if (pth_torchvision_cached(an, path, sizeof path, err)) return err_prefix(err, "[model] ");
        } else {
            cfg_path(cfg, "model", "pretrained", path, sizeof path);
        }
        int rc = pth_open_weights(path, &f, err);
        if (!rc) rc = st_load_model(p->model, f, ST_LOAD_PRETRAINED, p->note, sizeof p->note, err);
        st_close(f);
        if (rc) return err_prefix(err, "[model] pretrained: ");
    }
    return 0;
}

static int build_collab(Pipeline *p, PipeStop stop, Err *err)
{
    if (ratings_loaders_new(&p->dls, p->cfg, &p->ctx, &p->ratings, err)) return err->code;
    if (pick_loss(p, TARGET_RATING, err)) return err->code;
    if (stop == PIPE_DATA) return 0;
    return collab_model_from_config(&p->model, p->cfg, &p->ctx, p->ratings->n_users, p->ratings->n_items,
                                    p->dls->max_batch, err);
}

int pipeline_open(Pipeline *p, const CmdArgs *a, PipeStop stop, Err *err)
{
    memset(p, 0, sizeof *p);
    p->ctx = a->ctx;
    if (!a->config_path) return err_set(err, ERR_USAGE, "%s: expected a CONFIG file", a->command);
    p->cfg = config_load(a->config_path, a->sets, a->n_sets, err);
    if (!p->cfg) return err->code;
    p->ctx.seed = (uint64_t)cfg_num(p->cfg, "learner", "seed");
    if (p->ctx.threads < 1) p->ctx.threads = 1;
    ctx_apply_threads(&p->ctx);
    if (cfg_get(p->cfg, "output", "dir")) cfg_path(p->cfg, "output", "dir", p->out_dir, sizeof p->out_dir);
    else snprintf(p->out_dir, sizeof p->out_dir, "runs/%s", config_stem(p->cfg));
    if (stop == PIPE_CONFIG) return 0;
    p->is_collab = blocks_have(p->cfg, "CollabBlock");
    return p->is_collab ? build_collab(p, stop, err) : build_images(p, stop, err);
}

void pipeline_close(Pipeline *p)
{
    if (!p) return;
    model_free(p->model);
    loaders_free(p->dls);
    dataset_free(&p->ds);
    config_free(p->cfg);
    p->model = NULL, p->dls = NULL, p->cfg = NULL, p->ratings = NULL;
}

int pipeline_mkdir_out(Pipeline *p, Err *err)
{
    return atomic_mkdirs(p->out_dir, err);
}

float pipeline_loss(void *ctx, float *dout, float *per_item, const float *out, int c, const Batch *b)
{
    const Pipeline *p = ctx;
    return loss_compute(p->loss, p->loss_eps, dout, per_item, out, b->yi, b->y, b->n, c);
}

/* ---- checkpoints ---------------------------------------------------------------- */

typedef struct CkptCtx {
    Pipeline *p;
    double threshold;
} CkptCtx;

static int meta_cfg_text(StMeta *m, const Config *cfg, const char *sec, const char *key, const char *meta_key)
{
    const CfgValue *v = cfg_get(cfg, sec, key);
    if (!v) return 0;
    char buf[4096];
    cfg_value_format(v, buf, sizeof buf);
    return st_meta_set(m, meta_key, buf);
}

int pipeline_save_model(Pipeline *p, const Model *m, const char *path, double threshold, Err *err)
{
    StMeta meta;
    st_meta_init(&meta);
    const char *task = modelfile_config_task(p->cfg);
    int bad = st_meta_set(&meta, "task", task);
    if (!p->is_collab) {
        double size[2] = {p->in_h, p->in_w};
        bad |= st_meta_set_numbers(&meta, "size", size, 2);
        if (p->ds.n_vocab) bad |= st_meta_set_strings(&meta, "vocab", (const char *const *)p->ds.vocab, p->ds.n_vocab);
        bad |= meta_cfg_text(&meta, p->cfg, "data", "item_tfms", "item_tfms");
        bad |= meta_cfg_text(&meta, p->cfg, "data", "batch_tfms", "batch_tfms");
        if (p->norm_added) {
            int n = p->in_c == 1 ? 1 : 3;
            double mu[3], sd[3];
            for (int c = 0; c < 3; c++) mu[c] = p->norm_mean[c], sd[c] = p->norm_std[c];
            bad |= st_meta_set_numbers(&meta, "norm_mean", mu, n) | st_meta_set_numbers(&meta, "norm_std", sd, n);
        }
        if (p->ds.kind == TARGET_MULTI) bad |= st_meta_set_double(&meta, "threshold", threshold);
        if (p->torchvision_head) bad |= st_meta_set(&meta, "head", "torchvision");
    } else if (collab_meta_add(&meta, m, p->ratings, err)) {
        /* user_ids, item_ids, item_titles and the arch's own y_range
         * (DotProductBias(..., y_range=(0, 5.5))), which predict needs */
        st_meta_free(&meta);
        return err->code;
    }
    const CfgValue *yr = cfg_get(p->cfg, "model", "y_range");
    if (yr && yr->n == 2) {
        double v[2] = {yr->items[0]->num, yr->items[1]->num};
        bad |= st_meta_set_numbers(&meta, "y_range", v, 2);
    }
    bad |= st_meta_set_int(&meta, "seed", (long long)p->ctx.seed);
    int rc = bad ? err_set(err, ERR_RUNTIME, "%s: out of memory", path) : st_save_model(m, &meta, path, err);
    st_meta_free(&meta);
    return rc;
}

static int ckpt_save(void *ctx, const Model *m, const char *path, Err *err)
{
    CkptCtx *c = ctx;
    return pipeline_save_model(c->p, m, path, c->threshold, err);
}

static int ckpt_load(void *ctx, Model *m, const char *path, Err *err)
{
    (void)ctx;
    return st_load_model_file(m, path, ST_LOAD_FULL, NULL, 0, err);
}

/* ---- learner options ------------------------------------------------------------- */

int pipeline_learner_opts(Pipeline *p, LearnerOpts *o, Err *err)
{
    Config *cfg = p->cfg;
    const char *file = config_file(cfg);
    learner_opts_default(o);
    const CfgValue *opt = cfg_get(cfg, "learner", "opt_func");
    const char *on = opt && opt->str ? opt->str : "Adam";
    if (!strcmp(on, "SGD")) {
        o->opt = OPT_SGD;
        o->hyper = optim_default_hyper(OPT_SGD);
        if (opt->kind == CV_CALL) o->hyper.mom = cfg_arg_num(opt, "mom"), o->hyper.wd = cfg_arg_num(opt, "wd");
    } else {
        o->opt = OPT_ADAM;
        o->hyper = optim_default_hyper(OPT_ADAM);
        if (opt && opt->kind == CV_CALL) {
            o->hyper.mom = cfg_arg_num(opt, "mom"), o->hyper.sqr_mom = cfg_arg_num(opt, "sqr_mom");
            o->hyper.eps = cfg_arg_num(opt, "eps"), o->hyper.wd = cfg_arg_num(opt, "wd");
        }
    }
    if (cfg_get(cfg, "learner", "wd")) o->hyper.wd = cfg_num(cfg, "learner", "wd");
    o->lr = cfg_num(cfg, "learner", "lr");
    o->train_bn = cfg_int(cfg, "learner", "train_bn") != 0;
    if (cfg_int(cfg, "learner", "wd_bn_bias"))
        for (int i = 0; i < p->model->n_params; i++) p->model->params[i].no_wd = 0;
    TargetKind kind = p->is_collab ? TARGET_RATING : p->ds.kind;
    if (metrics_parse(cfg_get(cfg, "learner", "metrics"), file, &o->metrics, err) ||
        metrics_check(&o->metrics, kind, file, err) || learner_parse_cbs(cfg_get(cfg, "learner", "cbs"), file, o, err))
        return err->code;
    o->loss = pipeline_loss, o->loss_ctx = p;
    static CkptCtx ck;   /* one pipeline per process */
    ck.p = p;
    if (pipeline_threshold(cfg, &ck.threshold, err)) return err->code;
    o->ckpt = (LearnCkpt){ckpt_save, ckpt_load, &ck};
    o->out_dir = p->out_dir;
    o->seed = p->ctx.seed;
    o->threads = p->ctx.threads;
    o->quiet = p->ctx.quiet, o->json = p->ctx.json;
    o->is_tty = isatty(STDERR_FILENO);
    o->out = stdout, o->progress = stderr;
    const char *mb = getenv("FASTC_MAX_BATCHES");   /* hidden knob for quick tests */
    if (mb && atoi(mb) > 0) o->max_batches = atoi(mb);
    const char *pa = getenv("FASTC_TEST_PAUSE_AFTER");   /* test hook: LearnerOpts.pause_after */
    if (pa && atoll(pa) > 0) o->pause_after = atoll(pa);
    return 0;
}

int pipeline_schedule(Pipeline *p, Schedule *s, Err *err)
{
    if (schedule_parse(cfg_get(p->cfg, "train", "schedule"), config_file(p->cfg), s, err)) return err->code;
    const CfgValue *moms = cfg_get(p->cfg, "learner", "moms");
    int has_wd = cfg_get(p->cfg, "learner", "wd") != NULL;
    double wd = has_wd ? cfg_num(p->cfg, "learner", "wd") : 0;
    for (int i = 0; i < s->n; i++) {
        Stage *st = &s->stages[i];
        if (!st->has_moms && moms && moms->n == 3)
            for (int k = 0; k < 3; k++) st->moms[k] = moms->items[k]->num;
        /* fastai fit(): wd=None → learn.wd, which when set is applied at every fit */
        if (!st->has_wd && has_wd) st->has_wd = 1, st->wd = wd;
    }
    int ng = p->model ? p->model->info.n_groups : 1;
    for (int i = 0; i < s->n; i++) {
        const Stage *st = &s->stages[i];
        if (st->lr.kind == LR_LIST && st->lr.n != ng)
            return err_set(err, ERR_USAGE, "%s: [train] schedule: a list of %d learning rates for a model with %d "
                                           "parameter groups", config_file(p->cfg), st->lr.n, ng);
    }
    return 0;
}
