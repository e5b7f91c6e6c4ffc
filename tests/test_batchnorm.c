/* test_batchnorm.c — src/nn/batchnorm.c: the fused fast passes against the
 * two-pass double reference, finite-difference gradients in train and eval mode
 * (with ReLU, residual and the recomputed ReLU mask), the ReLU mask kept as
 * bits giving the same numbers as the mask read from the output, running
 * statistics as PyTorch updates them, and thread-count independence. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/batchnorm.h"
#include "nn/gemm_bf16.h"
#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct Bn {
    size_t rows;
    int c;
    float *gamma, *beta, *rm, *rv, *nb, *sm, *si;
    BnState s;
} Bn;

static Bn bn_make(size_t rows, int c, uint64_t seed)
{
    Bn b = {rows, c, 0, 0, 0, 0, 0, 0, 0, {0}};
    b.gamma = malloc(c * 4), b.beta = malloc(c * 4), b.rm = malloc(c * 4), b.rv = malloc(c * 4);
    b.nb = calloc(1, 4), b.sm = malloc(c * 4), b.si = malloc(c * 4);
    gc_randn(b.gamma, c, seed, 0.5f);
    gc_randn(b.beta, c, seed + 1, 0.5f);
    gc_randn(b.rm, c, seed + 2, 0.3f);
    for (int j = 0; j < c; j++) b.rv[j] = 0.5f + fabsf(b.rm[j]), b.gamma[j] += 1.0f;
    BnState s = {b.gamma, b.beta, b.rm, b.rv, b.nb, b.sm, b.si};
    b.s = s;
    return b;
}

static void bn_drop(Bn *b)
{
    free(b->gamma), free(b->beta), free(b->rm), free(b->rv), free(b->nb), free(b->sm), free(b->si);
}

static Bn bn_copy(const Bn *a)
{
    Bn b = bn_make(a->rows, a->c, 1);
    memcpy(b.gamma, a->gamma, a->c * 4), memcpy(b.beta, a->beta, a->c * 4);
    memcpy(b.rm, a->rm, a->c * 4), memcpy(b.rv, a->rv, a->c * 4), memcpy(b.nb, a->nb, 4);
    return b;
}

static float *randv(size_t n, uint64_t seed, float scale, float shift)
{
    float *a = malloc(n * 4);
    gc_randn(a, n, seed, scale);
    for (size_t i = 0; i < n; i++) a[i] += shift;
    return a;
}

START_TEST(fast_matches_reference)
{
    /* channel counts off the 16-wide blocks, rows off the 128-row chunks */
    const int cs[3] = {5, 64, 37};
    const size_t rs[3] = {3, 300, 129};
    for (int t = 0; t < 3; t++)
        for (int mode = 0; mode < 8; mode++) {
            int train = mode & 1, relu = (mode >> 1) & 1, res = (mode >> 2) & 1;
            size_t rows = rs[t], n = rows * cs[t];
            int c = cs[t];
            Bn a = bn_make(rows, c, 10 + t), b = bn_copy(&a);
            float *x = randv(n, 20 + t, 2.0f, 3.0f), *r = res ? randv(n, 30, 1, 0) : NULL;
            float *y1 = malloc(n * 4), *y2 = malloc(n * 4), *g = randv(n, 40, 1, 0);
            bn_forward(y1, x, r, relu, train, &a.s, rows, c);
            bn_forward_ref(y2, x, r, relu, train, &b.s, rows, c);
            ck_assert_msg(tu_max_rel_err(y1, y2, n, 1.0) < 2e-6, "fwd t%d mode %d: %g", t, mode,
                          tu_max_rel_err(y1, y2, n, 1.0));
            ck_assert_msg(tu_max_rel_err(a.rm, b.rm, c, 1.0) < 1e-6 && tu_max_rel_err(a.rv, b.rv, c, 1.0) < 1e-5, "t%d mode %d rm %g rv %g", t, mode, tu_max_rel_err(a.rm, b.rm, c, 1e-3), tu_max_rel_err(a.rv, b.rv, c, 1e-3));
            ck_assert_float_eq(a.nb[0], train ? 1.0f : 0.0f);
            float *d1 = malloc(n * 4), *d2 = malloc(n * 4), *r1 = malloc(n * 4), *r2 = malloc(n * 4);
            float dg1[64] = {0}, db1[64] = {0}, dg2[64] = {0}, db2[64] = {0};
            /* with out given, and (relu) with the mask recomputed from in */
            for (int rec = 0; rec < 1 + relu; rec++) {
                const float *o1 = rec ? NULL : y1;
                bn_backward(d1, res ? r1 : NULL, dg1, db1, g, x, res ? y1 : o1, relu, train, &a.s, rows, c);
                bn_backward_ref(d2, res ? r2 : NULL, dg2, db2, g, x, res ? y2 : o1 ? y2 : NULL, relu, train,
                                &b.s, rows, c);
                ck_assert_msg(tu_max_rel_err(d1, d2, n, 1.0) < 1e-5, "bwd t%d mode %d rec %d: %g", t, mode,
                              rec, tu_max_rel_err(d1, d2, n, 1.0));
                ck_assert_msg(tu_max_rel_err(dg1, dg2, c, 10.0) < 1e-5 && tu_max_rel_err(db1, db2, c, 10.0) < 1e-5, "t%d mode %d rec %d dg %g db %g", t, mode, rec, tu_max_rel_err(dg1, dg2, c, 1.0), tu_max_rel_err(db1, db2, c, 1.0));
                if (res) ck_assert(tu_max_rel_err(r1, r2, n, 1.0) == 0);
            }
            free(x), free(r), free(y1), free(y2), free(g), free(d1), free(d2), free(r1), free(r2);
            bn_drop(&a), bn_drop(&b);
        }
}
END_TEST

