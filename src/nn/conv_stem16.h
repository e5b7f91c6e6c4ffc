/* conv_stem16.h — the bf16 forward and weight gradient of a convolution on a
 * narrow input (a few channels, kernel rows of at most 31 values: resnet's 7x7
 * stride-2 stem on 3 channels), with the numbers of conv.c's bf16 columns path,
 * bit for bit, without its columns of whole images.
 *
 * The columns path writes an image's columns (the stem: 4096 rows of 148 bf16,
 * 1.2 MB, above L2) and reads them back, and its weight gradient
 * dW[c_out, K] = doutᵀ · col packs the columns again as B (K = 147 columns in
 * three 64-wide panels, a quarter of them padding).  Here:
 *
 *   forward: the input rows an output band reads, padded and rounded to bf16
 *   once (one conversion per input value, not one per column value: each is in
 *   about 12 columns), then the columns of a few output rows at a time (192
 *   positions: 57 KB, in L2) copied from them, one 32-lane vector per kernel
 *   row, and multiplied by the bf16 GEMM right away:
 *       out[rows, c_out] = col[rows, K] · Wᵀ          (gemm_bf16, gemm_bf16_c16)
 *   the same A rows, the same B, the same chains.
 *
 *   weight gradient: the transposed product, each number the same chain:
 *       dWᵀ[K, c_out] (+)= colᵀ[K, M] · dout[M, c_out]
 *   (c_out = 64 is one exact panel; K = 147 rows in tiles of 6, 2% padding).
 *   Row k = (ky·kw + kx)·c_in + ci of colᵀ at output row oy is, over ox,
 *       in[s·oy − p + ky, s·ox − p + kx, ci],
 *   a contiguous run of the input split into planes by channel and by column
 *   modulo the stride: plane (ci, kx mod s), row s·oy + ky, from column kx/s
 *   (the padded input, rounded to bf16 once per image).  The microkernel reads
 *   its A pairs, positions (2q, 2q+1) of an output row (ow even), straight from
 *   the planes, and dout comes packed in the VNNI pair layout a few output rows
 *   at a time (64 pairs: 16 KB a panel, in L1).  The chain of dW[co][k] runs over
 *   the positions of its tile group in order, by the same pairs, the products
 *   the same (a bf16 pair product is exact and commutes), from dW itself
 *   (group 0) or from zero (groups 1..), the groups then added in order: the
 *   columns path's numbers.
 *
 * Only where gemm_bf16_native() (the microkernel reads A in a layout of its
 * own; elsewhere conv.c keeps the columns path, the same numbers). */
#ifndef FASTC_NN_CONV_STEM16_H
#define FASTC_NN_CONV_STEM16_H

#include "nn/conv.h"

#include <stddef.h>
#include <stdint.h>

/* Whether the forward / the weight gradient of d goes this way (the weight
 * gradient also needs ow even: a pair of positions never straddles two rows). */
int conv_stem16_forward_applies(const Conv2dDims *d);
int conv_stem16_dw_applies(const Conv2dDims *d);

/* Floats of scratch both want when run by up to `threads` threads (at most
 * CONV_GROUPS weight-gradient groups). */
size_t conv_stem16_scratch_floats(const Conv2dDims *d, int threads);

/* out[n·oh·ow][c_out] = conv(in, w) in bf16, or, with out16, out16 (rows ld16
 * apart) = its bf16 rounding with out as the GEMM's fp32 scratch
 * (conv2d_forward_out16's contract).  The input as fp32 in or as bf16 in16. */
void conv_stem16_forward(float *out, uint16_t *out16, int ld16, const float *in, const uint16_t *in16, const float *w,
                         const Conv2dDims *d, float *buf, size_t floats);

/* dW[c_out][K] (+)= doutᵀ · col(in), the groups' chains: group g covers images
 * [img[g], img[g+1]) (groups <= CONV_GROUPS), group 0's chain continues from dw,
 * the others start at zero and are added to it in order.  dout as fp32 rows or
 * as bf16 rows dout16, ld16 apart; the input as fp32 in or bf16 in16. */
void conv_stem16_dw(float *dw, const float *dout, const uint16_t *dout16, int ld16, const float *in,
                    const uint16_t *in16, const Conv2dDims *d, int groups, const int *img, float *buf,
                    size_t floats);

#endif
