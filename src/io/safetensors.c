/* safetensors.c — safetensors reader/writer and Model save/load (see safetensors.h). */
#include "io/safetensors.h"

#include "core/mem.h"
#include "io/atomic.h"
#include "io/json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

static const char *const dtype_names[ST_N_DTYPES] = {
    "BOOL", "U8", "I8", "U16", "I16", "F16", "BF16", "U32", "I32", "F32", "U64", "I64", "F64"};
static const size_t dtype_sizes[ST_N_DTYPES] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};

const char *st_dtype_name(StDtype d) { return (unsigned)d < ST_N_DTYPES ? dtype_names[d] : "?"; }
size_t st_dtype_size(StDtype d) { return (unsigned)d < ST_N_DTYPES ? dtype_sizes[d] : 0; }

static int dtype_is_float(StDtype d) { return d == ST_F16 || d == ST_BF16 || d == ST_F32 || d == ST_F64; }

void st_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* ---- metadata ----------------------------------------------------------- */

void st_meta_init(StMeta *m) { memset(m, 0, sizeof *m); }

void st_meta_free(StMeta *m)
{
    for (size_t i = 0; i < m->n; i++) free(m->keys[i]), free(m->vals[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

int st_meta_set(StMeta *m, const char *key, const char *val)
{
    char *v = strdup(val);
    if (!v) return -1;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) {
            free(m->vals[i]);
            m->vals[i] = v;
            return 0;
        }
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 16;
        char **k = realloc(m->keys, nc * sizeof *k);
        if (!k) return free(v), -1;
        m->keys = k;
        char **vv = realloc(m->vals, nc * sizeof *vv);
        if (!vv) return free(v), -1;
        m->vals = vv;
        m->cap = nc;
    }
    char *k = strdup(key);
    if (!k) return free(v), -1;
    m->keys[m->n] = k;
    m->vals[m->n] = v;
    m->n++;
    return 0;
}

int st_meta_set_int(StMeta *m, const char *key, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return st_meta_set(m, key, buf);
}

int st_meta_set_double(StMeta *m, const char *key, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    return st_meta_set(m, key, buf);
}

int st_meta_set_strings(StMeta *m, const char *key, const char *const *v, size_t n)
{
    char *s = json_encode_strings(v, n);
    if (!s) return -1;
    int rc = st_meta_set(m, key, s);
    free(s);
    return rc;
}

int st_meta_set_numbers(StMeta *m, const char *key, const double *v, size_t n)
{
    char *s = json_encode_numbers(v, n);
    if (!s) return -1;
    int rc = st_meta_set(m, key, s);
    free(s);
    return rc;
}

const char *st_meta_get(const StMeta *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) return m->vals[i];
    return NULL;
}

static const char *need(const StMeta *m, const char *key, Err *err)
{
    const char *v = st_meta_get(m, key);
    if (!v) err_set(err, ERR_RUNTIME, "metadata key '%s' is missing", key);
    return v;
}

int st_meta_get_int(const StMeta *m, const char *key, long long *out, Err *err)
{
    const char *v = need(m, key, err);
    if (!v) return ERR_RUNTIME;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno)
        return err_set(err, ERR_RUNTIME, "metadata key '%s': expected an integer, found \"%.60s\"", key, v);
    *out = x;
    return 0;
}

int st_meta_get_double(const StMeta *m, const char *key, double *out, Err *err)
{
    const char *v = need(m, key, err);
    if (!v) return ERR_RUNTIME;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end)
        return err_set(err, ERR_RUNTIME, "metadata key '%s': expected a number, found \"%.60s\"", key, v);
    *out = x;
    return 0;
}

int st_meta_get_strings(const StMeta *m, const char *key, char ***out, size_t *n, Err *err)
{
    *out = NULL;
    *n = 0;
    const char *v = need(m, key, err);
    if (!v) return ERR_RUNTIME;
    char what[160];
    snprintf(what, sizeof what, "metadata key '%.100s'", key);
    return json_decode_strings(v, what, out, n, err);
}

int st_meta_get_numbers(const StMeta *m, const char *key, double *out, size_t cap, size_t *n, Err *err)
{
    *n = 0;
    const char *v = need(m, key, err);
    if (!v) return ERR_RUNTIME;
    char what[160];
    snprintf(what, sizeof what, "metadata key '%.100s'", key);
    return json_decode_numbers(v, what, out, cap, n, err);
}

/* ---- writing ------------------------------------------------------------ */

typedef enum SrcKind {
    SRC_RAW,         /* bytes as they are */
    SRC_F32_OHWI,    /* float [O][KH][KW][I] written as OIHW */
    SRC_F32_AS_I64   /* float counter written as int64 */
} SrcKind;

typedef struct WTensor {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIM];
    const void *data;
    SrcKind src;
    uint64_t numel, nbytes;
} WTensor;

struct StWriter {
    WTensor *t;
    size_t n, cap;
    StMeta meta;
};

StWriter *st_writer_new(void)
{
    StWriter *w = calloc(1, sizeof *w);
    if (w) st_meta_init(&w->meta);
    return w;
}

