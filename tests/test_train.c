/* test_train.c — `fastc train` and `fastc lr_find` end to end on a tiny
 * generated image set (3 kinds of 16x16 stripes, resnet18 from scratch):
 * the table and files a run leaves, same seed → same metrics.csv and the same
 * model bytes, a run killed for real with SIGTERM and resumed ends with a
 * model bit-identical to an uninterrupted run, lr_find restores the model and
 * writes its files, a diverging run stops with exit 1 naming epoch and batch,
 * and label smoothing reaches the learner. */
#include "check_main.h"
#include "core/rng.h"
#include "testimg.h"
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char root[4096];

/* 3 classes x (24 train + 8 valid) gray 16x16 PNGs in root/data/{train,valid}/<class>/ */
static void make_data(void)
{
    /* the sanitizer build runs the same code on fewer items */
    int san = getenv("FASTC_SANITIZED") != NULL, n_train = san ? 12 : 24;
    tu_tmpdir(root, sizeof root);
    const char *cls[3] = {"hstripes", "vstripes", "checker"};
    Rng r = rng_make(5, 5);
    uint8_t px[16 * 16];
    char name[256], path[8400];
    for (int split = 0; split < 2; split++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < (split ? 8 : n_train); k++) {
                int ph = (int)rng_below(&r, 4);
                for (int y = 0; y < 16; y++)
                    for (int x = 0; x < 16; x++) {
                        int on = c == 0 ? ((y + ph) / 2) % 2 : c == 1 ? ((x + ph) / 2) % 2 : ((x / 2 + y / 2 + ph) % 2);
                        int v = (on ? 200 : 50) + (int)(rng_normal(&r) * 20);
                        px[y * 16 + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                    }
                snprintf(name, sizeof name, "data/%s/%s/%d.png", split ? "valid" : "train", cls[c], k);
                snprintf(path, sizeof path, "%s/%s", root, name);
                tu_write(root, name, "", 0, path, sizeof path);   /* makes the folders */
                ti_write_png(path, 16, 16, 1, px);
            }
    const char *ini =
        "[data]\n"
        "path = data\n"
        "blocks = ImageBlock(cls=PILImageBW), CategoryBlock\n"
        "get_items = get_image_files\n"
        "get_y = parent_label\n"
        "splitter = GrandparentSplitter()\n"
        "batch_tfms = Normalize.from_stats(mnist_stats)\n"
        "bs = %d\n"
        "[model]\n"
        "arch = resnet18\n"
        "n_in = 1\n"
        "[learner]\n"
        "metrics = error_rate, accuracy\n"
        "cbs = SaveModelCallback(monitor='error_rate')\n"
        "[train]\n"
        "schedule = fit_one_cycle(1, 1e-2), fit_one_cycle(%d, lr_max=slice(1e-3, 1e-2))\n";
    char text[2048];
    snprintf(text, sizeof text, ini, san ? 6 : 12, 2);
    tu_write(root, "tiny.ini", text, strlen(text), path, sizeof path);
}

static int run(const char *args, char *out, size_t cap)
{
    char cmd[8192];
    /* one thread: the numbers do not depend on it, and tiny models waste
     * their time in OpenMP barriers on a busy machine */
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s --threads 1", root, tu_fastc(), args);
    return tu_run(cmd, out, cap);
}

static char *slurp(const char *dir, const char *name, size_t *n)
{
    char p[8400];
    snprintf(p, sizeof p, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fclose(f);
    return (char *)ti_read_all(p, n);
}

/* metrics.csv with the time column cut off every line */
static char *csv_no_time(const char *dir)
{
    size_t n;
    char *t = slurp(dir, "metrics.csv", &n);
    ck_assert_msg(t != NULL, "no %s/metrics.csv", dir);
    char *out = calloc(n + 1, 1), *o = out, *save;
    for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *last = strrchr(line, ',');
        if (last) *last = 0;
        o += sprintf(o, "%s\n", line);
    }
    free(t);
    return out;
}

static int same_file(const char *d1, const char *d2, const char *name)
{
    size_t n1, n2;
    char *a = slurp(d1, name, &n1), *b = slurp(d2, name, &n2);
    int same = a && b && n1 == n2 && memcmp(a, b, n1) == 0;
    free(a), free(b);
    return same;
}

START_TEST(train_prints_the_table_and_leaves_its_files)
{
    char out[1 << 14];
    int rc = run("train tiny.ini --set output.dir=runs/a", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "epoch     train_loss  valid_loss  error_rate  accuracy  time"), "%s", out);
    ck_assert_msg(strstr(out, "Better model found at epoch 0 with error_rate value: "), "%s", out);
    const char *files[] = {"config.ini", "metrics.csv", "model.safetensors", "best.safetensors", "state.safetensors",
                           "losses.png"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t n;
        char *t = slurp("runs/a", files[i], &n);
        ck_assert_msg(t && n > 0, "runs/a/%s missing", files[i]);
        free(t);
    }
    char *csv = csv_no_time("runs/a");
    /* one header across both stages, 3 rows numbered over the run */
    ck_assert_msg(strncmp(csv, "epoch,train_loss,valid_loss,error_rate,accuracy\n0,", 50) == 0, "%s", csv);
    ck_assert_msg(strstr(csv, "\n2,") && !strstr(csv, "\n3,"), "%s", csv);
    free(csv);
    /* the tiny set is learnable: the last best error rate is far below chance (2/3) */
    const char *last = NULL;
    for (const char *q = out; (q = strstr(q, "error_rate value: ")); q++) last = q;
    ck_assert_msg(last && atof(last + 18) <= 0.25, "%s", out);
}
END_TEST

