/* transform.c — fastai's item transforms (Resize, RandomResizedCrop) on 8-bit
 * HWC images, with PIL's bilinear resize reproduced bit for bit.  See transform.h. */
#include "data/transform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffers ------------------------------------------------------------- */

int transform_buf_grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t n = need + need / 4 + 64;
    void *q = realloc(*p, n);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

int image_buf_reserve(ImageBuf *b, int w, int h, int c, Err *err)
{
    size_t need = (size_t)w * h * c;
    if (transform_buf_grow((void **)&b->img.px, &b->cap, need ? need : 1))
        return err_set(err, ERR_RUNTIME, "out of memory for a %dx%d image", w, h);
    b->img.w = w, b->img.h = h, b->img.c = c;
    return 0;
}

void image_buf_free(ImageBuf *b)
{
    if (!b) return;
    free(b->img.px);
    memset(b, 0, sizeof *b);
}

void tfm_scratch_free(TfmScratch *s)
{
    if (!s) return;
    free(s->tmp), free(s->pad), free(s->k), free(s->bounds), free(s->kd), free(s->plan);
    memset(s, 0, sizeof *s);
}

/* ---- PIL's bilinear resample (Pillow libImaging/Resample.c) ---------------- */

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear_filter(double x)
{
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

/* Coefficients for resizing in_size samples to out_size: for output xx the taps
 * start at bounds[2xx] and number bounds[2xx+1]; k holds ksize fixed-point
 * weights per output.  Returns ksize, or -1 when out of memory. */
static int precompute_coeffs(int in_size, int out_size, TfmScratch *s, int *bounds, int32_t *k32)
{
    double scale = (double)(float)in_size / out_size, filterscale = scale;
    if (filterscale < 1.0) filterscale = 1.0;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    /* two coefficient sets live side by side in the scratch (horizontal, vertical) */
    size_t nk = (size_t)out_size * ksize;
    if (transform_buf_grow((void **)&s->kd, &s->cap_kd, nk * sizeof(double))) return -1;
    double *kk = s->kd;
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = &kk[(size_t)xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = bilinear_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < nk; i++)
        k32[i] = kk[i] < 0 ? (int32_t)(-0.5 + kk[i] * (1 << PRECISION_BITS))
                           : (int32_t)(0.5 + kk[i] * (1 << PRECISION_BITS));
    return ksize;
}

static inline uint8_t clip8(int v)
{
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* The two passes, each in a plain version (PIL's loops, the reference) and a
 * fast one (AVX-512 when the compiler targets it).  Both compute the same
 * integer sums, so they agree bit for bit (tests/test_transform.c checks). */

/* Horizontal pass, plain: dst [rows, dw, c] from the rows at src (row stride
 * sstride, first column x0). */
static void resample_h_ref(uint8_t *dst, int dw, int rows, int c, const uint8_t *src, size_t sstride, int x0,
                           int ksize, const int *bounds, const int32_t *kk)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = src + (size_t)y * sstride + (size_t)x0 * c;
        uint8_t *o = dst + (size_t)y * dw * c;
        for (int xx = 0; xx < dw; xx++) {
            int xmin = bounds[2 * xx], xmax = bounds[2 * xx + 1];
            const int32_t *k = kk + (size_t)xx * ksize;
            for (int ch = 0; ch < c; ch++) {
                int32_t ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < xmax; x++) ss += row[(x + xmin) * c + ch] * k[x];
                o[xx * c + ch] = clip8(ss);
            }
        }
    }
}

/* Vertical pass, plain: dst [dh, w, c] from rows at src (row stride sstride,
 * first column x0, w*c bytes used). */
static void resample_v_ref(uint8_t *dst, int dh, int w, int c, const uint8_t *src, size_t sstride, int x0,
                           int ksize, const int *bounds, const int32_t *kk)
{
    int n = w * c;
    const uint8_t *base = src + (size_t)x0 * c;
    for (int yy = 0; yy < dh; yy++) {
        int ymin = bounds[2 * yy], ymax = bounds[2 * yy + 1];
        const int32_t *k = kk + (size_t)yy * ksize;
        for (int i = 0; i < n; i++) {
            int32_t ss = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < ymax; y++) ss += base[(size_t)(y + ymin) * sstride + i] * k[y];
            dst[(size_t)yy * n + i] = clip8(ss);
        }
    }
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VBMI__)
#include <immintrin.h>
#define RESIZE_AVX512 1

