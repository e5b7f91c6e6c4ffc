/* data_summary.c — see data_summary.h. */
#include "data/data_summary.h"

#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

static void count_splits(DataSummary *s, const Loaders *l, int val_bs)
{
    for (int k = 0; k < 2; k++) s->batches[k] = loaders_n_batches(l, k);
    s->bs[0] = l->bs, s->bs[1] = val_bs;
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

int data_summary_image(DataSummary *s, const DbSpec *db, const ImageLoaderOpts *opts, Err *err)
{
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    memset(s, 0, sizeof *s);
    Loaders *l = NULL;
    int rc = datablock_build_spec(db, &ds, err);
    if (rc) return rc;
    ImageLoaderOpts o = *opts;
    o.cache_bytes = 0;
    o.n_workers = 1;
    if ((rc = image_loaders_new_opts(&l, &o, &ds, err))) goto done;
    ImageLoaderStats st;
    image_loaders_stats(l, &st);
    s->kind = kind_name(ds.kind);
    s->n_items = ds.n_items, s->n_train = ds.n_train, s->n_valid = ds.n_valid;
    count_splits(s, l, o.val_bs > 0 ? o.val_bs : o.bs);
    if (ds.kind == TARGET_POINTS) {
        s->n_points = ds.n_y / 2;
    } else {
        s->vocab = calloc((size_t)ds.n_vocab + 1, sizeof(char *));
        if (!s->vocab) {
            rc = err_set(err, ERR_RUNTIME, "summary: out of memory");
            goto done;
        }
        for (int v = 0; v < ds.n_vocab; v++, s->n_vocab++)
            if (!(s->vocab[v] = strdup(ds.vocab[v]))) {
                rc = err_set(err, ERR_RUNTIME, "summary: out of memory");
                goto done;
            }
    }
    s->x_shape[0] = o.bs, s->x_shape[1] = st.h, s->x_shape[2] = st.w, s->x_shape[3] = st.c;
    s->n_y = ds.kind == TARGET_CATEGORY ? 0 : ds.n_y;
    if ((rc = image_item_describe(&ds, o.channels, s->first, sizeof s->first, err))) goto done;
    s->n_skipped = ds.n_skipped;
done:
    loaders_free(l);
    dataset_free(&ds);
    return rc;
}

int data_summary_collab(DataSummary *s, const RatingsSpec *spec, int bs, int val_bs, uint64_t seed, Err *err)
{
    Loaders *l = NULL;
    RatingsData *d = NULL;
    memset(s, 0, sizeof *s);
    int rc = ratings_loaders_new(&l, spec, bs, val_bs, seed, &d, err);
    if (rc) return rc;
    s->collab = 1;
    s->kind = "collab";
    s->n_items = d->n, s->n_train = d->n_train, s->n_valid = d->n_valid;
    count_splits(s, l, val_bs > 0 ? val_bs : l->bs);
    s->n_users = d->n_users, s->n_items_vocab = d->n_items;
    s->x_shape[0] = l->bs;
    s->n_y = 1;
    if (d->n_train > 0) {
        int64_t r = d->train_idx[0];
        snprintf(s->first, sizeof s->first, "user %s, item %s, rating %g", d->user_ids[d->user[r]],
                 ratings_item_label(d, d->item[r]), d->rating[r]);
    }
    loaders_free(l);
    return 0;
}

void data_summary_free(DataSummary *s)
{
    if (!s) return;
    for (int v = 0; s->vocab && v < s->n_vocab; v++) free(s->vocab[v]);
    free(s->vocab);
    memset(s, 0, sizeof *s);
}

static void print_splits(FILE *out, const DataSummary *s)
{
    for (int k = 0; k < 2; k++) {
        int64_t n = k ? s->n_valid : s->n_train;
        int bs = s->bs[k];
        fprintf(out, "  %-6s %lld items, %d batches", k ? "valid:" : "train:", (long long)n, s->batches[k]);
        if (k == 0)
            fprintf(out, " of %d (shuffled, drop_last%s)\n", bs, n % bs ? "" : "; nothing dropped");
        else
            fprintf(out, " of %d (in order%s)\n", bs, n % bs ? ", the last one short" : "");
    }
}

void data_summary_print(FILE *out, const DataSummary *s)
{
    int bs = s->x_shape[0];
    if (s->collab) {
        fprintf(out, "Data (collab)\n");
        fprintf(out, "  ratings: %lld (train %lld, valid %lld)\n", (long long)s->n_items, (long long)s->n_train,
                (long long)s->n_valid);
        print_splits(out, s);
        fprintf(out, "  users: %d, items: %d (each with '#na#' at index 0)\n", s->n_users, s->n_items_vocab);
        fprintf(out, "  batch: user [%d] int32, item [%d] int32, y [%d] float32\n", bs, bs, bs);
        if (s->first[0]) fprintf(out, "  dsets.train[0]: %s\n", s->first);
        return;
    }
    fprintf(out, "Data (%s)\n", s->kind);
    fprintf(out, "  items: %lld (train %lld, valid %lld)\n", (long long)s->n_items, (long long)s->n_train,
            (long long)s->n_valid);
    print_splits(out, s);
    if (s->vocab) {
        fprintf(out, "  vocab (%d): ", s->n_vocab);
        for (int v = 0; v < s->n_vocab; v++) {
            if (v == 30 && s->n_vocab > 32) {
                fprintf(out, ", ... (%d more)", s->n_vocab - 30);
                break;
            }
            fprintf(out, "%s%s", v ? ", " : "", s->vocab[v]);
        }
        fputc('\n', out);
    } else {
        fprintf(out, "  points per item: %d\n", s->n_points);
    }
    fprintf(out, "  batch: x [%d, %d, %d, %d] float32 (NHWC)", bs, s->x_shape[1], s->x_shape[2], s->x_shape[3]);
    if (!s->n_y) fprintf(out, ", y [%d] int32\n", bs);
    else fprintf(out, ", y [%d, %d] float32\n", bs, s->n_y);
    fprintf(out, "  dsets.train[0]: %s\n", s->first);
    if (s->n_skipped) fprintf(out, "  skipped while building the data: %d items\n", s->n_skipped);
}

void data_summary_json(JsonBuf *b, const DataSummary *s)
{
    int bs = s->x_shape[0];
    json_buf_putc(b, '{');
    json_buf_key(b, "kind");
    json_buf_str(b, s->kind);
    json_buf_key(b, s->collab ? "ratings" : "items");
    json_buf_int(b, s->n_items);
    json_buf_key(b, "train");
    json_buf_int(b, s->n_train);
    json_buf_key(b, "valid");
    json_buf_int(b, s->n_valid);
    json_buf_printf(b, ", \"batches\": {\"train\": %d, \"valid\": %d}", s->batches[0], s->batches[1]);
    json_buf_printf(b, ", \"bs\": {\"train\": %d, \"valid\": %d}", s->bs[0], s->bs[1]);
    if (s->collab) {
        json_buf_printf(b, ", \"users\": %d, \"items_vocab\": %d", s->n_users, s->n_items_vocab);
        json_buf_printf(b, ", \"batch\": {\"user\": [%d], \"item\": [%d], \"y\": [%d]}", bs, bs, bs);
    } else {
        if (s->vocab) {
            json_buf_key(b, "vocab");
            json_buf_putc(b, '[');
            for (int v = 0; v < s->n_vocab; v++) json_buf_sep(b), json_buf_str(b, s->vocab[v]);
            json_buf_putc(b, ']');
        } else {
            json_buf_key(b, "points_per_item");
            json_buf_int(b, s->n_points);
        }
        json_buf_printf(b, ", \"batch\": {\"x\": [%d, %d, %d, %d], ", bs, s->x_shape[1], s->x_shape[2],
                        s->x_shape[3]);
        if (!s->n_y) json_buf_printf(b, "\"y\": [%d]}", bs);
        else json_buf_printf(b, "\"y\": [%d, %d]}", bs, s->n_y);
        json_buf_key(b, "skipped");
        json_buf_int(b, s->n_skipped);
    }
    json_buf_key(b, "first_item");
    if (s->first[0]) json_buf_str(b, s->first);
    else json_buf_raw(b, "null", 4);
    json_buf_putc(b, '}');
}
