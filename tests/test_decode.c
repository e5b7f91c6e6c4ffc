/* test_decode.c — src/data/decode.c: every JPEG and PNG variant decodes to the
 * right pixels, DCT scaling picks the right scale, and every kind of bad file is
 * a clear error naming it (the sanitizer run checks nothing leaks). */
#include "check_main.h"
#include "data/decode.h"
#include "testimg.h"
#include "testutil.h"

#include <png.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[512];
static void setup(void) { tu_tmpdir(dir, sizeof dir); }
static void teardown(void) { tu_rmtree(dir); }

static const char *pth(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* Four flat quadrants (red, green, blue, grey-ish) of a w x h RGB image. */
static const uint8_t quad_cols[4][3] = {{220, 30, 40}, {20, 200, 60}, {30, 50, 210}, {128, 128, 128}};
static uint8_t *quad_rgb(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) memcpy(px + ((size_t)y * w + x) * 3, quad_cols[(y >= h / 2) * 2 + (x >= w / 2)], 3);
    return px;
}

/* Largest |a - b| over pixels at least `margin` away from the quadrant borders. */
static int quad_err(const Image *im, int margin)
{
    int worst = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            if (abs(y - im->h / 2) < margin || abs(x - im->w / 2) < margin) continue;
            const uint8_t *e = quad_cols[(y >= im->h / 2) * 2 + (x >= im->w / 2)];
            for (int c = 0; c < 3; c++) {
                int d = abs((int)im->px[((size_t)y * im->w + x) * im->c + c] - e[c]);
                if (d > worst) worst = d;
            }
        }
    return worst;
}

static void decode_ok(const char *path, int ch, int mw, int mh, Image *im, int *ow, int *oh)
{
    Err err = {0};
    int rc = image_decode_file(path, ch, mw, mh, im, ow, oh, &err);
    ck_assert_msg(rc == 0, "decode %s: %s", path, err.msg);
    ck_assert_int_eq(im->c, ch);
}

/* ---- JPEG ---- */

START_TEST(jpeg_baseline_and_progressive_rgb)
{
    uint8_t *px = quad_rgb(64, 64);
    for (int prog = 0; prog < 2; prog++) {
        const char *p = pth(prog ? "p.jpg" : "b.jpg");
        ti_write_jpeg(p, 64, 64, 3, px, 95, prog ? TI_JPEG_PROGRESSIVE : 0);
        Image im;
        int ow = 0, oh = 0;
        decode_ok(p, 3, 0, 0, &im, &ow, &oh);
        ck_assert_int_eq(im.w, 64); ck_assert_int_eq(im.h, 64); ck_assert_int_eq(ow, 64); ck_assert_int_eq(oh, 64);
        int e = quad_err(&im, 4);
        ck_assert_msg(e <= 6, "progressive=%d: max error %d", prog, e);
        image_free(&im);
        /* RGBA output: same colours, opaque */
        decode_ok(p, 4, 0, 0, &im, NULL, NULL);
        ck_assert_int_le(quad_err(&im, 4), 6);
        for (int i = 0; i < 64 * 64; i++) ck_assert_int_eq(im.px[4 * i + 3], 255);
        image_free(&im);
        /* gray output: the luma of each quadrant */
        decode_ok(p, 1, 0, 0, &im, NULL, NULL);
        int worst = 0;
        for (int q = 0; q < 4; q++) {
            int x = (q & 1) ? 48 : 16, y = (q & 2) ? 48 : 16;
            const uint8_t *c = quad_cols[q];
            int l = (c[0] * 299 + c[1] * 587 + c[2] * 114 + 500) / 1000;
            int d = abs(im.px[y * 64 + x] - l);
            if (d > worst) worst = d;
        }
        ck_assert_msg(worst <= 4, "gray from colour JPEG off by %d", worst);
        image_free(&im);
    }
    free(px);
}
END_TEST

