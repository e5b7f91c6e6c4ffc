/* interpret.c — `fastc interpret` (image tasks land with issue 6; see cmd.h).
 *
 * Collaborative filtering ([data] blocks = CollabBlock(...)): rebuild the data
 * from the config, load the trained model (--checkpoint FILE, else
 * <output dir>/model.safetensors) and run collab_interpret: item_bias.csv,
 * lowest/highest item biases, pca.csv/pca.png, or --similar ITEM. */
#include "cmd/cmd.h"

#include "config/config.h"
#include "data/ratings.h"
#include "interp/collab_interp.h"
#include "io/safetensors.h"
#include "models/collab.h"

#include <stdio.h>
#include <string.h>

static int config_is_collab(const Config *cfg)
{
    const CfgValue *b = cfg_get(cfg, "data", "blocks");
    for (int i = 0; b && i < cfg_list_len(b); i++) {
        const CfgValue *v = cfg_list_at(b, i);
        if ((v->kind == CV_CALL || v->kind == CV_IDENT) && v->str && !strcmp(v->str, "CollabBlock")) return 1;
    }
    return 0;
}

static int interpret_collab(const CmdArgs *a, const Config *cfg, Err *err)
{
    char dir[4096], path[4200];
    if (!cfg_path(cfg, "output", "dir", dir, sizeof dir)) snprintf(dir, sizeof dir, "runs/%s", config_stem(cfg));
    if (a->checkpoint) snprintf(path, sizeof path, "%s", a->checkpoint);
    else snprintf(path, sizeof path, "%s/model.safetensors", dir);
    RatingsData *d = NULL;
    Model *m = NULL;
    int rc = ratings_from_config(&d, cfg, &a->ctx, err);
    if (!rc) rc = collab_model_from_config(&m, cfg, &a->ctx, d->n_users, d->n_items, 1024, err);
    if (!rc) rc = st_load_model_file(m, path, ST_LOAD_FULL, NULL, 0, err);
    if (!rc) {
        CollabInterpOpts o = {.out_dir = dir, .similar = a->similar, .out = stdout};
        rc = collab_interpret(m, d, &o, err);
    }
    model_free(m);
    ratings_free(d);
    return rc;
}

int cmd_interpret(const CmdArgs *a, Err *err)
{
    if (!a->config_path) return err_set(err, ERR_USAGE, "interpret: expected a CONFIG file");
    Config *cfg = config_load(a->config_path, a->sets, a->n_sets, err);
    if (!cfg) return err->code;
    int rc = config_is_collab(cfg)
                 ? interpret_collab(a, cfg, err)
                 : err_set(err, ERR_RUNTIME, "fastc interpret: not available yet for image tasks (lands with issue 6)");
    config_free(cfg);
    return rc;
}
