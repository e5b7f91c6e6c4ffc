/* test_validate.c — `fastc validate` refuses what `train` refuses, before any
 * data is read (issue 14, item 10): too many metrics or item transforms,
 * pct_start=1, a csv_sep of two characters, a regex POSIX cannot take, an
 * input size the network does not take, a batch BatchNorm cannot train on,
 * pretrained weights for a collab model, a monitor that is no column.  Each
 * refusal is exit 2 with one line naming where the value came from: the
 * config's file:line, or the --set argument (never "file:0").  The data
 * folders these configs name do not exist: validate never reads them. */
#include "check_main.h"
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char out[1 << 14];
static char tmpdir[1024];

static void setup(void) { tu_tmpdir(tmpdir, sizeof tmpdir); }
static void teardown(void) { tu_rmtree(tmpdir); }

/* An image config whose line 4 is `line4` (and whose line 9 is `line9`). */
static const char *IMAGE = "[data]\n"                                        /* 1 */
                           "path = images\n"                                 /* 2 */
                           "blocks = ImageBlock, CategoryBlock\n"            /* 3 */
                           "%s\n"                                            /* 4 */
                           "get_y = parent_label\n"                          /* 5 */
                           "[model]\n"                                       /* 6 */
                           "arch = resnet18\n"                               /* 7 */
                           "[learner]\n"                                     /* 8 */
                           "%s\n"                                            /* 9 */
                           "[train]\n"                                       /* 10 */
                           "schedule = fit_one_cycle(1)\n";                  /* 11 */

static const char *COLLAB = "[data]\n"
                            "csv = ratings.csv\n"
                            "blocks = CollabBlock\n"
                            "[model]\n"
                            "arch = %s\n"
                            "%s\n"
                            "[train]\n"
                            "schedule = fit_one_cycle(1)\n";

/* Write the config and run `fastc validate` on it with extra arguments;
 * stderr (and stdout) in out. */
static int validate(const char *fmt, const char *a, const char *b, const char *args)
{
    char text[4096], path[2048], cmd[8192];
    snprintf(text, sizeof text, fmt, a, b);
    tu_write(tmpdir, "t.ini", text, strlen(text), path, sizeof path);
    snprintf(cmd, sizeof cmd, "%s validate '%s' --quiet %s", tu_fastc(), path, args ? args : "");
    return tu_run(cmd, out, sizeof out);
}

/* exit 2, one line, holding every given piece */
static void refused(int rc, ...)
{
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    char *nl = strchr(out, '\n');
    ck_assert_msg(nl && nl[1] == 0, "not one line: %s", out);
    ck_assert_msg(!strstr(out, ".ini:0:"), "file:0 in: %s", out);
    va_list ap;
    va_start(ap, rc);
    for (const char *want; (want = va_arg(ap, const char *));)
        ck_assert_msg(strstr(out, want), "'%s' lacks '%s'", out, want);
    va_end(ap);
}

START_TEST(a_valid_config_passes)
{
    ck_assert_msg(validate(IMAGE, "bs = 8", "metrics = error_rate", NULL) == 0, "%s", out);
    ck_assert_msg(validate(COLLAB, "DotProductBias(n_factors=4)", "", NULL) == 0, "%s", out);
}
END_TEST

START_TEST(more_metrics_than_the_table_holds)
{
    refused(validate(IMAGE, "bs = 8", "metrics = error_rate, accuracy, error_rate, accuracy, error_rate, accuracy, "
                     "error_rate, accuracy, error_rate", NULL),
            "t.ini:9: [learner] metrics", "at most 8", NULL);
}
END_TEST

START_TEST(more_item_transforms_than_the_loader_holds)
{
    refused(validate(IMAGE, "item_tfms = Resize(8), Resize(8), Resize(8), Resize(8), Resize(8)", "", NULL),
            "t.ini:4: [data] item_tfms", "at most 4", NULL);
}
END_TEST

START_TEST(pct_start_of_one)
{
    refused(validate(IMAGE, "bs = 8", "", "--set 'train.schedule=fit_one_cycle(1, pct_start=1)'"),
            "--set train.schedule=fit_one_cycle(1, pct_start=1): [train] schedule", "pct_start", "[0, 1)", NULL);
    refused(validate(IMAGE, "bs = 8", "", "--set 'train.schedule=fine_tune(1, pct_start=1.0)'"), "pct_start",
            "[0, 1)", NULL);
}
END_TEST

