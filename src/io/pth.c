/* pth.c — PyTorch .pth files (see pth.h): a zip reader, a whitelist pickle
 * machine, views onto storages, and the glue that presents them as an StFile.
 *
 * References: PKWARE's APPNOTE.TXT (sections 4.3.7 local header, 4.3.12
 * central directory, 4.3.14-16 zip64 end records, 4.5.3 zip64 extra field);
 * Python's Lib/pickletools.py (opcodes); torch/serialization.py (_save:
 * persistent ids, archive layout) and torch/_utils.py (_rebuild_tensor_v2). */
#include "io/pth.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Limits that no real state_dict comes near and that keep a hostile file
 * from making us allocate without bound. */
#define PTH_MAX_PICKLE (64u << 20)       /* data.pkl bytes (resnet152's: 90 KB) */
#define PTH_MAX_ENTRIES 1000000u         /* zip entries */
#define PTH_MAX_VALUES (2u << 20)        /* objects the pickle may create */
#define PTH_MAX_MEMO (4u << 20)          /* memo index */

/* ---- reading the file -------------------------------------------------------- */

static int read_at(int fd, void *dst, size_t n, uint64_t off)
{
    uint8_t *p = dst;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return 0;
}

/* s with control bytes shown as '?', cut to fit: names from the file in
 * one-line messages. */
