/* learner.c — the fit loop, validation, callbacks, outputs and resume state.
 * See learner.h; FASTAI_REFERENCE.md §1 (Learner, Recorder, trackers) and §3. */
#include "learn/learner.h"

#include "io/atomic.h"
#include "io/plot.h"
#include "io/state.h"
#include "learn/lr_find.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- options --------------------------------------------------------------- */

static void tracker_init(Tracker *t, const char *monitor)
{
    memset(t, 0, sizeof *t);
    snprintf(t->monitor, sizeof t->monitor, "%s", monitor);
    t->less = strstr(monitor, "loss") || strstr(monitor, "error");
    t->patience = 1;
    snprintf(t->fname, sizeof t->fname, "best");
}

void learner_opts_default(LearnerOpts *o)
{
    memset(o, 0, sizeof *o);
    o->opt = OPT_ADAM;
    o->hyper = optim_default_hyper(OPT_ADAM);
    o->decouple_wd = 1;
    o->lr = 1e-3;
    o->train_bn = 1;
    tracker_init(&o->save, "valid_loss");
    tracker_init(&o->early, "valid_loss");
    o->threads = 1;
    o->out = stdout;
    o->progress = stderr;
}

Learner *learner_new(Model *m, Loaders *dls, const LearnerOpts *o, Err *err)
{
    Learner *l = calloc(1, sizeof *l);
    if (!l) return err_set(err, ERR_RUNTIME, "learner: out of memory"), NULL;
    l->model = m, l->dls = dls, l->o = *o;
    l->n_out = m->info.n_out;
    int bs = dls->bs > m->info.max_bs ? dls->bs : m->info.max_bs;
    l->dout = malloc(sizeof(float) * (size_t)(bs > 0 ? bs : 1) * (l->n_out > 0 ? l->n_out : 1));
    if (!l->dout) {
        free(l);
        err_set(err, ERR_RUNTIME, "learner: out of memory");
        return NULL;
    }
    OptHyper h = o->hyper;
    h.lr = o->lr;
    l->opt = optim_new(o->opt, &h, o->decouple_wd, m, o->threads, err);
    if (!l->opt) {
        learner_free(l);
        return NULL;
    }
    const char *names[METRICS_MAX];
    for (int i = 0; i < o->metrics.n; i++) names[i] = o->metrics.m[i].name;
    table_init(&l->table, names, o->metrics.n);
    l->logging = 1;
    return l;
}

void learner_free(Learner *l)
{
    if (!l) return;
    optim_free(l->opt);
    free(l->dout), free(l->rec_loss), free(l->val_loss), free(l->val_iter);
    free(l);
}

void learner_freeze_to(Learner *l, int n)
{
    int ng = l->opt->n_groups;
    int idx = n >= 0 ? n : ng + n;
    for (int i = 0; i < l->model->n_params; i++) {
        Param *p = &l->model->params[i];
        if (p->kind != PARAM_WEIGHT) continue;
        p->frozen = p->group < idx && !(l->o.train_bn && p->is_norm);
    }
    l->frozen_n = idx;
    optim_clear_state(l->opt);
}

/* ---- one batch ------------------------------------------------------------- */

double learner_train_batch(Learner *l, const Batch *b, Err *err, int *failed)
{
    Model *m = l->model;
    const float *out;
    *failed = 0;
    model_zero_grad(m);
    optim_prepare(l->opt, m, b);   /* the rows b reads are up to date (lazy rows, optim.h) */
    if (m->ops->forward(m, b, MODE_TRAIN, (uint64_t)l->iter, &out, err)) {
        *failed = 1;
        return NAN;
    }
    float loss = l->o.loss(l->o.loss_ctx, l->dout, NULL, out, l->n_out, b);
    if (!isfinite(loss)) return loss;
    m->ops->backward(m, l->dout);
    optim_step(l->opt);
    return loss;
}

int learner_validate(Learner *l, double *vals, Err *err)
{
    Model *m = l->model;
    Metrics *ms = &l->o.metrics;
    metrics_reset(ms);
    if (loaders_begin(l->dls, SPLIT_VALID, l->epoch, err)) return err->code;
    double sum = 0, count = 0;
    Batch *b;
    int r;
    while ((r = loaders_next(l->dls, &b, err)) == 1) {
        const float *out;
        if (m->ops->forward(m, b, MODE_EVAL, 0, &out, err)) return err->code;
        float loss = l->o.loss(l->o.loss_ctx, NULL, NULL, out, l->n_out, b);
        sum += (double)loss * b->n, count += b->n;
        metrics_add(ms, out, l->n_out, b);
        if (l->o.stop && *l->o.stop) break;
    }
    if (r < 0 || (r > 1)) return err->code ? err->code : ERR_RUNTIME;
    vals[0] = count ? sum / count : NAN;
    for (int i = 0; i < ms->n; i++) vals[1 + i] = metrics_value(ms, i);
    return 0;
}

/* ---- recorder ---------------------------------------------------------------- */

static int rec_push(Learner *l, float v)
{
    if (l->n_rec == l->cap_rec) {
        int64_t nc = l->cap_rec ? 2 * l->cap_rec : 1024;
        float *p = realloc(l->rec_loss, sizeof *p * nc);
        if (!p) return -1;
        l->rec_loss = p, l->cap_rec = nc;
    }
    l->rec_loss[l->n_rec++] = v;
    return 0;
}

