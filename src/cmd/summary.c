/* summary.c — `fastc summary` (lands with issue 4; see cmd.h). */
#include "cmd/cmd.h"

int cmd_summary(const CmdArgs *a, Err *err)
{
    (void)a;
    return err_set(err, ERR_RUNTIME, "fastc summary: not available yet (lands with issue 4)");
}
