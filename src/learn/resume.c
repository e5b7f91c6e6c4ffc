/* resume.c — the resume state: written at every epoch's end and at a stop,
 * read back all or nothing (see resume.h).
 *
 * state.safetensors (io/state.h): the model's params as "model.<name>", Adam
 * moments "opt.avg.<name>" / "opt.sqr.<name>", per-param step counters and
 * frozen flags, the per-group hypers as exact double bit patterns, the
 * recorder's per-batch losses, and the loop position and identity as
 * metadata. */
#include "learn/resume.h"

#include "io/atomic.h"
#include "io/state.h"
#include "learn/learner.h"
#include "models/weights.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Array names of param i's optimizer state.  Adam's second moment is fastai's
 * sqr_avg ("opt.sqr."), or for a lazy-rows param (optim.h) its square root
 * exactly as the optimizer holds it ("opt.rsqr."): converting would not round
 * trip bit for bit, and a resumed run must continue bit-identically. */
static void opt_name(const Optimizer *o, const Model *m, int i, const char *what, char *buf, size_t cap)
{
    if (!strcmp(what, "sqr") && o->lazy[i].row_len) what = "rsqr";
    snprintf(buf, cap, "opt.%s.%s", what, m->params[i].name);
}

/* ---- identity ---------------------------------------------------------------------
 * One "name = value" line per thing the run's numbers and files depend on.  A
 * resumed run must have every line the same: the state then continues exactly
 * the run that wrote it, and metrics.csv keeps one header. */

static void num(double v, char *buf, size_t cap) { format_pyfloat(v, buf, cap); }   /* Python's repr */

static void lr_format(const LrSpec *lr, char *buf, size_t cap)
{
    char a[40], b[40];
    size_t len;
    switch (lr->kind) {
    case LR_NONE: snprintf(buf, cap, "None"); break;
    case LR_NUM:
        if (lr->ref_hi) snprintf(buf, cap, "%s*%.17g", lr_ref_name(lr->ref_hi), lr->f_hi);
        else num(lr->hi, buf, cap);
        break;
    case LR_SLICE:
        num(lr->lo, a, sizeof a), num(lr->hi, b, sizeof b);
        if (lr->ref_lo) snprintf(a, sizeof a, "%s*%.17g", lr_ref_name(lr->ref_lo), lr->f_lo);
        if (lr->ref_hi) snprintf(b, sizeof b, "%s*%.17g", lr_ref_name(lr->ref_hi), lr->f_hi);
        snprintf(buf, cap, "slice(%s, %s)", a, b);
        break;
    case LR_LIST:
        snprintf(buf, cap, "[");
        for (int i = 0; i < lr->n && (len = strlen(buf)) < cap; i++) {
            num(lr->v[i], a, sizeof a);
            snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", a);
        }
        len = strlen(buf);
        snprintf(buf + len, cap - len, "]");
        break;
    }
}

static void stage_format(const Stage *st, char *buf, size_t cap)
{
    char lr[512], wd[40], d[40], df[40], pct[40], m0[40], m1[40], m2[40];
    lr_format(&st->lr, lr, sizeof lr);
    if (st->has_wd) num(st->wd, wd, sizeof wd);
    else snprintf(wd, sizeof wd, "None");
    switch (st->kind) {
    case STAGE_FREEZE_TO: snprintf(buf, cap, "freeze_to(%d)", st->freeze_n); break;
    case STAGE_LR_FIND:
        num(st->start_lr, d, sizeof d), num(st->end_lr, df, sizeof df), num(st->slide_thresh, pct, sizeof pct);
        num(st->slide_adjust, m0, sizeof m0);
        snprintf(buf, cap, "lr_find(start_lr=%s, end_lr=%s, num_it=%d, stop_div=%d, suggest=%u, slide=(%d, %s, %s))", d,
                 df, st->num_it, st->stop_div, st->suggest, st->slide_diff, pct, m0);
        break;
    case STAGE_FIT: snprintf(buf, cap, "fit(%d, lr=%s, wd=%s)", st->n_epoch, lr, wd); break;
    case STAGE_ONE_CYCLE:
        num(st->div, d, sizeof d), num(st->div_final, df, sizeof df), num(st->pct_start, pct, sizeof pct);
        num(st->moms[0], m0, sizeof m0), num(st->moms[1], m1, sizeof m1), num(st->moms[2], m2, sizeof m2);
        snprintf(buf, cap, "fit_one_cycle(%d, lr_max=%s, div=%s, div_final=%s, pct_start=%s, wd=%s, moms=(%s, %s, %s))",
                 st->n_epoch, lr, d, df, pct, wd, m0, m1, m2);
        break;
    }
}

