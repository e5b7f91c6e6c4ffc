/* datablock.c — a DbSpec to a Dataset: items, split, labels, vocab (see
 * datablock.h for the rules).
 *
 * Steps: list the items (image files or csv rows) → split → label each item
 * (category, labels or points) → vocab from the training items → indices and
 * targets.  An item that cannot be labelled, or a validation item with a label
 * outside the vocab, is an error naming it; with skip_bad it is dropped and
 * recorded in ds->skipped instead.  Items no splitter claims are dropped.
 */
#include "data/datablock.h"

#include "data/csv.h"
#include "data/items.h"
#include "data/labels.h"
#include "data/splitters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS_PER_ITEM 256

void dataset_free(Dataset *ds)
{
    if (!ds) return;
    if (ds->path_store.v) {
        strlist_free(&ds->path_store);   /* paths are its strings */
    } else {
        for (int i = 0; i < ds->n_items; i++) free(ds->paths[i]);
        free(ds->paths);
    }
    for (int i = 0; i < ds->n_vocab; i++) free(ds->vocab[i]);
    free(ds->vocab);
    free(ds->yi);
    free(ds->y);
    free(ds->y_file);
    free(ds->y_line);
    free(ds->train_idx);
    free(ds->valid_idx);
    for (int i = 0; i < ds->n_skipped; i++) free(ds->skipped[i]);
    free(ds->skipped);
    memset(ds, 0, sizeof *ds);
}

/* Working state of one build. */
typedef struct Build {
    const DbSpec *s;
    const char *root;
    CsvTable csv;
    int n;               /* items listed */
    StrList paths;       /* [n] */
    int *rows;           /* [n] csv row of each item, or NULL */
    int8_t *split;       /* [n] 0 train, 1 valid, -1 neither */
    int8_t *drop;        /* [n] 1 = skipped */
    /* labels: item i has labels lab.v[lab_off[i] .. lab_off[i+1]) */
    StrList lab;
    int *lab_off;
    /* points: [n, n_y], and the points file's line of each item's row */
    float *pts;
    int n_y;
    int *pts_line;
    char *pts_file;
    StrList skipped;
} Build;

static void build_free(Build *b)
{
    csv_free(&b->csv);
    strlist_free(&b->paths);
    free(b->rows);
    free(b->split);
    free(b->drop);
    strlist_free(&b->lab);
    free(b->lab_off);
    free(b->pts);
    free(b->pts_line);
    free(b->pts_file);
    strlist_free(&b->skipped);
}

/* Item i fails: an error, or (skip_bad) a skipped entry carrying the message. */
static int item_bad(Build *b, int i, Err *err)
{
    if (!b->s->skip_bad) return err->code;
    b->drop[i] = 1;
    if (strlist_push(&b->skipped, err->msg)) return err_set(err, ERR_RUNTIME, "out of memory");
    err->code = 0, err->msg[0] = 0;
    return 0;
}

static const char *rel_path(const Build *b, const char *path)
{
    size_t n = strlen(b->root);
    if (strncmp(path, b->root, n) == 0 && path[n] == '/') return path + n + 1;
    return path;
}

static int col_index(const CsvTable *t, const char *name, int idx, const char *what, int *col, Err *err)
{
    if (name) {
        int rc = csv_require_col(t, name, col, err);
        if (rc) return err_prefix(err, "%s: ", what);
        return 0;
    }
    if (idx < 0 || idx >= t->n_cols)
        return err_set(err, ERR_USAGE, "%s: %s: column %d does not exist (the file has %d columns)", t->path, what, idx,
                       t->n_cols);
    *col = idx;
    return 0;
}

/* ---- items ------------------------------------------------------------------- */

