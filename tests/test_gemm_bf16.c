/* test_gemm_bf16.c — src/nn/gemm_bf16.c: fp32 → bf16 rounding (scalar, vector
 * and, where the CPU has it, against vcvtneps2bf16), and the bf16 GEMM — the
 * AVX512-BF16 microkernel and its emulation — bit for bit against the plain
 * reference chain (gemm_bf16.h), with both packings, odd K, edge tiles, beta,
 * subnormals, and the threaded driver's independence from the thread count. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/gemm_bf16.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int same_bits(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, 4)) return 0;
    return 1;
}

START_TEST(rounding_is_nearest_even)
{
    ck_assert_uint_eq(bf16_from_f32(1.0f), 0x3f80);
    ck_assert_uint_eq(bf16_from_f32(from_bits(0x3f808000)), 0x3f80);   /* tie, even below */
    ck_assert_uint_eq(bf16_from_f32(from_bits(0x3f818000)), 0x3f82);   /* tie, even above */
    ck_assert_uint_eq(bf16_from_f32(from_bits(0x3f808001)), 0x3f81);   /* above the tie */
    ck_assert_uint_eq(bf16_from_f32(from_bits(0x3f807fff)), 0x3f80);   /* below the tie */
    ck_assert_uint_eq(bf16_from_f32(-2.5f), 0xc020);
    ck_assert_uint_eq(bf16_from_f32(from_bits(0x7f7fffff)), 0x7f80);   /* FLT_MAX rounds to inf */
    ck_assert_uint_eq(bf16_from_f32(INFINITY), 0x7f80);
    ck_assert_uint_eq(bf16_from_f32(from_bits(0x7f800001)), 0x7fc0);   /* NaN stays NaN, quiet */
    ck_assert_uint_eq(bf16_from_f32(ldexpf(1, -130)), 0x0000);         /* subnormal → 0 (DAZ) */
    ck_assert_uint_eq(bf16_from_f32(-ldexpf(1, -130)), 0x8000);
    ck_assert_uint_eq(bf16_from_f32(FLT_MIN), 0x0080);
    ck_assert(bf16_round(3.14159265f) == 3.140625f);
}
END_TEST

/* Values that exercise every rounding case: random bits of every exponent. */
static void special_values(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        uint32_t u = s;
        if (i % 7 == 0) u = (u & 0xffff0000u) | 0x8000u;   /* exact ties */
        if (i % 11 == 0) u &= 0x807fffffu;                 /* subnormals */
        x[i] = from_bits(u);
    }
}

START_TEST(vector_conversion_matches_scalar)
{
    enum { N = 4099 };
    float *x = malloc(sizeof(float) * N);
    uint16_t *h = malloc(2 * N);
    special_values(x, N, 9);
    bf16_convert(h, x, N);
    for (int i = 0; i < N; i++) ck_assert_uint_eq(h[i], bf16_from_f32(x[i]));
    memset(h, 0xff, 2 * N);
    bf16_convert_emulated(h, x, N);   /* a CPU without AVX512-BF16 */
    for (int i = 0; i < N; i++) ck_assert_uint_eq(h[i], bf16_from_f32(x[i]));
    free(x), free(h);
}
END_TEST

/* The threaded conversion: every value, across its 64K-value blocks and the
 * short last one, for 1 to 3 threads. */
START_TEST(threaded_conversion_matches_scalar)
{
    const size_t N = 3 * ((size_t)1 << 16) + 1001;
    float *x = malloc(sizeof(float) * N);
    uint16_t *h = malloc(2 * N);
    special_values(x, N, 5);
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        memset(h, 0xff, 2 * N);
        bf16_convert_par(h, x, N);
        for (size_t i = 0; i < N; i++)
            if (h[i] != bf16_from_f32(x[i])) ck_abort_msg("%d threads: value %zu", th, i);
    }
    omp_set_num_threads(1);
    free(x), free(h);
}
END_TEST

