/* image_loader.c — the image DataLoaders: worker threads, prefetch ring,
 * decoded-item cache, skip list.  See image_loader.h.
 *
 * Threading: one mutex guards the epoch state.  Items of an epoch are claimed
 * in order (item k goes to batch k/bs, slot k%bs); a worker only claims an item
 * whose batch fits in the ring (batch < released + ring size), processes it
 * without the lock, writing only its own slot of the batch, and counts it
 * done under the lock.  next() waits until its batch is complete.  Each
 * item's result depends only on (seed, epoch, item), never on which thread or
 * when, so the batches are bit-identical for any number of workers. */
#include "data/image_loader.h"

#include "data/decode.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { STAGE_NONE = 0, STAGE_DECODED, STAGE_FINAL };

/* RNG purposes (the stream of rng_make): */
enum { PURPOSE_SHUFFLE = 1, PURPOSE_ITEM_TFM = 2, PURPOSE_BATCH_TFM = 3 };

typedef struct CacheEntry {
    int stage;               /* STAGE_*: what img holds */
    Image img;
    float *pts;              /* points at that stage (pixels of img) */
} CacheEntry;

typedef struct Slot {
    Batch b;
    int32_t *index;          /* [bs] */
    uint8_t *bad;            /* [bs] */
    int batch_no;            /* batch of the current epoch it holds, -1 = none */
    int n_items, n_done;
    int status;              /* first error status among its items (fail mode) */
    Err err;
} Slot;

typedef struct Worker {
    struct ImageLoaders *il;
    pthread_t thread;
    TfmScratch tfm;
    AugScratch aug;
    ImageBuf item;           /* after the item transforms */
    ImageBuf stage[2];       /* between item transforms */
    float *pts;              /* [n_pts * 2] */
} Worker;

typedef struct ImageLoaders {
    Loaders base;
    ImageLoaderOpts o;
    const Dataset *ds;
    int h, w, c;             /* batch image shape */
    int n_pts;
    /* epoch */
    int split, epoch, bs_cur, n_batches_cur, total_items;
    int stride;              /* claims per batch: bs_cur, or the largest share of one (sharded) */
    int32_t *order;          /* [max split size] positions in the split */
    int next_item, released, next_batch, holding, in_flight, active;
    int ring;
    Slot *slots;
    /* threads */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv, idle_cv;
    int quit;
    Worker *workers;
    int n_workers, n_started;
    /* cache and bad files */
    CacheEntry **cache;      /* [n_items] NULL: not cached (cache_put) */
    size_t cache_used;
    uint8_t *bad_known;      /* [n_items] set by workers */
    char **bad_reason;       /* [n_items] "path: what is wrong", set by the worker that found it */
    uint8_t *listed;         /* [n_items] consumer-side: already in skipped */
    atomic_long decodes, cache_hits;
    int cached_items;
} ImageLoaders;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int split_size(const ImageLoaders *il, int split)
{
    return split == SPLIT_TRAIN ? il->ds->n_train : il->ds->n_valid;
}

static int split_bs(const ImageLoaders *il, int split)
{
    return split == SPLIT_TRAIN ? il->o.bs : (il->o.val_bs > 0 ? il->o.val_bs : il->o.bs);
}

static int il_n_items(const Loaders *l, int split) { return split_size(l->impl, split); }

static int il_n_batches(const Loaders *l, int split)
{
    const ImageLoaders *il = l->impl;
    int n = split_size(il, split), bs = split_bs(il, split);
    return split == SPLIT_TRAIN ? n / bs : (n + bs - 1) / bs;
}

/* ---- one item -------------------------------------------------------------- */

static size_t image_bytes(const Image *im) { return (size_t)im->w * im->h * im->c; }

/* Try to keep a copy of img (and its points) in the cache, budget permitting:
 * one block holding the entry, its pixels and points, all counted against
 * cache_bytes.  The per-item index is one pointer (8 bytes an item), so a
 * million items cost 8 MB of index whatever is cached, and the rest of the
 * cache stays within the budget. */
