/* test_setup.c — src/setup: a config read whole into the modules' specs.
 * The registry names every component of the schema table (and nothing
 * else), in the same slot; choices map onto the modules' enums in the
 * schema's order; constructors take every default from the schema; the
 * parse of transforms, schedules, metrics and callbacks as fastai reads
 * them; errors name file:line or the --set argument. */
#include "check_main.h"
#include "data/augment.h"
#include "data/transform.h"
#include "models/collab.h"
#include "models/model.h"
#include "setup/registry.h"
#include "setup/setup.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[1024];

static void setup(void) { tu_tmpdir(dir, sizeof dir); }
static void teardown(void) { tu_rmtree(dir); }

/* An image config: [data] lines 1-5, then data_extra (line 6 on), [model],
 * [learner] learner_extra, [train] schedule. */
static int load(Setup *s, const char *data_extra, const char *learner_extra, const char *schedule,
                const char *const *sets, int n_sets, Err *err)
{
    char text[4096], path[2048];
    snprintf(text, sizeof text,
             "[data]\npath = images\nblocks = ImageBlock, CategoryBlock\nget_y = parent_label\nbs = 8\n%s\n"
             "[model]\narch = resnet18\n[learner]\n%s\n[train]\nschedule = %s\n",
             data_extra, learner_extra, schedule ? schedule : "fit_one_cycle(1)");
    tu_write(dir, "t.ini", text, strlen(text), path, sizeof path);
    Ctx ctx = {.threads = 1};
    return setup_load(s, path, sets, n_sets, &ctx, err);
}

/* ---- the registry ------------------------------------------------------------- */

START_TEST(every_schema_component_has_a_constructor_and_no_other)
{
    int n = cfg_comp_count();
    ck_assert_int_gt(n, 40);
    for (int i = 0; i < n; i++) {
        CfgSlot slot;
        const char *name = cfg_comp_at(i, &slot);
        const SetupComp *c = setup_comp(name, slot);
        ck_assert_msg(c && c->build, "%s has no constructor in setup/registry.c", name);
    }
    for (int i = 0; i < setup_comp_count(); i++) {
        const SetupComp *c = setup_comp_at(i);
        int found = 0;
        for (int k = 0; k < n && !found; k++) {
            CfgSlot slot;
            found = !strcmp(cfg_comp_at(k, &slot), c->name) && slot == c->slot;
        }
        ck_assert_msg(found, "%s is in the registry but not in the schema (config/schema.c)", c->name);
    }
    ck_assert_int_eq(setup_comp_count(), n);
}
END_TEST

/* Transforms through the config's parser and the constructors, as a model
 * file's metadata or [data] item_tfms / batch_tfms give them. */
static int tfms(const char *items, const char *batch, ItemTfms *it, BatchTfm *bt, Err *err)
{
    return setup_meta_item_tfms("m.safetensors", items, it, err) || setup_meta_batch_tfms("m.safetensors", batch, bt, err)
               ? err->code
               : 0;
}

