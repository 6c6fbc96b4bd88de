/*
 * test_main.h - the summary line every cmocka suite prints.
 *
 * tests/run.sh sums the last "N passed, N failed" line of each suite. Use
 *     return az_run_tests("decode", tests);
 * in main() instead of cmocka_run_group_tests().
 */
#ifndef AZPOOL_TEST_MAIN_H
#define AZPOOL_TEST_MAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#define az_run_tests(name, tests)                                                                  \
    __extension__({                                                                                \
        int az_failed_ =                                                                           \
            _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof((tests)[0]), NULL, NULL);  \
        int az_total_ = (int)(sizeof(tests) / sizeof((tests)[0]));                                 \
        printf("%d passed, %d failed\n", az_total_ - az_failed_, az_failed_);                      \
        az_failed_ ? 1 : 0;                                                                        \
    })

#endif