void st_writer_free(StWriter *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->t[i].name);
    free(w->t);
    st_meta_free(&w->meta);
    free(w);
}

StMeta *st_writer_meta(StWriter *w) { return &w->meta; }

static int add_tensor(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                      const void *data, SrcKind src, Err *err)
{
    if ((unsigned)dtype >= ST_N_DTYPES) return err_set(err, ERR_RUNTIME, "tensor '%s': bad dtype", name);
    if (ndim < 0 || ndim > ST_MAX_DIM)
        return err_set(err, ERR_RUNTIME, "tensor '%s': %d dimensions (at most %d)", name, ndim, ST_MAX_DIM);
    if (strcmp(name, "__metadata__") == 0 || !*name)
        return err_set(err, ERR_RUNTIME, "tensor name '%s' is reserved", name);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0) return err_set(err, ERR_RUNTIME, "tensor '%s' added twice", name);
    uint64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return err_set(err, ERR_RUNTIME, "tensor '%s': negative dimension", name);
        numel *= (uint64_t)shape[d];
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        WTensor *t = realloc(w->t, nc * sizeof *t);
        if (!t) return err_set(err, ERR_RUNTIME, "out of memory");
        w->t = t;
        w->cap = nc;
    }
    WTensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return err_set(err, ERR_RUNTIME, "out of memory");
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->data = data;
    t->src = src;
    t->numel = numel;
    t->nbytes = numel * dtype_sizes[dtype];
    w->n++;
    return 0;
}

int st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                  const void *data, Err *err)
{
    return add_tensor(w, name, dtype, ndim, shape, data, SRC_RAW, err);
}

int st_writer_add_params(StWriter *w, const Param *params, int n_params, Err *err)
{
    for (int i = 0; i < n_params; i++) {
        const Param *p = &params[i];
        SrcKind src = SRC_RAW;
        StDtype dt = ST_F32;
        if (p->kind == PARAM_COUNTER) src = SRC_F32_AS_I64, dt = ST_I64;
        else if (p->layout == LAYOUT_OHWI) {
            if (p->ndim != 4) return err_set(err, ERR_RUNTIME, "param '%s': OHWI layout needs 4 dimensions", p->name);
            src = SRC_F32_OHWI;
        }
        uint64_t numel = 1;
        for (int d = 0; d < p->ndim; d++) numel *= (uint64_t)p->shape[d];
        if (numel != p->n)
            return err_set(err, ERR_RUNTIME, "param '%s': shape does not match its %zu elements", p->name, p->n);
        int rc = add_tensor(w, p->name, dt, p->ndim, p->shape, p->w, src, err);
        if (rc) return rc;
    }
    return 0;
}

/* Convert one tensor into the bytes that go into the file. */
static const void *file_bytes(const WTensor *t, void *scratch)
{
    if (t->src == SRC_RAW) return t->data;
    const float *src = t->data;
    if (t->src == SRC_F32_AS_I64) {
        int64_t *o = scratch;
        for (uint64_t i = 0; i < t->numel; i++) o[i] = (int64_t)llround(src[i]);
        return o;
    }
    /* OHWI memory -> PyTorch OIHW: out[o][i][y][x] = w[o][y][x][i]. */
    int64_t O = t->shape[0], I = t->shape[1], KH = t->shape[2], KW = t->shape[3];
    float *o = scratch;
    for (int64_t a = 0; a < O; a++)
        for (int64_t i = 0; i < I; i++)
            for (int64_t y = 0; y < KH; y++)
                for (int64_t x = 0; x < KW; x++)
                    o[((a * I + i) * KH + y) * KW + x] = src[((a * KH + y) * KW + x) * I + i];
    return o;
}

