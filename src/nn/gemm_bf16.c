/* gemm_bf16.c — bf16 GEMM with fp32 accumulation: AVX512-BF16 microkernel,
 * its emulation, packing, the threaded driver and the plain reference (see gemm_bf16.h).
 *
 * Blocking (one thread): for each block of KC pairs of k, each block of MC rows,
 * each B panel (NR = 64 columns), each MR = 6 rows: one microkernel call that
 * keeps the 6 x 64 tile of C in 24 zmm accumulators and per pair of k loads 4
 * vectors of B and broadcasts 6 words of A (24 vdpbf16ps for 10 loads).  The
 * B slice of a panel (KC pairs x 64 words = 32 KB) stays in L1 while the MC
 * rows go by; the A block (MC rows x KC pairs) stays in L2 across the panels.
 * The tile's chain is continued through C between k blocks (C is fp32, so
 * storing and reloading it loses nothing): the blocking never changes a number.
 */
#include "nn/gemm_bf16.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>

#define NR GEMM_BF16_NR
#define NV (NR / 16)
#define MR GEMM_BF16_MR
#define KC 128     /* pairs of k per block */
#define MC 96      /* rows per block (a multiple of MR) */
#define SHORT_KP 64  /* k blocks of at most this many pairs run row tiles outer */

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* (libgcc fills the CPU model in a constructor: no __builtin_cpu_init here,
 * which every GEMM call would run, from several threads at once) */
int gemm_bf16_native(void)
{
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}

/* ---- conversion ------------------------------------------------------------ */

/* 16 floats → 16 bf16, round to nearest even, subnormals to zero, NaN quiet:
 * the same as bf16_from_f32, in AVX-512F integer ops (so it needs no AVX512-BF16). */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
static inline __m256i cvt16(__m512 x)
{
    __m512i u = _mm512_castps_si512(x);
    __m512i expm = _mm512_set1_epi32(0x7f800000), absm = _mm512_set1_epi32(0x7fffffff);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                     _mm512_and_si512(_mm512_srli_epi32(u, 16),
                                                                      _mm512_set1_epi32(1))));
    __mmask16 sub = _mm512_cmpeq_epi32_mask(_mm512_and_si512(u, expm), _mm512_setzero_si512());
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, absm), expm);
    r = _mm512_mask_mov_epi32(r, sub, _mm512_and_si512(u, _mm512_set1_epi32((int)0x80000000u)));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, _mm512_set1_epi32(0x400000)));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}
#endif