static void tracker_format(const char *name, const Tracker *t, int save, FILE *f)
{
    char md[40];
    if (!t->on) {
        fprintf(f, "%s = None\n", name);
        return;
    }
    num(t->min_delta, md, sizeof md);
    fprintf(f, "%s = %s(monitor='%s', comp=%s, min_delta=%s", name, name, t->monitor,
            t->less ? "np.less" : "np.greater", md);
    if (save) fprintf(f, ", fname='%s', every_epoch=%d, at_end=%d)\n", t->fname, t->every_epoch, t->at_end);
    else fprintf(f, ", patience=%d)\n", t->patience);
}

/* The identity lines of this run (malloc'ed; NULL when out of memory). */
static char *identity(const Learner *l, const Schedule *s)
{
    char *text = NULL, line[1024], a[40], b[40], c[40], d[40], e[40];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    const LearnerOpts *o = &l->o;
    if (o->run_config && o->run_config[0])
        fprintf(f, "%s%s", o->run_config, o->run_config[strlen(o->run_config) - 1] == '\n' ? "" : "\n");
    table_csv_header(&l->table, line, sizeof line);
    fprintf(f, "metrics.csv columns = %s\n", line);
    for (int i = 0; i < o->metrics.n; i++) {
        const Metric *mt = &o->metrics.m[i];
        num(mt->thresh, a, sizeof a);
        fprintf(f, "metric %d = %s(kind=%d, thresh=%s, sigmoid=%d)\n", i + 1, mt->name, (int)mt->kind, a, mt->sigmoid);
    }
    for (int i = 0; s && i < s->n; i++) {
        stage_format(&s->stages[i], line, sizeof line);
        fprintf(f, "schedule step %d = %s\n", i + 1, line);
    }
    fprintf(f, "seed = %llu\n", (unsigned long long)o->seed);
    num(o->hyper.mom, a, sizeof a), num(o->hyper.sqr_mom, b, sizeof b), num(o->hyper.eps, c, sizeof c);
    num(o->hyper.wd, d, sizeof d), num(o->lr, e, sizeof e);
    fprintf(f, "optimizer = %s(mom=%s, sqr_mom=%s, eps=%s, wd=%s, decouple_wd=%d)\nlr = %s\ntrain_bn = %d\n",
            o->opt == OPT_SGD ? "SGD" : "Adam", a, b, c, d, o->decouple_wd, e, o->train_bn);
    tracker_format("SaveModelCallback", &o->save, 1, f);
    tracker_format("EarlyStoppingCallback", &o->early, 0, f);
    fprintf(f, "training items = %d\nvalidation items = %d\nbatch size = %d\n",
            loaders_n_items(l->dls, SPLIT_TRAIN), loaders_n_items(l->dls, SPLIT_VALID), l->dls->bs);
    if (o->max_batches > 0) fprintf(f, "batches per epoch at most = %d\n", o->max_batches);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The value of line `name` in identity text t ("name = value" lines), as
 * pointer and length; NULL when t has no such line. */
static const char *identity_value(const char *t, const char *name, size_t name_len, int *value_len)
{
    for (const char *p = t; p && *p;) {
        const char *end = strchr(p, '\n'), *eq = strstr(p, " = ");
        if (!end) end = p + strlen(p);
        if (eq && eq < end && (size_t)(eq - p) == name_len && !memcmp(p, name, name_len)) {
            *value_len = (int)(end - (eq + 3));
            return eq + 3;
        }
        p = *end ? end + 1 : NULL;
    }
    return NULL;
}

/* 0 when `now` has the lines of `then`; else ERR_USAGE naming the first
 * line that differs (in now's order, then the lines only `then` has). */
static int identity_check(const char *path, const char *then, const char *now, Err *err)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *a = pass ? then : now, *b = pass ? now : then;
        for (const char *p = a; p && *p;) {
            const char *end = strchr(p, '\n'), *eq = strstr(p, " = ");
            if (!end) end = p + strlen(p);
            if (eq && eq < end) {
                int n_a = (int)(end - (eq + 3)), n_b;
                const char *v = identity_value(b, p, (size_t)(eq - p), &n_b);
                if (!v || n_a != n_b || memcmp(eq + 3, v, (size_t)n_a)) {
                    const char *vt = pass ? eq + 3 : v, *vn = pass ? v : eq + 3;
                    int nt = pass ? n_a : n_b, nn = pass ? n_b : n_a;
                    return err_set(err, ERR_USAGE,
                                   "%s: the run started with %.*s = %.*s; this run has %.*s: resume with the "
                                   "settings it started with, or train again without --resume",
                                   path, (int)(eq - p), p, vt ? (nt > 300 ? 300 : nt) : 14,
                                   vt ? vt : "(no such line)", vn ? (nn > 300 ? 300 : nn) : 14,
                                   vn ? vn : "(no such line)");
                }
            }
            p = *end ? end + 1 : NULL;
        }
    }
    return 0;
}

