/* modelfile.c — reading what a model file is from its metadata, and refusing
 * a file that does not fit the config it is used with. */
#include "interp/modelfile.h"

#include "io/json.h"
#include "io/safetensors.h"
#include "setup/setup.h"

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

int modelfile_info(ModelFileInfo *mi, const char *path, const StMeta *meta, Err *err)
{
    memset(mi, 0, sizeof *mi);
    snprintf(mi->path, sizeof mi->path, "%s", path);
    const char *s;
    long long v;
    int rc;
    if ((rc = need(meta, path, "arch", &s, err))) return rc;
    snprintf(mi->arch, sizeof mi->arch, "%s", s);
    if ((rc = need(meta, path, "task", &s, err))) return rc;
    snprintf(mi->task, sizeof mi->task, "%s", s);
    if ((rc = st_meta_get_int(meta, "n_out", &v, err))) return err_prefix(err, "%s: ", path);
    mi->n_out = (int)v;
    mi->n_in = 3;
    if (st_meta_get(meta, "n_in")) {
        if ((rc = st_meta_get_int(meta, "n_in", &v, err))) return err_prefix(err, "%s: ", path);
        mi->n_in = (int)v;
    }
    if (st_meta_get(meta, "vocab") &&
        (rc = st_meta_get_strings(meta, "vocab", &mi->vocab, &mi->n_vocab, err)))
        return err_prefix(err, "%s: ", path);
    if (st_meta_get(meta, "y_range")) {
        double yr[2];
        size_t n;
        if ((rc = st_meta_get_numbers(meta, "y_range", yr, 2, &n, err)) || n != 2) {
            modelfile_info_free(mi);
            return rc ? err_prefix(err, "%s: ", path)
                      : err_set(err, ERR_USAGE, "%s: metadata y_range: expected [lo, hi]", path);
        }
        mi->has_y_range = 1, mi->y_lo = yr[0], mi->y_hi = yr[1];
    }
    const char *head = st_meta_get(meta, "head");
    if (head && strcmp(head, "torchvision") && strcmp(head, "fastai")) {
        modelfile_info_free(mi);
        return err_set(err, ERR_USAGE, "%s: metadata head = '%.40s', expected fastai or torchvision", path, head);
    }
    mi->torchvision_head = head && !strcmp(head, "torchvision");
    mi->threshold = 0.5;
    if (st_meta_get(meta, "threshold") &&
        (rc = st_meta_get_double(meta, "threshold", &mi->threshold, err))) {
        modelfile_info_free(mi);
        return err_prefix(err, "%s: ", path);
    }
    if (st_meta_get(meta, "size")) {
        double hw[2];
        size_t n;
        if ((rc = st_meta_get_numbers(meta, "size", hw, 2, &n, err)) || n != 2) {
            modelfile_info_free(mi);
            return rc ? err_prefix(err, "%s: ", path)
                      : err_set(err, ERR_USAGE, "%s: metadata size: expected [h, w]", path);
        }
        mi->size_h = (int)hw[0], mi->size_w = (int)hw[1];
    }
    mi->item_tfms = st_meta_get(meta, "item_tfms");
    mi->batch_tfms = st_meta_get(meta, "batch_tfms");
    if ((!strcmp(mi->task, "single_label") || !strcmp(mi->task, "multi_label")) &&
        (int)mi->n_vocab != mi->n_out) {
        int nv = (int)mi->n_vocab;
        modelfile_info_free(mi);
        return err_set(err, ERR_USAGE, "%s: metadata vocab has %d labels but the model has %d outputs",
                       path, nv, mi->n_out);
    }
    return 0;
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
