/* batchnorm.c — BatchNorm (2d over N·H·W, 1d over N) with fused ReLU/residual (see batchnorm.h).
 *
 * Reductions run over fixed chunks of rows (see col_sums), each chunk read
 * front to back with per-channel partial sums in double, added in chunk
 * order: the result never depends on the thread count.  Chunks, and the
 * elementwise passes' pieces of rows, go to whichever thread is free. */
#include "nn/batchnorm.h"

#include "core/err.h"
#include "nn/gemm_bf16.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define BN_RB 32   /* rows summed in float before folding into the double totals */

/* The reductions are cut into fixed chunks of whole BN_RB-row blocks (a
 * function of rows only): each chunk streams its rows front to back, all
 * channels at once, and leaves per-channel partial sums in double; the
 * partials are then added in chunk order.  Sequential reads (rather than one
 * channel block down all rows at a stride of c floats) and a result that does
 * not depend on the thread count. */
#define BN_MAX_CHUNKS 8
#define BN_CHUNK_BLOCKS 4   /* at least this many BN_RB-row blocks per chunk */

/* Rows per piece of an elementwise pass, handed to whichever thread is free
 * (~64 KB of each operand): halves fixed in advance left one thread waiting
 * whenever the other ran slower (a busy sibling core, its rows not in cache). */
static int rows_chunk(int c)
{
    int r = 16384 / c;
    return r < 4 ? 4 : r;
}

static int red_chunks(size_t rows)
{
    size_t nb = (rows + BN_RB - 1) / BN_RB, k = nb / BN_CHUNK_BLOCKS;
    return k < 1 ? 1 : k > BN_MAX_CHUNKS ? BN_MAX_CHUNKS : (int)k;
}

/* Rows [*r0, *r1) of chunk ch of nch. */
static void chunk_rows(size_t rows, int ch, int nch, size_t *r0, size_t *r1)
{
    size_t nb = (rows + BN_RB - 1) / BN_RB;
    *r0 = nb * ch / nch * BN_RB;
    *r1 = nb * (ch + 1) / nch * BN_RB;
    if (*r1 > rows) *r1 = rows;
}

/* The input: fp32 rows (f), or bf16 rows ld apart (h: a bf16 convolution's
 * output, conv2d_forward_out16), each row widened to fp32 in L1 as it is read
 * (exact), so every pass below runs the fp32 operations on the same values. */
typedef struct BnIn {
    const float *f;
    const uint16_t *h;
    size_t ld;
} BnIn;

static BnIn in_f32(const float *x)
{
    BnIn in = {x, NULL, 0};
    return in;
}

/* Row r of in as fp32: in place, or widened into tmp [c]. */
static inline const float *in_row(BnIn in, size_t r, int c, float *tmp)
{
    if (in.f) return in.f + r * (size_t)c;
    bf16_widen(tmp, in.h + r * in.ld, (size_t)c);
    return tmp;
}

/* ---- rows of whole 16-channel vectors (AVX-512) ---------------------------------
 * With c a multiple of 16 and AVX-512 (chosen at run time, so the sanitizer
 * tree checks it too) every pass below runs on vectors: a bf16 input is widened
 * in a register as it is loaded (no fp32 copy of the row in L1), the ReLU mask
 * comes from a keep word in one instruction, and the reductions keep their
 * partial sums in registers across the rows of a BN_RB block instead of
 * loading and storing them for every row.  The operations are the generic
 * loops' own, in their order (products and sums never contracted to FMAs: the
 * build is ISO C, -ffp-contract=off), so every number is the same bit for bit
 * (test_batchnorm vector_rows_give_the_generic_bits). */
#define BN_AVX512 __attribute__((target("avx512f")))

size_t bn_keep_words(size_t rows, int c) { return (rows * (size_t)c + 15) / 16; }

static int by_vectors(int c)
{
    __builtin_cpu_init();
    return c % 16 == 0 && __builtin_cpu_supports("avx512f");
}

/* channels j .. j+15 of row r of in, as fp32 (a bf16 widened: exact) */
BN_AVX512 static inline __m512 load_in(BnIn in, size_t r, int c, int j)
{
    if (!in.h) return _mm512_loadu_ps(in.f + r * (size_t)c + j);
    __m256i h = _mm256_loadu_si256((const __m256i *)(in.h + r * in.ld + j));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* The ReLU's mask of a backward: where the gradient passes (not y <= 0, NaN
 * included: NLE_UQ), from keep bits, from out, or recomputed from x·scale + shift. */
