/* test_dropout.c — src/nn/dropout.c: keep rate, inverted scaling, determinism
 * by key, and a backward that applies the same mask. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/dropout.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

START_TEST(keeps_one_minus_p_and_scales)
{
    size_t n = 100000;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] = 1.0f;
    dropout_forward(y, x, n, 0.25f, 42, 1);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0) {
            kept++;
            ck_assert_float_eq_tol(y[i], 1.0f / 0.75f, 1e-6);
        }
    }
    ck_assert_msg(fabs(kept / (double)n - 0.75) < 0.01, "kept %zu", kept);
    free(x), free(y);
}
END_TEST

START_TEST(mask_depends_on_key_only)
{
    size_t n = 5000;
    float *x = malloc(n * 4), *a = malloc(n * 4), *b = malloc(n * 4), *c = malloc(n * 4);
    gc_randn(x, n, 1, 1);
    omp_set_num_threads(1);
    dropout_forward(a, x, n, 0.5f, 7, 2);
    omp_set_num_threads(2);
    dropout_forward(b, x, n, 0.5f, 7, 2);
    ck_assert(memcmp(a, b, n * 4) == 0);
    for (size_t i = 0; i < n; i++)   /* the mask is dropout_keep's */
        ck_assert(dropout_keep(7, 2, i, 0.5f) ? a[i] == x[i] * 2.0f : a[i] == 0.0f);
    dropout_forward(c, x, n, 0.5f, 8, 2);       /* another step: another mask */
    ck_assert(memcmp(a, c, n * 4) != 0);
    dropout_forward(c, x, n, 0.5f, 7, 3);       /* another layer: another mask */
    ck_assert(memcmp(a, c, n * 4) != 0);
    dropout_forward(c, x, n, 0.0f, 7, 2);       /* p = 0: identity */
    ck_assert(memcmp(x, c, n * 4) == 0);
    free(x), free(a), free(b), free(c);
}
END_TEST

typedef struct Gc { float *x, *r, *y; size_t n; } Gc;

static double gc_loss(void *p)
{
    Gc *g = p;
    dropout_forward(g->y, g->x, g->n, 0.3f, 99, 1);
    return gc_dot(g->r, g->y, g->n);
}

START_TEST(gradient_uses_the_same_mask)
{
    float x[300], r[300], y[300], dx[300];
    gc_randn(x, 300, 1, 1), gc_randn(r, 300, 2, 1);
    Gc g = {x, r, y, 300};
    dropout_backward(dx, r, 300, 0.3f, 99, 1);
    ck_assert(gc_max_err(gc_loss, &g, x, dx, 300, 300, 1e-2f, 1e-2) < 1e-3);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dropout");
    TCase *tc = tcase_create("dropout");
    tcase_add_test(tc, keeps_one_minus_p_and_scales);
    tcase_add_test(tc, mask_depends_on_key_only);
    tcase_add_test(tc, gradient_uses_the_same_mask);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
