/* datasets.c — see datasets.h.
 *
 * Fashion-MNIST's IDX files are gzip'ed; zlib (gzopen/gzread) reads them.
 * zlib is a dependency anyway (libpng links it); the Makefile names it.
 * Files inside the partial tree are written plainly (a per-file fsync of 70k
 * PNGs would cost minutes); one syncfs() before the final rename makes the
 * whole tree durable at once, and the rename makes it visible at once.
 */
#include "data/datasets.h"

#include "core/rng.h"
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

const char *const datasets_fashion_classes[10] = {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
                                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle_boot"};

#define MARKER ".fastc-dataset"

/* ---- the partial-tree protocol --------------------------------------------- */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int rmtree(const char *p)
{
    struct stat st;
    if (lstat(p, &st) != 0) return 0;
    return nftw(p, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/* 1 when dir holds a completed dataset with exactly this marker text, 0 when
 * dir does not exist (or is an empty folder); otherwise an error. */
static int check_existing(const char *dir, const char *marker, Err *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return -err_set(err, ERR_RUNTIME, "%s: exists and is not a folder", dir);
    char path[4200], buf[512] = "";
    snprintf(path, sizeof path, "%s/%s", dir, MARKER);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        buf[k] = 0;
        fclose(f);
        if (strcmp(buf, marker) == 0) return 1;
        char *nl = strchr(buf, '\n');
        if (nl) *nl = 0;
        return -err_set(err, ERR_RUNTIME, "%s: holds a different dataset (%s); remove it or choose another folder",
                        dir, buf);
    }
    if (rmdir(dir) == 0) return 0;  /* an empty folder: fine to replace */
    return -err_set(err, ERR_RUNTIME,
                    "%s: exists and was not made by fastc get (no %s marker); remove it or choose another folder",
                    dir, MARKER);
}

static int begin_partial(const char *dir, char *partial, size_t cap, Err *err)
{
    snprintf(partial, cap, "%s.partial", dir);
    if (rmtree(partial) != 0)
        return err_set(err, ERR_RUNTIME, "%s: cannot remove the leftover of an earlier run: %s", partial, strerror(errno));
    return atomic_mkdirs(partial, err);
}

static int finish_partial(const char *partial, const char *dir, const char *marker, Err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", partial, MARKER);
    FILE *f = fopen(path, "w");
    if (!f || fputs(marker, f) < 0 || fclose(f) != 0)
        return err_set(err, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
    int fd = open(partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
    if (rename(partial, dir) != 0)
        return err_set(err, ERR_RUNTIME, "%s: cannot rename to %s: %s", partial, dir, strerror(errno));
    return atomic_fsync_dir_of(dir, err);
}

/* ---- writers (one per thread, no shared state) ------------------------------- */

static int write_png(const char *path, int w, int h, int c, const uint8_t *px, int level)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rows = NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_compression_level(png, level);
    png_set_IHDR(png, info, w, h, 8, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    rows = malloc(sizeof(png_bytep) * h);
    if (!rows) png_error(png, "out of memory");
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)px + (size_t)y * w * c;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return fclose(f) == 0 ? 0 : -1;
}

static int write_jpeg(const char *path, int w, int h, const uint8_t *rgb, int quality)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);  /* only I/O can fail on a FILE we opened; default exit is not reached */
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = w, ci.image_height = h, ci.input_components = 3, ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)ci.next_scanline * w * 3);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return fclose(f) == 0 ? 0 : -1;
}

static int n_threads(int threads)
{
    return threads > 0 ? threads : omp_get_num_procs();
}

/* ---- Fashion-MNIST ------------------------------------------------------------ */

