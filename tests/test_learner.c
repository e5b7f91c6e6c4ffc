/* test_learner.c — src/learn/learner: the fit loop on a tiny linear model of
 * this file's own over synthetic blobs: it learns, schedules reach the
 * optimizer, freeze keeps norm params training, lr_find restores everything,
 * trackers print fastai's messages, a stopped-and-resumed run ends
 * bit-identical (also across a batch the loader leaves out), same seed → same
 * metrics.csv, a NaN loss stops cleanly. */
#include "check_main.h"
#include "core/rng.h"
#include "learn/learner.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { D = 4, C = 3, NTR = 240, NVA = 60, BS = 16 };

/* ---- the tiny model: out = W (x ⊙ s) + b, plus a running mean buffer ---------
 * s: group 0, a "norm" param (train_bn keeps it trainable when frozen)
 * W: group 1; b: group 1, no weight decay; rm: PARAM_BUFFER updated in train mode.
 * Train mode multiplies x by (1 + 0.05·u), u from (step_key, item): dropout-like
 * noise keyed by the step, so resuming must restore the step counter. */
typedef struct Lin {
    Param p[4];
    float s[D], W[C * D], b[C], rm[D];
    float gs[D], gW[C * D], gb[C];
    float x[BS * D], z[BS * D], out[BS * C];
    int n;
} Lin;

static int lin_forward(Model *m, const Batch *b, ModelMode mode, uint64_t key, const float **out, Err *err)
{
    Lin *L = m->impl;
    L->n = b->n;
    for (int i = 0; i < b->n; i++)
        for (int j = 0; j < D; j++) {
            float x = b->x[i * D + j];
            if (mode == MODE_TRAIN) x *= 1 + 0.05f * (float)(rng_hash(7, key, (uint64_t)(i * D + j)) % 1000) / 1000;
            L->x[i * D + j] = x;
            L->z[i * D + j] = x * L->s[j];
        }
    if (mode == MODE_TRAIN)
        for (int j = 0; j < D; j++) {
            float mean = 0;
            for (int i = 0; i < b->n; i++) mean += L->x[i * D + j];
            L->rm[j] = 0.9f * L->rm[j] + 0.1f * mean / b->n;
        }
    for (int i = 0; i < b->n; i++)
        for (int c = 0; c < C; c++) {
            float a = L->b[c];
            for (int j = 0; j < D; j++) a += L->W[c * D + j] * L->z[i * D + j];
            L->out[i * C + c] = a;
        }
    *out = L->out;
    return 0;
}

static void lin_backward(Model *m, const float *dout)
{
    Lin *L = m->impl;
    for (int i = 0; i < L->n; i++)
        for (int c = 0; c < C; c++) {
            float d = dout[i * C + c];
            L->gb[c] += d;
            for (int j = 0; j < D; j++) {
                L->gW[c * D + j] += d * L->z[i * D + j];
                L->gs[j] += d * L->W[c * D + j] * L->x[i * D + j];
            }
        }
}

static void lin_free(Model *m)
{
    free(m->impl);
    free(m);
}

static const ModelOps LIN_OPS = {lin_forward, lin_backward, NULL, lin_free};

static Model *lin_new(uint64_t seed)
{
    Model *m = calloc(1, sizeof *m);
    Lin *L = calloc(1, sizeof *L);
    Rng r = rng_make(seed, 1);
    for (int j = 0; j < D; j++) L->s[j] = 1;
    for (int k = 0; k < C * D; k++) L->W[k] = (float)rng_normal(&r) * 0.1f;
    struct { const char *n; float *w, *g; int len, group, norm, nowd; ParamKind kind; } P[4] = {
        {"s", L->s, L->gs, D, 0, 1, 1, PARAM_WEIGHT},
        {"W", L->W, L->gW, C * D, 1, 0, 0, PARAM_WEIGHT},
        {"b", L->b, L->gb, C, 1, 0, 1, PARAM_WEIGHT},
        {"rm", L->rm, NULL, D, 0, 0, 0, PARAM_BUFFER},
    };
    for (int i = 0; i < 4; i++) {
        Param *p = &L->p[i];
        snprintf(p->name, sizeof p->name, "%s", P[i].n);
        p->kind = P[i].kind, p->ndim = 1, p->shape[0] = P[i].len, p->n = P[i].len;
        p->w = P[i].w, p->g = P[i].g, p->group = P[i].group, p->is_norm = P[i].norm, p->no_wd = P[i].nowd;
    }
    m->ops = &LIN_OPS, m->impl = L, m->params = L->p, m->n_params = 4;
    snprintf(m->info.arch, sizeof m->info.arch, "lin");
    m->info.n_in = D, m->info.n_out = C, m->info.n_groups = 2, m->info.max_bs = BS;
    return m;
}

