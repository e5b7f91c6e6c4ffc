/* value.c — fastai call-syntax values: parse, format, free, and the accessors
 * for lists and call arguments.
 *
 * Grammar (a small subset of Python expressions):
 *   value    := item (',' item)* [',']          several items make a CV_LIST
 *   item     := number | string | name [call] | '(' tuple ')' | '[' list ']'
 *   number   := ['-'|'+'] digits ['.' digits] [('e'|'E') ['-'|'+'] digits]   (or '.5')
 *   string   := ['r'] ("'" ... "'" | '"' ... '"')    escapes as in Python; unknown
 *               escapes (\d in a regex) are kept as written, raw strings keep all
 *   name     := ident ('.' ident)*               True/False/None are constants
 *   call     := '(' [arg (',' arg)* [',']] ')'   arg := [ident '='] item
 *   slice(a, b) / slice(b) is a CV_SLICE; (a) is a, (a,) and (a, b) are tuples.
 */
#include "config/schema.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct Parser {
    const char *s;     /* whole text */
    const char *p;     /* cursor */
    const char *where; /* error prefix */
    int line;
    Err *err;
    int failed;
} Parser;

CfgValue *cv_new(CfgKind kind, int line)
{
    CfgValue *v = calloc(1, sizeof *v);
    if (v) {
        v->kind = kind;
        v->line = line;
    }
    return v;
}

int cv_push(CfgValue *v, CfgValue *item, char *name)
{
    CfgValue **items = realloc(v->items, sizeof *items * (size_t)(v->n + 1));
    if (!items) return -1;
    v->items = items;
    if (v->kind == CV_CALL) {
        char **names = realloc(v->names, sizeof *names * (size_t)(v->n + 1));
        if (!names) return -1;
        v->names = names;
        v->names[v->n] = name;
    }
    v->items[v->n++] = item;
    return 0;
}

void cfg_value_free(CfgValue *v)
{
    if (!v) return;
    for (int i = 0; i < v->n; i++) {
        cfg_value_free(v->items[i]);
        if (v->names) free(v->names[i]);
    }
    free(v->items);
    free(v->names);
    free(v->str);
    free(v);
}

CfgValue *cv_clone(const CfgValue *v)
{
    if (!v) return NULL;
    CfgValue *c = cv_new(v->kind, v->line);
    if (!c) return NULL;
    c->num = v->num;
    if (v->str && !(c->str = strdup(v->str))) goto fail;
    for (int i = 0; i < v->n; i++) {
        CfgValue *it = cv_clone(v->items[i]);
        char *nm = NULL;
        if (!it) goto fail;
        if (v->names && v->names[i] && !(nm = strdup(v->names[i]))) {
            cfg_value_free(it);
            goto fail;
        }
        if (cv_push(c, it, nm) != 0) {
            cfg_value_free(it);
            free(nm);
            goto fail;
        }
    }
    return c;
fail:
    cfg_value_free(c);
    return NULL;
}

/* ---- errors ---------------------------------------------------------------- */

/* Describe the text at the cursor for "found ...". */
static void describe_at(const Parser *ps, char *buf, size_t cap)
{
    const char *p = ps->p;
    if (!*p) {
        snprintf(buf, cap, "end of value");
        return;
    }
    size_t n = 0;
    if (isalnum((unsigned char)*p) || *p == '_' || *p == '.') {
        while (p[n] && (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '.') && n < 40) n++;
    } else {
        n = 1;
        /* keep whole UTF-8 sequences together */
        while (p[n] && ((unsigned char)p[n] & 0xC0) == 0x80 && n < 4) n++;
    }
    snprintf(buf, cap, "'%.*s'", (int)n, p);
}

static CfgValue *fail(Parser *ps, const char *expected)
{
    if (!ps->failed) {
        char found[64];
        describe_at(ps, found, sizeof found);
        err_set(ps->err, ERR_USAGE, "%s: found %s at column %d, expected %s", ps->where, found,
                (int)(ps->p - ps->s) + 1, expected);
        ps->failed = 1;
    }
    return NULL;
}

static CfgValue *fail_msg(Parser *ps, const char *fmt, const char *arg)
{
    if (!ps->failed) {
        char msg[512];
        snprintf(msg, sizeof msg, fmt, arg);
        err_set(ps->err, ERR_USAGE, "%s: %s", ps->where, msg);
        ps->failed = 1;
    }
    return NULL;
}

static CfgValue *oom(Parser *ps)
{
    return fail_msg(ps, "%sout of memory", "");
}

