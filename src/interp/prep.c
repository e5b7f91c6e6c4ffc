/* prep.c — one file prepared as the validation set prepares it; see prep.h. */
#include "interp/prep.h"

#include "core/rng.h"
#include "data/decode.h"
#include "interp/modelfile.h"
#include "setup/setup.h"

#include <stdio.h>
#include <string.h>

int prep_init(Prep *p, const ItemTfms *items, const BatchTfm *batch, int n_in, int h, int w, Err *err)
{
    memset(p, 0, sizeof *p);
    p->n_in = n_in;
    p->batch = *batch;
    for (int i = 0; items && i < items->n && p->n_item < PREP_MAX_ITEM_TFMS; i++)
        if (items->t[i].kind != ITFM_NONE) p->item[p->n_item++] = items->t[i];
    if (p->batch.aug && p->batch.size_w > 0)
        p->h = p->batch.size_h, p->w = p->batch.size_w;
    else if (p->n_item)
        p->h = p->item[p->n_item - 1].h, p->w = p->item[p->n_item - 1].w;
    else
        p->h = h, p->w = w;
    if (p->h <= 0 || p->w <= 0) return err_set(err, ERR_USAGE, "no input size: the transforms set none");
    return 0;
}

/* A transform text in the metadata that does not check: the file's fault
 * (exit 1).  The config module names "file:line: [data] key: ..."; a model
 * file has no lines, so the message becomes "file: metadata key: ...". */
static int meta_tfm_fail(Err *err, const char *path, const char *key)
{
    char tag[64], rest[sizeof err->msg];
    snprintf(tag, sizeof tag, "[data] %s: ", key);
    const char *r = strstr(err->msg, tag);
    snprintf(rest, sizeof rest, "%s", r ? r + strlen(tag) : err->msg);
    return err_set(err, ERR_RUNTIME, "%s: metadata %s: %s", path, key, rest);
}

int prep_init_meta(Prep *p, const ModelFileInfo *mi, Err *err)
{
    memset(p, 0, sizeof *p);
    if (mi->n_in != 1 && mi->n_in != 3)   /* the decoder makes grayscale or RGB */
        return err_set(err, ERR_RUNTIME, "%s: n_in %d: expected 1 or 3 input channels", mi->path, mi->n_in);
    p->n_in = mi->n_in;
    /* the saved config text goes through the config's own parser and checks
     * (ranges included) and the same constructors as a config's (setup/setup.h) */
    if (mi->item_tfms && *mi->item_tfms) {
        ItemTfms ts;
        if (setup_meta_item_tfms(mi->path, mi->item_tfms, &ts, err)) return meta_tfm_fail(err, mi->path, "item_tfms");
        for (int i = 0; i < ts.n && p->n_item < PREP_MAX_ITEM_TFMS; i++) p->item[p->n_item++] = ts.t[i];
    }
    if (setup_meta_batch_tfms(mi->path, mi->batch_tfms, &p->batch, err))
        return meta_tfm_fail(err, mi->path, "batch_tfms");
    /* Normalisation added by the learner (fastai adds it for pretrained models). */
    if (!p->batch.normalize && mi->has_norm) {
        p->batch.normalize = 1;
        for (int c = 0; c < 3; c++) p->batch.mean[c] = (float)mi->norm_mean[c], p->batch.std[c] = (float)mi->norm_std[c];
    }
    /* Input size: the batch transform's size, else the last item transform's,
     * else the metadata's (a dataset of same-sized images). */
    if (p->batch.aug && p->batch.size_w > 0)
        p->h = p->batch.size_h, p->w = p->batch.size_w;
    else if (p->n_item)
        p->h = p->item[p->n_item - 1].h, p->w = p->item[p->n_item - 1].w;
    else if (mi->size_h > 0 && mi->size_w > 0)
        p->h = mi->size_h, p->w = mi->size_w;
    else
        return err_set(err, ERR_RUNTIME, "%s: the metadata gives no input size (item_tfms, batch_tfms or size)",
                       mi->path);
    return 0;
}

void prep_free(Prep *p)
{
    image_buf_free(&p->buf[0]);
    image_buf_free(&p->buf[1]);
    tfm_scratch_free(&p->ts);
    aug_scratch_free(&p->as);
}

/* Decode and transform one file into x [h, w, c] floats.  The map from the
 * file's pixels to the model input's [-1, 1] coordinates is axis-aligned
 * affine for the validation transforms: u = ax*x + bx, v = ay*y + by. */
int prep_item(Prep *p, const char *path, float *x, double map[4], Err *err)
{
    Image img = {0};
    int mw = 0, mh = 0, ow, oh;
    if (p->n_item) item_tfm_decode_hint(&p->item[0], 0, &mw, &mh);
    if (image_decode_file(path, p->n_in == 1 ? 1 : 3, mw, mh, &img, &ow, &oh, err)) return err->code;
    /* probe points: the image's corners (0,0) and (ow,oh) in its own pixels,
     * rescaled to the decoded size (DCT scaling may have shrunk it) */
    float pts[4] = {0, 0, (float)img.w, (float)img.h};
    const Image *cur = &img;
    for (int i = 0; i < p->n_item; i++) {
        ImageBuf *dst = &p->buf[i & 1];
        if (item_tfm_apply(&p->item[i], cur, 0, NULL, dst, pts, 2, &p->ts, err)) {
            image_free(&img);
            return err_prefix(err, "%s: ", path);
        }
        cur = &dst->img;
    }
    int w, h;
    batch_tfm_out_size(&p->batch, cur->w, cur->h, &w, &h);
    if (w != p->w || h != p->h) {
        image_free(&img);
        return err_set(err, ERR_RUNTIME, "%s: image is %dx%d after the transforms but the model takes %dx%d",
                       path, w, h, p->w, p->h);
    }
    for (int k = 0; k < 2; k++) {   /* pixels → [-1, 1] of the item (fastai's PointScaler) */
        pts[2 * k] = (float)(pts[2 * k] * 2.0 / cur->w - 1.0);
        pts[2 * k + 1] = (float)(pts[2 * k + 1] * 2.0 / cur->h - 1.0);
    }
    AugDraw d;
    Rng unused = rng_make(0, 0);   /* the validation draw is deterministic */
    batch_tfm_draw(&p->batch, cur->w, cur->h, 0, &unused, &d);
    if (batch_tfm_apply(&p->batch, &d, cur, 0, x, w, h, pts, 2, &p->as)) {
        image_free(&img);
        return err_set(err, ERR_RUNTIME, "%s: out of memory in the batch transforms", path);
    }
    /* (0,0) → pts[0..1], (ow,oh) → pts[2..3] */
    if (map) {
        map[0] = (pts[2] - pts[0]) / ow, map[1] = pts[0];
        map[2] = (pts[3] - pts[1]) / oh, map[3] = pts[1];
    }
    image_free(&img);
    return 0;
}

