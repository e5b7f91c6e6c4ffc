/* utf8.c — see utf8.h. */
#include "core/utf8.h"

int utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], min, cp;
    int len;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000;
    else return 0;
    if ((size_t)len > n) return 0;
    cp = c & (0xFFu >> (len + 1));
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

int utf8_valid(const char *s, size_t n, size_t *bad_at)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {   /* the common case: ASCII */
            i++;
            continue;
        }
        int k = utf8_seq_len(u + i, n - i);
        if (!k) {
            if (bad_at) *bad_at = i;
            return 0;
        }
        i += (size_t)k;
    }
    return 1;
}
