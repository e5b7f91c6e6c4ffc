/* predict.c — `fastc predict (CONFIG | --model FILE) INPUT... [--all]`.
 *
 * Everything comes from the model file: architecture, inputs, outputs, vocab,
 * threshold and the validation preprocessing (the data module's item and
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
 * Collab models take USER,ITEM pairs (collab_interp.h). */
#include "cmd/cmd.h"

#include "config/config.h"
#include "core/rng.h"
#include "data/augment.h"
#include "data/decode.h"
#include "data/transform.h"
#include "interp/interp.h"
#include "interp/modelfile.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "models/resnet.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum { PREDICT_MAX_BS = 16, MAX_ITEM_TFMS = 4 };

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

static int is_image_name(const char *name)
{
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"};
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot, ext[i])) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The images under a folder, recursively (folders starting with '.' skipped),
 * sorted by path. */
static int add_folder(Inputs *in, const char *dir, Err *err)
{
    DIR *d = opendir(dir);
    if (!d) return err_set(err, ERR_RUNTIME, "%s: cannot open folder", dir);
    Inputs here = {0};
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st)) continue;
        if (S_ISDIR(st.st_mode) || is_image_name(e->d_name)) rc = inputs_add(&here, path, err);
    }
    closedir(d);
    if (!rc) qsort(here.v, (size_t)here.n, sizeof(char *), cmp_str);
    for (int i = 0; !rc && i < here.n; i++) {
        struct stat st;
        if (!stat(here.v[i], &st) && S_ISDIR(st.st_mode))
            rc = add_folder(in, here.v[i], err);
        else
            rc = inputs_add(in, here.v[i], err);
    }
    inputs_free(&here);
    return rc;
}

static int gather_inputs(Inputs *in, const char *const *args, int n, Err *err)
{
    for (int i = 0; i < n; i++) {
        int rc = 0;
        struct stat st;
        if (!strcmp(args[i], "-")) {
            char *line = NULL;
            size_t cap = 0;
            ssize_t len;
            while (!rc && (len = getline(&line, &cap, stdin)) >= 0) {
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
                if (len > 0) rc = inputs_add(in, line, err);
            }
            free(line);
        } else if (!stat(args[i], &st) && S_ISDIR(st.st_mode)) {
            rc = add_folder(in, args[i], err);
        } else {
            rc = inputs_add(in, args[i], err);   /* missing files are reported on their row */
        }
        if (rc) return rc;
    }
    return 0;
}

/* ---- preprocessing: the validation transforms of the model's data ------------ */

typedef struct Prep {
    int n_in;                   /* channels decoded */
    int n_item;
    ItemTfm item[MAX_ITEM_TFMS];
    BatchTfm batch;
    int h, w;                   /* model input size (0 = from the first image) */
    ImageBuf buf[2];
    TfmScratch ts;
    AugScratch as;
} Prep;

