/* test_safetensors.c — src/io/safetensors: model round trip, file layout,
 * torchvision names, dtype conversions against torch, every refusal, fuzzing. */
#include "check_main.h"
#include "core/rng.h"
#include "io/atomic.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/resnet.h"
#include "testutil.h"
#include "fakemodel.h"

#include <math.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static void assert_same_params(const Fake *a, const Fake *b)
{
    const char *d = "";
    ck_assert_msg(fake_same(a, b, &d), "%s differs", d);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

/* Plain stdio (no fsync): the tests write thousands of small files.  A new
 * file each time: truncating one makes ext4 flush it to disk on close. */
static void put(const char *path, const void *b, size_t n)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert(fwrite(b, 1, n, f) == n || n == 0);
    fclose(f);
}

/* A file from a header text and `data_len` bytes of data. */
static void put_raw(const char *path, const char *header, size_t data_len)
{
    size_t hl = strlen(header);
    char *b = calloc(1, 8 + hl + data_len);
    for (int k = 0; k < 8; k++) b[k] = (char)((uint64_t)hl >> (8 * k));
    memcpy(b + 8, header, hl);
    put(path, b, 8 + hl + data_len);
    free(b);
}

static int load(Fake *f, const char *path, StLoadMode mode, char *note, Err *err)
{
    return st_load_model_file(&f->m, path, mode, note, note ? 512 : 0, err);
}

/* ---- round trip ----------------------------------------------------------- */

START_TEST(model_round_trip_is_bit_identical)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    Fake *a = fake_new("resnet18", 3, 5, 1), *b = fake_new("resnet18", 3, 5, 2);
    StMeta meta;
    st_meta_init(&meta);
    const char *vocab[] = {"Abyssinian", "Bengal", "say \"hi\"", "\xc3\xa9t\xc3\xa9", "x"};
    st_meta_set_strings(&meta, "vocab", vocab, 5);
    double mean[] = {0.485, 0.456, 0.406};
    st_meta_set_numbers(&meta, "norm_mean", mean, 3);
    st_meta_set_double(&meta, "threshold", 0.2);
    st_meta_set(&meta, "resize_method", "crop");
    Err err = {0};
    ck_assert_msg(st_save_model(&a->m, &meta, path, &err) == 0, "%s", err.msg);
    st_meta_free(&meta);
    char note[512];
    ck_assert_msg(load(b, path, ST_LOAD_FULL, note, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(note, "");
    assert_same_params(a, b);

    StFile *f;
    ck_assert_int_eq(st_open(path, &f, &err), 0);
    ck_assert_str_eq(st_meta_get(&f->meta, "fastc_format"), "1");
    ck_assert_str_eq(st_meta_get(&f->meta, "arch"), "resnet18");
    long long n_out;
    ck_assert_int_eq(st_meta_get_int(&f->meta, "n_out", &n_out, &err), 0);
    ck_assert_int_eq(n_out, 5);
    char **v;
    size_t nv;
    ck_assert_int_eq(st_meta_get_strings(&f->meta, "vocab", &v, &nv, &err), 0);
    ck_assert_uint_eq(nv, 5);
    for (int i = 0; i < 5; i++) ck_assert_str_eq(v[i], vocab[i]);
    json_strings_free(v, nv);
    double m2[3], th;
    size_t nm;
    ck_assert_int_eq(st_meta_get_numbers(&f->meta, "norm_mean", m2, 3, &nm, &err), 0);
    ck_assert(nm == 3 && m2[0] == 0.485 && m2[2] == 0.406);
    ck_assert_int_eq(st_meta_get_double(&f->meta, "threshold", &th, &err), 0);
    ck_assert(th == 0.2);
    ck_assert_int_ne(st_meta_get_int(&f->meta, "resize_method", &n_out, &err), 0);
    ck_assert_msg(strstr(err.msg, "'resize_method': expected an integer"), "%s", err.msg);
    ck_assert_int_ne(st_meta_get_int(&f->meta, "absent", &n_out, &err), 0);
    ck_assert_msg(strstr(err.msg, "'absent' is missing"), "%s", err.msg);
    st_close(f);
    fake_free(a), fake_free(b);
    tu_rmtree(dir);
}
END_TEST

START_TEST(file_layout_is_pytorch_layout)
{
    /* Read the bytes back by hand: OIHW conv order, I64 counters, aligned data. */
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    Fake *a = fake_new("resnet18", 3, 5, 1);
    Err err = {0};
    ck_assert_int_eq(st_save_model(&a->m, NULL, path, &err), 0);
    size_t n;
    char *b = slurp(path, &n);
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--) hl = hl << 8 | (uint8_t)b[k];
    ck_assert_uint_eq((8 + hl) % 8, 0);
    Json *h = json_parse(b + 8, hl, &err);
    ck_assert_msg(h, "%s", err.msg);
    const Json *e = json_get(h, "0.0.weight");
    ck_assert_str_eq(json_get(e, "dtype")->str, "F32");
    const Json *sh = json_get(e, "shape");
    ck_assert(sh->n == 4 && sh->items[0].i == 8 && sh->items[1].i == 3 && sh->items[2].i == 3);
    const float *oihw = (const float *)(b + 8 + hl + json_get(e, "data_offsets")->items[0].i);
    const float *ohwi = a->p[0].w;
    for (int o = 0; o < 8; o++)
        for (int i = 0; i < 3; i++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++)
                    ck_assert(oihw[((o * 3 + i) * 3 + y) * 3 + x] == ohwi[((o * 3 + y) * 3 + x) * 3 + i]);
    e = json_get(h, "0.1.num_batches_tracked");
    ck_assert_str_eq(json_get(e, "dtype")->str, "I64");
    ck_assert_uint_eq(json_len(json_get(e, "shape")), 0);
    int64_t cnt;
    memcpy(&cnt, b + 8 + hl + json_get(e, "data_offsets")->items[0].i, 8);
    ck_assert_int_eq(cnt, 106); /* 100 + index 5 + seed 1 */
    ck_assert_str_eq(json_get(json_get(h, "__metadata__"), "arch")->str, "resnet18");
    json_free(h);
    free(b);
    fake_free(a);
    tu_rmtree(dir);
}
END_TEST

