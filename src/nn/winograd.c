/* winograd.c — F(2x2, 3x3) convolution (see winograd.h). */
#include "nn/winograd.h"

#include "core/err.h"
#include "nn/gemm_bf16.h"
#include "nn/gemm_f32.h"

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* V and M of one chunk of tiles stay under this many floats (4 MB; 16 MB
 * took 3% (28 px) to 5% (resnet18 128 px, batch 64) more CPU per step, 1 MB
 * 13% more at 128 px). */
#define WG_CHUNK_FLOATS ((size_t)1 << 20)

int winograd_applies(const Conv2dDims *d)
{
    return d->kh == 3 && d->kw == 3 && d->stride == 1 && d->pad == 1;
}

typedef struct WgPlan {
    int th, tw, timg, chunk;    /* tiles per row / column / image; images per chunk */
    int ci, co;                 /* channels in and out of this direction */
} WgPlan;

static WgPlan wg_plan(const Conv2dDims *d, int flip)
{
    WgPlan p;
    p.th = (d->h + 1) / 2, p.tw = (d->w + 1) / 2, p.timg = p.th * p.tw;
    p.ci = flip ? d->c_out : d->c_in, p.co = flip ? d->c_in : d->c_out;
    size_t per = (size_t)16 * p.timg * (d->c_in + d->c_out);
    size_t c = WG_CHUNK_FLOATS / per;
    p.chunk = c < 1 ? 1 : c > (size_t)d->n ? d->n : (int)c;
    return p;
}

/* winograd_conv's scratch: the 16 packed U_ξ (upx floats each), then a
 * region that holds U unpacked while it is packed and the block slots after
 * (as large as one chunk's V and M, at least U), then a zero row. */
static size_t wg_upx(const Conv2dDims *d)
{
    size_t a = gemm_f32_packed_floats(d->c_out, d->c_in), b = gemm_f32_packed_floats(d->c_in, d->c_out);
    return ((a > b ? a : b) + 15) / 16 * 16;
}

static size_t wg_region(const Conv2dDims *d)
{
    WgPlan p = wg_plan(d, 0);
    size_t u = (size_t)16 * d->c_in * d->c_out, vm = (size_t)16 * p.chunk * p.timg * (d->c_in + d->c_out);
    return u > vm ? u : vm;
}

size_t winograd_scratch_floats(const Conv2dDims *d)
{
    /* winograd_weight_grad's dU, one chunk's V and Ŷ, and a zero row fit too:
     * 16·upx >= 16·c_in·c_out */
    int cm = d->c_in > d->c_out ? d->c_in : d->c_out;
    return 16 * wg_upx(d) + wg_region(d) + cm;
}

/* U_ξ[o][i] (ξ-major, [c_out][c_in] row-major) = (G g Gᵀ)_ξ of the 3x3 kernel
 * g = w[o][ky][kx][i] (forward) or w[o][2−ky][2−kx][i] (din: rotated 180°).
 * The inner loop runs over the contiguous c_in. */
static void weights(float *U, const float *w, const Conv2dDims *d, int flip)
{
    const int CO = d->c_out, CI = d->c_in;
    const size_t S = (size_t)CO * CI;   /* stride between ξ */
    #pragma omp parallel for schedule(static)
    for (int o = 0; o < CO; o++) {
        const float *gp[3][3];
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++)
                gp[ky][kx] = w + (((size_t)o * 3 + (flip ? 2 - ky : ky)) * 3 + (flip ? 2 - kx : kx)) * CI;
        float *u = U + (size_t)o * CI;
        #pragma omp simd
        for (int i = 0; i < CI; i++) {
            float t[4][3];   /* G g */
            for (int c = 0; c < 3; c++) {
                float g0 = gp[0][c][i], g1 = gp[1][c][i], g2 = gp[2][c][i];
                t[0][c] = g0;
                t[1][c] = 0.5f * (g0 + g1 + g2);
                t[2][c] = 0.5f * (g0 - g1 + g2);
                t[3][c] = g2;
            }
            for (int r = 0; r < 4; r++) {   /* (G g) Gᵀ */
                u[(r * 4 + 0) * S + i] = t[r][0];
                u[(r * 4 + 1) * S + i] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
                u[(r * 4 + 2) * S + i] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
                u[(r * 4 + 3) * S + i] = t[r][2];
            }
        }
    }
}

/* x[a][b]: the channel row of input pixel (2ty−1+a, 2tx−1+b) of tile t
 * (numbered over the batch), or the zero row z where that pixel is padding. */
static inline void patch_rows(const float *x[4][4], const float *in, const Conv2dDims *d, const WgPlan *p, size_t t,
                              const float *z)
{
    const int C = p->ci, H = d->h, W = d->w;
    int i = (int)(t / p->timg), r = (int)(t % p->timg), ty = r / p->tw, tx = r % p->tw;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            int y = 2 * ty - 1 + a, xx = 2 * tx - 1 + b;
            x[a][b] = (y < 0 || y >= H || xx < 0 || xx >= W) ? z : in + (((size_t)i * H + y) * W + xx) * C;
        }
}

/* v[ξ·S + c] = (Bᵀ d B)_ξ of tile t (numbered over the batch, image by image,
 * row by row); rows outside the image read the zero row z. */
static inline void input_tile(float *restrict v, size_t S, const float *in, const Conv2dDims *d, const WgPlan *p,
                              size_t t, const float *z)
{
    const int C = p->ci;
    const float *x[4][4];
    patch_rows(x, in, d, p, t, z);
    #pragma omp simd
    for (int c = 0; c < C; c++) {
        float q[4][4];
        for (int b = 0; b < 4; b++) {   /* Bᵀ d */
            float d0 = x[0][b][c], d1 = x[1][b][c], d2 = x[2][b][c], d3 = x[3][b][c];
            q[0][b] = d0 - d2, q[1][b] = d1 + d2, q[2][b] = d2 - d1, q[3][b] = d1 - d3;
        }
        for (int a = 0; a < 4; a++) {   /* (Bᵀ d) B */
            float e0 = q[a][0], e1 = q[a][1], e2 = q[a][2], e3 = q[a][3];
            v[(a * 4 + 0) * S + c] = e0 - e2;
            v[(a * 4 + 1) * S + c] = e1 + e2;
            v[(a * 4 + 2) * S + c] = e2 - e1;
            v[(a * 4 + 3) * S + c] = e1 - e3;
        }
    }
}

/* V_ξ[t][c] for the T tiles from tile t0 (ξ stride T·c). */
static void input_tf(float *V, const float *in, const Conv2dDims *d, const WgPlan *p, size_t t0, size_t T,
                     const float *z)
{
    #pragma omp parallel for schedule(static)
    for (size_t t = 0; t < T; t++) input_tile(V + t * p->ci, T * p->ci, in, d, p, t0 + t, z);
}

/* out[i, 2ty+a, 2tx+b, c] (+)= (Aᵀ m A)[a][b] of tile t (numbered over the
 * whole batch), m its row of M (ξ stride S). */
