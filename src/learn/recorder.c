/* recorder.c — see recorder.h (fastai Recorder, fastprogress ConsoleMasterBar). */
#include "learn/recorder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void smooth_reset(SmoothLoss *s)
{
    s->val = 0, s->count = 0;
}

double smooth_add(SmoothLoss *s, double loss)
{
    /* torch.lerp(loss, val, 0.98) with weight >= 0.5: val − (val − loss)·(1 − 0.98) */
    float l = (float)loss, w1 = 1.0f - 0.98f;
    s->count++;
    s->val = s->val - (s->val - l) * w1;
    return smooth_value(s);
}

double smooth_value(const SmoothLoss *s)
{
    if (s->count == 0) return NAN;
    return (double)(s->val / (float)(1 - pow(0.98, s->count)));
}

void format_time(double seconds, char *buf, size_t cap)
{
    long t = seconds > 0 ? (long)seconds : 0;
    long h = t / 3600, m = (t / 60) % 60, s = t % 60;
    if (h) snprintf(buf, cap, "%ld:%02ld:%02ld", h, m, s);
    else snprintf(buf, cap, "%02ld:%02ld", m, s);
}

void table_init(Table *t, const char *const *metric_names, int n_metrics)
{
    memset(t, 0, sizeof *t);
    if (n_metrics > TABLE_MAX_COLS - 4) n_metrics = TABLE_MAX_COLS - 4;
    snprintf(t->names[t->n++], 32, "epoch");
    snprintf(t->names[t->n++], 32, "train_loss");
    snprintf(t->names[t->n++], 32, "valid_loss");
    for (int i = 0; i < n_metrics; i++) snprintf(t->names[t->n++], 32, "%s", metric_names[i]);
    snprintf(t->names[t->n++], 32, "time");
}

/* Append printf output to buf at *len, never overflowing. */
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#include <stdarg.h>
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k > 0) *len = *len + (size_t)k < cap ? *len + (size_t)k : cap - 1;
}

void table_header(const Table *t, char *buf, size_t cap)
{
    /* fastprogress: '  '.join(f'{name:<8}' ...) */
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < t->n; i++) put(buf, cap, &len, "%s%-8s", i ? "  " : "", t->names[i]);
}

void table_row(const Table *t, int epoch, const double *v, double seconds, char *buf, size_t cap)
{
    /* fastprogress: for each cell, text += t + ' ' * (2 + len(name) - len(t)), where
     * name is the header's padded name (at least 8 characters) */
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < t->n; i++) {
        char cell[64];
        if (i == 0) snprintf(cell, sizeof cell, "%d", epoch);
        else if (i == t->n - 1) format_time(seconds, cell, sizeof cell);
        else if (i >= 2 && t->no_valid) cell[0] = 0;
        else snprintf(cell, sizeof cell, "%.6f", v[i - 1]);
        int w = (int)strlen(t->names[i]);
        if (w < 8) w = 8;
        put(buf, cap, &len, "%-*s", w + 2, cell);
    }
}

void format_pyfloat(double v, char *buf, size_t cap)
{
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    /* Python writes integral floats as 1.0, and exponents as 1e-05 */
    if (!strpbrk(buf, ".en")) {
        size_t n = strlen(buf);
        if (n + 2 < cap) memcpy(buf + n, ".0", 3);
    }
}

void table_csv_header(const Table *t, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < t->n; i++) put(buf, cap, &len, "%s%s", i ? "," : "", t->names[i]);
}

void table_csv_row(const Table *t, int epoch, const double *v, double seconds, char *buf, size_t cap)
{
    size_t len = 0;
    char cell[64];
    buf[0] = 0;
    put(buf, cap, &len, "%d", epoch);
    for (int i = 1; i < t->n - 1; i++) {
        if (i >= 2 && t->no_valid) cell[0] = 0;
        else format_pyfloat(v[i - 1], cell, sizeof cell);
        put(buf, cap, &len, ",%s", cell);
    }
    format_time(seconds, cell, sizeof cell);
    put(buf, cap, &len, ",%s", cell);
}

void table_json_row(const Table *t, int epoch, const double *v, double seconds, double data_wait_s, char *buf,
                    size_t cap)
{
    size_t len = 0;
    char cell[64];
    buf[0] = 0;
    put(buf, cap, &len, "{\"epoch\": %d", epoch);
    for (int i = 1; i < t->n - 1; i++) {
        if (isfinite(v[i - 1]) && !(i >= 2 && t->no_valid)) format_pyfloat(v[i - 1], cell, sizeof cell);
        else snprintf(cell, sizeof cell, "null");
        put(buf, cap, &len, ", \"%s\": %s", t->names[i], cell);
    }
    format_time(seconds, cell, sizeof cell);
    put(buf, cap, &len, ", \"time\": \"%s\", \"seconds\": %.3f", cell, seconds);
    if (data_wait_s >= 0) put(buf, cap, &len, ", \"data_wait_s\": %.3f", data_wait_s);
    put(buf, cap, &len, "}");
}
