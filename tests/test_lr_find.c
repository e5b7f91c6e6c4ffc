/* test_lr_find.c — src/learn/lr_find + recorder smoothing: fastai's lr_find
 * bookkeeping and its four suggestions on fixed loss curves, against values
 * computed by fastai's own code (tests/reference/lr_find_suggestions.py). */
#include "check_main.h"
#include "learn/lr_find.h"
#include "learn/recorder.h"
#include "reference/lr_find_fixture.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(lr_schedule_is_exponential_from_1e7_to_10)
{
    ck_assert_double_eq_tol(lr_find_lr(1e-7, 10, 100, 0), 1e-7, 1e-22);
    ck_assert_double_eq_tol(lr_find_lr(1e-7, 10, 100, 1) / lr_find_lr(1e-7, 10, 100, 0), 1.2022644346174129, 1e-12);
    ck_assert_double_eq_tol(lr_find_lr(1e-7, 10, 100, 99), 8.317637711026709, 1e-12);
}
END_TEST

START_TEST(smoothing_stop_rule_and_suggestions_match_fastai)
{
    for (int k = 0; k < LRF_CASES; k++) {
        /* replay the finder's bookkeeping on the raw losses */
        double lrs[100], losses[100], best = INFINITY;
        SmoothLoss sm;
        smooth_reset(&sm);
        int n = 0;
        for (int i = 0; i < lrf_n_raw[k]; i++) {
            double s = smooth_add(&sm, lrf_raw[k][i]);
            lrs[n] = lr_find_lr(1e-7, 10, 100, i), losses[n] = s;
            n++;
            if (s < best) best = s;
            if (s > 4 * best || i + 1 >= 100) break;
        }
        ck_assert_int_eq(n, *lrf_n_rec[k]);
        for (int i = 0; i < n; i++)
            ck_assert_msg(fabs(losses[i] - lrf_smooth[k][i]) <= 2e-6 * fabs(lrf_smooth[k][i]),
                          "case %d batch %d: smoothed %.9g, fastai %.9g", k, i, losses[i], lrf_smooth[k][i]);
        LrSuggest s;
        Err e = {0};
        ck_assert_msg(lr_suggest(lrs, losses, n, 100, &s, &e) == 0, "%s", e.msg);
        const double got[4] = {s.valley, s.minimum, s.steep, s.slide};
        const char *nm[4] = {"valley", "minimum", "steep", "slide"};
        for (int j = 0; j < 4; j++)
            ck_assert_msg(fabs(got[j] - lrf_sug[k][j]) <= 1e-6 * lrf_sug[k][j], "case %d %s: %.9g, fastai %.9g", k,
                          nm[j], got[j], lrf_sug[k][j]);
    }
}
END_TEST

START_TEST(valley_keeps_the_start_of_the_first_record)
{
    /* lds grows for i=3 twice within its j loop; max_start keeps its first value */
    double lrs[26], loss[26];
    const double curve[11] = {5, 4, 6, 3, 2.5, 7, 2, 1.5, 1.4, 9, 8};
    for (int i = 0; i < 26; i++) lrs[i] = 1e-4 * pow(1.5, i), loss[i] = 10;
    for (int i = 0; i < 11; i++) loss[10 + i] = curve[i];
    LrSuggest s;
    ck_assert_int_eq(lr_suggest(lrs, loss, 26, 100, &s, NULL), 0);
    /* on loss[10:21]: the longest decreasing run is 5,4,3,2.5,2,1.5,1.4 (7), ends at idx 8,
     * first reached there, max_start = 8 - 7 = 1; sections = 7/3; idx = 1 + 2 + 1 = 4 */
    ck_assert_double_eq_tol(s.valley, (float)lrs[10 + 4], 1e-12);
    ck_assert_double_eq_tol(s.minimum, (float)lrs[10 + 8] / 10, 1e-12);
}
END_TEST

START_TEST(too_few_points_is_an_error_not_a_crash)
{
    double lrs[12], loss[12];
    for (int i = 0; i < 12; i++) lrs[i] = i + 1, loss[i] = 1;
    LrSuggest s;
    Err e = {0};
    ck_assert_int_eq(lr_suggest(lrs, loss, 12, 100, &s, &e), ERR_RUNTIME);
    ck_assert(strstr(e.msg, "12 batches") != NULL);
    double nan_loss[40], l2[40];
    for (int i = 0; i < 40; i++) l2[i] = 1e-5 * (i + 1), nan_loss[i] = i < 11 ? 2 : NAN;
    ck_assert_int_eq(lr_suggest(l2, nan_loss, 40, 100, &s, &e), ERR_RUNTIME);
}
END_TEST

