/* sched.h — fastai's training schedules: one-cycle cosines, discriminative
 * learning rates (slice → even_mults), and the `[train] schedule =` line as a
 * list of stages (fit, fit_one_cycle, fine_tune, freeze, unfreeze, freeze_to).
 *
 * Positions follow fastai's TrainEvalCallback: before training batch i of a fit
 * with N batches in all, pos = i/N (first batch 0, never 1).
 */
#ifndef FASTC_LEARN_SCHED_H
#define FASTC_LEARN_SCHED_H

#include "core/err.h"

double sched_lin(double start, double end, double pos);
double sched_cos(double start, double end, double pos);
double sched_exp(double start, double end, double pos);
/* Cosine start→middle on [0, pct), middle→end on [pct, 1]; pos == pct is phase 2. */
double sched_combined_cos(double pct, double start, double middle, double end, double pos);

/* A learning rate as the user wrote it: a number, slice(hi), slice(lo, hi), or a list. */
typedef enum LrKind { LR_NONE, LR_NUM, LR_SLICE, LR_LIST } LrKind;
enum { LR_MAX_LIST = 16 };
typedef struct LrSpec {
    LrKind kind;
    double lo, hi;       /* LR_NUM: hi; LR_SLICE: lo (0 = slice(hi)) and hi */
    int n;               /* LR_LIST */
    double v[LR_MAX_LIST];
} LrSpec;

LrSpec lr_num(double v);
LrSpec lr_slice(double lo, double hi);
/* fastai's set_hyper: per-group values.  float → same for all; slice(lo,hi)
 * with lo → even_mults(lo, hi, n); slice(hi) → [hi/10]*(n−1) + [hi]; a list
 * must have n values.  Returns 0, or ERR_USAGE for a list of the wrong length. */
int lr_resolve(const LrSpec *s, int n_groups, double *out, Err *err);
/* fastcore even_mults: lo·(hi/lo)^(i/(n−1)), n = 1 → hi. */
void even_mults(double lo, double hi, int n, double *out);

typedef enum StageKind {
    STAGE_FIT, STAGE_ONE_CYCLE, STAGE_FREEZE_TO
} StageKind;

/* One step of a schedule, after fine_tune and freeze/unfreeze were expanded. */
typedef struct Stage {
    StageKind kind;
    int n_epoch;           /* FIT, ONE_CYCLE */
    LrSpec lr;             /* FIT: lr; ONE_CYCLE: lr_max (LR_NONE → learner's lr) */
    double div, div_final, pct_start;
    double moms[3];        /* ONE_CYCLE */
    int has_moms;          /* moms given in the call (else the learner's moms) */
    int has_wd;            /* wd given: set for this fit and later ones (fastai) */
    double wd;
    int freeze_n;          /* FREEZE_TO: freeze_to(n); -1 = freeze(), 0 = unfreeze() */
} Stage;

typedef struct Schedule {
    int n;
    Stage *stages;
} Schedule;

/* The setup layer builds a Schedule from [train] schedule (setup/learn.c). */
void schedule_free(Schedule *s);
/* Training epochs over all stages. */
int  schedule_total_epochs(const Schedule *s);

/* lr and momentum of a one-cycle stage at pos, per group (lr_max per group). */
void one_cycle_at(const Stage *st, const double *lr_max, int n_groups, double pos,
                  double *lr_out, double *mom_out);

#endif