/* ---- synthetic loaders: 3 Gaussian blobs ------------------------------------- */
typedef struct Blobs {
    float x[(NTR + NVA) * D];
    int32_t y[NTR + NVA];
    int32_t perm[NTR];
    int split, pos, epoch, batches_served, stop_after;
    int left_out;            /* train batch number left out of every epoch (as the image loader
                                leaves out a batch of unreadable files), -1: none */
    volatile sig_atomic_t *stop;
    uint64_t seed;
    float bx[BS * D];
    int32_t by[BS], bi[BS];
    Batch b;
} Blobs;

static int bl_n_batches(const Loaders *l, int s) { return s == SPLIT_TRAIN ? NTR / BS : (NVA + BS - 1) / BS; }
static int bl_n_items(const Loaders *l, int s) { return s == SPLIT_TRAIN ? NTR : NVA; }
static int bl_begin(Loaders *l, int s, int epoch, int first, Err *err)
{
    Blobs *B = l->impl;
    B->split = s, B->pos = first * BS, B->epoch = epoch;
    if (s == SPLIT_TRAIN) {
        for (int i = 0; i < NTR; i++) B->perm[i] = i;
        Rng r = rng_make(B->seed, 100 + (uint64_t)epoch);
        rng_shuffle_i32(&r, B->perm, NTR);
    }
    return 0;
}
static int bl_next(Loaders *l, Batch **out, Err *err)
{
    Blobs *B = l->impl;
    int total = B->split == SPLIT_TRAIN ? NTR : NVA;
    if (B->split == SPLIT_TRAIN && B->pos == B->left_out * BS) B->pos += BS;
    int n = total - B->pos < BS ? total - B->pos : BS;
    if (n <= 0 || (B->split == SPLIT_TRAIN && n < BS)) return 0;
    for (int i = 0; i < n; i++) {
        int idx = B->split == SPLIT_TRAIN ? B->perm[B->pos + i] : NTR + B->pos + i;
        memcpy(B->bx + i * D, B->x + idx * D, sizeof(float) * D);
        B->by[i] = B->y[idx], B->bi[i] = B->pos + i;
    }
    B->pos += n;
    B->b = (Batch){.n = n, .h = 1, .w = 1, .c = D, .x = B->bx, .kind = TARGET_CATEGORY, .yi = B->by, .index = B->bi,
                   .batch_no = (B->pos - n) / BS};
    *out = &B->b;
    if (B->split == SPLIT_TRAIN && ++B->batches_served == B->stop_after && B->stop) *B->stop = 15;
    return 1;
}
static void bl_free(Loaders *l) { free(l->impl), free(l); }
static const LoadersOps BL_OPS = {bl_n_batches, bl_n_items, bl_begin, bl_next, bl_free};

static Loaders *blobs_new(uint64_t seed)
{
    Loaders *l = calloc(1, sizeof *l);
    Blobs *B = calloc(1, sizeof *B);
    Rng r = rng_make(seed, 2);
    const float centre[C][D] = {{2, 0, 0, 1}, {0, 2, 0, -1}, {0, 0, 2, 0}};
    for (int i = 0; i < NTR + NVA; i++) {
        int c = i % C;
        B->y[i] = c;
        for (int j = 0; j < D; j++) B->x[i * D + j] = centre[c][j] + 0.6f * (float)rng_normal(&r);
    }
    B->seed = seed;
    B->left_out = -1;
    l->ops = &BL_OPS, l->impl = B, l->bs = BS, l->kind = TARGET_CATEGORY, l->n_out = C;
    return l;
}

