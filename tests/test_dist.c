/* test_dist.c — dist/: the share of a global batch each rank takes, and,
 * under `mpirun -np 2` (the suite starts itself that way), the collectives:
 * sums in rank order, broadcast of the weights, the replica check, and the
 * gradient buckets (dense, frozen, embedding rows, the rescale for items left
 * out) against sums worked out by hand.  Without mpirun, dist_open must not
 * load any MPI library. */
#include "dist/dist.h"

#include "data/augment.h"
#include "data/image_loader.h"
#include "data/ratings.h"
#include "testimg.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the share of a batch ------------------------------------------------- */

START_TEST(share_covers_the_batch_once_in_rank_order)
{
    for (int size = 1; size <= 9; size++)
        for (int n = 0; n <= 70; n++) {
            int next = 0, lo = n, hi = 0;
            for (int r = 0; r < size; r++) {
                int first, count;
                dist_share(n, r, size, &first, &count);
                ck_assert_int_eq(first, next);   /* contiguous, in rank order: no item twice, none left */
                next += count;
                if (count < lo) lo = count;
                if (count > hi) hi = count;
            }
            ck_assert_int_eq(next, n);
            ck_assert_int_le(hi - lo, 1);         /* as even as it can be */
        }
    int f, c;
    dist_share(64, 0, 3, &f, &c);
    ck_assert(f == 0 && c == 22);
    dist_share(64, 1, 3, &f, &c);
    ck_assert(f == 22 && c == 21);
    dist_share(64, 2, 3, &f, &c);
    ck_assert(f == 43 && c == 21);
}
END_TEST

START_TEST(single_process_loads_no_mpi)
{
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMIX_RANK");
    Dist d;
    Err err = {0};
    ck_assert_int_eq(dist_open(&d, &err), 0);
    ck_assert(d.rank == 0 && d.size == 1 && d.mpi == NULL);
    double v[2] = {1.5, 2.5};
    ck_assert_int_eq(dist_sum(&d, v, 2, &err), 0);
    ck_assert(v[0] == 1.5 && v[1] == 2.5);
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert(f != NULL);
    char line[1024];
    int mapped = 0;
    while (fgets(line, sizeof line, f)) mapped |= strstr(line, "libmpi") != NULL;
    fclose(f);
    ck_assert_msg(!mapped, "libmpi is mapped in a process started without mpirun");
    dist_close(&d);
}
END_TEST

/* ---- loaders taking a share ----------------------------------------------- */

/* One batch as its items: index, target and pixels, item after item. */
typedef struct Items {
    int n, batch_no;
    int32_t index[64], yi[64];
    float x[64 * 8 * 8], y[64];
} Items;

static void append(Items *it, const Batch *b)
{
    size_t px = (size_t)b->h * b->w * b->c;
    for (int i = 0; i < b->n; i++) {
        it->index[it->n] = b->index[i];
        it->yi[it->n] = b->yi ? b->yi[i] : 0;
        it->y[it->n] = b->y ? b->y[i * b->n_y] : 0;
        if (b->x) memcpy(it->x + it->n * px, b->x + i * px, sizeof(float) * px);
        it->n++;
    }
    it->batch_no = b->batch_no;
}

/* The batches of one epoch of one split, from `first` on, one Items each. */
static int epoch_items(Loaders *l, int split, int epoch, int first, Items *out, int cap)
{
    Err err = {0};
    ck_assert_int_eq(loaders_begin_at(l, split, epoch, first, &err), 0);
    Batch *b;
    int st, k = 0;
    while ((st = loaders_next(l, &b, &err)) == 1) {
        ck_assert_int_lt(k, cap);
        memset(&out[k], 0, sizeof out[k]);
        append(&out[k++], b);
    }
    ck_assert_msg(st == 0, "%s", err.msg);
    return k;
}

/* Every rank's batches of an epoch, put back together rank after rank, are
 * the single process's batches: the same items in the same order, the same
 * pixels and targets (so no item twice, none left out), the same batch
 * numbers, and a rank whose share is empty still walks every batch. */
