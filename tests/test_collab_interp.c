/* test_collab_interp.c — src/interp/collab_interp: PCA, model files with their
 * vocab, predicting user,item pairs (unknowns), item biases and similar items. */
#include "check_main.h"
#include "core/rng.h"
#include "interp/collab_interp.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/collab.h"
#include "models/weights.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

START_TEST(pca_finds_the_directions_of_largest_variance)
{
    /* 2000 points in 6-d: variances 9, 4, 1 along three orthonormal directions
     * (rotated off the axes), tiny noise elsewhere, and an offset */
    const int n = 2000, d = 6;
    double dir[3][6] = {{1, 1, 0, 0, 0, 0}, {1, -1, 0, 0, 1, 1}, {0, 0, 1, 0, 0, 0}};
    for (int c = 0; c < 3; c++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += dir[c][j] * dir[c][j];
        for (int j = 0; j < d; j++) dir[c][j] /= sqrt(s);
    }
    const double sd[3] = {3, 2, 1};
    float *x = malloc(sizeof(float) * n * d);
    double *z = malloc(sizeof(double) * n * 3);
    Rng r = rng_make(9, 9);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) x[i * d + j] = (float)(5.0 + 0.01 * rng_normal(&r));
        for (int c = 0; c < 3; c++) {
            z[i * 3 + c] = sd[c] * rng_normal(&r);
            for (int j = 0; j < d; j++) x[i * d + j] += (float)(z[i * 3 + c] * dir[c][j]);
        }
    }
    double *pc = malloc(sizeof(double) * n * 3);
    collab_pca(pc, x, n, d, 3);
    for (int c = 0; c < 3; c++) {
        /* component c is ±z_c: correlation magnitude ~1, variance ~sd² */
        double sxy = 0, sxx = 0, syy = 0, m = 0;
        for (int i = 0; i < n; i++) m += pc[i * 3 + c];
        ck_assert_msg(fabs(m / n) < 1e-6, "component %d not centred: mean %g", c, m / n);
        for (int i = 0; i < n; i++) {
            sxy += pc[i * 3 + c] * z[i * 3 + c];
            sxx += pc[i * 3 + c] * pc[i * 3 + c];
            syy += z[i * 3 + c] * z[i * 3 + c];
        }
        double corr = fabs(sxy) / sqrt(sxx * syy);
        ck_assert_msg(corr > 0.995, "component %d: correlation %g", c, corr);
        ck_assert_msg(fabs(sqrt(sxx / n) - sd[c]) < 0.15 * sd[c], "component %d: sd %g", c, sqrt(sxx / n));
    }
    free(x), free(z), free(pc);
}
END_TEST

/* A tiny vocab + DotProductBias with hand-set weights. */
static RatingsData *make_data(void)
{
    RatingsData *d = calloc(1, sizeof *d);
    const char *users[] = {"#na#", "1", "2", "10"};
    const char *items[] = {"#na#", "5", "7", "9", "11"};
    const char *titles[] = {NULL, "Five (1995)", "Seven, The (1997)", NULL, "Eleven (2001)"};
    const int counts[] = {0, 30, 20, 10, 40};
    d->n_users = 4, d->n_items = 5, d->user_numeric = d->item_numeric = 1, d->has_titles = 1;
    d->user_ids = malloc(sizeof(char *) * 4);
    d->item_ids = malloc(sizeof(char *) * 5);
    d->item_titles = calloc(5, sizeof(char *));
    d->item_count = malloc(sizeof(int32_t) * 5);
    for (int i = 0; i < 4; i++) d->user_ids[i] = strdup(users[i]);
    for (int i = 0; i < 5; i++) {
        d->item_ids[i] = strdup(items[i]);
        if (titles[i]) d->item_titles[i] = strdup(titles[i]);
        d->item_count[i] = counts[i];
    }
    return d;
}

static Model *make_model(void)
{
    CollabSpec s = {.arch = COLLAB_DOT_BIAS, .n_users = 4, .n_items = 5, .n_factors = 2, .has_y_range = 1,
                    .y_lo = 0, .y_hi = 5.5f, .max_bs = 8, .seed = 1};
    Model *m;
    Err e = {0};
    ck_assert_int_eq(collab_model_new(&m, &s, &e), 0);
    /* item factors: 5 and 9 point the same way; 7 opposite; biases ascending 7 < 11 < 5 < 9 */
    const float iw[] = {0, 0, 1, 2, -1, -2, 2, 4, 0.5f, -0.3f};
    const float ib[] = {0, 0.2f, -0.5f, 0.4f, 0.1f};
    memcpy(model_param(m, "i_weight.weight")->w, iw, sizeof iw);
    memcpy(model_param(m, "i_bias.weight")->w, ib, sizeof ib);
    float *ub = model_param(m, "u_bias.weight")->w;
    ub[1] = 0.3f, ub[2] = -0.2f, ub[3] = 0.05f;
    return m;
}

