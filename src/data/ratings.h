/* ratings.h — collaborative-filtering data: a ratings table (user, item,
 * rating) read from a delimited file, ids mapped to embedding indices, a
 * random row split, and the train/valid loaders (data/loader.h) over it.
 *
 * Reading: MovieLens 100k `u.data` (tab, no header: user item rating
 * timestamp, with csv_names), MovieLens latest `ratings.csv` (header
 * userId,movieId,rating,timestamp) or any delimited file; columns are picked
 * by name (CollabBlock(user=, item=, rating=)) or default to 0, 1, 2 as
 * fastai's CollabDataLoaders.from_df does.  Quoted fields ("a,b", "" escapes)
 * and CRLF line ends are accepted; blank lines are skipped.  A row with a
 * missing field or a rating that is not a finite number is an error naming
 * file:line.
 *
 * Ids → indices as fastai's Categorify: sorted unique values (numerically when
 * every id of the column is an integer, else byte-wise) with '#na#' inserted
 * at index 0 for unknown ids.  DIFFERENCE from fastai: the vocab is built from
 * ALL rows, not only the training rows, so an item (or user) that appears only
 * in the validation split still gets its own embedding row (it is never
 * trained by a gradient, but weight decay and Adam momentum apply to it as to
 * any row).  fastai maps such ids to '#na#' (fastai issue 1843).
 *
 * Titles: an optional item-names file maps item id → title for output.  Either
 * MovieLens 100k `u.item` ('|'-separated, no header, id|title|..., Latin-1) or
 * MovieLens latest `movies.csv` (',' with header movieId,title,genres and
 * quoted titles holding commas).  The format is detected from the first line
 * ('|' present → u.item layout; else ',' with a header, title column named
 * "title" or else the second one).  Text that is not valid UTF-8 is taken as
 * Latin-1 and converted to UTF-8.
 *
 * Split: RandomSplitter(valid_pct, seed) over rows: perm = a Fisher-Yates
 * permutation of 0..n-1 from core/rng (seed, stream "split"), cut =
 * (int)(valid_pct * n), valid = perm[:cut], train = perm[cut:] (fastai's
 * shape; the permutation is ours, not torch.randperm's).
 */
#ifndef FASTC_RATINGS_H
#define FASTC_RATINGS_H

#include "core/ctx.h"
#include "core/err.h"
#include "data/loader.h"

#include <stdint.h>

/* How to read a ratings file (the setup layer fills it from [data]). */
typedef struct RatingsSpec {
    const char *path;              /* the ratings file */
    char sep;                      /* field separator (',' or '\t' ...) */
    const char *const *names;      /* csv_names: column names, the file then has no header */
    int n_names;                   /* 0 → the first line is a header */
    const char *user_col;          /* column names; NULL → column 0 / 1 / 2 */
    const char *item_col;
    const char *rating_col;
    const char *item_names_path;   /* optional titles file, or NULL */
    double valid_pct;              /* RandomSplitter valid_pct */
    uint64_t split_seed;           /* RandomSplitter seed */
    const char *bs_at;             /* where bs comes from, to start a message about it (see
                                    * ImageLoaderOpts.bs_at); NULL: "[data] bs" */
} RatingsSpec;

typedef struct RatingsData {
    int64_t n;             /* rows */
    int32_t *user;         /* [n] user index, 1..n_users-1 */
    int32_t *item;         /* [n] item index, 1..n_items-1 */
    float *rating;         /* [n] */
    int n_users, n_items;  /* vocab sizes including '#na#' at 0 */
    char **user_ids;       /* [n_users] id strings, [0] = "#na#" */
    char **item_ids;       /* [n_items] */
    char **item_titles;    /* [n_items] UTF-8 title or NULL (no names file / id not in it) */
    int has_titles;        /* an item-names file was read */
    int32_t *item_count;   /* [n_items] ratings per item over all rows */
    int32_t *train_idx;    /* [n_train] row indices, in split order */
    int32_t *valid_idx;    /* [n_valid] */
    int64_t n_train, n_valid;
    int user_numeric;      /* every user id is an integer (vocab sorted numerically) */
    int item_numeric;
    char path[1024];       /* the ratings file, for messages */
} RatingsData;

/* Read, index and split.  Errors: ERR_RUNTIME for a missing/unreadable file or
 * a bad row (message "path:line: ..."), ERR_USAGE for a column name that is
 * not in the header. */
int  ratings_load(RatingsData **out, const RatingsSpec *spec, Err *err);
void ratings_free(RatingsData *d);   /* NULL-safe */

/* Index of a user id / item id string, or -1 when unknown.  For items a title
 * (exact match, e.g. "Star Wars (1977)") is accepted too. */
int  ratings_user_index(const RatingsData *d, const char *id);
int  ratings_item_index(const RatingsData *d, const char *id_or_title);
/* Title when known, else the id. */
const char *ratings_item_label(const RatingsData *d, int item);

/* Loaders over d (which the loaders own and free).  Train: shuffled per epoch
 * from (seed, epoch), drop_last; valid: in split order, last batch short. */
int ratings_loaders_from_data(Loaders **out, RatingsData *d, int bs, uint64_t seed, Err *err);
/* Validation batches of val_bs items instead of bs (fastai's val_bs). */
int ratings_loaders_set_val_bs(Loaders *l, int val_bs, Err *err);

/* Read spec and make its loaders: bs, val_bs (0: bs) and the shuffling
 * seed.  *data_out (optional) is borrowed: it lives as long as the loaders. */
int ratings_loaders_new(Loaders **out, const RatingsSpec *spec, int bs, int val_bs, uint64_t seed,
                        RatingsData **data_out, Err *err);

#endif
