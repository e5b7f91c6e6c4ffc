/* interpret.c — `fastc interpret` (lands with issue 6; see cmd.h). */
#include "cmd/cmd.h"

int cmd_interpret(const CmdArgs *a, Err *err)
{
    (void)a;
    return err_set(err, ERR_RUNTIME, "fastc interpret: not available yet (lands with issue 6)");
}