/* ---- lexing helpers ---------------------------------------------------------- */

static void skip_ws(Parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n') ps->p++;
}

static int is_ident_start(int c) { return isalpha(c) || c == '_'; }
static int is_ident_char(int c) { return isalnum(c) || c == '_'; }

static CfgValue *parse_item(Parser *ps, int depth);

static CfgValue *parse_number(Parser *ps)
{
    const char *start = ps->p, *q = ps->p;
    if (*q == '-' || *q == '+') q++;
    int digits = 0;
    while (isdigit((unsigned char)*q)) q++, digits++;
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q)) q++, digits++;
    }
    if (!digits) return fail(ps, "a number");
    if (*q == 'e' || *q == 'E') {
        const char *e = q + 1;
        if (*e == '-' || *e == '+') e++;
        if (!isdigit((unsigned char)*e)) {
            ps->p = q;
            return fail(ps, "digits of an exponent (like 1e-3)");
        }
        while (isdigit((unsigned char)*e)) e++;
        q = e;
    }
    if (is_ident_char((unsigned char)*q)) {
        ps->p = q;
        return fail(ps, "a number (like 64, 0.2 or 1e-3)");
    }
    char tmp[128];
    size_t n = (size_t)(q - start);
    if (n >= sizeof tmp) {
        ps->p = start;
        return fail(ps, "a number of at most 127 characters");
    }
    memcpy(tmp, start, n);
    tmp[n] = 0;
    double d = strtod(tmp, NULL);
    if (!isfinite(d)) {
        ps->p = start;
        return fail(ps, "a finite number");
    }
    ps->p = q;
    CfgValue *v = cv_new(CV_NUM, ps->line);
    if (!v) return oom(ps);
    v->num = d;
    return v;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Append code point cp as UTF-8. */
static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A quoted string with Python's escapes decoded.  Long because it is one
 * scanner over Python's escape table (\n \t \xNN \uNNNN, octal, raw
 * strings, unknown escapes kept as written), each case a few lines. */
static CfgValue *parse_string(Parser *ps)
{
    int raw = 0;
    const char *open = ps->p;
    if (*ps->p == 'r' || *ps->p == 'R') raw = 1, ps->p++;
    char q = *ps->p++;
    /* Decoded text is never longer than the source. */
    const char *end = ps->p;
    while (*end && *end != q) {
        if (*end == '\\' && end[1]) end++;
        end++;
    }
    if (!*end) {
        ps->p = open;
        char what[80];
        snprintf(what, sizeof what, "%.30s", open);
        return fail_msg(ps, "found unterminated string %s, expected a closing quote", what);
    }
    char *out = malloc((size_t)(end - ps->p) + 1);
    if (!out) return oom(ps);
    size_t n = 0;
    const char *p = ps->p;
    while (p < end) {
        if (*p != '\\' || raw) {
            if (*p == '\\' && raw && p + 1 < end) out[n++] = *p++; /* r'\'' keeps both */
            out[n++] = *p++;
            continue;
        }
        p++; /* backslash */
        char c = *p++;
        switch (c) {
        case '\\': out[n++] = '\\'; break;
        case '\'': out[n++] = '\''; break;
        case '"': out[n++] = '"'; break;
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'a': out[n++] = '\a'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'v': out[n++] = '\v'; break;
        case 'x': {
            int h1 = p < end ? hexval((unsigned char)p[0]) : -1;
            int h2 = p + 1 < end ? hexval((unsigned char)p[1]) : -1;
            if (h1 < 0 || h2 < 0) {
                free(out);
                ps->p = p - 2;
                return fail(ps, "two hex digits after \\x");
            }
            unsigned cp = (unsigned)(h1 * 16 + h2);
            if (cp == 0) {
                free(out);
                ps->p = p - 2;
                return fail(ps, "no NUL character in a string");
            }
            n += put_utf8(out + n, cp);
            p += 2;
            break;
        }
        case 'u': {
            unsigned cp = 0;
            for (int i = 0; i < 4; i++) {
                int h = p + i < end ? hexval((unsigned char)p[i]) : -1;
                if (h < 0) {
                    free(out);
                    ps->p = p - 2;
                    return fail(ps, "four hex digits after \\u");
                }
                cp = cp * 16 + (unsigned)h;
            }
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
                free(out);
                ps->p = p - 2;
                return fail(ps, "a character code other than NUL or a surrogate");
            }
            n += put_utf8(out + n, cp); /* at most 3 bytes for 6 source bytes */
            p += 4;
            break;
        }
        case '0':
            free(out);
            ps->p = p - 2;
            return fail(ps, "no NUL character in a string");
        default: /* Python keeps unknown escapes: '\d' is backslash d */
            out[n++] = '\\';
            out[n++] = c;
        }
    }
    out[n] = 0;
    ps->p = end + 1;
    CfgValue *v = cv_new(CV_STR, ps->line);
    if (!v) {
        free(out);
        return oom(ps);
    }
    v->str = out;
    return v;
}