/* ---- writing ----------------------------------------------------------------------- */

/* Param i's moments and, in a state written mid-epoch, its pending lazy-row
 * steps; *d: room for the rows' counters (moved past those written). */
static int put_param_opt(StateWriter *w, const Optimizer *o, const Model *m, int i, uint64_t **d, const char *p,
                         Err *err)
{
    char name[300];
    int rc = 0;
    if (o->grad_avg[i]) {
        opt_name(o, m, i, "avg", name, sizeof name);
        rc = state_put_f32(w, name, o->grad_avg[i], m->params[i].n, err);
    }
    if (!rc && o->sqr_avg[i]) {
        opt_name(o, m, i, "sqr", name, sizeof name);
        rc = state_put_f32(w, name, o->sqr_avg[i], m->params[i].n, err);
    }
    int n_log;
    const int32_t *done;
    int64_t n_rows;
    const OptRowStep *log = optim_lazy_log(o, i, &n_log, &done, &n_rows);
    if (rc || !n_log) return rc;
    snprintf(name, sizeof name, "opt.lazy_n.%s", m->params[i].name);
    if (state_set_int(w, name, n_log)) return err_set(err, ERR_RUNTIME, "%s: out of memory", p);
    _Static_assert(sizeof(OptRowStep) == OPT_ROW_STEP_FLOATS * sizeof(float), "OptRowStep is floats only");
    opt_name(o, m, i, "lazy_log", name, sizeof name);
    if ((rc = state_put_f32(w, name, (const float *)log, (size_t)n_log * OPT_ROW_STEP_FLOATS, err))) return rc;
    for (int64_t r = 0; r < n_rows; r++) (*d)[r] = (uint64_t)done[r];
    opt_name(o, m, i, "lazy_done", name, sizeof name);
    rc = state_put_u64(w, name, *d, (size_t)n_rows, err);
    *d += n_rows;
    return rc;
}

