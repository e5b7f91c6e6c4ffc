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

/* Reference state of params[0..np) in double: the weights, zero moments. */
static void refs_init(Ref *ref, const Param *params, int np)
{
    for (int i = 0; i < np; i++) {
        size_t n = params[i].n;
        ref[i].w = malloc(sizeof(double) * n);
        ref[i].ga = calloc(n, sizeof(double));
        ref[i].sa = calloc(n, sizeof(double));
        ref[i].step = 0;
        for (size_t k = 0; k < n; k++) ref[i].w[k] = params[i].w[k];
    }
}

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
    refs_init(ref, f.p, 3);
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


/* ---- lazy rows ------------------------------------------------------------------ */

/* The fake's table (param 0) and bias (param 1, row_len 1: stays eager) are
 * read at the batch's user rows. */
static int fake_batch_rows(const Model *m, const Batch *b, int param, const int32_t **rows)
{
    if (m->params[param].row_len <= 0) return -1;
    *rows = b->user;
    return b->n;
}

/* fastai's Adam in double on one param (decoupled wd), as run_case. */
static void ref_adam(Ref *q, const float *g, size_t n, double lr, double mom, double wd)
{
    q->step++;
    double db1 = 1 - pow(mom, (double)q->step), db2 = 1 - pow(0.99, (double)q->step);
    for (size_t k = 0; k < n; k++) {
        q->w[k] *= 1 - lr * wd;
        q->ga[k] = mom * q->ga[k] + (1 - mom) * g[k];
        q->sa[k] = 0.99 * q->sa[k] + 0.01 * (double)g[k] * g[k];
        q->w[k] -= lr / db1 * q->ga[k] / (sqrt(q->sa[k] / db2) + 1e-5);
    }
}

/* Rows absent from a batch catch up lazily (optim_prepare / optim_flush); the
 * result must match fastai's dense formulas in double, and the eager sweep,
 * over 700 steps (the log fills and flushes at 256) of a one-cycle-like
 * schedule with a few rows touched per step and many never or rarely. */