typedef struct BnMask {
    const uint16_t *keep;
    const float *out, *scale, *shift;   /* out; else scale, shift when recomputing */
} BnMask;

BN_AVX512 static inline __mmask16 pass_mask(BnMask m, size_t r, int c, int j, __m512 x)
{
    if (m.keep) return (__mmask16)m.keep[(r * (size_t)c + j) / 16];
    const __m512 z = _mm512_setzero_ps();
    if (m.out) return _mm512_cmp_ps_mask(_mm512_loadu_ps(m.out + r * (size_t)c + j), z, _CMP_NLE_UQ);
    __m512 y = _mm512_add_ps(_mm512_mul_ps(x, _mm512_loadu_ps(m.scale + j)), _mm512_loadu_ps(m.shift + j));
    return _mm512_cmp_ps_mask(y, z, _CMP_NLE_UQ);
}

/* col_sums' block, rows [r0, r1): f1[j] = Σ (x − k), f2[j] = Σ (x − k)², each
 * channel's adds in row order; NV vectors of channels from j0 held in registers. */
BN_AVX512 static inline __attribute__((always_inline)) void
csum_vecs(float *f1, float *f2, BnIn in, const float *k, size_t r0, size_t r1, int c, int j0, const int NV)
{
    __m512 a1[4], a2[4], kv[4];
    for (int v = 0; v < NV; v++)
        a1[v] = _mm512_setzero_ps(), a2[v] = _mm512_setzero_ps(), kv[v] = _mm512_loadu_ps(k + j0 + 16 * v);
    for (size_t r = r0; r < r1; r++)
        for (int v = 0; v < NV; v++) {
            __m512 d = _mm512_sub_ps(load_in(in, r, c, j0 + 16 * v), kv[v]);
            a1[v] = _mm512_add_ps(a1[v], d);
            a2[v] = _mm512_add_ps(a2[v], _mm512_mul_ps(d, d));
        }
    for (int v = 0; v < NV; v++) _mm512_storeu_ps(f1 + j0 + 16 * v, a1[v]), _mm512_storeu_ps(f2 + j0 + 16 * v, a2[v]);
}

BN_AVX512 static void csum_block16(float *f1, float *f2, BnIn in, const float *k, size_t r0, size_t r1, int c)
{
    int j0 = 0;
    for (; j0 + 64 <= c; j0 += 64) csum_vecs(f1, f2, in, k, r0, r1, c, j0, 4);
    for (; j0 < c; j0 += 16) csum_vecs(f1, f2, in, k, r0, r1, c, j0, 1);
}

/* grad_sums' block, rows [r0, r1): f1[j] = Σ g', f2[j] = Σ g'·(x − mean), g' =
 * dout masked (relu), each channel's adds in row order, as csum_vecs. */
BN_AVX512 static inline __attribute__((always_inline)) void
gsum_vecs(float *f1, float *f2, const float *dout, BnIn in, int relu, BnMask m, const float *mean, size_t r0,
          size_t r1, int c, int j0, const int NV)
{
    __m512 a1[4], a2[4], mv[4];
    for (int v = 0; v < NV; v++)
        a1[v] = _mm512_setzero_ps(), a2[v] = _mm512_setzero_ps(), mv[v] = _mm512_loadu_ps(mean + j0 + 16 * v);
    for (size_t r = r0; r < r1; r++)
        for (int v = 0; v < NV; v++) {
            int j = j0 + 16 * v;
            __m512 x = load_in(in, r, c, j), g = _mm512_loadu_ps(dout + r * (size_t)c + j);
            if (relu) g = _mm512_maskz_mov_ps(pass_mask(m, r, c, j, x), g);
            a1[v] = _mm512_add_ps(a1[v], g);
            a2[v] = _mm512_add_ps(a2[v], _mm512_mul_ps(g, _mm512_sub_ps(x, mv[v])));
        }
    for (int v = 0; v < NV; v++) _mm512_storeu_ps(f1 + j0 + 16 * v, a1[v]), _mm512_storeu_ps(f2 + j0 + 16 * v, a2[v]);
}