__attribute__((target("avx512f,avx512bf16,avx512vl")))
static void hw_convert(uint16_t *dst, const float *src)
{
    __m256bh r = _mm512_cvtneps_pbh(_mm512_loadu_ps(src));
    memcpy(dst, &r, 32);
}

START_TEST(conversion_matches_the_instruction)
{
    if (!gemm_bf16_native()) return;   /* nothing to compare with on this CPU */
    enum { N = 4096 };
    float *x = malloc(sizeof(float) * N);
    special_values(x, N, 3);
    for (int i = 0; i < N; i += 16) {
        uint16_t hw[16];
        hw_convert(hw, x + i);
        for (int j = 0; j < 16; j++) {
            float v = x[i + j];
            if (isnan(v)) ck_assert(bf16_from_f32(v) >= 0x7f81 || (bf16_from_f32(v) & 0x7fff) > 0x7f80);
            else ck_assert_uint_eq(hw[j], bf16_from_f32(v));
        }
    }
    free(x);
}
END_TEST

typedef void (*GemmFn)(int, int, int, const uint16_t *, int, const uint32_t *, int, float *, int);

/* C (beta) + A·B by fn against gemm_bf16_ref, bit for bit; B packed from B or Bᵀ. */
static void check_shape(GemmFn fn, int M, int N, int K, int trans_b, int beta, float scale)
{
    int lda = (K + 1) & ~1;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N), *R = malloc(sizeof(float) * M * N);
    uint16_t *Ah = malloc(2 * (size_t)M * lda);
    uint32_t *Bp = malloc(4 * gemm_bf16_packed_words(K, N));
    gc_randn(A, (size_t)M * K, 1 + M, scale), gc_randn(B, (size_t)K * N, 2 + N, 1.0f);
    gc_randn(C, (size_t)M * N, 3 + K, 1.0f);
    memcpy(R, C, sizeof(float) * M * N);
    bf16_convert_rows(Ah, lda, A, K, M, K);
    if (trans_b) {   /* the same b(k, n), stored as Bᵀ [N][K] */
        float *Bt = malloc(sizeof(float) * K * N);
        for (int k = 0; k < K; k++)
            for (int n = 0; n < N; n++) Bt[(size_t)n * K + k] = B[(size_t)k * N + n];
        gemm_bf16_pack_b(Bp, 1, K, N, Bt, K);
        free(Bt);
    } else {
        gemm_bf16_pack_b(Bp, 0, K, N, B, N);
    }
    fn(M, N, K, Ah, lda, Bp, beta, C, N);
    gemm_bf16_ref(0, 0, M, N, K, A, K, B, N, beta, R, N);
    ck_assert_msg(same_bits(C, R, (size_t)M * N), "M=%d N=%d K=%d trans_b=%d beta=%d", M, N, K, trans_b, beta);
    free(A), free(B), free(C), free(R), free(Ah), free(Bp);
}

static const int shapes[][3] = {{1, 1, 1},    {6, 64, 2},     {7, 65, 3},      {13, 130, 147},
                                {96, 64, 576}, {100, 70, 333}, {200, 200, 257}, {37, 512, 1024}};

static void check_all(GemmFn fn)
{
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta = 0; beta < 2; beta++) check_shape(fn, shapes[i][0], shapes[i][1], shapes[i][2], tb, beta, 1.0f);
}

typedef void (*GemmPaFn)(int, int, int, const uint32_t *, const uint32_t *, int, float *, int);

/* The same with A packed from Aᵀ (gemm_bf16_pack_at) and from Aᵀ's bf16 rows
 * (gemm_bf16_pack_at16): the two packings equal, the product the reference's bits. */