static const char *printable(char *buf, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = 0;
    return buf;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* ---- zip ------------------------------------------------------------------------ */

typedef struct ZipEntry {
    char *name;
    uint64_t size;       /* stored = uncompressed size */
    uint64_t data_off;   /* file offset of the data */
    uint32_t crc;
    int checked;         /* CRC verified */
} ZipEntry;

typedef struct Zip {
    const char *path;
    int fd;
    uint64_t size;
    ZipEntry *e;
    size_t n;
} Zip;

static void zip_free(Zip *z)
{
    for (size_t i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    z->e = NULL, z->n = 0;
}

/* The end records: entry count, central directory offset and size. */
static int zip_end(Zip *z, uint64_t *count, uint64_t *cd_off, uint64_t *cd_size, Err *err)
{
    /* EOCD: 22 bytes + a comment of up to 65535 */
    size_t tail = z->size < 22 + 65535 ? (size_t)z->size : 22 + 65535;
    uint8_t *b = malloc(tail);
    if (!b) return err_set(err, ERR_RUNTIME, "%s: out of memory", z->path);
    if (read_at(z->fd, b, tail, z->size - tail)) {
        free(b);
        return err_set(err, ERR_RUNTIME, "%s: cannot read: %s", z->path, strerror(errno));
    }
    long at = -1;
    for (long i = (long)tail - 22; i >= 0; i--)
        if (le32(b + i) == 0x06054b50u && (size_t)i + 22 + le16(b + i + 20) == tail) {
            at = i;
            break;
        }
    if (at < 0) {
        free(b);
        return err_set(err, ERR_RUNTIME, "%s: no zip end record: not a complete .pth file (truncated?)", z->path);
    }
    const uint8_t *e = b + at;
    uint64_t eocd = z->size - tail + (uint64_t)at;
    *count = le16(e + 10), *cd_size = le32(e + 12), *cd_off = le32(e + 16);
    int disk_ok = le16(e + 4) == 0 && le16(e + 6) == 0 && le16(e + 8) == le16(e + 10);
    int want64 = *count == 0xFFFF || *cd_size == 0xFFFFFFFFu || *cd_off == 0xFFFFFFFFu;
    free(b);
    uint8_t loc[20];
    int has_loc = eocd >= 20 && read_at(z->fd, loc, 20, eocd - 20) == 0 && le32(loc) == 0x07064b50u;
    if (want64 && !has_loc)
        return err_set(err, ERR_RUNTIME, "%s: zip end record asks for zip64 but has no zip64 locator", z->path);
    if (has_loc) {
        uint64_t off64 = le64(loc + 8);
        uint8_t r[56];
        if (le32(loc + 4) != 0 || le32(loc + 16) > 1 || off64 > eocd - 20 || eocd - 20 - off64 < 56 ||
            read_at(z->fd, r, 56, off64) || le32(r) != 0x06064b50u)
            return err_set(err, ERR_RUNTIME, "%s: bad zip64 end record", z->path);
        disk_ok = le32(r + 16) == 0 && le32(r + 20) == 0 && le64(r + 24) == le64(r + 32);
        *count = le64(r + 32), *cd_size = le64(r + 40), *cd_off = le64(r + 48);
        eocd = off64;
    }
    if (!disk_ok) return err_set(err, ERR_RUNTIME, "%s: a multi-part zip archive: expected one file", z->path);
    if (*cd_off > eocd || *cd_size > eocd - *cd_off)
        return err_set(err, ERR_RUNTIME, "%s: zip central directory outside the file", z->path);
    if (*count > PTH_MAX_ENTRIES || *count > *cd_size / 46)
        return err_set(err, ERR_RUNTIME, "%s: zip central directory: %llu entries in %llu bytes", z->path,
                       (unsigned long long)*count, (unsigned long long)*cd_size);
    return 0;
}

/* The zip64 extended information extra field (id 1): the 8-byte values of
 * the fields whose 32-bit slot holds 0xFFFFFFFF, in this order. */
static int zip64_extra(const uint8_t *x, size_t xlen, uint64_t *usize, uint64_t *csize, uint64_t *off)
{
    while (xlen >= 4) {
        uint16_t id = le16(x), len = le16(x + 2);
        if ((size_t)len > xlen - 4) return -1;
        if (id == 1) {
            const uint8_t *p = x + 4;
            size_t left = len;
            uint64_t *f[3] = {usize, csize, off};
            for (int k = 0; k < 3; k++) {
                if (!f[k] || *f[k] != 0xFFFFFFFFu) continue;
                if (left < 8) return -1;
                *f[k] = le64(p), p += 8, left -= 8;
            }
            return 0;
        }
        x += 4 + len, xlen -= 4 + (size_t)len;
    }
    return 0;
}

static int zip_open(Zip *z, Err *err)
{
    uint64_t count, cd_off, cd_size;
    int rc = zip_end(z, &count, &cd_off, &cd_size, err);
    if (rc) return rc;
    uint8_t *cd = malloc(cd_size ? (size_t)cd_size : 1);
    z->e = calloc(count ? (size_t)count : 1, sizeof *z->e);
    if (!cd || !z->e) {
        free(cd);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", z->path);
    }
    if (read_at(z->fd, cd, (size_t)cd_size, cd_off)) {
        free(cd);
        return err_set(err, ERR_RUNTIME, "%s: cannot read the zip central directory", z->path);
    }
    size_t pos = 0;
    for (uint64_t i = 0; i < count && !rc; i++) {
        if (cd_size - pos < 46 || le32(cd + pos) != 0x02014b50u) {
            rc = err_set(err, ERR_RUNTIME, "%s: zip central directory entry %llu is malformed", z->path,
                         (unsigned long long)i);
            break;
        }
        const uint8_t *h = cd + pos;
        size_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
        if (cd_size - pos - 46 < nlen + xlen + clen) {
            rc = err_set(err, ERR_RUNTIME, "%s: zip central directory entry %llu runs past the directory", z->path,
                         (unsigned long long)i);
            break;
        }
        ZipEntry *e = &z->e[z->n];
        e->name = malloc(nlen + 1);
        if (!e->name) {
            rc = err_set(err, ERR_RUNTIME, "%s: out of memory", z->path);
            break;
        }
        memcpy(e->name, h + 46, nlen);
        e->name[nlen] = 0;
        z->n++;
        uint16_t flags = le16(h + 8), method = le16(h + 10);
        uint64_t csize = le32(h + 20), usize = le32(h + 24), loff = le32(h + 42);
        e->crc = le32(h + 16);
        if (memchr(e->name, 0, nlen) || has_control(e->name))
            rc = err_set(err, ERR_RUNTIME, "%s: zip entry %llu has a control character in its name", z->path,
                         (unsigned long long)i);
        else if (zip64_extra(h + 46 + nlen, xlen, &usize, &csize, &loff))
            rc = err_set(err, ERR_RUNTIME, "%s: zip entry '%.200s': malformed zip64 extra field", z->path, e->name);
        else if (flags & 1)
            rc = err_set(err, ERR_RUNTIME, "%s: zip entry '%.200s' is encrypted", z->path, e->name);
        else if (method != 0 || csize != usize)
            rc = err_set(err, ERR_RUNTIME, "%s: zip entry '%.200s' is compressed (method %u); torch.save stores "
                         "entries uncompressed", z->path, e->name, method);
        else if (loff > cd_off || cd_off - loff < 30)
            rc = err_set(err, ERR_RUNTIME, "%s: zip entry '%.200s': local header outside the file", z->path, e->name);
        if (rc) break;
        /* the local header: its own name and extra lengths place the data */
        uint8_t lh[30];
        if (read_at(z->fd, lh, 30, loff) || le32(lh) != 0x04034b50u) {
            rc = err_set(err, ERR_RUNTIME, "%s: zip entry '%.200s': bad local header", z->path, e->name);
            break;
        }
        uint64_t lnlen = le16(lh + 26), lxlen = le16(lh + 28);
        uint64_t data = loff + 30 + lnlen + lxlen;
        char *lname = NULL;
        if (lnlen != nlen || le16(lh + 8) != method || data > cd_off || usize > cd_off - data ||
            !(lname = malloc(nlen + 1)) || read_at(z->fd, lname, nlen, loff + 30) || memcmp(lname, e->name, nlen)) {
            free(lname);
            rc = err_set(err, ERR_RUNTIME, "%s: zip entry '%.200s': local header and central directory disagree, "
                         "or its data runs past the central directory", z->path, e->name);
            break;
        }
        free(lname);
        e->size = usize, e->data_off = data;
        pos += 46 + nlen + xlen + clen;
    }
    free(cd);
    return rc;
}

static ZipEntry *zip_find(Zip *z, const char *name)
{
    for (size_t i = 0; i < z->n; i++)
        if (!strcmp(z->e[i].name, name)) return &z->e[i];
    return NULL;
}

/* CRC-32 of an entry against the central directory's. */
static int zip_check_crc(Zip *z, ZipEntry *e, Err *err)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* the fuzzer cannot forge checksums: let it reach the code behind them */
    e->checked = 1;
#endif
    if (e->checked) return 0;
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf) return err_set(err, ERR_RUNTIME, "%s: out of memory", z->path);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint64_t done = 0; done < e->size;) {
        size_t n = e->size - done < CHUNK ? (size_t)(e->size - done) : CHUNK;
        if (read_at(z->fd, buf, n, e->data_off + done)) {
            free(buf);
            return err_set(err, ERR_RUNTIME, "%s: zip entry '%.200s': cannot read: %s", z->path, e->name,
                           strerror(errno));
        }
        crc = crc32(crc, buf, (uInt)n);
        done += n;
    }
    free(buf);
    if ((uint32_t)crc != e->crc)
        return err_set(err, ERR_RUNTIME, "%s: zip entry '%.200s': CRC-32 mismatch (the file is damaged)", z->path,
                       e->name);
    e->checked = 1;
    return 0;
}

/* ---- the pickle machine -------------------------------------------------------------- */

typedef enum VKind {
    V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT,
    V_GLOBAL, V_STORAGE, V_TENSOR, V_MARK
} VKind;

/* The globals a state_dict pickle may name. */
typedef enum GlobalId { G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_STORAGE } GlobalId;

static const struct {
    const char *name;
    StDtype dtype;
} STORAGES[] = {
    {"FloatStorage", ST_F32}, {"DoubleStorage", ST_F64}, {"HalfStorage", ST_F16}, {"BFloat16Storage", ST_BF16},
    {"LongStorage", ST_I64}, {"IntStorage", ST_I32}, {"ShortStorage", ST_I16}, {"CharStorage", ST_I8},
    {"ByteStorage", ST_U8}, {"BoolStorage", ST_BOOL},
};

