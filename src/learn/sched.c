/* sched.c — one-cycle formulas, slice → per-group rates, and the schedule
 * line as stages.  Formulas: FASTAI_REFERENCE.md §3 and §5. */
#include "learn/sched.h"

#include "config/config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double sched_lin(double s, double e, double pos) { return s + pos * (e - s); }
double sched_cos(double s, double e, double pos) { return s + (1 + cos(M_PI * (1 - pos))) * (e - s) / 2; }
double sched_exp(double s, double e, double pos) { return s * pow(e / s, pos); }

double sched_combined_cos(double pct, double start, double middle, double end, double pos)
{
    if (pos < pct) return sched_cos(start, middle, pos / pct);
    return sched_cos(middle, end, (pos - pct) / (1 - pct));
}

LrSpec lr_num(double v) { return (LrSpec){.kind = LR_NUM, .hi = v}; }
LrSpec lr_slice(double lo, double hi) { return (LrSpec){.kind = LR_SLICE, .lo = lo, .hi = hi}; }

void even_mults(double lo, double hi, int n, double *out)
{
    if (n == 1) {
        out[0] = hi;
        return;
    }
    double step = pow(hi / lo, 1.0 / (n - 1));
    /* fastcore: np.array([start*(step**i) for i in range(n)]) */
    for (int i = 0; i < n; i++) out[i] = lo * pow(step, i);
}

int lr_resolve(const LrSpec *s, int n, double *out, Err *err)
{
    switch (s->kind) {
    case LR_NONE:
    case LR_NUM:
        for (int i = 0; i < n; i++) out[i] = s->hi;
        return 0;
    case LR_SLICE:
        if (s->lo) even_mults(s->lo, s->hi, n, out);
        else {
            for (int i = 0; i < n - 1; i++) out[i] = s->hi / 10;
            out[n - 1] = s->hi;
        }
        return 0;
    case LR_LIST:
        if (s->n != n)
            return err_set(err, ERR_USAGE, "learning rate list has %d values, the model has %d parameter groups",
                           s->n, n);
        for (int i = 0; i < n; i++) out[i] = s->v[i];
        return 0;
    }
    return 0;
}

void one_cycle_at(const Stage *st, const double *lr_max, int n_groups, double pos, double *lr, double *mom)
{
    for (int g = 0; g < n_groups; g++)
        lr[g] = sched_combined_cos(st->pct_start, lr_max[g] / st->div, lr_max[g], lr_max[g] / st->div_final, pos);
    *mom = sched_combined_cos(st->pct_start, st->moms[0], st->moms[1], st->moms[2], pos);
}

/* ---- parsing the schedule line ------------------------------------------- */

typedef struct Sig {
    const char *name;
    const char *args[8];   /* positional order, fastai's */
} Sig;

static const Sig SIGS[] = {
    {"fit", {"n_epoch", "lr", "wd"}},
    {"fit_one_cycle", {"n_epoch", "lr_max", "div", "div_final", "pct_start", "wd", "moms"}},
    {"fine_tune", {"epochs", "base_lr", "freeze_epochs", "lr_mult", "pct_start", "div", "div_final", "wd"}},
    {"freeze", {NULL}},
    {"unfreeze", {NULL}},
    {"freeze_to", {"n"}},
};

typedef struct Call {
    const CfgValue *v;
    const Sig *sig;
    const char *file;
} Call;

/* The argument `name` of the call: by keyword, else by position. */
static const CfgValue *arg(const Call *c, const char *name)
{
    const CfgValue *v = c->v;
    for (int i = 0; i < v->n; i++)
        if (v->names && v->names[i] && strcmp(v->names[i], name) == 0) return v->items[i];
    for (int i = 0; i < 8 && c->sig->args[i]; i++)
        if (strcmp(c->sig->args[i], name) == 0) {
            if (i < v->n && !(v->names && v->names[i])) return v->items[i];
            break;
        }
    return NULL;
}

static int bad(const Call *c, Err *err, const char *name, const char *want)
{
    return err_set(err, ERR_USAGE, "%s:%d: [train] schedule: %s(%s=...): expected %s", c->file, c->v->line,
                   c->v->str, name, want);
}

static int get_num(const Call *c, const char *name, double dflt, double *out, Err *err)
{
    const CfgValue *a = arg(c, name);
    if (!a || a->kind == CV_NONE) {
        *out = dflt;
        return 0;
    }
    if (a->kind != CV_NUM) return bad(c, err, name, "a number");
    *out = a->num;
    return 0;
}

static int get_pos(const Call *c, const char *name, double dflt, double *out, Err *err)
{
    if (get_num(c, name, dflt, out, err)) return err->code;
    if (!(*out > 0) || !isfinite(*out)) return bad(c, err, name, "a positive number");
    return 0;
}

