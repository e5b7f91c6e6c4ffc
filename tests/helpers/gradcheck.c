/* gradcheck.c — see gradcheck.h. */
#include "gradcheck.h"

#include "core/rng.h"

#include <math.h>

void gc_randn(float *a, size_t n, uint64_t seed, float scale)
{
    Rng r = rng_make(seed, 77);
    for (size_t i = 0; i < n; i++) {
        float v = (float)rng_normal(&r) * scale;
        a[i] = v == 0.0f ? 1e-3f * scale : v;
    }
}

double gc_dot(const float *r, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)r[i] * y[i];
    return s;
}

double gc_max_err(gc_loss_fn f, void *ctx, float *x, const float *analytic, size_t n,
                  size_t samples, float h, double floor)
{
    double rms = 0;
    for (size_t i = 0; i < n; i++) rms += (double)analytic[i] * analytic[i];
    rms = sqrt(rms / (n ? n : 1));
    if (samples > n) samples = n;
    size_t stride = samples ? n / samples : 1;
    double worst = 0;
    for (size_t s = 0; s < samples; s++) {
        size_t i = s * stride + (s * 7919) % (stride ? stride : 1);
        if (i >= n) i = n - 1;
        float x0 = x[i], xp = x0 + h, xm = x0 - h;
        x[i] = xp;
        double lp = f(ctx);
        x[i] = xm;
        double lm = f(ctx);
        x[i] = x0;
        double num = (lp - lm) / ((double)xp - (double)xm);
        double den = fmax(fmax(fabs(num), rms), floor);
        double e = fabs(num - analytic[i]) / den;
        if (e > worst) worst = e;
    }
    return worst;
}
