/* conv_taps.h — convolution on small maps by kernel taps, NHWC: only the taps
 * that land inside the input are ever multiplied.
 *
 * On a small map most kernel taps of a padded convolution read padding: a 3x3
 * pad-1 convolution on a 1x1 map uses only its centre tap (columns + GEMM
 * would do 9x the multiplies, Winograd F(2x2,3x3) 16x), on a 2x2 map each
 * output uses 4 of its 9 taps.  Here every output position (oy, ox) has the
 * rectangle of taps ky ∈ [ky0, ky1], kx ∈ [kx0, kx1] whose input pixel exists,
 * and for each kernel row ky of it one GEMM over the whole batch works straight
 * on the tensors, with no copy (the input row segment, the weight row segment
 * and the output pixel are each at a fixed stride from one image to the next):
 *
 *   iy = oy·s − p + ky, ix0 = ox·s − p + kx0, nx = kx1 − kx0 + 1
 *   out[:, oy, ox, :]         (+)= in[:, iy, ix0 .. ix0+nx−1, :] · W[:, ky, kx0 .. kx1, :]ᵀ
 *                                    [n, nx·c_in]                  [c_out, nx·c_in]
 *   din[:, iy, ix0 .., :]      += dout[:, oy, ox, :] · W[:, ky, kx0 .., :]
 *   dW[:, ky, kx0 .., :]       += dout[:, oy, ox, :]ᵀ · in[:, iy, ix0 .., :]
 *
 * The sums run in a fixed order (positions row-major, then ky), the forward
 * and din by gemm_f32 (A read in place; the forward one chain of fused
 * multiply-adds per output over all its taps), the weight gradient by
 * single-threaded OpenBLAS calls, in units fixed by the dimensions, so the
 * numbers do not depend on the thread count.  The same
 * math as the direct convolution (conv2d_forward_ref / backward_ref) minus
 * the zero products; tests compare the two.
 */
#ifndef FASTC_NN_CONV_TAPS_H
#define FASTC_NN_CONV_TAPS_H

#include "nn/conv.h"

/* Multiply-adds per image and per (c_in, c_out) pair of this path (the taps
 * inside the input summed over output positions), and of the full kernel
 * (oh·ow·kh·kw), so a caller can see how many products padding would waste. */
long conv_taps_used(const Conv2dDims *d);
long conv_taps_full(const Conv2dDims *d);

/* Taps [*k0, *k1] of a kernel of size k at output index o along a dimension of
 * input size n (stride s, padding p): those with 0 <= o·s − p + k < n.  Empty
 * when *k0 > *k1.  (conv.c's bf16 taps path walks the same rectangles.) */
void conv_taps_range(int o, int s, int p, int k, int n, int *k0, int *k1);

/* out[n,oh,ow,c_out] = conv(in[n,h,w,c_in], w[c_out,kh,kw,c_in]). */
void conv_taps_forward(float *out, const float *in, const float *w, const Conv2dDims *d);

/* din (NULL: not wanted) overwritten, or accumulated when din_accumulate;
 * dw (NULL: not wanted) accumulated. */
void conv_taps_backward(float *din, int din_accumulate, float *dw, const float *dout, const float *in,
                        const float *w, const Conv2dDims *d);

#endif
