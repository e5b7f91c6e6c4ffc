/* test_gemm_f32.c — src/nn/gemm_f32.c, the pointwise convolutions' GEMM: bit for
 * bit the plain chain of fused multiply-adds (gemm_f32_ref) over row, column and
 * K tails, both layouts of B, beta, leading dimensions wider than the matrix,
 * and the threaded driver's independence from the thread count (gemm_f32_serial,
 * the one-thread entry, and gemm_f32_packed on a B packed once, likewise bit
 * for bit); the chain
 * itself against a float64 product within fp32's bound; nn_sgemm_tn_acc's K chunks (gemm.h). */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/gemm.h"
#include "nn/gemm_f32.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int same_bits(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, 4)) return 0;
    return 1;
}

/* C (beta) + A·op(B) by gemm_f32 against gemm_f32_ref, bit for bit; pad widens
 * every leading dimension. */
static void check_shape(int M, int N, int K, int trans_b, int beta, int pad)
{
    int lda = K + pad, ldb = (trans_b ? K : N) + pad, ldc = N + pad, brows = trans_b ? N : K;
    float *A = malloc(sizeof(float) * ((size_t)M * lda + 1)), *B = malloc(sizeof(float) * ((size_t)brows * ldb + 1));
    float *C = malloc(sizeof(float) * ((size_t)M * ldc + 1)), *R = malloc(sizeof(float) * ((size_t)M * ldc + 1));
    gc_randn(A, (size_t)M * lda, 1 + M, 1.0f), gc_randn(B, (size_t)brows * ldb, 2 + N, 1.0f);
    gc_randn(C, (size_t)M * ldc, 3 + K, 1.0f);
    float *S = malloc(sizeof(float) * ((size_t)M * ldc + 1));
    memcpy(R, C, sizeof(float) * (size_t)M * ldc);
    memcpy(S, C, sizeof(float) * (size_t)M * ldc);
    gemm_f32(trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
    gemm_f32_serial(trans_b, M, N, K, A, lda, B, ldb, beta, S, ldc);
    gemm_f32_ref(trans_b, M, N, K, A, lda, B, ldb, beta, R, ldc);
    /* the padding columns of C are never written (they hold R's values) */
    ck_assert_msg(same_bits(C, R, (size_t)M * ldc), "M=%d N=%d K=%d trans_b=%d beta=%d pad=%d", M, N, K, trans_b,
                  beta, pad);
    ck_assert_msg(same_bits(S, R, (size_t)M * ldc), "serial: M=%d N=%d K=%d trans_b=%d beta=%d pad=%d", M, N, K,
                  trans_b, beta, pad);
    /* B packed once (one float past an aligned start: a caller's scratch need
     * not be aligned), then the product from the packed panels */
    float *P = malloc(sizeof(float) * ((size_t)M * ldc + 1)), *bpa = malloc(sizeof(float) * (gemm_f32_packed_floats(N, K) + 17));
    float *bp = bpa + 1;
    gc_randn(P, (size_t)M * ldc, 3 + K, 1.0f);   /* C's starting values again */
    gemm_f32_pack_b(bp, trans_b, N, K, B, ldb);
    gemm_f32_packed(M, N, K, A, lda, bp, beta, P, ldc);
    ck_assert_msg(same_bits(P, R, (size_t)M * ldc), "packed: M=%d N=%d K=%d trans_b=%d beta=%d pad=%d", M, N, K,
                  trans_b, beta, pad);
    free(S), free(P), free(bpa);
    free(A), free(B), free(C), free(R);
}

START_TEST(kernel_matches_reference_bit_for_bit)
{
    if (!gemm_f32_native()) return;   /* OpenBLAS here: the bound below still holds */
    /* rows: under one microkernel, tails of 1..5, several units; columns: under
     * a panel, tails, several panels; K: 0, 1, a slice, a slice and one */
    static const int shapes[][3] = {{1, 1, 1},      {6, 64, 2},      {7, 65, 3},       {13, 130, 147},
                                    {96, 64, 128},  {100, 70, 129},  {200, 200, 257},  {37, 512, 1024},
                                    {5, 17, 0},     {1543, 192, 64}, {800, 64, 300},   {11, 2048, 70}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta = 0; beta < 2; beta++)
                for (int pad = 0; pad < 4; pad += 3) check_shape(shapes[i][0], shapes[i][1], shapes[i][2], tb, beta, pad);
}
END_TEST

START_TEST(threaded_driver_is_the_same_for_any_thread_count)
{
    if (!gemm_f32_native()) return;
    /* unit layouts: by rows (M large), by column groups (M small, N large) */
    static const int shapes[][3] = {{7000, 128, 96}, {256, 2048, 200}, {1024, 300, 513}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
        float *R = malloc(sizeof(float) * M * N), *C = malloc(sizeof(float) * M * N);
        gc_randn(A, (size_t)M * K, 5, 1), gc_randn(B, (size_t)K * N, 6, 1);
        gemm_f32_ref(0, M, N, K, A, K, B, N, 0, R, N);
        for (int th = 1; th <= 3; th++) {
            omp_set_num_threads(th);
            memset(C, 0xff, sizeof(float) * M * N);   /* NaN: beta 0 must not read C */
            gemm_f32(0, M, N, K, A, K, B, N, 0, C, N);
            ck_assert_msg(same_bits(C, R, (size_t)M * N), "shape %zu, %d threads", s, th);
        }
        omp_set_num_threads(1);
        free(A), free(B), free(R), free(C);
    }
}
END_TEST

/* The chain is a matrix product: within K·eps·Σ|a·b| (plus beta's C) of float64. */
START_TEST(chain_is_the_product_within_fp32_bound)
{
    int M = 50, N = 70, K = 600;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K), *C = malloc(sizeof(float) * M * N);
    gc_randn(A, (size_t)M * K, 7, 1), gc_randn(B, (size_t)N * K, 8, 1), gc_randn(C, (size_t)M * N, 9, 1);
    float *C0 = malloc(sizeof(float) * M * N);
    memcpy(C0, C, sizeof(float) * M * N);
    gemm_f32(1, M, N, K, A, K, B, K, 1, C, N);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = C0[m * N + n], mag = fabs(s);
            for (int k = 0; k < K; k++) {
                double p = (double)A[m * K + k] * B[n * K + k];
                s += p, mag += fabs(p);
            }
            ck_assert_msg(fabs(C[m * N + n] - s) <= K * FLT_EPSILON * mag, "(%d,%d): %g vs %g", m, n, C[m * N + n], s);
        }
    free(A), free(B), free(C), free(C0);
}
END_TEST

