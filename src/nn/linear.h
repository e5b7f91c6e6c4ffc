/* linear.h — fully connected layer, PyTorch layout.
 *   out[n,o] = in[n,i] · W[o,i]^T (+ b[o])
 *   dW[o,i] += dout^T · in,  db[o] += Σ_n dout,  din[n,i] = dout · W
 * One cblas_sgemm each; the reference is the triple loop in double.
 *
 * bf16 (`precision = bf16`): the three products by nn/gemm_bf16.h — in, W and
 * dout rounded to bf16, sums in fp32 — the bias and its gradient in fp32; the
 * references are gemm_bf16_ref's chains (bit for bit).  scratch: at least
 * linear_scratch_floats_bf16 floats, 64-byte aligned. */
#ifndef FASTC_NN_LINEAR_H
#define FASTC_NN_LINEAR_H

#include <stddef.h>

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

size_t linear_scratch_floats_bf16(int n, int in_f, int out_f);
void linear_forward_bf16(float *out, const float *in, const float *w, const float *b, int n, int in_f, int out_f,
                         float *scratch);
void linear_backward_bf16(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                          int n, int in_f, int out_f, float *scratch);
void linear_forward_ref_bf16(float *out, const float *in, const float *w, const float *b, int n, int in_f,
                             int out_f);
void linear_backward_ref_bf16(float *din, float *dw, float *db, const float *dout, const float *in,
                              const float *w, int n, int in_f, int out_f);

#endif
