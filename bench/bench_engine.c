/* bench_engine.c — training-step throughput of the fastc engine.
 *
 *   bench_engine ARCH SIZE [BS] [STEPS] [THREADS] [N_IN] [fp32|bf16]
 *
 * Builds ARCH (resnet18/34/50/101/152 + fastai head, 10 classes) for BS images of
 * SIZE x SIZE with N_IN channels (default 3; the default job has 1) in the
 * given precision, then times STEPS training steps (forward, cross-entropy,
 * backward, the learner's Adam step over every trainable parameter) after one
 * warm-up step, and prints one line:
 *   ARCH SIZE BS img_s_median img_s_best peak_rss_mb cpu_s_median cpu_s_min gflops_per_cpu_s loss
 * (img/s from the median and the fastest step's wall time; CPU seconds per step,
 * process time; GFLOPS per CPU-second from 3x the forward FLOPs per image —
 * forward, data gradient, weight gradient — over the median CPU time). */
#include "core/blas.h"
#include "core/ctx.h"
#include "core/rng.h"
#include "learn/optim.h"
#include "models/resnet.h"
#include "nn/loss.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double cpu_step_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv)
{
    blas_ensure_fast_core(argv);
    if (argc < 3) {
        fprintf(stderr, "usage: %s ARCH SIZE [BS] [STEPS] [THREADS] [N_IN]\n", argv[0]);
        return 2;
    }
    const char *arch = argv[1];
    int size = atoi(argv[2]), bs = argc > 3 ? atoi(argv[3]) : 64;
    int steps = argc > 4 ? atoi(argv[4]) : 8, threads = argc > 5 ? atoi(argv[5]) : 2;
    int n_in = argc > 6 ? atoi(argv[6]) : 3, bf16 = argc > 7 && !strcmp(argv[7], "bf16");
    Ctx ctx = {.threads = threads, .seed = 42};
    ctx_apply_threads(&ctx);
    ResnetSpec spec = resnet_spec_default(arch, 10, bs, size, size);
    spec.seed = 42;
    spec.threads = threads;
    spec.n_in = n_in;
    spec.bf16 = bf16;
    Model *m;
    Err err = {0};
    if (resnet_new(&m, &spec, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    size_t nx = (size_t)bs * size * size * n_in;
    float *x = malloc(nx * sizeof(float)), *dout = malloc(sizeof(float) * bs * 10);
    int32_t *y = malloc(sizeof(int32_t) * bs);
    Rng r = rng_make(1, 2);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_normal(&r);
    for (int i = 0; i < bs; i++) y[i] = i % 10;
    /* fastai's Adam as the learner runs it (decoupled wd 0.01, lr 1e-4) */
    OptHyper h = optim_default_hyper(OPT_ADAM);
    h.lr = 1e-4;
    Optimizer *opt = optim_new(OPT_ADAM, &h, 1, m, threads, &err);
    if (!opt) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    Batch b = {.n = bs, .h = size, .w = size, .c = n_in, .x = x, .kind = TARGET_CATEGORY, .yi = y};
    double *wall = malloc(sizeof(double) * (steps + 1)), *cpu = malloc(sizeof(double) * (steps + 1));
    float loss = 0;
    for (int s = 0; s <= steps; s++) {
        double t0 = now(), c0 = cpu_step_now();
        const float *out;
        model_zero_grad(m);
        if (m->ops->forward(m, &b, MODE_TRAIN, (uint64_t)s, &out, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        loss = loss_cross_entropy(dout, NULL, out, y, bs, 10);
        m->ops->backward(m, dout);
        optim_step(opt);
        if (s > 0) wall[s - 1] = now() - t0, cpu[s - 1] = cpu_step_now() - c0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double best = 1e30, cmin = 1e30;
    for (int s = 0; s < steps; s++) best = wall[s] < best ? wall[s] : best, cmin = cpu[s] < cmin ? cpu[s] : cmin;
    double wmed = median(wall, steps), cmed = median(cpu, steps);
    double flops = 3.0 * resnet_flops_per_image(m, size, size) * bs;
    printf("%s %d %d %.2f %.2f %.0f %.3f %.3f %.1f %.4f\n", arch, size, bs, bs / wmed, bs / best,
           ru.ru_maxrss / 1024.0, cmed, cmin, flops / cmed / 1e9, loss);
    free(wall), free(cpu);
    optim_free(opt);
    free(x), free(dout), free(y);
    model_free(m);
    return 0;
}
