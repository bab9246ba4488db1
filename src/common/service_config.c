/* service_config: see service_config.h. */
#include "service_config.h"

#include "log.h"

#include <string.h>

int service_cli(int argc, char **argv, const char *name, void (*help)(FILE *out))
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return 0;
        }
        fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", name, argv[i]);
        return 2;
    }
    return -1;
}

int service_log_init(const char *name, const char *level)
{
    if (log_init(name, level) != 0) {
        fprintf(stderr, "%s: LOG_LEVEL '%s' is not debug, info, warn or error\n", name, level);
        return 2;
    }
    return 0;
}
