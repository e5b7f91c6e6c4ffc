/* ratings_config.c — the collab [data] section of a config → RatingsSpec →
 * data and loaders (see ratings.h).  Kept apart from ratings.c so the reader
 * and loaders do not depend on the config module. */
#include "data/ratings.h"

#include "config/config.h"

#include <string.h>

int ratings_from_config(RatingsData **out, const Config *cfg, const Ctx *ctx, Err *err)
{
    *out = NULL;
    char path[CFG_PATH_MAX], names_path[CFG_PATH_MAX];
    if (!cfg_path(cfg, "data", "csv", path, sizeof path))
        return err_set(err, ERR_USAGE, "%s: [data] csv: required for a CollabBlock (the ratings file)",
                       config_file(cfg));
    RatingsSpec s = {0};
    s.path = path;
    const char *sep = cfg_str(cfg, "data", "csv_sep");
    s.sep = sep && *sep ? sep[0] : ',';
    if (sep && strlen(sep) > 1)
        return err_set(err, ERR_USAGE, "%s: [data] csv_sep: '%s': expected one character",
                       config_file(cfg), sep);
    const CfgValue *names = cfg_get(cfg, "data", "csv_names");
    const char *nm[64];
    if (names && names->kind != CV_NONE) {
        s.n_names = cfg_list_len(names);
        if (s.n_names > 64) s.n_names = 64;
        for (int i = 0; i < s.n_names; i++) nm[i] = cfg_list_at(names, i)->str;
        s.names = nm;
    }
    const CfgValue *blocks = cfg_get(cfg, "data", "blocks");
    const CfgValue *cb = NULL;
    for (int i = 0; blocks && i < cfg_list_len(blocks); i++) {
        const CfgValue *b = cfg_list_at(blocks, i);
        if (b->kind == CV_CALL && strcmp(b->str, "CollabBlock") == 0) cb = b;
        else if (b->kind == CV_IDENT && strcmp(b->str, "CollabBlock") == 0) cb = NULL;
    }
    if (cb) {
        const CfgValue *v;
        if ((v = cfg_arg(cb, "user")) && v->kind != CV_NONE) s.user_col = v->str;
        if ((v = cfg_arg(cb, "item")) && v->kind != CV_NONE) s.item_col = v->str;
        if ((v = cfg_arg(cb, "rating")) && v->kind != CV_NONE) s.rating_col = v->str;
    }
    s.item_names_path = cfg_path(cfg, "data", "item_names", names_path, sizeof names_path);
    s.valid_pct = 0.2;
    s.split_seed = ctx->seed;
    const CfgValue *sp = cfg_get(cfg, "data", "splitter");
    if (sp && sp->kind == CV_CALL) {
        if (strcmp(sp->str, "RandomSplitter") != 0)
            return err_set(err, ERR_USAGE, "%s:%d: [data] splitter: %s: a CollabBlock takes RandomSplitter(valid_pct, seed)",
                           config_file(cfg), sp->line, sp->str);
        const CfgValue *v;
        if ((v = cfg_arg(sp, "valid_pct")) && v->kind == CV_NUM) s.valid_pct = v->num;
        if ((v = cfg_arg(sp, "seed")) && v->kind == CV_NUM) s.split_seed = (uint64_t)v->num;
    }
    return ratings_load(out, &s, err);
}

int ratings_loaders_new(Loaders **out, const Config *cfg, const Ctx *ctx, RatingsData **data_out,
                        Err *err)
{
    *out = NULL;
    if (data_out) *data_out = NULL;
    RatingsData *d;
    int rc = ratings_from_config(&d, cfg, ctx, err);
    if (rc) return rc;
    rc = ratings_loaders_from_data(out, d, cfg_int(cfg, "data", "bs"), ctx->seed, err);
    if (rc) return rc;
    const CfgValue *vb = cfg_get(cfg, "data", "val_bs");
    if (vb && vb->kind == CV_NUM && (rc = ratings_loaders_set_val_bs(*out, (int)vb->num, err))) {
        loaders_free(*out);
        *out = NULL;
        return rc;
    }
    if (data_out) *data_out = d;
    return 0;
}