START_TEST(running_statistics_follow_pytorch)
{
    /* two rows per channel: mean, biased var for normalising, unbiased var (n/(n-1)) and momentum 0.1 */
    float x[4] = {1, 10, 3, 30}; /* c = 2: channel 0 {1,3}, channel 1 {10,30} */
    Bn b = bn_make(2, 2, 3);
    float rm0[2] = {b.rm[0], b.rm[1]}, rv0[2] = {b.rv[0], b.rv[1]};
    float y[4];
    for (int j = 0; j < 2; j++) b.gamma[j] = 1, b.beta[j] = 0;
    bn_forward(y, x, NULL, 0, 1, &b.s, 2, 2);
    ck_assert_float_eq_tol(b.rm[0], 0.9f * rm0[0] + 0.1f * 2.0f, 1e-6);
    ck_assert_float_eq_tol(b.rv[0], 0.9f * rv0[0] + 0.1f * 2.0f, 1e-6);      /* unbiased: ((1)^2+(1)^2)/1 */
    ck_assert_float_eq_tol(b.rv[1], 0.9f * rv0[1] + 0.1f * 200.0f, 1e-4);
    ck_assert_float_eq_tol(y[0], -1.0f / sqrtf(1.0f + 1e-5f), 1e-6);       /* biased var 1 */
    ck_assert_float_eq(b.nb[0], 1.0f);
    bn_drop(&b);
}
END_TEST

typedef struct Gc {
    Bn *b;
    float *x, *res, *r, *y;
    int relu, train;
    size_t n;
} Gc;

static double gc_loss(void *p)
{
    Gc *c = p;
    /* running statistics must not drift between evaluations */
    float rm[64], rv[64], nb = c->b->nb[0];
    memcpy(rm, c->b->rm, c->b->c * 4), memcpy(rv, c->b->rv, c->b->c * 4);
    bn_forward(c->y, c->x, c->res, c->relu, c->train, &c->b->s, c->b->rows, c->b->c);
    memcpy(c->b->rm, rm, c->b->c * 4), memcpy(c->b->rv, rv, c->b->c * 4), c->b->nb[0] = nb;
    return gc_dot(c->r, c->y, c->n);
}

START_TEST(gradients_match_finite_differences)
{
    for (int mode = 0; mode < 8; mode++) {
        int train = mode & 1, relu = (mode >> 1) & 1, res = (mode >> 2) & 1;
        size_t rows = 24;
        int c = 6;
        size_t n = rows * c;
        Bn b = bn_make(rows, c, 50);
        Gc g = {&b, randv(n, 51, 1.5f, 0.5f), res ? randv(n, 52, 1, 0) : NULL, randv(n, 53, 1, 0),
                malloc(n * 4), relu, train, n};
        gc_loss(&g);
        float *dx = malloc(n * 4), *dr = malloc(n * 4), dgm[6] = {0}, dbt[6] = {0};
        bn_backward(dx, res ? dr : NULL, dgm, dbt, g.r, g.x, g.y, relu, train, &b.s, rows, c);
        double ex = gc_max_err(gc_loss, &g, g.x, dx, n, n, 1e-3f, 1e-2);
        double eg = gc_max_err(gc_loss, &g, b.gamma, dgm, c, c, 1e-3f, 1e-2);
        double eb = gc_max_err(gc_loss, &g, b.beta, dbt, c, c, 1e-3f, 1e-2);
        double er = res ? gc_max_err(gc_loss, &g, g.res, dr, n, n, 1e-3f, 1e-2) : 0;
        ck_assert_msg(ex < 5e-3 && eg < 5e-3 && eb < 5e-3 && er < 5e-3,
                      "mode %d: dx %g dgamma %g dbeta %g dres %g", mode, ex, eg, eb, er);
        free(g.x), free(g.res), free(g.r), free(g.y), free(dx), free(dr);
        bn_drop(&b);
    }
}
END_TEST

START_TEST(results_do_not_depend_on_thread_count)
{
    size_t rows = 1000;
    int c = 96;
    size_t n = rows * c;
    float *x = randv(n, 60, 1, 0.2f), *g = randv(n, 61, 1, 0);
    float *y[2], *d[2], dg[2][96], db[2][96];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        Bn b = bn_make(rows, c, 62);
        y[t] = malloc(n * 4), d[t] = malloc(n * 4);
        memset(dg[t], 0, sizeof dg[t]), memset(db[t], 0, sizeof db[t]);
        bn_forward(y[t], x, NULL, 1, 1, &b.s, rows, c);
        bn_backward(d[t], NULL, dg[t], db[t], g, x, y[t], 1, 1, &b.s, rows, c);
        bn_drop(&b);
    }
    ck_assert(memcmp(y[0], y[1], n * 4) == 0 && memcmp(d[0], d[1], n * 4) == 0);
    ck_assert(memcmp(dg[0], dg[1], sizeof dg[0]) == 0 && memcmp(db[0], db[1], sizeof db[0]) == 0);
    free(x), free(g), free(y[0]), free(y[1]), free(d[0]), free(d[1]);
}
END_TEST