/* Items until `close`, separated by commas; into v (a TUPLE, LIST or CALL). */
static int parse_seq(Parser *ps, CfgValue *v, char close, int depth, int *trailing_comma)
{
    *trailing_comma = 0;
    skip_ws(ps);
    while (*ps->p != close) {
        char *name = NULL;
        if (v->kind == CV_CALL && is_ident_start((unsigned char)*ps->p)) {
            /* keyword argument? ident '=' (but not '==') */
            const char *q = ps->p;
            while (is_ident_char((unsigned char)*q)) q++;
            const char *e = q;
            while (*e == ' ' || *e == '\t') e++;
            if (*e == '=' && e[1] != '=') {
                name = strndup(ps->p, (size_t)(q - ps->p));
                if (!name) return oom(ps), -1;
                for (int i = 0; i < v->n; i++)
                    if (v->names[i] && strcmp(v->names[i], name) == 0) {
                        free(name);
                        fail_msg(ps, "found argument '%s' twice, expected each argument once",
                                 v->names[i]);
                        return -1;
                    }
                ps->p = e + 1;
                skip_ws(ps);
            } else if (v->n > 0 && v->names[v->n - 1]) {
                fail(ps, "a keyword argument (name=value): positional arguments come first");
                return -1;
            }
        } else if (v->kind == CV_CALL && v->n > 0 && v->names[v->n - 1]) {
            fail(ps, "a keyword argument (name=value): positional arguments come first");
            return -1;
        }
        /* Python's unpacking of an argument or item: fastai writes
         * Normalize.from_stats(*imagenet_stats) and [*aug_transforms(), ...];
         * the components take the named statistic, or the component, as it is */
        if (!name && *ps->p == '*' && ps->p[1] != '*') {
            ps->p++;
            skip_ws(ps);
        }
        CfgValue *it = parse_item(ps, depth + 1);
        if (!it) {
            free(name);
            return -1;
        }
        if (cv_push(v, it, name) != 0) {
            cfg_value_free(it);
            free(name);
            oom(ps);
            return -1;
        }
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            *trailing_comma = 1;
            continue;
        }
        *trailing_comma = 0;
        if (*ps->p != close) {
            char exp[64];
            snprintf(exp, sizeof exp, "',' or '%c'", close);
            if (!*ps->p) {
                snprintf(exp, sizeof exp, "a closing '%c'", close);
                fail(ps, exp);
            } else {
                fail(ps, exp);
            }
            return -1;
        }
    }
    ps->p++; /* close */
    return 0;
}

/* A lambda expression, from after the keyword to the ',' or closing bracket
 * that ends it (strings and brackets inside skipped): read as the name
 * `lambda` (a keyword Python allows nowhere else), which the schema checks
 * refuse, saying that a function cannot be written in a config (spell.c). */
static CfgValue *parse_lambda(Parser *ps)
{
    int depth = 0;
    char quote = 0;
    for (; *ps->p; ps->p++) {
        char c = *ps->p;
        if (quote) {
            if (c == '\\' && ps->p[1]) ps->p++;
            else if (c == quote) quote = 0;
            continue;
        }
        if (c == '\'' || c == '"') quote = c;
        else if (c == '(' || c == '[' || c == '{') depth++;
        else if ((c == ')' || c == ']' || c == '}') && depth-- == 0) break;
        else if (c == ',' && depth == 0) break;
    }
    if (quote) return fail(ps, "a closing quote in the lambda");
    CfgValue *v = cv_new(CV_IDENT, ps->line);
    if (!v || !(v->str = strdup("lambda"))) {
        cfg_value_free(v);
        return oom(ps);
    }
    return v;
}

/* A name and what may follow it: True/False/None, a dotted name, slice(...)
 * or a call with its positional and keyword arguments.  Long because the
 * grammar after a name is one decision, kept in one place. */
