/* fuzz_pth.c — libFuzzer target for the PyTorch .pth reader (`make fuzz-pth`):
 * the zip reader, the whitelist pickle machine and the views onto storages.
 *
 * The input is a whole file, loaded through a memfd: pth_open validates it;
 * every tensor it accepts is read in row-major order, the file is opened again
 * as an StFile (pth_open_weights), every tensor read as float32, and the file
 * is loaded into a small fake model in both modes.  Built with
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, so CRC-32 mismatches do not stop
 * the fuzzer at the checksum.  Any crash, leak, sanitizer report or abort()
 * here is a bug; every refusal must be one non-empty line. */
#include "fakemodel.h"
#include "io/pth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void check_err(const Err *err)
{
    if (!err->msg[0] || strchr(err->msg, '\n')) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    int fd = memfd_create("fuzz.pth", 0);
    if (fd < 0) abort();
    if (n && write(fd, data, n) != (ssize_t)n) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    Err err = {0};
    PthFile *p = NULL;
    if (pth_open(path, &p, &err) != 0) {
        check_err(&err);
        close(fd);
        return 0;
    }
    for (size_t i = 0; i < p->n_tensors; i++) {
        const PthTensor *t = &p->tensors[i];
        size_t bytes = (size_t)t->numel * st_dtype_size(t->dtype);
        void *v = malloc(bytes ? bytes : 1);
        if (pth_read(p, t, v, bytes, &err)) check_err(&err);
        free(v);
    }
    pth_close(p);
    StFile *f = NULL;
    if (pth_open_weights(path, &f, &err) != 0) {
        check_err(&err);
        close(fd);
        return 0;
    }
    for (size_t i = 0; i < f->n_tensors; i++) {
        const StTensor *t = &f->tensors[i];
        float *v = malloc((t->numel ? t->numel : 1) * sizeof *v);
        if (st_read_f32(f, t, v, (size_t)t->numel, &err)) check_err(&err);
        free(v);
    }
    Fake *m = fake_new("resnet18", 3, 5, 1);
    if (st_load_model(&m->m, f, ST_LOAD_FULL, NULL, 0, &err)) check_err(&err);
    char note[256];
    if (st_load_model(&m->m, f, ST_LOAD_PRETRAINED, note, sizeof note, &err)) check_err(&err);
    fake_free(m);
    st_close(f);
    close(fd);
    return 0;
}
