/* test_recorder.c — src/learn/recorder: fastai's printed table, metrics.csv
 * rows, the smoothed loss. */
#include "check_main.h"
#include "learn/recorder.h"

#include <math.h>
#include <string.h>

START_TEST(table_matches_fastprogress_layout)
{
    Table t;
    const char *m[] = {"error_rate"};
    table_init(&t, m, 1);
    char buf[512];
    table_header(&t, buf, sizeof buf);
    ck_assert_str_eq(buf, "epoch     train_loss  valid_loss  error_rate  time    ");
    double v[3] = {0.16939, 0.0213879, 0.00541272};
    table_row(&t, 0, v, 14.7, buf, sizeof buf);
    ck_assert_str_eq(buf, "0         0.169390    0.021388    0.005413    00:14     ");
    table_csv_header(&t, buf, sizeof buf);
    ck_assert_str_eq(buf, "epoch,train_loss,valid_loss,error_rate,time");
    table_csv_row(&t, 3, v, 3725, buf, sizeof buf);
    ck_assert_str_eq(buf, "3,0.16939,0.0213879,0.00541272,1:02:05");
    table_json_row(&t, 3, v, 5, -1, buf, sizeof buf);
    ck_assert_str_eq(buf, "{\"epoch\": 3, \"train_loss\": 0.16939, \"valid_loss\": 0.0213879, "
                          "\"error_rate\": 0.00541272, \"time\": \"00:05\", \"seconds\": 5.000}");
    table_json_row(&t, 3, v, 5, 0.0125, buf, sizeof buf);
    ck_assert_str_eq(buf, "{\"epoch\": 3, \"train_loss\": 0.16939, \"valid_loss\": 0.0213879, "
                          "\"error_rate\": 0.00541272, \"time\": \"00:05\", \"seconds\": 5.000, "
                          "\"data_wait_s\": 0.013}");
}
END_TEST

START_TEST(no_validation_set_leaves_its_cells_empty)
{
    /* a run without a validation set: valid_loss and the metrics are left
     * empty (table, CSV) or null (JSON), whatever values come in */
    Table t;
    const char *m[] = {"error_rate"};
    table_init(&t, m, 1);
    t.no_valid = 1;
    char buf[512];
    double v[3] = {0.16939, NAN, 0.25};
    table_row(&t, 0, v, 14.7, buf, sizeof buf);
    ck_assert_str_eq(buf, "0         0.169390                            00:14     ");
    table_csv_row(&t, 3, v, 5, buf, sizeof buf);
    ck_assert_str_eq(buf, "3,0.16939,,,00:05");
    table_json_row(&t, 3, v, 5, -1, buf, sizeof buf);
    ck_assert_str_eq(buf, "{\"epoch\": 3, \"train_loss\": 0.16939, \"valid_loss\": null, \"error_rate\": null, "
                          "\"time\": \"00:05\", \"seconds\": 5.000}");
}
END_TEST

START_TEST(python_float_repr)
{
    char b[64];
    format_pyfloat(0.1, b, sizeof b);
    ck_assert_str_eq(b, "0.1");
    format_pyfloat(1.0, b, sizeof b);
    ck_assert_str_eq(b, "1.0");
    format_pyfloat(1.0 / 3, b, sizeof b);
    ck_assert_str_eq(b, "0.3333333333333333");
    format_pyfloat(NAN, b, sizeof b);
    ck_assert_str_eq(b, "nan");
}
END_TEST

START_TEST(smoothed_loss_is_debiased_ema)
{
    SmoothLoss s;
    smooth_reset(&s);
    /* first value is returned exactly (debiased), then the EMA in double for comparison */
    double first = smooth_add(&s, 2.0);
    ck_assert_double_eq_tol(first, 2.0, 1e-5);   /* float32 lerp, as torch computes it */
    double val = 0.02 * 2.0, want = 0;
    for (int i = 2; i <= 50; i++) {
        double x = 1.0 + 1.0 / i;
        val = 0.98 * val + 0.02 * x;
        want = val / (1 - pow(0.98, i));
        double got = smooth_add(&s, x);
        ck_assert_msg(fabs(got - want) < 1e-5, "batch %d: %g vs %g", i, got, want);
    }
    smooth_reset(&s);
    ck_assert(isnan(smooth_value(&s)));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("recorder");
    TCase *tc = tcase_create("recorder");
    tcase_add_test(tc, table_matches_fastprogress_layout);
    tcase_add_test(tc, no_validation_set_leaves_its_cells_empty);
    tcase_add_test(tc, python_float_repr);
    tcase_add_test(tc, smoothed_loss_is_debiased_ema);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
