/* optim.h — fastai's optimizers (Adam, SGD) over a model's parameters.
 *
 * fastai's Adam (optimizer.py), per parameter with a gradient, per step:
 *   1. decoupled weight decay: if do_wd and wd != 0:  p ← p·(1 − lr·wd)
 *      (decouple_wd = 0 instead adds wd·p to the gradient: L2 regularisation)
 *   2. grad_avg ← mom·grad_avg + (1−mom)·g
 *   3. sqr_avg  ← sqr_mom·sqr_avg + (1−sqr_mom)·g²
 *   4. step ← step + 1
 *   5. p ← p − lr/(1−mom^step) · grad_avg / (sqrt(sqr_avg/(1−sqr_mom^step)) + eps)
 *      (the current, possibly scheduled, mom; eps outside the square root)
 * fastai's SGD: weight decay as above, then if it was created with mom != 0:
 *   grad_avg ← mom·grad_avg + g (no dampening), p ← p − lr·grad_avg; else p ← p − lr·g.
 *
 * Hyper-parameters live per parameter group (Param.group): discriminative
 * learning rates are one lr per group.  Frozen parameters (Param.frozen) are
 * skipped entirely, as fastai skips params whose grad is None.  Params with
 * Param.no_wd get no weight decay (wd_bn_bias = False).  The state of each
 * parameter (moments and step counter) is allocated once in optim_new and
 * reset by optim_clear_state (fastai's clear_state on freeze/unfreeze).
 *
 * optim_step is one fused loop over fixed-size chunks of every parameter,
 * run with OpenMP; each element is updated independently, so the result does
 * not depend on the thread count.
 *
 * Embedding tables (Param.row_len > 0, a model with batch_rows, Adam with
 * decoupled weight decay): "lazy rows".  fastai's Adam is dense: a row that
 * no batch touches still moves every step (g = 0: grad_avg and sqr_avg decay,
 * weight decay and the momentum step apply), and that sweep over every row
 * was ~75% of a collab epoch, bound by one square root and one division per
 * weight.  For these params the optimizer keeps r = sqrt(sqr_avg) instead of
 * sqr_avg and updates each element per step as
 *     g ≠ 0:  a ← mom·a + (1−mom)·g      r ← sqrt(sqr_mom·r² + (1−sqr_mom)·g²)
 *     g = 0:  a ← mom·a                  r ← r·sqrt(sqr_mom)
 *     w ← w·(1 − lr·wd) − lr/(1−mom^t) · a / (r·sqrt(1/(1−sqr_mom^t)) + eps)
 which is fastai's formula in exact arithmetic (float rounding differs: one
 * square root per touched element, none for the others).  Rows absent from a
 * batch are then not swept at all: each step's coefficients go into a log,
 * and a row catches up on the steps it missed only when a batch is about to
 * read it (optim_prepare), when the log is full, or at optim_flush.  With
 * g = 0 those k steps have a closed form in prefix products of the logged
 * coefficients (optim.c, row_replay):
 *     a_k = a·Πmom   r_k = r·Πrsq   w_k = Πdec·w − a·Σ_t K_t / (r·q_t + eps)
 * one fused multiply-add and half a division per weight and missed step, the
 * row held in registers: no sweep over memory, and 1/4 of the sqrt+division
 * work of the dense update.  It equals the step-by-step update within float
 * rounding (tests: test_optim, against fastai's formulas in double and
 * against the eager sweep).  The learner calls optim_prepare(batch) before
 * each forward and optim_flush whenever it leaves the batch loop, so the
 * result depends only on the data and the schedule, never on threads; an
 * optim_step without a prepare flushes and sweeps every row eagerly with the
 * per-step formula, and so does a step whose batch names a quarter of a
 * param's rows or more (little to defer; the sweep is then faster).  Other
 * params keep the dense sweep below, unchanged.
 *
 * Threads policy: the sweep is split over `threads` only when the model has
 * at least OPTIM_PAR_MIN weights; smaller models (collab embeddings: 134k
 * weights for MovieLens 100k, 520k for ml-latest-small) sweep on the calling
 * thread.  Their whole step is tens of microseconds, and the fork/join of a
 * parallel region per step costs little on a quiet machine but a scheduler
 * time slice whenever the second core is busy (measured on 2 shared cores:
 * an ml-latest-small epoch took 26 s with 2 threads against 5.7 s with 1, and
 * a 100k epoch 2-9 s against 0.06 s of CPU).  Results are the same either
 * way (element-wise update).
 */
#ifndef FASTC_LEARN_OPTIM_H
#define FASTC_LEARN_OPTIM_H

#include "core/err.h"
#include "models/model.h"

#include <stdint.h>

enum { OPTIM_PAR_MIN = 1 << 21 };   /* weights below which the sweep runs on one thread */

typedef enum OptKind { OPT_ADAM, OPT_SGD } OptKind;

typedef struct OptHyper {
    double lr, mom, sqr_mom, eps, wd;
} OptHyper;

/* One step's coefficients for a lazy-rows param (see above), in float. */
typedef struct OptRowStep {
    float dec, mom, m1, sq, s1, rsq, step, c, eps;
} OptRowStep;
enum { OPT_ROW_STEP_FLOATS = 9 };   /* floats in an OptRowStep (a resume state stores them as such) */

