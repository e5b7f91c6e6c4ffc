/* learner.h — fastai's Learner: the training loop that ties a Model, its
 * Loaders, a loss, the optimizer, schedules, metrics and callbacks together,
 * and everything a run shows and leaves behind.
 *
 * The fit loop (learner.c) reads as fastai's Learner.fit.  Per fit (one
 * stage of the schedule), per epoch: training, batch by batch (fastai's
 * order: the scheduled lr/mom, zero_grad, forward (MODE_TRAIN, dropout keyed
 * by the run's step counter), loss and dL/dout, backward, optimizer step,
 * smoothed loss); validation (MODE_EVAL: loss weighted by batch size,
 * metrics); the after_epoch callbacks (callbacks.h: the table row,
 * metrics.csv row (fsync'ed) and --json line, SaveModelCallback,
 * EarlyStoppingCallback); then losses.png and the resume state (resume.h).
 *
 * Stopping (*LearnerOpts.stop set by a signal): the batch running finishes,
 * then the resume state is written as of that batch and fit returns 128 +
 * the signal.  Everything the rest of the epoch depends on is in it or is a
 * function of what is: weights and buffers, optimizer moments and the lazy
 * rows' pending steps (not flushed: optim.h), the count of steps taken
 * (dropout key), the position within the epoch (the loader's number of the
 * next batch, Batch.batch_no: the loader restarts the epoch's shuffled order
 * there, augmentation is keyed by seed, epoch and item, and the one-cycle
 * position is a function of epoch and position), the smoothed loss, the
 * recorder's per-batch losses, the trackers, and the epoch's time so far.  A
 * resumed run therefore ends bit-identical to one that never stopped, with
 * the same metrics.csv apart from the time column.  A NaN/inf loss never
 * writes a state (the last good one stays).
 *
 * Data-parallel (LearnerOpts.dist, mpirun): each rank trains on its share of
 * every global batch (the loaders' shard, set by the caller) and the
 * gradients are summed across ranks between backward and step (dist/dist.h),
 * so the replicas stay identical; validation is sharded and its sums added
 * up exactly; a stop is agreed by every rank after the same batch; BatchNorm
 * running statistics are rank 0's (broadcast before validation, as DDP's
 * broadcast_buffers); rank 0 alone writes (Learner.logging is 0 elsewhere)
 * and every fit starts from rank 0's weights (broadcast at its start).
 *
 * Output dir files (when LearnerOpts.out_dir is set): metrics.csv,
 * best.safetensors (SaveModelCallback), state.safetensors (resume), losses.png.
 * model.safetensors is written by the caller (cmd/train.c) once fit returns 0.
 */
#ifndef FASTC_LEARN_LEARNER_H
#define FASTC_LEARN_LEARNER_H

#include "core/err.h"
#include "data/loader.h"
#include "learn/callbacks.h"
#include "learn/lr_find.h"
#include "learn/metrics.h"
#include "learn/optim.h"
#include "learn/recorder.h"
#include "learn/resume.h"   /* learner_save_state, learner_resume */
#include "learn/sched.h"
#include "models/model.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* Mean loss of a batch; dout [n, c] (NULL: not wanted) gets dL/dout, per_item
 * [n] (NULL: not wanted) each item's loss. */
typedef float (*LearnLossFn)(void *ctx, float *dout, float *per_item, const float *out, int c, const Batch *b);

/* Save/load a model to a file (the pipeline wires safetensors + metadata). */
typedef struct LearnCkpt {
    int (*save)(void *ctx, const Model *m, const char *path, Err *err);
    int (*load)(void *ctx, Model *m, const char *path, Err *err);
    void *ctx;
} LearnCkpt;

/* fastai's TrackerCallback settings. */
typedef struct Tracker {
    int on;
    char monitor[32];
    int less;              /* comp: np.less ("loss"/"error" in the name) else np.greater */
    double min_delta;
    /* SaveModelCallback */
    int every_epoch, at_end;
    char fname[64];        /* "best" → best.safetensors */
    /* EarlyStoppingCallback */
    int patience;
    /* running */
    double best;
    int wait, new_best;
} Tracker;

typedef struct LearnerOpts {
    OptKind opt;
    OptHyper hyper;        /* optimizer defaults (mom, sqr_mom, eps, wd) */
    int decouple_wd;
    double lr;             /* learn.lr: fit/fit_one_cycle without a rate */
    int train_bn;          /* 1 (fastai): norm params stay trainable when frozen */
    Metrics metrics;
    Tracker save, early;   /* SaveModelCallback, EarlyStoppingCallback */
    LearnLossFn loss;
    void *loss_ctx;
    LearnCkpt ckpt;
    const char *out_dir;   /* NULL: write nothing */
    uint64_t seed;
    int threads;
    int quiet, json, is_tty;
    FILE *out, *progress;  /* table/json (stdout) and progress (stderr) */
    const volatile sig_atomic_t *stop;  /* set to a signal number to stop after the batch */
    int max_batches;       /* > 0: cap batches per train epoch (hidden flag --max-batches N) */
    const char *run_config;   /* what else the run's numbers depend on, "name = value" lines (for
                                 `fastc train`, the resolved config): the resume state keeps them
                                 and --resume requires them unchanged (learn/resume.h); NULL: none */
    const struct Dist *dist;   /* data-parallel run (dist/dist.h): more than one rank trains, each on
                                  its share of every batch; NULL or one rank: a single process */
    int64_t pause_after;   /* > 0: test hook (train --pause-after N): after that many training
                              batches of the run, print "fastc: paused after batch N" on progress
                              and wait up to 60 s for *stop, so a test can kill the process at a
                              known batch */
} LearnerOpts;

