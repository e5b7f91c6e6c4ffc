/* optim.c — fastai's Adam and SGD: see optim.h for the exact update. */
#include "learn/optim.h"

#include <math.h>
#if defined(__SSE__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 1 << 14 };   /* elements per work item of the fused loop */

OptHyper optim_default_hyper(OptKind kind)
{
    OptHyper h = {.lr = 1e-3, .mom = 0.9, .sqr_mom = 0.99, .eps = 1e-5, .wd = 0.01};
    if (kind == OPT_SGD) h.mom = 0, h.wd = 0, h.sqr_mom = 0, h.eps = 0;
    return h;
}

Optimizer *optim_new(OptKind kind, const OptHyper *h, int decouple_wd, Model *m, int threads, Err *err)
{
    Optimizer *o = calloc(1, sizeof *o);
    if (!o) return err_set(err, ERR_RUNTIME, "optimizer: out of memory"), NULL;
    o->kind = kind;
    o->decouple_wd = decouple_wd;
    o->sgd_mom = kind == OPT_SGD && h->mom != 0;
    o->n_groups = m->info.n_groups > 0 ? m->info.n_groups : 1;
    o->params = m->params;
    o->n_params = m->n_params;
    o->threads = threads < 1 ? 1 : threads;
    o->hyper = malloc(sizeof *o->hyper * o->n_groups);
    o->grad_avg = calloc(m->n_params ? m->n_params : 1, sizeof *o->grad_avg);
    o->sqr_avg = calloc(m->n_params ? m->n_params : 1, sizeof *o->sqr_avg);
    o->step = calloc(m->n_params ? m->n_params : 1, sizeof *o->step);
    o->coef = calloc((size_t)(m->n_params ? m->n_params : 1) * 4, sizeof *o->coef);
    o->lazy = calloc(m->n_params ? m->n_params : 1, sizeof *o->lazy);
    if (!o->hyper || !o->grad_avg || !o->sqr_avg || !o->step || !o->coef || !o->lazy) goto oom;
    for (int g = 0; g < o->n_groups; g++) o->hyper[g] = *h;

    int per = kind == OPT_ADAM ? 2 : (o->sgd_mom ? 1 : 0);
    size_t total = 0;
    int nch = 0;
    for (int i = 0; i < m->n_params; i++) {
        const Param *p = &m->params[i];
        if (p->kind != PARAM_WEIGHT) continue;
        FASTC_ASSERT(p->g != NULL);
        FASTC_ASSERT(p->group >= 0 && p->group < o->n_groups);
        total += p->n * per;
        nch += (int)((p->n + CHUNK - 1) / CHUNK);
    }
    o->state_n = total;
    size_t n_weights = 0;
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i].kind == PARAM_WEIGHT) n_weights += m->params[i].n;
    if (n_weights < OPTIM_PAR_MIN) o->threads = 1;   /* threads policy: see optim.h */
    o->state = calloc(total ? total : 1, sizeof(float));
    o->chunks = malloc(sizeof *o->chunks * (nch ? nch : 1));
    if (!o->state || !o->chunks) goto oom;
    float *s = o->state;
    for (int i = 0; i < m->n_params; i++) {
        const Param *p = &m->params[i];
        if (p->kind != PARAM_WEIGHT) continue;
        if (per >= 1) o->grad_avg[i] = s, s += p->n;
        if (per >= 2) o->sqr_avg[i] = s, s += p->n;
        for (int64_t st = 0; st < (int64_t)p->n; st += CHUNK) {
            OptChunk *c = &o->chunks[o->n_chunks++];
            c->param = i, c->start = st;
            c->len = (int64_t)p->n - st < CHUNK ? (int64_t)p->n - st : CHUNK;
        }
        /* lazy rows: see optim.h (the L2 form would give every row a gradient) */
        if (kind == OPT_ADAM && decouple_wd && m->batch_rows && p->row_len >= 8 && p->n % (size_t)p->row_len == 0) {
            OptRows *z = &o->lazy[i];
            z->row_len = p->row_len, z->n_rows = (int64_t)p->n / p->row_len;
            z->done = calloc((size_t)z->n_rows, sizeof *z->done);
            z->log = malloc(sizeof *z->log * OPTIM_LOG_CAP);
            z->pre = malloc(sizeof *z->pre * (OPTIM_LOG_CAP + 1));
            if (!z->done || !z->log || !z->pre) goto oom;
            z->pre[0] = (OptRowPre){.dc = 1, .pc = 1, .rc = 1};
            o->n_lazy++;
        }
    }
    return o;
