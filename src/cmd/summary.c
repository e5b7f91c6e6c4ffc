/* summary.c — `fastc summary CONFIG`: the data (data/data_summary.h: counts per
 * split, vocab, a batch's shapes, the first training item), then the model. */
#include "cmd/cmd.h"

#include "config/config.h"
#include "data/data_summary.h"

#include <stdio.h>

int cmd_summary(const CmdArgs *a, Err *err)
{
    Config *cfg = config_load(a->config_path, a->sets, a->n_sets, err);
    if (!cfg) return err->code;
    Ctx ctx = a->ctx;
    ctx.seed = (uint64_t)cfg_num(cfg, "learner", "seed");
    int rc = data_summary_print(stdout, cfg, &ctx, err);
    /* the model part (layers, parameters, FLOPs) lands with the engine (issue 5) */
    config_free(cfg);
    return rc;
}
