/* relu.h — ReLU and the residual add, elementwise over n floats.
 *   relu:  y = max(x, 0);          dx = dy · [not y <= 0]
 * NaN goes through both ways, as PyTorch's threshold(x, 0, 0) and its
 * backward do: a NaN is never hidden as a 0 (y = x <= 0 ? 0 : x).
 *   add:   y = a + b;              da = db = dy
 * (Inside resnets both are fused into batchnorm.h's passes; these standalone
 * versions serve the head and other models.) */
#ifndef FASTC_NN_RELU_H
#define FASTC_NN_RELU_H

#include <stddef.h>

/* out may alias in. */
void relu_forward(float *out, const float *in, size_t n);
/* din may alias dout; out = forward's output. */
void relu_backward(float *din, const float *dout, const float *out, size_t n);

/* out = a + b (out may alias a or b). */
void add_forward(float *out, const float *a, const float *b, size_t n);
/* Residual add backward: dacc += dout (the other branch receives dout as is). */
void add_backward_acc(float *dacc, const float *dout, size_t n);

#endif
