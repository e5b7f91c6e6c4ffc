/* report.c — interpretation results as CSV text and printed tables.  Every
 * function writes to a FILE* it is given; the caller decides where (an atomic
 * file in the run folder, stdout). */
#include "interp/interp.h"

#include "io/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void interp_csv_field(FILE *f, const char *s)
{
    if (!s) s = "";
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *c = s; *c; c++) {
        if (*c == '"') fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

void interp_csv_confusion(FILE *f, const int64_t *cm, int nc, char *const *vocab)
{
    fputs("actual\\predicted", f);
    for (int j = 0; j < nc; j++) fputc(',', f), interp_csv_field(f, vocab[j]);
    fputc('\n', f);
    for (int i = 0; i < nc; i++) {
        interp_csv_field(f, vocab[i]);
        for (int j = 0; j < nc; j++) fprintf(f, ",%lld", (long long)cm[(size_t)i * nc + j]);
        fputc('\n', f);
    }
}

enum { MAX_COL = 14 };   /* longest class name shown in a printed column */

static int name_width(const char *s)
{
    int n = (int)strlen(s);
    return n > MAX_COL ? MAX_COL : n;
}

void interp_print_confusion(FILE *f, const int64_t *cm, int nc, char *const *vocab)
{
    /* First column: actual names; column j as wide as its name or its largest count. */
    int w0 = (int)strlen("actual\\predicted");
    for (int i = 0; i < nc; i++)
        if (name_width(vocab[i]) > w0) w0 = name_width(vocab[i]);
    fprintf(f, "%-*s", w0, "actual\\predicted");
    int *w = malloc(sizeof(int) * (size_t)(nc > 0 ? nc : 1));
    FASTC_ASSERT(w);
    for (int j = 0; j < nc; j++) {
        w[j] = name_width(vocab[j]);
        for (int i = 0; i < nc; i++) {
            int d = snprintf(NULL, 0, "%lld", (long long)cm[(size_t)i * nc + j]);
            if (d > w[j]) w[j] = d;
        }
        fprintf(f, "  %*.*s", w[j], MAX_COL, vocab[j]);
    }
    fputc('\n', f);
    for (int i = 0; i < nc; i++) {
        fprintf(f, "%-*.*s", w0, MAX_COL, vocab[i]);
        for (int j = 0; j < nc; j++) fprintf(f, "  %*lld", w[j], (long long)cm[(size_t)i * nc + j]);
        fputc('\n', f);
    }
    free(w);
}

void interp_csv_most_confused(FILE *f, const Confused *c, int n, char *const *vocab)
{
    fputs("actual,predicted,count\n", f);
    for (int i = 0; i < n; i++) {
        interp_csv_field(f, vocab[c[i].actual]);
        fputc(',', f);
        interp_csv_field(f, vocab[c[i].predicted]);
        fprintf(f, ",%lld\n", (long long)c[i].count);
    }
}

void interp_print_most_confused(FILE *f, const Confused *c, int n, char *const *vocab)
{
    int wa = (int)strlen("actual"), wp = (int)strlen("predicted");
    for (int i = 0; i < n; i++) {
        int a = (int)strlen(vocab[c[i].actual]), p = (int)strlen(vocab[c[i].predicted]);
        if (a > wa) wa = a;
        if (p > wp) wp = p;
    }
    fprintf(f, "%-*s  %-*s  %s\n", wa, "actual", wp, "predicted", "count");
    for (int i = 0; i < n; i++)
        fprintf(f, "%-*s  %-*s  %5lld\n", wa, vocab[c[i].actual], wp, vocab[c[i].predicted],
                (long long)c[i].count);
    if (n == 0) fputs("(no pair of classes reaches the minimum count)\n", f);
}

void interp_csv_thresholds(FILE *f, const ThreshRow *rows, int n)
{
    fputs("threshold,accuracy_multi,f1_samples\n", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%.6f,%.6f,%.6f\n", rows[i].thresh, rows[i].accuracy_multi, rows[i].f1_samples);
}

void interp_csv_class_stats(FILE *f, const ClassStats *s, int c, char *const *vocab)
{
    fputs("label,precision,recall,tp,fp,fn,support\n", f);
    for (int j = 0; j < c; j++) {
        interp_csv_field(f, vocab[j]);
        fprintf(f, ",%.6f,%.6f,%lld,%lld,%lld,%lld\n", s[j].precision, s[j].recall,
                (long long)s[j].tp, (long long)s[j].fp, (long long)s[j].fn, (long long)s[j].support);
    }
}

void interp_print_class_stats(FILE *f, const ClassStats *s, int c, char *const *vocab,
                              double thresh)
{
    int w = (int)strlen("label");
    for (int j = 0; j < c; j++)
        if ((int)strlen(vocab[j]) > w) w = (int)strlen(vocab[j]);
    fprintf(f, "per-class precision and recall at threshold %.4g:\n", thresh);
    fprintf(f, "%-*s  precision  recall  support\n", w, "label");
    for (int j = 0; j < c; j++)
        fprintf(f, "%-*s  %9.4f  %6.4f  %7lld\n", w, vocab[j], s[j].precision, s[j].recall,
                (long long)s[j].support);
}

void interp_csv_top_losses(FILE *f, const Preds *p, const int32_t *idx, int k,
                           const char *const *item_paths, char *const *vocab, double thresh)
{
    char buf[4096];
    switch (p->kind) {
    case TARGET_CATEGORY:
        fputs("path,actual,predicted,loss,prob_predicted,prob_actual\n", f);
        break;
    case TARGET_MULTI:
        fputs("path,actual,predicted,loss,wrong\n", f);
        break;
    default:
        fputs("path,loss,error_px\n", f);
        break;
    }
    for (int r = 0; r < k; r++) {
        int i = idx[r];
        const float *pr = p->probs + (size_t)i * p->n_out;
        interp_csv_field(f, item_paths[p->index[i]]);
        fputc(',', f);
        if (p->kind == TARGET_CATEGORY) {
            int32_t pred;
            interp_argmax(&pred, p->raw + (size_t)i * p->n_out, 1, p->n_out);
            int a = p->yi[i];
            int known = a >= 0 && a < p->n_out;
            interp_csv_field(f, known ? vocab[a] : "(not in vocab)");
            fputc(',', f);
            interp_csv_field(f, vocab[pred]);
            fprintf(f, ",%.6f,%.6f,", p->loss[i], pr[pred]);
            if (known) fprintf(f, "%.6f", pr[a]);
            fputc('\n', f);
        } else if (p->kind == TARGET_MULTI) {
            const float *t = p->y + (size_t)i * p->n_y;
            interp_labels_above(buf, sizeof buf, t, p->n_out, 0.5, vocab);
            interp_csv_field(f, buf);
            fputc(',', f);
            interp_labels_above(buf, sizeof buf, pr, p->n_out, thresh, vocab);
            interp_csv_field(f, buf);
            fprintf(f, ",%.6f,", p->loss[i]);
            interp_wrong_labels(buf, sizeof buf, pr, t, p->n_out, thresh, vocab);
            interp_csv_field(f, buf);
            fputc('\n', f);
        } else {
            double e = p->kind == TARGET_POINTS
                           ? interp_point_error(pr, p->y + (size_t)i * p->n_y, p->n_y, p->w, p->h)
                           : sqrt(p->loss[i]);
            fprintf(f, "%.6f,%.4f\n", p->loss[i], e);
        }
    }
}

/* ---- the same as JSON ------------------------------------------------------------ */

/* The labels whose value passes `keep` as a JSON array of strings. */
static void labels_json(JsonBuf *b, const float *probs, const float *t, int c, double thresh, int which,
                        char *const *vocab)
{
    json_buf_putc(b, '[');
    for (int j = 0; j < c; j++) {
        int p = (double)probs[j] > thresh, a = t && t[j] > 0.5f;
        int keep = which == 0 ? p : which == 1 ? (a && !p) : (p && !a);   /* above, missed, extra */
        if (keep) json_buf_sep(b), json_buf_str(b, vocab[j]);
    }
    json_buf_putc(b, ']');
}

void interp_json_confusion(JsonBuf *b, const int64_t *cm, int nc)
{
    json_buf_putc(b, '[');
    for (int i = 0; i < nc; i++) {
        json_buf_sep(b);
        json_buf_putc(b, '[');
        for (int j = 0; j < nc; j++) json_buf_sep(b), json_buf_int(b, cm[(size_t)i * nc + j]);
        json_buf_putc(b, ']');
    }
    json_buf_putc(b, ']');
}

void interp_json_most_confused(JsonBuf *b, const Confused *c, int n, char *const *vocab)
{
    json_buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        json_buf_sep(b);
        json_buf_putc(b, '{');
        json_buf_key(b, "actual");
        json_buf_str(b, vocab[c[i].actual]);
        json_buf_key(b, "predicted");
        json_buf_str(b, vocab[c[i].predicted]);
        json_buf_key(b, "count");
        json_buf_int(b, c[i].count);
        json_buf_putc(b, '}');
    }
    json_buf_putc(b, ']');
}

void interp_json_thresholds(JsonBuf *b, const ThreshRow *rows, int n)
{
    json_buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        json_buf_sep(b);
        json_buf_putc(b, '{');
        json_buf_key(b, "threshold");
        json_buf_num(b, rows[i].thresh);
        json_buf_key(b, "accuracy_multi");
        json_buf_num(b, rows[i].accuracy_multi);
        json_buf_key(b, "f1_samples");
        json_buf_num(b, rows[i].f1_samples);
        json_buf_putc(b, '}');
    }
    json_buf_putc(b, ']');
}

