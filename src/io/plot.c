/* plot.c — canvas primitives and the four figure kinds (see plot.h). */
#include "io/plot.h"

#include "io/font.h"
#include "io/png_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE 16384
#define GRID_GRAY ((Rgb){225, 225, 225})
#define AXIS_GRAY ((Rgb){90, 90, 90})

Rgb plot_color(int i)
{
    static const Rgb tab10[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
                                  {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
    return tab10[((i % 10) + 10) % 10];
}

Rgb plot_blues(double t)
{
    static const Rgb stops[9] = {{247, 251, 255}, {222, 235, 247}, {198, 219, 239}, {158, 202, 225}, {107, 174, 214},
                                 {66, 146, 198},  {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double p = t * 8;
    int i = (int)p;
    if (i >= 8) return stops[8];
    double f = p - i;
    Rgb a = stops[i], b = stops[i + 1];
    return (Rgb){(uint8_t)lround(a.r + (b.r - a.r) * f), (uint8_t)lround(a.g + (b.g - a.g) * f),
                 (uint8_t)lround(a.b + (b.b - a.b) * f)};
}

/* ---- canvas ------------------------------------------------------------- */

Canvas *canvas_new(int w, int h, Rgb bg)
{
    if (w <= 0 || h <= 0 || w > MAX_SIDE || h > MAX_SIDE) return NULL;
    Canvas *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->w = w;
    c->h = h;
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px) {
        free(c);
        return NULL;
    }
    canvas_fill(c, 0, 0, w, h, bg);
    return c;
}

void canvas_free(Canvas *c)
{
    if (!c) return;
    free(c->px);
    free(c);
}

int canvas_write_png(const Canvas *c, const char *path, Err *err) { return png_write(path, c->px, c->w, c->h, 3, err); }

Rgb canvas_get(const Canvas *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return PLOT_WHITE;
    const uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    return (Rgb){p[0], p[1], p[2]};
}

void canvas_set(Canvas *c, int x, int y, Rgb col)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = col.r, p[1] = col.g, p[2] = col.b;
}

void canvas_fill(Canvas *c, int x, int y, int w, int h, Rgb col)
{
    int xa = x < 0 ? 0 : x, ya = y < 0 ? 0 : y;
    int xb = x + w > c->w ? c->w : x + w, yb = y + h > c->h ? c->h : y + h;
    for (int yy = ya; yy < yb; yy++)
        for (int xx = xa; xx < xb; xx++) canvas_set(c, xx, yy, col);
}

void canvas_line(Canvas *c, double x0, double y0, double x1, double y1, int width, int dash, Rgb col)
{
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
    /* Clamp far-away endpoints so the loop stays short. */
    double lim = 4.0 * MAX_SIDE;
    if (fabs(x0) > lim || fabs(y0) > lim || fabs(x1) > lim || fabs(y1) > lim) return;
    if (width < 1) width = 1;
    double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
    int steps = (int)ceil(len * 2) + 1;
    int lo = -(width - 1) / 2, hi = width / 2;
    for (int i = 0; i <= steps; i++) {
        double t = (double)i / steps, d = t * len;
        if (dash > 0 && fmod(d, 2.0 * dash) >= dash) continue;
        int x = (int)lround(x0 + dx * t), y = (int)lround(y0 + dy * t);
        for (int a = lo; a <= hi; a++)
            for (int b = lo; b <= hi; b++) canvas_set(c, x + a, y + b, col);
    }
}

/* A marker whose strokes are `extra` pixels wider on each side (and arms that
 * much longer): the outline drawn under canvas_marker_outlined's marker. */
static void draw_marker(Canvas *c, double x, double y, int size, PlotMarker m, Rgb col, int extra)
{
    if (!isfinite(x) || !isfinite(y) || fabs(x) > MAX_SIDE * 2.0 || fabs(y) > MAX_SIDE * 2.0) return;
    int r = (size < 2 ? 1 : size / 2) + extra, cx = (int)lround(x), cy = (int)lround(y);
    int w = (size >= 8 ? 2 : 1) + 2 * extra;
    switch (m) {
    case MARK_DOT:
        for (int a = -r; a <= r; a++)
            for (int b = -r; b <= r; b++)
                if (a * a + b * b <= r * r + r / 2) canvas_set(c, cx + a, cy + b, col);
        break;
    case MARK_CROSS:
        canvas_line(c, cx - r, cy - r, cx + r, cy + r, w, 0, col);
        canvas_line(c, cx - r, cy + r, cx + r, cy - r, w, 0, col);
        break;
    case MARK_PLUS:
        canvas_line(c, cx - r, cy, cx + r, cy, w, 0, col);
        canvas_line(c, cx, cy - r, cx, cy + r, w, 0, col);
        break;
    case MARK_CIRCLE:
        for (int k = 0; k < 8 * r + 8; k++) {
            double a = 2 * M_PI * k / (8 * r + 8);
            int px = (int)lround(cx + r * cos(a)), py = (int)lround(cy + r * sin(a));
            for (int u = -extra; u <= extra; u++)
                for (int v = -extra; v <= extra; v++) canvas_set(c, px + u, py + v, col);
        }
        break;
    }
}

void canvas_marker(Canvas *c, double x, double y, int size, PlotMarker m, Rgb col)
{
    draw_marker(c, x, y, size, m, col, 0);
}

Rgb plot_contrast(Rgb col)
{
    /* relative luminance (Rec. 709 weights) of the marker's colour */
    double lum = (0.2126 * col.r + 0.7152 * col.g + 0.0722 * col.b) / 255.0;
    return lum > 0.45 ? PLOT_BLACK : PLOT_WHITE;
}

void canvas_marker_outlined(Canvas *c, double x, double y, int size, PlotMarker m, Rgb col)
{
    draw_marker(c, x, y, size, m, plot_contrast(col), 1);
    draw_marker(c, x, y, size, m, col, 0);
}

void canvas_text(Canvas *c, int x, int y, const char *s, int scale, Rgb col)
{
    uint8_t k[3] = {col.r, col.g, col.b};
    font_draw(c->px, c->w, c->h, x, y, s, scale, k);
}

void canvas_text_up(Canvas *c, int x, int y, const char *s, int scale, Rgb col)
{
    uint8_t k[3] = {col.r, col.g, col.b};
    font_draw_up(c->px, c->w, c->h, x, y, s, scale, k);
}

void canvas_blit(Canvas *c, int x, int y, int dw, int dh, const uint8_t *src, int sw, int sh, int channels)
{
    if (dw <= 0 || dh <= 0 || sw <= 0 || sh <= 0 || (channels != 1 && channels != 3)) return;
    /* Each output pixel averages the source pixels under it: a box filter
     * when shrinking, nearest neighbour when enlarging. */
    for (int oy = 0; oy < dh; oy++) {
        int sy0 = (int)((int64_t)oy * sh / dh), sy1 = (int)((int64_t)(oy + 1) * sh / dh);
        if (sy1 <= sy0) sy1 = sy0 + 1;
        for (int ox = 0; ox < dw; ox++) {
            int sx0 = (int)((int64_t)ox * sw / dw), sx1 = (int)((int64_t)(ox + 1) * sw / dw);
            if (sx1 <= sx0) sx1 = sx0 + 1;
            unsigned sum[3] = {0, 0, 0}, n = 0;
            for (int sy = sy0; sy < sy1; sy++)
                for (int sx = sx0; sx < sx1; sx++) {
                    const uint8_t *p = src + ((size_t)sy * (size_t)sw + (size_t)sx) * (size_t)channels;
                    for (int k = 0; k < 3; k++) sum[k] += p[channels == 3 ? k : 0];
                    n++;
                }
            canvas_set(c, x + ox, y + oy,
                       (Rgb){(uint8_t)((sum[0] + n / 2) / n), (uint8_t)((sum[1] + n / 2) / n), (uint8_t)((sum[2] + n / 2) / n)});
        }
    }
}

/* Text with a white box behind it, for labels over data. */
static void text_boxed(Canvas *c, int x, int y, const char *s, int scale, Rgb col)
{
    canvas_fill(c, x - 2, y, font_text_width(s, scale) + 4, FONT_H * scale, PLOT_WHITE);
    canvas_text(c, x, y, s, scale, col);
}

/* ---- axes --------------------------------------------------------------- */

double plot_px_x(const PlotAxes *a, double x)
{
    double lo = a->xmin, hi = a->xmax;
    if (a->log_x) {
        if (!(x > 0)) return NAN;
        x = log10(x), lo = log10(lo), hi = log10(hi);
    }
    return a->x0 + (x - lo) / (hi - lo) * (a->x1 - a->x0);
}

double plot_px_y(const PlotAxes *a, double y)
{
    return a->y1 - (y - a->ymin) / (a->ymax - a->ymin) * (a->y1 - a->y0);
}

#define MAX_TICKS 40

typedef struct Ticks {
    int n;
    double v[MAX_TICKS];
    char label[MAX_TICKS][24];
} Ticks;

static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void linear_ticks(double lo, double hi, int target, Ticks *t)
{
    t->n = 0;
    double step = nice_step(hi - lo, target);
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    double big = fmax(fabs(lo), fabs(hi));
    for (double k = ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9 && t->n < MAX_TICKS; k++) {
        double v = k * step;
        if (fabs(v) < step * 1e-9) v = 0;
        t->v[t->n] = v;
        if (big >= 1e6 || (big < 1e-3 && big > 0)) snprintf(t->label[t->n], 24, "%.2g", v);
        else snprintf(t->label[t->n], 24, "%.*f", dec > 10 ? 10 : dec, v);
        t->n++;
    }
}

static void log_label(double v, char *buf)
{
    int e = (int)lround(log10(v));
    if (fabs(v - pow(10, e)) < 1e-9 * v) {
        if (e >= -3 && e <= 3) snprintf(buf, 24, "%g", v);
        else snprintf(buf, 24, "1e%d", e);
    } else {
        snprintf(buf, 24, "%.3g", v);
    }
}

static void log_ticks(double lo, double hi, Ticks *t)
{
    t->n = 0;
    int e0 = (int)ceil(log10(lo) - 1e-9), e1 = (int)floor(log10(hi) + 1e-9);
    int span = e1 - e0 + 1;
    if (span >= 2) {
        int step = span > 10 ? (span + 9) / 10 : 1;
        for (int e = e0; e <= e1 && t->n < MAX_TICKS; e += step) {
            t->v[t->n] = pow(10, e);
            log_label(t->v[t->n], t->label[t->n]);
            t->n++;
        }
        return;
    }
    /* Less than two decades: 1-2-5 multiples. */
    static const double m[3] = {1, 2, 5};
    for (int e = e0 - 1; e <= e1 && t->n < MAX_TICKS; e++)
        for (int k = 0; k < 3 && t->n < MAX_TICKS; k++) {
            double v = m[k] * pow(10, e);
            if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
            t->v[t->n] = v;
            log_label(v, t->label[t->n]);
            t->n++;
        }
}

typedef struct Frame {
    const char *title, *xlabel, *ylabel;
    int w, h, s;
    int log_x;
    double xmin, xmax, ymin, ymax;   /* data range, before padding */
    int fix_y;
} Frame;

static void pad_range(double *lo, double *hi, int log)
{
    if (log) {
        double a = log10(*lo), b = log10(*hi);
        if (b - a < 1e-12) a -= 0.5, b += 0.5;
        double p = (b - a) * 0.03;
        *lo = pow(10, a - p), *hi = pow(10, b + p);
        return;
    }
    if (*hi - *lo < 1e-300 || (*hi - *lo) < 1e-12 * fmax(fabs(*lo), fabs(*hi))) {
        double d = *lo == 0 ? 1 : fabs(*lo) * 0.1;
        *lo -= d, *hi += d;
        return;
    }
    double p = (*hi - *lo) * 0.05;
    *lo -= p, *hi += p;
}

/* Draw title, axes box, grid, ticks and labels; fill in the axes. */
static Canvas *draw_frame(const Frame *f, PlotAxes *a, Err *err)
{
    int s = f->s, th = FONT_H * s;
    a->log_x = f->log_x;
    a->xmin = f->xmin, a->xmax = f->xmax, a->ymin = f->ymin, a->ymax = f->ymax;
    pad_range(&a->xmin, &a->xmax, f->log_x);
    if (!f->fix_y) pad_range(&a->ymin, &a->ymax, 0);
    Ticks yt, xt;
    linear_ticks(a->ymin, a->ymax, 6, &yt);
    int ylw = 0;
    for (int i = 0; i < yt.n; i++) {
        int w = font_text_width(yt.label[i], s);
        if (w > ylw) ylw = w;
    }
    int left = 10 + (f->ylabel ? th + 8 : 0) + ylw + 8;
    int top = 10 + (f->title ? th + 8 : 0);
    int bottom = 6 + th + 6 + (f->xlabel ? th + 6 : 0) + 6;
    int right = 20 + 3 * FONT_W * s;
    if (f->w - left - right < 40 || f->h - top - bottom < 40) {
        err_set(err, ERR_RUNTIME, "plot of %dx%d pixels is too small for its labels", f->w, f->h);
        return NULL;
    }
    Canvas *c = canvas_new(f->w, f->h, PLOT_WHITE);
    if (!c) {
        err_set(err, ERR_RUNTIME, "cannot make a %dx%d picture", f->w, f->h);
        return NULL;
    }
    a->x0 = left, a->x1 = f->w - right, a->y0 = top, a->y1 = f->h - bottom;
    if (f->log_x) log_ticks(a->xmin, a->xmax, &xt);
    else linear_ticks(a->xmin, a->xmax, (a->x1 - a->x0) / (FONT_W * s * 10) + 1, &xt);
    for (int i = 0; i < yt.n; i++) {
        int y = (int)lround(plot_px_y(a, yt.v[i]));
        if (y < a->y0 || y > a->y1) continue;
        canvas_line(c, a->x0, y, a->x1, y, 1, 0, GRID_GRAY);
        canvas_line(c, a->x0 - 4, y, a->x0, y, 1, 0, AXIS_GRAY);
        canvas_text(c, a->x0 - 7 - font_text_width(yt.label[i], s), y - th / 2, yt.label[i], s, PLOT_BLACK);
    }
    /* x labels: skip any that would overlap the previous one */
    int last_right = -1000;
    for (int i = 0; i < xt.n; i++) {
        int x = (int)lround(plot_px_x(a, xt.v[i]));
        if (x < a->x0 || x > a->x1) continue;
        canvas_line(c, x, a->y0, x, a->y1, 1, 0, GRID_GRAY);
        canvas_line(c, x, a->y1, x, a->y1 + 4, 1, 0, AXIS_GRAY);
        int lw = font_text_width(xt.label[i], s);
        if (x - lw / 2 > last_right + 6) {
            canvas_text(c, x - lw / 2, a->y1 + 7, xt.label[i], s, PLOT_BLACK);
            last_right = x - lw / 2 + lw;
        }
    }
    /* axes box */
    canvas_line(c, a->x0, a->y0, a->x1, a->y0, 1, 0, AXIS_GRAY);
    canvas_line(c, a->x0, a->y1, a->x1, a->y1, 1, 0, AXIS_GRAY);
    canvas_line(c, a->x0, a->y0, a->x0, a->y1, 1, 0, AXIS_GRAY);
    canvas_line(c, a->x1, a->y0, a->x1, a->y1, 1, 0, AXIS_GRAY);
    if (f->title) canvas_text(c, (a->x0 + a->x1 - font_text_width(f->title, s)) / 2, 10, f->title, s, PLOT_BLACK);
    if (f->xlabel)
        canvas_text(c, (a->x0 + a->x1 - font_text_width(f->xlabel, s)) / 2, a->y1 + 7 + th + 6, f->xlabel, s, PLOT_BLACK);
    if (f->ylabel) canvas_text_up(c, 10, (a->y0 + a->y1 + font_text_width(f->ylabel, s)) / 2, f->ylabel, s, PLOT_BLACK);
    return c;
}

static void widen(double v, double *lo, double *hi)
{
    if (!isfinite(v)) return;
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
}

/* ---- line plots --------------------------------------------------------- */

typedef struct LegendItem {
    const char *label;
    Rgb color;
    int is_mark;
    PlotMarker marker;
} LegendItem;

static int count_inside(const LinePlot *p, const PlotAxes *a, int x, int y, int w, int h)
{
    int n = 0;
    for (int k = 0; k < p->n_series; k++)
        for (int i = 0; i < p->series[k].n; i++) {
            double px = plot_px_x(a, p->series[k].x[i]), py = plot_px_y(a, p->series[k].y[i]);
            if (px >= x && px < x + w && py >= y && py < y + h) n++;
        }
    return n;
}

static void draw_legend(Canvas *c, const LinePlot *p, const PlotAxes *a, const LegendItem *it, int n, int s)
{
    if (!n) return;
    int th = FONT_H * s, lw = 0;
    for (int i = 0; i < n; i++) {
        int w = font_text_width(it[i].label, s);
        if (w > lw) lw = w;
    }
    int w = 8 + 24 + 6 + lw + 8, h = 6 + n * (th + 3) + 3;
    /* The corner that hides the fewest data points. */
    int xs[2] = {a->x1 - 8 - w, a->x0 + 8}, ys[2] = {a->y0 + 8, a->y1 - 8 - h};
    int bx = xs[0], by = ys[0], best = -1;
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            int k = count_inside(p, a, xs[i], ys[j], w, h);
            if (best < 0 || k < best) best = k, bx = xs[i], by = ys[j];
        }
    canvas_fill(c, bx, by, w, h, PLOT_WHITE);
    canvas_line(c, bx, by, bx + w - 1, by, 1, 0, (Rgb){200, 200, 200});
    canvas_line(c, bx, by + h - 1, bx + w - 1, by + h - 1, 1, 0, (Rgb){200, 200, 200});
    canvas_line(c, bx, by, bx, by + h - 1, 1, 0, (Rgb){200, 200, 200});
    canvas_line(c, bx + w - 1, by, bx + w - 1, by + h - 1, 1, 0, (Rgb){200, 200, 200});
    for (int i = 0; i < n; i++) {
        int y = by + 6 + i * (th + 3), cy = y + th / 2;
        if (it[i].is_mark) canvas_marker(c, bx + 8 + 12, cy, 5 * s + 2, it[i].marker, it[i].color);
        else canvas_line(c, bx + 8, cy, bx + 8 + 24, cy, 2, 0, it[i].color);
        canvas_text(c, bx + 8 + 24 + 6, y, it[i].label, s, PLOT_BLACK);
    }
}

Canvas *plot_lines_render(const LinePlot *p, PlotAxes *axes, Err *err)
{
    PlotAxes a_local;
    PlotAxes *a = axes ? axes : &a_local;
    Frame f = {p->title, p->xlabel, p->ylabel, p->width ? p->width : 640, p->height ? p->height : 440,
               p->font_scale > 0 ? p->font_scale : 1, p->log_x, INFINITY, -INFINITY, INFINITY, -INFINITY, p->fix_y};
    for (int k = 0; k < p->n_series; k++)
        for (int i = 0; i < p->series[k].n; i++) {
            double x = p->series[k].x[i], y = p->series[k].y[i];
            if (!isfinite(x) || !isfinite(y) || (p->log_x && !(x > 0))) continue;
            widen(x, &f.xmin, &f.xmax);
            if (!p->fix_y) widen(y, &f.ymin, &f.ymax);
        }
    for (int i = 0; i < p->n_marks; i++)
        if (!p->log_x || p->marks[i].x > 0) {
            widen(p->marks[i].x, &f.xmin, &f.xmax);
            if (!p->fix_y) widen(p->marks[i].y, &f.ymin, &f.ymax);
        }
    for (int i = 0; i < p->n_vlines; i++)
        if (!p->log_x || p->vlines[i].x > 0) widen(p->vlines[i].x, &f.xmin, &f.xmax);
    if (p->fix_y) f.ymin = p->ymin, f.ymax = p->ymax;
    if (p->fix_y && !(f.ymax > f.ymin)) {
        err_set(err, ERR_RUNTIME, "plot '%s': y range [%g, %g] is empty", p->title ? p->title : "", f.ymin, f.ymax);
        return NULL;
    }
    if (!(f.xmax >= f.xmin)) f.xmin = p->log_x ? 0.1 : 0, f.xmax = p->log_x ? 10 : 1;   /* no data */
    if (!(f.ymax >= f.ymin)) f.ymin = 0, f.ymax = 1;
    Canvas *c = draw_frame(&f, a, err);
    if (!c) return NULL;
    int s = f.s;
    /* Series, clipped to the plot area by skipping segments that leave it
     * far (a few pixels of overdraw near the frame are harmless). */
    for (int k = 0; k < p->n_series; k++) {
        const PlotSeries *se = &p->series[k];
        int style = se->style ? se->style : PLOT_LINE;
        double px = NAN, py = NAN;
        for (int i = 0; i < se->n; i++) {
            double x = plot_px_x(a, se->x[i]), y = plot_px_y(a, se->y[i]);
            int ok = isfinite(x) && isfinite(y) && isfinite(se->y[i]);
            if (ok && y < a->y0) y = a->y0;   /* clamp to the frame (fix_y) */
            if (ok && y > a->y1) y = a->y1;
            if (ok && (style & PLOT_LINE) && isfinite(px)) canvas_line(c, px, py, x, y, 2, 0, se->color);
            if (ok && (style & PLOT_POINTS)) canvas_marker(c, x, y, 4 * s + 1, MARK_DOT, se->color);
            px = ok ? x : NAN, py = ok ? y : NAN;
        }
    }
    /* Vertical markers with labels stacked near the top. */
    for (int i = 0; i < p->n_vlines; i++) {
        double x = plot_px_x(a, p->vlines[i].x);
        if (!isfinite(x)) continue;
        canvas_line(c, x, a->y0, x, a->y1, 2, 6, p->vlines[i].color);
    }
    for (int i = 0; i < p->n_vlines; i++) {
        double x = plot_px_x(a, p->vlines[i].x);
        if (!isfinite(x) || !p->vlines[i].label) continue;
        int lw = font_text_width(p->vlines[i].label, s);
        int tx = (int)x + 5;
        if (tx + lw > a->x1 - 2) tx = (int)x - 5 - lw;
        text_boxed(c, tx, a->y0 + 4 + i * (FONT_H * s + 2), p->vlines[i].label, s, p->vlines[i].color);
    }
    for (int i = 0; i < p->n_marks; i++)
        canvas_marker(c, plot_px_x(a, p->marks[i].x), plot_px_y(a, p->marks[i].y), 6 * s + 3, p->marks[i].marker,
                      p->marks[i].color);
    LegendItem items[64];
    int n = 0;
    for (int k = 0; k < p->n_series && n < 64; k++)
        if (p->series[k].label) items[n++] = (LegendItem){p->series[k].label, p->series[k].color, 0, MARK_DOT};
    for (int i = 0; i < p->n_marks && n < 64; i++)
        if (p->marks[i].label) items[n++] = (LegendItem){p->marks[i].label, p->marks[i].color, 1, p->marks[i].marker};
    draw_legend(c, p, a, items, n, s);
    return c;
}

int plot_lines(const LinePlot *p, const char *path, Err *err)
{
    Canvas *c = plot_lines_render(p, NULL, err);
    if (!c) return err_prefix(err, "%s: ", path);
    int rc = canvas_write_png(c, path, err);
    canvas_free(c);
    return rc;
}

/* ---- scatter ------------------------------------------------------------ */

Canvas *plot_scatter_render(const Scatter *sc, PlotAxes *axes, Err *err)
{
    PlotAxes a_local;
    PlotAxes *a = axes ? axes : &a_local;
    Frame f = {sc->title, sc->xlabel, sc->ylabel, sc->width ? sc->width : 800, sc->height ? sc->height : 800,
               sc->font_scale > 0 ? sc->font_scale : 1, 0, INFINITY, -INFINITY, INFINITY, -INFINITY, 0};
    for (int i = 0; i < sc->n; i++)
        if (isfinite(sc->x[i]) && isfinite(sc->y[i])) widen(sc->x[i], &f.xmin, &f.xmax), widen(sc->y[i], &f.ymin, &f.ymax);
    if (!(f.xmax >= f.xmin)) f.xmin = 0, f.xmax = 1, f.ymin = 0, f.ymax = 1;
    /* Room on the right for labels of the rightmost points. */
    if (sc->labels) f.xmax += (f.xmax - f.xmin) * 0.12;
    Canvas *c = draw_frame(&f, a, err);
    if (!c) return NULL;
    int s = f.s;
    for (int i = 0; i < sc->n; i++) {
        if (!isfinite(sc->x[i]) || !isfinite(sc->y[i])) continue;
        double x = plot_px_x(a, sc->x[i]), y = plot_px_y(a, sc->y[i]);
        Rgb col = sc->colors ? sc->colors[i] : plot_color(0);
        canvas_marker(c, x, y, 4 * s + 2, MARK_DOT, col);
    }
    for (int i = 0; sc->labels && i < sc->n; i++) {
        if (!isfinite(sc->x[i]) || !isfinite(sc->y[i]) || !sc->labels[i]) continue;
        double x = plot_px_x(a, sc->x[i]), y = plot_px_y(a, sc->y[i]);
        canvas_text(c, (int)x + 4 * s + 2, (int)y - FONT_H * s / 2, sc->labels[i], s, PLOT_BLACK);
    }
    return c;
}

int plot_scatter(const Scatter *s, const char *path, Err *err)
{
    Canvas *c = plot_scatter_render(s, NULL, err);
    if (!c) return err_prefix(err, "%s: ", path);
    int rc = canvas_write_png(c, path, err);
    canvas_free(c);
    return rc;
}

/* ---- heat map ----------------------------------------------------------- */

#define MAX_LABEL 32
#define HEAT_ZERO_INK ((Rgb){190, 190, 190})
#define HEAT_SEP ((Rgb){235, 235, 235})
#define HEAT_GUIDE ((Rgb){150, 150, 150})
#define HEAT_TARGET 600   /* auto size: the matrix side in pixels, when cells allow */
#define HEAT_MAX_CELL 120

/* Label i, shortened to MAX_LABEL characters with ".." */
static void short_label(const char *const *labels, int i, char *buf)
{
    if (!labels || !labels[i]) {
        snprintf(buf, MAX_LABEL + 8, "%d", i);
        return;
    }
    const char *s = labels[i];
    if (font_text_len(s) <= MAX_LABEL) {
        snprintf(buf, MAX_LABEL * 4 + 8, "%s", s);
        return;
    }
    /* keep the first MAX_LABEL-2 characters (code points) */
    int n = 0;
    const char *p = s;
    while (*p && n < MAX_LABEL - 2) {
        p++;
        while ((*p & 0xc0) == 0x80) p++;
        n++;
    }
    snprintf(buf, MAX_LABEL * 4 + 8, "%.*s..", (int)(p - s), s);
}

Canvas *plot_heatmap_render(const HeatMap *m, HeatLayout *layout, Err *err)
{
    if (m->rows <= 0 || m->cols <= 0 || m->rows > 300 || m->cols > 300) {
        err_set(err, ERR_RUNTIME, "heat map of %d x %d cells: between 1 and 300 rows and columns can be drawn",
                m->rows, m->cols);
        return NULL;
    }
    /* Auto size: the matrix about HEAT_TARGET pixels across, so 6 classes get
     * big cells and a 2x font, and 37 the smallest cells a count fits in. */
    int n_max = m->rows > m->cols ? m->rows : m->cols, auto_cell = HEAT_TARGET / n_max;
    int s = m->font_scale > 0 ? m->font_scale : m->cell <= 0 && auto_cell >= 2 * FONT_H + 14 ? 2 : 1;
    int th = FONT_H * s;
    int dec = m->decimals < 0 ? 0 : m->decimals > 6 ? 6 : m->decimals;
    double vmax = 0, vmin = 0;
    int valw = 0;
    char buf[MAX_LABEL * 4 + 8];
    for (int i = 0; i < m->rows * m->cols; i++) {
        double v = m->values[i];
        if (!isfinite(v)) continue;
        if (v > vmax) vmax = v;
        if (v < vmin) vmin = v;
        snprintf(buf, sizeof buf, "%.*f", dec, v);
        int w = font_text_width(buf, s);
        if (w > valw) valw = w;
    }
    int cell = m->cell > 0 ? m->cell : auto_cell > HEAT_MAX_CELL ? HEAT_MAX_CELL : auto_cell;
    if (m->cell <= 0 && cell < th + 8) cell = th + 8;
    if (m->cell <= 0 && m->show_values && valw + 6 > cell) cell = valw + 6;
    int rlw = 0, clw = 0;
    for (int i = 0; i < m->rows; i++) {
        short_label(m->row_labels, i, buf);
        int w = font_text_width(buf, s);
        if (w > rlw) rlw = w;
    }
    for (int j = 0; j < m->cols; j++) {
        short_label(m->col_labels, j, buf);
        int w = font_text_width(buf, s);
        if (w > clw) clw = w;
    }
    int left = 10 + (m->ylabel ? th + 10 : 0) + rlw + 6;
    int top = 10 + (m->title ? th + 12 : 0);
    int mw = m->cols * cell, mh = m->rows * cell;
    int title_w = m->title ? font_text_width(m->title, s) : 0;
    int W = left + mw + 20, H = top + mh + 6 + clw + 8 + (m->xlabel ? th + 8 : 0) + 8;
    if (W < title_w + 20) W = title_w + 20;
    Canvas *c = canvas_new(W, H, PLOT_WHITE);
    if (!c) {
        err_set(err, ERR_RUNTIME, "cannot make a %dx%d picture for the heat map", W, H);
        return NULL;
    }
    if (layout) layout->x0 = left, layout->y0 = top, layout->cell = cell;
    double span = vmax - vmin > 0 ? vmax - vmin : 1;
    for (int i = 0; i < m->rows; i++)
        for (int j = 0; j < m->cols; j++) {
            double v = m->values[i * m->cols + j];
            double t = isfinite(v) ? (v - vmin) / span : 0;
            Rgb col = isfinite(v) ? plot_blues(t) : (Rgb){200, 200, 200};
            int x = left + j * cell, y = top + i * cell;
            canvas_fill(c, x, y, cell, cell, col);
            if (m->show_values && isfinite(v)) {
                snprintf(buf, sizeof buf, "%.*f", dec, v);
                int w = font_text_width(buf, s);
                /* white on dark cells, as fastai's plot_confusion_matrix; zeros in
                 * light grey, so that with 37 classes the few nonzero cells off
                 * the diagonal stand out from ~1300 zeros */
                Rgb ink = t > 0.5 ? PLOT_WHITE : v == 0 ? HEAT_ZERO_INK : PLOT_BLACK;
                canvas_text(c, x + (cell - w) / 2, y + (cell - th) / 2 + s, buf, s, ink);
            }
        }
    /* thin separators keep 37 x 37 cells countable; a darker one every 5
     * rows and columns (beyond 10) guides the eye along a row to its label */
    for (int i = 0; i <= m->rows; i++) {
        int guide = m->rows > 10 && i % 5 == 0 && i > 0 && i < m->rows;
        canvas_line(c, left, top + i * cell, left + mw, top + i * cell, 1, 0, guide ? HEAT_GUIDE : HEAT_SEP);
    }
    for (int j = 0; j <= m->cols; j++) {
        int guide = m->cols > 10 && j % 5 == 0 && j > 0 && j < m->cols;
        canvas_line(c, left + j * cell, top, left + j * cell, top + mh, 1, 0, guide ? HEAT_GUIDE : HEAT_SEP);
    }
    for (int i = 0; i < m->rows; i++) {
        short_label(m->row_labels, i, buf);
        canvas_text(c, left - 6 - font_text_width(buf, s), top + i * cell + (cell - th) / 2 + s, buf, s, PLOT_BLACK);
    }
    for (int j = 0; j < m->cols; j++) {
        short_label(m->col_labels, j, buf);
        int w = font_text_width(buf, s);
        canvas_text_up(c, left + j * cell + (cell - th) / 2, top + mh + 6 + w - 1, buf, s, PLOT_BLACK);
    }
    if (m->title) canvas_text(c, left + (mw - title_w) / 2 > 4 ? left + (mw - title_w) / 2 : 4, 10, m->title, s, PLOT_BLACK);
    if (m->xlabel)
        canvas_text(c, left + (mw - font_text_width(m->xlabel, s)) / 2, top + mh + 6 + clw + 8, m->xlabel, s, PLOT_BLACK);
    if (m->ylabel) canvas_text_up(c, 10, top + (mh + font_text_width(m->ylabel, s)) / 2, m->ylabel, s, PLOT_BLACK);
    return c;
}

int plot_heatmap(const HeatMap *m, const char *path, Err *err)
{
    Canvas *c = plot_heatmap_render(m, NULL, err);
    if (!c) return err_prefix(err, "%s: ", path);
    int rc = canvas_write_png(c, path, err);
    canvas_free(c);
    return rc;
}

/* ---- image grid --------------------------------------------------------- */

#define CAP_LINES 3
#define CAP_MAX 256

/* Split a caption into at most CAP_LINES lines of at most maxc characters,
 * breaking after a space, '/' or '_' when one is near; non-ASCII becomes '?'. */
static int wrap_caption(const char *s, int maxc, char lines[CAP_LINES][CAP_MAX])
{
    char a[1024];
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n < (int)sizeof a - 1; p++) {
        if (*p >= 0x80) {
            while ((p[1] & 0xc0) == 0x80) p++;
            a[n++] = '?';
        } else {
            a[n++] = (*p < 32 || *p > 126) ? ' ' : (char)*p;
        }
    }
    a[n] = 0;
    if (maxc < 1) maxc = 1;
    if (maxc > CAP_MAX - 3) maxc = CAP_MAX - 3;
    int nl = 0, pos = 0;
    while (pos < n && nl < CAP_LINES) {
        while (pos < n && a[pos] == ' ') pos++;
        if (pos >= n) break;
        int len = n - pos;
        if (len > maxc) {
            len = maxc;
            for (int k = maxc; k > maxc / 3; k--)
                if (a[pos + k - 1] == ' ' || a[pos + k - 1] == '/' || a[pos + k - 1] == '_') {
                    len = k;
                    break;
                }
            if (nl == CAP_LINES - 1) { /* last line: cut with ".." */
                len = maxc >= 3 ? maxc - 2 : maxc;
                snprintf(lines[nl], CAP_MAX, "%.*s..", len, a + pos);
                nl++;
                break;
            }
        }
        int end = len;
        while (end > 0 && a[pos + end - 1] == ' ') end--;
        snprintf(lines[nl], CAP_MAX, "%.*s", end, a + pos);
        nl++;
        pos += len;
    }
    return nl;
}

