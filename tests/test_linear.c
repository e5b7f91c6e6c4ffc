/* test_linear.c — src/nn/linear.c and src/nn/gemm.c: the GEMM path against
 * the triple loop, finite-difference gradients, with and without bias, and the
 * blocked GEMM's independence from the thread count. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/gemm.h"
#include "nn/linear.h"
#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

START_TEST(fast_matches_reference)
{
    const int sz[3][3] = {{5, 7, 3}, {64, 1024, 512}, {33, 129, 65}};
    for (int t = 0; t < 3; t++)
        for (int bias = 0; bias < 2; bias++) {
            int n = sz[t][0], in = sz[t][1], out = sz[t][2];
            float *x = malloc(sizeof(float) * n * in), *w = malloc(sizeof(float) * out * in);
            float *b = malloc(sizeof(float) * out), *g = malloc(sizeof(float) * n * out);
            gc_randn(x, (size_t)n * in, 1, 1), gc_randn(w, (size_t)out * in, 2, 0.1f);
            gc_randn(b, out, 3, 1), gc_randn(g, (size_t)n * out, 4, 1);
            float *y1 = malloc(sizeof(float) * n * out), *y2 = malloc(sizeof(float) * n * out);
            linear_forward(y1, x, w, bias ? b : NULL, n, in, out);
            linear_forward_ref(y2, x, w, bias ? b : NULL, n, in, out);
            ck_assert(tu_max_rel_err(y1, y2, (size_t)n * out, 1.0) < 1e-5);
            float *dx1 = malloc(sizeof(float) * n * in), *dx2 = malloc(sizeof(float) * n * in);
            float *dw1 = calloc((size_t)out * in, 4), *dw2 = calloc((size_t)out * in, 4);
            float *db1 = calloc(out, 4), *db2 = calloc(out, 4);
            linear_backward(dx1, dw1, bias ? db1 : NULL, g, x, w, n, in, out);
            linear_backward_ref(dx2, dw2, bias ? db2 : NULL, g, x, w, n, in, out);
            ck_assert(tu_max_rel_err(dx1, dx2, (size_t)n * in, 1.0) < 1e-5);
            ck_assert(tu_max_rel_err(dw1, dw2, (size_t)out * in, 1.0) < 1e-5);
            ck_assert(tu_max_rel_err(db1, db2, out, 1.0) < 1e-5);
            free(x), free(w), free(b), free(g), free(y1), free(y2), free(dx1), free(dx2);
            free(dw1), free(dw2), free(db1), free(db2);
        }
}
END_TEST

typedef struct Gc { int n, in, out; float *x, *w, *b, *r, *y; } Gc;

static double gc_loss(void *p)
{
    Gc *g = p;
    linear_forward(g->y, g->x, g->w, g->b, g->n, g->in, g->out);
    return gc_dot(g->r, g->y, (size_t)g->n * g->out);
}

START_TEST(gradients_match_finite_differences)
{
    Gc g = {6, 9, 4, 0, 0, 0, 0, 0};
    g.x = malloc(4 * 54), g.w = malloc(4 * 36), g.b = malloc(16), g.r = malloc(4 * 24), g.y = malloc(4 * 24);
    gc_randn(g.x, 54, 1, 1), gc_randn(g.w, 36, 2, 0.5f), gc_randn(g.b, 4, 3, 1), gc_randn(g.r, 24, 4, 1);
    float dx[54], dw[36] = {0}, db[4] = {0};
    linear_backward(dx, dw, db, g.r, g.x, g.w, 6, 9, 4);
    ck_assert(gc_max_err(gc_loss, &g, g.x, dx, 54, 54, 1e-2f, 1e-2) < 1e-3);
    ck_assert(gc_max_err(gc_loss, &g, g.w, dw, 36, 36, 1e-2f, 1e-2) < 1e-3);
    ck_assert(gc_max_err(gc_loss, &g, g.b, db, 4, 4, 1e-2f, 1e-2) < 1e-3);
    free(g.x), free(g.w), free(g.b), free(g.r), free(g.y);
}
END_TEST

START_TEST(blocked_gemm_is_thread_count_independent)
{
    /* big enough to be split; both split directions; all transpose modes */
    const int dims[2][3] = {{4096, 64, 576}, {64, 1152, 2048}};
    for (int t = 0; t < 2; t++)
        for (int tr = 0; tr < 4; tr++) {
            int M = dims[t][0], N = dims[t][1], K = dims[t][2], ta = tr & 1, tb = tr >> 1;
            float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
            float *c1 = malloc(sizeof(float) * M * N), *c2 = malloc(sizeof(float) * M * N);
            float *ref = malloc(sizeof(float) * M * N);
            gc_randn(a, (size_t)M * K, 5, 1), gc_randn(b, (size_t)K * N, 6, 1);
            gc_randn(c1, (size_t)M * N, 7, 1);
            memcpy(c2, c1, sizeof(float) * M * N);
            memcpy(ref, c1, sizeof(float) * M * N);
            omp_set_num_threads(1);
            nn_sgemm(ta, tb, M, N, K, 0.5f, a, ta ? M : K, b, tb ? K : N, 1.0f, c1, N);
            omp_set_num_threads(2);
            nn_sgemm(ta, tb, M, N, K, 0.5f, a, ta ? M : K, b, tb ? K : N, 1.0f, c2, N);
            ck_assert(memcmp(c1, c2, sizeof(float) * M * N) == 0);
            /* spot-check against a direct dot product */
            for (int s = 0; s < 50; s++) {
                int i = (s * 7919) % M, j = (s * 104729) % N;
                double v = ref[(size_t)i * N + j];
                for (int k = 0; k < K; k++)
                    v += 0.5 * (double)(ta ? a[(size_t)k * M + i] : a[(size_t)i * K + k]) *
                         (tb ? b[(size_t)j * K + k] : b[(size_t)k * N + j]);
                ck_assert_msg(fabs(v - c1[(size_t)i * N + j]) < 1e-3, "%g vs %g", v, c1[(size_t)i * N + j]);
            }
            free(a), free(b), free(c1), free(c2), free(ref);
        }
}
END_TEST

