/* state.c — resume state on top of safetensors (see state.h). */
#include "io/state.h"

#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct StateWriter {
    StWriter *st;
};

struct StateFile {
    StFile *st;
};

StateWriter *state_writer_new(const char *model_id)
{
    StateWriter *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->st = st_writer_new();
    if (!w->st || st_meta_set(st_writer_meta(w->st), "fastc_state", STATE_FORMAT_VERSION) ||
        st_meta_set(st_writer_meta(w->st), "model", model_id)) {
        state_writer_free(w);
        return NULL;
    }
    return w;
}

void state_writer_free(StateWriter *w)
{
    if (!w) return;
    st_writer_free(w->st);
    free(w);
}

int state_put_f32(StateWriter *w, const char *name, const float *v, size_t n, Err *err)
{
    int64_t shape[1] = {(int64_t)n};
    return st_writer_add(w->st, name, ST_F32, 1, shape, v, err);
}

int state_put_u64(StateWriter *w, const char *name, const uint64_t *v, size_t n, Err *err)
{
    int64_t shape[1] = {(int64_t)n};
    return st_writer_add(w->st, name, ST_U64, 1, shape, v, err);
}

static int reserved(const char *key) { return !strcmp(key, "fastc_state") || !strcmp(key, "model"); }

int state_set(StateWriter *w, const char *key, const char *value)
{
    if (reserved(key)) return -1;
    return st_meta_set(st_writer_meta(w->st), key, value);
}

int state_set_int(StateWriter *w, const char *key, long long v)
{
    if (reserved(key)) return -1;
    return st_meta_set_int(st_writer_meta(w->st), key, v);
}

int state_set_double(StateWriter *w, const char *key, double v)
{
    if (reserved(key)) return -1;
    return st_meta_set_double(st_writer_meta(w->st), key, v);
}

int state_write(StateWriter *w, const char *path, Err *err) { return st_writer_write(w->st, path, err); }

/* "resnet18 n_in=3 n_out=10 ..." -> "a resnet18 model (n_in 3, n_out 10)" */
static void describe(const char *fp, char *buf, size_t cap)
{
    char arch[64] = "?";
    int n_in = -1, n_out = -1;
    sscanf(fp, "%63s n_in=%d n_out=%d", arch, &n_in, &n_out);
    snprintf(buf, cap, "a %s model (n_in %d, n_out %d)", arch, n_in, n_out);
}

int state_open(const char *path, const char *want, StateFile **out, Err *err)
{
    *out = NULL;
    StFile *f;
    int rc = st_open(path, &f, err);
    if (rc) return rc;
    const char *ver = st_meta_get(&f->meta, "fastc_state");
    const char *fp = st_meta_get(&f->meta, "model");
    if (!ver || !fp)
        rc = err_set(err, ERR_USAGE, "%s: not a fastc resume state (no 'fastc_state' metadata)", path);
    else if (strcmp(ver, STATE_FORMAT_VERSION) != 0)
        rc = err_set(err, ERR_USAGE, "%s: resume state format %.20s; this fastc reads format %s%s", path, ver,
                     STATE_FORMAT_VERSION,
                     atoi(ver) < atoi(STATE_FORMAT_VERSION) ? " (an older fastc wrote it: train again without --resume)"
                                                            : "");
    else if (strcmp(fp, want) != 0) {
        char a[160], b[160];
        describe(fp, a, sizeof a);
        describe(want, b, sizeof b);
        if (strcmp(a, b) != 0)
            rc = err_set(err, ERR_USAGE, "%s: written for %s; this run's model is %s", path, a, b);
        else
            rc = err_set(err, ERR_USAGE, "%s: written for %s with a different parameter list (another fastc version?)",
                         path, a);
    }
    if (rc) {
        st_close(f);
        return rc;
    }
    StateFile *s = calloc(1, sizeof *s);
    if (!s) {
        st_close(f);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    }
    s->st = f;
    *out = s;
    return 0;
}

void state_close(StateFile *s)
{
    if (!s) return;
    st_close(s->st);
    free(s);
}

int state_has(const StateFile *s, const char *name) { return st_find(s->st, name) != NULL; }

long long state_len(const StateFile *s, const char *name)
{
    const StTensor *t = st_find(s->st, name);
    return t ? (long long)t->numel : -1;
}

static const StTensor *need(const StateFile *s, const char *name, size_t n, StDtype dt, Err *err)
{
    const StTensor *t = st_find(s->st, name);
    if (!t) {
        err_set(err, ERR_RUNTIME, "%s: resume state has no '%s'", s->st->path, name);
        return NULL;
    }
    if (t->dtype != dt || t->ndim != 1 || t->numel != n) {
        err_set(err, ERR_RUNTIME, "%s: '%s' holds %llu %s values; expected %zu %s", s->st->path, name,
                (unsigned long long)t->numel, st_dtype_name(t->dtype), n, st_dtype_name(dt));
        return NULL;
    }
    return t;
}

int state_get_f32(const StateFile *s, const char *name, float *dst, size_t n, Err *err)
{
    const StTensor *t = need(s, name, n, ST_F32, err);
    return t ? st_read_raw(s->st, t, dst, n * sizeof *dst, err) : ERR_RUNTIME;
}

int state_get_u64(const StateFile *s, const char *name, uint64_t *dst, size_t n, Err *err)
{
    const StTensor *t = need(s, name, n, ST_U64, err);
    return t ? st_read_raw(s->st, t, dst, n * sizeof *dst, err) : ERR_RUNTIME;
}

int state_check_f32(const StateFile *s, const char *name, size_t n, Err *err)
{
    const StTensor *t = need(s, name, n, ST_F32, err);
    if (!t) return ERR_RUNTIME;
    return st_check_finite(s->st, t, err);
}

const char *state_get(const StateFile *s, const char *key) { return st_meta_get(&s->st->meta, key); }

int state_get_int(const StateFile *s, const char *key, long long *out, Err *err)
{
    int rc = st_meta_get_int(&s->st->meta, key, out, err);
    return rc ? err_prefix(err, "%s: resume state: ", s->st->path) : 0;
}

int state_get_double(const StateFile *s, const char *key, double *out, Err *err)
{
    int rc = st_meta_get_double(&s->st->meta, key, out, err);
    return rc ? err_prefix(err, "%s: resume state: ", s->st->path) : 0;
}

int state_require(const StateFile *s, const char *key, const char *expected, Err *err)
{
    const char *v = state_get(s, key);
    if (!v) return err_set(err, ERR_USAGE, "%s: resume state records no '%s'", s->st->path, key);
    if (strcmp(v, expected) != 0)
        return err_set(err, ERR_USAGE, "%s: written with %s = %.200s; this run has %.200s", s->st->path, key, v,
                       expected);
    return 0;
}
