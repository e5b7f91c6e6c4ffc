/* preds.c — fastai's get_preds(with_loss=True): run a model over one split
 * of a loader in order (eval mode) and collect outputs, activations, targets
 * and per-item losses. */
#include "data/loader.h"
#include "interp/interp.h"
#include "models/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void interp_preds_free(Preds *p)
{
    if (!p) return;
    free(p->raw);
    free(p->probs);
    free(p->yi);
    free(p->y);
    free(p->loss);
    free(p->index);
    memset(p, 0, sizeof *p);
}

LossKind interp_default_loss(TargetKind kind)
{
    switch (kind) {
    case TARGET_CATEGORY: return LOSS_CROSS_ENTROPY;
    case TARGET_MULTI: return LOSS_BCE_LOGITS;
    default: return LOSS_MSE;
    }
}

void interp_fill_probs_losses(Preds *p)
{
    int c = p->n_out;
    switch (p->kind) {
    case TARGET_CATEGORY:
        interp_softmax(p->probs, p->raw, p->n, c);
        for (int i = 0; i < p->n; i++) {
            if (p->yi[i] < 0 || p->yi[i] >= c)
                p->loss[i] = NAN;   /* a label the training split never had */
            else
                loss_cross_entropy(NULL, p->loss + i, p->raw + (size_t)i * c, p->yi + i, 1, c);
        }
        return;
    case TARGET_MULTI:
        interp_sigmoid(p->probs, p->raw, p->n * c);
        break;
    case TARGET_POINTS:
    case TARGET_RATING:
        memcpy(p->probs, p->raw, sizeof(float) * (size_t)p->n * c);
        break;
    }
    if (p->n > 0) loss_compute(p->loss_kind, 0.0, NULL, p->loss, p->raw, NULL, p->y, p->n, c);
}

int interp_get_preds(Model *m, Loaders *l, int split, LossKind loss, Preds *out, Err *err)
{
    memset(out, 0, sizeof *out);
    int n = loaders_n_items(l, split), c = m->info.n_out;
    out->kind = l->kind;
    out->loss_kind = loss;
    out->n_out = c;
    out->raw = malloc(sizeof(float) * ((size_t)n * c + 1));
    out->probs = malloc(sizeof(float) * ((size_t)n * c + 1));
    out->loss = malloc(sizeof(float) * ((size_t)n + 1));
    out->index = malloc(sizeof(int32_t) * ((size_t)n + 1));
    if (l->kind == TARGET_CATEGORY) out->yi = malloc(sizeof(int32_t) * ((size_t)n + 1));
    if (!out->raw || !out->probs || !out->loss || !out->index ||
        (l->kind == TARGET_CATEGORY && !out->yi)) {
        interp_preds_free(out);
        return err_set(err, ERR_RUNTIME, "get_preds: out of memory for %d items", n);
    }
    int rc = loaders_begin(l, split, 0, err);
    if (rc) goto fail;
    int k = 0;
    Batch *b;
    while ((rc = loaders_next(l, &b, err)) == 1) {
        const float *o;
        if (k + b->n > n) {
            rc = err_set(err, ERR_RUNTIME, "get_preds: the loader gave more than its %d items", n);
            goto fail;
        }
        if ((rc = m->ops->forward(m, b, MODE_EVAL, 0, &o, err))) goto fail;
        memcpy(out->raw + (size_t)k * c, o, sizeof(float) * (size_t)b->n * c);
        for (int i = 0; i < b->n; i++) out->index[k + i] = b->index ? b->index[i] : k + i;
        if (b->kind == TARGET_CATEGORY) {
            memcpy(out->yi + k, b->yi, sizeof(int32_t) * (size_t)b->n);
        } else {
            if (b->n_y != c && b->kind != TARGET_RATING) {
                rc = err_set(err, ERR_RUNTIME,
                             "get_preds: the model gives %d outputs per item but the targets have %d",
                             c, b->n_y);
                goto fail;
            }
            if (!out->y) {
                out->n_y = b->n_y;
                out->y = malloc(sizeof(float) * ((size_t)n * b->n_y + 1));
                if (!out->y) {
                    rc = err_set(err, ERR_RUNTIME, "get_preds: out of memory");
                    goto fail;
                }
            }
            memcpy(out->y + (size_t)k * out->n_y, b->y, sizeof(float) * (size_t)b->n * out->n_y);
        }
        out->h = b->h, out->w = b->w;
        k += b->n;
    }
    if (rc < 0) rc = err->code;   /* loaders_next fails with -1 */
    if (rc) goto fail;
    out->n = k;
    if (out->kind != TARGET_CATEGORY && !out->y) {   /* empty split */
        out->y = calloc(1, sizeof(float));
    }
    interp_fill_probs_losses(out);
    return 0;
fail:
    interp_preds_free(out);
    return rc;
}