static int get_int(const Call *c, const char *name, int dflt, int min, int *out, Err *err)
{
    double d = 0;
    if (get_num(c, name, dflt, &d, err)) return err->code;
    if (d != floor(d) || d < min || d > 1e6) return bad(c, err, name, min >= 0 ? "a whole number >= 0" : "a whole number");
    *out = (int)d;
    return 0;
}

static int get_lr(const Call *c, const char *name, LrSpec *out, Err *err)
{
    const CfgValue *a = arg(c, name);
    *out = (LrSpec){.kind = LR_NONE};
    if (!a || a->kind == CV_NONE) return 0;
    if (a->kind == CV_NUM) {
        if (!(a->num > 0) || !isfinite(a->num)) return bad(c, err, name, "a positive learning rate");
        *out = lr_num(a->num);
        return 0;
    }
    if (a->kind == CV_SLICE && a->n == 2) {
        const CfgValue *lo = a->items[0], *hi = a->items[1];
        if (hi->kind != CV_NUM || !(hi->num > 0) || (lo->kind != CV_NONE && (lo->kind != CV_NUM || lo->num < 0)))
            return bad(c, err, name, "slice(lo, hi) or slice(hi) with positive rates");
        *out = lr_slice(lo->kind == CV_NUM ? lo->num : 0, hi->num);
        return 0;
    }
    if ((a->kind == CV_LIST || a->kind == CV_TUPLE) && a->n >= 1 && a->n <= LR_MAX_LIST) {
        out->kind = LR_LIST, out->n = a->n;
        for (int i = 0; i < a->n; i++) {
            if (a->items[i]->kind != CV_NUM || !(a->items[i]->num > 0))
                return bad(c, err, name, "a list of positive learning rates");
            out->v[i] = a->items[i]->num;
        }
        return 0;
    }
    return bad(c, err, name, "a number, slice(lo, hi), slice(hi) or a list of rates");
}

static int get_wd(const Call *c, Stage *st, Err *err)
{
    const CfgValue *a = arg(c, "wd");
    if (!a || a->kind == CV_NONE) return 0;
    if (a->kind != CV_NUM || a->num < 0) return bad(c, err, "wd", "a number >= 0");
    st->has_wd = 1, st->wd = a->num;
    return 0;
}

static int get_moms(const Call *c, Stage *st, Err *err)
{
    const CfgValue *a = arg(c, "moms");
    st->moms[0] = 0.95, st->moms[1] = 0.85, st->moms[2] = 0.95;
    if (!a || a->kind == CV_NONE) return 0;
    if ((a->kind != CV_TUPLE && a->kind != CV_LIST) || a->n != 3) return bad(c, err, "moms", "a tuple of 3 momentums");
    for (int i = 0; i < 3; i++) {
        if (a->items[i]->kind != CV_NUM) return bad(c, err, "moms", "a tuple of 3 momentums");
        st->moms[i] = a->items[i]->num;
    }
    st->has_moms = 1;
    return 0;
}

static int push(Schedule *s, int *cap, Stage st, Err *err)
{
    if (s->n == *cap) {
        int nc = *cap ? 2 * *cap : 8;
        Stage *ns = realloc(s->stages, sizeof *ns * nc);
        if (!ns) return err_set(err, ERR_RUNTIME, "schedule: out of memory");
        s->stages = ns, *cap = nc;
    }
    s->stages[s->n++] = st;
    return 0;
}

static int check_names(const Call *c, Err *err)
{
    const CfgValue *v = c->v;
    int n_pos = 0;
    while (n_pos < 8 && c->sig->args[n_pos]) n_pos++;
    for (int i = 0; i < v->n; i++) {
        const char *nm = v->names ? v->names[i] : NULL;
        if (!nm) {
            if (i >= n_pos)
                return err_set(err, ERR_USAGE, "%s:%d: [train] schedule: %s() takes at most %d arguments", c->file,
                               v->line, v->str, n_pos);
            continue;
        }
        int ok = 0;
        for (int j = 0; j < n_pos; j++) ok |= strcmp(c->sig->args[j], nm) == 0;
        if (!ok) return err_set(err, ERR_USAGE, "%s:%d: [train] schedule: %s() has no argument '%s'", c->file, v->line,
                                v->str, nm);
    }
    return 0;
}

