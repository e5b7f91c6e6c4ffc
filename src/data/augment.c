/* augment.c — fastai's batch transforms (aug_transforms, Normalize) applied
 * per item as one fused resample.  See augment.h for the pipeline and
 * FASTAI_REFERENCE.md §7 for the distributions. */
#include "data/augment.h"

#include "data/transform.h"

#include <math.h>
#include <stdint.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

void batch_tfm_init(BatchTfm *t)
{
    memset(t, 0, sizeof *t);
    for (int c = 0; c < 3; c++) t->mean[c] = 0, t->std[c] = 1;
    t->min_zoom = t->max_zoom = 1, t->min_scale = 1;
}

void aug_scratch_free(AugScratch *s)
{
    if (!s) return;
    free(s->src), free(s->area), free(s->coord);
    memset(s, 0, sizeof *s);
}

int aug_stats(const char *name, float mean[3], float std[3])
{
    static const struct {
        const char *name;
        float mean[3], std[3];
    } tab[] = {
        {"imagenet_stats", {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
        {"cifar_stats", {0.491f, 0.482f, 0.447f}, {0.247f, 0.243f, 0.261f}},
        {"mnist_stats", {0.131f, 0.131f, 0.131f}, {0.308f, 0.308f, 0.308f}},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(name, tab[i].name)) {
            memcpy(mean, tab[i].mean, sizeof tab[i].mean);
            memcpy(std, tab[i].std, sizeof tab[i].std);
            return 1;
        }
    return 0;
}

/* ---- random parameters --------------------------------------------------- */

void aug_draw_neutral(AugDraw *d)
{
    memset(d, 0, sizeof *d);
    d->zoom = 1, d->zoom_col = 0.5, d->zoom_row = 0.5;
    d->brightness = 0.5, d->contrast = 1;
}

static double uni(Rng *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

/* RandomResizedCropGPU(size, min_scale, ratio=(1, 1)): the box in the item's pixels. */
static void rrc_gpu_box(const BatchTfm *t, int w, int h, int train, Rng *rng, AugDraw *d)
{
    d->crop = 1;
    if (train)
        for (int attempt = 0; attempt < 10; attempt++) {
            double area = uni(rng, t->min_scale, 1.0) * w * h;
            int nw = (int)nearbyint(sqrt(area)), nh = nw;   /* ratio (1, 1) */
            if (nw <= w && nh <= h) {
                d->crop_w = nw, d->crop_h = nh;
                d->crop_y = (int)rng_below(rng, (uint64_t)(h - nh) + 1);
                d->crop_x = (int)rng_below(rng, (uint64_t)(w - nw) + 1);
                return;
            }
        }
    int side = w < h ? w : h;   /* centre crop clipped to ratio 1 */
    d->crop_w = d->crop_h = side;
    d->crop_x = (w - side) / 2, d->crop_y = (h - side) / 2;
}

void batch_tfm_draw(const BatchTfm *t, int in_w, int in_h, int train, Rng *rng, AugDraw *d)
{
    aug_draw_neutral(d);
    if (!t->aug) return;
    if (!train) {
        if (t->min_scale < 1) rrc_gpu_box(t, in_w, in_h, 0, rng, d);
        return;
    }
    /* Every parameter is drawn whether or not its coin says yes, so a change
     * of p never shifts the other draws. */
    if (t->do_flip) {
        int coin = rng_uniform(rng) < 0.5;
        int k = (int)rng_below(rng, 8);
        if (t->flip_vert)
            d->dihedral = coin ? k : 0;
        else
            d->flip = coin;
    }
    if (t->max_warp > 0) {
        int cx = rng_uniform(rng) < t->p_affine, cy = rng_uniform(rng) < t->p_affine;
        double wx = uni(rng, -t->max_warp, t->max_warp), wy = uni(rng, -t->max_warp, t->max_warp);
        d->warp_x = cx ? wx : 0, d->warp_y = cy ? wy : 0;
    }
    if (t->max_rotate > 0) {
        int coin = rng_uniform(rng) < t->p_affine;
        double a = uni(rng, -t->max_rotate, t->max_rotate);
        d->rotate_deg = coin ? a : 0;
    }
    if (t->min_zoom < 1 || t->max_zoom > 1) {
        int coin = rng_uniform(rng) < t->p_affine;
        double z = uni(rng, t->min_zoom, t->max_zoom);
        d->zoom = coin ? z : 1;
        d->zoom_col = rng_uniform(rng);
        d->zoom_row = rng_uniform(rng);
    }
    if (t->max_lighting > 0) {
        double l = t->max_lighting;
        int cb = rng_uniform(rng) < t->p_lighting;
        double b = uni(rng, 0.5 * (1 - l), 0.5 * (1 + l));
        int cc = rng_uniform(rng) < t->p_lighting;
        double c = exp(uni(rng, log(1 - l), -log(1 - l)));
        d->brightness = cb ? b : 0.5;
        d->contrast = cc ? c : 1;
    }
    if (t->min_scale < 1) rrc_gpu_box(t, in_w, in_h, 1, rng, d);
}

/* ---- matrices ------------------------------------------------------------ */

static void mat3_mul(double out[9], const double a[9], const double b[9])
{
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    memcpy(out, r, sizeof r);
}

/* Solve the 8x8 system of fastai's find_coeffs: the homography taking p2[i] to p1[i]. */
static void find_coeffs(const double p1[4][2], const double p2[4][2], double H[9])
{
    double a[8][9];
    for (int i = 0; i < 4; i++) {
        double r0[9] = {p2[i][0], p2[i][1], 1, 0, 0, 0, -p1[i][0] * p2[i][0], -p1[i][0] * p2[i][1], p1[i][0]};
        double r1[9] = {0, 0, 0, p2[i][0], p2[i][1], 1, -p1[i][1] * p2[i][0], -p1[i][1] * p2[i][1], p1[i][1]};
        memcpy(a[2 * i], r0, sizeof r0);
        memcpy(a[2 * i + 1], r1, sizeof r1);
    }
    for (int col = 0; col < 8; col++) {   /* Gauss-Jordan with partial pivoting */
        int piv = col;
        for (int r = col + 1; r < 8; r++)
            if (fabs(a[r][col]) > fabs(a[piv][col])) piv = r;
        if (piv != col)
            for (int j = 0; j < 9; j++) {
                double tmp = a[col][j];
                a[col][j] = a[piv][j], a[piv][j] = tmp;
            }
        for (int r = 0; r < 8; r++) {
            if (r == col || a[col][col] == 0) continue;
            double f = a[r][col] / a[col][col];
            for (int j = col; j < 9; j++) a[r][j] -= f * a[col][j];
        }
    }
    for (int i = 0; i < 8; i++) H[i] = a[i][i] != 0 ? a[i][8] / a[i][i] : 0;
    H[8] = 1;
}

void aug_matrices(const AugDraw *d, int in_w, int in_h, double A[6], double H[9])
{
    double m[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    if (d->dihedral) {
        static const int xs[8] = {1, -1, 1, -1, -1, 1, 1, -1}, ys[8] = {1, 1, -1, 1, -1, -1, 1, -1};
        static const int m0[8] = {1, 1, 1, 0, 1, 0, 0, 0}, m1[8] = {0, 0, 0, 1, 0, 1, 1, 1};
        int k = d->dihedral;
        double f[9] = {xs[k] * m0[k], xs[k] * m1[k], 0, ys[k] * m1[k], ys[k] * m0[k], 0, 0, 0, 1};
        mat3_mul(m, m, f);
    }
    if (d->flip) {
        double f[9] = {-1, 0, 0, 0, 1, 0, 0, 0, 1};
        mat3_mul(m, m, f);
    }
    if (d->rotate_deg != 0) {
        double th = d->rotate_deg * M_PI / 180, c = cos(th), s = sin(th);
        double r[9] = {c, s, 0, -s, c, 0, 0, 0, 1};
        mat3_mul(m, m, r);
    }
    if (d->zoom != 1 || d->zoom_col != 0.5 || d->zoom_row != 0.5) {
        double s = 1 / d->zoom;
        double z[9] = {s, 0, (1 - s) * (2 * d->zoom_col - 1), 0, s, (1 - s) * (2 * d->zoom_row - 1), 0, 0, 1};
        mat3_mul(m, m, z);
    }
    /* fastai's _prepare_mat: keep rotations square on non-square images */
    m[1] *= (double)in_h / in_w;
    m[3] *= (double)in_w / in_h;
    if (d->crop) {
        /* RandomResizedCropGPU resamples the box with align_corners=True: output
         * u in [-1, 1] → box column x0 + (u+1)/2·(cw-1) → normalised u' of the item */
        double sx = in_w > 1 ? (double)(d->crop_w - 1) / (in_w - 1) : 0;
        double tx = in_w > 1 ? (2.0 * d->crop_x + d->crop_w - 1) / (in_w - 1) - 1 : 0;
        double sy = in_h > 1 ? (double)(d->crop_h - 1) / (in_h - 1) : 0;
        double ty = in_h > 1 ? (2.0 * d->crop_y + d->crop_h - 1) / (in_h - 1) - 1 : 0;
        double c[9] = {sx, 0, tx, 0, sy, ty, 0, 0, 1};
        mat3_mul(m, m, c);
    }
    memcpy(A, m, 6 * sizeof(double));
    H[0] = 1, H[1] = 0, H[2] = 0, H[3] = 0, H[4] = 1, H[5] = 0, H[6] = 0, H[7] = 0, H[8] = 1;
    if (d->warp_x != 0 || d->warp_y != 0) {
        double x = d->warp_x, y = d->warp_y;
        const double orig[4][2] = {{-1, -1}, {-1, 1}, {1, -1}, {1, 1}};
        const double targ[4][2] = {{-1 - y, -1 - x}, {-1 + y, 1 + x}, {1 + y, -1 + x}, {1 - y, 1 - x}};
        find_coeffs(orig, targ, H);   /* grid: targ → orig, as fastai's _WarpCoord */
    }
}

static int mat3_inv(double out[9], const double m[9])
{
    double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                 m[2] * (m[3] * m[7] - m[4] * m[6]);
    if (det == 0) return -1;
    double r[9] = {m[4] * m[8] - m[5] * m[7], m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
                   m[5] * m[6] - m[3] * m[8], m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
                   m[3] * m[7] - m[4] * m[6], m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3]};
    for (int i = 0; i < 9; i++) out[i] = r[i] / det;
    return 0;
}

static void map_point(const double A[6], const double H[9], int warp, double u, double v, double *x, double *y)
{
    double xa = A[0] * u + A[1] * v + A[2], ya = A[3] * u + A[4] * v + A[5];
    if (warp) {
        double den = H[6] * xa + H[7] * ya + H[8];
        if (den != 0) {
            double xw = (H[0] * xa + H[1] * ya + H[2]) / den;
            ya = (H[3] * xa + H[4] * ya + H[5]) / den;
            xa = xw;
        }
    }
    *x = xa, *y = ya;
}

/* ---- fast logit-space lighting -------------------------------------------- */

/* bit casts through a union (defined in C; vectorises, unlike memcpy) */
static inline float bits_f(uint32_t u)
{
    union { uint32_t u; float f; } v = {.u = u};
    return v.f;
}
static inline uint32_t f_bits(float f)
{
    union { float f; uint32_t u; } v = {.f = f};
    return v.u;
}

/* log2(x) for normal positive x, |error| < 1e-6 */
static inline float fast_log2(float x)
{
    uint32_t b = f_bits(x);
    int e = (int)((b >> 23) & 255) - 127;
    float m = bits_f((b & 0x7fffff) | 0x3f800000);       /* [1, 2) */
    float big = m > 1.41421356f ? 1.0f : 0.0f;
    m = m * (1.0f - 0.5f * big);
    float t = (m - 1) / (m + 1), t2 = t * t;               /* |t| < 0.172 */
    float p = t * (2.0f + t2 * (0.6666667f + t2 * (0.4f + t2 * (0.2857143f + t2 * 0.2222222f))));
    return (float)e + big + p * 1.44269504f;
}

/* 2^x, relative error < 2e-7 */
static inline float fast_exp2(float x)
{
    x = x < -126.f ? -126.f : x > 126.f ? 126.f : x;
    float fl = floorf(x), f = x - fl;
    float p = 1.0f + f * (0.69314718f + f * (0.24022651f + f * (0.05550411f + f * (0.00961813f +
                      f * (0.00133336f + f * 0.00015404f)))));
    return p * bits_f((uint32_t)((int)fl + 127) << 23);
}

/* x ← sigmoid(c·(logit(x) + logit(b))) = 1 / (1 + K·((1-x)/x)^c), K = e^{-c·logit(b)};
 * x is clamped to [1e-7, 1-1e-7] first, as fastai's logit does.  Long because
 * it holds the same formula three times: AVX-512, AVX2 and the plain loop the
 * fast ones are tested against (tests/test_augment.c). */
static void lighting(float *restrict x, size_t n, double b, double c)
{
    const float K = (float)exp(-c * log(b / (1 - b))), cf = (float)c;
    const float lo = 1e-7f, hi = 1 - 1e-7f;
    if (cf == 1.0f) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float v = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
            x[i] = v / (v + K * (1 - v));
        }
        return;
    }
    size_t i = 0;
#if defined(__AVX512F__)
    /* the AVX2 loop below, 16 lanes at a time (the same operations per lane) */
    {
        const __m512 one = _mm512_set1_ps(1.0f), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
        const __m512 vK = _mm512_set1_ps(K), vc = _mm512_set1_ps(cf);
        for (; i + 16 <= n; i += 16) {
            __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_loadu_ps(x + i), vlo), vhi);
            __m512 r = _mm512_div_ps(_mm512_sub_ps(one, v), v);
            __m512i b = _mm512_castps_si512(r);
            __m512 e = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(b, 23), _mm512_set1_epi32(127)));
            __m512 m = _mm512_castsi512_ps(
                _mm512_or_si512(_mm512_and_si512(b, _mm512_set1_epi32(0x7fffff)), _mm512_set1_epi32(0x3f800000)));
            __m512 big = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ), one);
            m = _mm512_mul_ps(m, _mm512_sub_ps(one, _mm512_mul_ps(_mm512_set1_ps(0.5f), big)));
            __m512 t = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one)), t2 = _mm512_mul_ps(t, t);
            __m512 p = _mm512_fmadd_ps(t2, _mm512_set1_ps(0.2222222f), _mm512_set1_ps(0.2857143f));
            p = _mm512_fmadd_ps(t2, p, _mm512_set1_ps(0.4f));
            p = _mm512_fmadd_ps(t2, p, _mm512_set1_ps(0.6666667f));
            p = _mm512_fmadd_ps(t2, p, _mm512_set1_ps(2.0f));
            __m512 lg = _mm512_fmadd_ps(_mm512_mul_ps(t, p), _mm512_set1_ps(1.44269504f), _mm512_add_ps(e, big));
            __m512 y = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(vc, lg), _mm512_set1_ps(-126.f)), _mm512_set1_ps(126.f));
            __m512 fl = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), f = _mm512_sub_ps(y, fl);
            __m512 q = _mm512_fmadd_ps(f, _mm512_set1_ps(0.00015404f), _mm512_set1_ps(0.00133336f));
            q = _mm512_fmadd_ps(f, q, _mm512_set1_ps(0.00961813f));
            q = _mm512_fmadd_ps(f, q, _mm512_set1_ps(0.05550411f));
            q = _mm512_fmadd_ps(f, q, _mm512_set1_ps(0.24022651f));
            q = _mm512_fmadd_ps(f, q, _mm512_set1_ps(0.69314718f));
            q = _mm512_fmadd_ps(f, q, one);
            __m512 scale = _mm512_castsi512_ps(
                _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fl), _mm512_set1_epi32(127)), 23));
            __m512 pw = _mm512_mul_ps(q, scale);
            _mm512_storeu_ps(x + i, _mm512_div_ps(one, _mm512_fmadd_ps(vK, pw, one)));
        }
    }
