/* batchnorm.c — BatchNorm (2d over N·H·W, 1d over N) with fused ReLU/residual (see batchnorm.h).
 *
 * Reductions run per block of BN_CB channels, each block summed over all rows
 * in order in double by one thread: channels are contiguous, so a block is one
 * cache line per row, the tensor is read once in total, and the result never
 * depends on the thread count.  The elementwise passes are split over rows. */
#include "nn/batchnorm.h"

#include <math.h>
#include <string.h>

#define BN_CB 16

/* s1[c] = Σ_r a[r,c], s2[c] = Σ_r a[r,c]² (s2 NULL: skipped). */
static void col_sums(double *s1, double *s2, const float *a, size_t rows, int c)
{
    int nb = (c + BN_CB - 1) / BN_CB;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < nb; b++) {
        int c0 = b * BN_CB, cw = c - c0 < BN_CB ? c - c0 : BN_CB;
        double a1[BN_CB] = {0}, a2[BN_CB] = {0};
        for (size_t r = 0; r < rows; r++) {
            const float *p = a + r * c + c0;
            for (int j = 0; j < cw; j++) {
                double v = p[j];
                a1[j] += v;
                a2[j] += v * v;
            }
        }
        for (int j = 0; j < cw; j++) {
            s1[c0 + j] = a1[j];
            if (s2) s2[c0 + j] = a2[j];
        }
    }
}

/* For backward: sg[c] = Σ_r g, sgx[c] = Σ_r g·x with g = dout·[out > 0 when relu]. */
static void grad_sums(double *sg, double *sgx, const float *dout, const float *in,
                      const float *out, int relu, const float *scale, const float *shift,
                      size_t rows, int c)
{
    int nb = (c + BN_CB - 1) / BN_CB;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < nb; b++) {
        int c0 = b * BN_CB, cw = c - c0 < BN_CB ? c - c0 : BN_CB;
        double a1[BN_CB] = {0}, a2[BN_CB] = {0};
        for (size_t r = 0; r < rows; r++) {
            const float *g = dout + r * c + c0, *x = in + r * c + c0, *o = out ? out + r * c + c0 : NULL;
            for (int j = 0; j < cw; j++) {
                float gv = !relu ? g[j]
                         : o ? (o[j] > 0.0f ? g[j] : 0.0f)
                             : (x[j] * scale[c0 + j] + shift[c0 + j] > 0.0f ? g[j] : 0.0f);
                a1[j] += gv;
                a2[j] += (double)gv * x[j];
            }
        }
        for (int j = 0; j < cw; j++) sg[c0 + j] = a1[j], sgx[c0 + j] = a2[j];
    }
}

void bn_forward(float *out, const float *in, const float *residual, int relu, int train,
                BnState *s, size_t rows, int c)
{
    double s1[c], s2[c];
    float scale[c], shift[c];
    if (train) {
        col_sums(s1, s2, in, rows, c);
        for (int j = 0; j < c; j++) {
            double mean = s1[j] / rows, var = s2[j] / rows - mean * mean;
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
    #pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *x = in + r * c;
        const float *res = residual ? residual + r * c : NULL;
        float *y = out + r * c;
        if (res) {
            if (relu)
                for (int j = 0; j < c; j++) {
                    float v = x[j] * scale[j] + shift[j] + res[j];
                    y[j] = v > 0.0f ? v : 0.0f;
                }
            else
                for (int j = 0; j < c; j++) y[j] = x[j] * scale[j] + shift[j] + res[j];
        } else if (relu) {
            for (int j = 0; j < c; j++) {
                float v = x[j] * scale[j] + shift[j];
                y[j] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (int j = 0; j < c; j++) y[j] = x[j] * scale[j] + shift[j];
        }
    }
}

void bn_backward(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
                 const float *in, const float *out, int relu, int train, const BnState *s,
                 size_t rows, int c)
{
    double sg[c], sgx[c];
    float k1[c], k2[c], k3[c], scale[c], shift[c];
    for (int j = 0; j < c; j++) {   /* the forward's affine map, for a recomputed ReLU mask */
        scale[j] = s->gamma[j] * s->save_invstd[j];
        shift[j] = s->beta[j] - s->save_mean[j] * scale[j];
    }
    grad_sums(sg, sgx, dout, in, out, relu, scale, shift, rows, c);
    for (int j = 0; j < c; j++) {
        double mean = s->save_mean[j], inv = s->save_invstd[j];
        double sgxh = inv * (sgx[j] - mean * sg[j]);           /* Σ g·x̂ */
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
    #pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *g = dout + r * c, *x = in + r * c, *o = relu && out ? out + r * c : NULL;
        float *dx = din + r * c, *dr = dres ? dres + r * c : NULL;
        for (int j = 0; j < c; j++) {
            float gv = !relu ? g[j]
                     : o ? (o[j] > 0.0f ? g[j] : 0.0f)
                         : (x[j] * scale[j] + shift[j] > 0.0f ? g[j] : 0.0f);
            if (dr) dr[j] = gv;
            dx[j] = k1[j] * gv + k2[j] * x[j] + k3[j];
        }
    }
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
            if (relu && y < 0) y = 0;
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
            if (relu && !(out ? out[r * c + j] > 0 : (in[r * c + j] - mean) * inv * s->gamma[j] + s->beta[j] > 0)) g = 0;
            sg += g;
            sgx += g * (in[r * c + j] - mean) * inv;
        }
        if (dgamma) dgamma[j] += (float)sgx;
        if (dbeta) dbeta[j] += (float)sg;
        for (size_t r = 0; r < rows; r++) {
            double g = dout[r * c + j];
            if (relu && !(out ? out[r * c + j] > 0 : (in[r * c + j] - mean) * inv * s->gamma[j] + s->beta[j] > 0)) g = 0;
            double xh = (in[r * c + j] - mean) * inv;
            if (dres) dres[r * c + j] = (float)g;
            double dx = train ? s->gamma[j] * inv * (g - sg / rows - xh * sgx / rows)
                              : s->gamma[j] * inv * g;
            din[r * c + j] = (float)dx;
        }
    }
}
