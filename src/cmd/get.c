/* get.c — `fastc get` (lands with issue 4; see cmd.h). */
#include "cmd/cmd.h"

int cmd_get(const CmdArgs *a, Err *err)
{
    (void)a;
    return err_set(err, ERR_RUNTIME, "fastc get: not available yet (lands with issue 4)");
}
