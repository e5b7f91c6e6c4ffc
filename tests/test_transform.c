/* test_transform.c — src/data/transform: PIL-exact bilinear resize, fastai's
 * Resize / RandomResizedCrop geometry on train and valid, and points moving
 * with the image. */
#include "check_main.h"
#include "data/transform.h"
#include "reference/resize_fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the formula of tests/reference/make_resize_fixture.py */
static uint8_t rf_pixel(int x, int y, int c)
{
    return (uint8_t)((x * 37 + y * 101 + c * 53 + ((x * y) % 17) * 11 + (x * x) % 7) & 255);
}

static Image make_image(int w, int h, int c, uint8_t (*f)(int, int, int))
{
    Image im = {w, h, c, malloc((size_t)w * h * c)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) im.px[((size_t)y * w + x) * c + k] = f(x, y, k);
    return im;
}

START_TEST(resize_matches_pil_bilinear_exactly)
{
    TfmScratch s = {0};
    /* both the fast resize and its plain reference */
    for (size_t i = 0; i < 2 * sizeof rf_cases / sizeof rf_cases[0]; i++) {
        const ResizeCase *rc = &rf_cases[i / 2];
        int (*resize)(uint8_t *, int, int, const uint8_t *, int, int, int, int, int, int, int, TfmScratch *) =
            i % 2 ? tfm_resize_bilinear_ref : tfm_resize_bilinear;
        Image im = make_image(RF_W, RF_H, rc->c, rf_pixel);
        uint8_t *out = malloc((size_t)rc->dw * rc->dh * rc->c);
        if (rc->pad) {
            uint8_t *pad = malloc((size_t)rc->cw * rc->ch * rc->c);
            tfm_crop_pad(pad, im.px, im.w, im.h, im.c, rc->x0, rc->y0, rc->cw, rc->ch, PAD_REFLECTION);
            resize(out, rc->dw, rc->dh, pad, rc->cw, rc->ch, rc->c, 0, 0, rc->cw, rc->ch, &s);
            free(pad);
        } else {
            resize(out, rc->dw, rc->dh, im.px, im.w, im.h, im.c, rc->x0, rc->y0, rc->cw, rc->ch, &s);
        }
        int worst = 0, n = rc->dw * rc->dh * rc->c;
        for (int j = 0; j < n; j++) {
            int d = abs((int)out[j] - (int)rc->px[j]);
            if (d > worst) worst = d;
        }
        /* PIL's fixed-point arithmetic is reproduced, so the match is exact */
        ck_assert_msg(worst == 0, "case %zu%s (%dx%d -> %dx%d): max |diff| %d", i / 2, i % 2 ? " (plain)" : "", rc->cw, rc->ch, rc->dw, rc->dh,
                      worst);
        free(out);
        image_free(&im);
    }
    tfm_scratch_free(&s);
}
END_TEST

