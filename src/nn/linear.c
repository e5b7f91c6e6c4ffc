/* linear.c — fully connected layer with one sgemm per pass (see linear.h). */
#include "nn/linear.h"

#include "nn/gemm.h"
#include "nn/gemm_bf16.h"
#include <string.h>

void linear_forward(float *out, const float *in, const float *w, const float *b,
                    int n, int in_f, int out_f)
{
    /* out[n, o] = in[n, i] · W[o, i]^T */
    nn_sgemm(0, 1, n, out_f, in_f, 1.0f, in, in_f, w, in_f,
                0.0f, out, out_f);
    if (b)
        for (int r = 0; r < n; r++)
            for (int j = 0; j < out_f; j++) out[(size_t)r * out_f + j] += b[j];
}

void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                     const float *w, int n, int in_f, int out_f)
{
    if (dw) /* dW[o, i] += dout[n, o]^T · in[n, i] */
        nn_sgemm(1, 0, out_f, in_f, n, 1.0f, dout, out_f,
                    in, in_f, 1.0f, dw, in_f);
    if (db)
        for (int j = 0; j < out_f; j++) {
            double s = 0;
            for (int r = 0; r < n; r++) s += dout[(size_t)r * out_f + j];
            db[j] += (float)s;
        }
    if (din) /* din[n, i] = dout[n, o] · W[o, i] */
        nn_sgemm(0, 0, n, in_f, out_f, 1.0f, dout, out_f,
                    w, in_f, 0.0f, din, in_f);
}

void linear_forward_ref(float *out, const float *in, const float *w, const float *b,
                        int n, int in_f, int out_f)
{
    for (int r = 0; r < n; r++)
        for (int j = 0; j < out_f; j++) {
            double s = b ? b[j] : 0.0;
            for (int k = 0; k < in_f; k++) s += (double)in[(size_t)r * in_f + k] * w[(size_t)j * in_f + k];
            out[(size_t)r * out_f + j] = (float)s;
        }
}

void linear_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int n, int in_f, int out_f)
{
    for (int j = 0; dw && j < out_f; j++)
        for (int k = 0; k < in_f; k++) {
            double s = 0;
            for (int r = 0; r < n; r++) s += (double)dout[(size_t)r * out_f + j] * in[(size_t)r * in_f + k];
            dw[(size_t)j * in_f + k] += (float)s;
        }
    for (int j = 0; db && j < out_f; j++) {
        double s = 0;
        for (int r = 0; r < n; r++) s += dout[(size_t)r * out_f + j];
        db[j] += (float)s;
    }
    for (int r = 0; din && r < n; r++)
        for (int k = 0; k < in_f; k++) {
            double s = 0;
            for (int j = 0; j < out_f; j++) s += (double)dout[(size_t)r * out_f + j] * w[(size_t)j * in_f + k];
            din[(size_t)r * in_f + k] = (float)s;
        }
}

/* ---- bf16 ------------------------------------------------------------------ */

static size_t up16(size_t f) { return (f + 15) / 16 * 16; }
static int even(int k) { return (k + 1) & ~1; }

/* bf16 rows of A, then the packed B, for the three products (one at a time). */
size_t linear_scratch_floats_bf16(int n, int in_f, int out_f)
{
    size_t fwd = up16((size_t)n * even(in_f) / 2) + up16(gemm_bf16_packed_words(in_f, out_f));
    size_t dw = up16(gemm_bf16_packed_a_words(out_f, n)) + up16(gemm_bf16_packed_words(n, in_f));
    size_t din = up16((size_t)n * even(out_f) / 2) + up16(gemm_bf16_packed_words(out_f, in_f));
    size_t m = fwd > dw ? fwd : dw;
    return m > din ? m : din;
}

void linear_forward_bf16(float *out, const float *in, const float *w, const float *b, int n, int in_f, int out_f,
                         float *scratch)
{
    /* out[n, o] = in[n, i] · W[o, i]ᵀ: B = Wᵀ, given as W */
    uint16_t *a = (uint16_t *)scratch;
    uint32_t *bp = (uint32_t *)(scratch + up16((size_t)n * even(in_f) / 2));
    bf16_convert_rows(a, even(in_f), in, in_f, n, in_f);
    gemm_bf16_pack_b(bp, 1, in_f, out_f, w, in_f);
    nn_gemm_bf16(n, out_f, in_f, a, even(in_f), bp, 0, out, out_f);
    if (b)
        for (int r = 0; r < n; r++)
            for (int j = 0; j < out_f; j++) out[(size_t)r * out_f + j] += b[j];
}

void linear_backward_bf16(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                          int n, int in_f, int out_f, float *scratch)
{
    uint16_t *a = (uint16_t *)scratch;
    if (dw) { /* dW[o, i] += dout[n, o]ᵀ · in[n, i]: A = doutᵀ (packed from dout's rows), B = in */
        uint32_t *ap = (uint32_t *)scratch, *bp = (uint32_t *)(scratch + up16(gemm_bf16_packed_a_words(out_f, n)));
        gemm_bf16_pack_at(ap, out_f, n, dout, out_f);
        gemm_bf16_pack_b(bp, 0, n, in_f, in, in_f);
        nn_gemm_bf16_pa(out_f, in_f, n, ap, bp, 1, dw, in_f);
    }
    if (db)
        for (int j = 0; j < out_f; j++) {
            double s = 0;
            for (int r = 0; r < n; r++) s += dout[(size_t)r * out_f + j];
            db[j] += (float)s;
        }
    if (din) { /* din[n, i] = dout[n, o] · W[o, i] */
        uint32_t *bp = (uint32_t *)(scratch + up16((size_t)n * even(out_f) / 2));
        bf16_convert_rows(a, even(out_f), dout, out_f, n, out_f);
        gemm_bf16_pack_b(bp, 0, out_f, in_f, w, in_f);
        nn_gemm_bf16(n, in_f, out_f, a, even(out_f), bp, 0, din, in_f);
    }
}

void linear_forward_ref_bf16(float *out, const float *in, const float *w, const float *b, int n, int in_f,
                             int out_f)
{
    gemm_bf16_ref(0, 1, n, out_f, in_f, in, in_f, w, in_f, 0, out, out_f);
    if (b)
        for (int r = 0; r < n; r++)
            for (int j = 0; j < out_f; j++) out[(size_t)r * out_f + j] += b[j];
}

void linear_backward_ref_bf16(float *din, float *dw, float *db, const float *dout, const float *in,
                              const float *w, int n, int in_f, int out_f)
{
    if (dw) gemm_bf16_ref(1, 0, out_f, in_f, n, dout, out_f, in, in_f, 1, dw, in_f);
    linear_backward_ref(NULL, NULL, db, dout, in, w, n, in_f, out_f);
    if (din) gemm_bf16_ref(0, 0, n, in_f, out_f, dout, out_f, w, in_f, 0, din, in_f);
}
