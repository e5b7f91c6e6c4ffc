/* labels.c — see labels.h. */
#include "data/labels.h"

#include "core/utf8.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *label_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The n-th folder name above the file (n = 1: parent). */
static const char *ancestor(const char *path, int n, char *buf, size_t cap)
{
    size_t end = strlen(path);
    while (end > 0 && path[end - 1] == '/') end--;  /* trailing slashes */
    for (int k = 0; k <= n; k++) {
        /* drop the last component */
        size_t s = end;
        while (s > 0 && path[s - 1] != '/') s--;
        if (k == n) {
            size_t len = end - s;
            if (len >= cap) len = cap - 1;
            memcpy(buf, path + s, len);
            buf[len] = 0;
            return buf;
        }
        if (s == 0) break;
        end = s - 1;
        while (end > 0 && path[end - 1] == '/') end--;
    }
    if (cap) buf[0] = 0;
    return buf;
}

const char *label_parent(const char *path, char *buf, size_t cap) { return ancestor(path, 1, buf, cap); }
const char *label_grandparent(const char *path, char *buf, size_t cap) { return ancestor(path, 2, buf, cap); }

/* ---- names that are not UTF-8 ------------------------------------------------ */

int label_escape(const char *name, char *out, size_t cap)
{
    size_t n = strlen(name), k = 0;
    if (utf8_valid(name, n, NULL) && !strchr(name, '\\')) {
        if (n + 1 > cap) return -1;
        memcpy(out, name, n + 1);
        return (int)n;
    }
    const unsigned char *u = (const unsigned char *)name;
    for (size_t i = 0; i < n;) {
        int len = u[i] == '\\' ? 0 : utf8_seq_len(u + i, n - i);
        if (len > 0) {   /* a UTF-8 character: as it is */
            if (k + (size_t)len + 1 > cap) return -1;
            memcpy(out + k, u + i, (size_t)len);
            k += (size_t)len, i += (size_t)len;
            continue;
        }
        if (k + 5 > cap) return -1;
        if (u[i] == '\\') out[k++] = '\\', out[k++] = '\\';
        else k += (size_t)snprintf(out + k, cap - k, "\\x%02x", u[i]);
        i++;
    }
    out[k] = 0;
    return (int)k;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int label_unescape(const char *label, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *p = label; *p; p++) {
        if (k + 2 > cap) return -1;
        if (*p != '\\') {
            out[k++] = *p;
            continue;
        }
        if (p[1] == '\\') {
            out[k++] = '\\', p++;
            continue;
        }
        int hi = p[1] == 'x' ? hex_digit(p[2]) : -1, lo = hi >= 0 ? hex_digit(p[3]) : -1;
        if (lo < 0 || (hi | lo) == 0) return -1;
        out[k++] = (char)(hi << 4 | lo), p += 3;
    }
    if (k + 1 > cap) return -1;
    out[k] = 0;
    return (int)k;
}

/* ---- regex ------------------------------------------------------------------- */

static int emit(char *out, size_t cap, size_t *k, const char *s)
{
    size_t n = strlen(s);
    if (*k + n + 1 > cap) return -1;
    memcpy(out + *k, s, n);
    *k += n;
    out[*k] = 0;
    return 0;
}

