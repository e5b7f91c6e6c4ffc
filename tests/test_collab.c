/* test_collab.c — src/models/collab: parameter layout as fastai's state_dict,
 * initialisation, gradients of every model against finite differences, and
 * BatchNorm running statistics. */
#include "check_main.h"
#include "data/ratings.h"
#include "learn/learner.h"
#include "learn/optim.h"
#include "nn/loss.h"
#include "core/rng.h"
#include "models/collab.h"
#include "testutil.h"

#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Model *make(CollabArch arch, int n_users, int n_items, int max_bs, int y_range)
{
    CollabSpec s = {.arch = arch, .n_users = n_users, .n_items = n_items, .n_factors = 5,
                    .has_y_range = y_range, .y_lo = 0.0f, .y_hi = 5.5f, .max_bs = max_bs, .seed = 3};
    if (arch == COLLAB_NN) {
        s.n_layers = 2, s.layers[0] = 6, s.layers[1] = 4;
        s.emb_user = 3, s.emb_item = 4;
    }
    Model *m;
    Err e = {0};
    ck_assert_msg(collab_model_new(&m, &s, &e) == 0, "%s", e.msg);
    return m;
}

START_TEST(emb_sz_rule_matches_fastai)
{
    ck_assert_int_eq(collab_emb_sz_rule(944), 74);
    ck_assert_int_eq(collab_emb_sz_rule(1665), 102);
    ck_assert_int_eq(collab_emb_sz_rule(10000000), 600);
}
END_TEST

START_TEST(params_are_named_and_shaped_as_fastai_state_dict)
{
    Model *m = make(COLLAB_DOT_BIAS, 11, 13, 4, 1);
    ck_assert_int_eq(m->n_params, 4);
    const char *names[] = {"u_weight.weight", "i_weight.weight", "u_bias.weight", "i_bias.weight"};
    const int64_t rows[] = {11, 13, 11, 13}, cols[] = {5, 5, 1, 1};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(m->params[i].name, names[i]);
        ck_assert_int_eq(m->params[i].shape[0], rows[i]);
        ck_assert_int_eq(m->params[i].shape[1], cols[i]);
        /* fastai's norm_bias_params looks for `.bias` attributes: Embedding
         * tables (bias tables included) get weight decay */
        ck_assert_int_eq(m->params[i].no_wd, 0);
        ck_assert_int_eq(m->params[i].group, 0);
    }
    ck_assert_int_eq(m->info.n_groups, 1);
    model_free(m);

    m = make(COLLAB_NN, 11, 13, 4, 1);
    const char *nn[] = {"embeds.0.weight", "embeds.1.weight", "layers.0.0.weight", "layers.0.2.weight",
                        "layers.0.2.bias", "layers.0.2.running_mean", "layers.0.2.running_var",
                        "layers.0.2.num_batches_tracked", "layers.1.0.weight", "layers.1.2.weight",
                        "layers.1.2.bias", "layers.1.2.running_mean", "layers.1.2.running_var",
                        "layers.1.2.num_batches_tracked", "layers.2.0.weight", "layers.2.0.bias"};
    ck_assert_int_eq(m->n_params, 16);
    for (int i = 0; i < 16; i++) ck_assert_str_eq(m->params[i].name, nn[i]);
    ck_assert_int_eq(model_param(m, "layers.0.0.weight")->shape[0], 6);
    ck_assert_int_eq(model_param(m, "layers.0.0.weight")->shape[1], 7);
    ck_assert_int_eq(model_param(m, "layers.2.0.weight")->shape[1], 4);
    ck_assert_int_eq(model_param(m, "layers.0.0.weight")->no_wd, 0);
    ck_assert_int_eq(model_param(m, "layers.0.2.weight")->no_wd, 1);
    ck_assert_int_eq(model_param(m, "layers.0.2.weight")->is_norm, 1);
    ck_assert_int_eq(model_param(m, "layers.2.0.bias")->no_wd, 1);
    ck_assert_int_eq(model_param(m, "layers.2.0.bias")->is_norm, 0);
    ck_assert_int_eq(model_param(m, "layers.0.2.running_var")->kind, PARAM_BUFFER);
    ck_assert(model_param(m, "layers.0.2.running_var")->w[0] == 1.0f);
    ck_assert(model_param(m, "layers.0.2.bias")->w[0] == 1e-3f);
    ck_assert(model_param(m, "layers.0.2.weight")->w[0] == 1.0f);
    model_free(m);
}
END_TEST

