/* conv.h — 2-D convolution without bias (resnets), channels-last NHWC float32.
 *
 * Shapes: in [n, h, w, c_in], out [n, oh, ow, c_out], weight OHWI
 * [c_out, kh, kw, c_in] (PyTorch keeps OIHW; the model's Param says LAYOUT_OHWI).
 * oh = (h + 2·pad − kh)/stride + 1, same for ow.
 *
 * Fast path: im2col over a tile of whole images then one GEMM per tile
 * (M = tile·oh·ow rows, K = kh·kw·c_in, N = c_out).  Early layers (many rows
 * per output channel) run their tiles in parallel, one thread and one
 * single-threaded GEMM per tile with the tile's columns kept in that core's
 * cache; late layers (few rows, big weights) take one large tile after the
 * other with the GEMM split over the threads (nn_sgemm).  Tiles, the choice of
 * path and the grouping of the weight-gradient sums come from the dimensions
 * and the tile cap only (never from the thread count), so the numbers do not
 * depend on threads.  A 1x1 stride-1 unpadded convolution is a plain GEMM on
 * the input: no copy.  On small maps, where padding would waste many products,
 * the convolution goes by kernel taps instead (conv_taps.h); 3x3 stride-1
 * convolutions with >= 64 channels by Winograd (winograd.h).
 * The reference path (conv2d_forward_ref/backward_ref) is the direct 7-loop
 * convolution in double, kept to test the fast one against.
 *
 * bf16 (ConvScratch.bf16, `precision = bf16`): every convolution, 1x1 included,
 * multiplies with the bf16 GEMM of nn/gemm_bf16.h — input, weight and
 * output gradient rounded to bf16, products summed in fp32 — forward and both
 * backward products; tensors and weights stay fp32.  Each output is one chain
 * in column order (k = (ky·kw + kx)·c_in + ci) taken by pairs, and the weight
 * gradient one chain per tile group over the tiles in order, so the numbers
 * are conv2d_forward_ref_bf16 / backward_ref_bf16's, bit for bit, for any
 * thread count.  Where fp32 takes Winograd (3x3 stride 1, >= 64 channels, and
 * the taps below do not take it), bf16 does too (winograd.h: the transforms in
 * fp32 on the bf16 input and output gradient, the transformed input, weight
 * and output gradient rounded to bf16 again, the 16 GEMMs by the bf16 GEMM):
 * other rounding points than the columns',
 * so other numbers (winograd_*_ref_bf16's, bit for bit), still one chain per
 * number and the same for any thread count.  On small maps
 * (at most 3/4 of the kernel's products inside the input, c_in a multiple of
 * 64: layer3/4 at 64 px, from 2x2 to 4x4 maps) the same chains go by taps:
 * only the kernel segments inside the input are multiplied (the padded ones
 * add exact zeros to the chain, which change nothing but the sign of a zero
 * sum), forward and din per output position straight on bf16 copies of the
 * tensors, the weight gradient per tap over the rows whose input pixel exists
 * (kept in the columns' pairs, the missing one of a pair zero), in the same
 * tiles and groups: the numbers are the columns path's, bit for bit.  On a
 * narrow input (kernel rows of at most 31 values: the stem) the columns path's
 * forward and weight gradient go without whole-tile columns (conv_stem16.h):
 * the same chains in the same groups, the same bits.
 */
#ifndef FASTC_NN_CONV_H
#define FASTC_NN_CONV_H

#include <stddef.h>
#include <stdint.h>

typedef struct Conv2dDims {
    int n, h, w, c_in;       /* input */
    int c_out, kh, kw, stride, pad;
    int oh, ow;              /* output (filled by conv2d_dims) */
} Conv2dDims;

/* Fill d for a square kernel k; computes oh/ow. */
Conv2dDims conv2d_dims(int n, int h, int w, int c_in, int c_out, int k, int stride, int pad);

/* Whether the convolution is a plain GEMM on the input (1x1, stride 1, no pad). */
int conv2d_is_pointwise(const Conv2dDims *d);

/* Groups of tiles whose weight-gradient sums are kept apart (fixed, so the
 * summation order never depends on the thread count). */
#define CONV_GROUPS 4

/* Scratch of the fast path.  tile_cap: column floats per tile (0 = the whole
 * batch in one tile; at least one image per tile); the tiling depends only on
 * the dims and tile_cap.  floats: size of buf, at least
 * conv2d_scratch_floats(d, tile_cap, 1); more lets more threads work at once. */
typedef struct ConvScratch {
    float *buf;
    size_t floats;
    size_t tile_cap;
    int bf16;                /* precision = bf16: see below */
    int bf16_columns;        /* bf16: 1: always by columns, never by taps or Winograd; 2: and the narrow-input
                              * ones (conv_stem16.h) by whole-tile columns too (tests compare) */
} ConvScratch;

/* Floats of scratch the fast path wants for these dims and tile cap when run
 * by up to `threads` threads.  0 for pointwise.  bf16: for ConvScratch.bf16. */
size_t conv2d_scratch_floats(const Conv2dDims *d, size_t tile_cap, int threads);
size_t conv2d_scratch_floats_bf16(const Conv2dDims *d, size_t tile_cap, int threads);

/* out[n,oh,ow,c_out] = conv(in[n,h,w,c_in], w[c_out,kh,kw,c_in]).
 * s->buf may be NULL when pointwise. */
