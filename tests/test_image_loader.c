/* test_image_loader.c — src/data/image_loader: batches identical for any
 * number of worker threads, shuffling per epoch, drop_last, the short last
 * valid batch, skipped bad files, the decode cache, points scaled to [-1, 1]. */
#include "check_main.h"
#include "data/image_loader.h"
#include "testimg.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Fixture {
    char dir[512];
    Dataset ds;
} Fixture;

/* n_train + n_valid PNGs of varying sizes (item i: (30+i%7) x (20+i%5)), labels
 * i % 3, points (w/4, h/2) and (w-3, 2); `bad` lists items written as broken files. */
static void make_fixture(Fixture *f, int n_train, int n_valid, TargetKind kind, const int *bad, int n_bad)
{
    memset(f, 0, sizeof *f);
    tu_tmpdir(f->dir, sizeof f->dir);
    Dataset *ds = &f->ds;
    int n = n_train + n_valid;
    ds->kind = kind;
    ds->n_items = n;
    ds->paths = calloc(n, sizeof(char *));
    ds->n_vocab = 3;
    ds->vocab = calloc(3, sizeof(char *));
    for (int v = 0; v < 3; v++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", v);
        ds->vocab[v] = strdup(name);
    }
    ds->yi = calloc(n, sizeof(int32_t));
    ds->n_y = kind == TARGET_POINTS ? 4 : kind == TARGET_MULTI ? 3 : 0;
    ds->y = ds->n_y ? calloc((size_t)n * ds->n_y, sizeof(float)) : NULL;
    ds->train_idx = calloc(n_train + 1, sizeof(int32_t));
    ds->valid_idx = calloc(n_valid + 1, sizeof(int32_t));
    for (int i = 0; i < n; i++) {
        int w = 30 + i % 7, h = 20 + i % 5;
        char name[64], path[1024];
        snprintf(name, sizeof name, "img%03d.png", i);
        snprintf(path, sizeof path, "%s/%s", f->dir, name);
        int is_bad = 0;
        for (int b = 0; b < n_bad; b++) is_bad |= bad[b] == i;
        if (is_bad) {
            const char junk[] = "\x89PNG\r\n\x1a\n not really a png";
            tu_write(f->dir, name, junk, i % 2 ? sizeof junk - 1 : 0, path, sizeof path);
        } else {
            uint8_t *px = malloc((size_t)w * h * 3);
            for (int p = 0; p < w * h * 3; p++) px[p] = (uint8_t)(p * 7 + i * 31 + (p / 3 / w) * 13);
            ti_write_png(path, w, h, 3, px);
            free(px);
        }
        ds->paths[i] = strdup(path);
        ds->yi[i] = i % 3;
        if (kind == TARGET_POINTS) {
            ds->y[i * 4] = w / 4.0f, ds->y[i * 4 + 1] = h / 2.0f;
            ds->y[i * 4 + 2] = w - 3.0f, ds->y[i * 4 + 3] = 2.0f;
        } else if (kind == TARGET_MULTI) {
            ds->y[i * 3 + i % 3] = 1;
        }
    }
    /* interleave the splits: every third item is valid while valid items last */
    int t = 0, v = 0;
    for (int i = 0; i < n; i++) {
        if ((i % 3 == 2 && v < n_valid) || t == n_train)
            ds->valid_idx[v++] = i;
        else
            ds->train_idx[t++] = i;
    }
    ds->n_train = t, ds->n_valid = v;
}

static void free_fixture(Fixture *f)
{
    Dataset *ds = &f->ds;
    for (int i = 0; i < ds->n_items; i++) free(ds->paths[i]);
    for (int v = 0; v < ds->n_vocab; v++) free(ds->vocab[v]);
    free(ds->paths), free(ds->vocab), free(ds->yi), free(ds->y), free(ds->train_idx), free(ds->valid_idx);
    tu_rmtree(f->dir);
}

static ImageLoaderOpts base_opts(int workers)
{
    ImageLoaderOpts o;
    memset(&o, 0, sizeof o);
    o.bs = 4, o.val_bs = 4, o.n_workers = workers, o.channels = 3, o.seed = 42;
    o.item.n = 1, o.item.t[0] = (ItemTfm){.kind = ITFM_RRC, .h = 16, .w = 16, .min_scale = 0.35, .max_scale = 1, .ratio_lo = 0.75,
                       .ratio_hi = 4.0 / 3, .val_xtra = 0.14};
    batch_tfm_init(&o.batch);
    o.batch.aug = 1, o.batch.do_flip = 1, o.batch.max_rotate = 10, o.batch.min_zoom = 1, o.batch.max_zoom = 1.1;
    o.batch.max_lighting = 0.2, o.batch.max_warp = 0.2, o.batch.p_affine = 0.75, o.batch.p_lighting = 0.75;
    o.batch.size_w = 12, o.batch.size_h = 10;
    o.batch.normalize = 1;
    aug_stats("imagenet_stats", o.batch.mean, o.batch.std);
    return o;
}

