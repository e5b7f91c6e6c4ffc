/* fuzz_modelfile.c — libFuzzer target for what fastc reads from model and
 * resume-state files beyond the safetensors container (`make fuzz-modelfile`):
 * the metadata of a model file (modelfile_info: task, arch, n_in, n_out,
 * vocab, threshold, y_range, size, stats, head), the preprocessing rebuilt
 * from it (prep_init_meta: the saved item_tfms/batch_tfms text through the
 * config's checks) applied to a real image into a buffer of exactly the size
 * predict allocates, a collab model built from the file's ids and tensors
 * (collab_from_file), and a resume state read against a small model (format,
 * fingerprint, every array, every key).
 *
 * The input is a whole file, loaded through a memfd.  Any crash, leak,
 * sanitizer report or abort() is a bug; a refusal must be one line. */
#include "fakemodel.h"
#include "interp/collab_interp.h"
#include "interp/modelfile.h"
#include "interp/prep.h"
#include "io/png_write.h"
#include "io/safetensors.h"
#include "io/state.h"
#include "models/weights.h"
#include "data/ratings.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { MAX_INPUT_PIXELS = 128 * 128 };   /* larger inputs are right but slow to fuzz */

static void check_err(const Err *err)
{
    if (!err->code || !err->msg[0] || strchr(err->msg, '\n')) abort();
}

static char g_image[64];
static void remove_image(void) { unlink(g_image); }

/* A 40x30 RGB PNG to prepare, made once per process. */
static const char *image_path(void)
{
    char *path = g_image;
    if (path[0]) return path;
    uint8_t px[30][40][3];
    for (int y = 0; y < 30; y++)
        for (int x = 0; x < 40; x++) px[y][x][0] = (uint8_t)(x * 6), px[y][x][1] = (uint8_t)(y * 8), px[y][x][2] = 99;
    snprintf(path, sizeof g_image, "/tmp/fuzz_modelfile_%d.png", (int)getpid());
    Err err = {0};
    if (png_write(path, &px[0][0][0], 40, 30, 3, &err)) abort();
    atexit(remove_image);
    return path;
}

static void fuzz_image_model(const ModelFileInfo *mi)
{
    Prep prep;
    Err err = {0};
    if (prep_init_meta(&prep, mi, &err)) {
        check_err(&err);
        prep_free(&prep);
        return;
    }
    if ((long long)prep.h * prep.w <= MAX_INPUT_PIXELS) {
        /* predict's buffer: h * w * n_in floats, nothing more */
        float *x = malloc(sizeof(float) * (size_t)prep.h * prep.w * (size_t)mi->n_in);
        double map[4];
        if (!x) abort();
        if (prep_item(&prep, image_path(), x, map, &err)) check_err(&err);
        free(x);
    }
    prep_free(&prep);
}

static void fuzz_state(const char *path)
{
    Fake *m = fake_new("resnet18", 3, 5, 1);
    StateFile *s = NULL;
    Err err = {0};
    char id[256];
    weights_model_id(&m->m, id, sizeof id);
    if (state_open(path, id, &s, &err)) {
        check_err(&err);
        fake_free(m);
        return;
    }
    if (weights_get_state(s, "model.", m->p, m->m.n_params, &err)) check_err(&err);
    float avg[64];
    uint64_t rng[4];
    long long v;
    double d;
    if (state_get_f32(s, "opt.avg", avg, 64, &err)) check_err(&err);
    if (state_get_u64(s, "rng", rng, 4, &err)) check_err(&err);
    if (state_get_int(s, "epoch", &v, &err)) check_err(&err);
    if (state_get_double(s, "best", &d, &err)) check_err(&err);
    if (state_require(s, "schedule", "fit_one_cycle(1)", &err)) check_err(&err);
    state_close(s);
    fake_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    int fd = memfd_create("fuzz.safetensors", 0);
    if (fd < 0) abort();
    if (n && write(fd, data, n) != (ssize_t)n) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    Err err = {0};
    StFile *f = NULL;
    if (st_open(path, &f, &err) != 0) {
        check_err(&err);
        close(fd);
        return 0;
    }
    ModelFileInfo mi;
    if (modelfile_info(&mi, path, &f->meta, &err)) {
        check_err(&err);
    } else {
        char what[256];
        modelfile_describe(&mi, what, sizeof what);
        if (strcmp(mi.task, "collab")) {
            fuzz_image_model(&mi);
        } else {
            Model *m = NULL;
            RatingsData *v = NULL;
            if (collab_from_file(f, &m, &v, &err)) check_err(&err);
            model_free(m);
            ratings_free(v);
        }
        modelfile_info_free(&mi);
    }
    st_close(f);
    fuzz_state(path);
    close(fd);
    return 0;
}