int regex_translate(const char *py, char *out, size_t cap, int *group, Err *err)
{
    size_t k = 0;
    int in_class = 0, n_groups = 0;
    *group = 0;
    if (cap) out[0] = 0;
#define EMIT(s) do { if (emit(out, cap, &k, (s))) return err_set(err, ERR_USAGE, "regex '%s' is too long", py); } while (0)
#define UNSUPPORTED(what) return err_set(err, ERR_USAGE, "regex '%s': %s is not supported (POSIX extended regex)", py, what)
    for (const char *p = py; *p; p++) {
        char c = *p;
        if (c == '\\') {
            char e = p[1];
            if (!e) return err_set(err, ERR_USAGE, "regex '%s' ends with a lone backslash", py);
            p++;
            const char *cls = NULL, *neg = NULL;
            switch (e) {
            case 'd': cls = "0-9"; break;
            case 'w': cls = "A-Za-z0-9_"; break;
            case 's': cls = "[:space:]"; break;
            case 'D': neg = "0-9"; break;
            case 'W': neg = "A-Za-z0-9_"; break;
            case 'S': neg = "[:space:]"; break;
            default: break;
            }
            if (cls || neg) {
                char tmp[32];
                if (in_class) {
                    if (neg) UNSUPPORTED("a negated class (\\D, \\W, \\S) inside [...]");
                    EMIT(cls);
                } else {
                    snprintf(tmp, sizeof tmp, "[%s%s]", neg ? "^" : "", cls ? cls : neg);
                    EMIT(tmp);
                }
                continue;
            }
            if (e == 't' || e == 'n' || e == 'r') {
                EMIT(e == 't' ? "\t" : e == 'n' ? "\n" : "\r");
                continue;
            }
            if (!in_class && (e == 'A' || e == 'Z')) {
                EMIT(e == 'A' ? "^" : "$");
                continue;
            }
            if (e >= '1' && e <= '9') UNSUPPORTED("a back-reference (\\1...)");
            if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || e == '0') {
                char what[48];
                snprintf(what, sizeof what, "the escape \\%c", e);
                UNSUPPORTED(what);
            }
            /* escaped punctuation */
            char lit[3] = {0};
            if (in_class) {
                if (e == ']' || e == '-' || e == '^' || e == '[')
                    UNSUPPORTED("an escaped ] - ^ [ inside [...] (put ] first or - last instead)");
                lit[0] = e;
            } else if (strchr(".[]{}()*+?|^$\\", e)) {
                lit[0] = '\\', lit[1] = e;
            } else {
                lit[0] = e;
            }
            EMIT(lit);
            continue;
        }
        if (in_class) {
            char lit[2] = {c, 0};
            EMIT(lit);
            if (c == ']') in_class = 0;   /* a leading ] was consumed when the class opened */
            else if (c == '[' && p[1] == ':') {
                /* a POSIX class [:alpha:] inside brackets: copy up to ':]' */
                const char *q = strstr(p + 2, ":]");
                if (q) {
                    for (const char *r = p + 1; r < q + 2; r++) {
                        char l2[2] = {*r, 0};
                        EMIT(l2);
                    }
                    p = q + 1;
                }
            }
            continue;
        }
        switch (c) {
        case '[':
            in_class = 1;
            EMIT("[");
            if (p[1] == '^') {
                EMIT("^");
                p++;
            }
            if (p[1] == ']') {   /* a literal ] first in the class */
                EMIT("]");
                p++;
            }
            break;
        case '(':
            n_groups++;
            if (p[1] == '?') {
                if (p[2] == ':') {
                    p += 2;
                } else if (p[2] == 'P' && p[3] == '<') {
                    const char *q = strchr(p + 4, '>');
                    if (!q) return err_set(err, ERR_USAGE, "regex '%s': unterminated (?P<name>", py);
                    p = q;
                    if (!*group) *group = n_groups;
                } else if (p[2] == '=' || p[2] == '!' || p[2] == '<') {
                    UNSUPPORTED("a look-ahead/look-behind (?=...)");
                } else {
                    UNSUPPORTED("an inline flag or extension (?...)");
                }
            } else if (!*group) {
                *group = n_groups;
            }
            EMIT("(");
            break;
        case '*': case '+': case '?': case '}': {
            char lit[2] = {c, 0};
            EMIT(lit);
            if (p[1] == '?' && c != '?') UNSUPPORTED("a lazy quantifier (*? +? }?)");
            if (c == '?' && p[1] == '?') UNSUPPORTED("a lazy quantifier (?" "?)");
            if (p[1] == '+' && c != '}') UNSUPPORTED("a possessive quantifier");
            break;
        }
        default: {
            char lit[2] = {c, 0};
            EMIT(lit);
        }
        }
    }
    if (in_class) return err_set(err, ERR_USAGE, "regex '%s': a [ is never closed", py);
#undef EMIT
#undef UNSUPPORTED
    return 0;
}

int regex_labeller_init(RegexLabeller *r, const char *pat, int match, Err *err)
{
    memset(r, 0, sizeof *r);
    char ere[2048];
    int group = 0;
    int rc = regex_translate(pat, ere, sizeof ere, &group, err);
    if (rc) return rc;
    if (!group)
        return err_set(err, ERR_USAGE, "RegexLabeller('%s'): the pattern has no group; put ( ) around the label", pat);
    int e = regcomp(&r->re, ere, REG_EXTENDED);
    if (e) {
        char msg[256];
        regerror(e, &r->re, msg, sizeof msg);
        regfree(&r->re);
        return err_set(err, ERR_USAGE, "RegexLabeller('%s'): not a valid regex: %s", pat, msg);
    }
    FASTC_ASSERT((size_t)group <= r->re.re_nsub);
    r->group = group;
    r->match = match;
    r->on_path = strchr(pat, '/') != NULL;
    snprintf(r->pat, sizeof r->pat, "%s", pat);
    return 0;
}

