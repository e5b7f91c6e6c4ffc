/* transform.h — item transforms: fastai's Resize and RandomResizedCrop on
 * decoded 8-bit HWC images, with the point targets moved along.
 *
 * Geometry follows fastai 2.7.12 (FASTAI_REFERENCE.md §7):
 *  - Resize(size, method): crop = the largest crop of the target aspect
 *    (m = min(w/W, h/H), crop (int(m·W), int(m·H))), placed at
 *    (int(pw·(w-cw)), int(ph·(h-ch))) with pw, ph ~ U(0,1) on train and 0.5 on
 *    valid; pad = the same with m = max(...) and reflection/zeros/border padding
 *    around the image; squish = the whole image.  Then a resize to W x H.
 *  - RandomResizedCrop(size, min_scale, ratio, val_xtra, max_scale): train =
 *    up to 10 tries of a random area/aspect crop, else a centre crop clipped to
 *    `ratio`; valid = squish to size + ceil(max(size)·val_xtra/8)·8, then a
 *    centre crop of size.
 * Resampling is PIL's BILINEAR resize reproduced exactly (a triangle filter
 * whose support grows with the downscale factor, 22-bit fixed point, a
 * horizontal then a vertical pass through an 8-bit intermediate).
 *
 * Points are pixel coordinates (x, y) with 0 at the left/top edge and w at the
 * right edge (fastai's convention): a crop shifts them, a resize scales them.
 * Randomness comes from the caller's Rng, so an item's result is a pure
 * function of the Rng's key.
 */
#ifndef FASTC_TRANSFORM_H
#define FASTC_TRANSFORM_H

#include "core/err.h"
#include "core/rng.h"
#include "data/image.h"

#include <stddef.h>
#include <stdint.h>

typedef enum ItemTfmKind { ITFM_NONE, ITFM_RESIZE, ITFM_RRC } ItemTfmKind;
typedef enum ResizeMethod { RESIZE_CROP, RESIZE_PAD, RESIZE_SQUISH } ResizeMethod;
typedef enum PadMode { PAD_REFLECTION, PAD_ZEROS, PAD_BORDER } PadMode;

typedef struct ItemTfm {
    ItemTfmKind kind;
    int h, w;                 /* target size */
    ResizeMethod method;      /* Resize */
    PadMode pad_mode;         /* Resize(method='pad') */
    double min_scale, max_scale, ratio_lo, ratio_hi, val_xtra; /* RandomResizedCrop */
} ItemTfm;

/* item_tfms: the transforms in the order fastai applies them.  fastai sorts a
 * Pipeline by each transform's `order` (stably); Resize and RandomResizedCrop
 * both have order 1, so the config's order is kept:
 * `item_tfms = Resize(460), RandomResizedCrop(224, min_scale=0.75)` resizes,
 * then crops the result.  Each transform draws from the same per-item Rng in
 * turn. */
enum { ITEM_TFMS_MAX = 4 };
typedef struct ItemTfms {
    int n;
    ItemTfm t[ITEM_TFMS_MAX];
} ItemTfms;

/* A growable 8-bit image buffer (reused across items: no allocation once warm). */
typedef struct ImageBuf {
    Image img;
    size_t cap;
} ImageBuf;

/* Scratch memory of the resampler (one per thread). */
typedef struct TfmScratch {
    uint8_t *tmp;  size_t cap_tmp;    /* horizontal-pass intermediate */
    uint8_t *pad;  size_t cap_pad;    /* padded / cropped copy */
    int32_t *k;    size_t cap_k;      /* fixed-point coefficients */
    int *bounds;   size_t cap_bounds;
    double *kd;    size_t cap_kd;
    uint8_t *plan; size_t cap_plan;   /* horizontal-pass permute plan (fast path) */
} TfmScratch;

/* A sequence of one transform (t may be NULL or ITFM_NONE: none). */
ItemTfms item_tfms_one(const ItemTfm *t);
int  item_tfms_is_random(const ItemTfms *ts, int train);
/* The first transform's hint: the later ones work on its output. */
void item_tfms_decode_hint(const ItemTfms *ts, int train, int *min_w, int *min_h);
/* Apply the sequence: the last result goes to out, the ones before it to
 * tmp[0], tmp[1] in turn; pts move through every step. */
int  item_tfms_apply(const ItemTfms *ts, const Image *in, int train, Rng *rng, ImageBuf *out, ImageBuf tmp[2],
                     float *pts, int n_pts, TfmScratch *s, Err *err);

/* Whether the result on this split depends on the Rng (crop on train, RRC on train). */
int  item_tfm_is_random(const ItemTfm *t, int train);
/* Smallest decoded size the transform needs at full quality (JPEG DCT-scaling
 * hint for image_decode_*; 0 = decode at full size). */
void item_tfm_decode_hint(const ItemTfm *t, int train, int *min_w, int *min_h);

/* Apply t to `in` (c channels) into out; pts [n_pts][2] move in place.
 * train selects the random/centre behaviour; rng is used only when random. */
int  item_tfm_apply(const ItemTfm *t, const Image *in, int train, Rng *rng, ImageBuf *out,
                    float *pts, int n_pts, TfmScratch *s, Err *err);

/* The crop/pad box the transform takes from a w x h image before resizing to
 * t->w x t->h (x0, y0 may be negative for pad), and, for RandomResizedCrop
 * valid, the intermediate squish size *rw x *rh followed by a centre crop.
 * Exposed for tests. */
void item_tfm_geometry(const ItemTfm *t, int w, int h, int train, Rng *rng,
                       int *x0, int *y0, int *cw, int *ch, int *rw, int *rh);

/* PIL's Image.crop((x0, y0, x0+cw, y0+ch)).resize((dw, dh), BILINEAR), exact;
 * the box must lie inside the src image.  dst: [dh, dw, c].  0, or -1 when
 * the scratch cannot grow (out of memory: dst is then unspecified). */
int tfm_resize_bilinear(uint8_t *dst, int dw, int dh, const uint8_t *src, int sw, int sh, int c,
                        int x0, int y0, int cw, int ch, TfmScratch *s);
/* The same, plain scalar loops (PIL's own); the reference the fast version
 * (AVX-512 when compiled for it) is tested against. */
int tfm_resize_bilinear_ref(uint8_t *dst, int dw, int dh, const uint8_t *src, int sw, int sh, int c,
                            int x0, int y0, int cw, int ch, TfmScratch *s);
/* Copy the box (x0, y0, cw, ch) of src, which may reach outside it, padding
 * with `mode` (reflection = numpy 'reflect', border = 'edge').  dst: [ch, cw, c]. */
void tfm_crop_pad(uint8_t *dst, const uint8_t *src, int sw, int sh, int c,
                  int x0, int y0, int cw, int ch, PadMode mode);

int  image_buf_reserve(ImageBuf *b, int w, int h, int c, Err *err);
void image_buf_free(ImageBuf *b);
void tfm_scratch_free(TfmScratch *s);

/* Grow a malloc'ed scratch buffer to at least `need` bytes (keeping its
 * contents); 0 on success, -1 when out of memory.  Shared by the transforms so
 * steady-state batches reuse their buffers instead of allocating. */
int transform_buf_grow(void **p, size_t *cap, size_t need);

#endif