START_TEST(jpeg_grayscale_replicates_to_rgb)
{
    uint8_t g[40 * 24];
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 40; x++) g[y * 40 + x] = (uint8_t)(x < 20 ? 50 : 200);
    ti_write_jpeg(pth("g.jpg"), 40, 24, 1, g, 95, 0);
    Image im;
    decode_ok(pth("g.jpg"), 3, 0, 0, &im, NULL, NULL);
    ck_assert_int_eq(im.w, 40); ck_assert_int_eq(im.h, 24);
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 40; x++) {
            const uint8_t *p = im.px + (y * 40 + x) * 3;
            ck_assert(p[0] == p[1] && p[1] == p[2]);
            if (x < 16 || x > 23) ck_assert_int_le(abs(p[0] - g[y * 40 + x]), 4);
        }
    image_free(&im);
    decode_ok(pth("g.jpg"), 1, 0, 0, &im, NULL, NULL);
    ck_assert_int_le(abs(im.px[5 * 40 + 3] - 50), 4);
    image_free(&im);
    decode_ok(pth("g.jpg"), 4, 0, 0, &im, NULL, NULL);
    const uint8_t *q = im.px + (5 * 40 + 30) * 4;
    ck_assert(q[0] == q[1] && q[1] == q[2] && abs(q[0] - 200) <= 4 && q[3] == 255);
    image_free(&im);
}
END_TEST

/* CMYK quadrants; expected RGB = (255 - C)(255 - K) / 255. */
static const uint8_t cmyk_cols[4][4] = {{0, 255, 255, 0}, {255, 0, 255, 0}, {0, 0, 0, 128}, {0, 0, 0, 0}};

static void check_cmyk(const char *name, int flags, int inverted)
{
    int w = 32, h = 32;
    uint8_t *px = malloc(w * h * 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 4; c++) {
                uint8_t v = cmyk_cols[(y >= 16) * 2 + (x >= 16)][c];
                px[(y * w + x) * 4 + c] = inverted ? 255 - v : v;
            }
    ti_write_jpeg(pth(name), w, h, 4, px, 98, flags);
    Image im;
    decode_ok(pth(name), 3, 0, 0, &im, NULL, NULL);
    for (int q = 0; q < 4; q++) {
        int x = (q & 1) ? 24 : 8, y = (q & 2) ? 24 : 8;
        const uint8_t *c = cmyk_cols[q];
        for (int k = 0; k < 3; k++) {
            int e = (255 - c[k]) * (255 - c[3]) / 255;
            int got = im.px[(y * w + x) * 3 + k];
            ck_assert_msg(abs(got - e) <= 5, "%s quadrant %d channel %d: %d, expected %d", name, q, k, got, e);
        }
    }
    image_free(&im);
    /* one channel: PIL's luma of the RGB */
    decode_ok(pth(name), 1, 0, 0, &im, NULL, NULL);
    for (int q = 0; q < 4; q++) {
        int x = (q & 1) ? 24 : 8, y = (q & 2) ? 24 : 8;
        const uint8_t *c = cmyk_cols[q];
        int e[3];
        for (int k = 0; k < 3; k++) e[k] = (255 - c[k]) * (255 - c[3]) / 255;
        int l = (e[0] * 299 + e[1] * 587 + e[2] * 114) / 1000;
        ck_assert_msg(abs(im.px[y * w + x] - l) <= 5, "%s gray quadrant %d: %d, expected %d", name, q, im.px[y * w + x], l);
    }
    image_free(&im);
    free(px);
}

START_TEST(jpeg_cmyk_adobe_inverted_plain_and_ycck)
{
    check_cmyk("cmyk_adobe.jpg", 0, 1);                 /* Photoshop convention: stored inverted */
    check_cmyk("cmyk_plain.jpg", TI_JPEG_NO_ADOBE, 0);  /* no Adobe marker: stored as is */
    check_cmyk("ycck.jpg", TI_JPEG_YCCK, 1);
}
END_TEST

