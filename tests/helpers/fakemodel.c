/* fakemodel.c — see fakemodel.h. */
#include "fakemodel.h"

#include "core/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add(Fake *f, const char *name, ParamKind kind, ParamLayout lay, int ndim, const int64_t *shape)
{
    Param *p = &f->p[f->m.n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->layout = lay;
    p->ndim = ndim;
    p->n = 1;
    for (int d = 0; d < ndim; d++) p->shape[d] = shape[d], p->n *= (size_t)shape[d];
    p->w = malloc(p->n * sizeof(float));
}

Fake *fake_new(const char *arch, int n_in, int n_out, uint64_t seed)
{
    Fake *f = calloc(1, sizeof *f);
    snprintf(f->m.info.arch, sizeof f->m.info.arch, "%s", arch);
    f->m.info.n_in = n_in;
    f->m.info.n_out = n_out;
    f->m.params = f->p;
    add(f, "0.0.weight", PARAM_WEIGHT, LAYOUT_OHWI, 4, (int64_t[]){8, n_in, 3, 3});
    add(f, "0.1.weight", PARAM_WEIGHT, LAYOUT_PLAIN, 1, (int64_t[]){8});
    add(f, "0.1.bias", PARAM_WEIGHT, LAYOUT_PLAIN, 1, (int64_t[]){8});
    add(f, "0.1.running_mean", PARAM_BUFFER, LAYOUT_PLAIN, 1, (int64_t[]){8});
    add(f, "0.1.running_var", PARAM_BUFFER, LAYOUT_PLAIN, 1, (int64_t[]){8});
    add(f, "0.1.num_batches_tracked", PARAM_COUNTER, LAYOUT_PLAIN, 0, NULL);
    add(f, "0.4.0.conv1.weight", PARAM_WEIGHT, LAYOUT_OHWI, 4, (int64_t[]){8, 8, 3, 3});
    add(f, "1.2.weight", PARAM_WEIGHT, LAYOUT_PLAIN, 1, (int64_t[]){8});
    add(f, "1.2.num_batches_tracked", PARAM_COUNTER, LAYOUT_PLAIN, 0, NULL);
    add(f, "1.8.weight", PARAM_WEIGHT, LAYOUT_PLAIN, 2, (int64_t[]){n_out, 8});
    Rng r = rng_make(seed, 0);
    for (int i = 0; i < f->m.n_params; i++) {
        Param *p = &f->p[i];
        for (size_t k = 0; k < p->n; k++)
            p->w[k] = p->kind == PARAM_COUNTER ? (float)(100 + i + seed) : (float)rng_normal(&r);
    }
    return f;
}

void fake_free(Fake *f)
{
    if (!f) return;
    for (int i = 0; i < f->m.n_params; i++) free(f->p[i].w);
    free(f);
}

int fake_same(const Fake *a, const Fake *b, const char **first_diff)
{
    if (a->m.n_params != b->m.n_params) return 0;
    for (int i = 0; i < a->m.n_params; i++)
        if (a->p[i].n != b->p[i].n || memcmp(a->p[i].w, b->p[i].w, a->p[i].n * sizeof(float)) != 0) {
            if (first_diff) *first_diff = a->p[i].name;
            return 0;
        }
    return 1;
}
