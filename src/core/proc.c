/* proc.c — see proc.h. */
#include "core/proc.h"

#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The environment variable that carries the name across execv. */
static const char NAME_VAR[] = "FASTC_PROC_NAME";

void proc_reexec(char **argv)
{
    char name[17] = {0};   /* the kernel's comm: at most 15 characters and a NUL */
    if (prctl(PR_GET_NAME, name) == 0 && name[0]) setenv(NAME_VAR, name, 1);
    execv("/proc/self/exe", argv);
    unsetenv(NAME_VAR);   /* execv failed: nothing to restore */
}

void proc_restore_name(void)
{
    const char *name = getenv(NAME_VAR);
    if (!name) return;
    prctl(PR_SET_NAME, name);
    unsetenv(NAME_VAR);   /* not for the programs this one starts */
}
