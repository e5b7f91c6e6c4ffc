/* recorder.h — what fastai's Recorder and ProgressCallback show: the smoothed
 * training loss, the per-epoch table, metrics.csv rows and --json lines.
 *
 * Smoothed loss (AvgSmoothLoss, beta 0.98): val ← lerp(loss, val, 0.98) in
 * float32, reported debiased as val/(1 − 0.98^count); reset at before_fit only.
 *
 * Table (fastprogress ConsoleMasterBar): each column name right-padded to 8
 * characters at least, names joined by two spaces; each cell left-aligned and
 * padded to len(name)+2; floats %.6f, epoch as an integer, time mm:ss (h:mm:ss
 * past an hour).
 */
#ifndef FASTC_LEARN_RECORDER_H
#define FASTC_LEARN_RECORDER_H

#include <stddef.h>

typedef struct SmoothLoss {
    float val;
    int count;
} SmoothLoss;

void   smooth_reset(SmoothLoss *s);
/* Add one batch loss, return the debiased value. */
double smooth_add(SmoothLoss *s, double loss);
double smooth_value(const SmoothLoss *s);

/* "mm:ss" or "h:mm:ss" of a whole number of seconds (fastprogress format_time). */
void format_time(double seconds, char *buf, size_t cap);

enum { TABLE_MAX_COLS = 16 };

typedef struct Table {
    int n;                             /* columns: epoch, train_loss, valid_loss, metrics..., time */
    char names[TABLE_MAX_COLS][32];
    int no_valid;                      /* no validation set: valid_loss and the metrics are empty
                                          cells in the table and CSV, null in JSON */
} Table;

void table_init(Table *t, const char *const *metric_names, int n_metrics);
/* The header line (no newline). */
void table_header(const Table *t, char *buf, size_t cap);
/* One row: values[0..n-3] are train_loss, valid_loss, metrics (a NAN value
 * prints "nan"; with no_valid the validation cells are left empty). */
void table_row(const Table *t, int epoch, const double *values, double seconds, char *buf, size_t cap);
/* metrics.csv: header "epoch,train_loss,...,time" and a row with values at
 * full precision (%.17g shortest round-trip like Python's str) and mm:ss. */
void table_csv_header(const Table *t, char *buf, size_t cap);
void table_csv_row(const Table *t, int epoch, const double *values, double seconds, char *buf, size_t cap);
/* --json: {"epoch": 0, "train_loss": ..., ..., "time": "00:12", "seconds": 12.0,
 * "data_wait_s": 0.01}; data_wait_s (the seconds the training steps waited for
 * their batches) is left out when negative. */
void table_json_row(const Table *t, int epoch, const double *values, double seconds, double data_wait_s, char *buf,
                    size_t cap);

/* Python's repr of a float (shortest string that reads back the same). */
void format_pyfloat(double v, char *buf, size_t cap);

#endif