void learner_opts_default(LearnerOpts *o);

typedef struct Learner {
    Model *model;
    Loaders *dls;
    LearnerOpts o;
    Optimizer *opt;
    float *dout;            /* [max_bs, n_out] */
    Table table;
    SmoothLoss smooth;
    int n_out;
    /* progress through a schedule */
    int stage;              /* index of the stage running / next to run */
    int stage_epoch;        /* epochs of that stage completed */
    int epoch;              /* epochs completed over the run (loader epoch key) */
    int64_t iter;           /* training steps taken over the run (dropout key) */
    int batch;              /* position in the current epoch: the loader's number of the next
                               training batch (Batch.batch_no); 0, or where a stop left it
                               (n_batches: the epoch's validation is still to run).  With
                               on_bad_item = skip it can exceed the steps taken this epoch. */
    int n_batches;          /* training batches per epoch of the stage running */
    double epoch_secs, epoch_wait;   /* time and data wait of the current epoch before a stop */
    int frozen_n;           /* last freeze_to index applied (for reporting) */
    /* recorder */
    int64_t n_rec, cap_rec;
    float *rec_loss;        /* smoothed train loss per batch */
    int n_val, cap_val;
    double *val_loss;       /* valid loss per epoch */
    int64_t *val_iter;      /* at which batch count */
    int csv_started;
    int logging;            /* 1; 0: no table, messages or files (say, a process of a
                               data-parallel run other than the one that writes) */
    int total_epochs;       /* of the schedule (resume check) */
    const Schedule *sched;  /* the schedule learner_fit_schedule runs (borrowed while it runs) */
    double lr_sug[LR_N_REFS];   /* the last lr_find() step's suggestions (LR_REF_*), */
    unsigned lr_have;           /* those it computed (its suggest mask; 0: none ran yet) */
    /* data-parallel (LearnerOpts.dist with more than one rank, else NULL and 0): the gradient
     * exchange, and a stop every rank agreed on (a signal on any of them) */
    struct DistGrads *grads;
    int dist_stop;
} Learner;

Learner *learner_new(Model *m, Loaders *dls, const LearnerOpts *o, Err *err);
void learner_free(Learner *l);   /* NULL-safe; does not free model or loaders */

/* fastai freeze_to(n): groups before n (n < 0: from the end) frozen, except
 * norm params with train_bn; clears the optimizer state. */
void learner_freeze_to(Learner *l, int n);

/* Run the whole schedule from l->stage/l->stage_epoch (0,0 for a fresh run;
 * after learner_resume, where it stopped, possibly mid-epoch).  Returns 0, an
 * error (NaN loss: ERR_RUNTIME naming epoch and batch), or 128+signal when
 * stopped by *o.stop, after writing the resume state (see the top).
 * An lr_find() step (STAGE_LR_FIND, the k-th of the schedule) runs fastai's
 * lr_find and leaves the run as it found it (weights, BatchNorm statistics,
 * optimizer state, the step counter); it prints its suggestions (a JSON line
 * {"lr_find": k, <suggestions>, "batches"} with --json), writes
 * lr_find_<k>.csv and lr_find_<k>.png into the output dir, and keeps the
 * suggestions for the later steps whose rates name them (LrSpec refs).  A
 * resumed run reads them back from lr_find_<k>.csv. */
int learner_fit_schedule(Learner *l, const Schedule *s, Err *err);

/* One validation pass: loss and metric values (out[0] = loss, out[1+i] = metric i). */
int learner_validate(Learner *l, double *out, Err *err);

/* Snapshot/restore of weights+buffers and optimizer state in memory (lr_find). */
typedef struct LearnerSnap LearnerSnap;
LearnerSnap *learner_snapshot(const Learner *l);
void learner_restore(Learner *l, const LearnerSnap *s);
void learner_snap_free(LearnerSnap *s);

/* One training step on batch b with the optimizer's current hypers; returns
 * the loss (non-finite loss: no step taken). */
double learner_train_batch(Learner *l, const Batch *b, Err *err, int *failed);

/* fastai's lr_find on the training loader: lr from start_lr to end_lr over
 * num_it batches, stop at 4x the best smoothed loss (stop_div); weights, BN statistics
 * and optimizer state restored afterwards; suggestions in res->sug. */
int learner_lr_find(Learner *l, double start_lr, double end_lr, int num_it, int stop_div, LrFindResult *res, Err *err);

/* out_dir/name into buf. */
void learner_out_path(const Learner *l, const char *name, char *buf, size_t cap);

/* Plot losses.png from the recorder (no-op without an output dir). */
int learner_plot_losses(Learner *l, Err *err);

#endif