START_TEST(choices_map_onto_the_enums_in_schema_order)
{
    ItemTfms it;
    BatchTfm bt;
    Err err = {0};
    ck_assert_msg(tfms("Resize(8), Resize(8, method='pad', pad_mode='zeros'), Resize(8, 'squish', 'border')",
                       "aug_transforms(pad_mode='border')", &it, &bt, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(it.n, 3);
    ck_assert(it.t[0].method == RESIZE_CROP && it.t[0].pad_mode == PAD_REFLECTION);
    ck_assert(it.t[1].method == RESIZE_PAD && it.t[1].pad_mode == PAD_ZEROS);
    ck_assert(it.t[2].method == RESIZE_SQUISH && it.t[2].pad_mode == PAD_BORDER);
    ck_assert_int_eq(bt.pad_mode, PAD_BORDER);
}
END_TEST

/* ---- item and batch transforms --------------------------------------------------- */

START_TEST(item_tfms_parse_from_config_values)
{
    ItemTfms it;
    BatchTfm bt;
    Err err = {0};
    ck_assert_msg(tfms("Resize((20, 30), method='pad', pad_mode='zeros')", NULL, &it, &bt, &err) == 0, "%s",
                  err.msg);
    const ItemTfm *t = &it.t[0];
    ck_assert(t->kind == ITFM_RESIZE && t->h == 20 && t->w == 30 && t->method == RESIZE_PAD && t->pad_mode == PAD_ZEROS);
    ck_assert_int_eq(tfms("RandomResizedCrop(128, min_scale=0.35)", NULL, &it, &bt, &err), 0);
    ck_assert(t->kind == ITFM_RRC && t->h == 128 && t->w == 128);
    ck_assert_double_eq_tol(t->min_scale, 0.35, 1e-12);
    ck_assert_double_eq_tol(t->val_xtra, 0.14, 1e-12);   /* the schema's defaults */
    ck_assert_double_eq_tol(t->ratio_lo, 0.75, 1e-12);
    ck_assert_double_eq_tol(t->ratio_hi, 1.3333333, 1e-12);
    ck_assert_double_eq_tol(t->max_scale, 1.0, 1e-12);
    ck_assert_int_eq(tfms("Resize(64, method='stretch')", NULL, &it, &bt, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "m.safetensors: [data] item_tfms") && strstr(err.msg, "stretch"), "%s",
                  err.msg);
    ck_assert_int_eq(tfms("RandomResizedCrop(8, min_scale=0.9, max_scale=0.5)", NULL, &it, &bt, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "min_scale <= max_scale"), "%s", err.msg);
}
END_TEST

START_TEST(item_tfms_parse_a_list_and_refuse_bad_ones)
{
    Setup s;
    Err err = {0};
    ck_assert_msg(load(&s, "item_tfms = Resize(460), RandomResizedCrop(224, min_scale=0.75)", "", NULL, NULL, 0,
                       &err) == 0, "%s", err.msg);
    const ItemTfms *ts = &s.loader.item;
    ck_assert_int_eq(ts->n, 2);
    ck_assert(ts->t[0].kind == ITFM_RESIZE && ts->t[0].w == 460 && ts->t[1].kind == ITFM_RRC && ts->t[1].w == 224);
    ck_assert_str_eq(s.item_tfms_text, "Resize(size=460, method='crop', pad_mode='reflection'), "
                                       "RandomResizedCrop(size=224, min_scale=0.75, ratio=(0.75, 1.3333333), "
                                       "max_scale=1, val_xtra=0.14)");
    setup_free(&s);
    /* a batch transform among the item transforms */
    ck_assert_int_eq(load(&s, "item_tfms = Resize(460), aug_transforms(size=224)", "", NULL, NULL, 0, &err),
                     ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "t.ini:6: [data] item_tfms") && strstr(err.msg, "aug_transforms, a batch transform") &&
                  strstr(err.msg, "batch_tfms"), "%s", err.msg);
    /* too many */
    ck_assert_int_eq(load(&s, "item_tfms = Resize(8), Resize(8), Resize(8), Resize(8), Resize(8)", "", NULL, NULL, 0,
                          &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "t.ini:6: [data] item_tfms") && strstr(err.msg, "at most 4"), "%s", err.msg);
    /* one bad member names itself */
    ck_assert_int_eq(load(&s, "item_tfms = Resize(8), Resize(8, method='stretch')", "", NULL, NULL, 0, &err),
                     ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "stretch"), "%s", err.msg);
}
END_TEST

