/* resnet.c — torchvision resnet18/34/50/101/152 + fastai head as a Model (see resnet.h).
 *
 * Data flow of one training step (NHWC; n images of h x w):
 *
 *   x ─conv1─▶ c0 ─bn1+relu─▶ a0 ─maxpool─▶ p0 ─layer1..4 (blocks)─▶ f [n,fh,fw,nf]
 *   f ─concat pool─▶ hp [n,2nf] ─bn─▶ hb1 ─drop─▶ hd1 ─linear─▶ hl1 [n,512] ─relu─▶ hr
 *     ─bn─▶ hb2 ─drop─▶ hd2 ─linear─▶ hl2 [n,n_out] (─sigmoid_range─▶ out)
 *
 *   BasicBlock:  c1 = conv1(x); a1 = relu(bn1(c1)); c2 = conv2(a1);
 *                out = relu(bn2(c2) + (downsample ? bnd(convd(x)) : x))
 *   Bottleneck:  c1 = conv1(x) 1x1; a1 = relu(bn1(c1)); c2 = conv2(a1) 3x3/stride;
 *                a2 = relu(bn2(c2)); c3 = conv3(a2) 1x1; out = relu(bn3(c3) + residual)
 *
 * Kept for backward: every conv output (BN input), every BN+ReLU output (the
 * next conv's input) and the block output's ReLU mask as bits; the masks of
 * the ReLUs inside a block are recomputed from the BN input, which backward
 * reads anyway (one stream less than reading the output).  a0 is never
 * written: the stem's BN+ReLU is applied inside the max pool (its backward
 * needs only the argmax, and the stem's ReLU mask is recomputed from c0).  The downsample branch's BN
 * output is written straight into the block output and the main branch is added
 * on top, in place.
 *
 * bf16 (precision = bf16): every convolution input (but the stem's image) is
 * kept as bf16 alone, rounded once by the BatchNorm that writes it
 * (bn_forward_bf16) and read so by the convolution's forward and weight gradient
 * (conv2d_*_in16, Winograd's transforms included): the numbers of rounding the
 * fp32 tensor in each, half its memory and half the bytes each reads.  A block
 * output is then read in fp32 only by the next block's forward (its shortcut),
 * so it goes to one of two rotating buffers: the backward's gradient buffers
 * g[0], g[1], free until backward.
 * A 1x1 convolution's output (conv1 and conv3 of a Bottleneck, every
 * downsample: most of resnet50's convolution outputs, conv3's 4x width above
 * all) is kept as bf16 alone, as PyTorch's autocast keeps it: its GEMM stores
 * it rounded (conv2d_forward_out16, the fp32 chains between k blocks in acc =
 * g[2], free in forward) and its BatchNorm reads it so in forward and backward
 * (bn_forward_in16 / bn_backward_in16): half the bytes of each of those four
 * reads, half its memory; so is a 3x3's on a large map (8x8 and up: out16_conv).
 * The BatchNorm's statistics and arithmetic stay fp32; its numbers are those of
 * the rounded input.  The 3x3s on smaller maps and the stem keep fp32 outputs.
 * In backward, the gradient a BatchNorm passes to a convolution (with an even
 * c_out: conv2d_bf16_takes_dout16) is likewise written as bf16 alone
 * (bn_backward_bf16), rounded once as the convolution would, and read so by both
 * its products (conv2d_backward_dout16): the fp32 gradient is never written.  The
 * BatchNorms that run in place put each bf16 row over the first half of the fp32
 * row they read (rows 2·c apart): half the lines written back, none taken anew.
 *
 * Backward walks the same graph in reverse with three rotating gradient buffers
 * of the largest block tensor (see block_backward) plus one of the stem's size.
 */
#include "models/resnet.h"

#include "models/modelsum.h"

#include "core/mem.h"
#include "core/rng.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/gemm_bf16.h"
#include "nn/linear.h"
#include "nn/pool.h"
#include "nn/relu.h"
#include "nn/sigmoid_range.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Column tile cap (floats, 2.4 MB): early convolutions run tiles of this
 * size in parallel, each in one core's cache; late ones take tiles up to
 * CONV_BIG_FACTOR times larger (see conv.c). */
#define RESNET_COL_CAP ((size_t)600 << 10)
#define MAX_PARAMS 1024   /* resnet152 + head: 948 tensors */

typedef struct ConvL {
    int p;                  /* index of the weight Param */
    int cin, cout, k, stride, pad;
    Conv2dDims d;           /* of the last forward */
    int o16;                /* its output is stored as bf16 alone (conv2d_forward_out16): see out16_conv */
} ConvL;

typedef struct BnL {
    int p;                  /* index of the weight Param; bias, running_mean, running_var, counter follow */
    int c;
    float *save_mean, *save_invstd;
} BnL;

typedef struct Block {
    int bottleneck, nconv;
    ConvL conv[3];
    BnL bn[3];
    int has_down;
    ConvL down;
    BnL down_bn;
    const float *in;        /* input (previous output) [n,h,w,cin] */
    float *c[3];            /* conv outputs (NULL where c16 is kept instead) */
    uint16_t *c16[3];       /* bf16 conv outputs, where the convolution stores them so (ConvL.o16) */
    float *a[2];            /* BN+ReLU outputs feeding conv[i+1] (NULL where a16 is kept instead) */
    float *cd;              /* downsample conv output (NULL where cd16 is kept instead) */
    uint16_t *cd16;         /* as bf16 (ConvL.o16) */
    float *out;             /* block output (a buffer of the next block's forward only: see out_rot) */
    uint16_t *keep;         /* its ReLU mask as bits, for backward (batchnorm.h) */
    /* bf16 (precision = bf16): a convolution input is kept as bf16 alone,
     * rounded once by the pass that writes it */
    int take16;             /* conv[0] and down read the input as bf16 (in16) */
    const uint16_t *in16;   /* that input: the previous block's out16 (or the stem's) */
    uint16_t *a16[2];       /* bf16(a[k]) where conv[k+1] reads it so (a[k] then never written) */
    uint16_t *out16;        /* bf16(out) when the next block takes it */
    int out_rot;            /* out lives in a rotating buffer (nothing reads it in backward) */
} Block;

typedef struct Resnet {
    ResnetSpec spec;
    char arch[32];
    int bottleneck, nf;
    int layers[4];
    Param params[MAX_PARAMS];
    int np;
    float *wmem, *gmem;     /* all parameter values / gradients */

    ConvL conv1;
    BnL bn1;
    Block *blocks;
    int nblocks;
    int stage_start[5];     /* first block of each stage */
    /* head (fastai) */
    BnL hbn1, hbn2;
    int hlin1, hlin2;       /* Param indices */
    int fc_w, fc_b;         /* plain_fc */
    int hidden;             /* 512 */

    /* activations */
    float *x;               /* copy of the input [n,h,w,n_in] */
    float *c0;              /* stem conv output */
    float *p0;              /* maxpool output */
    uint16_t *p016;         /* bf16(p0) when the first block takes bf16 */
    float *rot[2];          /* fp32 block outputs only the next block's forward reads:
                             * g[0], g[1] (free until backward), or rot_own */
    float *rot_own[2];
    int32_t *pidx;          /* maxpool argmax */
    PoolDims pd;
    float *hp, *hb1, *hd1, *hl1, *hr, *hb2, *hd2, *hl2, *hout;
    int32_t *hidx;
    /* gradients of activations and scratch */
    float *gbig, *g[3];
    float *acc;             /* bf16: fp32 scratch of the convolutions that store bf16 (conv2d_forward_out16):
                             * g[2], free in forward, or acc_own */
    float *acc_own;
    float *hg1, *hg2;       /* head gradient scratch [max_bs, 2nf] */
    ConvScratch cs;         /* column buffers of the convolutions */
    size_t ws_bytes;

    /* last forward */
    int n, h, w, fh, fw, train;
    uint64_t key;
    Model model;
} Resnet;

