/* pool.c — max pooling, global average/max pooling, fastai's concat pool (see pool.h). */
#include "nn/pool.h"

#include <float.h>
#include <string.h>

PoolDims maxpool2d_dims(int n, int h, int w, int c, int k, int stride, int pad)
{
    PoolDims d = {n, h, w, c, k, stride, pad, 0, 0};
    d.oh = (h + 2 * pad - k) / stride + 1;
    d.ow = (w + 2 * pad - k) / stride + 1;
    return d;
}

/* affine: each input element as relu(x·scale + shift) (bn_forward's operations) */
static void maxpool(float *out, int32_t *idx, const float *in, const float *scale, const float *shift,
                    const PoolDims *d)
{
    const int C = d->c;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < d->n * d->oh; r++) {
        int i = r / d->oh, oy = r % d->oh;
        const float *img = in + (size_t)i * d->h * d->w * C;
        for (int ox = 0; ox < d->ow; ox++) {
            float *o = out + ((size_t)r * d->ow + ox) * C;
            int32_t *ix_out = idx + ((size_t)r * d->ow + ox) * C;
            for (int c = 0; c < C; c++) o[c] = -FLT_MAX, ix_out[c] = -1;
            /* window scanned row-major: strict '>' keeps the first maximum; a NaN
             * wins, as in PyTorch (a NaN input is never hidden) */
            for (int ky = 0; ky < d->k; ky++) {
                int iy = oy * d->stride - d->pad + ky;
                if (iy < 0 || iy >= d->h) continue;
                for (int kx = 0; kx < d->k; kx++) {
                    int ix = ox * d->stride - d->pad + kx;
                    if (ix < 0 || ix >= d->w) continue;
                    const float *p = img + ((size_t)iy * d->w + ix) * C;
                    int32_t pos = iy * d->w + ix;
                    if (scale) {
                        for (int c = 0; c < C; c++) {
                            float v = p[c] * scale[c] + shift[c];
                            v = v <= 0.0f ? 0.0f : v;
                            if (v > o[c] || ix_out[c] < 0 || v != v) o[c] = v, ix_out[c] = pos;
                        }
                    } else {
                        for (int c = 0; c < C; c++)
                            if (p[c] > o[c] || ix_out[c] < 0 || p[c] != p[c]) o[c] = p[c], ix_out[c] = pos;
                    }
                }
            }
        }
    }
}

void maxpool2d_forward(float *out, int32_t *idx, const float *in, const PoolDims *d)
{
    maxpool(out, idx, in, NULL, NULL, d);
}

void maxpool2d_forward_bn_relu(float *out, int32_t *idx, const float *in, const float *scale, const float *shift,
                               const PoolDims *d)
{
    maxpool(out, idx, in, scale, shift, d);
}

void maxpool2d_backward(float *din, const float *dout, const int32_t *idx, const PoolDims *d)
{
    const int C = d->c;
    const size_t in_img = (size_t)d->h * d->w * C, out_img = (size_t)d->oh * d->ow * C;
    /* one image per iteration: the scatter-add never crosses images */
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < d->n; i++) {
        float *di = din + i * in_img;
        memset(di, 0, in_img * sizeof(float));
        const float *g = dout + i * out_img;
        const int32_t *ix = idx + i * out_img;
        for (size_t p = 0; p < (size_t)d->oh * d->ow; p++)
            for (int c = 0; c < C; c++) di[(size_t)ix[p * C + c] * C + c] += g[p * C + c];
    }
}

void avgpool_global_forward(float *out, const float *in, int n, int hw, int c)
{
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * c;
        const float *x = in + (size_t)i * hw * c;
        for (int j = 0; j < c; j++) o[j] = 0;
        for (int p = 0; p < hw; p++)
            for (int j = 0; j < c; j++) o[j] += x[(size_t)p * c + j];
        for (int j = 0; j < c; j++) o[j] /= (float)hw;
    }
}

void avgpool_global_backward(float *din, const float *dout, int n, int hw, int c)
{
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (int p = 0; p < hw; p++)
            for (int j = 0; j < c; j++)
                din[((size_t)i * hw + p) * c + j] = dout[(size_t)i * c + j] / (float)hw;
}

void maxpool_global_forward(float *out, int32_t *idx, const float *in, int n, int hw, int c)
{
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * c;
        int32_t *ix = idx + (size_t)i * c;
        const float *x = in + (size_t)i * hw * c;
        for (int j = 0; j < c; j++) o[j] = x[j], ix[j] = 0;
        for (int p = 1; p < hw; p++)
            for (int j = 0; j < c; j++)
                {
                    float v = x[(size_t)p * c + j];
                    if (v > o[j] || v != v) o[j] = v, ix[j] = p;   /* NaN wins, as in PyTorch */
                }
    }
}

void maxpool_global_backward(float *din, const float *dout, const int32_t *idx, int n, int hw, int c)
{
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        memset(din + (size_t)i * hw * c, 0, sizeof(float) * hw * c);
        for (int j = 0; j < c; j++)
            din[((size_t)i * hw + idx[(size_t)i * c + j]) * c + j] = dout[(size_t)i * c + j];
    }
}

void concatpool_forward(float *out, int32_t *idx, const float *in, int n, int hw, int c)
{
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        float *mx = out + (size_t)i * 2 * c, *av = mx + c;
        int32_t *ix = idx + (size_t)i * c;
        const float *x = in + (size_t)i * hw * c;
        for (int j = 0; j < c; j++) mx[j] = x[j], ix[j] = 0, av[j] = x[j];
        for (int p = 1; p < hw; p++)
            for (int j = 0; j < c; j++) {
                float v = x[(size_t)p * c + j];
                av[j] += v;
                if (v > mx[j] || v != v) mx[j] = v, ix[j] = p;   /* NaN wins, as in PyTorch */
            }
        for (int j = 0; j < c; j++) av[j] /= (float)hw;
    }
}

void concatpool_backward(float *din, const float *dout, const int32_t *idx, int n, int hw, int c)
{
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        const float *gm = dout + (size_t)i * 2 * c, *ga = gm + c;
        float *d = din + (size_t)i * hw * c;
        for (int p = 0; p < hw; p++)
            for (int j = 0; j < c; j++) d[(size_t)p * c + j] = ga[j] / (float)hw;
        for (int j = 0; j < c; j++) d[(size_t)idx[(size_t)i * c + j] * c + j] += gm[j];
    }
}
