/* data_summary.c — see data_summary.h. */
#include "data/data_summary.h"

#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

static void print_splits(FILE *out, const Loaders *l, int val_bs)
{
    for (int s = 0; s < 2; s++) {
        int n = loaders_n_items(l, s), nb = loaders_n_batches(l, s), bs = s ? val_bs : l->bs;
        fprintf(out, "  %-6s %d items, %d batches", s ? "valid:" : "train:", n, nb);
        if (s == SPLIT_TRAIN)
            fprintf(out, " of %d (shuffled, drop_last%s)\n", bs, n % bs ? "" : "; nothing dropped");
        else
            fprintf(out, " of %d (in order%s)\n", bs, n % bs ? ", the last one short" : "");
    }
}

static const char *kind_name(TargetKind k)
{
    switch (k) {
    case TARGET_CATEGORY: return "TensorCategory";
    case TARGET_MULTI: return "TensorMultiCategory";
    case TARGET_POINTS: return "TensorPoint";
    default: return "rating";
    }
}

int data_summary_image(FILE *out, const DbSpec *db, const ImageLoaderOpts *opts, Err *err)
{
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    Loaders *l = NULL;
    int rc = datablock_build_spec(db, &ds, err);
    if (rc) return rc;
    ImageLoaderOpts o = *opts;
    o.cache_bytes = 0;
    o.n_workers = 1;
    if ((rc = image_loaders_new_opts(&l, &o, &ds, err))) goto done;
    ImageLoaderStats st;
    image_loaders_stats(l, &st);
    fprintf(out, "Data (%s)\n", kind_name(ds.kind));
    fprintf(out, "  items: %d (train %d, valid %d)\n", ds.n_items, ds.n_train, ds.n_valid);
    print_splits(out, l, o.val_bs > 0 ? o.val_bs : o.bs);
    if (ds.kind != TARGET_POINTS) {
        fprintf(out, "  vocab (%d): ", ds.n_vocab);
        for (int v = 0; v < ds.n_vocab; v++) {
            if (v == 30 && ds.n_vocab > 32) {
                fprintf(out, ", ... (%d more)", ds.n_vocab - 30);
                break;
            }
            fprintf(out, "%s%s", v ? ", " : "", ds.vocab[v]);
        }
        fputc('\n', out);
    } else {
        fprintf(out, "  points per item: %d\n", ds.n_y / 2);
    }
    int bs = o.bs;
    fprintf(out, "  batch: x [%d, %d, %d, %d] float32 (NHWC)", bs, st.h, st.w, st.c);
    if (ds.kind == TARGET_CATEGORY)
        fprintf(out, ", y [%d] int32\n", bs);
    else
        fprintf(out, ", y [%d, %d] float32\n", bs, ds.n_y);
    char item[512];
    if ((rc = image_item_describe(&ds, o.channels, item, sizeof item, err))) goto done;
    fprintf(out, "  dsets.train[0]: %s\n", item);
    if (ds.n_skipped) fprintf(out, "  skipped while building the data: %d items\n", ds.n_skipped);
done:
    loaders_free(l);
    dataset_free(&ds);
    return rc;
}

int data_summary_collab(FILE *out, const RatingsSpec *spec, int bs, int val_bs, uint64_t seed, Err *err)
{
    Loaders *l = NULL;
    RatingsData *d = NULL;
    int rc = ratings_loaders_new(&l, spec, bs, val_bs, seed, &d, err);
    if (rc) return rc;
    fprintf(out, "Data (collab)\n");
    fprintf(out, "  ratings: %lld (train %lld, valid %lld)\n", (long long)d->n, (long long)d->n_train,
            (long long)d->n_valid);
    print_splits(out, l, l->bs);
    fprintf(out, "  users: %d, items: %d (each with '#na#' at index 0)\n", d->n_users, d->n_items);
    fprintf(out, "  batch: user [%d] int32, item [%d] int32, y [%d] float32\n", l->bs, l->bs, l->bs);
    if (d->n_train > 0) {
        int64_t r = d->train_idx[0];
        fprintf(out, "  dsets.train[0]: user %s, item %s, rating %g\n", d->user_ids[d->user[r]],
                ratings_item_label(d, d->item[r]), d->rating[r]);
    }
    loaders_free(l);
    return 0;
}
