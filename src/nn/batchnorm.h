/* batchnorm.h — BatchNorm2d (per channel over N·H·W, NHWC) and BatchNorm1d
 * (per feature over N), both as "rows × channels" with channels contiguous,
 * optionally fused with the ReLU that follows and the residual add before it.
 *
 *   train:  mean_c = Σ_r x[r,c]/R,  var_c = Σ_r (x−mean)²/R   (biased, used to normalise)
 *           running_mean ← (1−m)·running_mean + m·mean
 *           running_var  ← (1−m)·running_var  + m·var·R/(R−1)   (unbiased), m = 0.1
 *   eval:   mean, var = running statistics
 *   y = γ·(x − mean)·invstd + β, invstd = 1/sqrt(var + eps), eps = 1e-5
 *   fused:  out = relu(y [+ residual])
 *
 * Backward (x̂ = (x−mean)·invstd, g = dL/dy, already masked by the ReLU):
 *   dβ += Σ_r g,  dγ += Σ_r g·x̂
 *   train: dx = γ·invstd/R · (R·g − Σ_r g − x̂·Σ_r g·x̂)
 *   eval:  dx = γ·invstd·g
 * Reductions are split in a fixed number of row chunks (independent of the
 * thread count) and combined in order in double: thread-count independent.
 */
#ifndef FASTC_NN_BATCHNORM_H
#define FASTC_NN_BATCHNORM_H

#include <stddef.h>
#include <stdint.h>

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

typedef struct BnState {
    /* parameters [c] */
    const float *gamma, *beta;
    float *running_mean, *running_var;   /* updated in training */
    float *num_batches;                  /* [1] num_batches_tracked (may be NULL) */
    /* saved by forward for backward [c] */
    float *save_mean, *save_invstd;
} BnState;

/* out[rows,c] = relu?(bn(in) + residual?).  residual (NULL: none) [rows,c] may
 * alias out.  train: batch statistics and running-statistics update; else eval. */
void bn_forward(float *out, const float *in, const float *residual, int relu, int train,
                BnState *s, size_t rows, int c);

/* Backward of bn_forward.  dout [rows,c] = dL/d(out); out = forward's output,
 * used for the ReLU mask when relu; with relu and out == NULL the mask is
 * recomputed from in (so the forward's output need not be kept).  in = forward's input.
 * din [rows,c] may alias dout (but not dres).  When dres != NULL (fused residual), dres [rows,c]
 * receives the masked gradient (the residual's gradient): overwritten.
 * dgamma/dbeta [c] accumulate (NULL: skipped).  train must match the forward. */
void bn_backward(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
                 const float *in, const float *out, int relu, int train, const BnState *s,
                 size_t rows, int c);

/* The statistics half of bn_forward (train: batch statistics and the running
 * update; eval: the running statistics) and the map it would apply:
 * y = in·scale[c] + shift[c] (then the ReLU), for a consumer that applies it on
 * the fly with the same operations (the stem's max pool: pool.h), so the
 * normalised tensor is never written. */
void bn_forward_stats(float *scale, float *shift, const float *in, int train, BnState *s, size_t rows, int c);

/* The ReLU mask of a fused forward kept as bits, so its backward need not read
 * out again (a resnet block's output, 4 bytes an element, becomes 1 bit):
 * bit i of keep (i = r·c + j; word i/16, bit i%16) is 1 where out[i] passes the
 * gradient, i.e. not out <= 0 (NaN passes, as in bn_backward). */
size_t bn_keep_words(size_t rows, int c);

/* bn_forward with the ReLU (relu = 1), also writing keep [bn_keep_words]. */
void bn_forward_keep(float *out, uint16_t *keep, const float *in, const float *residual, int train,
                     BnState *s, size_t rows, int c);

/* bn_backward with the ReLU mask from keep (as written by bn_forward_keep);
 * the same numbers as bn_backward given out. */
void bn_backward_keep(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
                      const float *in, const uint16_t *keep, int train, const BnState *s, size_t rows,
                      int c);

/* bn_forward (keep NULL) or bn_forward_keep (keep given, relu 1) also writing
 * out16 = bf16(out), rounded to nearest even as nn/gemm_bf16.h's bf16_from_f32:
 * the input a bf16 convolution reads (conv2d_forward_in16), made as the row is
 * written instead of by the convolution, once for its forward and again for its
 * weight gradient.  out NULL: out16 alone, the fp32 tensor never written (then
 * no keep and no residual). */
void bn_forward_bf16(float *out, uint16_t *out16, uint16_t *keep, const float *in, const float *residual, int relu,
                     int train, BnState *s, size_t rows, int c);

/* bn_backward (keep NULL: the ReLU mask, when relu, recomputed from in) or
 * bn_backward_keep (keep given, relu 1) also writing din16 = bf16(din) [rows]
 * [ld16 >= c], rounded to nearest even as nn/gemm_bf16.h's bf16_from_f32: the
 * output gradient a bf16 convolution reads (conv2d_backward_dout16), made as the
 * row is written instead of by the convolution.  din NULL: din16 alone, the fp32
 * gradient never written.  din16 may be dout itself with ld16 = 2c (din, dres NULL):
 * each bf16 row in the first half of its own fp32 row, written once that row is
 * read, so the pass writes back half the lines it reads and takes no new ones. */
void bn_backward_bf16(float *din, uint16_t *din16, int ld16, float *dres, float *dgamma, float *dbeta,
                      const float *dout, const float *in, const uint16_t *keep, int relu, int train, const BnState *s,
                      size_t rows, int c);

/* The BatchNorm of a bf16 convolution's output, given as bf16 rows in16
 * [rows][ld >= c] (conv2d_forward_out16 writes them over its fp32 rows: ld = 2c),
 * as PyTorch's autocast keeps it: half the bytes of each of the four reads
 * (statistics, normalisation, gradient sums, gradient).  Each row is widened to
 * fp32 as it is read (exact) and everything after is the fp32 functions'
 * arithmetic, so the numbers are bit for bit those of bn_forward_bf16 (out16
 * given) / bn_forward_keep (keep given) / bn_forward and bn_backward_bf16 (din16
 * given) / bn_backward_keep / bn_backward with in = the fp32 values of in16
 * (the ReLU mask, when relu without keep, recomputed from them).  Forward: out
 * NULL as in bn_forward_bf16 (then out16 given, no keep, no residual).
 * Backward: din or din16 or both; din16 over dout as in bn_backward_bf16.
 * No output (out, out16, din, din16, dres) may overlap in16: it is read 16
 * channels at a time as the row is written. */
void bn_forward_in16(float *out, uint16_t *out16, uint16_t *keep, const uint16_t *in16, int ld, const float *residual,
                     int relu, int train, BnState *s, size_t rows, int c);
void bn_backward_in16(float *din, uint16_t *din16, int ld16, float *dres, float *dgamma, float *dbeta,
                      const float *dout, const uint16_t *in16, int ld, const uint16_t *keep, int relu, int train,
                      const BnState *s, size_t rows, int c);

/* Plain two-pass reference in double (same contract, for the tests). */
void bn_forward_ref(float *out, const float *in, const float *residual, int relu, int train,
                    BnState *s, size_t rows, int c);
void bn_backward_ref(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
                     const float *in, const float *out, int relu, int train, const BnState *s,
                     size_t rows, int c);

#endif
