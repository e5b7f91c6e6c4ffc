/* test_datasets.c — src/data/datasets.c: Fashion-MNIST from (small, made
 * here) IDX files, and the synthetic shapes dataset: contents, determinism
 * across thread counts, idempotence, and the errors users meet. */
#include "check_main.h"
#include "data/datablock.h"
#include "data/datasets.h"
#include "data/decode.h"
#include "data/csv.h"
#include "testimg.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static char dir[512];
static void setup(void) { tu_tmpdir(dir, sizeof dir); }
static void teardown(void) { tu_rmtree(dir); }

static const char *pth(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void write_idx(const char *path, int dims, int n, const uint8_t *data)
{
    gzFile g = gzopen(path, "wb");
    uint8_t hdr[16] = {0, 0, 8, (uint8_t)dims};
    uint32_t d[3] = {(uint32_t)n, 28, 28};
    for (int i = 0; i < dims; i++)
        hdr[4 + 4 * i] = (uint8_t)(d[i] >> 24), hdr[5 + 4 * i] = (uint8_t)(d[i] >> 16),
                    hdr[6 + 4 * i] = (uint8_t)(d[i] >> 8), hdr[7 + 4 * i] = (uint8_t)d[i];
    gzwrite(g, hdr, (unsigned)(4 + 4 * dims));
    gzwrite(g, data, (unsigned)(dims == 3 ? n * 784 : n));
    gzclose(g);
}

/* A fake Fashion-MNIST with n_train / n_test images; image i's pixels are (i * 7 + p) & 255. */
static void fake_fashion(const char *src, int n_train, int n_test)
{
    mkdir(src, 0755);
    const char *pre[2] = {"train", "t10k"};
    int ns[2] = {n_train, n_test};
    for (int s = 0; s < 2; s++) {
        uint8_t *img = malloc((size_t)ns[s] * 784), *lab = malloc((size_t)ns[s]);
        for (int i = 0; i < ns[s]; i++) {
            lab[i] = (uint8_t)((i * 3 + s) % 10);
            for (int p = 0; p < 784; p++) img[(size_t)i * 784 + p] = (uint8_t)((i * 7 + p) & 255);
        }
        char p[1100];
        snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte.gz", src, pre[s]);
        write_idx(p, 3, ns[s], img);
        snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte.gz", src, pre[s]);
        write_idx(p, 1, ns[s], lab);
        free(img), free(lab);
    }
}

START_TEST(fashion_mnist_png_tree)
{
    fake_fashion(pth("src"), 23, 11);
    int reused = -1;
    Err err = {0};
    ck_assert_msg(datasets_fashion_mnist(pth("src"), pth("fm"), 0, 2, &reused, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(reused, 0);
    ck_assert(!exists(pth("fm.partial")));
    /* train item 5 has label 15 % 10 = 5 (Sandal); valid item 4 has (12 + 1) % 10 = 3 (Dress) */
    ck_assert(exists(pth("fm/train/Sandal/5.png")));
    ck_assert(exists(pth("fm/valid/Dress/4.png")));
    ck_assert(exists(pth("fm/train/T-shirt_top")));
    ck_assert(exists(pth("fm/valid/Ankle_boot")));
    Image im;
    ck_assert_int_eq(image_decode_file(pth("fm/train/Sandal/5.png"), 1, 0, 0, &im, NULL, NULL, &err), 0);
    ck_assert_int_eq(im.w, 28);
    ck_assert_int_eq(im.h, 28);
    for (int p = 0; p < 784; p++) ck_assert_int_eq(im.px[p], (5 * 7 + p) & 255);
    image_free(&im);

    /* the data block sees 23 + 11 items, split by folder */
    DbSpec s = {.path = pth("fm"), .recurse = 1, .kind = TARGET_CATEGORY, .y = DB_Y_PARENT,
                .split = DB_SPLIT_GRANDPARENT, .train_name = "train", .valid_name = "valid"};
    Dataset ds;
    ck_assert_msg(datablock_build_spec(&s, &ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ds.n_train, 23);
    ck_assert_int_eq(ds.n_valid, 11);
    ck_assert_int_eq(ds.n_vocab, 10);
    ck_assert_str_eq(ds.vocab[0], "Ankle_boot");
    dataset_free(&ds);

    /* a second run reuses the finished tree */
    ck_assert_int_eq(datasets_fashion_mnist(pth("src"), pth("fm"), 0, 2, &reused, &err), 0);
    ck_assert_int_eq(reused, 1);
}
END_TEST

START_TEST(fashion_mnist_errors)
{
    int reused;
    Err err = {0};
    ck_assert_int_eq(datasets_fashion_mnist(pth("nowhere"), pth("fm"), 0, 1, &reused, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "nowhere/train-images-idx3-ubyte.gz: not found") &&
                      strstr(err.msg, "apt-get install dataset-fashion-mnist"),
                  "%s", err.msg);
    ck_assert(!exists(pth("fm")));
    /* a folder with other things in it is not overwritten */
    fake_fashion(pth("src"), 3, 2);
    char b[1100];
    tu_write(dir, "mine/notes.txt", "keep", 4, b, sizeof b);
    ck_assert_int_eq(datasets_fashion_mnist(pth("src"), pth("mine"), 0, 1, &reused, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "was not made by fastc get"), "%s", err.msg);
    ck_assert(exists(pth("mine/notes.txt")));
    /* a corrupt gzip */
    tu_write(dir, "src/t10k-images-idx3-ubyte.gz", "garbage", 7, b, sizeof b);
    ck_assert_int_eq(datasets_fashion_mnist(pth("src"), pth("fm2"), 0, 1, &reused, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "t10k-images-idx3-ubyte.gz"), "%s", err.msg);
    ck_assert(!exists(pth("fm2")) && !exists(pth("fm2.partial")));
}
END_TEST

static int files_equal(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *x = ti_read_all(a, &na), *y = ti_read_all(b, &nb);
    int eq = na == nb && memcmp(x, y, na) == 0;
    free(x), free(y);
    return eq;
}

START_TEST(shapes_deterministic_and_consistent)
{
    const int n = 24;
    int reused;
    Err err = {0};
    ck_assert_msg(datasets_shapes(pth("s1"), n, 7, 0, 1, &reused, &err) == 0, "%s", err.msg);
    ck_assert_msg(datasets_shapes(pth("s2"), n, 7, 0, 2, &reused, &err) == 0, "%s", err.msg);
    ck_assert_msg(datasets_shapes(pth("s3"), n, 8, 0, 2, &reused, &err) == 0, "%s", err.msg);
    ck_assert(files_equal(pth("s1/labels.csv"), pth("s2/labels.csv")));
    ck_assert(files_equal(pth("s1/centers.csv"), pth("s2/centers.csv")));
    ck_assert(!files_equal(pth("s1/labels.csv"), pth("s3/labels.csv")));

    CsvTable t;
    CsvOptions o = {.header = 1};
    ck_assert_int_eq(csv_read(pth("s1/labels.csv"), &o, &t, &err), 0);
    ck_assert_int_eq(t.n_rows, n);
    int cf, cl, cls, cv, cx, cy, n_png = 0, n_valid = 0;
    ck_assert_int_eq(csv_require_col(&t, "fname", &cf, &err) | csv_require_col(&t, "label", &cl, &err) |
                         csv_require_col(&t, "labels", &cls, &err) | csv_require_col(&t, "is_valid", &cv, &err) |
                         csv_require_col(&t, "x", &cx, &err) | csv_require_col(&t, "y", &cy, &err),
                     0);
    for (int r = 0; r < n; r++) {
        char p1[1100], p2[1100];
        snprintf(p1, sizeof p1, "%s/s1/%s", dir, csv_cell(&t, r, cf));
        snprintf(p2, sizeof p2, "%s/s2/%s", dir, csv_cell(&t, r, cf));
        ck_assert_msg(files_equal(p1, p2), "%s differs between 1 and 2 threads", p1);
        n_png += strstr(p1, ".png") != NULL;
        n_valid += strcmp(csv_cell(&t, r, cv), "True") == 0;
        ck_assert(strstr(csv_cell(&t, r, cls), csv_cell(&t, r, cl)) != NULL);  /* label is among labels */
        Image im;
        ck_assert_int_eq(image_decode_file(p1, 3, 0, 0, &im, NULL, NULL, &err), 0);
        ck_assert(im.w >= 96 && im.w <= 200 && im.h >= 96 && im.h <= 200);
        /* the centre of the biggest shape is coloured; a corner is the light background */
        int x = (int)atof(csv_cell(&t, r, cx)), y = (int)atof(csv_cell(&t, r, cy));
        const uint8_t *c = im.px + ((size_t)y * im.w + x) * 3, *bg = im.px;
        int mx = c[0] > c[1] ? c[0] : c[1], mn = c[0] < c[1] ? c[0] : c[1];
        mx = c[2] > mx ? c[2] : mx, mn = c[2] < mn ? c[2] : mn;
        ck_assert_msg(mx - mn > 90, "%s: centre (%d,%d) is %d,%d,%d: not on a shape", p1, x, y, c[0], c[1], c[2]);
        ck_assert_msg(bg[0] > 180 && bg[1] > 180 && bg[2] > 180, "%s corner %d,%d,%d", p1, bg[0], bg[1], bg[2]);
        image_free(&im);
    }
    ck_assert(n_png > 0 && n_png < n);
    ck_assert(n_valid < n);
    csv_free(&t);

    /* the three tasks build from it */
    Dataset ds;
    DbSpec m = {.path = pth("s1"), .csv = pth("s1/labels.csv"), .x_col = "fname",
                .kind = TARGET_MULTI, .y = DB_Y_COL, .y_col = "labels", .label_delim = " ",
                .split = DB_SPLIT_RANDOM, .valid_pct = 0.2, .seed = 1};
    ck_assert_msg(datablock_build_spec(&m, &ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ds.n_items, n);
    dataset_free(&ds);
    DbSpec p = {.path = pth("s1"), .recurse = 1, .kind = TARGET_POINTS, .y = DB_Y_POINTS,
                .points_csv = pth("s1/centers.csv"), .split = DB_SPLIT_RANDOM, .valid_pct = 0.25, .seed = 1};
    ck_assert_msg(datablock_build_spec(&p, &ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ds.n_items, n);
    ck_assert_int_eq(ds.n_y, 2);
    dataset_free(&ds);

    /* idempotent; a different n in the same folder is refused */
    ck_assert_int_eq(datasets_shapes(pth("s1"), n, 7, 0, 2, &reused, &err), 0);
    ck_assert_int_eq(reused, 1);
    ck_assert_int_eq(datasets_shapes(pth("s1"), n + 1, 7, 0, 2, &reused, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "holds a different dataset (shapes v2 n=24 seed=7)"), "%s", err.msg);
}
END_TEST

/* The pretraining variant: one shape per image (label = labels), its size
 * spanning small to big, every kind present; the centre is on the shape. */
START_TEST(shapes_single_variant)
{
    const int n = 40;
    int reused;
    Err err = {0};
    ck_assert_msg(datasets_shapes(pth("one"), n, 7, 1, 2, &reused, &err) == 0, "%s", err.msg);
    CsvTable t;
    CsvOptions o = {.header = 1};
    ck_assert_int_eq(csv_read(pth("one/labels.csv"), &o, &t, &err), 0);
    ck_assert_int_eq(t.n_rows, n);
    int cf, cl, cls, cx, cy, kinds[4] = {0};
    const char *names[4] = {"circle", "cross", "square", "triangle"};
    ck_assert_int_eq(csv_require_col(&t, "fname", &cf, &err) | csv_require_col(&t, "label", &cl, &err) |
                         csv_require_col(&t, "labels", &cls, &err) | csv_require_col(&t, "x", &cx, &err) |
                         csv_require_col(&t, "y", &cy, &err),
                     0);
    double fmin = 1, fmax = 0;
    for (int r = 0; r < n; r++) {
        ck_assert_str_eq(csv_cell(&t, r, cl), csv_cell(&t, r, cls));
        for (int k = 0; k < 4; k++) kinds[k] += strcmp(csv_cell(&t, r, cl), names[k]) == 0;
        char p[1100];
        snprintf(p, sizeof p, "%s/one/%s", dir, csv_cell(&t, r, cf));
        Image im;
        ck_assert_int_eq(image_decode_file(p, 3, 0, 0, &im, NULL, NULL, &err), 0);
        size_t coloured = 0;
        for (size_t q = 0; q < (size_t)im.w * im.h; q++) {
            const uint8_t *c = im.px + q * 3;
            int mx = c[0] > c[1] ? c[0] : c[1], mn = c[0] < c[1] ? c[0] : c[1];
            mx = c[2] > mx ? c[2] : mx, mn = c[2] < mn ? c[2] : mn;
            coloured += mx - mn > 90;
        }
        int x = (int)atof(csv_cell(&t, r, cx)), y = (int)atof(csv_cell(&t, r, cy));
        const uint8_t *c = im.px + ((size_t)y * im.w + x) * 3;
        ck_assert_msg(c[0] < 180 || c[1] < 180 || c[2] < 180, "%s: centre not on the shape", p);
        double f = (double)coloured / ((double)im.w * im.h);
        fmin = f < fmin ? f : fmin, fmax = f > fmax ? f : fmax;
        image_free(&im);
    }
    for (int k = 0; k < 4; k++) ck_assert_msg(kinds[k] > 0, "no %s among %d images", names[k], n);
    ck_assert_msg(fmin > 0 && fmin < 0.02 && fmax > 0.08, "shape area from %.3f to %.3f of the image", fmin, fmax);
    csv_free(&t);
    /* its own marker: the multi-shape set is not mistaken for it */
    ck_assert_int_eq(datasets_shapes(pth("one"), n, 7, 0, 1, &reused, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "holds a different dataset (shapes_single v2 n=40 seed=7)"), "%s", err.msg);
}
END_TEST


START_TEST(cli_get)
{
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' get shapes --n 5 --threads 1", dir, tu_fastc());
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "shapes: written to data/shapes"), "%s", out);
    ck_assert(exists(pth("data/shapes/labels.csv")));
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0 && strstr(out, "already complete"), "%s", out);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' get shapes --n 6", dir, tu_fastc());
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "data/shapes: holds a different dataset"), "%s", out);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' get shapes_single --n 3 --threads 1", dir, tu_fastc());
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "shapes_single: written to data/shapes_single"), "%s", out);
    ck_assert(exists(pth("data/shapes_single/labels.csv")));
    snprintf(cmd, sizeof cmd, "'%s' get mnist", tu_fastc());
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "expected fashion_mnist, shapes or shapes_single"), "%s", out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("datasets");
    TCase *tc = tcase_create("datasets");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fashion_mnist_png_tree);
    tcase_add_test(tc, fashion_mnist_errors);
    tcase_add_test(tc, shapes_deterministic_and_consistent);
    tcase_add_test(tc, shapes_single_variant);
    tcase_add_test(tc, cli_get);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
