/* gemm_f32.h — fp32 matrix multiply for the pointwise (1x1) convolutions.
 *
 *   C[M,N] (+)= A[M,K] · op(B)        op(B) = B [K,N], or Bᵀ with B stored [N,K]
 *
 * The numbers.  Each element of C is one chain of fused multiply-adds in k
 * order:
 *     acc = beta ? C[m][n] : +0
 *     for k = 0 .. K−1:  acc = fmaf(A[m][k], op(B)[k][n], acc)
 * The chain never depends on the blocking or the thread count (blocks of K
 * continue the same accumulator through C), so gemm_f32_ref, the plain loop of
 * the same chain, is bit-identical to it (tests/test_gemm_f32.c).
 *
 * Why not OpenBLAS here: in a resnet step OpenBLAS packs both operands of
 * every call and clears C for beta = 0 (a pass over the output) before its
 * kernel adds into it; on the pointwise shapes (K = 64..2048, M up to 16384
 * rows of activations) the packing of A alone was 9% of a resnet50 step.
 * This kernel reads A (the activations) in place, broadcasting from 6 rows at
 * once, and packs only a 128 x 64 slice of B (the weights, 32 KB: L1) at a
 * time.  On a CPU without AVX-512 it calls nn_sgemm (OpenBLAS) instead, whose
 * numbers are the same up to the summation order. */
#ifndef FASTC_NN_GEMM_F32_H
#define FASTC_NN_GEMM_F32_H

#include <stddef.h>

/* C (beta: += ; else =) A·op(B), row-major, split over the OpenMP threads in
 * fixed units of rows and column panels. */
void gemm_f32(int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb, int beta,
              float *C, int ldc);

/* The same product on the calling thread alone, for callers that split the
 * work themselves (inside their own parallel region: Winograd's 16 GEMMs, one
 * per thread at a time).  The same chain: gemm_f32's numbers. */
void gemm_f32_serial(int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb, int beta,
                     float *C, int ldc);

/* op(B) [K,N] packed once for many products with the same B (Winograd's
 * U_ξ, reused by every block of tiles): bp holds gemm_f32_packed_floats(N, K)
 * floats.  gemm_f32_packed is gemm_f32_serial with B taken from there: the
 * same chain, so the same numbers. */
size_t gemm_f32_packed_floats(int N, int K);
void gemm_f32_pack_b(float *bp, int trans_b, int N, int K, const float *B, int ldb);
void gemm_f32_packed(int M, int N, int K, const float *A, int lda, const float *bp, int beta, float *C, int ldc);

/* The plain triple loop of the same chain (tests). */
void gemm_f32_ref(int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb, int beta,
                  float *C, int ldc);

/* Whether gemm_f32 runs its own kernel (the CPU has AVX-512) or OpenBLAS. */
int gemm_f32_native(void);

#endif
