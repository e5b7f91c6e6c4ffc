/* plot.h — the one plotting module: every picture fastc draws comes from here.
 *
 * A Canvas is an RGB pixel buffer with a few primitives (rectangles, lines,
 * markers, text in the built-in font, scaled image blits); on top of it four
 * kinds of figure, each with a `_render` that returns the canvas (for tests
 * and for composing) and a one-call version that writes a PNG atomically:
 *
 *   plot_lines    line plots, linear or log-x, several series, legend,
 *                 labelled vertical markers and marked points
 *                 (lr_find.png, losses.png)
 *   plot_heatmap  a matrix with row/column labels and the value in each cell,
 *                 legible with 37 classes (confusion.png)
 *   plot_scatter  points with text labels (collab PCA)
 *   plot_grid     images (uint8 or normalised float, HWC) with a caption under
 *                 each and optional points/crosses on them
 *                 (show_batch, top_losses.png, results.png)
 *
 * Geometry is reported back (PlotAxes, plot_grid_cell_rect) so callers and
 * tests can locate data on the picture.  Non-finite data values are skipped.
 */
#ifndef FASTC_IO_PLOT_H
#define FASTC_IO_PLOT_H

#include "core/err.h"

#include <stdint.h>

typedef struct Rgb {
    uint8_t r, g, b;
} Rgb;

#define PLOT_WHITE ((Rgb){255, 255, 255})
#define PLOT_BLACK ((Rgb){0, 0, 0})
/* matplotlib's tab10 colours: series i gets plot_color(i). */
Rgb plot_color(int i);
/* ColorBrewer "Blues" (matplotlib's default for confusion matrices), t in [0,1]. */
Rgb plot_blues(double t);

/* ---- canvas ------------------------------------------------------------- */
typedef struct Canvas {
    int w, h;
    uint8_t *px;   /* h * w * 3 bytes, RGB, row-major */
} Canvas;

typedef enum PlotMarker { MARK_DOT, MARK_CROSS, MARK_PLUS, MARK_CIRCLE } PlotMarker;

Canvas *canvas_new(int w, int h, Rgb bg);   /* NULL on bad size / out of memory */
void canvas_free(Canvas *c);                /* NULL-safe */
int canvas_write_png(const Canvas *c, const char *path, Err *err);
Rgb canvas_get(const Canvas *c, int x, int y);   /* outside: white */
void canvas_set(Canvas *c, int x, int y, Rgb col);   /* clipped */
void canvas_fill(Canvas *c, int x, int y, int w, int h, Rgb col);
/* A line of `width` pixels; dash > 0 draws dashes of that many pixels. */
void canvas_line(Canvas *c, double x0, double y0, double x1, double y1, int width, int dash, Rgb col);
void canvas_marker(Canvas *c, double x, double y, int size, PlotMarker m, Rgb col);
/* The same over a 1-pixel outline in plot_contrast(col), so a red cross stays
 * visible on a red object (image grids draw their points so). */
void canvas_marker_outlined(Canvas *c, double x, double y, int size, PlotMarker m, Rgb col);
/* Black for a light colour, white for a dark one. */
Rgb plot_contrast(Rgb col);
void canvas_text(Canvas *c, int x, int y, const char *s, int scale, Rgb col);      /* top-left at (x, y) */
void canvas_text_up(Canvas *c, int x, int y, const char *s, int scale, Rgb col);   /* reads upwards from (x, y) */
/* Draw an 8-bit HWC image (channels 1 or 3) scaled into the dw x dh box at (x, y). */
void canvas_blit(Canvas *c, int x, int y, int dw, int dh, const uint8_t *src, int sw, int sh, int channels);

/* ---- axes shared by line and scatter plots ------------------------------ */
typedef struct PlotAxes {
    int x0, y0, x1, y1;          /* plot area in pixels: [x0, x1] x [y0, y1], y0 at the top */
    double xmin, xmax, ymin, ymax;
    int log_x;
} PlotAxes;

double plot_px_x(const PlotAxes *a, double x);   /* data -> pixel */
double plot_px_y(const PlotAxes *a, double y);

/* ---- line plots --------------------------------------------------------- */
typedef enum PlotStyle { PLOT_LINE = 1, PLOT_POINTS = 2 } PlotStyle;

