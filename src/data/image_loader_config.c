/* image_loader_config.c — the image loaders' options from the [data],
 * [model] and [learner] sections (kept apart from image_loader.c so the loader
 * itself does not depend on the config module). */
#include "config/config.h"
#include "data/image_loader.h"

#include <string.h>

int image_loader_opts_from_cfg(ImageLoaderOpts *o, const Config *cfg, const Ctx *ctx, Err *err)
{
    memset(o, 0, sizeof *o);
    o->bs = cfg_int(cfg, "data", "bs");
    const CfgValue *vb = cfg_get(cfg, "data", "val_bs");
    o->val_bs = vb && vb->kind == CV_NUM ? (int)vb->num : 0;
    int nw = cfg_int(cfg, "data", "num_workers");
    o->n_workers = nw > 0 ? nw : (ctx && ctx->threads > 0 ? ctx->threads : 1);
    double mb = cfg_num(cfg, "data", "cache_mb");
    o->cache_bytes = mb > 0 ? (size_t)(mb * 1024 * 1024) : 0;
    const char *bad = cfg_str(cfg, "data", "on_bad_item");
    o->skip_bad = bad && !strcmp(bad, "skip");
    o->channels = cfg_int(cfg, "model", "n_in");
    o->seed = ctx ? ctx->seed : (uint64_t)cfg_num(cfg, "learner", "seed");
    if (item_tfms_from_cfg(&o->item, cfg_get(cfg, "data", "item_tfms"), err))
        return err_prefix(err, "%s: ", config_file(cfg));
    if (batch_tfm_from_cfg(&o->batch, cfg_get(cfg, "data", "batch_tfms"), err))
        return err_prefix(err, "%s: ", config_file(cfg));
    return 0;
}

int image_loaders_new(Loaders **out, const Config *cfg, const Dataset *ds, const Ctx *ctx, Err *err)
{
    ImageLoaderOpts o;
    if (image_loader_opts_from_cfg(&o, cfg, ctx, err)) return err->code;
    return image_loaders_new_opts(out, &o, ds, err);
}