static void cache_put(ImageLoaders *il, int item, int stage, const Image *img, const float *pts)
{
    size_t px = image_bytes(img), pt = sizeof(float) * 2 * il->n_pts, bytes = sizeof(CacheEntry) + px + pt;
    if (!il->cache || il->o.cache_bytes == 0) return;
    pthread_mutex_lock(&il->mu);
    int ok = il->cache_used + bytes <= il->o.cache_bytes;
    if (ok) il->cache_used += bytes, il->cached_items++;
    pthread_mutex_unlock(&il->mu);
    if (!ok) return;
    CacheEntry *e = malloc(bytes);
    if (!e) {
        pthread_mutex_lock(&il->mu);
        il->cache_used -= bytes, il->cached_items--;
        pthread_mutex_unlock(&il->mu);
        return;
    }
    e->img = *img;   /* the points first, aligned after the entry, then the pixels */
    e->pts = il->n_pts ? (float *)(e + 1) : NULL;
    e->img.px = (uint8_t *)(e + 1) + pt;
    memcpy(e->img.px, img->px, px);
    if (il->n_pts) memcpy(e->pts, pts, pt);
    e->stage = stage;
    /* an item is in the hands of one worker at a time, and epochs are apart
     * under the loader's lock: the pointer is published to later readers */
    il->cache[item] = e;
}

/* The points of an item against its image (w x h pixels), once it is read:
 * fastai keeps points a little outside the image (a crop moves them out), but
 * one more than a whole image width or height beyond its edges is a typo or a
 * wrong unit (1e30 trains into infinities, blamed on the learning rate), so it
 * is reported naming the points file's line. */
static int check_points(const Dataset *ds, int item, const float *pts, int n_pts, int w, int h, Err *err)
{
    for (int i = 0; i < n_pts; i++) {
        float x = pts[2 * i], y = pts[2 * i + 1];
        if (x >= -(float)w && x <= 2.0f * w && y >= -(float)h && y <= 2.0f * h) continue;
        char where[4200] = "";
        if (ds->y_file && ds->y_line) snprintf(where, sizeof where, "%s:%d: ", ds->y_file, ds->y_line[item]);
        return err_set(err, ERR_RUNTIME,
                       "%s%s: point %d (%g, %g) is far outside the %dx%d image (expected pixels from %d to %d "
                       "across, %d to %d down: the image, or at most its size beyond an edge)",
                       where, ds->paths[item], i + 1, x, y, w, h, -w, 2 * w, -h, 2 * h);
    }
    return 0;
}

