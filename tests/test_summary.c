/* test_summary.c — src/cmd/summary.c and models/modelsum.c: the model half of
 * `fastc summary`.  Parameter counts, Conv2d layers and FLOPs against
 * torchvision's, and the fastai model's counts trainable under freeze(), from
 * tests/reference/model_summary_counts.py (the numbers below are its output;
 * run it again to check them:  /usr/bin/python3 tests/reference/model_summary_counts.py). */
#include "check_main.h"
#include "models/modelsum.h"
#include "models/resnet.h"
#include "testimg.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Ref {
    const char *arch;
    long long tv_params;     /* torchvision, 1000 classes (= its weights' num_params) */
    int tv_convs;            /* its Conv2d modules */
    long long tv_macs_224;   /* multiply-adds per image at 224x224 (convs + fc) */
    long long fa_params;     /* fastai vision_learner model, 3 classes */
    long long fa_trainable;  /* of those, trainable after freeze() (train_bn=True) */
    long long fa_macs_32;    /* multiply-adds per item of 3x32x32 */
} Ref;

/* model_summary_counts.py, torch 1.13.1 / torchvision 0.14.1 (Debian 12) */
static const Ref REF[] = {
    {"resnet18", 11689512, 20, 1814073344LL, 11705408, 538496, 37537280},
    {"resnet34", 21797672, 36, 3663761408LL, 21813568, 545920, 75286016},
    {"resnet50", 25557032, 53, 4089184256LL, 25615936, 2161024, 85509632},
    {"resnet101", 44549160, 104, 7801405440LL, 44608064, 2213248, 161269248},
    {"resnet152", 60192808, 155, 11513626624LL, 60251712, 2259328, 237028864},
};
enum { N_REF = sizeof REF / sizeof REF[0] };

static Model *make(const char *arch, int n_out, int plain)
{
    ResnetSpec s = resnet_spec_default(arch, n_out, 1, 32, 32);
    s.plain_fc = plain, s.no_init = 1, s.eval_only = 1;
    Model *m = NULL;
    Err e = {0};
    ck_assert_msg(resnet_new(&m, &s, &e) == 0, "%s", e.msg);
    return m;
}

START_TEST(resnet_table_matches_torchvision)
{
    for (int a = 0; a < N_REF; a++) {
        const Ref *r = &REF[a];
        Model *m = make(r->arch, 1000, 1);
        ModelSum s;
        modelsum_init(&s);
        m->ops->summary(m, 224, 224, &s);
        ck_assert(!s.oom);
        ck_assert_msg(s.params == r->tv_params, "%s: %lld params, torchvision %lld", r->arch, (long long)s.params,
                      r->tv_params);
        ck_assert_int_eq(s.trainable, s.params);   /* nothing frozen */
        ck_assert_msg((long long)s.flops == 2 * r->tv_macs_224, "%s: %.0f FLOPs, torchvision 2 x %lld", r->arch,
                      s.flops, r->tv_macs_224);
        int convs = 0;
        long long row_params = 0;
        double row_flops = 0;
        for (int i = 0; i < s.n; i++) {
            convs += !strcmp(s.rows[i].type, "Conv2d");
            row_params += s.rows[i].params, row_flops += s.rows[i].flops;
        }
        ck_assert_int_eq(convs, r->tv_convs);
        ck_assert(row_params == s.params && row_flops == s.flops);
        ck_assert_str_eq(s.rows[0].name, "conv1");
        ck_assert_str_eq(s.rows[s.n - 1].name, "fc");
        ck_assert_int_eq(s.rows[s.n - 1].shape[0], 1000);
        modelsum_free(&s);
        model_free(m);
    }
}
END_TEST

/* The freeze flags decide the trainable counts: fastai's freeze() with
 * train_bn leaves the head and every BatchNorm trainable. */
START_TEST(fastai_model_trainable_counts_follow_the_freeze_flags)
{
    for (int a = 0; a < N_REF; a++) {
        const Ref *r = &REF[a];
        Model *m = make(r->arch, 3, 0);
        for (int i = 0; i < m->n_params; i++) {
            Param *p = &m->params[i];
            p->frozen = p->kind == PARAM_WEIGHT && p->group < 2 && !p->is_norm;
        }
        ModelSum s;
        modelsum_init(&s);
        m->ops->summary(m, 32, 32, &s);
        ck_assert_msg(s.params == r->fa_params, "%s: %lld params, reference %lld", r->arch, (long long)s.params,
                      r->fa_params);
        ck_assert_msg(s.trainable == r->fa_trainable, "%s: %lld trainable, reference %lld", r->arch,
                      (long long)s.trainable, r->fa_trainable);
        ck_assert_msg((long long)s.flops == 2 * r->fa_macs_32, "%s: %.0f FLOPs, reference 2 x %lld", r->arch, s.flops,
                      r->fa_macs_32);
        modelsum_free(&s);
        model_free(m);
    }
}
END_TEST

static char root[512];

/* 3 classes x 4 images of 40x40 in root/data/{train,valid}/<class>/, resized to 32 */
static void make_images(void)
{
    char name[256], path[1024];
    uint8_t px[40 * 40 * 3];
    for (int split = 0; split < 2; split++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 4; k++) {
                for (int i = 0; i < 40 * 40 * 3; i++) px[i] = (uint8_t)(i * (c + 3) + k * 17);
                snprintf(name, sizeof name, "data/%s/%c/%d.png", split ? "valid" : "train", 'a' + c, k);
                tu_write(root, name, "", 0, path, sizeof path);
                ti_write_png(path, 40, 40, 3, px);
            }
}

