/* test_core.c — src/core: BLAS kernel choice, RNG, errors. */
#include "check_main.h"
#include "core/blas.h"
#include "core/err.h"
#include "core/rng.h"
#include "testutil.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(blas_picks_fast_core_on_avx512)
{
    /* check_main.h ran blas_ensure_fast_core(): on an AVX-512 CPU with the
     * variable unset by the user, OpenBLAS must not be on a generic core. */
    if (blas_cpu_has_avx512()) {
        const char *core = blas_core_name();
        ck_assert_msg(strcmp(core, "Prescott") != 0, "OpenBLAS still on %s", core);
    }
}
END_TEST

/* C = A * B^T by the plain triple loop, in double. */
static void ref_gemm_nt(int m, int n, int k, const float *a, const float *b, double *c)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) s += (double)a[i * k + p] * b[j * k + p];
            c[i * n + j] = s;
        }
}

START_TEST(sgemm_matches_reference_loop)
{
    /* Odd sizes exercise the kernels' edge handling. */
    const int sizes[][3] = {{1, 1, 1}, {37, 53, 29}, {128, 64, 576}, {257, 131, 300}};
    Rng r = rng_make(7, 1);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * n * k);
        float *c = malloc(sizeof(float) * m * n);
        double *ref = malloc(sizeof(double) * m * n);
        for (int i = 0; i < m * k; i++) a[i] = (float)rng_normal(&r);
        for (int i = 0; i < n * k; i++) b[i] = (float)rng_normal(&r);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
        ref_gemm_nt(m, n, k, a, b, ref);
        double worst = 0;
        for (int i = 0; i < m * n; i++) {
            double tol = 1e-5 * sqrt((double)k) * 4 + 1e-6;
            double d = fabs(c[i] - ref[i]) / (sqrt((double)k));
            if (d > worst) worst = d;
            ck_assert_msg(fabs(c[i] - ref[i]) <= tol * sqrt((double)k), "m=%d n=%d k=%d i=%d: %g vs %g",
                          m, n, k, i, c[i], ref[i]);
        }
        free(a), free(b), free(c), free(ref);
    }
}
END_TEST

START_TEST(rng_is_a_pure_function_of_its_key)
{
    ck_assert_uint_eq(rng_hash(1, 2, 3), rng_hash(1, 2, 3));
    ck_assert_uint_ne(rng_hash(1, 2, 3), rng_hash(1, 2, 4));
    ck_assert_uint_ne(rng_hash(1, 2, 3), rng_hash(1, 3, 3));
    ck_assert_uint_ne(rng_hash(1, 2, 3), rng_hash(2, 2, 3));
}
END_TEST

START_TEST(rng_uniform_and_normal_have_right_moments)
{
    Rng r = rng_make(42, 0);
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);
        ck_assert(u >= 0 && u < 1);
        su += u;
        double z = rng_normal(&r);
        sn += z, sn2 += z * z;
    }
    ck_assert_double_eq_tol(su / n, 0.5, 0.005);
    ck_assert_double_eq_tol(sn / n, 0.0, 0.01);
    ck_assert_double_eq_tol(sn2 / n, 1.0, 0.02);
}
END_TEST

START_TEST(rng_shuffle_is_a_permutation)
{
    int32_t p[100];
    for (int i = 0; i < 100; i++) p[i] = i;
    Rng r = rng_make(3, 9);
    rng_shuffle_i32(&r, p, 100);
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[p[i]]++;
        moved += p[i] != i;
    }
    for (int i = 0; i < 100; i++) ck_assert_int_eq(seen[i], 1);
    ck_assert_int_gt(moved, 50);
}
END_TEST

START_TEST(err_keeps_code_and_message)
{
    Err e = {0};
    ck_assert_int_eq(err_set(&e, ERR_USAGE, "%s:%d: bad", "a.ini", 3), ERR_USAGE);
    ck_assert_str_eq(e.msg, "a.ini:3: bad");
    err_prefix(&e, "loading: ");
    ck_assert_str_eq(e.msg, "loading: a.ini:3: bad");
    ck_assert_int_eq(e.code, ERR_USAGE);
    /* quoted user text (a CSV cell with a newline) never breaks the one line */
    err_set(&e, ERR_RUNTIME, "t.csv:2: field 2 is '%s'", "1\r\n2\t\x7f");
    ck_assert_str_eq(e.msg, "t.csv:2: field 2 is '1??2\?\?'");
    err_prefix(&e, "%s: ", "dir\nname");
    ck_assert_str_eq(e.msg, "dir?name: t.csv:2: field 2 is '1??2\?\?'");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, blas_picks_fast_core_on_avx512);
    tcase_add_test(tc, sgemm_matches_reference_loop);
    tcase_add_test(tc, rng_is_a_pure_function_of_its_key);
    tcase_add_test(tc, rng_uniform_and_normal_have_right_moments);
    tcase_add_test(tc, rng_shuffle_is_a_permutation);
    tcase_add_test(tc, err_keeps_code_and_message);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
