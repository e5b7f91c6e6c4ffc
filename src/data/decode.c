/* decode.c — image files to pixels (see decode.h).
 *
 * The format comes from the magic bytes.  JPEG goes through libjpeg-turbo with
 * the settings PIL uses (JDCT_ISLOW, fancy upsampling), straight into RGB/RGBA
 * (JCS_EXT_*) so no extra pass is needed; with a size hint, DCT scaling decodes
 * at 1/2, 1/4 or 1/8 when that is still large enough.  PNG goes through libpng
 * with the transforms that give 8-bit gray/gray+alpha/RGB/RGBA, then a small
 * converter gives the requested channel count with PIL's formulas
 * (L = (299 R + 587 G + 114 B) / 1000, alpha dropped without compositing).
 *
 * Both libraries report fatal errors through longjmp from a handler installed
 * here; every allocation made before a possible longjmp is held in a volatile
 * or heap-owned place and released on the error path, so a bad file costs an
 * Err and nothing else.  A truncated JPEG (libjpeg's "premature end" warning,
 * which it otherwise papers over with gray) is an error, as it is in PIL;
 * other libjpeg warnings (extraneous bytes...) are ignored, as PIL does.
 */
#include "data/decode.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

/* PIL refuses images above 2 * 89478485 pixels (decompression bombs); so do we. */
#define DECODE_MAX_PIXELS (2LL * 89478485LL)

/* ---- format sniffing --------------------------------------------------------- */

typedef enum { FMT_JPEG, FMT_PNG, FMT_OTHER } Format;

static const char *sniff_other(const unsigned char *d, size_t n)
{
    if (n >= 4 && memcmp(d, "GIF8", 4) == 0) return "GIF";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "BMP";
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) return "WebP";
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0)) return "TIFF";
    if (n >= 12 && memcmp(d + 4, "ftyp", 4) == 0) return "HEIF/AVIF or MP4";
    if (n >= 4 && memcmp(d, "\0\0\1\0", 4) == 0) return "ICO";
    if (n >= 5 && memcmp(d, "%PDF-", 5) == 0) return "PDF";
    if (n >= 4 && memcmp(d, "PK\3\4", 4) == 0) return "a ZIP archive";
    if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b) return "a gzip file";
    if (n >= 2 && d[0] == 0xFF && d[1] == 0xD8) return "a damaged JPEG";
    size_t k = n < 512 ? n : 512, printable = 0;
    for (size_t i = 0; i < k; i++)
        if (d[i] == '\n' || d[i] == '\r' || d[i] == '\t' || (d[i] >= 0x20 && d[i] < 0x7f) || d[i] >= 0x80)
            printable++;
    if (k && printable == k) {
        if (k >= 5 && (memcmp(d, "<html", 5) == 0 || memcmp(d, "<!DOC", 5) == 0 || memcmp(d, "<HTML", 5) == 0))
            return "HTML";
        return "text";
    }
    return NULL;
}

static Format sniff(const unsigned char *d, size_t n)
{
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return FMT_JPEG;
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return FMT_PNG;
    return FMT_OTHER;
}

/* ---- channel conversion ------------------------------------------------------- */

static inline uint8_t luma(unsigned r, unsigned g, unsigned b)
{
    /* PIL's "L" conversion: ITU-R 601-2 with integer rounding as PIL does it. */
    return (uint8_t)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

/* Convert n pixels from src (sc channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) to
 * dst (dc channels: 1, 3, 4).  src and dst may not overlap. */
static void convert_px(uint8_t *dst, int dc, const uint8_t *src, int sc, size_t n)
{
    for (size_t i = 0; i < n; i++, src += sc, dst += dc) {
        unsigned r, g, b, a;
        if (sc <= 2) r = g = b = src[0];
        else r = src[0], g = src[1], b = src[2];
        a = sc == 2 ? src[1] : sc == 4 ? src[3] : 255;
        if (dc == 1) dst[0] = sc <= 2 ? (uint8_t)r : luma(r, g, b);
        else {
            dst[0] = (uint8_t)r, dst[1] = (uint8_t)g, dst[2] = (uint8_t)b;
            if (dc == 4) dst[3] = (uint8_t)a;
        }
    }
}

static int check_size(const char *name, long long w, long long h, Err *err)
{
    if (w <= 0 || h <= 0) return err_set(err, ERR_RUNTIME, "%s: image has no pixels (%lldx%lld)", name, w, h);
    if (w * h > DECODE_MAX_PIXELS)
        return err_set(err, ERR_RUNTIME, "%s: image too large (%lldx%lld pixels, limit %lld)", name, w, h,
                       DECODE_MAX_PIXELS);
    return 0;
}

/* ---- JPEG ------------------------------------------------------------------- */

typedef struct JpegErr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int truncated;
    int too_many_scans;
} JpegErr;

