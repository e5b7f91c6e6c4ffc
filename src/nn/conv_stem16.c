/* conv_stem16.c — bf16 forward and weight gradient of a narrow-input
 * convolution without whole-image columns (see conv_stem16.h). */
#include "nn/conv_stem16.h"

#include "core/err.h"
#include "nn/gemm_bf16.h"

#include <immintrin.h>
#include <omp.h>
#include <string.h>

#define MR GEMM_BF16_MR
#define NR GEMM_BF16_NR
#define NV (NR / 16)
#define SEG_MAX 31      /* kernel row values (kw·c_in) at most: one 32-lane copy, the pad lane after it */
#define FWD_BAND 16     /* output rows per forward unit of the threads */
#define FWD_BLOCK 192   /* positions per forward GEMM: their columns (57 KB for the stem) stay in L2 */
#define PLANES_MAX 16   /* planes (c_in · stride) at most */
#define PACK_AHEAD 8    /* pairs of dout rows ahead that the packing fetches */
#define DW_PAIRS 64     /* pairs of positions per packed dout chunk (16 KB a panel: in L1) */

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

int conv_stem16_forward_applies(const Conv2dDims *d)
{
    return gemm_bf16_native() && d->kw * d->c_in <= SEG_MAX && !conv2d_is_pointwise(d);
}

int conv_stem16_dw_applies(const Conv2dDims *d)
{
    return conv_stem16_forward_applies(d) && d->ow % 2 == 0 && d->stride * d->c_in <= PLANES_MAX;
}

static size_t up16(size_t f) { return (f + 15) / 16 * 16; }
static size_t floats_of_bf16(size_t n) { return (n + 1) / 2; }
static int min_i(int a, int b) { return a < b ? a : b; }

/* Sizes of both passes, from the dims alone. */
typedef struct Geo {
    int K, ld, seg, ph, pw, pwr, ldp, np, ldc, kt;
    int band, block;          /* forward: output rows per unit, per GEMM */
    int rows, pairs;          /* weight gradient: output rows, pairs of positions per dout chunk */
    size_t wp, fband, fcol, fslot;
    size_t ct, planes, chunk, stage, dslot;
} Geo;

static Geo geo(const Conv2dDims *d)
{
    Geo g;
    memset(&g, 0, sizeof g);
    const int c = d->c_in, s = d->stride;
    g.K = d->kh * d->kw * c, g.ld = (g.K + 1) & ~1, g.seg = d->kw * c;
    /* the padded input the kernel reads: rows −p .. s·(oh−1) − p + kh − 1, same for columns */
    g.ph = s * (d->oh - 1) + d->kh, g.pw = s * (d->ow - 1) + d->kw;
    /* a plane's row: columns x' = 0 .. ow − 1 + (kw − 1)/s (padded column s·x' + r) */
    g.pwr = d->ow + (d->kw - 1) / s, g.ldp = (g.pwr + 31) / 32 * 32;
    g.np = (d->c_out + NR - 1) / NR, g.ldc = g.np * NR, g.kt = (g.K + MR - 1) / MR;
    g.band = min_i(FWD_BAND, d->oh);
    g.block = min_i(FWD_BLOCK / d->ow > 1 ? FWD_BLOCK / d->ow : 1, g.band);
    g.wp = up16(gemm_bf16_packed_words(g.K, d->c_out));
    g.fband = up16(floats_of_bf16((size_t)(s * (g.band - 1) + d->kh) * g.pw * c + 32));
    g.fcol = up16(floats_of_bf16((size_t)g.block * d->ow * g.ld + 32));
    g.fslot = g.fband + g.fcol;
    int half = d->ow / 2 > 0 ? d->ow / 2 : 1;
    g.rows = min_i(DW_PAIRS / half > 1 ? DW_PAIRS / half : 1, d->oh), g.pairs = g.rows * half;
    g.ct = up16((size_t)g.kt * MR * g.ldc);
    g.planes = up16(floats_of_bf16((size_t)c * s * g.ph * g.ldp));
    g.chunk = up16((size_t)g.np * g.pairs * NR);
    g.stage = up16(floats_of_bf16((size_t)s * c * g.ldp + 32));
    g.dslot = g.planes + g.chunk + g.stage;
    return g;
}