/* Everything two epochs of both splits produce, appended to a byte buffer. */
typedef struct Bytes {
    unsigned char *p;
    size_t n, cap;
} Bytes;

static void put(Bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

/* One split of one epoch, begun at batch `first`, appended to out. */
static void put_epoch(Bytes *out, Loaders *l, int split, int epoch, int first)
{
    Err err = {0};
    ck_assert_int_eq(loaders_begin_at(l, split, epoch, first, &err), 0);
    Batch *b;
    int st;
    while ((st = loaders_next(l, &b, &err)) == 1) {
        put(out, &b->n, sizeof b->n);
        put(out, b->x, sizeof(float) * b->n * b->h * b->w * b->c);
        put(out, b->index, sizeof(int32_t) * b->n);
        if (b->yi) put(out, b->yi, sizeof(int32_t) * b->n);
        if (b->y) put(out, b->y, sizeof(float) * b->n * b->n_y);
    }
    ck_assert_msg(st == 0, "%s", err.msg);
}

static Bytes run_epochs(const ImageLoaderOpts *o, const Dataset *ds, int epochs)
{
    Bytes out = {0};
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, o, ds, &err) == 0, "%s", err.msg);
    for (int e = 0; e < epochs; e++)
        for (int split = 0; split < 2; split++) put_epoch(&out, l, split, e, 0);
    loaders_free(l);
    return out;
}

START_TEST(batches_are_bit_identical_for_1_2_and_4_workers)
{
    Fixture f;
    make_fixture(&f, 23, 9, TARGET_POINTS, NULL, 0);
    ImageLoaderOpts o = base_opts(1);
    Bytes one = run_epochs(&o, &f.ds, 2);
    ck_assert(one.n > 0);
    for (int w = 2; w <= 4; w += 2) {
        o = base_opts(w);
        o.prefetch = w == 4 ? 2 : 4;
        Bytes many = run_epochs(&o, &f.ds, 2);
        ck_assert_msg(many.n == one.n && !memcmp(many.p, one.p, one.n), "%d workers differ from 1", w);
        free(many.p);
    }
    /* the cache changes nothing either */
    o = base_opts(2);
    o.cache_bytes = 1 << 20;
    Bytes cached = run_epochs(&o, &f.ds, 2);
    ck_assert(cached.n == one.n && !memcmp(cached.p, one.p, one.n));
    /* and a different seed changes the training batches */
    o = base_opts(2);
    o.seed = 43;
    Bytes other = run_epochs(&o, &f.ds, 1);
    ck_assert(other.n != one.n || memcmp(other.p, one.p, other.n) != 0);
    free(one.p), free(cached.p), free(other.p);
    free_fixture(&f);
}
END_TEST

START_TEST(item_tfms_sequence_is_bit_identical_for_any_workers_and_sizes_the_batch)
{
    /* item_tfms = Resize(24), RandomResizedCrop(16, min_scale=0.75): random on
     * train (both steps draw), deterministic on valid; no batch size= so the
     * batch takes the last item transform's 16x16 */
    Fixture f;
    make_fixture(&f, 13, 6, TARGET_POINTS, NULL, 0);
    ImageLoaderOpts o = base_opts(1);
    o.item.n = 2;
    o.item.t[0] = (ItemTfm){.kind = ITFM_RESIZE, .h = 24, .w = 24, .method = RESIZE_CROP};
    o.item.t[1] = (ItemTfm){.kind = ITFM_RRC, .h = 16, .w = 16, .min_scale = 0.75, .max_scale = 1, .ratio_lo = 0.75,
                            .ratio_hi = 4.0 / 3, .val_xtra = 0.14};
    o.batch.size_w = o.batch.size_h = 0;
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ImageLoaderStats st;
    image_loaders_stats(l, &st);
    ck_assert_int_eq(st.w, 16); ck_assert_int_eq(st.h, 16);
    loaders_free(l);
    Bytes one = run_epochs(&o, &f.ds, 2);
    o.n_workers = 3;
    Bytes three = run_epochs(&o, &f.ds, 2);
    ck_assert(three.n == one.n && !memcmp(three.p, one.p, one.n));
    o.cache_bytes = 1 << 20;   /* train items cache the decoded image, valid ones the result */
    Bytes cached = run_epochs(&o, &f.ds, 2);
    ck_assert(cached.n == one.n && !memcmp(cached.p, one.p, one.n));
    /* the second step changes the result: without it the batch differs */
    o.item.n = 1;
    o.item.t[0].h = o.item.t[0].w = 16;
    Bytes single = run_epochs(&o, &f.ds, 1);
    ck_assert(single.n != one.n || memcmp(single.p, one.p, single.n) != 0);
    free(one.p), free(three.p), free(cached.p), free(single.p);
    free_fixture(&f);
}
END_TEST

