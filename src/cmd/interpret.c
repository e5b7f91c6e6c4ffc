/* interpret.c — `fastc interpret CONFIG [--checkpoint FILE] [--most-confused
 * [--min N]] [--confusion] [--top-losses K] [--thresholds] [--similar ITEM]`.
 *
 * fastai's ClassificationInterpretation.from_learner: the run's model (or the
 * checkpoint) predicts the validation set in order with per-item losses; the
 * reports go into the run folder (interp/interp.h says which), the pictures
 * through the one plotting module (io/plot.h):
 *   confusion.png   heat map (single-label)
 *   top_losses.png  grid titled Prediction/Actual/Loss/Probability (--top-losses)
 *   results.png     points: target (green +) and prediction (red x) on the
 *                   first validation images, fastai's show_results
 *   thresholds.png  multi-label --thresholds: the sweep (io/figures.h)
 * Collaborative filtering ([data] blocks = CollabBlock(...)) goes to the collab
 * helper's collab_interpret: item_bias.csv, lowest/highest item biases,
 * pca.csv/pca.png, or --similar ITEM.
 * A flag the model's task has no use for is refused before any data is read
 * (check_flags).  --json prints the results as one JSON object (the
 * interp_json_* and collab pieces, then "files"): nothing else on stdout. */
#include "cmd/cmd.h"

#include "cmd/pipeline.h"

#include "data/dataset.h"
#include "data/image_loader.h"
#include "data/loader.h"
#include "data/ratings.h"
#include "interp/collab_interp.h"
#include "interp/interp.h"
#include "interp/modelfile.h"
#include "interp/prep.h"
#include "io/figures.h"
#include "io/json.h"
#include "io/plot.h"
#include "io/safetensors.h"
#include "learn/metrics.h"
#include "models/collab.h"
#include "models/model.h"
#include "models/weights.h"
#include "setup/setup.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RESULTS_N = 9, CAPTION_CAP = 512 };

/* ---- pictures ----------------------------------------------------------------- */

static int draw_confusion(const InterpSummary *sum, char *const *vocab, const char *dir, Err *err)
{
    int nc = sum->nc;
    double *v = malloc(sizeof(double) * ((size_t)nc * nc + 1));
    if (!v) return err_set(err, ERR_RUNTIME, "interpret: out of memory");
    for (int k = 0; k < nc * nc; k++) v[k] = (double)sum->cm[k];
    HeatMap hm = {.title = "Confusion matrix", .xlabel = "Predicted", .ylabel = "Actual", .rows = nc,
                  .cols = nc, .values = v, .row_labels = (const char *const *)vocab,
                  .col_labels = (const char *const *)vocab, .show_values = 1, .decimals = 0};
    char path[4200];
    snprintf(path, sizeof path, "%s/confusion.png", dir);
    int rc = plot_heatmap(&hm, path, err);
    free(v);
    return rc;
}

/* A grid of validation images rows[0..n) of p, captioned by task, with points
 * for the points task. */