BF16_TARGET_CVT static void convert_native(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(dst + i), bf16_cvt16_native(_mm512_loadu_ps(src + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(dst + i, m, bf16_cvt16_native(_mm512_maskz_loadu_ps(m, src + i)));
    }
}

/* The conversion's vector form is chosen at compile time (the build targets
 * the machine: -march=native), the instruction at run time where the CPU has it;
 * the dot product's at run time (gemm_bf16_native). */
void bf16_convert(uint16_t *dst, const float *src, size_t n)
{
    if (gemm_bf16_native()) convert_native(dst, src, n);
    else bf16_convert_emulated(dst, src, n);
}

void bf16_convert_emulated(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(dst + i), cvt16(_mm512_loadu_ps(src + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(dst + i, m, cvt16(_mm512_maskz_loadu_ps(m, src + i)));
        return;
    }
#endif
    for (; i < n; i++) dst[i] = bf16_from_f32(src[i]);
}

void bf16_convert_par(uint16_t *dst, const float *src, size_t n)
{
    const size_t blk = (size_t)1 << 16;
    long nb = (long)((n + blk - 1) / blk);
    #pragma omp parallel for schedule(dynamic, 1)
    for (long b = 0; b < nb; b++) {
        size_t i0 = (size_t)b * blk;
        bf16_convert(dst + i0, src + i0, n - i0 < blk ? n - i0 : blk);
    }
}

void bf16_widen(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) {
        __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
    }
#endif
    for (; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}

void bf16_convert_rows(uint16_t *dst, int ldd, const float *src, int lds, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        bf16_convert(dst + (size_t)r * ldd, src + (size_t)r * lds, (size_t)cols);
        if (cols & 1) dst[(size_t)r * ldd + cols] = 0;
    }
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
static void transpose_avx512(uint16_t *dst, int ldd, const float *src, int lds, int rows, int cols)
{
    /* 16 rows at a time: column c of those rows is one gather, one convert, one store */
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32(lds));
    int r = 0;
    for (; r + 16 <= rows; r += 16) {
        const float *s0 = src + (size_t)r * lds;
        for (int c = 0; c < cols; c++)
            _mm256_storeu_si256((__m256i *)(dst + (size_t)c * ldd + r), cvt16(_mm512_i32gather_ps(idx, s0 + c, 4)));
    }
    for (int c = 0; c < cols; c++)
        for (int rr = r; rr < rows; rr++) dst[(size_t)c * ldd + rr] = bf16_from_f32(src[(size_t)rr * lds + c]);
}
#endif

void bf16_transpose(uint16_t *dst, int ldd, const float *src, int lds, int rows, int cols)
{
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    if ((size_t)lds * 16 < ((size_t)1 << 31)) {
        transpose_avx512(dst, ldd, src, lds, rows, cols);
    } else
#endif
    {
        for (int c = 0; c < cols; c++)
            for (int r = 0; r < rows; r++) dst[(size_t)c * ldd + r] = bf16_from_f32(src[(size_t)r * lds + c]);
    }
    if (rows & 1)
        for (int c = 0; c < cols; c++) dst[(size_t)c * ldd + rows] = 0;
}

/* ---- packing of B ------------------------------------------------------------ */

size_t gemm_bf16_packed_words(int K, int N)
{
    return (size_t)((N + NR - 1) / NR) * NR * (size_t)((K + 1) / 2);
}

/* Panels of Bᵀ given as rows [N][K] (a weight): each row n is converted
 * once and its pairs scattered down column n of its panel. */
static void pack_bt(uint32_t *Bp, int K, int N, const float *B, int ldb)
{
    const int KP = (K + 1) / 2, np = (N + NR - 1) / NR;
    #pragma omp parallel for schedule(static)
    for (int j = 0; j < np; j++) {
        uint32_t *dst = Bp + (size_t)j * KP * NR;
        uint16_t row[2 * KC];
        for (int n = 0; n < NR; n++) {
            int nn = j * NR + n;
            for (int p0 = 0; p0 < KP; p0 += KC) {
                int kp = KP - p0 < KC ? KP - p0 : KC, k0 = 2 * p0, kn = K - k0 < 2 * kp ? K - k0 : 2 * kp;
                if (nn < N) bf16_convert(row, B + (size_t)nn * ldb + k0, (size_t)kn);
                else memset(row, 0, sizeof(uint16_t) * (size_t)kn);
                if (kn & 1) row[kn] = 0;
                uint32_t w[KC];
                memcpy(w, row, sizeof(uint32_t) * (size_t)kp);
                for (int p = 0; p < kp; p++) dst[(size_t)(p0 + p) * NR + n] = w[p];
            }
        }
    }
}

/* Panels of B given as rows [K][N]: rows 2p and 2p+1 converted and interleaved. */
static void pack_bn(uint32_t *Bp, int K, int N, const float *B, int ldb)
{
    const int KP = (K + 1) / 2, np = (N + NR - 1) / NR;
    #pragma omp parallel for schedule(static)
    for (int j = 0; j < np; j++) {
        uint32_t *dst = Bp + (size_t)j * KP * NR;
        int n0 = j * NR, nn = N - n0 < NR ? N - n0 : NR;
        uint16_t r0[NR], r1[NR];
        memset(r0, 0, sizeof r0), memset(r1, 0, sizeof r1);
        for (int p = 0; p < KP; p++) {
            bf16_convert(r0, B + (size_t)(2 * p) * ldb + n0, (size_t)nn);
            if (2 * p + 1 < K) bf16_convert(r1, B + (size_t)(2 * p + 1) * ldb + n0, (size_t)nn);
            else memset(r1, 0, sizeof r1);
            uint32_t *d = dst + (size_t)p * NR;
            for (int n = 0; n < NR; n++) d[n] = r0[n] | (uint32_t)r1[n] << 16;
        }
    }
}

void gemm_bf16_pack_b(uint32_t *Bp, int trans, int K, int N, const float *B, int ldb)
{
    if (trans) pack_bt(Bp, K, N, B, ldb);
    else pack_bn(Bp, K, N, B, ldb);
}

void gemm_bf16_pack_b16(uint32_t *Bp, int K, int N, const uint16_t *B, int ldb)
{
    const int KP = (K + 1) / 2, np = (N + NR - 1) / NR;
    #pragma omp parallel for schedule(static)
    for (int j = 0; j < np; j++) {
        uint32_t *dst = Bp + (size_t)j * KP * NR;
        int n0 = j * NR, nn = N - n0 < NR ? N - n0 : NR;
        for (int p = 0; p < KP; p++) {
            const uint16_t *r0 = B + (size_t)(2 * p) * ldb + n0, *r1 = r0 + ldb;
            uint32_t *d = dst + (size_t)p * NR;
            int has1 = 2 * p + 1 < K;
            for (int n = 0; n < nn; n++) d[n] = r0[n] | (has1 ? (uint32_t)r1[n] << 16 : 0);
            for (int n = nn; n < NR; n++) d[n] = 0;
        }
    }
}

/* ---- packing of A --------------------------------------------------------------- */

size_t gemm_bf16_packed_a_words(int M, int K)
{
    return (size_t)((M + MR - 1) / MR) * MR * (size_t)((K + 1) / 2);
}

/* Pair p of rows [m0, m0 + n) from the pair's halves: word = lo[m] | hi[m] << 16 (the pad rows of
 * the last block zero). */
static void put_pair(uint32_t *Ap, int M, int KP, int p, int m0, int n, const uint16_t *lo, const uint16_t *hi)
{
    for (int m = 0; m < n; m += MR) {
        uint32_t *d = Ap + ((size_t)((m0 + m) / MR) * KP + p) * MR;
        for (int i = 0; i < MR; i++)
            d[i] = m + i < n && m0 + m + i < M ? lo[m + i] | (uint32_t)hi[m + i] << 16 : 0;
    }
}

#define PA_ROWS (80 * MR)   /* rows converted at a time (a multiple of MR and of 16) */
#define PA_PAIRS 32         /* pairs per unit of the threads */

void gemm_bf16_pack_at(uint32_t *Ap, int M, int K, const float *At, int ldt)
{
    const int KP = (K + 1) / 2, nu = (KP + PA_PAIRS - 1) / PA_PAIRS;
    #pragma omp parallel for schedule(static)
    for (int u = 0; u < nu; u++) {
        uint16_t lo[PA_ROWS], hi[PA_ROWS];
        int p1 = (u + 1) * PA_PAIRS < KP ? (u + 1) * PA_PAIRS : KP;
        for (int m0 = 0; m0 < M; m0 += PA_ROWS) {
            int n = M - m0 < PA_ROWS ? M - m0 : PA_ROWS;
            for (int p = u * PA_PAIRS; p < p1; p++) {
                bf16_convert(lo, At + (size_t)(2 * p) * ldt + m0, (size_t)n);
                if (2 * p + 1 < K) bf16_convert(hi, At + (size_t)(2 * p + 1) * ldt + m0, (size_t)n);
                else memset(hi, 0, sizeof(uint16_t) * (size_t)n);
                put_pair(Ap, M, KP, p, m0, (n + MR - 1) / MR * MR, lo, hi);
            }
        }
    }
}

/* Elements ahead of the block being packed whose lines are fetched (about 4 lines
 * of 32 bf16): the unit walks its 2·PA_PAIRS rows side by side, too many streams
 * for the hardware prefetchers when At comes from memory (a BatchNorm's bf16
 * gradient, conv.c), which made the pack wait on every line. */
#define PA16_AHEAD 128

/* By units of PA_PAIRS pairs (their 2·PA_PAIRS rows of At stay in L1), each MR-row
 * block's words written in order: word[p][i] = At[2p][m + i] | At[2p+1][m + i] << 16. */
void gemm_bf16_pack_at16(uint32_t *Ap, int M, int K, const uint16_t *At, int ldt)
{
    const int KP = (K + 1) / 2, nu = (KP + PA_PAIRS - 1) / PA_PAIRS, nb = (M + MR - 1) / MR;
    #pragma omp parallel for schedule(static)
    for (int u = 0; u < nu; u++) {
        int p0 = u * PA_PAIRS, p1 = p0 + PA_PAIRS < KP ? p0 + PA_PAIRS : KP;
        for (int r = 2 * p0; r < 2 * p1 && r < K; r++)   /* the rows' first lines */
            for (int e = 0; e < PA16_AHEAD + MR && e < M; e += 32)
                _mm_prefetch((const char *)(At + (size_t)r * ldt + e), _MM_HINT_T0);
        for (int b = 0; b < nb; b++) {
            int m = b * MR;
            uint32_t *d = Ap + ((size_t)b * KP + p0) * MR;
            /* the line PA16_AHEAD elements on, when this block enters a new one */
            int ahead = m + MR + PA16_AHEAD < M && (m + PA16_AHEAD) / 32 != (m + MR + PA16_AHEAD) / 32;
            if (ahead)
                for (int r = 2 * p0; r < 2 * p1 && r < K; r++)
                    _mm_prefetch((const char *)(At + (size_t)r * ldt + m + MR + PA16_AHEAD), _MM_HINT_T0);
            if (m + MR <= M && 2 * p1 <= K) {
                for (int p = p0; p < p1; p++, d += MR) {
                    const uint16_t *lo = At + (size_t)(2 * p) * ldt + m, *hi = lo + ldt;
                    #pragma GCC unroll 6
                    for (int i = 0; i < MR; i++) d[i] = lo[i] | (uint32_t)hi[i] << 16;
                }
                continue;
            }
            for (int p = p0; p < p1; p++, d += MR) {   /* the last block's pad rows, an odd K's pad */
                const uint16_t *lo = At + (size_t)(2 * p) * ldt, *hi = 2 * p + 1 < K ? lo + ldt : NULL;
                for (int i = 0; i < MR; i++)
                    d[i] = m + i < M ? lo[m + i] | (hi ? (uint32_t)hi[m + i] << 16 : 0) : 0;
            }
        }
    }
}

/* ---- microkernels ------------------------------------------------------------ */

/* C tile [mr <= MR][nr <= NR] (+)= A rows · B panel slice, kp pairs; pair p of row i
 * of A is the word a[i·lda_w + p·ps]: rows of words (ps = 1), a packed block
 * (lda_w = 1, ps = MR) or pair rows (lda_w = 1, ps = the kernel's lda_w argument).
 * c16 (NULL: none): the tile is stored as bf16 there instead (rows ld16 apart), rounded
 * as bf16_from_f32; every row of C is loaded before the first is stored, so row i of
 * c16 may lie over row i of c. */
typedef void (*Kern)(int kp, const uint32_t *a, size_t lda_w, const uint32_t *b, float *c, int ldc, int load,
                     int mr, int nr, uint16_t *c16, size_t ld16);

BF16_TARGET __attribute__((always_inline))
static inline void kern_native_body(int kp, const uint32_t *a, size_t lda_w, const size_t ps, const uint32_t *b,
                                    float *c, int ldc, int load, int mr, int nr, uint16_t *c16, size_t ld16)
{
    __m512 acc[MR][NV];
    const uint32_t *ar[MR];
    __mmask16 mk[NV];
    #pragma GCC unroll 8
    for (int i = 0; i < MR; i++) ar[i] = a + (size_t)(i < mr ? i : mr - 1) * lda_w;
    #pragma GCC unroll 8
    for (int j = 0; j < NV; j++) mk[j] = lanes16(nr - 16 * j);
    #pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < NV; j++)
            acc[i][j] = load && i < mr ? _mm512_maskz_loadu_ps(mk[j], c + (size_t)i * ldc + 16 * j)
                                       : _mm512_setzero_ps();
    for (int p = 0; p < kp; p++) {
        __m512 bv[NV];
        #pragma GCC unroll 8
        for (int j = 0; j < NV; j++) bv[j] = _mm512_loadu_ps((const float *)(b + (size_t)p * NR + 16 * j));
        #pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)ar[i][(size_t)p * ps]);
            #pragma GCC unroll 8
            for (int j = 0; j < NV; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av, (__m512bh)bv[j]);
        }
    }
    if (c16) {
        #pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            if (i < mr)
                #pragma GCC unroll 8
                for (int j = 0; j < NV; j++)
                    _mm256_mask_storeu_epi16(c16 + (size_t)i * ld16 + 16 * j, mk[j], bf16_cvt16_native(acc[i][j]));
        return;
    }
    #pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        if (i < mr)
            #pragma GCC unroll 8
            for (int j = 0; j < NV; j++) _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16 * j, mk[j], acc[i][j]);
}