static CfgValue *parse_name(Parser *ps, int depth)
{
    const char *start = ps->p;
    for (;;) {
        while (is_ident_char((unsigned char)*ps->p)) ps->p++;
        if (*ps->p == '.' && is_ident_start((unsigned char)ps->p[1])) {
            ps->p++;
            continue;
        }
        break;
    }
    size_t len = (size_t)(ps->p - start);
    if (*ps->p == '.') return fail(ps, "a name after '.'");
    if (len == 6 && !strncmp(start, "lambda", 6) && !is_ident_char((unsigned char)*ps->p)) return parse_lambda(ps);
    const char *after = ps->p;
    skip_ws(ps);
    if (*ps->p != '(') {
        ps->p = after;
        CfgValue *v;
        if ((len == 4 && (!strncmp(start, "True", 4) || !strncmp(start, "true", 4))) ||
            (len == 5 && (!strncmp(start, "False", 5) || !strncmp(start, "false", 5)))) {
            if (!(v = cv_new(CV_BOOL, ps->line))) return oom(ps);
            v->num = (*start == 'T' || *start == 't');
            return v;
        }
        if (len == 4 && !strncmp(start, "None", 4)) {
            if (!(v = cv_new(CV_NONE, ps->line))) return oom(ps);
            return v;
        }
        if (!(v = cv_new(CV_IDENT, ps->line))) return oom(ps);
        if (!(v->str = strndup(start, len))) {
            cfg_value_free(v);
            return oom(ps);
        }
        return v;
    }
    ps->p++; /* '(' */
    CfgValue *v = cv_new(CV_CALL, ps->line);
    if (!v) return oom(ps);
    if (!(v->str = strndup(start, len))) {
        cfg_value_free(v);
        return oom(ps);
    }
    int trailing;
    if (parse_seq(ps, v, ')', depth, &trailing) != 0) {
        cfg_value_free(v);
        return NULL;
    }
    if (strcmp(v->str, "slice") == 0) {
        for (int i = 0; i < v->n; i++)
            if (v->names[i]) {
                cfg_value_free(v);
                return fail_msg(ps, "found slice() with a keyword argument, expected %s",
                                "slice(lo, hi) or slice(hi)");
            }
        if (v->n < 1 || v->n > 2) {
            cfg_value_free(v);
            return fail_msg(ps, "found slice() with a wrong number of arguments, expected %s",
                            "slice(lo, hi) or slice(hi)");
        }
        CfgValue *s = cv_new(CV_SLICE, v->line);
        if (!s) {
            cfg_value_free(v);
            return oom(ps);
        }
        CfgValue *lo = v->n == 2 ? v->items[0] : cv_new(CV_NONE, v->line);
        CfgValue *hi = v->items[v->n - 1];
        if (!lo || cv_push(s, lo, NULL) != 0) {
            if (v->n != 2) cfg_value_free(lo);
            cfg_value_free(s);
            cfg_value_free(v);
            return oom(ps);
        }
        if (v->n == 2) v->items[0] = NULL;
        if (cv_push(s, hi, NULL) != 0) {
            cfg_value_free(s);
            cfg_value_free(v);
            return oom(ps);
        }
        v->items[v->n - 1] = NULL;
        cfg_value_free(v);
        return s;
    }
    return v;
}

static CfgValue *parse_item(Parser *ps, int depth)
{
    if (depth > MAX_DEPTH) return fail(ps, "at most 64 levels of nesting");
    skip_ws(ps);
    int c = (unsigned char)*ps->p;
    if (c == '\'' || c == '"' || ((c == 'r' || c == 'R') && (ps->p[1] == '\'' || ps->p[1] == '"')))
        return parse_string(ps);
    if (isdigit(c) || ((c == '-' || c == '+' || c == '.') && (isdigit((unsigned char)ps->p[1]) ||
                                                             (ps->p[1] == '.' && c != '.'))))
        return parse_number(ps);
    if (is_ident_start(c)) return parse_name(ps, depth);
    if (c == '(' || c == '[') {
        const char *open = ps->p;
        ps->p++;
        CfgValue *v = cv_new(c == '(' ? CV_TUPLE : CV_LIST, ps->line);
        if (!v) return oom(ps);
        int trailing;
        if (parse_seq(ps, v, c == '(' ? ')' : ']', depth, &trailing) != 0) {
            cfg_value_free(v);
            if (!*ps->p && !ps->failed) ps->p = open;
            return NULL;
        }
        if (c == '(' && v->n == 1 && !trailing) { /* (a) is just a */
            CfgValue *inner = v->items[0];
            v->items[0] = NULL;
            cfg_value_free(v);
            return inner;
        }
        return v;
    }
    if (!c) return fail(ps, "a value");
    return fail(ps, "a value (number, 'string', name, Name(...), (tuple), [list] or slice())");
}

