/* dist.c — data-parallel training over MPI; see dist.h.
 *
 * MPI is reached through a table of function pointers filled by dlsym from
 * libmpi.so.40, loaded only under a launcher: fastc links no MPI library, and
 * a run without mpirun never maps one.  mpi.h still gives the types and
 * constants; the predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM ...)
 * are in Open MPI the addresses of global objects, so they are looked up by
 * their symbol names too (ompi_mpi_comm_world ...): this file is tied to Open
 * MPI's ABI, which is what Debian ships (libopenmpi3). */
#include "dist/dist.h"

#include "data/loader.h"

#include <mpi.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DIST_MPI_FUNCS(X)                                                                                         \
    X(init_thread, MPI_Init_thread) X(finalize, MPI_Finalize) X(comm_rank, MPI_Comm_rank)                          \
    X(comm_size, MPI_Comm_size) X(set_errhandler, MPI_Comm_set_errhandler) X(error_string, MPI_Error_string)      \
    X(barrier, MPI_Barrier) X(bcast, MPI_Bcast) X(allgather, MPI_Allgather) X(allgatherv, MPI_Allgatherv)         \
    X(iallreduce, MPI_Iallreduce) X(testall, MPI_Testall) X(waitall, MPI_Waitall)

struct DistMpi {
    void *lib;
#define X(field, fn) __typeof__(fn) *field;
    DIST_MPI_FUNCS(X)
#undef X
    MPI_Comm world;
    MPI_Datatype f32, f64, i32, byte;
    MPI_Op sum;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int dist_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMIX_RANK") != NULL;
}

static int env_int(const char *name, int dflt)
{
    const char *s = getenv(name);
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    return s && *s && !*end && v >= 0 && v < INT_MAX ? (int)v : dflt;
}

int dist_env_rank(int *size)
{
    *size = dist_launched() ? env_int("OMPI_COMM_WORLD_SIZE", 1) : 1;
    if (*size < 1) *size = 1;
    return *size > 1 ? env_int("OMPI_COMM_WORLD_RANK", env_int("PMIX_RANK", 0)) : 0;
}

int dist_default_threads(int cores, int online_cores)
{
    int local = dist_launched() ? env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1) : 1;
    if (local <= 1 || cores < online_cores) return cores > 0 ? cores : 1;
    return cores / local > 0 ? cores / local : 1;
}