int st_writer_write(StWriter *w, const char *path, Err *err)
{
    JsonBuf h = {0};
    json_buf_putc(&h, '{');
    int first = 1;
    if (w->meta.n) {
        json_buf_str(&h, "__metadata__");
        json_buf_raw(&h, ":{", 2);
        for (size_t i = 0; i < w->meta.n; i++) {
            if (i) json_buf_putc(&h, ',');
            json_buf_str(&h, w->meta.keys[i]);
            json_buf_putc(&h, ':');
            json_buf_str(&h, w->meta.vals[i]);
        }
        json_buf_putc(&h, '}');
        first = 0;
    }
    uint64_t off = 0, scratch_bytes = 0;
    for (size_t i = 0; i < w->n; i++) {
        const WTensor *t = &w->t[i];
        if (!first) json_buf_putc(&h, ',');
        first = 0;
        json_buf_str(&h, t->name);
        json_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", dtype_names[t->dtype]);
        for (int d = 0; d < t->ndim; d++) json_buf_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        json_buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                        (unsigned long long)(off + t->nbytes));
        off += t->nbytes;
        if (t->src != SRC_RAW && t->nbytes > scratch_bytes) scratch_bytes = t->nbytes;
    }
    json_buf_putc(&h, '}');
    /* Pad with spaces so the data starts 8-byte aligned, as the reference writer does. */
    while ((8 + h.len) % 8) json_buf_putc(&h, ' ');
    if (h.oom) {
        json_buf_free(&h);
        return err_set(err, ERR_RUNTIME, "%s: out of memory building the header", path);
    }
    void *scratch = scratch_bytes ? malloc(scratch_bytes) : NULL;
    if (scratch_bytes && !scratch) {
        json_buf_free(&h);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    }
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) {
        json_buf_free(&h);
        free(scratch);
        return rc;
    }
    uint8_t len8[8];
    uint64_t hl = h.len;
    for (int k = 0; k < 8; k++) len8[k] = (uint8_t)(hl >> (8 * k));
    int bad = fwrite(len8, 1, 8, af.f) != 8 || fwrite(h.s, 1, h.len, af.f) != h.len;
    for (size_t i = 0; i < w->n && !bad; i++) {
        const WTensor *t = &w->t[i];
        if (!t->nbytes) continue;
        const void *bytes = file_bytes(t, scratch);
        if (fwrite(bytes, 1, t->nbytes, af.f) != t->nbytes) bad = 1;
    }
    json_buf_free(&h);
    free(scratch);
    if (bad) {
        int e = errno;
        atomic_abort(&af);
        return err_set(err, ERR_RUNTIME, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    return atomic_commit(&af, err);
}

int st_save_model(const Model *m, const StMeta *extra, const char *path, Err *err)
{
    StWriter *w = st_writer_new();
    if (!w) return err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    int rc = 0;
    StMeta *meta = st_writer_meta(w);
    if (st_meta_set(meta, "fastc_format", ST_FORMAT_VERSION) || st_meta_set(meta, "arch", m->info.arch) ||
        st_meta_set_int(meta, "n_in", m->info.n_in) || st_meta_set_int(meta, "n_out", m->info.n_out))
        rc = err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    for (size_t i = 0; extra && i < extra->n && !rc; i++)
        if (st_meta_set(meta, extra->keys[i], extra->vals[i])) rc = err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    if (!rc) {
        rc = st_writer_add_params(w, m->params, m->n_params, err);
        if (rc) err_prefix(err, "%s: ", path);
    }
    if (!rc) rc = st_writer_write(w, path, err);
    st_writer_free(w);
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

static int read_exact(int fd, void *dst, size_t n, uint64_t off)
{
    uint8_t *p = dst;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

void st_close(StFile *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    st_meta_free(&f->meta);
    free(f);
}

static int parse_dtype(const char *s, StDtype *out)
{
    for (int d = 0; d < ST_N_DTYPES; d++)
        if (strcmp(s, dtype_names[d]) == 0) {
            *out = (StDtype)d;
            return 0;
        }
    return -1;
}

static int parse_tensor_entry(StFile *f, const char *name, const Json *e, uint64_t data_size, StTensor *t, Err *err)
{
    const char *path = f->path;
    if (e->type != JSON_OBJECT)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': header entry is a %s, expected an object", path, name,
                       json_type_name(e->type));
    for (size_t k = 0; k < e->n; k++)
        if (strcmp(e->keys[k], "dtype") && strcmp(e->keys[k], "shape") && strcmp(e->keys[k], "data_offsets"))
            return err_set(err, ERR_RUNTIME, "%s: tensor '%s': unknown header field '%.60s'", path, name, e->keys[k]);
    const Json *dt = json_get(e, "dtype"), *sh = json_get(e, "shape"), *of = json_get(e, "data_offsets");
    if (!dt || dt->type != JSON_STRING)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': expected a string field 'dtype'", path, name);
    if (parse_dtype(dt->str, &t->dtype))
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': unsupported dtype '%.20s'", path, name, dt->str);
    if (!sh || sh->type != JSON_ARRAY)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': expected a list field 'shape'", path, name);
    if (sh->n > ST_MAX_DIM)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': %zu dimensions (at most %d supported)", path, name, sh->n,
                       ST_MAX_DIM);
    t->ndim = (int)sh->n;
    uint64_t numel = 1;
    int overflow = 0;
    for (size_t d = 0; d < sh->n; d++) {
        const Json *x = &sh->items[d];
        if (x->type != JSON_NUMBER || !x->is_int || x->i < 0)
            return err_set(err, ERR_RUNTIME, "%s: tensor '%s': shape[%zu] is not a non-negative integer", path, name, d);
        t->shape[d] = x->i;
        if (x->i && numel > UINT64_MAX / (uint64_t)x->i) overflow = 1;
        else numel *= (uint64_t)x->i;
    }
    if (!of || of->type != JSON_ARRAY || of->n != 2)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': expected a field 'data_offsets' = [begin, end]", path, name);
    for (int k = 0; k < 2; k++)
        if (of->items[k].type != JSON_NUMBER || !of->items[k].is_int || of->items[k].i < 0)
            return err_set(err, ERR_RUNTIME, "%s: tensor '%s': data_offsets[%d] is not a non-negative integer", path,
                           name, k);
    uint64_t b = (uint64_t)of->items[0].i, en = (uint64_t)of->items[1].i;
    if (b > en)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", path, name,
                       (unsigned long long)b, (unsigned long long)en);
    uint64_t es = dtype_sizes[t->dtype];
    if (overflow || numel > UINT64_MAX / es || numel * es != en - b) {
        char s[200];
        st_shape_str(t->shape, t->ndim, s, sizeof s);
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': %llu bytes in data_offsets, but %s %s needs %s%llu", path,
                       name, (unsigned long long)(en - b), st_dtype_name(t->dtype), s, overflow ? "more than " : "",
                       overflow ? (unsigned long long)UINT64_MAX : (unsigned long long)(numel * es));
    }
    if (en > data_size)
        return err_set(err, ERR_RUNTIME,
                       "%s: truncated file: tensor '%s' needs data bytes %llu..%llu but the file holds only %llu",
                       path, name, (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_size);
    t->numel = numel;
    t->nbytes = en - b;
    t->offset = b; /* relative for now; made absolute by the caller */
    return 0;
}

