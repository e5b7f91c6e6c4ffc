/* loader.h — DataLoaders: what the learner iterates, for every task.
 *
 * An abstract pair of loaders (train, valid) behind a small table of functions,
 * implemented by the image loader (image_loader.c: decode, item/batch
 * transforms, background threads, cache) and the ratings loader (collab).
 * Train batches are shuffled each epoch (deterministically from seed and epoch)
 * with drop_last; valid batches come in order, the last one possibly short.
 */
#ifndef FASTC_LOADER_H
#define FASTC_LOADER_H

#include "core/err.h"
#include "data/batch.h"

enum { SPLIT_TRAIN = 0, SPLIT_VALID = 1 };

typedef struct Loaders Loaders;

typedef struct LoadersOps {
    int  (*n_batches)(const Loaders *l, int split);
    int  (*n_items)(const Loaders *l, int split);
    /* Start an epoch of `split`: the train order is a function of (seed, epoch).
     * The epoch starts at batch `first` (0, or a resumed mid-epoch position):
     * batches before it are neither made nor returned, and the ones after are
     * exactly those of an epoch started at 0 (every item's augmentation is a
     * function of (seed, epoch, item), never of what was loaded before). */
    int  (*begin)(Loaders *l, int split, int epoch, int first, Err *err);
    /* The next batch of the current epoch: returns 1 with *b set (b->batch_no
     * its number in the epoch, increasing; a loader may leave a batch out), 0 at the end,
     * or -1 on failure with err set (err->code is the exit status: ERR_RUNTIME
     * would be ambiguous with 1).  *b stays valid until the next call. */
    int  (*next)(Loaders *l, Batch **b, Err *err);
    void (*free)(Loaders *l);
} LoadersOps;

struct Loaders {
    const LoadersOps *ops;
    int bs;
    int max_batch;    /* the most items next() ever gives: min(bs, split size), the larger of the
                         two splits.  Batch buffers (the loader's and the model's) are sized by it,
                         so a batch size beyond the data costs no memory. */
    TargetKind kind;
    int n_out;        /* model outputs: classes, labels, 2*points, or 1 */
    void *impl;
    /* Statistics kept by next() (zero for loaders that have none): */
    double wait_s;    /* seconds next() spent waiting for data, all epochs */
    int n_skipped;    /* files skipped as bad (on_bad_item = skip), each listed once */
    char **skipped;   /* [n_skipped] "path: why it could not be read", owned by the loader */
    /* Data-parallel share (dist/dist.h; 0 and 0 or 1: the whole batch).  The
     * batches and their numbers stay the global ones (same order, same
     * n_batches); of each, next() gives only the items of slice shard_rank of
     * shard_size (dist_share), possibly none (Batch.n 0): a batch is then
     * given even when it holds no item, never left out, so every rank walks
     * the same batch numbers. */
    int shard_rank, shard_size;
};

static inline int  loaders_n_batches(const Loaders *l, int s) { return l->ops->n_batches(l, s); }
static inline int  loaders_n_items(const Loaders *l, int s) { return l->ops->n_items(l, s); }
static inline int  loaders_begin(Loaders *l, int s, int epoch, Err *e) { return l->ops->begin(l, s, epoch, 0, e); }
static inline int  loaders_begin_at(Loaders *l, int s, int epoch, int first, Err *e)
{
    return l->ops->begin(l, s, epoch, first, e);
}
static inline int  loaders_next(Loaders *l, Batch **b, Err *e) { return l->ops->next(l, b, e); }
static inline void loaders_free(Loaders *l) { if (l && l->ops) l->ops->free(l); }
/* Rank `rank`'s share of a batch of n items over `size` ranks: the contiguous
 * slice [*first, *first + *count), n/size items and one more for the first
 * n % size ranks (64 over 3: 22, 21, 21). */
static inline void loaders_share(int n, int rank, int size, int *first, int *count)
{
    int q = n / size, r = n % size;
    *count = q + (rank < r);
    *first = rank * q + (rank < r ? rank : r);
}
/* Take rank's share of every batch from the next begin on (see above). */
static inline void loaders_set_shard(Loaders *l, int rank, int size) { l->shard_rank = rank, l->shard_size = size; }

#endif
