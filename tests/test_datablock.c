/* test_datablock.c — src/data/datablock.c: whole data blocks on small trees
 * (folders, csv tables, point files): items, split, labels, vocab, and every
 * way an item can fail (error by default, listed when skipped). */
#include "check_main.h"
#include "data/datablock.h"
#include "setup/setup.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[512];
static void setup(void) { tu_tmpdir(dir, sizeof dir); }
static void teardown(void) { tu_rmtree(dir); }

static void put(const char *name, const char *text)
{
    char buf[1024];
    tu_write(dir, name, text, strlen(text), buf, sizeof buf);
}

static const char *pth(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static const char *rel(const Dataset *ds, int i) { return ds->paths[i] + strlen(dir) + 1; }

static void build_ok(const DbSpec *s, Dataset *ds)
{
    Err err = {0};
    int rc = datablock_build_spec(s, ds, &err);
    ck_assert_msg(rc == 0, "build failed: %s", err.msg);
}

static void build_bad(const DbSpec *s, int code, const char *want)
{
    Dataset ds;
    Err err = {0};
    int rc = datablock_build_spec(s, &ds, &err);
    ck_assert_msg(rc == code, "rc %d (expected %d): %s", rc, code, err.msg);
    ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
    ck_assert_ptr_null(ds.paths);
}

/* train/{cat,dog}, valid/{cat,dog}, plus a test/ folder neither split uses */
static void imagenet_style_tree(void)
{
    const char *f[] = {"train/cat/1.jpg", "train/cat/2.jpg", "train/dog/3.jpg", "valid/dog/4.png",
                       "valid/cat/5.jpg", "test/cat/6.jpg", "train/dog/7.JPEG"};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) put(f[i], "x");
}

START_TEST(parent_label_grandparent_splitter)
{
    imagenet_style_tree();
    DbSpec s = {.path = dir, .recurse = 1, .kind = TARGET_CATEGORY, .y = DB_Y_PARENT,
                .split = DB_SPLIT_GRANDPARENT, .train_name = "train", .valid_name = "valid"};
    Dataset ds;
    build_ok(&s, &ds);
    ck_assert_int_eq(ds.n_items, 6);  /* test/ belongs to neither split */
    ck_assert_int_eq(ds.n_train, 4);
    ck_assert_int_eq(ds.n_valid, 2);
    ck_assert_int_eq(ds.n_vocab, 2);
    ck_assert_str_eq(ds.vocab[0], "cat");
    ck_assert_str_eq(ds.vocab[1], "dog");
    for (int i = 0; i < ds.n_items; i++) {
        char want[8];
        sscanf(strchr(rel(&ds, i), '/') + 1, "%3s", want);
        ck_assert_str_eq(ds.vocab[ds.yi[i]], want);
    }
    /* indices in item order */
    ck_assert_str_eq(rel(&ds, ds.train_idx[0]), "train/cat/1.jpg");
    ck_assert_str_eq(rel(&ds, ds.valid_idx[1]), "valid/dog/4.png");
    ck_assert_int_eq(ds.n_skipped, 0);
    dataset_free(&ds);
    dataset_free(&ds);

    s.train_name = "training";
    build_bad(&s, ERR_RUNTIME, "no item is in a 'training' folder");
}
END_TEST

START_TEST(validation_label_outside_vocab_is_reported)
{
    imagenet_style_tree();
    put("valid/bird/8.jpg", "x");
    put("valid/fish/9.jpg", "x");
    DbSpec s = {.path = dir, .recurse = 1, .kind = TARGET_CATEGORY, .y = DB_Y_PARENT,
                .split = DB_SPLIT_GRANDPARENT, .train_name = "train", .valid_name = "valid"};
    build_bad(&s, ERR_RUNTIME, "2 validation items have labels not in the training split's labels (2 labels): 'bird', 'fish'");
    s.skip_bad = 1;
    Dataset ds;
    build_ok(&s, &ds);
    ck_assert_int_eq(ds.n_valid, 2);
    ck_assert_int_eq(ds.n_skipped, 2);
    ck_assert_msg(strstr(ds.skipped[0], "valid/bird/8.jpg: label 'bird' is not in the vocab"), "%s", ds.skipped[0]);
    dataset_free(&ds);
    /* a given vocab: the training split is checked against it too */
    const char *vocab[] = {"cat", "dog", "bird"};
    s.skip_bad = 0, s.vocab = vocab, s.n_vocab = 3;
    build_bad(&s, ERR_RUNTIME, "1 item has labels not in the given vocab (3 labels): 'fish'");
    s.vocab_unsorted = 1;
    s.skip_bad = 1;
    build_ok(&s, &ds);
    ck_assert_int_eq(ds.n_vocab, 3);
    ck_assert_str_eq(ds.vocab[2], "bird");  /* the given order */
    dataset_free(&ds);
}
END_TEST