oom:
    optim_free(o);
    err_set(err, ERR_RUNTIME, "optimizer: out of memory");
    return NULL;
}

void optim_free(Optimizer *o)
{
    if (!o) return;
    free(o->hyper), free(o->grad_avg), free(o->sqr_avg), free(o->step), free(o->coef);
    free(o->state), free(o->chunks);
    for (int i = 0; o->lazy && i < o->n_params; i++) free(o->lazy[i].done), free(o->lazy[i].log), free(o->lazy[i].rows), free(o->lazy[i].pre);
    free(o->lazy);
    free(o);
}

void optim_clear_state(Optimizer *o)
{
    optim_flush(o);
    memset(o->state, 0, o->state_n * sizeof(float));
    memset(o->step, 0, sizeof *o->step * (o->n_params ? o->n_params : 1));
}

void optim_set_lr(Optimizer *o, const double *lr)
{
    for (int g = 0; g < o->n_groups; g++) o->hyper[g].lr = lr[g];
}
void optim_set_mom(Optimizer *o, double mom)
{
    for (int g = 0; g < o->n_groups; g++) o->hyper[g].mom = mom;
}
void optim_set_wd(Optimizer *o, double wd)
{
    for (int g = 0; g < o->n_groups; g++) o->hyper[g].wd = wd;
}

/* Per-param coefficients, computed once per step in double:
 *   c[0] = weight-decay factor (1 − lr·wd, or 1)   c[1] = L2 coefficient (wd or 0)
 *   c[2] = step size (Adam: lr/debias1; SGD: lr)   c[3] = 1/debias2 (Adam)        */
static int param_active(const Param *p)
{
    return p->kind == PARAM_WEIGHT && !p->frozen;
}

static void adam_chunk(const Optimizer *o, const OptChunk *c)
{
    const Param *p = &o->params[c->param];
    const OptHyper *h = &o->hyper[p->group];
    const double *k = &o->coef[4 * c->param];
    const float decay = (float)k[0], l2 = (float)k[1], step = (float)k[2], idb2 = (float)k[3];
    const float mom = (float)h->mom, m1 = (float)(1 - h->mom);
    const float sq = (float)h->sqr_mom, s1 = (float)(1 - h->sqr_mom), eps = (float)h->eps;
    float *w = p->w + c->start;
    const float *g = p->g + c->start;
    float *ga = o->grad_avg[c->param] + c->start, *sa = o->sqr_avg[c->param] + c->start;
    int64_t i = 0;
#ifdef __AVX512F__
    /* The same operations in the same order as the scalar loop below (IEEE
     * division and square root, no fused multiply-add), 16 lanes at a time:
     * bit-identical results.  GCC does not vectorise sqrtf without
     * -fno-math-errno, and the dense sweep over every embedding row is what a
     * collab training step spends its time on. */
    {
        const __m512 vl2 = _mm512_set1_ps(l2), vdec = _mm512_set1_ps(decay), vmom = _mm512_set1_ps(mom);
        const __m512 vm1 = _mm512_set1_ps(m1), vsq = _mm512_set1_ps(sq), vs1 = _mm512_set1_ps(s1);
        const __m512 vidb2 = _mm512_set1_ps(idb2), veps = _mm512_set1_ps(eps), vstep = _mm512_set1_ps(step);
        for (; i + 16 <= c->len; i += 16) {
            __m512 wv = _mm512_loadu_ps(w + i);
            __m512 gi = _mm512_add_ps(_mm512_loadu_ps(g + i), _mm512_mul_ps(vl2, wv));
            __m512 wi = _mm512_mul_ps(wv, vdec);
            __m512 a = _mm512_add_ps(_mm512_mul_ps(vmom, _mm512_loadu_ps(ga + i)), _mm512_mul_ps(vm1, gi));
            __m512 s = _mm512_add_ps(_mm512_mul_ps(vsq, _mm512_loadu_ps(sa + i)),
                                     _mm512_mul_ps(_mm512_mul_ps(vs1, gi), gi));
            _mm512_storeu_ps(ga + i, a);
            _mm512_storeu_ps(sa + i, s);
            __m512 den = _mm512_add_ps(_mm512_sqrt_ps(_mm512_mul_ps(s, vidb2)), veps);
            _mm512_storeu_ps(w + i, _mm512_sub_ps(wi, _mm512_div_ps(_mm512_mul_ps(vstep, a), den)));
        }
    }
#endif
    for (; i < c->len; i++) {
        float gi = g[i] + l2 * w[i];
        float wi = w[i] * decay;
        float a = mom * ga[i] + m1 * gi;
        float s = sq * sa[i] + s1 * gi * gi;
        ga[i] = a, sa[i] = s;
        w[i] = wi - step * a / (sqrtf(s * idb2) + eps);
    }
}