static inline void output_tile(float *out, int accumulate, const float *restrict m, size_t S, const Conv2dDims *d,
                               const WgPlan *p, size_t t)
{
    const int C = p->co, H = d->h, W = d->w;
    int i = (int)(t / p->timg), r = (int)(t % p->timg), ty = r / p->tw, tx = r % p->tw;
    float *o[2][2];
    int in[2][2];
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            int y = 2 * ty + a, x = 2 * tx + b;
            in[a][b] = y < H && x < W;
            o[a][b] = in[a][b] ? out + (((size_t)i * H + y) * W + x) * C : NULL;
        }
    #pragma omp simd
    for (int c = 0; c < C; c++) {
        float s[2][4];
        for (int b = 0; b < 4; b++) {   /* Aᵀ m */
            float m0 = m[(0 + b) * S + c], m1 = m[(4 + b) * S + c], m2 = m[(8 + b) * S + c],
                  m3 = m[(12 + b) * S + c];
            s[0][b] = m0 + m1 + m2, s[1][b] = m1 - m2 - m3;
        }
        for (int a = 0; a < 2; a++) {   /* (Aᵀ m) A */
            float y0 = s[a][0] + s[a][1] + s[a][2], y1 = s[a][1] - s[a][2] - s[a][3];
            if (in[a][0]) o[a][0][c] = accumulate ? o[a][0][c] + y0 : y0;
            if (in[a][1]) o[a][1][c] = accumulate ? o[a][1][c] + y1 : y1;
        }
    }
}

#if defined(__AVX512F__)
/* output_tile's sums for a whole tile written over the output (no
 * accumulation, C a multiple of 16, 64-byte aligned rows) by non-temporal
 * stores: the output (16 MB for a 32x32x64 map of 64 images) is not read back
 * before BatchNorm runs over all of it, so the stores need not fetch its lines
 * first (output_tile spent most of its time waiting on those fetches).  The
 * same adds in the same order: the same numbers.  The caller fences. */
static inline int output_tile_nt_ok(const float *out, int accumulate, const Conv2dDims *d, const WgPlan *p, size_t t)
{
    int r = (int)(t % p->timg), ty = r / p->tw, tx = r % p->tw;
    return !accumulate && p->co % 16 == 0 && ((uintptr_t)out & 63) == 0 && 2 * ty + 1 < d->h && 2 * tx + 1 < d->w;
}

static inline void output_tile_nt(float *out, const float *restrict m, size_t S, const Conv2dDims *d, const WgPlan *p,
                                  size_t t)
{
    const int C = p->co, H = d->h, W = d->w;
    int i = (int)(t / p->timg), r = (int)(t % p->timg), ty = r / p->tw, tx = r % p->tw;
    float *o0 = out + (((size_t)i * H + 2 * ty) * W + 2 * tx) * C, *o1 = o0 + (size_t)W * C;
    for (int c = 0; c < C; c += 16) {
        __m512 s[2][4];
        for (int b = 0; b < 4; b++) {   /* Aᵀ m */
            __m512 m0 = _mm512_loadu_ps(m + (0 + b) * S + c), m1 = _mm512_loadu_ps(m + (4 + b) * S + c),
                   m2 = _mm512_loadu_ps(m + (8 + b) * S + c), m3 = _mm512_loadu_ps(m + (12 + b) * S + c);
            s[0][b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
            s[1][b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        for (int a = 0; a < 2; a++) {   /* (Aᵀ m) A */
            float *o = a ? o1 : o0;
            _mm512_stream_ps(o + c, _mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]));
            _mm512_stream_ps(o + C + c, _mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]));
        }
    }
}
#endif

/* The forward and din run blocks of tiles, each on one thread start to end:
 * its rows of V_ξ, the 16 GEMMs into its rows of M_ξ, Aᵀ M A into the output,
 * so V and M stay in the core's cache instead of going to memory and back
 * between three parallel loops (as the bf16 path does).  A block's V and M
 * take up to this many bytes. */
#define WG_BLOCK_BYTES ((size_t)384 << 10)

void winograd_conv(float *out, int accumulate, const float *in, const float *w, const Conv2dDims *d,
                   int flip, float *scratch)
{
    WgPlan p = wg_plan(d, flip);
    const size_t upx = wg_upx(d), region = wg_region(d), all = (size_t)d->n * p.timg;
    float *Up = scratch, *R = scratch + 16 * upx, *z = R + region;
    memset(z, 0, sizeof(float) * (size_t)(d->c_in > d->c_out ? d->c_in : d->c_out));
    /* B_ξ = U_ξᵀ (forward: U_ξ is [c_out][c_in], k = c_in) or U_ξ (din: k = c_out),
     * packed once for all the blocks */
    weights(R, w, d, flip);
    #pragma omp parallel for schedule(dynamic, 1)
    for (int x = 0; x < 16; x++)
        gemm_f32_pack_b(Up + (size_t)x * upx, !flip, p.co, p.ci, R + (size_t)x * d->c_in * d->c_out, d->c_in);
    /* tiles per block: a multiple of the GEMM's 6 rows, at least 48, within
     * the region with one block slot per thread (fewer slots if need be) */
    size_t per = (size_t)16 * (p.ci + p.co), tb = WG_BLOCK_BYTES / (per * sizeof(float)) / 6 * 6;
    tb = tb < 48 ? 48 : tb;
    tb = tb > all ? all : tb > region / per ? region / per : tb;
    int slots = omp_get_max_threads();
    while (slots > 1 && (size_t)slots * tb * per > region) slots--;
    const size_t nb = (all + tb - 1) / tb;
    /* each block on one thread, each number one chain: the same bits for any
     * thread count and block size */
    #pragma omp parallel num_threads(slots)
    {
        float *V = R + (size_t)omp_get_thread_num() * tb * per, *Mb = V + 16 * tb * p.ci;
        #pragma omp for schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            size_t t0 = b * tb;
            int T = all - t0 < tb ? (int)(all - t0) : (int)tb;
            const size_t SV = (size_t)T * p.ci, SM = (size_t)T * p.co;
            for (int t = 0; t < T; t++) input_tile(V + (size_t)t * p.ci, SV, in, d, &p, t0 + t, z);
            for (int x = 0; x < 16; x++)   /* M_ξ = V_ξ · U_ξᵀ (forward), V_ξ · U_ξ (din) */
                gemm_f32_packed(T, p.co, p.ci, V + x * SV, p.ci, Up + (size_t)x * upx, 0, Mb + x * SM, p.co);
#if defined(__AVX512F__)
            for (int t = 0; t < T; t++)
                if (output_tile_nt_ok(out, accumulate, d, &p, t0 + t))
                    output_tile_nt(out, Mb + (size_t)t * p.co, SM, d, &p, t0 + t);
                else
                    output_tile(out, accumulate, Mb + (size_t)t * p.co, SM, d, &p, t0 + t);
            _mm_sfence();   /* the streamed lines reach memory before the region's barrier */
#else
            for (int t = 0; t < T; t++) output_tile(out, accumulate, Mb + (size_t)t * p.co, SM, d, &p, t0 + t);
#endif
        }
    }
}

/* Ŷ_ξ[t][c] = (A y Aᵀ)_ξ of the 2x2 block y of dout[n,h,w,c_out] of each of
 * the T tiles from tile t0 (zero outside the image); A = (Aᵀ)ᵀ = [1 0; 1 1; 1 −1; 0 −1]. */