START_TEST(jpeg_dct_scaling_picks_smallest_size_still_large_enough)
{
    uint8_t *px = quad_rgb(100, 76);
    ti_write_jpeg(pth("s.jpg"), 100, 76, 3, px, 95, 0);
    ti_write_jpeg(pth("sp.jpg"), 100, 76, 3, px, 95, TI_JPEG_PROGRESSIVE);
    free(px);
    /* hint -> expected decoded size: ceil(100 / d) x ceil(76 / d) */
    const int cases[][4] = {
        {0, 0, 100, 76},   {100, 76, 100, 76}, {51, 10, 100, 76}, {50, 38, 50, 38}, {50, 39, 100, 76},
        {25, 19, 25, 19},  {26, 10, 50, 38},   {13, 10, 13, 10},  {1, 1, 13, 10},   {14, 1, 25, 19},
        {0, 20, 50, 38},   {200, 200, 100, 76},
    };
    for (int f = 0; f < 2; f++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            Image im;
            int ow, oh;
            decode_ok(pth(f ? "sp.jpg" : "s.jpg"), 3, cases[i][0], cases[i][1], &im, &ow, &oh);
            ck_assert_msg(im.w == cases[i][2] && im.h == cases[i][3], "hint %dx%d gave %dx%d, expected %dx%d",
                          cases[i][0], cases[i][1], im.w, im.h, cases[i][2], cases[i][3]);
            ck_assert_int_eq(ow, 100); ck_assert_int_eq(oh, 76);
            ck_assert_int_le(quad_err(&im, 3), 12);  /* still the same picture */
            image_free(&im);
        }
    /* PNG ignores the hint */
    uint8_t *q = quad_rgb(40, 30);
    ti_write_png(pth("s.png"), 40, 30, 3, q);
    free(q);
    Image im;
    decode_ok(pth("s.png"), 3, 5, 5, &im, NULL, NULL);
    ck_assert_int_eq(im.w, 40); ck_assert_int_eq(im.h, 30);
    image_free(&im);
}
END_TEST

/* ---- PNG ---- */

static void expect_px(const Image *im, int x, int y, const uint8_t *v)
{
    for (int c = 0; c < im->c; c++)
        ck_assert_msg(im->px[((size_t)y * im->w + x) * im->c + c] == v[c], "pixel (%d,%d) channel %d: %d, expected %d",
                      x, y, c, im->px[((size_t)y * im->w + x) * im->c + c], v[c]);
}

START_TEST(png_rgb_rgba_gray_grayalpha_8bit_exact)
{
    int w = 7, h = 5;
    uint8_t px[7 * 5 * 4];
    for (int i = 0; i < w * h * 4; i++) px[i] = (uint8_t)(i * 37 + 11);
    for (int sc = 1; sc <= 4; sc++) {
        char name[32];
        snprintf(name, sizeof name, "c%d.png", sc);
        ti_write_png(pth(name), w, h, sc, px);
        for (int dc = 1; dc <= 4; dc++) {
            if (dc == 2) continue;
            Image im;
            decode_ok(pth(name), dc, 0, 0, &im, NULL, NULL);
            ck_assert_int_eq(im.w, w); ck_assert_int_eq(im.h, h);
            for (int i = 0; i < w * h; i++) {
                const uint8_t *s = px + i * sc;
                unsigned r = sc <= 2 ? s[0] : s[0], g = sc <= 2 ? s[0] : s[1], b = sc <= 2 ? s[0] : s[2];
                unsigned a = sc == 2 ? s[1] : sc == 4 ? s[3] : 255;
                uint8_t e[4] = {(uint8_t)r, (uint8_t)g, (uint8_t)b, (uint8_t)a};
                if (dc == 1) e[0] = sc <= 2 ? (uint8_t)r : (uint8_t)((r * 299 + g * 587 + b * 114 + 500) / 1000);
                const uint8_t *o = im.px + i * dc;
                for (int c = 0; c < dc; c++)
                    ck_assert_msg(abs((int)o[c] - e[c]) <= (dc == 1 && sc > 2), "src %d ch -> %d ch, pixel %d ch %d: %d vs %d",
                                  sc, dc, i, c, o[c], e[c]);
            }
            image_free(&im);
        }
    }
}
END_TEST

