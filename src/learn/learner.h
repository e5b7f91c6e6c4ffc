/* learner.h — fastai's Learner: the training loop that ties a Model, its
 * Loaders, a loss, the optimizer, schedules, metrics and callbacks together,
 * and everything a run shows and leaves behind.
 *
 * Per training batch (fastai's order): set the scheduled lr/mom, zero_grad,
 * forward (MODE_TRAIN, dropout keyed by the run's step counter), loss and
 * dL/dout, backward, optimizer step, smoothed loss.  After each epoch the
 * validation loop (MODE_EVAL): loss weighted by batch size, metrics; then one
 * table row, one metrics.csv row (fsync'ed), one --json line, the callbacks
 * (SaveModelCallback, EarlyStoppingCallback), the resume state.
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
 * recorder's per-batch losses, the trackers, and the epoch's time so far.  A resumed run therefore ends bit-identical to one
 * that never stopped, with the same metrics.csv apart from the time column.
 * A NaN/inf loss never writes a state (the last good one stays).
 *
 * Output dir files (when LearnerOpts.out_dir is set): metrics.csv,
 * best.safetensors (SaveModelCallback), state.safetensors (resume), losses.png.
 * model.safetensors is written by the caller (cmd/train.c) once fit returns 0.
 */
#ifndef FASTC_LEARN_LEARNER_H
#define FASTC_LEARN_LEARNER_H

#include "core/err.h"
#include "data/loader.h"
#include "learn/lr_find.h"
#include "learn/metrics.h"
#include "learn/optim.h"
#include "learn/recorder.h"
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
    int max_batches;       /* > 0: cap batches per train epoch (hidden test knob) */
    int64_t pause_after;   /* > 0: test hook (FASTC_TEST_PAUSE_AFTER): after that many training
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
    double last_values[TABLE_MAX_COLS];
    int logging;            /* 0 during lr_find */
    int total_epochs;       /* of the schedule (resume check) */
} Learner;

Learner *learner_new(Model *m, Loaders *dls, const LearnerOpts *o, Err *err);
void learner_free(Learner *l);   /* NULL-safe; does not free model or loaders */

/* fastai freeze_to(n): groups before n (n < 0: from the end) frozen, except
 * norm params with train_bn; clears the optimizer state. */
void learner_freeze_to(Learner *l, int n);

/* Run the whole schedule from l->stage/l->stage_epoch (0,0 for a fresh run;
 * after learner_resume, where it stopped, possibly mid-epoch).  Returns 0, an
 * error (NaN loss: ERR_RUNTIME naming epoch and batch), or 128+signal when
 * stopped by *o.stop, after writing the resume state (see the top). */
int learner_fit_schedule(Learner *l, const Schedule *s, Err *err);

/* One validation pass: loss and metric values (out[0] = loss, out[1+i] = metric i). */
int learner_validate(Learner *l, double *out, Err *err);

/* Resume state (state.safetensors in out_dir): weights, buffers, optimizer moments,
 * pending lazy rows and hypers, schedule position (stage, epoch, batch within
 * the epoch), counters, smoothed loss, trackers, recorder.  learner_save_state
 * writes atomically, at the end of every epoch and at a stop; learner_resume
 * loads it and replays the freeze stages of s before the saved position.
 * Returns 1 when no state file exists (fresh start), 0 when resumed. */
int learner_save_state(Learner *l, Err *err);
int learner_resume(Learner *l, const Schedule *s, Err *err);

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

/* Plot losses.png from the recorder (no-op without an output dir). */
int learner_plot_losses(Learner *l, Err *err);

#endif