/* ---- loss (cross-entropy, mean) and a raw checkpoint format -------------------- */
typedef struct LossCtx { int nan_at; int calls; } LossCtx;

static float ce_loss(void *ctx, float *dout, float *per_item, const float *out, int c, const Batch *b)
{
    LossCtx *lc = ctx;
    double tot = 0;
    for (int i = 0; i < b->n; i++) {
        const float *o = out + i * c;
        float mx = o[0];
        for (int k = 1; k < c; k++) mx = fmaxf(mx, o[k]);
        double se = 0;
        for (int k = 0; k < c; k++) se += exp(o[k] - mx);
        tot += mx + log(se) - o[b->yi[i]];
        if (dout)
            for (int k = 0; k < c; k++) dout[i * c + k] = (float)((exp(o[k] - mx) / se - (k == b->yi[i])) / b->n);
    }
    if (lc && dout && ++lc->calls == lc->nan_at) return NAN;
    return (float)(tot / b->n);
}

static int raw_save(void *ctx, const Model *m, const char *path, Err *err)
{
    int *count = ctx;
    FILE *f = fopen(path, "wb");
    if (!f) return err_set(err, ERR_RUNTIME, "%s: cannot write", path);
    for (int i = 0; i < m->n_params; i++) fwrite(m->params[i].w, sizeof(float), m->params[i].n, f);
    fclose(f);
    if (count) (*count)++;
    return 0;
}

static int raw_load(void *ctx, Model *m, const char *path, Err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, ERR_RUNTIME, "%s: cannot read", path);
    for (int i = 0; i < m->n_params; i++)
        if (fread(m->params[i].w, sizeof(float), m->params[i].n, f) != m->params[i].n) {
            fclose(f);
            return err_set(err, ERR_RUNTIME, "%s: short", path);
        }
    fclose(f);
    return 0;
}

typedef struct Run {
    Model *m;
    Loaders *dls;
    Learner *l;
    LossCtx lc;
    int saves;
    char out[4096];
    FILE *table;
    char *table_text;
    size_t table_len;
    volatile sig_atomic_t stop;
} Run;

static void run_init(Run *r, const char *dir, const char *metric)
{
    memset(r, 0, sizeof *r);
    r->m = lin_new(42);
    r->dls = blobs_new(42);
    LearnerOpts o;
    learner_opts_default(&o);
    o.loss = ce_loss, o.loss_ctx = &r->lc;
    o.seed = 42, o.threads = 1;
    if (metric) {   /* as the setup layer builds [learner] metrics = <metric> */
        Metric *m = &o.metrics.m[o.metrics.n++];
        m->kind = !strcmp(metric, "accuracy") ? METRIC_ACCURACY : METRIC_ERROR_RATE;
        snprintf(m->name, sizeof m->name, "%s", metric);
        m->thresh = 0.5, m->sigmoid = 1;
    }
    o.ckpt = (LearnCkpt){raw_save, raw_load, &r->saves};
    if (dir) snprintf(r->out, sizeof r->out, "%s", dir), o.out_dir = r->out;
    r->table = open_memstream(&r->table_text, &r->table_len);
    o.out = r->table, o.progress = NULL;
    o.stop = &r->stop;
    ((Blobs *)r->dls->impl)->stop = &r->stop;
    Err e = {0};
    r->l = learner_new(r->m, r->dls, &o, &e);
    ck_assert_msg(r->l != NULL, "%s", e.msg);
}

static void run_free(Run *r)
{
    learner_free(r->l);
    model_free(r->m);
    loaders_free(r->dls);
    fclose(r->table);
    free(r->table_text);
}

static Schedule one_cycle(int n, double lr)
{
    Schedule s = {.n = 1, .stages = calloc(1, sizeof(Stage))};
    s.stages[0] = (Stage){.kind = STAGE_ONE_CYCLE, .n_epoch = n, .lr = lr_num(lr), .div = 25, .div_final = 1e5,
                          .pct_start = 0.25, .moms = {0.95, 0.85, 0.95}};
    return s;
}

