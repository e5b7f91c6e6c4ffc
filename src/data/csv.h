/* csv.h — reading CSV/TSV files into a table of UTF-8 strings.
 *
 * Shared by the image data block (labels, splits, point files) and collab
 * (ratings, item names).  Follows what pandas.read_csv accepts by default:
 * an optional header row, fields in double quotes holding separators, quotes
 * ("" is one quote) and newlines, any one-byte separator (',', '\t', '|', ...),
 * \n, \r\n or \r line ends, a UTF-8 byte-order mark, empty fields, blank lines
 * skipped.  A row with a different number of fields than the header (or the
 * first row) is an error naming file:line.  The text must be UTF-8 (pandas'
 * default encoding): a byte that is not, or a NUL byte, is an error naming
 * file:line, so every cell is UTF-8 and whole.  latin1 = 1 reads ISO-8859-1
 * text (MovieLens' u.item) and converts it to UTF-8.
 *
 * The whole table lives in two allocations; cells are never NULL ("" when
 * empty).  Reading is one pass over the bytes (100k rows in milliseconds).
 */
#ifndef FASTC_CSV_H
#define FASTC_CSV_H

#include "core/err.h"

#include <stddef.h>

typedef struct CsvOptions {
    char sep;                  /* field separator; 0 means ',' */
    int header;                /* 1: the first row names the columns */
    int latin1;                /* 1: the file is Latin-1; cells come out UTF-8 */
    const char *const *names;  /* optional column names (override the header row if both) */
    int n_names;
} CsvOptions;

typedef struct CsvTable {
    int n_rows;        /* data rows (the header row excluded) */
    int n_cols;
    char **names;      /* [n_cols] column names, or NULL when neither header nor names */
    char **cells;      /* [n_rows * n_cols], row-major */
    int *lines;        /* [n_rows] the file line each row starts on (1-based) */
    char *path;        /* the file name used in messages */
    char *text_;       /* storage behind cells and names */
} CsvTable;

/* Read a file.  A missing or malformed file is ERR_RUNTIME (a bad data file is a run-time
 * failure, exit 1, not a config error); a malformed one names file:line. */
int  csv_read(const char *path, const CsvOptions *opt, CsvTable *t, Err *err);
/* Parse bytes already in memory; `name` is used in messages. */
int  csv_parse(const char *data, size_t n, const char *name, const CsvOptions *opt, CsvTable *t, Err *err);
void csv_free(CsvTable *t);   /* NULL-safe; zeroes the struct */

/* The index of the column called `name`, or -1. */
int  csv_col(const CsvTable *t, const char *name);
/* Like csv_col, but a missing column is an error listing the columns there are. */
int  csv_require_col(const CsvTable *t, const char *name, int *col, Err *err);
static inline const char *csv_cell(const CsvTable *t, int row, int col)
{
    return t->cells[(size_t)row * t->n_cols + col];
}

#endif
