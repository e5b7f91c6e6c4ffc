/* metrics.h — fastai's validation metrics, accumulated over the valid set.
 *
 *   error_rate, accuracy     1 − / mean(argmax(out) == y)           (AvgMetric)
 *   accuracy_multi(thresh=0.5, sigmoid=True)
 *                            mean over (item, label) cells of ((sigmoid(out) > thresh) == y)
 *   mse, mae                 mean of (out − y)², |out − y|           (AvgMetric)
 *   rmse                     sqrt of the mse over the whole set      (AccumMetric(_rmse))
 * AvgMetric is fastai's batch-size-weighted mean of per-batch means; with the
 * same number of cells per item it equals the mean over every cell, which is
 * what is accumulated here (sums in double).
 */
#ifndef FASTC_LEARN_METRICS_H
#define FASTC_LEARN_METRICS_H

#include "core/err.h"
#include "data/batch.h"

typedef enum MetricKind {
    METRIC_ERROR_RATE, METRIC_ACCURACY, METRIC_ACCURACY_MULTI, METRIC_MSE, METRIC_RMSE, METRIC_MAE
} MetricKind;

typedef struct Metric {
    MetricKind kind;
    char name[32];          /* column name, fastai's */
    double thresh;          /* accuracy_multi */
    int sigmoid;            /* accuracy_multi */
    double sum, count;      /* accumulators */
} Metric;

enum { METRICS_MAX = 8 };

typedef struct Metrics {
    int n;
    Metric m[METRICS_MAX];
} Metrics;

/* The setup layer fills Metrics from [learner] metrics (setup/learn.c). */
/* Whether a metric fits the target kind (accuracy on ratings is an error). */
int metrics_check(const Metrics *ms, TargetKind kind, const char *file, Err *err);

void metrics_reset(Metrics *ms);
/* Accumulate one batch: out [b->n, n_out]. */
void metrics_add(Metrics *ms, const float *out, int n_out, const Batch *b);
/* Value of metric i over what was accumulated. */
double metrics_value(const Metrics *ms, int i);

/* The one decision of the multi-label threshold used by predict/interpret and
 * the metric: accuracy_multi's thresh when that metric is used, else the
 * loss's (BCEWithLogitsLossFlat thresh=0.5). */
double metrics_multi_thresh(const Metrics *ms, double loss_thresh);

#endif
