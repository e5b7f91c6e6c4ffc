/* test_ratings.c — src/data/ratings: reading ratings files, Categorify vocab,
 * titles, the random split and the ratings loaders. */
#include "check_main.h"
#include "data/ratings.h"
#include "setup/setup.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[512];

static void setup(void) { tu_tmpdir(dir, sizeof dir); }
static void teardown(void) { tu_rmtree(dir); }

static const char *write_text(const char *name, const char *text, char *buf)
{
    return tu_write(dir, name, text, strlen(text), buf, 1024);
}

static const char *const UDATA_NAMES[] = {"user", "item", "rating", "timestamp"};

START_TEST(reads_tab_file_without_header_and_sorts_ids_numerically)
{
    char p[1024];
    write_text("u.data", "10\t5\t3\t881250949\n2\t50\t4\t891717742\n1\t5\t1\t878887116\n10\t7\t2\t1\n", p);
    RatingsSpec s = {.path = p, .sep = '\t', .names = UDATA_NAMES, .n_names = 4,
                     .user_col = "user", .item_col = "item", .rating_col = "rating"};
    RatingsData *d;
    Err e = {0};
    ck_assert_int_eq(ratings_load(&d, &s, &e), 0);
    ck_assert_int_eq(d->n, 4);
    ck_assert_int_eq(d->n_users, 4);   /* #na#, 1, 2, 10 */
    ck_assert_str_eq(d->user_ids[0], "#na#");
    ck_assert_str_eq(d->user_ids[1], "1");
    ck_assert_str_eq(d->user_ids[2], "2");
    ck_assert_str_eq(d->user_ids[3], "10");   /* numeric, not byte-wise order */
    ck_assert_int_eq(d->n_items, 4);           /* #na#, 5, 7, 50 */
    ck_assert_str_eq(d->item_ids[3], "50");
    ck_assert_int_eq(d->user[0], 3);
    ck_assert_int_eq(d->item[0], 1);
    ck_assert_int_eq(d->item[1], 3);
    ck_assert(d->rating[1] == 4.0f);
    ck_assert_int_eq(d->item_count[1], 2);
    ck_assert_int_eq(ratings_user_index(d, "10"), 3);
    ck_assert_int_eq(ratings_user_index(d, "11"), -1);
    ck_assert_int_eq(ratings_item_index(d, "7"), 2);
    ratings_free(d);
}
END_TEST

START_TEST(reads_header_csv_with_named_columns_half_stars_and_string_ids)
{
    char p[1024];
    /* columns in another order, CRLF, a blank line, string ids sorted byte-wise */
    write_text("r.csv", "stamp,rating,movie,who\r\n1,4.5,b,zed\r\n\r\n2,0.5,a,amy\r\n3,3.0,b,Bob\r\n", p);
    RatingsSpec s = {.path = p, .sep = ',', .user_col = "who", .item_col = "movie", .rating_col = "rating"};
    RatingsData *d;
    Err e = {0};
    ck_assert_int_eq(ratings_load(&d, &s, &e), 0);
    ck_assert_int_eq(d->n, 3);
    ck_assert_str_eq(d->user_ids[1], "Bob");
    ck_assert_str_eq(d->user_ids[2], "amy");
    ck_assert_str_eq(d->user_ids[3], "zed");
    ck_assert(d->rating[0] == 4.5f && d->rating[1] == 0.5f);
    ck_assert_int_eq(d->user[0], 3);
    ck_assert_int_eq(d->item[0], 2);
    ratings_free(d);
}
END_TEST

START_TEST(default_columns_are_the_first_three)
{
    char p[1024];
    write_text("ratings.csv", "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1\n7,31,5,2\n", p);
    RatingsSpec s = {.path = p, .sep = ','};
    RatingsData *d;
    Err e = {0};
    ck_assert_int_eq(ratings_load(&d, &s, &e), 0);
    ck_assert_int_eq(d->n_users, 3);
    ck_assert_int_eq(d->n_items, 3);
    ck_assert(d->rating[0] == 2.5f);
    ratings_free(d);
}
END_TEST