static void check_shape_pa(GemmPaFn fn, int M, int N, int K, int beta)
{
    float *At = malloc(sizeof(float) * K * M), *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N), *R = malloc(sizeof(float) * M * N);
    uint16_t *Ath = malloc(2 * (size_t)K * M);
    size_t aw = gemm_bf16_packed_a_words(M, K);
    uint32_t *Ap = malloc(4 * aw), *Ap3 = malloc(4 * aw), *Bp = malloc(4 * gemm_bf16_packed_words(K, N));
    gc_randn(At, (size_t)K * M, 11 + M, 1), gc_randn(B, (size_t)K * N, 12 + N, 1);
    gc_randn(C, (size_t)M * N, 13 + K, 1);
    for (int k = 0; k < K; k++)
        for (int m = 0; m < M; m++) A[(size_t)m * K + k] = At[(size_t)k * M + m];
    memcpy(R, C, sizeof(float) * M * N);
    memset(Ap, 0xa5, 4 * aw);   /* every word must be written */
    gemm_bf16_pack_at(Ap, M, K, At, M);
    bf16_convert(Ath, At, (size_t)K * M);
    memset(Ap3, 0x3c, 4 * aw);
    gemm_bf16_pack_at16(Ap3, M, K, Ath, M);
    ck_assert_msg(!memcmp(Ap, Ap3, 4 * aw), "M=%d K=%d: packed from bf16 rows", M, K);
    gemm_bf16_pack_b(Bp, 0, K, N, B, N);
    fn(M, N, K, Ap, Bp, beta, C, N);
    gemm_bf16_ref(0, 0, M, N, K, A, K, B, N, beta, R, N);
    ck_assert_msg(same_bits(C, R, (size_t)M * N), "packed A: M=%d N=%d K=%d beta=%d", M, N, K, beta);
    free(At), free(A), free(B), free(C), free(R), free(Ath), free(Ap), free(Ap3), free(Bp);
}

static void check_all_pa(GemmPaFn fn)
{
    static const int pa_shapes[][3] = {{1, 1, 1}, {5, 64, 3}, {13, 130, 147}, {100, 70, 333}, {517, 96, 300}};
    for (size_t i = 0; i < sizeof pa_shapes / sizeof *pa_shapes; i++)
        for (int beta = 0; beta < 2; beta++) check_shape_pa(fn, pa_shapes[i][0], pa_shapes[i][1], pa_shapes[i][2], beta);
}

START_TEST(packed_a_matches_reference)
{
    if (gemm_bf16_native()) check_all_pa(gemm_bf16_pa);
    check_all_pa(gemm_bf16_pa_emulated);
    for (int th = 1; th <= 2; th++) {   /* the threaded driver: split by rows (517 rows) and by panels */
        omp_set_num_threads(th);
        check_shape_pa(nn_gemm_bf16_pa, 517, 96, 300, 1);
        check_shape_pa(nn_gemm_bf16_pa, 40, 700, 300, 0);
    }
    omp_set_num_threads(1);
}
END_TEST

typedef void (*GemmPtFn)(int, int, int, const uint32_t *, int, const uint32_t *, int, float *, int);

/* A given as pair rows of Aᵀ (ldp words apart, wider than M: the words past M
 * are garbage the product must not read into C): the reference's bits. */
static void check_shape_pt(GemmPtFn fn, int M, int N, int K, int beta)
{
    int KP = (K + 1) / 2, ldp = M + 5;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N), *R = malloc(sizeof(float) * M * N);
    uint32_t *At2 = malloc(4 * (size_t)KP * ldp), *Bp = malloc(4 * gemm_bf16_packed_words(K, N));
    gc_randn(A, (size_t)M * K, 21 + M, 1), gc_randn(B, (size_t)K * N, 22 + N, 1);
    gc_randn(C, (size_t)M * N, 23 + K, 1);
    memcpy(R, C, sizeof(float) * M * N);
    memset(At2, 0x7f, 4 * (size_t)KP * ldp);   /* the pad words: large values that would show */
    for (int p = 0; p < KP; p++)
        for (int m = 0; m < M; m++) {
            uint32_t lo = bf16_from_f32(A[(size_t)m * K + 2 * p]);
            uint32_t hi = 2 * p + 1 < K ? bf16_from_f32(A[(size_t)m * K + 2 * p + 1]) : 0;
            At2[(size_t)p * ldp + m] = lo | hi << 16;
        }
    gemm_bf16_pack_b(Bp, 0, K, N, B, N);
    fn(M, N, K, At2, ldp, Bp, beta, C, N);
    gemm_bf16_ref(0, 0, M, N, K, A, K, B, N, beta, R, N);
    ck_assert_msg(same_bits(C, R, (size_t)M * N), "pair rows A: M=%d N=%d K=%d beta=%d", M, N, K, beta);
    free(A), free(B), free(C), free(R), free(At2), free(Bp);
}