START_TEST(batch_tfms_parse_from_config_values)
{
    ItemTfms it;
    BatchTfm t;
    Err err = {0};
    ck_assert_msg(tfms(NULL, "aug_transforms(size=224, min_scale=0.75, max_rotate=5), "
                             "Normalize.from_stats(imagenet_stats)", &it, &t, &err) == 0, "%s", err.msg);
    ck_assert(t.aug && t.size_w == 224 && t.size_h == 224 && t.do_flip && t.normalize);
    ck_assert_double_eq_tol(t.min_scale, 0.75, 1e-12);
    ck_assert_double_eq_tol(t.max_rotate, 5, 1e-12);
    ck_assert_double_eq_tol(t.max_zoom, 1.1, 1e-12);
    ck_assert_double_eq_tol(t.p_affine, 0.75, 1e-12);
    ck_assert_float_eq_tol(t.mean[0], 0.485f, 1e-6);
    ck_assert_float_eq_tol(t.std[2], 0.225f, 1e-6);
    ck_assert_int_eq(tfms(NULL, "Normalize.from_stats((0.5, 0.4, 0.3), (0.2, 0.2, 0.1))", &it, &t, &err), 0);
    ck_assert_float_eq_tol(t.mean[2], 0.3f, 1e-6);
    ck_assert_float_eq_tol(t.std[2], 0.1f, 1e-6);
    ck_assert_int_eq(tfms(NULL, "Normalize()", &it, &t, &err), 0);
    ck_assert(t.normalize && t.normalize_from_batch);
    /* mult scales rotation, lighting and warp (fastai) */
    ck_assert_int_eq(tfms(NULL, "aug_transforms(mult=2.0)", &it, &t, &err), 0);
    ck_assert_double_eq_tol(t.max_rotate, 20, 1e-12);
    ck_assert_double_eq_tol(t.max_lighting, 0.4, 1e-12);
    ck_assert_double_eq_tol(t.max_warp, 0.4, 1e-12);
    ck_assert_int_eq(tfms(NULL, "aug_transforms(mult=5.0)", &it, &t, &err), ERR_USAGE);   /* lighting 1.0 */
    ck_assert_msg(strstr(err.msg, "max_lighting < 1"), "%s", err.msg);
    ck_assert_int_eq(tfms(NULL, "aug_transforms(mode='nearest')", &it, &t, &err), ERR_USAGE);   /* not silently bilinear */
    ck_assert_int_eq(tfms(NULL, "Normalize.from_stats(imagenette_stats)", &it, &t, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "imagenette_stats"), "%s", err.msg);
    Setup s;
    ck_assert_int_eq(load(&s, "\n\nbatch_tfms = Normalize.from_stats(imagenette_stats)", "", NULL, NULL, 0, &err),
                     ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "t.ini:8: [data] batch_tfms"), "%s", err.msg);
}
END_TEST

START_TEST(named_stats_are_the_schema_stats)
{
    const char *names[] = {"imagenet_stats", "cifar_stats", "mnist_stats"};
    for (int i = 0; i < 3; i++) {
        char text[128];
        snprintf(text, sizeof text, "Normalize.from_stats(%s)", names[i]);
        ItemTfms it;
        BatchTfm t;
        Err err = {0};
        float mean[3], std[3];
        ck_assert_msg(tfms(NULL, text, &it, &t, &err) == 0, "%s", err.msg);
        ck_assert(aug_stats(names[i], mean, std));
        for (int c = 0; c < 3; c++) ck_assert(t.mean[c] == mean[c] && t.std[c] == std[c]);
    }
}
END_TEST

START_TEST(pretrained_adds_imagenet_normalisation_once)
{
    Setup s;
    Err err = {0};
    ck_assert_msg(load(&s, "", "", NULL, (const char *[]){"model.pretrained=w.safetensors"}, 1, &err) == 0, "%s",
                  err.msg);
    ck_assert(s.norm_added && s.loader.batch.normalize && !s.loader.batch.normalize_from_batch);
    ck_assert_float_eq(s.loader.batch.mean[1], 0.456f);
    ck_assert_float_eq(s.norm_std[2], 0.225f);
    ck_assert_msg(strstr(s.model.pretrained, "/w.safetensors"), "%s", s.model.pretrained);
    setup_free(&s);
    ck_assert_int_eq(load(&s, "batch_tfms = Normalize()", "", NULL, (const char *[]){"model.pretrained=w.safetensors"},
                          1, &err), 0);
    ck_assert(!s.norm_added && s.loader.batch.normalize_from_batch);
    setup_free(&s);
}
END_TEST