START_TEST(embeddings_start_as_truncated_normal_std_001)
{
    Model *m = make(COLLAB_DOT_BIAS, 2000, 1000, 4, 1);
    Param *p = &m->params[0];
    double s = 0, s2 = 0;
    for (size_t k = 0; k < p->n; k++) {
        ck_assert(fabsf(p->w[k]) < 0.02f);
        s += p->w[k], s2 += (double)p->w[k] * p->w[k];
    }
    double mean = s / p->n, sd = sqrt(s2 / p->n - mean * mean);
    /* normal(0,1).fmod(2) has std 0.8659 (measured with torch over 1e7 draws); times 0.01 */
    ck_assert_msg(fabs(mean) < 2e-4 && fabs(sd - 0.008659) < 1e-4, "mean %g sd %g", mean, sd);
    model_free(m);
}
END_TEST

/* L = Σ_b c_b·out_b, so dL/dout = c.  Compare every gradient entry with a
 * central difference of L (in double over float forwards). */
static void grad_check(CollabArch arch, int y_range)
{
    const int nu = 6, ni = 7, n = 9;
    Model *m = make(arch, nu, ni, n, y_range);
    Rng r = rng_make(11, arch * 2 + y_range);
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i].kind == PARAM_WEIGHT)
            for (size_t k = 0; k < m->params[i].n; k++) m->params[i].w[k] = (float)(0.5 * rng_normal(&r));
    int32_t user[9] = {1, 2, 2, 5, 0, 3, 1, 4, 2}, item[9] = {1, 6, 6, 3, 2, 0, 4, 5, 1};
    float c[9];
    for (int b = 0; b < n; b++) c[b] = (float)rng_normal(&r);
    Batch bt = {.n = n, .user = user, .item = item};
    Err e = {0};
    const float *out;
    /* BN running stats change with every train forward; they do not affect
     * train-mode outputs, so repeated forwards see the same function. */
    model_zero_grad(m);
    ck_assert_int_eq(m->ops->forward(m, &bt, MODE_TRAIN, 0, &out, &e), 0);
    m->ops->backward(m, c);
    const float h = 1e-3f;   /* small: ReLU kinks and BatchNorm curvature */
    int checked = 0;
    for (int i = 0; i < m->n_params; i++) {
        Param *p = &m->params[i];
        if (p->kind != PARAM_WEIGHT) continue;
        for (size_t k = 0; k < p->n; k++) {
            float w0 = p->w[k];
            double l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                p->w[k] = w0 + (sgn ? -h : h);
                ck_assert_int_eq(m->ops->forward(m, &bt, MODE_TRAIN, 0, &out, &e), 0);
                l[sgn] = 0;
                for (int b = 0; b < n; b++) l[sgn] += (double)c[b] * out[b];
            }
            p->w[k] = w0;
            double num = (l[0] - l[1]) / (2 * h), g = p->g[k];
            ck_assert_msg(fabs(num - g) <= 2e-2 * fmax(fabs(num), fabs(g)) + 2e-3,
                          "%s %s[%zu]: analytic %g, numeric %g", m->info.arch, p->name, k, g, num);
            checked++;
        }
    }
    ck_assert_int_gt(checked, 50);
    model_free(m);
}

START_TEST(dot_product_gradients_match_finite_differences)
{
    grad_check(COLLAB_DOT, 1);
    grad_check(COLLAB_DOT, 0);
}
END_TEST

START_TEST(dot_product_bias_gradients_match_finite_differences)
{
    grad_check(COLLAB_DOT_BIAS, 1);
    grad_check(COLLAB_DOT_BIAS, 0);
}
END_TEST

START_TEST(embedding_nn_gradients_match_finite_differences)
{
    grad_check(COLLAB_NN, 1);
    grad_check(COLLAB_NN, 0);
}
END_TEST