/* clip8 of 16 sums, packed to bytes: max(v >> 22, 0), then unsigned saturation to 255 */
static inline __m128i clip8x16(__m512i acc)
{
    return _mm512_cvtusepi32_epi8(_mm512_max_epi32(_mm512_srai_epi32(acc, PRECISION_BITS), _mm512_setzero_si512()));
}

/* Vertical pass, fast: 16 outputs of a row at a time, the taps summed in a register. */
static void resample_v_fast(uint8_t *dst, int dh, int w, int c, const uint8_t *src, size_t sstride, int x0,
                            int ksize, const int *bounds, const int32_t *kk)
{
    int n = w * c;
    const uint8_t *base = src + (size_t)x0 * c;
    const __m512i init = _mm512_set1_epi32(1 << (PRECISION_BITS - 1));
    for (int yy = 0; yy < dh; yy++) {
        int ymin = bounds[2 * yy], ymax = bounds[2 * yy + 1];
        const int32_t *k = kk + (size_t)yy * ksize;
        const uint8_t *r0 = base + (size_t)ymin * sstride;
        uint8_t *o = dst + (size_t)yy * n;
        for (int i = 0; i < n; i += 16) {
            __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
            __m512i acc = init;
            for (int y = 0; y < ymax; y++) {
                __m512i v = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, r0 + (size_t)y * sstride + i));
                acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(v, _mm512_set1_epi32(k[y])));
            }
            _mm_mask_storeu_epi8(o + i, m, clip8x16(acc));
        }
    }
}

/* Horizontal pass, fast.  The outputs of a row, as bytes (pixel x, channel
 * ch) → element x*c + ch, go 16 at a time; the source bytes those 16 read
 * span at most 128 bytes whenever the downscale is below ~5x, so two loads and
 * one byte permute per tap bring each lane its pixel (no gather, no
 * transpose).  The plan (window start, permute indices, weights per tap) is
 * the same for every row; a group whose window is wider runs the plain loop. */
typedef struct HGroup {
    int ws, wlen, taps;      /* window start and length in bytes; taps = 0: plain loop */
} HGroup;

