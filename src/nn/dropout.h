/* dropout.h — inverted dropout with a keyed counter RNG (core/rng.h).
 *
 * Element i is kept when rng_hash(key, stream, i) maps to a uniform u ≥ p; kept
 * elements are scaled by 1/(1−p):  y = x·mask/(1−p),  dx = dy·mask/(1−p).
 * The mask is a pure function of (key, stream, i): nothing is stored, backward
 * recomputes it, and the result does not depend on the thread count.  Off in
 * eval (the caller just skips it) and for p = 0.
 */
#ifndef FASTC_NN_DROPOUT_H
#define FASTC_NN_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

/* Whether element i is kept. */
int dropout_keep(uint64_t key, uint64_t stream, size_t i, float p);
/* out may alias in. */
void dropout_forward(float *out, const float *in, size_t n, float p, uint64_t key, uint64_t stream);
/* din may alias dout. */
void dropout_backward(float *din, const float *dout, size_t n, float p, uint64_t key, uint64_t stream);

#endif