int regex_labeller_apply(const RegexLabeller *r, const char *path, char *out, size_t cap, Err *err)
{
    const char *subject = r->on_path ? path : label_basename(path);
    regmatch_t m[10];
    if (r->group >= 10) return err_set(err, ERR_USAGE, "RegexLabeller('%s'): the label group must be among the first 9", r->pat);
    if (regexec(&r->re, subject, (size_t)r->group + 1, m, 0) != 0 || (r->match && m[0].rm_so != 0))
        return err_set(err, ERR_RUNTIME, "%s: RegexLabeller('%s') does not match %s'%s'", path, r->pat,
                       r->on_path ? "the path " : "the file name ", subject);
    if (m[r->group].rm_so < 0)
        return err_set(err, ERR_RUNTIME, "%s: RegexLabeller('%s'): the label group took no part in the match", path,
                       r->pat);
    size_t len = (size_t)(m[r->group].rm_eo - m[r->group].rm_so);
    if (len == 0) return err_set(err, ERR_RUNTIME, "%s: RegexLabeller('%s') gives an empty label", path, r->pat);
    if (len >= cap) len = cap - 1;
    memcpy(out, subject + m[r->group].rm_so, len);
    out[len] = 0;
    return 0;
}

void regex_labeller_free(RegexLabeller *r)
{
    if (r && r->group) regfree(&r->re);
    if (r) r->group = 0;
}

int label_split(char *s, const char *delim, char **pieces, int max_pieces)
{
    int n = 0;
    size_t dl = strlen(delim);
    if (dl == 0) {
        if (*s && max_pieces > 0) pieces[0] = s;
        return *s ? 1 : 0;
    }
    char *p = s;
    for (;;) {
        char *q = strstr(p, delim);
        if (q) *q = 0;
        if (*p) {
            if (n < max_pieces) pieces[n] = p;
            n++;
        }
        if (!q) break;
        p = q + dl;
    }
    return n;
}

int label_parse_bool(const char *s, int *v)
{
    static const char *const t[] = {"true", "True", "TRUE", "1"}, *const f[] = {"false", "False", "FALSE", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, t[i]) == 0) return *v = 1, 0;
        if (strcmp(s, f[i]) == 0) return *v = 0, 0;
    }
    return -1;
}

/* ---- PointsFromCSV ------------------------------------------------------------- */

/* A number of pixels: 0, or -1 when the cell is not a number, -2 when it is
 * one but not finite as a float (nan, inf, 1e308: the float would be inf). */
static int parse_float(const char *s, float *v)
{
    char *end;
    while (*s == ' ') s++;
    if (!*s) return -1;
    double d = strtod(s, &end);
    while (*end == ' ') end++;
    if (*end) return -1;
    if (!(fabs(d) <= FLT_MAX)) return -2;   /* before the cast, which would be undefined */
    *v = (float)d;
    return 0;
}

typedef struct KeyRow {
    const char *key;
    int row;
} KeyRow;

static int cmp_keyrow(const void *a, const void *b)
{
    return strcmp(((const KeyRow *)a)->key, ((const KeyRow *)b)->key);
}

void points_table_free(PointsTable *pt)
{
    if (!pt) return;
    free(pt->keys);
    free(pt->xy);
    free(pt->lines);
    free(pt->path);
    csv_free(&pt->csv_);
    memset(pt, 0, sizeof *pt);
}

/* pandas' to_csv() without index=False: a first column with no name holding
 * the row numbers 0, 1, 2, ... before the file names. */
static int pandas_index_column(const CsvTable *t)
{
    float tmp;
    if (t->n_rows < 2 || t->n_cols < 4 || csv_cell(t, 0, 0)[0]) return 0;
    if (parse_float(csv_cell(t, 1, 1), &tmp) != -1) return 0;   /* the next column must hold names */
    for (int r = 1; r < t->n_rows; r++) {
        char want[24];
        snprintf(want, sizeof want, "%d", r - 1);
        if (strcmp(csv_cell(t, r, 0), want)) return 0;
    }
    return 1;
}

/* A key as a path under the data folder: an absolute path into it loses the
 * folder; a path written from elsewhere ("biwi/13/a.jpg", or the absolute
 * path of another copy of the data) loses leading folders until what is left
 * names a file under it.  A key naming no file stays as written (a bare file
 * name is looked up by name). */
static const char *key_under(const char *key, const char *dir)
{
    if (!dir || !*dir) return key;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (key[0] == '/' && !strncmp(key, dir, n) && key[n] == '/') return key + n + 1;
    char p[8192];
    for (const char *k = key; *k;) {
        snprintf(p, sizeof p, "%.*s/%s", (int)n, dir, k);
        if (access(p, F_OK) == 0) return k;
        const char *slash = strchr(k, '/');
        if (!slash) break;
        for (k = slash + 1; *k == '/'; k++) {}
    }
    return key;
}

