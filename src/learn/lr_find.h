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
#include "io/json.h"

typedef struct LrSuggest {
    double valley, minimum, steep, slide;      /* the suggested rates */
    /* where each is marked on the plot (lr, loss); minimum is marked at lr_min */
    double valley_pt[2], minimum_pt[2], steep_pt[2], slide_pt[2];
} LrSuggest;

/* fastai's slide(lr_diff=15, thresh=.005, adjust_value=1.) arguments. */
typedef struct LrSlideArgs {
    int lr_diff;
    double thresh, adjust_value;
} LrSlideArgs;
#define LR_SLIDE_DEFAULT ((LrSlideArgs){15, 0.005, 1.0})

/* From the whole record (n batches).  ERR_RUNTIME when too few points remain. */
int lr_suggest(const double *lrs, const double *losses, int n, int num_it, LrSuggest *out, Err *err);
/* The same with slide's arguments (lr_suggest: LR_SLIDE_DEFAULT). */
int lr_suggest_with(const double *lrs, const double *losses, int n, int num_it, const LrSlideArgs *slide,
                    LrSuggest *out, Err *err);

/* The lr before batch i (0-based). */
double lr_find_lr(double start_lr, double end_lr, int num_it, int i);

typedef struct LrFindResult {
    int n;                 /* batches recorded */
    double *lrs, *losses;  /* [n], malloc'ed; free with lr_find_result_free */
    LrSuggest sug;
} LrFindResult;

/* The run itself is learner_lr_find (learner.h). */

/* The suggest_funcs asked for, as bits (fastai's default: valley alone); the
 * same bits as a schedule step's LR_REF_* (sched.h): 1 << (ref - 1). */
enum { LR_SUG_VALLEY = 1, LR_SUG_MINIMUM = 2, LR_SUG_STEEP = 4, LR_SUG_SLIDE = 8 };

/* path (lr_find.png or lr_find_<k>.png): loss against lr (log x), the
 * suggestions asked for marked and named in the legend. */
int lr_find_plot(const LrFindResult *r, const char *path, unsigned suggest, Err *err);
/* path: "lr,loss" then one row per batch, numbers as Python writes them
 * (they read back exactly). */
int lr_find_write_csv(const LrFindResult *r, const char *path, Err *err);
/* Read such a file back and compute its suggestions (lr_suggest with num_it):
 * a resumed run recovers an lr_find() step's result from the file it wrote. */
int lr_find_read_csv(const char *path, int num_it, const LrSlideArgs *slide, LrFindResult *r, Err *err);
/* "SuggestedLRs(minimum=0.000301995, steep=0.00144544)": the ones asked for,
 * in fastai's order (valley, minimum, steep, slide). */
void lr_find_format(const LrSuggest *g, unsigned suggest, char *buf, size_t cap);
/* The same as JSON members: "minimum": 0.000301995, "steep": ... */
void lr_find_json(JsonBuf *b, const LrSuggest *g, unsigned suggest);
void lr_find_result_free(LrFindResult *r);

#endif