/* freeze(); one_cycle(2, slice(lr)); unfreeze(); one_cycle(3, slice(lr/100, lr)) */
static Schedule fine_tune_like(double lr)
{
    Schedule s = {.n = 4, .stages = calloc(4, sizeof(Stage))};
    Stage oc = {.kind = STAGE_ONE_CYCLE, .div = 25, .div_final = 1e5, .pct_start = 0.99, .moms = {0.95, 0.85, 0.95}};
    s.stages[0] = (Stage){.kind = STAGE_FREEZE_TO, .freeze_n = -1};
    s.stages[1] = oc, s.stages[1].n_epoch = 2, s.stages[1].lr = lr_slice(0, lr);
    s.stages[2] = (Stage){.kind = STAGE_FREEZE_TO, .freeze_n = 0};
    s.stages[3] = oc, s.stages[3].n_epoch = 3, s.stages[3].lr = lr_slice(lr / 100, lr), s.stages[3].pct_start = 0.3;
    s.stages[3].div = 5;
    return s;
}

START_TEST(fit_one_cycle_learns_the_blobs)
{
    Run r;
    run_init(&r, NULL, "error_rate");
    Schedule s = one_cycle(4, 0.05);
    Err e = {0};
    ck_assert_msg(learner_fit_schedule(r.l, &s, &e) == 0, "%s", e.msg);
    double v[4];
    ck_assert_int_eq(learner_validate(r.l, v, &e), 0);
    ck_assert_msg(v[1] < 0.1, "error_rate %g after training", v[1]);
    ck_assert_msg(v[0] < 0.4, "valid_loss %g", v[0]);
    /* the last batch's hypers are the schedule's at pos = (N-1)/N */
    int N = 4 * (NTR / BS);
    double lr[2], mom, lr_max[2] = {0.05, 0.05};
    one_cycle_at(&s.stages[0], lr_max, 2, (double)(N - 1) / N, lr, &mom);
    ck_assert_double_eq_tol(r.l->opt->hyper[1].lr, lr[1], 1e-18);
    ck_assert_double_eq_tol(r.l->opt->hyper[0].mom, mom, 1e-15);
    fflush(r.table);
    ck_assert_msg(strstr(r.table_text, "epoch     train_loss  valid_loss  error_rate  time") == r.table_text, "%s",
                  r.table_text);
    ck_assert_int_eq(r.l->n_rec, N);
    free(s.stages);
    run_free(&r);
}
END_TEST

START_TEST(frozen_groups_keep_norm_params_and_stats_training)
{
    Run r;
    run_init(&r, NULL, NULL);
    Lin *L = r.m->impl;
    learner_freeze_to(r.l, -1);
    /* W/b are group 1 (trainable); s is group 0 but a norm param: trains (train_bn) */
    Schedule s = one_cycle(1, 0.05);
    float s0[D], rm0[D];
    memcpy(s0, L->s, sizeof s0), memcpy(rm0, L->rm, sizeof rm0);
    Err e = {0};
    ck_assert_int_eq(learner_fit_schedule(r.l, &s, &e), 0);
    ck_assert(memcmp(s0, L->s, sizeof s0) != 0);
    ck_assert(memcmp(rm0, L->rm, sizeof rm0) != 0);
    ck_assert_int_eq(r.m->params[0].frozen, 0);
    /* without train_bn the norm param of a frozen group stays put */
    r.l->o.train_bn = 0;
    learner_freeze_to(r.l, -1);
    ck_assert_int_eq(r.m->params[0].frozen, 1);
    ck_assert_int_eq((int)r.l->opt->step[1], 0);   /* freeze_to cleared the optimizer */
    memcpy(s0, L->s, sizeof s0);
    r.l->stage = 0;
    ck_assert_int_eq(learner_fit_schedule(r.l, &s, &e), 0);
    ck_assert(memcmp(s0, L->s, sizeof s0) == 0);
    ck_assert_int_eq((int)r.l->opt->step[0], 0);   /* skipped entirely */
    free(s.stages);
    run_free(&r);
}
END_TEST

