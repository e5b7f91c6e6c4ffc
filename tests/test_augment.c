/* test_augment.c — src/data/augment: each batch transform's geometry on known
 * inputs, points mapped exactly as the image is resampled, lighting and
 * Normalize formulas, and fastai's random distributions. */
#include "check_main.h"
#include "data/augment.h"
#include "data/transform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static Image pattern(int w, int h, int c)
{
    Image im = {w, h, c, malloc((size_t)w * h * c)};
    for (int i = 0; i < w * h * c; i++) im.px[i] = (uint8_t)((i * 37 + (i / 7) * 11) & 255);
    return im;
}

static BatchTfm plain(void)
{
    BatchTfm t;
    batch_tfm_init(&t);
    t.aug = 1;
    t.pad_mode = PAD_REFLECTION;
    return t;
}

START_TEST(valid_is_int_to_float_then_normalize)
{
    BatchTfm t;
    batch_tfm_init(&t);
    t.normalize = 1;
    ck_assert(aug_stats("imagenet_stats", t.mean, t.std));
    Image im = pattern(7, 5, 3);
    AugDraw d;
    batch_tfm_draw(&t, 7, 5, 0, NULL, &d);
    float out[7 * 5 * 3];
    AugScratch s = {0};
    batch_tfm_apply(&t, &d, &im, 0, out, 7, 5, NULL, 0, &s);
    for (int i = 0; i < 7 * 5 * 3; i++) {
        float want = (im.px[i] / 255.0f - t.mean[i % 3]) / t.std[i % 3];
        ck_assert_float_eq_tol(out[i], want, 1e-5);
    }
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

START_TEST(flip_mirrors_the_image_and_negates_x)
{
    BatchTfm t = plain();
    Image im = pattern(9, 6, 3);
    AugDraw d;
    aug_draw_neutral(&d);
    d.flip = 1;
    float out[9 * 6 * 3], pts[4] = {0.3f, -0.2f, -1.0f, 1.0f};
    AugScratch s = {0};
    batch_tfm_apply(&t, &d, &im, 1, out, 9, 6, pts, 2, &s);
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 9; x++)
            for (int k = 0; k < 3; k++)
                ck_assert_float_eq_tol(out[(y * 9 + x) * 3 + k], im.px[(y * 9 + (8 - x)) * 3 + k] / 255.0f, 1e-5);
    ck_assert_float_eq_tol(pts[0], -0.3f, 1e-6); ck_assert_float_eq_tol(pts[1], -0.2f, 1e-6);
    ck_assert_float_eq_tol(pts[2], 1.0f, 1e-6); ck_assert_float_eq_tol(pts[3], 1.0f, 1e-6);
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

START_TEST(rotation_by_90_degrees_maps_pixels_and_points)
{
    BatchTfm t = plain();
    Image im = pattern(9, 9, 1);
    AugDraw d;
    aug_draw_neutral(&d);
    d.rotate_deg = 90;
    float out[81], pts[2] = {0.5f, -0.25f};
    AugScratch s = {0};
    batch_tfm_apply(&t, &d, &im, 1, out, 9, 9, pts, 1, &s);
    /* fastai's rotate_mat: the output (u, v) samples the input at (v, -u) */
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 9; x++) ck_assert_float_eq_tol(out[y * 9 + x], im.px[(8 - x) * 9 + y] / 255.0f, 1e-4);
    ck_assert_float_eq_tol(pts[0], 0.25f, 1e-6); ck_assert_float_eq_tol(pts[1], 0.5f, 1e-6);
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

START_TEST(zoom_takes_the_chosen_corner_and_points_follow)
{
    BatchTfm t = plain();
    Image im = pattern(9, 9, 1);
    AugDraw d;
    aug_draw_neutral(&d);
    d.zoom = 2, d.zoom_col = 1, d.zoom_row = 0;  /* zoom into the top-right quarter */
    double A[6], H[9];
    aug_matrices(&d, 9, 9, A, H);
    ck_assert_double_eq_tol(A[0], 0.5, 1e-12); ck_assert_double_eq_tol(A[2], 0.5, 1e-12);
    ck_assert_double_eq_tol(A[4], 0.5, 1e-12); ck_assert_double_eq_tol(A[5], -0.5, 1e-12);
    float out[81], pts[2] = {0.75f, -0.5f};
    AugScratch s = {0};
    batch_tfm_apply(&t, &d, &im, 1, out, 9, 9, pts, 1, &s);
    /* output (0,0) is input (4,0), output (8,8) is input (8,4): pixel centres line up */
    ck_assert_float_eq_tol(out[0], im.px[4] / 255.0f, 1e-5);
    ck_assert_float_eq_tol(out[80], im.px[4 * 9 + 8] / 255.0f, 1e-5);
    ck_assert_float_eq_tol(pts[0], 0.5f, 1e-6); ck_assert_float_eq_tol(pts[1], 0.0f, 1e-6);
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

START_TEST(warp_points_take_the_inverse_of_the_grid)
{
    AugDraw d;
    aug_draw_neutral(&d);
    d.warp_x = 0.15, d.warp_y = -0.1, d.rotate_deg = 7, d.zoom = 1.05, d.zoom_col = 0.3, d.zoom_row = 0.8;
    double A[6], H[9];
    aug_matrices(&d, 40, 30, A, H);
    /* fastai's warp corners: the grid corner (-1,-1) after the affine is sent
     * by H to where the target corner was */
    BatchTfm t = plain();
    Image im = pattern(40, 30, 1);
    AugScratch s = {0};
    float *out = malloc(sizeof(float) * 40 * 30);
    for (double u = -0.8; u <= 0.8; u += 0.4)
        for (double v = -0.8; v <= 0.8; v += 0.4) {
            /* forward-map an output point to the input, then map it back as a target */
            double xa = A[0] * u + A[1] * v + A[2], ya = A[3] * u + A[4] * v + A[5];
            double den = H[6] * xa + H[7] * ya + H[8];
            float pts[2] = {(float)((H[0] * xa + H[1] * ya + H[2]) / den), (float)((H[3] * xa + H[4] * ya + H[5]) / den)};
            batch_tfm_apply(&t, &d, &im, 1, out, 40, 30, pts, 1, &s);
            ck_assert_float_eq_tol(pts[0], u, 1e-5); ck_assert_float_eq_tol(pts[1], v, 1e-5);
        }
    free(out);
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

/* intensity centroid of channel 0, in [-1, 1] point coordinates */
static void centroid(const float *img, int w, int h, double *cx, double *cy)
{
    double sx = 0, sy = 0, sw = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v = img[y * w + x];
            v = v > 0.05 ? v : 0;
            sx += v * (x + 0.5), sy += v * (y + 0.5), sw += v;
        }
    *cx = sx / sw / w * 2 - 1, *cy = sy / sw / h * 2 - 1;
}

START_TEST(resampled_image_agrees_with_the_point_mapping)
{
    /* A blob's centre, pushed through random flips, rotations, zooms, warps and a
     * resize, lands where the point mapping sends its coordinates. */
    BatchTfm t = plain();
    t.do_flip = 1, t.max_rotate = 30, t.min_zoom = 1, t.max_zoom = 1.4, t.max_warp = 0.2, t.p_affine = 1;
    t.size_w = 48, t.size_h = 40;
    int W = 96, Hh = 72;
    Image im = {W, Hh, 1, malloc((size_t)W * Hh)};
    float *out = malloc(sizeof(float) * 48 * 40);
    AugScratch s = {0};
    int checked = 0;
    for (int k = 0; k < 40; k++) {
        Rng r = rng_make(99, k);
        double bx = 36 + 24 * rng_uniform(&r), by = 28 + 16 * rng_uniform(&r);  /* pixel coords */
        for (int y = 0; y < Hh; y++)
            for (int x = 0; x < W; x++) {
                double dx = x + 0.5 - bx, dy = y + 0.5 - by;
                im.px[y * W + x] = (uint8_t)lrint(255 * exp(-(dx * dx + dy * dy) / (2 * 2.5 * 2.5)));
            }
        AugDraw d;
        batch_tfm_draw(&t, W, Hh, 1, &r, &d);
        float pts[2] = {(float)(bx / W * 2 - 1), (float)(by / Hh * 2 - 1)};
        batch_tfm_apply(&t, &d, &im, 1, out, 48, 40, pts, 1, &s);
        if (fabs(pts[0]) > 0.7 || fabs(pts[1]) > 0.7) continue;  /* blob partly outside */
        checked++;
        double cx, cy;
        centroid(out, 48, 40, &cx, &cy);
        /* within one output pixel (2/48, 2/40 in these units) */
        ck_assert_msg(fabs(cx - pts[0]) < 2.0 / 48 && fabs(cy - pts[1]) < 2.0 / 40,
                      "draw %d: blob at (%.3f, %.3f), point at (%.3f, %.3f)", k, cx, cy, pts[0], pts[1]);
    }
    ck_assert_int_ge(checked, 25);
    free(out);
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

START_TEST(lighting_is_brightness_then_contrast_in_logit_space)
{
    BatchTfm t = plain();
    Image im = {2, 1, 3, malloc(6)};
    memset(im.px, 77, 6);
    im.px[3] = 0, im.px[4] = 255, im.px[5] = 200;
    AugDraw d;
    aug_draw_neutral(&d);
    d.brightness = 0.58, d.contrast = 1.17;
    float out[6];
    AugScratch s = {0};
    batch_tfm_apply(&t, &d, &im, 1, out, 2, 1, NULL, 0, &s);
    for (int i = 0; i < 6; i++) {
        double x = im.px[i] / 255.0;
        x = x < 1e-7 ? 1e-7 : x > 1 - 1e-7 ? 1 - 1e-7 : x;
        double z = (log(x / (1 - x)) + log(0.58 / 0.42)) * 1.17;
        ck_assert_float_eq_tol(out[i], 1 / (1 + exp(-z)), 2e-6);
    }
    /* and never on the validation set */
    batch_tfm_apply(&t, &d, &im, 0, out, 2, 1, NULL, 0, &s);
    ck_assert_float_eq_tol(out[0], 77 / 255.0f, 1e-7);
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

START_TEST(draws_follow_fastai_defaults)
{
    BatchTfm t = plain();
    t.do_flip = 1, t.max_rotate = 10, t.min_zoom = 1, t.max_zoom = 1.1, t.max_lighting = 0.2, t.max_warp = 0.2;
    t.p_affine = 0.75, t.p_lighting = 0.75;
    int n = 4000, flips = 0, rots = 0, zooms = 0, warps = 0, bright = 0;
    for (int i = 0; i < n; i++) {
        Rng r = rng_make(5, i);
        AugDraw d;
        batch_tfm_draw(&t, 64, 64, 1, &r, &d);
        flips += d.flip;
        rots += d.rotate_deg != 0;
        zooms += d.zoom != 1;
        warps += d.warp_x != 0;
        bright += d.brightness != 0.5;
        ck_assert(fabs(d.rotate_deg) <= 10 && d.zoom >= 1 && d.zoom <= 1.1 && fabs(d.warp_x) <= 0.2);
        ck_assert(d.brightness >= 0.4 && d.brightness <= 0.6 && d.contrast >= 0.8 - 1e-12 && d.contrast <= 1.25 + 1e-12);
        ck_assert(d.zoom_col >= 0 && d.zoom_col < 1);
    }
    ck_assert_msg(abs(flips - n / 2) < n / 20, "flips %d", flips);
    ck_assert_msg(abs(rots - 3 * n / 4) < n / 20, "rotations %d", rots);
    ck_assert_msg(abs(zooms - 3 * n / 4) < n / 20, "zooms %d", zooms);
    ck_assert_msg(abs(warps - 3 * n / 4) < n / 20, "warps %d", warps);
    ck_assert_msg(abs(bright - 3 * n / 4) < n / 20, "brightness %d", bright);
    AugDraw v;
    batch_tfm_draw(&t, 64, 64, 0, NULL, &v);
    ck_assert(!v.flip && v.rotate_deg == 0 && v.zoom == 1 && v.warp_x == 0 && v.brightness == 0.5 && !v.crop);
}
END_TEST

START_TEST(min_scale_crops_on_train_and_takes_the_centre_square_on_valid)
{
    BatchTfm t = plain();
    t.min_scale = 0.75, t.size_w = t.size_h = 32;
    AugDraw d;
    batch_tfm_draw(&t, 64, 48, 0, NULL, &d);
    ck_assert(d.crop && d.crop_w == 48 && d.crop_h == 48 && d.crop_x == 8 && d.crop_y == 0);
    Image im = pattern(64, 48, 3);
    float out[32 * 32 * 3], pts[4] = {0, 0, (float)(8.0 / 64 * 2 - 1), 0};
    AugScratch s = {0};
    batch_tfm_apply(&t, &d, &im, 0, out, 32, 32, pts, 2, &s);
    ck_assert_float_eq_tol(pts[0], 0, 1e-6);
    ck_assert_float_eq_tol(pts[2], -1, 0.03);  /* the crop's left edge (centre/edge conventions differ by 1/w) */
    for (int i = 0; i < 200; i++) {
        Rng r = rng_make(3, i);
        batch_tfm_draw(&t, 64, 48, 1, &r, &d);
        ck_assert(d.crop_w == d.crop_h && d.crop_w >= (int)floor(sqrt(0.75 * 64 * 48)) && d.crop_w <= 48);
        ck_assert(d.crop_x >= 0 && d.crop_x + d.crop_w <= 64 && d.crop_y >= 0 && d.crop_y + d.crop_h <= 48);
    }
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

START_TEST(strong_downscale_averages_first_like_fastai)
{
    /* a 1-pixel checkerboard shrunk 6x: plain bilinear would alias to 0s and 1s */
    BatchTfm t = plain();
    t.size_w = t.size_h = 32;
    Image im = {192, 192, 1, malloc(192 * 192)};
    for (int y = 0; y < 192; y++)
        for (int x = 0; x < 192; x++) im.px[y * 192 + x] = ((x + y) & 1) ? 255 : 0;
    AugDraw d;
    aug_draw_neutral(&d);
    float out[32 * 32];
    AugScratch s = {0};
    batch_tfm_apply(&t, &d, &im, 0, out, 32, 32, NULL, 0, &s);
    for (int i = 0; i < 32 * 32; i++) ck_assert_msg(out[i] > 0.35f && out[i] < 0.65f, "pixel %d = %g", i, out[i]);
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

START_TEST(rgb_fast_path_matches_the_plain_path_per_channel)
{
    /* RGB items take a vectorised blend; gray ones the plain loop: each channel
     * of an RGB result must equal that channel resampled alone, bit for bit. */
    BatchTfm t = plain();
    t.do_flip = 1, t.max_rotate = 20, t.min_zoom = 1, t.max_zoom = 1.3, t.max_warp = 0.2, t.p_affine = 1;
    t.size_w = 37, t.size_h = 29;
    Image rgb = pattern(50, 41, 3);
    Image ch = {50, 41, 1, malloc(50 * 41)};
    float *o3 = malloc(sizeof(float) * 37 * 29 * 3), *o1 = malloc(sizeof(float) * 37 * 29);
    AugScratch s = {0};
    for (int k = 0; k < 20; k++) {
        Rng r = rng_make(11, k);
        AugDraw d;
        batch_tfm_draw(&t, 50, 41, 1, &r, &d);
        d.brightness = 0.5, d.contrast = 1;
        batch_tfm_apply(&t, &d, &rgb, 1, o3, 37, 29, NULL, 0, &s);
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 50 * 41; i++) ch.px[i] = rgb.px[i * 3 + c];
            batch_tfm_apply(&t, &d, &ch, 1, o1, 37, 29, NULL, 0, &s);
            for (int i = 0; i < 37 * 29; i++)
                ck_assert_msg(o3[i * 3 + c] == o1[i], "draw %d channel %d pixel %d: %.9g vs %.9g", k, c, i,
                              o3[i * 3 + c], o1[i]);
        }
    }
    free(o3), free(o1);
    image_free(&rgb), image_free(&ch);
    aug_scratch_free(&s);
}
END_TEST

START_TEST(lighting_fast_path_matches_the_formula)
{
    /* 3·37 values: the vector loops (16 and 8 at a time) and the scalar tail */
    BatchTfm t = plain();
    Image im = {37, 1, 3, malloc(37 * 3)};
    for (int i = 0; i < 37 * 3; i++) im.px[i] = (uint8_t)(i * 29 % 256);
    im.px[0] = 0, im.px[1] = 255;
    float out[37 * 3];
    AugScratch s = {0};
    const double bs[3] = {0.41, 0.5, 0.59}, cs[3] = {0.81, 1.0, 1.23};
    for (int j = 0; j < 3; j++) {
        AugDraw d;
        aug_draw_neutral(&d);
        d.brightness = bs[j], d.contrast = cs[2 - j];
        batch_tfm_apply(&t, &d, &im, 1, out, 37, 1, NULL, 0, &s);
        for (int i = 0; i < 37 * 3; i++) {
            double x = im.px[i] / 255.0;
            x = x < 1e-7 ? 1e-7 : x > 1 - 1e-7 ? 1 - 1e-7 : x;
            double z = (log(x / (1 - x)) + log(bs[j] / (1 - bs[j]))) * cs[2 - j];
            ck_assert_msg(fabs(out[i] - 1 / (1 + exp(-z))) < 2e-6, "b %g c %g x %d: %.8g vs %.8g", bs[j], cs[2 - j],
                          im.px[i], out[i], 1 / (1 + exp(-z)));
        }
    }
    image_free(&im);
    aug_scratch_free(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("augment");
    TCase *tc = tcase_create("augment");
    tcase_add_test(tc, valid_is_int_to_float_then_normalize);
    tcase_add_test(tc, flip_mirrors_the_image_and_negates_x);
    tcase_add_test(tc, rotation_by_90_degrees_maps_pixels_and_points);
    tcase_add_test(tc, zoom_takes_the_chosen_corner_and_points_follow);
    tcase_add_test(tc, warp_points_take_the_inverse_of_the_grid);
    tcase_add_test(tc, resampled_image_agrees_with_the_point_mapping);
    tcase_add_test(tc, lighting_is_brightness_then_contrast_in_logit_space);
    tcase_add_test(tc, draws_follow_fastai_defaults);
    tcase_add_test(tc, min_scale_crops_on_train_and_takes_the_centre_square_on_valid);
    tcase_add_test(tc, strong_downscale_averages_first_like_fastai);
    tcase_add_test(tc, rgb_fast_path_matches_the_plain_path_per_channel);
    tcase_add_test(tc, lighting_fast_path_matches_the_formula);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