START_TEST(regex_labeller_random_splitter)
{
    const char *breeds[] = {"Abyssinian", "great_pyrenees", "pug"};
    char name[64];
    for (int b = 0; b < 3; b++)
        for (int k = 1; k <= 10; k++) {
            snprintf(name, sizeof name, "images/%s_%d.jpg", breeds[b], k);
            put(name, "x");
        }
    DbSpec s = {.path = pth("images"), .recurse = 1, .kind = TARGET_CATEGORY, .y = DB_Y_REGEX,
                .y_pat = "^(.+)_\\d+\\.jpg$", .split = DB_SPLIT_RANDOM, .valid_pct = 0.2, .seed = 42};
    Dataset a, b;
    build_ok(&s, &a);
    build_ok(&s, &b);
    ck_assert_int_eq(a.n_items, 30);
    ck_assert_int_eq(a.n_valid, 6);
    ck_assert_int_eq(a.n_vocab, 3);
    ck_assert_str_eq(a.vocab[0], "Abyssinian");  /* bytewise: upper case first */
    ck_assert_str_eq(a.vocab[1], "great_pyrenees");
    ck_assert(memcmp(a.valid_idx, b.valid_idx, sizeof(int32_t) * 6) == 0);
    for (int i = 1; i < a.n_valid; i++) ck_assert_int_lt(a.valid_idx[i - 1], a.valid_idx[i]);
    for (int i = 0; i < a.n_items; i++) ck_assert(strstr(a.paths[i], a.vocab[a.yi[i]]) != NULL);
    dataset_free(&a);
    dataset_free(&b);

    put("images/cat.jpg", "x");
    build_bad(&s, ERR_RUNTIME, "cat.jpg: RegexLabeller('^(.+)_\\d+\\.jpg$') does not match the file name 'cat.jpg'");
    s.skip_bad = 1;
    build_ok(&s, &a);
    ck_assert_int_eq(a.n_items, 30);
    ck_assert_int_eq(a.n_skipped, 1);
    ck_assert(strstr(a.skipped[0], "images/cat.jpg: RegexLabeller"));
    dataset_free(&a);
    s.y_pat = "(.+?)_";
    build_bad(&s, ERR_USAGE, "lazy quantifier");
}
END_TEST

START_TEST(csv_multilabel_colreader_colsplitter)
{
    put("pascal/train.csv", "fname,labels,is_valid\n"
                            "000005.jpg,car,True\n"
                            "000007.jpg,car,False\n"
                            "000009.jpg,person,True\n"
                            "000012.jpg,,False\n"
                            "\"000016.jpg\",bicycle person person,False\n");
    DbSpec s = {.path = pth("pascal"), .csv = pth("pascal/train.csv"), .x_col = "fname", .x_pref = "train/",
                .kind = TARGET_MULTI, .y = DB_Y_COL, .y_col = "labels", .label_delim = " ",
                .split = DB_SPLIT_COL, .split_col = "is_valid"};
    Dataset ds;
    build_ok(&s, &ds);
    ck_assert_int_eq(ds.n_items, 5);
    ck_assert_str_eq(rel(&ds, 0), "pascal/train/000005.jpg");
    ck_assert_int_eq(ds.n_train, 3);
    ck_assert_int_eq(ds.n_valid, 2);
    /* vocab from the training rows: bicycle car person, sorted, each once */
    ck_assert_int_eq(ds.n_vocab, 3);
    ck_assert_str_eq(ds.vocab[0], "bicycle");
    ck_assert_str_eq(ds.vocab[2], "person");
    ck_assert_int_eq(ds.n_y, 3);
    const float want4[3] = {1, 0, 1};  /* item 4: bicycle person */
    for (int c = 0; c < 3; c++) ck_assert_float_eq(ds.y[4 * 3 + c], want4[c]);
    for (int c = 0; c < 3; c++) ck_assert_float_eq(ds.y[3 * 3 + c], 0);  /* empty field: no labels */
    dataset_free(&ds);
    (void)0;
}
END_TEST

