/* figures.c — lr_find.png and losses.png as fastai draws them (see figures.h). */
#include "io/figures.h"

#include "io/plot.h"

#include <stdio.h>
#include <stdlib.h>

int fig_lr_find(const char *path, const double *lrs, const double *losses, int n, const FigSuggestion *sug,
                int n_sug, Err *err)
{
    int shown = n - FIG_LR_FIND_SKIP_END;
    if (shown < 1) shown = n; /* a run cut very short: show what there is */
    PlotSeries s = {NULL, lrs, losses, shown, plot_color(0), PLOT_LINE};
    char labels[8][64];
    PlotMark marks[8];
    if (n_sug > 8) n_sug = 8;
    for (int i = 0; i < n_sug; i++) {
        snprintf(labels[i], sizeof labels[i], "%s: %.2e", sug[i].name, sug[i].lr);
        marks[i] = (PlotMark){sug[i].x, sug[i].y, labels[i], plot_color(i + 1), MARK_DOT};
    }
    LinePlot p = {.xlabel = "Learning Rate", .ylabel = "Loss", .log_x = 1, .series = &s, .n_series = 1,
                  .marks = marks, .n_marks = n_sug};
    return plot_lines(&p, path, err);
}

int fig_losses(const char *path, const double *train, int n_train, const double *valid_iter, const double *valid,
               int n_valid, Err *err)
{
    double *it = malloc(sizeof(double) * (n_train > 0 ? (size_t)n_train : 1));
    if (!it) return err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    for (int i = 0; i < n_train; i++) it[i] = i;
    PlotSeries s[2] = {{"train", it, train, n_train, plot_color(0), PLOT_LINE},
                       {"valid", valid_iter, valid, n_valid, plot_color(1), n_valid > 1 ? PLOT_LINE : PLOT_POINTS}};
    LinePlot p = {.xlabel = "batches", .ylabel = "loss", .series = s, .n_series = n_valid > 0 ? 2 : 1};
    int rc = plot_lines(&p, path, err);
    free(it);
    return rc;
}
