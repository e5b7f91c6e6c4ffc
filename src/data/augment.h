/* augment.h — batch transforms: fastai's aug_transforms(...) and
 * Normalize.from_stats(...), turning an 8-bit item into the float tensor the
 * model sees, with point targets mapped the same way.
 *
 * One item at a time, in the loader's worker threads, with per-item
 * randomness (fastai runs them on the whole batch on the GPU, but it also draws
 * every random parameter per item, so the distribution is the same):
 *   IntToFloat (x/255)
 *   → one resample (bilinear, align_corners=True, reflection padding) whose
 *     grid fuses Flip (p=0.5; Dihedral if flip_vert), Rotate (U(-max_rotate,
 *     max_rotate)°, p_affine), Zoom (U(min_zoom, max_zoom), centre U(0,1),
 *     p_affine), Warp (perspective, U(-max_warp, max_warp) per axis, p_affine),
 *     RandomResizedCropGPU (when min_scale < 1) and the resize to `size`
 *   → Brightness + Contrast in logit space (p_lighting each)
 *   → Normalize ((x - mean) / std).
 * On the validation set only the deterministic part runs: the resize to size
 * (a centre square crop first when min_scale < 1) and Normalize.
 *
 * Like fastai's _grid_sample, a resample that shrinks by more than 2x first
 * averages the image down ("area" interpolation) so it does not alias.
 *
 * Points come in and go out in [-1, 1] coordinates (fastai's PointScaler,
 * x/w*2-1): the grid maps output to input coordinates, points take the
 * inverse map (the inverse warp, then the inverse affine).
 */
#ifndef FASTC_AUGMENT_H
#define FASTC_AUGMENT_H

#include "core/err.h"
#include "core/rng.h"
#include "data/image.h"

#include <stddef.h>

typedef struct BatchTfm {
    int aug;                 /* aug_transforms(...) present */
    int size_h, size_w;      /* size= (0 = keep the item's size) */
    int do_flip, flip_vert;
    double max_rotate, min_zoom, max_zoom, max_lighting, max_warp;
    double p_affine, p_lighting, min_scale;
    int pad_mode;            /* PadMode of transform.h: reflection, zeros, border */
    int normalize;           /* Normalize.from_stats(...) present */
    int normalize_from_batch;/* Normalize(): mean/std from one training batch (the loader sets them) */
    float mean[3], std[3];
} BatchTfm;

/* The random parameters of one item (neutral values = no change). */
typedef struct AugDraw {
    int flip;                /* horizontal flip */
    int dihedral;            /* 0..7 (flip_vert) */
    double rotate_deg;
    double zoom, zoom_col, zoom_row;  /* zoom factor >= 1 and centre in [0,1] */
    double warp_x, warp_y;
    int crop;                /* RandomResizedCropGPU box in the item's pixels */
    int crop_x, crop_y, crop_w, crop_h;
    double brightness;       /* the drawn U(0.5(1-l), 0.5(1+l)); 0.5 = neutral */
    double contrast;         /* exp(U(log(1-l), -log(1-l))); 1 = neutral */
} AugDraw;

/* Per-thread scratch (grown once, then reused). */
typedef struct AugScratch {
    float *src;  size_t cap_src;
    float *area; size_t cap_area;
    float *coord; size_t cap_coord;
} AugScratch;

/* Defaults: no augmentation, no normalisation. */
void batch_tfm_init(BatchTfm *t);
/* Output size for an item of in_w x in_h. */
void batch_tfm_out_size(const BatchTfm *t, int in_w, int in_h, int *out_w, int *out_h);
/* Draw the random parameters of one item (train), or the neutral ones (valid). */
void batch_tfm_draw(const BatchTfm *t, int in_w, int in_h, int train, Rng *rng, AugDraw *d);
void aug_draw_neutral(AugDraw *d);
/* Apply: out [out_h, out_w, in->c] floats; pts [n_pts][2] in [-1, 1] move in place.
 * 0, or -1 when the scratch cannot grow (out of memory: out is then unspecified). */
int batch_tfm_apply(const BatchTfm *t, const AugDraw *d, const Image *in, int train, float *out,
                    int out_w, int out_h, float *pts, int n_pts, AugScratch *s);
/* The 2x3 affine (row-major) and 3x3 homography of d for an in_w x in_h item:
 * an output grid point (u, v) in [-1, 1] samples the input at H(A·(u, v, 1)).
 * Exposed for tests. */
void aug_matrices(const AugDraw *d, int in_w, int in_h, double A[6], double H[9]);

void aug_scratch_free(AugScratch *s);

/* Named statistics (imagenet_stats, cifar_stats, mnist_stats): 1 if known. */
int  aug_stats(const char *name, float mean[3], float std[3]);

#endif
