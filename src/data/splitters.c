/* splitters.c — see splitters.h. */
#include "data/splitters.h"

#include "core/rng.h"
#include "data/labels.h"

#include <stdlib.h>
#include <string.h>

/* The stream id that keeps the split independent of every other use of the seed. */
#define SPLIT_STREAM 0x53504c4954ULL  /* "SPLIT" */

void split_random(int n, double valid_pct, uint64_t seed, int8_t *is_valid)
{
    if (n <= 0) return;
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n);
    FASTC_ASSERT(perm != NULL);
    for (int i = 0; i < n; i++) perm[i] = i;
    Rng r = rng_make(seed, SPLIT_STREAM);
    rng_shuffle_i32(&r, perm, n);
    int cut = (int)(valid_pct * n);  /* int() truncates, as in fastai */
    if (cut > n) cut = n;
    for (int i = 0; i < n; i++) is_valid[perm[i]] = i < cut;
    free(perm);
}

void split_grandparent(char *const *paths, int n, const char *train_name, const char *valid_name,
                       int8_t *is_valid)
{
    char gp[512];
    for (int i = 0; i < n; i++) {
        label_grandparent(paths[i], gp, sizeof gp);
        is_valid[i] = strcmp(gp, valid_name) == 0 ? 1 : strcmp(gp, train_name) == 0 ? 0 : -1;
    }
}

void split_parent_name(char *const *paths, int n, const char *name, int8_t *is_valid)
{
    char par[512];
    for (int i = 0; i < n; i++) is_valid[i] = strcmp(label_parent(paths[i], par, sizeof par), name) == 0;
}

int split_col(const CsvTable *t, int col, const int *rows, int n, int8_t *is_valid, Err *err)
{
    for (int i = 0; i < n; i++) {
        int v;
        const char *cell = csv_cell(t, rows[i], col);
        if (label_parse_bool(cell, &v))
            return err_set(err, ERR_RUNTIME, "%s:%d: ColSplitter('%s'): '%s' is not true/false, True/False or 1/0",
                           t->path, t->lines[rows[i]], t->names ? t->names[col] : "?", cell);
        is_valid[i] = (int8_t)v;
    }
    return 0;
}