BF16_TARGET
static void kern_native(int kp, const uint32_t *a, size_t lda_w, const uint32_t *b, float *c, int ldc, int load,
                        int mr, int nr, uint16_t *c16, size_t ld16)
{
    kern_native_body(kp, a, lda_w, 1, b, c, ldc, load, mr, nr, c16, ld16);
}

BF16_TARGET
static void kern_native_pa(int kp, const uint32_t *a, size_t lda_w, const uint32_t *b, float *c, int ldc, int load,
                           int mr, int nr, uint16_t *c16, size_t ld16)
{
    (void)lda_w;
    kern_native_body(kp, a, 1, MR, b, c, ldc, load, mr, nr, c16, ld16);
}

BF16_TARGET
static void kern_native_pt(int kp, const uint32_t *a, size_t lda_w, const uint32_t *b, float *c, int ldc, int load,
                           int mr, int nr, uint16_t *c16, size_t ld16)
{
    kern_native_body(kp, a, 1, lda_w, b, c, ldc, load, mr, nr, c16, ld16);
}

/* One step of the chain: round(acc + a·b) (fmaf: the exact product, one
 * rounding, as vdpbf16ps), then a result below 2^-126 flushed to a zero of its sign. */
static inline float chain_step(float acc, float a, float b)
{
    float s = fmaf(a, b, acc);
    return fabsf(s) < FLT_MIN ? copysignf(0.0f, s) : s;
}

