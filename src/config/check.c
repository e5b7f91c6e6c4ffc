/* check.c — checking parsed values against the schema: types, ranges,
 * choices, and components (name lookup with "did you mean", positional and
 * keyword arguments resolved by name with defaults filled in).
 *
 * Every check takes the value as written and returns a fresh, resolved value
 * (the input is not modified), or NULL with a one-line error
 * "<where>: found X, expected Y". */
#include "config/schema.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static CfgValue *bad(Err *err, const char *where, const CfgValue *v, const char *expected)
{
    char found[128];
    cv_describe(v, found, sizeof found);
    err_set(err, ERR_USAGE, "%s: found %s, expected %s", where, found, expected);
    return NULL;
}

static CfgValue *expect(Err *err, const char *where, const CfgValue *v, const SchemaSpec *s)
{
    char exp[512];
    schema_expected(s, exp, sizeof exp);
    return bad(err, where, v, exp);
}

static CfgValue *nomem(Err *err, const char *where)
{
    err_set(err, ERR_RUNTIME, "%s: out of memory", where);
    return NULL;
}

void check_slot_names(SchemaSlot slot, char *buf, size_t cap)
{
    size_t len = 0;
    int k = 0;
    buf[0] = 0;
    for (int i = 0; i < schema_n_comps && len < cap; i++) {
        if (schema_comps[i].slot != slot) continue;
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", k++ ? ", " : "", schema_comps[i].name);
    }
}

void check_expected(const SchemaSpec *s, char *buf, size_t cap)
{
    if (s->type == ST_COMP || s->type == ST_COMP_LIST) {
        char names[768];
        check_slot_names(s->slot, names, sizeof names);
        const char *noun = schema_slot_names[s->slot];
        if (s->type == ST_COMP) snprintf(buf, cap, "%s %s: %s", schema_article(noun), noun, names);
        else snprintf(buf, cap, "a list of: %s", names);
    } else {
        schema_expected(s, buf, cap);
    }
}

static int in_range(const SchemaSpec *s, double x)
{
    if (!(s->lo < s->hi)) return 1;
    if (x < s->lo || (s->lo_open && x == s->lo)) return 0;
    if (x > s->hi || (s->hi_open && x == s->hi)) return 0;
    return 1;
}

static int is_int(double x) { return x == floor(x) && fabs(x) <= 9007199254740992.0; }

static int is_text(const CfgValue *v) { return v->kind == CV_STR || v->kind == CV_IDENT; }

static CfgValue *as_str(const CfgValue *v, Err *err, const char *where)
{
    CfgValue *o = cv_new(CV_STR, v->line);
    if (!o || !(o->str = strdup(v->str))) {
        cfg_value_free(o);
        return nomem(err, where);
    }
    return o;
}

static CfgValue *num_value(double x, int line)
{
    CfgValue *o = cv_new(CV_NUM, line);
    if (o) o->num = x;
    return o;
}

/* A sequence (tuple or list) whose items each pass `item`; single values too
 * when `single_ok`.  Result kind: `kind`. */
typedef CfgValue *(*ItemCheck)(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where);

static CfgValue *check_seq(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where,
                           ItemCheck item, CfgKind kind, int single_ok)
{
    int seq = v->kind == CV_TUPLE || v->kind == CV_LIST;
    if (!seq && !single_ok) return expect(err, where, v, s);
    CfgValue *o = cv_new(kind, v->line);
    if (!o) return nomem(err, where);
    int n = seq ? v->n : 1;
    for (int i = 0; i < n; i++) {
        const CfgValue *it = seq ? v->items[i] : v;
        CfgValue *r = item(it, s, err, where);
        if (!r) {
            cfg_value_free(o);
            return NULL;
        }
        if (cv_push(o, r, NULL) != 0) {
            cfg_value_free(r);
            cfg_value_free(o);
            return nomem(err, where);
        }
    }
    return o;
}

