/* image.h — a decoded image: 8-bit, interleaved channels (HWC), row-major. */
#ifndef FASTC_IMAGE_H
#define FASTC_IMAGE_H

#include <stdint.h>

typedef struct Image {
    int w, h, c;      /* c = 1 (gray), 3 (RGB) or 4 */
    uint8_t *px;      /* h * w * c bytes, owned (free with image_free) */
} Image;

void image_free(Image *img);  /* frees px, zeroes the struct; NULL-safe */

#endif
