/* test_sigmoid_range.c — src/nn/sigmoid_range.c: values and gradient. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/sigmoid_range.h"

#include <math.h>

typedef struct Gc { float *x, *r, *y; size_t n; } Gc;

static double gc_loss(void *p)
{
    Gc *g = p;
    sigmoid_range_forward(g->y, g->x, g->n, -1.0f, 5.5f);
    return gc_dot(g->r, g->y, g->n);
}

START_TEST(values_and_gradient)
{
    float x[100], r[100], y[100], dx[100];
    gc_randn(x, 100, 1, 3), gc_randn(r, 100, 2, 1);
    x[0] = 90.0f, x[1] = -90.0f;   /* saturated, no overflow */
    Gc g = {x, r, y, 100};
    gc_loss(&g);
    for (int i = 0; i < 100; i++)
        ck_assert_float_eq_tol(y[i], 1.0 / (1.0 + exp(-(double)x[i])) * 6.5 - 1.0, 1e-5);
    ck_assert(isfinite(y[0]) && isfinite(y[1]));
    sigmoid_range_backward(dx, r, y, 100, -1.0f, 5.5f);
    ck_assert(gc_max_err(gc_loss, &g, x, dx, 100, 100, 1e-2f, 1e-2) < 2e-3);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sigmoid_range");
    TCase *tc = tcase_create("sigmoid_range");
    tcase_add_test(tc, values_and_gradient);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
