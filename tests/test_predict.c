/* test_predict.c — `fastc predict --model FILE` against a model whose
 * predictions are known: a resnet18 built and saved here (random weights, with
 * the metadata fastc writes), whose outputs the test computes itself by
 * running the same model on the same validation preprocessing.  Checks the
 * CSV rows, --all, stdin and folder inputs, bad files on their rows with exit
 * status 1, multi-label thresholds, points mapped back to the file's pixels,
 * and refusals of files that are not fastc models. */
#include "check_main.h"
#include "interp/interp.h"
#include "interp/modelfile.h"
#include "interp/prep.h"
#include "io/safetensors.h"
#include "models/resnet.h"
#include "models/weights.h"
#include "testimg.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *vocab3[] = {"blue", "green", "red sky"};   /* a label with a space */

static void write_img(const char *path, int w, int h, unsigned seed)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) {
        seed = seed * 1103515245u + 12345u;
        px[i] = (uint8_t)(seed >> 16);
    }
    ti_write_png(path, w, h, 3, px);
    free(px);
}

/* Save a resnet18 with n_out outputs and fastc's metadata into dir/name. */
static void save_model(const char *path, const char *task, int n_out, int vocab, int y_range)
{
    Model *m = NULL;
    Err err = {0};
    ResnetSpec spec = resnet_spec_default("resnet18", n_out, 4, 32, 32);
    spec.seed = 7;
    if (y_range) spec.has_y_range = 1, spec.y_lo = -1, spec.y_hi = 1;
    ck_assert_msg(resnet_new(&m, &spec, &err) == 0, "%s", err.msg);
    StMeta meta;
    st_meta_init(&meta);
    st_meta_set(&meta, "task", task);
    if (vocab) st_meta_set_strings(&meta, "vocab", (const char *const *)vocab3, 3);
    st_meta_set(&meta, "item_tfms", "Resize(32)");
    st_meta_set(&meta, "batch_tfms", "Normalize.from_stats(imagenet_stats)");
    if (y_range) st_meta_set(&meta, "y_range", "[-1, 1]");
    st_meta_set(&meta, "threshold", "0.3");
    ck_assert_msg(weights_save(m, &meta, path, &err) == 0, "%s", err.msg);
    st_meta_free(&meta);
    model_free(m);
}

/* The model's raw outputs for one file, computed here: the same file loaded
 * into a fresh model, the same preprocessing (prep.h), one forward. */
static void expected_outputs(const char *model_path, const char *img, float *out, double map[4])
{
    Err err = {0};
    StFile *sf;
    ck_assert_msg(st_open(model_path, &sf, &err) == 0, "%s", err.msg);
    ModelFileInfo mi;
    ck_assert_msg(modelfile_info(&mi, model_path, &sf->meta, &err) == 0, "%s", err.msg);
    Prep prep;
    ck_assert_msg(prep_init_meta(&prep, &mi, &err) == 0, "%s", err.msg);
    ResnetSpec spec = resnet_spec_default("resnet18", mi.n_out, 1, prep.h, prep.w);
    if (mi.has_y_range) spec.has_y_range = 1, spec.y_lo = (float)mi.y_lo, spec.y_hi = (float)mi.y_hi;
    Model *m;
    ck_assert(resnet_new(&m, &spec, &err) == 0);
    ck_assert_msg(weights_load(m, sf, WEIGHTS_FULL, NULL, 0, &err) == 0, "%s", err.msg);
    float *x = malloc(sizeof(float) * prep.h * prep.w * 3);
    ck_assert_msg(prep_item(&prep, img, x, map, &err) == 0, "%s", err.msg);
    Batch b = {.n = 1, .h = prep.h, .w = prep.w, .c = 3, .x = x};
    const float *o;
    ck_assert(m->ops->forward(m, &b, MODE_EVAL, 0, &o, &err) == 0);
    memcpy(out, o, sizeof(float) * mi.n_out);
    free(x);
    model_free(m);
    prep_free(&prep);
    modelfile_info_free(&mi);
    st_close(sf);
}

static int split_lines(char *s, char **lines, int max)
{
    int n = 0;
    for (char *save, *l = strtok_r(s, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save)) lines[n++] = l;
    return n;
}