static int one_call(const CfgValue *v, const char *file, Schedule *s, int *cap, Err *err)
{
    if (v->kind != CV_CALL && v->kind != CV_IDENT)
        return err_set(err, ERR_USAGE, "%s:%d: [train] schedule: expected calls like fit_one_cycle(5, 1e-3)", file,
                       v->line);
    const Sig *sig = NULL;
    for (size_t i = 0; i < sizeof SIGS / sizeof SIGS[0]; i++)
        if (strcmp(SIGS[i].name, v->str) == 0) sig = &SIGS[i];
    if (!sig)
        return err_set(err, ERR_USAGE,
                       "%s:%d: [train] schedule: unknown '%s', expected fit, fit_one_cycle, fine_tune, freeze, "
                       "unfreeze or freeze_to",
                       file, v->line, v->str);
    Call c = {v, sig, file};
    if (v->kind == CV_CALL && check_names(&c, err)) return err->code;
    Stage st = {.div = 25, .div_final = 1e5, .pct_start = 0.25};
    get_moms(&c, &st, err);
    const char *nm = sig->name;
    if (!strcmp(nm, "freeze") || !strcmp(nm, "unfreeze") || !strcmp(nm, "freeze_to")) {
        st.kind = STAGE_FREEZE_TO;
        st.freeze_n = !strcmp(nm, "freeze") ? -1 : 0;
        if (!strcmp(nm, "freeze_to")) {
            if (!arg(&c, "n")) return bad(&c, err, "n", "a group index");
            if (get_int(&c, "n", 0, -1000, &st.freeze_n, err)) return err->code;
        }
        return push(s, cap, st, err);
    }
    if (!strcmp(nm, "fit")) {
        st.kind = STAGE_FIT;
        if (!arg(&c, "n_epoch")) return bad(&c, err, "n_epoch", "a number of epochs");
        if (get_int(&c, "n_epoch", 1, 0, &st.n_epoch, err) || get_lr(&c, "lr", &st.lr, err) || get_wd(&c, &st, err))
            return err->code;
        return push(s, cap, st, err);
    }
    if (!strcmp(nm, "fit_one_cycle")) {
        st.kind = STAGE_ONE_CYCLE;
        if (!arg(&c, "n_epoch")) return bad(&c, err, "n_epoch", "a number of epochs");
        if (get_int(&c, "n_epoch", 1, 0, &st.n_epoch, err) || get_lr(&c, "lr_max", &st.lr, err) ||
            get_pos(&c, "div", 25, &st.div, err) || get_pos(&c, "div_final", 1e5, &st.div_final, err) ||
            get_num(&c, "pct_start", 0.25, &st.pct_start, err) || get_wd(&c, &st, err) || get_moms(&c, &st, err))
            return err->code;
        if (!(st.pct_start >= 0 && st.pct_start < 1)) return bad(&c, err, "pct_start", "a number in [0, 1)");
        return push(s, cap, st, err);
    }
    /* fine_tune(epochs, base_lr=2e-3, freeze_epochs=1, lr_mult=100, pct_start=0.3, div=5.0, **kw) */
    int epochs, freeze_epochs;
    double base_lr, lr_mult, pct, div;
    if (!arg(&c, "epochs")) return bad(&c, err, "epochs", "a number of epochs");
    if (get_int(&c, "epochs", 1, 0, &epochs, err) || get_pos(&c, "base_lr", 2e-3, &base_lr, err) ||
        get_int(&c, "freeze_epochs", 1, 0, &freeze_epochs, err) || get_pos(&c, "lr_mult", 100, &lr_mult, err) ||
        get_num(&c, "pct_start", 0.3, &pct, err) || get_pos(&c, "div", 5.0, &div, err) ||
        get_pos(&c, "div_final", 1e5, &st.div_final, err) || get_wd(&c, &st, err))
        return err->code;
    if (!(pct >= 0 && pct < 1)) return bad(&c, err, "pct_start", "a number in [0, 1)");
    Stage fr = {.kind = STAGE_FREEZE_TO, .freeze_n = -1};
    Stage s1 = st;
    s1.kind = STAGE_ONE_CYCLE, s1.n_epoch = freeze_epochs, s1.lr = lr_slice(0, base_lr), s1.pct_start = 0.99;
    s1.div = 25;
    Stage uf = {.kind = STAGE_FREEZE_TO, .freeze_n = 0};
    base_lr /= 2;
    Stage s2 = st;
    s2.kind = STAGE_ONE_CYCLE, s2.n_epoch = epochs, s2.lr = lr_slice(base_lr / lr_mult, base_lr);
    s2.pct_start = pct, s2.div = div;
    if (push(s, cap, fr, err) || push(s, cap, s1, err) || push(s, cap, uf, err) || push(s, cap, s2, err))
        return err->code;
    return 0;
}

int schedule_parse(const CfgValue *v, const char *file, Schedule *s, Err *err)
{
    memset(s, 0, sizeof *s);
    int cap = 0;
    if (!v) return err_set(err, ERR_USAGE, "%s: [train] schedule: missing", file);
    int n = v->kind == CV_LIST ? v->n : 1;
    for (int i = 0; i < n; i++) {
        const CfgValue *c = v->kind == CV_LIST ? v->items[i] : v;
        if (one_call(c, file, s, &cap, err)) {
            schedule_free(s);
            return err->code;
        }
    }
    return 0;
}

void schedule_free(Schedule *s)
{
    if (!s) return;
    free(s->stages);
    memset(s, 0, sizeof *s);
}

int schedule_total_epochs(const Schedule *s)
{
    int t = 0;
    for (int i = 0; i < s->n; i++)
        if (s->stages[i].kind != STAGE_FREEZE_TO) t += s->stages[i].n_epoch;
    return t;
}