/* A cache too small for the set holds what its budget allows (entries,
 * pixels and points counted), no more, and changes no batch. */
START_TEST(cache_stays_within_its_budget)
{
    Fixture f;
    make_fixture(&f, 24, 6, TARGET_POINTS, NULL, 0);
    ImageLoaderOpts o = base_opts(2);
    Bytes plain = run_epochs(&o, &f.ds, 2);
    o.cache_bytes = 6000;   /* a few decoded items of ~33x22x3 bytes */
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    Bytes cached = {0};
    for (int e = 0; e < 2; e++) put_epoch(&cached, l, SPLIT_TRAIN, e, 0), put_epoch(&cached, l, SPLIT_VALID, e, 0);
    ImageLoaderStats st;
    image_loaders_stats(l, &st);
    ck_assert_msg(st.cached_bytes <= o.cache_bytes && st.cached_items >= 2 && st.cached_items < 10,
                  "%d items, %zu bytes cached", st.cached_items, st.cached_bytes);
    ck_assert(cached.n == plain.n && !memcmp(cached.p, plain.p, plain.n));
    loaders_free(l);
    free(plain.p), free(cached.p);
    free_fixture(&f);
}
END_TEST

/* the train positions of each batch of one epoch */
static int epoch_order(Loaders *l, int epoch, int32_t *pos, int *sizes)
{
    Err err = {0};
    ck_assert_int_eq(loaders_begin(l, SPLIT_TRAIN, epoch, &err), 0);
    Batch *b;
    int n = 0, nb = 0;
    while (loaders_next(l, &b, &err) == 1) {
        memcpy(pos + n, b->index, sizeof(int32_t) * b->n);
        n += b->n;
        sizes[nb++] = b->n;
    }
    return n;
}

START_TEST(train_is_shuffled_per_epoch_with_drop_last)
{
    Fixture f;
    make_fixture(&f, 23, 9, TARGET_CATEGORY, NULL, 0);
    ImageLoaderOpts o = base_opts(2);
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_TRAIN), 5);   /* 23 / 4, the last 3 dropped */
    ck_assert_int_eq(loaders_n_items(l, SPLIT_TRAIN), 23);
    int32_t a[32], b[32];
    int sa[8], sb[8];
    ck_assert_int_eq(epoch_order(l, 0, a, sa), 20);
    ck_assert_int_eq(epoch_order(l, 1, b, sb), 20);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(sa[i], 4);
        ck_assert_int_eq(sb[i], 4);
    }
    ck_assert_msg(memcmp(a, b, sizeof(int32_t) * 20) != 0, "epochs 0 and 1 have the same order");
    int seen[23] = {0};
    for (int i = 0; i < 20; i++) ck_assert(a[i] >= 0 && a[i] < 23 && !seen[a[i]]++);
    /* the same epoch again gives the same order */
    ck_assert_int_eq(epoch_order(l, 1, a, sa), 20);
    ck_assert(!memcmp(a, b, sizeof(int32_t) * 20));
    /* labels follow their items */
    ck_assert_int_eq(loaders_begin(l, SPLIT_TRAIN, 3, &err), 0);
    Batch *bt;
    ck_assert_int_eq(loaders_next(l, &bt, &err), 1);
    for (int j = 0; j < bt->n; j++) ck_assert_int_eq(bt->yi[j], f.ds.yi[f.ds.train_idx[bt->index[j]]]);
    loaders_free(l);
    free_fixture(&f);
}
END_TEST

static Bytes epoch_from(Loaders *l, int split, int epoch, int first)
{
    Bytes out = {0};
    put_epoch(&out, l, split, epoch, first);
    return out;
}