static void sgd_chunk(const Optimizer *o, const OptChunk *c)
{
    const Param *p = &o->params[c->param];
    const OptHyper *h = &o->hyper[p->group];
    const double *k = &o->coef[4 * c->param];
    const float decay = (float)k[0], l2 = (float)k[1], lr = (float)k[2], mom = (float)h->mom;
    float *w = p->w + c->start;
    const float *g = p->g + c->start;
    if (o->sgd_mom) {
        float *ga = o->grad_avg[c->param] + c->start;
        for (int64_t i = 0; i < c->len; i++) {
            float gi = g[i] + l2 * w[i];
            float a = mom * ga[i] + gi;
            ga[i] = a;
            w[i] = w[i] * decay - lr * a;
        }
    } else {
        for (int64_t i = 0; i < c->len; i++) w[i] = w[i] * decay - lr * (g[i] + l2 * w[i]);
    }
}

/* ---- lazy rows (optim.h) --------------------------------------------------------
 *
 * One element, one step, in this order of float operations (no fused
 * multiply-add: the vector code below does the same operations lane by lane,
 * so the scalar and vector forms agree bit for bit).  The eager sweep and a
 * touched row's step use it; row_replay is its closed form for g = 0:
 *     a' = mom·a;  if g ≠ 0: a' = a' + m1·g
 *     r' = g ≠ 0 ? sqrt(sq·(r·r) + (s1·g)·g) : r·rsq
 *     w' = w·dec − (step·a') / (r'·c + eps)                                      */
static inline void row_elem(float *w, float *a, float *r, float g, const OptRowStep *k)
{
    float a2 = k->mom * *a;
    float r2;
    if (g != 0) {
        a2 = a2 + k->m1 * g;
        r2 = sqrtf(k->sq * (*r * *r) + k->s1 * g * g);
    } else {
        r2 = *r * k->rsq;
    }
    *a = a2, *r = r2;
    *w = *w * k->dec - k->step * a2 / (r2 * k->c + k->eps);
}

#ifdef __AVX512F__
typedef struct RowVec {
    __m512 dec, mom, m1, sq, s1, rsq, step, c, eps;
} RowVec;

static inline RowVec row_vec(const OptRowStep *k)
{
    RowVec v = {_mm512_set1_ps(k->dec), _mm512_set1_ps(k->mom), _mm512_set1_ps(k->m1), _mm512_set1_ps(k->sq),
                _mm512_set1_ps(k->s1), _mm512_set1_ps(k->rsq), _mm512_set1_ps(k->step), _mm512_set1_ps(k->c),
                _mm512_set1_ps(k->eps)};
    return v;
}

