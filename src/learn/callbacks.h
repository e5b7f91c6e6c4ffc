/* callbacks.h — fastai's callbacks: a small table of hooks that the fit loop
 * (learner.c) calls at fixed points of each fit (one stage of the schedule):
 *
 *   CB_BEFORE_FIT     a fit starts, or resumes within itself (ev->fresh 0)
 *   CB_BEFORE_BATCH   before a training batch's forward (ev->batch)
 *   CB_AFTER_BATCH    after its optimizer step (ev->loss: the smoothed loss)
 *   CB_AFTER_TRAIN    the epoch's training batches are over, however they ended
 *   CB_AFTER_EPOCH    after validation (ev->vals); a hook may end the fit
 *                     after this epoch by setting ev->stop (fastai's
 *                     CancelFitException)
 *   CB_AFTER_FIT      the fit ran to its end (not after an error or a stop)
 *
 * The callbacks of a fit, in the order their hooks run:
 *
 *   ParamScheduler         before_fit: the stage's lr per group (and wd);
 *                          before_batch: one-cycle lr and momentum at the
 *                          batch's position
 *   ProgressCallback       after_batch: the progress bar (a terminal, not --quiet);
 *                          after_train: clears it
 *   Recorder's output      before_fit: the table header; after_epoch: the
 *   (and CSVLogger)        table row or --json line, and the metrics.csv row
 *   SaveModelCallback      after_epoch: best.safetensors when the monitored
 *                          value improves (or <fname>_<epoch> every_epoch);
 *                          after_fit: at_end saves, else the best is loaded back
 *   EarlyStoppingCallback  after_epoch: ends the fit after `patience` epochs
 *                          without improvement
 *   the pause test hook    after_batch: LearnerOpts.pause_after
 *
 * They are built from the learner's options when a fit starts (the trackers
 * from LearnerOpts.save / .early, as parsed from the config), so the running
 * values they keep (Tracker.best, .wait) live in those options, where the
 * resume state finds them.  Nothing else of theirs outlives a fit.
 */
#ifndef FASTC_LEARN_CALLBACKS_H
#define FASTC_LEARN_CALLBACKS_H

#include "core/err.h"
#include "learn/sched.h"

typedef struct Learner Learner;
typedef struct Tracker Tracker;

/* Where the fit is, for the hooks. */
typedef struct FitEvent {
    const Stage *stage;    /* the fit running */
    int stage_idx;         /* its index in the schedule */
    int fresh;             /* the fit starts at its beginning (0: resumed within it) */
    int epoch;             /* within the fit (fastai's numbering: the table's epoch column) */
    int batch, n_batches;  /* the batch's number in the epoch (Batch.batch_no); batches per epoch */
    double loss;           /* after_batch: the smoothed training loss */
    const double *vals;    /* after_epoch: train_loss, valid_loss, metrics (Table order) */
    double secs;           /* after_epoch: the epoch's time */
    double train_wait;     /* after_epoch: the seconds its training steps waited for data */
    int stop;              /* set by an after_epoch hook: the fit ends after this epoch */
} FitEvent;

typedef enum CbHook {
    CB_BEFORE_FIT, CB_BEFORE_BATCH, CB_AFTER_BATCH, CB_AFTER_TRAIN, CB_AFTER_EPOCH, CB_AFTER_FIT, CB_N_HOOKS
} CbHook;

/* A hook: 0, or an error (the fit stops there with it). */
typedef int (*CbFn)(void *self, Learner *l, FitEvent *ev, Err *err);

/* A kind of callback: its name and its hooks (NULL: none at that point). */
typedef struct CallbackOps {
    const char *name;
    CbFn hook[CB_N_HOOKS];
} CallbackOps;

typedef struct Callbacks Callbacks;

/* The callbacks of the fit ev->stage of l.  A tracker whose monitor is not a
 * column, or that watches the validation set when there is none, is an
 * ERR_USAGE; NULL then (or out of memory). */
Callbacks *callbacks_new(Learner *l, const FitEvent *ev, Err *err);
void callbacks_free(Callbacks *c);   /* NULL-safe */
/* Hook h of every callback, in order, until one fails. */
int callbacks_run(Callbacks *c, CbHook h, Learner *l, FitEvent *ev, Err *err);

/* fastai's TrackerCallback: reset at a fit's start (reset_on_fit). */
void tracker_reset(Tracker *t);

#endif