static int cmp_by_offset(const void *a, const void *b)
{
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int parse_header(StFile *f, const Json *root, uint64_t data_start, Err *err)
{
    if (root->type != JSON_OBJECT)
        return err_set(err, ERR_RUNTIME, "%s: header is a JSON %s, expected an object", f->path, json_type_name(root->type));
    f->tensors = calloc(root->n ? root->n : 1, sizeof *f->tensors);
    if (!f->tensors) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    uint64_t data_size = f->file_size - data_start;
    for (size_t i = 0; i < root->n; i++) {
        const char *key = root->keys[i];
        const Json *v = &root->items[i];
        if (strcmp(key, "__metadata__") == 0) {
            if (v->type != JSON_OBJECT)
                return err_set(err, ERR_RUNTIME, "%s: __metadata__ is a %s, expected an object of strings", f->path,
                               json_type_name(v->type));
            for (size_t k = 0; k < v->n; k++) {
                if (v->items[k].type != JSON_STRING)
                    return err_set(err, ERR_RUNTIME, "%s: __metadata__ key '%.100s' is a %s, expected a string",
                                   f->path, v->keys[k], json_type_name(v->items[k].type));
                if (st_meta_set(&f->meta, v->keys[k], v->items[k].str))
                    return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
            }
            continue;
        }
        StTensor *t = &f->tensors[f->n_tensors];
        int rc = parse_tensor_entry(f, key, v, data_size, t, err);
        if (rc) return rc;
        t->name = strdup(key);
        if (!t->name) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
        f->n_tensors++;
    }
    /* No two tensors may share bytes. */
    if (f->n_tensors > 1) {
        StTensor **by = malloc(f->n_tensors * sizeof *by);
        if (!by) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
        for (size_t i = 0; i < f->n_tensors; i++) by[i] = &f->tensors[i];
        qsort(by, f->n_tensors, sizeof *by, cmp_by_offset);
        uint64_t end = 0;
        const StTensor *prev = NULL;
        for (size_t i = 0; i < f->n_tensors; i++) {
            if (!by[i]->nbytes) continue;
            if (prev && by[i]->offset < end) {
                int rc = err_set(err, ERR_RUNTIME, "%s: tensors '%s' and '%s' overlap in the data (offsets %llu < %llu)",
                                 f->path, prev->name, by[i]->name, (unsigned long long)by[i]->offset,
                                 (unsigned long long)end);
                free(by);
                return rc;
            }
            end = by[i]->offset + by[i]->nbytes;
            prev = by[i];
        }
        free(by);
    }
    for (size_t i = 0; i < f->n_tensors; i++) f->tensors[i].offset += data_start;
    const char *fmt = st_meta_get(&f->meta, "fastc_format");
    if (fmt && strcmp(fmt, ST_FORMAT_VERSION) != 0)
        return err_set(err, ERR_USAGE, "%s: fastc file format '%.20s'; this fastc reads format %s (newer fastc?)",
                       f->path, fmt, ST_FORMAT_VERSION);
    return 0;
}

int st_open(const char *path, StFile **out, Err *err)
{
    *out = NULL;
    StFile *f = calloc(1, sizeof *f);
    if (!f) return err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    snprintf(f->path, sizeof f->path, "%s", path);
    st_meta_init(&f->meta);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        int rc = err_set(err, ERR_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
        st_close(f);
        return rc;
    }
    struct stat st;
    int rc = 0;
    if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = err_set(err, ERR_RUNTIME, "%s: not a regular file", path);
        goto fail;
    }
    f->file_size = (uint64_t)st.st_size;
    if (f->file_size < 8) {
        rc = err_set(err, ERR_RUNTIME, "%s: truncated file: %llu bytes, a safetensors file starts with an 8-byte header length",
                     path, (unsigned long long)f->file_size);
        goto fail;
    }
    uint8_t l8[8];
    if (read_exact(f->fd, l8, 8, 0)) {
        rc = err_set(err, ERR_RUNTIME, "%s: cannot read the header length", path);
        goto fail;
    }
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--) hl = hl << 8 | l8[k];
    if (hl > ST_MAX_HEADER) {
        rc = err_set(err, ERR_RUNTIME, "%s: header length %llu bytes is absurd (limit %u): not a safetensors file, or corrupt",
                     path, (unsigned long long)hl, ST_MAX_HEADER);
        goto fail;
    }
    if (hl > f->file_size - 8) {
        rc = err_set(err, ERR_RUNTIME, "%s: header length %llu bytes exceeds the file (%llu bytes): truncated, or not a safetensors file",
                     path, (unsigned long long)hl, (unsigned long long)f->file_size);
        goto fail;
    }
    char *text = malloc(hl ? hl : 1);
    if (!text) {
        rc = err_set(err, ERR_RUNTIME, "%s: out of memory for a %llu-byte header", path, (unsigned long long)hl);
        goto fail;
    }
    if (read_exact(f->fd, text, hl, 8)) {
        free(text);
        rc = err_set(err, ERR_RUNTIME, "%s: cannot read the header", path);
        goto fail;
    }
    Json *root = json_parse(text, hl, err);
    free(text);
    if (!root) {
        rc = err_prefix(err, "%s: malformed JSON header: ", path);
        goto fail;
    }
    rc = parse_header(f, root, 8 + hl, err);
    json_free(root);
    if (rc) goto fail;
    *out = f;
    return 0;
