/* test_resnet.c — src/models/resnet.c: structure, names, init, determinism, gradients. */
#include "check_main.h"
#include "models/resnet.h"
#include "testutil.h"

#include "nn/loss.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static Model *make_prec(const char *arch, int n_out, int plain, int bs, int hw, uint64_t seed, int bf16)
{
    ResnetSpec s = resnet_spec_default(arch, n_out, bs, hw, hw);
    s.plain_fc = plain;
    s.seed = seed;
    s.bf16 = bf16;
    Model *m = NULL;
    Err e = {0};
    ck_assert_msg(resnet_new(&m, &s, &e) == 0, "%s", e.msg);
    return m;
}

static Model *make(const char *arch, int n_out, int plain, int bs, int hw, uint64_t seed)
{
    return make_prec(arch, n_out, plain, bs, hw, seed, 0);
}

START_TEST(param_counts_match_torchvision)
{
    /* torchvision resnet18/34/50/101/152 with a 10-class fc (101/152: torchvision's
     * 44,549,160 and 60,192,808 with 1000 classes, less 1000 x 2049 plus 10 x 2049) */
    const char *archs[5] = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"};
    const long long want[5] = {11181642LL, 21289802LL, 23528522LL, 42520650LL, 58164298LL};
    for (int a = 0; a < 5; a++) {
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

/* n_steps of plain SGD (w -= 0.05·g, cross-entropy) on the batch b of 3 classes, step s drawing seed s. */
static void sgd_steps(Model *m, const Batch *b, int n_steps)
{
    float dout[3 * 16];
    Err e = {0};
    ck_assert(b->n <= 16);
    for (int s = 0; s < n_steps; s++) {
        const float *out;
        model_zero_grad(m);
        ck_assert_msg(m->ops->forward(m, b, MODE_TRAIN, (uint64_t)s, &out, &e) == 0, "%s", e.msg);
        loss_cross_entropy(dout, NULL, out, b->yi, b->n, 3);
        m->ops->backward(m, dout);
        for (int i = 0; i < m->n_params; i++)
            if (m->params[i].g)
                for (size_t k = 0; k < m->params[i].n; k++) m->params[i].w[k] -= 0.05f * m->params[i].g[k];
    }
}

/* n_steps of plain SGD on a fixed batch; returns the weights (all params concatenated). */
static float *train_steps_prec(int threads, int n_steps, size_t *total, int bf16)
{
    omp_set_num_threads(threads);
    Model *m = make_prec("resnet18", 3, 0, 4, 32, 123, bf16);
    const int n = 4, hw = 32;
    float *x = malloc(sizeof(float) * n * hw * hw * 3);
    for (int i = 0; i < n * hw * hw * 3; i++) x[i] = (float)sin(i * 0.37) + 0.1f * (i % 7);
    int32_t y[4] = {0, 1, 2, 1};
    Batch b = {.n = n, .h = hw, .w = hw, .c = 3, .x = x, .kind = TARGET_CATEGORY, .yi = y};
    sgd_steps(m, &b, n_steps);
    *total = 0;
    for (int i = 0; i < m->n_params; i++) *total += m->params[i].n;
    float *w = malloc(*total * sizeof(float)), *p = w;
    for (int i = 0; i < m->n_params; i++) {
        memcpy(p, m->params[i].w, m->params[i].n * sizeof(float));
        p += m->params[i].n;
    }
    model_free(m);
    free(x);
    return w;
}

static float *train_steps(int threads, int n_steps, size_t *total) { return train_steps_prec(threads, n_steps, total, 0); }

START_TEST(same_seed_same_weights_any_thread_count)
{
    size_t n1, n2, n3;
    float *a = train_steps(2, 3, &n1), *b = train_steps(2, 3, &n2), *c = train_steps(1, 3, &n3);
    ck_assert(n1 == n2 && n1 == n3);
    ck_assert_msg(memcmp(a, b, n1 * sizeof(float)) == 0, "two runs differ");
    ck_assert_msg(memcmp(a, c, n1 * sizeof(float)) == 0, "1 and 2 threads differ");
    /* and training did move the weights (dropout on, BN stats updated) */
    Model *m = make("resnet18", 3, 0, 4, 32, 123);
    size_t off = 0, moved = 0;
    for (int i = 0; i < m->n_params; i++) {
        for (size_t k = 0; k < m->params[i].n; k++) moved += m->params[i].w[k] != a[off + k];
        off += m->params[i].n;
    }
    ck_assert_msg(moved > n1 / 4, "%zu of %zu moved", moved, n1);
    model_free(m);
    free(a), free(b), free(c);
}
END_TEST

START_TEST(bad_specs_and_batches_are_refused)
{
    ResnetSpec s = resnet_spec_default("resnet19", 10, 4, 32, 32);
    Model *m = NULL;
    Err e = {0};
    ck_assert_int_eq(resnet_new(&m, &s, &e), ERR_USAGE);
    ck_assert(strstr(e.msg, "resnet19") != NULL);
    m = make("resnet18", 2, 0, 4, 32, 1);
    float x[4 * 64 * 64 * 3] = {0};
    Batch b = {.n = 4, .h = 64, .w = 64, .c = 3, .x = x};
    const float *out;
    ck_assert_int_eq(m->ops->forward(m, &b, MODE_EVAL, 0, &out, &e), ERR_RUNTIME);  /* too big */
    b.h = b.w = 32, b.n = 1;
    ck_assert_int_eq(m->ops->forward(m, &b, MODE_TRAIN, 0, &out, &e), ERR_RUNTIME);  /* BN1d needs 2 */
    ck_assert_int_eq(m->ops->forward(m, &b, MODE_EVAL, 0, &out, &e), 0);             /* eval takes 1 */
    model_free(m);
}
END_TEST

/* precision = bf16: the same bits for 1, 2 or 3 threads (so run after run),
 * and not fp32's (the bf16 products did run). */
START_TEST(bf16_same_seed_same_weights_any_thread_count)
{
    size_t n1, n3, n4, n5;
    float *a = train_steps_prec(2, 3, &n1, 1), *c = train_steps_prec(1, 3, &n3, 1);
    float *d = train_steps_prec(3, 3, &n4, 1), *f = train_steps_prec(2, 3, &n5, 0);
    ck_assert(n1 == n3 && n1 == n4 && n1 == n5);
    ck_assert_msg(memcmp(a, c, n1 * sizeof(float)) == 0, "1 and 2 threads differ");
    ck_assert_msg(memcmp(a, d, n1 * sizeof(float)) == 0, "3 and 2 threads differ");
    size_t differ = 0;
    for (size_t k = 0; k < n1; k++) differ += a[k] != f[k];
    ck_assert_msg(differ > n1 / 4, "bf16 and fp32 weights differ in %zu of %zu", differ, n1);
    free(a), free(c), free(d), free(f);
    omp_set_num_threads(1);
}
END_TEST

/* bf16 keeps the inputs of the convolutions as bf16 alone (Winograd's, taps',
 * the columns'), rounded once by the BatchNorm that writes them, and their
 * output gradients, rounded once by the BatchNorm backward (an even c_out:
 * every one of a resnet): the same bits as rounding fp32 inputs
 * and gradients in each convolution (ResnetSpec.bf16_fp32_inputs), three SGD
 * steps (the last step's gradients compared too) and an eval forward, with less
 * memory.  resnet50 at 32 px (maps 8 to 1: Winograd, taps, columns) and 64 px,
 * resnet18 (its strided blocks take bf16), 2 threads. */
static float *bf16_run(const char *arch, int hw, int fp32_inputs, size_t *total, size_t *ws)
{
    ResnetSpec sp = resnet_spec_default(arch, 3, 4, hw, hw);
    sp.seed = 7, sp.bf16 = 1, sp.bf16_fp32_inputs = fp32_inputs, sp.threads = 2;
    Model *m = NULL;
    Err e = {0};
    ck_assert_msg(resnet_new(&m, &sp, &e) == 0, "%s", e.msg);
    const int n = 4;
    float *x = malloc(sizeof(float) * n * hw * hw * 3);
    for (int i = 0; i < n * hw * hw * 3; i++) x[i] = (float)sin(i * 0.37) + 0.1f * (i % 7);
    int32_t y[4] = {0, 1, 2, 1};
    Batch b = {.n = n, .h = hw, .w = hw, .c = 3, .x = x, .kind = TARGET_CATEGORY, .yi = y};
    sgd_steps(m, &b, 3);
    const float *out;
    ck_assert(m->ops->forward(m, &b, MODE_EVAL, 9, &out, &e) == 0);
    *total = 12;
    for (int i = 0; i < m->n_params; i++) *total += m->params[i].n * (m->params[i].g ? 2 : 1);
    float *w = malloc(*total * sizeof(float)), *p = w;
    memcpy(p, out, 12 * sizeof(float)), p += 12;
    for (int i = 0; i < m->n_params; i++) {
        memcpy(p, m->params[i].w, m->params[i].n * sizeof(float)), p += m->params[i].n;
        if (m->params[i].g) memcpy(p, m->params[i].g, m->params[i].n * sizeof(float)), p += m->params[i].n;
    }
    *ws = resnet_workspace_bytes(m);
    model_free(m);
    free(x);
    return w;
}

START_TEST(bf16_inputs_kept_as_bf16_give_the_same_bits)
{
    const char *archs[3] = {"resnet50", "resnet50", "resnet18"};
    const int hws[3] = {32, 64, 64};
    omp_set_num_threads(2);
    for (int a = 0; a < 3; a++) {
        size_t n1, n2, ws1, ws2;
        float *w1 = bf16_run(archs[a], hws[a], 0, &n1, &ws1), *w2 = bf16_run(archs[a], hws[a], 1, &n2, &ws2);
        ck_assert(n1 == n2);
        ck_assert_msg(memcmp(w1, w2, n1 * sizeof(float)) == 0, "%s %d px: the numbers differ", archs[a], hws[a]);
        ck_assert_msg(ws1 < ws2, "%s %d px: workspace %zu, with fp32 inputs %zu", archs[a], hws[a], ws1, ws2);
        free(w1), free(w2);
    }
    omp_set_num_threads(1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("resnet");
    TCase *tc = tcase_create("structure");
    tcase_add_test(tc, param_counts_match_torchvision);
    tcase_add_test(tc, fastai_head_names_and_groups);
    tcase_add_test(tc, same_seed_same_weights_any_thread_count);
    tcase_add_test(tc, bf16_same_seed_same_weights_any_thread_count);
    tcase_add_test(tc, bf16_inputs_kept_as_bf16_give_the_same_bits);
    tcase_add_test(tc, bad_specs_and_batches_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