/* 16 lanes of row_elem with g = 0 (a replayed step) */
static inline void row_vec_idle(__m512 *w, __m512 *a, __m512 *r, const RowVec *k)
{
    *a = _mm512_mul_ps(k->mom, *a);
    *r = _mm512_mul_ps(*r, k->rsq);
    __m512 den = _mm512_add_ps(_mm512_mul_ps(*r, k->c), k->eps);
    *w = _mm512_sub_ps(_mm512_mul_ps(*w, k->dec), _mm512_div_ps(_mm512_mul_ps(k->step, *a), den));
}

/* 16 lanes of row_elem, g given */
static inline void row_vec_grad(__m512 *w, __m512 *a, __m512 *r, __m512 g, const RowVec *k)
{
    __mmask16 nz = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    if (!nz) {
        row_vec_idle(w, a, r, k);
        return;
    }
    __m512 a2 = _mm512_mul_ps(k->mom, *a);
    a2 = _mm512_mask_add_ps(a2, nz, a2, _mm512_mul_ps(k->m1, g));
    __m512 s = _mm512_add_ps(_mm512_mul_ps(k->sq, _mm512_mul_ps(*r, *r)), _mm512_mul_ps(_mm512_mul_ps(k->s1, g), g));
    __m512 r2 = _mm512_mask_sqrt_ps(_mm512_mul_ps(*r, k->rsq), nz, s);
    *a = a2, *r = r2;
    __m512 den = _mm512_add_ps(_mm512_mul_ps(r2, k->c), k->eps);
    *w = _mm512_sub_ps(_mm512_mul_ps(*w, k->dec), _mm512_div_ps(_mm512_mul_ps(k->step, a2), den));
}

static inline __mmask16 tail_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : (__mmask16)0;
}
#endif

/* The eager sweep of a lazy-rows param over one chunk (every element, g read). */
static void rows_chunk(const Optimizer *o, const OptChunk *c)
{
    const Param *p = &o->params[c->param];
    const OptRowStep *k = &o->lazy[c->param].cur;
    float *w = p->w + c->start, *a = o->grad_avg[c->param] + c->start, *r = o->sqr_avg[c->param] + c->start;
    const float *g = p->g + c->start;
    int64_t i = 0;
#ifdef __AVX512F__
    const RowVec kv = row_vec(k);
    for (; i < c->len; i += 16) {
        __mmask16 m = tail_mask(c->len - i);
        __m512 wv = _mm512_maskz_loadu_ps(m, w + i), av = _mm512_maskz_loadu_ps(m, a + i);
        __m512 rv = _mm512_maskz_loadu_ps(m, r + i);
        row_vec_grad(&wv, &av, &rv, _mm512_maskz_loadu_ps(m, g + i), &kv);
        _mm512_mask_storeu_ps(w + i, m, wv), _mm512_mask_storeu_ps(a + i, m, av), _mm512_mask_storeu_ps(r + i, m, rv);
    }
#endif
    for (; i < c->len; i++) row_elem(w + i, a + i, r + i, g[i], k);
}

/* Catch one row up on log entries [t0, T), where its gradient was zero.  In
 * exact arithmetic, with D, P, R the prefix products of dec, mom and rsq over
 * the log (OptRowPre) and entry t's step size s_t and debias root c_t:
 *     a_T = a·P[T]/P[t0]          r_T = r·R[T]/R[t0]
 *     w_T = D[T]/D[t0]·w − a·D[T]/P[t0] · Σ_t kap_t / (r/R[t0]·rho_t + eps)
 *     kap_t = s_t·P[t+1]/D[t+1]   rho_t = R[t+1]·c_t
 * (each skipped step's w ← dec·w − s·a_t/(r_t·c + eps), unrolled).  The sum
 * takes its terms in pairs over one division, k1/d1 + k2/d2 =
 * (k1·d2 + k2·d1)/(d1·d2) (d ≥ eps: no underflow), 64 lanes at a time held in
 * registers: per weight and missed step one fused multiply-add for d, and
 * half a division. */
#ifdef __AVX512F__
/* row_replay's sum for 256-bit lanes: a row's last 1-8 elements cost half a
 * 512-bit division (50 factors = 3 full vectors + 2 lanes). */
