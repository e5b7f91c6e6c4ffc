/* test_state.c — src/io/state: resume state round trip and its refusals. */
#include "check_main.h"
#include "fakemodel.h"
#include "io/atomic.h"
#include "io/safetensors.h"
#include "io/state.h"
#include "models/weights.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The fake model's identity line (weights_model_id) in buf. */
static const char *model_id(const Fake *f, char *buf)
{
    weights_model_id(&f->m, buf, 256);
    return buf;
}

static void write_state(const char *path, Fake *m, const float *avg, size_t n, const uint64_t *rng)
{
    Err err = {0};
    StateWriter *w = state_writer_new(model_id(m, (char[256]){0}));
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(weights_put_state(w, "model.", m->p, m->m.n_params, &err), 0);
    ck_assert_int_eq(state_put_f32(w, "opt.avg", avg, n, &err), 0);
    ck_assert_int_eq(state_put_u64(w, "rng", rng, 4, &err), 0);
    ck_assert_int_eq(state_set_int(w, "epoch", 3), 0);
    ck_assert_int_eq(state_set_double(w, "best_valid_loss", 0.1 + 0.2), 0);
    ck_assert_int_eq(state_set(w, "schedule", "fine_tune(2)"), 0);
    ck_assert_int_eq(state_set(w, "model", "x"), -1); /* reserved */
    ck_assert_msg(state_write(w, path, &err) == 0, "%s", err.msg);
    state_writer_free(w);
}

START_TEST(round_trip_restores_everything_exactly)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    Fake *a = fake_new("resnet18", 3, 10, 1), *b = fake_new("resnet18", 3, 10, 2);
    float avg[100];
    for (int i = 0; i < 100; i++) avg[i] = (float)i / 7.0f;
    uint64_t rng[4] = {1, UINT64_MAX, 0x0123456789abcdefull, 42};
    write_state(path, a, avg, 100, rng);

    Err err = {0};
    StateFile *s;
    ck_assert_msg(state_open(path, model_id(b, (char[256]){0}), &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(weights_get_state(s, "model.", b->p, b->m.n_params, &err), 0);
    const char *d = "";
    ck_assert_msg(fake_same(a, b, &d), "%s differs", d);
    float avg2[100];
    ck_assert_int_eq(state_get_f32(s, "opt.avg", avg2, 100, &err), 0);
    ck_assert(memcmp(avg, avg2, sizeof avg) == 0);
    uint64_t rng2[4];
    ck_assert_int_eq(state_get_u64(s, "rng", rng2, 4, &err), 0);
    ck_assert(memcmp(rng, rng2, sizeof rng) == 0);
    long long epoch;
    double best;
    ck_assert_int_eq(state_get_int(s, "epoch", &epoch, &err), 0);
    ck_assert_int_eq(epoch, 3);
    ck_assert_int_eq(state_get_double(s, "best_valid_loss", &best, &err), 0);
    ck_assert(best == 0.1 + 0.2);
    ck_assert_int_eq(state_require(s, "schedule", "fine_tune(2)", &err), 0);
    ck_assert_int_eq(state_require(s, "schedule", "fine_tune(3)", &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "written with schedule = fine_tune(2); this run has fine_tune(3)"), "%s", err.msg);
    ck_assert(state_has(s, "rng") && !state_has(s, "nope"));
    /* Missing or mis-sized arrays are named. */
    ck_assert_int_ne(state_get_f32(s, "opt.sqr", avg2, 100, &err), 0);
    ck_assert_msg(strstr(err.msg, "resume state has no 'opt.sqr'"), "%s", err.msg);
    ck_assert_int_ne(state_get_f32(s, "opt.avg", avg2, 99, &err), 0);
    ck_assert_msg(strstr(err.msg, "'opt.avg' holds 100 F32 values; expected 99 F32"), "%s", err.msg);
    ck_assert_int_ne(state_get_u64(s, "opt.avg", rng2, 100, &err), 0);
    ck_assert_int_ne(state_get_int(s, "lr", &epoch, &err), 0);
    ck_assert_msg(strstr(err.msg, "state.safetensors: resume state: metadata key 'lr' is missing"), "%s", err.msg);
    state_close(s);
    fake_free(a), fake_free(b);
    tu_rmtree(dir);
}
END_TEST

START_TEST(refuses_another_model)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    Fake *a = fake_new("resnet34", 3, 10, 1);
    float avg[4] = {0};
    uint64_t rng[4] = {0};
    write_state(path, a, avg, 4, rng);
    Fake *b = fake_new("resnet18", 3, 10, 1);
    Err err = {0};
    StateFile *s;
    ck_assert_int_eq(state_open(path, model_id(b, (char[256]){0}), &s, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "written for a resnet34 model (n_in 3, n_out 10); this run's model is a resnet18 model (n_in 3, n_out 10)"),
                  "%s", err.msg);
    ck_assert_ptr_null(s);
    fake_free(b);
    b = fake_new("resnet34", 3, 37, 1);
    ck_assert_int_eq(state_open(path, model_id(b, (char[256]){0}), &s, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "(n_in 3, n_out 37)"), "%s", err.msg);
    fake_free(b);
    /* Same arch and sizes, different parameter list. */
    b = fake_new("resnet34", 3, 10, 1);
    snprintf(b->p[3].name, sizeof b->p[3].name, "0.1.other");
    ck_assert_int_eq(state_open(path, model_id(b, (char[256]){0}), &s, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "different parameter list"), "%s", err.msg);
    fake_free(a), fake_free(b);
    tu_rmtree(dir);
}
END_TEST

