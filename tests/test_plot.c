/* test_plot.c — src/io/{png_write,font,plot}: every figure kind is rendered to
 * a PNG, read back with libpng (data/decode) and checked pixel by pixel.
 * FASTC_KEEP_PLOTS=DIR keeps the PNGs there for looking at. */
#include "check_main.h"
#include "data/decode.h"
#include "io/figures.h"
#include "io/font.h"
#include "io/plot.h"
#include "io/png_write.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[256];

static const char *out_path(const char *name, char *buf, size_t cap)
{
    const char *keep = getenv("FASTC_KEEP_PLOTS");
    snprintf(buf, cap, "%s/%s", keep && *keep ? keep : dir, name);
    return buf;
}

static void setup(void) { tu_tmpdir(dir, sizeof dir); }
static void teardown(void) { tu_rmtree(dir); }

static Image read_png(const char *path)
{
    Image im = {0};
    Err err = {0};
    ck_assert_msg(image_decode_file(path, 3, 0, 0, &im, NULL, NULL, &err) == 0, "%s", err.msg);
    return im;
}

static Rgb px(const Image *im, int x, int y)
{
    ck_assert(x >= 0 && y >= 0 && x < im->w && y < im->h);
    const uint8_t *p = im->px + ((size_t)y * im->w + x) * 3;
    return (Rgb){p[0], p[1], p[2]};
}

static int same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

/* Pixels of colour col in the rectangle [x0, x1) x [y0, y1). */
static int count_color(const Image *im, int x0, int y0, int x1, int y1, Rgb col)
{
    int n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < im->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < im->w; x++) n += same(px(im, x, y), col);
    return n;
}

static int count_dark(const Image *im, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < im->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < im->w; x++) {
            Rgb c = px(im, x, y);
            n += c.r + c.g + c.b < 150;
        }
    return n;
}

/* ---- png and font -------------------------------------------------------- */

START_TEST(png_round_trips_exact_pixels)
{
    int w = 37, h = 23;
    uint8_t *rgb = malloc((size_t)w * h * 3), *gray = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) {
        rgb[3 * i] = (uint8_t)i, rgb[3 * i + 1] = (uint8_t)(i * 7), rgb[3 * i + 2] = (uint8_t)(255 - i);
        gray[i] = (uint8_t)(i * 3);
    }
    char path[512];
    Err err = {0};
    ck_assert_msg(png_write(out_path("rgb.png", path, sizeof path), rgb, w, h, 3, &err) == 0, "%s", err.msg);
    Image im = read_png(path);
    ck_assert(im.w == w && im.h == h && memcmp(im.px, rgb, (size_t)w * h * 3) == 0);
    image_free(&im);
    ck_assert_int_eq(png_write(out_path("gray.png", path, sizeof path), gray, w, h, 1, &err), 0);
    Err e2 = {0};
    ck_assert_int_eq(image_decode_file(path, 1, 0, 0, &im, NULL, NULL, &e2), 0);
    ck_assert(memcmp(im.px, gray, (size_t)w * h) == 0);
    image_free(&im);
    ck_assert_int_ne(png_write("/nonexistent-fastc/x.png", rgb, w, h, 3, &err), 0);
    ck_assert_msg(strstr(err.msg, "/nonexistent-fastc/x.png"), "%s", err.msg);
    ck_assert_int_ne(png_write(path, rgb, 0, h, 3, &err), 0);
    free(rgb), free(gray);
}
END_TEST

START_TEST(font_draws_glyphs_scaled_turned_and_clipped)
{
    /* 'A' in misc-fixed 6x13: apex at row 2, column 2; crossbar on row 7. */
    ck_assert(font_glyph_pixel('A', 2, 2) && !font_glyph_pixel('A', 0, 2));
    for (int x = 0; x < 5; x++) ck_assert(font_glyph_pixel('A', x, 7));
    ck_assert(!font_glyph_pixel(' ', 2, 5) && !font_glyph_pixel(200, 0, 0));
    ck_assert_int_eq(font_text_width("abc", 2), 36);
    ck_assert_int_eq(font_text_len("\xc3\xa9t\xc3\xa9"), 3); /* été: 3 characters */
    int W = 40, H = 30;
    uint8_t *buf = calloc((size_t)W * H * 3, 1);
    const uint8_t red[3] = {255, 0, 0};
    font_draw(buf, W, H, 1, 1, "A", 2, red);
    /* glyph pixel (2, 2) -> 2x2 block at (1+4, 1+4) */
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) ck_assert_int_eq(buf[((5 + dy) * W + 5 + dx) * 3], 255);
    ck_assert_int_eq(buf[((5) * W + 1) * 3], 0);
    memset(buf, 0, (size_t)W * H * 3);
    /* turned: glyph (gx, gy) -> (x + gy, y - gx) */
    font_draw_up(buf, W, H, 3, 20, "A", 1, red);
    for (int gy = 0; gy < FONT_H; gy++)
        for (int gx = 0; gx < FONT_W; gx++)
            ck_assert_int_eq(buf[((20 - gx) * W + 3 + gy) * 3] == 255, font_glyph_pixel('A', gx, gy));
    /* far outside and across the edges: clipped, no crash */
    font_draw(buf, W, H, -100, -5, "clipped text that runs off", 3, red);
    font_draw_up(buf, W, H, 35, 2, "upwards off the top", 2, red);
    font_draw(buf, W, H, 1000000, 1000000, "x", 1, red);
    free(buf);
}
END_TEST

/* ---- line plots ---------------------------------------------------------- */