START_TEST(single_label_rows_match_the_model_and_bad_files_are_reported)
{
    char dir[256], path[4200], model[4200], cmd[8192], out[16384];
    tu_tmpdir(dir, sizeof dir);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    save_model(model, "single_label", 3, 1, 0);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_img(path, 40, 32, 1);
    snprintf(path, sizeof path, "%s/sub/b,c.png", dir);   /* a comma: the CSV quotes it */
    tu_write(dir, "sub/b,c.png", "", 0, path, sizeof path);
    write_img(path, 32, 50, 2);
    tu_write(dir, "broken.png", "\x89PNG\r\n\x1a\nxx", 10, path, sizeof path);
    snprintf(cmd, sizeof cmd, "cd %s && (%s predict --model model.safetensors a.png nope.jpg broken.png sub --all 2>err.txt)",
             dir, tu_fastc());
    int rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 1, "rc %d: %s", rc, out);
    char *l[10];
    int n = split_lines(out, l, 10);
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(l[0], "path,prediction,probability,blue,green,red sky");
    const char *files[] = {"a.png", "sub/b,c.png"};
    const char *rows[] = {l[1], l[4]};
    for (int f = 0; f < 2; f++) {
        float o[3], p[3];
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        expected_outputs(model, path, o, NULL);
        interp_softmax(p, o, 1, 3);
        int32_t k;
        interp_argmax(&k, o, 1, 3);
        char want[512];
        snprintf(want, sizeof want, f == 0 ? "%s,%s,%.6f,%.6f,%.6f,%.6f" : "\"%s\",%s,%.6f,%.6f,%.6f,%.6f",
                 files[f], vocab3[k], p[k], p[0], p[1], p[2]);
        ck_assert_str_eq(rows[f], want);
    }
    ck_assert_msg(!strncmp(l[2], "nope.jpg,error: ", 16), "%s", l[2]);
    ck_assert_msg(!strncmp(l[3], "broken.png,error: ", 18), "%s", l[3]);
    /* the same from stdin, one path per line */
    snprintf(cmd, sizeof cmd, "cd %s && (printf 'a.png\\n' | %s predict --model model.safetensors - 2>/dev/null)", dir,
             tu_fastc());
    rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    ck_assert_msg(!strncmp(out, "path,prediction,probability\na.png,", 34), "%s", out);
    tu_rmtree(dir);
}
END_TEST

START_TEST(multi_label_lists_labels_above_the_threshold)
{
    char dir[256], path[4200], model[4200], cmd[8192], out[16384];
    tu_tmpdir(dir, sizeof dir);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    save_model(model, "multi_label", 3, 1, 0);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_img(path, 32, 32, 3);
    snprintf(cmd, sizeof cmd, "cd %s && %s predict --model model.safetensors a.png", dir, tu_fastc());
    int rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "%s", out);
    float o[3], p[3];
    expected_outputs(model, path, o, NULL);
    interp_sigmoid(p, o, 3);
    char labels[256] = "", probs[256] = "";
    for (int j = 0; j < 3; j++)
        if (p[j] > 0.3f) {   /* the file's threshold */
            snprintf(labels + strlen(labels), 100, "%s%s", *labels ? ";" : "", vocab3[j]);
            snprintf(probs + strlen(probs), 100, "%s%.6f", *probs ? ";" : "", p[j]);
        }
    char want[1024];
    snprintf(want, sizeof want, "path,prediction,probability\na.png,%s,%s\n", labels, probs);
    ck_assert_str_eq(out, want);
    tu_rmtree(dir);
}
END_TEST