START_TEST(lr_find_restores_model_and_optimizer)
{
    Run r;
    run_init(&r, NULL, NULL);
    Schedule s = one_cycle(1, 0.05);
    Err e = {0};
    ck_assert_int_eq(learner_fit_schedule(r.l, &s, &e), 0);   /* some optimizer state */
    LearnerSnap *before = learner_snapshot(r.l);
    Lin *L = r.m->impl;
    float W0[C * D];
    memcpy(W0, L->W, sizeof W0);
    double avg0 = r.l->opt->grad_avg[1][0];
    LrFindResult res;
    ck_assert_msg(learner_lr_find(r.l, 1e-7, 10, 100, 1, &res, &e) == 0, "%s", e.msg);
    ck_assert(memcmp(W0, L->W, sizeof W0) == 0);
    ck_assert_double_eq(r.l->opt->grad_avg[1][0], avg0);
    ck_assert_int_gt(res.n, 20);
    ck_assert_int_le(res.n, 100);
    ck_assert_double_eq_tol(res.lrs[1] / res.lrs[0], pow(1e8, 0.01), 1e-12);
    ck_assert(res.sug.valley > 1e-6 && res.sug.valley < 10);
    ck_assert(res.sug.minimum > 1e-8 && res.sug.steep > 1e-7 && res.sug.slide > 1e-7);
    lr_find_result_free(&res);
    learner_snap_free(before);
    free(s.stages);
    run_free(&r);
}
END_TEST

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strdup(buf);
}

/* metrics.csv without the time column */
static char *csv_no_time(const char *path)
{
    char *t = slurp(path);
    ck_assert_msg(t != NULL, "no %s", path);
    char *out = calloc(strlen(t) + 1, 1), *o = out;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        char *last = strrchr(line, ',');
        if (last) *last = 0;
        o += sprintf(o, "%s\n", line);
    }
    free(t);
    return out;
}

START_TEST(same_seed_same_metrics_csv)
{
    char d1[4096], d2[4096], p[4200];
    tu_tmpdir(d1, sizeof d1), tu_tmpdir(d2, sizeof d2);
    for (int k = 0; k < 2; k++) {
        Run r;
        run_init(&r, k ? d2 : d1, "accuracy");
        Schedule s = fine_tune_like(0.05);
        Err e = {0};
        ck_assert_msg(learner_fit_schedule(r.l, &s, &e) == 0, "%s", e.msg);
        free(s.stages);
        run_free(&r);
    }
    snprintf(p, sizeof p, "%s/metrics.csv", d1);
    char *a = csv_no_time(p);
    snprintf(p, sizeof p, "%s/metrics.csv", d2);
    char *b = csv_no_time(p);
    ck_assert_str_eq(a, b);
    /* one header for both stages, one row per epoch, epochs numbered over the run */
    ck_assert_msg(strncmp(a, "epoch,train_loss,valid_loss,accuracy\n0,", 39) == 0, "%s", a);
    int rows = 0;
    for (char *q = a; *q; q++) rows += *q == '\n';
    ck_assert_int_eq(rows, 1 + 5);
    ck_assert(strstr(a, "\n4,") != NULL);
    free(a), free(b);
    tu_rmtree(d1), tu_rmtree(d2);
}
END_TEST

static int same_params(Model *a, Model *b)
{
    for (int i = 0; i < a->n_params; i++)
        if (memcmp(a->params[i].w, b->params[i].w, sizeof(float) * a->params[i].n)) return 0;
    return 1;
}

/* A fresh process's view of the run stopped in d2: a new model (same init)
 * over loaders leaving out batch `left_out` (-1: none) resumes at epoch and
 * batch at[0], at[1], finishes s, and ends as the run `a` never stopped in d1
 * (weights, per-batch losses, metrics.csv apart from the time). */