static void grad_tf(float *Y, const float *dout, const Conv2dDims *d, const WgPlan *p, size_t t0, size_t T,
                    const float *z)
{
    const int C = d->c_out, H = d->h, W = d->w;
    const size_t S = T * C;
    #pragma omp parallel for schedule(static)
    for (size_t t = 0; t < T; t++) {
        int i = (int)((t0 + t) / p->timg), r = (int)((t0 + t) % p->timg), ty = r / p->tw, tx = r % p->tw;
        const float *y[2][2];
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                int yy = 2 * ty + a, xx = 2 * tx + b;
                y[a][b] = yy < H && xx < W ? dout + (((size_t)i * H + yy) * W + xx) * C : z;
            }
        float *restrict v = Y + t * C;
        #pragma omp simd
        for (int c = 0; c < C; c++) {
            float q[4][2];   /* A y */
            for (int b = 0; b < 2; b++) {
                float y0 = y[0][b][c], y1 = y[1][b][c];
                q[0][b] = y0, q[1][b] = y0 + y1, q[2][b] = y0 - y1, q[3][b] = -y1;
            }
            for (int a = 0; a < 4; a++) {   /* (A y) Aᵀ */
                float e0 = q[a][0], e1 = q[a][1];
                v[(a * 4 + 0) * S + c] = e0;
                v[(a * 4 + 1) * S + c] = e0 + e1;
                v[(a * 4 + 2) * S + c] = e0 - e1;
                v[(a * 4 + 3) * S + c] = -e1;
            }
        }
    }
}

/* dw[o][ky][kx][i] += (Gᵀ dU_o,i G)[ky][kx], dU ξ-major [c_out][c_in];
 * Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]. */
static void weights_grad(float *dw, const float *dU, const Conv2dDims *d)
{
    const int CO = d->c_out, CI = d->c_in;
    const size_t S = (size_t)CO * CI;
    #pragma omp parallel for schedule(static)
    for (int o = 0; o < CO; o++) {
        const float *u = dU + (size_t)o * CI;
        float *g = dw + (size_t)o * 9 * CI;
        #pragma omp simd
        for (int i = 0; i < CI; i++) {
            float t[3][4];   /* Gᵀ dU */
            for (int c = 0; c < 4; c++) {
                float u0 = u[(0 + c) * S + i], u1 = u[(4 + c) * S + i], u2 = u[(8 + c) * S + i],
                      u3 = u[(12 + c) * S + i];
                t[0][c] = u0 + 0.5f * (u1 + u2);
                t[1][c] = 0.5f * (u1 - u2);
                t[2][c] = 0.5f * (u1 + u2) + u3;
            }
            for (int r = 0; r < 3; r++) {   /* (Gᵀ dU) G */
                g[(r * 3 + 0) * CI + i] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
                g[(r * 3 + 1) * CI + i] += 0.5f * (t[r][1] - t[r][2]);
                g[(r * 3 + 2) * CI + i] += 0.5f * (t[r][1] + t[r][2]) + t[r][3];
            }
        }
    }
}

void winograd_weight_grad(float *dw, const float *dout, const float *in, const Conv2dDims *d, float *scratch)
{
    WgPlan p = wg_plan(d, 0);
    float *dU = scratch;
    float *V = dU + (size_t)16 * d->c_in * d->c_out;
    float *Y = V + (size_t)16 * p.chunk * p.timg * d->c_in;
    float *z = Y + (size_t)16 * p.chunk * p.timg * d->c_out;
    memset(z, 0, sizeof(float) * (size_t)(d->c_in > d->c_out ? d->c_in : d->c_out));
    for (int i0 = 0; i0 < d->n; i0 += p.chunk) {
        int ni = d->n - i0 < p.chunk ? d->n - i0 : p.chunk;
        int T = ni * p.timg;
        input_tf(V, in, d, &p, (size_t)i0 * p.timg, (size_t)T, z);
        grad_tf(Y, dout, d, &p, (size_t)i0 * p.timg, (size_t)T, z);
        #pragma omp parallel for schedule(dynamic, 1)
        for (int x = 0; x < 16; x++)   /* dU_ξ (+)= Ŷ_ξᵀ · V_ξ, chunk after chunk */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d->c_out, d->c_in, T, 1.0f,
                        Y + (size_t)x * T * d->c_out, d->c_out, V + (size_t)x * T * d->c_in, d->c_in,
                        i0 ? 1.0f : 0.0f, dU + (size_t)x * d->c_in * d->c_out, d->c_in);
    }
    weights_grad(dw, dU, d);
}

/* ---- bf16 ------------------------------------------------------------------ */

static size_t up16(size_t f) { return (f + 15) / 16 * 16; }

/* n elements of `size` bytes rounded up to an odd number of 64-byte lines: the
 * stride between the 16 ξ of V, M, Vp and Yt.  A stride that is a multiple of
 * 4 KB (M of 48 tiles x 64 channels is 12 KB) puts the 16 lines a transform
 * reads or writes at once in one L1 set, more than its ways; an odd number of
 * lines spreads them over 16 sets. */
static size_t odd_lines(size_t n, size_t size)
{
    size_t lines = (n * size + 63) / 64;
    return (lines | 1) * 64 / size;
}

/* A bf16 convolution's input (forward: x; din: dout) or the weight gradient's
 * dout: fp32 (f) or bf16 (h), pixels ld elements apart.  Either way the
 * transforms see each value rounded to bf16 (to nearest even, as
 * bf16_from_f32): the input a bf16 convolution multiplies (conv.h), whether the
 * BatchNorm before rounded it (the model) or the transform does as it loads. */
typedef struct WgSrc {
    const float *f;
    const uint16_t *h;
    int ld;
} WgSrc;

/* The 16 pixels of tile t's 4x4 patch in s (rows outside the image: the zero row z). */
static inline void patch_src(const void *x[4][4], WgSrc s, const Conv2dDims *d, const WgPlan *p, size_t t,
                             const float *z)
{
    const int H = d->h, W = d->w;
    int i = (int)(t / p->timg), r = (int)(t % p->timg), ty = r / p->tw, tx = r % p->tw;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            int y = 2 * ty - 1 + a, xx = 2 * tx - 1 + b;
            size_t off = (((size_t)i * H + y) * W + xx) * (size_t)s.ld;
            x[a][b] = (y < 0 || y >= H || xx < 0 || xx >= W) ? (const void *)z
                      : s.h ? (const void *)(s.h + off) : (const void *)(s.f + off);
        }
}

/* Value c of pixel x as the transforms see it: bf16, widened (the zero row z reads +0 either way). */
static inline float src_at(const void *x, int c, int h)
{
    return h ? bf16_to_f32(((const uint16_t *)x)[c]) : bf16_round(((const float *)x)[c]);
}

/* The bf16 forward and din run tile blocks, each on one thread start to end:
 * its V_ξ rows (bf16), the 16 GEMMs into its M rows, Aᵀ M A into the output,
 * so V and M stay in the core's cache instead of going to memory and back
 * (one chunk's V and M round trip took as much time as the GEMMs at 32x32
 * and 16x16 maps).  A block's V and M take up to this many bytes. */
#define WG16_BLOCK_BYTES ((size_t)256 << 10)

/* The bf16 layout of winograd_conv_bf16 (floats from the start of the scratch):
 *   Up: the 16 packed U_ξ (upx words each) | R: U in fp32 while it is packed,
 *   then the block slots, one per thread: V16 (the bf16 rows of V_ξ, tb·ld
 *   each, ξ stride sv) | M (fp32, tb·co each, ξ stride sm) | z */
