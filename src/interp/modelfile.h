/* modelfile.h — what a saved model file is, from its safetensors metadata:
 * task, architecture, inputs, outputs, vocab, preprocessing and threshold —
 * everything `fastc predict --model FILE` needs and nothing else — and the
 * check that refuses a file given to the wrong config ("X is a resnet34
 * single-label model; the config expects resnet18").
 *
 * Metadata keys (io/safetensors.h conventions): fastc_format, arch, n_in,
 * n_out, task, vocab, norm_mean, norm_std, size, resize_method, y_range,
 * threshold, and item_tfms / batch_tfms: the resolved config values in fastai
 * syntax, so predict rebuilds the validation transforms with the data
 * module's own parsers.
 */
#ifndef FASTC_INTERP_MODELFILE_H
#define FASTC_INTERP_MODELFILE_H

#include "core/err.h"

#include <stddef.h>

typedef struct Setup Setup;
typedef struct StMeta StMeta;

/* The most outputs (classes) a model file may declare: every buffer is sized
 * from n_out before the tensors are read. */
enum { MODELFILE_MAX_OUT = 100000 };

typedef struct ModelFileInfo {
    char path[4096];
    char arch[64];          /* "resnet18", "DotProductBias", ... */
    char task[32];          /* "single_label" | "multi_label" | "points" | "regression" | "collab" */
    int n_in, n_out;
    char **vocab;           /* NULL when absent */
    size_t n_vocab;
    int has_y_range;
    double y_lo, y_hi;
    int torchvision_head;   /* metadata head = "torchvision": avgpool + fc ([model] head) */
    double threshold;       /* multi-label; 0.5 when absent */
    int size_h, size_w;     /* model input size from "size"; 0 when absent */
    int has_norm;           /* norm_mean / norm_std given (one value given is used for every channel) */
    double norm_mean[3], norm_std[3];
    const char *item_tfms;  /* borrowed from the metadata; NULL when absent */
    const char *batch_tfms;
} ModelFileInfo;

/* Read the info from a file's metadata, every field checked for its range and
 * against the others (task known, arch an image model unless collab, n_in 1
 * or 3, n_out in 1..MODELFILE_MAX_OUT and equal to the vocab's length for
 * classification, distinct labels, an even n_out for points, threshold in
 * [0, 1], y_range finite with lo < hi, size integers in 1..65536, stats of 1
 * or 3 finite numbers with std > 0), before anything is sized from it.
 * A file without fastc metadata (e.g. a torchvision checkpoint) is refused
 * naming the missing key, exit status 2 (not the file the command needs); a
 * value out of range is the file's own fault, exit status 1. */
int  modelfile_info(ModelFileInfo *mi, const char *path, const StMeta *meta, Err *err);
void modelfile_info_free(ModelFileInfo *mi);

/* "a resnet34 multi_label model with 20 outputs (n_in 3)" into buf. */
void modelfile_describe(const ModelFileInfo *mi, char *buf, size_t cap);

/* What a config trains (from its Setup, setup/setup.h): its file name,
 * task (single_label, multi_label, points, collab), arch, input channels (-1:
 * any, collab) and head. */
typedef struct ModelFileExpect {
    const char *config;
    const char *task;
    const char *arch;
    int n_in;
    int torchvision_head;
} ModelFileExpect;

/* The expectations of a config's setup. */
void modelfile_expect_of(ModelFileExpect *e, const Setup *s);

/* Refuse a model file that does not fit the config (task, arch, n_in, head),
 * with a one-line ERR_USAGE saying what the file is and what was expected. */
int modelfile_check(const ModelFileInfo *mi, const ModelFileExpect *e, Err *err);

#endif