int learner_save_state(Learner *l, Err *err)
{
    if (!l->o.out_dir) return 0;
    char p[4096];
    learner_out_path(l, "state.safetensors", p, sizeof p);
    Model *m = l->model;
    Optimizer *o = l->opt;
    int np = m->n_params, ng = o->n_groups, rc = 0;
    size_t n_done = 0;   /* the lazy rows' pending steps (a mid-epoch state): optim_lazy_log */
    for (int i = 0; i < np; i++) {
        int n_log;
        const int32_t *done;
        int64_t n_rows;
        optim_lazy_log(o, i, &n_log, &done, &n_rows);
        if (n_log) n_done += (size_t)n_rows;
    }
    char model_id[256];
    weights_model_id(m, model_id, sizeof model_id);
    StateWriter *w = state_writer_new(model_id);
    uint64_t *steps = malloc(sizeof(uint64_t) * (np + 1)), *frozen = malloc(sizeof(uint64_t) * (np + 1));
    uint64_t *hyp = malloc(sizeof(uint64_t) * ng * 5), *vl = malloc(sizeof(uint64_t) * (l->n_val + 1));
    uint64_t *vi = malloc(sizeof(uint64_t) * (l->n_val + 1)), *dn = malloc(sizeof(uint64_t) * (n_done + 1)), *d = dn;
    char *id = identity(l, l->sched);
    float sval = l->smooth.val;
    if (!w || !steps || !frozen || !hyp || !vl || !vi || !dn || !id) {
        rc = err_set(err, ERR_RUNTIME, "%s: out of memory", p);
        goto done;
    }
    for (int i = 0; i < np; i++) steps[i] = (uint64_t)o->step[i], frozen[i] = (uint64_t)m->params[i].frozen;
    for (int g = 0; g < ng; g++) {
        const OptHyper *h = &o->hyper[g];
        hyp[5 * g] = dbits(h->lr), hyp[5 * g + 1] = dbits(h->mom), hyp[5 * g + 2] = dbits(h->sqr_mom);
        hyp[5 * g + 3] = dbits(h->eps), hyp[5 * g + 4] = dbits(h->wd);
    }
    for (int i = 0; i < l->n_val; i++) vl[i] = dbits(l->val_loss[i]), vi[i] = (uint64_t)l->val_iter[i];
    if ((rc = weights_put_state(w, "model.", m->params, np, err))) goto done;
    for (int i = 0; i < np && !rc; i++) rc = put_param_opt(w, o, m, i, &d, p, err);
    if (rc || (rc = state_put_u64(w, "opt.step", steps, np, err)) ||
        (rc = state_put_u64(w, "frozen", frozen, np, err)) || (rc = state_put_u64(w, "opt.hyper", hyp, 5 * ng, err)) ||
        (rc = state_put_f32(w, "smooth.val", &sval, 1, err)))
        goto done;
    if (l->n_rec && (rc = state_put_f32(w, "rec.loss", l->rec_loss, l->n_rec, err))) goto done;
    if (l->n_val && ((rc = state_put_u64(w, "rec.valid_loss", vl, l->n_val, err)) ||
                     (rc = state_put_u64(w, "rec.valid_iter", vi, l->n_val, err))))
        goto done;
    if (state_set(w, "identity", id) || state_set_int(w, "stage", l->stage) ||
        state_set_int(w, "stage_epoch", l->stage_epoch) || state_set_int(w, "epoch", l->epoch) ||
        state_set_int(w, "batch", l->batch) || state_set_int(w, "n_batches", l->n_batches) ||
        state_set_double(w, "epoch_secs", l->epoch_secs) || state_set_double(w, "epoch_wait", l->epoch_wait) ||
        state_set_int(w, "iter", l->iter) || state_set_int(w, "frozen_n", l->frozen_n) ||
        state_set_int(w, "smooth.count", l->smooth.count) || state_set_int(w, "csv_started", l->csv_started) ||
        state_set_int(w, "n_groups", ng) || state_set_double(w, "save.best", l->o.save.best) ||
        state_set_int(w, "save.wait", l->o.save.wait) || state_set_double(w, "early.best", l->o.early.best) ||
        state_set_int(w, "early.wait", l->o.early.wait) || state_set_int(w, "n_epochs_total", l->total_epochs) ||
        state_set_int(w, "rec.n", l->n_rec) || state_set_int(w, "rec.n_val", l->n_val)) {
        rc = err_set(err, ERR_RUNTIME, "%s: out of memory", p);
        goto done;
    }
    rc = state_write(w, p, err);
done:
    state_writer_free(w);
    free(steps), free(frozen), free(hyp), free(vl), free(vi), free(dn), free(id);
    return rc;
}

/* ---- reading: everything into Staged first ------------------------------------------ */

typedef struct Staged {
    long long stage, stage_epoch, epoch, iter, frozen_n, count, csv, save_wait, early_wait, batch, n_batches;
    long long n_rec, n_val;
    double save_best, early_best, epoch_secs, epoch_wait;
    float sval;
    float *w;               /* every param's values, in order */
    float *opt;             /* the optimizer's moments, laid out as Optimizer.state */
    uint64_t *step, *frozen, *hyper;   /* [np], [np], [5 * n_groups] */
    float *rec;             /* [n_rec] smoothed losses */
    double *val;            /* [n_val] */
    int64_t *val_iter;      /* [n_val] */
    OptRowStep **log;       /* [np] pending lazy steps (NULL: none) */
    int *n_log;             /* [np] */
    int32_t **done;         /* [np] */
    char *csv_text;         /* metrics.csv as it is (csv_started) */
    size_t csv_len, csv_keep;   /* its bytes; those the state's epochs cover */
} Staged;

static void staged_free(Staged *z, int np)
{
    free(z->w), free(z->opt), free(z->step), free(z->frozen), free(z->hyper);
    free(z->rec), free(z->val), free(z->val_iter), free(z->csv_text);
    for (int i = 0; z->log && i < np; i++) free(z->log[i]), free(z->done[i]);
    free(z->log), free(z->n_log), free(z->done);
}