START_TEST(bad_rows_are_errors_naming_file_and_line)
{
    char p[1024];
    RatingsSpec s = {.sep = ','};
    RatingsData *d;
    Err e = {0};
    write_text("missing.csv", "u,i,r\n1,2,3\n1,2\n", p);
    s.path = p;
    ck_assert_int_ne(ratings_load(&d, &s, &e), 0);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(e.msg, "missing.csv:3:"), "%s", e.msg);
    write_text("empty.csv", "u,i,r\n1,2,3\n1,,3\n", p);
    ck_assert_int_eq(ratings_load(&d, &s, &e), ERR_RUNTIME);
    ck_assert_msg(strstr(e.msg, "empty.csv:3: missing item"), "%s", e.msg);
    write_text("nan.csv", "u,i,r\n1,2,3\n\n1,2,four\n", p);
    ck_assert_int_eq(ratings_load(&d, &s, &e), ERR_RUNTIME);
    ck_assert_msg(strstr(e.msg, "nan.csv:4:") && strstr(e.msg, "'four' is not a number"), "%s", e.msg);
    write_text("cols.csv", "u,i,r\n1,2,3\n", p);
    s.rating_col = "stars";
    ck_assert_int_eq(ratings_load(&d, &s, &e), ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "'stars'") && strstr(e.msg, "'u', 'i', 'r'"), "%s", e.msg);
    s.rating_col = NULL;
    s.path = "/nonexistent/ratings.csv";
    ck_assert_int_eq(ratings_load(&d, &s, &e), ERR_RUNTIME);
    ck_assert_msg(strstr(e.msg, "/nonexistent/ratings.csv"), "%s", e.msg);
}
END_TEST

START_TEST(titles_from_movies_csv_with_quoted_commas)
{
    char p[1024], t[1024];
    write_text("ratings.csv", "userId,movieId,rating\n1,1,4\n1,11,3\n2,3,5\n", p);
    write_text("movies.csv",
               "movieId,title,genres\n1,Toy Story (1995),Animation\n"
               "11,\"American President, The (1995)\",Comedy|Drama\n"
               "3,\"Say \"\"Hi\"\" (2000)\",Comedy\n99,Unrated (1990),Drama\n", t);
    RatingsSpec s = {.path = p, .sep = ',', .item_names_path = t};
    RatingsData *d;
    Err e = {0};
    ck_assert_int_eq(ratings_load(&d, &s, &e), 0);
    int k = ratings_item_index(d, "11");
    ck_assert_int_eq(k, 3);
    ck_assert_str_eq(ratings_item_label(d, k), "American President, The (1995)");
    ck_assert_str_eq(ratings_item_label(d, ratings_item_index(d, "3")), "Say \"Hi\" (2000)");
    ck_assert_int_eq(ratings_item_index(d, "Toy Story (1995)"), 1);
    ck_assert_int_eq(ratings_item_index(d, "Unrated (1990)"), -1);   /* not rated: no embedding */
    ratings_free(d);
}
END_TEST

START_TEST(titles_from_latin1_pipe_file)
{
    char p[1024], t[1024];
    write_text("u.data", "1\t1\t5\t0\n1\t2\t3\t0\n", p);
    /* "Misérables" in Latin-1: é = 0xE9 */
    write_text("u.item", "1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n2|Mis\xe9rables, Les (1995)|x||y|0|0\n", t);
    RatingsSpec s = {.path = p, .sep = '\t', .names = UDATA_NAMES, .n_names = 4, .item_names_path = t};
    RatingsData *d;
    Err e = {0};
    ck_assert_int_eq(ratings_load(&d, &s, &e), 0);
    ck_assert_str_eq(ratings_item_label(d, 2), "Mis\xc3\xa9rables, Les (1995)");
    ck_assert_int_eq(ratings_item_index(d, "Mis\xc3\xa9rables, Les (1995)"), 2);
    ratings_free(d);
}
END_TEST

/* n rows over many users/items, some items rated once. */
static const char *make_big(int n, char *p)
{
    size_t cap = (size_t)n * 32 + 64;
    char *t = malloc(cap), *o = t;
    o += sprintf(o, "userId,movieId,rating\n");
    for (int i = 0; i < n; i++) o += sprintf(o, "%d,%d,%d.%d\n", i % 37, (i * 7919) % 1001, 1 + i % 5, (i % 2) * 5);
    tu_write(dir, "big.csv", t, (size_t)(o - t), p, 1024);
    free(t);
    return p;
}