START_TEST(fused_relu_lets_nan_through)
{
    /* BN + ReLU (eval: per element) with one NaN input: that output is NaN as
     * PyTorch's relu(bn(x)) gives, the others are untouched; backward passes
     * the gradient at the NaN (threshold_backward) in the fast and the
     * reference pass alike, with the mask from out or recomputed. */
    const size_t rows = 6;
    const int c = 5;
    Bn b = bn_make(rows, c, 3);
    float *x = randv(rows * c, 4, 1, 0), *y = malloc(rows * c * 4), *yr = malloc(rows * c * 4);
    float *dy = malloc(rows * c * 4), *dx = malloc(rows * c * 4), *dxr = malloc(rows * c * 4);
    for (size_t i = 0; i < rows * c; i++) dy[i] = 1;
    x[2 * c + 3] = NAN;
    bn_forward(y, x, NULL, 1, 0, &b.s, rows, c);
    bn_forward_ref(yr, x, NULL, 1, 0, &b.s, rows, c);
    for (size_t i = 0; i < rows * c; i++) {
        ck_assert_msg(isnan(y[i]) == (i == 2 * c + 3), "out[%zu] = %g", i, y[i]);
        ck_assert_msg(isnan(yr[i]) == (i == 2 * c + 3), "ref out[%zu] = %g", i, yr[i]);
    }
    for (int with_out = 0; with_out < 2; with_out++) {
        bn_backward(dx, NULL, NULL, NULL, dy, x, with_out ? y : NULL, 1, 0, &b.s, rows, c);
        bn_backward_ref(dxr, NULL, NULL, NULL, dy, x, with_out ? y : NULL, 1, 0, &b.s, rows, c);
        /* eval: dx = gamma·invstd·g, g = dy unless out <= 0 */
        float pass = b.gamma[3] * b.si[3];
        ck_assert_msg(dx[2 * c + 3] == pass, "fast: %g, want %g", dx[2 * c + 3], pass);
        ck_assert_msg(fabsf(dxr[2 * c + 3] - pass) < 1e-6f, "ref: %g, want %g", dxr[2 * c + 3], pass);
    }
    free(x), free(y), free(yr), free(dy), free(dx), free(dxr);
    bn_drop(&b);
}
END_TEST

START_TEST(keep_bits_give_the_numbers_of_out)
{
    /* bn_forward_keep / bn_backward_keep against bn_forward / bn_backward with
     * out: bit-identical outputs and gradients, keep bit i = not out[i] <= 0.
     * c = 16, 64: whole words per row (AVX-512 where the CPU has it); 37, 5:
     * bits shared by rows.  Half the pre-activations near zero; in eval mode a
     * NaN input (its gradient passes, as with out). */
    const int cs[4] = {16, 64, 37, 5};
    const size_t rs[4] = {129, 40, 33, 3};
    for (int t = 0; t < 4; t++)
        for (int mode = 0; mode < 4; mode++) {
            int train = mode & 1, res = mode >> 1, c = cs[t];
            size_t rows = rs[t], n = rows * c, nw = bn_keep_words(rows, c);
            Bn a = bn_make(rows, c, 70 + t), b = bn_copy(&a);
            float *x = randv(n, 71 + t, 1.0f, 0.0f), *r = res ? randv(n, 72, 0.5f, 0) : NULL;
            if (!train) x[n / 2] = NAN;
            float *y1 = malloc(n * 4), *y2 = malloc(n * 4), *g = randv(n, 73, 1, 0);
            uint16_t *keep = malloc(nw * 2);
            memset(keep, 0xa5, nw * 2);   /* every bit must be written */
            bn_forward(y1, x, r, 1, train, &a.s, rows, c);
            bn_forward_keep(y2, keep, x, r, train, &b.s, rows, c);
            ck_assert_msg(memcmp(y1, y2, n * 4) == 0, "t%d mode %d: out differs", t, mode);
            int zeros = 0;
            for (size_t i = 0; i < n; i++) {
                int bit = keep[i >> 4] >> (i & 15) & 1;
                ck_assert_msg(bit == !(y1[i] <= 0.0f), "t%d mode %d: keep bit %zu", t, mode, i);
                zeros += !bit;
            }
            ck_assert(zeros > (int)n / 5 && zeros < (int)(4 * n / 5));
            float *d1 = malloc(n * 4), *d2 = malloc(n * 4), *r1 = malloc(n * 4), *r2 = malloc(n * 4);
            float dg1[64] = {0}, db1[64] = {0}, dg2[64] = {0}, db2[64] = {0};
            bn_backward(d1, res ? r1 : NULL, dg1, db1, g, x, y1, 1, train, &a.s, rows, c);
            bn_backward_keep(d2, res ? r2 : NULL, dg2, db2, g, x, keep, train, &b.s, rows, c);
            ck_assert_msg(memcmp(d1, d2, n * 4) == 0, "t%d mode %d: din differs", t, mode);
            ck_assert(memcmp(dg1, dg2, c * 4) == 0 && memcmp(db1, db2, c * 4) == 0);
            if (res) ck_assert(memcmp(r1, r2, n * 4) == 0);
            if (!train) ck_assert(!isnan(d2[n / 2]) && d2[n / 2] != 0.0f);
            free(x), free(r), free(y1), free(y2), free(g), free(keep), free(d1), free(d2), free(r1), free(r2);
            bn_drop(&a), bn_drop(&b);
        }
}
END_TEST