START_TEST(csv_multilabel_unknown_valid_labels_and_bad_cells)
{
    put("p/t.csv", "fname,labels,is_valid\na.jpg,cat,0\nb.jpg,cat dog,1\nc.jpg,bird,1\n");
    DbSpec s = {.path = pth("p"), .csv = pth("p/t.csv"), .x_col = "fname", .kind = TARGET_MULTI, .y = DB_Y_COL,
                .y_col = "labels", .label_delim = " ", .split = DB_SPLIT_COL, .split_col = "is_valid"};
    build_bad(&s, ERR_RUNTIME, "2 validation items have labels not in the training split's labels (1 labels): 'dog', 'bird'");
    put("p/t.csv", "fname,labels,is_valid\na.jpg,cat,0\nb.jpg,cat,yes\n");
    build_bad(&s, ERR_RUNTIME, "t.csv:3: ColSplitter('is_valid'): 'yes' is not true/false");
    s.split_col = "valid";
    build_bad(&s, ERR_USAGE, "no column 'valid' (columns: 'fname', 'labels', 'is_valid')");
    s.split_col = "is_valid", s.y_col = "label";
    put("p/t.csv", "fname,labels,is_valid\na.jpg,cat,0\n");
    build_bad(&s, ERR_USAGE, "get_y: ");
    /* single label from a column; an empty cell is an error naming the line */
    put("p/t.csv", "fname,label,is_valid\na.jpg,cat,0\nb.jpg,,0\n");
    s.kind = TARGET_CATEGORY, s.label_delim = NULL;
    build_bad(&s, ERR_RUNTIME, "t.csv:3: empty label in column 'label'");
    /* columns by index, no header (csv_names) */
    put("p/n.csv", "a.jpg;cat;0\nb.jpg;dog;0\nc.jpg;cat;1\n");
    const char *names[] = {"f", "y", "v"};
    DbSpec n = {.path = pth("p"), .csv = pth("p/n.csv"), .csv_sep = ';', .csv_names = names, .n_csv_names = 3,
                .x_col_idx = 0, .kind = TARGET_CATEGORY, .y = DB_Y_COL, .y_col_idx = 1, .split = DB_SPLIT_COL,
                .split_col = "v"};
    Dataset ds;
    build_ok(&n, &ds);
    ck_assert_int_eq(ds.n_train, 2);
    ck_assert_int_eq(ds.yi[2], 0);
    dataset_free(&ds);
}
END_TEST

START_TEST(long_label_cells_are_whole_and_too_many_labels_an_error)
{
    /* A cell longer than any fixed buffer keeps every label (they were cut
     * at 4095 bytes), and more labels on one item than fastc takes is an
     * error naming the line (they were dropped past 256 without a word). */
    size_t cap = 20000;
    char *csv = malloc(cap), *cell = malloc(cap);
    size_t n = 0;
    for (int k = 0; k < 256; k++) n += (size_t)snprintf(cell + n, cap - n, "%slabel_number_%03d", k ? " " : "", k);
    snprintf(csv, cap, "fname,labels,is_valid\na.jpg,%s,0\nb.jpg,label_number_255,1\n", cell);
    put("p/long.csv", csv);
    DbSpec s = {.path = pth("p"), .csv = pth("p/long.csv"), .x_col = "fname", .kind = TARGET_MULTI, .y = DB_Y_COL,
                .y_col = "labels", .label_delim = " ", .split = DB_SPLIT_COL, .split_col = "is_valid"};
    Dataset ds;
    build_ok(&s, &ds);
    ck_assert_int_eq(ds.n_vocab, 256);   /* the last, past byte 4300 of the cell, is there */
    ck_assert_str_eq(ds.vocab[255], "label_number_255");
    ck_assert(ds.y[1 * 256 + 255] == 1.0f);
    dataset_free(&ds);
    snprintf(csv, cap, "fname,labels,is_valid\na.jpg,%s x,0\nb.jpg,x,1\n", cell);
    put("p/long.csv", csv);
    build_bad(&s, ERR_RUNTIME, "long.csv:2: 257 labels in one cell, more than the 256 an item can have");
    free(csv), free(cell);
}
END_TEST