START_TEST(lazy_rows_match_fastai_formulas_and_the_eager_sweep)
{
    enum { ROWS = 40, D = 50, BS = 6, STEPS = 700 };
    const size_t n[2] = {ROWS * D, ROWS};
    const int group[2] = {0, 0}, no_wd[2] = {0, 0}, frozen[2] = {0, 0};
    Fake lz, eg;
    fake_init(&lz, n, group, no_wd, frozen, 2, 1);
    fake_init(&eg, n, group, no_wd, frozen, 2, 1);
    for (int i = 0; i < 2; i++) {
        lz.p[i].row_len = eg.p[i].row_len = i == 0 ? D : 1;
        for (size_t k = 0; k < n[i]; k++) lz.p[i].w[k] = eg.p[i].w[k] = 0.05f * lz.p[i].w[k];
    }
    lz.m.batch_rows = eg.m.batch_rows = fake_batch_rows;
    OptHyper h = optim_default_hyper(OPT_ADAM);
    h.wd = 0.1;
    Optimizer *ol = optim_new(OPT_ADAM, &h, 1, &lz.m, 1, NULL), *oe = optim_new(OPT_ADAM, &h, 1, &eg.m, 2, NULL);
    ck_assert_int_eq(ol->n_lazy, 1);   /* the table; the bias (row_len 1) is swept */
    Ref ref[2];
    refs_init(ref, lz.p, 2);
    Rng r = rng_make(9, 1);
    int32_t users[BS];
    Batch b = {.n = BS, .user = users};
    float *sq = malloc(sizeof(float) * n[0]);
    for (int t = 0; t < STEPS; t++) {
        double pos = (double)t / STEPS;
        double lr = 5e-3 * (pos < 0.25 ? 0.04 + 0.96 * pos / 0.25 : (1 + cos(M_PI * (pos - 0.25) / 0.75)) / 2 + 1e-5);
        double mom = pos < 0.25 ? 0.95 - 0.1 * pos / 0.25 : 0.85 + 0.1 * (pos - 0.25) / 0.75;
        optim_set_lr(ol, &lr), optim_set_lr(oe, &lr), optim_set_mom(ol, mom), optim_set_mom(oe, mom);
        /* rows 0..4 never touched, 5..9 only in the first 50 steps, the rest at random (repeats too) */
        for (int k = 0; k < BS; k++) {
            int lo = t < 50 ? 5 : 10;
            users[k] = lo + (int)(rng_uniformf(&r) * (ROWS - lo));
            if (users[k] >= ROWS) users[k] = ROWS - 1;
        }
        if (t % 7 == 3) users[1] = users[0];
        optim_prepare(ol, &lz.m, &b);
        for (int i = 0; i < 2; i++) memset(lz.p[i].g, 0, sizeof(float) * n[i]);
        for (int k = 0; k < BS; k++) {
            float gb = 0.05f * (float)rng_normal(&r);
            lz.p[1].g[users[k]] += gb;
            for (int f = 0; f < D; f++) lz.p[0].g[users[k] * D + f] += f % 11 == 5 ? 0 : 0.02f * (float)rng_normal(&r);
        }
        for (int i = 0; i < 2; i++) memcpy(eg.p[i].g, lz.p[i].g, sizeof(float) * n[i]);
        optim_step(ol), optim_step(oe);
        for (int i = 0; i < 2; i++) ref_adam(&ref[i], lz.p[i].g, n[i], lr, mom, 0.1);
        if (t == 20) {
            /* lazy for real: a row this batch did not touch has not moved yet */
            ck_assert(lz.p[0].w[0] != eg.p[0].w[0]);
        }
        if (t % 97 == 0 || t == STEPS - 1) {
            optim_flush(ol);
            for (int i = 0; i < 2; i++) {
                double ma = 0;
                for (size_t k = 0; k < n[i]; k++) ma = fmax(ma, fabs(ref[i].ga[k]));
                check_close(lz.p[i].w, ref[i].w, n[i], 2e-5, "lazy w", t);
                check_close(eg.p[i].w, ref[i].w, n[i], 2e-5, "eager w", t);
                for (size_t k = 0; k < n[i]; k++) {
                    ck_assert_msg(fabs(lz.p[i].w[k] - eg.p[i].w[k]) <= 2e-5 * fabs(eg.p[i].w[k]) + 2e-6,
                                  "step %d %s[%zu]: lazy %.9g eager %.9g", t, lz.p[i].name, k, lz.p[i].w[k], eg.p[i].w[k]);
                    ck_assert_msg(fabs(ol->grad_avg[i][k] - ref[i].ga[k]) <= 1e-6 * ma,
                                  "step %d grad_avg[%zu]: %.9g vs %.9g", t, k, ol->grad_avg[i][k], ref[i].ga[k]);
                }
            }
            /* the lazy table keeps r = sqrt(sqr_avg) (optim.h) */
            for (size_t k = 0; k < n[0]; k++) sq[k] = ol->sqr_avg[0][k] * ol->sqr_avg[0][k];
            double ms = 0;
            for (size_t k = 0; k < n[0]; k++) ms = fmax(ms, ref[0].sa[k]);
            for (size_t k = 0; k < n[0]; k++)
                ck_assert_msg(fabs(sq[k] - ref[0].sa[k]) <= 5e-6 * ms, "step %d sqr_avg[%zu]: %.9g vs %.9g",
                              t, k, sq[k], ref[0].sa[k]);
        }
    }
    /* rows never touched only decayed: momentum and sqr_avg stay exactly 0 */
    for (int k = 0; k < 5 * D; k++) ck_assert(ol->grad_avg[0][k] == 0 && ol->sqr_avg[0][k] == 0);
    for (int i = 0; i < 2; i++) free(ref[i].w), free(ref[i].ga), free(ref[i].sa);
    free(sq);
    optim_free(ol), optim_free(oe);
    fake_free(&lz), fake_free(&eg);
}
END_TEST