START_TEST(points_come_back_in_the_files_own_pixels)
{
    char dir[256], path[4200], model[4200], cmd[8192], out[16384];
    tu_tmpdir(dir, sizeof dir);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    save_model(model, "points", 4, 0, 1);   /* two points */
    snprintf(path, sizeof path, "%s/wide.png", dir);
    write_img(path, 64, 48, 4);
    snprintf(cmd, sizeof cmd, "cd %s && %s predict --model model.safetensors wide.png", dir, tu_fastc());
    int rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "%s", out);
    float o[4];
    double map[4];
    expected_outputs(model, path, o, map);
    /* Resize(32) on 64x48 (crop, centred on validation): a 48x48 box at x0 = 8,
     * scaled by 32/48; so u = ((x - 8) * 32/48) * 2/32 - 1 and back:
     * x = (u + 1) * 16 * 48/32 + 8, y = (v + 1) * 16 * 48/32. */
    ck_assert_double_eq_tol(map[0], 1.0 / 24, 1e-6);
    ck_assert_double_eq_tol(map[1], -8.0 / 24 - 1, 1e-6);
    ck_assert_double_eq_tol(map[2], 1.0 / 24, 1e-6);
    ck_assert_double_eq_tol(map[3], -1, 1e-6);
    char want[512];
    snprintf(want, sizeof want, "path,x0,y0,x1,y1\nwide.png,%.2f,%.2f,%.2f,%.2f\n", (o[0] + 1) * 24 + 8,
             (o[1] + 1) * 24, (o[2] + 1) * 24 + 8, (o[3] + 1) * 24);
    ck_assert_str_eq(out, want);
    tu_rmtree(dir);
}
END_TEST

START_TEST(files_that_are_not_fastc_models_are_refused)
{
    char dir[256], path[4200], cmd[8192], out[16384];
    tu_tmpdir(dir, sizeof dir);
    /* a safetensors file with a tensor but no fastc metadata (e.g. torchvision weights) */
    StWriter *w = st_writer_new();
    float v[2] = {1, 2};
    int64_t shape[1] = {2};
    Err err = {0};
    ck_assert(st_writer_add(w, "fc.bias", ST_F32, 1, shape, v, &err) == 0);
    snprintf(path, sizeof path, "%s/tv.safetensors", dir);
    ck_assert(st_writer_write(w, path, &err) == 0);
    st_writer_free(w);
    snprintf(cmd, sizeof cmd, "cd %s && %s predict --model tv.safetensors x.png", dir, tu_fastc());
    int rc = tu_run(cmd, out, sizeof out);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(out, "tv.safetensors: not a fastc model file"), "%s", out);
    /* no inputs at all */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    save_model(path, "single_label", 3, 1, 0);
    snprintf(cmd, sizeof cmd, "cd %s && %s predict --model model.safetensors", dir, tu_fastc());
    rc = tu_run(cmd, out, sizeof out);
    ck_assert_int_eq(rc, 2);
    tu_rmtree(dir);
}
END_TEST

START_TEST(grayscale_and_rgba_inputs_predict_like_their_rgb_versions)
{
    /* A gray PNG must give the row of the RGB PNG with the value in all three
     * channels (fastai's PILImage.create converts to RGB), an RGBA PNG the row
     * of the same RGB without its alpha. */
    char dir[256], path[4200], model[4200], cmd[8192], out[16384];
    tu_tmpdir(dir, sizeof dir);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    save_model(model, "single_label", 3, 1, 0);
    enum { W = 36, H = 30 };
    uint8_t g[W * H], rgb_g[W * H * 3], rgba[W * H * 4], rgb[W * H * 3];
    unsigned seed = 5;
    for (int i = 0; i < W * H; i++) {
        seed = seed * 1103515245u + 12345u;
        g[i] = (uint8_t)(seed >> 16);
        for (int c = 0; c < 3; c++) {
            rgb_g[i * 3 + c] = g[i];
            seed = seed * 1103515245u + 12345u;
            rgb[i * 3 + c] = rgba[i * 4 + c] = (uint8_t)(seed >> 16);
        }
        rgba[i * 4 + 3] = (uint8_t)(i * 7);   /* alpha is dropped, not blended */
    }
    snprintf(path, sizeof path, "%s/gray.png", dir);
    ti_write_png(path, W, H, 1, g);
    snprintf(path, sizeof path, "%s/gray_as_rgb.png", dir);
    ti_write_png(path, W, H, 3, rgb_g);
    snprintf(path, sizeof path, "%s/rgba.png", dir);
    ti_write_png(path, W, H, 4, rgba);
    snprintf(path, sizeof path, "%s/rgb.png", dir);
    ti_write_png(path, W, H, 3, rgb);
    snprintf(cmd, sizeof cmd, "cd %s && %s predict --model model.safetensors gray.png gray_as_rgb.png rgba.png rgb.png --all",
             dir, tu_fastc());
    int rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "%s", out);
    char *l[8];
    ck_assert_int_eq(split_lines(out, l, 8), 5);
    ck_assert_str_eq(strchr(l[1], ','), strchr(l[2], ','));
    ck_assert_str_eq(strchr(l[3], ','), strchr(l[4], ','));
    ck_assert_str_ne(strchr(l[1], ','), strchr(l[3], ','));   /* different images differ */
    tu_rmtree(dir);
}
END_TEST

