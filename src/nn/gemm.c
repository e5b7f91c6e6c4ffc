/* gemm.c — sgemm split in fixed blocks over OpenMP threads (see gemm.h). */
#include "nn/gemm.h"

#include <cblas.h>

/* Below this many multiply-adds one call is cheaper than splitting. */
#define GEMM_SPLIT_MACS (1 << 21)
#define GEMM_BLOCKS 4

void nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    if (M <= 0 || N <= 0) return;
    double macs = (double)M * N * K;
    int split_rows = M >= N;
    int dim = split_rows ? M : N;
    int nb = macs < GEMM_SPLIT_MACS || dim < 2 * 16 ? 1 : GEMM_BLOCKS;
    if (nb == 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* blocks of a multiple of 16 rows/columns (one AVX-512 vector) */
    int step = ((dim + nb - 1) / nb + 15) / 16 * 16;
    /* dynamic: a block waits for whichever thread is free (a shared CPU often
     * runs one thread slower); which thread runs a block never changes a number */
    #pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < nb; b++) {
        int lo = b * step, hi = lo + step < dim ? lo + step : dim;
        if (lo >= hi) continue;
        if (split_rows) {
            const float *a = trans_a ? A + lo : A + (size_t)lo * lda;
            cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, N, K, alpha, a, lda, B, ldb, beta,
                        C + (size_t)lo * ldc, ldc);
        } else {
            const float *bp = trans_b ? B + (size_t)lo * ldb : B + lo;
            cblas_sgemm(CblasRowMajor, ta, tb, M, hi - lo, K, alpha, A, lda, bp, ldb, beta, C + lo, ldc);
        }
    }
}

/* Chunks over K: measured on the resnet50 pointwise weight gradients (batch 64,
 * 2 threads, alternating): K = 16384 and M, N in 64..256: 4 blocks of C 0.85-2.75
 * ms, 4 chunks of K 0.50-2.02; K = 4096, 128 x 512: 2.06 against 1.86; K = 1024,
 * 256 x 1024: a tie; K = 256: blocks of C ahead (the partial sums cost more
 * than the packing saved). */
#define GEMM_K_CHUNKS 4
#define GEMM_K_PER_DIM 8   /* chunks when K >= this x max(M, N) */

int nn_sgemm_tn_chunks(int M, int N, int K)
{
    int dim = M > N ? M : N;
    return (double)M * N * K >= GEMM_SPLIT_MACS && K >= GEMM_K_PER_DIM * dim ? GEMM_K_CHUNKS : 1;
}

void nn_sgemm_tn_acc(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     float *part)
{
    const int nk = nn_sgemm_tn_chunks(M, N, K);
    if (nk == 1) {
        nn_sgemm(1, 0, M, N, K, 1.0f, A, lda, B, ldb, 1.0f, C, ldc);
        return;
    }
    const size_t mn = (size_t)M * N;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < nk; b++) {
        int lo = (int)((long)K * b / nk), hi = (int)((long)K * (b + 1) / nk);
        float *c = b ? part + (size_t)(b - 1) * mn : C;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, hi - lo, 1.0f, A + (size_t)lo * lda, lda,
                    B + (size_t)lo * ldb, ldb, b ? 0.0f : 1.0f, c, b ? N : ldc);
    }
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float v = C[(size_t)m * ldc + n];
            for (int b = 1; b < nk; b++) v += part[(size_t)(b - 1) * mn + (size_t)m * N + n];
            C[(size_t)m * ldc + n] = v;
        }
}
