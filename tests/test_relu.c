/* test_relu.c — src/nn/relu.c: ReLU and the residual add, values and gradients. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/relu.h"

#include <math.h>
#include <stdlib.h>

typedef struct Gc { float *x, *r, *y; size_t n; } Gc;

static double gc_loss(void *p)
{
    Gc *g = p;
    relu_forward(g->y, g->x, g->n);
    return gc_dot(g->r, g->y, g->n);
}

START_TEST(relu_values_and_gradient)
{
    float x[200], r[200], y[200], dx[200];
    gc_randn(x, 200, 1, 1), gc_randn(r, 200, 2, 1);
    Gc g = {x, r, y, 200};
    gc_loss(&g);
    for (int i = 0; i < 200; i++) ck_assert_float_eq(y[i], x[i] > 0 ? x[i] : 0);
    relu_backward(dx, r, y, 200);
    ck_assert(gc_max_err(gc_loss, &g, x, dx, 200, 200, 1e-3f, 1e-2) < 1e-3);
    gc_loss(&g);
    relu_forward(x, x, 200);   /* in place */
    for (int i = 0; i < 200; i++) ck_assert_float_eq(x[i], y[i]);
}
END_TEST

START_TEST(add_and_its_backward)
{
    float a[50], b[50], y[50], acc[50];
    gc_randn(a, 50, 3, 1), gc_randn(b, 50, 4, 1), gc_randn(acc, 50, 5, 1);
    add_forward(y, a, b, 50);
    for (int i = 0; i < 50; i++) ck_assert_float_eq(y[i], a[i] + b[i]);
    float acc0[50];
    for (int i = 0; i < 50; i++) acc0[i] = acc[i];
    add_backward_acc(acc, y, 50);
    for (int i = 0; i < 50; i++) ck_assert_float_eq(acc[i], acc0[i] + y[i]);
}
END_TEST

START_TEST(nan_goes_through_as_in_pytorch)
{
    /* torch.relu([nan, -1, 0, -0., 2, inf, -inf]) = [nan, 0, 0, 0, 2, inf, 0], and
     * its backward (threshold_backward(grad, result, 0): result <= 0 ? 0 : grad)
     * passes the gradient where the result is NaN.  A NaN must never turn into
     * a 0 that trains on as if nothing happened. */
    const float x[7] = {NAN, -1, 0, -0.0f, 2, INFINITY, -INFINITY};
    const float want[7] = {NAN, 0, 0, 0, 2, INFINITY, 0};
    const float dwant[7] = {1, 0, 0, 0, 1, 1, 0};
    float y[7], dy[7] = {1, 1, 1, 1, 1, 1, 1}, dx[7];
    relu_forward(y, x, 7);
    ck_assert(isnan(y[0]));
    for (int i = 1; i < 7; i++) ck_assert_float_eq(y[i], want[i]);
    relu_backward(dx, dy, y, 7);
    for (int i = 0; i < 7; i++) ck_assert_float_eq(dx[i], dwant[i]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("relu");
    TCase *tc = tcase_create("relu");
    tcase_add_test(tc, relu_values_and_gradient);
    tcase_add_test(tc, add_and_its_backward);
    tcase_add_test(tc, nan_goes_through_as_in_pytorch);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