BN_AVX512 static void gsum_block16(float *f1, float *f2, const float *dout, BnIn in, int relu, BnMask m,
                                   const float *mean, size_t r0, size_t r1, int c)
{
    int j0 = 0;
    for (; j0 + 64 <= c; j0 += 64) gsum_vecs(f1, f2, dout, in, relu, m, mean, r0, r1, c, j0, 4);
    for (; j0 < c; j0 += 16) gsum_vecs(f1, f2, dout, in, relu, m, mean, r0, r1, c, j0, 1);
}

/* forward's channels j .. j+15 of row r: y = x·scale + shift (+ res), then the
 * ReLU (y <= 0 → +0, NaN passes) and its keep word when kw. */
BN_AVX512 static inline __attribute__((always_inline)) __m512
fwd_vec(BnIn in, size_t r, int c, int j, const float *res, int relu, const float *scale, const float *shift,
        uint16_t *kw)
{
    __m512 v = _mm512_add_ps(_mm512_mul_ps(load_in(in, r, c, j), _mm512_loadu_ps(scale + j)),
                             _mm512_loadu_ps(shift + j));
    if (res) v = _mm512_add_ps(v, _mm512_loadu_ps(res + j));
    if (relu) {
        __mmask16 pass = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLE_UQ);
        v = _mm512_maskz_mov_ps(pass, v);
        if (kw) kw[j / 16] = (uint16_t)pass;
    }
    return v;
}

BN_AVX512 static void fwd_row16(float *y, uint16_t *kw, BnIn in, size_t r, const float *res, int relu,
                                const float *scale, const float *shift, int c)
{
    for (int j = 0; j < c; j += 16) _mm512_storeu_ps(y + j, fwd_vec(in, r, c, j, res, relu, scale, shift, kw));
}

/* The same also writing h = bf16(y) by vcvtneps2bf16 (gemm_bf16_native()), y
 * NULL: h alone; the row rounded as it is made rather than stored and read back. */
BF16_TARGET_CVT static void fwd_row16_h(float *y, uint16_t *h, uint16_t *kw, BnIn in, size_t r, const float *res,
                                        int relu, const float *scale, const float *shift, int c)
{
    for (int j = 0; j < c; j += 16) {
        __m512 v = fwd_vec(in, r, c, j, res, relu, scale, shift, kw);
        if (y) _mm512_storeu_ps(y + j, v);
        _mm256_storeu_si256((__m256i *)(h + j), bf16_cvt16_native(v));
    }
}

/* backward's channels j .. j+15 of row r: g' = dout masked (relu), dr = g', and
 * dx = k1·g' + k2·x + k3 returned (x read as zeros in eval: xk 0). */
BN_AVX512 static inline __attribute__((always_inline)) __m512
bwd_vec(float *dr, const float *g, BnIn in, size_t r, int c, int j, int xk, int relu, BnMask m, const float *k1,
        const float *k2, const float *k3)
{
    __m512 gv = _mm512_loadu_ps(g + j), x = _mm512_setzero_ps();
    if (xk || (relu && !m.keep && !m.out)) x = load_in(in, r, c, j);
    if (relu) gv = _mm512_maskz_mov_ps(pass_mask(m, r, c, j, x), gv);
    __m512 a = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(k1 + j), gv),
                             _mm512_mul_ps(_mm512_loadu_ps(k2 + j), xk ? x : _mm512_setzero_ps()));
    if (dr) _mm512_storeu_ps(dr + j, gv);
    return _mm512_add_ps(a, _mm512_loadu_ps(k3 + j));
}

BN_AVX512 static void bwd_row16(float *dx, float *dr, const float *g, BnIn in, size_t r, int xk, int relu, BnMask m,
                                const float *k1, const float *k2, const float *k3, int c)
{
    for (int j = 0; j < c; j += 16) _mm512_storeu_ps(dx + j, bwd_vec(dr, g, in, r, c, j, xk, relu, m, k1, k2, k3));
}

/* The same also writing h = bf16(dx) (dx NULL: h alone), as fwd_row16_h.  h may
 * be g's own row (in place, dx and dr NULL): its 16 values j .. j+15 land on g's
 * bytes of values j/2 .. j/2+7, already read. */
BF16_TARGET_CVT static void bwd_row16_h(float *dx, uint16_t *h, float *dr, const float *g, BnIn in, size_t r, int xk,
                                        int relu, BnMask m, const float *k1, const float *k2, const float *k3, int c)
{
    for (int j = 0; j < c; j += 16) {
        __m512 v = bwd_vec(dr, g, in, r, c, j, xk, relu, m, k1, k2, k3);
        if (dx) _mm512_storeu_ps(dx + j, v);
        _mm256_storeu_si256((__m256i *)(h + j), bf16_cvt16_native(v));
    }
}

