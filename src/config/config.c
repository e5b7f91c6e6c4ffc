/* config.c — loading a config: read the file, check it is UTF-8 text, split it
 * with inih (through a line-counting reader, so every error names file:line,
 * and with the heap line buffer allowed to grow, so lines of any length work),
 * apply --set overrides, check every value against the schema, fill defaults,
 * run the light cross-key checks; then the accessors and the writer.
 *
 * Errors: the earliest problem in the file wins (as a compiler reports its
 * first error), then --set problems, then missing required keys and
 * cross-key checks. */
#include "config/schema.h"
#include "io/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { ORIGIN_DEFAULT, ORIGIN_FILE, ORIGIN_SET };
#define LINE_SET (INT_MAX - 1) /* error ordering: --set after any file line */
#define WHERE_CAP 1400
/* Largest config file: generous for any real one (a vocab of 100k labels fits),
 * small enough that a wrong file (a device, a dataset) is refused at once. */
#define CONFIG_MAX_BYTES (16 << 20)

typedef struct Entry {
    char *raw;        /* as written (continuation lines joined by a space) */
    CfgValue *value;  /* resolved; NULL when unset or None */
    int line;         /* 0 for defaults and --set */
    int origin;
    const char *set;  /* the --set argument that gave it */
    char *path;       /* ST_PATH(_BOOL) keys set to a path: the value resolved (resolve_paths) */
} Entry;

struct Config {
    char *file, *dir, *stem;
    Entry *e;          /* parallel to schema_keys */
    int section_line[16]; /* first header line of each schema section, 0 if absent */
    int n_lines;
};

typedef struct Loader {
    Config *cfg;
    const char *buf;
    size_t len, pos;
    int lineno;        /* line being read (1-based) */
    int at_line_start;
    size_t *line_off;  /* start offset of each line (index = line - 1) */
    int n_lines;
    char last_section[64], last_name[64];
    int last_line, last_index;
    Err err;
    int err_line;      /* line of the recorded error; 0 = none */
} Loader;

static int key_index(const char *section, const char *name)
{
    for (int i = 0; i < schema_n_keys; i++)
        if (!strcmp(schema_keys[i].section, section) && !strcmp(schema_keys[i].name, name)) return i;
    return -1;
}

static int section_index(const char *section)
{
    for (int i = 0; i < schema_n_sections; i++)
        if (!strcmp(schema_sections[i], section)) return i;
    return -1;
}

/* Record an error unless an earlier one (by line) is already there. */
static void note(Loader *L, int line, const Err *e)
{
    if (L->err_line && L->err_line <= line) return;
    L->err = *e;
    L->err_line = line;
}

static void notef(Loader *L, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void notef(Loader *L, int line, const char *fmt, ...)
{
    Err e = {0};
    va_list ap;
    va_start(ap, fmt);
    err_vset(&e, ERR_USAGE, fmt, ap);
    va_end(ap);
    note(L, line, &e);
}

/* ---- reading ------------------------------------------------------------------- */

/* Length of a valid UTF-8 sequence at p (at most n bytes), or 0. */
static int utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    int len;
    unsigned min;
    if (c < 0x80) return c ? 1 : 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000;
    else return 0;
    if ((size_t)len > n) return 0;
    unsigned cp = c & (0xFF >> (len + 1));
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* fgets-style reader for inih that counts lines. */
static char *read_line(char *str, int num, void *stream)
{
    Loader *L = stream;
    if (L->pos >= L->len || num < 2) return NULL;
    if (L->at_line_start) L->lineno++, L->at_line_start = 0;
    size_t n = 0;
    while (n < (size_t)num - 1 && L->pos < L->len) {
        char c = L->buf[L->pos++];
        str[n++] = c;
        if (c == '\n') {
            L->at_line_start = 1;
            break;
        }
    }
    str[n] = 0;
    return str;
}

static int line_indented(const Loader *L, int line)
{
    if (line < 1 || line > L->n_lines) return 0;
    char c = L->buf[L->line_off[line - 1]];
    return c == ' ' || c == '\t';
}

static void did_you_mean_key(const char *section, const char *name, char *buf, size_t cap)
{
    buf[0] = 0;
    const char *advice = spell_foreign_key(name);   /* an argument of a fastai factory method */
    if (advice) {
        snprintf(buf, cap, " (%s)", advice);
        return;
    }
    int best = -1, bd = 1 << 30;
    for (int i = 0; i < schema_n_keys; i++) {
        if (strcmp(schema_keys[i].section, section) || !schema_is_near(name, schema_keys[i].name)) continue;
        int d = schema_edit_distance(name, schema_keys[i].name);
        if (d < bd) bd = d, best = i;
    }
    if (best >= 0) {
        snprintf(buf, cap, " (did you mean %s?)", schema_keys[best].name);
        return;
    }
    for (int i = 0; i < schema_n_keys; i++)
        if (!strcmp(schema_keys[i].name, name)) {
            snprintf(buf, cap, " (%s belongs in [%s])", name, schema_keys[i].section);
            return;
        }
}

static void section_keys(const char *section, char *buf, size_t cap)
{
    size_t len = 0;
    int k = 0;
    buf[0] = 0;
    for (int i = 0; i < schema_n_keys && len < cap; i++)
        if (!strcmp(schema_keys[i].section, section))
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", k++ ? ", " : "", schema_keys[i].name);
}

static void all_sections(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < schema_n_sections && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s[%s]", i ? ", " : "", schema_sections[i]);
}

static void unknown_section(Loader *L, int line, const char *section)
{
    char list[256], hint[128] = "";
    all_sections(list, sizeof list);
    for (int i = 0; i < schema_n_sections; i++)
        if (schema_is_near(section, schema_sections[i])) {
            snprintf(hint, sizeof hint, " (did you mean [%s]?)", schema_sections[i]);
            break;
        }
    notef(L, line, "%s:%d: [%s]: found unknown section [%s], expected one of %s%s", L->cfg->file, line, section,
          section, list, hint);
}

static int on_pair_value(Loader *L, const char *section, const char *name, const char *value);

/* Strip an inline comment: ';' after whitespace, outside quotes (inih's own
 * stripping would cut pat=' ;' inside a string).  Returns a malloc'd copy. */
static char *strip_comment(const char *value)
{
    char *v = strdup(value);
    if (!v) return NULL;
    char quote = 0;
    for (char *p = v; *p; p++) {
        if (quote) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == quote) quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == ';' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
            *p = 0;
            break;
        }
    }
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r')) v[--n] = 0;
    return v;
}