static int get_int(const StateFile *f, const char *path, const char *key, long long lo, long long hi, long long *out,
                   Err *err)
{
    if (state_get_int(f, key, out, err)) return err->code;
    if (*out < lo || *out > hi)
        return err_set(err, ERR_RUNTIME, "%s: resume state: %s = %lld is out of range [%lld, %lld]", path, key, *out,
                       lo, hi);
    return 0;
}

static int get_finite(const StateFile *f, const char *path, const char *key, double *out, Err *err)
{
    if (state_get_double(f, key, out, err)) return err->code;
    if (isnan(*out)) return err_set(err, ERR_RUNTIME, "%s: resume state: %s is NaN", path, key);
    return 0;
}

/* An f32 array that must hold finite numbers (weights, moments). */
static int get_f32_finite(const StateFile *f, const char *path, const char *name, float *dst, size_t n, Err *err)
{
    if (state_get_f32(f, name, dst, n, err)) return err->code;
    for (size_t k = 0; k < n; k++)
        if (!isfinite(dst[k]))
            return err_set(err, ERR_RUNTIME, "%s: resume state: '%s' holds %s at %zu: the file is damaged", path,
                           name, isnan(dst[k]) ? "NaN" : "an infinity", k);
    return 0;
}

/* The loop position and counters. */
static int read_position(const StateFile *f, const char *p, const Learner *l, const Schedule *s, Staged *z, Err *err)
{
    long long ngs, total, want = schedule_total_epochs(s);
    int ng = l->opt->n_groups, rc;
    if ((rc = get_int(f, p, "n_groups", ng, ng, &ngs, err)) ||
        (rc = get_int(f, p, "n_epochs_total", want, want, &total, err)) ||
        (rc = get_int(f, p, "stage", 0, s->n - 1, &z->stage, err)) ||
        (rc = get_int(f, p, "stage_epoch", 0, 1000000, &z->stage_epoch, err)) ||
        (rc = get_int(f, p, "epoch", 0, want, &z->epoch, err)) ||
        (rc = get_int(f, p, "iter", 0, INT64_MAX, &z->iter, err)) ||
        (rc = get_int(f, p, "frozen_n", -1000, 1000, &z->frozen_n, err)) ||
        (rc = get_int(f, p, "smooth.count", 0, INT32_MAX, &z->count, err)) ||
        (rc = get_int(f, p, "csv_started", 0, 1, &z->csv, err)) ||
        (rc = get_int(f, p, "save.wait", 0, 1 << 30, &z->save_wait, err)) ||
        (rc = get_int(f, p, "early.wait", 0, 1 << 30, &z->early_wait, err)) ||
        (rc = state_get_double(f, "save.best", &z->save_best, err)) ||
        (rc = state_get_double(f, "early.best", &z->early_best, err)) ||
        (rc = get_int(f, p, "n_batches", 0, 1 << 30, &z->n_batches, err)) ||
        (rc = get_int(f, p, "batch", 0, z->n_batches, &z->batch, err)) ||
        (rc = get_finite(f, p, "epoch_secs", &z->epoch_secs, err)) ||
        (rc = get_finite(f, p, "epoch_wait", &z->epoch_wait, err)) ||
        (rc = get_int(f, p, "rec.n", 0, INT64_MAX, &z->n_rec, err)) ||
        (rc = get_int(f, p, "rec.n_val", 0, z->epoch, &z->n_val, err)))
        return rc;
    const Stage *st = &s->stages[z->stage];
    if (st->kind != STAGE_FREEZE_TO &&
        (z->stage_epoch > st->n_epoch || (z->batch > 0 && z->stage_epoch == st->n_epoch)))
        return err_set(err, ERR_USAGE, "%s: the state is at stage %lld epoch %lld, which this schedule does not have", p,
                       z->stage + 1, z->stage_epoch);
    /* the training batches per epoch are the loader's (capped by max_batches) */
    int nb = loaders_n_batches(l->dls, SPLIT_TRAIN);
    if (l->o.max_batches > 0 && nb > l->o.max_batches) nb = l->o.max_batches;
    if (z->n_batches && z->n_batches != nb)
        return err_set(err, ERR_USAGE, "%s: written with %lld training batches per epoch; this run has %d (bs or the "
                                       "training set changed?)", p, z->n_batches, nb);
    return 0;
}

/* Param i's moments and pending lazy rows.  A tensor this optimizer has and
 * the state lacks, or the other way round, is damage: the identity check
 * already found the optimizer settings the same. */