static void resume_and_compare(Run *a, const char *d1, const char *d2, const Schedule *s, int left_out,
                               const int at[2], int stop)
{
    char p[4200];
    Err e = {0};
    Run c;
    run_init(&c, d2, "error_rate");
    ((Blobs *)c.dls->impl)->left_out = left_out;
    ck_assert_msg(learner_resume(c.l, s, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(c.l->epoch, at[0]);
    ck_assert_int_eq(c.l->batch, at[1]);
    ck_assert_msg(learner_fit_schedule(c.l, s, &e) == 0, "%s", e.msg);
    ck_assert_msg(same_params(a->m, c.m), "weights differ after resume (stop %d)", stop);
    ck_assert_int_eq(c.l->n_rec, a->l->n_rec);
    ck_assert(memcmp(c.l->rec_loss, a->l->rec_loss, sizeof(float) * a->l->n_rec) == 0);
    snprintf(p, sizeof p, "%s/metrics.csv", d1);
    char *x = csv_no_time(p);
    snprintf(p, sizeof p, "%s/metrics.csv", d2);
    char *y = csv_no_time(p);
    ck_assert_str_eq(x, y);
    free(x), free(y);
    run_free(&c);
}

START_TEST(stopped_and_resumed_run_is_bit_identical)
{
    char d1[4096], d2[4096];
    tu_tmpdir(d1, sizeof d1), tu_tmpdir(d2, sizeof d2);
    Run a;
    run_init(&a, d1, "error_rate");
    Schedule s = fine_tune_like(0.05);
    Err e = {0};
    ck_assert_int_eq(learner_fit_schedule(a.l, &s, &e), 0);
    /* the same run stopped after batch 5 of epoch 3 (stage 2, after one epoch of
     * it), batch 2 of epoch 1, batch 3 of epoch 0 (the first epoch of a stage:
     * its smoothed loss must not be reset on resume) and after the last batch of
     * epoch 1 (its validation still to run) */
    const int nb = NTR / BS;
    const int stops[] = {3 * nb + 5, 1 * nb + 2, 3, 2 * nb};
    const int at[][2] = {{3, 5}, {1, 2}, {0, 3}, {1, nb}};
    for (int k = 0; k < 4; k++) {
        tu_rmtree(d2);
        mkdir(d2, 0755);
        Run b;
        run_init(&b, d2, "error_rate");
        ((Blobs *)b.dls->impl)->stop_after = stops[k];
        int rc = learner_fit_schedule(b.l, &s, &e);
        ck_assert_int_eq(rc, 128 + 15);
        ck_assert_msg(strstr(e.msg, "--resume") != NULL, "%s", e.msg);
        run_free(&b);
        resume_and_compare(&a, d1, d2, &s, -1, at[k], stops[k]);
    }
    free(s.stages);
    run_free(&a);
    tu_rmtree(d1), tu_rmtree(d2);
}
END_TEST

START_TEST(a_left_out_batch_keeps_positions_and_resumes_bit_identically)
{
    /* The loader leaves out batch 2 of every epoch (Batch.batch_no jumps from
     * 1 to 3).  The run takes nb - 1 steps per epoch, its one-cycle position
     * follows the loader's numbers (so the last lr is the one of a run without
     * a gap), and stops after batch 1 (the next one left out), batch 3 (just
     * after the gap: the position is 4, not the 3 steps taken) and the
     * epoch's last batch resume to the same weights, losses and metrics.csv. */
    char d1[4096], d2[4096], d3[4096];
    tu_tmpdir(d1, sizeof d1), tu_tmpdir(d2, sizeof d2), tu_tmpdir(d3, sizeof d3);
    const int nb = NTR / BS;
    Schedule s = fine_tune_like(0.05);
    Err e = {0};
    Run full, a;
    run_init(&full, d3, "error_rate");
    ck_assert_int_eq(learner_fit_schedule(full.l, &s, &e), 0);
    run_init(&a, d1, "error_rate");
    ((Blobs *)a.dls->impl)->left_out = 2;
    ck_assert_int_eq(learner_fit_schedule(a.l, &s, &e), 0);
    ck_assert_int_eq(a.l->iter, 5 * (nb - 1));
    ck_assert_int_eq(full.l->iter, 5 * nb);
    for (int g = 0; g < a.l->opt->n_groups; g++)
        ck_assert_msg(a.l->opt->hyper[g].lr == full.l->opt->hyper[g].lr, "group %d: last lr %g, without the gap %g", g,
                      a.l->opt->hyper[g].lr, full.l->opt->hyper[g].lr);
    const int stops[] = {(nb - 1) + 2, (nb - 1) + 3, nb - 1};   /* in batches served */
    const int at[][2] = {{1, 2}, {1, 4}, {0, nb}};
    for (int k = 0; k < 3; k++) {
        tu_rmtree(d2);
        mkdir(d2, 0755);
        Run b;
        run_init(&b, d2, "error_rate");
        ((Blobs *)b.dls->impl)->left_out = 2;
        ((Blobs *)b.dls->impl)->stop_after = stops[k];
        ck_assert_int_eq(learner_fit_schedule(b.l, &s, &e), 128 + 15);
        run_free(&b);
        resume_and_compare(&a, d1, d2, &s, 2, at[k], stops[k]);
    }
    free(s.stages);
    run_free(&a), run_free(&full);
    tu_rmtree(d1), tu_rmtree(d2), tu_rmtree(d3);
}
END_TEST

START_TEST(nan_loss_stops_naming_epoch_and_batch)
{
    char d[4096];
    tu_tmpdir(d, sizeof d);
    Run r;
    run_init(&r, d, "error_rate");
    r.l->o.save.on = 1;
    r.lc.nan_at = 2 * (NTR / BS) + 4;   /* epoch 2, batch 3 */
    Schedule s = one_cycle(4, 0.05);
    Err e = {0};
    ck_assert_int_eq(learner_fit_schedule(r.l, &s, &e), ERR_RUNTIME);
    ck_assert_msg(strstr(e.msg, "NaN at epoch 2, batch 3"), "%s", e.msg);
    int saves = r.saves;
    ck_assert_int_le(saves, 2);    /* best saved at most on epochs 0 and 1, never after the NaN */
    free(s.stages);
    run_free(&r);
    tu_rmtree(d);
}
END_TEST

START_TEST(trackers_print_fastai_messages)
{
    char d[4096];
    tu_tmpdir(d, sizeof d);
    Run r;
    run_init(&r, d, "error_rate");
    r.l->o.save.on = 1;
    r.l->o.early.on = 1, r.l->o.early.patience = 1;
    snprintf(r.l->o.early.monitor, sizeof r.l->o.early.monitor, "error_rate");
    r.l->o.early.less = 1;
    Schedule s = one_cycle(12, 0.05);
    Err e = {0};
    ck_assert_msg(learner_fit_schedule(r.l, &s, &e) == 0, "%s", e.msg);
    fflush(r.table);
    ck_assert_msg(strstr(r.table_text, "Better model found at epoch 0 with valid_loss value: "), "%s", r.table_text);
    ck_assert_msg(strstr(r.table_text, ": early stopping\n"), "%s", r.table_text);
    ck_assert_msg(strstr(r.table_text, "No improvement since epoch "), "%s", r.table_text);
    ck_assert_int_lt(r.l->epoch, 12);
    ck_assert_int_ge(r.saves, 1);
    free(s.stages);
    run_free(&r);
    tu_rmtree(d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("learner");
    TCase *tc = tcase_create("learner");
    tcase_add_test(tc, fit_one_cycle_learns_the_blobs);
    tcase_add_test(tc, frozen_groups_keep_norm_params_and_stats_training);
    tcase_add_test(tc, lr_find_restores_model_and_optimizer);
    tcase_add_test(tc, same_seed_same_metrics_csv);
    tcase_add_test(tc, stopped_and_resumed_run_is_bit_identical);
    tcase_add_test(tc, a_left_out_batch_keeps_positions_and_resumes_bit_identically);
    tcase_add_test(tc, nan_loss_stops_naming_epoch_and_batch);
    tcase_add_test(tc, trackers_print_fastai_messages);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