static int on_pair(void *user, const char *section, const char *name, const char *raw_value)
{
    Loader *L = user;
    char *value = strip_comment(raw_value);
    if (!value) {
        notef(L, L->lineno, "%s:%d: out of memory", L->cfg->file, L->lineno);
        return 1;
    }
    int rc = on_pair_value(L, section, name, value);
    free(value);
    return rc;
}

static int on_pair_value(Loader *L, const char *section, const char *name, const char *value)
{
    int line = L->lineno;
    Config *cfg = L->cfg;
    /* inih's Python-style continuation: an indented line after a key extends its value */
    if (line_indented(L, line) && L->last_index >= 0 && !strcmp(section, L->last_section) &&
        !strcmp(name, L->last_name) && L->last_line < line) {
        Entry *e = &cfg->e[L->last_index];
        size_t a = strlen(e->raw), b = strlen(value);
        char *r = realloc(e->raw, a + b + 2);
        if (!r) {
            notef(L, line, "%s:%d: out of memory", cfg->file, line);
            return 1;
        }
        r[a] = ' ';
        memcpy(r + a + 1, value, b + 1);
        e->raw = r;
        L->last_line = line;
        return 1;
    }
    L->last_index = -1;
    if (!*section) {
        notef(L, line, "%s:%d: %s: found a key before any [section], expected a [section] line first", cfg->file,
              line, name);
        return 1;
    }
    if (section_index(section) < 0) {
        unknown_section(L, line, section);
        return 1;
    }
    int k = key_index(section, name);
    if (k < 0) {
        char keys[512], hint[256];
        section_keys(section, keys, sizeof keys);
        did_you_mean_key(section, name, hint, sizeof hint);
        if (hint[0])
            notef(L, line, "%s:%d: [%s] %s: found unknown key %s, expected a key of [%s]%s", cfg->file, line, section,
                  name, name, section, hint);
        else
            notef(L, line, "%s:%d: [%s] %s: found unknown key %s, expected one of %s", cfg->file, line, section,
                  name, name, keys);
        return 1;
    }
    Entry *e = &cfg->e[k];
    if (e->origin == ORIGIN_FILE) {
        notef(L, line, "%s:%d: [%s] %s: found a second value, expected each key once (first set on line %d)",
              cfg->file, line, section, name, e->line);
        return 1;
    }
    if (!(e->raw = strdup(value))) {
        notef(L, line, "%s:%d: out of memory", cfg->file, line);
        return 1;
    }
    e->origin = ORIGIN_FILE;
    e->line = line;
    snprintf(L->last_section, sizeof L->last_section, "%s", section);
    snprintf(L->last_name, sizeof L->last_name, "%s", name);
    L->last_line = line;
    L->last_index = k;
    return 1;
}

/* Section headers inih sees but reports to no handler when the section is empty. */
static void scan_sections(Loader *L)
{
    int key_seen = 0;
    for (int ln = 1; ln <= L->n_lines; ln++) {
        const char *p = L->buf + L->line_off[ln - 1];
        const char *end = ln < L->n_lines ? L->buf + L->line_off[ln] : L->buf + L->len;
        int indented = *p == ' ' || *p == '\t';
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p >= end || *p == '\n' || *p == ';' || *p == '#') continue;
        if (indented && key_seen) continue; /* a continuation line */
        if (*p == '[') {
            const char *q = memchr(p, ']', (size_t)(end - p));
            key_seen = 0;
            if (!q) continue; /* inih reports it */
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(q - p - 1), p + 1);
            int s = section_index(name);
            if (s < 0) unknown_section(L, ln, name);
            else if (!L->cfg->section_line[s]) L->cfg->section_line[s] = ln;
            continue;
        }
        key_seen = 1;
    }
}

/* The whole file, NUL-terminated.  At most CONFIG_MAX_BYTES + 1 bytes are
 * read, whatever the file is (a device such as /dev/zero, a pipe, a huge
 * file): one byte past the limit is enough to say it is too big. */