static float expected(Model *m, int u, int i)
{
    const float *U = model_param(m, "u_weight.weight")->w, *I = model_param(m, "i_weight.weight")->w;
    double x = model_param(m, "u_bias.weight")->w[u] + model_param(m, "i_bias.weight")->w[i];
    for (int f = 0; f < 2; f++) x += (double)U[u * 2 + f] * I[i * 2 + f];
    return (float)(5.5 / (1 + exp(-x)));
}

START_TEST(model_file_round_trip_and_predict_pairs)
{
    char dir[512], path[1024], outp[1024];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    RatingsData *d = make_data();
    Model *m = make_model();
    Err e = {0};
    StMeta meta;
    st_meta_init(&meta);
    ck_assert_int_eq(collab_meta_add(&meta, m, d, &e), 0);
    ck_assert_msg(weights_save(m, &meta, path, &e) == 0, "%s", e.msg);
    st_meta_free(&meta);

    StFile *f;
    ck_assert_msg(st_open(path, &f, &e) == 0, "%s", e.msg);
    Model *m2;
    RatingsData *v;
    ck_assert_msg(collab_from_file(f, &m2, &v, &e) == 0, "%s", e.msg);
    st_close(f);
    ck_assert_int_eq(v->n_users, 4);
    ck_assert_str_eq(ratings_item_label(v, 2), "Seven, The (1997)");
    ck_assert_int_eq(ratings_user_index(v, "10"), 3);

    /* predictions: by id, by title (with a comma in it) */
    const char *pairs[] = {"10,9", "1,Seven, The (1997)", "2,5"};
    snprintf(outp, sizeof outp, "%s/out.csv", dir);
    FILE *o = fopen(outp, "w");
    CollabPredictOpts po = {.out = o};
    ck_assert_msg(collab_predict_pairs(m2, v, pairs, 3, &po, &e) == 0, "%s", e.msg);
    fclose(o);
    char buf[1024] = "";
    o = fopen(outp, "r");
    size_t nr = fread(buf, 1, sizeof buf - 1, o);
    buf[nr] = 0;
    fclose(o);
    char want[1024];
    snprintf(want, sizeof want, "user,item,prediction\n10,9,%.6g\n1,\"Seven, The (1997)\",%.6g\n2,5,%.6g\n",
             expected(m, 3, 3), expected(m, 1, 2), expected(m, 2, 1));
    ck_assert_str_eq(buf, want);

    /* --unknown bias: the unknown user contributes nothing, the item's bias alone */
    const char *unk[] = {"1,5", "99,11"};
    o = fopen(outp, "w");
    po = (CollabPredictOpts){.out = o, .unknown_bias = 1};
    ck_assert_int_eq(collab_predict_pairs(m2, v, unk, 2, &po, &e), 0);
    fclose(o);
    o = fopen(outp, "r");
    nr = fread(buf, 1, sizeof buf - 1, o);
    buf[nr] = 0;
    fclose(o);
    snprintf(want, sizeof want, "user,item,prediction\n1,5,%.6g\n99,11,%.6g\n", expected(m, 1, 1),
             (float)(5.5 / (1 + exp(-(double)0.1f))));
    ck_assert_str_eq(buf, want);
    model_free(m), model_free(m2);
    ratings_free(d), ratings_free(v);
    tu_rmtree(dir);
}
END_TEST

/* As for images: an unknown user or item is an error on its own row (and a
 * line on errs), every other pair is still predicted, and the call fails with
 * ERR_RUNTIME (exit 1); --json gives the same rows as objects.  A pair
 * without a comma is still a usage error before any output. */
