/* conv.c — 2-D convolution, NHWC, im2col + GEMM over tiles of images (see conv.h). */
#include "nn/conv.h"

#include "core/err.h"
#include "nn/conv_stem16.h"
#include "nn/conv_taps.h"
#include "nn/gemm.h"
#include "nn/gemm_bf16.h"
#include "nn/gemm_f32.h"
#include "nn/winograd.h"
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Big-path tiles may hold this many times the tile cap. */
#define CONV_BIG_FACTOR 8
/* Winograd (3x3 stride 1 pad 1) from this many channels in and out.  Measured
 * here (resnet18 at 128 px, one thread): forward 1.4x (64 channels) to 2x (512)
 * faster than columns + GEMM, din 1.1x to 1.3x; below 64 channels untested for
 * speed, so columns. */
#define CONV_WINOGRAD_MIN_C 64
/* Tile-parallel when a tile has at least this many GEMM rows per output channel. */
#define CONV_ROWS_PER_COUT 4

Conv2dDims conv2d_dims(int n, int h, int w, int c_in, int c_out, int k, int stride, int pad)
{
    Conv2dDims d = {n, h, w, c_in, c_out, k, k, stride, pad, 0, 0};
    d.oh = (h + 2 * pad - k) / stride + 1;
    d.ow = (w + 2 * pad - k) / stride + 1;
    return d;
}

int conv2d_is_pointwise(const Conv2dDims *d)
{
    return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

static size_t col_per_image(const Conv2dDims *d)
{
    return (size_t)d->oh * d->ow * d->kh * d->kw * d->c_in;
}

/* Images per tile: as many as fit in cap floats, at least one (cap 0: all). */
static int tile_images(const Conv2dDims *d, size_t cap)
{
    size_t per = col_per_image(d);
    if (cap == 0) return d->n;
    size_t t = cap / per;
    if (t < 1) t = 1;
    if (t > (size_t)d->n) t = (size_t)d->n;
    return (int)t;
}

/* How a convolution is cut, from the dimensions and the tile cap only (never
 * from the thread count, so the numbers never depend on it).
 *   par:    tiles run in parallel, each by one thread with its own column
 *           buffer and one single-threaded GEMM (im2col output stays in that
 *           core's cache).  Chosen when a tile has many GEMM rows per output
 *           channel, so re-packing the weights per tile is cheap.  The weight
 *           gradient is summed per group of consecutive tiles (groups fixed),
 *           group 0 straight into dW, the others into partial buffers added
 *           in group order at the end.
 *   !par:   one tile after the other, im2col split over rows and the GEMM
 *           split in blocks (nn_sgemm) — for late layers with few rows and
 *           large weights. */
typedef struct Plan {
    int par, tile, ntiles, groups;
    size_t tile_floats, nw;
} Plan;

static Plan make_plan(const Conv2dDims *d, size_t cap)
{
    Plan p;
    memset(&p, 0, sizeof p);
    p.nw = (size_t)d->c_out * d->kh * d->kw * d->c_in;
    p.tile = tile_images(d, cap);
    p.ntiles = (d->n + p.tile - 1) / p.tile;
    p.par = p.ntiles >= 2 && (size_t)p.tile * d->oh * d->ow >= (size_t)CONV_ROWS_PER_COUT * d->c_out;
    if (!p.par) {
        p.tile = tile_images(d, cap * CONV_BIG_FACTOR);
        p.ntiles = (d->n + p.tile - 1) / p.tile;
    }
    p.groups = p.par ? (p.ntiles < CONV_GROUPS ? p.ntiles : CONV_GROUPS) : 1;
    p.tile_floats = (size_t)p.tile * col_per_image(d);
    return p;
}

static int use_winograd(const Conv2dDims *d)
{
    return winograd_applies(d) && d->c_in >= CONV_WINOGRAD_MIN_C && d->c_out >= CONV_WINOGRAD_MIN_C;
}

/* By taps when padding would waste products: always when more than half of
 * the kernel's products would read padding (1x1 and 2x2 maps: Winograd or
 * columns do 2.25x to 16x the work there); when at least a tenth would (7x7
 * and 4x4 maps, strided convolutions onto small maps, the stem at 28 px) for
 * convolutions Winograd does not take, and for the 64-channel ones it does
 * when the batch is large (>= 128 rows per position GEMM): Winograd's GEMMs
 * are thin there (K = 64) and a 7x7 map wastes a quarter of its 2x2 tiles.
 * Measured with bench_conv at 28 px / batch 256 (7x7 map, 64 channels: taps
 * 9.4 + 16.0 ms, Winograd 11.9 + 29.9; 4x4 map, 128 channels: taps
 * 10.5 + 21.3, Winograd 9.1 + 17.9), 64 px and 128 px / batch 64. */
static int use_taps(const Conv2dDims *d)
{
    if (conv2d_is_pointwise(d)) return 0;
    double f = (double)conv_taps_used(d) / (double)conv_taps_full(d);
    if (f <= 0.5) return 1;
    if (f >= 0.9) return 0;
    if (!use_winograd(d)) return 1;
    return d->n >= 128 && d->c_in < 128;
}

size_t conv2d_scratch_floats(const Conv2dDims *d, size_t cap, int threads)
{
    if (conv2d_is_pointwise(d)) {   /* the weight gradient's partial sums (fp32 owner's edit) */
        int M = d->n * d->h * d->w;
        return nn_sgemm_tn_chunks(d->c_out, d->c_in, M) > 1
                   ? (size_t)(nn_sgemm_tn_chunks(d->c_out, d->c_in, M) - 1) * d->c_out * d->c_in : 0;
    }
    Plan p = make_plan(d, cap);
    size_t f = p.tile_floats;
    if (p.par) {
        if (threads < 1) threads = 1;
        if (threads > p.ntiles) threads = p.ntiles;
        f = (size_t)threads * p.tile_floats + (size_t)(p.groups - 1) * p.nw;
    }
    if (use_winograd(d) && winograd_scratch_floats(d) > f) f = winograd_scratch_floats(d);
    return f;
}

double conv2d_macs_per_image(const Conv2dDims *d)
{
    return (double)d->oh * d->ow * d->c_out * d->kh * d->kw * d->c_in;
}

/* col[(i·oh + oy)·ow + ox][(ky·kw + kx)·c_in + ci] = in[i, oy·s − p + ky, ox·s − p + kx, ci]
 * (zero outside), for output rows [r0, r1) of the images starting at `in`
 * (row r = i·oh + oy). */
/* The column row of output position (r = i·oh + oy, ox) into dst (K floats). */
static void im2col_pos(float *dst, const float *in, const Conv2dDims *d, int r, int ox)
{
    const int C = d->c_in;
    int i = r / d->oh, oy = r % d->oh;
    const float *img = in + (size_t)i * d->h * d->w * C;
    for (int ky = 0; ky < d->kh; ky++) {
        int iy = oy * d->stride - d->pad + ky;
        if (iy < 0 || iy >= d->h) {
            memset(dst, 0, sizeof(float) * d->kw * C);
            dst += d->kw * C;
            continue;
        }
        int ix0 = ox * d->stride - d->pad;
        if (ix0 >= 0 && ix0 + d->kw <= d->w) {
            memcpy(dst, img + ((size_t)iy * d->w + ix0) * C, sizeof(float) * d->kw * C);
            dst += d->kw * C;
            continue;
        }
        for (int kx = 0; kx < d->kw; kx++, dst += C) {
            int ix = ix0 + kx;
            if (ix < 0 || ix >= d->w) memset(dst, 0, sizeof(float) * C);
            else memcpy(dst, img + ((size_t)iy * d->w + ix) * C, sizeof(float) * C);
        }
    }
}

static void im2col_rows(float *col, const float *in, const Conv2dDims *d, int r0, int r1)
{
    const size_t K = (size_t)d->kh * d->kw * d->c_in;
    for (int r = r0; r < r1; r++)
        for (int ox = 0; ox < d->ow; ox++) im2col_pos(col + ((size_t)r * d->ow + ox) * K, in, d, r, ox);
}

static void im2col(float *col, const float *in, const Conv2dDims *d, int nt)
{
    int rows = nt * d->oh, nb = rows < 64 ? rows : 64;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < nb; b++) im2col_rows(col, in, d, (int)((long)rows * b / nb), (int)((long)rows * (b + 1) / nb));
}

/* The adjoint of im2col, as a gather so every din element is written once in
 * a fixed order, for input rows [r0, r1) (r = i·h + iy):
 *   din[i,iy,ix,ci] (+)= Σ_{ky,kx: oy·s−p+ky = iy, ox·s−p+kx = ix} col[(i,oy,ox)][(ky,kx,ci)] */
static void col2im_rows(float *din, int accumulate, const float *col, const Conv2dDims *d, int r0, int r1)
{
    const int K = d->kh * d->kw * d->c_in, C = d->c_in, s = d->stride;
    for (int r = r0; r < r1; r++) {
        int i = r / d->h, iy = r % d->h;
        float *drow = din + ((size_t)i * d->h + iy) * d->w * C;
        if (!accumulate) memset(drow, 0, sizeof(float) * d->w * C);
        for (int ky = 0; ky < d->kh; ky++) {
            int ty = iy + d->pad - ky;
            if (ty < 0 || ty % s) continue;
            int oy = ty / s;
            if (oy >= d->oh) continue;
            const float *crow = col + ((size_t)i * d->oh + oy) * d->ow * K;
            for (int ix = 0; ix < d->w; ix++) {
                float *dp = drow + (size_t)ix * C;
                for (int kx = 0; kx < d->kw; kx++) {
                    int tx = ix + d->pad - kx;
                    if (tx < 0 || tx % s) continue;
                    int ox = tx / s;
                    if (ox >= d->ow) continue;
                    const float *cp = crow + (size_t)ox * K + (size_t)(ky * d->kw + kx) * C;
                    for (int c = 0; c < C; c++) dp[c] += cp[c];
                }
            }
        }
    }
}

