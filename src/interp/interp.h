/* interp.h — interpretation of a model's predictions: fastai's
 * ClassificationInterpretation (confusion matrix, most_confused, top_losses),
 * the multi-label threshold sweep and per-class precision/recall, and point
 * errors in pixels.
 *
 * Two layers:
 *   - pure functions on arrays (no I/O, no model): activations, per-item
 *     losses, confusion, most_confused, top losses, thresholds, point errors;
 *   - interp_get_preds(): runs a model over a split of a loader in order and
 *     collects outputs, activations, targets and per-item losses into Preds.
 *
 * Conventions (fastai's): per-item losses come from the loss API (nn/loss.h,
 * its per_item output) with the run's loss function:
 *   - CATEGORY: probs = softmax(logits); loss = cross-entropy per item (NaN for
 *     an item whose label is not in the vocab); prediction = argmax (first
 *     maximum on ties, as torch.argmax on CPU).
 *   - MULTI: probs = sigmoid(logits); loss per image = mean over labels of
 *     BCE-with-logits (fastai flattens per cell; an image's mean is the number
 *     that makes "top losses" per image meaningful).
 *   - POINTS, RATING: probs = raw outputs (identity); loss per item = mean of
 *     its element losses (MSELossFlat, or L1LossFlat when configured).
 */
#ifndef FASTC_INTERP_H
#define FASTC_INTERP_H

#include "core/err.h"
#include "data/batch.h"
#include "io/json.h"
#include "nn/loss.h"

#include <stdint.h>
#include <stdio.h>

typedef struct Model Model;
typedef struct Loaders Loaders;

/* ---- activations and per-item losses ---------------------------------- */

/* probs[n, c] = softmax of logits[n, c] per row (max-subtracted, in double). */
void interp_softmax(float *probs, const float *logits, int n, int c);
/* p[k] = 1 / (1 + exp(-x[k])), k < n. */
void interp_sigmoid(float *p, const float *x, int n);
/* argmax of each row (first maximum on ties). */
void interp_argmax(int32_t *out, const float *x, int n, int c);

/* ---- single-label classification -------------------------------------- */

/* cm[a * nc + p] = number of items with actual class a and predicted class p.
 * Items whose actual class is outside [0, nc) are not counted; returns how
 * many were skipped. */
int interp_confusion(int64_t *cm, const int32_t *actual, const int32_t *pred, int n, int nc);

typedef struct Confused {
    int actual, predicted;   /* class indices */
    int64_t count;
} Confused;

/* fastai's most_confused(min_val): diagonal zeroed, every cell with count >=
 * min_count in row-major order, stably sorted by count descending.  Exactly as
 * fastai, min_count <= 0 also lists zero cells (the diagonal included).
 * Writes at most nc*nc entries into out; returns how many. */
int interp_most_confused(Confused *out, const int64_t *cm, int nc, int64_t min_count);

/* The k largest losses (k clamped to n): idx[0..k) item indices, sorted by loss
 * descending; equal losses keep item order; NaN losses come last.  Returns k. */
int interp_top_losses(int32_t *idx, const float *loss, int n, int k);

/* ---- multi-label ------------------------------------------------------- */

/* np.linspace(0.05, 0.95, 29): the lesson's threshold sweep. */
enum { INTERP_N_THRESH = 29 };
void interp_thresholds(double *out /* [INTERP_N_THRESH] */);

/* fastai's accuracy_multi with sigmoid already applied: the fraction of all
 * (item, label) cells where (p > thresh) == (t > 0.5). */
double interp_accuracy_multi(const float *probs, const float *t, int n, int c, double thresh);

/* sklearn f1_score(y_true, probs > thresh, average='samples'): per image
 * F1 = 2 tp / (2 tp + fp + fn), averaged over images.  An image with no true
 * and no predicted label (0/0) counts as 0 — sklearn's default
 * zero_division="warn" (it warns and uses 0). */
double interp_f1_samples(const float *probs, const float *t, int n, int c, double thresh);

/* Multi-label "most confused": pairs[a * c + b] counts the images where
 * label a was missed and label b predicted instead (at thresh).  Read it
 * with interp_most_confused(): "a predicted as b". */
void interp_multi_confusion(int64_t *pairs, const float *probs, const float *t, int n, int c,
                            double thresh);

typedef struct ThreshRow {
    double thresh, accuracy_multi, f1_samples;
} ThreshRow;

/* Sweep the 29 thresholds.  *best = the row with the highest accuracy_multi
 * (the lesson's criterion; the lowest threshold wins ties). */
void interp_threshold_sweep(ThreshRow *rows /* [INTERP_N_THRESH] */, int *best,
                            const float *probs, const float *t, int n, int c);

