/* test_interp.c — src/interp: confusion, most_confused, top losses, the
 * multi-label threshold sweep, per-class stats, point errors and get_preds,
 * against answers worked out by hand (and PyTorch for the losses). */
#include "check_main.h"
#include "data/loader.h"
#include "interp/interp.h"
#include "models/model.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-item losses through the loss API with the task's activation. */
static void fill(Preds *p, TargetKind kind, LossKind lk, float *raw, int32_t *yi, float *y, int n, int c,
                 float *probs, float *loss)
{
    *p = (Preds){.kind = kind, .loss_kind = lk, .n = n, .n_out = c, .n_y = c, .raw = raw, .probs = probs,
                 .yi = yi, .y = y, .loss = loss};
    interp_fill_probs_losses(p);
}

START_TEST(losses_match_pytorch)
{
    /* torch.nn.functional.cross_entropy([[1,2,3],[.5,-1,.5]], [0,2], reduction='none') */
    float logits[] = {1, 2, 3, 0.5f, -1, 0.5f}, probs[6], loss[2];
    int32_t y[] = {0, 2};
    Preds p;
    fill(&p, TARGET_CATEGORY, LOSS_CROSS_ENTROPY, logits, y, NULL, 2, 3, probs, loss);
    ck_assert_double_eq_tol(loss[0], 2.4076058864593506, 1e-6);
    ck_assert_double_eq_tol(loss[1], 0.798916220664978, 1e-6);
    /* A label outside the vocab has no loss. */
    int32_t bad[] = {-1, 3};
    fill(&p, TARGET_CATEGORY, LOSS_CROSS_ENTROPY, logits, bad, NULL, 2, 3, probs, loss);
    ck_assert(isnan(loss[0]) && isnan(loss[1]));
    /* binary_cross_entropy_with_logits([[2,-1,0]], [[1,0,1]], reduction='none').mean(1) */
    float bl[] = {2, -1, 0}, bt[] = {1, 0, 1};
    fill(&p, TARGET_MULTI, LOSS_BCE_LOGITS, bl, NULL, bt, 1, 3, probs, loss);
    ck_assert_double_eq_tol(loss[0], 0.3777789771556854, 1e-6);
    ck_assert_double_eq_tol(probs[0], 0.8807970779778823, 1e-6);
    /* Large logits stay finite. */
    float big[] = {200, -200}, bt2[] = {0, 1};
    fill(&p, TARGET_MULTI, LOSS_BCE_LOGITS, big, NULL, bt2, 1, 2, probs, loss);
    ck_assert_double_eq_tol(loss[0], 200.0, 1e-3);
    float pr[] = {1, 2, 3, 4}, t[] = {1, 0, 3, 6};
    fill(&p, TARGET_POINTS, LOSS_MSE, pr, NULL, t, 2, 2, probs, loss);
    ck_assert_double_eq_tol(loss[0], 2.0, 1e-7);
    ck_assert_double_eq_tol(loss[1], 2.0, 1e-7);
    ck_assert_double_eq(probs[3], 4.0f);
}
END_TEST

START_TEST(softmax_rows_sum_to_one_and_argmax_takes_first_max)
{
    const float x[] = {1000, 1000, 0, -3, 2, 2};
    float p[6];
    interp_softmax(p, x, 2, 3);
    ck_assert_double_eq_tol(p[0], 0.5, 1e-6);
    ck_assert_double_eq_tol(p[1], 0.5, 1e-6);
    ck_assert_double_eq_tol(p[3] + p[4] + p[5], 1.0, 1e-6);
    int32_t am[2];
    interp_argmax(am, x, 2, 3);
    ck_assert_int_eq(am[0], 0);
    ck_assert_int_eq(am[1], 1);
}
END_TEST

START_TEST(confusion_rows_are_actual_columns_predicted)
{
    const int32_t act[] = {0, 0, 1, 2, 2, 2, -1};
    const int32_t prd[] = {0, 1, 1, 0, 0, 1, 0};
    int64_t cm[9];
    int skipped = interp_confusion(cm, act, prd, 7, 3);
    ck_assert_int_eq(skipped, 1);
    const int64_t want[9] = {1, 1, 0, 0, 1, 0, 2, 1, 0};
    for (int i = 0; i < 9; i++) ck_assert_int_eq(cm[i], want[i]);
}
END_TEST