/* bf16: the three products are gemm_bf16_ref's chains, bit for bit, for any
 * thread count; the bias and its gradient stay fp32. */
START_TEST(bf16_matches_its_reference_chain)
{
    const int sz[3][3] = {{5, 7, 3}, {64, 512, 96}, {33, 129, 65}};
    for (int t = 0; t < 3; t++)
        for (int th = 1; th <= 2; th++) {
            omp_set_num_threads(th);
            int n = sz[t][0], in = sz[t][1], out = sz[t][2];
            size_t sf = linear_scratch_floats_bf16(n, in, out);
            float *sc = aligned_alloc(64, (sf * 4 + 63) / 64 * 64);
            float *x = malloc(sizeof(float) * n * in), *w = malloc(sizeof(float) * out * in);
            float *b = malloc(sizeof(float) * out), *g = malloc(sizeof(float) * n * out);
            gc_randn(x, (size_t)n * in, 1, 1), gc_randn(w, (size_t)out * in, 2, 0.1f);
            gc_randn(b, out, 3, 1), gc_randn(g, (size_t)n * out, 4, 1);
            float *y1 = malloc(sizeof(float) * n * out), *y2 = malloc(sizeof(float) * n * out);
            linear_forward_bf16(y1, x, w, b, n, in, out, sc);
            linear_forward_ref_bf16(y2, x, w, b, n, in, out);
            ck_assert(!memcmp(y1, y2, sizeof(float) * n * out));
            float *dx1 = malloc(sizeof(float) * n * in), *dx2 = malloc(sizeof(float) * n * in);
            float *dw1 = malloc(sizeof(float) * out * in), *dw2 = malloc(sizeof(float) * out * in);
            gc_randn(dw1, (size_t)out * in, 7, 1);
            memcpy(dw2, dw1, sizeof(float) * out * in);
            float *db1 = calloc(out, 4), *db2 = calloc(out, 4);
            linear_backward_bf16(dx1, dw1, db1, g, x, w, n, in, out, sc);
            linear_backward_ref_bf16(dx2, dw2, db2, g, x, w, n, in, out);
            ck_assert(!memcmp(dx1, dx2, sizeof(float) * n * in));
            ck_assert(!memcmp(dw1, dw2, sizeof(float) * out * in));
            ck_assert(!memcmp(db1, db2, sizeof(float) * out));
            /* and near the fp32 layer: bf16's 8 significant bits */
            linear_forward_ref(y2, x, w, b, n, in, out);
            ck_assert(tu_max_rel_err(y1, y2, (size_t)n * out, 1.0) < 3e-2);
            free(x), free(w), free(b), free(g), free(y1), free(y2), free(dx1), free(dx2);
            free(dw1), free(dw2), free(db1), free(db2), free(sc);
        }
    omp_set_num_threads(1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("linear");
    TCase *tc = tcase_create("linear");
    tcase_add_test(tc, fast_matches_reference);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, blocked_gemm_is_thread_count_independent);
    tcase_add_test(tc, bf16_matches_its_reference_chain);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
