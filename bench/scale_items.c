/* scale_items.c — what an ImageNet-sized folder costs before training starts:
 * time and memory of listing the items (get_image_files), labelling them
 * (parent_label), splitting (GrandparentSplitter), the whole data block as
 * `fastc train` runs it (list + split + label + vocab + dataset), and the
 * first epoch's loader start (loaders built, epoch begun, first batch out).
 *
 *     scale_items DIR pieces|datablock [BS] [BATCHES] [CACHE_MB]
 *
 * pieces: listing, labelling and splitting one after the other; datablock:
 * the data block and the loader start (a fresh process, so the memory of one
 * mode does not show in the other's), then BATCHES more batches (default 50)
 * with a decoded-item cache of CACHE_MB (default 64): the loader's memory must
 * stay within the cache budget and the batch whatever the number of items.
 * DIR holds train/CLASS/NAME.png and valid/CLASS/NAME.png (bench/scale_items.sh
 * makes them).  Each phase prints one line:
 *     phase=NAME items=N seconds=S cpu_s=C rss_mb=R peak_mb=P
 * cpu_s: CPU time of all threads (less disturbed by other work on the machine
 * than seconds, the wall time); rss_mb: resident memory after the phase; peak_mb: the highest resident
 * memory during it (the kernel's high-water mark, reset before each phase). */
#include "data/datablock.h"
#include "data/image_loader.h"
#include "data/items.h"
#include "data/labels.h"
#include "data/splitters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* VmRSS or VmHWM in MB from /proc/self/status */
static double status_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') kb = atof(line + n + 1);
    if (f) fclose(f);
    return kb / 1024;
}

/* Reset the high-water mark (Linux: clear_refs 5). */
static void peak_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) fputs("5", f), fclose(f);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double t_phase, cpu_phase;

static void begin(void)
{
    peak_reset();
    t_phase = now_s(), cpu_phase = cpu_s();
}

static void report(const char *name, long n)
{
    double s = now_s() - t_phase, c = cpu_s() - cpu_phase;
    printf("phase=%s items=%ld seconds=%.3f cpu_s=%.3f rss_mb=%.1f peak_mb=%.1f\n", name, n, s, c,
           status_mb("VmRSS"), status_mb("VmHWM"));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[2], "pieces") && strcmp(argv[2], "datablock"))) {
        fprintf(stderr, "usage: scale_items DIR pieces|datablock [BS]\n");
        return 2;
    }
    const char *dir = argv[1];
    int bs = argc > 3 ? atoi(argv[3]) : 64, pieces = !strcmp(argv[2], "pieces");
    int batches = argc > 4 ? atoi(argv[4]) : 50, cache_mb = argc > 5 ? atoi(argv[5]) : 64;
    Err err = {0};
    printf("phase=start items=0 seconds=0 cpu_s=0 rss_mb=%.1f peak_mb=%.1f\n", status_mb("VmRSS"), status_mb("VmHWM"));

    if (pieces) {   /* the pieces one by one */
    StrList items;
    begin();
    if (items_image_files(dir, NULL, 0, 1, &items, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    report("list", items.n);
    begin();
    StrList labels = {0};
    char buf[4096];
    for (int i = 0; i < items.n; i++)
        if (strlist_push(&labels, label_parent(items.v[i], buf, sizeof buf))) return fprintf(stderr, "oom\n"), 1;
    report("label", items.n);
    begin();
    int8_t *split = malloc((size_t)items.n + 1);
    split_grandparent(items.v, items.n, "train", "valid", split);
    long n_valid = 0;
    for (int i = 0; i < items.n; i++) n_valid += split[i] == 1;
    report("split", items.n);
    free(split);
    strlist_free(&labels);
    strlist_free(&items);
    return 0;
    }

    /* the data block as train runs it */
    DbSpec s = {.path = dir, .recurse = 1, .kind = TARGET_CATEGORY, .y = DB_Y_PARENT, .split = DB_SPLIT_GRANDPARENT,
                .train_name = "train", .valid_name = "valid"};
    Dataset ds;
    begin();
    if (datablock_build_spec(&s, &ds, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    report("datablock", ds.n_items);
    printf("# %d train, %d valid, %d classes\n", ds.n_train, ds.n_valid, ds.n_vocab);

    /* the first epoch's loader start: Resize(32), a small cache */
    ImageLoaderOpts o;
    memset(&o, 0, sizeof o);
    o.bs = bs, o.n_workers = 2, o.channels = 3, o.seed = 42, o.cache_bytes = (size_t)cache_mb << 20;
    o.item.n = 1, o.item.t[0] = (ItemTfm){.kind = ITFM_RESIZE, .h = 32, .w = 32};
    batch_tfm_init(&o.batch);
    Loaders *l;
    begin();
    if (image_loaders_new_opts(&l, &o, &ds, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    Batch *b;
    if (loaders_begin(l, SPLIT_TRAIN, 0, &err) || loaders_next(l, &b, &err) != 1)
        return fprintf(stderr, "%s\n", err.msg), 1;
    report("loader_start", ds.n_items);
    begin();
    int nb = 0;
    while (nb < batches && loaders_next(l, &b, &err) == 1) nb++;
    ImageLoaderStats ls;
    image_loaders_stats(l, &ls);
    char name[64];
    snprintf(name, sizeof name, "%d_batches", nb);
    report(name, (long)nb * bs);
    printf("# cache: %d items, %.1f MB of %d MB\n", ls.cached_items, ls.cached_bytes / 1048576.0, cache_mb);
    loaders_free(l);
    dataset_free(&ds);
    return 0;
}
