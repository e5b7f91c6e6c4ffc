/* fuzz_decode.c — libFuzzer target for image decoding (`make fuzz-decode`):
 * JPEG (libjpeg-turbo: baseline, progressive, CMYK/YCCK, DCT scaling) and PNG
 * (libpng: every colour type, bit depth, interlace) through fastc's own entry
 * point, image_decode_mem, as the loaders and predict use it.
 *
 * The first input byte picks the output channels (1, 3 or 4) and the next two
 * the size hint that turns on DCT scaling; the rest is the file.  A decoded
 * image must be as large as it says (every byte is read back, so a short
 * buffer is an ASan report) and no larger than the original; a refusal must
 * be one line and leave nothing allocated.  Any crash, leak, sanitizer report
 * or abort() is a bug. */
#include "data/decode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_err(const Err *err)
{
    if (err->code != ERR_RUNTIME || !err->msg[0] || strchr(err->msg, '\n')) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 3) return 0;
    static const int chans[3] = {1, 3, 4};
    int channels = chans[data[0] % 3];
    int min_w = data[1] & 0x7f, min_h = data[2] & 0x7f;   /* 0: no hint */
    Image im = {0};
    int ow = -1, oh = -1;
    Err err = {0};
    if (image_decode_mem(data + 3, n - 3, "fuzz.img", channels, min_w, min_h, &im, &ow, &oh, &err)) {
        check_err(&err);
        if (im.px) abort();   /* a refusal leaves nothing behind */
        return 0;
    }
    if (!im.px || im.c != channels || im.w < 1 || im.h < 1 || ow < im.w || oh < im.h) abort();
    /* every pixel readable; the sum keeps the reads from being optimised out */
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)im.w * im.h * im.c; i++) sum += im.px[i];
    if (sum == 0xFFFFFFFFu) abort();
    image_free(&im);
    return 0;
}
