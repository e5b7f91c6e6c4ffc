/* weights.c — a Model's weights in safetensors files (see weights.h). */
#include "models/weights.h"

#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- saving ------------------------------------------------------------- */

int weights_add(StWriter *w, const Param *params, int n_params, Err *err)
{
    for (int i = 0; i < n_params; i++) {
        const Param *p = &params[i];
        uint64_t numel = 1;
        for (int d = 0; d < p->ndim; d++) numel *= (uint64_t)p->shape[d];
        if (numel != p->n)
            return err_set(err, ERR_RUNTIME, "param '%s': shape does not match its %zu elements", p->name, p->n);
        int rc;
        if (p->kind == PARAM_COUNTER) {
            rc = st_writer_add_f32_as_i64(w, p->name, p->ndim, p->shape, p->w, err);
        } else if (p->layout == LAYOUT_OHWI) {
            if (p->ndim != 4) return err_set(err, ERR_RUNTIME, "param '%s': OHWI layout needs 4 dimensions", p->name);
            rc = st_writer_add_f32_ohwi(w, p->name, p->shape, p->w, err);
        } else {
            rc = st_writer_add(w, p->name, ST_F32, p->ndim, p->shape, p->w, err);
        }
        if (rc) return rc;
    }
    return 0;
}

int weights_save(const Model *m, const StMeta *extra, const char *path, Err *err)
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
        rc = weights_add(w, m->params, m->n_params, err);
        if (rc) err_prefix(err, "%s: ", path);
    }
    if (!rc) rc = st_writer_write(w, path, err);
    st_writer_free(w);
    return rc;
}

/* ---- loading ------------------------------------------------------------ */

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

