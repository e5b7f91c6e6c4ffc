/* testimg.h — write small PNG and JPEG files in tests (libpng / libjpeg), so the
 * suites make every format variant they decode themselves. */
#ifndef FASTC_TESTIMG_H
#define FASTC_TESTIMG_H

#include <stddef.h>
#include <stdint.h>

/* An 8-bit PNG from interleaved pixels (c = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA). */
void ti_write_png(const char *path, int w, int h, int c, const uint8_t *px);

/* Any PNG: rows already packed as the PNG stores them (rowbytes each, 16-bit
 * samples big-endian); palette (n_pal RGB triples) for PNG_COLOR_TYPE_PALETTE;
 * trans: n_trans palette alphas, or for gray/RGB one colour given in trans16
 * (gray or r,g,b); interlace 1 = Adam7. */
void ti_write_png_raw(const char *path, int w, int h, int color_type, int bit_depth, int interlace,
                      const uint8_t *rows, int rowbytes, const uint8_t *pal, int n_pal,
                      const uint8_t *trans, int n_trans, const uint16_t *trans16);

enum { TI_JPEG_PROGRESSIVE = 1, TI_JPEG_YCCK = 2, TI_JPEG_NO_ADOBE = 4, TI_JPEG_444 = 8 };
/* A JPEG: c = 1 (gray), 3 (RGB) or 4 (CMYK samples as stored in the file). */
void ti_write_jpeg(const char *path, int w, int h, int c, const uint8_t *px, int quality, int flags);
/* Read a whole file (malloc'd; *n set to its length; one 0 byte follows the
 * data, so a text file is also a C string). */
uint8_t *ti_read_all(const char *path, size_t *n);

/* The small learnable image set of the training suites: 3 classes (hstripes,
 * vstripes, checker) of gray 16x16 PNGs with a random phase and noise, n_train
 * and n_valid of each in root/data/{train,valid}/<class>/<k>.png; the same
 * bytes on every call (seeded). */
void ti_write_stripes(const char *root, int n_train, int n_valid);

#endif