/* ---- schedules -------------------------------------------------------------------- */

START_TEST(fine_tune_expands_like_fastai)
{
    Setup s;
    Err err = {0};
    ck_assert_msg(load(&s, "", "", "fine_tune(2, base_lr=2e-3)", NULL, 0, &err) == 0, "%s", err.msg);
    const Schedule *sc = &s.schedule;
    ck_assert_int_eq(sc->n, 4);
    ck_assert_int_eq(sc->stages[0].kind, STAGE_FREEZE_TO);
    ck_assert_int_eq(sc->stages[0].freeze_n, -1);
    const Stage *a = &sc->stages[1], *b = &sc->stages[3];
    ck_assert_int_eq(a->n_epoch, 1);
    ck_assert_double_eq(a->pct_start, 0.99);
    ck_assert_double_eq(a->div, 25);          /* fit_one_cycle's default */
    ck_assert_double_eq(a->div_final, 1e5);
    double lr[3];
    lr_resolve(&a->lr, 3, lr, NULL);
    ck_assert(lr[0] == 2e-4 && lr[1] == 2e-4 && lr[2] == 2e-3);   /* §3 stage 1 */
    ck_assert_int_eq(sc->stages[2].freeze_n, 0);
    ck_assert_int_eq(b->n_epoch, 2);
    ck_assert_double_eq(b->pct_start, 0.3);
    ck_assert_double_eq(b->div, 5.0);
    lr_resolve(&b->lr, 3, lr, NULL);
    ck_assert_double_eq_tol(lr[0], 1e-5, 1e-18);   /* §3 stage 2: [1e-5, 1e-4, 1e-3] */
    ck_assert_double_eq_tol(lr[1], 1e-4, 1e-17);
    ck_assert_double_eq_tol(lr[2], 1e-3, 1e-17);
    ck_assert_int_eq(schedule_total_epochs(sc), 3);
    ck_assert(b->moms[0] == 0.95 && b->moms[1] == 0.85 && b->moms[2] == 0.95);   /* [learner] moms */
    setup_free(&s);
}
END_TEST

START_TEST(sequence_of_stages_in_one_line)
{
    Setup s;
    Err err = {0};
    ck_assert_msg(load(&s, "", "moms = (0.9, 0.8, 0.9)",
                       "fit_one_cycle(3, 3e-3), unfreeze(), fit_one_cycle(12, lr_max=slice(1e-6, 1e-4), wd=0.1, "
                       "moms=(0.5, 0.4, 0.5)), freeze_to(-2), fit(1)", NULL, 0, &err) == 0, "%s", err.msg);
    const Schedule *sc = &s.schedule;
    ck_assert_int_eq(sc->n, 5);
    ck_assert_int_eq(sc->stages[0].n_epoch, 3);
    ck_assert_double_eq(sc->stages[0].lr.hi, 3e-3);
    ck_assert_double_eq(sc->stages[0].moms[1], 0.8);   /* [learner] moms */
    ck_assert_int_eq(sc->stages[1].freeze_n, 0);
    ck_assert_int_eq(sc->stages[2].lr.kind, LR_SLICE);
    ck_assert_double_eq(sc->stages[2].lr.lo, 1e-6);
    ck_assert_int_eq(sc->stages[2].has_wd, 1);
    ck_assert_double_eq(sc->stages[2].wd, 0.1);
    ck_assert(sc->stages[2].has_moms && sc->stages[2].moms[1] == 0.4);
    ck_assert_int_eq(sc->stages[0].has_wd, 0);
    ck_assert_int_eq(sc->stages[3].freeze_n, -2);
    ck_assert(sc->stages[4].kind == STAGE_FIT && sc->stages[4].lr.kind == LR_NONE);
    ck_assert_int_eq(schedule_total_epochs(sc), 16);
    setup_free(&s);
    /* [learner] wd applies at every fit without its own */
    ck_assert_int_eq(load(&s, "", "wd = 0.2", "fit(1), fit(1, wd=0.0)", NULL, 0, &err), 0);
    ck_assert(s.schedule.stages[0].has_wd && s.schedule.stages[0].wd == 0.2 && s.learn.hyper.wd == 0.2);
    ck_assert(s.schedule.stages[1].has_wd && s.schedule.stages[1].wd == 0.0);
    setup_free(&s);
}
END_TEST