START_TEST(dot_product_bias_forward_is_the_formula)
{
    Model *m = make(COLLAB_DOT_BIAS, 4, 5, 3, 1);
    int32_t user[3] = {1, 3, 0}, item[3] = {4, 2, 0};
    Batch bt = {.n = 3, .user = user, .item = item};
    const float *out;
    Err e = {0};
    ck_assert_int_eq(m->ops->forward(m, &bt, MODE_EVAL, 0, &out, &e), 0);
    for (int b = 0; b < 3; b++) {
        double s = m->params[2].w[user[b]] + m->params[3].w[item[b]];
        for (int f = 0; f < 5; f++) s += (double)m->params[0].w[user[b] * 5 + f] * m->params[1].w[item[b] * 5 + f];
        double want = 5.5 / (1 + exp(-s));
        ck_assert_msg(fabs(out[b] - want) < 1e-5, "%g vs %g", out[b], want);
    }
    /* out-of-range ids are an error, not a crash */
    user[1] = 4;
    ck_assert_int_eq(m->ops->forward(m, &bt, MODE_EVAL, 0, &out, &e), ERR_RUNTIME);
    ck_assert_msg(strstr(e.msg, "user 4"), "%s", e.msg);
    model_free(m);
}
END_TEST

START_TEST(batchnorm_running_stats_follow_pytorch)
{
    Model *m = make(COLLAB_NN, 6, 7, 8, 1);
    int32_t user[8] = {1, 2, 3, 4, 5, 1, 2, 3}, item[8] = {1, 2, 3, 4, 5, 6, 1, 2};
    Batch bt = {.n = 8, .user = user, .item = item};
    const float *out;
    Err e = {0};
    ck_assert_int_eq(m->ops->forward(m, &bt, MODE_TRAIN, 0, &out, &e), 0);
    /* recompute layer 0's ReLU output from the embeddings and weights */
    Param *W = model_param(m, "layers.0.0.weight");
    Param *Eu = model_param(m, "embeds.0.weight"), *Ei = model_param(m, "embeds.1.weight");
    Param *rm = model_param(m, "layers.0.2.running_mean"), *rv = model_param(m, "layers.0.2.running_var");
    for (int j = 0; j < 6; j++) {
        double a[8], s = 0, s2 = 0;
        for (int b = 0; b < 8; b++) {
            double z = 0;
            for (int k = 0; k < 3; k++) z += (double)W->w[j * 7 + k] * Eu->w[user[b] * 3 + k];
            for (int k = 0; k < 4; k++) z += (double)W->w[j * 7 + 3 + k] * Ei->w[item[b] * 4 + k];
            a[b] = z > 0 ? z : 0;
            s += a[b];
        }
        double mu = s / 8;
        for (int b = 0; b < 8; b++) s2 += (a[b] - mu) * (a[b] - mu);
        ck_assert(fabs(rm->w[j] - 0.1 * mu) < 1e-6);
        ck_assert(fabs(rv->w[j] - (0.9 + 0.1 * s2 / 7)) < 1e-6);
    }
    ck_assert(model_param(m, "layers.0.2.num_batches_tracked")->w[0] == 1.0f);
    /* a training batch of 1 cannot be normalised (PyTorch raises too) */
    bt.n = 1;
    ck_assert_int_eq(m->ops->forward(m, &bt, MODE_TRAIN, 0, &out, &e), ERR_RUNTIME);
    ck_assert_int_eq(m->ops->forward(m, &bt, MODE_EVAL, 0, &out, &e), 0);
    model_free(m);
}
END_TEST

/* EmbeddingNN forward recomputed in double from its parameters: Linear(no
 * bias) → ReLU → BatchNorm1d (batch statistics, biased variance, eps 1e-5, in
 * training; running statistics in eval) → Linear with bias → SigmoidRange. */
static void nn_reference(Model *m, const int32_t *user, const int32_t *item, int n, int train, double *out)
{
    const int du = 3, di = 4, sizes[4] = {7, 6, 4, 1};
    double x[16][8], y[16][8];
    const float *Eu = model_param(m, "embeds.0.weight")->w, *Ei = model_param(m, "embeds.1.weight")->w;
    for (int b = 0; b < n; b++) {
        for (int k = 0; k < du; k++) x[b][k] = Eu[user[b] * du + k];
        for (int k = 0; k < di; k++) x[b][du + k] = Ei[item[b] * di + k];
    }
    char nm[64];
    for (int l = 0; l < 3; l++) {
        snprintf(nm, sizeof nm, "layers.%d.0.weight", l);
        const float *W = model_param(m, nm)->w;
        const int in = sizes[l], o = sizes[l + 1];
        for (int b = 0; b < n; b++)
            for (int j = 0; j < o; j++) {
                double z = 0;
                for (int k = 0; k < in; k++) z += (double)W[j * in + k] * x[b][k];
                y[b][j] = z;
            }
        if (l == 2) {
            double bias = model_param(m, "layers.2.0.bias")->w[0];
            for (int b = 0; b < n; b++) out[b] = 5.5 / (1 + exp(-(y[b][0] + bias)));
            return;
        }
        snprintf(nm, sizeof nm, "layers.%d.2.weight", l);
        const float *g = model_param(m, nm)->w;
        snprintf(nm, sizeof nm, "layers.%d.2.bias", l);
        const float *be = model_param(m, nm)->w;
        snprintf(nm, sizeof nm, "layers.%d.2.running_mean", l);
        const float *rm = model_param(m, nm)->w;
        snprintf(nm, sizeof nm, "layers.%d.2.running_var", l);
        const float *rv = model_param(m, nm)->w;
        for (int j = 0; j < o; j++) {
            double mu = 0, var = 0;
            for (int b = 0; b < n; b++) y[b][j] = y[b][j] > 0 ? y[b][j] : 0, mu += y[b][j];
            mu /= n;
            for (int b = 0; b < n; b++) var += (y[b][j] - mu) * (y[b][j] - mu);
            var /= n;
            if (!train) mu = rm[j], var = rv[j];
            for (int b = 0; b < n; b++) x[b][j] = (y[b][j] - mu) / sqrt(var + 1e-5) * g[j] + be[j];
        }
    }
}

