/* ratings.c — the collab ratings table, its vocabularies, split and loaders.
 * See ratings.h for the behaviour; this file holds the delimited-record reader,
 * the id interning/sorting and the Loaders implementation. */
#include "data/ratings.h"

#include "core/rng.h"
#include "core/utf8.h"
#include "data/csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RNG_STREAM_SPLIT = 0x53504c4954ULL, RNG_STREAM_SHUFFLE = 0x53485546ULL };

/* ---- id interning -------------------------------------------------------- */

typedef struct Intern {
    char **strs;        /* [n] in first-seen order */
    int n, cap;
    int32_t *slot;      /* open addressing: index into strs or -1 */
    size_t nslot;
} Intern;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void intern_init(Intern *t)
{
    memset(t, 0, sizeof *t);
    t->nslot = 1024;
    t->slot = malloc(sizeof(int32_t) * t->nslot);
    memset(t->slot, 0xff, sizeof(int32_t) * t->nslot);
}

static void intern_free(Intern *t)
{
    for (int i = 0; i < t->n; i++) free(t->strs[i]);
    free(t->strs), free(t->slot);
}

static int intern_add(Intern *t, const char *s)
{
    size_t mask = t->nslot - 1, i = hash_str(s) & mask;
    while (t->slot[i] >= 0) {
        if (strcmp(t->strs[t->slot[i]], s) == 0) return t->slot[i];
        i = (i + 1) & mask;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->strs = realloc(t->strs, sizeof(char *) * (size_t)t->cap);
    }
    t->strs[t->n] = strdup(s);
    t->slot[i] = t->n;
    int id = t->n++;
    if ((size_t)t->n * 2 > t->nslot) {   /* grow and rehash */
        free(t->slot);
        t->nslot *= 2;
        t->slot = malloc(sizeof(int32_t) * t->nslot);
        memset(t->slot, 0xff, sizeof(int32_t) * t->nslot);
        mask = t->nslot - 1;
        for (int k = 0; k < t->n; k++) {
            size_t j = hash_str(t->strs[k]) & mask;
            while (t->slot[j] >= 0) j = (j + 1) & mask;
            t->slot[j] = k;
        }
    }
    return id;
}

/* Whether s is an integer (optional sign, digits, surrounding blanks), and its value. */
static int parse_int(const char *s, long long *v)
{
    char *e;
    errno = 0;
    long long x = strtoll(s, &e, 10);
    if (e == s || errno) return 0;
    while (*e == ' ' || *e == '\t') e++;
    if (*e) return 0;
    *v = x;
    return 1;
}

typedef struct SortKey {
    long long num;
    const char *s;
    int id;
} SortKey;

static int cmp_num(const void *a, const void *b)
{
    const SortKey *x = a, *y = b;
    if (x->num != y->num) return x->num < y->num ? -1 : 1;
    return strcmp(x->s, y->s);   /* "01" vs "1": distinct strings, same number */
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(((const SortKey *)a)->s, ((const SortKey *)b)->s);
}

/* Categorify: vocab = ['#na#'] + sorted unique; remap[tmp id] = final index. */
static char **build_vocab(Intern *t, int32_t *remap, int *numeric)
{
    SortKey *k = malloc(sizeof(SortKey) * (size_t)(t->n ? t->n : 1));
    int all_int = 1;
    for (int i = 0; i < t->n; i++) {
        k[i].s = t->strs[i], k[i].id = i;
        if (all_int && !parse_int(t->strs[i], &k[i].num)) all_int = 0;
    }
    qsort(k, (size_t)t->n, sizeof(SortKey), all_int ? cmp_num : cmp_str);
    *numeric = all_int;
    char **vocab = malloc(sizeof(char *) * (size_t)(t->n + 1));
    vocab[0] = strdup("#na#");
    for (int i = 0; i < t->n; i++) {
        remap[k[i].id] = i + 1;
        vocab[i + 1] = strdup(k[i].s);
    }
    free(k);
    return vocab;
}

/* ---- loading -------------------------------------------------------------- */

