/* test_pth.c — src/io/pth.c: PyTorch .pth files.  Files written by torch.save
 * (tests/reference/make_pth_fixtures.py: dtypes, a non-contiguous view, a
 * storage offset, shared storage, an empty tensor, the same records in zip64
 * form, a checkpoint dict) read to their exact values; crafted bad files
 * (made here with a small zip and pickle writer) refused with one line; and
 * `pretrained =` through the command: a .pth path, True from torchvision's
 * cache under TORCH_HOME, and the message naming the path and URL when the
 * cache has no file. */
#include "check_main.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "models/resnet.h"
#include "models/weights.h"
#include "testimg.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/reference/fixtures/pth"
#endif

static char dir[512];

static void setup(void) { tu_tmpdir(dir, sizeof dir); }
static void teardown(void) { tu_rmtree(dir); }

/* ---- the fixtures --------------------------------------------------------------- */

typedef struct Want {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[4];
    int contiguous;
} Want;

/* make_pth_fixtures.py's state_dict, in order */
static const Want WANT[] = {
    {"0.weight", ST_F32, 4, {3, 2, 3, 3}, 1}, {"0.bias", ST_F32, 1, {3}, 1},
    {"1.weight", ST_F32, 1, {3}, 1},          {"1.bias", ST_F32, 1, {3}, 1},
    {"1.running_mean", ST_F32, 1, {3}, 1},    {"1.running_var", ST_F32, 1, {3}, 1},
    {"1.num_batches_tracked", ST_I64, 0, {0}, 1},
    {"2.weight", ST_F32, 2, {2, 4}, 1},       {"2.bias", ST_F32, 1, {2}, 1},
    {"x.f64", ST_F64, 1, {5}, 1},             {"x.f16", ST_F16, 2, {3, 2}, 1},
    {"x.bf16", ST_BF16, 1, {4}, 1},           {"x.i32", ST_I32, 1, {3}, 1},
    {"x.u8", ST_U8, 1, {4}, 1},               {"view.t", ST_F32, 2, {4, 3}, 0},
    {"view.col", ST_F32, 1, {3}, 0},          {"view.slice", ST_F32, 2, {2, 4}, 1},
    {"empty", ST_F32, 2, {0, 3}, 1},
};
enum { N_WANT = sizeof WANT / sizeof WANT[0] };

/* Element k (row-major) of tensor i, as the script made it. */
static double want_value(int i, int64_t k)
{
    const char *n = WANT[i].name;
    if (!strcmp(n, "1.num_batches_tracked")) return 7;
    if (!strcmp(n, "x.i32")) return -1000.0 * (double)k;
    if (!strcmp(n, "x.u8")) return 50.0 * (double)k;
    if (!strcmp(n, "view.t")) return 13 + (double)((k % 3) * 4 + k / 3) / 8;      /* base[3,4].t() */
    if (!strcmp(n, "view.col")) return 14 + (double)(k * 4 + 1) / 8;              /* base2[:, 1] */
    if (!strcmp(n, "view.slice")) return 14 + (double)(4 + k) / 8;                /* base2[1:3] */
    return (i + 1) + (double)k / 8;   /* the tensors before the views: number i */
}