START_TEST(unknown_user_or_item_is_an_error_row_and_the_others_are_predicted)
{
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    RatingsData *d = make_data();
    Model *m = make_model();
    Err e = {0};
    StMeta meta;
    st_meta_init(&meta);
    ck_assert_int_eq(collab_meta_add(&meta, m, d, &e), 0);
    ck_assert_msg(weights_save(m, &meta, path, &e) == 0, "%s", e.msg);
    st_meta_free(&meta);
    StFile *f;
    ck_assert_msg(st_open(path, &f, &e) == 0, "%s", e.msg);
    Model *m2;
    RatingsData *v;
    ck_assert_msg(collab_from_file(f, &m2, &v, &e) == 0, "%s", e.msg);
    st_close(f);

    const char *pairs[] = {"1,5", "99,11", "10,9", "1,Nope (1900)"};
    char *out = NULL, *errs = NULL;
    size_t no = 0, ne = 0;
    FILE *o = open_memstream(&out, &no), *es = open_memstream(&errs, &ne);
    CollabPredictOpts po = {.out = o, .errs = es};
    ck_assert_int_eq(collab_predict_pairs(m2, v, pairs, 4, &po, &e), ERR_RUNTIME);
    fclose(o), fclose(es);
    ck_assert_msg(strstr(e.msg, "2 of 4 pair(s)"), "%s", e.msg);
    char want[2048];
    snprintf(want, sizeof want,
             "user,item,prediction\n1,5,%.6g\n"
             "99,11,error: unknown user '99' (the model knows 3 users; --unknown bias predicts from the known "
             "side's bias)\n10,9,%.6g\n"
             "1,Nope (1900),error: unknown item 'Nope (1900)' (the model knows 4 items; --unknown bias predicts "
             "from the known side's bias)\n",
             expected(m, 1, 1), expected(m, 3, 3));
    ck_assert_str_eq(out, want);
    ck_assert_msg(strstr(errs, "input 2: unknown user '99'") && strstr(errs, "input 4: unknown item"), "%s", errs);
    free(out), free(errs);

    /* the same as JSON lines */
    o = open_memstream(&out, &no);
    po = (CollabPredictOpts){.out = o, .json = 1};
    ck_assert_int_eq(collab_predict_pairs(m2, v, pairs, 2, &po, &e), ERR_RUNTIME);
    fclose(o);
    Json *j = json_parse(out, strchr(out, '\n') - out, &e);
    ck_assert_msg(j, "%s: %s", out, e.msg);
    ck_assert_str_eq(json_get(j, "user")->str, "1");
    ck_assert_float_eq_tol(json_get(j, "prediction")->num, expected(m, 1, 1), 1e-6);
    json_free(j);
    char *second = strchr(out, '\n') + 1;
    j = json_parse(second, strlen(second), &e);
    ck_assert_msg(j, "%s: %s", second, e.msg);
    ck_assert_msg(strstr(json_get(j, "error")->str, "unknown user '99'"), "%s", second);
    ck_assert_ptr_null(json_get(j, "prediction"));
    json_free(j);
    free(out);

    /* a malformed pair: usage error, nothing printed */
    const char *bad[] = {"1,5", "nocomma"};
    o = open_memstream(&out, &no);
    po = (CollabPredictOpts){.out = o};
    ck_assert_int_eq(collab_predict_pairs(m2, v, bad, 2, &po, &e), ERR_USAGE);
    fclose(o);
    ck_assert_str_eq(out, "");
    free(out);
    model_free(m), model_free(m2);
    ratings_free(d), ratings_free(v);
    tu_rmtree(dir);
}
END_TEST

/* Save make_model() with its metadata, `key` = `val` written over it. */
static void save_crafted(const char *path, const char *key, const char *val)
{
    RatingsData *d = make_data();
    Model *m = make_model();
    Err e = {0};
    StMeta meta;
    st_meta_init(&meta);
    ck_assert_int_eq(collab_meta_add(&meta, m, d, &e), 0);
    if (key) st_meta_set(&meta, key, val);
    ck_assert_msg(weights_save(m, &meta, path, &e) == 0, "%s", e.msg);
    st_meta_free(&meta);
    model_free(m);
    ratings_free(d);
}

static int open_collab(const char *path, Err *e)
{
    StFile *f;
    ck_assert_msg(st_open(path, &f, e) == 0, "%s", e->msg);
    Model *m = NULL;
    RatingsData *v = NULL;
    int rc = collab_from_file(f, &m, &v, e);
    ck_assert(rc || (m && v));
    model_free(m);
    ratings_free(v);
    st_close(f);
    return rc;
}