/* Two identical models holding one 8-row embedding table (rows of 16), each
 * with its own fastai Adam: one side is driven lazily, the other eagerly. */
typedef struct TablePair { Fake a, b; Optimizer *oa, *ob; } TablePair;
enum { PAIR_ROWS = 8, PAIR_ROW_LEN = 16 };

static void pair_init(TablePair *t)
{
    const size_t n[1] = {PAIR_ROWS * PAIR_ROW_LEN};
    const int group[1] = {0}, no_wd[1] = {0}, frozen[1] = {0};
    fake_init(&t->a, n, group, no_wd, frozen, 1, 1);
    fake_init(&t->b, n, group, no_wd, frozen, 1, 1);
    t->a.p[0].row_len = t->b.p[0].row_len = PAIR_ROW_LEN;
    t->a.m.batch_rows = t->b.m.batch_rows = fake_batch_rows;
    OptHyper h = optim_default_hyper(OPT_ADAM);
    t->oa = optim_new(OPT_ADAM, &h, 1, &t->a.m, 1, NULL);
    t->ob = optim_new(OPT_ADAM, &h, 1, &t->b.m, 1, NULL);
}

static void pair_free(TablePair *t)
{
    optim_free(t->oa), optim_free(t->ob);
    fake_free(&t->a), fake_free(&t->b);
}

/* optim_step without a prepare (or after a batch the model cannot name)
 * flushes first: a pending row is never left behind. */
START_TEST(unprepared_step_flushes_pending_rows)
{
    const size_t n[1] = {PAIR_ROWS * PAIR_ROW_LEN};
    TablePair t;
    pair_init(&t);
    Fake *a = &t.a, *b = &t.b;
    Optimizer *oa = t.oa, *ob = t.ob;
    int32_t u[1] = {3};
    Batch bt = {.n = 1, .user = u};
    for (int s = 0; s < 5; s++) {
        memset(a->p[0].g, 0, sizeof(float) * n[0]);
        for (int f = 0; f < PAIR_ROW_LEN; f++) a->p[0].g[3 * PAIR_ROW_LEN + f] = 0.1f * (float)(f - 7);
        memcpy(b->p[0].g, a->p[0].g, sizeof(float) * n[0]);
        if (s < 3) optim_prepare(oa, &a->m, &bt);   /* steps 3, 4: unprepared */
        optim_step(oa), optim_step(ob);
    }
    for (size_t k = 0; k < n[0]; k++)
        ck_assert_msg(fabs(a->p[0].w[k] - b->p[0].w[k]) <= 1e-6 * fabs(b->p[0].w[k]), "[%zu] %.9g vs %.9g", k,
                      a->p[0].w[k], b->p[0].w[k]);
    /* clear_state flushes, then zeroes */
    optim_prepare(oa, &a->m, &bt);
    optim_step(oa);
    optim_step(ob);
    optim_clear_state(oa);
    for (size_t k = 0; k < n[0]; k++) ck_assert(fabs(a->p[0].w[k] - b->p[0].w[k]) <= 1e-6 * fabs(b->p[0].w[k]));
    pair_free(&t);
}
END_TEST

/* A batch naming a quarter of a table's rows or more sweeps the table that
 * step (nothing deferred): bit-identical to the unprepared eager step. */