static void col2im(float *din, int accumulate, const float *col, const Conv2dDims *d, int nt)
{
    int rows = nt * d->h, nb = rows < 64 ? rows : 64;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < nb; b++)
        col2im_rows(din, accumulate, col, d, (int)((long)rows * b / nb), (int)((long)rows * (b + 1) / nb));
}

/* One single-threaded OpenBLAS call (inside our parallel regions). */
static void sgemm1(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* Threads for the tile-parallel path: no more than the scratch has column slots for. */
static int par_threads(const Plan *p, const ConvScratch *s, int extra_parts)
{
    size_t parts = extra_parts ? (size_t)(p->groups - 1) * p->nw : 0;
    size_t slots = s->floats > parts ? (s->floats - parts) / p->tile_floats : 0;
    int t = omp_get_max_threads();
    if ((size_t)t > slots) t = (int)slots;
    if (t > p->ntiles) t = p->ntiles;
    FASTC_ASSERT(t >= 1);
    return t;
}

/* A bf16 convolution's input: fp32 (rounded here, as it is read) or already
 * bf16 (h: the same rounding done once by its producer, conv2d_forward_in16). */
typedef struct Src16 {
    const float *f;
    const uint16_t *h;
} Src16;

static void forward_bf16(float *out, uint16_t *out16, int ld16, Src16 in, const float *w, const Conv2dDims *d,
                         const ConvScratch *s);
static void backward_bf16(float *din, int din_accumulate, float *dw, const float *dout, const uint16_t *dout16,
                          int ld16, Src16 in, const float *w, const Conv2dDims *d, const ConvScratch *s);

static Src16 src16_f(const float *in)
{
    Src16 x = {in, NULL};
    return x;
}

void conv2d_forward(float *out, const float *in, const float *w, const Conv2dDims *d,
                    const ConvScratch *s)
{
    const int K = d->kh * d->kw * d->c_in;
    const size_t in_img = (size_t)d->h * d->w * d->c_in, out_img = (size_t)d->oh * d->ow * d->c_out;
    if (s->bf16) {
        forward_bf16(out, NULL, 0, src16_f(in), w, d, s);
        return;
    }
    if (conv2d_is_pointwise(d)) {
        /* out[M, c_out] = in[M, c_in] · W[c_out, c_in]^T
         * (gemm_f32: activations read in place, no clearing pass; fp32 owner's edit) */
        int M = d->n * d->h * d->w;
        gemm_f32(1, M, d->c_out, d->c_in, in, d->c_in, w, d->c_in, 0, out, d->c_out);
        return;
    }
    if (use_taps(d)) {
        conv_taps_forward(out, in, w, d);
        return;
    }
    if (use_winograd(d)) {
        winograd_conv(out, 0, in, w, d, 0, s->buf);
        return;
    }
    Plan p = make_plan(d, s->tile_cap);
    if (p.par) {
        int nth = par_threads(&p, s, 0);
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
        for (int ti = 0; ti < p.ntiles; ti++) {
            float *col = s->buf + (size_t)omp_get_thread_num() * p.tile_floats;
            int i0 = ti * p.tile, t = d->n - i0 < p.tile ? d->n - i0 : p.tile;
            im2col_rows(col, in + i0 * in_img, d, 0, t * d->oh);
            sgemm1(0, 1, t * d->oh * d->ow, d->c_out, K, col, K, w, K, 0.0f, out + i0 * out_img, d->c_out);
        }
        return;
    }
    for (int i0 = 0; i0 < d->n; i0 += p.tile) {
        int t = d->n - i0 < p.tile ? d->n - i0 : p.tile;
        int M = t * d->oh * d->ow;
        im2col(s->buf, in + i0 * in_img, d, t);
        /* out_tile[M, c_out] = col[M, K] · W[c_out, K]^T */
        nn_sgemm(0, 1, M, d->c_out, K, 1.0f, s->buf, K, w, K, 0.0f, out + i0 * out_img, d->c_out);
    }
}

void conv2d_backward(float *din, int din_accumulate, float *dw, const float *dout,
                     const float *in, const float *w, const Conv2dDims *d, const ConvScratch *s)
{
    const int K = d->kh * d->kw * d->c_in;
    const size_t in_img = (size_t)d->h * d->w * d->c_in, out_img = (size_t)d->oh * d->ow * d->c_out;
    if (s->bf16) {
        backward_bf16(din, din_accumulate, dw, dout, NULL, 0, src16_f(in), w, d, s);
        return;
    }
    if (conv2d_is_pointwise(d)) {
        int M = d->n * d->h * d->w;
        if (dw) { /* dW[c_out, c_in] += dout[M, c_out]^T · in[M, c_in], over chunks of M (fp32 owner's edit) */
            FASTC_ASSERT(s->floats >= conv2d_scratch_floats(d, 0, 1));
            nn_sgemm_tn_acc(d->c_out, d->c_in, M, dout, d->c_out, in, d->c_in, dw, d->c_in, s->buf);
        }
        if (din) /* din[M, c_in] (+)= dout[M, c_out] · W[c_out, c_in] (gemm_f32: fp32 owner's edit) */
            gemm_f32(0, M, d->c_in, d->c_out, dout, d->c_out, w, d->c_in, din_accumulate, din, d->c_in);
        return;
    }
    if (use_taps(d)) {
        conv_taps_backward(din, din_accumulate, dw, dout, in, w, d);
        return;
    }
    if (use_winograd(d)) {
        /* dW through the transposed transforms, din as a convolution of dout */
        if (dw) winograd_weight_grad(dw, dout, in, d, s->buf);
        if (din) winograd_conv(din, din_accumulate, dout, w, d, 1, s->buf);
        return;
    }
    Plan p = make_plan(d, s->tile_cap);
    if (p.par) {
        int nth = par_threads(&p, s, dw != NULL);
        float *parts = s->buf + (s->floats - (size_t)(p.groups - 1) * p.nw);
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
        for (int g = 0; g < p.groups; g++) {
            float *col = s->buf + (size_t)omp_get_thread_num() * p.tile_floats;
            float *dwg = g ? parts + (size_t)(g - 1) * p.nw : dw;
            int t0 = (int)((long)p.ntiles * g / p.groups), t1 = (int)((long)p.ntiles * (g + 1) / p.groups);
            for (int ti = t0; ti < t1; ti++) {
                int i0 = ti * p.tile, t = d->n - i0 < p.tile ? d->n - i0 : p.tile;
                int M = t * d->oh * d->ow;
                const float *dout_t = dout + i0 * out_img;
                if (dw) {
                    im2col_rows(col, in + i0 * in_img, d, 0, t * d->oh);
                    /* dW_g[c_out, K] (+)= dout_t[M, c_out]^T · col[M, K] */
                    sgemm1(1, 0, d->c_out, K, M, dout_t, d->c_out, col, K, g && ti == t0 ? 0.0f : 1.0f,
                           dwg, K);
                }
                if (din) {
                    sgemm1(0, 0, M, K, d->c_out, dout_t, d->c_out, w, K, 0.0f, col, K);
                    col2im_rows(din + i0 * in_img, din_accumulate, col, d, 0, t * d->h);
                }
            }
        }
        if (dw && p.groups > 1) {
            #pragma omp parallel for schedule(static)
            for (size_t j = 0; j < p.nw; j++) {
                float v = dw[j];
                for (int g = 1; g < p.groups; g++) v += parts[(size_t)(g - 1) * p.nw + j];
                dw[j] = v;
            }
        }
        return;
    }
    for (int i0 = 0; i0 < d->n; i0 += p.tile) {
        int t = d->n - i0 < p.tile ? d->n - i0 : p.tile;
        int M = t * d->oh * d->ow;
        const float *dout_t = dout + i0 * out_img;
        if (dw) {
            im2col(s->buf, in + i0 * in_img, d, t);
            /* dW[c_out, K] += dout_t[M, c_out]^T · col[M, K] */
            nn_sgemm(1, 0, d->c_out, K, M, 1.0f, dout_t, d->c_out, s->buf, K, 1.0f, dw, K);
        }
        if (din) {
            /* dcol[M, K] = dout_t[M, c_out] · W[c_out, K], then scattered back */
            nn_sgemm(0, 0, M, K, d->c_out, 1.0f, dout_t, d->c_out, w, K, 0.0f, s->buf, K);
            col2im(din + i0 * in_img, din_accumulate, s->buf, d, t);
        }
    }
}
/* ---- bf16 ------------------------------------------------------------------ */

/* Rows of at most this many columns whose kernel rows are short (kw·c_in <
 * 64: the stem) are gathered in fp32 and converted in one go: converting
 * each 21-value segment of the 7x7 stem apart cost 5x the stem's GEMMs. */
#define IM2COL16_ROW_BUF 1024


static Src16 src16_at(Src16 x, size_t off)
{
    if (x.f) x.f += off;
    else x.h += off;
    return x;
}

/* n values of x from element off into dst as bf16. */
static inline void src16_get(uint16_t *dst, Src16 x, size_t off, size_t n)
{
    if (x.f) bf16_convert(dst, x.f + off, n);
    else memcpy(dst, x.h + off, sizeof(uint16_t) * n);
}

/* im2col_rows into bf16 rows of ld elements (K rounded up to even: the pad is 0). */
static void im2col16_rows(uint16_t *col, int ld, Src16 in, const Conv2dDims *d, int r0, int r1)
{
    const int K = d->kh * d->kw * d->c_in, C = d->c_in;
    if (in.f && d->kw * C < 64 && K <= IM2COL16_ROW_BUF) {
        float buf[IM2COL16_ROW_BUF];
        for (int r = r0; r < r1; r++)
            for (int ox = 0; ox < d->ow; ox++) {
                im2col_pos(buf, in.f, d, r, ox);
                uint16_t *row = col + ((size_t)r * d->ow + ox) * ld;
                bf16_convert(row, buf, (size_t)K);
                if (K & 1) row[K] = 0;
            }
        return;
    }
    for (int r = r0; r < r1; r++) {
        int i = r / d->oh, oy = r % d->oh;
        const size_t img = (size_t)i * d->h * d->w * C;
        for (int ox = 0; ox < d->ow; ox++) {
            uint16_t *row = col + ((size_t)r * d->ow + ox) * ld, *dst = row;
            for (int ky = 0; ky < d->kh; ky++) {
                int iy = oy * d->stride - d->pad + ky, ix0 = ox * d->stride - d->pad;
                if (iy < 0 || iy >= d->h) {
                    memset(dst, 0, sizeof(uint16_t) * d->kw * C);
                    dst += d->kw * C;
                    continue;
                }
                if (ix0 >= 0 && ix0 + d->kw <= d->w) {
                    src16_get(dst, in, img + ((size_t)iy * d->w + ix0) * C, (size_t)d->kw * C);
                    dst += d->kw * C;
                    continue;
                }
                for (int kx = 0; kx < d->kw; kx++, dst += C) {
                    int ix = ix0 + kx;
                    if (ix < 0 || ix >= d->w) memset(dst, 0, sizeof(uint16_t) * C);
                    else src16_get(dst, in, img + ((size_t)iy * d->w + ix) * C, (size_t)C);
                }
            }
            if (K & 1) row[K] = 0;
        }
    }
}

static void im2col16(uint16_t *col, int ld, Src16 in, const Conv2dDims *d, int nt)
{
    int rows = nt * d->oh, nb = rows < 64 ? rows : 64;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < nb; b++)
        im2col16_rows(col, ld, in, d, (int)((long)rows * b / nb), (int)((long)rows * (b + 1) / nb));
}

