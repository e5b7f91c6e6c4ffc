/* test_resnet_parity.c — resnet18/34/50/101/152 (train and eval) with
 * fastai's head against PyTorch.
 *
 * tests/reference/make_resnet_parity.py set every tensor of fastai's
 * nn.Sequential(body, head) from an integer-hash formula, ran one batch in train
 * and in eval mode and wrote the logits, the loss, gradient norms and sampled
 * gradient elements, and BN running-buffer norms to fixtures/<arch>_<mode>.txt.
 * Here the same formula fills fastc's model (conv weights converted to OHWI),
 * and everything must agree with float64 PyTorch: logits and loss to 1e-4
 * relative, gradients to 1e-3, running statistics to 1e-4.  The bar is stored
 * with each value (the script would write twice float32 PyTorch's own error
 * where that misses the spec); a bar looser than the spec fails the test.
 *
 * The fixture's header names the batch, the image size and the input seed the
 * script picked: one on which float32 PyTorch (default, channels_last and
 * non-mkldnn convolutions, and 12 more runs on inputs perturbed by about one
 * rounding) meets the spec on every element, so no ReLU or max-pool kink that
 * float32 rounding reaches moves the gradients (which way float32 falls at a
 * kink changes with OpenBLAS's kernels). */
#include "check_main.h"
#include "core/ctx.h"
#include "models/resnet.h"
#include "nn/loss.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The spec's bars (issue 3, item 4): relative error of the forward (logits,
 * loss; the running statistics with it) and of each gradient.  A fixture may
 * carry a tighter bar, never a looser one. */
#define SPEC_FWD 1e-4
#define SPEC_GRAD 1e-3

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/reference/fixtures"
#endif

/* Scale of the weight of each residual branch's last BN (bn2 of a BasicBlock,
 * bn3 of a Bottleneck), as in the script. */
#define RESIDUAL_GAMMA 0.1

static uint32_t hash32(uint32_t i, uint32_t t)
{
    uint32_t h = i * 2654435761u + (t + 1) * 2246822519u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    h *= 3266489917u;
    h ^= h >> 16;
    return h;
}

static double hash_u(uint32_t i, uint32_t t) { return hash32(i, t) / 4294967296.0; }

/* PyTorch-order element i of tensor t, as the Python script computes it;
 * last_bn = the name ending of a residual branch's last BN weight. */
static float formula(const Param *p, size_t i, int t, const char *last_bn)
{
    double u = hash_u((uint32_t)i, (uint32_t)t);
    const char *leaf = strrchr(p->name, '.') + 1;
    if (p->ndim == 4) return (float)((2 * u - 1) * sqrt(3.0 / (double)(p->shape[1] * p->shape[2] * p->shape[3])));
    if (p->ndim == 2) return (float)((2 * u - 1) * sqrt(3.0 / (double)p->shape[1]));
    size_t nl = strlen(p->name), nb = strlen(last_bn);
    if (nl >= nb && !strcmp(p->name + nl - nb, last_bn)) return (float)(RESIDUAL_GAMMA * (1 + 0.2 * (2 * u - 1)));
    if (!strcmp(leaf, "weight")) return (float)(1 + 0.2 * (2 * u - 1));
    if (!strcmp(leaf, "bias") || !strcmp(leaf, "running_mean")) return (float)(0.1 * (2 * u - 1));
    if (!strcmp(leaf, "running_var")) return (float)(1 + 0.5 * u);
    return 0.0f;
}

/* Our storage index of PyTorch-order element i (OIHW → OHWI for convs). */
static size_t our_index(const Param *p, size_t i)
{
    if (p->layout != LAYOUT_OHWI) return i;
    size_t I = (size_t)p->shape[1], KH = (size_t)p->shape[2], KW = (size_t)p->shape[3];
    size_t kx = i % KW, ky = i / KW % KH, ci = i / KW / KH % I, o = i / KW / KH / I;
    return ((o * KH + ky) * KW + kx) * I + ci;
}

static double norm(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return sqrt(s);
}