START_TEST(big_batches_sweep_lazy_tables)
{
    const size_t n[1] = {PAIR_ROWS * PAIR_ROW_LEN};
    TablePair t;
    pair_init(&t);
    Fake *a = &t.a, *b = &t.b;
    Optimizer *oa = t.oa, *ob = t.ob;
    int32_t u[3] = {1, 5, 6};
    Batch bt = {.n = 3, .user = u};
    for (int s = 0; s < 4; s++) {
        memset(a->p[0].g, 0, sizeof(float) * n[0]);
        for (int k = 0; k < 3; k++)
            for (int f = 0; f < PAIR_ROW_LEN; f++) a->p[0].g[u[k] * PAIR_ROW_LEN + f] = 0.01f * (float)(f - 7 + s);
        memcpy(b->p[0].g, a->p[0].g, sizeof(float) * n[0]);
        optim_prepare(oa, &a->m, &bt);
        ck_assert_int_eq(oa->lazy[0].n_batch, -1);
        optim_step(oa), optim_step(ob);
        ck_assert(memcmp(a->p[0].w, b->p[0].w, sizeof(float) * n[0]) == 0);
    }
    pair_free(&t);
}
END_TEST

/* A mid-epoch resume (learner.c): the weights and moments as they stand plus
 * the pending log (optim_lazy_log) put into a fresh optimizer continue
 * bit-identically to the optimizer that never stopped. */
START_TEST(pending_lazy_log_restored_continues_bit_identically)
{
    const size_t n = PAIR_ROWS * PAIR_ROW_LEN;
    TablePair t;
    pair_init(&t);
    Fake *a = &t.a, *b = &t.b;
    Rng r = rng_make(4, 4);
    int32_t u[1];
    Batch bt = {.n = 1, .user = u};
    for (int s = 0; s < 14; s++) {
        if (s == 7) {
            /* "stop" a, "resume" into b: a's state as it is, not flushed */
            int n_log;
            const int32_t *done;
            int64_t n_rows;
            const OptRowStep *log = optim_lazy_log(t.oa, 0, &n_log, &done, &n_rows);
            ck_assert_int_eq(n_log, 7);
            ck_assert_int_eq(n_rows, PAIR_ROWS);
            memcpy(b->p[0].w, a->p[0].w, sizeof(float) * n);
            memcpy(t.ob->grad_avg[0], t.oa->grad_avg[0], sizeof(float) * n);
            memcpy(t.ob->sqr_avg[0], t.oa->sqr_avg[0], sizeof(float) * n);
            t.ob->step[0] = t.oa->step[0];
            ck_assert_int_eq(optim_lazy_restore(t.ob, 0, log, n_log, done), 0);
            int32_t ahead[PAIR_ROWS] = {0, 0, 9};
            ck_assert_int_eq(optim_lazy_restore(t.ob, 0, log, n_log, ahead), -1);   /* refused, nothing changed */
        }
        u[0] = s % 3 == 0 ? 2 : (int)rng_below(&r, PAIR_ROWS);
        double lr = 1e-2 * (1 + s % 4);
        optim_set_lr(t.oa, &lr), optim_set_lr(t.ob, &lr);
        memset(a->p[0].g, 0, sizeof(float) * n);
        for (int f = 0; f < PAIR_ROW_LEN; f++) a->p[0].g[u[0] * PAIR_ROW_LEN + f] = 0.1f * (float)rng_normal(&r);
        memcpy(b->p[0].g, a->p[0].g, sizeof(float) * n);
        optim_prepare(t.oa, &a->m, &bt);
        optim_step(t.oa);
        if (s >= 7) {
            optim_prepare(t.ob, &b->m, &bt);
            optim_step(t.ob);
        }
    }
    optim_flush(t.oa), optim_flush(t.ob);
    ck_assert(memcmp(a->p[0].w, b->p[0].w, sizeof(float) * n) == 0);
    ck_assert(memcmp(t.oa->grad_avg[0], t.ob->grad_avg[0], sizeof(float) * n) == 0);
    ck_assert(memcmp(t.oa->sqr_avg[0], t.ob->sqr_avg[0], sizeof(float) * n) == 0);
    pair_free(&t);
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
    tcase_add_test(tc, lazy_rows_match_fastai_formulas_and_the_eager_sweep);
    tcase_add_test(tc, unprepared_step_flushes_pending_rows);
    tcase_add_test(tc, big_batches_sweep_lazy_tables);
    tcase_add_test(tc, pending_lazy_log_restored_continues_bit_identically);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
