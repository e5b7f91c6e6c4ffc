/* collab_interp.c — collab model files, rating prediction, item biases,
 * similar items and the PCA of item factors; see collab_interp.h. */
#include "interp/collab_interp.h"

#include "interp/interp.h"
#include "io/atomic.h"
#include "io/json.h"
#include "io/plot.h"
#include "io/safetensors.h"
#include "models/collab.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { PCA_TOP = 1000, PCA_PLOT = 50, SIMILAR_N = 10, PREDICT_BS = 1024 };

/* ---- metadata ------------------------------------------------------------------ */

int collab_meta_add(StMeta *meta, const Model *m, const RatingsData *d, Err *err)
{
    const CollabSpec *s = collab_spec(m);
    if (!s) return err_set(err, ERR_RUNTIME, "collab_meta_add: %s is not a collab model", m->info.arch);
    int bad = st_meta_set(meta, "task", "collab");
    if (s->arch != COLLAB_NN) bad |= st_meta_set_int(meta, "n_factors", s->n_factors);
    if (s->has_y_range) {
        double yr[2] = {s->y_lo, s->y_hi};
        bad |= st_meta_set_numbers(meta, "y_range", yr, 2);
    }
    bad |= st_meta_set_strings(meta, "user_ids", (const char *const *)d->user_ids, (size_t)d->n_users);
    bad |= st_meta_set_strings(meta, "item_ids", (const char *const *)d->item_ids, (size_t)d->n_items);
    if (d->item_titles) {
        const char **t = malloc(sizeof(char *) * (size_t)d->n_items);
        if (!t) return err_set(err, ERR_RUNTIME, "collab model metadata: out of memory");
        for (int i = 0; i < d->n_items; i++) t[i] = d->item_titles[i] ? d->item_titles[i] : "";
        bad |= st_meta_set_strings(meta, "item_titles", t, (size_t)d->n_items);
        free(t);
    }
    return bad ? err_set(err, ERR_RUNTIME, "collab model metadata: out of memory") : 0;
}

static int all_int(char **v, int n)
{
    for (int i = 1; i < n; i++) {
        char *e;
        errno = 0;
        strtoll(v[i], &e, 10);
        if (e == v[i] || *e || errno) return 0;
    }
    return 1;
}

/* Ids are looked up by binary search (ratings.h), so they must be in the order
 * fastc writes them: after the '#na#' slot 0, ascending (as numbers when all
 * are integers), none twice.  Any other order would match the wrong rows. */
static int ids_sorted(char **v, int n, int numeric)
{
    for (int i = 2; i < n; i++) {
        int c = strcmp(v[i - 1], v[i]);
        if (!c) return 0;
        if (numeric) {   /* equal numbers written differently ("01", "1") may come in any order */
            long long a = strtoll(v[i - 1], NULL, 10), b = strtoll(v[i], NULL, 10);
            if (a > b) return 0;
        } else if (c > 0) {
            return 0;
        }
    }
    return 1;
}

/* A 2-d tensor [rows, >= 1] (rows < 0: any count >= 1): every size the
 * model is built with comes from such a shape, so none is 0 and their product
 * is bounded by the file's own bytes. */
static const StTensor *table_2d(const StFile *f, const char *name, int64_t rows, Err *err)
{
    const StTensor *t = st_find(f, name);
    if (!t || t->ndim != 2 || t->shape[1] < 1 || t->shape[1] > INT32_MAX || (rows >= 0 && t->shape[0] != rows) ||
        (rows < 0 && (t->shape[0] < 1 || t->shape[0] > INT32_MAX))) {
        char want[64];
        if (rows >= 0) snprintf(want, sizeof want, "[%lld, n]", (long long)rows);
        else snprintf(want, sizeof want, "[n, m]");
        err_set(err, ERR_RUNTIME, "%s: expected a tensor %s shaped %s with n, m >= 1", f->path, name, want);
        return NULL;
    }
    return t;
}