/* Whether the columns of d are the input's bf16 rows themselves (1x1 stride 1, an
 * even c_in, the input already bf16): the GEMMs read it in place, no copy. */
static int cols_in_place(const Conv2dDims *d, Src16 in) { return in.h && conv2d_is_pointwise(d) && !(d->c_in & 1); }

static size_t up16(size_t f) { return (f + 15) / 16 * 16; }

/* The bf16 path's cut: make_plan's at half the tile cap (a bf16 column is half
 * a float one, and the backward keeps a packed copy and fp32 columns beside it:
 * a slot is then about 0.8 of the fp32 path's), and the floats of each region:
 *   wp:   the packed weight, shared (Wᵀ forward, W for din)
 *   slot: per tile in flight: packed columns (dW's B; with c_in a multiple of
 *         64, the B panels packed one at a time, one per thread: pack_panel16) |
 *         fp32 columns (the forward's bf16 columns live at its start; din's
 *         products of one panel at a time, one run of rows per thread:
 *         din16_rows) | doutᵀ packed (dW's A) | bf16 dout rows (din's A, and
 *         what dW's A is packed from).  (The regions keep the sizes of whole-tile
 *         columns: the tiles, hence the weight gradient's chains, come from them.)
 *   parts: the weight-gradient partials of groups 1.. (as the fp32 path) */
typedef struct Plan16 {
    Plan p;
    int K, ld;                 /* columns, bf16 row length */
    size_t wp, colp, dcol, g16, d16, slot;
} Plan16;

static size_t words_of_bf16(size_t n) { return (n + 1) / 2; }

/* The slot's regions for tiles of q->p.tile images. */
static void plan16_slot(Plan16 *q, const Conv2dDims *d)
{
    size_t M = (size_t)q->p.tile * d->oh * d->ow;
    q->colp = (gemm_bf16_packed_words((int)M, q->K) + 15) / 16 * 16;
    q->dcol = (M * q->K + 15) / 16 * 16;
    size_t g1 = gemm_bf16_packed_a_words(d->c_out, (int)M), g2 = words_of_bf16(M * (size_t)((d->c_out + 1) & ~1));
    q->g16 = ((g1 > g2 ? g1 : g2) + 15) / 16 * 16;
    q->slot = q->colp + q->dcol + q->g16;
}

static Plan16 plan16(const Conv2dDims *d, size_t cap)
{
    Plan16 q;
    memset(&q, 0, sizeof q);
    q.p = make_plan(d, cap / 2 > 0 ? cap / 2 : 1);
    if (cap == 0) q.p = make_plan(d, 0);
    q.K = d->kh * d->kw * d->c_in;
    q.ld = (q.K + 1) & ~1;
    size_t a = gemm_bf16_packed_words(q.K, d->c_out), b = gemm_bf16_packed_words(d->c_out, q.K);
    q.wp = ((a > b ? a : b) + 15) / 16 * 16;
    plan16_slot(&q, d);
    /* The big path's tile (one slot) was sized by its columns alone; its bf16
     * dout can be larger (a strided 1x1 that doubles the channels: resnet50's
     * downsamples at 128 px had a 24 MB slot, above the whole fp32 scratch).
     * Fewer images per tile until the slot is at most CONV_BIG_FACTOR·cap/2. */
    size_t big = (size_t)CONV_BIG_FACTOR * (cap / 2);
    if (cap && !q.p.par)
        while (q.p.tile > 1 && q.slot > big) {
            q.p.tile--;
            q.p.ntiles = (d->n + q.p.tile - 1) / q.p.tile;
            q.p.tile_floats = (size_t)q.p.tile * col_per_image(d);
            plan16_slot(&q, d);
        }
    /* Then the slot as used: doutᵀ packed beside dout as bf16 rows, rounded once
     * for both backward products.  The tile stays the one chosen above (where one
     * region held either), so the tiles, hence the chains, do not change. */
    size_t M = (size_t)q.p.tile * d->oh * d->ow;
    q.g16 = up16(gemm_bf16_packed_a_words(d->c_out, (int)M));
    q.d16 = up16(words_of_bf16(M * (size_t)((d->c_out + 1) & ~1)));
    q.slot = q.colp + q.dcol + q.g16 + q.d16;
    return q;
}

static int use_taps16(const Conv2dDims *d);
static size_t taps16_scratch_floats(const Conv2dDims *d, size_t cap, int threads);
static void taps16_forward(float *out, Src16 in, const float *w, const Conv2dDims *d, const ConvScratch *s);
static void taps16_backward(float *din, int din_accumulate, float *dw, const float *dout, const uint16_t *dout16,
                            int ld16, Src16 in, const float *w, const Conv2dDims *d, const ConvScratch *s);

/* bf16 goes by Winograd where fp32 does (and taps do not take it first). */
static int use_winograd16(const Conv2dDims *d) { return use_winograd(d) && !use_taps(d) && !use_taps16(d); }

int conv2d_bf16_by_winograd(const Conv2dDims *d) { return use_winograd16(d); }

int conv2d_bf16_takes_in16(const Conv2dDims *d, const ConvScratch *s)
{
    (void)d;
    return s->bf16;
}

void conv2d_forward_in16(float *out, const uint16_t *in16, const float *w, const Conv2dDims *d, const ConvScratch *s)
{
    FASTC_ASSERT(conv2d_bf16_takes_in16(d, s));
    Src16 in = {NULL, in16};
    forward_bf16(out, NULL, 0, in, w, d, s);
}

int conv2d_bf16_gives_out16(const Conv2dDims *d, const ConvScratch *s)
{
    (void)d;
    return s->bf16;
}

void conv2d_forward_out16(uint16_t *out16, int ld16, float *acc, const float *in, const uint16_t *in16, const float *w,
                          const Conv2dDims *d, const ConvScratch *s)
{
    FASTC_ASSERT(conv2d_bf16_gives_out16(d, s) && (in16 ? conv2d_bf16_takes_in16(d, s) : in != NULL));
    FASTC_ASSERT(out16 && acc && ld16 >= d->c_out);
    Src16 x = {in16 ? NULL : in, in16};
    forward_bf16(acc, out16, ld16, x, w, d, s);
}

void conv2d_backward_in16(float *din, int din_accumulate, float *dw, const float *dout, const uint16_t *in16,
                          const float *w, const Conv2dDims *d, const ConvScratch *s)
{
    FASTC_ASSERT(conv2d_bf16_takes_in16(d, s));
    Src16 in = {NULL, in16};
    backward_bf16(din, din_accumulate, dw, dout, NULL, 0, in, w, d, s);
}

int conv2d_bf16_takes_dout16(const Conv2dDims *d, const ConvScratch *s)
{
    return conv2d_bf16_takes_in16(d, s) && !(d->c_out & 1);
}

void conv2d_backward_dout16(float *din, int din_accumulate, float *dw, const uint16_t *dout16, int ld16,
                            const float *in, const uint16_t *in16, const float *w, const Conv2dDims *d,
                            const ConvScratch *s)
{
    FASTC_ASSERT(conv2d_bf16_takes_dout16(d, s) && ld16 >= d->c_out && (in16 || !dw || in));
    Src16 x = {in16 ? NULL : in, in16};
    backward_bf16(din, din_accumulate, dw, NULL, dout16, ld16, x, w, d, s);
}

size_t conv2d_scratch_floats_bf16(const Conv2dDims *d, size_t cap, int threads)
{
    Plan16 q = plan16(d, cap);
    size_t f = q.wp + q.slot, ft = use_taps16(d) ? taps16_scratch_floats(d, cap, threads) : 0;
    if (use_winograd16(d) && winograd_scratch_floats_bf16(d, threads) > ft) ft = winograd_scratch_floats_bf16(d, threads);
    if (q.p.par) {
        if (threads < 1) threads = 1;
        if (threads > q.p.ntiles) threads = q.p.ntiles;
        f = q.wp + (size_t)threads * q.slot + (size_t)(q.p.groups - 1) * q.p.nw;
    }
    if (conv_stem16_forward_applies(d) && conv_stem16_scratch_floats(d, threads) > ft)
        ft = conv_stem16_scratch_floats(d, threads);
    /* by taps; the columns' size too, so ConvScratch.bf16_columns can run on it */
    return ft > f ? ft : f;
}