/* A resnet18 with n_in input channels and n_out outputs. */
static Model *crafted_model(int n_in, int n_out)
{
    Model *m = NULL;
    Err err = {0};
    ResnetSpec spec = resnet_spec_default("resnet18", n_out, 2, 32, 32);
    spec.n_in = n_in;
    spec.seed = 3;
    ck_assert_msg(resnet_new(&m, &spec, &err) == 0, "%s", err.msg);
    return m;
}

/* Save m (crafted_model's, n_out outputs) with a valid single-label metadata
 * set, then `over` (key=value pairs, NULL-terminated) written over it: a
 * crafted file.  One model serves many files: building a resnet18 costs more
 * than saving it. */
static void save_crafted(const char *path, Model *m, int n_out, const char *const *over)
{
    Err err = {0};
    StMeta meta;
    st_meta_init(&meta);
    st_meta_set(&meta, "task", "single_label");
    const char *labels[] = {"a", "b", "c", "d"};
    st_meta_set_strings(&meta, "vocab", labels, (size_t)n_out);
    st_meta_set(&meta, "item_tfms", "Resize(32)");
    st_meta_set(&meta, "norm_mean", "[0.5, 0.5, 0.5]");
    st_meta_set(&meta, "norm_std", "[0.25, 0.25, 0.25]");
    for (int i = 0; over && over[i]; i += 2) st_meta_set(&meta, over[i], over[i + 1]);
    ck_assert_msg(weights_save(m, &meta, path, &err) == 0, "%s", err.msg);
    st_meta_free(&meta);
}

/* Run `fastc <args>` in dir: exit status 1, the message on stderr, nothing
 * on stdout, no sanitizer report (ASan also exits 1). */
static void expect_refused(const char *dir, const char *args, const char *msg)
{
    char cmd[8192], out[16384];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s", dir, tu_fastc(), args);
    int rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 1, "%s: rc %d: %s", args, rc, out);
    ck_assert_msg(strstr(out, msg), "%s: expected '%s' in: %s", args, msg, out);
    ck_assert_msg(!strstr(out, "Sanitizer") && !strstr(out, "runtime error"), "%s: %s", args, out);
    ck_assert_msg(!strstr(out, "path,"), "%s: printed predictions: %s", args, out);
}