static int resample_h_fast(uint8_t *dst, int dw, int rows, int c, const uint8_t *src, size_t sstride, int x0,
                           int ksize, const int *bounds, const int32_t *kk, TfmScratch *s)
{
    int n = dw * c, ng = (n + 15) / 16;
    size_t need = (size_t)ng * sizeof(HGroup) + 64 + (size_t)ng * ksize * 128;
    if (transform_buf_grow((void **)&s->plan, &s->cap_plan, need)) return -1;
    HGroup *g = (HGroup *)(void *)s->plan;
    uint8_t *tabs = s->plan + (((size_t)ng * sizeof(HGroup) + 63) & ~(size_t)63);
    for (int j = 0; j < ng; j++) {
        int e0 = 16 * j, e1 = n - e0 < 16 ? n : e0 + 16;
        int lo = 1 << 30, hi = 0, taps = 0;
        for (int e = e0; e < e1; e++) {
            int x = e / c, a = bounds[2 * x] * c, b = (bounds[2 * x] + bounds[2 * x + 1]) * c;
            lo = a < lo ? a : lo, hi = b > hi ? b : hi;
            taps = bounds[2 * x + 1] > taps ? bounds[2 * x + 1] : taps;
        }
        g[j].ws = lo, g[j].wlen = hi - lo, g[j].taps = hi - lo <= 128 ? taps : 0;
        uint8_t *t = tabs + (size_t)j * ksize * 128;
        memset(t, 0, (size_t)ksize * 128);
        for (int tap = 0; tap < g[j].taps; tap++)
            for (int e = e0; e < e1; e++) {
                int x = e / c, ch = e % c, i = e - e0;
                int32_t *wt = (int32_t *)(void *)(t + (size_t)tap * 128 + 64);
                if (tap < bounds[2 * x + 1]) {
                    t[(size_t)tap * 128 + 4 * i] = (uint8_t)((bounds[2 * x] + tap) * c + ch - lo);
                    wt[i] = kk[(size_t)x * ksize + tap];
                }
            }
    }
    const __m512i init = _mm512_set1_epi32(1 << (PRECISION_BITS - 1));
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = src + (size_t)y * sstride + (size_t)x0 * c;
        uint8_t *o = dst + (size_t)y * n;
        for (int j = 0; j < ng; j++) {
            int e0 = 16 * j, cnt = n - e0 < 16 ? n - e0 : 16;
            if (!g[j].taps) {
                for (int e = e0; e < e0 + cnt; e++) {
                    int x = e / c, ch = e % c, xmin = bounds[2 * x], xmax = bounds[2 * x + 1];
                    const int32_t *k = kk + (size_t)x * ksize;
                    int32_t ss = 1 << (PRECISION_BITS - 1);
                    for (int xi = 0; xi < xmax; xi++) ss += row[(xi + xmin) * c + ch] * k[xi];
                    o[e] = clip8(ss);
                }
                continue;
            }
            int wl = g[j].wlen;
            __mmask64 m0 = wl >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << wl) - 1);
            __mmask64 m1 = wl <= 64 ? 0 : wl >= 128 ? ~(__mmask64)0 : (((__mmask64)1 << (wl - 64)) - 1);
            const uint8_t *w0 = row + g[j].ws;
            __m512i a = _mm512_maskz_loadu_epi8(m0, w0), b = _mm512_maskz_loadu_epi8(m1, w0 + 64);
            const uint8_t *t = tabs + (size_t)j * ksize * 128;
            __m512i acc = init;
            for (int tap = 0; tap < g[j].taps; tap++, t += 128) {
                __m512i v = _mm512_maskz_permutex2var_epi8(0x1111111111111111ULL, a, _mm512_loadu_si512(t), b);
                acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(v, _mm512_loadu_si512(t + 64)));
            }
            _mm_mask_storeu_epi8(o + e0, (__mmask16)(cnt == 16 ? 0xffff : (1u << cnt) - 1), clip8x16(acc));
        }
    }
    return 0;
}
#endif

/* 0, or -1 when a scratch buffer cannot grow (out of memory). */
static int resize_impl(uint8_t *dst, int dw, int dh, const uint8_t *src, int sw, int c, int x0, int y0, int cw,
                       int ch, TfmScratch *s, int fast)
{
    size_t sstride = (size_t)sw * c;
    const uint8_t *box = src + (size_t)y0 * sstride;  /* row y0, column offset x0 below */
    int need_h = dw != cw, need_v = dh != ch;
    if (!need_h && !need_v) {
        for (int y = 0; y < ch; y++)
            memcpy(dst + (size_t)y * dw * c, box + (size_t)y * sstride + (size_t)x0 * c, (size_t)cw * c);
        return 0;
    }
    /* coefficient storage: horizontal then vertical, both as int32 + bounds */
    int ksh = (int)ceil(dw < cw ? (double)cw / dw : 1.0) * 2 + 1;
    int ksv = (int)ceil(dh < ch ? (double)ch / dh : 1.0) * 2 + 1;
    size_t nkh = (size_t)dw * (ksh + 2), nkv = (size_t)dh * (ksv + 2);
    if (transform_buf_grow((void **)&s->k, &s->cap_k, (nkh + nkv) * sizeof(int32_t)) ||
        transform_buf_grow((void **)&s->bounds, &s->cap_bounds, (size_t)2 * (dw + dh) * sizeof(int)))
        return -1;
    int *bh = s->bounds, *bv = s->bounds + 2 * dw;
    int32_t *kh = s->k, *kv = s->k + nkh;
    int kszh = precompute_coeffs(cw, dw, s, bh, kh);
    int kszv = precompute_coeffs(ch, dh, s, bv, kv);
    if (kszh < 0 || kszv < 0) return -1;   /* precompute_coeffs: out of memory */
#ifdef RESIZE_AVX512
    void (*pass_v)(uint8_t *, int, int, int, const uint8_t *, size_t, int, int, const int *, const int32_t *) =
        fast ? resample_v_fast : resample_v_ref;
#else
    void (*pass_v)(uint8_t *, int, int, int, const uint8_t *, size_t, int, int, const int *, const int32_t *) =
        resample_v_ref;
    (void)fast;
#endif
    if (!need_h) {
        pass_v(dst, dh, dw, c, box, sstride, x0, kszv, bv, kv);
        return 0;
    }
    /* PIL's order: the horizontal pass first, over the rows the vertical pass reads */
    int first = 0, last = ch;
    if (need_v) {
        first = bv[0];
        last = bv[2 * dh - 2] + bv[2 * dh - 1];
        for (int i = 0; i < dh; i++) bv[2 * i] -= first;
    }
    int rows = last - first;
    if (need_v && transform_buf_grow((void **)&s->tmp, &s->cap_tmp, (size_t)rows * dw * c)) return -1;
    uint8_t *tmp = need_v ? s->tmp : dst;
    const uint8_t *hsrc = box + (size_t)first * sstride;
#ifdef RESIZE_AVX512
    if (fast) {
        if (resample_h_fast(tmp, dw, rows, c, hsrc, sstride, x0, kszh, bh, kh, s)) return -1;
    } else
#endif
        resample_h_ref(tmp, dw, rows, c, hsrc, sstride, x0, kszh, bh, kh);
    if (need_v) pass_v(dst, dh, dw, c, tmp, (size_t)dw * c, 0, kszv, bv, kv);
    return 0;
}