/* Read a gzip'ed IDX file: magic 0x0803 (images n x rows x cols) or 0x0801 (labels n). */
static uint8_t *read_idx(const char *path, int want_dims, int *n, int *rows, int *cols, Err *err)
{
    gzFile g = gzopen(path, "rb");
    if (!g) {
        err_set(err, ERR_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char hdr[16];
    int hl = 4 + 4 * want_dims;
    if (gzread(g, hdr, (unsigned)hl) != hl || hdr[0] || hdr[1] || hdr[2] != 8 || hdr[3] != want_dims) {
        gzclose(g);
        err_set(err, ERR_RUNTIME, "%s: not an IDX file of %s (bad header)", path, want_dims == 3 ? "images" : "labels");
        return NULL;
    }
    uint32_t d[3] = {0, 1, 1};
    for (int i = 0; i < want_dims; i++)
        d[i] = (uint32_t)hdr[4 + 4 * i] << 24 | (uint32_t)hdr[5 + 4 * i] << 16 | (uint32_t)hdr[6 + 4 * i] << 8 |
               hdr[7 + 4 * i];
    if (d[0] > 10000000 || d[1] > 4096 || d[2] > 4096) {
        gzclose(g);
        err_set(err, ERR_RUNTIME, "%s: implausible IDX sizes %ux%ux%u", path, d[0], d[1], d[2]);
        return NULL;
    }
    size_t bytes = (size_t)d[0] * d[1] * d[2];
    uint8_t *buf = malloc(bytes ? bytes : 1);
    size_t got = 0;
    while (buf && got < bytes) {
        unsigned chunk = bytes - got > (1u << 30) ? (1u << 30) : (unsigned)(bytes - got);
        int k = gzread(g, buf + got, chunk);
        if (k <= 0) break;
        got += (size_t)k;
    }
    gzclose(g);
    if (!buf || got != bytes) {
        free(buf);
        err_set(err, ERR_RUNTIME, "%s: truncated or corrupt (%zu of %zu bytes)", path, got, bytes);
        return NULL;
    }
    *n = (int)d[0];
    if (rows) *rows = (int)d[1];
    if (cols) *cols = (int)d[2];
    return buf;
}

static int fashion_split(const char *src, const char *prefix, const char *out, const char *split, int limit,
                         int threads, Err *err)
{
    char ip[4200], lp[4200];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", src, prefix);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", src, prefix);
    int n, r, c, nl;
    uint8_t *img = read_idx(ip, 3, &n, &r, &c, err);
    if (!img) return err->code;
    uint8_t *lab = read_idx(lp, 1, &nl, NULL, NULL, err);
    if (!lab) {
        free(img);
        return err->code;
    }
    int rc = 0;
    if (nl != n) rc = err_set(err, ERR_RUNTIME, "%s: %d labels for %d images in %s", lp, nl, n, ip);
    for (int i = 0; !rc && i < n; i++)
        if (lab[i] > 9) rc = err_set(err, ERR_RUNTIME, "%s: label %d of item %d is not a class 0-9", lp, lab[i], i);
    char path[4200];
    for (int k = 0; !rc && k < 10; k++) {
        snprintf(path, sizeof path, "%s/%s/%s", out, split, datasets_fashion_classes[k]);
        rc = atomic_mkdirs(path, err);
    }
    if (limit > 0 && limit < n) n = limit;
    int failed = -1;
    if (!rc) {
#pragma omp parallel for schedule(static) num_threads(n_threads(threads))
        for (int i = 0; i < n; i++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s/%s/%d.png", out, split, datasets_fashion_classes[lab[i]], i);
            if (write_png(p, c, r, 1, img + (size_t)i * r * c, 1) != 0) {
#pragma omp critical
                failed = i;
            }
        }
        if (failed >= 0)
            rc = err_set(err, ERR_RUNTIME, "%s/%s: cannot write image %d: %s", out, split, failed, strerror(errno));
    }
    free(img);
    free(lab);
    return rc;
}

int datasets_fashion_mnist(const char *src_dir, const char *dir, int limit, int threads, int *reused, Err *err)
{
    *reused = 0;
    if (!src_dir) src_dir = DATASETS_FASHION_MNIST_SRC;
    static const char *const files[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    char marker[128];
    snprintf(marker, sizeof marker, "fashion_mnist v1%s\n", limit > 0 ? " (limited)" : "");
    int ex = check_existing(dir, marker, err);
    if (ex < 0) return err->code;
    if (ex == 1) return *reused = 1, 0;
    for (int i = 0; i < 4; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", src_dir, files[i]);
        if (access(p, R_OK) != 0)
            return err_set(err, ERR_RUNTIME,
                           "%s: not found; Fashion-MNIST comes from Debian's package dataset-fashion-mnist: "
                           "sudo apt-get install dataset-fashion-mnist",
                           p);
    }
    char partial[4200];
    int rc = begin_partial(dir, partial, sizeof partial, err);
    if (!rc) rc = fashion_split(src_dir, "train", partial, "train", limit, threads, err);
    if (!rc) rc = fashion_split(src_dir, "t10k", partial, "valid", limit, threads, err);
    if (!rc) rc = finish_partial(partial, dir, marker, err);
    if (rc) rmtree(partial);
    return rc;
}

/* ---- shapes ------------------------------------------------------------------- */

enum { SH_CIRCLE, SH_CROSS, SH_SQUARE, SH_TRIANGLE, SH_N };
static const char *const shape_names[SH_N] = {"circle", "cross", "square", "triangle"};
static const uint8_t palette[][3] = {{220, 40, 40},  {40, 170, 60},  {40, 80, 220}, {230, 200, 30},
                                     {200, 50, 200}, {30, 190, 200}, {240, 130, 20}};
#define N_PALETTE ((int)(sizeof palette / sizeof palette[0]))

typedef struct Shape {
    int kind;
    float cx, cy, r, angle;  /* r: radius of the bounding circle */
    uint8_t col[3];
    float ca, sa;            /* cos/sin of angle, and the triangle's vertices (shape frame) */
    float tx[3], ty[3];
} Shape;

static void shape_prepare(Shape *s)
{
    s->ca = cosf(s->angle), s->sa = sinf(s->angle);
    for (int k = 0; k < 3; k++) {
        float t = -1.5707963f + k * 2.0943951f;
        s->tx[k] = s->r * cosf(t), s->ty[k] = s->r * sinf(t);
    }
}

typedef struct ShapeImage {
    int w, h, n_shapes, is_png, is_valid;
    Shape s[4];
} ShapeImage;

/* Whether point (x, y) lies inside the shape. */
static int inside(const Shape *s, float x, float y)
{
    float dx = x - s->cx, dy = y - s->cy;
    float u = s->ca * dx + s->sa * dy, v = -s->sa * dx + s->ca * dy;  /* rotated into the shape's frame */
    float r = s->r;
    switch (s->kind) {
    case SH_CIRCLE: return dx * dx + dy * dy <= r * r;
    case SH_SQUARE: return fabsf(u) <= r * 0.7071f && fabsf(v) <= r * 0.7071f;
    case SH_CROSS: {
        float a = r * 0.7071f, t = r * 0.25f;
        return (fabsf(u) <= a && fabsf(v) <= t) || (fabsf(v) <= a && fabsf(u) <= t);
    }
    case SH_TRIANGLE: {
        /* equilateral, vertices on the circle of radius r */
        const float *px = s->tx, *py = s->ty;
        int sgn = 0;
        for (int k = 0; k < 3; k++) {
            int j = (k + 1) % 3;
            float cr = (px[j] - px[k]) * (v - py[k]) - (py[j] - py[k]) * (u - px[k]);
            int sg = cr >= 0 ? 1 : -1;
            if (sgn && sg != sgn) return 0;
            sgn = sg;
        }
        return 1;
    }
    }
    return 0;
}

/* The layout of image i: a pure function of (seed, i, single).  single: one
 * shape whose radius spans both ranges of the multi-shape images (small to
 * big), the pretraining set of bench/accuracy_shapes.sh. */
static void shapes_layout(uint64_t seed, int single, int i, ShapeImage *im)
{
    Rng r = rng_make(seed, 0x5348415045ULL + (uint64_t)i);  /* "SHAPE" + i */
    memset(im, 0, sizeof *im);
    im->w = 96 + (int)rng_below(&r, 105);
    im->h = 96 + (int)rng_below(&r, 105);
    im->is_png = rng_uniform(&r) < 0.35;
    im->is_valid = rng_uniform(&r) < 0.2;
    int want = single ? 1 : 1 + (int)rng_below(&r, 4);
    float m = (float)(im->w < im->h ? im->w : im->h);
    for (int k = 0; k < want; k++) {
        Shape s;
        s.kind = (int)rng_below(&r, SH_N);
        /* the first shape is the biggest, by radius and by area whatever the kinds */
        s.r = single ? m * (0.07f + 0.25f * rng_uniformf(&r))
              : k == 0 ? m * (0.22f + 0.10f * rng_uniformf(&r)) : m * (0.07f + 0.06f * rng_uniformf(&r));
        s.angle = s.kind == SH_CIRCLE ? 0 : 6.2831853f * rng_uniformf(&r);
        memcpy(s.col, palette[rng_below(&r, N_PALETTE)], 3);
        shape_prepare(&s);
        int placed = 0;
        for (int tries = 0; tries < 30 && !placed; tries++) {
            s.cx = s.r + 1 + rng_uniformf(&r) * (im->w - 2 * s.r - 2);
            s.cy = s.r + 1 + rng_uniformf(&r) * (im->h - 2 * s.r - 2);
            placed = 1;
            for (int j = 0; j < im->n_shapes && placed; j++) {
                float dx = s.cx - im->s[j].cx, dy = s.cy - im->s[j].cy, d = s.r + im->s[j].r + 2;
                if (dx * dx + dy * dy < d * d) placed = 0;
            }
        }
        if (placed) im->s[im->n_shapes++] = s;
    }
}

/* Render with 4x4 supersampling on a light, slightly noisy background. */
static void shapes_render(uint64_t seed, int i, const ShapeImage *im, uint8_t *rgb)
{
    Rng r = rng_make(seed, 0x4247ULL << 32 | (uint64_t)i);
    float bg[3];
    for (int c = 0; c < 3; c++) bg[c] = 205.0f + 40.0f * rng_uniformf(&r);
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            float acc[3] = {0, 0, 0};
            int near = 0;
            for (int k = 0; k < im->n_shapes; k++) {
                float dx = x + 0.5f - im->s[k].cx, dy = y + 0.5f - im->s[k].cy, rr = im->s[k].r + 1.5f;
                if (dx * dx + dy * dy <= rr * rr) near = 1;
            }
            for (int sy = 0; sy < 4; sy++)
                for (int sx = 0; sx < 4; sx++) {
                    float px = x + (sx + 0.5f) / 4, py = y + (sy + 0.5f) / 4;
                    const uint8_t *col = NULL;
                    for (int k = 0; near && k < im->n_shapes; k++)
                        if (inside(&im->s[k], px, py)) col = im->s[k].col;
                    for (int c = 0; c < 3; c++) acc[c] += col ? col[c] : bg[c];
                    if (!near) goto flat;  /* no shape nearby: one sample is enough */
                }
            for (int c = 0; c < 3; c++) rgb[((size_t)y * im->w + x) * 3 + c] = (uint8_t)(acc[c] / 16 + 0.5f);
            continue;
        flat:
            for (int c = 0; c < 3; c++) rgb[((size_t)y * im->w + x) * 3 + c] = (uint8_t)(bg[c] + 0.5f);
        }
    /* mild noise, so the pictures are not perfectly flat */
    uint64_t bits = 0;
    for (size_t p = 0; p < (size_t)im->w * im->h * 3; p++) {
        if (p % 16 == 0) bits = rng_u64(&r);
        int v = rgb[p] + (int)(((bits & 15) * 9) >> 4) - 4;  /* -4..4 from 4 random bits */
        bits >>= 4;
        rgb[p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static void shape_fname(const ShapeImage *im, int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%06d.%s", i, im->is_png ? "png" : "jpg");
}

int datasets_shapes(const char *dir, int n, uint64_t seed, int single, int threads, int *reused, Err *err)
{
    *reused = 0;
    const char *what = single ? "shapes_single" : "shapes";
    if (n < 1 || n > 10000000)
        return err_set(err, ERR_USAGE, "fastc get %s: n = %d, expected 1 to 10000000", what, n);
    char marker[128];
    snprintf(marker, sizeof marker, "%s v2 n=%d seed=%llu\n", what, n, (unsigned long long)seed);
    int ex = check_existing(dir, marker, err);
    if (ex < 0) return err->code;
    if (ex == 1) return *reused = 1, 0;
    char partial[4200], path[4300];
    int rc = begin_partial(dir, partial, sizeof partial, err);
    snprintf(path, sizeof path, "%s/images", partial);
    if (!rc) rc = atomic_mkdirs(path, err);
    ShapeImage *ims = rc ? NULL : malloc(sizeof(ShapeImage) * (size_t)n);
    if (!rc && !ims) rc = err_set(err, ERR_RUNTIME, "out of memory");
    if (!rc) {
        int failed = -1;
#pragma omp parallel for schedule(static) num_threads(n_threads(threads))
        for (int i = 0; i < n; i++) {
            ShapeImage *im = &ims[i];
            shapes_layout(seed, single, i, im);
            uint8_t *rgb = malloc((size_t)im->w * im->h * 3);
            char name[32], p[4400];
            shape_fname(im, i, name, sizeof name);
            snprintf(p, sizeof p, "%s/images/%s", partial, name);
            int bad = !rgb;
            if (!bad) {
                shapes_render(seed, i, im, rgb);
                bad = im->is_png ? write_png(p, im->w, im->h, 3, rgb, 3) : write_jpeg(p, im->w, im->h, rgb, 90);
            }
            free(rgb);
            if (bad) {
#pragma omp critical
                failed = i;
            }
        }
        if (failed >= 0) rc = err_set(err, ERR_RUNTIME, "%s/images: cannot write image %d", partial, failed);
    }
    if (!rc) {
        char lp[4300], cp[4300];
        snprintf(lp, sizeof lp, "%s/labels.csv", partial);
        snprintf(cp, sizeof cp, "%s/centers.csv", partial);
        FILE *lf = fopen(lp, "w"), *cf = fopen(cp, "w");
        if (lf && cf) {
            fprintf(lf, "fname,label,labels,is_valid,x,y\n");
            fprintf(cf, "fname,x,y\n");
            for (int i = 0; i < n; i++) {
                const ShapeImage *im = &ims[i];
                char name[32], labels[64] = "";
                shape_fname(im, i, name, sizeof name);
                for (int k = 0; k < SH_N; k++) {
                    int present = 0;
                    for (int j = 0; j < im->n_shapes; j++) present |= im->s[j].kind == k;
                    if (present) {
                        if (*labels) strcat(labels, " ");
                        strcat(labels, shape_names[k]);
                    }
                }
                fprintf(lf, "images/%s,%s,%s,%s,%.1f,%.1f\n", name, shape_names[im->s[0].kind], labels,
                        im->is_valid ? "True" : "False", im->s[0].cx, im->s[0].cy);
                fprintf(cf, "images/%s,%.1f,%.1f\n", name, im->s[0].cx, im->s[0].cy);
            }
        }
        int bad = !lf || !cf;
        if (lf && fclose(lf) != 0) bad = 1;
        if (cf && fclose(cf) != 0) bad = 1;
        if (bad) rc = err_set(err, ERR_RUNTIME, "%s: cannot write the tables: %s", partial, strerror(errno));
    }
    free(ims);
    if (!rc) rc = finish_partial(partial, dir, marker, err);
    if (rc) rmtree(partial);
    return rc;
}