START_TEST(lr_find_plot_marks_the_suggestion_at_its_lr)
{
    int n = 97;
    double lr[97], loss[97];
    for (int i = 0; i < n; i++) {
        lr[i] = 1e-7 * pow(10, 8.0 * i / (n - 1)); /* 1e-7 .. 10 */
        double t = log10(lr[i]);
        loss[i] = 2.3 - 1.5 / (1 + exp(-(t + 3.5) * 2)) + (t > -0.5 ? (t + 0.5) * 2 : 0);
    }
    Rgb red = plot_color(3), blue = plot_color(0), green = plot_color(2);
    PlotSeries s = {NULL, lr, loss, n, blue, PLOT_LINE};
    PlotVLine v = {1e-3, "valley: 1.00e-03", red};
    PlotMark mk = {lr[40], loss[40], "steep", green, MARK_DOT};
    LinePlot p = {.title = "Learning rate finder", .xlabel = "Learning Rate", .ylabel = "Loss", .log_x = 1,
                  .series = &s, .n_series = 1, .vlines = &v, .n_vlines = 1, .marks = &mk, .n_marks = 1};
    PlotAxes a;
    Err err = {0};
    Canvas *c = plot_lines_render(&p, &a, &err);
    ck_assert_msg(c, "%s", err.msg);
    canvas_free(c);
    char path[512];
    ck_assert_msg(plot_lines(&p, out_path("lr_find.png", path, sizeof path), &err) == 0, "%s", err.msg);
    Image im = read_png(path);
    ck_assert(im.w == 640 && im.h == 440);
    ck_assert(a.log_x && a.xmin <= 1e-7 && a.xmax >= 10 && a.x0 > 20 && a.x1 < 630);
    /* 1e-3 is in the middle (in decades) of 1e-7 .. 10, and the padding is symmetric. */
    int xm = (a.x0 + a.x1) / 2;
    int best = -1, best_n = 0;
    for (int x = xm - 2; x <= xm + 2; x++) {
        int k = count_color(&im, x, a.y0, x + 1, a.y1, red);
        if (k > best_n) best_n = k, best = x;
    }
    ck_assert_msg(best_n > (a.y1 - a.y0) * 4 / 10, "no dashed marker near x=%d (best %d px)", xm, best_n);
    ck_assert_int_le(abs(best - (int)lround(plot_px_x(&a, 1e-3))), 1);
    /* its label sits beside it, near the top */
    ck_assert(count_color(&im, best + 3, a.y0 + 2, best + 110, a.y0 + 20, red) > 40);
    /* the curve passes through its data points */
    for (int i = 5; i < n; i += 13) {
        int x = (int)lround(plot_px_x(&a, lr[i])), y = (int)lround(plot_px_y(&a, loss[i]));
        ck_assert_msg(count_color(&im, x - 1, y - 2, x + 2, y + 3, blue) > 0, "curve missing at point %d", i);
    }
    /* the marked point is drawn, and listed in a legend */
    int mx = (int)lround(plot_px_x(&a, lr[40])), my = (int)lround(plot_px_y(&a, loss[40]));
    ck_assert(same(px(&im, mx, my), green));
    ck_assert(count_color(&im, a.x0, a.y0, a.x1, a.y1, green) > 60);
    /* text: title strip, tick labels under the axis at the 1e-3 tick, axis labels */
    ck_assert(count_dark(&im, a.x0, 0, a.x1, a.y0 - 2) > 50);
    ck_assert(count_dark(&im, xm - 16, a.y1 + 6, xm + 16, a.y1 + 6 + FONT_H) > 15);
    ck_assert(count_dark(&im, 0, a.y0, 20 + FONT_H, a.y1) > 20);
    image_free(&im);
}
END_TEST

START_TEST(losses_plot_has_both_series_and_a_legend)
{
    double it[200], tr[200], ep[4] = {49, 99, 149, 199}, va[4] = {0.9, 0.6, 0.5, 0.45};
    for (int i = 0; i < 200; i++) it[i] = i, tr[i] = 2.0 * exp(-i / 60.0) + 0.3;
    Rgb blue = plot_color(0), orange = plot_color(1);
    PlotSeries s[2] = {{"train", it, tr, 200, blue, PLOT_LINE}, {"valid", ep, va, 4, orange, PLOT_LINE | PLOT_POINTS}};
    LinePlot p = {.title = "losses", .xlabel = "batches processed", .ylabel = "loss", .series = s, .n_series = 2,
                  .width = 500, .height = 360};
    PlotAxes a;
    Err err = {0};
    char path[512];
    Canvas *c = plot_lines_render(&p, &a, &err);
    ck_assert_int_eq(canvas_write_png(c, out_path("losses.png", path, sizeof path), &err), 0);
    canvas_free(c);
    Image im = read_png(path);
    ck_assert(im.w == 500 && im.h == 360);
    ck_assert(a.ymin <= 0.3 && a.ymax >= 2.3 && a.xmin <= 0 && a.xmax >= 199);
    for (int k = 0; k < 4; k++) {
        int x = (int)lround(plot_px_x(&a, ep[k])), y = (int)lround(plot_px_y(&a, va[k]));
        ck_assert_msg(same(px(&im, x, y), orange), "valid point %d", k);
    }
    /* legend: a blue and an orange sample line, 24 pixels long, one above
     * the other within a few text lines */
    int found = 0;
    for (int y = a.y0; y < a.y1 && !found; y++)
        for (int x = a.x0; x + 24 < a.x1 && !found; x++) {
            if (!same(px(&im, x, y), orange) || !same(px(&im, x + 23, y), orange)) continue;
            if (count_color(&im, x, y, x + 24, y + 1, orange) < 24) continue;
            for (int dy = 1; dy < 3 * FONT_H && !found; dy++)
                if (y - dy >= 0 && count_color(&im, x, y - dy, x + 24, y - dy + 1, blue) == 24) found = 1;
        }
    ck_assert_msg(found, "no legend with both colours");
    image_free(&im);
}
END_TEST

