/* batch.h — what the data loader hands the learner, for every task.
 *
 * Images are float32 NHWC (channels last), already normalised.  Targets depend
 * on the task; unused pointers are NULL.  Buffers are owned by the loader and
 * stay valid until the next loader call that produces a batch.  It lives in
 * core/ because the loaders (data/) fill it and the models (models/) and the
 * learner read it: below them all, so no layer includes one above it.
 */
#ifndef FASTC_CORE_BATCH_H
#define FASTC_CORE_BATCH_H

#include <stdint.h>

typedef enum TargetKind {
    TARGET_CATEGORY,  /* yi[n]: class index into the vocab */
    TARGET_MULTI,     /* y[n * n_y]: one-hot over the vocab (0/1) */
    TARGET_POINTS,    /* y[n * n_y]: x0,y0,x1,y1,... scaled to [-1, 1] */
    TARGET_RATING     /* y[n]: rating (n_y = 1) */
} TargetKind;

typedef struct Batch {
    int n;                 /* items in this batch (<= bs) */
    /* image input */
    int h, w, c;
    float *x;              /* [n, h, w, c] */
    /* collaborative filtering input */
    int32_t *user, *item;  /* [n] embedding indices */
    /* targets */
    TargetKind kind;
    int n_y;               /* floats per item in y */
    int32_t *yi;           /* [n] (TARGET_CATEGORY) */
    float *y;              /* [n, n_y] (other kinds) */
    const int32_t *index;  /* [n] index of each item in its split (for interpretation) */
    int batch_no;          /* this batch's number in its epoch (0 .. n_batches-1, in the order the
                              loader makes them): the train loop's position in the epoch.  A loader
                              may leave a batch out (image_loader.h: every item unreadable), so the
                              numbers it gives can jump, never go back. */
} Batch;

#endif
