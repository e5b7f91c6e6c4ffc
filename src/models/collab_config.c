/* collab_config.c — [model] arch = DotProduct(...) | DotProductBias(...) |
 * EmbeddingNN(...) from a config → CollabSpec → model (see collab.h). */
#include "models/collab.h"

#include "config/config.h"

#include <math.h>
#include <string.h>

static int parse_y_range(const CfgValue *v, CollabSpec *s, const char *file, Err *err)
{
    if (!v || v->kind == CV_NONE) return 0;
    if ((v->kind != CV_TUPLE && v->kind != CV_LIST) || v->n != 2 || v->items[0]->kind != CV_NUM ||
        v->items[1]->kind != CV_NUM)
        return err_set(err, ERR_USAGE, "%s:%d: [model] arch: y_range: expected a pair (lo, hi), e.g. (0, 5.5)",
                       file, v->line);
    s->has_y_range = 1;
    s->y_lo = (float)v->items[0]->num, s->y_hi = (float)v->items[1]->num;
    return 0;
}

int collab_model_from_config(Model **out, const Config *cfg, const Ctx *ctx, int n_users,
                             int n_items, int max_bs, Err *err)
{
    *out = NULL;
    const CfgValue *a = cfg_get(cfg, "model", "arch");
    const char *file = config_file(cfg);
    CollabSpec s = {0};
    s.n_users = n_users, s.n_items = n_items, s.max_bs = max_bs, s.seed = ctx->seed;
    const char *name = a && (a->kind == CV_CALL || a->kind == CV_IDENT) ? a->str : "";
    if (strcmp(name, "DotProduct") == 0) s.arch = COLLAB_DOT;
    else if (strcmp(name, "DotProductBias") == 0) s.arch = COLLAB_DOT_BIAS;
    else if (strcmp(name, "EmbeddingNN") == 0) s.arch = COLLAB_NN;
    else
        return err_set(err, ERR_USAGE, "%s:%d: [model] arch: %s: expected DotProduct, DotProductBias or "
                       "EmbeddingNN for a CollabBlock", file, a ? a->line : 0, name);
    s.n_factors = 50;
    if (a->kind == CV_CALL) {
        const CfgValue *v;
        /* EmbeddingNN has no n_factors argument (fastai's collab_learner keeps
         * it for layers' default [n_factors] = [50]) */
        if (s.arch != COLLAB_NN && (v = cfg_arg(a, "n_factors")) && v->kind == CV_NUM)
            s.n_factors = (int)v->num;
        int rc = parse_y_range(cfg_arg(a, "y_range"), &s, file, err);
        if (rc) return rc;
        if (s.arch == COLLAB_NN) {
            s.n_layers = 1, s.layers[0] = s.n_factors;   /* fastai: layers default [n_factors] */
            if ((v = cfg_arg(a, "layers")) && v->kind != CV_NONE) {
                int n = cfg_list_len(v);
                if (n > COLLAB_MAX_LAYERS)
                    return err_set(err, ERR_USAGE, "%s:%d: [model] arch: EmbeddingNN layers: %d sizes, at most %d",
                                   file, v->line, n, COLLAB_MAX_LAYERS);
                s.n_layers = n;
                for (int k = 0; k < n; k++) {
                    const CfgValue *x = cfg_list_at(v, k);
                    if (x->kind != CV_NUM || x->num < 1 || x->num != floor(x->num))
                        return err_set(err, ERR_USAGE, "%s:%d: [model] arch: EmbeddingNN layers: expected "
                                       "positive integers, e.g. [100, 50]", file, v->line);
                    s.layers[k] = (int)x->num;
                }
            }
            if ((v = cfg_arg(a, "emb_szs")) && v->kind != CV_NONE) {
                /* ((n_users, du), (n_items, di)) as fastai, or (du, di) */
                if (cfg_list_len(v) != 2)
                    return err_set(err, ERR_USAGE, "%s:%d: [model] arch: EmbeddingNN emb_szs: expected two "
                                   "sizes (user, item)", file, v->line);
                int sz[2];
                for (int k = 0; k < 2; k++) {
                    const CfgValue *x = cfg_list_at(v, k);
                    if (x->kind == CV_TUPLE && x->n == 2 && x->items[1]->kind == CV_NUM) x = x->items[1];
                    if (x->kind != CV_NUM || x->num < 1)
                        return err_set(err, ERR_USAGE, "%s:%d: [model] arch: EmbeddingNN emb_szs: expected "
                                       "positive sizes", file, v->line);
                    sz[k] = (int)x->num;
                }
                s.emb_user = sz[0], s.emb_item = sz[1];
            }
        }
    } else if (s.arch == COLLAB_NN) {
        s.n_layers = 1, s.layers[0] = s.n_factors;
    }
    return collab_model_new(out, &s, err);
}
