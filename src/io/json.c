/* json.c — strict JSON reader and text builder (see json.h). */
#include "io/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reader ------------------------------------------------------------- */

typedef struct Parser {
    const unsigned char *s;
    size_t len, pos;
    Err *err;
    int failed;
} Parser;

static int fail(Parser *p, const char *what)
{
    if (!p->failed) {
        if (p->pos >= p->len)
            err_set(p->err, ERR_RUNTIME, "byte %zu: unexpected end of JSON text, expected %s", p->pos, what);
        else if (p->s[p->pos] >= 0x20 && p->s[p->pos] < 0x7f)
            err_set(p->err, ERR_RUNTIME, "byte %zu: expected %s, found '%c'", p->pos, what, p->s[p->pos]);
        else
            err_set(p->err, ERR_RUNTIME, "byte %zu: expected %s, found byte 0x%02x", p->pos, what, p->s[p->pos]);
    }
    p->failed = 1;
    return -1;
}

static void skip_ws(Parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int peek(const Parser *p) { return p->pos < p->len ? p->s[p->pos] : -1; }

static void free_value(Json *j)
{
    if (j->type == JSON_STRING) free(j->str);
    if (j->type == JSON_ARRAY || j->type == JSON_OBJECT) {
        for (size_t i = 0; i < j->n; i++) {
            free_value(&j->items[i]);
            if (j->keys) free(j->keys[i]);
        }
        free(j->items);
        free(j->keys);
    }
    memset(j, 0, sizeof *j);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(Parser *p, unsigned *out)
{
    if (p->len - p->pos < 4) return fail(p, "4 hex digits after \\u");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[p->pos]);
        if (h < 0) return fail(p, "a hex digit in \\u escape");
        v = v * 16 + (unsigned)h;
        p->pos++;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the valid UTF-8 sequence at s[0..avail), or 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp, min;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (avail < n) return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

/* At the opening quote.  Decoded text is never longer than the source. */
static int parse_string(Parser *p, char **out, size_t *out_len)
{
    p->pos++; /* '"' */
    size_t start = p->pos, end = start;
    /* Find the closing quote first to size the buffer. */
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) {
        p->pos = p->len;
        return fail(p, "a closing '\"'");
    }
    char *o = malloc(end - start + 1);
    if (!o) return fail(p, "(out of memory)");
    size_t k = 0;
    while (p->pos < end) {
        unsigned char c = p->s[p->pos];
        if (c < 0x20) { free(o); return fail(p, "no control characters in a string (escape them)"); }
        if (c == '\\') {
            p->pos++;
            int e = peek(p);
            unsigned cp;
            switch (e) {
            case '"': o[k++] = '"'; p->pos++; break;
            case '\\': o[k++] = '\\'; p->pos++; break;
            case '/': o[k++] = '/'; p->pos++; break;
            case 'b': o[k++] = '\b'; p->pos++; break;
            case 'f': o[k++] = '\f'; p->pos++; break;
            case 'n': o[k++] = '\n'; p->pos++; break;
            case 'r': o[k++] = '\r'; p->pos++; break;
            case 't': o[k++] = '\t'; p->pos++; break;
            case 'u':
                p->pos++;
                if (read_hex4(p, &cp)) { free(o); return -1; }
                if (cp >= 0xdc00 && cp <= 0xdfff) { p->pos -= 4; free(o); return fail(p, "a high surrogate before a low one"); }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                        free(o);
                        return fail(p, "a \\u low surrogate after a high surrogate");
                    }
                    p->pos += 2;
                    if (read_hex4(p, &lo)) { free(o); return -1; }
                    if (lo < 0xdc00 || lo > 0xdfff) { p->pos -= 4; free(o); return fail(p, "a low surrogate (DC00-DFFF)"); }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0) { p->pos -= 4; free(o); return fail(p, "no \\u0000 in strings"); }
                k += put_utf8(o + k, cp);
                break;
            default:
                free(o);
                return fail(p, "a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
            }
            if (p->pos > end) { free(o); return fail(p, "a closing '\"'"); }
        } else {
            size_t n = utf8_len(p->s + p->pos, end - p->pos);
            if (!n) { free(o); return fail(p, "valid UTF-8 text"); }
            memcpy(o + k, p->s + p->pos, n);
            k += n;
            p->pos += n;
        }
    }
    o[k] = 0;
    p->pos = end + 1;
    *out = o;
    *out_len = k;
    return 0;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int parse_number(Parser *p, Json *j)
{
    size_t start = p->pos;
    int is_int = 1;
    if (peek(p) == '-') p->pos++;
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p))) return fail(p, "no leading zeros in a number");
    } else if (is_digit(peek(p))) {
        while (is_digit(peek(p))) p->pos++;
    } else {
        return fail(p, "a digit");
    }
    if (peek(p) == '.') {
        is_int = 0;
        p->pos++;
        if (!is_digit(peek(p))) return fail(p, "a digit after '.'");
        while (is_digit(peek(p))) p->pos++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        is_int = 0;
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-') p->pos++;
        if (!is_digit(peek(p))) return fail(p, "a digit in the exponent");
        while (is_digit(peek(p))) p->pos++;
    }
    size_t n = p->pos - start;
    char small[128];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) return fail(p, "(out of memory)");
    memcpy(buf, p->s + start, n);
    buf[n] = 0;
    j->type = JSON_NUMBER;
    j->num = strtod(buf, NULL);
    j->is_int = 0;
    if (is_int) {
        /* Exact int64 when it fits (offsets past 2^53 stay exact). */
        const char *q = buf;
        int neg = *q == '-';
        if (neg) q++;
        uint64_t v = 0;
        int ok = 1;
        for (; *q; q++) {
            unsigned d = (unsigned)(*q - '0');
            if (v > (UINT64_MAX - d) / 10) { ok = 0; break; }
            v = v * 10 + d;
        }
        if (ok && !neg && v <= (uint64_t)INT64_MAX) j->is_int = 1, j->i = (int64_t)v;
        if (ok && neg && v <= (uint64_t)INT64_MAX + 1) j->is_int = 1, j->i = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    }
    if (buf != small) free(buf);
    return 0;
}