START_TEST(line_plot_survives_bad_data)
{
    double x[5] = {1, 2, NAN, 4, INFINITY}, y[5] = {NAN, INFINITY, 1, -INFINITY, 2};
    PlotSeries s = {"bad", x, y, 5, plot_color(0), PLOT_LINE | PLOT_POINTS};
    LinePlot p = {.series = &s, .n_series = 1, .log_x = 1};
    Err err = {0};
    Canvas *c = plot_lines_render(&p, NULL, &err);
    ck_assert_msg(c, "%s", err.msg);
    canvas_free(c);
    LinePlot empty = {.title = "empty"};
    c = plot_lines_render(&empty, NULL, &err);
    ck_assert_msg(c, "%s", err.msg);
    canvas_free(c);
    double one = 5;
    PlotSeries s1 = {"one", &one, &one, 1, plot_color(0), PLOT_POINTS};
    LinePlot p1 = {.series = &s1, .n_series = 1, .width = 60, .height = 60};
    ck_assert_ptr_null(plot_lines_render(&p1, NULL, &err));
    ck_assert_msg(strstr(err.msg, "too small"), "%s", err.msg);
    p1.width = p1.height = 0;
    c = plot_lines_render(&p1, NULL, &err);
    ck_assert_ptr_nonnull(c);
    canvas_free(c);
    char path[512];
    ck_assert_int_ne(plot_lines(&p1, "/nonexistent-fastc/l.png", &err), 0);
    ck_assert_msg(strstr(err.msg, "/nonexistent-fastc/l.png"), "%s", err.msg);
    (void)path;
}
END_TEST

/* ---- heat map ------------------------------------------------------------ */

START_TEST(confusion_heatmap_is_legible_with_37_classes)
{
    enum { K = 37 };
    static double cm[K * K];
    static char names[K][40];
    const char *labels[K];
    for (int i = 0; i < K; i++) {
        snprintf(names[i], sizeof names[i], i == 3 ? "american_pit_bull_terrier" : "breed_%02d", i);
        labels[i] = names[i];
        for (int j = 0; j < K; j++) cm[i * K + j] = i == j ? 40 + i % 10 : (i * 7 + j * 3) % 11 == 0 ? (i + j) % 5 : 0;
    }
    cm[0] = 100; /* the largest */
    HeatMap m = {"Confusion matrix", "Predicted", "Actual", K, K, cm, labels, labels, 1, 0, 0, 1};
    HeatLayout L;
    Err err = {0};
    Canvas *c = plot_heatmap_render(&m, &L, &err);
    ck_assert_msg(c, "%s", err.msg);
    char path[512];
    ck_assert_int_eq(canvas_write_png(c, out_path("confusion.png", path, sizeof path), &err), 0);
    canvas_free(c);
    Image im = read_png(path);
    ck_assert_int_ge(L.cell, FONT_H + 6); /* a count fits in every cell */
    ck_assert(L.x0 + K * L.cell < im.w && L.y0 + K * L.cell < im.h);
    /* cell colours: the largest count darkest, zeros the lightest Blues shade */
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            Rgb want = plot_blues(cm[i * K + j] / 100.0);
            Rgb got = px(&im, L.x0 + j * L.cell + 2, L.y0 + i * L.cell + 2);
            ck_assert_msg(same(got, want), "cell %d,%d: %d,%d,%d vs %d,%d,%d", i, j, got.r, got.g, got.b, want.r, want.g,
                          want.b);
        }
    /* counts are written: white text on the dark diagonal, dark text on light cells, zeros in light grey */
    int x = L.x0, y = L.y0;
    ck_assert(cm[1 * K + 3] == 0);
    ck_assert_int_eq(count_dark(&im, L.x0 + 3 * L.cell + 1, L.y0 + 1 * L.cell + 1, L.x0 + 4 * L.cell, L.y0 + 2 * L.cell), 0);
    ck_assert(count_color(&im, L.x0 + 3 * L.cell + 1, L.y0 + 1 * L.cell + 1, L.x0 + 4 * L.cell, L.y0 + 2 * L.cell,
                          (Rgb){190, 190, 190}) > 5);
    ck_assert(count_color(&im, x + 2, y + 2, x + L.cell - 1, y + L.cell - 1, PLOT_WHITE) > 10);
    int i1 = 1, j1 = 3; /* (1*7 + 3*3) % 11 = 5: zero; find a small nonzero one */
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            if (i != j && cm[i * K + j] > 0) i1 = i, j1 = j;
    ck_assert(count_dark(&im, L.x0 + j1 * L.cell + 1, L.y0 + i1 * L.cell + 1, L.x0 + (j1 + 1) * L.cell,
                         L.y0 + (i1 + 1) * L.cell) > 8);
    /* a row label left of every row, a turned column label under every column */
    for (int i = 0; i < K; i++) {
        ck_assert_msg(count_dark(&im, L.x0 - 6 - 8 * FONT_W, L.y0 + i * L.cell, L.x0 - 4, L.y0 + (i + 1) * L.cell) > 10,
                      "row label %d", i);
        ck_assert_msg(count_dark(&im, L.x0 + i * L.cell, L.y0 + K * L.cell + 4, L.x0 + (i + 1) * L.cell,
                                 L.y0 + K * L.cell + 4 + 8 * FONT_W) > 10,
                      "column label %d", i);
    }
    /* guide lines every 5 rows and columns, darker than the separators */
    for (int k = 5; k < K; k += 5) {
        ck_assert(same(px(&im, L.x0 + L.cell / 2, L.y0 + k * L.cell), ((Rgb){150, 150, 150})));
        ck_assert(same(px(&im, L.x0 + k * L.cell, L.y0 + L.cell / 2), ((Rgb){150, 150, 150})));
    }
    ck_assert(same(px(&im, L.x0 + L.cell / 2, L.y0 + 4 * L.cell), ((Rgb){235, 235, 235})));
    /* the long name is drawn whole: 25 characters of turned text */
    ck_assert(count_dark(&im, L.x0 + 3 * L.cell, L.y0 + K * L.cell + 6 + 20 * FONT_W, L.x0 + 4 * L.cell,
                         L.y0 + K * L.cell + 6 + 25 * FONT_W) > 10);
    image_free(&im);
    HeatMap bad = {0};
    ck_assert_ptr_null(plot_heatmap_render(&bad, NULL, &err));
    ck_assert_msg(strstr(err.msg, "heat map of 0 x 0 cells"), "%s", err.msg);
}
END_TEST