/* An MPI call's failure as an error naming the call and the rank. */
static int mpi_fail(const Dist *d, int rc, const char *call, Err *err)
{
    char msg[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    if (d->mpi && d->mpi->error_string && d->mpi->error_string(rc, msg, &len) != MPI_SUCCESS) msg[0] = 0;
    msg[len >= 0 && len <= MPI_MAX_ERROR_STRING ? len : 0] = 0;
    return err_set(err, ERR_RUNTIME, "rank %d of %d: %s failed: %s", d->rank, d->size, call,
                   msg[0] ? msg : "(no message)");
}

static int load_mpi(DistMpi *m, Err *err)
{
    static const char *names[] = {"libmpi.so.40", "libmpi.so"};
    const char *why = "";
    for (size_t i = 0; i < sizeof names / sizeof *names && !m->lib; i++) {
        /* GLOBAL: Open MPI's own plugins (mca_*.so) resolve their symbols against it */
        m->lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
        if (!m->lib) why = dlerror();
    }
    if (!m->lib)
        return err_set(err, ERR_RUNTIME, "launched by an MPI launcher, but Open MPI's library could not be loaded "
                                         "(%s); install libopenmpi3 (Debian) or run without mpirun", why);
    void *sym;
#define X(field, fn)                                                                                              \
    if (!(sym = dlsym(m->lib, #fn))) goto missing;                                                              \
    memcpy(&m->field, &sym, sizeof sym);
    DIST_MPI_FUNCS(X)
#undef X
    struct { const char *name; void **out; } handles[] = {
        {"ompi_mpi_comm_world", (void **)&m->world}, {"ompi_mpi_float", (void **)&m->f32},
        {"ompi_mpi_double", (void **)&m->f64},       {"ompi_mpi_int", (void **)&m->i32},
        {"ompi_mpi_byte", (void **)&m->byte},        {"ompi_mpi_op_sum", (void **)&m->sum},
    };
    for (size_t i = 0; i < sizeof handles / sizeof *handles; i++)
        if (!(*handles[i].out = dlsym(m->lib, handles[i].name))) goto missing;
    return 0;
missing:
    return err_set(err, ERR_RUNTIME, "the MPI library loaded is not Open MPI 3 or 4 (%s); fastc runs data-parallel "
                                     "with Open MPI (Debian's libopenmpi3)", dlerror());
}

int dist_open(Dist *d, Err *err)
{
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
    if (!dist_launched()) return 0;
    DistMpi *m = calloc(1, sizeof *m);
    if (!m) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = load_mpi(m, err);
    if (rc) {
        free(m);   /* the library stays mapped: unloading Open MPI is not safe */
        return rc;
    }
    int provided = 0;
    d->mpi = m;
    if ((rc = m->init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS) {
        mpi_fail(d, rc, "MPI_Init_thread", err);
        d->mpi = NULL;
        free(m);
        return ERR_RUNTIME;
    }
    m->set_errhandler(m->world, dlsym(m->lib, "ompi_mpi_errors_return"));
    m->comm_rank(m->world, &d->rank);
    m->comm_size(m->world, &d->size);
    d->local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", d->rank);
    d->local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", d->size);
    if (d->local_size < 1) d->local_size = 1;
    if (provided < MPI_THREAD_FUNNELED) {
        dist_close(d, 1);
        return err_set(err, ERR_RUNTIME, "MPI: the library offers no thread support (fastc's loader and kernels run "
                                         "threads beside the one that calls MPI)");
    }
    return 0;
}

void dist_close(Dist *d, int ok)
{
    if (d->mpi) {
        if (ok) {
            d->mpi->barrier(d->mpi->world);
            d->mpi->finalize();
        }
        free(d->mpi);
    }
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
}

void dist_share(int n, int rank, int size, int *first, int *count) { loaders_share(n, rank, size, first, count); }

/* ---- collectives ----------------------------------------------------------- */

int dist_barrier(const Dist *d, Err *err)
{
    if (!d->mpi || d->size < 2) return 0;
    int rc = d->mpi->barrier(d->mpi->world);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(d, rc, "MPI_Barrier", err);
}

int dist_bcast(const Dist *d, void *buf, size_t bytes, Err *err)
{
    if (!d->mpi || d->size < 2) return 0;
    for (size_t off = 0; off < bytes;) {
        size_t n = bytes - off < (1u << 30) ? bytes - off : (1u << 30);
        int rc = d->mpi->bcast((char *)buf + off, (int)n, d->mpi->byte, 0, d->mpi->world);
        if (rc != MPI_SUCCESS) return mpi_fail(d, rc, "MPI_Bcast", err);
        off += n;
    }
    return 0;
}

static int bcast_kinds(const Dist *d, Model *m, int weights, Err *err)
{
    for (int i = 0; i < m->n_params; i++) {
        const Param *p = &m->params[i];
        if ((p->kind == PARAM_WEIGHT) != weights && weights != 2) continue;
        if (dist_bcast(d, p->w, sizeof(float) * p->n, err)) return err_prefix(err, "%s: ", p->name);
    }
    return 0;
}

int dist_bcast_params(const Dist *d, Model *m, Err *err) { return bcast_kinds(d, m, 2, err); }
int dist_bcast_buffers(const Dist *d, Model *m, Err *err) { return bcast_kinds(d, m, 0, err); }

/* Every rank's n doubles, rank after rank, into all[size * n]. */
static int gather_doubles(const Dist *d, const double *v, int n, double *all, Err *err)
{
    int rc = d->mpi->allgather(v, n, d->mpi->f64, all, n, d->mpi->f64, d->mpi->world);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(d, rc, "MPI_Allgather", err);
}

int dist_sum(const Dist *d, double *v, int n, Err *err)
{
    if (!d->mpi || d->size < 2 || n <= 0) return 0;
    double *all = malloc(sizeof(double) * (size_t)n * d->size);
    if (!all) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = gather_doubles(d, v, n, all, err);
    for (int i = 0; !rc && i < n; i++) {
        double s = 0;
        for (int r = 0; r < d->size; r++) s += all[(size_t)r * n + i];   /* rank order: the same bits everywhere */
        v[i] = s;
    }
    free(all);
    return rc;
}

int dist_any(const Dist *d, int flag, int *any, Err *err)
{
    double v = flag != 0;
    int rc = dist_sum(d, &v, 1, err);
    *any = v > 0;
    return rc;
}

/* A 64-bit digest, 8 bytes at a time (splitmix64's finaliser over a running xor). */
static uint64_t digest(const void *bytes, size_t n, uint64_t h)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        memcpy(&w, p + i, n - i < 8 ? n - i : 8);
        h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h ^= h >> 31, h *= 0xbf58476d1ce4e5b9ULL, h ^= h >> 27;
    }
    return h;
}

static int check_digest(const Dist *d, uint64_t h, const char *what, Err *err)
{
    if (!d->mpi || d->size < 2) return 0;
    uint64_t *all = malloc(sizeof *all * d->size);
    if (!all) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = d->mpi->allgather(&h, 8, d->mpi->byte, all, 8, d->mpi->byte, d->mpi->world);
    if (rc != MPI_SUCCESS) {
        free(all);
        return mpi_fail(d, rc, "MPI_Allgather", err);
    }
    rc = 0;
    for (int r = 1; r < d->size && !rc; r++)
        if (all[r] != all[0]) rc = err_set(err, ERR_RUNTIME, "rank %d's %s differ from rank 0's", r, what);
    free(all);
    return rc;
}

int dist_check_same(const Dist *d, const void *bytes, size_t n, const char *what, Err *err)
{
    return check_digest(d, digest(bytes, n, n), what, err);
}

int dist_check_params(const Dist *d, const Model *m, const char *when, Err *err)
{
    if (!d->mpi || d->size < 2) return 0;
    uint64_t h = 0;
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i].kind == PARAM_WEIGHT) h = digest(m->params[i].w, sizeof(float) * m->params[i].n, h + i);
    char what[160];
    snprintf(what, sizeof what, "weights %s (the replicas drifted apart)", when);
    return check_digest(d, h, what, err);
}

/* ---- gradients --------------------------------------------------------------- */

typedef struct Bucket {
    int lo, hi;            /* params [lo, hi), the dense ones among them */
    size_t off, n;         /* floats in buf */
    float *direct;         /* non-NULL: the params' gradients lie in one block in order (a resnet's),
                              summed where they are, n floats from here (no copy) */
} Bucket;

typedef struct Sparse {    /* an embedding table whose rows travel alone */
    int param;
    int64_t row_len;
    int32_t *cat;          /* the global batch's rows (every rank's, rank order; repeats) */
    int n_cat, cap_cat;
    int32_t *uniq;         /* sorted unique rows of cat */
    int n_uniq, cap_uniq;
    size_t off;            /* floats in sbuf */
} Sparse;

struct DistGrads {
    const Dist *d;
    Model *m;
    size_t bucket_floats;
    uint8_t *frozen;       /* [n_params] the frozen flags the buckets were built for */
    int built;
    uint8_t *is_sparse;    /* [n_params] */
    Bucket *bk;
    int n_bk, next_bk;     /* buckets; the next to start */
    float *buf;            /* dense buckets, packed */
    size_t buf_n;
    Sparse *sp;
    int n_sp, sparse_lo;   /* sparse params; the lowest index among them */
    int sparse_started, sparse_stale;
    float *sbuf;
    size_t sbuf_n, sbuf_cap;
    int *counts, *displs;  /* [size * n_sp], [size] */
    MPI_Request *req;      /* [n_bk + 1] in start order */
    int n_req;
    int hook_rc;           /* the first MPI failure in a hook (which cannot return it) */
    int *cnt;              /* [size] scratch */
    DistStats st;
};

static int dense_param(const DistGrads *g, int i)
{
    const Param *p = &g->m->params[i];
    return p->kind == PARAM_WEIGHT && p->g && !p->frozen && !g->is_sparse[i];
}

/* Whether the gradients of params [lo, hi) can be summed where they are:
 * every weight among them is sent (none frozen or sparse), their gradients
 * follow one another in memory in order, and no other weight's gradient lies
 * in between (a resnet's one block, where the gaps are alignment padding and
 * the buffers' unused slots: never written, zeroed with the rest by
 * zero_grad, summed as zeros).  The start, and the floats from there in *n;
 * NULL otherwise (the bucket is packed). */
static float *direct_range(const DistGrads *g, int lo, int hi, size_t *n)
{
    const Param *ps = g->m->params;
    float *first = NULL, *end = NULL;
    for (int i = lo; i < hi; i++) {
        if (ps[i].kind != PARAM_WEIGHT) continue;
        if (!dense_param(g, i) || (end && ps[i].g < end)) return NULL;
        if (!first) first = ps[i].g;
        end = ps[i].g + ps[i].n;
    }
    if (!first || end - first > INT_MAX) return NULL;
    for (int j = 0; j < g->m->n_params; j++)
        if ((j < lo || j >= hi) && ps[j].g && ps[j].g < end && ps[j].g + ps[j].n > first) return NULL;
    *n = (size_t)(end - first);
    return first;
}

/* Buckets in backward order (the last params first), each at least
 * bucket_floats unless it ends the model; built for the current frozen flags. */
static int build_buckets(DistGrads *g, Err *err)
{
    Model *m = g->m;
    g->n_bk = 0, g->buf_n = 0;
    size_t off = 0;
    int hi = m->n_params;
    size_t acc = 0;
    for (int i = m->n_params - 1; i >= 0; i--) {
        if (dense_param(g, i)) acc += m->params[i].n;
        if ((acc >= g->bucket_floats || i == 0) && acc > 0) {
            Bucket *b = &g->bk[g->n_bk++];
            b->lo = i, b->hi = hi, b->off = off, b->n = acc;
            if ((b->direct = direct_range(g, i, hi, &b->n))) acc = 0;   /* no room in buf */
            off += acc, hi = i, acc = 0;
        }
    }
    if (off > g->buf_n) {
        free(g->buf);
        g->buf = malloc(sizeof(float) * (off ? off : 1));
        if (!g->buf) return err_set(err, ERR_RUNTIME, "gradient buckets: out of memory (%zu floats)", off);
    }
    g->buf_n = off;
    for (int i = 0; i < m->n_params; i++) g->frozen[i] = (uint8_t)m->params[i].frozen;
    g->built = 1;
    return 0;
}

DistGrads *dist_grads_new(const Dist *d, Model *m, size_t bucket_bytes, Err *err)
{
    DistGrads *g = calloc(1, sizeof *g);
    if (!g) return err_set(err, ERR_RUNTIME, "out of memory"), NULL;
    g->d = d, g->m = m;
    g->bucket_floats = bucket_bytes / sizeof(float) ? bucket_bytes / sizeof(float) : 1;
    int np = m->n_params > 0 ? m->n_params : 1;
    g->frozen = calloc((size_t)np, 1);
    g->is_sparse = calloc((size_t)np, 1);
    g->bk = calloc((size_t)np, sizeof *g->bk);
    g->req = calloc((size_t)np + 1, sizeof *g->req);
    g->sp = calloc((size_t)np, sizeof *g->sp);
    g->displs = calloc((size_t)d->size, sizeof(int));
    g->cnt = calloc((size_t)d->size, sizeof(int));
    g->counts = calloc((size_t)d->size * np, sizeof(int));
    if (!g->frozen || !g->is_sparse || !g->bk || !g->req || !g->sp || !g->displs || !g->cnt || !g->counts) {
        dist_grads_free(g);
        return err_set(err, ERR_RUNTIME, "out of memory"), NULL;
    }
    g->sparse_lo = INT_MAX;
    for (int i = 0; i < m->n_params; i++) {
        const Param *p = &m->params[i];
        if (p->kind != PARAM_WEIGHT || p->row_len <= 0 || !m->batch_rows) continue;
        g->is_sparse[i] = 1;
        g->sp[g->n_sp].param = i, g->sp[g->n_sp].row_len = p->row_len;
        g->n_sp++;
        if (i < g->sparse_lo) g->sparse_lo = i;
    }
    m->grads_ready = dist_grads_ready;
    m->grads_ctx = g;
    return g;
}

void dist_grads_free(DistGrads *g)
{
    if (!g) return;
    if (g->m && g->m->grads_ctx == g) g->m->grads_ready = NULL, g->m->grads_ctx = NULL;
    for (int i = 0; g->sp && i < g->n_sp; i++) free(g->sp[i].cat), free(g->sp[i].uniq);
    free(g->sp), free(g->frozen), free(g->is_sparse), free(g->bk), free(g->req), free(g->buf), free(g->sbuf);
    free(g->counts), free(g->displs), free(g->cnt);
    free(g);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int grow_i32(int32_t **p, int *cap, int n)
{
    if (n <= *cap) return 0;
    int32_t *q = realloc(*p, sizeof *q * (size_t)n);
    if (!q) return -1;
    *p = q, *cap = n;
    return 0;
}

/* Allgather the rows each rank's share touches, for every sparse param. */
static int exchange_rows(DistGrads *g, const Batch *b, Err *err)
{
    const Dist *d = g->d;
    DistMpi *mp = d->mpi;
    Model *m = g->m;
    int ns = g->n_sp, mine[64] = {0};
    const int32_t *rows[64];
    if (ns > 64) return err_set(err, ERR_RUNTIME, "data-parallel: more than 64 embedding tables");
    for (int k = 0; k < ns; k++) {
        Sparse *s = &g->sp[k];
        s->n_cat = 0, s->n_uniq = 0;
        mine[k] = 0, rows[k] = NULL;
        if (m->params[s->param].frozen || b->n == 0) continue;
        int n = m->batch_rows(m, b, s->param, &rows[k]);
        if (n < 0) return err_set(err, ERR_RUNTIME, "data-parallel: %s: the model cannot name a batch's rows",
                                  m->params[s->param].name);
        mine[k] = n;
    }
    int rc = mp->allgather(mine, ns, mp->i32, g->counts, ns, mp->i32, mp->world);
    if (rc != MPI_SUCCESS) return mpi_fail(d, rc, "MPI_Allgather (embedding rows)", err);
    g->sbuf_n = 0;
    for (int k = 0; k < ns; k++) {
        Sparse *s = &g->sp[k];
        int total = 0, *cnt = g->cnt;
        for (int r = 0; r < d->size; r++) {
            cnt[r] = g->counts[r * ns + k];
            g->displs[r] = total;
            total += cnt[r];
        }
        if (grow_i32(&s->cat, &s->cap_cat, total > 0 ? total : 1) || grow_i32(&s->uniq, &s->cap_uniq, total > 0 ? total : 1))
            return err_set(err, ERR_RUNTIME, "out of memory");
        static const int32_t none = 0;
        rc = mp->allgatherv(rows[k] ? rows[k] : &none, mine[k], mp->i32, s->cat, cnt, g->displs, mp->i32, mp->world);
        if (rc != MPI_SUCCESS) return mpi_fail(d, rc, "MPI_Allgatherv (embedding rows)", err);
        s->n_cat = total;
        int64_t n_rows = (int64_t)(m->params[s->param].n / (size_t)s->row_len);
        for (int i = 0; i < total; i++)
            if (s->cat[i] < 0 || s->cat[i] >= n_rows)
                return err_set(err, ERR_RUNTIME, "data-parallel: %s: row %d out of range (%lld rows)",
                               m->params[s->param].name, s->cat[i], (long long)n_rows);
        memcpy(s->uniq, s->cat, sizeof(int32_t) * (size_t)total);
        qsort(s->uniq, (size_t)total, sizeof(int32_t), cmp_i32);
        int u = 0;
        for (int i = 0; i < total; i++)
            if (u == 0 || s->uniq[u - 1] != s->uniq[i]) s->uniq[u++] = s->uniq[i];
        s->n_uniq = u;
        s->off = g->sbuf_n;
        g->sbuf_n += (size_t)u * (size_t)s->row_len;
    }
    if (g->sbuf_n > g->sbuf_cap) {
        free(g->sbuf);
        g->sbuf = malloc(sizeof(float) * g->sbuf_n);
        if (!g->sbuf) return g->sbuf_cap = 0, err_set(err, ERR_RUNTIME, "out of memory");
        g->sbuf_cap = g->sbuf_n;
    }
    return 0;
}

int dist_grads_begin(DistGrads *g, const Batch *b, Err *err)
{
    Model *m = g->m;
    /* the last step put other ranks' rows into this rank's gradients, where
     * the model's own zero_grad does not look */
    for (int k = 0; g->sparse_stale && k < g->n_sp; k++) {
        Sparse *s = &g->sp[k];
        float *gr = m->params[s->param].g;
        for (int i = 0; i < s->n_uniq; i++) memset(gr + (size_t)s->uniq[i] * s->row_len, 0, sizeof(float) * s->row_len);
    }
    g->sparse_stale = 0;
    int same = g->built;
    for (int i = 0; same && i < m->n_params; i++) same = g->frozen[i] == (uint8_t)m->params[i].frozen;
    if (!same && build_buckets(g, err)) return err->code;
    g->next_bk = 0, g->n_req = 0, g->sparse_started = 0;
    if (g->d->size > 1 && g->n_sp && exchange_rows(g, b, err)) return err->code;
    return 0;
}

int dist_grads_rows(void *ctx, int param, const int32_t **rows)
{
    DistGrads *g = ctx;
    for (int k = 0; k < g->n_sp; k++)
        if (g->sp[k].param == param) {
            *rows = g->sp[k].cat;
            return g->sp[k].n_cat;
        }
    return -1;
}

static int start(DistGrads *g, float *p, size_t n)
{
    DistMpi *mp = g->d->mpi;
    double t0 = now();
    int rc = mp->iallreduce(MPI_IN_PLACE, p, (int)n, mp->f32, mp->sum, mp->world, &g->req[g->n_req]);
    g->st.start_s += now() - t0;
    if (rc == MPI_SUCCESS) g->n_req++;
    g->st.bytes += sizeof(float) * (double)n;
    return rc;
}

void dist_grads_ready(void *ctx, int first)
{
    DistGrads *g = ctx;
    if (g->d->size < 2) return;
    Model *m = g->m;
    double t0 = now(), started = g->st.start_s;
    while (g->next_bk < g->n_bk && g->bk[g->next_bk].lo >= first) {
        Bucket *b = &g->bk[g->next_bk++];
        float *dst = g->buf + b->off;
        for (int i = b->hi - 1; !b->direct && i >= b->lo; i--)
            if (dense_param(g, i)) {
                memcpy(dst, m->params[i].g, sizeof(float) * m->params[i].n);
                dst += m->params[i].n;
            }
        int rc = start(g, b->direct ? b->direct : g->buf + b->off, b->n);
        if (rc != MPI_SUCCESS && !g->hook_rc) g->hook_rc = rc;
    }
    if (!g->sparse_started && g->n_sp && g->sparse_lo >= first) {
        g->sparse_started = 1;
        for (int k = 0; k < g->n_sp; k++) {
            const Sparse *s = &g->sp[k];
            const float *gr = m->params[s->param].g;
            for (int i = 0; i < s->n_uniq; i++)
                memcpy(g->sbuf + s->off + (size_t)i * s->row_len, gr + (size_t)s->uniq[i] * s->row_len,
                       sizeof(float) * s->row_len);
        }
        if (g->sbuf_n) {
            int rc = start(g, g->sbuf, g->sbuf_n);
            if (rc != MPI_SUCCESS && !g->hook_rc) g->hook_rc = rc;
        }
    }
    double t1 = now();
    g->st.pack_s += t1 - t0 - (g->st.start_s - started);
    /* Open MPI moves a non-blocking collective on only inside MPI calls: each
     * hook is such a call, between the layers of the backward */
    int done;
    if (g->n_req) g->d->mpi->testall(g->n_req, g->req, &done, MPI_STATUSES_IGNORE);
    g->st.progress_s += now() - t1;
}

int dist_grads_end(DistGrads *g, double nominal, DistStep *st, Err *err)
{
    const Dist *d = g->d;
    if (d->size < 2) return 0;
    Model *m = g->m;
    dist_grads_ready(g, 0);
    int rc = g->hook_rc;
    g->hook_rc = 0;
    if (rc != MPI_SUCCESS) return mpi_fail(d, rc, "MPI_Iallreduce", err);
    double t0 = now();
    double all[3] = {st->n, st->loss_sum, st->stop};
    if (dist_sum(d, all, 3, err)) return err->code;
    st->n = all[0], st->loss_sum = all[1], st->stop = all[2];
    rc = d->mpi->waitall(g->n_req, g->req, MPI_STATUSES_IGNORE);
    double t1 = now();
    g->st.wait_s += t1 - t0;
    if (rc != MPI_SUCCESS) return mpi_fail(d, rc, "MPI_Iallreduce (gradients)", err);
    const float k = st->n > 0 && st->n != nominal ? (float)(nominal / st->n) : 1.0f;
    for (int j = 0; j < g->n_bk; j++) {
        const Bucket *b = &g->bk[j];
        if (b->direct) {   /* summed in place */
            for (size_t e = 0; k != 1.0f && e < b->n; e++) b->direct[e] *= k;
            continue;
        }
        const float *src = g->buf + b->off;
        for (int i = b->hi - 1; i >= b->lo; i--) {
            if (!dense_param(g, i)) continue;
            float *dst = m->params[i].g;
            size_t n = m->params[i].n;
            if (k == 1.0f) memcpy(dst, src, sizeof(float) * n);
            else
                for (size_t e = 0; e < n; e++) dst[e] = src[e] * k;
            src += n;
        }
    }
    for (int q = 0; q < g->n_sp; q++) {
        const Sparse *s = &g->sp[q];
        float *gr = m->params[s->param].g;
        for (int i = 0; i < s->n_uniq; i++) {
            float *dst = gr + (size_t)s->uniq[i] * s->row_len;
            const float *src = g->sbuf + s->off + (size_t)i * s->row_len;
            for (int64_t e = 0; e < s->row_len; e++) dst[e] = src[e] * k;
        }
    }
    g->sparse_stale = g->n_sp > 0;
    g->st.pack_s += now() - t1;
    g->st.steps++;
    g->st.n_buckets = g->n_bk;
    g->st.last_bytes = g->n_bk ? sizeof(float) * (double)g->bk[g->n_bk - 1].n : 0;
    return 0;
}

void dist_grads_stats(const DistGrads *g, DistStats *s) { *s = g->st; }
