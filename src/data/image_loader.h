/* image_loader.h — the image DataLoaders (data/loader.h) over a Dataset:
 * decode → item transform → batch transforms → float NHWC batches.
 *
 * - Train batches: the split shuffled each epoch (Fisher-Yates keyed by seed
 *   and epoch), drop_last.  Valid: in order, the last batch possibly short.
 * - Worker threads (pthreads) decode and transform items while the consumer
 *   computes, filling a ring of `prefetch` batches allocated once.  Every
 *   random choice comes from rng_hash(seed, epoch, item) keys, so the batches
 *   are bit-identical whatever the number of threads or their timing.
 * - Cache (cache_bytes): an item is decoded once per run while the budget
 *   lasts.  What is kept is the last deterministic stage: the item after its
 *   item transform when that transform is deterministic on the item's split
 *   (every valid item; train items under Resize(method='squish'|'pad')), else
 *   the decoded image (train items under a random crop), so later epochs skip
 *   decoding and, where possible, resizing.  Cached or not, the output is the same.
 * - on_bad_item = skip: a file that fails to decode (or is too small for the
 *   transform) is left out of its batch, which is then one item shorter (so
 *   the remaining items keep their slots and their random draws, whatever the
 *   thread count); the file is remembered and never decoded again, and listed
 *   once in Loaders.skipped.  A batch whose every item is bad is not given:
 *   next() goes on to the following one, whose Batch.batch_no tells the
 *   caller which batch of the epoch it is.  fail: the error names the file.
 * - Loaders.wait_s accumulates the time next() spent waiting for a batch.
 */
#ifndef FASTC_IMAGE_LOADER_H
#define FASTC_IMAGE_LOADER_H

#include "core/ctx.h"
#include "core/err.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/transform.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ImageLoaderOpts {
    int bs, val_bs;          /* val_bs 0 = bs */
    const char *bs_at;       /* where bs comes from, to start a message about it ("file:line:
                              * [data] bs", "--set ARG: [data] bs"); NULL: "[data] bs" */
    int n_workers;           /* loader threads (>= 1) */
    size_t cache_bytes;      /* decoded-item cache budget (0 = no cache) */
    int skip_bad;            /* on_bad_item = skip */
    int channels;            /* [model] n_in: 1 or 3 */
    uint64_t seed;           /* [learner] seed */
    int prefetch;            /* batches in flight (0 = 3) */
    ItemTfms item;           /* item_tfms, in order */
    BatchTfm batch;
} ImageLoaderOpts;

/* The loaders over ds (which must outlive them).  The setup layer fills the
 * options from a config ([data] item_tfms, batch_tfms, bs, val_bs,
 * num_workers, cache_mb, on_bad_item; [model] n_in; [learner] seed). */
int image_loaders_new_opts(Loaders **out, const ImageLoaderOpts *o, const Dataset *ds, Err *err);

typedef struct ImageLoaderStats {
    long decodes;            /* files decoded so far */
    long cache_hits;         /* items served from the cache */
    int cached_items;
    size_t cached_bytes;
    int h, w, c;             /* batch image shape */
} ImageLoaderStats;
void image_loaders_stats(const Loaders *l, ImageLoaderStats *st);

/* The batch transforms in use (with Normalize()'s computed statistics). */
const BatchTfm *image_loaders_batch_tfm(const Loaders *l);

/* fastai's `dsets.train[0]`, e.g. "(PILImage mode=RGB size=500x375, TensorCategory(3))"
 * into buf, for `fastc summary`. */
int image_item_describe(const Dataset *ds, int channels, char *buf, size_t cap, Err *err);

#endif
