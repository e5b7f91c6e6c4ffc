/* linear.c — fully connected layer with one sgemm per pass (see linear.h). */
#include "nn/linear.h"

#include "nn/gemm.h"
#include <string.h>

void linear_forward(float *out, const float *in, const float *w, const float *b,
                    int n, int in_f, int out_f)
{
    /* out[n, o] = in[n, i] · W[o, i]^T */
    nn_sgemm(0, 1, n, out_f, in_f, 1.0f, in, in_f, w, in_f,
                0.0f, out, out_f);
    if (b)
        for (int r = 0; r < n; r++)
            for (int j = 0; j < out_f; j++) out[(size_t)r * out_f + j] += b[j];
}

void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                     const float *w, int n, int in_f, int out_f)
{
    if (dw) /* dW[o, i] += dout[n, o]^T · in[n, i] */
        nn_sgemm(1, 0, out_f, in_f, n, 1.0f, dout, out_f,
                    in, in_f, 1.0f, dw, in_f);
    if (db)
        for (int j = 0; j < out_f; j++) {
            double s = 0;
            for (int r = 0; r < n; r++) s += dout[(size_t)r * out_f + j];
            db[j] += (float)s;
        }
    if (din) /* din[n, i] = dout[n, o] · W[o, i] */
        nn_sgemm(0, 0, n, in_f, out_f, 1.0f, dout, out_f,
                    w, in_f, 0.0f, din, in_f);
}

void linear_forward_ref(float *out, const float *in, const float *w, const float *b,
                        int n, int in_f, int out_f)
{
    for (int r = 0; r < n; r++)
        for (int j = 0; j < out_f; j++) {
            double s = b ? b[j] : 0.0;
            for (int k = 0; k < in_f; k++) s += (double)in[(size_t)r * in_f + k] * w[(size_t)j * in_f + k];
            out[(size_t)r * out_f + j] = (float)s;
        }
}

void linear_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int n, int in_f, int out_f)
{
    for (int j = 0; dw && j < out_f; j++)
        for (int k = 0; k < in_f; k++) {
            double s = 0;
            for (int r = 0; r < n; r++) s += (double)dout[(size_t)r * out_f + j] * in[(size_t)r * in_f + k];
            dw[(size_t)j * in_f + k] += (float)s;
        }
    for (int j = 0; db && j < out_f; j++) {
        double s = 0;
        for (int r = 0; r < n; r++) s += dout[(size_t)r * out_f + j];
        db[j] += (float)s;
    }
    for (int r = 0; din && r < n; r++)
        for (int k = 0; k < in_f; k++) {
            double s = 0;
            for (int j = 0; j < out_f; j++) s += (double)dout[(size_t)r * out_f + j] * w[(size_t)j * in_f + k];
            din[(size_t)r * in_f + k] = (float)s;
        }
}
