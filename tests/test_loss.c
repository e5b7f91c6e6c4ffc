/* test_loss.c — src/nn/loss.c: fastai's Flat losses against their formulas
 * (values computed independently here and from PyTorch), gradients by finite
 * differences, and per-item losses averaging to the loss. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/loss.h"

#include <math.h>
#include <stdlib.h>

START_TEST(cross_entropy_matches_pytorch_values)
{
    /* torch.nn.functional.cross_entropy(torch.tensor([[1.,2.,3.],[0.5,-1.,4.]]), torch.tensor([0,2]))
     * = 1.2219378; per item [2.4076059, 0.0362696] */
    const float x[6] = {1, 2, 3, 0.5f, -1, 4};
    const int32_t y[2] = {0, 2};
    float per[2];
    float l = loss_cross_entropy(NULL, per, x, y, 2, 3);
    ck_assert_float_eq_tol(l, 1.2219378f, 1e-6);
    ck_assert_float_eq_tol(per[0], 2.4076059f, 1e-6);
    ck_assert_float_eq_tol(per[1], 0.0362696f, 1e-6);
    /* extreme logits stay finite */
    const float big[2] = {1000.0f, -1000.0f};
    const int32_t y1[1] = {1};
    ck_assert_float_eq_tol(loss_cross_entropy(NULL, NULL, big, y1, 1, 2), 2000.0f, 1e-2);
}
END_TEST

START_TEST(bce_mse_l1_match_formulas)
{
    /* torch BCEWithLogitsLoss()(tensor([[0.3,-2.],[5.,0.]]), tensor([[1.,0.],[0.,1.]])) = 1.5952865 */
    const float x[4] = {0.3f, -2.0f, 5.0f, 0.0f}, y[4] = {1, 0, 0, 1};
    double want = 0;
    for (int i = 0; i < 4; i++) {
        double s = 1 / (1 + exp(-(double)x[i]));
        want += -(y[i] * log(s) + (1 - y[i]) * log(1 - s));
    }
    ck_assert_float_eq_tol(loss_bce_logits(NULL, NULL, x, y, 2, 2), want / 4, 1e-6);
    ck_assert_float_eq_tol(want / 4, 1.5952865, 1e-6);
    ck_assert_float_eq_tol(loss_mse(NULL, NULL, x, y, 2, 2), (0.49 + 4 + 25 + 1) / 4, 1e-6);
    ck_assert_float_eq_tol(loss_l1(NULL, NULL, x, y, 2, 2), (0.7 + 2 + 5 + 1) / 4, 1e-6);
    const float huge[2] = {200.0f, -200.0f}, t[2] = {0, 1};
    ck_assert_float_eq_tol(loss_bce_logits(NULL, NULL, huge, t, 1, 2), 200.0f, 1e-3);
}
END_TEST

typedef struct Gc { LossKind k; float *x; const int32_t *yi; const float *y; int n, c; } Gc;

static double gc_loss(void *p)
{
    Gc *g = p;
    return loss_compute(g->k, NULL, NULL, g->x, g->yi, g->y, g->n, g->c);
}

START_TEST(gradients_and_per_item_losses)
{
    const int n = 5, c = 4;
    int32_t yi[5] = {0, 3, 1, 1, 2};
    float x[20], y[20], dx[20], per[5];
    gc_randn(x, 20, 1, 2);
    for (int i = 0; i < 20; i++) y[i] = (i * 7 % 3) == 0 ? 1.0f : 0.0f;
    for (int k = 0; k < 4; k++) {
        Gc g = {(LossKind)k, x, yi, y, n, c};
        float l = loss_compute(g.k, dx, per, x, yi, y, n, c);
        double mean = 0;
        for (int i = 0; i < n; i++) mean += per[i] / n;
        ck_assert_float_eq_tol(mean, l, 1e-6);
        ck_assert_msg(gc_max_err(gc_loss, &g, x, dx, 20, 20, 1e-3f, 1e-3) < 5e-3, "%s", loss_name(g.k));
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_add_test(tc, cross_entropy_matches_pytorch_values);
    tcase_add_test(tc, bce_mse_l1_match_formulas);
    tcase_add_test(tc, gradients_and_per_item_losses);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
