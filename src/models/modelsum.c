/* modelsum.c — see modelsum.h. */
#include "models/modelsum.h"

#include <stdlib.h>
#include <string.h>

void modelsum_init(ModelSum *s) { memset(s, 0, sizeof *s); }

void modelsum_free(ModelSum *s)
{
    if (!s) return;
    free(s->rows);
    memset(s, 0, sizeof *s);
}

void modelsum_add(ModelSum *s, const char *name, const char *type, int ndim, const int64_t *shape,
                  const Param *p, int np, double flops)
{
    int64_t params = 0, trainable = 0;
    for (int i = 0; i < np; i++) {
        if (p[i].kind != PARAM_WEIGHT) continue;
        params += (int64_t)p[i].n;
        if (!p[i].frozen) trainable += (int64_t)p[i].n;
    }
    s->params += params, s->trainable += trainable, s->flops += flops;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        ModelSumRow *r = realloc(s->rows, sizeof *r * (size_t)cap);
        if (!r) {
            s->oom = 1;
            return;
        }
        s->rows = r, s->cap = cap;
    }
    ModelSumRow *r = &s->rows[s->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->type, sizeof r->type, "%s", type);
    r->ndim = ndim < 1 ? 1 : ndim > 3 ? 3 : ndim;
    for (int k = 0; k < r->ndim; k++) r->shape[k] = shape[k];
    r->params = params, r->trainable = trainable, r->flops = flops;
}

/* "64 x 3 x 224 x 224": the batch size, then the shape per item */
static void fmt_shape(char *buf, size_t cap, int bs, int ndim, const int64_t *shape)
{
    size_t o = (size_t)snprintf(buf, cap, "%d", bs);
    for (int k = 0; k < ndim && o < cap; k++) o += (size_t)snprintf(buf + o, cap - o, " x %lld", (long long)shape[k]);
}

/* 21813056 → "21,813,056" */
static void fmt_thousands(char *buf, size_t cap, long long v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v), o = 0;
    if (v < 0 && o + 1 < (int)cap) buf[o++] = '-';
    for (int i = 0; i < n && o + 2 < (int)cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
}

static int same_shape(const ModelSumRow *a, const ModelSumRow *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->shape[k] != b->shape[k]) return 0;
    return 1;
}

#define RULE_W 100

static void rule(FILE *out, char c)
{
    for (int i = 0; i < RULE_W; i++) fputc(c, out);
    fputc('\n', out);
}

void modelsum_print(const ModelSum *s, FILE *out, const char *title, int bs, int in_ndim, const int64_t *in_shape)
{
    char shape[64], num[32];
    fmt_shape(shape, sizeof shape, bs, in_ndim, in_shape);
    fprintf(out, "%s (Input shape: %s)\n", title, shape);
    rule(out, '=');
    fprintf(out, "%-20s %-20s %-10s %-10s %-15s %s\n", "Layer (type)", "Output Shape", "Param #", "Trainable",
            "FLOPs", "Module");
    rule(out, '=');
    for (int i = 0; i < s->n; i++) {
        const ModelSumRow *r = &s->rows[i];
        if (i == 0 || !same_shape(r, &s->rows[i - 1])) {
            if (i > 0) rule(out, '_');
            fmt_shape(shape, sizeof shape, bs, r->ndim, r->shape);
            fprintf(out, "%-20s %s\n", "", shape);
        }
        char np[24] = "", trn[8] = "", fl[24] = "";
        if (r->params) {
            snprintf(np, sizeof np, "%lld", (long long)r->params);
            snprintf(trn, sizeof trn, "%s", r->trainable ? "True" : "False");
        }
        if (r->flops > 0) snprintf(fl, sizeof fl, "%.0f", r->flops);
        fprintf(out, "%-20s %-20s %-10s %-10s %-15s %s\n", r->type, "", np, trn, fl, r->name);
    }
    rule(out, '_');
    fputc('\n', out);
    fmt_thousands(num, sizeof num, (long long)s->params);
    fprintf(out, "Total params: %s\n", num);
    fmt_thousands(num, sizeof num, (long long)s->trainable);
    fprintf(out, "Total trainable params: %s\n", num);
    fmt_thousands(num, sizeof num, (long long)(s->params - s->trainable));
    fprintf(out, "Total non-trainable params: %s\n", num);
    fmt_thousands(num, sizeof num, (long long)(s->flops + 0.5));
    fprintf(out, "FLOPs per item (forward, 2 x multiply-adds): %s", num);
    if (s->flops >= 1e8) fprintf(out, " (%.2f G)", s->flops / 1e9);
    fputs("\n\n", out);
}

static void shape_json(JsonBuf *b, int bs, int ndim, const int64_t *shape)
{
    json_buf_printf(b, "[%d", bs);
    for (int k = 0; k < ndim; k++) json_buf_printf(b, ", %lld", (long long)shape[k]);
    json_buf_putc(b, ']');
}

void modelsum_json(const ModelSum *s, JsonBuf *b, int bs, int in_ndim, const int64_t *in_shape)
{
    json_buf_key(b, "input_shape");
    shape_json(b, bs, in_ndim, in_shape);
    json_buf_key(b, "layers");
    json_buf_putc(b, '[');
    for (int i = 0; i < s->n; i++) {
        const ModelSumRow *r = &s->rows[i];
        json_buf_sep(b);
        json_buf_putc(b, '{');
        json_buf_key(b, "name");
        json_buf_str(b, r->name);
        json_buf_key(b, "type");
        json_buf_str(b, r->type);
        json_buf_key(b, "output_shape");
        shape_json(b, bs, r->ndim, r->shape);
        json_buf_key(b, "params");
        json_buf_int(b, r->params);
        json_buf_key(b, "trainable_params");
        json_buf_int(b, r->trainable);
        json_buf_key(b, "flops");
        json_buf_num(b, r->flops);
        json_buf_putc(b, '}');
    }
    json_buf_putc(b, ']');
    json_buf_key(b, "total_params");
    json_buf_int(b, s->params);
    json_buf_key(b, "trainable_params");
    json_buf_int(b, s->trainable);
    json_buf_key(b, "non_trainable_params");
    json_buf_int(b, s->params - s->trainable);
    json_buf_key(b, "flops_per_item");
    json_buf_num(b, s->flops);
}