static int par_threads16(const Plan16 *q, const ConvScratch *s, int extra_parts)
{
    size_t fixed = q->wp + (extra_parts ? (size_t)(q->p.groups - 1) * q->p.nw : 0);
    size_t slots = s->floats > fixed ? (s->floats - fixed) / q->slot : 0;
    int t = omp_get_max_threads();
    if ((size_t)t > slots) t = (int)slots;
    if (t > q->p.ntiles) t = q->p.ntiles;
    FASTC_ASSERT(t >= 1);
    return t;
}

/* Slot k of the scratch (64-byte aligned: the scratch is, and every region is a multiple of 16 floats). */
static float *slot16(const Plan16 *q, const ConvScratch *s, int k) { return s->buf + q->wp + (size_t)k * q->slot; }

/* out16 (NULL: none): the output stored there as bf16 (rows ld16 apart), out
 * then its fp32 scratch (conv2d_forward_out16): by the GEMM's last k block on
 * the columns paths, by Winograd's output transform, after the fp32 rows by taps. */
static void forward_bf16(float *out, uint16_t *out16, int ld16, Src16 in, const float *w, const Conv2dDims *d,
                         const ConvScratch *s)
{
    if (!s->bf16_columns && use_taps16(d)) {
        taps16_forward(out, in, w, d, s);
        if (out16) {   /* (small maps: one pass over out, the fp32 scratch, rounding each row) */
            const long rows = (long)d->n * d->oh * d->ow;
            #pragma omp parallel for schedule(static)
            for (long r = 0; r < rows; r++)
                bf16_convert(out16 + (size_t)r * ld16, out + (size_t)r * d->c_out, (size_t)d->c_out);
        }
        return;
    }
    if (!s->bf16_columns && use_winograd16(d)) {
        winograd_conv_bf16(out16 ? NULL : out, out16, ld16, 0, in.f, in.h, d->c_in, w, d, 0, s->buf, s->floats);
        return;
    }
    if (s->bf16_columns < 2 && conv_stem16_forward_applies(d)) {
        conv_stem16_forward(out, out16, ld16, in.f, in.h, w, d, s->buf, s->floats);
        return;
    }
    Plan16 q = plan16(d, s->tile_cap);
    FASTC_ASSERT(s->floats >= q.wp + q.slot);
    const size_t in_img = (size_t)d->h * d->w * d->c_in, out_img = (size_t)d->oh * d->ow * d->c_out;
    const int direct = cols_in_place(d, in);
    uint32_t *wp = (uint32_t *)s->buf;
    /* out[M, c_out] = col[M, K] · Wᵀ: B = Wᵀ, given as the weight W [c_out][K] */
    gemm_bf16_pack_b(wp, 1, q.K, d->c_out, w, q.K);
    if (q.p.par) {
        int nth = par_threads16(&q, s, 0);
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
        for (int ti = 0; ti < q.p.ntiles; ti++) {
            int i0 = ti * q.p.tile, t = d->n - i0 < q.p.tile ? d->n - i0 : q.p.tile;
            uint16_t *col = (uint16_t *)(slot16(&q, s, omp_get_thread_num()) + q.colp);
            const uint16_t *a = direct ? in.h + i0 * in_img : col;
            float *o = out + i0 * out_img;
            if (!direct) im2col16_rows(col, q.ld, src16_at(in, i0 * in_img), d, 0, t * d->oh);
            if (out16)
                gemm_bf16_c16(t * d->oh * d->ow, d->c_out, q.K, a, q.ld, wp, o, d->c_out,
                              out16 + (size_t)i0 * d->oh * d->ow * ld16, ld16);
            else gemm_bf16(t * d->oh * d->ow, d->c_out, q.K, a, q.ld, wp, 0, o, d->c_out);
        }
        return;
    }
    uint16_t *col = (uint16_t *)(slot16(&q, s, 0) + q.colp);
    for (int i0 = 0; i0 < d->n; i0 += q.p.tile) {
        int t = d->n - i0 < q.p.tile ? d->n - i0 : q.p.tile;
        const uint16_t *a = direct ? in.h + i0 * in_img : col;
        float *o = out + i0 * out_img;
        if (!direct) {
            /* each block of output rows gathered, then multiplied by the thread that
             * gathered it, with no barrier between (row by row, the same chains) */
            const int rows = t * d->oh, ow = d->ow;
            int nb = 2 * omp_get_max_threads() < rows ? 2 * omp_get_max_threads() : rows;
            #pragma omp parallel for schedule(dynamic, 1)
            for (int b = 0; b < nb; b++) {
                int r0 = (int)((long)rows * b / nb), r1 = (int)((long)rows * (b + 1) / nb);
                size_t m0 = (size_t)r0 * ow;
                im2col16_rows(col, q.ld, src16_at(in, i0 * in_img), d, r0, r1);
                if (out16)
                    gemm_bf16_c16((r1 - r0) * ow, d->c_out, q.K, col + m0 * q.ld, q.ld, wp, o + m0 * d->c_out,
                                  d->c_out, out16 + ((size_t)i0 * d->oh * ow + m0) * ld16, ld16);
                else
                    gemm_bf16((r1 - r0) * ow, d->c_out, q.K, col + m0 * q.ld, q.ld, wp, 0, o + m0 * d->c_out,
                              d->c_out);
            }
            continue;
        }
        if (out16)
            nn_gemm_bf16_c16(t * d->oh * d->ow, d->c_out, q.K, a, q.ld, wp, o, d->c_out,
                             out16 + (size_t)i0 * d->oh * d->ow * ld16, ld16);
        else nn_gemm_bf16(t * d->oh * d->ow, d->c_out, q.K, a, q.ld, wp, 0, o, d->c_out);
    }
}

/* Whether the weight gradient's B goes panel by panel straight from the input
 * (pack_panel16): c_in a multiple of 64, so that a panel is one tap's block of 64
 * channels. */
static int panels16(const Conv2dDims *d, Src16 in) { return d->c_in % GEMM_BF16_NR == 0 && !cols_in_place(d, in); }

/* dst[n] = lo[n] | hi[n] << 16, n < count: the 32-bit pair words of two bf16
 * rows, as the bf16 GEMM reads a pair (gemm_bf16.h); a NULL row reads zeros. */
static void pair_words(uint32_t *dst, const uint16_t *lo, const uint16_t *hi, int count)
{
    if (lo && hi)
        for (int n = 0; n < count; n++) dst[n] = lo[n] | (uint32_t)hi[n] << 16;
    else if (lo)
        for (int n = 0; n < count; n++) dst[n] = lo[n];
    else if (hi)
        for (int n = 0; n < count; n++) dst[n] = (uint32_t)hi[n] << 16;
    else
        memset(dst, 0, sizeof(uint32_t) * (size_t)count);
}

/* Panel j of the tile's columns packed as the weight gradient's B (K = the t·oh·ow
 * rows m of the tile, N = the 64 columns k = 64j ..): word[p][n] = col[2p][64j + n]
 * | col[2p+1][64j + n] << 16 (a missing row 2p+1 zero), the words gemm_bf16_pack_b16
 * writes from the columns, gathered from the input itself: row m = (i, oy, ox) reads
 * at tap (ky, kx) the pixel (oy·s − p + ky, ox·s − p + kx) (zeros outside), channels
 * c0 .. c0+63.  ceil(M/2)·64 words, made right before the product that reads them
 * (in the core's cache), where the whole tile's columns were written and packed. */
static void pack_panel16(uint32_t *Bj, Src16 in_t, const Conv2dDims *d, int t, int j)
{
    const int C = d->c_in, blocks = C / GEMM_BF16_NR, tap = j / blocks, c0 = j % blocks * GEMM_BF16_NR;
    const int ky = tap / d->kw, kx = tap % d->kw, M = t * d->oh * d->ow;
    uint16_t cv[2][GEMM_BF16_NR];
    const uint16_t *r[2];
    int i = 0, oy = 0, ox = 0;   /* row m's position, walked along */
    for (int m = 0; m < M + (M & 1); m++) {
        int e = m & 1, iy = oy * d->stride - d->pad + ky, ix = ox * d->stride - d->pad + kx;
        r[e] = NULL;   /* zeros */
        if (m < M && iy >= 0 && iy < d->h && ix >= 0 && ix < d->w) {
            size_t off = (((size_t)i * d->h + iy) * d->w + ix) * C + c0;
            if (in_t.h) r[e] = in_t.h + off;
            else bf16_convert(cv[e], in_t.f + off, GEMM_BF16_NR), r[e] = cv[e];
        }
        if (++ox == d->ow) {
            ox = 0;
            if (++oy == d->oh) oy = 0, i++;
        }
        if (e) pair_words(Bj + (size_t)(m / 2) * GEMM_BF16_NR, r[0], r[1], GEMM_BF16_NR);
    }
}

/* The first tap (ky ascending) whose output row reads input row iy (the same for
 * columns with kx, ix, w, ow), or −1 when none does. */
static int first_tap(int iy, int k, int s, int pad, int on)
{
    for (int ky = 0; ky < k; ky++) {
        int ty = iy + pad - ky;
        if (ty >= 0 && ty % s == 0 && ty / s < on) return ky;
    }
    return -1;
}

/* din rows of images [i0, i1) of a tile, col2im(dout · W) without the fp32
 * columns of the whole tile: the product one B panel (64 columns k of W [c_out][K])
 * at a time, prod[m][k − k0] = dout[m] · W[:, k] (the columns' chain over c_out
 * from zero, whatever the panel: gemm_bf16.h), added at once into the pixel its
 * tap reads (k = tap·c_in + ci):
 *     din[i, oy·s − p + ky, ox·s − p + kx, ci] += prod[(i, oy, ox)][k]
 * col2im adds each din element's products in ascending tap order (ky, then kx);
 * the panels go so that every channel meets its taps in that order: by blocks of
 * 64 channels, each block's taps ascending (c_in a multiple of 64: one panel is
 * one tap's block), or simply by ascending k.  The same adds in the same order:
 * the columns path's bits, with a product of 64 columns in the core's cache
 * instead of fp32 columns [M][K] written out and read back.  prod: rows·min(K, 64)
 * floats. */