/* ---- allocation ---------------------------------------------------------- */

static void *xalloc(Resnet *r, size_t bytes)
{
    size_t b = (bytes + 63) & ~(size_t)63;
    if (b == 0) b = 64;
    void *p = aligned_alloc(64, b);
    if (p) {
        mem_advise_huge(p, b);   /* big buffers: fewer page faults (core/mem.h) */
        memset(p, 0, b);
        r->ws_bytes += b;
    }
    return p;
}

/* ---- parameters ---------------------------------------------------------- */

static int add_param(Resnet *r, const char *name, ParamKind kind, int ndim, const int64_t *shape,
                     int group)
{
    FASTC_ASSERT(r->np < MAX_PARAMS);
    Param *p = &r->params[r->np];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->layout = (ndim == 4) ? LAYOUT_OHWI : LAYOUT_PLAIN;
    p->ndim = ndim;
    p->n = 1;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i], p->n *= (size_t)shape[i];
    p->group = group;
    return r->np++;
}

static int add_conv_param(Resnet *r, ConvL *c, const char *name, int cin, int cout, int k,
                          int stride, int pad, int group)
{
    int64_t sh[4] = {cout, cin, k, k};
    c->cin = cin, c->cout = cout, c->k = k, c->stride = stride, c->pad = pad;
    c->p = add_param(r, name, PARAM_WEIGHT, 4, sh, group);
    return c->p;
}

static void add_bn_params(Resnet *r, BnL *b, const char *prefix, int c, int group)
{
    char nm[96];
    int64_t sh[1] = {c};
    b->c = c;
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    b->p = add_param(r, nm, PARAM_WEIGHT, 1, sh, group);
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    add_param(r, nm, PARAM_WEIGHT, 1, sh, group);
    snprintf(nm, sizeof nm, "%s.running_mean", prefix);
    add_param(r, nm, PARAM_BUFFER, 1, sh, group);
    snprintf(nm, sizeof nm, "%s.running_var", prefix);
    add_param(r, nm, PARAM_BUFFER, 1, sh, group);
    snprintf(nm, sizeof nm, "%s.num_batches_tracked", prefix);
    add_param(r, nm, PARAM_COUNTER, 0, NULL, group);
    for (int i = 0; i < 4; i++) r->params[b->p + i].is_norm = 1;
    for (int i = 0; i < 2; i++) r->params[b->p + i].no_wd = 1;
}

static BnState bn_state(Resnet *r, BnL *b)
{
    Param *p = &r->params[b->p];
    BnState s = {p[0].w, p[1].w, p[2].w, p[3].w, p[4].w, b->save_mean, b->save_invstd};
    return s;
}

static float *bn_dgamma(Resnet *r, BnL *b) { Param *p = &r->params[b->p]; return p[0].frozen ? NULL : p[0].g; }
static float *bn_dbeta(Resnet *r, BnL *b) { Param *p = &r->params[b->p + 1]; return p->frozen ? NULL : p->g; }
static float *pw(Resnet *r, int i) { return r->params[i].w; }
static float *pg(Resnet *r, int i) { return r->params[i].frozen ? NULL : r->params[i].g; }

/* ---- architecture ---------------------------------------------------------- */

/* torchvision's resnets: blocks per stage, and whether they are Bottlenecks
 * (1x1 → 3x3 with the stride → 1x1 to 4x the width) or BasicBlocks. */
static const struct {
    const char *name;
    int layers[4];
    int bottleneck;
} ARCHS[] = {
    {"resnet18", {2, 2, 2, 2}, 0},
    {"resnet34", {3, 4, 6, 3}, 0},
    {"resnet50", {3, 4, 6, 3}, 1},
    {"resnet101", {3, 4, 23, 3}, 1},
    {"resnet152", {3, 8, 36, 3}, 1},
};
enum { N_ARCHS = sizeof ARCHS / sizeof ARCHS[0] };

static int arch_index(const char *arch)
{
    for (int i = 0; arch && i < N_ARCHS; i++)
        if (!strcmp(arch, ARCHS[i].name)) return i;
    return -1;
}

int resnet_arch_known(const char *arch) { return arch_index(arch) >= 0; }

void resnet_arch_list(char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < N_ARCHS && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i == 0 ? "" : i == N_ARCHS - 1 ? " or " : ", ", ARCHS[i].name);
}

ResnetSpec resnet_spec_default(const char *arch, int n_out, int max_bs, int max_h, int max_w)
{
    ResnetSpec s;
    memset(&s, 0, sizeof s);
    s.arch = arch, s.n_in = 3, s.n_out = n_out, s.ps = 0.5f;
    s.max_bs = max_bs, s.max_h = max_h, s.max_w = max_w, s.threads = 1;
    return s;
}

/* Body module names: fastai's Sequential(body, head) ("0.4.1.conv2") or torchvision's. */
static void body_name(char *buf, size_t cap, const Resnet *r, int stage, int blk, const char *leaf)
{
    if (r->spec.plain_fc) {
        if (stage < 0) snprintf(buf, cap, "%s", leaf);
        else snprintf(buf, cap, "layer%d.%d.%s", stage + 1, blk, leaf);
    } else {
        if (stage < 0) snprintf(buf, cap, "0.%s", leaf);
        else snprintf(buf, cap, "0.%d.%d.%s", stage + 4, blk, leaf);
    }
}