START_TEST(an_epoch_begun_at_batch_k_gives_the_rest_of_the_full_epoch)
{
    /* a resumed epoch (learner.h): batches k.. of epoch 3, augmented, are the
     * bytes the full epoch gives after its first k batches (2 workers, ring
     * smaller than the epoch); k = n_batches gives nothing */
    Fixture f;
    make_fixture(&f, 29, 6, TARGET_CATEGORY, NULL, 0);
    ImageLoaderOpts o = base_opts(2);
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_TRAIN), 7);
    Bytes full = epoch_from(l, SPLIT_TRAIN, 3, 0);
    size_t per = full.n / 7;
    for (int k = 1; k <= 7; k++) {
        Bytes rest = epoch_from(l, SPLIT_TRAIN, 3, k);
        ck_assert_msg(rest.n == full.n - k * per && (!rest.n || !memcmp(rest.p, full.p + k * per, rest.n)),
                      "from batch %d", k);
        free(rest.p);
    }
    free(full.p);
    loaders_free(l);
    free_fixture(&f);
}
END_TEST

START_TEST(valid_is_in_order_with_a_short_last_batch)
{
    Fixture f;
    make_fixture(&f, 23, 9, TARGET_MULTI, NULL, 0);
    ImageLoaderOpts o = base_opts(3);
    o.val_bs = 4;
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_VALID), 3);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &err), 0);
    Batch *b;
    int sizes[3] = {4, 4, 1}, nb = 0, next = 0;
    while (loaders_next(l, &b, &err) == 1) {
        ck_assert_int_eq(b->n, sizes[nb++]);
        ck_assert_int_eq(b->h, 10); ck_assert_int_eq(b->w, 12); ck_assert_int_eq(b->c, 3);
        for (int j = 0; j < b->n; j++) {
            ck_assert_int_eq(b->index[j], next++);
            int item = f.ds.valid_idx[b->index[j]];
            ck_assert(!memcmp(b->y + j * 3, f.ds.y + item * 3, sizeof(float) * 3));
        }
    }
    ck_assert_int_eq(nb, 3);
    ck_assert_int_eq(loaders_next(l, &b, &err), 0);   /* stays at the end */
    loaders_free(l);
    free_fixture(&f);
}
END_TEST

START_TEST(batch_buffers_hold_at_most_the_split)
{
    /* val_bs far beyond the 3 validation items: one batch of 3, and the
     * loaders' capacity (which sizes their buffers and the model's) is the
     * larger split's batch, min(bs, n_train), not val_bs. */
    Fixture f;
    make_fixture(&f, 9, 3, TARGET_CATEGORY, NULL, 0);
    ImageLoaderOpts o = base_opts(2);
    o.bs = 4, o.val_bs = 65536;
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(l->max_batch, 4);
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_VALID), 1);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &err), 0);
    Batch *b;
    ck_assert_int_eq(loaders_next(l, &b, &err), 1);
    ck_assert_int_eq(b->n, 3);
    ck_assert_int_eq(loaders_next(l, &b, &err), 0);
    loaders_free(l);
    o.bs = 2, o.val_bs = 0;   /* val_bs = bs */
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(l->max_batch, 2);
    loaders_free(l);
    o.bs = 10;   /* more than the 9 training items: no full batch */
    ck_assert_int_eq(image_loaders_new_opts(&l, &o, &f.ds, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "bs: 10 is more than the 9 training items"), "%s", err.msg);
    free_fixture(&f);
}
END_TEST

START_TEST(skip_mode_lists_every_bad_file_once)
{
    Fixture f;
    const int bad[] = {4, 7, 11};   /* 4, 7: train (empty / junk), 11: valid */
    make_fixture(&f, 23, 9, TARGET_CATEGORY, bad, 3);
    ImageLoaderOpts o = base_opts(2);
    o.skip_bad = 1;
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    int total_train = 0;
    for (int e = 0; e < 3; e++)
        for (int split = 0; split < 2; split++) {
            ck_assert_int_eq(loaders_begin(l, split, e, &err), 0);
            Batch *b;
            int st, n = 0;
            while ((st = loaders_next(l, &b, &err)) == 1) {
                n += b->n;
                for (int j = 0; j < b->n; j++) {
                    int item = split ? f.ds.valid_idx[b->index[j]] : f.ds.train_idx[b->index[j]];
                    ck_assert(item != 4 && item != 7 && item != 11);
                }
            }
            ck_assert_msg(st == 0, "%s", err.msg);
            if (split == SPLIT_VALID) ck_assert_int_eq(n, 8);
            else total_train += n;
        }
    ck_assert_int_eq(l->n_skipped, 3);
    int found = 0;
    for (int i = 0; i < l->n_skipped; i++)
        for (int b = 0; b < 3; b++) {
            /* "path: reason": item 4 is an empty file, 7 and 11 a PNG signature and junk */
            size_t n = strlen(f.ds.paths[bad[b]]);
            if (strncmp(l->skipped[i], f.ds.paths[bad[b]], n) || strncmp(l->skipped[i] + n, ": ", 2)) continue;
            found++;
            const char *why = bad[b] == 4 ? "empty file" : "PNG";
            ck_assert_msg(strstr(l->skipped[i] + n, why), "%s lacks '%s'", l->skipped[i], why);
        }
    ck_assert_int_eq(found, 3);
    ck_assert(total_train <= 60 && total_train >= 60 - 2 * 3);
    loaders_free(l);

    /* fail mode: the error names the file */
    o.skip_bad = 0;
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &err), 0);
    Batch *b;
    int st;
    while ((st = loaders_next(l, &b, &err)) == 1) {
    }
    ck_assert_int_eq(st, -1);
    ck_assert_int_eq(err.code, ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "img011.png") != NULL, "message: %s", err.msg);
    loaders_free(l);
    free_fixture(&f);
}
END_TEST

