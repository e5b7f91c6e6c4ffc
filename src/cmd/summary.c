/* summary.c — `fastc summary CONFIG`: the data (data/data_summary.h: counts per
 * split, vocab, a batch's shapes, the first training item), then the model. */
#include "cmd/cmd.h"

#include "data/data_summary.h"
#include "setup/setup.h"

#include <stdio.h>

int cmd_summary(const CmdArgs *a, Err *err)
{
    Setup s;
    if (setup_load(&s, a->config_path, a->sets, a->n_sets, &a->ctx, err)) return err->code;
    int rc = s.is_collab ? data_summary_collab(stdout, &s.ratings, s.loader.bs, s.loader.val_bs, s.ctx.seed, err)
                         : data_summary_image(stdout, &s.db, &s.loader, err);
    /* the model part (layers, parameters, FLOPs) lands with the engine (issue 5) */
    setup_free(&s);
    return rc;
}