int tfm_resize_bilinear(uint8_t *dst, int dw, int dh, const uint8_t *src, int sw, int sh, int c, int x0, int y0,
                        int cw, int ch, TfmScratch *s)
{
    (void)sh;
    return resize_impl(dst, dw, dh, src, sw, c, x0, y0, cw, ch, s, 1);
}

int tfm_resize_bilinear_ref(uint8_t *dst, int dw, int dh, const uint8_t *src, int sw, int sh, int c, int x0,
                            int y0, int cw, int ch, TfmScratch *s)
{
    (void)sh;
    return resize_impl(dst, dw, dh, src, sw, c, x0, y0, cw, ch, s, 0);
}

/* ---- crop with padding --------------------------------------------------- */

static int pad_index(int i, int n, PadMode mode)
{
    if (i >= 0 && i < n) return i;
    if (mode == PAD_ZEROS) return -1;
    if (mode == PAD_BORDER || n == 1) return i < 0 ? 0 : n - 1;
    int period = 2 * (n - 1);           /* numpy 'reflect': the edge is not repeated */
    int m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - m;
}

void tfm_crop_pad(uint8_t *dst, const uint8_t *src, int sw, int sh, int c, int x0, int y0, int cw, int ch,
                  PadMode mode)
{
    for (int y = 0; y < ch; y++) {
        int sy = pad_index(y0 + y, sh, mode);
        uint8_t *o = dst + (size_t)y * cw * c;
        for (int x = 0; x < cw; x++) {
            int sx = pad_index(x0 + x, sw, mode);
            if (sy < 0 || sx < 0)
                memset(o + (size_t)x * c, 0, c);
            else
                memcpy(o + (size_t)x * c, src + ((size_t)sy * sw + sx) * c, c);
        }
    }
}

/* ---- geometry ------------------------------------------------------------ */