static CfgValue *item_name(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where)
{
    if (!is_text(v)) return bad(err, where, v, "a name (quoted or bare)");
    return as_str(v, err, where);
}

static CfgValue *item_num(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where)
{
    if (v->kind != CV_NUM) return expect(err, where, v, s);
    return num_value(v->num, v->line);
}

static CfgValue *item_pos_int(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where)
{
    if (v->kind != CV_NUM || !is_int(v->num) || v->num < 1 || v->num > 1e6)
        return bad(err, where, v, "a positive integer");
    return num_value(v->num, v->line);
}

static CfgValue *item_col(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where)
{
    if (is_text(v)) return as_str(v, err, where);
    if (v->kind == CV_NUM && is_int(v->num) && v->num >= 0) return num_value(v->num, v->line);
    return bad(err, where, v, "a column name or index");
}

static CfgValue *check_choice(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where)
{
    if (!is_text(v)) return expect(err, where, v, s);
    /* fastai spells choices as strings or enum members: 'squish', ResizeMethod.Squish */
    const char *text = v->str;
    if (v->kind == CV_IDENT && strrchr(text, '.')) text = strrchr(text, '.') + 1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s->choices);
    const char *near = NULL;
    for (char *tok = strtok(buf, "|"); tok; tok = strtok(NULL, "|")) {
        if (!strcasecmp(tok, text)) {
            CfgValue *o = cv_new(CV_STR, v->line);
            if (!o || !(o->str = strdup(s->choices + (tok - buf)))) {
                cfg_value_free(o);
                return nomem(err, where);
            }
            o->str[strlen(tok)] = 0;
            return o;
        }
        if (!near && schema_is_near(text, tok)) near = s->choices + (tok - buf);
    }
    char exp[512];
    schema_expected(s, exp, sizeof exp);
    if (near) {
        size_t l = strcspn(near, "|");
        size_t len = strlen(exp);
        snprintf(exp + len, sizeof exp - len, " (did you mean %.*s?)", (int)l, near);
    }
    return bad(err, where, v, exp);
}

static CfgValue *check_comp(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where);

/* Long on purpose: one short case per SchemaType, so the whole type table is
 * read in one place, in the order schema.h declares it. */