static char *read_file(const char *path, size_t *len, Err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            err_set(err, ERR_USAGE, "%s: found no such file, expected a config file", path);
        else
            err_set(err, ERR_USAGE, "%s: cannot read (%s), expected a config file", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        err_set(err, ERR_USAGE, "%s: found a directory, expected a config file (.ini)", path);
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, ERR_USAGE, "%s: cannot open (%s), expected a readable config file", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    ssize_t k;
    int bad = 0;
    char *buf = malloc(cap);
    while (buf && n <= CONFIG_MAX_BYTES) {
        if (n + 1 >= cap) {   /* room for one more byte and the NUL */
            size_t grown = cap * 2 > CONFIG_MAX_BYTES + 2 ? CONFIG_MAX_BYTES + 2 : cap * 2;
            char *b = realloc(buf, grown);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap = grown;
        }
        /* read(2), not stdio, which would read ahead past the limit */
        k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) bad = errno;
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    if (!buf || bad) {
        free(buf);
        err_set(err, ERR_USAGE, "%s: cannot read (%s), expected a config file", path,
                buf ? strerror(bad) : "out of memory");
        return NULL;
    }
    if (n > CONFIG_MAX_BYTES) {
        free(buf);
        err_set(err, ERR_USAGE, "%s: found more than %d MiB, expected a config file (at most %d MiB of text)", path,
                CONFIG_MAX_BYTES >> 20, CONFIG_MAX_BYTES >> 20);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* ---- checking -------------------------------------------------------------------- */

static int is_quoted(const char *s);

/* Unquoted path text is taken as it is; for ST_PATH_BOOL a bare True or
 * False is the boolean (model.pretrained = True). */
static int verbatim_path(SchemaType type, const char *raw)
{
    if (type == ST_PATH_BOOL && (!strcmp(raw, "True") || !strcmp(raw, "False"))) return 0;
    return (type == ST_PATH || type == ST_PATH_BOOL) && !is_quoted(raw);
}

static int is_quoted(const char *s)
{
    return *s == '\'' || *s == '"' || ((*s == 'r' || *s == 'R') && (s[1] == '\'' || s[1] == '"'));
}

/* Parse and check one entry's raw text.  Empty text or None: unset. */
static void resolve_entry(Loader *L, int k)
{
    const SchemaKey *key = &schema_keys[k];
    Entry *e = &L->cfg->e[k];
    char where[WHERE_CAP];
    if (e->origin == ORIGIN_SET)
        snprintf(where, sizeof where, "--set %s: [%s] %s", e->set, key->section, key->name);
    else
        snprintf(where, sizeof where, "%s:%d: [%s] %s", L->cfg->file, e->line, key->section, key->name);
    int line = e->origin == ORIGIN_SET ? LINE_SET : e->line;
    const char *raw = e->raw;
    while (*raw == ' ' || *raw == '\t') raw++;
    if (!*raw || !strcmp(raw, "None")) {
        e->value = NULL; /* unset: the default applies below */
        e->origin = ORIGIN_DEFAULT;
        return;
    }
    Err err = {0};
    CfgValue *v;
    if (verbatim_path(key->spec.type, raw)) {
        /* paths are taken verbatim: oxford-iiit-pet/images */
        v = cv_new(CV_STR, e->line);
        if (v && !(v->str = strdup(raw))) cfg_value_free(v), v = NULL;
        if (!v) err_set(&err, ERR_RUNTIME, "%s: out of memory", where);
    } else {
        v = cv_parse(raw, where, e->line, &err);
    }
    CfgValue *r = v ? check_value(v, &key->spec, &err, where) : NULL;
    cfg_value_free(v);
    if (!r) {
        note(L, line, &err);
        return;
    }
    if (r->kind == CV_NONE) {
        cfg_value_free(r);
        r = NULL;
    }
    e->value = r;
}

static void fill_default(Loader *L, int k)
{
    const SchemaKey *key = &schema_keys[k];
    Entry *e = &L->cfg->e[k];
    if (e->value || e->origin != ORIGIN_DEFAULT) return;
    if (!strcmp(key->section, "output") && !strcmp(key->name, "dir")) {
        /* like ultralytics: runs/<name> under the folder the command runs in */
        char cwd[4096], path[4200];
        if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
        snprintf(path, sizeof path, "%s/runs/%s", cwd, L->cfg->stem);
        e->value = cv_new(CV_STR, 0);
        if (e->value && !(e->value->str = strdup(path))) cfg_value_free(e->value), e->value = NULL;
        if (!e->value) notef(L, LINE_SET + 1, "out of memory");
        return;
    }
    if (!key->spec.def) return;
    char where[256];
    snprintf(where, sizeof where, "default of [%s] %s", key->section, key->name);
    Err err = {0};
    CfgValue *d = cv_parse(key->spec.def, where, 0, &err);
    CfgValue *r = d ? check_value(d, &key->spec, &err, where) : NULL;
    cfg_value_free(d);
    if (!r) {
        FASTC_ASSERT(err.code == ERR_RUNTIME); /* schema defaults always pass (tested) */
        note(L, LINE_SET + 1, &err);
        return;
    }
    if (r->kind == CV_NONE) cfg_value_free(r), r = NULL;
    e->value = r;
}

static int apply_set(Loader *L, const char *arg)
{
    const char *eq = strchr(arg, '=');
    const char *dot = memchr(arg, '.', eq ? (size_t)(eq - arg) : strlen(arg));
    if (!eq || !dot) {
        char name[64] = "", hint[128] = "";
        snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - arg : (long)strlen(arg)), arg);
        for (int i = 0; i < schema_n_keys && !dot; i++)
            if (!strcmp(schema_keys[i].name, name)) {
                snprintf(hint, sizeof hint, " (did you mean %s.%s=...?)", schema_keys[i].section, name);
                break;
            }
        notef(L, LINE_SET, "--set %s: found %s, expected section.key=value%s", arg,
              eq ? "no section" : "no '='", hint);
        return -1;
    }
    char section[64], name[64];
    snprintf(section, sizeof section, "%.*s", (int)(dot - arg), arg);
    snprintf(name, sizeof name, "%.*s", (int)(eq - dot - 1), dot + 1);
    if (section_index(section) < 0) {
        char list[256], hint[128] = "";
        all_sections(list, sizeof list);
        for (int i = 0; i < schema_n_sections; i++)
            if (schema_is_near(section, schema_sections[i])) {
                snprintf(hint, sizeof hint, " (did you mean %s?)", schema_sections[i]);
                break;
            }
        notef(L, LINE_SET, "--set %s: found unknown section %s, expected one of %s%s", arg, section, list, hint);
        return -1;
    }
    int k = key_index(section, name);
    if (k < 0) {
        char keys[512], hint[256];
        section_keys(section, keys, sizeof keys);
        did_you_mean_key(section, name, hint, sizeof hint);
        if (hint[0])
            notef(L, LINE_SET, "--set %s: [%s] %s: found unknown key %s, expected a key of [%s]%s", arg, section,
                  name, name, section, hint);
        else
            notef(L, LINE_SET, "--set %s: [%s] %s: found unknown key %s, expected one of %s", arg, section, name,
                  name, keys);
        return -1;
    }
    Entry *e = &L->cfg->e[k];
    char *raw = strdup(eq + 1);
    if (!raw) return -1;
    free(e->raw);
    e->raw = raw;
    e->origin = ORIGIN_SET;
    e->line = 0;
    e->set = arg;
    return 0;
}

CfgValue *cfg_value_parse_key(const char *section, const char *name, const char *text, const char *file, int line,
                              Err *err)
{
    int k = key_index(section, name);
    FASTC_ASSERT(k >= 0);
    const SchemaKey *key = &schema_keys[k];
    char where[WHERE_CAP];
    if (line > 0) snprintf(where, sizeof where, "%s:%d: [%s] %s", file ? file : "<value>", line, section, name);
    else snprintf(where, sizeof where, "%s: [%s] %s", file ? file : "<value>", section, name);
    while (*text == ' ' || *text == '\t') text++;
    CfgValue *v;
    if (*text && verbatim_path(key->spec.type, text)) {
        v = cv_new(CV_STR, line);
        if (v && !(v->str = strdup(text))) cfg_value_free(v), v = NULL;
        if (!v) err_set(err, ERR_RUNTIME, "%s: out of memory", where);
    } else {
        v = cv_parse(text, where, line, err);
    }
    CfgValue *r = v ? check_value(v, &key->spec, err, where) : NULL;
    cfg_value_free(v);
    if (!r) cv_one_line(err);
    return r;
}

/* ---- cross-key checks (light: the modules check deeper) --------------------------- */

static Entry *entry(Config *cfg, const char *section, const char *name)
{
    int k = key_index(section, name);
    FASTC_ASSERT(k >= 0);
    return &cfg->e[k];
}

/* "file:line: [section] key" for an entry (its line, or its section's header). */
static void where_of(const Config *cfg, const char *section, const char *name, char *buf, size_t cap)
{
    cfg_where(cfg, section, name, 0, buf, cap);
}

void cfg_where(const Config *cfg, const char *section, const char *name, int at, char *buf, size_t cap)
{
    int k = key_index(section, name);
    FASTC_ASSERT(k >= 0);
    const Entry *e = &cfg->e[k];
    if (e->origin == ORIGIN_SET) {
        snprintf(buf, cap, "--set %s: [%s] %s", e->set, section, name);
        return;
    }
    int line = at > 0 ? at : e->line;
    if (!line) line = cfg->section_line[section_index(section)];
    if (!line) line = cfg->n_lines > 0 ? cfg->n_lines : 1;
    snprintf(buf, cap, "%s:%d: [%s] %s", cfg->file, line, section, name);
}

static const char *call_name(const CfgValue *v) { return v && v->kind == CV_CALL ? v->str : ""; }

static int uses(const CfgValue *list, const char *name)
{
    for (int i = 0; list && i < cfg_list_len(list); i++)
        if (!strcmp(call_name(cfg_list_at(list, i)), name)) return 1;
    return 0;
}

static int cross_check(Config *cfg, Err *err)
{
    char w[WHERE_CAP], found[256];
    const CfgValue *blocks = entry(cfg, "data", "blocks")->value;
    cfg_value_format(blocks, found, sizeof found);
    int nb = cfg_list_len(blocks);
    const char *b0 = call_name(cfg_list_at(blocks, 0));
    const char *b1 = nb > 1 ? call_name(cfg_list_at(blocks, 1)) : "";
    int collab = !strcmp(b0, "CollabBlock") && nb == 1;
    int image = !strcmp(b0, "ImageBlock") && nb == 2 && strcmp(b1, "ImageBlock") && strcmp(b1, "CollabBlock");
    if (!collab && !image) {
        where_of(cfg, "data", "blocks", w, sizeof w);
        return err_set(err, ERR_USAGE,
                       "%s: found %s, expected ImageBlock followed by one of CategoryBlock, MultiCategoryBlock, "
                       "PointBlock, RegressionBlock; or CollabBlock alone",
                       w, found);
    }
    const char *arch = call_name(entry(cfg, "model", "arch")->value);
    int resnet = !strncmp(arch, "resnet", 6);
    if (image != resnet) {
        where_of(cfg, "model", "arch", w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found %s, expected %s for %s data", w, arch,
                       image ? "resnet18, resnet34, resnet50, resnet101 or resnet152" : "DotProduct, DotProductBias or EmbeddingNN",
                       b0);
    }
    int has_csv = entry(cfg, "data", "csv")->value != NULL;
    if (collab && !has_csv) {
        where_of(cfg, "data", "csv", w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found nothing, expected the ratings table (needed by CollabBlock)", w);
    }
    if (image && !has_csv && !entry(cfg, "data", "path")->value) {
        where_of(cfg, "data", "path", w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found nothing, expected the dataset folder (or a csv)", w);
    }
    if (image && !entry(cfg, "data", "get_y")->value) {
        where_of(cfg, "data", "get_y", w, sizeof w);
        return err_set(err, ERR_USAGE,
                       "%s: found nothing, expected how to label an item (e.g. parent_label, ColReader('label'))",
                       w);
    }
    static const char *const needs_csv[][2] = {
        {"get_x", "ColReader"}, {"get_y", "ColReader"}, {"splitter", "ColSplitter"}};
    for (size_t i = 0; i < sizeof needs_csv / sizeof needs_csv[0]; i++)
        if (!has_csv && uses(entry(cfg, "data", needs_csv[i][0])->value, needs_csv[i][1])) {
            where_of(cfg, "data", needs_csv[i][0], w, sizeof w);
            return err_set(err, ERR_USAGE, "%s: found %s without [data] csv, expected a csv to read columns from", w,
                           needs_csv[i][1]);
        }
    /* metrics and loss must fit the target (fastai would fail on shapes mid-run);
     * which fits which is the schema table's `fits` */
    const char *target = collab ? "CollabBlock" : b1;
    unsigned fit = schema_comp(target, SLOT_BLOCK)->fits;
    char list[512];
    const CfgValue *metrics = entry(cfg, "learner", "metrics")->value;
    for (int m = 0; m < cfg_list_len(metrics); m++) {
        const char *name = call_name(cfg_list_at(metrics, m));
        if (!(schema_comp(name, SLOT_METRIC)->fits & fit)) {
            where_of(cfg, "learner", "metrics", w, sizeof w);
            schema_fitting(SLOT_METRIC, fit, list, sizeof list);
            return err_set(err, ERR_USAGE, "%s: found %s, expected a metric for %s: %s", w, name, target, list);
        }
    }
    const char *loss = call_name(entry(cfg, "learner", "loss_func")->value);
    if (*loss && !(schema_comp(loss, SLOT_LOSS)->fits & fit)) {
        where_of(cfg, "learner", "loss_func", w, sizeof w);
        schema_fitting(SLOT_LOSS, fit, list, sizeof list);
        return err_set(err, ERR_USAGE, "%s: found %s, expected a loss for %s: %s", w, loss, target, list);
    }
    if (cfg_num(cfg, "lr_find", "start_lr") >= cfg_num(cfg, "lr_find", "end_lr")) {
        where_of(cfg, "lr_find", "end_lr", w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found %g, expected a number above start_lr (%g)", w,
                       cfg_num(cfg, "lr_find", "end_lr"), cfg_num(cfg, "lr_find", "start_lr"));
    }
    return 0;
}

/* ---- load ------------------------------------------------------------------------ */

static int set_names(Config *cfg, const char *path)
{
    cfg->file = strdup(path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char dir[4096];
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else snprintf(dir, sizeof dir, ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    char *real = realpath(dir, NULL);
    cfg->dir = real ? real : strdup(dir);
    cfg->stem = strdup(base);
    if (!cfg->file || !cfg->dir || !cfg->stem) return -1;
    char *dot = strrchr(cfg->stem, '.');
    if (dot && dot != cfg->stem) *dot = 0;
    return 0;
}

static int resolve_paths(Config *cfg, Err *err);

Config *config_load(const char *path, const char *const *sets, int n_sets, Err *err)
{
    Config *cfg = calloc(1, sizeof *cfg);
    Loader L = {.cfg = cfg, .at_line_start = 1, .last_index = -1};
    char *buf = NULL;
    if (!cfg || !(cfg->e = calloc((size_t)schema_n_keys, sizeof *cfg->e)) || set_names(cfg, path) != 0) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", path);
        goto fail;
    }
    size_t len = 0;
    if (!(buf = read_file(path, &len, err))) goto fail;
    L.buf = buf;
    L.len = len;

    /* lines, and the text checks inih cannot do */
    size_t nl = 1;
    for (size_t i = 0; i < len; i++) nl += buf[i] == '\n';
    if (!(L.line_off = malloc(sizeof *L.line_off * nl))) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", path);
        goto fail;
    }
    int line = 1, blank = 1;
    L.line_off[0] = 0;
    size_t start = 0;
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) start = 3; /* BOM */
    L.line_off[0] = start;
    for (size_t i = start; i < len;) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') {
            L.line_off[line++] = i + 1;
            i++;
            continue;
        }
        int n = utf8_len((const unsigned char *)buf + i, len - i);
        if (!n) {
            err_set(err, ERR_USAGE, "%s:%d: found %s 0x%02x at column %d, expected UTF-8 text", path, line,
                    c ? "byte" : "NUL byte", c, (int)(i - L.line_off[line - 1]) + 1);
            goto fail;
        }
        if (c != ' ' && c != '\t' && c != '\r') blank = 0;
        i += (size_t)n;
    }
    L.n_lines = len && buf[len - 1] == '\n' ? line - 1 : line;
    if (len == 0 || L.n_lines == 0) L.n_lines = 0;
    cfg->n_lines = L.n_lines;
    if (blank) {
        err_set(err, ERR_USAGE, "%s:1: found an empty file, expected [section] lines with key = value", path);
        goto fail;
    }

    /* inih: heap line buffer that grows up to the longest line */
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_allow_multiline = true;
    ini_allow_inline_comments = false; /* strip_comment() does it, knowing quotes */
    ini_max_line = len + 3 > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)(len + 3);
    if (ini_max_line < 256) ini_max_line = 256;
    L.pos = start;
    scan_sections(&L);
    int rc = ini_parse_stream(read_line, &L, on_pair, &L);
    if (rc > 0) {
        char text[64];
        const char *p = buf + L.line_off[rc - 1];
        size_t n = strcspn(p, "\r\n");
        snprintf(text, sizeof text, "%.*s%s", (int)(n > 40 ? 40 : n), p, n > 40 ? "..." : "");
        const char *exp = strchr(text, '[') ? "a [section] line closed with ']'" : "key = value or [section]";
        notef(&L, rc, "%s:%d: found '%s', expected %s", path, rc, text, exp);
    } else if (rc < 0) {
        notef(&L, 1, "%s: cannot parse (%s)", path, rc == -2 ? "out of memory" : "read error");
    }
    int any = 0;
    for (int k = 0; k < schema_n_keys; k++) any |= cfg->e[k].origin == ORIGIN_FILE;
    if (!any && !L.err_line) {
        err_set(err, ERR_USAGE, "%s:1: found no settings (only comments or blank lines), expected [section] "
                "lines with key = value", path);
        goto fail;
    }
    for (int i = 0; i < n_sets; i++) apply_set(&L, sets[i]);
    for (int k = 0; k < schema_n_keys; k++)
        if (cfg->e[k].origin != ORIGIN_DEFAULT) resolve_entry(&L, k);
    for (int k = 0; k < schema_n_keys; k++) fill_default(&L, k);
    if (L.err_line) {
        *err = L.err;
        goto fail;
    }
    for (int k = 0; k < schema_n_keys; k++) {
        const SchemaKey *key = &schema_keys[k];
        if (cfg->e[k].value || key->spec.optional || key->spec.def ||
            (!strcmp(key->section, "output") && !strcmp(key->name, "dir")))
            continue;
        char w[WHERE_CAP], exp[1024];
        where_of(cfg, key->section, key->name, w, sizeof w);
        check_expected(&key->spec, exp, sizeof exp);
        err_set(err, ERR_USAGE, "%s: found nothing, expected %s (required: %s)", w, exp, key->help);
        goto fail;
    }
    if (resolve_paths(cfg, err) || cross_check(cfg, err)) goto fail;
    free(L.line_off);
    free(buf);
    return cfg;