static int match_word(Parser *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0) return fail(p, "a JSON value");
    p->pos += n;
    return 0;
}

static int parse_value(Parser *p, Json *j, int depth);

static int push(Parser *p, Json *j, size_t *cap, int with_keys)
{
    if (j->n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    Json *items = realloc(j->items, nc * sizeof *items);
    if (!items) return fail(p, "(out of memory)");
    j->items = items;
    if (with_keys) {
        char **keys = realloc(j->keys, nc * sizeof *keys);
        if (!keys) return fail(p, "(out of memory)");
        j->keys = keys;
    }
    *cap = nc;
    return 0;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_duplicate_keys(Parser *p, const Json *j, size_t obj_start)
{
    if (j->n < 2) return 0;
    char **sorted = malloc(j->n * sizeof *sorted);
    if (!sorted) return fail(p, "(out of memory)");
    memcpy(sorted, j->keys, j->n * sizeof *sorted);
    qsort(sorted, j->n, sizeof *sorted, cmp_strp);
    for (size_t i = 1; i < j->n; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            err_set(p->err, ERR_RUNTIME, "byte %zu: duplicate key \"%.200s\" in object", obj_start, sorted[i]);
            p->failed = 1;
            free(sorted);
            return -1;
        }
    free(sorted);
    return 0;
}

static int parse_value(Parser *p, Json *j, int depth)
{
    memset(j, 0, sizeof *j);
    skip_ws(p);
    int c = peek(p);
    if (c == '{' || c == '[') {
        if (depth >= JSON_MAX_DEPTH) return fail(p, "nesting no deeper than 64");
        size_t start = p->pos;
        int obj = c == '{';
        j->type = obj ? JSON_OBJECT : JSON_ARRAY;
        size_t cap = 0;
        p->pos++;
        skip_ws(p);
        if (peek(p) == (obj ? '}' : ']')) { p->pos++; return 0; }
        for (;;) {
            if (push(p, j, &cap, obj)) return -1;
            if (obj) {
                skip_ws(p);
                if (peek(p) != '"') return fail(p, "a '\"' starting an object key");
                size_t kl;
                if (parse_string(p, &j->keys[j->n], &kl)) return -1;
                skip_ws(p);
                if (peek(p) != ':') { free(j->keys[j->n]); return fail(p, "':' after an object key"); }
                p->pos++;
            }
            if (parse_value(p, &j->items[j->n], depth + 1)) {
                j->n++; /* the partial value and key get freed with the rest */
                return -1;
            }
            j->n++;
            skip_ws(p);
            c = peek(p);
            if (c == ',') {
                p->pos++;
                skip_ws(p);
                if (peek(p) == (obj ? '}' : ']')) return fail(p, obj ? "another key (no trailing commas)" : "another value (no trailing commas)");
                continue;
            }
            if (c == (obj ? '}' : ']')) { p->pos++; break; }
            return fail(p, obj ? "',' or '}'" : "',' or ']'");
        }
        if (obj && check_duplicate_keys(p, j, start)) return -1;
        return 0;
    }
    if (c == '"') {
        j->type = JSON_STRING;
        return parse_string(p, &j->str, &j->str_len);
    }
    if (c == '-' || is_digit(c)) return parse_number(p, j);
    if (c == 't') { j->type = JSON_BOOL; j->boolean = 1; return match_word(p, "true"); }
    if (c == 'f') { j->type = JSON_BOOL; j->boolean = 0; return match_word(p, "false"); }
    if (c == 'n') { j->type = JSON_NULL; return match_word(p, "null"); }
    return fail(p, "a JSON value");
}

Json *json_parse(const char *text, size_t len, Err *err)
{
    Parser p = {(const unsigned char *)text, len, 0, err, 0};
    Json *j = calloc(1, sizeof *j);
    if (!j) {
        err_set(err, ERR_RUNTIME, "out of memory parsing JSON");
        return NULL;
    }
    if (parse_value(&p, j, 0) == 0) {
        skip_ws(&p);
        if (p.pos == p.len) return j;
        fail(&p, "the end of the JSON text");
    }
    json_free(j);
    return NULL;
}

void json_free(Json *j)
{
    if (!j) return;
    free_value(j);
    free(j);
}

const Json *json_get(const Json *j, const char *key)
{
    if (!j || j->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < j->n; i++)
        if (strcmp(j->keys[i], key) == 0) return &j->items[i];
    return NULL;
}

size_t json_len(const Json *j)
{
    return j && (j->type == JSON_ARRAY || j->type == JSON_OBJECT) ? j->n : 0;
}

const Json *json_at(const Json *j, size_t i) { return i < json_len(j) ? &j->items[i] : NULL; }

const char *json_key_at(const Json *j, size_t i)
{
    return j && j->type == JSON_OBJECT && i < j->n ? j->keys[i] : NULL;
}

const char *json_type_name(JsonType t)
{
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < 6 ? names[t] : "?";
}

/* ---- builder ------------------------------------------------------------ */

static int reserve(JsonBuf *b, size_t extra)
{
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + extra + 1) nc *= 2;
    char *s = realloc(b->s, nc);
    if (!s) {
        b->oom = 1;
        return -1;
    }
    b->s = s;
    b->cap = nc;
    return 0;
}

void json_buf_raw(JsonBuf *b, const char *s, size_t n)
{
    if (reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void json_buf_putc(JsonBuf *b, char c) { json_buf_raw(b, &c, 1); }

void json_buf_printf(JsonBuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void json_buf_str(JsonBuf *b, const char *s)
{
    json_buf_putc(b, '"');
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        switch (*q) {
        case '"': json_buf_raw(b, "\\\"", 2); break;
        case '\\': json_buf_raw(b, "\\\\", 2); break;
        case '\n': json_buf_raw(b, "\\n", 2); break;
        case '\r': json_buf_raw(b, "\\r", 2); break;
        case '\t': json_buf_raw(b, "\\t", 2); break;
        default:
            if (*q < 0x20) json_buf_printf(b, "\\u%04x", *q);
            else json_buf_putc(b, (char)*q);
        }
    }
    json_buf_putc(b, '"');
}

/* The shortest %.Ng (N = lo..hi) that reads back as the same value: 0.2, not
 * 0.20000000000000001. */
static void shortest(JsonBuf *b, double v, int lo, int hi, int as_float)
{
    char buf[40];
    for (int p = lo; p <= hi; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        double r = strtod(buf, NULL);
        if (as_float ? (float)r == (float)v : r == v) break;
    }
    json_buf_raw(b, buf, strlen(buf));
}

void json_buf_num(JsonBuf *b, double v)
{
    if (!isfinite(v)) json_buf_raw(b, "null", 4);
    else shortest(b, v, 15, 17, 0);
}

void json_buf_float(JsonBuf *b, float v)
{
    if (!isfinite(v)) json_buf_raw(b, "null", 4);
    else shortest(b, (double)v, 6, 9, 1);
}

void json_buf_int(JsonBuf *b, long long v) { json_buf_printf(b, "%lld", v); }

void json_buf_bool(JsonBuf *b, int v) { json_buf_raw(b, v ? "true" : "false", v ? 4 : 5); }

void json_buf_key(JsonBuf *b, const char *key)
{
    if (b->len > 0 && b->s[b->len - 1] != '{' && b->s[b->len - 1] != '[') json_buf_raw(b, ", ", 2);
    json_buf_str(b, key);
    json_buf_raw(b, ": ", 2);
}

void json_buf_sep(JsonBuf *b)
{
    if (b->len > 0 && b->s[b->len - 1] != '{' && b->s[b->len - 1] != '[') json_buf_raw(b, ", ", 2);
}

void json_buf_free(JsonBuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ---- lists kept as JSON text ------------------------------------------- */

char *json_encode_strings(const char *const *v, size_t n)
{
    JsonBuf b = {0};
    json_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) json_buf_putc(&b, ',');
        json_buf_str(&b, v[i]);
    }
    json_buf_putc(&b, ']');
    if (b.oom) {
        json_buf_free(&b);
        return NULL;
    }
    return b.s;
}

char *json_encode_numbers(const double *v, size_t n)
{
    JsonBuf b = {0};
    json_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) json_buf_putc(&b, ',');
        json_buf_num(&b, v[i]);
    }
    json_buf_putc(&b, ']');
    if (b.oom) {
        json_buf_free(&b);
        return NULL;
    }
    return b.s;
}