START_TEST(png_16bit_takes_high_byte)
{
    int w = 3, h = 2;
    uint8_t rows[3 * 2 * 8];
    for (int i = 0; i < (int)sizeof rows; i++) rows[i] = (uint8_t)(i * 29 + 3);
    ti_write_png_raw(pth("rgba16.png"), w, h, PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, rows, w * 8, NULL, 0, NULL, 0, NULL);
    ti_write_png_raw(pth("gray16.png"), w, h, PNG_COLOR_TYPE_GRAY, 16, 0, rows, w * 2, NULL, 0, NULL, 0, NULL);
    ti_write_png_raw(pth("rgb16.png"), w, h, PNG_COLOR_TYPE_RGB, 16, 0, rows, w * 6, NULL, 0, NULL, 0, NULL);
    Image im;
    decode_ok(pth("rgba16.png"), 4, 0, 0, &im, NULL, NULL);
    for (int i = 0; i < w * h * 4; i++) ck_assert_int_eq(im.px[i], rows[2 * i]);
    image_free(&im);
    decode_ok(pth("rgb16.png"), 3, 0, 0, &im, NULL, NULL);
    for (int i = 0; i < w * h * 3; i++) ck_assert_int_eq(im.px[i], rows[2 * i]);
    image_free(&im);
    decode_ok(pth("gray16.png"), 3, 0, 0, &im, NULL, NULL);
    for (int i = 0; i < w * h; i++) {
        uint8_t v[3] = {rows[2 * i], rows[2 * i], rows[2 * i]};
        expect_px(&im, i % w, i / w, v);
    }
    image_free(&im);
}
END_TEST

START_TEST(png_palette_with_trns_and_low_bit_gray)
{
    const uint8_t pal[4 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    const uint8_t trans[2] = {0, 128};  /* index 0 transparent, 1 half, others opaque */
    /* 4-bit palette, 5x2: indices 0 1 2 3 0 / 3 2 1 0 3 (packed two per byte) */
    const uint8_t idx[10] = {0, 1, 2, 3, 0, 3, 2, 1, 0, 3};
    uint8_t rows[2 * 3] = {0};
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 5; x++) rows[y * 3 + x / 2] |= (uint8_t)(idx[y * 5 + x] << (x % 2 ? 0 : 4));
    ti_write_png_raw(pth("pal.png"), 5, 2, PNG_COLOR_TYPE_PALETTE, 4, 0, rows, 3, pal, 4, trans, 2, NULL);
    Image im;
    decode_ok(pth("pal.png"), 4, 0, 0, &im, NULL, NULL);
    for (int i = 0; i < 10; i++) {
        int k = idx[i];
        uint8_t e[4] = {pal[3 * k], pal[3 * k + 1], pal[3 * k + 2], k < 2 ? trans[k] : 255};
        expect_px(&im, i % 5, i / 5, e);
    }
    image_free(&im);
    decode_ok(pth("pal.png"), 3, 0, 0, &im, NULL, NULL);
    for (int i = 0; i < 10; i++) expect_px(&im, i % 5, i / 5, pal + 3 * idx[i]);
    image_free(&im);

    /* 1-bit and 4-bit gray expand to the full 0..255 range; gray tRNS gives alpha 0 */
    uint8_t g1[2] = {0xA0, 0x40};  /* 4x2: 1 0 1 0 / 0 1 0 0 */
    ti_write_png_raw(pth("g1.png"), 4, 2, PNG_COLOR_TYPE_GRAY, 1, 0, g1, 1, NULL, 0, NULL, 0, NULL);
    decode_ok(pth("g1.png"), 1, 0, 0, &im, NULL, NULL);
    const uint8_t e1[8] = {255, 0, 255, 0, 0, 255, 0, 0};
    ck_assert(memcmp(im.px, e1, 8) == 0);
    image_free(&im);
    uint8_t g4[2] = {0x0F, 0x7A};  /* 4x1: 0 15 7 10 */
    uint16_t tr[3] = {7, 0, 0};
    ti_write_png_raw(pth("g4.png"), 4, 1, PNG_COLOR_TYPE_GRAY, 4, 0, g4, 2, NULL, 0, NULL, 0, tr);
    decode_ok(pth("g4.png"), 4, 0, 0, &im, NULL, NULL);
    const uint8_t e4[16] = {0, 0, 0, 255, 255, 255, 255, 255, 119, 119, 119, 0, 170, 170, 170, 255};
    ck_assert(memcmp(im.px, e4, 16) == 0);
    image_free(&im);
}
END_TEST

