/* err.c — see err.h. */
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages quote what users give (a CSV cell, a file name) and a cell may
 * hold a newline: control characters become '?', so a message stays one line. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

int err_vset(Err *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        one_line(err->msg);
    }
    return code;
}

int err_set(Err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int err_prefix(Err *err, const char *fmt, ...)
{
    if (!err) return ERR_RUNTIME;
    char head[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t h = strlen(head);
    if (h >= sizeof err->msg) h = sizeof err->msg - 1;
    memcpy(err->msg, head, h);
    size_t room = sizeof err->msg - 1 - h, o = strnlen(old, sizeof old);
    if (o > room) o = room;
    memcpy(err->msg + h, old, o);
    err->msg[h + o] = 0;
    one_line(err->msg);
    return err->code;
}

void fastc_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fastc: internal error: assertion `%s` failed at %s:%d\n", what, file, line);
    abort();
}