START_TEST(crafted_metadata_is_refused_before_use)
{
    char dir[256], path[4200];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_img(path, 40, 32, 1);
    /* input channels the decoder does not make: were a heap overflow (2) and
     * predictions from uninitialised memory (4, 64) */
    const int n_ins[] = {2, 4, 64};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/nin%d.safetensors", dir, n_ins[k]);
        Model *m = crafted_model(n_ins[k], 2);
        save_crafted(path, m, 2, NULL);
        model_free(m);
        char args[256], msg[128];
        snprintf(args, sizeof args, "predict --model nin%d.safetensors a.png", n_ins[k]);
        snprintf(msg, sizeof msg, "nin%d.safetensors: metadata n_in = '%d': expected 1 or 3", n_ins[k], n_ins[k]);
        expect_refused(dir, args, msg);
    }
    /* every other field, out of range or inconsistent */
    static const struct { const char *key, *val, *msg; } cases[] = {
        {"n_out", "4294967300", "metadata n_out = '4294967300': expected an integer in 1..100000"},
        {"n_out", "-2", "metadata n_out = '-2'"},
        {"n_out", "3", "metadata vocab has 2 labels but the model has 3 outputs"},
        {"n_in", "3x", "metadata n_in = '3x'"},
        {"size", "[1e300, 1e300]", "metadata size = '[1e300, 1e300]': expected [h, w], integers in 1..65536"},
        {"size", "[32.5, 32]", "metadata size = '[32.5, 32]'"},
        {"size", "[32]", "metadata size = '[32]'"},
        {"task", "segmentation", "metadata task = 'segmentation': expected single_label, multi_label"},
        {"arch", "resnet99", "metadata arch = 'resnet99': expected resnet18, resnet34, resnet50"},
        {"vocab", "[\"a\", \"a\"]", "metadata vocab: the label 'a' appears twice"},
        {"vocab", "[\"a\"]", "metadata vocab has 1 labels but the model has 2 outputs"},
        {"threshold", "nan", "metadata threshold = 'nan': expected a number in [0, 1]"},
        {"threshold", "7", "metadata threshold = '7'"},
        {"y_range", "[1, -1]", "metadata y_range = '[1, -1]': expected [lo, hi], finite numbers with lo < hi"},
        {"y_range", "[0, 1e300]", "metadata y_range = '[0, 1e300]'"},
        {"norm_std", "[0.2, 0, 0.2]", "metadata norm_std = '[0.2, 0, 0.2]': expected a list of 1 or 3 positive"},
        {"norm_std", "[0.2, 0.2]", "metadata norm_std = '[0.2, 0.2]'"},
        {"norm_mean", "[]", "metadata norm_mean = '[]'"},
        {"norm_mean", "[1e300]", "metadata norm_mean = '[1e300]'"},
        {"item_tfms", "Resize(1e300)", "metadata item_tfms: Resize() size: found number 1e+300, expected a size"},
        {"item_tfms", "Resize(", "metadata item_tfms: found end of value"},
        {"batch_tfms", "aug_transforms(size=1e300)", "metadata batch_tfms: aug_transforms() size: found number 1e+300"},
    };
    Model *m3 = crafted_model(3, 2);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *over[] = {cases[k].key, cases[k].val, NULL};
        snprintf(path, sizeof path, "%s/m%zu.safetensors", dir, k);
        save_crafted(path, m3, 2, over);
        char args[256], msg[512];
        snprintf(args, sizeof args, "predict --model m%zu.safetensors a.png", k);
        snprintf(msg, sizeof msg, "m%zu.safetensors: %s", k, cases[k].msg);
        expect_refused(dir, args, msg);
    }
    model_free(m3);
    /* interpret reads the same metadata first (no data needed to refuse it) */
    static const char cfg[] = "[data]\npath = .\nblocks = ImageBlock, CategoryBlock\nget_items = get_image_files\n"
                              "get_y = parent_label\nitem_tfms = Resize(32)\n[model]\narch = resnet18\n"
                              "[train]\nschedule = fit_one_cycle(1, 1e-3)\n";
    tu_write(dir, "c.ini", cfg, sizeof cfg - 1, path, sizeof path);
    expect_refused(dir, "interpret c.ini --checkpoint nin2.safetensors", "nin2.safetensors: metadata n_in = '2'");
    expect_refused(dir, "interpret c.ini --checkpoint m0.safetensors", "metadata n_out = '4294967300'");
    expect_refused(dir, "interpret c.ini --checkpoint m7.safetensors", "metadata task = 'segmentation'");
    tu_rmtree(dir);
}
END_TEST

START_TEST(a_model_with_nan_weights_is_refused)
{
    /* A first convolution all NaN (a diverged run, a damaged download): with
     * ReLU letting NaN through the predictions would be NaN; the file is
     * refused on load, naming the tensor, before anything is predicted. */
    char dir[256], path[4200];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_img(path, 32, 32, 1);
    Model *m = NULL;
    Err err = {0};
    ResnetSpec spec = resnet_spec_default("resnet18", 2, 2, 32, 32);
    ck_assert_msg(resnet_new(&m, &spec, &err) == 0, "%s", err.msg);
    Param *conv = model_param(m, "0.0.weight");
    ck_assert_ptr_nonnull(conv);
    for (size_t i = 0; i < conv->n; i++) conv->w[i] = NAN;
    StMeta meta;
    st_meta_init(&meta);
    st_meta_set(&meta, "task", "single_label");
    st_meta_set(&meta, "vocab", "[\"a\", \"b\"]");
    st_meta_set(&meta, "item_tfms", "Resize(32)");
    snprintf(path, sizeof path, "%s/nan.safetensors", dir);
    ck_assert_msg(weights_save(m, &meta, path, &err) == 0, "%s", err.msg);
    st_meta_free(&meta);
    model_free(m);
    expect_refused(dir, "predict --model nan.safetensors a.png",
                   "nan.safetensors: tensor '0.0.weight': value 0 of 9408 is NaN; weights must be finite");
    tu_rmtree(dir);
}
END_TEST

