/* lr_find.c — `fastc lr_find CONFIG`: fastai's learning-rate finder on the
 * config's model and data ([lr_find] start_lr, end_lr, num_it, stop_div,
 * suggest_funcs); prints the suggestions, writes lr_find.csv and lr_find.png
 * in the output dir.  The model is not changed (nothing else is written). */
#include "cmd/cmd.h"

#include "cmd/pipeline.h"
#include "data/warnings.h"
#include "io/atomic.h"
#include "learn/learner.h"
#include "learn/lr_find.h"
#include "learn/recorder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_csv(const char *dir, const LrFindResult *r, Err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lr_find.csv", dir);
    AtomicFile af;
    if (atomic_open(&af, path, err)) return err->code;
    fprintf(af.f, "lr,loss\n");
    for (int i = 0; i < r->n; i++) {
        char a[64], b[64];
        format_pyfloat(r->lrs[i], a, sizeof a), format_pyfloat(r->losses[i], b, sizeof b);
        fprintf(af.f, "%s,%s\n", a, b);
    }
    return atomic_commit(&af, err);
}

int cmd_lr_find(const CmdArgs *a, Err *err)
{
    Pipeline p;
    Learner *l = NULL;
    LrFindResult r = {0};
    int rc = pipeline_open(&p, a, PIPE_MODEL, err);
    if (rc) goto done;
    data_warn_build_skips(stderr, &p.ds);   /* data warnings: --quiet or not */
    LearnerOpts o;
    if ((rc = pipeline_learner_opts(&p, &o, err)) || (rc = pipeline_mkdir_out(&p, err))) goto done;
    o.out_dir = NULL;   /* lr_find writes only its own files */
    if (!(l = learner_new(p.model, p.dls, &o, err))) {
        rc = err->code;
        goto done;
    }
    if (p.pretrained) learner_freeze_to(l, -1);
    const SetupLrFind *f = &p.setup.lr_find;
    if ((rc = learner_lr_find(l, f->start_lr, f->end_lr, f->num_it, f->stop_div, &r, err))) goto done;
    if ((rc = write_csv(p.out_dir, &r, err))) goto done;
    if ((rc = lr_find_plot(&r, p.out_dir, err))) goto done;
    const LrSuggest *s = &r.sug;
    if (p.ctx.json)
        printf("{\"valley\": %.6g, \"minimum\": %.6g, \"steep\": %.6g, \"slide\": %.6g, \"batches\": %d}\n", s->valley,
               s->minimum, s->steep, s->slide, r.n);
    else
        printf("SuggestedLRs(valley=%.6g, minimum=%.6g, steep=%.6g, slide=%.6g)\n", s->valley, s->minimum, s->steep,
               s->slide);
    if (!p.ctx.quiet && !p.ctx.json)
        fprintf(stderr, "%d batches; wrote %s/lr_find.csv and %s/lr_find.png\n", r.n, p.out_dir, p.out_dir);
done:
    if (p.dls) data_warn_load_skips(stderr, &p.ds, p.dls);
    lr_find_result_free(&r);
    learner_free(l);
    pipeline_close(&p);
    return rc;
}
