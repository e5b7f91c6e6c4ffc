/* check_main.h — the main() every Check suite program shares.
 *
 *     static Suite *suite(void) { ... }
 *     FASTC_CHECK_MAIN(suite)
 *
 * It first lets OpenBLAS pick its fast kernels (as fastc itself does), so the
 * suites test the code paths users run. */
#ifndef FASTC_CHECK_MAIN_H
#define FASTC_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#include "core/blas.h"

#define FASTC_CHECK_MAIN(suite_fn)                                        \
    int main(int argc, char **argv)                                       \
    {                                                                     \
        (void)argc;                                                       \
        blas_ensure_fast_core(argv);                                      \
        SRunner *sr = srunner_create(suite_fn());                         \
        srunner_run_all(sr, CK_NORMAL);                                   \
        int failed = srunner_ntests_failed(sr);                           \
        srunner_free(sr);                                                 \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                      \
    }

#endif