static int read_titles(RatingsData *d, const char *path, Err *err)
{
    /* Sniff the layout and encoding from the bytes: '|' on the first line →
     * u.item (no header); not valid UTF-8 → Latin-1. */
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, ERR_RUNTIME, "%s: cannot open item names: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (size_t r; (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    const unsigned char *nl = memchr(buf, '\n', n);
    int pipe = memchr(buf, '|', nl ? (size_t)(nl - buf) : n) != NULL;
    int utf8 = utf8_valid((const char *)buf, n, NULL);
    CsvOptions o = {.sep = pipe ? '|' : ',', .header = !pipe, .latin1 = !utf8};
    CsvTable t;
    int rc = csv_parse((const char *)buf, n, path, &o, &t, err);
    free(buf);
    if (rc) return rc;
    int id_col = 0, title_col = t.names && csv_col(&t, "title") >= 0 ? csv_col(&t, "title") : 1;
    if (t.n_cols <= title_col) {
        rc = err_set(err, ERR_RUNTIME, "%s: expected an id and a title column, found %d column%s", path,
                     t.n_cols, t.n_cols == 1 ? "" : "s");
        csv_free(&t);
        return rc;
    }
    d->item_titles = calloc((size_t)d->n_items, sizeof(char *));
    d->has_titles = 1;
    for (int r = 0; r < t.n_rows; r++) {
        int idx = ratings_item_index(d, csv_cell(&t, r, id_col));
        if (idx <= 0 || d->item_titles[idx]) continue;   /* not rated, or a repeated id */
        d->item_titles[idx] = strdup(csv_cell(&t, r, title_col));
    }
    csv_free(&t);
    return 0;
}

static void split_rows(RatingsData *d, double valid_pct, uint64_t seed)
{
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)(d->n ? d->n : 1));
    for (int64_t i = 0; i < d->n; i++) perm[i] = (int32_t)i;
    Rng r = rng_make(seed, RNG_STREAM_SPLIT);
    rng_shuffle_i32(&r, perm, d->n);
    int64_t cut = (int64_t)(valid_pct * (double)d->n);
    if (cut < 0) cut = 0;
    if (cut > d->n) cut = d->n;
    d->n_valid = cut, d->n_train = d->n - cut;
    d->valid_idx = malloc(sizeof(int32_t) * (size_t)(cut ? cut : 1));
    d->train_idx = malloc(sizeof(int32_t) * (size_t)(d->n_train ? d->n_train : 1));
    memcpy(d->valid_idx, perm, sizeof(int32_t) * (size_t)cut);
    memcpy(d->train_idx, perm + cut, sizeof(int32_t) * (size_t)d->n_train);
    free(perm);
}

