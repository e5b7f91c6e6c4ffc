/* gemm_bf16_compare.c — the bf16 GEMM choice, measured: fastc's AVX512-BF16
 * microkernel (nn/gemm_bf16.h) against libxsmm 1.17's JIT kernel (the same
 * blocking and packing around it) and oneDNN 2.6's dnnl_gemm_bf16bf16f32, on
 * the GEMMs of resnet18's convolutions at batch 64 (forward, data gradient,
 * weight gradient), GFLOPS per CPU-second (process CPU time: robust to a loaded machine), the best of REPS.  Needs libxsmm-dev and
 * libdnnl-dev (not build dependencies of fastc):
 *
 *   make build/release/lib.a
 *   cc -O3 -march=native -fopenmp -Isrc bench/gemm_bf16_compare.c build/release/lib.a \
 *      -o build/gemm_bf16_compare -lxsmm -ldnnl -lopenblas -lm -ldl -lpthread
 *   OMP_NUM_THREADS=1 build/gemm_bf16_compare [SIZE] [REPS]
 */
#include "nn/gemm_bf16.h"

#include <oneapi/dnnl/dnnl.h>
#include <libxsmm.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);   /* CPU time: robust to a shared machine */
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void *xmalloc(size_t b) { return aligned_alloc(64, (b + 63) / 64 * 64); }

/* libxsmm's kernel in fastc's blocking: C (row-major M x N) = A (bf16 rows) · B (packed
 * VNNI panels of 64).  In libxsmm's column-major terms C' [64 x rows] = Bpanel' [64 x k]
 * (VNNI_A layout: our packed panel) · A' [k x rows] (our rows). */
#define NR GEMM_BF16_NR
#define KCP 128
#define MCR 96
static void xsmm_gemm(int M, int N, int K, const uint16_t *A, int lda, const uint32_t *Bp, float *C, int ldc)
{
    const int KP = (K + 1) / 2, np = (N + NR - 1) / NR;
    int flags = LIBXSMM_GEMM_FLAG_VNNI_A;
    for (int p0 = 0; p0 < KP; p0 += KCP) {
        int kp = KP - p0 < KCP ? KP - p0 : KCP;
        float alpha = 1, beta = p0 ? 1.0f : 0.0f;
        for (int i0 = 0; i0 < M; i0 += MCR) {
            int mr = M - i0 < MCR ? M - i0 : MCR;
            libxsmm_blasint m = NR, n = mr, k = 2 * kp, la = NR, lb = lda, lc = ldc;
            libxsmm_bsmmfunction f = libxsmm_bsmmdispatch(m, n, k, &la, &lb, &lc, &alpha, &beta, &flags, NULL);
            if (!f) { fprintf(stderr, "libxsmm: no kernel\n"); exit(1); }
            for (int j = 0; j < np; j++)
                f((const libxsmm_bfloat16 *)(Bp + ((size_t)j * KP + p0) * NR),
                  (const libxsmm_bfloat16 *)(A + (size_t)i0 * lda + 2 * p0), C + (size_t)i0 * ldc + j * NR);
        }
    }
}

/* oneDNN matmul: dst f32 [M,N] = src bf16 [M,K] (row-major) · weights bf16 [K,N]. */
typedef struct Dnn {
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dnnl_primitive_t mm;
    dnnl_memory_t src, wei, dst;
} Dnn;

#define CK(x) do { if ((x) != dnnl_success) { fprintf(stderr, "oneDNN: %s failed\n", #x); exit(1); } } while (0)

static void dnn_setup(Dnn *d, int M, int N, int K, uint16_t *A, uint16_t *B, float *C)
{
    dnnl_memory_desc_t smd, wmd, wany, dmd;
    dnnl_dims_t sd = {M, K}, wd = {K, N}, dd = {M, N};
    CK(dnnl_engine_create(&d->eng, dnnl_cpu, 0));
    CK(dnnl_stream_create(&d->st, d->eng, dnnl_stream_default_flags));
    CK(dnnl_memory_desc_init_by_tag(&smd, 2, sd, dnnl_bf16, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&wmd, 2, wd, dnnl_bf16, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&wany, 2, wd, dnnl_bf16, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&dmd, 2, dd, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t md;
    CK(dnnl_matmul_desc_init(&md, &smd, &wany, NULL, &dmd));
    dnnl_primitive_desc_t pd;
    CK(dnnl_primitive_desc_create(&pd, &md, NULL, d->eng, NULL));
    CK(dnnl_primitive_create(&d->mm, pd));
    const dnnl_memory_desc_t *wbest = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t wplain;
    CK(dnnl_memory_create(&d->src, &smd, d->eng, A));
    CK(dnnl_memory_create(&wplain, &wmd, d->eng, B));
    CK(dnnl_memory_create(&d->wei, wbest, d->eng, DNNL_MEMORY_ALLOCATE));
    CK(dnnl_memory_create(&d->dst, &dmd, d->eng, C));
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t ro;
    CK(dnnl_reorder_primitive_desc_create(&rpd, &wmd, d->eng, wbest, d->eng, NULL));
    CK(dnnl_primitive_create(&ro, rpd));
    dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, wplain}, {DNNL_ARG_TO, d->wei}};
    CK(dnnl_primitive_execute(ro, d->st, 2, ra));
    CK(dnnl_stream_wait(d->st));
    dnnl_primitive_destroy(ro), dnnl_primitive_desc_destroy(rpd), dnnl_memory_destroy(wplain);
    dnnl_primitive_desc_destroy(pd);
}

