/* figures.h — fastai's standard training figures, drawn with io/plot.
 *
 *   fig_lr_find   lr_find.png as fastai's `plot_lr_find`: loss against learning
 *                 rate on a log axis, the last 5 points skipped (skip_end=5),
 *                 each suggestion a dot in the next tab10 colour with a legend
 *                 entry "valley: 1.20e-03".
 *   fig_losses    losses.png as fastai's `Recorder.plot_loss`: the (smoothed)
 *                 train loss per batch and the valid loss at the batch count
 *                 where each epoch ended, with a legend.
 * Both write the PNG atomically; errors name the file. */
#ifndef FASTC_IO_FIGURES_H
#define FASTC_IO_FIGURES_H

#include "core/err.h"

typedef struct FigSuggestion {
    const char *name;     /* "valley", "minimum", "steep", "slide" */
    double lr;            /* the suggested rate, written in the legend */
    double x, y;          /* where it is marked on the curve (lr, loss) */
} FigSuggestion;

#define FIG_LR_FIND_SKIP_END 5

int fig_lr_find(const char *path, const double *lrs, const double *losses, int n, const FigSuggestion *sug,
                int n_sug, Err *err);

/* train[i] is the loss after batch i+1; valid[k] is plotted at x = valid_iter[k]
 * (batches done when epoch k ended). */
int fig_losses(const char *path, const double *train, int n_train, const double *valid_iter, const double *valid,
               int n_valid, Err *err);

#endif
