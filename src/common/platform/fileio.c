/* fileio: see fileio.h. */
#include "platform/fileio.h"

#include "platform/errfmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fileio_read_all(const char *path, char *err, size_t errlen)
{
    FILE *f;
    char *data = NULL;
    long size;

    if (path == NULL) {
        errfmt(err, errlen, "no path");
        return NULL;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        errfmt(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        errfmt(err, errlen, "%s: cannot determine size", path);
        goto out;
    }
    if (size > FILEIO_MAX_BYTES) {
        errfmt(err, errlen, "%s: larger than 16 MiB", path);
        goto out;
    }
    data = malloc((size_t)size + 1);
    if (data == NULL) {
        errfmt(err, errlen, "%s: out of memory", path);
        goto out;
    }
    if (fread(data, 1, (size_t)size, f) != (size_t)size) {
        errfmt(err, errlen, "%s: short read", path);
        free(data);
        data = NULL;
        goto out;
    }
    data[size] = '\0';
out:
    if (fclose(f) != 0 && data != NULL) {
        errfmt(err, errlen, "%s: close failed", path);
        free(data);
        data = NULL;
    }
    return data;
}
