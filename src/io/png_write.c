/* png_write.c — PNG output through libpng (see png_write.h). */
#include "io/png_write.h"

#include "io/atomic.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

typedef struct PngErr {
    char msg[256];
} PngErr;

static void on_error(png_structp png, png_const_charp msg)
{
    PngErr *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Everything that touches libpng, with locals setjmp cannot clobber. */
static int encode(FILE *f, const uint8_t *px, int w, int h, int channels, PngErr *pe)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, pe, on_error, on_warning);
    if (!png) return snprintf(pe->msg, sizeof pe->msg, "out of memory"), -1;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return snprintf(pe->msg, sizeof pe->msg, "out of memory"), -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(px + (size_t)y * (size_t)w * (size_t)channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int png_write(const char *path, const uint8_t *px, int w, int h, int channels, Err *err)
{
    if (w <= 0 || h <= 0 || (channels != 1 && channels != 3))
        return err_set(err, ERR_RUNTIME, "%s: cannot write a %dx%d image with %d channels", path, w, h, channels);
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    PngErr pe = {{0}};
    if (encode(af.f, px, w, h, channels, &pe) != 0) {
        atomic_abort(&af);
        return err_set(err, ERR_RUNTIME, "%s: PNG encoding failed: %s", path, pe.msg);
    }
    return atomic_commit(&af, err);
}