START_TEST(most_confused_is_fastais)
{
    /* 4 classes; off-diagonal counts with ties:
     *   row 0: (0,1)=2 (0,3)=5      row 1: (1,0)=2 (1,2)=1
     *   row 2: (2,3)=5               row 3: (3,0)=1 (3,1)=2
     * sorted by count desc, ties in row-major order:
     *   (0,3,5) (2,3,5) (0,1,2) (1,0,2) (3,1,2) (1,2,1) (3,0,1) */
    const int64_t cm[16] = {9, 2, 0, 5,
                            2, 7, 1, 0,
                            0, 0, 3, 5,
                            1, 2, 0, 8};
    Confused out[16];
    int n = interp_most_confused(out, cm, 4, 1);
    const int want[7][3] = {{0, 3, 5}, {2, 3, 5}, {0, 1, 2}, {1, 0, 2}, {3, 1, 2}, {1, 2, 1}, {3, 0, 1}};
    ck_assert_int_eq(n, 7);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(out[i].actual, want[i][0]);
        ck_assert_int_eq(out[i].predicted, want[i][1]);
        ck_assert_int_eq(out[i].count, want[i][2]);
    }
    n = interp_most_confused(out, cm, 4, 2);
    ck_assert_int_eq(n, 5);
    n = interp_most_confused(out, cm, 4, 6);
    ck_assert_int_eq(n, 0);
    /* fastai with min_val=0 lists every cell (diagonal zeroed) */
    n = interp_most_confused(out, cm, 4, 0);
    ck_assert_int_eq(n, 16);
    ck_assert_int_eq(out[15].actual, 3);
    ck_assert_int_eq(out[15].predicted, 3);
    ck_assert_int_eq(out[15].count, 0);
}
END_TEST

START_TEST(top_losses_sorted_desc_ties_in_item_order_nan_last)
{
    const float loss[] = {0.5f, 2.0f, NAN, 2.0f, 0.1f, 3.0f};
    int32_t idx[6];
    int k = interp_top_losses(idx, loss, 6, 10);
    ck_assert_int_eq(k, 6);
    const int32_t want[] = {5, 1, 3, 0, 4, 2};
    for (int i = 0; i < 6; i++) ck_assert_int_eq(idx[i], want[i]);
    k = interp_top_losses(idx, loss, 6, 2);
    ck_assert_int_eq(k, 2);
    ck_assert_int_eq(idx[0], 5);
    ck_assert_int_eq(idx[1], 1);
}
END_TEST

START_TEST(thresholds_are_numpy_linspace)
{
    double th[INTERP_N_THRESH];
    interp_thresholds(th);
    ck_assert_double_eq_tol(th[0], 0.05, 1e-15);
    ck_assert_double_eq_tol(th[1], 0.08214285714285714, 1e-15);
    ck_assert_double_eq_tol(th[2], 0.11428571428571428, 1e-15);
    ck_assert_double_eq_tol(th[14], 0.5, 1e-15);
    ck_assert(th[28] == 0.95);
}
END_TEST

START_TEST(accuracy_multi_f1_and_class_stats_by_hand)
{
    /* 3 images x 3 labels, threshold 0.5:
     *   img0 probs .9 .2 .6  targ 1 0 0 -> pred 1 0 1: tp1 fp1 fn0  F1 = 2/3
     *   img1 probs .1 .1 .1  targ 0 0 0 -> nothing: 0/0 -> 0 (sklearn default)
     *   img2 probs .4 .8 .7  targ 1 1 1 -> pred 0 1 1: tp2 fp0 fn1  F1 = 4/5
     * cells right: img0 2, img1 3, img2 2 = 7 of 9. */
    const float p[] = {.9f, .2f, .6f, .1f, .1f, .1f, .4f, .8f, .7f};
    const float t[] = {1, 0, 0, 0, 0, 0, 1, 1, 1};
    ck_assert_double_eq_tol(interp_accuracy_multi(p, t, 3, 3, 0.5), 7.0 / 9, 1e-12);
    ck_assert_double_eq_tol(interp_f1_samples(p, t, 3, 3, 0.5), (2.0 / 3 + 0 + 0.8) / 3, 1e-12);
    /* at 0.05 everything is predicted: img0 tp1 fp2 -> .5; img1 fp3 -> 0; img2 tp3 -> 1 */
    ck_assert_double_eq_tol(interp_f1_samples(p, t, 3, 3, 0.05), 0.5, 1e-12);
    ck_assert_double_eq_tol(interp_accuracy_multi(p, t, 3, 3, 0.05), 4.0 / 9, 1e-12);
    ClassStats cs[3];
    interp_class_stats(cs, p, t, 3, 3, 0.5);
    /* label 0: pred img0 only; actual img0,img2 -> tp1 fp0 fn1 */
    ck_assert_int_eq(cs[0].tp, 1);
    ck_assert_int_eq(cs[0].fp, 0);
    ck_assert_int_eq(cs[0].fn, 1);
    ck_assert_double_eq_tol(cs[0].precision, 1.0, 1e-12);
    ck_assert_double_eq_tol(cs[0].recall, 0.5, 1e-12);
    /* label 2: pred img0,img2; actual img2 -> tp1 fp1 fn0 */
    ck_assert_double_eq_tol(cs[2].precision, 0.5, 1e-12);
    ck_assert_double_eq_tol(cs[2].recall, 1.0, 1e-12);
    ck_assert_int_eq(cs[2].support, 1);
    /* no prediction and no support: 0, not NaN */
    const float p0[] = {.1f}, t0[] = {0};
    interp_class_stats(cs, p0, t0, 1, 1, 0.5);
    ck_assert_double_eq(cs[0].precision, 0.0);
    ck_assert_double_eq(cs[0].recall, 0.0);
}
END_TEST