static void din16_rows(float *din_t, int accumulate, float *prod, const uint16_t *dg, int lg, const uint32_t *wp,
                       const Conv2dDims *d, int i0, int i1)
{
    const int C = d->c_in, K = d->kh * d->kw * C, KPc = (d->c_out + 1) / 2, ohw = d->oh * d->ow;
    const int M = (i1 - i0) * ohw, np = (K + GEMM_BF16_NR - 1) / GEMM_BF16_NR, ntap = d->kh * d->kw;
    const int blocks = C % GEMM_BF16_NR ? 0 : C / GEMM_BF16_NR;   /* 0: by ascending k */
    const size_t in_img = (size_t)d->h * d->w * C;
    float *din = din_t + (size_t)i0 * in_img;
    const uint16_t *a = dg + (size_t)i0 * ohw * lg;
    if (!accumulate)   /* the pixels no tap reads stay +0; every other one is written by its first tap */
        for (int i = 0; i < i1 - i0; i++)
            for (int iy = 0; iy < d->h; iy++) {
                float *drow = din + ((size_t)i * d->h + iy) * d->w * C;
                if (first_tap(iy, d->kh, d->stride, d->pad, d->oh) < 0) {
                    memset(drow, 0, sizeof(float) * d->w * C);
                    continue;
                }
                for (int ix = 0; ix < d->w; ix++)
                    if (first_tap(ix, d->kw, d->stride, d->pad, d->ow) < 0)
                        memset(drow + (size_t)ix * C, 0, sizeof(float) * C);
            }
    for (int u = 0; u < np; u++) {
        int j = blocks ? u % ntap * blocks + u / ntap : u;
        int k0 = j * GEMM_BF16_NR, nr = K - k0 < GEMM_BF16_NR ? K - k0 : GEMM_BF16_NR;
        const uint32_t *bj = wp + (size_t)j * KPc * GEMM_BF16_NR;
        /* only the output rows whose input row exists at the panel's kernel rows (a panel
         * within one tap: the same rows of every image; the others' products unused) */
        int ky0 = k0 / C / d->kw, ky1 = (k0 + nr - 1) / C / d->kw, oy0 = d->oh, oy1 = -1;
        for (int ky = ky0; ky <= ky1; ky++)
            for (int oy = 0; oy < d->oh; oy++) {
                int iy = oy * d->stride - d->pad + ky;
                if (iy >= 0 && iy < d->h) oy0 = oy < oy0 ? oy : oy0, oy1 = oy > oy1 ? oy : oy1;
            }
        if (oy1 < oy0) continue;
        if (oy0 == 0 && oy1 == d->oh - 1)
            gemm_bf16_sub(M, nr, d->c_out, a, lg, bj, KPc, 0, prod, nr);
        else
            for (int i = 0; i < i1 - i0; i++) {
                size_t m0 = (size_t)i * ohw + (size_t)oy0 * d->ow;
                gemm_bf16_sub((oy1 - oy0 + 1) * d->ow, nr, d->c_out, a + m0 * lg, lg, bj, KPc, 0, prod + m0 * nr, nr);
            }
        for (int k = k0; k < k0 + nr;) {   /* the panel's segments of one tap each */
            int tap = k / C, c0 = k % C, len = C - c0 < k0 + nr - k ? C - c0 : k0 + nr - k;
            int ky = tap / d->kw, kx = tap % d->kw;
            for (int i = 0; i < i1 - i0; i++)
                for (int oy = 0; oy < d->oh; oy++) {
                    int iy = oy * d->stride - d->pad + ky;
                    if (iy < 0 || iy >= d->h) continue;
                    int first_y = !accumulate && first_tap(iy, d->kh, d->stride, d->pad, d->oh) == ky;
                    float *drow = din + ((size_t)i * d->h + iy) * d->w * C + c0;
                    const float *prow = prod + ((size_t)i * ohw + (size_t)oy * d->ow) * nr + (k - k0);
                    for (int ox = 0; ox < d->ow; ox++) {
                        int ix = ox * d->stride - d->pad + kx;
                        if (ix < 0 || ix >= d->w) continue;
                        float *dp = drow + (size_t)ix * C;
                        const float *pp = prow + (size_t)ox * nr;
                        /* the first add of an overwritten din is +0 + p (as col2im after its
                         * clearing: a −0 product gives +0) */
                        if (first_y && first_tap(ix, d->kw, d->stride, d->pad, d->ow) == kx)
                            for (int c = 0; c < len; c++) dp[c] = 0.0f + pp[c];
                        else
                            for (int c = 0; c < len; c++) dp[c] += pp[c];
                    }
                }
            k += len;
        }
    }
}

/* One tile of the backward: dW_g (+)= dout_tᵀ · col_t (chain continued from
 * dw_beta ? dwg : 0), din_t (+)= col2im(dout_t · W).  dout16_t (NULL: dout_t
 * rounded here): dout_t already as bf16 rows (even c_out).  rows_par: split the
 * copies over the threads (the sequential big path). */
static void backward_tile16(const Plan16 *q, float *sl, const uint32_t *wp, float *din_t, int din_accumulate,
                            float *dwg, int dw_beta, const float *dout_t, const uint16_t *dout16_t, int ld16,
                            Src16 in_t, const Conv2dDims *d, int t, int par)
{
    const int M = t * d->oh * d->ow;
    int lg = (d->c_out + 1) & ~1;   /* the bf16 rows' stride */
    uint32_t *colp = (uint32_t *)sl, *ap = (uint32_t *)(sl + q->colp + q->dcol);
    float *dcol = sl + q->colp;
    uint16_t *col = (uint16_t *)dcol, *d16 = (uint16_t *)(sl + q->colp + q->dcol + q->g16);
    const uint16_t *dg = d16;   /* dout's bf16 rows: rounded into d16 here, or given */
    if (dout16_t) {
        /* given: read in place (rows ld16 apart) by the pack and the din
         * product; a copy into the slot first cost a pass over the rows
         * (resnet50 128 px: 2% of the step) and saved less */
        FASTC_ASSERT(lg == d->c_out);
        dg = dout16_t, lg = ld16;
    } else if (din_t) {   /* dout rounded once, for din's A and dW's (the big path: over the threads) */
        int nb = par ? (M < 64 ? 1 : 64) : 1;
        #pragma omp parallel for schedule(static) if (par)
        for (int b = 0; b < nb; b++) {
            int r0 = (int)((long)M * b / nb), r1 = (int)((long)M * (b + 1) / nb);
            bf16_convert_rows(d16 + (size_t)r0 * lg, lg, dout_t + (size_t)r0 * d->c_out, d->c_out, r1 - r0, d->c_out);
        }
    }
    const int np = panels16(d, in_t) && dwg && !conv2d_is_pointwise(d) ? q->K / GEMM_BF16_NR : 0;   /* dW panels */
    if (np) {
        /* dW[:, panel j] (+)= doutᵀ · B_j, B_j packed from the input right before (pack_panel16):
         * each element's chain over the tile's rows as the whole product's */
        if (din_t || dout16_t) gemm_bf16_pack_at16(ap, d->c_out, M, dg, lg);
        else gemm_bf16_pack_at(ap, d->c_out, M, dout_t, d->c_out);
    }
    if (np && par) {
        /* the big path: the panels and the din row runs in one region, each thread with
         * its panel buffer (column region) and its din products (fp32 column region) */
        const int nr = q->K < GEMM_BF16_NR ? q->K : GEMM_BF16_NR, ohw = d->oh * d->ow;
        const size_t pw = (size_t)(M + 1) / 2 * GEMM_BF16_NR;
        int nth = omp_get_max_threads();
        while (nth > 1 && (size_t)nth * pw > q->colp) nth--;
        int nu = !din_t ? 0 : nth < t ? nth : t;
        while (nu > 1 && (size_t)nu * ((t + nu - 1) / nu) * ohw * nr > q->dcol) nu--;
        const size_t pr = nu ? (size_t)((t + nu - 1) / nu) * ohw * nr : 0;
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
        for (int u = 0; u < np + nu; u++) {
            int k = omp_get_thread_num();
            if (u < np) {
                uint32_t *bj = colp + (size_t)k * pw;
                pack_panel16(bj, in_t, d, t, u);
                gemm_bf16_pa(d->c_out, GEMM_BF16_NR, M, ap, bj, dw_beta, dwg + (size_t)u * GEMM_BF16_NR, q->K);
            } else {
                int v = u - np;   /* unit v's products in its own part (nu·pr fit; a thread number might not) */
                din16_rows(din_t, din_accumulate, dcol + (size_t)v * pr, dg, lg, wp, d, (int)((long)t * v / nu),
                           (int)((long)t * (v + 1) / nu));
            }
        }
        return;
    }
    if (np) {
        for (int j = 0; j < np; j++) {
            pack_panel16(colp, in_t, d, t, j);
            gemm_bf16_pa(d->c_out, GEMM_BF16_NR, M, ap, colp, dw_beta, dwg + (size_t)j * GEMM_BF16_NR, q->K);
        }
    } else if (dwg) {
        const uint16_t *cols = col;
        if (cols_in_place(d, in_t)) cols = in_t.h;
        else if (par) im2col16(col, q->ld, in_t, d, t);
        else im2col16_rows(col, q->ld, in_t, d, 0, t * d->oh);
        /* dW[c_out, K] (+)= doutᵀ[c_out, M] · col[M, K]: A = doutᵀ packed from the rows of
         * dout as they lie (no transpose), B = col packed */
        gemm_bf16_pack_b16(colp, M, q->K, cols, q->ld);
        if (din_t || dout16_t) gemm_bf16_pack_at16(ap, d->c_out, M, dg, lg);
        else gemm_bf16_pack_at(ap, d->c_out, M, dout_t, d->c_out);
        if (par) nn_gemm_bf16_pa(d->c_out, q->K, M, ap, colp, dw_beta, dwg, q->K);
        else gemm_bf16_pa(d->c_out, q->K, M, ap, colp, dw_beta, dwg, q->K);
    }
    if (din_t) {
        /* dcol[M, K] = dout[M, c_out] · W[c_out, K], then scattered back */
        if (conv2d_is_pointwise(d) && !din_accumulate) {
            /* 1x1 stride 1: the columns' gradient is din itself (col2im would copy it; the
             * same numbers, but for the sign of a zero sum flushed by the chain) */
            if (par) nn_gemm_bf16(M, q->K, d->c_out, dg, lg, wp, 0, din_t, q->K);
            else gemm_bf16(M, q->K, d->c_out, dg, lg, wp, 0, din_t, q->K);
        } else if (par) {
            /* the big path: the tile's images in one run of rows per thread (each
             * thread's panels of W then serve all its rows), products in the
             * column region, rows·min(K, 64) floats per run */
            const int nr = q->K < GEMM_BF16_NR ? q->K : GEMM_BF16_NR, ohw = d->oh * d->ow;
            int nu = omp_get_max_threads() < t ? omp_get_max_threads() : t;
            while (nu > 1 && (size_t)nu * ((t + nu - 1) / nu) * ohw * nr > q->dcol) nu--;
            const size_t pr = (size_t)((t + nu - 1) / nu) * ohw * nr;
            #pragma omp parallel for schedule(static) num_threads(nu)
            for (int u = 0; u < nu; u++)
                din16_rows(din_t, din_accumulate, dcol + (size_t)u * pr, dg, lg, wp, d,
                           (int)((long)t * u / nu), (int)((long)t * (u + 1) / nu));
        } else {
            /* one image at a time: its din stays in the core's cache over the taps */
            for (int i = 0; i < t; i++) din16_rows(din_t, din_accumulate, dcol, dg, lg, wp, d, i, i + 1);
        }
    }
}