START_TEST(generic_writer_round_trips_every_dtype)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/s.safetensors", dir);
    StWriter *w = st_writer_new();
    float f32[6] = {1, -2, 3.5f, 0, 1e-30f, 7};
    int64_t i64[3] = {-1, 0, INT64_MAX};
    uint8_t u8[5] = {0, 1, 2, 254, 255};
    Err err = {0};
    ck_assert_int_eq(st_writer_add(w, "a", ST_F32, 2, (int64_t[]){2, 3}, f32, &err), 0);
    ck_assert_int_eq(st_writer_add(w, "b", ST_I64, 1, (int64_t[]){3}, i64, &err), 0);
    ck_assert_int_eq(st_writer_add(w, "c", ST_U8, 1, (int64_t[]){5}, u8, &err), 0);
    ck_assert_int_eq(st_writer_add(w, "empty", ST_F32, 2, (int64_t[]){0, 4}, NULL, &err), 0);
    ck_assert_int_ne(st_writer_add(w, "a", ST_F32, 1, (int64_t[]){1}, f32, &err), 0);
    ck_assert_msg(strstr(err.msg, "'a' added twice"), "%s", err.msg);
    st_meta_set(st_writer_meta(w), "k", "v");
    ck_assert_msg(st_writer_write(w, path, &err) == 0, "%s", err.msg);
    st_writer_free(w);
    StFile *f;
    ck_assert_msg(st_open(path, &f, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(f->n_tensors, 4);
    float g[6];
    ck_assert_int_eq(st_read_f32(f, st_find(f, "a"), g, 6, &err), 0);
    ck_assert(memcmp(g, f32, sizeof g) == 0);
    int64_t j[5];
    ck_assert_int_eq(st_read_i64(f, st_find(f, "b"), j, 3, &err), 0);
    ck_assert(j[2] == INT64_MAX && j[0] == -1);
    ck_assert_int_eq(st_read_i64(f, st_find(f, "c"), j, 5, &err), 0);
    ck_assert(j[3] == 254 && j[4] == 255);
    ck_assert_int_ne(st_read_f32(f, st_find(f, "b"), g, 3, &err), 0);
    ck_assert_msg(strstr(err.msg, "tensor 'b': dtype I64, expected a floating-point type"), "%s", err.msg);
    ck_assert_int_ne(st_read_f32(f, st_find(f, "a"), g, 5, &err), 0);
    ck_assert_msg(strstr(err.msg, "tensor 'a': 6 elements, expected 5"), "%s", err.msg);
    ck_assert_uint_eq(st_find(f, "empty")->numel, 0);
    ck_assert_str_eq(st_meta_get(&f->meta, "k"), "v");
    st_close(f);
    tu_rmtree(dir);
}
END_TEST

/* ---- PyTorch interop --------------------------------------------------------- */

#define FIXTURE "tests/reference/fixtures/torch_tiny.safetensors"

START_TEST(reads_a_file_written_from_pytorch)
{
    Fake *a = fake_new("tiny", 3, 5, 9);
    Err err = {0};
    StFile *f;
    ck_assert_msg(st_open(FIXTURE, &f, &err) == 0, "%s", err.msg);
    char **v;
    size_t nv;
    ck_assert_int_eq(st_meta_get_strings(&f->meta, "vocab", &v, &nv, &err), 0);
    ck_assert(nv == 2 && strcmp(v[1], "dog \"big\"") == 0);
    json_strings_free(v, nv);
    /* Loaded as a whole model, the extra x.* tensors are refused by name. */
    ck_assert_int_ne(st_load_model(&a->m, f, ST_LOAD_FULL, NULL, 0, &err), 0);
    ck_assert_msg(strstr(err.msg, "tensor 'x.f16' has no place in a tiny model"), "%s", err.msg);
    st_close(f);

    /* Values: v(i) = sin(0.37 i + k) in PyTorch OIHW order, read into OHWI. */
    ck_assert_int_eq(st_open(FIXTURE, &f, &err), 0);
    const StTensor *t = st_find(f, "0.0.weight");
    float oihw[216];
    ck_assert_int_eq(st_read_f32(f, t, oihw, 216, &err), 0);
    for (int i = 0; i < 216; i++) ck_assert_msg(fabsf(oihw[i] - (float)sin(0.37 * i)) < 1e-6f, "i=%d", i);
    int64_t cnt;
    ck_assert_int_eq(st_read_i64(f, st_find(f, "0.1.num_batches_tracked"), &cnt, 1, &err), 0);
    ck_assert_int_eq(cnt, 7);
    ck_assert_int_eq(st_find(f, "0.1.num_batches_tracked")->ndim, 0);

    /* F16 / BF16 / F64 converted as torch converts them. */
    const char *kinds[] = {"f16", "bf16", "f64"};
    for (int q = 0; q < 3; q++) {
        char n1[32], n2[40];
        snprintf(n1, sizeof n1, "x.%s", kinds[q]);
        snprintf(n2, sizeof n2, "x.%s_as_f32", kinds[q]);
        float x[64], y[64];
        ck_assert_msg(st_read_f32(f, st_find(f, n1), x, 64, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(st_read_f32(f, st_find(f, n2), y, 64, &err), 0);
        for (int i = 0; i < 64; i++)
            ck_assert_msg(memcmp(&x[i], &y[i], 4) == 0, "%s[%d]: %.9g vs torch %.9g", n1, i, x[i], y[i]);
    }
    st_close(f);
    fake_free(a);
}
END_TEST

START_TEST(loads_pytorch_values_into_ohwi_params)
{
    /* A model with exactly the fixture's model tensors. */
    Fake *a = fake_new("tiny", 3, 5, 9);
    Param keep[8];
    int k = 0;
    for (int i = 0; i < a->m.n_params; i++)
        if (strncmp(a->p[i].name, "0.4", 3) && strncmp(a->p[i].name, "1.2", 3)) keep[k++] = a->p[i];
    /* Write the fixture's model part to a file of its own (drop x.*). */
    Err err = {0};
    StFile *f;
    ck_assert_int_eq(st_open(FIXTURE, &f, &err), 0);
    StWriter *w = st_writer_new();
    void *bufs[16];
    int nb = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const StTensor *t = &f->tensors[i];
        if (t->name[0] == 'x') continue;
        bufs[nb] = malloc(t->nbytes + 1);
        ck_assert_int_eq(st_read_raw(f, t, bufs[nb], t->nbytes, &err), 0);
        ck_assert_int_eq(st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, bufs[nb], &err), 0);
        nb++;
    }
    st_close(f);
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ck_assert_int_eq(st_writer_write(w, path, &err), 0);
    st_writer_free(w);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    Model m = a->m;
    m.params = keep;
    m.n_params = k;
    ck_assert_msg(st_load_model_file(&m, path, ST_LOAD_FULL, NULL, 0, &err) == 0, "%s", err.msg);
    const Param *c = &keep[0];
    for (int o = 0; o < 8; o++)
        for (int i = 0; i < 3; i++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) {
                    int idx = ((o * 3 + i) * 3 + y) * 3 + x;
                    ck_assert(fabsf(c->w[((o * 3 + y) * 3 + x) * 3 + i] - (float)sin(0.37 * idx)) < 1e-6f);
                }
    ck_assert(keep[5].w[0] == 7.0f); /* num_batches_tracked */
    for (int i = 0; i < 40; i++) ck_assert(fabsf(keep[6].w[i] - (float)sin(0.37 * i + 5.0)) < 1e-6f);
    fake_free(a);
    tu_rmtree(dir);
}
END_TEST

/* ---- pretrained: torchvision names ------------------------------------------ */

/* A torchvision-named file holding `src`'s body in OIHW, plus fc.* */
static void write_torchvision(const char *path, Fake *src, int with_counters, int extra_layer)
{
    StWriter *w = st_writer_new();
    Err err = {0};
    float *tmp[16] = {0};
    for (int i = 0; i < src->m.n_params; i++) {
        Param *p = &src->p[i];
        if (strncmp(p->name, "0.", 2)) continue;
        if (p->kind == PARAM_COUNTER && !with_counters) continue;
        char name[96];
        if (!strncmp(p->name, "0.0.", 4)) snprintf(name, sizeof name, "conv1.%s", p->name + 4);
        else if (!strncmp(p->name, "0.1.", 4)) snprintf(name, sizeof name, "bn1.%s", p->name + 4);
        else snprintf(name, sizeof name, "layer%d.%s", p->name[2] - '3', p->name + 4);
        Param one = *p;
        snprintf(one.name, sizeof one.name, "%s", name);
        ck_assert_int_eq(st_writer_add_params(w, &one, 1, &err), 0);
    }
    static float fcw[10 * 8], fcb[10];
    ck_assert_int_eq(st_writer_add(w, "fc.weight", ST_F32, 2, (int64_t[]){10, 8}, fcw, &err), 0);
    ck_assert_int_eq(st_writer_add(w, "fc.bias", ST_F32, 1, (int64_t[]){10}, fcb, &err), 0);
    if (extra_layer)
        ck_assert_int_eq(st_writer_add(w, "layer1.1.conv1.weight", ST_F32, 1, (int64_t[]){10}, fcb, &err), 0);
    ck_assert_msg(st_writer_write(w, path, &err) == 0, "%s", err.msg);
    st_writer_free(w);
    for (int i = 0; i < 16; i++) free(tmp[i]);
}

START_TEST(pretrained_maps_torchvision_names_and_skips_fc)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/resnet.safetensors", dir);
    Fake *src = fake_new("resnet18", 3, 10, 1), *dst = fake_new("resnet18", 3, 37, 2), *orig = fake_new("resnet18", 3, 37, 2);
    write_torchvision(path, src, 0, 0);
    Err err = {0};
    char note[512];
    ck_assert_msg(load(dst, path, ST_LOAD_PRETRAINED, note, &err) == 0, "%s", err.msg);
    for (int i = 0; i < dst->m.n_params; i++) {
        const Param *p = &dst->p[i];
        if (!strncmp(p->name, "0.", 2) && p->kind != PARAM_COUNTER)
            ck_assert_msg(memcmp(p->w, src->p[i].w, p->n * 4) == 0, "%s not loaded", p->name);
        else if (!strncmp(p->name, "0.", 2))
            ck_assert_msg(p->w[0] == 0.0f, "%s should be 0", p->name);
        else
            ck_assert_msg(memcmp(p->w, orig->p[i].w, p->n * 4) == 0, "head %s changed", p->name);
    }
    ck_assert_msg(strstr(note, "skipped 2 classifier tensors (fc.*)"), "%s", note);
    ck_assert_msg(strstr(note, "num_batches_tracked"), "%s", note);
    /* A torchvision file is not a complete model. */
    ck_assert_int_eq(load(dst, path, ST_LOAD_FULL, NULL, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "'fc.weight'"), "%s", err.msg);
    /* A deeper net's tensors are refused by name. */
    write_torchvision(path, src, 1, 1);
    ck_assert_int_eq(load(dst, path, ST_LOAD_PRETRAINED, note, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "tensor 'layer1.1.conv1.weight' has no place in a resnet18 model"), "%s", err.msg);
    fake_free(src), fake_free(dst), fake_free(orig);
    tu_rmtree(dir);
}
END_TEST

