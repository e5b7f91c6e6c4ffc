/* err.h — errors as values.
 *
 * Every function that can fail takes an `Err *` and returns 0 on success or the
 * exit status the failure maps to (ERR_RUNTIME = 1, ERR_USAGE = 2).  The message
 * is one line naming the file/line/key/item and what was expected (control
 * characters from quoted user text, such as a newline in a CSV cell, become
 * '?'); only main.c prints it.  Deep code never prints errors and never exits.
 */
#ifndef FASTC_ERR_H
#define FASTC_ERR_H

#include <stdarg.h>

enum { ERR_OK = 0, ERR_RUNTIME = 1, ERR_USAGE = 2 };

typedef struct Err {
    int code;          /* 0, ERR_RUNTIME or ERR_USAGE */
    char msg[1024];    /* one line, no trailing newline */
} Err;

/* Record an error and return its code, so callers can write
 *     return err_set(err, ERR_USAGE, "%s:%d: [data] bs: expected ...", ...);
 * A NULL err is allowed (the message is dropped). */
int err_set(Err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int err_vset(Err *err, int code, const char *fmt, va_list ap);

/* Prefix an existing message ("while loading X: <old message>"). Returns err->code. */
int err_prefix(Err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Programmer errors only (a broken invariant, never bad input): abort with file:line. */
#define FASTC_ASSERT(cond)                                                     \
    do {                                                                       \
        if (!(cond)) fastc_assert_fail(#cond, __FILE__, __LINE__);             \
    } while (0)
_Noreturn void fastc_assert_fail(const char *what, const char *file, int line);

#endif
