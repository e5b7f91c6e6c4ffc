/* csv.c — see csv.h.
 *
 * One pass: fields are copied (quotes removed, "" collapsed) into one text
 * buffer, each ending in NUL; since every field gives up at least its
 * separator or line end for that NUL, the text never outgrows input + 1 byte.
 * Field starts are collected as offsets first (the buffer does not move), then
 * turned into pointers at the end.
 */
#include "data/csv.h"

#include "core/utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct Offs {
    size_t *v;
    size_t n, cap;
} Offs;

static int offs_push(Offs *o, size_t x)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1024;
        size_t *v = realloc(o->v, cap * sizeof *v);
        if (!v) return -1;
        o->v = v, o->cap = cap;
    }
    o->v[o->n++] = x;
    return 0;
}

static char *latin1_to_utf8(const char *s, size_t n, size_t *out_n)
{
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) extra += (unsigned char)s[i] >= 0x80;
    char *o = malloc(n + extra + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) o[k++] = (char)c;
        else o[k++] = (char)(0xC0 | (c >> 6)), o[k++] = (char)(0x80 | (c & 0x3F));
    }
    *out_n = k;
    return o;
}

/* Every byte must be UTF-8 text (pandas' default encoding) and none NUL: a
 * Latin-1 file would give labels that no UTF-8 reader takes back (fastc's own
 * model reader included), and a NUL would cut a field short.  Lines are
 * counted as the parser counts them (\n, \r\n or a lone \r). */
static int check_text(const char *data, size_t n, const char *name, Err *err)
{
    const char *nul = memchr(data, 0, n);
    size_t bad = n;
    int utf8 = utf8_valid(data, nul ? (size_t)(nul - data) : n, &bad);
    if (!nul && utf8) return 0;
    size_t at = utf8 ? (size_t)(nul - data) : bad, line_start = 0;
    int line = 1;
    for (size_t i = 0; i < at; i++)
        if (data[i] == '\n' || (data[i] == '\r' && !(i + 1 < n && data[i + 1] == '\n')))
            line++, line_start = i + 1;
    int col = (int)(at - line_start) + 1;
    if (data[at] == 0)
        return err_set(err, ERR_RUNTIME, "%s:%d: found a NUL byte at column %d, expected text (a field would end there)",
                       name, line, col);
    return err_set(err, ERR_RUNTIME,
                   "%s:%d: found byte 0x%02X at column %d, expected UTF-8 text (CSV files are read as UTF-8, as "
                   "pandas does; convert it, e.g. iconv -f latin1 -t utf-8)",
                   name, line, (unsigned char)data[at], col);
}