size_t conv_stem16_scratch_floats(const Conv2dDims *d, int threads)
{
    Geo g = geo(d);
    size_t t = (size_t)(threads < 1 ? 1 : threads);
    size_t f = g.wp + t * g.fslot, b = (size_t)CONV_GROUPS * g.ct + t * g.dslot;
    return f > b ? f : b;
}

/* Threads that have a slot of `slot` floats after `fixed`, at most `units`. */
static int threads_for(size_t floats, size_t fixed, size_t slot, int units)
{
    size_t slots = floats > fixed ? (floats - fixed) / slot : 0;
    int t = omp_get_max_threads();
    if ((size_t)t > slots) t = (int)slots;
    if (t > units) t = units;
    FASTC_ASSERT(t >= 1);
    return t;
}

/* ---- forward --------------------------------------------------------------- */

/* Output rows [oy0, oy1) of image i: the padded bf16 input rows they read into
 * band (rows pw·c_in apart, the first padded row s·oy0), then per block of rows
 * their columns (the columns path's rows, bit for bit) and one GEMM. */
BF16_TARGET static void forward_unit(const Geo *g, const Conv2dDims *d, float *slot, const uint32_t *wp, float *out,
                                     uint16_t *out16, int ld16, const float *in, const uint16_t *in16, int i, int oy0,
                                     int oy1)
{
    const int c = d->c_in, s = d->stride, pwc = g->pw * c;
    uint16_t *band = (uint16_t *)slot, *col = (uint16_t *)(slot + g->fband);
    const int y0 = s * oy0, y1 = s * (oy1 - 1) + d->kh;
    const int xl = min_i(d->pad, g->pw), xr = min_i(d->pad + d->w, g->pw);   /* input columns: [xl, xr) */
    for (int y = y0; y < y1; y++) {
        uint16_t *dst = band + (size_t)(y - y0) * pwc;
        int iy = y - d->pad;
        if (iy < 0 || iy >= d->h || xr <= xl) {
            memset(dst, 0, sizeof(uint16_t) * pwc);
            continue;
        }
        size_t off = (((size_t)i * d->h + iy) * d->w + (xl - d->pad)) * c, n = (size_t)(xr - xl) * c;
        memset(dst, 0, sizeof(uint16_t) * xl * c);
        if (in) bf16_convert(dst + xl * c, in + off, n);
        else memcpy(dst + xl * c, in16 + off, sizeof(uint16_t) * n);
        memset(dst + xr * c, 0, sizeof(uint16_t) * (g->pw - xr) * c);
    }
    /* (the 32-lane copies read up to 32 values past a kernel row: the band's
     * slack, garbage that lands past the row's segment, overwritten by the
     * next segment or row, or in the columns' slack) */
    for (int ob = oy0; ob < oy1; ob += g->block) {
        const int oe = min_i(oy1, ob + g->block);
        for (int oy = ob; oy < oe; oy++)
            for (int ox = 0; ox < d->ow; ox++) {
                uint16_t *row = col + ((size_t)(oy - ob) * d->ow + ox) * g->ld;
                const uint16_t *src = band + ((size_t)s * (oy - oy0) * g->pw + (size_t)s * ox) * c;
                for (int ky = 0; ky < d->kh; ky++)
                    _mm512_storeu_si512(row + ky * g->seg, _mm512_loadu_si512(src + (size_t)ky * pwc));
                if (g->K & 1) row[g->K] = 0;
            }
        const int M = (oe - ob) * d->ow;
        const size_t m0 = ((size_t)i * d->oh + ob) * d->ow;
        if (out16)
            gemm_bf16_c16(M, d->c_out, g->K, col, g->ld, wp, out + m0 * d->c_out, d->c_out, out16 + m0 * ld16, ld16);
        else gemm_bf16(M, d->c_out, g->K, col, g->ld, wp, 0, out + m0 * d->c_out, d->c_out);
    }
}