START_TEST(pair_rows_a_matches_reference)
{
    static const int pt_shapes[][3] = {{1, 1, 1}, {5, 64, 3}, {13, 130, 147}, {64, 64, 512}, {100, 70, 333}};
    for (size_t i = 0; i < sizeof pt_shapes / sizeof *pt_shapes; i++)
        for (int beta = 0; beta < 2; beta++) {
            const int *sh = pt_shapes[i];
            if (gemm_bf16_native()) check_shape_pt(gemm_bf16_pt, sh[0], sh[1], sh[2], beta);
            check_shape_pt(gemm_bf16_pt_emulated, sh[0], sh[1], sh[2], beta);
        }
}
END_TEST

/* gemm_bf16_pt_far (long k blocks, C fetched ahead): the reference's bits, over
 * one k block and over several (K 2051: blocks of 512, 512 and 2 pairs, the
 * chain carried through C), row and column tails. */
START_TEST(pair_rows_a_far_c_matches_reference)
{
    static const int shapes[][3] = {{1, 1, 1}, {13, 130, 147}, {64, 64, 1024}, {100, 70, 1025}, {517, 96, 2051}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int beta = 0; beta < 2; beta++)
            check_shape_pt(gemm_bf16_pt_far, shapes[i][0], shapes[i][1], shapes[i][2], beta);
}
END_TEST

START_TEST(native_kernel_matches_reference)
{
    if (!gemm_bf16_native()) return;   /* gemm_bf16 is the emulation here: tested below */
    check_all(gemm_bf16);
}
END_TEST

START_TEST(emulation_matches_reference)
{
    check_all(gemm_bf16_emulated);
}
END_TEST

START_TEST(threaded_driver_matches_reference_for_any_thread_count)
{
    int M = 1000, N = 200, K = 300;
    float *first = NULL;
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        int lda = K;
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
        float *C = malloc(sizeof(float) * M * N);
        uint16_t *Ah = malloc(2 * (size_t)M * lda);
        uint32_t *Bp = malloc(4 * gemm_bf16_packed_words(K, N));
        gc_randn(A, (size_t)M * K, 5, 1), gc_randn(B, (size_t)K * N, 6, 1);
        bf16_convert_rows(Ah, lda, A, K, M, K);
        gemm_bf16_pack_b(Bp, 0, K, N, B, N);
        nn_gemm_bf16(M, N, K, Ah, lda, Bp, 0, C, N);
        if (!first) {
            first = malloc(sizeof(float) * M * N);
            gemm_bf16_ref(0, 0, M, N, K, A, K, B, N, 0, first, N);
        }
        ck_assert_msg(same_bits(C, first, (size_t)M * N), "%d threads", th);
        free(A), free(B), free(C), free(Ah), free(Bp);
    }
    omp_set_num_threads(1);
    free(first);
}
END_TEST