typedef struct PlotSeries {
    const char *label;       /* legend text, NULL = not in the legend */
    const double *x, *y;
    int n;
    Rgb color;
    int style;               /* PLOT_LINE, PLOT_POINTS or both; 0 = PLOT_LINE */
} PlotSeries;

typedef struct PlotVLine {   /* a vertical marker across the plot */
    double x;
    const char *label;       /* written beside the line near the top; may be NULL */
    Rgb color;
} PlotVLine;

typedef struct PlotMark {    /* a point on the plot, listed in the legend */
    double x, y;
    const char *label;
    Rgb color;
    PlotMarker marker;
} PlotMark;

typedef struct LinePlot {
    const char *title, *xlabel, *ylabel;
    int width, height;       /* 0: 640 x 440 */
    int font_scale;          /* 0: 1 */
    int log_x;
    int fix_y;               /* use ymin/ymax instead of the data range */
    double ymin, ymax;
    const PlotSeries *series;
    int n_series;
    const PlotVLine *vlines;
    int n_vlines;
    const PlotMark *marks;
    int n_marks;
} LinePlot;

Canvas *plot_lines_render(const LinePlot *p, PlotAxes *axes, Err *err);   /* axes may be NULL */
int plot_lines(const LinePlot *p, const char *path, Err *err);

/* ---- scatter with labels ------------------------------------------------ */
typedef struct Scatter {
    const char *title, *xlabel, *ylabel;
    int width, height;       /* 0: 800 x 800 */
    int font_scale;
    int n;
    const double *x, *y;
    const char *const *labels;   /* may be NULL; label i is written beside point i */
    const Rgb *colors;           /* may be NULL: plot_color(0) */
} Scatter;

Canvas *plot_scatter_render(const Scatter *s, PlotAxes *axes, Err *err);
int plot_scatter(const Scatter *s, const char *path, Err *err);

/* ---- heat map ----------------------------------------------------------- */
typedef struct HeatMap {
    const char *title, *xlabel, *ylabel;   /* e.g. "Confusion matrix", "Predicted", "Actual" */
    int rows, cols;
    const double *values;                  /* rows x cols, row-major */
    const char *const *row_labels, *const *col_labels;   /* NULL: 0, 1, 2 ... */
    int show_values;                       /* write each value in its cell */
    int decimals;                          /* digits after the point for values */
    int cell;                              /* cell size in pixels; 0: the matrix about 600 pixels
                                            * across (up to 120 per cell, at least what a value
                                            * needs), with a 2x font when cells are 40 or more */
    int font_scale;                        /* 0: as cell says (1 when cell is given) */
} HeatMap;

typedef struct HeatLayout {
    int x0, y0, cell;        /* top-left of the matrix and the cell size */
} HeatLayout;

Canvas *plot_heatmap_render(const HeatMap *m, HeatLayout *layout, Err *err);
int plot_heatmap(const HeatMap *m, const char *path, Err *err);

/* ---- image grid --------------------------------------------------------- */
typedef struct GridPoint {   /* in the source image's pixel coordinates */
    double x, y;
    Rgb color;
    PlotMarker marker;
} GridPoint;

typedef struct GridCell {
    const uint8_t *rgb;      /* HWC uint8 pixels, or NULL and: */
    const float *f;          /* HWC float pixels: shown as (v * std[c] + mean[c]) * 255 */
    const float *mean, *std; /* per channel, for f (NULL: v in [0, 1]) */
    int w, h, c;             /* c = 1 or 3 */
    const char *caption;     /* under the image, wrapped to the cell width (at most 3 lines) */
    Rgb caption_color;
    const GridPoint *points;
    int n_points;
} GridCell;

typedef struct ImageGrid {
    const char *title;       /* may be NULL */
    const GridCell *cells;
    int n;
    int ncols;               /* 0: ceil(sqrt(n)) */
    int cell;                /* image box size in pixels; 0: 192 */
    int font_scale;
} ImageGrid;

/* Where cell i's image is drawn: the box (box wide, box_h high; box_h is the
 * tallest image fitted into a box x box square, so rows of wide images are
 * lower), and where its caption strip starts, right under it.  An image is
 * centred across its box and sits on its caption.  box_h may be NULL. */
void plot_grid_cell_rect(const ImageGrid *g, int i, int *x, int *y, int *box, int *box_h, int *caption_y);
Canvas *plot_grid_render(const ImageGrid *g, Err *err);
int plot_grid(const ImageGrid *g, const char *path, Err *err);

#endif