/* Decode (or fetch) item and run the item transform into wk->item, points in wk->pts. */
static int item_stage(ImageLoaders *il, Worker *wk, int item, int train, int epoch, int use_cache, Err *err)
{
    const Dataset *ds = il->ds;
    const ItemTfms *it = &il->o.item;
    int random = item_tfms_is_random(it, train);
    Rng r = rng_make(rng_hash(il->o.seed, (uint64_t)epoch, (uint64_t)item), PURPOSE_ITEM_TFM);
    int can_cache = il->cache && use_cache;
    CacheEntry *e = can_cache ? il->cache[item] : NULL;
    if (e && e->stage == STAGE_FINAL) {
        atomic_fetch_add(&il->cache_hits, 1);
        if (image_buf_reserve(&wk->item, e->img.w, e->img.h, e->img.c, err)) return err->code;
        memcpy(wk->item.img.px, e->img.px, image_bytes(&e->img));
        if (il->n_pts) memcpy(wk->pts, e->pts, sizeof(float) * 2 * il->n_pts);
        return 0;
    }
    if (il->n_pts) memcpy(wk->pts, ds->y + (size_t)item * ds->n_y, sizeof(float) * 2 * il->n_pts);
    Image dec = {0};
    const Image *src;
    if (e && e->stage == STAGE_DECODED) {
        atomic_fetch_add(&il->cache_hits, 1);
        src = &e->img;
        if (il->n_pts) memcpy(wk->pts, e->pts, sizeof(float) * 2 * il->n_pts);
    } else {
        int mw, mh, ow, oh;
        item_tfms_decode_hint(it, train, &mw, &mh);
        atomic_fetch_add(&il->decodes, 1);
        if (image_decode_file(ds->paths[item], il->c, mw, mh, &dec, &ow, &oh, err)) return err->code;
        if (il->n_pts && check_points(ds, item, wk->pts, il->n_pts, ow, oh, err)) {
            image_free(&dec);
            return err->code;
        }
        if (il->n_pts && (dec.w != ow || dec.h != oh))   /* decoded with DCT scaling */
            for (int i = 0; i < il->n_pts; i++) {
                wk->pts[2 * i] *= (float)dec.w / ow;
                wk->pts[2 * i + 1] *= (float)dec.h / oh;
            }
        src = &dec;
        if (random && can_cache) cache_put(il, item, STAGE_DECODED, &dec, wk->pts);
    }
    int st = item_tfms_apply(it, src, train, &r, &wk->item, wk->stage, wk->pts, il->n_pts, &wk->tfm, err);
    if (st) {
        image_free(&dec);
        return err_prefix(err, "%s: ", ds->paths[item]);
    }
    if (!random && can_cache && !e) cache_put(il, item, STAGE_FINAL, &wk->item.img, wk->pts);
    image_free(&dec);
    return 0;
}

/* The whole pipeline for position `pos` of the epoch's order, into slot s at j. */
static int process_item(ImageLoaders *il, Worker *wk, int split, int epoch, int pos, Slot *s, int j, Err *err)
{
    const Dataset *ds = il->ds;
    int train = split == SPLIT_TRAIN;
    int item = train ? ds->train_idx[pos] : ds->valid_idx[pos];
    s->index[j] = pos;
    if (il->bad_known[item]) return -1;
    if (item_stage(il, wk, item, train, epoch, 1, err)) return err->code;
    const Image *im = &wk->item.img;
    int ow, oh;
    batch_tfm_out_size(&il->o.batch, im->w, im->h, &ow, &oh);
    if (ow != il->w || oh != il->h)
        return err_set(err, ERR_RUNTIME, "%s: item is %dx%d after the item transform, the batch is %dx%d: "
                       "add an item transform such as Resize(%d)", ds->paths[item], ow, oh, il->w, il->h, il->w);
    /* points to [-1, 1] (fastai's PointScaler, on the item-transformed image) */
    for (int i = 0; i < il->n_pts; i++) {
        wk->pts[2 * i] = wk->pts[2 * i] / im->w * 2 - 1;
        wk->pts[2 * i + 1] = wk->pts[2 * i + 1] / im->h * 2 - 1;
    }
    AugDraw d;
    Rng r = rng_make(rng_hash(il->o.seed, (uint64_t)epoch, (uint64_t)item), PURPOSE_BATCH_TFM);
    batch_tfm_draw(&il->o.batch, im->w, im->h, train, &r, &d);
    float *x = s->b.x + (size_t)j * il->h * il->w * il->c;
    if (batch_tfm_apply(&il->o.batch, &d, im, train, x, il->w, il->h, wk->pts, il->n_pts, &wk->aug))
        return err_set(err, ERR_RUNTIME, "%s: out of memory in the batch transforms", ds->paths[item]);
    switch (ds->kind) {
    case TARGET_CATEGORY: s->b.yi[j] = ds->yi[item]; break;
    case TARGET_POINTS: memcpy(s->b.y + (size_t)j * ds->n_y, wk->pts, sizeof(float) * ds->n_y); break;
    default: memcpy(s->b.y + (size_t)j * ds->n_y, ds->y + (size_t)item * ds->n_y, sizeof(float) * ds->n_y); break;
    }
    return 0;
}

/* ---- threads ---------------------------------------------------------------- */

