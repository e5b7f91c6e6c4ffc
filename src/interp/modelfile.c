/* modelfile.c — reading what a model file is from its metadata, and refusing
 * a file that does not fit the config it is used with. */
#include "interp/modelfile.h"

#include "io/json.h"
#include "io/safetensors.h"
#include "models/resnet.h"
#include "setup/setup.h"

#include <float.h>
#include <math.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int need(const StMeta *meta, const char *path, const char *key, const char **out, Err *err)
{
    *out = st_meta_get(meta, key);
    if (!*out)
        return err_set(err, ERR_USAGE,
                       "%s: not a fastc model file (its metadata has no '%s'; fastc writes "
                       "model.safetensors with arch, task, n_in, n_out and the preprocessing)",
                       path, key);
    return 0;
}

/* A metadata value the file itself gets wrong (modelfile.h: exit status 1). */
static int bad_meta(Err *err, const char *path, const char *key, const char *val, const char *expected)
{
    return err_set(err, ERR_RUNTIME, "%s: metadata %s = '%.60s': expected %s", path, key, val ? val : "", expected);
}

/* An integer key in [lo, hi]; *out untouched when absent and !required. */
static int meta_int(const StMeta *meta, const char *path, const char *key, long long lo, long long hi, int *out,
                    const char *expected, Err *err)
{
    const char *s = st_meta_get(meta, key);
    long long v;
    Err e = {0};
    if (st_meta_get_int(meta, key, &v, &e) || v < lo || v > hi) return bad_meta(err, path, key, s, expected);
    *out = (int)v;
    return 0;
}

/* A JSON list of finite numbers, between lo_n and cap of them. */
static int meta_numbers(const StMeta *meta, const char *path, const char *key, double *out, size_t lo_n, size_t cap,
                        size_t *n, const char *expected, Err *err)
{
    const char *s = st_meta_get(meta, key);
    Err e = {0};
    if (st_meta_get_numbers(meta, key, out, cap, n, &e) || *n < lo_n) return bad_meta(err, path, key, s, expected);
    for (size_t i = 0; i < *n; i++)
        if (!isfinite(out[i])) return bad_meta(err, path, key, s, expected);
    return 0;
}

/* Representable as a float (the model computes in float32). */
static int fits_float(double x) { return isfinite(x) && fabs(x) <= FLT_MAX; }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Labels must be distinct: a prediction names one of them. */
static int vocab_check(const ModelFileInfo *mi, Err *err)
{
    if (mi->n_vocab < 2) return 0;
    char **v = malloc(sizeof(char *) * mi->n_vocab);
    if (!v) return err_set(err, ERR_RUNTIME, "%s: out of memory", mi->path);
    memcpy(v, mi->vocab, sizeof(char *) * mi->n_vocab);
    qsort(v, mi->n_vocab, sizeof *v, cmp_str);
    int rc = 0;
    for (size_t i = 1; i < mi->n_vocab && !rc; i++)
        if (!strcmp(v[i - 1], v[i]))
            rc = err_set(err, ERR_RUNTIME, "%s: metadata vocab: the label '%.60s' appears twice", mi->path, v[i]);
    free(v);
    return rc;
}

static const char *const TASKS[] = {"single_label", "multi_label", "points", "regression", "collab"};

/* Every field, checked against its range and the others before anything is
 * sized from it: a file is read by people who did not write it. */