#endif
#ifdef __AVX2__
    /* the same polynomials, 8 lanes at a time (GCC does not vectorise the bit casts) */
    const __m256 one = _mm256_set1_ps(1.0f), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    const __m256 vK = _mm256_set1_ps(K), vc = _mm256_set1_ps(cf);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_loadu_ps(x + i), vlo), vhi);
        __m256 r = _mm256_div_ps(_mm256_sub_ps(one, v), v);
        /* log2(r) */
        __m256i b = _mm256_castps_si256(r);
        __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127)));
        __m256 m = _mm256_castsi256_ps(
            _mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x7fffff)), _mm256_set1_epi32(0x3f800000)));
        __m256 big = _mm256_and_ps(_mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ), one);
        m = _mm256_mul_ps(m, _mm256_sub_ps(one, _mm256_mul_ps(_mm256_set1_ps(0.5f), big)));
        __m256 t = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one)), t2 = _mm256_mul_ps(t, t);
        __m256 p = _mm256_fmadd_ps(t2, _mm256_set1_ps(0.2222222f), _mm256_set1_ps(0.2857143f));
        p = _mm256_fmadd_ps(t2, p, _mm256_set1_ps(0.4f));
        p = _mm256_fmadd_ps(t2, p, _mm256_set1_ps(0.6666667f));
        p = _mm256_fmadd_ps(t2, p, _mm256_set1_ps(2.0f));
        __m256 lg = _mm256_fmadd_ps(_mm256_mul_ps(t, p), _mm256_set1_ps(1.44269504f), _mm256_add_ps(e, big));
        /* 2^(c·log2 r) */
        __m256 y = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(vc, lg), _mm256_set1_ps(-126.f)), _mm256_set1_ps(126.f));
        __m256 fl = _mm256_floor_ps(y), f = _mm256_sub_ps(y, fl);
        __m256 q = _mm256_fmadd_ps(f, _mm256_set1_ps(0.00015404f), _mm256_set1_ps(0.00133336f));
        q = _mm256_fmadd_ps(f, q, _mm256_set1_ps(0.00961813f));
        q = _mm256_fmadd_ps(f, q, _mm256_set1_ps(0.05550411f));
        q = _mm256_fmadd_ps(f, q, _mm256_set1_ps(0.24022651f));
        q = _mm256_fmadd_ps(f, q, _mm256_set1_ps(0.69314718f));
        q = _mm256_fmadd_ps(f, q, one);
        __m256 scale = _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fl), _mm256_set1_epi32(127)), 23));
        __m256 pw = _mm256_mul_ps(q, scale);
        _mm256_storeu_ps(x + i, _mm256_div_ps(one, _mm256_fmadd_ps(vK, pw, one)));
    }
