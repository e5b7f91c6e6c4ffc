/* data_summary.h — the data half of `fastc summary`: item counts per split,
 * batches, the vocab, one batch's shapes and the first training item as
 * fastai's `dsets.train[0]` prints it, for image and collab configs.
 * data_summary_image / _collab gather it (building the data, no training);
 * it is then printed as text or as JSON. */
#ifndef FASTC_DATA_SUMMARY_H
#define FASTC_DATA_SUMMARY_H

#include "core/err.h"
#include "data/datablock.h"
#include "data/image_loader.h"
#include "data/ratings.h"
#include "io/json.h"

#include <stdint.h>
#include <stdio.h>

typedef struct DataSummary {
    int collab;
    const char *kind;          /* "TensorCategory", "TensorMultiCategory", "TensorPoint", "collab" */
    int64_t n_items, n_train, n_valid;   /* items (ratings for collab) */
    int batches[2], bs[2];     /* per split: train, valid */
    char **vocab;              /* image tasks other than points (owned) */
    int n_vocab;
    int n_points;              /* points per item (TensorPoint) */
    int n_users, n_items_vocab; /* collab: ids, '#na#' included */
    int x_shape[4];            /* images: bs, h, w, c (NHWC) */
    int n_y;                   /* floats per item in y (not CATEGORY) */
    char first[512];           /* dsets.train[0] as fastai prints it ("" when none) */
    int n_skipped;             /* items left out while building the data */
} DataSummary;

/* Build the data of an image task (the loaders on one thread, no cache) and
 * fill s. */
int  data_summary_image(DataSummary *s, const DbSpec *db, const ImageLoaderOpts *o, Err *err);
/* The same for collab ratings, with batches of bs (val_bs: 0 = bs). */
int  data_summary_collab(DataSummary *s, const RatingsSpec *spec, int bs, int val_bs, uint64_t seed, Err *err);
void data_summary_free(DataSummary *s);   /* NULL-safe */
void data_summary_print(FILE *out, const DataSummary *s);
/* One JSON object: {"kind", "items", "train", "valid", "batches": {"train",
 * "valid"}, "bs": {...}, "vocab": [...], "points_per_item", "users", "items_vocab",
 * "batch": {"x": [bs, h, w, c], "y": [...]}, "first_item", "skipped"}. */
void data_summary_json(JsonBuf *b, const DataSummary *s);

#endif
