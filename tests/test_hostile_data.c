/* test_hostile_data.c — fastc given data a hostile (or unlucky) user gives it,
 * run as a user runs it: a batch size far beyond the data, labels that are
 * not UTF-8, point files with absurd numbers, unreadable images under
 * --quiet.  Each case ends in a clear message naming the file (and line), or
 * in a run that works, never in a crash, a blow-up of memory or a model file
 * fastc cannot read back.  Every file is made here. */
#include "check_main.h"
#include "core/rng.h"
#include "testimg.h"
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[4096];
static char out[1 << 16];

static int sanitized(void) { return getenv("FASTC_SANITIZED") != NULL; }

/* A gray 16x16 PNG of random noise at root/name. */
static void noise_png(const char *name, uint64_t seed)
{
    char path[8400];
    uint8_t px[16 * 16];
    Rng r = rng_make(seed, 1);
    for (int i = 0; i < 16 * 16; i++) px[i] = (uint8_t)rng_below(&r, 256);
    tu_write(root, name, "", 0, path, sizeof path);   /* makes the folders */
    ti_write_png(path, 16, 16, 1, px);
}

static void write_text(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_text(const char *name, const char *fmt, ...)
{
    char text[1 << 14], path[8400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    tu_write(root, name, text, strlen(text), path, sizeof path);
}

/* `fastc ARGS --threads 1` in root, stdout+stderr into out (stderr alone with
 * stderr_only).  Address space limited to as_mb (release build only: ASan
 * reserves terabytes of it; there its own RSS watchdog does the job), and the
 * peak resident memory of the run in *rss_mb when asked.  Returns the exit
 * status (128 + signal when killed). */
static int run_fastc(long as_mb, long *rss_mb, int stderr_only, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int run_fastc(long as_mb, long *rss_mb, int stderr_only, const char *fmt, ...)
{
    char args[4096], cmd[16384], log[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(log, sizeof log, "%s/.run.log", root);
    snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s' %s --threads 1 %s'%s'%s", root, tu_fastc(), args,
             stderr_only ? ">/dev/null 2>" : ">", log, stderr_only ? "" : " 2>&1");
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (as_mb > 0) {
            if (sanitized()) {
                char opts[1024];
                const char *o = getenv("ASAN_OPTIONS");
                snprintf(opts, sizeof opts, "%s%shard_rss_limit_mb=%ld", o ? o : "", o && *o ? ":" : "", as_mb);
                setenv("ASAN_OPTIONS", opts, 1);
            } else {
                struct rlimit rl = {.rlim_cur = (rlim_t)as_mb << 20, .rlim_max = (rlim_t)as_mb << 20};
                setrlimit(RLIMIT_AS, &rl);
            }
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    ck_assert(wait4(pid, &st, 0, &ru) == pid);
    if (rss_mb) *rss_mb = ru.ru_maxrss / 1024;
    size_t n = 0;
    uint8_t *text = ti_read_all(log, &n);
    snprintf(out, sizeof out, "%s", text ? (char *)text : "");
    free(text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* 8 training and 4 validation PNGs in two classes, and tiny.ini over them. */
static void tiny_images(void)
{
    tu_tmpdir(root, sizeof root);
    char name[256];
    for (int split = 0; split < 2; split++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < (split ? 2 : 4); k++) {
                snprintf(name, sizeof name, "data/%s/%s/%d.png", split ? "valid" : "train", c ? "b" : "a", k);
                noise_png(name, (uint64_t)(split * 100 + c * 10 + k));
            }
    write_text("tiny.ini",
               "[data]\npath = data\nblocks = ImageBlock(cls=PILImageBW), CategoryBlock\nget_items = get_image_files\n"
               "get_y = parent_label\nsplitter = GrandparentSplitter()\n"
               "batch_tfms = Normalize.from_stats(mnist_stats)\nbs = 4\n"
               "[model]\narch = resnet18\nn_in = 1\n[train]\nschedule = fit_one_cycle(1, 1e-2)\n");
}

/* ---- item 3: a batch size beyond the data ------------------------------------------------ */

START_TEST(a_validation_batch_size_beyond_the_data_costs_no_memory)
{
    /* val_bs = 65536 over 4 validation items: one batch of 4, and the run's
     * peak memory that of val_bs = bs (it once sized every buffer, the
     * model's activations too, for 65536 images and was killed at 24 GB). */
    tiny_images();
    long base, big;
    int rc = run_fastc(4096, &base, 0, "train tiny.ini --quiet --set output.dir=runs/base");
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    rc = run_fastc(4096, &big, 0, "train tiny.ini --quiet --set data.val_bs=65536 --set output.dir=runs/big");
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(big <= base + 48, "peak RSS %ld MB with val_bs=65536, %ld MB with val_bs=bs", big, base);
}
END_TEST

START_TEST(a_training_batch_size_beyond_the_data_is_refused_before_allocating)
{
    /* bs = 65536 over 8 training items: no full batch (drop_last), so a
     * clear one-line error, at once, naming where bs comes from (the --set
     * argument, or file:line); beyond the documented cap (65536) the config
     * check refuses it.  Every command that builds the loaders says the same. */
    tiny_images();
    long rss;
    int rc = run_fastc(4096, &rss, 1, "train tiny.ini --quiet --set data.bs=65536");
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    ck_assert_str_eq(out, "--set data.bs=65536: [data] bs: 65536 is more than the 8 training items (batches drop "
                          "the last partial one, so there would be none)\n");
    if (!sanitized()) ck_assert_msg(rss < 200, "peak RSS %ld MB for a refused bs", rss);
    const char *cmds[] = {"summary", "show_batch", "lr_find"};
    for (int i = 0; i < 3; i++) {
        rc = run_fastc(4096, NULL, 1, "%s tiny.ini --quiet --set data.bs=65536", cmds[i]);
        ck_assert_msg(rc == 2, "%s: exit %d: %s", cmds[i], rc, out);
        ck_assert_msg(!strncmp(out, "--set data.bs=65536: [data] bs: 65536 is more than the 8", 56), "%s: %s", cmds[i],
                      out);
    }
    write_text("big.ini",
               "[data]\npath = data\nblocks = ImageBlock(cls=PILImageBW), CategoryBlock\nget_items = get_image_files\n"
               "get_y = parent_label\nsplitter = GrandparentSplitter()\nbs = 9\n"
               "[model]\narch = resnet18\nn_in = 1\n[train]\nschedule = fit_one_cycle(1, 1e-2)\n");
    rc = run_fastc(4096, NULL, 1, "train big.ini --quiet");
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "big.ini:7: [data] bs: 9 is more than the 8 training items"), "%s", out);
    rc = run_fastc(4096, &rss, 1, "train tiny.ini --quiet --set data.val_bs=65537");
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    ck_assert_str_eq(out, "--set data.val_bs=65537: [data] val_bs: found number 65537, expected an integer in "
                          "[1, 65536]\n");
}
END_TEST

START_TEST(a_collab_batch_size_beyond_the_ratings_is_refused_naming_its_line)
{
    /* 10 ratings, 8 of them for training: bs = 64 cannot make one batch. */
    tu_tmpdir(root, sizeof root);
    write_text("r.csv", "user,item,rating\n1,1,3\n1,2,4\n2,1,5\n2,3,1\n3,2,2\n3,3,4\n4,1,3\n4,2,5\n5,3,2\n5,1,1\n");
    write_text("collab.ini", "[data]\ncsv = r.csv\nblocks = CollabBlock\nsplitter = RandomSplitter(valid_pct=0.2)\n"
                             "bs = 64\n[model]\narch = DotProductBias(n_factors=4, y_range=(0, 5.5))\n"
                             "[train]\nschedule = fit(1, 1e-2)\n");
    int rc = run_fastc(4096, NULL, 1, "train collab.ini --quiet");
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    ck_assert_str_eq(out, "collab.ini:5: [data] bs: 64 is more than the 8 training rows (batches drop the last "
                          "partial one, so there would be none)\n");
    rc = run_fastc(4096, NULL, 1, "summary collab.ini --set data.bs=9");
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    ck_assert_msg(!strncmp(out, "--set data.bs=9: [data] bs: 9 is more than the 8 training rows", 62), "%s", out);
    rc = run_fastc(4096, NULL, 0, "train collab.ini --quiet --set data.bs=8 --set data.val_bs=65536");
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
}
END_TEST

/* ---- item 4: labels that are not UTF-8 ---------------------------------------------------- */

START_TEST(a_class_folder_that_is_not_utf8_trains_and_its_model_reads_back)
{
    /* A Latin-1 folder name "caf\xe9": the class is kept, spelled as Python's
     * backslashreplace spells it, so the model file's vocab is UTF-8 and
     * predict reads it (it used to refuse: "expected valid UTF-8 text"). */
    tu_tmpdir(root, sizeof root);
    char name[256];
    for (int split = 0; split < 2; split++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < (split ? 2 : 4); k++) {
                snprintf(name, sizeof name, "data/%s/%s/%d.png", split ? "valid" : "train", c ? "caf\xe9" : "b", k);
                noise_png(name, (uint64_t)(split * 100 + c * 10 + k));
            }
    write_text("latin1.ini",
               "[data]\npath = data\nblocks = ImageBlock(cls=PILImageBW), CategoryBlock\nget_y = parent_label\n"
               "splitter = GrandparentSplitter()\nbatch_tfms = Normalize.from_stats(mnist_stats)\nbs = 4\n"
               "[model]\narch = resnet18\nn_in = 1\n[train]\nschedule = fit_one_cycle(1, 1e-2)\n");
    int rc = run_fastc(0, NULL, 0, "train latin1.ini --quiet --set output.dir=runs/l1");
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    rc = run_fastc(0, NULL, 0, "predict --model runs/l1/model.safetensors --all data/valid/b/0.png");
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "path,prediction,probability,b,caf\\xe9\n"), "%s", out);
    rc = run_fastc(0, NULL, 0, "interpret latin1.ini --checkpoint runs/l1/model.safetensors --confusion "
                               "--set output.dir=runs/l1");
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "caf\\xe9"), "%s", out);
}
END_TEST