static void build_params(Resnet *r)
{
    char nm[96];
    int n_in = r->spec.n_in;
    body_name(nm, sizeof nm, r, -1, 0, r->spec.plain_fc ? "conv1.weight" : "0.weight");
    add_conv_param(r, &r->conv1, nm, n_in, 64, 7, 2, 3, 0);
    body_name(nm, sizeof nm, r, -1, 0, r->spec.plain_fc ? "bn1" : "1");
    add_bn_params(r, &r->bn1, nm, 64, 0);

    int cin = 64, bi = 0;
    for (int s = 0; s < 4; s++) {
        int width = 64 << s, group = s < 2 ? 0 : 1;
        r->stage_start[s] = bi;
        for (int j = 0; j < r->layers[s]; j++, bi++) {
            Block *b = &r->blocks[bi];
            int stride = (j == 0 && s > 0) ? 2 : 1;
            int cout = r->bottleneck ? width * 4 : width;
            b->bottleneck = r->bottleneck;
            char leaf[32];
            if (!r->bottleneck) {
                b->nconv = 2;
                body_name(nm, sizeof nm, r, s, j, "conv1.weight");
                add_conv_param(r, &b->conv[0], nm, cin, width, 3, stride, 1, group);
                body_name(nm, sizeof nm, r, s, j, "bn1");
                add_bn_params(r, &b->bn[0], nm, width, group);
                body_name(nm, sizeof nm, r, s, j, "conv2.weight");
                add_conv_param(r, &b->conv[1], nm, width, width, 3, 1, 1, group);
                body_name(nm, sizeof nm, r, s, j, "bn2");
                add_bn_params(r, &b->bn[1], nm, width, group);
            } else {
                b->nconv = 3;
                int ks[3] = {1, 3, 1}, cins[3] = {cin, width, width}, couts[3] = {width, width, cout};
                int strides[3] = {1, stride, 1};
                for (int k = 0; k < 3; k++) {
                    snprintf(leaf, sizeof leaf, "conv%d.weight", k + 1);
                    body_name(nm, sizeof nm, r, s, j, leaf);
                    add_conv_param(r, &b->conv[k], nm, cins[k], couts[k], ks[k], strides[k], ks[k] / 2, group);
                    snprintf(leaf, sizeof leaf, "bn%d", k + 1);
                    body_name(nm, sizeof nm, r, s, j, leaf);
                    add_bn_params(r, &b->bn[k], nm, couts[k], group);
                }
            }
            if (stride != 1 || cin != cout) {
                b->has_down = 1;
                body_name(nm, sizeof nm, r, s, j, "downsample.0.weight");
                add_conv_param(r, &b->down, nm, cin, cout, 1, stride, 0, group);
                body_name(nm, sizeof nm, r, s, j, "downsample.1");
                add_bn_params(r, &b->down_bn, nm, cout, group);
            }
            cin = cout;
        }
    }
    r->stage_start[4] = bi;
    r->nf = cin;

    if (r->spec.plain_fc) {
        int64_t sw[2] = {r->spec.n_out, r->nf}, sb[1] = {r->spec.n_out};
        r->fc_w = add_param(r, "fc.weight", PARAM_WEIGHT, 2, sw, 2);
        r->fc_b = add_param(r, "fc.bias", PARAM_WEIGHT, 1, sb, 2);
        r->params[r->fc_b].no_wd = 1;
    } else {
        r->hidden = 512;
        add_bn_params(r, &r->hbn1, "1.2", 2 * r->nf, 2);
        int64_t s1[2] = {r->hidden, 2 * r->nf}, s2[2] = {r->spec.n_out, r->hidden};
        r->hlin1 = add_param(r, "1.4.weight", PARAM_WEIGHT, 2, s1, 2);
        add_bn_params(r, &r->hbn2, "1.6", r->hidden, 2);
        r->hlin2 = add_param(r, "1.8.weight", PARAM_WEIGHT, 2, s2, 2);
    }
}

/* w[k] = std·(the k-th normal of g): rng_normal takes two counters per value, so
 * value k is a function of k alone and the fill splits over threads with the
 * same numbers as the plain loop. */
static void fill_normal(float *w, size_t n, double std, Rng g)
{
    #pragma omp parallel for schedule(static)
    for (size_t k = 0; k < n; k++) {
        Rng gk = g;
        gk.counter += 2 * (uint64_t)k;
        w[k] = (float)(std * rng_normal(&gk));
    }
}

/* torchvision init for the body, fastai init for the head. */
static void init_params(Resnet *r)
{
    for (int i = 0; i < r->np; i++) {
        Param *p = &r->params[i];
        Rng g = rng_make(r->spec.seed, 1000 + (uint64_t)i);
        const char *leaf = strrchr(p->name, '.');
        leaf = leaf ? leaf + 1 : p->name;
        int in_head = !r->spec.plain_fc ? (p->name[0] == '1') : !strncmp(p->name, "fc.", 3);
        if (p->ndim == 4) {
            /* kaiming_normal_(mode='fan_out', nonlinearity='relu') */
            fill_normal(p->w, p->n, sqrt(2.0 / (double)(p->shape[0] * p->shape[2] * p->shape[3])), g);
        } else if (p->ndim == 2) {
            if (in_head && !r->spec.plain_fc) {
                /* fastai apply_init(head, kaiming_normal_): fan_in, gain sqrt(2) */
                fill_normal(p->w, p->n, sqrt(2.0 / (double)p->shape[1]), g);
            } else {
                /* torchvision fc: nn.Linear default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
                double b = 1.0 / sqrt((double)p->shape[1]);
                for (size_t k = 0; k < p->n; k++) p->w[k] = (float)(b * (2 * rng_uniform(&g) - 1));
            }
        } else if (!strcmp(leaf, "weight") || !strcmp(leaf, "running_var")) {
            for (size_t k = 0; k < p->n; k++) p->w[k] = 1.0f;
        } else if (!strcmp(leaf, "bias")) {
            if (r->spec.plain_fc && in_head) {
                double b = 1.0 / sqrt((double)r->nf);
                for (size_t k = 0; k < p->n; k++) p->w[k] = (float)(b * (2 * rng_uniform(&g) - 1));
            } else {
                float v = in_head ? 1e-3f : 0.0f;   /* fastai BatchNorm: bias 1e-3 */
                for (size_t k = 0; k < p->n; k++) p->w[k] = v;
            }
        } else {
            for (size_t k = 0; k < p->n; k++) p->w[k] = 0.0f;   /* running_mean, counter */
        }
    }
}

/* ---- shapes ---------------------------------------------------------------- */

/* Output size of each stage's input for an h x w image (stem → 1/4). */
static void set_dims(Resnet *r, int n, int h, int w)
{
    r->conv1.d = conv2d_dims(n, h, w, r->spec.n_in, 64, 7, 2, 3);
    int h1 = r->conv1.d.oh, w1 = r->conv1.d.ow;
    r->pd = maxpool2d_dims(n, h1, w1, 64, 3, 2, 1);
    int ch = r->pd.oh, cw = r->pd.ow;
    for (int i = 0; i < r->nblocks; i++) {
        Block *b = &r->blocks[i];
        int hh = ch, ww = cw;
        for (int k = 0; k < b->nconv; k++) {
            ConvL *c = &b->conv[k];
            c->d = conv2d_dims(n, hh, ww, c->cin, c->cout, c->k, c->stride, c->pad);
            hh = c->d.oh, ww = c->d.ow;
        }
        if (b->has_down)
            b->down.d = conv2d_dims(n, ch, cw, b->down.cin, b->down.cout, 1, b->down.stride, 0);
        ch = hh, cw = ww;
    }
    r->fh = ch, r->fw = cw;
}

static size_t conv_scratch(const Resnet *r, const Conv2dDims *d, int threads)
{
    return r->spec.bf16 ? conv2d_scratch_floats_bf16(d, RESNET_COL_CAP, threads)
                        : conv2d_scratch_floats(d, RESNET_COL_CAP, threads);
}

/* The head's linears in the model's precision (bf16: in the conv scratch, free by then). */
static void lin_fwd(Resnet *r, float *out, const float *in, const float *w, const float *b, int n, int in_f,
                    int out_f)
{
    if (r->spec.bf16) linear_forward_bf16(out, in, w, b, n, in_f, out_f, r->cs.buf);
    else linear_forward(out, in, w, b, n, in_f, out_f);
}

static void lin_bwd(Resnet *r, float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                    int n, int in_f, int out_f)
{
    if (r->spec.bf16) linear_backward_bf16(din, dw, db, dout, in, w, n, in_f, out_f, r->cs.buf);
    else linear_backward(din, dw, db, dout, in, w, n, in_f, out_f);
}

static size_t conv_out_floats(const ConvL *c) { return (size_t)c->d.n * c->d.oh * c->d.ow * c->cout; }
static size_t conv_in_floats(const ConvL *c) { return (size_t)c->d.n * c->d.h * c->d.w * c->cin; }

