/* test_sched.c — src/learn/sched: one-cycle lr/mom per batch, slice → even_mults,
 * fine_tune's expansion, against the formulas of FASTAI_REFERENCE.md §3, §5. */
#include "check_main.h"
#include "learn/sched.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(even_mults_matches_fastcore)
{
    double v[3];
    even_mults(1e-4, 1e-2, 3, v);
    ck_assert_double_eq_tol(v[0], 1e-4, 1e-18);
    ck_assert_double_eq_tol(v[1], 1e-3, 1e-15);
    ck_assert_double_eq_tol(v[2], 1e-2, 1e-15);
    even_mults(1e-4, 1e-2, 1, v);
    ck_assert(v[0] == 1e-2);
    double w[5];
    even_mults(1e-5, 1e-1, 5, w);
    for (int i = 0; i < 5; i++) ck_assert_double_eq_tol(w[i], 1e-5 * pow(10, i), 1e-12 * pow(10, i));
}
END_TEST

START_TEST(slice_rules_per_group)
{
    double v[3];
    LrSpec s = lr_slice(0, 1e-2);
    ck_assert_int_eq(lr_resolve(&s, 3, v, NULL), 0);
    ck_assert(v[0] == 1e-3 && v[1] == 1e-3 && v[2] == 1e-2);   /* slice(hi): [hi/10]*(n-1) + [hi] */
    s = lr_num(3e-3);
    lr_resolve(&s, 3, v, NULL);
    ck_assert(v[0] == 3e-3 && v[1] == 3e-3 && v[2] == 3e-3);
    LrSpec l = {.kind = LR_LIST, .n = 2, .v = {1, 2}};
    Err e = {0};
    ck_assert_int_eq(lr_resolve(&l, 3, v, &e), ERR_USAGE);
    ck_assert(strstr(e.msg, "3 parameter groups") != NULL);
    s = lr_slice(0, 5e-3);
    lr_resolve(&s, 1, v, NULL);
    ck_assert(v[0] == 5e-3);   /* one group: just hi */
}
END_TEST

static double fastai_cos(double s, double e, double p) { return s + (1 + cos(M_PI * (1 - p))) * (e - s) / 2; }

START_TEST(one_cycle_lr_and_mom_at_chosen_batches)
{
    /* fit_one_cycle(3, lr_max=slice(1e-4,1e-2)) with 3 groups, 50 batches per
     * epoch: pos = i/150, values as written out in §3. */
    Stage st = {.kind = STAGE_ONE_CYCLE, .n_epoch = 3, .div = 25, .div_final = 1e5, .pct_start = 0.25,
                .moms = {0.95, 0.85, 0.95}};
    double lr_max[3];
    LrSpec s = lr_slice(1e-4, 1e-2);
    lr_resolve(&s, 3, lr_max, NULL);
    const int N = 150, batches[] = {0, 1, 10, 37, 38, 75, 100, 149};
    for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
        int i = batches[k];
        double pos = (double)i / N, lr[3], mom;
        one_cycle_at(&st, lr_max, 3, pos, lr, &mom);
        for (int g = 0; g < 3; g++) {
            double want;
            if (pos < 0.25) want = lr_max[g] / 25 + (1 + cos(M_PI * (1 - pos / 0.25))) / 2 * (lr_max[g] - lr_max[g] / 25);
            else {
                double q = (pos - 0.25) / 0.75;
                want = lr_max[g] + (1 + cos(M_PI * (1 - q))) / 2 * (lr_max[g] / 1e5 - lr_max[g]);
            }
            ck_assert_msg(fabs(lr[g] - want) <= 1e-15 + 1e-12 * want, "batch %d group %d: %g vs %g", i, g, lr[g], want);
        }
        double wm = pos < 0.25 ? fastai_cos(0.95, 0.85, pos / 0.25) : fastai_cos(0.85, 0.95, (pos - 0.25) / 0.75);
        ck_assert_double_eq_tol(mom, wm, 1e-15);
    }
    /* first batch: lr_max/div, mom 0.95 */
    double lr[3], mom;
    one_cycle_at(&st, lr_max, 3, 0, lr, &mom);
    ck_assert_double_eq_tol(lr[2], 1e-2 / 25, 1e-17);
    ck_assert_double_eq_tol(mom, 0.95, 1e-15);
}
END_TEST

START_TEST(pos_equal_to_pct_is_second_phase)
{
    ck_assert_double_eq_tol(sched_combined_cos(0.25, 1, 10, 0, 0.25), 10, 1e-12);
    ck_assert_double_eq_tol(sched_combined_cos(0.5, 0.95, 0.85, 0.95, 0.5), 0.85, 1e-15);
    ck_assert_double_eq_tol(sched_cos(2, 4, 0), 2, 1e-15);
    ck_assert_double_eq_tol(sched_cos(2, 4, 1), 4, 1e-15);
    ck_assert_double_eq_tol(sched_exp(1e-7, 10, 0.5), 1e-7 * pow(1e8, 0.5), 1e-16);
    ck_assert_double_eq_tol(sched_lin(1, 3, 0.25), 1.5, 1e-15);
}
END_TEST


static Suite *suite(void)
{
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("sched");
    tcase_add_test(tc, even_mults_matches_fastcore);
    tcase_add_test(tc, slice_rules_per_group);
    tcase_add_test(tc, one_cycle_lr_and_mom_at_chosen_batches);
    tcase_add_test(tc, pos_equal_to_pct_is_second_phase);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