/* ---- the ReLU mask as bits (bn_forward_keep / bn_backward_keep) ----------------
 * With c a multiple of 16 a row holds whole 16-bit words, written by fwd_row16;
 * otherwise bits are read one by one and written in a separate pass over whole
 * words (rows would share words).  Both give the bn_backward-with-out numbers:
 * the same operations on the same values. */

/* every bit of keep from out [n], word by word */
static void keep_words(uint16_t *keep, const float *out, size_t n)
{
    long nw = (long)((n + 15) / 16);
    #pragma omp parallel for schedule(static)
    for (long w = 0; w < nw; w++) {
        unsigned v = 0;
        for (size_t b = 0, i = (size_t)w * 16; b < 16 && i < n; b++, i++) v |= (unsigned)!(out[i] <= 0.0f) << b;
        keep[w] = (uint16_t)v;
    }
}

static inline float keep_g(const uint16_t *keep, size_t i, float g) { return keep[i >> 4] >> (i & 15) & 1 ? g : 0.0f; }

/* t1[j], t2[j]: the chunks' two partial sums of channel j (part: chunk ch's
 * pair at part + 2·ch·c), added in chunk order. */
static void fold_chunks(double *t1, double *t2, const double *part, int nch, int c)
{
    for (int j = 0; j < c; j++) {
        double a = 0, b = 0;
        for (int ch = 0; ch < nch; ch++) a += part[(size_t)2 * ch * c + j], b += part[(size_t)(2 * ch + 1) * c + j];
        t1[j] = a, t2[j] = b;
    }
}

/* s1[c] = Σ_r (a[r,c] − k_c), s2[c] = Σ_r (a[r,c] − k_c)² with the shift
 * k_c = a[0,c] written to k[c] (so E[x²] − E[x]² does not cancel when the mean
 * is large against the spread).  Each run of BN_RB rows is summed in float
 * (vectorised over channels), then folded into the chunk's double sums.
 * part: 2·red_chunks(rows)·c doubles of scratch. */
static void col_sums(double *s1, double *s2, float *k, BnIn a, size_t rows, int c, double *part)
{
    float t0[a.f ? 1 : c];
    const float *a0 = in_row(a, 0, c, t0);
    for (int j = 0; j < c; j++) k[j] = a0[j];
    const int nch = red_chunks(rows), vec = by_vectors(c);
    #pragma omp parallel for schedule(dynamic, 1)
    for (int ch = 0; ch < nch; ch++) {
        double *d1 = part + (size_t)2 * ch * c, *d2 = d1 + c;
        float f1[c], f2[c], xt[a.f ? 1 : c];
        size_t lo, hi;
        chunk_rows(rows, ch, nch, &lo, &hi);
        for (int j = 0; j < c; j++) d1[j] = 0, d2[j] = 0;
        for (size_t r0 = lo; r0 < hi; r0 += BN_RB) {
            size_t r1 = r0 + BN_RB < hi ? r0 + BN_RB : hi;
            if (vec) {
                csum_block16(f1, f2, a, k, r0, r1, c);
                for (int j = 0; j < c; j++) d1[j] += f1[j], d2[j] += f2[j];
                continue;
            }
            for (int j = 0; j < c; j++) f1[j] = 0, f2[j] = 0;
            for (size_t r = r0; r < r1; r++) {
                const float *p = in_row(a, r, c, xt);
                #pragma omp simd
                for (int j = 0; j < c; j++) {
                    float v = p[j] - k[j];
                    f1[j] += v, f2[j] += v * v;
                }
            }
            for (int j = 0; j < c; j++) d1[j] += f1[j], d2[j] += f2[j];
        }
    }
    fold_chunks(s1, s2, part, nch, c);
}

/* For backward: sg[c] = Σ_r g, sgx[c] = Σ_r g·(x − mean) with g = dout masked
 * by the ReLU (mask from keep when given, else from out when given, else
 * recomputed from in).  Chunked as col_sums; part as there. */
