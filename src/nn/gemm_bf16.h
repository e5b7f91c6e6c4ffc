/* gemm_bf16.h — bf16 matrix multiply with fp32 accumulation (`precision = bf16`).
 *
 *   C[M,N] (+)= A[M,K] · B[K,N]        A, B bf16;  C fp32
 *
 * The numbers.  Every input is an fp32 value rounded to bf16, to nearest even
 * (bf16_from_f32; subnormal inputs become zero, as vcvtneps2bf16's DAZ).  Each
 * element of C is one chain of fp32 adds, k taken by pairs as vdpbf16ps takes
 * them (odd element first):
 *     acc = beta ? C : +0
 *     for p = 0 .. ceil(K/2)−1:
 *         acc = ftz(acc + a[2p+1]·b[2p+1]);   acc = ftz(acc + a[2p]·b[2p])
 * A product of two bf16 (8-bit significands) is exact in fp32, each add rounds
 * to nearest even, ftz flushes a result below 2^-126 in magnitude to a zero of
 * its sign (vdpbf16ps's FTZ); a missing k (odd K) is a zero.  The chain never
 * depends on the blocking, the thread count or the CPU: with AVX512-BF16 it is
 * vdpbf16ps (gemm_bf16_native()), without it an emulation that does the same
 * adds (slower).  gemm_bf16_ref is the plain triple loop of the same chain;
 * the tests hold both paths to it bit for bit.  (Products below 2^-126 are the
 * one place the emulation may round differently: no training value gets there.)
 *
 * Operands.
 *   A: bf16 row-major, lda (elements) even, the K values of a row contiguous,
 *      so a pair loads as one 32-bit word; when K is odd, A[r][K] must be +0.
 *   B: packed in the VNNI pair layout: panels of GEMM_BF16_NR columns; panel j
 *      holds, for pair p = 0 .. ceil(K/2)−1, NR 32-bit words
 *          word[p][n] = bf16(b[2p][j·NR+n]) | bf16(b[2p+1][j·NR+n]) << 16
 *      (zero past N or K).  gemm_bf16_pack_b* write it.
 *   A may instead come packed (the *_pa functions) in the layout the
 *   microkernel reads: blocks of GEMM_BF16_MR rows; block b holds, for pair p,
 *   MR 32-bit words
 *          word[p][i] = bf16(a[b·MR+i][2p]) | bf16(a[b·MR+i][2p+1]) << 16
 *      (zero past M or K).  Where A is a transpose (the weight gradient's
 *      doutᵀ), packing it reads the rows of dout in order: no gather.
 *   Or A as pair rows of Aᵀ (the *_pt functions): word[p][m] for all m of
 *      pair p in one row, as a B panel of any width (see gemm_bf16_pt).
 */
#ifndef FASTC_NN_GEMM_BF16_H
#define FASTC_NN_GEMM_BF16_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GEMM_BF16_NR 64   /* B panel width (columns): 4 AVX-512 vectors */

/* fp32 → bf16, round to nearest even; NaN stays NaN; subnormal → zero of its sign. */
static inline uint16_t bf16_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* The mask of the first n of 16 lanes (n >= 16: all, n <= 0: none): a tail of
 * columns or channels. */