static inline float lo_f(uint32_t w) { return bf16_to_f32((uint16_t)(w & 0xffffu)); }
static inline float hi_f(uint32_t w) { return bf16_to_f32((uint16_t)(w >> 16)); }

/* The same chain without AVX512-BF16. */
static void kern_emul_body(int kp, const uint32_t *a, size_t lda_w, size_t ps, const uint32_t *b, float *c, int ldc,
                           int load, int mr, int nr, uint16_t *c16, size_t ld16)
{
    for (int i = 0; i < mr; i++) {
        float acc[NR];
        float *ci = c + (size_t)i * ldc;
        const uint32_t *ai = a + (size_t)i * lda_w;
        for (int j = 0; j < NR; j++) {
            float v = load && j < nr ? ci[j] : 0.0f;
            acc[j] = fabsf(v) < FLT_MIN ? copysignf(0.0f, v) : v;   /* vdpbf16ps's DAZ on C */
        }
        for (int p = 0; p < kp; p++) {
            float a0 = lo_f(ai[(size_t)p * ps]), a1 = hi_f(ai[(size_t)p * ps]);
            const uint32_t *bp = b + (size_t)p * NR;
            for (int j = 0; j < NR; j++) acc[j] = chain_step(chain_step(acc[j], a1, hi_f(bp[j])), a0, lo_f(bp[j]));
        }
        if (c16) {   /* (row i is read whole above before its bf16 lands on it) */
            for (int j = 0; j < nr; j++) c16[(size_t)i * ld16 + j] = bf16_from_f32(acc[j]);
        } else {
            for (int j = 0; j < nr; j++) ci[j] = acc[j];
        }
    }
}