static void grad_sums(double *sg, double *sgx, const float *dout, BnIn in,
                      const float *out, const uint16_t *keep, int relu, const float *scale,
                      const float *shift, const float *mean, size_t rows, int c, double *part)
{
    const int nch = red_chunks(rows), vec = by_vectors(c);
    const BnMask m = {keep, out, scale, shift};
    #pragma omp parallel for schedule(dynamic, 1)
    for (int ch = 0; ch < nch; ch++) {
        double *d1 = part + (size_t)2 * ch * c, *d2 = d1 + c;
        float f1[c], f2[c], xt[in.f ? 1 : c];
        size_t lo, hi;
        chunk_rows(rows, ch, nch, &lo, &hi);
        for (int j = 0; j < c; j++) d1[j] = 0, d2[j] = 0;
        for (size_t r0 = lo; r0 < hi; r0 += BN_RB) {
            size_t r1 = r0 + BN_RB < hi ? r0 + BN_RB : hi;
            if (vec) {
                gsum_block16(f1, f2, dout, in, relu, m, mean, r0, r1, c);
                for (int j = 0; j < c; j++) d1[j] += f1[j], d2[j] += f2[j];
                continue;
            }
            for (int j = 0; j < c; j++) f1[j] = 0, f2[j] = 0;
            for (size_t r = r0; r < r1; r++) {
                const float *g = dout + r * c, *x = in_row(in, r, c, xt);
                if (!relu) {
                    #pragma omp simd
                    for (int j = 0; j < c; j++) f1[j] += g[j], f2[j] += g[j] * (x[j] - mean[j]);
                } else if (keep) {
                    for (int j = 0; j < c; j++) {
                        float gv = keep_g(keep, r * c + j, g[j]);
                        f1[j] += gv, f2[j] += gv * (x[j] - mean[j]);
                    }
                } else if (out) {
                    const float *o = out + r * c;
                    #pragma omp simd
                    for (int j = 0; j < c; j++) {
                        float gv = o[j] <= 0.0f ? 0.0f : g[j];
                        f1[j] += gv, f2[j] += gv * (x[j] - mean[j]);
                    }
                } else {
                    #pragma omp simd
                    for (int j = 0; j < c; j++) {
                        float gv = x[j] * scale[j] + shift[j] <= 0.0f ? 0.0f : g[j];
                        f1[j] += gv, f2[j] += gv * (x[j] - mean[j]);
                    }
                }
            }
            for (int j = 0; j < c; j++) d1[j] += f1[j], d2[j] += f2[j];
        }
    }
    fold_chunks(sg, sgx, part, nch, c);
}

static void stats(float *scale, float *shift, BnIn in, int train, BnState *s, size_t rows, int c)
{
    double s1[c], s2[c];
    float k[c];
    if (train) {
        double part[2 * red_chunks(rows) * c];
        col_sums(s1, s2, k, in, rows, c, part);
        for (int j = 0; j < c; j++) {
            double ms = s1[j] / rows, var = s2[j] / rows - ms * ms, mean = k[j] + ms;
            if (var < 0) var = 0;
            s->save_mean[j] = (float)mean;
            s->save_invstd[j] = (float)(1.0 / sqrt(var + BN_EPS));
            double unbiased = rows > 1 ? var * rows / (rows - 1) : var;
            s->running_mean[j] = (float)((1 - BN_MOMENTUM) * s->running_mean[j] + BN_MOMENTUM * mean);
            s->running_var[j] = (float)((1 - BN_MOMENTUM) * s->running_var[j] + BN_MOMENTUM * unbiased);
        }
        if (s->num_batches) s->num_batches[0] += 1.0f;
    } else {
        for (int j = 0; j < c; j++) {
            s->save_mean[j] = s->running_mean[j];
            s->save_invstd[j] = (float)(1.0 / sqrt((double)s->running_var[j] + BN_EPS));
        }
    }
    for (int j = 0; j < c; j++) {
        scale[j] = s->gamma[j] * s->save_invstd[j];
        shift[j] = s->beta[j] - s->save_mean[j] * scale[j];
    }
}

void bn_forward_stats(float *scale, float *shift, const float *in, int train, BnState *s, size_t rows, int c)
{
    stats(scale, shift, in_f32(in), train, s, rows, c);
}

