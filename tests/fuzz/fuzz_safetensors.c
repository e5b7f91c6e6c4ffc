/* fuzz_safetensors.c — libFuzzer target for the safetensors reader and the
 * JSON parser (`make fuzz-safetensors`).
 *
 * The input is a whole file, loaded through a memfd: st_open validates the
 * header; every tensor it accepts is then read as float32 and int64, and the
 * file is loaded into a small fake model in both modes.  The bytes after the
 * first 8 are also parsed as JSON on their own, and a parsed document is
 * re-encoded and must parse back.  Any crash, leak, sanitizer report or
 * abort() here is a bug. */
#include "fakemodel.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/weights.h"

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

static void encode(const Json *j, JsonBuf *b)
{
    switch (j->type) {
    case JSON_NULL: json_buf_raw(b, "null", 4); break;
    case JSON_BOOL: json_buf_raw(b, j->boolean ? "true" : "false", j->boolean ? 4 : 5); break;
    case JSON_NUMBER:
        if (j->is_int) json_buf_printf(b, "%lld", (long long)j->i);
        else json_buf_num(b, j->num);
        break;
    case JSON_STRING: json_buf_str(b, j->str); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        json_buf_putc(b, j->type == JSON_ARRAY ? '[' : '{');
        for (size_t i = 0; i < j->n; i++) {
            if (i) json_buf_putc(b, ',');
            if (j->type == JSON_OBJECT) {
                json_buf_str(b, j->keys[i]);
                json_buf_putc(b, ':');
            }
            encode(&j->items[i], b);
        }
        json_buf_putc(b, j->type == JSON_ARRAY ? ']' : '}');
        break;
    }
}

static void fuzz_json(const uint8_t *data, size_t n)
{
    Err err = {0};
    Json *j = json_parse((const char *)data, n, &err);
    if (!j) {
        check_err(&err);
        return;
    }
    JsonBuf b = {0};
    encode(j, &b);
    Json *k = b.oom ? NULL : json_parse(b.s, b.len, &err);
    if (!b.oom && !k) abort(); /* what we write must read back */
    json_free(k);
    json_buf_free(&b);
    json_free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n > 8) fuzz_json(data + 8, n - 8);
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
    for (size_t i = 0; i < f->n_tensors; i++) {
        const StTensor *t = &f->tensors[i];
        if (t->numel > (1u << 20)) continue;
        float *v = malloc((t->numel ? t->numel : 1) * sizeof *v);
        int64_t *w = malloc((t->numel ? t->numel : 1) * sizeof *w);
        if (st_read_f32(f, t, v, (size_t)t->numel, &err)) check_err(&err);
        if (st_read_i64(f, t, w, (size_t)t->numel, &err)) check_err(&err);
        free(v);
        free(w);
    }
    Fake *m = fake_new("resnet18", 3, 5, 1);
    if (weights_load(&m->m, f, WEIGHTS_FULL, NULL, 0, &err)) check_err(&err);
    char note[256];
    if (weights_load(&m->m, f, WEIGHTS_PRETRAINED, note, sizeof note, &err)) check_err(&err);
    fake_free(m);
    st_close(f);
    close(fd);
    return 0;
}