void interp_json_class_stats(JsonBuf *b, const ClassStats *s, int c, char *const *vocab)
{
    json_buf_putc(b, '[');
    for (int j = 0; j < c; j++) {
        json_buf_sep(b);
        json_buf_putc(b, '{');
        json_buf_key(b, "label");
        json_buf_str(b, vocab[j]);
        json_buf_key(b, "precision");
        json_buf_num(b, s[j].precision);
        json_buf_key(b, "recall");
        json_buf_num(b, s[j].recall);
        json_buf_printf(b, ", \"tp\": %lld, \"fp\": %lld, \"fn\": %lld, \"support\": %lld", (long long)s[j].tp,
                        (long long)s[j].fp, (long long)s[j].fn, (long long)s[j].support);
        json_buf_putc(b, '}');
    }
    json_buf_putc(b, ']');
}

void interp_json_top_losses(JsonBuf *b, const Preds *p, const int32_t *idx, int k, const char *const *item_paths,
                            char *const *vocab, double thresh)
{
    json_buf_putc(b, '[');
    for (int r = 0; r < k; r++) {
        int i = idx[r];
        const float *pr = p->probs + (size_t)i * p->n_out;
        json_buf_sep(b);
        json_buf_putc(b, '{');
        json_buf_key(b, "path");
        json_buf_str(b, item_paths[p->index[i]]);
        if (p->kind == TARGET_CATEGORY) {
            int32_t pred;
            interp_argmax(&pred, p->raw + (size_t)i * p->n_out, 1, p->n_out);
            int a = p->yi[i], known = a >= 0 && a < p->n_out;
            json_buf_key(b, "actual");
            if (known) json_buf_str(b, vocab[a]);
            else json_buf_raw(b, "null", 4);   /* not in the vocab */
            json_buf_key(b, "predicted");
            json_buf_str(b, vocab[pred]);
            json_buf_key(b, "loss");
            json_buf_float(b, p->loss[i]);
            json_buf_key(b, "prob_predicted");
            json_buf_float(b, pr[pred]);
            json_buf_key(b, "prob_actual");
            if (known) json_buf_float(b, pr[a]);
            else json_buf_raw(b, "null", 4);
        } else if (p->kind == TARGET_MULTI) {
            const float *t = p->y + (size_t)i * p->n_y;
            json_buf_key(b, "actual");
            labels_json(b, t, NULL, p->n_out, 0.5, 0, vocab);
            json_buf_key(b, "predicted");
            labels_json(b, pr, NULL, p->n_out, thresh, 0, vocab);
            json_buf_key(b, "loss");
            json_buf_float(b, p->loss[i]);
            json_buf_key(b, "missed");
            labels_json(b, pr, t, p->n_out, thresh, 1, vocab);
            json_buf_key(b, "extra");
            labels_json(b, pr, t, p->n_out, thresh, 2, vocab);
        } else {
            json_buf_key(b, "loss");
            json_buf_float(b, p->loss[i]);
            json_buf_key(b, "error_input_px");
            json_buf_num(b, p->kind == TARGET_POINTS
                                ? interp_point_error(pr, p->y + (size_t)i * p->n_y, p->n_y, p->w, p->h)
                                : sqrt(p->loss[i]));
        }
        json_buf_putc(b, '}');
    }
    json_buf_putc(b, ']');
}