static void forward(float *out, uint16_t *keep, uint16_t *out16, BnIn in, const float *residual, int relu,
                    int train, BnState *s, size_t rows, int c)
{
    float scale[c], shift[c];
    stats(scale, shift, in, train, s, rows, c);
    const int vec = by_vectors(c), words = keep && relu && vec, native = out16 && gemm_bf16_native();
    /* omp simd: out may alias in or residual, element by element (same
     * index), which the compiler's alias check would refuse and run scalar */
    #pragma omp parallel for schedule(dynamic, rows_chunk(c))
    for (size_t r = 0; r < rows; r++) {
        const float *res = residual ? residual + r * c : NULL;
        float yrow[out ? 1 : c];   /* out16 alone: the row is rounded from here */
        float *y = out ? out + r * c : yrow;
        if (vec && native) {
            fwd_row16_h(out ? y : NULL, out16 + r * c, words ? keep + r * c / 16 : NULL, in, r, res, relu, scale,
                        shift, c);
            continue;
        }
        if (vec) {
            fwd_row16(y, words ? keep + r * c / 16 : NULL, in, r, res, relu, scale, shift, c);
            if (out16) bf16_convert(out16 + r * c, y, (size_t)c);   /* y still in L1 */
            continue;
        }
        float xt[in.f ? 1 : c];
        const float *x = in_row(in, r, c, xt);
        if (res) {
            if (relu) {
                #pragma omp simd
                for (int j = 0; j < c; j++) {
                    float v = x[j] * scale[j] + shift[j] + res[j];
                    y[j] = v <= 0.0f ? 0.0f : v;
                }
            } else {
                #pragma omp simd
                for (int j = 0; j < c; j++) y[j] = x[j] * scale[j] + shift[j] + res[j];
            }
        } else if (relu) {
            #pragma omp simd
            for (int j = 0; j < c; j++) {
                float v = x[j] * scale[j] + shift[j];
                y[j] = v <= 0.0f ? 0.0f : v;
            }
        } else {
            #pragma omp simd
            for (int j = 0; j < c; j++) y[j] = x[j] * scale[j] + shift[j];
        }
        if (out16) bf16_convert(out16 + r * c, y, (size_t)c);   /* y still in L1 */
    }
    if (keep && !words) keep_words(keep, out, rows * (size_t)c);
}

void bn_forward(float *out, const float *in, const float *residual, int relu, int train,
                BnState *s, size_t rows, int c)
{
    forward(out, NULL, NULL, in_f32(in), residual, relu, train, s, rows, c);
}

void bn_forward_keep(float *out, uint16_t *keep, const float *in, const float *residual, int train,
                     BnState *s, size_t rows, int c)
{
    forward(out, keep, NULL, in_f32(in), residual, 1, train, s, rows, c);
}

void bn_forward_bf16(float *out, uint16_t *out16, uint16_t *keep, const float *in, const float *residual, int relu,
                     int train, BnState *s, size_t rows, int c)
{
    FASTC_ASSERT(out16 && (out || (!keep && !residual)) && (!keep || relu));
    forward(out, keep, out16, in_f32(in), residual, relu, train, s, rows, c);
}

void bn_forward_in16(float *out, uint16_t *out16, uint16_t *keep, const uint16_t *in16, int ld, const float *residual,
                     int relu, int train, BnState *s, size_t rows, int c)
{
    FASTC_ASSERT(in16 && ld >= c && (out || (out16 && !keep && !residual)) && (!keep || relu));
    BnIn in = {NULL, in16, (size_t)ld};
    forward(out, keep, out16, in, residual, relu, train, s, rows, c);
}

