/* safetensors.h — read and write safetensors files; save and load a Model.
 *
 * Format (https://github.com/huggingface/safetensors): 8-byte little-endian
 * header length N, N bytes of JSON {"__metadata__": {str: str}, name: {"dtype",
 * "shape", "data_offsets": [begin, end]}, ...}, then the data; offsets are
 * relative to the byte after the header.
 *
 * Reading validates the whole header before any tensor is read: header length
 * (at most 100 MB and within the file), strict JSON (io/json.h), known dtypes,
 * shapes, byte sizes equal to shape x dtype size, offsets inside the data and
 * not overlapping.  Every error is one line naming the file and the tensor.
 * Tensor bytes are read with pread on demand; nothing is read out of bounds.
 *
 * A saved Model uses the names of fastai's nn.Sequential(body, head) state_dict
 * ("0.0.weight", "0.4.0.conv1.weight", "1.8.weight"), dtype F32 for weights and
 * buffers and I64 for num_batches_tracked, convolution weights in PyTorch's
 * OIHW order, so in PyTorch `model.load_state_dict(safetensors.torch.load_file(f))`
 * works.  Metadata carries "fastc_format" ("1"), "arch", "n_in", "n_out" (set by
 * st_save_model) plus any keys the caller adds; the conventional ones are
 *     vocab          JSON list of class names, e.g. ["cat","dog"]
 *     norm_mean, norm_std   JSON lists of per-channel numbers
 *     size           JSON [h, w];   resize_method   "crop" | "squish" | "pad"
 *     task           "single_label" | "multi_label" | "regression" | "points" | "collab"
 *     y_range        JSON [lo, hi];  threshold       number as text
 * Use st_meta_* to set and get them (numbers as %.17g text: exact round trip).
 */
#ifndef FASTC_IO_SAFETENSORS_H
#define FASTC_IO_SAFETENSORS_H

#include "core/err.h"
#include "models/model.h"

#include <stddef.h>
#include <stdint.h>

#define ST_FORMAT_VERSION "1"
#define ST_MAX_DIM 8
#define ST_MAX_HEADER (100u * 1000u * 1000u)

typedef enum StDtype {
    ST_BOOL, ST_U8, ST_I8, ST_U16, ST_I16, ST_F16, ST_BF16,
    ST_U32, ST_I32, ST_F32, ST_U64, ST_I64, ST_F64, ST_N_DTYPES
} StDtype;

const char *st_dtype_name(StDtype d);   /* "F32" ... */
size_t st_dtype_size(StDtype d);        /* bytes per element */

/* ---- metadata: an ordered string -> string map ------------------------- */
typedef struct StMeta {
    size_t n, cap;
    char **keys, **vals;
} StMeta;

void st_meta_init(StMeta *m);
void st_meta_free(StMeta *m);
/* Set (or replace) a key.  Returns 0, or -1 on out of memory. */
int st_meta_set(StMeta *m, const char *key, const char *val);
int st_meta_set_int(StMeta *m, const char *key, long long v);
int st_meta_set_double(StMeta *m, const char *key, double v);       /* %.17g */
int st_meta_set_strings(StMeta *m, const char *key, const char *const *v, size_t n);  /* JSON list */
int st_meta_set_numbers(StMeta *m, const char *key, const double *v, size_t n);       /* JSON list */
const char *st_meta_get(const StMeta *m, const char *key);   /* NULL when absent */
/* Typed getters: fail with "key 'k': expected ..." when absent or malformed. */
int st_meta_get_int(const StMeta *m, const char *key, long long *out, Err *err);
int st_meta_get_double(const StMeta *m, const char *key, double *out, Err *err);
int st_meta_get_strings(const StMeta *m, const char *key, char ***out, size_t *n, Err *err); /* json_strings_free */
int st_meta_get_numbers(const StMeta *m, const char *key, double *out, size_t cap, size_t *n, Err *err);

/* ---- writing ------------------------------------------------------------ */
typedef struct StWriter StWriter;

