/* weights.h — a Model's weights in safetensors files (io/safetensors.h):
 * saving a model, loading a fastc model file whole, and loading a pretrained
 * body with torchvision's names and fastai's first-convolution adaptation;
 * a model's identity and its params in a resume state (io/state.h).
 *
 * A saved Model uses the names of fastai's nn.Sequential(body, head) state_dict
 * ("0.0.weight", "0.4.0.conv1.weight", "1.8.weight"), dtype F32 for weights and
 * buffers and I64 for num_batches_tracked, convolution weights in PyTorch's
 * OIHW order, so in PyTorch `model.load_state_dict(safetensors.torch.load_file(f))`
 * works.  Metadata carries "fastc_format" ("1"), "arch", "n_in", "n_out" (set by
 * weights_save) plus any keys the caller adds; the conventional ones are
 *     vocab          JSON list of class names, e.g. ["cat","dog"]
 *     norm_mean, norm_std   JSON lists of per-channel numbers
 *     size           JSON [h, w];   resize_method   "crop" | "squish" | "pad"
 *     task           "single_label" | "multi_label" | "regression" | "points" | "collab"
 *     y_range        JSON [lo, hi];  threshold       number as text
 * (interp/modelfile.h reads and checks them).
 */
#ifndef FASTC_MODELS_WEIGHTS_H
#define FASTC_MODELS_WEIGHTS_H

#include "core/err.h"
#include "io/safetensors.h"
#include "io/state.h"
#include "models/model.h"

#include <stddef.h>

typedef enum WeightsMode {
    /* A fastc model file (--checkpoint, predict, best.safetensors): every
     * parameter must be present with its exact shape, no tensor may be left
     * over, and metadata arch/n_in/n_out (when present) must match. */
    WEIGHTS_FULL,
    /* `pretrained = file`: the body only (params named "0.*"); the head stays
     * as initialised, as with fastai's pretrained models.  torchvision/timm
     * resnet names are mapped (conv1 -> 0.0, bn1 -> 0.1, layerK -> 0.(3+K)),
     * `fc.*` and a fastai head ("1.*") are skipped with a note; a first
     * convolution with 3 input channels is adapted to n_in as fastai does
     * (n_in 1: sum over channels; 2: first two x 1.5; >3: zero extra channels);
     * missing num_batches_tracked counters read as 0. */
    WEIGHTS_PRETRAINED
} WeightsMode;

/* Add every Param of a model to w (F32, counters as I64, OHWI transposed to OIHW). */
int weights_add(StWriter *w, const Param *params, int n_params, Err *err);

/* Save a model: its params, plus metadata fastc_format/arch/n_in/n_out and the
 * caller's `extra` keys (may be NULL).  Written atomically. */
int weights_save(const Model *m, const StMeta *extra, const char *path, Err *err);

/* Load into m->params.  Everything is validated before any parameter is
 * changed (a NaN or infinity in any weight or buffer included: the file is
 * refused naming the tensor), so a refused file leaves the model as it was.
 * Exit status (README, "Files fastc writes"): a file that declares this
 * model in its metadata but whose tensors do not fit it is damaged
 * (ERR_RUNTIME); a file without that declaration whose tensors are another
 * architecture's is the wrong file (ERR_USAGE).  `note` (may be NULL)
 * receives one line on what was skipped or adapted ("" when nothing). */
int weights_load(Model *m, const StFile *f, WeightsMode mode, char *note, size_t note_cap, Err *err);
int weights_load_file(Model *m, const char *path, WeightsMode mode, char *note, size_t note_cap, Err *err);

/* The model's identity line for a resume state, e.g. "resnet18 n_in=3
 * n_out=10 params=122 hash=1f2e..." (the hash: every param's name, kind,
 * layout and shape). */
void weights_model_id(const Model *m, char *buf, size_t cap);
/* Every Param's values as prefix+name, in fastc's memory layout (a resume
 * state is for fastc, not PyTorch). */
int weights_put_state(StateWriter *w, const char *prefix, const Param *params, int n_params, Err *err);
/* Read them back: every array is checked (present, its size, finite) before
 * any param changes, so a bad file changes nothing. */
int weights_get_state(const StateFile *s, const char *prefix, Param *params, int n_params, Err *err);

#endif