static void replay_tail8(float *w, float *a, float *r, int64_t len, const OptRowPre *pre, float eps, int t0, int T,
                         const float f[5])
{
    const __mmask8 m = (__mmask8)((1u << len) - 1);
    const __m256 veps = _mm256_set1_ps(eps);
    __m256 rt = _mm256_mul_ps(_mm256_maskz_loadu_ps(m, r), _mm256_set1_ps(f[4])), sum = _mm256_setzero_ps();
    int t = t0;
    for (; t + 2 <= T; t += 2) {
        __m256 d1 = _mm256_fmadd_ps(rt, _mm256_set1_ps(pre[t].rho), veps);
        __m256 d2 = _mm256_fmadd_ps(rt, _mm256_set1_ps(pre[t + 1].rho), veps);
        __m256 num = _mm256_fmadd_ps(_mm256_set1_ps(pre[t + 1].kap), d1, _mm256_mul_ps(_mm256_set1_ps(pre[t].kap), d2));
        sum = _mm256_add_ps(sum, _mm256_div_ps(num, _mm256_mul_ps(d1, d2)));
    }
    if (t < T)
        sum = _mm256_add_ps(sum, _mm256_div_ps(_mm256_set1_ps(pre[t].kap), _mm256_fmadd_ps(rt, _mm256_set1_ps(pre[t].rho), veps)));
    __m256 wv = _mm256_maskz_loadu_ps(m, w), av = _mm256_maskz_loadu_ps(m, a), rv = _mm256_maskz_loadu_ps(m, r);
    __m256 sv = _mm256_mul_ps(sum, _mm256_set1_ps(f[3]));
    _mm256_mask_storeu_ps(w, m, _mm256_sub_ps(_mm256_mul_ps(wv, _mm256_set1_ps(f[0])), _mm256_mul_ps(av, sv)));
    _mm256_mask_storeu_ps(a, m, _mm256_mul_ps(av, _mm256_set1_ps(f[1])));
    _mm256_mask_storeu_ps(r, m, _mm256_mul_ps(rv, _mm256_set1_ps(f[2])));
}
#endif

static void row_replay(float *w, float *a, float *r, int64_t len, const OptRowPre *pre, float eps, int t0, int T)
{
    const float fw = (float)(pre[T].dc / pre[t0].dc), fa = (float)(pre[T].pc / pre[t0].pc);
    const float fr = (float)(pre[T].rc / pre[t0].rc), fs = (float)(pre[T].dc / pre[t0].pc);
    const float ir = (float)(1 / pre[t0].rc);
#ifdef __AVX512F__
    const __m512 veps = _mm512_set1_ps(eps);
    const int64_t tail = len % 16 && len % 16 <= 8 ? len % 16 : 0;
    if (tail) {
        const float f[5] = {fw, fa, fr, fs, ir};
        replay_tail8(w + len - tail, a + len - tail, r + len - tail, tail, pre, eps, t0, T, f);
        len -= tail;
    }
    for (int64_t j = 0; j < len; j += 64) {
        __mmask16 m[4];
        __m512 Rt[4], S[4];
        for (int v = 0; v < 4; v++) {
            m[v] = tail_mask(len - j - 16 * v);
            Rt[v] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m[v], r + j + 16 * v), _mm512_set1_ps(ir));
            S[v] = _mm512_setzero_ps();
        }
        int t = t0;
        for (; t + 2 <= T; t += 2) {
            const __m512 k1 = _mm512_set1_ps(pre[t].kap), k2 = _mm512_set1_ps(pre[t + 1].kap);
            const __m512 q1 = _mm512_set1_ps(pre[t].rho), q2 = _mm512_set1_ps(pre[t + 1].rho);
            for (int v = 0; v < 4; v++) {
                if (!m[v]) continue;
                __m512 d1 = _mm512_fmadd_ps(Rt[v], q1, veps), d2 = _mm512_fmadd_ps(Rt[v], q2, veps);
                __m512 num = _mm512_fmadd_ps(k2, d1, _mm512_mul_ps(k1, d2));
                S[v] = _mm512_add_ps(S[v], _mm512_div_ps(num, _mm512_mul_ps(d1, d2)));
            }
        }
        if (t < T) {
            const __m512 k1 = _mm512_set1_ps(pre[t].kap), q1 = _mm512_set1_ps(pre[t].rho);
            for (int v = 0; v < 4; v++)
                if (m[v]) S[v] = _mm512_add_ps(S[v], _mm512_div_ps(k1, _mm512_fmadd_ps(Rt[v], q1, veps)));
        }
        for (int v = 0; v < 4; v++) {
            if (!m[v]) continue;
            float *wp = w + j + 16 * v, *ap = a + j + 16 * v, *rp = r + j + 16 * v;
            __m512 wv = _mm512_maskz_loadu_ps(m[v], wp), av = _mm512_maskz_loadu_ps(m[v], ap);
            __m512 rv = _mm512_maskz_loadu_ps(m[v], rp);
            __m512 sv = _mm512_mul_ps(S[v], _mm512_set1_ps(fs));
            _mm512_mask_storeu_ps(wp, m[v], _mm512_sub_ps(_mm512_mul_ps(wv, _mm512_set1_ps(fw)), _mm512_mul_ps(av, sv)));
            _mm512_mask_storeu_ps(ap, m[v], _mm512_mul_ps(av, _mm512_set1_ps(fa)));
            _mm512_mask_storeu_ps(rp, m[v], _mm512_mul_ps(rv, _mm512_set1_ps(fr)));
        }
    }
