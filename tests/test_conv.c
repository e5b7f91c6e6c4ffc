/* test_conv.c — src/nn/conv.c: the im2col+GEMM convolution against the direct
 * one, and both against finite differences; the bf16 path against its plain
 * reference chain (bit for bit) and against the direct one (to bf16's error). */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/conv.h"
#include "nn/conv_stem16.h"
#include "nn/conv_taps.h"
#include "nn/gemm_bf16.h"
#include "nn/gemm_f32.h"
#include "nn/winograd.h"
#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Case { int n, h, w, cin, cout, k, s, p; } Case;

#define RESNET_LIKE_CAP ((size_t)1 << 20)   /* a tile cap of the order resnet.c uses */

/* resnet shapes (small), odd sizes, every kernel/stride/pad kind used */
static const Case cases[] = {
    {2, 9, 7, 3, 8, 7, 2, 3},     /* stem */
    {3, 8, 8, 16, 16, 3, 1, 1},   /* basic block 3x3 */
    {2, 9, 9, 8, 16, 3, 2, 1},    /* 3x3 stride 2, odd input */
    {2, 6, 5, 8, 24, 1, 1, 0},    /* pointwise: plain GEMM */
    {2, 7, 7, 8, 16, 1, 2, 0},    /* downsample 1x1 stride 2 */
    {1, 5, 6, 5, 3, 2, 1, 0},     /* even kernel, odd channels */
    {2, 4, 4, 4, 4, 5, 1, 2},     /* kernel larger than input after pad */
    {7, 6, 6, 4, 4, 3, 1, 1},     /* tile-parallel with one image a tile: 7 tiles in 4 groups */
};

static float *alloc_rand(size_t n, uint64_t seed, float scale)
{
    float *a = malloc(n * sizeof(float));
    gc_randn(a, n, seed, scale);
    return a;
}

/* A case's dims and sizes with random x, w and dout (seeds base, base+1, base+2). */
typedef struct Setup {
    Conv2dDims d;
    size_t nin, nout, nw;
    float *x, *w, *g;
} Setup;

static Setup setup(Case c, uint64_t base, float wscale)
{
    Setup u;
    u.d = conv2d_dims(c.n, c.h, c.w, c.cin, c.cout, c.k, c.s, c.p);
    u.nin = (size_t)c.n * c.h * c.w * c.cin, u.nout = (size_t)c.n * u.d.oh * u.d.ow * c.cout;
    u.nw = (size_t)c.cout * c.k * c.k * c.cin;
    u.x = alloc_rand(u.nin, base, 1), u.w = alloc_rand(u.nw, base + 1, wscale);
    u.g = alloc_rand(u.nout, base + 2, 1);
    return u;
}

START_TEST(fast_matches_direct_forward_and_backward)
{
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        Setup u = setup(cases[ci], 1 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        size_t nin = u.nin, nout = u.nout, nw = u.nw;
        float *x = u.x, *w = u.w, *g = u.g;
        float *y1 = malloc(nout * 4), *y2 = malloc(nout * 4);
        float *dx1 = alloc_rand(nin, 5, 1), *dx2 = malloc(nin * 4), *dw1 = alloc_rand(nw, 6, 1), *dw2 = malloc(nw * 4);
        memcpy(dx2, dx1, nin * 4);
        memcpy(dw2, dw1, nw * 4);
        /* caps: whole batch, and one image per tile (forces tiling, and the
         * tile-parallel path where a tile has enough rows) */
        size_t caps[2] = {0, 1};
        for (int t = 0; t < 2; t++) {
            size_t cf = conv2d_scratch_floats(&d, caps[t], 2);
            float *col = cf ? malloc(cf * 4) : NULL;
            ConvScratch cs = {col, cf, caps[t], 0, 0};
            conv2d_forward(y1, x, w, &d, &cs);
            conv2d_forward_ref(y2, x, w, &d);
            ck_assert_msg(tu_max_rel_err(y1, y2, nout, 1.0) < 1e-5, "case %zu fwd err %g", ci,
                          tu_max_rel_err(y1, y2, nout, 1.0));
            /* accumulate into non-zero buffers on both sides */
            float *a1 = malloc(nin * 4), *a2 = malloc(nin * 4), *w1 = malloc(nw * 4), *w2 = malloc(nw * 4);
            memcpy(a1, dx1, nin * 4), memcpy(a2, dx2, nin * 4), memcpy(w1, dw1, nw * 4), memcpy(w2, dw2, nw * 4);
            conv2d_backward(a1, 1, w1, g, x, w, &d, &cs);
            conv2d_backward_ref(a2, 1, w2, g, x, w, &d);
            ck_assert_msg(tu_max_rel_err(a1, a2, nin, 1.0) < 1e-5, "case %zu din", ci);
            ck_assert_msg(tu_max_rel_err(w1, w2, nw, 1.0) < 1e-5, "case %zu dw", ci);
            /* overwrite mode and din only */
            conv2d_backward(a1, 0, NULL, g, x, w, &d, &cs);
            conv2d_backward_ref(a2, 0, NULL, g, x, w, &d);
            ck_assert_msg(tu_max_rel_err(a1, a2, nin, 1.0) < 1e-5, "case %zu din overwrite", ci);
            free(a1), free(a2), free(w1), free(w2), free(col);
        }
        free(x), free(w), free(g), free(y1), free(y2), free(dx1), free(dx2), free(dw1), free(dw2);
    }
}
END_TEST

typedef struct GcCtx {
    Conv2dDims d;
    float *x, *w, *r, *y;
    ConvScratch cs;
    size_t nout;
} GcCtx;

static double gc_loss(void *p)
{
    GcCtx *c = p;
    conv2d_forward(c->y, c->x, c->w, &c->d, &c->cs);
    return gc_dot(c->r, c->y, c->nout);
}

START_TEST(gradients_match_finite_differences)
{
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        Case k = cases[ci];
        GcCtx c;
        c.d = conv2d_dims(k.n, k.h, k.w, k.cin, k.cout, k.k, k.s, k.p);
        size_t nin = (size_t)k.n * k.h * k.w * k.cin, nw = (size_t)k.cout * k.k * k.k * k.cin;
        c.nout = (size_t)k.n * c.d.oh * c.d.ow * k.cout;
        c.x = alloc_rand(nin, 11 + ci, 1), c.w = alloc_rand(nw, 12 + ci, 0.3f);
        c.r = alloc_rand(c.nout, 13 + ci, 1), c.y = malloc(c.nout * 4);
        c.cs.tile_cap = 1;   /* tiled: the tile-parallel path where it applies */
        c.cs.bf16 = 0;
        c.cs.floats = conv2d_scratch_floats(&c.d, 1, 2);
        c.cs.buf = c.cs.floats ? malloc(c.cs.floats * 4) : NULL;
        float *dx = calloc(nin, 4), *dw = calloc(nw, 4);
        conv2d_backward(dx, 0, dw, c.r, c.x, c.w, &c.d, &c.cs);
        double ex = gc_max_err(gc_loss, &c, c.x, dx, nin, 60, 1e-2f, 1e-3);
        double ew = gc_max_err(gc_loss, &c, c.w, dw, nw, 60, 1e-2f, 1e-3);
        ck_assert_msg(ex < 2e-3 && ew < 2e-3, "case %zu: din err %g, dw err %g", ci, ex, ew);
        free(c.x), free(c.w), free(c.r), free(c.y), free(c.cs.buf), free(dx), free(dw);
    }
}
END_TEST

