/* gemm_f32.c — fp32 GEMM with A read in place (see gemm_f32.h).
 *
 * Blocking.  The work is cut into units of MC rows x NG column panels of NR
 * columns, fixed by M and N alone.  A unit walks K in slices of KC; for each
 * slice and panel it packs the KC x NR block of op(B) (32 KB, zero past N)
 * and runs the 6 x 64 microkernel down its rows: 24 zmm accumulators, per k
 * four loads of the packed B row and six broadcasts of A[m..m+5][k].  The A
 * block of a unit (MC x KC, 384 KB) stays in L2 across the panels.  A slice
 * after the first starts from the partial sums stored in C: the same chain. */
#include "nn/gemm_f32.h"

#include "nn/gemm.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define MR 6      /* microkernel rows */
#define NR 64     /* panel width: 4 AVX-512 vectors */
#define KC 128    /* K slice: a packed panel of KC x NR floats is 32 KB */
#define MC 768    /* rows per unit (a multiple of MR) */
#define SPLIT_MACS (1 << 21)   /* below this, one unit: a split costs more than it gains */

void gemm_f32_ref(int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb, int beta,
                  float *C, int ldc)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = beta ? C[(size_t)m * ldc + n] : 0.0f;
            for (int k = 0; k < K; k++)
                acc = fmaf(A[(size_t)m * lda + k], trans_b ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n], acc);
            C[(size_t)m * ldc + n] = acc;
        }
}

/* The kernel is built for AVX-512 whatever the build's -march (the sanitizer
 * tree checks it too) and chosen at run time. */
#include <immintrin.h>
#define F32_TARGET __attribute__((target("avx512f")))

int gemm_f32_native(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
}

/* bp[kk][j] = op(B)[k0 + kk][n0 + j] for kk < kc, j < NR (zero where n0 + j >= N). */
F32_TARGET static void pack_b(float *bp, int trans_b, const float *B, int ldb, int k0, int kc, int n0, int N)
{
    int nr = N - n0 < NR ? N - n0 : NR;
    if (trans_b) {
        if (nr < NR) memset(bp, 0, sizeof(float) * (size_t)kc * NR);
        for (int j = 0; j < nr; j++) {
            const float *src = B + (size_t)(n0 + j) * ldb + k0;
            for (int kk = 0; kk < kc; kk++) bp[(size_t)kk * NR + j] = src[kk];
        }
    } else {
        for (int kk = 0; kk < kc; kk++) {
            float *dst = bp + (size_t)kk * NR;
            memcpy(dst, B + (size_t)(k0 + kk) * ldb + n0, sizeof(float) * (size_t)nr);
            if (nr < NR) memset(dst + nr, 0, sizeof(float) * (size_t)(NR - nr));
        }
    }
}

/* C[mr x nr] (load: += ; else =) A[mr x kc] · bp[kc x NR]; mr <= MR a
 * compile-time constant after inlining, nr <= NR masked on C only. */
F32_TARGET static inline __attribute__((always_inline)) void kern(const int mr, int kc, const float *a, int lda,
                                                       const float *bp, float *c, int ldc, int load, int nr)
{
    __m512 acc[MR][4];
    __mmask16 mk[4];
    for (int j = 0; j < 4; j++) {
        int rem = nr - 16 * j;
        mk[j] = rem >= 16 ? (__mmask16)0xffff : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1);
    }
    #pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            if (i < mr)
                acc[i][j] = load ? _mm512_maskz_loadu_ps(mk[j], c + (size_t)i * ldc + 16 * j) : _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        const float *b = bp + (size_t)k * NR;
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32),
               b3 = _mm512_loadu_ps(b + 48);
        #pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            if (i < mr) {
                __m512 av = _mm512_set1_ps(a[(size_t)i * lda + k]);
                acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
                acc[i][2] = _mm512_fmadd_ps(av, b2, acc[i][2]);
                acc[i][3] = _mm512_fmadd_ps(av, b3, acc[i][3]);
            }
    }
    #pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            if (i < mr) _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16 * j, mk[j], acc[i][j]);
}

F32_TARGET static void kern_any(int mr, int kc, const float *a, int lda, const float *bp, float *c, int ldc, int load, int nr)
{
    switch (mr) {
    case 6: kern(6, kc, a, lda, bp, c, ldc, load, nr); break;
    case 5: kern(5, kc, a, lda, bp, c, ldc, load, nr); break;
    case 4: kern(4, kc, a, lda, bp, c, ldc, load, nr); break;
    case 3: kern(3, kc, a, lda, bp, c, ldc, load, nr); break;
    case 2: kern(2, kc, a, lda, bp, c, ldc, load, nr); break;
    default: kern(1, kc, a, lda, bp, c, ldc, load, nr); break;
    }
}

