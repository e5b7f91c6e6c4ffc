/* test_metrics.c — src/learn/metrics: fastai's metrics, batch-size weighted. */
#include "check_main.h"
#include "learn/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Metrics as the setup layer builds them from [learner] metrics (setup/learn.c):
 * the kind, the name as the column, accuracy_multi's defaults. */
static Metrics make(const MetricKind *kinds, const char *const *names, int n)
{
    Metrics ms;
    memset(&ms, 0, sizeof ms);
    for (int i = 0; i < n; i++) {
        Metric *m = &ms.m[ms.n++];
        m->kind = kinds[i];
        snprintf(m->name, sizeof m->name, "%s", names[i]);
        m->thresh = 0.5, m->sigmoid = 1;
    }
    return ms;
}

START_TEST(accuracy_and_error_rate_weighted_by_batch_size)
{
    const char *names[] = {"accuracy", "error_rate"};
    const MetricKind kinds[] = {METRIC_ACCURACY, METRIC_ERROR_RATE};
    Metrics ms = make(kinds, names, 2);
    metrics_reset(&ms);
    /* batch 1: 4 items, 3 right; batch 2: 2 items, 0 right → 3/6, not (3/4+0)/2 */
    float o1[4 * 3] = {1, 0, 0, 0, 2, 1, 0, 0, 5, 3, 1, 2};
    int32_t y1[4] = {0, 1, 2, 1};   /* argmax: 0, 1, 2, 0 */
    Batch b1 = {.n = 4, .kind = TARGET_CATEGORY, .yi = y1};
    float o2[2 * 3] = {0, 1, 0, 1, 0, 0};
    int32_t y2[2] = {2, 2};
    Batch b2 = {.n = 2, .kind = TARGET_CATEGORY, .yi = y2};
    metrics_add(&ms, o1, 3, &b1);
    metrics_add(&ms, o2, 3, &b2);
    ck_assert_double_eq_tol(metrics_value(&ms, 0), 0.5, 1e-15);
    ck_assert_double_eq_tol(metrics_value(&ms, 1), 0.5, 1e-15);
    metrics_reset(&ms);
    metrics_add(&ms, o1, 3, &b1);
    ck_assert_double_eq_tol(metrics_value(&ms, 0), 0.75, 1e-15);
    ck_assert_double_eq_tol(metrics_value(&ms, 1), 0.25, 1e-15);
}
END_TEST

START_TEST(accuracy_multi_thresh_and_sigmoid)
{
    const char *names[] = {"accuracy_multi"};
    const MetricKind kinds[] = {METRIC_ACCURACY_MULTI};
    Metrics ms = make(kinds, names, 1);
    ms.m[0].thresh = 0.2;   /* accuracy_multi(thresh=0.2) */
    ck_assert_double_eq(ms.m[0].thresh, 0.2);
    ck_assert_int_eq(ms.m[0].sigmoid, 1);
    ck_assert_str_eq(ms.m[0].name, "accuracy_multi");
    /* logits: sigmoid(-1)=0.269 > 0.2 → 1; sigmoid(-2)=0.119 → 0 */
    float out[2 * 2] = {-1, -2, 3, -3};
    float y[2 * 2] = {1, 1, 1, 0};   /* cells right: 1, 0, 1, 1 → 3/4 */
    Batch b = {.n = 2, .kind = TARGET_MULTI, .y = y, .n_y = 2};
    metrics_reset(&ms);
    metrics_add(&ms, out, 2, &b);
    ck_assert_double_eq_tol(metrics_value(&ms, 0), 0.75, 1e-15);
    ck_assert_double_eq(metrics_multi_thresh(&ms, 0.5), 0.2);
    Metrics none = {0};
    ck_assert_double_eq(metrics_multi_thresh(&none, 0.5), 0.5);
}
END_TEST

START_TEST(mse_mae_and_rmse_over_the_whole_set)
{
    const char *names[] = {"mse", "rmse", "mae"};
    const MetricKind kinds[] = {METRIC_MSE, METRIC_RMSE, METRIC_MAE};
    Metrics ms = make(kinds, names, 3);
    metrics_reset(&ms);
    float o1[3] = {1, 2, 3}, y1[3] = {1, 1, 1};   /* sq: 0 1 4   abs: 0 1 2 */
    float o2[1] = {0}, y2[1] = {3};               /* sq: 9       abs: 3 */
    Batch b1 = {.n = 3, .kind = TARGET_RATING, .y = y1, .n_y = 1}, b2 = {.n = 1, .kind = TARGET_RATING, .y = y2, .n_y = 1};
    metrics_add(&ms, o1, 1, &b1);
    metrics_add(&ms, o2, 1, &b2);
    ck_assert_double_eq_tol(metrics_value(&ms, 0), 14.0 / 4, 1e-15);
    ck_assert_double_eq_tol(metrics_value(&ms, 1), sqrt(14.0 / 4), 1e-15);   /* not the mean of per-batch rmse */
    ck_assert_double_eq_tol(metrics_value(&ms, 2), 6.0 / 4, 1e-15);
}
END_TEST

START_TEST(misfit_metrics_are_errors)
{
    /* (an unknown metric name is the config's error: tests/test_setup.c) */
    const char *names[] = {"accuracy"};
    const MetricKind kinds[] = {METRIC_ACCURACY};
    Metrics ms = make(kinds, names, 1);
    Err e = {0};
    ck_assert_int_eq(metrics_check(&ms, TARGET_RATING, "x.ini", &e), ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "ratings"), "%s", e.msg);
    ck_assert_int_eq(metrics_check(&ms, TARGET_CATEGORY, "x.ini", &e), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, accuracy_and_error_rate_weighted_by_batch_size);
    tcase_add_test(tc, accuracy_multi_thresh_and_sigmoid);
    tcase_add_test(tc, mse_mae_and_rmse_over_the_whole_set);
    tcase_add_test(tc, misfit_metrics_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
