/* test_loss.c — src/nn/loss.c: fastai's Flat losses against their formulas
 * (values computed independently here and from PyTorch), gradients by finite
 * differences, and per-item losses averaging to the loss. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

START_TEST(label_smoothing_matches_pytorch_values)
{
    /* torch.nn.functional.cross_entropy(x, y, label_smoothing=eps) is fastai's
     * LabelSmoothingCrossEntropy(eps): x = [[1,2,3],[0.5,-1,4]], y = [0,2];
     * eps 0.1: 1.3136044, per item [2.3076060, 0.3196029];
     * eps 0.3: 1.4969378, dL/dx = [[-0.3549847, 0.0723642, 0.2826205], [-0.0354391, -0.0467510, 0.0821902]] */
    const float x[6] = {1, 2, 3, 0.5f, -1, 4};
    const int32_t y[2] = {0, 2};
    float per[2], dx[6];
    ck_assert_float_eq_tol(loss_label_smoothing(NULL, per, x, y, 2, 3, 0.1), 1.3136044f, 1e-6);
    ck_assert_float_eq_tol(per[0], 2.3076060f, 1e-6);
    ck_assert_float_eq_tol(per[1], 0.3196029f, 1e-6);
    ck_assert_float_eq_tol(loss_compute(LOSS_LABEL_SMOOTHING, 0.3, dx, NULL, x, y, NULL, 2, 3), 1.4969378f, 1e-6);
    const float want[6] = {-0.3549847f, 0.0723642f, 0.2826205f, -0.0354391f, -0.0467510f, 0.0821902f};
    for (int i = 0; i < 6; i++) ck_assert_float_eq_tol(dx[i], want[i], 1e-6);
    /* eps 0 is cross-entropy, bit for bit (loss, per item, gradient) */
    float l0, l1, per0[2], per1[2], d0[6], d1[6];
    l0 = loss_label_smoothing(d0, per0, x, y, 2, 3, 0.0);
    l1 = loss_cross_entropy(d1, per1, x, y, 2, 3);
    ck_assert(l0 == l1 && !memcmp(per0, per1, sizeof per0) && !memcmp(d0, d1, sizeof d0));
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

typedef struct Gc { LossKind k; double eps; float *x; const int32_t *yi; const float *y; int n, c; } Gc;

static double gc_loss(void *p)
{
    Gc *g = p;
    return loss_compute(g->k, g->eps, NULL, NULL, g->x, g->yi, g->y, g->n, g->c);
}

START_TEST(gradients_and_per_item_losses)
{
    const int n = 5, c = 4;
    int32_t yi[5] = {0, 3, 1, 1, 2};
    float x[20], y[20], dx[20], per[5];
    gc_randn(x, 20, 1, 2);
    for (int i = 0; i < 20; i++) y[i] = (i * 7 % 3) == 0 ? 1.0f : 0.0f;
    for (int k = 0; k <= LOSS_LABEL_SMOOTHING; k++) {
        Gc g = {(LossKind)k, 0.2, x, yi, y, n, c};
        float l = loss_compute(g.k, g.eps, dx, per, x, yi, y, n, c);
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
    tcase_add_test(tc, label_smoothing_matches_pytorch_values);
    tcase_add_test(tc, bce_mse_l1_match_formulas);
    tcase_add_test(tc, gradients_and_per_item_losses);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
