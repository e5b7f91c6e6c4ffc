/* learn.c — [learner], [train] and [lr_find] → LearnerOpts, Schedule and
 * the lr_find settings; the constructors of optimizers, metrics, callbacks,
 * schedule steps and lr_find suggestions.  FASTAI_REFERENCE.md §1 (trackers)
 * and §3 (schedules). */
#include "setup/internal.h"

#include "learn/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- optimizers ------------------------------------------------------------------- */

static int build_adam(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    LearnerOpts *o = out;
    o->opt = OPT_ADAM;
    o->hyper = optim_default_hyper(OPT_ADAM);
    o->hyper.mom = cfg_arg_num(call, "mom"), o->hyper.sqr_mom = cfg_arg_num(call, "sqr_mom");
    o->hyper.eps = cfg_arg_num(call, "eps"), o->hyper.wd = cfg_arg_num(call, "wd");
    return 0;
}

static int build_sgd(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    LearnerOpts *o = out;
    o->opt = OPT_SGD;
    o->hyper = optim_default_hyper(OPT_SGD);
    o->hyper.mom = cfg_arg_num(call, "mom"), o->hyper.wd = cfg_arg_num(call, "wd");
    return 0;
}

/* ---- metrics ---------------------------------------------------------------------- */

/* tag: the MetricKind; the column is named as the metric (fastai's metric.name) */
static int build_metric(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    Metric *m = out;
    memset(m, 0, sizeof *m);
    m->kind = (MetricKind)tag;
    snprintf(m->name, sizeof m->name, "%s", call->str);
    m->thresh = 0.5, m->sigmoid = 1;   /* read by accuracy_multi only */
    if (m->kind == METRIC_ACCURACY_MULTI) {
        m->thresh = cfg_arg_num(call, "thresh");
        m->sigmoid = cfg_arg_num(call, "sigmoid") != 0;
    }
    return 0;
}

/* ---- callbacks -------------------------------------------------------------------- */

/* fastai's TrackerCallback: comp is np.less when the monitored name holds
 * "loss" or "error", else np.greater; min_delta is negated for np.less. */
static Tracker *tracker(Tracker *t, const CfgValue *call)
{
    memset(t, 0, sizeof *t);
    t->on = 1;
    snprintf(t->monitor, sizeof t->monitor, "%s", cfg_arg_str(call, "monitor"));
    t->less = strstr(t->monitor, "loss") || strstr(t->monitor, "error");
    t->min_delta = cfg_arg_num(call, "min_delta");
    if (t->less) t->min_delta = -fabs(t->min_delta) * (t->min_delta < 0 ? -1 : 1);
    return t;
}

static int build_save_model_cb(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    Tracker *t = tracker(&((LearnerOpts *)out)->save, call);
    const char *fname = cfg_arg_str(call, "fname");
    if (!fname[0] || strchr(fname, '/') || strlen(fname) > 40)
        return err_set(err, ERR_USAGE, "%s: SaveModelCallback(fname=...): expected a short file name", where);
    snprintf(t->fname, sizeof t->fname, "%s", fname);
    t->every_epoch = (int)cfg_arg_num(call, "every_epoch");
    t->at_end = cfg_arg_num(call, "at_end") != 0;
    return 0;
}

static int build_early_stopping_cb(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    Tracker *t = tracker(&((LearnerOpts *)out)->early, call);
    t->patience = (int)cfg_arg_num(call, "patience");
    snprintf(t->fname, sizeof t->fname, "best");   /* unused by EarlyStoppingCallback */
    return 0;
}

/* A monitor is a column of the table: train_loss, valid_loss or a metric. */
static int check_monitor(const Setup *s, const Tracker *t, const char *cb, Err *err)
{
    if (!t->on || !strcmp(t->monitor, "train_loss") || !strcmp(t->monitor, "valid_loss")) return 0;
    for (int i = 0; i < s->learn.metrics.n; i++)
        if (!strcmp(t->monitor, s->learn.metrics.m[i].name)) return 0;
    char w[SETUP_WHERE];
    setup_where(s, "learner", "cbs", 0, w, sizeof w);
    return err_set(err, ERR_USAGE, "%s: %s(monitor='%s'): expected train_loss, valid_loss or a metric of [learner] "
                   "metrics", w, cb, t->monitor);
}

/* ---- schedule steps ----------------------------------------------------------------- */

static int push(SetupSchedule *q, Stage st, Err *err)
{
    Schedule *s = q->s;
    if (s->n == q->cap) {
        int nc = q->cap ? 2 * q->cap : 8;
        Stage *ns = realloc(s->stages, sizeof *ns * nc);
        if (!ns) return err_set(err, ERR_RUNTIME, "schedule: out of memory");
        s->stages = ns, q->cap = nc;
    }
    s->stages[s->n++] = st;
    return 0;
}

/* ST_LR: a number, or slice(lo, hi) / slice(hi) (lo 0) */
static LrSpec lr_of(const CfgValue *v)
{
    if (!v) return (LrSpec){.kind = LR_NONE};
    if (v->kind == CV_NUM) return lr_num(v->num);
    const CfgValue *lo = v->items[0];
    return lr_slice(lo->kind == CV_NUM ? lo->num : 0, v->items[1]->num);
}

