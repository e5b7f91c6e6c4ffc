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