START_TEST(embedding_nn_forward_is_linear_relu_batchnorm_sigmoid_range)
{
    Model *m = make(COLLAB_NN, 6, 7, 8, 1);
    Rng r = rng_make(8, 8);
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i].kind != PARAM_COUNTER)
            for (size_t k = 0; k < m->params[i].n; k++)
                m->params[i].w[k] = (float)(m->params[i].kind == PARAM_BUFFER && strstr(m->params[i].name, "var")
                                                ? 0.5 + rng_uniform(&r)
                                                : 0.5 * rng_normal(&r));
    int32_t user[8] = {1, 2, 3, 4, 5, 1, 2, 0}, item[8] = {1, 2, 3, 4, 5, 6, 1, 0};
    Batch bt = {.n = 8, .user = user, .item = item};
    const float *out;
    Err e = {0};
    double want[8];
    nn_reference(m, user, item, 8, 0, want);   /* eval first: running stats not yet touched */
    ck_assert_int_eq(m->ops->forward(m, &bt, MODE_EVAL, 0, &out, &e), 0);
    for (int b = 0; b < 8; b++) ck_assert_msg(fabs(out[b] - want[b]) < 1e-5, "eval %d: %g vs %g", b, out[b], want[b]);
    nn_reference(m, user, item, 8, 1, want);
    ck_assert_int_eq(m->ops->forward(m, &bt, MODE_TRAIN, 0, &out, &e), 0);
    for (int b = 0; b < 8; b++) ck_assert_msg(fabs(out[b] - want[b]) < 1e-5, "train %d: %g vs %g", b, out[b], want[b]);
    model_free(m);
}
END_TEST

static int all_grads_zero(const Model *m)
{
    for (int i = 0; i < m->n_params; i++)
        for (size_t k = 0; m->params[i].g && k < m->params[i].n; k++)
            if (m->params[i].g[k] != 0) return 0;
    return 1;
}

START_TEST(sparse_zero_grad_clears_every_gradient)
{
    for (int arch = COLLAB_DOT; arch <= COLLAB_NN; arch++) {
        Model *m = make((CollabArch)arch, 30, 40, 4, 1);
        int32_t u1[4] = {1, 5, 5, 29}, i1[4] = {39, 2, 7, 7}, u2[4] = {3, 4, 6, 8}, i2[4] = {9, 10, 11, 12};
        float c[4] = {1, -2, 0.5f, 3};
        Batch b1 = {.n = 4, .user = u1, .item = i1}, b2 = {.n = 4, .user = u2, .item = i2};
        const float *out;
        Err e = {0};
        /* one backward, then an eval forward on other rows (validation) */
        ck_assert_int_eq(m->ops->forward(m, &b1, MODE_TRAIN, 0, &out, &e), 0);
        m->ops->backward(m, c);
        ck_assert(!all_grads_zero(m));
        ck_assert_int_eq(m->ops->forward(m, &b2, MODE_EVAL, 0, &out, &e), 0);
        model_zero_grad(m);
        ck_assert(all_grads_zero(m));
        /* two backwards accumulate before one zero_grad */
        ck_assert_int_eq(m->ops->forward(m, &b1, MODE_TRAIN, 0, &out, &e), 0);
        m->ops->backward(m, c);
        ck_assert_int_eq(m->ops->forward(m, &b2, MODE_TRAIN, 0, &out, &e), 0);
        m->ops->backward(m, c);
        model_zero_grad(m);
        ck_assert(all_grads_zero(m));
        model_free(m);
    }
}
END_TEST

