/* blas.h — the one place fastc talks to OpenBLAS about itself.
 *
 * Debian's OpenBLAS 0.3.21 does not recognise this family of AVX-512 CPUs and
 * falls back to its generic "Prescott" kernels (5x slower sgemm).  The kernel set
 * is chosen when the library loads, from OPENBLAS_CORETYPE, so the only fix a
 * running program has is to set the variable and re-execute itself once.
 * blas_ensure_fast_core() does that at start-up; a user who sets the variable
 * keeps full control.
 */
#ifndef FASTC_BLAS_H
#define FASTC_BLAS_H

/* Call first thing in main().  When OPENBLAS_CORETYPE is unset, the CPU has
 * AVX-512 and OpenBLAS picked a generic core, sets OPENBLAS_CORETYPE=SkylakeX
 * and re-executes itself with the same argv (proc.h: the process keeps its
 * name; once: FASTC_BLAS_REEXEC
 * guards against loops).  Returns only when no re-exec happened (or it failed,
 * in which case the slow kernels are used — correct, just slower). */
void blas_ensure_fast_core(char **argv);

/* The OpenBLAS core in use ("SkylakeX", "Haswell", "Prescott", ...). */
const char *blas_core_name(void);

/* Threads OpenBLAS uses; blas_set_threads(n) with n >= 1. */
int  blas_threads(void);
void blas_set_threads(int n);

/* Whether the CPU supports AVX-512F. */
int blas_cpu_has_avx512(void);

#endif
