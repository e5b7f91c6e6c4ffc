/* conv_taps.c — convolution by the taps inside the input (see conv_taps.h). */
#include "nn/conv_taps.h"

#include "nn/gemm_f32.h"

#include <cblas.h>
#include <string.h>

void conv_taps_range(int o, int s, int p, int k, int n, int *k0, int *k1)
{
    int i0 = o * s - p;
    *k0 = i0 < 0 ? -i0 : 0;
    *k1 = i0 + k - 1 >= n ? n - 1 - i0 : k - 1;
}

long conv_taps_used(const Conv2dDims *d)
{
    long ny = 0, nx = 0;
    for (int o = 0; o < d->oh; o++) {
        int a, b;
        conv_taps_range(o, d->stride, d->pad, d->kh, d->h, &a, &b);
        if (b >= a) ny += b - a + 1;
    }
    for (int o = 0; o < d->ow; o++) {
        int a, b;
        conv_taps_range(o, d->stride, d->pad, d->kw, d->w, &a, &b);
        if (b >= a) nx += b - a + 1;
    }
    return ny * nx;
}

long conv_taps_full(const Conv2dDims *d) { return (long)d->oh * d->ow * d->kh * d->kw; }

/* The taps of output position (oy, ox): rows [ky0, ky1], columns [kx0, kx1]
 * (empty when either range is). */
typedef struct Taps { int ky0, ky1, kx0, kx1; } Taps;

static Taps taps_at(const Conv2dDims *d, int oy, int ox)
{
    Taps t;
    conv_taps_range(oy, d->stride, d->pad, d->kh, d->h, &t.ky0, &t.ky1);
    conv_taps_range(ox, d->stride, d->pad, d->kw, d->w, &t.kx0, &t.kx1);
    return t;
}

/* Offsets of kernel row ky of position (oy, ox): the input row segment
 * in[:, iy, ix0 .., :] and the weight row segment W[:, ky, kx0 .., :]. */
static size_t in_off(const Conv2dDims *d, int oy, int ox, int ky, const Taps *t)
{
    int iy = oy * d->stride - d->pad + ky, ix0 = ox * d->stride - d->pad + t->kx0;
    return ((size_t)iy * d->w + ix0) * d->c_in;
}

static size_t w_off(const Conv2dDims *d, int ky, const Taps *t)
{
    return ((size_t)ky * d->kw + t->kx0) * d->c_in;
}

/* Units of work, fixed by the dimensions alone (never by the thread count):
 * the forward is cut into blocks of output channels over the whole batch, the
 * din into row chunks of the batch (each unit owns the rows of its chunk),
 * the weight gradient into blocks of output channels (each unit owns those
 * rows of dW).  A unit runs every position and kernel row in the fixed order
 * with single-threaded GEMMs, so each number is summed the same way whatever
 * the threads, and a whole pass is one parallel region (one wake-up of the
 * other thread instead of one per GEMM: several hundred per step on a 7x7 map,
 * each costing a sleep and a wake on a shared CPU). */
/* din rows per unit: each unit re-packs the weights in every GEMM, so fewer,
 * larger units cost less CPU (resnet18 28 px batch 256, 1 thread: 0.359 CPU-s
 * per step with 64-row units, 0.357 with 128, 0.344 with the whole batch);
 * two units keep both threads busy. */
#define TAPS_CHUNK_ROWS 128  /* batch rows per unit, about */
#define TAPS_MIN_ROWS 16     /* never fewer rows per unit (one AVX-512 vector) */
#define TAPS_MIN_UNITS 2     /* at least this many units when the sizes allow */

static int row_chunks(int n)
{
    int c = (n + TAPS_CHUNK_ROWS - 1) / TAPS_CHUNK_ROWS;
    if (c < TAPS_MIN_UNITS) c = n / TAPS_MIN_ROWS < TAPS_MIN_UNITS ? n / TAPS_MIN_ROWS : TAPS_MIN_UNITS;
    return c < 1 ? 1 : c;
}

/* Output-channel blocks of the weight gradient: 2, each a multiple of 16
 * channels wide (one AVX-512 vector); one block for a batch too small to split
 * its rows (the work is too small to share); *width set.  Every block packs
 * the input segments of every GEMM again, so more blocks cost more: resnet50
 * at 64 px, batch 64, 2 threads (alternating, ms per pass): 8 blocks for
 * c_out >= 256 as before, 2 blocks: 8x8 map 256 channels stride 2 5.0-5.7 ->
 * 3.3-3.4, 4x4 map 512 stride 2 2.5-2.6 -> 2.2-2.3, 2x2 map 512 1.7 -> 1.3-1.5. */
static int cout_blocks(int n, int c_out, int *width)
{
    int nb = n < 2 * TAPS_MIN_ROWS ? 1 : TAPS_MIN_UNITS;
    int wd = ((c_out + nb - 1) / nb + 15) / 16 * 16;
    *width = wd;
    return (c_out + wd - 1) / wd;
}

