/* interp.c — the pure part of interpretation: activations, per-item losses,
 * confusion matrix, most_confused, top losses, the multi-label threshold
 * sweep, per-class precision/recall and point errors.  Arrays in, results
 * out; no I/O.  Sums are taken in double so results do not depend on order
 * subtleties of float accumulation. */
#include "interp/interp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- activations and per-item losses ---------------------------------- */

void interp_softmax(float *probs, const float *logits, int n, int c)
{
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * c;
        float *p = probs + (size_t)i * c;
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < c; j++)
            if (x[j] > mx) mx = x[j];
        for (int j = 0; j < c; j++) s += exp((double)x[j] - mx);
        for (int j = 0; j < c; j++) p[j] = (float)(exp((double)x[j] - mx) / s);
    }
}

void interp_sigmoid(float *p, const float *x, int n)
{
    for (int k = 0; k < n; k++) p[k] = (float)(1.0 / (1.0 + exp(-(double)x[k])));
}

void interp_argmax(int32_t *out, const float *x, int n, int c)
{
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * c;
        int b = 0;
        for (int j = 1; j < c; j++)
            if (r[j] > r[b]) b = j;
        out[i] = b;
    }
}

/* ---- single-label classification -------------------------------------- */

int interp_confusion(int64_t *cm, const int32_t *actual, const int32_t *pred, int n, int nc)
{
    memset(cm, 0, sizeof(int64_t) * (size_t)nc * nc);
    int skipped = 0;
    for (int i = 0; i < n; i++) {
        if (actual[i] < 0 || actual[i] >= nc || pred[i] < 0 || pred[i] >= nc) {
            skipped++;
            continue;
        }
        cm[(size_t)actual[i] * nc + pred[i]]++;
    }
    return skipped;
}

int interp_most_confused(Confused *out, const int64_t *cm, int nc, int64_t min_count)
{
    int k = 0;
    for (int a = 0; a < nc; a++)
        for (int p = 0; p < nc; p++) {
            int64_t v = a == p ? 0 : cm[(size_t)a * nc + p];   /* np.fill_diagonal(cm, 0) */
            if (v < min_count) continue;
            out[k++] = (Confused){a, p, v};
        }
    /* Stable insertion sort by count descending: ties stay row-major. */
    for (int i = 1; i < k; i++) {
        Confused x = out[i];
        int j = i - 1;
        while (j >= 0 && out[j].count < x.count) {
            out[j + 1] = out[j];
            j--;
        }
        out[j + 1] = x;
    }
    return k;
}

/* Whether item a sorts before item b: larger loss first, NaN last, then index. */
static int loss_before(const float *loss, int32_t a, int32_t b)
{
    float la = loss[a], lb = loss[b];
    int na = isnan(la), nb = isnan(lb);
    if (na != nb) return nb;
    if (!na && la != lb) return la > lb;
    return a < b;
}

static void merge_sort_idx(int32_t *v, int32_t *tmp, int n, const float *loss)
{
    if (n < 2) return;
    int h = n / 2;
    merge_sort_idx(v, tmp, h, loss);
    merge_sort_idx(v + h, tmp, n - h, loss);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = loss_before(loss, v[j], v[i]) ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, sizeof(int32_t) * (size_t)n);
}

int interp_top_losses(int32_t *idx, const float *loss, int n, int k)
{
    if (k > n) k = n;
    if (k <= 0) return 0;
    int32_t *all = malloc(sizeof(int32_t) * (size_t)n), *tmp = malloc(sizeof(int32_t) * (size_t)n);
    FASTC_ASSERT(all && tmp);
    for (int i = 0; i < n; i++) all[i] = i;
    merge_sort_idx(all, tmp, n, loss);
    memcpy(idx, all, sizeof(int32_t) * (size_t)k);
    free(all);
    free(tmp);
    return k;
}

/* ---- multi-label ------------------------------------------------------- */

void interp_thresholds(double *out)
{
    /* numpy: step = (stop - start) / (num - 1); y = arange(num) * step + start;
     * y[-1] = stop. */
    const double start = 0.05, stop = 0.95;
    const double step = (stop - start) / (INTERP_N_THRESH - 1);
    for (int i = 0; i < INTERP_N_THRESH; i++) out[i] = i * step + start;
    out[INTERP_N_THRESH - 1] = stop;
}

double interp_accuracy_multi(const float *probs, const float *t, int n, int c, double thresh)
{
    size_t cells = (size_t)n * c, ok = 0;
    if (cells == 0) return 0;
    for (size_t k = 0; k < cells; k++) ok += ((double)probs[k] > thresh) == (t[k] > 0.5f);
    return (double)ok / (double)cells;
}

double interp_f1_samples(const float *probs, const float *t, int n, int c, double thresh)
{
    if (n == 0) return 0;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        int tp = 0, fp = 0, fn = 0;
        for (int j = 0; j < c; j++) {
            int p = (double)probs[(size_t)i * c + j] > thresh, a = t[(size_t)i * c + j] > 0.5f;
            tp += p && a, fp += p && !a, fn += !p && a;
        }
        int den = 2 * tp + fp + fn;
        sum += den ? 2.0 * tp / den : 0.0;   /* zero_division: 0, as sklearn's default */
    }
    return sum / n;
}