/* fastai's Adam, dense: every row moves every step (weight decay; momentum
 * for rows seen before), checked against the formulas in double. */
START_TEST(adam_steps_follow_fastai_formulas_on_every_row)
{
    Model *m = make(COLLAB_DOT_BIAS, 6, 7, 4, 1);
    Rng r = rng_make(5, 5);
    for (int i = 0; i < m->n_params; i++)
        for (size_t k = 0; k < m->params[i].n; k++) m->params[i].w[k] = (float)(0.3 * rng_normal(&r));
    OptHyper h = optim_default_hyper(OPT_ADAM);
    h.lr = 1e-2, h.wd = 0.1;
    Err e = {0};
    Optimizer *o = optim_new(OPT_ADAM, &h, 1, m, 1, &e);
    ck_assert_msg(o != NULL, "%s", e.msg);
    /* reference state in double */
    double *w[4], *ga[4], *sa[4];
    for (int i = 0; i < 4; i++) {
        size_t n = m->params[i].n;
        w[i] = malloc(n * sizeof(double)), ga[i] = calloc(n, sizeof(double)), sa[i] = calloc(n, sizeof(double));
        for (size_t k = 0; k < n; k++) w[i][k] = m->params[i].w[k];
    }
    const double u0_bias0 = m->params[2].w[0];
    /* user 5 / item 6 only in step 1; user 0 / item 0 never */
    int32_t us[3][4] = {{1, 5, 2, 2}, {1, 2, 3, 4}, {4, 3, 2, 1}}, is[3][4] = {{1, 6, 2, 3}, {2, 3, 4, 5}, {5, 1, 1, 2}};
    float y[4] = {1, 4.5f, 3, 2}, dout[4];
    const double moms[3] = {0.95, 0.9, 0.85}, lrs[3] = {1e-2, 2e-2, 5e-3};
    for (int t = 0; t < 3; t++) {
        Batch b = {.n = 4, .user = us[t], .item = is[t], .y = y, .n_y = 1};
        const float *out;
        model_zero_grad(m);
        ck_assert_int_eq(m->ops->forward(m, &b, MODE_TRAIN, 0, &out, &e), 0);
        loss_mse(dout, NULL, out, y, 4, 1);
        m->ops->backward(m, dout);
        optim_set_mom(o, moms[t]);
        optim_set_lr(o, &lrs[t]);
        optim_step(o);
        double lr = lrs[t], mom = moms[t], db1 = 1 - pow(mom, t + 1), db2 = 1 - pow(0.99, t + 1);
        for (int i = 0; i < 4; i++)
            for (size_t k = 0; k < m->params[i].n; k++) {
                double g = m->params[i].g[k];
                w[i][k] *= 1 - lr * 0.1;   /* u_bias/i_bias too: fastai decays Embedding bias tables */
                ga[i][k] = mom * ga[i][k] + (1 - mom) * g;
                sa[i][k] = 0.99 * sa[i][k] + 0.01 * g * g;
                w[i][k] -= lr / db1 * ga[i][k] / (sqrt(sa[i][k] / db2) + 1e-5);
                ck_assert_msg(fabs(m->params[i].w[k] - w[i][k]) <= 2e-6 * fabs(w[i][k]) + 1e-7,
                              "step %d %s[%zu]: %.9g vs %.9g", t, m->params[i].name, k, m->params[i].w[k], w[i][k]);
            }
    }
    /* the optimizer flushes denormals only inside its own sweep */
    ck_assert_int_eq(_mm_getcsr() & 0x8040, 0);
    /* the row never seen only decayed; the row seen in step 1 kept moving */
    double decay = (1 - 1e-2 * 0.1) * (1 - 2e-2 * 0.1) * (1 - 5e-3 * 0.1);
    ck_assert(ga[2][0] == 0);
    ck_assert_msg(fabs(m->params[2].w[0] - decay * u0_bias0) < 1e-7, "%g vs %g", m->params[2].w[0], decay * u0_bias0);
    ck_assert(ga[0][5 * 5] != 0 && m->params[0].g[5 * 5] == 0);
    for (int i = 0; i < 4; i++) free(w[i]), free(ga[i]), free(sa[i]);
    optim_free(o);
    model_free(m);
}
END_TEST