static int read_param_opt(const StateFile *f, const char *p, const Optimizer *o, const Model *m, int i, Staged *z,
                          Err *err)
{
    char name[300];
    float *const mom[2] = {o->grad_avg[i], o->sqr_avg[i]};
    const char *what[2] = {"avg", "sqr"};
    for (int k = 0; k < 2; k++) {
        opt_name(o, m, i, what[k], name, sizeof name);
        if (!mom[k]) {
            if (state_has(f, name))
                return err_set(err, ERR_RUNTIME, "%s: resume state holds '%s', which this run's optimizer does not "
                                                 "have", p, name);
            continue;
        }
        if (get_f32_finite(f, p, name, z->opt + (mom[k] - o->state), m->params[i].n, err)) return err->code;
    }
    snprintf(name, sizeof name, "opt.lazy_n.%s", m->params[i].name);
    if (!state_get(f, name)) return 0;   /* nothing pending */
    int n_log;
    const int32_t *cur;
    int64_t n_rows;
    optim_lazy_log(o, i, &n_log, &cur, &n_rows);
    long long n;
    if (!n_rows)
        return err_set(err, ERR_RUNTIME, "%s: resume state has pending row steps for %s, which this run's optimizer "
                                         "does not update by rows", p, m->params[i].name);
    if (get_int(f, p, name, 1, OPTIM_LOG_CAP, &n, err)) return err->code;
    z->n_log[i] = (int)n;
    z->log[i] = malloc(sizeof(OptRowStep) * (size_t)n);
    z->done[i] = malloc(sizeof(int32_t) * (size_t)n_rows);
    uint64_t *d = malloc(sizeof *d * (size_t)n_rows);
    int rc = !z->log[i] || !z->done[i] || !d ? err_set(err, ERR_RUNTIME, "%s: out of memory", p) : 0;
    if (!rc) {
        opt_name(o, m, i, "lazy_log", name, sizeof name);
        rc = state_get_f32(f, name, (float *)z->log[i], (size_t)n * OPT_ROW_STEP_FLOATS, err);
    }
    if (!rc) {
        opt_name(o, m, i, "lazy_done", name, sizeof name);
        rc = state_get_u64(f, name, d, (size_t)n_rows, err);
    }
    for (int64_t r = 0; !rc && r < n_rows; r++) {
        if (d[r] > (uint64_t)n)
            rc = err_set(err, ERR_RUNTIME, "%s: the pending optimizer steps of %s are inconsistent (row %lld has "
                                           "applied %llu of %lld)", p, m->params[i].name, (long long)r,
                         (unsigned long long)d[r], n);
        else z->done[i][r] = (int32_t)d[r];
    }
    free(d);
    return rc;
}

/* Weights, optimizer, counters per param, hypers, smoothed loss. */
static int read_arrays(const StateFile *f, const char *p, const Learner *l, Staged *z, Err *err)
{
    const Model *m = l->model;
    const Optimizer *o = l->opt;
    int np = m->n_params, ng = o->n_groups;
    size_t n_w = 0;
    char name[300];
    for (int i = 0; i < np; i++) n_w += m->params[i].n;
    z->w = malloc(sizeof(float) * (n_w ? n_w : 1));
    z->opt = calloc(o->state_n ? o->state_n : 1, sizeof(float));
    z->step = malloc(sizeof(uint64_t) * (np + 1)), z->frozen = malloc(sizeof(uint64_t) * (np + 1));
    z->hyper = malloc(sizeof(uint64_t) * 5 * ng);
    z->log = calloc(np + 1, sizeof *z->log), z->done = calloc(np + 1, sizeof *z->done);
    z->n_log = calloc(np + 1, sizeof *z->n_log);
    if (!z->w || !z->opt || !z->step || !z->frozen || !z->hyper || !z->log || !z->done || !z->n_log)
        return err_set(err, ERR_RUNTIME, "%s: out of memory", p);
    size_t off = 0;
    for (int i = 0; i < np; i++) {
        snprintf(name, sizeof name, "model.%s", m->params[i].name);
        if (get_f32_finite(f, p, name, z->w + off, m->params[i].n, err)) return err->code;
        off += m->params[i].n;
        if (read_param_opt(f, p, o, m, i, z, err)) return err->code;
    }
    if (state_get_u64(f, "opt.step", z->step, np, err) || state_get_u64(f, "frozen", z->frozen, np, err) ||
        state_get_u64(f, "opt.hyper", z->hyper, 5 * ng, err) || state_get_f32(f, "smooth.val", &z->sval, 1, err))
        return err->code;
    for (int i = 0; i < np; i++)
        if (z->step[i] > (uint64_t)z->iter || z->frozen[i] > 1)
            return err_set(err, ERR_RUNTIME, "%s: resume state: the step count or frozen flag of %s is out of range",
                           p, m->params[i].name);
    for (int k = 0; k < 5 * ng; k++)
        if (!isfinite(bitsd(z->hyper[k])))
            return err_set(err, ERR_RUNTIME, "%s: resume state: 'opt.hyper' holds a value that is not finite", p);
    return 0;
}

