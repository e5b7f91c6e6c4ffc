/* learner.c — the fit loop, one training step, validation, the recorder,
 * lr_find.  See learner.h; the callbacks are in callbacks.c, the resume
 * state in resume.c.  FASTAI_REFERENCE.md §1 (Learner, Recorder) and §3. */
#include "learn/learner.h"

#include "dist/dist.h"
#include "io/json.h"
#include "io/plot.h"
#include "learn/lr_find.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    l->table.no_valid = loaders_n_items(dls, SPLIT_VALID) == 0;
    l->logging = 1;
    if (o->dist && o->dist->size > 1) {   /* data-parallel: rank 0 alone writes and prints */
        if (dls->bs < o->dist->size) {
            err_set(err, ERR_USAGE, "[data] bs: %d is less than the %d processes of mpirun: [data] bs is the global "
                                    "batch, and every process needs at least one item of it", dls->bs, o->dist->size);
            learner_free(l);
            return NULL;
        }
        l->logging = o->dist->rank == 0;
        if (!(l->grads = dist_grads_new(o->dist, m, DIST_BUCKET_BYTES, err))) {
            learner_free(l);
            return NULL;
        }
    }
    return l;
}

void learner_free(Learner *l)
{
    if (!l) return;
    optim_free(l->opt);
    dist_grads_free(l->grads);
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

/* The data-parallel step (dist/dist.h): this rank's share b of a global
 * batch of l->dls->bs items.  dL/dout is scaled by n_r / B so that the sum
 * over ranks is the global batch's mean-loss gradient; the backward runs even
 * on a non-finite loss (the other ranks wait for this rank's gradients: the
 * summed loss is then non-finite on every rank and none takes a step); an
 * empty share (items left out as unreadable) sends zeros.  The summed loss,
 * item count and stop requests come back the same on every rank. */
static double dist_train_batch(Learner *l, const Batch *b, Err *err, int *failed)
{
    Model *m = l->model;
    const Dist *d = l->o.dist;
    if (dist_grads_begin(l->grads, b, err)) return *failed = 1, NAN;
    optim_prepare_rows(l->opt, dist_grads_rows, l->grads);   /* the global batch's rows: every rank alike */
    double loss = 0;
    if (b->n > 0) {
        const float *out;
        /* dropout keyed by the step and the rank: the ranks' items draw apart */
        if (m->ops->forward(m, b, MODE_TRAIN, (uint64_t)l->iter * (uint64_t)d->size + (uint64_t)d->rank, &out, err))
            return *failed = 1, NAN;
        loss = l->o.loss(l->o.loss_ctx, l->dout, NULL, out, l->n_out, b);
        const float k = (float)b->n / (float)l->dls->bs;
        for (size_t i = 0; i < (size_t)b->n * l->n_out; i++) l->dout[i] *= k;
        m->ops->backward(m, l->dout);
    }
    DistStep st = {.n = b->n, .loss_sum = b->n > 0 ? loss * b->n : 0, .stop = l->o.stop && *l->o.stop};
    if (dist_grads_end(l->grads, l->dls->bs, &st, err)) return *failed = 1, NAN;
    l->dist_stop = st.stop > 0;
    if (st.n == 0) return *failed = 2, NAN;   /* no item anywhere: no step, as one process leaves it out */
    loss = st.loss_sum / st.n;
    if (!isfinite(loss)) return loss;
    optim_step(l->opt);
    return loss;
}

double learner_train_batch(Learner *l, const Batch *b, Err *err, int *failed)
{
    Model *m = l->model;
    const float *out;
    *failed = 0;
    model_zero_grad(m);
    if (l->grads) return dist_train_batch(l, b, err, failed);
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

/* Data-parallel validation: every rank's sums added up in rank order (the
 * same bits everywhere; counts exact), and a stop on any rank is everyone's. */
static int dist_validation_sums(Learner *l, double *sum, double *count, Err *err)
{
    Metrics *ms = &l->o.metrics;
    double v[3 + 2 * METRICS_MAX];
    int n = 0;
    v[n++] = *sum, v[n++] = *count, v[n++] = l->o.stop && *l->o.stop;
    for (int i = 0; i < ms->n; i++) v[n++] = ms->m[i].sum, v[n++] = ms->m[i].count;
    if (dist_sum(l->o.dist, v, n, err)) return err->code;
    n = 0;
    *sum = v[n++], *count = v[n++], l->dist_stop = v[n++] > 0;
    for (int i = 0; i < ms->n; i++) ms->m[i].sum = v[n++], ms->m[i].count = v[n++];
    return 0;
}

int learner_validate(Learner *l, double *vals, Err *err)
{
    Model *m = l->model;
    Metrics *ms = &l->o.metrics;
    metrics_reset(ms);
    if (l->table.no_valid) {   /* no validation set: no values */
        for (int i = 0; i <= ms->n; i++) vals[i] = NAN;
        return 0;
    }
    /* rank 0's BatchNorm statistics are the model's (learner.h) */
    if (l->grads && dist_bcast_buffers(l->o.dist, m, err)) return err->code;
    if (loaders_begin(l->dls, SPLIT_VALID, l->epoch, err)) return err->code;
    double sum = 0, count = 0;
    Batch *b;
    int r;
    while ((r = loaders_next(l->dls, &b, err)) == 1) {
        const float *out;
        if (b->n == 0) continue;   /* a rank's empty share of a short batch */
        if (m->ops->forward(m, b, MODE_EVAL, 0, &out, err)) return err->code;
        float loss = l->o.loss(l->o.loss_ctx, NULL, NULL, out, l->n_out, b);
        sum += (double)loss * b->n, count += b->n;
        metrics_add(ms, out, l->n_out, b);
        if (l->o.stop && *l->o.stop) break;
    }
    if (r < 0 || (r > 1)) return err->code ? err->code : ERR_RUNTIME;
    /* The epoch's validation sums are complete here (sum, count, and each
     * metric's Metric.sum and .count): the one place to add them up across
     * processes (data-parallel) before the values are formed. */
    if (l->grads && dist_validation_sums(l, &sum, &count, err)) return err->code;
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

void learner_out_path(const Learner *l, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", l->o.out_dir, name);
}

/* ---- the fit loop (fastai's Learner.fit) ------------------------------------------------ */

/* A stop signal after training batch `batch` of the current epoch (batch =
 * n_batches: during its validation): the resume state as things stand, so
 * that --resume goes on with the next batch (or the validation); returns
 * 128 + the signal.  The lazy optimizer rows are saved pending and only then
 * flushed (optim.h: flushing first would round differently from a run that
 * never stopped).  secs and wait: the epoch's time and data wait so far. */
static int stop_mid_epoch(Learner *l, int batch, double secs, double wait, Err *err)
{
    /* (data-parallel: a rank that got no signal itself stops as mpirun's SIGTERM asks) */
    const int sig = *l->o.stop ? *l->o.stop : SIGTERM;
    l->batch = batch, l->epoch_secs = secs, l->epoch_wait = wait;
    int rc = l->o.out_dir && l->logging ? learner_save_state(l, err) : 0;
    optim_flush(l->opt);   /* whoever reads the weights next sees every row up to date */
    if (rc) return err_prefix(err, "train: stopped by signal %d; the resume state could not be written: ", sig);
    if (l->grads && !l->logging)   /* data-parallel: rank 0 wrote the state and says where */
        err_set(err, ERR_RUNTIME, "train: rank %d stopped with the others (signal %d) in epoch %d after batch %d of %d",
                l->o.dist->rank, sig, l->epoch, batch, l->n_batches);
    else if (l->o.out_dir)
        err_set(err, ERR_RUNTIME, "train: stopped by signal %d in epoch %d after batch %d of %d; %s/state.safetensors "
                                  "holds the run up to there: continue with --resume", sig, l->epoch, batch,
                l->n_batches, l->o.out_dir);
    else
        err_set(err, ERR_RUNTIME, "train: stopped by signal %d in epoch %d after batch %d of %d", sig, l->epoch,
                batch, l->n_batches);
    return 128 + sig;
}

/* A stop signal (data-parallel: one that every rank has agreed on). */
static int stop_requested(const Learner *l) { return l->grads ? l->dist_stop : l->o.stop && *l->o.stop; }

/* The next training batch after number *i into *b (NULL: the epoch is over),
 * checked against the loader's promise: numbers increase and stay in the epoch. */
static int next_train_batch(Learner *l, Batch **b, int *i, Err *err)
{
    int r = loaders_next(l->dls, b, err);
    if (r < 0 || r > 1) return err->code ? err->code : ERR_RUNTIME;
    if (r == 0) {
        *b = NULL;
        return 0;
    }
    if ((*b)->batch_no <= *i || (*b)->batch_no >= loaders_n_batches(l->dls, SPLIT_TRAIN))
        return err_set(err, ERR_RUNTIME, "train: the loader gave batch %d of epoch %d after batch %d", (*b)->batch_no,
                       l->epoch, *i);
    *i = (*b)->batch_no;
    return 0;
}

/* The training part of an epoch: its batches from l->batch on (0, or where a
 * stop left a resumed epoch), each with the before_batch hooks (the scheduled
 * lr and momentum), one step, the smoothed loss and the after_batch hooks.
 * ev->batch is the loader's number for the batch in hand (Batch.batch_no), the
 * epoch's position for everything keyed by it (the one-cycle position, the
 * progress bar, a stop's resume point); it can jump over a batch the loader
 * left out (every item unreadable under on_bad_item = skip): no step is taken
 * for that one and the later batches keep their positions.  A stop signal
 * ends the epoch after the batch running (stop_mid_epoch). */
static int train_epoch(Learner *l, Callbacks *cbs, FitEvent *ev, double t0, double wait0, Err *err)
{
    const int nb = ev->n_batches, first = l->batch;
    int rc = first < nb ? loaders_begin_at(l->dls, SPLIT_TRAIN, l->epoch, first, err) : 0;
    for (int i = first - 1; !rc && i + 1 < nb;) {
        Batch *b;
        if ((rc = next_train_batch(l, &b, &i, err)) || !b || i >= nb) break;   /* i >= nb: past max_batches */
        ev->batch = i;
        if ((rc = callbacks_run(cbs, CB_BEFORE_BATCH, l, ev, err))) break;
        int failed;
        double loss = learner_train_batch(l, b, err, &failed);
        if (failed == 2 && !stop_requested(l)) continue;   /* data-parallel: every share left out, no step */
        if (failed == 2) {
            callbacks_run(cbs, CB_AFTER_TRAIN, l, ev, err);
            return stop_mid_epoch(l, i + 1, now() - t0, l->dls->wait_s - wait0, err);
        }
        if (failed) {
            rc = err->code;
            break;
        }
        if (!isfinite(loss)) {
            rc = err_set(err, ERR_RUNTIME, "train: the loss is %s at epoch %d, batch %d (stage %d); stopped without "
                         "writing a checkpoint (try a lower learning rate)", isnan(loss) ? "NaN" : "infinite",
                         ev->epoch, i, ev->stage_idx + 1);
            break;
        }
        ev->loss = smooth_add(&l->smooth, loss);
        if (rec_push(l, (float)ev->loss)) {
            rc = err_set(err, ERR_RUNTIME, "train: out of memory");
            break;
        }
        l->iter++;
        if ((rc = callbacks_run(cbs, CB_AFTER_BATCH, l, ev, err))) break;
        if (stop_requested(l)) {
            callbacks_run(cbs, CB_AFTER_TRAIN, l, ev, err);
            return stop_mid_epoch(l, i + 1, now() - t0, l->dls->wait_s - wait0, err);
        }
    }
    optim_flush(l->opt);   /* every lazy row up to date before anything else reads them */
    int rc2 = callbacks_run(cbs, CB_AFTER_TRAIN, l, ev, err);
    return rc ? rc : rc2;
}

/* The epoch's values (FitEvent.vals): the smoothed training loss, then the
 * validation loss and metrics (fastai's validate), and its time.  A stop
 * during validation ends the epoch with its training done: the validation
 * runs again on resume. */
static int validate_epoch(Learner *l, FitEvent *ev, double *vals, double t0, double wait0, Err *err)
{
    ev->train_wait = l->dls->wait_s - wait0;   /* the training steps' wait for data */
    double train_secs = now() - t0;
    vals[0] = smooth_value(&l->smooth);
    if (learner_validate(l, vals + 1, err)) return err->code;
    if (stop_requested(l)) return stop_mid_epoch(l, ev->n_batches, train_secs, ev->train_wait, err);
    if (!l->table.no_valid && !isfinite(vals[1]))
        return err_set(err, ERR_RUNTIME, "train: the validation loss is %s at epoch %d (stage %d); stopped without "
                       "writing a checkpoint", isnan(vals[1]) ? "NaN" : "infinite", ev->epoch, ev->stage_idx + 1);
    ev->secs = now() - t0;
    ev->vals = vals;
    if (!l->table.no_valid && val_push(l, vals[1])) return err_set(err, ERR_RUNTIME, "train: out of memory");
    return 0;
}

/* What a fit needs before its first epoch: the batches per epoch (the same
 * as the stopped run's, when resuming within an epoch) and, when the fit
 * starts, fastai's before_fit resets (smoothed loss, trackers: reset_on_fit). */
static int fit_begin(Learner *l, FitEvent *ev, Err *err)
{
    int nb = loaders_n_batches(l->dls, SPLIT_TRAIN);
    if (l->o.max_batches > 0 && nb > l->o.max_batches) nb = l->o.max_batches;
    if (nb <= 0)
        return err_set(err, ERR_RUNTIME, "train: the training set has no full batch (%d items, bs %d)",
                       loaders_n_items(l->dls, SPLIT_TRAIN), l->dls->bs);
    if (l->batch > 0 && l->n_batches != nb)
        return err_set(err, ERR_USAGE, "resume state: written with %d training batches per epoch; this run has %d "
                                       "(bs or the training set changed?)", l->n_batches, nb);
    if (ev->fresh) {
        smooth_reset(&l->smooth);
        tracker_reset(&l->o.save);
        tracker_reset(&l->o.early);
    }
    l->n_batches = ev->n_batches = nb;
    /* data-parallel: every fit starts from rank 0's weights (its initial or
     * pretrained ones, the best model its SaveModelCallback loaded back) */
    if (l->grads && dist_bcast_params(l->o.dist, l->model, err)) return err->code;
    return 0;
}

/* The end of an epoch: the counters move on (to the fit's end when a callback
 * ended it), then losses.png and the resume state are written. */
static int end_epoch(Learner *l, const FitEvent *ev, Err *err)
{
    l->epoch++;
    l->stage_epoch = ev->stop ? ev->stage->n_epoch : ev->epoch + 1;
    l->batch = 0, l->epoch_secs = 0, l->epoch_wait = 0;
    if (l->grads) {   /* data-parallel: the replicas must still be one model */
        char when[64];
        snprintf(when, sizeof when, "after epoch %d", l->epoch - 1);
        if (dist_check_params(l->o.dist, l->model, when, err)) return err->code;
    }
    if (!l->o.out_dir || !l->logging) return 0;
    return learner_plot_losses(l, err) ? err->code : learner_save_state(l, err);
}

/* One fit of the schedule (fastai's Learner.fit / fit_one_cycle), from
 * l->stage_epoch and l->batch (0 and 0, or where a stop left it): per epoch,
 * training, validation, the after_epoch hooks (table, metrics.csv, trackers),
 * then the counters and the files of end_epoch. */
static int run_stage(Learner *l, const Stage *st, int stage_idx, Err *err)
{
    FitEvent ev = {.stage = st, .stage_idx = stage_idx, .fresh = l->stage_epoch == 0 && l->batch == 0};
    Callbacks *cbs = NULL;
    int rc = fit_begin(l, &ev, err);
    if (!rc && !(cbs = callbacks_new(l, &ev, err))) rc = err->code;
    if (!rc) rc = callbacks_run(cbs, CB_BEFORE_FIT, l, &ev, err);
    for (int e = l->stage_epoch; !rc && !ev.stop && e < st->n_epoch; e++) {
        /* a resumed epoch goes on with the time it had already taken */
        double t0 = now() - l->epoch_secs, wait0 = l->dls->wait_s - l->epoch_wait, vals[TABLE_MAX_COLS];
        ev.epoch = e;
        if ((rc = train_epoch(l, cbs, &ev, t0, wait0, err)) || (rc = validate_epoch(l, &ev, vals, t0, wait0, err)) ||
            (rc = callbacks_run(cbs, CB_AFTER_EPOCH, l, &ev, err)) || (rc = end_epoch(l, &ev, err)))
            break;
    }
    if (!rc) rc = callbacks_run(cbs, CB_AFTER_FIT, l, &ev, err);
    callbacks_free(cbs);
    return rc;
}

/* ---- lr_find() as a schedule step -------------------------------------------------- */

static void keep_suggestions(Learner *l, const Stage *st, const LrSuggest *g)
{
    l->lr_sug[LR_REF_VALLEY] = g->valley, l->lr_sug[LR_REF_MINIMUM] = g->minimum;
    l->lr_sug[LR_REF_STEEP] = g->steep, l->lr_sug[LR_REF_SLIDE] = g->slide;
    l->lr_have = st->suggest;
}

static LrSlideArgs slide_of(const Stage *st)
{
    return (LrSlideArgs){st->slide_diff, st->slide_thresh, st->slide_adjust};
}

/* The k-th lr_find() step (1-based): see learner_fit_schedule in learner.h. */
static int lr_find_step(Learner *l, const Stage *st, int k, Err *err)
{
    LrFindResult r;
    int64_t iter = l->iter;
    int rc = learner_lr_find(l, st->start_lr, st->end_lr, st->num_it, st->stop_div, &r, err);
    l->iter = iter;   /* as it found it: the dropout key too, so a resumed run repeats the step exactly */
    if (rc > 128) {   /* stopped: the state says "this step, from its start" */
        int sig = rc - 128;
        l->stage_epoch = 0, l->batch = 0;
        if (l->o.out_dir && l->logging && learner_save_state(l, err))
            return err_prefix(err, "train: stopped by signal %d; the resume state could not be written: ", sig);
        if (l->o.out_dir)
            err_set(err, ERR_RUNTIME, "train: stopped by signal %d in lr_find() (schedule step %d); "
                    "%s/state.safetensors holds the run up to there: continue with --resume", sig, l->stage + 1,
                    l->o.out_dir);
        else
            err_set(err, ERR_RUNTIME, "train: stopped by signal %d in lr_find() (schedule step %d)", sig, l->stage + 1);
        return rc;
    }
    LrSlideArgs sl = slide_of(st);
    if (!rc) rc = lr_suggest_with(r.lrs, r.losses, r.n, st->num_it, &sl, &r.sug, err);
    if (rc) {
        lr_find_result_free(&r);
        return err_prefix(err, "schedule step %d: ", l->stage + 1);
    }
    keep_suggestions(l, st, &r.sug);
    if (l->logging) {
        char name[64], path[4200], line[512];
        snprintf(name, sizeof name, "lr_find_%d.csv", k);
        learner_out_path(l, name, path, sizeof path);
        if (l->o.out_dir && (rc = lr_find_write_csv(&r, path, err))) goto done;
        snprintf(name, sizeof name, "lr_find_%d.png", k);
        learner_out_path(l, name, path, sizeof path);
        if (l->o.out_dir && (rc = lr_find_plot(&r, path, st->suggest, err))) goto done;
        if (l->o.json) {
            JsonBuf b = {0};
            json_buf_printf(&b, "{\"lr_find\": %d", k);
            lr_find_json(&b, &r.sug, st->suggest);
            json_buf_printf(&b, ", \"batches\": %d}", r.n);
            if (!b.oom && l->o.out) fprintf(l->o.out, "%s\n", b.s), fflush(l->o.out);
            json_buf_free(&b);
        } else if (l->o.out) {
            lr_find_format(&r.sug, st->suggest, line, sizeof line);
            fprintf(l->o.out, "%s\n", line);
            fflush(l->o.out);
        }
    }
done:
    lr_find_result_free(&r);
    return rc;
}

/* A resumed run past lr_find() steps: the last one's suggestions, from the
 * lr_find_<k>.csv it wrote. */
static int recover_lr_find(Learner *l, const Schedule *s, Err *err)
{
    int k = 0, last = -1;
    for (int i = 0; i < l->stage && i < s->n; i++)
        if (s->stages[i].kind == STAGE_LR_FIND) k++, last = i;
    if (last < 0 || !l->o.out_dir) return 0;
    char name[64], path[4200];
    snprintf(name, sizeof name, "lr_find_%d.csv", k);
    learner_out_path(l, name, path, sizeof path);
    LrFindResult r;
    LrSlideArgs sl = slide_of(&s->stages[last]);
    if (lr_find_read_csv(path, s->stages[last].num_it, &sl, &r, err))
        return err_prefix(err, "resume: the suggestions of lr_find() (schedule step %d): ", last + 1);
    keep_suggestions(l, &s->stages[last], &r.sug);
    lr_find_result_free(&r);
    return 0;
}

int learner_fit_schedule(Learner *l, const Schedule *s, Err *err)
{
    l->total_epochs = schedule_total_epochs(s);
    l->sched = s;
    int r = recover_lr_find(l, s, err), k = 0;
    for (int i = 0; i < l->stage && i < s->n; i++) k += s->stages[i].kind == STAGE_LR_FIND;
    for (; l->stage < s->n && !r; l->stage++) {
        const Stage *st = &s->stages[l->stage];
        if (st->kind == STAGE_FREEZE_TO) {
            learner_freeze_to(l, st->freeze_n);
            l->stage_epoch = 0;
            continue;
        }
        if (st->kind == STAGE_LR_FIND) {
            if ((r = lr_find_step(l, st, ++k, err))) break;
            l->stage_epoch = 0;
            continue;
        }
        if ((r = run_stage(l, st, l->stage, err))) break;
        l->stage_epoch = 0;
    }
    l->sched = NULL;
    if (!r && l->grads) r = dist_bcast_params(l->o.dist, l->model, err);   /* the last fit's best model */
    return r;
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
    learner_out_path(l, "losses.png", p, sizeof p);
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
    if (l->grads && dist_bcast_params(l->o.dist, l->model, err)) return err->code;   /* rank 0's weights */
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
            if (failed == 2) continue;   /* data-parallel: every share of the batch left out */
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
            if (stop_requested(l)) {
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
