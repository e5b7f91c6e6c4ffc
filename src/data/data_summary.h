/* data_summary.h — the data half of `fastc summary`: item counts per split,
 * batches, the vocab, one batch's shapes and the first training item as
 * fastai's `dsets.train[0]` prints it, for image and collab configs. */
#ifndef FASTC_DATA_SUMMARY_H
#define FASTC_DATA_SUMMARY_H

#include "core/err.h"

#include <stdio.h>

#include "data/datablock.h"
#include "data/image_loader.h"
#include "data/ratings.h"

/* Build the data of an image task (no training) and print its summary to out;
 * the loaders use one thread and no cache. */
int data_summary_image(FILE *out, const DbSpec *db, const ImageLoaderOpts *o, Err *err);
/* The same for collab ratings, with batches of bs (val_bs: 0 = bs). */
int data_summary_collab(FILE *out, const RatingsSpec *spec, int bs, int val_bs, uint64_t seed, Err *err);

#endif