void conv_stem16_forward(float *out, uint16_t *out16, int ld16, const float *in, const uint16_t *in16, const float *w,
                         const Conv2dDims *d, float *buf, size_t floats)
{
    FASTC_ASSERT(conv_stem16_forward_applies(d));
    Geo g = geo(d);
    uint32_t *wp = (uint32_t *)buf;
    gemm_bf16_pack_b(wp, 1, g.K, d->c_out, w, g.K);   /* B = Wᵀ, given as W [c_out][K] */
    const int nb = (d->oh + g.band - 1) / g.band, units = d->n * nb;
    const int nth = threads_for(floats, g.wp, g.fslot, units);
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
    for (int u = 0; u < units; u++) {
        int i = u / nb, oy0 = u % nb * g.band;
        forward_unit(&g, d, buf + g.wp + (size_t)omp_get_thread_num() * g.fslot, wp, out, out16, ld16, in, in16, i,
                     oy0, min_i(d->oh, oy0 + g.band));
    }
}

/* ---- weight gradient ---------------------------------------------------------- */

/* The planes of the input, plane o = r·c_in + ci (r < s), row y (padded row,
 * input row y − p), column x': the padded input at row y, column s·x' + r
 * (input column s·x' + r − p), channel ci; zero outside the input.  Rows ldp
 * apart, planes ph rows.  Along a padded row (c_in values a column) plane o's
 * values are those at S·x' + o, S = s·c_in: each 32 of them from S vectors of
 * 32, by a two-vector permute per pair of those vectors. */
typedef struct Deint {
    int S, pairs;
    __m512i idx[PLANES_MAX][PLANES_MAX / 2];
    __mmask32 m[PLANES_MAX][PLANES_MAX / 2];
} Deint;

BF16_TARGET static void deint_init(Deint *t, int S)
{
    t->S = S, t->pairs = (S + 1) / 2;
    for (int o = 0; o < S; o++)
        for (int k = 0; k < t->pairs; k++) {
            uint16_t idx[32];
            uint32_t m = 0;
            for (int j = 0; j < 32; j++) {
                int src = S * j + o;
                idx[j] = (uint16_t)(src % 64);
                if (src / 64 == k) m |= 1u << j;
            }
            t->idx[o][k] = _mm512_loadu_si512(idx);
            t->m[o][k] = (__mmask32)m;
        }
}

/* Image i's planes; row: scratch for one padded bf16 row (S·ldp + 32 values). */
BF16_TARGET static void build_planes(uint16_t *pl, uint16_t *row, const Deint *t, const Geo *g, const Conv2dDims *d,
                                     const float *in, const uint16_t *in16, int i)
{
    const int c = d->c_in, S = t->S, len = S * g->ldp;
    /* input columns [xl, xr) of the padded row, within the len values the planes read */
    const int xl = min_i(d->pad, len / c), xr = min_i(d->pad + d->w, len / c);
    memset(row, 0, sizeof(uint16_t) * (len + 32));
    for (int y = 0; y < g->ph; y++) {
        int iy = y - d->pad;
        if (iy < 0 || iy >= d->h || xr <= xl) {
            for (int o = 0; o < S; o++) memset(pl + ((size_t)o * g->ph + y) * g->ldp, 0, sizeof(uint16_t) * g->ldp);
            continue;
        }
        size_t off = (((size_t)i * d->h + iy) * d->w + (xl - d->pad)) * c, n = (size_t)(xr - xl) * c;
        if (in) bf16_convert(row + xl * c, in + off, n);
        else memcpy(row + xl * c, in16 + off, sizeof(uint16_t) * n);
        for (int v = 0; v < g->ldp / 32; v++) {
            const uint16_t *base = row + (size_t)v * S * 32;
            __m512i src[PLANES_MAX + 1];
            for (int k = 0; k < 2 * t->pairs; k++) src[k] = _mm512_loadu_si512(base + 32 * k);
            for (int o = 0; o < S; o++) {
                __m512i out = _mm512_setzero_si512();
                for (int k = 0; k < t->pairs; k++)
                    out = _mm512_or_si512(out, _mm512_maskz_permutex2var_epi16(t->m[o][k], src[2 * k], t->idx[o][k],
                                                                                src[2 * k + 1]));
                _mm512_storeu_si512(pl + ((size_t)o * g->ph + y) * g->ldp + 32 * v, out);
            }
        }
    }
}

