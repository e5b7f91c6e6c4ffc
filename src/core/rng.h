/* rng.h — deterministic random numbers.
 *
 * Two kinds, both reproducible on every machine:
 *  - a counter-based generator: rng_hash(seed, stream, counter) is a pure function
 *    (SplitMix64-style mixing).  Shuffling, augmentation and dropout key it by
 *    (seed, epoch, item/step), so results never depend on thread count or order.
 *  - a sequential stream (Rng) for weight initialisation and similar one-pass work.
 * No global state: callers own their Rng.
 */
#ifndef FASTC_RNG_H
#define FASTC_RNG_H

#include <stdint.h>

/* Pure 64-bit hash of (seed, stream, counter). */
uint64_t rng_hash(uint64_t seed, uint64_t stream, uint64_t counter);

/* The same hash in two steps, for loops over many counters of one (seed,
 * stream): rng_hash_at(rng_hash_key(seed, stream), counter) ==
 * rng_hash(seed, stream, counter), with the per-counter part inlined. */
uint64_t rng_hash_key(uint64_t seed, uint64_t stream);
static inline uint64_t rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline uint64_t rng_hash_at(uint64_t key, uint64_t counter)
{
    return rng_mix64(key ^ (counter * 0x9e3779b97f4a7c15ULL + 0x8cb92ba72f3d8dd7ULL));
}

typedef struct Rng {
    uint64_t seed, stream, counter;
} Rng;

Rng      rng_make(uint64_t seed, uint64_t stream);
uint64_t rng_u64(Rng *r);
double   rng_uniform(Rng *r);              /* [0, 1), 53 random bits */
float    rng_uniformf(Rng *r);             /* [0, 1), 24 random bits */
double   rng_normal(Rng *r);               /* N(0, 1), Box-Muller, one value per call */
uint64_t rng_below(Rng *r, uint64_t n);    /* uniform in [0, n), unbiased; n > 0 */
/* Fisher-Yates shuffle of perm[0..n) in place. */
void     rng_shuffle_i32(Rng *r, int32_t *perm, int64_t n);

#endif
