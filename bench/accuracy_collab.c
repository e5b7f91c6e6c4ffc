/* accuracy_collab.c — validation MSE of the lesson's recipe next to baselines.
 *
 *   accuracy_collab RATINGS.csv [EPOCHS]
 *
 * RATINGS.csv: header, user/item/rating in columns 0..2 (MovieLens latest
 * ratings.csv).  Split RandomSplitter(valid_pct=0.2, seed=42) over rows, as
 * configs/collab_latest.ini does (same code: data/ratings.h), then on the
 * validation rows:
 *   global mean   predict the mean training rating everywhere
 *   bias only     r = μ + b_u + b_i, regularised alternating least squares
 *                 (λ_user = 10, λ_item = 25, 20 sweeps: the classic baseline)
 *   DotProductBias(50, y_range=(0, 5.5)) trained with fit_one_cycle(EPOCHS=5,
 *                 5e-3, wd=0.1), bs 64, through the learner's fit loop; the
 *                 valid MSE after each epoch.
 *   EmbeddingNN(layers=[100, 50], y_range=(0, 5.5)), embedding sizes by
 *                 emb_sz_rule (the book's use_nn=True model), the same fit.
 */
#include "core/blas.h"
#include "core/ctx.h"
#include "data/ratings.h"
#include "learn/learner.h"
#include "models/collab.h"
#include "nn/loss.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static float mse(void *ctx, float *dout, float *per_item, const float *out, int c, const Batch *b)
{
    (void)ctx;
    return loss_mse(dout, per_item, out, b->y, b->n, c);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* fit_one_cycle(epochs, 5e-3, wd=0.1), bs 64, through the learner's fit loop,
 * printing the valid MSE after each epoch and at the end. */
static int train_one(const RatingsSpec *rs, const CollabSpec *arch, const char *name, int epochs, int threads,
                     Err *e)
{
    RatingsData *d;   /* the loaders own it: one load per model */
    if (ratings_load(&d, rs, e)) return 1;
    CollabSpec spec = *arch, *cs = &spec;
    cs->n_users = d->n_users, cs->n_items = d->n_items;
    Ctx ctx = {.threads = threads, .seed = 42, .quiet = 1};
    ctx_apply_threads(&ctx);
    Model *m;
    Loaders *dls;
    if (collab_model_new(&m, cs, e)) return ratings_free(d), 1;
    if (ratings_loaders_from_data(&dls, d, 64, 42, e)) return model_free(m), 1;
    LearnerOpts o;
    learner_opts_default(&o);
    o.loss = mse;
    o.threads = threads;
    o.quiet = 1;
    o.seed = 42;
    FILE *null = fopen("/dev/null", "w");
    o.out = null, o.progress = null;
    Learner *l = learner_new(m, dls, &o, e);
    int rc = 1;
    double t0 = now(), vals[4];
    Stage st = {.kind = STAGE_ONE_CYCLE, .n_epoch = epochs, .lr = lr_num(5e-3), .div = 25, .div_final = 1e5,
                .pct_start = 0.25, .moms = {0.95, 0.85, 0.95}, .has_wd = 1, .wd = 0.1};
    Schedule sch = {.n = 1, .stages = &st};
    if (l && learner_fit_schedule(l, &sch, e) == 0 && learner_validate(l, vals, e) == 0) {
        for (int k = 0; k < l->n_val; k++) printf("  epoch %d valid MSE %.4f\n", k, l->val_loss[k]);
        printf("%s, fit_one_cycle(%d, 5e-3, wd=0.1), bs 64: valid MSE %.4f (%.1f s)\n", name, epochs, vals[0],
               now() - t0);
        rc = 0;
    }
    learner_free(l);
    loaders_free(dls);
    model_free(m);
    fclose(null);
    return rc;
}

int main(int argc, char **argv)
{
    blas_ensure_fast_core(argv);
    if (argc < 2) {
        fprintf(stderr, "usage: accuracy_collab RATINGS.csv [EPOCHS]\n");
        return 2;
    }
    int epochs = argc > 2 ? atoi(argv[2]) : 5;
    Err e = {0};
    RatingsSpec s = {.path = argv[1], .sep = ',', .valid_pct = 0.2, .split_seed = 42};
    RatingsData *d;
    if (ratings_load(&d, &s, &e)) goto fail;
    printf("%s: %lld ratings, %d users, %d items (with #na#); %lld train, %lld valid\n", argv[1],
           (long long)d->n, d->n_users, d->n_items, (long long)d->n_train, (long long)d->n_valid);

    /* global mean */
    double mu = 0;
    for (int64_t k = 0; k < d->n_train; k++) mu += d->rating[d->train_idx[k]];
    mu /= (double)d->n_train;
    double m0 = 0;
    for (int64_t k = 0; k < d->n_valid; k++) {
        double r = d->rating[d->valid_idx[k]] - mu;
        m0 += r * r;
    }
    m0 /= (double)d->n_valid;

    /* bias only, regularised ALS */
    double *bu = calloc((size_t)d->n_users, sizeof(double)), *bi = calloc((size_t)d->n_items, sizeof(double));
    double *su = malloc(sizeof(double) * d->n_users), *si = malloc(sizeof(double) * d->n_items);
    int *nu = malloc(sizeof(int) * d->n_users), *ni = malloc(sizeof(int) * d->n_items);
    for (int sweep = 0; sweep < 20; sweep++) {
        memset(si, 0, sizeof(double) * d->n_items), memset(ni, 0, sizeof(int) * d->n_items);
        for (int64_t k = 0; k < d->n_train; k++) {
            int64_t row = d->train_idx[k];
            si[d->item[row]] += d->rating[row] - mu - bu[d->user[row]];
            ni[d->item[row]]++;
        }
        for (int i = 0; i < d->n_items; i++) bi[i] = si[i] / (25.0 + ni[i]);
        memset(su, 0, sizeof(double) * d->n_users), memset(nu, 0, sizeof(int) * d->n_users);
        for (int64_t k = 0; k < d->n_train; k++) {
            int64_t row = d->train_idx[k];
            su[d->user[row]] += d->rating[row] - mu - bi[d->item[row]];
            nu[d->user[row]]++;
        }
        for (int u = 0; u < d->n_users; u++) bu[u] = su[u] / (10.0 + nu[u]);
    }
    double m1 = 0;
    for (int64_t k = 0; k < d->n_valid; k++) {
        int64_t row = d->valid_idx[k];
        double r = d->rating[row] - (mu + bu[d->user[row]] + bi[d->item[row]]);
        m1 += r * r;
    }
    m1 /= (double)d->n_valid;
    free(bu), free(bi), free(su), free(si), free(nu), free(ni);

    printf("global-mean baseline   valid MSE %.4f\n", m0);
    printf("bias-only baseline     valid MSE %.4f  (mu + b_user + b_item, regularised ALS)\n", m1);

    /* the lesson's recipe, then the book's neural net (collab_learner(dls,
     * use_nn=True, y_range=(0, 5.5), layers=[100, 50])) under the same fit */
    int threads = getenv("THREADS") ? atoi(getenv("THREADS")) : 2;
    ratings_free(d);
    CollabSpec dot = {.arch = COLLAB_DOT_BIAS, .n_factors = 50,
                      .has_y_range = 1, .y_lo = 0, .y_hi = 5.5f, .max_bs = 64, .seed = 42};
    CollabSpec nn = dot;
    nn.arch = COLLAB_NN, nn.n_layers = 2, nn.layers[0] = 100, nn.layers[1] = 50;
    if (train_one(&s, &dot, "DotProductBias(50, y_range=(0, 5.5))", epochs, threads, &e)) goto fail;
    if (train_one(&s, &nn, "EmbeddingNN(layers=[100, 50], y_range=(0, 5.5))", epochs, threads, &e)) goto fail;
    return 0;
fail:
    fprintf(stderr, "accuracy_collab: %s\n", e.msg);
    return 1;
}