/* Rows [r0, r1) x panels [p0, p1) of C.  B packed here, slice by slice and
 * panel by panel, or (pre != NULL) taken from gemm_f32_pack_b's layout. */
F32_TARGET static void unit(int trans_b, int r0, int r1, int p0, int p1, int N, int K, const float *A, int lda, const float *B,
                 int ldb, const float *pre, int beta, float *C, int ldc)
{
    float bp[KC * NR] __attribute__((aligned(64)));
    const int np = (N + NR - 1) / NR;
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC, load = beta || k0 > 0;
        for (int p = p0; p < p1; p++) {
            int n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
            const float *b = bp;
            if (pre) b = pre + (size_t)k0 * np * NR + (size_t)p * kc * NR;
            else pack_b(bp, trans_b, B, ldb, k0, kc, n0, N);
            int m = r0;
            for (; m + MR <= r1; m += MR)
                kern(MR, kc, A + (size_t)m * lda + k0, lda, b, C + (size_t)m * ldc + n0, ldc, load, nr);
            if (m < r1) kern_any(r1 - m, kc, A + (size_t)m * lda + k0, lda, b, C + (size_t)m * ldc + n0, ldc, load, nr);
        }
    }
    if (K == 0 && !beta)   /* no k: C = 0 */
        for (int m = r0; m < r1; m++) {
            int n0 = p0 * NR, n1 = p1 * NR < N ? p1 * NR : N;
            memset(C + (size_t)m * ldc + n0, 0, sizeof(float) * (size_t)(n1 - n0));
        }
}

size_t gemm_f32_packed_floats(int N, int K)
{
    return (size_t)K * (size_t)((N + NR - 1) / NR) * NR;
}

void gemm_f32_pack_b(float *bp, int trans_b, int N, int K, const float *B, int ldb)
{
    if (!gemm_f32_native()) {   /* OpenBLAS takes B as it is: keep op(B) [K][N] plainly */
        for (int k = 0; k < K; k++)
            for (int n = 0; n < N; n++) bp[(size_t)k * N + n] = trans_b ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n];
        return;
    }
    const int np = (N + NR - 1) / NR;
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        for (int p = 0; p < np; p++) pack_b(bp + (size_t)k0 * np * NR + (size_t)p * kc * NR, trans_b, B, ldb, k0, kc, p * NR, N);
    }
}

void gemm_f32_packed(int M, int N, int K, const float *A, int lda, const float *bp, int beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (!gemm_f32_native()) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, bp, N, beta ? 1.0f : 0.0f, C, ldc);
        return;
    }
    int np = (N + NR - 1) / NR;
    for (int r0 = 0; r0 < M; r0 += MC)
        unit(0, r0, r0 + MC < M ? r0 + MC : M, 0, np, N, K, A, lda, NULL, 0, bp, beta, C, ldc);
}

void gemm_f32_serial(int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb, int beta,
                     float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (!gemm_f32_native()) {   /* one single-threaded OpenBLAS call: another summation order */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb,
                    beta ? 1.0f : 0.0f, C, ldc);
        return;
    }
    /* row blocks of MC, so a block of A stays in L2 across the panels */
    int np = (N + NR - 1) / NR;
    for (int r0 = 0; r0 < M; r0 += MC)
        unit(trans_b, r0, r0 + MC < M ? r0 + MC : M, 0, np, N, K, A, lda, B, ldb, NULL, beta, C, ldc);
}

void gemm_f32(int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb, int beta,
              float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (!gemm_f32_native()) {   /* OpenBLAS: the same products, another summation order */
        nn_sgemm(0, trans_b, M, N, K, 1.0f, A, lda, B, ldb, beta ? 1.0f : 0.0f, C, ldc);
        return;
    }
    /* units: row blocks of about MC rows (whole MR blocks), and column groups
     * of panels when the rows alone give fewer than 8 units */
    int np = (N + NR - 1) / NR, mb = (M + MC - 1) / MC;
    int rows = ((M + mb - 1) / mb + MR - 1) / MR * MR;
    int gp = mb >= 8 ? np : np >= 8 ? (np + 7) / 8 : 1;   /* panels per group */
    int ng = (np + gp - 1) / gp, units = mb * ng;
    if ((double)M * N * K < SPLIT_MACS) {
        unit(trans_b, 0, M, 0, np, N, K, A, lda, B, ldb, NULL, beta, C, ldc);
        return;
    }
    #pragma omp parallel for schedule(dynamic, 1)
    for (int u = 0; u < units; u++) {
        int rb = u / ng, g = u % ng;
        int r0 = rb * rows, r1 = r0 + rows < M ? r0 + rows : M;
        int p0 = g * gp, p1 = p0 + gp < np ? p0 + gp : np;
        if (r0 < r1) unit(trans_b, r0, r1, p0, p1, N, K, A, lda, B, ldb, NULL, beta, C, ldc);
    }
}