/* ---- every gradient tensor as a whole: fixtures/<arch>_<mode>_sketch.txt ----
 *
 * make_resnet_sketch.py (its docstring has the reasoning and the numbers): a
 * CountSketch of each gradient tensor of float64 PyTorch, K buckets, element
 * i (PyTorch order) added to bucket h % K with sign + when bit 31 of h is
 * set, h = hash32(i, SKETCH_HASH_T).  ||S(ours) - S(float64)|| / ||float64||
 * estimates the tensor's relative error ||g - g64|| / ||g64|| without bias.
 * The bar is the spec's 1e-3, or where float32 PyTorch itself misses that on
 * some tensor (train mode: ReLU kinks within float32's reach, flipped one way
 * or the other, moved by train-mode BatchNorm), twice float32 PyTorch's worst
 * estimated error on any tensor over its three convolution paths and 12 runs
 * on inputs perturbed by one rounding: resnet152 eval 1e-3 (PyTorch's worst
 * 1.8e-6), resnet101 train 7.5e-3, resnet152 train 3.1e-2.  A bar above
 * SKETCH_MAX_BAR fails the test. */
enum { SKETCH_K = 32, SKETCH_HASH_T = 300000 };
#define SKETCH_MAX_BAR 0.05

/* ||scale S(g) - S(g64)|| / ||g64||: the relative error of scale * g, estimated */
static double sketch_err(const double *ours, double scale, const double *ref, double ref_norm)
{
    double d = 0;
    for (int b = 0; b < SKETCH_K; b++) d += (scale * ours[b] - ref[b]) * (scale * ours[b] - ref[b]);
    return sqrt(d) / fmax(ref_norm, 1e-30);
}