/* Rows of pixels in the rectangle holding colour col. */
static int rows_with(const Image *im, int x0, int y0, int x1, int y1, Rgb col)
{
    int n = 0;
    for (int y = y0; y < y1; y++) n += count_color(im, x0, y, x1, y + 1, col) > 0;
    return n;
}

/* Six classes: big cells and a 2x font (the matrix about 600 pixels across),
 * not a 126-pixel stamp; the auto size is what interpret uses. */
START_TEST(confusion_heatmap_is_not_tiny_with_6_classes)
{
    enum { K = 6 };
    double cm[K * K];
    const char *labels[K] = {"airplane", "automobile", "bird", "cat", "deer", "dog"};
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) cm[i * K + j] = i == j ? 90 + i : (i + j) % 4 == 1 ? 3 : 0;
    HeatMap m = {.title = "Confusion matrix", .xlabel = "Predicted", .ylabel = "Actual", .rows = K, .cols = K,
                 .values = cm, .row_labels = labels, .col_labels = labels, .show_values = 1};
    HeatLayout L;
    Err err = {0};
    Canvas *c = plot_heatmap_render(&m, &L, &err);
    ck_assert_msg(c, "%s", err.msg);
    char path[512];
    ck_assert_int_eq(canvas_write_png(c, out_path("confusion6.png", path, sizeof path), &err), 0);
    canvas_free(c);
    Image im = read_png(path);
    ck_assert_int_eq(L.cell, 100);
    ck_assert(im.w > 600 && im.h > 600);
    /* the count in a diagonal cell is written in the 2x font: its white ink 16 rows tall or more (1x: 9) */
    ck_assert_int_ge(rows_with(&im, L.x0, L.y0, L.x0 + L.cell, L.y0 + L.cell, PLOT_WHITE), 16);
    /* and so is a row label (dark ink left of row 2) */
    int tall = 0;
    for (int y = L.y0 + 2 * L.cell; y < L.y0 + 3 * L.cell; y++) tall += count_dark(&im, 0, y, L.x0 - 2, y + 1) > 0;
    ck_assert_int_ge(tall, 16);
    /* no guide lines under 10 classes: every separator is light */
    ck_assert(same(px(&im, L.x0 + L.cell / 2, L.y0 + 5 * L.cell), ((Rgb){235, 235, 235})));
    image_free(&im);
}
END_TEST

/* ---- scatter ---------------------------------------------------------------- */

START_TEST(scatter_draws_points_and_their_labels)
{
    double x[4] = {-1.5, 0.2, 1.1, 0.7}, y[4] = {0.3, -0.8, 1.2, 0.1};
    const char *labels[4] = {"Star Wars (1977)", "Titanic (1997)", "Fargo (1996)", NULL};
    Rgb cols[4] = {plot_color(0), plot_color(1), plot_color(2), plot_color(3)};
    Scatter s = {"Movie factors (PCA)", "component 1", "component 2", 600, 500, 1, 4, x, y, labels, cols};
    PlotAxes a;
    Err err = {0};
    Canvas *c = plot_scatter_render(&s, &a, &err);
    ck_assert_msg(c, "%s", err.msg);
    char path[512];
    ck_assert_int_eq(canvas_write_png(c, out_path("scatter.png", path, sizeof path), &err), 0);
    canvas_free(c);
    Image im = read_png(path);
    ck_assert(im.w == 600 && im.h == 500);
    for (int i = 0; i < 4; i++) {
        int px_ = (int)lround(plot_px_x(&a, x[i])), py_ = (int)lround(plot_px_y(&a, y[i]));
        ck_assert_msg(same(px(&im, px_, py_), cols[i]), "point %d", i);
        int dark = count_dark(&im, px_ + 4, py_ - FONT_H / 2, px_ + 4 + 12 * FONT_W, py_ + FONT_H / 2 + 1);
        if (labels[i]) ck_assert_msg(dark > 30, "label %d", i);
    }
    image_free(&im);
}
END_TEST

/* ---- image grid ------------------------------------------------------------ */

