/* main.c — argv → command.  The only place that prints errors and picks the
 * exit status (0 ok, 1 run-time failure, 2 usage or config error). */
#include "cmd/cmd.h"
#include "core/blas.h"
#include "core/ctx.h"
#include "core/err.h"
#include "core/proc.h"
#include "dist/dist.h"
#include "io/json.h"
#include "nn/gemm_bf16.h"

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

/* An error: one line on stderr; under --json one JSON object on that line,
 * {"error": "<the message>", "exit_status": 2}. */
static void print_error(const char *msg, int rc, int json)
{
    if (!msg || !*msg) msg = "fastc: failed (no message)";
    if (!json) {
        fprintf(stderr, "%s\n", msg);
        return;
    }
    JsonBuf b = {0};
    json_buf_putc(&b, '{');
    json_buf_key(&b, "error");
    json_buf_str(&b, msg);
    json_buf_key(&b, "exit_status");
    json_buf_int(&b, rc);
    json_buf_putc(&b, '}');
    fprintf(stderr, "%s\n", b.s && !b.oom ? b.s : "{\"error\": \"out of memory\"}");
    json_buf_free(&b);
}

static void print_version(int json)
{
    if (!json) {
        printf("fastc %s\nBLAS: %s; core in use: %s; threads: %d\nOpenMP wait policy: %s\n", FASTC_VERSION,
               openblas_get_config(), blas_core_name(), blas_threads(), ctx_wait_policy());
        printf("bf16: %s\n", gemm_bf16_native() ? "native (AVX512-BF16)"
                                                  : "emulated (this CPU has no AVX512-BF16: same numbers, slower)");
        return;
    }
    JsonBuf b = {0};
    json_buf_putc(&b, '{');
    json_buf_key(&b, "fastc");
    json_buf_str(&b, FASTC_VERSION);
    json_buf_key(&b, "blas");
    json_buf_str(&b, openblas_get_config());
    json_buf_key(&b, "core");
    json_buf_str(&b, blas_core_name());
    json_buf_key(&b, "threads");
    json_buf_int(&b, blas_threads());
    json_buf_key(&b, "omp_wait_policy");
    json_buf_str(&b, ctx_wait_policy());
    json_buf_key(&b, "bf16_native");
    json_buf_int(&b, gemm_bf16_native());
    json_buf_putc(&b, '}');
    printf("%s\n", b.s && !b.oom ? b.s : "{}");
    json_buf_free(&b);
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
    int json = cmd_argv_json(argc, argv);
    int rc = cmd_parse(argc, argv, &a, &action, &err);
    if (rc) {
        print_error(err.msg, rc, json);
        cmd_args_free(&a);
        return rc;
    }
    if (!a.ctx.threads) {   /* under mpirun, the ranks of a machine share its cores (dist/dist.h) */
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        a.ctx.threads = dist_default_threads(available_cores(), online > 0 ? (int)online : 1);
    }
    a.ctx.is_tty = isatty(STDOUT_FILENO);
    ctx_apply_threads(&a.ctx);
    if (action == CMD_VERSION) {
        print_version(json);
    } else if (action == CMD_HELP) {
        cmd_print_help(a.command, stdout);
    } else {
        /* under mpirun, train and lr_find run data-parallel; any other command runs on rank 0
         * alone and the other ranks leave at once, without starting MPI (dist/dist.h) */
        int n_ranks, rank = dist_env_rank(&n_ranks);
        if (n_ranks > 1 && strcmp(a.command, "train") != 0 && strcmp(a.command, "lr_find") != 0) {
            if (rank > 0) {
                cmd_args_free(&a);
                return 0;
            }
            fprintf(stderr, "note: %s runs in one process: rank 0 of the %d that mpirun started does it all, the "
                            "others have left\n",
                    a.command, n_ranks);
        }
        rc = cmd_lookup(a.command)(&a, &err);
        if (rc) print_error(err.msg, rc, json);
    }
    cmd_args_free(&a);
    return rc;
}
