/* utf8.h — checking that bytes are UTF-8 text.
 *
 * Text fastc writes into its own files (vocab in a model's metadata, CSV
 * outputs) must be UTF-8 so that fastc, Python and the safetensors library
 * read it back; the readers of user data (CSV tables, label names) check with
 * these.  Strict: no overlong forms, no surrogates, nothing above U+10FFFF.
 */
#ifndef FASTC_UTF8_H
#define FASTC_UTF8_H

#include <stddef.h>

/* Length (1-4) of the UTF-8 sequence at s, which holds n >= 1 bytes, or 0
 * when the bytes there are not UTF-8.  A NUL byte is a valid sequence of 1. */
int utf8_seq_len(const unsigned char *s, size_t n);

/* 1 when s[0..n) is all UTF-8; else 0, with the offset of the first bad
 * byte in *bad_at (may be NULL). */
int utf8_valid(const char *s, size_t n, size_t *bad_at);

#endif
