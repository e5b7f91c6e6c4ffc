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