CfgValue *check_value(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where)
{
    if (v->kind == CV_NONE) {
        if (s->optional || (s->def && !strcmp(s->def, "None"))) return cv_new(CV_NONE, v->line);
        return expect(err, where, v, s);
    }
    switch (s->type) {
    case ST_INT:
        if (v->kind != CV_NUM || !is_int(v->num) || !in_range(s, v->num)) return expect(err, where, v, s);
        return num_value(v->num, v->line);
    case ST_NUM:
        if (v->kind != CV_NUM || !in_range(s, v->num)) return expect(err, where, v, s);
        return num_value(v->num, v->line);
    case ST_BOOL:
        if (v->kind != CV_BOOL) return expect(err, where, v, s);
        return cv_clone(v);
    case ST_PATH_BOOL:
        if (v->kind == CV_BOOL) return cv_clone(v);
        /* fall through */
    case ST_STR:
    case ST_PATH:
        if (!is_text(v)) return expect(err, where, v, s);
        if (s->type != ST_STR && !v->str[0]) return expect(err, where, v, s);
        return as_str(v, err, where);
    case ST_CHOICE: return check_choice(v, s, err, where);
    case ST_NAMES: return check_seq(v, s, err, where, item_name, CV_LIST, 1);
    case ST_NUMS: {
        CfgValue *o = check_seq(v, s, err, where, item_num, CV_TUPLE, 0);
        if (o && s->count && o->n != s->count) {
            cfg_value_free(o);
            return expect(err, where, v, s);
        }
        return o;
    }
    case ST_INTS: return check_seq(v, s, err, where, item_pos_int, CV_LIST, 1);
    case ST_SIZE:
        if (v->kind == CV_NUM) {
            if (!is_int(v->num) || v->num < 1 || v->num > 65536) return expect(err, where, v, s);
            return num_value(v->num, v->line);
        }
        if ((v->kind == CV_TUPLE || v->kind == CV_LIST) && v->n == 2) {
            for (int i = 0; i < 2; i++) {
                const CfgValue *it = v->items[i];
                if (it->kind != CV_NUM || !is_int(it->num) || it->num < 1 || it->num > 65536)
                    return expect(err, where, v, s);
            }
            CfgValue *o = cv_clone(v);
            if (!o) return nomem(err, where);
            o->kind = CV_TUPLE;
            return o;
        }
        return expect(err, where, v, s);
    case ST_LR:
        if (v->kind == CV_NUM) {
            if (!(v->num > 0)) return expect(err, where, v, s);
            return num_value(v->num, v->line);
        }
        if (v->kind == CV_SLICE) {
            const CfgValue *lo = v->items[0], *hi = v->items[1];
            if (hi->kind != CV_NUM || !(hi->num > 0) || (lo->kind != CV_NONE && lo->kind != CV_NUM) ||
                (lo->kind == CV_NUM && !(lo->num > 0 && lo->num <= hi->num)))
                return bad(err, where, v, "slice(lo, hi) with 0 < lo <= hi, or slice(hi)");
            CfgValue *o = cv_clone(v);
            return o ? o : nomem(err, where);
        }
        return expect(err, where, v, s);
    case ST_STATS:
        if (v->kind == CV_IDENT) {
            double m[3], d[3];
            int n;
            if (!schema_stats(v->str, m, d, &n)) return expect(err, where, v, s);
            return as_str(v, err, where); /* expanded by the Normalize.from_stats check */
        }
        return check_seq(v, s, err, where, item_num, CV_TUPLE, 0);
    case ST_COLS:
        if (v->kind == CV_TUPLE || v->kind == CV_LIST) return check_seq(v, s, err, where, item_col, CV_LIST, 0);
        return item_col(v, s, err, where);
    case ST_INT_BOOL:
        if (v->kind == CV_BOOL) return cv_clone(v);
        if (v->kind == CV_NUM && is_int(v->num) && v->num >= 1) return num_value(v->num, v->line);
        return expect(err, where, v, s);
    case ST_ANY: {
        CfgValue *o = cv_clone(v);
        return o ? o : nomem(err, where);
    }
    case ST_COMP: return check_comp(v, s, err, where);
    case ST_COMP_LIST: {
        int seq = v->kind == CV_LIST || v->kind == CV_TUPLE;   /* fastai: blocks = (ImageBlock, CategoryBlock) */
        int n = seq ? v->n : 1;
        CfgValue *o = cv_new(CV_LIST, v->line);
        if (!o) return nomem(err, where);
        for (int i = 0; i < n; i++) {
            CfgValue *r = check_comp(seq ? v->items[i] : v, s, err, where);
            if (!r) {
                cfg_value_free(o);
                return NULL;
            }
            if (cv_push(o, r, NULL) != 0) {
                cfg_value_free(r);
                cfg_value_free(o);
                return nomem(err, where);
            }
        }
        return o;
    }
    }
    return expect(err, where, v, s);
}

/* The closest component name of `slot` to `name` (any slot when none there). */
static const SchemaComp *nearest_comp(const char *name, SchemaSlot slot)
{
    const SchemaComp *best = NULL;
    int bd = 1 << 30;
    for (int pass = 0; pass < 2 && !best; pass++)
        for (int i = 0; i < schema_n_comps; i++) {
            const SchemaComp *c = &schema_comps[i];
            if (pass == 0 && c->slot != slot) continue;
            if (!schema_is_near(name, c->name)) continue;
            int d = schema_edit_distance(name, c->name);
            if (d < bd) bd = d, best = c;
        }
    return best;
}

static void arg_names(const SchemaComp *c, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    int n = schema_comp_n_args(c);
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", c->args[i].name);
}

/* Normalize.from_stats(imagenet_stats) → mean=(...), std=(...), as fastai's
 * Normalize.from_stats(*imagenet_stats). */