START_TEST(png_interlaced_equals_plain)
{
    int w = 37, h = 23;
    uint8_t *px = malloc(w * h * 3);
    for (int i = 0; i < w * h * 3; i++) px[i] = (uint8_t)((i * 7919) >> 3);
    ti_write_png_raw(pth("i.png"), w, h, PNG_COLOR_TYPE_RGB, 8, 1, px, w * 3, NULL, 0, NULL, 0, NULL);
    Image im;
    decode_ok(pth("i.png"), 3, 0, 0, &im, NULL, NULL);
    ck_assert_int_eq(im.w, w); ck_assert_int_eq(im.h, h);
    ck_assert(memcmp(im.px, px, w * h * 3) == 0);
    image_free(&im);
    free(px);
}
END_TEST

START_TEST(format_comes_from_magic_bytes_not_extension)
{
    uint8_t *px = quad_rgb(16, 16);
    ti_write_png(pth("really_a_png.jpg"), 16, 16, 3, px);
    ti_write_jpeg(pth("really_a_jpeg.png"), 16, 16, 3, px, 95, 0);
    free(px);
    Image im;
    decode_ok(pth("really_a_png.jpg"), 3, 0, 0, &im, NULL, NULL);
    ck_assert_int_eq(quad_err(&im, 0), 0);
    image_free(&im);
    decode_ok(pth("really_a_jpeg.png"), 3, 0, 0, &im, NULL, NULL);
    image_free(&im);
    /* from memory too */
    size_t n;
    uint8_t *data = ti_read_all(pth("really_a_jpeg.png"), &n);
    Err err = {0};
    ck_assert_int_eq(image_decode_mem(data, n, "mem", 3, 0, 0, &im, NULL, NULL, &err), 0);
    ck_assert_int_eq(im.w, 16);
    image_free(&im);
    free(data);
}
END_TEST

/* ---- bad files ---- */

static void expect_bad(const char *path, const char *what)
{
    Image im;
    Err err = {0};
    memset(&im, 0xAB, sizeof im);
    int rc = image_decode_file(path, 3, 0, 0, &im, NULL, NULL, &err);
    ck_assert_msg(rc == ERR_RUNTIME, "%s decoded (rc %d), expected an error containing '%s'", path, rc, what);
    ck_assert_int_eq(err.code, ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, what) != NULL, "message '%s' lacks '%s'", err.msg, what);
    ck_assert_msg(im.px == NULL, "pixels left behind on error");
}

static void write_bytes(const char *name, const void *d, size_t n)
{
    char buf[1024];
    tu_write(dir, name, d, n, buf, sizeof buf);
}

