/* summary.c — `fastc summary CONFIG`: the data (data/data_summary.h: counts per
 * split, vocab, a batch's shapes, the first training item), then the model as
 * fastai's learn.summary() prints it (models/modelsum.h): layers, output
 * shapes, parameters trainable or frozen as the first training step of the
 * schedule has them, FLOPs per item, then the optimizer, the loss function
 * and the freeze state.
 *
 * "The first training step": the learner as train builds it (vision_learner
 * freezes a pretrained body), with the schedule's freeze()/unfreeze()/
 * freeze_to() steps before its first fit applied, so fine_tune shows its
 * frozen epochs.  fastai's learn.summary() shows the state the learner is in
 * when it is called; a config has no "now", and the first fit is what a user
 * looking at a summary is about to run. */
#include "cmd/cmd.h"

#include "cmd/pipeline.h"
#include "data/data_summary.h"
#include "io/json.h"
#include "learn/sched.h"
#include "models/modelsum.h"

#include <stdio.h>
#include <string.h>

/* Apply the freeze steps that come before the schedule's first fit; returns
 * the index of that fit (s->n when there is none). */
static int freeze_as_first_fit(Learner *l, const Pipeline *p, const Schedule *s)
{
    if (p->pretrained) learner_freeze_to(l, -1);   /* as train does */
    int i = 0;
    for (; i < s->n && s->stages[i].kind == STAGE_FREEZE_TO; i++) learner_freeze_to(l, s->stages[i].freeze_n);
    return i;
}

static int model_summary(const CmdArgs *a, JsonBuf *json, Err *err)
{
    Pipeline p;
    Schedule s = {0};
    Learner *l = NULL;
    ModelSum sum;
    modelsum_init(&sum);
    int rc = pipeline_open(&p, a, PIPE_MODEL, err);
    if (rc) goto done;
    LearnerOpts o;
    if ((rc = pipeline_learner_opts(&p, &o, err)) || (rc = pipeline_schedule(&p, &s, err))) goto done;
    o.out_dir = NULL;
    if (!(l = learner_new(p.model, p.dls, &o, err))) {
        rc = err->code;
        goto done;
    }
    int first = freeze_as_first_fit(l, &p, &s);
    p.model->ops->summary(p.model, p.in_h, p.in_w, &sum);

    char title[160], opt[256], loss[256];
    int bs = p.setup.loader.bs;
    int64_t in_shape[3] = {p.in_c, p.in_h, p.in_w}, in_pair[1] = {2};
    if (p.is_collab)
        snprintf(title, sizeof title, "%s", p.model->info.arch);
    else
        snprintf(title, sizeof title, "%s + %s head", p.model->info.arch, p.torchvision_head ? "torchvision" : "fastai");
    snprintf(opt, sizeof opt, "%s", p.setup.opt_text);
    if (p.setup.loss_text) snprintf(loss, sizeof loss, "%s", p.setup.loss_text);
    else snprintf(loss, sizeof loss, "%s() (from the target block)", loss_name(p.loss));
    if (json) {
        json_buf_key(json, "model");
        json_buf_putc(json, '{');
        json_buf_key(json, "title");
        json_buf_str(json, title);
        if (p.is_collab) modelsum_json(&sum, json, bs, 1, in_pair);
        else modelsum_json(&sum, json, bs, 3, in_shape);
        json_buf_key(json, "optimizer");
        json_buf_str(json, opt);
        json_buf_key(json, "loss_func");
        json_buf_str(json, loss);
        json_buf_key(json, "schedule_step");   /* 1-based step the freeze state is that of; null: no fit */
        if (first == s.n) json_buf_raw(json, "null", 4);
        else json_buf_int(json, first + 1);
        json_buf_key(json, "frozen_up_to_group");   /* 0: unfrozen */
        json_buf_int(json, l->frozen_n <= 0 ? 0 : l->frozen_n);
        json_buf_putc(json, '}');
    } else {
        printf("\nModel\n");
        if (p.is_collab) modelsum_print(&sum, stdout, title, bs, 1, in_pair);
        else modelsum_print(&sum, stdout, title, bs, 3, in_shape);
        printf("Optimizer used: %s\nLoss function: %s\n\n", opt, loss);
        if (first == s.n) printf("Model ");
        else printf("Under the first training step (schedule step %d of %d), model ", first + 1, s.n);
        if (l->frozen_n <= 0) printf("unfrozen\n");
        else printf("frozen up to parameter group #%d\n", l->frozen_n);
    }
    if (sum.oom) rc = err_set(err, ERR_RUNTIME, "summary: out of memory for the layer table");
done:
    modelsum_free(&sum);
    learner_free(l);
    schedule_free(&s);
    pipeline_close(&p);
    return rc;
}

/* --json: one object {"data": {...}, "model": {...}} (data_summary.h,
 * modelsum.h say what each holds). */
int cmd_summary(const CmdArgs *a, Err *err)
{
    Setup s;
    if (setup_load(&s, a->config_path, a->sets, a->n_sets, &a->ctx, err)) return err->code;
    DataSummary ds;
    int rc = s.is_collab ? data_summary_collab(&ds, &s.ratings, s.loader.bs, s.loader.val_bs, s.ctx.seed, err)
                         : data_summary_image(&ds, &s.db, &s.loader, err);
    setup_free(&s);
    if (rc) {
        data_summary_free(&ds);
        return rc;
    }
    if (!a->ctx.json) {
        data_summary_print(stdout, &ds);
        data_summary_free(&ds);
        fflush(stdout);
        return model_summary(a, NULL, err);
    }
    JsonBuf b = {0};
    json_buf_raw(&b, "{\"data\": ", 9);
    data_summary_json(&b, &ds);
    data_summary_free(&ds);
    if (!(rc = model_summary(a, &b, err))) {
        json_buf_putc(&b, '}');
        if (b.oom) rc = err_set(err, ERR_RUNTIME, "summary: out of memory");
        else printf("%s\n", b.s);
    }
    json_buf_free(&b);
    return rc;
}