/* The grid rendered, written as a PNG named `name` and read back. */
static Image grid_png(const ImageGrid *g, const char *name)
{
    Err err = {0};
    Canvas *c = plot_grid_render(g, &err);
    ck_assert_msg(c, "%s", err.msg);
    char path[512];
    ck_assert_int_eq(canvas_write_png(c, out_path(name, path, sizeof path), &err), 0);
    canvas_free(c);
    return read_png(path);
}

START_TEST(image_grid_shows_images_captions_and_points)
{
    enum { W = 32, H = 24 };
    static uint8_t img[3][H * W * 3];
    Rgb fills[3] = {{200, 30, 30}, {30, 160, 60}, {40, 40, 220}};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < W * H; i++) img[k][3 * i] = fills[k].r, img[k][3 * i + 1] = fills[k].g, img[k][3 * i + 2] = fills[k].b;
    /* a normalised float image: value v shows as (v*std + mean)*255 */
    static float fl[16 * 16 * 3];
    float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    float want01[3] = {0.9f, 0.5f, 0.1f};
    for (int i = 0; i < 16 * 16; i++)
        for (int ch = 0; ch < 3; ch++) fl[3 * i + ch] = (want01[ch] - mean[ch]) / std[ch];
    static uint8_t gray[10 * 40];
    for (int i = 0; i < 400; i++) gray[i] = (uint8_t)(i % 40 * 6);
    GridPoint pts[2] = {{8, 6, {255, 0, 0}, MARK_CROSS}, {24, 18, {0, 255, 255}, MARK_DOT}};
    GridCell cells[5] = {
        {.rgb = img[0], .w = W, .h = H, .c = 3, .caption = "Abyssinian/Bengal / 4.52 / 0.91", .caption_color = {0, 0, 0}},
        {.rgb = img[1], .w = W, .h = H, .c = 3, .caption = "cat", .caption_color = {0, 128, 0}, .points = pts, .n_points = 2},
        {.rgb = img[2], .w = W, .h = H, .c = 3,
         .caption = "american_pit_bull_terrier/staffordshire_bull_terrier / 12.34 / 0.99 and more words to cut"},
        {.f = fl, .mean = mean, .std = std, .w = 16, .h = 16, .c = 3, .caption = "float"},
        {.rgb = gray, .w = 40, .h = 10, .c = 1, .caption = "\xc3\xa9t\xc3\xa9"},
    };
    ImageGrid g = {"Prediction/Actual/Loss/Probability", cells, 5, 0, 120, 1};
    Image im = grid_png(&g, "grid.png");
    /* 5 cells -> 3 columns, 2 rows */
    int x, y, box, cy;
    plot_grid_cell_rect(&g, 4, &x, &y, &box, NULL, &cy);
    ck_assert_int_eq(box, 120);
    ck_assert(x > box && y > box && cy + FONT_H <= im.h);
    plot_grid_cell_rect(&g, 2, &x, &y, &box, NULL, &cy);
    ck_assert(x + box <= im.w);
    /* title strip has text */
    plot_grid_cell_rect(&g, 0, &x, &y, &box, NULL, &cy);
    ck_assert(count_dark(&im, 0, 0, im.w, y - 2) > 100);
    int bh;
    for (int k = 0; k < 3; k++) {
        plot_grid_cell_rect(&g, k, &x, &y, &box, &bh, &cy);
        /* 32x24 fitted in 120: 120 x 90, on its caption; the row is as high as the
         * tallest image in the grid (the 16x16 one: 120) */
        ck_assert_int_eq(bh, 120);
        ck_assert_int_eq(cy, y + bh + 3);
        ck_assert(same(px(&im, x + box / 2, y + 30 + 45), fills[k]) || k == 1);
        ck_assert(same(px(&im, x + 2, y + 31), fills[k]));
        ck_assert(same(px(&im, x + 2, y + bh - 1), fills[k])); /* down to the caption strip */
        ck_assert(same(px(&im, x + 2, y + 28), PLOT_WHITE)); /* above the fitted image */
        ck_assert_msg(count_color(&im, x, cy, x + box, cy + FONT_H, PLOT_WHITE) < box * FONT_H, "caption %d", k);
    }
    /* caption colour */
    plot_grid_cell_rect(&g, 1, &x, &y, &box, NULL, &cy);
    ck_assert(count_color(&im, x, cy, x + box, cy + FONT_H, (Rgb){0, 128, 0}) > 10);
    /* points at image coordinates: (8, 6) -> scale 120/32 = 3.75 */
    int ox = x, oy = y + 30;
    int cxp = (int)lround(ox + 8.5 * 3.75 - 0.5), cyp = (int)lround(oy + 6.5 * 3.75 - 0.5);
    ck_assert(same(px(&im, cxp, cyp), ((Rgb){255, 0, 0})));
    ck_assert(count_color(&im, cxp - 6, cyp - 6, cxp + 7, cyp + 7, (Rgb){255, 0, 0}) >= 12);
    cxp = (int)lround(ox + 24.5 * 3.75 - 0.5), cyp = (int)lround(oy + 18.5 * 3.75 - 0.5);
    ck_assert(same(px(&im, cxp, cyp), ((Rgb){0, 255, 255})));
    /* the long caption takes 3 lines */
    plot_grid_cell_rect(&g, 2, &x, &y, &box, NULL, &cy);
    ck_assert(count_dark(&im, x, cy + 2 * FONT_H, x + box, cy + 3 * FONT_H) > 20);
    /* the float image, denormalised */
    plot_grid_cell_rect(&g, 3, &x, &y, &box, NULL, &cy);
    Rgb f = px(&im, x + box / 2, y + box / 2);
    ck_assert_msg(abs(f.r - 230) <= 1 && abs(f.g - 128) <= 1 && abs(f.b - 26) <= 1, "%d %d %d", f.r, f.g, f.b);
    /* the gray image: 40x10 -> 120x30, its columns repeat 3 times */
    plot_grid_cell_rect(&g, 4, &x, &y, &box, NULL, &cy);
    Rgb g0 = px(&im, x + 3 * 7 + 1, y + bh - 15);   /* 120x30 on its caption */
    ck_assert_int_eq(g0.r, 7 * 6);
    ck_assert(g0.r == g0.g && g0.g == g0.b);
    image_free(&im);
}
END_TEST