static int list_items(Build *b, Err *err)
{
    const DbSpec *s = b->s;
    if (!s->csv) {
        int rc = items_image_files(b->root, s->folders, s->n_folders, s->recurse, &b->paths, err);
        if (rc) return rc;
        if (b->paths.n == 0)
            return err_set(err, ERR_RUNTIME, "%s: no image files found (looked for .jpg .jpeg .png ... in %s)",
                           b->root, s->recurse ? "every sub-folder" : "the folder itself");
        b->n = b->paths.n;
        return 0;
    }
    CsvOptions o = {.sep = s->csv_sep, .header = s->n_csv_names == 0, .names = s->csv_names, .n_names = s->n_csv_names};
    int rc = csv_read(s->csv, &o, &b->csv, err);
    if (rc) return rc;
    if (b->csv.n_rows == 0) return err_set(err, ERR_RUNTIME, "%s: no rows (expected one item per row)", s->csv);
    int xc;
    rc = col_index(&b->csv, s->x_col, s->x_col_idx, "get_x", &xc, err);
    if (rc) return rc;
    b->n = b->csv.n_rows;
    b->rows = malloc(sizeof(int) * b->n);
    if (!b->rows) return err_set(err, ERR_RUNTIME, "out of memory");
    const char *pref = s->x_pref ? s->x_pref : "", *suf = s->x_suffix ? s->x_suffix : "";
    char path[4096];
    for (int r = 0; r < b->n; r++) {
        const char *cell = csv_cell(&b->csv, r, xc);
        if (!*cell)
            return err_set(err, ERR_RUNTIME, "%s:%d: empty file name in column %d", s->csv, b->csv.lines[r], xc + 1);
        if (pref[0] == '/') snprintf(path, sizeof path, "%s%s%s", pref, cell, suf);
        else snprintf(path, sizeof path, "%s/%s%s%s", b->root, pref, cell, suf);
        if (strlist_push(&b->paths, path)) return err_set(err, ERR_RUNTIME, "out of memory");
        b->rows[r] = r;
    }
    return 0;
}

/* ---- split ------------------------------------------------------------------- */

static int do_split(Build *b, Err *err)
{
    const DbSpec *s = b->s;
    switch (s->split) {
    case DB_SPLIT_RANDOM:
        split_random(b->n, s->valid_pct, s->seed, b->split);
        return 0;
    case DB_SPLIT_GRANDPARENT: {
        split_grandparent(b->paths.v, b->n, s->train_name, s->valid_name, b->split);
        int nt = 0;
        for (int i = 0; i < b->n; i++) nt += b->split[i] == 0;
        if (nt == 0) {
            char gp[256];
            label_grandparent(b->paths.v[0], gp, sizeof gp);
            return err_set(err, ERR_RUNTIME,
                           "GrandparentSplitter(train_name='%s', valid_name='%s'): no item is in a '%s' folder two "
                           "levels up (e.g. %s is under '%s')",
                           s->train_name, s->valid_name, s->train_name, b->paths.v[0], gp);
        }
        return 0;
    }
    case DB_SPLIT_PARENT:
        split_parent_name(b->paths.v, b->n, s->parent_name, b->split);
        return 0;
    case DB_SPLIT_COL: {
        if (!s->csv) return err_set(err, ERR_USAGE, "ColSplitter needs [data] csv (the items' table)");
        int col;
        int rc = col_index(&b->csv, s->split_col, s->split_col_idx, "ColSplitter", &col, err);
        if (rc) return rc;
        return split_col(&b->csv, col, b->rows, b->n, b->split, err);
    }
    }
    return err_set(err, ERR_USAGE, "unknown splitter");
}

/* ---- labels ------------------------------------------------------------------ */

/* *buf with room for `need` bytes (grown, never shrunk); NULL when out of memory. */
static char *grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return *buf;
    char *b = realloc(*buf, need);
    if (!b) return NULL;
    *cap = need;
    return *buf = b;
}