static void backward_bf16(float *din, int din_accumulate, float *dw, const float *dout, const uint16_t *dout16,
                          int ld16, Src16 in, const float *w, const Conv2dDims *d, const ConvScratch *s)
{
    if (!s->bf16_columns && use_taps16(d)) {
        taps16_backward(din, din_accumulate, dw, dout, dout16, ld16, in, w, d, s);
        return;
    }
    if (!s->bf16_columns && use_winograd16(d)) {
        if (dw) winograd_weight_grad_bf16(dw, dout, dout16, ld16, in.f, in.h, d, s->buf);
        if (din) winograd_conv_bf16(din, NULL, 0, din_accumulate, dout, dout16, ld16, w, d, 1, s->buf, s->floats);
        return;
    }
    Plan16 q = plan16(d, s->tile_cap);
    if (dw && s->bf16_columns < 2 && conv_stem16_dw_applies(d)) {
        /* the weight gradient without the columns, in the plan's groups of tiles */
        int img[CONV_GROUPS + 1];
        for (int g = 0; g <= q.p.groups; g++) {
            long i = (long)q.p.ntiles * g / q.p.groups * q.p.tile;
            img[g] = i < d->n ? (int)i : d->n;
        }
        conv_stem16_dw(dw, dout, dout16, ld16, in.f, in.h, d, q.p.groups, img, s->buf, s->floats);
        dw = NULL;
        if (!din) return;
    }
    FASTC_ASSERT(s->floats >= q.wp + q.slot);
    const size_t in_img = (size_t)d->h * d->w * d->c_in, out_img = (size_t)d->oh * d->ow * d->c_out;
    uint32_t *wp = (uint32_t *)s->buf;
    /* din's B = W [c_out][K] as rows (k = output channel) */
    if (din) gemm_bf16_pack_b(wp, 0, d->c_out, q.K, w, q.K);
    if (q.p.par) {
        int nth = par_threads16(&q, s, dw != NULL);
        float *parts = s->buf + (s->floats - (size_t)(q.p.groups - 1) * q.p.nw);
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
        for (int g = 0; g < q.p.groups; g++) {
            float *sl = slot16(&q, s, omp_get_thread_num());
            float *dwg = !dw ? NULL : g ? parts + (size_t)(g - 1) * q.p.nw : dw;
            int t0 = (int)((long)q.p.ntiles * g / q.p.groups), t1 = (int)((long)q.p.ntiles * (g + 1) / q.p.groups);
            for (int ti = t0; ti < t1; ti++) {
                int i0 = ti * q.p.tile, t = d->n - i0 < q.p.tile ? d->n - i0 : q.p.tile;
                backward_tile16(&q, sl, wp, din ? din + i0 * in_img : NULL, din_accumulate, dwg, !(g && ti == t0),
                                dout ? dout + i0 * out_img : NULL,
                                dout16 ? dout16 + (size_t)i0 * d->oh * d->ow * ld16 : NULL, ld16,
                                src16_at(in, i0 * in_img), d, t, 0);
            }
        }
        if (dw && q.p.groups > 1) {
            #pragma omp parallel for schedule(static)
            for (size_t j = 0; j < q.p.nw; j++) {
                float v = dw[j];
                for (int g = 1; g < q.p.groups; g++) v += parts[(size_t)(g - 1) * q.p.nw + j];
                dw[j] = v;
            }
        }
        return;
    }
    for (int i0 = 0; i0 < d->n; i0 += q.p.tile) {
        int t = d->n - i0 < q.p.tile ? d->n - i0 : q.p.tile;
        backward_tile16(&q, slot16(&q, s, 0), wp, din ? din + i0 * in_img : NULL, din_accumulate, dw, 1,
                        dout ? dout + i0 * out_img : NULL,
                        dout16 ? dout16 + (size_t)i0 * d->oh * d->ow * ld16 : NULL, ld16,
                        src16_at(in, i0 * in_img), d, t, 1);
    }
}

/* ---- bf16 by taps (small maps) ------------------------------------------------ */

/* Taken when at most this share of the kernel's products reads the input
 * (2x2 maps 0.44, 4x4 0.69; 7x7 0.82 and 8x8 0.84 stay with columns). */
#define TAPS16_MAX_USED 0.75

int conv2d_bf16_by_taps(const Conv2dDims *d) { return use_taps16(d); }

static int use_taps16(const Conv2dDims *d)
{
    if (conv2d_is_pointwise(d) || d->c_in % GEMM_BF16_NR) return 0;
    return (double)conv_taps_used(d) <= TAPS16_MAX_USED * (double)conv_taps_full(d);
}

/* Regions of the scratch, in floats (each a multiple of 16, so 64-byte aligned):
 *   wp (plan16's) | in16: bf16 input | d16: bf16 dout rows [M][lg] (din's A; dW's A is
 *   packed from them per tap) | parts (plan16's groups) |
 *   one slot per thread, for the unit it runs: a weight-gradient unit's A_tap
 *   (doutᵀ's rows of the tap as pair rows: ≤ kmax/2 x ldp), B_tap packed and the rows of each pair (ints), or a din
 *   unit's product of one position and tap, fp32 [images of the unit][one panel of channels].
 * (The din products were fp32 columns [M][K] of the whole batch: 18.9 MB on
 * resnet18's 4x4 maps at 128 px, batch 64, which made the bf16 scratch larger
 * than fp32's; one position's block is 0.2 MB there.) */
typedef struct Taps16 {
    Plan16 q;
    int ohw, M, lg, kmax, ldp, din_rows, din_units;
    size_t in16, d16, parts, slot_a, slot_b, slot_l, slot_din, slot, fixed;
} Taps16;

/* The din pass's units: images [k·din_rows, (k+1)·din_rows) x one panel of
 * GEMM_BF16_NR input channels.  A unit holds all the positions of its images,
 * so each din element is summed by one unit in the columns' order; which images
 * and channels a unit takes changes no number.  The images of a unit are the
 * rows of its GEMMs: at most TAPS16_DIN_ROWS, a multiple of the microkernel's
 * rows (64 images in 6-row tiles: 11 tiles, 32 took 6 each), fewer when that
 * leaves under 8 units for the threads (c_in 64 or 256), not under 12. */
#define TAPS16_DIN_ROWS 96
static int taps16_din_rows_per_unit(const Conv2dDims *d)
{
    const int panels = d->c_in / GEMM_BF16_NR;
    int nck = (d->n + TAPS16_DIN_ROWS - 1) / TAPS16_DIN_ROWS;
    while (nck * panels < 8 && d->n / (nck + 1) >= 12) nck++;
    int r = (d->n + nck - 1) / nck;
    return (r + GEMM_BF16_MR - 1) / GEMM_BF16_MR * GEMM_BF16_MR;
}

static Taps16 taps16_plan(const Conv2dDims *d, size_t cap)
{
    Taps16 t;
    memset(&t, 0, sizeof t);
    t.q = plan16(d, cap);
    t.ohw = d->oh * d->ow;
    t.M = d->n * t.ohw;
    t.lg = (d->c_out + 1) & ~1;
    t.kmax = (t.M + t.q.p.ntiles + 2) & ~1;   /* rows of a group, each tile's odd row paired with a zero */
    t.in16 = up16(words_of_bf16((size_t)d->n * d->h * d->w * d->c_in));
    t.d16 = up16(words_of_bf16((size_t)t.M * t.lg));
    t.din_rows = taps16_din_rows_per_unit(d);
    t.din_units = (d->n + t.din_rows - 1) / t.din_rows * (d->c_in / GEMM_BF16_NR);
    t.parts = up16((size_t)(t.q.p.groups - 1) * t.q.p.nw);
    t.ldp = (int)up16((size_t)d->c_out) + 16;   /* pair rows not 2^k bytes apart: spread over L1 sets */
    t.slot_a = up16((size_t)t.kmax / 2 * t.ldp);
    t.slot_b = up16(gemm_bf16_packed_words(t.kmax, d->c_in));
    t.slot_l = up16((size_t)t.kmax);
    t.slot_din = up16((size_t)t.din_rows * GEMM_BF16_NR);
    t.slot = t.slot_a + t.slot_b + t.slot_l;
    if (t.slot_din > t.slot) t.slot = t.slot_din;
    t.fixed = t.q.wp + t.in16 + t.d16 + t.parts;
    return t;
}

