/* pool.h — pooling, NHWC float32.
 *
 * MaxPool2d(k, stride, pad) (resnet stem: 3, 2, 1): out[n,oh,ow,c] = max over the
 * window (padding never wins); idx[n,oh,ow,c] (int32) = flat h·w position of the
 * winner (first maximum, as PyTorch), so backward is din[idx] += dout.
 *
 * AdaptiveMaxPool2d(1), AdaptiveAvgPool2d(1) and fastai's AdaptiveConcatPool2d:
 *   concat: out[n, 2c] = [max_hw in[n,:,:,c] , mean_hw in[n,:,:,c]]  (max first)
 *   backward: din[n,p,c] = dmax[n,c]·[p == argmax] + davg[n,c]/(h·w)
 * Flatten after a 1x1 pool is the identity on this memory: [n,1,1,C] is [n,C]
 * in NHWC and in PyTorch's NCHW alike, so no flatten kernel exists.
 */
#ifndef FASTC_NN_POOL_H
#define FASTC_NN_POOL_H

#include <stdint.h>

typedef struct PoolDims {
    int n, h, w, c, k, stride, pad;
    int oh, ow;
} PoolDims;

PoolDims maxpool2d_dims(int n, int h, int w, int c, int k, int stride, int pad);
/* out [n,oh,ow,c], idx [n,oh,ow,c], in [n,h,w,c] */
void maxpool2d_forward(float *out, int32_t *idx, const float *in, const PoolDims *d);
/* maxpool2d_forward of relu(in·scale[c] + shift[c]) computed on the fly
 * (bn_forward_stats' map: the resnet stem's BN+ReLU, whose output is then never
 * written): the values and winners of the pool over bn_forward's output. */
void maxpool2d_forward_bn_relu(float *out, int32_t *idx, const float *in, const float *scale, const float *shift,
                               const PoolDims *d);
/* din [n,h,w,c] overwritten */
void maxpool2d_backward(float *din, const float *dout, const int32_t *idx, const PoolDims *d);

/* in [n, hw, c] → out [n, c] (+ argmax idx [n, c] for max). */
void avgpool_global_forward(float *out, const float *in, int n, int hw, int c);
void avgpool_global_backward(float *din, const float *dout, int n, int hw, int c); /* din overwritten */
void maxpool_global_forward(float *out, int32_t *idx, const float *in, int n, int hw, int c);
void maxpool_global_backward(float *din, const float *dout, const int32_t *idx, int n, int hw, int c);

/* fastai AdaptiveConcatPool2d(1): out [n, 2c] = [max | avg]; idx [n, c]. */
void concatpool_forward(float *out, int32_t *idx, const float *in, int n, int hw, int c);
/* din [n, hw, c] overwritten from dout [n, 2c]. */
void concatpool_backward(float *din, const float *dout, const int32_t *idx, int n, int hw, int c);

#endif
