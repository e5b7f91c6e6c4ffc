/* lock.c — see lock.h. */
#include "io/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int run_lock(RunLock *lk, const char *dir, Err *err)
{
    lk->held = 0, lk->fd = -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, RUN_LOCK_NAME);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return err_set(err, ERR_RUNTIME, "%s: cannot open the output folder's lock: %s", path, strerror(errno));
    /* The holder may end between a refused F_SETLK and the F_GETLK that asks
     * who it is: then try again. */
    for (int attempt = 0; attempt < 5; attempt++) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        if (fcntl(fd, F_SETLK, &fl) == 0) {
            char pid[32];
            int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
                /* the pid text is for people only: the lock is the fcntl lock */
            }
            lk->fd = fd, lk->held = 1;
            return 0;
        }
        if (errno != EACCES && errno != EAGAIN) {
            int e = errno;
            close(fd);
            return err_set(err, ERR_RUNTIME, "%s: cannot lock the output folder: %s", path, strerror(e));
        }
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK) {
            close(fd);
            return err_set(err, ERR_RUNTIME, "%s: another fastc run (pid %ld) is using this output folder; wait for it "
                                             "to end, or set another [output] dir", dir, (long)who.l_pid);
        }
    }
    close(fd);
    return err_set(err, ERR_RUNTIME, "%s: another fastc run is using this output folder; wait for it to end, or set "
                                     "another [output] dir", dir);
}

void run_unlock(RunLock *lk)
{
    if (lk->held) close(lk->fd);
    lk->held = 0, lk->fd = -1;
}