START_TEST(bad_schedules_are_one_line_errors)
{
    Setup s;
    Err err = {0};
    ck_assert_int_eq(load(&s, "", "", "fit_one_cycel(3)", NULL, 0, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "t.ini:12: [train] schedule") && strstr(err.msg, "fit_one_cycel"), "%s", err.msg);
    ck_assert_int_eq(load(&s, "", "", "fit_one_cycle(3, lr=1e-3)", NULL, 0, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "argument 'lr'"), "%s", err.msg);
    ck_assert_int_eq(load(&s, "", "", "fit(2.5)", NULL, 0, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "n_epoch"), "%s", err.msg);
    ck_assert_int_eq(load(&s, "", "", "fit_one_cycle(1, lr_max=slice(None, -1))", NULL, 0, &err), ERR_USAGE);
    ck_assert_int_eq(load(&s, "", "", "fit_one_cycle(1, pct_start=1.5)", NULL, 0, &err), ERR_USAGE);
    ck_assert_int_eq(load(&s, "", "", "fit_one_cycle(1, pct_start=1)", NULL, 0, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "pct_start") && strstr(err.msg, "[0, 1)"), "%s", err.msg);
}
END_TEST

/* ---- learner: optimizer, metrics, callbacks ------------------------------------------ */

START_TEST(learner_options_from_the_config)
{
    Setup s;
    Err err = {0};
    ck_assert_msg(load(&s, "", "opt_func = SGD(mom=0.8)\nlr = 0.01\ntrain_bn = False\nwd_bn_bias = True\n"
                       "metrics = error_rate, accuracy\n"
                       "cbs = SaveModelCallback(monitor='accuracy', fname='top', every_epoch=2), "
                       "EarlyStoppingCallback(patience=3, min_delta=0.01)", NULL, NULL, 0, &err) == 0, "%s", err.msg);
    const LearnerOpts *o = &s.learn;
    ck_assert(o->opt == OPT_SGD && o->hyper.mom == 0.8 && o->hyper.wd == 0.0 && o->lr == 0.01 && !o->train_bn);
    ck_assert(s.wd_bn_bias);
    ck_assert_int_eq(o->metrics.n, 2);
    ck_assert(o->metrics.m[0].kind == METRIC_ERROR_RATE && !strcmp(o->metrics.m[1].name, "accuracy"));
    ck_assert(o->save.on && !strcmp(o->save.monitor, "accuracy") && !o->save.less && !strcmp(o->save.fname, "top"));
    ck_assert_int_eq(o->save.every_epoch, 2);
    ck_assert(o->early.on && o->early.less && o->early.patience == 3);
    ck_assert_double_eq(o->early.min_delta, -0.01);   /* fastai: negated for np.less */
    ck_assert_int_eq(s.kind, TARGET_CATEGORY);
    ck_assert_str_eq(s.task, "single_label");
    ck_assert_int_eq(s.loss, LOSS_CROSS_ENTROPY);
    setup_free(&s);
    /* Adam's defaults are the schema's */
    ck_assert_int_eq(load(&s, "", "", NULL, NULL, 0, &err), 0);
    ck_assert(s.learn.opt == OPT_ADAM && s.learn.hyper.mom == 0.9 && s.learn.hyper.sqr_mom == 0.99 &&
              s.learn.hyper.eps == 1e-5 && s.learn.hyper.wd == 0.01);
    setup_free(&s);
}
END_TEST