/* One single-threaded BLAS call (we are inside our own parallel region). */
static void gemm1(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* Forward units: blocks of output channels (whole gemm_f32 panels of 64
 * channels, up to TAPS_FWD_COLS blocks), so each unit packs only its own
 * weight columns, once per GEMM, for all its rows; with row units alone every
 * unit packed all the weights again for a few rows (resnet50 at 64 px, batch
 * 64: the packing took about as long as the products).  Fewer than
 * TAPS_FWD_SPLIT column blocks (c_out < 256): each also cut into row chunks,
 * to keep both threads busy. */
#define TAPS_FWD_COLS 8
#define TAPS_FWD_SPLIT 4

/* out rows [i0, i1) of the batch, columns [c0, c1) (output channels), every
 * position: per output number one chain of fused multiply-adds over its
 * kernel rows in order (gemm_f32 continues a chain through C: beta after the
 * first row). */
static void forward_block(float *out, const float *in, const float *w, const Conv2dDims *d, int i0, int i1, int c0,
                          int c1)
{
    const int K = d->kh * d->kw * d->c_in, ldi = d->h * d->w * d->c_in, ldo = d->oh * d->ow * d->c_out;
    const int m = i1 - i0;
    in += (size_t)i0 * ldi, out += (size_t)i0 * ldo;
    for (int oy = 0; oy < d->oh; oy++)
        for (int ox = 0; ox < d->ow; ox++) {
            Taps t = taps_at(d, oy, ox);
            float *o = out + ((size_t)oy * d->ow + ox) * d->c_out + c0;
            if (t.ky1 < t.ky0 || t.kx1 < t.kx0) {   /* every tap in the padding */
                for (int i = 0; i < m; i++) memset(o + (size_t)i * ldo, 0, sizeof(float) * (size_t)(c1 - c0));
                continue;
            }
            int len = (t.kx1 - t.kx0 + 1) * d->c_in;
            for (int ky = t.ky0; ky <= t.ky1; ky++)
                /* out_p[m, c0..c1] (+)= in_seg[m, len] · W_seg[c0..c1, len]ᵀ */
                gemm_f32_serial(1, m, c1 - c0, len, in + in_off(d, oy, ox, ky, &t), ldi,
                                w + (size_t)c0 * K + w_off(d, ky, &t), K, ky != t.ky0, o, ldo);
        }
}

void conv_taps_forward(float *out, const float *in, const float *w, const Conv2dDims *d)
{
    int np = (d->c_out + 63) / 64, gp = (np + TAPS_FWD_COLS - 1) / TAPS_FWD_COLS, ncol = (np + gp - 1) / gp;
    int nrow = ncol < TAPS_FWD_SPLIT ? row_chunks(d->n) : 1;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int u = 0; u < ncol * nrow; u++) {
        int cb = u % ncol, rb = u / ncol;
        int c0 = cb * gp * 64, c1 = c0 + gp * 64 < d->c_out ? c0 + gp * 64 : d->c_out;
        forward_block(out, in, w, d, (int)((long)d->n * rb / nrow), (int)((long)d->n * (rb + 1) / nrow), c0, c1);
    }
}

/* dW rows [c0, c1) (output channels), summed over every position and the whole batch. */
static void dw_block(float *dw, const float *dout, const float *in, const Conv2dDims *d, int c0, int c1)
{
    const int K = d->kh * d->kw * d->c_in, ldi = d->h * d->w * d->c_in, ldo = d->oh * d->ow * d->c_out;
    for (int oy = 0; oy < d->oh; oy++)
        for (int ox = 0; ox < d->ow; ox++) {
            Taps t = taps_at(d, oy, ox);
            const float *g = dout + ((size_t)oy * d->ow + ox) * d->c_out + c0;
            int len = (t.kx1 - t.kx0 + 1) * d->c_in;
            for (int ky = t.ky0; ky <= t.ky1 && t.kx0 <= t.kx1; ky++)
                /* dW_seg[c0..c1, len] += dout_p[n, c0..c1]ᵀ · in_seg[n, len] */
                gemm1(1, 0, c1 - c0, len, d->n, g, ldo, in + in_off(d, oy, ox, ky, &t), ldi, 1.0f,
                      dw + (size_t)c0 * K + w_off(d, ky, &t), K);
        }
}

/* din rows [i0, i1) of the batch: overwritten (zeroed first) or accumulated. */
static void din_rows(float *din, int accumulate, const float *dout, const float *w, const Conv2dDims *d,
                     int i0, int i1)
{
    const int K = d->kh * d->kw * d->c_in, ldi = d->h * d->w * d->c_in, ldo = d->oh * d->ow * d->c_out;
    const int m = i1 - i0;
    din += (size_t)i0 * ldi, dout += (size_t)i0 * ldo;
    if (!accumulate) memset(din, 0, sizeof(float) * (size_t)m * ldi);
    for (int oy = 0; oy < d->oh; oy++)
        for (int ox = 0; ox < d->ow; ox++) {
            Taps t = taps_at(d, oy, ox);
            const float *g = dout + ((size_t)oy * d->ow + ox) * d->c_out;
            int len = (t.kx1 - t.kx0 + 1) * d->c_in;
            for (int ky = t.ky0; ky <= t.ky1 && t.kx0 <= t.kx1; ky++)
                /* din_seg[m, len] += dout_p[m, c_out] · W_seg[c_out, len] (gemm_f32: the
                 * rows of dout read in place, the weights packed by plain row copies) */
                gemm_f32_serial(0, m, len, d->c_out, g, ldo, w + w_off(d, ky, &t), K, 1,
                                din + in_off(d, oy, ox, ky, &t), ldi);
        }
}

void conv_taps_backward(float *din, int din_accumulate, float *dw, const float *dout, const float *in,
                        const float *w, const Conv2dDims *d)
{
    int bw, nb = dw ? cout_blocks(d->n, d->c_out, &bw) : 0, nc = din ? row_chunks(d->n) : 0;
    /* the dW blocks and the din chunks write disjoint memory: one region for both */
    #pragma omp parallel for schedule(dynamic, 1)
    for (int u = 0; u < nb + nc; u++) {
        if (u < nb) {
            int c0 = u * bw, c1 = c0 + bw < d->c_out ? c0 + bw : d->c_out;
            dw_block(dw, dout, in, d, c0, c1);
        } else {
            int k = u - nb;
            din_rows(din, din_accumulate, dout, w, d, (int)((long)d->n * k / nc),
                     (int)((long)d->n * (k + 1) / nc));
        }
    }
}
