/* testimg.c — see testimg.h. */
#include "testimg.h"

#include "core/rng.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

static FILE *open_or_die(const char *path, const char *mode)
{
    FILE *f = fopen(path, mode);
    if (!f) {
        perror(path);
        abort();
    }
    return f;
}

void ti_write_png_raw(const char *path, int w, int h, int color_type, int bit_depth, int interlace,
                      const uint8_t *rows, int rowbytes, const uint8_t *pal, int n_pal,
                      const uint8_t *trans, int n_trans, const uint16_t *trans16)
{
    FILE *f = open_or_die(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) abort();
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, bit_depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) {
        png_color cols[256];
        for (int i = 0; i < n_pal; i++) cols[i].red = pal[3 * i], cols[i].green = pal[3 * i + 1], cols[i].blue = pal[3 * i + 2];
        png_set_PLTE(png, info, cols, n_pal);
    }
    if (trans || trans16) {
        png_color_16 tc = {0};
        if (trans16) {
            tc.gray = trans16[0];
            tc.red = trans16[0], tc.green = trans16[1], tc.blue = trans16[2];
        }
        png_set_tRNS(png, info, trans, n_trans, trans16 ? &tc : NULL);
    }
    png_write_info(png, info);
    png_bytep *rp = malloc(sizeof(png_bytep) * h);
    for (int y = 0; y < h; y++) rp[y] = (png_bytep)rows + (size_t)y * rowbytes;
    png_write_image(png, rp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rp);
    fclose(f);
}

void ti_write_png(const char *path, int w, int h, int c, const uint8_t *px)
{
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                PNG_COLOR_TYPE_RGB_ALPHA};
    ti_write_png_raw(path, w, h, types[c], 8, 0, px, w * c, NULL, 0, NULL, 0, NULL);
}

void ti_write_jpeg(const char *path, int w, int h, int c, const uint8_t *px, int quality, int flags)
{
    FILE *f = open_or_die(path, "wb");
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = w, ci.image_height = h, ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : c == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&ci);
    if (c == 4) {
        jpeg_set_colorspace(&ci, (flags & TI_JPEG_YCCK) ? JCS_YCCK : JCS_CMYK);
        if (flags & TI_JPEG_NO_ADOBE) ci.write_Adobe_marker = FALSE;
    }
    if (c == 3 && (flags & TI_JPEG_444)) ci.comp_info[0].h_samp_factor = ci.comp_info[0].v_samp_factor = 1;
    jpeg_set_quality(&ci, quality, TRUE);
    if (flags & TI_JPEG_PROGRESSIVE) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

uint8_t *ti_read_all(const char *path, size_t *n)
{
    FILE *f = open_or_die(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len < 0) abort();
    /* One byte more than the file, always 0: callers may treat text files
     * as C strings (strtok_r, strstr) without reading past the block. */
    uint8_t *buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) abort();
    buf[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return buf;
}

void ti_write_stripes(const char *root, int n_train, int n_valid)
{
    const char *cls[3] = {"hstripes", "vstripes", "checker"};
    Rng r = rng_make(5, 5);
    uint8_t px[16 * 16];
    char name[256], path[8400];
    for (int split = 0; split < 2; split++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < (split ? n_valid : n_train); k++) {
                int ph = (int)rng_below(&r, 4);
                for (int y = 0; y < 16; y++)
                    for (int x = 0; x < 16; x++) {
                        int on = c == 0 ? ((y + ph) / 2) % 2 : c == 1 ? ((x + ph) / 2) % 2 : ((x / 2 + y / 2 + ph) % 2);
                        int v = (on ? 200 : 50) + (int)(rng_normal(&r) * 20);
                        px[y * 16 + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                    }
                snprintf(name, sizeof name, "data/%s/%s/%d.png", split ? "valid" : "train", cls[c], k);
                tu_write(root, name, "", 0, path, sizeof path);   /* makes the folders */
                ti_write_png(path, 16, 16, 1, px);
            }
}
