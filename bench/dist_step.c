/* dist_step.c — a data-parallel training step of the engine, timed piece by
 * piece: forward, backward, the wait for the gradient allreduce, the Adam
 * step; with the buckets started from the backward's hook (overlapped) and,
 * for comparison, only after the backward (nothing hidden).
 *
 *   mpirun -np N dist_step ARCH SIZE GLOBAL_BS [STEPS] [THREADS]
 *   dist_step ARCH SIZE GLOBAL_BS [STEPS] [THREADS]          (one process)
 *
 * Each rank runs its share of GLOBAL_BS images (random, fixed) as the learner
 * does (dout scaled by n_r / B).  Rank 0 prints, for each mode, one line:
 *   mode=overlap|after ranks=N threads=T bs=B img_per_s=.. step_s=.. fwd_s=..
 *   bwd_s=.. end_s=.. wait_s=.. start_s=.. progress_s=.. pack_s=.. opt_s=.. grad_mb=.. buckets=.. window_s=..
 * (seconds per step, means over STEPS after one warm-up step; end_s: all of
 * dist_grads_end, wait_s: its waiting (control exchange + allreduces),
 * start_s: MPI_Iallreduce's start calls (where the bucket starts: in the
 * backward's hooks, or in dist_grads_end), progress_s: MPI work inside the backward's hooks, pack_s: copies into and out
 * of the buckets; window_s: from
 * the first bucket's start to the end of the backward, the time a bucket can
 * travel hidden).  hidden = 1 − wait(overlap) / wait(after) is printed last. */
#include "core/blas.h"
#include "core/ctx.h"
#include "core/rng.h"
#include "dist/dist.h"
#include "learn/optim.h"
#include "models/resnet.h"
#include "nn/loss.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* The hook, timed: when the first bucket could leave. */
typedef struct Timed {
    DistGrads *g;
    double first;
} Timed;

static void timed_ready(void *ctx, int first)
{
    Timed *t = ctx;
    if (t->first == 0) t->first = now();
    dist_grads_ready(t->g, first);
}

int main(int argc, char **argv)
{
    blas_ensure_fast_core(argv);
    if (argc < 4) {
        fprintf(stderr, "usage: %s ARCH SIZE GLOBAL_BS [STEPS] [THREADS]\n", argv[0]);
        return 2;
    }
    Dist d;
    Err err = {0};
    double t_open = now();
    if (dist_open(&d, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    t_open = now() - t_open;
    if (d.rank == 0) printf("dist_open_s=%.3f (dlopen libmpi + MPI_Init_thread; 0 without mpirun)\n", t_open);
    const char *arch = argv[1];
    int size = atoi(argv[2]), B = atoi(argv[3]);
    int steps = argc > 4 ? atoi(argv[4]) : 5, threads = argc > 5 ? atoi(argv[5]) : 1;
    int first, n;
    dist_share(B, d.rank, d.size, &first, &n);
    Ctx ctx = {.threads = threads, .seed = 42};
    ctx_apply_threads(&ctx);
    ResnetSpec spec = resnet_spec_default(arch, 10, n, size, size);
    spec.seed = 42, spec.threads = threads;
    Model *m;
    if (resnet_new(&m, &spec, &err)) return fprintf(stderr, "%s\n", err.msg), 2;
    size_t nx = (size_t)n * size * size * 3;
    float *x = malloc(nx * sizeof(float)), *dout = malloc(sizeof(float) * n * 10);
    int32_t *y = malloc(sizeof(int32_t) * n);
    Rng r = rng_make(1, 2 + (uint64_t)d.rank);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_normal(&r);
    for (int i = 0; i < n; i++) y[i] = (first + i) % 10;
    OptHyper h = optim_default_hyper(OPT_ADAM);
    h.lr = 1e-4;
    Optimizer *opt = optim_new(OPT_ADAM, &h, 1, m, threads, &err);
    DistGrads *g = d.size > 1 ? dist_grads_new(&d, m, DIST_BUCKET_BYTES, &err) : NULL;
    if (!opt || (d.size > 1 && !g)) return fprintf(stderr, "%s\n", err.msg), 1;
    if (dist_bcast_params(&d, m, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    Batch b = {.n = n, .h = size, .w = size, .c = 3, .x = x, .kind = TARGET_CATEGORY, .yi = y};
    double hidden_wait[2] = {0};
    for (int mode = 0; mode < (g ? 2 : 1); mode++) {
        Timed tm = {.g = g};
        if (g) m->grads_ready = mode == 0 ? timed_ready : NULL, m->grads_ctx = &tm;
        double t_step = 0, t_fwd = 0, t_bwd = 0, t_wait = 0, t_opt = 0, t_win = 0;
        DistStats s0 = {0}, s1;
        for (int s = 0; s <= steps; s++) {
            if (s == 1 && g) dist_grads_stats(g, &s0);
            if (g) dist_barrier(&d, &err);   /* every rank starts the step together */
            double t0 = now();
            const float *out;
            model_zero_grad(m);
            if (g && dist_grads_begin(g, &b, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
            if (m->ops->forward(m, &b, MODE_TRAIN, (uint64_t)s, &out, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
            double t1 = now();
            float loss = loss_cross_entropy(dout, NULL, out, y, n, 10);
            for (int i = 0; i < n * 10; i++) dout[i] *= (float)n / (float)B;
            tm.first = 0;
            m->ops->backward(m, dout);
            double t2 = now();
            DistStep st = {.n = n, .loss_sum = loss * n};
            if (g && dist_grads_end(g, B, &st, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
            double t3 = now();
            optim_step(opt);
            double t4 = now();
            if (s > 0) {
                t_step += t4 - t0, t_fwd += t1 - t0, t_bwd += t2 - t1, t_wait += t3 - t2, t_opt += t4 - t3;
                t_win += tm.first > 0 ? t2 - tm.first : 0;
            }
        }
        if (g) dist_grads_stats(g, &s1);
        double k = 1.0 / steps;
        /* the wait in dist_grads_end as the stats count it (the MPI_Waitall alone) */
        double wait = g ? (s1.wait_s - s0.wait_s) * k : 0;
        hidden_wait[mode] = wait;
        if (d.rank == 0)
            printf("mode=%s ranks=%d threads=%d bs=%d img_per_s=%.2f step_s=%.4f fwd_s=%.4f bwd_s=%.4f "
                   "end_s=%.4f wait_s=%.4f start_s=%.4f progress_s=%.4f pack_s=%.4f opt_s=%.4f grad_mb=%.2f buckets=%d last_mb=%.2f "
                   "window_s=%.4f\n",
                   mode ? "after" : "overlap", d.size, threads, B, B / (t_step * k), t_step * k, t_fwd * k, t_bwd * k,
                   t_wait * k, wait, g ? (s1.start_s - s0.start_s) * k : 0.0, g ? (s1.progress_s - s0.progress_s) * k : 0.0, g ? (s1.pack_s - s0.pack_s) * k : 0.0,
                   t_opt * k, g ? (s1.bytes - s0.bytes) * k / 1e6 : 0.0, g ? s1.n_buckets : 0,
                   g ? s1.last_bytes / 1e6 : 0.0, t_win * k);
        fflush(stdout);
    }
    if (g && d.rank == 0)
        printf("hidden=%.3f (1 - wait overlapped / wait after the backward)\n",
               hidden_wait[1] > 0 ? 1 - hidden_wait[0] / hidden_wait[1] : 0.0);
    dist_grads_free(g);
    optim_free(opt);
    model_free(m);
    free(x), free(dout), free(y);
    dist_close(&d, 1);
    return 0;
}