static void dnn_run(Dnn *d)
{
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, d->src}, {DNNL_ARG_WEIGHTS, d->wei}, {DNNL_ARG_DST, d->dst}};
    CK(dnnl_primitive_execute(d->mm, d->st, 3, a));
    CK(dnnl_stream_wait(d->st));
}

static void dnn_free(Dnn *d)
{
    dnnl_primitive_destroy(d->mm), dnnl_memory_destroy(d->src), dnnl_memory_destroy(d->wei);
    dnnl_memory_destroy(d->dst), dnnl_stream_destroy(d->st), dnnl_engine_destroy(d->eng);
}

typedef struct Sh { const char *name; int M, N, K; } Sh;

int main(int argc, char **argv)
{
    int size = argc > 1 ? atoi(argv[1]) : 128, reps = argc > 2 ? atoi(argv[2]) : 3, n = 64;
    int q = size / 4;
    libxsmm_init();
    printf("resnet18 %d px batch 64, %d thread(s), GFLOPS (best of %d); native bf16 %d\n", size,
           omp_get_max_threads(), reps, gemm_bf16_native());
    printf("%-28s %6s %6s %7s %9s %9s %9s\n", "GEMM", "M", "N", "K", "fastc", "libxsmm", "oneDNN");
    Sh sh[32];
    int ns = 0;
    sh[ns++] = (Sh){"stem fwd 7x7 3>64", n * (size / 2) * (size / 2), 64, 147};
    for (int s = 0, h = q, c = 64; s < 4; s++, h /= 2, c *= 2) {
        static char nm[12][40];
        snprintf(nm[3 * s], 40, "s%d fwd 3x3 %d>%d", s + 1, c, c);
        snprintf(nm[3 * s + 1], 40, "s%d din 3x3 %d>%d", s + 1, c, c);
        snprintf(nm[3 * s + 2], 40, "s%d dW  3x3 %d>%d", s + 1, c, c);
        sh[ns++] = (Sh){nm[3 * s], n * h * h, c, 9 * c};
        sh[ns++] = (Sh){nm[3 * s + 1], n * h * h, 9 * c, c};
        sh[ns++] = (Sh){nm[3 * s + 2], c, 9 * c, n * h * h};
    }
    double tot[3] = {0, 0, 0}, fl = 0;
    for (int i = 0; i < ns; i++) {
        int M = sh[i].M, N = sh[i].N, K = sh[i].K, lda = (K + 1) & ~1;
        uint16_t *A = xmalloc((size_t)M * lda * 2), *B = xmalloc((size_t)K * N * 2);
        uint32_t *Bp = xmalloc(gemm_bf16_packed_words(K, N) * 4);
        float *Bf = xmalloc((size_t)K * N * 4), *Af = xmalloc((size_t)M * K * 4);
        float *C = xmalloc((size_t)M * N * 4);
        unsigned s = 7;
        for (size_t j = 0; j < (size_t)M * K; j++) s = s * 1103515245u + 12345u, Af[j] = ((s >> 9) & 1023) / 512.0f - 1;
        for (size_t j = 0; j < (size_t)K * N; j++) s = s * 1103515245u + 12345u, Bf[j] = ((s >> 9) & 1023) / 512.0f - 1;
        bf16_convert_rows(A, lda, Af, K, M, K);
        bf16_convert(B, Bf, (size_t)K * N);
        gemm_bf16_pack_b(Bp, 0, K, N, Bf, N);
        Dnn dn;
        dnn_setup(&dn, M, N, K, A, B, C);   /* oneDNN's src is [M,K] dense: lda == K here unless K is odd */
        double best[3] = {1e30, 1e30, 1e30};
        for (int r = 0; r <= reps; r++) {
            double t0 = now();
            nn_gemm_bf16(M, N, K, A, lda, Bp, 0, C, N);
            double t1 = now();
            xsmm_gemm(M, N, K, A, lda, Bp, C, N);
            double t2 = now();
            dnn_run(&dn);
            double t3 = now();
            if (r) {   /* the first round warms up (JIT, page faults) */
                if (t1 - t0 < best[0]) best[0] = t1 - t0;
                if (t2 - t1 < best[1]) best[1] = t2 - t1;
                if (t3 - t2 < best[2]) best[2] = t3 - t2;
            }
        }
        double f = 2.0 * M * N * K;
        printf("%-28s %6d %6d %7d %9.1f %9.1f %9.1f\n", sh[i].name, M, N, K, f / best[0] / 1e9, f / best[1] / 1e9,
               f / best[2] / 1e9);
        for (int k = 0; k < 3; k++) tot[k] += best[k];
        fl += f;
        dnn_free(&dn);
        free(A), free(B), free(Bp), free(Bf), free(Af), free(C);
    }
    printf("%-28s %6s %6s %7s %9.1f %9.1f %9.1f\n", "all (time-weighted)", "", "", "", fl / tot[0] / 1e9,
           fl / tot[1] / 1e9, fl / tot[2] / 1e9);
    libxsmm_finalize();
    return 0;
}