typedef struct Wg16 {
    WgPlan p;
    int tb;            /* tiles per block (a multiple of the GEMM's 6 rows) */
    int ld;            /* bf16 row length of V_ξ (c in, rounded up to even) */
    size_t sv, sm;     /* ξ strides of V16 (bf16 elements) and M (floats) */
    size_t upx, slots, v16, slot, u_end;
} Wg16;

static Wg16 wg16_plan(const Conv2dDims *d, int flip)
{
    Wg16 q;
    q.p = wg_plan(d, flip);
    q.ld = (q.p.ci + 1) & ~1;
    size_t per = 16 * ((size_t)q.ld * 2 + (size_t)q.p.co * 4), tb = WG16_BLOCK_BYTES / per / 6 * 6;
    size_t all = (size_t)d->n * q.p.timg;
    q.tb = (int)(tb < 48 ? 48 : tb > all ? all : tb);
    q.upx = up16(gemm_bf16_packed_words(q.p.ci, q.p.co));
    q.slots = 16 * q.upx;
    q.sv = odd_lines((size_t)q.tb * q.ld, 2), q.sm = odd_lines((size_t)q.tb * q.p.co, 4);
    q.v16 = up16(16 * q.sv / 2);
    q.slot = q.v16 + up16(16 * q.sm);
    q.u_end = q.slots + (size_t)16 * d->c_in * d->c_out;
    return q;
}

/* The scratch with `slots` block slots. */
static size_t wg16_floats(const Wg16 *q, const Conv2dDims *d, int slots)
{
    size_t end = q->slots + (size_t)slots * q->slot;
    return up16(end > q->u_end ? end : q->u_end) + (size_t)(d->c_in > d->c_out ? d->c_in : d->c_out);
}

/* The weight gradient's: dU (fp32) | Vp: V_ξ packed as B straight from the
 * input (vpx words each) | Yt: Ŷ_ξᵀ as pair rows of ldp words straight from
 * dout (ytx words each) | z.  No fp32 V or Ŷ in memory. */
typedef struct Wg16g {
    WgPlan p;
    int ldp;
    size_t tc, vp, vpx, yt, ytx, z, total;
} Wg16g;

static Wg16g wg16g_plan(const Conv2dDims *d)
{
    Wg16g q;
    q.p = wg_plan(d, 0);
    q.tc = (size_t)q.p.chunk * q.p.timg;
    q.vp = up16((size_t)16 * d->c_in * d->c_out);
    q.vpx = odd_lines(gemm_bf16_packed_words((int)q.tc, d->c_in), 4);
    q.yt = q.vp + 16 * q.vpx;
    q.ldp = (d->c_out + 15) / 16 * 16;
    q.ytx = odd_lines((q.tc + 1) / 2 * (size_t)q.ldp, 4);
    q.z = q.yt + 16 * q.ytx;
    q.total = q.z + (size_t)(d->c_in > d->c_out ? d->c_in : d->c_out);
    return q;
}