#endif
    for (; i < n; i++) {
        float v = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
        x[i] = 1.0f / (1.0f + K * fast_exp2(cf * fast_log2((1 - v) / v)));
    }
}

/* ---- resampling ----------------------------------------------------------- */

/* torch.nn.functional.interpolate(mode='area') = adaptive average pooling */
static void area_down(float *dst, int dw, int dh, const float *src, int sw, int sh, int c, float *rowbuf)
{
    for (int oy = 0; oy < dh; oy++) {
        int y0 = (int)floor((double)oy * sh / dh), y1 = (int)ceil((double)(oy + 1) * sh / dh);
        memset(rowbuf, 0, sizeof(float) * (size_t)sw * c);
        for (int y = y0; y < y1; y++)
            for (int i = 0; i < sw * c; i++) rowbuf[i] += src[(size_t)y * sw * c + i];
        for (int ox = 0; ox < dw; ox++) {
            int x0 = (int)floor((double)ox * sw / dw), x1 = (int)ceil((double)(ox + 1) * sw / dw);
            float inv = 1.0f / ((float)(y1 - y0) * (float)(x1 - x0));
            for (int k = 0; k < c; k++) {
                float s = 0;
                for (int x = x0; x < x1; x++) s += rowbuf[x * c + k];
                dst[((size_t)oy * dw + ox) * c + k] = s * inv;
            }
        }
    }
}