int collab_from_file(const StFile *f, Model **mout, RatingsData **vout, Err *err)
{
    *mout = NULL, *vout = NULL;
    const StMeta *meta = &f->meta;
    const char *arch = st_meta_get(meta, "arch");
    CollabSpec s = {0};
    if (!arch) return err_set(err, ERR_USAGE, "%s: no 'arch' in the metadata", f->path);
    if (!strcmp(arch, "DotProduct")) s.arch = COLLAB_DOT;
    else if (!strcmp(arch, "DotProductBias")) s.arch = COLLAB_DOT_BIAS;
    else if (!strcmp(arch, "EmbeddingNN")) s.arch = COLLAB_NN;
    else return err_set(err, ERR_RUNTIME, "%s: metadata arch = '%.40s': expected DotProduct, DotProductBias or "
                        "EmbeddingNN for a collab model", f->path, arch);
    double yr[2];
    size_t n;
    if (st_meta_get(meta, "y_range")) {
        Err e = {0};
        if (st_meta_get_numbers(meta, "y_range", yr, 2, &n, &e) || n != 2 || !(yr[0] < yr[1]) ||
            !(fabs(yr[0]) <= FLT_MAX) || !(fabs(yr[1]) <= FLT_MAX))
            return err_set(err, ERR_RUNTIME, "%s: metadata y_range = '%.60s': expected [lo, hi], finite numbers with "
                           "lo < hi", f->path, st_meta_get(meta, "y_range"));
        s.has_y_range = 1, s.y_lo = (float)yr[0], s.y_hi = (float)yr[1];
    }
    RatingsData *d = calloc(1, sizeof *d);
    if (!d) return err_set(err, ERR_RUNTIME, "out of memory");
    snprintf(d->path, sizeof d->path, "%.1000s", f->path);
    size_t nu, ni;
    int rc = st_meta_get_strings(meta, "user_ids", &d->user_ids, &nu, err);
    if (!rc) rc = st_meta_get_strings(meta, "item_ids", &d->item_ids, &ni, err);
    if (rc) {
        ratings_free(d);
        return err_prefix(err, "%s: ", f->path);
    }
    d->n_users = (int)nu, d->n_items = (int)ni;   /* json strings in a <= 100 MB header: < INT_MAX */
    if (nu < 1 || ni < 1) {
        ratings_free(d);
        return err_set(err, ERR_RUNTIME, "%s: metadata %s is empty: expected the ids the model was trained on", f->path,
                       nu < 1 ? "user_ids" : "item_ids");
    }
    d->user_numeric = all_int(d->user_ids, d->n_users);
    d->item_numeric = all_int(d->item_ids, d->n_items);
    if (!ids_sorted(d->user_ids, d->n_users, d->user_numeric) || !ids_sorted(d->item_ids, d->n_items, d->item_numeric)) {
        int users = !ids_sorted(d->user_ids, d->n_users, d->user_numeric);
        ratings_free(d);
        return err_set(err, ERR_RUNTIME, "%s: metadata %s: not in ascending order, as fastc writes them", f->path,
                       users ? "user_ids" : "item_ids");
    }
    if (st_meta_get(meta, "item_titles")) {
        size_t nt;
        if ((rc = st_meta_get_strings(meta, "item_titles", &d->item_titles, &nt, err))) {
            ratings_free(d);
            return err_prefix(err, "%s: ", f->path);
        }
        if ((int)nt != d->n_items) {
            int n_items = d->n_items;
            json_strings_free(d->item_titles, nt);   /* ratings_free would free n_items of them */
            d->item_titles = NULL;
            ratings_free(d);
            return err_set(err, ERR_RUNTIME, "%s: metadata item_titles has %zu entries for %d items", f->path, nt,
                           n_items);
        }
        for (int i = 0; i < d->n_items; i++)
            if (!d->item_titles[i][0]) free(d->item_titles[i]), d->item_titles[i] = NULL;
        d->has_titles = 1;
    }
    /* sizes from the tensors themselves (any fastc collab file has them),
     * their rows matching the ids */
    const StTensor *t;
    Err e = {0};
    if (s.arch != COLLAB_NN) {
        /* (the item table's width is checked with every other shape when loading) */
        if (!(t = table_2d(f, "u_weight.weight", d->n_users, &e)) || !table_2d(f, "i_weight.weight", d->n_items, &e)) {
            ratings_free(d);
            return err_set(err, e.code, "%s", e.msg);
        }
        s.n_factors = (int)t->shape[1];
    } else {
        const StTensor *eu = table_2d(f, "embeds.0.weight", d->n_users, &e);
        const StTensor *ei = eu ? table_2d(f, "embeds.1.weight", d->n_items, &e) : NULL;
        if (!ei) {
            ratings_free(d);
            return err_set(err, e.code, "%s", e.msg);
        }
        s.emb_user = (int)eu->shape[1], s.emb_item = (int)ei->shape[1];
        char name[64];
        for (int k = 0;; k++) {
            snprintf(name, sizeof name, "layers.%d.2.weight", k);   /* a hidden layer has a BatchNorm */
            if (!st_find(f, name)) break;
            if (k == COLLAB_MAX_LAYERS) {
                ratings_free(d);
                return err_set(err, ERR_RUNTIME, "%s: more than %d hidden layers", f->path, COLLAB_MAX_LAYERS);
            }
            snprintf(name, sizeof name, "layers.%d.0.weight", k);
            if (!(t = table_2d(f, name, -1, &e))) {
                ratings_free(d);
                return err_set(err, e.code, "%s", e.msg);
            }
            s.layers[s.n_layers++] = (int)t->shape[0];
        }
    }
    s.n_users = d->n_users, s.n_items = d->n_items, s.max_bs = PREDICT_BS;
    Model *m;
    if ((rc = collab_model_new(&m, &s, err))) {
        ratings_free(d);
        return err_prefix(err, "%s: ", f->path);
    }
    if ((rc = st_load_model(m, f, ST_LOAD_FULL, NULL, 0, err))) {
        model_free(m);
        ratings_free(d);
        return rc;
    }
    *mout = m, *vout = d;
    return 0;
}

