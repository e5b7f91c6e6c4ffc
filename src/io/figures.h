/* figures.h — fastai's standard training figures, drawn with io/plot.
 *
 *   fig_lr_find   lr_find.png as fastai's `plot_lr_find`: loss against learning
 *                 rate on a log axis, the last 5 points skipped (skip_end=5),
 *                 each suggestion a dot in the next tab10 colour with a legend
 *                 entry "valley: 1.20e-03".
 *   fig_losses    losses.png as fastai's `Recorder.plot_loss`: the (smoothed)
 *                 train loss per batch and the valid loss at the batch count
 *                 where each epoch ended, with a legend.
 *   fig_thresholds  thresholds.png as the lesson plots its sweep
 *                 (`plt.plot(xs, accs)`): accuracy_multi against threshold, the
 *                 best threshold a red dot named in the legend, the
 *                 configured threshold a dashed vertical line.
 * Both write the PNG atomically; errors name the file. */
#ifndef FASTC_IO_FIGURES_H
#define FASTC_IO_FIGURES_H

#include "core/err.h"
#include "io/plot.h"

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

/* thresh[n], acc[n]: the sweep; best: index of the chosen threshold;
 * configured: the config's threshold (NaN: not drawn).  _render returns the
 * canvas and its axes (tests). */
Canvas *fig_thresholds_render(const double *thresh, const double *acc, int n, int best, double configured,
                              PlotAxes *axes, Err *err);
int fig_thresholds(const char *path, const double *thresh, const double *acc, int n, int best, double configured,
                   Err *err);

#endif