int points_table_load(const char *path, char sep, const char *data_dir, PointsTable *pt, Err *err)
{
    memset(pt, 0, sizeof *pt);
    CsvOptions o = {.sep = sep};
    int rc = csv_read(path, &o, &pt->csv_, err);
    if (rc) return rc;
    CsvTable *t = &pt->csv_;
    int first = 0, col = 0;   /* the first data row; the column of the file names */
    float tmp;
    /* a header: names (a non-numeric second field), or pandas' header, whose
     * first cell (the index's name) is empty: ",0,1,2,..." */
    if (t->n_rows > 0 && t->n_cols >= 2 && (parse_float(csv_cell(t, 0, 1), &tmp) == -1 || !csv_cell(t, 0, 0)[0]))
        first = 1;
    if (first && pandas_index_column(t)) col = 1;
    int n = t->n_rows - first;
    if (n <= 0) {
        points_table_free(pt);
        return err_set(err, ERR_RUNTIME, "%s: no rows (expected file,x,y rows)", path);
    }
    int nums = t->n_cols - 1 - col;
    if (nums < 2 || nums % 2) {
        int line = t->lines[first];
        points_table_free(pt);
        return err_set(err, ERR_RUNTIME,
                       "%s:%d: %d number%s after the file name, expected x,y pairs (file, x0, y0, x1, y1, ...)", path,
                       line, nums, nums == 1 ? "" : "s");
    }
    pt->n_rows = n, pt->n_points = nums / 2;
    pt->keys = malloc(sizeof(char *) * n);
    pt->xy = malloc(sizeof(float) * (size_t)n * nums);
    pt->lines = malloc(sizeof(int) * n);
    KeyRow *kr = malloc(sizeof(KeyRow) * n);
    pt->path = malloc(strlen(path) + 1);
    if (!pt->keys || !pt->xy || !pt->lines || !kr || !pt->path) {
        free(kr);
        points_table_free(pt);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    }
    strcpy(pt->path, path);
    for (int i = 0; i < n; i++) {
        const char *key = csv_cell(t, first + i, col);
        while (key[0] == '.' && key[1] == '/') key += 2;
        key = key_under(key, data_dir);
        kr[i].key = key, kr[i].row = first + i;
        if (!*key) {
            int line = t->lines[first + i];
            free(kr);
            points_table_free(pt);
            return err_set(err, ERR_RUNTIME, "%s:%d: empty file name", path, line);
        }
    }
    qsort(kr, (size_t)n, sizeof *kr, cmp_keyrow);
    for (int i = 0; i < n; i++) {
        int r = kr[i].row, line = t->lines[r];
        if (i > 0 && strcmp(kr[i].key, kr[i - 1].key) == 0) {
            int other = t->lines[kr[i - 1].row];
            char key[256];
            snprintf(key, sizeof key, "%s", kr[i].key);
            free(kr);
            points_table_free(pt);
            return err_set(err, ERR_RUNTIME, "%s:%d: '%s' already has points on line %d", path,
                           line > other ? line : other, key, line > other ? other : line);
        }
        pt->keys[i] = (char *)kr[i].key;
        pt->lines[i] = line;
        for (int c = 0; c < nums; c++) {
            const char *cell = csv_cell(t, r, col + c + 1);
            int bad = parse_float(cell, &pt->xy[(size_t)i * nums + c]);
            if (bad) {
                char cp[64];
                snprintf(cp, sizeof cp, "%s", cell);
                free(kr);
                points_table_free(pt);
                return err_set(err, ERR_RUNTIME, "%s:%d: field %d is '%s', expected %s", path, line, col + c + 2, cp,
                               bad == -1 ? "a number (pixels)" : "a finite number of pixels");
            }
        }
    }
    free(kr);
    return 0;
}

static int find_key(const PointsTable *pt, const char *key)
{
    int lo = 0, hi = pt->n_rows - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(pt->keys[mid], key);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int points_table_find(const PointsTable *pt, const char *rel)
{
    while (rel[0] == '.' && rel[1] == '/') rel += 2;
    /* the whole path, then with fewer leading folders down to the file name:
     * the longest key that ends the item's path */
    for (const char *k = rel; *k;) {
        int i = find_key(pt, k);
        if (i >= 0) return i;
        const char *slash = strchr(k, '/');
        if (!slash) break;
        for (k = slash + 1; *k == '/'; k++) {}
    }
    return -1;
}