static void wd_of(const CfgValue *call, Stage *st)
{
    const CfgValue *wd = cfg_arg(call, "wd");
    if (wd) st->has_wd = 1, st->wd = wd->num;
}

static int build_fit(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    Stage st = {.kind = STAGE_FIT};
    st.n_epoch = (int)cfg_arg_num(call, "n_epoch");
    st.lr = lr_of(cfg_arg(call, "lr"));
    wd_of(call, &st);
    return push(out, st, err);
}

/* fit_one_cycle's arguments into st (moms unset: the learner's, filled later) */
static void one_cycle_of(const CfgValue *call, Stage *st)
{
    st->kind = STAGE_ONE_CYCLE;
    st->div = cfg_arg_num(call, "div");
    st->div_final = cfg_arg_num(call, "div_final");
    st->pct_start = cfg_arg_num(call, "pct_start");
    wd_of(call, st);
}

static int build_fit_one_cycle(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    Stage st = {0};
    one_cycle_of(call, &st);
    st.n_epoch = (int)cfg_arg_num(call, "n_epoch");
    st.lr = lr_of(cfg_arg(call, "lr_max"));
    const CfgValue *m = cfg_arg(call, "moms");
    if (m) {
        for (int i = 0; i < 3; i++) st.moms[i] = m->items[i]->num;
        st.has_moms = 1;
    }
    return push(out, st, err);
}

/* fastai's fine_tune(epochs, base_lr, freeze_epochs, lr_mult, pct_start, div, **kwargs):
 *   freeze(); fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99, **kwargs)
 *   base_lr /= 2; unfreeze()
 *   fit_one_cycle(epochs, slice(base_lr/lr_mult, base_lr), pct_start=pct_start, div=div, **kwargs)
 * The arguments it does not set (div_final; div of the frozen cycle) are
 * fit_one_cycle's defaults, read from the schema. */
static int build_fine_tune(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    CfgValue *d = cfg_value_parse_key("train", "schedule", "fit_one_cycle(1)", NULL, 0, err);
    if (!d) return err->code;
    Stage base = {0};
    one_cycle_of(cfg_list_at(d, 0), &base);
    cfg_value_free(d);
    base.has_wd = 0;
    wd_of(call, &base);
    double base_lr = cfg_arg_num(call, "base_lr"), lr_mult = cfg_arg_num(call, "lr_mult");
    Stage s1 = base, s2 = base;
    s1.n_epoch = (int)cfg_arg_num(call, "freeze_epochs");
    s1.lr = lr_slice(0, base_lr);
    s1.pct_start = 0.99;
    base_lr /= 2;
    s2.n_epoch = (int)cfg_arg_num(call, "epochs");
    s2.lr = lr_slice(base_lr / lr_mult, base_lr);
    s2.pct_start = cfg_arg_num(call, "pct_start");
    s2.div = cfg_arg_num(call, "div");
    Stage fr = {.kind = STAGE_FREEZE_TO, .freeze_n = -1}, uf = {.kind = STAGE_FREEZE_TO, .freeze_n = 0};
    if (push(out, fr, err) || push(out, s1, err) || push(out, uf, err) || push(out, s2, err)) return err->code;
    return 0;
}

/* tag: freeze_to's n for freeze() (-1) and unfreeze() (0); -2: freeze_to(n) */
static int build_freeze_to(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    Stage st = {.kind = STAGE_FREEZE_TO, .freeze_n = tag};
    if (tag == -2) st.freeze_n = (int)cfg_arg_num(call, "n");
    return push(out, st, err);
}

/* tag: the LrSuggest bit (learn/lr_find.h) */
static int build_suggest(void *out, const CfgValue *call, int tag, const char *where, Err *err)
{
    ((SetupLrFind *)out)->suggest |= tag;
    return 0;
}

/* ---- [learner], [train], [lr_find] ---------------------------------------------------- */

static int schedule(Setup *s, Err *err)
{
    const CfgValue *v = cfg_get(s->cfg, "train", "schedule");
    SetupSchedule q = {.s = &s->schedule};
    for (int i = 0; i < cfg_list_len(v); i++) {
        const CfgValue *c = cfg_list_at(v, i);
        char w[SETUP_WHERE];
        setup_where(s, "train", "schedule", c->line, w, sizeof w);
        if (setup_build(SLOT_SCHEDULE, &q, c, w, err)) return err->code;
    }
    /* fit_one_cycle's moms default to [learner] moms; fastai fit(wd=None) takes
     * learn.wd, which when set is applied at every fit */
    const CfgValue *moms = cfg_get(s->cfg, "learner", "moms");
    const CfgValue *wd = cfg_get(s->cfg, "learner", "wd");
    for (int i = 0; i < s->schedule.n; i++) {
        Stage *st = &s->schedule.stages[i];
        if (!st->has_moms)
            for (int k = 0; k < 3; k++) st->moms[k] = moms->items[k]->num;
        if (!st->has_wd && wd) st->has_wd = 1, st->wd = wd->num;
    }
    return 0;
}