/* fastai's suggest_funcs: only the suggestions asked for are named (all four
 * were, always), in fastai's order; and a run's lr_find CSV read back gives
 * the same suggestions (a resumed schedule recovers an lr_find() step so). */
START_TEST(suggest_funcs_choose_what_is_named_and_the_csv_reads_back)
{
    LrFindResult r = {0};
    r.n = 80;
    r.lrs = malloc(sizeof(double) * 80), r.losses = malloc(sizeof(double) * 80);
    for (int i = 0; i < 80; i++) {
        r.lrs[i] = lr_find_lr(1e-7, 10, 100, i);
        r.losses[i] = (float)(2.0 - 0.8 * tanh((i - 40) / 8.0) + (i > 65 ? 0.2 * (i - 65) : 0));
    }
    Err e = {0};
    ck_assert_msg(lr_suggest(r.lrs, r.losses, r.n, 100, &r.sug, &e) == 0, "%s", e.msg);
    /* slide's arguments are fastai's: adjust_value scales it, lr_diff moves it */
    LrSuggest s2;
    LrSlideArgs sl = {15, 0.005, 2.0};
    ck_assert_int_eq(lr_suggest_with(r.lrs, r.losses, r.n, 100, &sl, &s2, &e), 0);
    ck_assert_double_eq(s2.slide, 2 * r.sug.slide);
    ck_assert(s2.valley == r.sug.valley && s2.steep == r.sug.steep);
    sl = (LrSlideArgs){5, 0.005, 1.0};
    ck_assert_int_eq(lr_suggest_with(r.lrs, r.losses, r.n, 100, &sl, &s2, &e), 0);
    ck_assert(s2.slide != r.sug.slide);
    char buf[256], want[256];
    lr_find_format(&r.sug, LR_SUG_VALLEY, buf, sizeof buf);
    snprintf(want, sizeof want, "SuggestedLRs(valley=%.6g)", r.sug.valley);
    ck_assert_str_eq(buf, want);
    lr_find_format(&r.sug, LR_SUG_STEEP | LR_SUG_MINIMUM, buf, sizeof buf);
    snprintf(want, sizeof want, "SuggestedLRs(minimum=%.6g, steep=%.6g)", r.sug.minimum, r.sug.steep);
    ck_assert_str_eq(buf, want);
    JsonBuf j = {0};
    json_buf_putc(&j, '{');
    lr_find_json(&j, &r.sug, LR_SUG_SLIDE | LR_SUG_VALLEY);
    json_buf_putc(&j, '}');
    Json *doc = json_parse(j.s, j.len, &e);
    ck_assert_msg(doc, "%s: %s", j.s, e.msg);
    ck_assert_int_eq(json_len(doc), 2);
    ck_assert_double_eq(json_get(doc, "valley")->num, r.sug.valley);
    ck_assert_double_eq(json_get(doc, "slide")->num, r.sug.slide);
    json_free(doc);
    json_buf_free(&j);

    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/lr_find_1.csv", dir);
    ck_assert_msg(lr_find_write_csv(&r, path, &e) == 0, "%s", e.msg);
    LrFindResult back;
    ck_assert_msg(lr_find_read_csv(path, 100, &LR_SLIDE_DEFAULT, &back, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(back.n, r.n);
    for (int i = 0; i < r.n; i++) ck_assert(back.lrs[i] == r.lrs[i] && back.losses[i] == r.losses[i]);
    ck_assert(back.sug.valley == r.sug.valley && back.sug.minimum == r.sug.minimum && back.sug.steep == r.sug.steep &&
              back.sug.slide == r.sug.slide);
    lr_find_result_free(&back);
    FILE *f = fopen(path, "a");
    fputs("oops\n", f);
    fclose(f);
    ck_assert_int_eq(lr_find_read_csv(path, 100, &LR_SLIDE_DEFAULT, &back, &e), ERR_RUNTIME);
    ck_assert_msg(strstr(e.msg, "lr_find_1.csv:82: expected lr,loss"), "%s", e.msg);
    lr_find_result_free(&r);
    tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("lr_find");
    TCase *tc = tcase_create("lr_find");
    tcase_add_test(tc, lr_schedule_is_exponential_from_1e7_to_10);
    tcase_add_test(tc, smoothing_stop_rule_and_suggestions_match_fastai);
    tcase_add_test(tc, valley_keeps_the_start_of_the_first_record);
    tcase_add_test(tc, too_few_points_is_an_error_not_a_crash);
    tcase_add_test(tc, suggest_funcs_choose_what_is_named_and_the_csv_reads_back);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
