/* train.c — `fastc train` (lands with issue 5; see cmd.h). */
#include "cmd/cmd.h"

int cmd_train(const CmdArgs *a, Err *err)
{
    (void)a;
    return err_set(err, ERR_RUNTIME, "fastc train: not available yet (lands with issue 5)");
}