int setup_learn(Setup *s, Err *err)
{
    LearnerOpts *o = &s->learn;
    char w[SETUP_WHERE];
    learner_opts_default(o);
    const CfgValue *opt = cfg_get(s->cfg, "learner", "opt_func");
    setup_where(s, "learner", "opt_func", opt->line, w, sizeof w);
    if (setup_build(SLOT_OPT, o, opt, w, err)) return err->code;
    cfg_value_format(opt, s->store->opt, sizeof s->store->opt);
    s->opt_text = s->store->opt;
    const CfgValue *wd = cfg_get(s->cfg, "learner", "wd");
    if (wd) o->hyper.wd = wd->num;
    o->lr = cfg_num(s->cfg, "learner", "lr");
    o->train_bn = cfg_int(s->cfg, "learner", "train_bn") != 0;
    s->wd_bn_bias = cfg_int(s->cfg, "learner", "wd_bn_bias") != 0;
    o->seed = s->ctx.seed;
    o->threads = s->ctx.threads;
    if (setup_build_list(s, "learner", "metrics", SLOT_METRIC, o->metrics.m, sizeof o->metrics.m[0], METRICS_MAX,
                         &o->metrics.n, err))
        return err->code;
    const CfgValue *cbs = cfg_get(s->cfg, "learner", "cbs");
    for (int i = 0; i < cfg_list_len(cbs); i++) {
        const CfgValue *c = cfg_list_at(cbs, i);
        setup_where(s, "learner", "cbs", c->line, w, sizeof w);
        if (setup_build(SLOT_CB, o, c, w, err)) return err->code;
    }
    if (check_monitor(s, &o->save, "SaveModelCallback", err) ||
        check_monitor(s, &o->early, "EarlyStoppingCallback", err))
        return err->code;
    /* the one multi-label threshold: accuracy_multi's when used, else the loss's */
    s->threshold = metrics_multi_thresh(&o->metrics, s->threshold);
    if (schedule(s, err)) return err->code;
    SetupLrFind *f = &s->lr_find;
    f->start_lr = cfg_num(s->cfg, "lr_find", "start_lr");
    f->end_lr = cfg_num(s->cfg, "lr_find", "end_lr");
    f->num_it = cfg_int(s->cfg, "lr_find", "num_it");
    f->stop_div = cfg_int(s->cfg, "lr_find", "stop_div") != 0;
    const CfgValue *sug = cfg_get(s->cfg, "lr_find", "suggest_funcs");
    for (int i = 0; i < cfg_list_len(sug); i++) {
        const CfgValue *c = cfg_list_at(sug, i);
        setup_where(s, "lr_find", "suggest_funcs", c->line, w, sizeof w);
        if (setup_build(SLOT_SUGGEST, f, c, w, err)) return err->code;
    }
    return 0;
}

/* ---- the registry rows of these constructors (registry.h) ---- */

const SetupComp setup_learn_comps[] = {
    /* metrics (tag: the MetricKind) */
    {"error_rate", SLOT_METRIC, build_metric, METRIC_ERROR_RATE},
    {"accuracy", SLOT_METRIC, build_metric, METRIC_ACCURACY},
    {"accuracy_multi", SLOT_METRIC, build_metric, METRIC_ACCURACY_MULTI},
    {"mse", SLOT_METRIC, build_metric, METRIC_MSE},
    {"rmse", SLOT_METRIC, build_metric, METRIC_RMSE},
    {"mae", SLOT_METRIC, build_metric, METRIC_MAE},
    /* callbacks */
    {"SaveModelCallback", SLOT_CB, build_save_model_cb, 0},
    {"EarlyStoppingCallback", SLOT_CB, build_early_stopping_cb, 0},
    /* optimizers */
    {"Adam", SLOT_OPT, build_adam, 0},
    {"SGD", SLOT_OPT, build_sgd, 0},
    /* schedule steps (freeze_to tag: n for freeze()/unfreeze(), -2 = the argument) */
    {"fit", SLOT_SCHEDULE, build_fit, 0},
    {"fit_one_cycle", SLOT_SCHEDULE, build_fit_one_cycle, 0},
    {"fine_tune", SLOT_SCHEDULE, build_fine_tune, 0},
    {"freeze", SLOT_SCHEDULE, build_freeze_to, -1},
    {"unfreeze", SLOT_SCHEDULE, build_freeze_to, 0},
    {"freeze_to", SLOT_SCHEDULE, build_freeze_to, -2},
    /* lr_find suggestions (tag: the SUGGEST_* bit) */
    {"valley", SLOT_SUGGEST, build_suggest, SUGGEST_VALLEY},
    {"minimum", SLOT_SUGGEST, build_suggest, SUGGEST_MINIMUM},
    {"steep", SLOT_SUGGEST, build_suggest, SUGGEST_STEEP},
    {"slide", SLOT_SUGGEST, build_suggest, SUGGEST_SLIDE},
};
const int setup_n_learn_comps = (int)(sizeof setup_learn_comps / sizeof setup_learn_comps[0]);