START_TEST(unknown_metrics_and_too_many_are_errors)
{
    Setup s;
    Err err = {0};
    ck_assert_int_eq(load(&s, "", "\nmetrics = acuracy", NULL, NULL, 0, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "t.ini:11: [learner] metrics") && strstr(err.msg, "acuracy"), "%s", err.msg);
    ck_assert_int_eq(load(&s, "", "metrics = accuracy, accuracy, accuracy, accuracy, accuracy, accuracy, accuracy, "
                          "accuracy, accuracy", NULL, NULL, 0, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "t.ini:10: [learner] metrics: found 9, expected at most 8"), "%s", err.msg);
}
END_TEST

START_TEST(multi_label_threshold_is_one_decision)
{
    Setup s;
    Err err = {0};
    const char *multi = "data.blocks=ImageBlock, MultiCategoryBlock";
    ck_assert_int_eq(load(&s, "", "loss_func = BCEWithLogitsLossFlat(thresh=0.3)", NULL, &multi, 1, &err), 0);
    ck_assert_double_eq(s.threshold, 0.3);
    setup_free(&s);
    ck_assert_int_eq(load(&s, "", "loss_func = BCEWithLogitsLossFlat(thresh=0.3)\nmetrics = accuracy_multi(thresh=0.2)",
                          NULL, &multi, 1, &err), 0);
    ck_assert_double_eq(s.threshold, 0.2);   /* the metric's wins */
    ck_assert_str_eq(s.task, "multi_label");
    setup_free(&s);
    ck_assert_int_eq(load(&s, "", "", NULL, &multi, 1, &err), 0);
    ck_assert_double_eq(s.threshold, 0.5);
    ck_assert_int_eq(s.loss, LOSS_BCE_LOGITS);
    setup_free(&s);
}
END_TEST

/* ---- data and models ------------------------------------------------------------- */

START_TEST(collab_setup_and_embedding_nn_defaults)
{
    char text[1024], path[2048];
    snprintf(text, sizeof text, "[data]\ncsv = r.csv\ncsv_sep = '\\t'\ncsv_names = u, i, r\n"
                                "blocks = CollabBlock(user='u', item='i', rating='r')\n"
                                "splitter = RandomSplitter(valid_pct=0.1)\nbs = 16\nval_bs = 32\n"
                                "[model]\narch = EmbeddingNN\n[learner]\nseed = 7\n"
                                "[train]\nschedule = fit_one_cycle(1)\n");
    tu_write(dir, "c.ini", text, strlen(text), path, sizeof path);
    Setup s;
    Err err = {0};
    Ctx ctx = {.threads = 2};
    ck_assert_msg(setup_load(&s, path, NULL, 0, &ctx, &err) == 0, "%s", err.msg);
    ck_assert(s.is_collab && s.kind == TARGET_RATING && !strcmp(s.task, "collab"));
    const RatingsSpec *r = &s.ratings;
    ck_assert(r->sep == '\t' && r->n_names == 3 && !strcmp(r->names[2], "r") && !strcmp(r->user_col, "u"));
    ck_assert(r->valid_pct == 0.1 && r->split_seed == 7);   /* seed=None: [learner] seed */
    ck_assert(strstr(r->path, "/r.csv") && !r->item_names_path);
    ck_assert(s.loader.bs == 16 && s.loader.val_bs == 32 && s.ctx.seed == 7 && s.ctx.threads == 2);
    /* EmbeddingNN: fastai's collab_learner layers [n_factors] = [50] */
    CollabSpec cs = s.model.collab;
    ck_assert(cs.arch == COLLAB_NN && cs.n_layers == 1 && cs.layers[0] == 50 && !cs.has_y_range);
    ck_assert_int_eq(s.loss, LOSS_MSE);
    cs.n_users = 5, cs.n_items = 7, cs.max_bs = 32, cs.seed = 7;
    Model *m = NULL;
    ck_assert_msg(collab_model_new(&m, &cs, &err) == 0, "%s", err.msg);
    model_free(m);
    setup_free(&s);
}
END_TEST

