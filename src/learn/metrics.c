/* metrics.c — see metrics.h; fastai's metrics.py. */
#include "learn/metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int argmax(const float *v, int n)
{
    int k = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[k]) k = i;
    return k;
}

int metrics_check(const Metrics *ms, TargetKind kind, const char *file, Err *err)
{
    for (int i = 0; i < ms->n; i++) {
        MetricKind k = ms->m[i].kind;
        int ok = (k == METRIC_ERROR_RATE || k == METRIC_ACCURACY) ? kind == TARGET_CATEGORY
               : k == METRIC_ACCURACY_MULTI                      ? kind == TARGET_MULTI
                                                                 : kind == TARGET_POINTS || kind == TARGET_RATING;
        if (!ok) {
            static const char *tn[] = {"single-label categories", "multi-label categories", "points", "ratings"};
            return err_set(err, ERR_USAGE, "%s: [learner] metrics: %s does not apply to %s", file, ms->m[i].name,
                           tn[kind]);
        }
    }
    return 0;
}

void metrics_reset(Metrics *ms)
{
    for (int i = 0; i < ms->n; i++) ms->m[i].sum = ms->m[i].count = 0;
}

void metrics_add(Metrics *ms, const float *out, int n_out, const Batch *b)
{
    for (int i = 0; i < ms->n; i++) {
        Metric *m = &ms->m[i];
        double s = 0, cnt = 0;
        switch (m->kind) {
        case METRIC_ERROR_RATE:
        case METRIC_ACCURACY:
            for (int r = 0; r < b->n; r++) s += argmax(out + (size_t)r * n_out, n_out) == b->yi[r];
            cnt = b->n;
            if (m->kind == METRIC_ERROR_RATE) s = cnt - s;
            break;
        case METRIC_ACCURACY_MULTI:
            for (size_t j = 0; j < (size_t)b->n * n_out; j++) {
                double p = m->sigmoid ? 1 / (1 + exp(-(double)out[j])) : out[j];
                s += (p > m->thresh) == (b->y[j] != 0);
            }
            cnt = (double)b->n * n_out;
            break;
        case METRIC_MSE:
        case METRIC_RMSE:
        case METRIC_MAE:
            for (size_t j = 0; j < (size_t)b->n * n_out; j++) {
                double d = (double)out[j] - b->y[j];
                s += m->kind == METRIC_MAE ? fabs(d) : d * d;
            }
            cnt = (double)b->n * n_out;
            break;
        }
        m->sum += s, m->count += cnt;
    }
}

double metrics_value(const Metrics *ms, int i)
{
    const Metric *m = &ms->m[i];
    if (m->count == 0) return NAN;
    double v = m->sum / m->count;
    return m->kind == METRIC_RMSE ? sqrt(v) : v;
}

double metrics_multi_thresh(const Metrics *ms, double loss_thresh)
{
    for (int i = 0; i < ms->n; i++)
        if (ms->m[i].kind == METRIC_ACCURACY_MULTI) return ms->m[i].thresh;
    return loss_thresh;
}