START_TEST(points_from_csv_func_splitter)
{
    put("biwi/01/a.jpg", "x");
    put("biwi/01/b.jpg", "x");
    put("biwi/13/c.jpg", "x");
    put("biwi/centers.csv", "file,x,y\n01/a.jpg,10,20\nb.jpg,30.5,40\n13/c.jpg,50,60\n");
    DbSpec s = {.path = pth("biwi"), .recurse = 1, .kind = TARGET_POINTS, .y = DB_Y_POINTS,
                .points_csv = pth("biwi/centers.csv"), .split = DB_SPLIT_PARENT, .parent_name = "13"};
    Dataset ds;
    build_ok(&s, &ds);
    ck_assert_int_eq(ds.n_items, 3);
    ck_assert_int_eq(ds.n_y, 2);
    ck_assert_int_eq(ds.n_valid, 1);
    ck_assert_str_eq(rel(&ds, ds.valid_idx[0]), "biwi/13/c.jpg");
    ck_assert_float_eq(ds.y[1 * 2 + 0], 30.5f);
    ck_assert_float_eq(ds.y[2 * 2 + 1], 60.0f);
    ck_assert_ptr_null(ds.vocab);
    /* each item's row, for the loader's messages about its points */
    ck_assert_str_eq(ds.y_file, pth("biwi/centers.csv"));
    ck_assert_int_eq(ds.y_line[0], 2);
    ck_assert_int_eq(ds.y_line[1], 3);
    ck_assert_int_eq(ds.y_line[2], 4);
    dataset_free(&ds);

    put("biwi/13/d.jpg", "x");
    build_bad(&s, ERR_RUNTIME, "13/d.jpg: no points for this item in");
    s.skip_bad = 1;
    build_ok(&s, &ds);
    ck_assert_int_eq(ds.n_items, 3);
    ck_assert_int_eq(ds.n_skipped, 1);
    dataset_free(&ds);
    put("biwi/centers.csv", "file,x,y\n01/a.jpg,10,20\nb.jpg,30.5\n");
    build_bad(&s, ERR_RUNTIME, "centers.csv:3: expected 3 fields");
    s.kind = TARGET_CATEGORY;
    build_bad(&s, ERR_USAGE, "PointBlock");
}
END_TEST

/* The files people have: pandas writes a header whose first cell is empty
 * (",0,1" for columns named 0 and 1, the file names as the index), and BIWI
 * has the same file name in every folder (13/frame_00003_rgb.jpg,
 * 14/frame_00003_rgb.jpg): each item gets its own folder's row, also when the
 * keys were written from elsewhere ("biwi/13/...", an absolute path of
 * another copy of the data, or one into the data folder). */
START_TEST(points_from_pandas_csv_and_same_name_in_two_folders)
{
    put("biwi/13/frame_00003_rgb.jpg", "x");
    put("biwi/14/frame_00003_rgb.jpg", "x");
    put("biwi/14/frame_00004_rgb.jpg", "x");
    char csv[4096];
    snprintf(csv, sizeof csv, ",0,1\nbiwi/13/frame_00003_rgb.jpg,10,20\n/home/me/data/biwi/14/frame_00003_rgb.jpg,30,40\n"
             "%s,50,60\n", pth("biwi/14/frame_00004_rgb.jpg"));
    put("biwi/centers.csv", csv);
    DbSpec s = {.path = pth("biwi"), .recurse = 1, .kind = TARGET_POINTS, .y = DB_Y_POINTS,
                .points_csv = pth("biwi/centers.csv"), .split = DB_SPLIT_PARENT, .parent_name = "13"};
    Dataset ds;
    build_ok(&s, &ds);
    ck_assert_int_eq(ds.n_items, 3);
    for (int i = 0; i < 3; i++) {
        const char *r = rel(&ds, i);
        float want = !strcmp(r, "biwi/13/frame_00003_rgb.jpg") ? 10 : !strcmp(r, "biwi/14/frame_00003_rgb.jpg") ? 30 : 50;
        ck_assert_msg(ds.y[2 * i] == want, "%s: x %g, expected %g", r, ds.y[2 * i], want);
        ck_assert_int_eq(ds.y_line[i], (int)want / 20 + 2);
    }
    dataset_free(&ds);
    /* pandas without index=False: a row-number column before the file names */
    put("biwi/centers.csv", ",file,x,y\n0,13/frame_00003_rgb.jpg,1,2\n1,14/frame_00003_rgb.jpg,3,4\n"
                            "2,14/frame_00004_rgb.jpg,5,6\n");
    build_ok(&s, &ds);
    ck_assert_int_eq(ds.n_y, 2);
    for (int i = 0; i < 3; i++) ck_assert(ds.y[2 * i + 1] == ds.y[2 * i] + 1);
    dataset_free(&ds);
    /* two keys naming one file, written two ways: an error, not a silent pick */
    put("biwi/centers.csv", "file,x,y\n13/frame_00003_rgb.jpg,1,2\nbiwi/13/frame_00003_rgb.jpg,3,4\n");
    build_bad(&s, ERR_RUNTIME, "centers.csv:3: '13/frame_00003_rgb.jpg' already has points on line 2");
    /* a bare name present in neither folder's rows is not matched by another folder's row */
    put("biwi/centers.csv", "file,x,y\n13/frame_00003_rgb.jpg,1,2\n14/frame_00003_rgb.jpg,3,4\n");
    build_bad(&s, ERR_RUNTIME, "14/frame_00004_rgb.jpg: no points for this item");
}
END_TEST