static int prep_init(Prep *p, const ModelFileInfo *mi, const StMeta *meta, Err *err)
{
    memset(p, 0, sizeof *p);
    p->n_in = mi->n_in;
    batch_tfm_init(&p->batch);
    if (mi->item_tfms && *mi->item_tfms) {
        CfgValue *v = cfg_value_parse(mi->item_tfms, mi->path, 0, err);
        if (!v) return err_prefix(err, "%s: metadata item_tfms: ", mi->path);
        int n = cfg_list_len(v), rc = 0;
        if (n > MAX_ITEM_TFMS) rc = err_set(err, ERR_USAGE, "%s: more than %d item_tfms", mi->path, MAX_ITEM_TFMS);
        for (int i = 0; !rc && i < n; i++) rc = item_tfm_from_cfg(&p->item[i], cfg_list_at(v, i), err);
        cfg_value_free(v);
        if (rc) return err_prefix(err, "%s: metadata item_tfms: ", mi->path);
        p->n_item = n;
    }
    if (mi->batch_tfms && *mi->batch_tfms) {
        CfgValue *v = cfg_value_parse(mi->batch_tfms, mi->path, 0, err);
        if (!v) return err_prefix(err, "%s: metadata batch_tfms: ", mi->path);
        int rc = batch_tfm_from_cfg(&p->batch, v, err);
        cfg_value_free(v);
        if (rc) return err_prefix(err, "%s: metadata batch_tfms: ", mi->path);
    }
    /* Normalisation added by the learner (fastai adds it for pretrained models). */
    if (!p->batch.normalize && st_meta_get(meta, "norm_mean") && st_meta_get(meta, "norm_std")) {
        double m[3], s[3];
        size_t nm, ns;
        if (st_meta_get_numbers(meta, "norm_mean", m, 3, &nm, err) ||
            st_meta_get_numbers(meta, "norm_std", s, 3, &ns, err))
            return err_prefix(err, "%s: ", mi->path);
        p->batch.normalize = 1;
        for (int c = 0; c < 3; c++) {
            p->batch.mean[c] = (float)m[nm == 1 ? 0 : c];
            p->batch.std[c] = (float)s[ns == 1 ? 0 : c];
        }
    }
    /* Input size: the batch transform's size, else the last item transform's,
     * else the metadata's (a dataset of same-sized images). */
    if (p->batch.aug && p->batch.size_w > 0)
        p->h = p->batch.size_h, p->w = p->batch.size_w;
    else if (p->n_item)
        p->h = p->item[p->n_item - 1].h, p->w = p->item[p->n_item - 1].w;
    else if (st_meta_get(meta, "size")) {
        double hw[2];
        size_t n;
        if (st_meta_get_numbers(meta, "size", hw, 2, &n, err) || n != 2)
            return err->code ? err_prefix(err, "%s: ", mi->path)
                             : err_set(err, ERR_USAGE, "%s: metadata size: expected [h, w]", mi->path);
        p->h = (int)hw[0], p->w = (int)hw[1];
    } else {
        return err_set(err, ERR_USAGE, "%s: the metadata gives no input size (item_tfms, batch_tfms or size)",
                       mi->path);
    }
    return 0;
}

static void prep_free(Prep *p)
{
    image_buf_free(&p->buf[0]);
    image_buf_free(&p->buf[1]);
    tfm_scratch_free(&p->ts);
    aug_scratch_free(&p->as);
}

/* Decode and transform one file into x [h, w, c] floats.  The map from the
 * file's pixels to the model input's [-1, 1] coordinates is axis-aligned
 * affine for the validation transforms: u = ax*x + bx, v = ay*y + by. */
static int prep_item(Prep *p, const char *path, float *x, double map[4], Err *err)
{
    Image img = {0};
    int mw = 0, mh = 0, ow, oh;
    if (p->n_item) item_tfm_decode_hint(&p->item[0], 0, &mw, &mh);
    if (image_decode_file(path, p->n_in == 1 ? 1 : 3, mw, mh, &img, &ow, &oh, err)) return err->code;
    /* probe points: the image's corners (0,0) and (ow,oh) in its own pixels,
     * rescaled to the decoded size (DCT scaling may have shrunk it) */
    float pts[4] = {0, 0, (float)img.w, (float)img.h};
    const Image *cur = &img;
    for (int i = 0; i < p->n_item; i++) {
        ImageBuf *dst = &p->buf[i & 1];
        if (item_tfm_apply(&p->item[i], cur, 0, NULL, dst, pts, 2, &p->ts, err)) {
            image_free(&img);
            return err_prefix(err, "%s: ", path);
        }
        cur = &dst->img;
    }
    int w, h;
    batch_tfm_out_size(&p->batch, cur->w, cur->h, &w, &h);
    if (w != p->w || h != p->h) {
        image_free(&img);
        return err_set(err, ERR_RUNTIME, "%s: image is %dx%d after the transforms but the model takes %dx%d",
                       path, w, h, p->w, p->h);
    }
    for (int k = 0; k < 2; k++) {   /* pixels → [-1, 1] of the item (fastai's PointScaler) */
        pts[2 * k] = (float)(pts[2 * k] * 2.0 / cur->w - 1.0);
        pts[2 * k + 1] = (float)(pts[2 * k + 1] * 2.0 / cur->h - 1.0);
    }
    AugDraw d;
    Rng unused = rng_make(0, 0);   /* the validation draw is deterministic */
    batch_tfm_draw(&p->batch, cur->w, cur->h, 0, &unused, &d);
    batch_tfm_apply(&p->batch, &d, cur, 0, x, w, h, pts, 2, &p->as);
    /* (0,0) → pts[0..1], (ow,oh) → pts[2..3] */
    map[0] = (pts[2] - pts[0]) / ow, map[1] = pts[0];
    map[2] = (pts[3] - pts[1]) / oh, map[3] = pts[1];
    image_free(&img);
    return 0;
}