static float mse_loss(void *ctx, float *dout, float *per_item, const float *out, int c, const Batch *b)
{
    (void)ctx;
    return loss_mse(dout, per_item, out, b->y, b->n, c);
}

/* Ratings drawn from the DotProductBias family itself plus Gaussian noise of
 * known variance: training must bring the validation MSE to within 10% of
 * that noise floor (the best any model can do).  Each user/item has k+1
 * parameters estimated from its own ~n ratings, so the excess over the floor
 * is about σ²·(k+1)·(1/n_user + 1/n_item): dense data (90% of a 400x400 matrix,
 * ~290 training ratings per row) keeps that near 3%. */
/* A collab model trained through the learner on a ratings CSV, quietly:
 * loaders (split_seed, bs, loader seed), model (arch, n_factors, model_seed;
 * EmbeddingNN gets one hidden layer of 8), learner with `threads`. */
typedef struct {
    Loaders *dls;
    Model *m;
    Learner *l;
    FILE *null;
} CollabRun;

static void collab_run_start(CollabRun *run, const char *path, uint64_t split_seed, CollabArch arch,
                             int n_factors, uint64_t model_seed, int bs, uint64_t loader_seed, int threads)
{
    RatingsSpec s = {.path = path, .sep = ',', .valid_pct = 0.2, .split_seed = split_seed};
    RatingsData *d;
    Err e = {0};
    ck_assert_msg(ratings_load(&d, &s, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(ratings_loaders_from_data(&run->dls, d, bs, loader_seed, &e), 0);
    CollabSpec cs = {.arch = arch, .n_users = d->n_users, .n_items = d->n_items, .n_factors = n_factors,
                     .has_y_range = 1, .y_lo = 0, .y_hi = 5.5f, .max_bs = bs, .seed = model_seed};
    if (arch == COLLAB_NN) cs.n_layers = 1, cs.layers[0] = 8;
    ck_assert_int_eq(collab_model_new(&run->m, &cs, &e), 0);
    LearnerOpts o;
    learner_opts_default(&o);
    o.loss = mse_loss;
    o.quiet = 1;
    o.threads = threads;
    run->null = fopen("/dev/null", "w");
    o.out = run->null, o.progress = run->null;
    run->l = learner_new(run->m, run->dls, &o, &e);
    ck_assert_msg(run->l != NULL, "%s", e.msg);
}

/* fit_one_cycle(n_epoch, lr, wd) with fastai's other defaults. */
static void collab_run_fit(CollabRun *run, int n_epoch, double lr, double wd)
{
    Err e = {0};
    Stage st = {.kind = STAGE_ONE_CYCLE, .n_epoch = n_epoch, .lr = lr_num(lr), .div = 25, .div_final = 1e5,
                .pct_start = 0.25, .moms = {0.95, 0.85, 0.95}, .has_wd = 1, .wd = wd};
    Schedule sch = {.n = 1, .stages = &st};
    ck_assert_msg(learner_fit_schedule(run->l, &sch, &e) == 0, "%s", e.msg);
}

static void collab_run_free(CollabRun *run)
{
    learner_free(run->l);
    loaders_free(run->dls);
    model_free(run->m);
    fclose(run->null);
}

START_TEST(recovers_a_known_latent_factor_model_to_the_noise_floor)
{
    const int nu = 400, ni = 400, k = 3;
    const double sigma = 0.3, density = 0.9;
    Rng r = rng_make(2024, 1);
    double *U = malloc(sizeof(double) * nu * k), *V = malloc(sizeof(double) * ni * k);
    double *bu = malloc(sizeof(double) * nu), *bi = malloc(sizeof(double) * ni);
    for (int i = 0; i < nu * k; i++) U[i] = 0.6 * rng_normal(&r);
    for (int i = 0; i < ni * k; i++) V[i] = 0.6 * rng_normal(&r);
    for (int i = 0; i < nu; i++) bu[i] = 0.4 * rng_normal(&r);
    for (int i = 0; i < ni; i++) bi[i] = 0.4 * rng_normal(&r);
    size_t cap = (size_t)nu * ni * 24 + 64, len = 0;
    char *csv = malloc(cap);
    len += (size_t)sprintf(csv, "user,item,rating\n");
    for (int u = 0; u < nu; u++)
        for (int i = 0; i < ni; i++) {
            if (rng_uniform(&r) >= density) continue;
            double x = bu[u] + bi[i];
            for (int f = 0; f < k; f++) x += U[u * k + f] * V[i * k + f];
            double rating = 5.5 / (1 + exp(-x)) + sigma * rng_normal(&r);
            len += (size_t)sprintf(csv + len, "u%d,i%d,%.6f\n", u, i, rating);
        }
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir);
    tu_write(dir, "r.csv", csv, len, path, sizeof path);
    free(csv), free(U), free(V), free(bu), free(bi);

    CollabRun run;
    collab_run_start(&run, path, 7, COLLAB_DOT_BIAS, k, 1, 64, 1, 1);
    collab_run_fit(&run, 8, 1e-2, 0.01);
    Err e = {0};
    double vals[4];
    ck_assert_int_eq(learner_validate(run.l, vals, &e), 0);
    double floor = sigma * sigma;
    ck_assert_msg(vals[0] <= 1.1 * floor, "valid MSE %.5f, noise floor %.5f (ratio %.3f)", vals[0], floor,
                  vals[0] / floor);
    fprintf(stderr, "recovery: valid MSE %.5f = %.3f x the noise floor %.3f\n", vals[0], vals[0] / floor, floor);
    collab_run_free(&run);
    tu_rmtree(dir);
}
END_TEST

/* Same seed => the same weights whatever the thread count: one epoch of
 * training through the learner with 1 and with 2 threads, for a small model
 * (swept on one thread by the optimizer's policy) and for one above
 * OPTIM_PAR_MIN weights (swept by both threads). */
static float *train_weights(CollabArch arch, int n_factors, int threads, const char *path, size_t *n_out)
{
    CollabRun run;
    collab_run_start(&run, path, 3, arch, n_factors, 9, 32, 5, threads);
    Model *m = run.m;
    size_t n = 0;
    for (int i = 0; i < m->n_params; i++) n += m->params[i].n;
    if (n_factors > 1000) ck_assert(n >= OPTIM_PAR_MIN);
    ck_assert_int_eq(run.l->opt->threads, n >= OPTIM_PAR_MIN ? threads : 1);
    collab_run_fit(&run, 1, 5e-3, 0.1);
    float *w = malloc(sizeof(float) * n), *p = w;
    for (int i = 0; i < m->n_params; i++, p += m->params[i - 1].n)
        memcpy(p, m->params[i].w, sizeof(float) * m->params[i].n);
    *n_out = n;
    collab_run_free(&run);
    return w;
}

START_TEST(training_is_independent_of_the_thread_count)
{
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir);
    char *csv = malloc(64 * 1024);
    size_t len = (size_t)sprintf(csv, "user,item,rating\n");
    Rng r = rng_make(77, 1);
    for (int k = 0; k < 1500; k++)
        len += (size_t)sprintf(csv + len, "%d,%d,%.1f\n", (int)(rng_uniform(&r) * 300),
                               (int)(rng_uniform(&r) * 400), 0.5 * (1 + (int)(rng_uniform(&r) * 10)));
    tu_write(dir, "r.csv", csv, len, path, sizeof path);
    free(csv);
    const struct { CollabArch arch; int nf; } cases[] = {
        {COLLAB_DOT_BIAS, 20}, {COLLAB_NN, 0}, {COLLAB_DOT_BIAS, 3100}};   /* the last: > OPTIM_PAR_MIN */
    for (int c = 0; c < 3; c++) {
        size_t n1, n2;
        float *a = train_weights(cases[c].arch, cases[c].nf, 1, path, &n1);
        float *b = train_weights(cases[c].arch, cases[c].nf, 2, path, &n2);
        ck_assert(n1 == n2);
        ck_assert_msg(memcmp(a, b, sizeof(float) * n1) == 0, "case %d: weights differ between 1 and 2 threads", c);
        free(a), free(b);
    }
    tu_rmtree(dir);
}
END_TEST