/* ---- allocation of activations ---------------------------------------------------- */

/* Whether the convolutions read their inputs as bf16: all of them in bf16
 * (conv.h's conv2d_bf16_takes_in16), unless a test asks for fp32 inputs. */
static int takes16(const Resnet *r) { return r->spec.bf16 && !r->spec.bf16_fp32_inputs; }

/* Whether a bf16 convolution stores its output as bf16 alone (every bf16 path
 * can: conv2d_bf16_gives_out16): the 1x1s, which hold most of resnet50's
 * convolution outputs (conv3's 4x width above all), and the 3x3s whose output
 * maps have at least OUT16_MIN_POSITIONS positions at the model's largest size
 * (called with those dims): the large maps, whose outputs the BatchNorm reads
 * four times.  The 3x3s on smaller maps keep fp32 outputs: at 28 px every one
 * of resnet18's (7x7 and below), so the default job's numbers are those of
 * fp32 outputs there. */
#define OUT16_MIN_POSITIONS 64
static int out16_conv(const Resnet *r, const ConvL *c)
{
    return r->spec.bf16 && (c->k == 1 || c->d.oh * c->d.ow >= OUT16_MIN_POSITIONS);
}

static int alloc_workspace(Resnet *r)
{
    const ResnetSpec *s = &r->spec;
    int n = s->max_bs, nth = s->threads > 1 ? s->threads : 1;
    set_dims(r, n, s->max_h, s->max_w);
#define A(ptr, count) do { if (!((ptr) = xalloc(r, sizeof(*(ptr)) * (size_t)(count)))) return -1; } while (0)
    const size_t np0 = (size_t)n * r->pd.oh * r->pd.ow * 64;
    A(r->x, (size_t)n * s->max_h * s->max_w * s->n_in);
    A(r->c0, conv_out_floats(&r->conv1));
    A(r->gbig, conv_out_floats(&r->conv1));
    A(r->pidx, np0);
    for (int i = 0; i < r->nblocks; i++) {
        Block *b = &r->blocks[i];
        b->take16 = takes16(r);
    }
    if (r->blocks[0].take16) A(r->p016, np0);
    else A(r->p0, np0);
    size_t gmax = np0, colmax = conv_scratch(r, &r->conv1.d, nth), rotmax = r->p0 ? 0 : np0;
    for (int i = 0; i < r->nblocks; i++) {
        Block *b = &r->blocks[i];
        for (int k = 0; k < b->nconv; k++) {
            b->conv[k].o16 = out16_conv(r, &b->conv[k]);
            if (b->conv[k].o16) A(b->c16[k], conv_out_floats(&b->conv[k]));
            else A(b->c[k], conv_out_floats(&b->conv[k]));
            if (k + 1 < b->nconv && takes16(r)) A(b->a16[k], conv_out_floats(&b->conv[k]));
            else if (k + 1 < b->nconv) A(b->a[k], conv_out_floats(&b->conv[k]));
            if (conv_out_floats(&b->conv[k]) > gmax) gmax = conv_out_floats(&b->conv[k]);
            if (conv_in_floats(&b->conv[k]) > gmax) gmax = conv_in_floats(&b->conv[k]);
            size_t cf = conv_scratch(r, &b->conv[k].d, nth);
            if (cf > colmax) colmax = cf;
        }
        for (int k = 0; k < b->nconv; k++) {
            BnL *bn = &b->bn[k];
            A(bn->save_mean, bn->c);
            A(bn->save_invstd, bn->c);
        }
        size_t nout = conv_out_floats(&b->conv[b->nconv - 1]);
        b->out_rot = i + 1 == r->nblocks || r->blocks[i + 1].take16;
        if (b->out_rot) rotmax = nout > rotmax ? nout : rotmax;
        else A(b->out, nout);
        if (i + 1 < r->nblocks && r->blocks[i + 1].take16) A(b->out16, nout);
        if (!s->eval_only)
            A(b->keep, bn_keep_words(conv_out_floats(&b->conv[b->nconv - 1]) / b->conv[b->nconv - 1].cout,
                                     b->conv[b->nconv - 1].cout));
        if (b->has_down) {
            b->down.o16 = out16_conv(r, &b->down);
            if (b->down.o16) A(b->cd16, conv_out_floats(&b->down));
            else A(b->cd, conv_out_floats(&b->down));
            A(b->down_bn.save_mean, b->down_bn.c);
            A(b->down_bn.save_invstd, b->down_bn.c);
            size_t cf = conv_scratch(r, &b->down.d, nth);
            if (cf > colmax) colmax = cf;
        }
    }
    if (!s->eval_only)   /* backward buffers */
        for (int k = 0; k < 3; k++) A(r->g[k], gmax);
    if (s->bf16) {   /* gmax covers every convolution output */
        if (!r->g[2]) A(r->acc_own, gmax);
        r->acc = r->g[2] ? r->g[2] : r->acc_own;
    }
    for (int k = 0; k < 2; k++) {   /* gmax covers every block output and p0 */
        if (!r->g[k]) A(r->rot_own[k], rotmax);
        r->rot[k] = r->g[k] ? r->g[k] : r->rot_own[k];
    }
    A(r->bn1.save_mean, 64);
    A(r->bn1.save_invstd, 64);
    int nf2 = 2 * r->nf, hid = r->hidden, no = s->n_out;
    if (s->bf16) {   /* the head's linears borrow the convolutions' scratch */
        size_t lf = s->plain_fc ? linear_scratch_floats_bf16(n, r->nf, no)
                                : linear_scratch_floats_bf16(n, nf2, hid > no ? hid : no);
        size_t l2 = s->plain_fc ? 0 : linear_scratch_floats_bf16(n, hid, no);
        if (lf > colmax) colmax = lf;
        if (l2 > colmax) colmax = l2;
    }
    r->cs.floats = colmax, r->cs.tile_cap = RESNET_COL_CAP, r->cs.bf16 = s->bf16;
    A(r->cs.buf, colmax);
    A(r->hp, (size_t)n * nf2);
    A(r->hidx, (size_t)n * r->nf);
    A(r->hg1, (size_t)n * nf2);
    A(r->hg2, (size_t)n * nf2);
    A(r->hl2, (size_t)n * no);
    A(r->hout, (size_t)n * no);
    if (!s->plain_fc) {
        A(r->hb1, (size_t)n * nf2);
        A(r->hd1, (size_t)n * nf2);
        A(r->hl1, (size_t)n * hid);
        A(r->hr, (size_t)n * hid);
        A(r->hb2, (size_t)n * hid);
        A(r->hd2, (size_t)n * hid);
        A(r->hbn1.save_mean, nf2);
        A(r->hbn1.save_invstd, nf2);
        A(r->hbn2.save_mean, hid);
        A(r->hbn2.save_invstd, hid);
    }
#undef A
    return 0;
}

/* ---- forward --------------------------------------------------------------- */

/* Convolution c of input x, or of its bf16 copy x16 when given, into out, or
 * as bf16 into out16 where c stores its output so (c->o16), as PyTorch's
 * autocast keeps it. */
