/* warnings.c — see warnings.h. */
#include "data/warnings.h"

void data_warn_build_skips(FILE *out, const Dataset *ds)
{
    for (int i = 0; ds && i < ds->n_skipped; i++) fprintf(out, "warning: skipped (on_bad_item = skip): %s\n", ds->skipped[i]);
}

void data_warn_load_skips(FILE *out, const Dataset *ds, const Loaders *l)
{
    int built = ds ? ds->n_skipped : 0, loaded = l ? l->n_skipped : 0;
    for (int i = 0; i < loaded; i++)
        fprintf(out, "warning: skipped (on_bad_item = skip, could not be read): %s\n", l->skipped[i]);
    if (built + loaded == 0) return;
    fprintf(out, "warning: %d item%s left out (on_bad_item = skip): %d while building the data, %d unreadable\n",
            built + loaded, built + loaded == 1 ? "" : "s", built, loaded);
}