/* A red prediction cross on a red object and a green target plus on a green
 * one stay visible: each marker is drawn over an outline of the contrasting
 * shade (white under dark colours, black under light ones). */
START_TEST(image_grid_markers_have_a_contrasting_outline)
{
    enum { S = 40 };
    static uint8_t red[S * S * 3], green[S * S * 3];
    for (int i = 0; i < S * S; i++) {
        red[3 * i] = 220, red[3 * i + 1] = 40, red[3 * i + 2] = 30;
        green[3 * i] = 40, green[3 * i + 1] = 200, green[3 * i + 2] = 50;
    }
    Rgb rx = {230, 0, 0}, gp = {0, 200, 0};
    GridPoint p0 = {20, 20, rx, MARK_CROSS}, p1 = {20, 20, gp, MARK_PLUS};
    GridCell cells[2] = {{.rgb = red, .w = S, .h = S, .c = 3, .points = &p0, .n_points = 1},
                         {.rgb = green, .w = S, .h = S, .c = 3, .points = &p1, .n_points = 1}};
    ImageGrid g = {NULL, cells, 2, 2, 120, 1};
    Image im = grid_png(&g, "grid_outline.png");
    int x, y, box, cy;
    plot_grid_cell_rect(&g, 0, &x, &y, &box, NULL, &cy);
    int cx = x + 61, cyy = y + 61;   /* (20.5 * 3 - 0.5) */
    ck_assert(same(px(&im, cx - 3, cyy - 3), rx));
    ck_assert_msg(count_color(&im, cx - 8, cyy - 8, cx + 9, cyy + 9, PLOT_WHITE) >= 16, "no white outline on red");
    ck_assert(count_color(&im, cx - 8, cyy - 8, cx + 9, cyy + 9, rx) >= 12);
    plot_grid_cell_rect(&g, 1, &x, &y, &box, NULL, &cy);
    cx = x + 61, cyy = y + 61;
    ck_assert(same(px(&im, cx, cyy - 3), gp));
    ck_assert_msg(count_color(&im, cx - 8, cyy - 8, cx + 9, cyy + 9, PLOT_BLACK) >= 16, "no black outline on green");
    image_free(&im);
    ck_assert(same(plot_contrast(PLOT_WHITE), PLOT_BLACK) && same(plot_contrast(PLOT_BLACK), PLOT_WHITE));
}
END_TEST

/* A point at exactly +1 maps to x = w, just past the last pixel (and a prediction may
 * lie anywhere): its marker is drawn on the tile's edge, not beside the tile. */
START_TEST(image_grid_points_outside_the_image_stay_on_the_tile)
{
    enum { W = 32, H = 24 };
    static uint8_t img[H * W * 3];
    memset(img, 200, sizeof img);
    Rgb mag = {255, 0, 255}, yel = {255, 255, 0};
    GridPoint pts[2] = {{W, H / 2.0, mag, MARK_PLUS}, {-40, -3, yel, MARK_PLUS}};
    GridCell cell = {.rgb = img, .w = W, .h = H, .c = 3, .caption = "edge", .points = pts, .n_points = 2};
    ImageGrid g = {NULL, &cell, 1, 0, 120, 1};
    Image im = grid_png(&g, "grid_edge.png");
    int x, y, box, cy;
    plot_grid_cell_rect(&g, 0, &x, &y, &box, NULL, &cy);
    int ox = x, oy = y, dw = 120, dh = 90;   /* 32x24 fitted in 120: 120 x 90, the whole row */
    /* the plus's vertical bar on the tile's last column, centred at the point's height */
    int my = (int)lround(oy + (H / 2.0 + 0.5) * 3.75 - 0.5);
    ck_assert(same(px(&im, ox + dw - 1, my), mag));
    ck_assert(same(px(&im, ox + dw - 1, my - 2), mag) && same(px(&im, ox + dw - 1, my + 2), mag));
    /* nothing of it two pixels or more right of the tile beyond the plus's arm */
    ck_assert_int_eq(count_color(&im, ox + dw + 4, oy, im.w, oy + dh, mag), 0);
    /* the far-away prediction sits in the top-left corner of the tile */
    ck_assert(same(px(&im, ox, oy), yel) && same(px(&im, ox, oy + 2), yel) && same(px(&im, ox + 2, oy), yel));
    image_free(&im);
}
END_TEST

/* BIWI's 320x240 frames: the row is as high as the fitted image, so each
 * caption sits right under its own picture, not in a white band nearer the
 * picture below. */
