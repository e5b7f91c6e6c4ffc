/* show_batch.c — `fastc show_batch CONFIG [--n N] [--out FILE.png]`: a grid of
 * the first N items of the first training batch (epoch 0), after the item and
 * batch transforms (augmentation included, as fastai's dls.show_batch() shows
 * them), each label under its image and point targets drawn as crosses. */
#include "cmd/cmd.h"

#include "data/dataset.h"
#include "data/image_loader.h"
#include "io/atomic.h"
#include "io/json.h"
#include "io/plot.h"
#include "setup/setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "label" (category), "a;b" (multi-label, fastai's separator), "" (points) */
static void caption_of(const Batch *b, const Dataset *ds, int i, char *buf, size_t cap)
{
    buf[0] = 0;
    if (b->kind == TARGET_CATEGORY) {
        int y = b->yi[i];
        snprintf(buf, cap, "%s", y >= 0 && y < ds->n_vocab ? ds->vocab[y] : "#na#");
    } else if (b->kind == TARGET_MULTI) {
        size_t n = 0;
        for (int v = 0; v < b->n_y && n + 1 < cap; v++)
            if (b->y[(size_t)i * b->n_y + v] > 0.5f)
                n += snprintf(buf + n, cap - n, "%s%s", n ? ";" : "", v < ds->n_vocab ? ds->vocab[v] : "?");
    }
}

/* --json: {"path": PNG, "n": N, "size": [h, w], "items": [{"path": file, "label": "cat" | "labels": [...] |
 * "points": [[x, y], ...]}, ...]}, points in the shown image's pixels. */
static int print_json(const char *png, const Batch *b, const Dataset *ds, int n, const GridPoint *pts, int n_pts,
                      Err *err)
{
    JsonBuf j = {0};
    json_buf_putc(&j, '{');
    json_buf_key(&j, "path");
    json_buf_str(&j, png);
    json_buf_key(&j, "n");
    json_buf_int(&j, n);
    json_buf_printf(&j, ", \"size\": [%d, %d]", b->h, b->w);
    json_buf_key(&j, "items");
    json_buf_putc(&j, '[');
    for (int i = 0; i < n; i++) {
        json_buf_sep(&j);
        json_buf_putc(&j, '{');
        if (b->index) {
            json_buf_key(&j, "path");
            json_buf_str(&j, ds->paths[ds->train_idx[b->index[i]]]);
        }
        if (b->kind == TARGET_CATEGORY) {
            int y = b->yi[i];
            json_buf_key(&j, "label");
            json_buf_str(&j, y >= 0 && y < ds->n_vocab ? ds->vocab[y] : "#na#");
        } else if (b->kind == TARGET_MULTI) {
            json_buf_key(&j, "labels");
            json_buf_putc(&j, '[');
            for (int v = 0; v < b->n_y && v < ds->n_vocab; v++)
                if (b->y[(size_t)i * b->n_y + v] > 0.5f) json_buf_sep(&j), json_buf_str(&j, ds->vocab[v]);
            json_buf_putc(&j, ']');
        } else if (b->kind == TARGET_POINTS) {
            json_buf_key(&j, "points");
            json_buf_putc(&j, '[');
            for (int p = 0; p < n_pts; p++) {
                const GridPoint *g = &pts[i * n_pts + p];
                json_buf_sep(&j);
                json_buf_putc(&j, '[');
                json_buf_float(&j, (float)g->x);
                json_buf_raw(&j, ", ", 2);
                json_buf_float(&j, (float)g->y);
                json_buf_putc(&j, ']');
            }
            json_buf_putc(&j, ']');
        }
        json_buf_putc(&j, '}');
    }
    json_buf_raw(&j, "]}", 2);
    int rc = j.oom ? err_set(err, ERR_RUNTIME, "show_batch: out of memory") : 0;
    if (!rc) printf("%s\n", j.s);
    json_buf_free(&j);
    return rc;
}

int cmd_show_batch(const CmdArgs *a, Err *err)
{
    Setup su;
    if (setup_load(&su, a->config_path, a->sets, a->n_sets, &a->ctx, err)) return err->code;
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    Loaders *l = NULL;
    GridCell *cells = NULL;
    GridPoint *pts = NULL;
    char (*caps)[256] = NULL;
    int rc = 0;
    if (su.is_collab) {
        rc = err_set(err, ERR_USAGE, "%s: show_batch shows images; [data] blocks = CollabBlock has none", su.file);
        goto done;
    }
    if ((rc = datablock_build_spec(&su.db, &ds, err))) goto done;
    ImageLoaderOpts o = su.loader;
    o.cache_bytes = 0;   /* one batch: nothing to reuse */
    if ((rc = image_loaders_new_opts(&l, &o, &ds, err))) goto done;
    if ((rc = loaders_begin(l, SPLIT_TRAIN, 0, err))) goto done;
    Batch *b;
    int st = loaders_next(l, &b, err);
    if (st < 0) {
        rc = err->code;
        goto done;
    }
    if (st == 0) {
        rc = err_set(err, ERR_USAGE, "%s: the training split has no full batch of %d items", su.file, o.bs);
        goto done;
    }
    int n = a->n > 0 ? a->n : 9;
    if (n > b->n) n = b->n;
    int n_pts = b->kind == TARGET_POINTS ? b->n_y / 2 : 0;
    cells = calloc((size_t)n, sizeof *cells);
    caps = calloc((size_t)n, sizeof *caps);
    pts = calloc((size_t)n * n_pts + 1, sizeof *pts);
    if (!cells || !caps || !pts) {
        rc = err_set(err, ERR_RUNTIME, "out of memory");
        goto done;
    }
    size_t px = (size_t)b->h * b->w * b->c;
    const BatchTfm *bt = image_loaders_batch_tfm(l);
    for (int i = 0; i < n; i++) {
        GridCell *c = &cells[i];
        c->f = b->x + i * px;
        if (bt->normalize) c->mean = bt->mean, c->std = bt->std;
        c->w = b->w, c->h = b->h, c->c = b->c;
        caption_of(b, &ds, i, caps[i], sizeof caps[i]);
        c->caption = caps[i];
        c->caption_color = PLOT_BLACK;
        for (int p = 0; p < n_pts; p++) {   /* [-1, 1] back to the shown image's pixels */
            GridPoint *g = &pts[i * n_pts + p];
            g->x = (b->y[(size_t)i * b->n_y + 2 * p] + 1) / 2 * b->w;
            g->y = (b->y[(size_t)i * b->n_y + 2 * p + 1] + 1) / 2 * b->h;
            g->color = plot_color(3);
            g->marker = MARK_CROSS;
        }
        c->points = n_pts ? &pts[i * n_pts] : NULL;
        c->n_points = n_pts;
    }
    char path[4200];
    if (a->out) {
        snprintf(path, sizeof path, "%s", a->out);
    } else {
        if ((rc = atomic_mkdirs(su.out_dir, err))) goto done;
        snprintf(path, sizeof path, "%s/show_batch.png", su.out_dir);
    }
    ImageGrid g = {.cells = cells, .n = n};
    if ((rc = plot_grid(&g, path, err))) goto done;
    if (a->ctx.json) rc = print_json(path, b, &ds, n, pts, n_pts, err);
    else if (!a->ctx.quiet) printf("wrote %s (%d training items after item and batch transforms)\n", path, n);
done:
    free(cells), free(caps), free(pts);
    loaders_free(l);
    dataset_free(&ds);
    setup_free(&su);
    return rc;
}
