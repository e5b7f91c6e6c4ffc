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

/* OpenMP threads that wait at a barrier sleep instead of spinning: sets
 * OMP_WAIT_POLICY=PASSIVE unless the user set it.  libgomp's default spins for
 * ~300,000 iterations; on a machine where another process wants a core, the
 * spinning thread holds it while the thread it waits for is descheduled
 * (measured: resnet18 training at 28x28, 2 threads, beside other busy processes:
 * 18-25 img/s spinning, 128-197 img/s passive).  libgomp reads the variable once
 * when it is loaded, so it takes effect only in a new image of the program:
 * returns 1 when it changed the environment (the caller then re-executes itself),
 * 0 when the user's setting stands. */
int ctx_default_wait_policy(void);

/* The OpenMP wait policy asked for by the environment ("PASSIVE", "ACTIVE", ...),
 * or "libgomp default" when unset. */
const char *ctx_wait_policy(void);

#endif