static void backward(float *din, uint16_t *din16, size_t ld16, float *dres, float *dgamma, float *dbeta, const float *dout,
                     BnIn in, const float *out, const uint16_t *keep, int relu, int train,
                     const BnState *s, size_t rows, int c)
{
    const int vec = by_vectors(c), native = din16 && gemm_bf16_native();
    double sg[c], sgx[c];
    float k1[c], k2[c], k3[c], scale[c], shift[c];
    for (int j = 0; j < c; j++) {   /* the forward's affine map, for a recomputed ReLU mask */
        scale[j] = s->gamma[j] * s->save_invstd[j];
        shift[j] = s->beta[j] - s->save_mean[j] * scale[j];
    }
    const BnMask m = {keep, out, scale, shift};
    double part[2 * red_chunks(rows) * c];
    grad_sums(sg, sgx, dout, in, out, keep, relu, scale, shift, s->save_mean, rows, c, part);
    /* eval: dx = γ·inv·g depends on no x (as PyTorch's), so the k2·x term reads
     * zeros: a NaN input must not turn its own gradient into NaN */
    float zero[c];
    memset(zero, 0, sizeof zero);
    for (int j = 0; j < c; j++) {
        double mean = s->save_mean[j], inv = s->save_invstd[j];
        double sgxh = inv * sgx[j];                              /* Σ g·x̂ */
        if (dgamma) dgamma[j] += (float)sgxh;
        if (dbeta) dbeta[j] += (float)sg[j];
        double gi = (double)s->gamma[j] * inv;
        if (train) {
            /* dx = γ·inv·(g − Σg/R − x̂·Σgx̂/R) = k1·g + k2·x + k3 */
            double a = sgxh / rows * inv;                       /* coefficient on (x − mean) */
            k1[j] = (float)gi;
            k2[j] = (float)(-gi * a);
            k3[j] = (float)(gi * (a * mean - sg[j] / rows));
        } else {
            k1[j] = (float)gi, k2[j] = 0.0f, k3[j] = 0.0f;
        }
    }
    /* omp simd: din may alias dout and dres may alias dout (in place, same
     * index), which the compiler's alias check would refuse and run scalar */
    #pragma omp parallel for schedule(dynamic, rows_chunk(c))
    for (size_t r = 0; r < rows; r++) {
        const float *g = dout + r * c;
        float dxrow[din ? 1 : c];   /* din16 alone: the row is rounded from here */
        float *dx = din ? din + r * c : dxrow, *dr = dres ? dres + r * c : NULL;
        if (vec && native) {
            bwd_row16_h(din ? dx : NULL, din16 + r * ld16, dr, g, in, r, train, relu, m, k1, k2, k3, c);
            continue;
        }
        if (vec) {
            bwd_row16(dx, dr, g, in, r, train, relu, m, k1, k2, k3, c);
            if (din16) bf16_convert(din16 + r * ld16, dx, (size_t)c);   /* dx still in L1; g read */
            continue;
        }
        float xt[in.f ? 1 : c];
        const float *x = in_row(in, r, c, xt), *xk = train ? x : zero;
        if (!relu) {
            if (dr) {
                #pragma omp simd
                for (int j = 0; j < c; j++) {
                    float gv = g[j];
                    dr[j] = gv;
                    dx[j] = k1[j] * gv + k2[j] * xk[j] + k3[j];
                }
            } else {
                #pragma omp simd
                for (int j = 0; j < c; j++) dx[j] = k1[j] * g[j] + k2[j] * xk[j] + k3[j];
            }
        } else if (keep) {
            for (int j = 0; j < c; j++) {
                float gv = keep_g(keep, r * c + j, g[j]);
                if (dr) dr[j] = gv;
                dx[j] = k1[j] * gv + k2[j] * xk[j] + k3[j];
            }
        } else if (out) {
            const float *o = out + r * c;
            if (dr) {
                #pragma omp simd
                for (int j = 0; j < c; j++) {
                    float gv = o[j] <= 0.0f ? 0.0f : g[j];
                    dr[j] = gv;
                    dx[j] = k1[j] * gv + k2[j] * xk[j] + k3[j];
                }
            } else {
                #pragma omp simd
                for (int j = 0; j < c; j++) {
                    float gv = o[j] <= 0.0f ? 0.0f : g[j];
                    dx[j] = k1[j] * gv + k2[j] * xk[j] + k3[j];
                }
            }
        } else if (dr) {
            #pragma omp simd
            for (int j = 0; j < c; j++) {
                float gv = x[j] * scale[j] + shift[j] <= 0.0f ? 0.0f : g[j];
                dr[j] = gv;
                dx[j] = k1[j] * gv + k2[j] * xk[j] + k3[j];
            }
        } else {
            #pragma omp simd
            for (int j = 0; j < c; j++) {
                float gv = x[j] * scale[j] + shift[j] <= 0.0f ? 0.0f : g[j];
                dx[j] = k1[j] * gv + k2[j] * xk[j] + k3[j];
            }
        }
        if (din16) bf16_convert(din16 + r * ld16, dx, (size_t)c);   /* dx still in L1; g read */
    }
}

void bn_backward(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
                 const float *in, const float *out, int relu, int train, const BnState *s,
                 size_t rows, int c)
{
    backward(din, NULL, 0, dres, dgamma, dbeta, dout, in_f32(in), out, NULL, relu, train, s, rows, c);
}