/* The items of batch b this loader makes: [first, first + count) of the
 * batch's own positions (the whole batch unless sharded: loader.h). */
static void batch_share(const ImageLoaders *il, int b, int *first, int *count)
{
    int left = il->total_items - b * il->bs_cur, n = left < il->bs_cur ? left : il->bs_cur;
    if (il->base.shard_size > 1) loaders_share(n, il->base.shard_rank, il->base.shard_size, first, count);
    else *first = 0, *count = n;
}

static void *worker_main(void *arg)
{
    Worker *wk = arg;
    ImageLoaders *il = wk->il;
    pthread_mutex_lock(&il->mu);
    for (;;) {
        while (!il->quit && !(il->active && il->next_item < il->n_batches_cur * il->stride &&
                              il->next_item / il->stride < il->released + il->ring))
            pthread_cond_wait(&il->work_cv, &il->mu);
        if (il->quit) break;
        int k = il->next_item++, b = k / il->stride, j = k % il->stride, first, count;
        batch_share(il, b, &first, &count);
        Slot *s = &il->slots[b % il->ring];
        if (j == 0) {
            s->batch_no = b;
            s->n_items = count;
            s->n_done = 0;
            s->status = 0;
            if (count == 0) pthread_cond_broadcast(&il->done_cv);   /* an empty share is complete */
        }
        if (j >= count) continue;   /* a shorter share than the stride: no item in this slot */
        int split = il->split, epoch = il->epoch, pos = il->order[b * il->bs_cur + first + j];
        il->in_flight++;
        pthread_mutex_unlock(&il->mu);

        Err err = {0};
        int st = process_item(il, wk, split, epoch, pos, s, j, &err);
        int item = split == SPLIT_TRAIN ? il->ds->train_idx[pos] : il->ds->valid_idx[pos];
        s->bad[j] = st != 0;
        if (st > 0 && il->o.skip_bad) {
            /* one worker at a time holds an item; next() reads this after the
             * slot is done, under the lock, so it sees the write */
            if (!il->bad_reason[item]) il->bad_reason[item] = strdup(err.msg);
            il->bad_known[item] = 1;
        }

        pthread_mutex_lock(&il->mu);
        if (st > 0 && !il->o.skip_bad && (s->status == 0)) {
            s->status = st;
            s->err = err;
        }
        il->in_flight--;
        if (++s->n_done == s->n_items) pthread_cond_broadcast(&il->done_cv);
        if (il->in_flight == 0) pthread_cond_broadcast(&il->idle_cv);
    }
    pthread_mutex_unlock(&il->mu);
    return NULL;
}

/* Stop the current epoch: no new claims, wait for items in flight. Lock held. */
static void quiesce(ImageLoaders *il)
{
    il->active = 0;
    while (il->in_flight > 0) pthread_cond_wait(&il->idle_cv, &il->mu);
}

static int il_begin(Loaders *l, int split, int epoch, int first, Err *err)
{
    ImageLoaders *il = l->impl;
    pthread_mutex_lock(&il->mu);
    quiesce(il);
    int n = split_size(il, split);
    il->split = split, il->epoch = epoch;
    il->bs_cur = split_bs(il, split);
    il->n_batches_cur = il_n_batches(l, split);
    il->total_items = split == SPLIT_TRAIN ? il->n_batches_cur * il->bs_cur : n;
    int shards = il->base.shard_size > 1 ? il->base.shard_size : 1;
    il->stride = (il->bs_cur + shards - 1) / shards;
    for (int i = 0; i < n; i++) il->order[i] = i;
    if (split == SPLIT_TRAIN) {
        Rng r = rng_make(rng_hash(il->o.seed, (uint64_t)epoch, 0), PURPOSE_SHUFFLE);
        rng_shuffle_i32(&r, il->order, n);
    }
    for (int i = 0; i < il->ring; i++) il->slots[i].batch_no = -1;
    if (first < 0) first = 0;
    if (first > il->n_batches_cur) first = il->n_batches_cur;
    /* a resumed epoch: the workers start claiming at the first item of batch `first` */
    il->next_item = first * il->stride, il->released = first, il->next_batch = first, il->holding = 0;
    il->active = 1;
    pthread_cond_broadcast(&il->work_cv);
    pthread_mutex_unlock(&il->mu);
    (void)err;
    return 0;
}

