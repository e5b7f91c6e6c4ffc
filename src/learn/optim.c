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
    if (!o->hyper || !o->grad_avg || !o->sqr_avg || !o->step || !o->coef) goto oom;
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
    free(o);
}

void optim_clear_state(Optimizer *o)
{
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

void optim_step(Optimizer *o)
{
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
#if defined(__SSE__)
        const unsigned csr = _mm_getcsr();
        _mm_setcsr(csr | 0x8040);   /* FTZ (bit 15) | DAZ (bit 6) */
#endif
#pragma omp for schedule(static)
        for (int ci = 0; ci < n; ci++) {
            const OptChunk *c = &o->chunks[ci];
            if (!param_active(&o->params[c->param])) continue;
            if (o->kind == OPT_ADAM) adam_chunk(o, c);
            else sgd_chunk(o, c);
        }
#if defined(__SSE__)
        _mm_setcsr(csr);
#endif
    }
}