static void conv_fwd(Resnet *r, ConvL *c, float *out, uint16_t *out16, const float *x, const uint16_t *x16)
{
    if (c->o16) conv2d_forward_out16(out16, c->cout, r->acc, x16 ? NULL : x, x16, pw(r, c->p), &c->d, &r->cs);
    else if (x16) conv2d_forward_in16(out, x16, pw(r, c->p), &c->d, &r->cs);
    else conv2d_forward(out, x, pw(r, c->p), &c->d, &r->cs);
}

/* The BatchNorm forward of convolution c's output, x or (c->o16) x16: out
 * and/or out16 = bf16(out), keep when given. */
static void bn_fwd(const ConvL *c, float *out, uint16_t *out16, uint16_t *keep, const float *x, const uint16_t *x16,
                   const float *res, int relu, int train, BnState *s)
{
    size_t rows = conv_out_floats(c) / c->cout;
    if (c->o16) bn_forward_in16(out, out16, keep, x16, c->cout, res, relu, train, s, rows, c->cout);
    else if (out16) bn_forward_bf16(out, out16, keep, x, res, relu, train, s, rows, c->cout);
    else if (keep) bn_forward_keep(out, keep, x, res, train, s, rows, c->cout);
    else bn_forward(out, x, res, relu, train, s, rows, c->cout);
}

/* The BatchNorm backward of convolution c's output (x or x16, as bn_fwd): din
 * and/or din16 (rows ld16 apart), dres, the ReLU mask from keep or recomputed
 * from the input. */
static void bn_bwd(Resnet *r, const ConvL *c, BnL *bn, float *din, uint16_t *din16, int ld16, float *dres,
                   const float *dout, const float *x, const uint16_t *x16, const uint16_t *keep, int relu,
                   const BnState *s)
{
    size_t rows = conv_out_floats(c) / c->cout;
    float *dg = bn_dgamma(r, bn), *db = bn_dbeta(r, bn);
    if (c->o16)
        bn_backward_in16(din, din16, ld16, dres, dg, db, dout, x16, c->cout, keep, relu, r->train, s, rows, c->cout);
    else if (din16)
        bn_backward_bf16(din, din16, ld16, dres, dg, db, dout, x, keep, relu, r->train, s, rows, c->cout);
    else if (keep) bn_backward_keep(din, dres, dg, db, dout, x, keep, r->train, s, rows, c->cout);
    else bn_backward(din, dres, dg, db, dout, x, NULL, relu, r->train, s, rows, c->cout);
}

/* Whether convolution c's backward reads its output gradient as bf16, written so
 * by the BatchNorm backward that produces it (bn_backward_bf16): the fp32
 * gradient is then never written. */
static int dout16(const Resnet *r, const ConvL *c)
{
    return r->spec.bf16 && !r->spec.bf16_fp32_inputs && conv2d_bf16_takes_dout16(&c->d, &r->cs);
}

/* Backward of convolution c; its output gradient dout in fp32 (ld16 = 0) or as
 * bf16 rows ld16 apart (dout16). */
static void conv_bwd(Resnet *r, ConvL *c, float *din, int din_accumulate, const float *dout, int ld16, const float *x,
                     const uint16_t *x16)
{
    if (ld16)
        conv2d_backward_dout16(din, din_accumulate, pg(r, c->p), (const uint16_t *)dout, ld16, x16 ? NULL : x, x16,
                               pw(r, c->p), &c->d, &r->cs);
    else if (x16)
        conv2d_backward_in16(din, din_accumulate, pg(r, c->p), dout, x16, pw(r, c->p), &c->d, &r->cs);
    else
        conv2d_backward(din, din_accumulate, pg(r, c->p), dout, x, pw(r, c->p), &c->d, &r->cs);
}

/* The backward of BatchNorm bn (input x, the ReLU mask recomputed from x when
 * relu) in place on g, the gradient of convolution c's output: fp32, or, where c
 * takes it (dout16), bf16 over the first half of each fp32 row.  Returns the
 * bf16 rows' stride (0: fp32), for conv_bwd. */
static int bn_bwd_to(Resnet *r, const ConvL *c, BnL *bn, float *g, const float *x, const uint16_t *x16, int relu,
                     const BnState *s)
{
    if (!dout16(r, c)) {
        bn_bwd(r, c, bn, g, NULL, 0, NULL, g, x, x16, NULL, relu, s);
        return 0;
    }
    bn_bwd(r, c, bn, NULL, (uint16_t *)g, 2 * c->cout, NULL, g, x, x16, NULL, relu, s);
    return 2 * c->cout;
}

/* ---- backward -------------------------------------------------------------- */

/* x: the block input (fp32, read here as the identity shortcut, and by the
 * convolutions unless b->take16); b->in16 its bf16 copy when b->take16.  out: b->out, or the
 * rotating buffer given. */
static void block_forward(Resnet *r, Block *b, const float *x, float *out, int train)
{
    b->in = x;
    const uint16_t *x16 = b->take16 ? b->in16 : NULL;
    const float *cur = x;
    const uint16_t *cur16 = x16;
    for (int k = 0; k < b->nconv; k++) {
        ConvL *c = &b->conv[k];
        conv_fwd(r, c, b->c[k], b->c16[k], cur, cur16);
        if (k + 1 < b->nconv) {
            BnState s = bn_state(r, &b->bn[k]);
            bn_fwd(c, b->a[k], b->a16[k], NULL, b->c[k], b->c16[k], NULL, 1, train, &s);
            cur = b->a[k], cur16 = b->a16[k];
        }
    }
    ConvL *last = &b->conv[b->nconv - 1];
    const float *res = x;
    if (b->has_down) {
        conv_fwd(r, &b->down, b->cd, b->cd16, x, x16);
        BnState s = bn_state(r, &b->down_bn);
        bn_fwd(&b->down, out, NULL, NULL, b->cd, b->cd16, NULL, 0, train, &s);
        res = out;
    }
    BnState s = bn_state(r, &b->bn[b->nconv - 1]);
    bn_fwd(last, out, b->out16, b->keep, b->c[b->nconv - 1], b->c16[b->nconv - 1], res, 1, train, &s);
}