static int val_push(Learner *l, double v)
{
    if (l->n_val == l->cap_val) {
        int nc = l->cap_val ? 2 * l->cap_val : 64;
        double *p = realloc(l->val_loss, sizeof *p * nc);
        int64_t *q = p ? realloc(l->val_iter, sizeof *q * nc) : NULL;
        if (p) l->val_loss = p;
        if (!q) return -1;
        l->val_iter = q, l->cap_val = nc;
    }
    l->val_loss[l->n_val] = v, l->val_iter[l->n_val] = l->n_rec;
    l->n_val++;
    return 0;
}

static void out_path(const Learner *l, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", l->o.out_dir, name);
}

/* ---- progress -------------------------------------------------------------- */

typedef struct Progress {
    double t0, last;   /* t0: when the bar started (a resumed epoch: at batch `first`) */
    int shown, first;
} Progress;

static void progress_update(Learner *l, Progress *p, const char *what, int done, int total, double loss)
{
    if (l->o.quiet || !l->o.is_tty || !l->o.progress || !l->logging) return;
    double t = now();
    if (done < total && t - p->last < 0.2 && p->shown) return;
    p->last = t, p->shown = 1;
    double el = t - p->t0, eta = done > p->first ? el / (done - p->first) * (total - done) : 0;
    char a[16], b[16];
    format_time(el, a, sizeof a), format_time(eta, b, sizeof b);
    int w = 30, fill = total ? (int)((double)done / total * w) : w;
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '-';
    bar[w] = 0;
    fprintf(l->o.progress, "\r%s |%s| %d/%d %s<%s", what, bar, done, total, a, b);
    if (isfinite(loss)) fprintf(l->o.progress, " loss %.4f", loss);
    fprintf(l->o.progress, "\033[K");
    fflush(l->o.progress);
}

static void progress_clear(Learner *l, Progress *p)
{
    if (p->shown && l->o.progress) {
        fprintf(l->o.progress, "\r\033[K");
        fflush(l->o.progress);
    }
    p->shown = 0;
}

static void say(Learner *l, const char *line)
{
    if (!l->logging) return;
    FILE *f = l->o.json ? l->o.progress : l->o.out;
    if (!f) return;
    fprintf(f, "%s\n", line);
    fflush(f);
}

/* ---- trackers ---------------------------------------------------------------- */

static int tracker_index(const Learner *l, const Tracker *t)
{
    /* recorder.metric_names[1:]: train_loss, valid_loss, metrics...; time excluded */
    for (int i = 1; i < l->table.n - 1; i++)
        if (strcmp(l->table.names[i], t->monitor) == 0) return i - 1;
    return -1;
}

static void tracker_reset(Tracker *t)
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

static int save_model(Learner *l, const char *name, Err *err)
{
    if (!l->o.out_dir || !l->o.ckpt.save) return 0;
    char p[4096];
    out_path(l, name, p, sizeof p);
    return l->o.ckpt.save(l->o.ckpt.ctx, l->model, p, err);
}

/* ---- the fit loop -------------------------------------------------------------- */

static int csv_write_header(Learner *l, Err *err)
{
    if (!l->o.out_dir || l->csv_started) return 0;
    char p[4096], line[1024];
    out_path(l, "metrics.csv", p, sizeof p);
    table_csv_header(&l->table, line, sizeof line);
    char text[1100];
    snprintf(text, sizeof text, "%s\n", line);
    if (atomic_write_file(p, text, strlen(text), err)) return err->code;
    l->csv_started = 1;
    return 0;
}

static int set_hypers_fit(Learner *l, const Stage *st, double *lr_max, Err *err)
{
    int ng = l->opt->n_groups;
    LrSpec spec = st->lr;
    if (spec.kind == LR_NONE) spec = lr_num(l->o.lr);
    if (lr_resolve(&spec, ng, lr_max, err)) return err->code;
    if (st->has_wd) optim_set_wd(l->opt, st->wd);
    optim_set_lr(l->opt, lr_max);
    return 0;
}

/* A stop signal after training batch `batch` of the current epoch (batch =
 * n_batches: during its validation): the resume state as things stand, so
 * that --resume goes on with the next batch (or the validation); returns
 * 128 + the signal.  The lazy optimizer rows are saved pending and only then
 * flushed (optim.h: flushing first would round differently from a run that
 * never stopped).  secs and wait: the epoch's time and data wait so far. */
static int stop_mid_epoch(Learner *l, int batch, double secs, double wait, Err *err)
{
    const int sig = *l->o.stop;
    l->batch = batch, l->epoch_secs = secs, l->epoch_wait = wait;
    int rc = l->o.out_dir && l->logging ? learner_save_state(l, err) : 0;
    optim_flush(l->opt);   /* whoever reads the weights next sees every row up to date */
    if (rc) return err_prefix(err, "train: stopped by signal %d; the resume state could not be written: ", sig);
    if (l->o.out_dir)
        err_set(err, ERR_RUNTIME, "train: stopped by signal %d in epoch %d after batch %d of %d; %s/state.safetensors "
                                  "holds the run up to there: continue with --resume", sig, l->epoch, batch,
                l->n_batches, l->o.out_dir);
    else
        err_set(err, ERR_RUNTIME, "train: stopped by signal %d in epoch %d after batch %d of %d", sig, l->epoch,
                batch, l->n_batches);
    return 128 + sig;
}

/* Test hook (LearnerOpts.pause_after): say so on the progress stream (even
 * with --quiet) and wait, up to a minute, for the stop signal the test sends
 * from outside. */