/* A single-label resnet18 file (2 outputs, labels a b) written tensor by
 * tensor: counters as `counter_dt`, the param named `as_i64` as I64, the
 * param named `drop` left out, metadata `key` = `val` on top. */
static void write_variant(const char *path, StDtype counter_dt, const char *as_i64, const char *drop, const char *key,
                          const char *val)
{
    Model *m = NULL;
    Err err = {0};
    ResnetSpec spec = resnet_spec_default("resnet18", 2, 2, 32, 32);
    ck_assert_msg(resnet_new(&m, &spec, &err) == 0, "%s", err.msg);
    StWriter *w = st_writer_new();
    StMeta *meta = st_writer_meta(w);
    st_meta_set(meta, "fastc_format", "1");
    st_meta_set(meta, "arch", "resnet18");
    st_meta_set(meta, "n_in", "3");
    st_meta_set(meta, "n_out", "2");
    st_meta_set(meta, "task", "single_label");
    st_meta_set(meta, "vocab", "[\"a\", \"b\"]");
    st_meta_set(meta, "item_tfms", "Resize(32)");
    if (key) st_meta_set(meta, key, val);
    static uint64_t counts[64];
    static int64_t zeros[4096];
    for (int i = 0; i < m->n_params; i++) {
        const Param *p = &m->params[i];
        if (drop && !strcmp(p->name, drop)) continue;
        if (p->kind == PARAM_COUNTER && counter_dt != ST_I64) {
            counts[i % 64] = 7;
            ck_assert(st_writer_add(w, p->name, counter_dt, p->ndim, p->shape, &counts[i % 64], &err) == 0);
        } else if (as_i64 && !strcmp(p->name, as_i64)) {
            ck_assert(p->n <= 4096);
            ck_assert(st_writer_add(w, p->name, ST_I64, p->ndim, p->shape, zeros, &err) == 0);
        } else {
            ck_assert(weights_add(w, p, 1, &err) == 0);
        }
    }
    ck_assert_msg(st_writer_write(w, path, &err) == 0, "%s", err.msg);
    st_writer_free(w);
    model_free(m);
}

static int run_in(const char *dir, const char *args, char *out, size_t cap)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s", dir, tu_fastc(), args);
    return tu_run(cmd, out, cap);
}