typedef struct GridGeom {
    int s, box, box_h, ncols, nrows, pad, title_h, cap_h, W, H, maxc;
} GridGeom;

/* The height an image takes once fitted into a box-wide, box-high square. */
static int fitted_h(const GridCell *cell, int box)
{
    if (cell->w <= 0 || cell->h <= 0) return box;
    double sc = fmin((double)box / cell->w, (double)box / cell->h);
    int dh = (int)lround(cell->h * sc);
    return dh < 1 ? 1 : dh;
}

static void grid_geom(const ImageGrid *g, GridGeom *q)
{
    q->s = g->font_scale > 0 ? g->font_scale : 1;
    q->box = g->cell > 0 ? g->cell : 192;
    q->ncols = g->ncols > 0 ? g->ncols : (int)ceil(sqrt((double)(g->n > 0 ? g->n : 1)));
    if (q->ncols > (g->n > 0 ? g->n : 1)) q->ncols = g->n > 0 ? g->n : 1;
    q->nrows = g->n > 0 ? (g->n + q->ncols - 1) / q->ncols : 1;
    q->pad = 10;
    q->maxc = q->box / (FONT_W * q->s);
    int lines = 0;
    char buf[CAP_LINES][CAP_MAX];
    for (int i = 0; i < g->n; i++)
        if (g->cells[i].caption) {
            int k = wrap_caption(g->cells[i].caption, q->maxc, buf);
            if (k > lines) lines = k;
        }
    q->cap_h = lines ? lines * FONT_H * q->s + 6 : 0;
    q->title_h = g->title ? FONT_H * q->s + 12 : 0;
    /* Rows as high as the tallest fitted image, not the square box: a wide
     * image (BIWI's 320x240) leaves no band between it and its caption. */
    q->box_h = 1;
    for (int i = 0; i < g->n; i++) {
        int h = fitted_h(&g->cells[i], q->box);
        if (h > q->box_h) q->box_h = h;
    }
    if (g->n == 0) q->box_h = q->box;
    q->W = q->pad + q->ncols * (q->box + q->pad);
    q->H = q->title_h + q->pad + q->nrows * (q->box_h + q->cap_h + q->pad);
}