/* images/{0..7}.png, labels.csv with rows "images/<i>.png,<label i>,<is_valid>"
 * (lens[i] bytes of label i when given and not 0, for labels holding a NUL;
 * the last two rows validate), and csv.ini over them. */
static void csv_images(const char *const *labels, const size_t *lens)
{
    tu_tmpdir(root, sizeof root);
    char name[256], csv[4096];
    size_t n = 0;
    n += (size_t)snprintf(csv + n, sizeof csv - n, "fname,label,is_valid\n");
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "images/%d.png", i);
        noise_png(name, (uint64_t)i);
        n += (size_t)snprintf(csv + n, sizeof csv - n, "images/%d.png,", i);
        size_t len = lens && lens[i] ? lens[i] : strlen(labels[i]);
        memcpy(csv + n, labels[i], len);
        n += len;
        n += (size_t)snprintf(csv + n, sizeof csv - n, ",%s\n", i >= 6 ? "True" : "False");
    }
    char path[8400];
    tu_write(root, "labels.csv", csv, n, path, sizeof path);
    write_text("csv.ini",
               "[data]\npath = .\ncsv = labels.csv\nblocks = ImageBlock(cls=PILImageBW), CategoryBlock\n"
               "get_x = ColReader('fname')\nget_y = ColReader('label')\nsplitter = ColSplitter('is_valid')\n"
               "batch_tfms = Normalize.from_stats(mnist_stats)\nbs = 2\n"
               "[model]\narch = resnet18\nn_in = 1\n[train]\nschedule = fit_one_cycle(1, 1e-2)\n");
}