/* The next batch as il_next gives it, or 2 when every item of it was bad. */
static int next_batch(Loaders *l, Batch **out, Err *err)
{
    ImageLoaders *il = l->impl;
    pthread_mutex_lock(&il->mu);
    if (il->holding) {
        il->holding = 0;
        il->released++;
        pthread_cond_broadcast(&il->work_cv);
    }
    if (!il->active || il->next_batch >= il->n_batches_cur) {
        pthread_mutex_unlock(&il->mu);
        return 0;
    }
    Slot *s = &il->slots[il->next_batch % il->ring];
    double t0 = now_s();
    while (!(s->batch_no == il->next_batch && s->n_done == s->n_items)) pthread_cond_wait(&il->done_cv, &il->mu);
    l->wait_s += now_s() - t0;
    s->b.batch_no = il->next_batch++;
    il->holding = 1;
    int status = s->status;
    if (status) *err = s->err;
    pthread_mutex_unlock(&il->mu);
    if (status) return -1;

    /* drop bad items (skip mode), keeping the order of the others */
    const Dataset *ds = il->ds;
    int n = 0;
    size_t px = (size_t)il->h * il->w * il->c;
    for (int j = 0; j < s->n_items; j++) {
        if (s->bad[j]) {
            int item = il->split == SPLIT_TRAIN ? ds->train_idx[s->index[j]] : ds->valid_idx[s->index[j]];
            if (!il->listed[item]) {
                char **grown = realloc(l->skipped, sizeof(char *) * (l->n_skipped + 1));
                char *line = strdup(il->bad_reason[item] ? il->bad_reason[item] : ds->paths[item]);
                if (grown) l->skipped = grown;
                if (grown && line) {
                    l->skipped[l->n_skipped++] = line;
                    il->listed[item] = 1;
                } else {
                    free(line);
                }
            }
            continue;
        }
        if (n != j) {
            memmove(s->b.x + n * px, s->b.x + j * px, sizeof(float) * px);
            s->index[n] = s->index[j];
            if (s->b.yi) s->b.yi[n] = s->b.yi[j];
            if (s->b.y) memmove(s->b.y + (size_t)n * ds->n_y, s->b.y + (size_t)j * ds->n_y, sizeof(float) * ds->n_y);
        }
        n++;
    }
    s->b.n = n;
    if (n == 0 && l->shard_size <= 1) return 2;   /* sharded: given anyway (loader.h) */
    *out = &s->b;
    return 1;
}

static int il_next(Loaders *l, Batch **out, Err *err)
{
    int st;
    while ((st = next_batch(l, out, err)) == 2) {   /* every item was bad: the batch is left out */
    }
    return st;
}

static void il_free(Loaders *l)
{
    if (!l) return;
    ImageLoaders *il = l->impl;
    pthread_mutex_lock(&il->mu);
    quiesce(il);
    il->quit = 1;
    pthread_cond_broadcast(&il->work_cv);
    pthread_mutex_unlock(&il->mu);
    for (int i = 0; i < il->n_started; i++) pthread_join(il->workers[i].thread, NULL);
    for (int i = 0; il->workers && i < il->n_workers; i++) {
        tfm_scratch_free(&il->workers[i].tfm);
        aug_scratch_free(&il->workers[i].aug);
        image_buf_free(&il->workers[i].item);
        image_buf_free(&il->workers[i].stage[0]);
        image_buf_free(&il->workers[i].stage[1]);
        free(il->workers[i].pts);
    }
    free(il->workers);
    for (int i = 0; il->slots && i < il->ring; i++) {
        Slot *s = &il->slots[i];
        free(s->b.x), free(s->b.yi), free(s->b.y), free(s->index), free(s->bad);
    }
    free(il->slots);
    if (il->cache)
        for (int i = 0; i < il->ds->n_items; i++) free(il->cache[i]);
    free(il->cache);
    for (int i = 0; il->bad_reason && i < il->ds->n_items; i++) free(il->bad_reason[i]);
    free(il->bad_known), free(il->bad_reason), free(il->listed), free(il->order);
    for (int i = 0; i < l->n_skipped; i++) free(l->skipped[i]);
    free(l->skipped);
    pthread_mutex_destroy(&il->mu);
    pthread_cond_destroy(&il->work_cv);
    pthread_cond_destroy(&il->done_cv);
    pthread_cond_destroy(&il->idle_cv);
    free(il);
}