size_t winograd_scratch_floats_bf16(const Conv2dDims *d, int threads)
{
    if (threads < 1) threads = 1;
    Wg16 f = wg16_plan(d, 0), g = wg16_plan(d, 1);
    size_t a = wg16_floats(&f, d, threads), b = wg16_floats(&g, d, threads), c = wg16g_plan(d).total;
    return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

/* v[ξ][k] = (Bᵀ d B)_ξ of channel c0 + k of the patch x (bf16 when h, else fp32
 * rounded to bf16), k < nc <= 64: input_tf's operations.  (The channel loop is
 * whole here: a helper called per channel inside it, with an array for its
 * result, stopped the vectorisation.) */
static inline void bt_d_b64(float v[16][64], const void *x[4][4], int h, int c0, int nc)
{
    #pragma omp simd
    for (int k = 0; k < nc; k++) {
        int c = c0 + k;
        float q[4][4];
        for (int b = 0; b < 4; b++) {   /* Bᵀ d */
            float d0 = src_at(x[0][b], c, h), d1 = src_at(x[1][b], c, h), d2 = src_at(x[2][b], c, h),
                  d3 = src_at(x[3][b], c, h);
            q[0][b] = d0 - d2, q[1][b] = d1 + d2, q[2][b] = d2 - d1, q[3][b] = d1 - d3;
        }
        for (int a = 0; a < 4; a++) {   /* (Bᵀ d) B */
            float e0 = q[a][0], e1 = q[a][1], e2 = q[a][2], e3 = q[a][3];
            v[a * 4 + 0][k] = e0 - e2;
            v[a * 4 + 1][k] = e1 + e2;
            v[a * 4 + 2][k] = e2 - e1;
            v[a * 4 + 3][k] = e1 - e3;
        }
    }
}

#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512VL__)
/* With AVX512-BF16 the rounding to bf16 happens in the registers that hold
 * Bᵀ d B (or A y Aᵀ): vcvtneps2bf16 rounds to nearest even and flushes
 * subnormals to zero, which is bf16_from_f32 on every one of the 2^32 floats
 * (checked exhaustively on this CPU), so these write the words the portable
 * versions below write, without the fp32 tile in memory and the separate
 * conversion pass.  The lanes past the channel count (mask m) compute zeros. */
#define WG_NATIVE16 1

/* Values c .. c+15 of pixel x (lanes outside m: 0) as src_at sees them: bf16
 * widened by a shift (h), or fp32 rounded in the register (bf16_cvt16_native). */
static inline __attribute__((always_inline)) __m512 src16(const void *x, int c, __mmask16 m, int h)
{
    __m256i b = h ? _mm256_maskz_loadu_epi16(m, (const uint16_t *)x + c)
                  : bf16_cvt16_native(_mm512_maskz_loadu_ps(m, (const float *)x + c));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
}

/* v[ξ] = (Bᵀ d B)_ξ of channels c .. c+15 of the patch x (lanes outside m: 0),
 * bt_d_b64's operations on 16 lanes. */
static inline __attribute__((always_inline)) void bt_d_b16(__m512 v[16], const void *x[4][4], int h, int c,
                                                           __mmask16 m)
{
    __m512 q[4][4];
    for (int b = 0; b < 4; b++) {   /* Bᵀ d */
        __m512 d0 = src16(x[0][b], c, m, h), d1 = src16(x[1][b], c, m, h), d2 = src16(x[2][b], c, m, h),
               d3 = src16(x[3][b], c, m, h);
        q[0][b] = _mm512_sub_ps(d0, d2), q[1][b] = _mm512_add_ps(d1, d2);
        q[2][b] = _mm512_sub_ps(d2, d1), q[3][b] = _mm512_sub_ps(d1, d3);
    }
    for (int a = 0; a < 4; a++) {   /* (Bᵀ d) B */
        v[a * 4 + 0] = _mm512_sub_ps(q[a][0], q[a][2]);
        v[a * 4 + 1] = _mm512_add_ps(q[a][1], q[a][2]);
        v[a * 4 + 2] = _mm512_sub_ps(q[a][2], q[a][1]);
        v[a * 4 + 3] = _mm512_sub_ps(q[a][1], q[a][3]);
    }
}

static inline __m256i bf16x16(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }

/* The 16 pair words lo[n] | hi[n] << 16 of two vectors of 16 floats. */
static inline __m512i bf16_pairs(__m512 lo, __m512 hi)
{
    const __m512i ix = _mm512_setr_epi32(0x100000, 0x110001, 0x120002, 0x130003, 0x140004, 0x150005, 0x160006,
                                         0x170007, 0x180008, 0x190009, 0x1a000a, 0x1b000b, 0x1c000c, 0x1d000d,
                                         0x1e000e, 0x1f000f);
    return _mm512_permutexvar_epi16(ix, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}
#endif

/* V16_ξ[c] = bf16((Bᵀ bf16(d) B)_ξ) of tile t (numbered over the whole batch)
 * into its bf16 rows v16 (ξ stride S, the pad of an odd C zero); h: in is bf16
 * (a constant where this is inlined); no fp32 V in memory. */
static inline __attribute__((always_inline)) void input_tile16(uint16_t *v16, size_t S, WgSrc in, int h,
                                                               const Conv2dDims *d, const WgPlan *p, size_t t,
                                                               const float *z)
{
    const int C = p->ci;
    const void *x[4][4];
    patch_src(x, in, d, p, t, z);
#ifdef WG_NATIVE16
    for (int c = 0; c < C; c += 16) {
        __mmask16 m = lanes16(C - c);
        __m512 v[16];
        bt_d_b16(v, x, h, c, m);
        for (int x2 = 0; x2 < 16; x2++) _mm256_mask_storeu_epi16(v16 + x2 * S + c, m, bf16x16(v[x2]));
    }
#else
    float v[16][64];
    for (int c0 = 0; c0 < C; c0 += 64) {
        int nc = C - c0 < 64 ? C - c0 : 64;
        bt_d_b64(v, x, h, c0, nc);
        for (int x2 = 0; x2 < 16; x2++) bf16_convert(v16 + x2 * S + c0, v[x2], (size_t)nc);
    }
#endif
    if (C & 1)
        for (int x2 = 0; x2 < 16; x2++) v16[x2 * S + C] = 0;
}

/* out16[i, 2ty+a, 2tx+b, c] = bf16((Aᵀ m A)[a][b]) of tile t, pixels ld elements
 * apart: output_tile's sums in its order, rounded as bf16_from_f32 (the output
 * stored as bf16, conv2d_forward_out16's, for the BatchNorm to read so). */
static inline void output_tile16(uint16_t *out16, int ld, const float *restrict m, size_t S, const Conv2dDims *d,
                                 const WgPlan *p, size_t t)
{
    const int C = p->co, H = d->h, W = d->w;
    int i = (int)(t / p->timg), r = (int)(t % p->timg), ty = r / p->tw, tx = r % p->tw;
    uint16_t *o[2][2];
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            int y = 2 * ty + a, x = 2 * tx + b;
            o[a][b] = y < H && x < W ? out16 + (((size_t)i * H + y) * W + x) * (size_t)ld : NULL;
        }
#ifdef WG_NATIVE16
    for (int c = 0; c < C; c += 16) {
        __mmask16 k = lanes16(C - c);
        __m512 s[2][4];
        for (int b = 0; b < 4; b++) {   /* Aᵀ m */
            __m512 m0 = _mm512_maskz_loadu_ps(k, m + (0 + b) * S + c);
            __m512 m1 = _mm512_maskz_loadu_ps(k, m + (4 + b) * S + c);
            __m512 m2 = _mm512_maskz_loadu_ps(k, m + (8 + b) * S + c);
            __m512 m3 = _mm512_maskz_loadu_ps(k, m + (12 + b) * S + c);
            s[0][b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
            s[1][b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        for (int a = 0; a < 2; a++) {   /* (Aᵀ m) A */
            __m512 y0 = _mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]);
            __m512 y1 = _mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]);
            if (o[a][0]) _mm256_mask_storeu_epi16(o[a][0] + c, k, bf16_cvt16_native(y0));
            if (o[a][1]) _mm256_mask_storeu_epi16(o[a][1] + c, k, bf16_cvt16_native(y1));
        }
    }
#else
    for (int c = 0; c < C; c++) {
        float sm[2][4];
        for (int b = 0; b < 4; b++) {   /* Aᵀ m */
            float m0 = m[(0 + b) * S + c], m1 = m[(4 + b) * S + c], m2 = m[(8 + b) * S + c], m3 = m[(12 + b) * S + c];
            sm[0][b] = m0 + m1 + m2, sm[1][b] = m1 - m2 - m3;
        }
        for (int a = 0; a < 2; a++) {   /* (Aᵀ m) A */
            float y0 = sm[a][0] + sm[a][1] + sm[a][2], y1 = sm[a][1] - sm[a][2] - sm[a][3];
            if (o[a][0]) o[a][0][c] = bf16_from_f32(y0);
            if (o[a][1]) o[a][1][c] = bf16_from_f32(y1);
        }
    }
#endif
}

_Static_assert(GEMM_BF16_NR == 64, "input_pair_packed writes panels of 64 channels");

/* Pair pi of V_ξ packed as gemm_bf16's B (K = the T tiles, N = the channels;
 * ξ stride vpx words), for ξ in [xi0, xi1) (a group's; the patch is x0, x1):
 * tiles t and t+1 (t+1 only when two; else a zero partner) straight from the
 * input, as gemm_bf16_pack_b would pack input_tf's rows: the same words, no
 * fp32 V in memory. */
static inline __attribute__((always_inline)) void input_pair_packed(uint32_t *Vp, size_t vpx, int KP, int pi, int xi0,
                                                                    int xi1, WgSrc in, int h, const Conv2dDims *d,
                                                                    const WgPlan *p, size_t t, int two, const float *z)
{
    const int C = p->ci;
    const void *x0[4][4], *x1[4][4];
    patch_src(x0, in, d, p, t, z);
    if (two) patch_src(x1, in, d, p, t + 1, z);
#ifdef WG_NATIVE16
    for (int c = 0; c < (C + 63) / 64 * 64; c += 16) {   /* the panel's words past C: zeros */
        __mmask16 m = lanes16(C - c);
        __m512 v0[16], v1[16];
        bt_d_b16(v0, x0, h, c, m);
        if (two) bt_d_b16(v1, x1, h, c, m);
        else
            for (int x2 = 0; x2 < 16; x2++) v1[x2] = _mm512_setzero_ps();
        #pragma GCC unroll 16
        for (int x2 = 0; x2 < 16; x2++)   /* unrolled: v0, v1 stay in registers */
            if (x2 >= xi0 && x2 < xi1)
                _mm512_storeu_si512(Vp + x2 * vpx + ((size_t)(c / 64) * KP + pi) * 64 + c % 64,
                                    bf16_pairs(v0[x2], v1[x2]));
    }
#else
    float v0[16][64], v1[16][64];
    uint16_t lo[64], hi[64];
    memset(hi, 0, sizeof hi);
    for (int c0 = 0; c0 < C; c0 += 64) {
        int nc = C - c0 < 64 ? C - c0 : 64;
        bt_d_b64(v0, x0, h, c0, nc);
        if (two) bt_d_b64(v1, x1, h, c0, nc);
        for (int x2 = xi0; x2 < xi1; x2++) {
            uint32_t *dst = Vp + x2 * vpx + ((size_t)(c0 / 64) * KP + pi) * 64;
            bf16_convert(lo, v0[x2], (size_t)nc);
            if (two) bf16_convert(hi, v1[x2], (size_t)nc);
            for (int n = 0; n < nc; n++) dst[n] = lo[n] | (uint32_t)hi[n] << 16;
            for (int n = nc; n < 64; n++) dst[n] = 0;
        }
    }
#endif
}

