/* embedding.c — table lookup and its scatter-add gradient (see embedding.h). */
#include "nn/embedding.h"

#include <string.h>

int embedding_check(const int32_t *idx, int n, int rows)
{
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= rows) return i;
    return -1;
}

void embedding_forward(float *out, const float *table, const int32_t *idx, int n, int d)
{
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * d, table + (size_t)idx[i] * d, sizeof(float) * d);
}

void embedding_backward(float *dtable, const float *dout, const int32_t *idx, int n, int d)
{
    /* sequential in item order: repeated indices always sum in the same order */
    for (int i = 0; i < n; i++) {
        float *dt = dtable + (size_t)idx[i] * d;
        const float *g = dout + (size_t)i * d;
        for (int j = 0; j < d; j++) dt[j] += g[j];
    }
}