static void kern_emul(int kp, const uint32_t *a, size_t lda_w, const uint32_t *b, float *c, int ldc, int load,
                      int mr, int nr, uint16_t *c16, size_t ld16)
{
    kern_emul_body(kp, a, lda_w, 1, b, c, ldc, load, mr, nr, c16, ld16);
}

static void kern_emul_pa(int kp, const uint32_t *a, size_t lda_w, const uint32_t *b, float *c, int ldc, int load,
                         int mr, int nr, uint16_t *c16, size_t ld16)
{
    (void)lda_w;
    kern_emul_body(kp, a, 1, MR, b, c, ldc, load, mr, nr, c16, ld16);
}

static void kern_emul_pt(int kp, const uint32_t *a, size_t lda_w, const uint32_t *b, float *c, int ldc, int load,
                         int mr, int nr, uint16_t *c16, size_t ld16)
{
    kern_emul_body(kp, a, 1, lda_w, b, c, ldc, load, mr, nr, c16, ld16);
}

/* ---- drivers ------------------------------------------------------------------ */

/* Where A's words are: pair p of row i (i a multiple of MR: a row tile) at
 * w + (i/MR)·tile + p·pair, the tile's rows `row` words apart (the kernel's lda_w).
 * Rows of words: row = lda/2, tile = MR·row, pair = 1; packed A: row = 1,
 * tile = MR·ceil(K/2), pair = MR. */
