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
    float **sqr_avg;     /* [n_params] -> [param.n] (Adam only) */
    int64_t *step;       /* [n_params] steps taken by each param */
    float *state;        /* one block holding every moment */
    size_t state_n;      /* floats in state */
    OptChunk *chunks;
    int n_chunks;
    double *coef;        /* [n_params * 4] scratch for one step */
    int threads;         /* threads of the sweep: 1 below OPTIM_PAR_MIN weights */
} Optimizer;

/* Defaults as fastai: Adam(mom=0.9, sqr_mom=0.99, eps=1e-5, wd=0.01),
 * SGD(mom=0, wd=0); lr = 1e-3. */
OptHyper optim_default_hyper(OptKind kind);

/* An optimizer over every PARAM_WEIGHT of m, all groups starting at `h`. */
Optimizer *optim_new(OptKind kind, const OptHyper *h, int decouple_wd, Model *m, int threads, Err *err);
void optim_free(Optimizer *o);   /* NULL-safe */

/* One step over every non-frozen weight, using Param.g. */
void optim_step(Optimizer *o);
/* Zero moments and step counters (fastai's clear_state). */
void optim_clear_state(Optimizer *o);

void optim_set_lr(Optimizer *o, const double *lr);   /* [n_groups] */
void optim_set_mom(Optimizer *o, double mom);         /* every group */
void optim_set_wd(Optimizer *o, double wd);           /* every group */

#endif