/* The recorder: per-batch smoothed losses, per-epoch validation losses. */
static int read_recorder(const StateFile *f, const char *p, Staged *z, Err *err)
{
    long long have = state_len(f, "rec.loss");   /* written when there is a loss to hold */
    if ((have < 0 ? 0 : have) != z->n_rec)
        return err_set(err, ERR_RUNTIME, "%s: resume state: rec.n = %lld, but 'rec.loss' holds %lld values", p,
                       z->n_rec, have < 0 ? 0 : have);
    if (z->n_rec) {
        z->rec = malloc(sizeof(float) * (size_t)z->n_rec);
        if (!z->rec) return err_set(err, ERR_RUNTIME, "%s: out of memory", p);
        if (state_get_f32(f, "rec.loss", z->rec, (size_t)z->n_rec, err)) return err->code;
    }
    if (!z->n_val) return 0;
    uint64_t *a = malloc(sizeof(uint64_t) * (size_t)z->n_val), *b = malloc(sizeof(uint64_t) * (size_t)z->n_val);
    z->val = malloc(sizeof(double) * (size_t)z->n_val);
    z->val_iter = malloc(sizeof(int64_t) * (size_t)z->n_val);
    int rc = !a || !b || !z->val || !z->val_iter ? err_set(err, ERR_RUNTIME, "%s: out of memory", p) : 0;
    if (!rc && !(rc = state_get_u64(f, "rec.valid_loss", a, (size_t)z->n_val, err)) &&
        !(rc = state_get_u64(f, "rec.valid_iter", b, (size_t)z->n_val, err)))
        for (long long i = 0; i < z->n_val && !rc; i++) {
            z->val[i] = bitsd(a[i]), z->val_iter[i] = (int64_t)b[i];
            if (b[i] > (uint64_t)z->n_rec)
                rc = err_set(err, ERR_RUNTIME, "%s: resume state: 'rec.valid_iter' is out of range", p);
        }
    free(a), free(b);
    return rc;
}

/* metrics.csv as the state expects it: when the run has written its header,
 * the file has this run's header and a row for every epoch the state holds;
 * what follows those rows (appended after the state was written) is cut at
 * commit.  Read whole into z. */
static int read_csv(const Learner *l, Staged *z, Err *err)
{
    if (!z->csv) return 0;
    char p[4096], header[1024];
    learner_out_path(l, "metrics.csv", p, sizeof p);
    FILE *f = fopen(p, "rb");
    if (!f)
        return err_set(err, ERR_RUNTIME, "%s: %s, but the resume state holds %lld epochs of it", p, strerror(errno),
                       z->epoch);
    size_t cap = 0;
    int c, lines = 0;
    while ((c = fgetc(f)) != EOF) {
        if (z->csv_len + 1 >= cap) {
            cap = cap ? 2 * cap : 4096;
            char *t = realloc(z->csv_text, cap);
            if (!t) {
                fclose(f);
                return err_set(err, ERR_RUNTIME, "%s: out of memory", p);
            }
            z->csv_text = t;
        }
        z->csv_text[z->csv_len++] = (char)c;
        if (c == '\n' && ++lines <= z->epoch + 1) z->csv_keep = z->csv_len;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) return err_set(err, ERR_RUNTIME, "%s: read error", p);
    table_csv_header(&l->table, header, sizeof header);
    size_t hl = strlen(header);
    if (z->csv_len < hl + 1 || memcmp(z->csv_text, header, hl) || z->csv_text[hl] != '\n')
        return err_set(err, ERR_RUNTIME, "%s: the header is not %s (the file was changed since the run wrote it?)", p,
                       header);
    if (lines < z->epoch + 1)
        return err_set(err, ERR_RUNTIME, "%s: %d epoch rows, but the resume state holds %lld epochs (the file was "
                                         "changed since the run wrote it?)", p, lines - 1, z->epoch);
    return 0;
}

/* ---- commit: nothing here can fail but the metrics.csv write, done first ------------ */