/* The uninterrupted reference run (made by the first test, or here). */
static void ensure_full_run(void)
{
    size_t n;
    char *t = slurp("runs/a", "model.safetensors", &n), out[1 << 14];
    if (t) {
        free(t);
        return;
    }
    ck_assert_int_eq(run("train tiny.ini --quiet --set output.dir=runs/a", out, sizeof out), 0);
}

START_TEST(same_seed_same_metrics_and_model)
{
    char out[1 << 14];
    ensure_full_run();
    ck_assert_msg(run("train tiny.ini --quiet --set output.dir=runs/d2", out, sizeof out) == 0, "%s", out);
    char *a = csv_no_time("runs/a"), *b = csv_no_time("runs/d2");
    ck_assert_str_eq(a, b);
    free(a), free(b);
    ck_assert(same_file("runs/a", "runs/d2", "model.safetensors"));
}
END_TEST

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

START_TEST(killed_and_resumed_run_ends_bit_identical)
{
    char out[1 << 14], cfg[8400], odir[8400], state[8400];
    ensure_full_run();
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", root);
    snprintf(odir, sizeof odir, "output.dir=%s/runs/killed", root);
    snprintf(state, sizeof state, "%s/runs/killed/state.safetensors", root);
    char *argv[] = {(char *)tu_fastc(), "train", cfg, "--quiet", "--threads", "1", "--set", odir, NULL};
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    ck_assert_int_eq(posix_spawn(&pid, tu_fastc(), &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    /* kill it for real once the first epoch's state is on disk (mid-run) */
    double t0 = now();
    struct stat st;
    while (stat(state, &st) != 0 && now() - t0 < 300) usleep(2000);
    ck_assert_msg(now() - t0 < 300, "no state after 300 s");
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 143, "status %d", status);
    char p[8400];
    snprintf(p, sizeof p, "%s/runs/killed/model.safetensors", root);
    ck_assert_msg(stat(p, &st) != 0, "a model.safetensors was written by the killed run");
    int rc = run("train tiny.ini --resume --set output.dir=runs/killed", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "resuming "), "%s", out);
    ck_assert_msg(same_file("runs/a", "runs/killed", "model.safetensors"), "resumed model differs");
    ck_assert_msg(same_file("runs/a", "runs/killed", "best.safetensors"), "resumed best model differs");
    char *a = csv_no_time("runs/a"), *b = csv_no_time("runs/killed");
    ck_assert_str_eq(a, b);
    free(a), free(b);
}
END_TEST

START_TEST(lr_find_writes_its_files_and_four_suggestions)
{
    char out[1 << 14];
    int rc = run("lr_find tiny.ini --set output.dir=runs/lrf --set lr_find.num_it=30", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "SuggestedLRs(valley=") && strstr(out, "minimum=") && strstr(out, "steep=") &&
                  strstr(out, "slide="), "%s", out);
    size_t n;
    char *csv = slurp("runs/lrf", "lr_find.csv", &n);
    ck_assert_msg(csv && strncmp(csv, "lr,loss\n1e-07,", 14) == 0, "%s", csv ? csv : "(none)");
    free(csv);
    char *png = slurp("runs/lrf", "lr_find.png", &n);
    ck_assert(png && n > 100 && memcmp(png + 1, "PNG", 3) == 0);
    free(png);
    ck_assert(!slurp("runs/lrf", "model.safetensors", &n));
}
END_TEST

/* Column col (0-based) of every data row of dir/metrics.csv into v; returns the row count. */
static int csv_column(const char *dir, int col, double *v, int cap)
{
    char *t = csv_no_time(dir), *save;
    int n = 0;
    for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line == t) continue;   /* header */
        const char *f = line;
        for (int k = 0; k < col && f; k++) f = (f = strchr(f, ',')) ? f + 1 : NULL;
        if (f && n < cap) v[n++] = atof(f);
    }
    free(t);
    return n;
}

