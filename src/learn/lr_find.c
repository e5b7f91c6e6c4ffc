/* lr_find.c — suggestions (valley, minimum, steep, slide) as in fastai
 * callback/schedule.py, and the finder run over a learner. */
#include "learn/lr_find.h"


#include "io/atomic.h"
#include "io/plot.h"
#include "learn/recorder.h"

#include <errno.h>
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

int lr_suggest(const double *lrs, const double *losses, int n, int num_it, LrSuggest *out, Err *err)
{
    LrSlideArgs d = LR_SLIDE_DEFAULT;
    return lr_suggest_with(lrs, losses, n, num_it, &d, out, err);
}

int lr_suggest_with(const double *all_lrs, const double *all_losses, int n_all, int num_it, const LrSlideArgs *sl,
                    LrSuggest *o, Err *err)
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
    int r = n - 1, l = r - sl->lr_diff;
    double local = lr[l >= 0 ? l : 0];
    while (l >= 0 && fabsf(grad[r] - grad[l]) > (float)sl->thresh) {
        local = lr[l];
        r--, l--;
    }
    o->slide = local * sl->adjust_value;
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

/* The suggestions asked for, in fastai's order: name, value, marked point, marker. */
typedef struct SugRow {
    int bit;
    const char *name, *label;
    double v;
    const double *pt;
    PlotMarker mark;
    int color;   /* plot_color index: the same for a suggestion whichever others are shown */
} SugRow;

static int sug_rows(const LrSuggest *g, unsigned suggest, SugRow *rows)
{
    SugRow all[4] = {
        {LR_SUG_VALLEY, "valley", "valley", g->valley, g->valley_pt, MARK_CIRCLE, 1},
        {LR_SUG_MINIMUM, "minimum", "minimum/10", g->minimum, g->minimum_pt, MARK_CROSS, 2},
        {LR_SUG_STEEP, "steep", "steep", g->steep, g->steep_pt, MARK_PLUS, 3},
        {LR_SUG_SLIDE, "slide", "slide", g->slide, g->slide_pt, MARK_DOT, 4},
    };
    int n = 0;
    for (int i = 0; i < 4; i++)
        if (suggest & (unsigned)all[i].bit) rows[n++] = all[i];
    return n;
}

int lr_find_plot(const LrFindResult *r, const char *path, unsigned suggest, Err *err)
{
    /* fastai's plot_lr_find: loss against lr on a log-x axis, skipping the last
     * 5 points, with the suggestions asked for marked */
    int n = r->n > 5 ? r->n - 5 : r->n;
    char lab[4][64];
    PlotSeries s = {.label = NULL, .x = r->lrs, .y = r->losses, .n = n, .color = plot_color(0), .style = PLOT_LINE};
    SugRow rows[4];
    int k = sug_rows(&r->sug, suggest, rows);
    PlotMark m[4];
    for (int i = 0; i < k; i++) {
        snprintf(lab[i], sizeof lab[i], "%s %.2e", rows[i].label, rows[i].v);
        m[i] = (PlotMark){rows[i].pt[0], rows[i].pt[1], lab[i], plot_color(rows[i].color), rows[i].mark};
    }
    LinePlot lp = {.title = "Learning rate finder", .xlabel = "Learning Rate", .ylabel = "Loss", .log_x = 1,
                   .series = &s, .n_series = 1, .marks = m, .n_marks = k};
    return plot_lines(&lp, path, err);
}

int lr_find_write_csv(const LrFindResult *r, const char *path, Err *err)
{
    AtomicFile af;
    if (atomic_open(&af, path, err)) return err->code;
    fprintf(af.f, "lr,loss\n");
    for (int i = 0; i < r->n; i++) {
        char a[64], b[64];
        format_pyfloat(r->lrs[i], a, sizeof a), format_pyfloat(r->losses[i], b, sizeof b);
        fprintf(af.f, "%s,%s\n", a, b);
    }
    return atomic_commit(&af, err);
}

int lr_find_read_csv(const char *path, int num_it, const LrSlideArgs *slide, LrFindResult *r, Err *err)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (!f) return err_set(err, ERR_RUNTIME, "%s: cannot read: %s", path, strerror(errno));
    char line[256];
    int cap = 0, lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        if (++lineno == 1) {
            if (strcmp(line, "lr,loss\n")) rc = err_set(err, ERR_RUNTIME, "%s:1: expected the header lr,loss", path);
            continue;
        }
        char *e1, *e2;
        double lr = strtod(line, &e1), loss = *e1 == ',' ? strtod(e1 + 1, &e2) : 0;
        if (*e1 != ',' || (*e2 != '\n' && *e2) || !(lr > 0)) {
            rc = err_set(err, ERR_RUNTIME, "%s:%d: expected lr,loss", path, lineno);
            break;
        }
        if (r->n == cap) {
            cap = cap ? 2 * cap : 128;
            double *a = realloc(r->lrs, sizeof *a * (size_t)cap);
            double *b = a ? realloc(r->losses, sizeof *b * (size_t)cap) : NULL;
            if (a) r->lrs = a;
            if (b) r->losses = b;
            if (!a || !b) rc = err_set(err, ERR_RUNTIME, "%s: out of memory", path);
        }
        if (!rc) r->lrs[r->n] = lr, r->losses[r->n] = loss, r->n++;
    }
    fclose(f);
    if (!rc) rc = lr_suggest_with(r->lrs, r->losses, r->n, num_it, slide, &r->sug, err);
    if (rc) lr_find_result_free(r);
    return rc;
}

void lr_find_format(const LrSuggest *g, unsigned suggest, char *buf, size_t cap)
{
    SugRow rows[4];
    int k = sug_rows(g, suggest, rows);
    size_t o = (size_t)snprintf(buf, cap, "SuggestedLRs(");
    for (int i = 0; i < k && o < cap; i++) o += (size_t)snprintf(buf + o, cap - o, "%s%s=%.6g", i ? ", " : "",
                                                                 rows[i].name, rows[i].v);
    if (o < cap) snprintf(buf + o, cap - o, ")");
}

void lr_find_json(JsonBuf *b, const LrSuggest *g, unsigned suggest)
{
    SugRow rows[4];
    int k = sug_rows(g, suggest, rows);
    for (int i = 0; i < k; i++) json_buf_key(b, rows[i].name), json_buf_num(b, rows[i].v);
}
