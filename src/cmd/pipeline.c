/* pipeline.c — config → dataset → loaders → model → learner options; see pipeline.h. */
#include "cmd/pipeline.h"

#include "data/image_loader.h"
#include "data/ratings.h"
#include "interp/collab_interp.h"
#include "interp/modelfile.h"
#include "io/atomic.h"
#include "io/json.h"
#include "io/lock.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "models/collab.h"
#include "models/resnet.h"
#include "models/weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    spec.bf16 = sm->bf16;
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
        if (!rc) rc = weights_load(p->model, f, WEIGHTS_PRETRAINED, p->note, sizeof p->note, err);
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

static int open_config(Pipeline *p, const CmdArgs *a, Err *err)
{
    memset(p, 0, sizeof *p);
    p->max_batches = a->max_batches, p->pause_after = a->pause_after;
    if (!a->config_path) return err_set(err, ERR_USAGE, "%s: expected a CONFIG file", a->command);
    if (setup_load(&p->setup, a->config_path, a->sets, a->n_sets, &a->ctx, err)) return err->code;
    p->ctx = p->setup.ctx;
    ctx_apply_threads(&p->ctx);
    snprintf(p->out_dir, sizeof p->out_dir, "%s", p->setup.out_dir);
    return 0;
}

static int build(Pipeline *p, PipeStop stop, Err *err)
{
    if (stop == PIPE_CONFIG) return 0;
    p->is_collab = p->setup.is_collab;
    return p->is_collab ? build_collab(p, stop, err) : build_images(p, stop, err);
}

int pipeline_open(Pipeline *p, const CmdArgs *a, PipeStop stop, Err *err)
{
    int rc = open_config(p, a, err);
    return rc ? rc : build(p, stop, err);
}

int pipeline_open_out(Pipeline *p, const CmdArgs *a, Err *err)
{
    int rc = open_config(p, a, err);
    if (rc || (rc = dist_open(&p->dist, err))) return rc;
    const int writer = p->dist.rank == 0;   /* data-parallel: rank 0 holds the folder for the job */
    if (!writer) p->ctx.quiet = 1;
    struct stat st;
    if (writer && stat(p->out_dir, &st) == 0 && S_ISDIR(st.st_mode) && (rc = run_lock(&p->out_lock, p->out_dir, err)))
        return rc;
    if ((rc = build(p, PIPE_MODEL, err))) return rc;
    if (p->dist.size > 1) loaders_set_shard(p->dls, p->dist.rank, p->dist.size);
    return 0;
}

void pipeline_close(Pipeline *p)
{
    if (!p) return;
    model_free(p->model);
    loaders_free(p->dls);
    dataset_free(&p->ds);
    setup_free(&p->setup);
    run_unlock(&p->out_lock);
    dist_close(&p->dist, 0);   /* a no-op once the command closed it; else an error path: no MPI call */
    p->model = NULL, p->dls = NULL, p->ratings = NULL;
}

int pipeline_mkdir_out(Pipeline *p, Err *err)
{
    if (atomic_mkdirs(p->out_dir, err)) return err->code;
    /* data-parallel: rank 0 holds the folder for the job */
    return p->out_lock.held || p->dist.rank > 0 ? 0 : run_lock(&p->out_lock, p->out_dir, err);
}

float pipeline_loss(void *ctx, float *dout, float *per_item, const float *out, int c, const Batch *b)
{
    const Pipeline *p = ctx;
    return loss_compute(p->loss, p->loss_eps, dout, per_item, out, b->yi, b->y, b->n, c);
}

/* ---- checkpoints ---------------------------------------------------------------- */

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
    int rc = bad ? err_set(err, ERR_RUNTIME, "%s: out of memory", path) : weights_save(m, &meta, path, err);
    st_meta_free(&meta);
    return rc;
}

/* LearnCkpt.save (SaveModelCallback): ctx is the Pipeline */
static int ckpt_save(void *ctx, const Model *m, const char *path, Err *err)
{
    Pipeline *p = ctx;
    return pipeline_save_model(p, m, path, p->setup.threshold, err);
}

static int ckpt_load(void *ctx, Model *m, const char *path, Err *err)
{
    (void)ctx;
    return weights_load_file(m, path, WEIGHTS_FULL, NULL, 0, err);
}

/* ---- learner options ------------------------------------------------------------- */

/* With no validation item (valid_pct=0, a FuncSplitter that matches nothing:
 * a final model trained on all the data) a callback that monitors a
 * validation value has nothing to watch: refused before anything trains. */
