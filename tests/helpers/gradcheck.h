/* gradcheck.h — finite-difference gradient checks for the nn suites.
 *
 * A check turns a layer into a scalar L = Σ_k r_k·y_k (r random, fixed) so the
 * analytic gradient is the layer's backward with dout = r.  The numeric one is
 * the central difference (L(x+h) − L(x−h)) / 2h, with L summed in double. */
#ifndef FASTC_GRADCHECK_H
#define FASTC_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

/* Runs the forward pass on the current inputs and returns L in double. */
typedef double (*gc_loss_fn)(void *ctx);

/* Largest |numeric − analytic| / max(|numeric|, rms(analytic), floor) over
 * `samples` indices of x (all of them when samples >= n), spread over x. */
double gc_max_err(gc_loss_fn f, void *ctx, float *x, const float *analytic, size_t n,
                  size_t samples, float h, double floor);

/* Fill a with values from N(0, scale) (never exactly zero), deterministic in seed. */
void gc_randn(float *a, size_t n, uint64_t seed, float scale);
/* Σ r_k·y_k in double. */
double gc_dot(const float *r, const float *y, size_t n);

#endif