/* The items of batch k of a train epoch (positions in the split) into pos. */
static int batch_items(Loaders *l, int epoch, int k, int32_t *pos)
{
    Err err = {0};
    Batch *b = NULL;
    ck_assert_int_eq(loaders_begin_at(l, SPLIT_TRAIN, epoch, k, &err), 0);
    ck_assert_int_eq(loaders_next(l, &b, &err), 1);
    ck_assert_int_eq(b->batch_no, k);
    memcpy(pos, b->index, sizeof(int32_t) * b->n);
    return b->n;
}

START_TEST(a_batch_of_only_bad_files_is_left_out_and_batch_no_says_so)
{
    /* skip mode, every file of batch 2 of epoch 1 broken: that epoch gives
     * batches 0, 1, 3, 4, 5 numbered so (the learner's position, learner.h),
     * each the same bytes as with readable files; an epoch begun at 2 starts
     * with batch 3; the other epochs lose those items one by one */
    Fixture f;
    make_fixture(&f, 24, 6, TARGET_CATEGORY, NULL, 0);
    ImageLoaderOpts o = base_opts(2);
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_TRAIN), 6);
    Bytes clean[6];
    for (int k = 0; k < 6; k++) {
        Bytes one = {0};
        ck_assert_int_eq(loaders_begin_at(l, SPLIT_TRAIN, 1, k, &err), 0);
        Batch *b;
        ck_assert_int_eq(loaders_next(l, &b, &err), 1);
        ck_assert_int_eq(b->batch_no, k);
        put(&one, b->x, sizeof(float) * b->n * b->h * b->w * b->c);
        put(&one, b->index, sizeof(int32_t) * b->n);
        clean[k] = one;
    }
    int32_t pos[8];
    int n = batch_items(l, 1, 2, pos);
    ck_assert_int_eq(n, 4);
    loaders_free(l);
    char path[1024];
    for (int j = 0; j < n; j++) {
        const char *name = strrchr(f.ds.paths[f.ds.train_idx[pos[j]]], '/') + 1;
        tu_write(f.dir, name, "not an image", 12, path, sizeof path);
    }
    o.skip_bad = 1;
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    for (int first = 0; first <= 3; first++) {
        ck_assert_int_eq(loaders_begin_at(l, SPLIT_TRAIN, 1, first, &err), 0);
        Batch *b;
        int st, want = first == 2 ? 3 : first;
        while ((st = loaders_next(l, &b, &err)) == 1) {
            ck_assert_int_eq(b->batch_no, want);
            ck_assert_int_eq(b->n, 4);
            Bytes one = {0};
            put(&one, b->x, sizeof(float) * b->n * b->h * b->w * b->c);
            put(&one, b->index, sizeof(int32_t) * b->n);
            ck_assert_msg(one.n == clean[want].n && !memcmp(one.p, clean[want].p, one.n), "batch %d", want);
            free(one.p);
            want += want == 1 ? 2 : 1;
        }
        ck_assert_msg(st == 0, "%s", err.msg);
        ck_assert_int_eq(want, 6);
    }
    ck_assert_int_eq(l->n_skipped, 4);
    /* epoch 0: the same items are spread over batches, which come shorter, none left out */
    ck_assert_int_eq(loaders_begin(l, SPLIT_TRAIN, 0, &err), 0);
    Batch *b;
    int k = 0, items = 0;
    while (loaders_next(l, &b, &err) == 1) {
        ck_assert_int_eq(b->batch_no, k++);
        items += b->n;
    }
    ck_assert_int_eq(items, 20);
    ck_assert_int_eq(k, 6);
    for (int i = 0; i < 6; i++) free(clean[i].p);
    loaders_free(l);
    free_fixture(&f);
}
END_TEST