START_TEST(refuses_truncated_and_foreign_and_future_files)
{
    char dir[256], path[512], cut[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
    Fake *a = fake_new("resnet18", 3, 10, 1);
    float avg[64] = {0};
    uint64_t rng[4] = {0};
    write_state(path, a, avg, 64, rng);
    FILE *f = fopen(path, "rb");
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    Err err = {0};
    StateFile *s;
    ck_assert_int_eq(atomic_write_file(cut, buf, n - 10, &err), 0);
    ck_assert_int_ne(state_open(cut, model_id(a, (char[256]){0}), &s, &err), 0);
    ck_assert_msg(strstr(err.msg, "cut.safetensors: truncated file: tensor 'rng'"), "%s", err.msg);

    /* A model file is not a state file. */
    StWriter *w = st_writer_new();
    ck_assert_int_eq(weights_add(w, a->p, a->m.n_params, &err), 0);
    ck_assert_int_eq(st_writer_write(w, cut, &err), 0);
    st_writer_free(w);
    ck_assert_int_eq(state_open(cut, model_id(a, (char[256]){0}), &s, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "not a fastc resume state"), "%s", err.msg);

    /* A newer format, and an older one (1: end-of-epoch states only) which says what to do. */
    char fp[256];
    weights_model_id(&a->m, fp, sizeof fp);
    const char *vers[2] = {"7", "1"};
    const char *want[2] = {"resume state format 7; this fastc reads format 3",
                           "resume state format 1; this fastc reads format 3 (an older fastc wrote it: train again "
                           "without --resume)"};
    for (int k = 0; k < 2; k++) {
        w = st_writer_new();
        st_meta_set(st_writer_meta(w), "fastc_state", vers[k]);
        st_meta_set(st_writer_meta(w), "model", fp);
        ck_assert_int_eq(st_writer_write(w, cut, &err), 0);
        st_writer_free(w);
        ck_assert_int_eq(state_open(cut, model_id(a, (char[256]){0}), &s, &err), ERR_USAGE);
        ck_assert_msg(strstr(err.msg, want[k]) && !strchr(err.msg, '\n'), "%s", err.msg);
        ck_assert_msg(k == 1 || !strstr(err.msg, "older"), "%s", err.msg);
    }
    fake_free(a);
    tu_rmtree(dir);
}
END_TEST

START_TEST(a_non_finite_weight_is_refused_and_changes_nothing)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    Fake *a = fake_new("resnet18", 3, 10, 1), *b = fake_new("resnet18", 3, 10, 2), *b0 = fake_new("resnet18", 3, 10, 2);
    float avg[4] = {0};
    uint64_t rng[4] = {0};
    a->p[6].w[3] = NAN;   /* 0.4.0.conv1.weight */
    write_state(path, a, avg, 4, rng);
    Err err = {0};
    StateFile *s;
    ck_assert_msg(state_open(path, model_id(b, (char[256]){0}), &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(weights_get_state(s, "model.", b->p, b->m.n_params, &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "state.safetensors: tensor 'model.0.4.0.conv1.weight': value 3 of 576 is NaN"), "%s",
                  err.msg);
    const char *d = "";
    ck_assert_msg(fake_same(b, b0, &d), "%s changed", d);
    state_close(s);
    fake_free(a), fake_free(b), fake_free(b0);
    tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("state");
    TCase *t = tcase_create("state");
    tcase_add_test(t, round_trip_restores_everything_exactly);
    tcase_add_test(t, refuses_another_model);
    tcase_add_test(t, refuses_truncated_and_foreign_and_future_files);
    tcase_add_test(t, a_non_finite_weight_is_refused_and_changes_nothing);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