/* torch grid_sampler's reflect_coordinates(in, 0, 2(size-1)) then clip (align_corners=True) */
static inline float reflect_clip(float v, int size)
{
    float span = (float)(size - 1);
    if (v >= 0 && v <= span) return v;
    if (size <= 1) return 0;
    v = fabsf(v);
    float extra = fmodf(v, span);
    int flips = (int)floorf(v / span);
    v = (flips & 1) ? span - extra : extra;
    return v < 0 ? 0 : v > span ? span : v;
}

/* bilinear with zero padding (torch's within_bounds test per corner) */
static void sample_zeros(float *op, const uint8_t *px, const float *fsrc, int sw, int sh, int c, float ix, float iy,
                         float scale)
{
    int x0 = (int)floorf(ix), y0 = (int)floorf(iy), x1 = x0 + 1, y1 = y0 + 1;
    float fx = ix - x0, fy = iy - y0;
    float wt[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
    int xs[4] = {x0, x1, x0, x1}, ys[4] = {y0, y0, y1, y1};
    for (int k = 0; k < c; k++) op[k] = 0;
    for (int j = 0; j < 4; j++) {
        if (xs[j] < 0 || ys[j] < 0 || xs[j] >= sw || ys[j] >= sh) continue;
        size_t i = ((size_t)ys[j] * sw + xs[j]) * c;
        for (int k = 0; k < c; k++) op[k] += wt[j] * (fsrc ? fsrc[i + k] : px[i + k] * scale);
    }
}

void batch_tfm_out_size(const BatchTfm *t, int in_w, int in_h, int *out_w, int *out_h)
{
    if (t->aug && t->size_w > 0)
        *out_w = t->size_w, *out_h = t->size_h;
    else
        *out_w = in_w, *out_h = in_h;
}

/* Reflection / border padding of sampling coordinates: those outside the
 * image move inside (those inside are left alone), per axis. */
static inline void pad_one(float *x, float *y, int sw, int sh, int mode)
{
    float ix = *x, iy = *y, spanx = (float)(sw - 1), spany = (float)(sh - 1);
    if (ix >= 0 && ix <= spanx && iy >= 0 && iy <= spany) return;
    if (mode == PAD_BORDER) {
        *x = ix < 0 ? 0 : ix > spanx ? spanx : ix;
        *y = iy < 0 ? 0 : iy > spany ? spany : iy;
    } else {
        *x = reflect_clip(ix, sw), *y = reflect_clip(iy, sh);
    }
}

static void pad_coords(float *cx, float *cy, int n, int sw, int sh, int mode)
{
    int i = 0;
#if defined(__AVX512F__)
    /* most coordinates are inside: test 16 at a time, fix only the others */
    const __m512 zero = _mm512_setzero_ps(), spanx = _mm512_set1_ps((float)(sw - 1)),
                 spany = _mm512_set1_ps((float)(sh - 1));
    for (; i + 16 <= n; i += 16) {
        __m512 ix = _mm512_loadu_ps(cx + i), iy = _mm512_loadu_ps(cy + i);
        unsigned in = _mm512_cmp_ps_mask(ix, zero, _CMP_GE_OQ) & _mm512_cmp_ps_mask(ix, spanx, _CMP_LE_OQ) &
                      _mm512_cmp_ps_mask(iy, zero, _CMP_GE_OQ) & _mm512_cmp_ps_mask(iy, spany, _CMP_LE_OQ);
        for (unsigned out = ~in & 0xffffu; out; out &= out - 1) {
            int j = i + __builtin_ctz(out);
            pad_one(cx + j, cy + j, sw, sh, mode);
        }
    }
#endif
    for (; i < n; i++) pad_one(cx + i, cy + i, sw, sh, mode);
}

/* One output pixel of pass 2: (ix, iy) already reflected/clamped into the
 * image unless pad_mode is zeros.  The plain version of the vector blend. */
static inline void blend_one(float *op, const uint8_t *px, const float *fsrc, int sw, int sh, int c, float ix,
                             float iy, float scale)
{
    if (!(ix >= 0 && ix <= (float)(sw - 1) && iy >= 0 && iy <= (float)(sh - 1))) {
        /* only zero padding leaves coordinates outside */
        if (!(ix > -1 && ix < sw && iy > -1 && iy < sh)) {
            for (int k = 0; k < c; k++) op[k] = 0;
            return;
        }
        sample_zeros(op, px, fsrc, sw, sh, c, ix, iy, scale);
        return;
    }
    /* ix, iy in [0, size-1]: truncation is floor; a corner past the last
     * pixel has weight 0, so clamping it changes nothing */
    int x0 = (int)ix, y0 = (int)iy;
    float fx = ix - x0, fy = iy - y0;
    int x1 = x0 + 1 < sw ? x0 + 1 : x0, y1 = y0 + 1 < sh ? y0 + 1 : y0;
    float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
    size_t i00 = ((size_t)y0 * sw + x0) * c, i01 = ((size_t)y0 * sw + x1) * c;
    size_t i10 = ((size_t)y1 * sw + x0) * c, i11 = ((size_t)y1 * sw + x1) * c;
    if (fsrc) {
        for (int k = 0; k < c; k++)
            op[k] = w00 * fsrc[i00 + k] + w01 * fsrc[i01 + k] + w10 * fsrc[i10 + k] + w11 * fsrc[i11 + k];
    } else {
        w00 *= scale, w01 *= scale, w10 *= scale, w11 *= scale;
        for (int k = 0; k < c; k++)
            op[k] = w00 * px[i00 + k] + w01 * px[i01 + k] + w10 * px[i10 + k] + w11 * px[i11 + k];
    }
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
#define BLEND_AVX512 1
/* The blend of pass 2 for RGB uint8 sources, 16 output pixels at a time with
 * gathers, when all 16 sample inside the image (the same arithmetic as
 * blend_one, so the results are equal bit for bit); other groups go through
 * blend_one. */
static void blend16_rgb(float *o, const uint8_t *px, int sw, int sh, const float *cx, const float *cy, int out_w,
                        float scale)
{
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), vs = _mm512_set1_ps(scale);
    const __m512 spanx = _mm512_set1_ps((float)(sw - 1)), spany = _mm512_set1_ps((float)(sh - 1));
    const __m512i sw1 = _mm512_set1_epi32(sw - 1), sh1 = _mm512_set1_epi32(sh - 1), vsw = _mm512_set1_epi32(sw);
    const __m512i three = _mm512_set1_epi32(3), m8 = _mm512_set1_epi32(255);
    const __m512i last = _mm512_set1_epi32(sw * sh * 3 - 4);
    /* interleave R, G, B (16 each) into 48 floats: output element j of vector v is
     * pixel (16v+j)/3, channel (16v+j)%3 */
    static const int32_t irg[3][16] = {
        {0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5},
        {21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26},
        {0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0}};
    static const int32_t ib[3][16] = {
        {0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0},
        {0, 5, 0, 0, 6, 0, 0, 7, 0, 0, 8, 0, 0, 9, 0, 0},
        {10, 0, 0, 11, 0, 0, 12, 0, 0, 13, 0, 0, 14, 0, 0, 15}};
    static const __mmask16 mb[3] = {0x4924, 0x2492, 0x9249};
    int ox = 0;
    for (; ox < out_w; ox += 16) {
        if (out_w - ox < 16) break;
        __m512 ix = _mm512_loadu_ps(cx + ox), iy = _mm512_loadu_ps(cy + ox);
        __mmask16 in = _mm512_cmp_ps_mask(ix, zero, _CMP_GE_OQ) & _mm512_cmp_ps_mask(ix, spanx, _CMP_LE_OQ) &
                       _mm512_cmp_ps_mask(iy, zero, _CMP_GE_OQ) & _mm512_cmp_ps_mask(iy, spany, _CMP_LE_OQ);
        __m512i x0 = _mm512_cvttps_epi32(ix), y0 = _mm512_cvttps_epi32(iy);
        __m512i x1 = _mm512_min_epi32(_mm512_add_epi32(x0, _mm512_set1_epi32(1)), sw1);
        __m512i y1 = _mm512_min_epi32(_mm512_add_epi32(y0, _mm512_set1_epi32(1)), sh1);
        __m512i r0 = _mm512_mullo_epi32(y0, vsw), r1 = _mm512_mullo_epi32(y1, vsw);
        __m512i i00 = _mm512_mullo_epi32(_mm512_add_epi32(r0, x0), three);
        __m512i i01 = _mm512_mullo_epi32(_mm512_add_epi32(r0, x1), three);
        __m512i i10 = _mm512_mullo_epi32(_mm512_add_epi32(r1, x0), three);
        __m512i i11 = _mm512_mullo_epi32(_mm512_add_epi32(r1, x1), three);
        /* a 4-byte gather of the last pixel would read past the image */
        if (in != 0xffff || _mm512_cmpgt_epi32_mask(i11, last)) {
            for (int j = 0; j < 16; j++)
                blend_one(o + (size_t)(ox + j) * 3, px, NULL, sw, sh, 3, cx[ox + j], cy[ox + j], scale);
            continue;
        }
        __m512 fx = _mm512_sub_ps(ix, _mm512_cvtepi32_ps(x0)), fy = _mm512_sub_ps(iy, _mm512_cvtepi32_ps(y0));
        __m512 gx = _mm512_sub_ps(one, fx), gy = _mm512_sub_ps(one, fy);
        __m512 w00 = _mm512_mul_ps(_mm512_mul_ps(gx, gy), vs), w01 = _mm512_mul_ps(_mm512_mul_ps(fx, gy), vs);
        __m512 w10 = _mm512_mul_ps(_mm512_mul_ps(gx, fy), vs), w11 = _mm512_mul_ps(_mm512_mul_ps(fx, fy), vs);
        __m512i v00 = _mm512_i32gather_epi32(i00, px, 1), v01 = _mm512_i32gather_epi32(i01, px, 1);
        __m512i v10 = _mm512_i32gather_epi32(i10, px, 1), v11 = _mm512_i32gather_epi32(i11, px, 1);
        __m512 rgb[3];
        for (int k = 0; k < 3; k++) {
            __m512 a = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v00, 8 * k), m8));
            __m512 b = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v01, 8 * k), m8));
            __m512 cc = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v10, 8 * k), m8));
            __m512 d = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v11, 8 * k), m8));
            /* w00·a + w01·b + w10·c + w11·d, summed left to right as blend_one */
            rgb[k] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(w00, a), _mm512_mul_ps(w01, b)),
                                                 _mm512_mul_ps(w10, cc)), _mm512_mul_ps(w11, d));
        }
        float *op = o + (size_t)ox * 3;
        for (int v = 0; v < 3; v++) {
            __m512 t = _mm512_permutex2var_ps(rgb[0], _mm512_loadu_si512(irg[v]), rgb[1]);
            _mm512_storeu_ps(op + 16 * v, _mm512_mask_permutexvar_ps(t, mb[v], _mm512_loadu_si512(ib[v]), rgb[2]));
        }
    }
    for (; ox < out_w; ox++) blend_one(o + (size_t)ox * 3, px, NULL, sw, sh, 3, cx[ox], cy[ox], scale);
}
#endif