START_TEST(cache_makes_the_second_epoch_decode_nothing)
{
    Fixture f;
    make_fixture(&f, 23, 9, TARGET_CATEGORY, NULL, 0);
    for (int variant = 0; variant < 2; variant++) {
        ImageLoaderOpts o = base_opts(2);
        /* random crop on train (decoded images cached), squish (final items cached) */
        o.item.n = 1, o.item.t[0] = (ItemTfm){.kind = ITFM_RESIZE, .h = 16, .w = 16,
                           .method = variant ? RESIZE_SQUISH : RESIZE_CROP};
        o.cache_bytes = 1 << 20;
        Loaders *l;
        Err err = {0};
        ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
        ImageLoaderStats st;
        long after[3];
        for (int e = 0; e < 3; e++) {
            for (int split = 0; split < 2; split++) {
                ck_assert_int_eq(loaders_begin(l, split, e, &err), 0);
                Batch *b;
                while (loaders_next(l, &b, &err) == 1) {
                }
            }
            image_loaders_stats(l, &st);
            after[e] = st.decodes;
        }
        /* the first epoch decodes what it sees (20 train + 9 valid, + the shape probe) */
        ck_assert_int_le(after[0], 32 + 1);
        ck_assert_int_ge(after[0], 29);
        /* train epochs see different subsets (drop_last): only unseen items decode */
        ck_assert_int_le(after[2] - after[0], 3);
        ck_assert_int_eq(st.cached_items, 32);
        /* an epoch after everything was seen decodes nothing */
        long before = after[2];
        ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 9, &err), 0);
        Batch *b;
        while (loaders_next(l, &b, &err) == 1) {
        }
        ck_assert_int_eq(loaders_begin(l, SPLIT_TRAIN, 9, &err), 0);
        while (loaders_next(l, &b, &err) == 1) {
        }
        image_loaders_stats(l, &st);
        ck_assert_int_eq(st.decodes, before);
        ck_assert_int_gt(st.cache_hits, 0);
        loaders_free(l);
    }
    /* no cache: every epoch decodes again */
    ImageLoaderOpts o = base_opts(2);
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ImageLoaderStats st;
    for (int e = 0; e < 2; e++) {
        ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, e, &err), 0);
        Batch *b;
        while (loaders_next(l, &b, &err) == 1) {
        }
    }
    image_loaders_stats(l, &st);
    ck_assert_int_eq(st.decodes, 18 + 1);
    loaders_free(l);
    free_fixture(&f);
}
END_TEST

START_TEST(points_are_scaled_to_minus_one_one_after_the_item_transform)
{
    Fixture f;
    make_fixture(&f, 4, 4, TARGET_POINTS, NULL, 0);
    ImageLoaderOpts o = base_opts(1);
    o.item.n = 1, o.item.t[0] = (ItemTfm){.kind = ITFM_RESIZE, .h = 10, .w = 20, .method = RESIZE_SQUISH};
    batch_tfm_init(&o.batch);
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(l->n_out, 4);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &err), 0);
    Batch *b;
    ck_assert_int_eq(loaders_next(l, &b, &err), 1);
    ck_assert_int_eq(b->kind, TARGET_POINTS); ck_assert_int_eq(b->n_y, 4);
    for (int j = 0; j < b->n; j++) {
        int item = f.ds.valid_idx[b->index[j]];
        int w = 30 + item % 7, h = 20 + item % 5;
        /* (w/4, h/2) → (-0.5, 0); (w-3, 2) → ((w-3)/w*2-1, 2/h*2-1): squish keeps relative positions */
        ck_assert_float_eq_tol(b->y[j * 4], -0.5f, 1e-5);
        ck_assert_float_eq_tol(b->y[j * 4 + 1], 0.0f, 1e-5);
        ck_assert_float_eq_tol(b->y[j * 4 + 2], (w - 3.0f) / w * 2 - 1, 1e-5);
        ck_assert_float_eq_tol(b->y[j * 4 + 3], 2.0f / h * 2 - 1, 1e-5);
    }
    ck_assert(l->wait_s >= 0);
    loaders_free(l);
    free_fixture(&f);
}
END_TEST


