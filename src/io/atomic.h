/* atomic.h — files that are either wholly written or not there at all.
 *
 * Every file fastc writes (checkpoints, CSVs, PNGs, the resolved config) goes
 * through here: the bytes are written to a temporary name in the same folder,
 * flushed and fsync'ed, then renamed over the final name, and the folder is
 * fsync'ed so the rename itself survives a crash.  A crash or a kill at any
 * moment leaves either the old file or the new one, never a half-written one.
 *
 *     AtomicFile af;
 *     if (atomic_open(&af, "runs/x/model.safetensors", err)) return err->code;
 *     fwrite(..., af.f);                    // any stdio writes
 *     return atomic_commit(&af, err);       // or atomic_abort(&af) on failure
 *
 * Appending one line to a log (metrics.csv) is a different operation: the line
 * is appended with O_APPEND and fsync'ed at once (atomic_append_line).
 */
#ifndef FASTC_IO_ATOMIC_H
#define FASTC_IO_ATOMIC_H

#include "core/err.h"

#include <stddef.h>
#include <stdio.h>

typedef struct AtomicFile {
    FILE *f;            /* write here between open and commit/abort */
    char path[4096];    /* final name */
    char tmp[4200];     /* temporary name in the same folder */
} AtomicFile;

/* Create the temporary file next to `path` (the folder must exist). */
int atomic_open(AtomicFile *af, const char *path, Err *err);
/* Flush, fsync, close, rename to the final name, fsync the folder.  On any
 * failure the temporary file is removed and the final name is untouched.
 * af->f is closed either way. */
int atomic_commit(AtomicFile *af, Err *err);
/* Close and remove the temporary file (after a failed write). NULL-f safe. */
void atomic_abort(AtomicFile *af);

/* The whole cycle for a buffer already in memory. */
int atomic_write_file(const char *path, const void *data, size_t n, Err *err);

/* Append `line` (a trailing '\n' is added when missing) to `path`, creating it
 * when absent, then fsync.  One write(2) call, so a line is never interleaved. */
int atomic_append_line(const char *path, const char *line, Err *err);

/* fsync the folder that holds `path` (the part before the last '/', or "."). */
int atomic_fsync_dir_of(const char *path, Err *err);

/* Remove from folder `dir` the temporary files of writers that were killed
 * before their rename (names ending in ".tmp." and mkstemp's 6 characters):
 * fastc calls it on a run's own output folder when the run starts.  Returns
 * how many it removed (-1: the folder cannot be read). */
int atomic_remove_stale(const char *dir);

/* mkdir -p; existing folders are fine. */
int atomic_mkdirs(const char *dir, Err *err);

#endif