/* A progressive JPEG may repeat scans without end (the decoder only warns of a
 * bogus progression): a few hundred bytes each, every one a pass over the whole
 * coefficient buffer, so a 384 KB file took 24 s of CPU.  Encoders write about
 * 10 (jpeg_simple_progression) and rarely more than a few dozen; the limit is
 * TurboJPEG's own (TJFLAG_LIMITSCANS). */
enum { JPEG_MAX_SCANS = 500 };

typedef struct JpegProgress {
    struct jpeg_progress_mgr pub;
    JpegErr *je;
} JpegProgress;

/* libjpeg calls this between passes and every few rows while it reads scans
 * (the number read so far is input_scan_number): stop there. */
static void jpeg_on_progress(j_common_ptr cinfo)
{
    JpegProgress *p = (JpegProgress *)cinfo->progress;
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS) {
        p->je->too_many_scans = 1;
        longjmp(p->je->jb, 1);
    }
}

static void jpeg_on_error(j_common_ptr cinfo)
{
    JpegErr *je = (JpegErr *)cinfo->err;
    longjmp(je->jb, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    JpegErr *je = (JpegErr *)cinfo->err;
    if (level < 0) {
        if (je->pub.msg_code == JWRN_JPEG_EOF) je->truncated = 1;
        je->pub.num_warnings++;
    }
    /* Never print: the caller decides what to report. */
}

static void jpeg_on_output(j_common_ptr cinfo) { (void)cinfo; }

/* Smallest 1/2^k (k <= 3) scale with ceil(w*s) >= min_w and ceil(h*s) >= min_h. */
static unsigned jpeg_pick_denom(int w, int h, int min_w, int min_h)
{
    if (min_w <= 0 && min_h <= 0) return 1;
    unsigned best = 1;
    for (unsigned d = 2; d <= 8; d *= 2) {
        long sw = (w + (long)d - 1) / (long)d, sh = (h + (long)d - 1) / (long)d;
        if (sw >= min_w && sh >= min_h) best = d;
        else break;
    }
    return best;
}

static int decode_jpeg(const unsigned char *data, size_t n, const char *name, int channels, int min_w,
                       int min_h, Image *out, int *orig_w, int *orig_h, Err *err)
{
    struct jpeg_decompress_struct cinfo;
    JpegErr je;
    JpegProgress prog = {.pub.progress_monitor = jpeg_on_progress, .je = &je};
    uint8_t *volatile px = NULL;
    uint8_t *volatile row4 = NULL;   /* CMYK scanline scratch */

    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_on_error;
    je.pub.emit_message = jpeg_on_message;
    je.pub.output_message = jpeg_on_output;
    je.truncated = 0, je.too_many_scans = 0;
    if (setjmp(je.jb)) {
        char msg[JMSG_LENGTH_MAX];
        je.pub.format_message((j_common_ptr)&cinfo, msg);
        jpeg_destroy_decompress(&cinfo);
        free(px);
        free(row4);
        if (je.too_many_scans)
            return err_set(err, ERR_RUNTIME, "%s: progressive JPEG with more than %d scans (the limit; encoders "
                           "write about 10): refused as a decompression bomb", name, JPEG_MAX_SCANS);
        return err_set(err, ERR_RUNTIME, "%s: corrupt JPEG: %s", name, msg);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &prog.pub;
    jpeg_mem_src(&cinfo, data, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    if (je.truncated) goto truncated;

    int W = (int)cinfo.image_width, H = (int)cinfo.image_height;
    if (check_size(name, W, H, err)) {
        jpeg_destroy_decompress(&cinfo);
        return err->code;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    int gray_src = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    if (cmyk) cinfo.out_color_space = JCS_CMYK;
    else if (channels == 1) cinfo.out_color_space = JCS_GRAYSCALE;
    else if (gray_src && channels == 3) cinfo.out_color_space = JCS_EXT_RGB;
    else cinfo.out_color_space = channels == 4 ? JCS_EXT_RGBA : JCS_EXT_RGB;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    cinfo.scale_num = 1;
    cinfo.scale_denom = jpeg_pick_denom(W, H, min_w, min_h);

    jpeg_start_decompress(&cinfo);   /* progressive: reads every scan here */
    if (je.truncated) goto truncated;
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    px = malloc((size_t)w * h * channels);
    if (cmyk) row4 = malloc((size_t)w * 4);
    if (!px || (cmyk && !row4)) {
        jpeg_destroy_decompress(&cinfo);
        free(px);
        free(row4);
        return err_set(err, ERR_RUNTIME, "%s: out of memory decoding a %dx%d JPEG", name, w, h);
    }
    int inverted = cinfo.saw_Adobe_marker;  /* Photoshop stores CMYK inverted */
    while (cinfo.output_scanline < (unsigned)h) {
        unsigned y = cinfo.output_scanline;
        uint8_t *dst = px + (size_t)y * w * channels;
        if (!cmyk) {
            JSAMPROW rows[1] = {dst};
            jpeg_read_scanlines(&cinfo, rows, 1);
        } else {
            JSAMPROW rows[1] = {row4};
            jpeg_read_scanlines(&cinfo, rows, 1);
            /* R = (255 - C)(255 - K) / 255 (PIL's cmyk2rgb), with C = 255 - stored when inverted */
            for (int x = 0; x < w; x++) {
                unsigned c = row4[4 * x], m = row4[4 * x + 1], yy = row4[4 * x + 2], k = row4[4 * x + 3];
                if (!inverted) c = 255 - c, m = 255 - m, yy = 255 - yy, k = 255 - k;
                unsigned r = (c * k + 127) / 255, g = (m * k + 127) / 255, b = (yy * k + 127) / 255;
                uint8_t *o = dst + (size_t)x * channels;
                if (channels == 1) o[0] = luma(r, g, b);
                else {
                    o[0] = (uint8_t)r, o[1] = (uint8_t)g, o[2] = (uint8_t)b;
                    if (channels == 4) o[3] = 255;
                }
            }
        }
        if (je.truncated) goto truncated;
    }
    /* Every row arrived: a missing EOI marker alone is forgiven (PIL decodes such files). */
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row4);
    out->w = w, out->h = h, out->c = channels, out->px = px;
    if (orig_w) *orig_w = W;
    if (orig_h) *orig_h = H;
    return 0;

truncated:
    jpeg_destroy_decompress(&cinfo);
    free(px);
    free(row4);
    return err_set(err, ERR_RUNTIME, "%s: truncated JPEG (the data ends before the image does)", name);
}

/* ---- PNG -------------------------------------------------------------------- */

typedef struct PngSrc {
    const unsigned char *data;
    size_t n, pos;
    char msg[256];
} PngSrc;

static void png_on_read(png_structp png, png_bytep buf, png_size_t len)
{
    PngSrc *s = png_get_io_ptr(png);
    if (len > s->n - s->pos) {
        snprintf(s->msg, sizeof s->msg, "truncated PNG (the data ends before the image does)");
        png_error(png, "truncated");
    }
    memcpy(buf, s->data + s->pos, len);
    s->pos += len;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    PngSrc *s = png_get_error_ptr(png);
    if (!s->msg[0]) snprintf(s->msg, sizeof s->msg, "corrupt PNG: %s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static int decode_png(const unsigned char *data, size_t n, const char *name, int channels, Image *out,
                      int *orig_w, int *orig_h, Err *err)
{
    PngSrc src = {data, n, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    if (!png) return err_set(err, ERR_RUNTIME, "%s: out of memory (libpng)", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return err_set(err, ERR_RUNTIME, "%s: out of memory (libpng)", name);
    }
    uint8_t *volatile px = NULL;      /* decoded at the source's channel count */
    uint8_t *volatile conv = NULL;    /* converted to `channels` */
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(px), free(conv), free(rows);
        return err_set(err, ERR_RUNTIME, "%s: %s", name, src.msg[0] ? src.msg : "corrupt PNG");
    }
    png_set_read_fn(png, &src, png_on_read);
    /* Ancillary chunks with a bad CRC are skipped silently (as PIL does); bad
     * critical chunks (IHDR, IDAT...) stay errors. */
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_QUIET_USE);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 W = png_get_image_width(png, info), H = png_get_image_height(png, info);
    if (check_size(name, W, H, err)) {
        png_destroy_read_struct(&png, &info, NULL);
        return err->code;
    }
    int bit_depth = png_get_bit_depth(png, info), ct = png_get_color_type(png, info);
    {
        /* deflate expands at most ~1032:1: a header claiming far more pixels than
         * the file can hold is corrupt; refuse it before allocating for it */
        double raw = (double)H * ((double)W * png_get_channels(png, info) * bit_depth / 8 + 1);
        if (raw > (double)n * 1100 + 65536) {
            png_destroy_read_struct(&png, &info, NULL);
            return err_set(err, ERR_RUNTIME, "%s: corrupt PNG: %ux%u pixels cannot come from %zu bytes", name,
                           (unsigned)W, (unsigned)H, n);
        }
    }
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    /* tRNS becomes an alpha channel only when alpha is wanted (the palette
     * expansion may add it anyway; convert_px drops it then). */
    if (channels == 4 && png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bit_depth == 16) png_set_strip_16(png);   /* high byte, as PIL's ";16B" modes */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int sc = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (sc < 1 || sc > 4 || rowbytes != (size_t)W * sc) {
        png_destroy_read_struct(&png, &info, NULL);
        return err_set(err, ERR_RUNTIME, "%s: unsupported PNG layout (%d channels, %d bits)", name, sc,
                       bit_depth);
    }
    px = malloc((size_t)W * H * sc);
    rows = malloc(sizeof(png_bytep) * H);
    if (!px || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < H; y++) rows[y] = px + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    if (sc != channels) {
        conv = malloc((size_t)W * H * channels);
        if (!conv) png_error(png, "out of memory");
        convert_px(conv, channels, px, sc, (size_t)W * H);
        free(px);
        px = conv;
        conv = NULL;
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->w = (int)W, out->h = (int)H, out->c = channels, out->px = px;
    if (orig_w) *orig_w = (int)W;
    if (orig_h) *orig_h = (int)H;
    return 0;
}

/* ---- entry points -------------------------------------------------------------- */

int image_decode_mem(const unsigned char *data, size_t n, const char *name, int channels, int min_w,
                     int min_h, Image *out, int *orig_w, int *orig_h, Err *err)
{
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    if (channels != 1 && channels != 3 && channels != 4)
        return err_set(err, ERR_USAGE, "%s: cannot decode into %d channels (expected 1, 3 or 4)", name, channels);
    if (n == 0) return err_set(err, ERR_RUNTIME, "%s: empty file (0 bytes), not an image", name);
    switch (sniff(data, n)) {
    case FMT_JPEG: return decode_jpeg(data, n, name, channels, min_w, min_h, out, orig_w, orig_h, err);
    case FMT_PNG: return decode_png(data, n, name, channels, out, orig_w, orig_h, err);
    default: break;
    }
    const char *what = sniff_other(data, n);
    if (what) return err_set(err, ERR_RUNTIME, "%s: not a JPEG or PNG image (looks like %s)", name, what);
    return err_set(err, ERR_RUNTIME,
                   "%s: not a JPEG or PNG image (unknown format, starts with %02x %02x %02x %02x)", name,
                   data[0], n > 1 ? data[1] : 0, n > 2 ? data[2] : 0, n > 3 ? data[3] : 0);
}

int image_decode_file(const char *path, int channels, int min_w, int min_h, Image *out, int *orig_w,
                      int *orig_h, Err *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(err, ERR_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return err_set(err, ERR_RUNTIME, "%s: not a regular file%s%s", path, e ? ": " : "", e ? strerror(e) : "");
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return err_set(err, ERR_RUNTIME, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    int rc = image_decode_mem(buf, got, path, channels, min_w, min_h, out, orig_w, orig_h, err);
    free(buf);
    return rc;
}
