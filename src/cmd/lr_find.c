/* lr_find.c — `fastc lr_find CONFIG [--checkpoint FILE]`: fastai's
 * learning-rate finder on the config's model and data ([lr_find] start_lr,
 * end_lr, num_it, stop_div, suggest_funcs); prints the suggestions asked for
 * (fastai's SuggestedLRs), writes lr_find.csv and lr_find.png (those
 * suggestions marked) in the output dir.  The model is not changed (nothing
 * else is written).
 *
 * --checkpoint FILE starts from a trained model (model.safetensors or
 * best.safetensors of a run of this config): the lesson's second lr_find,
 * after the frozen epochs and unfreeze().  The whole model trains then (a
 * trained model is fine-tuned whole, as after unfreeze()); without it a
 * pretrained body is frozen as train's first step has it (vision_learner). */
#include "cmd/cmd.h"

#include "cmd/pipeline.h"
#include "data/warnings.h"
#include "interp/modelfile.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "learn/learner.h"
#include "learn/lr_find.h"
#include "models/weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The weights of a trained model of this config (refused when it is another model). */
static int load_checkpoint(Pipeline *p, const char *path, Err *err)
{
    StFile *sf = NULL;
    ModelFileInfo mi = {0};
    ModelFileExpect expect;
    modelfile_expect_of(&expect, &p->setup);
    int rc = st_open(path, &sf, err);
    if (!rc) rc = modelfile_info(&mi, path, &sf->meta, err);
    if (!rc) rc = modelfile_check(&mi, &expect, err);
    if (!rc) rc = weights_load(p->model, sf, WEIGHTS_FULL, NULL, 0, err);
    modelfile_info_free(&mi);
    st_close(sf);
    return rc;
}

int cmd_lr_find(const CmdArgs *a, Err *err)
{
    Pipeline p;
    Learner *l = NULL;
    LrFindResult r = {0};
    int rc = pipeline_open_out(&p, a, err);
    if (rc) goto done;
    const int writer = p.dist.rank == 0;   /* data-parallel: rank 0 alone writes (pipeline.h) */
    if (writer) data_warn_build_skips(stderr, &p.ds);   /* data warnings: --quiet or not */
    LearnerOpts o;
    if ((rc = pipeline_learner_opts(&p, &o, err)) || (rc = pipeline_mkdir_out(&p, err))) goto done;
    o.out_dir = NULL;   /* lr_find writes only its own files */
    if (a->checkpoint && (rc = load_checkpoint(&p, a->checkpoint, err))) goto done;
    if (!(l = learner_new(p.model, p.dls, &o, err))) {
        rc = err->code;
        goto done;
    }
    if (p.pretrained && !a->checkpoint) learner_freeze_to(l, -1);
    const SetupLrFind *f = &p.setup.lr_find;
    unsigned want = (unsigned)f->suggest;
    if ((rc = learner_lr_find(l, f->start_lr, f->end_lr, f->num_it, f->stop_div, &r, err)) ||
        (rc = lr_suggest_with(r.lrs, r.losses, r.n, f->num_it, &f->slide, &r.sug, err)))   /* slide's arguments */
        goto done;
    if (!writer) goto done;
    char csv[4200], png[4200];
    snprintf(csv, sizeof csv, "%s/lr_find.csv", p.out_dir);
    snprintf(png, sizeof png, "%s/lr_find.png", p.out_dir);
    if ((rc = lr_find_write_csv(&r, csv, err)) || (rc = lr_find_plot(&r, png, want, err))) goto done;
    if (p.ctx.json) {
        JsonBuf b = {0};
        json_buf_putc(&b, '{');
        lr_find_json(&b, &r.sug, want);
        json_buf_key(&b, "batches");
        json_buf_int(&b, r.n);
        json_buf_putc(&b, '}');
        if (b.oom) rc = err_set(err, ERR_RUNTIME, "lr_find: out of memory");
        else printf("%s\n", b.s);
        json_buf_free(&b);
    } else {
        char line[256];
        lr_find_format(&r.sug, want, line, sizeof line);
        printf("%s\n", line);
    }
    if (!p.ctx.quiet && !p.ctx.json) fprintf(stderr, "%d batches; wrote %s and %s\n", r.n, csv, png);
done:
    if (rc == 0 || p.dist.mpi) dist_close(&p.dist, rc == 0);   /* the ranks end together (dist.h) */
    if (p.dls) data_warn_load_skips(stderr, &p.ds, p.dls);
    lr_find_result_free(&r);
    learner_free(l);
    pipeline_close(&p);
    return rc;
}