#else
    for (int64_t e = 0; e < len; e++) {
        const float rt = r[e] * ir;
        float sum = 0;
        for (int t = t0; t < T; t++) sum += pre[t].kap / (rt * pre[t].rho + eps);
        w[e] = w[e] * fw - a[e] * (sum * fs);
        a[e] *= fa, r[e] *= fr;
    }
#endif
}

/* The current step with its gradient on one row (already up to date). */
static void row_grad(float *w, float *a, float *r, const float *g, int64_t len, const OptRowStep *k)
{
    int64_t i = 0;
#ifdef __AVX512F__
    const RowVec kv = row_vec(k);
    for (; i < len; i += 16) {
        __mmask16 m = tail_mask(len - i);
        __m512 wv = _mm512_maskz_loadu_ps(m, w + i), av = _mm512_maskz_loadu_ps(m, a + i);
        __m512 rv = _mm512_maskz_loadu_ps(m, r + i);
        row_vec_grad(&wv, &av, &rv, _mm512_maskz_loadu_ps(m, g + i), &kv);
        _mm512_mask_storeu_ps(w + i, m, wv), _mm512_mask_storeu_ps(a + i, m, av), _mm512_mask_storeu_ps(r + i, m, rv);
    }
#endif
    for (; i < len; i++) row_elem(w + i, a + i, r + i, g[i], k);
}

/* Bring row `row` of lazy param i up to the end of its log. */
static void row_catch_up(Optimizer *o, int i, int64_t row)
{
    OptRows *z = &o->lazy[i];
    if (z->done[row] >= z->n_log) return;
    const int64_t off = row * z->row_len;
    row_replay(o->params[i].w + off, o->grad_avg[i] + off, o->sqr_avg[i] + off, z->row_len, z->pre, z->log[0].eps,
               z->done[row], z->n_log);
    z->done[row] = z->n_log;
}

static void rows_flush(Optimizer *o, int i)
{
    OptRows *z = &o->lazy[i];
    if (z->n_log == 0) return;
    for (int64_t row = 0; row < z->n_rows; row++) row_catch_up(o, i, row);
    z->n_log = 0;
    memset(z->done, 0, sizeof *z->done * (size_t)z->n_rows);
}

/* Append one step to the log of a lazy param, with its prefix products. */
static void log_push(OptRows *z, const OptRowStep *c)
{
    OptRowPre *p0 = &z->pre[z->n_log], *p1 = p0 + 1;
    p1->dc = p0->dc * c->dec, p1->pc = p0->pc * c->mom, p1->rc = p0->rc * sqrt((double)c->sq);   /* not the float rsq: no drift over the log */
    p0->kap = (float)(c->step * p1->pc / p1->dc), p0->rho = (float)(p1->rc * c->c);
    z->log[z->n_log++] = *c;
}