/* EmbeddingNN written as a lesson config (no n_factors, which EmbeddingNN has
 * not) trains through `fastc train` and `fastc lr_find`: the training loss
 * falls from the first epoch to the last and the validation MSE ends well
 * below that of predicting the mean rating (the variance of the ratings). */
START_TEST(embedding_nn_config_trains_end_to_end_and_its_loss_falls)
{
    char dir[512], p[1024], cmd[4096], out[1 << 14];
    tu_tmpdir(dir, sizeof dir);
    Rng r = rng_make(11, 4);
    const int nu = 150, ni = 150, n = 6000;
    double *bu = malloc(sizeof(double) * nu), *bi = malloc(sizeof(double) * ni);
    for (int i = 0; i < nu; i++) bu[i] = 0.7 * rng_normal(&r);
    for (int i = 0; i < ni; i++) bi[i] = 0.7 * rng_normal(&r);
    char *csv = malloc((size_t)n * 32 + 64);
    size_t len = (size_t)sprintf(csv, "user,item,rating\n");
    double sum = 0, sum2 = 0;
    for (int k = 0; k < n; k++) {
        int u = (int)rng_below(&r, nu), i = (int)rng_below(&r, ni);
        double x = 3 + bu[u] + bi[i] + 0.6 * sin(u * 0.37) * cos(i * 0.23) + 0.2 * rng_normal(&r);
        x = x < 0.5 ? 0.5 : x > 5 ? 5 : x;
        sum += x, sum2 += x * x;
        len += (size_t)sprintf(csv + len, "%d,%d,%.2f\n", u, i, x);
    }
    double var = sum2 / n - (sum / n) * (sum / n);
    tu_write(dir, "ratings.csv", csv, len, p, sizeof p);
    free(csv), free(bu), free(bi);
    const char *ini = "[data]\ncsv = ratings.csv\nblocks = CollabBlock(user='user', item='item', rating='rating')\n"
                      "splitter = RandomSplitter(valid_pct=0.2, seed=42)\nbs = 64\n"
                      "[model]\narch = EmbeddingNN(layers=[32, 16], y_range=(0, 5.5))\n"
                      "[train]\nschedule = fit_one_cycle(4, 5e-3, wd=0.1)\n";
    tu_write(dir, "nn.ini", ini, strlen(ini), p, sizeof p);

    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' train nn.ini --quiet --threads 1", dir, tu_fastc());
    int rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "train: exit %d: %s", rc, out);
    snprintf(p, sizeof p, "%s/runs/nn/metrics.csv", dir);
    FILE *f = fopen(p, "r");
    ck_assert_msg(f != NULL, "no %s", p);
    char line[512];
    double tl[8], vl[8];
    int rows = 0;
    ck_assert(fgets(line, sizeof line, f) && strncmp(line, "epoch,train_loss,valid_loss", 27) == 0);
    while (rows < 8 && fgets(line, sizeof line, f)) {
        int ep;
        ck_assert_msg(sscanf(line, "%d,%lf,%lf", &ep, &tl[rows], &vl[rows]) == 3, "row: %s", line);
        ck_assert_int_eq(ep, rows);
        rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 4);
    ck_assert_msg(tl[3] < 0.7 * tl[0], "train loss %g -> %g", tl[0], tl[3]);
    ck_assert_msg(vl[3] < 0.5 * var, "valid MSE %g, variance of the ratings %g", vl[3], var);
    fprintf(stderr, "EmbeddingNN: train loss %.4f -> %.4f, valid MSE %.4f (variance %.4f)\n", tl[0], tl[3], vl[3],
            var);

    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' lr_find nn.ini --quiet --threads 1 --set lr_find.num_it=40",
             dir, tu_fastc());
    rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "SuggestedLRs("), "lr_find: exit %d: %s", rc, out);
    tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("collab");
    TCase *t = tcase_create("models");
    tcase_add_test(t, emb_sz_rule_matches_fastai);
    tcase_add_test(t, params_are_named_and_shaped_as_fastai_state_dict);
    tcase_add_test(t, embeddings_start_as_truncated_normal_std_001);
    tcase_add_test(t, dot_product_gradients_match_finite_differences);
    tcase_add_test(t, dot_product_bias_gradients_match_finite_differences);
    tcase_add_test(t, embedding_nn_gradients_match_finite_differences);
    tcase_add_test(t, dot_product_bias_forward_is_the_formula);
    tcase_add_test(t, batchnorm_running_stats_follow_pytorch);
    tcase_add_test(t, embedding_nn_forward_is_linear_relu_batchnorm_sigmoid_range);
    tcase_add_test(t, sparse_zero_grad_clears_every_gradient);
    tcase_add_test(t, adam_steps_follow_fastai_formulas_on_every_row);
    tcase_add_test(t, recovers_a_known_latent_factor_model_to_the_noise_floor);
    tcase_add_test(t, training_is_independent_of_the_thread_count);
    tcase_add_test(t, embedding_nn_config_trains_end_to_end_and_its_loss_falls);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
