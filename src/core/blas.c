/* blas.c — see blas.h. */
#include "core/blas.h"

#include "core/proc.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int blas_cpu_has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
}

const char *blas_core_name(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

static int core_is_generic(const char *name)
{
    /* DYNAMIC_ARCH fallbacks for an unrecognised x86-64 CPU. */
    static const char *generic[] = {"Prescott", "Core2", "Nehalem", "Sandybridge", "Katmai",
                                    "Coppermine", "Northwood", "Banias", "unknown", NULL};
    for (int i = 0; generic[i]; i++)
        if (strcasecmp(name, generic[i]) == 0) return 1;
    return 0;
}

void blas_ensure_fast_core(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("FASTC_BLAS_REEXEC")) return;
    if (!blas_cpu_has_avx512() || !core_is_generic(blas_core_name())) return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    setenv("FASTC_BLAS_REEXEC", "1", 1);
    proc_reexec(argv);
    /* execv failed: carry on with the slow but correct kernels. */
}

int blas_threads(void) { return openblas_get_num_threads(); }

void blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