static void check_sketch(const Model *m, const char *arch, const char *mode, int n, int h, int seed)
{
    char path[512], line[16384], a2[32], m2[32];
    snprintf(path, sizeof path, "%s/%s_%s_sketch.txt", FIXTURE_DIR, arch, mode);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int n2, h2, seed2, k, ht, nt;
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_int_eq(sscanf(line, "sketch %31s mode %31s n %d h %d seed %d k %d hash_t %d tensors %d", a2, m2, &n2,
                            &h2, &seed2, &k, &ht, &nt), 8);
    /* the parity fixture's inputs, so one forward/backward serves both */
    ck_assert_msg(!strcmp(a2, arch) && !strcmp(m2, mode) && n2 == n && h2 == h && seed2 == seed,
                  "%s: another run than the parity fixture's", path);
    ck_assert_int_eq(k, SKETCH_K);
    ck_assert_int_eq(ht, SKETCH_HASH_T);
    int ngrad = 0;
    double worst = 0, worst_bar = 0;
    char worst_name[160] = "";
    while (fgets(line, sizeof line, f)) {
        char name[128];
        size_t numel;
        double bar, rn, ref[SKETCH_K], ours[SKETCH_K] = {0};
        int used;
        ck_assert_msg(sscanf(line, "%127s %zu %lf %lf%n", name, &numel, &bar, &rn, &used) == 4, "%s: %s", path, line);
        char *q = line + used;
        for (int b = 0; b < SKETCH_K; b++) {
            char *e;
            ref[b] = strtod(q, &e);
            ck_assert_msg(e != q, "%s: %s has fewer than %d buckets", path, name, SKETCH_K);
            q = e;
        }
        ck_assert_msg(bar <= SKETCH_MAX_BAR, "%s: bar %g of %s above %g", path, bar, name, SKETCH_MAX_BAR);
        const Param *p = model_param((Model *)m, name);
        ck_assert_msg(p && p->g && p->n == numel, "%s: no gradient tensor %s of %zu", path, name, numel);
        for (size_t i = 0; i < numel; i++) {
            uint32_t hh = hash32((uint32_t)i, SKETCH_HASH_T);
            double g = p->g[our_index(p, i)];
            ours[hh % SKETCH_K] += hh >> 31 ? g : -g;
        }
        double e = sketch_err(ours, 1, ref, rn);
        /* the check can fail: the first tensor's gradient off by 4 bars
         * (scaled by 1 + 4 bar) is seen as more than one */
        if (!ngrad)
            ck_assert_msg(sketch_err(ours, 1 + 4 * bar, ref, rn) > bar, "%s: the sketch misses a gradient scaled by "
                          "%g", path, 1 + 4 * bar);
        if (e / bar > worst)
            worst = e / bar, snprintf(worst_name, sizeof worst_name, "%.60s (err %.3g, bar %.3g)", name, e, bar);
        worst_bar = fmax(worst_bar, bar);
        ngrad++;
    }
    fclose(f);
    int want = 0;
    for (int i = 0; i < m->n_params; i++) want += m->params[i].kind == PARAM_WEIGHT;
    ck_assert_int_eq(nt, want);
    ck_assert_int_eq(ngrad, want);   /* every trainable tensor */
    ck_assert_msg(worst < 1, "%s %s: every gradient tensor: %s", arch, mode, worst_name);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (getenv("FASTC_PARITY_VERBOSE"))
        fprintf(stderr, "%s %s sketch: %d tensors, worst %s, largest bar %.2g (%.2f s)\n", arch, mode, ngrad,
                worst_name, worst_bar, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
}

/* bf16: fixtures/<arch>_<mode>_bf16.txt (make_resnet_bf16.py), run with
 * precision = bf16; its bars are twice PyTorch autocast's own bf16 error and
 * it holds norms only (at bf16's error, elementwise gradients are not
 * comparable: many ReLUs sit within rounding of their kink). */
static void check_fixture_prec(const char *arch, const char *mode, int bf16, int with_sketch)
{
    char path[512], line[8192], kind[64];
    snprintf(path, sizeof path, "%s/%s_%s%s.txt", FIXTURE_DIR, arch, mode, bf16 ? "_bf16" : "");
    const double spec_fwd = bf16 ? 1.0 : SPEC_FWD, spec_grad = bf16 ? 1.0 : SPEC_GRAD;
    /* as fastc sets threads up (single-threaded OpenBLAS under OpenMP), with one
     * thread: the fixture is small, the numbers do not depend on the count, and
     * two idle pools spinning against each other took 60% of this suite's CPU */
    ctx_apply_threads(&(Ctx){.threads = 1});
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int n, c, h, w, n_out, seed;
    char a2[32], m2[32];
    double torch_lerr, torch_gerr;   /* PyTorch's own worst errors (float32 or bf16), for the report */
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_int_eq(sscanf(line, "model %31s mode %31s n %d c %d h %d w %d n_out %d seed %d %63s logits %lf "
                            "grad %lf", a2, m2, &n, &c, &h, &w, &n_out, &seed, kind, &torch_lerr, &torch_gerr), 11);
    ck_assert_str_eq(kind, bf16 ? "torch_bf16_err" : "torch_f32_err");
    /* a depth-cut fixture holds the gradients from this tensor on (see below) */
    char grads_from[128] = "";
    const char *gf = strstr(line, " grads_from ");
    if (gf) ck_assert(sscanf(gf, " grads_from %127s", grads_from) == 1);

    ResnetSpec spec = resnet_spec_default(arch, n_out, n, h, w);
    spec.n_in = c;
    spec.ps = 0.0f;   /* the reference has p = 0 dropout: PyTorch's RNG cannot be matched */
    spec.no_init = 1; /* every tensor is set from the formula below */
    spec.bf16 = bf16;
    Model *m = NULL;
    Err err = {0};
    ck_assert_msg(resnet_new(&m, &spec, &err) == 0, "%s", err.msg);
    /* Bottleneck blocks end with bn3, BasicBlocks with bn2 */
    const char *last_bn = model_param(m, "0.4.0.conv3.weight") ? "bn3.weight" : "bn2.weight";
    for (int t = 0; t < m->n_params; t++) {
        Param *p = &m->params[t];
        for (size_t i = 0; i < p->n; i++) p->w[our_index(p, i)] = formula(p, i, t, last_bn);
    }
    size_t nx = (size_t)n * c * h * w;
    float *x = malloc(nx * sizeof(float));
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++) {
                    size_t ti = (((size_t)b * c + ch) * h + y) * w + xx;
                    double u = hash_u((uint32_t)ti, 100000 + (uint32_t)seed);
                    x[(((size_t)b * h + y) * w + xx) * c + ch] =
                        (float)(0.5 * (2 * u - 1) + cos(0.21 * (b + 1) * y + 0.37 * (ch + 1) * xx + b) * (1 + 0.5 * b));
                }
    int32_t yi[64];
    for (int i = 0; i < n; i++) yi[i] = i % n_out;
    Batch bt = {.n = n, .h = h, .w = w, .c = c, .x = x, .kind = TARGET_CATEGORY, .yi = yi};
    const float *out;
    model_zero_grad(m);
    ck_assert_msg(m->ops->forward(m, &bt, strcmp(mode, "train") ? MODE_EVAL : MODE_TRAIN, 0, &out, &err) == 0,
                  "%s", err.msg);
    float *dout = malloc(sizeof(float) * n * n_out);
    float loss = loss_cross_entropy(dout, NULL, out, yi, n, n_out);
    m->ops->backward(m, dout);

    /* logits: max error relative to the largest logit */
    ck_assert(fgets(line, sizeof line, f) && !strncmp(line, "logits ", 7));
    char *s = line + 7;
    double lmax = 0, lerr = 0, ltol = strtod(s, &s);
    ck_assert_msg(ltol <= spec_fwd, "%s: logits bar %g looser than the spec's", path, ltol);
    for (int i = 0; i < n * n_out; i++) {
        double v = strtod(s, &s);
        lmax = fmax(lmax, fabs(v));
        lerr = fmax(lerr, fabs(v - out[i]));
    }
    ck_assert_msg(lerr / lmax < ltol, "%s %s: logits rel err %g (bar %g)", arch, mode, lerr / lmax, ltol);
    /* and bf16 did round: an fp32 run would pass the bf16 bars too */
    if (bf16) ck_assert_msg(lerr / lmax > SPEC_FWD, "%s %s bf16: logits err %g as small as fp32's", arch, mode, lerr / lmax);
    double tl, tol;
    ck_assert(fgets(line, sizeof line, f) && sscanf(line, "loss %lf %lf", &tol, &tl) == 2);
    ck_assert_msg(tol <= spec_fwd, "%s: loss bar %g looser than the spec's", path, tol);
    ck_assert_msg(fabs(loss - tl) / fabs(tl) < tol, "%s %s: loss %g vs %g", arch, mode, loss, tl);

    int ngrad = 0;
    double worst_g = 0, worst_b = 0;   /* error / tolerance */
    char worst_name[128] = "";
    while (fgets(line, sizeof line, f)) {
        char name[128];
        if (!strncmp(line, "grad ", 5)) {
            size_t numel;
            double tn;
            int used;
            ck_assert(sscanf(line, "grad %127s %zu %lf %lf%n", name, &numel, &tol, &tn, &used) == 4);
            ck_assert_msg(tol <= spec_grad, "%s: bar %g of %s looser than the spec's", path, tol, name);
            Param *p = model_param(m, name);
            ck_assert_msg(p && p->g && p->n == numel, "%s: no gradient tensor %s of %zu", arch, name, numel);
            ck_assert_msg(!grads_from[0] || p - m->params >= (model_param(m, grads_from) - m->params),
                          "%s: gradient of %s before grads_from %s", path, name, grads_from);
            double gn = norm(p->g, p->n);
            double e = fabs(gn - tn) / fmax(tn, 1e-12);
            char *q = line + used;
            size_t idx;
            double v;
            int k;
            while (sscanf(q, " %zu:%lf%n", &idx, &v, &k) == 2) {
                /* each sampled element: error relative to max(|it|, the tensor's rms) */
                double scale = fmax(fabs(v), tn / sqrt((double)numel));
                double ei = fabs(p->g[our_index(p, idx)] - v) / fmax(scale, 1e-12);
                if (ei > e) e = ei;
                q += k;
            }
            if (e / tol > worst_g) worst_g = e / tol, snprintf(worst_name, sizeof worst_name, "%.60s (err %.3g, bar %.3g)", name, e, tol);
            ngrad++;
        } else if (!strncmp(line, "buf ", 4)) {
            double tn;
            ck_assert(sscanf(line, "buf %127s %lf %lf", name, &tol, &tn) == 3);
            ck_assert_msg(tol <= spec_fwd, "%s: bar %g of %s looser than the spec's", path, tol, name);
            Param *p = model_param(m, name);
            ck_assert_msg(p != NULL, "no buffer %s", name);
            double e = fabs(norm(p->w, p->n) - tn) / tn / tol;
            if (e > worst_b) worst_b = e;
        }
    }
    fclose(f);
    /* every trainable tensor, or with a depth cut every one from grads_from on
     * (the forward runs them in this order) */
    int want = 0, from = 0;
    if (grads_from[0]) {
        while (from < m->n_params && strcmp(m->params[from].name, grads_from)) from++;
        ck_assert_msg(from < m->n_params, "%s: grads_from %s is no tensor of %s", path, grads_from, arch);
    }
    for (int i = from; i < m->n_params; i++) want += m->params[i].kind == PARAM_WEIGHT;
    ck_assert_int_eq(ngrad, want);
    ck_assert_msg(worst_g < 1, "%s %s: gradient of %s", arch, mode, worst_name);
    ck_assert_msg(worst_b < 1, "%s %s: running statistics err %g x the bar", arch, mode, worst_b);
    if (getenv("FASTC_PARITY_VERBOSE"))
        fprintf(stderr, "%s %s%s (%dx%dpx, seed %d): logits err %.2g (%s PyTorch %.2g, bar %.2g), worst gradient %s "
                "(%s PyTorch: %.2g)\n", arch, mode, bf16 ? " bf16" : "", n, h, seed, lerr / lmax, bf16 ? "bf16" : "float32",
                torch_lerr, ltol, worst_name, bf16 ? "bf16" : "float32", torch_gerr);
    if (with_sketch) check_sketch(m, arch, mode, n, h, seed);
    free(x), free(dout);
    model_free(m);
}