void interp_multi_confusion(int64_t *pairs, const float *probs, const float *t, int n, int c,
                            double thresh)
{
    memset(pairs, 0, sizeof(int64_t) * (size_t)c * c);
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * c, *y = t + (size_t)i * c;
        for (int a = 0; a < c; a++) {
            if (!(y[a] > 0.5f) || (double)p[a] > thresh) continue;   /* a not missed */
            for (int b = 0; b < c; b++)
                if ((double)p[b] > thresh && !(y[b] > 0.5f)) pairs[(size_t)a * c + b]++;
        }
    }
}

void interp_threshold_sweep(ThreshRow *rows, int *best, const float *probs, const float *t, int n,
                            int c)
{
    double th[INTERP_N_THRESH];
    interp_thresholds(th);
    *best = 0;
    for (int i = 0; i < INTERP_N_THRESH; i++) {
        rows[i].thresh = th[i];
        rows[i].accuracy_multi = interp_accuracy_multi(probs, t, n, c, th[i]);
        rows[i].f1_samples = interp_f1_samples(probs, t, n, c, th[i]);
        if (rows[i].accuracy_multi > rows[*best].accuracy_multi) *best = i;
    }
}

void interp_class_stats(ClassStats *stats, const float *probs, const float *t, int n, int c,
                        double thresh)
{
    for (int j = 0; j < c; j++) {
        ClassStats s = {0};
        for (int i = 0; i < n; i++) {
            int p = (double)probs[(size_t)i * c + j] > thresh, a = t[(size_t)i * c + j] > 0.5f;
            s.tp += p && a, s.fp += p && !a, s.fn += !p && a;
        }
        s.support = s.tp + s.fn;
        s.precision = s.tp + s.fp ? (double)s.tp / (double)(s.tp + s.fp) : 0.0;
        s.recall = s.tp + s.fn ? (double)s.tp / (double)(s.tp + s.fn) : 0.0;
        stats[j] = s;
    }
}

/* Append " word" (or "word" at the start) to buf, truncating at cap. */
static void append(char *buf, int cap, int *len, const char *s)
{
    if (*len >= cap - 1) return;
    int w = snprintf(buf + *len, (size_t)(cap - *len), "%s", s);
    *len += w < 0 ? 0 : w;
    if (*len > cap - 1) *len = cap - 1;
}

void interp_wrong_labels(char *buf, int cap, const float *probs, const float *t, int c,
                         double thresh, char *const *vocab)
{
    int len = 0;
    buf[0] = 0;
    for (int pass = 0; pass < 2; pass++) {   /* 0: missed (false negatives), 1: extra */
        int first = 1;
        for (int j = 0; j < c; j++) {
            int p = (double)probs[j] > thresh, a = t[j] > 0.5f;
            if (pass == 0 ? !(a && !p) : !(p && !a)) continue;
            if (first) {
                if (len) append(buf, cap, &len, "; ");
                append(buf, cap, &len, pass == 0 ? "missed:" : "extra:");
                first = 0;
            }
            append(buf, cap, &len, " ");
            append(buf, cap, &len, vocab[j]);
        }
    }
}

void interp_labels_above(char *buf, int cap, const float *probs, int c, double thresh,
                         char *const *vocab)
{
    int len = 0;
    buf[0] = 0;
    for (int j = 0; j < c; j++) {
        if (!((double)probs[j] > thresh)) continue;
        if (len) append(buf, cap, &len, " ");
        append(buf, cap, &len, vocab[j]);
    }
}

/* ---- points ------------------------------------------------------------ */

void interp_points_to_pixels(float *px, const float *scaled, int n_y, double w, double h)
{
    for (int k = 0; k + 1 < n_y; k += 2) {
        px[k] = (float)(((double)scaled[k] + 1.0) * w / 2.0);
        px[k + 1] = (float)(((double)scaled[k + 1] + 1.0) * h / 2.0);
    }
}

double interp_point_error(const float *pred, const float *targ, int n_y, double w, double h)
{
    int np = n_y / 2;
    if (np == 0) return 0;
    double s = 0;
    for (int k = 0; k < np; k++) {
        double dx = ((double)pred[2 * k] - targ[2 * k]) * w / 2.0;
        double dy = ((double)pred[2 * k + 1] - targ[2 * k + 1]) * h / 2.0;
        s += sqrt(dx * dx + dy * dy);
    }
    return s / np;
}

double interp_point_error_mapped(const float *pred, const float *targ, int n_y, const double map[4])
{
    int np = n_y / 2;
    if (np == 0) return 0;
    double s = 0;
    for (int k = 0; k < np; k++) {
        double dx = ((double)pred[2 * k] - targ[2 * k]) / map[0];
        double dy = ((double)pred[2 * k + 1] - targ[2 * k + 1]) / map[2];
        s += sqrt(dx * dx + dy * dy);
    }
    return s / np;
}