START_TEST(empty_folder_and_all_valid_are_errors)
{
    put("empty/readme.txt", "x");
    DbSpec s = {.path = pth("empty"), .recurse = 1, .kind = TARGET_CATEGORY, .y = DB_Y_PARENT,
                .split = DB_SPLIT_RANDOM, .valid_pct = 0.2};
    build_bad(&s, ERR_RUNTIME, "no image files found");
    put("full/a/1.png", "x");
    s.path = pth("full"), s.valid_pct = 1.0;
    build_bad(&s, ERR_RUNTIME, "the splitter put no item in the training split (1 items, 1 validation)");
}
END_TEST


/* ---- through the config ([data] as users write it) ---- */

static const char *TAIL = "[model]\narch = resnet18\n[train]\nschedule = fit_one_cycle(1)\n";

static int build_cfg(const char *ini, Dataset *ds, Err *err)
{
    char text[4096], p[1100];
    snprintf(text, sizeof text, "%s%s", ini, TAIL);
    tu_write(dir, "cfg/run.ini", text, strlen(text), p, sizeof p);
    Setup s;
    Ctx ctx = {.threads = 1};
    if (setup_load(&s, p, NULL, 0, &ctx, err)) return err->code;
    int rc = datablock_build_spec(&s.db, ds, err);
    setup_free(&s);
    return rc;
}