void item_tfm_geometry(const ItemTfm *t, int w, int h, int train, Rng *rng, int *x0, int *y0, int *cw,
                       int *ch, int *rw, int *rh)
{
    *rw = 0, *rh = 0;
    if (t->kind == ITFM_RESIZE) {
        if (t->method == RESIZE_SQUISH) {
            *x0 = 0, *y0 = 0, *cw = w, *ch = h;
            return;
        }
        double rx = (double)w / t->w, ry = (double)h / t->h;
        int pick_x = t->method == RESIZE_PAD ? rx > ry : rx < ry;
        double m = pick_x ? rx : ry;
        *cw = (int)(m * t->w);
        *ch = (int)(m * t->h);
        double pw = 0.5, ph = 0.5;
        if (train) {
            pw = rng_uniform(rng);
            ph = rng_uniform(rng);
        }
        *x0 = (int)(pw * (w - *cw));   /* C truncation toward zero, as Python's int() */
        *y0 = (int)(ph * (h - *ch));
        return;
    }
    if (t->kind == ITFM_RRC) {
        if (!train) {
            int xtra = (int)ceil((t->w > t->h ? t->w : t->h) * t->val_xtra / 8) * 8;
            *rw = t->w + xtra, *rh = t->h + xtra;
            *x0 = 0, *y0 = 0, *cw = w, *ch = h;
            return;
        }
        double lr0 = log(t->ratio_lo), lr1 = log(t->ratio_hi);
        for (int attempt = 0; attempt < 10; attempt++) {
            double area = (t->min_scale + (t->max_scale - t->min_scale) * rng_uniform(rng)) * w * h;
            double ratio = exp(lr0 + (lr1 - lr0) * rng_uniform(rng));
            int nw = (int)nearbyint(sqrt(area * ratio));   /* Python round(): half to even */
            int nh = (int)nearbyint(sqrt(area / ratio));
            if (nw <= w && nh <= h) {
                *cw = nw, *ch = nh;
                *x0 = (int)rng_below(rng, (uint64_t)(w - nw) + 1);
                *y0 = (int)rng_below(rng, (uint64_t)(h - nh) + 1);
                return;
            }
        }
        if ((double)w / h < t->ratio_lo)
            *cw = w, *ch = (int)(w / t->ratio_lo);
        else if ((double)w / h > t->ratio_hi)
            *cw = (int)(h * t->ratio_hi), *ch = h;
        else
            *cw = w, *ch = h;
        *x0 = (w - *cw) / 2, *y0 = (h - *ch) / 2;
        return;
    }
    *x0 = 0, *y0 = 0, *cw = w, *ch = h;
}

int item_tfm_is_random(const ItemTfm *t, int train)
{
    if (!train) return 0;
    if (t->kind == ITFM_RRC) return 1;
    return t->kind == ITFM_RESIZE && t->method != RESIZE_SQUISH;
}

void item_tfm_decode_hint(const ItemTfm *t, int train, int *min_w, int *min_h)
{
    *min_w = 0, *min_h = 0;
    /* A random crop can be a small part of the image: decode it at full size. */
    if (t->kind == ITFM_RESIZE && t->method != RESIZE_PAD) *min_w = t->w, *min_h = t->h;
    if (t->kind == ITFM_RRC && !train) *min_w = t->w, *min_h = t->h;
}

/* crop box (possibly outside the image) → resize to dw x dh, into out */
static int crop_resize(const Image *in, int x0, int y0, int cw, int ch, int dw, int dh, PadMode pm,
                       uint8_t *dst, TfmScratch *s, Err *err)
{
    int c = in->c;
    if (x0 >= 0 && y0 >= 0 && x0 + cw <= in->w && y0 + ch <= in->h) {
        if (tfm_resize_bilinear(dst, dw, dh, in->px, in->w, in->h, c, x0, y0, cw, ch, s))
            return err_set(err, ERR_RUNTIME, "out of memory resizing to %dx%d", dw, dh);
        return 0;
    }
    if (transform_buf_grow((void **)&s->pad, &s->cap_pad, (size_t)cw * ch * c))
        return err_set(err, ERR_RUNTIME, "out of memory padding a %dx%d image", cw, ch);
    tfm_crop_pad(s->pad, in->px, in->w, in->h, c, x0, y0, cw, ch, pm);
    if (tfm_resize_bilinear(dst, dw, dh, s->pad, cw, ch, c, 0, 0, cw, ch, s))
        return err_set(err, ERR_RUNTIME, "out of memory resizing to %dx%d", dw, dh);
    return 0;
}