CfgValue *cv_parse(const char *text, const char *where, int line, Err *err)
{
    Parser ps = {.s = text, .p = text, .where = where, .line = line, .err = err};
    skip_ws(&ps);
    if (!*ps.p) {
        fail(&ps, "a value");
        return NULL;
    }
    CfgValue *first = parse_item(&ps, 0);
    if (!first) return NULL;
    skip_ws(&ps);
    if (!*ps.p) return first;
    if (*ps.p != ',') {
        cfg_value_free(first);
        return fail(&ps, "',' between items or the end of the value");
    }
    CfgValue *list = cv_new(CV_LIST, line);
    if (!list || cv_push(list, first, NULL) != 0) {
        cfg_value_free(list);
        cfg_value_free(first);
        return oom(&ps);
    }
    while (*ps.p == ',') {
        ps.p++;
        skip_ws(&ps);
        if (!*ps.p) break; /* trailing comma */
        CfgValue *it = parse_item(&ps, 0);
        if (!it) {
            cfg_value_free(list);
            return NULL;
        }
        if (cv_push(list, it, NULL) != 0) {
            cfg_value_free(it);
            cfg_value_free(list);
            return oom(&ps);
        }
        skip_ws(&ps);
        if (*ps.p && *ps.p != ',') {
            cfg_value_free(list);
            return fail(&ps, "',' between items or the end of the value");
        }
    }
    return list;
}

void cv_one_line(Err *err)
{
    if (!err) return;
    for (char *p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
}

CfgValue *cfg_value_parse(const char *text, const char *file, int line, Err *err)
{
    char where[1100];
    snprintf(where, sizeof where, "%s:%d", file ? file : "<value>", line);
    CfgValue *v = cv_parse(text, where, line, err);
    if (!v) cv_one_line(err);
    return v;
}

/* ---- formatting ---------------------------------------------------------------- */

typedef struct Out {
    char *buf;
    size_t cap, len;
} Out;

static void out_str(Out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (o->len + 1 < o->cap) o->buf[o->len] = s[i];
        o->len++;
    }
    if (o->cap) o->buf[o->len < o->cap ? o->len : o->cap - 1] = 0;
}

static void out_s(Out *o, const char *s) { out_str(o, s, strlen(s)); }

static void format_num(double d, char *buf, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
}

static void format_string(Out *o, const char *s)
{
    /* A raw string reads best for regexes: r'^(.+)_\d+\.jpg$'. */
    size_t n = strlen(s);
    int has_bs = strchr(s, '\\') != NULL, plain = 1;
    for (const char *p = s; *p; p++)
        if (*p == '\'' || (unsigned char)*p < 0x20 || *p == 0x7f) plain = 0;
    if (has_bs && plain && s[n - 1] != '\\') {
        int trailing_bs = 0;
        for (size_t i = n; i > 0 && s[i - 1] == '\\'; i--) trailing_bs++;
        if (trailing_bs == 0) {
            out_s(o, "r'");
            out_s(o, s);
            out_s(o, "'");
            return;
        }
    }
    out_s(o, "'");
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        switch (c) {
        case '\\': out_s(o, "\\\\"); break;
        case '\'': out_s(o, "\\'"); break;
        case '\n': out_s(o, "\\n"); break;
        case '\t': out_s(o, "\\t"); break;
        case '\r': out_s(o, "\\r"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof esc, "\\x%02x", c);
                out_s(o, esc);
            } else {
                out_str(o, p, 1);
            }
        }
    }
    out_s(o, "'");
}

