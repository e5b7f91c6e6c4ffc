/* datasets.h — `fastc get`: known datasets materialised as folders of images
 * (documented in data/README.md).
 *
 * Each dataset is built in DIR.partial and renamed to DIR when complete, with
 * a marker file (DIR/.fastc-dataset) saying what it holds; a DIR holding the
 * same marker is reused as is, so `fastc get` is idempotent and a killed run
 * never leaves a half-made DIR behind.  Images are written on `threads`
 * threads; the result does not depend on the thread count.
 */
#ifndef FASTC_DATASETS_H
#define FASTC_DATASETS_H

#include "core/err.h"

#include <stdint.h>

/* Where Debian's dataset-fashion-mnist package puts the files. */
#define DATASETS_FASHION_MNIST_SRC "/usr/share/datasets/fashion-mnist"

/* The ten classes in label order, as folder names. */
extern const char *const datasets_fashion_classes[10];

/* Fashion-MNIST from src_dir's {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
 * into dir/train/<class>/<i>.png and dir/valid/<class>/<i>.png (valid = the
 * official test set; i = the image's index in its file), 28x28 grayscale.
 * *reused = 1 when dir was already complete.  limit > 0 keeps only the first
 * `limit` images of each file (tests). */
int datasets_fashion_mnist(const char *src_dir, const char *dir, int limit, int threads, int *reused, Err *err);

/* The synthetic shapes dataset: n images (JPEG and PNG, 96-200 px a side)
 * with 1-4 non-overlapping coloured shapes each (circle, cross, square,
 * triangle) in dir/images/, dir/labels.csv (fname,label,labels,is_valid,x,y)
 * and dir/centers.csv (fname,x,y); fname is the path under dir (images/000000.jpg).  label = the biggest shape's class,
 * labels = every class present (sorted, space-separated), x,y = centre of the
 * biggest shape in pixels, is_valid = a seeded 20%.  The same (n, seed) gives
 * the same bytes on every run and thread count. */
/* single = 1: the pretraining variant (`fastc get shapes_single`): one shape
 * per image, radius from the smallest to the biggest of the multi-shape images
 * (7-32% of the shorter side); the same files and columns (label = labels =
 * that shape's class). */
int datasets_shapes(const char *dir, int n, uint64_t seed, int single, int threads, int *reused, Err *err);

#endif