START_TEST(a_latin1_csv_is_refused_naming_file_and_line)
{
    /* pandas reads CSV files as UTF-8 and stops at the first byte that is
     * not; so does fastc, naming the line, before anything is trained. */
    const char *labels[8] = {"cafe", "caf\xe9", "cafe", "caf\xe9", "cafe", "caf\xe9", "cafe", "caf\xe9"};
    csv_images(labels, NULL);
    int rc = run_fastc(0, NULL, 1, "train csv.ini --quiet");
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "labels.csv:3: found byte 0xE9 at column 17, expected UTF-8 text"), "%s", out);
}
END_TEST

START_TEST(a_nul_byte_in_a_csv_label_is_refused_naming_file_and_line)
{
    /* "ca\0t" must not become a new class "ca" */
    const char *labels[8] = {"cat", "dog", "cat", "dog", "ca\0t", "dog", "cat", "dog"};
    const size_t lens[8] = {0, 0, 0, 0, 4, 0, 0, 0};
    csv_images(labels, lens);
    int rc = run_fastc(0, NULL, 1, "train csv.ini --quiet");
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "labels.csv:6: found a NUL byte at column 16"), "%s", out);
}
END_TEST

/* ---- item 9: points that are not pixels ----------------------------------------------------- */

/* pts/t/{0..3}.png and pts/v/{0,1}.png with centers.csv rows "t/i.png,8,8"
 * except `bad_row` (0-based among the 6), whose x is `bad_x`; points.ini over them. */
static void points_data(int bad_row, const char *bad_x)
{
    tu_tmpdir(root, sizeof root);
    char name[256], csv[2048];
    size_t n = (size_t)snprintf(csv, sizeof csv, "file,x,y\n");
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "%s/%d.png", i < 4 ? "t" : "v", i);
        char full[300];
        snprintf(full, sizeof full, "pts/%s", name);
        noise_png(full, (uint64_t)i + 40);
        n += (size_t)snprintf(csv + n, sizeof csv - n, "%s,%s,%d\n", name, i == bad_row ? bad_x : "8", 4 + i);
    }
    write_text("pts/centers.csv", "%s", csv);
    write_text("points.ini",
               "[data]\npath = pts\nblocks = ImageBlock(cls=PILImageBW), PointBlock\n"
               "get_y = PointsFromCSV('centers.csv')\nsplitter = FuncSplitter(parent_name='v')\n"
               "batch_tfms = Normalize.from_stats(mnist_stats)\nbs = 2\n"
               "[model]\narch = resnet18\nn_in = 1\ny_range = (-1, 1)\n[train]\nschedule = fit_one_cycle(1, 1e-2)\n");
}