START_TEST(points_outside_the_image_are_kept_not_clamped)
{
    /* fastai keeps points that fall outside the image (issue 7): a negative
     * coordinate in the file, or one beyond the right edge, stays outside
     * [-1, 1] after the transforms. */
    Fixture f;
    make_fixture(&f, 4, 2, TARGET_POINTS, NULL, 0);
    for (int i = 0; i < f.ds.n_items; i++) {
        int w = 30 + i % 7;
        f.ds.y[i * 4 + 0] = -5, f.ds.y[i * 4 + 1] = -3;      /* above and left of the image */
        f.ds.y[i * 4 + 2] = (float)(w + 6), f.ds.y[i * 4 + 3] = 1;
    }
    ImageLoaderOpts o = base_opts(1);
    o.item.n = 1, o.item.t[0] = (ItemTfm){.kind = ITFM_RESIZE, .h = 10, .w = 20, .method = RESIZE_SQUISH};
    batch_tfm_init(&o.batch);
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &err), 0);
    Batch *b;
    ck_assert_int_eq(loaders_next(l, &b, &err), 1);
    for (int j = 0; j < b->n; j++) {
        int item = f.ds.valid_idx[b->index[j]];
        int w = 30 + item % 7, h = 20 + item % 5;
        ck_assert_float_eq_tol(b->y[j * 4], -5.0f / w * 2 - 1, 1e-5);
        ck_assert_float_eq_tol(b->y[j * 4 + 1], -3.0f / h * 2 - 1, 1e-5);
        ck_assert_float_eq_tol(b->y[j * 4 + 2], (w + 6.0f) / w * 2 - 1, 1e-5);
        ck_assert(b->y[j * 4] < -1 && b->y[j * 4 + 1] < -1 && b->y[j * 4 + 2] > 1);
    }
    loaders_free(l);
    free_fixture(&f);
}
END_TEST

START_TEST(points_far_outside_the_image_name_the_points_file_line)
{
    /* 1e30 (or a coordinate more than a whole image size beyond an edge) is
     * reported when the item is read, naming the points file's line; with
     * on_bad_item = skip the item is left out with that reason. */
    Fixture f;
    make_fixture(&f, 8, 4, TARGET_POINTS, NULL, 0);
    f.ds.y_file = strdup("centers.csv");
    f.ds.y_line = calloc((size_t)f.ds.n_items, sizeof(int));
    for (int i = 0; i < f.ds.n_items; i++) f.ds.y_line[i] = 10 + i;
    int far = f.ds.valid_idx[1], w = 30 + far % 7, h = 20 + far % 5;
    f.ds.y[far * 4 + 2] = 1e30f;
    ImageLoaderOpts o = base_opts(2);
    o.item.n = 1, o.item.t[0] = (ItemTfm){.kind = ITFM_RESIZE, .h = 10, .w = 20, .method = RESIZE_SQUISH};
    batch_tfm_init(&o.batch);
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &err), 0);
    Batch *b;
    ck_assert_int_eq(loaders_next(l, &b, &err), -1);
    char want[256];
    snprintf(want, sizeof want, "centers.csv:%d: %s: point 2 (1e+30, 2) is far outside the %dx%d image", 10 + far,
             f.ds.paths[far], w, h);
    ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
    ck_assert_int_eq(err.code, ERR_RUNTIME);
    loaders_free(l);
    /* just inside the bounds (an image size beyond the edges) is kept, as fastai keeps it */
    f.ds.y[far * 4 + 2] = 2.0f * w, f.ds.y[far * 4 + 3] = -(float)h;
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &err), 0);
    ck_assert_msg(loaders_next(l, &b, &err) == 1, "%s", err.msg);
    loaders_free(l);
    /* skip mode: left out, the reason kept */
    f.ds.y[far * 4 + 3] = -1.01f * h - 1;
    o.skip_bad = 1;
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &err), 0);
    int n = 0;
    while (loaders_next(l, &b, &err) == 1) n += b->n;
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(l->n_skipped, 1);
    ck_assert_msg(strstr(l->skipped[0], "is far outside the"), "%s", l->skipped[0]);
    loaders_free(l);
    free(f.ds.y_file), free(f.ds.y_line);
    free_fixture(&f);
}
END_TEST

START_TEST(normalize_without_stats_uses_one_training_batch)
{
    Fixture f;
    make_fixture(&f, 23, 9, TARGET_CATEGORY, NULL, 0);
    ImageLoaderOpts o = base_opts(2);
    o.batch.normalize = 1, o.batch.normalize_from_batch = 1;
    Loaders *l;
    Err err = {0};
    ck_assert_msg(image_loaders_new_opts(&l, &o, &f.ds, &err) == 0, "%s", err.msg);
    const BatchTfm *bt = image_loaders_batch_tfm(l);
    ck_assert(bt->normalize);
    ck_assert(bt->std[0] > 0.01f && bt->mean[0] > 0.05f && bt->mean[0] < 0.95f);
    /* the first training batch of epoch 0, normalised with its own statistics */
    ck_assert_int_eq(loaders_begin(l, SPLIT_TRAIN, 0, &err), 0);
    Batch *b;
    ck_assert_int_eq(loaders_next(l, &b, &err), 1);
    size_t n = (size_t)b->n * b->h * b->w;
    for (int k = 0; k < 3; k++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++) m += b->x[i * 3 + k];
        m /= n;
        for (size_t i = 0; i < n; i++) v += (b->x[i * 3 + k] - m) * (b->x[i * 3 + k] - m);
        v /= n - 1;
        ck_assert_msg(fabs(m) < 1e-4 && fabs(v - 1) < 1e-3, "channel %d: mean %g var %g", k, m, v);
    }
    loaders_free(l);
    free_fixture(&f);
}
END_TEST

