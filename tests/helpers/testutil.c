/* testutil.c — see testutil.h. */
#include "testutil.h"

#include "io/safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every folder tu_tmpdir makes lies in one folder per test program, made
 * before main() and removed when that process exits: a test that fails (Check
 * ends its forked process at the failed assertion, before the test's own
 * clean-up) or times out leaves nothing behind.  Only the process that made it
 * removes it (forked tests exit too). */
static char tmp_base[4096];
static pid_t tmp_owner;

static void tmp_base_remove(void)
{
    if (tmp_base[0] && getpid() == tmp_owner) tu_rmtree(tmp_base);
}

__attribute__((constructor)) static void tmp_base_make(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmp_base, sizeof tmp_base, "%s/fastc-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp_base)) {
        perror("mkdtemp");
        abort();
    }
    tmp_owner = getpid();
    atexit(tmp_base_remove);
}

const char *tu_tmpdir(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/XXXXXX", tmp_base);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return buf;
}

void tu_rmtree(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

static void mkdirs_for(const char *file)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", file);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
}

const char *tu_write(const char *dir, const char *name, const void *data, size_t n, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", dir, name);
    mkdirs_for(buf);
    FILE *f = fopen(buf, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "tu_write %s: %s\n", buf, strerror(errno));
        abort();
    }
    return buf;
}

int tu_same_file(const char *path_a, const char *path_b)
{
    enum { BLOCK = 1 << 18 };
    FILE *a = fopen(path_a, "rb"), *b = fopen(path_b, "rb");
    char *x = malloc(BLOCK), *y = malloc(BLOCK);
    int same = a && b && x && y;
    while (same) {
        size_t na = fread(x, 1, BLOCK, a), nb = fread(y, 1, BLOCK, b);
        same = na == nb && memcmp(x, y, na) == 0 && !ferror(a) && !ferror(b);
        if (na < BLOCK) break;
    }
    if (a) fclose(a);
    if (b) fclose(b);
    free(x), free(y);
    return same;
}

double tu_max_rel_err(const float *a, const float *b, size_t n, double floor)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double s = fmax(fmax(fabs((double)a[i]), fabs((double)b[i])), floor);
        if (!(d / s <= worst)) worst = d / s;  /* NaN counts as worst */
        if (isnan(worst)) return INFINITY;
    }
    return worst;
}

int tu_run(const char *cmd, char *out, size_t cap)
{
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t len = 0;
    if (cap) out[0] = 0;
    char tmp[4096];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, p)) > 0) {
        if (cap && len + 1 < cap) {
            size_t take = k < cap - 1 - len ? k : cap - 1 - len;
            memcpy(out + len, tmp, take);
            len += take;
            out[len] = 0;
        }
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

const char *tu_fastc(void)
{
    const char *f = getenv("FASTC");
    return f && *f ? f : "./fastc";
}

int tu_safetensors_drop(const char *path, const char *name)
{
    Err e = {0};
    StFile *f;
    if (st_open(path, &f, &e)) return -1;
    StWriter *w = st_writer_new();
    void **bufs = calloc(f->n_tensors + 1, sizeof *bufs);
    int found = 0, bad = !w || !bufs;
    for (size_t k = 0; !bad && k < f->meta.n; k++) bad = st_meta_set(st_writer_meta(w), f->meta.keys[k], f->meta.vals[k]);
    for (size_t i = 0; !bad && i < f->n_tensors; i++) {
        const StTensor *t = &f->tensors[i];
        if (!strcmp(t->name, name)) {
            found = 1;
            continue;
        }
        bufs[i] = malloc(t->nbytes ? t->nbytes : 1);
        bad = !bufs[i] || st_read_raw(f, t, bufs[i], t->nbytes, &e) ||
              st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, bufs[i], &e);
    }
    bad = bad || !found || st_writer_write(w, path, &e);
    st_writer_free(w);
    for (size_t i = 0; bufs && i < f->n_tensors; i++) free(bufs[i]);
    free(bufs);
    st_close(f);
    return bad ? -1 : 0;
}