/* Pairs e < npairs of dout rows (m0 + 2e, m0 + 2e + 1) in the VNNI pair layout,
 * panel j at chunk + j·cap·NR: word[e][n] = bf16(dout[m0+2e][n]) | bf16(dout[m0+2e+1][n]) << 16
 * (zero past c_out). */
BF16_TARGET static void pack_dout(uint32_t *chunk, int cap, const Geo *g, const Conv2dDims *d, const float *dout,
                                  const uint16_t *dout16, int ld16, size_t m0, int npairs)
{
    const size_t rb = dout16 ? (size_t)ld16 * sizeof(uint16_t) : (size_t)d->c_out * sizeof(float);
    const size_t used = (size_t)d->c_out * (dout16 ? sizeof(uint16_t) : sizeof(float));
    const char *base = dout16 ? (const char *)dout16 : (const char *)dout;
    for (int e = 0; e < npairs; e++) {
        size_t r0 = m0 + 2 * (size_t)e;
        for (size_t o = 0; o < used; o += 64) {   /* the pair PACK_AHEAD on */
            _mm_prefetch(base + (r0 + 2 * PACK_AHEAD) * rb + o, _MM_HINT_T0);
            _mm_prefetch(base + (r0 + 2 * PACK_AHEAD + 1) * rb + o, _MM_HINT_T0);
        }
        for (int j = 0; j < g->np; j++)
            for (int v = 0; v < NV; v++) {
                int n = j * NR + 16 * v;
                __mmask16 m = lanes16(d->c_out - n);
                __m256i lo, hi;
                if (dout16) {
                    lo = _mm256_maskz_loadu_epi16(m, dout16 + r0 * ld16 + n);
                    hi = _mm256_maskz_loadu_epi16(m, dout16 + (r0 + 1) * ld16 + n);
                } else {
                    lo = bf16_cvt16_native(_mm512_maskz_loadu_ps(m, dout + r0 * d->c_out + n));
                    hi = bf16_cvt16_native(_mm512_maskz_loadu_ps(m, dout + (r0 + 1) * d->c_out + n));
                }
                __m512i w = _mm512_or_si512(_mm512_cvtepu16_epi32(lo), _mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16));
                _mm512_storeu_si512(chunk + ((size_t)j * cap + e) * NR + 16 * v, w);
            }
    }
}

/* The 32-bit word at p (two bf16, p only 2-byte aligned) in every lane. */
BF16_TARGET static inline __m512bh word_at(const uint16_t *p)
{
    return (__m512bh)_mm512_broadcastd_epi32(_mm_loadu_si32(p));
}

/* Lines to fetch into L2 while a tile computes (the next chunk's operands: a
 * pass over them would otherwise wait on memory at every line): n rows from p,
 * stride bytes apart, `lines` lines of each. */
typedef struct Pf {
    const char *p;
    size_t stride;
    int n, lines;
} Pf;

static inline void pf_row(const Pf *f, int it)
{
    if (it < f->n)
        for (int l = 0; l < f->lines; l++) _mm_prefetch(f->p + (size_t)it * f->stride + 64 * (size_t)l, _MM_HINT_T1);
}