START_TEST(random_split_is_seeded_disjoint_and_vocab_covers_validation_only_items)
{
    char p[1024];
    make_big(2000, p);
    RatingsSpec s = {.path = p, .sep = ',', .valid_pct = 0.2, .split_seed = 42};
    RatingsData *a, *b, *c;
    Err e = {0};
    ck_assert_int_eq(ratings_load(&a, &s, &e), 0);
    ck_assert_int_eq(ratings_load(&b, &s, &e), 0);
    s.split_seed = 43;
    ck_assert_int_eq(ratings_load(&c, &s, &e), 0);
    ck_assert_int_eq(a->n_valid, 400);
    ck_assert_int_eq(a->n_train, 1600);
    ck_assert_mem_eq(a->valid_idx, b->valid_idx, 400 * sizeof(int32_t));
    ck_assert(memcmp(a->valid_idx, c->valid_idx, 400 * sizeof(int32_t)) != 0);
    char *seen = calloc(2000, 1);
    for (int i = 0; i < 400; i++) seen[a->valid_idx[i]]++;
    for (int i = 0; i < 1600; i++) seen[a->train_idx[i]]++;
    for (int i = 0; i < 2000; i++) ck_assert_int_eq(seen[i], 1);
    /* an item rated only in validation rows still has its own index (not #na#) */
    int32_t *in_train = calloc((size_t)a->n_items, sizeof(int32_t));
    for (int i = 0; i < 1600; i++) in_train[a->item[a->train_idx[i]]] = 1;
    int valid_only = 0;
    for (int i = 0; i < 400; i++) {
        int it = a->item[a->valid_idx[i]];
        ck_assert_int_gt(it, 0);
        if (!in_train[it]) valid_only++;
    }
    ck_assert_int_gt(valid_only, 0);
    free(seen), free(in_train);
    ratings_free(a), ratings_free(b), ratings_free(c);
}
END_TEST

START_TEST(loaders_shuffle_train_per_epoch_drop_last_and_keep_valid_in_order)
{
    char p[1024];
    make_big(1000, p);
    RatingsSpec s = {.path = p, .sep = ',', .valid_pct = 0.25, .split_seed = 1};
    RatingsData *d;
    Err e = {0};
    ck_assert_int_eq(ratings_load(&d, &s, &e), 0);
    Loaders *l;
    ck_assert_int_eq(ratings_loaders_from_data(&l, d, 64, 7, &e), 0);
    ck_assert_int_eq(loaders_n_items(l, SPLIT_TRAIN), 750);
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_TRAIN), 11);   /* 750/64, drop_last */
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_VALID), 4);    /* 250 = 3*64 + 58 */
    int32_t first[3][64];
    for (int ep = 0; ep < 3; ep++) {
        int ep_key = ep == 2 ? 0 : ep;   /* epoch 0 again: same order */
        ck_assert_int_eq(loaders_begin(l, SPLIT_TRAIN, ep_key, &e), 0);
        Batch *b;
        int nb = 0;
        char *seen = calloc(750, 1);
        while (loaders_next(l, &b, &e) == 1) {
            ck_assert_int_eq(b->n, 64);
            ck_assert_int_eq(b->kind, TARGET_RATING);
            for (int i = 0; i < b->n; i++) {
                int row = d->train_idx[b->index[i]];
                ck_assert_int_eq(b->user[i], d->user[row]);
                ck_assert_int_eq(b->item[i], d->item[row]);
                ck_assert(b->y[i] == d->rating[row]);
                ck_assert_int_eq(seen[b->index[i]]++, 0);
            }
            if (nb == 0) memcpy(first[ep], b->index, sizeof first[ep]);
            nb++;
        }
        ck_assert_int_eq(nb, 11);
        free(seen);
    }
    ck_assert(memcmp(first[0], first[1], sizeof first[0]) != 0);
    ck_assert_mem_eq(first[0], first[2], sizeof first[0]);
    /* an epoch begun at batch k (a resumed epoch) gives the full epoch's batches k.. */
    {
        static int32_t full[11][64];
        Batch *b;
        ck_assert_int_eq(loaders_begin(l, SPLIT_TRAIN, 1, &e), 0);
        for (int nb = 0; loaders_next(l, &b, &e) == 1; nb++) memcpy(full[nb], b->index, sizeof full[nb]);
        for (int k = 1; k <= 11; k++) {
            ck_assert_int_eq(loaders_begin_at(l, SPLIT_TRAIN, 1, k, &e), 0);
            int nb = k;
            for (; loaders_next(l, &b, &e) == 1; nb++) {
                ck_assert_int_eq(b->n, 64);
                ck_assert_mem_eq(b->index, full[nb], sizeof full[nb]);
            }
            ck_assert_int_eq(nb, 11);
        }
    }
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &e), 0);
    Batch *b;
    int k = 0, last = 0;
    while (loaders_next(l, &b, &e) == 1) {
        for (int i = 0; i < b->n; i++, k++) ck_assert_int_eq(b->index[i], k);
        last = b->n;
    }
    ck_assert_int_eq(k, 250);
    ck_assert_int_eq(last, 58);
    /* val_bs: bigger validation batches, same order */
    ck_assert_int_eq(ratings_loaders_set_val_bs(l, 100, &e), 0);
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_VALID), 3);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &e), 0);
    k = 0;
    while (loaders_next(l, &b, &e) == 1) {
        for (int i = 0; i < b->n; i++, k++) ck_assert_int_eq(b->index[i], k);
        last = b->n;
    }
    ck_assert_int_eq(k, 250);
    ck_assert_int_eq(last, 50);
    ck_assert_int_eq(l->max_batch, 100);
    /* a val_bs beyond the 250 validation rows: one batch of them all, and
     * buffers (and the model sized from max_batch) for 250 rows, not 65536 */
    ck_assert_int_eq(ratings_loaders_set_val_bs(l, 65536, &e), 0);
    ck_assert_int_eq(l->max_batch, 250);
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_VALID), 1);
    ck_assert_int_eq(loaders_begin(l, SPLIT_VALID, 0, &e), 0);
    ck_assert_int_eq(loaders_next(l, &b, &e), 1);
    ck_assert_int_eq(b->n, 250);
    ck_assert_int_eq(b->index[249], 249);
    loaders_free(l);
    /* a training batch beyond the 750 training rows: there would be none (drop_last) */
    ck_assert_int_eq(ratings_load(&d, &s, &e), 0);
    ck_assert_int_eq(ratings_loaders_from_data(&l, d, 751, 7, &e), ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "bs: 751 is more than the 750 training rows"), "%s", e.msg);
}
END_TEST

