/* splitters.h — fastai's splitters: which items train and which validate.
 *
 * Each fills is_valid[n]: 0 = training, 1 = validation, -1 = neither (an item
 * GrandparentSplitter finds in no named folder, as in fastai, is used by
 * neither split).
 */
#ifndef FASTC_SPLITTERS_H
#define FASTC_SPLITTERS_H

#include "core/err.h"
#include "data/csv.h"

#include <stdint.h>

/* RandomSplitter(valid_pct, seed): a permutation of 0..n-1 from our own
 * counter-based RNG (core/rng.h, so the same on every machine); the first
 * int(valid_pct * n) items of it validate, as fastai's
 * randperm(n)[:cut] does. */
void split_random(int n, double valid_pct, uint64_t seed, int8_t *is_valid);

/* GrandparentSplitter(train_name, valid_name): by the name of the folder two
 * levels above each file. */
void split_grandparent(char *const *paths, int n, const char *train_name, const char *valid_name,
                       int8_t *is_valid);

/* FuncSplitter(parent_name=...): items whose parent folder has this name validate. */
void split_parent_name(char *const *paths, int n, const char *name, int8_t *is_valid);

/* ColSplitter(col): rows[i] is item i's row in t; the cell must be true/false,
 * True/False, TRUE/FALSE or 1/0, anything else an error naming file:line. */
int split_col(const CsvTable *t, int col, const int *rows, int n, int8_t *is_valid, Err *err);

#endif