/* Prefix products over the log (entry t: the steps before t) and the
 * per-step constants of the replay (optim.c, row_replay). */
typedef struct OptRowPre {
    double dc, pc, rc;     /* Π dec, Π mom, Π rsq over log entries < t */
    float kap, rho;        /* step·pc[t+1]/dc[t+1], rc[t+1]·c of entry t */
} OptRowPre;

typedef struct OptRows {   /* lazy-rows state of one param (row_len 0: not lazy) */
    int64_t row_len, n_rows;
    int32_t *done;         /* [n_rows] log entries already applied to each row */
    OptRowStep *log;       /* [OPTIM_LOG_CAP] steps taken since the last flush */
    OptRowPre *pre;        /* [OPTIM_LOG_CAP + 1] */
    int n_log;
    OptRowStep cur;        /* the current step's coefficients */
    int32_t *rows;         /* [cap] rows of the prepared batch */
    int n_batch, cap;      /* n_batch -1: this step sweeps the param (a batch naming most rows) */
} OptRows;

enum { OPTIM_LOG_CAP = 256 };   /* steps a row may lag behind before a flush */

typedef struct OptChunk {
    int param;           /* index into params */
    int64_t start, len;  /* element range inside that param */
} OptChunk;

typedef struct Optimizer {
    OptKind kind;
    int decouple_wd;     /* 1: AdamW-style decay (fastai default) */
    int sgd_mom;         /* SGD only: created with mom != 0 (uses grad_avg) */
    int n_groups;
    OptHyper *hyper;     /* [n_groups] */
    Param *params;       /* the model's, not owned */
    int n_params;
    float **grad_avg;    /* [n_params] -> [param.n] (NULL for buffers) */
    float **sqr_avg;     /* [n_params] -> [param.n] (Adam only); sqrt(sqr_avg) for lazy rows */
    int64_t *step;       /* [n_params] steps taken by each param */
    float *state;        /* one block holding every moment */
    size_t state_n;      /* floats in state */
    OptChunk *chunks;
    int n_chunks;
    double *coef;        /* [n_params * 4] scratch for one step */
    int threads;         /* threads of the sweep: 1 below OPTIM_PAR_MIN weights */
    OptRows *lazy;       /* [n_params] */
    int n_lazy;          /* params with lazy rows */
    int prepared;        /* optim_prepare ran since the last step */
} Optimizer;

/* Defaults as fastai: Adam(mom=0.9, sqr_mom=0.99, eps=1e-5, wd=0.01),
 * SGD(mom=0, wd=0); lr = 1e-3. */
OptHyper optim_default_hyper(OptKind kind);

/* An optimizer over every PARAM_WEIGHT of m, all groups starting at `h`. */
Optimizer *optim_new(OptKind kind, const OptHyper *h, int decouple_wd, Model *m, int threads, Err *err);
void optim_free(Optimizer *o);   /* NULL-safe */

/* One step over every non-frozen weight, using Param.g.  After an
 * optim_prepare for this batch, lazy rows the batch did not touch are left
 * pending (see above); otherwise everything is brought up to date. */
void optim_step(Optimizer *o);
/* Before the forward of batch b: bring the rows b reads up to date and note
 * them for the next optim_step.  Never fails: when m cannot name the rows (or
 * memory runs out) the next step simply runs eagerly. */
void optim_prepare(Optimizer *o, Model *m, const Batch *b);
/* The same with the rows named by rows_of(ctx, param, &rows) (returns their
 * count, repeats allowed, or -1) instead of the model's batch_rows: in
 * data-parallel training, the rows of the whole global batch (dist/dist.h),
 * so every rank makes the decisions one process makes. */
void optim_prepare_rows(Optimizer *o, int (*rows_of)(void *ctx, int param, const int32_t **rows), void *ctx);
/* Apply every pending step to every lazy row: the weights and moments are
 * then exactly what the eager sweep gives.  Call before anything other than
 * the next prepared forward reads the weights or the optimizer state. */
void optim_flush(Optimizer *o);
/* Zero moments and step counters (fastai's clear_state); flushes first. */
void optim_clear_state(Optimizer *o);

/* The lazy-rows steps of param i not yet applied to every row: n_log log
 * entries and done[n_rows], how many of them each row has applied (NULL, 0
 * and 0 when param i has no lazy rows; n_log 0 after optim_flush).  A resume
 * state written in the middle of an epoch keeps them with the weights and
 * moments as they stand: flushing there instead would round differently from
 * a run that never stopped.  optim_lazy_restore puts them back (after the
 * weights and moments are loaded; the log must be empty, as after optim_new or
 * optim_flush); -1 when they cannot be this optimizer's (param i not lazy,
 * n_log above OPTIM_LOG_CAP, a row ahead of the log). */
const OptRowStep *optim_lazy_log(const Optimizer *o, int i, int *n_log, const int32_t **done, int64_t *n_rows);
int optim_lazy_restore(Optimizer *o, int i, const OptRowStep *log, int n_log, const int32_t *done);

void optim_set_lr(Optimizer *o, const double *lr);   /* [n_groups] */
void optim_set_mom(Optimizer *o, double mom);         /* every group */
void optim_set_wd(Optimizer *o, double wd);           /* every group */

#endif
