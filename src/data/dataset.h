/* dataset.h — the items of an image task after the data block ran: paths,
 * targets, vocab and the train/valid split.  Built from a DbSpec by
 * datablock_build_spec() (data/datablock.h); consumed by the loader,
 * interpretation and summary.
 *
 * Targets are kept raw here (points in the image's own pixels); the loader
 * moves and scales them with every transform.
 */
#ifndef FASTC_DATASET_H
#define FASTC_DATASET_H

#include "core/err.h"
#include "data/batch.h"
#include "data/items.h"

#include <stdint.h>

typedef struct Dataset {
    TargetKind kind;      /* TARGET_CATEGORY, TARGET_MULTI or TARGET_POINTS */
    int n_items;
    char **paths;         /* [n_items] absolute or config-relative-resolved file paths */
    StrList path_store;   /* datablock_build: the paths' storage, paths == path_store.v (items.h);
                             unused (zero) when each path is its own malloc'd string */
    /* vocab (category / multi-label): sorted unique labels of the training split */
    int n_vocab;
    char **vocab;
    /* targets, per item */
    int32_t *yi;          /* [n_items] class index (CATEGORY); -1 = label not in vocab */
    int n_y;              /* floats per item in y: n_vocab (MULTI), 2 * n_points (POINTS) */
    float *y;             /* [n_items, n_y]: multi-hot, or points x0,y0,x1,y1.. in pixels */
    char *y_file;         /* POINTS: the points file, and the line of each item's row in it, */
    int *y_line;          /* [n_items]   for messages (NULL when the points came from elsewhere) */
    /* split: indices into the item arrays, in item order */
    int32_t *train_idx;
    int n_train;
    int32_t *valid_idx;
    int n_valid;
    /* items left out by `on_bad_item = skip` ("path: reason"), for the run to report */
    int n_skipped;
    char **skipped;
} Dataset;

void dataset_free(Dataset *ds);   /* NULL-safe; zeroes the struct */

#endif
