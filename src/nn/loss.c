/* loss.c — fastai's Flat losses with mean reduction (see loss.h). */
#include "nn/loss.h"

#include <math.h>
#include <stddef.h>

float loss_cross_entropy(float *dout, float *per_item, const float *x, const int32_t *y, int n, int c)
{
    return loss_label_smoothing(dout, per_item, x, y, n, c, 0.0);
}

float loss_label_smoothing(float *dout, float *per_item, const float *x, const int32_t *y, int n, int c,
                           double eps)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c;
        float mx = xi[0];
        for (int j = 1; j < c; j++) mx = xi[j] > mx ? xi[j] : mx;
        double se = 0, sx = 0;
        for (int j = 0; j < c; j++) se += exp((double)xi[j] - mx), sx += xi[j];
        double lse = mx + log(se);
        double li = lse - (1 - eps) * xi[y[i]] - (eps != 0 ? eps * sx / c : 0);
        total += li;
        if (per_item) per_item[i] = (float)li;
        if (dout)
            for (int j = 0; j < c; j++)
                dout[(size_t)i * c + j] = (float)((exp((double)xi[j] - lse) - eps / c - (1 - eps) * (j == y[i])) / n);
    }
    return (float)(total / n);
}

float loss_bce_logits(float *dout, float *per_item, const float *x, const float *y, int n, int c)
{
    double total = 0, m = (double)n * c;
    for (int i = 0; i < n; i++) {
        double item = 0;
        for (int j = 0; j < c; j++) {
            size_t k = (size_t)i * c + j;
            double v = x[k], t = y[k];
            double l = (v > 0 ? v : 0) - v * t + log1p(exp(-fabs(v)));
            item += l;
            if (dout) {
                double s = v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v));
                dout[k] = (float)((s - t) / m);
            }
        }
        total += item;
        if (per_item) per_item[i] = (float)(item / c);
    }
    return (float)(total / m);
}

float loss_mse(float *dout, float *per_item, const float *x, const float *y, int n, int c)
{
    double total = 0, m = (double)n * c;
    for (int i = 0; i < n; i++) {
        double item = 0;
        for (int j = 0; j < c; j++) {
            size_t k = (size_t)i * c + j;
            double d = (double)x[k] - y[k];
            item += d * d;
            if (dout) dout[k] = (float)(2 * d / m);
        }
        total += item;
        if (per_item) per_item[i] = (float)(item / c);
    }
    return (float)(total / m);
}

float loss_l1(float *dout, float *per_item, const float *x, const float *y, int n, int c)
{
    double total = 0, m = (double)n * c;
    for (int i = 0; i < n; i++) {
        double item = 0;
        for (int j = 0; j < c; j++) {
            size_t k = (size_t)i * c + j;
            double d = (double)x[k] - y[k];
            item += fabs(d);
            if (dout) dout[k] = (float)((d > 0) - (d < 0)) / (float)m;
        }
        total += item;
        if (per_item) per_item[i] = (float)(item / c);
    }
    return (float)(total / m);
}

float loss_compute(LossKind kind, double eps, float *dout, float *per_item, const float *x,
                   const int32_t *yi, const float *y, int n, int c)
{
    switch (kind) {
    case LOSS_CROSS_ENTROPY: return loss_cross_entropy(dout, per_item, x, yi, n, c);
    case LOSS_LABEL_SMOOTHING: return loss_label_smoothing(dout, per_item, x, yi, n, c, eps);
    case LOSS_BCE_LOGITS: return loss_bce_logits(dout, per_item, x, y, n, c);
    case LOSS_MSE: return loss_mse(dout, per_item, x, y, n, c);
    case LOSS_L1: return loss_l1(dout, per_item, x, y, n, c);
    }
    return 0.0f;
}

const char *loss_name(LossKind kind)
{
    switch (kind) {
    case LOSS_CROSS_ENTROPY: return "CrossEntropyLossFlat";
    case LOSS_BCE_LOGITS: return "BCEWithLogitsLossFlat";
    case LOSS_MSE: return "MSELossFlat";
    case LOSS_L1: return "L1LossFlat";
    case LOSS_LABEL_SMOOTHING: return "LabelSmoothingCrossEntropy";
    }
    return "?";
}
