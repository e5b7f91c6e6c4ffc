/* predict.c — `fastc predict` (lands with issue 6; see cmd.h). */
#include "cmd/cmd.h"

int cmd_predict(const CmdArgs *a, Err *err)
{
    (void)a;
    return err_set(err, ERR_RUNTIME, "fastc predict: not available yet (lands with issue 6)");
}