/* C tile [mr <= MR][nr <= NR] (fp32, rows ldc apart) += Aᵀ-rows · B: rows output
 * rows, each of `pairs` pairs; pair q of A row i at output row r is the word at
 * a[i] + r·step + 2q (two bf16: positions 2q, 2q+1), B's words for it at
 * b[(r·pairs + q)·NR ..].  The chain continues from C.  Row `it` of f0 and of f1
 * fetched at the it-th pair. */
BF16_TARGET static void dw_tile(const uint16_t *const a[MR], size_t step, int rows, int pairs, const uint32_t *b,
                                float *c, int ldc, int mr, int nr, const Pf *f0, const Pf *f1)
{
    __m512 acc[MR][NV];
    __mmask16 mk[NV];
    #pragma GCC unroll 8
    for (int j = 0; j < NV; j++) mk[j] = lanes16(nr - 16 * j);
    #pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < NV; j++)
            acc[i][j] = i < mr ? _mm512_maskz_loadu_ps(mk[j], c + (size_t)i * ldc + 16 * j) : _mm512_setzero_ps();
    for (int r = 0, it = 0; r < rows; r++) {
        const uint16_t *ar[MR];
        #pragma GCC unroll 8
        for (int i = 0; i < MR; i++) ar[i] = a[i] + (size_t)r * step;
        for (int q = 0; q < pairs; q++, b += NR, it++) {
            pf_row(f0, it);
            pf_row(f1, it);
            __m512 bv[NV];
            #pragma GCC unroll 8
            for (int j = 0; j < NV; j++) bv[j] = _mm512_loadu_ps((const float *)(b + 16 * j));
            #pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                __m512bh av = word_at(ar[i] + 2 * q);
                #pragma GCC unroll 8
                for (int j = 0; j < NV; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av, (__m512bh)bv[j]);
            }
        }
    }
    #pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        if (i < mr)
            #pragma GCC unroll 8
            for (int j = 0; j < NV; j++) _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16 * j, mk[j], acc[i][j]);
}

/* Rows [n·part/parts, n·(part+1)/parts) of f. */
static Pf pf_share(Pf f, int part, int parts)
{
    int a = (int)((long)f.n * part / parts), b = (int)((long)f.n * (part + 1) / parts);
    f.p += (size_t)a * f.stride, f.n = b - a;
    return f;
}

/* Unit: group g's chain for the rows k of dWᵀ in tiles [t0, t1), in ct (rows ldc
 * apart), over the group's images in order: per image its planes, per chunk of
 * output rows dout packed, then every tile over the chunk. */
