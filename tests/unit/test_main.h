/*
 * test_main: the one main() of every unit test binary (test_main.c). A test
 * file defines test_suite(), which builds its suite; main runs it.
 */
#ifndef TEST_MAIN_H
#define TEST_MAIN_H

#include <check.h>

/* exit code of a test that needs a service that is not configured (ctest: skipped) */
#define TEST_SKIP 77

/*
 * The binary's suite, or NULL when it cannot run: *rc is then the exit code
 * (TEST_SKIP, or EXIT_FAILURE when its set-up failed).
 */
Suite *test_suite(int *rc);

/* The value of environment variable name, or NULL (and a "skipped" line
 * naming what is missing) when it is unset or empty. */
const char *test_env_or_skip(const char *name, const char *needs);

#endif
