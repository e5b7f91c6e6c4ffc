/* rng.c — see rng.h. */
#include "core/rng.h"

#include <math.h>

#define mix64 rng_mix64

uint64_t rng_hash_key(uint64_t seed, uint64_t stream)
{
    return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (stream + 0x632be59bd9b4e019ULL));
}

uint64_t rng_hash(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return rng_hash_at(rng_hash_key(seed, stream), counter);
}

Rng rng_make(uint64_t seed, uint64_t stream)
{
    Rng r = {seed, stream, 0};
    return r;
}

uint64_t rng_u64(Rng *r) { return rng_hash(r->seed, r->stream, r->counter++); }

double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

float rng_uniformf(Rng *r) { return (float)(rng_u64(r) >> 40) * 0x1.0p-24f; }

double rng_normal(Rng *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t rng_below(Rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;  /* reject the biased tail */
    uint64_t x;
    do x = rng_u64(r); while (x >= limit);
    return x % n;
}

void rng_shuffle_i32(Rng *r, int32_t *perm, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
