/* warnings.h — what a run says about its data: the items `on_bad_item = skip`
 * left out, each with its reason ("...: not a JPEG or PNG image (looks like
 * GIF)", "...: truncated JPEG", "...: empty file"), and how many in all.
 *
 * These are warnings about the user's data, not progress: they go to the
 * stream given (stderr), with --quiet as without it, so a quiet run never
 * hides that it trained on less than it was given.
 */
#ifndef FASTC_DATA_WARNINGS_H
#define FASTC_DATA_WARNINGS_H

#include "data/dataset.h"
#include "data/loader.h"

#include <stdio.h>

/* Items the data block left out (unlabelled, no points row, label outside the
 * vocab), one line each: say them before training starts.  ds may be NULL. */
void data_warn_build_skips(FILE *out, const Dataset *ds);
/* Files the loaders could not read (decode errors), one line each, then the
 * count of every item left out, when there is any.  Either may be NULL. */
void data_warn_load_skips(FILE *out, const Dataset *ds, const Loaders *l);

#endif