START_TEST(fast_resize_matches_the_plain_reference)
{
    /* random pixels, every channel count, crops, down/up/mixed, and downscales
     * wide enough (> ~5x) that the fast pass falls back to its plain loop */
    static const int sz[][6] = {   /* sw, sh, dw, dh, crop?, c */
        {224, 224, 128, 128, 0, 3}, {224, 224, 128, 128, 1, 1}, {500, 375, 460, 460, 1, 3},
        {37, 23, 16, 10, 0, 4},     {37, 23, 50, 31, 0, 3},     {640, 480, 64, 48, 0, 3},
        {1000, 40, 7, 40, 0, 3},    {41, 1000, 41, 9, 0, 1},    {129, 67, 128, 66, 1, 3},
        {17, 300, 33, 5, 0, 3},     {3, 3, 1, 1, 0, 3},         {300, 200, 299, 17, 1, 4},
    };
    TfmScratch s = {0};
    Rng r = rng_make(5, 5);
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        int sw = sz[i][0], sh = sz[i][1], dw = sz[i][2], dh = sz[i][3], c = sz[i][5];
        int x0 = 0, y0 = 0, cw = sw, ch = sh;
        if (sz[i][4]) x0 = sw / 7, y0 = sh / 5, cw = sw - x0 - sw / 9, ch = sh - y0 - 1;
        Image im = {sw, sh, c, malloc((size_t)sw * sh * c)};
        for (size_t j = 0; j < (size_t)sw * sh * c; j++) im.px[j] = (uint8_t)rng_below(&r, 256);
        size_t n = (size_t)dw * dh * c;
        uint8_t *a = malloc(n), *b = malloc(n);
        tfm_resize_bilinear(a, dw, dh, im.px, sw, sh, c, x0, y0, cw, ch, &s);
        tfm_resize_bilinear_ref(b, dw, dh, im.px, sw, sh, c, x0, y0, cw, ch, &s);
        size_t bad = 0;
        for (size_t j = 0; j < n; j++) bad += a[j] != b[j];
        ck_assert_msg(bad == 0, "case %zu (%dx%d box %dx%d -> %dx%d, c=%d): %zu bytes differ", i, sw, sh, cw, ch, dw,
                      dh, c, bad);
        free(a), free(b);
        image_free(&im);
    }
    tfm_scratch_free(&s);
}
END_TEST

static uint8_t zero_px(int x, int y, int c) { (void)x, (void)y, (void)c; return 0; }

static ItemTfm resize_tfm(int h, int w, ResizeMethod m)
{
    ItemTfm t = {.kind = ITFM_RESIZE, .h = h, .w = w, .method = m, .pad_mode = PAD_REFLECTION};
    return t;
}

START_TEST(resize_crop_valid_takes_the_centre_and_moves_points)
{
    /* 40x20 to 10x10: m = min(40/10, 20/10) = 2, crop 20x20 at x = int(0.5*(40-20)) = 10 */
    ItemTfm t = resize_tfm(10, 10, RESIZE_CROP);
    int x0, y0, cw, ch, rw, rh;
    item_tfm_geometry(&t, 40, 20, 0, NULL, &x0, &y0, &cw, &ch, &rw, &rh);
    ck_assert_int_eq(x0, 10); ck_assert_int_eq(y0, 0); ck_assert_int_eq(cw, 20); ck_assert_int_eq(ch, 20);
    ck_assert_int_eq(rw, 0);

    Image im = make_image(40, 20, 3, zero_px);
    /* a bright 2x2 block at pixels (14..15, 4..5): its centre is the point (16, 6) in
     * edge coordinates... the block spans x in [14, 16), so its centre is x = 15 */
    for (int y = 4; y < 6; y++)
        for (int x = 14; x < 16; x++) memset(im.px + ((size_t)y * 40 + x) * 3, 255, 3);
    float pts[2] = {15.0f, 5.0f};
    ImageBuf out = {0};
    TfmScratch s = {0};
    Err err = {0};
    ck_assert_int_eq(item_tfm_apply(&t, &im, 0, NULL, &out, pts, 1, &s, &err), 0);
    ck_assert_int_eq(out.img.w, 10); ck_assert_int_eq(out.img.h, 10);
    ck_assert_float_eq_tol(pts[0], 2.5f, 1e-6); ck_assert_float_eq_tol(pts[1], 2.5f, 1e-6);
    /* the block lands on output pixel (2, 2), whose centre is (2.5, 2.5) */
    int best = -1, bi = 0;
    for (int i = 0; i < 100; i++)
        if (out.img.px[i * 3] > best) best = out.img.px[i * 3], bi = i;
    ck_assert_int_eq(bi % 10, 2); ck_assert_int_eq(bi / 10, 2);
    image_free(&im); image_buf_free(&out); tfm_scratch_free(&s);
}
END_TEST

