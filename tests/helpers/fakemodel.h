/* fakemodel.h — a tiny Model with fastai-style parameter names and no forward,
 * for tests of code that only handles parameters (saving, loading, state):
 *   0.0.weight [8, n_in, 3, 3] OHWI, 0.1.{weight,bias,running_mean,running_var,
 *   num_batches_tracked}, 0.4.0.conv1.weight [8, 8, 3, 3] OHWI,
 *   1.2.{weight,num_batches_tracked}, 1.8.weight [n_out, 8].
 * Values are random normals from `seed`; counters are 100 + index + seed. */
#ifndef FASTC_FAKEMODEL_H
#define FASTC_FAKEMODEL_H

#include "models/model.h"

typedef struct Fake {
    Model m;
    Param p[16];
} Fake;

Fake *fake_new(const char *arch, int n_in, int n_out, uint64_t seed);
void fake_free(Fake *f);
/* 1 when every parameter's values are bit-identical. */
int fake_same(const Fake *a, const Fake *b, const char **first_diff);

#endif
