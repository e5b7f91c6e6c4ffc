/* fuzz_csv.c — libFuzzer target for the CSV reader and what reads labels and
 * points from it (`make fuzz-csv`).
 *
 * The first input byte picks the options (separator, header row, Latin-1,
 * caller-given column names); the rest is the file.  A table that parses must
 * keep csv.h's promises: every cell a UTF-8 string (so a label taken from it
 * reads back from a model file), lines increasing from 1, names where a
 * header or names were asked for, csv_col finding each name at or before its
 * column.  Every cell is split as a multi-label cell.  The same bytes are read
 * as a PointsFromCSV file, whose numbers must all be finite, and as a file
 * name whose label (label_escape) must be UTF-8 and unescape to the very
 * bytes.  A refusal must be one line with an exit status.  Any crash, leak,
 * sanitizer report or abort() here is a bug. */
#include "core/utf8.h"
#include "data/csv.h"
#include "data/labels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void check_err(const Err *err)
{
    if ((err->code != ERR_RUNTIME && err->code != ERR_USAGE) || !err->msg[0] || strchr(err->msg, '\n')) abort();
}

static void check_table(const CsvTable *t, const CsvOptions *o)
{
    if (t->n_rows < 0 || t->n_cols < 0 || !t->path) abort();
    if ((o->n_names || (o->header && t->n_rows > 0)) && !t->names) abort();
    if (o->n_names && t->n_cols != o->n_names) abort();
    for (int c = 0; t->names && c < t->n_cols; c++) {
        if (!t->names[c] || !utf8_valid(t->names[c], strlen(t->names[c]), NULL)) abort();
        int k = csv_col(t, t->names[c]);
        if (k < 0 || k > c) abort();
    }
    int last = 0;
    char *pieces[8];
    for (int r = 0; r < t->n_rows; r++) {
        if (t->lines[r] <= last) abort();
        last = t->lines[r];
        for (int c = 0; c < t->n_cols; c++) {
            const char *cell = csv_cell(t, r, c);
            size_t n = strlen(cell);
            if (!utf8_valid(cell, n, NULL)) abort();
            char *copy = strdup(cell);
            if (!copy) abort();
            int k = label_split(copy, " ", pieces, 8);
            for (int j = 0; j < k && j < 8; j++)
                if (!*pieces[j] || strchr(pieces[j], ' ')) abort();
            free(copy);
        }
    }
}

static void fuzz_points(const uint8_t *data, size_t n, char sep)
{
    static int fd = -1;   /* one memfd for the whole run, rewritten each time */
    if (fd < 0 && (fd = memfd_create("points.csv", 0)) < 0) abort();
    if (ftruncate(fd, 0) || (n && pwrite(fd, data, n, 0) != (ssize_t)n)) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    PointsTable pt;
    Err err = {0};
    if (points_table_load(path, sep, &pt, &err) == 0) {
        if (pt.n_rows < 1 || pt.n_points < 1) abort();
        for (size_t i = 0; i < (size_t)pt.n_rows * 2 * pt.n_points; i++)
            if (!isfinite(pt.xy[i])) abort();
        for (int i = 0; i < pt.n_rows; i++) {
            if (i && strcmp(pt.keys[i - 1], pt.keys[i]) >= 0) abort();   /* sorted, unique */
            if (points_table_find(&pt, pt.keys[i]) < 0) abort();
        }
        points_table_free(&pt);
    } else {
        check_err(&err);
    }
}

static void fuzz_label_name(const uint8_t *data, size_t n)
{
    size_t len = strnlen((const char *)data, n < 512 ? n : 512);
    char name[513], out[4 * 512 + 1], back[513];
    memcpy(name, data, len);
    name[len] = 0;
    int k = label_escape(name, out, sizeof out);
    if (k < 0 || (size_t)k != strlen(out) || !utf8_valid(out, (size_t)k, NULL)) abort();
    if (label_unescape(out, back, sizeof back) != (int)len || memcmp(back, name, len + 1)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    static const char seps[] = {',', '\t', '|', ';', ' ', '"', '\n', 0};
    uint8_t opt = data[0];
    static const char *const names[] = {"fname", "labels", "is_valid"};
    CsvOptions o = {.sep = seps[opt & 7], .header = (opt >> 3) & 1, .latin1 = (opt >> 4) & 1,
                    .names = names, .n_names = (opt >> 5) & 3};
    CsvTable t;
    Err err = {0};
    if (csv_parse((const char *)data + 1, n - 1, "fuzz.csv", &o, &t, &err) == 0) {
        check_table(&t, &o);
        csv_free(&t);
    } else {
        check_err(&err);
        if (t.cells || t.names || t.text_) abort();
    }
    if (!(opt & 0x80)) fuzz_points(data + 1, n - 1, o.sep == '"' || o.sep == '\n' ? ',' : o.sep);
    fuzz_label_name(data + 1, n - 1);
    return 0;
}