static void pause_for_test(Learner *l)
{
    if (l->o.progress) {
        fprintf(l->o.progress, "fastc: paused after batch %lld of the run (FASTC_TEST_PAUSE_AFTER)\n",
                (long long)l->iter);
        fflush(l->o.progress);
    }
    for (int k = 0; k < 6000 && !(l->o.stop && *l->o.stop); k++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int run_stage(Learner *l, const Stage *st, int stage_idx, Err *err)
{
    int ng = l->opt->n_groups;
    double lr_max[LR_MAX_LIST > 64 ? LR_MAX_LIST : 64], lr[64], mom;
    FASTC_ASSERT(ng <= 64);
    if (set_hypers_fit(l, st, lr_max, err)) return err->code;
    int nb = loaders_n_batches(l->dls, SPLIT_TRAIN);
    if (l->o.max_batches > 0 && nb > l->o.max_batches) nb = l->o.max_batches;
    if (nb <= 0)
        return err_set(err, ERR_RUNTIME, "train: the training set has no full batch (%d items, bs %d)",
                       loaders_n_items(l->dls, SPLIT_TRAIN), l->dls->bs);
    const int ncol = l->table.n;
    int save_idx = l->o.save.on ? tracker_index(l, &l->o.save) : -1;
    int early_idx = l->o.early.on ? tracker_index(l, &l->o.early) : -1;
    if (l->o.save.on && save_idx < 0)
        return err_set(err, ERR_USAGE, "SaveModelCallback: monitor '%s' is not a column (train_loss, valid_loss "
                                       "or a metric)", l->o.save.monitor);
    if (l->o.early.on && early_idx < 0)
        return err_set(err, ERR_USAGE, "EarlyStoppingCallback: monitor '%s' is not a column (train_loss, "
                                       "valid_loss or a metric)", l->o.early.monitor);
    if (l->batch > 0 && l->n_batches != nb)
        return err_set(err, ERR_USAGE, "resume state: written with %d training batches per epoch; this run has %d "
                                       "(bs or the training set changed?)", l->n_batches, nb);
    if (l->stage_epoch == 0 && l->batch == 0) {
        /* before_fit: smoothed loss and trackers reset (reset_on_fit) */
        smooth_reset(&l->smooth);
        tracker_reset(&l->o.save);
        tracker_reset(&l->o.early);
    }
    if (!l->o.json && l->logging && l->stage_epoch < st->n_epoch) {
        char h[1024];
        table_header(&l->table, h, sizeof h);
        say(l, h);
    }
    int stopped = 0;
    l->n_batches = nb;
    for (int e = l->stage_epoch; e < st->n_epoch && !stopped; e++) {
        /* a resumed epoch starts at l->batch, with the time it had already taken */
        const int first = l->batch;
        double t0 = now() - l->epoch_secs, wait0 = l->dls->wait_s - l->epoch_wait;
        Progress pg = {.t0 = now(), .first = first};
        if (first < nb && loaders_begin_at(l->dls, SPLIT_TRAIN, l->epoch, first, err)) return err->code;
        /* i: the loader's number for the batch in hand (Batch.batch_no), which is
         * the epoch's position for everything keyed by it (the one-cycle position,
         * the progress bar, a stop's resume point).  It can jump over a batch the
         * loader left out (every item unreadable under on_bad_item = skip): no
         * step is taken for that one and the later batches keep their positions. */
        for (int i = first - 1; i + 1 < nb;) {
            Batch *b;
            int r = loaders_next(l->dls, &b, err);
            if (r < 0 || r > 1) {
                optim_flush(l->opt);
                return err->code ? err->code : ERR_RUNTIME;
            }
            if (r == 0) break;
            if (b->batch_no <= i || b->batch_no >= loaders_n_batches(l->dls, SPLIT_TRAIN)) {
                optim_flush(l->opt);
                return err_set(err, ERR_RUNTIME, "train: the loader gave batch %d of epoch %d after batch %d",
                               b->batch_no, l->epoch, i);
            }
            i = b->batch_no;
            if (i >= nb) break;   /* the batches up to the max_batches cap were left out */
            double pos = (double)(e * nb + i) / ((double)st->n_epoch * nb);
            if (st->kind == STAGE_ONE_CYCLE) {
                one_cycle_at(st, lr_max, ng, pos, lr, &mom);
                optim_set_lr(l->opt, lr);
                optim_set_mom(l->opt, mom);
            }
            int failed;
            double loss = learner_train_batch(l, b, err, &failed);
            if (failed || !isfinite(loss)) optim_flush(l->opt);
            if (failed) return err->code;
            if (!isfinite(loss)) {
                progress_clear(l, &pg);
                return err_set(err, ERR_RUNTIME,
                               "train: the loss is %s at epoch %d, batch %d (stage %d); stopped without writing "
                               "a checkpoint (try a lower learning rate)",
                               isnan(loss) ? "NaN" : "infinite", e, i, stage_idx + 1);
            }
            double sm = smooth_add(&l->smooth, loss);
            if (rec_push(l, (float)sm)) {
                optim_flush(l->opt);
                return err_set(err, ERR_RUNTIME, "train: out of memory");
            }
            l->iter++;
            progress_update(l, &pg, "train", i + 1, nb, sm);
            if (l->o.pause_after > 0 && l->iter == l->o.pause_after) pause_for_test(l);
            if (l->o.stop && *l->o.stop) {
                progress_clear(l, &pg);
                return stop_mid_epoch(l, i + 1, now() - t0, l->dls->wait_s - wait0, err);
            }
        }
        optim_flush(l->opt);   /* every lazy row up to date before validation reads them */
        progress_clear(l, &pg);
        double train_wait = l->dls->wait_s - wait0;   /* the training steps' wait for data */
        double train_secs = now() - t0;
        double vals[TABLE_MAX_COLS];
        vals[0] = smooth_value(&l->smooth);
        if (learner_validate(l, vals + 1, err)) return err->code;
        if (l->o.stop && *l->o.stop)   /* the epoch's training is done, its validation starts again */
            return stop_mid_epoch(l, nb, train_secs, train_wait, err);
        if (!isfinite(vals[1]))
            return err_set(err, ERR_RUNTIME,
                           "train: the validation loss is %s at epoch %d (stage %d); stopped without writing a "
                           "checkpoint", isnan(vals[1]) ? "NaN" : "infinite", e, stage_idx + 1);
        double secs = now() - t0;
        memcpy(l->last_values, vals, sizeof(double) * (ncol - 2));
        if (val_push(l, vals[1])) return err_set(err, ERR_RUNTIME, "train: out of memory");
        if (l->logging) {
            char line[2048];
            if (l->o.json) {
                table_json_row(&l->table, e, vals, secs, train_wait, line, sizeof line);
                fprintf(l->o.out, "%s\n", line);
                fflush(l->o.out);
            } else {
                table_row(&l->table, e, vals, secs, line, sizeof line);
                say(l, line);
            }
            if (l->o.out_dir) {
                char p[4096];
                out_path(l, "metrics.csv", p, sizeof p);
                if (csv_write_header(l, err)) return err->code;
                table_csv_row(&l->table, l->epoch, vals, secs, line, sizeof line);
                if (atomic_append_line(p, line, err)) return err->code;
            }
        }
        /* SaveModelCallback.after_epoch */
        Tracker *sv = &l->o.save;
        if (sv->on && l->logging) {
            if (sv->every_epoch) {
                if (e % sv->every_epoch == 0) {
                    char nm[96];
                    snprintf(nm, sizeof nm, "%s_%d.safetensors", sv->fname, e);
                    if (save_model(l, nm, err)) return err->code;
                }
            } else {
                tracker_update(sv, vals[save_idx]);
                if (sv->new_best) {
                    char line[256], num[64];
                    format_pyfloat(sv->best, num, sizeof num);
                    snprintf(line, sizeof line, "Better model found at epoch %d with %s value: %s.", e, sv->monitor,
                             num);
                    say(l, line);
                    char nm[96];
                    snprintf(nm, sizeof nm, "%s.safetensors", sv->fname);
                    if (save_model(l, nm, err)) return err->code;
                }
            }
        }
        /* EarlyStoppingCallback.after_epoch */
        Tracker *es = &l->o.early;
        if (es->on && l->logging) {
            tracker_update(es, vals[early_idx]);
            if (es->new_best) es->wait = 0;
            else if (++es->wait >= es->patience) {
                char line[128];
                snprintf(line, sizeof line, "No improvement since epoch %d: early stopping", e - es->wait);
                say(l, line);
                stopped = 1;
            }
        }
        l->epoch++;
        l->stage_epoch = e + 1;
        l->batch = 0, l->epoch_secs = 0, l->epoch_wait = 0;
        if (stopped) l->stage_epoch = st->n_epoch;   /* CancelFitException: this fit is over */
        if (l->o.out_dir && l->logging) {
            if (learner_plot_losses(l, err)) return err->code;
            if (learner_save_state(l, err)) return err->code;
        }
    }
    /* SaveModelCallback.after_fit */
    Tracker *sv = &l->o.save;
    if (sv->on && l->logging && l->o.out_dir && st->n_epoch > 0) {
        char nm[96], p[4096];
        snprintf(nm, sizeof nm, "%s.safetensors", sv->fname);
        if (sv->at_end) {
            if (save_model(l, nm, err)) return err->code;
        } else if (!sv->every_epoch && l->o.ckpt.load) {
            out_path(l, nm, p, sizeof p);
            if (l->o.ckpt.load(l->o.ckpt.ctx, l->model, p, err)) return err->code;
        }
    }
    return 0;
}

int learner_fit_schedule(Learner *l, const Schedule *s, Err *err)
{
    l->total_epochs = schedule_total_epochs(s);
    for (; l->stage < s->n; l->stage++) {
        const Stage *st = &s->stages[l->stage];
        if (st->kind == STAGE_FREEZE_TO) {
            learner_freeze_to(l, st->freeze_n);
            l->stage_epoch = 0;
            continue;
        }
        int r = run_stage(l, st, l->stage, err);
        if (r) return r;
        l->stage_epoch = 0;
    }
    return 0;
}

/* ---- resume state ---------------------------------------------------------------
 * state.safetensors (io/state.h): the model's params as "model.<name>", Adam
 * moments "opt.avg.<name>" / "opt.sqr.<name>", per-param step counters and
 * frozen flags, the per-group hypers as exact double bit patterns, the
 * recorder's per-batch losses, and the loop position as metadata. */

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

int learner_save_state(Learner *l, Err *err)
{
    if (!l->o.out_dir) return 0;
    char p[4096], name[300], seed[32];
    out_path(l, "state.safetensors", p, sizeof p);
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
    StateWriter *w = state_writer_new(m);
    uint64_t *steps = malloc(sizeof(uint64_t) * (np + 1)), *frozen = malloc(sizeof(uint64_t) * (np + 1));
    uint64_t *hyp = malloc(sizeof(uint64_t) * ng * 5), *vl = malloc(sizeof(uint64_t) * (l->n_val + 1));
    uint64_t *vi = malloc(sizeof(uint64_t) * (l->n_val + 1)), *dn = malloc(sizeof(uint64_t) * (n_done + 1)), *d = dn;
    float sval = l->smooth.val;
    if (!w || !steps || !frozen || !hyp || !vl || !vi || !dn) {
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
    if ((rc = state_put_params(w, "model.", m->params, np, err))) goto done;
    for (int i = 0; i < np && !rc; i++) {
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
        if (rc || !n_log) continue;
        snprintf(name, sizeof name, "opt.lazy_n.%s", m->params[i].name);
        if (state_set_int(w, name, n_log)) {
            rc = err_set(err, ERR_RUNTIME, "%s: out of memory", p);
            break;
        }
        _Static_assert(sizeof(OptRowStep) == OPT_ROW_STEP_FLOATS * sizeof(float), "OptRowStep is floats only");
        opt_name(o, m, i, "lazy_log", name, sizeof name);
        if ((rc = state_put_f32(w, name, (const float *)log, (size_t)n_log * OPT_ROW_STEP_FLOATS, err))) break;
        for (int64_t r = 0; r < n_rows; r++) d[r] = (uint64_t)done[r];
        opt_name(o, m, i, "lazy_done", name, sizeof name);
        rc = state_put_u64(w, name, d, (size_t)n_rows, err);
        d += n_rows;
    }
    if (rc || (rc = state_put_u64(w, "opt.step", steps, np, err)) ||
        (rc = state_put_u64(w, "frozen", frozen, np, err)) || (rc = state_put_u64(w, "opt.hyper", hyp, 5 * ng, err)) ||
        (rc = state_put_f32(w, "smooth.val", &sval, 1, err)))
        goto done;
    if (l->n_rec && (rc = state_put_f32(w, "rec.loss", l->rec_loss, l->n_rec, err))) goto done;
    if (l->n_val && ((rc = state_put_u64(w, "rec.valid_loss", vl, l->n_val, err)) ||
                     (rc = state_put_u64(w, "rec.valid_iter", vi, l->n_val, err))))
        goto done;
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)l->o.seed);
    if (state_set(w, "seed", seed) || state_set_int(w, "stage", l->stage) ||
        state_set_int(w, "stage_epoch", l->stage_epoch) || state_set_int(w, "epoch", l->epoch) ||
        state_set_int(w, "batch", l->batch) || state_set_int(w, "n_batches", l->n_batches) ||
        state_set_double(w, "epoch_secs", l->epoch_secs) || state_set_double(w, "epoch_wait", l->epoch_wait) ||
        state_set_int(w, "iter", l->iter) || state_set_int(w, "frozen_n", l->frozen_n) ||
        state_set_int(w, "smooth.count", l->smooth.count) || state_set_int(w, "csv_started", l->csv_started) ||
        state_set_int(w, "n_groups", ng) || state_set_double(w, "save.best", l->o.save.best) ||
        state_set_int(w, "save.wait", l->o.save.wait) || state_set_double(w, "early.best", l->o.early.best) ||
        state_set_int(w, "early.wait", l->o.early.wait) || state_set_int(w, "n_epochs_total", l->total_epochs) ||
        state_set_int(w, "rec.n", l->n_rec)) {
        rc = err_set(err, ERR_RUNTIME, "%s: out of memory", p);
        goto done;
    }
    rc = state_write(w, p, err);
done:
    state_writer_free(w);
    free(steps), free(frozen), free(hyp), free(vl), free(vi), free(dn);
    return rc;
}

/* metrics.csv keeps its header and the rows of the epochs the state holds: a
 * row appended after the last state was written (a kill in between) goes. */
static int csv_truncate(Learner *l, Err *err)
{
    char p[4096];
    out_path(l, "metrics.csv", p, sizeof p);
    FILE *f = fopen(p, "rb");
    if (!f) {
        l->csv_started = 0;
        return 0;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, keep = 0;
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF) {
        if (len + 1 >= cap) {
            cap = cap ? 2 * cap : 4096;
            char *t = realloc(text, cap);
            if (!t) {
                fclose(f), free(text);
                return err_set(err, ERR_RUNTIME, "%s: out of memory", p);
            }
            text = t;
        }
        text[len++] = (char)c;
        if (c == '\n' && ++lines <= l->epoch + 1) keep = len;
    }
    fclose(f);
    int rc = 0;
    if (keep < len) rc = atomic_write_file(p, text, keep, err);
    if (lines == 0) l->csv_started = 0;
    free(text);
    return rc;
}

static int get_int(const StateFile *f, const char *key, long long lo, long long hi, long long *out, Err *err)
{
    if (state_get_int(f, key, out, err)) return err->code;
    if (*out < lo || *out > hi) return err_set(err, ERR_RUNTIME, "resume state: %s = %lld is out of range", key, *out);
    return 0;
}

/* The pending lazy-row steps of param i (a state written mid-epoch), after
 * its weights and moments are loaded; none in the state: nothing pending. */
static int load_lazy_log(const StateFile *f, Optimizer *o, const Model *m, int i, const char *path, Err *err)
{
    char key[300];
    snprintf(key, sizeof key, "opt.lazy_n.%s", m->params[i].name);
    if (!state_get(f, key)) return 0;
    int n_log;
    const int32_t *cur;
    int64_t n_rows;
    optim_lazy_log(o, i, &n_log, &cur, &n_rows);
    long long n;
    if (!n_rows) return err_set(err, ERR_USAGE, "%s: the optimizer in the state differs from the config's (%s)", path,
                                m->params[i].name);
    if (get_int(f, key, 1, OPTIM_LOG_CAP, &n, err)) return err->code;
    OptRowStep *log = malloc(sizeof *log * (size_t)n);
    uint64_t *d = malloc(sizeof *d * (size_t)n_rows);
    int32_t *done = malloc(sizeof *done * (size_t)n_rows);
    int rc = !log || !d || !done ? err_set(err, ERR_RUNTIME, "%s: out of memory", path) : 0;
    if (!rc) {
        opt_name(o, m, i, "lazy_log", key, sizeof key);
        rc = state_get_f32(f, key, (float *)log, (size_t)n * OPT_ROW_STEP_FLOATS, err);
    }
    if (!rc) {
        opt_name(o, m, i, "lazy_done", key, sizeof key);
        rc = state_get_u64(f, key, d, (size_t)n_rows, err);
    }
    for (int64_t r = 0; !rc && r < n_rows; r++) done[r] = d[r] > (uint64_t)n ? -1 : (int32_t)d[r];
    if (!rc && optim_lazy_restore(o, i, log, (int)n, done))
        rc = err_set(err, ERR_RUNTIME, "%s: the pending optimizer steps of %s are inconsistent", path,
                     m->params[i].name);
    free(log), free(d), free(done);
    return rc;
}

int learner_resume(Learner *l, const Schedule *s, Err *err)
{
    if (!l->o.out_dir) return 1;
    char p[4096], name[256], seed[32];
    out_path(l, "state.safetensors", p, sizeof p);
    if (access(p, F_OK) != 0) return 1;
    Model *m = l->model;
    Optimizer *o = l->opt;
    int np = m->n_params, ng = o->n_groups;
    StateFile *f;
    l->total_epochs = schedule_total_epochs(s);
    if (state_open(p, m, &f, err)) return err->code;
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)l->o.seed);
    long long stage, stage_epoch, epoch, iter, frozen_n, count, csv, ngs, save_wait, early_wait, total, batch, n_batches;
    double save_best, early_best, epoch_secs, epoch_wait;
    int rc = 0;
    if ((rc = state_require(f, "seed", seed, err)) || (rc = get_int(f, "n_groups", ng, ng, &ngs, err)) ||
        (rc = get_int(f, "n_epochs_total", l->total_epochs, l->total_epochs, &total, err)) ||
        (rc = get_int(f, "stage", 0, s->n - 1, &stage, err)) ||
        (rc = get_int(f, "stage_epoch", 0, 1000000, &stage_epoch, err)) ||
        (rc = get_int(f, "epoch", 0, 1000000, &epoch, err)) || (rc = get_int(f, "iter", 0, INT64_MAX, &iter, err)) ||
        (rc = get_int(f, "frozen_n", -1000, 1000, &frozen_n, err)) ||
        (rc = get_int(f, "smooth.count", 0, INT32_MAX, &count, err)) ||
        (rc = get_int(f, "csv_started", 0, 1, &csv, err)) || (rc = get_int(f, "save.wait", 0, 1 << 30, &save_wait, err)) ||
        (rc = get_int(f, "early.wait", 0, 1 << 30, &early_wait, err)) ||
        (rc = state_get_double(f, "save.best", &save_best, err)) ||
        (rc = state_get_double(f, "early.best", &early_best, err)) ||
        (rc = get_int(f, "n_batches", 0, 1 << 30, &n_batches, err)) ||
        (rc = get_int(f, "batch", 0, n_batches, &batch, err)) ||
        (rc = state_get_double(f, "epoch_secs", &epoch_secs, err)) ||
        (rc = state_get_double(f, "epoch_wait", &epoch_wait, err))) {
        if (rc == ERR_RUNTIME && strstr(err->msg, "written with"))
            err_prefix(err, "the config changed since the run started: ");
        goto done;
    }
    if (s->stages[stage].kind != STAGE_FREEZE_TO &&
        (stage_epoch > s->stages[stage].n_epoch || (batch > 0 && stage_epoch == s->stages[stage].n_epoch))) {
        rc = err_set(err, ERR_USAGE, "%s: the state is at stage %lld epoch %lld, which this schedule does not have", p,
                     stage + 1, stage_epoch);
        goto done;
    }
    /* everything present before anything changes */
    for (int i = 0; i < np; i++) {
        opt_name(o, m, i, "avg", name, sizeof name);
        int ha = state_has(f, name);
        opt_name(o, m, i, "sqr", name, sizeof name);
        int hs = state_has(f, name);
        if (ha != (o->grad_avg[i] != NULL) || hs != (o->sqr_avg[i] != NULL)) {
            rc = err_set(err, ERR_USAGE, "%s: the optimizer in the state differs from the config's (%s)", p,
                         m->params[i].name);
            goto done;
        }
    }
    /* replay the freeze stages before the saved position (they clear the optimizer) */
    for (int i = 0; i < stage; i++)
        if (s->stages[i].kind == STAGE_FREEZE_TO) learner_freeze_to(l, s->stages[i].freeze_n);
    uint64_t *u = malloc(sizeof(uint64_t) * (np + 5 * ng + 1));
    if (!u) {
        rc = err_set(err, ERR_RUNTIME, "out of memory");
        goto done;
    }
    optim_flush(o);   /* nothing pending may be replayed onto the loaded state */
    if ((rc = state_get_params(f, "model.", m->params, np, err))) goto freeu;
    for (int i = 0; i < np && !rc; i++) {
        if (o->grad_avg[i]) {
            opt_name(o, m, i, "avg", name, sizeof name);
            rc = state_get_f32(f, name, o->grad_avg[i], m->params[i].n, err);
        }
        if (!rc && o->sqr_avg[i]) {
            opt_name(o, m, i, "sqr", name, sizeof name);
            rc = state_get_f32(f, name, o->sqr_avg[i], m->params[i].n, err);
        }
        if (!rc) rc = load_lazy_log(f, o, m, i, p, err);
    }
    if (rc || (rc = state_get_u64(f, "opt.step", u, np, err))) goto freeu;
    for (int i = 0; i < np; i++) o->step[i] = (int64_t)u[i];
    if ((rc = state_get_u64(f, "frozen", u, np, err))) goto freeu;
    for (int i = 0; i < np; i++)
        if (m->params[i].kind == PARAM_WEIGHT) m->params[i].frozen = u[i] != 0;
    if ((rc = state_get_u64(f, "opt.hyper", u, 5 * ng, err))) goto freeu;
    for (int g = 0; g < ng; g++) {
        OptHyper *h = &o->hyper[g];
        h->lr = bitsd(u[5 * g]), h->mom = bitsd(u[5 * g + 1]), h->sqr_mom = bitsd(u[5 * g + 2]);
        h->eps = bitsd(u[5 * g + 3]), h->wd = bitsd(u[5 * g + 4]);
    }
    float sval;
    if ((rc = state_get_f32(f, "smooth.val", &sval, 1, err))) goto freeu;
    /* recorder */
    l->n_rec = 0, l->n_val = 0;
    if (state_has(f, "rec.loss")) {
        long long n;
        if ((rc = get_int(f, "rec.n", 1, INT64_MAX, &n, err))) goto freeu;
        float *tmp = malloc(sizeof(float) * (n ? n : 1));
        if (!tmp || (rc = state_get_f32(f, "rec.loss", tmp, (size_t)n, err))) {
            if (!tmp) rc = err_set(err, ERR_RUNTIME, "out of memory");
            free(tmp);
            goto freeu;
        }
        for (long long i = 0; i < n; i++) rec_push(l, tmp[i]);
        free(tmp);
    }
    if (state_has(f, "rec.valid_loss")) {
        uint64_t *a = malloc(sizeof(uint64_t) * (epoch + 1)), *b = malloc(sizeof(uint64_t) * (epoch + 1));
        if (!a || !b || (rc = state_get_u64(f, "rec.valid_loss", a, epoch, err)) ||
            (rc = state_get_u64(f, "rec.valid_iter", b, epoch, err))) {
            if (!rc) rc = err_set(err, ERR_RUNTIME, "out of memory");
            free(a), free(b);
            goto freeu;
        }
        for (long long i = 0; i < epoch; i++) {
            int64_t keep = l->n_rec;
            l->n_rec = (int64_t)b[i];
            val_push(l, bitsd(a[i]));
            l->n_rec = keep;
        }
        free(a), free(b);
    }
    l->stage = (int)stage, l->stage_epoch = (int)stage_epoch, l->epoch = (int)epoch, l->iter = iter;
    l->batch = (int)batch, l->n_batches = (int)n_batches, l->epoch_secs = epoch_secs, l->epoch_wait = epoch_wait;
    l->frozen_n = (int)frozen_n, l->smooth.val = sval, l->smooth.count = (int)count, l->csv_started = (int)csv;
    l->o.save.best = save_best, l->o.save.wait = (int)save_wait;
    l->o.early.best = early_best, l->o.early.wait = (int)early_wait;
    rc = csv_truncate(l, err);