START_TEST(threshold_sweep_picks_best_accuracy)
{
    /* Positives have prob .3, negatives .1: every threshold in [0.1, 0.3) is perfect;
     * the first of them in the sweep is 0.1142857 (index 2). */
    const float p[] = {.3f, .1f, .1f, .3f};
    const float t[] = {1, 0, 0, 1};
    ThreshRow rows[INTERP_N_THRESH];
    int best;
    interp_threshold_sweep(rows, &best, p, t, 2, 2);
    ck_assert_int_eq(best, 2);
    ck_assert_double_eq(rows[best].accuracy_multi, 1.0);
    ck_assert_double_eq(rows[best].f1_samples, 1.0);
    ck_assert_double_eq(rows[0].accuracy_multi, 0.5);   /* .05: negatives predicted too */
    ck_assert_double_eq(rows[28].accuracy_multi, 0.5);  /* .95: nothing predicted */
}
END_TEST

START_TEST(wrong_labels_and_labels_above)
{
    char *vocab[] = {"cat", "dog", "person", "sofa"};
    const float p[] = {.9f, .1f, .6f, .1f}, t[] = {0, 1, 1, 0};
    char buf[128];
    interp_wrong_labels(buf, sizeof buf, p, t, 4, 0.5, vocab);
    ck_assert_str_eq(buf, "missed: dog; extra: cat");
    interp_labels_above(buf, sizeof buf, p, 4, 0.5, vocab);
    ck_assert_str_eq(buf, "cat person");
    const float ok[] = {0, 1, 1, 0};
    interp_wrong_labels(buf, sizeof buf, ok, t, 4, 0.5, vocab);
    ck_assert_str_eq(buf, "");
    interp_wrong_labels(buf, 8, p, t, 4, 0.5, vocab);   /* truncated, terminated */
    ck_assert_int_eq((int)strlen(buf), 7);
}
END_TEST

START_TEST(point_errors_in_pixels)
{
    /* 200 x 100 image; target (0,0) = pixel (100,50); prediction (0.3, -0.8) =
     * pixel (130, 10): distance sqrt(30^2 + 40^2) = 50.  Second point exact. */
    const float pred[] = {0.3f, -0.8f, 0.5f, 0.5f}, targ[] = {0, 0, 0.5f, 0.5f};
    ck_assert_double_eq_tol(interp_point_error(pred, targ, 4, 200, 100), 25.0, 1e-4);
    float px[4];
    interp_points_to_pixels(px, pred, 4, 200, 100);
    ck_assert_double_eq_tol(px[0], 130, 1e-4);
    ck_assert_double_eq_tol(px[1], 10, 1e-4);
    /* points outside the image stay outside (negative pixels are kept) */
    const float out[] = {-1.5f, -1.1f};
    interp_points_to_pixels(px, out, 2, 200, 100);
    ck_assert_double_eq_tol(px[0], -50, 1e-4);
    ck_assert_double_eq_tol(px[1], -5, 1e-4);
}
END_TEST

