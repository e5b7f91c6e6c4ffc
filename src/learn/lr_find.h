/* lr_find.h — fastai's learning-rate finder (FASTAI_REFERENCE.md §2).
 *
 * Exponentially growing lr from 1e-7 to 10 over 100 training batches (same lr
 * for every group), smoothed loss recorded per batch, stop once it exceeds 4x
 * its best; model and optimizer are restored afterwards.  Four suggestions,
 * computed like fastai on lrs[num_it/10 : -5] (truncated before a NaN), with
 * the recorded values rounded to float32 as fastai's tensors are.
 */
#ifndef FASTC_LEARN_LR_FIND_H
#define FASTC_LEARN_LR_FIND_H

#include "core/err.h"

typedef struct LrSuggest {
    double valley, minimum, steep, slide;      /* the suggested rates */
    /* where each is marked on the plot (lr, loss); minimum is marked at lr_min */
    double valley_pt[2], minimum_pt[2], steep_pt[2], slide_pt[2];
} LrSuggest;

/* From the whole record (n batches).  ERR_RUNTIME when too few points remain. */
int lr_suggest(const double *lrs, const double *losses, int n, int num_it, LrSuggest *out, Err *err);

/* The lr before batch i (0-based). */
double lr_find_lr(double start_lr, double end_lr, int num_it, int i);

typedef struct LrFindResult {
    int n;                 /* batches recorded */
    double *lrs, *losses;  /* [n], malloc'ed; free with lr_find_result_free */
    LrSuggest sug;
} LrFindResult;

/* The run itself is learner_lr_find (learner.h). */

/* lr_find.png in dir: loss against lr (log x), suggestions marked. */
int lr_find_plot(const LrFindResult *r, const char *dir, Err *err);
void lr_find_result_free(LrFindResult *r);

#endif