static void check_shards(Loaders **by_size, int max_size, int split, int epoch, int first)
{
    Items whole[16], part[9][16];
    int nb = epoch_items(by_size[0], split, epoch, first, whole, 16);
    for (int size = 2; size <= max_size; size++) {
        Loaders *l = by_size[size - 1];
        int n_rank[9];
        for (int r = 0; r < size; r++) {
            loaders_set_shard(l, r, size);
            n_rank[r] = epoch_items(l, split, epoch, first, part[r], 16);
        }
        int kr[9] = {0};   /* each rank's next batch */
        for (int b = 0; b < nb; b++) {
            Items joined = {0};
            for (int r = 0; r < size; r++) {
                /* a batch whose every item was bad is left out of the whole; its shares come empty */
                while (kr[r] < n_rank[r] && part[r][kr[r]].batch_no < whole[b].batch_no)
                    ck_assert_int_eq(part[r][kr[r]++].n, 0);
                ck_assert_int_lt(kr[r], n_rank[r]);
                const Items *p = &part[r][kr[r]++];
                ck_assert_int_eq(p->batch_no, whole[b].batch_no);
                Batch pb = {.n = p->n, .h = 8, .w = 8, .c = 1, .x = (float *)p->x, .yi = (int32_t *)p->yi,
                            .y = (float *)p->y, .n_y = 1, .index = p->index, .batch_no = p->batch_no};
                append(&joined, &pb);
            }
            ck_assert_int_eq(joined.n, whole[b].n);
            ck_assert(memcmp(joined.index, whole[b].index, sizeof(int32_t) * joined.n) == 0);
            ck_assert(memcmp(joined.yi, whole[b].yi, sizeof(int32_t) * joined.n) == 0);
            ck_assert(memcmp(joined.y, whole[b].y, sizeof(float) * joined.n) == 0);
            ck_assert(memcmp(joined.x, whole[b].x, sizeof(float) * 64 * joined.n) == 0);
        }
        for (int r = 0; r < size; r++)   /* nothing after the last batch of the whole but empty shares */
            while (kr[r] < n_rank[r]) ck_assert_int_eq(part[r][kr[r]++].n, 0);
        loaders_set_shard(l, 0, 1);
    }
}

START_TEST(image_loader_shares_make_up_every_batch)
{
    /* 26 train items (bs 8: 3 batches, 2 items dropped), 11 valid (val_bs 4: 4, 4, 3); items 5 and 6 are
     * broken files (skipped) */
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir);
    Dataset ds = {0};
    int n = 37;
    ds.kind = TARGET_CATEGORY, ds.n_items = n;
    ds.paths = calloc(n, sizeof(char *)), ds.yi = calloc(n, sizeof(int32_t));
    ds.n_vocab = 3, ds.vocab = calloc(3, sizeof(char *));
    for (int v = 0; v < 3; v++) ds.vocab[v] = strdup(v == 0 ? "a" : v == 1 ? "b" : "c");
    ds.train_idx = calloc(n, sizeof(int32_t)), ds.valid_idx = calloc(n, sizeof(int32_t));
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "i%02d.png", i);
        if (i == 5 || i == 6) {
            tu_write(dir, name, "junk", 4, path, sizeof path);
        } else {
            uint8_t px[64];
            for (int p = 0; p < 64; p++) px[p] = (uint8_t)(i * 7 + p * 3);
            tu_write(dir, name, "", 0, path, sizeof path);
            ti_write_png(path, 8, 8, 1, px);
        }
        ds.paths[i] = strdup(path);
        ds.yi[i] = i % 3;
        if (i < 26) ds.train_idx[ds.n_train++] = i;
        else ds.valid_idx[ds.n_valid++] = i;
    }
    ImageLoaderOpts o;
    memset(&o, 0, sizeof o);
    o.bs = 8, o.val_bs = 4, o.n_workers = 2, o.channels = 1, o.seed = 7, o.skip_bad = 1;
    o.cache_bytes = 1 << 20;
    batch_tfm_init(&o.batch);
    o.batch.aug = 1, o.batch.do_flip = 1, o.batch.max_lighting = 0.2, o.batch.p_lighting = 0.75;
    Loaders *ls[4];
    Err err = {0};
    for (int k = 0; k < 4; k++) ck_assert_msg(image_loaders_new_opts(&ls[k], &o, &ds, &err) == 0, "%s", err.msg);
    for (int epoch = 0; epoch < 2; epoch++) {
        check_shards(ls, 4, SPLIT_TRAIN, epoch, 0);
        check_shards(ls, 4, SPLIT_VALID, epoch, 0);
    }
    check_shards(ls, 4, SPLIT_TRAIN, 1, 2);   /* an epoch resumed at batch 2 */
    /* 3 ranks: the short valid batch of 3 gives each rank one item; 4 ranks: one rank none */
    loaders_set_shard(ls[3], 3, 4);
    Items it[8];
    ck_assert_int_eq(epoch_items(ls[3], SPLIT_VALID, 0, 0, it, 8), 3);
    ck_assert_int_eq(it[2].n, 0);
    ck_assert_int_eq(it[2].batch_no, 2);
    for (int k = 0; k < 4; k++) loaders_free(ls[k]);
    for (int i = 0; i < n; i++) free(ds.paths[i]);
    for (int v = 0; v < 3; v++) free(ds.vocab[v]);
    free(ds.paths), free(ds.yi), free(ds.vocab), free(ds.train_idx), free(ds.valid_idx);
    tu_rmtree(dir);
}
END_TEST