START_TEST(unusable_model_files_follow_one_exit_status_rule)
{
    /* README "Files fastc writes": 2 when the file is sound but not the one
     * the config or command needs, 1 when it is damaged or holds what no
     * fastc model can. */
    char dir[256], path[4200], out[16384];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_img(path, 32, 32, 1);
    /* U64 counters (PyTorch's uint64) are read, not refused */
    snprintf(path, sizeof path, "%s/u64.safetensors", dir);
    write_variant(path, ST_U64, NULL, NULL, NULL, NULL);
    int rc = run_in(dir, "predict --model u64.safetensors a.png", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "path,prediction,probability\na.png,"), "rc %d: %s", rc, out);
    /* damaged: 1 */
    static const struct { StDtype counter; const char *as_i64, *drop, *key, *val, *msg; } broken[] = {
        {ST_BOOL, NULL, NULL, NULL, NULL, "tensor '0.1.num_batches_tracked': dtype BOOL, expected an integer or"},
        {ST_I64, "0.1.weight", NULL, NULL, NULL, "tensor '0.1.weight': dtype I64, expected F32 (or F16, BF16, F64)"},
        {ST_I64, NULL, "1.8.weight", NULL, NULL, "tensor '1.8.weight' is missing: the file is not a resnet18 model (a "
                                                 "damaged file?)"},
        /* shape against the file's own metadata: it says 3 outputs, its head has 2 */
        {ST_I64, NULL, NULL, "n_out", "3", "metadata vocab has 2 labels but the model has 3 outputs"},
        {ST_I64, NULL, NULL, "vocab", "[\"a\", \"b\", \"c\"]", "metadata vocab has 3 labels but the model has 2"},
    };
    for (size_t k = 0; k < sizeof broken / sizeof broken[0]; k++) {
        snprintf(path, sizeof path, "%s/b%zu.safetensors", dir, k);
        write_variant(path, broken[k].counter, broken[k].as_i64, broken[k].drop, broken[k].key, broken[k].val);
        char args[128];
        snprintf(args, sizeof args, "predict --model b%zu.safetensors a.png", k);
        rc = run_in(dir, args, out, sizeof out);
        ck_assert_msg(rc == 1 && strstr(out, broken[k].msg), "%s: rc %d: %s", args, rc, out);
    }
    /* the head's shape contradicting n_out (both metadata keys agree on 3) */
    snprintf(path, sizeof path, "%s/shape.safetensors", dir);
    write_variant(path, ST_I64, NULL, NULL, "n_out", "3");
    StFile *f;
    Err err = {0};
    ck_assert(st_open(path, &f, &err) == 0);
    Model *m3;
    ResnetSpec spec = resnet_spec_default("resnet18", 3, 1, 32, 32);
    ck_assert(resnet_new(&m3, &spec, &err) == 0);
    ck_assert_int_eq(weights_load(m3, f, WEIGHTS_FULL, NULL, 0, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "tensor '1.8.weight': shape [2, 512], expected [3, 512]"), "%s", err.msg);
    model_free(m3);
    st_close(f);
    /* truncated at any of a few lengths: 1 */
    snprintf(path, sizeof path, "%s/u64.safetensors", dir);
    size_t n;
    uint8_t *bytes = ti_read_all(path, &n);
    ck_assert_ptr_nonnull(bytes);
    const size_t cuts[] = {4, 100, n / 2, n - 1};
    for (int k = 0; k < 4; k++) {
        tu_write(dir, "cut.safetensors", bytes, cuts[k], path, sizeof path);
        rc = run_in(dir, "predict --model cut.safetensors a.png", out, sizeof out);
        ck_assert_msg(rc == 1 && (strstr(out, "truncated") || strstr(out, "read failed")), "cut %zu: rc %d: %s",
                      cuts[k], rc, out);
    }
    free(bytes);
    /* sound but not what is needed: 2 */
    snprintf(path, sizeof path, "%s/future.safetensors", dir);
    write_variant(path, ST_I64, NULL, NULL, "fastc_format", "2");
    rc = run_in(dir, "predict --model future.safetensors a.png", out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "fastc file format '2'; this fastc reads format 1"), "rc %d: %s", rc, out);
    static const char cfg[] = "[data]\npath = .\nblocks = ImageBlock, CategoryBlock\nget_items = get_image_files\n"
                              "get_y = parent_label\nitem_tfms = Resize(32)\n[model]\narch = resnet34\n"
                              "[train]\nschedule = fit_one_cycle(1, 1e-3)\n[output]\ndir = run\n";
    tu_write(dir, "c34.ini", cfg, sizeof cfg - 1, path, sizeof path);
    snprintf(path, sizeof path, "%s/run/model.safetensors", dir);
    tu_write(dir, "run/model.safetensors", "", 0, path, sizeof path);
    write_variant(path, ST_I64, NULL, NULL, NULL, NULL);
    rc = run_in(dir, "predict c34.ini a.png", out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "is a resnet18 single_label model") && strstr(out, "expects a resnet34"),
                  "rc %d: %s", rc, out);
    tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("predict");
    TCase *tc = tcase_create("predict");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, single_label_rows_match_the_model_and_bad_files_are_reported);
    tcase_add_test(tc, multi_label_lists_labels_above_the_threshold);
    tcase_add_test(tc, points_come_back_in_the_files_own_pixels);
    tcase_add_test(tc, files_that_are_not_fastc_models_are_refused);
    tcase_add_test(tc, grayscale_and_rgba_inputs_predict_like_their_rgb_versions);
    tcase_add_test(tc, crafted_metadata_is_refused_before_use);
    tcase_add_test(tc, a_model_with_nan_weights_is_refused);
    tcase_add_test(tc, unusable_model_files_follow_one_exit_status_rule);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