/* bn_forward_bf16 writes out16 = bf16(out) of bn_forward / bn_forward_keep, bit
 * for bit (and the same out, keep and running statistics), with or without the
 * ReLU and the residual, with out and without it (out16 alone), in train and
 * eval mode; whole-word rows (c = 64) and shared words (c = 37). */
START_TEST(bf16_copy_is_the_output_rounded)
{
    const int cs[2] = {64, 37};
    const size_t rs[2] = {70, 33};
    for (int t = 0; t < 2; t++)
        for (int mode = 0; mode < 8; mode++) {
            int train = mode & 1, relu = mode >> 1 & 1, res = mode >> 2, c = cs[t];
            size_t rows = rs[t], n = rows * c, nw = bn_keep_words(rows, c);
            Bn a = bn_make(rows, c, 90 + t), b = bn_copy(&a), e = bn_copy(&a);
            float *x = randv(n, 91 + t, 1.0f, 0.3f), *r = res ? randv(n, 92, 0.5f, 0) : NULL;
            float *y1 = malloc(n * 4), *y2 = malloc(n * 4);
            uint16_t *k1 = malloc(nw * 2), *k2 = malloc(nw * 2), *h = malloc(n * 2), *want = malloc(n * 2);
            memset(h, 0xa5, n * 2);
            if (relu) bn_forward_keep(y1, k1, x, r, train, &a.s, rows, c);
            else bn_forward(y1, x, r, 0, train, &a.s, rows, c);
            bn_forward_bf16(y2, h, relu ? k2 : NULL, x, r, relu, train, &b.s, rows, c);
            for (size_t i = 0; i < n; i++) want[i] = bf16_from_f32(y1[i]);
            ck_assert_msg(memcmp(y1, y2, n * 4) == 0, "t%d mode %d: out differs", t, mode);
            ck_assert_msg(memcmp(h, want, n * 2) == 0, "t%d mode %d: out16 is not bf16(out)", t, mode);
            if (relu) ck_assert(memcmp(k1, k2, nw * 2) == 0);
            ck_assert(memcmp(a.s.running_mean, b.s.running_mean, c * 4) == 0 &&
                      memcmp(a.s.running_var, b.s.running_var, c * 4) == 0);
            int inexact = 0;
            for (size_t i = 0; i < n; i++) inexact += bf16_to_f32(want[i]) != y1[i];
            ck_assert_msg(inexact > (int)n / 4, "t%d mode %d: hardly any rounding (%d)", t, mode, inexact);
            if (!res) {   /* out16 alone */
                memset(h, 0xa5, n * 2);
                bn_forward_bf16(NULL, h, NULL, x, NULL, relu, train, &e.s, rows, c);
                ck_assert_msg(memcmp(h, want, n * 2) == 0, "t%d mode %d: out16 alone", t, mode);
            }
            free(x), free(r), free(y1), free(y2), free(k1), free(k2), free(h), free(want);
            bn_drop(&a), bn_drop(&b), bn_drop(&e);
        }
}
END_TEST

/* bn_backward_bf16 writes din16 = bf16(din) of bn_backward / bn_backward_keep,
 * bit for bit (and the same din when asked, dres, dγ, dβ), and alone without the
 * fp32 din (din NULL), packed or over the first half of each fp32 row of dout
 * (in place, ld16 = 2c): the ReLU mask from keep bits or recomputed from in, no
 * ReLU; with and without the residual's gradient, which may alias dout (the
 * block's in-place use); train and eval; whole-word rows (c = 64) and shared
 * words (c = 37). */