/* Results and C values below 2^-126 flush to zero in both paths, as vdpbf16ps. */
START_TEST(subnormals_flush_the_same_on_both_paths)
{
    int M = 6, N = 16, K = 4;
    float A[24], B[64], C[96], C2[96], R[96];
    for (int i = 0; i < 24; i++) A[i] = (i % 3 ? 1 : -1) * ldexpf(1.0f + (i % 4) / 8.0f, -64 - i % 5);
    for (int i = 0; i < 64; i++) B[i] = (i % 5 ? 1 : -1) * ldexpf(1.0f + (i % 8) / 8.0f, -62 - i % 3);
    for (int i = 0; i < 96; i++) C[i] = i % 2 ? ldexpf(1, -130) * (i % 4 ? 1 : -1) : ldexpf(1, -126) * (i % 3);
    memcpy(C2, C, sizeof C), memcpy(R, C, sizeof C);
    uint16_t Ah[24];
    uint32_t Bp[GEMM_BF16_NR * 2];
    bf16_convert_rows(Ah, K, A, K, M, K);
    gemm_bf16_pack_b(Bp, 0, K, N, B, N);
    gemm_bf16(M, N, K, Ah, K, Bp, 1, C, N);
    gemm_bf16_emulated(M, N, K, Ah, K, Bp, 1, C2, N);
    gemm_bf16_ref(0, 0, M, N, K, A, K, B, N, 1, R, N);
    ck_assert(same_bits(C, R, 96));
    ck_assert(same_bits(C2, R, 96));
    for (int i = 0; i < 96; i++) ck_assert(R[i] == 0 || fabsf(R[i]) >= FLT_MIN);
}
END_TEST

START_TEST(pack_from_bf16_rows_equals_pack_from_floats)
{
    int K = 7, N = 70;
    float B[7 * 70];
    uint16_t Bh[7 * 70];
    gc_randn(B, 7 * 70, 8, 1);
    bf16_convert(Bh, B, 7 * 70);
    size_t w = gemm_bf16_packed_words(K, N);
    uint32_t *p1 = malloc(4 * w), *p2 = malloc(4 * w);
    gemm_bf16_pack_b(p1, 0, K, N, B, N);
    gemm_bf16_pack_b16(p2, K, N, Bh, N);
    ck_assert(!memcmp(p1, p2, 4 * w));
    free(p1), free(p2);
}
END_TEST

START_TEST(transpose_rounds_and_pads)
{
    const int dims[2][2] = {{5, 3}, {37, 20}};   /* the tail alone; 16-row blocks and a tail */
    for (int t = 0; t < 2; t++) {
        int rows = dims[t][0], cols = dims[t][1], ldd = rows + 1 + 2;
        float *x = malloc(sizeof(float) * rows * (cols + 1));
        uint16_t *o = malloc(2 * (size_t)cols * ldd);
        special_values(x, (size_t)rows * (cols + 1), 5 + t);
        memset(o, 0xff, 2 * (size_t)cols * ldd);
        bf16_transpose(o, ldd, x, cols + 1, rows, cols);
        for (int c = 0; c < cols; c++) {
            for (int r = 0; r < rows; r++) ck_assert_uint_eq(o[c * ldd + r], bf16_from_f32(x[r * (cols + 1) + c]));
            ck_assert_uint_eq(o[c * ldd + rows], 0);   /* odd rows: the pad of the pair */
        }
        free(x), free(o);
    }
}
END_TEST

typedef void (*GemmC16Fn)(int, int, int, const uint16_t *, int, const uint32_t *, float *, int, uint16_t *, int);

/* The product stored as bf16 by fn, in a buffer of its own and over the fp32
 * scratch (ld16 = 2·ldc): bf16_from_f32 of gemm_bf16_ref's C, bit for bit, every
 * word of the bf16 rows written and none past N; the scratch's values unread
 * (filled with NaN). */