/* the last 3000 bytes of a command's output (Check's messages are short) */
static const char *tail(const char *out)
{
    size_t n = strlen(out);
    return n > 3000 ? out + n - 3000 : out;
}

static int summary(const char *ini, char *out, size_t cap)
{
    char path[1024], cmd[2048];
    tu_write(root, "s.ini", ini, strlen(ini), path, sizeof path);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' summary s.ini --threads 1", root, tu_fastc());
    return tu_run(cmd, out, cap);
}

#define IMG_INI(arch, schedule)                                                                          \
    "[data]\npath = data\nblocks = ImageBlock, CategoryBlock\nget_items = get_image_files\n"             \
    "get_y = parent_label\nsplitter = GrandparentSplitter()\nitem_tfms = Resize(32)\nbs = 4\n[model]\n" \
    "arch = " arch "\n[train]\nschedule = " schedule "\n"

/* fine_tune's first fit runs frozen (fastai's fine_tune calls freeze()): the
 * summary shows the counts of that step; fit_one_cycle on a model without
 * pretrained weights trains everything. */
START_TEST(summary_command_prints_the_model_as_the_first_step_trains_it)
{
    static char out[1 << 16];
    tu_tmpdir(root, sizeof root);
    make_images();
    int rc = summary(IMG_INI("resnet18", "fine_tune(1)"), out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, tail(out));
    const char *want[] = {
        "vocab (3): a, b, c",   /* the data part comes first */
        "resnet18 + fastai head (Input shape: 4 x 3 x 32 x 32)",
        "Layer (type)         Output Shape         Param #    Trainable  FLOPs           Module",
        "                     4 x 64 x 16 x 16\nConv2d                                    9408       False      "
        "4816896         0.0\nBatchNorm2d                               128        True                       0.1\n"
        "ReLU                                                                            0.2\n",
        "                     4 x 3\nLinear                                    1536       True       3072            1.8\n",
        "Total params: 11,705,408\nTotal trainable params: 538,496\nTotal non-trainable params: 11,166,912\n"
        "FLOPs per item (forward, 2 x multiply-adds): 75,074,560\n",
        "Loss function: CrossEntropyLossFlat() (from the target block)",
        "Under the first training step (schedule step 2 of 4), model frozen up to parameter group #2\n",
    };
    const char *at = out;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *hit = strstr(at, want[i]);
        ck_assert_msg(hit != NULL, "missing (in order) %s\nin:\n%s", want[i], tail(out));
        at = hit;
    }
    rc = summary(IMG_INI("resnet50", "fit_one_cycle(1)"), out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, tail(out));
    ck_assert_msg(strstr(out, "Total params: 25,615,936\nTotal trainable params: 25,615,936\n"
                              "Total non-trainable params: 0\nFLOPs per item (forward, 2 x multiply-adds): 171,019,264 (0.17 G)\n") &&
                  strstr(out, "schedule step 1 of 1), model unfrozen\n"),
                  "%s", tail(out));
    tu_rmtree(root);
}
END_TEST

/* EmbeddingNN(layers=[100, 50]) on 200 users and 200 items (201 with '#na#',
 * emb_sz_rule 31 each): fastai's TabularModel has 24,013 parameters. */
START_TEST(summary_command_prints_a_collab_model)
{
    static char out[1 << 15];
    tu_tmpdir(root, sizeof root);
    char *csv = malloc(200 * 20 + 32), path[1024];
    size_t len = (size_t)sprintf(csv, "user,item,rating\n");
    for (int k = 0; k < 200; k++) len += (size_t)sprintf(csv + len, "u%d,i%d,%d\n", k, (k * 7) % 200, 1 + k % 5);
    tu_write(root, "r.csv", csv, len, path, sizeof path);
    free(csv);
    const char *ini = "[data]\ncsv = r.csv\nblocks = CollabBlock(user='user', item='item', rating='rating')\nbs = 8\n"
                      "[model]\narch = EmbeddingNN(layers=[100, 50], y_range=(0, 5.5))\n"
                      "[train]\nschedule = fit_one_cycle(1, 5e-3)\n";
    int rc = summary(ini, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, tail(out));
    ck_assert_msg(strstr(out, "EmbeddingNN (Input shape: 8 x 2)") &&
                  strstr(out, "                     8 x 31\nEmbedding                                 6231       True"
                              "                       embeds.0\n") &&
                  strstr(out, "                     8 x 1\nLinear                                    51         True"
                              "       100             layers.2.0\nSigmoidRange") &&
                  strstr(out, "Total params: 24,013\nTotal trainable params: 24,013\nTotal non-trainable params: 0\n"
                              "FLOPs per item (forward, 2 x multiply-adds): 22,500\n"),
                  "%s", tail(out));
    const char *dot = "[data]\ncsv = r.csv\nblocks = CollabBlock(user='user', item='item', rating='rating')\nbs = 8\n"
                      "[model]\narch = DotProductBias(n_factors=50, y_range=(0, 5.5))\n"
                      "[train]\nschedule = fit_one_cycle(1, 5e-3)\n";
    rc = summary(dot, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "Total params: 20,502\n") &&
                  strstr(out, "FLOPs per item (forward, 2 x multiply-adds): 100\n"), "exit %d: %s", rc, tail(out));
    tu_rmtree(root);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("summary");
    TCase *t = tcase_create("summary");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, resnet_table_matches_torchvision);
    tcase_add_test(t, fastai_model_trainable_counts_follow_the_freeze_flags);
    tcase_add_test(t, summary_command_prints_the_model_as_the_first_step_trains_it);
    tcase_add_test(t, summary_command_prints_a_collab_model);
    suite_add_tcase(s, t);
    return s;
}

FASTC_CHECK_MAIN(suite)
