/* test_pool.c — src/nn/pool.c: max pooling (3/2/1 and others), global
 * average/max pooling and fastai's concat pool, forward by brute force and
 * backward by finite differences; the stem's pool of BN+ReLU on the fly. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/pool.h"
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(maxpool_forward_is_window_max)
{
    PoolDims d = maxpool2d_dims(2, 7, 6, 5, 3, 2, 1);
    ck_assert_int_eq(d.oh, 4);
    ck_assert_int_eq(d.ow, 3);
    size_t nin = 2 * 7 * 6 * 5, nout = 2 * 4 * 3 * 5;
    float *x = malloc(nin * 4), *y = malloc(nout * 4);
    int32_t *idx = malloc(nout * 4);
    gc_randn(x, nin, 1, 1);
    maxpool2d_forward(y, idx, x, &d);
    for (int i = 0; i < 2; i++)
        for (int oy = 0; oy < 4; oy++)
            for (int ox = 0; ox < 3; ox++)
                for (int c = 0; c < 5; c++) {
                    float m = -FLT_MAX;
                    for (int iy = oy * 2 - 1; iy <= oy * 2 + 1; iy++)
                        for (int ix = ox * 2 - 1; ix <= ox * 2 + 1; ix++)
                            if (iy >= 0 && iy < 7 && ix >= 0 && ix < 6 && x[((i * 7 + iy) * 6 + ix) * 5 + c] > m)
                                m = x[((i * 7 + iy) * 6 + ix) * 5 + c];
                    size_t o = ((i * 4 + oy) * 3 + ox) * 5 + c;
                    ck_assert_float_eq(y[o], m);
                    ck_assert_float_eq(x[((size_t)i * 42 + idx[o]) * 5 + c], m);
                }
    free(x), free(y), free(idx);
}
END_TEST

typedef struct Gc {
    int kind; /* 0 maxpool, 1 avg, 2 max global, 3 concat */
    PoolDims d;
    int n, hw, c;
    float *x, *r, *y;
    int32_t *idx;
    size_t nout;
} Gc;

static double gc_loss(void *p)
{
    Gc *g = p;
    switch (g->kind) {
    case 0: maxpool2d_forward(g->y, g->idx, g->x, &g->d); break;
    case 1: avgpool_global_forward(g->y, g->x, g->n, g->hw, g->c); break;
    case 2: maxpool_global_forward(g->y, g->idx, g->x, g->n, g->hw, g->c); break;
    default: concatpool_forward(g->y, g->idx, g->x, g->n, g->hw, g->c); break;
    }
    return gc_dot(g->r, g->y, g->nout);
}

START_TEST(gradients_match_finite_differences)
{
    for (int kind = 0; kind < 4; kind++) {
        Gc g = {kind, maxpool2d_dims(2, 6, 5, 4, 3, 2, 1), 2, 30, 4, 0, 0, 0, 0, 0};
        size_t nin = 2 * 30 * 4;
        g.nout = kind == 0 ? (size_t)2 * g.d.oh * g.d.ow * 4 : kind == 3 ? 16 : 8;
        g.x = malloc(nin * 4), g.r = malloc(g.nout * 4), g.y = malloc(g.nout * 4), g.idx = malloc(g.nout * 4);
        gc_randn(g.x, nin, 3 + kind, 1);
        gc_randn(g.r, g.nout, 4 + kind, 1);
        float *dx = malloc(nin * 4);
        memset(dx, 0x7f, nin * 4);   /* backward overwrites */
        gc_loss(&g);
        switch (kind) {
        case 0: maxpool2d_backward(dx, g.r, g.idx, &g.d); break;
        case 1: avgpool_global_backward(dx, g.r, 2, 30, 4); break;
        case 2: maxpool_global_backward(dx, g.r, g.idx, 2, 30, 4); break;
        default: concatpool_backward(dx, g.r, g.idx, 2, 30, 4); break;
        }
        /* small h: random inputs have no ties within 1e-3 */
        double e = gc_max_err(gc_loss, &g, g.x, dx, nin, nin, 1e-3f, 1e-2);
        ck_assert_msg(e < 5e-3, "kind %d: err %g", kind, e);
        free(g.x), free(g.r), free(g.y), free(g.idx), free(dx);
    }
}
END_TEST

