/* test_items.c — src/data/items: the string list packed into chunks keeps
 * every string whole and apart (short ones, one longer than a chunk, a
 * hundred thousand), and get_image_files lists image files sorted, skipping
 * hidden ones and other extensions. */
#include "check_main.h"
#include "data/items.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(strlist_keeps_every_string)
{
    StrList l = {0};
    char s[80];
    for (int i = 0; i < 100000; i++) {
        snprintf(s, sizeof s, "folder/%d/item_%07d.png", i % 13, i);
        ck_assert_int_eq(strlist_push(&l, s), 0);
    }
    size_t big = 200000;   /* longer than a chunk */
    char *long_s = malloc(big + 1);
    memset(long_s, 'x', big), long_s[big] = 0;
    ck_assert_int_eq(strlist_push(&l, long_s), 0);
    ck_assert_int_eq(strlist_push_n(&l, "abcdef", 3), 0);
    ck_assert_int_eq(l.n, 100002);
    for (int i = 0; i < 100000; i++) {
        snprintf(s, sizeof s, "folder/%d/item_%07d.png", i % 13, i);
        ck_assert_str_eq(l.v[i], s);
    }
    ck_assert(strcmp(l.v[100000], long_s) == 0);
    ck_assert_str_eq(l.v[100001], "abc");
    strlist_sort(&l);
    for (int i = 1; i < l.n; i++) ck_assert_int_lt(strcmp(l.v[i - 1], l.v[i]), 0);
    free(long_s);
    strlist_free(&l);
    ck_assert(l.n == 0 && l.v == NULL && l.chunks == NULL);
    strlist_free(&l);   /* twice: a no-op */
}
END_TEST

START_TEST(image_files_sorted_without_hidden_or_other_files)
{
    char dir[512], p[1024];
    tu_tmpdir(dir, sizeof dir);
    const char *names[] = {"b/2.PNG", "a/1.jpg", "a-b.jpeg", "a/.hidden.png", ".git/x.png", "a/notes.txt", "c/d/e/3.webp"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) tu_write(dir, names[i], "x", 1, p, sizeof p);
    StrList l;
    Err err = {0};
    ck_assert_int_eq(items_image_files(dir, NULL, 0, 1, &l, &err), 0);
    ck_assert_int_eq(l.n, 4);
    const char *want[] = {"a-b.jpeg", "a/1.jpg", "b/2.PNG", "c/d/e/3.webp"};   /* bytewise: '-' < '/' */
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, want[i]);
        ck_assert_str_eq(l.v[i], p);
    }
    strlist_free(&l);
    ck_assert_int_eq(items_image_files(dir, NULL, 0, 0, &l, &err), 0);   /* not recursive */
    ck_assert_int_eq(l.n, 1);
    strlist_free(&l);
    tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("items");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, strlist_keeps_every_string);
    tcase_add_test(tc, image_files_sorted_without_hidden_or_other_files);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