int item_tfm_apply(const ItemTfm *t, const Image *in, int train, Rng *rng, ImageBuf *out, float *pts,
                   int n_pts, TfmScratch *s, Err *err)
{
    int c = in->c;
    if (t->kind == ITFM_NONE) {
        if (image_buf_reserve(out, in->w, in->h, c, err)) return err->code;
        memcpy(out->img.px, in->px, (size_t)in->w * in->h * c);
        return 0;
    }
    int x0, y0, cw, ch, rw, rh;
    item_tfm_geometry(t, in->w, in->h, train, rng, &x0, &y0, &cw, &ch, &rw, &rh);
    if (cw < 1 || ch < 1)
        return err_set(err, ERR_RUNTIME, "image of %dx%d is too small for a %dx%d %s", in->w, in->h, t->w,
                       t->h, t->kind == ITFM_RRC ? "RandomResizedCrop" : "Resize");
    if (rw == 0) {
        if (image_buf_reserve(out, t->w, t->h, c, err)) return err->code;
        if (crop_resize(in, x0, y0, cw, ch, t->w, t->h, t->pad_mode, out->img.px, s, err)) return err->code;
        for (int i = 0; i < n_pts; i++) {
            pts[2 * i] = (float)((pts[2 * i] - x0) * ((double)t->w / cw));
            pts[2 * i + 1] = (float)((pts[2 * i + 1] - y0) * ((double)t->h / ch));
        }
        return 0;
    }
    /* RandomResizedCrop on valid: squish to rw x rh, then a centre crop of t->w x t->h */
    if (transform_buf_grow((void **)&s->pad, &s->cap_pad, (size_t)rw * rh * c))
        return err_set(err, ERR_RUNTIME, "out of memory resizing to %dx%d", rw, rh);
    if (tfm_resize_bilinear(s->pad, rw, rh, in->px, in->w, in->h, c, 0, 0, in->w, in->h, s))
        return err_set(err, ERR_RUNTIME, "out of memory resizing to %dx%d", rw, rh);
    int cx = (rw - t->w) / 2, cy = (rh - t->h) / 2;
    if (image_buf_reserve(out, t->w, t->h, c, err)) return err->code;
    for (int y = 0; y < t->h; y++)
        memcpy(out->img.px + (size_t)y * t->w * c, s->pad + ((size_t)(y + cy) * rw + cx) * c, (size_t)t->w * c);
    for (int i = 0; i < n_pts; i++) {
        pts[2 * i] = (float)(pts[2 * i] * ((double)rw / in->w) - cx);
        pts[2 * i + 1] = (float)(pts[2 * i + 1] * ((double)rh / in->h) - cy);
    }
    return 0;
}

/* ---- sequences (item_tfms) ---------------------------------------------------- */

ItemTfms item_tfms_one(const ItemTfm *t)
{
    ItemTfms ts;
    memset(&ts, 0, sizeof ts);
    if (t && t->kind != ITFM_NONE) ts.t[0] = *t, ts.n = 1;
    return ts;
}

int item_tfms_is_random(const ItemTfms *ts, int train)
{
    for (int i = 0; i < ts->n; i++)
        if (item_tfm_is_random(&ts->t[i], train)) return 1;
    return 0;
}

void item_tfms_decode_hint(const ItemTfms *ts, int train, int *min_w, int *min_h)
{
    *min_w = 0, *min_h = 0;
    if (ts->n > 0) item_tfm_decode_hint(&ts->t[0], train, min_w, min_h);
}

int item_tfms_apply(const ItemTfms *ts, const Image *in, int train, Rng *rng, ImageBuf *out, ImageBuf tmp[2],
                    float *pts, int n_pts, TfmScratch *s, Err *err)
{
    if (ts->n == 0) {
        ItemTfm none = {.kind = ITFM_NONE};
        return item_tfm_apply(&none, in, train, rng, out, pts, n_pts, s, err);
    }
    const Image *cur = in;
    for (int i = 0; i < ts->n; i++) {
        ImageBuf *dst = i == ts->n - 1 ? out : &tmp[i & 1];
        if (item_tfm_apply(&ts->t[i], cur, train, rng, dst, pts, n_pts, s, err)) return err->code;
        cur = &dst->img;
    }
    return 0;
}
