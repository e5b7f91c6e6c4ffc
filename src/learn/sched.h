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
/* The suggestions of an lr_find() step a later step's rate may name
 * (lr_max=slice(valley/100, valley)); bit 1 << (ref - 1) in a suggest mask. */
enum { LR_REF_NONE, LR_REF_VALLEY, LR_REF_MINIMUM, LR_REF_STEEP, LR_REF_SLIDE, LR_N_REFS };
typedef struct LrSpec {
    LrKind kind;
    double lo, hi;       /* LR_NUM: hi; LR_SLICE: lo (0 = slice(hi)) and hi */
    int n;               /* LR_LIST */
    double v[LR_MAX_LIST];
    int ref_lo, ref_hi;  /* LR_REF_*: lo / hi are the last lr_find() step's suggestion times */
    double f_lo, f_hi;   /* these factors, known once it ran (lr_bind) */
} LrSpec;

LrSpec lr_num(double v);
LrSpec lr_slice(double lo, double hi);
/* fastai's set_hyper: per-group values.  float → same for all; slice(lo,hi)
 * with lo → even_mults(lo, hi, n); slice(hi) → [hi/10]*(n−1) + [hi]; a list
 * must have n values.  Returns 0, or ERR_USAGE for a list of the wrong length. */
int lr_resolve(const LrSpec *s, int n_groups, double *out, Err *err);
/* The rate with the suggestions it names replaced by their values:
 * sug[LR_REF_*] the last lr_find() step's, `have` its suggest mask.  A
 * suggestion that step did not compute, or a slice whose bound lo comes out
 * above hi, is an ERR_USAGE naming it. */
int lr_bind(LrSpec *s, const double *sug, unsigned have, Err *err);
int lr_spec_has_ref(const LrSpec *s);
/* "valley", "minimum", "steep", "slide" (LR_REF_*), NULL for LR_REF_NONE. */
const char *lr_ref_name(int ref);

/* fastcore even_mults: lo·(hi/lo)^(i/(n−1)), n = 1 → hi. */
void even_mults(double lo, double hi, int n, double *out);

typedef enum StageKind {
    STAGE_FIT, STAGE_ONE_CYCLE, STAGE_FREEZE_TO, STAGE_LR_FIND
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
    /* LR_FIND: fastai's lr_find() between steps (weights kept); a later step's
     * rate may name its suggestions (LrSpec.ref_*) */
    double start_lr, end_lr;
    int num_it, stop_div;
    unsigned suggest;      /* the suggest_funcs, bits 1 << (LR_REF_* - 1) */
    int slide_diff;        /* slide(lr_diff, thresh, adjust_value) */
    double slide_thresh, slide_adjust;
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