fail:
    st_close(f);
    return rc;
}

const StTensor *st_find(const StFile *f, const char *name)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

int st_read_raw(const StFile *f, const StTensor *t, void *dst, size_t cap, Err *err)
{
    if (cap < t->nbytes)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': %llu bytes do not fit the %zu-byte buffer", f->path, t->name,
                       (unsigned long long)t->nbytes, cap);
    if (t->nbytes && read_exact(f->fd, dst, t->nbytes, t->offset))
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': read failed (file truncated while reading?)", f->path, t->name);
    return 0;
}

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0) {
        if (m == 0) {
            bits = s;
        } else { /* subnormal: normalise */
            e = 113;
            while (!(m & 0x400)) m <<= 1, e--;
            bits = s | e << 23 | (m & 0x3ff) << 13;
        }
    } else if (e == 31) {
        bits = s | 0xffu << 23 | m << 13;
    } else {
        bits = s | (e + 112) << 23 | m << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int st_read_f32(const StFile *f, const StTensor *t, float *dst, size_t n, Err *err)
{
    if (n != t->numel)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': %llu elements, expected %zu", f->path, t->name,
                       (unsigned long long)t->numel, n);
    if (!dtype_is_float(t->dtype))
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': dtype %s, expected a floating-point type (F32, F16, BF16, F64)",
                       f->path, t->name, st_dtype_name(t->dtype));
    if (t->dtype == ST_F32) return st_read_raw(f, t, dst, n * sizeof(float), err);
    void *tmp = malloc(t->nbytes ? t->nbytes : 1);
    if (!tmp) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    int rc = st_read_raw(f, t, tmp, t->nbytes, err);
    if (!rc) {
        if (t->dtype == ST_F64) {
            const double *s = tmp;
            for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        } else if (t->dtype == ST_F16) {
            const uint16_t *s = tmp;
            for (size_t i = 0; i < n; i++) dst[i] = half_to_float(s[i]);
        } else { /* BF16: the top half of a float32 */
            const uint16_t *s = tmp;
            for (size_t i = 0; i < n; i++) {
                uint32_t b = (uint32_t)s[i] << 16;
                memcpy(&dst[i], &b, 4);
            }
        }
    }
    free(tmp);
    return rc;
}

int st_read_i64(const StFile *f, const StTensor *t, int64_t *dst, size_t n, Err *err)
{
    if (n != t->numel)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': %llu elements, expected %zu", f->path, t->name,
                       (unsigned long long)t->numel, n);
    if (t->dtype == ST_I64) return st_read_raw(f, t, dst, n * sizeof(int64_t), err);
    if (dtype_is_float(t->dtype)) {
        float *tmp = malloc((n ? n : 1) * sizeof *tmp);
        if (!tmp) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
        int rc = st_read_f32(f, t, tmp, n, err);
        for (size_t i = 0; i < n && !rc; i++) {
            if (!(tmp[i] == floorf(tmp[i])) || fabsf(tmp[i]) > 9.2e18f)
                rc = err_set(err, ERR_RUNTIME, "%s: tensor '%s': value %g is not an integer", f->path, t->name, tmp[i]);
            else
                dst[i] = (int64_t)tmp[i];
        }
        free(tmp);
        return rc;
    }
    if (t->dtype == ST_BOOL)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': dtype BOOL, expected an integer or floating-point type",
                       f->path, t->name);
    void *tmp = malloc(t->nbytes ? t->nbytes : 1);
    if (!tmp) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    int rc = st_read_raw(f, t, tmp, t->nbytes, err);
    for (size_t i = 0; i < n && !rc; i++) {
        switch (t->dtype) {
        case ST_I32: dst[i] = ((const int32_t *)tmp)[i]; break;
        case ST_U32: dst[i] = ((const uint32_t *)tmp)[i]; break;
        case ST_U64: {
            uint64_t u = ((const uint64_t *)tmp)[i];
            if (u > (uint64_t)INT64_MAX)
                rc = err_set(err, ERR_RUNTIME, "%s: tensor '%s': value %llu does not fit int64", f->path, t->name,
                             (unsigned long long)u);
            dst[i] = (int64_t)(u & (uint64_t)INT64_MAX);
            break;
        }
        case ST_I16: dst[i] = ((const int16_t *)tmp)[i]; break;
        case ST_U16: dst[i] = ((const uint16_t *)tmp)[i]; break;
        case ST_I8: dst[i] = ((const int8_t *)tmp)[i]; break;
        default: dst[i] = ((const uint8_t *)tmp)[i]; break;
        }
    }
    free(tmp);
    return rc;
}

