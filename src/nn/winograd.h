/* winograd.h — 3x3 stride-1 pad-1 convolution by Winograd's F(2x2, 3x3), NHWC.
 *
 * Each 2x2 block of outputs ("tile") comes from a 4x4 input patch d:
 *     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
 *         Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
 *         G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 −1 −1]
 * so the 16 elementwise products over channels become 16 GEMMs
 *     M_ξ[tiles, c_out] = V_ξ[tiles, c_in] · U_ξ[c_out, c_in]ᵀ     (ξ = 0..15)
 * with 16 multiplies per tile instead of 36 (2.25x fewer).
 *
 * The adjoint of a 3x3 stride-1 pad-1 convolution with respect to its input is
 * the same convolution of dout with the kernel rotated by 180° and its two
 * channel axes swapped, so the same code computes din (flip = 1).  The
 * weight gradient takes the transposed route (winograd_weight_grad).
 *
 * The forward and din run blocks of tiles, each block on one thread from the
 * input transform through its 16 GEMMs (gemm_f32 on U_ξ packed once) to the
 * output; the weight gradient takes chunks of whole images fixed by the dims,
 * the transforms split over tiles and the 16 GEMMs over ξ (one
 * single-threaded BLAS call each).  Each number is one fixed chain, so it is
 * computed the same way whatever the thread count or block size.  The plain
 * reference is conv2d_forward_ref / backward_ref (conv.h); tests compare the two.
 */
#ifndef FASTC_NN_WINOGRAD_H
#define FASTC_NN_WINOGRAD_H

#include "nn/conv.h"

#include <stddef.h>

/* Whether d is a convolution this path computes (3x3, stride 1, pad 1). */
int winograd_applies(const Conv2dDims *d);

/* Scratch floats winograd_conv wants for d (either direction). */
size_t winograd_scratch_floats(const Conv2dDims *d);

/* flip = 0: out[n,h,w,c_out] (+)= conv(in[n,h,w,c_in], w)            (forward)
 * flip = 1: out[n,h,w,c_in]  (+)= conv^T(in = dout[n,h,w,c_out], w)  (din)
 * accumulate: add to out instead of overwriting it.  w is OHWI [c_out,3,3,c_in]. */
void winograd_conv(float *out, int accumulate, const float *in, const float *w, const Conv2dDims *d,
                   int flip, float *scratch);

/* dw[c_out,3,3,c_in] += ∂/∂w of Σ dout·conv(in, w), the adjoint of the
 * forward's transforms:  dU_ξ = Σ_tiles (A dy Aᵀ)_ξ ⊗ (Bᵀ d B)_ξ  (16 GEMMs
 * with the tiles as K, accumulated chunk after chunk), dw += Gᵀ dU G. */
void winograd_weight_grad(float *dw, const float *dout, const float *in, const Conv2dDims *d,
                          float *scratch);

/* bf16 (`precision = bf16`), as cuDNN's fp16 Winograd algorithms under mixed
 * precision: the transforms in fp32 on the bf16 input, the GEMMs in bf16 with
 * fp32 sums.  The rounding points:
 *   forward / din:  d = bf16(x) (the input, or din's dout, as every bf16
 *                   convolution reads it), U_ξ = bf16(G g Gᵀ), V_ξ = bf16(Bᵀ d B)
 *                   (round to nearest even), M_ξ = V_ξ·U_ξᵀ by gemm_bf16 (one
 *                   fp32 chain per number over the input channels, pairs as
 *                   vdpbf16ps), Y = Aᵀ M A in fp32;
 *   weight grad:    d = bf16(x), y = bf16(dout), V_ξ = bf16(Bᵀ d B),
 *                   Ŷ_ξ = bf16(A y Aᵀ), dU_ξ = Ŷ_ξᵀ·V_ξ by gemm_bf16 (Ŷ_ξᵀ as
 *                   pair rows: gemm_bf16_pt), one chain per number over the
 *                   tiles, chunk after chunk (the pairs restart at each chunk:
 *                   an odd chunk ends on a zero partner), dw += Gᵀ dU G in fp32.
 * The input and dout come as fp32 (rounded as the transforms load them) or as
 * bf16 rows ld16 apart (in16, dout16: what the model's BatchNorms write, half
 * the bytes to read): the same numbers either way.
 * The chunks are the fp32 path's (fixed by the dims).  The weight gradient
 * runs groups of ξ (1, 2 or 4, as many as the threads allow), each on one
 * thread through every chunk: its transforms of each tile, stored for its ξ
 * only, then its GEMMs, with no barrier between chunks.  Each ξ's chain is
 * the same in any group: the numbers do not depend on the thread count, and
 * the emulated bf16 GEMM gives the same.
 * The forward and din run blocks of tiles, each on one thread from its input
 * transform to its output (V and M of a block stay in cache); the scratch has
 * one block slot per thread (winograd_scratch_floats_bf16's `threads`; with
 * fewer slots in scratch_floats, fewer threads run: the same numbers).
 * Compared with the columns path, each product sees transformed values, which
 * are up to 4x (V) and 2.25x (U) the magnitude of the inputs and cancel in
 * Aᵀ M A: the error bound is taken on Σ|V||U| instead of Σ|x||w|
 * (tests/test_conv.c measures it against the exact convolution). */
size_t winograd_scratch_floats_bf16(const Conv2dDims *d, int threads);
/* out, or out16 = bf16(out) (pixels ld_out16 elements apart; then out NULL,
 * accumulate 0; rounded as bf16_from_f32: conv2d_forward_out16's contract);
 * in or in16 (the other NULL; in16's pixels ld16 elements apart). */
void winograd_conv_bf16(float *out, uint16_t *out16, int ld_out16, int accumulate, const float *in,
                        const uint16_t *in16, int ld16, const float *w, const Conv2dDims *d, int flip, float *scratch,
                        size_t scratch_floats);
/* dout or dout16 (pixels ld16 apart), in or in16 (pixels c_in apart); the others NULL. */
void winograd_weight_grad_bf16(float *dw, const float *dout, const uint16_t *dout16, int ld16, const float *in,
                               const uint16_t *in16, const Conv2dDims *d, float *scratch);

/* The plain references of the two: the transforms as matrix products per tile
 * and channel (summed as the fast path sums; the ½ of G are exact, so with no
 * subnormal value the fp32 transforms are the same numbers), rounded to bf16
 * at the same points, the products by gemm_bf16_ref's chain, the weight
 * gradient's chain over the fast path's chunks.  Bit for bit the fast path's. */
void winograd_conv_ref_bf16(float *out, int accumulate, const float *in, const float *w, const Conv2dDims *d,
                            int flip);
void winograd_weight_grad_ref_bf16(float *dw, const float *dout, const float *in, const Conv2dDims *d);

#endif
