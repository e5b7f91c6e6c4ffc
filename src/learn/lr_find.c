/* lr_find.c — suggestions (valley, minimum, steep, slide) as in fastai
 * callback/schedule.py, and the finder run over a learner. */
#include "learn/lr_find.h"


#include "io/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double lr_find_lr(double start_lr, double end_lr, int num_it, int i)
{
    return start_lr * pow(end_lr / start_lr, (double)i / num_it);
}

/* np.interp(x, xp, fp) with increasing xp. */
static double interp(double x, const double *xp, const float *fp, int n)
{
    if (x <= xp[0]) return fp[0];
    if (x >= xp[n - 1]) return fp[n - 1];
    for (int i = 1; i < n; i++)
        if (x <= xp[i]) {
            double t = (x - xp[i - 1]) / (xp[i] - xp[i - 1]);
            return fp[i - 1] + t * (fp[i] - fp[i - 1]);
        }
    return fp[n - 1];
}

int lr_suggest(const double *all_lrs, const double *all_losses, int n_all, int num_it, LrSuggest *o, Err *err)
{
    int lo = num_it / 10, hi = n_all - 5;
    int n = hi - lo;
    if (n < 2)
        return err_set(err, ERR_RUNTIME,
                       "lr_find: only %d batches recorded, too few to suggest a learning rate (need more than %d)",
                       n_all, lo + 6);
    float *lr = malloc(sizeof *lr * n), *ls = malloc(sizeof *ls * n), *grad = malloc(sizeof *grad * n);
    int *lds = malloc(sizeof *lds * n);
    double *llr = malloc(sizeof *llr * n);
    if (!lr || !ls || !grad || !lds || !llr) {
        free(lr), free(ls), free(grad), free(lds), free(llr);
        return err_set(err, ERR_RUNTIME, "lr_find: out of memory");
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (isnan((float)all_losses[lo + i])) break;   /* truncate before the first NaN */
        lr[m] = (float)all_lrs[lo + i], ls[m] = (float)all_losses[lo + i];
        m++;
    }
    n = m;
    if (n < 2) {
        free(lr), free(ls), free(grad), free(lds), free(llr);
        return err_set(err, ERR_RUNTIME, "lr_find: the loss was NaN too early to suggest a learning rate");
    }

    /* minimum: lrs[argmin(losses)] / 10 */
    int amin = 0;
    for (int i = 1; i < n; i++)
        if (ls[i] < ls[amin]) amin = i;
    o->minimum = lr[amin] / 10.0;
    o->minimum_pt[0] = lr[amin], o->minimum_pt[1] = ls[amin];

    /* steep: lr at the start of the steepest descending segment (float32 math) */
    int as = 0;
    float gbest = 0;
    for (int i = 0; i + 1 < n; i++) {
        float g = (ls[i + 1] - ls[i]) / (logf(lr[i + 1]) - logf(lr[i]));
        if (i == 0 || g < gbest) gbest = g, as = i;
    }
    o->steep = lr[as];
    o->steep_pt[0] = lr[as], o->steep_pt[1] = ls[as];

    /* valley: longest strictly decreasing subsequence, fastai's exact loop */
    int max_start = 0, max_end = 0;
    for (int i = 0; i < n; i++) lds[i] = 1;
    for (int i = 1; i < n; i++)
        for (int j = 0; j < i; j++) {
            if (ls[i] < ls[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
            if (lds[max_end] < lds[i]) {
                max_end = i;
                max_start = max_end - lds[max_end];
            }
        }
    double sections = (max_end - max_start) / 3.0;
    int idx = max_start + (int)sections + (int)(sections / 2);
    o->valley = lr[idx];
    o->valley_pt[0] = lr[idx], o->valley_pt[1] = ls[idx];

    /* slide: np.gradient, then walk left while the gradients 15 apart differ */
    if (n == 1) grad[0] = 0;
    else {
        grad[0] = ls[1] - ls[0];
        grad[n - 1] = ls[n - 1] - ls[n - 2];
        for (int i = 1; i < n - 1; i++) grad[i] = (ls[i + 1] - ls[i - 1]) / 2.0f;
    }
    int r = n - 1, l = r - 15;
    double local = lr[l >= 0 ? l : 0];
    while (l >= 0 && fabsf(grad[r] - grad[l]) > 0.005f) {
        local = lr[l];
        r--, l--;
    }
    o->slide = local;
    for (int i = 0; i < n; i++) llr[i] = log10((double)lr[i]);
    o->slide_pt[0] = local, o->slide_pt[1] = interp(log10(local), llr, ls, n);
    free(lr), free(ls), free(grad), free(lds), free(llr);
    return 0;
}

void lr_find_result_free(LrFindResult *r)
{
    if (!r) return;
    free(r->lrs), free(r->losses);
    memset(r, 0, sizeof *r);
}

int lr_find_plot(const LrFindResult *r, const char *dir, Err *err)
{
    /* fastai's plot_lr_find: loss against lr on a log-x axis, skipping the last
     * 5 points, with the suggestions marked */
    int n = r->n > 5 ? r->n - 5 : r->n;
    char path[4200], lab[4][64];
    snprintf(path, sizeof path, "%s/lr_find.png", dir);
    PlotSeries s = {.label = NULL, .x = r->lrs, .y = r->losses, .n = n, .color = plot_color(0), .style = PLOT_LINE};
    const LrSuggest *g = &r->sug;
    snprintf(lab[0], 64, "valley %.2e", g->valley);
    snprintf(lab[1], 64, "minimum/10 %.2e", g->minimum);
    snprintf(lab[2], 64, "steep %.2e", g->steep);
    snprintf(lab[3], 64, "slide %.2e", g->slide);
    PlotMark m[4] = {
        {g->valley_pt[0], g->valley_pt[1], lab[0], plot_color(1), MARK_CIRCLE},
        {g->minimum_pt[0], g->minimum_pt[1], lab[1], plot_color(2), MARK_CROSS},
        {g->steep_pt[0], g->steep_pt[1], lab[2], plot_color(3), MARK_PLUS},
        {g->slide_pt[0], g->slide_pt[1], lab[3], plot_color(4), MARK_DOT},
    };
    LinePlot lp = {.title = "Learning rate finder", .xlabel = "Learning Rate", .ylabel = "Loss", .log_x = 1,
                   .series = &s, .n_series = 1, .marks = m, .n_marks = 4};
    return plot_lines(&lp, path, err);
}