static int info_read(ModelFileInfo *mi, const char *path, const StMeta *meta, Err *err)
{
    const char *s;
    int rc;
    if ((rc = need(meta, path, "arch", &s, err))) return rc;
    if (strlen(s) >= sizeof mi->arch) return bad_meta(err, path, "arch", s, "an architecture name");
    snprintf(mi->arch, sizeof mi->arch, "%s", s);
    if ((rc = need(meta, path, "task", &s, err))) return rc;
    int known = 0;
    for (size_t k = 0; k < sizeof TASKS / sizeof TASKS[0]; k++) known |= !strcmp(s, TASKS[k]);
    if (!known) return bad_meta(err, path, "task", s, "single_label, multi_label, points, regression or collab");
    snprintf(mi->task, sizeof mi->task, "%s", s);
    int collab = !strcmp(mi->task, "collab");
    if (!collab && !resnet_arch_known(mi->arch)) {
        char archs[160], want[200];
        resnet_arch_list(archs, sizeof archs);
        snprintf(want, sizeof want, "%s for an image model", archs);
        return bad_meta(err, path, "arch", mi->arch, want);
    }
    if (!st_meta_get(meta, "n_out") && (rc = need(meta, path, "n_out", &s, err))) return rc;
    char want_out[64];
    snprintf(want_out, sizeof want_out, "an integer in 1..%d", MODELFILE_MAX_OUT);
    if ((rc = meta_int(meta, path, "n_out", 1, MODELFILE_MAX_OUT, &mi->n_out, want_out, err))) return rc;
    /* image models take grayscale or RGB, which is what the decoder makes
     * (collab files record the two embedding inputs instead) */
    mi->n_in = 3;
    if (!collab && st_meta_get(meta, "n_in") &&
        (rc = meta_int(meta, path, "n_in", 1, 3, &mi->n_in, "1 or 3 (input channels: grayscale or RGB)", err)))
        return rc;
    if (!collab && mi->n_in == 2) return bad_meta(err, path, "n_in", "2", "1 or 3 (input channels: grayscale or RGB)");
    if (st_meta_get(meta, "vocab")) {
        Err e = {0};
        if (st_meta_get_strings(meta, "vocab", &mi->vocab, &mi->n_vocab, &e))
            return err_set(err, ERR_RUNTIME, "%s: %s", path, e.msg);
        if ((rc = vocab_check(mi, err))) return rc;
    }
    if (!strcmp(mi->task, "single_label") || !strcmp(mi->task, "multi_label")) {
        if (mi->n_vocab != (size_t)mi->n_out)
            return err_set(err, ERR_RUNTIME, "%s: metadata vocab has %zu labels but the model has %d outputs", path,
                           mi->n_vocab, mi->n_out);
    } else if (!strcmp(mi->task, "points") && mi->n_out % 2) {
        return err_set(err, ERR_RUNTIME, "%s: metadata n_out = %d: a points model has two outputs (x, y) per point",
                       path, mi->n_out);
    }
    if ((s = st_meta_get(meta, "y_range"))) {
        double yr[2];
        size_t n;
        if ((rc = meta_numbers(meta, path, "y_range", yr, 2, 2, &n, "[lo, hi], finite numbers with lo < hi", err)))
            return rc;
        if (!(yr[0] < yr[1]) || !fits_float(yr[0]) || !fits_float(yr[1]))
            return bad_meta(err, path, "y_range", s, "[lo, hi], finite numbers with lo < hi");
        mi->has_y_range = 1, mi->y_lo = yr[0], mi->y_hi = yr[1];
    }
    const char *head = st_meta_get(meta, "head");
    if (head && strcmp(head, "torchvision") && strcmp(head, "fastai"))
        return bad_meta(err, path, "head", head, "fastai or torchvision");
    mi->torchvision_head = head && !strcmp(head, "torchvision");
    mi->threshold = 0.5;
    if ((s = st_meta_get(meta, "threshold"))) {
        Err e = {0};
        if (st_meta_get_double(meta, "threshold", &mi->threshold, &e) || !(mi->threshold >= 0 && mi->threshold <= 1))
            return bad_meta(err, path, "threshold", s, "a number in [0, 1]");
    }
    if ((s = st_meta_get(meta, "size"))) {
        double hw[2];
        size_t n;
        const char *want = "[h, w], integers in 1..65536";
        if ((rc = meta_numbers(meta, path, "size", hw, 2, 2, &n, want, err))) return rc;
        for (int k = 0; k < 2; k++)
            if (!(hw[k] >= 1 && hw[k] <= 65536 && hw[k] == floor(hw[k]))) return bad_meta(err, path, "size", s, want);
        mi->size_h = (int)hw[0], mi->size_w = (int)hw[1];
    }
    /* normalisation stats: one value, or one per channel; a std of 0 divides by 0 */
    const char *ms = st_meta_get(meta, "norm_mean"), *ss = st_meta_get(meta, "norm_std");
    if (ms || ss) {
        size_t nm, ns;
        const char *want = "a list of 1 or 3 finite numbers";
        if (!ms || !ss)
            return err_set(err, ERR_RUNTIME, "%s: metadata has %s without %s", path, ms ? "norm_mean" : "norm_std",
                           ms ? "norm_std" : "norm_mean");
        if ((rc = meta_numbers(meta, path, "norm_mean", mi->norm_mean, 1, 3, &nm, want, err)) ||
            (rc = meta_numbers(meta, path, "norm_std", mi->norm_std, 1, 3, &ns, "a list of 1 or 3 positive numbers",
                               err)))
            return rc;
        if (nm == 2) return bad_meta(err, path, "norm_mean", ms, want);
        if (ns == 2) return bad_meta(err, path, "norm_std", ss, "a list of 1 or 3 positive numbers");
        for (int c = 0; c < 3; c++) {
            mi->norm_mean[c] = mi->norm_mean[nm == 1 ? 0 : c];
            mi->norm_std[c] = mi->norm_std[ns == 1 ? 0 : c];
            if (!fits_float(mi->norm_mean[c])) return bad_meta(err, path, "norm_mean", ms, want);
            if (!(mi->norm_std[c] > 0) || !fits_float(mi->norm_std[c]))
                return bad_meta(err, path, "norm_std", ss, "a list of 1 or 3 positive numbers");
        }
        mi->has_norm = 1;
    }
    mi->item_tfms = st_meta_get(meta, "item_tfms");
    mi->batch_tfms = st_meta_get(meta, "batch_tfms");
    return 0;
}