/* Pair pi of Ŷ_ξᵀ as gemm_bf16_pt's pair rows (ξ stride ytx words, row pi at
 * pi·ldp, word c = channel c), for ξ in [x0, x1): tiles t and t+1 (t+1 only
 * when two; else a zero partner), grad_tf's operations straight from dout,
 * one whole vector of 16 channels at a time: no fp32 Ŷ in memory, no scatter
 * into MR-row blocks. */
static inline __attribute__((always_inline)) void grad_pair_rows(uint32_t *Yt, size_t ytx, int ldp, int pi, int x0,
                                                                 int x1, WgSrc dout, int h, const Conv2dDims *d,
                                                                 const WgPlan *p, size_t t, int two, const float *z)
{
    const int C = d->c_out, H = d->h, W = d->w;
    const void *y[2][2][2];
    for (int u = 0; u < 1 + two; u++) {
        int i = (int)((t + u) / p->timg), r = (int)((t + u) % p->timg), ty = r / p->tw, tx = r % p->tw;
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                int yy = 2 * ty + a, xx = 2 * tx + b;
                size_t off = (((size_t)i * H + yy) * W + xx) * (size_t)dout.ld;
                y[u][a][b] = !(yy < H && xx < W) ? (const void *)z
                             : h ? (const void *)(dout.h + off) : (const void *)(dout.f + off);
            }
    }
    uint32_t *row = Yt + (size_t)pi * ldp;
#ifdef WG_NATIVE16
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    for (int c = 0; c < C; c += 16) {
        __mmask16 m = lanes16(C - c);
        __m512 g[2][16];
        for (int u = 0; u < 2; u++) {
            if (u == 1 && !two) {   /* the zero partner */
                for (int x2 = 0; x2 < 16; x2++) g[u][x2] = _mm512_setzero_ps();
                continue;
            }
            for (int b = 0; b < 2; b++) {
                __m512 y0 = src16(y[u][0][b], c, m, h), y1 = src16(y[u][1][b], c, m, h);
                __m512 q[4] = {y0, _mm512_add_ps(y0, y1), _mm512_sub_ps(y0, y1),   /* A y */
                               _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(y1), sign))};
                for (int a = 0; a < 4; a++) g[u][a * 4 + b] = q[a];   /* column b of A y */
            }
            for (int a = 0; a < 4; a++) {   /* (A y) Aᵀ */
                __m512 e0 = g[u][a * 4 + 0], e1 = g[u][a * 4 + 1];
                g[u][a * 4 + 0] = e0;
                g[u][a * 4 + 1] = _mm512_add_ps(e0, e1);
                g[u][a * 4 + 2] = _mm512_sub_ps(e0, e1);
                g[u][a * 4 + 3] = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(e1), sign));
            }
        }
        #pragma GCC unroll 16
        for (int x2 = 0; x2 < 16; x2++)   /* unrolled: g stays in registers */
            if (x2 >= x0 && x2 < x1) _mm512_mask_storeu_epi32(row + x2 * ytx + c, m, bf16_pairs(g[0][x2], g[1][x2]));
    }
#else
    float g[2][16][64];
    uint16_t lo[64], hi[64];
    memset(hi, 0, sizeof hi);
    for (int c0 = 0; c0 < C; c0 += 64) {
        int nc = C - c0 < 64 ? C - c0 : 64;
        for (int u = 0; u < 1 + two; u++) {
            const void *(*yu)[2] = y[u];
            float (*gu)[64] = g[u];
            #pragma omp simd
            for (int k = 0; k < nc; k++) {
                int c = c0 + k;
                float q[4][2];   /* A y */
                for (int b = 0; b < 2; b++) {
                    float y0 = src_at(yu[0][b], c, h), y1 = src_at(yu[1][b], c, h);
                    q[0][b] = y0, q[1][b] = y0 + y1, q[2][b] = y0 - y1, q[3][b] = -y1;
                }
                for (int a = 0; a < 4; a++) {   /* (A y) Aᵀ */
                    float e0 = q[a][0], e1 = q[a][1];
                    gu[a * 4 + 0][k] = e0;
                    gu[a * 4 + 1][k] = e0 + e1;
                    gu[a * 4 + 2][k] = e0 - e1;
                    gu[a * 4 + 3][k] = -e1;
                }
            }
        }
        for (int x2 = x0; x2 < x1; x2++) {
            bf16_convert(lo, g[0][x2], (size_t)nc);
            if (two) bf16_convert(hi, g[1][x2], (size_t)nc);
            for (int n = 0; n < nc; n++) row[x2 * ytx + c0 + n] = lo[n] | (uint32_t)hi[n] << 16;
        }
    }
#endif
}

void winograd_conv_bf16(float *out, uint16_t *out16, int ld_out16, int accumulate, const float *in,
                        const uint16_t *in16, int ld16, const float *w, const Conv2dDims *d, int flip, float *scratch,
                        size_t scratch_floats)
{
    FASTC_ASSERT(!out16 || (!accumulate && !out));
    const WgSrc x = {in16 ? NULL : in, in16, in16 ? ld16 : flip ? d->c_out : d->c_in};
    Wg16 q = wg16_plan(d, flip);
    const WgPlan *p = &q.p;
    int slots = omp_get_max_threads();
    while (slots > 1 && wg16_floats(&q, d, slots) > scratch_floats) slots--;
    FASTC_ASSERT(wg16_floats(&q, d, slots) <= scratch_floats);
    uint32_t *Up = (uint32_t *)scratch;
    float *R = scratch + q.slots, *z = scratch + wg16_floats(&q, d, slots) - (d->c_in > d->c_out ? d->c_in : d->c_out);
    memset(z, 0, sizeof(float) * (size_t)(d->c_in > d->c_out ? d->c_in : d->c_out));
    weights(R, w, d, flip);
    /* B_ξ = U_ξᵀ (forward: U_ξ is [c_out][c_in], k = c_in) or U_ξ (din: k = c_out) */
    #pragma omp parallel for schedule(dynamic, 1)
    for (int x = 0; x < 16; x++)
        gemm_bf16_pack_b(Up + (size_t)x * q.upx, !flip, p->ci, p->co, R + (size_t)x * d->c_in * d->c_out, d->c_in);
    const size_t all = (size_t)d->n * p->timg, nb = (all + q.tb - 1) / q.tb;
    /* each block on one thread, each number one chain: the same bits for any thread count */
    #pragma omp parallel num_threads(slots)
    {
        float *slot = scratch + q.slots + (size_t)omp_get_thread_num() * q.slot;
        uint16_t *V16 = (uint16_t *)slot;
        float *Mb = slot + q.v16;
        #pragma omp for schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            size_t t0 = b * q.tb;
            int T = all - t0 < (size_t)q.tb ? (int)(all - t0) : q.tb;
            const size_t SV = q.sv, SM = q.sm;
            if (x.h)   /* (the source's kind a constant in each loop) */
                for (int t = 0; t < T; t++) input_tile16(V16 + (size_t)t * q.ld, SV, x, 1, d, p, t0 + t, z);
            else
                for (int t = 0; t < T; t++) input_tile16(V16 + (size_t)t * q.ld, SV, x, 0, d, p, t0 + t, z);
            for (int x = 0; x < 16; x++)   /* M_ξ = bf16(V_ξ) · bf16(U_ξ)ᵀ, one chain per number */
                gemm_bf16(T, p->co, p->ci, V16 + x * SV, q.ld, Up + (size_t)x * q.upx, 0, Mb + x * SM, p->co);
            if (out16) {
                /* (not streamed as output_tile_nt: half the lines, and the BatchNorm
                 * finds them in cache; streaming them measured no faster) */
                for (int t = 0; t < T; t++) output_tile16(out16, ld_out16, Mb + (size_t)t * p->co, SM, d, p, t0 + t);
                continue;
            }
#if defined(__AVX512F__)
            for (int t = 0; t < T; t++)
                if (output_tile_nt_ok(out, accumulate, d, p, t0 + t))
                    output_tile_nt(out, Mb + (size_t)t * p->co, SM, d, p, t0 + t);
                else
                    output_tile(out, accumulate, Mb + (size_t)t * p->co, SM, d, p, t0 + t);
            _mm_sfence();   /* the streamed lines reach memory before the region's barrier */
#else
            for (int t = 0; t < T; t++) output_tile(out, accumulate, Mb + (size_t)t * p->co, SM, d, p, t0 + t);
#endif
        }
    }
}

