/* metrics.c — see metrics.h; fastai's metrics.py. */
#include "learn/metrics.h"

#include "config/config.h"

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

static int call_num(const CfgValue *c, int pos, const char *name, double *out, const char *file, Err *err)
{
    for (int i = 0; i < c->n; i++) {
        int match = (c->names && c->names[i]) ? strcmp(c->names[i], name) == 0 : i == pos;
        if (!match) continue;
        const CfgValue *a = c->items[i];
        if (a->kind == CV_NUM || a->kind == CV_BOOL) {
            *out = a->num;
            return 0;
        }
        return err_set(err, ERR_USAGE, "%s:%d: [learner] metrics: %s(%s=...): expected a number", file, c->line,
                       c->str, name);
    }
    return 0;
}

static int one_metric(const CfgValue *v, const char *file, Metric *m, Err *err)
{
    static const struct { const char *name; MetricKind kind; } K[] = {
        {"error_rate", METRIC_ERROR_RATE}, {"accuracy", METRIC_ACCURACY}, {"accuracy_multi", METRIC_ACCURACY_MULTI},
        {"mse", METRIC_MSE}, {"rmse", METRIC_RMSE}, {"mae", METRIC_MAE},
    };
    if ((v->kind != CV_IDENT && v->kind != CV_CALL) || !v->str)
        return err_set(err, ERR_USAGE, "%s:%d: [learner] metrics: expected metric names like error_rate", file,
                       v->line);
    memset(m, 0, sizeof *m);
    int found = 0;
    for (size_t i = 0; i < sizeof K / sizeof K[0]; i++)
        if (strcmp(K[i].name, v->str) == 0) m->kind = K[i].kind, found = 1;
    if (!found)
        return err_set(err, ERR_USAGE,
                       "%s:%d: [learner] metrics: unknown metric '%s', expected error_rate, accuracy, "
                       "accuracy_multi, mse, rmse or mae",
                       file, v->line, v->str);
    snprintf(m->name, sizeof m->name, "%s", v->str);
    m->thresh = 0.5, m->sigmoid = 1;
    if (v->kind == CV_CALL) {
        if (m->kind != METRIC_ACCURACY_MULTI && v->n > 0)
            return err_set(err, ERR_USAGE, "%s:%d: [learner] metrics: %s takes no arguments", file, v->line, v->str);
        for (int i = 0; i < v->n; i++) {
            const char *nm = v->names ? v->names[i] : NULL;
            if (nm && strcmp(nm, "thresh") && strcmp(nm, "sigmoid"))
                return err_set(err, ERR_USAGE, "%s:%d: [learner] metrics: accuracy_multi() has no argument '%s'",
                               file, v->line, nm);
        }
        double s = 1;
        if (call_num(v, 0, "thresh", &m->thresh, file, err) || call_num(v, 1, "sigmoid", &s, file, err))
            return err->code;
        m->sigmoid = s != 0;
    }
    return 0;
}

int metrics_parse(const CfgValue *v, const char *file, Metrics *ms, Err *err)
{
    memset(ms, 0, sizeof *ms);
    if (!v || v->kind == CV_NONE) return 0;
    int n = v->kind == CV_LIST ? v->n : 1;
    if (n > METRICS_MAX)
        return err_set(err, ERR_USAGE, "%s:%d: [learner] metrics: at most %d metrics", file, v->line, METRICS_MAX);
    for (int i = 0; i < n; i++)
        if (one_metric(v->kind == CV_LIST ? v->items[i] : v, file, &ms->m[i], err)) return err->code;
    ms->n = n;
    return 0;
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