static int cbs_without_valid(const Pipeline *p, const LearnerOpts *o, Err *err)
{
    const Tracker *t = o->save.on && strcmp(o->save.monitor, "train_loss") ? &o->save
                     : o->early.on && strcmp(o->early.monitor, "train_loss") ? &o->early
                                                                              : NULL;
    if (!t || loaders_n_items(p->dls, SPLIT_VALID) > 0) return 0;
    char at_cbs[1024], at_split[1024], *cut;
    setup_where(&p->setup, "learner", "cbs", 0, at_cbs, sizeof at_cbs);
    setup_where(&p->setup, "data", "splitter", 0, at_split, sizeof at_split);
    if ((cut = strstr(at_split, ": [data] splitter"))) *cut = 0;   /* the file:line or --set argument alone */
    return err_set(err, ERR_USAGE, "%s: %s(monitor='%s') watches the validation set, but [data] splitter = %s (%s) "
                   "puts no item in it; monitor 'train_loss', or train without the callback", at_cbs,
                   t == &o->save ? "SaveModelCallback" : "EarlyStoppingCallback", t->monitor, p->setup.splitter_text,
                   at_split);
}

int pipeline_learner_opts(Pipeline *p, LearnerOpts *o, Err *err)
{
    *o = p->setup.learn;
    if (p->setup.wd_bn_bias)
        for (int i = 0; i < p->model->n_params; i++) p->model->params[i].no_wd = 0;
    TargetKind kind = p->is_collab ? TARGET_RATING : p->ds.kind;
    if (metrics_check(&o->metrics, kind, p->setup.file, err) || cbs_without_valid(p, o, err)) return err->code;
    o->loss = pipeline_loss, o->loss_ctx = p;
    o->ckpt = (LearnCkpt){ckpt_save, ckpt_load, p};
    o->out_dir = p->out_dir;
    o->dist = &p->dist;
    o->seed = p->ctx.seed;
    o->threads = p->ctx.threads;
    o->quiet = p->ctx.quiet, o->json = p->ctx.json;
    o->is_tty = isatty(STDERR_FILENO);
    o->out = stdout, o->progress = stderr;
    o->max_batches = p->max_batches, o->pause_after = p->pause_after;   /* hidden test flags (cmd.h) */
    return 0;
}

/* ---- what a run's numbers depend on ------------------------------------------------ */

/* Keys that cannot change a run's numbers or files: the loader's threads and
 * cache, and where the outputs go. */
static const char *const NOT_IDENTITY[] = {"[data] num_workers", "[data] cache_mb", "[output] dir", NULL};
/* Paths: where the data is can change (a moved folder) without changing the
 * run; whether they are set cannot. */
static const char *const PATH_KEYS[] = {"[data] path", "[data] csv", "[data] item_names", "[model] pretrained", NULL};

static int in_list(const char *const *list, const char *name)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], name)) return 1;
    return 0;
}

char *pipeline_run_config(const Pipeline *p)
{
    char *printed = NULL, *text = NULL;
    size_t n_printed = 0, n_text = 0;
    FILE *f = open_memstream(&printed, &n_printed);
    if (!f) return NULL;
    int bad = config_print(p->setup.cfg, f) != 0;
    bad |= fclose(f) != 0;
    FILE *o = bad ? NULL : open_memstream(&text, &n_text);
    if (!o) {
        free(printed);
        return NULL;
    }
    /* config_print: "[section]" lines, then "key = value" or "; key = (not set)" */
    char section[64] = "", name[160];
    for (char *line = printed, *end; line && *line; line = end ? end + 1 : NULL) {
        if ((end = strchr(line, '\n'))) *end = 0;
        if (line[0] == '[') {
            snprintf(section, sizeof section, "%s", line);
            continue;
        }
        const char *kv = !strncmp(line, "; ", 2) && strstr(line, " = (not set)") ? line + 2 : line;
        const char *eq = strstr(kv, " = ");
        if (!eq || kv[0] == ';' || !section[0]) continue;
        snprintf(name, sizeof name, "%s %.*s", section, (int)(eq - kv), kv);
        if (in_list(NOT_IDENTITY, name)) continue;
        int set = kv == line;
        if (in_list(PATH_KEYS, name)) fprintf(o, "%s = %s\n", name, set ? "(set)" : "(not set)");
        else fprintf(o, "%s = %s\n", name, eq + 3);
    }
    free(printed);
    if (fclose(o) != 0) {
        free(text);
        return NULL;
    }
    return text;
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