/* ---- finite values ------------------------------------------------------ */

/* Index of the first NaN or infinity in v[0..n), or n. */
static size_t first_nonfinite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return n;
}

static int nonfinite_error(const char *path, const char *name, const float *v, size_t i, size_t n, Err *err)
{
    return err_set(err, ERR_RUNTIME,
                   "%s: tensor '%s': value %zu of %zu is %s; weights must be finite (was the file saved from a run "
                   "that diverged?)",
                   path, name, i, n, isnan(v[i]) ? "NaN" : v[i] > 0 ? "+inf" : "-inf");
}

int st_check_finite(const StFile *f, const StTensor *t, Err *err)
{
    if (!dtype_is_float(t->dtype)) return 0;
    float *v = malloc((t->numel ? t->numel : 1) * sizeof *v);
    if (!v) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    int rc = st_read_f32(f, t, v, (size_t)t->numel, err);
    size_t i = rc ? 0 : first_nonfinite(v, (size_t)t->numel);
    if (!rc && i < t->numel) rc = nonfinite_error(f->path, t->name, v, i, (size_t)t->numel, err);
    free(v);
    return rc;
}

/* ---- loading a model ---------------------------------------------------- */

/* torchvision/timm resnet name -> fastai Sequential name; 0 = mapped, 1 = the
 * classifier (fc.*), -1 = not a torchvision resnet name (left as is). */
static int tv_to_fastai(const char *in, char *out, size_t cap)
{
    if (strncmp(in, "fc.", 3) == 0) return 1;
    if (strncmp(in, "conv1.", 6) == 0) return snprintf(out, cap, "0.0.%s", in + 6), 0;
    if (strncmp(in, "bn1.", 4) == 0) return snprintf(out, cap, "0.1.%s", in + 4), 0;
    if (strncmp(in, "layer", 5) == 0 && in[5] >= '1' && in[5] <= '4' && in[6] == '.')
        return snprintf(out, cap, "0.%d.%s", in[5] - '1' + 4, in + 7), 0;
    snprintf(out, cap, "%s", in);
    return -1;
}

/* The inverse, to name a missing tensor the way the file names them. */
static void fastai_to_tv(const char *in, char *out, size_t cap)
{
    if (strncmp(in, "0.0.", 4) == 0) snprintf(out, cap, "conv1.%s", in + 4);
    else if (strncmp(in, "0.1.", 4) == 0) snprintf(out, cap, "bn1.%s", in + 4);
    else if (strncmp(in, "0.", 2) == 0 && in[2] >= '4' && in[2] <= '7' && in[3] == '.')
        snprintf(out, cap, "layer%d.%s", in[2] - '4' + 1, in + 4);
    else snprintf(out, cap, "%s", in);
}

static int same_shape(const StTensor *t, const Param *p)
{
    if (t->ndim != p->ndim) return 0;
    for (int d = 0; d < p->ndim; d++)
        if (t->shape[d] != p->shape[d]) return 0;
    return 1;
}

/* fastai's _load_pretrained_weights: a first conv trained on 3 channels
 * given to a model with n_in channels. src [O][3][KH][KW], dst [O][n_in][KH][KW]. */
static void adapt_first_conv(float *dst, const float *src, int64_t O, int64_t n_in, int64_t khw)
{
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < n_in; i++)
            for (int64_t k = 0; k < khw; k++) {
                float v;
                const float *s = src + o * 3 * khw + k;
                if (n_in == 1) v = s[0] + s[khw] + s[2 * khw];
                else if (n_in == 2) v = s[i * khw] * 1.5f;
                else v = i < 3 ? s[i * khw] : 0.0f;
                dst[(o * n_in + i) * khw + k] = v;
            }
}