fail:
    cv_one_line(err);
    free(L.line_off);
    free(buf);
    config_free(cfg);
    return NULL;
}

void config_free(Config *cfg)
{
    if (!cfg) return;
    for (int k = 0; cfg->e && k < schema_n_keys; k++) {
        free(cfg->e[k].raw);
        free(cfg->e[k].path);
        cfg_value_free(cfg->e[k].value);
    }
    free(cfg->e);
    free(cfg->file);
    free(cfg->dir);
    free(cfg->stem);
    free(cfg);
}

/* ---- accessors ------------------------------------------------------------------- */

const char *config_file(const Config *cfg) { return cfg->file; }
const char *config_dir(const Config *cfg) { return cfg->dir; }
const char *config_stem(const Config *cfg) { return cfg->stem; }

static const Entry *get_entry(const Config *cfg, const char *section, const char *key)
{
    int k = key_index(section, key);
    if (k < 0) fprintf(stderr, "fastc: internal error: no config key [%s] %s\n", section, key);
    FASTC_ASSERT(k >= 0);
    return &cfg->e[k];
}

const CfgValue *cfg_get(const Config *cfg, const char *section, const char *key)
{
    return get_entry(cfg, section, key)->value;
}

double cfg_num(const Config *cfg, const char *section, const char *key)
{
    const CfgValue *v = cfg_get(cfg, section, key);
    FASTC_ASSERT(v && (v->kind == CV_NUM || v->kind == CV_BOOL));
    return v->num;
}