static int resnet_forward(Model *m, const Batch *bt, ModelMode mode, uint64_t step_key,
                          const float **out, Err *err)
{
    Resnet *r = m->impl;
    const ResnetSpec *s = &r->spec;
    int train = mode == MODE_TRAIN;
    if (!bt->x || bt->c != s->n_in || bt->n < 1 || bt->n > s->max_bs || bt->h < 1 || bt->w < 1 ||
        bt->h > s->max_h || bt->w > s->max_w)
        return err_set(err, ERR_RUNTIME,
                       "%s: batch of %d x %dx%dx%d does not fit the model (at most %d images of "
                       "%dx%d with %d channels)", r->arch, bt->n, bt->h, bt->w, bt->c, s->max_bs,
                       s->max_h, s->max_w, s->n_in);
    if (train && bt->n < 2 && !s->plain_fc)
        return err_set(err, ERR_RUNTIME,
                       "%s: a training batch needs at least 2 items (BatchNorm1d statistics)", r->arch);
    int n = bt->n;
    r->n = n, r->h = bt->h, r->w = bt->w, r->train = train, r->key = step_key;
    set_dims(r, n, bt->h, bt->w);
    /* the input, kept for the stem's weight gradient: copied by both threads (12 MB at
     * 128 px, batch 64, 3 channels; one thread would leave the other waiting) */
    const size_t nx = (size_t)n * bt->h * bt->w * s->n_in, xchunk = (size_t)1 << 16;
    const long nxc = (long)((nx + xchunk - 1) / xchunk);
    #pragma omp parallel for schedule(static)
    for (long k = 0; k < nxc; k++) {
        size_t lo = (size_t)k * xchunk;
        memcpy(r->x + lo, bt->x + lo, sizeof(float) * (nx - lo < xchunk ? nx - lo : xchunk));
    }

    /* stem: c0 = conv1(x); p0 = maxpool(relu(bn1(c0))), the BN+ReLU applied inside the
     * pool (a0 is never written: one write and one read of the stem's largest tensor less) */
    conv2d_forward(r->c0, r->x, pw(r, r->conv1.p), &r->conv1.d, &r->cs);
    BnState bs = bn_state(r, &r->bn1);
    size_t rows0 = conv_out_floats(&r->conv1) / 64;
    float scale0[64], shift0[64];
    bn_forward_stats(scale0, shift0, r->c0, train, &bs, rows0, 64);
    float *p0 = r->p0 ? r->p0 : r->rot[1];   /* (block 0 writes rot[0]) */
    maxpool2d_forward_bn_relu(p0, r->pidx, r->c0, scale0, shift0, &r->pd);
    if (r->p016) bf16_convert_par(r->p016, p0, (size_t)n * r->pd.oh * r->pd.ow * 64);

    const float *cur = p0;
    const uint16_t *cur16 = r->p016;
    for (int i = 0; i < r->nblocks; i++) {
        Block *b = &r->blocks[i];
        b->in16 = cur16;
        float *out = b->out_rot ? r->rot[i & 1] : b->out;
        block_forward(r, b, cur, out, train);
        cur = out, cur16 = b->out16;
    }

    int hw = r->fh * r->fw, nf = r->nf, no = s->n_out;
    if (s->plain_fc) {
        avgpool_global_forward(r->hp, cur, n, hw, nf);
        lin_fwd(r, r->hl2, r->hp, pw(r, r->fc_w), pw(r, r->fc_b), n, nf, no);
        *out = r->hl2;
        return 0;
    }
    /* head: concat pool → BN1d → dropout(ps/2) → linear → relu → BN1d → dropout(ps) → linear */
    int hid = r->hidden;
    concatpool_forward(r->hp, r->hidx, cur, n, hw, nf);
    BnState h1 = bn_state(r, &r->hbn1), h2 = bn_state(r, &r->hbn2);
    bn_forward(r->hb1, r->hp, NULL, 0, train, &h1, (size_t)n, 2 * nf);
    dropout_forward(r->hd1, r->hb1, (size_t)n * 2 * nf, train ? s->ps / 2 : 0.0f, step_key, 1);
    lin_fwd(r, r->hl1, r->hd1, pw(r, r->hlin1), NULL, n, 2 * nf, hid);
    relu_forward(r->hr, r->hl1, (size_t)n * hid);
    bn_forward(r->hb2, r->hr, NULL, 0, train, &h2, (size_t)n, hid);
    dropout_forward(r->hd2, r->hb2, (size_t)n * hid, train ? s->ps : 0.0f, step_key, 2);
    lin_fwd(r, r->hl2, r->hd2, pw(r, r->hlin2), NULL, n, hid, no);
    if (s->has_y_range) {
        sigmoid_range_forward(r->hout, r->hl2, (size_t)n * no, s->y_lo, s->y_hi);
        *out = r->hout;
    } else {
        *out = r->hl2;
    }
    return 0;
}

/* ---- backward -------------------------------------------------------------- */

/* dout in bufs[0] (gradient wrt b->out; masked in place); bufs[1], bufs[2] free.
 * Returns the index of the buffer holding d(input).
 * The gradient each BatchNorm passes to its convolution is in bufs[t]: in fp32,
 * or, where the convolution takes it as bf16 (dout16), as bf16 alone, each row
 * over the first half of the fp32 row the BatchNorm read there (in place), or
 * packed (the first, whose fp32 input is g0). */
static int block_backward(Resnet *r, Block *b, float *bufs[3])
{
    float *g0 = bufs[0];
    ConvL *last = &b->conv[b->nconv - 1];
    /* out = relu(bn_last(c_last) + res): dz = dout·[out>0] → g0 (in place); d c_last → t */
    int t = 1, f = 2;
    BnState s = bn_state(r, &b->bn[b->nconv - 1]);
    int ld16 = dout16(r, last) ? last->cout : 0;   /* the bf16 rows' stride (0: fp32) */
    bn_bwd(r, last, &b->bn[b->nconv - 1], ld16 ? NULL : bufs[t], ld16 ? (uint16_t *)bufs[t] : NULL, ld16, g0, g0,
           b->c[b->nconv - 1], b->c16[b->nconv - 1], b->keep, 1, &s);
    for (int k = b->nconv - 1; k >= 0; k--) {
        ConvL *c = &b->conv[k];
        const float *in = k ? b->a[k - 1] : b->in;
        const uint16_t *in16 = k ? b->a16[k - 1] : b->take16 ? b->in16 : NULL;
        /* d(conv input) → bufs[f] (overwritten) */
        conv_bwd(r, c, bufs[f], 0, bufs[t], ld16, in, in16);
        int tmp = t; t = f; f = tmp;
        if (k) {
            /* a[k-1] = relu(bn(c[k-1])): in place on bufs[t], the ReLU mask recomputed from c[k-1] */
            ConvL *pc = &b->conv[k - 1];
            BnState ps = bn_state(r, &b->bn[k - 1]);
            ld16 = bn_bwd_to(r, pc, &b->bn[k - 1], bufs[t], b->c[k - 1], b->c16[k - 1], 1, &ps);
        }
    }
    /* bufs[t] = d(input) through the main branch; add the shortcut's */
    if (!b->has_down) {
        add_backward_acc(bufs[t], g0, conv_in_floats(&b->conv[0]));
        return t;
    }
    BnState ds = bn_state(r, &b->down_bn);
    ld16 = bn_bwd_to(r, &b->down, &b->down_bn, g0, b->cd, b->cd16, 0, &ds);
    conv_bwd(r, &b->down, bufs[t], 1, g0, ld16, b->in, b->take16 ? b->in16 : NULL);
    return t;
}