START_TEST(a_point_far_outside_its_image_is_reported_by_file_and_line)
{
    /* 1e30 pixels trained into infinities and blamed the learning rate; now
     * the row is named when the item is read. */
    points_data(5, "1e30");
    int rc = run_fastc(0, NULL, 1, "train points.ini --quiet");
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "centers.csv:7: ") && strstr(out, "pts/v/5.png: point 1 (1e+30, 9) is far outside the "
                                                            "16x16 image"),
                  "%s", out);
    ck_assert_msg(!strstr(out, "learning rate"), "%s", out);
}
END_TEST

START_TEST(a_point_that_is_not_a_finite_float_is_refused_by_file_and_line)
{
    const char *bad[] = {"1e308", "nan", "-inf"};
    for (int i = 0; i < 3; i++) {
        points_data(2, bad[i]);
        int rc = run_fastc(0, NULL, 1, "validate points.ini --quiet");
        ck_assert_msg(rc == 0, "validate only checks the config: exit %d: %s", rc, out);
        rc = run_fastc(0, NULL, 1, "train points.ini --quiet");
        ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
        char want[128];
        snprintf(want, sizeof want, "centers.csv:4: field 2 is '%s', expected a finite number of pixels", bad[i]);
        ck_assert_msg(strstr(out, want), "'%s' lacks '%s'", out, want);
    }
}
END_TEST

/* ---- item 13: data warnings are never quiet ------------------------------------------------ */

START_TEST(quiet_still_lists_every_skipped_item_with_its_reason)
{
    /* --quiet silences progress, never warnings about the data: each item
     * left out is on stderr with what is wrong with it, then the count. */
    tiny_images();
    char path[8400];
    static const char gif[] = "GIF89a\x10\x00\x10\x00\x80\x00\x00junk";
    tu_write(root, "data/valid/a/anim.gif", gif, sizeof gif - 1, path, sizeof path);
    tu_write(root, "data/valid/a/empty.png", "", 0, path, sizeof path);
    static uint8_t px[96 * 96];
    Rng r = rng_make(3, 3);
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)rng_below(&r, 256);
    tu_write(root, "data/valid/b/cut.jpg", "", 0, path, sizeof path);
    ti_write_jpeg(path, 96, 96, 1, px, 90, 0);
    size_t n;
    uint8_t *jpg = ti_read_all(path, &n);
    tu_write(root, "data/valid/b/cut.jpg", jpg, n * 3 / 4, path, sizeof path);   /* cut in the scan data */
    free(jpg);
    noise_png("data/valid/zebra/0.png", 77);   /* a label the training split lacks */
    int rc = run_fastc(0, NULL, 1, "train tiny.ini --quiet --set data.on_bad_item=skip");
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "warning: skipped (on_bad_item = skip): ") && strstr(out, "zebra/0.png: label 'zebra'"),
                  "%s", out);
    ck_assert_msg(strstr(out, "valid/a/anim.gif: not a JPEG or PNG image (looks like GIF)"), "%s", out);
    ck_assert_msg(strstr(out, "valid/a/empty.png: empty file"), "%s", out);
    ck_assert_msg(strstr(out, "valid/b/cut.jpg: truncated JPEG"), "%s", out);
    ck_assert_msg(strstr(out, "warning: 4 items left out (on_bad_item = skip): 1 while building the data, 3 unreadable"),
                  "%s", out);
    /* and nothing else: quiet is quiet */
    int lines = 0;
    for (const char *p = out; *p; p++) lines += *p == '\n';
    ck_assert_msg(lines == 5, "%d lines: %s", lines, out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hostile_data");
    TCase *tc = tcase_create("hostile_data");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, a_validation_batch_size_beyond_the_data_costs_no_memory);
    tcase_add_test(tc, a_training_batch_size_beyond_the_data_is_refused_before_allocating);
    tcase_add_test(tc, a_collab_batch_size_beyond_the_ratings_is_refused_naming_its_line);
    tcase_add_test(tc, a_class_folder_that_is_not_utf8_trains_and_its_model_reads_back);
    tcase_add_test(tc, a_latin1_csv_is_refused_naming_file_and_line);
    tcase_add_test(tc, a_nul_byte_in_a_csv_label_is_refused_naming_file_and_line);
    tcase_add_test(tc, a_point_far_outside_its_image_is_reported_by_file_and_line);
    tcase_add_test(tc, a_point_that_is_not_a_finite_float_is_refused_by_file_and_line);
    tcase_add_test(tc, quiet_still_lists_every_skipped_item_with_its_reason);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
