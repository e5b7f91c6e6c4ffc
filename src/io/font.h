/* font.h — the built-in bitmap font every picture fastc draws uses.
 *
 * X11's public-domain misc-fixed 6x13 glyphs for printable ASCII, drawn at any
 * integer scale into an RGB (3 bytes per pixel) buffer, horizontally or turned
 * 90 degrees (reading upwards, for y-axis and column labels).  Other bytes
 * (UTF-8 sequences, control characters) are drawn as '?', one per code point.
 * Drawing is clipped to the buffer. */
#ifndef FASTC_IO_FONT_H
#define FASTC_IO_FONT_H

#include <stdint.h>

#define FONT_W 6    /* advance per character, pixels at scale 1 */
#define FONT_H 13   /* line height at scale 1 (baseline at row 10) */

/* Width in pixels of `s` at `scale` (characters counted as code points). */
int font_text_width(const char *s, int scale);
/* Number of characters (code points) of s. */
int font_text_len(const char *s);
/* Draw s with its top-left corner at (x, y). */
void font_draw(uint8_t *rgb, int w, int h, int x, int y, const char *s, int scale, const uint8_t color[3]);
/* Draw s turned 90 degrees counter-clockwise: the text reads bottom to top,
 * starting at (x, y) = bottom-left corner of the turned text; it occupies
 * x .. x+FONT_H*scale-1 and y-width+1 .. y. */
void font_draw_up(uint8_t *rgb, int w, int h, int x, int y, const char *s, int scale, const uint8_t color[3]);
/* 1 when pixel (gx, gy) of glyph c (at scale 1) is set. */
int font_glyph_pixel(int c, int gx, int gy);

#endif