int ratings_load(RatingsData **out, const RatingsSpec *spec, Err *err)
{
    *out = NULL;
    if (!(spec->valid_pct >= 0 && spec->valid_pct < 1))
        return err_set(err, ERR_USAGE, "RandomSplitter: valid_pct %g: expected 0 <= valid_pct < 1",
                       spec->valid_pct);
    CsvOptions o = {.sep = spec->sep, .header = spec->n_names == 0, .names = spec->names,
                    .n_names = spec->n_names};
    CsvTable t;
    int rc = csv_read(spec->path, &o, &t, err);
    if (rc) return rc;
    int col[3];
    const char *want[3] = {spec->user_col, spec->item_col, spec->rating_col};
    for (int k = 0; k < 3 && !rc; k++) {
        if (want[k]) rc = csv_require_col(&t, want[k], &col[k], err);
        else if (k >= t.n_cols)
            rc = err_set(err, ERR_RUNTIME, "%s: %d column%s (separated by '%s'): expected at least 3 "
                         "(user, item, rating)", spec->path, t.n_cols, t.n_cols == 1 ? "" : "s",
                         spec->sep == '\t' ? "\\t" : (char[2]){spec->sep, 0});
        else col[k] = k;
    }
    if (!rc && t.n_rows == 0) rc = err_set(err, ERR_RUNTIME, "%s: no ratings", spec->path);
    if (rc) { csv_free(&t); return rc; }

    RatingsData *d = calloc(1, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", spec->path);
    Intern users, items;
    intern_init(&users), intern_init(&items);
    d->n = t.n_rows;
    d->user = malloc(sizeof(int32_t) * (size_t)d->n);
    d->item = malloc(sizeof(int32_t) * (size_t)d->n);
    d->rating = malloc(sizeof(float) * (size_t)d->n);
    for (int64_t i = 0; i < d->n && !rc; i++) {
        const char *us = csv_cell(&t, (int)i, col[0]), *is = csv_cell(&t, (int)i, col[1]);
        const char *rs = csv_cell(&t, (int)i, col[2]);
        const char *what = !*us ? "user" : !*is ? "item" : !*rs ? "rating" : NULL;
        if (what) {
            rc = err_set(err, ERR_RUNTIME, "%s:%d: missing %s (empty field)", spec->path, t.lines[i], what);
            break;
        }
        char *e;
        double v = strtod(rs, &e);
        while (*e == ' ') e++;
        if (e == rs || *e || !isfinite(v)) {
            rc = err_set(err, ERR_RUNTIME, "%s:%d: rating '%s' is not a number", spec->path, t.lines[i], rs);
            break;
        }
        d->user[i] = intern_add(&users, us);
        d->item[i] = intern_add(&items, is);
        d->rating[i] = (float)v;
    }
    csv_free(&t);
    if (rc) { intern_free(&users), intern_free(&items), ratings_free(d); return rc; }

    int32_t *ur = malloc(sizeof(int32_t) * (size_t)users.n), *ir = malloc(sizeof(int32_t) * (size_t)items.n);
    d->user_ids = build_vocab(&users, ur, &d->user_numeric);
    d->item_ids = build_vocab(&items, ir, &d->item_numeric);
    d->n_users = users.n + 1, d->n_items = items.n + 1;
    d->item_count = calloc((size_t)d->n_items, sizeof(int32_t));
    for (int64_t i = 0; i < d->n; i++) {
        d->user[i] = ur[d->user[i]];
        d->item[i] = ir[d->item[i]];
        d->item_count[d->item[i]]++;
    }
    free(ur), free(ir);
    intern_free(&users), intern_free(&items);
    split_rows(d, spec->valid_pct, spec->split_seed);
    if (spec->item_names_path) {
        rc = read_titles(d, spec->item_names_path, err);
        if (rc) { ratings_free(d); return rc; }
    }
    *out = d;
    return 0;
}

void ratings_free(RatingsData *d)
{
    if (!d) return;
    for (int i = 0; d->user_ids && i < d->n_users; i++) free(d->user_ids[i]);
    for (int i = 0; d->item_ids && i < d->n_items; i++) free(d->item_ids[i]);
    for (int i = 0; d->item_titles && i < d->n_items; i++) free(d->item_titles[i]);
    free(d->user_ids), free(d->item_ids), free(d->item_titles);
    free(d->user), free(d->item), free(d->rating), free(d->item_count);
    free(d->train_idx), free(d->valid_idx);
    free(d);
}

/* Binary search in a Categorify vocab (index 1.. sorted numerically or byte-wise). */
static int vocab_index(char *const *vocab, int n, int num, const char *id)
{
    int lo = 1, hi = n - 1;
    if (num) {
        long long v;
        if (!parse_int(id, &v)) return -1;
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            long long m = 0;
            parse_int(vocab[mid], &m);
            if (m == v) {
                /* equal numbers written differently ("01"): scan neighbours */
                for (int k = mid; k >= 1 && parse_int(vocab[k], &m) && m == v; k--)
                    if (strcmp(vocab[k], id) == 0) return k;
                for (int k = mid + 1; k < n && parse_int(vocab[k], &m) && m == v; k++)
                    if (strcmp(vocab[k], id) == 0) return k;
                return -1;
            }
            if (m < v) lo = mid + 1; else hi = mid - 1;
        }
        return -1;
    }
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(vocab[mid], id);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

int ratings_user_index(const RatingsData *d, const char *id)
{
    return vocab_index(d->user_ids, d->n_users, d->user_numeric, id);
}

int ratings_item_index(const RatingsData *d, const char *s)
{
    int i = vocab_index(d->item_ids, d->n_items, d->item_numeric, s);
    if (i >= 0 || !d->item_titles) return i;
    for (int k = 1; k < d->n_items; k++)
        if (d->item_titles[k] && strcmp(d->item_titles[k], s) == 0) return k;
    return -1;
}

const char *ratings_item_label(const RatingsData *d, int item)
{
    if (d->item_titles && d->item_titles[item]) return d->item_titles[item];
    return d->item_ids[item];
}

/* ---- loaders --------------------------------------------------------------- */

typedef struct RatingsLoaders {
    Loaders base;
    RatingsData *d;
    uint64_t seed;
    int32_t *order;      /* [max(n_train, n_valid)] rows of the current epoch */
    int64_t n_order, pos;
    int split;
    int val_bs;          /* validation batch size ([data] val_bs, default bs) */
    int n_batches_left;
    Batch batch;
    int32_t *user, *item, *index;   /* [bs] */
    float *y;                        /* [bs] */
} RatingsLoaders;

static int rl_n_batches(const Loaders *l, int split)
{
    const RatingsLoaders *r = l->impl;
    if (split == SPLIT_TRAIN) return (int)(r->d->n_train / l->bs);
    return (int)((r->d->n_valid + r->val_bs - 1) / r->val_bs);
}

static int rl_n_items(const Loaders *l, int split)
{
    const RatingsLoaders *r = l->impl;
    return (int)(split == SPLIT_TRAIN ? r->d->n_train : r->d->n_valid);
}

static int rl_begin(Loaders *l, int split, int epoch, int first, Err *err)
{
    RatingsLoaders *r = l->impl;
    r->split = split;
    r->pos = 0;
    if (split == SPLIT_TRAIN) {
        /* positions 0..n_train-1 into train_idx, shuffled by (seed, epoch) */
        r->n_order = r->d->n_train;
        for (int64_t i = 0; i < r->n_order; i++) r->order[i] = (int32_t)i;
        Rng g = rng_make(r->seed, RNG_STREAM_SHUFFLE + (uint64_t)epoch * 0x100000001ULL);
        rng_shuffle_i32(&g, r->order, r->n_order);
    } else {
        r->n_order = r->d->n_valid;
        for (int64_t i = 0; i < r->n_order; i++) r->order[i] = (int32_t)i;
    }
    r->n_batches_left = rl_n_batches(l, split);
    if (first > r->n_batches_left) first = r->n_batches_left;
    if (first > 0) {   /* a resumed epoch: batches before `first` are skipped */
        r->n_batches_left -= first;
        r->pos = (int64_t)first * (split == SPLIT_TRAIN ? l->bs : r->val_bs);
    }
    return 0;
}

static int rl_next(Loaders *l, Batch **b, Err *err)
{
    RatingsLoaders *r = l->impl;
    if (r->n_batches_left <= 0) return 0;
    r->n_batches_left--;
    int64_t left = r->n_order - r->pos;
    int bs = r->split == SPLIT_TRAIN ? l->bs : r->val_bs;
    int n = left < bs ? (int)left : bs, first = 0, count = n;
    if (l->shard_size > 1) loaders_share(n, l->shard_rank, l->shard_size, &first, &count);   /* loader.h */
    const int32_t *rows = r->split == SPLIT_TRAIN ? r->d->train_idx : r->d->valid_idx;
    for (int i = 0; i < count; i++) {
        int32_t k = r->order[r->pos + first + i], row = rows[k];
        r->user[i] = r->d->user[row];
        r->item[i] = r->d->item[row];
        r->y[i] = r->d->rating[row];
        r->index[i] = k;
    }
    r->pos += n;
    r->batch.n = count;
    r->batch.batch_no = rl_n_batches(l, r->split) - r->n_batches_left - 1;
    *b = &r->batch;
    return 1;
}

static void rl_free(Loaders *l)
{
    RatingsLoaders *r = l->impl;
    ratings_free(r->d);
    free(r->order), free(r->user), free(r->item), free(r->index), free(r->y);
    free(r);
}

static const LoadersOps RATINGS_LOADER_OPS = {rl_n_batches, rl_n_items, rl_begin, rl_next, rl_free};

/* The most rows a batch of either split holds: a batch size beyond a split's
 * size is that split in one batch, and costs no more memory than it. */
static int rl_capacity(const RatingsData *d, int bs, int val_bs)
{
    int64_t t = bs < d->n_train ? bs : d->n_train, v = val_bs < d->n_valid ? val_bs : d->n_valid;
    int64_t m = t > v ? t : v;
    return m > 0 ? (int)m : 1;
}

/* Batch buffers for `cap` rows (grown only). */
static int rl_reserve(RatingsLoaders *r, int cap)
{
    if (cap <= r->base.max_batch) return 0;
    size_t n = (size_t)cap;
    int32_t *u = realloc(r->user, sizeof(int32_t) * n);
    if (u) r->user = u;
    int32_t *i = realloc(r->item, sizeof(int32_t) * n);
    if (i) r->item = i;
    int32_t *x = realloc(r->index, sizeof(int32_t) * n);
    if (x) r->index = x;
    float *y = realloc(r->y, sizeof(float) * n);
    if (y) r->y = y;
    r->batch.user = r->user, r->batch.item = r->item, r->batch.y = r->y, r->batch.index = r->index;
    if (!u || !i || !x || !y) return -1;
    r->base.max_batch = cap;
    return 0;
}

int ratings_loaders_from_data(Loaders **out, RatingsData *d, int bs, uint64_t seed, Err *err)
{
    *out = NULL;
    if (bs < 1) { ratings_free(d); return err_set(err, ERR_USAGE, "[data] bs: %d: expected >= 1", bs); }
    if (d->n_train > 0 && d->n_train < bs) {
        int64_t n = d->n_train;
        ratings_free(d);
        return err_set(err, ERR_USAGE, "[data] bs: %d is more than the %lld training rows (batches drop the "
                       "last partial one, so there would be none)", bs, (long long)n);
    }
    RatingsLoaders *r = calloc(1, sizeof *r);
    if (!r) { ratings_free(d); return err_set(err, ERR_RUNTIME, "ratings loader: out of memory"); }
    r->d = d, r->seed = seed, r->val_bs = bs;
    int64_t m = d->n_train > d->n_valid ? d->n_train : d->n_valid;
    r->order = malloc(sizeof(int32_t) * (size_t)(m ? m : 1));
    r->batch.kind = TARGET_RATING;
    r->batch.n_y = 1;
    r->base.ops = &RATINGS_LOADER_OPS;
    r->base.bs = bs;
    r->base.kind = TARGET_RATING;
    r->base.n_out = 1;
    r->base.impl = r;
    if (!r->order || rl_reserve(r, rl_capacity(d, bs, bs))) {
        rl_free(&r->base);
        return err_set(err, ERR_RUNTIME, "ratings loader: out of memory");
    }
    *out = &r->base;
    return 0;
}

int ratings_loaders_set_val_bs(Loaders *l, int val_bs, Err *err)
{
    RatingsLoaders *r = l->impl;
    if (val_bs < 1) return err_set(err, ERR_USAGE, "[data] val_bs: %d: expected >= 1", val_bs);
    if (rl_reserve(r, rl_capacity(r->d, l->bs, val_bs))) return err_set(err, ERR_RUNTIME, "ratings loader: out of memory");
    r->val_bs = val_bs;
    return 0;
}

int ratings_loaders_new(Loaders **out, const RatingsSpec *spec, int bs, int val_bs, uint64_t seed,
                        RatingsData **data_out, Err *err)
{
    *out = NULL;
    if (data_out) *data_out = NULL;
    RatingsData *d;
    int rc = ratings_load(&d, spec, err);
    if (rc) return rc;
    if (spec->bs_at && d->n_train > 0 && d->n_train < bs) {   /* the message with its location */
        int64_t n = d->n_train;
        ratings_free(d);
        return err_set(err, ERR_USAGE, "%s: %d is more than the %lld training rows (batches drop the last "
                       "partial one, so there would be none)", spec->bs_at, bs, (long long)n);
    }
    if ((rc = ratings_loaders_from_data(out, d, bs, seed, err))) return rc;
    if (val_bs > 0 && (rc = ratings_loaders_set_val_bs(*out, val_bs, err))) {
        loaders_free(*out);
        *out = NULL;
        return rc;
    }
    if (data_out) *data_out = d;
    return 0;
}