const OptRowStep *optim_lazy_log(const Optimizer *o, int i, int *n_log, const int32_t **done, int64_t *n_rows)
{
    const OptRows *z = &o->lazy[i];
    *n_log = z->row_len ? z->n_log : 0;
    *done = z->row_len ? z->done : NULL;
    *n_rows = z->row_len ? z->n_rows : 0;
    return z->row_len ? z->log : NULL;
}

int optim_lazy_restore(Optimizer *o, int i, const OptRowStep *log, int n_log, const int32_t *done)
{
    OptRows *z = &o->lazy[i];
    if (!z->row_len || n_log < 0 || n_log > OPTIM_LOG_CAP) return -1;
    for (int64_t r = 0; r < z->n_rows; r++)
        if (done[r] < 0 || done[r] > n_log) return -1;
    z->n_log = 0;
    for (int t = 0; t < n_log; t++) log_push(z, &log[t]);
    memcpy(z->done, done, sizeof *z->done * (size_t)z->n_rows);
    o->prepared = 0;
    return 0;
}

/* FTZ/DAZ while the optimizer works (see optim_step); returns the old MXCSR. */
static unsigned ftz_on(void)
{
#if defined(__SSE__)
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
    return csr;
#else
    return 0;
#endif
}

static void ftz_off(unsigned csr)
{
#if defined(__SSE__)
    _mm_setcsr(csr);
#else
    (void)csr;
#endif
}

void optim_flush(Optimizer *o)
{
    o->prepared = 0;
    if (!o->n_lazy) return;
    unsigned csr = ftz_on();
    for (int i = 0; i < o->n_params; i++)
        if (o->lazy[i].row_len) rows_flush(o, i);
    ftz_off(csr);
}

typedef struct BatchRowsCtx {
    Model *m;
    const Batch *b;
} BatchRowsCtx;

static int model_rows(void *ctx, int param, const int32_t **rows)
{
    BatchRowsCtx *c = ctx;
    return c->m->batch_rows(c->m, c->b, param, rows);
}

void optim_prepare(Optimizer *o, Model *m, const Batch *b)
{
    o->prepared = 0;
    if (!o->n_lazy || !m->batch_rows) return;
    BatchRowsCtx c = {m, b};
    optim_prepare_rows(o, model_rows, &c);
}

void optim_prepare_rows(Optimizer *o, int (*rows_of)(void *ctx, int param, const int32_t **rows), void *ctx)
{
    o->prepared = 0;
    if (!o->n_lazy) return;
    for (int i = 0; i < o->n_params; i++) {
        OptRows *z = &o->lazy[i];
        if (!z->row_len) continue;
        const int32_t *rows;
        int n = rows_of(ctx, i, &rows);
        if (n < 0) return;
        if (n > z->cap) {
            int32_t *q = realloc(z->rows, sizeof *q * (size_t)n);
            if (!q) return;
            z->rows = q, z->cap = n;
        }
        for (int k = 0; k < n; k++)
            if (rows[k] < 0 || rows[k] >= z->n_rows) return;   /* the forward will report it */
        memcpy(z->rows, rows, sizeof *rows * (size_t)n);
        /* A batch naming a quarter of the rows or more (bs 1024 on MovieLens 100k) leaves
         * little to defer: each row would replay about one step and then take the
         * gradient step anyway, slower than the sweep.  This step sweeps the param. */
        z->n_batch = (int64_t)n * 4 > z->n_rows ? -1 : n;
    }
    unsigned csr = ftz_on();
    for (int i = 0; i < o->n_params; i++) {
        OptRows *z = &o->lazy[i];
        if (z->row_len && z->n_batch < 0) rows_flush(o, i);
        for (int k = 0; z->row_len && k < z->n_batch; k++) row_catch_up(o, i, z->rows[k]);
    }
    ftz_off(csr);
    o->prepared = 1;
}

