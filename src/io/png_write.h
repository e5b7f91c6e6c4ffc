/* png_write.h — write 8-bit RGB / gray pixels as a PNG file, atomically
 * (io/atomic.h), through libpng.  libpng errors are caught, never fatal. */
#ifndef FASTC_IO_PNG_WRITE_H
#define FASTC_IO_PNG_WRITE_H

#include "core/err.h"

#include <stdint.h>

/* px: h rows of w*channels bytes (channels 1 = gray, 3 = RGB). */
int png_write(const char *path, const uint8_t *px, int w, int h, int channels, Err *err);

#endif
