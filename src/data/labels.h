/* labels.h — fastai's labelling functions (get_y) as plain C pieces:
 * parent_label, RegexLabeller, label_delim splitting, PointsFromCSV.
 * datablock.c wires them to the config; each is usable and tested alone.
 */
#ifndef FASTC_LABELS_H
#define FASTC_LABELS_H

#include "core/err.h"
#include "data/csv.h"

#include <regex.h>
#include <stddef.h>

/* The name of the folder holding `path` ("" when there is none), into buf. */
const char *label_parent(const char *path, char *buf, size_t cap);
/* The name of that folder's parent (GrandparentSplitter), into buf. */
const char *label_grandparent(const char *path, char *buf, size_t cap);
/* The file name part of a path (pointer into path). */
const char *label_basename(const char *path);

/* Labels made from file and folder names (parent_label, RegexLabeller) keep
 * every name, whatever its bytes.  A name that is UTF-8 and holds no
 * backslash is its own label; in any other, as Python's backslashreplace
 * writes it, a byte that is not UTF-8 becomes \xNN (two lower-case hex
 * digits) and a backslash becomes \\.  So every label is UTF-8 (the vocab in
 * a model file must be, for fastc and for Python to read it back), and two
 * names never give one label: label_unescape gives back the exact bytes.
 * Both return the length written, or -1 when out is too small (4 * strlen + 1
 * bytes always suffice) or, for label_unescape, when `label` is not
 * well-formed (a lone backslash, \x without two hex digits, \x00). */
int  label_escape(const char *name, char *out, size_t cap);
int  label_unescape(const char *label, char *out, size_t cap);

/* RegexLabeller(pat, match=False).  The pattern is written in Python's syntax
 * (as in fastai notebooks) and translated to POSIX extended regex (regcomp
 * REG_EXTENDED): \d \w \s and their negations, (?:...) and (?P<name>...)
 * groups, \A \Z, escaped punctuation.  What POSIX cannot express (lazy
 * quantifiers, look-arounds, back-references, \b) is an error saying so.
 * The label is the first capturing group.  The pattern is matched against the
 * file name, or against the whole path when it contains a '/' (fastai's older
 * r'/([^/]+)_\d+.jpg$' style); match=True anchors it at the start (re.match). */
typedef struct RegexLabeller {
    regex_t re;
    int group;        /* regex subexpression number of the label */
    int match;
    int on_path;      /* 1: applied to the whole path */
    char pat[512];    /* the pattern as the user wrote it, for messages */
} RegexLabeller;

/* Translate a Python regex into POSIX ERE; *group = number of the first
 * capturing group (0 if none).  ERR_USAGE naming the construct on failure. */
int  regex_translate(const char *py, char *out, size_t cap, int *group, Err *err);
int  regex_labeller_init(RegexLabeller *r, const char *pat, int match, Err *err);
/* The label of `path` into out; an item the pattern does not match is an
 * ERR_RUNTIME naming it. */
int  regex_labeller_apply(const RegexLabeller *r, const char *path, char *out, size_t cap, Err *err);
void regex_labeller_free(RegexLabeller *r);

/* Split a multi-label cell at `delim` (empty pieces dropped; an empty cell is
 * no labels).  Pieces are written as pointers into the mutable string s, the
 * first max_pieces of them; returns how many there are (more than max_pieces:
 * the caller says so, never drops them). */
int  label_split(char *s, const char *delim, char **pieces, int max_pieces);

/* PointsFromCSV: a table of  file, x0, y0[, x1, y1 ...]  rows in pixels.  An
 * optional header row is recognised by a non-numeric second field or an
 * empty first one (pandas writes ",0,1,2,..." for columns named 0, 1, 2);
 * a first column of row numbers under an empty name (pandas' index, written
 * without index=False) is skipped.  Every row must hold the same number of
 * points; a wrong count or a non-number is an error naming file:line.
 * With data_dir (the [data] path; NULL: none), a key is made a path under it
 * (key_under: an absolute path into it, or a path written from another
 * folder, "biwi/13/a.jpg", loses the folders before it), so that files of the
 * same name in two folders are told apart by their folders; two keys naming
 * the same file are an error.  Items are looked up by their path under the
 * data folder, then with fewer leading folders, down to the file name. */
typedef struct PointsTable {
    int n_rows, n_points;
    char **keys;       /* [n_rows] sorted */
    float *xy;         /* [n_rows, 2 * n_points], in key order */
    int *lines;        /* [n_rows] source line */
    char *path;
    CsvTable csv_;
} PointsTable;

int  points_table_load(const char *path, char sep, const char *data_dir, PointsTable *pt, Err *err);
/* Row of rel (path under the data folder) or, failing that, of the longest
 * key that ends it at a '/' (its file name at least); -1 if absent. */
int  points_table_find(const PointsTable *pt, const char *rel);
void points_table_free(PointsTable *pt);

/* A true/false cell as ColSplitter reads it: true/false, True/False, TRUE/FALSE, 1/0.
 * Returns 0 and sets *v, or -1 for anything else. */
int  label_parse_bool(const char *s, int *v);

#endif
