/* figures.c — lr_find.png, losses.png and thresholds.png as the lesson draws them (see figures.h). */
#include "io/figures.h"

#include "io/plot.h"

#include <math.h>
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

/* The lesson's `plt.plot(xs, accs)` with the best threshold marked and the
 * configured one as a dashed line. */
static LinePlot thresholds_plot(PlotSeries *s, PlotMark *mark, PlotVLine *vl, char *best_label, size_t cap_b,
                                char *conf_label, size_t cap_c, const double *thresh, const double *acc, int n,
                                int best, double configured)
{
    *s = (PlotSeries){"accuracy_multi", thresh, acc, n, plot_color(0), PLOT_LINE | PLOT_POINTS};
    snprintf(best_label, cap_b, "best: %.4g (accuracy_multi %.4f)", thresh[best], acc[best]);
    *mark = (PlotMark){thresh[best], acc[best], best_label, plot_color(3), MARK_DOT};
    snprintf(conf_label, cap_c, "configured: %.4g", configured);
    *vl = (PlotVLine){configured, conf_label, plot_color(7)};
    LinePlot p = {.title = "accuracy_multi against threshold", .xlabel = "threshold", .ylabel = "accuracy_multi",
                  .series = s, .n_series = 1, .marks = mark, .n_marks = 1, .vlines = vl,
                  .n_vlines = isfinite(configured) ? 1 : 0};
    return p;
}

Canvas *fig_thresholds_render(const double *thresh, const double *acc, int n, int best, double configured,
                              PlotAxes *axes, Err *err)
{
    if (n < 1 || best < 0 || best >= n) {
        err_set(err, ERR_RUNTIME, "thresholds.png: no sweep to plot");
        return NULL;
    }
    PlotSeries s;
    PlotMark mark;
    PlotVLine vl;
    char bl[96], cl[64];
    LinePlot p = thresholds_plot(&s, &mark, &vl, bl, sizeof bl, cl, sizeof cl, thresh, acc, n, best, configured);
    return plot_lines_render(&p, axes, err);
}

int fig_thresholds(const char *path, const double *thresh, const double *acc, int n, int best, double configured,
                   Err *err)
{
    Canvas *c = fig_thresholds_render(thresh, acc, n, best, configured, NULL, err);
    if (!c) return err_prefix(err, "%s: ", path);
    int rc = canvas_write_png(c, path, err);
    canvas_free(c);
    return rc;
}