void conv2d_forward(float *out, const float *in, const float *w, const Conv2dDims *d,
                    const ConvScratch *s);

/* Backward, accumulating the weight gradient:
 *     dW[c_out, K] += dout^T[c_out, M] · col(in)[M, K]
 *     dcol[M, K]    = dout[M, c_out] · W[c_out, K]   → din = col2im(dcol)
 * din [n,h,w,c_in] (NULL: not wanted, e.g. the first layer): overwritten, or
 * accumulated (+=) when din_accumulate.  dw [c_out,kh,kw,c_in] (NULL: frozen,
 * the weight GEMM is skipped). */
void conv2d_backward(float *din, int din_accumulate, float *dw, const float *dout,
                     const float *in, const float *w, const Conv2dDims *d, const ConvScratch *s);

/* Plain direct convolution (double accumulation), same contract. */
void conv2d_forward_ref(float *out, const float *in, const float *w, const Conv2dDims *d);
void conv2d_backward_ref(float *din, int din_accumulate, float *dw, const float *dout,
                         const float *in, const float *w, const Conv2dDims *d);

/* The bf16 chain of gemm_bf16.h on the direct convolution, columns order: the
 * references of the bf16 path (the weight gradient summed over the whole batch
 * as one chain: the fast path matches it when its tiling has one group). */
void conv2d_forward_ref_bf16(float *out, const float *in, const float *w, const Conv2dDims *d);
void conv2d_backward_ref_bf16(float *din, int din_accumulate, float *dw, const float *dout,
                              const float *in, const float *w, const Conv2dDims *d);

/* Whether a bf16 convolution of these dims goes by taps / by Winograd (unless bf16_columns). */
int conv2d_bf16_by_taps(const Conv2dDims *d);
int conv2d_bf16_by_winograd(const Conv2dDims *d);

/* bf16 with the input given already rounded: in16 [n,h,w,c_in] = bf16(in), as
 * nn/gemm_bf16.h's bf16_from_f32 (e.g. written by the BatchNorm that produced
 * in: bn_forward_bf16).  The same numbers as conv2d_forward / conv2d_backward on
 * in, bit for bit, without rounding the input again in the forward and in the
 * weight gradient; a 1x1 stride-1 convolution (even c_in) multiplies in16's
 * rows in place, with no column copy; Winograd's transforms read it as they
 * would read the fp32 input rounded.  Only where conv2d_bf16_takes_in16: every
 * bf16 convolution. */
int conv2d_bf16_takes_in16(const Conv2dDims *d, const ConvScratch *s);
void conv2d_forward_in16(float *out, const uint16_t *in16, const float *w, const Conv2dDims *d,
                         const ConvScratch *s);
void conv2d_backward_in16(float *din, int din_accumulate, float *dw, const float *dout, const uint16_t *in16,
                          const float *w, const Conv2dDims *d, const ConvScratch *s);

/* bf16 backward with the output gradient given already rounded: dout16
 * [n·oh·ow][ld16 >= c_out] = bf16(dout), as bf16_from_f32 (e.g. written by the
 * BatchNorm backward that produced dout, bn_backward_bf16, maybe over the fp32
 * rows it read: ld16 = 2·c_out), so the fp32 dout need not be written at all.  The input as fp32 in, or as bf16 in16 (then in may be NULL;
 * conv2d_backward_in16's contract).  The same numbers as conv2d_backward /
 * conv2d_backward_in16 on dout, bit for bit.  Only where conv2d_bf16_takes_dout16:
 * where c_out is even (the rows are then the bf16 GEMM's A as they lie). */
int conv2d_bf16_takes_dout16(const Conv2dDims *d, const ConvScratch *s);
void conv2d_backward_dout16(float *din, int din_accumulate, float *dw, const uint16_t *dout16, int ld16,
                            const float *in, const uint16_t *in16, const float *w, const Conv2dDims *d,
                            const ConvScratch *s);

/* bf16 with the output stored as bf16, as PyTorch's autocast keeps a
 * convolution's output: out16 [n·oh·ow][ld16 >= c_out] = bf16(conv2d_forward's
 * out), bit for bit, rounded as bf16_from_f32 by the GEMM's store
 * (gemm_bf16_c16); the fp32 output is never written whole.  acc [n·oh·ow][c_out]
 * fp32 is scratch, the GEMM's chains between blocks of 256 k (garbage after);
 * out16 may lie over it (out16 = (uint16_t *)acc, ld16 = 2·c_out).  The
 * BatchNorm that follows reads it so (bn_forward_in16): half the bytes of fp32,
 * and half the memory where the output is kept.  The input as fp32 in or as
 * bf16 in16 (then in may be NULL; conv2d_forward_in16's contract).  Only where
 * conv2d_bf16_gives_out16: every bf16 path (the columns' GEMM and Winograd's
 * output transform store bf16; taps write acc's fp32 rows, then round them). */
int conv2d_bf16_gives_out16(const Conv2dDims *d, const ConvScratch *s);
void conv2d_forward_out16(uint16_t *out16, int ld16, float *acc, const float *in, const uint16_t *in16, const float *w,
                          const Conv2dDims *d, const ConvScratch *s);

/* Multiply-accumulates of one forward per image. */
double conv2d_macs_per_image(const Conv2dDims *d);

#endif