/* ---- get_preds over a fake loader and model ------------------------------
 * The "model" outputs, for each item, the first n_out pixels of its image, so
 * the outputs are known; the loader yields 7 items in batches of 3 (3,3,1). */

typedef struct FakeLoader {
    int pos, n, bs, c;
    float x[3 * 4];
    int32_t yi[3], index[3];
    Batch b;
} FakeLoader;

static int fl_n_batches(const Loaders *l, int s) { FakeLoader *f = l->impl; return (f->n + f->bs - 1) / f->bs; }
static int fl_n_items(const Loaders *l, int s) { FakeLoader *f = l->impl; return s == SPLIT_VALID ? f->n : 0; }
static int fl_begin(Loaders *l, int s, int e, int first, Err *err)
{
    FakeLoader *f = l->impl;
    f->pos = first * f->bs;
    return 0;
}
static int fl_next(Loaders *l, Batch **b, Err *err)
{
    FakeLoader *f = l->impl;
    if (f->pos >= f->n) return 0;
    int n = f->n - f->pos < f->bs ? f->n - f->pos : f->bs;
    for (int i = 0; i < n; i++) {
        int item = f->pos + i;
        for (int j = 0; j < f->c; j++) f->x[i * f->c + j] = (float)((item * 7 + j * 3) % 5);
        f->yi[i] = item % f->c;
        f->index[i] = item;
    }
    f->b = (Batch){.n = n, .h = 1, .w = 1, .c = f->c, .x = f->x, .kind = TARGET_CATEGORY,
                   .yi = f->yi, .index = f->index, .batch_no = f->pos / f->bs};
    f->pos += n;
    *b = &f->b;
    return 1;
}
static void fl_free(Loaders *l) {}
static const LoadersOps fl_ops = {fl_n_batches, fl_n_items, fl_begin, fl_next, fl_free};

static float fm_out[3 * 4];
static int fm_forward(Model *m, const Batch *b, ModelMode mode, uint64_t key, const float **out, Err *err)
{
    ck_assert_int_eq(mode, MODE_EVAL);
    memcpy(fm_out, b->x, sizeof(float) * b->n * b->c);
    *out = fm_out;
    return 0;
}
static const ModelOps fm_ops = {.forward = fm_forward};

START_TEST(get_preds_collects_the_split_in_order)
{
    FakeLoader f = {.n = 7, .bs = 3, .c = 4};
    Loaders l = {.ops = &fl_ops, .bs = 3, .kind = TARGET_CATEGORY, .n_out = 4, .impl = &f};
    Model m = {.ops = &fm_ops, .info = {.n_out = 4}};
    Preds p;
    Err err = {0};
    ck_assert_int_eq(interp_get_preds(&m, &l, SPLIT_VALID, LOSS_CROSS_ENTROPY, &p, &err), 0);
    ck_assert_int_eq(p.n, 7);
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(p.index[i], i);
        ck_assert_int_eq(p.yi[i], i % 4);
        double s = 0;
        for (int j = 0; j < 4; j++) {
            ck_assert_double_eq(p.raw[i * 4 + j], (float)((i * 7 + j * 3) % 5));
            s += p.probs[i * 4 + j];
        }
        ck_assert_double_eq_tol(s, 1.0, 1e-6);
        float want;
        loss_cross_entropy(NULL, &want, p.raw + i * 4, p.yi + i, 1, 4);
        ck_assert_double_eq_tol(p.loss[i], want, 1e-7);
    }
    interp_preds_free(&p);
    interp_preds_free(NULL);
}
END_TEST

/* Text a report function wrote into a memory stream. */
#define CAPTURE(buf, call)                                  \
    do {                                                    \
        size_t _len;                                        \
        FILE *f = open_memstream(&(buf), &_len);            \
        call;                                               \
        fclose(f);                                          \
    } while (0)