START_TEST(scratch_sizes_follow_the_plan)
{
    Conv2dDims d = conv2d_dims(4, 8, 8, 64, 256, 1, 1, 0);
    ck_assert(conv2d_is_pointwise(&d));
    ck_assert_uint_eq(conv2d_scratch_floats(&d, 0, 2), 0);
    /* 3x3 unpadded (padded stride-1 ones also take Winograd's scratch) */
    Conv2dDims e = conv2d_dims(4, 10, 10, 64, 64, 3, 1, 0);
    size_t img = (size_t)8 * 8 * 9 * 64;
    /* one tile: the whole batch's columns, whatever the threads */
    ck_assert_uint_eq(conv2d_scratch_floats(&e, 0, 2), 4 * img);
    /* 64 rows per image = 1 x c_out: too few for tile-parallel; a big tile of up to
     * CONV_BIG_FACTOR caps, never below one image */
    ck_assert_uint_eq(conv2d_scratch_floats(&e, 1, 2), img);
    Conv2dDims f = conv2d_dims(8, 10, 10, 64, 16, 3, 1, 0);
    size_t nwf = (size_t)16 * 9 * 64;
    /* 64 rows per image >= 4 x 16 channels: tile-parallel, one column tile per
     * thread (no more than tiles) and CONV_GROUPS - 1 partial weight gradients */
    ck_assert_uint_eq(conv2d_scratch_floats(&f, img, 1), img + (CONV_GROUPS - 1) * nwf);
    ck_assert_uint_eq(conv2d_scratch_floats(&f, img, 2), 2 * img + (CONV_GROUPS - 1) * nwf);
    ck_assert_uint_eq(conv2d_scratch_floats(&f, 2 * img + 5, 64), 4 * 2 * img + (CONV_GROUPS - 1) * nwf);
    /* 3x3 stride 1 pad 1: room for Winograd too (the packed U, a region that
     * holds U unpacked and then the block slots, as large as one chunk's V and
     * M (here smaller than U), a zero row) */
    Conv2dDims g = conv2d_dims(4, 8, 8, 256, 256, 3, 1, 1);
    ck_assert(winograd_applies(&g) && !winograd_applies(&e) && !winograd_applies(&f));
    ck_assert_uint_ge(conv2d_scratch_floats(&g, 1, 2), winograd_scratch_floats(&g));
    ck_assert_uint_eq(winograd_scratch_floats(&g), (size_t)16 * 256 * 256 + (size_t)16 * 256 * 256 + 256);
}
END_TEST

/* max_i |a_i − b_i| / max(scale_i, 1): the error against the size of the
 * terms summed (scale = the convolution of |x| by |w|), the natural measure for
 * Winograd, whose transforms add and subtract before multiplying. */
static double err_vs_terms(const float *a, const float *b, const float *scale, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / fmax(fabs((double)scale[i]), 1.0);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static float *abs_copy(const float *a, size_t n)
{
    float *r = malloc(n * 4);
    for (size_t i = 0; i < n; i++) r[i] = fabsf(a[i]);
    return r;
}

/* Winograd against the direct convolution: forward (overwrite), din and dW
 * (accumulated onto non-zero buffers) within 1e-6 (dW 2e-6) of the terms'
 * size; odd sizes cut the 2x2 tiles, the first case runs over several chunks
 * of images (2 + 2 + 2 + 2 + 1). */
START_TEST(winograd_matches_direct)
{
    const Case cs[] = {{9, 32, 32, 64, 64, 3, 1, 1}, {2, 7, 5, 6, 10, 3, 1, 1}, {3, 1, 2, 4, 5, 3, 1, 1},
                       {2, 3, 5, 256, 256, 3, 1, 1}, {2, 4, 4, 512, 256, 3, 1, 1}};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        Case c = cs[ci];
        Setup u = setup(c, 41 + 3 * ci, 0.1f);
        Conv2dDims d = u.d;
        size_t nin = u.nin, nout = u.nout, nw = u.nw;
        float *x = u.x, *w = u.w, *g = u.g, *y1 = malloc(nout * 4), *y2 = malloc(nout * 4);
        float *d1 = alloc_rand(nin, 44 + ci, 1), *d2 = malloc(nin * 4);
        float *s = malloc(winograd_scratch_floats(&d) * 4);
        float *ax = abs_copy(x, nin), *aw = abs_copy(w, nw), *ag = abs_copy(g, nout);
        float *sy = malloc(nout * 4), *sd = calloc(nin, 4);
        conv2d_forward_ref(sy, ax, aw, &d);
        conv2d_backward_ref(sd, 1, NULL, ag, ax, aw, &d);
        ck_assert(winograd_applies(&d));
        winograd_conv(y1, 0, x, w, &d, 0, s);
        conv2d_forward_ref(y2, x, w, &d);
        double ef = err_vs_terms(y1, y2, sy, nout);
        ck_assert_msg(ef < 1e-6, "case %zu forward err %g", ci, ef);
        memcpy(d2, d1, nin * 4);
        winograd_conv(d1, 1, g, w, &d, 1, s);
        conv2d_backward_ref(d2, 1, NULL, g, x, w, &d);
        double eb = err_vs_terms(d1, d2, sd, nin);
        ck_assert_msg(eb < 1e-6, "case %zu din err %g", ci, eb);
        /* weight gradient, accumulated onto a non-zero buffer: its sums over
         * tiles of transformed values measure up to ~8e-7 of the terms here */
        float *gw1 = alloc_rand(nw, 45 + ci, 1), *gw2 = malloc(nw * 4), *sgw = calloc(nw, 4);
        memcpy(gw2, gw1, nw * 4);
        winograd_weight_grad(gw1, g, x, &d, s);
        conv2d_backward_ref(NULL, 0, gw2, g, x, w, &d);
        conv2d_backward_ref(NULL, 0, sgw, ag, ax, aw, &d);
        double egw = err_vs_terms(gw1, gw2, sgw, nw);
        ck_assert_msg(egw < 2e-6, "case %zu dw err %g", ci, egw);
        free(gw1), free(gw2), free(sgw);
        if (c.cin >= 64 && c.cout >= 64) {
            /* wide enough that conv2d_* take this path: the same bits */
            size_t cf = conv2d_scratch_floats(&d, 1, 2);
            ConvScratch sc = {malloc(cf * 4), cf, 1, 0, 0};
            float *w1 = calloc(nw, 4), *w2 = calloc(nw, 4), *dd = malloc(nin * 4);
            conv2d_forward(y2, x, w, &d, &sc);
            ck_assert(!memcmp(y1, y2, nout * 4));
            winograd_conv(d1, 0, g, w, &d, 1, s);
            conv2d_backward(dd, 0, w1, g, x, w, &d, &sc);
            ck_assert(!memcmp(d1, dd, nin * 4));
            winograd_weight_grad(w2, g, x, &d, s);
            ck_assert(!memcmp(w1, w2, nw * 4));
            free(sc.buf), free(w1), free(w2), free(dd);
        }
        free(x), free(w), free(g), free(y1), free(y2), free(d1), free(d2), free(s);
        free(ax), free(aw), free(ag), free(sy), free(sd);
    }
}
END_TEST

/* The taps path against the direct convolution, on the maps it is for and the
 * odd ones: 1x1 (centre tap only), 2x2 (4 of 9 taps each), stride 2 onto 1x1
 * and 2x2, odd and non-square maps, an even kernel, a kernel wider than the
 * padded input, and padding so wide that some outputs see no input at all.
 * Forward overwrites; din is checked accumulated onto a non-zero buffer and
 * overwritten, dW accumulated.  Then through conv2d_*: where more than half
 * the products would read padding (1x1 and 2x2 maps) it takes this path at any
 * batch size, and must give the same bits. */
