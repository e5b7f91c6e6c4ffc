/* lr_find.c — `fastc lr_find` (lands with issue 5; see cmd.h). */
#include "cmd/cmd.h"

int cmd_lr_find(const CmdArgs *a, Err *err)
{
    (void)a;
    return err_set(err, ERR_RUNTIME, "fastc lr_find: not available yet (lands with issue 5)");
}
