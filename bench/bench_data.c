/* bench_data.c — images/s of fastc's image pipeline: JPEG decode + item
 * transform (Resize(128), random crop) + batch transforms (aug_transforms()
 * defaults, Normalize.from_stats(imagenet_stats)), through the real loader
 * (data/image_loader.h) with its worker threads and no cache, so every epoch
 * decodes every file.
 *
 *     bench_data DIR THREADS EPOCHS [SIZE]
 *
 * DIR holds the JPEGs (bench/bench_data.sh makes them); prints one line
 * "fastc threads=N images=M seconds=S images_per_s=R images_per_cpu_s=C"
 * (C counts CPU time of all threads: robust when other work shares the machine). */
#include "data/image_loader.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_data DIR THREADS EPOCHS [SIZE]\n");
        return 2;
    }
    const char *dir = argv[1];
    int threads = atoi(argv[2]), epochs = atoi(argv[3]), size = argc > 4 ? atoi(argv[4]) : 128;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "bench_data: cannot open %s\n", dir);
        return 1;
    }
    int n = 0, cap = 1024;
    char **paths = malloc(sizeof(char *) * cap);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".jpg")) continue;
        if (n == cap) paths = realloc(paths, sizeof(char *) * (cap *= 2));
        paths[n] = malloc(strlen(dir) + len + 2);
        sprintf(paths[n++], "%s/%s", dir, de->d_name);
    }
    closedir(d);
    qsort(paths, n, sizeof(char *), cmp_str);

    Dataset ds = {0};
    ds.kind = TARGET_CATEGORY;
    ds.n_items = n;
    ds.paths = paths;
    char *vocab[1] = {"a"};
    ds.n_vocab = 1, ds.vocab = vocab;
    ds.yi = calloc(n, sizeof(int32_t));
    ds.train_idx = malloc(sizeof(int32_t) * n);
    for (int i = 0; i < n; i++) ds.train_idx[i] = i;
    ds.n_train = n;

    ImageLoaderOpts o;
    memset(&o, 0, sizeof o);
    o.bs = 64, o.n_workers = threads, o.channels = 3, o.seed = 42;
    o.item.n = 1;
    o.item.t[0] = (ItemTfm){.kind = ITFM_RESIZE, .h = size, .w = size, .method = RESIZE_CROP};
    batch_tfm_init(&o.batch);
    o.batch.aug = 1, o.batch.do_flip = 1, o.batch.max_rotate = 10, o.batch.min_zoom = 1, o.batch.max_zoom = 1.1;
    o.batch.max_lighting = 0.2, o.batch.max_warp = 0.2, o.batch.p_affine = 0.75, o.batch.p_lighting = 0.75;
    o.batch.normalize = 1;
    aug_stats("imagenet_stats", o.batch.mean, o.batch.std);

    Loaders *l;
    Err err = {0};
    if (image_loaders_new_opts(&l, &o, &ds, &err)) {
        fprintf(stderr, "bench_data: %s\n", err.msg);
        return 1;
    }
    long images = 0;
    uint64_t hash = 1469598103934665603ULL;   /* FNV-1a of every batch: equal hashes = identical output */
    double t0 = now_s(), c0 = cpu_s();
    for (int e = 0; e < epochs; e++) {
        loaders_begin(l, SPLIT_TRAIN, e, &err);
        Batch *b;
        int st;
        while ((st = loaders_next(l, &b, &err)) == 1) {
            images += b->n;
            const unsigned char *p = (const unsigned char *)b->x;
            for (size_t i = 0; i < sizeof(float) * b->n * b->h * b->w * b->c; i += 52) hash = (hash ^ p[i]) * 1099511628211ULL;
        }
        if (st < 0) {
            fprintf(stderr, "bench_data: %s\n", err.msg);
            return 1;
        }
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    printf("fastc threads=%d images=%ld seconds=%.3f images_per_s=%.1f images_per_cpu_s=%.1f (output hash %016llx)\n",
           threads, images, dt, images / dt, images / dc, (unsigned long long)hash);
    loaders_free(l);
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths), free(ds.yi), free(ds.train_idx);
    return 0;
}
