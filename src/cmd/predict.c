/* predict.c — `fastc predict (CONFIG | --model FILE) INPUT... [--all]`.
 *
 * Everything comes from the model file: architecture, inputs, outputs, vocab,
 * threshold (except that with a CONFIG the multi-label threshold is the
 * config's (the setup's threshold): the one the metric and interpret use, so a
 * threshold chosen with `interpret --thresholds` after training applies) and
 * the validation preprocessing (the data module's item and
 * batch transforms, rebuilt from the config text saved in the metadata).
 * Inputs are image files, folders (their images, recursively, sorted) or `-`
 * (one path per line on stdin); they are predicted in batches, in input order,
 * and printed as CSV on stdout:
 *   single_label  path,prediction,probability[,<p of each class> with --all]
 *   multi_label   path,prediction,probability   labels above the threshold and
 *                 their probabilities, each joined by ';' [--all: every label]
 *   points        path,x0,y0,x1,y1,...          in the input image's own pixels
 *   regression    path,prediction
 * A file that cannot be read or decoded gets `path,error: <message>` on its row
 * and a line on stderr; the others are still predicted and the exit status is 1.
 * --json prints one JSON object per input instead, one per line
 * (print_row_json); an error is then only on its row.
 * Collab models take USER,ITEM pairs (collab_interp.h). */
#include "cmd/cmd.h"
#include "cmd/pipeline.h"

#include "data/items.h"
#include "interp/collab_interp.h"
#include "interp/interp.h"
#include "interp/modelfile.h"
#include "interp/prep.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { PREDICT_MAX_BS = 16 };

/* ---- inputs ------------------------------------------------------------------ */

typedef struct Inputs {
    char **v;
    int n, cap;
} Inputs;

static int inputs_add(Inputs *in, const char *s, Err *err)
{
    if (in->n == in->cap) {
        int cap = in->cap ? in->cap * 2 : 64;
        char **v = realloc(in->v, sizeof(char *) * (size_t)cap);
        if (!v) return err_set(err, ERR_RUNTIME, "predict: out of memory");
        in->v = v, in->cap = cap;
    }
    if (!(in->v[in->n] = strdup(s))) return err_set(err, ERR_RUNTIME, "predict: out of memory");
    in->n++;
    return 0;
}

static void inputs_free(Inputs *in)
{
    for (int i = 0; i < in->n; i++) free(in->v[i]);
    free(in->v);
    memset(in, 0, sizeof *in);
}

/* The images under a folder, recursively, sorted (fastai's get_image_files). */
static int add_folder(Inputs *in, const char *dir, Err *err)
{
    StrList files = {0};
    int rc = items_image_files(dir, NULL, 0, 1, &files, err);
    for (int i = 0; !rc && i < files.n; i++) rc = inputs_add(in, files.v[i], err);
    strlist_free(&files);
    return rc;
}

