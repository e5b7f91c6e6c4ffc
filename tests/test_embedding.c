/* test_embedding.c — src/nn/embedding.c: lookup, index validation and the
 * scatter-add gradient with repeated indices. */
#include "check_main.h"
#include "gradcheck.h"
#include "nn/embedding.h"

#include <stdlib.h>
#include <string.h>

typedef struct Gc { float *table, *r, *y; const int32_t *idx; int n, d; } Gc;

static double gc_loss(void *p)
{
    Gc *g = p;
    embedding_forward(g->y, g->table, g->idx, g->n, g->d);
    return gc_dot(g->r, g->y, (size_t)g->n * g->d);
}

START_TEST(lookup_and_gradient)
{
    const int32_t idx[6] = {3, 0, 3, 4, 1, 3};   /* 3 repeated, 2 never used */
    float table[5 * 4], r[6 * 4], y[6 * 4], dt[5 * 4] = {0};
    gc_randn(table, 20, 1, 1), gc_randn(r, 24, 2, 1);
    Gc g = {table, r, y, idx, 6, 4};
    gc_loss(&g);
    for (int i = 0; i < 6; i++) ck_assert(memcmp(y + i * 4, table + idx[i] * 4, 16) == 0);
    embedding_backward(dt, r, idx, 6, 4);
    for (int j = 0; j < 4; j++) ck_assert_float_eq(dt[2 * 4 + j], 0.0f);
    ck_assert(gc_max_err(gc_loss, &g, table, dt, 20, 20, 1e-2f, 1e-2) < 1e-3);
}
END_TEST

START_TEST(check_finds_out_of_range_indices)
{
    const int32_t ok[3] = {0, 4, 2}, bad[4] = {0, 1, 5, -1}, neg[2] = {-1, 0};
    ck_assert_int_eq(embedding_check(ok, 3, 5), -1);
    ck_assert_int_eq(embedding_check(bad, 4, 5), 2);
    ck_assert_int_eq(embedding_check(neg, 2, 5), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("embedding");
    TCase *tc = tcase_create("embedding");
    tcase_add_test(tc, lookup_and_gradient);
    tcase_add_test(tc, check_finds_out_of_range_indices);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
