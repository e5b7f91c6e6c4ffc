/* embedding.h — table lookup.
 *   out[n, d] = table[idx[n], :]
 *   dtable[idx[n], :] += dout[n, :]   (repeated indices accumulate, in item order)
 * Indices must be in [0, rows): callers validate inputs (embedding_check). */
#ifndef FASTC_NN_EMBEDDING_H
#define FASTC_NN_EMBEDDING_H

#include <stdint.h>

/* Index of the first out-of-range entry, or -1 when all are in [0, rows). */
int embedding_check(const int32_t *idx, int n, int rows);
void embedding_forward(float *out, const float *table, const int32_t *idx, int n, int d);
void embedding_backward(float *dtable, const float *dout, const int32_t *idx, int n, int d);

#endif
