/* trace_calls.c — the hooks of gcc's -finstrument-functions for
 * tools/config_travel.sh: every function entered on the main thread, as
 * "FUNCTION CALL_SITE" addresses, one line each, into the file $TRACE_OUT,
 * up to the first entry of the function at address $TRACE_STOP (hex), where
 * the process ends (exit status 0: what follows is not measured).  The
 * script maps the addresses to functions and files (addr2line).  Not part of
 * fastc: linked only into the traced build. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOTRACE __attribute__((no_instrument_function))

static FILE *out;
static void *stop;
static pthread_t main_thread;

NOTRACE __attribute__((constructor)) static void trace_open(void)
{
    const char *path = getenv("TRACE_OUT"), *s = getenv("TRACE_STOP");
    main_thread = pthread_self();
    if (path) out = fopen(path, "w");
    if (s) stop = (void *)(uintptr_t)strtoull(s, NULL, 16);
}

NOTRACE void __cyg_profile_func_enter(void *fn, void *site)
{
    if (!out || !pthread_equal(pthread_self(), main_thread)) return;
    if (fn == stop) {
        fclose(out);
        _exit(0);
    }
    fprintf(out, "%p %p\n", fn, site);
}

NOTRACE void __cyg_profile_func_exit(void *fn, void *site)
{
    (void)fn, (void)site;
}