static const LoadersOps IMAGE_LOADER_OPS = {
    .n_batches = il_n_batches,
    .n_items = il_n_items,
    .begin = il_begin,
    .next = il_next,
    .free = il_free,
};

/* ---- construction ------------------------------------------------------------ */

/* The batch shape: the first item of the train (else valid) split that decodes. */
static int probe_shape(ImageLoaders *il, Err *err)
{
    Worker *wk = &il->workers[0];
    const Dataset *ds = il->ds;
    Err first = {0};
    for (int split = 0; split < 2; split++) {
        int n = split_size(il, split);
        for (int p = 0; p < n; p++) {
            int item = split == SPLIT_TRAIN ? ds->train_idx[p] : ds->valid_idx[p];
            Err e = {0};
            /* the valid-mode (deterministic) transform gives the shape of every item */
            if (item_stage(il, wk, item, 0, 0, 0, &e)) {
                if (!il->o.skip_bad) return err_set(err, e.code, "%s", e.msg);
                if (!first.code) first = e;
                continue;
            }
            batch_tfm_out_size(&il->o.batch, wk->item.img.w, wk->item.img.h, &il->w, &il->h);
            return 0;
        }
    }
    if (first.code) return err_set(err, ERR_RUNTIME, "no item could be read; the first failure: %s", first.msg);
    return err_set(err, ERR_USAGE, "the dataset has no items");
}

/* fastai's Normalize() without stats: the per-channel mean and (unbiased)
 * std + 1e-7 of the first training batch of epoch 0, augmented but not normalised. */
static int stats_from_one_batch(ImageLoaders *il, Err *err)
{
    Loaders *l = &il->base;
    int split = il->ds->n_train >= il->o.bs ? SPLIT_TRAIN : SPLIT_VALID;
    Batch *b;
    int st = il_begin(l, split, 0, 0, err);
    if (!st) st = il_next(l, &b, err);
    if (st < 0) return err->code;
    if (st == 0) return err_set(err, ERR_USAGE, "Normalize(): no batch to compute the statistics from");
    int c = il->c;
    double sum[4] = {0}, sq[4] = {0};
    size_t n = (size_t)b->n * b->h * b->w;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < c; k++) sum[k] += b->x[i * c + k];
    for (int k = 0; k < c; k++) sum[k] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            double d = b->x[i * c + k] - sum[k];
            sq[k] += d * d;
        }
    pthread_mutex_lock(&il->mu);
    quiesce(il);   /* no worker reads the options while they change */
    for (int k = 0; k < 3; k++) {
        int kk = k < c ? k : 0;
        il->o.batch.mean[k] = (float)sum[kk];
        il->o.batch.std[k] = (float)(sqrt(n > 1 ? sq[kk] / (double)(n - 1) : 0) + 1e-7);
    }
    il->o.batch.normalize = 1;
    il->holding = 0;
    pthread_mutex_unlock(&il->mu);
    return 0;
}

/* The most items a batch can hold: a batch size beyond its split's size is
 * only that split in one batch. */