static int label_items(Build *b, Err *err)
{
    const DbSpec *s = b->s;
    int rc = 0;
    RegexLabeller re = {0};
    PointsTable pt = {0};
    int ycol = -1;
    if (s->y == DB_Y_REGEX && (rc = regex_labeller_init(&re, s->y_pat, s->y_match, err))) return rc;
    if (s->y == DB_Y_COL) {
        if (!s->csv) return err_set(err, ERR_USAGE, "get_y = ColReader needs [data] csv (the table it reads)");
        if ((rc = col_index(&b->csv, s->y_col, s->y_col_idx, "get_y", &ycol, err))) return rc;
    }
    if (s->kind == TARGET_POINTS) {
        if (s->y != DB_Y_POINTS) return err_set(err, ERR_USAGE, "PointBlock needs get_y = PointsFromCSV('file.csv')");
        if ((rc = points_table_load(s->points_csv, s->csv_sep, b->root, &pt, err))) return rc;
        b->n_y = 2 * pt.n_points;
        b->pts = calloc((size_t)b->n * b->n_y, sizeof(float));
        b->pts_line = calloc((size_t)b->n + 1, sizeof(int));
        b->pts_file = strdup(pt.path);
        if (!b->pts || !b->pts_line || !b->pts_file) rc = err_set(err, ERR_RUNTIME, "out of memory");
    } else if (s->y == DB_Y_POINTS) {
        return err_set(err, ERR_USAGE, "PointsFromCSV gives points: use blocks = ImageBlock, PointBlock");
    }
    b->lab_off = calloc((size_t)b->n + 1, sizeof(int));
    if (!b->lab_off && !rc) rc = err_set(err, ERR_RUNTIME, "out of memory");

    char name[4096];           /* a label as found in a path: one file or folder name, or a regex group */
    char *buf = NULL;          /* the label (a copy of a csv cell, or the escaped name) */
    size_t buf_cap = 0;
    char *pieces[MAX_LABELS_PER_ITEM];
    for (int i = 0; i < b->n && !rc; i++) {
        b->lab_off[i] = b->lab.n;
        if (b->split[i] < 0) continue;
        const char *path = b->paths.v[i];
        if (s->kind == TARGET_POINTS) {
            int r = points_table_find(&pt, rel_path(b, path));
            if (r < 0) {
                err_set(err, ERR_RUNTIME, "%s: no points for this item in %s (looked for '%s' and '%s')", path,
                        pt.path, rel_path(b, path), label_basename(path));
                rc = item_bad(b, i, err);
                continue;
            }
            memcpy(b->pts + (size_t)i * b->n_y, pt.xy + (size_t)r * b->n_y, sizeof(float) * b->n_y);
            b->pts_line[i] = pt.lines[r];
            continue;
        }
        const char *label = NULL, *found = NULL;
        switch (s->y) {
        case DB_Y_PARENT:
            found = label_parent(path, name, sizeof name);
            if (!*found) err_set(err, ERR_RUNTIME, "%s: parent_label: the file is not in a folder", path);
            break;
        case DB_Y_REGEX:
            if (regex_labeller_apply(&re, path, name, sizeof name, err) == 0) found = name;
            break;
        case DB_Y_COL: {
            const char *cell = csv_cell(&b->csv, b->rows[i], ycol);
            if (!grow(&buf, &buf_cap, strlen(cell) + 1)) {
                rc = err_set(err, ERR_RUNTIME, "out of memory");
                continue;
            }
            strcpy(buf, cell);   /* label_split cuts it up */
            label = buf;
            if (!*label && s->kind == TARGET_CATEGORY)
                err_set(err, ERR_RUNTIME, "%s:%d: empty label in column '%s' for %s", b->csv.path,
                        b->csv.lines[b->rows[i]], b->csv.names ? b->csv.names[ycol] : "?", path);
            break;
        }
        case DB_Y_POINTS: break;
        }
        if (found && *found) {   /* a name from the file system: kept whatever its bytes (labels.h) */
            if (!grow(&buf, &buf_cap, 4 * strlen(found) + 1)) {
                rc = err_set(err, ERR_RUNTIME, "out of memory");
                continue;
            }
            label_escape(found, buf, buf_cap);
            label = buf;
        }
        if (!label || (!*label && s->kind == TARGET_CATEGORY)) {
            rc = item_bad(b, i, err);
            continue;
        }
        if (s->kind == TARGET_MULTI) {
            int k = s->label_delim ? label_split(buf, s->label_delim, pieces, MAX_LABELS_PER_ITEM)
                                   : (*buf ? (pieces[0] = buf, 1) : 0);
            if (k > MAX_LABELS_PER_ITEM) {
                if (s->y == DB_Y_COL)
                    err_set(err, ERR_RUNTIME, "%s:%d: %d labels in one cell, more than the %d an item can have",
                            b->csv.path, b->csv.lines[b->rows[i]], k, MAX_LABELS_PER_ITEM);
                else
                    err_set(err, ERR_RUNTIME, "%s: %d labels, more than the %d an item can have", path, k,
                            MAX_LABELS_PER_ITEM);
                rc = item_bad(b, i, err);
                continue;
            }
            for (int j = 0; j < k && !rc; j++) {
                int dup = 0;   /* "cat cat" is one label */
                for (int q = b->lab_off[i]; q < b->lab.n; q++) dup |= strcmp(b->lab.v[q], pieces[j]) == 0;
                if (!dup && strlist_push(&b->lab, pieces[j])) rc = err_set(err, ERR_RUNTIME, "out of memory");
            }
        } else if (strlist_push(&b->lab, label)) {
            rc = err_set(err, ERR_RUNTIME, "out of memory");
        }
    }
    if (b->lab_off) b->lab_off[b->n] = b->lab.n;
    free(buf);
    regex_labeller_free(&re);
    points_table_free(&pt);
    return rc;
}

