/* test_outputs.c — fastc's results as another program reads them: the --json
 * output of interpret, predict, summary and show_batch for every image task
 * (parsed back with the project's strict JSON reader), the files interpret
 * lists, thresholds.png, and the interpret flags a task has no use for being
 * refused (exit 2) instead of ignored.
 *
 * One small data set serves three tasks: 16x16 PNGs of three noisy colours
 * (blue, green, red) in train/ and valid/ folders (single-label by folder),
 * labels.csv giving each image its colour and "light" or "dark"
 * (multi-label), and centers.csv giving a point per image (points).  Each
 * model trains one short epoch: the tests check the shape and consistency
 * of the output, not the model's quality. */
#include "check_main.h"
#include "io/json.h"
#include "testimg.h"
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char g_dir[256];
static int g_ready = -1;
static char out[1 << 18];

static const uint8_t COLORS[3][3] = {{30, 40, 220}, {40, 200, 50}, {220, 40, 30}};
static const char *NAMES[3] = {"blue", "green", "red"};
enum { N_TRAIN = 4, N_VALID = 2, S = 16 };

static void write_img(const char *path, int color, unsigned seed, int light)
{
    uint8_t px[S * S * 3];
    for (int i = 0; i < S * S; i++)
        for (int c = 0; c < 3; c++) {
            seed = seed * 1103515245u + 12345u;
            int v = COLORS[color][c] / (light ? 1 : 2) + (int)((seed >> 16) % 21) - 10;
            px[i * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    ti_write_png(path, S, S, 3, px);
}

static const char *COMMON = "item_tfms  = Resize(16)\nbs = 4\n[train]\nschedule = fit_one_cycle(1, 1e-3)\n"
                            "[model]\narch = resnet18\n";

enum { STDOUT, BOTH, STDERR };

/* Run `fastc <args>` in the data folder; what `which` says in out. */
static int run(int which, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(int which, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd %s && { %s %s%s; }", g_dir, tu_fastc(), args,
             which == STDOUT ? " 2>/dev/null" : which == STDERR ? " 2>&1 >/dev/null" : "");
    return tu_run(cmd, out, sizeof out);
}

static int ready(void)
{
    if (g_ready >= 0) return g_ready;
    char path[4200], csv[8192], pts[8192], cfg[2048];
    size_t nc = 0, np = 0;
    tu_tmpdir(g_dir, sizeof g_dir);
    nc += (size_t)snprintf(csv + nc, sizeof csv - nc, "fname,labels,is_valid\n");
    np += (size_t)snprintf(pts + np, sizeof pts - np, "file,x,y\n");
    unsigned seed = 1;
    for (int split = 0; split < 2; split++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < (split ? N_VALID : N_TRAIN); i++) {
                char rel[128];
                snprintf(rel, sizeof rel, "%s/%s/%s%d.png", split ? "valid" : "train", NAMES[c], NAMES[c], i);
                tu_write(g_dir, rel, "", 0, path, sizeof path);   /* folders */
                write_img(path, c, seed++, i % 2);
                nc += (size_t)snprintf(csv + nc, sizeof csv - nc, "%s,%s %s,%s\n", rel, NAMES[c],
                                       i % 2 ? "light" : "dark", split ? "True" : "False");
                np += (size_t)snprintf(pts + np, sizeof pts - np, "%s,%d,%d\n", rel, 3 + c * 4, 12 - i);
            }
    tu_write(g_dir, "labels.csv", csv, nc, path, sizeof path);
    tu_write(g_dir, "centers.csv", pts, np, path, sizeof path);
    int n = snprintf(cfg, sizeof cfg,
                     "[data]\npath = .\nblocks = ImageBlock, CategoryBlock\nget_y = parent_label\n"
                     "get_items = get_image_files(folders=['train', 'valid'])\n"
                     "splitter = GrandparentSplitter(train_name='train', valid_name='valid')\n%s"
                     "[output]\ndir = run_single\n", COMMON);
    tu_write(g_dir, "single.ini", cfg, (size_t)n, path, sizeof path);
    n = snprintf(cfg, sizeof cfg,
                 "[data]\npath = .\ncsv = labels.csv\nblocks = ImageBlock, MultiCategoryBlock\n"
                 "get_x = ColReader('fname')\nget_y = ColReader('labels', label_delim=' ')\n"
                 "splitter = ColSplitter('is_valid')\n%s[learner]\nmetrics = accuracy_multi(thresh=0.4)\n"
                 "[output]\ndir = run_multi\n", COMMON);
    tu_write(g_dir, "multi.ini", cfg, (size_t)n, path, sizeof path);
    n = snprintf(cfg, sizeof cfg,
                 "[data]\npath = .\nblocks = ImageBlock, PointBlock\nget_y = PointsFromCSV('centers.csv')\n"
                 "get_items = get_image_files(folders=['train', 'valid'])\n"
                 "splitter = GrandparentSplitter(train_name='train', valid_name='valid')\n%s"
                 "y_range = (-1, 1)\n[output]\ndir = run_points\n", COMMON);
    tu_write(g_dir, "points.ini", cfg, (size_t)n, path, sizeof path);
    g_ready = 1;
    const char *tasks[] = {"single", "multi", "points"};
    for (int t = 0; t < 3; t++) {
        int rc = run(BOTH, "train %s.ini --quiet --threads 2", tasks[t]);
        if (rc) {
            fprintf(stderr, "training %s failed (%d):\n%s\n", tasks[t], rc, out);
            g_ready = 0;
        }
    }
    return g_ready;
}

static Json *parse(const char *text, size_t n)
{
    Err e = {0};
    while (n > 0 && text[n - 1] == '\n') n--;
    Json *j = json_parse(text, n, &e);
    ck_assert_msg(j, "not one JSON value (%s): %.*s", e.msg, (int)n, text);
    return j;
}

static Json *parse_out(void) { return parse(out, strlen(out)); }

static int exists(const char *rel)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* Every name in the "files" list exists in dir, and the list holds want[]. */
static void check_files(const Json *j, const char *dir, const char *const *want, int n_want)
{
    const Json *files = json_get(j, "files");
    ck_assert(files && files->type == JSON_ARRAY);
    for (size_t i = 0; i < json_len(files); i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "%s/%s", dir, json_at(files, i)->str);
        ck_assert_msg(exists(rel), "listed but missing: %s", rel);
    }
    for (int k = 0; k < n_want; k++) {
        int found = 0;
        for (size_t i = 0; i < json_len(files); i++) found |= !strcmp(json_at(files, i)->str, want[k]);
        ck_assert_msg(found, "%s not in the files list", want[k]);
    }
}

static double num(const Json *j, const char *key)
{
    const Json *v = json_get(j, key);
    ck_assert_msg(v && v->type == JSON_NUMBER, "%s: not a number", key);
    return v->num;
}

START_TEST(interpret_json_single_label)
{
    ck_assert_msg(ready(), "the models did not train");
    ck_assert_int_eq(run(STDOUT, "interpret single.ini --json --most-confused --top-losses 2"), 0);
    Json *j = parse_out();
    ck_assert_str_eq(json_get(j, "task")->str, "single_label");
    ck_assert(strstr(json_get(j, "model")->str, "run_single/model.safetensors"));
    ck_assert_int_eq((int)num(j, "valid_items"), 3 * N_VALID);
    const Json *vocab = json_get(j, "vocab"), *cm = json_get(j, "confusion");
    ck_assert_int_eq(json_len(vocab), 3);
    ck_assert_str_eq(json_at(vocab, 2)->str, "red");
    ck_assert_int_eq(json_len(cm), 3);
    for (int a = 0; a < 3; a++) {   /* each actual class has its N_VALID items somewhere in its row */
        int64_t row = 0;
        for (int p = 0; p < 3; p++) row += json_at(json_at(cm, a), p)->i;
        ck_assert_int_eq(row, N_VALID);
    }
    /* the pairs seen at least once (--min 1) */
    const Json *mc = json_get(j, "most_confused");
    ck_assert(mc && mc->type == JSON_ARRAY);
    int64_t off = 0;   /* as many as the confusion's off-diagonal cells say */
    for (int a = 0; a < 3; a++)
        for (int p = 0; p < 3; p++) off += a != p && json_at(json_at(cm, a), p)->i > 0;
    ck_assert_int_eq(json_len(mc), off);
    for (size_t k = 0; k < json_len(mc); k++) {
        ck_assert(json_get(json_at(mc, k), "count")->i >= 1);
        ck_assert_str_ne(json_get(json_at(mc, k), "actual")->str, json_get(json_at(mc, k), "predicted")->str);
    }
    const Json *top = json_get(j, "top_losses");
    ck_assert_int_eq(json_len(top), 2);
    ck_assert(num(json_at(top, 0), "loss") >= num(json_at(top, 1), "loss"));
    ck_assert(strstr(json_get(json_at(top, 0), "path")->str, "valid/"));
    ck_assert(num(json_at(top, 0), "prob_predicted") > 0 && num(json_at(top, 0), "prob_predicted") <= 1);
    const char *want[] = {"confusion.csv", "confusion.png", "most_confused.csv", "top_losses.csv", "top_losses.png"};
    check_files(j, "run_single", want, 5);
    json_free(j);
}
END_TEST

/* --thresholds writes thresholds.png beside thresholds.csv (text or JSON),
 * and the JSON sweep picks the best threshold as the text does. */
START_TEST(interpret_json_multi_label_and_thresholds_png)
{
    ck_assert_msg(ready(), "the models did not train");
    ck_assert_int_eq(run(STDOUT, "interpret multi.ini --thresholds"), 0);
    ck_assert_msg(strstr(out, "best threshold: "), "%s", out);
    ck_assert(exists("run_multi/thresholds.png") && exists("run_multi/thresholds.csv"));
    ck_assert_int_eq(run(STDOUT, "interpret multi.ini --thresholds --top-losses 3 --json"), 0);
    Json *j = parse_out();
    ck_assert_str_eq(json_get(j, "task")->str, "multi_label");
    ck_assert_double_eq(num(j, "threshold"), 0.4);
    ck_assert(num(j, "accuracy_multi") >= 0 && num(j, "accuracy_multi") <= 1);
    const Json *pc = json_get(j, "per_class");
    ck_assert_int_eq(json_len(pc), 5);   /* blue dark green light red */
    ck_assert_str_eq(json_get(json_at(pc, 0), "label")->str, "blue");
    ck_assert_int_eq(json_get(json_at(pc, 0), "support")->i, N_VALID);
    const Json *th = json_get(j, "thresholds");
    ck_assert_int_eq(json_len(th), 29);
    double best = -1, at = 0;
    for (size_t i = 0; i < json_len(th); i++)
        if (num(json_at(th, i), "accuracy_multi") > best) best = num(json_at(th, i), "accuracy_multi"),
                                                          at = num(json_at(th, i), "threshold");
    ck_assert_double_eq(num(j, "best_threshold"), at);
    ck_assert_double_eq_tol(num(json_at(th, 0), "threshold"), 0.05, 1e-12);
    const Json *top = json_get(j, "top_losses");
    ck_assert_int_eq(json_len(top), 3);
    ck_assert(json_get(json_at(top, 0), "actual")->type == JSON_ARRAY &&
              json_get(json_at(top, 0), "missed")->type == JSON_ARRAY);
    const char *want[] = {"per_class.csv", "thresholds.csv", "thresholds.png", "top_losses.csv", "top_losses.png"};
    check_files(j, "run_multi", want, 5);
    json_free(j);
    /* a PNG of the lesson's plot size */
    char p[4200];
    snprintf(p, sizeof p, "%s/run_multi/thresholds.png", g_dir);
    size_t n;
    uint8_t *b = ti_read_all(p, &n);
    ck_assert(b && n > 24 && !memcmp(b, "\x89PNG", 4));
    ck_assert_int_eq((b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19], 640);
    free(b);
}
END_TEST

START_TEST(interpret_json_points)
{
    ck_assert_msg(ready(), "the models did not train");
    ck_assert_int_eq(run(STDOUT, "interpret points.ini --top-losses 2 --json"), 0);
    Json *j = parse_out();
    ck_assert_str_eq(json_get(j, "task")->str, "points");
    ck_assert(num(j, "mean_point_error_px") >= 0 && num(j, "baseline_point_error_px") >= 0);
    ck_assert(num(j, "mean_point_error_input_px") >= 0);
    ck_assert_int_eq(json_at(json_get(j, "input_size"), 0)->i, 16);
    ck_assert_int_eq(json_len(json_get(j, "top_losses")), 2);
    const char *want[] = {"point_errors.csv", "results.png", "top_losses.png"};
    check_files(j, "run_points", want, 3);
    json_free(j);
}
END_TEST

/* Flags the task has no use for: exit 2, one line naming the flag, the
 * config's task and what it takes; nothing is read or written, and the model
 * file need not exist. */
START_TEST(interpret_refuses_flags_of_other_tasks)
{
    ck_assert_msg(ready(), "the models did not train");
    struct { const char *args, *text; } cases[] = {
        {"single.ini --thresholds", "found --thresholds, expected options that apply to a single-label classifier"},
        {"single.ini --similar 'x'", "found --similar"},
        {"multi.ini --confusion", "found --confusion, expected options that apply to a multi-label classifier"},
        {"points.ini --most-confused", "found --most-confused, expected options that apply to a point regression"},
        {"points.ini --confusion", "found --confusion"},
        {"points.ini --thresholds --top-losses 2", "found --thresholds"},
        /* the flag is checked against the config's task before the model
         * file is looked for: a usage error even where nothing is trained */
        {"single.ini --similar 'x' --set output.dir=run_absent",
         "found --similar, expected options that apply to a single-label classifier (single.ini trains one)"},
        {"points.ini --confusion --checkpoint absent.safetensors", "found --confusion"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run(STDERR, "interpret %s", cases[i].args);
        ck_assert_msg(rc == 2, "interpret %s: exit %d: %s", cases[i].args, rc, out);
        ck_assert_msg(strstr(out, cases[i].text), "interpret %s: %s", cases[i].args, out);
        ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    }
    ck_assert(!exists("run_points/most_confused.csv") && !exists("run_single/thresholds.csv"));
    /* and what applies still works */
    ck_assert_int_eq(run(STDOUT, "interpret points.ini --top-losses 2"), 0);
    ck_assert_int_eq(run(STDOUT, "interpret multi.ini --most-confused --top-losses 1"), 0);
}
END_TEST

/* One JSON object per input, per line; an unreadable file is a row with
 * "error" (exit 1), and the error summary on stderr is JSON too. */
START_TEST(predict_json_lines)
{
    ck_assert_msg(ready(), "the models did not train");
    tu_write(g_dir, "notimage.png", "hello", 5, (char[4200]){0}, 4200);
    int rc = run(STDOUT, "predict single.ini valid/red/red0.png missing.png notimage.png --all --json");
    ck_assert_int_eq(rc, 1);
    char *lines[8];
    int n = 0;
    for (char *save, *l = strtok_r(out, "\n", &save); l && n < 8; l = strtok_r(NULL, "\n", &save)) lines[n++] = l;
    ck_assert_msg(n == 3, "%d lines: %s", n, lines[n - 1]);
    Json *j = parse(lines[0], strlen(lines[0]));
    ck_assert_str_eq(json_get(j, "path")->str, "valid/red/red0.png");
    const char *pred = json_get(j, "prediction")->str;
    ck_assert(!strcmp(pred, "blue") || !strcmp(pred, "green") || !strcmp(pred, "red"));
    const Json *probs = json_get(j, "probabilities");
    ck_assert_int_eq(json_len(probs), 3);
    double sum = 0;
    for (int k = 0; k < 3; k++) sum += json_at(probs, k)->num;
    ck_assert_double_eq_tol(sum, 1.0, 1e-5);
    ck_assert_double_eq_tol(num(j, "probability"), json_get(probs, pred)->num, 1e-7);
    json_free(j);
    for (int k = 1; k < 3; k++) {
        j = parse(lines[k], strlen(lines[k]));
        ck_assert(json_get(j, "error")->type == JSON_STRING && !json_get(j, "prediction"));
        json_free(j);
    }
    rc = run(STDERR, "predict single.ini missing.png --json");
    ck_assert_int_eq(rc, 1);
    j = parse_out();   /* only the summary: the row holds the file's error */
    ck_assert(strstr(json_get(j, "error")->str, "1 of 1 input(s) could not be read"));
    json_free(j);
    /* multi-label: lists; points: [[x, y]] in the file's pixels */
    ck_assert_int_eq(run(STDOUT, "predict multi.ini valid/green/green1.png --json"), 0);
    j = parse_out();
    ck_assert(json_get(j, "prediction")->type == JSON_ARRAY && json_get(j, "probability")->type == JSON_ARRAY);
    ck_assert_int_eq(json_len(json_get(j, "prediction")), json_len(json_get(j, "probability")));
    json_free(j);
    ck_assert_int_eq(run(STDOUT, "predict points.ini valid/green/green1.png --json"), 0);
    j = parse_out();
    const Json *p0 = json_at(json_get(j, "points"), 0);
    ck_assert(json_len(p0) == 2 && json_at(p0, 0)->type == JSON_NUMBER);
    json_free(j);
}
END_TEST

START_TEST(summary_json_has_data_and_model)
{
    ck_assert_msg(ready(), "the models did not train");
    ck_assert_int_eq(run(STDOUT, "summary single.ini --json"), 0);
    Json *j = parse_out();
    const Json *d = json_get(j, "data"), *m = json_get(j, "model");
    ck_assert_str_eq(json_get(d, "kind")->str, "TensorCategory");
    ck_assert_int_eq((int)num(d, "train"), 3 * N_TRAIN);
    ck_assert_int_eq(json_len(json_get(d, "vocab")), 3);
    const Json *x = json_get(json_get(d, "batch"), "x");
    ck_assert(json_len(x) == 4 && json_at(x, 0)->i == 4 && json_at(x, 1)->i == 16 && json_at(x, 3)->i == 3);
    ck_assert_str_eq(json_get(m, "title")->str, "resnet18 + fastai head");
    const Json *layers = json_get(m, "layers");
    ck_assert_int_gt(json_len(layers), 20);
    double params = 0;
    for (size_t i = 0; i < json_len(layers); i++) params += num(json_at(layers, i), "params");
    ck_assert_double_eq(params, num(m, "total_params"));
    ck_assert_double_eq(num(m, "total_params"), num(m, "trainable_params") + num(m, "non_trainable_params"));
    ck_assert(num(m, "flops_per_item") > 1e6);
    ck_assert_str_eq(json_get(json_at(layers, 0), "type")->str, "Conv2d");
    json_free(j);
    ck_assert_int_eq(run(STDOUT, "summary points.ini --json"), 0);
    j = parse_out();
    ck_assert_int_eq((int)num(json_get(j, "data"), "points_per_item"), 1);
    json_free(j);
}
END_TEST

START_TEST(show_batch_json_lists_the_items_drawn)
{
    ck_assert_msg(ready(), "the models did not train");
    ck_assert_int_eq(run(STDOUT, "show_batch single.ini --n 3 --json"), 0);
    Json *j = parse_out();
    ck_assert(strstr(json_get(j, "path")->str, "run_single/show_batch.png"));
    ck_assert_int_eq(json_get(j, "n")->i, 3);
    const Json *items = json_get(j, "items");
    ck_assert_int_eq(json_len(items), 3);
    for (int k = 0; k < 3; k++) {
        const char *path = json_get(json_at(items, k), "path")->str, *label = json_get(json_at(items, k), "label")->str;
        ck_assert_msg(strstr(path, label), "%s labelled %s", path, label);   /* parent_label */
    }
    json_free(j);
    ck_assert_int_eq(run(STDOUT, "show_batch points.ini --n 2 --json --out pts.png"), 0);
    j = parse_out();
    const Json *pt = json_at(json_get(json_at(json_get(j, "items"), 0), "points"), 0);
    ck_assert(json_len(pt) == 2 && json_at(pt, 0)->num >= 0 && json_at(pt, 0)->num <= 16);
    ck_assert(exists("pts.png"));
    json_free(j);
}
END_TEST

static void setup(void)
{
    ready();   /* in the parent process, once: the tests are forked from it */
}

static void teardown(void)
{
    if (g_dir[0]) tu_rmtree(g_dir);
}

static Suite *suite(void)
{
    Suite *s = suite_create("outputs");
    TCase *t = tcase_create("outputs");
    tcase_set_timeout(t, 600);
    tcase_add_unchecked_fixture(t, setup, teardown);
    tcase_add_test(t, interpret_json_single_label);
    tcase_add_test(t, interpret_json_multi_label_and_thresholds_png);
    tcase_add_test(t, interpret_json_points);
    tcase_add_test(t, interpret_refuses_flags_of_other_tasks);
    tcase_add_test(t, predict_json_lines);
    tcase_add_test(t, summary_json_has_data_and_model);
    tcase_add_test(t, show_batch_json_lists_the_items_drawn);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