START_TEST(bf16_gradient_is_the_gradient_rounded)
{
    const int cs[2] = {64, 37};
    const size_t rs[2] = {70, 33};
    for (int t = 0; t < 2; t++)
        for (int mode = 0; mode < 12; mode++) {
            int train = mode & 1, res = mode >> 1 & 1, how = mode >> 2, c = cs[t];   /* how: keep, mask from in, no ReLU */
            int relu = how < 2;
            size_t rows = rs[t], n = rows * c, nw = bn_keep_words(rows, c);
            Bn a = bn_make(rows, c, 110 + t);
            float *x = randv(n, 111 + t, 1.0f, 0.3f), *y = malloc(n * 4), *g = randv(n, 113, 1, 0);
            uint16_t *keep = malloc(nw * 2);
            bn_forward_keep(y, keep, x, NULL, train, &a.s, rows, c);
            float *d1 = malloc(n * 4), *d2 = malloc(n * 4), *r1 = malloc(n * 4), *r2 = malloc(n * 4);
            float dg1[64] = {0}, db1[64] = {0}, dg2[64] = {0}, db2[64] = {0}, dg3[64] = {0}, db3[64] = {0};
            uint16_t *h = malloc(n * 2), *want = malloc(n * 2);
            const uint16_t *kp = how == 0 ? keep : NULL;
            if (how == 0) bn_backward_keep(d1, res ? r1 : NULL, dg1, db1, g, x, keep, train, &a.s, rows, c);
            else bn_backward(d1, res ? r1 : NULL, dg1, db1, g, x, NULL, relu, train, &a.s, rows, c);
            for (size_t i = 0; i < n; i++) want[i] = bf16_from_f32(d1[i]);
            memset(h, 0xa5, n * 2), memset(d2, 0xa5, n * 4);
            bn_backward_bf16(d2, h, c, res ? r2 : NULL, dg2, db2, g, x, kp, relu, train, &a.s, rows, c);
            ck_assert_msg(memcmp(d1, d2, n * 4) == 0, "t%d mode %d: din differs", t, mode);
            ck_assert_msg(memcmp(h, want, n * 2) == 0, "t%d mode %d: din16 is not bf16(din)", t, mode);
            ck_assert(memcmp(dg1, dg2, c * 4) == 0 && memcmp(db1, db2, c * 4) == 0);
            if (res) ck_assert(memcmp(r1, r2, n * 4) == 0);
            int inexact = 0;
            for (size_t i = 0; i < n; i++) inexact += bf16_to_f32(want[i]) != d1[i];
            ck_assert_msg(inexact > (int)n / 4, "t%d mode %d: hardly any rounding (%d)", t, mode, inexact);
            /* din16 alone; the residual's gradient in place over dout, as a block does */
            float *gi = malloc(n * 4);
            memcpy(gi, g, n * 4);
            memset(h, 0xa5, n * 2);
            bn_backward_bf16(NULL, h, c, res ? gi : NULL, dg3, db3, gi, x, kp, relu, train, &a.s, rows, c);
            ck_assert_msg(memcmp(h, want, n * 2) == 0, "t%d mode %d: din16 alone", t, mode);
            ck_assert(memcmp(dg1, dg3, c * 4) == 0 && memcmp(db1, db3, c * 4) == 0);
            ck_assert(memcmp(gi, res ? r1 : g, n * 4) == 0);
            if (!res) {   /* over dout's own rows */
                float dg4[64] = {0}, db4[64] = {0};
                uint16_t *gh = (uint16_t *)gi;
                bn_backward_bf16(NULL, gh, 2 * c, NULL, dg4, db4, gi, x, kp, relu, train, &a.s, rows, c);
                for (size_t i = 0; i < rows; i++)
                    ck_assert_msg(memcmp(gh + i * 2 * c, want + i * c, c * 2) == 0, "t%d mode %d: in place, row %zu",
                                  t, mode, i);
                ck_assert(memcmp(dg1, dg4, c * 4) == 0 && memcmp(db1, db4, c * 4) == 0);
            }
            free(x), free(y), free(g), free(gi), free(keep), free(d1), free(d2), free(r1), free(r2), free(h), free(want);
            bn_drop(&a);
        }
}
END_TEST

/* The input as bf16 rows 2c apart (a bf16 convolution's output over its fp32
 * rows: the other half garbage), for bn_*_in16, and its fp32 values. */
static uint16_t *rows16(float **xr, const float *x, size_t rows, int c)
{
    uint16_t *h = malloc(rows * 2 * c * 2);
    memset(h, 0xff, rows * 2 * c * 2);   /* NaN bf16 in the unused halves */
    *xr = malloc(rows * c * 4);
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < c; j++) {
            h[r * 2 * c + j] = bf16_from_f32(x[r * c + j]);
            (*xr)[r * c + j] = bf16_to_f32(h[r * 2 * c + j]);
        }
    return h;
}

/* bn_forward_in16 given bf16 rows gives the fp32 functions' bits on their fp32
 * values: out, out16 (with out and alone), keep, the saved and running
 * statistics; with and without the ReLU and the residual, train and eval, whole-
 * word rows (c = 64) and shared words (c = 37), 2 threads. */
START_TEST(bf16_input_gives_the_forward_of_its_values)
{
    const int cs[2] = {64, 37};
    const size_t rs[2] = {70, 33};
    omp_set_num_threads(2);
    for (int t = 0; t < 2; t++)
        for (int mode = 0; mode < 24; mode++) {
            /* outs: 0 out, 1 out and out16, 2 out16 alone (no residual, no keep) */
            int train = mode & 1, relu = mode >> 1 & 1, res = mode >> 2 & 1, outs = mode >> 3, c = cs[t];
            if (outs == 2 && res) continue;
            int keep = relu && outs < 2;
            size_t rows = rs[t], n = rows * c, nw = bn_keep_words(rows, c);
            Bn a = bn_make(rows, c, 130 + t), b = bn_copy(&a);
            float *x = randv(n, 131 + t, 1.0f, 0.3f), *r = res ? randv(n, 132, 0.5f, 0) : NULL, *xr;
            uint16_t *x16 = rows16(&xr, x, rows, c);
            float *y1 = outs < 2 ? malloc(n * 4) : NULL, *y2 = outs < 2 ? malloc(n * 4) : NULL;
            uint16_t *k1 = malloc(nw * 2), *k2 = malloc(nw * 2), *h1 = malloc(n * 2), *h2 = malloc(n * 2);
            memset(h1, 0xa5, n * 2), memset(h2, 0x5a, n * 2), memset(k1, 0xa5, nw * 2), memset(k2, 0x5a, nw * 2);
            uint16_t *o1 = outs ? h1 : NULL, *o2 = outs ? h2 : NULL;
            if (outs) bn_forward_bf16(y1, o1, keep ? k1 : NULL, xr, r, relu, train, &a.s, rows, c);
            else if (keep) bn_forward_keep(y1, k1, xr, r, train, &a.s, rows, c);
            else bn_forward(y1, xr, r, relu, train, &a.s, rows, c);
            bn_forward_in16(y2, o2, keep ? k2 : NULL, x16, 2 * c, r, relu, train, &b.s, rows, c);
            if (y1) ck_assert_msg(memcmp(y1, y2, n * 4) == 0, "t%d mode %d: out differs", t, mode);
            if (outs) ck_assert_msg(memcmp(h1, h2, n * 2) == 0, "t%d mode %d: out16 differs", t, mode);
            if (keep) ck_assert_msg(memcmp(k1, k2, nw * 2) == 0, "t%d mode %d: keep differs", t, mode);
            ck_assert_msg(memcmp(a.s.running_mean, b.s.running_mean, c * 4) == 0 &&
                          memcmp(a.s.running_var, b.s.running_var, c * 4) == 0 &&
                          memcmp(a.s.save_mean, b.s.save_mean, c * 4) == 0 &&
                          memcmp(a.s.save_invstd, b.s.save_invstd, c * 4) == 0, "t%d mode %d: statistics", t, mode);
            free(x), free(r), free(xr), free(x16), free(y1), free(y2), free(k1), free(k2), free(h1), free(h2);
            bn_drop(&a), bn_drop(&b);
        }
    omp_set_num_threads(1);
}
END_TEST