START_TEST(resize_crop_train_is_random_inside_and_keyed)
{
    ItemTfm t = resize_tfm(10, 10, RESIZE_CROP);
    int seen_min = 1000, seen_max = -1;
    for (int k = 0; k < 200; k++) {
        Rng r = rng_make(42, k), r2 = rng_make(42, k);
        int x0, y0, cw, ch, rw, rh, a, b, c, d;
        item_tfm_geometry(&t, 40, 20, 1, &r, &x0, &y0, &cw, &ch, &rw, &rh);
        item_tfm_geometry(&t, 40, 20, 1, &r2, &a, &b, &c, &d, &rw, &rh);
        ck_assert_int_eq(x0, a);
        ck_assert(x0 >= 0 && x0 <= 20 && y0 == 0 && cw == 20 && ch == 20);
        if (x0 < seen_min) seen_min = x0;
        if (x0 > seen_max) seen_max = x0;
    }
    ck_assert_int_le(seen_min, 2); ck_assert_int_ge(seen_max, 18);
    ck_assert(item_tfm_is_random(&t, 1)); ck_assert(!item_tfm_is_random(&t, 0));
}
END_TEST

START_TEST(resize_pad_reflects_and_points_shift)
{
    /* 40x20 to 10x10 with pad: m = max(4, 2) = 4, box 40x40 at y = int(0.5*(20-40)) = -10 */
    ItemTfm t = resize_tfm(10, 10, RESIZE_PAD);
    int x0, y0, cw, ch, rw, rh;
    item_tfm_geometry(&t, 40, 20, 0, NULL, &x0, &y0, &cw, &ch, &rw, &rh);
    ck_assert_int_eq(x0, 0); ck_assert_int_eq(y0, -10); ck_assert_int_eq(cw, 40); ck_assert_int_eq(ch, 40);
    Image im = make_image(40, 20, 1, rf_pixel);
    uint8_t *pad = malloc(40 * 40);
    tfm_crop_pad(pad, im.px, 40, 20, 1, 0, -10, 40, 40, PAD_REFLECTION);
    /* numpy 'reflect': row -1 is row 1, row 20 is row 18 */
    for (int x = 0; x < 40; x++) {
        ck_assert_int_eq(pad[9 * 40 + x], im.px[1 * 40 + x]);
        ck_assert_int_eq(pad[30 * 40 + x], im.px[18 * 40 + x]);
        ck_assert_int_eq(pad[10 * 40 + x], im.px[x]);
    }
    tfm_crop_pad(pad, im.px, 40, 20, 1, 0, -10, 40, 40, PAD_ZEROS);
    ck_assert_int_eq(pad[9 * 40 + 3], 0);
    tfm_crop_pad(pad, im.px, 40, 20, 1, 0, -10, 40, 40, PAD_BORDER);
    ck_assert_int_eq(pad[0 * 40 + 3], im.px[3]);
    free(pad);
    float pts[2] = {20.0f, 10.0f};
    ImageBuf out = {0};
    TfmScratch s = {0};
    Err err = {0};
    ck_assert_int_eq(item_tfm_apply(&t, &im, 0, NULL, &out, pts, 1, &s, &err), 0);
    ck_assert_float_eq_tol(pts[0], 5.0f, 1e-6); ck_assert_float_eq_tol(pts[1], 5.0f, 1e-6);
    image_free(&im); image_buf_free(&out); tfm_scratch_free(&s);
}
END_TEST

