/* ctx.h — the run context: settings every module may need, passed explicitly.
 * There is no global mutable state in fastc; what would be a global lives here. */
#ifndef FASTC_CTX_H
#define FASTC_CTX_H

#include <stdint.h>

typedef struct Ctx {
    int threads;        /* worker threads for our kernels, BLAS and the loader (>= 1) */
    uint64_t seed;      /* [learner] seed: init, shuffling, augmentation, dropout */
    int quiet;          /* --quiet: no progress output */
    int json;           /* --json: machine-readable results on stdout */
    int is_tty;         /* stdout is a terminal (progress bars instead of lines) */
} Ctx;

/* Apply ctx->threads to OpenBLAS and OpenMP. */
void ctx_apply_threads(const Ctx *ctx);

#endif