/* bn_backward_in16 given bf16 rows gives the fp32 functions' bits on their fp32
 * values: din (alone and with din16), din16 (packed, alone, and over dout's own
 * rows), dres, dγ, dβ; the ReLU mask from keep, recomputed from the input, or no
 * ReLU; with and without the residual; train and eval; c = 64 and 37, 2 threads. */
START_TEST(bf16_input_gives_the_backward_of_its_values)
{
    const int cs[2] = {64, 37};
    const size_t rs[2] = {70, 33};
    omp_set_num_threads(2);
    for (int t = 0; t < 2; t++)
        for (int mode = 0; mode < 12; mode++) {
            int train = mode & 1, res = mode >> 1 & 1, how = mode >> 2, c = cs[t];   /* how: keep, mask from in, no ReLU */
            int relu = how < 2;
            size_t rows = rs[t], n = rows * c, nw = bn_keep_words(rows, c);
            Bn a = bn_make(rows, c, 150 + t);
            float *x = randv(n, 151 + t, 1.0f, 0.3f), *y = malloc(n * 4), *g = randv(n, 153, 1, 0), *xr;
            uint16_t *x16 = rows16(&xr, x, rows, c), *keep = malloc(nw * 2);
            bn_forward_keep(y, keep, xr, NULL, train, &a.s, rows, c);
            const uint16_t *kp = how == 0 ? keep : NULL;
            float *d1 = malloc(n * 4), *d2 = malloc(n * 4), *r1 = malloc(n * 4), *r2 = malloc(n * 4);
            float dg1[64] = {0}, db1[64] = {0}, dg2[64] = {0}, db2[64] = {0};
            uint16_t *h1 = malloc(n * 2), *h2 = malloc(n * 2);
            /* din and din16 */
            bn_backward_bf16(d1, h1, c, res ? r1 : NULL, dg1, db1, g, xr, kp, relu, train, &a.s, rows, c);
            memset(d2, 0xa5, n * 4), memset(h2, 0xa5, n * 2);
            bn_backward_in16(d2, h2, c, res ? r2 : NULL, dg2, db2, g, x16, 2 * c, kp, relu, train, &a.s, rows, c);
            ck_assert_msg(memcmp(d1, d2, n * 4) == 0, "t%d mode %d: din differs", t, mode);
            ck_assert_msg(memcmp(h1, h2, n * 2) == 0, "t%d mode %d: din16 differs", t, mode);
            ck_assert_msg(memcmp(dg1, dg2, c * 4) == 0 && memcmp(db1, db2, c * 4) == 0, "t%d mode %d: dγ, dβ", t, mode);
            if (res) ck_assert_msg(memcmp(r1, r2, n * 4) == 0, "t%d mode %d: dres", t, mode);
            /* din alone */
            memset(d2, 0xa5, n * 4);
            bn_backward_in16(d2, NULL, 0, NULL, NULL, NULL, g, x16, 2 * c, kp, relu, train, &a.s, rows, c);
            ck_assert_msg(memcmp(d1, d2, n * 4) == 0, "t%d mode %d: din alone", t, mode);
            /* din16 alone, over dout's own rows */
            float *gi = malloc(n * 4);
            memcpy(gi, g, n * 4);
            uint16_t *gh = (uint16_t *)gi;
            bn_backward_in16(NULL, gh, 2 * c, NULL, NULL, NULL, gi, x16, 2 * c, kp, relu, train, &a.s, rows, c);
            for (size_t i = 0; i < rows; i++)
                ck_assert_msg(memcmp(gh + i * 2 * c, h1 + i * c, c * 2) == 0, "t%d mode %d: in place, row %zu", t,
                              mode, i);
            free(x), free(xr), free(x16), free(y), free(g), free(gi), free(keep), free(d1), free(d2), free(r1),
                free(r2), free(h1), free(h2);
            bn_drop(&a);
        }
    omp_set_num_threads(1);
}
END_TEST