typedef struct AOp { const uint32_t *w; size_t row, tile, pair; } AOp;

static AOp a_rows(const uint16_t *A, int lda)
{
    AOp a = {(const uint32_t *)(const void *)A, (size_t)lda / 2, (size_t)MR * (size_t)(lda / 2), 1};
    return a;
}

static AOp a_packed(const uint32_t *Ap, int K)
{
    AOp a = {Ap, 1, (size_t)MR * (size_t)((K + 1) / 2), MR};
    return a;
}

/* Pair rows (gemm_bf16_pt): `row` carries the pair stride to kern_*_pt. */
static AOp a_pair_rows(const uint32_t *At2, int ldp)
{
    AOp a = {At2, (size_t)ldp, MR, (size_t)ldp};
    return a;
}

/* The rows from r0 (a multiple of MR) on. */
static AOp a_from(AOp a, int r0)
{
    a.w += (size_t)(r0 / MR) * a.tile;
    return a;
}

/* bkp: pairs per B panel (the panel stride: ceil(K/2) for a whole packed B).
 * c16 (NULL: none): the last k block stores bf16(C) there (rows ld16 apart)
 * instead of C; the blocks before it carry the chain through C as ever.  Panels
 * go in ascending order within each row, so with c16 over C (ld16 = 2·ldc) panel
 * j's bf16 lands on the fp32 columns of panel j/2, finished already. */
static void gemm_rows(Kern kern, int M, int N, int K, AOp A, const uint32_t *Bp, int bkp, int beta, float *C, int ldc,
                      int j0, int j1, uint16_t *c16, size_t ld16)
{
    const int KP = (K + 1) / 2;
    for (int p0 = 0; p0 < KP; p0 += KC) {
        int kp = KP - p0 < KC ? KP - p0 : KC, load = beta || p0 > 0;
        uint16_t *o16 = p0 + kp >= KP ? c16 : NULL;
        for (int i0 = 0; i0 < M; i0 += MC) {
            int i1 = i0 + MC < M ? i0 + MC : M;
            /* short k blocks: row tiles outer, so each tile writes whole rows of C
             * (C traffic dominates there: 283 against 241 GFLOPS on resnet18's
             * 64 px stage-1 data gradient); long ones: panels outer, the B
             * slice staying in L1 while the rows go by */
            int rows_outer = kp <= SHORT_KP;
            for (int jj = rows_outer ? 0 : j0; jj < (rows_outer ? 1 : j1); jj++)
                for (int i = i0; i < i1; i += MR)
                    for (int j = rows_outer ? j0 : jj; j < (rows_outer ? j1 : jj + 1); j++) {
                        const uint32_t *bp = Bp + ((size_t)j * bkp + p0) * NR;
                        int nr = N - j * NR < NR ? N - j * NR : NR;
                        kern(kp, A.w + (size_t)(i / MR) * A.tile + (size_t)p0 * A.pair, A.row, bp,
                             C + (size_t)i * ldc + (size_t)j * NR, ldc, load, i1 - i < MR ? i1 - i : MR, nr,
                             o16 ? o16 + (size_t)i * ld16 + (size_t)j * NR : NULL, ld16);
                    }
        }
    }
}

static Kern pick_kernel(int packed_a)
{
    if (gemm_bf16_native()) return packed_a ? kern_native_pa : kern_native;
    return packed_a ? kern_emul_pa : kern_emul;
}

void gemm_bf16(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, int beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows(pick_kernel(0), M, N, K, a_rows(A, lda), Bp, (K + 1) / 2, beta, C, ldc, 0, (N + NR - 1) / NR, NULL, 0);
}

void gemm_bf16_sub(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, int bkp, int beta, float *C,
                   int ldc)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows(pick_kernel(0), M, N, K, a_rows(A, lda), Bp, bkp, beta, C, ldc, 0, (N + NR - 1) / NR, NULL, 0);
}

void gemm_bf16_emulated(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, int beta, float *C,
                        int ldc)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows(kern_emul, M, N, K, a_rows(A, lda), Bp, (K + 1) / 2, beta, C, ldc, 0, (N + NR - 1) / NR, NULL, 0);
}

void gemm_bf16_pa(int M, int N, int K, const uint32_t *Ap, const uint32_t *Bp, int beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows(pick_kernel(1), M, N, K, a_packed(Ap, K), Bp, (K + 1) / 2, beta, C, ldc, 0, (N + NR - 1) / NR, NULL, 0);
}

