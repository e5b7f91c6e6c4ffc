/* lock.h — one run at a time in an output folder.
 *
 * Two runs writing one folder would interleave their metrics.csv rows and
 * overwrite each other's model and resume state.  A run that writes a folder
 * (train, lr_find) first takes an advisory write lock (fcntl F_SETLK) on
 * `<dir>/.fastc.lock`; a second run finds it held and fails at once, naming
 * the folder and the process holding it (F_GETLK):
 *
 *     runs/pets: another fastc run (pid 4242) is using this output folder; wait for it to end, or set another [output] dir
 *
 * The kernel drops the lock whenever the process ends, however it ends
 * (kill -9 included), so a lock is never stale; the file itself stays (it
 * holds the last holder's pid, for people) and is harmless.  The lock lives
 * on the one descriptor opened here: nothing else may open and close that
 * file in the same process (closing any descriptor of a file drops the
 * process's fcntl locks on it).
 *
 *     RunLock lk;
 *     if (run_lock(&lk, "runs/pets", err)) return err->code;
 *     ...
 *     run_unlock(&lk);
 */
#ifndef FASTC_IO_LOCK_H
#define FASTC_IO_LOCK_H

#include "core/err.h"

typedef struct RunLock {
    int held;   /* 0 (a zeroed RunLock): not held */
    int fd;
} RunLock;

#define RUN_LOCK_NAME ".fastc.lock"

/* Take the lock of folder dir (which must exist); ERR_RUNTIME when another
 * process holds it or the lock file cannot be opened (lk->held 0 then). */
int run_lock(RunLock *lk, const char *dir, Err *err);
/* Release (idempotent; a zeroed RunLock is not held). */
void run_unlock(RunLock *lk);

#endif