/* Rows r of [rows][64] a64 equal the first 64 columns of [rows][67] a67, bit for bit. */
static int same_cols(const void *a64, const void *a67, size_t rows, size_t esz)
{
    for (size_t r = 0; r < rows; r++)
        if (memcmp((const char *)a64 + r * 64 * esz, (const char *)a67 + r * 67 * esz, 64 * esz)) return 0;
    return 1;
}

static float *first64(const float *x67, size_t rows)
{
    float *x = malloc(rows * 64 * 4);
    for (size_t r = 0; r < rows; r++) memcpy(x + r * 64, x67 + r * 67, 64 * 4);
    return x;
}

static int keep_bit(const uint16_t *k, size_t i) { return k[i >> 4] >> (i & 15) & 1; }

/* With c a multiple of 16 (64) the passes run on whole vectors (AVX-512: bf16
 * widened in registers, partial sums held in registers, masks from keep words);
 * with 67 channels the generic loops run.  A channel's numbers depend on its own
 * column alone, so the 64 channels of the first must equal the first 64 of the
 * second bit for bit: out, out16, keep, the saved and running statistics, din,
 * din16, dres, dγ, dβ; fp32 and bf16 input; the ReLU mask from keep, from out,
 * recomputed, or no ReLU; residual or not; train and eval; rows over several
 * reduction chunks and a ragged last block; 2 threads.  (Without AVX-512 both
 * run the generic loops.) */
START_TEST(vector_rows_give_the_generic_bits)
{
    const size_t rs[2] = {300, 45};
    omp_set_num_threads(2);
    for (int t = 0; t < 2; t++)
        for (int mode = 0; mode < 64; mode++) {
            int train = mode & 1, res = mode >> 1 & 1, in16 = mode >> 2 & 1, how = mode >> 3 & 3, out16 = mode >> 5;
            int relu = how < 3;   /* how: 0 keep, 1 mask recomputed from in, 2 from out (fp32 in), 3 no ReLU */
            if (how == 2 && in16) continue;
            size_t rows = rs[t], n = rows * 67, nw = bn_keep_words(rows, 67);
            Bn b = bn_make(rows, 67, 170 + t), a = bn_make(rows, 64, 1);
            memcpy(a.gamma, b.gamma, 256), memcpy(a.beta, b.beta, 256), memcpy(a.rm, b.rm, 256), memcpy(a.rv, b.rv, 256);
            Bn b2 = bn_copy(&b), a2 = bn_copy(&a);
            float *x = randv(n, 171 + t, 1.0f, 0.3f), *r = res ? randv(n, 172, 0.5f, 0) : NULL, *g = randv(n, 173, 1, 0);
            if (!train) x[n / 2 + 3] = NAN;   /* eval: per element, the NaN passes */
            float *xr = NULL, *xr64 = NULL;
            uint16_t *x16 = in16 ? rows16(&xr, x, rows, 67) : NULL;
            float *x64 = first64(x, rows), *r64 = r ? first64(r, rows) : NULL, *g64 = first64(g, rows);
            uint16_t *x16_64 = in16 ? rows16(&xr64, x64, rows, 64) : NULL;
            float *y = malloc(n * 4), *y64 = malloc(rows * 64 * 4);
            uint16_t *k = malloc(nw * 2), *k64 = malloc(nw * 2), *h = malloc(n * 2), *h64 = malloc(n * 2);
            memset(h, 0xa5, n * 2), memset(h64, 0x5a, n * 2);
            uint16_t *kk = how == 0 ? k : NULL, *kk64 = how == 0 ? k64 : NULL;
            if (in16) {
                bn_forward_in16(y, out16 ? h : NULL, kk, x16, 2 * 67, r, relu, train, &b.s, rows, 67);
                bn_forward_in16(y64, out16 ? h64 : NULL, kk64, x16_64, 2 * 64, r64, relu, train, &a.s, rows, 64);
            } else if (out16) {
                bn_forward_bf16(y, h, kk, x, r, relu, train, &b.s, rows, 67);
                bn_forward_bf16(y64, h64, kk64, x64, r64, relu, train, &a.s, rows, 64);
            } else if (kk) {
                bn_forward_keep(y, k, x, r, train, &b.s, rows, 67);
                bn_forward_keep(y64, k64, x64, r64, train, &a.s, rows, 64);
            } else {
                bn_forward(y, x, r, relu, train, &b.s, rows, 67);
                bn_forward(y64, x64, r64, relu, train, &a.s, rows, 64);
            }
            ck_assert_msg(same_cols(y64, y, rows, 4), "t%d mode %d: out differs", t, mode);
            if (out16) ck_assert_msg(same_cols(h64, h, rows, 2), "t%d mode %d: out16 differs", t, mode);
            if (kk)
                for (size_t i = 0; i < rows; i++)
                    for (int j = 0; j < 64; j++)
                        ck_assert_msg(keep_bit(k64, i * 64 + j) == keep_bit(k, i * 67 + j), "t%d mode %d: keep", t, mode);
            ck_assert_msg(!memcmp(a.sm, b.sm, 256) && !memcmp(a.si, b.si, 256) && !memcmp(a.rm, b.rm, 256) &&
                          !memcmp(a.rv, b.rv, 256), "t%d mode %d: statistics", t, mode);
            if (out16 && !res && !kk) {   /* out16 alone (no fp32 out), from the same starting state */
                uint16_t *o = malloc(n * 2), *o64 = malloc(n * 2);
                memset(o, 0xa5, n * 2), memset(o64, 0x5a, n * 2);
                if (in16) {
                    bn_forward_in16(NULL, o, NULL, x16, 2 * 67, NULL, relu, train, &b2.s, rows, 67);
                    bn_forward_in16(NULL, o64, NULL, x16_64, 2 * 64, NULL, relu, train, &a2.s, rows, 64);
                } else {
                    bn_forward_bf16(NULL, o, NULL, x, NULL, relu, train, &b2.s, rows, 67);
                    bn_forward_bf16(NULL, o64, NULL, x64, NULL, relu, train, &a2.s, rows, 64);
                }
                ck_assert_msg(same_cols(o64, o, rows, 2) && same_cols(o64, h, rows, 2), "t%d mode %d: out16 alone", t,
                              mode);
                free(o), free(o64);
            }
            /* backward on the forward's statistics */
            float *d = malloc(n * 4), *d64 = malloc(rows * 64 * 4), *dr = malloc(n * 4), *dr64 = malloc(rows * 64 * 4);
            float dg[67] = {0}, db[67] = {0}, dg64[64] = {0}, db64[64] = {0};
            memset(h, 0xa5, n * 2), memset(h64, 0x5a, n * 2);
            float *dres = res ? dr : NULL, *dres64 = res ? dr64 : NULL;
            if (how == 2) {
                bn_backward(d, dres, dg, db, g, x, y, 1, train, &b.s, rows, 67);
                bn_backward(d64, dres64, dg64, db64, g64, x64, y64, 1, train, &a.s, rows, 64);
            } else if (in16) {
                bn_backward_in16(d, h, 67, dres, dg, db, g, x16, 2 * 67, kk, relu, train, &b.s, rows, 67);
                bn_backward_in16(d64, h64, 64, dres64, dg64, db64, g64, x16_64, 2 * 64, kk64, relu, train, &a.s, rows, 64);
            } else {
                bn_backward_bf16(d, h, 67, dres, dg, db, g, x, kk, relu, train, &b.s, rows, 67);
                bn_backward_bf16(d64, h64, 64, dres64, dg64, db64, g64, x64, kk64, relu, train, &a.s, rows, 64);
            }
            ck_assert_msg(same_cols(d64, d, rows, 4), "t%d mode %d: din differs", t, mode);
            if (how != 2) ck_assert_msg(same_cols(h64, h, rows, 2), "t%d mode %d: din16 differs", t, mode);
            if (res) ck_assert_msg(same_cols(dr64, dr, rows, 4), "t%d mode %d: dres differs", t, mode);
            ck_assert_msg(!memcmp(dg64, dg, 256) && !memcmp(db64, db, 256), "t%d mode %d: dγ, dβ", t, mode);
            free(x), free(r), free(g), free(xr), free(xr64), free(x16), free(x64), free(r64), free(g64), free(x16_64);
            free(y), free(y64), free(k), free(k64), free(h), free(h64), free(d), free(d64), free(dr), free(dr64);
            bn_drop(&a), bn_drop(&b), bn_drop(&a2), bn_drop(&b2);
        }
    omp_set_num_threads(1);
}
END_TEST