static int check_metadata(const Model *m, const StFile *f, StLoadMode mode, Err *err)
{
    const char *arch = st_meta_get(&f->meta, "arch");
    if (arch && strcmp(arch, m->info.arch) != 0)
        return err_set(err, ERR_USAGE, "%s: the file holds a %.40s model; expected %s", f->path, arch, m->info.arch);
    if (mode != ST_LOAD_FULL) {
        /* a body's first convolution is adapted from 3 channels only (fastai) */
        const char *n_in = st_meta_get(&f->meta, "n_in");
        if (n_in && atoi(n_in) != 3 && atoi(n_in) != m->info.n_in)
            return err_set(err, ERR_USAGE, "%s: the file's %s body takes n_in = %.20s; expected %d (only 3-channel "
                           "bodies are adapted, as fastai does)", f->path, arch ? arch : "", n_in, m->info.n_in);
        return 0;
    }
    const char *keys[] = {"n_in", "n_out"};
    int want[] = {m->info.n_in, m->info.n_out};
    for (int k = 0; k < 2; k++) {
        const char *v = st_meta_get(&f->meta, keys[k]);
        if (v && atoi(v) != want[k])
            return err_set(err, ERR_USAGE, "%s: the file's %s model has %s = %.20s; expected %d", f->path,
                           arch ? arch : "", keys[k], v, want[k]);
    }
    return 0;
}

