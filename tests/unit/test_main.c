/* test_main: see test_main.h. */
#include "test_main.h"

#include <stdio.h>
#include <stdlib.h>

const char *test_env_or_skip(const char *name, const char *needs)
{
    const char *v = getenv(name);
    if (v && *v)
        return v;
    printf("SKIPPED: %s is not set; these tests need %s (scripts/with-stack.sh)\n", name, needs);
    return NULL;
}

int main(void)
{
    int rc = EXIT_FAILURE;
    Suite *s = test_suite(&rc);
    if (!s)
        return rc;
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
