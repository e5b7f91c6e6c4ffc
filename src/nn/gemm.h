/* gemm.h — the one matrix multiply of the engine: row-major sgemm split over
 * our OpenMP threads.
 *
 *   C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C
 *
 * The output is cut into a fixed number of column or row blocks (chosen from
 * M, N, K only) and each block is one single-threaded OpenBLAS call, run by the
 * OpenMP threads.  Every element is computed by exactly one call over the full
 * K, so the numbers do not depend on the thread count, and BLAS shares our one
 * thread pool instead of competing with it (OpenBLAS's own pthreads are kept at
 * one: see ctx_apply_threads).
 */
#ifndef FASTC_NN_GEMM_H
#define FASTC_NN_GEMM_H

void nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

#endif