START_TEST(resize_squish_and_tuple_size_is_height_width)
{
    ItemTfm t = resize_tfm(5, 10, RESIZE_SQUISH);  /* Resize((5, 10)): h = 5, w = 10 */
    Image im = make_image(40, 20, 3, rf_pixel);
    float pts[4] = {20.0f, 10.0f, 40.0f, 0.0f};
    ImageBuf out = {0};
    TfmScratch s = {0};
    Err err = {0};
    ck_assert_int_eq(item_tfm_apply(&t, &im, 1, NULL, &out, pts, 2, &s, &err), 0);
    ck_assert_int_eq(out.img.w, 10); ck_assert_int_eq(out.img.h, 5);
    ck_assert_float_eq_tol(pts[0], 5.0f, 1e-6); ck_assert_float_eq_tol(pts[1], 2.5f, 1e-6);
    ck_assert_float_eq_tol(pts[2], 10.0f, 1e-6); ck_assert_float_eq_tol(pts[3], 0.0f, 1e-6);
    ck_assert(!item_tfm_is_random(&t, 1));
    image_free(&im); image_buf_free(&out); tfm_scratch_free(&s);
}
END_TEST

START_TEST(rrc_valid_resizes_with_val_xtra_then_centre_crops)
{
    ItemTfm t = {.kind = ITFM_RRC, .h = 64, .w = 64, .min_scale = 0.08, .max_scale = 1,
                 .ratio_lo = 0.75, .ratio_hi = 4.0 / 3, .val_xtra = 0.14};
    int x0, y0, cw, ch, rw, rh;
    item_tfm_geometry(&t, 100, 50, 0, NULL, &x0, &y0, &cw, &ch, &rw, &rh);
    /* xtra = ceil(64*0.14/8)*8 = 16: squish to 80x80, centre crop 64 at offset 8 */
    ck_assert_int_eq(rw, 80); ck_assert_int_eq(rh, 80);
    Image im = make_image(100, 50, 3, rf_pixel);
    float pts[2] = {50.0f, 25.0f};
    ImageBuf out = {0};
    TfmScratch s = {0};
    Err err = {0};
    ck_assert_int_eq(item_tfm_apply(&t, &im, 0, NULL, &out, pts, 1, &s, &err), 0);
    ck_assert_int_eq(out.img.w, 64); ck_assert_int_eq(out.img.h, 64);
    ck_assert_float_eq_tol(pts[0], 32.0f, 1e-5); ck_assert_float_eq_tol(pts[1], 32.0f, 1e-5);
    /* the output is the centre of the full squish */
    uint8_t *full = malloc(80 * 80 * 3);
    tfm_resize_bilinear(full, 80, 80, im.px, 100, 50, 3, 0, 0, 100, 50, &s);
    for (int y = 0; y < 64; y++)
        ck_assert(!memcmp(out.img.px + y * 64 * 3, full + ((y + 8) * 80 + 8) * 3, 64 * 3));
    free(full);
    image_free(&im); image_buf_free(&out); tfm_scratch_free(&s);
}
END_TEST

START_TEST(rrc_train_crops_within_scale_and_ratio_with_centre_fallback)
{
    ItemTfm t = {.kind = ITFM_RRC, .h = 32, .w = 32, .min_scale = 0.35, .max_scale = 1,
                 .ratio_lo = 0.75, .ratio_hi = 4.0 / 3, .val_xtra = 0.14};
    for (int k = 0; k < 300; k++) {
        Rng r = rng_make(7, k);
        int x0, y0, cw, ch, rw, rh;
        item_tfm_geometry(&t, 120, 90, 1, &r, &x0, &y0, &cw, &ch, &rw, &rh);
        ck_assert(x0 >= 0 && y0 >= 0 && x0 + cw <= 120 && y0 + ch <= 90);
        double area = (double)cw * ch / (120.0 * 90), ratio = (double)cw / ch;
        ck_assert_msg(area > 0.33 && area <= 1.0, "area %g", area);
        ck_assert_msg(ratio > 0.73 && ratio < 1.36, "ratio %g", ratio);
    }
    /* min_scale = 1 on a 100x50 image never fits: centre crop clipped to ratio 4/3 */
    t.min_scale = 1;
    Rng r = rng_make(1, 1);
    int x0, y0, cw, ch, rw, rh;
    item_tfm_geometry(&t, 100, 50, 1, &r, &x0, &y0, &cw, &ch, &rw, &rh);
    ck_assert_int_eq(cw, 66); ck_assert_int_eq(ch, 50); ck_assert_int_eq(x0, 17); ck_assert_int_eq(y0, 0);
    /* points shift by the crop and scale by the resize */
    Image im = make_image(100, 50, 3, rf_pixel);
    float pts[2] = {50.0f, 25.0f};
    ImageBuf out = {0};
    TfmScratch s = {0};
    Err err = {0};
    r = rng_make(1, 1);
    ck_assert_int_eq(item_tfm_apply(&t, &im, 1, &r, &out, pts, 1, &s, &err), 0);
    ck_assert_float_eq_tol(pts[0], (50.0f - 17) * 32 / 66, 1e-4);
    ck_assert_float_eq_tol(pts[1], 16.0f, 1e-4);
    image_free(&im); image_buf_free(&out); tfm_scratch_free(&s);
}
END_TEST