/* ---- predict ---------------------------------------------------------------------- */

static float sigmoid_range(const CollabSpec *s, float x)
{
    return s->has_y_range ? 1.0f / (1.0f + expf(-x)) * (s->y_hi - s->y_lo) + s->y_lo : x;
}

static void pair_row(FILE *out, int json, const char *user, const char *item, double pred, const char *error)
{
    if (json) {
        JsonBuf b = {0};
        json_buf_putc(&b, '{');
        json_buf_key(&b, "user");
        json_buf_str(&b, user);
        json_buf_key(&b, "item");
        json_buf_str(&b, item);
        json_buf_key(&b, error ? "error" : "prediction");
        if (error) json_buf_str(&b, error);
        else json_buf_float(&b, (float)pred);
        json_buf_putc(&b, '}');
        fputs(b.s && !b.oom ? b.s : "{\"error\": \"out of memory\"}", out);
        fputc('\n', out);
        json_buf_free(&b);
        return;
    }
    interp_csv_field(out, user);
    fputc(',', out);
    interp_csv_field(out, item);
    if (error) {
        char buf[1200];
        snprintf(buf, sizeof buf, "error: %s", error);
        fputc(',', out);
        interp_csv_field(out, buf);
        fputc('\n', out);
    } else {
        fprintf(out, ",%.6g\n", pred);
    }
}

