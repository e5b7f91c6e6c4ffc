/* test_optim.c — src/learn/optim: fastai's Adam and SGD against the formulas
 * of FASTAI_REFERENCE.md §4 evaluated in double, step by step. */
#include "check_main.h"
#include "core/rng.h"
#include "learn/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A fake model: params of given sizes/groups/flags, no forward. */
typedef struct Fake {
    Model m;
    Param p[4];
} Fake;

static void fake_init(Fake *f, const size_t *n, const int *group, const int *no_wd, const int *frozen, int np, int ng)
{
    memset(f, 0, sizeof *f);
    Rng r = rng_make(11, 3);
    for (int i = 0; i < np; i++) {
        Param *p = &f->p[i];
        snprintf(p->name, sizeof p->name, "p%d", i);
        p->kind = PARAM_WEIGHT;
        p->n = n[i], p->ndim = 1, p->shape[0] = (int64_t)n[i];
        p->w = malloc(sizeof(float) * n[i]);
        p->g = malloc(sizeof(float) * n[i]);
        for (size_t k = 0; k < n[i]; k++) p->w[k] = (float)rng_normal(&r);
        p->group = group[i], p->no_wd = no_wd[i], p->frozen = frozen[i];
    }
    f->m.params = f->p, f->m.n_params = np, f->m.info.n_groups = ng;
}

static void fake_free(Fake *f)
{
    for (int i = 0; i < f->m.n_params; i++) free(f->p[i].w), free(f->p[i].g);
}

/* Reference state in double for one param. */
typedef struct Ref {
    double *w, *ga, *sa;
    long step;
} Ref;

static void check_close(const float *got, const double *want, size_t n, double tol, const char *what, int step)
{
    for (size_t k = 0; k < n; k++) {
        double d = fabs(got[k] - want[k]);
        ck_assert_msg(d < tol * fabs(want[k]) + 1e-6, "%s step %d [%zu]: got %.9g want %.9g", what, step, k, got[k], want[k]);
    }
}

