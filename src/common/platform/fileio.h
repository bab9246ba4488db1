/*
 * fileio: reading a small file whole (schema texts, test fixtures). Bounded:
 * a file over FILEIO_MAX_BYTES is refused rather than read into memory.
 */
#ifndef FILEIO_H
#define FILEIO_H

#include <stddef.h>

#define FILEIO_MAX_BYTES (16 * 1024 * 1024)

/* The file's bytes as a NUL-terminated malloc'd string to free(); NULL + err on failure. */
char *fileio_read_all(const char *path, char *err, size_t errlen);

#endif