int cfg_int(const Config *cfg, const char *section, const char *key)
{
    double x = cfg_num(cfg, section, key);
    FASTC_ASSERT(x >= INT_MIN && x <= INT_MAX);
    return (int)x;
}

const char *cfg_str(const Config *cfg, const char *section, const char *key)
{
    const CfgValue *v = cfg_get(cfg, section, key);
    if (!v) return NULL;
    FASTC_ASSERT(v->kind == CV_STR || v->kind == CV_IDENT);
    return v->str;
}

/* Lexically drop "." and "dir/.." from an absolute or relative path, in
 * place (the result is never longer).  No fixed table of segments: any number
 * of them, any number of "..".  The leading ".." of a relative path are kept;
 * ".." at the root of an absolute one is the root. */
static void tidy_path(char *p)
{
    size_t n = strlen(p), w = 0, keep = 0;   /* p[0..keep) is never taken back: "/" or "../.." */
    if (p[0] == '/') w = keep = 1;
    for (size_t i = 0; i < n;) {
        while (i < n && p[i] == '/') i++;
        size_t s = i;
        while (i < n && p[i] != '/') i++;
        size_t len = i - s;
        if (len == 0 || (len == 1 && p[s] == '.')) continue;
        if (len == 2 && p[s] == '.' && p[s + 1] == '.') {
            if (w > keep) {   /* drop the last segment written, and the '/' before it */
                while (w > keep && p[w - 1] != '/') w--;
                if (w > keep) w--;
                continue;
            }
            if (keep == 1 && p[0] == '/') continue;   /* "/.." is "/" */
        }
        /* reading is always ahead of writing (each segment read gave up a '/'), so memmove is safe */
        if (w > 0 && p[w - 1] != '/') p[w++] = '/';
        memmove(p + w, p + s, len);
        w += len;
        if (len == 2 && p[s] == '.' && p[s + 1] == '.') keep = w;   /* a kept leading ".." */
    }
    if (w == 0 && n > 0) p[w++] = '.';
    p[w] = 0;
}