void csv_free(CsvTable *t)
{
    if (!t) return;
    free(t->names);
    free(t->cells);
    free(t->lines);
    free(t->path);
    free(t->text_);
    memset(t, 0, sizeof *t);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Long because it is one state machine over the bytes (quoted fields,
 * doubled quotes, CRLF, the header, UTF-8 and NUL checks naming
 * file:line:column): every byte goes through the one loop. */
int csv_parse(const char *data, size_t n, const char *name, const CsvOptions *opt, CsvTable *t, Err *err)
{
    memset(t, 0, sizeof *t);
    CsvOptions def = {0};
    if (!opt) opt = &def;
    const char sep = opt->sep ? opt->sep : ',';
    if (sep == '"' || sep == '\n' || sep == '\r')
        return err_set(err, ERR_USAGE, "%s: the separator cannot be a quote or a line end", name);

    char *conv = NULL;
    if (opt->latin1) {
        conv = latin1_to_utf8(data, n, &n);
        if (!conv) return err_set(err, ERR_RUNTIME, "%s: out of memory", name);
        data = conv;
    } else if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3, n -= 3;
    }
    if (check_text(data, n, name, err)) {
        free(conv);
        return err->code;
    }

    Offs fields = {0}, rowstart = {0}, rowline = {0};  /* rowstart: index of each row's first field */
    size_t names_need = 0;
    for (int c = 0; c < opt->n_names; c++) names_need += strlen(opt->names[c]) + 1;
    char *text = malloc(n + 1 + names_need);
    size_t k = 0;             /* write position in text */
    int line = 1;             /* current line of the input */
    int status = 0;
    if (!text) {
        status = err_set(err, ERR_RUNTIME, "%s: out of memory", name);
        goto done;
    }

    size_t i = 0;
    int expect = -1;          /* fields per row, once known */
    while (i < n) {
        /* skip blank lines */
        if (data[i] == '\n' || data[i] == '\r') {
            if (data[i] == '\r' && i + 1 < n && data[i + 1] == '\n') i++;
            i++, line++;
            continue;
        }
        int row_line = line;
        size_t first = fields.n;
        if (offs_push(&rowstart, first) || offs_push(&rowline, (size_t)row_line)) goto oom;
        /* one row */
        for (;;) {
            if (offs_push(&fields, k)) goto oom;
            if (i < n && data[i] == '"') {
                int qline = line;
                i++;
                for (;;) {
                    if (i >= n) {
                        status = err_set(err, ERR_RUNTIME, "%s:%d: a quoted field is never closed (missing \")",
                                         name, qline);
                        goto done;
                    }
                    char c = data[i];
                    if (c == '"') {
                        if (i + 1 < n && data[i + 1] == '"') {
                            text[k++] = '"', i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (c == '\n') line++;
                    else if (c == '\r' && !(i + 1 < n && data[i + 1] == '\n')) line++;
                    text[k++] = c, i++;
                }
                /* text after the closing quote is kept as is (pandas does the same) */
                while (i < n && data[i] != sep && data[i] != '\n' && data[i] != '\r') text[k++] = data[i++];
            } else {
                while (i < n && data[i] != sep && data[i] != '\n' && data[i] != '\r') text[k++] = data[i++];
            }
            text[k++] = 0;
            if (i < n && data[i] == sep) {
                i++;
                continue;
            }
            /* end of line or of data */
            if (i < n) {
                if (data[i] == '\r' && i + 1 < n && data[i + 1] == '\n') i++;
                i++, line++;
            }
            break;
        }
        int nf = (int)(fields.n - first);
        if (expect < 0) {
            expect = opt->n_names > 0 ? opt->n_names : nf;
        }
        if (nf != expect) {
            status = err_set(err, ERR_RUNTIME, "%s:%d: expected %d fields (separated by '%s'), found %d", name,
                             row_line, expect, sep == '\t' ? "\\t" : (char[2]){sep, 0}, nf);
            goto done;
        }
        FASTC_ASSERT(k <= n + 1);
    }

    {
        size_t n_rows_all = rowstart.n;
        int skip = opt->header && n_rows_all > 0 ? 1 : 0;
        t->n_cols = expect < 0 ? (opt->n_names > 0 ? opt->n_names : 0) : expect;
        t->n_rows = (int)(n_rows_all - (size_t)skip);
        t->cells = malloc(sizeof(char *) * ((size_t)t->n_rows * t->n_cols + 1));
        t->lines = malloc(sizeof(int) * ((size_t)t->n_rows + 1));
        t->path = dupstr(name);
        if (!t->cells || !t->lines || !t->path) goto oom;
        for (size_t f = (size_t)skip * t->n_cols, j = 0; f < fields.n; f++, j++) t->cells[j] = text + fields.v[f];
        for (int r = 0; r < t->n_rows; r++) t->lines[r] = (int)rowline.v[r + skip];
        if (opt->n_names > 0 || skip) {
            t->names = malloc(sizeof(char *) * (t->n_cols + 1));
            if (!t->names) goto oom;
            for (int c = 0; c < t->n_cols; c++)
                t->names[c] = opt->n_names > 0 ? (char *)opt->names[c] : text + fields.v[c];
            if (opt->n_names > 0) {
                /* names given by the caller: copied into our storage (room was reserved) */
                for (int c = 0; c < t->n_cols; c++) {
                    size_t len = strlen(opt->names[c]) + 1;
                    memcpy(text + k, opt->names[c], len);
                    t->names[c] = text + k;
                    k += len;
                }
            }
        }
        t->text_ = text;
        text = NULL;
    }
    goto done;

oom:
    status = err_set(err, ERR_RUNTIME, "%s: out of memory reading the CSV", name);
done:
    free(fields.v), free(rowstart.v), free(rowline.v);
    free(text);
    free(conv);
    if (status) csv_free(t);
    return status;
}

int csv_read(const char *path, const CsvOptions *opt, CsvTable *t, Err *err)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, ERR_RUNTIME, "%s: cannot open CSV file: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    size_t first = 1 << 16;   /* a regular file: its size (+1, to see the end) in one go */
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 && (uint64_t)st.st_size < SIZE_MAX / 2)
        first = (size_t)st.st_size + 1;
    for (;;) {
        if (cap == 0 || cap == n) {
            size_t nc = cap ? cap * 2 : first;
            char *b = realloc(buf, nc);
            if (!b) {
                free(buf);
                fclose(f);
                return err_set(err, ERR_RUNTIME, "%s: out of memory", path);
            }
            buf = b, cap = nc;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(err, ERR_RUNTIME, "%s: read error", path);
    }
    int rc = csv_parse(buf, n, path, opt, t, err);
    free(buf);
    return rc;
}

int csv_col(const CsvTable *t, const char *name)
{
    if (!t->names) return -1;
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->names[c], name) == 0) return c;
    return -1;
}

int csv_require_col(const CsvTable *t, const char *name, int *col, Err *err)
{
    *col = csv_col(t, name);
    if (*col >= 0) return 0;
    char list[600] = "";
    size_t len = 0;
    for (int c = 0; t->names && c < t->n_cols && len + 4 < sizeof list; c++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", c ? ", " : "", t->names[c]);
    if (!t->names) snprintf(list, sizeof list, "none: the file has no header row");
    return err_set(err, ERR_USAGE, "%s: no column '%s' (columns: %s)", t->path, name, list);
}
