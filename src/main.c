/* main.c — argv → command.  The only place that prints errors and picks the
 * exit status (0 ok, 1 run-time failure, 2 usage or config error). */
#include "core/blas.h"
#include "core/err.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    blas_ensure_fast_core(argv);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("fastc 0.1.0\nBLAS: %s; core in use: %s; threads: %d\n", openblas_get_config(),
               blas_core_name(), blas_threads());
        return 0;
    }
    fprintf(stderr, "fastc: the command line is not built yet\n");
    return ERR_USAGE;
}