/* The forward's units: one output position x a block of panels of output
 * channels, the whole batch the GEMM's rows (64 images: 11 row tiles, where
 * 32-image units took 6 each, and each B slice serves them all); a position's
 * outputs split in up to TAPS16_FWD_UNITS / positions blocks so that even a 1x1
 * map gives the threads units.  Which unit computes an output changes no number. */
#define TAPS16_FWD_UNITS 8
static int taps16_fwd_blocks(const Conv2dDims *d)
{
    int panels = (d->c_out + GEMM_BF16_NR - 1) / GEMM_BF16_NR, ohw = d->oh * d->ow;
    int nb = (TAPS16_FWD_UNITS + ohw - 1) / ohw;
    return nb < panels ? nb : panels;
}

/* Unit u (position p, panels [j0, j1)):
 *   out[:, oy, ox, j0·NR .. j1·NR−1] (+)= in16[:, iy, ix0 .. ix0+nx−1, :] · Wᵀ_seg   per kernel row ky,
 * the chain continued through out from one kernel row to the next (beta). */
static void taps16_forward_unit(float *out, const uint16_t *in16, const uint32_t *wp, const Conv2dDims *d, int u)
{
    const int K = d->kh * d->kw * d->c_in, KP = K / 2, nb = taps16_fwd_blocks(d);
    const int panels = (d->c_out + GEMM_BF16_NR - 1) / GEMM_BF16_NR, p = u / nb, b = u % nb;
    const int j0 = (int)((long)panels * b / nb), j1 = (int)((long)panels * (b + 1) / nb);
    const int c0 = j0 * GEMM_BF16_NR, nc = (j1 * GEMM_BF16_NR < d->c_out ? j1 * GEMM_BF16_NR : d->c_out) - c0;
    const int ldi = d->h * d->w * d->c_in, ldo = d->oh * d->ow * d->c_out, oy = p / d->ow, ox = p % d->ow;
    int ky0, ky1, kx0, kx1;
    conv_taps_range(oy, d->stride, d->pad, d->kh, d->h, &ky0, &ky1);
    conv_taps_range(ox, d->stride, d->pad, d->kw, d->w, &kx0, &kx1);
    float *o = out + (size_t)p * d->c_out + c0;
    if (ky1 < ky0 || kx1 < kx0) {
        for (int i = 0; i < d->n; i++) memset(o + (size_t)i * ldo, 0, sizeof(float) * nc);
        return;
    }
    int len = (kx1 - kx0 + 1) * d->c_in;
    for (int ky = ky0; ky <= ky1; ky++) {
        size_t ko = ((size_t)ky * d->kw + kx0) * d->c_in;
        int iy = oy * d->stride - d->pad + ky, ix0 = ox * d->stride - d->pad + kx0;
        const uint16_t *a = in16 + ((size_t)iy * d->w + ix0) * d->c_in;
        gemm_bf16_sub(d->n, nc, len, a, ldi, wp + ((size_t)j0 * KP + ko / 2) * GEMM_BF16_NR, KP, ky > ky0, o, ldo);
    }
}

static void taps16_forward(float *out, Src16 in, const float *w, const Conv2dDims *d, const ConvScratch *s)
{
    Taps16 t = taps16_plan(d, s->tile_cap);
    FASTC_ASSERT(s->floats >= t.q.wp + t.in16);
    uint32_t *wp = (uint32_t *)s->buf;
    uint16_t *conv16 = (uint16_t *)(s->buf + t.q.wp);
    const uint16_t *in16 = in.h ? in.h : conv16;
    gemm_bf16_pack_b(wp, 1, t.q.K, d->c_out, w, t.q.K);
    if (!in.h) bf16_convert_par(conv16, in.f, (size_t)d->n * d->h * d->w * d->c_in);
    const int nu = t.ohw * taps16_fwd_blocks(d);
    #pragma omp parallel for schedule(dynamic, 1)
    for (int u = 0; u < nu; u++) taps16_forward_unit(out, in16, wp, d, u);
}

/* din unit u (images [i0, i1), channels [c0, c0 + NR)):
 *   prod[rows, NR] = d16[rows, oy, ox, :] · W_tap[:, c0 .. c0+NR−1]  (a chain over c_out from zero, as the columns')
 *   din[rows, iy, ix, c0 .. c0+NR−1] += prod
 * per tap and output position whose tap lies inside the input, into prod (the
 * thread's slot).  The columns path sums each din element's products in
 * col2im's order, its kernel taps (ky, kx) ascending, one position per tap
 * ((oy, ox) = ((iy + p − ky)/s, (ix + p − kx)/s)); walking the taps in that
 * order, the positions of a tap in any, adds the same products in the same
 * order: the same bits, without the whole unit's fp32 columns, and the tap's
 * panel of W stays in cache while its positions go by. */
static void taps16_din_unit(float *din, int accumulate, float *prod, const uint16_t *d16, const uint32_t *wp,
                            const Conv2dDims *d, const Taps16 *t, int u)
{
    const int KPc = (d->c_out + 1) / 2, panels = d->c_in / GEMM_BF16_NR, c0 = u % panels * GEMM_BF16_NR;
    const int i0 = u / panels * t->din_rows, m = d->n - i0 < t->din_rows ? d->n - i0 : t->din_rows;
    const int hw = d->h * d->w;
    const size_t in_img = (size_t)hw * d->c_in;
    din += (size_t)i0 * in_img + c0;
    if (!accumulate)
        for (int i = 0; i < m; i++)
            for (int q = 0; q < hw; q++)
                memset(din + (size_t)i * in_img + (size_t)q * d->c_in, 0, sizeof(float) * GEMM_BF16_NR);
    for (int ky = 0; ky < d->kh; ky++)
        for (int kx = 0; kx < d->kw; kx++) {
            size_t ko = ((size_t)ky * d->kw + kx) * d->c_in + c0;   /* a multiple of 64: a whole B panel */
            const uint32_t *b = wp + ko / GEMM_BF16_NR * KPc * GEMM_BF16_NR;
            for (int p = 0; p < t->ohw; p++) {
                int oy = p / d->ow, ox = p % d->ow;
                int iy = oy * d->stride - d->pad + ky, ix = ox * d->stride - d->pad + kx;
                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                gemm_bf16_sub(m, GEMM_BF16_NR, d->c_out, d16 + ((size_t)i0 * t->ohw + p) * t->lg, t->ohw * t->lg, b,
                              KPc, 0, prod, GEMM_BF16_NR);
                float *seg = din + ((size_t)iy * d->w + ix) * d->c_in;
                for (int i = 0; i < m; i++) {
                    float *dr = seg + (size_t)i * in_img;
                    const float *pr = prod + (size_t)i * GEMM_BF16_NR;
                    for (int j = 0; j < GEMM_BF16_NR; j++) dr[j] += pr[j];
                }
            }
        }
}

/* Whether row m (= (i·oh + oy)·ow + ox) reads an input pixel at tap (ky, kx); its offset in in16. */
static int tap_pixel(const Conv2dDims *d, int ohw, int m, int ky, int kx, size_t *off)
{
    int i = m / ohw, pos = m % ohw, oy = pos / d->ow, ox = pos % d->ow;
    int iy = oy * d->stride - d->pad + ky, ix = ox * d->stride - d->pad + kx;
    if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) return 0;
    *off = (((size_t)i * d->h + iy) * d->w + ix) * d->c_in;
    return 1;
}

/* Group g's weight gradient at tap (ky, kx): dW_g[:, tap, :] (+)= Σ_m dout[m]ᵀ in[m @ tap]
 * over the group's rows m in order, by the pairs of the columns path (rows 2p, 2p+1
 * of each tile), a pair kept when either row reads a pixel, the other then zero. */
static void taps16_dw(const Taps16 *t, float *sl, float *dwg, int beta, const uint16_t *d16, const uint16_t *in16,
                      const Conv2dDims *d, int g, int tap)
{
    const Plan *p = &t->q.p;
    const int ky = tap / d->kw, kx = tap % d->kw, K = t->q.K, C = d->c_in;
    uint32_t *Ap = (uint32_t *)sl;
    uint32_t *Bp = (uint32_t *)(sl + t->slot_a);
    int *rows = (int *)(sl + t->slot_a + t->slot_b);
    int t0 = (int)((long)p->ntiles * g / p->groups), t1 = (int)((long)p->ntiles * (g + 1) / p->groups), np = 0;
    size_t off;
    for (int ti = t0; ti < t1; ti++) {
        int i0 = ti * p->tile, nt = d->n - i0 < p->tile ? d->n - i0 : p->tile, base = i0 * t->ohw, Mt = nt * t->ohw;
        for (int r = 0; r < Mt; r += 2) {
            int a = tap_pixel(d, t->ohw, base + r, ky, kx, &off) ? base + r : -1;
            int b = r + 1 < Mt && tap_pixel(d, t->ohw, base + r + 1, ky, kx, &off) ? base + r + 1 : -1;
            if (a < 0 && b < 0) continue;
            rows[2 * np] = a, rows[2 * np + 1] = b, np++;
        }
    }
    float *c = dwg + (size_t)tap * C;
    if (np == 0) {
        if (!beta)
            for (int co = 0; co < d->c_out; co++) memset(c + (size_t)co * K, 0, sizeof(float) * C);
        return;
    }
    /* A_tap[co][k = pair rows] = doutᵀ as pair rows (gemm_bf16_pt): pair e's row
     * is the words d16[r0][co] | d16[r1][co] << 16, co < c_out, from the pair's two
     * rows of d16 as they lie (a missing row: zeros), ldp words apart */
    const int kt = 2 * np, ldp = t->ldp;
    for (int e = 0; e < np; e++)
        pair_words(Ap + (size_t)e * ldp, rows[2 * e] >= 0 ? d16 + (size_t)rows[2 * e] * t->lg : NULL,
                   rows[2 * e + 1] >= 0 ? d16 + (size_t)rows[2 * e + 1] * t->lg : NULL, d->c_out);
    /* B_tap[k = pair rows][n = ci] in the VNNI pair layout, panels of 64 channels */
    for (int e = 0; e < np; e++) {
        size_t oa = 0, ob = 0;
        int ha = rows[2 * e] >= 0 && tap_pixel(d, t->ohw, rows[2 * e], ky, kx, &oa);
        int hb = rows[2 * e + 1] >= 0 && tap_pixel(d, t->ohw, rows[2 * e + 1], ky, kx, &ob);
        for (int j = 0; j < C / GEMM_BF16_NR; j++)
            pair_words(Bp + ((size_t)j * np + e) * GEMM_BF16_NR, ha ? in16 + oa + j * GEMM_BF16_NR : NULL,
                       hb ? in16 + ob + j * GEMM_BF16_NR : NULL, GEMM_BF16_NR);
    }
    gemm_bf16_pt_far(d->c_out, C, kt, Ap, ldp, Bp, beta, c, K);
}