void plot_grid_cell_rect(const ImageGrid *g, int i, int *x, int *y, int *box, int *box_h, int *caption_y)
{
    GridGeom q;
    grid_geom(g, &q);
    int col = i % q.ncols, row = i / q.ncols;
    *x = q.pad + col * (q.box + q.pad);
    *y = q.title_h + q.pad + row * (q.box_h + q.cap_h + q.pad);
    *box = q.box;
    if (box_h) *box_h = q.box_h;
    *caption_y = *y + q.box_h + 3;
}

Canvas *plot_grid_render(const ImageGrid *g, Err *err)
{
    GridGeom q;
    grid_geom(g, &q);
    if ((int64_t)q.W * q.H > 64ll * 1024 * 1024) {
        err_set(err, ERR_RUNTIME, "image grid of %d x %d pixels is too large", q.W, q.H);
        return NULL;
    }
    Canvas *c = canvas_new(q.W, q.H, PLOT_WHITE);
    if (!c) {
        err_set(err, ERR_RUNTIME, "cannot make a %dx%d picture for the image grid", q.W, q.H);
        return NULL;
    }
    if (g->title) canvas_text(c, (q.W - font_text_width(g->title, q.s)) / 2, 8, g->title, q.s, PLOT_BLACK);
    for (int i = 0; i < g->n; i++) {
        const GridCell *cell = &g->cells[i];
        int x, y, box, box_h, cy;
        plot_grid_cell_rect(g, i, &x, &y, &box, &box_h, &cy);
        if (cell->w > 0 && cell->h > 0 && (cell->c == 1 || cell->c == 3) && (cell->rgb || cell->f)) {
            double sc = fmin((double)box / cell->w, (double)box / cell->h);
            int dw = (int)lround(cell->w * sc), dh = (int)lround(cell->h * sc);
            if (dw < 1) dw = 1;
            if (dh < 1) dh = 1;
            int ox = x + (box - dw) / 2, oy = y + box_h - dh;   /* centred, sitting on its caption */
            const uint8_t *src = cell->rgb;
            uint8_t *tmp = NULL;
            if (!src) {
                size_t n = (size_t)cell->w * (size_t)cell->h * (size_t)cell->c;
                tmp = malloc(n);
                if (!tmp) {
                    canvas_free(c);
                    err_set(err, ERR_RUNTIME, "out of memory drawing image %d", i);
                    return NULL;
                }
                for (size_t k = 0; k < n; k++) {
                    int ch = (int)(k % (size_t)cell->c);
                    double v = cell->f[k];
                    if (cell->std) v *= cell->std[ch];
                    if (cell->mean) v += cell->mean[ch];
                    v = v * 255.0;
                    tmp[k] = !(v > 0) ? 0 : v >= 255 ? 255 : (uint8_t)lround(v);
                }
                src = tmp;
            }
            canvas_blit(c, ox, oy, dw, dh, src, cell->w, cell->h, cell->c);
            free(tmp);
            int ms = box / 20 < 5 ? 5 : box / 20;
            for (int k = 0; k < cell->n_points; k++) {
                /* A point outside the image (a target at exactly +1 lies on the far edge,
                 * one pixel past the last; a prediction may lie anywhere) is drawn on the
                 * tile's edge, not over the neighbouring tile or caption. */
                const GridPoint *pt = &cell->points[k];
                double mx = ox + (pt->x + 0.5) * dw / cell->w - 0.5, my = oy + (pt->y + 0.5) * dh / cell->h - 0.5;
                mx = fmin(fmax(mx, ox), ox + dw - 1), my = fmin(fmax(my, oy), oy + dh - 1);
                canvas_marker_outlined(c, mx, my, ms, pt->marker, pt->color);
            }
        }
        if (cell->caption) {
            char lines[CAP_LINES][CAP_MAX];
            int nl = wrap_caption(cell->caption, q.maxc, lines);
            for (int k = 0; k < nl; k++)
                canvas_text(c, x + (box - font_text_width(lines[k], q.s)) / 2, cy + k * FONT_H * q.s, lines[k], q.s,
                            cell->caption_color);
        }
    }
    return c;
}

int plot_grid(const ImageGrid *g, const char *path, Err *err)
{
    Canvas *c = plot_grid_render(g, err);
    if (!c) return err_prefix(err, "%s: ", path);
    int rc = canvas_write_png(c, path, err);
    canvas_free(c);
    return rc;
}
