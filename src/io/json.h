/* json.h — a small strict JSON reader and a JSON text builder.
 *
 * Used for safetensors headers and any metadata values that carry structure
 * (vocab lists, normalisation stats).  The reader follows RFC 8259 strictly:
 * no comments, no trailing commas, no leading zeros, no control characters or
 * invalid UTF-8 in strings, no duplicate object keys, a nesting limit; it never
 * reads past the `len` bytes it is given (the text need not be NUL-terminated).
 * Errors name the byte offset and what was expected.
 *
 *     Json *doc = json_parse(text, len, err);
 *     const Json *shape = json_get(doc, "shape");
 *     for (size_t i = 0; i < json_len(shape); i++) json_at(shape, i)->num ...
 *     json_free(doc);
 *
 * The builder appends to a growing NUL-terminated buffer:
 *     JsonBuf b = {0};
 *     json_buf_putc(&b, '{'); json_buf_str(&b, "key"); ...
 *     ... b.s ... ; json_buf_free(&b);
 */
#ifndef FASTC_IO_JSON_H
#define FASTC_IO_JSON_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef enum JsonType { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct Json Json;
struct Json {
    JsonType type;
    int boolean;          /* JSON_BOOL */
    double num;           /* JSON_NUMBER */
    int is_int;           /* JSON_NUMBER written as an integer that fits int64 */
    int64_t i;            /* JSON_NUMBER when is_int */
    char *str;            /* JSON_STRING: decoded UTF-8, NUL-terminated (no NUL inside) */
    size_t str_len;
    size_t n;             /* JSON_ARRAY / JSON_OBJECT: number of items */
    Json *items;          /* the n values */
    char **keys;          /* JSON_OBJECT: the n keys, in document order */
};

#define JSON_MAX_DEPTH 64

/* Parse exactly one JSON value (surrounding whitespace allowed).  NULL on
 * error, with err set to "byte N: expected ...". */
Json *json_parse(const char *text, size_t len, Err *err);
void json_free(Json *j);   /* NULL-safe */

/* Object member by key, or NULL (also NULL when j is not an object). */
const Json *json_get(const Json *j, const char *key);
/* Item count of an array/object (0 for other types), and the i-th item. */
size_t json_len(const Json *j);
const Json *json_at(const Json *j, size_t i);
const char *json_key_at(const Json *j, size_t i);
const char *json_type_name(JsonType t);

typedef struct JsonBuf {
    char *s;          /* NUL-terminated text so far (NULL while empty) */
    size_t len, cap;
    int oom;          /* set when an allocation failed; later appends are ignored */
} JsonBuf;

void json_buf_putc(JsonBuf *b, char c);
void json_buf_raw(JsonBuf *b, const char *s, size_t n);
void json_buf_printf(JsonBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A string value, quoted and escaped (control characters as \u00XX). */
void json_buf_str(JsonBuf *b, const char *s);
/* A number that reads back as the same double (the shortest of %.15g-%.17g
 * that does; non-finite → null). */
void json_buf_num(JsonBuf *b, double v);
/* The same for a float32 value (shortest of %.6g-%.9g reading back as it). */
void json_buf_float(JsonBuf *b, float v);
void json_buf_int(JsonBuf *b, long long v);
void json_buf_bool(JsonBuf *b, int v);   /* true / false */
/* Objects and arrays written in order: json_buf_key writes `, "key": ` (no
 * comma right after '{'), json_buf_sep the comma before an array item (none
 * right after '['). */
void json_buf_key(JsonBuf *b, const char *key);
void json_buf_sep(JsonBuf *b);
void json_buf_free(JsonBuf *b);

/* Helpers for string lists and number lists kept as JSON text in metadata:
 * json_list_of_strings(["a","b"]) ↔ char**.  Returned arrays are malloc'ed;
 * free with json_strings_free.  Errors name `what`. */
char *json_encode_strings(const char *const *v, size_t n);   /* NULL on out of memory */
char *json_encode_numbers(const double *v, size_t n);
int json_decode_strings(const char *text, const char *what, char ***out, size_t *n, Err *err);
int json_decode_numbers(const char *text, const char *what, double *out, size_t cap, size_t *n, Err *err);
void json_strings_free(char **v, size_t n);

#endif