/* dir/rel (rel itself when absolute, ~/ from $HOME), tidied, malloc'd; NULL
 * when out of memory. */
static char *join_alloc(const char *dir, const char *rel)
{
    const char *home = getenv("HOME");
    size_t cap = strlen(dir) + strlen(rel) + (home ? strlen(home) : 0) + 3;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    if (rel[0] == '/') snprintf(buf, cap, "%s", rel);
    else if (rel[0] == '~' && (rel[1] == '/' || !rel[1]) && home) snprintf(buf, cap, "%s%s", home, rel + 1);
    else if (!strcmp(rel, ".")) snprintf(buf, cap, "%s", dir);
    else snprintf(buf, cap, "%s/%s", dir, rel[0] == '.' && rel[1] == '/' ? rel + 2 : rel);
    tidy_path(buf);
    return buf;
}

/* Resolve key k's path (and first the one it is relative to): against the
 * rel_to key's path when that is set, else the config's folder.  A result of
 * CFG_PATH_MAX bytes or more is an error here, so cfg_path never cuts one short. */
static int resolve_path(Config *cfg, int k, Err *err)
{
    Entry *e = &cfg->e[k];
    const SchemaKey *key = &schema_keys[k];
    if ((key->spec.type != ST_PATH && key->spec.type != ST_PATH_BOOL) || !e->value || e->value->kind == CV_BOOL ||
        e->path)
        return 0;
    const char *base = cfg->dir;
    if (key->rel_to && e->value->str[0] != '/') {
        char sec[32], name[32];
        const char *dot = strchr(key->rel_to, '.');
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - key->rel_to), key->rel_to);
        snprintf(name, sizeof name, "%s", dot + 1);
        int b = key_index(sec, name);
        FASTC_ASSERT(b >= 0 && b != k);
        if (resolve_path(cfg, b, err)) return err->code;
        if (cfg->e[b].path) base = cfg->e[b].path;
    }
    if (!(e->path = join_alloc(base, e->value->str))) return err_set(err, ERR_RUNTIME, "%s: out of memory", cfg->file);
    size_t n = strlen(e->path);
    if (n >= CFG_PATH_MAX) {
        char w[WHERE_CAP];
        where_of(cfg, key->section, key->name, w, sizeof w);
        return err_set(err, ERR_USAGE, "%s: found a path of %zu bytes once resolved (%.40s...), expected at most %d",
                       w, n, e->path, CFG_PATH_MAX - 1);
    }
    return 0;
}