static void resnet_backward(Model *m, const float *dout)
{
    Resnet *r = m->impl;
    const ResnetSpec *s = &r->spec;
    int n = r->n, hw = r->fh * r->fw, nf = r->nf, no = s->n_out, train = r->train;
    float *bufs[3] = {r->g[0], r->g[1], r->g[2]};

    if (s->plain_fc) {
        lin_bwd(r, r->hg1, pg(r, r->fc_w), pg(r, r->fc_b), dout, r->hp, pw(r, r->fc_w), n, nf, no);
        avgpool_global_backward(bufs[0], r->hg1, n, hw, nf);
    } else {
        int hid = r->hidden;
        const float *d = dout;
        if (s->has_y_range) {
            sigmoid_range_backward(r->hg1, dout, r->hout, (size_t)n * no, s->y_lo, s->y_hi);
            d = r->hg1;
        }
        /* linear 2: d hd2 → hg2 */
        lin_bwd(r, r->hg2, pg(r, r->hlin2), NULL, d, r->hd2, pw(r, r->hlin2), n, hid, no);
        dropout_backward(r->hg2, r->hg2, (size_t)n * hid, train ? s->ps : 0.0f, r->key, 2);
        BnState h2 = bn_state(r, &r->hbn2), h1 = bn_state(r, &r->hbn1);
        bn_backward(r->hg2, NULL, bn_dgamma(r, &r->hbn2), bn_dbeta(r, &r->hbn2), r->hg2, r->hr, NULL,
                    0, train, &h2, (size_t)n, hid);
        relu_backward(r->hg2, r->hg2, r->hr, (size_t)n * hid);
        /* linear 1: d hd1 → hg1 */
        lin_bwd(r, r->hg1, pg(r, r->hlin1), NULL, r->hg2, r->hd1, pw(r, r->hlin1), n, 2 * nf, hid);
        dropout_backward(r->hg1, r->hg1, (size_t)n * 2 * nf, train ? s->ps / 2 : 0.0f, r->key, 1);
        bn_backward(r->hg1, NULL, bn_dgamma(r, &r->hbn1), bn_dbeta(r, &r->hbn1), r->hg1, r->hp, NULL,
                    0, train, &h1, (size_t)n, 2 * nf);
        concatpool_backward(bufs[0], r->hg1, r->hidx, n, hw, nf);
    }
    /* the head's gradients are final, then each block's (data-parallel
     * training sends them while the backward goes on: model.h) */
    model_grads_ready(m, s->plain_fc ? r->fc_w : r->hbn1.p);

    for (int i = r->nblocks - 1; i >= 0; i--) {
        int t = block_backward(r, &r->blocks[i], bufs);
        float *nb[3] = {bufs[t], bufs[(t + 1) % 3], bufs[(t + 2) % 3]};
        memcpy(bufs, nb, sizeof nb);
        model_grads_ready(m, r->blocks[i].conv[0].p);
    }
    /* stem: d p0 in bufs[0] → maxpool backward → gbig → bn1+relu (mask from c0) → conv1 dW */
    maxpool2d_backward(r->gbig, bufs[0], r->pidx, &r->pd);
    BnState bs = bn_state(r, &r->bn1);
    int ld16 = bn_bwd_to(r, &r->conv1, &r->bn1, r->gbig, r->c0, NULL, 1, &bs);
    float *dw = pg(r, r->conv1.p);
    if (dw) conv_bwd(r, &r->conv1, NULL, 0, r->gbig, ld16, r->x, NULL);
    model_grads_ready(m, 0);
}

/* ---- summary --------------------------------------------------------------- */

/* "0.4.0.conv1.weight" → "0.4.0.conv1" */
static void module_of(char *buf, size_t cap, const Param *p)
{
    snprintf(buf, cap, "%s", p->name);
    char *dot = strrchr(buf, '.');
    if (dot) *dot = 0;
}

static void sum_conv(ModelSum *s, const Resnet *r, const ConvL *c)
{
    char nm[96];
    const Param *p = &r->params[c->p];
    module_of(nm, sizeof nm, p);
    int64_t sh[3] = {c->cout, c->d.oh, c->d.ow};
    modelsum_add(s, nm, "Conv2d", 3, sh, p, 1, 2.0 * conv2d_macs_per_image(&c->d));
}

/* a BatchNorm's weight, bias, running_mean, running_var, num_batches_tracked */
static void sum_bn(ModelSum *s, const Resnet *r, const BnL *b, int ndim, const int64_t *sh)
{
    char nm[96];
    const Param *p = &r->params[b->p];
    module_of(nm, sizeof nm, p);
    modelsum_add(s, nm, ndim == 3 ? "BatchNorm2d" : "BatchNorm1d", ndim, sh, p, 5, 0);
}

/* torchvision's blocks call one ReLU module (".relu") after each BatchNorm but
 * the last, and again after the residual add. */
static void sum_relu(ModelSum *s, const Resnet *r, int block, int ndim, const int64_t *sh)
{
    char nm[96];
    if (block < 0) body_name(nm, sizeof nm, r, -1, 0, r->spec.plain_fc ? "relu" : "2");
    else {
        int st = 0;
        while (block >= r->stage_start[st + 1]) st++;
        body_name(nm, sizeof nm, r, st, block - r->stage_start[st], "relu");
    }
    modelsum_add(s, nm, "ReLU", ndim, sh, NULL, 0, 0);
}

static void summarize(const Resnet *rc, int h, int w, ModelSum *s)
{
    Resnet *r = (Resnet *)rc;   /* set_dims writes the per-forward dims; restored below */
    int sv_n = r->n, sv_h = r->h, sv_w = r->w;
    set_dims(r, 1, h, w);
    const Conv2dDims *d = &r->conv1.d;
    int64_t sh[3] = {64, d->oh, d->ow};
    sum_conv(s, r, &r->conv1);
    sum_bn(s, r, &r->bn1, 3, sh);
    sum_relu(s, r, -1, 3, sh);
    char nm[96];
    body_name(nm, sizeof nm, r, -1, 0, r->spec.plain_fc ? "maxpool" : "3");
    int64_t shp[3] = {64, r->pd.oh, r->pd.ow};
    modelsum_add(s, nm, "MaxPool2d", 3, shp, NULL, 0, 0);
    for (int i = 0; i < r->nblocks; i++) {
        Block *b = &r->blocks[i];
        for (int k = 0; k < b->nconv; k++) {
            ConvL *c = &b->conv[k];
            int64_t shc[3] = {c->cout, c->d.oh, c->d.ow};
            sum_conv(s, r, c);
            sum_bn(s, r, &b->bn[k], 3, shc);
            if (k + 1 < b->nconv) sum_relu(s, r, i, 3, shc);
        }
        if (b->has_down) {
            int64_t shd[3] = {b->down.cout, b->down.d.oh, b->down.d.ow};
            sum_conv(s, r, &b->down);
            sum_bn(s, r, &b->down_bn, 3, shd);
        }
        ConvL *lc = &b->conv[b->nconv - 1];
        int64_t sho[3] = {lc->cout, lc->d.oh, lc->d.ow};
        sum_relu(s, r, i, 3, sho);
    }
    int64_t nf = r->nf, no = r->spec.n_out;
    if (r->spec.plain_fc) {
        int64_t s1[3] = {nf, 1, 1}, s2[1] = {no};
        modelsum_add(s, "avgpool", "AdaptiveAvgPool2d", 3, s1, NULL, 0, 0);
        modelsum_add(s, "fc", "Linear", 1, s2, &r->params[r->fc_w], 2, 2.0 * (double)nf * (double)no);
    } else {
        int64_t hid = r->hidden, s2nf[1] = {2 * nf}, s2p[3] = {2 * nf, 1, 1}, shid[1] = {hid}, sno[1] = {no};
        modelsum_add(s, "1.0", "AdaptiveConcatPool2d", 3, s2p, NULL, 0, 0);
        modelsum_add(s, "1.1", "Flatten", 1, s2nf, NULL, 0, 0);
        sum_bn(s, r, &r->hbn1, 1, s2nf);
        modelsum_add(s, "1.3", "Dropout", 1, s2nf, NULL, 0, 0);
        modelsum_add(s, "1.4", "Linear", 1, shid, &r->params[r->hlin1], 1, 2.0 * (double)(2 * nf) * (double)hid);
        modelsum_add(s, "1.5", "ReLU", 1, shid, NULL, 0, 0);
        sum_bn(s, r, &r->hbn2, 1, shid);
        modelsum_add(s, "1.7", "Dropout", 1, shid, NULL, 0, 0);
        modelsum_add(s, "1.8", "Linear", 1, sno, &r->params[r->hlin2], 1, 2.0 * (double)hid * (double)no);
        if (r->spec.has_y_range) modelsum_add(s, "1.9", "SigmoidRange", 1, sno, NULL, 0, 0);
    }
    if (sv_n > 0) set_dims(r, sv_n, sv_h, sv_w);
}