/* The non-empty lines of stdin, each an input (`-`). */
static int add_stdin(Inputs *in, Err *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while (!rc && (len = getline(&line, &cap, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len > 0) rc = inputs_add(in, line, err);
    }
    free(line);
    return rc;
}

static int gather_inputs(Inputs *in, const char *const *args, int n, Err *err)
{
    for (int i = 0; i < n; i++) {
        int rc = 0;
        struct stat st;
        if (!strcmp(args[i], "-")) {
            rc = add_stdin(in, err);
        } else if (!stat(args[i], &st) && S_ISDIR(st.st_mode)) {
            rc = add_folder(in, args[i], err);
        } else {
            rc = inputs_add(in, args[i], err);   /* missing files are reported on their row */
        }
        if (rc) return rc;
    }
    return 0;
}

/* ---- output ------------------------------------------------------------------ */

static void print_header(const ModelFileInfo *mi, int all, int n_points, int json)
{
    if (json) return;   /* JSON lines name their fields */
    if (!strcmp(mi->task, "points")) {
        fputs("path", stdout);
        for (int k = 0; k < n_points; k++) printf(",x%d,y%d", k, k);
    } else if (!strcmp(mi->task, "regression")) {
        fputs("path,prediction", stdout);
    } else {
        fputs("path,prediction,probability", stdout);
        if (all)
            for (size_t j = 0; j < mi->n_vocab; j++) fputc(',', stdout), interp_csv_field(stdout, mi->vocab[j]);
    }
    fputc('\n', stdout);
}

/* --json: one object per input, one per line: {"path", "prediction", "probability"
 * [, "probabilities": {label: p}]} (multi-label: lists of the labels above the
 * threshold and their probabilities), {"path", "points": [[x, y], ...]},
 * {"path", "prediction"} (regression), {"path", "error"}. */
static void print_row_json(const ModelFileInfo *mi, int all, const char *path, const float *out, const double map[4])
{
    int c = mi->n_out;
    JsonBuf b = {0};
    json_buf_putc(&b, '{');
    json_buf_key(&b, "path");
    json_buf_str(&b, path);
    int single = !strcmp(mi->task, "single_label"), multi = !strcmp(mi->task, "multi_label");
    if (single || multi) {
        float *p = malloc(sizeof(float) * (size_t)c);
        FASTC_ASSERT(p);
        if (single) {
            int32_t k;
            interp_softmax(p, out, 1, c);
            interp_argmax(&k, out, 1, c);
            json_buf_key(&b, "prediction");
            json_buf_str(&b, mi->vocab[k]);
            json_buf_key(&b, "probability");
            json_buf_float(&b, p[k]);
        } else {
            interp_sigmoid(p, out, c);
            json_buf_key(&b, "prediction");
            json_buf_putc(&b, '[');
            for (int j = 0; j < c; j++)
                if ((double)p[j] > mi->threshold) json_buf_sep(&b), json_buf_str(&b, mi->vocab[j]);
            json_buf_raw(&b, "]", 1);
            json_buf_key(&b, "probability");
            json_buf_putc(&b, '[');
            for (int j = 0; j < c; j++)
                if ((double)p[j] > mi->threshold) json_buf_sep(&b), json_buf_float(&b, p[j]);
            json_buf_putc(&b, ']');
        }
        if (all) {
            json_buf_key(&b, "probabilities");
            json_buf_putc(&b, '{');
            for (int j = 0; j < c; j++) json_buf_key(&b, mi->vocab[j]), json_buf_float(&b, p[j]);
            json_buf_putc(&b, '}');
        }
        free(p);
    } else if (!strcmp(mi->task, "points")) {
        json_buf_key(&b, "points");
        json_buf_putc(&b, '[');
        for (int k = 0; k + 1 < c; k += 2)
            json_buf_sep(&b), json_buf_printf(&b, "[%.2f, %.2f]", (out[k] - map[1]) / map[0],
                                              (out[k + 1] - map[3]) / map[2]);
        json_buf_putc(&b, ']');
    } else {
        json_buf_key(&b, "prediction");
        json_buf_float(&b, out[0]);
    }
    json_buf_putc(&b, '}');
    FASTC_ASSERT(!b.oom);
    puts(b.s);
    json_buf_free(&b);
}

static void print_row(const ModelFileInfo *mi, int all, const char *path, const float *out,
                      const double map[4])
{
    int c = mi->n_out;
    interp_csv_field(stdout, path);
    if (!strcmp(mi->task, "single_label")) {
        float *p = malloc(sizeof(float) * (size_t)c);
        int32_t k;
        FASTC_ASSERT(p);
        interp_softmax(p, out, 1, c);
        interp_argmax(&k, out, 1, c);
        fputc(',', stdout);
        interp_csv_field(stdout, mi->vocab[k]);
        printf(",%.6f", p[k]);
        if (all)
            for (int j = 0; j < c; j++) printf(",%.6f", p[j]);
        free(p);
    } else if (!strcmp(mi->task, "multi_label")) {
        float *p = malloc(sizeof(float) * (size_t)c);
        FASTC_ASSERT(p);
        interp_sigmoid(p, out, c);
        size_t cap = 64;
        for (int j = 0; j < c; j++) cap += strlen(mi->vocab[j]) + 12;
        char *labels = calloc(1, cap), *probs = calloc(1, cap);
        FASTC_ASSERT(labels && probs);
        size_t nl = 0, np = 0;
        for (int j = 0; j < c; j++) {
            if (!((double)p[j] > mi->threshold)) continue;
            nl += (size_t)snprintf(labels + nl, cap - nl, "%s%s", nl ? ";" : "", mi->vocab[j]);
            np += (size_t)snprintf(probs + np, cap - np, "%s%.6f", np ? ";" : "", p[j]);
        }
        fputc(',', stdout);
        interp_csv_field(stdout, labels);
        fputc(',', stdout);
        fputs(probs, stdout);
        if (all)
            for (int j = 0; j < c; j++) printf(",%.6f", p[j]);
        free(labels), free(probs), free(p);
    } else if (!strcmp(mi->task, "points")) {
        /* model output in [-1, 1] of its input → the file's own pixels */
        for (int k = 0; k + 1 < c; k += 2)
            printf(",%.2f,%.2f", (out[k] - map[1]) / map[0], (out[k + 1] - map[3]) / map[2]);
    } else {
        printf(",%.6g", out[0]);
    }
    fputc('\n', stdout);
}

static void print_error_row(const char *path, const char *msg, int json)
{
    char buf[1200];
    if (json) {
        JsonBuf b = {0};
        json_buf_putc(&b, '{');
        json_buf_key(&b, "path");
        json_buf_str(&b, path);
        json_buf_key(&b, "error");
        json_buf_str(&b, msg);
        json_buf_putc(&b, '}');
        FASTC_ASSERT(!b.oom);
        puts(b.s);
        json_buf_free(&b);
        return;
    }
    interp_csv_field(stdout, path);
    snprintf(buf, sizeof buf, "error: %s", msg);
    fputc(',', stdout);
    interp_csv_field(stdout, buf);
    fputc('\n', stdout);
}

/* ---- the command ---------------------------------------------------------------- */

static int model_path_of(const CmdArgs *a, const Setup *su, char *buf, size_t cap)
{
    if (a->model_path) snprintf(buf, cap, "%s", a->model_path);
    else snprintf(buf, cap, "%.3800s/model.safetensors", su->out_dir);
    return 0;
}

static int predict_images(const CmdArgs *a, const ModelFileInfo *mi, const StFile *sf, Err *err)
{
    Inputs in = {0};
    Prep prep = {0};
    Model *m = NULL;
    float *x = NULL;
    double *maps = NULL;
    int *ok = NULL, rc, failed = 0;
    char (*msgs)[1024] = NULL;
    if ((rc = gather_inputs(&in, a->inputs, a->n_inputs, err))) return rc;
    if (in.n == 0) {
        inputs_free(&in);
        return err_set(err, ERR_USAGE, "predict: no input images (give files, folders or - for stdin)");
    }
    /* A thread per image at most: one image runs faster on one thread than it
     * takes to start (and spin down) a pool. */
    Ctx ctx = a->ctx;
    if (ctx.threads > in.n) ctx.threads = in.n;
    ctx_apply_threads(&ctx);
    if ((rc = prep_init_meta(&prep, mi, err))) goto done;
    int bs = in.n < PREDICT_MAX_BS ? in.n : PREDICT_MAX_BS;
    if (modelfile_eval_net(&m, mi, sf, mi->n_out, bs, prep.h, prep.w, ctx.threads, err)) {
        /* everything the network is built from came from the file: its fault
         * (README, exit status); the message names it once */
        if (strncmp(err->msg, mi->path, strlen(mi->path))) err_prefix(err, "%s: ", mi->path);
        rc = err->code = ERR_RUNTIME;
        goto done;
    }
    size_t per = (size_t)prep.h * prep.w * mi->n_in;
    x = malloc(sizeof(float) * per * (size_t)bs);
    maps = malloc(sizeof(double) * 4 * (size_t)bs);
    ok = malloc(sizeof(int) * (size_t)bs);
    msgs = malloc(sizeof *msgs * (size_t)bs);
    if (!x || !maps || !ok || !msgs) {
        rc = err_set(err, ERR_RUNTIME, "predict: out of memory");
        goto done;
    }
    print_header(mi, a->all, mi->n_out / 2, a->ctx.json);
    for (int start = 0; start < in.n; start += bs) {
        int n = in.n - start < bs ? in.n - start : bs, k = 0;
        for (int i = 0; i < n; i++) {
            Err e = {0};
            ok[i] = !prep_item(&prep, in.v[start + i], x + per * (size_t)k, maps + 4 * k, &e);
            if (ok[i]) {
                k++;
            } else {
                snprintf(msgs[i], sizeof msgs[i], "%s", e.msg);
                failed++;
            }
        }
        const float *out = NULL;
        if (k > 0) {
            Batch b = {.n = k, .h = prep.h, .w = prep.w, .c = mi->n_in, .x = x, .kind = TARGET_CATEGORY};
            if ((rc = m->ops->forward(m, &b, MODE_EVAL, 0, &out, err))) goto done;
        }
        for (int i = 0, j = 0; i < n; i++) {
            if (ok[i]) {
                if (a->ctx.json) print_row_json(mi, a->all, in.v[start + i], out + (size_t)j * mi->n_out, maps + 4 * j);
                else print_row(mi, a->all, in.v[start + i], out + (size_t)j * mi->n_out, maps + 4 * j);
                j++;
            } else {
                print_error_row(in.v[start + i], msgs[i], a->ctx.json);
                if (!a->ctx.json) fprintf(stderr, "fastc predict: %s\n", msgs[i]);   /* --json: the row says it */
            }
        }
    }
    fflush(stdout);
    if (failed) rc = err_set(err, ERR_RUNTIME, "predict: %d of %d input(s) could not be read", failed, in.n);
done:
    free(x), free(maps), free(ok), free(msgs);
    model_free(m);
    prep_free(&prep);
    inputs_free(&in);
    return rc;
}

/* Collab: USER,ITEM pairs against the model file's own vocab (collab_interp.h). */
static int predict_collab(const CmdArgs *a, const StFile *sf, Err *err)
{
    if (a->unknown && strcmp(a->unknown, "bias") != 0)
        return err_set(err, ERR_USAGE, "predict: --unknown %s: expected --unknown bias", a->unknown);
    if (a->n_inputs < 1) return err_set(err, ERR_USAGE, "predict: give USER,ITEM pairs, e.g. 196,242");
    Model *m;
    RatingsData *v;
    int rc = collab_from_file(sf, &m, &v, err);
    if (rc) return rc;
    CollabPredictOpts o = {.unknown_bias = a->unknown != NULL, .json = a->ctx.json, .out = stdout,
                           .errs = a->ctx.json ? NULL : stderr};
    /* `-`: pairs on stdin, one a line, as image paths are */
    Inputs in = {0};
    for (int i = 0; !rc && i < a->n_inputs; i++)
        rc = strcmp(a->inputs[i], "-") ? inputs_add(&in, a->inputs[i], err) : add_stdin(&in, err);
    if (!rc && in.n == 0) rc = err_set(err, ERR_USAGE, "predict: no USER,ITEM pairs on stdin");
    if (!rc) rc = collab_predict_pairs(m, v, (const char *const *)in.v, in.n, &o, err);
    inputs_free(&in);
    model_free(m);
    ratings_free(v);
    return rc;
}

int cmd_predict(const CmdArgs *a, Err *err)
{
    Setup su = {0}, *setup = NULL;
    StFile *sf = NULL;
    ModelFileInfo mi;
    char path[4096];
    int rc;
    memset(&mi, 0, sizeof mi);
    if (!a->model_path && !a->config_path)
        return err_set(err, ERR_USAGE, "predict: give a CONFIG or --model FILE, then the inputs");
    if (a->config_path) {
        if (setup_load(&su, a->config_path, a->sets, a->n_sets, &a->ctx, err)) return err->code;
        setup = &su;
    }
    model_path_of(a, setup, path, sizeof path);
    if ((rc = st_open(path, &sf, err))) goto done;
    if ((rc = modelfile_info(&mi, path, &sf->meta, err))) goto done;
    if (setup) {
        ModelFileExpect expect;
        modelfile_expect_of(&expect, setup);
        if ((rc = modelfile_check(&mi, &expect, err))) goto done;
        /* its threshold (as interpret and the metric use it), not the one saved at training */
        if (!strcmp(mi.task, "multi_label")) mi.threshold = setup->threshold;
    }
    if (!strcmp(mi.task, "collab")) {
        ctx_apply_threads(&a->ctx);
        rc = predict_collab(a, sf, err);
        goto done;
    }
    rc = predict_images(a, &mi, sf, err);
done:
    modelfile_info_free(&mi);
    st_close(sf);
    setup_free(&su);
    return rc;
}