/* Train mode is the ill-conditioned case: BatchNorm couples every position of
 * a channel, so one ReLU input within float32 rounding of its kink moves every
 * gradient upstream by ~1/sqrt(positions per channel in its layer) (one flip
 * in resnet34's layer4: 1.4% median, 220% on single elements).  The script
 * keeps such kinks out of reach (its docstring has the measurements): the last
 * BN weight of each residual branch is 0.1 (1 +- 0.2) (resnet50 at 32x32:
 * float32's error before the last ReLU 4e-6 instead of 2.5e-4 with weights
 * near 1, which grow it ~1.1x per layer); resnet50 in train mode runs on 8
 * images of 32x32 (64x64 has 4x the positions and still flips); and a seed counts only
 * if 12 perturbed float32 runs also meet the spec.  Picked: resnet18 and
 * resnet34 train seed 0, resnet50 train seed 4, resnet18 and resnet34 eval
 * seed 1, resnet50 and resnet101 eval seed 0; every quantity is held to the
 * spec's bar.
 *
 * resnet101/152 in train mode and resnet152 in eval mode: no seed met those
 * rules (their long layer3 holds dozens of positions within float32's error
 * of a kink on every seed tried), so their fixtures are cut in depth
 * (grads_from in the header): the forward whole (logits, loss, every running
 * buffer through all 101/152 layers), and the gradients of the tensors the
 * forward runs after the last position within 10x float32's error of a kink,
 * which the backward computes before it can cross one (resnet101 and
 * resnet152 train, 8x32px: the last block of layer4 and the head, 15
 * tensors; resnet152 eval, 2 images of 32x32 (eval mode has no batch
 * coupling, so fewer images only take positions away): from layer3's
 * sixth block on, 315 of 465 tensors).  Every gradient tensor of these
 * three (318 of resnet101, 471 of resnet152) is checked as a whole besides,
 * against its sketch (check_sketch above): its relative L2 error within the
 * spec's 1e-3 in eval mode, within twice float32 PyTorch's own worst in train
 * mode. */
