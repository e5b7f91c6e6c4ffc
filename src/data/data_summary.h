/* data_summary.h — the data half of `fastc summary`: item counts per split,
 * batches, the vocab, one batch's shapes and the first training item as
 * fastai's `dsets.train[0]` prints it, for image and collab configs. */
#ifndef FASTC_DATA_SUMMARY_H
#define FASTC_DATA_SUMMARY_H

#include "core/ctx.h"
#include "core/err.h"

#include <stdio.h>

typedef struct Config Config;

/* Build the config's data (no training) and print its summary to out. */
int data_summary_print(FILE *out, const Config *cfg, const Ctx *ctx, Err *err);

#endif
