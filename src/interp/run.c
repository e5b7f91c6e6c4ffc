/* run.c — the text and CSV part of `fastc interpret`: from the predictions of
 * the validation set to the files in the run folder and the printed tables.
 * Pictures are drawn by the command (through io/plot.h) from InterpSummary. */
#include "interp/interp.h"

#include "io/atomic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_PRINTED_VOCAB = 30 };   /* --confusion prints the matrix up to this size */

/* A report is built in memory, then written atomically as one file. */
typedef struct Text {
    char *s;
    size_t n;
    FILE *f;
} Text;

static FILE *text_open(Text *t)
{
    t->s = NULL, t->n = 0;
    t->f = open_memstream(&t->s, &t->n);
    return t->f;
}

static void add_file(InterpSummary *sum, const char *name)
{
    if (sum->n_files < INTERP_MAX_FILES) snprintf(sum->files[sum->n_files++], sizeof sum->files[0], "%s", name);
}

static int text_save(Text *t, const char *dir, const char *name, InterpSummary *sum, Err *err)
{
    char path[4096];
    add_file(sum, name);
    fclose(t->f);
    t->f = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = t->s ? atomic_write_file(path, t->s, t->n, err) : err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    free(t->s);
    t->s = NULL;
    return rc;
}

void interp_summary_free(InterpSummary *s)
{
    if (!s) return;
    free(s->cm);
    free(s->top);
    memset(s, 0, sizeof *s);
}

static int report_category(const InterpOpts *o, const Preds *p, char *const *vocab, int nc,
                           const char *dir, FILE *out, InterpSummary *sum, Err *err)
{
    int32_t *pred = malloc(sizeof(int32_t) * ((size_t)p->n + 1));
    sum->cm = malloc(sizeof(int64_t) * ((size_t)nc * nc + 1));
    sum->nc = nc;
    if (!pred || !sum->cm) {
        free(pred);
        return err_set(err, ERR_RUNTIME, "interpret: out of memory");
    }
    interp_argmax(pred, p->raw, p->n, p->n_out);
    sum->skipped = interp_confusion(sum->cm, p->yi, pred, p->n, nc);
    free(pred);
    Text t;
    text_open(&t);
    interp_csv_confusion(t.f, sum->cm, nc, vocab);
    int rc = text_save(&t, dir, "confusion.csv", sum, err);
    if (rc) return rc;
    JsonBuf *j = o->json;
    if (j) {
        json_buf_key(j, "vocab");
        json_buf_putc(j, '[');
        for (int i = 0; i < nc; i++) json_buf_sep(j), json_buf_str(j, vocab[i]);
        json_buf_putc(j, ']');
        json_buf_key(j, "confusion");   /* always: rows actual, columns predicted */
        interp_json_confusion(j, sum->cm, nc);
        json_buf_key(j, "not_in_vocab");
        json_buf_int(j, sum->skipped);
    }
    if (sum->skipped && out)
        fprintf(out, "note: %d validation item(s) have a label that is not in the training vocab; "
                     "they are not in the confusion matrix\n", sum->skipped);
    if (o->confusion && out) {
        if (nc <= MAX_PRINTED_VOCAB)
            interp_print_confusion(out, sum->cm, nc, vocab);
        else
            fprintf(out, "confusion matrix: %d classes are too many to print; see %s/confusion.csv "
                         "and confusion.png\n", nc, dir);
    }
    if (o->most_confused) {
        Confused *mc = malloc(sizeof(Confused) * ((size_t)nc * nc + 1));
        if (!mc) return err_set(err, ERR_RUNTIME, "interpret: out of memory");
        int n = interp_most_confused(mc, sum->cm, nc, o->min_count);
        if (out) interp_print_most_confused(out, mc, n, vocab);
        if (j) json_buf_key(j, "most_confused"), interp_json_most_confused(j, mc, n, vocab);
        text_open(&t);
        interp_csv_most_confused(t.f, mc, n, vocab);
        free(mc);
        if ((rc = text_save(&t, dir, "most_confused.csv", sum, err))) return rc;
    }
    return 0;
}

