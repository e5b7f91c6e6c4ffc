/* test_csv.c — src/data/csv.c: the CSV shapes users' files come in. */
#include "check_main.h"
#include "data/csv.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CsvTable parse_ok(const char *text, const CsvOptions *o)
{
    CsvTable t;
    Err err = {0};
    int rc = csv_parse(text, strlen(text), "t.csv", o, &t, &err);
    ck_assert_msg(rc == 0, "parse failed: %s", err.msg);
    return t;
}

static void parse_bad(const char *text, const CsvOptions *o, const char *want)
{
    CsvTable t;
    Err err = {0};
    int rc = csv_parse(text, strlen(text), "t.csv", o, &t, &err);
    ck_assert_msg(rc == ERR_RUNTIME, "expected a run-time error (a bad data file, exit 1) for %s", text);
    ck_assert_msg(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
    ck_assert_ptr_null(t.cells);
}

START_TEST(header_and_quoted_fields)
{
    CsvOptions o = {.header = 1};
    CsvTable t = parse_ok("fname,labels,is_valid\n"
                          "a.jpg,\"dog,cat\",True\n"
                          "\"b \"\"quoted\"\".jpg\",\"two\nlines\",False\n"
                          "c.jpg,,1\n",
                          &o);
    ck_assert_int_eq(t.n_rows, 3);
    ck_assert_int_eq(t.n_cols, 3);
    ck_assert_str_eq(t.names[1], "labels");
    ck_assert_int_eq(csv_col(&t, "is_valid"), 2);
    ck_assert_int_eq(csv_col(&t, "nope"), -1);
    ck_assert_str_eq(csv_cell(&t, 0, 1), "dog,cat");
    ck_assert_str_eq(csv_cell(&t, 1, 0), "b \"quoted\".jpg");
    ck_assert_str_eq(csv_cell(&t, 1, 1), "two\nlines");
    ck_assert_str_eq(csv_cell(&t, 2, 1), "");
    ck_assert_str_eq(csv_cell(&t, 2, 2), "1");
    /* rows remember the line they start on (the quoted newline counts) */
    ck_assert_int_eq(t.lines[0], 2);
    ck_assert_int_eq(t.lines[1], 3);
    ck_assert_int_eq(t.lines[2], 5);
    csv_free(&t);
    csv_free(&t); /* idempotent */
}
END_TEST

START_TEST(separators_tab_pipe_and_names)
{
    const char *names[] = {"user", "item", "rating", "timestamp"};
    CsvOptions o = {.sep = '\t', .names = names, .n_names = 4};
    CsvTable t = parse_ok("196\t242\t3\t881250949\n186\t302\t3\t891717742\n", &o);
    ck_assert_int_eq(t.n_rows, 2);
    ck_assert_int_eq(csv_col(&t, "rating"), 2);
    ck_assert_str_eq(csv_cell(&t, 1, 1), "302");
    csv_free(&t);
    CsvOptions p = {.sep = '|'};
    t = parse_ok("1|Toy Story (1995)|01-Jan-1995||http://x?a,b|0|1\n2|GoldenEye (1995)|01-Jan-1995||u|1|0\n", &p);
    ck_assert_int_eq(t.n_cols, 7);
    ck_assert_ptr_null(t.names);
    ck_assert_str_eq(csv_cell(&t, 0, 4), "http://x?a,b");
    ck_assert_str_eq(csv_cell(&t, 1, 3), "");
    csv_free(&t);
}
END_TEST

START_TEST(crlf_bom_blank_lines_and_empty_fields)
{
    CsvOptions o = {.header = 1};
    CsvTable t = parse_ok("\xEF\xBB\xBF" "a,b,c\r\n1,,3\r\n\r\n,,\r\n\"x\r\ny\",2,\r\n7,8,9", &o);
    ck_assert_str_eq(t.names[0], "a");  /* the BOM is not part of the first name */
    ck_assert_int_eq(t.n_rows, 4);
    ck_assert_str_eq(csv_cell(&t, 0, 1), "");
    ck_assert_str_eq(csv_cell(&t, 1, 0), "");
    ck_assert_str_eq(csv_cell(&t, 1, 2), "");
    ck_assert_str_eq(csv_cell(&t, 2, 0), "x\r\ny");
    ck_assert_str_eq(csv_cell(&t, 2, 2), "");
    ck_assert_str_eq(csv_cell(&t, 3, 2), "9");  /* last line without a line end */
    ck_assert_int_eq(t.lines[1], 4);
    ck_assert_int_eq(t.lines[3], 7);
    csv_free(&t);
    /* header only, and an empty file */
    t = parse_ok("a,b\n", &o);
    ck_assert_int_eq(t.n_rows, 0);
    ck_assert_int_eq(t.n_cols, 2);
    csv_free(&t);
    t = parse_ok("", &o);
    ck_assert_int_eq(t.n_rows, 0);
    csv_free(&t);
}
END_TEST

START_TEST(latin1_becomes_utf8)
{
    CsvOptions o = {.sep = '|', .latin1 = 1};
    CsvTable t = parse_ok("1670|Himmel \xfc" "ber Berlin|caf\xe9\n", &o);
    ck_assert_str_eq(csv_cell(&t, 0, 1), "Himmel \xc3\xbc" "ber Berlin");
    ck_assert_str_eq(csv_cell(&t, 0, 2), "caf\xc3\xa9");
    csv_free(&t);
}
END_TEST

START_TEST(text_that_is_not_utf8_or_holds_a_nul_names_file_and_line)
{
    /* A Latin-1 file read as UTF-8 (pandas' default) is refused where its
     * first such byte is, not turned into labels no UTF-8 reader takes back. */
    CsvOptions o = {.header = 1};
    parse_bad("fname,label\na.jpg,cafe\nb.jpg,caf\xe9\n", &o,
              "t.csv:3: found byte 0xE9 at column 10, expected UTF-8 text");
    /* overlong forms and surrogates are not UTF-8 either; a quoted newline moves the line */
    parse_bad("a,b\n\"x\ny\",\xc0\xafz\n", &o, "t.csv:3: found byte 0xC0 at column 4");
    parse_bad("a,b\r\n1,\xed\xa0\x80\r\n", &o, "t.csv:2: found byte 0xED at column 3");
    /* a NUL inside a label: an error naming the line, never a label cut short */
    static const char nul[] = "fname,label\na.jpg,dog\nb.jpg,ca\0t\n";
    CsvTable t;
    Err err = {0};
    ck_assert_int_eq(csv_parse(nul, sizeof nul - 1, "t.csv", &o, &t, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "t.csv:3: found a NUL byte at column 9"), "%s", err.msg);
    ck_assert_ptr_null(t.cells);
    /* in Latin-1 mode too */
    CsvOptions l1 = {.latin1 = 1};
    ck_assert_int_eq(csv_parse("x\0y\n", 4, "l.csv", &l1, &t, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "l.csv:1: found a NUL byte at column 2"), "%s", err.msg);
    /* real UTF-8 (2, 3 and 4 bytes) is read as it is */
    t = parse_ok("label\ncaf\xc3\xa9\n\xe2\x82\xac\n\xf0\x9f\x90\x88\n", &o);
    ck_assert_int_eq(t.n_rows, 3);
    ck_assert_str_eq(csv_cell(&t, 2, 0), "\xf0\x9f\x90\x88");
    csv_free(&t);
}
END_TEST

START_TEST(malformed_rows_name_file_and_line)
{
    CsvOptions o = {.header = 1};
    parse_bad("a,b,c\n1,2,3\n4,5\n", &o, "t.csv:3: expected 3 fields (separated by ','), found 2");
    parse_bad("a,b\n1,2\n\n3,4,5\n", &o, "t.csv:4: expected 2 fields");
    parse_bad("a,b\n1,\"open\n2,3\n", &o, "t.csv:2: a quoted field is never closed");
    CsvOptions tab = {.sep = '\t'};
    parse_bad("1\t2\n1 2\n", &tab, "t.csv:2: expected 2 fields (separated by '\\t'), found 1");
    const char *names[] = {"x", "y", "z"};
    CsvOptions nm = {.names = names, .n_names = 3};
    parse_bad("1,2\n", &nm, "t.csv:1: expected 3 fields");
}
END_TEST

START_TEST(files_and_missing_columns)
{
    char dir[512], p[1024];
    tu_tmpdir(dir, sizeof dir);
    tu_write(dir, "l.csv", "fname,label\nx.png,3\n", 20, p, sizeof p);
    CsvTable t;
    Err err = {0};
    CsvOptions o = {.header = 1};
    ck_assert_int_eq(csv_read(p, &o, &t, &err), 0);
    ck_assert_str_eq(csv_cell(&t, 0, 0), "x.png");
    int col;
    ck_assert_int_eq(csv_require_col(&t, "label", &col, &err), 0);
    ck_assert_int_eq(col, 1);
    ck_assert_int_eq(csv_require_col(&t, "labels", &col, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "no column 'labels' (columns: 'fname', 'label')") && strstr(err.msg, p), "%s",
                  err.msg);
    csv_free(&t);
    char missing[1100];
    snprintf(missing, sizeof missing, "%s/none.csv", dir);
    ck_assert_int_eq(csv_read(missing, &o, &t, &err), ERR_RUNTIME);
    ck_assert(strstr(err.msg, missing) && strstr(err.msg, "cannot open"));
    tu_rmtree(dir);
}
END_TEST

START_TEST(hundred_thousand_rows_fast)
{
    size_t cap = 100000 * 32, n = 0;
    char *buf = malloc(cap);
    for (int r = 0; r < 100000; r++)
        n += (size_t)snprintf(buf + n, cap - n, "%d\t%d\t%d\t%d\n", r % 943 + 1, r % 1682 + 1, r % 5 + 1, 880000000 + r);
    CsvOptions o = {.sep = '\t'};
    CsvTable t;
    Err err = {0};
    ck_assert_int_eq(csv_parse(buf, n, "u.data", &o, &t, &err), 0);
    ck_assert_int_eq(t.n_rows, 100000);
    ck_assert_int_eq(t.n_cols, 4);
    ck_assert_int_eq(atoi(csv_cell(&t, 99999, 3)), 880099999);
    ck_assert_int_eq(t.lines[99999], 100000);
    csv_free(&t);
    free(buf);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, header_and_quoted_fields);
    tcase_add_test(tc, separators_tab_pipe_and_names);
    tcase_add_test(tc, crlf_bom_blank_lines_and_empty_fields);
    tcase_add_test(tc, latin1_becomes_utf8);
    tcase_add_test(tc, text_that_is_not_utf8_or_holds_a_nul_names_file_and_line);
    tcase_add_test(tc, malformed_rows_name_file_and_line);
    tcase_add_test(tc, files_and_missing_columns);
    tcase_add_test(tc, hundred_thousand_rows_fast);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