START_TEST(taps_match_direct)
{
    const Case cs[] = {{3, 1, 1, 16, 8, 3, 1, 1},  {3, 2, 2, 8, 16, 3, 1, 1},  {2, 2, 2, 8, 8, 3, 2, 1},
                       {2, 4, 4, 8, 8, 3, 2, 1},   {2, 3, 5, 6, 7, 3, 1, 1},   {2, 7, 7, 5, 9, 3, 2, 1},
                       {2, 5, 6, 5, 3, 2, 1, 0},   {2, 3, 3, 4, 4, 7, 2, 3},   {2, 2, 3, 3, 4, 3, 1, 3},
                       {2, 9, 7, 3, 8, 7, 2, 3},   {1, 1, 2, 4, 4, 5, 1, 2}};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        Setup u = setup(cs[ci], 71 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        size_t nin = u.nin, nout = u.nout, nw = u.nw;
        float *y1 = alloc_rand(nout, 7, 1), *y2 = malloc(nout * 4);
        float *a1 = alloc_rand(nin, 8, 1), *a2 = malloc(nin * 4), *w1 = alloc_rand(nw, 9, 1), *w2 = malloc(nw * 4);
        memcpy(a2, a1, nin * 4), memcpy(w2, w1, nw * 4);
        conv_taps_forward(y1, u.x, u.w, &d);
        conv2d_forward_ref(y2, u.x, u.w, &d);
        ck_assert_msg(tu_max_rel_err(y1, y2, nout, 1.0) < 1e-5, "case %zu fwd", ci);
        conv_taps_backward(a1, 1, w1, u.g, u.x, u.w, &d);
        conv2d_backward_ref(a2, 1, w2, u.g, u.x, u.w, &d);
        ck_assert_msg(tu_max_rel_err(a1, a2, nin, 1.0) < 1e-5, "case %zu din", ci);
        ck_assert_msg(tu_max_rel_err(w1, w2, nw, 1.0) < 1e-5, "case %zu dw", ci);
        conv_taps_backward(a1, 0, NULL, u.g, u.x, u.w, &d);
        conv2d_backward_ref(a2, 0, NULL, u.g, u.x, u.w, &d);
        ck_assert_msg(tu_max_rel_err(a1, a2, nin, 1.0) < 1e-5, "case %zu din overwrite", ci);
        /* the products that were skipped are exactly the ones reading padding */
        long used = 0;
        for (int oy = 0; oy < d.oh; oy++)
            for (int ox = 0; ox < d.ow; ox++)
                for (int ky = 0; ky < d.kh; ky++)
                    for (int kx = 0; kx < d.kw; kx++) {
                        int iy = oy * d.stride - d.pad + ky, ix = ox * d.stride - d.pad + kx;
                        used += iy >= 0 && iy < d.h && ix >= 0 && ix < d.w;
                    }
        ck_assert_int_eq(conv_taps_used(&d), used);
        if (2 * conv_taps_used(&d) <= conv_taps_full(&d)) {   /* conv2d_* policy: taps */
            size_t cf = conv2d_scratch_floats(&d, 0, 2);
            ConvScratch sc = {cf ? malloc(cf * 4) : NULL, cf, 0, 0, 0};
            float *y3 = malloc(nout * 4), *a3 = malloc(nin * 4), *w3 = calloc(nw, 4), *w4 = calloc(nw, 4);
            conv2d_forward(y3, u.x, u.w, &d, &sc);
            ck_assert_msg(!memcmp(y1, y3, nout * 4), "case %zu conv2d_forward takes the taps", ci);
            conv2d_backward(a3, 0, w3, u.g, u.x, u.w, &d, &sc);
            conv_taps_backward(a1, 0, w4, u.g, u.x, u.w, &d);
            ck_assert_msg(!memcmp(a1, a3, nin * 4) && !memcmp(w3, w4, nw * 4), "case %zu backward", ci);
            free(sc.buf), free(y3), free(a3), free(w3), free(w4);
        }
        free(u.x), free(u.w), free(u.g), free(y1), free(y2), free(a1), free(a2), free(w1), free(w2);
    }
}
END_TEST

/* The taps forward's documented order (conv_taps.h): each output is one chain
 * of fused multiply-adds over its taps inside the input, kernel row by kernel
 * row, then kx, then ci, from +0 (an output with no tap inside is 0) — bit for
 * bit, with 1 and 2 threads; the unit layouts: c_out under 256 (column blocks
 * cut into row chunks) and over (column blocks alone, a tail panel), K over a
 * gemm_f32 slice, and padding so wide that some outputs see no input. */
START_TEST(taps_forward_is_one_chain_per_output)
{
    if (!gemm_f32_native()) return;   /* OpenBLAS there: taps_match_direct's bound */
    const Case cs[] = {{40, 2, 2, 100, 130, 3, 1, 1}, {33, 4, 4, 64, 300, 3, 2, 1}, {5, 2, 3, 9, 70, 3, 1, 3},
                       {4, 1, 1, 16, 520, 3, 1, 1}};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        Setup u = setup(cs[ci], 301 + 3 * ci, 0.3f);
        const Conv2dDims d = u.d;
        float *ref = malloc(u.nout * 4), *y = malloc(u.nout * 4);
        for (int i = 0; i < d.n; i++)
            for (int oy = 0; oy < d.oh; oy++)
                for (int ox = 0; ox < d.ow; ox++)
                    for (int o = 0; o < d.c_out; o++) {
                        float acc = 0.0f;
                        for (int ky = 0; ky < d.kh; ky++)
                            for (int kx = 0; kx < d.kw; kx++) {
                                int iy = oy * d.stride - d.pad + ky, ix = ox * d.stride - d.pad + kx;
                                if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
                                const float *xp = u.x + (((size_t)i * d.h + iy) * d.w + ix) * d.c_in;
                                const float *wp = u.w + (((size_t)o * d.kh + ky) * d.kw + kx) * d.c_in;
                                for (int c = 0; c < d.c_in; c++) acc = fmaf(xp[c], wp[c], acc);
                            }
                        ref[(((size_t)i * d.oh + oy) * d.ow + ox) * d.c_out + o] = acc;
                    }
        for (int t = 1; t <= 2; t++) {
            omp_set_num_threads(t);
            memset(y, 0xff, u.nout * 4);   /* NaN: every output must be written */
            conv_taps_forward(y, u.x, u.w, &d);
            ck_assert_msg(!memcmp(y, ref, u.nout * 4), "case %zu, %d threads", ci, t);
        }
        omp_set_num_threads(1);
        free(u.x), free(u.w), free(u.g), free(ref), free(y);
    }
}
END_TEST

/* Same inputs, 1 or 2 threads, any scratch size: bit-identical outputs and
 * gradients (the tiling and the weight-gradient groups never follow the threads). */
START_TEST(same_bits_with_any_thread_count)
{
    /* the 6th to 8th take the taps path: a 1x1 and a 2x2 map, and a batch of
     * 128 on a 7x7 map with 64 channels (which Winograd would take otherwise);
     * the last two Winograd (bf16 too), the second over two chunks */
    const Case cs[] = {{7, 6, 6, 4, 4, 3, 1, 1}, {5, 10, 10, 8, 8, 3, 2, 1}, {3, 8, 8, 16, 16, 3, 1, 1},
                       {5, 9, 9, 8, 8, 3, 1, 0}, {3, 4, 3, 256, 256, 3, 1, 1}, {40, 1, 1, 64, 96, 3, 1, 1},
                       {40, 2, 2, 96, 64, 3, 1, 1}, {128, 7, 7, 64, 64, 3, 1, 1}, {3, 8, 8, 64, 64, 3, 1, 1},
                       {14, 9, 9, 64, 128, 3, 1, 1}};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        Setup u = setup(cs[ci], 131 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        size_t nin = u.nin, nout = u.nout, nw = u.nw;
        float *x = u.x, *w = u.w, *g = u.g;
        float *y[2], *dx[2], *dw[2];
        for (int bf16 = 0; bf16 < 2; bf16++) {
            for (int t = 0; t < 2; t++) {
                omp_set_num_threads(t + 1);
                size_t cap = 1, cf = bf16 ? conv2d_scratch_floats_bf16(&d, cap, t ? 3 : 1)
                                          : conv2d_scratch_floats(&d, cap, t ? 3 : 1);
                ConvScratch s = {malloc(cf * 4), cf, cap, bf16, 0};
                y[t] = malloc(nout * 4), dx[t] = malloc(nin * 4), dw[t] = alloc_rand(nw, 34, 1);
                conv2d_forward(y[t], x, w, &d, &s);
                conv2d_backward(dx[t], 0, dw[t], g, x, w, &d, &s);
                free(s.buf);
            }
            ck_assert_msg(!memcmp(y[0], y[1], nout * 4), "case %zu bf16 %d forward", ci, bf16);
            ck_assert_msg(!memcmp(dx[0], dx[1], nin * 4), "case %zu bf16 %d din", ci, bf16);
            ck_assert_msg(!memcmp(dw[0], dw[1], nw * 4), "case %zu bf16 %d dw", ci, bf16);
            for (int t = 0; t < 2; t++) free(y[t]), free(dx[t]), free(dw[t]);
        }
        free(x), free(w), free(g);
    }
    omp_set_num_threads(1);
}
END_TEST

static int same_bits(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof(float)); }

/* Run h's three backward results (din accumulated onto a[h], din alone a0[h],
 * dW alone w[h]) have run 0's bits. */
static void assert_same_backward(float *const a[], float *const a0[], float *const w[], int h, const Setup *u,
                                 size_t ci)
{
    ck_assert_msg(same_bits(a[0], a[h], u->nin), "case %zu run %d: din accumulated", ci, h);
    ck_assert_msg(same_bits(a0[0], a0[h], u->nin), "case %zu run %d: din", ci, h);
    ck_assert_msg(same_bits(w[0], w[h], u->nw), "case %zu run %d: dw", ci, h);
}