/* Long because the steps of augment.h's pipeline share one pass over the
 * output: the grid (affine, warp), the optional area step, the resample, the
 * lighting and the normalisation, with the points mapped alongside; split,
 * each step would need its own buffer and pass. */
int batch_tfm_apply(const BatchTfm *t, const AugDraw *d, const Image *in, int train, float *out, int out_w,
                    int out_h, float *pts, int n_pts, AugScratch *s)
{
    int c = in->c, w = in->w, h = in->h;
    double A[6], H[9];
    aug_matrices(d, w, h, A, H);
    int warp = H[0] != 1 || H[1] != 0 || H[2] != 0 || H[3] != 0 || H[4] != 1 || H[5] != 0 || H[6] != 0 || H[7] != 0;
    int identity = !warp && A[0] == 1 && A[1] == 0 && A[2] == 0 && A[3] == 0 && A[4] == 1 && A[5] == 0 &&
                   out_w == w && out_h == h;
    size_t n_out = (size_t)out_w * out_h * c;
    const float inv255 = 1.0f / 255;
    if (identity) {
        for (size_t i = 0; i < n_out; i++) out[i] = in->px[i] * inv255;
    } else {
        int sw = w, sh = h;
        const float *fsrc = NULL;   /* float source after an area step, else the uint8 item */
        /* fastai's _grid_sample: when shrinking by more than 2x (and zooming in
         * less than that), average the image down first.  fastai's d reads
         * min(in_h/out_w, in_w/2)/2 (coords.shape[-1] is 2); kept as is. */
        double mn = 1e30, mx = -1e30;
        for (int k = 0; k < 4; k++) {
            double x, y;
            map_point(A, H, warp, k & 1 ? 1 : -1, k & 2 ? 1 : -1, &x, &y);
            mn = fmin(mn, fmin(x, y)), mx = fmax(mx, fmax(x, y));
        }
        double z = mx > mn ? 2 / (mx - mn) : 1e30;
        double dd = fmin((double)h / out_w, (double)w / 2) / 2;
        if (dd > 1 && dd > z) {
            int aw = (int)floor(w * (1 / dd)), ah = (int)floor(h * (1 / dd));
            if (aw >= 1 && ah >= 1) {
                if (transform_buf_grow((void **)&s->src, &s->cap_src, sizeof(float) * (size_t)w * h * c) ||
                    transform_buf_grow((void **)&s->area, &s->cap_area, sizeof(float) * ((size_t)aw * ah * c + (size_t)w * c)))
                    return -1;
                for (size_t i = 0; i < (size_t)w * h * c; i++) s->src[i] = in->px[i] * inv255;
                area_down(s->area, aw, ah, s->src, w, h, c, s->area + (size_t)aw * ah * c);
                fsrc = s->area, sw = aw, sh = ah;
            }
        }
        if (transform_buf_grow((void **)&s->coord, &s->cap_coord, sizeof(float) * 2 * (size_t)out_w)) return -1;
        float *cx = s->coord, *cy = s->coord + out_w;
        const float a0 = (float)A[0], a1 = (float)A[1], a2 = (float)A[2], a3 = (float)A[3], a4 = (float)A[4],
                    a5 = (float)A[5];
        const float h0 = (float)H[0], h1 = (float)H[1], h2 = (float)H[2], h3 = (float)H[3], h4 = (float)H[4],
                    h5 = (float)H[5], h6 = (float)H[6], h7 = (float)H[7];
        const float hx = 0.5f * (float)(sw - 1), hy = 0.5f * (float)(sh - 1);
        const float du = out_w > 1 ? 2.0f / (float)(out_w - 1) : 0.0f;

        const float scale = fsrc ? 1.0f : inv255;
        const uint8_t *px = in->px;
        for (int oy = 0; oy < out_h; oy++) {
            float v = out_h > 1 ? -1.0f + 2.0f * (float)oy / (float)(out_h - 1) : 0.0f;
            /* pass 1: the row's sampling coordinates in source pixels (vectorises) */
            if (warp) {
                for (int ox = 0; ox < out_w; ox++) {
                    float u = out_w > 1 ? -1.0f + du * (float)ox : 0.0f;
                    float xa = a0 * u + a1 * v + a2, ya = a3 * u + a4 * v + a5;
                    float den = h6 * xa + h7 * ya + 1.0f;
                    den = den != 0 ? den : 1.0f;
                    float xw = (h0 * xa + h1 * ya + h2) / den, yw = (h3 * xa + h4 * ya + h5) / den;
                    cx[ox] = (xw + 1) * hx, cy[ox] = (yw + 1) * hy;
                }
            } else {
                for (int ox = 0; ox < out_w; ox++) {
                    float u = out_w > 1 ? -1.0f + du * (float)ox : 0.0f;
                    cx[ox] = (a0 * u + a1 * v + a2 + 1) * hx, cy[ox] = (a3 * u + a4 * v + a5 + 1) * hy;
                }
            }
            /* pass 2a: reflection / border padding moves the coordinates into the image */
            if (t->pad_mode != PAD_ZEROS) pad_coords(cx, cy, out_w, sw, sh, t->pad_mode);
            /* pass 2b: the bilinear blend */
            float *o = out + (size_t)oy * out_w * c;
#ifdef BLEND_AVX512
            if (!fsrc && c == 3) {
                blend16_rgb(o, px, sw, sh, cx, cy, out_w, scale);
                continue;
            }
#endif
            for (int ox = 0; ox < out_w; ox++)
                blend_one(o + (size_t)ox * c, px, fsrc, sw, sh, c, cx[ox], cy[ox], scale);
        }
    }
    if (train && t->aug && (d->brightness != 0.5 || d->contrast != 1)) lighting(out, n_out, d->brightness, d->contrast);
    if (t->normalize) {
        float sc[3], of[3];
        for (int k = 0; k < c && k < 3; k++) sc[k] = 1.0f / t->std[k], of[k] = -t->mean[k] / t->std[k];
        if (c == 3) {
            for (size_t i = 0; i < n_out; i += 3) {
                out[i] = out[i] * sc[0] + of[0];
                out[i + 1] = out[i + 1] * sc[1] + of[1];
                out[i + 2] = out[i + 2] * sc[2] + of[2];
            }
        } else {
            for (size_t i = 0; i < n_out; i++) out[i] = out[i] * sc[i % c] + of[i % c];
        }
    }
    if (n_pts > 0) {
        /* points: output = A⁻¹(H⁻¹(p) − t), fastai's TensorPoint.affine_coord */
        double A3[9] = {A[0], A[1], A[2], A[3], A[4], A[5], 0, 0, 1}, Ai[9], Hi[9];
        int ok = mat3_inv(Ai, A3) == 0 && mat3_inv(Hi, H) == 0;
        for (int i = 0; ok && i < n_pts; i++) {
            double x = pts[2 * i], y = pts[2 * i + 1];
            if (warp) {
                double den = Hi[6] * x + Hi[7] * y + Hi[8];
                if (den != 0) {
                    double xw = (Hi[0] * x + Hi[1] * y + Hi[2]) / den;
                    y = (Hi[3] * x + Hi[4] * y + Hi[5]) / den;
                    x = xw;
                }
            }
            pts[2 * i] = (float)(Ai[0] * x + Ai[1] * y + Ai[2]);
            pts[2 * i + 1] = (float)(Ai[3] * x + Ai[4] * y + Ai[5]);
        }
    }
    return 0;
}
