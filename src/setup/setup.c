/* setup.c — setup_load(): a config, loaded and checked, into every spec
 * (see setup.h); the parts live in data.c, model.c and learn.c, the
 * constructors' table in registry.c. */
#include "setup/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void setup_where(const Setup *s, const char *section, const char *key, int line, char *buf, size_t cap)
{
    cfg_where(s->cfg, section, key, line, buf, cap);
}

int setup_build_list(const Setup *s, const char *section, const char *key, CfgSlot slot, void *out, size_t elem,
                     int max, int *n, Err *err)
{
    const CfgValue *v = cfg_get(s->cfg, section, key);
    char w[SETUP_WHERE];
    int k = cfg_list_len(v);
    *n = 0;
    if (k > max) {
        setup_where(s, section, key, 0, w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found %d, expected at most %d", w, k, max);
    }
    for (int i = 0; i < k; i++) {
        const CfgValue *c = cfg_list_at(v, i);
        setup_where(s, section, key, c->line, w, sizeof w);
        if (setup_build(slot, (char *)out + elem * (size_t)i, c, w, err)) return err->code;
    }
    *n = k;
    return 0;
}

/* A path key resolved into buf, or NULL when unset. */
static const char *path_of(const Setup *s, const char *section, const char *key, char *buf, size_t cap)
{
    return cfg_path(s->cfg, section, key, buf, cap);
}

int setup_load(Setup *s, const char *path, const char *const *sets, int n_sets, const Ctx *ctx, Err *err)
{
    memset(s, 0, sizeof *s);
    if (!(s->cfg = config_load(path, sets, n_sets, err))) return err->code;
    if (!(s->store = calloc(1, sizeof *s->store))) {
        setup_free(s);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    SetupStore *st = s->store;
    s->file = config_file(s->cfg);
    s->ctx = *ctx;
    s->ctx.seed = (uint64_t)cfg_num(s->cfg, "learner", "seed");
    if (s->ctx.threads < 1) s->ctx.threads = 1;
    if (cfg_get(s->cfg, "output", "dir")) cfg_path(s->cfg, "output", "dir", s->out_dir, sizeof s->out_dir);
    else snprintf(s->out_dir, sizeof s->out_dir, "runs/%s", config_stem(s->cfg));
    s->paths.data = path_of(s, "data", "path", st->data_path, sizeof st->data_path);
    s->paths.csv = path_of(s, "data", "csv", st->csv, sizeof st->csv);
    s->paths.item_names = path_of(s, "data", "item_names", st->item_names, sizeof st->item_names);
    s->paths.pretrained = path_of(s, "model", "pretrained", st->pretrained, sizeof st->pretrained);
    if (setup_data(s, err) || setup_model(s, err) || setup_learn(s, err)) {
        setup_free(s);
        return err->code;
    }
    return 0;
}

void setup_free(Setup *s)
{
    if (!s) return;
    schedule_free(&s->schedule);
    config_free(s->cfg);
    free(s->store);
    memset(s, 0, sizeof *s);
}

/* ---- transforms from a model file's metadata ------------------------------------ */

static int meta_list(const char *file, const char *key, const char *text, CfgSlot slot, void *out, size_t elem,
                     int max, int *n, Err *err)
{
    *n = 0;
    if (!text || !*text) return 0;
    char w[SETUP_WHERE];
    snprintf(w, sizeof w, "%.1300s: [data] %s", file, key);
    CfgValue *v = cfg_value_parse_key("data", key, text, file, 0, err);
    if (!v) return err->code;
    int k = v->kind == CV_NONE ? 0 : cfg_list_len(v), rc = 0;
    if (k > max) rc = err_set(err, ERR_USAGE, "%s: found %d, expected at most %d", w, k, max);
    for (int i = 0; !rc && i < k; i++) rc = setup_build(slot, (char *)out + elem * (size_t)i, cfg_list_at(v, i), w, err);
    cfg_value_free(v);
    if (!rc) *n = k;
    return rc;
}

int setup_meta_item_tfms(const char *file, const char *text, ItemTfms *items, Err *err)
{
    memset(items, 0, sizeof *items);
    return meta_list(file, "item_tfms", text, SLOT_ITEM_TFM, items->t, sizeof items->t[0], ITEM_TFMS_MAX, &items->n,
                     err);
}

int setup_meta_batch_tfms(const char *file, const char *text, BatchTfm *batch, Err *err)
{
    batch_tfm_init(batch);
    int n;   /* every batch transform adds to the one BatchTfm: out does not advance (elem 0) */
    return meta_list(file, "batch_tfms", text, SLOT_BATCH_TFM, batch, 0, 1 << 20, &n, err);
}