static int commit(Learner *l, const Schedule *s, Staged *z, Err *err)
{
    if (z->csv && z->csv_keep < z->csv_len && l->logging) {   /* (data-parallel: rank 0 writes) */
        char p[4096];
        learner_out_path(l, "metrics.csv", p, sizeof p);
        if (atomic_write_file(p, z->csv_text, z->csv_keep, err)) return err->code;
    }
    Model *m = l->model;
    Optimizer *o = l->opt;
    int np = m->n_params, ng = o->n_groups;
    /* replay the freeze stages before the saved position (they clear the optimizer) */
    for (int i = 0; i < z->stage; i++)
        if (s->stages[i].kind == STAGE_FREEZE_TO) learner_freeze_to(l, s->stages[i].freeze_n);
    optim_flush(o);   /* nothing pending may be replayed onto the loaded state */
    size_t off = 0;
    for (int i = 0; i < np; i++) {
        memcpy(m->params[i].w, z->w + off, sizeof(float) * m->params[i].n);
        off += m->params[i].n;
    }
    memcpy(o->state, z->opt, sizeof(float) * o->state_n);
    for (int i = 0; i < np; i++) {
        o->step[i] = (int64_t)z->step[i];
        if (m->params[i].kind == PARAM_WEIGHT) m->params[i].frozen = z->frozen[i] != 0;
        if (z->log[i]) FASTC_ASSERT(optim_lazy_restore(o, i, z->log[i], z->n_log[i], z->done[i]) == 0);
    }
    for (int g = 0; g < ng; g++) {
        OptHyper *h = &o->hyper[g];
        const uint64_t *u = z->hyper + 5 * g;
        h->lr = bitsd(u[0]), h->mom = bitsd(u[1]), h->sqr_mom = bitsd(u[2]), h->eps = bitsd(u[3]), h->wd = bitsd(u[4]);
    }
    /* the recorder's arrays become the staged ones */
    free(l->rec_loss), free(l->val_loss), free(l->val_iter);
    l->rec_loss = z->rec, l->n_rec = l->cap_rec = z->n_rec;
    l->val_loss = z->val, l->val_iter = z->val_iter, l->n_val = l->cap_val = (int)z->n_val;
    z->rec = NULL, z->val = NULL, z->val_iter = NULL;
    l->total_epochs = schedule_total_epochs(s);
    l->stage = (int)z->stage, l->stage_epoch = (int)z->stage_epoch, l->epoch = (int)z->epoch, l->iter = z->iter;
    l->batch = (int)z->batch, l->n_batches = (int)z->n_batches;
    l->epoch_secs = z->epoch_secs, l->epoch_wait = z->epoch_wait;
    l->frozen_n = (int)z->frozen_n, l->smooth.val = z->sval, l->smooth.count = (int)z->count;
    l->csv_started = (int)z->csv;
    l->o.save.best = z->save_best, l->o.save.wait = (int)z->save_wait;
    l->o.early.best = z->early_best, l->o.early.wait = (int)z->early_wait;
    return 0;
}

int learner_resume(Learner *l, const Schedule *s, Err *err)
{
    if (!l->o.out_dir) return RESUME_NO_STATE;
    char p[4096];
    learner_out_path(l, "state.safetensors", p, sizeof p);
    if (access(p, F_OK) != 0) {
        if (errno == ENOENT) return RESUME_NO_STATE;
        return err_set(err, ERR_RUNTIME, "%s: %s", p, strerror(errno));
    }
    StateFile *f = NULL;
    Staged z = {0};
    char *now = identity(l, s), model_id[256];
    weights_model_id(l->model, model_id, sizeof model_id);
    int rc = 0;
    if (!now) rc = err_set(err, ERR_RUNTIME, "%s: out of memory", p);
    else if ((rc = state_open(p, model_id, &f, err))) {
    } else if (!state_get(f, "identity")) {
        rc = err_set(err, ERR_RUNTIME, "%s: resume state: metadata key 'identity' is missing", p);
    } else if (!(rc = identity_check(p, state_get(f, "identity"), now, err)) &&
               !(rc = read_position(f, p, l, s, &z, err)) && !(rc = read_arrays(f, p, l, &z, err)) &&
               !(rc = read_recorder(f, p, &z, err)) && !(rc = read_csv(l, &z, err))) {
        rc = commit(l, s, &z, err);
    }
    staged_free(&z, l->model->n_params);
    state_close(f);
    free(now);
    return rc;
}