START_TEST(pretrained_adapts_first_conv_to_n_in_as_fastai)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/resnet.safetensors", dir);
    Fake *src = fake_new("resnet18", 3, 10, 1);
    write_torchvision(path, src, 1, 0);
    const float *s = src->p[0].w; /* OHWI [8][3][3][3] */
    for (int n_in = 1; n_in <= 4; n_in++) {
        Fake *dst = fake_new("resnet18", n_in, 10, 2);
        Err err = {0};
        char note[512];
        ck_assert_msg(load(dst, path, ST_LOAD_PRETRAINED, note, &err) == 0, "n_in %d: %s", n_in, err.msg);
        const float *d = dst->p[0].w; /* OHWI [8][3][3][n_in] */
        for (int o = 0; o < 8; o++)
            for (int yx = 0; yx < 9; yx++)
                for (int i = 0; i < n_in; i++) {
                    const float *sp = s + (o * 9 + yx) * 3;
                    float want = n_in == 1 ? sp[0] + sp[1] + sp[2] : n_in == 2 ? sp[i] * 1.5f : i < 3 ? sp[i] : 0.0f;
                    ck_assert_msg(d[(o * 9 + yx) * n_in + i] == want, "n_in %d o %d i %d", n_in, o, i);
                }
        if (n_in != 3) ck_assert_msg(strstr(note, "adapted from 3 to"), "%s", note);
        fake_free(dst);
    }
    fake_free(src);
    tu_rmtree(dir);
}
END_TEST