START_TEST(item_tfms_sequence_applies_in_order_and_moves_points)
{
    /* Resize((10, 20), method='squish') then Resize(10) (crop) on a 40x20
     * image: the squish halves everything (point (20, 10) -> (10, 5)), then the
     * 20x10 result is centre-cropped to 10x10 at x0 = int(0.5*(20-10)) = 5
     * (point -> (5, 5)). */
    ItemTfms ts = {.n = 2};
    ts.t[0] = resize_tfm(10, 20, RESIZE_SQUISH);
    ts.t[1] = resize_tfm(10, 10, RESIZE_CROP);
    Image im = make_image(40, 20, 3, zero_px);
    for (int y = 8; y < 12; y++)   /* a bright 4x4 block centred on (20, 10) */
        for (int x = 18; x < 22; x++) memset(im.px + ((size_t)y * 40 + x) * 3, 255, 3);
    float pts[4] = {20.0f, 10.0f, 30.0f, 0.0f};
    ImageBuf out = {0}, tmp[2] = {{.cap = 0}, {.cap = 0}};
    TfmScratch s = {0};
    Err err = {0};
    ck_assert_int_eq(item_tfms_apply(&ts, &im, 0, NULL, &out, tmp, pts, 2, &s, &err), 0);
    ck_assert_int_eq(out.img.w, 10); ck_assert_int_eq(out.img.h, 10);
    ck_assert_float_eq_tol(pts[0], 5.0f, 1e-6); ck_assert_float_eq_tol(pts[1], 5.0f, 1e-6);
    ck_assert_float_eq_tol(pts[2], 10.0f, 1e-6); ck_assert_float_eq_tol(pts[3], 0.0f, 1e-6);
    /* the block (now 2x2 around (5, 5)) is the brightest part of the output */
    int best = -1, bi = 0;
    for (int i = 0; i < 100; i++)
        if (out.img.px[i * 3] > best) best = out.img.px[i * 3], bi = i;
    ck_assert_msg(bi % 10 >= 4 && bi % 10 <= 5 && bi / 10 >= 4 && bi / 10 <= 5, "brightest pixel %d", bi);
    ck_assert(!item_tfms_is_random(&ts, 0));
    ck_assert(item_tfms_is_random(&ts, 1));   /* the crop is random on train */
    int mw, mh;
    item_tfms_decode_hint(&ts, 0, &mw, &mh);  /* the first transform's: the squish needs 20x10 */
    ck_assert_int_eq(mw, 20); ck_assert_int_eq(mh, 10);
    image_free(&im); image_buf_free(&out); image_buf_free(&tmp[0]); image_buf_free(&tmp[1]);
    tfm_scratch_free(&s);
}
END_TEST