static int draw_grid(const Preds *p, const int32_t *rows, int n, const char *const *paths, char *const *vocab,
                     double thresh, Prep *prep, const char *title, const char *file, const char *dir, Err *err)
{
    size_t per = (size_t)prep->h * prep->w * prep->n_in;
    float *x = calloc((size_t)n * per + 1, sizeof(float));
    GridCell *cells = calloc((size_t)n + 1, sizeof(GridCell));
    char (*cap)[CAPTION_CAP] = calloc((size_t)n + 1, CAPTION_CAP);
    int n_pts = p->kind == TARGET_POINTS ? p->n_out / 2 : 0;
    GridPoint *pts = calloc((size_t)n * 2 * n_pts + 1, sizeof(GridPoint));
    if (!x || !cells || !cap || !pts) {
        free(x), free(cells), free(cap), free(pts);
        return err_set(err, ERR_RUNTIME, "interpret: out of memory");
    }
    for (int r = 0; r < n; r++) {
        int i = rows[r];
        const float *pr = p->probs + (size_t)i * p->n_out;
        const char *path = paths[p->index[i]];
        Err e = {0};
        GridCell *c = &cells[r];
        c->f = x + per * (size_t)r;
        c->w = prep->w, c->h = prep->h, c->c = prep->n_in;
        if (prep->batch.normalize) c->mean = prep->batch.mean, c->std = prep->batch.std;
        int ok = prep_item(prep, path, x + per * (size_t)r, NULL, &e) == 0;
        if (p->kind == TARGET_CATEGORY) {
            int32_t k;
            interp_argmax(&k, p->raw + (size_t)i * p->n_out, 1, p->n_out);
            int a = p->yi[i];
            /* fastai: f'{pred}/{actual} / {loss:.2f} / {max_prob:.2f}' */
            snprintf(cap[r], CAPTION_CAP, "%s/%s / %.2f / %.2f", vocab[k],
                     a >= 0 && a < p->n_out ? vocab[a] : "?", p->loss[i], pr[k]);
            c->caption_color = k == a ? (Rgb){0, 128, 0} : (Rgb){200, 0, 0};
        } else if (p->kind == TARGET_MULTI) {
            char pl[200], al[200];
            interp_labels_above(pl, sizeof pl, pr, p->n_out, thresh, vocab);
            interp_labels_above(al, sizeof al, p->y + (size_t)i * p->n_y, p->n_out, 0.5, vocab);
            snprintf(cap[r], CAPTION_CAP, "%s/%s / %.2f", *pl ? pl : "-", *al ? al : "-", p->loss[i]);
            c->caption_color = PLOT_BLACK;
        } else {
            double e_px = interp_point_error(pr, p->y + (size_t)i * p->n_y, p->n_y, p->w, p->h);
            snprintf(cap[r], CAPTION_CAP, "error %.1f input px / loss %.4f", e_px, p->loss[i]);
            GridPoint *g = pts + (size_t)r * 2 * n_pts;
            for (int k = 0; k < n_pts; k++) {
                const float *t = p->y + (size_t)i * p->n_y;
                g[k] = (GridPoint){(t[2 * k] + 1) * prep->w / 2.0, (t[2 * k + 1] + 1) * prep->h / 2.0,
                                   (Rgb){0, 200, 0}, MARK_PLUS};
                g[n_pts + k] = (GridPoint){(pr[2 * k] + 1) * prep->w / 2.0, (pr[2 * k + 1] + 1) * prep->h / 2.0,
                                           (Rgb){230, 0, 0}, MARK_CROSS};
            }
            c->points = g, c->n_points = 2 * n_pts;
            c->caption_color = PLOT_BLACK;
        }
        if (!ok) snprintf(cap[r], CAPTION_CAP, "unreadable: %s", path);
        c->caption = cap[r];
    }
    ImageGrid g = {.title = title, .cells = cells, .n = n};
    char out[4200];
    snprintf(out, sizeof out, "%s/%s", dir, file);
    int rc = plot_grid(&g, out, err);
    free(x), free(cells), free(cap), free(pts);
    return rc;
}

static int interpret_collab(const CmdArgs *a, const Setup *su, JsonBuf *json, Err *err)
{
    char path[4200];
    if (a->checkpoint) snprintf(path, sizeof path, "%s", a->checkpoint);
    else snprintf(path, sizeof path, "%s/model.safetensors", su->out_dir);
    RatingsData *d = NULL;
    Model *m = NULL;
    int rc = ratings_load(&d, &su->ratings, err);
    if (!rc) {
        CollabSpec cs = su->model.collab;
        cs.n_users = d->n_users, cs.n_items = d->n_items, cs.max_bs = 1024, cs.seed = su->ctx.seed;
        rc = collab_model_new(&m, &cs, err);
    }
    if (!rc) rc = weights_load_file(m, path, WEIGHTS_FULL, NULL, 0, err);
    if (!rc) {
        CollabInterpOpts o = {.out_dir = su->out_dir, .similar = a->similar, .out = stdout, .json = json};
        rc = collab_interpret(m, d, &o, err);
    }
    model_free(m);
    ratings_free(d);
    return rc;
}

/* Points: the map from each validation file's pixels to the model input, so
 * errors can be given in the images' own pixels.  NULL when a file cannot be
 * prepared again (errors are then in model-input pixels only). */
static double *file_maps(const Preds *p, const char *const *paths, Prep *prep)
{
    double *maps = malloc(sizeof(double) * 4 * ((size_t)p->n + 1));
    float *x = malloc(sizeof(float) * (size_t)prep->h * prep->w * prep->n_in);
    for (int i = 0; maps && x && i < p->n; i++) {
        Err e = {0};
        if (prep_item(prep, paths[p->index[i]], x, maps + 4 * (size_t)i, &e)) {
            free(maps);
            maps = NULL;
        }
    }
    if (!x) free(maps), maps = NULL;
    free(x);
    return maps;
}

/* ---- the command ------------------------------------------------------------------ */

/* The flags each task's interpretation has a use for; any other is refused
 * (exit 2) rather than ignored.  The task is the config's (a model file of
 * another task is refused by modelfile_check), so a wrong flag is a usage
 * error whether or not the model file exists yet. */
