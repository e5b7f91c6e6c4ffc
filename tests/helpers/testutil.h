/* testutil.h — small helpers shared by the suites: temporary folders, files,
 * comparing float arrays. */
#ifndef FASTC_TESTUTIL_H
#define FASTC_TESTUTIL_H

#include <stddef.h>

/* A fresh empty folder in this test program's own folder under $TMPDIR (or
 * /tmp), which goes when the program exits, whatever failed; path written to buf. */
const char *tu_tmpdir(char *buf, size_t cap);
/* Remove a folder tree (rm -rf). */
void tu_rmtree(const char *path);
/* Write text/bytes to dir/name (creating sub-folders); returns the full path in buf. */
const char *tu_write(const char *dir, const char *name, const void *data, size_t n, char *buf, size_t cap);
/* 1 when both files can be read and hold the same bytes, else 0.  Read a
 * block at a time: a whole-file buffer of a checkpoint costs more in page
 * faults than the reading. */
int tu_same_file(const char *path_a, const char *path_b);
/* Largest |a-b| / max(|a|,|b|,floor) over n elements. */
double tu_max_rel_err(const float *a, const float *b, size_t n, double floor);
/* Run a shell command, capture stdout+stderr into out (truncated); returns exit status. */
int tu_run(const char *cmd, char *out, size_t cap);
/* Rewrite the safetensors file at path as it is (metadata, other tensors) but
 * without tensor `name`: a crafted damaged file.  0, or -1 when the file cannot
 * be read or written or has no such tensor. */
int tu_safetensors_drop(const char *path, const char *name);
/* Path of the fastc binary under test ($FASTC, else ./fastc). */
const char *tu_fastc(void);

#endif