static double elem(const void *buf, StDtype dt, int64_t k)
{
    switch (dt) {
    case ST_F32: return ((const float *)buf)[k];
    case ST_F64: return ((const double *)buf)[k];
    case ST_I64: return (double)((const int64_t *)buf)[k];
    case ST_I32: return ((const int32_t *)buf)[k];
    case ST_U8: return ((const uint8_t *)buf)[k];
    case ST_BF16: {
        uint32_t b = (uint32_t)((const uint16_t *)buf)[k] << 16;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    case ST_F16: {   /* normal numbers only (the fixture's) */
        uint16_t h = ((const uint16_t *)buf)[k];
        int e = (h >> 10) & 31, m = h & 1023;
        return (h & 0x8000 ? -1 : 1) * ldexp(1 + m / 1024.0, e - 15);
    }
    default: return NAN;
    }
}

static void check_state_dict(const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, file);
    PthFile *f;
    Err e = {0};
    ck_assert_msg(pth_open(path, &f, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(f->n_tensors, N_WANT);
    for (int i = 0; i < N_WANT; i++) {
        const PthTensor *t = &f->tensors[i];
        ck_assert_str_eq(t->name, WANT[i].name);
        ck_assert_msg(t->dtype == WANT[i].dtype && t->ndim == WANT[i].ndim, "%s: dtype %s ndim %d", t->name,
                      st_dtype_name(t->dtype), t->ndim);
        for (int d = 0; d < t->ndim; d++) ck_assert_int_eq(t->shape[d], WANT[i].shape[d]);
        ck_assert_msg(t->contiguous == WANT[i].contiguous, "%s: contiguous %d", t->name, t->contiguous);
        size_t bytes = (size_t)t->numel * st_dtype_size(t->dtype);
        void *buf = malloc(bytes + 8);
        ck_assert_msg(pth_read(f, t, buf, bytes, &e) == 0, "%s", e.msg);
        for (int64_t k = 0; k < (int64_t)t->numel; k++)
            ck_assert_msg(elem(buf, t->dtype, k) == want_value(i, k), "%s %s[%lld] = %g, expected %g", file, t->name,
                          (long long)k, elem(buf, t->dtype, k), want_value(i, k));
        free(buf);
    }
    pth_close(f);
}

START_TEST(reads_torch_save_dtypes_views_and_shared_storage)
{
    check_state_dict("state_dict.pth");
}
END_TEST

START_TEST(reads_the_zip64_form_of_the_same_file)
{
    check_state_dict("zip64.pth");
}
END_TEST

START_TEST(a_checkpoint_dict_gives_the_state_dict_under_model)
{
    PthFile *f;
    Err e = {0};
    ck_assert_msg(pth_open(FIXTURE_DIR "/checkpoint.pth", &f, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(f->n_tensors, 3);
    ck_assert_str_eq(f->tensors[0].name, "0.weight");
    ck_assert_str_eq(f->tensors[2].name, "view.t");
    ck_assert(!f->tensors[2].contiguous);
    pth_close(f);
}
END_TEST

/* As an StFile for weights_load: names, shapes and values the same, read
 * with the safetensors readers (st_read_f32 converts F64, F16, BF16). */
START_TEST(weights_open_presents_a_pth_as_an_stfile)
{
    const char *files[] = {FIXTURE_DIR "/state_dict.pth", FIXTURE_DIR "/zip64.pth"};
    for (int fi = 0; fi < 2; fi++) {
        StFile *f;
        Err e = {0};
        ck_assert_msg(pth_open_weights(files[fi], &f, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(f->n_tensors, N_WANT);
        const char *floats[] = {"0.weight", "x.f64", "x.f16", "x.bf16", "view.t", "view.col", "view.slice"};
        for (size_t j = 0; j < sizeof floats / sizeof floats[0]; j++) {
            int i = 0;
            while (strcmp(WANT[i].name, floats[j])) i++;
            const StTensor *t = st_find(f, floats[j]);
            ck_assert_ptr_nonnull(t);
            float v[64];
            ck_assert_msg(st_read_f32(f, t, v, (size_t)t->numel, &e) == 0, "%s", e.msg);
            for (int64_t k = 0; k < (int64_t)t->numel; k++)
                ck_assert_msg(v[k] == (float)want_value(i, k), "%s[%lld] = %g", floats[j], (long long)k, v[k]);
        }
        int64_t nbt;
        ck_assert_int_eq(st_read_i64(f, st_find(f, "1.num_batches_tracked"), &nbt, 1, &e), 0);
        ck_assert_int_eq(nbt, 7);
        st_close(f);
    }
    /* a safetensors file still opens as one */
    StFile *f;
    Err e = {0};
    ck_assert_msg(pth_open_weights("tests/reference/fixtures/torch_tiny.safetensors", &f, &e) == 0, "%s", e.msg);
    st_close(f);
}
END_TEST

/* ---- crafted files: a zip and pickle writer ------------------------------------------- */

typedef struct Buf {
    uint8_t *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put8(Buf *b, int v) { uint8_t c = (uint8_t)v; put(b, &c, 1); }
static void put16(Buf *b, unsigned v) { put8(b, (int)(v & 255)), put8(b, (int)(v >> 8)); }
static void put32(Buf *b, uint32_t v) { put16(b, v & 0xFFFF), put16(b, v >> 16); }
static void puts_(Buf *b, const char *s) { put(b, s, strlen(s)); }

typedef struct Entry {
    const char *name;
    const void *data;
    size_t n;
    int method;         /* 0 stored; 8 claims deflate */
    int bad_crc;
} Entry;

/* A zip as torch writes it (stored entries, no zip64) at dir/name. */
static void write_zip(const char *name, const Entry *e, int n, char *path, size_t cap)
{
    Buf b = {0}, cd = {0};
    for (int i = 0; i < n; i++) {
        uint32_t crc = (uint32_t)crc32(0, e[i].data, (uInt)e[i].n) ^ (e[i].bad_crc ? 1u : 0u);
        uint32_t off = (uint32_t)b.n;
        size_t nl = strlen(e[i].name);
        put32(&b, 0x04034b50), put16(&b, 20), put16(&b, 0), put16(&b, (unsigned)e[i].method), put32(&b, 0);
        put32(&b, crc), put32(&b, (uint32_t)e[i].n), put32(&b, (uint32_t)e[i].n);
        put16(&b, (unsigned)nl), put16(&b, 0), puts_(&b, e[i].name), put(&b, e[i].data, e[i].n);
        put32(&cd, 0x02014b50), put16(&cd, 20), put16(&cd, 20), put16(&cd, 0), put16(&cd, (unsigned)e[i].method);
        put32(&cd, 0), put32(&cd, crc), put32(&cd, (uint32_t)e[i].n), put32(&cd, (uint32_t)e[i].n);
        put16(&cd, (unsigned)nl), put16(&cd, 0), put16(&cd, 0), put16(&cd, 0), put16(&cd, 0), put32(&cd, 0);
        put32(&cd, off), puts_(&cd, e[i].name);
    }
    uint32_t cd_off = (uint32_t)b.n;
    put(&b, cd.p, cd.n);
    put32(&b, 0x06054b50), put16(&b, 0), put16(&b, 0), put16(&b, (unsigned)n), put16(&b, (unsigned)n);
    put32(&b, (uint32_t)cd.n), put32(&b, cd_off), put16(&b, 0);
    tu_write(dir, name, b.p, b.n, path, cap);
    free(b.p), free(cd.p);
}

/* Pickle pieces, protocol 2, as torch.save writes them. */
static void pk_str(Buf *b, const char *s) { put8(b, 'X'), put32(b, (uint32_t)strlen(s)), puts_(b, s); }
static void pk_global(Buf *b, const char *mod, const char *name)
{
    put8(b, 'c'), puts_(b, mod), put8(b, '\n'), puts_(b, name), put8(b, '\n');
}
static void pk_int(Buf *b, int v) { put8(b, 'J'), put32(b, (uint32_t)v); }
static void pk_ints(Buf *b, const int *v, int n)
{
    put8(b, '(');
    for (int i = 0; i < n; i++) pk_int(b, v[i]);
    put8(b, 't');
}

/* key: _rebuild_tensor_v2(storage(FloatStorage, skey, numel), offset, size, stride, False, OrderedDict()) */
static void pk_tensor(Buf *b, const char *key, const char *skey, int numel, int offset, const int *size,
                      const int *stride, int nd)
{
    pk_str(b, key);
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    put8(b, '(');
    put8(b, '('), pk_str(b, "storage"), pk_global(b, "torch", "FloatStorage"), pk_str(b, skey), pk_str(b, "cpu");
    pk_int(b, numel), put8(b, 't'), put8(b, 'Q');
    pk_int(b, offset), pk_ints(b, size, nd), pk_ints(b, stride, nd), put8(b, 0x89);
    pk_global(b, "collections", "OrderedDict"), put8(b, ')'), put8(b, 'R');
    put8(b, 't'), put8(b, 'R');
}

static void pk_begin(Buf *b)
{
    put8(b, 0x80), put8(b, 2);
    pk_global(b, "collections", "OrderedDict"), put8(b, ')'), put8(b, 'R'), put8(b, '(');
}
static void pk_end(Buf *b) { put8(b, 'u'), put8(b, '.'); }

/* A .pth of one float tensor "w" [2, 3] over storage "0" of 6 floats, with
 * the pickle changed by `edit` (may be NULL) and the storage of `bytes`. */
static void write_pth(const char *name, void (*edit)(Buf *), size_t bytes, int method, int bad_crc, char *path,
                      size_t cap)
{
    Buf pk = {0};
    if (edit) {
        edit(&pk);
    } else {
        pk_begin(&pk);
        int size[2] = {2, 3}, stride[2] = {3, 1};
        pk_tensor(&pk, "w", "0", 6, 0, size, stride, 2);
        pk_end(&pk);
    }
    float data[64] = {1, 2, 3, 4, 5, 6};
    Entry e[3] = {{"archive/data.pkl", pk.p, pk.n, 0, 0}, {"archive/data/0", data, bytes, method, bad_crc},
                  {"archive/version", "3\n", 2, 0, 0}};
    write_zip(name, e, 3, path, cap);
    free(pk.p);
}

static void ev_os_system(Buf *b)
{
    put8(b, 0x80), put8(b, 2), pk_global(b, "os", "system"), put8(b, '('), pk_str(b, "true"), put8(b, 't');
    put8(b, 'R'), put8(b, '.');
}
static void ev_inst(Buf *b) { put8(b, 0x80), put8(b, 2), put8(b, '('), puts_(b, "os\nsystem\n"), put8(b, '.'); }
static void ev_truncated(Buf *b) { pk_begin(b), pk_str(b, "w"), b->n -= 1; }
static void ev_past(Buf *b)
{
    int size[2] = {2, 3}, stride[2] = {3, 1};
    pk_begin(b), pk_tensor(b, "w", "0", 6, 1, size, stride, 2), pk_end(b);   /* offset 1: element 6 of 6 */
}
static void ev_missing(Buf *b)
{
    int size[1] = {6}, stride[1] = {1};
    pk_begin(b), pk_tensor(b, "w", "7", 6, 0, size, stride, 1), pk_end(b);
}
static void ev_expand(Buf *b)
{
    int size[2] = {1000, 6}, stride[2] = {0, 1};
    pk_begin(b), pk_tensor(b, "w", "0", 6, 0, size, stride, 2), pk_end(b);
}
static void ev_dup(Buf *b)
{
    int size[1] = {6}, stride[1] = {1};
    pk_begin(b), pk_tensor(b, "w", "0", 6, 0, size, stride, 1), pk_tensor(b, "w", "0", 6, 0, size, stride, 1);
    pk_end(b);
}
static void ev_not_tensors(Buf *b) { put8(b, 0x80), put8(b, 2), put8(b, '}'), pk_str(b, "w"), pk_int(b, 3), put8(b, 's'), put8(b, '.'); }
static void ev_build_list(Buf *b) { put8(b, 0x80), put8(b, 2), put8(b, ']'), put8(b, '}'), put8(b, 'b'), put8(b, '.'); }
static void ev_get_unset(Buf *b) { put8(b, 0x80), put8(b, 2), put8(b, 'h'), put8(b, 5), put8(b, '.'); }

START_TEST(crafted_files_are_refused_with_one_line)
{
    struct {
        const char *file;
        void (*edit)(Buf *);
        size_t bytes;
        int method, bad_crc;
        const char *want;
    } cases[] = {
        {"os.pth", ev_os_system, 24, 0, 0, "data.pkl byte 2: global os.system is not one a state_dict needs: refused"},
        {"inst.pth", ev_inst, 24, 0, 0, "data.pkl byte 3: opcode 0x6f ('o') is not one torch.save writes"},
        {"trunc.pth", ev_truncated, 24, 0, 0, "the pickle ends inside an opcode"},
        {"past.pth", ev_past, 24, 0, 0, "the view (offset, size, stride) reaches past its storage"},
        {"missing.pth", ev_missing, 24, 0, 0, "storage 'archive/data/7' names no entry of the archive"},
        {"expand.pth", ev_expand, 24, 0, 0, "a view with more elements than its storage: refused"},
        {"dup.pth", ev_dup, 24, 0, 0, "state_dict key 'w' appears twice"},
        {"ints.pth", ev_not_tensors, 24, 0, 0, "holds no state_dict"},
        {"build.pth", ev_build_list, 24, 0, 0, "BUILD: only an OrderedDict's attributes may be set"},
        {"get.pth", ev_get_unset, 24, 0, 0, "GET of a memo slot never set"},
        {"short.pth", NULL, 20, 0, 0, "storage 'archive/data/0': 20 bytes in the archive, expected 6 elements of F32"},
        {"deflate.pth", NULL, 24, 8, 0, "zip entry 'archive/data/0' is compressed (method 8)"},
        {"crc.pth", NULL, 24, 0, 1, "zip entry 'archive/data/0': CRC-32 mismatch"},
    };
    char path[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_pth(cases[i].file, cases[i].edit, cases[i].bytes, cases[i].method, cases[i].bad_crc, path, sizeof path);
        PthFile *f = (PthFile *)1;
        Err e = {0};
        int rc = pth_open(path, &f, &e);
        ck_assert_msg(rc == ERR_RUNTIME && f == NULL, "%s: rc %d", cases[i].file, rc);
        ck_assert_msg(strstr(e.msg, cases[i].want) && strstr(e.msg, cases[i].file) && !strchr(e.msg, '\n'),
                      "%s: got '%s'", cases[i].file, e.msg);
    }
    /* the good one of the same making reads */
    write_pth("good.pth", NULL, 24, 0, 0, path, sizeof path);
    PthFile *f;
    Err e = {0};
    ck_assert_msg(pth_open(path, &f, &e) == 0, "%s", e.msg);
    float v[6];
    ck_assert_int_eq(pth_read(f, &f->tensors[0], v, sizeof v, &e), 0);
    ck_assert(v[0] == 1 && v[5] == 6);
    pth_close(f);

    /* whole-file damage: cut before the end record, the legacy format, not a zip */
    size_t n;
    uint8_t *d = ti_read_all(FIXTURE_DIR "/state_dict.pth", &n);
    const struct {
        const char *file;
        const void *data;
        size_t n;
        const char *want;
    } raw[] = {
        {"cut.pth", d, n - 30, "no zip end record: not a complete .pth file"},
        {"legacy.pth", "\x80\x02\x8a\x0a" "l\xfc\x9c" "F\xf9 j\xa8" "P\x19.", 16, "the legacy torch.save format"},
        {"text.pth", "hello world", 11, "not a PyTorch .pth file"},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        tu_write(dir, raw[i].file, raw[i].data, raw[i].n, path, sizeof path);
        int rc = pth_open(path, &f, &e);
        ck_assert_msg(rc == ERR_RUNTIME && strstr(e.msg, raw[i].want) && !strchr(e.msg, '\n'), "%s: got '%s'",
                      raw[i].file, e.msg);
    }
    free(d);
}
END_TEST

/* ---- through the command -------------------------------------------------------------- */

/* A torchvision resnet18 state_dict as torch.save writes it, each tensor
 * filled with k-th value (t + 1)·1e-3 + k·1e-6 (t its number), 1000 classes. */
static void write_tv_resnet18(const char *name, char *path, size_t cap)
{
    ResnetSpec s = resnet_spec_default("resnet18", 1000, 1, 32, 32);
    s.plain_fc = 1, s.no_init = 1, s.eval_only = 1;
    Model *m;
    Err e = {0};
    ck_assert_msg(resnet_new(&m, &s, &e) == 0, "%s", e.msg);
    Buf pk = {0};
    Entry *ent = calloc((size_t)m->n_params + 2, sizeof *ent);
    char **keys = calloc((size_t)m->n_params, sizeof *keys);
    void **data = calloc((size_t)m->n_params, sizeof *data);
    pk_begin(&pk);
    for (int t = 0; t < m->n_params; t++) {
        const Param *p = &m->params[t];
        int size[4], stride[4], st = 1;
        for (int d = p->ndim - 1; d >= 0; d--) size[d] = (int)p->shape[d], stride[d] = st, st *= size[d];
        keys[t] = malloc(32);
        snprintf(keys[t], 32, "archive/data/%d", t);
        char skey[16];
        snprintf(skey, sizeof skey, "%d", t);
        if (p->kind == PARAM_COUNTER) {   /* int64 num_batches_tracked */
            pk_str(&pk, p->name);
            pk_global(&pk, "torch._utils", "_rebuild_tensor_v2");
            put8(&pk, '('), put8(&pk, '('), pk_str(&pk, "storage"), pk_global(&pk, "torch", "LongStorage");
            pk_str(&pk, skey), pk_str(&pk, "cpu"), pk_int(&pk, 1), put8(&pk, 't'), put8(&pk, 'Q');
            pk_int(&pk, 0), put8(&pk, ')'), put8(&pk, ')'), put8(&pk, 0x89);
            pk_global(&pk, "collections", "OrderedDict"), put8(&pk, ')'), put8(&pk, 'R'), put8(&pk, 't'), put8(&pk, 'R');
            int64_t *c = malloc(8);
            *c = 5;
            data[t] = c;
            ent[t] = (Entry){keys[t], c, 8, 0, 0};
            continue;
        }
        pk_tensor(&pk, p->name, skey, (int)p->n, 0, size, stride, p->ndim);
        float *w = malloc(p->n * sizeof *w);
        for (size_t k = 0; k < p->n; k++) w[k] = (float)((t + 1) * 1e-3 + (double)k * 1e-6);
        data[t] = w;
        ent[t] = (Entry){keys[t], w, p->n * sizeof *w, 0, 0};
    }
    pk_end(&pk);
    ent[m->n_params] = (Entry){"archive/data.pkl", pk.p, pk.n, 0, 0};
    ent[m->n_params + 1] = (Entry){"archive/version", "3\n", 2, 0, 0};
    write_zip(name, ent, m->n_params + 2, path, cap);
    for (int t = 0; t < m->n_params; t++) free(keys[t]), free(data[t]);
    free(keys), free(data), free(ent), free(pk.p);
    model_free(m);
}

static int run(const char *env, const char *args, char *out, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s '%s' %s --threads 1 --quiet", dir, env, tu_fastc(), args);
    return tu_run(cmd, out, cap);
}

START_TEST(pretrained_pth_and_true_load_the_torchvision_body)
{
    char path[1024], name[256], out[8192];
    /* 2 classes x 2 images, 40x40 */
    uint8_t px[40 * 40 * 3];
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 2; k++) {
                for (int i = 0; i < 40 * 40 * 3; i++) px[i] = (uint8_t)(i * (c + 1) + k * 30);
                snprintf(name, sizeof name, "data/%s/%c/%d.png", s ? "valid" : "train", 'a' + c, k);
                tu_write(dir, name, "", 0, path, sizeof path);
                ti_write_png(path, 40, 40, 3, px);
            }
    const char *ini = "[data]\npath = data\nblocks = ImageBlock, CategoryBlock\nget_items = get_image_files\n"
                      "get_y = parent_label\nsplitter = GrandparentSplitter()\nitem_tfms = Resize(32)\nbs = 2\n"
                      "[model]\narch = resnet18\n[train]\nschedule = freeze()\n";
    tu_write(dir, "c.ini", ini, strlen(ini), path, sizeof path);
    write_tv_resnet18("torch/hub/checkpoints/resnet18-f37072fd.pth", path, sizeof path);

    /* True without the file: exit 1, the exact path and the URL */
    int rc = run("TORCH_HOME=/nonexistent/th", "train c.ini --set model.pretrained=True --set output.dir=runs/a", out,
                 sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "[model] pretrained = True: /nonexistent/th/hub/checkpoints/"
                                         "resnet18-f37072fd.pth not found; torchvision downloads it from "
                                         "https://download.pytorch.org/models/resnet18-f37072fd.pth"),
                  "exit %d: %s", rc, out);
    /* validate: a note, not an error (the file may be fetched later) */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && TORCH_HOME=/nonexistent/th '%s' validate c.ini --set model.pretrained=True "
             "2>&1 | grep note:", dir, tu_fastc());
    rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "note: [model] pretrained = True: /nonexistent/th/hub/checkpoints/"
                                         "resnet18-f37072fd.pth not found"), "exit %d: %s", rc, out);
    /* True with TORCH_HOME, and the same file named by its path */
    char env[1200];
    snprintf(env, sizeof env, "TORCH_HOME='%s/torch'", dir);
    rc = run(env, "train c.ini --set model.pretrained=True --set output.dir=runs/t", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    rc = run("", "train c.ini --set model.pretrained=torch/hub/checkpoints/resnet18-f37072fd.pth "
                 "--set output.dir=runs/p", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    const char *runs[] = {"runs/t", "runs/p"};
    for (int r = 0; r < 2; r++) {
        snprintf(path, sizeof path, "%s/%s/model.safetensors", dir, runs[r]);
        StFile *f;
        Err e = {0};
        ck_assert_msg(st_open(path, &f, &e) == 0, "%s", e.msg);
        /* conv1 (tensor 0): k-th value 1e-3 + k·1e-6, OIHW as saved; layer4.1.bn2.bias; a counter */
        float v[512];
        const StTensor *t = st_find(f, "0.0.weight");
        ck_assert_ptr_nonnull(t);
        float *all = malloc((size_t)t->numel * sizeof *all);
        ck_assert_int_eq(st_read_f32(f, t, all, (size_t)t->numel, &e), 0);
        for (int k = 0; k < 9408; k += 997) ck_assert_float_eq(all[k], (float)(1e-3 + k * 1e-6));
        free(all);
        t = st_find(f, "0.7.1.bn2.bias");
        ck_assert_int_eq(st_read_f32(f, t, v, 512, &e), 0);
        ck_assert_float_eq(v[3], (float)(117 * 1e-3 + 3 * 1e-6));   /* layer4.1.bn2.bias: tensor 116 */
        int64_t nbt;
        ck_assert_int_eq(st_read_i64(f, st_find(f, "0.1.num_batches_tracked"), &nbt, 1, &e), 0);
        ck_assert_int_eq(nbt, 5);
        st_close(f);
    }
    /* resolved config keeps True (a rerun from it finds the same file) */
    size_t n;
    snprintf(path, sizeof path, "%s/runs/t/config.ini", dir);
    char *cfg = (char *)ti_read_all(path, &n);
    ck_assert_msg(cfg && strstr(cfg, "\npretrained = True\n"), "%s", cfg ? cfg : "(none)");
    free(cfg);
    /* pretrained = False: no weights, no freeze */
    rc = run("TORCH_HOME=/nonexistent", "train c.ini --set model.pretrained=False --set output.dir=runs/f", out,
             sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pth");
    TCase *t = tcase_create("pth");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 300);
    tcase_add_test(t, reads_torch_save_dtypes_views_and_shared_storage);
    tcase_add_test(t, reads_the_zip64_form_of_the_same_file);
    tcase_add_test(t, a_checkpoint_dict_gives_the_state_dict_under_model);
    tcase_add_test(t, weights_open_presents_a_pth_as_an_stfile);
    tcase_add_test(t, crafted_files_are_refused_with_one_line);
    tcase_add_test(t, pretrained_pth_and_true_load_the_torchvision_body);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
