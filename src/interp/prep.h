/* prep.h — one image file prepared exactly as the validation set prepares it
 * (decode → item transforms → the deterministic part of the batch transforms
 * → Normalize), for `predict` and for the pictures of `interpret`.  It only
 * chains the data module's own transforms (data/transform.h, data/augment.h);
 * nothing is re-implemented here.
 *
 * It also reports the map from the file's own pixels to the model input's
 * [-1, 1] coordinates, so predicted points can be given back in the file's
 * pixels: the validation transforms (crop/pad/squish, resize, centre crop) are
 * axis-aligned affine, u = ax*x + bx, v = ay*y + by, found by moving the image
 * corners through the same transforms as the pixels.
 */
#ifndef FASTC_INTERP_PREP_H
#define FASTC_INTERP_PREP_H

#include "core/err.h"
#include "data/augment.h"
#include "data/transform.h"

typedef struct ModelFileInfo ModelFileInfo;

enum { PREP_MAX_ITEM_TFMS = ITEM_TFMS_MAX };

typedef struct Prep {
    int n_in;                   /* channels decoded (1 or 3) */
    int n_item;
    ItemTfm item[PREP_MAX_ITEM_TFMS];
    BatchTfm batch;
    int h, w;                   /* model input size */
    ImageBuf buf[2];
    TfmScratch ts;
    AugScratch as;
} Prep;

/* From a model file's checked metadata (modelfile.h: item_tfms, batch_tfms,
 * norm_mean/norm_std, size); the transform text is checked as config text is. */
int  prep_init_meta(Prep *p, const ModelFileInfo *mi, Err *err);
/* From transforms already built (e.g. the image loader's options); items may be
 * NULL (no item transform); h, w: the input size when no transform sets it. */
int  prep_init(Prep *p, const ItemTfms *items, const BatchTfm *batch, int n_in, int h, int w, Err *err);
/* Decode and transform one file into x [h, w, n_in] floats; map[4] = {ax, bx,
 * ay, by} (may be NULL).  Errors name the file. */
int  prep_item(Prep *p, const char *path, float *x, double map[4], Err *err);
void prep_free(Prep *p);   /* zeroed or initialised Prep */

#endif