START_TEST(ratings_loader_shares_make_up_every_batch)
{
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir);
    char text[4096];
    int k = 0;
    for (int i = 0; i < 53; i++) k += snprintf(text + k, sizeof text - k, "%d\t%d\t%d\t0\n", i % 9, i % 11, 1 + i % 5);
    tu_write(dir, "u.data", text, (size_t)k, path, sizeof path);
    static const char *const names[] = {"user", "item", "rating", "timestamp"};
    RatingsSpec spec = {.path = path, .sep = '\t', .names = names, .n_names = 4, .valid_pct = 0.2, .split_seed = 3};
    Loaders *ls[4];
    Err err = {0};
    for (int q = 0; q < 4; q++) {
        RatingsData *d;
        ck_assert_msg(ratings_load(&d, &spec, &err) == 0, "%s", err.msg);
        ck_assert_msg(ratings_loaders_from_data(&ls[q], d, 7, 11, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(ratings_loaders_set_val_bs(ls[q], 4, &err), 0);
    }
    for (int epoch = 0; epoch < 2; epoch++) {
        check_shards(ls, 4, SPLIT_TRAIN, epoch, 0);
        check_shards(ls, 4, SPLIT_VALID, epoch, 0);
    }
    check_shards(ls, 4, SPLIT_TRAIN, 1, 3);
    for (int q = 0; q < 4; q++) loaders_free(ls[q]);
    tu_rmtree(dir);
}
END_TEST

/* ---- scenarios run under mpirun ------------------------------------------ */

static char self[4096], supp[4200];   /* this program; the LeakSanitizer suppressions for Open MPI */

#define REQUIRE(cond)                                                                                    \
    do {                                                                                                 \
        if (!(cond)) {                                                                                   \
            fprintf(stderr, "rank %d: %s:%d: failed: %s\n", d->rank, __FILE__, __LINE__, #cond);       \
            return 1;                                                                                    \
        }                                                                                                \
    } while (0)

/* A model of a few params (no forward): dense weights, a buffer, an
 * embedding table whose batch rows are Batch.user. */
enum { N_P = 5, ROWS = 7, ROW_LEN = 3 };
typedef struct Toy {
    Model m;
    Param p[N_P];
    float w[N_P][4000], g[N_P][4000];
} Toy;

static int toy_rows(const Model *m, const Batch *b, int param, const int32_t **rows)
{
    if (m->params[param].row_len <= 0) return -1;
    *rows = b->user;
    return b->n;
}

static void toy_init(Toy *t, int rank)
{
    memset(t, 0, sizeof *t);
    static const size_t n[N_P] = {10, 4, 3000, 5, ROWS * ROW_LEN};
    static const ParamKind kind[N_P] = {PARAM_WEIGHT, PARAM_BUFFER, PARAM_WEIGHT, PARAM_WEIGHT, PARAM_WEIGHT};
    for (int i = 0; i < N_P; i++) {
        Param *p = &t->p[i];
        snprintf(p->name, sizeof p->name, "p%d", i);
        p->kind = kind[i], p->n = n[i], p->w = t->w[i], p->g = kind[i] == PARAM_WEIGHT ? t->g[i] : NULL;
        for (size_t e = 0; e < p->n; e++) p->w[e] = (float)(rank * 1000 + i * 10) + (float)e * 0.25f;
    }
    t->p[4].row_len = ROW_LEN;
    t->m.params = t->p, t->m.n_params = N_P;
    t->m.batch_rows = toy_rows;
}

/* rank r's gradient of param i, element e (small integers: sums are exact) */
static float grad_of(int r, int i, size_t e) { return (float)((r + 1) * (i + 1)) + (float)(e % 7); }

static int scenario_collectives(const Dist *d)
{
    Err err = {0};
    REQUIRE(d->size == 2 && d->mpi);
    double v[3] = {d->rank + 1.0, 0.1 * (d->rank + 1), d->rank ? 1e16 : 1.0};
    REQUIRE(dist_sum(d, v, 3, &err) == 0);
    REQUIRE(v[0] == 3.0);
    REQUIRE(v[1] == 0.1 + 0.2);               /* rank order: rank 0's value first */
    REQUIRE(v[2] == 1.0 + 1e16);
    REQUIRE(dist_check_same(d, v, sizeof v, "sums", &err) == 0);
    int any;
    REQUIRE(dist_any(d, d->rank == 1, &any, &err) == 0 && any == 1);
    REQUIRE(dist_any(d, 0, &any, &err) == 0 && any == 0);

    Toy *t = malloc(sizeof *t);
    toy_init(t, d->rank);
    REQUIRE(dist_bcast_params(d, &t->m, &err) == 0);
    for (int i = 0; i < N_P; i++)
        for (size_t e = 0; e < t->p[i].n; e++) REQUIRE(t->p[i].w[e] == (float)(i * 10) + (float)e * 0.25f);
    REQUIRE(dist_check_params(d, &t->m, "after the broadcast", &err) == 0);
    if (d->rank == 1) t->p[2].w[2999] += 1e-3f;
    REQUIRE(dist_check_params(d, &t->m, "in the test", &err) == ERR_RUNTIME);
    REQUIRE(strstr(err.msg, "rank 1's weights in the test") != NULL);
    /* buffers alone: a weight's difference stays */
    t->p[1].w[0] = (float)d->rank;
    REQUIRE(dist_bcast_buffers(d, &t->m, &err) == 0);
    REQUIRE(t->p[1].w[0] == 0.0f);
    REQUIRE(t->p[2].w[2999] == 2999 * 0.25f + 20 + (d->rank ? 1e-3f : 0));
    free(t);
    return 0;
}

static int scenario_grads(const Dist *d)
{
    Err err = {0};
    REQUIRE(d->size == 2);
    Toy *t = malloc(sizeof *t);
    toy_init(t, d->rank);
    Model *m = &t->m;
    /* 4000-byte buckets: p3+p2 over 1000 floats closes the first, p0 the second */
    DistGrads *g = dist_grads_new(d, m, 4000, &err);
    REQUIRE(g != NULL);
    REQUIRE(m->grads_ready == dist_grads_ready && m->grads_ctx == g);
    /* rank 0's share of the global batch touches rows 1, 3, 3; rank 1's rows 5, 1 */
    int32_t rows0[3] = {1, 3, 3}, rows1[2] = {5, 1};
    Batch b = {0};
    b.n = d->rank ? 2 : 3;
    b.user = d->rank ? rows1 : rows0;
    for (int step = 0; step < 3; step++) {
        if (step == 1) t->p[2].frozen = 1;   /* the buckets follow the frozen flags */
        if (step == 2) t->p[2].frozen = 0;
        /* the model's zero_grad (it does not know the rows other ranks sent) */
        for (int i = 0; i < N_P; i++)
            if (t->p[i].g && i != 4) memset(t->p[i].g, 0, sizeof(float) * t->p[i].n);
        for (int k = 0; k < b.n; k++) memset(t->p[4].g + b.user[k] * ROW_LEN, 0, sizeof(float) * ROW_LEN);
        REQUIRE(dist_grads_begin(g, &b, &err) == 0);
        for (int e = 0; e < ROWS * ROW_LEN; e++) REQUIRE(t->p[4].g[e] == 0.0f);   /* nothing stale */
        const int32_t *cat;
        int n_cat = dist_grads_rows(g, 4, &cat);
        REQUIRE(n_cat == 5);
        REQUIRE(cat[0] == 1 && cat[1] == 3 && cat[2] == 3 && cat[3] == 5 && cat[4] == 1);   /* rank order */
        REQUIRE(dist_grads_rows(g, 2, &cat) == -1);
        /* "backward": the last params first, with the hook after each */
        for (int i = N_P - 1; i >= 0; i--) {
            Param *p = &t->p[i];
            if (p->g && !p->frozen && i != 4)
                for (size_t e = 0; e < p->n; e++) p->g[e] = grad_of(d->rank, i, e);
            if (i == 4)
                for (int k = 0; k < b.n; k++)
                    for (int c = 0; c < ROW_LEN; c++) p->g[b.user[k] * ROW_LEN + c] += grad_of(d->rank, 4, (size_t)c);
            model_grads_ready(m, i);
        }
        DistStep st = {.n = b.n, .loss_sum = b.n * (d->rank ? 0.5 : 0.25), .stop = d->rank == 1 && step == 1};
        double nominal = step == 2 ? 4 : 5;   /* step 2: one item of the 5 assumed was left out */
        REQUIRE(dist_grads_end(g, nominal, &st, &err) == 0);
        REQUIRE(st.n == 5 && st.loss_sum == 3 * 0.25 + 2 * 0.5 && st.stop == (step == 1));
        float k = step == 2 ? 4.0f / 5.0f : 1.0f;
        for (int i = 0; i < N_P; i++) {
            Param *p = &t->p[i];
            if (!p->g || i == 4) continue;
            for (size_t e = 0; e < p->n; e++) {
                float want = p->frozen ? 0.0f : (grad_of(0, i, e) + grad_of(1, i, e)) * k;
                REQUIRE(p->g[e] == want);
            }
        }
        /* rows: 1 (twice on rank 0... once each), 3 (twice on rank 0), 5 (rank 1); others zero */
        for (int r = 0; r < ROWS; r++)
            for (int c = 0; c < ROW_LEN; c++) {
                float a = grad_of(0, 4, (size_t)c), bb = grad_of(1, 4, (size_t)c);
                float want = r == 1 ? a + bb : r == 3 ? 2 * a : r == 5 ? bb : 0.0f;
                REQUIRE(t->p[4].g[r * ROW_LEN + c] == want * k);
            }
    }
    DistStats s;
    dist_grads_stats(g, &s);
    REQUIRE(s.steps == 3 && s.n_buckets == 2);
    dist_grads_free(g);
    REQUIRE(m->grads_ready == NULL);
    free(t);
    return 0;
}

static int run_scenario(const char *name)
{
    Dist dd;
    Err err = {0};
    if (dist_open(&dd, &err)) {
        fprintf(stderr, "dist_open: %s\n", err.msg);
        return 1;
    }
    const Dist *d = &dd;
    int rc = !strcmp(name, "collectives") ? scenario_collectives(d) : !strcmp(name, "grads") ? scenario_grads(d) : 2;
    if (rc == 0) printf("rank %d ok\n", d->rank);
    fflush(stdout);
    if (rc == 0) dist_close(&dd);   /* a failed rank exits at once: mpirun stops the others */
    return rc;
}

/* Run a scenario with 2 ranks; the output of both in out.  LeakSanitizer's
 * fast unwinder stops at Open MPI's frames (built without frame pointers),
 * leaving one-frame stacks in "<unknown module>" that no suppression can
 * name: the slow unwinder gives whole stacks, which lsan_mpi.supp matches. */
static int mpirun2(const char *scenario, char *out, size_t cap)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "LSAN_OPTIONS=suppressions='%s':print_suppressions=0:fast_unwind_on_malloc=0 "
             "mpirun --oversubscribe --allow-run-as-root -np 2 '%s' %s",
             supp, self, scenario);
    return tu_run(cmd, out, cap);
}