freeu:
    free(u);
done:
    state_close(f);
    return rc;
}

/* ---- in-memory snapshot (lr_find) ---------------------------------------------- */

struct LearnerSnap {
    float *w;          /* every param's values, in order */
    float *opt_state;
    int64_t *step;
    OptHyper *hyper;
    size_t n_w;
};

LearnerSnap *learner_snapshot(const Learner *l)
{
    LearnerSnap *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    for (int i = 0; i < l->model->n_params; i++) s->n_w += l->model->params[i].n;
    s->w = malloc(sizeof(float) * (s->n_w ? s->n_w : 1));
    s->opt_state = malloc(sizeof(float) * (l->opt->state_n ? l->opt->state_n : 1));
    s->step = malloc(sizeof(int64_t) * (l->model->n_params ? l->model->n_params : 1));
    s->hyper = malloc(sizeof(OptHyper) * l->opt->n_groups);
    if (!s->w || !s->opt_state || !s->step || !s->hyper) {
        learner_snap_free(s);
        return NULL;
    }
    size_t off = 0;
    for (int i = 0; i < l->model->n_params; i++) {
        memcpy(s->w + off, l->model->params[i].w, sizeof(float) * l->model->params[i].n);
        off += l->model->params[i].n;
    }
    memcpy(s->opt_state, l->opt->state, sizeof(float) * l->opt->state_n);
    memcpy(s->step, l->opt->step, sizeof(int64_t) * l->model->n_params);
    memcpy(s->hyper, l->opt->hyper, sizeof(OptHyper) * l->opt->n_groups);
    return s;
}

