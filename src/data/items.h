/* items.h — listing the items of an image task: fastai's get_image_files.
 *
 * A recursive walk of a folder keeping files with an image extension (any
 * case), skipping hidden files and folders (names starting with '.'), as
 * fastai's get_files does.  Unlike fastai (os.walk order) the result is sorted
 * bytewise by path, so the same folder gives the same items, and the same
 * RandomSplitter split, on every machine.
 */
#ifndef FASTC_ITEMS_H
#define FASTC_ITEMS_H

#include "core/err.h"

#include <stddef.h>

/* A growable list of strings the list owns.  The strings are packed into
 * large chunks, not allocated one by one: a million paths cost their bytes and
 * a pointer each (no per-string malloc header, no million calls to malloc).
 * So a string of the list cannot be freed or taken over alone: copy it. */
typedef struct StrChunk StrChunk;
typedef struct StrList {
    int n, cap;
    char **v;
    StrChunk *chunks;      /* the storage, newest first */
    size_t room;           /* bytes left in the newest chunk */
} StrList;

int  strlist_push(StrList *l, const char *s);   /* copies s; returns 0 or -1 (out of memory) */
int  strlist_push_n(StrList *l, const char *s, size_t len);   /* copies s[0..len) and a 0 byte */
void strlist_free(StrList *l);                  /* frees every string; zeroes the list */
void strlist_sort(StrList *l);                  /* bytewise (= code point order for UTF-8) */

/* Whether a file name has one of fastai's image extensions (.jpg .jpeg .jpe
 * .png .gif .bmp .webp .tif .tiff; any case).  Only JPEG and PNG decode: other
 * image files become items that fail at decode time, so they are reported
 * (or skipped with on_bad_item = skip) rather than silently ignored. */
int  items_is_image_name(const char *name);

/* Image files under root: paths "root/sub/file.jpg", sorted.  folders (may be
 * NULL) restricts the walk to these first-level sub-folders; recurse = 0 lists
 * only root itself (or the given folders' top level). */
int  items_image_files(const char *root, const char *const *folders, int n_folders, int recurse,
                       StrList *out, Err *err);

#endif
