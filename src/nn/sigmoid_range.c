/* sigmoid_range.c — fastai's SigmoidRange (see sigmoid_range.h). */
#include "nn/sigmoid_range.h"

#include <math.h>

void sigmoid_range_forward(float *out, const float *in, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        /* stable for both signs of x */
        float s = x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
        out[i] = s * (hi - lo) + lo;
    }
}

void sigmoid_range_backward(float *din, const float *dout, const float *out, size_t n,
                            float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float s = (out[i] - lo) / (hi - lo);
        din[i] = dout[i] * s * (1.0f - s) * (hi - lo);
    }
}
