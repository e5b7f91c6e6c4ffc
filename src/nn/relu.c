/* relu.c — ReLU and residual add (see relu.h). */
#include "nn/relu.h"

void relu_forward(float *out, const float *in, size_t n)
{
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] <= 0.0f ? 0.0f : in[i];
}

void relu_backward(float *din, const float *dout, const float *out, size_t n)
{
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = out[i] <= 0.0f ? 0.0f : dout[i];
}

void add_forward(float *out, const float *a, const float *b, size_t n)
{
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void add_backward_acc(float *dacc, const float *dout, size_t n)
{
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dacc[i] += dout[i];
}