static void run_case(OptKind kind, int decouple, double init_mom)
{
    const size_t n[3] = {40000, 7, 5};          /* p0 spans several chunks */
    const int group[3] = {0, 1, 0}, no_wd[3] = {0, 1, 0}, frozen[3] = {0, 0, 1};
    Fake f;
    fake_init(&f, n, group, no_wd, frozen, 3, 2);
    OptHyper h = optim_default_hyper(kind);
    h.mom = init_mom;
    h.wd = 0.05;
    Err err = {0};
    Optimizer *o = optim_new(kind, &h, decouple, &f.m, 2, &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    Ref ref[3];
    for (int i = 0; i < 3; i++) {
        ref[i].w = malloc(sizeof(double) * n[i]);
        ref[i].ga = calloc(n[i], sizeof(double));
        ref[i].sa = calloc(n[i], sizeof(double));
        ref[i].step = 0;
        for (size_t k = 0; k < n[i]; k++) ref[i].w[k] = f.p[i].w[k];
    }
    Rng r = rng_make(5, 7);
    for (int step = 0; step < 6; step++) {
        double lrs[2] = {1e-2 * (step + 1), 3e-3 / (step + 1)};
        double mom = kind == OPT_SGD && init_mom == 0 ? 0.9 : 0.95 - 0.02 * step;  /* scheduled */
        optim_set_lr(o, lrs);
        optim_set_mom(o, mom);
        for (int i = 0; i < 3; i++)
            for (size_t k = 0; k < n[i]; k++) f.p[i].g[k] = (float)rng_normal(&r) * 0.1f;
        optim_step(o);
        for (int i = 0; i < 3; i++) {
            if (frozen[i]) continue;   /* skipped entirely */
            Ref *q = &ref[i];
            double lr = lrs[group[i]], wd = no_wd[i] ? 0 : h.wd;
            q->step++;
            for (size_t k = 0; k < n[i]; k++) {
                double g = f.p[i].g[k];
                if (decouple) q->w[k] *= 1 - lr * wd;
                else g += wd * q->w[k];
                if (kind == OPT_ADAM) {
                    q->ga[k] = mom * q->ga[k] + (1 - mom) * g;
                    q->sa[k] = 0.99 * q->sa[k] + (1 - 0.99) * g * g;
                    double db1 = 1 - pow(mom, q->step), db2 = 1 - pow(0.99, q->step);
                    q->w[k] -= lr / db1 * q->ga[k] / (sqrt(q->sa[k] / db2) + 1e-5);
                } else if (init_mom != 0) {
                    q->ga[k] = mom * q->ga[k] + g;
                    q->w[k] -= lr * q->ga[k];
                } else {
                    q->w[k] -= lr * g;   /* created with mom 0: no momentum even when scheduled */
                }
            }
            check_close(f.p[i].w, q->w, n[i], 2e-5, f.p[i].name, step);
        }
    }
    /* the frozen param never moved, and its step counter stayed at 0 */
    ck_assert_int_eq((int)o->step[2], 0);
    ck_assert_int_eq((int)o->step[0], 6);
    for (int i = 0; i < 3; i++) free(ref[i].w), free(ref[i].ga), free(ref[i].sa);
    optim_free(o);
    fake_free(&f);
}

START_TEST(adam_matches_fastai_formula_for_six_steps)
{
    run_case(OPT_ADAM, 1, 0.9);
}
END_TEST

START_TEST(adam_with_l2_regularisation_matches_formula)
{
    run_case(OPT_ADAM, 0, 0.9);
}
END_TEST

START_TEST(sgd_with_momentum_matches_formula)
{
    run_case(OPT_SGD, 1, 0.9);
}
END_TEST

START_TEST(sgd_created_without_momentum_ignores_scheduled_mom)
{
    run_case(OPT_SGD, 1, 0.0);
}
END_TEST

START_TEST(adam_first_step_is_lr_times_sign_of_grad)
{
    /* With zero state, step 1 moves every weight by ~lr·sign(g) (|g| >> eps):
     * a number fastai users know; no weight decay on this param. */
    const size_t n[1] = {100};
    const int group[1] = {0}, no_wd[1] = {1}, frozen[1] = {0};
    Fake f;
    fake_init(&f, n, group, no_wd, frozen, 1, 1);
    float before[100];
    memcpy(before, f.p[0].w, sizeof before);
    for (int k = 0; k < 100; k++) f.p[0].g[k] = (k % 2 ? 1.0f : -2.0f);
    OptHyper h = optim_default_hyper(OPT_ADAM);
    Optimizer *o = optim_new(OPT_ADAM, &h, 1, &f.m, 1, NULL);
    optim_step(o);
    for (int k = 0; k < 100; k++) {
        double moved = f.p[0].w[k] - before[k];
        double want = -1e-3 * (k % 2 ? 1 : -1) * (fabs(f.p[0].g[k]) / (fabs(f.p[0].g[k]) + 1e-5));
        ck_assert_double_eq_tol(moved, want, 3e-7);   /* float32 rounding of w ~ 1 */
    }
    optim_free(o);
    fake_free(&f);
}
END_TEST

START_TEST(clear_state_resets_moments_and_steps)
{
    const size_t n[1] = {10};
    const int group[1] = {0}, no_wd[1] = {0}, frozen[1] = {0};
    Fake f;
    fake_init(&f, n, group, no_wd, frozen, 1, 1);
    for (int k = 0; k < 10; k++) f.p[0].g[k] = 1;
    OptHyper h = optim_default_hyper(OPT_ADAM);
    Optimizer *o = optim_new(OPT_ADAM, &h, 1, &f.m, 1, NULL);
    optim_step(o), optim_step(o);
    ck_assert_int_eq((int)o->step[0], 2);
    ck_assert(o->grad_avg[0][3] != 0);
    optim_clear_state(o);
    ck_assert_int_eq((int)o->step[0], 0);
    for (int k = 0; k < 10; k++) ck_assert(o->grad_avg[0][k] == 0 && o->sqr_avg[0][k] == 0);
    optim_free(o);
    fake_free(&f);
}
END_TEST

/* Above OPTIM_PAR_MIN weights the sweep is split over the threads, and the
 * result is bit-identical to one thread's. */
START_TEST(step_is_independent_of_thread_count)
{
    const size_t n[1] = {OPTIM_PAR_MIN + 12345};
    const int group[1] = {0}, no_wd[1] = {0}, frozen[1] = {0};
    Fake a, b;
    fake_init(&a, n, group, no_wd, frozen, 1, 1);
    fake_init(&b, n, group, no_wd, frozen, 1, 1);
    for (size_t k = 0; k < n[0]; k++) a.p[0].g[k] = b.p[0].g[k] = (float)sin((double)k);
    OptHyper h = optim_default_hyper(OPT_ADAM);
    Optimizer *oa = optim_new(OPT_ADAM, &h, 1, &a.m, 1, NULL), *ob = optim_new(OPT_ADAM, &h, 1, &b.m, 2, NULL);
    ck_assert_int_eq(ob->threads, 2);
    for (int s = 0; s < 3; s++) optim_step(oa), optim_step(ob);
    ck_assert(memcmp(a.p[0].w, b.p[0].w, sizeof(float) * n[0]) == 0);
    optim_free(oa), optim_free(ob);
    fake_free(&a), fake_free(&b);
}
END_TEST

/* The threads policy: a model under OPTIM_PAR_MIN weights sweeps on one
 * thread whatever it is given; one at the threshold uses them all. */
START_TEST(small_models_sweep_on_one_thread)
{
    const size_t n[2] = {OPTIM_PAR_MIN / 2, OPTIM_PAR_MIN / 2 - 1};
    const int group[2] = {0, 0}, no_wd[2] = {0, 0}, frozen[2] = {0, 0};
    Fake f;
    fake_init(&f, n, group, no_wd, frozen, 2, 1);
    OptHyper h = optim_default_hyper(OPT_ADAM);
    Optimizer *o = optim_new(OPT_ADAM, &h, 1, &f.m, 2, NULL);
    ck_assert_int_eq(o->threads, 1);
    optim_free(o);
    fake_free(&f);
    const size_t m[2] = {OPTIM_PAR_MIN / 2, OPTIM_PAR_MIN / 2};
    fake_init(&f, m, group, no_wd, frozen, 2, 1);
    o = optim_new(OPT_ADAM, &h, 1, &f.m, 2, NULL);
    ck_assert_int_eq(o->threads, 2);
    optim_free(o);
    fake_free(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, adam_matches_fastai_formula_for_six_steps);
    tcase_add_test(tc, adam_with_l2_regularisation_matches_formula);
    tcase_add_test(tc, sgd_with_momentum_matches_formula);
    tcase_add_test(tc, sgd_created_without_momentum_ignores_scheduled_mom);
    tcase_add_test(tc, adam_first_step_is_lr_times_sign_of_grad);
    tcase_add_test(tc, clear_state_resets_moments_and_steps);
    tcase_add_test(tc, step_is_independent_of_thread_count);
    tcase_add_test(tc, small_models_sweep_on_one_thread);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