/* `fastc summary` and `fastc show_batch` on a small folder tree. */
START_TEST(summary_and_show_batch_commands)
{
    char dir[512], path[1024], cfgtext[2048], cmd[4096], out[8192];
    tu_tmpdir(dir, sizeof dir);
    const char *classes[2] = {"cat", "dog"};
    for (int i = 0; i < 14; i++) {
        int w = 40 + i, h = 30 + i % 3;
        uint8_t *px = malloc((size_t)w * h * 3);
        for (int p = 0; p < w * h * 3; p++) px[p] = (uint8_t)(p * 5 + i * 40);
        snprintf(path, sizeof path, "%s/%s/%s/%02d.png", dir, i < 10 ? "train" : "valid", classes[i % 2], i);
        char sub[1024];
        snprintf(sub, sizeof sub, "mkdir -p '%s/%s/%s'", dir, i < 10 ? "train" : "valid", classes[i % 2]);
        ck_assert_int_eq(system(sub), 0);
        ti_write_png(path, w, h, 3, px);
        free(px);
    }
    snprintf(cfgtext, sizeof cfgtext,
             "[data]\npath = %s\nblocks = ImageBlock, CategoryBlock\nget_items = get_image_files\n"
             "get_y = parent_label\nsplitter = GrandparentSplitter(train_name='train', valid_name='valid')\n"
             "item_tfms = Resize(24)\nbatch_tfms = aug_transforms(size=16), Normalize.from_stats(imagenet_stats)\n"
             "bs = 4\n[model]\narch = resnet18\n[train]\nschedule = fit_one_cycle(1)\n[output]\ndir = %s/runs\n", dir, dir);
    char cfgpath[1024];
    tu_write(dir, "c.ini", cfgtext, strlen(cfgtext), cfgpath, sizeof cfgpath);
    snprintf(cmd, sizeof cmd, "%s summary '%s' 2>&1", tu_fastc(), cfgpath);
    int st = tu_run(cmd, out, sizeof out);
    ck_assert_msg(st == 0, "summary failed: %s", out);
    ck_assert_msg(strstr(out, "train: 10 items, 2 batches of 4") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "valid: 4 items, 1 batches of 4") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "vocab (2): cat, dog") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "x [4, 16, 16, 3] float32") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "dsets.train[0]: (PILImage mode=RGB size=40x30, TensorCategory(0))") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s show_batch '%s' --n 3 2>&1", tu_fastc(), cfgpath);
    st = tu_run(cmd, out, sizeof out);
    ck_assert_msg(st == 0, "show_batch failed: %s", out);
    snprintf(path, sizeof path, "%s/runs/show_batch.png", dir);
    size_t n = 0;
    uint8_t *png = ti_read_all(path, &n);
    ck_assert_msg(png && n > 100 && !memcmp(png + 1, "PNG", 3), "no PNG at %s", path);
    free(png);
    tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("image_loader");
    TCase *tc = tcase_create("image_loader");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, batches_are_bit_identical_for_1_2_and_4_workers);
    tcase_add_test(tc, item_tfms_sequence_is_bit_identical_for_any_workers_and_sizes_the_batch);
    tcase_add_test(tc, cache_stays_within_its_budget);
    tcase_add_test(tc, train_is_shuffled_per_epoch_with_drop_last);
    tcase_add_test(tc, an_epoch_begun_at_batch_k_gives_the_rest_of_the_full_epoch);
    tcase_add_test(tc, valid_is_in_order_with_a_short_last_batch);
    tcase_add_test(tc, batch_buffers_hold_at_most_the_split);
    tcase_add_test(tc, skip_mode_lists_every_bad_file_once);
    tcase_add_test(tc, a_batch_of_only_bad_files_is_left_out_and_batch_no_says_so);
    tcase_add_test(tc, cache_makes_the_second_epoch_decode_nothing);
    tcase_add_test(tc, points_are_scaled_to_minus_one_one_after_the_item_transform);
    tcase_add_test(tc, points_outside_the_image_are_kept_not_clamped);
    tcase_add_test(tc, points_far_outside_the_image_name_the_points_file_line);
    tcase_add_test(tc, normalize_without_stats_uses_one_training_batch);
    tcase_add_test(tc, summary_and_show_batch_commands);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