static int report_multi(const InterpOpts *o, const Preds *p, char *const *vocab, int nc,
                        const char *dir, FILE *out, InterpSummary *sum, Err *err)
{
    Text t;
    int rc;
    ClassStats *cs = malloc(sizeof(ClassStats) * ((size_t)nc + 1));
    if (!cs) return err_set(err, ERR_RUNTIME, "interpret: out of memory");
    interp_class_stats(cs, p->probs, p->y, p->n, nc, o->thresh);
    sum->accuracy_multi = interp_accuracy_multi(p->probs, p->y, p->n, nc, o->thresh);
    /* all-negative baseline: every label predicted absent (a threshold above every probability) */
    sum->baseline_accuracy_multi = interp_accuracy_multi(p->y, p->y, p->n, nc, 2.0);
    JsonBuf *j = o->json;
    if (out) {
        fprintf(out, "accuracy_multi at threshold %.4g: %.6f (all-negative baseline: %.6f)\n", o->thresh,
                sum->accuracy_multi, sum->baseline_accuracy_multi);
        interp_print_class_stats(out, cs, nc, vocab, o->thresh);
    }
    if (j) {
        json_buf_key(j, "threshold");
        json_buf_num(j, o->thresh);
        json_buf_key(j, "accuracy_multi");
        json_buf_num(j, sum->accuracy_multi);
        json_buf_key(j, "baseline_accuracy_multi");   /* every label predicted absent */
        json_buf_num(j, sum->baseline_accuracy_multi);
        json_buf_key(j, "per_class");
        interp_json_class_stats(j, cs, nc, vocab);
    }
    text_open(&t);
    interp_csv_class_stats(t.f, cs, nc, vocab);
    free(cs);
    if ((rc = text_save(&t, dir, "per_class.csv", sum, err))) return rc;
    if (o->thresholds) {
        ThreshRow rows[INTERP_N_THRESH];
        interp_threshold_sweep(rows, &sum->best_thresh, p->probs, p->y, p->n, nc);
        memcpy(sum->sweep, rows, sizeof rows);
        sum->has_sweep = 1;
        const ThreshRow *b = &rows[sum->best_thresh];
        if (out) {
            fprintf(out, "threshold  accuracy_multi  f1_samples\n");
            for (int i = 0; i < INTERP_N_THRESH; i++)
                fprintf(out, "%9.4f  %14.6f  %10.6f%s\n", rows[i].thresh, rows[i].accuracy_multi,
                        rows[i].f1_samples, i == sum->best_thresh ? "  <- best" : "");
            fprintf(out, "best threshold: %.4g (accuracy_multi %.6f, f1_samples %.6f); "
                         "the configured threshold is %.4g\n",
                    b->thresh, b->accuracy_multi, b->f1_samples, o->thresh);
        }
        if (j) {
            json_buf_key(j, "thresholds");
            interp_json_thresholds(j, rows, INTERP_N_THRESH);
            json_buf_key(j, "best_threshold");
            json_buf_num(j, b->thresh);
        }
        text_open(&t);
        interp_csv_thresholds(t.f, rows, INTERP_N_THRESH);
        if ((rc = text_save(&t, dir, "thresholds.csv", sum, err))) return rc;
    }
    if (o->most_confused) {
        int64_t *pairs = malloc(sizeof(int64_t) * ((size_t)nc * nc + 1));
        Confused *mc = malloc(sizeof(Confused) * ((size_t)nc * nc + 1));
        if (!pairs || !mc) {
            free(pairs), free(mc);
            return err_set(err, ERR_RUNTIME, "interpret: out of memory");
        }
        interp_multi_confusion(pairs, p->probs, p->y, p->n, nc, o->thresh);
        int n = interp_most_confused(mc, pairs, nc, o->min_count);
        if (out) {
            fprintf(out, "label missed (actual) and label predicted instead, per image:\n");
            interp_print_most_confused(out, mc, n, vocab);
        }
        if (j) json_buf_key(j, "most_confused"), interp_json_most_confused(j, mc, n, vocab);
        text_open(&t);
        interp_csv_most_confused(t.f, mc, n, vocab);
        free(pairs), free(mc);
        if ((rc = text_save(&t, dir, "most_confused.csv", sum, err))) return rc;
    }
    return 0;
}

