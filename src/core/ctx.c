/* ctx.c — see ctx.h. */
#include "core/ctx.h"

#include "core/blas.h"

#include <omp.h>
#include <stdlib.h>

/* The threads are OpenMP's.  OpenBLAS stays single-threaded: the engine's GEMMs
 * (nn/gemm.h) split each product into fixed blocks run by the OpenMP threads, so
 * there is one thread pool instead of two spinning against each other on the
 * CPUs (measured: two pools ran resnet18 training at half the speed of one
 * thread), and the numbers do not depend on the thread count. */
void ctx_apply_threads(const Ctx *ctx)
{
    int n = ctx->threads < 1 ? 1 : ctx->threads;
    blas_set_threads(1);
    omp_set_num_threads(n);
}

int ctx_default_wait_policy(void)
{
    if (getenv("OMP_WAIT_POLICY")) return 0;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    return 1;
}

const char *ctx_wait_policy(void)
{
    const char *v = getenv("OMP_WAIT_POLICY");
    return v && *v ? v : "libgomp default";
}
