/* datablock.h — the data block as a plain description (DbSpec), between the
 * config and the Dataset.
 *
 * The setup layer (setup/setup.h) reads [data] into a DbSpec; tests and tools
 * can fill one directly.  datablock_build_spec() runs it.
 *
 * Rules (documented in README.md, "Data"):
 *  - Relative files of [data] (csv, PointsFromCSV's file, ColReader's pref)
 *    resolve against [data] path; path itself against the config's folder.
 *  - With `csv` set the items are its rows: get_x = ColReader(col, pref,
 *    suffix) gives each image path (default: the first column) and get_y
 *    defaults to the second column.  Without csv the items are
 *    get_image_files(path).
 *  - Vocab: sorted unique labels of the training split (or the block's vocab=).
 *    A validation item whose label is not in it is an error listing the
 *    unknown labels; with on_bad_item = skip it is left out and listed in
 *    ds->skipped, like an item no labeller can label.
 */
#ifndef FASTC_DATABLOCK_H
#define FASTC_DATABLOCK_H

#include "core/err.h"
#include "data/dataset.h"

#include <stdint.h>

typedef enum DbYKind { DB_Y_PARENT, DB_Y_REGEX, DB_Y_COL, DB_Y_POINTS } DbYKind;
typedef enum DbSplitKind { DB_SPLIT_RANDOM, DB_SPLIT_GRANDPARENT, DB_SPLIT_COL, DB_SPLIT_PARENT } DbSplitKind;

typedef struct DbSpec {
    const char *path;                 /* data folder, resolved; NULL = "." */
    const char *csv;                  /* resolved table of items, or NULL */
    char csv_sep;                     /* 0 = ',' */
    const char *const *csv_names;     /* column names when csv has no header row */
    int n_csv_names;
    /* get_image_files(folders, recurse) (items when csv is NULL) */
    const char *const *folders;
    int n_folders;
    int recurse;
    /* get_x = ColReader(col, pref, suffix) (csv items) */
    const char *x_col;                /* column name, or NULL to use x_col_idx */
    int x_col_idx;
    const char *x_pref, *x_suffix;
    /* target block */
    TargetKind kind;                  /* TARGET_CATEGORY, TARGET_MULTI, TARGET_POINTS */
    const char *const *vocab;         /* given vocab, or NULL */
    int n_vocab;
    int vocab_unsorted;               /* keep the given vocab's order / the order of first appearance
                                       * (CategoryBlock(sort=False)); else sorted */
    int add_na;                       /* insert '#na#' first */
    /* get_y */
    DbYKind y;
    const char *y_pat;                /* RegexLabeller */
    int y_match;
    const char *y_col;                /* ColReader: name, or NULL to use y_col_idx */
    int y_col_idx;
    const char *label_delim;          /* ColReader(label_delim=): NULL = one label per cell */
    const char *points_csv;           /* PointsFromCSV, resolved */
    /* splitter */
    DbSplitKind split;
    double valid_pct;
    uint64_t seed;
    const char *train_name, *valid_name;  /* GrandparentSplitter */
    const char *split_col;                /* ColSplitter: name, or NULL to use split_col_idx */
    int split_col_idx;
    const char *parent_name;              /* FuncSplitter */
    int skip_bad;                         /* on_bad_item = skip */
} DbSpec;

int datablock_build_spec(const DbSpec *s, Dataset *ds, Err *err);

#endif