static int report_points(const InterpOpts *o, const Preds *p, const char *const *item_paths,
                         const char *dir, FILE *out, InterpSummary *sum, Err *err)
{
    int n_y = p->n_y;
    double *mean = calloc((size_t)n_y + 1, sizeof(double));
    float *meanf = calloc((size_t)n_y + 1, sizeof(float));
    if (!mean || !meanf) {
        free(mean), free(meanf);
        return err_set(err, ERR_RUNTIME, "interpret: out of memory");
    }
    for (int i = 0; i < p->n; i++)
        for (int k = 0; k < n_y; k++) mean[k] += p->y[(size_t)i * n_y + k];
    for (int k = 0; k < n_y; k++) meanf[k] = (float)(p->n ? mean[k] / p->n : 0);
    Text t;
    text_open(&t);
    fputs(o->maps ? "path,error_px,error_input_px\n" : "path,error_input_px\n", t.f);
    double s = 0, b = 0, sf = 0, bf = 0;
    for (int i = 0; i < p->n; i++) {
        const float *pr = p->probs + (size_t)i * p->n_out, *y = p->y + (size_t)i * n_y;
        double e = interp_point_error(pr, y, n_y, p->w, p->h);
        s += e;
        b += interp_point_error(meanf, y, n_y, p->w, p->h);
        interp_csv_field(t.f, item_paths[p->index[i]]);
        if (o->maps) {
            double ef = interp_point_error_mapped(pr, y, n_y, o->maps + 4 * (size_t)i);
            sf += ef;
            bf += interp_point_error_mapped(meanf, y, n_y, o->maps + 4 * (size_t)i);
            fprintf(t.f, ",%.4f", ef);
        }
        fprintf(t.f, ",%.4f\n", e);
    }
    free(mean), free(meanf);
    int n = p->n > 0 ? p->n : 1;
    sum->mean_point_error = s / n, sum->baseline_point_error = b / n;
    sum->mean_point_error_file = sf / n, sum->baseline_point_error_file = bf / n;
    if (o->json) {
        JsonBuf *j = o->json;
        json_buf_printf(j, ", \"input_size\": [%d, %d]", p->h, p->w);
        json_buf_key(j, "mean_point_error_px");   /* in the images' own pixels; null when unknown */
        json_buf_num(j, o->maps ? sum->mean_point_error_file : NAN);
        json_buf_key(j, "baseline_point_error_px");   /* the mean target point for every image */
        json_buf_num(j, o->maps ? sum->baseline_point_error_file : NAN);
        json_buf_key(j, "mean_point_error_input_px");
        json_buf_num(j, sum->mean_point_error);
        json_buf_key(j, "baseline_point_error_input_px");
        json_buf_num(j, sum->baseline_point_error);
    } else if (out && o->maps) {
        fprintf(out, "mean point error: %.3f pixels of the images (%.3f of the %dx%d model input), "
                     "%d validation images\n",
                sum->mean_point_error_file, sum->mean_point_error, p->w, p->h, p->n);
        fprintf(out, "baseline, the mean target point for every image: %.3f pixels of the images "
                     "(%.3f of the model input)\n",
                sum->baseline_point_error_file, sum->baseline_point_error);
    } else if (out) {
        fprintf(out, "mean point error: %.3f pixels of the %dx%d model input (%d validation images)\n",
                sum->mean_point_error, p->w, p->h, p->n);
        fprintf(out, "baseline, the mean target point for every image: %.3f pixels of the model input\n",
                sum->baseline_point_error);
    }
    return text_save(&t, dir, "point_errors.csv", sum, err);
}

int interp_report(const InterpOpts *o, const Preds *p, const char *const *item_paths,
                  char *const *vocab, int n_vocab, const char *dir, FILE *out,
                  InterpSummary *sum, Err *err)
{
    memset(sum, 0, sizeof *sum);
    int rc = 0;
    if ((p->kind == TARGET_CATEGORY || p->kind == TARGET_MULTI) && n_vocab != p->n_out)
        return err_set(err, ERR_RUNTIME, "interpret: the model gives %d outputs but the vocab has %d labels",
                       p->n_out, n_vocab);
    switch (p->kind) {
    case TARGET_CATEGORY: rc = report_category(o, p, vocab, n_vocab, dir, out, sum, err); break;
    case TARGET_MULTI: rc = report_multi(o, p, vocab, n_vocab, dir, out, sum, err); break;
    case TARGET_POINTS: rc = report_points(o, p, item_paths, dir, out, sum, err); break;
    case TARGET_RATING: break;
    }
    if (rc) return rc;
    if (o->top_losses > 0 && p->n > 0) {
        sum->top = malloc(sizeof(int32_t) * (size_t)p->n);
        if (!sum->top) return err_set(err, ERR_RUNTIME, "interpret: out of memory");
        sum->n_top = interp_top_losses(sum->top, p->loss, p->n, o->top_losses);
        if (o->json) {
            json_buf_key(o->json, "top_losses");
            interp_json_top_losses(o->json, p, sum->top, sum->n_top, item_paths, vocab, o->thresh);
        }
        Text t;
        text_open(&t);
        interp_csv_top_losses(t.f, p, sum->top, sum->n_top, item_paths, vocab, o->thresh);
        if ((rc = text_save(&t, dir, "top_losses.csv", sum, err))) return rc;
    }
    return 0;
}
