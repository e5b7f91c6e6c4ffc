/* callbacks.c — fastai's callbacks as hook tables (see callbacks.h);
 * FASTAI_REFERENCE.md §1 (Recorder, trackers) and §3 (schedules). */
#include "learn/callbacks.h"

#include "io/atomic.h"
#include "learn/learner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CALLBACKS_MAX = 8, SCHED_MAX_GROUPS = 64 };
_Static_assert((int)LR_MAX_LIST <= (int)SCHED_MAX_GROUPS, "an lr list fits the scheduler's groups");

typedef struct Callback {
    const CallbackOps *ops;
    void *self;
} Callback;

/* A fit's callbacks and the state each keeps for the fit. */
struct Callbacks {
    Callback cb[CALLBACKS_MAX];
    int n;
    double lr_max[SCHED_MAX_GROUPS];   /* ParamScheduler: the stage's lr per group */
    struct Bar {       /* ProgressCallback */
        double t0, last;   /* t0: when the epoch's first batch started (0: not yet), at number `first` */
        int shown, first;
    } bar;
    int save_col, early_col;   /* the trackers' monitors: indices into FitEvent.vals */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A line where the table goes (stdout; stderr with --json). */
static void say(Learner *l, const char *line)
{
    if (!l->logging) return;
    FILE *f = l->o.json ? l->o.progress : l->o.out;
    if (!f) return;
    fprintf(f, "%s\n", line);
    fflush(f);
}

/* ---- ParamScheduler: the stage's hypers --------------------------------------------- */

static int sched_before_fit(void *self, Learner *l, FitEvent *ev, Err *err)
{
    Callbacks *c = self;
    int ng = l->opt->n_groups;
    FASTC_ASSERT(ng <= SCHED_MAX_GROUPS);
    LrSpec spec = ev->stage->lr;
    if (spec.kind == LR_NONE) spec = lr_num(l->o.lr);
    if (lr_resolve(&spec, ng, c->lr_max, err)) return err->code;
    if (ev->stage->has_wd) optim_set_wd(l->opt, ev->stage->wd);
    optim_set_lr(l->opt, c->lr_max);
    return 0;
}

static int sched_before_batch(void *self, Learner *l, FitEvent *ev, Err *err)
{
    Callbacks *c = self;
    const Stage *st = ev->stage;
    if (st->kind != STAGE_ONE_CYCLE) return 0;
    /* TrainEvalCallback's pct_train: the position of this batch in the fit */
    double pos = (double)(ev->epoch * ev->n_batches + ev->batch) / ((double)st->n_epoch * ev->n_batches), mom;
    double lr[SCHED_MAX_GROUPS];
    one_cycle_at(st, c->lr_max, l->opt->n_groups, pos, lr, &mom);
    optim_set_lr(l->opt, lr);
    optim_set_mom(l->opt, mom);
    return 0;
}

static const CallbackOps PARAM_SCHEDULER = {
    "ParamScheduler", {[CB_BEFORE_FIT] = sched_before_fit, [CB_BEFORE_BATCH] = sched_before_batch}};

/* ---- ProgressCallback: the bar on stderr ---------------------------------------------- */

static int bar_before_batch(void *self, Learner *l, FitEvent *ev, Err *err)
{
    struct Bar *p = &((Callbacks *)self)->bar;
    if (p->t0 == 0) p->t0 = now(), p->first = ev->batch;   /* the epoch's first batch (a resumed one: not 0) */
    return 0;
}

static int bar_after_batch(void *self, Learner *l, FitEvent *ev, Err *err)
{
    struct Bar *p = &((Callbacks *)self)->bar;
    int done = ev->batch + 1, total = ev->n_batches;
    double t = now();
    if (done < total && t - p->last < 0.2 && p->shown) return 0;
    p->last = t, p->shown = 1;
    double el = t - p->t0, eta = done > p->first ? el / (done - p->first) * (total - done) : 0;
    char a[16], b[16];
    format_time(el, a, sizeof a), format_time(eta, b, sizeof b);
    int w = 30, fill = total ? (int)((double)done / total * w) : w;
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '-';
    bar[w] = 0;
    fprintf(l->o.progress, "\rtrain |%s| %d/%d %s<%s", bar, done, total, a, b);
    if (isfinite(ev->loss)) fprintf(l->o.progress, " loss %.4f", ev->loss);
    fprintf(l->o.progress, "\033[K");
    fflush(l->o.progress);
    return 0;
}

static int bar_after_train(void *self, Learner *l, FitEvent *ev, Err *err)
{
    struct Bar *p = &((Callbacks *)self)->bar;
    if (p->shown) {
        fprintf(l->o.progress, "\r\033[K");
        fflush(l->o.progress);
    }
    p->shown = 0, p->t0 = 0;
    return 0;
}

static const CallbackOps PROGRESS = {
    "ProgressCallback",
    {[CB_BEFORE_BATCH] = bar_before_batch, [CB_AFTER_BATCH] = bar_after_batch, [CB_AFTER_TRAIN] = bar_after_train}};

/* ---- the Recorder's output: table, --json, metrics.csv -------------------------------- */

static int log_before_fit(void *self, Learner *l, FitEvent *ev, Err *err)
{
    if (l->o.json || l->stage_epoch >= ev->stage->n_epoch) return 0;
    char h[1024];
    table_header(&l->table, h, sizeof h);
    say(l, h);
    return 0;
}

/* metrics.csv: one header for the whole run, written when its first row is */
static int csv_write_header(Learner *l, Err *err)
{
    if (l->csv_started) return 0;
    char p[4096], line[1024], text[1100];
    learner_out_path(l, "metrics.csv", p, sizeof p);
    table_csv_header(&l->table, line, sizeof line);
    snprintf(text, sizeof text, "%s\n", line);
    if (atomic_write_file(p, text, strlen(text), err)) return err->code;
    l->csv_started = 1;
    return 0;
}

static int log_after_epoch(void *self, Learner *l, FitEvent *ev, Err *err)
{
    char line[2048];
    if (l->o.json) {
        table_json_row(&l->table, ev->epoch, ev->vals, ev->secs, ev->train_wait, line, sizeof line);
        fprintf(l->o.out, "%s\n", line);
        fflush(l->o.out);
    } else {
        table_row(&l->table, ev->epoch, ev->vals, ev->secs, line, sizeof line);
        say(l, line);
    }
    if (!l->o.out_dir) return 0;
    char p[4096];
    learner_out_path(l, "metrics.csv", p, sizeof p);
    if (csv_write_header(l, err)) return err->code;
    /* the epoch column counts over the run (l->epoch: the epochs before this one) */
    table_csv_row(&l->table, l->epoch, ev->vals, ev->secs, line, sizeof line);
    return atomic_append_line(p, line, err);
}

static const CallbackOps RECORDER_OUTPUT = {
    "Recorder", {[CB_BEFORE_FIT] = log_before_fit, [CB_AFTER_EPOCH] = log_after_epoch}};

/* ---- trackers: SaveModelCallback, EarlyStoppingCallback ------------------------------- */

void tracker_reset(Tracker *t)
{
    t->best = t->less ? INFINITY : -INFINITY;
    t->wait = 0, t->new_best = 0;
}

static void tracker_update(Tracker *t, double v)
{
    int better = t->less ? (v - t->min_delta < t->best) : (v - t->min_delta > t->best);
    if (better) t->best = v, t->new_best = 1;
    else t->new_best = 0;
}

/* The monitor's index into FitEvent.vals (recorder.metric_names[1:]:
 * train_loss, valid_loss, metrics; time excluded), or -1. */
static int tracker_col(const Learner *l, const Tracker *t)
{
    for (int i = 1; i < l->table.n - 1; i++)
        if (strcmp(l->table.names[i], t->monitor) == 0) return i - 1;
    return -1;
}

static int save_model(Learner *l, const char *name, Err *err)
{
    if (!l->o.out_dir || !l->o.ckpt.save) return 0;
    char p[4096];
    learner_out_path(l, name, p, sizeof p);
    return l->o.ckpt.save(l->o.ckpt.ctx, l->model, p, err);
}

static int save_after_epoch(void *self, Learner *l, FitEvent *ev, Err *err)
{
    Tracker *sv = &l->o.save;
    char nm[96];
    if (sv->every_epoch) {
        if (ev->epoch % sv->every_epoch) return 0;
        snprintf(nm, sizeof nm, "%s_%d.safetensors", sv->fname, ev->epoch);
        return save_model(l, nm, err);
    }
    tracker_update(sv, ev->vals[((Callbacks *)self)->save_col]);
    if (!sv->new_best) return 0;
    char line[256], num[64];
    format_pyfloat(sv->best, num, sizeof num);
    snprintf(line, sizeof line, "Better model found at epoch %d with %s value: %s.", ev->epoch, sv->monitor, num);
    say(l, line);
    snprintf(nm, sizeof nm, "%s.safetensors", sv->fname);
    return save_model(l, nm, err);
}

static int save_after_fit(void *self, Learner *l, FitEvent *ev, Err *err)
{
    Tracker *sv = &l->o.save;
    if (!l->o.out_dir || ev->stage->n_epoch <= 0) return 0;
    char nm[96], p[4096];
    snprintf(nm, sizeof nm, "%s.safetensors", sv->fname);
    if (sv->at_end) return save_model(l, nm, err);
    if (sv->every_epoch || !l->o.ckpt.load) return 0;
    learner_out_path(l, nm, p, sizeof p);
    return l->o.ckpt.load(l->o.ckpt.ctx, l->model, p, err);
}

static const CallbackOps SAVE_MODEL = {
    "SaveModelCallback", {[CB_AFTER_EPOCH] = save_after_epoch, [CB_AFTER_FIT] = save_after_fit}};

static int early_after_epoch(void *self, Learner *l, FitEvent *ev, Err *err)
{
    Tracker *es = &l->o.early;
    tracker_update(es, ev->vals[((Callbacks *)self)->early_col]);
    if (es->new_best) es->wait = 0;
    else if (++es->wait >= es->patience) {
        char line[128];
        snprintf(line, sizeof line, "No improvement since epoch %d: early stopping", ev->epoch - es->wait);
        say(l, line);
        ev->stop = 1;
    }
    return 0;
}

static const CallbackOps EARLY_STOPPING = {"EarlyStoppingCallback", {[CB_AFTER_EPOCH] = early_after_epoch}};

/* ---- the pause test hook (LearnerOpts.pause_after) ------------------------------------- */

/* After that many training batches of the run: say so on the progress
 * stream (even with --quiet) and wait, up to a minute, for the stop signal
 * the test sends from outside. */
static int pause_after_batch(void *self, Learner *l, FitEvent *ev, Err *err)
{
    if (l->iter != l->o.pause_after) return 0;
    if (l->o.progress) {
        fprintf(l->o.progress, "fastc: paused after batch %lld of the run (--pause-after)\n",
                (long long)l->iter);
        fflush(l->o.progress);
    }
    for (int k = 0; k < 6000 && !(l->o.stop && *l->o.stop); k++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static const CallbackOps PAUSE = {"pause (test hook)", {[CB_AFTER_BATCH] = pause_after_batch}};

/* ---- the list ------------------------------------------------------------------------ */

static void add(Callbacks *c, const CallbackOps *ops)
{
    FASTC_ASSERT(c->n < CALLBACKS_MAX);
    c->cb[c->n++] = (Callback){ops, c};
}

/* A tracker's monitor: a column, and one the run has values for. */
static int tracker_check(const Learner *l, const Tracker *t, const char *name, int *col, Err *err)
{
    if ((*col = tracker_col(l, t)) < 0)
        return err_set(err, ERR_USAGE, "%s: monitor '%s' is not a column (train_loss, valid_loss or a metric)", name,
                       t->monitor);
    if (*col > 0 && l->table.no_valid)
        return err_set(err, ERR_USAGE, "%s: monitor '%s' needs a validation set, and this one is empty (monitor "
                                       "'train_loss' works without one)", name, t->monitor);
    return 0;
}

Callbacks *callbacks_new(Learner *l, const FitEvent *ev, Err *err)
{
    Callbacks *c = calloc(1, sizeof *c);
    if (!c) return err_set(err, ERR_RUNTIME, "train: out of memory"), NULL;
    const LearnerOpts *o = &l->o;
    if ((o->save.on && tracker_check(l, &o->save, "SaveModelCallback", &c->save_col, err)) ||
        (o->early.on && tracker_check(l, &o->early, "EarlyStoppingCallback", &c->early_col, err))) {
        free(c);
        return NULL;
    }
    add(c, &PARAM_SCHEDULER);
    if (!o->quiet && o->is_tty && o->progress && l->logging) add(c, &PROGRESS);
    if (l->logging) add(c, &RECORDER_OUTPUT);
    if (o->save.on && l->logging) add(c, &SAVE_MODEL);
    if (o->early.on) add(c, &EARLY_STOPPING);
    if (o->pause_after > 0) add(c, &PAUSE);
    return c;
}

void callbacks_free(Callbacks *c) { free(c); }

int callbacks_run(Callbacks *c, CbHook h, Learner *l, FitEvent *ev, Err *err)
{
    for (int i = 0; i < c->n; i++) {
        CbFn f = c->cb[i].ops->hook[h];
        int rc = f ? f(c->cb[i].self, l, ev, err) : 0;
        if (rc) return rc;
    }
    return 0;
}