typedef struct ClassStats {
    int64_t tp, fp, fn, support;   /* support = tp + fn (items with the label) */
    double precision, recall;      /* 0 when their denominator is 0 (sklearn's default) */
} ClassStats;

/* Per-label precision and recall at thresh: stats[c]. */
void interp_class_stats(ClassStats *stats, const float *probs, const float *t, int n, int c,
                        double thresh);

/* The labels of one image that are wrong at thresh, as text for a CSV cell or
 * a title: "missed: a b; extra: c" (either part omitted when empty; "" when
 * nothing is wrong).  Written into buf (truncated to cap). */
void interp_wrong_labels(char *buf, int cap, const float *probs, const float *t, int c,
                         double thresh, char *const *vocab);
/* Labels above thresh joined by ' ' (fastai's label_delim) into buf. */
void interp_labels_above(char *buf, int cap, const float *probs, int c, double thresh,
                         char *const *vocab);

/* ---- points ------------------------------------------------------------ */

/* Points in [-1, 1] to pixels of a w x h image, fastai's PointScaler inverse:
 * x_px = (x + 1) * w / 2, y_px = (y + 1) * h / 2.  n_y floats: x0,y0,x1,y1.. */
void interp_points_to_pixels(float *px, const float *scaled, int n_y, double w, double h);

/* Mean Euclidean distance in pixels between predicted and target points of
 * one image (both scaled to [-1, 1]) of size w x h. */
double interp_point_error(const float *pred, const float *targ, int n_y, double w, double h);

/* The same in a file's own pixels, given the map from its pixels to the
 * model input's [-1, 1] (prep.h): u = map[0] x + map[1], v = map[2] y + map[3]. */
double interp_point_error_mapped(const float *pred, const float *targ, int n_y, const double map[4]);

/* ---- predictions over a split ------------------------------------------ */

typedef struct Preds {
    TargetKind kind;
    LossKind loss_kind; /* the run's loss function */
    int n;          /* items of the split */
    int n_out;      /* model outputs per item */
    float *raw;     /* [n, n_out] model outputs */
    float *probs;   /* [n, n_out] after the loss function's activation */
    int n_y;        /* floats per item in y */
    int32_t *yi;    /* [n] actual class (CATEGORY), else NULL */
    float *y;       /* [n, n_y] targets (other kinds), else NULL */
    float *loss;    /* [n] per-item loss */
    int32_t *index; /* [n] index of each item in its split */
    int h, w;       /* input size of the batches (points are scaled to this) */
} Preds;

/* fastai's get_preds(with_loss=True): MODE_EVAL forward over every batch of
 * `split` in loader order, collecting outputs, activations, targets and
 * per-item losses.  The loader must yield the split in order. */
int  interp_get_preds(Model *m, Loaders *l, int split, LossKind loss, Preds *out, Err *err);
/* The loss fastai picks for a target kind (CE, BCE-with-logits, MSE). */
LossKind interp_default_loss(TargetKind kind);
/* Fill probs and loss of p from raw, the targets and p->loss_kind (used by
 * get_preds and by tests with hand-made outputs). */
void interp_fill_probs_losses(Preds *p);
void interp_preds_free(Preds *p);   /* NULL-safe; zeroes */

/* ---- reports: CSV files and printed tables ------------------------------
 * CSV: RFC 4180 (a field with a comma, quote or newline is quoted, quotes
 * doubled); numbers with %.6g except losses and probabilities (%.6f). */

void interp_csv_field(FILE *f, const char *s);
/* confusion.csv: header "actual\predicted,<vocab...>", one row per actual class. */
void interp_csv_confusion(FILE *f, const int64_t *cm, int nc, char *const *vocab);
/* The matrix as an aligned text table (rows actual, columns predicted). */
void interp_print_confusion(FILE *f, const int64_t *cm, int nc, char *const *vocab);
/* most_confused.csv: actual,predicted,count. */
void interp_csv_most_confused(FILE *f, const Confused *c, int n, char *const *vocab);
void interp_print_most_confused(FILE *f, const Confused *c, int n, char *const *vocab);
/* thresholds.csv: threshold,accuracy_multi,f1_samples. */
void interp_csv_thresholds(FILE *f, const ThreshRow *rows, int n);
/* per_class.csv: label,precision,recall,tp,fp,fn,support. */
void interp_csv_class_stats(FILE *f, const ClassStats *s, int c, char *const *vocab);
void interp_print_class_stats(FILE *f, const ClassStats *s, int c, char *const *vocab,
                              double thresh);