static int check_metadata(const Model *m, const StFile *f, WeightsMode mode, Err *err)
{
    const char *arch = st_meta_get(&f->meta, "arch");
    if (arch && strcmp(arch, m->info.arch) != 0)
        return err_set(err, ERR_USAGE, "%s: the file holds a %.40s model; expected %s", f->path, arch, m->info.arch);
    if (mode != WEIGHTS_FULL) {
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

/* Which file tensor fills which param, checked whole before anything is read. */
typedef struct LoadPlan {
    const StTensor **t;          /* [n_params]: the file tensor for param i, or NULL */
    int tv;                      /* torchvision names, mapped onto fastai's Sequential(body, head) */
    int pre;                     /* WEIGHTS_PRETRAINED */
    int declared, misfit;        /* the file declares its model; the status of a tensor that does not fit */
    int n_fc, n_head, adapted, n_zero_counters;   /* for the note */
} LoadPlan;

/* The file tensor t into plan->t (or skipped: a classifier, a pretrained head). */
static int plan_tensor(LoadPlan *pl, const Model *m, const StFile *f, const StTensor *t, Err *err)
{
    char name[256];
    if (pl->tv) {
        if (tv_to_fastai(t->name, name, sizeof name) == 1) {
            if (pl->pre) { pl->n_fc++; return 0; }
            return err_set(err, ERR_USAGE,
                           "%s: tensor '%s' is a torchvision classifier; a torchvision file can only be `pretrained =`",
                           f->path, t->name);
        }
    } else {
        snprintf(name, sizeof name, "%s", t->name);
    }
    if (pl->pre && strncmp(name, "1.", 2) == 0) { pl->n_head++; return 0; }
    int pi = -1;
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) { pi = i; break; }
    if (pi < 0 || (pl->pre && strncmp(name, "0.", 2) != 0))
        return err_set(err, pl->misfit, "%s: tensor '%s' has no place in a %s model (%s)", f->path, t->name,
                       m->info.arch, pl->declared ? "a damaged file?" : "wrong arch?");
    const Param *p = &m->params[pi];
    if (pl->t[pi])
        return err_set(err, ERR_RUNTIME, "%s: tensors '%s' and '%s' both give %s", f->path, pl->t[pi]->name, t->name,
                       p->name);
    int float_ok = st_dtype_is_float(t->dtype);
    int int_ok = !float_ok && t->dtype != ST_BOOL;
    if (p->kind == PARAM_COUNTER ? !(float_ok || int_ok) : !float_ok)
        return err_set(err, ERR_RUNTIME, "%s: tensor '%s': dtype %s, expected %s", f->path, t->name,
                       st_dtype_name(t->dtype),
                       p->kind == PARAM_COUNTER ? "an integer or floating-point type (PyTorch writes I64)"
                                                : "F32 (or F16, BF16, F64)");
    if (!same_shape(t, p)) {
        int can_adapt = pl->pre && strcmp(p->name, "0.0.weight") == 0 && t->ndim == 4 && p->ndim == 4 &&
                        t->shape[0] == p->shape[0] && t->shape[1] == 3 && t->shape[2] == p->shape[2] &&
                        t->shape[3] == p->shape[3];
        if (!can_adapt) {
            char a[128], b[128];
            st_shape_str(t->shape, t->ndim, a, sizeof a);
            st_shape_str(p->shape, p->ndim, b, sizeof b);
            return err_set(err, pl->misfit, "%s: tensor '%s': shape %s, expected %s for a %s model (n_in %d, n_out %d)",
                           f->path, t->name, a, b, m->info.arch, m->info.n_in, m->info.n_out);
        }
        pl->adapted = pi;
    }
    pl->t[pi] = t;
    return 0;
}

/* Every file tensor placed, then every param the mode needs found. */
static int plan_load(LoadPlan *pl, const Model *m, const StFile *f, Err *err)
{
    int rc = 0;
    for (size_t ti = 0; ti < f->n_tensors && !rc; ti++) rc = plan_tensor(pl, m, f, &f->tensors[ti], err);
    char name[256];
    for (int i = 0; i < m->n_params && !rc; i++) {
        const Param *p = &m->params[i];
        if (pl->t[i]) continue;
        if (pl->pre && strncmp(p->name, "0.", 2) != 0) continue;
        if (pl->pre && p->kind == PARAM_COUNTER) { pl->n_zero_counters++; continue; }
        if (pl->tv) fastai_to_tv(p->name, name, sizeof name);
        else snprintf(name, sizeof name, "%s", p->name);
        rc = err_set(err, pl->misfit, "%s: tensor '%s' is missing: the file is not a %s %s (%s)", f->path, name,
                     m->info.arch, pl->pre ? "body" : "model", pl->declared ? "a damaged file?" : "wrong arch?");
    }
    return rc;
}

/* Every planned tensor read into one staging buffer (as floats, checked
 * finite), in param order: *stage (the caller frees it). */
static int stage_read(const LoadPlan *pl, const Model *m, const StFile *f, float **stage, Err *err)
{
    size_t total = 0;
    for (int i = 0; i < m->n_params; i++)
        if (pl->t[i]) total += (size_t)pl->t[i]->numel;
    float *st = *stage = malloc((total ? total : 1) * sizeof *st);
    if (!st) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    mem_advise_huge(st, total * sizeof *st);
    size_t off = 0;
    int rc = 0;
    for (int i = 0; i < m->n_params && !rc; i++) {
        const StTensor *t = pl->t[i];
        if (!t) continue;
        if (m->params[i].kind == PARAM_COUNTER && !st_dtype_is_float(t->dtype)) {
            int64_t *tmp = malloc((t->numel ? t->numel : 1) * sizeof *tmp);
            if (!tmp) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
            rc = st_read_i64(f, t, tmp, (size_t)t->numel, err);
            for (size_t k = 0; k < t->numel && !rc; k++) st[off + k] = (float)tmp[k];
            free(tmp);
        } else {
            rc = st_read_f32(f, t, st + off, (size_t)t->numel, err);
            if (!rc) rc = st_check_finite_values(f, t, st + off, (size_t)t->numel, err);
        }
        off += (size_t)t->numel;
    }
    return rc;
}

/* The staged values into the params (the adapted first convolution, OIHW to
 * OHWI); absent pretrained counters zeroed. */
static int commit_load(const LoadPlan *pl, Model *m, const StFile *f, const float *stage, Err *err)
{
    size_t off = 0;
    for (int i = 0; i < m->n_params; i++) {
        const StTensor *t = pl->t[i];
        Param *p = &m->params[i];
        if (!t) {
            if (pl->pre && p->kind == PARAM_COUNTER && strncmp(p->name, "0.", 2) == 0)
                memset(p->w, 0, p->n * sizeof(float));
            continue;
        }
        const float *src = stage + off;
        off += (size_t)t->numel;
        float *conv = NULL;
        if (i == pl->adapted) {
            conv = malloc(p->n * sizeof *conv);
            if (!conv) return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
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
    return 0;
}

/* One line on what was skipped or adapted. */
static void load_note(const LoadPlan *pl, const Model *m, char *note, size_t note_cap)
{
    size_t k = 0;
#define NOTE(...) do { if (k < note_cap) k += (size_t)snprintf(note + k, note_cap - k, __VA_ARGS__); } while (0)
    if (pl->n_fc)
        NOTE("skipped %d classifier tensor%s (fc.*): the fastai head is new", pl->n_fc, pl->n_fc > 1 ? "s" : "");
    if (pl->n_head) NOTE("%sskipped %d head tensor%s (1.*): the head is new, as with fastai's pretrained models",
                         k ? "; " : "", pl->n_head, pl->n_head > 1 ? "s" : "");
    if (pl->adapted >= 0) {
        const Param *p = &m->params[pl->adapted];
        NOTE("%sfirst convolution adapted from 3 to %lld input channels (%s, as fastai)", k ? "; " : "",
             (long long)p->shape[1],
             p->shape[1] == 1 ? "summed" : p->shape[1] == 2 ? "first two x 1.5" : "extra channels zero");
    }
    if (pl->n_zero_counters) NOTE("%s%d num_batches_tracked counter%s absent, set to 0", k ? "; " : "",
                                  pl->n_zero_counters, pl->n_zero_counters > 1 ? "s" : "");
#undef NOTE
}

int weights_load(Model *m, const StFile *f, WeightsMode mode, char *note, size_t note_cap, Err *err)
{
    if (note && note_cap) note[0] = 0;
    int rc = check_metadata(m, f, mode, err);
    if (rc) return rc;
    LoadPlan pl = {.adapted = -1};
    /* torchvision names, to be mapped onto fastai's Sequential(body, head) — unless the
     * model itself is torchvision-named ([model] head = 'torchvision') */
    pl.tv = st_find(f, "conv1.weight") != NULL && !model_param(m, "conv1.weight");
    pl.pre = mode == WEIGHTS_PRETRAINED;
    /* The exit-status rule (README, "Exit status"): a file that declares this
     * model (fastc metadata, checked above) but whose tensors do not fit it
     * is damaged: ERR_RUNTIME.  A file without that declaration (torchvision
     * weights) is described by its tensors alone: ones that do not fit are
     * another architecture's, the wrong file for this config: ERR_USAGE. */
    pl.declared = st_meta_get(&f->meta, "arch") != NULL;
    pl.misfit = pl.declared ? ERR_RUNTIME : ERR_USAGE;
    if (!(pl.t = calloc((size_t)m->n_params + 1, sizeof *pl.t)))
        return err_set(err, ERR_RUNTIME, "%s: out of memory", f->path);
    /* Stage everything, then commit: a read failure leaves the model untouched. */
    float *stage = NULL;
    rc = plan_load(&pl, m, f, err);
    if (!rc) rc = stage_read(&pl, m, f, &stage, err);
    if (!rc) rc = commit_load(&pl, m, f, stage, err);
    free(stage);
    if (!rc && note && note_cap) load_note(&pl, m, note, note_cap);
    free(pl.t);
    return rc;
}

int weights_load_file(Model *m, const char *path, WeightsMode mode, char *note, size_t note_cap, Err *err)
{
    StFile *f;
    int rc = st_open(path, &f, err);
    if (rc) return rc;
    rc = weights_load(m, f, mode, note, note_cap, err);
    st_close(f);
    return rc;
}

/* ---- resume states ------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

void weights_model_id(const Model *m, char *buf, size_t cap)
{
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < m->n_params; i++) {
        const Param *p = &m->params[i];
        h = fnv(h, p->name, strlen(p->name) + 1);
        int32_t meta[3] = {(int32_t)p->kind, (int32_t)p->layout, p->ndim};
        h = fnv(h, meta, sizeof meta);
        for (int d = 0; d < p->ndim; d++) h = fnv(h, &p->shape[d], sizeof p->shape[d]);
    }
    snprintf(buf, cap, "%s n_in=%d n_out=%d params=%d hash=%016llx", m->info.arch, m->info.n_in, m->info.n_out,
             m->n_params, (unsigned long long)h);
}

int weights_put_state(StateWriter *w, const char *prefix, const Param *params, int n_params, Err *err)
{
    char name[256];
    for (int i = 0; i < n_params; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, params[i].name);
        int rc = state_put_f32(w, name, params[i].w, params[i].n, err);
        if (rc) return rc;
    }
    return 0;
}

int weights_get_state(const StateFile *s, const char *prefix, Param *params, int n_params, Err *err)
{
    char name[256];
    for (int i = 0; i < n_params; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, params[i].name);
        if (state_check_f32(s, name, params[i].n, err)) return err->code;
    }
    for (int i = 0; i < n_params; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, params[i].name);
        int rc = state_get_f32(s, name, params[i].w, params[i].n, err);
        if (rc) return rc;
    }
    return 0;
}