int collab_predict_pairs(Model *m, const RatingsData *v, const char *const *pairs, int n, const CollabPredictOpts *o,
                         Err *err)
{
    const CollabSpec *s = collab_spec(m);
    FILE *out = o->out ? o->out : stdout;
    size_t cap = (size_t)(n ? n : 1);
    int32_t *u = malloc(sizeof(int32_t) * cap), *it = malloc(sizeof(int32_t) * cap);
    int32_t *bu = malloc(sizeof(int32_t) * cap), *bi = malloc(sizeof(int32_t) * cap);
    float *pred = malloc(sizeof(float) * cap), *bp = malloc(sizeof(float) * cap);
    char **us = calloc(cap, sizeof(char *)), **msg = calloc(cap, sizeof(char *));
    int rc = 0, failed = 0, nb = 0;
    if (!u || !it || !bu || !bi || !pred || !bp || !us || !msg) {
        rc = err_set(err, ERR_RUNTIME, "predict: out of memory");
        goto done;
    }
    /* every input is checked for its form first: a malformed pair is a usage error, before any output */
    for (int k = 0; k < n; k++) {
        const char *p = pairs[k], *comma = strchr(p, ',');
        if (!comma || comma == p || !comma[1]) {
            rc = err_set(err, ERR_USAGE, "predict: input %d '%s': expected USER,ITEM (e.g. 196,242)", k + 1, p);
            goto done;
        }
        if (!(us[k] = strndup(p, (size_t)(comma - p)))) {
            rc = err_set(err, ERR_RUNTIME, "predict: out of memory");
            goto done;
        }
    }
    /* an unknown user or item is an error on its row (unless --unknown bias); the others are predicted */
    for (int k = 0; k < n; k++) {
        const char *item = strchr(pairs[k], ',') + 1;
        u[k] = ratings_user_index(v, us[k]);
        it[k] = ratings_item_index(v, item);
        if ((u[k] < 0 || it[k] < 0) && !o->unknown_bias) {
            char buf[1100];
            int user = u[k] < 0;
            snprintf(buf, sizeof buf, "unknown %s '%.900s' (the model knows %d %s; --unknown bias predicts from "
                     "the known side's bias)", user ? "user" : "item", user ? us[k] : item,
                     user ? v->n_users - 1 : v->n_items - 1, user ? "users" : "items");
            if (!(msg[k] = strdup(buf))) {
                rc = err_set(err, ERR_RUNTIME, "predict: out of memory");
                goto done;
            }
            failed++;
            continue;
        }
        /* '#na#' for an unknown side: EmbeddingNN's fallback; the others are replaced below */
        bu[nb] = u[k] < 0 ? 0 : u[k], bi[nb] = it[k] < 0 ? 0 : it[k];
        nb++;
    }
    if (nb > 0 && (rc = collab_predict(m, bu, bi, nb, bp, err))) goto done;
    for (int k = 0, j = 0; k < n; k++) {
        if (msg[k]) continue;
        pred[k] = bp[j++];
        if (s->arch == COLLAB_NN || (u[k] >= 0 && it[k] >= 0)) continue;
        Param *pub = model_param(m, "u_bias.weight"), *pib = model_param(m, "i_bias.weight");
        float x = 0;
        if (pub && u[k] >= 0) x += pub->w[u[k]];
        if (pib && it[k] >= 0) x += pib->w[it[k]];
        pred[k] = sigmoid_range(s, x);
    }
    if (!o->json) fputs("user,item,prediction\n", out);
    for (int k = 0; k < n; k++) {
        pair_row(out, o->json, us[k], strchr(pairs[k], ',') + 1, pred[k], msg[k]);
        if (msg[k] && o->errs) fprintf(o->errs, "fastc predict: input %d: %s\n", k + 1, msg[k]);
    }
    fflush(out);
    if (failed)
        rc = err_set(err, ERR_RUNTIME, "predict: %d of %d pair(s) name a user or item the model does not know", failed,
                     n);
done:
    for (int k = 0; k < n; k++) {
        if (us) free(us[k]);
        if (msg) free(msg[k]);
    }
    free(us), free(msg), free(u), free(it), free(bu), free(bi), free(pred), free(bp);
    return rc;
}

/* ---- interpretation ----------------------------------------------------------------- */

static const Param *item_factors(Model *m)
{
    const Param *p = model_param(m, "i_weight.weight");
    return p ? p : model_param(m, "embeds.1.weight");
}

typedef struct Ranked {
    double v;
    int i;
} Ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const Ranked *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i - y->i;
}

