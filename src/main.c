/* main.c — argv → command.  The only place that prints errors and picks the
 * exit status (0 ok, 1 run-time failure, 2 usage or config error). */
#include "cmd/cmd.h"
#include "core/blas.h"
#include "core/ctx.h"
#include "core/err.h"
#include "core/proc.h"

#include <cblas.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Cores this process may run on (honours taskset/cgroup CPU affinity). */
static int available_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int main(int argc, char **argv)
{
    proc_restore_name();                      /* "fastc" again after a re-exec, not "exe" */
    int reexec = ctx_default_wait_policy();   /* libgomp reads it at load time: a new image */
    blas_ensure_fast_core(argv);              /* re-executes when it must, with the policy set */
    if (reexec) proc_reexec(argv);            /* failing that, carry on spinning */
    CmdArgs a;
    Err err = {0};
    int action = CMD_RUN;
    if (argc < 2) {
        cmd_print_help(NULL, stderr);
        return ERR_USAGE;
    }
    int rc = cmd_parse(argc, argv, &a, &action, &err);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        cmd_args_free(&a);
        return rc;
    }
    if (!a.ctx.threads) a.ctx.threads = available_cores();
    a.ctx.is_tty = isatty(STDOUT_FILENO);
    ctx_apply_threads(&a.ctx);
    if (action == CMD_VERSION) {
        printf("fastc 0.1.0\nBLAS: %s; core in use: %s; threads: %d\nOpenMP wait policy: %s\n", openblas_get_config(),
               blas_core_name(), blas_threads(), ctx_wait_policy());
    } else if (action == CMD_HELP) {
        cmd_print_help(a.command, stdout);
    } else {
        rc = cmd_lookup(a.command)(&a, &err);
        if (rc) fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "fastc: failed (no message)");
    }
    cmd_args_free(&a);
    return rc;
}
