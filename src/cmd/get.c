/* get.c — `fastc get DATASET [DIR] [--n N]`: materialise a known dataset
 * (data/datasets.c does the work; data/README.md documents the datasets). */
#include "cmd/cmd.h"

#include "data/datasets.h"
#include "io/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SHAPES_DEFAULT_N 2000
#define SHAPES_SEED 42
#define SHAPES_SINGLE_SEED 43   /* not 42: no layout shared with the shapes set */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cmd_get(const CmdArgs *a, Err *err)
{
    if (a->n_inputs < 1 || a->n_inputs > 2)
        return err_set(err, ERR_USAGE, "fastc get: expected DATASET [DIR] (datasets: fashion_mnist, shapes, shapes_single)");
    const char *name = a->inputs[0];
    int reused = 0, rc;
    char dflt[256];
    snprintf(dflt, sizeof dflt, "data/%s", name);
    const char *dir = a->n_inputs > 1 ? a->inputs[1] : dflt;
    double t0 = now_s();
    if (strcmp(name, "fashion_mnist") == 0) {
        rc = datasets_fashion_mnist(NULL, dir, 0, a->ctx.threads, &reused, err);
    } else if (strcmp(name, "shapes") == 0 || strcmp(name, "shapes_single") == 0) {
        int single = strcmp(name, "shapes_single") == 0;
        int n = a->n > 0 ? a->n : SHAPES_DEFAULT_N;
        rc = datasets_shapes(dir, n, single ? SHAPES_SINGLE_SEED : SHAPES_SEED, single, a->ctx.threads, &reused, err);
    } else {
        return err_set(err, ERR_USAGE, "fastc get: found dataset '%s', expected fashion_mnist, shapes or shapes_single",
                       name);
    }
    if (rc) return rc;
    if (a->ctx.json) {
        JsonBuf b = {0};
        json_buf_putc(&b, '{');
        json_buf_key(&b, "dataset");
        json_buf_str(&b, name);
        json_buf_key(&b, "dir");
        json_buf_str(&b, dir);
        json_buf_key(&b, "already_complete");
        json_buf_bool(&b, reused);
        json_buf_key(&b, "seconds");
        json_buf_num(&b, round((now_s() - t0) * 1000) / 1000);
        json_buf_putc(&b, '}');
        rc = b.oom ? err_set(err, ERR_RUNTIME, "fastc get: out of memory") : 0;
        if (!rc) printf("%s\n", b.s);
        json_buf_free(&b);
        return rc;
    }
    if (!a->ctx.quiet) {
        if (reused) fprintf(stderr, "%s: already complete in %s\n", name, dir);
        else fprintf(stderr, "%s: written to %s in %.1f s\n", name, dir, now_s() - t0);
    }
    return 0;
}