START_TEST(loaders_from_a_collab_config)
{
    char p[1024], c[1024];
    write_text("u.data", "1\t10\t3\t0\n2\t10\t4\t0\n3\t11\t5\t0\n1\t11\t2\t0\n2\t12\t1\t0\n", p);
    write_text("u.item", "10|Ten (1990)|x\n11|Eleven (1991)|x\n12|Twelve (1992)|x\n", p);
    write_text("c.ini",
               "[data]\ncsv = u.data\ncsv_sep = '\\t'\ncsv_names = user, item, rating, timestamp\n"
               "item_names = u.item\nblocks = CollabBlock(user='user', item='item', rating='rating')\n"
               "splitter = RandomSplitter(valid_pct=0.4, seed=3)\nbs = 2\n"
               "[model]\narch = DotProductBias(n_factors=4, y_range=(0, 5.5))\n"
               "[train]\nschedule = fit_one_cycle(1, 5e-3)\n", c);
    Err e = {0};
    Ctx ctx = {.threads = 1, .seed = 42};
    Setup s;
    ck_assert_msg(setup_load(&s, c, NULL, 0, &ctx, &e) == 0, "%s", e.msg);
    Loaders *l;
    RatingsData *d;
    ck_assert_msg(ratings_loaders_new(&l, &s.ratings, s.loader.bs, s.loader.val_bs, s.ctx.seed, &d, &e) == 0, "%s",
                  e.msg);
    ck_assert_int_eq(d->n, 5);
    ck_assert_int_eq(d->n_valid, 2);
    ck_assert_int_eq(l->bs, 2);
    ck_assert_int_eq(d->n_users, 4);
    ck_assert_str_eq(ratings_item_label(d, 2), "Eleven (1991)");
    ck_assert_int_eq(loaders_n_batches(l, SPLIT_TRAIN), 1);
    loaders_free(l);
    setup_free(&s);
    /* a column that is not there: a usage error naming it */
    const char *set = "data.blocks=CollabBlock(user='uid')";
    ck_assert_msg(setup_load(&s, c, &set, 1, &ctx, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(ratings_loaders_new(&l, &s.ratings, s.loader.bs, s.loader.val_bs, s.ctx.seed, &d, &e),
                     ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "'uid'"), "%s", e.msg);
    setup_free(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ratings");
    TCase *t = tcase_create("ratings");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, reads_tab_file_without_header_and_sorts_ids_numerically);
    tcase_add_test(t, reads_header_csv_with_named_columns_half_stars_and_string_ids);
    tcase_add_test(t, default_columns_are_the_first_three);
    tcase_add_test(t, bad_rows_are_errors_naming_file_and_line);
    tcase_add_test(t, titles_from_movies_csv_with_quoted_commas);
    tcase_add_test(t, titles_from_latin1_pipe_file);
    tcase_add_test(t, random_split_is_seeded_disjoint_and_vocab_covers_validation_only_items);
    tcase_add_test(t, loaders_shuffle_train_per_epoch_drop_last_and_keep_valid_in_order);
    tcase_add_test(t, loaders_from_a_collab_config);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