START_TEST(image_grid_captions_sit_under_wide_images)
{
    enum { W = 64, H = 48 };
    static uint8_t img[H * W * 3];
    memset(img, 90, sizeof img);
    GridCell cells[4];
    for (int k = 0; k < 4; k++)
        cells[k] = (GridCell){.rgb = img, .w = W, .h = H, .c = 3, .caption = "error 3.1 px", .caption_color = PLOT_BLACK};
    ImageGrid g = {"Target (+) / Prediction (x)", cells, 4, 2, 160, 1};
    Image im = grid_png(&g, "grid_wide.png");
    int x, y, box, bh, cy, x2, y2, cy2;
    plot_grid_cell_rect(&g, 0, &x, &y, &box, &bh, &cy);
    plot_grid_cell_rect(&g, 2, &x2, &y2, &box, NULL, &cy2);
    ck_assert_int_eq(bh, 120);   /* 64x48 in 160: 160 x 120 */
    Rgb grey = {90, 90, 90};
    ck_assert(same(px(&im, x + 5, y), grey) && same(px(&im, x + 5, y + bh - 1), grey));
    ck_assert(count_dark(&im, x, cy, x + box, cy + FONT_H) > 20);   /* the caption, 3 pixels under its image */
    ck_assert_int_eq(cy, y + bh + 3);
    /* the caption is much nearer its own image than the next row's */
    ck_assert_int_gt(y2 - (cy + FONT_H), 3 * (cy - (y + bh)));
    /* rows of 120 (not 160) + a caption line + padding, under the title */
    ck_assert_int_eq(im.h, (FONT_H + 12) + 10 + 2 * (120 + FONT_H + 6 + 10));
    image_free(&im);
}
END_TEST

START_TEST(image_grid_shrinks_large_images_by_averaging)
{
    /* a 2-pixel checkerboard shrunk 4x averages to mid gray */
    enum { S = 64 };
    static uint8_t chk[S * S * 3];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) memset(chk + (y * S + x) * 3, (x + y) % 2 ? 255 : 0, 3);
    GridCell cell = {.rgb = chk, .w = S, .h = S, .c = 3};
    ImageGrid g = {NULL, &cell, 1, 1, 16, 1};
    Err err = {0};
    Canvas *c = plot_grid_render(&g, &err);
    ck_assert_ptr_nonnull(c);
    int x, y, box, cy;
    plot_grid_cell_rect(&g, 0, &x, &y, &box, NULL, &cy);
    Rgb v = canvas_get(c, x + 5, y + 5);
    ck_assert_msg(v.r >= 127 && v.r <= 128, "%d", v.r);
    canvas_free(c);
}
END_TEST


START_TEST(plots_survive_extreme_ranges)
{
    double cases[][2] = {{1e300, -1e300}, {1e-300, 2e-300}, {1e17, 1e17 + 16}, {-5, -5}, {0, 1e-310},
                         {1e-300, 1e300}, {3, 3.0000000000000004}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int logx = 0; logx < 2; logx++) {
            double x[2] = {fabs(cases[k][0]) + 1e-300, fabs(cases[k][1]) + 2e-300}, y[2] = {cases[k][0], cases[k][1]};
            PlotSeries s = {"s", x, y, 2, plot_color(0), PLOT_LINE | PLOT_POINTS};
            PlotVLine v = {x[0], "v", plot_color(1)};
            LinePlot p = {.title = "t", .series = &s, .n_series = 1, .log_x = logx, .vlines = &v, .n_vlines = 1,
                          .width = 260, .height = 180};
            Err err = {0};
            Canvas *c = plot_lines_render(&p, NULL, &err);
            ck_assert_msg(c, "case %zu: %s", k, err.msg);
            canvas_free(c);
            Scatter sc = {.n = 2, .x = y, .y = x, .width = 260, .height = 180};
            c = plot_scatter_render(&sc, NULL, &err);
            ck_assert_msg(c, "case %zu: %s", k, err.msg);
            canvas_free(c);
        }
    double hm[4] = {NAN, INFINITY, -1e300, 1e300};
    HeatMap m = {.rows = 2, .cols = 2, .values = hm, .show_values = 1, .decimals = 2};
    Err err = {0};
    Canvas *c = plot_heatmap_render(&m, NULL, &err);
    ck_assert_msg(c, "%s", err.msg);
    canvas_free(c);
}
END_TEST

/* ---- fastai figures -------------------------------------------------------- */

START_TEST(fig_lr_find_skips_the_last_points_and_marks_suggestions)
{
    int n = 80;
    double lr[80], loss[80];
    for (int i = 0; i < n; i++) lr[i] = 1e-7 * pow(1.2, i), loss[i] = 2 - 0.01 * i + (i > 70 ? (i - 70) * 0.5 : 0);
    FigSuggestion sug[2] = {{"valley", 3.1e-5, lr[30], loss[30]}, {"slide", 1e-4, lr[45], loss[45]}};
    char path[512];
    Err err = {0};
    ck_assert_msg(fig_lr_find(out_path("fig_lr_find.png", path, sizeof path), lr, loss, n, sug, 2, &err) == 0, "%s",
                  err.msg);
    Image im = read_png(path);
    /* The same figure through the generic call gives the geometry. */
    PlotSeries s = {NULL, lr, loss, n - 5, plot_color(0), PLOT_LINE};
    PlotMark mk[2] = {{lr[30], loss[30], "valley: 3.10e-05", plot_color(1), MARK_DOT},
                      {lr[45], loss[45], "slide: 1.00e-04", plot_color(2), MARK_DOT}};
    LinePlot p = {.xlabel = "Learning Rate", .ylabel = "Loss", .log_x = 1, .series = &s, .n_series = 1, .marks = mk, .n_marks = 2};
    PlotAxes a;
    Canvas *c = plot_lines_render(&p, &a, &err);
    ck_assert(c && c->w == im.w && c->h == im.h && memcmp(c->px, im.px, (size_t)im.w * im.h * 3) == 0);
    canvas_free(c);
    ck_assert_msg(a.xmax < lr[n - 3], "the last 5 points are not shown (xmax %g)", a.xmax);
    ck_assert(a.ymax < loss[n - 1]);
    for (int k = 0; k < 2; k++)
        ck_assert(same(px(&im, (int)lround(plot_px_x(&a, mk[k].x)), (int)lround(plot_px_y(&a, mk[k].y))), mk[k].color));
    image_free(&im);
    ck_assert_int_ne(fig_lr_find("/nonexistent-fastc/lr_find.png", lr, loss, n, sug, 2, &err), 0);
    ck_assert_msg(strstr(err.msg, "/nonexistent-fastc/lr_find.png"), "%s", err.msg);
}
END_TEST

