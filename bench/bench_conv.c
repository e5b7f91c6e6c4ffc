/* bench_conv.c — CPU time of each convolution of a resnet18 training step.
 *
 *   build/release/bench/bench_conv [THREADS] [BS] [SIZE] [N_IN] [fp32|bf16] [all|wino]
 *   (make build/release/bench/bench_conv)
 *
 * For every distinct convolution of resnet18 on BS images of SIZE x SIZE
 * (stem, the 3x3s of each stage, the strided 3x3s and 1x1 downsamples), the
 * fastest of three forward and three backward (dW and din; dW only for the
 * stem) passes, as CPU seconds (process CPU time: robust to a shared machine,
 * unlike wall time) and as useful GFLOP per CPU second (direct-convolution
 * FLOPs, so Winograd shows above the GEMM's peak), then the step's total with
 * each convolution counted as often as resnet18 has it.  "alt": the other path
 * on the same data — fp32: by taps (conv_taps.h); bf16: by columns where bf16
 * goes by taps or Winograd (ConvScratch.bf16_columns).  "wino": only the 3x3
 * stride-1 convolutions, without the other path (to profile Winograd alone). */
#include "core/ctx.h"
#include "nn/conv.h"
#include "nn/conv_taps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct Shape { int h, cin, cout, k, s, p, count; } Shape;

int main(int argc, char **argv)
{
    int th = argc > 1 ? atoi(argv[1]) : 1, n = argc > 2 ? atoi(argv[2]) : 64, sz = argc > 3 ? atoi(argv[3]) : 128;
    int n_in = argc > 4 ? atoi(argv[4]) : 3, bf16 = argc > 5 && !strcmp(argv[5], "bf16");
    int wino = argc > 6 && !strcmp(argv[6], "wino");
    Ctx ctx = {.threads = th};
    ctx_apply_threads(&ctx);
    /* map sizes as resnet18 has them: stem /2, maxpool /2, then /2 per stage
     * (k=3, s=2, p=1 each: (h − 1)/2 + 1) */
    int q = (((sz - 1) / 2 + 1) - 1) / 2 + 1, q2 = (q - 1) / 2 + 1, q3 = (q2 - 1) / 2 + 1, q4 = (q3 - 1) / 2 + 1;
    const Shape sh[] = {{sz, n_in, 64, 7, 2, 3, 1},      {q, 64, 64, 3, 1, 1, 4},
                        {q, 64, 128, 3, 2, 1, 1},     {q2, 128, 128, 3, 1, 1, 3},
                        {q, 64, 128, 1, 2, 0, 1},     {q2, 128, 256, 3, 2, 1, 1},
                        {q3, 256, 256, 3, 1, 1, 3},   {q2, 128, 256, 1, 2, 0, 1},
                        {q3, 256, 512, 3, 2, 1, 1},   {q4, 512, 512, 3, 1, 1, 3},
                        {q3, 256, 512, 1, 2, 0, 1}};
    const size_t cap = (size_t)600 << 10;   /* as RESNET_COL_CAP */
    double tf = 0, tb = 0, flops = 0;
    printf("%-26s %10s %10s %10s %10s %10s %10s %6s\n", "conv (h, in>out, k/s)", "fwd ms", "GF/cpu-s", "bwd ms",
           "GF/cpu-s", "alt fwd", "alt bwd", "used");
    for (size_t i = 0; i < sizeof sh / sizeof *sh; i++) {
        const Shape *s = &sh[i];
        if (wino && (s->k != 3 || s->s != 1)) continue;
        Conv2dDims d = conv2d_dims(n, s->h, s->h, s->cin, s->cout, s->k, s->s, s->p);
        size_t nin = (size_t)n * d.h * d.w * d.c_in, nout = (size_t)n * d.oh * d.ow * d.c_out;
        size_t nw = (size_t)d.c_out * d.kh * d.kw * d.c_in;
        size_t nsc = bf16 ? conv2d_scratch_floats_bf16(&d, cap, th) : conv2d_scratch_floats(&d, cap, th);
        float *x = malloc(nin * 4), *y = malloc(nout * 4), *w = malloc(nw * 4), *dw = calloc(nw, 4);
        float *dx = malloc(nin * 4);
        ConvScratch cs = {nsc ? aligned_alloc(64, (nsc * 4 + 63) / 64 * 64) : NULL, nsc, cap, bf16, 0};
        for (size_t j = 0; j < nin; j++) x[j] = (float)(j % 13) * 0.1f - 0.6f;
        for (size_t j = 0; j < nw; j++) w[j] = (float)(j % 7) * 0.01f;
        for (size_t j = 0; j < nout; j++) y[j] = (float)(j % 11) * 0.1f - 0.5f;
        int stem = i == 0;
        conv2d_forward(y, x, w, &d, &cs);   /* warm-up */
        double cf = 1e30, cb = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double c0 = cpu_now();
            conv2d_forward(y, x, w, &d, &cs);
            double c1 = cpu_now();
            conv2d_backward(stem ? NULL : dx, 0, dw, y, x, w, &d, &cs);
            double c2 = cpu_now();
            if (c1 - c0 < cf) cf = c1 - c0;
            if (c2 - c1 < cb) cb = c2 - c1;
        }
        /* the other path on the same data, for comparison */
        double tpf = 0, tpb = 0;
        ConvScratch cols = cs;
        cols.bf16_columns = 1;
        if (!wino && ((d.kh > 1 && !bf16) || (bf16 && (conv2d_bf16_by_taps(&d) || conv2d_bf16_by_winograd(&d))))) {
            tpf = tpb = 1e30;
            for (int rep = 0; rep < 3; rep++) {
                double c0 = cpu_now();
                if (bf16) conv2d_forward(y, x, w, &d, &cols);
                else conv_taps_forward(y, x, w, &d);
                double c1 = cpu_now();
                if (bf16) conv2d_backward(stem ? NULL : dx, 0, dw, y, x, w, &d, &cols);
                else conv_taps_backward(stem ? NULL : dx, 0, dw, y, x, w, &d);
                double c2 = cpu_now();
                if (c1 - c0 < tpf) tpf = c1 - c0;
                if (c2 - c1 < tpb) tpb = c2 - c1;
            }
        }
        double mac = conv2d_macs_per_image(&d) * n;
        char name[64];
        snprintf(name, sizeof name, "%d, %d>%d, %dx%d/%d x%d", s->h, s->cin, s->cout, s->k, s->k, s->s, s->count);
        printf("%-26s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %5.0f%%\n", name, cf * 1e3, 2 * mac / cf / 1e9,
               cb * 1e3, (stem ? 2 : 4) * mac / cb / 1e9, tpf * 1e3, tpb * 1e3,
               100.0 * conv_taps_used(&d) / conv_taps_full(&d));
        tf += cf * s->count, tb += cb * s->count, flops += mac * s->count * (stem ? 4 : 6);
        free(x), free(y), free(w), free(dw), free(dx), free(cs.buf);
    }
    printf("step: forward %.3f cpu-s, backward %.3f cpu-s, %.1f GFLOP -> %.1f GF/cpu-s\n", tf, tb, flops / 1e9,
           flops / (tf + tb) / 1e9);
    return 0;
}