START_TEST(item_tfms_sequence_on_train_equals_the_steps_one_by_one)
{
    /* fastai's `item_tfms = [Resize(460), RandomResizedCrop(224, min_scale=0.75)]`, scaled
     * down: Resize(46) then RandomResizedCrop(22, min_scale=0.75) on a 60x50
     * image, random on train; each step draws from the same Rng in turn. */
    ItemTfms ts = {.n = 2};
    ts.t[0] = resize_tfm(46, 46, RESIZE_CROP);
    ts.t[1] = (ItemTfm){.kind = ITFM_RRC, .h = 22, .w = 22, .min_scale = 0.75, .max_scale = 1,
                        .ratio_lo = 0.75, .ratio_hi = 4.0 / 3, .val_xtra = 0.14};
    Image im = make_image(60, 50, 3, rf_pixel);
    TfmScratch s = {0};
    Err err = {0};
    for (int k = 0; k < 20; k++) {
        Rng r = rng_make(3, k), r2 = rng_make(3, k);
        float pts[2] = {31.0f, 17.0f}, want[2] = {31.0f, 17.0f};
        ImageBuf out = {0}, tmp[2] = {{.cap = 0}, {.cap = 0}}, a = {0}, b = {0};
        ck_assert_int_eq(item_tfms_apply(&ts, &im, 1, &r, &out, tmp, pts, 1, &s, &err), 0);
        ck_assert_int_eq(item_tfm_apply(&ts.t[0], &im, 1, &r2, &a, want, 1, &s, &err), 0);
        /* step 1's geometry: the largest 50x50 square at a random x, resized to 46 */
        ck_assert_int_eq(a.img.w, 46); ck_assert_int_eq(a.img.h, 46);
        ck_assert_int_eq(item_tfm_apply(&ts.t[1], &a.img, 1, &r2, &b, want, 1, &s, &err), 0);
        ck_assert_int_eq(out.img.w, 22); ck_assert_int_eq(out.img.h, 22);
        ck_assert(!memcmp(out.img.px, b.img.px, 22 * 22 * 3));
        ck_assert(pts[0] == want[0] && pts[1] == want[1]);
        image_buf_free(&out), image_buf_free(&tmp[0]), image_buf_free(&tmp[1]);
        image_buf_free(&a), image_buf_free(&b);
    }
    /* on valid: Resize's centre crop (x0 = 5), then RandomResizedCrop's squish to
     * 22 + ceil(22*0.14/8)*8 = 30 and centre crop 22 (offset 4): a point follows */
    float pts[2] = {30.0f, 25.0f};
    ImageBuf out = {0}, tmp[2] = {{.cap = 0}, {.cap = 0}};
    ck_assert_int_eq(item_tfms_apply(&ts, &im, 0, NULL, &out, tmp, pts, 1, &s, &err), 0);
    ck_assert_float_eq_tol(pts[0], (30.0f - 5) * 46 / 50 * 30 / 46 - 4, 1e-4);
    ck_assert_float_eq_tol(pts[1], 25.0f * 46 / 50 * 30 / 46 - 4, 1e-4);
    image_buf_free(&out), image_buf_free(&tmp[0]), image_buf_free(&tmp[1]);
    image_free(&im);
    tfm_scratch_free(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("transform");
    TCase *tc = tcase_create("transform");
    tcase_add_test(tc, resize_matches_pil_bilinear_exactly);
    tcase_add_test(tc, fast_resize_matches_the_plain_reference);
    tcase_add_test(tc, item_tfms_sequence_applies_in_order_and_moves_points);
    tcase_add_test(tc, item_tfms_sequence_on_train_equals_the_steps_one_by_one);
    tcase_add_test(tc, resize_crop_valid_takes_the_centre_and_moves_points);
    tcase_add_test(tc, resize_crop_train_is_random_inside_and_keyed);
    tcase_add_test(tc, resize_pad_reflects_and_points_shift);
    tcase_add_test(tc, resize_squish_and_tuple_size_is_height_width);
    tcase_add_test(tc, rrc_valid_resizes_with_val_xtra_then_centre_crops);
    tcase_add_test(tc, rrc_train_crops_within_scale_and_ratio_with_centre_fallback);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