void gemm_bf16_pa_emulated(int M, int N, int K, const uint32_t *Ap, const uint32_t *Bp, int beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows(kern_emul_pa, M, N, K, a_packed(Ap, K), Bp, (K + 1) / 2, beta, C, ldc, 0, (N + NR - 1) / NR, NULL, 0);
}

void gemm_bf16_pt(int M, int N, int K, const uint32_t *At2, int ldp, const uint32_t *Bp, int beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows(gemm_bf16_native() ? kern_native_pt : kern_emul_pt, M, N, K, a_pair_rows(At2, ldp), Bp, (K + 1) / 2,
              beta, C, ldc, 0, (N + NR - 1) / NR, NULL, 0);
}

void gemm_bf16_pt_emulated(int M, int N, int K, const uint32_t *At2, int ldp, const uint32_t *Bp, int beta, float *C,
                           int ldc)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows(kern_emul_pt, M, N, K, a_pair_rows(At2, ldp), Bp, (K + 1) / 2, beta, C, ldc, 0, (N + NR - 1) / NR,
              NULL, 0);
}

/* gemm_rows for a product whose C lies far (the weight gradient's columns of
 * one tap: c_out rows K floats apart, read and written once per k block):
 * panels outer, row tiles inner, k blocks of KC_FAR pairs (a panel's B slice,
 * 128 KB, stays in L2), and the C rows of the next tile fetched while the
 * current one runs.  The loads of C had been a quarter of the kernel's time
 * there: the dW of resnet18's 512-channel 4x4 maps (128 px, batch 64, 2
 * threads, all 9 taps) took 8.0 ms wall in gemm_rows' blocks of 128 pairs, 7.5
 * with the prefetch, 7.0 in blocks of 256 pairs, 6.4 of 512.  Same chains as
 * gemm_rows. */
#define KC_FAR 512
static void gemm_rows_far(Kern kern, int M, int N, int K, AOp A, const uint32_t *Bp, int beta, float *C, int ldc)
{
    const int KP = (K + 1) / 2, np = (N + NR - 1) / NR;
    for (int p0 = 0; p0 < KP; p0 += KC_FAR) {
        int kp = KP - p0 < KC_FAR ? KP - p0 : KC_FAR, load = beta || p0 > 0;
        for (int j = 0; j < np; j++) {
            const uint32_t *bp = Bp + ((size_t)j * KP + p0) * NR;
            int nr = N - j * NR < NR ? N - j * NR : NR;
            for (int i = 0; i < M; i += MR) {
                int ni = i + MR < M ? i + MR : 0, nj = i + MR < M ? j : j + 1;
                if (load && nj < np) {
                    const float *c = C + (size_t)ni * ldc + (size_t)nj * NR;
                    for (int r = 0; r < MR && ni + r < M; r++)
                        for (int l = 0; l < NR; l += 16)
                            _mm_prefetch((const char *)(c + (size_t)r * ldc + l), _MM_HINT_T0);
                }
                kern(kp, A.w + (size_t)(i / MR) * A.tile + (size_t)p0 * A.pair, A.row, bp,
                     C + (size_t)i * ldc + (size_t)j * NR, ldc, load, M - i < MR ? M - i : MR, nr, NULL, 0);
            }
        }
    }
}

void gemm_bf16_pt_far(int M, int N, int K, const uint32_t *At2, int ldp, const uint32_t *Bp, int beta, float *C,
                      int ldc)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows_far(gemm_bf16_native() ? kern_native_pt : kern_emul_pt, M, N, K, a_pair_rows(At2, ldp), Bp, beta, C,
                  ldc);
}

/* Below this many multiply-adds one thread does the whole product. */
#define SPLIT_MACS (1 << 21)
#define MAX_BLOCKS 16

