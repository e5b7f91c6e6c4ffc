/* test_json.c — src/io/json: strict parsing, errors with offsets, the builder. */
#include "check_main.h"
#include "io/json.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static Json *parse(const char *s, Err *err) { return json_parse(s, strlen(s), err); }

START_TEST(parses_nested_values)
{
    Err err = {0};
    Json *j = parse(" {\"a\": [1, -2.5e3, true, false, null], \"b\": {\"c\": \"x\\ny\\u00e9\\ud83d\\ude00\"}} ", &err);
    ck_assert_msg(j, "%s", err.msg);
    ck_assert_int_eq(j->type, JSON_OBJECT);
    const Json *a = json_get(j, "a");
    ck_assert_uint_eq(json_len(a), 5);
    ck_assert(json_at(a, 0)->is_int && json_at(a, 0)->i == 1);
    ck_assert(!json_at(a, 1)->is_int && json_at(a, 1)->num == -2500.0);
    ck_assert(json_at(a, 2)->type == JSON_BOOL && json_at(a, 2)->boolean);
    ck_assert(json_at(a, 4)->type == JSON_NULL);
    const Json *c = json_get(json_get(j, "b"), "c");
    ck_assert_str_eq(c->str, "x\ny\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_ptr_null(json_get(j, "zz"));
    ck_assert_str_eq(json_key_at(j, 1), "b");
    json_free(j);
}
END_TEST

START_TEST(integers_are_exact_in_int64)
{
    Err err = {0};
    Json *j = parse("[9007199254740993, -9223372036854775808, 9223372036854775808, 0]", &err);
    ck_assert_msg(j, "%s", err.msg);
    ck_assert(j->items[0].is_int && j->items[0].i == 9007199254740993LL);
    ck_assert(j->items[1].is_int && j->items[1].i == INT64_MIN);
    ck_assert(!j->items[2].is_int); /* too big: only the double */
    ck_assert(j->items[3].is_int && j->items[3].i == 0);
    json_free(j);
}
END_TEST

START_TEST(refuses_what_rfc8259_refuses)
{
    const char *bad[] = {
        "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nul", "[1 2]", "\"abc", "\"a\tb\"", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\u0000\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "{\"a\":1,\"a\":2}", "[1] [2]",
        "// c\n1", "'a'", "NaN", "Infinity", "\"\\", "[", "{\"a\":", "{\"a\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Err err = {0};
        Json *j = parse(bad[i], &err);
        ck_assert_msg(!j, "accepted bad JSON #%zu: %s", i, bad[i]);
        ck_assert_msg(strncmp(err.msg, "byte ", 5) == 0, "#%zu: message '%s' names no byte offset", i, err.msg);
    }
}
END_TEST

START_TEST(error_names_the_offset)
{
    Err err = {0};
    ck_assert_ptr_null(parse("{\"a\": [1, 2,, 3]}", &err));
    ck_assert_msg(strstr(err.msg, "byte 12"), "%s", err.msg);
    ck_assert_ptr_null(parse("{\"k\":1, \"k\":2}", &err));
    ck_assert_msg(strstr(err.msg, "duplicate key \"k\""), "%s", err.msg);
}
END_TEST

START_TEST(nesting_is_limited)
{
    char deep[8192];
    int n = 3000;
    for (int i = 0; i < n; i++) deep[i] = '[';
    for (int i = 0; i < n; i++) deep[n + i] = ']';
    Err err = {0};
    ck_assert_ptr_null(json_parse(deep, 2 * (size_t)n, &err));
    ck_assert_msg(strstr(err.msg, "nesting"), "%s", err.msg);
    /* 64 levels are fine */
    for (int i = 0; i < 64; i++) deep[i] = '[', deep[64 + i] = ']';
    Json *j = json_parse(deep, 128, &err);
    ck_assert_msg(j, "%s", err.msg);
    json_free(j);
}
END_TEST

START_TEST(never_reads_past_len)
{
    /* A buffer exactly as long as the text (no NUL after it): ASan catches overreads. */
    const char *texts[] = {"[1,2", "\"abc\\", "{\"a\":tru", "123", "-1.5e+", "\"\\ud83d\\ude0", "\"\xf0\x9f\x98"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = strlen(texts[i]);
        char *b = malloc(n);
        memcpy(b, texts[i], n);
        Err err = {0};
        Json *j = json_parse(b, n, &err);
        if (i == 3) {
            ck_assert(j && j->i == 123);
            json_free(j);
        } else {
            ck_assert_msg(!j, "#%zu accepted", i);
        }
        free(b);
    }
}
END_TEST

START_TEST(random_mutations_never_crash)
{
    const char *seed = "{\"__metadata__\":{\"a\":\"b\\u00e9\"},\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    size_t n = strlen(seed);
    Rng r = rng_make(3, 0);
    char *b = malloc(n + 8);
    int iters = getenv("FASTC_SANITIZED") ? 5000 : 20000;
    for (int it = 0; it < iters; it++) {
        memcpy(b, seed, n);
        size_t len = n;
        int k = 1 + (int)(rng_uniform(&r) * 4);
        for (int m = 0; m < k; m++) {
            size_t pos = (size_t)(rng_uniform(&r) * (double)len);
            double u = rng_uniform(&r);
            if (u < 0.6) b[pos] = (char)(rng_uniform(&r) * 256);
            else if (u < 0.8) len = pos;          /* truncate */
            else b[pos] = "{}[],:\"\\0e-"[(int)(rng_uniform(&r) * 11)];
        }
        Err err = {0};
        Json *j = json_parse(b, len, &err);
        if (!j) ck_assert(err.msg[0]);
        json_free(j);
    }
    free(b);
}
END_TEST

START_TEST(builder_output_parses_back)
{
    JsonBuf b = {0};
    const char *nasty = "q\"uote\\back\nnl\x01ctl \xc3\xa9";
    json_buf_putc(&b, '{');
    json_buf_str(&b, nasty);
    json_buf_putc(&b, ':');
    json_buf_num(&b, 0.1);
    json_buf_putc(&b, ',');
    json_buf_str(&b, "inf");
    json_buf_putc(&b, ':');
    json_buf_num(&b, INFINITY);
    json_buf_putc(&b, '}');
    Err err = {0};
    Json *j = json_parse(b.s, b.len, &err);
    ck_assert_msg(j, "%s in %s", err.msg, b.s);
    ck_assert_str_eq(j->keys[0], nasty);
    ck_assert(j->items[0].num == 0.1);
    ck_assert_int_eq(j->items[1].type, JSON_NULL);
    json_free(j);
    json_buf_free(&b);
}
END_TEST

START_TEST(string_and_number_lists_round_trip)
{
    const char *v[] = {"Abyssinian", "a \"quoted\" name", "", "Bengal"};
    char *s = json_encode_strings(v, 4);
    char **out;
    size_t n;
    Err err = {0};
    ck_assert_int_eq(json_decode_strings(s, "vocab", &out, &n, &err), 0);
    ck_assert_uint_eq(n, 4);
    for (int i = 0; i < 4; i++) ck_assert_str_eq(out[i], v[i]);
    json_strings_free(out, n);
    free(s);

    double x[] = {0.485, 0.456, 0.406, 1e-300};
    s = json_encode_numbers(x, 4);
    double y[4];
    ck_assert_int_eq(json_decode_numbers(s, "norm_mean", y, 4, &n, &err), 0);
    ck_assert_uint_eq(n, 4);
    for (int i = 0; i < 4; i++) ck_assert(x[i] == y[i]);
    ck_assert_int_ne(json_decode_numbers(s, "norm_mean", y, 3, &n, &err), 0);
    ck_assert_msg(strstr(err.msg, "norm_mean"), "%s", err.msg);
    free(s);
    ck_assert_int_ne(json_decode_strings("[\"a\", 3]", "vocab", &out, &n, &err), 0);
    ck_assert_msg(strstr(err.msg, "vocab: item 1 is a number"), "%s", err.msg);
    ck_assert_int_ne(json_decode_strings("[\"a\"", "vocab", &out, &n, &err), 0);
    ck_assert_msg(strstr(err.msg, "vocab: byte"), "%s", err.msg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("json");
    TCase *t = tcase_create("json");
    tcase_add_test(t, parses_nested_values);
    tcase_add_test(t, integers_are_exact_in_int64);
    tcase_add_test(t, refuses_what_rfc8259_refuses);
    tcase_add_test(t, error_names_the_offset);
    tcase_add_test(t, nesting_is_limited);
    tcase_add_test(t, never_reads_past_len);
    tcase_add_test(t, random_mutations_never_crash);
    tcase_add_test(t, builder_output_parses_back);
    tcase_add_test(t, string_and_number_lists_round_trip);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