START_TEST(csv_sep_of_two_characters)
{
    refused(validate(IMAGE, "csv_sep = 'ab'", "", NULL), "t.ini:4: [data] csv_sep", "'ab'", "one character", NULL);
    /* from --set: the message names the --set argument, not the file */
    refused(validate(IMAGE, "bs = 8", "", "--set \"data.csv_sep='ab'\""), "--set data.csv_sep='ab': [data] csv_sep",
            "one character", NULL);
    refused(validate(COLLAB, "DotProduct", "", "--set \"data.csv_sep='ab'\""), "--set data.csv_sep='ab'", NULL);
}
END_TEST

START_TEST(regex_posix_cannot_take)
{
    refused(validate(IMAGE, "bs = 8", "", "--set \"data.get_y=RegexLabeller(pat='(?<=_)(\\d+)')\""),
            "--set data.get_y=", "[data] get_y", "look-behind", NULL);
    refused(validate(IMAGE, "bs = 8", "", "--set \"data.get_y=RegexLabeller(pat='([a-z')\""), "[data] get_y",
            "RegexLabeller", NULL);
    refused(validate(IMAGE, "bs = 8", "", "--set \"data.get_y=RegexLabeller(pat='abc')\""), "[data] get_y", "group",
            NULL);
}
END_TEST

START_TEST(an_input_the_network_does_not_take)
{
    refused(validate(IMAGE, "item_tfms = Resize(5000)", "", NULL), "t.ini:4: [data] item_tfms", "5000x5000",
            "4096", NULL);
    refused(validate(IMAGE, "batch_tfms = aug_transforms(size=(5000, 64))", "", NULL), "t.ini:4: [data] batch_tfms",
            "5000x64", NULL);
    /* a big item transform the batch transform resizes is fine */
    ck_assert_msg(validate(IMAGE, "item_tfms = Resize(5000)", "", "--set 'data.batch_tfms=aug_transforms(size=224)'")
                  == 0, "%s", out);
}
END_TEST

START_TEST(a_batch_of_one_cannot_train_batchnorm)
{
    refused(validate(IMAGE, "bs = 1", "", NULL), "t.ini:4: [data] bs", "BatchNorm", "2 items", NULL);
    refused(validate(IMAGE, "bs = 8", "", "--set data.bs=1"), "--set data.bs=1: [data] bs", "BatchNorm", NULL);
    refused(validate(COLLAB, "EmbeddingNN", "", "--set data.bs=1"), "--set data.bs=1", "BatchNorm", NULL);
    /* no BatchNorm in DotProduct: one item per batch is fine */
    ck_assert_msg(validate(COLLAB, "DotProduct", "", "--set data.bs=1") == 0, "%s", out);
}
END_TEST

START_TEST(pretrained_weights_for_a_collab_model)
{
    refused(validate(COLLAB, "DotProductBias", "pretrained = w.safetensors", NULL), "t.ini:6: [model] pretrained",
            "collab", NULL);
}
END_TEST

START_TEST(a_monitor_that_is_no_column)
{
    refused(validate(IMAGE, "bs = 8", "cbs = SaveModelCallback(monitor='accuracy')", NULL), "t.ini:9: [learner] cbs",
            "accuracy", NULL);
    ck_assert_msg(validate(IMAGE, "bs = 8", "metrics = accuracy\ncbs = SaveModelCallback(monitor='accuracy')", NULL)
                  == 0, "%s", out);
}
END_TEST

START_TEST(a_low_above_high_y_range)
{
    refused(validate(IMAGE, "bs = 8", "", "--set 'model.y_range=(1, -1)'"), "--set model.y_range=(1, -1)", "lo < hi",
            NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("validate");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_valid_config_passes);
    tcase_add_test(tc, more_metrics_than_the_table_holds);
    tcase_add_test(tc, more_item_transforms_than_the_loader_holds);
    tcase_add_test(tc, pct_start_of_one);
    tcase_add_test(tc, csv_sep_of_two_characters);
    tcase_add_test(tc, regex_posix_cannot_take);
    tcase_add_test(tc, an_input_the_network_does_not_take);
    tcase_add_test(tc, a_batch_of_one_cannot_train_batchnorm);
    tcase_add_test(tc, pretrained_weights_for_a_collab_model);
    tcase_add_test(tc, a_monitor_that_is_no_column);
    tcase_add_test(tc, a_low_above_high_y_range);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