START_TEST(label_smoothing_loss_reaches_the_learner)
{
    /* LabelSmoothingCrossEntropy(eps=0.3) on 3 classes is cross-entropy against
     * (0.8, 0.1, 0.1), so no prediction gets it below that target's entropy,
     * 0.639; plain cross-entropy on the same run goes below it.  The model still
     * learns (above chance: the sanitizer build's half-size set learns less). */
    char out[1 << 14];
    ensure_full_run();
    int rc = run("train tiny.ini --quiet --set output.dir=runs/ls "
                 "--set 'learner.loss_func=LabelSmoothingCrossEntropy(eps=0.3)'", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    const double floor = -(0.8 * log(0.8) + 0.2 * log(0.1));
    double ls[8], ce[8], err[8];
    int n = csv_column("runs/ls", 2, ls, 8), m = csv_column("runs/a", 2, ce, 8);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(m, 3);
    for (int i = 0; i < n; i++) ck_assert_msg(ls[i] >= floor, "epoch %d valid_loss %g < %g", i, ls[i], floor);
    ck_assert_msg(fmin(ce[1], ce[2]) < floor, "cross-entropy valid_loss %g, %g, not below %g", ce[1], ce[2], floor);
    ck_assert_int_eq(csv_column("runs/ls", 3, err, 8), 3);
    ck_assert_msg(ls[2] < ls[0] && err[2] < 0.6, "valid_loss %g -> %g, error_rate %g (chance: 2/3)", ls[0], ls[2],
                  err[2]);
}
END_TEST

START_TEST(diverging_run_stops_naming_epoch_and_batch)
{
    char out[1 << 14];
    int rc = run("train tiny.ini --quiet --set output.dir=runs/nan --set 'train.schedule=fit(2, lr=1e30)' "
                 "--set learner.cbs=None",
                 out, sizeof out);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "at epoch 0, batch ") || strstr(out, "at epoch 1, batch ") ||
                  strstr(out, "validation loss is"), "%s", out);
    size_t n;
    ck_assert(!slurp("runs/nan", "model.safetensors", &n));
}
END_TEST

/* Pretraining a body on our own data (bench/accuracy_shapes.sh): [model] head =
 * 'torchvision' trains resnet18 with avgpool + fc under torchvision's names (the best
 * model is loaded back whole at the end, interpret rebuilds the same model from the
 * file's metadata), and `pretrained =` that file fine-tunes a fastai-headed resnet18
 * from its body, the fc skipped.  A config and file whose heads differ are refused. */
START_TEST(torchvision_head_pretrains_a_body_for_fine_tune)
{
    char out[1 << 14];
    int rc = run("train tiny.ini --quiet --set output.dir=runs/tv --set model.head=torchvision "
                 "--set 'train.schedule=fit_one_cycle(2, 3e-3)'", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    size_t n;
    char *f = slurp("runs/tv", "model.safetensors", &n);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(memmem(f, n, "\"fc.weight\"", 11) && memmem(f, n, "\"conv1.weight\"", 14) &&
                  memmem(f, n, "\"head\":\"torchvision\"", 20), "not a torchvision-named model file");
    free(f);
    rc = run("interpret tiny.ini --confusion --set output.dir=runs/tv --set model.head=torchvision", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "checker") && strstr(out, "vstripes"), "exit %d: %s", rc, out);   /* the confusion matrix */
    rc = run("interpret tiny.ini --set output.dir=runs/tv", out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "has a torchvision head") && strstr(out, "expects [model] head = 'fastai'"),
                  "exit %d: %s", rc, out);
    rc = run("train tiny.ini --set output.dir=runs/ft --set model.pretrained=runs/tv/model.safetensors "
             "--set 'train.schedule=fine_tune(1, 1e-2)' --set learner.cbs=None", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "skipped 2 classifier tensors (fc.*)"), "%s", out);
    double e[4];
    ck_assert_int_eq(csv_column("runs/ft", 3, e, 4), 2);   /* the frozen epoch and one more */
    /* it learns (release build: 72 images; the sanitizer build's 36 images and 12 steps
     * of pretraining are too few to ask it of) */
    if (!getenv("FASTC_SANITIZED")) ck_assert_msg(e[1] < 0.5, "error_rate %g after fine_tune (chance 2/3)", e[1]);
    rc = run("train tiny.ini --quiet --set output.dir=runs/tv2 --set model.head=torchvision "
             "--set 'model.y_range=(0, 1)'", out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "head = 'torchvision' takes no y_range"), "exit %d: %s", rc, out);
}
END_TEST

static void setup(void)
{
    if (!root[0]) make_data();
}

/* Each run writes ~0.9 GB of checkpoints (resnet18 states): never leave them in /tmp. */
static void teardown(void)
{
    if (root[0]) tu_rmtree(root);
}

static Suite *suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, train_prints_the_table_and_leaves_its_files);
    tcase_add_test(tc, same_seed_same_metrics_and_model);
    tcase_add_test(tc, killed_and_resumed_run_ends_bit_identical);
    tcase_add_test(tc, lr_find_writes_its_files_and_four_suggestions);
    tcase_add_test(tc, label_smoothing_loss_reaches_the_learner);
    tcase_add_test(tc, diverging_run_stops_naming_epoch_and_batch);
    tcase_add_test(tc, torchvision_head_pretrains_a_body_for_fine_tune);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
