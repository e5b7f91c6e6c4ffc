/* decode.h — image files to pixels: JPEG (libjpeg-turbo) and PNG (libpng),
 * recognised by their magic bytes, never by the extension. */
#ifndef FASTC_DECODE_H
#define FASTC_DECODE_H

#include "core/err.h"
#include "data/image.h"

#include <stddef.h>

/* Decode `path` into out with `channels` channels (1 = gray, 3 = RGB, 4 = RGBA;
 * gray→RGB replicates, RGBA→RGB drops alpha, CMYK/YCCK are converted).
 * min_w/min_h (0 = no hint): JPEGs may be decoded with DCT scaling (1/2, 1/4,
 * 1/8) to the smallest size that is still >= min_w x min_h, the sizes the
 * caller's transform needs; other formats ignore the hint.  The original size is
 * reported in *orig_w and *orig_h (may be NULL) so point targets can be rescaled.
 * A corrupt, truncated, empty or unsupported file is an ERR_RUNTIME naming the file;
 * libjpeg/libpng error exits are caught (no exit, no leak). */
int image_decode_file(const char *path, int channels, int min_w, int min_h, Image *out,
                      int *orig_w, int *orig_h, Err *err);
/* Same, from memory; `name` is used in messages. */
int image_decode_mem(const unsigned char *data, size_t n, const char *name, int channels,
                     int min_w, int min_h, Image *out, int *orig_w, int *orig_h, Err *err);

#endif
