/* conv.c — 2-D convolution, NHWC, im2col + one GEMM per batch tile (see conv.h). */
#include "nn/conv.h"

#include "nn/gemm.h"
#include <string.h>

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

/* Images per tile: as many as fit in cap floats, at least one. Depends only
 * on the dimensions and cap, so the summation order of dW never depends on the
 * thread count. */
static int tile_images(const Conv2dDims *d, size_t cap)
{
    size_t per = col_per_image(d);
    if (cap == 0) return d->n;
    size_t t = cap / per;
    if (t < 1) t = 1;
    if (t > (size_t)d->n) t = (size_t)d->n;
    return (int)t;
}

size_t conv2d_col_floats(const Conv2dDims *d, size_t cap)
{
    if (conv2d_is_pointwise(d)) return 0;
    return (size_t)tile_images(d, cap) * col_per_image(d);
}

double conv2d_macs_per_image(const Conv2dDims *d)
{
    return (double)d->oh * d->ow * d->c_out * d->kh * d->kw * d->c_in;
}

/* col[(i·oh + oy)·ow + ox][(ky·kw + kx)·c_in + ci] = in[i, oy·s − p + ky, ox·s − p + kx, ci]
 * (zero outside), for the nt images starting at `in`. */
static void im2col(float *col, const float *in, const Conv2dDims *d, int nt)
{
    const int K = d->kh * d->kw * d->c_in, C = d->c_in;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < nt * d->oh; r++) {
        int i = r / d->oh, oy = r % d->oh;
        const float *img = in + (size_t)i * d->h * d->w * C;
        for (int ox = 0; ox < d->ow; ox++) {
            float *dst = col + ((size_t)r * d->ow + ox) * K;
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
    }
}

/* The adjoint of im2col, as a gather so every din element is written by one
 * thread in a fixed order:
 *   din[i,iy,ix,ci] (+)= Σ_{ky,kx: oy·s−p+ky = iy, ox·s−p+kx = ix} col[(i,oy,ox)][(ky,kx,ci)] */
static void col2im(float *din, int accumulate, const float *col, const Conv2dDims *d, int nt)
{
    const int K = d->kh * d->kw * d->c_in, C = d->c_in, s = d->stride;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < nt * d->h; r++) {
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

void conv2d_forward(float *out, const float *in, const float *w, const Conv2dDims *d,
                    float *col, size_t col_cap)
{
    const int K = d->kh * d->kw * d->c_in;
    const size_t in_img = (size_t)d->h * d->w * d->c_in, out_img = (size_t)d->oh * d->ow * d->c_out;
    if (conv2d_is_pointwise(d)) {
        /* out[M, c_out] = in[M, c_in] · W[c_out, c_in]^T */
        int M = d->n * d->h * d->w;
        nn_sgemm(0, 1, M, d->c_out, d->c_in, 1.0f, in,
                    d->c_in, w, d->c_in, 0.0f, out, d->c_out);
        return;
    }
    int nt = tile_images(d, col_cap);
    for (int i0 = 0; i0 < d->n; i0 += nt) {
        int t = d->n - i0 < nt ? d->n - i0 : nt;
        int M = t * d->oh * d->ow;
        im2col(col, in + i0 * in_img, d, t);
        /* out_tile[M, c_out] = col[M, K] · W[c_out, K]^T */
        nn_sgemm(0, 1, M, d->c_out, K, 1.0f, col, K, w, K,
                    0.0f, out + i0 * out_img, d->c_out);
    }
}

void conv2d_backward(float *din, int din_accumulate, float *dw, const float *dout,
                     const float *in, const float *w, const Conv2dDims *d,
                     float *col, size_t col_cap)
{
    const int K = d->kh * d->kw * d->c_in;
    const size_t in_img = (size_t)d->h * d->w * d->c_in, out_img = (size_t)d->oh * d->ow * d->c_out;
    if (conv2d_is_pointwise(d)) {
        int M = d->n * d->h * d->w;
        if (dw) /* dW[c_out, c_in] += dout[M, c_out]^T · in[M, c_in] */
            nn_sgemm(1, 0, d->c_out, d->c_in, M, 1.0f, dout,
                        d->c_out, in, d->c_in, 1.0f, dw, d->c_in);
        if (din) /* din[M, c_in] (+)= dout[M, c_out] · W[c_out, c_in] */
            nn_sgemm(0, 0, M, d->c_in, d->c_out, 1.0f,
                        dout, d->c_out, w, d->c_in, din_accumulate ? 1.0f : 0.0f, din, d->c_in);
        return;
    }
    int nt = tile_images(d, col_cap);
    for (int i0 = 0; i0 < d->n; i0 += nt) {
        int t = d->n - i0 < nt ? d->n - i0 : nt;
        int M = t * d->oh * d->ow;
        const float *dout_t = dout + i0 * out_img;
        if (dw) {
            im2col(col, in + i0 * in_img, d, t);
            /* dW[c_out, K] += dout_t[M, c_out]^T · col[M, K] */
            nn_sgemm(1, 0, d->c_out, K, M, 1.0f, dout_t,
                        d->c_out, col, K, 1.0f, dw, K);
        }
        if (din) {
            /* dcol[M, K] = dout_t[M, c_out] · W[c_out, K], then scattered back */
            nn_sgemm(0, 0, M, K, d->c_out, 1.0f, dout_t,
                        d->c_out, w, K, 0.0f, col, K);
            col2im(din + i0 * in_img, din_accumulate, col, d, t);
        }
    }
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