/* c16 as gemm_rows'. */
static void nn_gemm(Kern kern, int M, int N, int K, AOp A, const uint32_t *Bp, int beta, float *C, int ldc,
                    uint16_t *c16, size_t ld16)
{
    if (M <= 0 || N <= 0) return;
    const int np = (N + NR - 1) / NR, mt = (M + MR - 1) / MR;
    double macs = (double)M * N * K;
    /* Blocks of rows when there are at least as many MC-row blocks as B panels,
     * else of B panels; row blocks are cut at MR-row tiles, so MAX_BLOCKS blocks
     * differ by at most one tile and the threads, taking blocks as they free up,
     * finish together.  Fixed by M, N, K: each element's chain is the same for any
     * thread count (and any blocking).  With c16 over C, rows only: a bf16 row
     * over its fp32 row (ld16 = 2·ldc) lands on other panels' columns, which a
     * thread working on those panels could still be reading. */
    const char *c0 = (const char *)C, *c1 = (const char *)(C + (size_t)(M - 1) * ldc + N);
    int over = c16 && (const char *)c16 < c1 && (const char *)(c16 + (size_t)(M - 1) * ld16 + N) > c0;
    int by_rows = over || (M + MC - 1) / MC >= np;
    int units = by_rows ? mt : np;
    int nb = macs < SPLIT_MACS ? 1 : units < MAX_BLOCKS ? units : MAX_BLOCKS;
    if (nb == 1) {
        gemm_rows(kern, M, N, K, A, Bp, (K + 1) / 2, beta, C, ldc, 0, np, c16, ld16);
        return;
    }
    #pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < nb; b++) {
        int u0 = (int)((long)units * b / nb), u1 = (int)((long)units * (b + 1) / nb);
        if (by_rows) {
            int r0 = u0 * MR, r1 = u1 * MR < M ? u1 * MR : M;
            gemm_rows(kern, r1 - r0, N, K, a_from(A, r0), Bp, (K + 1) / 2, beta, C + (size_t)r0 * ldc, ldc, 0, np,
                      c16 ? c16 + (size_t)r0 * ld16 : NULL, ld16);
        } else {
            gemm_rows(kern, M, N, K, A, Bp, (K + 1) / 2, beta, C, ldc, u0, u1, c16, ld16);
        }
    }
}

void nn_gemm_bf16(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, int beta, float *C, int ldc)
{
    nn_gemm(pick_kernel(0), M, N, K, a_rows(A, lda), Bp, beta, C, ldc, NULL, 0);
}

void nn_gemm_bf16_pa(int M, int N, int K, const uint32_t *Ap, const uint32_t *Bp, int beta, float *C, int ldc)
{
    nn_gemm(pick_kernel(1), M, N, K, a_packed(Ap, K), Bp, beta, C, ldc, NULL, 0);
}

void gemm_bf16_c16(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, float *C, int ldc,
                   uint16_t *C16, int ld16)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows(pick_kernel(0), M, N, K, a_rows(A, lda), Bp, (K + 1) / 2, 0, C, ldc, 0, (N + NR - 1) / NR, C16,
              (size_t)ld16);
}

void gemm_bf16_c16_emulated(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, float *C, int ldc,
                            uint16_t *C16, int ld16)
{
    if (M <= 0 || N <= 0) return;
    gemm_rows(kern_emul, M, N, K, a_rows(A, lda), Bp, (K + 1) / 2, 0, C, ldc, 0, (N + NR - 1) / NR, C16, (size_t)ld16);
}

void nn_gemm_bf16_c16(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, float *C, int ldc,
                      uint16_t *C16, int ld16)
{
    nn_gemm(pick_kernel(0), M, N, K, a_rows(A, lda), Bp, 0, C, ldc, C16, (size_t)ld16);
}

/* ---- reference ------------------------------------------------------------------- */

void gemm_bf16_ref(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B,
                   int ldb, int beta, float *C, int ldc)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = beta ? C[(size_t)m * ldc + n] : 0.0f;
            if (fabsf(acc) < FLT_MIN) acc = copysignf(0.0f, acc);
            for (int k = 0; k < K; k += 2) {
                float a[2] = {0, 0}, b[2] = {0, 0};
                for (int t = 0; t < 2 && k + t < K; t++) {
                    a[t] = bf16_round(trans_a ? A[(size_t)(k + t) * lda + m] : A[(size_t)m * lda + k + t]);
                    b[t] = bf16_round(trans_b ? B[(size_t)n * ldb + k + t] : B[(size_t)(k + t) * ldb + n]);
                }
                acc = chain_step(acc, a[1], b[1]);   /* the odd element first, as vdpbf16ps */
                acc = chain_step(acc, a[0], b[0]);
            }
            C[(size_t)m * ldc + n] = acc;
        }
}