void optim_step(Optimizer *o)
{
    const int lazy = o->prepared;
    if (!lazy) optim_flush(o);
    o->prepared = 0;
    for (int i = 0; i < o->n_params; i++) {
        const Param *p = &o->params[i];
        if (!param_active(p)) continue;
        const OptHyper *h = &o->hyper[p->group];
        double *k = &o->coef[4 * i];
        int wd_on = !p->no_wd && h->wd != 0;
        k[0] = wd_on && o->decouple_wd ? 1 - h->lr * h->wd : 1;
        k[1] = wd_on && !o->decouple_wd ? h->wd : 0;
        if (o->kind == OPT_ADAM) {
            int64_t t = ++o->step[i];
            k[2] = h->lr / (1 - pow(h->mom, (double)t));
            k[3] = 1 / (1 - pow(h->sqr_mom, (double)t));
        } else {
            o->step[i]++;
            k[2] = h->lr;
            k[3] = 0;
        }
        if (o->lazy[i].row_len) {
            OptRowStep *c = &o->lazy[i].cur;
            c->dec = (float)k[0], c->mom = (float)h->mom, c->m1 = (float)(1 - h->mom);
            c->sq = (float)h->sqr_mom, c->s1 = (float)(1 - h->sqr_mom), c->rsq = (float)sqrt(h->sqr_mom);
            c->step = (float)k[2], c->c = (float)sqrt(k[3]), c->eps = (float)h->eps;
        }
    }
    if (lazy) {
        /* lazy rows: log the step, apply it (with the gradient) to the batch's rows */
        unsigned csr = ftz_on();
        for (int i = 0; i < o->n_params; i++) {
            OptRows *z = &o->lazy[i];
            if (!z->row_len || z->n_batch < 0 || !param_active(&o->params[i])) continue;
            /* a full log, prefix products leaving float's comfortable range, or a new eps: flush */
            const OptRowPre *q = &z->pre[z->n_log];
            if (z->n_log == OPTIM_LOG_CAP || q->dc < 1e-20 || q->pc < 1e-20 || q->rc < 1e-20 ||
                (z->n_log && z->log[0].eps != z->cur.eps))
                rows_flush(o, i);
            log_push(z, &z->cur);
            const Param *p = &o->params[i];
            for (int k = 0; k < z->n_batch; k++) {
                int64_t row = z->rows[k], off = row * z->row_len;
                if (z->done[row] != z->n_log - 1) continue;   /* a repeat, or (never) behind */
                row_grad(p->w + off, o->grad_avg[i] + off, o->sqr_avg[i] + off, p->g + off, z->row_len, &z->cur);
                z->done[row] = z->n_log;
            }
        }
        ftz_off(csr);
    }
    const int n = o->n_chunks;
    /* Flush denormals to zero (FTZ/DAZ) while sweeping the state.  With
     * dense Adam, the moments of rows no batch touches decay geometrically
     * (grad_avg by mom ≈ 0.9 per step) and become denormal after ~800 steps;
     * every vector op on a denormal then takes a microcode assist, which made
     * a collab epoch 25-40% slower.  A denormal moment (< 1.2e-38) moves a
     * weight by ~lr·1e-38/eps ≈ 1e-36, far below the ulp of any weight that is
     * not itself ~1e-28, so the weights come out the same: 5 epochs of
     * DotProductBias training gave bit-identical weights with and without.
     * The control register is per thread, set and restored here. */
#pragma omp parallel num_threads(o->threads) if (o->threads > 1)
    {
        const unsigned csr = ftz_on();
#pragma omp for schedule(static)
        for (int ci = 0; ci < n; ci++) {
            const OptChunk *c = &o->chunks[ci];
            if (!param_active(&o->params[c->param])) continue;
            if (o->lazy[c->param].row_len) {
                if (!lazy || o->lazy[c->param].n_batch < 0) rows_chunk(o, c);
            } else if (o->kind == OPT_ADAM) {
                adam_chunk(o, c);
            } else {
                sgd_chunk(o, c);
            }
        }
        ftz_off(csr);
    }
}
