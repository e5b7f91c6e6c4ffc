/* safetensors.h — read and write safetensors files.
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
 * Metadata is a string -> string map; the conventional keys of a fastc model
 * file are described in models/weights.h.  Use st_meta_* to set and get them
 * (numbers as %.17g text: exact round trip).  This module knows files, not
 * models: models/weights.h saves and loads a Model through it.
 */
#ifndef FASTC_IO_SAFETENSORS_H
#define FASTC_IO_SAFETENSORS_H

#include "core/err.h"

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
int st_dtype_is_float(StDtype d);       /* F16, BF16, F32 or F64 */

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
/* A float32 array held [O][KH][KW][I] (channels last), written as F32 in
 * PyTorch's [O][I][KH][KW] order; shape is the written (OIHW) shape. */
int st_writer_add_f32_ohwi(StWriter *w, const char *name, const int64_t shape[4], const float *data, Err *err);
/* Floats that hold integers (counters), written as I64 (rounded). */
int st_writer_add_f32_as_i64(StWriter *w, const char *name, int ndim, const int64_t *shape, const float *data,
                             Err *err);
/* Write the file atomically (io/atomic.h). */
int st_writer_write(StWriter *w, const char *path, Err *err);

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
 * the first such value (ERR_RUNTIME); integer tensors pass.  The _values form
 * checks n floats already read from t. */
int st_check_finite(const StFile *f, const StTensor *t, Err *err);
int st_check_finite_values(const StFile *f, const StTensor *t, const float *v, size_t n, Err *err);
/* "[64, 3, 7, 7]" */
void st_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap);

#endif