/* The weight gradient's transforms of one chunk (tiles from image i0, T of
 * them) for the ξ in [X0, X1): each pair of tiles' V_ξ packed and Ŷ_ξᵀ pair
 * rows.  One function per group of ξ, the range a constant: a group keeps only
 * its ξ, and with the range known the compiler drops the loads and adds no
 * kept ξ needs (half of each transform's second step, a quarter of the input
 * transform's loads), which the threads otherwise all did for every ξ. */
typedef void (*PairTfs)(uint32_t *Vp, uint32_t *Yt, const Wg16g *q, WgSrc dout, WgSrc in, const Conv2dDims *d,
                        int i0, int T, const float *z);
static inline __attribute__((always_inline)) void pair_tfs(uint32_t *Vp, uint32_t *Yt, const Wg16g *q, WgSrc dout,
                                                           int dh, WgSrc in, int ih, const Conv2dDims *d, int i0,
                                                           int T, const float *z, int x0, int x1)
{
    const int KP = (T + 1) / 2;
    for (int pi = 0; pi < KP; pi++) {
        size_t t = (size_t)i0 * q->p.timg + 2 * (size_t)pi;
        input_pair_packed(Vp, q->vpx, KP, pi, x0, x1, in, ih, d, &q->p, t, 2 * pi + 1 < T, z);
        grad_pair_rows(Yt, q->ytx, q->ldp, pi, x0, x1, dout, dh, d, &q->p, t, 2 * pi + 1 < T, z);
    }
}
/* pair_tfs_X0_X1: dout and in as the kind each is (bf16 or fp32), all four
 * combinations inlined with constants */
#define PAIR_TFS(X0, X1)                                                                                           \
    static void pair_tfs_##X0##_##X1(uint32_t *Vp, uint32_t *Yt, const Wg16g *q, WgSrc dout, WgSrc in,          \
                                     const Conv2dDims *d, int i0, int T, const float *z)                         \
    {                                                                                                              \
        if (dout.h && in.h) pair_tfs(Vp, Yt, q, dout, 1, in, 1, d, i0, T, z, X0, X1);                             \
        else if (dout.h) pair_tfs(Vp, Yt, q, dout, 1, in, 0, d, i0, T, z, X0, X1);                                \
        else if (in.h) pair_tfs(Vp, Yt, q, dout, 0, in, 1, d, i0, T, z, X0, X1);                                  \
        else pair_tfs(Vp, Yt, q, dout, 0, in, 0, d, i0, T, z, X0, X1);                                            \
    }
PAIR_TFS(0, 16)
PAIR_TFS(0, 8)
PAIR_TFS(8, 16)
PAIR_TFS(0, 4)
PAIR_TFS(4, 8)
PAIR_TFS(8, 12)
PAIR_TFS(12, 16)
#undef PAIR_TFS
/* by groups (1, 2, 4) and group: [0] one group, [1 + g] of two, [3 + g] of four */
static const PairTfs pair_tfs_of[7] = {pair_tfs_0_16, pair_tfs_0_8,  pair_tfs_8_16, pair_tfs_0_4,
                                       pair_tfs_4_8,  pair_tfs_8_12, pair_tfs_12_16};

void winograd_weight_grad_bf16(float *dw, const float *dout, const uint16_t *dout16, int ld16, const float *in,
                               const uint16_t *in16, const Conv2dDims *d, float *scratch)
{
    const WgSrc go = {dout16 ? NULL : dout, dout16, dout16 ? ld16 : d->c_out}, x = {in16 ? NULL : in, in16, d->c_in};
    Wg16g q = wg16g_plan(d);
    const WgPlan *p = &q.p;
    const int CI = d->c_in, CO = d->c_out;
    float *dU = scratch, *z = scratch + q.z;
    uint32_t *Vp = (uint32_t *)(scratch + q.vp);
    uint32_t *Yt = (uint32_t *)(scratch + q.yt);
    memset(z, 0, sizeof(float) * (size_t)(CI > CO ? CI : CO));
    /* Each group of ξ on one thread from the first chunk to the last: its
     * transforms (of every tile, stored for its ξ only) and its GEMMs, so a
     * thread reads back what it wrote itself and needs no barrier between
     * chunks.  The group count follows the threads; no ξ's chain does. */
    const int th = omp_get_max_threads(), groups = th >= 4 ? 4 : th >= 2 ? 2 : 1;
    #pragma omp parallel for num_threads(groups) schedule(static, 1)
    for (int g = 0; g < groups; g++) {
        const int x0 = 16 * g / groups, x1 = 16 * (g + 1) / groups;
        for (int i0 = 0; i0 < d->n; i0 += p->chunk) {
            int ni = d->n - i0 < p->chunk ? d->n - i0 : p->chunk;
            int T = ni * p->timg;
            pair_tfs_of[groups == 4 ? 3 + g : groups == 2 ? 1 + g : 0](Vp, Yt, &q, go, x, d, i0, T, z);
            for (int x = x0; x < x1; x++)   /* dU_ξ (+)= bf16(Ŷ_ξ)ᵀ · bf16(V_ξ): the chain goes on chunk after chunk */
                gemm_bf16_pt(CO, CI, T, Yt + (size_t)x * q.ytx, q.ldp, Vp + (size_t)x * q.vpx, i0 > 0,
                             dU + (size_t)x * CI * CO, CI);
        }
    }
    weights_grad(dw, dU, d);
}

/* ---- bf16 references: the same rounding points, plainly --------------------- */

/* r[a][b] = Σ_k L[a][k]·x[k][b] over the nonzero L (k ascending), then
 * s[a][b] = Σ_k r[a][k]·R[b][k]: the fast path's transforms written as the
 * matrix products (its sums associate the same way; the ½ factors are exact). */