BF16_TARGET static void dw_unit(const Geo *g, const Deint *di, const Conv2dDims *d, float *slot, float *ct,
                                const float *dout, const uint16_t *dout16, int ld16, const float *in,
                                const uint16_t *in16, int i0, int i1, int t0, int t1)
{
    const int c = d->c_in, s = d->stride, half = d->ow / 2, nt = t1 - t0;
    uint16_t *pl = (uint16_t *)slot, *prow = (uint16_t *)(slot + g->planes + g->chunk);
    uint32_t *chunk = (uint32_t *)(slot + g->planes);
    const size_t esz = in ? sizeof(float) : sizeof(uint16_t), in_img = (size_t)d->h * d->w * c * esz;
    const size_t drow = dout16 ? (size_t)ld16 * sizeof(uint16_t) : (size_t)d->c_out * sizeof(float);
    const int dlines = (int)((d->c_out * (dout16 ? sizeof(uint16_t) : sizeof(float)) + 63) / 64);
    const char *dbase = dout16 ? (const char *)dout16 : (const char *)dout;
    const int nchunks = (d->oh + g->rows - 1) / g->rows;
    for (int i = i0; i < i1; i++) {
        build_planes(pl, prow, di, g, d, in, in16, i);
        /* the next image's input (within the unit), a share per chunk */
        Pf fin = {NULL, 64, 0, 1};
        if (i + 1 < i1)
            fin.p = (in ? (const char *)in : (const char *)in16) + (size_t)(i + 1) * in_img, fin.n = (int)((in_img + 63) / 64);
        for (int oy0 = 0, ch = 0; oy0 < d->oh; oy0 += g->rows, ch++) {
            const int rows = min_i(g->rows, d->oh - oy0);
            const size_t m0 = ((size_t)i * d->oh + oy0) * d->ow;
            pack_dout(chunk, g->pairs, g, d, dout, dout16, ld16, m0, rows * half);
            /* the next chunk's dout rows (within the unit's images) */
            const size_t mn = m0 + (size_t)rows * d->ow, mend = (size_t)i1 * d->oh * d->ow;
            const size_t nn = mn < mend ? (mend - mn < (size_t)g->rows * d->ow ? mend - mn : (size_t)g->rows * d->ow) : 0;
            Pf fd = {dbase + mn * drow, drow, (int)nn, dlines};
            Pf fi = pf_share(fin, ch, nchunks);
            for (int t = t0; t < t1; t++) {
                const uint16_t *a[MR];
                const int mr = min_i(MR, g->K - t * MR);
                for (int r = 0; r < MR; r++) {
                    int k = t * MR + (r < mr ? r : mr - 1);
                    int ky = k / (d->kw * c), kx = k / c % d->kw, ci = k % c;
                    a[r] = pl + ((size_t)(kx % s * c + ci) * g->ph + ky + (size_t)s * oy0) * g->ldp + kx / s;
                }
                Pf f0 = pf_share(fd, t - t0, nt), f1 = pf_share(fi, t - t0, nt), none = {NULL, 0, 0, 0};
                for (int j = 0; j < g->np; j++)
                    dw_tile(a, (size_t)s * g->ldp, rows, half, chunk + (size_t)j * g->pairs * NR,
                            ct + (size_t)t * MR * g->ldc + (size_t)j * NR, g->ldc, mr, min_i(NR, d->c_out - j * NR),
                            j ? &none : &f0, j ? &none : &f1);
            }
        }
    }
}

void conv_stem16_dw(float *dw, const float *dout, const uint16_t *dout16, int ld16, const float *in,
                    const uint16_t *in16, const Conv2dDims *d, int groups, const int *img, float *buf,
                    size_t floats)
{
    FASTC_ASSERT(conv_stem16_dw_applies(d) && groups >= 1 && groups <= CONV_GROUPS);
    Geo g = geo(d);
    const int K = g.K;
    /* each group's dWᵀ [kt·MR][ldc]: group 0's from dW, the others' from zero */
    for (int q = 0; q < groups; q++) {
        float *ct = buf + (size_t)q * g.ct;
        for (int k = 0; k < K; k++)
            for (int co = 0; co < d->c_out; co++) ct[(size_t)k * g.ldc + co] = q ? 0.0f : dw[(size_t)co * K + k];
    }
    /* units: a group's tiles of rows, in two parts when there are few groups
     * (each part builds its planes and packs dout itself) */
    const int parts = groups >= 4 || g.kt < 2 ? 1 : 2, units = groups * parts;
    const size_t fixed = (size_t)groups * g.ct;
    const int nth = threads_for(floats, fixed, g.dslot, units);
    Deint di;
    deint_init(&di, d->stride * d->c_in);
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
    for (int u = 0; u < units; u++) {
        int q = u / parts, p = u % parts;
        dw_unit(&g, &di, d, buf + fixed + (size_t)omp_get_thread_num() * g.dslot, buf + (size_t)q * g.ct, dout, dout16,
                ld16, in, in16, img[q], img[q + 1], g.kt * p / parts, g.kt * (p + 1) / parts);
    }
    /* dW = group 0's chain + group 1's + ..., in order (the columns path's sum) */
    for (int co = 0; co < d->c_out; co++)
        for (int k = 0; k < K; k++) {
            float v = buf[(size_t)k * g.ldc + co];
            for (int q = 1; q < groups; q++) v += buf[(size_t)q * g.ct + (size_t)k * g.ldc + co];
            dw[(size_t)co * K + k] = v;
        }
}