typedef struct Val Val;
struct Val {
    VKind kind;
    int64_t i;             /* INT, BOOL; GLOBAL: GlobalId */
    double f;
    char *s;               /* STR (NUL-terminated, no NUL inside) */
    Val **items;           /* TUPLE, LIST; DICT: key, value, key, value ... */
    size_t n, cap;
    StDtype dtype;         /* GLOBAL storage type, STORAGE, TENSOR */
    ZipEntry *entry;       /* STORAGE */
    uint64_t numel;        /* STORAGE: elements */
    int from_odict;        /* DICT made by OrderedDict(): BUILD may set its attributes */
    /* TENSOR */
    Val *storage;
    int64_t offset;
    int ndim;
    int64_t shape[ST_MAX_DIM], stride[ST_MAX_DIM];
};

typedef struct Vm {
    Zip *z;
    const char *dir;       /* archive folder, "archive" */
    const uint8_t *p;      /* the pickle */
    size_t len, pos;
    Val **all;             /* every value made, freed together */
    size_t n_all, cap_all;
    Val **stack;
    size_t sp, cap_stack;
    Val **memo;
    size_t n_memo;         /* slots allocated */
    size_t memo_count;     /* slots set (MEMOIZE's next index) */
    Val *mark;             /* the one MARK object */
    Err *err;
} Vm;

static int vm_fail(Vm *vm, size_t at, const char *what)
{
    return err_set(vm->err, ERR_RUNTIME, "%s: data.pkl byte %zu: %s", vm->z->path, at, what);
}

static Val *vnew(Vm *vm, VKind kind)
{
    if (vm->n_all >= PTH_MAX_VALUES) return NULL;
    if (vm->n_all == vm->cap_all) {
        size_t cap = vm->cap_all ? 2 * vm->cap_all : 256;
        Val **a = realloc(vm->all, cap * sizeof *a);
        if (!a) return NULL;
        vm->all = a, vm->cap_all = cap;
    }
    Val *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = kind;
    vm->all[vm->n_all++] = v;
    return v;
}

static int vpush_item(Val *c, Val *x)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        Val **a = realloc(c->items, cap * sizeof *a);
        if (!a) return -1;
        c->items = a, c->cap = cap;
    }
    c->items[c->n++] = x;
    return 0;
}

static int push(Vm *vm, Val *v)
{
    if (!v) return err_set(vm->err, ERR_RUNTIME, "%s: data.pkl: out of memory (or more than %u objects)", vm->z->path,
                           PTH_MAX_VALUES);
    if (vm->sp == vm->cap_stack) {
        size_t cap = vm->cap_stack ? 2 * vm->cap_stack : 64;
        if (cap > PTH_MAX_VALUES) return vm_fail(vm, vm->pos, "stack too deep");
        Val **s = realloc(vm->stack, cap * sizeof *s);
        if (!s) return err_set(vm->err, ERR_RUNTIME, "%s: out of memory", vm->z->path);
        vm->stack = s, vm->cap_stack = cap;
    }
    vm->stack[vm->sp++] = v;
    return 0;
}

/* Pop one value that is not a MARK, or NULL. */
static Val *pop(Vm *vm)
{
    if (!vm->sp || vm->stack[vm->sp - 1] == vm->mark) return NULL;
    return vm->stack[--vm->sp];
}

/* Index of the topmost MARK, or -1. */
static long find_mark(const Vm *vm)
{
    for (size_t i = vm->sp; i-- > 0;)
        if (vm->stack[i] == vm->mark) return (long)i;
    return -1;
}

static int need(Vm *vm, size_t n) { return vm->len - vm->pos >= n; }

static Val *new_int(Vm *vm, int64_t x)
{
    Val *v = vnew(vm, V_INT);
    if (v) v->i = x;
    return v;
}

static Val *new_str(Vm *vm, const uint8_t *s, size_t n)
{
    if (memchr(s, 0, n)) return NULL;
    Val *v = vnew(vm, V_STR);
    if (!v) return NULL;
    if (!(v->s = malloc(n + 1))) return NULL;
    memcpy(v->s, s, n);
    v->s[n] = 0;
    v->n = n;
    return v;
}

/* A tuple of the stack from index `from` up (consumed). */
static Val *tuple_from(Vm *vm, size_t from)
{
    Val *t = vnew(vm, V_TUPLE);
    if (!t) return NULL;
    for (size_t i = from; i < vm->sp; i++)
        if (vpush_item(t, vm->stack[i])) return NULL;
    vm->sp = from;
    return t;
}

static int global_of(Vm *vm, const char *mod, const char *name, size_t at)
{
    Val *g = vnew(vm, V_GLOBAL);
    if (!g) return push(vm, NULL);
    if (!strcmp(mod, "collections") && !strcmp(name, "OrderedDict")) {
        g->i = G_ORDERED_DICT;
    } else if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2")) {
        g->i = G_REBUILD_TENSOR_V2;
    } else {
        int k = -1;
        for (size_t s = 0; !strcmp(mod, "torch") && s < sizeof STORAGES / sizeof STORAGES[0]; s++)
            if (!strcmp(name, STORAGES[s].name)) k = (int)s;
        if (k < 0) {
            char msg[200];
            char pm[64], pn[64];
            snprintf(msg, sizeof msg, "global %s.%s is not one a state_dict needs: refused", printable(pm, sizeof pm, mod),
                     printable(pn, sizeof pn, name));
            return vm_fail(vm, at, msg);
        }
        g->i = G_STORAGE, g->dtype = STORAGES[k].dtype;
    }
    return push(vm, g);
}

static int is_int(const Val *v) { return v && v->kind == V_INT; }

/* persistent id ('storage', <storage type>, key, location, numel) → the
 * storage data/<key>, checked against its zip entry. */
