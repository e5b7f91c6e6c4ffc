/* pth.h — PyTorch's own weight files: what torch.save(model.state_dict(), f)
 * writes and torchvision keeps in its cache, read without Python and without
 * running anything.
 *
 * Format (torch >= 1.6): a zip archive (entries stored, not compressed; zip64
 * records as torch's writer puts them, or per entry) holding
 *     <dir>/data.pkl      the state_dict, pickled (protocol 2)
 *     <dir>/data/<key>    one raw little-endian storage per key
 *     <dir>/version, <dir>/byteorder ("little"; absent before torch 2.0), ...
 * The pickle is read by a small stack machine that knows only what torch.save
 * emits for a state_dict: the opcodes of protocols 2-4 for None, booleans,
 * integers, floats, strings, tuples, lists, dicts, the memo, marks, and three
 * kinds of globals — collections.OrderedDict (called with no arguments, its
 * attributes (`_metadata`) set by BUILD and ignored), torch._utils.
 * _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks
 * [, metadata]), and the storage types torch.FloatStorage ... torch.
 * BoolStorage named in persistent ids ('storage', type, key, location, numel).
 * Any other opcode or global is refused with its byte position; nothing is
 * imported, called or executed.  The legacy pre-1.6 format (a bare pickle
 * stream) is refused with a message saying how to re-save it.
 *
 * Everything is validated before a value is read: the zip structure (entries
 * inside the file, names matching, CRC-32 of every entry used), each tensor's
 * storage entry (present, uncompressed, exactly numel x element size bytes),
 * and each view (offset + the extent of size and stride inside its storage,
 * no overflow).  Tensors may be non-contiguous views (a transposed weight, a
 * slice): they are read element by element into row-major order.
 */
#ifndef FASTC_IO_PTH_H
#define FASTC_IO_PTH_H

#include "core/err.h"
#include "io/safetensors.h"

#include <stddef.h>
#include <stdint.h>

typedef struct PthTensor {
    char *name;                  /* state_dict key */
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIM];
    int64_t stride[ST_MAX_DIM];  /* in elements */
    uint64_t numel;
    uint64_t data_off;           /* file offset of its first element (storage start + offset) */
    int contiguous;              /* row-major and dense: one run of numel elements */
} PthTensor;

typedef struct PthFile {
    char path[4096];
    int fd;
    uint64_t file_size;
    PthTensor *tensors;          /* in state_dict order */
    size_t n_tensors;
} PthFile;

/* Open and validate; *out is NULL on failure.  Errors are one line naming
 * the file and the entry, opcode (with its byte position) or tensor. */
int  pth_open(const char *path, PthFile **out, Err *err);
void pth_close(PthFile *f);   /* NULL-safe */
/* A tensor's elements in row-major order (cap >= numel x element size). */
int  pth_read(const PthFile *f, const PthTensor *t, void *dst, size_t cap, Err *err);

/* Open weights for st_load_model whatever their format: a safetensors file,
 * or a .pth (told by its first bytes: a zip), presented as an StFile with
 * the same tensor names, dtypes and shapes and no metadata. */
int  pth_open_weights(const char *path, StFile **out, Err *err);

/* `pretrained = True` for arch: the file torchvision's resnetNN(pretrained=
 * True) loads (IMAGENET1K_V1, what fastai 2.7 asks for), in torchvision's cache:
 * $TORCH_HOME/hub/checkpoints/<file>, TORCH_HOME defaulting to
 * $XDG_CACHE_HOME/torch, that to ~/.cache/torch.  Fails (ERR_RUNTIME) when the
 * file is not there, naming the path and the URL it would come from; ERR_USAGE
 * for an arch torchvision has no weights for. */
int  pth_torchvision_cached(const char *arch, char *path, size_t cap, Err *err);

#endif