START_TEST(collectives_under_mpirun)
{
    char out[16384];
    int rc = mpirun2("collectives", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "rank 0 ok") && strstr(out, "rank 1 ok"), "exit %d:\n%s", rc, out);
}
END_TEST

START_TEST(gradient_buckets_under_mpirun)
{
    char out[16384];
    int rc = mpirun2("grads", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "rank 0 ok") && strstr(out, "rank 1 ok"), "exit %d:\n%s", rc, out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, share_covers_the_batch_once_in_rank_order);
    tcase_add_test(tc, single_process_loads_no_mpi);
    tcase_add_test(tc, image_loader_shares_make_up_every_batch);
    tcase_add_test(tc, ratings_loader_shares_make_up_every_batch);
    tcase_add_test(tc, collectives_under_mpirun);
    tcase_add_test(tc, gradient_buckets_under_mpirun);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (dist_launched()) return argc > 1 ? run_scenario(argv[1]) : 2;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 1;
    self[n] = 0;
    /* build/<tree>/tests/test_dist → the source tree's tests/lsan_mpi.supp */
    snprintf(supp, sizeof supp, "%s", self);
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(supp, '/');
        if (slash) *slash = 0;
    }
    strncat(supp, "/tests/lsan_mpi.supp", sizeof supp - strlen(supp) - 1);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