static int persistent_load(Vm *vm, Val *pid, size_t at)
{
    if (!pid || pid->kind != V_TUPLE || pid->n != 5 || pid->items[0]->kind != V_STR ||
        strcmp(pid->items[0]->s, "storage") || pid->items[1]->kind != V_GLOBAL || pid->items[1]->i != G_STORAGE ||
        pid->items[2]->kind != V_STR || pid->items[3]->kind != V_STR || !is_int(pid->items[4]) ||
        pid->items[4]->i < 0)
        return vm_fail(vm, at, "persistent id: expected ('storage', torch.<Type>Storage, key, location, numel)");
    char name[512];
    snprintf(name, sizeof name, "%s/data/%s", vm->dir, pid->items[2]->s);
    ZipEntry *e = zip_find(vm->z, name);
    StDtype dt = pid->items[1]->dtype;
    uint64_t numel = (uint64_t)pid->items[4]->i, es = st_dtype_size(dt);
    if (!e) {
        char msg[600], pn[300];
        snprintf(msg, sizeof msg, "storage '%s' names no entry of the archive", printable(pn, sizeof pn, name));
        return vm_fail(vm, at, msg);
    }
    if (numel > UINT64_MAX / es || e->size != numel * es) {
        char msg[700];
        snprintf(msg, sizeof msg, "storage '%.300s': %llu bytes in the archive, expected %llu elements of %s",
                 name, (unsigned long long)e->size, (unsigned long long)numel, st_dtype_name(dt));
        return vm_fail(vm, at, msg);
    }
    Val *s = vnew(vm, V_STORAGE);
    if (s) s->entry = e, s->dtype = dt, s->numel = numel;
    return push(vm, s);
}

/* A tuple of non-negative integers of at most ST_MAX_DIM items. */
static int int_tuple(const Val *t, int64_t *out, int *n)
{
    if (!t || t->kind != V_TUPLE || t->n > ST_MAX_DIM) return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (!is_int(t->items[i]) || t->items[i]->i < 0) return -1;
        out[i] = t->items[i]->i;
    }
    *n = (int)t->n;
    return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]): a view, checked to lie inside its storage. */
static Val *rebuild_tensor(Vm *vm, const Val *args, size_t at)
{
    int nd = 0, ns = 0;
    Val *t = NULL;
    if (args->n < 6 || args->n > 7 || args->items[0]->kind != V_STORAGE || !is_int(args->items[1]) ||
        args->items[1]->i < 0 || args->items[4]->kind != V_BOOL || args->items[5]->kind != V_DICT ||
        args->items[5]->n != 0 || (args->n == 7 && args->items[6]->kind != V_NONE && args->items[6]->kind != V_DICT)) {
        vm_fail(vm, at, "_rebuild_tensor_v2: expected (storage, offset, size, stride, requires_grad, {}[, metadata])");
        return NULL;
    }
    if (!(t = vnew(vm, V_TENSOR))) {
        push(vm, NULL);
        return NULL;
    }
    if (int_tuple(args->items[2], t->shape, &nd) || int_tuple(args->items[3], t->stride, &ns) || nd != ns) {
        vm_fail(vm, at, "_rebuild_tensor_v2: size and stride must be tuples of the same length (at most 8) of "
                        "non-negative integers");
        return NULL;
    }
    t->storage = args->items[0], t->offset = args->items[1]->i, t->ndim = nd, t->dtype = t->storage->dtype;
    /* numel, and the last element the view reaches: offset + Σ (size-1)·stride < storage numel */
    uint64_t numel = 1, last = (uint64_t)t->offset;
    int empty = 0;
    for (int d = 0; d < nd; d++) {
        uint64_t sz = (uint64_t)t->shape[d], st = (uint64_t)t->stride[d];
        if (sz == 0) empty = 1;
        if (sz && numel > UINT64_MAX / sz) goto bad;
        numel *= sz;
        if (sz > 1) {
            if (st && sz - 1 > (UINT64_MAX - last) / st) goto bad;
            last += (sz - 1) * st;
        }
    }
    t->numel = numel;
    if (!empty && last >= t->storage->numel) goto bad;
    if (numel > t->storage->numel) {   /* stride 0 or overlapping strides: an expand(), no parameter */
        vm_fail(vm, at, "_rebuild_tensor_v2: a view with more elements than its storage: refused");
        return NULL;
    }
    if (empty && (uint64_t)t->offset > t->storage->numel) goto bad;
    return t;
bad:
    vm_fail(vm, at, "_rebuild_tensor_v2: the view (offset, size, stride) reaches past its storage");
    return NULL;
}

static int do_reduce(Vm *vm, size_t at)
{
    Val *args = pop(vm), *fn = pop(vm);
    if (!args || !fn || args->kind != V_TUPLE || fn->kind != V_GLOBAL || fn->i == G_STORAGE)
        return vm_fail(vm, at, "REDUCE: only OrderedDict() and _rebuild_tensor_v2(...) calls are allowed");
    if (fn->i == G_ORDERED_DICT) {
        if (args->n != 0) return vm_fail(vm, at, "OrderedDict(...): expected no arguments");
        Val *d = vnew(vm, V_DICT);
        if (d) d->from_odict = 1;
        return push(vm, d);
    }
    Val *t = rebuild_tensor(vm, args, at);
    return t ? push(vm, t) : vm->err->code;
}

static int set_items(Vm *vm, Val *d, size_t from, size_t at)
{
    if ((vm->sp - from) % 2) return vm_fail(vm, at, "SETITEMS: a key without a value");
    for (size_t i = from; i < vm->sp; i++)
        if (vpush_item(d, vm->stack[i])) return push(vm, NULL);
    vm->sp = from;
    return 0;
}

static int memo_put(Vm *vm, size_t idx, size_t at)
{
    if (!vm->sp || vm->stack[vm->sp - 1] == vm->mark) return vm_fail(vm, at, "PUT with nothing to store");
    if (idx >= PTH_MAX_MEMO) return vm_fail(vm, at, "memo index too large");
    if (idx >= vm->n_memo) {
        size_t n = idx + 1 > 2 * vm->n_memo ? idx + 1 : 2 * vm->n_memo;
        if (n > PTH_MAX_MEMO) n = PTH_MAX_MEMO;
        Val **m = realloc(vm->memo, n * sizeof *m);
        if (!m) return push(vm, NULL);
        memset(m + vm->n_memo, 0, (n - vm->n_memo) * sizeof *m);
        vm->memo = m, vm->n_memo = n;
    }
    if (!vm->memo[idx]) vm->memo_count++;
    vm->memo[idx] = vm->stack[vm->sp - 1];
    return 0;
}

static int memo_get(Vm *vm, size_t idx, size_t at)
{
    if (idx >= vm->n_memo || !vm->memo[idx]) return vm_fail(vm, at, "GET of a memo slot never set");
    return push(vm, vm->memo[idx]);
}