/* The bf16 convolutions that take their operands as bf16 rows: 1x1 in place and
 * through the columns (whole batch, one-image tiles, the tile-parallel groups,
 * the big path's sequential tiles), odd c_in, strided 1x1 and 3x3, the stem's
 * 7x7, the taps (one tile, two row units, groups of tiles); {case, tile cap}. */
typedef struct { Case c; size_t cap; } RowCase;
static const RowCase BF16_ROW_CASES[] = {
    {{2, 6, 5, 8, 24, 1, 1, 0}, 0},      {{7, 6, 6, 16, 8, 1, 1, 0}, 1},
    {{5, 8, 8, 64, 256, 1, 1, 0}, 4096}, {{3, 4, 4, 256, 512, 1, 1, 0}, 1},
    {{2, 6, 5, 5, 6, 1, 1, 0}, 1},       {{2, 7, 7, 8, 16, 1, 2, 0}, 1},
    {{2, 9, 9, 8, 16, 3, 2, 1}, 1},      {{2, 9, 7, 3, 8, 7, 2, 3}, 0},
    {{3, 8, 8, 16, 16, 3, 1, 1}, 1},     {{3, 2, 2, 64, 32, 3, 1, 1}, 1},
    {{35, 4, 4, 64, 16, 3, 2, 1}, 1},    {{9, 4, 4, 64, 16, 3, 1, 1}, 73728},
    {{3, 8, 8, 64, 64, 3, 1, 1}, 0},     {{2, 7, 9, 80, 64, 3, 1, 1}, 0}};   /* the last two: Winograd */
#define N_ROW_CASES (sizeof BF16_ROW_CASES / sizeof BF16_ROW_CASES[0])

/* bf16 path against conv2d_*_ref_bf16: the whole batch in one tile is one chain
 * per number, bit for bit; in one-image tiles the forward and din are still,
 * and the weight gradient differs only by how the fp32 group sums fall. */
START_TEST(bf16_matches_its_reference_chain)
{
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        Setup u = setup(cases[ci], 71 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        float *y1 = malloc(u.nout * 4), *y2 = malloc(u.nout * 4);
        float *a1 = alloc_rand(u.nin, 5, 1), *a2 = malloc(u.nin * 4), *w1 = alloc_rand(u.nw, 6, 1), *w2 = malloc(u.nw * 4);
        float *a0 = malloc(u.nin * 4), *w0 = malloc(u.nw * 4);
        memcpy(a0, a1, u.nin * 4), memcpy(w0, w1, u.nw * 4);
        conv2d_forward_ref_bf16(y2, u.x, u.w, &d);
        memcpy(a2, a0, u.nin * 4), memcpy(w2, w0, u.nw * 4);
        conv2d_backward_ref_bf16(a2, 1, w2, u.g, u.x, u.w, &d);
        size_t caps[2] = {0, 1};
        for (int t = 0; t < 2; t++) {
            size_t cf = conv2d_scratch_floats_bf16(&d, caps[t], 2);
            ConvScratch cs = {malloc(cf * 4), cf, caps[t], 1, 0};
            conv2d_forward(y1, u.x, u.w, &d, &cs);
            ck_assert_msg(same_bits(y1, y2, u.nout), "case %zu cap %zu forward", ci, caps[t]);
            memcpy(a1, a0, u.nin * 4), memcpy(w1, w0, u.nw * 4);
            conv2d_backward(a1, 1, w1, u.g, u.x, u.w, &d, &cs);
            ck_assert_msg(same_bits(a1, a2, u.nin), "case %zu cap %zu din", ci, caps[t]);
            if (t == 0) ck_assert_msg(same_bits(w1, w2, u.nw), "case %zu dw", ci);
            else ck_assert_msg(tu_max_rel_err(w1, w2, u.nw, 1.0) < 1e-5, "case %zu tiled dw", ci);
            free(cs.buf);
        }
        free(u.x), free(u.w), free(u.g), free(y1), free(y2), free(a0), free(a1), free(a2), free(w0), free(w1), free(w2);
    }
}
END_TEST

/* |fast − exact| <= (2^-7 + 2^-16) · Σ|a|·|b| + fp32's own error, element by
 * element: bf16 keeps 8 significant bits (unit roundoff u = 2^-8), so a product
 * of two rounded values is within 2u + u² of the exact one, and the fp32 sum
 * adds at most K·2^-24 of Σ|a||b|. */
static void check_bf16_bound(const float *fast, const double *exact, const double *absum, size_t n, int K,
                             const char *what, size_t ci)
{
    int rounded = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(fast[i] - exact[i]), bound = (ldexp(1, -7) + ldexp(1, -16) + K * ldexp(1, -24)) * absum[i] + 1e-30;
        ck_assert_msg(e <= bound, "case %zu %s[%zu]: error %g above the bound %g", ci, what, i, e, bound);
        rounded |= e > 0;
    }
    ck_assert_msg(rounded, "case %zu %s: no rounding at all?", ci, what);
}