int st_load_model(Model *m, const StFile *f, StLoadMode mode, char *note, size_t note_cap, Err *err)
{
    if (note && note_cap) note[0] = 0;
    int rc = check_metadata(m, f, mode, err);
    if (rc) return rc;
    /* torchvision names, to be mapped onto fastai's Sequential(body, head) — unless the
     * model itself is torchvision-named ([model] head = 'torchvision') */
    int tv = st_find(f, "conv1.weight") != NULL && !model_param(m, "conv1.weight");
    int pre = mode == ST_LOAD_PRETRAINED;
    /* The exit-status rule (README, "Exit status"): a file that declares this
     * model (fastc metadata, checked above) but whose tensors do not fit it
     * is damaged: ERR_RUNTIME.  A file without that declaration (torchvision
     * weights) is described by its tensors alone: ones that do not fit are
     * another architecture's, the wrong file for this config: ERR_USAGE. */
    int declared = st_meta_get(&f->meta, "arch") != NULL;
    int misfit = declared ? ERR_RUNTIME : ERR_USAGE;
    /* plan[i]: file tensor for param i, or NULL. */
    const StTensor **plan = calloc((size_t)m->n_params + 1, sizeof *plan);
    if (!plan) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    int n_fc = 0, n_head = 0, adapted = -1, n_zero_counters = 0;
    char name[256];
    for (size_t ti = 0; ti < f->n_tensors && !rc; ti++) {
        const StTensor *t = &f->tensors[ti];
        if (tv) {
            if (tv_to_fastai(t->name, name, sizeof name) == 1) {
                if (pre) { n_fc++; continue; }
                rc = err_set(err, ERR_USAGE, "%s: tensor '%s' is a torchvision classifier; a torchvision file can only be `pretrained =`",
                             f->path, t->name);
                break;
            }
        } else {
            snprintf(name, sizeof name, "%s", t->name);
        }
        if (pre && strncmp(name, "1.", 2) == 0) { n_head++; continue; }
        int pi = -1;
        for (int i = 0; i < m->n_params; i++)
            if (strcmp(m->params[i].name, name) == 0) { pi = i; break; }
        if (pi < 0 || (pre && strncmp(name, "0.", 2) != 0)) {
            rc = err_set(err, misfit, "%s: tensor '%s' has no place in a %s model (%s)", f->path, t->name,
                         m->info.arch, declared ? "a damaged file?" : "wrong arch?");
            break;
        }
        const Param *p = &m->params[pi];
        if (plan[pi]) {
            rc = err_set(err, ERR_RUNTIME, "%s: tensors '%s' and '%s' both give %s", f->path, plan[pi]->name, t->name, p->name);
            break;
        }
        int float_ok = dtype_is_float(t->dtype);
        int int_ok = !float_ok && t->dtype != ST_BOOL;
        if (p->kind == PARAM_COUNTER ? !(float_ok || int_ok) : !float_ok) {
            rc = err_set(err, ERR_RUNTIME, "%s: tensor '%s': dtype %s, expected %s", f->path, t->name,
                         st_dtype_name(t->dtype),
                         p->kind == PARAM_COUNTER ? "an integer or floating-point type (PyTorch writes I64)"
                                                  : "F32 (or F16, BF16, F64)");
            break;
        }
        if (!same_shape(t, p)) {
            int can_adapt = pre && strcmp(p->name, "0.0.weight") == 0 && t->ndim == 4 && p->ndim == 4 &&
                            t->shape[0] == p->shape[0] && t->shape[1] == 3 && t->shape[2] == p->shape[2] &&
                            t->shape[3] == p->shape[3];
            if (!can_adapt) {
                char a[128], b[128];
                st_shape_str(t->shape, t->ndim, a, sizeof a);
                st_shape_str(p->shape, p->ndim, b, sizeof b);
                rc = err_set(err, misfit, "%s: tensor '%s': shape %s, expected %s for a %s model (n_in %d, n_out %d)",
                             f->path, t->name, a, b, m->info.arch, m->info.n_in, m->info.n_out);
                break;
            }
            adapted = pi;
        }
        plan[pi] = t;
    }
    for (int i = 0; i < m->n_params && !rc; i++) {
        const Param *p = &m->params[i];
        if (plan[i]) continue;
        if (pre && strncmp(p->name, "0.", 2) != 0) continue;
        if (pre && p->kind == PARAM_COUNTER) { n_zero_counters++; continue; }
        if (tv) fastai_to_tv(p->name, name, sizeof name);
        else snprintf(name, sizeof name, "%s", p->name);
        rc = err_set(err, misfit, "%s: tensor '%s' is missing: the file is not a %s %s (%s)", f->path, name,
                     m->info.arch, pre ? "body" : "model", declared ? "a damaged file?" : "wrong arch?");
    }
    /* Stage everything, then commit: a read failure leaves the model untouched. */
    size_t total = 0;
    for (int i = 0; i < m->n_params && !rc; i++)
        if (plan[i]) total += (size_t)plan[i]->numel;
    float *stage = rc ? NULL : malloc((total ? total : 1) * sizeof *stage);
    if (!rc && !stage) rc = err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    mem_advise_huge(stage, total * sizeof *stage);
    size_t off = 0;
    for (int i = 0; i < m->n_params && !rc; i++) {
        const StTensor *t = plan[i];
        if (!t) continue;
        if (m->params[i].kind == PARAM_COUNTER && !dtype_is_float(t->dtype)) {
            int64_t *tmp = malloc((t->numel ? t->numel : 1) * sizeof *tmp);
            if (!tmp) { rc = err_set(err, ERR_RUNTIME, "%s: out of memory", f->path); break; }
            rc = st_read_i64(f, t, tmp, (size_t)t->numel, err);
            for (size_t k = 0; k < t->numel && !rc; k++) stage[off + k] = (float)tmp[k];
            free(tmp);
        } else {
            rc = st_read_f32(f, t, stage + off, (size_t)t->numel, err);
            size_t bad = rc ? 0 : first_nonfinite(stage + off, (size_t)t->numel);
            if (!rc && bad < t->numel) rc = nonfinite_error(f->path, t->name, stage + off, bad, (size_t)t->numel, err);
        }
        off += (size_t)t->numel;
    }
    off = 0;
    for (int i = 0; i < m->n_params && !rc; i++) {
        const StTensor *t = plan[i];
        Param *p = &m->params[i];
        if (!t) {
            if (pre && p->kind == PARAM_COUNTER && strncmp(p->name, "0.", 2) == 0) memset(p->w, 0, p->n * sizeof(float));
            continue;
        }
        const float *src = stage + off;
        off += (size_t)t->numel;
        float *conv = NULL;
        if (i == adapted) {
            conv = malloc(p->n * sizeof *conv);
            if (!conv) { rc = err_set(err, ERR_RUNTIME, "%s: out of memory", f->path); break; }
            adapt_first_conv(conv, src, p->shape[0], p->shape[1], p->shape[2] * p->shape[3]);
            src = conv;
        }
        if (p->layout == LAYOUT_OHWI) {
            /* PyTorch OIHW -> OHWI: w[o][y][x][i] = src[o][i][y][x]. */
            int64_t O = p->shape[0], I = p->shape[1], KH = p->shape[2], KW = p->shape[3];
            for (int64_t a = 0; a < O; a++)
                for (int64_t y = 0; y < KH; y++)
                    for (int64_t x = 0; x < KW; x++)
                        for (int64_t c = 0; c < I; c++)
                            p->w[((a * KH + y) * KW + x) * I + c] = src[((a * I + c) * KH + y) * KW + x];
        } else {
            memcpy(p->w, src, p->n * sizeof(float));
        }
        free(conv);
    }
    free(stage);
    if (!rc && note && note_cap) {
        size_t k = 0;
#define NOTE(...) do { if (k < note_cap) k += (size_t)snprintf(note + k, note_cap - k, __VA_ARGS__); } while (0)
        if (n_fc) NOTE("skipped %d classifier tensor%s (fc.*): the fastai head is new", n_fc, n_fc > 1 ? "s" : "");
        if (n_head) NOTE("%sskipped %d head tensor%s (1.*): the head is new, as with fastai's pretrained models",
                         k ? "; " : "", n_head, n_head > 1 ? "s" : "");
        if (adapted >= 0) {
            const Param *p = &m->params[adapted];
            NOTE("%sfirst convolution adapted from 3 to %lld input channels (%s, as fastai)", k ? "; " : "",
                 (long long)p->shape[1],
                 p->shape[1] == 1 ? "summed" : p->shape[1] == 2 ? "first two x 1.5" : "extra channels zero");
        }
        if (n_zero_counters) NOTE("%s%d num_batches_tracked counter%s absent, set to 0", k ? "; " : "", n_zero_counters,
                                  n_zero_counters > 1 ? "s" : "");
#undef NOTE
    }
    free(plan);
    return rc;
}

int st_load_model_file(Model *m, const char *path, StLoadMode mode, char *note, size_t note_cap, Err *err)
{
    StFile *f;
    int rc = st_open(path, &f, err);
    if (rc) return rc;
    rc = st_load_model(m, f, mode, note, note_cap, err);
    st_close(f);
    return rc;
}