START_TEST(csv_reports_are_exact)
{
    char *vocab[] = {"a cat", "dog,x", "say \"hi\""};
    const int64_t cm[9] = {5, 1, 0, 2, 7, 0, 0, 3, 4};
    char *s = NULL;
    CAPTURE(s, interp_csv_confusion(f, cm, 3, vocab));
    ck_assert_str_eq(s, "actual\\predicted,a cat,\"dog,x\",\"say \"\"hi\"\"\"\n"
                        "a cat,5,1,0\n\"dog,x\",2,7,0\n\"say \"\"hi\"\"\",0,3,4\n");
    free(s);
    Confused mc[9];
    int n = interp_most_confused(mc, cm, 3, 1);
    CAPTURE(s, interp_csv_most_confused(f, mc, n, vocab));
    ck_assert_str_eq(s, "actual,predicted,count\n\"say \"\"hi\"\"\",\"dog,x\",3\n"
                        "\"dog,x\",a cat,2\na cat,\"dog,x\",1\n");
    free(s);
    CAPTURE(s, interp_print_confusion(f, cm, 3, vocab));
    ck_assert_str_eq(s, "actual\\predicted  a cat  dog,x  say \"hi\"\n"
                        "a cat                 5      1         0\n"
                        "dog,x                 2      7         0\n"
                        "say \"hi\"              0      3         4\n");
    free(s);
}
END_TEST

START_TEST(top_losses_csv_category_and_multi)
{
    /* 3 items, 2 classes; raw logits chosen so the losses are known:
     * item0 actual 0, logits (0, 0): loss ln 2, p = .5/.5, predicted 0 (first max)
     * item1 actual 1, logits (2, 0): predicted 0, loss = ln(1 + e^2) = 2.126928
     * item2 actual 0, logits (3, 0): right, loss = ln(1 + e^-3) = 0.048587 */
    char *vocab[] = {"cat", "dog"};
    const char *paths[] = {"x/0.jpg", "x/1.jpg", "x/2.jpg"};
    float raw[] = {0, 0, 2, 0, 3, 0}, probs[6], loss[3];
    int32_t yi[] = {0, 1, 0}, index[] = {0, 1, 2};
    Preds p = {.kind = TARGET_CATEGORY, .n = 3, .n_out = 2, .raw = raw, .probs = probs,
               .yi = yi, .loss = loss, .index = index};
    interp_fill_probs_losses(&p);
    int32_t idx[3];
    int k = interp_top_losses(idx, loss, 3, 2);
    char *s = NULL;
    CAPTURE(s, interp_csv_top_losses(f, &p, idx, k, paths, vocab, 0.5));
    ck_assert_str_eq(s, "path,actual,predicted,loss,prob_predicted,prob_actual\n"
                        "x/1.jpg,dog,cat,2.126928,0.880797,0.119203\n"
                        "x/0.jpg,cat,cat,0.693147,0.500000,0.500000\n");
    free(s);
    /* multi-label: 1 image, labels cat dog; logit 2 -> .8808 (predicted), -1 -> .2689 */
    float mraw[] = {2, -1}, mprobs[2], my[] = {0, 1}, mloss[1];
    int32_t midx[] = {0};
    Preds m = {.kind = TARGET_MULTI, .loss_kind = LOSS_BCE_LOGITS, .n = 1, .n_out = 2, .n_y = 2, .raw = mraw, .probs = mprobs,
               .y = my, .loss = mloss, .index = midx};
    interp_fill_probs_losses(&m);
    CAPTURE(s, interp_csv_top_losses(f, &m, midx, 1, paths, vocab, 0.5));
    /* BCE: (2 + ln(1+e^-2)) and (ln(1+e^-1) + 1)... mean = (2.126928 + 1.313262) / 2 */
    ck_assert_str_eq(s, "path,actual,predicted,loss,wrong\n"
                        "x/0.jpg,dog,cat,1.720095,missed: dog; extra: cat\n");
    free(s);
}
END_TEST