static double *to_double(const float *a, size_t n)
{
    double *d = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

static float *absolute(const float *a, size_t n)
{
    float *b = malloc(n * 4);
    for (size_t i = 0; i < n; i++) b[i] = fabsf(a[i]);
    return b;
}

/* ... and the bf16 numbers are the convolution's within bf16's error bound
 * (the exact values and Σ|a||b| from the direct convolution, in double but
 * rounded to fp32 on output: a bound 1e-7 looser than the true one). */
START_TEST(bf16_is_within_its_error_bound)
{
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        Setup u = setup(cases[ci], 91 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        int K = d.kh * d.kw * d.c_in;
        float *y1 = malloc(u.nout * 4), *y2 = malloc(u.nout * 4), *ya = malloc(u.nout * 4);
        float *a1 = malloc(u.nin * 4), *a2 = malloc(u.nin * 4), *aa = malloc(u.nin * 4);
        float *w1 = calloc(u.nw, 4), *w2 = calloc(u.nw, 4), *wa = calloc(u.nw, 4);
        float *xa = absolute(u.x, u.nin), *wabs = absolute(u.w, u.nw), *ga = absolute(u.g, u.nout);
        size_t cf = conv2d_scratch_floats_bf16(&d, 1, 2);
        ConvScratch cs = {malloc(cf * 4), cf, 1, 1, 0};
        conv2d_forward(y1, u.x, u.w, &d, &cs);
        conv2d_backward(a1, 0, w1, u.g, u.x, u.w, &d, &cs);
        conv2d_forward_ref(y2, u.x, u.w, &d);
        conv2d_backward_ref(a2, 0, w2, u.g, u.x, u.w, &d);
        conv2d_forward_ref(ya, xa, wabs, &d);
        conv2d_backward_ref(aa, 0, wa, ga, xa, wabs, &d);
        double *e[3] = {to_double(y2, u.nout), to_double(a2, u.nin), to_double(w2, u.nw)};
        double *b[3] = {to_double(ya, u.nout), to_double(aa, u.nin), to_double(wa, u.nw)};
        for (size_t i = 0; i < u.nout; i++) b[0][i] += 2e-7 * b[0][i];   /* the fp32 rounding of the references */
        for (size_t i = 0; i < u.nin; i++) b[1][i] += 2e-7 * b[1][i];
        for (size_t i = 0; i < u.nw; i++) b[2][i] += 2e-7 * b[2][i];
        check_bf16_bound(y1, e[0], b[0], u.nout, K, "out", ci);
        check_bf16_bound(a1, e[1], b[1], u.nin, d.c_out * d.kh * d.kw, "din", ci);
        check_bf16_bound(w1, e[2], b[2], u.nw, d.n * d.oh * d.ow, "dw", ci);
        for (int k = 0; k < 3; k++) free(e[k]), free(b[k]);
        free(cs.buf), free(u.x), free(u.w), free(u.g), free(y1), free(y2), free(ya), free(a1), free(a2), free(aa);
        free(w1), free(w2), free(wa), free(xa), free(wabs), free(ga);
    }
}
END_TEST

/* On small maps bf16 goes by taps (only the kernel segments inside the input
 * are multiplied) with the columns' chains: the same bits as the columns path
 * (ConvScratch.bf16_columns), forward, din (accumulated and overwritten) and
 * dW, in one tile, in one-image tiles and in tiles summed in groups (odd rows
 * per tile included). */
START_TEST(bf16_taps_give_the_columns_bits)
{
    typedef struct { Case c; size_t cap; } TC;
    const TC cs[] = {{{3, 2, 2, 64, 32, 3, 1, 1}, 0},    {{3, 2, 2, 64, 32, 3, 1, 1}, 1},
                     {{2, 1, 1, 64, 64, 3, 1, 1}, 1},    {{2, 4, 4, 64, 16, 3, 2, 1}, 0},
                     {{5, 4, 4, 64, 48, 3, 1, 1}, 1},    {{3, 3, 5, 128, 24, 3, 1, 1}, 0},
                     {{9, 4, 4, 64, 16, 3, 1, 1}, 73728}, {{5, 3, 5, 64, 2, 3, 1, 1}, 17280},
                     {{4, 2, 3, 64, 80, 3, 1, 1}, 0},    {{40, 2, 2, 64, 32, 3, 1, 1}, 0},
                     {{35, 4, 4, 64, 16, 3, 2, 1}, 1}};   /* the last two: din in two row units */
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        Setup u = setup(cs[ci].c, 211 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        ck_assert_msg(conv2d_bf16_by_taps(&d), "case %zu goes by taps", ci);
        size_t cf = conv2d_scratch_floats_bf16(&d, cs[ci].cap, 2);
        float *y[2], *a[2], *w[2], *a0[2];
        for (int cols = 0; cols < 2; cols++) {
            omp_set_num_threads(cols + 1);   /* and the thread count changes nothing */
            ConvScratch sc = {malloc(cf * 4), cf, cs[ci].cap, 1, cols};
            y[cols] = malloc(u.nout * 4), a[cols] = alloc_rand(u.nin, 5, 1), w[cols] = alloc_rand(u.nw, 6, 1);
            a0[cols] = malloc(u.nin * 4);
            conv2d_forward(y[cols], u.x, u.w, &d, &sc);
            conv2d_backward(a[cols], 1, w[cols], u.g, u.x, u.w, &d, &sc);
            conv2d_backward(a0[cols], 0, NULL, u.g, u.x, u.w, &d, &sc);
            conv2d_backward(NULL, 0, w[cols], u.g, u.x, u.w, &d, &sc);
            free(sc.buf);
        }
        ck_assert_msg(same_bits(y[0], y[1], u.nout), "case %zu forward", ci);
        assert_same_backward(a, a0, w, 1, &u, ci);
        for (int k = 0; k < 2; k++) free(y[k]), free(a[k]), free(w[k]), free(a0[k]);
        free(u.x), free(u.w), free(u.g);
    }
    omp_set_num_threads(1);
}
END_TEST

/* The bf16 columns path's din without the tile's fp32 columns (products of one
 * panel added in the taps' order, the first add of an overwritten din as +0 +
 * p, pixels no tap reads zeroed) and its weight gradient from panels packed
 * straight from the input hold conv2d_*_ref_bf16's bits: forward, din
 * overwritten (over NaNs) and accumulated, dW; input fp32 and bf16; strided 3x3s
 * and 1x1s with c_in a multiple of 64 (one tap per panel) and not (panels across
 * taps), an odd row count (the last pair's zero partner), odd maps, the big path
 * in one tile and in sequential tiles, the tile-parallel path (its groups make
 * dW's sums another chain: held to 1e-5). */
START_TEST(bf16_columns_din_and_panels_match_the_reference)
{
    typedef struct { Case c; size_t cap; int dw_exact; } SC;
    const SC cs[] = {{{2, 9, 9, 64, 16, 3, 2, 1}, 0, 1},   {{3, 9, 9, 64, 16, 3, 2, 1}, 0, 1},
                     {{3, 8, 8, 128, 32, 3, 2, 1}, 1, 1},  {{8, 8, 8, 64, 2, 3, 2, 1}, 1, 0},
                     {{2, 7, 7, 64, 16, 1, 2, 0}, 0, 1},   {{3, 8, 8, 64, 16, 1, 2, 0}, 1, 1},
                     {{2, 6, 6, 96, 16, 3, 2, 1}, 0, 1},   {{2, 9, 9, 8, 16, 3, 2, 1}, 0, 1},
                     {{2, 6, 7, 64, 24, 3, 1, 1}, 0, 1}};
    omp_set_num_threads(2);
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        Setup u = setup(cs[ci].c, 601 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        size_t cf = conv2d_scratch_floats_bf16(&d, cs[ci].cap, 2);
        ConvScratch sc = {malloc(cf * 4), cf, cs[ci].cap, 1, 1};
        uint16_t *x16 = malloc(u.nin * 2);
        bf16_convert(x16, u.x, u.nin);
        float *y = malloc(u.nout * 4), *yr = malloc(u.nout * 4), *ar = alloc_rand(u.nin, 5, 1);
        float *a = malloc(u.nin * 4), *a0r = malloc(u.nin * 4), *a0 = malloc(u.nin * 4);
        float *wr = alloc_rand(u.nw, 6, 1), *w = malloc(u.nw * 4);
        float *a_init = malloc(u.nin * 4), *w_init = malloc(u.nw * 4);
        memcpy(a_init, ar, u.nin * 4), memcpy(w_init, wr, u.nw * 4);
        conv2d_forward_ref_bf16(yr, u.x, u.w, &d);
        conv2d_backward_ref_bf16(ar, 1, wr, u.g, u.x, u.w, &d);
        conv2d_backward_ref_bf16(a0r, 0, NULL, u.g, u.x, u.w, &d);
        for (int h = 0; h < 2; h++) {   /* input fp32, then bf16 */
            if (h) conv2d_forward_in16(y, x16, u.w, &d, &sc);
            else conv2d_forward(y, u.x, u.w, &d, &sc);
            ck_assert_msg(same_bits(y, yr, u.nout), "case %zu input %d: forward", ci, h);
            memcpy(a, a_init, u.nin * 4), memcpy(w, w_init, u.nw * 4);
            for (size_t i = 0; i < u.nin; i++) a0[i] = NAN;
            if (h) {
                conv2d_backward_in16(a, 1, w, u.g, x16, u.w, &d, &sc);
                conv2d_backward_in16(a0, 0, NULL, u.g, x16, u.w, &d, &sc);
            } else {
                conv2d_backward(a, 1, w, u.g, u.x, u.w, &d, &sc);
                conv2d_backward(a0, 0, NULL, u.g, u.x, u.w, &d, &sc);
            }
            ck_assert_msg(same_bits(a, ar, u.nin), "case %zu input %d: din accumulated", ci, h);
            ck_assert_msg(same_bits(a0, a0r, u.nin), "case %zu input %d: din", ci, h);
            if (cs[ci].dw_exact) ck_assert_msg(same_bits(w, wr, u.nw), "case %zu input %d: dw", ci, h);
            else ck_assert_msg(tu_max_rel_err(w, wr, u.nw, 1.0) < 1e-5, "case %zu input %d: grouped dw", ci, h);
        }
        free(sc.buf), free(x16), free(y), free(yr), free(ar), free(a), free(a0r), free(a0), free(wr), free(w);
        free(a_init), free(w_init), free(u.x), free(u.w), free(u.g);
    }
    omp_set_num_threads(1);
}
END_TEST

/* An overwritten din starts from +0, as col2im after its clearing: a din whose
 * products sum to −0 (the chain 0 + 2^-126 − 1.5·2^-126 flushed to a zero of its
 * sign) is +0, and stays so as the other taps add their −0s (3x3 and 1x1, stride 2). */
START_TEST(bf16_overwritten_din_starts_from_plus_zero)
{
    const Case cs[] = {{2, 8, 8, 64, 2, 3, 2, 1}, {2, 8, 8, 64, 2, 1, 2, 0}};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        Setup u = setup(cs[ci], 811 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        /* dout[m] = (−1.5·2^-63, 2^-63), W[co][...] = 2^-63: the chain over c_out (odd first)
         * is ftz(ftz(0 + 2^-126) − 1.5·2^-126) = −0 */
        for (size_t m = 0; m < u.nout / 2; m++) u.g[2 * m] = -1.5f * ldexpf(1, -63), u.g[2 * m + 1] = ldexpf(1, -63);
        for (size_t i = 0; i < u.nw; i++) u.w[i] = ldexpf(1, -63);
        size_t cf = conv2d_scratch_floats_bf16(&d, 0, 2);
        ConvScratch sc = {malloc(cf * 4), cf, 0, 1, 1};
        float *a = malloc(u.nin * 4), *ar = malloc(u.nin * 4);
        for (size_t i = 0; i < u.nin; i++) a[i] = NAN;
        conv2d_backward_ref_bf16(ar, 0, NULL, u.g, u.x, u.w, &d);
        conv2d_backward(a, 0, NULL, u.g, u.x, u.w, &d, &sc);
        for (size_t i = 0; i < u.nin; i++)
            ck_assert_msg(ar[i] == 0 && !signbit(ar[i]), "case %zu: the reference's din[%zu] is +0", ci, i);
        ck_assert_msg(same_bits(a, ar, u.nin), "case %zu: din", ci);
        free(sc.buf), free(a), free(ar), free(u.x), free(u.w), free(u.g);
    }
}
END_TEST

/* bf16 with the input given as bf16 (conv2d_*_in16: rounded once by its
 * producer) gives the bits of the fp32 input rounded by the convolution itself:
 * forward, din accumulated and overwritten, dW, on BF16_ROW_CASES (1x1s read the
 * bf16 rows in place; Winograd's transforms load them). */
START_TEST(bf16_input_given_as_bf16_gives_the_same_bits)
{
    const RowCase *cs = BF16_ROW_CASES;
    omp_set_num_threads(2);
    for (size_t ci = 0; ci < N_ROW_CASES; ci++) {
        Setup u = setup(cs[ci].c, 307 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        size_t cf = conv2d_scratch_floats_bf16(&d, cs[ci].cap, 2);
        ConvScratch sc = {malloc(cf * 4), cf, cs[ci].cap, 1, 0};
        ck_assert_msg(conv2d_bf16_takes_in16(&d, &sc), "case %zu takes bf16", ci);
        uint16_t *x16 = malloc(u.nin * 2);
        bf16_convert(x16, u.x, u.nin);
        float *y[2], *a[2], *w[2], *a0[2];
        for (int h = 0; h < 2; h++) {
            y[h] = malloc(u.nout * 4), a[h] = alloc_rand(u.nin, 5, 1), w[h] = alloc_rand(u.nw, 6, 1);
            a0[h] = malloc(u.nin * 4);
            if (h) {
                conv2d_forward_in16(y[h], x16, u.w, &d, &sc);
                conv2d_backward_in16(a[h], 1, w[h], u.g, x16, u.w, &d, &sc);
                conv2d_backward_in16(a0[h], 0, NULL, u.g, x16, u.w, &d, &sc);
                conv2d_backward_in16(NULL, 0, w[h], u.g, x16, u.w, &d, &sc);
            } else {
                conv2d_forward(y[h], u.x, u.w, &d, &sc);
                conv2d_backward(a[h], 1, w[h], u.g, u.x, u.w, &d, &sc);
                conv2d_backward(a0[h], 0, NULL, u.g, u.x, u.w, &d, &sc);
                conv2d_backward(NULL, 0, w[h], u.g, u.x, u.w, &d, &sc);
            }
        }
        ck_assert_msg(same_bits(y[0], y[1], u.nout), "case %zu forward", ci);
        assert_same_backward(a, a0, w, 1, &u, ci);
        for (int k = 0; k < 2; k++) free(y[k]), free(a[k]), free(w[k]), free(a0[k]);
        free(x16), free(sc.buf), free(u.x), free(u.w), free(u.g);
    }
    Conv2dDims wd = conv2d_dims(2, 8, 8, 64, 64, 3, 1, 1);
    ConvScratch ws = {NULL, 0, 0, 1, 0};
    ck_assert_msg(conv2d_bf16_by_winograd(&wd) && conv2d_bf16_takes_in16(&wd, &ws), "Winograd reads bf16");
    ws.bf16 = 0;
    ck_assert(!conv2d_bf16_takes_in16(&wd, &ws));
    omp_set_num_threads(1);
}
END_TEST

/* A narrow input (few channels, short kernel rows: the stem) goes without
 * whole-tile columns (conv_stem16.h) and gives the columns path's bits
 * (ConvScratch.bf16_columns = 2): forward (input fp32 and bf16, output fp32 and
 * bf16 over its scratch), dW accumulated onto a non-zero one (dout fp32, bf16
 * packed and 2·c_out apart, input bf16), din beside dW, with 1 and 2 threads;
 * {case, tile cap}: the stem's 7x7/2 in the tile-parallel groups (4 groups of 5
 * tiles, and one tile a group), in one big tile, an odd output width (dW then
 * by the columns), two and three panels of output channels, stride 3, one
 * channel, an odd c_out. */
START_TEST(bf16_narrow_input_gives_the_columns_bits)
{
    static const RowCase ncs[] = {
        {{5, 16, 16, 3, 8, 7, 2, 3}, 1},   {{3, 16, 16, 3, 8, 7, 2, 3}, 1},     {{3, 20, 24, 3, 64, 7, 2, 3}, 1},
        {{4, 16, 17, 2, 70, 5, 1, 2}, 1},  {{2, 30, 72, 5, 130, 3, 3, 0}, 0},   {{3, 33, 34, 1, 16, 5, 1, 2}, 1},
        {{6, 12, 12, 3, 7, 4, 2, 1}, 1},   {{2, 64, 64, 3, 64, 7, 2, 3}, RESNET_LIKE_CAP}};
    for (size_t ci = 0; ci < sizeof ncs / sizeof ncs[0]; ci++) {
        Setup u = setup(ncs[ci].c, 503 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        const int ld = 2 * d.c_out;
        if (gemm_bf16_native()) {
            ck_assert_msg(conv_stem16_forward_applies(&d), "case %zu goes without columns", ci);
            ck_assert_msg(conv_stem16_dw_applies(&d) == (d.ow % 2 == 0), "case %zu: dW by planes iff ow even", ci);
        }
        uint16_t *x16 = malloc(u.nin * 2), *g16 = malloc(u.nout * 2), *g2 = malloc(u.nout * 4);
        bf16_convert(x16, u.x, u.nin);
        bf16_convert(g16, u.g, u.nout);
        for (size_t i = 0; i < u.nout * 2; i++) g2[i] = (uint16_t)(0x7fc1 + i % 7);   /* NaNs between the rows */
        for (size_t m = 0; m < u.nout / d.c_out; m++) memcpy(g2 + m * ld, g16 + m * d.c_out, d.c_out * 2);
        float *y[3][2], *w[3][5], *a[3];
        uint16_t *o16[3];
        for (int r = 0; r < 3; r++) {   /* whole columns; this path with 1 and 2 threads */
            omp_set_num_threads(r == 2 ? 2 : 1);
            size_t cf = conv2d_scratch_floats_bf16(&d, ncs[ci].cap, r == 2 ? 2 : 1);
            ConvScratch sc = {malloc(cf * 4), cf, ncs[ci].cap, 1, r == 0 ? 2 : 0};
            y[r][0] = malloc(u.nout * 4), y[r][1] = malloc(u.nout * 4), o16[r] = malloc(u.nout * 2);
            float *acc = malloc(u.nout * 4);
            conv2d_forward(y[r][0], u.x, u.w, &d, &sc);
            conv2d_forward_in16(y[r][1], x16, u.w, &d, &sc);
            conv2d_forward_out16((uint16_t *)acc, ld, acc, u.x, NULL, u.w, &d, &sc);
            for (size_t m = 0; m < u.nout / d.c_out; m++) memcpy(o16[r] + m * d.c_out, (uint16_t *)acc + m * ld, d.c_out * 2);
            for (int h = 0; h < 5; h++) w[r][h] = alloc_rand(u.nw, 6, 1);
            a[r] = alloc_rand(u.nin, 5, 1);
            conv2d_backward(NULL, 0, w[r][0], u.g, u.x, u.w, &d, &sc);
            conv2d_backward_in16(NULL, 0, w[r][1], u.g, x16, u.w, &d, &sc);
            conv2d_backward(a[r], 1, w[r][4], u.g, u.x, u.w, &d, &sc);
            if (conv2d_bf16_takes_dout16(&d, &sc)) {
                conv2d_backward_dout16(NULL, 0, w[r][2], g16, d.c_out, u.x, NULL, u.w, &d, &sc);
                conv2d_backward_dout16(NULL, 0, w[r][3], g2, ld, NULL, x16, u.w, &d, &sc);
            }
            free(acc), free(sc.buf);
        }
        for (int r = 1; r < 3; r++) {
            ck_assert_msg(same_bits(y[0][0], y[r][0], u.nout), "case %zu run %d forward", ci, r);
            ck_assert_msg(same_bits(y[0][1], y[r][1], u.nout), "case %zu run %d forward, bf16 input", ci, r);
            ck_assert_msg(!memcmp(o16[0], o16[r], u.nout * 2), "case %zu run %d bf16 output", ci, r);
            for (int h = 0; h < 5; h++) ck_assert_msg(same_bits(w[0][h], w[r][h], u.nw), "case %zu run %d dw %d", ci, r, h);
            ck_assert_msg(same_bits(a[0], a[r], u.nin), "case %zu run %d din", ci, r);
        }
        for (int h = 1; h < 5; h++)   /* (bf16 dout only where c_out is even) */
            if (d.c_out % 2 == 0 || h == 1 || h == 4)
                ck_assert_msg(same_bits(w[0][0], w[0][h], u.nw), "case %zu: dw %d", ci, h);
        for (int r = 0; r < 3; r++) {
            free(y[r][0]), free(y[r][1]), free(o16[r]), free(a[r]);
            for (int h = 0; h < 5; h++) free(w[r][h]);
        }
        free(x16), free(g16), free(g2), free(u.x), free(u.w), free(u.g);
    }
    omp_set_num_threads(1);
}
END_TEST

/* bf16 with the output stored as bf16 (conv2d_forward_out16: by the GEMM, in a
 * buffer of its own or over the fp32 scratch) gives bf16_from_f32 of
 * conv2d_forward's output, bit for bit, the input as fp32 and as bf16, for 1 and
 * 2 threads, on BF16_ROW_CASES: by the columns' GEMM, Winograd's output
 * transform and the taps' rounding pass (each case also forced to the columns). */
START_TEST(bf16_output_stored_as_bf16_is_the_rounded_output)
{
    const RowCase *cs = BF16_ROW_CASES;
    for (size_t ci = 0; ci < N_ROW_CASES; ci++) {
        Setup u = setup(cs[ci].c, 401 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        size_t cf = conv2d_scratch_floats_bf16(&d, cs[ci].cap, 2);
        ConvScratch sc = {malloc(cf * 4), cf, cs[ci].cap, 1, 0};
        ck_assert_msg(conv2d_bf16_gives_out16(&d, &sc), "case %zu gives bf16", ci);
        uint16_t *x16 = malloc(u.nin * 2);
        bf16_convert(x16, u.x, u.nin);
        float *y = malloc(u.nout * 4), *o = malloc(u.nout * 4);
        uint16_t *h = malloc(u.nout * 2);
        size_t rows = u.nout / d.c_out;
        for (int th = 1; th <= 2; th++)
            for (int mode = 0; mode < 8; mode++) {   /* input fp32 / bf16; out16 apart / over acc; own path / columns */
                int in16 = mode & 1, over = mode >> 1 & 1, cols = mode >> 2;
                sc.bf16_columns = cols;
                omp_set_num_threads(th);
                if (mode % 4 == 0) conv2d_forward(y, u.x, u.w, &d, &sc);   /* this path's fp32 output */
                for (size_t i = 0; i < u.nout; i++) o[i] = NAN;
                memset(h, 0xff, u.nout * 2);
                uint16_t *o16 = over ? (uint16_t *)o : h;
                int ld = over ? 2 * d.c_out : d.c_out;
                conv2d_forward_out16(o16, ld, o, in16 ? NULL : u.x, in16 ? x16 : NULL, u.w, &d, &sc);
                for (size_t r = 0; r < rows; r++)
                    for (int c = 0; c < d.c_out; c++)
                        ck_assert_msg(o16[r * ld + c] == bf16_from_f32(y[r * d.c_out + c]),
                                      "case %zu%s, %d threads, mode %d: row %zu channel %d", ci,
                                      cols ? " by columns" : "", th, mode, r, c);
            }
        free(y), free(o), free(h), free(x16), free(sc.buf), free(u.x), free(u.w), free(u.g);
    }
    Conv2dDims wd = conv2d_dims(2, 8, 8, 64, 64, 3, 1, 1);
    ConvScratch ws = {NULL, 0, 0, 0, 0};
    ck_assert(!conv2d_bf16_gives_out16(&wd, &ws));   /* fp32 */
    omp_set_num_threads(1);
}
END_TEST

/* bf16 with the output gradient given as bf16 (conv2d_backward_dout16: rounded
 * once by the BatchNorm backward that produced it) gives the bits of the fp32
 * gradient rounded by the convolution itself: din accumulated and overwritten,
 * dW alone, the input as fp32 and as bf16, the rows packed and 2·c_out apart
 * (written over the fp32 rows, the rest garbage), on BF16_ROW_CASES (Winograd's
 * transforms load them).  An odd c_out does not take it. */
START_TEST(bf16_dout_given_as_bf16_gives_the_same_bits)
{
    const RowCase *cs = BF16_ROW_CASES;
    omp_set_num_threads(2);
    for (size_t ci = 0; ci < N_ROW_CASES; ci++) {
        Setup u = setup(cs[ci].c, 401 + 3 * ci, 0.3f);
        Conv2dDims d = u.d;
        size_t cf = conv2d_scratch_floats_bf16(&d, cs[ci].cap, 2);
        ConvScratch sc = {malloc(cf * 4), cf, cs[ci].cap, 1, 0};
        ck_assert_msg(conv2d_bf16_takes_dout16(&d, &sc), "case %zu takes bf16 dout", ci);
        uint16_t *x16 = malloc(u.nin * 2), *g16 = malloc(u.nout * 2), *g2 = malloc(u.nout * 4);
        bf16_convert(x16, u.x, u.nin);
        bf16_convert(g16, u.g, u.nout);
        for (size_t i = 0; i < u.nout * 2; i++) g2[i] = (uint16_t)(0x7fc1 + i % 7);   /* NaNs */
        for (size_t m = 0; m < u.nout / d.c_out; m++) memcpy(g2 + m * 2 * d.c_out, g16 + m * d.c_out, d.c_out * 2);
        float *a[5], *w[5], *a0[5];
        for (int h = 0; h < 5; h++) {   /* fp32 dout; bf16 dout (packed, spaced) with fp32 in; with bf16 in */
            a[h] = alloc_rand(u.nin, 5, 1), w[h] = alloc_rand(u.nw, 6, 1), a0[h] = malloc(u.nin * 4);
            if (h) {
                const float *x = h & 1 ? u.x : NULL;
                const uint16_t *xh = h & 1 ? NULL : x16, *gh = h < 3 ? g16 : g2;
                int ld = h < 3 ? d.c_out : 2 * d.c_out;
                conv2d_backward_dout16(a[h], 1, w[h], gh, ld, x, xh, u.w, &d, &sc);
                conv2d_backward_dout16(a0[h], 0, NULL, gh, ld, x, xh, u.w, &d, &sc);
                conv2d_backward_dout16(NULL, 0, w[h], gh, ld, x, xh, u.w, &d, &sc);
            } else {
                conv2d_backward(a[h], 1, w[h], u.g, u.x, u.w, &d, &sc);
                conv2d_backward(a0[h], 0, NULL, u.g, u.x, u.w, &d, &sc);
                conv2d_backward(NULL, 0, w[h], u.g, u.x, u.w, &d, &sc);
            }
        }
        for (int h = 1; h < 5; h++) assert_same_backward(a, a0, w, h, &u, ci);
        for (int k = 0; k < 5; k++) free(a[k]), free(w[k]), free(a0[k]);
        free(x16), free(g16), free(g2), free(sc.buf), free(u.x), free(u.w), free(u.g);
    }
    Conv2dDims wd = conv2d_dims(2, 8, 8, 64, 64, 3, 1, 1), od = conv2d_dims(2, 8, 8, 16, 7, 1, 1, 0);
    ConvScratch ws = {NULL, 0, 0, 1, 0};
    ck_assert_msg(conv2d_bf16_by_winograd(&wd) && conv2d_bf16_takes_dout16(&wd, &ws), "Winograd reads bf16");
    ck_assert_msg(conv2d_bf16_takes_in16(&od, &ws) && !conv2d_bf16_takes_dout16(&od, &ws), "odd c_out");
    ws.bf16 = 0;
    ck_assert(!conv2d_bf16_takes_dout16(&wd, &ws));
    omp_set_num_threads(1);
}
END_TEST

/* bf16 by Winograd (3x3 stride 1, >= 64 channels, as fp32): the fast path
 * against winograd_*_ref_bf16 (the transforms per tile, the same rounding
 * points, gemm_bf16_ref's chain) bit for bit: forward, din overwritten and
 * accumulated, dW accumulated, on two threads (the forward also with one
 * tile-block slot in the scratch); odd maps cut the 2x2 tiles, the third case
 * runs over two chunks of images, the first with an odd tile count (13 images
 * of 25 tiles: the weight gradient's pairs restart after a zero partner).
 * Then against the exact convolution, on the error measure of
 * winograd_matches_direct (|error| over Σ|x||w| of that output): the columns
 * path is held to 2^-7 of it by bf16's unit roundoff (2^-8, two rounded
 * operands); Winograd rounds transformed values, V up to 4x and U up to 2.25x
 * the inputs' size, and their sums cancel in Aᵀ M A: its bar is twice the
 * columns', 2^-6.  Measured (WG16_VERBOSE=1): Winograd 1.1e-3 to 3.4e-3
 * (dW the largest), the columns 5.7e-4 to 1.5e-3 on the same data. */
START_TEST(bf16_winograd_matches_its_reference)
{
    const Case cs[] = {{3, 8, 8, 64, 64, 3, 1, 1}, {2, 7, 9, 64, 80, 3, 1, 1}, {14, 9, 9, 64, 128, 3, 1, 1}};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        Setup u = setup(cs[ci], 301 + 3 * ci, 0.1f);
        Conv2dDims d = u.d;
        ck_assert_msg(conv2d_bf16_by_winograd(&d), "case %zu goes by Winograd", ci);
        /* two threads, and two threads on a scratch with one tile-block slot */
        omp_set_num_threads(2);
        size_t cf1 = winograd_scratch_floats_bf16(&d, 1);
        ConvScratch s1 = {malloc(cf1 * 4), cf1, RESNET_LIKE_CAP, 1, 0};
        size_t cf = conv2d_scratch_floats_bf16(&d, RESNET_LIKE_CAP, 2);
        ConvScratch sc = {malloc(cf * 4), cf, RESNET_LIKE_CAP, 1, 0};
        float *y1 = malloc(u.nout * 4), *y2 = malloc(u.nout * 4);
        winograd_conv_ref_bf16(y2, 0, u.x, u.w, &d, 0);
        conv2d_forward(y1, u.x, u.w, &d, &s1);
        ck_assert_msg(same_bits(y1, y2, u.nout), "case %zu forward, one slot", ci);
        free(s1.buf);
        conv2d_forward(y1, u.x, u.w, &d, &sc);
        ck_assert_msg(same_bits(y1, y2, u.nout), "case %zu forward", ci);
        float *a1 = alloc_rand(u.nin, 7, 1), *a2 = malloc(u.nin * 4), *w1 = alloc_rand(u.nw, 8, 1), *w2 = malloc(u.nw * 4);
        memcpy(a2, a1, u.nin * 4), memcpy(w2, w1, u.nw * 4);
        float *w0 = malloc(u.nw * 4), *w3 = malloc(u.nw * 4);
        memcpy(w0, w1, u.nw * 4);
        conv2d_backward(a1, 1, w1, u.g, u.x, u.w, &d, &sc);
        winograd_conv_ref_bf16(a2, 1, u.g, u.w, &d, 1);
        winograd_weight_grad_ref_bf16(w2, u.g, u.x, &d);
        ck_assert_msg(same_bits(a1, a2, u.nin), "case %zu din accumulated", ci);
        ck_assert_msg(same_bits(w1, w2, u.nw), "case %zu dw", ci);
        for (int th = 1; th <= 4; th++) {   /* dW by 1, 2 and 4 groups of ξ (the threads decide) */
            omp_set_num_threads(th);
            memcpy(w3, w0, u.nw * 4);
            memset(sc.buf, 0xff, sc.floats * 4);   /* NaN: no number may come from an earlier call's scratch */
            conv2d_backward(NULL, 0, w3, u.g, u.x, u.w, &d, &sc);
            ck_assert_msg(same_bits(w3, w2, u.nw), "case %zu dw, %d threads", ci, th);
        }
        omp_set_num_threads(2);
        free(w0), free(w3);
        conv2d_backward(a1, 0, NULL, u.g, u.x, u.w, &d, &sc);
        winograd_conv_ref_bf16(a2, 0, u.g, u.w, &d, 1);
        ck_assert_msg(same_bits(a1, a2, u.nin), "case %zu din", ci);
        /* against the exact convolution, beside the columns path */
        float *ax = abs_copy(u.x, u.nin), *aw = abs_copy(u.w, u.nw), *ag = abs_copy(u.g, u.nout);
        float *sy = malloc(u.nout * 4), *sd = malloc(u.nin * 4), *sw = calloc(u.nw, 4);
        float *ey = malloc(u.nout * 4), *ed = malloc(u.nin * 4), *ew = calloc(u.nw, 4);
        conv2d_forward_ref(sy, ax, aw, &d);
        conv2d_backward_ref(sd, 0, sw, ag, ax, aw, &d);
        conv2d_forward_ref(ey, u.x, u.w, &d);
        conv2d_backward_ref(ed, 0, ew, u.g, u.x, u.w, &d);
        double e[2][3];
        for (int cols = 0; cols < 2; cols++) {
            sc.bf16_columns = cols;
            memset(w1, 0, u.nw * 4);
            conv2d_forward(y1, u.x, u.w, &d, &sc);
            conv2d_backward(a1, 0, w1, u.g, u.x, u.w, &d, &sc);
            e[cols][0] = err_vs_terms(y1, ey, sy, u.nout);
            e[cols][1] = err_vs_terms(a1, ed, sd, u.nin);
            e[cols][2] = err_vs_terms(w1, ew, sw, u.nw);
        }
        if (getenv("WG16_VERBOSE"))
            printf("case %zu err/terms: Winograd out %.3g din %.3g dw %.3g; columns %.3g %.3g %.3g\n", ci, e[0][0],
                   e[0][1], e[0][2], e[1][0], e[1][1], e[1][2]);
        for (int k = 0; k < 3; k++) {
            ck_assert_msg(e[0][k] <= 0.015625, "case %zu Winograd %d err %g", ci, k, e[0][k]);
            ck_assert_msg(e[1][k] <= 0.0079, "case %zu columns %d err %g", ci, k, e[1][k]);
            ck_assert_msg(e[0][k] > 1e-5, "case %zu %d: no bf16 rounding at all?", ci, k);
        }
        free(sc.buf), free(u.x), free(u.w), free(u.g), free(y1), free(y2), free(a1), free(a2), free(w1), free(w2);
        free(ax), free(aw), free(ag), free(sy), free(sd), free(sw), free(ey), free(ed), free(ew);
    }
    omp_set_num_threads(1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fast_matches_direct_forward_and_backward);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, scratch_sizes_follow_the_plan);
    tcase_add_test(tc, same_bits_with_any_thread_count);
    tcase_add_test(tc, winograd_matches_direct);
    tcase_add_test(tc, taps_match_direct);
    tcase_add_test(tc, taps_forward_is_one_chain_per_output);
    tcase_add_test(tc, bf16_matches_its_reference_chain);
    tcase_add_test(tc, bf16_is_within_its_error_bound);
    tcase_add_test(tc, bf16_taps_give_the_columns_bits);
    tcase_add_test(tc, bf16_input_given_as_bf16_gives_the_same_bits);
    tcase_add_test(tc, bf16_columns_din_and_panels_match_the_reference);
    tcase_add_test(tc, bf16_overwritten_din_starts_from_plus_zero);
    tcase_add_test(tc, bf16_dout_given_as_bf16_gives_the_same_bits);
    tcase_add_test(tc, bf16_output_stored_as_bf16_is_the_rounded_output);
    tcase_add_test(tc, bf16_narrow_input_gives_the_columns_bits);
    tcase_add_test(tc, bf16_winograd_matches_its_reference);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