START_TEST(config_pets_regex_random_split)
{
    const char *breeds[] = {"Bengal", "beagle", "pug"};
    char name[64];
    for (int b = 0; b < 3; b++)
        for (int k = 1; k <= 10; k++) {
            snprintf(name, sizeof name, "cfg/pets/images/%s_%d.jpg", breeds[b], k);
            put(name, "x");
        }
    Dataset a, b, c;
    Err err = {0};
    const char *ini = "[data]\npath = pets/images\nblocks = ImageBlock, CategoryBlock\nget_items = get_image_files\n"
                      "get_y = RegexLabeller(pat='^(.+)_\\d+\\.jpg$')\nsplitter = RandomSplitter(valid_pct=0.2, seed=42)\n";
    ck_assert_msg(build_cfg(ini, &a, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(a.n_items, 30);
    ck_assert_int_eq(a.n_valid, 6);
    ck_assert_int_eq(a.n_vocab, 3);
    ck_assert_str_eq(a.vocab[0], "Bengal");
    /* seed=None takes [learner] seed (42 by default): the same split */
    ck_assert_msg(build_cfg("[data]\npath = pets/images\nblocks = ImageBlock, CategoryBlock\n"
                            "get_y = RegexLabeller('^(.+)_\\d+\\.jpg$')\nsplitter = RandomSplitter(0.2)\n",
                            &b, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(a.valid_idx, b.valid_idx, sizeof(int32_t) * 6) == 0);
    ck_assert_msg(build_cfg("[data]\npath = pets/images\nblocks = ImageBlock, CategoryBlock\n"
                            "get_y = RegexLabeller('^(.+)_\\d+\\.jpg$')\nsplitter = RandomSplitter(0.2)\n"
                            "[learner]\nseed = 7\n", &c, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(a.valid_idx, c.valid_idx, sizeof(int32_t) * 6) != 0);
    dataset_free(&a), dataset_free(&b), dataset_free(&c);
    /* a given vocab is sorted (CategoryBlock(sort=True)) and checked */
    ck_assert_int_eq(build_cfg("[data]\npath = pets/images\nblocks = ImageBlock, CategoryBlock(vocab=['pug', 'beagle'])\n"
                               "get_y = RegexLabeller('^(.+)_\\d+\\.jpg$')\n", &a, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "not in the given vocab (2 labels): 'Bengal'"), "%s", err.msg);
    ck_assert_int_eq(build_cfg("[data]\npath = pets/images\nblocks = ImageBlock, CategoryBlock(vocab=['pug', 'beagle', 'Bengal'])\n"
                               "get_y = RegexLabeller('^(.+)_\\d+\\.jpg$')\n", &a, &err), 0);
    ck_assert_str_eq(a.vocab[0], "Bengal");
    ck_assert_str_eq(a.vocab[2], "pug");
    dataset_free(&a);
}
END_TEST

START_TEST(config_pascal_csv_and_biwi_points)
{
    put("cfg/pascal/train.csv", "fname,labels,is_valid\nx1.jpg,dog,False\nx2.jpg,cat dog,True\nx3.jpg,cat,False\n");
    Dataset ds;
    Err err = {0};
    ck_assert_msg(build_cfg("[data]\npath = pascal\ncsv = train.csv\nblocks = ImageBlock, MultiCategoryBlock\n"
                            "get_x = ColReader('fname', pref='train/')\nget_y = ColReader('labels', label_delim=' ')\n"
                            "splitter = ColSplitter('is_valid')\n", &ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ds.kind, TARGET_MULTI);
    ck_assert_int_eq(ds.n_train, 2);
    ck_assert_int_eq(ds.n_vocab, 2);
    ck_assert_float_eq(ds.y[1 * 2 + 0], 1);
    ck_assert_float_eq(ds.y[1 * 2 + 1], 1);
    ck_assert(strstr(ds.paths[0], "cfg/pascal/train/x1.jpg") != NULL);
    dataset_free(&ds);

    /* a headerless TSV; get_x defaults to the first column; columns by index */
    put("cfg/t.tsv", "a.png\tcat\nb.png\tdog\nc.png\tcat\n");
    ck_assert_msg(build_cfg("[data]\ncsv = t.tsv\ncsv_sep = '\\t'\ncsv_names = f, y\n"
                            "blocks = ImageBlock, CategoryBlock\nget_y = ColReader(1)\nsplitter = RandomSplitter(0.0)\n", &ds, &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(ds.n_train, 3);
    ck_assert_int_eq(ds.yi[1], 1);
    dataset_free(&ds);

    put("cfg/biwi/01/a.jpg", "x");
    put("cfg/biwi/13/b.jpg", "x");
    put("cfg/biwi/centers.csv", "a.jpg,1,2\nb.jpg,3,4\n");
    ck_assert_msg(build_cfg("[data]\npath = biwi\nblocks = ImageBlock, PointBlock\nget_items = get_image_files\n"
                            "get_y = PointsFromCSV('centers.csv')\nsplitter = FuncSplitter(parent_name='13')\n",
                            &ds, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ds.n_valid, 1);
    ck_assert_float_eq(ds.y[ds.valid_idx[0] * 2], 3);
    dataset_free(&ds);

    ck_assert_int_eq(build_cfg("[data]\npath = biwi\nblocks = ImageBlock\n", &ds, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "[data] blocks"), "%s", err.msg);
    ck_assert_int_eq(build_cfg("[data]\npath = biwi\nblocks = ImageBlock, PointBlock\n", &ds, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "[data] get_y"), "%s", err.msg);
    ck_assert_int_eq(build_cfg("[data]\npath = biwi\nblocks = ImageBlock, CategoryBlock\nget_x = ColReader('f')\nget_y = parent_label\n",
                               &ds, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "csv"), "%s", err.msg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("datablock");
    TCase *tc = tcase_create("datablock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, parent_label_grandparent_splitter);
    tcase_add_test(tc, validation_label_outside_vocab_is_reported);
    tcase_add_test(tc, regex_labeller_random_splitter);
    tcase_add_test(tc, csv_multilabel_colreader_colsplitter);
    tcase_add_test(tc, csv_multilabel_unknown_valid_labels_and_bad_cells);
    tcase_add_test(tc, long_label_cells_are_whole_and_too_many_labels_an_error);
    tcase_add_test(tc, points_from_csv_func_splitter);
    tcase_add_test(tc, points_from_pandas_csv_and_same_name_in_two_folders);
    tcase_add_test(tc, empty_folder_and_all_valid_are_errors);
    tcase_add_test(tc, config_pets_regex_random_split);
    tcase_add_test(tc, config_pascal_csv_and_biwi_points);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
