/* linear.h — fully connected layer, PyTorch layout.
 *   out[n,o] = in[n,i] · W[o,i]^T (+ b[o])
 *   dW[o,i] += dout^T · in,  db[o] += Σ_n dout,  din[n,i] = dout · W
 * One cblas_sgemm each; the reference is the triple loop in double. */
#ifndef FASTC_NN_LINEAR_H
#define FASTC_NN_LINEAR_H

/* b may be NULL (bias=False). */
void linear_forward(float *out, const float *in, const float *w, const float *b,
                    int n, int in_f, int out_f);
/* din (NULL: not wanted) overwritten; dw, db (NULL: skipped) accumulate. */
void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                     const float *w, int n, int in_f, int out_f);

void linear_forward_ref(float *out, const float *in, const float *w, const float *b,
                        int n, int in_f, int out_f);
void linear_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int n, int in_f, int out_f);

#endif
