/* dropout.c — inverted dropout keyed by a counter RNG (see dropout.h). */
#include "nn/dropout.h"

#include "core/rng.h"

int dropout_keep(uint64_t key, uint64_t stream, size_t i, float p)
{
    float u = (float)(rng_hash(key, stream, i) >> 40) * 0x1.0p-24f;
    return u >= p;
}

void dropout_forward(float *out, const float *in, size_t n, float p, uint64_t key, uint64_t stream)
{
    if (p <= 0.0f) {
        if (out != in)
            for (size_t i = 0; i < n; i++) out[i] = in[i];
        return;
    }
    float scale = 1.0f / (1.0f - p);
    const uint64_t k = rng_hash_key(key, stream);   /* the loop-invariant part of the hash */
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float u = (float)(rng_hash_at(k, i) >> 40) * 0x1.0p-24f;   /* as dropout_keep */
        out[i] = u >= p ? in[i] * scale : 0.0f;
    }
}

void dropout_backward(float *din, const float *dout, size_t n, float p, uint64_t key, uint64_t stream)
{
    dropout_forward(din, dout, n, p, key, stream);   /* the same mask and scale */
}