START_TEST(pretrained_from_a_fastc_model_keeps_the_new_head)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/pre.safetensors", dir);
    Fake *src = fake_new("resnet18", 3, 5, 1), *dst = fake_new("resnet18", 3, 7, 2), *orig = fake_new("resnet18", 3, 7, 2);
    Err err = {0};
    ck_assert_int_eq(st_save_model(&src->m, NULL, path, &err), 0);
    char note[512];
    ck_assert_msg(load(dst, path, ST_LOAD_PRETRAINED, note, &err) == 0, "%s", err.msg);
    for (int i = 0; i < dst->m.n_params; i++) {
        const Param *p = &dst->p[i];
        const float *want = !strncmp(p->name, "0.", 2) ? src->p[i].w : orig->p[i].w;
        ck_assert_msg(memcmp(p->w, want, p->n * 4) == 0, "%s", p->name);
    }
    ck_assert_msg(strstr(note, "skipped 3 head tensors (1.*)"), "%s", note);
    /* Full load of the 5-class model into a 7-class one: refused on the head. */
    ck_assert_int_eq(load(dst, path, ST_LOAD_FULL, NULL, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "n_out = 5; expected 7"), "%s", err.msg);
    fake_free(src), fake_free(dst), fake_free(orig);
    tu_rmtree(dir);
}
END_TEST

/* ---- refusals ---------------------------------------------------------------- */

static void expect_refused(const char *path, Fake *into, const char *want, StLoadMode mode)
{
    Fake *before = fake_new(into->m.info.arch, into->m.info.n_in, into->m.info.n_out, 77);
    for (int i = 0; i < into->m.n_params; i++) memcpy(into->p[i].w, before->p[i].w, into->p[i].n * 4);
    Err err = {0};
    int rc = st_load_model_file(&into->m, path, mode, NULL, 0, &err);
    ck_assert_msg(rc != 0, "accepted; expected refusal with '%s'", want);
    ck_assert_msg(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
    ck_assert_msg(strstr(err.msg, path), "message '%s' lacks the path", err.msg);
    ck_assert_msg(!strchr(err.msg, '\n'), "message has a newline");
    assert_same_params(into, before); /* refused files change nothing */
    fake_free(before);
}

START_TEST(refuses_wrong_arch_shape_dtype_and_missing_tensors)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    Fake *a = fake_new("resnet18", 3, 5, 1), *b = fake_new("resnet18", 3, 5, 2);
    Err err = {0};

    /* missing tensor */
    a->m.n_params--;
    ck_assert_int_eq(st_save_model(&a->m, NULL, path, &err), 0);
    a->m.n_params++;
    expect_refused(path, b, "tensor '1.8.weight' is missing", ST_LOAD_FULL);

    /* wrong arch in metadata */
    snprintf(a->m.info.arch, sizeof a->m.info.arch, "resnet34");
    ck_assert_int_eq(st_save_model(&a->m, NULL, path, &err), 0);
    expect_refused(path, b, "the file holds a resnet34 model; expected resnet18", ST_LOAD_FULL);
    expect_refused(path, b, "the file holds a resnet34 model; expected resnet18", ST_LOAD_PRETRAINED);
    snprintf(a->m.info.arch, sizeof a->m.info.arch, "resnet18");

    /* wrong shape, without metadata to give it away */
    Fake *c = fake_new("resnet18", 3, 6, 3);
    StWriter *w = st_writer_new();
    ck_assert_int_eq(st_writer_add_params(w, c->p, c->m.n_params, &err), 0);
    ck_assert_int_eq(st_writer_write(w, path, &err), 0);
    st_writer_free(w);
    expect_refused(path, b, "tensor '1.8.weight': shape [6, 8], expected [5, 8]", ST_LOAD_FULL);
    fake_free(c);

    /* wrong dtype: a weight stored as I64 */
    w = st_writer_new();
    static int64_t ints[8 * 3 * 9];
    for (int i = 0; i < a->m.n_params; i++) {
        if (i == 1) ck_assert_int_eq(st_writer_add(w, a->p[1].name, ST_I64, 1, a->p[1].shape, ints, &err), 0);
        else ck_assert_int_eq(st_writer_add_params(w, &a->p[i], 1, &err), 0);
    }
    ck_assert_int_eq(st_writer_write(w, path, &err), 0);
    st_writer_free(w);
    expect_refused(path, b, "tensor '0.1.weight': dtype I64, expected F32", ST_LOAD_FULL);

    /* format from the future */
    w = st_writer_new();
    ck_assert_int_eq(st_writer_add_params(w, a->p, a->m.n_params, &err), 0);
    st_meta_set(st_writer_meta(w), "fastc_format", "2");
    ck_assert_int_eq(st_writer_write(w, path, &err), 0);
    st_writer_free(w);
    expect_refused(path, b, "fastc file format '2'", ST_LOAD_FULL);

    fake_free(a), fake_free(b);
    tu_rmtree(dir);
}
END_TEST

