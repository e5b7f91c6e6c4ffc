/* conv_taps.c — convolution by the taps inside the input (see conv_taps.h). */
#include "nn/conv_taps.h"

#include "nn/gemm.h"
#include <string.h>

/* Taps [*k0, *k1] of a kernel of size k at output index o along a dimension of
 * input size n: those with 0 <= o·s − p + k < n.  Empty when *k0 > *k1. */
static void tap_range(int o, int s, int p, int k, int n, int *k0, int *k1)
{
    int i0 = o * s - p;
    *k0 = i0 < 0 ? -i0 : 0;
    *k1 = i0 + k - 1 >= n ? n - 1 - i0 : k - 1;
}

long conv_taps_used(const Conv2dDims *d)
{
    long ny = 0, nx = 0;
    for (int o = 0; o < d->oh; o++) {
        int a, b;
        tap_range(o, d->stride, d->pad, d->kh, d->h, &a, &b);
        if (b >= a) ny += b - a + 1;
    }
    for (int o = 0; o < d->ow; o++) {
        int a, b;
        tap_range(o, d->stride, d->pad, d->kw, d->w, &a, &b);
        if (b >= a) nx += b - a + 1;
    }
    return ny * nx;
}

long conv_taps_full(const Conv2dDims *d) { return (long)d->oh * d->ow * d->kh * d->kw; }

/* The taps of output position (oy, ox): rows [ky0, ky1], columns [kx0, kx1]
 * (empty when either range is). */
typedef struct Taps { int ky0, ky1, kx0, kx1; } Taps;

static Taps taps_at(const Conv2dDims *d, int oy, int ox)
{
    Taps t;
    tap_range(oy, d->stride, d->pad, d->kh, d->h, &t.ky0, &t.ky1);
    tap_range(ox, d->stride, d->pad, d->kw, d->w, &t.kx0, &t.kx1);
    return t;
}

/* Offsets of kernel row ky of position (oy, ox): the input row segment
 * in[:, iy, ix0 .., :] and the weight row segment W[:, ky, kx0 .., :]. */
static size_t in_off(const Conv2dDims *d, int oy, int ox, int ky, const Taps *t)
{
    int iy = oy * d->stride - d->pad + ky, ix0 = ox * d->stride - d->pad + t->kx0;
    return ((size_t)iy * d->w + ix0) * d->c_in;
}

static size_t w_off(const Conv2dDims *d, int ky, const Taps *t)
{
    return ((size_t)ky * d->kw + t->kx0) * d->c_in;
}

void conv_taps_forward(float *out, const float *in, const float *w, const Conv2dDims *d)
{
    const int K = d->kh * d->kw * d->c_in, ldi = d->h * d->w * d->c_in, ldo = d->oh * d->ow * d->c_out;
    for (int oy = 0; oy < d->oh; oy++)
        for (int ox = 0; ox < d->ow; ox++) {
            Taps t = taps_at(d, oy, ox);
            float *o = out + ((size_t)oy * d->ow + ox) * d->c_out;
            if (t.ky1 < t.ky0 || t.kx1 < t.kx0) {   /* every tap in the padding */
                for (int i = 0; i < d->n; i++) memset(o + (size_t)i * ldo, 0, sizeof(float) * d->c_out);
                continue;
            }
            int len = (t.kx1 - t.kx0 + 1) * d->c_in;
            for (int ky = t.ky0; ky <= t.ky1; ky++)
                /* out_p[n, c_out] (+)= in_seg[n, len] · W_seg[c_out, len]ᵀ */
                nn_sgemm(0, 1, d->n, d->c_out, len, 1.0f, in + in_off(d, oy, ox, ky, &t), ldi,
                         w + w_off(d, ky, &t), K, ky == t.ky0 ? 0.0f : 1.0f, o, ldo);
        }
}

void conv_taps_backward(float *din, int din_accumulate, float *dw, const float *dout, const float *in,
                        const float *w, const Conv2dDims *d)
{
    const int K = d->kh * d->kw * d->c_in, ldi = d->h * d->w * d->c_in, ldo = d->oh * d->ow * d->c_out;
    if (din && !din_accumulate) {
        size_t nin = (size_t)d->n * ldi;
        const size_t chunk = (size_t)1 << 16;
        long nb = (long)((nin + chunk - 1) / chunk);
        #pragma omp parallel for schedule(static)
        for (long b = 0; b < nb; b++) {
            size_t lo = (size_t)b * chunk, m = nin - lo < chunk ? nin - lo : chunk;
            memset(din + lo, 0, m * sizeof(float));
        }
    }
    for (int oy = 0; oy < d->oh; oy++)
        for (int ox = 0; ox < d->ow; ox++) {
            Taps t = taps_at(d, oy, ox);
            const float *g = dout + ((size_t)oy * d->ow + ox) * d->c_out;
            int len = (t.kx1 - t.kx0 + 1) * d->c_in;
            for (int ky = t.ky0; ky <= t.ky1 && t.kx0 <= t.kx1; ky++) {
                size_t io = in_off(d, oy, ox, ky, &t), wo = w_off(d, ky, &t);
                if (dw) /* dW_seg[c_out, len] += dout_p[n, c_out]ᵀ · in_seg[n, len] */
                    nn_sgemm(1, 0, d->c_out, len, d->n, 1.0f, g, ldo, in + io, ldi, 1.0f, dw + wo, K);
                if (din) /* din_seg[n, len] += dout_p[n, c_out] · W_seg[c_out, len] */
                    nn_sgemm(0, 0, d->n, len, d->c_out, 1.0f, g, ldo, w + wo, K, 1.0f, din + io, ldi);
            }
        }
}
