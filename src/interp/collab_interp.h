/* collab_interp.h — looking at what a collab model learned, and predicting
 * ratings: the collaborative-filtering half of `fastc interpret` and
 * `fastc predict`, called by cmd/interpret.c and cmd/predict.c.
 *
 * A collab model file (model.safetensors) carries, besides the weights, what
 * predict needs without the ratings file (collab_meta_add):
 *     task "collab", arch, y_range (the arch's SigmoidRange; absent: none),
 *     n_factors (informative), user_ids / item_ids (JSON lists of the id
 *     strings in index order, [0] = "#na#"), item_titles (JSON list, "" when
 *     unknown; only when an item_names file was given).
 * Sizes (n_users, n_items, n_factors, EmbeddingNN embedding and layer sizes)
 * are read back from the tensor shapes.
 *
 * Interpretation (fastai book, chapter 8):
 *   item_bias.csv   item,title,bias,n_ratings for every item, lowest bias first
 *                   (DotProductBias only), and the 5 lowest / highest printed
 *   --similar ITEM  the 10 items nearest to ITEM by cosine similarity of their
 *                   factor vectors (ITEM: an id or an exact title)
 *   pca.csv, pca.png  fastai's pca(x, 3) of the factors of the 1000 most-rated
 *                   items (centred, projected on the top 3 right singular
 *                   vectors, found by power iteration with deflation on the
 *                   n_factors x n_factors covariance); pca.png plots
 *                   component 0 against component 2 for the 50 most-rated,
 *                   labelled with titles, as the book does
 */
#ifndef FASTC_INTERP_COLLAB_INTERP_H
#define FASTC_INTERP_COLLAB_INTERP_H

#include "core/err.h"
#include "data/ratings.h"
#include "io/json.h"
#include "models/model.h"

#include <stdio.h>

typedef struct StMeta StMeta;
typedef struct StFile StFile;

/* Metadata keys above, for the model file a collab run saves. */
int collab_meta_add(StMeta *meta, const Model *m, const RatingsData *d, Err *err);

/* Rebuild the model (weights loaded) and its vocab (a RatingsData with no
 * rows) from an open model file. */
int collab_from_file(const StFile *f, Model **m, RatingsData **vocab, Err *err);

/* Predict "USER,ITEM" pairs (ITEM: id or title; split at the first comma) and
 * print CSV `user,item,prediction` (or, with json, one object per line:
 * {"user", "item", "prediction"}) to out.  A pair without a comma is an
 * ERR_USAGE before anything is printed.  A pair naming an unknown user or
 * item gets `user,item,error: unknown user '...'` ({"user", "item", "error"})
 * on its row and a line on errs, the other pairs are still predicted, and the
 * result is ERR_RUNTIME (exit 1), as for unreadable images.  With
 * unknown_bias the unknown side contributes nothing instead (DotProductBias:
 * the known bias alone through SigmoidRange; DotProduct: 0 through
 * SigmoidRange; EmbeddingNN: the '#na#' row, as fastai's Categorify maps
 * unknown values). */
typedef struct CollabPredictOpts {
    int unknown_bias;        /* --unknown bias */
    int json;                /* --json */
    FILE *out;               /* the rows (stdout when NULL) */
    FILE *errs;              /* one line per error row (NULL: none) */
} CollabPredictOpts;

int collab_predict_pairs(Model *m, const RatingsData *v, const char *const *pairs, int n, const CollabPredictOpts *o,
                         Err *err);

typedef struct CollabInterpOpts {
    const char *out_dir;     /* item_bias.csv, pca.csv, pca.png go here */
    const char *similar;     /* --similar ITEM, or NULL */
    int n_show;              /* items printed per list (5 when 0) */
    FILE *out;               /* printed lists (stdout) */
    JsonBuf *json;           /* --json: members of the object being built instead of text:
                              * "lowest_bias", "highest_bias" [{"item", "title", "bias"}],
                              * "files", "pca_items"; with similar: "similar_to" and
                              * "similar" [{"item", "title", "similarity"}] */
} CollabInterpOpts;

int collab_interpret(Model *m, const RatingsData *d, const CollabInterpOpts *o, Err *err);

/* fastai's pca(x, k): rows of x [n, d] centred over the rows, projected onto
 * the top k eigenvectors of xᵀx (power iteration; deterministic).  out [n, k].
 * Each component's sign is fixed so that its largest-magnitude loading is
 * positive. */
void collab_pca(double *out, const float *x, int n, int d, int k);

#endif