static int write_item_bias(const Param *bias, const RatingsData *d, const Ranked *r, int n, const char *dir,
                           Err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/item_bias.csv", dir);
    AtomicFile af;
    if (atomic_open(&af, path, err)) return err->code;
    fputs("item,title,bias,n_ratings\n", af.f);
    for (int k = 0; k < n; k++) {
        int i = r[k].i;
        interp_csv_field(af.f, d->item_ids[i]);
        fputc(',', af.f);
        interp_csv_field(af.f, d->item_titles && d->item_titles[i] ? d->item_titles[i] : "");
        fprintf(af.f, ",%.7g,%d\n", bias->w[i], d->item_count ? d->item_count[i] : 0);
    }
    return atomic_commit(&af, err);
}

void collab_pca(double *out, const float *x, int n, int d, int k)
{
    double *mean = calloc((size_t)d, sizeof(double)), *cov = calloc((size_t)d * d, sizeof(double));
    double *vec = malloc(sizeof(double) * (size_t)d * k), *v = malloc(sizeof(double) * d), *w = malloc(sizeof(double) * d);
    for (int r = 0; r < n; r++)
        for (int j = 0; j < d; j++) mean[j] += x[(size_t)r * d + j];
    for (int j = 0; j < d; j++) mean[j] /= n > 0 ? n : 1;
    for (int r = 0; r < n; r++)
        for (int a = 0; a < d; a++) {
            double xa = x[(size_t)r * d + a] - mean[a];
            for (int b = 0; b < d; b++) cov[a * d + b] += xa * (x[(size_t)r * d + b] - mean[b]);
        }
    for (int c = 0; c < k; c++) {
        /* deterministic start, then power iteration on the deflated covariance */
        for (int j = 0; j < d; j++) v[j] = 1.0 + 0.01 * j;
        double lambda = 0;
        for (int it = 0; it < 1000; it++) {
            for (int a = 0; a < d; a++) {
                double s = 0;
                for (int b = 0; b < d; b++) s += cov[a * d + b] * v[b];
                w[a] = s;
            }
            double nrm = 0;
            for (int a = 0; a < d; a++) nrm += w[a] * w[a];
            nrm = sqrt(nrm);
            if (nrm == 0) break;
            double diff = 0;
            for (int a = 0; a < d; a++) {
                double nv = w[a] / nrm;
                diff += fabs(nv - v[a]);
                v[a] = nv;
            }
            lambda = nrm;
            if (diff < 1e-12 * d) break;
        }
        int big = 0;
        for (int a = 1; a < d; a++)
            if (fabs(v[a]) > fabs(v[big])) big = a;
        double sgn = v[big] < 0 ? -1 : 1;
        for (int a = 0; a < d; a++) vec[c * d + a] = sgn * v[a];
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++) cov[a * d + b] -= lambda * vec[c * d + a] * vec[c * d + b];
    }
    for (int r = 0; r < n; r++)
        for (int c = 0; c < k; c++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += (x[(size_t)r * d + j] - mean[j]) * vec[c * d + j];
            out[(size_t)r * k + c] = s;
        }
    free(mean), free(cov), free(vec), free(v), free(w);
}

static int cmp_count_desc(const void *a, const void *b)
{
    const Ranked *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i - y->i;
}

