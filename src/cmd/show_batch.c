/* show_batch.c — `fastc show_batch` (lands with issue 4; see cmd.h). */
#include "cmd/cmd.h"

int cmd_show_batch(const CmdArgs *a, Err *err)
{
    (void)a;
    return err_set(err, ERR_RUNTIME, "fastc show_batch: not available yet (lands with issue 4)");
}