static void tf2(float *s, const float *L, int lr, int lc, const float *x, int xc, const float *R, int rr)
{
    float r[4][4];
    for (int a = 0; a < lr; a++)
        for (int b = 0; b < xc; b++) {
            int first = 1;
            float acc = 0;
            for (int k = 0; k < lc; k++)
                if (L[a * lc + k] != 0) {
                    float t = L[a * lc + k] * x[k * xc + b];
                    acc = first ? t : acc + t, first = 0;
                }
            r[a][b] = acc;
        }
    for (int a = 0; a < lr; a++)
        for (int b = 0; b < rr; b++) {
            int first = 1;
            float acc = 0;
            for (int k = 0; k < xc; k++)
                if (R[b * xc + k] != 0) {
                    float t = r[a][k] * R[b * xc + k];
                    acc = first ? t : acc + t, first = 0;
                }
            s[a * rr + b] = acc;
        }
}

static const float WG_BT[16] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
static const float WG_G[12] = {1, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0, 0, 1};
static const float WG_AT[8] = {1, 1, 1, 0, 0, 1, -1, -1};
static const float WG_A[8] = {1, 0, 1, 1, 1, -1, 0, -1};

/* V[t][ξ][c] = (Bᵀ bf16(d) B)_ξ (fp32) of all tiles of images [i0, i0+ni) of x [n,h,w,C]. */
static void ref_input_tf(float *V, const float *x, int C, const Conv2dDims *d, const WgPlan *p, int i0, int ni)
{
    for (int t = 0; t < ni * p->timg; t++) {
        int i = i0 + t / p->timg, ty = t % p->timg / p->tw, tx = t % p->tw;
        for (int c = 0; c < C; c++) {
            float dd[16], v[16];
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++) {
                    int y = 2 * ty - 1 + a, xx = 2 * tx - 1 + b;
                    dd[a * 4 + b] = y < 0 || y >= d->h || xx < 0 || xx >= d->w ? 0
                                    : bf16_round(x[(((size_t)i * d->h + y) * d->w + xx) * C + c]);
                }
            tf2(v, WG_BT, 4, 4, dd, 4, WG_BT, 4);
            for (int k = 0; k < 16; k++) V[((size_t)t * 16 + k) * C + c] = v[k];
        }
    }
}

void winograd_conv_ref_bf16(float *out, int accumulate, const float *in, const float *w, const Conv2dDims *d,
                            int flip)
{
    WgPlan p = wg_plan(d, flip);
    const int CI = p.ci, CO = p.co, T = d->n * p.timg;
    float *U = malloc(sizeof(float) * 16 * (size_t)CO * CI);   /* U[ξ][o][i] of this direction */
    float *V = malloc(sizeof(float) * 16 * (size_t)T * CI);
    FASTC_ASSERT(U && V);
    for (int o = 0; o < CO; o++)
        for (int i = 0; i < CI; i++) {
            float g[9], u[16];
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                    g[ky * 3 + kx] = flip ? w[(((size_t)i * 3 + 2 - ky) * 3 + 2 - kx) * d->c_in + o]
                                          : w[(((size_t)o * 3 + ky) * 3 + kx) * d->c_in + i];
            tf2(u, WG_G, 4, 3, g, 3, WG_G, 4);
            for (int k = 0; k < 16; k++) U[((size_t)k * CO + o) * CI + i] = u[k];
        }
    ref_input_tf(V, in, CI, d, &p, 0, d->n);
    float *a = malloc(sizeof(float) * (size_t)CI);
    FASTC_ASSERT(a);
    for (int t = 0; t < T; t++) {
        int i = t / p.timg, ty = t % p.timg / p.tw, tx = t % p.tw;
        for (int o = 0; o < CO; o++) {
            float m[16], y[4];
            for (int k = 0; k < 16; k++) {   /* one chain over the channels, as gemm_bf16_ref */
                for (int c = 0; c < CI; c++) a[c] = V[((size_t)t * 16 + k) * CI + c];
                gemm_bf16_ref(0, 0, 1, 1, CI, a, CI, U + ((size_t)k * CO + o) * CI, 1, 0, &m[k], 1);
            }
            tf2(y, WG_AT, 2, 4, m, 4, WG_AT, 2);
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 2; c++) {
                    int yy = 2 * ty + r, xx = 2 * tx + c;
                    if (yy >= d->h || xx >= d->w) continue;
                    float *dst = out + (((size_t)i * d->h + yy) * d->w + xx) * CO + o;
                    *dst = accumulate ? *dst + y[r * 2 + c] : y[r * 2 + c];
                }
        }
    }
    free(U), free(V), free(a);
}

void winograd_weight_grad_ref_bf16(float *dw, const float *dout, const float *in, const Conv2dDims *d)
{
    WgPlan p = wg_plan(d, 0);
    const int CI = d->c_in, CO = d->c_out;
    const size_t tc = (size_t)p.chunk * p.timg;
    float *dU = calloc((size_t)16 * CO * CI, sizeof(float));
    float *V = malloc(sizeof(float) * 16 * tc * CI), *Y = malloc(sizeof(float) * 16 * tc * CO);
    FASTC_ASSERT(dU && V && Y);
    for (int i0 = 0; i0 < d->n; i0 += p.chunk) {   /* the chain goes on over the chunks, pairs restart in each */
        int ni = d->n - i0 < p.chunk ? d->n - i0 : p.chunk, T = ni * p.timg;
        ref_input_tf(V, in, CI, d, &p, i0, ni);
        for (int t = 0; t < T; t++) {
            int i = i0 + t / p.timg, ty = t % p.timg / p.tw, tx = t % p.tw;
            for (int c = 0; c < CO; c++) {
                float yy[4], v[16];
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        int y = 2 * ty + a, x = 2 * tx + b;
                        yy[a * 2 + b] =
                            y < d->h && x < d->w ? bf16_round(dout[(((size_t)i * d->h + y) * d->w + x) * CO + c]) : 0;
                    }
                tf2(v, WG_A, 4, 2, yy, 2, WG_A, 4);
                for (int k = 0; k < 16; k++) Y[((size_t)t * 16 + k) * CO + c] = v[k];
            }
        }
        for (int k = 0; k < 16; k++)   /* dU_ξ[o][i] (+)= Σ_t Ŷ[t][ξ][o]·V[t][ξ][i] */
            gemm_bf16_ref(1, 0, CO, CI, T, Y + (size_t)k * CO, 16 * CO, V + (size_t)k * CI, 16 * CI, i0 > 0,
                          dU + (size_t)k * CO * CI, CI);
    }
    for (int o = 0; o < CO; o++)   /* dw += Gᵀ dU G, associated as weights_grad */
        for (int i = 0; i < CI; i++) {
            float u[16], t[3][4];
            for (int k = 0; k < 16; k++) u[k] = dU[((size_t)k * CO + o) * CI + i];
            for (int c = 0; c < 4; c++) {
                t[0][c] = u[c] + 0.5f * (u[4 + c] + u[8 + c]);
                t[1][c] = 0.5f * (u[4 + c] - u[8 + c]);
                t[2][c] = 0.5f * (u[4 + c] + u[8 + c]) + u[12 + c];
            }
            for (int r = 0; r < 3; r++) {
                float *g = dw + ((size_t)o * 9 + r * 3) * CI + i;
                g[0] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
                g[CI] += 0.5f * (t[r][1] - t[r][2]);
                g[2 * CI] += 0.5f * (t[r][1] + t[r][2]) + t[r][3];
            }
        }
    free(dU), free(V), free(Y);
}