/* nn_sgemm_tn_acc (gemm.h, the pointwise weight gradient): K long against M
 * and N is cut in 4 fixed chunks whose partial sums are added in order — the
 * product within fp32's bound of the double one, accumulated onto C, and the
 * same bits for 1 and 2 threads; a short K stays one nn_sgemm. */
START_TEST(k_chunked_tn_is_the_product_for_any_thread_count)
{
    const int M = 40, N = 24, K = 4101;
    ck_assert_int_eq(nn_sgemm_tn_chunks(M, N, K), 4);
    ck_assert_int_eq(nn_sgemm_tn_chunks(M, N, 256), 1);
    ck_assert_int_eq(nn_sgemm_tn_chunks(256, 1024, 1024), 1);
    float *A = malloc(sizeof(float) * K * M), *B = malloc(sizeof(float) * K * N);
    float *C0 = malloc(sizeof(float) * M * N), *C[2], *part = malloc(sizeof(float) * 3 * M * N);
    gc_randn(A, (size_t)K * M, 91, 1.0f);
    gc_randn(B, (size_t)K * N, 92, 1.0f);
    gc_randn(C0, (size_t)M * N, 93, 1.0f);
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        C[t] = malloc(sizeof(float) * M * N);
        memcpy(C[t], C0, sizeof(float) * M * N);
        memset(part, 0xff, sizeof(float) * 3 * M * N);   /* NaNs: every partial must be written */
        nn_sgemm_tn_acc(M, N, K, A, M, B, N, C[t], N, part);
    }
    ck_assert(memcmp(C[0], C[1], sizeof(float) * M * N) == 0);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double ref = C0[m * N + n], mag = fabs(ref);
            for (int k = 0; k < K; k++) {
                double p = (double)A[(size_t)k * M + m] * B[(size_t)k * N + n];
                ref += p, mag += fabs(p);
            }
            ck_assert_msg(fabs(C[0][m * N + n] - ref) <= 2.0 * K * FLT_EPSILON * mag, "C[%d][%d] = %g, want %g",
                          m, n, C[0][m * N + n], ref);
        }
    free(A), free(B), free(C0), free(C[0]), free(C[1]), free(part);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gemm_f32");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kernel_matches_reference_bit_for_bit);
    tcase_add_test(tc, threaded_driver_is_the_same_for_any_thread_count);
    tcase_add_test(tc, chain_is_the_product_within_fp32_bound);
    tcase_add_test(tc, k_chunked_tn_is_the_product_for_any_thread_count);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