/* top_losses.csv for the k items idx[0..k) of p; item_paths[j] is the path of
 * split item j (p->index maps rows to split items).  Columns by task:
 *   CATEGORY: path,actual,predicted,loss,prob_predicted,prob_actual
 *   MULTI:    path,actual,predicted,loss,wrong   (labels joined by ' ', at thresh)
 *   POINTS:   path,loss,error_px                 (pixels of the model input)
 * vocab may be NULL for POINTS. */
void interp_csv_top_losses(FILE *f, const Preds *p, const int32_t *idx, int k,
                           const char *const *item_paths, char *const *vocab, double thresh);

/* The same as JSON values (io/json.h):
 *   confusion      [[counts of actual 0 per predicted class], ...]
 *   most_confused  [{"actual", "predicted", "count"}, ...]
 *   thresholds     [{"threshold", "accuracy_multi", "f1_samples"}, ...]
 *   class_stats    [{"label", "precision", "recall", "tp", "fp", "fn", "support"}, ...]
 *   top_losses     [{"path", "actual", "predicted", "loss", "prob_predicted", "prob_actual"}]
 *                  (multi-label: label lists and "missed", "extra"; points:
 *                  "loss", "error_input_px"); an actual label outside the vocab is null. */
void interp_json_confusion(JsonBuf *b, const int64_t *cm, int nc);
void interp_json_most_confused(JsonBuf *b, const Confused *c, int n, char *const *vocab);
void interp_json_thresholds(JsonBuf *b, const ThreshRow *rows, int n);
void interp_json_class_stats(JsonBuf *b, const ClassStats *s, int c, char *const *vocab);
void interp_json_top_losses(JsonBuf *b, const Preds *p, const int32_t *idx, int k, const char *const *item_paths,
                            char *const *vocab, double thresh);

/* ---- the whole report of `fastc interpret` (text and CSV; no pictures) -- */

typedef struct InterpOpts {
    int most_confused;     /* --most-confused */
    int64_t min_count;     /* --min N */
    int confusion;         /* --confusion: print the matrix */
    int top_losses;        /* --top-losses K (0 = off) */
    int thresholds;        /* --thresholds (multi-label) */
    double thresh;         /* the multi-label threshold (metrics_multi_thresh) */
    const double *maps;    /* POINTS: [n, 4] per row of the preds, file pixels → model
                            * input (prep.h), for errors in the images' own pixels; may be NULL */
    JsonBuf *json;         /* --json: the results as members of the object being built
                            * (interp_json_*), and nothing printed (out may be NULL) */
} InterpOpts;

enum { INTERP_MAX_FILES = 8 };

/* What interp_report found, for the pictures the caller draws. */
typedef struct InterpSummary {
    int64_t *cm;           /* [nc, nc] CATEGORY confusion (owned) */
    int nc;
    int32_t *top;          /* [n_top] top-loss rows of p (owned) */
    int n_top;
    int best_thresh;       /* index into the sweep (MULTI with --thresholds) */
    double mean_point_error; /* POINTS: mean over items, pixels of the model input */
    double baseline_point_error; /* ... predicting the mean validation target for every image */
    double mean_point_error_file, baseline_point_error_file; /* the same in the files' pixels (maps) */
    double accuracy_multi, baseline_accuracy_multi; /* MULTI at o->thresh; all-negative prediction */
    int skipped;           /* CATEGORY items whose label is not in the vocab */
    ThreshRow sweep[INTERP_N_THRESH]; /* MULTI with --thresholds: the sweep (thresholds.png) */
    int has_sweep;
    char files[INTERP_MAX_FILES][32]; /* the files written into dir, in order */
    int n_files;
} InterpSummary;

/* Write into `dir` and print to `out` what the options ask for:
 *   CATEGORY: confusion.csv always; --confusion prints it (vocab <= 30);
 *             --most-confused: most_confused.csv + table; --top-losses K: top_losses.csv
 *   MULTI:    per_class.csv + table always; --thresholds: thresholds.csv + table + best;
 *             --most-confused: label pairs (missed a, predicted b) -> most_confused.csv;
 *             --top-losses K: top_losses.csv (per-image BCE, wrong labels)
 *   MULTI also prints the all-negative baseline (every label predicted absent);
 *   POINTS:   point_errors.csv (path,error_px[,error_input_px]) always, the mean
 *             printed beside the baseline of predicting the mean target point;
 *             --top-losses K
 * Files are written whole or not at all (temporary name, then rename). */
int  interp_report(const InterpOpts *o, const Preds *p, const char *const *item_paths,
                   char *const *vocab, int n_vocab, const char *dir, FILE *out,
                   InterpSummary *sum, Err *err);
void interp_summary_free(InterpSummary *s);

#endif