static int batch_capacity(const ImageLoaderOpts *o, const Dataset *ds)
{
    int vbs = o->val_bs > 0 ? o->val_bs : o->bs;
    int t = o->bs < ds->n_train ? o->bs : ds->n_train, v = vbs < ds->n_valid ? vbs : ds->n_valid;
    int m = t > v ? t : v;
    return m > 0 ? m : 1;
}

/* Long because it checks the options, allocates every buffer of the loaders
 * once (order, bad-item lists, cache, worker scratch, ring slots) and starts
 * the workers, each a line or two, with one path out on failure. */
int image_loaders_new_opts(Loaders **out, const ImageLoaderOpts *o, const Dataset *ds, Err *err)
{
    *out = NULL;
    if (o->bs < 1) return err_set(err, ERR_USAGE, "[data] bs: expected a positive integer, found %d", o->bs);
    if (o->val_bs < 0) return err_set(err, ERR_USAGE, "[data] val_bs: expected a positive integer, found %d", o->val_bs);
    if (o->channels != 1 && o->channels != 3)
        return err_set(err, ERR_USAGE, "[model] n_in: expected 1 or 3 channels, found %d", o->channels);
    if (ds->n_train > 0 && ds->n_train < o->bs)   /* before any buffer is sized by bs */
        return err_set(err, ERR_USAGE, "%s: %d is more than the %d training items (batches drop the "
                       "last partial one, so there would be none)", o->bs_at ? o->bs_at : "[data] bs", o->bs,
                       ds->n_train);
    ImageLoaders *il = calloc(1, sizeof *il);
    if (!il) return err_set(err, ERR_RUNTIME, "out of memory");
    il->o = *o;
    il->ds = ds;
    il->c = o->channels;
    il->n_pts = ds->kind == TARGET_POINTS ? ds->n_y / 2 : 0;
    il->ring = o->prefetch > 0 ? o->prefetch : 3;
    il->n_workers = o->n_workers > 0 ? o->n_workers : 1;
    il->base.ops = &IMAGE_LOADER_OPS;
    il->base.bs = o->bs;
    il->base.max_batch = batch_capacity(o, ds);
    il->base.kind = ds->kind;
    il->base.n_out = ds->kind == TARGET_CATEGORY || ds->kind == TARGET_MULTI ? ds->n_vocab : ds->n_y;
    il->base.impl = il;
    pthread_mutex_init(&il->mu, NULL);
    pthread_cond_init(&il->work_cv, NULL);
    pthread_cond_init(&il->done_cv, NULL);
    pthread_cond_init(&il->idle_cv, NULL);
    int n_max = ds->n_train > ds->n_valid ? ds->n_train : ds->n_valid;
    il->order = calloc((size_t)n_max + 1, sizeof(int32_t));
    il->bad_known = calloc((size_t)ds->n_items + 1, 1);
    il->bad_reason = calloc((size_t)ds->n_items + 1, sizeof(char *));
    il->listed = calloc((size_t)ds->n_items + 1, 1);
    il->cache = o->cache_bytes ? calloc((size_t)ds->n_items + 1, sizeof(CacheEntry *)) : NULL;
    il->workers = calloc((size_t)il->n_workers, sizeof(Worker));
    il->slots = calloc((size_t)il->ring, sizeof(Slot));
    if (!il->order || !il->bad_known || !il->bad_reason || !il->listed || (o->cache_bytes && !il->cache) || !il->workers || !il->slots)
        goto oom;
    for (int i = 0; i < il->n_workers; i++) {
        il->workers[i].il = il;
        il->workers[i].pts = calloc((size_t)il->n_pts * 2 + 2, sizeof(float));
        if (!il->workers[i].pts) goto oom;
    }
    int st = probe_shape(il, err);
    if (st) {
        il_free(&il->base);
        return st;
    }
    int bs_max = il->base.max_batch;
    size_t px = (size_t)il->h * il->w * il->c;
    for (int i = 0; i < il->ring; i++) {
        Slot *s = &il->slots[i];
        s->batch_no = -1;
        s->b.h = il->h, s->b.w = il->w, s->b.c = il->c;
        s->b.kind = ds->kind;
        s->b.n_y = ds->kind == TARGET_CATEGORY ? 1 : ds->n_y;
        s->b.x = malloc(sizeof(float) * px * bs_max);
        s->index = calloc((size_t)bs_max, sizeof(int32_t));
        s->bad = calloc((size_t)bs_max, 1);
        if (ds->kind == TARGET_CATEGORY)
            s->b.yi = calloc((size_t)bs_max, sizeof(int32_t));
        else
            s->b.y = calloc((size_t)bs_max * (ds->n_y > 0 ? ds->n_y : 1), sizeof(float));
        s->b.index = s->index;
        if (!s->b.x || !s->index || !s->bad || (!s->b.yi && !s->b.y)) goto oom;
    }
    if (il->o.batch.normalize_from_batch) il->o.batch.normalize = 0;
    for (int i = 0; i < il->n_workers; i++)
        if (pthread_create(&il->workers[i].thread, NULL, worker_main, &il->workers[i])) {
            il_free(&il->base);
            return err_set(err, ERR_RUNTIME, "cannot start loader thread %d", i);
        } else {
            il->n_started++;
        }
    if (il->o.batch.normalize_from_batch && (st = stats_from_one_batch(il, err))) {
        il_free(&il->base);
        return st;
    }
    *out = &il->base;
    return 0;
oom:
    il_free(&il->base);
    return err_set(err, ERR_RUNTIME, "out of memory creating the image loaders");
}

