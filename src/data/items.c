/* items.c — see items.h. */
#include "data/items.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct StrChunk {
    StrChunk *next;
    size_t cap;
    char bytes[];
};

enum { STR_CHUNK = 1 << 16 };   /* bytes of a chunk (a longer string gets a chunk of its own size) */

int strlist_push_n(StrList *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, sizeof(char *) * cap);
        if (!v) return -1;
        l->v = v, l->cap = cap;
    }
    if (!l->chunks || l->room < len + 1) {
        size_t cap = len + 1 > (size_t)STR_CHUNK ? len + 1 : (size_t)STR_CHUNK;
        StrChunk *c = malloc(sizeof *c + cap);
        if (!c) return -1;
        c->next = l->chunks, c->cap = cap;
        l->chunks = c, l->room = cap;
    }
    char *d = l->chunks->bytes + (l->chunks->cap - l->room);
    memcpy(d, s, len);
    d[len] = 0;
    l->room -= len + 1;
    l->v[l->n++] = d;
    return 0;
}

int strlist_push(StrList *l, const char *s) { return strlist_push_n(l, s, strlen(s)); }

void strlist_free(StrList *l)
{
    if (!l) return;
    for (StrChunk *c = l->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void strlist_sort(StrList *l)
{
    if (l->n > 1) qsort(l->v, (size_t)l->n, sizeof(char *), cmp_str);
}

int items_is_image_name(const char *name)
{
    static const char *const exts[] = {"jpg", "jpeg", "jpe", "png", "gif", "bmp", "webp", "tif", "tiff"};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot + 1, exts[i]) == 0) return 1;
    return 0;
}

/* The folders on the way down, to skip a symlink back to one of them (a loop). */
typedef struct DirStack {
    dev_t dev[64];
    ino_t ino[64];
    int n;
} DirStack;

/* Walk dir; symlinked folders are followed (datasets are often linked in),
 * except one that leads back to a folder being walked. */
static int walk(const char *dir, int recurse, DirStack *stk, StrList *out, Err *err)
{
    struct stat ds;
    if (stat(dir, &ds) != 0) return 0;
    for (int i = 0; i < stk->n; i++)
        if (stk->dev[i] == ds.st_dev && stk->ino[i] == ds.st_ino) return 0;  /* a loop */
    if (stk->n == 64) return err_set(err, ERR_RUNTIME, "%s: folders nested more than 64 deep", dir);
    DIR *d = opendir(dir);
    if (!d) return err_set(err, ERR_RUNTIME, "%s: cannot list folder: %s", dir, strerror(errno));
    stk->dev[stk->n] = ds.st_dev, stk->ino[stk->n] = ds.st_ino, stk->n++;
    StrList subdirs = {0};
    int rc = 0;
    struct dirent *e;
    char path[4096];
    size_t dir_len = strlen(dir);
    if (dir_len + 2 < sizeof path) memcpy(path, dir, dir_len), path[dir_len] = '/';
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;   /* hidden, '.' and '..' */
        size_t name_len = strlen(e->d_name), n = dir_len + 1 + name_len;
        if (n >= sizeof path) {
            rc = err_set(err, ERR_RUNTIME, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        memcpy(path + dir_len + 1, e->d_name, name_len + 1);
        int is_dir = e->d_type == DT_DIR, is_file = e->d_type == DT_REG;
        if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
            struct stat st;
            if (stat(path, &st) != 0) continue;  /* dangling link */
            is_dir = S_ISDIR(st.st_mode), is_file = S_ISREG(st.st_mode);
        }
        if (is_dir) {
            if (recurse && strlist_push_n(&subdirs, path, n)) rc = err_set(err, ERR_RUNTIME, "out of memory");
        } else if (is_file && items_is_image_name(e->d_name)) {
            if (strlist_push_n(out, path, n)) rc = err_set(err, ERR_RUNTIME, "out of memory");
        }
        if (rc) break;
    }
    closedir(d);
    for (int i = 0; !rc && i < subdirs.n; i++) rc = walk(subdirs.v[i], recurse, stk, out, err);
    strlist_free(&subdirs);
    stk->n--;
    return rc;
}

int items_image_files(const char *root, const char *const *folders, int n_folders, int recurse, StrList *out,
                      Err *err)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(root, &st) != 0)
        return err_set(err, ERR_RUNTIME, "%s: no such folder (the [data] path): %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return err_set(err, ERR_RUNTIME, "%s: not a folder (the [data] path)", root);
    int rc = 0;
    if (folders && n_folders > 0) {
        char path[4096];
        for (int i = 0; !rc && i < n_folders; i++) {
            snprintf(path, sizeof path, "%s/%s", root, folders[i]);
            if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
                rc = err_set(err, ERR_RUNTIME, "%s: no such folder (get_image_files folders=...)", path);
            else {
                DirStack stk = {.n = 0};
                rc = walk(path, recurse, &stk, out, err);
            }
        }
    } else {
        DirStack stk = {.n = 0};
        rc = walk(root, recurse, &stk, out, err);
    }
    if (rc) {
        strlist_free(out);
        return rc;
    }
    strlist_sort(out);
    return 0;
}