START_TEST(crafted_collab_metadata_is_refused)
{
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    static const struct { const char *key, *val, *msg; } cases[] = {
        /* ids are found by binary search: another order would pick other rows */
        {"user_ids", "[\"#na#\", \"10\", \"2\", \"1\"]", "metadata user_ids: not in ascending order"},
        {"item_ids", "[\"#na#\", \"5\", \"5\", \"9\", \"11\"]", "metadata item_ids: not in ascending order"},
        {"user_ids", "[]", "metadata user_ids is empty"},
        /* after user_ids were read (they leaked), and fewer titles than items
         * (ratings_free read past them) */
        {"item_ids", "[1, 2]", "metadata key 'item_ids': item 0 is a number, expected a string"},
        {"user_ids", "[\"#na#\", \"1\", \"2\"]", "expected a tensor u_weight.weight shaped [3, n] with n, m >= 1"},
        {"item_titles", "[\"a\"]", "metadata item_titles has 1 entries for 5 items"},
        {"y_range", "[5.5, 0]", "metadata y_range = '[5.5, 0]': expected [lo, hi], finite numbers with lo < hi"},
        {"y_range", "[0, 1e300]", "metadata y_range = '[0, 1e300]'"},
        {"arch", "resnet18", "metadata arch = 'resnet18': expected DotProduct, DotProductBias or EmbeddingNN"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Err e = {0};
        save_crafted(path, cases[k].key, cases[k].val);
        ck_assert_msg(open_collab(path, &e) == ERR_RUNTIME, "%s: %s", cases[k].val, e.msg);
        ck_assert_msg(strstr(e.msg, cases[k].msg), "%s: %s", cases[k].val, e.msg);
    }
    /* a table of width 0 would size the model from nothing the file holds */
    StWriter *w = st_writer_new();
    int64_t shape[2] = {4, 0};
    Err e = {0};
    RatingsData *d = make_data();
    Model *m = make_model();
    ck_assert_int_eq(collab_meta_add(st_writer_meta(w), m, d, &e), 0);
    model_free(m);
    st_meta_set(st_writer_meta(w), "arch", "DotProduct");
    ck_assert(st_writer_add(w, "u_weight.weight", ST_F32, 2, shape, NULL, &e) == 0);
    ck_assert(st_writer_write(w, path, &e) == 0);
    st_writer_free(w);
    ratings_free(d);
    ck_assert_int_eq(open_collab(path, &e), ERR_RUNTIME);
    ck_assert_msg(strstr(e.msg, "expected a tensor u_weight.weight shaped [4, n] with n, m >= 1"), "%s", e.msg);
    tu_rmtree(dir);
}
END_TEST

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = calloc(1, 1 << 16);
    size_t n = fread(b, 1, (1 << 16) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

START_TEST(interpret_writes_item_bias_pca_and_finds_similar_items)
{
    char dir[512], p[1024];
    tu_tmpdir(dir, sizeof dir);
    RatingsData *d = make_data();
    Model *m = make_model();
    Err e = {0};
    snprintf(p, sizeof p, "%s/printed.txt", dir);
    FILE *out = fopen(p, "w");
    CollabInterpOpts o = {.out_dir = dir, .out = out, .n_show = 2};
    ck_assert_msg(collab_interpret(m, d, &o, &e) == 0, "%s", e.msg);
    fclose(out);
    char *printed = slurp(p);
    snprintf(p, sizeof p, "%s/item_bias.csv", dir);
    char *csv = slurp(p);
    ck_assert_ptr_nonnull(csv);
    const char *head = "item,title,bias,n_ratings\n7,\"Seven, The (1997)\",-0.5,20\n11,Eleven (2001),0.1,40\n";
    ck_assert_msg(strncmp(csv, head, strlen(head)) == 0, "%s", csv);
    ck_assert_msg(strstr(csv, "\n9,,0.4") != NULL, "%s", csv);   /* no title: empty field */
    ck_assert_msg(strstr(printed, "lowest item bias") && strstr(printed, "Seven, The (1997)") &&
                      strstr(printed, "highest item bias"), "%s", printed);
    /* highest first in its list: 9 (no title → its id), then Five */
    const char *hi = strstr(printed, "highest item bias");
    ck_assert_msg(strstr(hi, "0.4000  9\n") && strstr(hi, "Five (1995)"), "%s", hi);
    snprintf(p, sizeof p, "%s/pca.png", dir);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_gt(st.st_size, 1000);
    snprintf(p, sizeof p, "%s/pca.csv", dir);
    char *pca = slurp(p);
    const char *phead = "item,title,n_ratings,pc0,pc1\n11,Eleven (2001),40,";
    ck_assert_msg(strncmp(pca, phead, strlen(phead)) == 0, "%s", pca);
    free(printed), free(csv), free(pca);

    /* --similar by title: 9 is parallel to 5 (cosine 1), 7 opposite (−1) last */
    snprintf(p, sizeof p, "%s/similar.txt", dir);
    out = fopen(p, "w");
    CollabInterpOpts s = {.similar = "Five (1995)", .out = out};
    ck_assert_msg(collab_interpret(m, d, &s, &e) == 0, "%s", e.msg);
    fclose(out);
    char *sim = slurp(p);
    ck_assert_msg(strstr(sim, "  1  1.0000  9\n") && strstr(sim, "  3  -1.0000  Seven, The (1997)\n"), "%s", sim);
    free(sim);
    s.similar = "Star Wars (1977)";
    ck_assert_int_eq(collab_interpret(m, d, &s, &e), ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "found 'Star Wars (1977)', expected an item id or an exact title (no item is close)"),
                  "%s", e.msg);
    model_free(m);
    ratings_free(d);
    tu_rmtree(dir);
}
END_TEST

/* --similar with a name that is not exactly a title: refused (exit 2), with
 * the closest titles — the words typed found in the title ("the seven" finds
 * "Seven, The (1997)", "eleven" finds "Eleven (2001)" by a prefix), then
 * the smallest edit distance ("Fvie" for "Five"), the most-rated first. */
START_TEST(similar_suggests_the_closest_titles)
{
    RatingsData *d = make_data();
    Model *m = make_model();
    Err e = {0};
    char *txt = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&txt, &n);
    CollabInterpOpts s = {.similar = "the seven", .out = out};
    ck_assert_int_eq(collab_interpret(m, d, &s, &e), ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "found 'the seven', expected an item id or an exact title (closest: 'Seven, The "
                                "(1997)')"), "%s", e.msg);
    s.similar = "Fvie";
    ck_assert_int_eq(collab_interpret(m, d, &s, &e), ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "(closest: 'Five (1995)')"), "%s", e.msg);
    s.similar = "elev";
    ck_assert_int_eq(collab_interpret(m, d, &s, &e), ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "(closest: 'Eleven (2001)'"), "%s", e.msg);
    /* a case-only difference is not an exact title either, but comes first */
    s.similar = "five (1995)";
    ck_assert_int_eq(collab_interpret(m, d, &s, &e), ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "(closest: 'Five (1995)'"), "%s", e.msg);
    fclose(out);
    ck_assert_str_eq(txt, "");
    free(txt);
    model_free(m);
    ratings_free(d);
}
END_TEST