StWriter *st_writer_new(void);
void st_writer_free(StWriter *w);     /* NULL-safe */
StMeta *st_writer_meta(StWriter *w);  /* add metadata keys here */
/* Add a tensor whose bytes (little-endian, in `dtype`) are at `data`; the data
 * is borrowed and must stay valid until st_writer_write.  Names must be unique. */
int st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                  const void *data, Err *err);
/* Add every Param of a model (F32, counters as I64, OHWI transposed to OIHW). */
int st_writer_add_params(StWriter *w, const Param *params, int n_params, Err *err);
/* Write the file atomically (io/atomic.h). */
int st_writer_write(StWriter *w, const char *path, Err *err);

/* Save a model: its params, plus metadata fastc_format/arch/n_in/n_out and the
 * caller's `extra` keys (may be NULL). */
int st_save_model(const Model *m, const StMeta *extra, const char *path, Err *err);

/* ---- reading ------------------------------------------------------------ */
typedef struct StTensor {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIM];
    uint64_t numel;
    uint64_t offset;     /* absolute byte offset in the file */
    uint64_t nbytes;
} StTensor;

typedef struct StFile {
    char path[4096];
    int fd;
    uint64_t file_size;
    StTensor *tensors;   /* in header order */
    size_t n_tensors;
    StMeta meta;         /* "__metadata__" */
} StFile;

/* Open and validate; *out is NULL on failure. */
int st_open(const char *path, StFile **out, Err *err);
void st_close(StFile *f);   /* NULL-safe */
const StTensor *st_find(const StFile *f, const char *name);
/* Read a tensor as float32 (from F32, F16, BF16 or F64); n must equal numel. */
int st_read_f32(const StFile *f, const StTensor *t, float *dst, size_t n, Err *err);
/* Read a tensor as int64 (from any integer dtype, U64 values up to INT64_MAX,
 * or integral-valued floats; BOOL is refused). */
int st_read_i64(const StFile *f, const StTensor *t, int64_t *dst, size_t n, Err *err);
/* The raw bytes (cap >= t->nbytes). */
int st_read_raw(const StFile *f, const StTensor *t, void *dst, size_t cap, Err *err);
/* Refuse a floating-point tensor holding a NaN or an infinity, naming it and
 * the first such value (ERR_RUNTIME); integer tensors pass. */
int st_check_finite(const StFile *f, const StTensor *t, Err *err);
/* "[64, 3, 7, 7]" */
void st_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap);

/* ---- loading a model ---------------------------------------------------- */
typedef enum StLoadMode {
    /* A fastc model file (--checkpoint, predict, best.safetensors): every
     * parameter must be present with its exact shape, no tensor may be left
     * over, and metadata arch/n_in/n_out (when present) must match. */
    ST_LOAD_FULL,
    /* `pretrained = file`: the body only (params named "0.*"); the head stays
     * as initialised, as with fastai's pretrained models.  torchvision/timm
     * resnet names are mapped (conv1 -> 0.0, bn1 -> 0.1, layerK -> 0.(3+K)),
     * `fc.*` and a fastai head ("1.*") are skipped with a note; a first
     * convolution with 3 input channels is adapted to n_in as fastai does
     * (n_in 1: sum over channels; 2: first two x 1.5; >3: zero extra channels);
     * missing num_batches_tracked counters read as 0. */
    ST_LOAD_PRETRAINED
} StLoadMode;

/* Load into m->params.  Everything is validated before any parameter is
 * changed (a NaN or infinity in any weight or buffer included: the file is
 * refused naming the tensor), so a refused file leaves the model as it was.  `note` (may be NULL)
 * receives one line on what was skipped or adapted ("" when nothing). */
int st_load_model(Model *m, const StFile *f, StLoadMode mode, char *note, size_t note_cap, Err *err);
int st_load_model_file(Model *m, const char *path, StLoadMode mode, char *note, size_t note_cap, Err *err);

#endif
