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

/* C[M,N] += Aᵀ·B with A [K,M] (lda), B [K,N] (ldb) and K long against M and N
 * (a pointwise convolution's weight gradient: K = the batch's pixels).  Split
 * in blocks of C, every block would pack all of B (or A) again; split over K,
 * each operand is packed once.  When nn_sgemm_tn_chunks(M, N, K) > 1, K is cut
 * in that many fixed chunks: chunk 0 adds into C, the others into
 * part [(chunks − 1)·M·N floats], added to C in chunk order — the numbers
 * depend on M, N, K alone.  Otherwise it is nn_sgemm (part unused). */
int nn_sgemm_tn_chunks(int M, int N, int K);
void nn_sgemm_tn_acc(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     float *part);

#endif