START_TEST(data_block_spec_from_the_config)
{
    Setup s;
    Err err = {0};
    ck_assert_msg(load(&s, "csv = t.csv\nget_x = ColReader('f', pref='img/')\nsplitter = ColSplitter('v')\n"
                       "on_bad_item = skip\nnum_workers = 3\ncache_mb = 1", "seed = 9", NULL,
                       (const char *[]){"data.get_y=ColReader(2, label_delim=' ')"}, 1, &err) == 0, "%s", err.msg);
    const DbSpec *db = &s.db;
    ck_assert(db->csv && strstr(db->csv, "/images/t.csv"));   /* relative to data.path */
    ck_assert(strstr(db->path, "/images") && db->csv_sep == ',');
    ck_assert(!strcmp(db->x_col, "f") && !strcmp(db->x_pref, "img/"));
    ck_assert(db->y == DB_Y_COL && !db->y_col && db->y_col_idx == 2 && !strcmp(db->label_delim, " "));
    ck_assert(db->split == DB_SPLIT_COL && !strcmp(db->split_col, "v") && db->skip_bad);
    ck_assert(s.loader.skip_bad && s.loader.n_workers == 3 && s.loader.cache_bytes == 1024 * 1024);
    ck_assert(s.loader.channels == 3 && s.loader.seed == 9);
    setup_free(&s);
    /* RandomSplitter(seed=None) takes [learner] seed */
    ck_assert_int_eq(load(&s, "splitter = RandomSplitter(0.3)", "seed = 5", NULL, NULL, 0, &err), 0);
    ck_assert(s.db.split == DB_SPLIT_RANDOM && s.db.valid_pct == 0.3 && s.db.seed == 5);
    ck_assert(s.db.y == DB_Y_PARENT && s.db.recurse && !s.db.csv);
    setup_free(&s);
}
END_TEST

START_TEST(errors_from_set_name_the_set_argument)
{
    Setup s;
    Err err = {0};
    const char *set = "data.csv_sep='ab'";
    ck_assert_int_eq(load(&s, "", "", NULL, &set, 1, &err), ERR_USAGE);
    ck_assert_str_eq(err.msg, "--set data.csv_sep='ab': [data] csv_sep: found 'ab', expected one character such as "
                              "',' or '\\t'");
    ck_assert_int_eq(load(&s, "csv_sep = ';;'", "", NULL, NULL, 0, &err), ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "t.ini:6: [data] csv_sep"), "%s", err.msg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("setup");
    TCase *tc = tcase_create("setup");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_schema_component_has_a_constructor_and_no_other);
    tcase_add_test(tc, choices_map_onto_the_enums_in_schema_order);
    tcase_add_test(tc, item_tfms_parse_from_config_values);
    tcase_add_test(tc, item_tfms_parse_a_list_and_refuse_bad_ones);
    tcase_add_test(tc, batch_tfms_parse_from_config_values);
    tcase_add_test(tc, named_stats_are_the_schema_stats);
    tcase_add_test(tc, pretrained_adds_imagenet_normalisation_once);
    tcase_add_test(tc, fine_tune_expands_like_fastai);
    tcase_add_test(tc, sequence_of_stages_in_one_line);
    tcase_add_test(tc, bad_schedules_are_one_line_errors);
    tcase_add_test(tc, learner_options_from_the_config);
    tcase_add_test(tc, unknown_metrics_and_too_many_are_errors);
    tcase_add_test(tc, multi_label_threshold_is_one_decision);
    tcase_add_test(tc, collab_setup_and_embedding_nn_defaults);
    tcase_add_test(tc, data_block_spec_from_the_config);
    tcase_add_test(tc, errors_from_set_name_the_set_argument);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