void image_loaders_stats(const Loaders *l, ImageLoaderStats *st)
{
    ImageLoaders *il = l->impl;
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&il->mu);
    st->cached_items = il->cached_items;
    st->cached_bytes = il->cache_used;
    pthread_mutex_unlock(&il->mu);
    st->decodes = atomic_load(&il->decodes);
    st->cache_hits = atomic_load(&il->cache_hits);
    st->h = il->h, st->w = il->w, st->c = il->c;
}

const BatchTfm *image_loaders_batch_tfm(const Loaders *l) { return &((const ImageLoaders *)l->impl)->o.batch; }

int image_item_describe(const Dataset *ds, int channels, char *buf, size_t cap, Err *err)
{
    if (ds->n_train < 1) return err_set(err, ERR_USAGE, "the training split is empty");
    int item = ds->train_idx[0];
    Image im = {0};
    int ow, oh;
    if (image_decode_file(ds->paths[item], channels, 0, 0, &im, &ow, &oh, err)) return err->code;
    image_free(&im);
    int n = snprintf(buf, cap, "(%s size=%dx%d, ", channels == 1 ? "PILImageBW mode=L" : "PILImage mode=RGB", ow, oh);
    if (n < 0 || (size_t)n >= cap) return 0;
    char *p = buf + n;
    size_t left = cap - n;
    if (ds->kind == TARGET_CATEGORY) {
        snprintf(p, left, "TensorCategory(%d))", ds->yi[item]);
    } else if (ds->kind == TARGET_MULTI) {
        int k = snprintf(p, left, "TensorMultiCategory([");
        int first = 1;
        for (int v = 0; v < ds->n_y && k > 0 && (size_t)k < left; v++)
            if (ds->y[(size_t)item * ds->n_y + v] != 0) {
                k += snprintf(p + k, left - k, "%s%d", first ? "" : ", ", v);
                first = 0;
            }
        if (k > 0 && (size_t)k < left) snprintf(p + k, left - k, "]))");
    } else {
        int k = snprintf(p, left, "TensorPoint([");
        for (int i = 0; i < ds->n_y / 2 && k > 0 && (size_t)k < left; i++)
            k += snprintf(p + k, left - k, "%s[%.4f, %.4f]", i ? ", " : "", ds->y[(size_t)item * ds->n_y + 2 * i],
                          ds->y[(size_t)item * ds->n_y + 2 * i + 1]);
        if (k > 0 && (size_t)k < left) snprintf(p + k, left - k, "]))");
    }
    return 0;
}