/* bn_forward_stats + its map applied by hand (as the stem's pool does) gives
 * bn_forward's output and running statistics bit for bit. */
START_TEST(stats_and_map_are_bn_forward)
{
    const size_t rows = 300;
    const int c = 64;
    size_t n = rows * c;
    for (int train = 0; train < 2; train++) {
        Bn a = bn_make(rows, c, 80), b = bn_copy(&a);
        float *x = randv(n, 81, 2.0f, 1.0f), *y1 = malloc(n * 4), *y2 = malloc(n * 4), sc[64], sh[64];
        bn_forward(y1, x, NULL, 1, train, &a.s, rows, c);
        bn_forward_stats(sc, sh, x, train, &b.s, rows, c);
        for (size_t i = 0; i < n; i++) {
            float v = x[i] * sc[i % c] + sh[i % c];
            y2[i] = v <= 0.0f ? 0.0f : v;
        }
        ck_assert(memcmp(y1, y2, n * 4) == 0);
        ck_assert(memcmp(a.rm, b.rm, c * 4) == 0 && memcmp(a.rv, b.rv, c * 4) == 0 && a.nb[0] == b.nb[0]);
        ck_assert(memcmp(a.sm, b.sm, c * 4) == 0 && memcmp(a.si, b.si, c * 4) == 0);
        free(x), free(y1), free(y2);
        bn_drop(&a), bn_drop(&b);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("batchnorm");
    TCase *tc = tcase_create("batchnorm");
    tcase_add_test(tc, fast_matches_reference);
    tcase_add_test(tc, running_statistics_follow_pytorch);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, results_do_not_depend_on_thread_count);
    tcase_add_test(tc, fused_relu_lets_nan_through);
    tcase_add_test(tc, keep_bits_give_the_numbers_of_out);
    tcase_add_test(tc, stats_and_map_are_bn_forward);
    tcase_add_test(tc, bf16_copy_is_the_output_rounded);
    tcase_add_test(tc, bf16_gradient_is_the_gradient_rounded);
    tcase_add_test(tc, bf16_input_gives_the_forward_of_its_values);
    tcase_add_test(tc, bf16_input_gives_the_backward_of_its_values);
    tcase_add_test(tc, vector_rows_give_the_generic_bits);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