int modelfile_info(ModelFileInfo *mi, const char *path, const StMeta *meta, Err *err)
{
    memset(mi, 0, sizeof *mi);
    snprintf(mi->path, sizeof mi->path, "%s", path);
    int rc = info_read(mi, path, meta, err);
    if (rc) modelfile_info_free(mi);
    return rc;
}

void modelfile_info_free(ModelFileInfo *mi)
{
    if (!mi) return;
    if (mi->vocab) json_strings_free(mi->vocab, mi->n_vocab);
    mi->vocab = NULL, mi->n_vocab = 0;
}

void modelfile_describe(const ModelFileInfo *mi, char *buf, size_t cap)
{
    if (!strcmp(mi->task, "collab"))
        snprintf(buf, cap, "a collaborative-filtering %s model", mi->arch);
    else
        snprintf(buf, cap, "a %s %s model with %d output%s (%d input channel%s)", mi->arch, mi->task,
                 mi->n_out, mi->n_out == 1 ? "" : "s", mi->n_in, mi->n_in == 1 ? "" : "s");
}

void modelfile_expect_of(ModelFileExpect *e, const Setup *s)
{
    e->config = s->file;
    e->task = s->task;
    e->arch = s->model.arch;
    e->n_in = s->is_collab ? -1 : s->model.n_in;
    e->torchvision_head = s->model.torchvision_head;
}

int modelfile_check(const ModelFileInfo *mi, const ModelFileExpect *e, Err *err)
{
    char what[256];
    modelfile_describe(mi, what, sizeof what);
    int collab = !strcmp(e->task, "collab");
    int n_in = e->n_in >= 0 ? e->n_in : mi->n_in;
    if (strcmp(mi->task, e->task) || strcmp(mi->arch, e->arch) || mi->n_in != n_in) {
        if (collab)
            return err_set(err, ERR_USAGE, "%s is %s; %s expects a collaborative-filtering %s model",
                           mi->path, what, e->config, e->arch);
        return err_set(err, ERR_USAGE, "%s is %s; %s expects a %s %s model (%d input channel%s)",
                       mi->path, what, e->config, e->arch, e->task, n_in, n_in == 1 ? "" : "s");
    }
    if (!collab && e->torchvision_head != mi->torchvision_head)
        return err_set(err, ERR_USAGE, "%s has a %s head; %s expects [model] head = '%s'", mi->path,
                       mi->torchvision_head ? "torchvision" : "fastai", e->config,
                       e->torchvision_head ? "torchvision" : "fastai");
    return 0;
}