void bn_backward_keep(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
                      const float *in, const uint16_t *keep, int train, const BnState *s, size_t rows,
                      int c)
{
    backward(din, NULL, 0, dres, dgamma, dbeta, dout, in_f32(in), NULL, keep, 1, train, s, rows, c);
}

void bn_backward_bf16(float *din, uint16_t *din16, int ld16, float *dres, float *dgamma, float *dbeta,
                      const float *dout, const float *in, const uint16_t *keep, int relu, int train, const BnState *s,
                      size_t rows, int c)
{
    FASTC_ASSERT(din16 && ld16 >= c && (!keep || relu));
    FASTC_ASSERT((const void *)din16 != (const void *)dout || (!din && !dres && ld16 == 2 * c));
    backward(din, din16, (size_t)ld16, dres, dgamma, dbeta, dout, in_f32(in), NULL, keep, relu, train, s, rows, c);
}

void bn_backward_in16(float *din, uint16_t *din16, int ld16, float *dres, float *dgamma, float *dbeta,
                      const float *dout, const uint16_t *in16, int ld, const uint16_t *keep, int relu, int train,
                      const BnState *s, size_t rows, int c)
{
    FASTC_ASSERT(in16 && ld >= c && (din || din16) && (!din16 || ld16 >= c) && (!keep || relu));
    FASTC_ASSERT((const void *)din16 != (const void *)dout || (!din && !dres && ld16 == 2 * c));
    BnIn in = {NULL, in16, (size_t)ld};
    backward(din, din16, (size_t)ld16, dres, dgamma, dbeta, dout, in, NULL, keep, relu, train, s, rows, c);
}

/* ---- reference: plain two-pass in double ----------------------------------- */

void bn_forward_ref(float *out, const float *in, const float *residual, int relu, int train,
                    BnState *s, size_t rows, int c)
{
    for (int j = 0; j < c; j++) {
        double mean, var;
        if (train) {
            double m = 0, v = 0;
            for (size_t r = 0; r < rows; r++) m += in[r * c + j];
            m /= rows;
            for (size_t r = 0; r < rows; r++) v += (in[r * c + j] - m) * (in[r * c + j] - m);
            v /= rows;
            mean = m, var = v;
            s->running_mean[j] = (float)(0.9 * s->running_mean[j] + 0.1 * m);
            s->running_var[j] = (float)(0.9 * s->running_var[j] + 0.1 * (rows > 1 ? v * rows / (rows - 1) : v));
        } else {
            mean = s->running_mean[j], var = s->running_var[j];
        }
        double inv = 1.0 / sqrt(var + 1e-5);
        s->save_mean[j] = (float)mean, s->save_invstd[j] = (float)inv;
        for (size_t r = 0; r < rows; r++) {
            double y = (in[r * c + j] - mean) * inv * s->gamma[j] + s->beta[j];
            if (residual) y += residual[r * c + j];
            if (relu && y <= 0) y = 0;
            out[r * c + j] = (float)y;
        }
    }
    if (train && s->num_batches) s->num_batches[0] += 1.0f;
}

void bn_backward_ref(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
                     const float *in, const float *out, int relu, int train, const BnState *s,
                     size_t rows, int c)
{
    for (int j = 0; j < c; j++) {
        double mean = s->save_mean[j], inv = s->save_invstd[j], sg = 0, sgx = 0;
        for (size_t r = 0; r < rows; r++) {
            double g = dout[r * c + j];
            if (relu && (out ? out[r * c + j] <= 0 : (in[r * c + j] - mean) * inv * s->gamma[j] + s->beta[j] <= 0)) g = 0;
            sg += g;
            sgx += g * (in[r * c + j] - mean) * inv;
        }
        if (dgamma) dgamma[j] += (float)sgx;
        if (dbeta) dbeta[j] += (float)sg;
        for (size_t r = 0; r < rows; r++) {
            double g = dout[r * c + j];
            if (relu && (out ? out[r * c + j] <= 0 : (in[r * c + j] - mean) * inv * s->gamma[j] + s->beta[j] <= 0)) g = 0;
            double xh = (in[r * c + j] - mean) * inv;
            if (dres) dres[r * c + j] = (float)g;
            double dx = train ? s->gamma[j] * inv * (g - sg / rows - xh * sgx / rows)
                              : s->gamma[j] * inv * g;
            din[r * c + j] = (float)dx;
        }
    }
}