/* The commands end to end on a small generated ratings file. */
START_TEST(train_interpret_predict_from_the_command_line)
{
    char dir[512], p[1024], cmd[4096], out[8192];
    tu_tmpdir(dir, sizeof dir);
    size_t cap = 1 << 20, len = 0;
    char *csv = malloc(cap);
    Rng r = rng_make(3, 3);
    for (int u = 1; u <= 40; u++)
        for (int i = 1; i <= 30; i++)
            if (rng_uniform(&r) < 0.6)
                len += (size_t)snprintf(csv + len, cap - len, "%d\t%d\t%d\t0\n", u, i, 1 + (u * i) % 5);
    tu_write(dir, "u.data", csv, len, p, sizeof p);
    len = 0;
    for (int i = 1; i <= 30; i++) len += (size_t)snprintf(csv + len, cap - len, "%d|Movie %d (19%02d)|x\n", i, i, i);
    tu_write(dir, "u.item", csv, len, p, sizeof p);
    free(csv);
    const char *ini = "[data]\ncsv = u.data\ncsv_sep = '\\t'\ncsv_names = user, item, rating, timestamp\n"
                      "item_names = u.item\nblocks = CollabBlock(user='user', item='item', rating='rating')\n"
                      "splitter = RandomSplitter(valid_pct=0.2, seed=42)\nbs = 32\n"
                      "[model]\narch = DotProductBias(n_factors=4, y_range=(0, 5.5))\n"
                      "[train]\nschedule = fit_one_cycle(2, 5e-3, wd=0.1)\n[output]\ndir = run\n";
    char cfgp[1024];
    tu_write(dir, "c.ini", ini, strlen(ini), cfgp, sizeof cfgp);
    snprintf(cmd, sizeof cmd, "%s train %s --quiet --threads 1", tu_fastc(), cfgp);
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0, "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict --model %s/run/model.safetensors 3,7 '1,Movie 2 (1902)'", tu_fastc(), dir);
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0, "%s", out);
    const char *pre = "user,item,prediction\n3,7,";
    ck_assert_msg(strncmp(out, pre, strlen(pre)) == 0, "%s", out);
    double v = atof(out + strlen(pre));
    ck_assert_msg(v > 0.5 && v < 5.5, "%s", out);   /* through SigmoidRange: y_range kept in the file */
    ck_assert_msg(strstr(out, "\n1,Movie 2 (1902),"), "%s", out);
    /* `-`: the same pairs on stdin, one a line (blank lines skipped), as predict
     * takes image paths; the same rows */
    char by_args[8192];
    snprintf(by_args, sizeof by_args, "%s", out);
    snprintf(cmd, sizeof cmd, "printf '3,7\\n\\n1,Movie 2 (1902)\\n' | %s predict --model %s/run/model.safetensors -",
             tu_fastc(), dir);
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0, "%s", out);
    ck_assert_str_eq(out, by_args);
    snprintf(cmd, sizeof cmd, "%s predict --model %s/run/model.safetensors - < /dev/null", tu_fastc(), dir);
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "no USER,ITEM pairs on stdin"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict --model %s/run/model.safetensors 99,7 3,7", tu_fastc(), dir);
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 1);   /* an error row, the known pair predicted */
    ck_assert_msg(strstr(out, "99,7,error: unknown user '99'") && strstr(out, "\n3,7,"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s interpret %s --similar 'Movie 3 (1903)'", tu_fastc(), cfgp);
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "items most similar to Movie 3 (1903)"), "%s", out);
    /* a title typed loosely: refused, with the closest titles */
    snprintf(cmd, sizeof cmd, "%s interpret %s --similar 'movie 3'", tu_fastc(), cfgp);
    ck_assert_int_eq(tu_run(cmd, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "(closest: 'Movie 3 (1903)'"), "%s", out);
    /* --json: the same results as one object */
    snprintf(cmd, sizeof cmd, "%s interpret %s --similar 'Movie 3 (1903)' --json 2>/dev/null", tu_fastc(), cfgp);
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0, "%s", out);
    Err e = {0};
    Json *j = json_parse(out, strlen(out) - 1, &e);
    ck_assert_msg(j, "%s: %s", e.msg, out);
    ck_assert_str_eq(json_get(j, "task")->str, "collab");
    ck_assert_str_eq(json_get(json_get(j, "similar_to"), "title")->str, "Movie 3 (1903)");
    ck_assert_int_eq(json_len(json_get(j, "similar")), 10);
    double s0 = json_get(json_at(json_get(j, "similar"), 0), "similarity")->num;
    ck_assert(s0 <= 1.0 + 1e-6 && s0 >= json_get(json_at(json_get(j, "similar"), 9), "similarity")->num);
    json_free(j);
    snprintf(cmd, sizeof cmd, "%s interpret %s --json 2>/dev/null", tu_fastc(), cfgp);
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0, "%s", out);
    j = json_parse(out, strlen(out) - 1, &e);
    ck_assert_msg(j, "%s: %s", e.msg, out);
    const Json *lo = json_get(j, "lowest_bias"), *hi = json_get(j, "highest_bias");
    ck_assert(json_len(lo) == 5 && json_len(hi) == 5);
    ck_assert(json_get(json_at(lo, 0), "bias")->num <= json_get(json_at(hi, 0), "bias")->num);
    ck_assert(strstr(json_get(json_at(lo, 0), "title")->str, "Movie "));
    ck_assert_int_eq(json_len(json_get(j, "files")), 3);
    json_free(j);
    snprintf(cmd, sizeof cmd, "%s interpret %s", tu_fastc(), cfgp);
    ck_assert_msg(tu_run(cmd, out, sizeof out) == 0, "%s", out);
    snprintf(p, sizeof p, "%s/run/item_bias.csv", dir);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/run/pca.png", dir);
    ck_assert_int_eq(stat(p, &st), 0);
    tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("collab_interp");
    TCase *t = tcase_create("collab_interp");
    tcase_add_test(t, pca_finds_the_directions_of_largest_variance);
    tcase_add_test(t, model_file_round_trip_and_predict_pairs);
    tcase_add_test(t, unknown_user_or_item_is_an_error_row_and_the_others_are_predicted);
    tcase_add_test(t, crafted_collab_metadata_is_refused);
    tcase_add_test(t, interpret_writes_item_bias_pca_and_finds_similar_items);
    tcase_add_test(t, similar_suggests_the_closest_titles);
    tcase_add_test(t, train_interpret_predict_from_the_command_line);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
