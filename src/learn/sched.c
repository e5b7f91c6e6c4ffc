/* sched.c — one-cycle formulas, slice → per-group rates, and the schedule
 * line as stages.  Formulas: FASTAI_REFERENCE.md §3 and §5. */
#include "learn/sched.h"


#include <math.h>
#include <stdlib.h>
#include <string.h>

double sched_lin(double s, double e, double pos) { return s + pos * (e - s); }
double sched_cos(double s, double e, double pos) { return s + (1 + cos(M_PI * (1 - pos))) * (e - s) / 2; }
double sched_exp(double s, double e, double pos) { return s * pow(e / s, pos); }

double sched_combined_cos(double pct, double start, double middle, double end, double pos)
{
    if (pos < pct) return sched_cos(start, middle, pos / pct);
    return sched_cos(middle, end, (pos - pct) / (1 - pct));
}

LrSpec lr_num(double v) { return (LrSpec){.kind = LR_NUM, .hi = v}; }
LrSpec lr_slice(double lo, double hi) { return (LrSpec){.kind = LR_SLICE, .lo = lo, .hi = hi}; }

void even_mults(double lo, double hi, int n, double *out)
{
    if (n == 1) {
        out[0] = hi;
        return;
    }
    double step = pow(hi / lo, 1.0 / (n - 1));
    /* fastcore: np.array([start*(step**i) for i in range(n)]) */
    for (int i = 0; i < n; i++) out[i] = lo * pow(step, i);
}

int lr_resolve(const LrSpec *s, int n, double *out, Err *err)
{
    switch (s->kind) {
    case LR_NONE:
    case LR_NUM:
        for (int i = 0; i < n; i++) out[i] = s->hi;
        return 0;
    case LR_SLICE:
        if (s->lo) even_mults(s->lo, s->hi, n, out);
        else {
            for (int i = 0; i < n - 1; i++) out[i] = s->hi / 10;
            out[n - 1] = s->hi;
        }
        return 0;
    case LR_LIST:
        if (s->n != n)
            return err_set(err, ERR_USAGE, "learning rate list has %d values, the model has %d parameter groups",
                           s->n, n);
        for (int i = 0; i < n; i++) out[i] = s->v[i];
        return 0;
    }
    return 0;
}

void one_cycle_at(const Stage *st, const double *lr_max, int n_groups, double pos, double *lr, double *mom)
{
    for (int g = 0; g < n_groups; g++)
        lr[g] = sched_combined_cos(st->pct_start, lr_max[g] / st->div, lr_max[g], lr_max[g] / st->div_final, pos);
    *mom = sched_combined_cos(st->pct_start, st->moms[0], st->moms[1], st->moms[2], pos);
}

void schedule_free(Schedule *s)
{
    if (!s) return;
    free(s->stages);
    memset(s, 0, sizeof *s);
}

int schedule_total_epochs(const Schedule *s)
{
    int t = 0;
    for (int i = 0; i < s->n; i++)
        if (s->stages[i].kind != STAGE_FREEZE_TO) t += s->stages[i].n_epoch;
    return t;
}