static int resolve_paths(Config *cfg, Err *err)
{
    for (int k = 0; k < schema_n_keys; k++)
        if (resolve_path(cfg, k, err)) return err->code;
    return 0;
}

const char *cfg_resolve(const Config *cfg, const char *rel, char *buf, size_t cap)
{
    char *p = join_alloc(cfg->dir, rel);
    int fits = p && strlen(p) < cap;
    if (fits) memcpy(buf, p, strlen(p) + 1);
    free(p);
    return fits ? buf : NULL;
}

const char *cfg_path(const Config *cfg, const char *section, const char *key, char *buf, size_t cap)
{
    int k = key_index(section, key);
    FASTC_ASSERT(k >= 0 && (schema_keys[k].spec.type == ST_PATH || schema_keys[k].spec.type == ST_PATH_BOOL));
    const Entry *e = &cfg->e[k];
    if (!e->value || e->value->kind == CV_BOOL) return NULL;   /* pretrained = True / False */
    /* config_load resolved it and refused one of CFG_PATH_MAX bytes or more */
    FASTC_ASSERT(e->path && cap >= CFG_PATH_MAX);
    memcpy(buf, e->path, strlen(e->path) + 1);
    return buf;
}

int cfg_choice(const Config *cfg, const char *section, const char *key)
{
    const SchemaKey *k = schema_key(section, key);
    const char *v = cfg_str(cfg, section, key);
    FASTC_ASSERT(k && k->spec.type == ST_CHOICE && v);
    int i = schema_choice_index(k->spec.choices, v);
    FASTC_ASSERT(i >= 0);
    return i;
}

int cfg_is_set(const Config *cfg, const char *section, const char *key)
{
    return get_entry(cfg, section, key)->origin != ORIGIN_DEFAULT;
}

/* ---- writing --------------------------------------------------------------------- */

/* Format a key's value for the resolved config (paths absolute). */
static char *format_key(const Config *cfg, int k)
{
    const SchemaKey *key = &schema_keys[k];
    const CfgValue *v = cfg->e[k].value;
    size_t cap = 256;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf) return NULL;
        if ((key->spec.type == ST_PATH || key->spec.type == ST_PATH_BOOL) && v && v->kind != CV_BOOL) {
            char path[4200];
            CfgValue tmp = {.kind = CV_STR, .str = (char *)cfg_path(cfg, key->section, key->name, path, sizeof path)};
            cfg_value_format(&tmp, buf, cap);
        } else {
            cfg_value_format(v, buf, cap);
        }
        if (strlen(buf) + 1 < cap) return buf;
        free(buf);
        cap *= 4;
    }
}