static int write_pca(const Param *fac, const RatingsData *d, const char *dir, FILE *out, JsonBuf *json, Err *err)
{
    const int nf = (int)fac->shape[1];
    Ranked *r = malloc(sizeof(Ranked) * (size_t)d->n_items);
    int n = 0;
    for (int i = 1; i < d->n_items; i++) r[n].v = d->item_count ? d->item_count[i] : 0, r[n].i = i, n++;
    qsort(r, (size_t)n, sizeof(Ranked), cmp_count_desc);   /* most rated first, ties by index */
    if (n > PCA_TOP) n = PCA_TOP;
    const int k = nf < 3 ? nf : 3;
    float *x = malloc(sizeof(float) * (size_t)n * nf);
    double *pc = malloc(sizeof(double) * (size_t)n * k);
    for (int j = 0; j < n; j++) memcpy(x + (size_t)j * nf, fac->w + (size_t)r[j].i * nf, sizeof(float) * nf);
    collab_pca(pc, x, n, nf, k);
    char path[4096];
    snprintf(path, sizeof path, "%s/pca.csv", dir);
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (!rc) {
        fputs("item,title,n_ratings", af.f);
        for (int c = 0; c < k; c++) fprintf(af.f, ",pc%d", c);
        fputc('\n', af.f);
        for (int j = 0; j < n; j++) {
            int i = r[j].i;
            interp_csv_field(af.f, d->item_ids[i]);
            fputc(',', af.f);
            interp_csv_field(af.f, d->item_titles && d->item_titles[i] ? d->item_titles[i] : "");
            fprintf(af.f, ",%d", (int)r[j].v);
            for (int c = 0; c < k; c++) fprintf(af.f, ",%.6g", pc[(size_t)j * k + c]);
            fputc('\n', af.f);
        }
        rc = atomic_commit(&af, err);
    }
    if (!rc && k >= 2) {
        /* the book plots components 0 and 2 of the 50 most-rated movies */
        const int cy = k >= 3 ? 2 : 1, np = n < PCA_PLOT ? n : PCA_PLOT;
        double *px = malloc(sizeof(double) * (size_t)np), *py = malloc(sizeof(double) * (size_t)np);
        const char **lab = malloc(sizeof(char *) * (size_t)np);
        for (int j = 0; j < np; j++) {
            px[j] = pc[(size_t)j * k], py[j] = pc[(size_t)j * k + cy];
            lab[j] = ratings_item_label(d, r[j].i);
        }
        char title[128], yl[32];
        snprintf(title, sizeof title, "Item factors: PCA of the %d most-rated items (%d shown)", n, np);
        snprintf(yl, sizeof yl, "component %d", cy);
        Scatter sc = {.title = title, .xlabel = "component 0", .ylabel = yl, .width = 1000, .height = 1000,
                      .n = np, .x = px, .y = py, .labels = lab};
        snprintf(path, sizeof path, "%s/pca.png", dir);
        rc = plot_scatter(&sc, path, err);
        free(px), free(py), free(lab);
    }
    if (!rc && out && !json)
        fprintf(out, "wrote %s/pca.csv and %s/pca.png (PCA of the factors of the %d most-rated items)\n", dir, dir,
                n);
    if (!rc && json) {
        json_buf_key(json, "pca_items");
        json_buf_int(json, n);
    }
    free(r), free(x), free(pc);
    return rc;
}

/* {"item": id, "title": title or null, <key>: v} */
static void item_json(JsonBuf *b, const RatingsData *d, int i, const char *key, double v)
{
    json_buf_putc(b, '{');
    json_buf_key(b, "item");
    json_buf_str(b, d->item_ids[i]);
    json_buf_key(b, "title");
    if (d->item_titles && d->item_titles[i]) json_buf_str(b, d->item_titles[i]);
    else json_buf_raw(b, "null", 4);
    json_buf_key(b, key);
    json_buf_num(b, v);
    json_buf_putc(b, '}');
}

/* ---- closest titles, for a --similar name that matches none exactly ---------------- */

enum { MAX_TOKENS = 16, TOKEN_LEN = 32, N_SUGGEST = 5 };

/* Lower-case alphanumeric words of s. */
static int tokens_of(const char *s, char tok[MAX_TOKENS][TOKEN_LEN])
{
    int n = 0;
    while (*s && n < MAX_TOKENS) {
        while (*s && !isalnum((unsigned char)*s)) s++;
        int k = 0;
        while (*s && isalnum((unsigned char)*s)) {
            if (k + 1 < TOKEN_LEN) tok[n][k++] = (char)tolower((unsigned char)*s);
            s++;
        }
        if (k) tok[n++][k] = 0;
    }
    return n;
}