static void resnet_summary_op(const Model *m, int h, int w, ModelSum *s) { summarize(m->impl, h, w, s); }

double resnet_flops_per_image(const Model *m, int h, int w)
{
    ModelSum s;
    modelsum_init(&s);
    summarize(m->impl, h, w, &s);
    double f = s.flops;
    modelsum_free(&s);
    return f;
}

int64_t resnet_param_count(const Model *m)
{
    int64_t k = 0;
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i].kind == PARAM_WEIGHT) k += (int64_t)m->params[i].n;
    return k;
}

size_t resnet_workspace_bytes(const Model *m) { return ((const Resnet *)m->impl)->ws_bytes; }

/* ---- lifetime ---------------------------------------------------------------- */

static void resnet_free(Model *m)
{
    Resnet *r = m->impl;
    free(r->wmem);
    free(r->gmem);
    free(r->x), free(r->c0), free(r->gbig), free(r->p0), free(r->p016), free(r->pidx);
    free(r->rot_own[0]), free(r->rot_own[1]);
    for (int i = 0; r->blocks && i < r->nblocks; i++) {
        Block *b = &r->blocks[i];
        for (int k = 0; k < 3; k++) free(b->c[k]), free(b->c16[k]), free(b->bn[k].save_mean), free(b->bn[k].save_invstd);
        free(b->a[0]), free(b->a[1]), free(b->cd), free(b->cd16), free(b->out), free(b->keep);
        free(b->a16[0]), free(b->a16[1]), free(b->out16);
        free(b->down_bn.save_mean), free(b->down_bn.save_invstd);
    }
    free(r->blocks);
    for (int k = 0; k < 3; k++) free(r->g[k]);
    free(r->acc_own);
    free(r->bn1.save_mean), free(r->bn1.save_invstd);
    free(r->cs.buf);
    free(r->hp), free(r->hidx), free(r->hg1), free(r->hg2), free(r->hl2), free(r->hout);
    free(r->hb1), free(r->hd1), free(r->hl1), free(r->hr), free(r->hb2), free(r->hd2);
    free(r->hbn1.save_mean), free(r->hbn1.save_invstd), free(r->hbn2.save_mean), free(r->hbn2.save_invstd);
    free(r);
}

/* All gradients live in one block (gmem): clear it in one parallel sweep. */
static void resnet_zero_grad(Model *m)
{
    Resnet *r = m->impl;
    if (!r->gmem) return;
    size_t total = 0;
    for (int i = 0; i < r->np; i++) total += (r->params[i].n + 15) & ~(size_t)15;
    const size_t chunk = (size_t)1 << 16;
    long nb = (long)((total + chunk - 1) / chunk);
    #pragma omp parallel for schedule(static)
    for (long b = 0; b < nb; b++) {
        size_t lo = (size_t)b * chunk, n = total - lo < chunk ? total - lo : chunk;
        memset(r->gmem + lo, 0, n * sizeof(float));
    }
}

static const ModelOps resnet_ops = {resnet_forward, resnet_backward, resnet_summary_op, resnet_free};

int resnet_new(Model **out, const ResnetSpec *spec, Err *err)
{
    *out = NULL;
    if (!resnet_arch_known(spec->arch)) {
        char archs[128];
        resnet_arch_list(archs, sizeof archs);
        return err_set(err, ERR_USAGE, "arch: expected %s, got '%s'", archs, spec->arch ? spec->arch : "(none)");
    }
    if (spec->n_in < 1 || spec->n_in > 64)
        return err_set(err, ERR_USAGE, "%s: n_in must be in 1..64, got %d", spec->arch, spec->n_in);
    if (spec->n_out < 1)
        return err_set(err, ERR_USAGE, "%s: n_out must be >= 1, got %d", spec->arch, spec->n_out);
    if (spec->max_bs < 1 || spec->max_h < 1 || spec->max_w < 1 || spec->max_h > RESNET_MAX_SIDE ||
        spec->max_w > RESNET_MAX_SIDE)
        return err_set(err, ERR_USAGE, "%s: batch %d of %dx%d images: sizes must be in 1..4096",
                       spec->arch, spec->max_bs, spec->max_h, spec->max_w);
    if (!(spec->ps >= 0.0f && spec->ps < 1.0f))
        return err_set(err, ERR_USAGE, "%s: ps must be in [0, 1), got %g", spec->arch, spec->ps);
    if (spec->has_y_range && !(spec->y_hi > spec->y_lo))
        return err_set(err, ERR_USAGE, "%s: y_range needs low < high, got (%g, %g)", spec->arch,
                       spec->y_lo, spec->y_hi);
    Resnet *r = calloc(1, sizeof *r);
    if (!r) return err_set(err, ERR_RUNTIME, "%s: out of memory", spec->arch);
    r->spec = *spec;
    snprintf(r->arch, sizeof r->arch, "%s", spec->arch);
    r->spec.arch = r->arch;
    const int *L = ARCHS[arch_index(spec->arch)].layers;
    r->bottleneck = ARCHS[arch_index(spec->arch)].bottleneck;
    memcpy(r->layers, L, sizeof r->layers);
    r->nblocks = L[0] + L[1] + L[2] + L[3];
    r->model.ops = &resnet_ops;
    r->model.impl = r;
    r->blocks = calloc((size_t)r->nblocks, sizeof *r->blocks);
    if (!r->blocks) {
        resnet_free(&r->model);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", spec->arch);
    }
    build_params(r);
    /* one allocation for values and one for gradients, each tensor 64-byte aligned */
    size_t total = 0;
    for (int i = 0; i < r->np; i++) total += (r->params[i].n + 15) & ~(size_t)15;
    r->wmem = xalloc(r, total * sizeof(float));
    r->gmem = spec->eval_only ? NULL : xalloc(r, total * sizeof(float));
    r->ws_bytes = 0;   /* count activations and scratch only */
    if (!r->wmem || (!r->gmem && !spec->eval_only) || alloc_workspace(r) != 0) {
        resnet_free(&r->model);
        return err_set(err, ERR_RUNTIME, "%s: out of memory for batch %d of %dx%d", spec->arch,
                       spec->max_bs, spec->max_h, spec->max_w);
    }
    size_t off = 0;
    for (int i = 0; i < r->np; i++) {
        Param *p = &r->params[i];
        p->w = r->wmem + off;
        p->g = p->kind == PARAM_WEIGHT && r->gmem ? r->gmem + off : NULL;
        off += (p->n + 15) & ~(size_t)15;
    }
    if (!spec->no_init) init_params(r);
    r->model.params = r->params;
    r->model.n_params = r->np;
    r->model.zero_grad = resnet_zero_grad;
    ModelInfo *mi = &r->model.info;
    snprintf(mi->arch, sizeof mi->arch, "%s", spec->arch);
    mi->n_in = spec->n_in, mi->n_out = spec->n_out, mi->n_groups = 3, mi->max_bs = spec->max_bs;
    *out = &r->model;
    return 0;
}