/* The whole text of dir/name (caller frees). */
static char *slurp(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

START_TEST(report_category_writes_confusion_most_confused_top_losses)
{
    /* 6 items, 3 classes a b c; logits put the argmax where we want it and
     * make the wrong ones costly: actual -> predicted:
     *   0:a->a 1:a->b 2:b->b 3:c->a 4:c->a 5:c->b  */
    char *vocab[] = {"a", "b", "c"};
    const char *paths[] = {"i0.png", "i1.png", "i2.png", "i3.png", "i4.png", "i5.png"};
    float raw[18] = {5, 0, 0,  0, 4, 0,  0, 6, 0,  3, 0, 0,  2, 0, 0,  0, 1, 0};
    float probs[18], loss[6];
    int32_t yi[6] = {0, 0, 1, 2, 2, 2}, index[6] = {0, 1, 2, 3, 4, 5};
    Preds p = {.kind = TARGET_CATEGORY, .n = 6, .n_out = 3, .raw = raw, .probs = probs, .yi = yi,
               .loss = loss, .index = index, .h = 8, .w = 8};
    interp_fill_probs_losses(&p);
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    InterpOpts o = {.most_confused = 1, .min_count = 1, .confusion = 1, .top_losses = 2, .thresh = 0.5};
    InterpSummary sum;
    Err err = {0};
    char *printed = NULL;
    size_t plen;
    FILE *out = open_memstream(&printed, &plen);
    ck_assert_int_eq(interp_report(&o, &p, paths, vocab, 3, dir, out, &sum, &err), 0);
    fclose(out);
    char *s = slurp(dir, "confusion.csv");
    ck_assert_str_eq(s, "actual\\predicted,a,b,c\na,1,1,0\nb,0,1,0\nc,2,1,0\n");
    free(s);
    s = slurp(dir, "most_confused.csv");
    ck_assert_str_eq(s, "actual,predicted,count\nc,a,2\na,b,1\nc,b,1\n");
    free(s);
    /* top losses: item1 (a->b, logit gap 4) loss = ln(1 + e^4 + 1) ... item3 (c->a, gap 3) */
    s = slurp(dir, "top_losses.csv");
    char want[512];
    snprintf(want, sizeof want,
             "path,actual,predicted,loss,prob_predicted,prob_actual\n"
             "i1.png,a,b,%.6f,%.6f,%.6f\ni3.png,c,a,%.6f,%.6f,%.6f\n",
             log(2 + exp(4)) , exp(4) / (2 + exp(4)), 1 / (2 + exp(4)),
             log(2 + exp(3)), exp(3) / (2 + exp(3)), 1 / (2 + exp(3)));
    ck_assert_str_eq(s, want);
    free(s);
    ck_assert_msg(strstr(printed, "\nc       a              2\n"), "%s", printed);
    ck_assert_ptr_nonnull(strstr(printed, "actual\\predicted  a  b  c\n"));
    free(printed);
    interp_summary_free(&sum);
    tu_rmtree(dir);
}
END_TEST

START_TEST(report_multi_writes_thresholds_and_per_class)
{
    /* 4 images, labels x y; positives have prob .7 and .3, negatives .2:
     * at 0.25 every cell is right; at 0.5 the .3 positives are missed. */
    char *vocab[] = {"x", "y"};
    const char *paths[] = {"a", "b", "c", "d"};
    float probs[8] = {.7f, .2f, .2f, .3f, .7f, .3f, .2f, .2f};
    float y[8] = {1, 0, 0, 1, 1, 1, 0, 0};
    float raw[8], loss[4];
    for (int k = 0; k < 8; k++) raw[k] = logf(probs[k] / (1 - probs[k]));
    int32_t index[4] = {0, 1, 2, 3};
    Preds p = {.kind = TARGET_MULTI, .loss_kind = LOSS_BCE_LOGITS, .n = 4, .n_out = 2, .n_y = 2, .raw = raw, .probs = probs,
               .y = y, .loss = loss, .index = index};
    interp_fill_probs_losses(&p);
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    InterpOpts o = {.thresholds = 1, .most_confused = 1, .min_count = 1, .top_losses = 1, .thresh = 0.5};
    InterpSummary sum;
    Err err = {0};
    FILE *out = fopen("/dev/null", "w");
    ck_assert_int_eq(interp_report(&o, &p, paths, vocab, 2, dir, out, &sum, &err), 0);
    fclose(out);
    /* thresholds 0.05, 0.0821, 0.1143, 0.1464, 0.1786: below .2 -> all predicted (5/8 right);
     * 0.2107 (index 5) is the first in [.2, .3): best. */
    ck_assert_int_eq(sum.best_thresh, 5);
    ck_assert_double_eq_tol(sum.baseline_accuracy_multi, 0.5, 1e-12);   /* 4 of 8 cells negative */
    ck_assert_double_eq_tol(sum.accuracy_multi, 6.0 / 8, 1e-12);        /* the .3 positives missed */
    char *s = slurp(dir, "thresholds.csv");
    ck_assert_ptr_nonnull(strstr(s, "threshold,accuracy_multi,f1_samples\n0.050000,0.500000,"));
    ck_assert_ptr_nonnull(strstr(s, "\n0.210714,1.000000,0.750000\n"));   /* image d: 0/0 -> 0 */
    ck_assert_ptr_nonnull(strstr(s, "\n0.950000,0.500000,0.000000\n"));
    free(s);
    s = slurp(dir, "per_class.csv");   /* at .5: x tp2 ; y tp0 fn2 */
    ck_assert_str_eq(s, "label,precision,recall,tp,fp,fn,support\n"
                        "x,1.000000,1.000000,2,0,0,2\ny,0.000000,0.000000,0,0,2,2\n");
    free(s);
    s = slurp(dir, "top_losses.csv");   /* image c: mean(-ln .7, -ln .3) is the largest BCE */
    char want[128];
    snprintf(want, sizeof want, "\nc,x y,x,%.6f,missed: y\n", (-log(.7) - log(.3)) / 2);
    ck_assert_msg(strstr(s, want), "%s", s);
    free(s);
    interp_summary_free(&sum);
    tu_rmtree(dir);
}
END_TEST

START_TEST(report_points_errors_and_mean_point_baseline)
{
    /* 2 images, 1 point, model input 100x100.  Targets (0,0) and (0.5,0):
     * mean target (0.25, 0).  Predictions (0.1, 0) and (0.5, 0.2):
     * errors 0.1*50 = 5 px and 0.2*50 = 10 px -> mean 7.5;
     * baseline errors 0.25*50 = 12.5 px each -> 12.5.
     * File maps: image 0 is 200 px wide (u = x/100 - 1), image 1 50 px
     * (u = x/25 - 1): errors 10 and 5 px of the files; baseline 25 and 6.25. */
    const char *paths[] = {"p0.png", "p1.png"};
    float raw[4] = {0.1f, 0, 0.5f, 0.2f}, y[4] = {0, 0, 0.5f, 0}, probs[4], loss[2];
    int32_t index[2] = {0, 1};
    Preds p = {.kind = TARGET_POINTS, .loss_kind = LOSS_MSE, .n = 2, .n_out = 2, .n_y = 2, .raw = raw,
               .probs = probs, .y = y, .loss = loss, .index = index, .h = 100, .w = 100};
    interp_fill_probs_losses(&p);
    const double maps[8] = {1.0 / 100, -1, 1.0 / 100, -1, 1.0 / 25, -1, 1.0 / 25, -1};
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    InterpOpts o = {.thresh = 0.5, .maps = maps};
    InterpSummary sum;
    Err err = {0};
    FILE *out = fopen("/dev/null", "w");
    ck_assert_int_eq(interp_report(&o, &p, paths, NULL, 0, dir, out, &sum, &err), 0);
    fclose(out);
    ck_assert_double_eq_tol(sum.mean_point_error, 7.5, 1e-5);
    ck_assert_double_eq_tol(sum.baseline_point_error, 12.5, 1e-5);
    ck_assert_double_eq_tol(sum.mean_point_error_file, 7.5, 1e-5);
    ck_assert_double_eq_tol(sum.baseline_point_error_file, (25 + 6.25) / 2, 1e-5);
    char *s = slurp(dir, "point_errors.csv");
    ck_assert_str_eq(s, "path,error_px,error_input_px\np0.png,10.0000,5.0000\np1.png,5.0000,10.0000\n");
    free(s);
    interp_summary_free(&sum);
    tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("interp");
    TCase *tc = tcase_create("interp");
    tcase_add_test(tc, losses_match_pytorch);
    tcase_add_test(tc, softmax_rows_sum_to_one_and_argmax_takes_first_max);
    tcase_add_test(tc, confusion_rows_are_actual_columns_predicted);
    tcase_add_test(tc, most_confused_is_fastais);
    tcase_add_test(tc, top_losses_sorted_desc_ties_in_item_order_nan_last);
    tcase_add_test(tc, thresholds_are_numpy_linspace);
    tcase_add_test(tc, accuracy_multi_f1_and_class_stats_by_hand);
    tcase_add_test(tc, threshold_sweep_picks_best_accuracy);
    tcase_add_test(tc, wrong_labels_and_labels_above);
    tcase_add_test(tc, point_errors_in_pixels);
    tcase_add_test(tc, get_preds_collects_the_split_in_order);
    tcase_add_test(tc, csv_reports_are_exact);
    tcase_add_test(tc, top_losses_csv_category_and_multi);
    tcase_add_test(tc, report_category_writes_confusion_most_confused_top_losses);
    tcase_add_test(tc, report_multi_writes_thresholds_and_per_class);
    tcase_add_test(tc, report_points_errors_and_mean_point_baseline);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