static CfgValue *expand_stats(CfgValue *call, const CfgValue *orig, Err *err, const char *where)
{
    CfgValue *mean = call->items[0], *std = call->items[1];
    if (mean->kind == CV_STR) {
        if (std->kind != CV_NONE) {
            cfg_value_free(call);
            return bad(err, where, orig, "no std with a named statistic (it brings its own)");
        }
        double m[3], d[3];
        int n = 0;
        schema_stats(mean->str, m, d, &n);
        CfgValue *tm = cv_new(CV_TUPLE, mean->line), *ts = cv_new(CV_TUPLE, mean->line);
        int ok = tm && ts;
        for (int c = 0; ok && c < n; c++) {
            CfgValue *a = num_value(m[c], mean->line), *b = num_value(d[c], mean->line);
            if (!a || cv_push(tm, a, NULL) != 0) ok = 0, cfg_value_free(a);
            if (!b || cv_push(ts, b, NULL) != 0) ok = 0, cfg_value_free(b);
        }
        if (!ok) {
            cfg_value_free(tm);
            cfg_value_free(ts);
            cfg_value_free(call);
            return nomem(err, where);
        }
        cfg_value_free(mean);
        cfg_value_free(std);
        call->items[0] = tm;
        call->items[1] = ts;
        return call;
    }
    if (std->kind != CV_TUPLE || std->n != mean->n) {
        cfg_value_free(call);
        return bad(err, where, orig, "std=(...) with as many numbers as mean");
    }
    return call;
}

/* The schema row of the component v names in slot s->slot, or NULL with err
 * set (a name of another slot, or an unknown one with "did you mean"). */
static const SchemaComp *comp_of(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where)
{
    char names[768], exp[1024];
    if (v->kind != CV_CALL && v->kind != CV_IDENT) {
        check_expected(s, exp, sizeof exp);
        bad(err, where, v, exp);
        return NULL;
    }
    const SchemaComp *c = schema_comp(v->str, s->slot);
    if (c) return c;
    const SchemaComp *other = schema_comp(v->str, SLOT_NONE);
    check_slot_names(s->slot, names, sizeof names);
    if (other) {
        const char *has = schema_slot_names[other->slot], *want = schema_slot_names[s->slot];
        err_set(err, ERR_USAGE, "%s: found %s, %s %s, expected %s %s: %s", where, v->str, schema_article(has), has,
                schema_article(want), want, names);
        return NULL;
    }
    const SchemaComp *near = nearest_comp(v->str, s->slot);
    if (near) {
        err_set(err, ERR_USAGE, "%s: found unknown %s, expected one of %s (did you mean %s?)", where, v->str, names,
                near->name);
    } else {   /* most likely a function of the notebook's own (get_y = get_ctr) */
        spell_function_hint(s->slot, exp, sizeof exp);
        err_set(err, ERR_USAGE, "%s: found %s, which is no fastai component fastc knows: %s", where, v->str, exp);
    }
    return NULL;
}

/* The arguments of call v, positional and keyword, put in c's order into
 * given[] (NULL: not given); 0, or -1 with err set. */