START_TEST(concat_pool_is_max_then_mean)
{
    float x[2 * 3 * 2] = {1, -1, 4, -2, 2, -6,   0, 5, 0, 5, 3, 5};  /* n=2, hw=3, c=2 */
    float y[8];
    int32_t idx[4];
    concatpool_forward(y, idx, x, 2, 3, 2);
    const float want[8] = {4, -1, 7.0f / 3, -3, 3, 5, 1, 5};
    for (int i = 0; i < 8; i++) ck_assert_float_eq_tol(y[i], want[i], 1e-6);
    ck_assert_int_eq(idx[3], 0);   /* ties: the first maximum, as PyTorch */
}
END_TEST

START_TEST(a_nan_wins_every_max_as_in_pytorch)
{
    /* PyTorch's max pools take a NaN as the maximum ((val > max) || isnan(val)),
     * so NaN reaches the loss instead of vanishing behind a larger number. */
    PoolDims d = maxpool2d_dims(1, 4, 4, 2, 3, 2, 1);
    float x[4 * 4 * 2], y[2 * 2 * 2];
    int32_t idx[2 * 2 * 2];
    for (int i = 0; i < 32; i++) x[i] = (float)i;
    x[(1 * 4 + 1) * 2 + 0] = NAN;   /* (1, 1), channel 0: in all four 3x3/2 windows */
    maxpool2d_forward(y, idx, x, &d);
    for (int o = 0; o < 4; o++) {
        ck_assert_msg(isnan(y[o * 2]) && idx[o * 2] == 1 * 4 + 1, "output %d: %g at %d", o, y[o * 2], idx[o * 2]);
        ck_assert(!isnan(y[o * 2 + 1]));   /* channel 1 untouched */
    }
    ck_assert_float_eq(y[3 * 2 + 1], 31);
    float g[2], c2[4];
    int32_t gi[2];
    maxpool_global_forward(g, gi, x, 1, 16, 2);
    ck_assert(isnan(g[0]) && gi[0] == 5 && g[1] == 31);
    concatpool_forward(c2, gi, x, 1, 16, 2);
    ck_assert(isnan(c2[0]) && gi[0] == 5 && c2[1] == 31);
}
END_TEST

/* maxpool2d_forward_bn_relu: the pool of relu(x·scale + shift) computed on the
 * fly is the pool of bn_forward's output, bit for bit, winners included (a
 * negative scale turns minima into maxima; a NaN input wins). */
START_TEST(pool_of_bn_relu_on_the_fly_is_pool_of_bn_output)
{
    const int n = 2, h = 9, w = 7, c = 5;
    PoolDims d = maxpool2d_dims(n, h, w, c, 3, 2, 1);
    size_t nin = (size_t)n * h * w * c, nout = (size_t)n * d.oh * d.ow * c;
    float *x = malloc(nin * 4), *a = malloc(nin * 4), *o1 = malloc(nout * 4), *o2 = malloc(nout * 4);
    int32_t *i1 = malloc(nout * 4), *i2 = malloc(nout * 4);
    gc_randn(x, nin, 5, 1.0f);
    x[17] = NAN;
    const float scale[5] = {1.5f, -0.7f, 0.3f, 2.0f, -1.1f}, shift[5] = {0.1f, -0.2f, 0.5f, -1.0f, 0.0f};
    for (size_t i = 0; i < nin; i++) {
        int j = (int)(i % c);
        float v = x[i] * scale[j] + shift[j];
        a[i] = v <= 0.0f ? 0.0f : v;
    }
    maxpool2d_forward(o1, i1, a, &d);
    maxpool2d_forward_bn_relu(o2, i2, x, scale, shift, &d);
    ck_assert(memcmp(o1, o2, nout * 4) == 0 && memcmp(i1, i2, nout * 4) == 0);
    free(x), free(a), free(o1), free(o2), free(i1), free(i2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_add_test(tc, maxpool_forward_is_window_max);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, concat_pool_is_max_then_mean);
    tcase_add_test(tc, a_nan_wins_every_max_as_in_pytorch);
    tcase_add_test(tc, pool_of_bn_relu_on_the_fly_is_pool_of_bn_output);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