START_TEST(fig_losses_draws_train_and_valid)
{
    double tr[120], vi[3] = {39, 79, 119}, va[3] = {1.0, 0.7, 0.65};
    for (int i = 0; i < 120; i++) tr[i] = 2.0 * exp(-i / 30.0) + 0.4;
    char path[512];
    Err err = {0};
    ck_assert_int_eq(fig_losses(out_path("fig_losses.png", path, sizeof path), tr, 120, vi, va, 3, &err), 0);
    Image im = read_png(path);
    ck_assert(count_color(&im, 0, 0, im.w, im.h, plot_color(0)) > 200);
    ck_assert(count_color(&im, 0, 0, im.w, im.h, plot_color(1)) > 100);
    image_free(&im);
    /* one epoch: the valid loss is a single point */
    ck_assert_int_eq(fig_losses(path, tr, 40, vi, va, 1, &err), 0);
    im = read_png(path);
    ck_assert(count_color(&im, 0, 0, im.w, im.h, plot_color(1)) > 20);
    image_free(&im);
}
END_TEST

/* thresholds.png: accuracy_multi against threshold as the lesson plots it,
 * the best threshold a red dot, the configured one a dashed grey line. */
START_TEST(fig_thresholds_marks_the_best_threshold)
{
    double th[29], acc[29];
    int best = 0;
    for (int i = 0; i < 29; i++) {
        th[i] = 0.05 + i * (0.9 / 28);
        acc[i] = 0.96 - (th[i] - 0.4) * (th[i] - 0.4);
        if (acc[i] > acc[best]) best = i;
    }
    Err err = {0};
    PlotAxes a;
    Canvas *c = fig_thresholds_render(th, acc, 29, best, 0.2, &a, &err);
    ck_assert_msg(c, "%s", err.msg);
    char path[512];
    ck_assert_int_eq(canvas_write_png(c, out_path("thresholds.png", path, sizeof path), &err), 0);
    canvas_free(c);
    ck_assert_int_eq(fig_thresholds(path, th, acc, 29, best, 0.2, &err), 0);
    Image im = read_png(path);
    ck_assert_int_eq(im.w, 640);
    Rgb red = plot_color(3), blue = plot_color(0), grey = plot_color(7);
    int bx = (int)lround(plot_px_x(&a, th[best])), by = (int)lround(plot_px_y(&a, acc[best]));
    ck_assert(same(px(&im, bx, by), red));
    ck_assert(count_color(&im, bx - 6, by - 6, bx + 7, by + 7, red) >= 40);   /* a dot, not a point of the line */
    /* the curve: another sweep point is on it, in the series colour */
    int x5 = (int)lround(plot_px_x(&a, th[5])), y5 = (int)lround(plot_px_y(&a, acc[5]));
    ck_assert(count_color(&im, x5 - 2, y5 - 2, x5 + 3, y5 + 3, blue) > 5);
    /* the configured threshold: a dashed vertical line at 0.2 */
    int gx = (int)lround(plot_px_x(&a, 0.2));
    ck_assert(count_color(&im, gx - 1, a.y0, gx + 2, a.y1, grey) > (a.y1 - a.y0) / 3);
    /* the legend names the best threshold: a second red dot, away from the curve's */
    ck_assert(count_color(&im, 0, 0, im.w, im.h, red) - count_color(&im, bx - 8, by - 8, bx + 9, by + 9, red) > 10);
    image_free(&im);
    ck_assert_ptr_null(fig_thresholds_render(th, acc, 29, 29, 0.2, NULL, &err));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plot");
    TCase *t = tcase_create("plot");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, png_round_trips_exact_pixels);
    tcase_add_test(t, font_draws_glyphs_scaled_turned_and_clipped);
    tcase_add_test(t, lr_find_plot_marks_the_suggestion_at_its_lr);
    tcase_add_test(t, losses_plot_has_both_series_and_a_legend);
    tcase_add_test(t, line_plot_survives_bad_data);
    tcase_add_test(t, plots_survive_extreme_ranges);
    tcase_add_test(t, confusion_heatmap_is_legible_with_37_classes);
    tcase_add_test(t, confusion_heatmap_is_not_tiny_with_6_classes);
    tcase_add_test(t, scatter_draws_points_and_their_labels);
    tcase_add_test(t, image_grid_shows_images_captions_and_points);
    tcase_add_test(t, image_grid_points_outside_the_image_stay_on_the_tile);
    tcase_add_test(t, image_grid_markers_have_a_contrasting_outline);
    tcase_add_test(t, image_grid_captions_sit_under_wide_images);
    tcase_add_test(t, image_grid_shrinks_large_images_by_averaging);
    tcase_add_test(t, fig_lr_find_skips_the_last_points_and_marks_suggestions);
    tcase_add_test(t, fig_losses_draws_train_and_valid);
    tcase_add_test(t, fig_thresholds_marks_the_best_threshold);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
