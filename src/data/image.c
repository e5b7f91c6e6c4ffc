/* image.c — see image.h. */
#include "data/image.h"

#include <stdlib.h>
#include <string.h>

void image_free(Image *img)
{
    if (!img) return;
    free(img->px);
    memset(img, 0, sizeof *img);
}