/* Levenshtein distance of the lower-cased strings (both cut at 200 bytes). */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strnlen(a, 200), lb = (int)strnlen(b, 200), row[201];
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j];
            int v = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (up + 1 < v) v = up + 1;
            if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
            row[j] = v, diag = up;
        }
    }
    return row[lb];
}

typedef struct Near {
    int matched, dist, count, i;   /* query words found in the label, edit distance, ratings */
} Near;

static int cmp_near(const void *pa, const void *pb)
{
    const Near *a = pa, *b = pb;
    if (a->matched != b->matched) return b->matched - a->matched;
    if (a->dist != b->dist) return a->dist - b->dist;
    if (a->count != b->count) return b->count - a->count;
    return a->i - b->i;
}

/* "'Star Wars (1977)', 'Return of the Jedi (1983)'": the labels nearest to
 * what — most of its words found in the label (a word may be the start of a
 * label's word: "godfather" finds "Godfather, The (1972)"), then the smallest
 * edit distance to the label without its " (year)", then the most rated.
 * Empty when nothing is near. */
static void closest_items(const RatingsData *d, const char *what, char *buf, size_t cap)
{
    char q[MAX_TOKENS][TOKEN_LEN], t[MAX_TOKENS][TOKEN_LEN];
    int nq = tokens_of(what, q);
    Near *near = malloc(sizeof(Near) * (size_t)d->n_items);
    buf[0] = 0;
    if (!near) return;
    int n = 0;
    for (int i = 1; i < d->n_items; i++) {
        const char *label = ratings_item_label(d, i);
        int nt = tokens_of(label, t), matched = 0;
        for (int a = 0; a < nq; a++)
            for (int b = 0; b < nt; b++)
                if (!strcmp(q[a], t[b]) || (strlen(q[a]) >= 3 && !strncmp(q[a], t[b], strlen(q[a])))) {
                    matched++;
                    break;
                }
        char bare[256];
        snprintf(bare, sizeof bare, "%s", label);
        size_t L = strlen(bare);   /* "Title (1977)" → "Title" */
        if (L > 7 && bare[L - 1] == ')' && bare[L - 6] == '(' && bare[L - 7] == ' ') bare[L - 7] = 0;
        int dist = edit_distance(what, bare);
        int len = (int)strlen(what);
        if (matched == 0 && dist > (len < 6 ? 2 : len / 3)) continue;
        near[n++] = (Near){matched, dist, d->item_count ? d->item_count[i] : 0, i};
    }
    qsort(near, (size_t)n, sizeof(Near), cmp_near);
    size_t o = 0;
    for (int k = 0; k < n && k < N_SUGGEST && o + 1 < cap; k++)
        o += (size_t)snprintf(buf + o, cap - o, "%s'%s'", k ? ", " : "", ratings_item_label(d, near[k].i));
    free(near);
}

static int print_similar(const Param *fac, const RatingsData *d, const char *what, int n_show, FILE *out,
                         JsonBuf *json, Err *err)
{
    int q = ratings_item_index(d, what);
    if (q <= 0) {
        char near[1200];
        closest_items(d, what, near, sizeof near);
        if (near[0])
            return err_set(err, ERR_USAGE, "interpret --similar: found '%s', expected an item id%s (closest: %s)", what,
                           d->item_titles ? " or an exact title" : "", near);
        return err_set(err, ERR_USAGE, "interpret --similar: found '%s', expected an item id%s (no item is close)",
                       what, d->item_titles ? " or an exact title" : "");
    }
    const int nf = (int)fac->shape[1];
    const float *a = fac->w + (size_t)q * nf;
    double na = 0;
    for (int f = 0; f < nf; f++) na += (double)a[f] * a[f];
    Ranked *r = malloc(sizeof(Ranked) * (size_t)d->n_items);
    int n = 0;
    for (int i = 1; i < d->n_items; i++) {
        if (i == q) continue;
        const float *b = fac->w + (size_t)i * nf;
        double dot = 0, nb = 0;
        for (int f = 0; f < nf; f++) dot += (double)a[f] * b[f], nb += (double)b[f] * b[f];
        r[n].v = -(na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0), r[n].i = i, n++;
    }
    qsort(r, (size_t)n, sizeof(Ranked), cmp_ranked);
    if (json) {
        json_buf_key(json, "similar_to");
        item_json(json, d, q, "n_ratings", d->item_count ? d->item_count[q] : 0);
        json_buf_key(json, "similar");   /* cosine of the item factors, most similar first */
        json_buf_putc(json, '[');
        for (int k = 0; k < n && k < n_show; k++)
            json_buf_sep(json), item_json(json, d, r[k].i, "similarity", (float)-r[k].v);
        json_buf_putc(json, ']');
    } else {
        fprintf(out, "items most similar to %s (cosine of the item factors):\n", ratings_item_label(d, q));
        for (int k = 0; k < n && k < n_show; k++)
            fprintf(out, "%3d  %.4f  %s\n", k + 1, -r[k].v, ratings_item_label(d, r[k].i));
    }
    free(r);
    return 0;
}

