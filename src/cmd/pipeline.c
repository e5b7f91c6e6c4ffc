/* pipeline.c — config → dataset → loaders → model → learner options; see pipeline.h. */
#include "cmd/pipeline.h"

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

static int build_images(Pipeline *p, PipeStop stop, Err *err)
{
    const Setup *su = &p->setup;
    if (datablock_build_spec(&su->db, &p->ds, err)) return err->code;
    ImageLoaderOpts o = su->loader;
    p->pretrained = su->model.pretrained || su->model.pretrained_torchvision;
    p->norm_added = su->norm_added;
    memcpy(p->norm_mean, su->norm_mean, sizeof p->norm_mean);
    memcpy(p->norm_std, su->norm_std, sizeof p->norm_std);
    if (image_loaders_new_opts(&p->dls, &o, &p->ds, err)) return err->code;
    ImageLoaderStats st;
    image_loaders_stats(p->dls, &st);
    p->in_h = st.h, p->in_w = st.w, p->in_c = st.c;
    p->loss = su->loss, p->loss_eps = su->loss_eps;
    if (stop == PIPE_DATA) return 0;

    const SetupModel *sm = &su->model;
    ResnetSpec spec = resnet_spec_default(sm->arch, p->dls->n_out, p->dls->max_batch, p->in_h, p->in_w);
    spec.n_in = sm->n_in;
    spec.ps = sm->ps;
    spec.has_y_range = sm->has_y_range, spec.y_lo = (float)sm->y_lo, spec.y_hi = (float)sm->y_hi;
    p->torchvision_head = spec.plain_fc = sm->torchvision_head;
    spec.seed = p->ctx.seed;
    spec.threads = p->ctx.threads;
    if (resnet_new(&p->model, &spec, err)) return err->code;
    if (p->pretrained) {
        /* True: torchvision's ImageNet file in its cache, as fastai's pretrained=True
         * has torchvision fetch it; else a .safetensors or PyTorch .pth file */
        char path[4096];
        StFile *f = NULL;
        if (sm->pretrained_torchvision) {
            if (pth_torchvision_cached(sm->arch, path, sizeof path, err)) return err_prefix(err, "[model] ");
        } else {
            snprintf(path, sizeof path, "%s", sm->pretrained);
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
    const Setup *su = &p->setup;
    if (ratings_loaders_new(&p->dls, &su->ratings, su->loader.bs, su->loader.val_bs, p->ctx.seed, &p->ratings, err))
        return err->code;
    p->loss = su->loss, p->loss_eps = su->loss_eps;
    if (stop == PIPE_DATA) return 0;
    CollabSpec cs = su->model.collab;
    cs.n_users = p->ratings->n_users, cs.n_items = p->ratings->n_items, cs.seed = p->ctx.seed;
    cs.max_bs = p->dls->max_batch;
    return collab_model_new(&p->model, &cs, err);
}

int pipeline_open(Pipeline *p, const CmdArgs *a, PipeStop stop, Err *err)
{
    memset(p, 0, sizeof *p);
    if (!a->config_path) return err_set(err, ERR_USAGE, "%s: expected a CONFIG file", a->command);
    if (setup_load(&p->setup, a->config_path, a->sets, a->n_sets, &a->ctx, err)) return err->code;
    p->ctx = p->setup.ctx;
    ctx_apply_threads(&p->ctx);
    snprintf(p->out_dir, sizeof p->out_dir, "%s", p->setup.out_dir);
    if (stop == PIPE_CONFIG) return 0;
    p->is_collab = p->setup.is_collab;
    return p->is_collab ? build_collab(p, stop, err) : build_images(p, stop, err);
}

void pipeline_close(Pipeline *p)
{
    if (!p) return;
    model_free(p->model);
    loaders_free(p->dls);
    dataset_free(&p->ds);
    setup_free(&p->setup);
    p->model = NULL, p->dls = NULL, p->ratings = NULL;
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

int pipeline_save_model(Pipeline *p, const Model *m, const char *path, double threshold, Err *err)
{
    StMeta meta;
    st_meta_init(&meta);
    const Setup *su = &p->setup;
    int bad = st_meta_set(&meta, "task", su->task);
    if (!p->is_collab) {
        double size[2] = {p->in_h, p->in_w};
        bad |= st_meta_set_numbers(&meta, "size", size, 2);
        if (p->ds.n_vocab) bad |= st_meta_set_strings(&meta, "vocab", (const char *const *)p->ds.vocab, p->ds.n_vocab);
        if (su->item_tfms_text) bad |= st_meta_set(&meta, "item_tfms", su->item_tfms_text);
        if (su->batch_tfms_text) bad |= st_meta_set(&meta, "batch_tfms", su->batch_tfms_text);
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
    if (su->model.has_y_range) {
        double v[2] = {su->model.y_lo, su->model.y_hi};
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
    *o = p->setup.learn;
    if (p->setup.wd_bn_bias)
        for (int i = 0; i < p->model->n_params; i++) p->model->params[i].no_wd = 0;
    TargetKind kind = p->is_collab ? TARGET_RATING : p->ds.kind;
    if (metrics_check(&o->metrics, kind, p->setup.file, err)) return err->code;
    o->loss = pipeline_loss, o->loss_ctx = p;
    static CkptCtx ck;   /* one pipeline per process */
    ck.p = p;
    ck.threshold = p->setup.threshold;
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
    const Schedule *from = &p->setup.schedule;
    memset(s, 0, sizeof *s);
    if (!(s->stages = malloc(sizeof *s->stages * (size_t)(from->n + 1))))
        return err_set(err, ERR_RUNTIME, "schedule: out of memory");
    memcpy(s->stages, from->stages, sizeof *s->stages * (size_t)from->n);
    s->n = from->n;
    return 0;
}