START_TEST(non_finite_weights_are_refused_naming_the_tensor)
{
    /* A NaN weight trains into NaN (and ReLU no longer hides it): refused on
     * load, whatever the mode, naming the tensor and the first bad value; a
     * refused file changes nothing (expect_refused). */
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    Fake *a = fake_new("resnet18", 3, 5, 1), *b = fake_new("resnet18", 3, 5, 2);
    Err err = {0};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const char *what[] = {"is NaN", "is +inf", "is -inf"};
    for (int k = 0; k < 3; k++) {
        float keep = a->p[0].w[7];
        a->p[0].w[7] = bad[k];   /* 0.0.weight: the first convolution (OHWI; the file is OIHW) */
        ck_assert_int_eq(st_save_model(&a->m, NULL, path, &err), 0);
        a->p[0].w[7] = keep;
        char want[128];
        snprintf(want, sizeof want, "tensor '0.0.weight': value %d of 216 %s; weights must be finite",
                 /* OHWI index 7 = (o 0, y 0, x 2, i 1) -> OIHW (o 0, i 1, y 0, x 2) = 11 */ 11, what[k]);
        expect_refused(path, b, want, ST_LOAD_FULL);
        expect_refused(path, b, want, ST_LOAD_PRETRAINED);
        ck_assert_int_eq(st_load_model_file(&b->m, path, ST_LOAD_FULL, NULL, 0, &err), ERR_RUNTIME);
    }
    /* a BatchNorm buffer too, and an F16 file (its infinities are real) */
    a->p[4].w[1] = NAN;   /* 0.1.running_var */
    ck_assert_int_eq(st_save_model(&a->m, NULL, path, &err), 0);
    expect_refused(path, b, "tensor '0.1.running_var': value 1 of 8 is NaN", ST_LOAD_FULL);
    StWriter *w = st_writer_new();
    uint16_t h[8] = {0x3c00, 0x7c00};   /* 1.0, +inf */
    ck_assert_int_eq(st_writer_add(w, "x", ST_F16, 1, (int64_t[]){8}, h, &err), 0);
    ck_assert_int_eq(st_writer_write(w, path, &err), 0);
    st_writer_free(w);
    StFile *f;
    ck_assert_int_eq(st_open(path, &f, &err), 0);
    ck_assert_int_eq(st_check_finite(f, st_find(f, "x"), &err), ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "tensor 'x': value 1 of 8 is +inf"), "%s", err.msg);
    st_close(f);
    fake_free(a), fake_free(b);
    tu_rmtree(dir);
}
END_TEST