int collab_interpret(Model *m, const RatingsData *d, const CollabInterpOpts *o, Err *err)
{
    const CollabSpec *s = collab_spec(m);
    if (!s) return err_set(err, ERR_RUNTIME, "interpret: %s is not a collab model", m->info.arch);
    FILE *out = o->out ? o->out : stdout;
    const int n_show = o->n_show > 0 ? o->n_show : 5;
    const Param *fac = item_factors(m);
    JsonBuf *json = o->json;
    if (o->similar)
        return print_similar(fac, d, o->similar, n_show > SIMILAR_N ? n_show : SIMILAR_N, out, json, err);
    int rc = 0;
    const Param *bias = model_param(m, "i_bias.weight");
    if (bias) {
        Ranked *r = malloc(sizeof(Ranked) * (size_t)d->n_items);
        int n = 0;
        for (int i = 1; i < d->n_items; i++) r[n].v = bias->w[i], r[n].i = i, n++;
        qsort(r, (size_t)n, sizeof(Ranked), cmp_ranked);
        if (o->out_dir) rc = write_item_bias(bias, d, r, n, o->out_dir, err);
        if (!rc && json) {
            json_buf_key(json, "lowest_bias");
            json_buf_putc(json, '[');
            for (int k = 0; k < n && k < n_show; k++)
                json_buf_sep(json), item_json(json, d, r[k].i, "bias", (float)r[k].v);
            json_buf_putc(json, ']');
            json_buf_key(json, "highest_bias");
            json_buf_putc(json, '[');
            for (int k = 0; k < n && k < n_show; k++)
                json_buf_sep(json), item_json(json, d, r[n - 1 - k].i, "bias", (float)r[n - 1 - k].v);
            json_buf_putc(json, ']');
        } else if (!rc) {
            fprintf(out, "lowest item bias (liked less than their factors predict):\n");
            for (int k = 0; k < n && k < n_show; k++)
                fprintf(out, "  %9.4f  %s\n", r[k].v, ratings_item_label(d, r[k].i));
            fprintf(out, "highest item bias:\n");
            for (int k = 0; k < n && k < n_show; k++)
                fprintf(out, "  %9.4f  %s\n", r[n - 1 - k].v, ratings_item_label(d, r[n - 1 - k].i));
            if (o->out_dir) fprintf(out, "wrote %s/item_bias.csv\n", o->out_dir);
        }
        free(r);
    } else if (!json) {
        fprintf(out, "%s has no item bias: item_bias.csv not written\n", m->info.arch);
    }
    if (json) {
        json_buf_key(json, "files");
        json_buf_putc(json, '[');
        if (bias && o->out_dir) json_buf_str(json, "item_bias.csv");
        if (o->out_dir) json_buf_sep(json), json_buf_raw(json, "\"pca.csv\", \"pca.png\"", 20);
        json_buf_putc(json, ']');
    }
    if (!rc && o->out_dir) rc = write_pca(fac, d, o->out_dir, out, json, err);
    return rc;
}
