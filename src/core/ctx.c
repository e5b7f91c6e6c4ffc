/* ctx.c — see ctx.h. */
#include "core/ctx.h"

#include "core/blas.h"

#include <omp.h>

void ctx_apply_threads(const Ctx *ctx)
{
    int n = ctx->threads < 1 ? 1 : ctx->threads;
    blas_set_threads(n);
    omp_set_num_threads(n);
}