static size_t taps16_scratch_floats(const Conv2dDims *d, size_t cap, int threads)
{
    Taps16 t = taps16_plan(d, cap);
    return t.fixed + (size_t)(threads < 1 ? 1 : threads) * t.slot;
}

static void taps16_backward(float *din, int din_accumulate, float *dw, const float *dout, const uint16_t *dout16,
                            int ld16, Src16 in, const float *w, const Conv2dDims *d, const ConvScratch *s)
{
    Taps16 t = taps16_plan(d, s->tile_cap);
    FASTC_ASSERT(s->floats >= t.fixed + t.slot);
    const int K = t.q.K, ntap = d->kh * d->kw;
    uint32_t *wp = (uint32_t *)s->buf;
    uint16_t *conv16 = (uint16_t *)(s->buf + t.q.wp), *d16 = (uint16_t *)(s->buf + t.q.wp + t.in16);
    const uint16_t *in16 = in.h ? in.h : conv16;
    float *parts = s->buf + t.q.wp + t.in16 + t.d16, *slots = s->buf + t.fixed;
    /* dout as bf16 rows: din's A, and the rows each weight-gradient unit packs its A
     * from; given (even c_out: lg = c_out; copied when further apart) or rounded into d16 here */
    const uint16_t *dg = d16;
    if (dout16 && ld16 == t.lg) {
        dg = dout16;
    } else if (dout16) {
        FASTC_ASSERT(t.lg == d->c_out);
        #pragma omp parallel for schedule(static)
        for (int m = 0; m < t.M; m++)
            memcpy(d16 + (size_t)m * t.lg, dout16 + (size_t)m * ld16, sizeof(uint16_t) * t.lg);
    } else {
        #pragma omp parallel for schedule(static)
        for (int b = 0; b < 64; b++) {
            int r0 = (int)((long)t.M * b / 64), r1 = (int)((long)t.M * (b + 1) / 64);
            bf16_convert_rows(d16 + (size_t)r0 * t.lg, t.lg, dout + (size_t)r0 * d->c_out, d->c_out, r1 - r0,
                              d->c_out);
        }
    }
    /* din's B = W [c_out][K] as rows (k = output channel) */
    if (din) gemm_bf16_pack_b(wp, 0, d->c_out, K, w, K);
    if (dw && !in.h) bf16_convert_par(conv16, in.f, (size_t)d->n * d->h * d->w * d->c_in);
    int nuw = dw ? t.q.p.groups * ntap : 0, nc = din ? t.din_units : 0;
    size_t nslots = (s->floats - t.fixed) / t.slot;
    int nth = omp_get_max_threads() < (int)nslots ? omp_get_max_threads() : (int)nslots;
    /* the weight-gradient units (group, tap) and the din units (images, channels) write disjoint
     * memory; the equal din units go first, the taps (the last ones smaller: an edge row's taps
     * keep 3/4 of the pairs on 4x4 maps) last */
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
    for (int v = 0; v < nuw + nc; v++) {
        int u = v < nc ? nuw + v : v - nc;
        if (u < nuw) {
            int g = u / ntap;
            taps16_dw(&t, slots + (size_t)omp_get_thread_num() * t.slot, g ? parts + (size_t)(g - 1) * t.q.p.nw : dw,
                      g == 0, dg, in16, d, g, u % ntap);
        } else {
            taps16_din_unit(din, din_accumulate, slots + (size_t)omp_get_thread_num() * t.slot, dg, wp, d, &t,
                            u - nuw);
        }
    }
    if (dw && t.q.p.groups > 1) {
        #pragma omp parallel for schedule(static)
        for (size_t j = 0; j < t.q.p.nw; j++) {
            float v = dw[j];
            for (int g = 1; g < t.q.p.groups; g++) v += parts[(size_t)(g - 1) * t.q.p.nw + j];
            dw[j] = v;
        }
    }
}

/* ---- bf16 references: the same chains, plainly ------------------------------ */

void conv2d_forward_ref_bf16(float *out, const float *in, const float *w, const Conv2dDims *d)
{
    const int K = d->kh * d->kw * d->c_in, M = d->n * d->oh * d->ow;
    float *col = malloc(sizeof(float) * (size_t)M * K);
    FASTC_ASSERT(col);
    for (int r = 0; r < d->n * d->oh; r++) im2col_rows(col, in, d, r, r + 1);
    gemm_bf16_ref(0, 1, M, d->c_out, K, col, K, w, K, 0, out, d->c_out);
    free(col);
}

void conv2d_backward_ref_bf16(float *din, int din_accumulate, float *dw, const float *dout,
                              const float *in, const float *w, const Conv2dDims *d)
{
    const int K = d->kh * d->kw * d->c_in, M = d->n * d->oh * d->ow;
    float *col = malloc(sizeof(float) * (size_t)M * K);
    FASTC_ASSERT(col);
    if (dw) {
        for (int r = 0; r < d->n * d->oh; r++) im2col_rows(col, in, d, r, r + 1);
        gemm_bf16_ref(1, 0, d->c_out, K, M, dout, d->c_out, col, K, 1, dw, K);
    }
    if (din) {
        gemm_bf16_ref(0, 0, M, K, d->c_out, dout, d->c_out, w, K, 0, col, K);
        for (int r = 0; r < d->n * d->h; r++) col2im_rows(din, din_accumulate, col, d, r, r + 1);
    }
    free(col);
}

/* ---- reference: direct convolution in double ------------------------------ */

void conv2d_forward_ref(float *out, const float *in, const float *w, const Conv2dDims *d)
{
    for (int i = 0; i < d->n; i++)
        for (int oy = 0; oy < d->oh; oy++)
            for (int ox = 0; ox < d->ow; ox++)
                for (int co = 0; co < d->c_out; co++) {
                    double s = 0;
                    for (int ky = 0; ky < d->kh; ky++)
                        for (int kx = 0; kx < d->kw; kx++) {
                            int iy = oy * d->stride - d->pad + ky, ix = ox * d->stride - d->pad + kx;
                            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                            for (int ci = 0; ci < d->c_in; ci++)
                                s += (double)in[(((size_t)i * d->h + iy) * d->w + ix) * d->c_in + ci] *
                                     w[(((size_t)co * d->kh + ky) * d->kw + kx) * d->c_in + ci];
                        }
                    out[(((size_t)i * d->oh + oy) * d->ow + ox) * d->c_out + co] = (float)s;
                }
}

void conv2d_backward_ref(float *din, int din_accumulate, float *dw, const float *dout,
                         const float *in, const float *w, const Conv2dDims *d)
{
    size_t nin = (size_t)d->n * d->h * d->w * d->c_in;
    size_t nw = (size_t)d->c_out * d->kh * d->kw * d->c_in;
    if (din && !din_accumulate) memset(din, 0, nin * sizeof(float));
    for (size_t j = 0; dw && j < nw; j++) {
        int ci = (int)(j % d->c_in), kx = (int)(j / d->c_in % d->kw);
        int ky = (int)(j / d->c_in / d->kw % d->kh), co = (int)(j / d->c_in / d->kw / d->kh);
        double s = 0;
        for (int i = 0; i < d->n; i++)
            for (int oy = 0; oy < d->oh; oy++)
                for (int ox = 0; ox < d->ow; ox++) {
                    int iy = oy * d->stride - d->pad + ky, ix = ox * d->stride - d->pad + kx;
                    if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                    s += (double)dout[(((size_t)i * d->oh + oy) * d->ow + ox) * d->c_out + co] *
                         in[(((size_t)i * d->h + iy) * d->w + ix) * d->c_in + ci];
                }
        dw[j] += (float)s;
    }
    for (size_t j = 0; din && j < nin; j++) {
        int ci = (int)(j % d->c_in), ix = (int)(j / d->c_in % d->w);
        int iy = (int)(j / d->c_in / d->w % d->h), i = (int)(j / d->c_in / d->w / d->h);
        double s = 0;
        for (int ky = 0; ky < d->kh; ky++)
            for (int kx = 0; kx < d->kw; kx++) {
                int ty = iy + d->pad - ky, tx = ix + d->pad - kx;
                if (ty < 0 || tx < 0 || ty % d->stride || tx % d->stride) continue;
                int oy = ty / d->stride, ox = tx / d->stride;
                if (oy >= d->oh || ox >= d->ow) continue;
                for (int co = 0; co < d->c_out; co++)
                    s += (double)dout[(((size_t)i * d->oh + oy) * d->ow + ox) * d->c_out + co] *
                         w[(((size_t)co * d->kh + ky) * d->kw + kx) * d->c_in + ci];
            }
        din[j] += (float)s;
    }
}
