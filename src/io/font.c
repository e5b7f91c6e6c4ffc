/* font.c — 6x13 bitmap text (see font.h). */
#include "io/font.h"

#include <string.h>

static const uint8_t glyphs[95][FONT_H] = {
#include "io/font_6x13.inc"
};

/* Next code point's glyph index (0..94) and advance s; '?' for anything
 * outside printable ASCII, consuming a whole UTF-8 sequence. */
static int next_glyph(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    unsigned c = *p++;
    if (c >= 0x80) {
        while ((*p & 0xc0) == 0x80) p++;
        c = '?';
    } else if (c < 32 || c > 126) {
        c = '?';
    }
    *s = (const char *)p;
    return (int)c - 32;
}

int font_text_len(const char *s)
{
    int n = 0;
    while (*s) next_glyph(&s), n++;
    return n;
}

int font_text_width(const char *s, int scale) { return font_text_len(s) * FONT_W * scale; }

int font_glyph_pixel(int c, int gx, int gy)
{
    if (c < 32 || c > 126 || gx < 0 || gx >= FONT_W || gy < 0 || gy >= FONT_H) return 0;
    return glyphs[c - 32][gy] >> (FONT_W - 1 - gx) & 1;
}

static void put(uint8_t *rgb, int w, int h, int x, int y, const uint8_t color[3])
{
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    memcpy(rgb + ((size_t)y * (size_t)w + (size_t)x) * 3, color, 3);
}

void font_draw(uint8_t *rgb, int w, int h, int x, int y, const char *s, int scale, const uint8_t color[3])
{
    if (scale < 1) scale = 1;
    for (int cx = x; *s; cx += FONT_W * scale) {
        const uint8_t *g = glyphs[next_glyph(&s)];
        if (cx >= w) continue;
        for (int gy = 0; gy < FONT_H; gy++)
            for (int gx = 0; gx < FONT_W; gx++)
                if (g[gy] >> (FONT_W - 1 - gx) & 1)
                    for (int sy = 0; sy < scale; sy++)
                        for (int sx = 0; sx < scale; sx++) put(rgb, w, h, cx + gx * scale + sx, y + gy * scale + sy, color);
    }
}

void font_draw_up(uint8_t *rgb, int w, int h, int x, int y, const char *s, int scale, const uint8_t color[3])
{
    if (scale < 1) scale = 1;
    /* Glyph pixel (gx, gy) goes to (x + gy, y0 - gx) with y0 the glyph's
     * bottom edge: the glyph's top faces left. */
    for (int cy = y; *s; cy -= FONT_W * scale) {
        const uint8_t *g = glyphs[next_glyph(&s)];
        if (cy < 0) continue;
        for (int gy = 0; gy < FONT_H; gy++)
            for (int gx = 0; gx < FONT_W; gx++)
                if (g[gy] >> (FONT_W - 1 - gx) & 1)
                    for (int sy = 0; sy < scale; sy++)
                        for (int sx = 0; sx < scale; sx++) put(rgb, w, h, x + gy * scale + sy, cy - gx * scale - sx, color);
    }
}
