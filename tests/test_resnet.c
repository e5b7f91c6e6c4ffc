/* test_resnet.c — src/models/resnet.c: structure, names, init, determinism, gradients. */
#include "check_main.h"
#include "models/resnet.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static Model *make(const char *arch, int n_out, int plain, int bs, int hw, uint64_t seed)
{
    ResnetSpec s = resnet_spec_default(arch, n_out, bs, hw, hw);
    s.plain_fc = plain;
    s.seed = seed;
    Model *m = NULL;
    Err e = {0};
    ck_assert_msg(resnet_new(&m, &s, &e) == 0, "%s", e.msg);
    return m;
}

START_TEST(param_counts_match_torchvision)
{
    /* torchvision resnet18/34/50 with a 10-class fc */
    const char *archs[3] = {"resnet18", "resnet34", "resnet50"};
    const long long want[3] = {11181642LL, 21289802LL, 23528522LL};
    for (int a = 0; a < 3; a++) {
        Model *m = make(archs[a], 10, 1, 2, 32, 0);
        ck_assert_int_eq(resnet_param_count(m), want[a]);
        model_free(m);
    }
}
END_TEST

START_TEST(fastai_head_names_and_groups)
{
    Model *m = make("resnet18", 10, 0, 2, 32, 0);
    /* body 11,176,512 + head BN(1024) 2048 + Linear 1024*512 + BN(512) 1024 + Linear 512*10 */
    ck_assert_int_eq(resnet_param_count(m), 11176512LL + 2048 + 524288 + 1024 + 5120);
    ck_assert_str_eq(m->params[0].name, "0.0.weight");
    ck_assert_int_eq(m->params[0].layout, LAYOUT_OHWI);
    ck_assert_str_eq(m->params[5].name, "0.1.num_batches_tracked");
    ck_assert_int_eq(m->params[5].kind, PARAM_COUNTER);
    ck_assert_str_eq(m->params[6].name, "0.4.0.conv1.weight");
    Param *p = model_param(m, "0.5.0.downsample.0.weight");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->shape[0], 128);
    ck_assert_int_eq(p->shape[1], 64);
    ck_assert_int_eq(p->group, 0);
    ck_assert_int_eq(model_param(m, "0.6.0.conv1.weight")->group, 1);
    ck_assert_int_eq(model_param(m, "1.8.weight")->group, 2);
    ck_assert_int_eq(model_param(m, "1.4.weight")->shape[1], 1024);
    ck_assert(model_param(m, "1.2.weight")->is_norm && model_param(m, "1.2.bias")->no_wd);
    ck_assert(!model_param(m, "1.4.weight")->no_wd);
    ck_assert_float_eq(model_param(m, "1.2.bias")->w[0], 1e-3f);
    ck_assert_float_eq(model_param(m, "0.1.bias")->w[0], 0.0f);
    /* fastai's split: 30 / 30 / 6 trainable tensors */
    int cnt[3] = {0, 0, 0};
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i].kind == PARAM_WEIGHT) cnt[m->params[i].group]++;
    ck_assert_int_eq(cnt[0], 30);
    ck_assert_int_eq(cnt[1], 30);
    ck_assert_int_eq(cnt[2], 6);
    model_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("resnet");
    TCase *tc = tcase_create("structure");
    tcase_add_test(tc, param_counts_match_torchvision);
    tcase_add_test(tc, fastai_head_names_and_groups);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
