/* registry.c — the table of every component: name, slot, constructor and
 * the constructor's tag (see registry.h).  Adding a component to a config is
 * its row in config/schema.c, its row here, and its constructor. */
#include "setup/internal.h"

#include "learn/metrics.h"
#include "models/collab.h"

#include <string.h>

const SetupComp setup_comps[] = {
    /* blocks (tag: the TargetKind) */
    {"ImageBlock", SLOT_BLOCK, build_image_block, 0},
    {"CategoryBlock", SLOT_BLOCK, build_target_block, TARGET_CATEGORY},
    {"MultiCategoryBlock", SLOT_BLOCK, build_target_block, TARGET_MULTI},
    {"PointBlock", SLOT_BLOCK, build_target_block, TARGET_POINTS},
    {"RegressionBlock", SLOT_BLOCK, build_regression_block, 0},
    {"CollabBlock", SLOT_BLOCK, build_collab_block, TARGET_RATING},
    /* get_items, get_x / get_y, splitters */
    {"get_image_files", SLOT_ITEMS, build_get_image_files, 0},
    {"ColReader", SLOT_GETTER, build_col_reader, 0},
    {"parent_label", SLOT_GETTER, build_parent_label, 0},
    {"RegexLabeller", SLOT_GETTER, build_regex_labeller, 0},
    {"PointsFromCSV", SLOT_GETTER, build_points_from_csv, 0},
    {"RandomSplitter", SLOT_SPLITTER, build_random_splitter, 0},
    {"GrandparentSplitter", SLOT_SPLITTER, build_grandparent_splitter, 0},
    {"ColSplitter", SLOT_SPLITTER, build_col_splitter, 0},
    {"FuncSplitter", SLOT_SPLITTER, build_func_splitter, 0},
    /* transforms */
    {"Resize", SLOT_ITEM_TFM, build_resize, 0},
    {"RandomResizedCrop", SLOT_ITEM_TFM, build_random_resized_crop, 0},
    {"aug_transforms", SLOT_BATCH_TFM, build_aug_transforms, 0},
    {"Normalize.from_stats", SLOT_BATCH_TFM, build_normalize, 0},
    {"Normalize", SLOT_BATCH_TFM, build_normalize, 0},
    /* architectures (tag: the CollabArch) */
    {"resnet18", SLOT_ARCH, build_resnet, 0},
    {"resnet34", SLOT_ARCH, build_resnet, 0},
    {"resnet50", SLOT_ARCH, build_resnet, 0},
    {"resnet101", SLOT_ARCH, build_resnet, 0},
    {"resnet152", SLOT_ARCH, build_resnet, 0},
    {"DotProduct", SLOT_ARCH, build_dot_product, COLLAB_DOT},
    {"DotProductBias", SLOT_ARCH, build_dot_product, COLLAB_DOT_BIAS},
    {"EmbeddingNN", SLOT_ARCH, build_embedding_nn, COLLAB_NN},
    /* metrics (tag: the MetricKind) */
    {"error_rate", SLOT_METRIC, build_metric, METRIC_ERROR_RATE},
    {"accuracy", SLOT_METRIC, build_metric, METRIC_ACCURACY},
    {"accuracy_multi", SLOT_METRIC, build_metric, METRIC_ACCURACY_MULTI},
    {"mse", SLOT_METRIC, build_metric, METRIC_MSE},
    {"rmse", SLOT_METRIC, build_metric, METRIC_RMSE},
    {"mae", SLOT_METRIC, build_metric, METRIC_MAE},
    /* callbacks */
    {"SaveModelCallback", SLOT_CB, build_save_model_cb, 0},
    {"EarlyStoppingCallback", SLOT_CB, build_early_stopping_cb, 0},
    /* losses (tag: the LossKind) */
    {"CrossEntropyLossFlat", SLOT_LOSS, build_loss, LOSS_CROSS_ENTROPY},
    {"LabelSmoothingCrossEntropy", SLOT_LOSS, build_loss, LOSS_LABEL_SMOOTHING},
    {"LabelSmoothingCrossEntropyFlat", SLOT_LOSS, build_loss, LOSS_LABEL_SMOOTHING},
    {"BCEWithLogitsLossFlat", SLOT_LOSS, build_loss, LOSS_BCE_LOGITS},
    {"MSELossFlat", SLOT_LOSS, build_loss, LOSS_MSE},
    {"L1LossFlat", SLOT_LOSS, build_loss, LOSS_L1},
    /* optimizers */
    {"Adam", SLOT_OPT, build_adam, 0},
    {"SGD", SLOT_OPT, build_sgd, 0},
    /* schedule steps (freeze_to tag: n for freeze()/unfreeze(), -2 = the argument) */
    {"fit", SLOT_SCHEDULE, build_fit, 0},
    {"fit_one_cycle", SLOT_SCHEDULE, build_fit_one_cycle, 0},
    {"fine_tune", SLOT_SCHEDULE, build_fine_tune, 0},
    {"freeze", SLOT_SCHEDULE, build_freeze_to, -1},
    {"unfreeze", SLOT_SCHEDULE, build_freeze_to, 0},
    {"freeze_to", SLOT_SCHEDULE, build_freeze_to, -2},
    /* lr_find suggestions (tag: the SUGGEST_* bit) */
    {"valley", SLOT_SUGGEST, build_suggest, SUGGEST_VALLEY},
    {"minimum", SLOT_SUGGEST, build_suggest, SUGGEST_MINIMUM},
    {"steep", SLOT_SUGGEST, build_suggest, SUGGEST_STEEP},
    {"slide", SLOT_SUGGEST, build_suggest, SUGGEST_SLIDE},
};
const int setup_n_comps = (int)(sizeof setup_comps / sizeof setup_comps[0]);

const SetupComp *setup_comp(const char *name, CfgSlot slot)
{
    for (int i = 0; i < setup_n_comps; i++)
        if (setup_comps[i].slot == slot && !strcmp(setup_comps[i].name, name)) return &setup_comps[i];
    return NULL;
}

int setup_build(CfgSlot slot, void *out, const CfgValue *call, const char *where, Err *err)
{
    FASTC_ASSERT(call && call->kind == CV_CALL);
    const SetupComp *c = setup_comp(call->str, slot);
    FASTC_ASSERT(c != NULL);   /* tests/test_setup.c: every schema component is here */
    return c->build(out, call, c->tag, where, err);
}