START_TEST(refuses_truncated_files_at_every_length)
{
    char dir[256], path[512], cut[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
    Fake *a = fake_new("resnet18", 3, 5, 1), *b = fake_new("resnet18", 3, 5, 2);
    Err err = {0};
    ck_assert_int_eq(st_save_model(&a->m, NULL, path, &err), 0);
    size_t n;
    char *bytes = slurp(path, &n);
    int step = getenv("FASTC_SANITIZED") ? 7 : 1;
    for (size_t len = 0; len < n; len += (size_t)step) {
        put(cut, bytes, len);
        StFile *f = NULL;
        int rc = st_open(cut, &f, &err);
        ck_assert_msg(rc != 0, "truncated to %zu of %zu bytes was accepted", len, n);
        ck_assert_msg(strstr(err.msg, "truncated") || strstr(err.msg, "malformed JSON"), "len %zu: %s", len, err.msg);
    }
    /* Data cut short: the message names the tensor. */
    put(cut, bytes, n - 3);
    expect_refused(cut, b, "truncated file: tensor '1.8.weight' needs data bytes", ST_LOAD_FULL);
    free(bytes);
    fake_free(a), fake_free(b);
    tu_rmtree(dir);
}
END_TEST

START_TEST(refuses_bad_headers)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/h.safetensors", dir);
    struct { const char *header; size_t data; const char *want; } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "tensors 'a' and 'b' overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "truncated file: tensor 'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "tensor 'a': 8 bytes in data_offsets, but F32 [3] needs 12"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "tensor 'a': data_offsets [8, 0] end before"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "data_offsets[0] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,1e1]}}", 8, "data_offsets[1] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "tensor 'a': expected a field 'data_offsets'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "needs more than"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 8, "shape[0] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a': unsupported dtype 'F33'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, "unknown header field 'x'"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a': expected a string field 'dtype'"},
        {"{\"a\":[1]}", 8, "tensor 'a': header entry is a array"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ key 'k' is a number"},
        {"{\"__metadata__\":[]}", 0, "__metadata__ is a array"},
        {"[1,2]", 0, "header is a JSON array"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "malformed JSON header: byte"},
        {"{\"a\":1,\"a\":2}", 8, "duplicate key \"a\""},
        {"", 8, "malformed JSON header"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "9 dimensions"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_raw(path, cases[i].header, cases[i].data);
        StFile *f = NULL;
        Err err = {0};
        int rc = st_open(path, &f, &err);
        ck_assert_msg(rc != 0, "case %zu accepted: %s", i, cases[i].header);
        ck_assert_msg(strstr(err.msg, cases[i].want), "case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
        ck_assert_ptr_null(f);
    }
    /* Holes and any order are fine; empty tensors may share an offset. */
    put_raw(path, "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                  "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
                  "\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 12);
    StFile *f;
    Err err = {0};
    ck_assert_msg(st_open(path, &f, &err) == 0, "%s", err.msg);
    st_close(f);
    tu_rmtree(dir);
}
END_TEST

START_TEST(refuses_absurd_header_lengths)
{
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/h.safetensors", dir);
    uint64_t lens[] = {UINT64_MAX, 1ull << 40, 100000001ull, 200};
    const char *want[] = {"is absurd", "is absurd", "is absurd", "exceeds the file"};
    for (int i = 0; i < 4; i++) {
        char b[64] = {0};
        for (int k = 0; k < 8; k++) b[k] = (char)(lens[i] >> (8 * k));
        memcpy(b + 8, "{}", 2);
        put(path, b, 10);
        StFile *f;
        Err err = {0};
        ck_assert_int_ne(st_open(path, &f, &err), 0);
        ck_assert_msg(strstr(err.msg, want[i]), "%s", err.msg);
    }
    put(path, "abc", 3);
    StFile *f;
    Err err = {0};
    ck_assert_int_ne(st_open(path, &f, &err), 0);
    ck_assert_msg(strstr(err.msg, "truncated file: 3 bytes"), "%s", err.msg);
    ck_assert_int_ne(st_open(dir, &f, &err), 0);
    ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
    ck_assert_int_ne(st_open("/nonexistent/x.safetensors", &f, &err), 0);
    ck_assert_msg(strstr(err.msg, "/nonexistent/x.safetensors: cannot open"), "%s", err.msg);
    tu_rmtree(dir);
}
END_TEST

START_TEST(random_corruption_never_reads_out_of_bounds)
{
    /* Mutate a valid file at random; every outcome must be a clean accept or
     * a clean refusal (ASan/UBSan in check-san watch the reads). */
    char dir[256], path[512], bad[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    Fake *a = fake_new("resnet18", 3, 5, 1), *b = fake_new("resnet18", 3, 5, 2);
    Err err = {0};
    StMeta meta;
    st_meta_init(&meta);
    st_meta_set(&meta, "vocab", "[\"a\",\"b\"]");
    ck_assert_int_eq(st_save_model(&a->m, &meta, path, &err), 0);
    st_meta_free(&meta);
    size_t n;
    char *orig = slurp(path, &n);
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--) hl = hl << 8 | (uint8_t)orig[k];
    char *buf = malloc(n);
    Rng r = rng_make(11, 0);
    int iters = getenv("FASTC_SANITIZED") ? 300 : 1500, accepted = 0;
    for (int it = 0; it < iters; it++) {
        memcpy(buf, orig, n);
        int k = 1 + (int)rng_below(&r, 3);
        for (int q = 0; q < k; q++) {
            /* mostly in the header, where the structure is */
            size_t pos = rng_uniform(&r) < 0.9 ? (size_t)rng_below(&r, 8 + hl) : (size_t)rng_below(&r, n);
            buf[pos] = rng_uniform(&r) < 0.5 ? (char)rng_below(&r, 256) : "0123456789[]{},:\"-"[rng_below(&r, 18)];
        }
        put(bad, buf, n);
        if (st_load_model_file(&b->m, bad, ST_LOAD_FULL, NULL, 0, &err) == 0) accepted++;
        else ck_assert(err.msg[0] && !strchr(err.msg, '\n'));
    }
    ck_assert_msg(accepted < iters, "every mutation accepted?");
    free(buf);
    free(orig);
    fake_free(a), fake_free(b);
    tu_rmtree(dir);
}
END_TEST


/* ---- real resnets (models/resnet) -------------------------------------------- */

static Model *resnet(const char *arch, int n_in, int n_out, int plain_fc, uint64_t seed)
{
    ResnetSpec sp = resnet_spec_default(arch, n_out, 1, 32, 32);
    sp.n_in = n_in;
    sp.plain_fc = plain_fc;
    sp.seed = seed;
    Model *m = NULL;
    Err err = {0};
    ck_assert_msg(resnet_new(&m, &sp, &err) == 0, "%s", err.msg);
    /* Buffers and counters away from their initial values, so they must round-trip too. */
    Rng r = rng_make(seed, 5);
    for (int i = 0; i < m->n_params; i++) {
        Param *p = &m->params[i];
        if (p->kind == PARAM_COUNTER) p->w[0] = (float)(1000 + i);
        else if (p->kind == PARAM_BUFFER)
            for (size_t k = 0; k < p->n; k++) p->w[k] = (float)rng_uniform(&r) + 0.5f;
    }
    return m;
}

/* Built once in the parent process (Check forks each test from it): resnet_new
 * takes seconds, mostly drawing the initial weights. */
static Model *g_r18, *g_r34, *g_r18tv;   /* g_r18tv: torchvision's head (avgpool + fc) */

static void resnets_setup(void)
{
    g_r18 = resnet("resnet18", 3, 10, 0, 1);
    g_r34 = resnet("resnet34", 3, 10, 0, 1);
    g_r18tv = resnet("resnet18", 3, 4, 1, 7);
}

static void resnets_teardown(void)
{
    model_free(g_r18);
    model_free(g_r34);
    model_free(g_r18tv);
}

static float **snapshot(const Model *m)
{
    float **v = calloc(m->n_params > 0 ? (size_t)m->n_params : 1, sizeof *v);
    for (int i = 0; i < m->n_params; i++) {
        v[i] = malloc(m->params[i].n * sizeof(float));
        memcpy(v[i], m->params[i].w, m->params[i].n * sizeof(float));
    }
    return v;
}

static void snapshot_free(float **v, const Model *m)
{
    for (int i = 0; i < m->n_params; i++) free(v[i]);
    free(v);
}

static void scramble(Model *m, uint64_t seed)
{
    Rng r = rng_make(seed, 9);
    for (int i = 0; i < m->n_params; i++)
        for (size_t k = 0; k < m->params[i].n; k++) m->params[i].w[k] = (float)rng_uniform(&r);
}

START_TEST(resnet18_round_trips_bit_identically)
{
    char tmp[256], path[512];
    tu_tmpdir(tmp, sizeof tmp);
    const char *keep = getenv("FASTC_EXPORT_DIR");   /* for tests/reference/load_fastc_resnet.py */
    snprintf(path, sizeof path, "%s/resnet18.safetensors", keep && *keep ? keep : tmp);
    Model *m = g_r18;
    float **before = snapshot(m);
    StMeta meta;
    st_meta_init(&meta);
    const char *vocab[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    st_meta_set_strings(&meta, "vocab", vocab, 10);
    Err err = {0};
    ck_assert_msg(st_save_model(m, &meta, path, &err) == 0, "%s", err.msg);
    st_meta_free(&meta);
    scramble(m, 3);
    ck_assert(memcmp(m->params[0].w, before[0], 16) != 0);
    ck_assert_msg(st_load_model_file(m, path, ST_LOAD_FULL, NULL, 0, &err) == 0, "%s", err.msg);
    for (int i = 0; i < m->n_params; i++)
        ck_assert_msg(memcmp(m->params[i].w, before[i], m->params[i].n * sizeof(float)) == 0, "%s differs",
                      m->params[i].name);
    if (keep && *keep) {
        /* An eval forward on a fixed input, for the script to compare with
         * PyTorch on the same file: checks the OHWI <-> OIHW convention end to end. */
        enum { HW = 32 };
        static float x[HW * HW * 3];
        for (int i = 0; i < HW * HW * 3; i++) x[i] = (float)sin(0.1 * i);
        Batch b = {.n = 1, .h = HW, .w = HW, .c = 3, .x = x};
        const float *out;
        ck_assert_msg(m->ops->forward(m, &b, MODE_EVAL, 0, &out, &err) == 0, "%s", err.msg);
        StWriter *w = st_writer_new();
        ck_assert_int_eq(st_writer_add(w, "input_nhwc", ST_F32, 4, (int64_t[]){1, HW, HW, 3}, x, &err), 0);
        ck_assert_int_eq(st_writer_add(w, "logits", ST_F32, 2, (int64_t[]){1, m->info.n_out}, out, &err), 0);
        snprintf(path, sizeof path, "%s/resnet18_io.safetensors", keep);
        ck_assert_int_eq(st_writer_write(w, path, &err), 0);
        st_writer_free(w);
    }
    snapshot_free(before, m);
    tu_rmtree(tmp);
}
END_TEST

START_TEST(resnet34_file_is_refused_by_resnet18)
{
    char tmp[256], path[512];
    tu_tmpdir(tmp, sizeof tmp);
    snprintf(path, sizeof path, "%s/r34.safetensors", tmp);
    Err err = {0};
    float **before = snapshot(g_r18);
    ck_assert_int_eq(st_save_model(g_r34, NULL, path, &err), 0);
    ck_assert_int_eq(st_load_model_file(g_r18, path, ST_LOAD_FULL, NULL, 0, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "the file holds a resnet34 model; expected resnet18"), "%s", err.msg);
    /* without metadata: the first tensor resnet18 does not have */
    StWriter *w = st_writer_new();
    ck_assert_int_eq(st_writer_add_params(w, g_r34->params, g_r34->n_params, &err), 0);
    ck_assert_int_eq(st_writer_write(w, path, &err), 0);
    st_writer_free(w);
    ck_assert_int_eq(st_load_model_file(g_r18, path, ST_LOAD_PRETRAINED, NULL, 0, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "tensor '0.4.2.conv1.weight' has no place in a resnet18 model"), "%s", err.msg);
    ck_assert_int_eq(st_load_model_file(g_r18, path, ST_LOAD_FULL, NULL, 0, &err), ERR_USAGE);
    for (int i = 0; i < g_r18->n_params; i++)
        ck_assert_msg(memcmp(g_r18->params[i].w, before[i], g_r18->params[i].n * 4) == 0, "refused file changed %s",
                      g_r18->params[i].name);
    snapshot_free(before, g_r18);
    tu_rmtree(tmp);
}
END_TEST

/* fastai name -> torchvision name (the inverse of the loader's mapping, written
 * out independently here). */
static void tv_name(const char *in, char *out, size_t cap)
{
    static const char *body[8] = {"conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"};
    if (in[0] == '0' && in[1] == '.' && in[2] >= '0' && in[2] <= '7' && in[3] == '.')
        snprintf(out, cap, "%s.%s", body[in[2] - '0'], in + 4);
    else
        snprintf(out, cap, "%s", in);
}

START_TEST(pretrained_torchvision_resnet_loads_into_the_fastai_body)
{
    /* resnet18's body under torchvision names, with a 1000-class fc, as a
     * pretrained file: the body comes back, the head is left alone. */
    char tmp[256], path[512];
    tu_tmpdir(tmp, sizeof tmp);
    snprintf(path, sizeof path, "%s/tv.safetensors", tmp);
    Model *m = g_r18;
    Param *tvp = calloc(m->n_params > 0 ? (size_t)m->n_params : 1, sizeof *tvp);
    int n = 0;
    for (int i = 0; i < m->n_params; i++) {
        if (strncmp(m->params[i].name, "0.", 2)) continue;
        tvp[n] = m->params[i];
        tv_name(m->params[i].name, tvp[n].name, sizeof tvp[n].name);
        n++;
    }
    ck_assert_int_eq(n, 6 + 96 + 18); /* conv1+bn1, 8 blocks x 2 x (conv+bn), 3 downsamples */
    static float fcw[1000 * 512], fcb[1000];
    Err err = {0};
    StWriter *w = st_writer_new();
    ck_assert_int_eq(st_writer_add_params(w, tvp, n, &err), 0);
    ck_assert_int_eq(st_writer_add(w, "fc.weight", ST_F32, 2, (int64_t[]){1000, 512}, fcw, &err), 0);
    ck_assert_int_eq(st_writer_add(w, "fc.bias", ST_F32, 1, (int64_t[]){1000}, fcb, &err), 0);
    ck_assert_int_eq(st_writer_write(w, path, &err), 0);
    st_writer_free(w);
    float **before = snapshot(m);
    scramble(m, 4);
    float **scrambled = snapshot(m);
    char note[512];
    ck_assert_msg(st_load_model_file(m, path, ST_LOAD_PRETRAINED, note, sizeof note, &err) == 0, "%s", err.msg);
    ck_assert_msg(strstr(note, "skipped 2 classifier tensors (fc.*)"), "%s", note);
    for (int i = 0; i < m->n_params; i++) {
        const Param *p = &m->params[i];
        const float *want = strncmp(p->name, "0.", 2) == 0 ? before[i] : scrambled[i];
        ck_assert_msg(memcmp(p->w, want, p->n * sizeof(float)) == 0, "%s", p->name);
    }
    snapshot_free(before, m);
    snapshot_free(scrambled, m);
    free(tvp);
    tu_rmtree(tmp);
}
END_TEST

/* [model] head = 'torchvision' (pretraining a body on our own data): fastc saves the
 * model under torchvision's names; the file loads back whole into the same kind of
 * model (the names are not mapped onto fastai's), and as `pretrained =` into a
 * fastai-headed resnet its body comes back and its fc is skipped. */
START_TEST(torchvision_head_model_saves_loads_and_pretrains)
{
    char tmp[256], path[512], note[512];
    tu_tmpdir(tmp, sizeof tmp);
    snprintf(path, sizeof path, "%s/plain.safetensors", tmp);
    Model *pl = g_r18tv;
    ck_assert_ptr_nonnull(model_param(pl, "conv1.weight"));
    ck_assert_ptr_nonnull(model_param(pl, "fc.bias"));
    Err err = {0};
    ck_assert_msg(st_save_model(pl, NULL, path, &err) == 0, "%s", err.msg);
    float **saved = snapshot(pl);
    scramble(pl, 9);
    ck_assert_msg(st_load_model_file(pl, path, ST_LOAD_FULL, NULL, 0, &err) == 0, "%s", err.msg);
    for (int i = 0; i < pl->n_params; i++)
        ck_assert_msg(memcmp(pl->params[i].w, saved[i], pl->params[i].n * sizeof(float)) == 0, "%s",
                      pl->params[i].name);

    Model *m = g_r18;
    float **scrambled = (scramble(m, 11), snapshot(m));
    ck_assert_msg(st_load_model_file(m, path, ST_LOAD_PRETRAINED, note, sizeof note, &err) == 0, "%s", err.msg);
    ck_assert_msg(strstr(note, "skipped 2 classifier tensors (fc.*)"), "%s", note);
    for (int i = 0; i < m->n_params; i++) {
        const Param *p = &m->params[i];
        if (strncmp(p->name, "0.", 2)) {
            ck_assert_msg(memcmp(p->w, scrambled[i], p->n * sizeof(float)) == 0, "%s: the head was touched", p->name);
            continue;
        }
        char tvn[128];
        tv_name(p->name, tvn, sizeof tvn);
        const Param *q = model_param(pl, tvn);
        ck_assert_msg(q && q->n == p->n, "%s -> %s", p->name, tvn);
        ck_assert_msg(memcmp(p->w, q->w, p->n * sizeof(float)) == 0, "%s differs from %s", p->name, tvn);
    }
    snapshot_free(saved, pl);
    snapshot_free(scrambled, m);
    tu_rmtree(tmp);
}
END_TEST

START_TEST(pytorch_resnet_files_load_when_given)
{
    /* tests/reference/load_fastc_resnet.py writes torchvision resnets and the
     * fastai bodies torch builds from them; FASTC_TV_DIR points at them.
     * Without it (make test has no torch) there is nothing to check. */
    const char *dir_ = getenv("FASTC_TV_DIR");
    if (!dir_ || !*dir_) return;
    const char *archs[] = {"resnet18", "resnet50"};
    for (int k = 0; k < 2; k++) {
        char tvp[512], fap[512], note[512];
        snprintf(tvp, sizeof tvp, "%s/torchvision_%s.safetensors", dir_, archs[k]);
        snprintf(fap, sizeof fap, "%s/fastai_%s_body.safetensors", dir_, archs[k]);
        Model *m = resnet(archs[k], 3, 37, 0, 2);
        Err err = {0};
        ck_assert_msg(st_load_model_file(m, tvp, ST_LOAD_PRETRAINED, note, sizeof note, &err) == 0, "%s", err.msg);
        StFile *f;
        ck_assert_msg(st_open(fap, &f, &err) == 0, "%s", err.msg);
        int checked = 0;
        for (size_t t = 0; t < f->n_tensors; t++) {
            const StTensor *tt = &f->tensors[t];
            Param *p = model_param(m, tt->name);
            ck_assert_msg(p != NULL, "%s: %s not in the model", archs[k], tt->name);
            float *v = malloc(tt->numel * sizeof *v);
            if (p->kind == PARAM_COUNTER) {
                int64_t c;
                ck_assert_int_eq(st_read_i64(f, tt, &c, 1, &err), 0);
                v[0] = (float)c;
            } else {
                ck_assert_int_eq(st_read_f32(f, tt, v, tt->numel, &err), 0);
            }
            for (size_t e = 0; e < p->n; e++) {
                /* the torch file is OIHW; p is OHWI for convs */
                float got = p->w[e];
                size_t idx = e;
                if (p->layout == LAYOUT_OHWI) {
                    int64_t I = p->shape[1], KH = p->shape[2], KW = p->shape[3];
                    int64_t c = (int64_t)e % I, x = (int64_t)e / I % KW, y = (int64_t)e / I / KW % KH, o = (int64_t)e / I / KW / KH;
                    idx = (size_t)(((o * I + c) * KH + y) * KW + x);
                }
                ck_assert_msg(got == v[idx], "%s %s[%zu]", archs[k], tt->name, e);
            }
            free(v);
            checked++;
        }
        int n_body = 0;
        for (int i = 0; i < m->n_params; i++) n_body += strncmp(m->params[i].name, "0.", 2) == 0;
        ck_assert_int_eq(checked, n_body);
        st_close(f);
        model_free(m);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *t = tcase_create("safetensors");
    tcase_add_test(t, model_round_trip_is_bit_identical);
    tcase_add_test(t, file_layout_is_pytorch_layout);
    tcase_add_test(t, generic_writer_round_trips_every_dtype);
    tcase_add_test(t, reads_a_file_written_from_pytorch);
    tcase_add_test(t, loads_pytorch_values_into_ohwi_params);
    tcase_add_test(t, pretrained_maps_torchvision_names_and_skips_fc);
    tcase_add_test(t, pretrained_adapts_first_conv_to_n_in_as_fastai);
    tcase_add_test(t, pretrained_from_a_fastc_model_keeps_the_new_head);
    tcase_add_test(t, refuses_wrong_arch_shape_dtype_and_missing_tensors);
    tcase_add_test(t, non_finite_weights_are_refused_naming_the_tensor);
    tcase_add_test(t, refuses_truncated_files_at_every_length);
    tcase_add_test(t, refuses_bad_headers);
    tcase_add_test(t, refuses_absurd_header_lengths);
    tcase_add_test(t, random_corruption_never_reads_out_of_bounds);
    suite_add_tcase(s, t);
    TCase *r = tcase_create("resnet");
    tcase_add_unchecked_fixture(r, resnets_setup, resnets_teardown);
    tcase_add_test(r, resnet18_round_trips_bit_identically);
    tcase_add_test(r, resnet34_file_is_refused_by_resnet18);
    tcase_add_test(r, pretrained_torchvision_resnet_loads_into_the_fastai_body);
    tcase_add_test(r, torchvision_head_model_saves_loads_and_pretrains);
    tcase_add_test(r, pytorch_resnet_files_load_when_given);
    suite_add_tcase(s, r);
    return s;
}

FASTC_CHECK_MAIN(suite)
