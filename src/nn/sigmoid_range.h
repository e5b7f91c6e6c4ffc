/* sigmoid_range.h — fastai's SigmoidRange(lo, hi).
 *   y = σ(x)·(hi − lo) + lo
 *   dx = dy · σ(x)(1 − σ(x))·(hi − lo) = dy · (y − lo)(hi − y)/(hi − lo)
 * (backward needs only the forward's output). */
#ifndef FASTC_NN_SIGMOID_RANGE_H
#define FASTC_NN_SIGMOID_RANGE_H

#include <stddef.h>

/* out may alias in. */
void sigmoid_range_forward(float *out, const float *in, size_t n, float lo, float hi);
/* din may alias dout; out = forward's output. */
void sigmoid_range_backward(float *din, const float *dout, const float *out, size_t n,
                            float lo, float hi);

#endif
