/* bench_collab.c — the fastc side of bench/bench_collab.sh.
 *
 *   bench_collab RATINGS.csv BS EPOCHS [THREADS]
 *
 * Reads a userId,movieId,rating file (header, columns 0..2), splits it
 * RandomSplitter(0.2), builds DotProductBias(50, y_range=(0, 5.5)) and trains
 * it through the learner's real fit loop (learner_fit_schedule: one-cycle
 * lr/mom per batch, zero_grad, forward, MSELossFlat, backward, fastai's dense
 * Adam with wd=0.1, smoothed loss, then the validation pass), one
 * fit_one_cycle(1, 5e-3, wd=0.1) call per timed epoch.  Prints
 *   epoch_s <min wall seconds of an epoch> train_s <same without validation> ...
 *   cpu_s <min CPU seconds of an epoch, validation included>
 * where train_s subtracts a separately timed learner_validate().
 */
#include "core/blas.h"
#include "core/ctx.h"
#include "data/ratings.h"
#include "learn/learner.h"
#include "models/collab.h"
#include "nn/loss.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static float mse(void *ctx, float *dout, float *per_item, const float *out, int c, const Batch *b)
{
    (void)ctx;
    return loss_mse(dout, per_item, out, b->y, b->n, c);
}

int main(int argc, char **argv)
{
    blas_ensure_fast_core(argv);
    if (argc < 4) {
        fprintf(stderr, "usage: bench_collab RATINGS.csv BS EPOCHS [THREADS]\n");
        return 2;
    }
    int bs = atoi(argv[2]), epochs = atoi(argv[3]), threads = argc > 4 ? atoi(argv[4]) : 2;
    Ctx ctx = {.threads = threads, .seed = 42, .quiet = 1};
    ctx_apply_threads(&ctx);
    Err e = {0};
    RatingsSpec s = {.path = argv[1], .sep = ',', .valid_pct = 0.2, .split_seed = 42};
    RatingsData *d;
    Loaders *dls;
    Model *m;
    if (ratings_load(&d, &s, &e)) goto fail;
    CollabSpec cs = {.arch = COLLAB_DOT_BIAS, .n_users = d->n_users, .n_items = d->n_items, .n_factors = 50,
                     .has_y_range = 1, .y_lo = 0, .y_hi = 5.5f, .max_bs = bs, .seed = 42};
    if (collab_model_new(&m, &cs, &e)) goto fail;
    if (ratings_loaders_from_data(&dls, d, bs, 42, &e)) goto fail;
    LearnerOpts o;
    learner_opts_default(&o);
    o.loss = mse;
    o.threads = threads;
    o.quiet = 1;
    o.seed = 42;
    FILE *null = fopen("/dev/null", "w");
    o.out = null, o.progress = null;
    Learner *l = learner_new(m, dls, &o, &e);
    if (!l) goto fail;
    Stage st = {.kind = STAGE_ONE_CYCLE, .n_epoch = 1, .lr = lr_num(5e-3), .div = 25, .div_final = 1e5,
                .pct_start = 0.25, .moms = {0.95, 0.85, 0.95}, .has_wd = 1, .wd = 0.1};
    Schedule sch = {.n = 1, .stages = &st};
    double best = 1e30, best_val = 1e30, best_cpu = 1e30, vals[8];
    for (int ep = 0; ep < epochs; ep++) {
        l->stage = 0, l->stage_epoch = 0;
        double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (learner_fit_schedule(l, &sch, &e)) goto fail;
        double t1 = now(), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (c1 - c0 < best_cpu) best_cpu = c1 - c0;
        if (learner_validate(l, vals, &e)) goto fail;
        double t2 = now();
        if (t1 - t0 < best) best = t1 - t0;
        if (t2 - t1 < best_val) best_val = t2 - t1;
    }
    if (learner_validate(l, vals, &e)) goto fail;
    printf("epoch_s %.6f train_s %.6f train_items %d batches %d valid_loss %.4f cpu_s %.6f\n", best,
           best - best_val, loaders_n_items(dls, SPLIT_TRAIN), loaders_n_batches(dls, SPLIT_TRAIN), vals[0], best_cpu);
    learner_free(l);
    loaders_free(dls);
    model_free(m);
    fclose(null);
    return 0;
fail:
    fprintf(stderr, "bench_collab: %s\n", e.msg);
    return 1;
}