/* ---- output ------------------------------------------------------------------ */

static void print_header(const ModelFileInfo *mi, int all, int n_points)
{
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

static void print_error_row(const char *path, const char *msg)
{
    char buf[1200];
    interp_csv_field(stdout, path);
    snprintf(buf, sizeof buf, "error: %s", msg);
    fputc(',', stdout);
    interp_csv_field(stdout, buf);
    fputc('\n', stdout);
}

/* ---- the command ---------------------------------------------------------------- */

static int model_path_of(const CmdArgs *a, const Config *cfg, char *buf, size_t cap)
{
    if (a->model_path) {
        snprintf(buf, cap, "%s", a->model_path);
    } else {
        char dir[3800];
        if (!cfg_path(cfg, "output", "dir", dir, sizeof dir)) snprintf(dir, sizeof dir, "runs/%s", config_stem(cfg));
        snprintf(buf, cap, "%s/model.safetensors", dir);
    }
    return 0;
}

static int predict_images(const CmdArgs *a, const ModelFileInfo *mi, const StFile *sf, Err *err)
{
    Inputs in = {0};
    Prep prep;
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
    if ((rc = prep_init(&prep, mi, &sf->meta, err))) goto done;
    int bs = in.n < PREDICT_MAX_BS ? in.n : PREDICT_MAX_BS;
    ResnetSpec spec = resnet_spec_default(mi->arch, mi->n_out, bs, prep.h, prep.w);
    spec.n_in = mi->n_in;
    spec.has_y_range = mi->has_y_range, spec.y_lo = (float)mi->y_lo, spec.y_hi = (float)mi->y_hi;
    spec.threads = a->ctx.threads;
    if ((rc = resnet_new(&m, &spec, err))) goto done;
    if ((rc = st_load_model(m, sf, ST_LOAD_FULL, NULL, 0, err))) goto done;
    size_t per = (size_t)prep.h * prep.w * mi->n_in;
    x = malloc(sizeof(float) * per * (size_t)bs);
    maps = malloc(sizeof(double) * 4 * (size_t)bs);
    ok = malloc(sizeof(int) * (size_t)bs);
    msgs = malloc(sizeof *msgs * (size_t)bs);
    if (!x || !maps || !ok || !msgs) {
        rc = err_set(err, ERR_RUNTIME, "predict: out of memory");
        goto done;
    }
    print_header(mi, a->all, mi->n_out / 2);
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
                print_row(mi, a->all, in.v[start + i], out + (size_t)j * mi->n_out, maps + 4 * j);
                j++;
            } else {
                print_error_row(in.v[start + i], msgs[i]);
                fprintf(stderr, "fastc predict: %s\n", msgs[i]);
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

int cmd_predict(const CmdArgs *a, Err *err)
{
    Config *cfg = NULL;
    StFile *sf = NULL;
    ModelFileInfo mi;
    char path[4096];
    int rc;
    memset(&mi, 0, sizeof mi);
    if (!a->model_path && !a->config_path)
        return err_set(err, ERR_USAGE, "predict: give a CONFIG or --model FILE, then the inputs");
    if (a->config_path && !(cfg = config_load(a->config_path, a->sets, a->n_sets, err))) return err->code;
    model_path_of(a, cfg, path, sizeof path);
    if ((rc = st_open(path, &sf, err))) goto done;
    if ((rc = modelfile_info(&mi, path, &sf->meta, err))) goto done;
    if (cfg && (rc = modelfile_check(&mi, cfg, err))) goto done;
    ctx_apply_threads(&a->ctx);
    if (!strcmp(mi.task, "collab")) {
        rc = err_set(err, ERR_USAGE, "predict: collaborative-filtering models are not wired yet");
        goto done;
    }
    if (!resnet_arch_known(mi.arch)) {
        rc = err_set(err, ERR_USAGE, "%s: unknown image architecture '%s'", path, mi.arch);
        goto done;
    }
    rc = predict_images(a, &mi, sf, err);
done:
    modelfile_info_free(&mi);
    st_close(sf);
    config_free(cfg);
    return rc;
}