/* ---- vocab ------------------------------------------------------------------- */

typedef struct VocabIx {
    char **sorted;   /* vocab strings in strcmp order */
    int *index;      /* their index in the vocab */
    int n;
} VocabIx;

static int cmp_pstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct VocabPair {
    char *s;
    int i;
} VocabPair;

static int cmp_pair(const void *a, const void *b)
{
    const VocabPair *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int vocab_find(const VocabIx *v, const char *s)
{
    int lo = 0, hi = v->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(v->sorted[mid], s);
        if (c == 0) return v->index[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* A set of strings (pointers into the build's lists), open addressing: the
 * vocab of a million labels in one pass, without sorting them all. */
typedef struct StrSet {
    const char **slot;    /* [cap] NULL = free */
    size_t cap, n;
} StrSet;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Add s unless present; *added says which.  -1: out of memory. */
static int strset_add(StrSet *h, const char *s, int *added)
{
    if (2 * (h->n + 1) > h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 256;
        const char **slot = calloc(cap, sizeof *slot);
        if (!slot) return -1;
        for (size_t i = 0; i < h->cap; i++) {
            if (!h->slot[i]) continue;
            size_t j = str_hash(h->slot[i]) & (cap - 1);
            while (slot[j]) j = (j + 1) & (cap - 1);
            slot[j] = h->slot[i];
        }
        free(h->slot);
        h->slot = slot, h->cap = cap;
    }
    size_t j = str_hash(s) & (h->cap - 1);
    for (; h->slot[j]; j = (j + 1) & (h->cap - 1))
        if (strcmp(h->slot[j], s) == 0) return *added = 0, 0;
    h->slot[j] = s, h->n++;
    return *added = 1, 0;
}

/* The vocab: given, or the training items' labels (sorted unique, or in order
 * of first appearance), '#na#' first with add_na. */
static int make_vocab(Build *b, StrList *vocab, Err *err)
{
    const DbSpec *s = b->s;
    if (s->add_na && strlist_push(vocab, "#na#")) return err_set(err, ERR_RUNTIME, "out of memory");
    if (s->vocab) {
        StrList given = {0};
        for (int i = 0; i < s->n_vocab; i++)
            if (strlist_push(&given, s->vocab[i])) return strlist_free(&given), err_set(err, ERR_RUNTIME, "out of memory");
        if (!s->vocab_unsorted) strlist_sort(&given);
        for (int i = 0; i < given.n; i++)
            if (strlist_push(vocab, given.v[i])) return strlist_free(&given), err_set(err, ERR_RUNTIME, "out of memory");
        strlist_free(&given);
        return 0;
    }
    /* the distinct labels in order of first appearance, then sorted unless asked not to */
    StrSet seen = {0};
    char **uniq = NULL;
    size_t n_uniq = 0, cap = 0;
    int rc = 0;
    for (int i = 0; i < b->n && !rc; i++) {
        if (b->split[i] != 0 || b->drop[i]) continue;
        for (int q = b->lab_off[i]; q < b->lab_off[i + 1] && !rc; q++) {
            int added;
            if (strset_add(&seen, b->lab.v[q], &added)) rc = -1;
            else if (added) {
                if (n_uniq == cap) {
                    cap = cap ? 2 * cap : 256;
                    char **u = realloc(uniq, sizeof *u * cap);
                    if (!u) rc = -1;
                    else uniq = u;
                }
                if (!rc) uniq[n_uniq++] = b->lab.v[q];
            }
        }
    }
    if (!rc && !s->vocab_unsorted && n_uniq > 1) qsort(uniq, n_uniq, sizeof *uniq, cmp_pstr);
    for (size_t i = 0; !rc && i < n_uniq; i++) rc = strlist_push(vocab, uniq[i]);
    free(uniq), free(seen.slot);
    return rc ? err_set(err, ERR_RUNTIME, "out of memory") : 0;
}

/* Labels outside the vocab: an error listing them (with counts and an example
 * item), or with skip_bad, the items are dropped and recorded. */
static int check_vocab(Build *b, const VocabIx *vx, Err *err)
{
    StrList unknown = {0};
    int bad_items = 0, first_bad = -1;
    for (int i = 0; i < b->n; i++) {
        if (b->split[i] < 0 || b->drop[i]) continue;
        for (int q = b->lab_off[i]; q < b->lab_off[i + 1]; q++) {
            if (vocab_find(vx, b->lab.v[q]) >= 0) continue;
            if (first_bad < 0) first_bad = i;
            bad_items++;
            int dup = 0;   /* the message names the first few only: no need to collect more */
            for (int u = 0; u < unknown.n; u++) dup |= strcmp(unknown.v[u], b->lab.v[q]) == 0;
            if (!dup && unknown.n < 64) strlist_push(&unknown, b->lab.v[q]);
            if (b->s->skip_bad) {
                Err e = {0};
                err_set(&e, ERR_RUNTIME, "%s: label '%s' is not in the vocab (the training labels)", b->paths.v[i],
                        b->lab.v[q]);
                item_bad(b, i, &e);
            }
            break;
        }
    }
    if (!bad_items || b->s->skip_bad) {
        strlist_free(&unknown);
        return 0;
    }
    char list[600] = "";
    size_t len = 0;
    for (int u = 0; u < unknown.n && len < sizeof list - 40; u++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", u ? ", " : "", unknown.v[u]);
    if (len >= sizeof list - 40) snprintf(list + len, sizeof list - len, ", ...");
    const char *where = b->s->vocab ? "the given vocab" : "the training split's labels";
    err_set(err, ERR_RUNTIME,
            "%d %sitem%s ha%s labels not in %s (%d labels): %s (e.g. %s); fix the split, or set [data] "
            "on_bad_item = skip to leave them out",
            bad_items, b->s->vocab ? "" : "validation ", bad_items == 1 ? "" : "s", bad_items == 1 ? "s" : "ve",
            where, vx->n, list, b->paths.v[first_bad]);
    strlist_free(&unknown);
    return err->code;
}

/* ---- the whole block --------------------------------------------------------- */

static int fill_dataset(Build *b, StrList *vocab, const VocabIx *vx, Dataset *ds, Err *err)
{
    const DbSpec *s = b->s;
    int n = 0;
    for (int i = 0; i < b->n; i++) n += b->split[i] >= 0 && !b->drop[i];
    ds->kind = s->kind;
    /* the listed paths are handed over as they are (no copy of a million strings),
     * their pointer array compacted to the items kept below */
    ds->path_store = b->paths;
    ds->paths = ds->path_store.v;
    memset(&b->paths, 0, sizeof b->paths);
    ds->train_idx = malloc(sizeof(int32_t) * ((size_t)n + 1));
    ds->valid_idx = malloc(sizeof(int32_t) * ((size_t)n + 1));
    if (!ds->train_idx || !ds->valid_idx) return err_set(err, ERR_RUNTIME, "out of memory");
    if (s->kind == TARGET_CATEGORY) ds->yi = malloc(sizeof(int32_t) * ((size_t)n + 1));
    else {
        ds->n_y = s->kind == TARGET_MULTI ? vocab->n : b->n_y;
        ds->y = calloc((size_t)n * ds->n_y + 1, sizeof(float));
    }
    if ((s->kind == TARGET_CATEGORY && !ds->yi) || (s->kind != TARGET_CATEGORY && !ds->y))
        return err_set(err, ERR_RUNTIME, "out of memory");
    if (s->kind == TARGET_POINTS) {
        ds->y_line = malloc(sizeof(int) * ((size_t)n + 1));
        ds->y_file = b->pts_file;
        b->pts_file = NULL;   /* moved */
        if (!ds->y_line) return err_set(err, ERR_RUNTIME, "out of memory");
    }
    int k = 0;
    for (int i = 0; i < b->n; i++) {
        if (b->split[i] < 0 || b->drop[i]) continue;
        ds->paths[k] = ds->paths[i];   /* k <= i */
        ds->n_items = k + 1;
        if (b->split[i]) ds->valid_idx[ds->n_valid++] = k;
        else ds->train_idx[ds->n_train++] = k;
        if (s->kind == TARGET_CATEGORY) {
            ds->yi[k] = vocab_find(vx, b->lab.v[b->lab_off[i]]);
        } else if (s->kind == TARGET_MULTI) {
            for (int q = b->lab_off[i]; q < b->lab_off[i + 1]; q++) {
                int c = vocab_find(vx, b->lab.v[q]);
                if (c >= 0) ds->y[(size_t)k * ds->n_y + c] = 1.0f;
            }
        } else {
            memcpy(ds->y + (size_t)k * ds->n_y, b->pts + (size_t)i * b->n_y, sizeof(float) * b->n_y);
            ds->y_line[k] = b->pts_line[i];
        }
        k++;
    }
    /* the lists' strings live in their chunks (items.h): the dataset gets copies */
    if (s->kind != TARGET_POINTS) {
        ds->vocab = calloc((size_t)vocab->n + 1, sizeof(char *));
        if (!ds->vocab) return err_set(err, ERR_RUNTIME, "out of memory");
        for (int v = 0; v < vocab->n; v++, ds->n_vocab = v)
            if (!(ds->vocab[v] = strdup(vocab->v[v]))) return err_set(err, ERR_RUNTIME, "out of memory");
    }
    ds->skipped = calloc((size_t)b->skipped.n + 1, sizeof(char *));
    if (!ds->skipped) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int q = 0; q < b->skipped.n; q++, ds->n_skipped = q)
        if (!(ds->skipped[q] = strdup(b->skipped.v[q]))) return err_set(err, ERR_RUNTIME, "out of memory");
    if (ds->n_train == 0)
        return err_set(err, ERR_RUNTIME, "no training items left after the split (%d items, %d validation, %d skipped)",
                       ds->n_items, ds->n_valid, ds->n_skipped);
    return 0;
}

int datablock_build_spec(const DbSpec *s, Dataset *ds, Err *err)
{
    memset(ds, 0, sizeof *ds);
    if (s->kind != TARGET_CATEGORY && s->kind != TARGET_MULTI && s->kind != TARGET_POINTS)
        return err_set(err, ERR_USAGE, "the data block builds category, multi-label or point targets only");
    Build b = {.s = s, .root = s->path ? s->path : "."};
    StrList vocab = {0};
    VocabIx vx = {0};
    int rc = list_items(&b, err);
    if (!rc) {
        b.split = malloc((size_t)b.n);
        b.drop = calloc((size_t)b.n, 1);
        if (!b.split || !b.drop) rc = err_set(err, ERR_RUNTIME, "out of memory");
    }
    if (!rc) rc = do_split(&b, err);
    if (!rc) {
        int nt = 0, nv = 0;
        for (int i = 0; i < b.n; i++) nt += b.split[i] == 0, nv += b.split[i] == 1;
        if (nt == 0)
            rc = err_set(err, ERR_RUNTIME, "the splitter put no item in the training split (%d items, %d validation)",
                         b.n, nv);
    }
    if (!rc) rc = label_items(&b, err);
    if (!rc && s->kind != TARGET_POINTS) {
        rc = make_vocab(&b, &vocab, err);
        if (!rc) {
            vx.n = vocab.n;
            vx.sorted = malloc(sizeof(char *) * ((size_t)vocab.n + 1));
            vx.index = malloc(sizeof(int) * ((size_t)vocab.n + 1));
            if (!vx.sorted || !vx.index) rc = err_set(err, ERR_RUNTIME, "out of memory");
        }
        if (!rc) {
            VocabPair *pairs = malloc(sizeof(VocabPair) * ((size_t)vocab.n + 1));
            if (!pairs) rc = err_set(err, ERR_RUNTIME, "out of memory");
            for (int i = 0; !rc && i < vocab.n; i++) pairs[i].s = vocab.v[i], pairs[i].i = i;
            if (!rc) qsort(pairs, (size_t)vocab.n, sizeof *pairs, cmp_pair);
            for (int i = 0; !rc && i < vocab.n; i++) vx.sorted[i] = pairs[i].s, vx.index[i] = pairs[i].i;
            free(pairs);
            for (int i = 1; i < vocab.n && !rc; i++)
                if (strcmp(vx.sorted[i], vx.sorted[i - 1]) == 0)
                    rc = err_set(err, ERR_USAGE, "vocab: the label '%s' is given twice", vx.sorted[i]);
        }
        if (!rc && vocab.n == 0 && s->kind == TARGET_CATEGORY)
            rc = err_set(err, ERR_RUNTIME, "no labels: the training split is empty");
        if (!rc) rc = check_vocab(&b, &vx, err);
    }
    if (!rc) rc = fill_dataset(&b, &vocab, &vx, ds, err);
    free(vx.sorted);
    free(vx.index);
    strlist_free(&vocab);
    build_free(&b);
    if (rc) dataset_free(ds);
    return rc;
}