void json_strings_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

int json_decode_strings(const char *text, const char *what, char ***out, size_t *n, Err *err)
{
    *out = NULL;
    *n = 0;
    Json *j = json_parse(text, strlen(text), err);
    if (!j) return err_prefix(err, "%s: ", what);
    if (j->type != JSON_ARRAY) {
        json_free(j);
        return err_set(err, ERR_RUNTIME, "%s: expected a JSON list of strings", what);
    }
    char **v = calloc(j->n ? j->n : 1, sizeof *v);
    if (!v) {
        json_free(j);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", what);
    }
    for (size_t i = 0; i < j->n; i++) {
        if (j->items[i].type != JSON_STRING) {
            int rc = err_set(err, ERR_RUNTIME, "%s: item %zu is a %s, expected a string", what, i,
                             json_type_name(j->items[i].type));
            json_strings_free(v, j->n);
            json_free(j);
            return rc;
        }
        v[i] = j->items[i].str; /* steal */
        j->items[i].str = NULL;
        j->items[i].type = JSON_NULL;
    }
    *out = v;
    *n = j->n;
    json_free(j);
    return 0;
}

int json_decode_numbers(const char *text, const char *what, double *out, size_t cap, size_t *n, Err *err)
{
    *n = 0;
    Json *j = json_parse(text, strlen(text), err);
    if (!j) return err_prefix(err, "%s: ", what);
    int rc = 0;
    if (j->type != JSON_ARRAY) {
        rc = err_set(err, ERR_RUNTIME, "%s: expected a JSON list of numbers", what);
    } else if (j->n > cap) {
        rc = err_set(err, ERR_RUNTIME, "%s: %zu numbers, at most %zu expected", what, j->n, cap);
    } else {
        for (size_t i = 0; i < j->n && !rc; i++) {
            if (j->items[i].type != JSON_NUMBER)
                rc = err_set(err, ERR_RUNTIME, "%s: item %zu is a %s, expected a number", what, i,
                             json_type_name(j->items[i].type));
            else
                out[i] = j->items[i].num;
        }
        if (!rc) *n = j->n;
    }
    json_free(j);
    return rc;
}
