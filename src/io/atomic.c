/* atomic.c — write-to-temporary, fsync, rename (see atomic.h). */
#include "io/atomic.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A temporary is PATH + TMP_TAG + mkstemp's 6 characters (atomic_remove_stale knows it by that). */
#define TMP_TAG ".tmp."

int atomic_fsync_dir_of(const char *path, Err *err)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) return err_set(err, ERR_RUNTIME, "%s: path too long", path);
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return err_set(err, ERR_RUNTIME, "%s: cannot open folder: %s", dir, strerror(errno));
    /* Some file systems refuse fsync on folders (EINVAL); the rename is then as
     * durable as that file system makes it, which is not an error of ours. */
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL && e != EROFS)
        return err_set(err, ERR_RUNTIME, "%s: cannot sync folder: %s", dir, strerror(e));
    return 0;
}

/* The umask without changing it: umask(2) can only be read by setting it,
 * which would race with other threads creating files. */
static mode_t current_umask(void)
{
    mode_t um = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return um;
    char line[256];
    unsigned v;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &v) == 1) {
            um = (mode_t)v;
            break;
        }
    fclose(f);
    return um;
}

int atomic_open(AtomicFile *af, const char *path, Err *err)
{
    af->f = NULL;
    af->tmp[0] = 0;
    if (strlen(path) >= sizeof af->path)
        return err_set(err, ERR_RUNTIME, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    /* Same folder (rename is atomic only within one file system); a unique
     * suffix so two processes never share a temporary. */
    snprintf(af->tmp, sizeof af->tmp, "%s" TMP_TAG "XXXXXX", path);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int e = errno;
        af->tmp[0] = 0;
        return err_set(err, ERR_RUNTIME, "%s: cannot create: %s", path, strerror(e));
    }
    /* mkstemp makes 0600; give the mode open(2) would (0666 less the umask). */
    fchmod(fd, 0666 & ~current_umask());
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp);
        af->tmp[0] = 0;
        return err_set(err, ERR_RUNTIME, "%s: cannot open: %s", path, strerror(e));
    }
    return 0;
}

void atomic_abort(AtomicFile *af)
{
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) unlink(af->tmp);
    af->tmp[0] = 0;
}

int atomic_commit(AtomicFile *af, Err *err)
{
    if (!af->f) return err_set(err, ERR_RUNTIME, "%s: file was not opened", af->path);
    int bad = ferror(af->f) || fflush(af->f) != 0;
    int e = errno;
    if (!bad && fsync(fileno(af->f)) != 0) bad = 1, e = errno;
    if (fclose(af->f) != 0 && !bad) bad = 1, e = errno;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        af->tmp[0] = 0;
        return err_set(err, ERR_RUNTIME, "%s: write failed: %s", af->path, strerror(e ? e : EIO));
    }
    if (rename(af->tmp, af->path) != 0) {
        e = errno;
        unlink(af->tmp);
        af->tmp[0] = 0;
        return err_set(err, ERR_RUNTIME, "%s: cannot rename into place: %s", af->path, strerror(e));
    }
    af->tmp[0] = 0;
    return atomic_fsync_dir_of(af->path, err);
}

int atomic_remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        const size_t tag = sizeof TMP_TAG - 1, tail_len = tag + 6;   /* TMP_TAG and mkstemp's XXXXXX */
        const char *tail = len > tail_len ? e->d_name + len - tail_len : NULL;
        int ours = tail && !strncmp(tail, TMP_TAG, tag);
        for (size_t k = tag; ours && k < tail_len; k++) ours = isalnum((unsigned char)tail[k]);
        char p[8400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (ours && unlink(p) == 0) n++;
    }
    closedir(d);
    return n;
}

int atomic_write_file(const char *path, const void *data, size_t n, Err *err)
{
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    if (n && fwrite(data, 1, n, af.f) != n) {
        int e = errno;
        atomic_abort(&af);
        return err_set(err, ERR_RUNTIME, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    return atomic_commit(&af, err);
}

int atomic_append_line(const char *path, const char *line, Err *err)
{
    size_t n = strlen(line);
    int add_nl = n == 0 || line[n - 1] != '\n';
    char *buf = malloc(n + 2);
    if (!buf) return err_set(err, ERR_RUNTIME, "%s: out of memory", path);
    memcpy(buf, line, n);
    if (add_nl) buf[n++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        free(buf);
        return err_set(err, ERR_RUNTIME, "%s: cannot open for appending: %s", path, strerror(e));
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            free(buf);
            return err_set(err, ERR_RUNTIME, "%s: append failed: %s", path, strerror(e));
        }
        done += (size_t)w;
    }
    free(buf);
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return err_set(err, ERR_RUNTIME, "%s: cannot sync: %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

int atomic_mkdirs(const char *dir, Err *err)
{
    char tmp[4096];
    if (strlen(dir) >= sizeof tmp) return err_set(err, ERR_RUNTIME, "%s: path too long", dir);
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return err_set(err, ERR_RUNTIME, "%s: cannot create folder: %s", tmp, strerror(errno));
            struct stat st;
            if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
                return err_set(err, ERR_RUNTIME, "%s: exists and is not a folder", tmp);
            *p = c;
            if (!c) break;
        }
    }
    return 0;
}