static int match_args(const CfgValue *v, const SchemaComp *c, const CfgValue **given, Err *err, const char *where)
{
    char names[768], sig[768];
    schema_signature(c, sig, sizeof sig);
    int n = schema_comp_n_args(c);
    for (int i = 0; v->kind == CV_CALL && i < v->n; i++) {
        int k = -1;
        if (!v->names[i]) {
            if (i >= n) {
                err_set(err, ERR_USAGE, "%s: found %d positional arguments to %s, expected at most %d: %s", where,
                        i + 1, c->name, n, sig);
                return -1;
            }
            k = i;
        } else {
            for (int j = 0; j < n; j++)
                if (!strcmp(c->args[j].name, v->names[i])) k = j;
            if (k < 0) {
                const char *near = NULL;
                for (int j = 0; j < n && !near; j++)
                    if (schema_is_near(v->names[i], c->args[j].name)) near = c->args[j].name;
                arg_names(c, names, sizeof names);
                if (n == 0)
                    err_set(err, ERR_USAGE, "%s: found argument '%s' to %s, expected no arguments: %s", where,
                            v->names[i], c->name, sig);
                else if (near)
                    err_set(err, ERR_USAGE, "%s: found argument '%s' to %s, expected one of %s (did you mean %s?)",
                            where, v->names[i], c->name, names, near);
                else
                    err_set(err, ERR_USAGE, "%s: found argument '%s' to %s, expected one of %s", where, v->names[i],
                            c->name, names);
                return -1;
            }
            if (given[k]) {
                err_set(err, ERR_USAGE, "%s: found argument '%s' to %s twice, expected it once: %s", where,
                        c->args[k].name, c->name, sig);
                return -1;
            }
        }
        given[k] = v->items[i];
    }
    return 0;
}

/* A component call, checked and resolved: every argument named in the
 * schema's order, the given ones checked against their spec, the others set
 * to their defaults. */
static CfgValue *check_comp(const CfgValue *v, const SchemaSpec *s, Err *err, const char *where)
{
    int spelled = 0;   /* fastai's spellings first (spell.c) */
    CfgValue *sp = spell_component(v, s->slot, err, where, &spelled);
    if (spelled) {
        CfgValue *r = sp ? check_comp(sp, s, err, where) : NULL;
        cfg_value_free(sp);
        return r;
    }
    const SchemaComp *c = comp_of(v, s, err, where);
    if (!c) return NULL;
    const CfgValue *given[SCHEMA_MAX_ARGS] = {0};
    if (match_args(v, c, given, err, where)) return NULL;
    char sig[768], at[1200];
    schema_signature(c, sig, sizeof sig);
    int n = schema_comp_n_args(c);
    CfgValue *call = cv_new(CV_CALL, v->line);
    if (!call || !(call->str = strdup(c->name))) {
        cfg_value_free(call);
        return nomem(err, where);
    }
    call->num = v->kind == CV_IDENT; /* written bare */
    for (int k = 0; k < n; k++) {
        const SchemaArg *a = &c->args[k];
        snprintf(at, sizeof at, "%s: %s() %s", where, c->name, a->name);
        CfgValue *r = NULL;
        if (given[k]) {
            r = check_value(given[k], &a->spec, err, at);
        } else if (a->spec.def) {
            Err derr = {0};
            CfgValue *d = cv_parse(a->spec.def, at, 0, &derr);
            if (d) r = check_value(d, &a->spec, &derr, at);
            cfg_value_free(d);
            if (!r) {
                FASTC_ASSERT(derr.code == ERR_RUNTIME); /* schema defaults always pass (tested) */
                *err = derr;
            }
        } else if (v->kind == CV_IDENT) {
            err_set(err, ERR_USAGE, "%s: found %s without arguments, expected a call %s", where, c->name, sig);
        } else {
            err_set(err, ERR_USAGE, "%s: found no value for argument '%s' of %s, expected %s", where, a->name,
                    c->name, sig);
        }
        if (!r) {
            cfg_value_free(call);
            return NULL;
        }
        char *nm = strdup(a->name);
        if (!nm || cv_push(call, r, nm) != 0) {
            free(nm);
            cfg_value_free(r);
            cfg_value_free(call);
            return nomem(err, where);
        }
    }
    if (!strcmp(c->name, "Normalize.from_stats")) return expand_stats(call, v, err, where);
    if (!strcmp(c->name, "Normalize")) {
        const CfgValue *m = call->items[0], *d = call->items[1];
        if ((m->kind == CV_NONE) != (d->kind == CV_NONE) || (m->kind != CV_NONE && m->n != d->n)) {
            cfg_value_free(call);
            return bad(err, where, v, "both mean and std with as many numbers each, or neither");
        }
    }
    return call;
}