enum { VM_STOP = -1 };   /* step's result at STOP (error codes are positive) */

/* One opcode.  Returns 0, VM_STOP, or an error code.  Long because it is the
 * interpreter's switch, one short case per pickle opcode. */
static int step(Vm *vm)
{
    size_t at = vm->pos;
    uint8_t op = vm->p[vm->pos++];
    const uint8_t *a = vm->p + vm->pos;
    long mk;
    Val *v, *w;
    switch (op) {
    case 0x80: /* PROTO */
        if (!need(vm, 1)) break;
        vm->pos += 1;
        if (a[0] < 2 || a[0] > 5) return vm_fail(vm, at, "pickle protocol outside 2..5");
        return 0;
    case 0x95: /* FRAME: a length hint */
        if (!need(vm, 8)) break;
        vm->pos += 8;
        return 0;
    case '.': /* STOP */
        return VM_STOP;
    case '(': /* MARK */
        return push(vm, vm->mark);
    case 'N': return push(vm, vnew(vm, V_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
        if ((v = vnew(vm, V_BOOL))) v->i = op == 0x88;
        return push(vm, v);
    case 'K': /* BININT1 */
        if (!need(vm, 1)) break;
        vm->pos += 1;
        return push(vm, new_int(vm, a[0]));
    case 'M': /* BININT2 */
        if (!need(vm, 2)) break;
        vm->pos += 2;
        return push(vm, new_int(vm, le16(a)));
    case 'J': /* BININT: signed 32-bit */
        if (!need(vm, 4)) break;
        vm->pos += 4;
        return push(vm, new_int(vm, (int32_t)le32(a)));
    case 0x8a: { /* LONG1: n bytes, little-endian two's complement */
        if (!need(vm, 1) || !need(vm, 1 + (size_t)a[0])) break;
        size_t n = a[0];
        vm->pos += 1 + n;
        if (n > 8) return vm_fail(vm, at, "integer wider than 64 bits");
        uint64_t x = 0;
        for (size_t k = 0; k < n; k++) x |= (uint64_t)a[1 + k] << (8 * k);
        if (n && n < 8 && (a[n] & 0x80)) x |= ~(uint64_t)0 << (8 * n);   /* sign-extend */
        return push(vm, new_int(vm, (int64_t)x));
    }
    case 'G': { /* BINFLOAT: big-endian double */
        if (!need(vm, 8)) break;
        vm->pos += 8;
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++) bits = bits << 8 | a[k];
        if ((v = vnew(vm, V_FLOAT))) memcpy(&v->f, &bits, sizeof v->f);
        return push(vm, v);
    }
    case 'X': /* BINUNICODE: 4-byte length */
    case 0x8c: { /* SHORT_BINUNICODE: 1-byte length */
        size_t hl = op == 'X' ? 4 : 1;
        if (!need(vm, hl)) break;
        size_t n = op == 'X' ? le32(a) : a[0];
        if (!need(vm, hl + n)) break;
        vm->pos += hl + n;
        if (!(v = new_str(vm, a + hl, n))) return vm_fail(vm, at, "string with a NUL byte, or out of memory");
        return push(vm, v);
    }
    case ')': return push(vm, vnew(vm, V_TUPLE)); /* EMPTY_TUPLE */
    case ']': return push(vm, vnew(vm, V_LIST));  /* EMPTY_LIST */
    case '}': return push(vm, vnew(vm, V_DICT));  /* EMPTY_DICT */
    case 't': /* TUPLE */
        if ((mk = find_mark(vm)) < 0) return vm_fail(vm, at, "TUPLE without MARK");
        v = tuple_from(vm, (size_t)mk + 1);
        vm->sp--;   /* the mark */
        return push(vm, v);
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: { /* TUPLE3 */
        size_t n = (size_t)(op - 0x84);
        if (vm->sp < n) return vm_fail(vm, at, "TUPLEn on a short stack");
        for (size_t k = 0; k < n; k++)
            if (vm->stack[vm->sp - 1 - k] == vm->mark) return vm_fail(vm, at, "TUPLEn over a MARK");
        return push(vm, tuple_from(vm, vm->sp - n));
    }
    case 'a': /* APPEND */
        v = pop(vm), w = pop(vm);
        if (!v || !w || w->kind != V_LIST) return vm_fail(vm, at, "APPEND: expected a list and a value");
        if (vpush_item(w, v)) return push(vm, NULL);
        return push(vm, w);
    case 'e': /* APPENDS */
        if ((mk = find_mark(vm)) < 1 || vm->stack[mk - 1]->kind != V_LIST || vm->stack[mk - 1] == vm->mark)
            return vm_fail(vm, at, "APPENDS: expected a list and a MARK");
        w = vm->stack[mk - 1];
        for (size_t i = (size_t)mk + 1; i < vm->sp; i++)
            if (vpush_item(w, vm->stack[i])) return push(vm, NULL);
        vm->sp = (size_t)mk;
        return 0;
    case 's': /* SETITEM */
        v = pop(vm), w = pop(vm);
        if (!v || !w || !vm->sp || vm->stack[vm->sp - 1]->kind != V_DICT)
            return vm_fail(vm, at, "SETITEM: expected a dict, a key and a value");
        if (vpush_item(vm->stack[vm->sp - 1], w) || vpush_item(vm->stack[vm->sp - 1], v)) return push(vm, NULL);
        return 0;
    case 'u': /* SETITEMS */
        if ((mk = find_mark(vm)) < 1 || vm->stack[mk - 1]->kind != V_DICT)
            return vm_fail(vm, at, "SETITEMS: expected a dict and a MARK");
        if (set_items(vm, vm->stack[mk - 1], (size_t)mk + 1, at)) return vm->err->code;
        vm->sp = (size_t)mk;
        return 0;
    case 'q': /* BINPUT */
        if (!need(vm, 1)) break;
        vm->pos += 1;
        return memo_put(vm, a[0], at);
    case 'r': /* LONG_BINPUT */
        if (!need(vm, 4)) break;
        vm->pos += 4;
        return memo_put(vm, le32(a), at);
    case 0x94: /* MEMOIZE */
        return memo_put(vm, vm->memo_count, at);
    case 'h': /* BINGET */
        if (!need(vm, 1)) break;
        vm->pos += 1;
        return memo_get(vm, a[0], at);
    case 'j': /* LONG_BINGET */
        if (!need(vm, 4)) break;
        vm->pos += 4;
        return memo_get(vm, le32(a), at);
    case 'c': { /* GLOBAL: "module\nname\n" */
        const uint8_t *nl1 = memchr(a, '\n', vm->len - vm->pos), *nl2;
        if (!nl1 || !(nl2 = memchr(nl1 + 1, '\n', vm->len - (size_t)(nl1 + 1 - vm->p)))) break;
        char mod[128], name[128];
        size_t ml = (size_t)(nl1 - a), nlen = (size_t)(nl2 - nl1 - 1);
        vm->pos = (size_t)(nl2 + 1 - vm->p);
        if (ml >= sizeof mod || nlen >= sizeof name) return vm_fail(vm, at, "global name too long: refused");
        memcpy(mod, a, ml), mod[ml] = 0;
        memcpy(name, nl1 + 1, nlen), name[nlen] = 0;
        if (strlen(mod) != ml || strlen(name) != nlen) return vm_fail(vm, at, "global name with a NUL byte");
        return global_of(vm, mod, name, at);
    }
    case 0x93: /* STACK_GLOBAL */
        v = pop(vm), w = pop(vm);
        if (!v || !w || v->kind != V_STR || w->kind != V_STR)
            return vm_fail(vm, at, "STACK_GLOBAL: expected two strings");
        return global_of(vm, w->s, v->s, at);
    case 'Q': /* BINPERSID */
        return persistent_load(vm, pop(vm), at);
    case 'R': /* REDUCE */
        return do_reduce(vm, at);
    case 'b': /* BUILD: an OrderedDict's attributes (state_dict._metadata), ignored */
        v = pop(vm);
        if (!v || !vm->sp || vm->stack[vm->sp - 1]->kind != V_DICT || !vm->stack[vm->sp - 1]->from_odict ||
            (v->kind != V_DICT && v->kind != V_NONE))
            return vm_fail(vm, at, "BUILD: only an OrderedDict's attributes may be set");
        return 0;
    default: {
        char msg[120];
        snprintf(msg, sizeof msg, "opcode 0x%02x%s%c%s is not one torch.save writes for a state_dict: refused", op,
                 op >= 0x20 && op < 0x7f ? " ('" : "", op >= 0x20 && op < 0x7f ? op : ' ',
                 op >= 0x20 && op < 0x7f ? "')" : "");
        return vm_fail(vm, at, msg);
    }
    }
    return vm_fail(vm, at, "truncated: the pickle ends inside an opcode");
}

static void vm_free(Vm *vm)
{
    for (size_t i = 0; i < vm->n_all; i++) {
        free(vm->all[i]->s);
        free(vm->all[i]->items);
        free(vm->all[i]);
    }
    free(vm->all), free(vm->stack), free(vm->memo);
    free(vm->mark);
}

/* Run the pickle to STOP; *result is the one value left. */
static int vm_run(Vm *vm, Val **result)
{
    if (!(vm->mark = calloc(1, sizeof *vm->mark))) return err_set(vm->err, ERR_RUNTIME, "out of memory");
    vm->mark->kind = V_MARK;
    for (;;) {
        if (vm->pos >= vm->len) return vm_fail(vm, vm->pos, "the pickle ends without STOP");
        int rc = step(vm);
        if (rc == VM_STOP) break;
        if (rc) return rc;
    }
    if (vm->sp != 1 || vm->stack[0] == vm->mark) return vm_fail(vm, vm->pos - 1, "STOP: expected one value on the stack");
    *result = vm->stack[0];
    return 0;
}

/* ---- from the pickle's value to tensors ------------------------------------------------ */

static int all_tensors(const Val *d)
{
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (d->items[i + 1]->kind != V_TENSOR) return 0;
    return 1;
}

/* The state_dict: the result itself, or what a checkpoint dict holds under
 * "state_dict" or "model" (fastai's learn.save). */
static const Val *find_state_dict(const Val *r)
{
    if (!r || r->kind != V_DICT) return NULL;
    if (all_tensors(r)) return r;
    for (size_t i = 0; i + 1 < r->n; i += 2) {
        const Val *k = r->items[i], *v = r->items[i + 1];
        if (k->kind == V_STR && (!strcmp(k->s, "state_dict") || !strcmp(k->s, "model")) && v->kind == V_DICT &&
            v->n && all_tensors(v))
            return v;
    }
    return NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fill_tensors(PthFile *f, Zip *z, const Val *sd, Err *err)
{
    size_t n = sd->n / 2;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    char **names = malloc((n ? n : 1) * sizeof *names);
    if (!f->tensors || !names) {
        free(names);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const Val *k = sd->items[2 * i], *v = sd->items[2 * i + 1];
        if (k->kind != V_STR) {
            rc = err_set(err, ERR_RUNTIME, "%s: state_dict key %zu is not a string", f->path, i);
            break;
        }
        if (has_control(k->s) || !k->s[0]) {
            rc = err_set(err, ERR_RUNTIME, "%s: state_dict key %zu is empty or has a control character", f->path, i);
            break;
        }
        PthTensor *t = &f->tensors[f->n_tensors];
        if (!(t->name = strdup(k->s))) {
            rc = err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
            break;
        }
        f->n_tensors++;
        names[i] = t->name;
        t->dtype = v->dtype, t->ndim = v->ndim, t->numel = v->numel;
        memcpy(t->shape, v->shape, sizeof t->shape);
        memcpy(t->stride, v->stride, sizeof t->stride);
        t->data_off = v->storage->entry->data_off + (uint64_t)v->offset * st_dtype_size(v->dtype);
        /* dense row-major: each dimension of size > 1 strides over the ones after it */
        uint64_t want = 1;
        t->contiguous = 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (t->shape[d] > 1 && (uint64_t)t->stride[d] != want) t->contiguous = 0;
            want *= (uint64_t)t->shape[d];
        }
        rc = zip_check_crc(z, v->storage->entry, err);
    }
    if (!rc && n > 1) {
        qsort(names, n, sizeof *names, cmp_names);
        for (size_t i = 1; i < n && !rc; i++)
            if (!strcmp(names[i - 1], names[i]))
                rc = err_set(err, ERR_RUNTIME, "%s: state_dict key '%.200s' appears twice", f->path, names[i]);
    }
    free(names);
    return rc;
}

/* The archive folder: the one holding data.pkl ("archive" since torch 1.6's
 * writer, the file's stem in some versions). */
static int find_pickle(Zip *z, char *dir, size_t cap, ZipEntry **pkl, Err *err)
{
    *pkl = NULL;
    for (size_t i = 0; i < z->n; i++) {
        const char *nm = z->e[i].name, *slash = strchr(nm, '/');
        if (!slash || strcmp(slash, "/data.pkl") != 0) continue;
        if (*pkl) return err_set(err, ERR_RUNTIME, "%s: two data.pkl entries", z->path);
        *pkl = &z->e[i];
        if ((size_t)(slash - nm) >= cap) return err_set(err, ERR_RUNTIME, "%s: archive folder name too long", z->path);
        snprintf(dir, cap, "%.*s", (int)(slash - nm), nm);
    }
    if (!*pkl) return err_set(err, ERR_RUNTIME, "%s: a zip archive without <folder>/data.pkl: not a torch.save file", z->path);
    return 0;
}

static int check_byteorder(Zip *z, const char *dir, Err *err)
{
    char name[300], buf[8] = {0};
    snprintf(name, sizeof name, "%s/byteorder", dir);
    ZipEntry *e = zip_find(z, name);
    if (!e) return 0;   /* before torch 2.0: always little-endian */
    if (e->size > 6 || read_at(z->fd, buf, (size_t)e->size, e->data_off) || strcmp(buf, "little"))
        return err_set(err, ERR_RUNTIME, "%s: byteorder '%.6s': only little-endian files are read", z->path, buf);
    return 0;
}

static int parse(PthFile *f, Err *err)
{
    uint8_t magic[4] = {0};
    if (f->file_size < 4 || read_at(f->fd, magic, 4, 0))
        return err_set(err, ERR_RUNTIME, "%s: truncated file (%llu bytes)", f->path, (unsigned long long)f->file_size);
    if (magic[0] == 0x80 && magic[1] == 0x02)   /* a bare pickle: torch.save's format before 1.6 */
        return err_set(err, ERR_RUNTIME, "%s: the legacy torch.save format (before PyTorch 1.6): re-save it with "
                       "torch.save(torch.load(f), f) in PyTorch >= 1.6", f->path);
    if (memcmp(magic, "PK\3\4", 4))
        return err_set(err, ERR_RUNTIME, "%s: not a PyTorch .pth file (a zip written by torch.save)", f->path);
    Zip z = {.path = f->path, .fd = f->fd, .size = f->file_size};
    int rc = zip_open(&z, err);
    char dir[256];
    ZipEntry *pkl = NULL;
    uint8_t *p = NULL;
    Vm vm = {.z = &z, .dir = dir, .err = err};
    if (!rc) rc = find_pickle(&z, dir, sizeof dir, &pkl, err);
    if (!rc) rc = check_byteorder(&z, dir, err);
    if (!rc && pkl->size > PTH_MAX_PICKLE)
        rc = err_set(err, ERR_RUNTIME, "%s: data.pkl of %llu bytes: more than a state_dict needs", f->path,
                     (unsigned long long)pkl->size);
    if (!rc) rc = zip_check_crc(&z, pkl, err);
    if (!rc && !(p = malloc(pkl->size ? (size_t)pkl->size : 1))) rc = err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    if (!rc && read_at(f->fd, p, (size_t)pkl->size, pkl->data_off))
        rc = err_set(err, ERR_RUNTIME, "%s: cannot read data.pkl", f->path);
    Val *res = NULL;
    if (!rc) {
        vm.p = p, vm.len = (size_t)pkl->size;
        rc = vm_run(&vm, &res);
    }
    const Val *sd = rc ? NULL : find_state_dict(res);
    if (!rc && !sd)
        rc = err_set(err, ERR_RUNTIME, "%s: holds no state_dict (a dict of tensors, or one under 'state_dict' or "
                     "'model')", f->path);
    if (!rc) rc = fill_tensors(f, &z, sd, err);
    vm_free(&vm);
    free(p);
    zip_free(&z);
    return rc;
}

int pth_open(const char *path, PthFile **out, Err *err)
{
    *out = NULL;
    PthFile *f = calloc(1, sizeof *f);
    if (!f) return err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        int rc = err_set(err, ERR_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
        pth_close(f);
        return rc;
    }
    struct stat st;
    int rc = 0;
    if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) rc = err_set(err, ERR_RUNTIME, "%s: not a regular file", path);
    f->file_size = rc ? 0 : (uint64_t)st.st_size;
    if (!rc) rc = parse(f, err);
    if (rc) {
        pth_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

void pth_close(PthFile *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f);
}

int pth_read(const PthFile *f, const PthTensor *t, void *dst, size_t cap, Err *err)
{
    size_t es = st_dtype_size(t->dtype);
    if (t->numel > cap / es) return err_set(err, ERR_RUNTIME, "%s: tensor '%s': buffer too small", f->path, t->name);
    if (t->numel == 0) return 0;
    if (t->contiguous) {
        if (read_at(f->fd, dst, (size_t)t->numel * es, t->data_off))
            return err_set(err, ERR_RUNTIME, "%s: tensor '%s': cannot read: %s", f->path, t->name, strerror(errno));
        return 0;
    }
    /* a view: read the span it reaches, then walk its index in row-major order */
    uint64_t span = 1;
    for (int d = 0; d < t->ndim; d++) span += (uint64_t)(t->shape[d] - 1) * (uint64_t)t->stride[d];
    uint8_t *src = malloc((size_t)span * es);
    if (!src) return err_set(err, ERR_RUNTIME, "%s: tensor '%s': out of memory", f->path, t->name);
    if (read_at(f->fd, src, (size_t)span * es, t->data_off)) {
        free(src);
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': cannot read: %s", f->path, t->name, strerror(errno));
    }
    int64_t idx[ST_MAX_DIM] = {0};
    uint8_t *o = dst;
    for (uint64_t k = 0; k < t->numel; k++) {
        uint64_t at = 0;
        for (int d = 0; d < t->ndim; d++) at += (uint64_t)idx[d] * (uint64_t)t->stride[d];
        memcpy(o, src + at * es, es);
        o += es;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    free(src);
    return 0;
}

/* ---- as an StFile ---------------------------------------------------------------------- */

/* The tensors as an StFile: with the .pth's own descriptor and offsets when
 * every tensor is one contiguous run, else copied contiguous into an
 * anonymous in-memory file. */
static int to_stfile(PthFile *pf, StFile **out, Err *err)
{
    StFile *f = calloc(1, sizeof *f);
    if (!f) return err_set(err, ERR_RUNTIME, "%s: out of memory", pf->path);
    f->fd = -1;
    st_meta_init(&f->meta);
    snprintf(f->path, sizeof f->path, "%s", pf->path);
    int rc = 0, all_contig = 1;
    for (size_t i = 0; i < pf->n_tensors; i++) all_contig &= pf->tensors[i].contiguous;
    if (!(f->tensors = calloc(pf->n_tensors ? pf->n_tensors : 1, sizeof *f->tensors)))
        rc = err_set(err, ERR_RUNTIME, "%s: out of memory", pf->path);
    uint64_t pos = 0;
    if (!rc && !all_contig && (f->fd = memfd_create("fastc-pth", MFD_CLOEXEC)) < 0)
        rc = err_set(err, ERR_RUNTIME, "%s: cannot make an in-memory file: %s", pf->path, strerror(errno));
    for (size_t i = 0; i < pf->n_tensors && !rc; i++) {
        const PthTensor *t = &pf->tensors[i];
        StTensor *s = &f->tensors[f->n_tensors];
        if (!(s->name = strdup(t->name))) {
            rc = err_set(err, ERR_RUNTIME, "%s: out of memory", pf->path);
            break;
        }
        f->n_tensors++;
        s->dtype = t->dtype, s->ndim = t->ndim, s->numel = t->numel;
        memcpy(s->shape, t->shape, sizeof s->shape);
        s->nbytes = t->numel * st_dtype_size(t->dtype);
        if (all_contig) {
            s->offset = t->data_off;
            continue;
        }
        void *buf = malloc(s->nbytes ? (size_t)s->nbytes : 1);
        if (!buf) {
            rc = err_set(err, ERR_RUNTIME, "%s: out of memory", pf->path);
            break;
        }
        rc = pth_read(pf, t, buf, (size_t)s->nbytes, err);
        for (uint64_t done = 0; !rc && done < s->nbytes;) {
            ssize_t w = pwrite(f->fd, (uint8_t *)buf + done, (size_t)(s->nbytes - done), (off_t)(pos + done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) rc = err_set(err, ERR_RUNTIME, "%s: in-memory copy: %s", pf->path, strerror(errno));
            else done += (uint64_t)w;
        }
        free(buf);
        s->offset = pos;
        pos += s->nbytes;
    }
    if (!rc && all_contig) {
        f->fd = pf->fd, pf->fd = -1;   /* the StFile reads the .pth itself */
        f->file_size = pf->file_size;
    } else {
        f->file_size = pos;
    }
    if (rc) {
        st_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

int pth_open_weights(const char *path, StFile **out, Err *err)
{
    *out = NULL;
    uint8_t magic[4] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(err, ERR_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
    int is_zip = read_at(fd, magic, 4, 0) == 0 && !memcmp(magic, "PK\3\4", 4);
    int is_pickle = magic[0] == 0x80 && magic[1] == 0x02;
    close(fd);
    if (!is_zip && !is_pickle) return st_open(path, out, err);
    PthFile *pf;
    int rc = pth_open(path, &pf, err);
    if (rc) return rc;
    rc = to_stfile(pf, out, err);
    pth_close(pf);
    return rc;
}

/* ---- torchvision's cache ----------------------------------------------------------------- */

/* torchvision.models.resnetNN(pretrained=True): the IMAGENET1K_V1 weights
 * (torchvision/models/resnet.py, 0.14: @handle_legacy_interface). */
static const struct {
    const char *arch, *file;
} TV_WEIGHTS[] = {
    {"resnet18", "resnet18-f37072fd.pth"},   {"resnet34", "resnet34-b627a593.pth"},
    {"resnet50", "resnet50-0676ba61.pth"},   {"resnet101", "resnet101-63fe2227.pth"},
    {"resnet152", "resnet152-394f9c45.pth"},
};

int pth_torchvision_cached(const char *arch, char *path, size_t cap, Err *err)
{
    const char *file = NULL;
    for (size_t i = 0; i < sizeof TV_WEIGHTS / sizeof TV_WEIGHTS[0]; i++)
        if (!strcmp(arch, TV_WEIGHTS[i].arch)) file = TV_WEIGHTS[i].file;
    if (!file) return err_set(err, ERR_USAGE, "pretrained = True: torchvision has no ImageNet weights for %s", arch);
    /* torch.hub._get_torch_home: expanduser($TORCH_HOME or $XDG_CACHE_HOME/torch or ~/.cache/torch) */
    const char *th = getenv("TORCH_HOME"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[4096];
    if (th && *th) {
        if (th[0] == '~' && (th[1] == '/' || !th[1]) && home) snprintf(dir, sizeof dir, "%s%s", home, th + 1);
        else snprintf(dir, sizeof dir, "%s", th);
    } else if (xdg && *xdg) {
        snprintf(dir, sizeof dir, "%s/torch", xdg);
    } else {
        snprintf(dir, sizeof dir, "%s/.cache/torch", home && *home ? home : "");
    }
    int n = snprintf(path, cap, "%s/hub/checkpoints/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) return err_set(err, ERR_RUNTIME, "pretrained = True: cache path too long");
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return err_set(err, ERR_RUNTIME, "pretrained = True: %s not found; torchvision downloads it from "
                       "https://download.pytorch.org/models/%s (fastc does not download: put the file there, or "
                       "set TORCH_HOME)", path, file);
    return 0;
}
