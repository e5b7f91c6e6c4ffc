/* safetensors.c — safetensors reader and writer (see safetensors.h). */
#include "io/safetensors.h"

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

int st_dtype_is_float(StDtype d) { return d == ST_F16 || d == ST_BF16 || d == ST_F32 || d == ST_F64; }

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

int st_writer_add_f32_ohwi(StWriter *w, const char *name, const int64_t shape[4], const float *data, Err *err)
{
    return add_tensor(w, name, ST_F32, 4, shape, data, SRC_F32_OHWI, err);
}

int st_writer_add_f32_as_i64(StWriter *w, const char *name, int ndim, const int64_t *shape, const float *data,
                             Err *err)
{
    return add_tensor(w, name, ST_I64, ndim, shape, data, SRC_F32_AS_I64, err);
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
    if (!st_dtype_is_float(t->dtype))
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
    if (st_dtype_is_float(t->dtype)) {
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

int st_check_finite_values(const StFile *f, const StTensor *t, const float *v, size_t n, Err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return err_set(err, ERR_RUNTIME,
                           "%s: tensor '%s': value %zu of %zu is %s; weights must be finite (was the file saved "
                           "from a run that diverged?)",
                           f->path, t->name, i, n, isnan(v[i]) ? "NaN" : v[i] > 0 ? "+inf" : "-inf");
    return 0;
}

int st_check_finite(const StFile *f, const StTensor *t, Err *err)
{
    if (!st_dtype_is_float(t->dtype)) return 0;
    float *v = malloc((t->numel ? t->numel : 1) * sizeof *v);
    if (!v) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    int rc = st_read_f32(f, t, v, (size_t)t->numel, err);
    if (!rc) rc = st_check_finite_values(f, t, v, (size_t)t->numel, err);
    free(v);
    return rc;
}