START_TEST(bad_files_are_clear_errors)
{
    write_bytes("empty.jpg", "", 0);
    expect_bad(pth("empty.jpg"), "empty file");
    write_bytes("anim.jpg", "GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14);
    expect_bad(pth("anim.jpg"), "not a JPEG or PNG image (looks like GIF)");
    write_bytes("x.bmp", "BM\x3a\0\0\0\0\0\0\0\x36\0\0\0", 14);
    expect_bad(pth("x.bmp"), "looks like BMP");
    write_bytes("x.webp", "RIFF\x24\0\0\0WEBPVP8 ", 16);
    expect_bad(pth("x.webp"), "looks like WebP");
    write_bytes("notes.png", "this is not an image\n", 21);
    expect_bad(pth("notes.png"), "looks like text");
    write_bytes("noise.jpg", "\x01\x02\x03\x04\x00\xff\xfe", 7);
    expect_bad(pth("noise.jpg"), "unknown format");
    expect_bad(pth("missing.jpg"), "cannot open");
    expect_bad(dir, "not a regular file");
}
END_TEST

START_TEST(truncated_and_corrupt_files_are_errors)
{
    uint8_t *px = quad_rgb(64, 64);
    for (int i = 0; i < 64 * 64 * 3; i++) px[i] ^= (uint8_t)(i * 13);  /* busy picture: big entropy segment */
    ti_write_jpeg(pth("full.jpg"), 64, 64, 3, px, 90, 0);
    ti_write_jpeg(pth("fullp.jpg"), 64, 64, 3, px, 90, TI_JPEG_PROGRESSIVE);
    ti_write_png(pth("full.png"), 64, 64, 3, px);
    free(px);
    const char *srcs[] = {"full.jpg", "fullp.jpg", "full.png"};
    for (int s = 0; s < 3; s++) {
        size_t n;
        uint8_t *d = ti_read_all(pth(srcs[s]), &n);
        const size_t cuts[] = {3, 9, 40, n / 3, n / 2, n - 40};
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            char name[64];
            snprintf(name, sizeof name, "cut%zu_%s", c, srcs[s]);
            write_bytes(name, d, cuts[c]);
            expect_bad(pth(name), cuts[c] < 8 && s == 2 ? "not a JPEG or PNG" : s < 2 && cuts[c] > 200 ? "truncated JPEG" : "");
        }
        /* a corrupt header: the bytes after the signature overwritten */
        uint8_t *bad = malloc(n);
        memcpy(bad, d, n);
        memset(bad + (s == 2 ? 16 : 4), 0x5a, s == 2 ? 8 : 40);  /* PNG: inside IHDR */
        char name[64];
        snprintf(name, sizeof name, "hdr_%s", srcs[s]);
        write_bytes(name, bad, n);
        expect_bad(pth(name), s == 2 ? "corrupt PNG" : "corrupt JPEG");
        /* a header claiming a huge image (PNG: refused before allocating) */
        if (s == 2) {
            uint8_t *big = malloc(n);
            memcpy(big, d, n);
            big[16] = 0, big[17] = 0, big[18] = 0x30, big[19] = 0;  /* width 12288 */
            big[20] = 0, big[21] = 0, big[22] = 0x30, big[23] = 0;  /* height 12288 */
            uLong crc = crc32(0L, big + 12, 17);                   /* keep the IHDR CRC valid */
            big[29] = (uint8_t)(crc >> 24), big[30] = (uint8_t)(crc >> 16), big[31] = (uint8_t)(crc >> 8),
            big[32] = (uint8_t)crc;
            write_bytes("huge.png", big, n);
            expect_bad(pth("huge.png"), "12288x12288 pixels cannot come from");
            free(big);
        }
        /* a corrupt middle (PNG: the IDAT CRC catches it) */
        if (s == 2) {
            memcpy(bad, d, n);
            for (size_t i = n / 2; i < n / 2 + 16; i++) bad[i] ^= 0xff;
            write_bytes("mid_full.png", bad, n);
            expect_bad(pth("mid_full.png"), "corrupt PNG");
        }
        free(bad);
        free(d);
    }
}
END_TEST

START_TEST(bad_channel_count_is_usage_error)
{
    uint8_t px[12] = {0};
    ti_write_png(pth("t.png"), 2, 2, 3, px);
    Image im;
    Err err = {0};
    ck_assert_int_eq(image_decode_file(pth("t.png"), 2, 0, 0, &im, NULL, NULL, &err), ERR_USAGE);
    ck_assert_ptr_null(im.px);
}
END_TEST


START_TEST(random_corruption_never_crashes)
{
    /* Flip, zero and cut bytes all over valid files: every result is either
     * an image or an error naming the file (ASan/UBSan watch the rest). */
    uint8_t *px = quad_rgb(48, 40);
    ti_write_jpeg(pth("c.jpg"), 48, 40, 3, px, 90, 0);
    ti_write_jpeg(pth("cp.jpg"), 48, 40, 3, px, 90, TI_JPEG_PROGRESSIVE);
    ti_write_png_raw(pth("ci.png"), 48, 40, PNG_COLOR_TYPE_RGB, 8, 1, px, 48 * 3, NULL, 0, NULL, 0, NULL);
    free(px);
    const char *srcs[] = {"c.jpg", "cp.jpg", "ci.png"};
    int rounds = getenv("FASTC_SANITIZED") ? 60 : 300;
    uint64_t st = 12345;
    for (int s = 0; s < 3; s++) {
        size_t n;
        uint8_t *d = ti_read_all(pth(srcs[s]), &n);
        uint8_t *m = malloc(n);
        for (int r = 0; r < rounds; r++) {
            memcpy(m, d, n);
            size_t len = n;
            int k = 1 + r % 8;
            for (int j = 0; j < k; j++) {
                st = st * 6364136223846793005ULL + 1442695040888963407ULL;
                size_t at = (size_t)(st >> 33) % n;
                m[at] = (r & 1) ? (uint8_t)(st >> 20) : (uint8_t)(m[at] ^ (1u << (st >> 60 & 7)));
            }
            if (r % 5 == 4) len = 3 + (size_t)(st >> 40) % (n - 3);
            Image im;
            Err err = {0};
            int rc = image_decode_mem(m, len, "fuzzed", 3, r % 3 ? 0 : 20, r % 3 ? 0 : 20, &im, NULL, NULL, &err);
            if (rc == 0) {
                ck_assert(im.w > 0 && im.h > 0 && im.px);
                image_free(&im);
            } else {
                ck_assert_int_eq(rc, ERR_RUNTIME);
                ck_assert_msg(strncmp(err.msg, "fuzzed: ", 8) == 0, "%s", err.msg);
                ck_assert_ptr_null(im.px);
            }
        }
        free(m);
        free(d);
    }
}
END_TEST