static void format_value(Out *o, const CfgValue *v, int top)
{
    char num[64];
    switch (v->kind) {
    case CV_NUM:
        format_num(v->num, num, sizeof num);
        out_s(o, num);
        break;
    case CV_STR: format_string(o, v->str); break;
    case CV_IDENT: out_s(o, v->str); break;
    case CV_BOOL: out_s(o, v->num != 0 ? "True" : "False"); break;
    case CV_NONE: out_s(o, "None"); break;
    case CV_TUPLE:
        out_s(o, "(");
        for (int i = 0; i < v->n; i++) {
            if (i) out_s(o, ", ");
            format_value(o, v->items[i], 0);
        }
        out_s(o, v->n == 1 ? ",)" : ")");
        break;
    case CV_LIST:
        if (!top || v->n == 0) out_s(o, "[");
        for (int i = 0; i < v->n; i++) {
            if (i) out_s(o, ", ");
            format_value(o, v->items[i], 0);
        }
        if (!top || v->n == 0) out_s(o, "]");
        /* a lone list item keeps a trailing comma, or "[a]," would read back as "[a]" */
        if (top && v->n == 1 && v->items[0]->kind == CV_LIST) out_s(o, ",");
        break;
    case CV_SLICE:
        out_s(o, "slice(");
        if (v->n == 2 && v->items[0]->kind != CV_NONE) {
            format_value(o, v->items[0], 0);
            out_s(o, ", ");
        }
        if (v->n == 2) format_value(o, v->items[1], 0);
        out_s(o, ")");
        break;
    case CV_CALL:
        out_s(o, v->str);
        if (v->n == 0 && v->num == 1) break; /* written bare: resnet18, error_rate */
        out_s(o, "(");
        for (int i = 0; i < v->n; i++) {
            if (i) out_s(o, ", ");
            if (v->names && v->names[i]) {
                out_s(o, v->names[i]);
                out_s(o, "=");
            }
            format_value(o, v->items[i], 0);
        }
        out_s(o, ")");
        break;
    }
}

void cfg_value_format(const CfgValue *v, char *buf, size_t cap)
{
    Out o = {buf, cap, 0};
    if (cap) buf[0] = 0;
    if (!v) {
        out_s(&o, "None");
        return;
    }
    format_value(&o, v, 1);
}

void cv_describe(const CfgValue *v, char *buf, size_t cap)
{
    char tmp[96];
    cfg_value_format(v, tmp, sizeof tmp);
    if (strlen(tmp) >= 60) memcpy(tmp + 56, "...", 4);
    switch (v ? v->kind : CV_NONE) {
    case CV_NUM: snprintf(buf, cap, "number %s", tmp); break;
    case CV_STR: snprintf(buf, cap, "string %s", tmp); break;
    case CV_IDENT: snprintf(buf, cap, "name %s", tmp); break;
    case CV_TUPLE: snprintf(buf, cap, "tuple %s", tmp); break;
    case CV_LIST: snprintf(buf, cap, "list %s", tmp); break;
    default: snprintf(buf, cap, "%s", tmp);
    }
}

/* ---- accessors ------------------------------------------------------------------ */

const CfgValue *cfg_arg(const CfgValue *call, const char *name)
{
    FASTC_ASSERT(call && call->kind == CV_CALL);
    for (int i = 0; i < call->n; i++)
        if (call->names && call->names[i] && strcmp(call->names[i], name) == 0)
            return call->items[i]->kind == CV_NONE ? NULL : call->items[i];
    fprintf(stderr, "fastc: internal error: %s() has no argument '%s'\n", call->str, name);
    FASTC_ASSERT(!"argument not in the schema");
    return NULL;
}

double cfg_arg_num(const CfgValue *call, const char *name)
{
    const CfgValue *v = cfg_arg(call, name);
    FASTC_ASSERT(v && (v->kind == CV_NUM || v->kind == CV_BOOL));
    return v->num;
}

const char *cfg_arg_str(const CfgValue *call, const char *name)
{
    const CfgValue *v = cfg_arg(call, name);
    if (!v) return NULL;
    FASTC_ASSERT(v->kind == CV_STR || v->kind == CV_IDENT);
    return v->str;
}

int cfg_arg_choice(const CfgValue *call, const char *name)
{
    const CfgValue *v = cfg_arg(call, name);
    const SchemaComp *c = schema_comp(call->str, SLOT_NONE);
    FASTC_ASSERT(c && v && v->kind == CV_STR);
    for (int k = 0; k < schema_comp_n_args(c); k++)
        if (!strcmp(c->args[k].name, name) && c->args[k].spec.type == ST_CHOICE) {
            int i = schema_choice_index(c->args[k].spec.choices, v->str);
            FASTC_ASSERT(i >= 0);
            return i;
        }
    FASTC_ASSERT(!"not a choice argument");
    return -1;
}

int cfg_list_len(const CfgValue *v)
{
    if (!v) return 0;
    return v->kind == CV_LIST || v->kind == CV_TUPLE ? v->n : 1;
}

const CfgValue *cfg_list_at(const CfgValue *v, int i)
{
    FASTC_ASSERT(v && i >= 0 && i < cfg_list_len(v));
    return v->kind == CV_LIST || v->kind == CV_TUPLE ? v->items[i] : v;
}