static int check_flags(const CmdArgs *a, const char *task, const char *config, Err *err)
{
    static const struct {
        const char *task, *what, *takes;
        int confusion, most_confused, top_losses, thresholds, similar;
    } tasks[] = {
        {"single_label", "a single-label classifier", "--confusion, --most-confused [--min N], --top-losses K",
         1, 1, 1, 0, 0},
        {"multi_label", "a multi-label classifier", "--thresholds, --most-confused [--min N], --top-losses K",
         0, 1, 1, 1, 0},
        {"points", "a point regression model", "--top-losses K", 0, 0, 1, 0, 0},
        {"regression", "a regression model", "--top-losses K", 0, 0, 1, 0, 0},
        {"collab", "a collaborative-filtering model", "--similar ITEM", 0, 0, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        if (strcmp(tasks[i].task, task)) continue;
        const char *bad = a->confusion && !tasks[i].confusion           ? "--confusion"
                          : a->most_confused && !tasks[i].most_confused ? "--most-confused"
                          : a->top_losses && !tasks[i].top_losses       ? "--top-losses"
                          : a->thresholds && !tasks[i].thresholds       ? "--thresholds"
                          : a->similar && !tasks[i].similar             ? "--similar"
                                                                        : NULL;
        if (!bad) return 0;
        return err_set(err, ERR_USAGE, "fastc interpret: found %s, expected options that apply to %s (%s trains "
                       "one): %s", bad, tasks[i].what, config, tasks[i].takes);
    }
    return 0;
}

/* The object --json prints, opened: {"task", "model", "dir", ... */
static void json_open(JsonBuf *j, const char *task, const char *ckpt, const char *dir)
{
    json_buf_putc(j, '{');
    json_buf_key(j, "task");
    json_buf_str(j, task);
    json_buf_key(j, "model");
    json_buf_str(j, ckpt);
    json_buf_key(j, "dir");
    json_buf_str(j, dir);
}

static int json_close_print(JsonBuf *j, Err *err)
{
    json_buf_putc(j, '}');
    if (j->oom) return err_set(err, ERR_RUNTIME, "interpret: out of memory");
    printf("%s\n", j->s);
    return 0;
}

/* The pictures of the report into dir (confusion.png, thresholds.png,
 * top_losses.png, results.png, as the task has them); their names in pngs. */
static int draw_pictures(const Preds *p, const InterpSummary *sum, const char **paths, const Dataset *ds, double thresh,
                         Prep *prep, const char *dir, const char **pngs, int *n_png, Err *err)
{
    int rc;
    if (p->kind == TARGET_CATEGORY) {
        if ((rc = draw_confusion(sum, ds->vocab, dir, err))) return rc;
        pngs[(*n_png)++] = "confusion.png";
    }
    if (sum->has_sweep) {
        char path[4200];
        snprintf(path, sizeof path, "%s/thresholds.png", dir);
        double th[INTERP_N_THRESH], acc[INTERP_N_THRESH];
        for (int i = 0; i < INTERP_N_THRESH; i++) th[i] = sum->sweep[i].thresh, acc[i] = sum->sweep[i].accuracy_multi;
        if ((rc = fig_thresholds(path, th, acc, INTERP_N_THRESH, sum->best_thresh, thresh, err))) return rc;
        pngs[(*n_png)++] = "thresholds.png";
    }
    if (sum->n_top > 0) {
        const char *title = p->kind == TARGET_CATEGORY ? "Prediction/Actual/Loss/Probability"
                            : p->kind == TARGET_MULTI  ? "Prediction/Actual/Loss"
                                                      : "Target (+) / Prediction (x)";
        if ((rc = draw_grid(p, sum->top, sum->n_top, paths, ds->vocab, thresh, prep, title, "top_losses.png",
                            dir, err)))
            return rc;
        pngs[(*n_png)++] = "top_losses.png";
    }
    if (p->kind == TARGET_POINTS && p->n > 0) {
        int32_t rows[RESULTS_N];
        int n = p->n < RESULTS_N ? p->n : RESULTS_N;
        for (int i = 0; i < n; i++) rows[i] = i;
        if ((rc = draw_grid(p, rows, n, paths, NULL, thresh, prep, "Target (+) / Prediction (x)",
                            "results.png", dir, err)))
            return rc;
        pngs[(*n_png)++] = "results.png";
    }
    return 0;
}

/* --json: the files written into dir (tables, then pictures), and the object closed and printed. */
static int json_files_close_print(JsonBuf *json, const InterpSummary *sum, const char **pngs, int n_png, Err *err)
{
    json_buf_key(json, "files");
    json_buf_putc(json, '[');
    for (int i = 0; i < sum->n_files; i++) json_buf_sep(json), json_buf_str(json, sum->files[i]);
    for (int i = 0; i < n_png; i++) json_buf_sep(json), json_buf_str(json, pngs[i]);
    json_buf_putc(json, ']');
    return json_close_print(json, err);
}

int cmd_interpret(const CmdArgs *a, Err *err)
{
    if (!a->config_path) return err_set(err, ERR_USAGE, "interpret: expected a CONFIG file");
    Setup su;
    if (setup_load(&su, a->config_path, a->sets, a->n_sets, &a->ctx, err)) return err->code;
    Pipeline pl = {0};
    Model *m = NULL;
    StFile *sf = NULL;
    ModelFileInfo mi = {0};
    Preds p = {0};
    InterpSummary sum = {0};
    Prep prep = {0};
    const char **paths = NULL;
    double *maps = NULL;
    JsonBuf jb = {0}, *json = a->ctx.json ? &jb : NULL;
    int rc;
    char ckpt[4200];
    const char *dir = su.out_dir;
    if (a->checkpoint)
        snprintf(ckpt, sizeof ckpt, "%s", a->checkpoint);
    else
        snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);

    /* the flags first (a usage error needs no file), then the model file: a
     * wrong file is refused before any data is read */
    if ((rc = check_flags(a, su.task, a->config_path, err))) goto done;
    if ((rc = st_open(ckpt, &sf, err))) goto done;
    if ((rc = modelfile_info(&mi, ckpt, &sf->meta, err))) goto done;
    ModelFileExpect expect;
    modelfile_expect_of(&expect, &su);
    if ((rc = modelfile_check(&mi, &expect, err))) goto done;
    if (json) json_open(json, mi.task, ckpt, dir);
    if (!strcmp(mi.task, "collab")) {
        ctx_apply_threads(&a->ctx);
        if (!(rc = interpret_collab(a, &su, json, err)) && json) rc = json_close_print(json, err);
        goto done;
    }

    /* config → dataset → loaders, as training built them (pipeline.h) */
    if ((rc = pipeline_open(&pl, a, PIPE_DATA, err))) goto done;
    const Dataset *ds = &pl.ds;
    const ImageLoaderOpts lo = pl.setup.loader;   /* with the pretrained normalisation, as trained */
    if ((rc = prep_init(&prep, &lo.item, &lo.batch, lo.channels, pl.in_h, pl.in_w, err))) goto done;
    if ((rc = modelfile_eval_net(&m, &mi, sf, pl.dls->n_out, pl.dls->max_batch, pl.in_h, pl.in_w, pl.ctx.threads,
                                 err)))
        goto done;

    InterpOpts o = {.most_confused = a->most_confused, .min_count = a->min_count, .confusion = a->confusion,
                    .top_losses = a->top_losses, .thresholds = a->thresholds, .json = json};
    o.thresh = pl.setup.threshold;
    if (!a->ctx.quiet && !json) fprintf(stderr, "predicting %d validation items with %s\n", ds->n_valid, ckpt);
    if ((rc = interp_get_preds(m, pl.dls, SPLIT_VALID, pl.loss, &p, err))) goto done;
    paths = malloc(sizeof(char *) * ((size_t)ds->n_valid + 1));
    if (!paths) {
        rc = err_set(err, ERR_RUNTIME, "interpret: out of memory");
        goto done;
    }
    for (int j = 0; j < ds->n_valid; j++) paths[j] = ds->paths[ds->valid_idx[j]];
    if (p.kind == TARGET_POINTS) o.maps = maps = file_maps(&p, paths, &prep);
    if (json) json_buf_key(json, "valid_items"), json_buf_int(json, p.n);
    if ((rc = interp_report(&o, &p, paths, ds->vocab, ds->n_vocab, dir, json ? NULL : stdout, &sum, err))) goto done;

    const char *pngs[4];
    int n_png = 0;
    if ((rc = draw_pictures(&p, &sum, paths, ds, o.thresh, &prep, dir, pngs, &n_png, err))) goto done;
    if (json) rc = json_files_close_print(json, &sum, pngs, n_png, err);
    fflush(stdout);
done:
    json_buf_free(&jb);
    free(paths);
    free(maps);
    prep_free(&prep);
    interp_summary_free(&sum);
    interp_preds_free(&p);
    model_free(m);
    pipeline_close(&pl);
    modelfile_info_free(&mi);
    st_close(sf);
    setup_free(&su);
    return rc;
}