int config_print(const Config *cfg, FILE *out)
{
    fputs("; resolved from ", out);
    for (const char *p = cfg->file; *p; p++) fputc((unsigned char)*p < 0x20 ? '?' : *p, out);
    fputs(": every key, defaults included\n", out);
    for (int s = 0; s < schema_n_sections; s++) {
        fprintf(out, "%s[%s]\n", s ? "\n" : "", schema_sections[s]);
        for (int k = 0; k < schema_n_keys; k++) {
            if (strcmp(schema_keys[k].section, schema_sections[s])) continue;
            if (!cfg->e[k].value) {
                fprintf(out, "; %s = (not set)\n", schema_keys[k].name);
                continue;
            }
            char *text = format_key(cfg, k);
            if (!text) return -1;
            fprintf(out, "%s = %s\n", schema_keys[k].name, text);
            free(text);
        }
    }
    return ferror(out) ? -1 : 0;
}

/* A resolved value as JSON: numbers, strings (names too), true/false/null,
 * arrays for tuples and lists, {"slice": [lo, hi]} (lo null for slice(hi)),
 * and {"call": "Resize", "args": {"size": 460, ...}} for a component. */
static void value_json(JsonBuf *b, const CfgValue *v)
{
    switch (v ? v->kind : CV_NONE) {
    case CV_NUM: json_buf_num(b, v->num); break;
    case CV_STR:
    case CV_IDENT: json_buf_str(b, v->str); break;
    case CV_BOOL: json_buf_bool(b, v->num != 0); break;
    case CV_NONE: json_buf_raw(b, "null", 4); break;
    case CV_TUPLE:
    case CV_LIST:
        json_buf_putc(b, '[');
        for (int i = 0; i < v->n; i++) json_buf_sep(b), value_json(b, v->items[i]);
        json_buf_putc(b, ']');
        break;
    case CV_SLICE:
        json_buf_raw(b, "{\"slice\": [", 11);
        if (v->n == 2) value_json(b, v->items[0]), json_buf_raw(b, ", ", 2), value_json(b, v->items[1]);
        else json_buf_raw(b, "null, null", 10);
        json_buf_raw(b, "]}", 2);
        break;
    case CV_CALL: {
        int named = 1;
        for (int i = 0; i < v->n; i++) named &= v->names && v->names[i];
        json_buf_putc(b, '{');
        json_buf_key(b, "call");
        json_buf_str(b, v->str);
        json_buf_key(b, "args");
        json_buf_putc(b, named ? '{' : '[');
        for (int i = 0; i < v->n; i++) {
            if (named) json_buf_key(b, v->names[i]);
            else json_buf_sep(b);
            value_json(b, v->items[i]);
        }
        json_buf_putc(b, named ? '}' : ']');
        json_buf_putc(b, '}');
        break;
    }
    }
}

int config_print_json(const Config *cfg, FILE *out)
{
    JsonBuf b = {0};
    json_buf_putc(&b, '{');
    for (int s = 0; s < schema_n_sections; s++) {
        json_buf_key(&b, schema_sections[s]);
        json_buf_putc(&b, '{');
        for (int k = 0; k < schema_n_keys; k++) {
            const SchemaKey *key = &schema_keys[k];
            if (strcmp(key->section, schema_sections[s])) continue;
            json_buf_key(&b, key->name);
            char path[4200];
            const char *abs = cfg->e[k].value && key->spec.type == ST_PATH
                                  ? cfg_path(cfg, key->section, key->name, path, sizeof path) : NULL;
            if (abs)   /* absolute, as config.ini has it */
                json_buf_str(&b, abs);
            else
                value_json(&b, cfg->e[k].value);
        }
        json_buf_putc(&b, '}');
    }
    json_buf_putc(&b, '}');
    if (b.oom) {
        json_buf_free(&b);
        return -1;
    }
    fputs(b.s, out);
    json_buf_free(&b);
    return ferror(out) ? -1 : 0;
}

int config_write(const Config *cfg, const char *path, Err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return err_set(err, ERR_RUNTIME, "%s: cannot write: %s", tmp, strerror(errno));
    int bad = config_print(cfg, f) != 0;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return err_set(err, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

/* ---- help -------------------------------------------------------------------------- */

int cfg_comp_count(void) { return schema_n_comps; }

const char *cfg_comp_at(int i, CfgSlot *slot)
{
    FASTC_ASSERT(i >= 0 && i < schema_n_comps);
    if (slot) *slot = schema_comps[i].slot;
    return schema_comps[i].name;
}

const char *config_key_at(int i, char *buf, size_t cap)
{
    if (i < 0 || i >= schema_n_keys) return NULL;
    snprintf(buf, cap, "%s.%s", schema_keys[i].section, schema_keys[i].name);
    return buf;
}

void config_print_help(FILE *out)
{
    fprintf(out, "Config keys (section, key, default or [required], what it takes):\n");
    for (int s = 0; s < schema_n_sections; s++) {
        fprintf(out, "\n[%s]\n", schema_sections[s]);
        for (int k = 0; k < schema_n_keys; k++) {
            const SchemaKey *key = &schema_keys[k];
            if (strcmp(key->section, schema_sections[s])) continue;
            char exp[256];
            schema_expected(&key->spec, exp, sizeof exp);
            const char *def = key->spec.def ? key->spec.def : key->spec.optional ? "(not set)" : "[required]";
            fprintf(out, "  %-14s %-30s %s; %s\n", key->name, def, exp, key->help);
        }
    }
    fprintf(out, "\nComponents (fastai names; a bare name means all defaults):\n");
    for (int slot = 1; slot < SLOT_COUNT; slot++) {
        fprintf(out, "\n  %s:\n", schema_slot_names[slot]);
        for (int i = 0; i < schema_n_comps; i++) {
            if (schema_comps[i].slot != (SchemaSlot)slot) continue;
            char sig[1024];
            schema_signature(&schema_comps[i], sig, sizeof sig);
            fprintf(out, "    %s\n        %s\n", sig, schema_comps[i].help);
        }
    }
}