/* A progressive JPEG whose last scan is repeated so the file holds n_scans
 * scans in all (the decoder warns of a bogus progression and goes on: this is
 * how a few hundred KB become minutes of CPU). */
static void write_many_scans(const char *path, int n_scans)
{
    uint8_t *px = quad_rgb(48, 40);
    ti_write_jpeg(path, 48, 40, 3, px, 90, TI_JPEG_PROGRESSIVE);
    free(px);
    size_t n;
    uint8_t *b = ti_read_all(path, &n);
    ck_assert(b && n > 4 && b[n - 2] == 0xFF && b[n - 1] == 0xD9);
    size_t last = 0;
    int scans = 0;
    for (size_t i = 2; i + 1 < n; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xDA) last = i, scans++;   /* SOS (0xFF in entropy data is stuffed) */
    ck_assert(last > 0 && scans >= 2 && scans < n_scans);
    size_t scan_len = n - 2 - last, total = last + (size_t)(n_scans - scans + 1) * scan_len + 2;
    uint8_t *o = malloc(total);
    memcpy(o, b, last);
    size_t k = last;
    for (int i = 0; i < n_scans - scans + 1; i++, k += scan_len) memcpy(o + k, b + last, scan_len);
    o[k] = 0xFF, o[k + 1] = 0xD9;
    FILE *f = fopen(path, "wb");
    ck_assert(f && fwrite(o, 1, total, f) == total);
    fclose(f);
    free(o), free(b);
}

START_TEST(jpeg_with_too_many_scans_is_refused)
{
    /* up to the limit: decoded (the repeated refinement scans change the
     * pixels, as in any decoder); past it: refused with the reason */
    Image im;
    write_many_scans(pth("500.jpg"), 500);
    decode_ok(pth("500.jpg"), 3, 0, 0, &im, NULL, NULL);
    ck_assert(im.w == 48 && im.h == 40);
    image_free(&im);
    write_many_scans(pth("many.jpg"), 5000);
    for (int ch = 1; ch <= 4; ch += 3) {
        Err err = {0};
        memset(&im, 0, sizeof im);
        ck_assert_int_eq(image_decode_file(pth("many.jpg"), ch, 16, 16, &im, NULL, NULL, &err), ERR_RUNTIME);
        ck_assert_msg(strstr(err.msg, "many.jpg: progressive JPEG with more than 500 scans"), "%s", err.msg);
        ck_assert_ptr_null(im.px);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, jpeg_baseline_and_progressive_rgb);
    tcase_add_test(tc, jpeg_with_too_many_scans_is_refused);
    tcase_add_test(tc, jpeg_grayscale_replicates_to_rgb);
    tcase_add_test(tc, jpeg_cmyk_adobe_inverted_plain_and_ycck);
    tcase_add_test(tc, jpeg_dct_scaling_picks_smallest_size_still_large_enough);
    tcase_add_test(tc, png_rgb_rgba_gray_grayalpha_8bit_exact);
    tcase_add_test(tc, png_16bit_takes_high_byte);
    tcase_add_test(tc, png_palette_with_trns_and_low_bit_gray);
    tcase_add_test(tc, png_interlaced_equals_plain);
    tcase_add_test(tc, format_comes_from_magic_bytes_not_extension);
    tcase_add_test(tc, bad_files_are_clear_errors);
    tcase_add_test(tc, truncated_and_corrupt_files_are_errors);
    tcase_add_test(tc, bad_channel_count_is_usage_error);
    tcase_add_test(tc, random_corruption_never_crashes);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