static inline __mmask16 lanes16(int n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

static inline float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* x rounded to bf16 and back (the value a bf16 GEMM sees). */
static inline float bf16_round(float x) { return bf16_to_f32(bf16_from_f32(x)); }

/* Whether this CPU runs vdpbf16ps (AVX512-BF16); otherwise the emulation runs. */
int gemm_bf16_native(void);

/* 16 floats → 16 bf16 by vcvtneps2bf16 (round to nearest even, subnormal inputs
 * to signed zero: bf16_from_f32's words), a NaN lane set as bf16_from_f32 sets it
 * (the instruction's own NaN need not keep the payload): a third of the integer
 * emulation's instructions, where the BatchNorms round every row they write
 * (batchnorm.h) and the GEMM stores bf16.  Only where gemm_bf16_native(). */
#define BF16_TARGET_CVT __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
BF16_TARGET_CVT static inline __m256i bf16_cvt16_native(__m512 x)
{
    __m256i r = (__m256i)_mm512_cvtneps_pbh(x);
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    if (nan) {
        __m512i u = _mm512_or_si512(_mm512_srli_epi32(_mm512_castps_si512(x), 16), _mm512_set1_epi32(0x40));
        r = _mm256_mask_mov_epi16(r, nan, _mm512_cvtepi32_epi16(u));
    }
    return r;
}

/* dst[i] = bf16(src[i]), i < n. */
void bf16_convert(uint16_t *dst, const float *src, size_t n);

/* bf16_convert without vcvtneps2bf16, whatever the CPU: what a CPU without
 * AVX512-BF16 runs (the tests hold both to bf16_from_f32). */
void bf16_convert_emulated(uint16_t *dst, const float *src, size_t n);

/* The same, split over the OpenMP threads (for large n). */
void bf16_convert_par(uint16_t *dst, const float *src, size_t n);

/* dst[i] = the fp32 value of src[i], i < n (exact). */
void bf16_widen(float *dst, const uint16_t *src, size_t n);

/* dst[r][c] = bf16(src[r][c]) for r < rows, c < cols (row strides ldd, lds);
 * when cols is odd, dst[r][cols] = 0 (the pad of an odd K). */
void bf16_convert_rows(uint16_t *dst, int ldd, const float *src, int lds, int rows, int cols);

/* dst[c][r] = bf16(src[r][c]) for r < rows, c < cols: the transpose; when rows
 * is odd, dst[c][rows] = 0. */
void bf16_transpose(uint16_t *dst, int ldd, const float *src, int lds, int rows, int cols);

/* 32-bit words of a packed B of K x N. */
size_t gemm_bf16_packed_words(int K, int N);

/* Pack B[K,N] (fp32) into Bp: trans = 0: b[k][n] = B[k·ldb + n];
 * trans = 1: b[k][n] = B[n·ldb + k] (B given as Bᵀ, e.g. a weight [N][K]). */
void gemm_bf16_pack_b(uint32_t *Bp, int trans, int K, int N, const float *B, int ldb);

/* The same from bf16 rows: b[k][n] = B[k·ldb + n]. */
void gemm_bf16_pack_b16(uint32_t *Bp, int K, int N, const uint16_t *B, int ldb);

#define GEMM_BF16_MR 6    /* rows of a packed A block (the microkernel's rows) */

/* 32-bit words of a packed A of M x K. */
size_t gemm_bf16_packed_a_words(int M, int K);

/* Pack A[M,K] given as Aᵀ rows [K][M] (fp32): a[m][k] = At[k·ldt + m]. */
void gemm_bf16_pack_at(uint32_t *Ap, int M, int K, const float *At, int ldt);

/* The same from bf16 rows [K][M] (no rounding: the words gemm_bf16_pack_at writes
 * from their fp32 values). */
void gemm_bf16_pack_at16(uint32_t *Ap, int M, int K, const uint16_t *At, int ldt);

/* C[M,N] = (beta ? C : 0) + A·B on the calling thread (beta is 0 or 1). */
void gemm_bf16(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, int beta, float *C,
               int ldc);

/* gemm_bf16 on a block of a larger packed B: Bp points at pair p0 of panel j0
 * (Bp_whole + (j0·bkp + p0)·GEMM_BF16_NR), each panel holding bkp pairs; the
 * product uses pairs p0 .. p0 + ceil(K/2) − 1 and columns j0·NR .. j0·NR + N − 1.
 * (The convolution by taps multiplies segments of the packed weight this way.) */
void gemm_bf16_sub(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, int bkp, int beta, float *C,
                   int ldc);

/* gemm_bf16 by the emulation whatever the CPU (the tests hold it to the native path). */
void gemm_bf16_emulated(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, int beta, float *C,
                        int ldc);

/* The same, the output cut into blocks fixed by M, N, K and run by the OpenMP
 * threads (each element is still one chain: same numbers for any thread count). */
void nn_gemm_bf16(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, int beta, float *C,
                  int ldc);

/* C16 = bf16(A·B) (beta 0), rounded as bf16_from_f32, rows ld16 apart: the
 * product stored as bf16 by the microkernel itself (a bf16 convolution's output,
 * conv.h), never written in fp32 as a whole.  C [M][ldc] is fp32 scratch that
 * carries each chain between blocks of 256 k (K <= 256: not touched).  C16 may
 * lie over C, row r of C16 over the first half of row r of C (ld16 = 2·ldc,
 * C16 = (uint16_t *)C): panels are stored in ascending order within a row, so a
 * bf16 store lands on fp32 columns already finished, and the threaded driver
 * then splits the rows only (a C16 apart from C: rows or panels, as
 * nn_gemm_bf16).  Same chains as gemm_bf16: C16 equals bf16_from_f32 of
 * gemm_bf16's C, bit for bit, for any thread count. */
void gemm_bf16_c16(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, float *C, int ldc,
                   uint16_t *C16, int ld16);
void gemm_bf16_c16_emulated(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, float *C, int ldc,
                            uint16_t *C16, int ld16);
void nn_gemm_bf16_c16(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, float *C, int ldc,
                      uint16_t *C16, int ld16);

/* gemm_bf16, its emulation and nn_gemm_bf16 with A packed (gemm_bf16_pack_at / _pack_at16):
 * the same chains, the same numbers. */
void gemm_bf16_pa(int M, int N, int K, const uint32_t *Ap, const uint32_t *Bp, int beta, float *C, int ldc);
void gemm_bf16_pa_emulated(int M, int N, int K, const uint32_t *Ap, const uint32_t *Bp, int beta, float *C, int ldc);
void nn_gemm_bf16_pa(int M, int N, int K, const uint32_t *Ap, const uint32_t *Bp, int beta, float *C, int ldc);

/* gemm_bf16 and its emulation with A given as pair rows of Aᵀ: word[p][m] =
 * bf16(a[m][2p]) | bf16(a[m][2p+1]) << 16 at At2[p·ldp + m] (ldp >= M; zero
 * past K), two rows of Aᵀ interleaved, as B's panels but of any width.  What a
 * transform writes for two k at once in whole vectors, where the packed layout
 * would scatter it in MR-word pieces (the bf16 Winograd weight gradient's Ŷᵀ).
 * The same chains, the same numbers. */
void gemm_bf16_pt(int M, int N, int K, const uint32_t *At2, int ldp, const uint32_t *Bp, int beta, float *C, int ldc);
void gemm_bf16_pt_emulated(int M, int N, int K, const uint32_t *At2, int ldp, const uint32_t *Bp, int beta, float *C,
                           int ldc);

/* gemm_bf16_pt for a C far in memory, read and written once per long k block,
 * the next tile's C fetched ahead (the weight gradient by taps, conv.c).  The
 * same chains, the same numbers. */
void gemm_bf16_pt_far(int M, int N, int K, const uint32_t *At2, int ldp, const uint32_t *Bp, int beta, float *C,
                      int ldc);

/* Plain reference, fp32 operands rounded here: C = (beta ? C : 0) + bf16(op(A))·bf16(op(B)),
 * op(A)[m][k] = trans_a ? A[k·lda + m] : A[m·lda + k], op(B)[k][n] = trans_b ? B[n·ldb + k] : B[k·ldb + n]. */
void gemm_bf16_ref(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B,
                   int ldb, int beta, float *C, int ldc);

#endif