void learner_restore(Learner *l, const LearnerSnap *s)
{
    optim_flush(l->opt);   /* no pending lazy rows may outlive the state they were logged against */
    size_t off = 0;
    for (int i = 0; i < l->model->n_params; i++) {
        memcpy(l->model->params[i].w, s->w + off, sizeof(float) * l->model->params[i].n);
        off += l->model->params[i].n;
    }
    memcpy(l->opt->state, s->opt_state, sizeof(float) * l->opt->state_n);
    memcpy(l->opt->step, s->step, sizeof(int64_t) * l->model->n_params);
    memcpy(l->opt->hyper, s->hyper, sizeof(OptHyper) * l->opt->n_groups);
}

void learner_snap_free(LearnerSnap *s)
{
    if (!s) return;
    free(s->w), free(s->opt_state), free(s->step), free(s->hyper);
    free(s);
}

int learner_plot_losses(Learner *l, Err *err)
{
    /* fastai's recorder.plot_loss(): the smoothed train loss per batch and the
     * valid loss at the batch count where each epoch ended */
    if (!l->o.out_dir || l->n_rec == 0) return 0;
    double *x = malloc(sizeof(double) * l->n_rec), *y = malloc(sizeof(double) * l->n_rec);
    double *vx = malloc(sizeof(double) * (l->n_val + 1)), *vy = malloc(sizeof(double) * (l->n_val + 1));
    int rc = 0;
    if (!x || !y || !vx || !vy) {
        rc = err_set(err, ERR_RUNTIME, "losses.png: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < l->n_rec; i++) x[i] = (double)i, y[i] = l->rec_loss[i];
    for (int i = 0; i < l->n_val; i++) vx[i] = (double)l->val_iter[i] - 1, vy[i] = l->val_loss[i];
    PlotSeries s[2] = {
        {.label = "train", .x = x, .y = y, .n = (int)l->n_rec, .color = plot_color(0), .style = PLOT_LINE},
        {.label = "valid", .x = vx, .y = vy, .n = l->n_val, .color = plot_color(1), .style = PLOT_LINE | PLOT_POINTS},
    };
    LinePlot lp = {.title = "Loss", .xlabel = "batches", .ylabel = "loss", .series = s, .n_series = l->n_val ? 2 : 1};
    char p[4096];
    out_path(l, "losses.png", p, sizeof p);
    rc = plot_lines(&lp, p, err);
done:
    free(x), free(y), free(vx), free(vy);
    return rc;
}

/* ---- lr_find (fastai Learner.lr_find, §2) ------------------------------------ */

int learner_lr_find(Learner *l, double start_lr, double end_lr, int num_it, int stop_div, LrFindResult *res, Err *err)
{
    memset(res, 0, sizeof *res);
    int nb = loaders_n_batches(l->dls, SPLIT_TRAIN);
    if (l->o.max_batches > 0 && nb > l->o.max_batches) nb = l->o.max_batches;
    if (nb <= 0)
        return err_set(err, ERR_RUNTIME, "lr_find: the training set has no full batch (%d items, bs %d)",
                       loaders_n_items(l->dls, SPLIT_TRAIN), l->dls->bs);
    res->lrs = malloc(sizeof(double) * num_it);
    res->losses = malloc(sizeof(double) * num_it);
    LearnerSnap *snap = learner_snapshot(l);
    if (!res->lrs || !res->losses || !snap) {
        learner_snap_free(snap);
        lr_find_result_free(res);
        return err_set(err, ERR_RUNTIME, "lr_find: out of memory");
    }
    int n_epoch = num_it / nb + 1, it = 0, rc = 0, done = 0;
    double best = INFINITY, lrs[64];
    SmoothLoss sm;
    smooth_reset(&sm);
    int ng = l->opt->n_groups;
    for (int e = 0; e < n_epoch && !done; e++) {
        if ((rc = loaders_begin(l->dls, SPLIT_TRAIN, e, err))) break;
        for (int i = 0; i < nb && !done; i++) {
            Batch *b;
            int r = loaders_next(l->dls, &b, err);
            if (r != 1) {
                if (r != 0) rc = err->code ? err->code : ERR_RUNTIME;
                break;
            }
            double lr = lr_find_lr(start_lr, end_lr, num_it, it);
            for (int g = 0; g < ng; g++) lrs[g] = lr;
            optim_set_lr(l->opt, lrs);
            int failed;
            double loss = learner_train_batch(l, b, err, &failed);
            if (failed) {
                rc = err->code;
                done = 1;
                break;
            }
            double s = smooth_add(&sm, loss);   /* NaN propagates: fastai truncates before it */
            res->lrs[it] = lr, res->losses[it] = s;
            it++;
            l->iter++;
            if (s < best) best = s;
            if ((stop_div && (s > 4 * best || !isfinite(s))) || it >= num_it) done = 1;
            if (l->o.stop && *l->o.stop) {
                rc = err_set(err, ERR_RUNTIME, "lr_find: stopped by signal %d", (int)*l->o.stop);
                rc = 128 + *l->o.stop;
                done = 1;
            }
            if (l->o.progress && l->o.is_tty && !l->o.quiet) {
                fprintf(l->o.progress, "\rlr_find %d/%d lr %.3g loss %.4f\033[K", it, num_it, lr, s);
                fflush(l->o.progress);
            }
        }
    }
    if (l->o.progress && l->o.is_tty && !l->o.quiet) {
        fprintf(l->o.progress, "\r\033[K");
        fflush(l->o.progress);
    }
    learner_restore(l, snap);
    learner_snap_free(snap);
    model_zero_grad(l->model);
    res->n = it;
    if (rc) {
        lr_find_result_free(res);
        return rc;
    }
    if ((rc = lr_suggest(res->lrs, res->losses, res->n, num_it, &res->sug, err))) {
        lr_find_result_free(res);
        return rc;
    }
    return 0;
}