static void check_fixture(const char *arch, const char *mode) { check_fixture_prec(arch, mode, 0, 0); }

START_TEST(resnet18_train) { check_fixture("resnet18", "train"); }
/* precision = bf16 against PyTorch's bf16 autocast, to twice PyTorch's own bf16 error */
START_TEST(resnet18_train_bf16) { check_fixture_prec("resnet18", "train", 1, 0); }
END_TEST
START_TEST(resnet18_eval) { check_fixture("resnet18", "eval"); }
END_TEST
START_TEST(resnet34_train) { check_fixture("resnet34", "train"); }
END_TEST
START_TEST(resnet34_eval) { check_fixture("resnet34", "eval"); }
END_TEST
START_TEST(resnet50_train) { check_fixture("resnet50", "train"); }
END_TEST
START_TEST(resnet50_eval) { check_fixture("resnet50", "eval"); }
END_TEST
START_TEST(resnet101_eval) { check_fixture("resnet101", "eval"); }
END_TEST
/* depth-cut fixtures (see above): the forward whole, the gradients of the
 * tensors past the deepest kink within float32's reach element by element,
 * and every gradient tensor as a whole (fixtures/<arch>_<mode>_sketch.txt) */
START_TEST(resnet101_train) { check_fixture_prec("resnet101", "train", 0, 1); }
END_TEST
START_TEST(resnet152_train) { check_fixture_prec("resnet152", "train", 0, 1); }
END_TEST
START_TEST(resnet152_eval) { check_fixture_prec("resnet152", "eval", 0, 1); }
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("resnet_parity");
    TCase *tc = tcase_create("pytorch");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, resnet18_train);
    tcase_add_test(tc, resnet18_eval);
    tcase_add_test(tc, resnet18_train_bf16);
    if (getenv("FASTC_SANITIZED")) {   /* -O1 + ASan: resnet18 only (same code paths) */
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_add_test(tc, resnet34_train);
    tcase_add_test(tc, resnet34_eval);
    tcase_add_test(tc, resnet50_train);
    tcase_add_test(tc, resnet50_eval);
    tcase_add_test(tc, resnet101_eval);
    tcase_add_test(tc, resnet101_train);
    tcase_add_test(tc, resnet152_train);
    tcase_add_test(tc, resnet152_eval);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