static void check_shape_c16(GemmC16Fn fn, int M, int N, int K)
{
    int lda = (K + 1) & ~1, ldc = N + 3, ld16 = N + 5;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * ldc), *R = malloc(sizeof(float) * M * N);
    uint16_t *Ah = malloc(2 * (size_t)M * lda), *C16 = malloc(2 * (size_t)M * ld16);
    uint32_t *Bp = malloc(4 * gemm_bf16_packed_words(K, N));
    gc_randn(A, (size_t)M * K, 21 + M, 1), gc_randn(B, (size_t)K * N, 22 + N, 1);
    bf16_convert_rows(Ah, lda, A, K, M, K);
    gemm_bf16_pack_b(Bp, 0, K, N, B, N);
    gemm_bf16_ref(0, 0, M, N, K, A, K, B, N, 0, R, N);
    for (int sep = 1; sep >= 0; sep--) {   /* a bf16 buffer of its own; then over C */
        for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = NAN;
        memset(C16, 0xa5, 2 * (size_t)M * ld16);
        uint16_t *o = sep ? C16 : (uint16_t *)C;
        int ldo = sep ? ld16 : 2 * ldc;
        fn(M, N, K, Ah, lda, Bp, C, ldc, o, ldo);
        for (int m = 0; m < M; m++) {
            for (int n = 0; n < N; n++)
                ck_assert_msg(o[(size_t)m * ldo + n] == bf16_from_f32(R[(size_t)m * N + n]),
                              "M=%d N=%d K=%d sep=%d at %d,%d: %04x, want %04x", M, N, K, sep, m, n,
                              o[(size_t)m * ldo + n], bf16_from_f32(R[(size_t)m * N + n]));
            if (sep)
                for (int n = N; n < ld16; n++) ck_assert_uint_eq(C16[(size_t)m * ld16 + n], 0xa5a5);
        }
    }
    free(A), free(B), free(C), free(R), free(Ah), free(C16), free(Bp);
}

static void check_all_c16(GemmC16Fn fn)
{
    /* odd K, one k block (K <= 256) and several (257, 576, 1024), edge rows and panels */
    static const int c16_shapes[][3] = {{1, 1, 1}, {7, 65, 3}, {13, 130, 147}, {96, 64, 256}, {100, 70, 333},
                                        {200, 200, 257}, {37, 512, 1024}, {45, 129, 576}};
    for (size_t i = 0; i < sizeof c16_shapes / sizeof *c16_shapes; i++)
        check_shape_c16(fn, c16_shapes[i][0], c16_shapes[i][1], c16_shapes[i][2]);
}

START_TEST(bf16_store_is_the_rounded_product)
{
    if (gemm_bf16_native()) check_all_c16(gemm_bf16_c16);
    check_all_c16(gemm_bf16_c16_emulated);
    for (int th = 1; th <= 3; th++) {   /* the threaded driver: shapes it would split by panels, and by rows */
        omp_set_num_threads(th);
        check_shape_c16(nn_gemm_bf16_c16, 40, 700, 300);
        check_shape_c16(nn_gemm_bf16_c16, 1000, 200, 300);
        check_shape_c16(nn_gemm_bf16_c16, 517, 96, 64);
    }
    omp_set_num_threads(1);
}
END_TEST

START_TEST(widen_is_exact)
{
    enum { N = 1037 };
    uint16_t h[N];
    float f[N];
    for (int i = 0; i < N; i++) h[i] = (uint16_t)(i * 2654435761u >> 11);
    bf16_widen(f, h, N);
    for (int i = 0; i < N; i++) {
        uint32_t u;
        memcpy(&u, f + i, 4);
        ck_assert_uint_eq(u, (uint32_t)h[i] << 16);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gemm_bf16");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rounding_is_nearest_even);
    tcase_add_test(tc, vector_conversion_matches_scalar);
    tcase_add_test(tc, threaded_conversion_matches_scalar);
    tcase_add_test(tc, conversion_matches_the_instruction);
    tcase_add_test(tc, native_kernel_matches_reference);
    tcase_add_test(tc, emulation_matches_reference);
    tcase_add_test(tc, threaded_driver_matches_reference_for_any_thread_count);
    tcase_add_test(tc, subnormals_flush_the_same_on_both_paths);
    tcase_add_test(tc, pack_from_bf16_rows_equals_pack_from_floats);
    tcase_add_test(tc, transpose_rounds_and_pads);
    tcase_add_test(tc, packed_a_matches_reference);
    tcase_add_test(tc, pair_rows_a_matches_reference);
    tcase_add_test(tc, pair_rows_a_far_c_matches_reference);
    tcase_add_test(tc, bf16_store_is_the_rounded_product);
    tcase_add_test(tc, widen_is_exact);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
